#include "listcache.h"
#include "home.h"
#include "log.h"
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The key of the identity record; list keys start with a printable tag. */
#define IDENTITY_KEY "\001identity"
/* Bumped whenever a compile function changes what it stores, so an old
 * form is rebuilt rather than misread. */
#define FORM_VERSION 1

static datum datum_of(const void *data, size_t len)
{
	datum d;

	d.dptr = (char *)(uintptr_t)data;
	d.dsize = (int)len;
	return d;
}

/* <home>/spool/data/lists/<name>.<kind>, <name> the source without its
 * leading "etc/" and with '/' as '_'. */
static int form_path(char *out, size_t size, const char *relative, const char *kind)
{
	char name[PATH_MAX];
	const char *s = strncmp(relative, "etc/", 4) ? relative : relative + 4;
	int n = snprintf(name, sizeof name, "%s/%s.%s", LISTCACHE_DIR, s, kind);
	char *p;

	if (n < 0 || (size_t)n >= sizeof name)
		return (errno = ENAMETOOLONG, 0);
	for (p = name + strlen(LISTCACHE_DIR) + 1; *p; p++)
		if (*p == '/')
			*p = '_';
	return home_path(out, size, name);
}

static void identity_of(char *out, size_t size, const char *kind, const struct stat *st)
{
	snprintf(out, size, "bbsmail-list %d %s dev=%llu ino=%llu size=%lld mtime=%lld.%09ld ctime=%lld.%09ld",
		 FORM_VERSION, kind, (unsigned long long)st->st_dev, (unsigned long long)st->st_ino,
		 (long long)st->st_size, (long long)st->st_mtim.tv_sec, (long)st->st_mtim.tv_nsec,
		 (long long)st->st_ctim.tv_sec, (long)st->st_ctim.tv_nsec);
}

static long settle_sec = LISTCACHE_SETTLE_SEC;

/* The forms this process has open, kept for its next question: a session
 * asks email.can at MAIL and at every RCPT, and an open costs an open(2)
 * and a few reads (~20 us) against a probe's few.  Each entry holds the
 * identity it was opened for; a source that changed since is a miss. */
#define OPEN_FORMS_MAX 16
static struct open_form {
	char form[PATH_MAX];
	char id[256];
	GDBM_FILE db;
} open_forms[OPEN_FORMS_MAX];

/* The kept handle of form if it was opened for id, else NULL (a handle
 * kept for another identity is closed: that form is stale for us). */
static GDBM_FILE open_form_find(const char *form, const char *id)
{
	size_t i;

	for (i = 0; i < OPEN_FORMS_MAX; i++) {
		if (!open_forms[i].db || strcmp(open_forms[i].form, form) != 0)
			continue;
		if (strcmp(open_forms[i].id, id) == 0)
			return open_forms[i].db;
		gdbm_close(open_forms[i].db);
		open_forms[i].db = NULL;
	}
	return NULL;
}

/* Keeps db for form; 0 when the table is full (the caller closes it). */
static int open_form_keep(const char *form, const char *id, GDBM_FILE db)
{
	size_t i;

	for (i = 0; i < OPEN_FORMS_MAX; i++)
		if (!open_forms[i].db) {
			snprintf(open_forms[i].form, sizeof open_forms[i].form, "%s", form);
			snprintf(open_forms[i].id, sizeof open_forms[i].id, "%s", id);
			open_forms[i].db = db;
			return 1;
		}
	return 0;
}

/* The fuzz harness rewrites files within one clock tick (same identity,
 * other content): with settling off, nothing is kept either. */
void listcache_set_settle_sec(long sec)
{
	size_t i;

	settle_sec = sec;
	for (i = 0; i < OPEN_FORMS_MAX; i++)
		if (open_forms[i].db) {
			gdbm_close(open_forms[i].db);
			open_forms[i].db = NULL;
		}
}

/* Whether the source changed too recently to be compiled (see the header). */
static int too_recent(const struct stat *st)
{
	struct timespec now;

	if (!settle_sec)
		return 0;
	if (clock_gettime(CLOCK_REALTIME, &now) != 0)
		return 1;
	return now.tv_sec < st->st_ctim.tv_sec + settle_sec
	       || (now.tv_sec == st->st_ctim.tv_sec + settle_sec && now.tv_nsec < st->st_ctim.tv_nsec);
}

/* Opens the form for reading: 1 when it was built from the source whose
 * identity is id. */
static int open_current(struct listcache *c, const char *form, const char *id)
{
	datum got;
	int same;

	/* Not mapped: a session probes each form a few times, and mapping a
	 * form of 10,000 entries costs more (the mapping, fault-around and
	 * tearing it down at exit) than the few preads: 400 sessions with
	 * eight such lists and five DNSBL zones, four rounds each way, took
	 * about 6 % less CPU read than mapped. */
	c->db = gdbm_open(form, 0, GDBM_READER | GDBM_NOLOCK | GDBM_CLOEXEC | GDBM_NOMMAP, 0, NULL);
	if (!c->db)
		return 0;
	got = gdbm_fetch(c->db, datum_of(IDENTITY_KEY, sizeof IDENTITY_KEY - 1));
	same = got.dptr && (size_t)got.dsize == strlen(id) && memcmp(got.dptr, id, strlen(id)) == 0;
	free(got.dptr);
	if (!same)
		listcache_close(c);
	return same;
}

static const char *store_error(int err)
{
	return err ? strerror(err) : gdbm_strerror(gdbm_errno);
}

/* Writes the form into temp: 1 ok, 0 a write failed (errno, 0 for a GDBM
 * error), -1 the source could not be read. */
static int write_form(struct listcache *c, const char *temp, const char *id, struct listfile *lf,
		      listcache_compile_fn *compile, void *ctx)
{
	int r, err;

	errno = 0;
	c->db = gdbm_open(temp, 0, GDBM_NEWDB | GDBM_NOLOCK | GDBM_CLOEXEC, 0644, NULL);
	if (!c->db)
		return 0;
	errno = 0;
	r = compile(c, lf, ctx);
	/* The form may be read after a crash: its data reaches the disk
	 * before the rename makes it current. */
	if (r == 1 && !(listcache_put(c, IDENTITY_KEY, sizeof IDENTITY_KEY - 1, id, strlen(id)) && gdbm_sync(c->db) == 0))
		r = 0;
	err = errno;
	gdbm_close(c->db);
	c->db = NULL;
	errno = err;
	return r;
}

/* Whether this process has already warned that the form of relative for
 * kind cannot be written: a session that asks one list at every RCPT logs
 * it once.  Remembers a few names; past them it warns each time. */
static int warned_before(const char *relative, const char *kind)
{
	static char *warned[16];
	char name[PATH_MAX];
	size_t i;

	snprintf(name, sizeof name, "%s.%s", relative, kind);
	for (i = 0; i < sizeof warned / sizeof warned[0] && warned[i]; i++)
		if (strcmp(warned[i], name) == 0)
			return 1;
	if (i < sizeof warned / sizeof warned[0])
		warned[i] = strdup(name);
	return 0;
}

/* Builds the form from the source and opens it. */
static int build(struct listcache *c, const char *source, const char *form, const char *kind, unsigned flags,
		 listcache_compile_fn *compile, void *ctx)
{
	char temp[PATH_MAX + 32], dir[PATH_MAX], id[256];
	struct listfile lf;
	struct stat st;
	int r;

	if (!listfile_open(&lf, source, flags) || lf.fd < 0)
		return LISTCACHE_PARSE;
	if (fstat(lf.fd, &st) != 0 || too_recent(&st)) {
		listfile_close(&lf);
		return LISTCACHE_PARSE;
	}
	identity_of(id, sizeof id, kind, &st);
	snprintf(temp, sizeof temp, "%s.tmp%ld", form, (long)getpid());
	if (home_path(dir, sizeof dir, LISTCACHE_DIR) && mkdir(dir, 0755) != 0 && errno != EEXIST)
		r = 0;
	else
		r = write_form(c, temp, id, &lf, compile, ctx);
	listfile_close(&lf);
	if (r == 1 && rename(temp, form) == 0) {
		log_info("event=list-compiled file=%s kind=%s keys=%lu", c->relative, kind, c->keys);
		return open_current(c, form, id) ? LISTCACHE_READY : LISTCACHE_PARSE;
	}
	if (r >= 0 && !warned_before(c->relative, kind))
		log_warn("unable to write the compiled form of %s: %s: %s; reading it line by line", c->relative, form,
			 store_error(errno));
	unlink(temp);
	return LISTCACHE_PARSE;
}

int listcache_open(struct listcache *c, const char *relative, const char *kind, long min_bytes, unsigned flags,
		   listcache_compile_fn *compile, void *ctx)
{
	char source[PATH_MAX], form[PATH_MAX], id[256];
	struct stat st;

	c->db = NULL;
	c->kept = 0;
	c->relative = relative;
	c->keys = 0;
	if (min_bytes < 0 || !home_path(source, sizeof source, relative))
		return LISTCACHE_PARSE;
	if (stat(source, &st) != 0)
		return errno == ENOENT ? LISTCACHE_EMPTY : LISTCACHE_PARSE;
	if (!S_ISREG(st.st_mode) || st.st_size < min_bytes || !form_path(form, sizeof form, relative, kind))
		return LISTCACHE_PARSE;
	identity_of(id, sizeof id, kind, &st);
	if (settle_sec && (c->db = open_form_find(form, id))) {
		c->kept = 1;
		return LISTCACHE_READY;
	}
	if (open_current(c, form, id)) {
		c->kept = settle_sec && open_form_keep(form, id, c->db);
		return LISTCACHE_READY;
	}
	return build(c, source, form, kind, flags, compile, ctx);
}

void listcache_close(struct listcache *c)
{
	if (c->db && !c->kept)
		gdbm_close(c->db);
	c->db = NULL;
	c->kept = 0;
}

int listcache_put(struct listcache *c, const void *key, size_t key_len, const void *value, size_t value_len)
{
	if (key_len > INT_MAX || value_len > INT_MAX)
		return (errno = EOVERFLOW, 0);
	if (gdbm_store(c->db, datum_of(key, key_len), datum_of(value, value_len), GDBM_REPLACE) != 0) {
		if (!errno)
			errno = EIO;
		return 0;
	}
	c->keys++;
	return 1;
}

int listcache_has(struct listcache *c, const void *key, size_t key_len)
{
	return key_len <= INT_MAX && gdbm_exists(c->db, datum_of(key, key_len));
}

int listcache_get(struct listcache *c, const void *key, size_t key_len, struct buf *out)
{
	datum got;
	int ok;

	if (key_len > INT_MAX)
		return 0;
	got = gdbm_fetch(c->db, datum_of(key, key_len));
	if (!got.dptr)
		return 0;
	ok = buf_copy(out, got.dptr, (size_t)got.dsize);
	free(got.dptr);
	return ok;
}
