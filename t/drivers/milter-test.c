/* milter-test: the milter protocol client's pure parts (the reply parser,
 * the filter addresses) and its framing over a socket pair: packets
 * round-trip, progress replies are skipped, an oversized packet and a
 * silent filter fail with a reason. */
#include "check.h"
#include "conn.h"
#include "milter.h"
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int parse(const char *p, size_t n, struct milter_reply *r)
{
	return milter_reply_parse((const unsigned char *)p, n, r);
}

#define PARSE(lit, r) parse(lit, sizeof lit - 1, r)

static void test_replies(void)
{
	struct milter_reply r;

	CHECK(PARSE("a", &r) && r.kind == MILTER_REPLY_ACCEPT);
	CHECK(PARSE("c", &r) && r.kind == MILTER_REPLY_CONTINUE);
	CHECK(!PARSE("cx", &r) && r.error);
	CHECK(!parse("", 0, &r) && r.error);
	CHECK(PARSE("y550 5.7.1 Go away\0", &r) && r.kind == MILTER_REPLY_REPLYCODE && r.code == 550
	      && strcmp(r.enhanced, "5.7.1") == 0 && strcmp(r.text, "Go away") == 0);
	CHECK(PARSE("y451\0", &r) && r.code == 451 && !r.enhanced[0] && !r.text[0]);
	CHECK(PARSE("y452 Try later\0", &r) && r.code == 452 && !r.enhanced[0] && strcmp(r.text, "Try later") == 0);
	CHECK(!PARSE("y250 2.0.0 ok\0", &r));             /* not a refusal */
	CHECK(!PARSE("y550 4.7.1 mixed\0", &r));          /* class differs */
	CHECK(!PARSE("y550 5.7.1 a\r\nb\0", &r));         /* CR LF in the text */
	CHECK(!PARSE("y550 5.7.1 no nul", &r));
	CHECK(!PARSE("y550 5.7.1 x\0extra", &r));
	CHECK(PARSE("hX-Spam-Flag\0YES\0", &r) && r.kind == MILTER_REPLY_ADDHEADER && strcmp(r.name, "X-Spam-Flag") == 0
	      && strcmp(r.value, "YES") == 0);
	CHECK(!PARSE("hBad:Name\0v\0", &r));
	CHECK(!PARSE("hName\0a\rb\0", &r));               /* bare CR */
	CHECK(!PARSE("hName\0a\nb\0", &r));               /* LF not folding */
	CHECK(PARSE("hName\0a\r\n\tb\0", &r));
	CHECK(PARSE("i\0\0\0\2X-First\0top\0", &r) && r.kind == MILTER_REPLY_INSHEADER && r.index == 2);
	CHECK(PARSE("m\0\0\0\1Subject\0\0", &r) && r.kind == MILTER_REPLY_CHGHEADER && r.index == 1 && !r.value[0]);
	CHECK(!PARSE("m\0\0\1", &r));
	CHECK(PARSE("bnew\r\n", &r) && r.kind == MILTER_REPLY_REPLBODY && r.data_len == 5);
	CHECK(PARSE("+<a@b.example>\0", &r) && r.kind == MILTER_REPLY_ADDRCPT && strcmp(r.address, "<a@b.example>") == 0);
	CHECK(!PARSE("+\0", &r));
	CHECK(PARSE("2<a@b>\0NOTIFY=NEVER\0", &r) && strcmp(r.args, "NOTIFY=NEVER") == 0);
	CHECK(PARSE("e<s@b>\0", &r) && r.kind == MILTER_REPLY_CHGFROM && !r.args[0]);
	CHECK(!PARSE("-<a@b>\0x\0", &r));                  /* delrcpt has no arguments */
	CHECK(PARSE("qreason\0", &r) && r.kind == MILTER_REPLY_QUARANTINE && strcmp(r.text, "reason") == 0);
	CHECK(PARSE("O\0\0\0\6\0\0\0\x21\0\0\0\x10", &r) && r.version == 6 && r.actions == 0x21 && r.protocol == 0x10);
	CHECK(!PARSE("O\0\0\0\6", &r));
	CHECK(!PARSE("Z", &r) && strcmp(r.error, "unknown reply command") == 0);
	CHECK(strcmp(milter_reply_name(MILTER_REPLY_DISCARD), "discard") == 0);
}

static void test_addresses(void)
{
	struct sockaddr_storage ss;
	unsigned len;
	const char *why;
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

	CHECK(milter_address_parse("unix:/run/m.sock", &ss, &len, &why) && ss.ss_family == AF_UNIX
	      && strcmp(((struct sockaddr_un *)&ss)->sun_path, "/run/m.sock") == 0);
	CHECK(milter_address_parse("inet:8891@127.0.0.1", &ss, &len, &why) && ss.ss_family == AF_INET
	      && ntohs(in->sin_port) == 8891 && ntohl(in->sin_addr.s_addr) == 0x7f000001);
	CHECK(milter_address_parse("inet:127.0.0.1:8892", &ss, &len, &why) && ntohs(in->sin_port) == 8892);
	CHECK(milter_address_parse("inet6:8893@::1", &ss, &len, &why) && ss.ss_family == AF_INET6
	      && ntohs(in6->sin6_port) == 8893);
	CHECK(milter_address_parse("inet6:[::1]:8894", &ss, &len, &why) && ntohs(in6->sin6_port) == 8894);
	CHECK(!milter_address_parse("inet:8891@localhost", &ss, &len, &why));   /* never a name */
	CHECK(!milter_address_parse("inet:0@127.0.0.1", &ss, &len, &why));
	CHECK(!milter_address_parse("inet:70000@127.0.0.1", &ss, &len, &why));
	CHECK(!milter_address_parse("inet:127.0.0.1", &ss, &len, &why));
	CHECK(!milter_address_parse("tcp:1@127.0.0.1", &ss, &len, &why));
	CHECK(!milter_address_parse("unix:", &ss, &len, &why));
}

static void test_framing(void)
{
	struct milter m;
	struct milter_reply r;
	int fds[2];
	unsigned char got[16];

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
	milter_init(&m);
	/* non-blocking, as milter_open leaves its socket */
	CHECK(fcntl(fds[0], F_SETFL, O_NONBLOCK) == 0);
	m.fd = fds[0];
	CHECK(milter_send(&m, MILTER_CMD_HELO, "x\0", 2, conn_now_ms() + 1000));
	CHECK(read(fds[1], got, sizeof got) == 7 && memcmp(got, "\0\0\0\3Hx\0", 7) == 0);
	/* two progress replies, then continue, in one write */
	CHECK(write(fds[1], "\0\0\0\1p\0\0\0\1p\0\0\0\1c", 15) == 15);
	CHECK(milter_read_reply(&m, &r, 1000) && r.kind == MILTER_REPLY_CONTINUE);
	CHECK(!milter_read_reply(&m, &r, 200) && strstr(m.error, "timed out"));
	milter_set_packet_max(&m, 16);
	CHECK(write(fds[1], "\0\0\0\x20", 4) == 4);
	CHECK(!milter_read_reply(&m, &r, 1000) && strstr(m.error, "out of range"));
	close(fds[1]);
	milter_close(&m);
	CHECK(m.fd == -1);
}

int main(void)
{
	test_replies();
	test_addresses();
	test_framing();
	return CHECK_DONE();
}
