/* smtpd-submit: message submission (RFC 6409, smtpd -m) and
 * POP-before-SMTP (Synchronet's SMTP_AUTH_VIA_IP). */
#ifndef BBSMAIL_SMTPD_SUBMIT_H
#define BBSMAIL_SMTPD_SUBMIT_H
#include "smtpd-session.h"

/* At session start: SMTP_AUTH_VIA_IP looks the client address up in the
 * table pop3d writes (src/lib/authvia.h), then relay rights are set. */
void smtpd_submit_start(struct smtp_session *s);
/* MAIL in submission mode needs AUTH (or a POP-before-SMTP address):
 * 1 go on, 0 when 530 5.7.0 was sent. */
int smtpd_submit_mail_allowed(struct smtp_session *s);

#endif
