/* Fuzzes the readers of the files an administrator writes: the first
 * input byte picks etc/mail.ini, etc/smtpserver.conf, etc/boards.cfg,
 * etc/alias.cfg with etc/db/localnames (the resolver's loader), a list
 * file (listfile.c), etc/dns_blacklist.cfg or etc/dnsbl_exempt.cfg
 * (matched against clients and senders); the rest is the file.  A bad file must give an error
 * text or a logged warning, never a crash.  dnsbl_exempt.cfg is also
 * asked as subject.can and ip.can would be, once parsed line by line and
 * once through its compiled form (listcache.c), and the answers must be
 * the same. */
#include "board.h"
#include "config.h"
#include "dnsbl.h"
#include "hostlist.h"
#include "home.h"
#include "listcache.h"
#include "listfile.h"
#include "log.h"
#include "resolve.h"
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[] = "/tmp/bbsmail-fuzz-config.XXXXXX";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char path[4096];

	(void)argc, (void)argv;
	log_set_level(LOG_LEVEL_ERROR);
	if (!mkdtemp(dir))
		abort();
	home_set(dir);
	snprintf(path, sizeof path, "%s/etc", dir);
	mkdir(path, 0700);
	snprintf(path, sizeof path, "%s/etc/db", dir);
	mkdir(path, 0700);
	snprintf(path, sizeof path, "%s/spool", dir);
	mkdir(path, 0700);
	snprintf(path, sizeof path, "%s/spool/data", dir);
	mkdir(path, 0700);
	/* Every file here is new: compile it all the same (the forms are
	 * removed before each input, so no stale one is ever read). */
	listcache_set_settle_sec(0);
	return 0;
}

/* Writes the file under the home; its path in out. */
static void put_file(const char *relative, const uint8_t *data, size_t size, char *out, size_t out_size)
{
	int fd;

	snprintf(out, out_size, "%s/%s", dir, relative);
	fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || (size && write(fd, data, size) != (ssize_t)size) || close(fd) != 0)
		abort();
}

#define LIST_QUESTIONS 10

/* The questions asked of a list file, each answer into r. */
static void ask_list(int r[LIST_QUESTIONS])
{
	const char *f = "etc/dnsbl_exempt.cfg";

	r[0] = hostlist_match_client(f, "192.0.2.77", "mx.example.org");
	r[1] = hostlist_match_client(f, "2001:db8::77", NULL);
	r[2] = hostlist_match_client(f, "10.1.2.3", "a.b.Example.ORG");
	r[3] = hostlist_match_address(f, "someone@example.org");
	r[4] = hostlist_match_address(f, "a.b@c@sub.Example.org");
	r[5] = hostlist_match_pattern(f, "Get cheap pills now");
	r[6] = hostlist_match_pattern(f, "192.0.2.77");
	r[7] = hostlist_match_ip_can(f, "192.0.2.77");
	r[8] = hostlist_match_ip_can(f, "::ffff:10.1.2.3");
	r[9] = hostlist_match_ip_can(f, "2001:db8::77");
}

/* The forms of etc/dnsbl_exempt.cfg, so the next input builds its own. */
static void remove_forms(void)
{
	static const char *const kind[] = { "client", "address", "pattern", "ipcan" };
	char path[4096];
	size_t i;

	for (i = 0; i < sizeof kind / sizeof kind[0]; i++) {
		snprintf(path, sizeof path, "%s/spool/data/lists/dnsbl_exempt.cfg.%s", dir, kind[i]);
		unlink(path);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[4096], error[512];
	unsigned pick, flags;

	if (!size)
		return 0;
	pick = data[0] % 7;
	flags = (unsigned)(data[0] >> 3) & 0x0f;
	data++, size--;
	if (pick == 0) {
		struct mail_config cfg;
		mail_config_defaults(&cfg);
		put_file("etc/mail.ini", data, size, path, sizeof path);
		(void)mail_config_load(&cfg, path, error, sizeof error);
	} else if (pick == 1) {
		struct smtpserver_conf conf;
		memset(&conf, 0, sizeof conf);
		put_file("etc/smtpserver.conf", data, size, path, sizeof path);
		if (smtpserver_conf_load(&conf, path, error, sizeof error)) {
			(void)smtpserver_conf_get(&conf, "contentfilter");
			(void)smtpserver_conf_flag(&conf, "VRFYcmd");
			(void)smtpserver_conf_helo(&conf, "client.example");
		}
		smtpserver_conf_free(&conf);
	} else if (pick == 2) {
		struct board_list list;
		memset(&list, 0, sizeof list);
		put_file("etc/boards.cfg", data, size, path, sizeof path);
		if (board_list_load(&list, error, sizeof error))
			(void)board_find(&list, "general");
		board_list_free(&list);
	} else if (pick == 3) {
		struct mail_config cfg;
		struct resolve_context ctx;
		const uint8_t *cut = memchr(data, 0, size);
		size_t first = cut ? (size_t)(cut - data) : size;
		mail_config_defaults(&cfg);
		put_file("etc/alias.cfg", data, first, path, sizeof path);
		put_file("etc/db/localnames", cut ? cut + 1 : data, cut ? size - first - 1 : 0, path, sizeof path);
		memset(&ctx, 0, sizeof ctx);
		if (resolve_context_load(&ctx, &cfg, NULL))
			resolve_context_free(&ctx);
	} else if (pick == 5) {
		struct dnsbl_zones zones;
		size_t i;
		put_file("etc/dns_blacklist.cfg", data, size, path, sizeof path);
		/* What is loaded is a valid name with a bounded answer list. */
		if (dnsbl_zones_load(&zones, "etc/dns_blacklist.cfg"))
			for (i = 0; i < zones.count; i++)
				if (!dns_name_valid(zones.zone[i].name) || zones.zone[i].answer_count > DNSBL_ANSWERS_MAX
				    || dnsbl_answer_counts(&zones.zone[i], 0x0a000001u))
					__builtin_trap();
	} else if (pick == 6) {
		int direct[LIST_QUESTIONS], compiled[LIST_QUESTIONS], i;
		put_file("etc/dnsbl_exempt.cfg", data, size, path, sizeof path);
		remove_forms();
		hostlist_set_compile_min_bytes(-1);
		ask_list(direct);
		hostlist_set_compile_min_bytes(0);
		ask_list(compiled);
		for (i = 0; i < LIST_QUESTIONS; i++)
			if (direct[i] != compiled[i])
				__builtin_trap();
	} else {
		struct listfile lf;
		char *line, *key, *value;
		size_t len;
		put_file("etc/list.can", data, size, path, sizeof path);
		if (listfile_open(&lf, path, flags)) {
			while (listfile_next(&lf, &line, &len) > 0)
				listfile_split(line, &key, &value);
			listfile_error_text(&lf, error, sizeof error);
			listfile_close(&lf);
		}
	}
	return 0;
}
