/* sent: the sent-log of deliver-remote (remote.h). */
#include "remote.h"
#include "buf.h"
#include "channel.h"
#include "file.h"
#include "home.h"
#include "log.h"
#include "schedule.h"
#include "spool.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int sent_path(char *out, size_t size, const char *job)
{
	char rel[PATH_MAX];

	if ((size_t)snprintf(rel, sizeof rel, "%s/%s", REMOTE_SENT_DIR, job) >= sizeof rel) {
		errno = ENAMETOOLONG;
		return 0;
	}
	return home_path(out, size, rel);
}

int remote_sent_append(const char *job, const char *const *addresses, size_t n)
{
	struct buf lines = BUF_INIT;
	char path[PATH_MAX];
	size_t i;
	int fd, ok;

	for (i = 0; i < n; i++)
		if (!buf_cats(&lines, addresses[i]) || !buf_catc(&lines, '\n')) {
			buf_free(&lines);
			return 0;
		}
	ok = sent_path(path, sizeof path, job)
	     && (fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600)) >= 0;
	if (ok) {
		ok = file_write_all(fd, lines.data, lines.len);
		ok = close(fd) == 0 && ok;
	}
	buf_free(&lines);
	return ok;
}

void remote_sent_apply(struct stage_job *job)
{
	struct buf log = BUF_INIT;
	char path[PATH_MAX];
	size_t i;

	if (!sent_path(path, sizeof path, job->name) || !file_read_path(path, &log)) {
		if (errno != ENOENT)
			log_warn("id=%s: unable to read its sent-log: %s", job->name, strerror(errno));
		buf_free(&log);
		return;
	}
	if (!buf_catc(&log, 0))
		die_nomem();
	for (i = 0; i < job->env->rcpt_count; i++) {
		const char *target = job->env->rcpt[i].target, *p;
		size_t n = target ? strlen(target) : 0;
		for (p = log.data; n && (p = strstr(p, target)); p += n)
			if ((p == log.data || p[-1] == '\n') && p[n] == '\n') {
				stage_report_done(job, i, "remote", "already-sent", NULL);
				break;
			}
	}
	buf_free(&log);
}

/* 1 when a job of that name is in a deferral bucket or in the queue, or
 * its message is still in spool/incoming (a job is named after the
 * message).  The buckets are looked at first: a released job moves from
 * there to the queue, so it is seen in one place or the other.  The
 * incoming name: route killed after it queued the job (S2, S3) reroutes
 * the message and queues the job again after this run retired it; the
 * log must outlive that, or the rerun sends it twice. */
static int sent_job_alive(const char *job, DIR *buckets, const char *defer_dir, const char *queue_dir,
			  const char *incoming_dir)
{
	char path[PATH_MAX];
	struct dirent *d;
	struct stat st;

	if ((size_t)snprintf(path, sizeof path, "%s/%s", incoming_dir, job) < sizeof path && stat(path, &st) == 0)
		return 1;
	if (buckets)
		rewinddir(buckets);
	while (buckets && (d = readdir(buckets)))
		if (d->d_name[0] != '.'
		    && (size_t)snprintf(path, sizeof path, "%s/%s/%s", defer_dir, d->d_name, job) < sizeof path
		    && stat(path, &st) == 0)
			return 1;
	return (size_t)snprintf(path, sizeof path, "%s/%s", queue_dir, job) < sizeof path && stat(path, &st) == 0;
}

void remote_sent_clean(void)
{
	char dir[PATH_MAX], defer_dir[PATH_MAX], queue_dir[PATH_MAX], incoming_dir[PATH_MAX], rel[PATH_MAX],
		path[PATH_MAX];
	DIR *logs, *buckets;
	struct dirent *d;

	snprintf(rel, sizeof rel, "%s/remote", SPOOL_DEFER_DIR);
	if (!home_path(dir, sizeof dir, REMOTE_SENT_DIR) || !home_path(defer_dir, sizeof defer_dir, rel)
	    || !home_path(incoming_dir, sizeof incoming_dir, SPOOL_INCOMING_DIR))
		return;
	snprintf(rel, sizeof rel, "%s/remote", SPOOL_QUEUE_DIR);
	if (!home_path(queue_dir, sizeof queue_dir, rel) || !(logs = opendir(dir)))
		return;
	buckets = opendir(defer_dir);   /* none yet: nothing is deferred */
	while ((d = readdir(logs)))
		if (d->d_name[0] != '.' && !sent_job_alive(d->d_name, buckets, defer_dir, queue_dir, incoming_dir)
		    && (size_t)snprintf(path, sizeof path, "%s/%s", dir, d->d_name) < sizeof path && unlink(path) != 0
		    && errno != ENOENT)
			log_warn("unable to remove the sent-log %s: %s", path, strerror(errno));
	if (buckets)
		closedir(buckets);
	closedir(logs);
}
