#include "conn.h"
#include "log.h"
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CONN_READ_CHUNK_BYTES 16384
#define CONN_OUT_FLUSH_BYTES 65536

void conn_init(struct conn *c, int fd_in, int fd_out)
{
	memset(c, 0, sizeof *c);
	c->fd_in = fd_in;
	c->fd_out = fd_out;
}

void conn_free(struct conn *c)
{
	buf_free(&c->in);
	buf_free(&c->out);
}

void conn_set_transport(struct conn *c, const struct conn_transport *t) { c->transport = t; }
void conn_set_idle_timeout(struct conn *c, int seconds) { c->idle_timeout_sec = seconds; }

long long conn_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void conn_set_deadline(struct conn *c, int seconds)
{
	c->deadline_ms = seconds > 0 ? conn_now_ms() + (long long)seconds * 1000 : 0;
}

int conn_poll_until(int fd, short events, long long deadline_ms)
{
	struct pollfd p;
	long long left;
	int r;

	for (;;) {
		left = deadline_ms ? deadline_ms - conn_now_ms() : -1;
		if (deadline_ms && left <= 0) {
			errno = ETIMEDOUT;
			return 0;
		}
		p.fd = fd;
		p.events = events;
		p.revents = 0;
		r = poll(&p, 1, left < 0 ? -1 : left > 0x7fffffff ? 0x7fffffff : (int)left);
		if (r > 0)
			return 1;
		if (r == 0 && deadline_ms && conn_now_ms() >= deadline_ms) {
			errno = ETIMEDOUT;
			return 0;
		}
		if (r < 0 && errno != EINTR)
			return 0;
	}
}

/* The next byte is waited for until the idle timeout or the session's
 * deadline, whichever comes first (0: no limit). */
static int conn_poll(const struct conn *c, int fd, short events)
{
	long long until = c->idle_timeout_sec > 0 ? conn_now_ms() + (long long)c->idle_timeout_sec * 1000 : 0;

	if (c->deadline_ms && (!until || c->deadline_ms < until))
		until = c->deadline_ms;
	return conn_poll_until(fd, events, until);
}

/* A write that never blocks, so conn_flush's poll bounds it by the same
 * deadlines as a read: a client that stops reading cannot hold the session.
 * A socket gets MSG_DONTWAIT (O_NONBLOCK would also change the descriptor
 * the supervisor shares); a pipe, which has no such flag, is written after
 * POLLOUT at most PIPE_BUF bytes at a time, which POLLOUT guarantees room for.
 * -2: that wait failed (ETIMEDOUT or poll's errno). */
static ssize_t conn_raw_write(struct conn *c, const char *p, size_t n)
{
	ssize_t w;

	if (c->transport)
		return c->transport->write(c->transport->ctx, p, n);
	if (!c->out_not_socket) {
		w = send(c->fd_out, p, n, MSG_DONTWAIT);
		if (w >= 0 || errno != ENOTSOCK)
			return w;
		c->out_not_socket = 1;
	}
	if (!conn_poll(c, c->fd_out, POLLOUT))
		return -2;
	return write(c->fd_out, p, n < PIPE_BUF ? n : PIPE_BUF);
}

int conn_flush(struct conn *c)
{
	size_t done = 0;
	ssize_t w;

	/* After a write failed or timed out the peer gets nothing more: every
	 * later flush fails at once instead of waiting out the deadline again. */
	if (c->write_errno) {
		buf_truncate(&c->out, 0);
		errno = c->write_errno;
		return 0;
	}
	while (done < c->out.len) {
		w = conn_raw_write(c, c->out.data + done, c->out.len - done);
		if (w == -2)
			goto fail;
		if (w > 0) {
			done += (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN) {
			if (!conn_poll(c, c->fd_out, POLLOUT))
				goto fail;
			continue;
		}
		if (w == 0)
			errno = EPIPE;
		goto fail;
	}
	c->bytes_out += done;
	buf_truncate(&c->out, 0);
	return 1;
fail:
	c->write_errno = errno ? errno : EIO;
	c->bytes_out += done;
	buf_truncate(&c->out, 0);
	return 0;
}

/* Reads more input into c->in.  1 got bytes, 0 EOF, -1 error. */
static int conn_fill(struct conn *c)
{
	ssize_t r;

	if (c->in_pos == c->in.len) {
		buf_truncate(&c->in, 0);
		c->in_pos = 0;
	} else if (c->in_pos > CONN_READ_CHUNK_BYTES) {
		buf_drop_front(&c->in, c->in_pos);
		c->in_pos = 0;
	}
	if ((c->out.len || c->write_errno) && !conn_flush(c))
		return -1;
	if (!buf_reserve(&c->in, CONN_READ_CHUNK_BYTES))
		return -1;
	for (;;) {
		if (!(c->transport && c->transport->pending(c->transport->ctx)))
			if (!conn_poll(c, c->fd_in, POLLIN))
				return -1;
		if (c->transport)
			r = c->transport->read(c->transport->ctx, c->in.data + c->in.len, CONN_READ_CHUNK_BYTES);
		else
			r = read(c->fd_in, c->in.data + c->in.len, CONN_READ_CHUNK_BYTES);
		if (r > 0) {
			c->in.len += (size_t)r;
			c->in.data[c->in.len] = 0;
			c->bytes_in += (unsigned long long)r;
			return 1;
		}
		if (r == 0)
			return 0;
		if (errno != EINTR && errno != EAGAIN)
			return -1;
	}
}

int conn_getline(struct conn *c, struct buf *line, size_t max)
{
	int too_long = 0, r;
	char *lf;
	size_t n;

	buf_truncate(line, 0);
	for (;;) {
		if (c->in_pos < c->in.len) {
			lf = memchr(c->in.data + c->in_pos, '\n', c->in.len - c->in_pos);
			n = lf ? (size_t)(lf - (c->in.data + c->in_pos)) + 1 : c->in.len - c->in_pos;
			if (!too_long && line->len + n > max)
				too_long = 1;
			if (!too_long && !buf_cat(line, c->in.data + c->in_pos, n))
				return -1;
			c->in_pos += n;
			if (lf) {
				if (too_long) {
					buf_truncate(line, 0);
					errno = ERANGE;
					return -1;
				}
				return 1;
			}
		}
		r = conn_fill(c);
		if (r < 0)
			return -1;
		if (r == 0) {
			if (line->len || too_long) {
				errno = EPROTO;
				return -1;
			}
			return 0;
		}
	}
}

ssize_t conn_read(struct conn *c, void *dst, size_t max)
{
	size_t n;
	int r;

	if (c->in_pos == c->in.len) {
		r = conn_fill(c);
		if (r <= 0)
			return r;
	}
	n = c->in.len - c->in_pos;
	if (n > max)
		n = max;
	memcpy(dst, c->in.data + c->in_pos, n);
	c->in_pos += n;
	return (ssize_t)n;
}

size_t conn_buffered(const struct conn *c) { return c->in.len - c->in_pos; }

void conn_discard_input(struct conn *c)
{
	buf_truncate(&c->in, 0);
	c->in_pos = 0;
}

int conn_put(struct conn *c, const void *data, size_t len)
{
	if (!buf_cat(&c->out, data, len))
		return 0;
	if (c->out.len >= CONN_OUT_FLUSH_BYTES)
		(void)conn_flush(c);
	return 1;
}

int conn_puts(struct conn *c, const char *s) { return conn_put(c, s, strlen(s)); }

/* Formats onto the output: a stack buffer for the usual short reply, a
 * heap one only for a longer line. */
static int conn_vprintf(struct conn *c, const char *fmt, va_list ap)
{
	char small[1024];
	struct buf big = BUF_INIT;
	va_list again;
	int n, ok;

	va_copy(again, ap);
	n = vsnprintf(small, sizeof small, fmt, ap);
	if (n < 0 || (size_t)n < sizeof small) {
		va_end(again);
		return n < 0 ? 0 : conn_put(c, small, (size_t)n);
	}
	ok = buf_reserve(&big, (size_t)n);
	if (ok)
		vsnprintf(big.data, (size_t)n + 1, fmt, again);
	va_end(again);
	ok = ok && conn_put(c, big.data, (size_t)n);
	buf_free(&big);
	return ok;
}

int conn_printf(struct conn *c, const char *fmt, ...)
{
	va_list ap;
	int ok;

	va_start(ap, fmt);
	ok = conn_vprintf(c, fmt, ap);
	va_end(ap);
	return ok;
}

void xconn_put(struct conn *c, const void *data, size_t len)
{
	if (!conn_put(c, data, len))
		die_sys("unable to buffer a reply");
}

void xconn_puts(struct conn *c, const char *s) { xconn_put(c, s, strlen(s)); }

void xconn_printf(struct conn *c, const char *fmt, ...)
{
	va_list ap;
	int ok;

	va_start(ap, fmt);
	ok = conn_vprintf(c, fmt, ap);
	va_end(ap);
	if (!ok)
		die_sys("unable to buffer a reply");
}

int conn_write_failed(const struct conn *c) { return c->write_errno; }
