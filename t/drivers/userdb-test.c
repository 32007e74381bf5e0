/* userdb-test: the user database under a fresh home in $TMPDIR: numbering,
 * name and alias indexes (case-insensitive, unique), rename, delete,
 * iteration order, a corrupt record (EBADMSG, skipped by userdb_each), and
 * the name and flag rules. */
#include "check.h"
#include "home.h"
#include "spool.h"
#include "userdb.h"
#include <errno.h>
#include <gdbm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct user make(const char *name, const char *alias)
{
	struct user u;

	memset(&u, 0, sizeof u);
	snprintf(u.name, sizeof u.name, "%s", name);
	snprintf(u.alias, sizeof u.alias, "%s", alias);
	return u;
}

static void test_put_get(struct userdb *db)
{
	struct user a = make("Alice", "Al"), b = make("bob", ""), c = make("carol", ""), got;

	CHECK(userdb_put(db, &a) && a.number == 1);
	CHECK(userdb_put(db, &b) && b.number == 2);
	CHECK(userdb_get_by_name(db, "ALICE", &got) == 1 && got.number == 1 && strcmp(got.name, "Alice") == 0);
	CHECK(userdb_get_by_name(db, "al", &got) == 1 && got.number == 1);
	CHECK(userdb_get_by_name(db, "nobody", &got) == 0);
	CHECK(userdb_get_by_name(db, "", &got) == 0);
	CHECK(userdb_get_by_name(db, "abcdefghijklmnopqrstuvwxyz0123", &got) == 0);
	CHECK(userdb_get_by_number(db, 3, &got) == 0);
	/* Names and aliases share one space, across users, without case. */
	c = make("AL", "");
	errno = 0;
	CHECK(userdb_put(db, &c) == 0 && errno == EEXIST);
	c = make("carol", "BOB");
	errno = 0;
	CHECK(userdb_put(db, &c) == 0 && errno == EEXIST);
	c = make("a/b", "");
	errno = 0;
	CHECK(userdb_put(db, &c) == 0 && errno == EINVAL);
	c = make("carol", "x:y");
	errno = 0;
	CHECK(userdb_put(db, &c) == 0 && errno == EINVAL);
}

static void test_rename_delete(struct userdb *db)
{
	struct user u, got;

	CHECK(userdb_get_by_name(db, "alice", &u) == 1);
	strcpy(u.name, "Alicia");
	strcpy(u.alias, "");
	strcpy(u.forward, "alicia@example.org");
	u.flags = USER_FLAG_FORWARD | USER_FLAG_MAIL_EXEMPT;
	CHECK(userdb_put(db, &u) && u.number == 1);
	CHECK(userdb_get_by_name(db, "alice", &got) == 0);
	CHECK(userdb_get_by_name(db, "al", &got) == 0);
	CHECK(userdb_get_by_name(db, "alicia", &got) == 1 && got.number == 1);
	CHECK(strcmp(got.forward, "alicia@example.org") == 0);
	CHECK(got.flags == (USER_FLAG_FORWARD | USER_FLAG_MAIL_EXEMPT));
	/* The freed names are usable by someone else now. */
	u = make("al", "alice");
	CHECK(userdb_put(db, &u) && u.number == 3);
	CHECK(userdb_delete(db, 3) == 1);
	CHECK(userdb_delete(db, 3) == 0);
	CHECK(userdb_get_by_name(db, "alice", &got) == 0);
	/* Numbers are not reused after a delete. */
	u = make("dave", "");
	CHECK(userdb_put(db, &u) && u.number == 4);
	u = make("erin", "");
	u.number = 10;
	CHECK(userdb_put(db, &u) && u.number == 10);
	u = make("frank", "");
	CHECK(userdb_put(db, &u) && u.number == 11);
}

static int collect(const struct user *u, void *arg)
{
	char *out = arg;
	size_t n = strlen(out);

	snprintf(out + n, 256 - n, "%lu:%s ", u->number, u->name);
	return 1;
}

static void test_each_and_corruption(struct userdb *db)
{
	char seen[256] = "";
	struct user got;
	datum key, value;

	CHECK(userdb_each(db, collect, seen) == 1);
	CHECK(strcmp(seen, "1:Alicia 2:bob 4:dave 10:erin 11:frank ") == 0);
	if (strcmp(seen, "1:Alicia 2:bob 4:dave 10:erin 11:frank ") != 0)
		printf("each gave: %s\n", seen);
	/* A record without its end mark: an error for a reader, skipped by each. */
	key.dptr = (char *)"#2";
	key.dsize = 2;
	value.dptr = (char *)"Nbob";
	value.dsize = 4;
	CHECK(gdbm_store((GDBM_FILE)db->gdbm, key, value, GDBM_REPLACE) == 0);
	errno = 0;
	CHECK(userdb_get_by_number(db, 2, &got) == -1 && errno == EBADMSG);
	CHECK(userdb_get_by_name(db, "bob", &got) == -1);
	seen[0] = 0;
	CHECK(userdb_each(db, collect, seen) == 1);
	CHECK(strcmp(seen, "1:Alicia 4:dave 10:erin 11:frank ") == 0);
}

static void test_rules(void)
{
	unsigned long flags;
	char text[64];

	CHECK(user_name_valid("Joe Sysop") && user_name_valid("a") && user_name_valid("x1"));
	CHECK(user_name_valid("abcdefghijklmnopqrstuvwxy"));
	CHECK(!user_name_valid("abcdefghijklmnopqrstuvwxyz"));
	CHECK(!user_name_valid("") && !user_name_valid("123") && !user_name_valid(" a") && !user_name_valid("a "));
	CHECK(!user_name_valid("a\x01" "b") && !user_name_valid("a\x7f") && !user_name_valid("caf\xc3\xa9"));
	CHECK(!user_name_valid("a/b") && !user_name_valid("a@b") && !user_name_valid("a:b") && !user_name_valid("a#b"));
	CHECK(!user_name_valid("a!b") && !user_name_valid("a%b") && !user_name_valid("<a>") && !user_name_valid("a\\b"));
	CHECK(user_flags_parse("forward,MAIL-EXEMPT", &flags) && flags == (USER_FLAG_FORWARD | USER_FLAG_MAIL_EXEMPT));
	CHECK(user_flags_parse("", &flags) && flags == 0);
	CHECK(user_flags_parse("disabled,,", &flags) && flags == USER_FLAG_DISABLED);
	CHECK(!user_flags_parse("forward,bogus", &flags));
	CHECK(!user_flags_parse("forwardx", &flags));
	user_flags_format(USER_FLAG_DISABLED | USER_FLAG_MAIL_EXEMPT, text, sizeof text);
	CHECK(strcmp(text, "mail-exempt,disabled") == 0);
	user_flags_format(0, text, sizeof text);
	CHECK(text[0] == 0);
	user_flags_format(USER_FLAG_DISABLED | USER_FLAG_MAIL_EXEMPT, text, 5); /* too small: no overrun */
	CHECK(strlen(text) < 5);
}

int main(void)
{
	const char *tmp = getenv("TMPDIR");
	static char dir[256];
	struct userdb db;

	snprintf(dir, sizeof dir, "%s/userdb-test.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 111;
	}
	home_set(dir);
	if (!spool_make_skeleton() || !userdb_open(&db, 1)) {
		perror("userdb-test: set-up");
		return 111;
	}
	test_put_get(&db);
	test_rename_delete(&db);
	test_each_and_corruption(&db);
	userdb_close(&db);
	test_rules();
	return CHECK_DONE();
}
