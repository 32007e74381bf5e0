/* smtpd-contentfilter: ZMailer's content filter (PARAM contentfilter,
 * smtpserver.conf(5); antispam(5), "CONTENT FILTER").  A filter process is
 * started at a session's first message and kept for its later messages.
 * It prints "#hungry" when ready; smtpd writes the path of the message's
 * copy and a newline; the filter answers one line, "-1 ..." refuse, "0 ..."
 * accept, "1 ..." freeze (the message goes to spool/freezer/). */
#ifndef BBSMAIL_SMTPD_CONTENTFILTER_H
#define BBSMAIL_SMTPD_CONTENTFILTER_H
#include "smtpd-session.h"
#include <stddef.h>

#define SMTPD_CONTENTFILTER_TIMEOUT_DEFAULT_SEC 60
#define SMTPD_CONTENTFILTER_LINE_MAX_BYTES 1024
#define SMTPD_CONTENTFILTER_TEXT_MAX_BYTES 200
#define SPOOL_FREEZER_DIR "spool/freezer"   /* also in bin/bbsmail-freezer */
/* The pool of libexec/contentfilter-pool, when it runs: a session then
 * sends the path there and reads the answer line, or "#fail <reason>". */
#define CONTENTFILTER_POOL_SOCKET "spool/contentfilter.sock"

enum contentfilter_action { CONTENTFILTER_REJECT = -1, CONTENTFILTER_ACCEPT = 0, CONTENTFILTER_FREEZE = 1 };

struct contentfilter_reply {
	enum contentfilter_action action;
	int code;                     /* 0: none given */
	char enhanced[16];
	char text[SMTPD_CONTENTFILTER_TEXT_MAX_BYTES + 1];
};

/* One answer line (without its newline): "-1", "0" or "1", then optionally
 * " <code> <x.y.z> <text>": a 4xx or 5xx code for -1, a 2xx for 0 and 1,
 * the enhanced code of the same class (RFC 3463).  Text bytes outside
 * printable ASCII become '?'.  1 ok, 0 garbage. */
int smtpd_contentfilter_parse_reply(const char *line, size_t len, struct contentfilter_reply *r);

/* At the end of a message, before the commit: 1 when refused (replied,
 * logged); 0 to go on, the spool file then bound for spool/freezer/ when
 * the filter froze it.  Off without PARAM contentfilter. */
int smtpd_contentfilter_finish(struct smtp_session *s, const char *cmd);
/* The session ends: the filter's stdin is closed and it is reaped. */
void smtpd_contentfilter_stop(struct smtp_session *s);

#endif
