/* ipkey-test: the one spelling of a client address (src/lib/ipkey.h):
 * IPv4, IPv4-mapped IPv6 as IPv4, IPv6 spellings that are one address,
 * refused non-literals (EINVAL), a short buffer (ERANGE); and both GDBM
 * tables that key on it (authvia, loginfail) finding one client under any
 * spelling, in the home named by BBSMAIL_HOME. */
#include "authvia.h"
#include "check.h"
#include "ipkey.h"
#include "loginfail.h"
#include <errno.h>
#include <string.h>

/* 1 when ip's key is want. */
static int key_is(const char *ip, const char *want)
{
	char key[IPKEY_MAX_BYTES];

	return ipkey_make(key, sizeof key, ip) && strcmp(key, want) == 0;
}

static int refused(const char *ip)
{
	char key[IPKEY_MAX_BYTES];

	errno = 0;
	return !ipkey_make(key, sizeof key, ip) && errno == EINVAL;
}

static void test_canonical(void)
{
	char out[IPKEY_MAX_BYTES];

	CHECK(key_is("192.0.2.1", "ip:192.0.2.1"));
	CHECK(key_is("::ffff:192.0.2.1", "ip:192.0.2.1"));
	CHECK(key_is("::FFFF:c000:0201", "ip:192.0.2.1"));
	CHECK(key_is("2001:DB8:0:0::1", "ip:2001:db8::1"));
	CHECK(key_is("2001:db8:0000:0000:0000:0000:0000:0001", "ip:2001:db8::1"));
	CHECK(key_is("2001:db8::0:1", "ip:2001:db8::1"));
	/* RFC 5952: one zero group stays, the longest (then the first) run is "::". */
	CHECK(key_is("2001:db8:0:1:1:1:1:1", "ip:2001:db8:0:1:1:1:1:1"));
	CHECK(key_is("2001:0:0:1:0:0:0:1", "ip:2001:0:0:1::1"));
	CHECK(key_is("2001:db8:0:0:1:0:0:1", "ip:2001:db8::1:0:0:1"));
	CHECK(key_is("::1", "ip:::1"));
	CHECK(key_is("::", "ip:::"));
	CHECK(ipkey_canonical(out, sizeof out, "::ffff:10.1.2.3") && strcmp(out, "10.1.2.3") == 0);
	CHECK(ipkey_canonical(out, sizeof out, "FE80::AbCd") && strcmp(out, "fe80::abcd") == 0);
}

static void test_refused(void)
{
	char small[8];

	CHECK(refused(""));
	CHECK(refused("local"));
	CHECK(refused("unknown"));
	CHECK(refused("bad ip"));
	CHECK(refused("192.0.2.1 "));
	CHECK(refused(" 192.0.2.1"));
	CHECK(refused("192.0.2.1\n"));
	CHECK(refused("192.0.2"));
	CHECK(refused("192.0.2.256"));
	CHECK(refused("192.0.2.01"));
	CHECK(refused("fe80::1%eth0"));
	CHECK(refused("2001:db8::1::2"));
	CHECK(refused("mail.example.org"));
	CHECK(refused("1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa:bbbb:cccc:dddd:eeee:ffff:0000:1"));
	errno = 0;
	CHECK(!ipkey_make(small, sizeof small, "192.0.2.1") && errno == ERANGE);
	CHECK(!ipkey_make(small, 3, "1.2.3.4") && errno == ERANGE);
	CHECK(ipkey_make(small, sizeof small, "::1") && strcmp(small, "ip:::1") == 0);
}

/* Both tables find one client under any spelling of its address. */
static void test_tables(void)
{
	struct loginfail_state st;
	time_t now = 1800000000;
	unsigned long count = 0;

	CHECK(authvia_record("::ffff:198.51.100.4", now));
	CHECK(authvia_recent("198.51.100.4", 60, now + 10) == 1);
	CHECK(authvia_recent("::FFFF:198.51.100.4", 60, now + 10) == 1);
	CHECK(authvia_recent("198.51.100.5", 60, now + 10) == 0);
	CHECK(authvia_record("2001:DB8::0:7", now));
	CHECK(authvia_recent("2001:db8:0:0:0:0:0:7", 60, now + 10) == 1);
	errno = 0;
	CHECK(!authvia_record("local", now) && errno == EINVAL);
	CHECK(authvia_recent("local", 60, now) == 0);

	CHECK(loginfail_record("2001:db8::9", now, &count) && count == 1);
	CHECK(loginfail_record("2001:DB8:0000::9", now + 1, &count) && count == 2);
	CHECK(loginfail_get("2001:db8:0:0:0:0:0:9", now + 2, &st) == 1 && st.count == 2);
	CHECK(loginfail_count("2001:db8::9", 60, now + 2) == 2);
	CHECK(loginfail_record("::ffff:192.0.2.44", now, &count) && count == 1);
	CHECK(loginfail_get("192.0.2.44", now + 2, &st) == 1 && st.count == 1);
	CHECK(loginfail_clear("192.0.2.44"));
	CHECK(loginfail_get("::ffff:192.0.2.44", now + 2, &st) == 0);
	/* Nothing is stored for a non-address (recording one is a no-op that
	 * succeeds), so nothing is found for one. */
	CHECK(loginfail_record("local", now, NULL));
	CHECK(loginfail_get("local", now, &st) == 0 && st.count == 0);
	CHECK(loginfail_count("unknown", 60, now) == 0);
	CHECK(loginfail_clear("local"));
}

int main(void)
{
	test_canonical();
	test_refused();
	test_tables();
	return CHECK_DONE();
}
