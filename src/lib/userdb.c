#include "userdb.h"
#include "dbfile.h"
#include "buf.h"
#include "home.h"
#include "record.h"
#include "spool.h"
#include <ctype.h>
#include <errno.h>
#include <gdbm.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define USERDB_FILE SPOOL_DATA_DIR "/users.gdbm"

int userdb_open(struct userdb *db, int writable)
{
	db->writable = writable;
	db->gdbm = dbfile_open(USERDB_FILE, writable ? DBFILE_WRITE | DBFILE_SYNC : DBFILE_READ);
	return db->gdbm != NULL;
}

void userdb_close(struct userdb *db)
{
	if (db->gdbm)
		gdbm_close((GDBM_FILE)db->gdbm);
	db->gdbm = NULL;
}

static datum datum_of(const char *s, size_t n)
{
	datum d;
	d.dptr = (char *)s;
	d.dsize = (int)n;
	return d;
}

static void index_key(char *out, size_t size, char kind, const char *name)
{
	size_t i, n = (size_t)snprintf(out, size, "%c:", kind);

	for (i = 0; name[i] && n + 1 < size; i++)
		out[n++] = (char)tolower((unsigned char)name[i]);
	out[n] = 0;
}

static int copy_field(char *dst, size_t size, const char *value)
{
	if (strlen(value) >= size)
		return 0;
	strcpy(dst, value);
	return 1;
}

static int user_decode(const char *data, size_t len, unsigned long number, struct user *u)
{
	struct record_reader r;
	const char *value;
	char tag;
	int got, ok = 1;

	memset(u, 0, sizeof *u);
	u->number = number;
	record_reader_init(&r, data, len);
	while ((got = record_next(&r, &tag, &value)) == 1) {
		switch (tag) {
		case 'N': ok &= copy_field(u->name, sizeof u->name, value); break;
		case 'A': ok &= copy_field(u->alias, sizeof u->alias, value); break;
		case 'P': ok &= copy_field(u->password, sizeof u->password, value); break;
		case 'C': ok &= copy_field(u->cram_md5, sizeof u->cram_md5, value); break;
		case 'O': ok &= copy_field(u->apop, sizeof u->apop, value); break;
		case 'W': ok &= copy_field(u->forward, sizeof u->forward, value); break;
		case 'F': u->flags = strtoul(value, NULL, 16); break;
		default: break; /* fields of a newer version are kept out of the way */
		}
	}
	if (got < 0 || !ok || !u->name[0]) {
		errno = EBADMSG;
		return 0;
	}
	return 1;
}

static int fetch_number(struct userdb *db, const char *key, unsigned long *number)
{
	datum d = gdbm_fetch((GDBM_FILE)db->gdbm, datum_of(key, strlen(key)));
	char text[32];

	if (!d.dptr)
		return gdbm_errno == GDBM_ITEM_NOT_FOUND ? 0 : -1;
	if (d.dsize <= 0 || (size_t)d.dsize >= sizeof text) {
		free(d.dptr);
		errno = EBADMSG;
		return -1;
	}
	memcpy(text, d.dptr, (size_t)d.dsize);
	text[d.dsize] = 0;
	free(d.dptr);
	*number = strtoul(text, NULL, 10);
	return 1;
}

int userdb_get_by_number(struct userdb *db, unsigned long number, struct user *u)
{
	char key[32];
	datum d;
	int ok;

	snprintf(key, sizeof key, "#%lu", number);
	d = gdbm_fetch((GDBM_FILE)db->gdbm, datum_of(key, strlen(key)));
	if (!d.dptr) {
		if (gdbm_errno == GDBM_ITEM_NOT_FOUND)
			return 0;
		errno = EIO;
		return -1;
	}
	ok = user_decode(d.dptr, (size_t)d.dsize, number, u);
	free(d.dptr);
	return ok ? 1 : -1;
}

int userdb_get_by_name(struct userdb *db, const char *name, struct user *u)
{
	char key[USER_NAME_MAX_BYTES + 8];
	unsigned long number;
	int r;

	if (!*name || strlen(name) > USER_NAME_MAX_BYTES)
		return 0;
	index_key(key, sizeof key, 'n', name);
	r = fetch_number(db, key, &number);
	if (r == 0) {
		index_key(key, sizeof key, 'a', name);
		r = fetch_number(db, key, &number);
	}
	if (r <= 0)
		return r;
	return userdb_get_by_number(db, number, u);
}

static int store(struct userdb *db, const char *key, const char *value, size_t len)
{
	if (gdbm_store((GDBM_FILE)db->gdbm, datum_of(key, strlen(key)), datum_of(value, len),
		       GDBM_REPLACE) != 0) {
		errno = EIO;
		return 0;
	}
	return 1;
}

static int store_number(struct userdb *db, const char *key, unsigned long number)
{
	char text[32];
	snprintf(text, sizeof text, "%lu", number);
	return store(db, key, text, strlen(text));
}

static void remove_key(struct userdb *db, const char *key)
{
	gdbm_delete((GDBM_FILE)db->gdbm, datum_of(key, strlen(key)));
}

/* 1 when name (as name or alias) is free or already this user's. */
static int name_free_for(struct userdb *db, const char *name, unsigned long number)
{
	char key[USER_NAME_MAX_BYTES + 8];
	unsigned long owner;
	char kinds[] = { 'n', 'a' };
	size_t i;

	for (i = 0; i < sizeof kinds; i++) {
		index_key(key, sizeof key, kinds[i], name);
		if (fetch_number(db, key, &owner) == 1 && owner != number)
			return 0;
	}
	return 1;
}

int userdb_put(struct userdb *db, struct user *u)
{
	struct buf rec = BUF_INIT;
	struct user old;
	char key[USER_NAME_MAX_BYTES + 8];
	unsigned long next = 1;
	int had_old = 0, ok;

	if (!user_name_valid(u->name) || (u->alias[0] && !user_name_valid(u->alias))) {
		errno = EINVAL;
		return 0;
	}
	if (u->number == 0) {
		if (fetch_number(db, "next", &next) < 0)
			return 0;
		u->number = next ? next : 1;
	} else {
		had_old = userdb_get_by_number(db, u->number, &old) == 1;
	}
	if (!name_free_for(db, u->name, u->number) || (u->alias[0] && !name_free_for(db, u->alias, u->number))) {
		errno = EEXIST;
		return 0;
	}
	ok = record_add(&rec, 'N', u->name) && record_add(&rec, 'A', u->alias)
	     && record_add(&rec, 'P', u->password) && record_add(&rec, 'C', u->cram_md5)
	     && record_add(&rec, 'O', u->apop) && record_add(&rec, 'W', u->forward)
	     && buf_catc(&rec, 'F') && buf_catf(&rec, "%lx", u->flags) && buf_catc(&rec, 0)
	     && record_end(&rec);
	if (!ok) {
		buf_free(&rec);
		return 0;
	}
	snprintf(key, sizeof key, "#%lu", u->number);
	ok = store(db, key, rec.data, rec.len);
	buf_free(&rec);
	if (had_old) {
		index_key(key, sizeof key, 'n', old.name);
		remove_key(db, key);
		if (old.alias[0]) {
			index_key(key, sizeof key, 'a', old.alias);
			remove_key(db, key);
		}
	}
	index_key(key, sizeof key, 'n', u->name);
	ok = ok && store_number(db, key, u->number);
	if (u->alias[0]) {
		index_key(key, sizeof key, 'a', u->alias);
		ok = ok && store_number(db, key, u->number);
	}
	if (ok && fetch_number(db, "next", &next) >= 0 && u->number >= next)
		ok = store_number(db, "next", u->number + 1);
	if (ok)
		gdbm_sync((GDBM_FILE)db->gdbm);
	return ok;
}

int userdb_delete(struct userdb *db, unsigned long number)
{
	struct user u;
	char key[USER_NAME_MAX_BYTES + 8];
	int r = userdb_get_by_number(db, number, &u);

	if (r <= 0)
		return r;
	index_key(key, sizeof key, 'n', u.name);
	remove_key(db, key);
	if (u.alias[0]) {
		index_key(key, sizeof key, 'a', u.alias);
		remove_key(db, key);
	}
	snprintf(key, sizeof key, "#%lu", number);
	remove_key(db, key);
	gdbm_sync((GDBM_FILE)db->gdbm);
	return 1;
}

static int compare_ulong(const void *a, const void *b)
{
	unsigned long x = *(const unsigned long *)a, y = *(const unsigned long *)b;
	return x < y ? -1 : x > y;
}

int userdb_each(struct userdb *db, int (*fn)(const struct user *u, void *arg), void *arg)
{
	unsigned long *numbers = NULL, *grown;
	size_t count = 0, i;
	datum key, next;
	struct user u;

	for (key = gdbm_firstkey((GDBM_FILE)db->gdbm); key.dptr; key = next) {
		if (key.dsize > 1 && key.dptr[0] == '#') {
			char text[32];
			size_t n = (size_t)key.dsize - 1 < sizeof text - 1 ? (size_t)key.dsize - 1 : sizeof text - 1;
			memcpy(text, key.dptr + 1, n);
			text[n] = 0;
			grown = realloc(numbers, (count + 1) * sizeof *numbers);
			if (!grown) {
				free(key.dptr);
				free(numbers);
				return 0;
			}
			numbers = grown;
			numbers[count++] = strtoul(text, NULL, 10);
		}
		next = gdbm_nextkey((GDBM_FILE)db->gdbm, key);
		free(key.dptr);
	}
	if (count) /* qsort(NULL, 0) is undefined behaviour */
		qsort(numbers, count, sizeof *numbers, compare_ulong);
	for (i = 0; i < count; i++)
		if (userdb_get_by_number(db, numbers[i], &u) == 1 && !fn(&u, arg))
			break;
	free(numbers);
	return 1;
}

int user_name_valid(const char *name)
{
	size_t n = strlen(name), i, digits = 0;

	if (n == 0 || n > USER_NAME_MAX_BYTES || name[0] == ' ' || name[n - 1] == ' ')
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c < 0x20 || c >= 0x7f || strchr("/@:#!%<>\"\\,;", c))
			return 0;
		if (isdigit(c))
			digits++;
	}
	return digits != n; /* all digits would shadow user numbers */
}

static const struct {
	const char *name;
	unsigned long bit;
} flag_names[] = {
	{ "mail-exempt", USER_FLAG_MAIL_EXEMPT },
	{ "forward", USER_FLAG_FORWARD },
	{ "disabled", USER_FLAG_DISABLED },
};

int user_flags_parse(const char *s, unsigned long *flags)
{
	size_t i, n;

	*flags = 0;
	while (*s) {
		n = strcspn(s, ",");
		for (i = 0; i < sizeof flag_names / sizeof flag_names[0]; i++)
			if (strlen(flag_names[i].name) == n && strncasecmp(s, flag_names[i].name, n) == 0)
				break;
		if (n && i == sizeof flag_names / sizeof flag_names[0])
			return 0;
		if (n)
			*flags |= flag_names[i].bit;
		s += n;
		if (*s == ',')
			s++;
	}
	return 1;
}

void user_flags_format(unsigned long flags, char *out, size_t size)
{
	size_t i, used = 0;

	if (size)
		out[0] = 0;
	for (i = 0; i < sizeof flag_names / sizeof flag_names[0]; i++)
		if (flags & flag_names[i].bit) {
			int n = snprintf(out + used, size - used, "%s%s", used ? "," : "", flag_names[i].name);
			if (n < 0 || (size_t)n >= size - used)
				return;
			used += (size_t)n;
		}
}
