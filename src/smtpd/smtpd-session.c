#include "smtpd-session.h"
#include "smtpd-contentfilter.h"
#include "smtpd-milter.h"
#include "log.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

void session_init(struct smtp_session *s)
{
	memset(s, 0, sizeof *s);
	/* Every line from here on, configuration warnings included, carries
	 * session=<pid>: the accept line's id= names the message, this the
	 * connection. */
	snprintf(s->log_id, sizeof s->log_id, "%ld", (long)getpid());
	log_set_session(s->log_id);
	conn_init(&s->conn, 0, 1);
	tlsproxy_init(&s->tls_proxy);
	s->remote_ip = "unknown";
	s->local_ip = "unknown";
	s->local_port = "0";
	s->ext = SMTP_EXT_PIPELINING | SMTP_EXT_8BITMIME | SMTP_EXT_CHUNKING | SMTP_EXT_DSN
		 | SMTP_EXT_ENHANCED | SMTP_EXT_SMTPUTF8 | SMTP_EXT_SIZE | SMTP_EXT_EHLO | SMTP_EXT_ETRN;
	s->max_unknown = SMTP_UNKNOWN_COMMANDS_DEFAULT;
	s->max_error_recipients = SMTP_ERROR_RECIPIENTS_DEFAULT;
	s->max_bad_rcpt = SMTP_BAD_RECIPIENTS_DEFAULT;
	s->tarpit_after = SMTP_TARPIT_AFTER_DEFAULT;
	s->tarpit_delay_ms = SMTP_TARPIT_DELAY_MS_DEFAULT;
	s->sink.file.fd = -1;
}

/* A numeric PARAM: a bad value stops the session with a clear message
 * rather than running with a limit the sysop did not mean. */
static int param_ulong(const struct smtp_session *s, const char *name, unsigned long *value)
{
	const char *v = smtpserver_conf_get(&s->conf, name);

	if (!v)
		return 0;
	if (!config_parse_ulong(v, value))
		die_temp("smtpserver.conf: PARAM %s: bad number: %s", name, v);
	return 1;
}

/* The smaller of two limits where 0 means "none". */
static unsigned long long limit_min(unsigned long long a, unsigned long long b)
{
	if (!a)
		return b;
	if (!b)
		return a;
	return a < b ? a : b;
}

static void session_apply_limits(struct smtp_session *s)
{
	unsigned long n;
	unsigned long long size;
	const char *v;

	s->max_recipients = s->cfg.max_recipients;
	if (param_ulong(s, "RcptLimitCount", &n))
		s->max_recipients = (unsigned long)limit_min(s->max_recipients, n);
	s->max_size = s->cfg.max_msg_size_bytes;
	if ((v = smtpserver_conf_get(&s->conf, "maxsize"))) {
		if (!config_parse_size(v, &size))
			die_temp("smtpserver.conf: PARAM maxsize: bad size: %s", v);
		s->max_size = limit_min(s->max_size, size);
	}
	if (param_ulong(s, "max-unknown-commands", &n))
		s->max_unknown = n;
	if (param_ulong(s, "max-error-recipients", &n))
		s->max_error_recipients = n;
	if (param_ulong(s, "min-availspace", &n))
		s->min_availspace_kb = n;
	(void)param_ulong(s, "max-bad-recipients", &s->max_bad_rcpt);
	(void)param_ulong(s, "tarpit-after-bad-recipients", &s->tarpit_after);
	if (param_ulong(s, "tarpit-delay-ms", &n))
		s->tarpit_delay_ms = n > 60000 ? 60000 : n;
}

/* The extension a disabler "No<name>" or an enabler "<name>-OK" names. */
static unsigned session_extension_bit(const char *name, size_t len)
{
	static const struct {
		const char *name;
		unsigned bit;
	} ext[] = {
		{ "PIPELINING", SMTP_EXT_PIPELINING }, { "8BITMIME", SMTP_EXT_8BITMIME },
		{ "CHUNKING", SMTP_EXT_CHUNKING },     { "DSN", SMTP_EXT_DSN },
		{ "ENHANCEDSTATUSCODES", SMTP_EXT_ENHANCED }, { "SMTPUTF8", SMTP_EXT_SMTPUTF8 },
		{ "EHLO", SMTP_EXT_EHLO },             { "ETRN", SMTP_EXT_ETRN },
	};
	size_t i;

	for (i = 0; i < sizeof ext / sizeof ext[0]; i++)
		if (strlen(ext[i].name) == len && strncasecmp(ext[i].name, name, len) == 0)
			return ext[i].bit;
	return 0;
}

/* ZMailer's disablers (PARAM NoPIPELINING, ...) and enablers (PARAM
 * PIPELINING-OK, ...), in file order: the last line naming an extension
 * wins, and "no-No<name>" undoes a disabler like any "no-" PARAM. */
static void session_apply_disablers(struct smtp_session *s)
{
	size_t i, len;
	unsigned bit;

	for (i = 0; i < s->conf.param_count; i++) {
		const char *n = s->conf.params[i].name;
		int on;
		if (!n)
			continue;
		len = strlen(n);
		if (strncasecmp(n, "no-No", 5) == 0)
			bit = session_extension_bit(n + 5, len - 5), on = 1;
		else if (strncasecmp(n, "No", 2) == 0)
			bit = session_extension_bit(n + 2, len - 2), on = 0;
		else if (len > 3 && strcasecmp(n + len - 3, "-OK") == 0)
			bit = session_extension_bit(n, len - 3), on = 1;
		else
			continue;
		if (on)
			s->ext |= bit;
		else
			s->ext &= ~bit;
	}
}

int session_param_default_on(const struct smtpserver_conf *conf, const char *name)
{
	int on = 1;
	size_t i;

	for (i = 0; i < conf->param_count; i++) {
		const char *n = conf->params[i].name, *v = conf->params[i].value;
		if (!n)
			continue;
		if (strcasecmp(n, name) == 0)
			on = !v || !(strcmp(v, "0") == 0 || strcasecmp(v, "no") == 0 || strcasecmp(v, "off") == 0);
		else if (strncasecmp(n, "no-", 3) == 0 && strcasecmp(n + 3, name) == 0)
			on = 0;
	}
	return on;
}

/* TLS, AUTH and Received PARAMs (smtpd(8) lists the defaults). */
static void session_apply_policy(struct smtp_session *s)
{
	struct smtpd_policy *p = &s->policy;

	p->use_tls = session_param_default_on(&s->conf, "use-tls");
	p->auth = session_param_default_on(&s->conf, "smtp-auth");
	p->auth_plaintext = smtpserver_conf_flag(&s->conf, "AUTH-LOGIN-also-without-TLS");
	p->auth_legacy_ehlo = smtpserver_conf_flag(&s->conf, "auth-legacy-ehlo");
	p->no_auth_on_plain = smtpserver_conf_flag(&s->conf, "no-smtp-auth-on-25");
	p->auth_failrate = SMTP_AUTH_FAILRATE_DEFAULT;
	(void)param_ulong(s, "auth-failrate", &p->auth_failrate);
	p->rcvd_tls_mode = session_param_default_on(&s->conf, "rcvd-tls-mode");
	p->rcvd_auth_user = smtpserver_conf_flag(&s->conf, "rcvd-auth-user");
}

void session_configure(struct smtp_session *s)
{
	char error[512];

	xmail_config_load(&s->cfg);
	if (!smtpserver_conf_load(&s->conf, NULL, error, sizeof error))
		die_temp("%s", error);
	s->host = s->cfg.host_name[0] ? s->cfg.host_name : "localhost";
	session_apply_limits(s);
	session_apply_disablers(s);
	session_apply_policy(s);
	if (s->cfg.max_inactivity_sec)
		conn_set_idle_timeout(&s->conn, (int)(s->cfg.max_inactivity_sec > 86400 ? 86400 : s->cfg.max_inactivity_sec));
	/* MaxSessionTime: a client that keeps sending a byte within every
	 * MaxInactivity cannot keep its smtpd for ever. */
	if (s->cfg.max_session_sec)
		conn_set_deadline(&s->conn, (int)(s->cfg.max_session_sec > 86400 ? 86400 : s->cfg.max_session_sec));
	s->session_deadline_ms = s->conn.deadline_ms;
}

static void sink_release(struct smtp_sink *k)
{
	if (k->active)
		spool_file_abort(&k->file);
	k->active = 0;
	buf_free(&k->line);
	buf_free(&k->tg_text);
	buf_free(&k->subject);
	buf_free(&k->received);
	buf_free(&k->subject_text);
}

void session_reset_transaction(struct smtp_session *s)
{
	size_t i;

	smtpd_milter_abort(s);
	for (i = 0; i < s->rcpt_count; i++) {
		free(s->rcpt[i].address);
		free(s->rcpt[i].notify);
		free(s->rcpt[i].orcpt);
	}
	s->rcpt_count = 0;
	s->rcpt_attempts = 0;
	s->rcpt_limit_logged = 0;
	s->in_mail = 0;
	s->kind = SMTP_KIND_MAIL;
	buf_truncate(&s->sender, 0);
	s->body = NULL;
	s->smtputf8 = 0;
	s->ret = NULL;
	buf_truncate(&s->envid, 0);
	s->has_envid = 0;
	buf_truncate(&s->mail_auth, 0);
	s->has_mail_auth = 0;
	s->declared_size = 0;
	s->body_mode = SMTP_BODY_NONE;
	s->bdat_failed = 0;
	s->spam_bait = 0;
	s->id[0] = 0;
	sink_release(&s->sink);
	memset(&s->sink, 0, sizeof s->sink);
	s->sink.file.fd = -1;
}

int session_resolver(struct smtp_session *s)
{
	if (s->resolver_ready)
		return 1;
	if (!userdb_open(&s->db, 0)) {
		log_warn("unable to open the user database: %s", strerror(errno));
		return 0;
	}
	if (!resolve_context_load(&s->resolver, &s->cfg, &s->db)) {
		log_warn("unable to load the resolver tables: %s", strerror(errno));
		userdb_close(&s->db);
		return 0;
	}
	s->resolver_ready = 1;
	return 1;
}

void session_free(struct smtp_session *s)
{
	session_reset_transaction(s);
	smtpd_milter_end(s);
	smtpd_contentfilter_stop(s);
	free(s->rcpt);
	buf_free(&s->sender);
	buf_free(&s->envid);
	buf_free(&s->helo);
	buf_free(&s->auth_user);
	buf_free(&s->tls_info);
	buf_free(&s->mail_auth);
	buf_free(&s->line);
	if (s->resolver_ready) {
		resolve_context_free(&s->resolver);
		userdb_close(&s->db);
	}
	smtpserver_conf_free(&s->conf);
	conn_free(&s->conn);
}

/* RFC 3848 / RFC 6531 §3.7.3 "with" names. */
const char *session_protocol(const struct smtp_session *s)
{
	static const char *const esmtp[4] = { "ESMTP", "ESMTPS", "ESMTPA", "ESMTPSA" };
	static const char *const utf8[4] = { "UTF8SMTP", "UTF8SMTPS", "UTF8SMTPA", "UTF8SMTPSA" };
	int i = (s->tls_active ? 1 : 0) + (s->auth_user.len ? 2 : 0);

	if (!s->esmtp)
		return "SMTP";
	return s->smtputf8 ? utf8[i] : esmtp[i];
}

int session_spool_space_ok(const struct smtp_session *s)
{
	unsigned long long kb;

	if (!s->min_availspace_kb || !spool_free_kbytes(&kb) || kb >= s->min_availspace_kb)
		return 1;
	log_warn("spool free space %lluKiB below min-availspace %lluKiB", kb, s->min_availspace_kb);
	return 0;
}
