/* dnsbl: DNS blacklists (RFC 5782).  etc/dns_blacklist.cfg names the
 * zones, one a line, in the order they are trusted (antispam(5)):
 *   <zone> [<answer>[,<answer>...]]
 * A client a.b.c.d is listed by a zone when d.c.b.a.<zone> has an A
 * record (an IPv6 client: its 32 nibbles reversed); the answers given
 * on the line are the ones that count (e.g. 127.0.0.2,127.0.0.4 for a
 * list whose other codes mean something else), otherwise any answer in
 * 127.0.0.0/8 does except 127.255.255.0/24, which some lists return as
 * an error code (a query refused, a quota reached), never as a listing.
 * An answer outside 127.0.0.0/8 is a broken list and never counts.
 * Comments after ';' or '#' at the start of a line; a malformed line is a
 * warning with file and line, and is skipped. */
#ifndef BBSMAIL_DNSBL_H
#define BBSMAIL_DNSBL_H
#include "dns.h"
#include <stddef.h>
#include <stdint.h>

#define DNSBL_FILE "etc/dns_blacklist.cfg"
#define DNSBL_ZONES_MAX 32
#define DNSBL_ANSWERS_MAX 16

struct dnsbl_zone {
	char name[256];
	uint32_t answers[DNSBL_ANSWERS_MAX];   /* host order; none: the default rule */
	size_t answer_count;
};

struct dnsbl_zones {
	struct dnsbl_zone zone[DNSBL_ZONES_MAX];
	size_t count;
};

struct dnsbl_hit {
	size_t zone;                 /* index in the list */
	size_t ip;                   /* index of the address that is listed */
	char answer[16];             /* the A record, "127.0.0.2" */
};

/* Reads <home>/<relative> (missing: no zones).  1 ok, 0 with errno when it
 * cannot be read (logged). */
int dnsbl_zones_load(struct dnsbl_zones *z, const char *relative);
/* Asks every zone about every address at once and waits until deadline_ms
 * (conn_now_ms's clock) at most.  The listing that counts is the first in
 * the order of ips, then of the zones (a later zone is not trusted over an
 * earlier one); a zone that did not answer in time lists nothing.
 * Returns 1 listed (hit filled), 0 not listed; *failed (may be NULL) counts
 * the lookups that failed or timed out, for the log. */
int dnsbl_check(struct dns_resolver *r, const struct dnsbl_zones *z, const char *const *ips, size_t ip_count,
		long long deadline_ms, struct dnsbl_hit *hit, size_t *failed);
/* Whether the answer (host order) counts as a listing by zone. */
int dnsbl_answer_counts(const struct dnsbl_zone *zone, uint32_t answer);

#endif
