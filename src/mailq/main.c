/* mailq: lists what is queued (mailq(1)); -r requeues a message's deferred
 * copies, -x deletes a message.  The work is in list.c, requeue.c and
 * delete.c (mailq.h). */
#include "mailq.h"
#include "home.h"
#include "config.h"
#include "log.h"
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define USAGE "mailq [-c] [-r ID|ALL] [-x ID] [-d DIR]"

struct mailq_args {
	int count_only;
	const char *requeue;   /* -r */
	const char *delete;    /* -x */
};

/* An id names files inside spool directories: never a path. */
static int mailq_id_valid(const char *id)
{
	return *id && *id != '.' && !strchr(id, '/') && strlen(id) < 256;
}

static void mailq_parse_args(struct mailq_args *a, int argc, char **argv)
{
	int opt;

	memset(a, 0, sizeof *a);
	while ((opt = getopt(argc, argv, "cr:x:d:")) != -1) {
		switch (opt) {
		case 'c': a->count_only = 1; break;
		case 'r': a->requeue = optarg; break;
		case 'x': a->delete = optarg; break;
		case 'd': home_set(optarg); break;
		default: die_usage(USAGE);
		}
	}
	if (optind != argc || (a->requeue && a->delete) || ((a->requeue || a->delete) && a->count_only))
		die_usage(USAGE);
	if ((a->requeue && !mailq_id_valid(a->requeue)) || (a->delete && !mailq_id_valid(a->delete)))
		die_usage(USAGE);
}

/* NO_SENDMAIL: the remote jobs listed are not going anywhere; said (when
 * there are some) on
 * stderr so the listing's format stays the same for scripts. */
static void mailq_say_if_sending_is_off(void)
{
	struct mail_config cfg;
	char error[256];

	mail_config_defaults(&cfg);
	if (mail_config_load(&cfg, NULL, error, sizeof error) && (cfg.options & MAIL_OPTION(NO_SENDMAIL)))
		log_notice("remote delivery is off (NO_SENDMAIL in mail.ini): remote jobs wait until it is removed");
}

int main(int argc, char **argv)
{
	struct mailq_args a;
	struct mailq_list q;

	log_set_program("mailq");
	mailq_parse_args(&a, argc, argv);
	if (a.requeue)
		return mailq_requeue(a.requeue);
	if (a.delete)
		return mailq_delete(a.delete);
	memset(&q, 0, sizeof q);
	q.count_only = a.count_only;
	q.now = time(NULL);
	mailq_list(&q);
	if (q.count_only)
		printf("%lu\n", q.count);
	else if (q.remote && fflush(stdout) == 0)
		mailq_say_if_sending_is_off();   /* after the listing */
	buf_free(&q.line);
	if (fflush(stdout) != 0 || ferror(stdout))
		die_sys("unable to write the listing");
	return 0;
}
