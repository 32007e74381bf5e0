/* password-test: PBKDF2 hashes verify only the right password; the CRAM-MD5
 * states give RFC 2195's example digest and agree with a plain HMAC-MD5. */
#include "check.h"
#include "password.h"
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>

static void test_hash(void)
{
	char h1[PASSWORD_HASH_MAX_BYTES], h2[PASSWORD_HASH_MAX_BYTES], bad[PASSWORD_HASH_MAX_BYTES];

	CHECK(password_hash("demo", h1));
	CHECK(password_hash("demo", h2));
	CHECK(strncmp(h1, "$pbkdf2-sha256$", 15) == 0);
	CHECK(strcmp(h1, h2) != 0); /* a fresh salt each time */
	CHECK(password_verify("demo", h1) == 1);
	CHECK(password_verify("demo", h2) == 1);
	CHECK(password_verify("Demo", h1) == 0);
	CHECK(password_verify("", h1) == 0);
	CHECK(password_verify("demo ", h1) == 0);
	CHECK(password_verify("demo", "") == 0);
	CHECK(password_verify("demo", "$pbkdf2-sha256$10000$zz$zz") == 0);
	strcpy(bad, h1);
	bad[strlen(bad) - 1] = bad[strlen(bad) - 1] == '0' ? '1' : '0';
	CHECK(password_verify("demo", bad) == 0);
	strcpy(bad, h1);
	strcat(bad, "00");
	CHECK(password_verify("demo", bad) == 0);
	CHECK(password_equal("abc", "abc") == 1);
	CHECK(password_equal("abc", "abd") == 0);
	CHECK(password_equal("abc", "abcd") == 0);
}

static void hmac_md5_hex(const char *key, const char *msg, char out[33])
{
	unsigned char mac[16];
	unsigned int len = sizeof mac, i;

	HMAC(EVP_md5(), key, (int)strlen(key), (const unsigned char *)msg, strlen(msg), mac, &len);
	for (i = 0; i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", mac[i]);
}

static void test_cram(void)
{
	/* RFC 2195 section 2: the example challenge ends in ".net". */
	static const char challenge[] = "<1896.697170952@postoffice.reston.mci.net>";
	static const char *keys[] = { "demo", "", "x", "0123456789012345678901234567890123456789012345678901234567890123",
				      "a key that is longer than the sixty-four byte HMAC-MD5 block size, so it is hashed" };
	char states[PASSWORD_CRAM_HEX_BYTES + 1], digest[33], expected[33];
	size_t i;

	password_cram_precompute("tanstaaftanstaaf", states);
	CHECK(strlen(states) == PASSWORD_CRAM_HEX_BYTES);
	CHECK(password_cram_digest(states, challenge, strlen(challenge), digest) == 1);
	CHECK(strcmp(digest, "b913a602c7eda7a495b4e6e7334d3890") == 0); /* RFC 2195 */
	for (i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		password_cram_precompute(keys[i], states);
		CHECK(password_cram_digest(states, challenge, strlen(challenge), digest) == 1);
		hmac_md5_hex(keys[i], challenge, expected);
		if (strcmp(digest, expected) != 0)
			printf("key %zu: digest %s, HMAC-MD5 %s\n", i, digest, expected);
		CHECK(strcmp(digest, expected) == 0);
	}
	CHECK(password_cram_digest("", challenge, strlen(challenge), digest) == 0);
	CHECK(password_cram_digest("zz", challenge, strlen(challenge), digest) == 0);
	states[0] = 'g';
	CHECK(password_cram_digest(states, challenge, strlen(challenge), digest) == 0);
}

int main(void)
{
	test_hash();
	test_cram();
	return CHECK_DONE();
}
