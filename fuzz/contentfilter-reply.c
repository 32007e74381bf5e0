/* Fuzzes the content filter's answer line (src/smtpd/smtpd-contentfilter-
 * reply.c): "-1|0|1 [code x.y.z text]", from a program smtpd does not
 * trust to be well written.  What is accepted must be a code of the class
 * its action allows, an enhanced code of the same class, and printable
 * text, all within their arrays. */
#include "../src/smtpd/smtpd-contentfilter-reply.c"
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const struct contentfilter_reply *r)
{
	size_t i;

	if (r->action < CONTENTFILTER_REJECT || r->action > CONTENTFILTER_FREEZE)
		__builtin_trap();
	if (!r->code)
		return;
	if (r->code < 200 || r->code > 599 || (r->action == CONTENTFILTER_REJECT) != (r->code >= 400))
		__builtin_trap();
	if (r->enhanced[0] != '0' + r->code / 100 || strlen(r->enhanced) >= sizeof r->enhanced)
		__builtin_trap();
	if (!r->text[0] || strlen(r->text) > SMTPD_CONTENTFILTER_TEXT_MAX_BYTES)
		__builtin_trap();
	for (i = 0; r->text[i]; i++)
		if (r->text[i] < 0x20 || r->text[i] > 0x7e)
			__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct contentfilter_reply r;
	char *line = malloc(size ? size : 1);

	if (!line)
		return 0;
	memcpy(line, data, size);
	if (smtpd_contentfilter_parse_reply(line, size, &r))
		check(&r);
	free(line);
	return 0;
}
