#include "schedule.h"
#include "channel.h"
#include "home.h"
#include "spool.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

unsigned long schedule_backoff_sec(unsigned long attempts)
{
	unsigned long delay = SCHEDULE_FIRST_RETRY_SEC;

	while (attempts-- > 1 && delay < SCHEDULE_MAX_RETRY_SEC)
		delay *= 2;
	return delay < SCHEDULE_MAX_RETRY_SEC ? delay : SCHEDULE_MAX_RETRY_SEC;
}

/* mkdir that fsyncs the parent when it created the entry. */
static int schedule_mkdir(const char *path, const char *parent)
{
	if (mkdir(path, 0700) == 0)
		return file_fsync_dir(parent);
	return errno == EEXIST;
}

int schedule_bucket(char *out, size_t size, const char *channel, time_t due)
{
	char root[PATH_MAX], chan[PATH_MAX], full[PATH_MAX];
	unsigned long long t = due > 0 ? (unsigned long long)due : 0;

	t = (t + SCHEDULE_BUCKET_SEC - 1) / SCHEDULE_BUCKET_SEC * SCHEDULE_BUCKET_SEC;
	if ((size_t)snprintf(out, size, "%s/%s/%llu", SPOOL_DEFER_DIR, channel, t) >= size
	    || !home_path(root, sizeof root, SPOOL_DEFER_DIR)
	    || (size_t)snprintf(chan, sizeof chan, "%s/%s", root, channel) >= sizeof chan
	    || !home_path(full, sizeof full, out)) {
		errno = ENAMETOOLONG;
		return 0;
	}
	return schedule_mkdir(root, root) && schedule_mkdir(chan, root) && schedule_mkdir(full, chan);
}

/* A bucket name is the decimal due time; anything else is not ours. */
static int schedule_parse_bucket(const char *name, unsigned long long *t)
{
	char *end;

	if (name[0] < '0' || name[0] > '9')
		return 0;
	errno = 0;
	*t = strtoull(name, &end, 10);
	return errno == 0 && *end == 0;
}

/* Moves one bucket's jobs into queue_dir (never over an existing name). */
static long schedule_empty_bucket(const char *bucket, const char *queue_dir)
{
	char from[PATH_MAX], to[PATH_MAX];
	struct dirent *d;
	long moved = 0;
	DIR *dh = opendir(bucket);

	if (!dh)
		return errno == ENOENT ? 0 : -1;
	while ((d = readdir(dh))) {
		if (d->d_name[0] == '.')
			continue;
		if ((size_t)snprintf(from, sizeof from, "%s/%s", bucket, d->d_name) >= sizeof from
		    || (size_t)snprintf(to, sizeof to, "%s/%s", queue_dir, d->d_name) >= sizeof to)
			continue;
		if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
			moved++;
	}
	closedir(dh);
	/* Fails while another process still moves or adds: it goes next time. */
	rmdir(bucket);
	return moved;
}

long schedule_release_due(const char *channel, time_t now)
{
	char rel[PATH_MAX], dir[PATH_MAX], queue[PATH_MAX], bucket[PATH_MAX];
	unsigned long long t;
	struct dirent *d;
	long moved = 0, n;
	DIR *dh;

	if ((size_t)snprintf(rel, sizeof rel, "%s/%s", SPOOL_DEFER_DIR, channel) >= sizeof rel
	    || !home_path(dir, sizeof dir, rel)
	    || (size_t)snprintf(rel, sizeof rel, "%s/%s", SPOOL_QUEUE_DIR, channel) >= sizeof rel
	    || !home_path(queue, sizeof queue, rel)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (!(dh = opendir(dir)))
		return errno == ENOENT ? 0 : -1;
	while ((d = readdir(dh))) {
		if (!schedule_parse_bucket(d->d_name, &t) || t > (unsigned long long)now)
			continue;
		if ((size_t)snprintf(bucket, sizeof bucket, "%s/%s", dir, d->d_name) >= sizeof bucket)
			continue;
		if ((n = schedule_empty_bucket(bucket, queue)) > 0)
			moved += n;
	}
	closedir(dh);
	return moved;
}

static time_t schedule_channel_next(const char *channel)
{
	char rel[PATH_MAX], dir[PATH_MAX];
	unsigned long long t, best = 0;
	struct dirent *d;
	DIR *dh;

	if ((size_t)snprintf(rel, sizeof rel, "%s/%s", SPOOL_DEFER_DIR, channel) >= sizeof rel
	    || !home_path(dir, sizeof dir, rel) || !(dh = opendir(dir)))
		return 0;
	while ((d = readdir(dh)))
		if (schedule_parse_bucket(d->d_name, &t) && (best == 0 || t < best))
			best = t;
	closedir(dh);
	return (time_t)best;
}

time_t schedule_next_due(void)
{
	time_t best = 0, t;
	int id;

	for (id = CHANNEL_FIRST; id < CHANNEL_END; id++) {
		t = schedule_channel_next(channel_name(id));
		if (t && (!best || t < best))
			best = t;
	}
	return best;
}
