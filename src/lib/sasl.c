#include "sasl.h"
#include "base64.h"
#include "password.h"
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define SASL_CRAM_RANDOM_BYTES 8
#define SASL_STEP_FINISHED (-1)

struct sasl_mechanism {
	const char *name;
	int plaintext;  /* the password crosses the wire: needs TLS (or permission) */
	enum sasl_result (*start)(struct sasl *s, const struct buf *initial, int has_initial);
	enum sasl_result (*step)(struct sasl *s, struct buf *response);
};

/* ---- results ---- */

static enum sasl_result sasl_fail(struct sasl *s, enum sasl_fail_kind kind, const char *detail)
{
	s->fail = kind;
	s->detail = detail;
	s->step = SASL_STEP_FINISHED;
	if (kind != SASL_FAIL_NONE)
		explicit_bzero(&s->user, sizeof s->user);
	return kind == SASL_FAIL_TEMPORARY ? SASL_TEMPFAIL : SASL_FAIL;
}

static enum sasl_result sasl_challenge(struct sasl *s, const void *plain, size_t len)
{
	buf_truncate(&s->challenge, 0);
	if (!base64_encode(&s->challenge, plain, len))
		return sasl_fail(s, SASL_FAIL_TEMPORARY, "out of memory");
	s->step++;
	return SASL_CONTINUE;
}

/* ---- users ---- */

/* 1 found, 0 no such user, -1 database error. */
static int sasl_lookup(struct sasl *s, const char *name)
{
	struct userdb db;
	int r;

	snprintf(s->authcid, sizeof s->authcid, "%s", name);
	if (!user_name_valid(name))
		return 0;
	if (!userdb_open(&db, 0))
		return errno == ENOENT ? 0 : -1;  /* no database yet: nobody can log in */
	r = userdb_get_by_name(&db, name, &s->user);
	userdb_close(&db);
	return r;
}

/* The checks every mechanism shares after the secret matched. */
static enum sasl_result sasl_accept(struct sasl *s)
{
	if (s->user.flags & USER_FLAG_DISABLED)
		return sasl_fail(s, SASL_FAIL_CREDENTIALS, "disabled");
	s->fail = SASL_FAIL_NONE;
	s->detail = "ok";
	s->step = SASL_STEP_FINISHED;
	return SASL_DONE;
}

static enum sasl_result sasl_verify_password(struct sasl *s, const char *name, const char *password)
{
	int r = sasl_lookup(s, name);

	if (r < 0)
		return sasl_fail(s, SASL_FAIL_TEMPORARY, "user database unavailable");
	/* The same PBKDF2 time whether or not the name exists (password.h). */
	if (r == 0 || !s->user.password[0]) {
		(void)password_verify_none(password);
		return sasl_fail(s, SASL_FAIL_CREDENTIALS, r == 0 ? "no such user" : "no password set");
	}
	if (!password_verify(password, s->user.password))
		return sasl_fail(s, SASL_FAIL_CREDENTIALS, "bad password");
	return sasl_accept(s);
}

/* A decoded field must fit and hold no NUL or line break. */
static int sasl_field_ok(const char *p, size_t len, int may_be_empty)
{
	size_t i;

	if (len > SASL_FIELD_MAX_BYTES || (!len && !may_be_empty))
		return 0;
	for (i = 0; i < len; i++)
		if (!p[i] || p[i] == '\r' || p[i] == '\n')
			return 0;
	return 1;
}

/* ---- PLAIN (RFC 4616): [authzid] NUL authcid NUL passwd ---- */

static enum sasl_result plain_check(struct sasl *s, const struct buf *msg)
{
	const char *authzid = msg->data, *authcid, *password, *end = msg->data + msg->len;
	char *nul1, *nul2;

	nul1 = memchr(authzid, 0, msg->len);
	nul2 = nul1 ? memchr(nul1 + 1, 0, (size_t)(end - nul1 - 1)) : NULL;
	if (!nul2)
		return sasl_fail(s, SASL_FAIL_SYNTAX, "PLAIN response needs two NULs");
	authcid = nul1 + 1;
	password = nul2 + 1;
	if (!sasl_field_ok(authzid, (size_t)(nul1 - authzid), 1)
	    || !sasl_field_ok(authcid, (size_t)(nul2 - authcid), 0)
	    || !sasl_field_ok(password, (size_t)(end - password), 0))
		return sasl_fail(s, SASL_FAIL_SYNTAX, "PLAIN field empty, too long or with NUL/CR/LF");
	if (*authzid && strcasecmp(authzid, authcid) != 0) {
		snprintf(s->authcid, sizeof s->authcid, "%s", authcid);
		return sasl_fail(s, SASL_FAIL_CREDENTIALS, "authzid differs from authcid");
	}
	return sasl_verify_password(s, authcid, password);
}

static enum sasl_result plain_start(struct sasl *s, const struct buf *initial, int has_initial)
{
	if (has_initial)
		return plain_check(s, initial);
	return sasl_challenge(s, "", 0);
}

static enum sasl_result plain_step(struct sasl *s, struct buf *response)
{
	return plain_check(s, response);
}

/* ---- LOGIN: "Username:" then "Password:", each answered in base64 ---- */

static enum sasl_result login_got_name(struct sasl *s, const struct buf *name)
{
	if (!sasl_field_ok(name->data, name->len, 0))
		return sasl_fail(s, SASL_FAIL_SYNTAX, "LOGIN user name empty, too long or with NUL/CR/LF");
	if (!buf_copy(&s->login_name, name->data, name->len))
		return sasl_fail(s, SASL_FAIL_TEMPORARY, "out of memory");
	s->step = 1;
	return sasl_challenge(s, s->password_prompt, strlen(s->password_prompt));
}

static enum sasl_result login_start(struct sasl *s, const struct buf *initial, int has_initial)
{
	/* Some clients send the user name as an initial response. */
	if (has_initial)
		return login_got_name(s, initial);
	return sasl_challenge(s, s->username_prompt, strlen(s->username_prompt));
}

static enum sasl_result login_step(struct sasl *s, struct buf *response)
{
	if (s->step == 1)
		return login_got_name(s, response);
	if (!sasl_field_ok(response->data, response->len, 0))
		return sasl_fail(s, SASL_FAIL_SYNTAX, "LOGIN password empty, too long or with NUL/CR/LF");
	return sasl_verify_password(s, s->login_name.data, response->data);
}

/* ---- CRAM-MD5 (RFC 2195) ---- */

static enum sasl_result cram_start(struct sasl *s, const struct buf *initial, int has_initial)
{
	unsigned char random[SASL_CRAM_RANDOM_BYTES];
	size_t i;

	(void)initial;
	if (has_initial)
		return sasl_fail(s, SASL_FAIL_SYNTAX, "CRAM-MD5 takes no initial response");
	if (!password_random(random, sizeof random))
		return sasl_fail(s, SASL_FAIL_TEMPORARY, "no random bytes");
	buf_truncate(&s->cram_challenge, 0);
	if (!buf_catc(&s->cram_challenge, '<'))
		return sasl_fail(s, SASL_FAIL_TEMPORARY, "out of memory");
	for (i = 0; i < sizeof random; i++)
		if (!buf_catf(&s->cram_challenge, "%02x", random[i]))
			return sasl_fail(s, SASL_FAIL_TEMPORARY, "out of memory");
	if (!buf_catf(&s->cram_challenge, ".%lld@%s>", (long long)time(NULL),
		      s->host_name && *s->host_name ? s->host_name : "localhost"))
		return sasl_fail(s, SASL_FAIL_TEMPORARY, "out of memory");
	return sasl_challenge(s, s->cram_challenge.data, s->cram_challenge.len);
}

/* "<user> <32 hex digits>"; the name may itself hold spaces. */
static int cram_split(struct buf *response, char **name, char digest[33])
{
	char *space = memrchr(response->data, ' ', response->len);
	size_t i;

	if (!space || response->data + response->len - (space + 1) != 32)
		return 0;
	for (i = 0; i < 32; i++) {
		if (!isxdigit((unsigned char)space[1 + i]))
			return 0;
		digest[i] = (char)tolower((unsigned char)space[1 + i]);
	}
	digest[32] = 0;
	*space = 0;
	*name = response->data;
	return sasl_field_ok(*name, (size_t)(space - response->data), 0);
}

static enum sasl_result cram_step(struct sasl *s, struct buf *response)
{
	char digest[33], expected[33], *name;
	int r;

	if (!cram_split(response, &name, digest))
		return sasl_fail(s, SASL_FAIL_SYNTAX, "CRAM-MD5 response is not \"user digest\"");
	r = sasl_lookup(s, name);
	if (r < 0)
		return sasl_fail(s, SASL_FAIL_TEMPORARY, "user database unavailable");
	if (r == 0)
		return sasl_fail(s, SASL_FAIL_CREDENTIALS, "no such user");
	if (!s->user.cram_md5[0])
		return sasl_fail(s, SASL_FAIL_CREDENTIALS, "no CRAM-MD5 secret");
	if (!password_cram_digest(s->user.cram_md5, s->cram_challenge.data, s->cram_challenge.len,
				  expected))
		return sasl_fail(s, SASL_FAIL_CREDENTIALS, "malformed stored CRAM-MD5 secret");
	r = password_equal(digest, expected);
	explicit_bzero(expected, sizeof expected);
	if (!r)
		return sasl_fail(s, SASL_FAIL_CREDENTIALS, "bad digest");
	return sasl_accept(s);
}

/* ---- the table and the driver ---- */

static const struct sasl_mechanism sasl_mechanisms[] = {
	{ "PLAIN", 1, plain_start, plain_step },
	{ "LOGIN", 1, login_start, login_step },
	{ "CRAM-MD5", 0, cram_start, cram_step },
};
#define SASL_MECHANISM_COUNT (sizeof sasl_mechanisms / sizeof sasl_mechanisms[0])

void sasl_init(struct sasl *s, const char *host_name, int plaintext_allowed)
{
	memset(s, 0, sizeof *s);
	s->host_name = host_name;
	s->plaintext_allowed = plaintext_allowed;
	s->mechanism = -1;
	sasl_set_login_prompts(s, NULL, NULL);
}

void sasl_set_login_prompts(struct sasl *s, const char *username_prompt, const char *password_prompt)
{
	s->username_prompt = username_prompt && *username_prompt ? username_prompt : "Username:";
	s->password_prompt = password_prompt && *password_prompt ? password_prompt : "Password:";
}

static void sasl_wipe(struct buf *b)
{
	if (b->data)
		explicit_bzero(b->data, b->cap);
	buf_free(b);
}

void sasl_free(struct sasl *s)
{
	sasl_wipe(&s->challenge);
	sasl_wipe(&s->cram_challenge);
	sasl_wipe(&s->login_name);
}

/* Decodes a response line (CRLF stripped); "*" cancels.  0 = failed (s set). */
static int sasl_decode(struct sasl *s, const char *line, size_t len, struct buf *out)
{
	while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	if (len == 1 && line[0] == '*') {
		sasl_fail(s, SASL_FAIL_CANCELLED, "cancelled by client");
		return 0;
	}
	if (len > SASL_RESPONSE_MAX_BYTES) {
		sasl_fail(s, SASL_FAIL_SYNTAX, "response too long");
		return 0;
	}
	if (!base64_decode(out, line, len)) {
		sasl_fail(s, errno == EINVAL ? SASL_FAIL_BAD_BASE64 : SASL_FAIL_TEMPORARY,
			  errno == EINVAL ? "invalid base64" : "out of memory");
		return 0;
	}
	return 1;
}

static int sasl_find(const char *mech)
{
	size_t i;

	for (i = 0; i < SASL_MECHANISM_COUNT; i++)
		if (mech && !strcasecmp(mech, sasl_mechanisms[i].name))
			return (int)i;
	return -1;
}

enum sasl_result sasl_start(struct sasl *s, const char *mech, const char *initial)
{
	struct buf decoded = BUF_INIT;
	enum sasl_result r;

	s->mechanism = sasl_find(mech);
	s->step = 0;
	s->authcid[0] = 0;
	if (s->mechanism < 0)
		return sasl_fail(s, SASL_FAIL_UNKNOWN_MECH, "unknown mechanism");
	if (sasl_mechanisms[s->mechanism].plaintext && !s->plaintext_allowed)
		return sasl_fail(s, SASL_FAIL_ENCRYPTION, "plaintext mechanism without TLS");
	/* RFC 4954: "=" is an initial response of zero length. */
	if (initial && strcmp(initial, "=") != 0 && !sasl_decode(s, initial, strlen(initial), &decoded)) {
		sasl_wipe(&decoded);
		return s->fail == SASL_FAIL_TEMPORARY ? SASL_TEMPFAIL : SASL_FAIL;
	}
	if (initial && !decoded.data && !buf_reserve(&decoded, 0))
		return sasl_fail(s, SASL_FAIL_TEMPORARY, "out of memory");
	if (decoded.data)
		decoded.data[decoded.len] = 0;
	r = sasl_mechanisms[s->mechanism].start(s, &decoded, initial != NULL);
	sasl_wipe(&decoded);
	return r;
}

enum sasl_result sasl_step(struct sasl *s, const char *line, size_t len)
{
	struct buf decoded = BUF_INIT;
	enum sasl_result r;

	if (s->mechanism < 0 || s->step == SASL_STEP_FINISHED)
		return sasl_fail(s, SASL_FAIL_SYNTAX, "no exchange in progress");
	if (!sasl_decode(s, line, len, &decoded)) {
		sasl_wipe(&decoded);
		return s->fail == SASL_FAIL_TEMPORARY ? SASL_TEMPFAIL : SASL_FAIL;
	}
	r = sasl_mechanisms[s->mechanism].step(s, &decoded);
	sasl_wipe(&decoded);
	return r;
}

const char *sasl_mechanism_list(int plaintext_allowed)
{
	return plaintext_allowed ? "PLAIN LOGIN CRAM-MD5" : "CRAM-MD5";
}

static const struct {
	const char *name;
	const char *smtp;
	const char *pop3;
} sasl_fail_texts[] = {
	[SASL_FAIL_NONE] = { "none", "235 2.7.0 Authentication successful", "+OK Authenticated" },
	[SASL_FAIL_BAD_BASE64] = { "bad-base64", "501 5.5.2 Cannot decode response",
		"-ERR Cannot decode response" },
	[SASL_FAIL_SYNTAX] = { "syntax", "501 5.5.2 Malformed authentication response",
		"-ERR Malformed authentication response" },
	[SASL_FAIL_CANCELLED] = { "cancelled", "501 5.7.0 Authentication cancelled",
		"-ERR Authentication cancelled" },
	[SASL_FAIL_CREDENTIALS] = { "credentials", "535 5.7.8 Authentication credentials invalid",
		"-ERR [AUTH] Authentication failed" },
	[SASL_FAIL_UNKNOWN_MECH] = { "unknown-mechanism", "504 5.5.4 Unrecognized authentication type",
		"-ERR Unrecognized authentication type" },
	[SASL_FAIL_ENCRYPTION] = { "encryption-required",
		"538 5.7.11 Encryption required for requested authentication mechanism",
		"-ERR [AUTH] Encryption required for this mechanism (use STLS)" },
	[SASL_FAIL_TEMPORARY] = { "temporary", "454 4.7.0 Temporary authentication failure",
		"-ERR [SYS/TEMP] Temporary authentication failure" },
};
#define SASL_FAIL_TEXT_COUNT (sizeof sasl_fail_texts / sizeof sasl_fail_texts[0])

const char *sasl_smtp_reply(enum sasl_fail_kind fail)
{
	return sasl_fail_texts[(unsigned)fail < SASL_FAIL_TEXT_COUNT ? fail : SASL_FAIL_TEMPORARY].smtp;
}

const char *sasl_pop3_reply(enum sasl_fail_kind fail)
{
	return sasl_fail_texts[(unsigned)fail < SASL_FAIL_TEXT_COUNT ? fail : SASL_FAIL_TEMPORARY].pop3;
}

const char *sasl_fail_name(enum sasl_fail_kind fail)
{
	return sasl_fail_texts[(unsigned)fail < SASL_FAIL_TEXT_COUNT ? fail : SASL_FAIL_TEMPORARY].name;
}
