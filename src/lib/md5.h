/* md5: the MD5 message digest (RFC 1321) and HMAC-MD5 (RFC 2104), our own
 * code, so the receivers need no crypto library for CRAM-MD5 (RFC 2195) and
 * APOP (RFC 1939).  MD5 is broken for collisions; both uses are keyed
 * challenge-response, where that does not matter.  The running state is
 * public because CRAM-MD5 secrets are stored as the two HMAC states after
 * the key block (password.h). */
#ifndef BBSMAIL_MD5_H
#define BBSMAIL_MD5_H
#include <stddef.h>
#include <stdint.h>

#define MD5_DIGEST_BYTES 16
#define MD5_BLOCK_BYTES 64

struct md5 {
	uint32_t state[4];              /* A, B, C, D */
	uint64_t bytes;                 /* message length so far */
	unsigned char block[MD5_BLOCK_BYTES];
	size_t used;                    /* bytes waiting in block */
};

void md5_init(struct md5 *m);
void md5_update(struct md5 *m, const void *data, size_t len);
/* Writes the digest and wipes m. */
void md5_final(struct md5 *m, unsigned char out[MD5_DIGEST_BYTES]);
void md5_digest(const void *data, size_t len, unsigned char out[MD5_DIGEST_BYTES]);
/* Restarts m from a state saved after whole blocks (bytes a multiple of 64). */
void md5_resume(struct md5 *m, const uint32_t state[4], uint64_t bytes);
void hmac_md5(const void *key, size_t key_len, const void *data, size_t len,
	      unsigned char out[MD5_DIGEST_BYTES]);

#endif
