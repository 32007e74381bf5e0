/* The listing: spool/incoming/, every spool/queue/<channel>/ and the
 * deferred jobs of spool/defer/<channel>/, one line per file, tab-separated
 *   id  size  age  <sender>  <rcpt> <rcpt> ...  state
 * (addresses never hold a tab: the parser refuses control bytes), then one
 * line per recipient of the file, starting with a tab:
 *   \t<rcpt>\t<state>[ key=value ...]
 * whose values go through log_quote, since a remote server's diagnostic may
 * hold any byte but NUL, CR and LF.  Read-only: no locks, nothing moves. */
#include "mailq.h"
#include "body.h"
#include "channel.h"
#include "envelope.h"
#include "home.h"
#include "log.h"
#include "schedule.h"
#include "spool.h"
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Where a file was found, for its recipients' state. */
struct mailq_place {
	const char *channel;      /* NULL: spool/incoming */
	const char *state;        /* the first line's state column */
	const char *rcpt_state;   /* incoming, queued, deferred, bounce-pending */
	const char *next;         /* deferred: the bucket's time, or NULL */
};

/* "42s", "5m", "3h", "2d": wide enough to read, short enough for a column. */
static void mailq_age(struct buf *out, time_t now, unsigned long arrival)
{
	unsigned long age = (unsigned long)now > arrival ? (unsigned long)now - arrival : 0;

	if (age < 120)
		xbuf_catf(out, "%lus", age);
	else if (age < 2 * 3600)
		xbuf_catf(out, "%lum", age / 60);
	else if (age < 2 * 86400)
		xbuf_catf(out, "%luh", age / 3600);
	else
		xbuf_catf(out, "%lud", age / 86400);
}

/* A job's message is its body link (spool(5)); an incoming file, or a job
 * of an older bbsmail, carries it. */
static long long mailq_size(const struct envelope *e, const char *name, const char *channel)
{
	if (e->message_len || !channel)
		return (long long)e->message_len;
	return body_message_size(channel, name);
}

/* " key=value", the value quoted when it needs it. */
static void mailq_field(struct buf *out, const char *key, const char *value)
{
	xbuf_catf(out, " %s=", key);
	if (!log_quote(out, value, strlen(value)))
		die_nomem();
}

/* "451 4.4.1 text" from a recipient's last failure (r, s, x). */
static void mailq_reply(struct buf *out, const struct envelope_rcpt *r)
{
	struct buf reply = BUF_INIT;

	if (!r->code && !r->status && !r->diagnostic)
		return;
	xbuf_catf(&reply, "%s%s%s%s%s", r->code ? r->code : "", r->code && r->status ? " " : "",
		  r->status ? r->status : "", (r->code || r->status) && r->diagnostic ? " " : "",
		  r->diagnostic ? r->diagnostic : "");
	mailq_field(out, "reply", reply.data);
	buf_free(&reply);
}

/* One line per recipient: its state, and what the record says of it. */
static void mailq_recipients(struct buf *out, const struct envelope *e, const struct mailq_place *p)
{
	size_t i;

	for (i = 0; i < e->rcpt_count; i++) {
		const struct envelope_rcpt *r = &e->rcpt[i];
		xbuf_catf(out, "\t<%s>\t%s", r->address, p->rcpt_state);
		if (r->target && strcmp(r->target, r->address) != 0) {
			xbuf_catf(out, " target=<");
			if (!log_quote(out, r->target, strlen(r->target)))
				die_nomem();
			xbuf_catc(out, '>');
		}
		if (e->attempts)
			xbuf_catf(out, " attempts=%lu", e->attempts);
		if (p->next)
			mailq_field(out, "next", p->next);
		mailq_reply(out, r);
		if (r->remote_mta)
			mailq_field(out, "mta", r->remote_mta);
		xbuf_catc(out, '\n');
	}
}

static void mailq_entry(struct mailq_list *q, const char *path, const char *name, const struct mailq_place *p)
{
	struct envelope e;
	long long size;
	size_t i;

	q->count++;
	if (p->channel && strcmp(p->channel, "remote") == 0)
		q->remote++;
	if (q->count_only)
		return;
	buf_truncate(&q->line, 0);
	if (!envelope_load(path, &e)) {
		if (errno == ENOENT)      /* finished while we looked */
			q->count--;
		else
			xbuf_catf(&q->line, "%s\t?\t?\t?\t?\t%s (unreadable: %s)\n", name, p->state, strerror(errno));
		envelope_free(&e);
		if (q->line.len)
			fwrite(q->line.data, 1, q->line.len, stdout);
		return;
	}
	size = mailq_size(&e, name, p->channel);
	if (size < 0)
		xbuf_catf(&q->line, "%s\t?\t", name);
	else
		xbuf_catf(&q->line, "%s\t%lld\t", name, size);
	mailq_age(&q->line, q->now, e.arrival);
	xbuf_catf(&q->line, "\t<%s>\t", e.sender);
	for (i = 0; i < e.rcpt_count; i++)
		xbuf_catf(&q->line, "%s<%s>", i ? " " : "", e.rcpt[i].address);
	xbuf_catf(&q->line, "\t%s\n", p->state);
	mailq_recipients(&q->line, &e, p);
	fwrite(q->line.data, 1, q->line.len, stdout);
	envelope_free(&e);
}

static void mailq_dir(struct mailq_list *q, const char *relative, const struct mailq_place *p)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct dirent *d;
	DIR *dh;

	xhome_path(dir, sizeof dir, relative);
	dh = opendir(dir);
	if (!dh) {
		if (errno != ENOENT)
			log_warn("unable to open %s: %s", dir, strerror(errno));
		return;
	}
	while ((d = readdir(dh))) {
		if (d->d_name[0] == '.' || (size_t)snprintf(path, sizeof path, "%s/%s", dir, d->d_name) >= sizeof path)
			continue;
		mailq_entry(q, path, d->d_name, p);
	}
	closedir(dh);
}

/* A channel's buckets, each "<channel> deferred until <UTC time>". */
static void mailq_deferred(struct mailq_list *q, const char *channel)
{
	char rel[PATH_MAX], dir[PATH_MAX], state[128], when[64];
	struct mailq_place p = { channel, state, "deferred", when };
	struct dirent *d;
	struct tm tm;
	time_t due;
	DIR *dh;

	snprintf(rel, sizeof rel, "%s/%s", SPOOL_DEFER_DIR, channel);
	xhome_path(dir, sizeof dir, rel);
	if (!(dh = opendir(dir)))
		return;
	while ((d = readdir(dh))) {
		if (d->d_name[0] < '0' || d->d_name[0] > '9')
			continue;
		due = (time_t)strtoll(d->d_name, NULL, 10);
		if (!gmtime_r(&due, &tm))
			continue;
		snprintf(when, sizeof when, "%04d-%02d-%02d %02d:%02d:%02d UTC", tm.tm_year + 1900, tm.tm_mon + 1,
			 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
		snprintf(state, sizeof state, "%s deferred until %s", channel, when);
		snprintf(rel, sizeof rel, "%s/%s/%.32s", SPOOL_DEFER_DIR, channel, d->d_name);
		mailq_dir(q, rel, &p);
	}
	closedir(dh);
}

int mailq_list(struct mailq_list *q)
{
	const struct mailq_place incoming = { NULL, "incoming", "incoming", NULL };
	char rel[PATH_MAX];
	int id;

	mailq_dir(q, SPOOL_INCOMING_DIR, &incoming);
	for (id = CHANNEL_FIRST; id < CHANNEL_END; id++) {
		const char *channel = channel_name(id);
		struct mailq_place queued = { channel, channel, id == CHANNEL_BOUNCE ? "bounce-pending" : "queued",
					      NULL };
		snprintf(rel, sizeof rel, "%s/%s", SPOOL_QUEUE_DIR, channel);
		mailq_dir(q, rel, &queued);
		mailq_deferred(q, channel);
	}
	return 0;
}
