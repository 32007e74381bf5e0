/* Fuzzes a whole SASL exchange (src/lib/sasl.c: PLAIN, LOGIN, CRAM-MD5)
 * against a real user database: the first input line is what follows
 * "AUTH " (mechanism and optional initial response), each further line
 * one response.  An exchange may only ever log in as the one user there
 * is, and must never crash. */
#include "buf.h"
#include "home.h"
#include "log.h"
#include "password.h"
#include "sasl.h"
#include "userdb.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_PASSWORD "fuzz-secret"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static char dir[] = "/tmp/bbsmail-fuzz-sasl.XXXXXX";
	char path[4096];
	struct userdb db;
	struct user u;

	(void)argc, (void)argv;
	log_set_level(LOG_LEVEL_ERROR);
	if (!mkdtemp(dir))
		abort();
	home_set(dir);
	snprintf(path, sizeof path, "%s/spool", dir);
	mkdir(path, 0700);
	snprintf(path, sizeof path, "%s/spool/data", dir);
	mkdir(path, 0700);
	memset(&u, 0, sizeof u);
	snprintf(u.name, sizeof u.name, "demo");
	if (!password_hash(FUZZ_PASSWORD, u.password))
		abort();
	password_cram_precompute(FUZZ_PASSWORD, u.cram_md5);
	if (!userdb_open(&db, 1) || !userdb_put(&db, &u))
		abort();
	userdb_close(&db);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size, *nl;
	struct buf first = BUF_INIT;
	struct sasl s;
	enum sasl_result r;
	char *space;
	int steps = 0;

	nl = memchr(p, '\n', size);
	if (!buf_copy(&first, p, nl ? (size_t)(nl - p) : size) || memchr(first.data, 0, first.len)) {
		buf_free(&first);
		return 0;
	}
	p = nl ? nl + 1 : end;
	space = strchr(first.data, ' ');
	if (space)
		*space++ = 0;
	sasl_init(&s, "fuzz.example", size & 1);
	sasl_set_login_prompts(&s, "Username:", "Password:");
	r = sasl_start(&s, first.data, space);
	while (r == SASL_CONTINUE && p < end && steps++ < 8) {
		nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		if (len > SASL_RESPONSE_MAX_BYTES)
			break;
		r = sasl_step(&s, p, len);
		p = nl ? nl + 1 : end;
	}
	if (r == SASL_DONE && strcmp(s.user.name, "demo") != 0)
		__builtin_trap();   /* logged in as someone who does not exist */
	sasl_free(&s);
	buf_free(&first);
	return 0;
}
