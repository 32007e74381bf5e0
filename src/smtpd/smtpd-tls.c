#include "smtpd-tls.h"
#include "log.h"
#include "smtpd-auth.h"
#include "smtpd-commands.h"
#include "smtpd-reply.h"
#include "tls.h"
#include "tlsproxy.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TLS_ERROR_MAX_BYTES 512

/* The EHLO-time check is two access(2) calls; its answer is kept for the
 * session so a missing key is logged once, not at every EHLO. */
static int tls_offerable(struct smtp_session *s)
{
	char error[TLS_ERROR_MAX_BYTES];

	if (s->tls_active || !s->policy.use_tls)
		return 0;
	if (!s->tls_offer) {
		s->tls_offer = tls_server_available(&s->cfg, &s->conf, error, sizeof error) ? 1 : -1;
		if (s->tls_offer < 0)
			log_warn("STARTTLS not offered: %s", error);
	}
	return s->tls_offer > 0;
}

static void starttls_advertise(struct smtp_session *s, struct buf *keywords)
{
	if (tls_offerable(s))
		xbuf_cats(keywords, "STARTTLS\n");
}

/* "TLSv1.3 cipher TLS_AES_256_GCM_SHA384 bits 256" as log fields. */
static void log_tls_started(const struct smtp_session *s, const char *event, size_t discarded)
{
	char version[64] = "-", cipher[128] = "-", bits[16] = "-";

	if (s->tls_info.len)
		(void)sscanf(s->tls_info.data, "%63s cipher %127s bits %15s", version, cipher, bits);
	log_info("event=%s ip=%s version=%s cipher=%s bits=%s discarded=%zu", event, s->remote_ip, version, cipher,
		 bits, discarded);
}

/* RFC 3207 §4.2: forget HELO/EHLO, MAIL, RCPT and AUTH; a new EHLO is needed. */
static void tls_session_reset(struct smtp_session *s)
{
	session_reset_transaction(s);
	buf_truncate(&s->helo, 0);
	s->helo_seen = 0;
	s->esmtp = 0;
	smtpd_auth_forget(s);
}

/* tlsproxy(8) loads the key; 1 when it holds it and waits for the client,
 * 0 with the reason logged (the socket is still ours). */
static int tls_proxy_ready(struct smtp_session *s)
{
	char error[TLS_ERROR_MAX_BYTES];
	int ok = tlsproxy_start_server(&s->tls_proxy, &s->cfg, &s->conf, s->log_id, s->conn.idle_timeout_sec,
				       s->session_deadline_ms, error, sizeof error);

	if (!ok)
		log_warn("unable to start TLS: %s", error);
	return ok;
}

/* Hands the session to the proxy, which flushes the 220 and throws away
 * what the client sent before the handshake, and waits for the handshake.
 * 1 ok, 0 the stream is unusable (logged). */
static int tls_handshake(struct smtp_session *s, size_t *discarded)
{
	char error[TLS_ERROR_MAX_BYTES], info[256];
	struct buf v = BUF_INIT;

	if (!tlsproxy_attach(&s->tls_proxy, &s->conn, s->conn.idle_timeout_sec, discarded, info, sizeof info, error,
			     sizeof error)) {
		log_notice("event=tls-fail ip=%s reason=%s", s->remote_ip, xlog_value(&v, error));
		buf_free(&v);
		return 0;
	}
	/* The session goes on in plain text over the socketpair; the proxy
	 * encrypts it.  Nothing from before counts. */
	s->tls_active = 1;
	xbuf_copys(&s->tls_info, info);
	return 1;
}

static void cmd_starttls(struct smtp_session *s, const char *arg)
{
	size_t discarded = 0;

	if (*arg) {
		smtp_reply(s, 501, "5.5.4", "Syntax: STARTTLS");
		return;
	}
	if (s->tls_active) {
		smtp_reply(s, 503, "5.5.1", "TLS already active");
		return;
	}
	if (!s->policy.use_tls || !tls_proxy_ready(s)) {
		s->tls_offer = -1; /* not offered again in this session */
		smtp_reply(s, 454, "4.7.0", "TLS not available due to temporary reason");
		smtp_log_reject(s, "STARTTLS", 454, "4.7.0", s->policy.use_tls ? "no-key" : "no-use-tls");
		return;
	}
	tls_session_reset(s);
	smtp_reply(s, 220, "2.0.0", "Ready to start TLS");
	if (!tls_handshake(s, &discarded)) {
		s->quit = 1;
		s->close_reason = "tls-failed";
		return;
	}
	log_tls_started(s, "starttls", discarded);
}

static const struct smtp_command tls_commands[] = {
	{ "STARTTLS", 0, NULL, cmd_starttls, starttls_advertise, NULL },
};

void smtpd_tls_register(void)
{
	smtp_commands_add(tls_commands, sizeof tls_commands / sizeof tls_commands[0]);
}

int smtpd_tls_implicit(struct smtp_session *s)
{
	char error[TLS_ERROR_MAX_BYTES];
	size_t discarded = 0;

	/* Two access(2) calls spare a fork when the key is plainly missing. */
	if (!tls_server_available(&s->cfg, &s->conf, error, sizeof error)) {
		log_warn("unable to start TLS: %s", error);
		return 0;
	}
	if (!tls_proxy_ready(s) || !tls_handshake(s, &discarded))
		return 0;
	log_tls_started(s, "tls", discarded);
	return 1;
}

void smtpd_tls_end(struct smtp_session *s)
{
	(void)conn_flush(&s->conn);
	(void)tlsproxy_finish(&s->tls_proxy);
}
