/* smtpd-commands: the command table.  Each verb has an "available" predicate
 * (NULL: always) and a handler; extra tables (STARTTLS, AUTH in a later
 * issue) are added with smtp_commands_add() before the session starts, and
 * their advertise callbacks add EHLO keywords. */
#ifndef BBSMAIL_SMTPD_COMMANDS_H
#define BBSMAIL_SMTPD_COMMANDS_H
#include "smtpd-session.h"

#define SMTP_CMD_NEEDS_HELO 0x1   /* 503 5.5.1 before HELO/EHLO */

struct smtp_command {
	const char *verb;
	unsigned flags;
	int (*available)(const struct smtp_session *s);
	/* arg: the text after the verb and one space ("" if none), NUL-free. */
	void (*handler)(struct smtp_session *s, const char *arg);
	/* Adds "KEYWORD[ params]" lines for EHLO (NULL: nothing to say). */
	void (*advertise)(struct smtp_session *s, struct buf *keywords);
	/* Whether HELP names it, for a command that is taken but says it is
	 * off (EXPN without EXPNcmd); NULL: as available and advertise say. */
	int (*listed)(const struct smtp_session *s);
};

/* Registers another table (kept by pointer; static storage). */
void smtp_commands_add(const struct smtp_command *table, size_t count);
/* Looks the verb up and runs it, or answers 500 / 503. */
void smtp_command_dispatch(struct smtp_session *s, const char *line);
/* Handlers shared with other files. */
void smtp_cmd_mail(struct smtp_session *s, const char *arg);
/* MAIL and its RFC 821 siblings SEND/SOML/SAML ("<verb> FROM:<path>"):
 * 1 when the transaction was opened (250 sent), 0 when refused. */
int smtp_mail_open(struct smtp_session *s, const char *arg, const char *verb);
void smtp_cmd_rcpt(struct smtp_session *s, const char *arg);
/* Counts an unknown or malformed command: 1 to go on (the caller replies
 * 500), 0 when max-unknown-commands was passed and 421 was sent. */
int smtp_count_error(struct smtp_session *s);
/* Adds a recipient to the transaction (a copy of address; no NOTIFY or
 * ORCPT, mail only) and returns it; exits when out of memory. */
struct smtp_rcpt *xsmtp_rcpt_new(struct smtp_session *s, const char *address, unsigned long usernum);

#endif
