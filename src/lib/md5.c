#include "md5.h"
#include <string.h>

/* RFC 1321 §3.4: the per-step shift amounts, and T[i] = floor(2^32 * |sin(i + 1)|). */
static const unsigned char md5_shift[64] = {
	7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
	5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20,
	4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
	6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
};

static const uint32_t md5_sine[64] = {
	0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
	0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
	0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
	0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
	0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
	0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
	0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
	0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
};

static uint32_t md5_rotate(uint32_t x, unsigned n) { return x << n | x >> (32 - n); }

/* One 64-byte block: four rounds of sixteen steps (RFC 1321 §3.4). */
static void md5_block(uint32_t state[4], const unsigned char *p)
{
	uint32_t x[16], a = state[0], b = state[1], c = state[2], d = state[3], f, t;
	unsigned i, g;

	for (i = 0; i < 16; i++)
		x[i] = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 | (uint32_t)p[4 * i + 2] << 16
		       | (uint32_t)p[4 * i + 3] << 24;
	for (i = 0; i < 64; i++) {
		if (i < 16) {
			f = (b & c) | (~b & d);
			g = i;
		} else if (i < 32) {
			f = (b & d) | (c & ~d);
			g = (5 * i + 1) & 15;
		} else if (i < 48) {
			f = b ^ c ^ d;
			g = (3 * i + 5) & 15;
		} else {
			f = c ^ (b | ~d);
			g = (7 * i) & 15;
		}
		t = d;
		d = c;
		c = b;
		b = b + md5_rotate(a + f + md5_sine[i] + x[g], md5_shift[i]);
		a = t;
	}
	state[0] += a;
	state[1] += b;
	state[2] += c;
	state[3] += d;
}

void md5_init(struct md5 *m)
{
	static const uint32_t initial[4] = { 0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476 };

	md5_resume(m, initial, 0);
}

void md5_resume(struct md5 *m, const uint32_t state[4], uint64_t bytes)
{
	memcpy(m->state, state, sizeof m->state);
	m->bytes = bytes;
	m->used = 0;
}

void md5_update(struct md5 *m, const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t n;

	if (!len)
		return; /* data may be NULL */
	m->bytes += len;
	if (m->used) {
		n = MD5_BLOCK_BYTES - m->used < len ? MD5_BLOCK_BYTES - m->used : len;
		memcpy(m->block + m->used, p, n);
		m->used += n;
		p += n;
		len -= n;
		if (m->used < MD5_BLOCK_BYTES)
			return;
		md5_block(m->state, m->block);
		m->used = 0;
	}
	for (; len >= MD5_BLOCK_BYTES; p += MD5_BLOCK_BYTES, len -= MD5_BLOCK_BYTES)
		md5_block(m->state, p);
	memcpy(m->block, p, len);
	m->used = len;
}

/* Padding: 0x80, zeros to 56 mod 64, then the bit length, little-endian. */
void md5_final(struct md5 *m, unsigned char out[MD5_DIGEST_BYTES])
{
	static const unsigned char pad[MD5_BLOCK_BYTES] = { 0x80 };
	unsigned char length[8];
	uint64_t bits = m->bytes * 8;
	unsigned i;

	for (i = 0; i < 8; i++)
		length[i] = (unsigned char)(bits >> (8 * i));
	md5_update(m, pad, m->used < 56 ? 56 - m->used : 120 - m->used);
	md5_update(m, length, sizeof length);
	for (i = 0; i < 16; i++)
		out[i] = (unsigned char)(m->state[i / 4] >> (8 * (i % 4)));
	explicit_bzero(m, sizeof *m);
}

void md5_digest(const void *data, size_t len, unsigned char out[MD5_DIGEST_BYTES])
{
	struct md5 m;

	md5_init(&m);
	md5_update(&m, data, len);
	md5_final(&m, out);
}

/* RFC 2104: H(K ^ opad, H(K ^ ipad, text)), a key longer than a block
 * first replaced by its digest. */
void hmac_md5(const void *key, size_t key_len, const void *data, size_t len,
	      unsigned char out[MD5_DIGEST_BYTES])
{
	unsigned char k[MD5_BLOCK_BYTES], pad[MD5_BLOCK_BYTES], inner[MD5_DIGEST_BYTES];
	struct md5 m;
	unsigned i;

	memset(k, 0, sizeof k);
	if (key_len > MD5_BLOCK_BYTES)
		md5_digest(key, key_len, k);
	else if (key_len)
		memcpy(k, key, key_len);
	for (i = 0; i < MD5_BLOCK_BYTES; i++)
		pad[i] = k[i] ^ 0x36;
	md5_init(&m);
	md5_update(&m, pad, sizeof pad);
	md5_update(&m, data, len);
	md5_final(&m, inner);
	for (i = 0; i < MD5_BLOCK_BYTES; i++)
		pad[i] = k[i] ^ 0x5c;
	md5_init(&m);
	md5_update(&m, pad, sizeof pad);
	md5_update(&m, inner, sizeof inner);
	md5_final(&m, out);
	explicit_bzero(k, sizeof k);
	explicit_bzero(pad, sizeof pad);
	explicit_bzero(inner, sizeof inner);
}
