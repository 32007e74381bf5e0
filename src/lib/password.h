/* password: salted password hashes and the CRAM-MD5 precomputed secret.
 * Hashes are PBKDF2-HMAC-SHA256 ("$pbkdf2-sha256$<iterations>$<salt>$<hash>",
 * hex).  CRAM-MD5 needs a server-side secret: we keep the two HMAC-MD5
 * partial states (after the ipad and opad blocks), as Dovecot's CRAM-MD5
 * scheme does.  They are not the password, but whoever reads them can answer
 * CRAM-MD5 challenges: bbsmail-user(8) explains the trade-off. */
#ifndef BBSMAIL_PASSWORD_H
#define BBSMAIL_PASSWORD_H
#include <stddef.h>

#define PASSWORD_HASH_MAX_BYTES 160
#define PASSWORD_CRAM_HEX_BYTES 64      /* 2 states x 16 bytes, hex */

/* 1 ok, 0 failed (no random bytes). */
int password_hash(const char *password, char out[PASSWORD_HASH_MAX_BYTES]);
/* 1 matches, 0 not (constant time in the hash comparison). */
int password_verify(const char *password, const char *stored_hash);
/* For an account that does not exist, is disabled or has no password:
 * does the work of password_verify against a hash nothing matches and
 * returns 0, so the reply comes as late as for a wrong password and its
 * timing does not tell which names exist. */
int password_verify_none(const char *password);
/* Precomputed CRAM-MD5 states for password. */
void password_cram_precompute(const char *password, char out[PASSWORD_CRAM_HEX_BYTES + 1]);
/* The 32 lowercase hex digits a client should send for challenge, from the
 * precomputed states.  1 ok, 0 malformed stored value. */
int password_cram_digest(const char *cram_hex, const char *challenge, size_t challenge_len,
			 char out[33]);
/* n bytes from the kernel's random generator (getrandom(2)).  1 ok, 0 errno. */
int password_random(void *out, size_t n);
/* Constant-time comparison of two equal-length strings; 0 if lengths differ. */
int password_equal(const char *a, const char *b);

#endif
