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
#include "spool.h"
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
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

/* Modes wider than scripts/set-permissions makes them: warnings, since a
 * single-user home (make run, the tests) is fine as it is. */
static const struct {
	const char *relative;
	mode_t forbidden;
	const char *why;
} mode_rules[] = {
	{ "etc", 0002, "anyone may replace the configuration" },
	{ "etc/mail.ini", 0006, "it holds RelayPassword" },     /* only then */
	{ "etc/tls/key.pem", 0006, "it is the TLS private key" },
	{ "spool", 0002, "anyone may add or remove queue files" },
	{ "spool/data", 0007, "it holds the user database and the throttle tables" },
	{ "spool/data/users.gdbm", 0006, "it holds the users' password hashes" },
	{ "spool/incoming", 0007, "queued mail is private, and only the receivers may add to it" },
	{ "spool/queue", 0007, "queued mail is private" },
	{ "spool/tmp", 0007, "files being written are private" },
	{ "spool/mailbox", 0007, "the mailboxes are private" },
};

static int check_modes(const struct mail_config *cfg)
{
	char path[PATH_MAX];
	struct stat st;
	size_t i;
	int warned = 0;

	for (i = 0; i < sizeof mode_rules / sizeof mode_rules[0]; i++) {
		if (!home_path(path, sizeof path, mode_rules[i].relative) || lstat(path, &st) != 0)
			continue;
		if (strcmp(mode_rules[i].relative, "etc/mail.ini") == 0 && !cfg->relay_password[0])
			continue;
		if (st.st_mode & mode_rules[i].forbidden) {
			log_warn("%s is mode %04o: %s (scripts/set-permissions)", path, (unsigned)(st.st_mode & 07777),
				 mode_rules[i].why);
			warned++;
		}
	}
	/* The drop directory may be written by a group only with the sticky
	 * bit (nobody removes another's file) and no read (nobody lists them). */
	if (home_path(path, sizeof path, SPOOL_DROP_DIR) && lstat(path, &st) == 0 && (st.st_mode & 0022)
	    && (!(st.st_mode & S_ISVTX) || (st.st_mode & 0044))) {
		log_warn("%s is mode %04o: writable by others without the sticky bit, or listable "
			 "(scripts/set-permissions: 3730)", path, (unsigned)(st.st_mode & 07777));
		warned++;
	}
	return warned;
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
	(void)check_modes(&cfg);
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
