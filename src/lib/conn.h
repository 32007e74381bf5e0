/* conn: the buffered, deadline-aware reader and writer that every receiver
 * uses on fd 0/1.  Replies are buffered and flushed only before a blocking
 * read, which is exactly the batching PIPELINING (RFC 2920) needs.  A
 * transport (TLS) can be slotted in under it with conn_set_transport(). */
#ifndef BBSMAIL_CONN_H
#define BBSMAIL_CONN_H
#include "buf.h"
#include <sys/types.h>

struct conn_transport {
	/* >0 bytes, 0 EOF, -1 error with errno (EAGAIN: poll fd and retry). */
	ssize_t (*read)(void *ctx, void *dst, size_t len);
	ssize_t (*write)(void *ctx, const void *src, size_t len);
	/* Bytes the transport already holds decrypted (no poll needed). */
	size_t (*pending)(void *ctx);
	void *ctx;
};

struct conn {
	int fd_in, fd_out;
	struct buf in;          /* raw input; bytes before in_pos are consumed */
	size_t in_pos;
	struct buf out;         /* pending output */
	const struct conn_transport *transport; /* NULL: plain read/write */
	int idle_timeout_sec;   /* per read; 0 = none */
	long long deadline_ms;  /* absolute (monotonic ms); 0 = none */
	unsigned long long bytes_in, bytes_out;
	int out_not_socket;     /* fd_out is a pipe: bounded writes after POLLOUT */
	int write_errno;        /* a write failed or timed out: output is dropped */
};

void conn_init(struct conn *c, int fd_in, int fd_out);
void conn_free(struct conn *c);
void conn_set_transport(struct conn *c, const struct conn_transport *t);
void conn_set_idle_timeout(struct conn *c, int seconds);
/* Absolute deadline seconds from now; 0 clears it. */
void conn_set_deadline(struct conn *c, int seconds_from_now);
long long conn_now_ms(void);
/* Waits until fd has one of events or the absolute monotonic deadline_ms
 * (conn_now_ms() scale; 0: no deadline) passes.  1 ready, 0 with errno
 * (ETIMEDOUT, or poll's).  EINTR does not end the wait.  The one deadline
 * wait of the library: conn, TLS, DNS and the SMTP client's connect. */
int conn_poll_until(int fd, short events, long long deadline_ms);

/* Reads one line, terminator (LF, with whatever precedes it) included, into
 * line.  1: got a line.  0: clean EOF.  -1: error with errno:
 *   ERANGE     the line was longer than max bytes; it has been read and thrown
 *              away up to its LF, so the session can go on;
 *   ETIMEDOUT  idle timeout or deadline passed;
 *   EPROTO     EOF in the middle of a line (an unterminated last line). */
int conn_getline(struct conn *c, struct buf *line, size_t max);
/* Up to max raw bytes (from the buffer first): >0, 0 EOF, -1 errno. */
ssize_t conn_read(struct conn *c, void *dst, size_t max);
/* Bytes read from the peer but not yet consumed. */
size_t conn_buffered(const struct conn *c);
/* Throws away buffered input (STARTTLS: never trust pre-TLS bytes). */
void conn_discard_input(struct conn *c);

/* Output: buffered until conn_flush() or the next blocking read.  The puts
 * return 0 with errno only when the reply cannot be buffered (ENOMEM,
 * EOVERFLOW); a write error surfaces at conn_flush (1 ok, 0 errno).  Writes
 * wait under the same idle timeout and deadline as reads (ETIMEDOUT).  Once
 * a flush has failed, the connection's output is dead: what is buffered is
 * dropped and every later flush (and so every read, which flushes first)
 * fails at once with the same errno; conn_write_failed() tells. */
int conn_put(struct conn *c, const void *data, size_t len);
int conn_puts(struct conn *c, const char *s);
int conn_printf(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int conn_flush(struct conn *c);
/* The errno of the write that failed, 0 while output works. */
int conn_write_failed(const struct conn *c);
/* The receivers use these: a session whose reply cannot even be buffered
 * has nothing better to do than die through the die hook, which sends the
 * 421 or -ERR first like every other fatal path; the plain forms stay for
 * that hook itself (it must not die again) and for the test drivers. */
void xconn_put(struct conn *c, const void *data, size_t len);
void xconn_puts(struct conn *c, const char *s);
void xconn_printf(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
