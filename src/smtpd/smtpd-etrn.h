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
/* A deferred job tried less than this long ago is not released by ETRN:
 * a client repeating ETRN over many sessions gets at most one attempt a
 * minute, as the stage's own first retry, so it cannot use up a message's
 * MaxDeliveryAttempts (and get it bounced) in a few minutes. */
#define SMTP_ETRN_MIN_RETRY_SEC 60
/* The longest "#queue" name (channel names are short words). */
#define SMTP_ETRN_QUEUE_MAX_BYTES 32

/* Adds ETRN to the command table (advertised unless PARAM NoETRN). */
void smtpd_etrn_register(void);

#endif
