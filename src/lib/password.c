/* Our own MD5 and SHA-256 (md5.c, sha256.c) and the kernel's random bytes:
 * the receivers verify passwords, and linking a crypto library only for
 * that would put its start-up cost on every connection. */
#include "password.h"
#include "md5.h"
#include "sha256.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define PASSWORD_ITERATIONS 10000
#define PASSWORD_SALT_BYTES 16
#define PASSWORD_HASH_BYTES 32

static void hex_encode(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = 0;
}

static int hex_digit(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int hex_decode(const char *in, unsigned char *out, size_t n)
{
	size_t i;
	int hi, lo;

	for (i = 0; i < n; i++) {
		hi = hex_digit((unsigned char)in[2 * i]);
		lo = hi < 0 ? -1 : hex_digit((unsigned char)in[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return 0;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return in[2 * n] == 0 || in[2 * n] == '$';
}

/* Every byte is looked at, whatever differs first: the time does not tell
 * how much of a guess was right. */
int password_equal(const char *a, const char *b)
{
	size_t n = strlen(a), i;
	volatile unsigned char diff = 0;

	if (n != strlen(b))
		return 0;
	for (i = 0; i < n; i++)
		diff |= (unsigned char)(a[i] ^ b[i]);
	return diff == 0;
}

int password_random(void *out, size_t n)
{
	unsigned char *p = out;
	ssize_t r;

	while (n) {
		r = getrandom(p, n, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return 0;
		p += r;
		n -= (size_t)r;
	}
	return 1;
}

/* PBKDF2-HMAC-SHA256 (RFC 8018 §5.2, one 32-byte block).  The two HMAC
 * key blocks are hashed once and their states copied for every iteration. */
static void hmac_sha256_keys(const char *key, size_t key_len, struct sha256 *inner, struct sha256 *outer)
{
	unsigned char block[SHA256_BLOCK_BYTES], ipad[SHA256_BLOCK_BYTES], opad[SHA256_BLOCK_BYTES];
	size_t i;

	memset(block, 0, sizeof block);
	if (key_len > SHA256_BLOCK_BYTES)
		sha256_digest(key, key_len, block);
	else
		memcpy(block, key, key_len);
	for (i = 0; i < SHA256_BLOCK_BYTES; i++) {
		ipad[i] = block[i] ^ 0x36;
		opad[i] = block[i] ^ 0x5c;
	}
	sha256_init(inner);
	sha256_update(inner, ipad, sizeof ipad);
	sha256_init(outer);
	sha256_update(outer, opad, sizeof opad);
	explicit_bzero(block, sizeof block);
	explicit_bzero(ipad, sizeof ipad);
	explicit_bzero(opad, sizeof opad);
}

static void hmac_sha256_finish(const struct sha256 *inner0, const struct sha256 *outer0, const unsigned char *data,
			       size_t len, unsigned char out[SHA256_DIGEST_BYTES])
{
	struct sha256 c = *inner0;

	sha256_update(&c, data, len);
	sha256_final(&c, out);
	c = *outer0;
	sha256_update(&c, out, SHA256_DIGEST_BYTES);
	sha256_final(&c, out);
}

static int pbkdf2(const char *password, const unsigned char *salt, unsigned long iterations,
		  unsigned char out[PASSWORD_HASH_BYTES])
{
	unsigned char first[PASSWORD_SALT_BYTES + 4], u[SHA256_DIGEST_BYTES];
	struct sha256 inner, outer;
	unsigned long i;
	size_t k;

	if (iterations == 0)
		return 0;
	hmac_sha256_keys(password, strlen(password), &inner, &outer);
	memcpy(first, salt, PASSWORD_SALT_BYTES);
	memcpy(first + PASSWORD_SALT_BYTES, "\0\0\0\1", 4);
	hmac_sha256_finish(&inner, &outer, first, sizeof first, u);
	memcpy(out, u, PASSWORD_HASH_BYTES);
	for (i = 1; i < iterations; i++) {
		hmac_sha256_finish(&inner, &outer, u, sizeof u, u);
		for (k = 0; k < PASSWORD_HASH_BYTES; k++)
			out[k] ^= u[k];
	}
	explicit_bzero(&inner, sizeof inner);
	explicit_bzero(&outer, sizeof outer);
	explicit_bzero(u, sizeof u);
	return 1;
}

int password_hash(const char *password, char out[PASSWORD_HASH_MAX_BYTES])
{
	unsigned char salt[PASSWORD_SALT_BYTES], hash[PASSWORD_HASH_BYTES];
	char salt_hex[2 * PASSWORD_SALT_BYTES + 1], hash_hex[2 * PASSWORD_HASH_BYTES + 1];

	if (!password_random(salt, sizeof salt) || !pbkdf2(password, salt, PASSWORD_ITERATIONS, hash))
		return 0;
	hex_encode(salt, sizeof salt, salt_hex);
	hex_encode(hash, sizeof hash, hash_hex);
	snprintf(out, PASSWORD_HASH_MAX_BYTES, "$pbkdf2-sha256$%d$%s$%s", PASSWORD_ITERATIONS,
		 salt_hex, hash_hex);
	return 1;
}

int password_verify(const char *password, const char *stored)
{
	unsigned char salt[PASSWORD_SALT_BYTES], hash[PASSWORD_HASH_BYTES];
	char hash_hex[2 * PASSWORD_HASH_BYTES + 1];
	const char *p;
	unsigned long iterations;
	char *end;

	if (strncmp(stored, "$pbkdf2-sha256$", 15) != 0)
		return 0;
	iterations = strtoul(stored + 15, &end, 10);
	if (*end != '$' || iterations < 1000 || iterations > 10000000)
		return 0;
	p = end + 1;
	if (strlen(p) != 2 * PASSWORD_SALT_BYTES + 1 + 2 * PASSWORD_HASH_BYTES
	    || !hex_decode(p, salt, sizeof salt) || p[2 * PASSWORD_SALT_BYTES] != '$')
		return 0;
	if (!pbkdf2(password, salt, iterations, hash))
		return 0;
	hex_encode(hash, sizeof hash, hash_hex);
	return password_equal(hash_hex, p + 2 * PASSWORD_SALT_BYTES + 1);
}

int password_verify_none(const char *password)
{
	char dummy[PASSWORD_HASH_MAX_BYTES];
	char zeros[2 * PASSWORD_HASH_BYTES + 1];

	memset(zeros, '0', sizeof zeros - 1);
	zeros[sizeof zeros - 1] = 0;
	snprintf(dummy, sizeof dummy, "$pbkdf2-sha256$%d$%.*s$%s", PASSWORD_ITERATIONS, 2 * PASSWORD_SALT_BYTES, zeros,
		 zeros);
	(void)password_verify(password, dummy);
	return 0;
}

/* RFC 2104 with a 64-byte block; a longer key is first replaced by its MD5. */
static void cram_pad_key(const char *password, unsigned char key[MD5_BLOCK_BYTES])
{
	size_t n = strlen(password);

	memset(key, 0, MD5_BLOCK_BYTES);
	if (n > MD5_BLOCK_BYTES)
		md5_digest(password, n, key);
	else
		memcpy(key, password, n);
}

/* The MD5 state words after one key block, little-endian, as Dovecot
 * stores them. */
static void md5_state_after_block(const unsigned char key[MD5_BLOCK_BYTES], unsigned char pad,
				  unsigned char out[16])
{
	unsigned char block[MD5_BLOCK_BYTES];
	struct md5 m;
	int i;

	for (i = 0; i < MD5_BLOCK_BYTES; i++)
		block[i] = key[i] ^ pad;
	md5_init(&m);
	md5_update(&m, block, sizeof block);
	for (i = 0; i < 16; i++)
		out[i] = (unsigned char)(m.state[i / 4] >> (8 * (i % 4)));
	explicit_bzero(block, sizeof block);
	explicit_bzero(&m, sizeof m);
}

void password_cram_precompute(const char *password, char out[PASSWORD_CRAM_HEX_BYTES + 1])
{
	unsigned char key[MD5_BLOCK_BYTES], states[32];

	cram_pad_key(password, key);
	md5_state_after_block(key, 0x36, states);
	md5_state_after_block(key, 0x5c, states + 16);
	hex_encode(states, sizeof states, out);
	explicit_bzero(key, sizeof key);
	explicit_bzero(states, sizeof states);
}

static void cram_resume(struct md5 *m, const unsigned char state[16])
{
	uint32_t w[4];
	int i;

	for (i = 0; i < 4; i++)
		w[i] = (uint32_t)state[4 * i] | (uint32_t)state[4 * i + 1] << 8 | (uint32_t)state[4 * i + 2] << 16
		       | (uint32_t)state[4 * i + 3] << 24;
	md5_resume(m, w, MD5_BLOCK_BYTES); /* one 64-byte block already absorbed */
}

int password_cram_digest(const char *cram_hex, const char *challenge, size_t challenge_len, char out[33])
{
	unsigned char states[32], inner[MD5_DIGEST_BYTES], digest[MD5_DIGEST_BYTES];
	struct md5 m;

	if (strlen(cram_hex) != PASSWORD_CRAM_HEX_BYTES || !hex_decode(cram_hex, states, sizeof states))
		return 0;
	cram_resume(&m, states);
	md5_update(&m, challenge, challenge_len);
	md5_final(&m, inner);
	cram_resume(&m, states + 16);
	md5_update(&m, inner, sizeof inner);
	md5_final(&m, digest);
	hex_encode(digest, sizeof digest, out);
	explicit_bzero(states, sizeof states);
	return 1;
}
