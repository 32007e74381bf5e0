/* milter-reply: libFuzzer harness for the milter reply parser
 * (milter_reply_parse in src/lib/milter.c), fed one packet as a filter
 * would send it after the length prefix: the command byte, then the data.
 * What it accepts must hold together: strings end inside the packet, a
 * reply code is 4xx/5xx with printable text, a header name has no ':',
 * a header value no bare CR. */
#include "milter.h"
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_string(const char *s, const uint8_t *packet, size_t size)
{
	if (!s)
		return;
	if ((const uint8_t *)s < packet || (const uint8_t *)s + strlen(s) >= packet + size)
		__builtin_trap();
}

static void check(const struct milter_reply *r, const uint8_t *packet, size_t size)
{
	size_t i;

	check_string(r->text, packet, size);
	check_string(r->name, packet, size);
	check_string(r->value, packet, size);
	check_string(r->address, packet, size);
	if (r->kind == MILTER_REPLY_REPLYCODE) {
		if (r->code < 400 || r->code > 599 || strlen(r->enhanced) >= sizeof r->enhanced)
			__builtin_trap();
		if (r->enhanced[0] && r->enhanced[0] != '0' + r->code / 100)
			__builtin_trap();
		for (i = 0; r->text[i]; i++)
			if ((unsigned char)r->text[i] < 0x20 || r->text[i] == 0x7f)
				__builtin_trap();
	}
	if (r->name) {
		if (!r->name[0] || strchr(r->name, ':') || strchr(r->name, ' '))
			__builtin_trap();
		for (i = 0; r->value[i]; i++)
			if (r->value[i] == '\r' && r->value[i + 1] != '\n')
				__builtin_trap();
	}
	if (r->kind == MILTER_REPLY_REPLBODY && r->data + r->data_len != packet + size)
		__builtin_trap();
	(void)milter_reply_name(r->kind);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct milter_reply r;
	/* A copy of exactly size bytes: ASan sees any read past the packet. */
	uint8_t *packet = malloc(size ? size : 1);

	if (!packet)
		return 0;
	memcpy(packet, data, size);
	if (milter_reply_parse(packet, size, &r))
		check(&r, packet, size);
	else if (!r.error)
		__builtin_trap();
	free(packet);
	return 0;
}
