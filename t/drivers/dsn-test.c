/* dsn-test: the notice composer (src/lib/dsn.c) on hand-made jobs: the
 * boundary avoids the original's text, fields fold and unfold back, control
 * bytes cannot add a line, and the kinds and recipients. */
#include "check.h"
#include "dsn.h"
#include <string.h>

static struct envelope_rcpt rcpt;
static struct envelope job;

static void job_init(const char *sender, const char *action, const char *diagnostic)
{
	envelope_init(&job);
	memset(&rcpt, 0, sizeof rcpt);
	strcpy(job.id, "orig1");
	job.arrival = 86400;
	job.sender = sender;
	rcpt.address = "rcpt@example.org";
	rcpt.status = "5.1.1";
	rcpt.code = "550";
	rcpt.diagnostic = diagnostic;
	rcpt.action = action;
	job.rcpt = &rcpt;
	job.rcpt_count = 1;
}

static struct buf compose(const char *message)
{
	struct dsn_params p = { "mx.test", "T1", 0, 172800 };
	struct buf out = BUF_INIT;
	int eight = -1;

	CHECK(dsn_compose(&job, message, strlen(message), &p, &out, &eight));
	CHECK(eight == 0);
	return out;
}

/* The line of out that starts with prefix, unfolded, or "". */
static void field(const struct buf *out, const char *prefix, char *value, size_t size)
{
	const char *p = strstr(out->data, prefix);
	size_t n = 0;

	value[0] = 0;
	if (!p)
		return;
	for (p += strlen(prefix); *p && n + 1 < size; p++) {
		if (*p == '\n' && p[1] != ' ' && p[1] != '\t')
			break;
		if (*p != '\n')
			value[n++] = *p;
	}
	value[n] = 0;
}

int main(void)
{
	char long_text[400], value[1024];
	struct buf out, to = BUF_INIT;
	size_t i;

	job_init("a@example.org", NULL, "no such user");
	/* the returned message holds the first boundary we would pick */
	job.ret = "FULL";
	out = compose("Subject: x\n\n--=_bbsmail-T1-0\nbody\n");
	CHECK(strstr(out.data, "boundary=\"=_bbsmail-T1-1\"") != NULL);
	CHECK(strstr(out.data, "Content-Type: message/rfc822\nContent-Description: Undelivered Message\n\n"
			       "Subject: x\n\n--=_bbsmail-T1-0\nbody\n\n--=_bbsmail-T1-1--\n") != NULL);
	CHECK(strstr(out.data, "Diagnostic-Code: smtp; 550 5.1.1 no such user\n") != NULL);
	CHECK(strstr(out.data, "Last-Attempt-Date: Sat, 03 Jan 1970 00:00:00 +0000\n") != NULL);
	CHECK(strstr(out.data, "Arrival-Date: Fri, 02 Jan 1970 00:00:00 +0000\n") != NULL);
	buf_free(&out);
	/* without RET the header only, and the body's text does not matter */
	job.ret = NULL;
	out = compose("Subject: x\n\n--=_bbsmail-T1-0\nbody\n");
	CHECK(strstr(out.data, "Content-Type: text/rfc822-headers\nContent-Description: Undelivered Message "
			       "Headers\n\nSubject: x\n\n--=_bbsmail-T1-0--\n") != NULL);
	buf_free(&out);

	/* a long reason folds before spaces and unfolds to itself */
	strcpy(long_text, "");
	for (i = 0; i < 20; i++)
		strcat(long_text, "word1234 ");
	strcat(long_text, "end");
	job_init("a@example.org", NULL, long_text);
	out = compose("Subject: x\n");
	field(&out, "Diagnostic-Code: ", value, sizeof value);
	CHECK(strncmp(value, "smtp; 550 5.1.1 ", 16) == 0 && strcmp(value + strlen("smtp; 550 5.1.1 "), long_text) == 0);
	for (i = 0; out.data[i]; i += strcspn(out.data + i, "\n") + 1)
		CHECK(strcspn(out.data + i, "\n") <= 78);
	/* no empty-line separator: the whole message is the header; no last LF */
	CHECK(strstr(out.data, "Headers\n\nSubject: x\n\n--") != NULL);
	buf_free(&out);

	/* a control byte never starts a line of its own */
	job_init("a@example.org", NULL, "bad\tbyte\x01here");
	out = compose("Subject: y");
	CHECK(strstr(out.data, "smtp; 550 5.1.1 bad?byte?here\n") != NULL);
	CHECK(strstr(out.data, "\n\nSubject: y\n\n--") != NULL);
	buf_free(&out);

	/* kinds */
	job_init("a@example.org", "delayed", "x");
	CHECK(dsn_kind_of(&job) == DSN_DELAYED);
	job_init("a@example.org", "relayed", "x");
	CHECK(dsn_kind_of(&job) == DSN_RELAYED);
	job_init("a@example.org", "failed", "x");
	CHECK(dsn_kind_of(&job) == DSN_FAILED);

	/* recipients: the sender; for a failed notice of ours, the postmaster */
	job_init("a@example.org", NULL, "x");
	CHECK(dsn_recipient(&job, "mx.test", &to) && strcmp(to.data, "a@example.org") == 0);
	job_init("", NULL, "x");
	job.notice = "dsn";
	CHECK(dsn_recipient(&job, "mx.test", &to) && strcmp(to.data, "postmaster@mx.test") == 0);
	out = compose("Subject: z\n\nbody\n");
	CHECK(strstr(out.data, "\nTo: postmaster@mx.test\n") != NULL);
	buf_free(&out);
	buf_free(&to);
	return CHECK_DONE();
}
