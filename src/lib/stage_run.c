/* stage_run: the one loop of every spool stage (stage.h).  The order of
 * its steps is what keeps invariant 2 ("an input goes only after all it
 * produced is durable") and the body's reference count (body.h) right
 * after a crash at any point: see spool(5), "STATE TABLE". */
#include "stage.h"
#include "body.h"
#include "buf.h"
#include "channel.h"
#include "config.h"
#include "envelope.h"
#include "home.h"
#include "log.h"
#include "record.h"
#include "schedule.h"
#include "spool.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define STAGE_RECORD_CHUNK_BYTES 8192
#define STAGE_DEFAULT_MAX_ATTEMPTS 50
#define STAGE_REASON_MAX_BYTES 512

static const char *stage_input_channel(const struct stage_run *run)
{
	return run->ops->channel_id ? channel_name(run->ops->channel_id) : NULL;
}

/* Reads a claimed file up to its record's end mark, in chunks, without its
 * message (route needs the record only).  *more says a message follows.
 * 1 ok, 0 errno (EBADMSG: no end mark). */
static int stage_read_record(int fd, struct buf *b, int *more)
{
	size_t record_len;
	off_t off = 0;
	ssize_t r;

	buf_truncate(b, 0);
	for (;;) {
		if (!buf_reserve(b, STAGE_RECORD_CHUNK_BYTES))
			return 0;
		r = pread(fd, b->data + b->len, STAGE_RECORD_CHUNK_BYTES, off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return 0;
		b->len += (size_t)r;
		b->data[b->len] = 0;
		off += r;
		if ((record_len = record_length(b->data, b->len))) {
			*more = record_len < b->len || r == STAGE_RECORD_CHUNK_BYTES;
			b->len = record_len;
			return 1;
		}
		if (r == 0) {
			errno = EBADMSG;
			return 0;
		}
	}
}

/* The message part of a body file: what follows its record.  0 EBADMSG. */
static int stage_body_message(struct stage_job *job, const struct buf *body)
{
	struct record_reader r;
	const char *value;
	char tag;
	int got;

	record_reader_init(&r, body->data, body->len);
	while ((got = record_next(&r, &tag, &value)) == 1)
		;
	if (got < 0)
		return 0;
	job->message = r.pos;
	job->message_len = (size_t)(body->data + body->len - r.pos);
	return 1;
}

static void stage_job_free(struct stage_job *job)
{
	size_t i;

	if (!job)
		return;
	if (job->fd >= 0)
		close(job->fd);
	if (job->body_fd >= 0)
		close(job->body_fd);
	if (job->outcome && job->env) {
		for (i = 0; i < job->env->rcpt_count; i++) {
			free(job->outcome[i].fields);
			free(job->outcome[i].reason);
			free(job->outcome[i].remote_mta);
		}
	}
	free(job->outcome);
	if (job->env)
		envelope_free(job->env);
	free(job->env);
	free((char *)job->name);
	free(job);
}

/* Whether any recipient is deferred: the job gets a deferred copy (or,
 * where the input carries the message, is left for the next pass). */
static int stage_has_deferred(const struct stage_job *job)
{
	size_t i;

	for (i = 0; i < job->env->rcpt_count; i++)
		if (job->outcome[i].kind == STAGE_DEFERRED)
			return 1;
	return 0;
}

static char *stage_vformat(const char *fmt, va_list ap)
{
	char *s = NULL;

	if (!fmt || vasprintf(&s, fmt, ap) < 0)
		return NULL;
	return s;
}

void stage_report_done(struct stage_job *job, size_t i, const char *channel, const char *result,
		       const char *fields, ...)
{
	struct stage_outcome *o = &job->outcome[i];
	va_list ap;

	o->kind = STAGE_DONE;
	o->channel = channel;
	o->result = result;
	free(o->fields);
	va_start(ap, fields);
	o->fields = stage_vformat(fields, ap);
	va_end(ap);
}

/* Keeps a reason fit for a record field and a log line: one line, no
 * control bytes, bounded. */
static char *stage_clean_reason(char *s)
{
	size_t i;

	if (!s)
		return NULL;
	if (strlen(s) > STAGE_REASON_MAX_BYTES)
		s[STAGE_REASON_MAX_BYTES] = 0;
	for (i = 0; s[i]; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			s[i] = ' ';
	return s;
}

static void stage_vfailure(struct stage_job *job, size_t i, int temporary, int code, const char *status,
			   const char *reason, va_list ap)
{
	struct stage_outcome *o = &job->outcome[i];

	o->kind = temporary ? STAGE_DEFERRED : STAGE_FAILED;
	o->code = code;
	snprintf(o->status, sizeof o->status, "%s", status);
	free(o->reason);
	o->reason = stage_clean_reason(stage_vformat(reason, ap));
}

void stage_report_failure(struct stage_job *job, size_t i, int temporary, int code, const char *status,
			  const char *reason, ...)
{
	va_list ap;

	va_start(ap, reason);
	stage_vfailure(job, i, temporary, code, status, reason, ap);
	va_end(ap);
}

void stage_report_remote_mta(struct stage_job *job, size_t i, const char *mta)
{
	struct stage_outcome *o = &job->outcome[i];

	free(o->remote_mta);
	o->remote_mta = mta ? stage_clean_reason(strdup(mta)) : NULL;
}

void stage_run_configure(struct stage_run *run, const struct mail_config *cfg)
{
	run->max_attempts = cfg->max_delivery_attempts;
	run->max_lifetime_sec = cfg->max_queue_lifetime_sec;
	run->delay_warning_sec = cfg->delay_warning_sec;
}

void stage_report_errno(struct stage_job *job, size_t i, int err, const char *what, ...)
{
	int temporary = error_is_temporary(err);
	char *text = NULL;
	va_list ap;

	va_start(ap, what);
	text = stage_vformat(what, ap);
	va_end(ap);
	stage_report_failure(job, i, temporary, temporary ? 451 : 554, temporary ? "4.3.0" : "5.3.0", "%s: %s",
			     text ? text : "?", strerror(err));
	free(text);
}

/* A client-controlled value as one log field (log_quote), "?" when out of
 * memory. */
static const char *stage_quoted(struct buf *b, const char *value)
{
	buf_truncate(b, 0);
	if (!log_quote(b, value, strlen(value)) || !buf_catc(b, 0))
		return "?";
	return b->data;
}

/* One result line per recipient, once the outcome is durable. */
static void stage_log_results(const struct stage_run *run, const struct stage_job *job, const char *extra,
			      const char *extra_done)
{
	const struct envelope *e = job->env;
	unsigned long delay = (unsigned long)run->now > e->arrival ? (unsigned long)run->now - e->arrival : 0;
	static const char *words[] = { "pending", "done", "deferred", "failed" };
	struct buf rcpt = BUF_INIT, reason = BUF_INIT;
	size_t i;

	for (i = 0; i < e->rcpt_count; i++) {
		const struct stage_outcome *o = &job->outcome[i];
		const char *channel = o->channel ? o->channel : stage_input_channel(run);
		const char *result = o->kind == STAGE_DONE && o->result ? o->result : words[o->kind];
		const char *address = stage_quoted(&rcpt, e->rcpt[i].address);

		if (o->kind == STAGE_DEFERRED || o->kind == STAGE_FAILED)
			log_info("id=%s rcpt=%s channel=%s result=%s delay=%lu code=%d status=%s%s reason=%s", job->name,
				 address, channel ? channel : "-", result, delay, o->code, o->status, extra ? extra : "",
				 stage_quoted(&reason, o->reason ? o->reason : ""));
		else
			log_info("id=%s rcpt=%s channel=%s result=%s delay=%lu%s%s%s", job->name, address,
				 channel ? channel : "-", result, delay, o->fields ? " " : "", o->fields ? o->fields : "",
				 extra_done ? extra_done : "");
	}
	buf_free(&rcpt);
	buf_free(&reason);
}

static void stage_open(struct stage_run *run)
{
	char path[PATH_MAX], rel[PATH_MAX];
	int id;

	if (run->opened)
		return;
	run->opened = 1;
	run->max_attempts = STAGE_DEFAULT_MAX_ATTEMPTS;
	if (run->ops->open)
		run->ops->open(run->ctx, run);
	/* A home made by an older bbsmail lacks the newer directories. */
	if (home_path(path, sizeof path, SPOOL_BODY_DIR))
		stage_mkdir(path);
	for (id = CHANNEL_FIRST; id < CHANNEL_END; id++)
		if ((size_t)snprintf(rel, sizeof rel, "%s/%s", SPOOL_QUEUE_DIR, channel_name(id)) < sizeof rel
		    && home_path(path, sizeof path, rel))
			stage_mkdir(path);
}

/* Quarantines the input (and its body link, so the sysop has the message). */
static void stage_quarantine(struct stage_run *run, struct stage_job *job, const char *why)
{
	char body[PATH_MAX];

	log_error("id=%s event=quarantine reason=%s", job->name, why);
	spool_quarantine(job->path, why);
	stage_input_unmark(job->name, job->foreign);
	if (stage_input_channel(run) && body_path(body, sizeof body, stage_input_channel(run), job->name)
	    && access(body, F_OK) == 0)
		spool_quarantine(body, why);
}

/* The job's message from its body link.  1 ready, 0 handled here. */
static int stage_load_body(struct stage_run *run, struct stage_job *job, struct buf *body)
{
	const char *channel = stage_input_channel(run);
	size_t i;

	job->body_fd = body_open(channel, job->name, body);
	if (job->body_fd >= 0 && stage_body_message(job, body))
		return 1;
	if (job->body_fd >= 0) {
		stage_quarantine(run, job, "malformed-body");
		return 0;
	}
	if (errno != ENOENT) {
		log_warn("id=%s event=defer: unable to read its body: %s", job->name, strerror(errno));
		run->temporary_failures++;
		return 0;
	}
	if (!job->retry) {
		stage_quarantine(run, job, "no-body");
		return 0;
	}
	/* A body link goes only after the job's work is durable, so a job
	 * that an earlier run marked and whose body is gone is finished: that
	 * run died between dropping the link and retiring the record. */
	for (i = 0; i < job->env->rcpt_count; i++)
		stage_report_done(job, i, channel, "already-delivered", NULL);
	if (spool_retire(job->path)) {
		stage_input_unmark(job->name, job->foreign);
		stage_log_results(run, job, NULL, NULL);
	}
	return 0;
}

/* Loads the record, and the message when the stage wants it.  Returns 1
 * ready, 0 handled here (quarantined, left, or finished earlier). */
static int stage_load(struct stage_run *run, struct stage_job *job, struct buf *body)
{
	const char *channel = stage_input_channel(run);
	struct buf *storage = &job->env->storage;
	int ok, more = 0;

	ok = run->ops->needs_message ? file_read_fd(job->fd, storage) : stage_read_record(job->fd, storage, &more);
	if (ok && !envelope_parse(job->env))
		ok = 0;
	if (!ok) {
		if (errno == EBADMSG) {
			stage_quarantine(run, job, "malformed-envelope");
		} else {
			log_warn("id=%s event=defer: unable to read %s: %s", job->name, job->path, strerror(errno));
			run->temporary_failures++;
		}
		return 0;
	}
	job->message_inline = more || job->env->message_len > 0;
	if (!(job->outcome = calloc(job->env->rcpt_count, sizeof *job->outcome))) {
		log_warn("id=%s event=defer: %s", job->name, strerror(ENOMEM));
		run->temporary_failures++;
		return 0;
	}
	/* Jobs always get their body: its link is dropped at retiring. */
	if (!run->ops->needs_message && !channel)
		return 1;
	if (job->message_inline || !channel) {
		job->message = job->env->message;
		job->message_len = job->env->message_len;
		return 1;
	}
	return stage_load_body(run, job, body);
}

static void stage_flush(struct stage_run *run);

/* Claims one input and hands it to the stage. */
static void stage_take(struct stage_run *run, const char *dir, const char *name)
{
	struct stage_job *job = calloc(1, sizeof *job);
	struct buf body = BUF_INIT;
	enum stage_verdict verdict;

	if (!job || !(job->name = strdup(name)) || !(job->env = calloc(1, sizeof *job->env))) {
		stage_job_free(job);
		run->temporary_failures++;
		return;
	}
	job->fd = job->body_fd = -1;
	if ((size_t)snprintf(job->path, sizeof job->path, "%s/%s", dir, name) >= sizeof job->path
	    || (job->fd = stage_claim(job->path)) < 0) {
		stage_job_free(job);    /* gone, or another process holds it */
		return;
	}
	stage_open(run);
	job->retry = stage_input_was_attempted(job->fd, name, &job->foreign);
	if (!job->retry && !stage_input_mark(job->fd, name, job->foreign))
		log_warn("id=%s: unable to mark %s: %s", name, job->path, strerror(errno));
	if (!stage_load(run, job, &body)) {
		buf_free(&body);
		stage_job_free(job);
		return;
	}
	verdict = run->ops->work(run->ctx, job);
	/* The stage has written what it needs; the message is not kept. */
	buf_free(&body);
	job->message = NULL;
	job->message_len = 0;
	if (verdict == STAGE_QUARANTINE)
		stage_quarantine(run, job, job->why ? job->why : "unusable");
	if (verdict != STAGE_HOLD) {
		if (verdict == STAGE_LEAVE)
			run->temporary_failures++;
		stage_job_free(job);
		return;
	}
	run->held[run->held_count++] = job;
	if (run->held_count == STAGE_RUN_BATCH_MAX)
		stage_flush(run);
}

/* The notices a job's outcomes can call for (RFC 3461 §4.1, RFC 3464):
 * each is a job in spool/queue/bounce/ for the DSN writer. */
enum stage_notice_kind { NOTICE_FAILED, NOTICE_DELAYED, NOTICE_SUCCESS };

/* Whether recipient i belongs in a notice of this kind. */
static int stage_notice_covers(const struct stage_run *run, const struct stage_job *job, size_t i,
			       enum stage_notice_kind kind)
{
	const struct stage_outcome *o = &job->outcome[i];
	const char *notify = job->env->rcpt[i].notify;

	switch (kind) {
	case NOTICE_FAILED:
		return o->kind == STAGE_FAILED && envelope_notify_wants(notify, "FAILURE");
	case NOTICE_DELAYED:
		return o->kind == STAGE_DEFERRED && run->delay_warning_sec && !job->env->delay_warned
		       && (unsigned long)run->now >= job->env->arrival + run->delay_warning_sec
		       && envelope_notify_wants(notify, "DELAY");
	case NOTICE_SUCCESS:
		return o->kind == STAGE_DONE && o->result
		       && (strcmp(o->result, "delivered") == 0 || strcmp(o->result, "relayed") == 0)
		       && envelope_notify_wants(notify, "SUCCESS");
	}
	return 0;
}

/* A copy of the job's record with the deferred recipients (deferred set:
 * the deferred copy) or those a notice of that kind covers, each carrying
 * its outcome: status, code, reason and remote MTA.  The codes are written into codes (one 8-byte slot a
 * recipient).  1 ok, 0 ENOMEM. */
static int stage_subset(const struct stage_run *run, const struct stage_job *job, int deferred,
			enum stage_notice_kind kind, struct envelope *out, char (*codes)[8])
{
	size_t i;

	*out = *job->env;
	out->rcpt = NULL;
	out->rcpt_count = 0;
	memset(&out->storage, 0, sizeof out->storage);
	for (i = 0; i < job->env->rcpt_count; i++) {
		const struct stage_outcome *o = &job->outcome[i];
		struct envelope_rcpt r = job->env->rcpt[i];
		if (deferred ? o->kind != STAGE_DEFERRED : !stage_notice_covers(run, job, i, kind))
			continue;
		if (o->kind != STAGE_DONE) {
			snprintf(codes[out->rcpt_count], sizeof codes[0], "%d", o->code);
			r.status = o->status;
			r.code = codes[out->rcpt_count];
			r.diagnostic = o->reason ? o->reason : "";
			r.remote_mta = o->remote_mta;
		} else {
			r.status = "2.0.0";
			r.code = "250";
			r.diagnostic = NULL;
			r.remote_mta = o->remote_mta;
		}
		r.action = deferred || kind == NOTICE_FAILED ? NULL
			   : kind == NOTICE_DELAYED	     ? "delayed"
			   : strcmp(o->result, "relayed") == 0 ? "relayed"
							       : "delivered";
		if (!envelope_add_rcpt(out, &r)) {
			free(out->rcpt);
			out->rcpt = NULL;
			return 0;
		}
	}
	return 1;
}

/* mark: the record carries the attempt mark (a deferred copy: if its body
 * is gone when it is tried again, the original finished meanwhile). */
static int stage_write_record(struct stage_run *run, const struct envelope *e, const char *dir, const char *name,
			      int mark)
{
	struct buf head = BUF_INIT;
	int ok = envelope_write(e, &head)
		 && stage_batch_write(&run->outputs, dir, name, head.data, head.len, NULL, 0, mark);

	buf_free(&head);
	return ok;
}

/* The message of a job, for linking: the input itself when it carries the
 * message, else its body link. */
static void stage_body_source(const struct stage_run *run, const struct stage_job *job, char *out, size_t size)
{
	if (job->message_inline || !stage_input_channel(run))
		snprintf(out, size, "%s", job->path);
	else
		body_path(out, size, stage_input_channel(run), job->name);
}

static int stage_notices_path(char *out, size_t size)
{
	return home_path(out, size, STAGE_NOTICES_SENT_FILE);
}

int stage_notice_was_sent(const char *name)
{
	struct buf log = BUF_INIT;
	char path[PATH_MAX];
	const char *p;
	size_t n = strlen(name);
	int found = 0;

	if (!stage_notices_path(path, sizeof path) || !file_read_path(path, &log) || !buf_catc(&log, 0)) {
		buf_free(&log);
		return 0;
	}
	for (p = log.data; !found && (p = strstr(p, name)); p += n)
		found = p > log.data && p[-1] == ' ' && p[n] == '\n';
	buf_free(&log);
	return found;
}

/* Keeps the entries of the last STAGE_NOTICES_KEEP_SEC (fd is locked). */
static void stage_notices_prune(int fd, const char *path, time_t now)
{
	struct buf old = BUF_INIT, kept = BUF_INIT;
	char tmp[PATH_MAX];
	const char *p, *end;
	int out;

	if (!file_read_fd(fd, &old) || (size_t)snprintf(tmp, sizeof tmp, "%s.new", path) >= sizeof tmp)
		goto done;
	for (p = old.data, end = p + old.len; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			break;
		if (strtoul(p, NULL, 10) + STAGE_NOTICES_KEEP_SEC >= (unsigned long)now
		    && !buf_cat(&kept, p, (size_t)(nl - p) + 1))
			goto done;
		p = nl + 1;
	}
	if ((out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
		goto done;
	if (file_write_all(out, kept.data, kept.len) && close(out) == 0)
		rename(tmp, path);
	else
		unlink(tmp);
done:
	buf_free(&old);
	buf_free(&kept);
}

static int stage_notices_append(const char *path, const struct buf *lines, int may_prune, time_t now)
{
	struct stat st;
	int fd, ok;

	if ((fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600)) < 0)
		return 0;
	ok = flock(fd, LOCK_EX) == 0;
	/* Pruned when it grows: a rename, so the lines go to the new file
	 * (once: a file of recent entries only is not pruned again). */
	if (ok && may_prune && fstat(fd, &st) == 0 && st.st_size > 256 * 1024) {
		stage_notices_prune(fd, path, now);
		close(fd);
		return stage_notices_append(path, lines, 0, now);
	}
	ok = ok && file_write_all(fd, lines->data, lines->len);
	ok = close(fd) == 0 && ok;
	return ok;
}

int stage_notices_record(const char *const *names, size_t count)
{
	struct buf lines = BUF_INIT;
	char path[PATH_MAX];
	time_t now = time(NULL);
	size_t i;
	int ok;

	for (i = 0; i < count; i++)
		if (!buf_catf(&lines, "%lu %s\n", (unsigned long)now, names[i])) {
			buf_free(&lines);
			return 0;
		}
	ok = !count || (stage_notices_path(path, sizeof path) && stage_notices_append(path, &lines, 1, now));
	buf_free(&lines);
	return ok;
}

/* One notice job for the DSN writer (deliver-bounce(8)), with its own body
 * link, named <job>.<b|d|s><attempts>-<input channel>.  Never for a
 * message from <> (RFC 5321 §6.1), except that a failed notice of our own goes to the
 * postmaster once (the DSN writer addresses it).  note gets the log
 * field.  1 ok (or nothing to write), 0 errno. */
static int stage_notice(struct stage_run *run, struct stage_job *job, enum stage_notice_kind kind, char *note,
			size_t note_size)
{
	static const char letter[] = { 'b', 'd', 's' };
	static const char *const field[] = { "bounce", "delay-notice", "success-notice" };
	char name[NAME_MAX + 1], source[PATH_MAX], (*codes)[8];
	struct envelope copy;
	int ok = 1, from_null = !job->env->sender[0];

	if (from_null && (kind != NOTICE_FAILED || !job->env->notice || strcmp(job->env->notice, "dsn") != 0)) {
		size_t i;
		for (i = 0; kind == NOTICE_FAILED && i < job->env->rcpt_count; i++)
			if (job->outcome[i].kind == STAGE_FAILED) {
				snprintf(note, note_size, " bounce=none");
				break;
			}
		return 1;
	}
	if (!(codes = calloc(job->env->rcpt_count, sizeof *codes)))
		return 0;
	if (!stage_subset(run, job, 0, kind, &copy, codes)) {
		free(codes);
		return 0;
	}
	if (copy.rcpt_count) {
		/* The input channel in the name: route's input and every channel's
		 * job of one message share the message's name. */
		if ((size_t)snprintf(name, sizeof name, "%s.%c%lu-%s", job->name, letter[kind], job->env->attempts,
				     stage_input_channel(run) ? stage_input_channel(run) : "incoming")
		    >= sizeof name) {
			free(copy.rcpt);
			free(codes);
			errno = ENAMETOOLONG;
			return 0;
		}
		if (job->retry && stage_notice_was_sent(name)) {
			/* An attempt killed after writing it again (S2a) left its
			 * tmp file, which no later attempt writes over. */
			if (!stage_discard_leftover(SPOOL_QUEUE_DIR "/bounce", name))
				log_warn("id=%s unable to remove the leftover of %s: %s", job->name, name, strerror(errno));
			snprintf(note, note_size, " %s=%.160s(sent-before)", field[kind], name);
			free(copy.rcpt);
			free(codes);
			return 1;
		}
		stage_body_source(run, job, source, sizeof source);
		ok = body_link(source, "bounce", name) && stage_write_record(run, &copy, SPOOL_QUEUE_DIR "/bounce", name, 0);
		snprintf(note, note_size, " %s=%.160s", field[kind], name);
		if (ok && home_path(source, sizeof source, SPOOL_BODY_DIR))
			ok = stage_dirs_add(&run->outputs.dirs, source);
	}
	free(copy.rcpt);
	free(codes);
	return ok;
}

/* Recipients deferred too often or too long fail; the rest go to a bucket
 * with the same job name, so they keep the job's body link.  Each carries
 * its last reply (mailq(1) shows it).  A delay notice goes out once, when
 * a copy has waited DelayWarningTime. */
static int stage_defer(struct stage_run *run, struct stage_job *job, char *next, size_t next_size)
{
	struct envelope copy;
	char bucket[PATH_MAX], (*codes)[8], notice[200] = "";
	unsigned long attempts = job->env->attempts + 1, delay;
	unsigned long age = (unsigned long)run->now > job->env->arrival ? (unsigned long)run->now - job->env->arrival : 0;
	size_t i;
	int ok;

	for (i = 0; i < job->env->rcpt_count; i++) {
		struct stage_outcome *o = &job->outcome[i];
		char *why = NULL;
		int expired = run->max_lifetime_sec && age >= run->max_lifetime_sec;
		/* MaxDeliveryAttempts 0: no limit.  Giving up is permanent: RFC
		 * 3463's X.4.7, "delivery time expired". */
		if (o->kind != STAGE_DEFERRED || (!expired && !(run->max_attempts && attempts >= run->max_attempts)))
			continue;
		o->kind = STAGE_FAILED;
		o->code = 554;
		snprintf(o->status, sizeof o->status, "5.4.7");
		if ((expired ? asprintf(&why, "expired after %lu days in the queue: %s", age / 86400,
					o->reason ? o->reason : "")
			     : asprintf(&why, "gave up after %lu attempts: %s", attempts, o->reason ? o->reason : ""))
		    >= 0) {
			free(o->reason);
			o->reason = stage_clean_reason(why);
		}
	}
	if (!stage_has_deferred(job))
		return 1;
	if (!stage_notice(run, job, NOTICE_DELAYED, notice, sizeof notice))
		return 0;
	if (!(codes = calloc(job->env->rcpt_count, sizeof *codes)))
		return 0;
	if (!stage_subset(run, job, 1, NOTICE_FAILED, &copy, codes)) {
		free(codes);
		return 0;
	}
	delay = schedule_backoff_sec(attempts);
	copy.attempts = attempts;
	copy.last_attempt = (unsigned long)run->now;
	copy.delay_warned = job->env->delay_warned || notice[0];
	ok = schedule_bucket(bucket, sizeof bucket, stage_input_channel(run), run->now + (time_t)delay)
	     && stage_write_record(run, &copy, bucket, job->name, 1);
	snprintf(next, next_size, " attempts=%lu next=%lu%s", attempts, (unsigned long)run->now + delay, notice);
	free(copy.rcpt);
	free(codes);
	return ok;
}

/* Takes the input away once all it produced is durable: the body link
 * first, then the record (so a marked record without a body means
 * "finished", stage_load_body). */
static int stage_retire(struct stage_run *run, struct stage_job *job)
{
	const char *channel = stage_input_channel(run);
	struct stat st;
	int ok;

	/* A deferred copy (same job name) still needs the body link. */
	if (job->body_fd >= 0 && !stage_has_deferred(job)) {
		int fd = job->body_fd;
		job->body_fd = -1;
		if (!body_release(channel, job->name, fd))
			return 0;
	}
	/* An incoming file that jobs link to keeps its blocks for them: its
	 * name alone goes, which costs no block freeing. */
	if (fstat(job->fd, &st) == 0 && st.st_nlink > 1)
		ok = unlink(job->path) == 0;
	else
		ok = spool_retire(job->path);
	if (ok)
		stage_input_unmark(job->name, job->foreign);
	return ok;
}

/* A job file that carries its message is itself a body file (record +
 * message): linking it as the job's body lets its deferred copy be an
 * ordinary record.  1 ok, 0 errno. */
static int stage_adopt_inline(struct stage_run *run, struct stage_job *job)
{
	char dir[PATH_MAX];

	if (!job->message_inline)
		return 1;
	return body_link(job->path, stage_input_channel(run), job->name) && home_path(dir, sizeof dir, SPOOL_BODY_DIR)
	       && stage_dirs_add(&run->outputs.dirs, dir);
}

/* A recipient the stage gave no result for is never taken as done: it is
 * deferred, so a stage's mistake delays mail instead of losing it. */
static void stage_check_reported(struct stage_job *job)
{
	size_t i;

	for (i = 0; i < job->env->rcpt_count; i++)
		if (job->outcome[i].kind == STAGE_PENDING)
			stage_report_failure(job, i, 1, 451, "4.3.0", "no result from the stage");
}

/* Writes each held job's deferred copy and bounce, makes them durable,
 * retires the inputs and logs their results. */
static void stage_settle(struct stage_run *run)
{
	char notes[STAGE_RUN_BATCH_MAX][500], done_notes[STAGE_RUN_BATCH_MAX][200];
	int written[STAGE_RUN_BATCH_MAX], synced;
	size_t i;

	for (i = 0; i < run->held_count; i++) {
		struct stage_job *job = run->held[i];
		char next[256] = "", bounce[200] = "", success[200] = "";
		int leave;

		stage_check_reported(job);
		/* route's input carries the message and is simply tried again
		 * next pass; a job that carries it (written by an older bbsmail)
		 * gets a body link to itself first, then is deferred like any. */
		leave = stage_has_deferred(job) && (!stage_input_channel(run) || !stage_adopt_inline(run, job));
		written[i] = !leave && (!stage_has_deferred(job) || stage_defer(run, job, next, sizeof next))
			     && stage_notice(run, job, NOTICE_FAILED, bounce, sizeof bounce)
			     && stage_notice(run, job, NOTICE_SUCCESS, success, sizeof success);
		snprintf(notes[i], sizeof notes[i], "%s%s", next, bounce);
		snprintf(done_notes[i], sizeof done_notes[i], "%s", success);
		if (!written[i] && !leave)
			log_warn("id=%s event=defer: unable to write its deferred copy or bounce: %s", job->name,
				 strerror(errno));
	}
	synced = stage_batch_sync(&run->outputs);
	if (!synced)
		log_warn("event=defer: unable to make the deferred copies and bounces durable: %s", strerror(errno));
	for (i = 0; i < run->held_count; i++) {
		struct stage_job *job = run->held[i];
		/* Not written or not durable: left as it is for the next run. */
		if (stage_has_deferred(job) || !written[i] || !synced)
			run->temporary_failures++;
		if (written[i] && synced) {
			if (stage_retire(run, job)) {
				stage_log_results(run, job, notes[i], done_notes[i]);
			} else {
				log_warn("id=%s event=defer: unable to retire %s: %s", job->name, job->path,
					 strerror(errno));
				run->temporary_failures++;
			}
		}
		stage_job_free(job);
	}
	run->held_count = 0;
}

static void stage_flush(struct stage_run *run)
{
	size_t i;
	int ok;

	if (!run->held_count)
		return;
	ok = run->ops->flush ? run->ops->flush(run->ctx, run->held, run->held_count) : 1;
	if (!ok) {
		int saved = errno;
		for (i = 0; i < run->held_count; i++) {
			log_warn("id=%s event=defer: unable to make the outputs durable: %s", run->held[i]->name,
				 strerror(saved));
			stage_job_free(run->held[i]);
		}
		run->temporary_failures += (int)run->held_count;
		run->held_count = 0;
		return;
	}
	run->now = time(NULL);
	stage_settle(run);
	/* The retired inputs are the cheapest files for the next writes. */
	spool_trash_rescan();
}

static int stage_scan(struct stage_run *run)
{
	const char *channel = stage_input_channel(run);
	char dir[PATH_MAX], rel[PATH_MAX];
	struct dirent *d;
	DIR *dh;

	if (channel)
		snprintf(rel, sizeof rel, "%s/%s", SPOOL_QUEUE_DIR, channel);
	else
		snprintf(rel, sizeof rel, "%s", SPOOL_INCOMING_DIR);
	if (!home_path(dir, sizeof dir, rel)) {
		log_error("unable to open %s: %s", rel, strerror(errno));
		return 0;
	}
	if (channel && schedule_release_due(channel, run->now) < 0)
		log_warn("unable to release the deferred %s jobs: %s", channel, strerror(errno));
	if (!(dh = opendir(dir))) {
		log_error("unable to open %s: %s", dir, strerror(errno));
		return 0;
	}
	while ((d = readdir(dh)))
		if (d->d_name[0] != '.')
			stage_take(run, dir, d->d_name);
	stage_flush(run);
	closedir(dh);
	return 1;
}

int stage_run(const struct stage_ops *ops, void *ctx)
{
	struct stage_run run;
	int ok;

	memset(&run, 0, sizeof run);
	run.ops = ops;
	run.ctx = ctx;
	run.now = time(NULL);
	run.held = calloc(STAGE_RUN_BATCH_MAX, sizeof *run.held);
	if (!run.held) {
		log_error("unable to start: %s", strerror(ENOMEM));
		return EXIT_TEMPORARY;
	}
	ok = stage_scan(&run);
	stage_batch_free(&run.outputs);
	free(run.held);
	return !ok || run.temporary_failures ? EXIT_TEMPORARY : 0;
}
