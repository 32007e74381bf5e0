/* log-test: log_quote keeps a safe value bare and quotes everything else so
 * that a client's text stays one field; the session prefix and the line
 * escapes, read back from a pipe on fd 2. */
#include "buf.h"
#include "check.h"
#include "log.h"
#include <string.h>
#include <unistd.h>

static int quoted_is(const char *value, size_t len, const char *expected)
{
	struct buf b = BUF_INIT;
	int ok;

	ok = log_quote(&b, value, len) && b.len == strlen(expected) && memcmp(b.data, expected, b.len) == 0;
	if (!ok)
		printf("log_quote gave [%s], expected [%s]\n", b.data ? b.data : "(null)", expected);
	buf_free(&b);
	return ok;
}
#define QUOTED(lit, expected) quoted_is(lit, sizeof lit - 1, expected)

static void test_quote(void)
{
	CHECK(QUOTED("demo@localhost", "demo@localhost"));
	CHECK(QUOTED("<a@example.org>", "<a@example.org>"));
	CHECK(QUOTED("", "\"\""));
	CHECK(QUOTED("a b", "\"a b\""));
	CHECK(QUOTED("ip=6.6.6.6", "\"ip=6.6.6.6\""));
	CHECK(QUOTED("<\"z ip=6.6.6.6\"@localhost>", "\"<\\\"z ip=6.6.6.6\\\"@localhost>\""));
	CHECK(QUOTED("back\\slash", "\"back\\\\slash\""));
	CHECK(QUOTED("a\r\nb\tc\x7f", "\"a\\x0d\\x0ab\\x09c\\x7f\""));
	CHECK(QUOTED("caf\xc3\xa9", "\"caf\\xc3\\xa9\""));
	CHECK(QUOTED("nul\0x", "\"nul\\x00x\""));
}

static void test_append(void)
{
	struct buf b = BUF_INIT;
	struct buf scratch = BUF_INIT;

	CHECK(buf_cats(&b, "user=") && log_quote(&b, "x y", 3) && strcmp(b.data, "user=\"x y\"") == 0);
	CHECK(strcmp(xlog_value(&scratch, "plain"), "plain") == 0);
	CHECK(strcmp(xlog_value(&scratch, "two words"), "\"two words\"") == 0);
	buf_free(&b);
	buf_free(&scratch);
}

/* What one log call wrote on fd 2. */
static void read_line(int fd, char *out, size_t size)
{
	ssize_t n = read(fd, out, size - 1);

	out[n > 0 ? n : 0] = 0;
}

static void test_lines(void)
{
	struct buf v = BUF_INIT;
	char line[512];
	int p[2], saved = dup(2);

	CHECK(pipe(p) == 0 && dup2(p[1], 2) == 2);
	log_set_program("log-test");
	log_info("event=x ip=1.2.3.4 rcpt=%s", xlog_value(&v, "<\"z ip=6.6.6.6\"@localhost>"));
	read_line(p[0], line, sizeof line);
	CHECK(strcmp(line, "log-test: info: event=x ip=1.2.3.4 rcpt=\"<\\\"z ip=6.6.6.6\\\"@localhost>\"\n") == 0);
	log_set_session("4242");
	log_notice("event=y text=%s", "a\nb\\c");
	read_line(p[0], line, sizeof line);
	CHECK(strcmp(line, "log-test: notice: session=4242 event=y text=a\\x0ab\\c\n") == 0);
	log_set_session(NULL);
	log_warn("plain");
	read_line(p[0], line, sizeof line);
	CHECK(strcmp(line, "log-test: warning: plain\n") == 0);
	dup2(saved, 2);
	buf_free(&v);
}

int main(void)
{
	test_quote();
	test_append();
	test_lines();
	return CHECK_DONE();
}
