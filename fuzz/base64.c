/* Fuzzes base64 (src/lib/base64.c), which decodes every SASL response:
 * decoding anything must not crash, and what decodes must encode back to
 * a form that decodes to the same bytes. */
#include "base64.h"
#include "buf.h"
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf decoded = BUF_INIT, encoded = BUF_INIT, again = BUF_INIT;

	if (base64_decode(&decoded, (const char *)data, size)) {
		if (!base64_encode(&encoded, decoded.data ? decoded.data : "", decoded.len)
		    || !base64_decode(&again, encoded.data ? encoded.data : "", encoded.len)
		    || again.len != decoded.len || (decoded.len && memcmp(again.data, decoded.data, decoded.len) != 0))
			__builtin_trap();
	}
	buf_free(&decoded);
	buf_free(&encoded);
	buf_free(&again);
	return 0;
}
