#include "listfile.h"
#include "home.h"
#include "log.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BLANKS " \t\r"
#define TEXT(n) #n
#define NUMBER_TEXT(n) TEXT(n)
#define PROBLEM_TOO_LONG "line longer than " NUMBER_TEXT(LISTFILE_LINE_MAX_BYTES) " bytes"
#define PROBLEM_NUL "NUL byte in line"

static int is_blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

int listfile_open(struct listfile *lf, const char *path, unsigned flags)
{
	struct stat st;
	int n, err;

	lf->fd = -1;
	lf->flags = flags;
	lf->line_number = 0;
	lf->problem = NULL;
	lf->error_number = 0;
	lf->in_pos = lf->in_len = 0;
	n = snprintf(lf->path, sizeof lf->path, "%s", path);
	if (n < 0 || (size_t)n >= sizeof lf->path) {
		lf->error_number = errno = ENAMETOOLONG;
		return 0;
	}
	lf->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (lf->fd < 0) {
		lf->error_number = errno;
		return errno == ENOENT;
	}
	/* open() succeeds on a directory; say so now rather than at read(). */
	if (fstat(lf->fd, &st) != 0)
		err = errno;
	else if (S_ISDIR(st.st_mode))
		err = EISDIR;
	else
		return 1;
	listfile_close(lf);
	lf->error_number = errno = err;
	return 0;
}

int listfile_open_home(struct listfile *lf, const char *relative, unsigned flags)
{
	char path[PATH_MAX];

	lf->fd = -1;
	lf->problem = NULL;
	if (!home_path(path, sizeof path, relative)) {
		lf->error_number = errno;
		snprintf(lf->path, sizeof lf->path, "%s/%s", home_dir(), relative);
		return 0;
	}
	return listfile_open(lf, path, flags);
}

void listfile_close(struct listfile *lf)
{
	if (lf->fd >= 0)
		close(lf->fd);
	lf->fd = -1;
}

/* 1 more bytes in lf->in, 0 end of file, -1 read error. */
static int listfile_fill(struct listfile *lf)
{
	ssize_t n;

	if (lf->fd < 0)
		return 0;
	do
		n = read(lf->fd, lf->in, sizeof lf->in);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		lf->error_number = errno;
		return -1;
	}
	lf->in_pos = 0;
	lf->in_len = (size_t)n;
	return n > 0;
}

/* The next raw line into lf->line: 1 (*len bytes, *too_long when more were
 * dropped), 0 end of file, -1 read error. */
static int listfile_raw_line(struct listfile *lf, size_t *len, int *too_long)
{
	int started = 0, r;

	*len = 0;
	*too_long = 0;
	for (;;) {
		const char *start, *nl;
		size_t take;

		if (lf->in_pos == lf->in_len) {
			r = listfile_fill(lf);
			if (r < 0)
				return -1;
			if (r == 0)
				break;
		}
		start = lf->in + lf->in_pos;
		nl = memchr(start, '\n', lf->in_len - lf->in_pos);
		take = nl ? (size_t)(nl - start) : lf->in_len - lf->in_pos;
		started = 1;
		if (*len + take > LISTFILE_LINE_MAX_BYTES)
			*too_long = 1;
		else if (!*too_long) {
			memcpy(lf->line + *len, start, take);
			*len += take;
		}
		lf->in_pos += take + (nl ? 1 : 0);
		if (nl)
			break;
	}
	lf->line[*len] = 0;
	return started;
}

/* A bad line: skipped with a warning (1), or the end of a strict read (0). */
static int listfile_bad_line(struct listfile *lf, const char *problem)
{
	if (lf->flags & LISTFILE_STRICT) {
		lf->problem = problem;
		lf->error_number = errno = EINVAL;
		return 0;
	}
	log_warn("%s:%lu: %s, line skipped", lf->path, lf->line_number, problem);
	return 1;
}

/* 1 when the line (blanks already removed at both ends) is to be skipped. */
static int listfile_skipped(const struct listfile *lf, const char *s)
{
	return !*s || (*s == ';' && (lf->flags & LISTFILE_COMMENT_SEMICOLON))
	       || (*s == '#' && (lf->flags & LISTFILE_COMMENT_HASH));
}

int listfile_next(struct listfile *lf, char **line, size_t *len)
{
	size_t n;
	int too_long, r;
	char *s;

	lf->problem = NULL;
	for (;;) {
		r = listfile_raw_line(lf, &n, &too_long);
		if (r <= 0)
			return r;
		lf->line_number++;
		if (too_long || memchr(lf->line, 0, n)) {
			if (!listfile_bad_line(lf, too_long ? PROBLEM_TOO_LONG : PROBLEM_NUL))
				return -1;
			continue;
		}
		if ((lf->flags & LISTFILE_SKIP_INDENTED) && is_blank(lf->line[0]))
			continue;
		while (n && is_blank(lf->line[n - 1]))
			lf->line[--n] = 0;
		s = lf->line + strspn(lf->line, BLANKS);
		if (listfile_skipped(lf, s))
			continue;
		*line = s;
		if (len)
			*len = n - (size_t)(s - lf->line);
		return 1;
	}
}

void listfile_error_text(const struct listfile *lf, char *out, size_t size)
{
	if (lf->problem)
		snprintf(out, size, "%s:%lu: %s", lf->path, lf->line_number, lf->problem);
	else
		snprintf(out, size, "unable to read %s: %s", lf->path, strerror(lf->error_number));
}

void listfile_split(char *line, char **key, char **value)
{
	char *end = line + strcspn(line, BLANKS);

	*key = line;
	*value = end + strspn(end, BLANKS);
	*end = 0;
}

int listfile_find_home_numbered(const char *relative, unsigned flags,
				int (*match)(const char *line, unsigned long line_number, void *ctx), void *ctx)
{
	char text[PATH_MAX + 256];
	struct listfile lf;
	char *line;
	int r = 0, err;

	if (listfile_open_home(&lf, relative, flags)) {
		while ((r = listfile_next(&lf, &line, NULL)) == 1 && !match(line, lf.line_number, ctx))
			;
		listfile_close(&lf);
		if (r >= 0)
			return r;
	}
	err = errno;
	listfile_error_text(&lf, text, sizeof text);
	log_warn("%s", text);
	errno = err;
	return -1;
}

struct unnumbered {
	int (*match)(const char *line, void *ctx);
	void *ctx;
};

static int match_unnumbered(const char *line, unsigned long line_number, void *opaque)
{
	const struct unnumbered *u = opaque;
	(void)line_number;
	return u->match(line, u->ctx);
}

int listfile_find_home(const char *relative, unsigned flags, int (*match)(const char *line, void *ctx), void *ctx)
{
	struct unnumbered u = { match, ctx };
	return listfile_find_home_numbered(relative, flags, match_unnumbered, &u);
}

int listfile_load_strict(const char *relative, const char *(*parse)(char *line, void *ctx), void *ctx,
			 char *error, size_t error_size)
{
	struct listfile lf;
	const char *problem = NULL;
	char *line;
	int r;

	if (!listfile_open_home(&lf, relative, LISTFILE_COMMENT_HASH | LISTFILE_COMMENT_SEMICOLON | LISTFILE_STRICT)) {
		listfile_error_text(&lf, error, error_size);
		return 0;
	}
	while ((r = listfile_next(&lf, &line, NULL)) == 1)
		if ((problem = parse(line, ctx)))
			break;
	if (r < 0)
		listfile_error_text(&lf, error, error_size);
	else if (problem)
		snprintf(error, error_size, "%s:%lu: %s", lf.path, lf.line_number, problem);
	listfile_close(&lf);
	if (r < 0 || problem) {
		errno = EINVAL;
		return 0;
	}
	return 1;
}

char *listfile_next_word(char **p)
{
	char *w;

	while (**p == ' ' || **p == '\t')
		(*p)++;
	if (!**p)
		return NULL;
	w = *p;
	while (**p && **p != ' ' && **p != '\t')
		(*p)++;
	if (**p)
		*(*p)++ = 0;
	return w;
}
