/* tlsproxy: the TLS half of one smtpd or pop3d session (tlsproxy(8)).
 * fd 0/1 are the network socket, fd 3 the receiver's socketpair.  Loads the
 * certificate and key, says "ready" on fd 3, runs the server handshake on
 * the socket, says "ok <version> <cipher> <bits>" (or "fail <reason>"), then
 * relays plaintext between fd 3 and TLS until either side closes.  The
 * status words are in src/lib/tlsproxy.h, shared with the receivers. */
#include "home.h"
#include "log.h"
#include "tls.h"
#include "tlsproxy.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define USAGE "tlsproxy [-d home] session idle-sec deadline-sec cert key ca dcert dkey"
#define RELAY_BUFFER_BYTES 16384
#define ARG_SECONDS_MAX 86400000L

/* One direction's bytes: read only when empty, so memory stays bounded and
 * a slow reader on one side slows the other writer instead of growing us. */
struct relay_buffer {
	char data[RELAY_BUFFER_BYTES];
	size_t len, pos;
};

struct proxy {
	struct conn net;            /* fds 0/1 through TLS once started */
	int local;                  /* fd 3, the receiver */
	int idle_sec;               /* no byte either way for this long: end (0 none) */
	long long deadline_ms;      /* absolute end of the session (0 none) */
	long long last_progress_ms;
	struct relay_buffer up;     /* client -> receiver */
	struct relay_buffer down;   /* receiver -> client */
	int net_eof, local_eof, local_shut;
	unsigned long long bytes_up, bytes_down;
	const char *reason;         /* why the relay ended, for the end line */
	char detail[512];
	int status_sent;
	struct tls_files files;
};

static struct proxy *die_proxy;

/* ---- the status line to the receiver ---- */

/* Control bytes would end the line early: they become '?'. */
static void proxy_status(struct proxy *p, const char *word, const char *text)
{
	char line[TLSPROXY_STATUS_MAX_BYTES];
	size_t n, i, done = 0;
	ssize_t w;

	snprintf(line, sizeof line - 1, "%s%s", word, text);
	n = strlen(line);
	for (i = 0; i < n; i++)
		if ((unsigned char)line[i] < ' ' || line[i] == 0x7f)
			line[i] = '?';
	line[n++] = '\n';
	p->status_sent = 1;
	while (done < n) {
		w = write(p->local, line + done, n - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return; /* the receiver is gone; the relay will notice */
		done += (size_t)w;
	}
}

/* A fatal error before the status line still answers the receiver. */
static void proxy_die_hook(int code)
{
	(void)code;
	if (die_proxy && !die_proxy->status_sent)
		proxy_status(die_proxy, TLSPROXY_FAIL, "tlsproxy failed, see its log");
}

static void log_end(const struct proxy *p, const char *reason)
{
	struct buf v = BUF_INIT;

	if (p->detail[0])
		log_info("event=end reason=%s in=%llu out=%llu detail=%s", reason, p->bytes_up, p->bytes_down,
			 xlog_value(&v, p->detail));
	else
		log_info("event=end reason=%s in=%llu out=%llu", reason, p->bytes_up, p->bytes_down);
	buf_free(&v);
}

/* ---- set-up ---- */

static long parse_seconds(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (!*s || *end || errno || v < 0 || v > ARG_SECONDS_MAX)
		die_usage(USAGE);
	return v;
}

static void copy_path(char *out, size_t size, const char *in)
{
	if ((size_t)snprintf(out, size, "%s", in) >= size)
		die_perm("file name too long: %.80s...", in);
}

static void parse_args(struct proxy *p, int argc, char **argv)
{
	int opt;

	while ((opt = getopt(argc, argv, "d:")) != -1) {
		if (opt == 'd')
			home_set(optarg);
		else
			die_usage(USAGE);
	}
	if (argc - optind != 8)
		die_usage(USAGE);
	argv += optind;
	if (!*argv[0] || strlen(argv[0]) > 64 || strspn(argv[0], "0123456789abcdefghijklmnopqrstuvwxyz-.")
	    != strlen(argv[0]))
		die_usage(USAGE);
	log_set_session(argv[0]);
	p->idle_sec = (int)parse_seconds(argv[1]);
	p->deadline_ms = parse_seconds(argv[2]) ? conn_now_ms() + 1000LL * parse_seconds(argv[2]) : 0;
	copy_path(p->files.cert, sizeof p->files.cert, argv[3]);
	copy_path(p->files.key, sizeof p->files.key, argv[4]);
	copy_path(p->files.ca, sizeof p->files.ca, argv[5]);
	copy_path(p->files.dcert, sizeof p->files.dcert, argv[6]);
	copy_path(p->files.dkey, sizeof p->files.dkey, argv[7]);
	if (!*p->files.cert || !*p->files.key || !*p->files.dcert != !*p->files.dkey)
		die_usage(USAGE);
}

/* Key load, "ready", handshake, "ok ..." .  0 when the session is over
 * (reported to the receiver and logged). */
static int proxy_handshake(struct proxy *p)
{
	char error[512], info[256], version[64] = "-", cipher[128] = "-", bits[16] = "-", ok[256];
	struct tls_context *ctx = tls_server_context_files(&p->files, error, sizeof error);

	if (!ctx) {
		proxy_status(p, TLSPROXY_FAIL, error);
		snprintf(p->detail, sizeof p->detail, "%s", error);
		log_end(p, "key-failed");
		return 0;
	}
	proxy_status(p, TLSPROXY_READY, "");
	conn_init(&p->net, 0, 1);
	conn_set_idle_timeout(&p->net, p->idle_sec);
	p->net.deadline_ms = p->deadline_ms;
	if (!tls_server_start(&p->net, ctx, NULL, error, sizeof error)) {
		tls_context_free(ctx);
		proxy_status(p, TLSPROXY_FAIL, error);
		snprintf(p->detail, sizeof p->detail, "%s", error);
		log_end(p, "tls-failed");
		return 0;
	}
	tls_context_free(ctx);
	tls_describe(&p->net, info, sizeof info);
	(void)sscanf(info, "%63s cipher %127s bits %15s", version, cipher, bits);
	snprintf(ok, sizeof ok, "%s %s %s", version, cipher, bits);
	proxy_status(p, TLSPROXY_OK, ok);
	return 1;
}

/* ---- the relay ---- */

/* The poll timeout: the idle limit since the last byte moved, bounded by
 * the session deadline.  -1 none, 0 already late. */
static int relay_wait_ms(const struct proxy *p)
{
	long long now = conn_now_ms(), until = 0;

	if (p->idle_sec > 0)
		until = p->last_progress_ms + 1000LL * p->idle_sec;
	if (p->deadline_ms && (!until || p->deadline_ms < until))
		until = p->deadline_ms;
	if (!until)
		return -1;
	if (until <= now)
		return 0;
	return until - now > INT_MAX ? INT_MAX : (int)(until - now);
}

static void relay_fail(struct proxy *p, const char *reason, const char *what, int err)
{
	const char *tls = tls_last_error(&p->net);

	p->reason = reason;
	if (tls && *tls)
		snprintf(p->detail, sizeof p->detail, "%s", tls);
	else
		snprintf(p->detail, sizeof p->detail, "%s: %s", what, strerror(err));
}

/* Client -> us: decrypted bytes into up.  The transport is non-blocking. */
static void relay_read_net(struct proxy *p)
{
	const struct conn_transport *t = p->net.transport;
	ssize_t n = t->read(t->ctx, p->up.data, sizeof p->up.data);

	if (n > 0) {
		p->up.len = (size_t)n;
		p->up.pos = 0;
		p->bytes_up += (unsigned long long)n;
		p->last_progress_ms = conn_now_ms();
	} else if (n == 0) {
		p->net_eof = 1;
	} else if (errno != EAGAIN && errno != EINTR) {
		relay_fail(p, "tls-error", "TLS read", errno);
	}
}

static void relay_read_local(struct proxy *p)
{
	ssize_t n = read(p->local, p->down.data, sizeof p->down.data);

	if (n > 0) {
		p->down.len = (size_t)n;
		p->down.pos = 0;
		p->last_progress_ms = conn_now_ms();
	} else if (n == 0) {
		p->local_eof = 1;
	} else if (errno != EAGAIN && errno != EINTR) {
		relay_fail(p, "error", "read from the receiver", errno);
	}
}

/* Advances b by a write's result; 1 unless it failed for good. */
static int relay_wrote(struct proxy *p, struct relay_buffer *b, ssize_t w)
{
	if (w > 0) {
		b->pos += (size_t)w;
		if (b->pos == b->len)
			b->len = b->pos = 0;
		p->last_progress_ms = conn_now_ms();
		return 1;
	}
	return w < 0 && (errno == EAGAIN || errno == EINTR);
}

static void relay_write_local(struct proxy *p)
{
	ssize_t w = write(p->local, p->up.data + p->up.pos, p->up.len - p->up.pos);

	if (!relay_wrote(p, &p->up, w))
		relay_fail(p, "server-closed", "write to the receiver", w == 0 ? EPIPE : errno);
}

static void relay_write_net(struct proxy *p)
{
	const struct conn_transport *t = p->net.transport;
	size_t n = p->down.len - p->down.pos;
	ssize_t w = t->write(t->ctx, p->down.data + p->down.pos, n);

	if (w > 0)
		p->bytes_down += (unsigned long long)w;
	if (!relay_wrote(p, &p->down, w))
		relay_fail(p, "tls-error", "TLS write", w == 0 ? EPIPE : errno);
}

/* The four wishes of one round; poll says which can go now. */
enum { WANT_NET_IN, WANT_LOCAL_IN, WANT_LOCAL_OUT, WANT_NET_OUT, WANT_COUNT };

static void relay_round(struct proxy *p)
{
	const struct conn_transport *t = p->net.transport;
	struct pollfd f[WANT_COUNT];
	int pending = !p->net_eof && !p->up.len && t->pending(t->ctx) > 0, r;

	f[WANT_NET_IN] = (struct pollfd){ .fd = !p->net_eof && !p->up.len ? 0 : -1, .events = POLLIN };
	f[WANT_LOCAL_IN] = (struct pollfd){ .fd = !p->local_eof && !p->down.len ? p->local : -1, .events = POLLIN };
	f[WANT_LOCAL_OUT] = (struct pollfd){ .fd = p->up.len ? p->local : -1, .events = POLLOUT };
	f[WANT_NET_OUT] = (struct pollfd){ .fd = p->down.len ? 1 : -1, .events = POLLOUT };
	r = poll(f, WANT_COUNT, pending ? 0 : relay_wait_ms(p));
	if (r < 0) {
		if (errno != EINTR)
			relay_fail(p, "error", "poll", errno);
		return;
	}
	if (r == 0 && !pending) {
		p->reason = "timeout";
		return;
	}
	if (pending || f[WANT_NET_IN].revents)
		relay_read_net(p);
	if (!p->reason && f[WANT_LOCAL_IN].revents)
		relay_read_local(p);
	if (!p->reason && f[WANT_LOCAL_OUT].revents)
		relay_write_local(p);
	if (!p->reason && f[WANT_NET_OUT].revents)
		relay_write_net(p);
}

/* Until the receiver closes its end (after its last reply: the normal end)
 * or something fails.  When the client closes first, the receiver gets EOF
 * once every byte before it is through, and its close then ends us. */
static void relay(struct proxy *p)
{
	int flags = fcntl(p->local, F_GETFL);

	if (flags < 0 || fcntl(p->local, F_SETFL, flags | O_NONBLOCK) != 0) {
		relay_fail(p, "error", "fcntl", errno);
		return;
	}
	p->last_progress_ms = conn_now_ms();
	while (!p->reason) {
		relay_round(p);
		if (p->net_eof && !p->up.len && !p->local_shut) {
			(void)shutdown(p->local, SHUT_WR);
			p->local_shut = 1;
		}
		if (p->local_eof && !p->down.len && !p->reason)
			p->reason = p->net_eof ? "client-closed" : "server-closed";
	}
}

int main(int argc, char **argv)
{
	static struct proxy p;

	log_set_program("tlsproxy");
	signal(SIGPIPE, SIG_IGN);
	p.local = TLSPROXY_STATUS_FD;
	die_proxy = &p;
	die_set_hook(proxy_die_hook);
	parse_args(&p, argc, argv);
	if (!proxy_handshake(&p))
		return EXIT_TEMPORARY;
	relay(&p);
	tls_shutdown(&p.net);
	close(p.local);
	log_end(&p, p.reason);
	conn_free(&p.net);
	return strcmp(p.reason, "client-closed") && strcmp(p.reason, "server-closed") ? EXIT_TEMPORARY : 0;
}
