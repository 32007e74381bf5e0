/* dupes: the MSGIDs of the netmail imported (spool/data/fido/dupes), one a
 * line, so a packet sent twice by a mailer imports once.  Bounded: past
 * TOSS_DUPES_MAX lines the newer half is written to a new file, which
 * replaces the old by rename. */
#include "toss.h"
#include "file.h"
#include "home.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

static int dupes_push(struct dupes *d, const char *s, size_t n)
{
	char **grown = realloc(d->ids, (d->count + 1) * sizeof *grown);

	if (!grown)
		return 0;
	d->ids = grown;
	if (!(d->ids[d->count] = strndup(s, n)))
		return 0;
	d->count++;
	return 1;
}

/* Keeps the newer half: written to <file>.new, fsynced, renamed. */
static int dupes_trim(struct dupes *d, const char *path)
{
	char side[PATH_MAX + 8];
	size_t keep = d->count / 2, i;
	struct buf b = BUF_INIT;
	int fd, ok = 1;

	for (i = d->count - keep; i < d->count && ok; i++)
		ok = buf_cats(&b, d->ids[i]) && buf_catc(&b, '\n');
	snprintf(side, sizeof side, "%s.new", path);
	if (!ok || (fd = open(side, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0) {
		buf_free(&b);
		return 0;
	}
	ok = file_write_all(fd, b.data ? b.data : "", b.len) && fsync(fd) == 0;
	ok = close(fd) == 0 && ok && rename(side, path) == 0;
	buf_free(&b);
	if (!ok)
		return 0;
	for (i = 0; i < d->count - keep; i++)
		free(d->ids[i]);
	memmove(d->ids, d->ids + (d->count - keep), keep * sizeof *d->ids);
	d->count = keep;
	close(d->fd);
	d->fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	return d->fd >= 0;
}

int dupes_open(struct dupes *d)
{
	char path[PATH_MAX];
	struct buf b = BUF_INIT;
	size_t i = 0, end;
	int ok = 1;

	memset(d, 0, sizeof *d);
	d->fd = -1;
	if (!home_path(path, sizeof path, TOSS_DUPES_FILE))
		return 0;
	/* One fido-toss at a time updates the file (it keeps it open). */
	d->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (d->fd < 0 || flock(d->fd, LOCK_EX) != 0 || !file_read_path(path, &b))
		return 0;
	while (i < b.len && ok) {
		for (end = i; end < b.len && b.data[end] != '\n'; end++)
			;
		if (end > i)
			ok = dupes_push(d, b.data + i, end - i);
		i = end + 1;
	}
	buf_free(&b);
	return ok && (d->count <= TOSS_DUPES_MAX || dupes_trim(d, path));
}

int dupes_seen(const struct dupes *d, const char *msgid)
{
	size_t i;

	for (i = d->count; i > 0; i--)
		if (strcmp(d->ids[i - 1], msgid) == 0)
			return 1;
	return 0;
}

int dupes_add(struct dupes *d, const char *msgid)
{
	struct buf line = BUF_INIT;
	char path[PATH_MAX];
	int ok;

	if (strchr(msgid, '\n'))
		return 1;   /* cannot be a kludge value */
	ok = buf_cats(&line, msgid) && buf_catc(&line, '\n') && file_write_all(d->fd, line.data, line.len)
	     && fsync(d->fd) == 0 && dupes_push(d, msgid, strlen(msgid));
	buf_free(&line);
	if (ok && d->count > TOSS_DUPES_MAX)
		ok = home_path(path, sizeof path, TOSS_DUPES_FILE) && dupes_trim(d, path);
	return ok;
}

void dupes_close(struct dupes *d)
{
	size_t i;

	for (i = 0; i < d->count; i++)
		free(d->ids[i]);
	free(d->ids);
	if (d->fd >= 0)
		close(d->fd);
	memset(d, 0, sizeof *d);
	d->fd = -1;
}
