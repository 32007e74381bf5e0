#include "commands.h"
#include "buf.h"
#include "home.h"
#include "log.h"
#include "password.h"
#include "spool.h"
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Passwords and APOP secrets are hashed or stored, never echoed; the cap
 * only keeps a runaway stdin from filling memory. */
#define SECRET_MAX_BYTES 1024
#define NAME_RULE "1-25 printable characters, not all digits, none of / @ : # ! % < > \" , ; or backslash, and no leading or trailing space"

static void name_check(const char *what, const char *name)
{
	if (!user_name_valid(name))
		die_perm("invalid %s '%s': %s", what, name, NAME_RULE);
}

/* A forward address goes into envelopes and SMTP commands later, so it must
 * be one plain address: no CR, LF, NUL, space or control character, no
 * angle brackets, a local part and a domain around an '@'. */
static int forward_valid(const char *addr)
{
	const char *at = strrchr(addr, '@');
	size_t i, n = strlen(addr);

	if (!at || at == addr || !at[1] || n > USER_FIELD_MAX_BYTES)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)addr[i];
		if (c <= 0x20 || c >= 0x7f || c == '<' || c == '>')
			return 0;
	}
	return 1;
}

static void forward_check(const char *addr)
{
	if (*addr && !forward_valid(addr))
		die_perm("invalid forward address '%s': need local@domain without spaces, control characters or <>", addr);
}

static unsigned long flags_check(const char *text)
{
	unsigned long flags;

	if (!user_flags_parse(text, &flags))
		die_perm("unknown flag in '%s': known flags are mail-exempt, forward, disabled", text);
	return flags;
}

/* Reads one line from stdin (the trailing LF or CRLF removed). */
static void secret_read_stdin(struct buf *out, const char *what)
{
	int c;

	while ((c = getchar()) != EOF && c != '\n') {
		if (c == 0)
			die_perm("%s holds a NUL byte", what);
		if (out->len >= SECRET_MAX_BYTES)
			die_perm("%s longer than %d bytes", what, SECRET_MAX_BYTES);
		xbuf_catc(out, (char)c);
	}
	if (ferror(stdin))
		die_sys("unable to read %s from stdin", what);
	if (out->len && out->data[out->len - 1] == '\r')
		buf_truncate(out, out->len - 1);
}

/* The secret from --X VALUE or --X-stdin; 0 when neither was given. */
static int secret_take(const char *value, int from_stdin, const char *what, struct buf *out)
{
	if (from_stdin)
		secret_read_stdin(out, what);
	else if (value)
		xbuf_copys(out, value);
	else
		return 0;
	if (out->len == 0)
		die_perm("empty %s", what);
	if (out->len > SECRET_MAX_BYTES)
		die_perm("%s longer than %d bytes", what, SECRET_MAX_BYTES);
	return 1;
}

static void password_store(struct user *u, const char *password, int with_cram)
{
	char hash[PASSWORD_HASH_MAX_BYTES];

	if (!password_hash(password, hash))
		die_temp("unable to hash the password (OpenSSL random source)");
	strcpy(u->password, hash);
	u->cram_md5[0] = 0;
	if (with_cram)
		password_cram_precompute(password, u->cram_md5);
}

/* NAME or NUMBER (all digits: names never are) to a user, or dies. */
static void user_find(struct userdb *db, const char *target, struct user *u)
{
	char *end;
	unsigned long number;
	int r;

	if (target[0] >= '0' && target[0] <= '9') {
		errno = 0;
		number = strtoul(target, &end, 10);
		if (*end || errno || number == 0)
			die_perm("no such user: %s", target);
		r = userdb_get_by_number(db, number, u);
	} else {
		r = userdb_get_by_name(db, target, u);
	}
	if (r < 0)
		die_temp("unable to read user %s: %s", target, strerror(errno));
	if (r == 0)
		die_perm("no such user: %s", target);
}

/* Stores u or dies; a failed write closes the database first so that GDBM
 * releases its lock and syncs what it has. */
static void user_save(struct userdb *db, struct user *u)
{
	int err;

	if (userdb_put(db, u))
		return;
	err = errno;
	if (err == EEXIST)
		die_perm("name or alias already in use: %s%s%s", u->name, u->alias[0] ? ", " : "", u->alias);
	if (err == EINVAL)
		die_perm("invalid name or alias: %s", NAME_RULE);
	userdb_close(db);
	die_temp("unable to write user %s: %s", u->name, strerror(err));
}

/* "forward" without an address would send mail nowhere. */
static void forward_flag_check(const struct user *u)
{
	if ((u->flags & USER_FLAG_FORWARD) && !u->forward[0])
		die_perm("flag forward needs a forward address (--forward ADDR)");
}

int command_init(struct user_args *a, struct userdb *db)
{
	struct userdb fresh;

	(void)a;
	(void)db;
	if (!spool_make_skeleton())
		die_temp("unable to create the spool under %s: %s", home_dir(), strerror(errno));
	if (!userdb_open(&fresh, 1))
		die_temp("unable to create %s/spool/data/users.gdbm: %s", home_dir(),
			 strerror(errno ? errno : EIO));
	userdb_close(&fresh);
	return 0;
}

static unsigned long number_check(const char *text)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(text, &end, 10);
	if (!isdigit((unsigned char)text[0]) || *end || errno || n == 0 || n > 0xffffffffUL)
		die_perm("invalid user number '%s': need 1 to 4294967295", text);
	return n;
}

/* --alias, --forward and --flags, shared by add and set. */
static void fields_apply(const struct user_args *a, struct user *u)
{
	if (a->given & OPT_ALIAS) {
		if (a->alias[0])
			name_check("alias", a->alias);
		strcpy(u->alias, a->alias);
	}
	if (a->given & OPT_FORWARD) {
		forward_check(a->forward);
		strcpy(u->forward, a->forward);
	}
	if (a->given & OPT_FLAGS)
		u->flags = flags_check(a->flags);
	forward_flag_check(u);
}

int command_add(struct user_args *a, struct userdb *db)
{
	struct buf password = BUF_INIT;
	struct user u, existing;
	int r;

	memset(&u, 0, sizeof u);
	name_check("user name", a->target);
	strcpy(u.name, a->target);
	fields_apply(a, &u);
	if (a->given & OPT_NUMBER) {
		u.number = number_check(a->number);
		r = userdb_get_by_number(db, u.number, &existing);
		if (r < 0)
			die_temp("unable to read user %lu: %s", u.number, strerror(errno));
		if (r > 0)
			die_perm("user number %lu already in use", u.number);
	}
	if ((a->given & OPT_PASSWORD) && (a->given & OPT_PASSWORD_STDIN))
		die_perm("give --password or --password-stdin, not both");
	if (secret_take(a->password, a->given & OPT_PASSWORD_STDIN, "password", &password))
		password_store(&u, password.data, !(a->given & OPT_NO_CRAM));
	buf_free(&password);
	user_save(db, &u);
	printf("%lu\n", u.number);
	return 0;
}

int command_del(struct user_args *a, struct userdb *db)
{
	struct user u;

	user_find(db, a->target, &u);
	if (userdb_delete(db, u.number) < 0)
		die_temp("unable to delete user %s: %s", u.name, strerror(errno));
	return 0;
}

int command_passwd(struct user_args *a, struct userdb *db)
{
	struct buf password = BUF_INIT;
	struct user u;

	if (!!(a->given & OPT_PASSWORD) == !!(a->given & OPT_PASSWORD_STDIN))
		die_perm("give exactly one of --password or --password-stdin");
	user_find(db, a->target, &u);
	secret_take(a->password, a->given & OPT_PASSWORD_STDIN, "password", &password);
	password_store(&u, password.data, !(a->given & OPT_NO_CRAM));
	buf_free(&password);
	user_save(db, &u);
	return 0;
}

/* The APOP secret must be stored as it is (RFC 1939 digests it with the
 * timestamp), so it is printable ASCII and fits the record field. */
int command_apop(struct user_args *a, struct userdb *db)
{
	struct buf secret = BUF_INIT;
	struct user u;
	size_t i;
	int count = !!(a->given & OPT_SECRET) + !!(a->given & OPT_SECRET_STDIN) + !!(a->given & OPT_CLEAR);

	if (count != 1)
		die_perm("give exactly one of --secret, --secret-stdin or --clear");
	user_find(db, a->target, &u);
	u.apop[0] = 0;
	if (secret_take(a->secret, a->given & OPT_SECRET_STDIN, "APOP secret", &secret)) {
		if (secret.len > USER_FIELD_MAX_BYTES)
			die_perm("APOP secret longer than %d bytes", USER_FIELD_MAX_BYTES);
		for (i = 0; i < secret.len; i++)
			if ((unsigned char)secret.data[i] < 0x20 || (unsigned char)secret.data[i] >= 0x7f)
				die_perm("APOP secret must be printable ASCII");
		strcpy(u.apop, secret.data);
	}
	buf_free(&secret);
	user_save(db, &u);
	return 0;
}

int command_set(struct user_args *a, struct userdb *db)
{
	struct user u;

	if (!a->given)
		die_perm("nothing to set: give --alias, --forward, --flags or --name");
	user_find(db, a->target, &u);
	if (a->given & OPT_NAME) {
		name_check("user name", a->new_name);
		strcpy(u.name, a->new_name);
	}
	fields_apply(a, &u);
	user_save(db, &u);
	return 0;
}

static const char *set_or_none(const char *value) { return value[0] ? "set" : "none"; }

static void show_line(const char *key, const char *value)
{
	printf("%s:%s%s\n", key, value[0] ? " " : "", value);
}

/* Never prints hashes or secrets, only whether they are there. */
int command_show(struct user_args *a, struct userdb *db)
{
	struct user u;
	char number[24], flags[128];

	user_find(db, a->target, &u);
	snprintf(number, sizeof number, "%lu", u.number);
	user_flags_format(u.flags, flags, sizeof flags);
	show_line("number", number);
	show_line("name", u.name);
	show_line("alias", u.alias);
	show_line("forward", u.forward);
	show_line("flags", flags);
	show_line("password", set_or_none(u.password));
	show_line("cram-md5", set_or_none(u.cram_md5));
	show_line("apop", set_or_none(u.apop));
	return 0;
}

static int list_one(const struct user *u, void *arg)
{
	char flags[128];

	(void)arg;
	user_flags_format(u->flags, flags, sizeof flags);
	printf("%lu\t%s\t%s\t%s\t%s\n", u->number, u->name, u->alias, u->forward, flags);
	return 1;
}

int command_list(struct user_args *a, struct userdb *db)
{
	(void)a;
	if (!userdb_each(db, list_one, NULL))
		die_temp("unable to list users: %s", strerror(errno));
	return 0;
}
