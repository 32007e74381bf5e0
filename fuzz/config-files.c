/* Fuzzes the readers of the files an administrator writes: the first
 * input byte picks etc/mail.ini, etc/smtpserver.conf, etc/boards.cfg,
 * etc/alias.cfg with etc/db/localnames (the resolver's loader), a list
 * file (listfile.c), etc/dns_blacklist.cfg or etc/dnsbl_exempt.cfg
 * (matched against clients and senders); the rest is the file.  A bad file must give an error
 * text or a logged warning, never a crash. */
#include "board.h"
#include "config.h"
#include "dnsbl.h"
#include "hostlist.h"
#include "home.h"
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
		put_file("etc/dnsbl_exempt.cfg", data, size, path, sizeof path);
		(void)hostlist_match_client("etc/dnsbl_exempt.cfg", "192.0.2.77", "mx.example.org");
		(void)hostlist_match_client("etc/dnsbl_exempt.cfg", "2001:db8::77", NULL);
		(void)hostlist_match_address("etc/dnsbl_exempt.cfg", "someone@example.org");
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
