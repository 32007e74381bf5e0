/* smtpclient: replies, session set-up, STARTTLS, AUTH and the transaction
 * (MAIL, RCPT, DATA or BDAT).  smtpclient.h says what goes on the wire. */
#include "smtpclient.h"
#include "status.h"
#include "base64.h"
#include "md5.h"
#include "tls.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

void smtpclient_timeouts_default(struct smtpclient_timeouts *t)
{
	t->greeting = 300;
	t->helo = 300;
	t->starttls = 300;
	t->auth = 300;
	t->mail = 300;
	t->rcpt = 300;
	t->data_init = 120;
	t->data_block = 180;
	t->data_done = 600;
	t->rset = 300;
	t->quit = 300;
}

void smtpclient_init(struct smtpclient *c, const struct smtpclient_timeouts *t)
{
	memset(c, 0, sizeof *c);
	c->fd = -1;
	if (t)
		c->timeouts = *t;
	else
		smtpclient_timeouts_default(&c->timeouts);
	smtpclient_reply_init(&c->reply);
	conn_init(&c->conn, -1, -1);
}

/* ---- errors ---- */

static int smtpclient_fail(struct smtpclient *c, int temporary, int connection, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int smtpclient_reply_flat(const struct smtpclient_reply *r, struct buf *out);
static int smtpclient_put(struct smtpclient *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int smtpclient_fail(struct smtpclient *c, int temporary, int connection, const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	vsnprintf(c->error.text, sizeof c->error.text, fmt, ap);
	va_end(ap);
	c->error.temporary = temporary;
	c->error.connection = connection;
	c->error.code = 0;
	c->error.status[0] = 0;
	if (connection)
		c->broken = 1;
	errno = saved;
	return 0;
}

/* The reply just read, as the error of "what": a 5xx is permanent, a 421
 * ends the session (RFC 5321 §3.8). */
static int smtpclient_fail_reply(struct smtpclient *c, const char *what)
{
	const struct smtpclient_reply *r = &c->reply;
	struct buf flat = BUF_INIT;

	(void)smtpclient_reply_flat(r, &flat);
	smtpclient_fail(c, r->code < 500, r->code == 421, "%s: %d%s%s%s%s", what, r->code,
			*r->status ? " " : "", r->status, flat.len ? " " : "", flat.data ? flat.data : "");
	c->error.code = r->code;
	memcpy(c->error.status, r->status, sizeof c->error.status);
	buf_free(&flat);
	return 0;
}

/* A failed read or write: the session is over. */
static int smtpclient_fail_io(struct smtpclient *c, const char *what, int got_eof)
{
	const char *tls_why = tls_last_error(&c->conn);

	if (got_eof)
		return smtpclient_fail(c, 1, 1, "%s: connection closed by the peer", what);
	if (errno == ETIMEDOUT)
		return smtpclient_fail(c, 1, 1, "%s: timed out", what);
	if (errno == EPROTO)
		return smtpclient_fail(c, 1, 1, "%s: connection closed in the middle of a reply line", what);
	if (errno == ERANGE)
		return smtpclient_fail(c, 1, 1, "%s: reply line longer than %d bytes", what,
				       SMTPCLIENT_LINE_MAX_BYTES);
	if (*tls_why)
		return smtpclient_fail(c, 1, 1, "%s: %s", what, tls_why);
	return smtpclient_fail(c, 1, 1, "%s: %s", what, strerror(errno));
}

/* ---- replies ---- */

void smtpclient_reply_init(struct smtpclient_reply *r) { memset(r, 0, sizeof *r); }
void smtpclient_reply_free(struct smtpclient_reply *r) { buf_free(&r->text); smtpclient_reply_init(r); }

static void smtpclient_reply_reset(struct smtpclient_reply *r)
{
	buf_truncate(&r->text, 0);
	r->code = 0;
	r->status[0] = 0;
	r->lines = r->bytes = 0;
	r->done = 0;
}

/* Appends text with control bytes made harmless for a record or a log. */
static int cat_sanitized(struct buf *out, const char *p, size_t n)
{
	size_t i;
	unsigned char ch;

	if (!buf_reserve(out, n))
		return 0;
	for (i = 0; i < n; i++) {
		ch = (unsigned char)p[i];
		out->data[out->len++] = ch == '\t' ? ' ' : (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
	}
	out->data[out->len] = 0;
	return 1;
}

/* Checks a line's "ddd" and separator; *last says whether it ends the reply. */
static int reply_line_head(const char *line, size_t n, int *code, int *last)
{
	if (n < 3 || line[0] < '2' || line[0] > '5' || line[1] < '0' || line[1] > '5'
	    || line[2] < '0' || line[2] > '9')
		return 0;
	if (n > 3 && line[3] != '-' && line[3] != ' ')
		return 0;
	*code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	*last = n == 3 || line[3] == ' ';
	return 1;
}

/* Takes the line's text into r, its status code off when it has one. */
static int reply_take_text(struct smtpclient_reply *r, const char *text, size_t n)
{
	size_t s = smtp_status_length(text, n, (char)('0' + r->code / 100));

	if (s && r->lines == 0 && s < sizeof r->status) {
		memcpy(r->status, text, s);
		r->status[s] = 0;
	}
	if (s && strlen(r->status) == s && memcmp(r->status, text, s) == 0) {
		text += s;
		n -= s;
		if (n && *text == ' ') {
			text++;
			n--;
		}
	}
	if (r->lines && !buf_catc(&r->text, '\n'))
		return 0;
	return cat_sanitized(&r->text, text, n);
}

int smtpclient_reply_add_line(struct smtpclient_reply *r, const char *line, size_t len, const char **why)
{
	size_t n = len;
	int code, last;

	if (r->done)
		smtpclient_reply_reset(r);
	if (n == 0 || line[n - 1] != '\n') {
		*why = "reply line without a line end";
		return -1;
	}
	n--;
	if (n && line[n - 1] == '\r')
		n--;
	if (!reply_line_head(line, n, &code, &last)) {
		*why = "malformed reply line";
		return -1;
	}
	if (r->lines && code != r->code) {
		*why = "reply lines with different codes";
		return -1;
	}
	if (r->lines >= SMTPCLIENT_REPLY_MAX_LINES || len > SMTPCLIENT_REPLY_MAX_BYTES - r->bytes) {
		*why = "reply too long";
		return -1;
	}
	r->code = code;
	if (!reply_take_text(r, n > 4 ? line + 4 : "", n > 4 ? n - 4 : 0)) {
		*why = "out of memory";
		return -1;
	}
	r->lines++;
	r->bytes += len;
	r->done = last;
	return last;
}

int smtpclient_reply_parse(struct smtpclient_reply *r, const char *data, size_t len, size_t *used,
			   const char **why)
{
	size_t pos = 0, n;
	const char *lf;
	int got;

	smtpclient_reply_reset(r);
	*used = 0;
	while (pos < len) {
		lf = memchr(data + pos, '\n', len - pos);
		n = lf ? (size_t)(lf - (data + pos)) + 1 : len - pos;
		if (n > SMTPCLIENT_LINE_MAX_BYTES) {
			*why = "reply line too long";
			return -1;
		}
		if (!lf)
			return 0;
		got = smtpclient_reply_add_line(r, data + pos, n, why);
		pos += n;
		if (got != 0) {
			*used = pos;
			return got;
		}
	}
	return 0;
}

/* The reply's text on one line (lines joined with a space). */
static int smtpclient_reply_flat(const struct smtpclient_reply *r, struct buf *out)
{
	size_t i, start = out->len;

	if (!buf_cat(out, r->text.data ? r->text.data : "", r->text.len))
		return 0;
	for (i = start; i < out->len; i++)
		if (out->data[i] == '\n')
			out->data[i] = ' ';
	return 1;
}

/* Reads one whole reply within timeout_sec (per read and in all). */
static int smtpclient_read_reply(struct smtpclient *c, int timeout_sec, const char *what)
{
	const char *why = "";
	int r;

	conn_set_idle_timeout(&c->conn, timeout_sec);
	conn_set_deadline(&c->conn, timeout_sec);
	smtpclient_reply_reset(&c->reply);
	for (;;) {
		errno = 0;
		r = conn_getline(&c->conn, &c->line, SMTPCLIENT_LINE_MAX_BYTES);
		if (r <= 0)
			return smtpclient_fail_io(c, what, r == 0);
		r = smtpclient_reply_add_line(&c->reply, c->line.data, c->line.len, &why);
		if (r < 0)
			return smtpclient_fail(c, 1, 1, "%s: %s", what, why);
		if (r > 0)
			return 1;
	}
}

/* Buffers a command line (CRLF added). */
static int smtpclient_put(struct smtpclient *c, const char *fmt, ...)
{
	va_list ap;
	char small[1100];
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof small, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof small - 2)
		return smtpclient_fail(c, 0, 0, "command too long");
	memcpy(small + n, "\r\n", 2);
	if (!conn_put(&c->conn, small, (size_t)n + 2))
		return smtpclient_fail(c, 1, 0, "unable to buffer a command: %s", strerror(errno));
	return 1;
}

/* A command and its reply; 1 when the reply class is want (2 or 3). */
static int smtpclient_command(struct smtpclient *c, int timeout_sec, int want, const char *what,
			      const char *line)
{
	if (!smtpclient_put(c, "%s", line) || !smtpclient_read_reply(c, timeout_sec, what))
		return 0;
	if (c->reply.code / 100 != want)
		return smtpclient_fail_reply(c, what);
	return 1;
}

/* ---- capabilities ---- */

static void caps_add_auth(struct smtpclient_caps *caps, const char *p, size_t n)
{
	size_t have = strlen(caps->auth), i;

	if (!n || have + n + 2 > sizeof caps->auth)
		return;
	if (have)
		caps->auth[have++] = ' ';
	for (i = 0; i < n; i++)
		caps->auth[have + i] = (char)((p[i] >= 'a' && p[i] <= 'z') ? p[i] - 32 : p[i]);
	caps->auth[have + n] = 0;
}

/* The mechanisms after "AUTH " or "AUTH=" (the old form some peers send). */
static void caps_parse_auth(struct smtpclient_caps *caps, const char *p, size_t n)
{
	size_t i = 0, start;

	caps->flags |= SMTPCLIENT_CAP_AUTH;
	while (i < n) {
		while (i < n && p[i] == ' ')
			i++;
		start = i;
		while (i < n && p[i] != ' ')
			i++;
		caps_add_auth(caps, p + start, i - start);
	}
}

static void caps_parse_size(struct smtpclient_caps *caps, const char *p, size_t n)
{
	unsigned long long v = 0;
	size_t i = 0;

	caps->flags |= SMTPCLIENT_CAP_SIZE;
	while (i < n && p[i] == ' ')
		i++;
	for (; i < n && p[i] >= '0' && p[i] <= '9'; i++) {
		if (v > (~0ULL - 9) / 10)
			return; /* absurdly large: as good as no limit */
		v = v * 10 + (unsigned long long)(p[i] - '0');
	}
	caps->size_limit = v;
}

static int keyword_is(const char *p, size_t n, const char *word)
{
	return strlen(word) == n && strncasecmp(p, word, n) == 0;
}

static void caps_parse_line(struct smtpclient_caps *caps, const char *p, size_t n)
{
	static const struct { const char *word; unsigned flag; } plain[] = {
		{ "PIPELINING", SMTPCLIENT_CAP_PIPELINING }, { "8BITMIME", SMTPCLIENT_CAP_8BITMIME },
		{ "SMTPUTF8", SMTPCLIENT_CAP_SMTPUTF8 }, { "DSN", SMTPCLIENT_CAP_DSN },
		{ "CHUNKING", SMTPCLIENT_CAP_CHUNKING }, { "STARTTLS", SMTPCLIENT_CAP_STARTTLS },
		{ "ENHANCEDSTATUSCODES", SMTPCLIENT_CAP_ENHANCEDSTATUSCODES },
	};
	size_t k = 0, i;

	while (k < n && p[k] != ' ' && p[k] != '=')
		k++;
	if (keyword_is(p, k, "SIZE"))
		caps_parse_size(caps, p + k, n - k);
	else if (keyword_is(p, k, "AUTH"))
		caps_parse_auth(caps, p + k + (k < n), n - k - (k < n));
	for (i = 0; i < sizeof plain / sizeof plain[0]; i++)
		if (keyword_is(p, k, plain[i].word))
			caps->flags |= plain[i].flag;
}

void smtpclient_caps_parse(struct smtpclient_caps *caps, const struct smtpclient_reply *r)
{
	const char *p = r->text.data, *end, *nl;

	memset(caps, 0, sizeof *caps);
	if (!p || r->code != 250)
		return;
	end = p + r->text.len;
	nl = memchr(p, '\n', r->text.len); /* the first line is the greeting */
	while (nl && nl < end) {
		p = nl + 1;
		nl = memchr(p, '\n', (size_t)(end - p));
		caps_parse_line(caps, p, (size_t)((nl ? nl : end) - p));
		if (!nl)
			break;
	}
}

/* ---- connecting ---- */

static void address_text(const struct sockaddr *addr, socklen_t len, char *out, size_t size)
{
	char host[NI_MAXHOST], port[NI_MAXSERV];

	if (getnameinfo(addr, len, host, sizeof host, port, sizeof port, NI_NUMERICHOST | NI_NUMERICSERV))
		snprintf(out, size, "(unknown address)");
	else
		snprintf(out, size, "[%s]:%s", host, port);
}

/* Binds to bind_ip when it is a literal of family (not an "any" address). */
static int bind_source(int fd, int family, const char *bind_ip)
{
	struct sockaddr_in v4;
	struct sockaddr_in6 v6;

	if (!bind_ip || !*bind_ip || !strcmp(bind_ip, "0.0.0.0") || !strcmp(bind_ip, "::"))
		return 1;
	memset(&v4, 0, sizeof v4);
	memset(&v6, 0, sizeof v6);
	if (family == AF_INET && inet_pton(AF_INET, bind_ip, &v4.sin_addr) == 1) {
		v4.sin_family = AF_INET;
		return bind(fd, (struct sockaddr *)&v4, sizeof v4) == 0;
	}
	if (family == AF_INET6 && inet_pton(AF_INET6, bind_ip, &v6.sin6_addr) == 1) {
		v6.sin6_family = AF_INET6;
		return bind(fd, (struct sockaddr *)&v6, sizeof v6) == 0;
	}
	return 1; /* the other family, or not a literal: the kernel picks */
}

/* Waits for a non-blocking connect.  1 connected, 0 errno. */
static int connect_wait(int fd, int timeout_sec)
{
	long long until = conn_now_ms() + (long long)(timeout_sec > 0 ? timeout_sec : 1) * 1000;
	int err = 0;
	socklen_t elen = sizeof err;

	if (!conn_poll_until(fd, POLLOUT, until))
		return 0;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0)
		return 0;
	errno = err;
	return err == 0;
}

static int open_socket(struct smtpclient *c, const struct sockaddr *addr, socklen_t len,
		       const char *bind_ip, int timeout_sec, const char *peer)
{
	int on = 1;

	c->fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return smtpclient_fail(c, 1, 1, "unable to create a socket: %s", strerror(errno));
	if (!bind_source(c->fd, addr->sa_family, bind_ip))
		return smtpclient_fail(c, 1, 1, "unable to bind to %s: %s", bind_ip, strerror(errno));
	if (connect(c->fd, addr, len) != 0 && (errno != EINPROGRESS || !connect_wait(c->fd, timeout_sec)))
		return smtpclient_fail(c, 1, 1, "unable to connect to %s: %s", peer,
				       errno == ETIMEDOUT ? "timed out" : strerror(errno));
	/* Commands are batched in conn's buffer already; Nagle would only
	 * hold the last piece of a flush back for the peer's delayed ACK. */
	(void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
	return 1;
}

int smtpclient_connect(struct smtpclient *c, const struct sockaddr *addr, socklen_t len,
		       const char *bind_ip, int connect_timeout_sec)
{
	char peer[NI_MAXHOST + NI_MAXSERV + 4];

	smtpclient_close(c);
	c->broken = 0;
	c->greeted = 0;
	address_text(addr, len, peer, sizeof peer);
	if (!open_socket(c, addr, len, bind_ip, connect_timeout_sec, peer)) {
		smtpclient_close(c);
		return 0;
	}
	conn_init(&c->conn, c->fd, c->fd);
	if (!smtpclient_read_reply(c, c->timeouts.greeting, "reading the greeting"))
		return 0;
	if (c->reply.code != 220) {
		smtpclient_fail_reply(c, "greeting");
		c->error.connection = 1; /* a refusing host: the caller tries the next */
		return 0;
	}
	c->greeted = 1;
	return 1;
}

/* ---- EHLO, STARTTLS ---- */

static int ready(struct smtpclient *c, const char *what)
{
	if (c->fd < 0 || c->broken || !c->greeted)
		return smtpclient_fail(c, 1, 1, "%s: the session is not open", what);
	return 1;
}

static int name_is_safe(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || *s == 0x7f)
			return 0;
	return 1;
}

int smtpclient_ehlo(struct smtpclient *c, const char *helo_name)
{
	char line[300];

	if (!ready(c, "EHLO"))
		return 0;
	if (!*helo_name || strlen(helo_name) >= sizeof c->helo_name || !name_is_safe(helo_name))
		return smtpclient_fail(c, 0, 0, "invalid HELO name");
	if (helo_name != c->helo_name)
		snprintf(c->helo_name, sizeof c->helo_name, "%s", helo_name);
	memset(&c->caps, 0, sizeof c->caps);
	c->esmtp = 0;
	snprintf(line, sizeof line, "EHLO %s", c->helo_name);
	if (!smtpclient_put(c, "%s", line) || !smtpclient_read_reply(c, c->timeouts.helo, "EHLO"))
		return 0;
	if (c->reply.code == 250) {
		c->esmtp = 1;
		smtpclient_caps_parse(&c->caps, &c->reply);
		return 1;
	}
	if (c->reply.code / 100 != 5)
		return smtpclient_fail_reply(c, "EHLO");
	/* RFC 5321 §3.2: a server that does not know EHLO still knows HELO. */
	snprintf(line, sizeof line, "HELO %s", c->helo_name);
	return smtpclient_command(c, c->timeouts.helo, 2, "HELO", line);
}

int smtpclient_starttls(struct smtpclient *c, const char *servername, int verify, const char *ca_file)
{
	char why[512];

	if (!ready(c, "STARTTLS"))
		return 0;
	if (tls_is_active(&c->conn))
		return smtpclient_fail(c, 0, 0, "STARTTLS: TLS is already active");
	if (!(c->caps.flags & SMTPCLIENT_CAP_STARTTLS))
		return smtpclient_fail(c, 1, 0, "STARTTLS: the peer does not offer it");
	if (!smtpclient_command(c, c->timeouts.starttls, 2, "STARTTLS", "STARTTLS"))
		return 0;
	if (c->reply.code != 220)
		return smtpclient_fail_reply(c, "STARTTLS");
	conn_set_idle_timeout(&c->conn, c->timeouts.starttls);
	conn_set_deadline(&c->conn, c->timeouts.starttls);
	if (!tls_client_start(&c->conn, servername, verify, ca_file, why, sizeof why))
		return smtpclient_fail(c, 1, 1, "STARTTLS: %s", why);
	tls_describe(&c->conn, c->tls, sizeof c->tls);
	c->tls_verified = verify;
	/* RFC 3207 §4.2: everything learnt in the clear is forgotten. */
	c->authenticated = 0;
	return smtpclient_ehlo(c, c->helo_name);
}

/* ---- AUTH ---- */

static int mech_offered(const char *list, const char *mech)
{
	size_t n = strlen(mech);
	const char *p = list;

	while ((p = strstr(p, mech)) != NULL) {
		if ((p == list || p[-1] == ' ') && (p[n] == 0 || p[n] == ' '))
			return 1;
		p += n;
	}
	return 0;
}

static const char *mech_choose(const struct smtpclient *c)
{
	static const char *plain_first[] = { "PLAIN", "CRAM-MD5", "LOGIN" };
	static const char *cram_first[] = { "CRAM-MD5", "PLAIN", "LOGIN" };
	const char **order = *c->tls ? plain_first : cram_first;
	size_t i;

	for (i = 0; i < 3; i++)
		if (mech_offered(c->caps.auth, order[i]))
			return order[i];
	return NULL;
}

/* Sends base64(data) as one line, then reads the reply. */
static int auth_send_b64(struct smtpclient *c, const char *prefix, const void *data, size_t len)
{
	struct buf b = BUF_INIT;
	int ok;

	ok = buf_cats(&b, prefix) && base64_encode(&b, data, len) && buf_cat(&b, "\r\n", 2)
	     && conn_put(&c->conn, b.data, b.len);
	if (b.data)
		memset(b.data, 0, b.len);
	buf_free(&b);
	if (!ok)
		return smtpclient_fail(c, 1, 0, "AUTH: %s", strerror(errno));
	return smtpclient_read_reply(c, c->timeouts.auth, "AUTH");
}

static int auth_plain(struct smtpclient *c, const char *user, const char *password)
{
	struct buf b = BUF_INIT;
	int ok;

	/* RFC 4616: authzid (empty) NUL authcid NUL password. */
	ok = buf_catc(&b, 0) && buf_cats(&b, user) && buf_catc(&b, 0) && buf_cats(&b, password);
	if (ok)
		ok = auth_send_b64(c, "AUTH PLAIN ", b.data, b.len);
	if (ok && c->reply.code == 334) /* a peer that ignores the initial response */
		ok = auth_send_b64(c, "", b.data, b.len);
	if (b.data)
		memset(b.data, 0, b.len);
	buf_free(&b);
	return ok || *c->error.text ? ok : smtpclient_fail(c, 1, 0, "AUTH: %s", strerror(errno));
}

static int auth_login(struct smtpclient *c, const char *user, const char *password)
{
	if (!smtpclient_put(c, "AUTH LOGIN") || !smtpclient_read_reply(c, c->timeouts.auth, "AUTH"))
		return 0;
	if (c->reply.code != 334)
		return 1;
	if (!auth_send_b64(c, "", user, strlen(user)))
		return 0;
	if (c->reply.code != 334)
		return 1;
	return auth_send_b64(c, "", password, strlen(password));
}

/* Gives up an exchange the peer garbled ("*", RFC 4954 §4). */
static int auth_cancel(struct smtpclient *c, const char *why)
{
	if (smtpclient_put(c, "*"))
		(void)smtpclient_read_reply(c, c->timeouts.auth, "AUTH");
	return smtpclient_fail(c, 1, 0, "AUTH: %s", why);
}

static int auth_cram_md5(struct smtpclient *c, const char *user, const char *password)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char mac[MD5_DIGEST_BYTES];
	struct buf challenge = BUF_INIT, answer = BUF_INIT;
	int ok = 0, i;

	if (!smtpclient_put(c, "AUTH CRAM-MD5") || !smtpclient_read_reply(c, c->timeouts.auth, "AUTH"))
		return 0;
	if (c->reply.code != 334)
		return 1;
	if (!base64_decode(&challenge, c->reply.text.data, c->reply.text.len) || challenge.len == 0) {
		buf_free(&challenge);
		return auth_cancel(c, "the CRAM-MD5 challenge is not base64");
	}
	hmac_md5(password, strlen(password), challenge.data, challenge.len, mac);
	if (buf_cats(&answer, user) && buf_catc(&answer, ' ')) {
		for (i = 0; i < MD5_DIGEST_BYTES && buf_catc(&answer, hex[mac[i] >> 4])
			    && buf_catc(&answer, hex[mac[i] & 15]); i++)
			;
		ok = i == MD5_DIGEST_BYTES;
	}
	ok = ok ? auth_send_b64(c, "", answer.data, answer.len)
		: smtpclient_fail(c, 1, 0, "AUTH: %s", strerror(errno));
	memset(mac, 0, sizeof mac);
	buf_free(&challenge);
	buf_free(&answer);
	return ok;
}

int smtpclient_auth(struct smtpclient *c, const char *mech, const char *user, const char *password,
		    int allow_plaintext)
{
	int ok;

	if (!ready(c, "AUTH"))
		return 0;
	if (!*c->tls && !allow_plaintext)
		return smtpclient_fail(c, 1, 0, "AUTH: refused without TLS");
	if (!(c->caps.flags & SMTPCLIENT_CAP_AUTH))
		return smtpclient_fail(c, 1, 0, "AUTH: the peer does not offer it");
	if (!mech || !*mech)
		mech = mech_choose(c);
	if (!mech || !mech_offered(c->caps.auth, mech))
		return smtpclient_fail(c, 1, 0, "AUTH: the peer offers no usable mechanism (it has: %s)",
				       c->caps.auth);
	if (strlen(user) > SMTPCLIENT_CREDENTIAL_MAX_BYTES || strlen(password) > SMTPCLIENT_CREDENTIAL_MAX_BYTES)
		return smtpclient_fail(c, 0, 0, "AUTH: user name or password too long");
	c->error.text[0] = 0;
	if (!strcmp(mech, "PLAIN"))
		ok = auth_plain(c, user, password);
	else if (!strcmp(mech, "LOGIN"))
		ok = auth_login(c, user, password);
	else if (!strcmp(mech, "CRAM-MD5"))
		ok = auth_cram_md5(c, user, password);
	else
		return smtpclient_fail(c, 0, 0, "AUTH: mechanism %s is not supported", mech);
	if (!ok)
		return 0;
	if (c->reply.code != 235)
		return smtpclient_fail_reply(c, "AUTH");
	c->authenticated = 1;
	snprintf(c->auth_mech, sizeof c->auth_mech, "%s", mech);
	return 1;
}

/* ---- the end of a session ---- */

int smtpclient_rset(struct smtpclient *c)
{
	if (!ready(c, "RSET"))
		return 0;
	if (!smtpclient_command(c, c->timeouts.rset, 2, "RSET", "RSET")) {
		c->broken = 1; /* a transaction state we cannot know */
		return 0;
	}
	return 1;
}

int smtpclient_quit(struct smtpclient *c)
{
	struct smtpclient_error before = c->error;
	int ok = 0;

	/* Best effort: what went wrong before QUIT is what the caller reports. */
	if (c->fd >= 0 && !c->broken)
		ok = smtpclient_command(c, c->timeouts.quit, 2, "QUIT", "QUIT");
	c->error = before;
	smtpclient_close(c);
	return ok;
}

void smtpclient_close(struct smtpclient *c)
{
	if (c->fd >= 0) {
		conn_set_idle_timeout(&c->conn, 1);
		conn_set_deadline(&c->conn, 1);
		tls_shutdown(&c->conn);
		close(c->fd);
	}
	c->fd = -1;
	c->greeted = 0;
	conn_free(&c->conn);
	conn_init(&c->conn, -1, -1);
	buf_free(&c->line);
	buf_free(&c->reply.text);
}

int smtpclient_usable(const struct smtpclient *c) { return c->fd >= 0 && c->greeted && !c->broken; }

/* ---- one transaction ---- */

void smtpclient_result_init(struct smtpclient_result *r)
{
	memset(r, 0, sizeof *r);
}

void smtpclient_result_free(struct smtpclient_result *r) { buf_free(&r->text); }

/* Where each recipient stands during smtpclient_send. */
enum rcpt_state { RCPT_WAIT, RCPT_DECIDED, RCPT_ACCEPTED };

struct transaction {
	struct smtpclient *c;
	const struct smtpclient_envelope *env;
	const char *message;
	size_t len;
	struct smtpclient_result *results;
	unsigned char *state;
	unsigned facts;
	size_t accepted;
	unsigned long long wire_bytes;
};

static int result_set(struct smtpclient_result *r, int code, const char *status, const char *text, int remote)
{
	r->code = code;
	snprintf(r->status, sizeof r->status, "%s", status);
	r->remote = remote;
	buf_truncate(&r->text, 0);
	return buf_cats(&r->text, text);
}

static int result_from_reply(struct smtpclient_result *r, const struct smtpclient_reply *reply)
{
	r->code = reply->code;
	memcpy(r->status, reply->status, sizeof r->status);
	r->remote = 1;
	buf_truncate(&r->text, 0);
	return smtpclient_reply_flat(reply, &r->text);
}

static void decide(struct transaction *t, size_t i, int code, const char *status, const char *text)
{
	(void)result_set(&t->results[i], code, status, text, 0);
	t->state[i] = RCPT_DECIDED;
}

/* The session broke: every recipient without its answer gets the error. */
static int transaction_broke(struct transaction *t)
{
	const struct smtpclient_error *e = &t->c->error;
	size_t i;

	for (i = 0; i < t->env->rcpt_count; i++)
		if (t->state[i] != RCPT_DECIDED) {
			(void)result_set(&t->results[i], e->code == 421 ? 421 : 0, e->status, e->text, e->code != 0);
			t->state[i] = RCPT_DECIDED;
		}
	t->c->broken = 1;
	return 0;
}

/* Every waiting (or, with also_accepted, accepted) recipient gets the last reply. */
static void answer_all(struct transaction *t, int also_accepted)
{
	size_t i;

	for (i = 0; i < t->env->rcpt_count; i++)
		if (t->state[i] == RCPT_WAIT || (also_accepted && t->state[i] == RCPT_ACCEPTED)) {
			(void)result_from_reply(&t->results[i], &t->c->reply);
			t->state[i] = RCPT_DECIDED;
		}
}

static int is_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return 0;
	return 1;
}

static int has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

/* NOTIFY=NEVER or a comma list of SUCCESS, FAILURE, DELAY (RFC 3461 §4.1). */
static int notify_valid(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == ','))
			return 0;
	return 1;
}

/* RFC 3461 §4: xtext, "+XX" for '+', '=' and anything outside '!'..'~'. */
static int xtext_cat(struct buf *out, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	unsigned char ch;
	size_t i;
	int ok = 1;

	for (i = 0; ok && i < n; i++) {
		ch = (unsigned char)s[i];
		if (ch >= '!' && ch <= '~' && ch != '+' && ch != '=')
			ok = buf_catc(out, (char)ch);
		else
			ok = buf_catc(out, '+') && buf_catc(out, hex[ch >> 4]) && buf_catc(out, hex[ch & 15]);
	}
	return ok;
}

/* Bytes on the wire (CRLF line ends, the last line terminated) without the
 * dot-stuffing: the SIZE= estimate (RFC 1870 §3) and BDAT's exact count. */
static unsigned long long wire_size(const char *m, size_t len)
{
	unsigned long long n = 0;
	size_t i, start = 0;

	for (i = 0; i <= len; i++) {
		if (i < len && m[i] != '\n')
			continue;
		if (i == len && start == len)
			break;
		n += (unsigned long long)(i - start) + 2;
		if (i > start && m[i - 1] == '\r')
			n--;
		start = i + 1;
	}
	return n;
}

/* Local refusals: nothing the peer could accept goes out.  Returns how
 * many recipients are left to send. */
static size_t transaction_check(struct transaction *t)
{
	const struct smtpclient_envelope *env = t->env;
	const struct smtpclient_caps *caps = &t->c->caps;
	int utf8 = caps->flags & SMTPCLIENT_CAP_SMTPUTF8;
	size_t i, left = 0;
	char text[200];

	for (i = 0; i < env->rcpt_count; i++) {
		const struct smtpclient_rcpt *r = &env->rcpt[i];
		if ((caps->flags & SMTPCLIENT_CAP_SIZE) && caps->size_limit && t->wire_bytes > caps->size_limit) {
			snprintf(text, sizeof text, "message size %llu exceeds the peer's limit of %llu bytes",
				 t->wire_bytes, caps->size_limit);
			decide(t, i, 552, "5.3.4", text);
		} else if (has_control(env->sender))
			decide(t, i, 501, "5.1.7", "control character in the sender address");
		else if (!utf8 && !is_ascii(env->sender))
			decide(t, i, 553, "5.6.7", "non-ASCII sender address and the peer lacks SMTPUTF8");
		else if (has_control(r->address) || (r->orcpt && has_control(r->orcpt)))
			decide(t, i, 501, "5.1.3", "control character in the recipient address");
		else if (r->notify && !notify_valid(r->notify))
			decide(t, i, 501, "5.5.4", "invalid NOTIFY value");
		else if (!utf8 && !is_ascii(r->address))
			decide(t, i, 553, "5.6.7", "non-ASCII recipient address and the peer lacks SMTPUTF8");
		else
			left++;
	}
	return left;
}

static int needs_smtputf8(const struct transaction *t)
{
	size_t i;

	if (t->env->smtputf8 || !is_ascii(t->env->sender))
		return 1;
	for (i = 0; i < t->env->rcpt_count; i++)
		if (t->state[i] == RCPT_WAIT && !is_ascii(t->env->rcpt[i].address))
			return 1;
	return 0;
}

static int has_8bit(const char *m, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if ((unsigned char)m[i] >= 0x80)
			return 1;
	return 0;
}

static int put_line(struct smtpclient *c, const struct buf *b)
{
	if (!b->data || !conn_put(&c->conn, b->data, b->len) || !conn_put(&c->conn, "\r\n", 2))
		return smtpclient_fail(c, 1, 0, "unable to buffer a command: %s", strerror(errno));
	return 1;
}

static int put_mail(struct transaction *t)
{
	const struct smtpclient_envelope *env = t->env;
	unsigned flags = t->c->caps.flags;
	struct buf b = BUF_INIT;
	int ok, dsn = flags & SMTPCLIENT_CAP_DSN;

	ok = buf_catf(&b, "MAIL FROM:<%s>", env->sender);
	if (ok && (flags & SMTPCLIENT_CAP_SIZE))
		ok = buf_catf(&b, " SIZE=%llu", t->wire_bytes);
	if (ok && (t->facts & SMTPCLIENT_SENT_8BITMIME))
		ok = buf_cats(&b, " BODY=8BITMIME");
	if (ok && (t->facts & SMTPCLIENT_SENT_SMTPUTF8))
		ok = buf_cats(&b, " SMTPUTF8");
	if (ok && dsn && env->ret && (!strcasecmp(env->ret, "FULL") || !strcasecmp(env->ret, "HDRS"))) {
		ok = buf_catf(&b, " RET=%s", env->ret);
		t->facts |= SMTPCLIENT_SENT_DSN;
	}
	if (ok && dsn && env->envid && *env->envid) {
		ok = buf_cats(&b, " ENVID=") && xtext_cat(&b, env->envid, strlen(env->envid));
		t->facts |= SMTPCLIENT_SENT_DSN;
	}
	ok = ok ? put_line(t->c, &b) : smtpclient_fail(t->c, 1, 0, "MAIL: %s", strerror(errno));
	buf_free(&b);
	return ok;
}

/* ORCPT=type;xtext (RFC 3461 §4.2): the stored value is decoded. */
static int cat_orcpt(struct buf *b, const char *orcpt)
{
	const char *semi = strchr(orcpt, ';');

	if (!semi || semi == orcpt)
		return 1;
	return buf_cats(b, " ORCPT=") && buf_cat(b, orcpt, (size_t)(semi - orcpt) + 1)
	       && xtext_cat(b, semi + 1, strlen(semi + 1));
}

static int put_rcpt(struct transaction *t, size_t i)
{
	const struct smtpclient_rcpt *r = &t->env->rcpt[i];
	int dsn = t->c->caps.flags & SMTPCLIENT_CAP_DSN;
	struct buf b = BUF_INIT;
	int ok;

	ok = buf_catf(&b, "RCPT TO:<%s>", r->address);
	if (ok && dsn && r->notify) {
		ok = buf_catf(&b, " NOTIFY=%s", r->notify);
		t->facts |= SMTPCLIENT_SENT_DSN;
	}
	if (ok && dsn && r->orcpt && *r->orcpt) {
		ok = cat_orcpt(&b, r->orcpt);
		t->facts |= SMTPCLIENT_SENT_DSN;
	}
	ok = ok ? put_line(t->c, &b) : smtpclient_fail(t->c, 1, 0, "RCPT: %s", strerror(errno));
	buf_free(&b);
	return ok;
}

/* Reads one RCPT reply into recipient i's result. */
static int read_rcpt_reply(struct transaction *t, size_t i)
{
	struct smtpclient *c = t->c;

	if (!smtpclient_read_reply(c, c->timeouts.rcpt, "RCPT TO"))
		return 0;
	if (c->reply.code == 421) {
		smtpclient_fail_reply(c, "RCPT TO");
		return 0;
	}
	(void)result_from_reply(&t->results[i], &c->reply);
	if (c->reply.code / 100 == 2) {
		t->state[i] = RCPT_ACCEPTED;
		t->accepted++;
	} else {
		t->state[i] = RCPT_DECIDED;
	}
	return 1;
}

/* The message with CRLF line ends, dot-stuffed for DATA. */
static int put_message(struct smtpclient *c, const char *m, size_t len, int dot_stuff)
{
	size_t start = 0, end, content;
	const char *lf;
	int ok = 1;

	while (ok && start < len) {
		lf = memchr(m + start, '\n', len - start);
		end = lf ? (size_t)(lf - m) : len;
		content = end - start;
		if (content && m[end - 1] == '\r')
			content--;
		if (dot_stuff && m[start] == '.')
			ok = conn_put(&c->conn, ".", 1);
		ok = ok && conn_put(&c->conn, m + start, content) && conn_put(&c->conn, "\r\n", 2);
		start = end + 1;
	}
	if (!ok)
		return smtpclient_fail(c, 1, 1, "sending the message: %s", strerror(errno));
	return 1;
}

/* Sends the message (DATA's 354 already seen, or BDAT) and reads the end
 * reply; the accepted recipients get it. */
static int send_body(struct transaction *t, int bdat)
{
	struct smtpclient *c = t->c;

	conn_set_idle_timeout(&c->conn, c->timeouts.data_block);
	conn_set_deadline(&c->conn, 0);
	if (bdat && !smtpclient_put(c, "BDAT %llu LAST", t->wire_bytes))
		return 0;
	if (!put_message(c, t->message, t->len, !bdat))
		return 0;
	if (!bdat && !conn_put(&c->conn, ".\r\n", 3))
		return smtpclient_fail(c, 1, 1, "sending the message: %s", strerror(errno));
	if (!conn_flush(&c->conn))
		return smtpclient_fail_io(c, "sending the message", 0);
	t->facts |= SMTPCLIENT_SENT_DATA;
	if (!smtpclient_read_reply(c, c->timeouts.data_done, bdat ? "BDAT" : "end of data"))
		return 0;
	answer_all(t, 1);
	return c->reply.code != 421 || smtpclient_fail_reply(c, "end of data");
}

/* DATA's reply (read by the caller) and what follows it. */
static int after_data_reply(struct transaction *t)
{
	struct smtpclient *c = t->c;

	if (c->reply.code == 354 && t->accepted)
		return send_body(t, 0);
	if (c->reply.code == 354) {
		/* RFC 2920 §3.1: the pipelined DATA was taken although no
		 * recipient was; end it empty, the peer refuses it. */
		if (!smtpclient_put(c, ".") || !smtpclient_read_reply(c, c->timeouts.data_done, "end of data"))
			return 0;
		return 1;
	}
	if (c->reply.code == 421)
		return smtpclient_fail_reply(c, "DATA");
	answer_all(t, 1);
	return 1;
}

/* Reads and drops n replies (the pipelined RCPTs and DATA after a refused
 * MAIL); a 354 among them is ended with an empty message. */
static int drain_replies(struct smtpclient *c, size_t n)
{
	while (n--) {
		if (!smtpclient_read_reply(c, c->timeouts.rcpt, "a pipelined reply"))
			return 0;
		if (c->reply.code == 421)
			return smtpclient_fail_reply(c, "a pipelined command");
		if (c->reply.code == 354 && (!smtpclient_put(c, ".")
					     || !smtpclient_read_reply(c, c->timeouts.data_done, "end of data")))
			return 0;
	}
	return 1;
}

/* MAIL, then each RCPT (all in one write with PIPELINING, RFC 2920).
 * 1: MAIL taken, RCPT replies read; -1: MAIL refused, every recipient
 * answered and no transaction open; 0: the session broke. */
static int transaction_envelope(struct transaction *t, int pipelined, int bdat, size_t to_send)
{
	struct smtpclient *c = t->c;
	size_t i, n = t->env->rcpt_count;

	if (!put_mail(t))
		return 0;
	for (i = 0; pipelined && i < n; i++)
		if (t->state[i] == RCPT_WAIT && !put_rcpt(t, i))
			return 0;
	if (pipelined && !bdat && !smtpclient_put(c, "DATA"))
		return 0;
	if (!smtpclient_read_reply(c, c->timeouts.mail, "MAIL FROM"))
		return 0;
	if (c->reply.code == 421)
		return smtpclient_fail_reply(c, "MAIL FROM");
	if (c->reply.code / 100 != 2) {
		answer_all(t, 0);
		return pipelined && !drain_replies(c, to_send + !bdat) ? 0 : -1;
	}
	for (i = 0; i < n; i++)
		if (t->state[i] == RCPT_WAIT && ((!pipelined && !put_rcpt(t, i)) || !read_rcpt_reply(t, i)))
			return 0;
	return 1;
}

/* The commands and their replies; the data phase when a recipient is in. */
static int transaction_run(struct transaction *t, size_t to_send)
{
	struct smtpclient *c = t->c;
	int pipelined = t->facts & SMTPCLIENT_SENT_PIPELINED, bdat = t->facts & SMTPCLIENT_SENT_BDAT;
	int r = transaction_envelope(t, pipelined, bdat, to_send);

	if (r <= 0)
		return r < 0;
	if (!bdat && (pipelined || t->accepted)) {
		if (!pipelined && !smtpclient_put(c, "DATA"))
			return 0;
		if (!smtpclient_read_reply(c, c->timeouts.data_init, "DATA") || !after_data_reply(t))
			return 0;
	} else if (bdat && t->accepted && !send_body(t, 1)) {
		return 0;
	}
	if (!(t->facts & SMTPCLIENT_SENT_DATA) || c->reply.code / 100 != 2)
		(void)smtpclient_rset(c); /* a refused or never-sent message: clean state */
	return 1;
}

/* What the peer offers decides how the message goes. */
static void transaction_plan(struct transaction *t)
{
	unsigned flags = t->c->caps.flags;
	int eight = has_8bit(t->message, t->len);

	if (flags & SMTPCLIENT_CAP_PIPELINING)
		t->facts |= SMTPCLIENT_SENT_PIPELINED;
	if (flags & SMTPCLIENT_CAP_CHUNKING)
		t->facts |= SMTPCLIENT_SENT_BDAT;
	if ((flags & SMTPCLIENT_CAP_SMTPUTF8) && needs_smtputf8(t))
		t->facts |= SMTPCLIENT_SENT_SMTPUTF8;
	if (eight && (flags & SMTPCLIENT_CAP_8BITMIME))
		t->facts |= SMTPCLIENT_SENT_8BITMIME;
	else if (eight)
		t->facts |= SMTPCLIENT_SENT_8BIT_AS_IS;
}

int smtpclient_send(struct smtpclient *c, const struct smtpclient_envelope *env, const char *message,
		    size_t len, struct smtpclient_result *results, unsigned *facts)
{
	struct transaction t;
	size_t i, to_send;
	int ok;

	memset(&t, 0, sizeof t);
	t.c = c;
	t.env = env;
	t.message = message;
	t.len = len;
	t.results = results;
	t.wire_bytes = wire_size(message, len);
	t.state = calloc(env->rcpt_count ? env->rcpt_count : 1, 1);
	for (i = 0; i < env->rcpt_count; i++)
		(void)result_set(&results[i], 0, "", "", 0);
	if (facts)
		*facts = 0;
	if (!t.state) {
		smtpclient_fail(c, 1, 0, "out of memory");
		for (i = 0; i < env->rcpt_count; i++)
			(void)result_set(&results[i], 0, "", c->error.text, 0);
		return 0;
	}
	if (!ready(c, "MAIL FROM"))
		ok = transaction_broke(&t);
	else if ((to_send = transaction_check(&t)) == 0)
		ok = 1;
	else {
		transaction_plan(&t);
		ok = transaction_run(&t, to_send) || transaction_broke(&t);
	}
	if (facts)
		*facts = t.facts;
	free(t.state);
	return ok;
}
