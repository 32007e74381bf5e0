/* smtpd-lists: Synchronet's block lists in the SMTP session (antispam(5)):
 * etc/ip.can and etc/host.can (clients refused outright), etc/spamblock.cfg
 * with etc/spamblock_exempt.cfg (spam servers refused), etc/email.can
 * (senders and recipients refused), etc/subject.can (subjects refused) and
 * etc/spambait.cfg (bait addresses: the client is added to spamblock.cfg
 * and the message dropped).  Authenticated sessions are exempt from all
 * but ip.can and host.can. */
#ifndef BBSMAIL_SMTPD_LISTS_H
#define BBSMAIL_SMTPD_LISTS_H
#include "smtpd-session.h"

#define SMTPD_HOST_CAN "etc/host.can"
#define SMTPD_SPAMBLOCK "etc/spamblock.cfg"
#define SMTPD_SPAMBLOCK_EXEMPT "etc/spamblock_exempt.cfg"
#define SMTPD_EMAIL_CAN "etc/email.can"
#define SMTPD_SUBJECT_CAN "etc/subject.can"
#define SMTPD_SPAMBAIT "etc/spambait.cfg"

/* Before the greeting: 0 when the client is refused (554 sent). */
int smtpd_lists_connect(struct smtp_session *s);
/* MAIL: 1 when the sender is refused (replied). */
int smtpd_lists_sender_refused(struct smtp_session *s, const char *sender);
/* RCPT: -1 refused by email.can (replied); 1 a bait address (the client
 * is added to spamblock.cfg; the caller accepts the recipient, and the
 * message is dropped at its end); 0 neither. */
int smtpd_lists_rcpt(struct smtp_session *s, const char *address);
/* End of the message: 1 when it was refused by subject.can or dropped for
 * bait (replied, logged). */
int smtpd_lists_finish(struct smtp_session *s, const char *cmd);

#endif
