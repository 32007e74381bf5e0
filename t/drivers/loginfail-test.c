/* loginfail-test: the failed-login table (src/lib/loginfail.h) in the home
 * named by BBSMAIL_HOME: counts survive reopening, the windowed count,
 * clear, forgetting after a day, the ban and throttle policy, ip.can. */
#include "check.h"
#include "config.h"
#include "loginfail.h"
#include <string.h>

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
	CHECK(!loginfail_record("bad\nip", t0, NULL));
}

static void test_times_capped(void)
{
	time_t t0 = 1800000000;
	int i;

	for (i = 0; i < LOGINFAIL_TIMES_MAX + 10; i++)
		CHECK(loginfail_record("198.51.100.7", t0 + i, NULL));
	CHECK(loginfail_count("198.51.100.7", 3600, t0 + 100) == LOGINFAIL_TIMES_MAX);
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
	CHECK(loginfail_ip_filtered("203.0.113.5") == 0);
	CHECK(loginfail_filter_ip("203.0.113.5", "test: 5 failed logins"));
	CHECK(loginfail_filter_ip("10.1.*", "a prefix"));
	CHECK(loginfail_ip_filtered("203.0.113.5") == 1);
	CHECK(loginfail_ip_filtered("203.0.113.50") == 0);
	CHECK(loginfail_ip_filtered("10.1.2.3") == 1);
	CHECK(loginfail_ip_filtered("10.2.2.3") == 0);
	CHECK(!loginfail_filter_ip("1.2.3.4\n5.6.7.8", "x"));
}

int main(void)
{
	test_record_count_clear();
	test_times_capped();
	test_policy();
	test_ip_can();
	return CHECK_DONE();
}
