/* sasl: server-side SASL for SMTP AUTH (RFC 4954) and POP3 AUTH (RFC 5034),
 * independent of the protocol around it.  Mechanisms: PLAIN (RFC 4616),
 * LOGIN (the de-facto one), CRAM-MD5 (RFC 2195).  Users come from userdb
 * (by name or alias, case-insensitively); the database is opened read-only
 * only for the lookup.  Nothing here logs, and no password is ever kept
 * after the check: the caller logs s->authcid and s->detail.
 *
 * Use (SMTP):
 *   struct sasl s;
 *   sasl_init(&s, cfg->host_name, plaintext_allowed);
 *   sasl_set_login_prompts(&s, conf PARAM smtp-auth-username-prompt, ...password-prompt);
 *   r = sasl_start(&s, "PLAIN", initial_response_or_NULL);
 *   while (r == SASL_CONTINUE) {
 *       send "334 " + s.challenge.data;
 *       read one line of at most SASL_RESPONSE_MAX_BYTES (over: 500 5.5.6,
 *       then sasl_free);
 *       r = sasl_step(&s, line, len);      (trailing CRLF allowed)
 *   }
 *   SASL_DONE: s.user is the authenticated user; reply 235 2.7.0.
 *   else: reply sasl_smtp_reply(s.fail); count s.fail == SASL_FAIL_CREDENTIALS
 *   toward auth-failrate.
 *   sasl_free(&s) in every case (it wipes the state).
 * POP3 sends "+ " + challenge and replies sasl_pop3_reply(s.fail). */
#ifndef BBSMAIL_SASL_H
#define BBSMAIL_SASL_H
#include "buf.h"
#include "userdb.h"
#include <stddef.h>

/* RFC 4954 §4: a server should accept responses up to 12288 octets. */
#define SASL_RESPONSE_MAX_BYTES 12288
/* A decoded name or password longer than this is refused (credentials). */
#define SASL_FIELD_MAX_BYTES 255

enum sasl_result {
	SASL_CONTINUE,  /* send s->challenge (base64, maybe "") and call sasl_step */
	SASL_DONE,      /* authenticated: s->user is set */
	SASL_FAIL,      /* s->fail says why; the exchange is over */
	SASL_TEMPFAIL   /* the user database failed; s->fail is SASL_FAIL_TEMPORARY */
};

enum sasl_fail_kind {
	SASL_FAIL_NONE,
	SASL_FAIL_BAD_BASE64,     /* 501 5.5.2 */
	SASL_FAIL_SYNTAX,         /* 501 5.5.2: decoded response malformed */
	SASL_FAIL_CANCELLED,      /* 501 5.7.0: the client sent "*" */
	SASL_FAIL_CREDENTIALS,    /* 535 5.7.8: unknown user, bad password, disabled, authzid */
	SASL_FAIL_UNKNOWN_MECH,   /* 504 5.5.4 */
	SASL_FAIL_ENCRYPTION,     /* 538 5.7.11: plaintext mechanism on a clear channel */
	SASL_FAIL_TEMPORARY       /* 454 4.7.0 */
};

struct sasl {
	/* set by sasl_init / sasl_set_login_prompts */
	const char *host_name;
	int plaintext_allowed;
	const char *username_prompt, *password_prompt;   /* plain text, encoded on use */
	/* exchange state */
	int mechanism;          /* internal index, -1 before sasl_start */
	int step;
	struct buf challenge;   /* base64 to send after "334 " / "+ " */
	struct buf cram_challenge; /* the CRAM-MD5 challenge, plain */
	struct buf login_name;  /* LOGIN: the name from the first response */
	/* results */
	enum sasl_fail_kind fail;
	const char *detail;     /* for the log: "no such user", "bad password", ... */
	char authcid[SASL_FIELD_MAX_BYTES + 1]; /* the name tried (raw: escape before logging) */
	struct user user;       /* valid after SASL_DONE */
};

void sasl_init(struct sasl *s, const char *host_name, int plaintext_allowed);
/* Plain-text prompts for LOGIN (NULL: "Username:" / "Password:"). */
void sasl_set_login_prompts(struct sasl *s, const char *username_prompt, const char *password_prompt);
/* mech is matched case-insensitively.  initial: the initial response as
 * sent (base64, "=" for an empty one), or NULL when there was none. */
enum sasl_result sasl_start(struct sasl *s, const char *mech, const char *initial);
/* One client response line (base64, or "*" to cancel). */
enum sasl_result sasl_step(struct sasl *s, const char *line, size_t len);
/* Wipes and frees the exchange state (not s->user). */
void sasl_free(struct sasl *s);

/* The mechanisms to advertise: "PLAIN LOGIN CRAM-MD5", or "CRAM-MD5" when
 * plaintext mechanisms must not be offered (a clear channel without
 * AUTH-LOGIN-also-without-TLS). */
const char *sasl_mechanism_list(int plaintext_allowed);
/* "535 5.7.8 Authentication credentials invalid" etc., without CRLF. */
const char *sasl_smtp_reply(enum sasl_fail_kind fail);
/* The same for POP3 AUTH (RFC 5034, RFC 2449 response codes). */
const char *sasl_pop3_reply(enum sasl_fail_kind fail);
/* A short word for logs: "bad-base64", "cancelled", "credentials", ... */
const char *sasl_fail_name(enum sasl_fail_kind fail);

#endif
