#include "schedule.h"
#include "channel.h"
#include "envelope.h"
#include "home.h"
#include "spool.h"
#include "stage.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
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

/* "spool/defer/<channel>" and "spool/queue/<channel>" under the home. */
static int schedule_channel_dirs(const char *channel, char *defer, size_t defer_size, char *queue,
				 size_t queue_size)
{
	char rel[PATH_MAX];

	if ((size_t)snprintf(rel, sizeof rel, "%s/%s", SPOOL_DEFER_DIR, channel) >= sizeof rel
	    || !home_path(defer, defer_size, rel)
	    || (size_t)snprintf(rel, sizeof rel, "%s/%s", SPOOL_QUEUE_DIR, channel) >= sizeof rel
	    || !home_path(queue, queue_size, rel)) {
		errno = ENAMETOOLONG;
		return 0;
	}
	return 1;
}

/* One deferred job: claimed, read from the claim, moved when it matches.
 * 1 moved, 0 left (busy, gone, malformed, no match, or a job of that
 * name already queued), -1 a rename failed otherwise (errno). */
static int schedule_release_one(const char *from, const char *queue_dir, const char *name,
				schedule_match_fn match, void *ctx)
{
	char to[PATH_MAX];
	struct envelope e;
	int fd, result = 0;

	if ((size_t)snprintf(to, sizeof to, "%s/%s", queue_dir, name) >= sizeof to)
		return 0;
	if ((fd = stage_claim(from)) < 0)
		return 0;
	envelope_init(&e);
	if (file_read_fd(fd, &e.storage) && envelope_parse(&e) && match(name, &e, ctx)) {
		if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
			result = 1;
		else if (errno != EEXIST && errno != ENOENT)
			result = -1;
	}
	envelope_free(&e);
	close(fd);
	return result;
}

/* The jobs of one bucket.  Returns how many moved; a failure is kept in
 * *failed_errno (the first one) and the scan goes on. */
static unsigned long schedule_release_bucket(const char *bucket, const char *queue_dir, schedule_match_fn match,
					     void *ctx, int *failed_errno)
{
	char from[PATH_MAX];
	unsigned long moved = 0;
	struct dirent *d;
	DIR *dh = opendir(bucket);
	int r;

	if (!dh) {
		if (errno != ENOENT && !*failed_errno)
			*failed_errno = errno;
		return 0;
	}
	while ((d = readdir(dh))) {
		if (d->d_name[0] == '.'
		    || (size_t)snprintf(from, sizeof from, "%s/%s", bucket, d->d_name) >= sizeof from)
			continue;
		r = schedule_release_one(from, queue_dir, d->d_name, match, ctx);
		if (r > 0)
			moved++;
		else if (r < 0 && !*failed_errno)
			*failed_errno = errno;
	}
	closedir(dh);
	return moved;
}

int schedule_release_matching(const char *channel, schedule_match_fn match, void *ctx,
			      unsigned long *released)
{
	char dir[PATH_MAX], queue[PATH_MAX], bucket[PATH_MAX];
	unsigned long long t;
	unsigned long moved = 0;
	struct dirent *d;
	int failed_errno = 0;
	DIR *dh;

	if (released)
		*released = 0;
	if (!schedule_channel_dirs(channel, dir, sizeof dir, queue, sizeof queue))
		return 0;
	if (!(dh = opendir(dir)))
		return errno == ENOENT;
	while ((d = readdir(dh))) {
		if (!schedule_parse_bucket(d->d_name, &t)
		    || (size_t)snprintf(bucket, sizeof bucket, "%s/%s", dir, d->d_name) >= sizeof bucket)
			continue;
		moved += schedule_release_bucket(bucket, queue, match, ctx, &failed_errno);
	}
	closedir(dh);
	if (released)
		*released = moved;
	if (failed_errno) {
		errno = failed_errno;
		return 0;
	}
	return 1;
}

int schedule_domain_contains(const char *pattern, const char *host)
{
	const char *at = strrchr(host, '@');
	size_t plen, hlen;
	int subdomains = pattern[0] == '@';

	if (subdomains)
		pattern++;
	if (at)
		host = at + 1;
	plen = strlen(pattern);
	hlen = strlen(host);
	/* "example.org." names the same domain as "example.org" */
	if (plen && pattern[plen - 1] == '.')
		plen--;
	if (hlen && host[hlen - 1] == '.')
		hlen--;
	if (!plen || !hlen)
		return 0;
	if (hlen == plen)
		return strncasecmp(host, pattern, plen) == 0;
	return subdomains && hlen > plen && host[hlen - plen - 1] == '.'
	       && strncasecmp(host + hlen - plen, pattern, plen) == 0;
}

int schedule_match_domain(const char *name, const struct envelope *e, void *ctx)
{
	const struct schedule_domain *m = ctx;
	size_t i;

	(void)name;
	if (m->tried_before && e->last_attempt && (time_t)e->last_attempt >= m->tried_before)
		return 0;
	for (i = 0; i < e->rcpt_count; i++) {
		const char *where = e->rcpt[i].target ? e->rcpt[i].target : e->rcpt[i].address;
		if (schedule_domain_contains(m->domain, where))
			return 1;
	}
	return 0;
}
