/* schedule-test: the domain matcher of ETRN and runq -D
 * (schedule_domain_contains, schedule_match_domain): exact and "@" forms,
 * case, final dots, look-alike domains, targets before addresses, and the
 * retry floor. */
#include "check.h"
#include "envelope.h"
#include "schedule.h"
#include <string.h>

static void test_contains(void)
{
	CHECK(schedule_domain_contains("example.org", "example.org"));
	CHECK(schedule_domain_contains("example.org", "a@Example.ORG"));
	CHECK(schedule_domain_contains("example.org.", "a@example.org"));
	CHECK(schedule_domain_contains("example.org", "a@example.org."));
	CHECK(!schedule_domain_contains("example.org", "a@mx.example.org"));
	CHECK(schedule_domain_contains("@example.org", "a@mx.example.org"));
	CHECK(schedule_domain_contains("@example.org", "a@b.c.example.org"));
	CHECK(schedule_domain_contains("@example.org", "a@example.org"));
	CHECK(!schedule_domain_contains("@example.org", "a@notexample.org"));
	CHECK(!schedule_domain_contains("@example.org", "a@example.org.evil"));
	CHECK(!schedule_domain_contains("@example.org", "a@org"));
	CHECK(!schedule_domain_contains("example.org", "a@"));
	CHECK(!schedule_domain_contains("@", "a@example.org"));
	CHECK(!schedule_domain_contains("", "a@example.org"));
	/* the last '@' starts the domain, as in a quoted local part */
	CHECK(schedule_domain_contains("example.org", "\"x@y\"@example.org"));
	CHECK(schedule_domain_contains("[192.0.2.1]", "a@[192.0.2.1]"));
}

static void test_match(void)
{
	struct envelope e;
	struct envelope_rcpt r1 = { 0 }, r2 = { 0 };
	struct schedule_domain m = { "dialup.example", 0 };

	envelope_init(&e);
	r1.address = "x@other.net";
	r2.address = "demo@localhost";
	r2.target = "demo@dialup.example";
	CHECK(envelope_add_rcpt(&e, &r1) && envelope_add_rcpt(&e, &r2));
	CHECK(schedule_match_domain("job", &e, &m));
	m.domain = "localhost";       /* the target counts, not the address */
	CHECK(!schedule_match_domain("job", &e, &m));
	m.domain = "other.net";       /* no target: the address */
	CHECK(schedule_match_domain("job", &e, &m));
	e.last_attempt = 1000;        /* tried at 1000: floor 1000 keeps it */
	m.tried_before = 1000;
	CHECK(!schedule_match_domain("job", &e, &m));
	m.tried_before = 1001;
	CHECK(schedule_match_domain("job", &e, &m));
	e.last_attempt = 0;           /* never tried: no floor */
	m.tried_before = 1000;
	CHECK(schedule_match_domain("job", &e, &m));
	envelope_free(&e);
}

int main(void)
{
	test_contains();
	test_match();
	return CHECK_DONE();
}
