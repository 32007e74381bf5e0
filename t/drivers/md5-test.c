/* md5-test: src/lib/md5.c and sha256.c against the published test vectors
 * (RFC 1321 appendix A.5, RFC 2104 appendix and RFC 2202 §2 for HMAC-MD5,
 * FIPS 180-2 appendix B for SHA-256), then against OpenSSL's digests for
 * every length 0..300 fed in uneven pieces (the block-boundary cases).
 * Run by t/md5-lib.bats; "md5-test wrong" must fail one check. */
#include "check.h"
#include "md5.h"
#include "sha256.h"
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

static void hex(const unsigned char *d, size_t n, char *out)
{
	size_t i;

	for (i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

static int md5_is(const char *msg, const char *expected)
{
	unsigned char d[MD5_DIGEST_BYTES];
	char h[2 * MD5_DIGEST_BYTES + 1];

	md5_digest(msg, strlen(msg), d);
	hex(d, sizeof d, h);
	return strcmp(h, expected) == 0;
}

static int hmac_is(const void *key, size_t key_len, const void *msg, size_t len, const char *expected)
{
	unsigned char d[MD5_DIGEST_BYTES];
	char h[2 * MD5_DIGEST_BYTES + 1];

	hmac_md5(key, key_len, msg, len, d);
	hex(d, sizeof d, h);
	return strcmp(h, expected) == 0;
}

static int sha256_is(const void *msg, size_t len, const char *expected)
{
	unsigned char d[SHA256_DIGEST_BYTES];
	char h[2 * SHA256_DIGEST_BYTES + 1];

	sha256_digest(msg, len, d);
	hex(d, sizeof d, h);
	return strcmp(h, expected) == 0;
}

/* "md5-test wrong" changes the last digit of the "abc" vector, so the bats
 * file can see that a wrong digest makes exactly one check fail. */
static const char *md5_abc = "900150983cd24fb0d6963f7d28e17f72";

static void rfc1321(void)
{
	CHECK(md5_is("", "d41d8cd98f00b204e9800998ecf8427e"));
	CHECK(md5_is("a", "0cc175b9c0f1b6a831c399e269772661"));
	CHECK(md5_is("abc", md5_abc));
	CHECK(md5_is("message digest", "f96b697d7cb7938d525a2f31aaf161d0"));
	CHECK(md5_is("abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"));
	CHECK(md5_is("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
		     "d174ab98d277d9f5a5611c2c9f419d9f"));
	CHECK(md5_is("1234567890123456789012345678901234567890123456789012345678901234567890"
		     "1234567890", "57edf4a22be3c955ac49da2e2107b67a"));
}

static void rfc2104_2202(void)
{
	unsigned char k16[16], k80[80], d50[50];

	memset(k16, 0x0b, sizeof k16);
	CHECK(hmac_is(k16, 16, "Hi There", 8, "9294727a3638bb1c13f48ef8158bfc9d"));
	CHECK(hmac_is("Jefe", 4, "what do ya want for nothing?", 28, "750c783e6ab0b503eaa86e310a5db738"));
	memset(k16, 0xaa, sizeof k16);
	memset(d50, 0xdd, sizeof d50);
	CHECK(hmac_is(k16, 16, d50, 50, "56be34521d144c88dbb8c733f0e8b3f6"));
	/* RFC 2202 test 6: a key longer than the block is hashed first. */
	memset(k80, 0xaa, sizeof k80);
	CHECK(hmac_is(k80, 80, "Test Using Larger Than Block-Size Key - Hash Key First", 54,
		      "6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd"));
	/* RFC 2195's CRAM-MD5 example: key "tanstaaftanstaaf". */
	CHECK(hmac_is("tanstaaftanstaaf", 16, "<1896.697170952@postoffice.reston.mci.net>", 42,
		      "b913a602c7eda7a495b4e6e7334d3890"));
}

static void fips180(void)
{
	char *million = malloc(1000000);

	CHECK(sha256_is("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
	CHECK(sha256_is("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
	CHECK(sha256_is("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56,
			"248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"));
	CHECK(million != NULL);
	if (million) {
		memset(million, 'a', 1000000);
		CHECK(sha256_is(million, 1000000, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"));
	}
	free(million);
}

/* Fed in pieces of 1, 2, 3, ... bytes, so every split of a block is met. */
static void against_openssl(const EVP_MD *md, int is_md5)
{
	unsigned char msg[300], ours[SHA256_DIGEST_BYTES], theirs[EVP_MAX_MD_SIZE];
	unsigned theirs_len;
	size_t len, off, piece;
	struct md5 m;
	struct sha256 h;

	for (len = 0; len < sizeof msg; len++)
		msg[len] = (unsigned char)(len * 7 + 3);
	for (len = 0; len <= sizeof msg; len++) {
		if (is_md5)
			md5_init(&m);
		else
			sha256_init(&h);
		for (off = 0, piece = 1; off < len; off += piece, piece = piece % 67 + 1) {
			size_t n = len - off < piece ? len - off : piece;
			if (is_md5)
				md5_update(&m, msg + off, n);
			else
				sha256_update(&h, msg + off, n);
		}
		if (is_md5)
			md5_final(&m, ours);
		else
			sha256_final(&h, ours);
		CHECK(EVP_Digest(msg, len, theirs, &theirs_len, md, NULL) == 1);
		CHECK(memcmp(ours, theirs, theirs_len) == 0);
	}
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "wrong") == 0)
		md5_abc = "900150983cd24fb0d6963f7d28e17f73";
	rfc1321();
	rfc2104_2202();
	fips180();
	against_openssl(EVP_md5(), 1);
	against_openssl(EVP_sha256(), 0);
	return CHECK_DONE();
}
