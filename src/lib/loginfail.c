#include "loginfail.h"
#include "dbfile.h"
#include "buf.h"
#include "home.h"
#include "hostlist.h"
#include "ipkey.h"
#include "listfile.h"
#include "log.h"
#include "record.h"
#include "spool.h"
#include <errno.h>
#include <fcntl.h>
#include <gdbm.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define LOGINFAIL_FILE SPOOL_DATA_DIR "/logins.gdbm"
#define IP_CAN_FILE "etc/ip.can"

static GDBM_FILE loginfail_open(int writable)
{
	return dbfile_open(LOGINFAIL_FILE, writable ? DBFILE_WRITE | DBFILE_GROUP_WRITE : DBFILE_READ);
}

/* The key for ip (ipkey.h); 0 with EINVAL when ip is not an address literal. */
static int loginfail_key(const char *ip, char key[IPKEY_MAX_BYTES], datum *d)
{
	if (!ipkey_make(key, IPKEY_MAX_BYTES, ip))
		return 0;
	d->dptr = key;
	d->dsize = (int)strlen(key);
	return 1;
}

/* Failure times kept in the record, oldest first, each with how many
 * failures it stands for ("time" or "time*count" in the 't' field), so any
 * number of failures fits in LOGINFAIL_TIMES_MAX entries. */
struct loginfail_times {
	time_t t[LOGINFAIL_TIMES_MAX];
	unsigned long n[LOGINFAIL_TIMES_MAX];
	size_t len;
	/* The latest failures, all against one user name: that user's own
	 * typos, which that user's success may forgive ('u' and 'r'). */
	char run_user[LOGINFAIL_USER_MAX_BYTES + 1];
	unsigned long run;
};

static void times_parse(const char *s, struct loginfail_times *tm)
{
	char *end;
	long long v;
	unsigned long n;

	tm->len = 0;
	while (*s && tm->len < LOGINFAIL_TIMES_MAX) {
		v = strtoll(s, &end, 10);
		if (end == s)
			break;
		n = 1;
		if (*end == '*')
			n = strtoul(end + 1, &end, 10);
		if (n) {
			tm->t[tm->len] = (time_t)v;
			tm->n[tm->len++] = n;
		}
		s = end;
	}
}

/* Decodes a stored value; a malformed one reads as "nothing remembered". */
static void loginfail_decode(datum d, struct loginfail_state *st, struct loginfail_times *tm)
{
	struct record_reader r;
	const char *value;
	char tag;

	memset(st, 0, sizeof *st);
	tm->len = 0;
	tm->run_user[0] = 0;
	tm->run = 0;
	record_reader_init(&r, d.dptr, (size_t)d.dsize);
	while (record_next(&r, &tag, &value) == 1) {
		if (tag == 'c')
			st->count = strtoul(value, NULL, 10);
		else if (tag == 'l')
			st->last = (time_t)strtoll(value, NULL, 10);
		else if (tag == 't')
			times_parse(value, tm);
		else if (tag == 'u' && strlen(value) <= LOGINFAIL_USER_MAX_BYTES)
			strcpy(tm->run_user, value);
		else if (tag == 'r')
			tm->run = strtoul(value, NULL, 10);
	}
	if (!tm->run_user[0])
		tm->run = 0;
}

static int loginfail_fetch(GDBM_FILE f, datum key, time_t now, struct loginfail_state *st,
			   struct loginfail_times *tm)
{
	datum d = gdbm_fetch(f, key);

	memset(st, 0, sizeof *st);
	tm->len = 0;
	tm->run_user[0] = 0;
	tm->run = 0;
	if (!d.dptr) {
		if (gdbm_errno == GDBM_ITEM_NOT_FOUND)
			return 0;
		errno = EIO;
		return -1;
	}
	loginfail_decode(d, st, tm);
	free(d.dptr);
	if (st->last + LOGINFAIL_FORGET_SEC < now) {
		memset(st, 0, sizeof *st);
		tm->len = 0;
		tm->run_user[0] = 0;
		tm->run = 0;
		return 0;
	}
	return 1;
}

static int loginfail_encode(struct buf *b, const struct loginfail_state *st, const struct loginfail_times *tm)
{
	struct buf times = BUF_INIT;
	size_t i;
	int ok = 1;

	for (i = 0; i < tm->len && ok; i++) {
		ok = buf_catf(&times, i ? " %lld" : "%lld", (long long)tm->t[i]);
		if (ok && tm->n[i] > 1)
			ok = buf_catf(&times, "*%lu", tm->n[i]);
	}
	ok = ok && record_add_ulong(b, 'c', st->count) && record_add_ulong(b, 'l', (unsigned long)st->last)
	     && record_add(b, 't', times.data ? times.data : "");
	if (ok && tm->run)
		ok = record_add(b, 'u', tm->run_user) && record_add_ulong(b, 'r', tm->run);
	ok = ok && record_end(b);
	buf_free(&times);
	return ok;
}

/* A failure at now.  When the list is full the two oldest entries become
 * one under the newer time: their failures are kept, only counted as a
 * little more recent than they were, which errs on the side of refusing. */
static void times_push(struct loginfail_times *tm, time_t now)
{
	if (tm->len && tm->t[tm->len - 1] == now) {
		tm->n[tm->len - 1]++;
		return;
	}
	if (tm->len == LOGINFAIL_TIMES_MAX) {
		tm->n[1] += tm->n[0];
		memmove(tm->t, tm->t + 1, (LOGINFAIL_TIMES_MAX - 1) * sizeof tm->t[0]);
		memmove(tm->n, tm->n + 1, (LOGINFAIL_TIMES_MAX - 1) * sizeof tm->n[0]);
		tm->len--;
	}
	tm->t[tm->len] = now;
	tm->n[tm->len++] = 1;
}

/* Takes back one failure counted at `at`: it is in the first entry at or
 * after `at` (merging only moves failures later).  0 when none is left. */
static int times_forgive(struct loginfail_times *tm, time_t at)
{
	size_t i;

	for (i = 0; i < tm->len && tm->t[i] < at; i++)
		;
	if (i == tm->len)
		return 0;
	if (--tm->n[i] == 0) {
		memmove(tm->t + i, tm->t + i + 1, (tm->len - i - 1) * sizeof tm->t[0]);
		memmove(tm->n + i, tm->n + i + 1, (tm->len - i - 1) * sizeof tm->n[0]);
		tm->len--;
	}
	return 1;
}

/* Takes back the newest failure (one of the run). */
static void times_pop(struct loginfail_times *tm)
{
	if (tm->len && --tm->n[tm->len - 1] == 0)
		tm->len--;
}

/* A failure against user (NULL: not known) extends the run or starts one. */
static void run_note(struct loginfail_times *tm, const char *user)
{
	if (user && tm->run && strcasecmp(tm->run_user, user) == 0) {
		tm->run++;
		return;
	}
	tm->run = 0;
	tm->run_user[0] = 0;
	if (user && *user && strlen(user) <= LOGINFAIL_USER_MAX_BYTES) {
		strcpy(tm->run_user, user);
		tm->run = 1;
	}
}

static unsigned long times_within(const struct loginfail_times *tm, unsigned long window_sec, time_t now)
{
	unsigned long n = 0;
	size_t i;

	for (i = 0; i < tm->len; i++)
		if (tm->t[i] + (time_t)window_sec > now)
			n += tm->n[i];
	return n;
}

/* What a change does to one ip's record, under the writer's lock. */
enum loginfail_change { CHANGE_RECORD, CHANGE_TRY, CHANGE_TRY_BAN, CHANGE_SETTLE_USER, CHANGE_FORGIVE,
			     CHANGE_FORGIVE_USER };

struct loginfail_update {
	enum loginfail_change change;
	time_t now;
	unsigned long window_sec, limit;
	const char *user;           /* CHANGE_RECORD, CHANGE_*_USER; may be NULL */
	time_t at;                  /* CHANGE_SETTLE_USER: the try's time */
	unsigned long count;        /* out: failures after the change */
	int refused;                /* out: CHANGE_TRY(_BAN) found the limit reached */
	unsigned long ban_left;     /* out: CHANGE_TRY_BAN refused: seconds */
};

/* 1 when the record must be stored. */
static int loginfail_apply(struct loginfail_update *u, struct loginfail_state *st, struct loginfail_times *tm)
{
	u->count = st->count;
	if (u->change == CHANGE_FORGIVE_USER) {
		if (!u->user || !tm->run || strcasecmp(tm->run_user, u->user) != 0)
			return 0;
		for (; tm->run; tm->run--) {
			times_pop(tm);
			if (st->count)
				st->count--;
		}
		tm->run_user[0] = 0;
		u->count = st->count;
		return 1;
	}
	/* The try at `at` is taken back and recorded below as a failure
	 * against user, in one step: the count never dips for another session
	 * to slip in (a try forgotten meanwhile is simply counted again). */
	if (u->change == CHANGE_SETTLE_USER && times_forgive(tm, u->at) && st->count)
		st->count--;
	if (u->change == CHANGE_FORGIVE) {
		if (!times_forgive(tm, u->now))
			return 0;
		if (st->count)
			st->count--;
		u->count = st->count;
		return 1;
	}
	if (u->change == CHANGE_TRY && times_within(tm, u->window_sec, u->now) >= u->limit) {
		u->refused = 1;
		return 0;
	}
	if (u->change == CHANGE_TRY_BAN && u->limit && st->count >= u->limit
	    && st->last + (time_t)u->window_sec > u->now) {
		u->refused = 1;
		u->ban_left = (unsigned long)(st->last + (time_t)u->window_sec - u->now);
		return 0;
	}
	/* A try counts as a failure until it is forgiven.  A ban try leaves
	 * the run alone: it is settled by name once the password is known. */
	st->count++;
	st->last = u->now;
	times_push(tm, u->now);
	if (u->change != CHANGE_TRY_BAN)
		run_note(tm, u->change == CHANGE_RECORD || u->change == CHANGE_SETTLE_USER ? u->user : NULL);
	u->count = st->count;
	return 1;
}

/* Fetch, change and store one ip's record, all under the writer's lock,
 * so two sessions never both act on the same old count. */
static int loginfail_update(const char *ip, struct loginfail_update *u)
{
	char keytext[IPKEY_MAX_BYTES];
	struct loginfail_state st;
	struct loginfail_times tm;
	struct buf value = BUF_INIT;
	datum key, d;
	GDBM_FILE f;
	int ok = 0;

	u->count = 0;
	u->refused = 0;
	u->ban_left = 0;
	/* A session without a client address (over a pipe) is not counted,
	 * as lookups and clears of it find nothing stored. */
	if (!loginfail_key(ip, keytext, &key))
		return errno == EINVAL;
	if (!(f = loginfail_open(1)))
		return 0;
	if (loginfail_fetch(f, key, u->now, &st, &tm) < 0)
		goto done;
	if (!loginfail_apply(u, &st, &tm)) {
		ok = 1;
		goto done;
	}
	if (!loginfail_encode(&value, &st, &tm))
		goto done;
	d.dptr = value.data;
	d.dsize = (int)value.len;
	if (gdbm_store(f, key, d, GDBM_REPLACE) != 0) {
		errno = EIO;
		goto done;
	}
	ok = 1;
done:
	buf_free(&value);
	gdbm_close(f);
	return ok;
}

int loginfail_record(const char *ip, time_t now, unsigned long *count)
{
	return loginfail_record_user(ip, NULL, now, count);
}

int loginfail_record_user(const char *ip, const char *user, time_t now, unsigned long *count)
{
	struct loginfail_update u = { CHANGE_RECORD, now, 0, 0, user, 0, 0, 0, 0 };
	int ok = loginfail_update(ip, &u);

	if (count)
		*count = ok ? u.count : 0;
	return ok;
}

int loginfail_try(const char *ip, unsigned long window_sec, unsigned long limit, time_t now)
{
	struct loginfail_update u = { CHANGE_TRY, now, window_sec, limit, NULL, 0, 0, 0, 0 };

	if (!loginfail_update(ip, &u))
		return -1;
	return !u.refused;
}

int loginfail_try_ban(const char *ip, const struct mail_config *cfg, time_t now, unsigned long *count,
		      unsigned long *ban_left)
{
	struct loginfail_update u = { CHANGE_TRY_BAN, now, cfg->login_attempt_temp_ban_duration_sec,
				      cfg->login_attempt_temp_ban_threshold, NULL, 0, 0, 0, 0 };

	*ban_left = 0;
	*count = 0;
	if (!loginfail_update(ip, &u))
		return -1;
	*ban_left = u.ban_left;
	*count = u.count;
	return !u.refused;
}

int loginfail_settle_user(const char *ip, time_t at, const char *user, time_t now, unsigned long *count)
{
	struct loginfail_update u = { CHANGE_SETTLE_USER, now, 0, 0, user, at, 0, 0, 0 };
	int ok = loginfail_update(ip, &u);

	*count = ok ? u.count : 0;
	return ok;
}

int loginfail_forgive(const char *ip, time_t at)
{
	struct loginfail_update u = { CHANGE_FORGIVE, at, 0, 0, NULL, 0, 0, 0, 0 };

	return loginfail_update(ip, &u);
}

int loginfail_forgive_user(const char *ip, const char *user, time_t now)
{
	struct loginfail_update u = { CHANGE_FORGIVE_USER, now, 0, 0, user, 0, 0, 0, 0 };

	return loginfail_update(ip, &u);
}

int loginfail_clear(const char *ip)
{
	char keytext[IPKEY_MAX_BYTES];
	datum key;
	GDBM_FILE f;

	if (!loginfail_key(ip, keytext, &key))
		return errno == EINVAL; /* nothing is ever stored for a non-address */
	/* Most logins succeed with nothing remembered: look before taking the
	 * writer's lock. */
	if (!(f = loginfail_open(0)))
		return errno == ENOENT ? 1 : 0;
	if (!gdbm_exists(f, key)) {
		gdbm_close(f);
		return 1;
	}
	gdbm_close(f);
	if (!(f = loginfail_open(1)))
		return 0;
	gdbm_delete(f, key);
	gdbm_close(f);
	return 1;
}

int loginfail_get(const char *ip, time_t now, struct loginfail_state *st)
{
	char keytext[IPKEY_MAX_BYTES];
	struct loginfail_times tm;
	datum key;
	GDBM_FILE f;
	int r;

	memset(st, 0, sizeof *st);
	if (!loginfail_key(ip, keytext, &key))
		return errno == EINVAL ? 0 : -1;
	if (!(f = loginfail_open(0)))
		return errno == ENOENT ? 0 : -1;
	r = loginfail_fetch(f, key, now, st, &tm);
	gdbm_close(f);
	return r;
}

long loginfail_count(const char *ip, unsigned long window_sec, time_t now)
{
	char keytext[IPKEY_MAX_BYTES];
	struct loginfail_state st;
	struct loginfail_times tm;
	datum key;
	GDBM_FILE f;
	unsigned long n;
	int r;

	if (!loginfail_key(ip, keytext, &key))
		return errno == EINVAL ? 0 : -1;
	if (!(f = loginfail_open(0)))
		return errno == ENOENT ? 0 : -1;
	r = loginfail_fetch(f, key, now, &st, &tm);
	gdbm_close(f);
	if (r < 0)
		return -1;
	n = times_within(&tm, window_sec, now);
	return n > LONG_MAX ? LONG_MAX : (long)n;
}

unsigned long loginfail_ban_left(const struct loginfail_state *st, const struct mail_config *cfg, time_t now)
{
	time_t until;

	if (!cfg->login_attempt_temp_ban_threshold || st->count < cfg->login_attempt_temp_ban_threshold)
		return 0;
	until = st->last + (time_t)cfg->login_attempt_temp_ban_duration_sec;
	return until > now ? (unsigned long)(until - now) : 0;
}

unsigned long loginfail_throttle_ms(const struct loginfail_state *st, const struct mail_config *cfg)
{
	if (st->count <= 1)
		return 0;
	return st->count * cfg->login_attempt_throttle_ms;
}

unsigned long loginfail_banned(const char *ip, const struct mail_config *cfg, time_t now)
{
	struct loginfail_state st;

	if (loginfail_get(ip, now, &st) < 0) {
		log_warn("unable to read %s/%s: %s", home_dir(), LOGINFAIL_FILE, strerror(errno));
		return 0;
	}
	return loginfail_ban_left(&st, cfg, now);
}

int loginfail_filter_ip(const char *ip, const char *why)
{
	char path[PATH_MAX], canonical[IPKEY_MAX_BYTES];
	struct buf line = BUF_INIT;
	int fd, ok;

	if (strpbrk(ip, "\r\n") || strpbrk(why, "\r\n")) {
		errno = EINVAL;
		return 0;
	}
	/* The canonical form, so loginfail_ip_filtered finds it however the
	 * client's address is spelt next time; a pattern goes in as given. */
	if (ipkey_canonical(canonical, sizeof canonical, ip))
		ip = canonical;
	if (!home_path(path, sizeof path, IP_CAN_FILE))
		return 0;
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return 0;
	ok = buf_catf(&line, "; %s\n%s\n", why, ip);
	/* One write with O_APPEND: two processes never interleave their lines. */
	ok = ok && write(fd, line.data, line.len) == (ssize_t)line.len;
	buf_free(&line);
	if (close(fd) != 0)
		ok = 0;
	return ok;
}

int loginfail_ip_filtered(const char *ip) { return hostlist_match_ip_can(IP_CAN_FILE, ip); }

void loginfail_sleep_ms(unsigned long ms) { dbfile_sleep_ms(ms); }
