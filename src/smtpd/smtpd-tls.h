/* smtpd-tls: STARTTLS (RFC 3207) and implicit TLS (SMTPS, RFC 8314) on top
 * of the one TLS module (src/lib/tls.h, bbsmail-tls(7)). */
#ifndef BBSMAIL_SMTPD_TLS_H
#define BBSMAIL_SMTPD_TLS_H
#include "smtpd-session.h"

/* Adds STARTTLS to the command table. */
void smtpd_tls_register(void);
/* SMTPS: handshake before the greeting.  1 ok; 0 when it failed (logged):
 * the caller exits 111 without a greeting. */
int smtpd_tls_implicit(struct smtp_session *s);
/* QUIT or end of session: close_notify when TLS is on. */
void smtpd_tls_end(struct smtp_session *s);

#endif
