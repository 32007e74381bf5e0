/* deliver-board: posts each job of spool/queue/board/ (written by route;
 * each recipient's target is a sub-board code) into the board's JAM
 * message base (deliver-board(8), boards.cfg(5), spool(5) "J" states).
 * A rerun after a crash finds its own earlier post by the job name kept
 * in a kludge, so a message is posted once. */
#include "board.h"
#include "post.h"
#include "buf.h"
#include "channel.h"
#include "config.h"
#include "envelope.h"
#include "home.h"
#include "jam.h"
#include "log.h"
#include "stage.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define USAGE "deliver-board [-d DIR]"
#define JOB_KLUDGE "BBSMAIL-JOB: "
/* A rerun looks this far back for its own post: other writers may have
 * appended after the crash. */
#define RERUN_SEARCH_MAX 1024

/* A post built by work and written by flush, with the batch's other posts
 * to the same board. */
struct pending_post {
	struct stage_job *job;
	size_t rcpt;
	const struct board *board;
	struct jam_message message;
};

struct board_ctx {
	struct mail_config cfg;
	struct board_list boards;
	struct pending_post *pending;   /* at most one per recipient of the batch */
	size_t pending_count, pending_size;
};

static void board_open(void *opaque, struct stage_run *run)
{
	struct board_ctx *c = opaque;
	char text[PATH_MAX + 160];

	mail_config_defaults(&c->cfg);
	xmail_config_load(&c->cfg);
	stage_run_configure(run, &c->cfg);
	if (!board_list_load(&c->boards, text, sizeof text))
		die_temp("%s", text);
}

static const char *board_charset(const struct board_ctx *c, const struct board *b)
{
	return b->charset[0] ? b->charset : c->cfg.default_charset[0] ? c->cfg.default_charset : "CP437";
}

/* JAM dates are seconds since 1970 in local time. */
static uint32_t jam_local_time(long long t)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (t < 0 || !localtime_r(&tt, &tm))
		return 0;
	return (uint32_t)(t + tm.tm_gmtoff);
}

static int add_string(struct jam_message *m, unsigned id, const char *s)
{
	return jam_message_add(m, id, s, strlen(s));
}

static int add_kludgef(struct jam_message *m, const char *fmt, const char *arg)
{
	struct buf k = BUF_INIT;
	int ok = buf_catf(&k, fmt, arg) && jam_message_add(m, JAM_SF_FTSKLUDGE, k.data, k.len);
	buf_free(&k);
	return ok;
}

/* "<id@host>" -> "id@host" (JAM's MSGID and REPLYID carry no brackets). */
static const char *strip_angles(struct buf *b)
{
	if (b->len >= 2 && b->data[0] == '<' && b->data[b->len - 1] == '>') {
		b->data[--b->len] = 0;
		buf_drop_front(b, 1);
	}
	return b->data ? b->data : "";
}

static int tz_kludge(struct jam_message *m)
{
	char tz[40];
	struct tm tm;
	time_t now = time(NULL);
	long off;

	localtime_r(&now, &tm);
	off = tm.tm_gmtoff / 60;
	snprintf(tz, sizeof tz, "%s%02ld%02ld", off < 0 ? "-" : "", labs(off) / 60, labs(off) % 60);
	return add_string(m, JAM_SF_TZUTCINFO, tz);
}

/* The JAM message of a post. */
static int build_message(struct post *p, const struct stage_job *job, const char *charset, struct jam_message *m)
{
	const char *msgid = strip_angles(&p->message_id), *reply = strip_angles(&p->in_reply_to);
	long long now = (long long)time(NULL);

	m->date_written = jam_local_time(p->date >= 0 ? p->date : (long long)job->env->arrival);
	m->date_received = m->date_processed = jam_local_time(now);
	m->attribute = JAM_ATTR_LOCAL;
	m->msgid_crc = *msgid ? jam_crc(msgid, strlen(msgid)) : 0xffffffffu;
	m->reply_crc = *reply ? jam_crc(reply, strlen(reply)) : 0xffffffffu;
	m->password_crc = 0xffffffffu;
	if (!add_string(m, JAM_SF_SENDERNAME, p->from_name.data ? p->from_name.data : "")
	    || !add_string(m, JAM_SF_RECEIVERNAME, "All")
	    || !add_string(m, JAM_SF_SUBJECT, p->subject.data ? p->subject.data : "")
	    || (*msgid && !add_string(m, JAM_SF_MSGID, msgid)) || (*reply && !add_string(m, JAM_SF_REPLYID, reply))
	    || !add_string(m, JAM_SF_PID, "bbsmail") || !tz_kludge(m)
	    || (p->from_address.len && !add_kludgef(m, "REPLYADDR %s", p->from_address.data))
	    || !add_kludgef(m, "CHRS: %s 2", charset) || !add_kludgef(m, JOB_KLUDGE "%s", job->name))
		return 0;
	return buf_copy(&m->text, p->text.data ? p->text.data : "", p->text.len);
}

/* 1 when one of the last messages carries this job's kludge, 0 not, -1
 * error. */
static int find_own_post(struct jam_base *base, const char *job_name, uint32_t *number)
{
	struct jam_message m;
	uint32_t count, i, seen = 0;
	size_t want = strlen(JOB_KLUDGE) + strlen(job_name), k;
	int r, found = 0;

	if (!jam_index_count(base, &count))
		return -1;
	jam_message_init(&m);
	for (i = count; i > 0 && seen < RERUN_SEARCH_MAX && !found; i--, seen++) {
		r = jam_read_message(base, i - 1, &m);
		if (r < 0)
			continue;   /* another writer's damaged record is not ours */
		for (k = 0; r > 0 && k < m.subfield_count && !found; k++) {
			const struct jam_subfield *s = &m.subfields[k];
			const char *d = m.subfield_data.data + s->offset;
			found = s->lo_id == JAM_SF_FTSKLUDGE && s->len == want
				&& memcmp(d, JOB_KLUDGE, strlen(JOB_KLUDGE)) == 0
				&& memcmp(d + strlen(JOB_KLUDGE), job_name, strlen(job_name)) == 0;
		}
		if (found)
			*number = m.message_number;
	}
	jam_message_free(&m);
	return found;
}

/* mkdir -p of the directories above <home>/<base>. */
static int make_base_dirs(const char *base)
{
	char path[PATH_MAX], *slash;

	if (!home_path(path, sizeof path, base))
		return 0;
	for (slash = strchr(path + strlen(home_dir()) + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = 0;
		if (!stage_mkdir(path))
			return 0;
		*slash = '/';
	}
	return 1;
}

/* Posts into the base (or finds the earlier post).  1 ok (*again set when
 * it was there already), 0 errno. */
static int post_into(const struct board *b, const struct stage_job *job, struct jam_message *m, uint32_t *number,
		     int *again)
{
	struct jam_base base;
	char path[PATH_MAX];
	int ok = 0, found = 0;

	*again = 0;
	if (!make_base_dirs(b->base) || !home_path(path, sizeof path, b->base) || !jam_open(&base, path, 1))
		return 0;
	if (!jam_lock(&base))
		goto out;
	if (job->retry && (found = find_own_post(&base, job->name, number)) < 0)
		goto unlock;
	if (found)
		/* Killed after the index record: the base header may lag by one. */
		ok = jam_recount(&base), *again = 1;
	else if ((ok = jam_append(&base, m, "All")))
		*number = m->message_number;
unlock:
	jam_unlock(&base);
out:
	jam_close(&base);
	return ok;
}

/* Keeps m for flush.  1 ok, 0 errno. */
static int pending_add(struct board_ctx *c, struct stage_job *job, size_t i, const struct board *b,
		       struct jam_message *m)
{
	if (c->pending_count == c->pending_size) {
		size_t size = c->pending_size ? 2 * c->pending_size : 64;
		struct pending_post *p = realloc(c->pending, size * sizeof *p);
		if (!p)
			return 0;
		c->pending = p, c->pending_size = size;
	}
	c->pending[c->pending_count++] = (struct pending_post){ job, i, b, *m };
	return 1;
}

/* A job that was tried before may be in the base already: it is posted
 * at once, under the lock that its search takes.  The others wait for
 * flush, which appends each board's posts together. */
static void post_recipient(struct board_ctx *c, struct stage_job *job, size_t i)
{
	const struct board *b = board_find(&c->boards, job->env->rcpt[i].target);
	struct post p;
	struct jam_message m;
	uint32_t number = 0;
	int again, kept = 0;

	if (!b) {
		stage_report_failure(job, i, 0, 550, "5.1.1", "sub:%s: no such sub-board", job->env->rcpt[i].target);
		return;
	}
	if (b->max_bytes && job->message_len > b->max_bytes) {
		stage_report_failure(job, i, 0, 552, "5.3.4", "message too big for sub-board %s", b->code);
		return;
	}
	post_init(&p);
	jam_message_init(&m);
	if (!post_from_message(&p, job->message, job->message_len, board_charset(c, b))
	    || !build_message(&p, job, board_charset(c, b), &m))
		stage_report_errno(job, i, errno, "unable to make the post for %s", b->code);
	else if (!job->retry)
		kept = pending_add(c, job, i, b, &m) || (stage_report_errno(job, i, errno, "unable to queue the post"), 0);
	else if (!post_into(b, job, &m, &number, &again))
		stage_report_errno(job, i, errno, "unable to post to %s", b->base);
	else
		stage_report_done(job, i, "board", again ? "already-posted" : "posted", "board=%s number=%lu", b->code,
				  (unsigned long)number);
	if (!kept)
		jam_message_free(&m);
	post_free(&p);
}

static enum stage_verdict board_work(void *opaque, struct stage_job *job)
{
	struct board_ctx *c = opaque;
	const struct envelope *e = job->env;
	size_t i, j;

	for (i = 0; i < e->rcpt_count; i++)
		if (!e->rcpt[i].channel || strcmp(e->rcpt[i].channel, "board") != 0 || !e->rcpt[i].target
		    || !board_code_valid(e->rcpt[i].target)) {
			job->why = "job holds a recipient that is not a sub-board";
			return STAGE_QUARANTINE;
		}
	for (i = 0; i < e->rcpt_count; i++) {
		for (j = 0; j < i && strcasecmp(e->rcpt[j].target, e->rcpt[i].target) != 0; j++)
			;
		if (j < i)
			stage_report_done(job, i, "board", "duplicate", "board=%s", e->rcpt[i].target);
		else
			post_recipient(c, job, i);
	}
	return STAGE_HOLD;
}

/* Appends the posts of c->pending[first..] that go to its board, in one
 * jam_append_batch, and reports each. */
static void post_board_batch(struct board_ctx *c, size_t first, struct jam_message **msgs)
{
	const struct board *b = c->pending[first].board;
	struct jam_base base;
	char path[PATH_MAX];
	size_t i, n = 0;
	int ok = 0, err;

	for (i = first; i < c->pending_count; i++)
		if (c->pending[i].board == b)
			msgs[n++] = &c->pending[i].message;
	if (make_base_dirs(b->base) && home_path(path, sizeof path, b->base) && jam_open(&base, path, 1)) {
		if (jam_lock(&base)) {
			ok = jam_append_batch(&base, msgs, n, "All");
			jam_unlock(&base);
		}
		jam_close(&base);
	}
	err = errno;
	for (i = first; i < c->pending_count; i++) {
		struct pending_post *p = &c->pending[i];
		if (p->board != b)
			continue;
		if (ok)
			stage_report_done(p->job, p->rcpt, "board", "posted", "board=%s number=%lu", b->code,
					  (unsigned long)p->message.message_number);
		else
			stage_report_errno(p->job, p->rcpt, err, "unable to post to %s", b->base);
		p->board = NULL;   /* done */
	}
}

/* The retried posts were durable as they were written (jam_append); the
 * rest are appended here, one batch per board. */
static int board_flush(void *opaque, struct stage_job **jobs, size_t count)
{
	struct board_ctx *c = opaque;
	struct jam_message **msgs;
	size_t i;

	(void)jobs, (void)count;
	if (!c->pending_count)
		return 1;
	msgs = malloc(c->pending_count * sizeof *msgs);
	for (i = 0; i < c->pending_count; i++)
		if (c->pending[i].board) {
			if (msgs)
				post_board_batch(c, i, msgs);
			else
				stage_report_errno(c->pending[i].job, c->pending[i].rcpt, ENOMEM, "unable to post");
		}
	for (i = 0; i < c->pending_count; i++)
		jam_message_free(&c->pending[i].message);
	c->pending_count = 0;
	free(msgs);
	return 1;
}

static const struct stage_ops board_ops = {
	.channel_id = CHANNEL_BOARD,
	.needs_message = 1,
	.open = board_open,
	.work = board_work,
	.flush = board_flush,
};

int main(int argc, char **argv)
{
	struct board_ctx c;
	int code;

	log_set_program("deliver-board");
	xstage_parse_args(argc, argv, USAGE);
	memset(&c, 0, sizeof c);
	code = stage_run(&board_ops, &c);
	board_list_free(&c.boards);
	free(c.pending);
	return code;
}
