#include "log.h"
#include "buf.h"
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static const char *program = "bbsmail";
static int max_level = LOG_LEVEL_INFO;
static const char *session;
static void (*die_hook)(int);

void log_set_program(const char *name) { program = name; }
void log_set_session(const char *id) { session = id; }
void log_set_level(int level) { max_level = level; }
int log_level_enabled(int level) { return level <= max_level; }

int log_level_parse(const char *s)
{
	static const char *names[] = { "emergency", "alert", "critical", "error",
				       "warning", "notice", "informational", "debug" };
	int i;

	if (s[0] >= '0' && s[0] <= '7' && s[1] == 0)
		return s[0] - '0';
	for (i = 0; i < 8; i++)
		if (strncasecmp(s, names[i], strlen(s)) == 0 && strlen(s) >= 3)
			return i;
	if (strcasecmp(s, "err") == 0)
		return 3;
	if (strcasecmp(s, "warn") == 0)
		return 4;
	return -1;
}

/* Formats, writes every control and non-ASCII byte as \xHH (so nothing can
 * split the line; a backslash stays as it is, because log_quote's own \" and
 * \\ must survive), and writes the line with one write(). */
static void log_write(const char *kind, const char *fmt, va_list ap)
{
	char raw[4096], line[4096 * 4 + 256];
	size_t n = 0, i;
	int saved = errno;

	vsnprintf(raw, sizeof raw, fmt, ap);
	if (session)
		n = (size_t)snprintf(line, sizeof line, "%s: %s: session=%.64s ", program, kind, session);
	else
		n = (size_t)snprintf(line, sizeof line, "%s: %s: ", program, kind);
	for (i = 0; raw[i] && n < sizeof line - 6; i++) {
		unsigned char c = (unsigned char)raw[i];
		if (c >= 0x20 && c < 0x7f) {
			line[n++] = (char)c;
		} else {
			n += (size_t)snprintf(line + n, 5, "\\x%02x", c);
		}
	}
	line[n++] = '\n';
	(void)!write(2, line, n);
	errno = saved;
}

/* Bytes that may stand in a bare value: anything else would end the field
 * (space), start a quoted one, or look like an escape or a new key. */
static int log_bare_byte(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '"' && c != '\\' && c != '=';
}

int log_quote(struct buf *out, const void *value, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = value;
	char esc[4] = { '\\', 'x', 0, 0 };
	size_t i;
	int ok;

	for (i = 0; i < len && log_bare_byte(p[i]); i++)
		;
	if (len && i == len)
		return buf_cat(out, p, len);
	ok = buf_catc(out, '"');
	for (i = 0; ok && i < len; i++) {
		if (p[i] == '"' || p[i] == '\\') {
			esc[1] = (char)p[i];
			ok = buf_cat(out, esc, 2);
		} else if (p[i] < 0x20 || p[i] >= 0x7f) {
			esc[1] = 'x';
			esc[2] = hex[p[i] >> 4];
			esc[3] = hex[p[i] & 15];
			ok = buf_cat(out, esc, 4);
		} else {
			ok = buf_catc(out, (char)p[i]);
		}
	}
	return ok && buf_catc(out, '"');
}

const char *xlog_value(struct buf *scratch, const char *value)
{
	buf_truncate(scratch, 0);
	if (!log_quote(scratch, value, strlen(value)))
		die_nomem();
	return scratch->data;
}

#define LOG_FUNCTION(fname, level, kind)              \
	void fname(const char *fmt, ...)              \
	{                                             \
		va_list ap;                           \
		if (!log_level_enabled(level))        \
			return;                       \
		va_start(ap, fmt);                    \
		log_write(kind, fmt, ap);             \
		va_end(ap);                           \
	}
LOG_FUNCTION(log_error, LOG_LEVEL_ERROR, "error")
LOG_FUNCTION(log_warn, LOG_LEVEL_WARNING, "warning")
LOG_FUNCTION(log_notice, LOG_LEVEL_NOTICE, "notice")
LOG_FUNCTION(log_info, LOG_LEVEL_INFO, "info")
LOG_FUNCTION(log_debug, LOG_LEVEL_DEBUG, "debug")

void die_set_hook(void (*hook)(int)) { die_hook = hook; }

static void die_exit(int code) __attribute__((noreturn));
static void die_exit(int code)
{
	void (*hook)(int) = die_hook;

	die_hook = NULL;
	if (hook)
		hook(code);
	_exit(code);
}

void die_temp(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_write("fatal", fmt, ap);
	va_end(ap);
	die_exit(EXIT_TEMPORARY);
}

void die_perm(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_write("fatal", fmt, ap);
	va_end(ap);
	die_exit(EXIT_PERMANENT);
}

void die_sys(const char *fmt, ...)
{
	char msg[2048];
	int err = errno;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (error_is_temporary(err))
		die_temp("%s: %s", msg, strerror(err));
	die_perm("%s: %s", msg, strerror(err));
}

void die_nomem(void) { die_temp("out of memory"); }

void die_usage(const char *usage)
{
	fprintf(stderr, "%s: usage: %s\n", program, usage);
	die_exit(EXIT_PERMANENT);
}

int error_is_temporary(int err)
{
	switch (err) {
	/* Input that will never work.  A missing or unreadable file is an
	 * administrator's mistake that can be fixed, so it stays temporary:
	 * bouncing mail over it would lose the mail. */
	case EINVAL: case ENAMETOOLONG: case ELOOP: case EBADMSG:
	case ERANGE: case E2BIG: case EILSEQ: case EMSGSIZE:
		return 0;
	default:
		return 1;
	}
}
