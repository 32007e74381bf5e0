/* smtpclient-test: the SMTP client's pure parsers.  Multiline replies must
 * keep one code; the enhanced status is taken off every line that carries
 * it; a bare "250" and a bare LF are fine; the caps of an EHLO reply, with
 * the old "AUTH=" form and an absurd SIZE; and the limits: a line past
 * 2 KiB, 101 lines, a reply past 64 KiB, a line without LF. */
#include "check.h"
#include "smtpclient.h"
#include <stdlib.h>
#include <string.h>

static int parse(struct smtpclient_reply *r, const char *s, size_t *used, const char **why)
{
	return smtpclient_reply_parse(r, s, strlen(s), used, why);
}

static void test_multiline(void)
{
	struct smtpclient_reply r;
	const char *why = "", *s = "550-5.7.1 first line\r\n550 5.7.1 second\tline\r\n250 next\r\n";
	size_t used;

	smtpclient_reply_init(&r);
	CHECK(parse(&r, s, &used, &why) == 1);
	CHECK(r.code == 550 && r.lines == 2 && strcmp(r.status, "5.7.1") == 0);
	CHECK(strcmp(r.text.data, "first line\nsecond line") == 0);
	CHECK(used == strlen("550-5.7.1 first line\r\n550 5.7.1 second\tline\r\n"));
	CHECK(parse(&r, s + used, &used, &why) == 1 && r.code == 250 && !*r.status && !strcmp(r.text.data, "next"));
	CHECK(parse(&r, "250\n", &used, &why) == 1 && r.code == 250 && r.text.len == 0);
	CHECK(parse(&r, "250-a\r\n251 b\r\n", &used, &why) == -1 && !strcmp(why, "reply lines with different codes"));
	CHECK(parse(&r, "250-a\r\n250-b\r\n", &used, &why) == 0);
	CHECK(parse(&r, "250 a", &used, &why) == 0);
	CHECK(parse(&r, "25 a\r\n", &used, &why) == -1);
	CHECK(parse(&r, "250xa\r\n", &used, &why) == -1);
	CHECK(parse(&r, "150 a\r\n", &used, &why) == -1);
	CHECK(parse(&r, "354 a\0b\r\n", &used, &why) == 0); /* strlen stops at the NUL */
	CHECK(smtpclient_reply_parse(&r, "354 a\0b\r\n", 9, &used, &why) == 1 && !strcmp(r.text.data, "a?b"));
	/* A status of the wrong class is text; 3xx replies have none. */
	CHECK(parse(&r, "250 5.1.1 x\r\n", &used, &why) == 1 && !*r.status && !strcmp(r.text.data, "5.1.1 x"));
	CHECK(parse(&r, "354 2.0.0 x\r\n", &used, &why) == 1 && !*r.status);
	CHECK(parse(&r, "250 2.1.1000 x\r\n", &used, &why) == 1 && !*r.status);
	CHECK(parse(&r, "452 4.5.3\r\n", &used, &why) == 1 && !strcmp(r.status, "4.5.3") && r.text.len == 0);
	smtpclient_reply_free(&r);
}

static void test_limits(void)
{
	struct smtpclient_reply r;
	const char *why = "";
	size_t used, i;
	char *big = malloc(90000);

	smtpclient_reply_init(&r);
	/* 2048 bytes with the CRLF pass, 2049 do not. */
	memset(big, 'x', 2046);
	memcpy(big, "250 ", 4);
	memcpy(big + 2046, "\r\n", 3);
	CHECK(parse(&r, big, &used, &why) == 1 && r.text.len == 2042);
	memset(big, 'x', 2047);
	memcpy(big, "250 ", 4);
	memcpy(big + 2047, "\r\n", 3);
	CHECK(parse(&r, big, &used, &why) == -1 && !strcmp(why, "reply line too long"));
	big[0] = 0;
	for (i = 0; i < 100; i++)
		strcat(big, "250-x\r\n");
	strcat(big, "250 x\r\n");
	CHECK(parse(&r, big, &used, &why) == -1 && !strcmp(why, "reply too long"));
	big[strlen(big) - 14] = 0; /* 99 continuation lines ... */
	strcat(big, "250 x\r\n");  /* ... and the last: 100 */
	CHECK(parse(&r, big, &used, &why) == 1 && r.lines == 100);
	/* 40 lines of 2002 bytes: past 64 KiB before the last line. */
	for (i = 0; i < 40; i++) {
		memset(big + i * 2002, 'y', 2000);
		memcpy(big + i * 2002, "250-", 4);
		memcpy(big + i * 2002 + 2000, "\r\n", 2);
	}
	big[40 * 2002] = 0;
	CHECK(strlen(big) == 80080);
	CHECK(parse(&r, big, &used, &why) == -1 && !strcmp(why, "reply too long"));
	free(big);
	smtpclient_reply_free(&r);
}

static void test_caps(void)
{
	struct smtpclient_reply r;
	struct smtpclient_caps caps;
	const char *why = "";
	size_t used;

	smtpclient_reply_init(&r);
	CHECK(parse(&r, "250-mx.example Hello PIPELINING\r\n250-pipelining\r\n250-SIZE 1000\r\n250-8BITMIME\r\n"
			"250-AUTH login cram-md5\r\n250-AUTH=PLAIN\r\n250-STARTTLS\r\n250 DSN\r\n", &used, &why) == 1);
	smtpclient_caps_parse(&caps, &r);
	CHECK(caps.flags == (SMTPCLIENT_CAP_PIPELINING | SMTPCLIENT_CAP_SIZE | SMTPCLIENT_CAP_8BITMIME
			     | SMTPCLIENT_CAP_AUTH | SMTPCLIENT_CAP_STARTTLS | SMTPCLIENT_CAP_DSN));
	CHECK(caps.size_limit == 1000);
	CHECK(strcmp(caps.auth, "LOGIN CRAM-MD5 PLAIN") == 0);
	/* The greeting line alone names nothing, and SIZE without a number or
	 * past 2^64 means no limit. */
	CHECK(parse(&r, "250-PIPELINING\r\n250-SIZE\r\n250 CHUNKINGX\r\n", &used, &why) == 1);
	smtpclient_caps_parse(&caps, &r);
	CHECK(caps.flags == SMTPCLIENT_CAP_SIZE && caps.size_limit == 0);
	CHECK(parse(&r, "250-x\r\n250 SIZE 99999999999999999999999\r\n", &used, &why) == 1);
	smtpclient_caps_parse(&caps, &r);
	CHECK(caps.flags == SMTPCLIENT_CAP_SIZE && caps.size_limit == 0);
	smtpclient_reply_free(&r);
}

int main(void)
{
	test_multiline();
	test_limits();
	test_caps();
	return CHECK_DONE();
}
