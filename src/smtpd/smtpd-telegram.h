/* smtpd-telegram: SEND, SOML and SAML (RFC 821 §3.4, §4.1.1): a
 * transaction like MAIL whose message becomes a telegram for each local
 * recipient (src/lib/telegram.h) instead of, or beside, mail.  SEND:
 * telegram only, a recipient off line is refused at RCPT (450 4.2.1);
 * SOML: a telegram to a recipient on line, mail to one off line; SAML:
 * both.  smtpd writes the telegrams itself (durably, before its 250); the
 * mail part takes the normal spool path. */
#ifndef BBSMAIL_SMTPD_TELEGRAM_H
#define BBSMAIL_SMTPD_TELEGRAM_H
#include "resolve.h"
#include "smtpd-session.h"

void smtpd_telegram_register(void);
/* RCPT in a SEND/SOML/SAML transaction: 1 when the resolved recipient can
 * get a telegram, else the refusal was sent and logged. */
int smtpd_telegram_rcpt_ok(struct smtp_session *s, const struct resolve_result *res);
/* At DATA/BDAT: decides for each recipient telegram and/or mail (SOML asks
 * the presence files now) and starts the text capture. */
void smtpd_telegram_plan(struct smtp_session *s);
/* One line of the message as stored (no line end): the text of a
 * telegram is the body after the header lines, cleaned. */
void smtpd_telegram_line(struct smtp_sink *k, const char *p, size_t n);
/* End of the message: writes the telegrams.  1 ok and *sent the count; 0
 * when refused (552 5.3.4 too long) or failed (451), the reply sent. */
int smtpd_telegram_deliver(struct smtp_session *s, const char *cmd, size_t *sent);
/* How many recipients get mail (a MAIL transaction: all). */
size_t smtpd_telegram_mail_count(const struct smtp_session *s);

#endif
