/* Fuzzes the FidoNet packet parsers of another system's files: the
 * 58-byte header (types 2, 2+, 2.2), the packed messages up to the
 * terminator, the kludges, the FTS date and the MSGID Message-ID form
 * (src/lib/ftnpkt.c, src/lib/fido.c). */
#include "fido.h"
#include "ftnpkt.h"
#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void kludges(const struct ftn_message *m)
{
	static const char *const names[] = { "INTL", "FMPT", "TOPT", "MSGID", "REPLY", "CHRS", "TZUTC", NULL };
	struct buf v = BUF_INIT, id = BUF_INIT, back = BUF_INIT;
	size_t i;

	for (i = 0; names[i]; i++)
		if (ftn_kludge_get(m->text.data ? m->text.data : "", m->text.len, names[i], &v) == 1
		    && fido_msgid_encode(v.data, v.len, &id))
			(void)fido_msgid_decode(id.data, &back);
	buf_free(&v), buf_free(&id), buf_free(&back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ftn_packet_header h;
	struct ftn_message m;
	struct ftn_addr a;
	size_t pos = FTN_PACKET_HEADER_BYTES, used;
	char text[64];
	int r;

	if (!ftn_packet_header_parse(data, size, &h))
		return 0;
	for (;;) {
		ftn_message_init(&m);
		r = ftn_message_parse(data + pos, size - pos, &used, &m);
		if (r > 0) {
			(void)ftn_date_parse(m.date);
			kludges(&m);
			pos += used;
		}
		ftn_message_free(&m);
		if (r <= 0)
			break;
	}
	/* The address forms too, from the same bytes as text. */
	if (size > 1 && size < sizeof text) {
		memcpy(text, data, size);
		text[size] = 0;
		(void)ftn_addr_parse(text, &a);
		(void)fido_domain_parse(text, &a);
	}
	return 0;
}
