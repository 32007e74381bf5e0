#define OPENSSL_SUPPRESS_DEPRECATED 1 /* low-level MD5/SHA-256: CRAM-MD5 states, no provider load */
#include "password.h"
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/md5.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static int hex_decode(const char *in, unsigned char *out, size_t n)
{
	size_t i;
	int hi, lo;

	for (i = 0; i < n; i++) {
		hi = OPENSSL_hexchar2int((unsigned char)in[2 * i]);
		lo = hi < 0 ? -1 : OPENSSL_hexchar2int((unsigned char)in[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return 0;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return in[2 * n] == 0 || in[2 * n] == '$';
}

int password_equal(const char *a, const char *b)
{
	size_t n = strlen(a);

	if (n != strlen(b))
		return 0;
	return CRYPTO_memcmp(a, b, n) == 0;
}

/* PBKDF2-HMAC-SHA256 (RFC 8018 §5.2, one 32-byte block) on the one-shot
 * SHA-256 functions: the EVP route loads OpenSSL's provider machinery, which
 * costs every receiver ~2 MiB of RSS and ~1.4 ms per process. */
static void hmac_sha256_keys(const char *key, size_t key_len, SHA256_CTX *inner, SHA256_CTX *outer)
{
	unsigned char block[SHA256_CBLOCK], ipad[SHA256_CBLOCK], opad[SHA256_CBLOCK];
	size_t i;

	memset(block, 0, sizeof block);
	if (key_len > SHA256_CBLOCK)
		SHA256((const unsigned char *)key, key_len, block);
	else
		memcpy(block, key, key_len);
	for (i = 0; i < SHA256_CBLOCK; i++) {
		ipad[i] = block[i] ^ 0x36;
		opad[i] = block[i] ^ 0x5c;
	}
	SHA256_Init(inner);
	SHA256_Update(inner, ipad, sizeof ipad);
	SHA256_Init(outer);
	SHA256_Update(outer, opad, sizeof opad);
	OPENSSL_cleanse(block, sizeof block);
}

static void hmac_sha256_finish(const SHA256_CTX *inner0, const SHA256_CTX *outer0, const unsigned char *data,
			       size_t len, unsigned char out[SHA256_DIGEST_LENGTH])
{
	SHA256_CTX c = *inner0;

	SHA256_Update(&c, data, len);
	SHA256_Final(out, &c);
	c = *outer0;
	SHA256_Update(&c, out, SHA256_DIGEST_LENGTH);
	SHA256_Final(out, &c);
}

static int pbkdf2(const char *password, const unsigned char *salt, unsigned long iterations,
		  unsigned char out[PASSWORD_HASH_BYTES])
{
	unsigned char first[PASSWORD_SALT_BYTES + 4], u[SHA256_DIGEST_LENGTH];
	SHA256_CTX inner, outer;
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
	OPENSSL_cleanse(&inner, sizeof inner);
	OPENSSL_cleanse(&outer, sizeof outer);
	return 1;
}

int password_hash(const char *password, char out[PASSWORD_HASH_MAX_BYTES])
{
	unsigned char salt[PASSWORD_SALT_BYTES], hash[PASSWORD_HASH_BYTES];
	char salt_hex[2 * PASSWORD_SALT_BYTES + 1], hash_hex[2 * PASSWORD_HASH_BYTES + 1];

	if (RAND_bytes(salt, sizeof salt) != 1 || !pbkdf2(password, salt, PASSWORD_ITERATIONS, hash))
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

/* RFC 2104 with a 64-byte block; a longer key is first replaced by its MD5. */
static void cram_pad_key(const char *password, unsigned char key[64])
{
	size_t n = strlen(password);

	memset(key, 0, 64);
	if (n > 64)
		MD5((const unsigned char *)password, n, key);
	else
		memcpy(key, password, n);
}

static void md5_state_after_block(const unsigned char key[64], unsigned char pad, unsigned char out[16])
{
	unsigned char block[64];
	MD5_CTX ctx;
	MD5_LONG words[4];
	int i;

	for (i = 0; i < 64; i++)
		block[i] = key[i] ^ pad;
	MD5_Init(&ctx);
	MD5_Update(&ctx, block, 64);
	words[0] = ctx.A; words[1] = ctx.B; words[2] = ctx.C; words[3] = ctx.D;
	for (i = 0; i < 4; i++) { /* little-endian, as Dovecot stores them */
		out[4 * i] = (unsigned char)(words[i] & 0xff);
		out[4 * i + 1] = (unsigned char)(words[i] >> 8 & 0xff);
		out[4 * i + 2] = (unsigned char)(words[i] >> 16 & 0xff);
		out[4 * i + 3] = (unsigned char)(words[i] >> 24 & 0xff);
	}
	OPENSSL_cleanse(block, sizeof block);
	OPENSSL_cleanse(&ctx, sizeof ctx);
}

void password_cram_precompute(const char *password, char out[PASSWORD_CRAM_HEX_BYTES + 1])
{
	unsigned char key[64], states[32];

	cram_pad_key(password, key);
	md5_state_after_block(key, 0x36, states);
	md5_state_after_block(key, 0x5c, states + 16);
	hex_encode(states, sizeof states, out);
	OPENSSL_cleanse(key, sizeof key);
}

static void md5_resume(MD5_CTX *ctx, const unsigned char state[16])
{
	MD5_LONG w[4];
	int i;

	for (i = 0; i < 4; i++)
		w[i] = (MD5_LONG)state[4 * i] | (MD5_LONG)state[4 * i + 1] << 8
		       | (MD5_LONG)state[4 * i + 2] << 16 | (MD5_LONG)state[4 * i + 3] << 24;
	MD5_Init(ctx);
	ctx->A = w[0]; ctx->B = w[1]; ctx->C = w[2]; ctx->D = w[3];
	ctx->Nl = 512; /* one 64-byte block already absorbed */
}

int password_cram_digest(const char *cram_hex, const char *challenge, size_t challenge_len, char out[33])
{
	unsigned char states[32], inner[16], digest[16];
	MD5_CTX ctx;

	if (strlen(cram_hex) != PASSWORD_CRAM_HEX_BYTES || !hex_decode(cram_hex, states, sizeof states))
		return 0;
	md5_resume(&ctx, states);
	MD5_Update(&ctx, challenge, challenge_len);
	MD5_Final(inner, &ctx);
	md5_resume(&ctx, states + 16);
	MD5_Update(&ctx, inner, sizeof inner);
	MD5_Final(digest, &ctx);
	hex_encode(digest, sizeof digest, out);
	return 1;
}
