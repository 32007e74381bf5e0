/* deliver-local: delivers each job of spool/queue/local/ (one per message,
 * written by route, each local user once) into each user's Maildir under
 * spool/mailbox/<usernum>/
 * (deliver-local(8), spool(5)).  The Maildir name is derived from the job,
 * so a rerun after a crash between the delivery and the job's removal
 * finds the earlier delivery instead of making a second copy.  The scan,
 * claims, batching, retries, bounces and result lines are the stage
 * driver's (stage.h). */
#include "buf.h"
#include "channel.h"
#include "config.h"
#include "envelope.h"
#include "home.h"
#include "log.h"
#include "maildir.h"
#include "spool.h"
#include "stage.h"
#include "telegram.h"
#include "userdb.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define USAGE "deliver-local [-d DIR]"
#define HOSTNAME_MAX_BYTES 256

/* Maildir files open at once, across the batch's jobs: at this many the
 * written ones are synced and linked early, so a job to 500 users needs
 * no more descriptors than a batch of small ones. */
#define DELIVER_OPEN_FILES_MAX 64

/* One recipient's Maildir file, written (or found from an earlier
 * attempt), waiting for the batch's syncs. */
struct deliver_pending {
	size_t rcpt;                      /* its index in the job */
	unsigned long usernum;
	size_t size;
	int got;                          /* 0 written, to finish; 1, 2 as maildir_deliver */
	struct maildir_pending file;      /* mailbox and name in both cases */
};

/* A job's files (job->data from work to flush). */
struct deliver_files {
	struct deliver_pending *files;
	size_t count;
	int listed;                       /* in the context's open_jobs */
};

/* A mailbox a batch delivers into: its state before the batch and how many
 * messages the batch added, for the cached count (maildir_count_added). */
struct deliver_mailbox_count {
	char mailbox[PATH_MAX];
	struct maildir_stamp before;
	int stamped;
	long added;
};

struct deliver_ctx {
	struct userdb db;
	struct stage_job **open_jobs;             /* jobs with files not yet linked */
	size_t open_job_count, open_job_cap;
	size_t open_files;
	struct deliver_mailbox_count *counts;     /* this batch's mailboxes */
	size_t count_len;
	int db_open;
	char host[HOSTNAME_MAX_BYTES * 4 + 1];   /* Maildir-escaped host name */
	struct stage_dirs dirs;                   /* new/ entries not yet durable */
	unsigned long mailbox_made;               /* user whose Maildir is known to exist */
	int notify;                               /* NewMailNotice telegrams (no NO_NOTIFY) */
	char new_mail_notice[CONFIG_STRING_MAX];
	char notice_from[CONFIG_STRING_MAX + 16]; /* MAILER-DAEMON@HostName */
};

/* The host part of Maildir names, with '/' and ':' escaped as \057 and
 * \072 (the Maildir convention). */
static void deliver_host_name(struct deliver_ctx *run)
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
static void deliver_open(void *opaque, struct stage_run *stage)
{
	struct deliver_ctx *run = opaque;
	struct mail_config cfg;

	mail_config_defaults(&cfg);
	xmail_config_load(&cfg);    /* for LogLevel */
	stage_run_configure(stage, &cfg);
	run->notify = !(cfg.options & MAIL_OPTION(NO_NOTIFY));
	snprintf(run->new_mail_notice, sizeof run->new_mail_notice, "%s", cfg.new_mail_notice);
	snprintf(run->notice_from, sizeof run->notice_from, "MAILER-DAEMON@%s", cfg.host_name);
	if (!userdb_open(&run->db, 0))
		die_sys("unable to open the user database");
	deliver_host_name(run);
	run->db_open = 1;
}

/* "<arrival>.J<job name with '.' as '_'>_u<user>.<host>,S=<size>": the
 * job name is the queue id, unique in the spool, and route gives each user
 * one recipient per message, so the name is unique in the Maildir and the
 * same on every attempt (a deferred copy keeps the job's name). */
static int deliver_unique_name(const struct deliver_ctx *run, const struct envelope *e, const char *job,
			       unsigned long usernum, size_t size, struct buf *name)
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
	xbuf_catf(name, "_u%lu.%s,S=%zu", usernum, run->host, size);
	return 1;
}

/* The lines we add above the message (deliver-local(8)). */
static void deliver_head(const struct envelope *e, struct buf *head)
{
	buf_truncate(head, 0);
	xbuf_catf(head, "Return-Path: <%s>\n", e->sender);
}

/* 1 when the user of recipient i may receive; otherwise the failure is
 * reported. */
static int deliver_user_ok(struct deliver_ctx *run, struct stage_job *job, size_t i, unsigned long usernum)
{
	struct user u;
	int got = userdb_get_by_number(&run->db, usernum, &u);

	if (got < 0)
		stage_report_errno(job, i, errno, "unable to read the user database");
	else if (got == 0)
		stage_report_failure(job, i, 0, 550, "5.1.1", "no such user (user %lu was deleted)", usernum);
	else if (u.flags & USER_FLAG_DISABLED)
		stage_report_failure(job, i, 0, 550, "5.2.1", "mailbox disabled");
	return got > 0 && !(u.flags & USER_FLAG_DISABLED);
}

/* The user's Maildir path, created if missing.  Consecutive jobs for one
 * user (a burst to one mailbox) skip the four mkdir calls.  1 ok, 0 errno. */
static int deliver_mailbox(struct deliver_ctx *run, unsigned long usernum, char *mailbox, size_t size)
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

/* The batch's entry for a mailbox, its "before" state taken on first
 * sight (before any of the batch's links into it). */
static struct deliver_mailbox_count *deliver_count_entry(struct deliver_ctx *run, const char *mailbox)
{
	struct deliver_mailbox_count *grown;
	size_t i;

	for (i = 0; i < run->count_len; i++)
		if (strcmp(run->counts[i].mailbox, mailbox) == 0)
			return &run->counts[i];
	grown = realloc(run->counts, (run->count_len + 1) * sizeof *grown);
	if (!grown)
		return NULL;
	run->counts = grown;
	grown = &run->counts[run->count_len++];
	snprintf(grown->mailbox, sizeof grown->mailbox, "%s", mailbox);
	grown->stamped = maildir_stamp_get(mailbox, &grown->before);
	grown->added = 0;
	return grown;
}

/* After the batch is durable: the mailboxes' cached counts follow. */
static void deliver_counts_update(struct deliver_ctx *run)
{
	size_t i;

	for (i = 0; i < run->count_len; i++)
		if (run->counts[i].stamped && run->counts[i].added)
			maildir_count_added(run->counts[i].mailbox, &run->counts[i].before, run->counts[i].added);
}

/* A new file entry for recipient i of the job; the job joins the list of
 * those with open files.  NULL when out of memory. */
static struct deliver_pending *deliver_add_file(struct deliver_ctx *run, struct stage_job *job, size_t i)
{
	struct deliver_files *f = job->data;
	struct deliver_pending *grown;

	if (!f) {
		if (!(f = calloc(1, sizeof *f)))
			return NULL;
		job->data = f;
	}
	if (!f->listed) {
		struct stage_job **jobs = run->open_jobs;
		if (run->open_job_count == run->open_job_cap) {
			size_t cap = run->open_job_cap ? run->open_job_cap * 2 : 16;
			if (!(jobs = realloc(run->open_jobs, cap * sizeof *jobs)))
				return NULL;
			run->open_jobs = jobs;
			run->open_job_cap = cap;
		}
		run->open_jobs[run->open_job_count++] = job;
		f->listed = 1;
	}
	if (!(grown = realloc(f->files, (f->count + 1) * sizeof *grown)))
		return NULL;
	f->files = grown;
	grown = &f->files[f->count++];
	memset(grown, 0, sizeof *grown);
	grown->rcpt = i;
	grown->usernum = job->env->rcpt[i].usernum;
	grown->file.fd = -1;
	return grown;
}

/* fsyncs (unless synced) and links one written file; adds its new/ to the
 * directories to sync.  A failure is the recipient's. */
static void deliver_finish(struct deliver_ctx *run, struct stage_job *job, struct deliver_pending *d, int data_synced)
{
	struct deliver_mailbox_count *c = deliver_count_entry(run, d->file.mailbox);
	char new_dir[PATH_MAX];

	d->got = maildir_write_finish(&d->file, MAILDIR_DEFER_DIRSYNC | (data_synced ? MAILDIR_DATA_SYNCED : 0));
	if (d->got == 0) {
		stage_report_errno(job, d->rcpt, errno, "unable to deliver to %s", d->file.mailbox);
		return;
	}
	if ((size_t)snprintf(new_dir, sizeof new_dir, "%s/new", d->file.mailbox) >= sizeof new_dir
	    || !stage_dirs_add(&run->dirs, new_dir)) {
		d->got = 0;
		stage_report_errno(job, d->rcpt, errno ? errno : ENAMETOOLONG, "unable to sync %s", d->file.mailbox);
		return;
	}
	if (c && d->got == 1)
		c->added++;
}

/* Every written file not yet linked: one file_syncfs for all their data,
 * then the links into new/ (their entries become durable at flush).  A
 * message is never in new/ before its data is on disk. */
static void deliver_finish_open(struct deliver_ctx *run)
{
	char spool[PATH_MAX];
	size_t i, j;
	int data_synced;

	if (!run->open_job_count)
		return;
	data_synced = home_path(spool, sizeof spool, SPOOL_MAILBOX_DIR) && file_syncfs(spool);
	for (i = 0; i < run->open_job_count; i++) {
		struct deliver_files *f = run->open_jobs[i]->data;
		for (j = 0; f && j < f->count; j++)
			if (f->files[j].got == 0 && f->files[j].file.fd >= 0)
				deliver_finish(run, run->open_jobs[i], &f->files[j], data_synced);
		if (f)
			f->listed = 0;
	}
	run->open_job_count = 0;
	run->open_files = 0;
}

/* Writes recipient i's Maildir file (synced and linked later), or notes
 * the earlier delivery found in cur/. */
static void deliver_start(struct deliver_ctx *run, struct stage_job *job, size_t i, const char *mailbox,
			  const struct buf *name, const struct buf *head)
{
	struct deliver_pending *d = deliver_add_file(run, job, i);

	if (!d) {
		stage_report_errno(job, i, ENOMEM, "unable to deliver");
		return;
	}
	d->size = head->len + job->message_len;
	/* After an interrupted attempt a reader may have renamed the earlier
	 * delivery to cur/<name>:2,<any flags>. */
	if (job->retry && maildir_found_in_cur(mailbox, name->data, 1)) {
		d->got = 2;
		snprintf(d->file.mailbox, sizeof d->file.mailbox, "%s", mailbox);
		snprintf(d->file.name, sizeof d->file.name, "%s", name->data);
		return;
	}
	if (!maildir_write_begin(&d->file, mailbox, name->data, head->data, head->len, job->message,
				 job->message_len)) {
		stage_report_errno(job, i, errno, "unable to deliver to %s", mailbox);
		((struct deliver_files *)job->data)->count--;
		return;
	}
	if (++run->open_files >= DELIVER_OPEN_FILES_MAX)
		deliver_finish_open(run);
}

/* One recipient: the user, the mailbox, the file. */
static void deliver_recipient(struct deliver_ctx *run, struct stage_job *job, size_t i, const struct buf *head,
			      struct buf *name)
{
	unsigned long usernum = job->env->rcpt[i].usernum;
	char mailbox[PATH_MAX];

	if (!deliver_user_ok(run, job, i, usernum))
		return;
	if (!deliver_unique_name(run, job->env, job->name, usernum, head->len + job->message_len, name)) {
		stage_report_failure(job, i, 0, 554, "5.3.0", "job name unusable in a Maildir");
		return;
	}
	if (!deliver_mailbox(run, usernum, mailbox, sizeof mailbox)) {
		stage_report_errno(job, i, errno, "unable to deliver to %s", mailbox);
		return;
	}
	deliver_start(run, job, i, mailbox, name, head);
}

static enum stage_verdict deliver_work(void *opaque, struct stage_job *job)
{
	struct deliver_ctx *run = opaque;
	const struct envelope *e = job->env;
	struct buf head = BUF_INIT, name = BUF_INIT;
	size_t i;

	for (i = 0; i < e->rcpt_count; i++) {
		const struct envelope_rcpt *r = &e->rcpt[i];
		if (!r->channel || strcmp(r->channel, "local") != 0 || r->usernum == 0) {
			job->why = "job holds a recipient that is not local";
			return STAGE_QUARANTINE;
		}
	}
	deliver_head(e, &head);
	for (i = 0; i < e->rcpt_count; i++)
		deliver_recipient(run, job, i, &head, &name);
	buf_free(&head);
	buf_free(&name);
	return STAGE_HOLD;
}

/* The NewMailNotice telegram for one delivered recipient, named after the
 * job and the user ("mail.<job>"), so that a rerun after a crash rewrites
 * the same file instead of adding a second one.  Renamed into place
 * unsynced: the flush makes the batch's notices durable with one syncfs.
 * A notice that cannot be written is logged; the delivery stands. */
static int deliver_notice(struct deliver_ctx *run, struct stage_job *job, const struct deliver_pending *d)
{
	struct buf file = BUF_INIT, name = BUF_INIT;
	int ok;

	xtelegram_notice(&file, run->notice_from, (long long)time(NULL), run->new_mail_notice, "", job->env->sender,
			NULL);
	xbuf_catf(&name, "mail.%s", job->name);
	ok = telegram_write(d->usernum, name.data, file.data, file.len, 0);
	if (ok)
		log_info("id=%s event=notice user=%lu file=telegram/%lu/%s", job->name, d->usernum, d->usernum, name.data);
	else
		log_warn("id=%s unable to write the new-mail notice for user %lu: %s", job->name, d->usernum,
			 strerror(errno));
	buf_free(&file);
	buf_free(&name);
	return ok;
}

/* After the deliveries are durable (a notice never names mail that is not
 * there): the notices of the batch, then one syncfs for all of them. */
static void deliver_notices(struct deliver_ctx *run, struct stage_job **jobs, size_t count)
{
	char spool[PATH_MAX];
	size_t i, j, written = 0;

	if (!run->notify)
		return;
	for (i = 0; i < count; i++) {
		struct deliver_files *f = jobs[i]->data;
		for (j = 0; f && j < f->count; j++)
			if (f->files[j].got)
				written += (size_t)deliver_notice(run, jobs[i], &f->files[j]);
	}
	if (written && !(home_path(spool, sizeof spool, SPOOL_TELEGRAM_DIR) && file_syncfs(spool)))
		log_warn("unable to sync the new-mail notices: %s", strerror(errno));
}

/* Makes the batch's deliveries durable before the driver retires any job:
 * the files still open are synced and linked, then stage_dirs_sync makes
 * every new/ entry durable. */
static int deliver_flush(void *opaque, struct stage_job **jobs, size_t count)
{
	struct deliver_ctx *run = opaque;
	size_t i, j;
	int synced;

	deliver_finish_open(run);
	synced = stage_dirs_sync(&run->dirs);
	if (synced) {
		deliver_counts_update(run);
		deliver_notices(run, jobs, count);
	}
	run->count_len = 0;   /* a failed batch leaves the caches to be recounted */
	for (i = 0; i < count; i++) {
		struct deliver_files *f = jobs[i]->data;
		for (j = 0; f && j < f->count; j++) {
			struct deliver_pending *d = &f->files[j];
			if (d->got)
				stage_report_done(jobs[i], d->rcpt, "local", d->got == 2 ? "already-delivered" : "delivered",
						  "user=%lu file=new/%s size=%zu", d->usernum, d->file.name, d->size);
		}
		if (f)
			free(f->files);
		free(f);
		jobs[i]->data = NULL;
	}
	return synced;
}

static const struct stage_ops deliver_ops = {
	.channel_id = CHANNEL_LOCAL,
	.needs_message = 1,
	.open = deliver_open,
	.work = deliver_work,
	.flush = deliver_flush,
};

int main(int argc, char **argv)
{
	struct deliver_ctx run;
	int code;

	log_set_program("deliver-local");
	xstage_parse_args(argc, argv, USAGE);
	memset(&run, 0, sizeof run);
	code = stage_run(&deliver_ops, &run);
	if (run.db_open)
		userdb_close(&run.db);
	stage_dirs_free(&run.dirs);
	free(run.counts);
	free(run.open_jobs);
	return code;
}
