/* Fuzz harness: dns_reply_question and dns_reply_parse (src/lib/dns.c), the
 * parser of replies from a DNS server.  Each input is one reply; it is
 * parsed for the question it carries, and once more for a fixed question,
 * which must never match a reply to another one.  Seeds: fuzz/corpus/dns-reply. */
#include "dns.h"
#include <arpa/nameser.h>
#include <stdint.h>
#include <string.h>

static void check_reply(enum dns_status st, const struct dns_reply *reply, unsigned type)
{
	size_t i;

	if (st == DNS_OK && reply->count == 0)
		__builtin_trap();
	for (i = 0; i < reply->count; i++) {
		if (reply->records[i].type != type)
			__builtin_trap();
		if (reply->records[i].text && reply->records[i].text[reply->records[i].text_len] != '\0')
			__builtin_trap();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char name[NS_MAXDNAME], error[DNS_ERROR_MAX_BYTES];
	struct dns_reply reply;
	enum dns_status st;
	unsigned id, type = 0;

	name[0] = '\0';
	if (dns_reply_question(data, size, &id, name, sizeof name, &type)) {
		st = dns_reply_parse(data, size, name, type, &reply, error, sizeof error);
		check_reply(st, &reply, type);
		dns_reply_free(&reply);
	}
	st = dns_reply_parse(data, size, "fixed.invalid", ns_t_mx, &reply, error, sizeof error);
	if (st == DNS_OK && (strcmp(name, "fixed.invalid") != 0 || type != ns_t_mx))
		__builtin_trap();
	check_reply(st, &reply, ns_t_mx);
	dns_reply_free(&reply);
	return 0;
}
