/* mailq: lists what is queued (mailq(1)): spool/incoming/, every
 * spool/queue/<channel>/ and the deferred jobs of spool/defer/<channel>/,
 * one line per file, tab-separated columns
 *   id  size  age  <sender>  <rcpt> <rcpt> ...  state
 * (addresses never hold a tab: the parser refuses control bytes).  -c
 * prints the count only.  Read-only: it takes no locks and moves nothing. */
#include "body.h"
#include "channel.h"
#include "envelope.h"
#include "home.h"
#include "log.h"
#include "schedule.h"
#include "spool.h"
#include <stdlib.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define USAGE "mailq [-c] [-d DIR]"

struct mailq {
	int count_only;
	unsigned long count;
	time_t now;
	struct buf line;
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
	long long size;

	if (e->message_len || !channel)
		return (long long)e->message_len;
	size = body_message_size(channel, name);
	return size;
}

static void mailq_entry(struct mailq *q, const char *path, const char *name, const char *channel,
			const char *state)
{
	struct envelope e;
	long long size;
	size_t i;

	q->count++;
	if (q->count_only)
		return;
	buf_truncate(&q->line, 0);
	if (!envelope_load(path, &e)) {
		if (errno == ENOENT)      /* finished while we looked */
			q->count--;
		else
			xbuf_catf(&q->line, "%s\t?\t?\t?\t?\t%s (unreadable: %s)\n", name, state, strerror(errno));
		envelope_free(&e);
		if (q->line.len)
			fwrite(q->line.data, 1, q->line.len, stdout);
		return;
	}
	size = mailq_size(&e, name, channel);
	if (size < 0)
		xbuf_catf(&q->line, "%s\t?\t", name);
	else
		xbuf_catf(&q->line, "%s\t%lld\t", name, size);
	mailq_age(&q->line, q->now, e.arrival);
	xbuf_catf(&q->line, "\t<%s>\t", e.sender);
	for (i = 0; i < e.rcpt_count; i++)
		xbuf_catf(&q->line, "%s<%s>", i ? " " : "", e.rcpt[i].address);
	xbuf_catf(&q->line, "\t%s\n", state);
	fwrite(q->line.data, 1, q->line.len, stdout);
	envelope_free(&e);
}

static void mailq_dir(struct mailq *q, const char *relative, const char *channel, const char *state)
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
		mailq_entry(q, path, d->d_name, channel, state);
	}
	closedir(dh);
}

/* Every channel of the table, then its deferred jobs bucket by bucket:
 * "<channel> deferred until <UTC time>". */
static void mailq_channels(struct mailq *q)
{
	char rel[PATH_MAX], dir[PATH_MAX], state[128];
	struct dirent *d;
	struct tm tm;
	time_t due;
	DIR *dh;
	int id;

	for (id = CHANNEL_FIRST; id < CHANNEL_END; id++) {
		const char *channel = channel_name(id);
		snprintf(rel, sizeof rel, "%s/%s", SPOOL_QUEUE_DIR, channel);
		mailq_dir(q, rel, channel, channel);
		snprintf(rel, sizeof rel, "%s/%s", SPOOL_DEFER_DIR, channel);
		xhome_path(dir, sizeof dir, rel);
		if (!(dh = opendir(dir)))
			continue;
		while ((d = readdir(dh))) {
			if (d->d_name[0] < '0' || d->d_name[0] > '9')
				continue;
			due = (time_t)strtoll(d->d_name, NULL, 10);
			if (!gmtime_r(&due, &tm))
				continue;
			snprintf(state, sizeof state, "%s deferred until %04d-%02d-%02d %02d:%02d:%02d UTC", channel,
				 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
			snprintf(rel, sizeof rel, "%s/%s/%.32s", SPOOL_DEFER_DIR, channel, d->d_name);
			mailq_dir(q, rel, channel, state);
		}
		closedir(dh);
	}
}

int main(int argc, char **argv)
{
	struct mailq q;
	int opt;

	log_set_program("mailq");
	memset(&q, 0, sizeof q);
	while ((opt = getopt(argc, argv, "cd:")) != -1) {
		switch (opt) {
		case 'c': q.count_only = 1; break;
		case 'd': home_set(optarg); break;
		default: die_usage(USAGE);
		}
	}
	if (optind != argc)
		die_usage(USAGE);
	q.now = time(NULL);
	mailq_dir(&q, SPOOL_INCOMING_DIR, NULL, "incoming");
	mailq_channels(&q);
	if (q.count_only)
		printf("%lu\n", q.count);
	buf_free(&q.line);
	if (fflush(stdout) != 0 || ferror(stdout))
		die_sys("unable to write the listing");
	return 0;
}
