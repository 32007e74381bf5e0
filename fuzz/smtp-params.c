/* Fuzzes the ESMTP parameters of MAIL and RCPT (src/smtpd/smtpd-params.c:
 * SIZE, BODY, SMTPUTF8, RET, ENVID, AUTH, NOTIFY, ORCPT and their xtext),
 * the text a client sends after the path.  The first input byte picks the
 * extensions offered and the size limit; the rest is the parameter text,
 * parsed as MAIL's and as RCPT's.  A refusal must carry a 5xx code, and
 * what is accepted must hold no control byte. */
#include "../src/smtpd/smtpd-params.c"
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void no_controls(const struct buf *b)
{
	size_t i;

	for (i = 0; i < b->len; i++)
		if ((unsigned char)b->data[i] < 0x20)
			__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_session s;
	struct smtp_mail_params mp;
	struct smtp_rcpt_params rp;
	struct smtp_param_error err;
	char *text;

	if (!size || !(text = malloc(size)))
		return 0;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = 0;
	memset(&s, 0, sizeof s);
	s.ext = (unsigned)(data[0] & 0x7f) | SMTP_EXT_EHLO;
	s.max_size = (data[0] & 0x80) ? 1000 : 0;
	memset(&mp, 0, sizeof mp);
	memset(&err, 0, sizeof err);
	if (smtp_params_mail(&s, text, &mp, &err)) {
		no_controls(&mp.envid);
		no_controls(&mp.auth);
		if (s.max_size && mp.has_size && mp.size > s.max_size)
			__builtin_trap();
	} else if (err.code < 500 || err.code > 599 || !err.text) {
		__builtin_trap();
	}
	smtp_mail_params_free(&mp);
	memset(&rp, 0, sizeof rp);
	memset(&err, 0, sizeof err);
	if (smtp_params_rcpt(&s, text, &rp, &err)) {
		no_controls(&rp.notify);
		no_controls(&rp.orcpt);
	} else if (err.code < 500 || err.code > 599 || !err.text) {
		__builtin_trap();
	}
	smtp_rcpt_params_free(&rp);
	free(text);
	return 0;
}
