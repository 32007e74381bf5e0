/* pickup: the stage before route (pickup(8)).  Finishes what a killed run
 * left in spool/tmp/, then turns every complete file of spool/drop/ into
 * spool/incoming/<id>.  Not on the stage driver: its input is not a spool
 * record but a file a local user wrote, which must be checked before
 * anything is read from it (owner, type, links, size), and it produces a
 * new message rather than moving a claimed one on.  runq starts it first. */
#include "config.h"
#include "log.h"
#include "pickup.h"
#include "stage.h"
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#define USAGE "pickup [-d DIR]"

struct pickup_counts {
	unsigned long done, later;
};

static void pickup_log_done(const char *name, const struct pickup_result *res)
{
	struct buf q = BUF_INIT, s = BUF_INIT;

	log_info("id=%s event=accept drop=%s uid=%lu user=%s from=<%s> rcpt=%zu size=%zu", res->id,
		 xlog_value(&q, name), res->uid, res->login, xlog_value(&s, res->sender.data ? res->sender.data : ""),
		 res->rcpt_count, res->size);
	buf_free(&q);
	buf_free(&s);
}

static void pickup_scan(struct pickup *p, struct pickup_counts *c)
{
	struct pickup_result res;
	struct dirent *d;
	DIR *dh = opendir(p->drop_dir);

	if (!dh) {
		log_warn("unable to open %s: %s", p->drop_dir, strerror(errno));
		c->later++;
		return;
	}
	memset(&res, 0, sizeof res);
	while ((d = readdir(dh))) {
		if (d->d_name[0] == '.' && (!d->d_name[1] || (d->d_name[1] == '.' && !d->d_name[2])))
			continue;
		switch (pickup_file(p, d->d_name, &res)) {
		case PICKUP_DONE:
			pickup_log_done(d->d_name, &res);
			c->done++;
			break;
		case PICKUP_LATER:
			c->later++;
			break;
		default:
			break;
		}
	}
	closedir(dh);
	pickup_result_free(&res);
}

int main(int argc, char **argv)
{
	struct mail_config cfg;
	struct pickup p;
	struct pickup_counts c = { 0, 0 };
	char error[512];

	log_set_program("pickup");
	xstage_parse_args(argc, argv, USAGE);
	mail_config_defaults(&cfg);
	if (!mail_config_load(&cfg, NULL, error, sizeof error))
		die_temp("%s", error);
	if (!pickup_init(&p, &cfg))
		die_temp("home path too long");
	c.later += pickup_recover(&p);
	pickup_scan(&p, &c);
	if (c.done)
		spool_poke_trigger();
	return c.later ? EXIT_TEMPORARY : 0;
}
