/* date-test: date_rfc5322 at exact moments (the epoch, leap days in 2000
 * and 2024, 2100's missing one, a year boundary, before 1970), a sweep
 * against gmtime_r, and ERANGE for a short buffer. */
#include "check.h"
#include "date.h"
#include <errno.h>
#include <string.h>
#include <time.h>

static int date_is(long long t, const char *expected)
{
	char out[DATE_RFC5322_MAX_BYTES];

	if (date_rfc5322(out, sizeof out, t) && strcmp(out, expected) == 0)
		return 1;
	printf("%lld gave [%s], expected [%s]\n", t, out, expected);
	return 0;
}

static void test_exact(void)
{
	CHECK(date_is(0, "Thu, 01 Jan 1970 00:00:00 +0000"));
	CHECK(date_is(951782400, "Tue, 29 Feb 2000 00:00:00 +0000"));
	CHECK(date_is(1709164800, "Thu, 29 Feb 2024 00:00:00 +0000"));
	CHECK(date_is(1704067199, "Sun, 31 Dec 2023 23:59:59 +0000"));
	CHECK(date_is(1704067200, "Mon, 01 Jan 2024 00:00:00 +0000"));
	CHECK(date_is(4107542399, "Sun, 28 Feb 2100 23:59:59 +0000"));
	CHECK(date_is(4107542400, "Mon, 01 Mar 2100 00:00:00 +0000"));
	CHECK(date_is(-1, "Wed, 31 Dec 1969 23:59:59 +0000"));
	CHECK(date_is(253402300799, "Fri, 31 Dec 9999 23:59:59 +0000"));
}

/* Every 7 hours 13 minutes 17 seconds from 1901 to 2400 agrees with the
 * C library (the test may call tzset; the receivers must not). */
static void test_sweep(void)
{
	char mine[DATE_RFC5322_MAX_BYTES], libc[64];
	long long t, bad = 0;
	struct tm tm;
	time_t tt;

	for (t = -2147483648LL; t < 13569465600LL && bad < 5; t += 7 * 3600 + 13 * 60 + 17) {
		tt = (time_t)t;
		if (!gmtime_r(&tt, &tm) || !strftime(libc, sizeof libc, "%a, %d %b %Y %H:%M:%S +0000", &tm))
			continue;
		if (!date_rfc5322(mine, sizeof mine, t) || strcmp(mine, libc) != 0) {
			printf("%lld gave [%s], gmtime_r [%s]\n", t, mine, libc);
			bad++;
		}
	}
	CHECK(bad == 0);
}

static void test_short_buffer(void)
{
	char out[31];

	errno = 0;
	CHECK(date_rfc5322(out, sizeof out, 0) == 0 && errno == ERANGE && out[0] == 0);
	CHECK(date_rfc5322(out, 0, 0) == 0);
}

int main(void)
{
	test_exact();
	test_sweep();
	test_short_buffer();
	return CHECK_DONE();
}
