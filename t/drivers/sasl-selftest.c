/* sasl-selftest: drives src/lib/sasl.c and base64.c for t/sasl-lib.bats.
 *   sasl-selftest run [-p] MECH [INITIAL]   server side; client lines on stdin
 *        prints "C <challenge>" per round, then "DONE user=<name> number=<n>",
 *        "FAIL <kind> <smtp reply> detail=<why> authcid=<name>" or "TEMPFAIL ..."
 *        -p: plaintext mechanisms allowed (as under TLS)
 *   sasl-selftest cram USER PASSWORD [bad]  a CRAM-MD5 client (HMAC from OpenSSL,
 *        independent of password.c) against the server side; prints the
 *        challenge then the result line
 *   sasl-selftest vector                    the RFC 2195 example digest
 *   sasl-selftest b64 encode|decode STRING  prints the result (decode: "len=<n> <hex>")
 *   sasl-selftest mechs 0|1                 sasl_mechanism_list */
#include "base64.h"
#include "config.h"
#include "log.h"
#include "password.h"
#include "sasl.h"
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int print_result(struct sasl *s, enum sasl_result r)
{
	if (r == SASL_DONE) {
		printf("DONE user=%s number=%lu\n", s->user.name, s->user.number);
		return 0;
	}
	printf("%s %s %s detail=%s authcid=%s\n", r == SASL_TEMPFAIL ? "TEMPFAIL" : "FAIL",
	       sasl_fail_name(s->fail), sasl_smtp_reply(s->fail), s->detail ? s->detail : "",
	       s->authcid);
	if (getenv("SASL_POP3"))
		printf("%s\n", sasl_pop3_reply(s->fail));
	return 1;
}

static int cmd_run(int plaintext, const char *mech, const char *initial)
{
	struct sasl s;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	enum sasl_result r;
	int rc;

	sasl_init(&s, "selftest.example", plaintext);
	sasl_set_login_prompts(&s, getenv("SASL_USER_PROMPT"), getenv("SASL_PASS_PROMPT"));
	r = sasl_start(&s, mech, initial);
	while (r == SASL_CONTINUE) {
		printf("C %s\n", s.challenge.data);
		fflush(stdout);
		n = getline(&line, &cap, stdin);
		if (n < 0) {
			puts("EOF");
			break;
		}
		r = sasl_step(&s, line, (size_t)n);
	}
	rc = r == SASL_CONTINUE ? 1 : print_result(&s, r);
	free(line);
	sasl_free(&s);
	return rc;
}

/* The client's side of CRAM-MD5, computed with OpenSSL's HMAC directly. */
static int cmd_cram(const char *user, const char *password, int corrupt)
{
	struct buf challenge = BUF_INIT, response = BUF_INIT, encoded = BUF_INIT;
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0, i;
	struct sasl s;
	enum sasl_result r;
	int rc;

	sasl_init(&s, "selftest.example", 0);
	r = sasl_start(&s, "CRAM-MD5", NULL);
	if (r != SASL_CONTINUE || !base64_decode(&challenge, s.challenge.data, s.challenge.len)) {
		rc = print_result(&s, r);
		sasl_free(&s);
		buf_free(&challenge);
		return rc;
	}
	printf("challenge %s\n", challenge.data);
	HMAC(EVP_md5(), password, (int)strlen(password), (unsigned char *)challenge.data, challenge.len,
	     mac, &mac_len);
	if (corrupt)
		mac[0] ^= 1;
	xbuf_cats(&response, user);
	xbuf_catc(&response, ' ');
	for (i = 0; i < mac_len; i++)
		xbuf_catf(&response, "%02x", mac[i]);
	if (!base64_encode(&encoded, response.data, response.len))
		die_nomem();
	rc = print_result(&s, sasl_step(&s, encoded.data, encoded.len));
	sasl_free(&s);
	buf_free(&challenge);
	buf_free(&response);
	buf_free(&encoded);
	return rc;
}

/* RFC 2195 section 2: secret tanstaaftanstaaf, digest b913a602c7eda7a495b4e6e7334d3890. */
static int cmd_vector(void)
{
	static const char challenge[] = "<1896.697170952@postoffice.reston.mci.net>";
	char states[PASSWORD_CRAM_HEX_BYTES + 1], digest[33];

	password_cram_precompute("tanstaaftanstaaf", states);
	if (!password_cram_digest(states, challenge, strlen(challenge), digest))
		return 1;
	puts(digest);
	return 0;
}

static int cmd_b64(const char *op, const char *arg)
{
	struct buf out = BUF_INIT;
	size_t i;

	if (!strcmp(op, "encode")) {
		if (!base64_encode(&out, arg, strlen(arg)))
			die_nomem();
		printf("%s\n", out.data);
	} else if (!base64_decode(&out, arg, strlen(arg))) {
		puts("invalid");
		buf_free(&out);
		return 1;
	} else {
		printf("len=%zu ", out.len);
		for (i = 0; i < out.len; i++)
			printf("%02x", (unsigned char)out.data[i]);
		putchar('\n');
	}
	buf_free(&out);
	return 0;
}

int main(int argc, char **argv)
{
	const char *usage = "sasl-selftest run [-p] MECH [INITIAL] | cram USER PASSWORD [bad] | vector"
			    " | b64 encode|decode STRING | mechs 0|1";
	int p;

	log_set_program("sasl-selftest");
	if (argc >= 3 && !strcmp(argv[1], "run")) {
		p = !strcmp(argv[2], "-p");
		if (argc < 3 + p)
			die_usage(usage);
		return cmd_run(p, argv[2 + p], argc > 3 + p ? argv[3 + p] : NULL);
	}
	if (argc >= 4 && !strcmp(argv[1], "cram"))
		return cmd_cram(argv[2], argv[3], argc > 4);
	if (argc == 2 && !strcmp(argv[1], "vector"))
		return cmd_vector();
	if (argc == 4 && !strcmp(argv[1], "b64"))
		return cmd_b64(argv[2], argv[3]);
	if (argc == 3 && !strcmp(argv[1], "mechs"))
		return puts(sasl_mechanism_list(atoi(argv[2]))) < 0;
	die_usage(usage);
}
