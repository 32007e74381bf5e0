/* deliver-bounce: turns each notice job of spool/queue/bounce/ (written
 * by the stage driver for failed, delayed and delivered recipients) into a
 * delivery status notification (RFC 3464, dsn.h) and hands it to route as
 * a new message from <> in spool/incoming/ (deliver-bounce(8), spool(5)).
 *
 * A notice must go out once even if we are killed at any point, and route
 * may take the new message away at once.  So the notice is first written
 * over the job's own body link (spool/body/bounce-<job>, atomically
 * replacing the link to the original), and then that link is renamed into
 * spool/incoming/: one rename both hands the notice on and leaves the job
 * without a body, which the driver reads as "finished" (spool(5), B2-B4).
 * A rerun that finds the body is already a notice (its record's id is not
 * the job's) only moves it on. */
#include "body.h"
#include "buf.h"
#include "channel.h"
#include "config.h"
#include "dsn.h"
#include "envelope.h"
#include "home.h"
#include "log.h"
#include "record.h"
#include "spool.h"
#include "stage.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define USAGE "deliver-bounce [-d DIR]"
/* The id is the second field of every record (envelope_write). */
#define BOUNCE_RECORD_PEEK_BYTES 256

struct bounce_ctx {
	struct mail_config cfg;
	struct stage_batch notices;   /* written over the jobs' body links */
	int loaded;
};

/* A job's notice, from work to flush (job->data). */
struct bounce_notice {
	char id[SPOOL_ID_MAX_BYTES];
	char *to;                     /* its recipient */
	const char *drop;             /* not sent: why */
};

static void bounce_open(void *opaque, struct stage_run *run)
{
	struct bounce_ctx *b = opaque;

	mail_config_defaults(&b->cfg);
	xmail_config_load(&b->cfg);
	stage_run_configure(run, &b->cfg);
	b->loaded = 1;
}

/* The queue id in the record at the start of the job's body, or "" when it
 * cannot be read.  1 ok, 0 errno. */
static int bounce_body_id(int fd, char *id, size_t size)
{
	char data[BOUNCE_RECORD_PEEK_BYTES + 1];
	struct record_reader r;
	const char *value;
	ssize_t n;
	char tag;

	id[0] = 0;
	do
		n = pread(fd, data, BOUNCE_RECORD_PEEK_BYTES, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return 0;
	data[n] = 0;
	record_reader_init(&r, data, (size_t)n);
	while (record_next(&r, &tag, &value) == 1)
		if (tag == 'I') {
			snprintf(id, size, "%s", value);
			break;
		}
	return 1;
}

/* The new message's envelope: from <>, K=dsn (K=dsn2 when it reports the
 * failure of a notice, so a failure of this one is only logged), one
 * recipient. */
static int bounce_envelope(const struct stage_job *job, const struct bounce_notice *n, int eight_bit,
			   struct buf *head)
{
	int to_postmaster = !job->env->sender[0];
	struct envelope e;
	struct envelope_rcpt r;
	int ok;

	envelope_init(&e);
	memset(&r, 0, sizeof r);
	snprintf(e.id, sizeof e.id, "%s", n->id);
	e.arrival = (unsigned long)time(NULL);
	e.sender = "";
	e.protocol = "local";
	e.body = eight_bit ? "8BITMIME" : NULL;
	e.smtputf8 = job->env->smtputf8;
	e.notice = to_postmaster ? "dsn2" : "dsn";
	r.address = n->to;
	r.notify = to_postmaster ? "NEVER" : NULL;
	ok = envelope_add_rcpt(&e, &r) && envelope_write(&e, head);
	envelope_free(&e);
	return ok;
}

/* Composes the notice and writes it to become the job's body link. */
static int bounce_write(struct bounce_ctx *b, struct stage_job *job, struct bounce_notice *n)
{
	struct dsn_params p = { b->cfg.host_name, n->id, b->cfg.max_queue_lifetime_sec, (long long)time(NULL) };
	struct buf head = BUF_INIT, text = BUF_INIT;
	char link[NAME_MAX + 1];
	int eight_bit = 0, ok;

	spool_make_id(n->id);
	ok = (size_t)snprintf(link, sizeof link, "%s-%s", channel_name(CHANNEL_BOUNCE), job->name) < sizeof link
	     && dsn_compose(job->env, job->message, job->message_len, &p, &text, &eight_bit)
	     && bounce_envelope(job, n, eight_bit, &head)
	     && stage_batch_write(&b->notices, SPOOL_BODY_DIR, link, head.data, head.len, text.data, text.len, 0);
	buf_free(&head);
	buf_free(&text);
	return ok;
}

/* Why a job gets no notice, or NULL.  The driver writes none of these;
 * they come from a sysop's hand or an older bbsmail. */
static const char *bounce_drop_reason(const struct envelope *e)
{
	if (e->notice && strcmp(e->notice, "dsn2") == 0)
		return "notice-to-postmaster-failed";
	if (!e->sender[0] && !(e->notice && strcmp(e->notice, "dsn") == 0))
		return "null-sender";
	return NULL;
}

static enum stage_verdict bounce_work(void *opaque, struct stage_job *job)
{
	struct bounce_ctx *b = opaque;
	struct bounce_notice *n = calloc(1, sizeof *n);
	struct buf to = BUF_INIT;

	if (!n)
		return STAGE_LEAVE;
	job->data = n;
	if ((n->drop = bounce_drop_reason(job->env)))
		return STAGE_HOLD;
	if (!dsn_recipient(job->env, b->cfg.host_name, &to) || !(n->to = strdup(to.data)))
		goto leave;
	/* Killed after the notice replaced the body (B3): it only moves on. */
	if (job->body_fd >= 0 && !bounce_body_id(job->body_fd, n->id, sizeof n->id))
		goto leave;
	if (n->id[0] && strcmp(n->id, job->env->id) != 0) {
		buf_free(&to);
		return STAGE_HOLD;
	}
	if (!bounce_write(b, job, n)) {
		log_warn("id=%s event=defer: unable to write the notice: %s", job->name, strerror(errno));
		goto leave;
	}
	buf_free(&to);
	return STAGE_HOLD;
leave:
	buf_free(&to);
	free(n->to);
	free(n);
	job->data = NULL;
	return STAGE_LEAVE;
}

/* Hands one notice on: its body link becomes spool/incoming/<id>, never
 * over another message.  1 ok, 0 errno. */
static int bounce_hand_on(struct stage_job *job, const struct bounce_notice *n)
{
	char from[PATH_MAX], to[PATH_MAX], rel[PATH_MAX];

	if (!body_path(from, sizeof from, channel_name(CHANNEL_BOUNCE), job->name)
	    || (size_t)snprintf(rel, sizeof rel, "%s/%s", SPOOL_INCOMING_DIR, n->id) >= sizeof rel
	    || !home_path(to, sizeof to, rel))
		return 0;
	if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) != 0)
		return 0;
	/* The link is gone with the rename: the driver must not drop it. */
	close(job->body_fd);
	job->body_fd = -1;
	return 1;
}

static void bounce_report(struct stage_job *job, const struct bounce_notice *n)
{
	struct buf to = BUF_INIT;
	size_t i;

	for (i = 0; i < job->env->rcpt_count; i++) {
		if (n->drop) {
			stage_report_done(job, i, "bounce", "dropped", "reason=%s", n->drop);
			continue;
		}
		buf_truncate(&to, 0);
		if (!log_quote(&to, n->to, strlen(n->to)) || !buf_catc(&to, 0))
			die_nomem();
		stage_report_done(job, i, "bounce", "notified", "notice=%s to=%s", n->id, to.data);
	}
	buf_free(&to);
}

static int bounce_record_sent(struct stage_job **jobs, size_t count)
{
	const char **names = calloc(count ? count : 1, sizeof *names);
	size_t i, n = 0;
	int ok;

	if (!names)
		return 0;
	for (i = 0; i < count; i++) {
		const struct bounce_notice *notice = jobs[i]->data;
		if (notice && !notice->drop)
			names[n++] = jobs[i]->name;
	}
	ok = stage_notices_record(names, n);
	free(names);
	return ok;
}

/* Makes the batch's notices durable in place of the bodies, hands each
 * on, and makes those entries durable before the driver retires a job. */
static int bounce_flush(void *opaque, struct stage_job **jobs, size_t count)
{
	struct bounce_ctx *b = opaque;
	struct stage_dirs dirs = STAGE_DIRS_INIT;
	char incoming[PATH_MAX];
	size_t i, moved = 0;
	int ok = stage_batch_sync(&b->notices) && home_path(incoming, sizeof incoming, SPOOL_INCOMING_DIR)
		 && stage_dirs_add(&dirs, incoming);

	/* Recorded before they are handed on, and made durable with them by
	 * the syncfs below (stage.h: a rerun of the stage that wrote a job
	 * must not write it again). */
	if (ok && !bounce_record_sent(jobs, count))
		log_warn("event=notices-sent: unable to record the notices handed on: %s", strerror(errno));
	for (i = 0; ok && i < count; i++) {
		struct bounce_notice *n = jobs[i]->data;
		if (n && !n->drop && !(ok = bounce_hand_on(jobs[i], n)))
			log_warn("id=%s event=defer: unable to move the notice %s into incoming: %s", jobs[i]->name,
				 n->id, strerror(errno));
		else if (n && !n->drop)
			moved++;
	}
	if (moved && !stage_dirs_sync(&dirs))
		ok = 0;
	stage_dirs_free(&dirs);
	for (i = 0; i < count; i++) {
		struct bounce_notice *n = jobs[i]->data;
		if (n && ok)
			bounce_report(jobs[i], n);
		if (n)
			free(n->to);
		free(n);
		jobs[i]->data = NULL;
	}
	if (moved)
		spool_poke_trigger();
	return ok;
}

static const struct stage_ops bounce_ops = {
	.channel_id = CHANNEL_BOUNCE,
	.needs_message = 1,
	.open = bounce_open,
	.work = bounce_work,
	.flush = bounce_flush,
};

int main(int argc, char **argv)
{
	struct bounce_ctx b;
	int code;

	log_set_program("deliver-bounce");
	xstage_parse_args(argc, argv, USAGE);
	memset(&b, 0, sizeof b);
	code = stage_run(&bounce_ops, &b);
	stage_batch_free(&b.notices);
	return code;
}
