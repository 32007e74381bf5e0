/* smtpd-auth: SMTP AUTH (RFC 4954) through the shared SASL module
 * (src/lib/sasl.h), ZMailer's auth-failrate on the failed-login table
 * shared with pop3d (src/lib/loginfail.h), and who may relay. */
#ifndef BBSMAIL_SMTPD_AUTH_H
#define BBSMAIL_SMTPD_AUTH_H
#include "smtpd-session.h"

/* Adds AUTH to the command table. */
void smtpd_auth_register(void);
/* Forgets any AUTH (RFC 3207 §4.2 after STARTTLS) and recomputes relay rights. */
void smtpd_auth_forget(struct smtp_session *s);
/* Relay rights: ALLOW_RELAY and (AUTH or a recent POP3 login from this
 * address under SMTP_AUTH_VIA_IP). */
void smtpd_relay_update(struct smtp_session *s);

#endif
