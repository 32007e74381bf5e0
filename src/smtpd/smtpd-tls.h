/* smtpd-tls: STARTTLS (RFC 3207) and implicit TLS (SMTPS, RFC 8314).  The
 * TLS itself runs in tlsproxy(8) (src/lib/tlsproxy.h): smtpd never links
 * OpenSSL nor holds the key, and after the handshake reads and writes the
 * session in plain text on fds 0/1, now a socketpair to the proxy. */
#ifndef BBSMAIL_SMTPD_TLS_H
#define BBSMAIL_SMTPD_TLS_H
#include "smtpd-session.h"

/* Adds STARTTLS to the command table. */
void smtpd_tls_register(void);
/* SMTPS: handshake before the greeting.  1 ok; 0 when it failed (logged):
 * the caller exits 111 without a greeting. */
int smtpd_tls_implicit(struct smtp_session *s);
/* End of session: flushes, lets the proxy send close_notify, reaps it. */
void smtpd_tls_end(struct smtp_session *s);

#endif
