#include "milter.h"
#include "conn.h"
#include "status.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define MILTER_READ_CHUNK_BYTES 65536
#define MILTER_LINE_MAX_BYTES 998   /* RFC 5322 §2.1.1, a header line without its CRLF */

/* ---- the reply parser (no I/O) ----------------------------------------- */

static int fail(struct milter_reply *out, const char *why)
{
	out->error = why;
	return 0;
}

static unsigned long get_u32(const unsigned char *p)
{
	return (unsigned long)p[0] << 24 | (unsigned long)p[1] << 16 | (unsigned long)p[2] << 8 | p[3];
}

/* The NUL-terminated string at *p (before end): 1 and *p past its NUL. */
static int take_string(const unsigned char **p, const unsigned char *end, const char **s)
{
	const unsigned char *nul = memchr(*p, 0, (size_t)(end - *p));

	if (!nul)
		return 0;
	*s = (const char *)*p;
	*p = nul + 1;
	return 1;
}

/* A field name (RFC 5322 §3.6.8): printable ASCII, no ':' and no space. */
static int header_name_ok(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (*s <= ' ' || *s >= 0x7f || *s == ':')
			return 0;
	return 1;
}

/* A value may fold: a line end (LF or CRLF) must be followed by a space or
 * a tab; no bare CR; no line longer than a header line may be. */
static int header_value_ok(const char *s)
{
	size_t line = 0;

	for (; *s; s++) {
		if (*s == '\r' && s[1] != '\n')
			return 0;
		if (*s == '\r')
			continue;
		if (*s == '\n') {
			if (s[1] != ' ' && s[1] != '\t')
				return 0;
			line = 0;
		} else if (++line > MILTER_LINE_MAX_BYTES) {
			return 0;
		}
	}
	return 1;
}

static int text_printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < ' ' || (unsigned char)*s == 0x7f)
			return 0;
	return 1;
}

/* SMFIR_REPLYCODE: "4xx[ x.y.z][ text]" or the same with 5xx. */
static int parse_replycode(const char *s, struct milter_reply *out)
{
	size_t e;

	if ((s[0] != '4' && s[0] != '5') || s[1] < '0' || s[1] > '9' || s[2] < '0' || s[2] > '9')
		return fail(out, "reply code not 4xx or 5xx");
	if (s[3] != ' ' && s[3] != '\0')
		return fail(out, "reply code not followed by a space");
	if (!text_printable(s))
		return fail(out, "control byte in the reply text");
	if (strlen(s) > MILTER_REPLY_TEXT_MAX_BYTES)
		return fail(out, "reply text too long");
	out->code = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
	s += s[3] ? 4 : 3;
	out->enhanced[0] = '\0';
	if ((e = smtp_status_length(s, strlen(s), (char)('0' + out->code / 100)))) {
		if (e >= sizeof out->enhanced)
			return fail(out, "enhanced code too long");
		memcpy(out->enhanced, s, e);
		out->enhanced[e] = '\0';
		s += e;
		if (*s == ' ')
			s++;
	} else if (*s >= '0' && *s <= '9' && s[1] == '.') {
		return fail(out, "enhanced code of another class or malformed");
	}
	out->text = s;
	return 1;
}

/* A header reply: [index,] name, value, and nothing after. */
static int parse_header(const unsigned char *p, const unsigned char *end, int indexed, struct milter_reply *out)
{
	if (indexed) {
		if (end - p < 4)
			return fail(out, "header index missing");
		out->index = get_u32(p);
		p += 4;
	}
	if (!take_string(&p, end, &out->name) || !take_string(&p, end, &out->value))
		return fail(out, "header name or value not NUL-terminated");
	if (p != end)
		return fail(out, "bytes after the header value");
	if (!header_name_ok(out->name))
		return fail(out, "bad header name");
	if (!header_value_ok(out->value))
		return fail(out, "bad header value (bare CR, folding or a long line)");
	return 1;
}

/* An address reply: address, then arguments when allowed. */
static int parse_address(const unsigned char *p, const unsigned char *end, int args, struct milter_reply *out)
{
	out->args = "";
	if (!take_string(&p, end, &out->address))
		return fail(out, "address not NUL-terminated");
	if (args && p < end && !take_string(&p, end, &out->args))
		return fail(out, "arguments not NUL-terminated");
	if (p != end)
		return fail(out, "bytes after the address");
	if (!*out->address || !text_printable(out->address) || !text_printable(out->args))
		return fail(out, "empty address or a control byte in it");
	return 1;
}

static int parse_optneg(const unsigned char *p, const unsigned char *end, struct milter_reply *out)
{
	if (end - p < 12)
		return fail(out, "option negotiation too short");
	out->version = get_u32(p);
	out->actions = get_u32(p + 4);
	out->protocol = get_u32(p + 8);
	/* Any macro lists after it are not used: smtpd sends its own set. */
	return 1;
}

static int parse_string_only(const unsigned char *p, const unsigned char *end, struct milter_reply *out)
{
	if (!take_string(&p, end, &out->text) || p != end)
		return fail(out, "text not NUL-terminated or bytes after it");
	if (!text_printable(out->text))
		return fail(out, "control byte in the text");
	return 1;
}

/* The replies without data. */
static int simple_kind(unsigned char c, enum milter_reply_kind *k)
{
	static const struct { unsigned char c; enum milter_reply_kind k; } table[] = {
		{ 'a', MILTER_REPLY_ACCEPT }, { 'c', MILTER_REPLY_CONTINUE }, { 'd', MILTER_REPLY_DISCARD },
		{ 'r', MILTER_REPLY_REJECT }, { 't', MILTER_REPLY_TEMPFAIL }, { 'p', MILTER_REPLY_PROGRESS },
		{ 's', MILTER_REPLY_SKIP }, { '4', MILTER_REPLY_SHUTDOWN }, { 'f', MILTER_REPLY_CONN_FAIL },
	};
	size_t i;

	for (i = 0; i < sizeof table / sizeof table[0]; i++)
		if (table[i].c == c)
			return *k = table[i].k, 1;
	return 0;
}

int milter_reply_parse(const unsigned char *packet, size_t len, struct milter_reply *out)
{
	const unsigned char *p = packet + 1, *end = packet + len;
	const char *code;

	memset(out, 0, sizeof *out);
	if (!len)
		return fail(out, "empty packet");
	if (simple_kind(packet[0], &out->kind))
		return len == 1 ? 1 : fail(out, "data after a reply that has none");
	switch (packet[0]) {
	case 'y':
		out->kind = MILTER_REPLY_REPLYCODE;
		if (!take_string(&p, end, &code) || p != end)
			return fail(out, "reply text not NUL-terminated or bytes after it");
		return parse_replycode(code, out);
	case 'q': out->kind = MILTER_REPLY_QUARANTINE; return parse_string_only(p, end, out);
	case 'h': out->kind = MILTER_REPLY_ADDHEADER; return parse_header(p, end, 0, out);
	case 'i': out->kind = MILTER_REPLY_INSHEADER; return parse_header(p, end, 1, out);
	case 'm': out->kind = MILTER_REPLY_CHGHEADER; return parse_header(p, end, 1, out);
	case 'b':
		out->kind = MILTER_REPLY_REPLBODY;
		out->data = p;
		out->data_len = len - 1;
		return 1;
	case '+': out->kind = MILTER_REPLY_ADDRCPT; return parse_address(p, end, 0, out);
	case '2': out->kind = MILTER_REPLY_ADDRCPT_PAR; return parse_address(p, end, 1, out);
	case '-': out->kind = MILTER_REPLY_DELRCPT; return parse_address(p, end, 0, out);
	case 'e': out->kind = MILTER_REPLY_CHGFROM; return parse_address(p, end, 1, out);
	case 'l':
		out->kind = MILTER_REPLY_SETSYMLIST;
		if (end - p < 4)
			return fail(out, "symbol list step missing");
		out->index = get_u32(p);
		return parse_string_only(p + 4, end, out);
	case 'O': out->kind = MILTER_REPLY_OPTNEG; return parse_optneg(p, end, out);
	default: return fail(out, "unknown reply command");
	}
}

const char *milter_reply_name(enum milter_reply_kind kind)
{
	static const char *const names[] = {
		[MILTER_REPLY_ACCEPT] = "accept", [MILTER_REPLY_CONTINUE] = "continue",
		[MILTER_REPLY_DISCARD] = "discard", [MILTER_REPLY_REJECT] = "reject",
		[MILTER_REPLY_TEMPFAIL] = "tempfail", [MILTER_REPLY_REPLYCODE] = "replycode",
		[MILTER_REPLY_PROGRESS] = "progress", [MILTER_REPLY_SKIP] = "skip",
		[MILTER_REPLY_QUARANTINE] = "quarantine", [MILTER_REPLY_ADDHEADER] = "addheader",
		[MILTER_REPLY_INSHEADER] = "insheader", [MILTER_REPLY_CHGHEADER] = "chgheader",
		[MILTER_REPLY_REPLBODY] = "replbody", [MILTER_REPLY_ADDRCPT] = "addrcpt",
		[MILTER_REPLY_ADDRCPT_PAR] = "addrcpt_par", [MILTER_REPLY_DELRCPT] = "delrcpt",
		[MILTER_REPLY_CHGFROM] = "chgfrom", [MILTER_REPLY_SETSYMLIST] = "setsymlist",
		[MILTER_REPLY_SHUTDOWN] = "shutdown", [MILTER_REPLY_CONN_FAIL] = "conn_fail",
		[MILTER_REPLY_OPTNEG] = "optneg",
	};
	return (size_t)kind < sizeof names / sizeof names[0] && names[kind] ? names[kind] : "unknown";
}

/* ---- addresses ----------------------------------------------------------- */

/* "<port>@<ip>" (Sendmail) or "<ip>:<port>" / "[<ip6>]:<port>" (Postfix). */
static int split_inet(const char *rest, char *ip, size_t ip_size, unsigned long *port)
{
	const char *at = strchr(rest, '@'), *colon, *port_text, *ip_start, *ip_end;
	char *end;

	if (at) {
		port_text = rest;
		ip_start = at + 1;
		ip_end = ip_start + strlen(ip_start);
	} else if (!(colon = strrchr(rest, ':'))) {
		return 0;
	} else {
		port_text = colon + 1;
		ip_start = rest;
		ip_end = colon;
		if (*ip_start == '[' && ip_end > ip_start + 1 && ip_end[-1] == ']')
			ip_start++, ip_end--;
	}
	if (*port_text < '0' || *port_text > '9')
		return 0;
	errno = 0;
	*port = strtoul(port_text, &end, 10);
	if (errno || (*end != '\0' && *end != '@') || *port == 0 || *port > 65535)
		return 0;
	if ((size_t)(ip_end - ip_start) >= ip_size || ip_end <= ip_start)
		return 0;
	memcpy(ip, ip_start, (size_t)(ip_end - ip_start));
	ip[ip_end - ip_start] = '\0';
	return 1;
}

int milter_address_parse(const char *address, struct sockaddr_storage *ss, unsigned *ss_len, const char **why)
{
	char ip[64];
	unsigned long port;

	memset(ss, 0, sizeof *ss);
	if (strncmp(address, "unix:", 5) == 0 || strncmp(address, "local:", 6) == 0) {
		struct sockaddr_un *un = (struct sockaddr_un *)ss;
		const char *path = strchr(address, ':') + 1;
		if (!*path || strlen(path) >= sizeof un->sun_path)
			return *why = "socket path empty or too long", 0;
		un->sun_family = AF_UNIX;
		memcpy(un->sun_path, path, strlen(path) + 1);
		*ss_len = (unsigned)sizeof *un;
		return 1;
	}
	if (strncmp(address, "inet:", 5) == 0) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;
		if (!split_inet(address + 5, ip, sizeof ip, &port) || inet_pton(AF_INET, ip, &in->sin_addr) != 1)
			return *why = "not inet:<port>@<IPv4> or inet:<IPv4>:<port> (no names)", 0;
		in->sin_family = AF_INET;
		in->sin_port = htons((unsigned short)port);
		*ss_len = (unsigned)sizeof *in;
		return 1;
	}
	if (strncmp(address, "inet6:", 6) == 0) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
		if (!split_inet(address + 6, ip, sizeof ip, &port) || inet_pton(AF_INET6, ip, &in6->sin6_addr) != 1)
			return *why = "not inet6:<port>@<IPv6> or inet6:[<IPv6>]:<port> (no names)", 0;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((unsigned short)port);
		*ss_len = (unsigned)sizeof *in6;
		return 1;
	}
	return *why = "unknown address type (unix:, inet:, inet6:)", 0;
}

/* ---- the connection -------------------------------------------------------- */

static int io_fail(struct milter *m, const char *what)
{
	int saved = errno;

	snprintf(m->error, sizeof m->error, "%s: %s", what, saved ? strerror(saved) : "failed");
	errno = saved;
	return 0;
}

void milter_init(struct milter *m)
{
	memset(m, 0, sizeof *m);
	m->fd = -1;
	m->packet_max = MILTER_PACKET_MAX_BYTES;
}

void milter_close(struct milter *m)
{
	if (m->fd >= 0)
		close(m->fd);
	m->fd = -1;
	buf_free(&m->in);
	buf_free(&m->packet);
	buf_free(&m->out);
	buf_free(&m->pending);
}

void milter_set_packet_max(struct milter *m, size_t bytes) { m->packet_max = bytes; }

int milter_open(struct milter *m, const char *address, long long timeout_ms)
{
	struct sockaddr_storage ss;
	unsigned len;
	const char *why;
	int err = 0;
	socklen_t err_len = sizeof err;

	if (!milter_address_parse(address, &ss, &len, &why)) {
		snprintf(m->error, sizeof m->error, "%s", why);
		errno = EINVAL;
		return 0;
	}
	/* Non-blocking: the connect and every later read and write wait in
	 * poll under a deadline, never in the kernel. */
	m->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (m->fd < 0)
		return io_fail(m, "socket");
	if (connect(m->fd, (struct sockaddr *)&ss, len) != 0) {
		if (errno != EINPROGRESS && errno != EAGAIN)
			return io_fail(m, "connect");
		if (!conn_poll_until(m->fd, POLLOUT, conn_now_ms() + timeout_ms))
			return io_fail(m, "connect");
		if (getsockopt(m->fd, SOL_SOCKET, SO_ERROR, &err, &err_len) != 0 || err) {
			errno = err ? err : errno;
			return io_fail(m, "connect");
		}
	}
	return 1;
}

/* Appends one framed packet to m->pending.  1 ok, 0 with m->error. */
static int frame(struct milter *m, char cmd, const void *data, size_t len)
{
	unsigned char head[5];

	if (len + 1 > 0xffffffffUL) {
		errno = EOVERFLOW;
		return io_fail(m, "send");
	}
	head[0] = (unsigned char)((len + 1) >> 24);
	head[1] = (unsigned char)((len + 1) >> 16);
	head[2] = (unsigned char)((len + 1) >> 8);
	head[3] = (unsigned char)(len + 1);
	head[4] = (unsigned char)cmd;
	if (!buf_cat(&m->pending, head, sizeof head) || !buf_cat(&m->pending, data, len))
		return io_fail(m, "send");
	return 1;
}

int milter_queue(struct milter *m, char cmd, const void *data, size_t len) { return frame(m, cmd, data, len); }

/* One write for the queued packets and this one: a step's macros and
 * command were four sends, each a wakeup of the filter. */
int milter_send(struct milter *m, char cmd, const void *data, size_t len, long long deadline_ms)
{
	size_t done = 0;
	ssize_t w;
	int ok = 1;

	if (!frame(m, cmd, data, len)) {
		buf_truncate(&m->pending, 0);
		return 0;
	}
	while (ok && done < m->pending.len) {
		w = send(m->fd, m->pending.data + done, m->pending.len - done, MSG_NOSIGNAL);
		if (w > 0)
			done += (size_t)w;
		else if (w < 0 && errno != EINTR && errno != EAGAIN)
			ok = io_fail(m, "write");
		else if (w < 0 && errno == EAGAIN && !conn_poll_until(m->fd, POLLOUT, deadline_ms))
			ok = io_fail(m, "write");
	}
	buf_truncate(&m->pending, 0);
	return ok;
}

/* One whole packet into m->packet.  1 ok, 0 with m->error. */
static int read_packet(struct milter *m, long long deadline_ms)
{
	unsigned long len;
	ssize_t r;

	for (;;) {
		if (m->in.len >= 4) {
			len = get_u32((const unsigned char *)m->in.data);
			if (len == 0 || len > m->packet_max) {
				snprintf(m->error, sizeof m->error, "packet length %lu out of range", len);
				errno = EPROTO;
				return 0;
			}
			if (m->in.len - 4 >= len) {
				if (!buf_copy(&m->packet, m->in.data + 4, len))
					return io_fail(m, "read");
				buf_drop_front(&m->in, 4 + len);
				return 1;
			}
		}
		if (!buf_reserve(&m->in, MILTER_READ_CHUNK_BYTES))
			return io_fail(m, "read");
		r = recv(m->fd, m->in.data + m->in.len, MILTER_READ_CHUNK_BYTES, 0);
		if (r > 0) {
			m->in.len += (size_t)r;
			m->in.data[m->in.len] = '\0';
		} else if (r == 0) {
			snprintf(m->error, sizeof m->error, "%s", "connection closed by the filter");
			errno = EPIPE;
			return 0;
		} else if (errno != EINTR && errno != EAGAIN) {
			return io_fail(m, "read");
		} else if (errno == EAGAIN && !conn_poll_until(m->fd, POLLIN, deadline_ms)) {
			return io_fail(m, "read");
		}
	}
}

int milter_read_reply(struct milter *m, struct milter_reply *r, long long timeout_ms)
{
	for (;;) {
		if (!read_packet(m, conn_now_ms() + timeout_ms))
			return 0;
		if (!milter_reply_parse((const unsigned char *)m->packet.data, m->packet.len, r)) {
			snprintf(m->error, sizeof m->error, "bad reply '%c': %s",
				 m->packet.data[0] > ' ' && m->packet.data[0] < 0x7f ? m->packet.data[0] : '?', r->error);
			errno = EPROTO;
			return 0;
		}
		if (r->kind != MILTER_REPLY_PROGRESS)
			return 1;
	}
}

int milter_negotiate(struct milter *m, unsigned long actions, unsigned long protocol, long long timeout_ms)
{
	struct milter_reply r;

	milter_out_reset(m);
	if (!milter_out_u32(m, MILTER_PROTOCOL_VERSION) || !milter_out_u32(m, actions) || !milter_out_u32(m, protocol))
		return io_fail(m, "optneg");
	if (!milter_send(m, MILTER_CMD_OPTNEG, m->out.data, m->out.len, conn_now_ms() + timeout_ms)
	    || !milter_read_reply(m, &r, timeout_ms))
		return 0;
	errno = EPROTO;
	if (r.kind != MILTER_REPLY_OPTNEG) {
		snprintf(m->error, sizeof m->error, "expected option negotiation, got %s", milter_reply_name(r.kind));
		return 0;
	}
	if (r.version < 2 || r.version > MILTER_PROTOCOL_VERSION) {
		snprintf(m->error, sizeof m->error, "protocol version %lu not supported", r.version);
		return 0;
	}
	/* What a filter asks for beyond the offer is not granted (as Postfix
	 * does): a step it wanted left out is still sent, a change it was not
	 * allowed is a protocol error when it comes. */
	m->actions = r.actions & actions;
	m->protocol = r.protocol & protocol;
	return 1;
}

/* ---- building packets ------------------------------------------------------ */

void milter_out_reset(struct milter *m) { buf_truncate(&m->out, 0); }
int milter_out_string(struct milter *m, const char *s) { return buf_cat(&m->out, s, strlen(s) + 1); }
int milter_out_bytes(struct milter *m, const void *p, size_t n) { return buf_cat(&m->out, p, n); }

int milter_out_u16(struct milter *m, unsigned v)
{
	unsigned char b[2] = { (unsigned char)(v >> 8), (unsigned char)v };
	return buf_cat(&m->out, b, 2);
}

int milter_out_u32(struct milter *m, unsigned long v)
{
	unsigned char b[4] = { (unsigned char)(v >> 24), (unsigned char)(v >> 16), (unsigned char)(v >> 8),
			       (unsigned char)v };
	return buf_cat(&m->out, b, 4);
}
