/* STLS (RFC 2595) and implicit TLS (POP3S, RFC 8314).  The TLS runs in
 * tlsproxy(8) (src/lib/tlsproxy.h), which holds the key and the socket;
 * pop3d goes on in plain text over the socketpair on fds 0/1.
 * The certificate and key are found as bbsmail-tls(7) says, PARAM tls-*
 * in smtpserver.conf first, so pop3d and smtpd always serve the same pair;
 * that file is read only when a session first asks about TLS. */
#include "session.h"
#include "capa.h"
#include "log.h"
#include "tls.h"
#include "tlsproxy.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TLS_ERROR_MAX_BYTES 512

static const struct smtpserver_conf *tls_conf(struct pop3_session *s)
{
	char error[TLS_ERROR_MAX_BYTES];

	if (!s->conf_loaded) {
		s->conf_loaded = 1;
		if (!smtpserver_conf_load(&s->conf, NULL, error, sizeof error))
			log_warn("unable to read smtpserver.conf, using mail.ini's TLS files: %s", error);
	}
	return &s->conf;
}

/* Two access(2) calls, once per session, so a missing key is logged once
 * however often the client asks for CAPA. */
static int tls_offerable(struct pop3_session *s)
{
	char error[TLS_ERROR_MAX_BYTES];

	if (s->tls_active)
		return 0;
	if (!s->tls_offer) {
		s->tls_offer = tls_server_available(&s->cfg, tls_conf(s), error, sizeof error) ? 1 : -1;
		if (s->tls_offer < 0)
			log_warn("STLS not offered: %s", error);
	}
	return s->tls_offer > 0;
}

static int stls_offered(const struct pop3_session *s)
{
	/* The predicate gets a const session; the check only caches its answer. */
	return tls_offerable((struct pop3_session *)s);
}

/* "TLSv1.3 cipher TLS_AES_256_GCM_SHA384 bits 256" as log fields. */
static void tls_log_started(const struct pop3_session *s, const char *event, const char *info, size_t discarded)
{
	char version[64] = "-", cipher[128] = "-", bits[16] = "-";

	(void)sscanf(info, "%63s cipher %127s bits %15s", version, cipher, bits);
	log_info("event=%s ip=%s version=%s cipher=%s bits=%s discarded=%zu", event, s->remote_ip,
		 version, cipher, bits, discarded);
}

/* tlsproxy(8) loads the key; 1 when it holds it and waits for the client,
 * 0 with the reason logged (the socket is still ours). */
static int tls_proxy_ready(struct pop3_session *s)
{
	char error[TLS_ERROR_MAX_BYTES];
	int ok = tlsproxy_start_server(&s->tls_proxy, &s->cfg, tls_conf(s), s->id, s->conn.idle_timeout_sec,
				       s->conn.deadline_ms, error, sizeof error);

	if (!ok)
		log_warn("unable to start TLS: %s", error);
	return ok;
}

/* Hands the session to the proxy, which flushes the +OK and throws away
 * every byte that came with STLS, and waits for the handshake.  1 ok; 0
 * the stream is unusable (logged). */
static int tls_handshake(struct pop3_session *s, const char *event)
{
	char error[TLS_ERROR_MAX_BYTES], info[256];
	struct buf v = BUF_INIT;
	size_t discarded = 0;

	if (!tlsproxy_attach(&s->tls_proxy, &s->conn, s->conn.idle_timeout_sec, &discarded, info, sizeof info,
			     error, sizeof error)) {
		log_notice("event=tls-fail ip=%s reason=%s", s->remote_ip, xlog_value(&v, error));
		buf_free(&v);
		return 0;
	}
	s->tls_active = 1;
	tls_log_started(s, event, info, discarded);
	return 1;
}

/* RFC 2595 §4: STLS only in AUTHORIZATION (the command table says so),
 * before any login; afterwards the client asks CAPA again and nothing it
 * said before counts: a USER is forgotten and every byte that came with
 * STLS is thrown away (CVE-2011-0411). */
static void cmd_stls(struct pop3_session *s, const char *arg)
{
	if (arg) {
		pop3_err(s, "STLS takes no argument");
		return;
	}
	if (s->tls_active) {
		pop3_err(s, "TLS already active");
		return;
	}
	if (!tls_offerable(s) || !tls_proxy_ready(s)) {
		if (s->tls_offer > 0)
			s->tls_offer = -1; /* e.g. key and certificate differ: no longer in CAPA */
		log_notice("event=stls-refused ip=%s reason=no-key", s->remote_ip);
		pop3_err(s, "TLS not available on this server");
		return;
	}
	s->have_user = 0;
	memset(s->user_arg, 0, sizeof s->user_arg);
	s->nospam = 0;
	pop3_ok(s, "Begin TLS negotiation");
	if (!tls_handshake(s, "stls"))
		s->done = 1;
}

static const struct pop3_command stls_command = { "STLS", POP3_STATE_AUTHORIZATION, cmd_stls };
static const struct pop3_capability stls_capability = { "STLS", POP3_STATE_AUTHORIZATION, stls_offered };

void pop3_tls_register(void)
{
	if (!pop3_command_register(&stls_command) || !pop3_capa_register(&stls_capability))
		die_temp("pop3d: command table full");
}

int pop3_tls_implicit(struct pop3_session *s)
{
	char error[TLS_ERROR_MAX_BYTES];

	/* Two access(2) calls spare a fork when the key is plainly missing. */
	if (!tls_server_available(&s->cfg, tls_conf(s), error, sizeof error)) {
		log_warn("unable to start TLS: %s", error);
		return 0;
	}
	return tls_proxy_ready(s) && tls_handshake(s, "tls");
}

void pop3_tls_end(struct pop3_session *s)
{
	(void)conn_flush(&s->conn);
	(void)tlsproxy_finish(&s->tls_proxy);
	if (s->conf_loaded)
		smtpserver_conf_free(&s->conf);
	s->conf_loaded = 0;
}
