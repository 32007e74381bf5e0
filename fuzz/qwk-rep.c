/* Fuzzes the parser of a node's REP message file (<ID>.MSG, the
 * MESSAGES.DAT block format, src/lib/qwk.c) and the MS-BASIC float reader
 * of the NDX records. */
#include "qwk.h"
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct qwk_file f;
	char problem[256];
	unsigned char mbf[4];
	long v;

	if (qwk_file_parse(&f, data, size, problem, sizeof problem))
		qwk_file_free(&f);
	if (size >= 4) {
		v = qwk_mbf_to_long(data);
		if (v >= 0 && v < (1L << 24)) {
			qwk_mbf_from_uint((uint32_t)v, mbf);
			if (qwk_mbf_to_long(mbf) != v)
				abort();
		}
	}
	return 0;
}
