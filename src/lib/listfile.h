/* listfile: the one reader of the line-based files a sysop edits by hand:
 * etc/mail.ini, etc/smtpserver.conf, etc/alias.cfg, etc/db/localnames,
 * etc/ip.can, the per-user .smtptags, and the Synchronet anti-spam lists
 * (one pattern a line, or "key value" lines).
 *
 * A line ends at LF.  The last line counts without one: these are local
 * files, often saved by an editor that leaves it off, not a network stream.
 * Every line handed to the caller has its leading and trailing blanks
 * (space, tab, CR) removed, so CRLF files read like LF files, and it is
 * never empty and never a comment (when the flags name a comment mark).
 *
 * A line longer than LISTFILE_LINE_MAX_BYTES (the bytes before its LF) or
 * holding a NUL byte is never cut short or passed on.  It is logged as a
 * warning naming file:line and skipped, or, with LISTFILE_STRICT, the read
 * stops there with an error the caller reports (a config file whose lines
 * set values must not run with one of them silently missing). */
#ifndef BBSMAIL_LISTFILE_H
#define BBSMAIL_LISTFILE_H
#include <limits.h>
#include <stddef.h>

#define LISTFILE_LINE_MAX_BYTES 4096
#define LISTFILE_READ_BYTES 4096

/* A line whose first non-blank byte is ';' is a comment (Synchronet's
 * .cfg and .can files). */
#define LISTFILE_COMMENT_SEMICOLON 0x01
/* The same for '#' (ZMailer's files, and Synchronet's sbbs.ini). */
#define LISTFILE_COMMENT_HASH 0x02
/* A line starting with a blank (space, tab, CR) is skipped whatever it
 * holds: ZMailer's smtpserver.conf rule. */
#define LISTFILE_SKIP_INDENTED 0x04
/* A bad line (too long, NUL byte) ends the read with -1 instead of a
 * warning. */
#define LISTFILE_STRICT 0x08

struct listfile {
	int fd;                        /* -1: a missing file (an empty list), or closed */
	unsigned flags;
	char path[PATH_MAX];
	unsigned long line_number;     /* of the line last returned, or of the bad one */
	const char *problem;           /* after -1 on a bad line: what was wrong, else NULL */
	int error_number;              /* errno of the last failure */
	size_t in_pos, in_len;
	char in[LISTFILE_READ_BYTES];
	char line[LISTFILE_LINE_MAX_BYTES + 1];
};

/* Opens path.  1 ok (also for a missing file, which reads as empty), 0 with
 * errno when it exists but cannot be read (EISDIR for a directory). */
int listfile_open(struct listfile *lf, const char *path, unsigned flags);
/* The same for <home>/<relative>. */
int listfile_open_home(struct listfile *lf, const char *relative, unsigned flags);
/* The next line: 1 with *line (NUL-terminated, *len bytes; the caller may
 * change it, it lasts until the next call), 0 at the end, -1 on a read
 * error (errno; problem NULL) or, with LISTFILE_STRICT, a bad line
 * (errno EINVAL; problem says what, line_number where).  len may be NULL. */
int listfile_next(struct listfile *lf, char **line, size_t *len);
void listfile_close(struct listfile *lf);
/* After a failed open or a -1 from listfile_next, the message for the
 * sysop: "<path>:<line>: <problem>" for a bad line, else "unable to read
 * <path>: <strerror>". */
void listfile_error_text(const struct listfile *lf, char *out, size_t size);

/* Whether any line of <home>/<relative> satisfies match (called with each
 * line and ctx until it returns nonzero): 1 yes, 0 no (or no file), -1
 * when the file cannot be read (errno; the reason is logged as a warning).
 * The "is it listed?" question of ip.can, .smtptags and the spam lists. */
int listfile_find_home(const char *relative, unsigned flags, int (*match)(const char *line, void *ctx),
		       void *ctx);
/* listfile_find_home with the number of each line, for match's warnings. */
int listfile_find_home_numbered(const char *relative, unsigned flags,
				int (*match)(const char *line, unsigned long line_number, void *ctx), void *ctx);
/* Reads a configuration file that must be right as a whole (boards.cfg,
 * qwknet.cfg, fidonet.cfg): comments after '#' or ';', every other line
 * handed to parse, which returns NULL or what is wrong with it.  The first
 * problem stops the read.  1 ok (a missing file is empty); 0 with errno
 * EINVAL and error "<path>:<line>: <problem>", or the read error. */
int listfile_load_strict(const char *relative, const char *(*parse)(char *line, void *ctx), void *ctx,
			 char *error, size_t error_size);
/* The next blank-separated word of the line at *p, ended in place, with
 * *p moved past it; NULL when none is left. */
char *listfile_next_word(char **p);
/* Splits a "key value" line in place: *key is the first word, *value the
 * rest with the blanks after the key removed ("" when there is none). */
void listfile_split(char *line, char **key, char **value);

#endif
