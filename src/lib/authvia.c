#include "authvia.h"
#include "dbfile.h"
#include "home.h"
#include "ipkey.h"
#include "spool.h"
#include <errno.h>
#include <fcntl.h>
#include <gdbm.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define AUTHVIA_FILE SPOOL_DATA_DIR "/authvia.gdbm"
#define AUTHVIA_PRUNED_KEY "pruned"

static GDBM_FILE authvia_open(int writable)
{
	return dbfile_open(AUTHVIA_FILE, writable ? DBFILE_WRITE : DBFILE_READ);
}

/* The key for ip (ipkey.h); 0 with EINVAL when ip is not an address literal. */
static int authvia_key(const char *ip, char key[IPKEY_MAX_BYTES], datum *d)
{
	if (!ipkey_make(key, IPKEY_MAX_BYTES, ip))
		return 0;
	d->dptr = key;
	d->dsize = (int)strlen(key);
	return 1;
}

/* A stored time, or -1 when absent or malformed. */
static long long authvia_fetch_time(GDBM_FILE f, datum key)
{
	datum d = gdbm_fetch(f, key);
	char text[32];
	char *end;
	long long t;

	if (!d.dptr)
		return -1;
	if (d.dsize <= 0 || (size_t)d.dsize >= sizeof text) {
		free(d.dptr);
		return -1;
	}
	memcpy(text, d.dptr, (size_t)d.dsize);
	text[d.dsize] = 0;
	free(d.dptr);
	t = strtoll(text, &end, 10);
	return *end || end == text ? -1 : t;
}

static int authvia_store_time(GDBM_FILE f, datum key, time_t t)
{
	char text[32];
	datum d;

	d.dsize = snprintf(text, sizeof text, "%lld", (long long)t);
	d.dptr = text;
	return gdbm_store(f, key, d, GDBM_REPLACE) == 0;
}

/* Forgets old records; a key is only deleted after the walk has moved on
 * (deleting under gdbm_nextkey's feet could skip entries, which is harmless
 * here but avoided anyway by collecting first). */
static void authvia_prune(GDBM_FILE f, time_t now)
{
	datum key, next, *old = NULL;
	size_t count = 0, cap = 0, i;
	long long t;

	for (key = gdbm_firstkey(f); key.dptr; key = next) {
		next = gdbm_nextkey(f, key);
		t = authvia_fetch_time(f, key);
		if (key.dsize > 3 && memcmp(key.dptr, "ip:", 3) == 0 && (t < 0 || t + AUTHVIA_FORGET_SEC < now)) {
			if (count == cap) {
				datum *n = realloc(old, (cap ? cap * 2 : 64) * sizeof *old);
				if (n) {
					old = n;
					cap = cap ? cap * 2 : 64;
				}
			}
			if (count < cap) {
				old[count++] = key;
				continue;
			}
		}
		free(key.dptr);
	}
	for (i = 0; i < count; i++) {
		(void)gdbm_delete(f, old[i]);
		free(old[i].dptr);
	}
	free(old);
}

int authvia_record(const char *ip, time_t now)
{
	char keytext[IPKEY_MAX_BYTES];
	datum key, pruned_key;
	GDBM_FILE f;
	long long pruned;
	int ok;

	if (!authvia_key(ip, keytext, &key) || !(f = authvia_open(1)))
		return 0;
	ok = authvia_store_time(f, key, now);
	pruned_key.dptr = (char *)AUTHVIA_PRUNED_KEY;
	pruned_key.dsize = (int)strlen(AUTHVIA_PRUNED_KEY);
	pruned = authvia_fetch_time(f, pruned_key);
	if (ok && (pruned < 0 || pruned + AUTHVIA_PRUNE_EVERY_SEC < now)) {
		authvia_prune(f, now);
		(void)authvia_store_time(f, pruned_key, now);
	}
	gdbm_close(f);
	if (!ok)
		errno = EIO;
	return ok;
}

int authvia_recent(const char *ip, unsigned long window_sec, time_t now)
{
	char keytext[IPKEY_MAX_BYTES];
	datum key;
	GDBM_FILE f;
	long long t;

	if (!authvia_key(ip, keytext, &key))
		return errno == EINVAL ? 0 : -1;
	if (!(f = authvia_open(0)))
		return errno == ENOENT ? 0 : -1;
	t = authvia_fetch_time(f, key);
	gdbm_close(f);
	if (t < 0 || t > (long long)now)
		return 0;
	return (unsigned long long)(now - t) <= window_sec;
}
