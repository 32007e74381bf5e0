/* loginfail-test: the failed-login table (src/lib/loginfail.h) in the home
 * named by BBSMAIL_HOME: counts survive reopening, the windowed count,
 * clear, forgetting after a day, the ban and throttle policy, ip.can
 * (canonical addresses, a hand-edited file, an unreadable one). */
#include "check.h"
#include "config.h"
#include "home.h"
#include "log.h"
#include "loginfail.h"
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char ip_can[4096];

static const char *ip_can_path(void)
{
	if (!ip_can[0])
		snprintf(ip_can, sizeof ip_can, "%s/etc/ip.can", home_dir());
	return ip_can;
}

static int read_ip_can(char *out, size_t size)
{
	FILE *f = fopen(ip_can_path(), "r");
	size_t n;

	if (!f)
		return 0;
	n = fread(out, 1, size - 1, f);
	out[n] = 0;
	fclose(f);
	return 1;
}

static void write_ip_can(const char *text)
{
	FILE *f = fopen(ip_can_path(), "w");

	CHECK(f && fputs(text, f) >= 0 && fclose(f) == 0);
}

/* loginfail_ip_filtered with its warning caught in out, not on stderr. */
static int ip_filtered_quietly(const char *ip, char *out, size_t size)
{
	FILE *caught = tmpfile();
	int saved = dup(2), r;
	size_t n = 0;

	fflush(stderr);
	if (caught)
		dup2(fileno(caught), 2);
	r = loginfail_ip_filtered(ip);
	dup2(saved, 2);
	close(saved);
	if (caught) {
		rewind(caught);
		n = fread(out, 1, size - 1, caught);
		fclose(caught);
	}
	out[n] = 0;
	return r;
}

static int unlink_ip_can(void) { return unlink(ip_can_path()) == 0; }
static int mkdir_ip_can(void) { return mkdir(ip_can_path(), 0755) == 0; }

static void test_record_count_clear(void)
{
	struct loginfail_state st;
	unsigned long count = 0;
	time_t t0 = 1800000000;
	int i;

	CHECK(loginfail_get("192.0.2.1", t0, &st) == 0 && st.count == 0);
	CHECK(loginfail_count("192.0.2.1", 3600, t0) == 0);
	for (i = 0; i < 5; i++)
		CHECK(loginfail_record("192.0.2.1", t0 + i * 1000, &count));
	CHECK(count == 5);
	CHECK(loginfail_get("192.0.2.1", t0 + 4000, &st) == 1 && st.count == 5 && st.last == t0 + 4000);
	/* Failures at t0+1000..t0+4000 are inside the last hour at t0+4000. */
	CHECK(loginfail_count("192.0.2.1", 3600, t0 + 4000) == 4);
	CHECK(loginfail_count("192.0.2.1", 60, t0 + 4000) == 1);
	CHECK(loginfail_count("2001:db8::1", 3600, t0) == 0);
	/* Forgotten a day after the last failure. */
	CHECK(loginfail_get("192.0.2.1", t0 + 4000 + LOGINFAIL_FORGET_SEC + 1, &st) == 0);
	CHECK(loginfail_clear("192.0.2.1"));
	CHECK(loginfail_get("192.0.2.1", t0 + 4000, &st) == 0);
	CHECK(loginfail_clear("192.0.2.99"));
	/* Not an address (a pipe session, or garbage): accepted, never counted. */
	{
		unsigned long none = 99;
		CHECK(loginfail_record("bad\nip", t0, &none) && none == 0);
		CHECK(loginfail_record("local", t0, &none) && none == 0);
		CHECK(loginfail_get("local", t0, &st) == 0);
	}
}

/* More failures than entries: none is lost (the two oldest entries merge
 * under the newer time), so any configured limit can be reached. */
static void test_times_capped(void)
{
	time_t t0 = 1800000000;
	int i;

	for (i = 0; i < LOGINFAIL_TIMES_MAX + 10; i++)
		CHECK(loginfail_record("198.51.100.7", t0 + i, NULL));
	CHECK(loginfail_count("198.51.100.7", 3600, t0 + 100) == LOGINFAIL_TIMES_MAX + 10);
	for (i = 0; i < 500; i++)
		CHECK(loginfail_record("198.51.100.8", t0 + i * 2, NULL));
	CHECK(loginfail_count("198.51.100.8", 3600, t0 + 1000) == 500);
	/* Merged entries count a little late, never early: t0 .. t0+998 all
	 * fall out of a 60 s window by t0+2000. */
	CHECK(loginfail_count("198.51.100.8", 60, t0 + 2000) == 0);
}

/* loginfail_try counts before the check and refuses at the limit;
 * loginfail_forgive takes back that one attempt only. */
static void test_try_forgive(void)
{
	struct loginfail_state st;
	time_t t0 = 1800000000;

	CHECK(loginfail_try("192.0.2.60", 3600, 2, t0) == 1);
	CHECK(loginfail_try("192.0.2.60", 3600, 2, t0 + 1) == 1);
	CHECK(loginfail_try("192.0.2.60", 3600, 2, t0 + 2) == 0);
	CHECK(loginfail_count("192.0.2.60", 3600, t0 + 2) == 2);
	CHECK(loginfail_forgive("192.0.2.60", t0 + 1));
	CHECK(loginfail_count("192.0.2.60", 3600, t0 + 2) == 1);
	CHECK(loginfail_get("192.0.2.60", t0 + 2, &st) == 1 && st.count == 1);
	CHECK(loginfail_try("192.0.2.60", 3600, 2, t0 + 3) == 1);
	CHECK(loginfail_try("192.0.2.60", 3600, 2, t0 + 4) == 0);
	CHECK(loginfail_try("local", 3600, 1, t0) == 1);
}

/* A user's success forgives only the latest failures against that name. */
static void test_forgive_user(void)
{
	struct loginfail_state st;
	time_t t0 = 1800000000;

	CHECK(loginfail_record_user("192.0.2.70", "sysop", t0, NULL));
	CHECK(loginfail_record_user("192.0.2.70", "Demo", t0 + 1, NULL));
	CHECK(loginfail_record_user("192.0.2.70", "demo", t0 + 2, NULL));
	CHECK(loginfail_forgive_user("192.0.2.70", "sysop", t0 + 3));
	CHECK(loginfail_get("192.0.2.70", t0 + 3, &st) == 1 && st.count == 3);
	CHECK(loginfail_forgive_user("192.0.2.70", "DEMO", t0 + 3));
	CHECK(loginfail_get("192.0.2.70", t0 + 3, &st) == 1 && st.count == 1);
	CHECK(loginfail_count("192.0.2.70", 3600, t0 + 3) == 1);
	/* Forgiven once: a second success changes nothing. */
	CHECK(loginfail_forgive_user("192.0.2.70", "demo", t0 + 4));
	CHECK(loginfail_get("192.0.2.70", t0 + 4, &st) == 1 && st.count == 1);
	/* A failure of an unknown name breaks the run. */
	CHECK(loginfail_record_user("192.0.2.70", "demo", t0 + 5, NULL));
	CHECK(loginfail_record("192.0.2.70", t0 + 6, NULL));
	CHECK(loginfail_forgive_user("192.0.2.70", "demo", t0 + 7));
	CHECK(loginfail_get("192.0.2.70", t0 + 7, &st) == 1 && st.count == 3);
}

static void test_policy(void)
{
	struct mail_config cfg;
	struct loginfail_state st = { 3, 1000 };

	mail_config_defaults(&cfg);
	cfg.login_attempt_temp_ban_threshold = 3;
	cfg.login_attempt_temp_ban_duration_sec = 60;
	cfg.login_attempt_throttle_ms = 100;
	CHECK(loginfail_ban_left(&st, &cfg, 1010) == 50);
	CHECK(loginfail_ban_left(&st, &cfg, 1060) == 0);
	st.count = 2;
	CHECK(loginfail_ban_left(&st, &cfg, 1010) == 0);
	CHECK(loginfail_throttle_ms(&st, &cfg) == 200);
	st.count = 1;
	CHECK(loginfail_throttle_ms(&st, &cfg) == 0);
	cfg.login_attempt_temp_ban_threshold = 0;
	st.count = 100;
	CHECK(loginfail_ban_left(&st, &cfg, 1010) == 0);
}

static void test_ip_can(void)
{
	char text[1024];

	CHECK(loginfail_ip_filtered("203.0.113.5") == 0);
	CHECK(loginfail_filter_ip("203.0.113.5", "test: 5 failed logins"));
	CHECK(loginfail_filter_ip("10.1.*", "a prefix"));
	CHECK(loginfail_ip_filtered("203.0.113.5") == 1);
	CHECK(loginfail_ip_filtered("203.0.113.50") == 0);
	CHECK(loginfail_ip_filtered("10.1.2.3") == 1);
	CHECK(loginfail_ip_filtered("10.2.2.3") == 0);
	CHECK(!loginfail_filter_ip("1.2.3.4\n5.6.7.8", "x"));
	/* One client, any spelling: written and matched in canonical form. */
	CHECK(loginfail_filter_ip("::FFFF:198.51.100.9", "mapped"));
	CHECK(loginfail_ip_filtered("198.51.100.9") == 1);
	CHECK(loginfail_ip_filtered("::ffff:198.51.100.9") == 1);
	CHECK(loginfail_ip_filtered("::ffff:10.1.7.7") == 1);
	CHECK(loginfail_ip_filtered("2001:db8::1") == 0);
	CHECK(read_ip_can(text, sizeof text) && strcmp(text,
		"; test: 5 failed logins\n203.0.113.5\n; a prefix\n10.1.*\n; mapped\n198.51.100.9\n") == 0);
}

/* ip.can as a sysop edits it: CRLF, blanks, indented comments, no final LF. */
static void test_ip_can_edited(void)
{
	char warning[8192], expect[8192];

	write_ip_can("; banned\r\n   ; indented comment 192.0.2.1\r\n\r\n  192.0.2.7  \r\n2001:DB8::*\n192.0.2.99");
	CHECK(loginfail_ip_filtered("192.0.2.7") == 1);
	CHECK(loginfail_ip_filtered("192.0.2.1") == 0);
	CHECK(loginfail_ip_filtered("192.0.2.99") == 1);
	CHECK(loginfail_ip_filtered("2001:DB8::5") == 1);
	/* A '*' prefix is matched as text: the sysop's spelling or the canonical one. */
	CHECK(loginfail_ip_filtered("2001:db8::5") == 0);
	write_ip_can("2001:db8::*\n");
	CHECK(loginfail_ip_filtered("2001:DB8::5") == 1);
	/* An exact line is an address: any spelling of it matches any other. */
	write_ip_can("2001:DB8:0::1\n::FFFF:192.0.2.3\n");
	CHECK(loginfail_ip_filtered("2001:db8::1") == 1);
	CHECK(loginfail_ip_filtered("2001:db8:0:0:0:0:0:1") == 1);
	CHECK(loginfail_ip_filtered("192.0.2.3") == 1);
	CHECK(loginfail_ip_filtered("2001:db8::2") == 0);
	/* Unreadable (a directory): -1, never "not banned" without a word. */
	CHECK(unlink_ip_can() && mkdir_ip_can());
	CHECK(ip_filtered_quietly("192.0.2.7", warning, sizeof warning) == -1);
	snprintf(expect, sizeof expect, "loginfail-test: warning: unable to read %s: Is a directory\n", ip_can_path());
	CHECK(strcmp(warning, expect) == 0);
}

int main(void)
{
	test_record_count_clear();
	test_times_capped();
	test_try_forgive();
	test_forgive_user();
	test_policy();
	log_set_program("loginfail-test");
	test_ip_can();
	test_ip_can_edited();
	return CHECK_DONE();
}
