/* userdb: the BBS user database, a GDBM file spool/data/users.gdbm.
 * BBS users are virtual (records here, not Unix accounts).  Keys:
 *   "#<number>"       -> the user record (record.h fields, see bbsmail-user(8))
 *   "n:<lower name>"  -> number      "a:<lower alias>" -> number
 *   "next"            -> the next free user number
 * Behind this one small interface so it can move to a shared store. */
#ifndef BBSMAIL_USERDB_H
#define BBSMAIL_USERDB_H
#include <stddef.h>

#define USER_NAME_MAX_BYTES 25       /* Synchronet's LEN_ALIAS */
#define USER_FIELD_MAX_BYTES 255
#define USER_SYSOP_NUMBER 1UL

#define USER_FLAG_MAIL_EXEMPT 0x1UL  /* no MaxMsgsWaiting limit (Synchronet W exemption) */
#define USER_FLAG_FORWARD     0x2UL  /* forward mail to the forward address */
#define USER_FLAG_DISABLED    0x4UL  /* no login, mail refused */

struct user {
	unsigned long number;
	char name[USER_NAME_MAX_BYTES + 1];      /* login name, unique, case-insensitive */
	char alias[USER_NAME_MAX_BYTES + 1];     /* optional second name, unique too */
	char password[USER_FIELD_MAX_BYTES + 1]; /* "$pbkdf2-sha256$<iter>$<salt hex>$<hash hex>", "" = no login */
	char cram_md5[USER_FIELD_MAX_BYTES + 1]; /* hex of the precomputed HMAC-MD5 states, "" = none */
	char apop[USER_FIELD_MAX_BYTES + 1];     /* the APOP secret, "" = no APOP */
	char forward[USER_FIELD_MAX_BYTES + 1];  /* external address, "" = none */
	unsigned long flags;                     /* USER_FLAG_* */
};

struct userdb {
	void *gdbm;  /* GDBM_FILE, kept opaque so callers need no gdbm.h */
	int writable;
};

/* Opens <home>/spool/data/users.gdbm (created when writable).  Waits up to
 * 2 s for a writer's lock.  1 ok, 0 errno. */
int userdb_open(struct userdb *db, int writable);
void userdb_close(struct userdb *db);

/* 1 found, 0 not found, -1 error (errno). */
int userdb_get_by_number(struct userdb *db, unsigned long number, struct user *u);
/* By name, then by alias; case-insensitive. */
int userdb_get_by_name(struct userdb *db, const char *name, struct user *u);
/* Adds (number 0: the next free number, stored back) or replaces a user,
 * keeping the name and alias indexes.  0 with EEXIST when the name or alias
 * belongs to another user, EINVAL for an invalid name; 1 ok. */
int userdb_put(struct userdb *db, struct user *u);
/* 1 deleted, 0 not found, -1 error. */
int userdb_delete(struct userdb *db, unsigned long number);
/* Calls fn for every user in number order; stops when fn returns 0. */
int userdb_each(struct userdb *db, int (*fn)(const struct user *u, void *arg), void *arg);

/* 1 when name is usable: 1..25 bytes, printable, no '/', '@', ':', '#', '!'
 * or '%', not all digits, no leading/trailing space. */
int user_name_valid(const char *name);
/* "mail-exempt,forward" <-> flags.  0 on an unknown flag name. */
int user_flags_parse(const char *s, unsigned long *flags);
void user_flags_format(unsigned long flags, char *out, size_t size);

#endif
