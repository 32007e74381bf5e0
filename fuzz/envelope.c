/* Fuzzes the spool file reader (src/lib/envelope.c over record.c): every
 * stage parses files that a receiver wrote, and a damaged one must be
 * refused (EBADMSG), never misread.  The message length must stay inside
 * the input. */
#include "buf.h"
#include "envelope.h"
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct envelope e;
	struct buf out = BUF_INIT;
	size_t i;

	envelope_init(&e);
	if (!buf_copy(&e.storage, data, size))
		return 0;
	if (envelope_parse(&e)) {
		if (e.message && (e.message < e.storage.data || e.message + e.message_len > e.storage.data + e.storage.len))
			__builtin_trap();
		for (i = 0; i < e.rcpt_count; i++)
			if (!e.rcpt[i].address)
				__builtin_trap();
		/* What was read writes back out. */
		(void)envelope_write(&e, &out);
	}
	buf_free(&out);
	envelope_free(&e);
	return 0;
}
