/* dns-unit: the pure parts of src/lib/dns.c on built messages: the reply
 * parser (compression, CNAME chains, bad record data, rcodes, another
 * question), reverse names and the name check.  t/dns.bats runs it. */
#include "check.h"
#include "dns.h"
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <string.h>

/* Header: id 0x1234, QR RD RA, rcode, 1 question, ancount answers. */
#define HEADER(rcode, ancount) 0x12, 0x34, 0x81, 0x80 | (rcode), 0, 1, 0, (ancount), 0, 0, 0, 0
/* example.test at offset 12; a pointer to it is 0xc0 0x0c. */
#define QNAME 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 4, 't', 'e', 's', 't', 0
#define RR_HEAD(type, rdlen) 0xc0, 0x0c, 0, (type), 0, 1, 0, 0, 0x0e, 0x10, 0, (rdlen)

static enum dns_status parse(const unsigned char *msg, size_t len, const char *name, unsigned type,
			     struct dns_reply *out, char *error)
{
	return dns_reply_parse(msg, len, name, type, out, error, 128);
}

static void test_mx(void)
{
	/* Two MX: 10 mx.example.test (a pointer into the question), 0 ".". */
	static const unsigned char msg[] = {
		HEADER(0, 2), QNAME, 0, ns_t_mx, 0, 1,
		RR_HEAD(ns_t_mx, 7), 0, 10, 2, 'm', 'x', 0xc0, 0x0c,
		RR_HEAD(ns_t_mx, 3), 0, 0, 0,
	};
	struct dns_reply reply;
	char error[128];

	CHECK(parse(msg, sizeof msg, "example.test", ns_t_mx, &reply, error) == DNS_OK);
	CHECK(reply.count == 2);
	CHECK(reply.count == 2 && reply.records[0].preference == 10 && strcmp(reply.records[0].text, "mx.example.test") == 0);
	CHECK(reply.count == 2 && reply.records[1].preference == 0 && strcmp(reply.records[1].text, ".") == 0);
	dns_reply_free(&reply);
	/* Case and a trailing dot do not matter (RFC 4343). */
	CHECK(parse(msg, sizeof msg, "EXAMPLE.Test.", ns_t_mx, &reply, error) == DNS_OK);
	dns_reply_free(&reply);
	/* Another question, another type, cut short. */
	CHECK(parse(msg, sizeof msg, "other.test", ns_t_mx, &reply, error) == DNS_TEMPFAIL);
	CHECK(strcmp(error, "malformed reply: reply to another question") == 0);
	CHECK(parse(msg, sizeof msg, "example.test", ns_t_a, &reply, error) == DNS_TEMPFAIL);
	CHECK(parse(msg, sizeof msg - 1, "example.test", ns_t_mx, &reply, error) == DNS_TEMPFAIL);
	CHECK(strcmp(error, "malformed reply: sections do not fit the message") == 0);
	CHECK(reply.count == 0 && reply.records == NULL && reply.owner == NULL);
}

static void test_bad_rdata(void)
{
	/* The MX name runs past its rdata into the next bytes. */
	static const unsigned char long_name[] = {
		HEADER(0, 1), QNAME, 0, ns_t_mx, 0, 1,
		RR_HEAD(ns_t_mx, 3), 0, 10, 2, 'm', 'x', 0,
	};
	static const unsigned char short_a[] = {
		HEADER(0, 1), QNAME, 0, ns_t_a, 0, 1, RR_HEAD(ns_t_a, 5), 192, 0, 2, 1, 9,
	};
	static const unsigned char bad_txt[] = {
		HEADER(0, 1), QNAME, 0, ns_t_txt, 0, 1, RR_HEAD(ns_t_txt, 3), 5, 'a', 'b',
	};
	struct dns_reply reply;
	char error[128];

	CHECK(parse(long_name, sizeof long_name, "example.test", ns_t_mx, &reply, error) == DNS_TEMPFAIL);
	CHECK(strcmp(error, "malformed reply: sections do not fit the message") == 0 ||
	      strcmp(error, "malformed reply: malformed record data") == 0);
	CHECK(parse(short_a, sizeof short_a, "example.test", ns_t_a, &reply, error) == DNS_TEMPFAIL);
	CHECK(strcmp(error, "malformed reply: malformed record data") == 0);
	CHECK(parse(bad_txt, sizeof bad_txt, "example.test", ns_t_txt, &reply, error) == DNS_TEMPFAIL);
	CHECK(strcmp(error, "malformed reply: malformed record data") == 0);
}

static void test_txt_and_cname(void)
{
	/* example.test CNAME t.example.test; t.example.test TXT "v=spf1 " "-all". */
	static const unsigned char msg[] = {
		HEADER(0, 2), QNAME, 0, ns_t_txt, 0, 1,
		RR_HEAD(ns_t_cname, 4), 1, 't', 0xc0, 0x0c,
		0xc0, 0x2a, 0, ns_t_txt, 0, 1, 0, 0, 0, 60, 0, 13,
		7, 'v', '=', 's', 'p', 'f', '1', ' ', 4, '-', 'a', 'l', 'l',
	};
	/* The same chain ending with no TXT record: the owner is asked next. */
	static const unsigned char dangling[] = {
		HEADER(0, 1), QNAME, 0, ns_t_txt, 0, 1, RR_HEAD(ns_t_cname, 4), 1, 't', 0xc0, 0x0c,
	};
	static const unsigned char loop[] = {
		HEADER(0, 1), QNAME, 0, ns_t_a, 0, 1, RR_HEAD(ns_t_cname, 2), 0xc0, 0x0c,
	};
	struct dns_reply reply;
	char error[128];

	CHECK(parse(msg, sizeof msg, "example.test", ns_t_txt, &reply, error) == DNS_OK);
	CHECK(reply.count == 1 && reply.records[0].text_len == 11 && memcmp(reply.records[0].text, "v=spf1 -all", 12) == 0);
	CHECK(reply.owner && strcmp(reply.owner, "t.example.test") == 0 && reply.cname_hops == 1);
	dns_reply_free(&reply);
	CHECK(parse(dangling, sizeof dangling, "example.test", ns_t_txt, &reply, error) == DNS_NOTFOUND);
	CHECK(reply.rcode == 0 && reply.owner && strcmp(reply.owner, "t.example.test") == 0);
	dns_reply_free(&reply);
	CHECK(parse(loop, sizeof loop, "example.test", ns_t_a, &reply, error) == DNS_TEMPFAIL);
	CHECK(strcmp(error, "malformed reply: CNAME chain too long") == 0);
}

static void test_rcodes(void)
{
	static const unsigned char nx[] = { HEADER(3, 0), QNAME, 0, ns_t_a, 0, 1 };
	static const unsigned char servfail[] = { HEADER(2, 0), QNAME, 0, ns_t_a, 0, 1 };
	static const unsigned char nodata[] = { HEADER(0, 0), QNAME, 0, ns_t_a, 0, 1 };
	unsigned char copy[sizeof nx];
	struct dns_reply reply;
	char error[128], name[64];
	unsigned qid, qtype;

	CHECK(parse(nx, sizeof nx, "example.test", ns_t_a, &reply, error) == DNS_NOTFOUND && reply.rcode == 3);
	dns_reply_free(&reply);
	CHECK(parse(nodata, sizeof nodata, "example.test", ns_t_a, &reply, error) == DNS_NOTFOUND && reply.rcode == 0);
	dns_reply_free(&reply);
	CHECK(parse(servfail, sizeof servfail, "example.test", ns_t_a, &reply, error) == DNS_TEMPFAIL);
	CHECK(strcmp(error, "server failure (SERVFAIL)") == 0);
	CHECK(reply.owner == NULL && reply.records == NULL);   /* left empty */
	memcpy(copy, nx, sizeof copy);
	copy[2] &= 0x7f;   /* QR clear: a query, not a reply */
	CHECK(parse(copy, sizeof copy, "example.test", ns_t_a, &reply, error) == DNS_TEMPFAIL);
	CHECK(!dns_reply_question(copy, sizeof copy, &qid, name, sizeof name, &qtype));
	copy[2] |= 0x82;   /* TC */
	CHECK(parse(copy, sizeof copy, "example.test", ns_t_a, &reply, error) == DNS_TEMPFAIL);
	CHECK(strcmp(error, "reply truncated (TC)") == 0);
	CHECK(dns_reply_question(nx, sizeof nx, &qid, name, sizeof name, &qtype));
	CHECK(qid == 0x1234 && qtype == ns_t_a && strcmp(name, "example.test") == 0);
	CHECK(!dns_reply_question(nx, sizeof nx, &qid, name, 12, &qtype));    /* name does not fit */
	CHECK(!dns_reply_question(nx, sizeof nx - 1, &qid, name, sizeof name, &qtype));
}

static void test_reverse_names(void)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	char out[128];

	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	inet_pton(AF_INET, "192.0.2.1", &sin.sin_addr);
	CHECK(dns_reverse_name((struct sockaddr *)&sin, "in-addr.arpa", out, sizeof out));
	CHECK(strcmp(out, "1.2.0.192.in-addr.arpa") == 0);
	CHECK(dns_reverse_name((struct sockaddr *)&sin, "zen.example", out, sizeof out));
	CHECK(strcmp(out, "1.2.0.192.zen.example") == 0);
	CHECK(!dns_reverse_name((struct sockaddr *)&sin, "in-addr.arpa", out, 22) && errno == ERANGE);
	memset(&sin6, 0, sizeof sin6);
	sin6.sin6_family = AF_INET6;
	inet_pton(AF_INET6, "2001:db8::1f", &sin6.sin6_addr);
	CHECK(dns_reverse_name((struct sockaddr *)&sin6, "ip6.arpa", out, sizeof out));
	CHECK(strcmp(out, "f.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa") == 0);
	CHECK(!dns_reverse_name((struct sockaddr *)&sin6, "ip6.arpa", out, 72) && errno == ERANGE);
	inet_pton(AF_INET6, "::ffff:192.0.2.1", &sin6.sin6_addr);
	CHECK(dns_reverse_name((struct sockaddr *)&sin6, "in-addr.arpa", out, sizeof out));
	CHECK(strcmp(out, "1.2.0.192.in-addr.arpa") == 0);
	sin.sin_family = AF_UNIX;
	CHECK(!dns_reverse_name((struct sockaddr *)&sin, "in-addr.arpa", out, sizeof out) && errno == EAFNOSUPPORT);
}

static void test_names(void)
{
	char name[300];

	CHECK(dns_name_valid("example.test"));
	CHECK(dns_name_valid("example.test."));
	CHECK(dns_name_valid("_dmarc.Example-1.test"));
	CHECK(!dns_name_valid(""));
	CHECK(!dns_name_valid("."));
	CHECK(!dns_name_valid("a..test"));
	CHECK(!dns_name_valid(".a.test"));
	CHECK(!dns_name_valid("a.test.."));
	CHECK(!dns_name_valid("[192.0.2.1]"));
	CHECK(!dns_name_valid("a\\.test"));
	CHECK(!dns_name_valid("caf\xc3\xa9.test"));
	memset(name, 'a', 63);
	strcpy(name + 63, ".test");
	CHECK(dns_name_valid(name));
	memset(name, 'a', 64);
	strcpy(name + 64, ".test");
	CHECK(!dns_name_valid(name));
}

int main(void)
{
	test_mx();
	test_bad_rdata();
	test_txt_and_cname();
	test_rcodes();
	test_reverse_names();
	test_names();
	return CHECK_DONE();
}
