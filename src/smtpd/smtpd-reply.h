/* smtpd-reply: every reply goes through here so the enhanced status code
 * (RFC 2034/3463) is added or left out in one place. */
#ifndef BBSMAIL_SMTPD_REPLY_H
#define BBSMAIL_SMTPD_REPLY_H
#include "smtpd-session.h"

/* "<code> <enhanced> <text>\r\n" (enhanced omitted when NULL or when the
 * extension is switched off).  Buffered: conn flushes before the next read. */
void smtp_reply(struct smtp_session *s, int code, const char *enhanced, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* One line of a multi-line reply: "<code>-..." while more is 1. */
void smtp_reply_line(struct smtp_session *s, int code, const char *enhanced, int more, const char *text);
/* Sends the reply now (the session is about to end). */
void smtp_reply_flush(struct smtp_session *s);
/* "421 <enhanced> <host> <text>", flushed; the caller then ends the session. */
void smtp_reply_close(struct smtp_session *s, const char *enhanced, const char *text);
/* "<address>" as one log value (log_quote) in scratch, for from=, rcpt=,
 * mailauth=; dies through die_nomem. */
const char *smtp_log_path(struct buf *scratch, const char *address);
/* Logs a refused command: event=reject cmd=... code=... reason=... */
void smtp_log_reject(struct smtp_session *s, const char *cmd, int code, const char *enhanced,
		     const char *reason);

#endif
