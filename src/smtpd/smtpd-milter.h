/* smtpd-milter: the mail filters of PARAM milter (milter(5)), spoken to
 * with the Sendmail milter protocol (src/lib/milter.c).  One connection
 * per filter per SMTP session, opened before the greeting; each step of
 * the session (connect, HELO, MAIL, RCPT, the message, RSET, QUIT) goes to
 * every filter in the order of the PARAM lines, and a message reaches each
 * as the ones before it changed it.  Without PARAM milter nothing here
 * runs and s->milters stays NULL. */
#ifndef BBSMAIL_SMTPD_MILTER_H
#define BBSMAIL_SMTPD_MILTER_H
#include "smtpd-session.h"

#define SMTPD_MILTER_CONNECT_TIMEOUT_DEFAULT_SEC 10
#define SMTPD_MILTER_COMMAND_TIMEOUT_DEFAULT_SEC 30
#define SMTPD_MILTER_CONTENT_TIMEOUT_DEFAULT_SEC 300
#define SMTPD_MILTER_MAX 16                 /* PARAM milter lines used */
#define SMTPD_MILTER_NAME_MAX_BYTES 64
/* A replaced body, as the filter sends it, without a size limit set. */
#define SMTPD_MILTER_BODY_MAX_BYTES (100UL * 1024 * 1024)

/* Session start: reads the PARAM milter lines, connects, negotiates and
 * sends the connect step.  A refusal is kept for every later MAIL. */
void smtpd_milter_connect(struct smtp_session *s);
/* After HELO/EHLO was accepted, before its reply. */
void smtpd_milter_helo(struct smtp_session *s);
/* MAIL, after the transaction was reset, with the ESMTP parameters
 * text after the path: 1 go on, 0 refused (replied). */
int smtpd_milter_mail(struct smtp_session *s, const char *sender, const char *params);
/* RCPT with its parameters' text, after the resolver accepted it for
 * channel (a resolve_channel; -1 when it was not asked): 1 go on, 0 this
 * recipient is refused (replied). */
int smtpd_milter_rcpt(struct smtp_session *s, const char *address, const char *params, int channel);
/* An unknown command's line (SMFIC_UNKNOWN), before its 500: 1 a filter
 * chose the refusal and it was sent, 0 none did (send the 500). */
int smtpd_milter_unknown(struct smtp_session *s, const char *line);
/* End of the message, before the mail processors and the content filter:
 * 1 refused or dropped (replied and logged), 0 go on (the spool file may
 * have been rebuilt with the filters' changes, or bound for the freezer). */
int smtpd_milter_finish(struct smtp_session *s, const char *cmd);
/* The transaction is forgotten (RSET, HELO, a new MAIL, a lost message). */
void smtpd_milter_abort(struct smtp_session *s);
/* Session end: SMFIC_QUIT to each filter, connections closed. */
void smtpd_milter_end(struct smtp_session *s);

#endif
