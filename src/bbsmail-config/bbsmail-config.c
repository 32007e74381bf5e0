/* bbsmail-config: reads etc/mail.ini and etc/smtpserver.conf the way every
 * bbsmail program does, so scripts (make run, a sysop's cron job) can ask
 * for a value instead of parsing the files again.
 *   bbsmail-config [-d DIR] -c            check the files (warnings on stderr)
 *   bbsmail-config [-d DIR] KEY...        print each mail.ini value, one a line
 *   bbsmail-config [-d DIR] -o FLAG       exit 0 if Options has FLAG, 1 if not
 *   bbsmail-config [-d DIR] -p PARAM      print a smtpserver.conf PARAM (exit 1 if unset) */
#include "board.h"
#include "config.h"
#include "dnsbl.h"
#include "fido.h"
#include "home.h"
#include "log.h"
#include "qwknet.h"
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define USAGE "bbsmail-config [-d DIR] (-c | -o FLAG | -p PARAM | KEY...)"

static int print_keys(const struct mail_config *cfg, char **keys, int count)
{
	char value[4096];
	int i;

	for (i = 0; i < count; i++) {
		if (!mail_config_format(cfg, keys[i], value, sizeof value))
			die_perm("unknown key %s", keys[i]);
		printf("%s\n", value);
	}
	return 0;
}

/* The files that must be right as a whole (one bad line stops their
 * channel with a temporary failure): all checked, each problem printed. */
static int check_strict_files(void)
{
	struct board_list boards;
	struct qwknet qwknet;
	struct fido_config fido;
	char error[PATH_MAX + 256];
	int bad = 0;

	if (board_list_load(&boards, error, sizeof error))
		board_list_free(&boards);
	else
		log_error("%s", error), bad = 1;
	if (qwknet_load(&qwknet, error, sizeof error))
		qwknet_free(&qwknet);
	else
		log_error("%s", error), bad = 1;
	if (fido_config_load(&fido, error, sizeof error))
		fido_config_free(&fido);
	else
		log_error("%s", error), bad = 1;
	return bad;
}

static int check_files(void)
{
	struct smtpserver_conf conf;
	struct mail_config cfg;
	struct dnsbl_zones zones;
	char error[512];

	if (!mail_config_load(&cfg, NULL, error, sizeof error))
		die_perm("%s", error);
	if (!smtpserver_conf_load(&conf, NULL, error, sizeof error))
		die_perm("%s", error);
	smtpserver_conf_free(&conf);
	(void)dnsbl_zones_load(&zones, DNSBL_FILE);   /* a bad line is a warning */
	return check_strict_files() ? EXIT_PERMANENT : 0;
}

static int print_param(const char *name)
{
	struct smtpserver_conf conf;
	char error[512];
	const char *value;

	if (!smtpserver_conf_load(&conf, NULL, error, sizeof error))
		die_temp("%s", error);
	value = smtpserver_conf_get(&conf, name);
	if (value)
		printf("%s\n", value);
	smtpserver_conf_free(&conf);
	return value ? 0 : 1;
}

int main(int argc, char **argv)
{
	struct mail_config cfg;
	int opt, bit;

	log_set_program("bbsmail-config");
	while ((opt = getopt(argc, argv, "d:co:p:")) != -1) {
		switch (opt) {
		case 'd': home_set(optarg); break;
		case 'c': return check_files();
		case 'o':
			bit = mail_option_bit(optarg);
			if (bit < 0)
				die_perm("unknown Options flag %s", optarg);
			xmail_config_load(&cfg);
			return (cfg.options & (1ULL << bit)) ? 0 : 1;
		case 'p': return print_param(optarg);
		default: die_usage(USAGE);
		}
	}
	if (optind >= argc)
		die_usage(USAGE);
	xmail_config_load(&cfg);
	return print_keys(&cfg, argv + optind, argc - optind);
}
