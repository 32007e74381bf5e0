/* smtp-reply: libFuzzer harness for the SMTP client's reply parser
 * (smtpclient_reply_parse, one reply after another as a peer would send
 * them) and for the EHLO capability parser on every 250 reply. */
#include "smtpclient.h"
#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtpclient_reply r;
	struct smtpclient_caps caps;
	const char *p = (const char *)data, *why = NULL;
	size_t used;
	int got;

	smtpclient_reply_init(&r);
	while (size > 0) {
		got = smtpclient_reply_parse(&r, p, size, &used, &why);
		if (got <= 0 || used == 0 || used > size)
			break;
		/* Invariants a caller relies on. */
		if (r.code < 200 || r.code > 599 || r.lines == 0 || !r.text.data
		    || strlen(r.text.data) != r.text.len || strlen(r.status) >= sizeof r.status)
			__builtin_trap();
		smtpclient_caps_parse(&caps, &r);
		if (strlen(caps.auth) >= sizeof caps.auth)
			__builtin_trap();
		p += used;
		size -= used;
	}
	smtpclient_reply_free(&r);
	return 0;
}
