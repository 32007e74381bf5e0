/* smtpd-etrn: ETRN (RFC 1985), remote message queue starting.  A client
 * that was offline asks for the mail waiting for its domain: smtpd
 * releases that domain's deferred jobs of the remote channel now
 * (schedule_release_matching) and pokes the trigger, so runq -l sends them
 * at once.  "ETRN @domain" takes the subdomains too, "ETRN #channel" a
 * whole channel's deferred jobs.  smtpd(8) gives the replies and limits. */
#ifndef BBSMAIL_SMTPD_ETRN_H
#define BBSMAIL_SMTPD_ETRN_H

/* ETRN commands per session that may scan the spool; the next get 458. */
#define SMTP_ETRN_PER_SESSION_MAX 5

/* Adds ETRN to the command table (advertised unless PARAM NoETRN). */
void smtpd_etrn_register(void);

#endif
