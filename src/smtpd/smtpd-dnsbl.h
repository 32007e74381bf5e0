/* smtpd-dnsbl: the DNS blacklists in the SMTP session (antispam(5)): the
 * client looked up at connect, every zone of etc/dns_blacklist.cfg at
 * once within PARAM dnsbl-timeout; a listing logged ("SMTP BLACKLISTED
 * SERVER on <zone>: <ip>") and written to spool/data/spam.log, then the
 * DNSBL_* actions of mail.ini's Options for the mail it sends.  Clients
 * and senders in etc/dnsbl_exempt.cfg, 127.0.0.1, ::1, submission
 * sessions and authenticated clients are never acted on. */
#ifndef BBSMAIL_SMTPD_DNSBL_H
#define BBSMAIL_SMTPD_DNSBL_H
#include "smtpd-session.h"

#define SMTPD_DNSBL_EXEMPT_FILE "etc/dnsbl_exempt.cfg"
#define SMTPD_SPAM_LOG "spool/data/spam.log"
#define SMTPD_SPAM_HASH "spool/data/spam.hash"
#define SMTPD_DNSBL_TIMEOUT_DEFAULT_SEC 4
#define SMTPD_RECEIVED_IPS_MAX 8

/* Before the greeting.  0 when the session must end (DNSBL_REFUSE: the
 * 554 was sent). */
int smtpd_dnsbl_connect(struct smtp_session *s);
/* At MAIL: whether this sender is exempt. */
void smtpd_dnsbl_mail(struct smtp_session *s);
/* At RCPT: 1 when DNSBL_BADUSER refused it (replied). */
int smtpd_dnsbl_rcpt_refused(struct smtp_session *s);
/* Before each command of a listed client: DNSBL_THROTTLE's second. */
void smtpd_dnsbl_throttle(struct smtp_session *s);
/* One throttled line's wait. */
void smtpd_dnsbl_pause(void);
/* At the start of a message: sets up the sink's anti-spam work. */
void smtpd_dnsbl_begin(struct smtp_session *s);
/* At the end of a message, before the commit: 1 when it was refused (the
 * body matches spool/data/spam.hash, or a Received: address is listed
 * and DNSBL_REFUSE or DNSBL_BADUSER is set) or dropped with 250
 * (DNSBL_IGNORE); replied and logged.  DNSBL_SPAMHASH records the body
 * hash of listed mail here. */
int smtpd_dnsbl_finish(struct smtp_session *s, const char *cmd);

#endif
