/* Fuzzes the JAM parsers of another program's files: the base header and
 * a message header with its subfields (src/lib/jam.c). */
#include "jam.h"
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jam_base_header h;
	struct jam_message m;
	size_t len;

	(void)jam_parse_base_header(data, size, &h);
	jam_message_init(&m);
	m.subfield_len_clamped = size && (data[size - 1] & 1);
	if (jam_parse_message_header(data, size, &m)) {
		(void)jam_message_get(&m, JAM_SF_SUBJECT, &len);
		(void)jam_crc((const char *)data, size);
	}
	jam_message_free(&m);
	return 0;
}
