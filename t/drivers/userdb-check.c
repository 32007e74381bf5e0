/* userdb-check: what a receiver would decide for NAME with PASSWORD, read
 * from the user database of $BBSMAIL_HOME (t/bbsmail-user.bats).  Prints
 *   login ok|bad|none       password_verify against the stored hash
 *   cram-md5 ok|bad|none    the stored states' digest for a challenge vs a
 *                           plain HMAC-MD5 keyed with PASSWORD
 *   apop ok|bad|none        (with a third argument) the stored APOP secret
 * Exit 0 when the user exists, 1 when not, 111 when the database fails. */
#include "password.h"
#include "userdb.h"
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>

static const char challenge[] = "<4242.1700000000@bbs.example>";

static const char *cram_result(const struct user *u, const char *password)
{
	unsigned char mac[16];
	unsigned int len = sizeof mac, i;
	char digest[33], expected[33];

	if (!u->cram_md5[0])
		return "none";
	if (!password_cram_digest(u->cram_md5, challenge, strlen(challenge), digest))
		return "bad";
	HMAC(EVP_md5(), password, (int)strlen(password), (const unsigned char *)challenge,
	     strlen(challenge), mac, &len);
	for (i = 0; i < 16; i++)
		snprintf(expected + 2 * i, 3, "%02x", mac[i]);
	return strcmp(digest, expected) == 0 ? "ok" : "bad";
}

int main(int argc, char **argv)
{
	struct userdb db;
	struct user u;
	int r;

	if (argc < 3) {
		fprintf(stderr, "usage: userdb-check NAME PASSWORD [APOP-SECRET]\n");
		return 100;
	}
	if (!userdb_open(&db, 0)) {
		perror("userdb-check: userdb_open");
		return 111;
	}
	r = userdb_get_by_name(&db, argv[1], &u);
	userdb_close(&db);
	if (r < 0)
		return 111;
	if (r == 0) {
		printf("no such user\n");
		return 1;
	}
	printf("login %s\n", !u.password[0] ? "none" : password_verify(argv[2], u.password) ? "ok" : "bad");
	printf("cram-md5 %s\n", cram_result(&u, argv[2]));
	if (argc > 3)
		printf("apop %s\n", !u.apop[0] ? "none" : strcmp(u.apop, argv[3]) == 0 ? "ok" : "bad");
	return 0;
}
