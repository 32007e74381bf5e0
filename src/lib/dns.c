#include "dns.h"
#include "buf.h"
#include "config.h"
#include "conn.h"
#include "password.h"
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* RFC 1035 section 2.3.4; RFC 2181 section 11 lets DNS carry any byte, but
 * mail, DNSBL and SPF names never need more than these. */
#define DNS_NAME_MAX_BYTES 253
#define DNS_LABEL_MAX_BYTES 63
#define DNS_HEADER_BYTES 12
/* A question is a header, a name of at most 255 bytes and 4 bytes more. */
#define DNS_QUERY_MAX_BYTES 512

const char *dns_status_name(enum dns_status status)
{
	switch (status) {
	case DNS_OK: return "OK";
	case DNS_NOTFOUND: return "NOTFOUND";
	case DNS_NULL_MX: return "NULL_MX";
	case DNS_TEMPFAIL: return "TEMPFAIL";
	case DNS_PERMFAIL: return "PERMFAIL";
	}
	return "?";
}

const char *dns_error(const struct dns_resolver *r) { return r->error; }

static const char *dns_type_name(unsigned type)
{
	switch (type) {
	case ns_t_a: return "A";
	case ns_t_aaaa: return "AAAA";
	case ns_t_mx: return "MX";
	case ns_t_txt: return "TXT";
	case ns_t_ptr: return "PTR";
	case ns_t_cname: return "CNAME";
	}
	return "other";
}

static enum dns_status dns_fail(struct dns_resolver *r, enum dns_status status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static enum dns_status dns_fail(struct dns_resolver *r, enum dns_status status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->error, sizeof r->error, fmt, ap);
	va_end(ap);
	return status;
}

static enum dns_status dns_set_error(char *error, size_t size, const char *text)
{
	if (size)
		snprintf(error, size, "%s", text);
	return DNS_TEMPFAIL;
}

int dns_name_valid(const char *name)
{
	size_t len = strlen(name), label = 0, i;
	unsigned char c;

	if (len && name[len - 1] == '.')
		len--;
	if (len == 0 || len > DNS_NAME_MAX_BYTES)
		return 0;
	for (i = 0; i < len; i++) {
		c = (unsigned char)name[i];
		if (c == '.') {
			if (label == 0)
				return 0;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return 0;
		if (++label > DNS_LABEL_MAX_BYTES)
			return 0;
	}
	return label > 0;
}

/* Names as ns_name_ntop writes them (escapes are canonical there, and the
 * names we ask hold none) are the same when equal but for ASCII case and
 * one trailing dot (RFC 4343).  1 same, 0 not. */
static int dns_same_name(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la > 1 && a[la - 1] == '.')
		la--;
	if (lb > 1 && b[lb - 1] == '.')
		lb--;
	return la == lb && strncasecmp(a, b, la) == 0;
}

/* ---- the server: "", "192.0.2.1", "192.0.2.1:5353", "::1", "[::1]:5353" ---- */

static int dns_parse_port(const char *s, unsigned *port)
{
	unsigned long v = 0;

	if (*s == '\0')
		return 0;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return 0;
		v = v * 10 + (unsigned long)(*s - '0');
		if (v > 65535)
			return 0;
	}
	*port = (unsigned)v;
	return v > 0;
}

/* Splits text into the address and port parts (host holds the address). */
static int dns_split_server(const char *text, char *host, size_t size, unsigned *port)
{
	const char *end, *colon = strchr(text, ':');
	size_t n;

	*port = NS_DEFAULTPORT;
	if (text[0] == '[') {
		end = strchr(text, ']');
		if (!end || (end[1] != '\0' && (end[1] != ':' || !dns_parse_port(end + 2, port))))
			return 0;
		text++;
		n = (size_t)(end - text);
	} else if (colon && !strchr(colon + 1, ':')) {
		if (!dns_parse_port(colon + 1, port))
			return 0;
		n = (size_t)(colon - text);
	} else {
		n = strlen(text);
	}
	if (n >= size)
		return 0;
	memcpy(host, text, n);
	host[n] = '\0';
	return 1;
}

static int dns_set_server(struct dns_resolver *r, const char *text)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&r->server;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&r->server;
	char host[INET6_ADDRSTRLEN + 1];
	unsigned port;

	if (!dns_split_server(text, host, sizeof host, &port))
		return 0;
	if (text[0] != '[' && inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		r->server_len = sizeof *sin;
		snprintf(r->server_text, sizeof r->server_text, "%s:%u", host, port);
		return 1;
	}
	if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		r->server_len = sizeof *sin6;
		snprintf(r->server_text, sizeof r->server_text, "[%s]:%u", host, port);
		return 1;
	}
	return 0;
}

int dns_init(struct dns_resolver *r, const char *server, int flags, int timeout_sec)
{
	memset(r, 0, sizeof *r);
	r->flags = flags;
	r->timeout_sec = timeout_sec > 0 ? timeout_sec : DNS_TIMEOUT_DEFAULT_SEC;
	r->tries = DNS_TRIES_DEFAULT;
	r->use_system = server == NULL || server[0] == '\0';
	if (!r->use_system && !dns_set_server(r, server)) {
		snprintf(r->error, sizeof r->error,
			 "DNS server is not an IP address with an optional port (1-65535)");
		errno = EINVAL;
		return 0;
	}
	if (r->use_system)
		snprintf(r->server_text, sizeof r->server_text, "the system resolver");
	/* The state also builds our own queries (res_nmkquery), so it is set up
	 * either way; res_ninit reads /etc/resolv.conf but sends nothing. */
	if (res_ninit(&r->res) != 0) {
		snprintf(r->error, sizeof r->error, "unable to set up the resolver");
		if (!errno)
			errno = EIO;
		return 0;
	}
	r->res_ready = 1;
	return 1;
}

int dns_init_config(struct dns_resolver *r, const struct mail_config *cfg)
{
	return dns_init(r, cfg->dns_server, (cfg->options & MAIL_OPTION(USE_TCP_DNS)) ? DNS_USE_TCP : 0, 0);
}

void dns_free(struct dns_resolver *r)
{
	if (r->res_ready)
		res_nclose(&r->res);
	r->res_ready = 0;
}

/* ---- the parser of one reply ---- */

void dns_reply_free(struct dns_reply *reply)
{
	size_t i;

	for (i = 0; i < reply->count; i++)
		free(reply->records[i].text);
	free(reply->records);
	free(reply->owner);
	memset(reply, 0, sizeof *reply);
}

int dns_reply_question(const unsigned char *msg, size_t len, unsigned *id, char *name, size_t size,
		       unsigned *type)
{
	char expanded[NS_MAXDNAME];
	int n;

	if (len < DNS_HEADER_BYTES || len > DNS_REPLY_MAX_BYTES || !(msg[2] & 0x80) ||
	    ns_get16(msg + 4) != 1)
		return 0;
	n = dn_expand(msg, msg + len, msg + DNS_HEADER_BYTES, expanded, sizeof expanded);
	if (n < 0 || len - DNS_HEADER_BYTES - (size_t)n < 4)
		return 0;
	if (strlen(expanded) >= size)
		return 0;
	strcpy(name, expanded);
	*id = ns_get16(msg);
	*type = ns_get16(msg + DNS_HEADER_BYTES + n);
	return 1;
}

/* The name in rdata, which must fill the rest of it exactly. */
static char *dns_rdata_name(const ns_msg *handle, const unsigned char *rdata, size_t rdlen)
{
	char name[NS_MAXDNAME];
	int n;

	n = ns_name_uncompress(ns_msg_base(*handle), ns_msg_end(*handle), rdata, name, sizeof name);
	if (n < 0 || (size_t)n != rdlen)
		return NULL;
	return strdup(name);
}

/* TXT: the character-strings of one record joined (RFC 7208 section 3.3). */
static int dns_rdata_text(struct dns_record *rec, const unsigned char *rdata, size_t rdlen)
{
	struct buf text = BUF_INIT;
	size_t pos = 0, n;

	if (!buf_reserve(&text, rdlen + 1))
		return 0;
	while (pos < rdlen) {
		n = rdata[pos++];
		if (n > rdlen - pos) {
			buf_free(&text);
			return 0;
		}
		buf_cat(&text, rdata + pos, n);   /* cannot fail: reserved above */
		pos += n;
	}
	text.data[text.len] = '\0';
	rec->text = text.data;
	rec->text_len = text.len;
	return 1;
}

static int dns_rdata_address(struct dns_record *rec, int family, const unsigned char *rdata, size_t rdlen)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&rec->address;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&rec->address;

	if (family == AF_INET) {
		if (rdlen != 4)
			return 0;
		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, rdata, 4);
		return 1;
	}
	if (rdlen != 16)
		return 0;
	sin6->sin6_family = AF_INET6;
	memcpy(&sin6->sin6_addr, rdata, 16);
	return 1;
}

/* Decodes the rdata of rr (type already checked) into rec.  1 ok, 0 malformed. */
static int dns_record_decode(const ns_msg *handle, const ns_rr *rr, struct dns_record *rec)
{
	const unsigned char *rdata = ns_rr_rdata(*rr);
	size_t rdlen = ns_rr_rdlen(*rr);

	rec->type = ns_rr_type(*rr);
	switch (rec->type) {
	case ns_t_a:
		return dns_rdata_address(rec, AF_INET, rdata, rdlen);
	case ns_t_aaaa:
		return dns_rdata_address(rec, AF_INET6, rdata, rdlen);
	case ns_t_txt:
		return dns_rdata_text(rec, rdata, rdlen);
	case ns_t_mx:
		if (rdlen < 3)
			return 0;
		rec->preference = ns_get16(rdata);
		rec->text = dns_rdata_name(handle, rdata + 2, rdlen - 2);
		break;
	default:   /* CNAME, PTR, NS: one name */
		rec->text = dns_rdata_name(handle, rdata, rdlen);
		break;
	}
	if (!rec->text)
		return 0;
	rec->text_len = strlen(rec->text);
	return 1;
}

/* Follows the CNAMEs of the answer section from name; owner ends as the
 * last name of the chain.  1 ok, 0 malformed or too long a chain. */
static int dns_follow_cnames(ns_msg *handle, struct dns_reply *out, char *owner, size_t size,
			     const char **why)
{
	unsigned count = ns_msg_count(*handle, ns_s_an), i;
	struct dns_record target;
	ns_rr rr;
	int moved = 1;

	while (moved) {
		moved = 0;
		for (i = 0; i < count; i++) {
			if (ns_parserr(handle, ns_s_an, (int)i, &rr) < 0)
				return (*why = "unreadable answer record", 0);
			if (ns_rr_type(rr) != ns_t_cname || ns_rr_class(rr) != ns_c_in ||
			    dns_same_name(ns_rr_name(rr), owner) != 1)
				continue;
			memset(&target, 0, sizeof target);
			if (!dns_record_decode(handle, &rr, &target))
				return (*why = "malformed CNAME record", 0);
			if (++out->cname_hops > DNS_CNAME_HOPS_MAX || target.text_len >= size) {
				free(target.text);
				return (*why = "CNAME chain too long", 0);
			}
			memcpy(owner, target.text, target.text_len + 1);
			free(target.text);
			moved = 1;
			break;
		}
	}
	return 1;
}

/* Collects the answer records of type owned by out->owner. */
static int dns_collect(ns_msg *handle, unsigned type, struct dns_reply *out, const char **why)
{
	unsigned count = ns_msg_count(*handle, ns_s_an), i;
	ns_rr rr;

	if (count == 0)
		return 1;
	out->records = calloc(count, sizeof *out->records);
	if (!out->records)
		return (*why = "out of memory", 0);
	for (i = 0; i < count; i++) {
		if (ns_parserr(handle, ns_s_an, (int)i, &rr) < 0)
			return (*why = "unreadable answer record", 0);
		if (ns_rr_type(rr) != type || ns_rr_class(rr) != ns_c_in ||
		    dns_same_name(ns_rr_name(rr), out->owner) != 1)
			continue;
		if (!dns_record_decode(handle, &rr, &out->records[out->count])) {
			free(out->records[out->count].text);
			out->records[out->count].text = NULL;
			return (*why = "malformed record data", 0);
		}
		out->count++;
	}
	return 1;
}

/* The question must be ours: one, (name, type, IN). */
static int dns_check_question(ns_msg *handle, const char *name, unsigned type, const char **why)
{
	ns_rr rr;

	if (ns_msg_count(*handle, ns_s_qd) != 1 || ns_parserr(handle, ns_s_qd, 0, &rr) < 0)
		return (*why = "no question", 0);
	if (ns_rr_type(rr) != type || ns_rr_class(rr) != ns_c_in || dns_same_name(ns_rr_name(rr), name) != 1)
		return (*why = "reply to another question", 0);
	return 1;
}

static enum dns_status dns_rcode_status(unsigned rcode, unsigned count, char *error, size_t size)
{
	switch (rcode) {
	case ns_r_noerror:
		return count ? DNS_OK : DNS_NOTFOUND;
	case ns_r_nxdomain:
		return DNS_NOTFOUND;
	case ns_r_servfail:
		return dns_set_error(error, size, "server failure (SERVFAIL)");
	case ns_r_refused:
		return dns_set_error(error, size, "query refused (REFUSED)");
	case ns_r_formerr:
		return dns_set_error(error, size, "server found the query malformed (FORMERR)");
	}
	snprintf(error, size, "server error (rcode %u)", rcode);
	return DNS_TEMPFAIL;
}

enum dns_status dns_reply_parse(const unsigned char *msg, size_t len, const char *name, unsigned type,
				struct dns_reply *out, char *error, size_t error_size)
{
	char owner[NS_MAXDNAME];
	const char *why = NULL;
	enum dns_status st;
	ns_msg handle;

	memset(out, 0, sizeof *out);
	if (len > DNS_REPLY_MAX_BYTES || ns_initparse(msg, (int)len, &handle) < 0)
		return dns_set_error(error, error_size, "malformed reply: sections do not fit the message");
	if (!ns_msg_getflag(handle, ns_f_qr))
		return dns_set_error(error, error_size, "malformed reply: not a reply (QR clear)");
	if (!dns_check_question(&handle, name, type, &why))
		goto malformed;
	out->rcode = (unsigned)ns_msg_getflag(handle, ns_f_rcode);
	out->truncated = ns_msg_getflag(handle, ns_f_tc);
	if (out->truncated)
		return dns_set_error(error, error_size, "reply truncated (TC)");
	if (strlen(name) >= sizeof owner)
		return dns_set_error(error, error_size, "name too long");
	strcpy(owner, name);
	if (type != ns_t_cname && !dns_follow_cnames(&handle, out, owner, sizeof owner, &why))
		goto malformed;
	out->owner = strdup(owner);
	if (!out->owner) {
		why = "out of memory";
		goto malformed;
	}
	if (out->rcode == ns_r_noerror && !dns_collect(&handle, type, out, &why))
		goto malformed;
	st = dns_rcode_status(out->rcode, (unsigned)out->count, error, error_size);
	if (st == DNS_TEMPFAIL)
		dns_reply_free(out);
	return st;
malformed:
	dns_reply_free(out);
	if (error_size)
		snprintf(error, error_size, "malformed reply: %s", why);
	return DNS_TEMPFAIL;
}

/* ---- asking a server ---- */


struct dns_exchange {
	const unsigned char *query;
	size_t query_len;
	unsigned id;
	const char *name;
	unsigned type;
	struct buf *reply;
	const char *ignored;   /* why the last UDP datagram was not taken */
	int truncated;
};

/* 1 when msg answers our question with our id: from then on it is the
 * reply, and a fault in it is a malformed reply, not a stranger's packet. */
static int dns_is_our_reply(struct dns_exchange *x, const unsigned char *msg, size_t len)
{
	char name[NS_MAXDNAME];
	unsigned id, type;

	if (!dns_reply_question(msg, len, &id, name, sizeof name, &type))
		return (x->ignored = "a message that is no DNS reply", 0);
	if (id != x->id)
		return (x->ignored = "a reply with a wrong id", 0);
	if (type != x->type || dns_same_name(name, x->name) != 1)
		return (x->ignored = "a reply to another question", 0);
	x->truncated = (msg[2] & 0x02) != 0;
	return 1;
}

static int dns_socket(struct dns_resolver *r, int type)
{
	int fd = socket(r->server.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&r->server, r->server_len) == 0 || errno == EINPROGRESS)
		return fd;
	close(fd);
	return -1;
}

/* One try over UDP.  1 got our reply, 0 with r->error set. */
static int dns_try_udp(struct dns_resolver *r, struct dns_exchange *x)
{
	long long deadline = conn_now_ms() + (long long)r->timeout_sec * 1000;
	ssize_t n;
	int fd = dns_socket(r, SOCK_DGRAM), ok = 0;

	if (fd < 0 || send(fd, x->query, x->query_len, 0) != (ssize_t)x->query_len)
		goto fail;
	while (conn_poll_until(fd, POLLIN, deadline)) {
		n = recv(fd, x->reply->data, x->reply->cap - 1, MSG_TRUNC);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			goto fail;
		if ((size_t)n > x->reply->cap - 1) {
			x->ignored = "an oversized datagram";
			continue;
		}
		if (dns_is_our_reply(x, (unsigned char *)x->reply->data, (size_t)n)) {
			x->reply->len = (size_t)n;
			ok = 1;
			break;
		}
	}
fail:
	if (!ok)
		dns_fail(r, DNS_TEMPFAIL, "%s: %s%s%s", r->server_text,
			 errno == ETIMEDOUT ? "no reply in time" : strerror(errno),
			 x->ignored ? ", ignored " : "", x->ignored ? x->ignored : "");
	if (fd >= 0)
		close(fd);
	return ok;
}

/* Reads or writes exactly len bytes before deadline.  1 ok, 0 errno. */
static int dns_tcp_io(int fd, int writing, unsigned char *data, size_t len, long long deadline)
{
	ssize_t n;

	while (len) {
		if (!conn_poll_until(fd, writing ? POLLOUT : POLLIN, deadline))
			return 0;
		n = writing ? send(fd, data, len, MSG_NOSIGNAL) : recv(fd, data, len, 0);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return 0;
		if (n == 0) {
			errno = ECONNRESET;
			return 0;
		}
		data += n;
		len -= (size_t)n;
	}
	return 1;
}

static int dns_tcp_connected(int fd, long long deadline)
{
	int err = 0;
	socklen_t len = sizeof err;

	if (!conn_poll_until(fd, POLLOUT, deadline))
		return 0;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return 0;
	errno = err;
	return err == 0;
}

/* One try over TCP (RFC 1035 section 4.2.2: a 16-bit length before each
 * message), all within one timeout.  1 got our reply, 0 with r->error set. */
static int dns_try_tcp(struct dns_resolver *r, struct dns_exchange *x)
{
	long long deadline = conn_now_ms() + (long long)r->timeout_sec * 1000;
	unsigned char prefix[2], out[2 + DNS_QUERY_MAX_BYTES];
	size_t len;
	int fd = dns_socket(r, SOCK_STREAM), ok = 0;

	x->ignored = NULL;
	if (fd < 0 || !dns_tcp_connected(fd, deadline))
		goto fail;
	ns_put16((unsigned)x->query_len, out);
	memcpy(out + 2, x->query, x->query_len);
	if (!dns_tcp_io(fd, 1, out, x->query_len + 2, deadline) || !dns_tcp_io(fd, 0, prefix, 2, deadline))
		goto fail;
	len = ns_get16(prefix);
	if (!dns_tcp_io(fd, 0, (unsigned char *)x->reply->data, len, deadline))
		goto fail;
	ok = dns_is_our_reply(x, (unsigned char *)x->reply->data, len);
	x->reply->len = len;
fail:
	if (!ok && x->ignored)
		dns_fail(r, DNS_TEMPFAIL, "%s: TCP: got %s", r->server_text, x->ignored);
	else if (!ok)
		dns_fail(r, DNS_TEMPFAIL, "%s: TCP: %s", r->server_text,
			 errno == ETIMEDOUT ? "no reply in time" : strerror(errno));
	if (fd >= 0)
		close(fd);
	return ok;
}

/* Asks the configured server, r->tries times at most; UDP first unless
 * DNS_USE_TCP, TCP again when the UDP reply was truncated. */
static enum dns_status dns_ask_server(struct dns_resolver *r, const char *name, unsigned type, struct buf *reply)
{
	unsigned char query[DNS_QUERY_MAX_BYTES], id[2];
	struct dns_exchange x;
	int len, tries;

	memset(&x, 0, sizeof x);
	len = res_nmkquery(&r->res, ns_o_query, name, ns_c_in, (int)type, NULL, 0, NULL, query, sizeof query);
	if (len < DNS_HEADER_BYTES)
		return dns_fail(r, DNS_PERMFAIL, "unable to build a query for that name");
	x.query = query;
	x.query_len = (size_t)len;
	x.name = name;
	x.type = type;
	x.reply = reply;
	for (tries = 0; tries < (r->tries > 0 ? r->tries : 1); tries++) {
		if (!password_random(id, sizeof id))
			return dns_fail(r, DNS_TEMPFAIL, "no random query id: %s", strerror(errno));
		memcpy(query, id, 2);
		x.id = ns_get16(id);
		x.ignored = NULL;
		if (!(r->flags & DNS_USE_TCP)) {
			if (!dns_try_udp(r, &x))
				continue;
			if (!x.truncated)
				return DNS_OK;
		}
		if (dns_try_tcp(r, &x))
			return DNS_OK;
	}
	return DNS_TEMPFAIL;
}

/* The system resolver: res_nquery handles ids, retries and TC itself, and
 * reports through h_errno. */
static enum dns_status dns_ask_system(struct dns_resolver *r, const char *name, unsigned type, struct buf *reply)
{
	int n;

	r->res.retrans = r->timeout_sec;
	r->res.retry = r->tries > 0 ? r->tries : 1;
	if (r->flags & DNS_USE_TCP)
		r->res.options |= RES_USEVC;
	n = res_nquery(&r->res, name, ns_c_in, (int)type, (unsigned char *)reply->data, DNS_REPLY_MAX_BYTES);
	if (n >= 0) {
		reply->len = n > DNS_REPLY_MAX_BYTES ? DNS_REPLY_MAX_BYTES : (size_t)n;
		return DNS_OK;
	}
	switch (r->res.res_h_errno) {
	case HOST_NOT_FOUND:
		r->nxdomain = 1;
		return DNS_NOTFOUND;
	case NO_DATA:
		return DNS_NOTFOUND;
	case TRY_AGAIN:
		return dns_fail(r, DNS_TEMPFAIL, "%s: no reply in time, or a server failure", r->server_text);
	}
	return dns_fail(r, DNS_TEMPFAIL, "%s: the query was refused or failed", r->server_text);
}

/* Sets the text of a NOTFOUND answer about name. */
static enum dns_status dns_not_found(struct dns_resolver *r, const char *name, unsigned type)
{
	if (r->nxdomain)
		return dns_fail(r, DNS_NOTFOUND, "%s: no such name (NXDOMAIN)", name);
	return dns_fail(r, DNS_NOTFOUND, "%s: no %s records", name, dns_type_name(type));
}

/* Asks for (name, type) and parses the reply into out.  Error texts from
 * here on start with the name. */
static enum dns_status dns_query_once(struct dns_resolver *r, const char *name, unsigned type,
				      struct buf *reply, struct dns_reply *out)
{
	char why[DNS_ERROR_MAX_BYTES];
	enum dns_status st;

	reply->len = 0;
	st = r->use_system ? dns_ask_system(r, name, type, reply) : dns_ask_server(r, name, type, reply);
	if (st == DNS_NOTFOUND)
		return dns_not_found(r, name, type);
	if (st != DNS_OK) {
		memcpy(why, r->error, sizeof why);
		return dns_fail(r, st, "%s: %s", name, why);
	}
	st = dns_reply_parse((unsigned char *)reply->data, reply->len, name, type, out, why, sizeof why);
	if (st == DNS_TEMPFAIL)
		return dns_fail(r, st, "%s: %s: %s", name, r->server_text, why);
	r->nxdomain = st == DNS_NOTFOUND && out->rcode == ns_r_nxdomain;
	return st;
}

/* One query with CNAMEs followed, the reply parsed into out: when a
 * reply ends its chain at a name without records, that name is asked next.
 * r->error and r->nxdomain are set for anything but DNS_OK. */
static enum dns_status dns_query(struct dns_resolver *r, const char *name, unsigned type, struct dns_reply *out)
{
	struct buf reply = BUF_INIT;
	char current[NS_MAXDNAME];
	unsigned hops = 0;
	enum dns_status st;

	memset(out, 0, sizeof *out);
	r->error[0] = '\0';
	r->nxdomain = 0;
	if (!dns_name_valid(name))
		return dns_fail(r, DNS_PERMFAIL, "not a valid domain name (too long, an empty label or a bad character)");
	if (!buf_reserve(&reply, DNS_REPLY_MAX_BYTES + 1))
		return dns_fail(r, DNS_TEMPFAIL, "out of memory");
	snprintf(current, sizeof current, "%s", name);
	for (;;) {
		st = dns_query_once(r, current, type, &reply, out);
		if (st != DNS_NOTFOUND || r->nxdomain || !out->owner || dns_same_name(out->owner, current) == 1)
			break;
		hops += out->cname_hops;
		if (hops > DNS_CNAME_HOPS_MAX || !dns_name_valid(out->owner)) {
			st = dns_fail(r, DNS_TEMPFAIL, "%s: CNAME chain too long, or to a bad name", name);
			break;
		}
		snprintf(current, sizeof current, "%s", out->owner);
		dns_reply_free(out);
	}
	if (st == DNS_NOTFOUND && out->owner)
		dns_not_found(r, out->owner, type);
	buf_free(&reply);
	if (st != DNS_OK)
		dns_reply_free(out);
	return st;
}

/* ---- the lookups ---- */

void dns_mx_list_free(struct dns_mx_list *list)
{
	size_t i;

	for (i = 0; i < list->count; i++)
		free(list->items[i].host);
	free(list->items);
	list->items = NULL;
	list->count = 0;
}

void dns_address_list_free(struct dns_address_list *list)
{
	free(list->items);
	list->items = NULL;
	list->count = 0;
}

void dns_text_list_free(struct dns_text_list *list)
{
	size_t i;

	for (i = 0; i < list->count; i++)
		free(list->items[i].data);
	free(list->items);
	list->items = NULL;
	list->count = 0;
}

void dns_destination_free(struct dns_destination *dest)
{
	size_t i;

	for (i = 0; i < dest->count; i++) {
		free(dest->hosts[i].name);
		dns_address_list_free(&dest->hosts[i].addresses);
	}
	free(dest->hosts);
	memset(dest, 0, sizeof *dest);
}

struct dns_mx_sort {
	struct dns_mx mx;
	uint32_t key;   /* random: the order among equal preferences */
};

static int dns_mx_compare(const void *a, const void *b)
{
	const struct dns_mx_sort *x = a, *y = b;

	if (x->mx.preference != y->mx.preference)
		return x->mx.preference < y->mx.preference ? -1 : 1;
	return x->key < y->key ? -1 : x->key > y->key;
}

/* Moves the MX records of reply into out, sorted.  1 ok, 0 out of memory. */
static int dns_mx_take(struct dns_reply *reply, struct dns_mx_list *out)
{
	struct dns_mx_sort *sort = calloc(reply->count, sizeof *sort);
	size_t i;

	out->items = calloc(reply->count, sizeof *out->items);
	if (!sort || !out->items) {
		free(sort);
		return 0;
	}
	for (i = 0; i < reply->count; i++) {
		sort[i].mx.host = reply->records[i].text;
		sort[i].mx.preference = reply->records[i].preference;
		reply->records[i].text = NULL;
		if (!password_random(&sort[i].key, sizeof sort[i].key))
			sort[i].key = (uint32_t)i;
	}
	qsort(sort, reply->count, sizeof *sort, dns_mx_compare);
	for (i = 0; i < reply->count; i++)
		out->items[i] = sort[i].mx;
	out->count = reply->count;
	free(sort);
	return 1;
}

static int dns_is_root(const char *name) { return name[0] == '\0' || strcmp(name, ".") == 0; }

enum dns_status dns_mx(struct dns_resolver *r, const char *domain, struct dns_mx_list *out)
{
	struct dns_reply reply;
	enum dns_status st;

	dns_mx_list_free(out);
	st = dns_query(r, domain, ns_t_mx, &reply);
	if (st == DNS_OK && !dns_mx_take(&reply, out))
		st = dns_fail(r, DNS_TEMPFAIL, "out of memory");
	dns_reply_free(&reply);
	if (st == DNS_OK && out->count == 1 && out->items[0].preference == 0 && dns_is_root(out->items[0].host)) {
		dns_mx_list_free(out);
		return dns_fail(r, DNS_NULL_MX, "%s: accepts no mail (null MX, RFC 7505)", domain);
	}
	return st;
}

/* Appends the addresses of reply to out.  1 ok, 0 out of memory. */
static int dns_addresses_take(const struct dns_reply *reply, struct dns_address_list *out)
{
	struct sockaddr_storage *grown;
	size_t i;

	if (reply->count == 0)
		return 1;
	if (reply->count > SIZE_MAX / sizeof *grown - out->count)
		return 0;
	grown = realloc(out->items, (out->count + reply->count) * sizeof *grown);
	if (!grown)
		return 0;
	out->items = grown;
	for (i = 0; i < reply->count; i++)
		out->items[out->count++] = reply->records[i].address;
	return 1;
}

static enum dns_status dns_lookup_addresses(struct dns_resolver *r, const char *name, unsigned type,
					    struct dns_address_list *out)
{
	struct dns_reply reply;
	enum dns_status st;

	st = dns_query(r, name, type, &reply);
	if (st == DNS_OK && !dns_addresses_take(&reply, out))
		st = dns_fail(r, DNS_TEMPFAIL, "out of memory");
	dns_reply_free(&reply);
	return st;
}

enum dns_status dns_lookup_a(struct dns_resolver *r, const char *name, struct dns_address_list *out)
{
	dns_address_list_free(out);
	return dns_lookup_addresses(r, name, ns_t_a, out);
}

enum dns_status dns_lookup_aaaa(struct dns_resolver *r, const char *name, struct dns_address_list *out)
{
	dns_address_list_free(out);
	return dns_lookup_addresses(r, name, ns_t_aaaa, out);
}

/* One name of dns_lookup_a_parallel in flight. */
struct dns_pending {
	struct dns_exchange x;
	unsigned char query[DNS_QUERY_MAX_BYTES];
	struct buf reply;
	int fd;
	int done;
};

/* Takes a datagram on p's socket: 1 when it settled p's status. */
static int dns_pending_read(struct dns_pending *p, const char *name, enum dns_status *status,
			    struct dns_address_list *out)
{
	struct dns_reply reply;
	char why[DNS_ERROR_MAX_BYTES];
	ssize_t n = recv(p->fd, p->reply.data, p->reply.cap - 1, MSG_TRUNC);

	if (n < 0 || (size_t)n > p->reply.cap - 1 || !dns_is_our_reply(&p->x, (unsigned char *)p->reply.data, (size_t)n))
		return 0;
	*status = dns_reply_parse((unsigned char *)p->reply.data, (size_t)n, name, ns_t_a, &reply, why, sizeof why);
	if (*status == DNS_OK && !dns_addresses_take(&reply, out))
		*status = DNS_TEMPFAIL;
	dns_reply_free(&reply);
	return 1;
}

/* Sends p's query with a fresh socket and id.  1 ok. */
static int dns_pending_send(struct dns_resolver *r, struct dns_pending *p)
{
	unsigned char id[2];

	if (p->fd < 0 && (p->fd = dns_socket(r, SOCK_DGRAM)) < 0)
		return 0;
	if (!p->x.id) {
		if (!password_random(id, sizeof id))
			return 0;
		memcpy(p->query, id, 2);
		p->x.id = ns_get16(id);
	}
	return send(p->fd, p->query, p->x.query_len, 0) == (ssize_t)p->x.query_len;
}

void dns_lookup_a_parallel(struct dns_resolver *r, const char *const *names, size_t count, long long deadline_ms,
			   enum dns_status *status, struct dns_address_list *out)
{
	struct dns_pending *p = calloc(count ? count : 1, sizeof *p);
	struct pollfd *fds = calloc(count ? count : 1, sizeof *fds);
	long long start = conn_now_ms(), resend_at = start + (deadline_ms - start) / 2;
	size_t i, open_count = 0, *which = calloc(count ? count : 1, sizeof *which);
	int resent = 0, len, left;

	for (i = 0; i < count; i++) {
		dns_address_list_free(&out[i]);
		status[i] = DNS_TEMPFAIL;
	}
	if (!p || !fds || !which)
		goto out;
	if (r->use_system) {
		/* res_nquery asks one name at a time: each gets what is left. */
		for (i = 0; i < count && (left = (int)((deadline_ms - conn_now_ms()) / 1000)) > 0; i++) {
			r->timeout_sec = left, r->tries = 1;
			status[i] = dns_lookup_a(r, names[i], &out[i]);
		}
		goto out;
	}
	for (i = 0; i < count; i++) {
		p[i].fd = -1;
		p[i].done = 1;
		if (!dns_name_valid(names[i])) {
			status[i] = DNS_PERMFAIL;
			continue;
		}
		len = res_nmkquery(&r->res, ns_o_query, names[i], ns_c_in, ns_t_a, NULL, 0, NULL, p[i].query,
				   sizeof p[i].query);
		if (len < DNS_HEADER_BYTES) {
			status[i] = DNS_PERMFAIL;
			continue;
		}
		p[i].x.query = p[i].query, p[i].x.query_len = (size_t)len;
		p[i].x.name = names[i], p[i].x.type = ns_t_a, p[i].x.reply = &p[i].reply;
		if (!buf_reserve(&p[i].reply, 4096) || !dns_pending_send(r, &p[i]))
			continue;
		p[i].done = 0;
	}
	for (;;) {
		long long now = conn_now_ms(), until;
		open_count = 0;
		for (i = 0; i < count; i++)
			if (!p[i].done) {
				fds[open_count] = (struct pollfd){ .fd = p[i].fd, .events = POLLIN };
				which[open_count++] = i;
			}
		if (!open_count || now >= deadline_ms)
			break;
		/* Lost datagrams: every name not answered by half time is asked again. */
		if (!resent && now >= resend_at) {
			for (i = 0; i < open_count; i++)
				(void)dns_pending_send(r, &p[which[i]]);
			resent = 1;
		}
		until = resent ? deadline_ms : resend_at;
		if (poll(fds, open_count, (int)(until - now)) < 0 && errno != EINTR)
			break;
		for (i = 0; i < open_count; i++)
			if (fds[i].revents && dns_pending_read(&p[which[i]], names[which[i]], &status[which[i]],
							       &out[which[i]]))
				p[which[i]].done = 1;
	}
out:
	for (i = 0; p && i < count; i++) {
		if (p[i].fd >= 0)
			close(p[i].fd);
		buf_free(&p[i].reply);
	}
	free(p);
	free(fds);
	free(which);
}

enum dns_status dns_addresses(struct dns_resolver *r, const char *host, struct dns_address_list *out)
{
	unsigned types[2] = { ns_t_aaaa, ns_t_a };
	char temp_error[DNS_ERROR_MAX_BYTES] = "";
	enum dns_status st;
	int i;

	if (r->flags & DNS_IPV4_FIRST) {
		types[0] = ns_t_a;
		types[1] = ns_t_aaaa;
	}
	dns_address_list_free(out);
	for (i = 0; i < 2; i++) {
		st = dns_lookup_addresses(r, host, types[i], out);
		if (st == DNS_PERMFAIL)
			return st;
		if (st == DNS_TEMPFAIL)
			memcpy(temp_error, r->error, sizeof temp_error);
		if (st == DNS_NOTFOUND && r->nxdomain)
			break;   /* the name does not exist for any type */
	}
	if (out->count) {
		r->error[0] = '\0';
		return DNS_OK;
	}
	if (temp_error[0]) {
		memcpy(r->error, temp_error, sizeof r->error);
		return DNS_TEMPFAIL;
	}
	if (!r->nxdomain)
		dns_fail(r, DNS_NOTFOUND, "%s: no A or AAAA records", host);
	return DNS_NOTFOUND;
}

/* Appends host with its addresses (taken from addresses) to dest. */
static int dns_destination_add(struct dns_destination *dest, const char *host, unsigned preference,
			       struct dns_address_list *addresses)
{
	struct dns_host *grown = realloc(dest->hosts, (dest->count + 1) * sizeof *grown);
	char *name = strdup(host);

	if (grown)
		dest->hosts = grown;
	if (!grown || !name) {
		free(name);
		return 0;
	}
	grown[dest->count].name = name;
	grown[dest->count].preference = preference;
	grown[dest->count].addresses = *addresses;
	memset(addresses, 0, sizeof *addresses);
	dest->count++;
	return 1;
}

static enum dns_status dns_destination_implicit(struct dns_resolver *r, const char *domain,
						struct dns_destination *out)
{
	struct dns_address_list addresses = { 0 };
	enum dns_status st;

	out->implicit_mx = 1;
	st = dns_addresses(r, domain, &addresses);
	if (st == DNS_NOTFOUND && !r->nxdomain)
		dns_fail(r, st, "%s: no MX, A or AAAA records", domain);
	if (st == DNS_OK && !dns_destination_add(out, domain, 0, &addresses))
		st = dns_fail(r, DNS_TEMPFAIL, "out of memory");
	dns_address_list_free(&addresses);
	return st;
}

/* Resolves each MX host in order; a host that fails is skipped and counted. */
static enum dns_status dns_destination_hosts(struct dns_resolver *r, const char *domain,
					     const struct dns_mx_list *mx, struct dns_destination *out)
{
	struct dns_address_list addresses = { 0 };
	char temp_error[DNS_ERROR_MAX_BYTES] = "";
	enum dns_status st;
	size_t i;

	for (i = 0; i < mx->count && i < DNS_DESTINATION_HOSTS_MAX; i++) {
		st = dns_is_root(mx->items[i].host) ? DNS_NOTFOUND : dns_addresses(r, mx->items[i].host, &addresses);
		if (st == DNS_OK && !dns_destination_add(out, mx->items[i].host, mx->items[i].preference, &addresses))
			st = dns_fail(r, DNS_TEMPFAIL, "out of memory");
		if (st == DNS_TEMPFAIL) {
			out->tempfail_hosts++;
			memcpy(temp_error, r->error, sizeof temp_error);
		} else if (st != DNS_OK) {
			out->no_address_hosts++;
		}
	}
	dns_address_list_free(&addresses);
	if (out->count) {
		r->error[0] = '\0';
		return DNS_OK;
	}
	if (out->tempfail_hosts)
		return dns_fail(r, DNS_TEMPFAIL, "%s: no MX host has an address now (%s)", domain, temp_error);
	return dns_fail(r, DNS_NOTFOUND, "%s: no MX host has an address", domain);
}

enum dns_status dns_destination(struct dns_resolver *r, const char *domain, struct dns_destination *out)
{
	struct dns_mx_list mx = { 0 };
	enum dns_status st;

	dns_destination_free(out);
	st = dns_mx(r, domain, &mx);
	if (st == DNS_NOTFOUND && !r->nxdomain)
		return dns_destination_implicit(r, domain, out);
	if (st == DNS_OK)
		st = dns_destination_hosts(r, domain, &mx, out);
	dns_mx_list_free(&mx);
	return st;
}

/* Moves the texts (TXT strings or PTR names) of reply into out. */
static int dns_texts_take(struct dns_reply *reply, struct dns_text_list *out)
{
	size_t i;

	out->items = calloc(reply->count ? reply->count : 1, sizeof *out->items);
	if (!out->items)
		return 0;
	for (i = 0; i < reply->count; i++) {
		out->items[i].data = reply->records[i].text;
		out->items[i].len = reply->records[i].text_len;
		reply->records[i].text = NULL;
	}
	out->count = reply->count;
	return 1;
}

static enum dns_status dns_lookup_texts(struct dns_resolver *r, const char *name, unsigned type,
					struct dns_text_list *out)
{
	struct dns_reply reply;
	enum dns_status st;

	dns_text_list_free(out);
	st = dns_query(r, name, type, &reply);
	if (st == DNS_OK && !dns_texts_take(&reply, out))
		st = dns_fail(r, DNS_TEMPFAIL, "out of memory");
	dns_reply_free(&reply);
	return st;
}

enum dns_status dns_lookup_txt(struct dns_resolver *r, const char *name, struct dns_text_list *out)
{
	return dns_lookup_texts(r, name, ns_t_txt, out);
}

int dns_reverse_name(const struct sockaddr *addr, const char *suffix, char *out, size_t size)
{
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)addr;
	const unsigned char *b;
	size_t pos = 0, i;
	int n;

	if (addr->sa_family == AF_INET6 && !IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
		b = sin6->sin6_addr.s6_addr;
		for (i = 16; i-- > 0 && pos + 4 < size; pos += 4)
			snprintf(out + pos, size - pos, "%x.%x.", b[i] & 15, b[i] >> 4);
		n = snprintf(out + pos, size > pos ? size - pos : 0, "%s", suffix);
		if (pos != 64 || n < 0 || (size_t)n >= size - pos)
			return (errno = ERANGE, 0);
		return 1;
	}
	if (addr->sa_family == AF_INET6)
		b = sin6->sin6_addr.s6_addr + 12;
	else if (addr->sa_family == AF_INET)
		b = (const unsigned char *)&((const struct sockaddr_in *)addr)->sin_addr;
	else
		return (errno = EAFNOSUPPORT, 0);
	n = snprintf(out, size, "%u.%u.%u.%u.%s", b[3], b[2], b[1], b[0], suffix);
	if (n < 0 || (size_t)n >= size)
		return (errno = ERANGE, 0);
	return 1;
}

enum dns_status dns_ptr(struct dns_resolver *r, const struct sockaddr *addr, struct dns_text_list *out)
{
	char name[NS_MAXDNAME];
	int v4 = addr->sa_family == AF_INET ||
		 (addr->sa_family == AF_INET6 &&
		  IN6_IS_ADDR_V4MAPPED(&((const struct sockaddr_in6 *)addr)->sin6_addr));

	dns_text_list_free(out);
	if (!dns_reverse_name(addr, v4 ? "in-addr.arpa" : "ip6.arpa", name, sizeof name))
		return dns_fail(r, DNS_PERMFAIL, "not an IPv4 or IPv6 address");
	return dns_lookup_texts(r, name, ns_t_ptr, out);
}
