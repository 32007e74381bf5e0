/* AUTH (RFC 5034): SASL PLAIN, LOGIN and CRAM-MD5 from src/lib/sasl.h,
 * with the same failed-login accounting as PASS and APOP (auth.c).
 * Plain-text mechanisms are allowed on a clear channel, like USER/PASS
 * (pop3d(8) SECURITY says why). */
#include "session.h"
#include "base64.h"
#include "capa.h"
#include "log.h"
#include "sasl.h"
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* RFC 4422 §3.1: a mechanism name has at most 20 characters. */
#define AUTH_MECH_MAX_BYTES 20
#define AUTH_PLAINTEXT_ALLOWED 1

static int nospam_strip(const char *p, size_t *len)
{
	size_t k = strlen(POP3_NOSPAM_SUFFIX);

	if (*len <= k || strncasecmp(p + *len - k, POP3_NOSPAM_SUFFIX, k) != 0)
		return 0;
	*len -= k;
	return 1;
}

/* The decoded first response without "#nospam" on its user name: PLAIN
 * "authzid NUL authcid NUL password" (both names), LOGIN "name", CRAM-MD5
 * "name digest".  1 when the authcid had the suffix (out is the rewrite). */
static int nospam_rewrite(const char *mech, const struct buf *in, struct buf *out)
{
	const char *p = in->data, *end = in->data + in->len, *nul1, *nul2, *sp;
	size_t len = in->len;
	int stripped = 0;

	if (strcasecmp(mech, "PLAIN") == 0) {
		nul1 = memchr(p, 0, in->len);
		nul2 = nul1 ? memchr(nul1 + 1, 0, (size_t)(end - nul1 - 1)) : NULL;
		if (!nul2)
			return 0;
		len = (size_t)(nul1 - p);
		(void)nospam_strip(p, &len);
		xbuf_cat(out, p, len);
		xbuf_cat(out, "", 1);
		len = (size_t)(nul2 - nul1 - 1);
		stripped = nospam_strip(nul1 + 1, &len);
		xbuf_cat(out, nul1 + 1, len);
		xbuf_cat(out, nul2, (size_t)(end - nul2));
	} else if (strcasecmp(mech, "LOGIN") == 0) {
		stripped = nospam_strip(p, &len);
		xbuf_cat(out, p, len);
	} else if (strcasecmp(mech, "CRAM-MD5") == 0 && (sp = memrchr(p, ' ', in->len))) {
		len = (size_t)(sp - p);
		stripped = nospam_strip(p, &len);
		xbuf_cat(out, p, len);
		xbuf_cat(out, sp, (size_t)(end - sp));
	}
	return stripped;
}

static void auth_wipe(struct buf *b)
{
	if (b->data)
		explicit_bzero(b->data, b->cap);
	buf_free(b);
}

/* #nospam (pop3d(8) MAILBOX) works with AUTH too: sasl.c looks the user
 * up itself from inside the base64 response, so the suffix is taken off
 * here, in the first response, before sasl.c sees it.  Returns the
 * response to give sasl.c: b64 itself, or the re-encoded rewrite in out. */
static const char *auth_nospam(struct pop3_session *s, const char *mech, const char *b64, size_t len,
			       struct buf *out)
{
	struct buf plain = BUF_INIT, rewritten = BUF_INIT;
	const char *result = b64;

	if (strlen(b64) == len && base64_decode(&plain, b64, len) && plain.len && nospam_rewrite(mech, &plain, &rewritten)) {
		buf_truncate(out, 0);
		if (!base64_encode(out, rewritten.data ? rewritten.data : "", rewritten.len))
			die_nomem();
		s->nospam = 1;
		result = out->data;
	}
	auth_wipe(&plain);
	auth_wipe(&rewritten);
	return result;
}

/* "AUTH" alone: the mechanisms, one per line (the pre-RFC 5034 form that
 * Outlook-era clients send; CAPA's SASL line says the same). */
static void auth_list(struct pop3_session *s)
{
	const char *p = sasl_mechanism_list(AUTH_PLAINTEXT_ALLOWED);
	size_t n;

	pop3_ok(s, "SASL mechanisms follow");
	while (*p) {
		n = strcspn(p, " ");
		xconn_put(&s->conn, p, n);
		xconn_puts(&s->conn, "\r\n");
		p += n;
		p += strspn(p, " ");
	}
	pop3_end_multiline(s);
}

/* One continuation: "+ challenge", then the client's line (CRLF
 * stripped) in line.  1 got it; 0 the session ended (logged, s->done). */
static int auth_read_response(struct pop3_session *s, struct sasl *x, struct buf *line)
{
	struct buf v = BUF_INIT;
	int r;

	xconn_printf(&s->conn, "+ %s\r\n", x->challenge.data ? x->challenge.data : "");
	r = conn_getline(&s->conn, line, SASL_RESPONSE_MAX_BYTES + 2);
	if (r > 0) {
		while (line->len && (line->data[line->len - 1] == '\n' || line->data[line->len - 1] == '\r'))
			buf_truncate(line, line->len - 1);
		return 1;
	}
	if (r < 0 && errno == ERANGE) {
		xbuf_copys(line, "=!"); /* too long: not base64 either, so sasl.c refuses it */
		return 1;
	}
	log_info("event=disconnect ip=%s reason=%s during=auth", s->remote_ip,
		 xlog_value(&v, r == 0 ? "eof" : strerror(errno)));
	buf_free(&v);
	s->done = 1;
	return 0;
}

/* sasl.c's detail for the log as pop3d's own reason words. */
static const char *auth_fail_reason(const struct sasl *x)
{
	if (x->fail != SASL_FAIL_CREDENTIALS)
		return sasl_fail_name(x->fail);
	if (x->detail && strcmp(x->detail, "no such user") == 0)
		return "unknown-user";
	if (x->detail && strcmp(x->detail, "disabled") == 0)
		return "disabled";
	return "bad-credentials";
}

/* Credentials failures count like a bad PASS; a cancel, bad base64 or an
 * unknown mechanism does not (no password was tried). */
static void auth_finish(struct pop3_session *s, struct sasl *x, enum sasl_result r, const char *method)
{
	const char *name = x->authcid[0] ? x->authcid : "-";
	struct buf v = BUF_INIT, m = BUF_INIT;

	if (r == SASL_DONE) {
		s->user = x->user;
		pop3_login_accepted(s, method);
		return;
	}
	if (x->fail == SASL_FAIL_CREDENTIALS) {
		pop3_login_failed(s, name, method, auth_fail_reason(x));
	} else {
		pop3_login_abandoned(s);
		log_notice("event=auth-failed ip=%s user=%s method=%s tls=%d reason=%s", s->remote_ip,
			   xlog_value(&v, name), xlog_value(&m, method), s->tls_active, auth_fail_reason(x));
	}
	buf_free(&v);
	buf_free(&m);
	pop3_status_line(s, sasl_pop3_reply(x->fail));
}

/* "auth-plain", "auth-cram-md5": the login log's method word. */
static void auth_method_word(const char *mech, char *out, size_t size)
{
	size_t i;

	snprintf(out, size, "auth-%s", mech);
	for (i = 0; out[i]; i++)
		out[i] = (char)tolower((unsigned char)out[i]);
}

static void auth_exchange(struct pop3_session *s, const char *mech, const char *initial)
{
	char method[AUTH_MECH_MAX_BYTES + 8];
	struct buf line = BUF_INIT, rewritten = BUF_INIT;
	const char *response;
	struct sasl x;
	enum sasl_result r;
	int first = 1;

	auth_method_word(mech, method, sizeof method);
	s->nospam = 0;
	sasl_init(&x, s->host_name, AUTH_PLAINTEXT_ALLOWED);
	if (initial) {
		initial = auth_nospam(s, mech, initial, strlen(initial), &rewritten);
		first = 0;
	}
	r = sasl_start(&x, mech, initial);
	while (r == SASL_CONTINUE && auth_read_response(s, &x, &line)) {
		response = first ? auth_nospam(s, mech, line.data, line.len, &rewritten) : line.data;
		first = 0;
		r = sasl_step(&x, response, response == line.data ? line.len : strlen(response));
	}
	if (!s->done)
		auth_finish(s, &x, r, method);
	else
		pop3_login_abandoned(s);
	sasl_free(&x);
	explicit_bzero(&x.user, sizeof x.user);
	auth_wipe(&line);
	auth_wipe(&rewritten);
}

static void cmd_auth(struct pop3_session *s, const char *arg)
{
	char mech[AUTH_MECH_MAX_BYTES + 1];
	size_t n;

	s->have_user = 0;
	if (!arg) {
		auth_list(s);
		return;
	}
	/* RFC 4422 §3.1 names: upper-case letters, digits, '-' and '_' (any
	 * case here); nothing else reaches the log as a method word. */
	n = strspn(arg, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");
	if (n == 0 || n > AUTH_MECH_MAX_BYTES || (arg[n] && arg[n] != ' ')) {
		pop3_status_line(s, sasl_pop3_reply(SASL_FAIL_UNKNOWN_MECH));
		return;
	}
	memcpy(mech, arg, n);
	mech[n] = 0;
	if (!pop3_login_begin(s))
		return;
	arg += n;
	arg += strspn(arg, " ");
	auth_exchange(s, mech, *arg ? arg : NULL);
}

static const struct pop3_command auth_command = { "AUTH", POP3_STATE_AUTHORIZATION, cmd_auth };
static char auth_capa_text[64];
static const struct pop3_capability auth_capability = { auth_capa_text, POP3_STATE_AUTHORIZATION, NULL };

void pop3_auth_register(void)
{
	snprintf(auth_capa_text, sizeof auth_capa_text, "SASL %s", sasl_mechanism_list(AUTH_PLAINTEXT_ALLOWED));
	if (!pop3_command_register(&auth_command) || !pop3_capa_register(&auth_capability))
		die_temp("pop3d: command table full");
}
