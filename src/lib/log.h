/* log: one line per event on stderr, one write() each, no timestamp (the log
 * collector adds it).  Control and non-ASCII bytes are written as \xHH so no
 * text can split a line, and log_quote makes a client's text one field value.
 * Also the die helpers: every program dies through them with the class code. */
#ifndef BBSMAIL_LOG_H
#define BBSMAIL_LOG_H
#include <stddef.h>

struct buf;

/* Severity, smaller is more severe (syslog numbering, as Synchronet's LogLevel). */
enum log_level {
	LOG_LEVEL_ERROR = 3,
	LOG_LEVEL_WARNING = 4,
	LOG_LEVEL_NOTICE = 5,
	LOG_LEVEL_INFO = 6,
	LOG_LEVEL_DEBUG = 7
};

/* Exit classes: 0 done, 100 permanent, 111 temporary. */
#define EXIT_PERMANENT 100
#define EXIT_TEMPORARY 111

void log_set_program(const char *name);
void log_set_level(int level);
int log_level_enabled(int level);
/* Parses "Debug", "info", "7", ... ; returns -1 if unknown. */
int log_level_parse(const char *s);
/* A receiver's connection id: every line then starts "session=<id> " after
 * the "prog: level: " prefix, so one grep follows a session.  NULL: none.
 * The string is kept, not copied. */
void log_set_session(const char *id);

/* Appends value as one key=value field value: as it is when it is not empty
 * and holds only printable ASCII other than space, '"', '\\' and '=';
 * otherwise in double quotes, with \" for '"', \\ for '\\' and \xHH for
 * a control or non-ASCII byte.  So a client's text can never end the field
 * or add a forged one.  1 ok, 0 out of memory (errno set). */
int log_quote(struct buf *out, const void *value, size_t len);
/* log_quote of a C string into scratch (emptied first), returning its text
 * for a "%s"; dies through die_nomem, for the receivers. */
const char *xlog_value(struct buf *scratch, const char *value);

void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_notice(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Called (once) before a die helper exits, with the exit code; receivers use it
 * to send "421" on the socket first.  Must not call die again. */
void die_set_hook(void (*hook)(int exit_code));
void die_temp(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
void die_perm(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
/* Appends ": strerror(errno)" and picks the class from errno. */
void die_sys(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
void die_nomem(void) __attribute__((noreturn));
/* Prints "prog: usage: <usage>" and exits 100. */
void die_usage(const char *usage) __attribute__((noreturn));

/* The one errno -> class helper: 1 when retrying later may help. */
int error_is_temporary(int err);

#endif
