/* deliver-qwk: queues each job of spool/queue/qwk/ (written by route; each
 * recipient's target is "<route>!<user>") as one QWK netmail message for
 * the route's first hop, in spool/qwk/<ID>/new/ (deliver-qwk(8), spool(5)
 * "Q" states).  The file is the message's QWK blocks, ready for qwk-pack
 * to number and concatenate.  Its name is the job's and the recipient's,
 * so a rerun after a crash finds what it queued before. */
#include "buf.h"
#include "channel.h"
#include "config.h"
#include "envelope.h"
#include "home.h"
#include "log.h"
#include "post.h"
#include "qwk.h"
#include "qwknet.h"
#include "qwkspool.h"
#include "stage.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#define USAGE "deliver-qwk [-d DIR]"
/* QWK text is CP437 by tradition; readers show it so. */
#define QWK_CHARSET "CP437"

struct qwk_ctx {
	struct mail_config cfg;
	struct qwknet net;
	struct stage_batch batch;
};

static void qwk_open(void *opaque, struct stage_run *run)
{
	struct qwk_ctx *c = opaque;
	char text[PATH_MAX + 160];

	mail_config_defaults(&c->cfg);
	xmail_config_load(&c->cfg);
	stage_run_configure(run, &c->cfg);
	if (!qwknet_load(&c->net, text, sizeof text))
		die_temp("%s", text);
}

/* "<id@host>" -> "id@host". */
static const char *strip_angles(struct buf *b)
{
	if (b->len >= 2 && b->data[0] == '<' && b->data[b->len - 1] == '>') {
		b->data[--b->len] = 0;
		buf_drop_front(b, 1);
	}
	return b->data ? b->data : "";
}

/* A QWK user name from the address's user part: '_' stands for a space
 * (qwk-unpack writes names the other way round). */
static int user_name(struct buf *out, const char *user)
{
	const char *p;

	buf_truncate(out, 0);
	for (p = user; *p; p++)
		if (!buf_catc(out, *p == '_' ? ' ' : *p))
			return 0;
	return buf_catc(out, 0) && (out->len--, 1);
}

/* The blocks of the netmail message for target t. */
static int build_blocks(const struct stage_job *job, const struct qwk_target *t, struct buf *blocks)
{
	struct post p;
	struct buf name = BUF_INIT, route = BUF_INIT, msgid_line = BUF_INIT, reply_line = BUF_INIT;
	const char *kludges[3];
	size_t k = 0;
	struct qwk_out m;
	int ok;

	post_init(&p);
	ok = post_from_message(&p, job->message, job->message_len, QWK_CHARSET) && user_name(&name, t->user);
	if (ok && t->rest[0])
		ok = buf_catf(&route, "%s@%s", name.data, t->rest);
	if (ok && p.message_id.len && (ok = buf_catf(&msgid_line, "@MSGID: %s", strip_angles(&p.message_id))))
		kludges[k++] = msgid_line.data;
	if (ok && p.in_reply_to.len && (ok = buf_catf(&reply_line, "@REPLY: %s", strip_angles(&p.in_reply_to))))
		kludges[k++] = reply_line.data;
	kludges[k] = NULL;
	memset(&m, 0, sizeof m);
	m.status = '+';
	m.date = (time_t)(p.date >= 0 ? p.date : (long long)job->env->arrival);
	m.to = t->rest[0] ? "NETMAIL" : name.data;
	m.from = p.from_address.len ? p.from_address.data : *job->env->sender ? job->env->sender : "MAILER-DAEMON";
	m.subject = p.subject.data ? p.subject.data : "";
	m.route_line = t->rest[0] ? route.data : NULL;
	m.kludges = kludges;
	m.conference = QWK_NETMAIL_CONFERENCE;
	m.text = p.text.data ? p.text.data : "";
	m.text_len = p.text.len;
	ok = ok && qwk_message_write(blocks, &m);
	buf_free(&name), buf_free(&route), buf_free(&msgid_line), buf_free(&reply_line);
	post_free(&p);
	return ok;
}

/* 1 when an earlier run queued this name (waiting, in a packet, or packed
 * and fetched), 0 not, -1 error. */
static int queued_before(const char *id, const char *name, int retry)
{
	if (qwkspool_has(id, QWKSPOOL_NEW, name) || qwkspool_has(id, QWKSPOOL_PACKED, name))
		return 1;
	return retry ? qwkspool_log_has(id, name) : 0;
}

static void queue_recipient(struct qwk_ctx *c, struct stage_job *job, size_t i)
{
	const char *target = job->env->rcpt[i].target;
	struct qwk_target t;
	struct buf blocks = BUF_INIT;
	char name[NAME_MAX + 1], dir[PATH_MAX];
	int before;

	qwk_target_split(target, &t);
	if (!qwknet_find_node(&c->net, t.hop) || qwknet_find_node(&c->net, t.hop)->via) {
		stage_report_failure(job, i, 0, 550, "5.1.2", "%s: unknown QWK network node", t.hop);
		return;
	}
	snprintf(name, sizeof name, "%s.q%zu", job->name, i);
	if ((before = queued_before(t.hop, name, job->retry)) < 0)
		stage_report_errno(job, i, errno, "unable to look for %s", name);
	else if (before)
		stage_report_done(job, i, "qwk", "already-queued", "node=%s file=%s", t.hop, name);
	else if (!build_blocks(job, &t, &blocks))
		stage_report_errno(job, i, errno, "unable to make the QWK message");
	else if (!qwkspool_make_dirs(t.hop) || !qwkspool_dir(dir, sizeof dir, t.hop, QWKSPOOL_NEW)
		 || !stage_batch_write(&c->batch, dir, name, blocks.data, blocks.len, NULL, 0, 0))
		stage_report_errno(job, i, errno, "unable to queue for %s", t.hop);
	else
		stage_report_done(job, i, "qwk", "queued", "node=%s file=%s blocks=%zu", t.hop, name,
				  blocks.len / QWK_BLOCK_BYTES);
	buf_free(&blocks);
}

static enum stage_verdict qwk_work(void *opaque, struct stage_job *job)
{
	struct qwk_ctx *c = opaque;
	const struct envelope *e = job->env;
	struct qwk_target t;
	size_t i, j;

	for (i = 0; i < e->rcpt_count; i++)
		if (!e->rcpt[i].channel || strcmp(e->rcpt[i].channel, "qwk") != 0 || !e->rcpt[i].target
		    || !qwk_target_split(e->rcpt[i].target, &t)) {
			job->why = "job holds a recipient that is not a QWK target";
			return STAGE_QUARANTINE;
		}
	for (i = 0; i < e->rcpt_count; i++) {
		for (j = 0; j < i && strcasecmp(e->rcpt[j].target, e->rcpt[i].target) != 0; j++)
			;
		if (j < i)
			stage_report_done(job, i, "qwk", "duplicate", "target=%s", e->rcpt[i].target);
		else
			queue_recipient(c, job, i);
	}
	return STAGE_HOLD;
}

static int qwk_flush(void *opaque, struct stage_job **jobs, size_t count)
{
	struct qwk_ctx *c = opaque;

	(void)jobs, (void)count;
	return stage_batch_sync(&c->batch);
}

static const struct stage_ops qwk_ops = {
	.channel_id = CHANNEL_QWK,
	.needs_message = 1,
	.open = qwk_open,
	.work = qwk_work,
	.flush = qwk_flush,
};

int main(int argc, char **argv)
{
	struct qwk_ctx c;
	int code;

	log_set_program("deliver-qwk");
	xstage_parse_args(argc, argv, USAGE);
	memset(&c, 0, sizeof c);
	code = stage_run(&qwk_ops, &c);
	stage_batch_free(&c.batch);
	qwknet_free(&c.net);
	return code;
}
