/* sha256: the SHA-256 digest (FIPS 180-4), our own code, so that password
 * hashing (PBKDF2-HMAC-SHA256 in password.c) needs no crypto library in the
 * receivers. */
#ifndef BBSMAIL_SHA256_H
#define BBSMAIL_SHA256_H
#include <stddef.h>
#include <stdint.h>

#define SHA256_DIGEST_BYTES 32
#define SHA256_BLOCK_BYTES 64

struct sha256 {
	uint32_t state[8];
	uint64_t bytes;                 /* message length so far */
	unsigned char block[SHA256_BLOCK_BYTES];
	size_t used;                    /* bytes waiting in block */
};

void sha256_init(struct sha256 *h);
void sha256_update(struct sha256 *h, const void *data, size_t len);
/* Writes the digest and wipes h. */
void sha256_final(struct sha256 *h, unsigned char out[SHA256_DIGEST_BYTES]);
void sha256_digest(const void *data, size_t len, unsigned char out[SHA256_DIGEST_BYTES]);

#endif
