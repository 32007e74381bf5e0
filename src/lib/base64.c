#include "base64.h"
#include <errno.h>

static const char base64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int base64_encode(struct buf *out, const void *data, size_t len)
{
	const unsigned char *p = data;
	unsigned long group;
	char quad[4];
	size_t i;

	for (i = 0; i < len; i += 3) {
		group = (unsigned long)p[i] << 16;
		if (i + 1 < len)
			group |= (unsigned long)p[i + 1] << 8;
		if (i + 2 < len)
			group |= p[i + 2];
		quad[0] = base64_alphabet[group >> 18 & 63];
		quad[1] = base64_alphabet[group >> 12 & 63];
		quad[2] = i + 1 < len ? base64_alphabet[group >> 6 & 63] : '=';
		quad[3] = i + 2 < len ? base64_alphabet[group & 63] : '=';
		if (!buf_cat(out, quad, 4))
			return 0;
	}
	if (!buf_reserve(out, 0)) /* an empty input still leaves a valid C string */
		return 0;
	out->data[out->len] = 0;
	return 1;
}

static int base64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* One group of four characters; only the last group may end in one or two
 * '=' pads.  Returns the byte count 1..3, or 0 when malformed. */
static int base64_decode_group(const char *q, int last, unsigned char bytes[3])
{
	int v[4], i, pads = 0;
	unsigned long group = 0;

	if (last && q[3] == '=')
		pads = q[2] == '=' ? 2 : 1;
	for (i = 0; i < 4; i++) {
		v[i] = i < 4 - pads ? base64_value((unsigned char)q[i]) : 0;
		if (v[i] < 0)
			return 0;
		group = group << 6 | (unsigned long)v[i];
	}
	/* Non-zero leftover bits mean a second encoding of the same bytes: refuse. */
	if ((pads == 1 && (group & 0xff)) || (pads == 2 && (group & 0xffff)))
		return 0;
	bytes[0] = (unsigned char)(group >> 16);
	bytes[1] = (unsigned char)(group >> 8);
	bytes[2] = (unsigned char)group;
	return 3 - pads;
}

int base64_decode(struct buf *out, const char *in, size_t len)
{
	unsigned char bytes[3];
	size_t i;
	int n;

	buf_truncate(out, 0);
	if (len % 4) {
		errno = EINVAL;
		return 0;
	}
	if (!buf_reserve(out, len / 4 * 3))
		return 0;
	out->data[0] = 0;
	for (i = 0; i < len; i += 4) {
		n = base64_decode_group(in + i, i + 4 == len, bytes);
		if (!n) {
			buf_truncate(out, 0);
			errno = EINVAL;
			return 0;
		}
		if (!buf_cat(out, bytes, (size_t)n))
			return 0;
	}
	return 1;
}
