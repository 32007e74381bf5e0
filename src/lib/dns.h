/* dns: the lookups of outbound delivery, DNS blacklists and SPF, over
 * libresolv.  A resolver is either the system one (res_nquery, configured by
 * /etc/resolv.conf) or one server named by mail.ini's DNSServer, which is
 * asked directly: queries built with res_nmkquery, sent on our own UDP or
 * TCP socket with a deadline on every read and write, replies accepted only
 * with our random id and our question.
 *
 * Every lookup returns a status plus data.  DNS_NOTFOUND is an answer (the
 * name does not exist, or has nothing of that type); DNS_TEMPFAIL means try
 * again later (timeout, SERVFAIL, REFUSED, a network error, a malformed
 * reply); DNS_PERMFAIL means the name itself is one we refuse to look up
 * (too long, an empty label, a byte outside letters, digits, '-', '_' and
 * '.').  dns_error() gives a short text for the last lookup.  The library
 * never logs or exits: callers log, through log_quote, as the texts hold
 * names from DNS.  Names may be given with a trailing dot and are returned
 * without one.  Address literals ([192.0.2.1]) are the caller's business:
 * here they are malformed names (DNS_PERMFAIL), never sent. */
#ifndef BBSMAIL_DNS_H
#define BBSMAIL_DNS_H
#include <netinet/in.h>
#include <resolv.h>
#include <stddef.h>
#include <sys/socket.h>

struct mail_config;

enum dns_status {
	DNS_OK,
	DNS_NOTFOUND,   /* NXDOMAIN, or no data of the asked type */
	DNS_NULL_MX,    /* dns_mx, dns_destination: "MX 0 ." (RFC 7505) */
	DNS_TEMPFAIL,
	DNS_PERMFAIL
};

#define DNS_TIMEOUT_DEFAULT_SEC 5    /* per try: a UDP wait, or a whole TCP exchange */
#define DNS_TRIES_DEFAULT 2
#define DNS_CNAME_HOPS_MAX 8
#define DNS_REPLY_MAX_BYTES 65535    /* the TCP length prefix is 16 bits */
#define DNS_DESTINATION_HOSTS_MAX 16 /* MX hosts whose addresses are looked up */
#define DNS_ERROR_MAX_BYTES 1024

/* dns_init flags. */
#define DNS_USE_TCP 1       /* USE_TCP_DNS: every query over TCP */
#define DNS_IPV4_FIRST 2    /* dns_addresses: A before AAAA (default AAAA first) */

struct dns_resolver {
	int flags;
	int timeout_sec;
	int tries;                       /* DNS_TRIES_DEFAULT; may be changed */
	int use_system;                  /* 1: res_nquery to the system resolver */
	struct sockaddr_storage server;  /* otherwise: this server */
	socklen_t server_len;
	char server_text[64];            /* "127.0.0.1:53", for error texts */
	struct __res_state res;
	int res_ready;
	int nxdomain;   /* after DNS_NOTFOUND: 1 the name does not exist, 0 no data */
	char error[DNS_ERROR_MAX_BYTES];
};

/* server: "" for the system resolver, or an IP with an optional port:
 * "192.0.2.53", "192.0.2.53:5353", "::1", "[::1]:5353".  timeout_sec 0 means
 * DNS_TIMEOUT_DEFAULT_SEC.  1 ok, 0 with errno (EINVAL: a bad server text,
 * the reason in dns_error()). */
int dns_init(struct dns_resolver *r, const char *server, int flags, int timeout_sec);
/* dns_init from mail.ini: DNSServer, and USE_TCP_DNS in Options. */
int dns_init_config(struct dns_resolver *r, const struct mail_config *cfg);
void dns_free(struct dns_resolver *r);
/* The text of the last failure or NOTFOUND ("" after DNS_OK). */
const char *dns_error(const struct dns_resolver *r);
/* "OK", "NOTFOUND", "NULL_MX", "TEMPFAIL", "PERMFAIL". */
const char *dns_status_name(enum dns_status status);

struct dns_mx {
	char *host;
	unsigned preference;
};
struct dns_mx_list {
	struct dns_mx *items;
	size_t count;
};
struct dns_address_list {
	struct sockaddr_storage *items;  /* AF_INET or AF_INET6, port 0 */
	size_t count;
};
/* TXT: each record's strings joined (RFC 7208 section 3.3), binary-safe
 * with a NUL after len; PTR: one name each. */
struct dns_text {
	char *data;
	size_t len;
};
struct dns_text_list {
	struct dns_text *items;
	size_t count;
};
struct dns_host {
	char *name;
	unsigned preference;             /* 0 for the implicit MX */
	struct dns_address_list addresses;
};
struct dns_destination {
	struct dns_host *hosts;          /* in the order to try them */
	size_t count;
	int implicit_mx;                 /* 1: no MX, the domain's own addresses */
	size_t tempfail_hosts;           /* MX hosts skipped for a temporary failure */
	size_t no_address_hosts;         /* MX hosts skipped for having no address */
};

/* The lists start zeroed ({0}) and are emptied and refilled by each call;
 * free them with the matching _free. */
void dns_mx_list_free(struct dns_mx_list *list);
void dns_address_list_free(struct dns_address_list *list);
void dns_text_list_free(struct dns_text_list *list);
void dns_destination_free(struct dns_destination *dest);

/* MX records sorted by preference, in random order among equal ones.
 * DNS_NULL_MX for a single "MX 0 .". */
enum dns_status dns_mx(struct dns_resolver *r, const char *domain, struct dns_mx_list *out);
/* AAAA and A (DNS_IPV4_FIRST: A first), CNAME chains followed up to
 * DNS_CNAME_HOPS_MAX.  DNS_OK when either family has an address. */
enum dns_status dns_addresses(struct dns_resolver *r, const char *host, struct dns_address_list *out);
/* RFC 5321 section 5.1: the MX hosts in order, each with its addresses;
 * with no MX records the domain itself (implicit_mx).  MX hosts without an
 * address are skipped (counted); DNS_TEMPFAIL when no host has an address
 * and one failed temporarily, DNS_NOTFOUND when none has one at all. */
enum dns_status dns_destination(struct dns_resolver *r, const char *domain, struct dns_destination *out);
/* One type each, CNAMEs followed. */
enum dns_status dns_lookup_a(struct dns_resolver *r, const char *name, struct dns_address_list *out);
enum dns_status dns_lookup_aaaa(struct dns_resolver *r, const char *name, struct dns_address_list *out);
/* The A records of count names at once, for the DNS blacklists: each name
 * has its own UDP socket and query, all sent together, asked again once at
 * half time, and given up at deadline_ms (conn_now_ms's clock), so a dead
 * list costs the budget, never more.  status[i] and out[i] (lists that
 * start zeroed) are for names[i]; a name without an answer by then is
 * DNS_TEMPFAIL.  Only what the reply itself holds is taken (a CNAME to
 * another name is not followed; a truncated reply is not retried over
 * TCP).  With the system resolver the names are asked one after another,
 * each with what is left of the time. */
void dns_lookup_a_parallel(struct dns_resolver *r, const char *const *names, size_t count, long long deadline_ms,
			   enum dns_status *status, struct dns_address_list *out);
enum dns_status dns_lookup_txt(struct dns_resolver *r, const char *name, struct dns_text_list *out);
/* PTR names of an address (in-addr.arpa or ip6.arpa; an IPv4-mapped IPv6
 * address counts as IPv4). */
enum dns_status dns_ptr(struct dns_resolver *r, const struct sockaddr *addr, struct dns_text_list *out);

/* The reverse name of addr with suffix appended ("in-addr.arpa",
 * "ip6.arpa", or a DNSBL zone): 1.2.0.192.in-addr.arpa.  1 ok, 0 with
 * errno (EAFNOSUPPORT, ERANGE). */
int dns_reverse_name(const struct sockaddr *addr, const char *suffix, char *out, size_t size);
/* 1 if name is one the lookups accept (see above), 0 if not. */
int dns_name_valid(const char *name);

/* The pure parser of one reply, for the transports and the fuzz harness. */
struct dns_record {
	unsigned type;                   /* ns_t_a, ns_t_aaaa, ns_t_mx, ... */
	unsigned preference;             /* MX */
	char *text;                      /* MX/CNAME/PTR target, TXT strings */
	size_t text_len;
	struct sockaddr_storage address; /* A, AAAA */
};
struct dns_reply {
	unsigned rcode;
	int truncated;                   /* TC was set */
	char *owner;                     /* the end of the CNAME chain in the reply */
	unsigned cname_hops;
	struct dns_record *records;      /* of the asked type, owned by owner */
	size_t count;
};
/* Reads the header and question of msg: 1 when it is a reply (QR) with
 * exactly one question, which is then stored (name up to size bytes, type,
 * id); 0 otherwise. */
int dns_reply_question(const unsigned char *msg, size_t len, unsigned *id, char *name, size_t size,
		       unsigned *type);
/* Parses a whole reply to (name, type, class IN): DNS_OK with records,
 * DNS_NOTFOUND (out->rcode tells NXDOMAIN from no data; out->owner may name
 * a CNAME target still to ask), DNS_TEMPFAIL for any other rcode or a
 * malformed reply (the reason in error), out then left empty.  out is
 * overwritten, not freed first; dns_reply_free it after any status. */
enum dns_status dns_reply_parse(const unsigned char *msg, size_t len, const char *name, unsigned type,
				struct dns_reply *out, char *error, size_t error_size);
void dns_reply_free(struct dns_reply *reply);

#endif
