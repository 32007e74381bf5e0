/* -x ID: the sysop removes a message from the spool: its incoming file,
 * its job in every channel's queue, its deferred copies, its bounce jobs
 * (<id>.b<n>) and the body links of each.  Every file is claimed with
 * stage_claim before it goes, as a stage claims it, so a file a stage is
 * working on is never pulled from under it: it is left, and mailq says
 * "busy, try again" and exits 111.  A job drops its body link before its
 * record, as the stages retire jobs, so the link count of the message file
 * stays its reference count (spool(5), "Bodies"). */
#include "mailq.h"
#include "body.h"
#include "channel.h"
#include "envelope.h"
#include "home.h"
#include "log.h"
#include "schedule.h"
#include "spool.h"
#include "stage.h"
#include <ctype.h>
#include <dirent.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A job can move from its bucket into the queue while we scan (a stage's
 * release of due buckets does not claim): the scan is repeated while files
 * went missing between the directory read and the claim. */
#define MAILQ_DELETE_PASSES 3

struct mailq_delete {
	const char *id;
	time_t now;
	unsigned long removed;    /* files */
	unsigned long busy;       /* held by another process */
	unsigned long vanished;   /* gone between readdir and the claim */
	int failed;
};

int mailq_name_of(const char *name, const char *id)
{
	size_t n = strlen(id);

	if (strncmp(name, id, n) != 0)
		return 0;
	if (!name[n])
		return 1;
	/* A notice job: <id>.<b|d|s><attempts>-<channel> (spool(5)). */
	if (name[n] != '.' || !strchr("bds", name[n + 1]) || !name[n + 1] || !isdigit((unsigned char)name[n + 2]))
		return 0;
	name += n + 2 + strspn(name + n + 2, "0123456789");
	return *name == '-' && name[1] && !strchr(name + 1, '.');
}

/* One line per recipient of a removed file, as a stage's result lines. */
static void mailq_delete_log(const struct mailq_delete *d, const struct envelope *e, int parsed, const char *name,
			     const char *channel)
{
	struct buf v = BUF_INIT;
	unsigned long delay;
	size_t i;

	if (!parsed) {
		log_info("id=%s channel=%s result=deleted reason=malformed-envelope", name, channel);
		return;
	}
	delay = (unsigned long)d->now > e->arrival ? (unsigned long)d->now - e->arrival : 0;
	for (i = 0; i < e->rcpt_count; i++)
		log_info("id=%s rcpt=%s channel=%s result=deleted delay=%lu", name, xlog_value(&v, e->rcpt[i].address),
			 channel, delay);
	buf_free(&v);
}

/* Claims path.  -1 when it is held by another process (counted busy) or
 * has gone (counted vanished). */
static int mailq_delete_claim(struct mailq_delete *d, const char *path)
{
	struct stat st;
	int fd = stage_claim(path);

	if (fd >= 0)
		return fd;
	if (lstat(path, &st) == 0) {
		log_warn("%s is busy (a stage is working on it), try again", path);
		d->busy++;
	} else {
		d->vanished++;
	}
	return -1;
}

/* Drops a job's body link, claimed too: route holds the message file (the
 * same inode) while it routes.  1 done or no link, 0 busy or failed. */
static int mailq_delete_body(struct mailq_delete *d, const char *channel, const char *name)
{
	char path[PATH_MAX];
	struct stat st;
	int fd;

	if (!body_path(path, sizeof path, channel, name)) {
		d->failed = 1;
		return 0;
	}
	if ((fd = stage_claim(path)) < 0) {
		if (lstat(path, &st) != 0 && errno == ENOENT)
			return 1;
		log_warn("%s is busy (a stage is working on it), try again", path);
		d->busy++;
		return 0;
	}
	if (!body_release(channel, name, fd)) {
		log_warn("unable to remove %s: %s", path, strerror(errno));
		d->failed = 1;
		return 0;
	}
	return 1;
}

/* Retires the claimed record.  A stage's release of due buckets may have
 * moved a deferred copy into the queue since the claim: it is retired
 * there (the claim still holds it: the same inode). */
static int mailq_delete_retire(int fd, const char *path, const char *channel, const char *name)
{
	char rel[PATH_MAX], queued[PATH_MAX];
	struct stat held, now;

	if (spool_retire(path))
		return 1;
	if (errno != ENOENT || (size_t)snprintf(rel, sizeof rel, "%s/%s/%s", SPOOL_QUEUE_DIR, channel, name) >= sizeof rel
	    || !home_path(queued, sizeof queued, rel))
		return 0;
	if (fstat(fd, &held) != 0 || stat(queued, &now) != 0 || held.st_ino != now.st_ino || held.st_dev != now.st_dev) {
		errno = ENOENT;
		return 0;
	}
	return spool_retire(queued);
}

/* One job (queued or deferred): claim, body link, record, log. */
static void mailq_delete_job(struct mailq_delete *d, const char *path, const char *channel, const char *name)
{
	struct envelope e;
	int fd, parsed;

	if ((fd = mailq_delete_claim(d, path)) < 0)
		return;
	envelope_init(&e);
	parsed = file_read_fd(fd, &e.storage) && envelope_parse(&e);
	if (mailq_delete_body(d, channel, name)) {
		if (mailq_delete_retire(fd, path, channel, name)) {
			d->removed++;
			mailq_delete_log(d, &e, parsed, name, channel);
		} else {
			log_warn("unable to remove %s: %s", path, strerror(errno));
			d->failed = 1;
		}
	}
	envelope_free(&e);
	close(fd);
}

/* The incoming file: its name only, when jobs still link to it. */
static void mailq_delete_incoming(struct mailq_delete *d, const char *path, const char *name)
{
	struct envelope e;
	struct stat st;
	int fd, parsed, ok;

	if ((fd = mailq_delete_claim(d, path)) < 0)
		return;
	envelope_init(&e);
	parsed = file_read_fd(fd, &e.storage) && envelope_parse(&e);
	ok = fstat(fd, &st) == 0 && (st.st_nlink > 1 ? unlink(path) == 0 : spool_retire(path));
	if (ok) {
		d->removed++;
		mailq_delete_log(d, &e, parsed, name, "incoming");
	} else {
		log_warn("unable to remove %s: %s", path, strerror(errno));
		d->failed = 1;
	}
	envelope_free(&e);
	close(fd);
}

/* The message's files in one directory (relative to the home); channel
 * NULL for spool/incoming. */
static void mailq_delete_dir(struct mailq_delete *d, const char *relative, const char *channel)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct dirent *ent;
	DIR *dh;

	if (!home_path(dir, sizeof dir, relative) || !(dh = opendir(dir))) {
		if (errno != ENOENT) {
			log_warn("unable to open %s: %s", relative, strerror(errno));
			d->failed = 1;
		}
		return;
	}
	while ((ent = readdir(dh))) {
		if (ent->d_name[0] == '.' || !mailq_name_of(ent->d_name, d->id)
		    || (size_t)snprintf(path, sizeof path, "%s/%s", dir, ent->d_name) >= sizeof path)
			continue;
		if (channel)
			mailq_delete_job(d, path, channel, ent->d_name);
		else if (strcmp(ent->d_name, d->id) == 0)
			mailq_delete_incoming(d, path, ent->d_name);
	}
	closedir(dh);
}

/* A channel's queue, then its buckets. */
static void mailq_delete_channel(struct mailq_delete *d, const char *channel)
{
	char rel[PATH_MAX], dir[PATH_MAX];
	struct dirent *ent;
	DIR *dh;

	snprintf(rel, sizeof rel, "%s/%s", SPOOL_QUEUE_DIR, channel);
	mailq_delete_dir(d, rel, channel);
	snprintf(rel, sizeof rel, "%s/%s", SPOOL_DEFER_DIR, channel);
	if (!home_path(dir, sizeof dir, rel) || !(dh = opendir(dir)))
		return;
	while ((ent = readdir(dh))) {
		if (ent->d_name[0] < '0' || ent->d_name[0] > '9'
		    || (size_t)snprintf(rel, sizeof rel, "%s/%s/%.32s", SPOOL_DEFER_DIR, channel, ent->d_name) >= sizeof rel)
			continue;
		mailq_delete_dir(d, rel, channel);
	}
	closedir(dh);
}

int mailq_delete(const char *id)
{
	struct mailq_delete d;
	char spool[PATH_MAX];
	int pass, channel;

	memset(&d, 0, sizeof d);
	d.id = id;
	d.now = time(NULL);
	/* jobs before the incoming file: their links go before the file's name */
	for (pass = 0; pass == 0 || (d.vanished && pass < MAILQ_DELETE_PASSES); pass++) {
		d.vanished = 0;
		for (channel = CHANNEL_FIRST; channel < CHANNEL_END; channel++)
			mailq_delete_channel(&d, channel_name(channel));
		mailq_delete_dir(&d, SPOOL_INCOMING_DIR, NULL);
	}
	/* A retired name that comes back after a power loss would bring the
	 * message back: one syncfs makes the removal durable. */
	if (d.removed && (!home_path(spool, sizeof spool, SPOOL_TRASH_DIR) || !file_syncfs(spool))) {
		log_warn("unable to make the removal durable: %s", strerror(errno));
		d.failed = 1;
	}
	if (d.busy || d.failed)
		return EXIT_TEMPORARY;
	if (!d.removed) {
		struct buf v = BUF_INIT;
		log_error("no message %s in the spool", xlog_value(&v, id));
		buf_free(&v);
		return EXIT_PERMANENT;
	}
	return 0;
}
