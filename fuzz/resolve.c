/* Fuzzes the recipient resolver (src/lib/resolve.c), which smtpd runs on
 * every RCPT address and route on every spooled one: the relay tricks,
 * local: / forward: / sub: prefixes, QWK and FidoNet forms, #tags,
 * aliases and user names, against a home with two users, aliases and a
 * sub-board.  Every answer must be a channel or a refusal with a 4xx/5xx
 * code; a local answer must name a user that exists. */
#include "buf.h"
#include "config.h"
#include "home.h"
#include "log.h"
#include "resolve.h"
#include "userdb.h"
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct mail_config cfg;
static struct userdb db;
static struct resolve_context ctx;

static void put_file(const char *dir, const char *relative, const char *text)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", dir, relative);
	if (!(f = fopen(path, "w")) || fputs(text, f) < 0 || fclose(f) != 0)
		abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static char dir[] = "/tmp/bbsmail-fuzz-resolve.XXXXXX";
	static const char *const dirs[] = { "etc", "etc/db", "spool", "spool/data" };
	static const char *const names[] = { "sysop", "demo", "Rob Walker" };
	char path[4096];
	struct user u;
	size_t i;

	(void)argc, (void)argv;
	log_set_level(LOG_LEVEL_ERROR);
	if (!mkdtemp(dir))
		abort();
	home_set(dir);
	for (i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, dirs[i]);
		mkdir(path, 0700);
	}
	put_file(dir, "etc/alias.cfg", "cnnreport sub:news\nloop1 loop2\nloop2 loop1\nout someone@far.example\n"
		 "both demo\n");
	put_file(dir, "etc/db/localnames", "bbs.example\n*.local.example\n");
	put_file(dir, "etc/boards.cfg", "news anyone 64K - spool/boards/news News\n"
		 "staff local - - spool/boards/staff Staff\n");
	if (!userdb_open(&db, 1))
		abort();
	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		memset(&u, 0, sizeof u);
		snprintf(u.name, sizeof u.name, "%s", names[i]);
		if (!userdb_put(&db, &u))
			abort();
	}
	userdb_close(&db);
	if (!userdb_open(&db, 0))
		abort();
	mail_config_defaults(&cfg);
	snprintf(cfg.host_name, sizeof cfg.host_name, "localhost");
	if (!resolve_context_load(&ctx, &cfg, &db))
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct resolve_result res;
	struct user u;
	char *address;

	if (size > 1024 || !(address = malloc(size + 1)))
		return 0;
	memcpy(address, data, size);
	address[size] = 0;
	ctx.sender = "someone@far.example";
	ctx.auth_user = NULL;
	ctx.declared_size = size * 100;
	resolve_result_init(&res);
	if (resolve_recipient(&ctx, address, &res)) {
		if (res.channel == RESOLVE_REJECT && (res.code < 400 || res.code > 599 || !res.enhanced[0]))
			__builtin_trap();
		if (res.channel == RESOLVE_LOCAL && userdb_get_by_number(&db, res.usernum, &u) != 1)
			__builtin_trap();
		if (res.channel != RESOLVE_REJECT && res.channel != RESOLVE_LOCAL && !res.target.len)
			__builtin_trap();
	}
	resolve_result_free(&res);
	free(address);
	return 0;
}
