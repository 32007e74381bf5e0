/* smtpd-data: DATA and BDAT (RFC 5321 §4.1.1.4, RFC 3030), the line rules
 * that make SMTP smuggling impossible (only CRLF.CRLF ends DATA), and the
 * spool write (envelope record, Received header, message with LF line
 * ends). */
#ifndef BBSMAIL_SMTPD_DATA_H
#define BBSMAIL_SMTPD_DATA_H
#include "smtpd-session.h"

void smtp_cmd_data(struct smtp_session *s, const char *arg);
void smtp_cmd_bdat(struct smtp_session *s, const char *arg);
/* The envelope record of the transaction as the session holds it now
 * (recipients with mail only) appended to out.  1 ok, 0 errno. */
int smtpd_data_envelope(struct smtp_session *s, struct buf *out);
/* Stores one line (with its LF) of the message being received. */
void smtp_sink_store_line(struct smtp_sink *k, const char *line);

#endif
