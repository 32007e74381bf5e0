/* config-test: mail.ini defaults, value syntax (sizes, durations, Options),
 * warnings and errors naming file:line, [global] vs [mail]; smtpserver.conf
 * PARAM values (quotes, trailing comments, no-<name>, groups) and HELO
 * patterns.  Files go in a fresh directory under $TMPDIR; warnings are
 * caught by pointing stderr at a file while a file loads. */
#include "check.h"
#include "config.h"
#include "listfile.h"
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[256];
static char path[512];
static char warnings[4096];

static void write_file(const char *name, const char *text, size_t len)
{
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f || fwrite(text, 1, len, f) != len || fclose(f) != 0) {
		perror(path);
		exit(111);
	}
}

/* stderr into a file while fn runs; the text lands in warnings[]. */
static int capture_stderr_begin(void)
{
	char wpath[600];
	int saved = dup(2), fd;

	snprintf(wpath, sizeof wpath, "%s/stderr", dir);
	fd = open(wpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	dup2(fd, 2);
	close(fd);
	return saved;
}

static void capture_stderr_end(int saved)
{
	char wpath[600];
	FILE *f;
	size_t n;

	dup2(saved, 2);
	close(saved);
	snprintf(wpath, sizeof wpath, "%s/stderr", dir);
	f = fopen(wpath, "r");
	n = f ? fread(warnings, 1, sizeof warnings - 1, f) : 0;
	warnings[n] = 0;
	if (f)
		fclose(f);
}

#define INI(text) load_ini(text, sizeof text - 1, &cfg, error)
static int load_ini(const char *text, size_t len, struct mail_config *cfg, char error[512])
{
	int saved, ok;

	write_file("mail.ini", text, len);
	error[0] = 0;
	saved = capture_stderr_begin();
	ok = mail_config_load(cfg, path, error, 512);
	capture_stderr_end(saved);
	return ok;
}

static void test_defaults(void)
{
	struct mail_config cfg;
	char error[512], missing[600];

	snprintf(missing, sizeof missing, "%s/no-such-mail.ini", dir);
	CHECK(mail_config_load(&cfg, missing, error, sizeof error) == 1);
	CHECK(strcmp(cfg.host_name, "localhost") == 0);
	CHECK(cfg.smtp_port == 25 && cfg.submission_port == 587 && cfg.tls_submission_port == 465);
	CHECK(cfg.pop3_port == 110 && cfg.tls_pop3_port == 995 && cfg.relay_port == 25);
	CHECK(cfg.max_msg_size_bytes == 20ULL * 1024 * 1024);
	CHECK(cfg.max_recipients == 100 && cfg.max_msgs_waiting == 100);
	CHECK(cfg.max_inactivity_sec == 120 && cfg.rescan_frequency_sec == 3600);
	CHECK(cfg.max_delivery_attempts == 50 && cfg.connect_timeout_sec == 30);
	CHECK(cfg.auth_via_ip_window_sec == 1800 && cfg.login_attempt_temp_ban_duration_sec == 600);
	CHECK(cfg.options == MAIL_OPTION(ALLOW_POP3));
	CHECK(cfg.log_level == 6);
	CHECK(strcmp(cfg.dnsbl_header, "X-DNSBL") == 0 && strcmp(cfg.dnsbl_subject, "SPAM") == 0);
	CHECK(cfg.default_user[0] == 0 && cfg.tls_cert_file[0] == 0);
}

static void test_value_syntax(void)
{
	unsigned long long size;
	unsigned long sec, n;

	CHECK(config_parse_size("20MB", &size) && size == 20971520ULL);
	CHECK(config_parse_size("20M", &size) && size == 20971520ULL);
	CHECK(config_parse_size("512K", &size) && size == 524288ULL);
	CHECK(config_parse_size("5kb", &size) && size == 5120ULL);
	CHECK(config_parse_size("1G", &size) && size == 1073741824ULL);
	CHECK(config_parse_size("100", &size) && size == 100ULL);
	CHECK(config_parse_size("100B", &size) && size == 100ULL);
	CHECK(config_parse_size("0", &size) && size == 0ULL);
	CHECK(!config_parse_size("", &size) && !config_parse_size("MB", &size));
	CHECK(!config_parse_size("-1", &size) && !config_parse_size("20MBX", &size));
	CHECK(!config_parse_size("20 MB", &size) && !config_parse_size("20T", &size));
	CHECK(!config_parse_size("99999999999999999G", &size));
	CHECK(!config_parse_size("99999999999999999999999", &size));
	CHECK(config_parse_duration("60M", &sec) && sec == 3600);
	CHECK(config_parse_duration("2h", &sec) && sec == 7200);
	CHECK(config_parse_duration("30", &sec) && sec == 30);
	CHECK(config_parse_duration("30s", &sec) && sec == 30);
	CHECK(config_parse_duration("1D", &sec) && sec == 86400);
	CHECK(config_parse_duration("1w", &sec) && sec == 604800);
	CHECK(!config_parse_duration("", &sec) && !config_parse_duration("5x", &sec));
	CHECK(!config_parse_duration("1hh", &sec) && !config_parse_duration("-5", &sec));
	CHECK(config_parse_ulong("42", &n) && n == 42);
	CHECK(!config_parse_ulong("42x", &n) && !config_parse_ulong("", &n) && !config_parse_ulong("-1", &n));
}

static void test_options(void)
{
	struct mail_config cfg;
	char error[512], expect[700];

	CHECK(INI("[mail]\nOptions = ALLOW_POP3 | ALLOW_SYSOP_ALIASES\n") == 1);
	CHECK(cfg.options == (MAIL_OPTION(ALLOW_POP3) | MAIL_OPTION(ALLOW_SYSOP_ALIASES)));
	CHECK(warnings[0] == 0);
	CHECK(INI("[mail]\nOptions = allow_relay|MUTE|NO_HOST_LOOKUP\n") == 1);
	CHECK(cfg.options == (MAIL_OPTION(ALLOW_RELAY) | MAIL_OPTION(MUTE) | MAIL_OPTION(NO_HOST_LOOKUP)));
	CHECK(INI("[mail]\nOptions = 0\n") == 1 && cfg.options == 0 && warnings[0] == 0);
	CHECK(INI("[mail]\nHostName = h\nOptions = ALLOW_POP3 | BOGUS_FLAG\n") == 1);
	CHECK(cfg.options == MAIL_OPTION(ALLOW_POP3));
	snprintf(expect, sizeof expect, "warning: %s:3: unknown Options flag BOGUS_FLAG\n", path);
	CHECK(strstr(warnings, expect) != NULL);
	CHECK(strcmp(mail_option_name(MAIL_OPTION_BIT_DNSBL_SPAMHASH), "DNSBL_SPAMHASH") == 0);
	CHECK(strcmp(mail_option_name(MAIL_OPTION_COUNT), "?") == 0);
}

static void test_long_ini_line(char *expect, size_t size)
{
	static char text[LISTFILE_LINE_MAX_BYTES + 64];
	struct mail_config cfg;
	char error[512];
	size_t n;

	n = (size_t)snprintf(text, sizeof text, "[mail]\nHostName = ok\nDefaultUser = ");
	memset(text + n, 'u', LISTFILE_LINE_MAX_BYTES);
	memcpy(text + n + LISTFILE_LINE_MAX_BYTES, "\n", 1);
	write_file("mail.ini", text, n + LISTFILE_LINE_MAX_BYTES + 1);
	CHECK(mail_config_load(&cfg, path, error, sizeof error) == 0);
	snprintf(expect, size, "%s:3: line longer than %d bytes", path, LISTFILE_LINE_MAX_BYTES);
	CHECK(strcmp(error, expect) == 0);
}

static void test_warnings_and_errors(void)
{
	struct mail_config cfg;
	char error[512], expect[700];

	CHECK(INI("; comment\n[mail]\nFrobnicate = 1\nMaxRecipients = 7\n") == 1);
	snprintf(expect, sizeof expect, "warning: %s:3: unknown key Frobnicate\n", path);
	CHECK(strstr(warnings, expect) != NULL);
	CHECK(cfg.max_recipients == 7);
	CHECK(INI("[mail]\nno equals sign here\n") == 1);
	snprintf(expect, sizeof expect, "warning: %s:2: malformed line (no '=')\n", path);
	CHECK(strstr(warnings, expect) != NULL);
	CHECK(INI("[mail]\nHostName = ok\n\nMaxMsgSize = lots\n") == 0);
	snprintf(expect, sizeof expect, "%s:4: bad value for MaxMsgSize: lots", path);
	CHECK(strcmp(error, expect) == 0);
	CHECK(INI("[mail]\nSMTPPort = 0\n") == 0 && strstr(error, ":2: bad value for SMTPPort") != NULL);
	CHECK(INI("[mail]\nSMTPPort = 70000\n") == 0);
	CHECK(INI("[mail]\nMaxInactivity = 5 minutes\n") == 0);
	CHECK(INI("[mail]\nLogLevel = loud\n") == 0);
	CHECK(INI("[mail]\nLogLevel = Debug\n") == 1 && cfg.log_level == 7);
	CHECK(INI("[mail]\nHostName = a\0b\n") == 0);
	snprintf(expect, sizeof expect, "%s:2: NUL byte in line", path);
	CHECK(strcmp(error, expect) == 0);
	/* A line over the reader's cap is an error too, never a cut value. */
	test_long_ini_line(expect, sizeof expect);
	/* A directory cannot be read as a file: an error, not defaults. */
	CHECK(mail_config_load(&cfg, dir, error, sizeof error) == 0 && strstr(error, "unable to read") != NULL);
	CHECK(INI("[mail]\nPOP3Sound = ding.wav\nAutoStart = true\n") == 1 && warnings[0] == 0);
}

static void test_sections(void)
{
	struct mail_config cfg;
	char error[512];

	CHECK(INI("[global]\nHostName = g.example\n[mail]\nHostName = m.example\n") == 1);
	CHECK(strcmp(cfg.host_name, "m.example") == 0);
	CHECK(INI("[mail]\nHostName = m.example\n[global]\nHostName = g.example\n") == 1);
	CHECK(strcmp(cfg.host_name, "m.example") == 0);
	CHECK(INI("[Global]\nHostName = g.example\nLoginAttemptDelay = 250\n") == 1);
	CHECK(strcmp(cfg.host_name, "g.example") == 0 && cfg.login_attempt_delay_ms == 250);
	/* A [mail]-only key in [global] and keys of other sections are not ours. */
	CHECK(INI("[global]\nMaxRecipients = 3\n[web]\nHostName = w\nPort = 80\n") == 1);
	CHECK(cfg.max_recipients == 100 && strcmp(cfg.host_name, "localhost") == 0 && warnings[0] == 0);
	CHECK(INI("HostName = before.any.section\n") == 1 && strcmp(cfg.host_name, "localhost") == 0);
	CHECK(INI("[MAIL]\r\nhostname = crlf.example\r\nmaxmsgsize=1K\r\n") == 1);
	CHECK(strcmp(cfg.host_name, "crlf.example") == 0 && cfg.max_msg_size_bytes == 1024);
	CHECK(INI("[mail]\nTLSCertFile = /etc/ssl/c.pem\nAuthViaIPWindow = 5M\n") == 1);
	CHECK(strcmp(cfg.tls_cert_file, "/etc/ssl/c.pem") == 0 && cfg.auth_via_ip_window_sec == 300);
}

#define CONF(text) load_conf(text, sizeof text - 1, &conf)
static int load_conf(const char *text, size_t len, struct smtpserver_conf *conf)
{
	char error[512];
	int saved, ok;

	write_file("smtpserver.conf", text, len);
	saved = capture_stderr_begin();
	ok = smtpserver_conf_load(conf, path, error, sizeof error);
	capture_stderr_end(saved);
	return ok;
}

static int is(const char *got, const char *want) { return got && strcmp(got, want) == 0; }

static void test_params(void)
{
	struct smtpserver_conf conf;
	char error[512], missing[600], expect[700];

	snprintf(missing, sizeof missing, "%s/no-such.conf", dir);
	CHECK(smtpserver_conf_load(&conf, missing, error, sizeof error) == 1 && conf.param_count == 0);
	smtpserver_conf_free(&conf);
	/* Unreadable (a directory): an error naming the file, nothing leaked. */
	CHECK(smtpserver_conf_load(&conf, dir, error, sizeof error) == 0 && strstr(error, "unable to read") != NULL);
	CHECK(CONF("PARAM maxsize 1\0\n") == 0);
	/* Even in a comment line (the reader checks before it skips). */
	CHECK(CONF("# comment\n\n\tPARAM a\0b\n") == 0);
	CHECK(smtpserver_conf_load(&conf, path, error, sizeof error) == 0);
	snprintf(expect, sizeof expect, "%s:3: NUL byte in line", path);
	CHECK(strcmp(error, expect) == 0);
	CHECK(CONF("# comment\n"
		   "PARAM maxsize 1000000\n"
		   "PARAM RcptLimitCount 50   # per message\n"
		   "PARAM hdr220 \"%H ESMTP # not a comment\"\n"
		   "PARAM help 'first line'\n"
		   "PARAM help second line\n"
		   "PARAM NoPIPELINING\n"
		   "PARAM tarpit 5\n"
		   "PARAM no-tarpit\n"
		   "PARAM smtp-auth\n"
		   "PARAM no-smtp-auth-on-25\n"
		   "   PARAM indented lines are comments\n"
		   "PARAM newgroup submission\n"
		   "PARAM maxsize 1\n") == 1);
	CHECK(is(smtpserver_conf_get(&conf, "maxsize"), "1000000"));
	CHECK(is(smtpserver_conf_get(&conf, "MAXSIZE"), "1000000"));
	CHECK(is(smtpserver_conf_get(&conf, "rcptlimitcount"), "50"));
	CHECK(is(smtpserver_conf_get(&conf, "hdr220"), "%H ESMTP # not a comment"));
	CHECK(is(smtpserver_conf_get_nth(&conf, "help", 0), "first line"));
	CHECK(is(smtpserver_conf_get_nth(&conf, "help", 1), "second line"));
	CHECK(smtpserver_conf_get_nth(&conf, "help", 2) == NULL);
	CHECK(is(smtpserver_conf_get(&conf, "NoPIPELINING"), "") && smtpserver_conf_flag(&conf, "nopipelining"));
	CHECK(smtpserver_conf_get(&conf, "tarpit") == NULL && !smtpserver_conf_flag(&conf, "tarpit"));
	CHECK(smtpserver_conf_flag(&conf, "smtp-auth") && smtpserver_conf_flag(&conf, "no-smtp-auth-on-25"));
	CHECK(!smtpserver_conf_flag(&conf, "smtp-auth-on-25"));
	CHECK(smtpserver_conf_get(&conf, "indented") == NULL);
	CHECK(!smtpserver_conf_flag(&conf, "NoCHUNKING"));
	smtpserver_conf_free(&conf);
	/* no-<name> then <name> again: the last line wins. */
	CHECK(CONF("PARAM tarpit 5\nPARAM no-tarpit\nPARAM tarpit 7\n") == 1);
	CHECK(is(smtpserver_conf_get(&conf, "tarpit"), "7"));
	smtpserver_conf_free(&conf);
}

static void test_helo(void)
{
	struct smtpserver_conf conf;
	const struct helo_pattern *h;

	CHECK(CONF("localhost              !Not my name\n"
		   "*.bad.example    *     !Go away\n"
		   "*.example.com          ve\n"
		   "*                      -\n"
		   "lonely\n") == 1);
	CHECK(conf.helo_count == 4);
	CHECK(strstr(warnings, ":5: HELO pattern without style flags") != NULL);
	h = smtpserver_conf_helo(&conf, "LOCALHOST");
	CHECK(h && strcmp(h->flags, "!Not my name") == 0);
	h = smtpserver_conf_helo(&conf, "mx.bad.example");
	CHECK(h && strcmp(h->flags, "!Go away") == 0);
	h = smtpserver_conf_helo(&conf, "Mail.Example.COM");
	CHECK(h && strcmp(h->pattern, "*.example.com") == 0 && strcmp(h->flags, "ve") == 0);
	h = smtpserver_conf_helo(&conf, "other.example.org");
	CHECK(h && strcmp(h->flags, "-") == 0);
	smtpserver_conf_free(&conf);
	CHECK(CONF("mail.example.com  ve\n") == 1);
	CHECK(smtpserver_conf_helo(&conf, "other.example.org") == NULL);
	smtpserver_conf_free(&conf);
}

int main(void)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(dir, sizeof dir, "%s/config-test.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 111;
	}
	test_defaults();
	test_value_syntax();
	test_options();
	test_warnings_and_errors();
	test_sections();
	test_params();
	test_helo();
	snprintf(path, sizeof path, "rm -rf '%s'", dir);
	if (system(path) != 0)
		printf("could not remove %s\n", dir);
	return CHECK_DONE();
}
