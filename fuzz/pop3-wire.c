/* Fuzzes the POP3 wire writer (src/pop3d/wire.c), which turns any file a
 * mail delivery agent left in the Maildir into what RETR and TOP send.
 * The input's first two bytes give a split point and a TOP line count;
 * the rest is the stored message.  Fed whole or in two pieces, the output
 * must be the same; every line must end in CRLF and no LF stand alone (a
 * CR inside a line is data, passed on as it is); a
 * line starting with '.' must be dot-stuffed (so the terminator cannot
 * appear inside); and the counted size must be the output less the
 * stuffing dots, as LIST reports it. */
#include "../src/pop3d/wire.c"
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void run(const char *msg, size_t len, size_t split, long top, struct buf *out, struct wire *w)
{
	wire_init(w, top);
	if (split > len)
		split = len;
	wire_feed(w, msg, split, out);
	wire_feed(w, msg + split, len - split, out);
	wire_finish(w, out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf whole = BUF_INIT, pieces = BUF_INIT;
	struct wire a, b;
	const char *msg, *o;
	size_t len, i, dots = 0;
	long top;

	if (size < 2)
		return 0;
	top = data[1] < 128 ? (long)(data[1] % 16) : -1;
	msg = (const char *)data + 2, len = size - 2;
	run(msg, len, len, top, &whole, &a);
	run(msg, len, data[0] * len / 255, top, &pieces, &b);
	if (whole.len != pieces.len || (whole.len && memcmp(whole.data, pieces.data, whole.len) != 0)
	    || a.size != b.size || a.spam != b.spam)
		__builtin_trap();
	o = whole.data;
	for (i = 0; i < whole.len; i++) {
		if (o[i] == '\n' && (i == 0 || o[i - 1] != '\r'))
			__builtin_trap();
		if ((i == 0 || o[i - 1] == '\n') && o[i] == '.') {
			if (i + 1 == whole.len || o[i + 1] != '.')
				__builtin_trap();
			dots++;
		}
	}
	if (whole.len && (whole.len < 2 || o[whole.len - 2] != '\r' || o[whole.len - 1] != '\n'))
		__builtin_trap();
	if (a.size != whole.len - dots)
		__builtin_trap();
	buf_free(&whole);
	buf_free(&pieces);
	return 0;
}
