/* deliver-local: scans spool/queue/local/ once and delivers each job (one
 * recipient, written by route) into the user's Maildir under
 * spool/mailbox/<usernum>/ (deliver-local(8), spool(5)).
 * The Maildir name is derived from the job, so a rerun after a crash
 * between the delivery and the job's removal finds the earlier delivery
 * instead of making a second copy. */
#include "buf.h"
#include "config.h"
#include "envelope.h"
#include "home.h"
#include "log.h"
#include "maildir.h"
#include "spool.h"
#include "stage.h"
#include "userdb.h"
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define USAGE "deliver-local [-d DIR]"
#define HOSTNAME_MAX_BYTES 256
/* Jobs delivered before the new/ directories they touched are fsync'ed
 * together and the jobs retired: one directory fsync per mailbox per batch
 * instead of one per message.  Bounded so the claims held stay few fds. */
#define DELIVER_BATCH_MAX 128

/* A job whose Maildir file is written (or was found from an earlier
 * attempt) and waits for the batch's fsyncs; its claim (fd) is held until
 * it is retired, so no other deliver-local takes it meanwhile. */
struct deliver_done {
	int fd;
	char *path;
	char *job;
	unsigned long usernum;
	size_t size;
	int got;                          /* 0 written, to finish; 1, 2 as maildir_deliver */
	struct maildir_pending file;      /* mailbox and name in both cases */
};

struct deliver_run {
	struct userdb db;
	int db_open;
	char host[HOSTNAME_MAX_BYTES * 4 + 1];   /* Maildir-escaped host name */
	int temporary_failures;
	struct stage_dirs dirs;                   /* new/ directories not yet fsync'ed */
	struct deliver_done *batch;               /* DELIVER_BATCH_MAX, allocated once */
	unsigned long mailbox_made;               /* user whose Maildir is known to exist */
	size_t batch_count;
};

/* The host part of Maildir names: '/' and ':' escaped as formats.md §4.1
 * says (\057, \072). */
static void deliver_host_name(struct deliver_run *run)
{
	char raw[HOSTNAME_MAX_BYTES + 1];
	size_t i, n = 0;

	if (gethostname(raw, sizeof raw - 1) != 0 || !raw[0])
		strcpy(raw, "localhost");
	raw[sizeof raw - 1] = 0;
	for (i = 0; raw[i] && n + 5 < sizeof run->host; i++) {
		if (raw[i] == '/' || raw[i] == ':')
			n += (size_t)snprintf(run->host + n, 5, "\\%03o", (unsigned char)raw[i]);
		else
			run->host[n++] = raw[i];
	}
	run->host[n] = 0;
}

/* Done on the first job only, so an empty queue costs one readdir. */
static void deliver_open(struct deliver_run *run)
{
	struct mail_config cfg;

	if (run->db_open)
		return;
	mail_config_defaults(&cfg);
	xmail_config_load(&cfg);    /* for LogLevel */
	if (!userdb_open(&run->db, 0))
		die_sys("unable to open the user database");
	deliver_host_name(run);
	run->db_open = 1;
}

/* "<arrival>.J<job name with '.' as '_'>.<host>,S=<size>": the job name is
 * unique in the spool (queue id + recipient index), so the name is unique
 * in the Maildir and the same on every attempt at this job. */
static int deliver_unique_name(const struct deliver_run *run, const struct envelope *e, const char *job,
			       size_t size, struct buf *name)
{
	size_t i;

	buf_truncate(name, 0);
	xbuf_catf(name, "%lu.J", e->arrival);
	for (i = 0; job[i]; i++) {
		char c = job[i];
		if (c == '.')
			c = '_';
		if (c == '/' || c == ':' || (unsigned char)c < 0x21 || (unsigned char)c > 0x7e)
			return 0;
		xbuf_catc(name, c);
	}
	xbuf_catf(name, ".%s,S=%zu", run->host, size);
	return 1;
}

/* The lines we add above the message (deliver-local(8)). */
static void deliver_head(const struct envelope *e, struct buf *head)
{
	buf_truncate(head, 0);
	xbuf_catf(head, "Return-Path: <%s>\n", e->sender);
}

/* A job that will never be deliverable goes to spool/bad for the sysop. */
static void deliver_give_up(const char *job, const char *path, const char *why)
{
	log_error("id=%s event=undeliverable reason=%s", job, why);
	spool_quarantine(path, why);
}

static int deliver_user_ok(struct deliver_run *run, const char *job, const char *path,
			   unsigned long usernum)
{
	struct user u;
	int got = userdb_get_by_number(&run->db, usernum, &u);

	if (got < 0) {
		log_warn("id=%s event=defer user=%lu: unable to read the user database: %s", job, usernum,
			 strerror(errno));
		run->temporary_failures++;
		return 0;
	}
	if (got == 0) {
		deliver_give_up(job, path, "no such user");
		return 0;
	}
	if (u.flags & USER_FLAG_DISABLED) {
		deliver_give_up(job, path, "user disabled");
		return 0;
	}
	return 1;
}

/* After an interrupted attempt, a reader may have renamed the earlier
 * delivery to cur/<name>:2,<any flags>; maildir_deliver only tries the two
 * usual names, so look at the whole of cur/ in that rare case. */
static int deliver_found_in_cur(const char *mailbox, const char *name)
{
	char dir[PATH_MAX];
	size_t len = strlen(name);
	struct dirent *d;
	int found = 0;
	DIR *dh;

	if ((size_t)snprintf(dir, sizeof dir, "%s/cur", mailbox) >= sizeof dir || !(dh = opendir(dir)))
		return 0;
	while (!found && (d = readdir(dh)))
		found = strncmp(d->d_name, name, len) == 0 && d->d_name[len] == ':';
	closedir(dh);
	return found;
}

/* fsyncs and links one written file; adds its new/ to the directories
 * to fsync.  Sets d->got (0: failed, logged). */
static void deliver_finish(struct deliver_run *run, struct deliver_done *d)
{
	char new_dir[PATH_MAX];

	if (d->got == 0)
		d->got = maildir_write_finish(&d->file, MAILDIR_DEFER_DIRSYNC);
	if (d->got == 0) {
		log_warn("id=%s event=defer user=%lu: unable to deliver to %s: %s", d->job, d->usernum,
			 d->file.mailbox, strerror(errno));
		run->temporary_failures++;
		return;
	}
	/* maildir_write_finish has just used a longer path under this one. */
	if ((size_t)snprintf(new_dir, sizeof new_dir, "%s/new", d->file.mailbox) >= sizeof new_dir)
		die_temp("mailbox path too long: %s", d->file.mailbox);
	stage_dirs_add(&run->dirs, new_dir);
}

/* Retires a job once its delivery is durable and logs it. */
static void deliver_retire(struct deliver_run *run, struct deliver_done *d, int synced, int sync_errno)
{
	if (!synced) {
		log_warn("id=%s event=defer: unable to sync the Maildir: %s", d->job, strerror(sync_errno));
		run->temporary_failures++;
	} else if (!spool_retire(d->path)) {
		log_warn("id=%s event=defer: unable to retire %s: %s", d->job, d->path, strerror(errno));
		run->temporary_failures++;
	} else {
		log_info("id=%s event=%s user=%lu file=new/%s size=%zu", d->job,
			 d->got == 2 ? "already-delivered" : "delivered", d->usernum, d->file.name, d->size);
	}
}

/* Makes the batch's deliveries durable (each file's fsync, the links, one
 * fsync per new/), then retires its jobs (invariant 2: a job goes only
 * after its Maildir file is on disk). */
static void deliver_flush(struct deliver_run *run)
{
	int synced, saved;
	size_t i;

	for (i = 0; i < run->batch_count; i++)
		deliver_finish(run, &run->batch[i]);
	synced = stage_dirs_sync(&run->dirs);
	saved = errno;
	for (i = 0; i < run->batch_count; i++) {
		struct deliver_done *d = &run->batch[i];
		if (d->got)
			deliver_retire(run, d, synced, saved);
		close(d->fd);
		free(d->path);
		free(d->job);
	}
	run->batch_count = 0;
	/* The retired jobs are the cheapest files for the next deliveries. */
	spool_trash_rescan();
}

/* The next free entry of the batch, filled with the job's claim. */
static struct deliver_done *deliver_slot(struct deliver_run *run, int fd, const char *job, const char *path,
					 unsigned long usernum, size_t size)
{
	struct deliver_done *d;

	if (!run->batch && !(run->batch = malloc(DELIVER_BATCH_MAX * sizeof *run->batch)))
		die_nomem();
	d = &run->batch[run->batch_count];
	memset(d, 0, sizeof *d);
	d->fd = fd;
	d->usernum = usernum;
	d->size = size;
	d->file.fd = -1;
	if (!(d->path = strdup(path)) || !(d->job = strdup(job)))
		die_nomem();
	return d;
}

/* Writes the Maildir file, or notes the earlier delivery found in cur/;
 * the job is then held for deliver_flush.  0 on failure (logged). */
static int deliver_start(struct deliver_run *run, int fd, const char *job, const char *path,
			 const char *mailbox, const struct buf *name, const struct buf *head,
			 const struct envelope *e, int retry)
{
	struct deliver_done *d = deliver_slot(run, fd, job, path, e->rcpt[0].usernum, head->len + e->message_len);

	if (retry && deliver_found_in_cur(mailbox, name->data)) {
		d->got = 2;
		snprintf(d->file.mailbox, sizeof d->file.mailbox, "%s", mailbox);
		snprintf(d->file.name, sizeof d->file.name, "%s", name->data);
	} else if (!maildir_write_begin(&d->file, mailbox, name->data, head->data, head->len, e->message,
				       e->message_len)) {
		log_warn("id=%s event=defer user=%lu: unable to deliver to %s: %s", job, d->usernum, mailbox,
			 strerror(errno));
		run->temporary_failures++;
		free(d->path);
		free(d->job);
		return 0;
	}
	if (++run->batch_count == DELIVER_BATCH_MAX)
		deliver_flush(run);
	return 1;
}

/* The user's Maildir path, created if missing.  Consecutive jobs for one
 * user (a burst to one mailbox) skip the four mkdir calls.  1 ok, 0 errno. */
static int deliver_mailbox(struct deliver_run *run, unsigned long usernum, char *mailbox, size_t size)
{
	if (!maildir_path(usernum, mailbox, size))
		return 0;
	if (run->mailbox_made == usernum)
		return 1;
	if (!maildir_create(mailbox))
		return 0;
	run->mailbox_made = usernum;
	return 1;
}

/* Returns 1 when delivered and held for deliver_flush (which closes fd). */
static int deliver_job(struct deliver_run *run, int fd, const char *job, const char *path,
		       struct envelope *e, int retry)
{
	char mailbox[PATH_MAX];
	struct buf head = BUF_INIT, name = BUF_INIT;
	const struct envelope_rcpt *r = &e->rcpt[0];
	int held = 0;

	if (!deliver_user_ok(run, job, path, r->usernum))
		return 0;
	deliver_head(e, &head);
	if (!deliver_unique_name(run, e, job, head.len + e->message_len, &name)) {
		deliver_give_up(job, path, "job name unusable in a Maildir");
		goto done;
	}
	if (!deliver_mailbox(run, r->usernum, mailbox, sizeof mailbox)) {
		log_warn("id=%s event=defer user=%lu: unable to deliver to %s: %s", job, r->usernum, mailbox,
			 strerror(errno));
		run->temporary_failures++;
		goto done;
	}
	held = deliver_start(run, fd, job, path, mailbox, &name, &head, e, retry);
done:
	buf_free(&head);
	buf_free(&name);
	return held;
}

static void deliver_one(struct deliver_run *run, const char *dir, const char *job)
{
	struct envelope e;
	char path[PATH_MAX];
	int fd, retry, held = 0;

	if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, job) >= sizeof path)
		return;
	fd = stage_claim(path);
	if (fd < 0)
		return;   /* gone, or another deliver-local holds it */
	if (!stage_load_envelope(fd, &e)) {
		if (errno == EBADMSG)
			deliver_give_up(job, path, "malformed job");
		else {
			log_warn("id=%s event=defer: unable to read %s: %s", job, path, strerror(errno));
			run->temporary_failures++;
		}
	} else if (e.rcpt_count != 1 || !e.rcpt[0].channel || strcmp(e.rcpt[0].channel, "local") != 0
		   || e.rcpt[0].usernum == 0) {
		deliver_give_up(job, path, "job is not one local recipient");
	} else {
		deliver_open(run);
		retry = stage_was_attempted(fd);
		if (!retry && !stage_mark_attempted(fd))
			log_warn("id=%s: unable to mark %s: %s", job, path, strerror(errno));
		held = deliver_job(run, fd, job, path, &e, retry);
	}
	envelope_free(&e);
	if (!held)
		close(fd);
}

static int deliver_scan(struct deliver_run *run)
{
	char dir[PATH_MAX];
	struct dirent *d;
	DIR *dh;

	xhome_path(dir, sizeof dir, SPOOL_QUEUE_DIR "/local");
	dh = opendir(dir);
	if (!dh)
		die_sys("unable to open %s", dir);
	while ((d = readdir(dh)))
		if (d->d_name[0] != '.')
			deliver_one(run, dir, d->d_name);
	deliver_flush(run);
	closedir(dh);
	return run->temporary_failures ? EXIT_TEMPORARY : 0;
}

int main(int argc, char **argv)
{
	struct deliver_run run;
	int code;

	log_set_program("deliver-local");
	stage_parse_args(argc, argv, USAGE);
	memset(&run, 0, sizeof run);
	code = deliver_scan(&run);
	if (run.db_open)
		userdb_close(&run.db);
	stage_dirs_free(&run.dirs);
	free(run.batch);
	return code;
}
