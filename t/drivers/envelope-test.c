/* envelope-test: an envelope written and parsed back gives the same fields
 * (recipients with their own NOTIFY/ORCPT/channel/user/target and a bounce
 * job's status/code/diagnostic; a deferred job's attempts); malformed
 * headers fail with EBADMSG; CR/LF in a field is refused on write. */
#include "buf.h"
#include "check.h"
#include "envelope.h"
#include <errno.h>
#include <string.h>

#define MESSAGE "Subject: hi\n\nbody line\n"

static int same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void fill(struct envelope *e)
{
	struct envelope_rcpt r1 = { "demo@localhost", "SUCCESS,FAILURE", "rfc822;demo@localhost", "local", 2, "2", NULL, NULL, NULL, NULL, NULL };
	struct envelope_rcpt r2 = { "x@remote.example", NULL, NULL, NULL, 0, NULL, NULL, NULL, NULL, NULL, NULL };
	struct envelope_rcpt r3 = { "", "NEVER", NULL, "remote", 0, "x@remote.example", "5.1.1", "550", "no such user", "mx.remote.example [192.0.2.1]", "delayed" };

	envelope_init(e);
	strcpy(e->id, "1700000000.123456.42.1");
	e->arrival = 1700000000UL;
	e->sender = "";
	e->helo = "client.example";
	e->client_ip = "127.0.0.1";
	e->protocol = "ESMTPSA";
	e->auth_user = "sysop";
	e->body = "8BITMIME";
	e->smtputf8 = 1;
	e->ret = "HDRS";
	e->envid = "abc+2Bdef";
	e->attempts = 3;
	e->last_attempt = 1700000600UL;
	e->delay_warned = 1;
	e->notice = "dsn";
	CHECK(envelope_add_rcpt(e, &r1) && envelope_add_rcpt(e, &r2) && envelope_add_rcpt(e, &r3));
}

static void test_round_trip(void)
{
	struct envelope out, in;
	size_t i;

	fill(&out);
	envelope_init(&in);
	CHECK(envelope_write(&out, &in.storage));
	CHECK(buf_cats(&in.storage, MESSAGE));
	CHECK(envelope_parse(&in) == 1);
	CHECK(strcmp(in.id, out.id) == 0 && in.arrival == out.arrival);
	CHECK(same(in.sender, "") && same(in.helo, out.helo) && same(in.client_ip, out.client_ip));
	CHECK(same(in.client_host, NULL) && same(in.protocol, out.protocol) && same(in.auth_user, out.auth_user));
	CHECK(same(in.body, out.body) && in.smtputf8 == 1 && same(in.ret, out.ret) && same(in.envid, out.envid));
	CHECK(in.delay_warned == 1 && same(in.notice, "dsn"));
	CHECK(in.rcpt_count == 3);
	for (i = 0; i < 3 && i < in.rcpt_count; i++) {
		CHECK(same(in.rcpt[i].address, out.rcpt[i].address));
		CHECK(same(in.rcpt[i].notify, out.rcpt[i].notify));
		CHECK(same(in.rcpt[i].orcpt, out.rcpt[i].orcpt));
		CHECK(same(in.rcpt[i].channel, out.rcpt[i].channel));
		CHECK(in.rcpt[i].usernum == out.rcpt[i].usernum);
		CHECK(same(in.rcpt[i].target, out.rcpt[i].target));
		CHECK(same(in.rcpt[i].status, out.rcpt[i].status) && same(in.rcpt[i].code, out.rcpt[i].code));
		CHECK(same(in.rcpt[i].diagnostic, out.rcpt[i].diagnostic));
		CHECK(same(in.rcpt[i].remote_mta, out.rcpt[i].remote_mta) && same(in.rcpt[i].action, out.rcpt[i].action));
	}
	CHECK(in.attempts == 3 && in.last_attempt == 1700000600UL);
	CHECK(in.message_len == strlen(MESSAGE) && memcmp(in.message, MESSAGE, in.message_len) == 0);
	envelope_free(&in);
	envelope_free(&out);
}

static int parse_fails(const char *data, size_t len)
{
	struct envelope e;
	int r;

	envelope_init(&e);
	if (len && !buf_cat(&e.storage, data, len))
		return 0;
	errno = 0;
	r = envelope_parse(&e);
	envelope_free(&e);
	return r == 0 && errno == EBADMSG;
}

#define FAILS(literal) parse_fails(literal, sizeof literal - 1)

static void test_garbage(void)
{
	CHECK(FAILS(""));
	CHECK(FAILS("garbage without any NUL"));
	CHECK(FAILS("\x01\x02\x03\0\0"));
	CHECK(FAILS("V2\0Iid\0D1\0F\0Ta@b\0\0"));              /* unknown version */
	CHECK(FAILS("Iid\0D1\0F\0Ta@b\0\0"));                  /* no version */
	CHECK(FAILS("V1\0D1\0F\0Ta@b\0\0"));                   /* no id */
	CHECK(FAILS("V1\0Iid\0D1\0Ta@b\0\0"));                 /* no sender */
	CHECK(FAILS("V1\0Iid\0D1\0F\0\0"));                    /* no recipient */
	CHECK(FAILS("V1\0Iid\0D1\0F\0Ta@b\0"));                /* no end mark */
	CHECK(FAILS("V1\0Iid\0D1\0F\0Ta@b\0Ta@"));             /* truncated field */
	CHECK(FAILS("V1\0Iid\0D1\0F\0nNEVER\0Ta@b\0\0"));      /* recipient field first */
	CHECK(FAILS("V1\0Iid\0D1\0F\0Ta@b\0Hhelo\0\0"));       /* message field after a recipient */
	CHECK(FAILS("V1\0Iid\0D1\0F\0Ta@b\0Zx\0\0"));          /* unknown tag */
	CHECK(FAILS("V1\0Iid\0D1\0Fa\nb\0Ta@b\0\0"));          /* LF inside a value */
	CHECK(FAILS("V1\0I0123456789012345678901234567890123456789012345678\0D1\0F\0Ta@b\0\0"));
	CHECK(!FAILS("V1\0Iid\0D1\0F\0Ta@b\0\0"));             /* the smallest good one */
}

static void test_refused_write(void)
{
	struct envelope e;
	struct buf out = BUF_INIT;
	struct envelope_rcpt bad = { "a@b\r\nRCPT TO:<c@d>", NULL, NULL, NULL, 0, NULL, NULL, NULL, NULL, NULL, NULL };

	fill(&e);
	e.sender = "evil\n@example";
	errno = 0;
	CHECK(envelope_write(&e, &out) == 0 && errno == EINVAL);
	e.sender = "";
	CHECK(envelope_add_rcpt(&e, &bad));
	buf_truncate(&out, 0);
	errno = 0;
	CHECK(envelope_write(&e, &out) == 0 && errno == EINVAL);
	buf_free(&out);
	envelope_free(&e);
}

int main(void)
{
	test_round_trip();
	test_garbage();
	test_refused_write();
	return CHECK_DONE();
}
