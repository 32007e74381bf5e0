#include "smtpd-auth.h"
#include "log.h"
#include "loginfail.h"
#include "sasl.h"
#include "smtpd-commands.h"
#include "smtpd-reply.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

void smtpd_relay_update(struct smtp_session *s)
{
	s->relay_allowed = (s->cfg.options & MAIL_OPTION(ALLOW_RELAY)) && (s->auth_user.len || s->auth_via_ip);
}

void smtpd_auth_forget(struct smtp_session *s)
{
	buf_truncate(&s->auth_user, 0);
	s->auth_mech = NULL;
	smtpd_relay_update(s);
}

/* no-smtp-auth-on-25 means the relay service: smtpd started without -m
 * and -s (under tcpserver it cannot tell which port number that is). */
static int auth_offered(const struct smtp_session *s)
{
	if (!s->policy.auth)
		return 0;
	return !(s->policy.no_auth_on_plain && !s->submission && !s->implicit_tls);
}

/* Plaintext mechanisms (PLAIN, LOGIN) only inside TLS, unless configured. */
static int auth_plaintext_ok(const struct smtp_session *s)
{
	return s->tls_active || s->policy.auth_plaintext;
}

/* "AUTH ..." (RFC 4954).  The draft form "AUTH=..." that some old
 * Outlook-era clients wait for is not an RFC 5321 ehlo-keyword ('=' is not
 * allowed), so it is sent only when PARAM auth-legacy-ehlo asks for it. */
static void auth_advertise(struct smtp_session *s, struct buf *keywords)
{
	const char *mechs;

	if (!auth_offered(s))
		return;
	mechs = sasl_mechanism_list(auth_plaintext_ok(s));
	xbuf_catf(keywords, "AUTH %s\n", mechs);
	if (s->policy.auth_legacy_ehlo)
		xbuf_catf(keywords, "AUTH=%s\n", mechs);
}

/* The name and mechanism are the client's: one quoted value each ("-" when
 * no name was given; the mechanism cut at 32 bytes). */
static void log_auth_fail(struct smtp_session *s, const char *authcid, const char *mech, const char *reason)
{
	struct buf user = BUF_INIT, m = BUF_INIT, r = BUF_INIT;
	char mech32[33];

	snprintf(mech32, sizeof mech32, "%s", mech);
	log_notice("event=auth-fail ip=%s user=%s mech=%s reason=%s", s->remote_ip,
		   xlog_value(&user, *authcid ? authcid : "-"), xlog_value(&m, mech32), xlog_value(&r, reason));
	buf_free(&user);
	buf_free(&m);
	buf_free(&r);
}

/* "535 5.7.8 Authentication credentials invalid" through smtp_reply, so
 * NoENHANCEDSTATUSCODES still applies. */
static void reply_sasl(struct smtp_session *s, const char *text)
{
	char enhanced[16];
	const char *sp1 = strchr(text, ' '), *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
	size_t n;

	if (!sp2 || (n = (size_t)(sp2 - sp1 - 1)) >= sizeof enhanced) {
		xconn_printf(&s->conn, "%s\r\n", text);
		return;
	}
	memcpy(enhanced, sp1 + 1, n);
	enhanced[n] = 0;
	smtp_reply(s, atoi(text), enhanced, "%s", sp2 + 1);
}

/* ZMailer auth-failrate: 1 when this address may still try, the attempt
 * then counted as a failure until auth_forgive takes it back (so parallel
 * sessions cannot all pass one reading of the count).  A table that cannot
 * be read or updated refuses: a throttle must not fail open. */
static int auth_rate_ok(struct smtp_session *s, const char *mech, time_t *counted_at)
{
	int r;

	*counted_at = 0;
	if (!s->policy.auth_failrate)
		return 1;
	*counted_at = time(NULL);
	r = loginfail_try(s->remote_ip, SMTP_AUTH_FAILRATE_WINDOW_SEC, s->policy.auth_failrate, *counted_at);
	if (r > 0)
		return 1;
	*counted_at = 0;
	if (r < 0) {
		log_warn("unable to update the failed-login table: %s", strerror(errno));
		smtp_reply(s, 454, "4.7.0", "Temporary authentication failure, try again later");
		log_auth_fail(s, "", mech, "table-unavailable");
		return 0;
	}
	smtp_reply(s, 454, "4.7.0", "Too many authentication failures, try again later");
	log_auth_fail(s, "", mech, "failrate");
	return 0;
}

/* Takes back the attempt auth_rate_ok counted: it succeeded or was no
 * password guess.  Only this one attempt: the address's other failures
 * stay, whoever logs in. */
static void auth_forgive(struct smtp_session *s, time_t counted_at)
{
	if (counted_at && !loginfail_forgive(s->remote_ip, counted_at))
		log_warn("unable to update the failed-login table: %s", strerror(errno));
}

/* 1 when AUTH may start now, else the reply was sent. */
static int auth_allowed_now(struct smtp_session *s)
{
	if (!auth_offered(s))
		smtp_reply(s, 503, "5.5.1", "AUTH not available");
	else if (s->auth_user.len)
		smtp_reply(s, 503, "5.5.1", "Already authenticated");
	else if (s->in_mail)
		smtp_reply(s, 503, "5.5.1", "AUTH not allowed during a mail transaction");
	else
		return 1;
	return 0;
}

/* The 334 round trips.  Returns the last result; SASL_CONTINUE means the
 * exchange was cut off (reply or session end already handled). */
static enum sasl_result auth_exchange(struct smtp_session *s, struct sasl *sa, const char *mech,
				      enum sasl_result r)
{
	struct buf line = BUF_INIT;
	int got;

	while (r == SASL_CONTINUE) {
		xconn_printf(&s->conn, "334 %s\r\n", sa->challenge.data ? sa->challenge.data : "");
		got = conn_getline(&s->conn, &line, SASL_RESPONSE_MAX_BYTES + 2);
		if (got < 0 && errno == ERANGE) {
			smtp_reply(s, 500, "5.5.6", "Authentication exchange line is too long");
			log_auth_fail(s, sa->authcid, mech, "line-too-long");
			break;
		}
		if (got <= 0) {
			s->quit = 1;
			s->close_reason = got == 0 ? "eof" : errno == ETIMEDOUT ? "timeout" : "read-error";
			if (got < 0 && errno == ETIMEDOUT)
				smtp_reply_close(s, "4.4.2", "Timeout");
			break;
		}
		r = sasl_step(sa, line.data, line.len);
	}
	buf_free(&line);
	return r;
}

static void auth_succeeded(struct smtp_session *s, struct sasl *sa, const char *mech)
{
	struct buf v = BUF_INIT;

	xbuf_copys(&s->auth_user, sa->user.name);
	s->auth_mech = strcasecmp(mech, "PLAIN") == 0 ? "PLAIN" : strcasecmp(mech, "LOGIN") == 0 ? "LOGIN" : "CRAM-MD5";
	smtpd_relay_update(s);
	smtp_reply(s, 235, "2.7.0", "Authentication successful");
	log_info("event=auth ip=%s user=%s mech=%s relay=%s", s->remote_ip, xlog_value(&v, s->auth_user.data),
		 s->auth_mech, s->relay_allowed ? "yes" : "no");
	buf_free(&v);
}

/* counted_at: the attempt is already counted (auth-failrate on). */
static void auth_failed(struct smtp_session *s, struct sasl *sa, const char *mech, time_t counted_at)
{
	struct buf reason = BUF_INIT;

	reply_sasl(s, sasl_smtp_reply(sa->fail));
	xbuf_cats(&reason, sasl_fail_name(sa->fail));
	if (sa->detail && *sa->detail)
		xbuf_catf(&reason, "/%s", sa->detail);
	for (size_t i = 0; i < reason.len; i++)
		if (reason.data[i] == ' ')
			reason.data[i] = '-';
	log_auth_fail(s, sa->authcid, mech, reason.data);
	buf_free(&reason);
	if (sa->fail != SASL_FAIL_CREDENTIALS)
		auth_forgive(s, counted_at);
	else if (!counted_at && !loginfail_record(s->remote_ip, time(NULL), NULL))
		log_warn("unable to update the failed-login table: %s", strerror(errno));
}

static void cmd_auth(struct smtp_session *s, const char *arg)
{
	struct buf mech = BUF_INIT;
	const char *initial;
	struct sasl sa;
	enum sasl_result r;
	size_t n = strcspn(arg, " ");
	time_t counted_at;

	if (!auth_allowed_now(s))
		return;
	if (!n) {
		smtp_reply(s, 501, "5.5.4", "Syntax: AUTH mechanism [initial-response]");
		return;
	}
	xbuf_cat(&mech, arg, n);
	initial = arg[n] ? arg + n + 1 : NULL;
	if (auth_rate_ok(s, mech.data, &counted_at)) {
		sasl_init(&sa, s->host, auth_plaintext_ok(s));
		sasl_set_login_prompts(&sa, smtpserver_conf_get(&s->conf, "smtp-auth-username-prompt"),
				       smtpserver_conf_get(&s->conf, "smtp-auth-password-prompt"));
		r = auth_exchange(s, &sa, mech.data, sasl_start(&sa, mech.data, initial));
		if (r == SASL_DONE) {
			auth_forgive(s, counted_at);
			auth_succeeded(s, &sa, mech.data);
		} else if (r != SASL_CONTINUE) {
			auth_failed(s, &sa, mech.data, counted_at);
		} else {
			auth_forgive(s, counted_at);  /* cut off: no answer to count */
		}
		sasl_free(&sa);
	}
	buf_free(&mech);
}

static const struct smtp_command auth_commands[] = {
	{ "AUTH", SMTP_CMD_NEEDS_HELO, NULL, cmd_auth, auth_advertise, NULL },
};

void smtpd_auth_register(void)
{
	smtp_commands_add(auth_commands, sizeof auth_commands / sizeof auth_commands[0]);
}
