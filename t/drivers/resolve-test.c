/* resolve-test ADDRESS...: prints what resolve_recipient() makes of each
 * address, one line each, for t/resolve.bats. */
#include "config.h"
#include "log.h"
#include "resolve.h"
#include "userdb.h"
#include <stdio.h>

int main(int argc, char **argv)
{
	struct mail_config cfg;
	struct resolve_context ctx;
	struct resolve_result res;
	struct userdb db;
	int i;

	log_set_program("resolve-test");
	xmail_config_load(&cfg);
	if (!userdb_open(&db, 0))
		die_sys("unable to open user database");
	if (!resolve_context_load(&ctx, &cfg, &db))
		die_sys("unable to load resolver context");
	resolve_result_init(&res);
	for (i = 1; i < argc; i++) {
		if (!resolve_recipient(&ctx, argv[i], &res)) {
			printf("%s -> tempfail\n", argv[i]);
			continue;
		}
		if (res.channel == RESOLVE_REJECT)
			printf("%s -> reject %d %s relay=%d %s\n", argv[i], res.code, res.enhanced,
			       res.is_relay, res.reason.data);
		else
			printf("%s -> %s user=%lu target=%s relay=%d\n", argv[i],
			       resolve_channel_name(res.channel), res.usernum,
			       res.target.len ? res.target.data : "-", res.is_relay);
	}
	resolve_result_free(&res);
	resolve_context_free(&ctx);
	userdb_close(&db);
	return 0;
}
