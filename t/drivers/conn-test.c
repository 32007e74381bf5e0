/* conn-test: conn_getline over a socketpair.  The cap counts the LF; a line
 * past it is thrown away whole and the next one still arrives; an
 * unterminated last line is an error; the idle timeout holds its bound;
 * pipelined lines written at once come out one by one; replies wait in the
 * buffer until the next blocking read. */
#include "buf.h"
#include "check.h"
#include "conn.h"
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define LINE_MAX_TEST 16

struct pair {
	int ours;      /* the test writes the peer's side here */
	struct conn c; /* reads and writes the other end */
};

static void pair_open(struct pair *p)
{
	int fds[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) {
		perror("socketpair");
		_exit(111);
	}
	p->ours = fds[0];
	conn_init(&p->c, fds[1], fds[1]);
}

static void pair_close(struct pair *p)
{
	close(p->ours);
	close(p->c.fd_in);
	conn_free(&p->c);
}

static void send_text(struct pair *p, const char *s)
{
	if (write(p->ours, s, strlen(s)) != (ssize_t)strlen(s))
		perror("write");
}

static void test_cap(void)
{
	struct pair p;
	struct buf line = BUF_INIT;

	pair_open(&p);
	/* 15 bytes + LF = 16 = the cap: passes.  Then 16 + LF: refused. */
	send_text(&p, "abcdefghijklmno\nabcdefghijklmnop\nnext\n");
	CHECK(conn_getline(&p.c, &line, LINE_MAX_TEST) == 1);
	CHECK(line.len == 16 && strcmp(line.data, "abcdefghijklmno\n") == 0);
	errno = 0;
	CHECK(conn_getline(&p.c, &line, LINE_MAX_TEST) == -1 && errno == ERANGE);
	CHECK(line.len == 0);
	CHECK(conn_getline(&p.c, &line, LINE_MAX_TEST) == 1 && strcmp(line.data, "next\n") == 0);
	/* A long line arriving in pieces is still refused whole. */
	send_text(&p, "0123456789");
	send_text(&p, "0123456789");
	send_text(&p, "0123456789\r\nok\r\n");
	errno = 0;
	CHECK(conn_getline(&p.c, &line, LINE_MAX_TEST) == -1 && errno == ERANGE);
	CHECK(conn_getline(&p.c, &line, LINE_MAX_TEST) == 1 && strcmp(line.data, "ok\r\n") == 0);
	buf_free(&line);
	pair_close(&p);
}

static void test_eof(void)
{
	struct pair p;
	struct buf line = BUF_INIT;

	pair_open(&p);
	send_text(&p, "whole\npartial");
	shutdown(p.ours, SHUT_WR);
	CHECK(conn_getline(&p.c, &line, 100) == 1 && strcmp(line.data, "whole\n") == 0);
	errno = 0;
	CHECK(conn_getline(&p.c, &line, 100) == -1 && errno == EPROTO);
	pair_close(&p);

	pair_open(&p);
	send_text(&p, "last\n");
	shutdown(p.ours, SHUT_WR);
	CHECK(conn_getline(&p.c, &line, 100) == 1 && strcmp(line.data, "last\n") == 0);
	CHECK(conn_getline(&p.c, &line, 100) == 0);
	buf_free(&line);
	pair_close(&p);
}

static void test_timeouts(void)
{
	struct pair p;
	struct buf line = BUF_INIT;
	long long start, took;

	pair_open(&p);
	conn_set_idle_timeout(&p.c, 1);
	start = conn_now_ms();
	errno = 0;
	CHECK(conn_getline(&p.c, &line, 100) == -1 && errno == ETIMEDOUT);
	took = conn_now_ms() - start;
	CHECK(took >= 900 && took < 2500);

	/* A byte now and then does not extend the absolute deadline. */
	conn_set_idle_timeout(&p.c, 0);
	conn_set_deadline(&p.c, 1);
	send_text(&p, "slow");
	start = conn_now_ms();
	errno = 0;
	CHECK(conn_getline(&p.c, &line, 100) == -1 && errno == ETIMEDOUT);
	took = conn_now_ms() - start;
	CHECK(took >= 900 && took < 2500);
	buf_free(&line);
	pair_close(&p);
}

static void test_pipelining(void)
{
	struct pair p;
	struct buf line = BUF_INIT;
	char reply[64];
	ssize_t n;

	pair_open(&p);
	send_text(&p, "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n");
	CHECK(conn_getline(&p.c, &line, 100) == 1 && strcmp(line.data, "MAIL FROM:<a@b>\r\n") == 0);
	conn_puts(&p.c, "250 ok\r\n");
	CHECK(conn_getline(&p.c, &line, 100) == 1 && strcmp(line.data, "RCPT TO:<c@d>\r\n") == 0);
	conn_puts(&p.c, "250 ok\r\n");
	CHECK(conn_getline(&p.c, &line, 100) == 1 && strcmp(line.data, "DATA\r\n") == 0);
	conn_printf(&p.c, "%d %s\r\n", 354, "go");
	/* Nothing was flushed yet: all three lines were already buffered. */
	CHECK(conn_buffered(&p.c) == 0);
	CHECK(recv(p.ours, reply, sizeof reply, MSG_DONTWAIT) == -1);
	CHECK(conn_flush(&p.c) == 1);
	n = read(p.ours, reply, sizeof reply - 1);
	CHECK(n == 24);
	if (n >= 0) {
		reply[n] = 0;
		CHECK(strcmp(reply, "250 ok\r\n250 ok\r\n354 go\r\n") == 0);
	}
	CHECK(p.c.bytes_out == 24);
	buf_free(&line);
	pair_close(&p);
}

static void test_raw_read(void)
{
	struct pair p;
	struct buf line = BUF_INIT;
	char data[16];

	pair_open(&p);
	send_text(&p, "AUTH\r\nrawbytes");
	CHECK(conn_getline(&p.c, &line, 100) == 1);
	CHECK(conn_buffered(&p.c) == 8);
	CHECK(conn_read(&p.c, data, 3) == 3 && memcmp(data, "raw", 3) == 0);
	conn_discard_input(&p.c);
	CHECK(conn_buffered(&p.c) == 0);
	buf_free(&line);
	pair_close(&p);
}

int main(void)
{
	test_cap();
	test_eof();
	test_pipelining();
	test_raw_read();
	test_timeouts();
	return CHECK_DONE();
}
