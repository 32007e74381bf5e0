/* smtpd-mailproc: external mail processors (antispam(5), "MAIL
 * PROCESSORS"): the programs of etc/mailproc.cfg run in order on a copy of
 * each message before the final reply to DATA or BDAT LAST.  Each may pass
 * it, refuse it with its own reply, tag it as spam, or rewrite the copy
 * (then the spool file is rebuilt from the envelope and the new copy).
 * Programs are started with fork and execve, never a shell; the envelope
 * goes in the environment. */
#ifndef BBSMAIL_SMTPD_MAILPROC_H
#define BBSMAIL_SMTPD_MAILPROC_H
#include "smtpd-session.h"

#define SMTPD_MAILPROC_FILE "etc/mailproc.cfg"
#define SMTPD_MAILPROC_TIMEOUT_DEFAULT_SEC 60
#define SMTPD_MAILPROC_STDOUT_MAX_BYTES 4096   /* kept of a program's output */
#define SMTPD_MAILPROC_REPLY_TEXT_MAX_BYTES 200
#define SMTPD_MAILPROC_ARGS_MAX 32

/* Exit statuses a processor answers with; other ones are failures. */
#define MAILPROC_EXIT_PASS 0
#define MAILPROC_EXIT_SPAM 1
#define MAILPROC_EXIT_REJECT 100
#define MAILPROC_EXIT_TEMPFAIL 111

/* At the end of a message, before the commit: 1 when it was refused
 * (replied and logged), 0 to go on (the spool file may have been
 * rebuilt). */
int smtpd_mailproc_finish(struct smtp_session *s, const char *cmd);
/* "4xx x.y.z text" or "5xx x.y.z text" of the class want (4 or 5): 1 with
 * the code, the enhanced code and the text (printable ASCII, cut to
 * SMTPD_MAILPROC_REPLY_TEXT_MAX_BYTES) copied out; 0 malformed. */
int smtpd_mailproc_parse_reply(const char *line, size_t len, int want, int *code, char enhanced[16],
			       char text[SMTPD_MAILPROC_REPLY_TEXT_MAX_BYTES + 1]);

#endif
