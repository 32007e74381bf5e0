/* The command table and the read-dispatch loop.  Every handler is small and
 * finds its state in struct pop3_session. */
#include "session.h"
#include "capa.h"
#include "log.h"
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define POP3_COMMAND_EXTRA_MAX 8
#define POP3_VERB_MAX_BYTES 16

static const struct pop3_command command_table[] = {
	{ "USER", POP3_STATE_AUTHORIZATION, pop3_cmd_user },
	{ "PASS", POP3_STATE_AUTHORIZATION, pop3_cmd_pass },
	{ "APOP", POP3_STATE_AUTHORIZATION, pop3_cmd_apop },
	{ "CAPA", POP3_STATE_AUTHORIZATION | POP3_STATE_TRANSACTION, pop3_cmd_capa },
	{ "QUIT", POP3_STATE_AUTHORIZATION | POP3_STATE_TRANSACTION, pop3_cmd_quit },
	{ "STAT", POP3_STATE_TRANSACTION, pop3_cmd_stat },
	{ "LIST", POP3_STATE_TRANSACTION, pop3_cmd_list },
	{ "UIDL", POP3_STATE_TRANSACTION, pop3_cmd_uidl },
	{ "RETR", POP3_STATE_TRANSACTION, pop3_cmd_retr },
	{ "TOP", POP3_STATE_TRANSACTION, pop3_cmd_top },
	{ "DELE", POP3_STATE_TRANSACTION, pop3_cmd_dele },
	{ "RSET", POP3_STATE_TRANSACTION, pop3_cmd_rset },
	{ "NOOP", POP3_STATE_TRANSACTION, pop3_cmd_noop },
};

/* Filled once at start-up by other modules: a table, not session state. */
static const struct pop3_command *command_extra[POP3_COMMAND_EXTRA_MAX];
static size_t command_extra_count;

int pop3_command_register(const struct pop3_command *cmd)
{
	if (command_extra_count == POP3_COMMAND_EXTRA_MAX)
		return 0;
	command_extra[command_extra_count++] = cmd;
	return 1;
}

/* DEBUG_POP3's reply and command lines: the whole line as one value. */
static void log_line(const char *key, const char *line)
{
	struct buf v = BUF_INIT;

	log_debug("%s=%s", key, xlog_value(&v, line));
	buf_free(&v);
}

static void pop3_reply(struct pop3_session *s, const char *status, const char *fmt, va_list ap)
{
	char text[1024], line[sizeof text + 8];

	vsnprintf(text, sizeof text, fmt, ap);
	snprintf(line, sizeof line, "%s%s%s", status, text[0] ? " " : "", text);
	xconn_printf(&s->conn, "%s\r\n", line);
	if (s->debug)
		log_line("reply", line);
}

void pop3_ok(struct pop3_session *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	pop3_reply(s, "+OK", fmt, ap);
	va_end(ap);
}

void pop3_err(struct pop3_session *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	pop3_reply(s, "-ERR", fmt, ap);
	va_end(ap);
}

void pop3_end_multiline(struct pop3_session *s) { xconn_puts(&s->conn, ".\r\n"); }

void pop3_status_line(struct pop3_session *s, const char *line)
{
	xconn_puts(&s->conn, line);
	xconn_puts(&s->conn, "\r\n");
	if (s->debug)
		log_line("reply", line);
}

static const struct pop3_command *command_find(const char *verb)
{
	size_t i;

	for (i = 0; i < sizeof command_table / sizeof command_table[0]; i++)
		if (strcasecmp(verb, command_table[i].name) == 0)
			return &command_table[i];
	for (i = 0; i < command_extra_count; i++)
		if (strcasecmp(verb, command_extra[i]->name) == 0)
			return command_extra[i];
	return NULL;
}

/* DEBUG_POP3 logs every command; a password never reaches the log (nor
 * AUTH's initial response, which may carry one in base64). */
static void command_log(struct pop3_session *s, const char *verb, const char *arg)
{
	char masked[64], line[POP3_LINE_MAX_BYTES + 16];
	const char *sp;
	int n;

	if (!s->debug)
		return;
	if (strcasecmp(verb, "PASS") == 0 && arg)
		arg = "********";
	if (strcasecmp(verb, "AUTH") == 0 && arg && (sp = strchr(arg, ' '))) {
		n = sp - arg < 32 ? (int)(sp - arg) : 32;
		snprintf(masked, sizeof masked, "%.*s ********", n, arg);
		arg = masked;
	}
	snprintf(line, sizeof line, "%s%s%s", verb, arg ? " " : "", arg ? arg : "");
	log_line("command", line);
}

/* Splits "VERB [arg]" in place (line has no CR/LF left) and runs it. */
static void command_run(struct pop3_session *s, char *line)
{
	const struct pop3_command *cmd;
	char *arg = strchr(line, ' ');
	size_t n;

	if (arg) {
		*arg++ = 0;
		while (*arg == ' ')
			arg++;
		n = strlen(arg);
		while (n && (arg[n - 1] == ' ' || arg[n - 1] == '\t'))
			arg[--n] = 0;
		if (!*arg)
			arg = NULL;
	}
	command_log(s, line, arg);
	if (!*line || strlen(line) > POP3_VERB_MAX_BYTES || !(cmd = command_find(line))) {
		pop3_err(s, "unknown command");
		return;
	}
	if (!(cmd->states & s->state)) {
		pop3_err(s, "%s is not valid in the %s state", cmd->name,
			 s->state == POP3_STATE_AUTHORIZATION ? "AUTHORIZATION" : "TRANSACTION");
		return;
	}
	cmd->handler(s, arg);
}

/* One line from the client: strip CRLF (or a bare LF), refuse NUL and a
 * bare CR (RFC 1939 commands are printable text; a CR in a user name would
 * also be refused by ip.can and the logs, and so escape the filter). */
static void command_line(struct pop3_session *s, struct buf *line)
{
	size_t n = line->len;

	if (n && line->data[n - 1] == '\n')
		n--;
	if (n && line->data[n - 1] == '\r')
		n--;
	buf_truncate(line, n);
	if (memchr(line->data, 0, n)) {
		if (s->debug)
			log_debug("command=- holds=nul");
		pop3_err(s, "NUL character in command");
		return;
	}
	if (memchr(line->data, '\r', n)) {
		if (s->debug)
			log_debug("command=- holds=cr");
		pop3_err(s, "bare CR in command");
		return;
	}
	command_run(s, line->data);
}

/* A read that ended the session or an error the session survives. */
static void command_read_failed(struct pop3_session *s)
{
	struct buf v = BUF_INIT;

	if (errno == ERANGE) {
		pop3_err(s, "command line too long (at most %d octets)", POP3_LINE_MAX_BYTES);
		return;
	}
	s->done = 1;
	if (conn_write_failed(&s->conn)) {
		log_info("event=disconnect ip=%s reason=%s", s->remote_ip,
			 errno == ETIMEDOUT ? "write-timeout" : "write-error");
	} else if (errno == ETIMEDOUT && s->conn.deadline_ms && conn_now_ms() >= s->conn.deadline_ms) {
		pop3_err(s, "autologout: session longer than %lu seconds", s->cfg.max_session_sec);
		(void)conn_flush(&s->conn);
		log_info("event=timeout ip=%s user=%s reason=session-time", s->remote_ip,
			 xlog_value(&v, s->state == POP3_STATE_TRANSACTION ? s->user.name : "-"));
	} else if (errno == ETIMEDOUT) {
		pop3_err(s, "autologout: idle for %lu seconds", s->cfg.max_inactivity_sec);
		(void)conn_flush(&s->conn);
		log_info("event=timeout ip=%s user=%s", s->remote_ip,
			 xlog_value(&v, s->state == POP3_STATE_TRANSACTION ? s->user.name : "-"));
	} else {
		log_info("event=disconnect ip=%s reason=%s", s->remote_ip, xlog_value(&v, strerror(errno)));
	}
	buf_free(&v);
}

void pop3_session_run(struct pop3_session *s)
{
	struct buf line = BUF_INIT;
	int r;

	while (!s->done) {
		r = conn_getline(&s->conn, &line, POP3_LINE_MAX_BYTES);
		if (r > 0) {
			command_line(s, &line);
		} else if (r == 0) {
			log_info("event=disconnect ip=%s reason=eof", s->remote_ip);
			s->done = 1;
		} else {
			command_read_failed(s);
		}
	}
	(void)conn_flush(&s->conn);
	buf_free(&line);
}
