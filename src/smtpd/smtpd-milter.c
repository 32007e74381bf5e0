#include "smtpd-milter.h"
#include "address.h"
#include "config.h"
#include "home.h"
#include "log.h"
#include "milter.h"
#include "resolve.h"
#include "smtpd-commands.h"
#include "smtpd-contentfilter.h"
#include "smtpd-data.h"
#include "smtpd-reply.h"
#include "smtpd-rewrite.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

/* What a filter that cannot be reached, times out or breaks the protocol
 * means for the session (default=). */
enum milter_default { DEFAULT_TEMPFAIL = 0, DEFAULT_ACCEPT, DEFAULT_REJECT };

struct refusal {
	int code;                   /* 0: none */
	char enhanced[16];
	char text[MILTER_REPLY_TEXT_MAX_BYTES + 1];
};

struct milter_link {
	struct milter m;
	char name[SMTPD_MILTER_NAME_MAX_BYTES];
	enum milter_default on_error;
	unsigned long connect_sec, command_sec, content_sec;
	int open;                   /* connected and negotiated; steps go to it */
	int in_message;             /* MAIL was sent: RSET means SMFIC_ABORT */
	int message_done;           /* it accepted this message: no more steps for it */
};

struct smtpd_milters {
	struct milter_link link[SMTPD_MILTER_MAX];
	size_t count;
	struct refusal session;     /* connect/HELO verdict or a failed filter's default */
	int session_discard;        /* a filter discarded at connect or HELO */
	int discard;                /* this message is dropped with 250 */
};

/* How one step ended for one filter. */
enum outcome { OUTCOME_GO, OUTCOME_REFUSE, OUTCOME_DISCARD };

static const char *step_name(char cmd)
{
	switch (cmd) {
	case MILTER_CMD_CONNECT: return "connect";
	case MILTER_CMD_HELO: return "helo";
	case MILTER_CMD_MAIL: return "mail";
	case MILTER_CMD_RCPT: return "rcpt";
	case MILTER_CMD_DATA: return "data";
	case MILTER_CMD_HEADER: return "header";
	case MILTER_CMD_EOH: return "eoh";
	case MILTER_CMD_BODY: return "body";
	case MILTER_CMD_EOM: return "eom";
	case MILTER_CMD_ABORT: return "abort";
	case MILTER_CMD_UNKNOWN: return "unknown";
	default: return "optneg";
	}
}

static const char *log_id(const struct smtp_session *s) { return s->id[0] ? s->id : "-"; }

static void refusal_set(struct refusal *r, int code, const char *enhanced, const char *text)
{
	r->code = code;
	snprintf(r->enhanced, sizeof r->enhanced, "%s", enhanced);
	snprintf(r->text, sizeof r->text, "%s", text);
}

/* The refusal a failed filter's default= stands for. */
static void refusal_default(struct refusal *r, enum milter_default d)
{
	if (d == DEFAULT_REJECT)
		refusal_set(r, 554, "5.7.1", "Command rejected");
	else
		refusal_set(r, 451, "4.7.1", "Service unavailable - try again later");
}

/* ---- configuration: PARAM milter <address> [word=value...] ----------------- */

static int option_set(struct milter_link *l, const char *w)
{
	if (strncmp(w, "name=", 5) == 0 && w[5] && strlen(w + 5) < sizeof l->name)
		snprintf(l->name, sizeof l->name, "%s", w + 5);
	else if (strcmp(w, "default=accept") == 0)
		l->on_error = DEFAULT_ACCEPT;
	else if (strcmp(w, "default=tempfail") == 0)
		l->on_error = DEFAULT_TEMPFAIL;
	else if (strcmp(w, "default=reject") == 0)
		l->on_error = DEFAULT_REJECT;
	else if (strncmp(w, "connect-timeout=", 16) == 0)
		return config_parse_duration(w + 16, &l->connect_sec) && l->connect_sec > 0;
	else if (strncmp(w, "command-timeout=", 16) == 0)
		return config_parse_duration(w + 16, &l->command_sec) && l->command_sec > 0;
	else if (strncmp(w, "content-timeout=", 16) == 0)
		return config_parse_duration(w + 16, &l->content_sec) && l->content_sec > 0;
	else
		return 0;
	return 1;
}

/* One PARAM milter line into l; its address into address.  1 ok, 0 a
 * bad word (named in bad); the options read before it are kept. */
static int line_parse(const char *value, struct milter_link *l, char *address, size_t size, char *bad, size_t bad_size)
{
	char words[CONFIG_STRING_MAX * 4], *w, *save = NULL;
	int first = 1;

	l->connect_sec = SMTPD_MILTER_CONNECT_TIMEOUT_DEFAULT_SEC;
	l->command_sec = SMTPD_MILTER_COMMAND_TIMEOUT_DEFAULT_SEC;
	l->content_sec = SMTPD_MILTER_CONTENT_TIMEOUT_DEFAULT_SEC;
	address[0] = '\0';
	if (strlen(value) >= sizeof words) {
		snprintf(bad, bad_size, "%s", "line too long");
		return 0;
	}
	memcpy(words, value, strlen(value) + 1);
	for (w = strtok_r(words, " \t", &save); w; w = strtok_r(NULL, " \t", &save), first = 0) {
		if (first && strlen(w) < size) {
			snprintf(address, size, "%s", w);
			snprintf(l->name, sizeof l->name, "%s", w);
		} else if (first || !option_set(l, w)) {
			snprintf(bad, bad_size, "%s", w);
			return 0;
		}
	}
	if (!address[0])
		snprintf(bad, bad_size, "%s", "no address");
	return address[0] != '\0';
}

/* ---- one filter's failure and verdicts ------------------------------------ */

/* The filter is closed; its default= now holds: accept skips it for the
 * session, tempfail and reject refuse every later MAIL, RCPT and message. */
static enum outcome link_fail(struct smtp_session *s, struct milter_link *l, char step, const char *why,
			      struct refusal *out)
{
	struct buf v = BUF_INIT, w = BUF_INIT;
	static const char *const names[] = { "tempfail", "accept", "reject" };

	log_warn("id=%s event=milter milter=%s step=%s action=fail reason=%s default=%s", log_id(s),
		 xlog_value(&v, l->name), step_name(step), xlog_value(&w, why && why[0] ? why : "failed"),
		 names[l->on_error]);
	buf_free(&v);
	buf_free(&w);
	milter_close(&l->m);
	l->open = l->in_message = 0;
	if (l->on_error == DEFAULT_ACCEPT)
		return OUTCOME_GO;
	if (!s->milters->session.code)
		refusal_default(&s->milters->session, l->on_error);
	*out = s->milters->session;
	return OUTCOME_REFUSE;
}

static void log_verdict(struct smtp_session *s, const struct milter_link *l, char step, const char *action,
			const struct refusal *r)
{
	struct buf v = BUF_INIT, t = BUF_INIT;

	if (r && r->code)
		log_notice("id=%s event=milter milter=%s step=%s action=%s code=%d status=%s text=%s ip=%s", log_id(s),
			   xlog_value(&v, l->name), step_name(step), action, r->code, r->enhanced[0] ? r->enhanced : "-",
			   xlog_value(&t, r->text), s->remote_ip);
	else
		log_notice("id=%s event=milter milter=%s step=%s action=%s ip=%s", log_id(s), xlog_value(&v, l->name),
			   step_name(step), action, s->remote_ip);
	buf_free(&v);
	buf_free(&t);
}

/* A final reply (not a modification) of a step. */
static enum outcome link_verdict(struct smtp_session *s, struct milter_link *l, char step,
				 const struct milter_reply *r, struct refusal *out)
{
	switch (r->kind) {
	case MILTER_REPLY_CONTINUE:
		return OUTCOME_GO;
	case MILTER_REPLY_ACCEPT:
		/* Accepted: nothing more of this message (or of the session, at
		 * connect and HELO) goes to it. */
		l->message_done = 1;
		if (step == MILTER_CMD_CONNECT || step == MILTER_CMD_HELO)
			l->open = 0;
		return OUTCOME_GO;
	case MILTER_REPLY_DISCARD:
		/* The message is dropped at its end; this filter has no more of it. */
		l->message_done = 1;
		log_verdict(s, l, step, "discard", NULL);
		return OUTCOME_DISCARD;
	case MILTER_REPLY_REJECT:
		refusal_set(out, 550, "5.7.1", "Command rejected");
		break;
	case MILTER_REPLY_TEMPFAIL:
		refusal_set(out, 451, "4.7.1", "Service unavailable - try again later");
		break;
	case MILTER_REPLY_REPLYCODE:
		refusal_set(out, r->code, r->enhanced[0] ? r->enhanced : r->code >= 500 ? "5.7.1" : "4.7.1",
			    r->text[0] ? r->text : "Command rejected");
		break;
	default:
		snprintf(l->m.error, sizeof l->m.error, "reply %s not allowed at this step", milter_reply_name(r->kind));
		return link_fail(s, l, step, l->m.error, out);
	}
	log_verdict(s, l, step, milter_reply_name(r->kind), out);
	return OUTCOME_REFUSE;
}

/* ---- sending steps ------------------------------------------------------------ */

static void macro_add(struct milter *m, const char *name, const char *value)
{
	if (value && (!milter_out_string(m, name) || !milter_out_string(m, value)))
		die_nomem();
}

/* The TLS macros from "TLSv1.3 cipher NAME bits N". */
static void macros_tls(struct smtp_session *s, struct milter *m)
{
	char version[64] = "", cipher[128] = "", bits[16] = "";

	if (!s->tls_active || !s->tls_info.len)
		return;
	(void)sscanf(s->tls_info.data, "%63s cipher %127s bits %15s", version, cipher, bits);
	macro_add(m, "{tls_version}", version[0] ? version : NULL);
	macro_add(m, "{cipher}", cipher[0] ? cipher : NULL);
	macro_add(m, "{cipher_bits}", bits[0] ? bits : NULL);
}

static const char *daemon_name(const struct smtp_session *s)
{
	if (s->implicit_tls)
		return "smtps";
	return s->submission ? "submission" : "smtpd";
}

/* The macros of a step (SMFIC_MACRO before the command). */
static void macros_build(struct smtp_session *s, struct milter *m, char step, const char *arg, const char *mailer)
{
	struct buf under = BUF_INIT;
	const char *name = s->remote_host ? s->remote_host : "unknown";

	milter_out_reset(m);
	xbuf_catc(&m->out, step);
	if (step == MILTER_CMD_CONNECT) {
		xbuf_catf(&under, "%s [%s]", name, s->remote_ip);
		macro_add(m, "j", s->host);
		macro_add(m, "{daemon_name}", daemon_name(s));
		macro_add(m, "v", "bbsmail");
		macro_add(m, "_", under.data);
		macro_add(m, "{client_addr}", s->remote_ip);
		macro_add(m, "{client_port}", getenv("TCPREMOTEPORT"));
		macro_add(m, "{client_name}", name);
		macro_add(m, "{client_ptr}", name);
		macro_add(m, "{if_addr}", s->local_ip);
		macro_add(m, "{daemon_addr}", s->local_ip);
		macro_add(m, "{daemon_port}", s->local_port);
	} else if (step == MILTER_CMD_HELO) {
		macros_tls(s, m);
	} else if (step == MILTER_CMD_MAIL) {
		macros_tls(s, m);
		macro_add(m, "{auth_type}", s->auth_user.len ? s->auth_mech : NULL);
		macro_add(m, "{auth_authen}", s->auth_user.len ? s->auth_user.data : NULL);
		macro_add(m, "{mail_addr}", arg);
	} else if (step == MILTER_CMD_RCPT) {
		macro_add(m, "{rcpt_addr}", arg);
		macro_add(m, "{rcpt_mailer}", mailer);
	} else {
		macro_add(m, "i", s->id);
	}
	buf_free(&under);
}

/* Which protocol bit leaves a step out, and which says it has no reply. */
static unsigned long step_skip_bit(char cmd)
{
	switch (cmd) {
	case MILTER_CMD_CONNECT: return MILTER_PROTO_NOCONNECT;
	case MILTER_CMD_HELO: return MILTER_PROTO_NOHELO;
	case MILTER_CMD_MAIL: return MILTER_PROTO_NOMAIL;
	case MILTER_CMD_RCPT: return MILTER_PROTO_NORCPT;
	case MILTER_CMD_DATA: return MILTER_PROTO_NODATA;
	case MILTER_CMD_HEADER: return MILTER_PROTO_NOHDRS;
	case MILTER_CMD_EOH: return MILTER_PROTO_NOEOH;
	case MILTER_CMD_BODY: return MILTER_PROTO_NOBODY;
	case MILTER_CMD_UNKNOWN: return MILTER_PROTO_NOUNKNOWN;
	default: return 0;
	}
}

static unsigned long step_noreply_bit(char cmd)
{
	switch (cmd) {
	case MILTER_CMD_CONNECT: return MILTER_PROTO_NR_CONN;
	case MILTER_CMD_HELO: return MILTER_PROTO_NR_HELO;
	case MILTER_CMD_MAIL: return MILTER_PROTO_NR_MAIL;
	case MILTER_CMD_RCPT: return MILTER_PROTO_NR_RCPT;
	case MILTER_CMD_DATA: return MILTER_PROTO_NR_DATA;
	case MILTER_CMD_HEADER: return MILTER_PROTO_NR_HDR;
	case MILTER_CMD_EOH: return MILTER_PROTO_NR_EOH;
	case MILTER_CMD_BODY: return MILTER_PROTO_NR_BODY;
	case MILTER_CMD_UNKNOWN: return MILTER_PROTO_NR_UNKN;
	default: return 0;
	}
}

/* Sends the step's macros (when it has any) and the command whose data is
 * in data/len, then reads the reply unless the filter said it sends none
 * (r is then CONTINUE).  1 ok, 0 the connection failed (m->error). */
static int link_exchange(struct smtp_session *s, struct milter_link *l, char cmd, const void *data, size_t len,
			 const char *arg, const char *mailer, struct milter_reply *r)
{
	long long deadline = conn_now_ms() + (long long)l->command_sec * 1000;
	struct buf copy = BUF_INIT;
	int ok;

	if (cmd == MILTER_CMD_CONNECT || cmd == MILTER_CMD_HELO || cmd == MILTER_CMD_MAIL || cmd == MILTER_CMD_RCPT
	    || cmd == MILTER_CMD_DATA || cmd == MILTER_CMD_EOM) {
		/* The command's data may live in m->out: keep it aside. */
		xbuf_cat(&copy, data, len);
		macros_build(s, &l->m, cmd, arg, mailer);
		if (!milter_queue(&l->m, MILTER_CMD_MACRO, l->m.out.data, l->m.out.len)) {
			buf_free(&copy);
			return 0;
		}
		data = copy.data;
	}
	ok = milter_send(&l->m, cmd, data, len, deadline);
	buf_free(&copy);
	if (!ok)
		return 0;
	memset(r, 0, sizeof *r);
	r->kind = MILTER_REPLY_CONTINUE;
	if (cmd == MILTER_CMD_EOM || !(l->m.protocol & step_noreply_bit(cmd)))
		return milter_read_reply(&l->m, r, (long long)(cmd == MILTER_CMD_EOM ? l->content_sec : l->command_sec) * 1000);
	return 1;
}

/* One step to one filter: its data built by the caller in l->m.out. */
static enum outcome link_step(struct smtp_session *s, struct milter_link *l, char cmd, const char *arg,
			      const char *mailer, struct refusal *out)
{
	struct milter_reply r;

	if (!l->open || l->message_done || (l->m.protocol & step_skip_bit(cmd)))
		return OUTCOME_GO;
	if (!link_exchange(s, l, cmd, l->m.out.data, l->m.out.len, arg, mailer, &r))
		return link_fail(s, l, cmd, l->m.error, out);
	return link_verdict(s, l, cmd, &r, out);
}

/* ---- the session steps ---------------------------------------------------------- */

static void link_open(struct smtp_session *s, struct milter_link *l, const char *address)
{
	struct refusal unused;

	milter_init(&l->m);
	if (s->max_size)
		milter_set_packet_max(&l->m, MILTER_PACKET_MAX_BYTES + (size_t)s->max_size);
	if (!milter_open(&l->m, address, (long long)l->connect_sec * 1000)
	    || !milter_negotiate(&l->m, MILTER_ACTIONS_OFFERED, MILTER_PROTOCOL_OFFERED, (long long)l->command_sec * 1000)) {
		(void)link_fail(s, l, MILTER_CMD_OPTNEG, l->m.error, &unused);
		return;
	}
	l->open = 1;
}

/* SMFIC_CONNECT: host name, family, port, address. */
static void connect_data(struct smtp_session *s, struct milter *m)
{
	const char *port = getenv("TCPREMOTEPORT");
	int known = strcmp(s->remote_ip, "unknown") != 0;

	milter_out_reset(m);
	if (!milter_out_string(m, s->remote_host ? s->remote_host : known ? s->remote_ip : "unknown")
	    || !milter_out_bytes(m, !known ? "U" : strchr(s->remote_ip, ':') ? "6" : "4", 1)
	    || (known && (!milter_out_u16(m, port ? (unsigned)strtoul(port, NULL, 10) : 0)
			  || !milter_out_string(m, s->remote_ip))))
		die_nomem();
}

/* A verdict of connect or HELO holds for the session. */
static void session_verdict(struct smtp_session *s, enum outcome o, const struct refusal *r)
{
	if (o == OUTCOME_REFUSE && !s->milters->session.code)
		s->milters->session = *r;
	if (o == OUTCOME_DISCARD)
		s->milters->session_discard = 1;
}

void smtpd_milter_connect(struct smtp_session *s)
{
	struct smtpd_milters *ms;
	struct refusal r;
	const char *value;
	char address[CONFIG_STRING_MAX], bad[CONFIG_STRING_MAX];
	size_t i;

	if (!smtpserver_conf_get_nth(&s->conf, "milter", 0))
		return;
	if (!(ms = calloc(1, sizeof *ms)))
		die_nomem();
	s->milters = ms;
	for (i = 0; ms->count < SMTPD_MILTER_MAX && (value = smtpserver_conf_get_nth(&s->conf, "milter", i)); i++) {
		struct milter_link *l = &ms->link[ms->count++];
		milter_init(&l->m);
		if (!line_parse(value, l, address, sizeof address, bad, sizeof bad)) {
			snprintf(l->m.error, sizeof l->m.error, "PARAM milter: bad word %.80s", bad);
			(void)link_fail(s, l, MILTER_CMD_OPTNEG, l->m.error, &r);
			continue;
		}
		link_open(s, l, address);
		if (!l->open)
			continue;
		connect_data(s, &l->m);
		session_verdict(s, link_step(s, l, MILTER_CMD_CONNECT, NULL, NULL, &r), &r);
	}
	if (smtpserver_conf_get_nth(&s->conf, "milter", i))
		log_warn("PARAM milter: only the first %d lines are used", SMTPD_MILTER_MAX);
}

void smtpd_milter_helo(struct smtp_session *s)
{
	struct refusal r;
	size_t i;

	if (!s->milters)
		return;
	for (i = 0; i < s->milters->count; i++) {
		struct milter_link *l = &s->milters->link[i];
		if (!l->open)
			continue;
		l->message_done = 0;
		milter_out_reset(&l->m);
		if (!milter_out_string(&l->m, s->helo.data ? s->helo.data : ""))
			die_nomem();
		session_verdict(s, link_step(s, l, MILTER_CMD_HELO, NULL, NULL, &r), &r);
	}
}

/* The ESMTP parameters after the path (already checked by the command's
 * parser), one string each as SMFIC_MAIL and SMFIC_RCPT carry them after
 * the address. */
static void out_params(struct milter_link *l, const char *params)
{
	const char *p = params ? params : "", *end;

	for (;;) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		for (end = p; *end && *end != ' '; end++)
			;
		if (!milter_out_bytes(&l->m, p, (size_t)(end - p)) || !milter_out_bytes(&l->m, "", 1))
			die_nomem();
		p = end;
	}
}

static void refuse(struct smtp_session *s, const char *cmd, const struct refusal *r)
{
	smtp_reply(s, r->code, r->enhanced, "%s", r->text);
	smtp_log_reject(s, cmd, r->code, r->enhanced, "milter");
}

int smtpd_milter_mail(struct smtp_session *s, const char *sender, const char *params)
{
	struct smtpd_milters *ms = s->milters;
	struct refusal r;
	struct buf path = BUF_INIT;
	size_t i;
	enum outcome o = OUTCOME_GO;

	if (!ms)
		return 1;
	ms->discard = ms->session_discard;
	if (ms->session.code) {
		refuse(s, "MAIL", &ms->session);
		return 0;
	}
	xbuf_catf(&path, "<%s>", sender);
	for (i = 0; o != OUTCOME_REFUSE && i < ms->count; i++) {
		struct milter_link *l = &ms->link[i];
		l->message_done = 0;
		if (!l->open)
			continue;
		milter_out_reset(&l->m);
		if (!milter_out_string(&l->m, path.data))
			die_nomem();
		out_params(l, params);
		l->in_message = 1;
		o = link_step(s, l, MILTER_CMD_MAIL, sender, NULL, &r);
		if (o == OUTCOME_DISCARD)
			ms->discard = 1;
	}
	buf_free(&path);
	if (o != OUTCOME_REFUSE)
		return 1;
	/* The filters that saw this MAIL forget it again. */
	smtpd_milter_abort(s);
	refuse(s, "MAIL", &r);
	return 0;
}

/* Sendmail's mailer names for {rcpt_mailer}: "local" for this system,
 * "smtp" for a remote domain (or one RCPT did not resolve), the resolver's
 * channel name otherwise. */
static const char *rcpt_mailer(int channel)
{
	if (channel < 0 || channel == RESOLVE_REMOTE)
		return "smtp";
	return resolve_channel_name((enum resolve_channel)channel);
}

int smtpd_milter_rcpt(struct smtp_session *s, const char *address, const char *params, int channel)
{
	struct smtpd_milters *ms = s->milters;
	struct refusal r;
	struct buf path = BUF_INIT;
	const char *mailer;
	size_t i;
	enum outcome o = OUTCOME_GO;

	if (!ms)
		return 1;
	if (ms->session.code) {
		refuse(s, "RCPT", &ms->session);
		return 0;
	}
	mailer = rcpt_mailer(channel);
	xbuf_catf(&path, "<%s>", address);
	for (i = 0; o != OUTCOME_REFUSE && i < ms->count; i++) {
		struct milter_link *l = &ms->link[i];
		if (!l->open)
			continue;
		milter_out_reset(&l->m);
		if (!milter_out_string(&l->m, path.data))
			die_nomem();
		out_params(l, params);
		o = link_step(s, l, MILTER_CMD_RCPT, address, mailer, &r);
		if (o == OUTCOME_DISCARD)
			ms->discard = 1;
	}
	buf_free(&path);
	if (o != OUTCOME_REFUSE)
		return 1;
	refuse(s, "RCPT", &r);
	return 0;
}

int smtpd_milter_unknown(struct smtp_session *s, const char *line)
{
	struct smtpd_milters *ms = s->milters;
	struct milter_reply r;
	struct refusal refusal = { 0 };
	size_t i;

	if (!ms)
		return 0;
	for (i = 0; !refusal.code && i < ms->count; i++) {
		struct milter_link *l = &ms->link[i];
		if (!l->open || (l->m.protocol & MILTER_PROTO_NOUNKNOWN))
			continue;
		milter_out_reset(&l->m);
		if (!milter_out_string(&l->m, line))
			die_nomem();
		if (!link_exchange(s, l, MILTER_CMD_UNKNOWN, l->m.out.data, l->m.out.len, NULL, NULL, &r)) {
			/* Its default action holds for the next MAIL; this
			 * command still gets the plain 500. */
			struct refusal later;
			(void)link_fail(s, l, MILTER_CMD_UNKNOWN, l->m.error, &later);
			continue;
		}
		/* The command is refused either way: a filter may only say how.
		 * Accept, continue and the rest leave the 500 as it is. */
		if (r.kind == MILTER_REPLY_REJECT || r.kind == MILTER_REPLY_TEMPFAIL || r.kind == MILTER_REPLY_REPLYCODE)
			(void)link_verdict(s, l, MILTER_CMD_UNKNOWN, &r, &refusal);
	}
	if (!refusal.code)
		return 0;
	smtp_reply(s, refusal.code, refusal.enhanced, "%s", refusal.text);
	return 1;
}

void smtpd_milter_abort(struct smtp_session *s)
{
	size_t i;

	if (!s->milters)
		return;
	for (i = 0; i < s->milters->count; i++) {
		struct milter_link *l = &s->milters->link[i];
		if (l->open && l->in_message
		    && !milter_send(&l->m, MILTER_CMD_ABORT, "", 0, conn_now_ms() + (long long)l->command_sec * 1000)) {
			struct refusal r;
			(void)link_fail(s, l, MILTER_CMD_ABORT, l->m.error, &r);
		}
		l->in_message = l->message_done = 0;
	}
	s->milters->discard = s->milters->session_discard;
}

void smtpd_milter_end(struct smtp_session *s)
{
	size_t i;

	if (!s->milters)
		return;
	for (i = 0; i < s->milters->count; i++) {
		struct milter_link *l = &s->milters->link[i];
		if (l->open)
			(void)milter_send(&l->m, MILTER_CMD_QUIT, "", 0, conn_now_ms() + 1000);
		milter_close(&l->m);
	}
	free(s->milters);
	s->milters = NULL;
}

/* ---- the message: a model the filters change ------------------------------------- */

struct header {
	struct buf field;           /* "Name: value\n", continuation lines included */
	size_t name_len;
};

struct model {
	struct header *h;
	size_t count, cap;
	struct buf body;            /* LF line ends */
	int changed;                /* headers or body */
	int envelope_changed;       /* sender or recipients */
	int spam;                   /* a filter set X-Spam-Flag: YES */
	int quarantine;
	struct buf new_body;        /* SMFIR_REPLBODY pieces of the current filter */
	int body_replaced;
};

static void model_insert(struct model *md, size_t at, const char *field, size_t len, size_t name_len)
{
	struct header *grown;

	if (md->count == md->cap) {
		md->cap = md->cap ? md->cap * 2 : 16;
		if (!(grown = realloc(md->h, md->cap * sizeof *md->h)))
			die_nomem();
		md->h = grown;
	}
	if (at > md->count)
		at = md->count;
	memmove(md->h + at + 1, md->h + at, (md->count - at) * sizeof *md->h);
	memset(&md->h[at], 0, sizeof md->h[at]);
	xbuf_cat(&md->h[at].field, field, len);
	md->h[at].name_len = name_len;
	md->count++;
}

static size_t field_name_len(const char *p, size_t n)
{
	const char *colon = memchr(p, ':', n);
	size_t len = colon ? (size_t)(colon - p) : n;

	while (len && (p[len - 1] == ' ' || p[len - 1] == '\t' || p[len - 1] == '\n'))
		len--;
	return len;
}

/* The stored message (LF line ends) into header fields and the body. */
static void model_load(struct model *md, const char *m, size_t len)
{
	struct buf whole = BUF_INIT;
	size_t h, i = 0, end, start = 0;
	const char *nl;

	xbuf_cat(&whole, m, len);
	h = smtpd_rewrite_header_length(&whole);
	while (i < h) {
		nl = memchr(m + i, '\n', h - i);
		end = nl ? (size_t)(nl - m) + 1 : h;
		if (i > start && m[i] != ' ' && m[i] != '\t') {
			model_insert(md, md->count, m + start, i - start, field_name_len(m + start, i - start));
			start = i;
		}
		i = end;
	}
	if (h > start)
		model_insert(md, md->count, m + start, h - start, field_name_len(m + start, h - start));
	if (h < len)
		xbuf_cat(&md->body, m + h + 1, len - h - 1);
	buf_free(&whole);
}

static void model_free(struct model *md)
{
	size_t i;

	for (i = 0; i < md->count; i++)
		buf_free(&md->h[i].field);
	free(md->h);
	buf_free(&md->body);
	buf_free(&md->new_body);
}

static void model_write(const struct model *md, struct buf *out)
{
	size_t i;

	for (i = 0; i < md->count; i++)
		xbuf_cat(out, md->h[i].field.data, md->h[i].field.len);
	xbuf_catc(out, '\n');
	xbuf_cat(out, md->body.data ? md->body.data : "", md->body.len);
}

/* SMFIC_HEADER data: the name, then the value without the space after the
 * colon and without the last LF (a folded value keeps its inner LFs). */
static void header_data(struct milter *m, const struct header *h)
{
	const char *p = h->field.data, *end = p + h->field.len, *v = memchr(p, ':', h->field.len);

	milter_out_reset(m);
	xbuf_cat(&m->out, p, h->name_len);
	xbuf_catc(&m->out, '\0');
	v = v ? v + 1 : end;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	if (end > v && end[-1] == '\n')
		end--;
	xbuf_cat(&m->out, v, (size_t)(end - v));
	xbuf_catc(&m->out, '\0');
}

/* "Name: value\n" from a filter's header; its CRLFs become LF.  0 when a
 * line would be longer than a header line may be. */
static int field_build(struct buf *out, const char *name, const char *value)
{
	size_t line;
	const char *p;

	buf_truncate(out, 0);
	xbuf_catf(out, "%s: ", name);
	for (p = value, line = out->len; *p; p++) {
		if (*p == '\r')
			continue;
		xbuf_catc(out, *p);
		line = *p == '\n' ? 0 : line + 1;
		if (line > SMTP_TEXT_LINE_MAX_BYTES)
			return 0;
	}
	xbuf_catc(out, '\n');
	return 1;
}

static int value_is_yes(const char *v)
{
	while (*v == ' ' || *v == '\t')
		v++;
	return strncasecmp(v, "YES", 3) == 0;
}

static int header_matches(const struct header *h, const char *name)
{
	return h->name_len == strlen(name) && strncasecmp(h->field.data, name, h->name_len) == 0;
}

/* addheader, insheader, chgheader (an empty value deletes). */
static int apply_header(struct model *md, const struct milter_reply *r)
{
	struct buf field = BUF_INIT;
	size_t i, seen = 0, want = r->index ? r->index : 1;
	int ok = 1;

	if (r->kind != MILTER_REPLY_CHGHEADER || r->value[0])
		ok = field_build(&field, r->name, r->value);
	if (ok && strcasecmp(r->name, "X-Spam-Flag") == 0 && r->value[0])
		md->spam = value_is_yes(r->value);
	if (ok && r->kind == MILTER_REPLY_CHGHEADER) {
		for (i = 0; i < md->count && !(header_matches(&md->h[i], r->name) && ++seen == want); i++)
			;
		if (i < md->count) {
			buf_free(&md->h[i].field);
			memmove(md->h + i, md->h + i + 1, (md->count - i - 1) * sizeof *md->h);
			md->count--;
		} else if (!r->value[0]) {
			buf_free(&field);
			return 1;   /* nothing to delete */
		}
		if (r->value[0])
			model_insert(md, i < md->count + 1 ? i : md->count, field.data, field.len, strlen(r->name));
	} else if (ok) {
		model_insert(md, r->kind == MILTER_REPLY_INSHEADER ? r->index : md->count, field.data, field.len,
			     strlen(r->name));
	}
	buf_free(&field);
	md->changed = md->changed || ok;
	return ok;
}

/* The collected SMFIR_REPLBODY pieces as the new body: CRLF (or a bare LF)
 * ends a line; no bare CR, no NUL, no line over 998, the size limit kept.
 * NULL ok, else why not. */
static const char *body_take(struct smtp_session *s, struct model *md)
{
	struct buf body = BUF_INIT;
	const char *p = md->new_body.data, *end = p + md->new_body.len, *bad;
	unsigned long long size = 0;
	size_t i;

	for (; p && p < end; p++) {
		if (*p == '\r' && p + 1 < end && p[1] == '\n')
			continue;
		xbuf_catc(&body, *p);
	}
	if (body.len && body.data[body.len - 1] != '\n')
		xbuf_catc(&body, '\n');
	for (i = 0; i < md->count; i++)
		size += md->h[i].field.len;
	bad = body.len ? smtpd_rewrite_check(&body) : NULL;
	if (!bad && s->max_size && size + body.len > s->max_size)
		bad = "too-big";
	if (!bad) {
		buf_free(&md->body);
		md->body = body;
		md->changed = 1;
		return NULL;
	}
	buf_free(&body);
	return bad;
}

/* ---- the envelope changes ---------------------------------------------------------- */

/* A filter's address ("<a@b>" or "a@b") through the SMTP path parser. */
static int path_parse(const char *text, struct buf *address)
{
	struct buf wrapped = BUF_INIT;
	const char *params, *why;
	int ok;

	if (text[0] == '<')
		xbuf_cats(&wrapped, text);
	else
		xbuf_catf(&wrapped, "<%s>", text);
	ok = address_parse_path(wrapped.data, ADDRESS_ALLOW_UTF8, address, &params, &why) && !*params;
	buf_free(&wrapped);
	return ok;
}

/* An added recipient passes the resolver as RCPT would: never an open
 * relay, never an unknown local user.  1 ok, 0 why says why not. */
static int rcpt_resolvable(struct smtp_session *s, const char *address, unsigned long *usernum, const char **why)
{
	struct resolve_result res;
	struct buf local = BUF_INIT, domain = BUF_INIT;
	int ok = 0;

	*why = "bad-address";
	if (!address_split(address, &local, &domain) || !address_domain_valid(domain.data, ADDRESS_ALLOW_UTF8))
		goto done;
	*why = "resolver-unavailable";
	if (!session_resolver(s))
		goto done;
	resolve_result_init(&res);
	s->resolver.sender = s->sender.data ? s->sender.data : "";
	s->resolver.auth_user = s->auth_user.len ? s->auth_user.data : NULL;
	if (!resolve_recipient(&s->resolver, address, &res))
		*why = "resolver-failed";
	else if (res.channel == RESOLVE_REJECT)
		*why = "unknown-recipient";
	else if (res.is_relay && !s->relay_allowed)
		*why = "relaying-denied";
	else
		ok = 1;
	*usernum = res.channel == RESOLVE_LOCAL ? res.usernum : 0;
	resolve_result_free(&res);
done:
	buf_free(&local);
	buf_free(&domain);
	return ok;
}


static void log_envelope(struct smtp_session *s, const struct milter_link *l, const char *action,
			 const char *address, const char *result)
{
	struct buf v = BUF_INIT, a = BUF_INIT;

	log_notice("id=%s event=milter milter=%s step=eom action=%s address=%s result=%s", s->id,
		   xlog_value(&v, l->name), action, smtp_log_path(&a, address), result);
	buf_free(&v);
	buf_free(&a);
}

static void apply_addrcpt(struct smtp_session *s, struct model *md, const struct milter_link *l, const char *text)
{
	struct buf address = BUF_INIT;
	unsigned long usernum = 0;
	const char *why = "bad-address";

	if (path_parse(text, &address) && address.len && rcpt_resolvable(s, address.data, &usernum, &why)) {
		(void)xsmtp_rcpt_new(s, address.data, usernum);
		md->envelope_changed = 1;
		log_envelope(s, l, "addrcpt", address.data, "added");
	} else {
		log_envelope(s, l, "addrcpt", address.len ? address.data : text, why);
	}
	buf_free(&address);
}

static void apply_delrcpt(struct smtp_session *s, struct model *md, const struct milter_link *l, const char *text)
{
	struct buf address = BUF_INIT;
	size_t i, removed = 0;

	if (path_parse(text, &address))
		for (i = 0; i < s->rcpt_count; i++)
			if (s->rcpt[i].mail && strcasecmp(s->rcpt[i].address, address.data ? address.data : "") == 0)
				s->rcpt[i].mail = 0, removed++;
	md->envelope_changed = md->envelope_changed || removed;
	log_envelope(s, l, "delrcpt", address.len ? address.data : text, removed ? "removed" : "not-a-recipient");
	buf_free(&address);
}

static void apply_chgfrom(struct smtp_session *s, struct model *md, const struct milter_link *l, const char *text)
{
	struct buf address = BUF_INIT;

	if (path_parse(text, &address)) {
		xbuf_copys(&s->sender, address.data ? address.data : "");
		md->envelope_changed = 1;
		log_envelope(s, l, "chgfrom", s->sender.data, "changed");
	} else {
		log_envelope(s, l, "chgfrom", text, "bad-address");
	}
	buf_free(&address);
}

/* ---- end of message: one filter ------------------------------------------------------ */

/* The action bit a modification needs. */
static unsigned long action_bit(enum milter_reply_kind k)
{
	switch (k) {
	case MILTER_REPLY_ADDHEADER: return MILTER_ACT_ADDHDRS;
	case MILTER_REPLY_INSHEADER: return MILTER_ACT_ADDHDRS;
	case MILTER_REPLY_CHGHEADER: return MILTER_ACT_CHGHDRS;
	case MILTER_REPLY_REPLBODY: return MILTER_ACT_CHGBODY;
	case MILTER_REPLY_ADDRCPT: return MILTER_ACT_ADDRCPT;
	case MILTER_REPLY_ADDRCPT_PAR: return MILTER_ACT_ADDRCPT_PAR;
	case MILTER_REPLY_DELRCPT: return MILTER_ACT_DELRCPT;
	case MILTER_REPLY_CHGFROM: return MILTER_ACT_CHGFROM;
	case MILTER_REPLY_QUARANTINE: return MILTER_ACT_QUARANTINE;
	default: return 0;
	}
}

/* What a body replacement may add up to on the wire (CRLF line ends may
 * double the stored size). */
static size_t body_max(const struct smtp_session *s)
{
	if (!s->max_size || s->max_size > SMTPD_MILTER_BODY_MAX_BYTES / 2)
		return SMTPD_MILTER_BODY_MAX_BYTES;
	return (size_t)s->max_size * 2;
}

/* One modification of SMFIC_EOM's answer.  1 applied (or logged and
 * dropped), 0 a protocol error (m->error). */
static int apply_change(struct smtp_session *s, struct milter_link *l, struct model *md, const struct milter_reply *r)
{
	unsigned long bit = action_bit(r->kind);

	if (!bit || !(l->m.actions & bit)) {
		snprintf(l->m.error, sizeof l->m.error, "%s not negotiated or not a modification",
			 milter_reply_name(r->kind));
		return 0;
	}
	switch (r->kind) {
	case MILTER_REPLY_REPLBODY:
		if (md->new_body.len + r->data_len > body_max(s)) {
			snprintf(l->m.error, sizeof l->m.error, "%s", "replaced body over the size limit");
			return 0;
		}
		xbuf_cat(&md->new_body, r->data, r->data_len);
		md->body_replaced = 1;
		return 1;
	case MILTER_REPLY_ADDRCPT:
	case MILTER_REPLY_ADDRCPT_PAR: apply_addrcpt(s, md, l, r->address); return 1;
	case MILTER_REPLY_DELRCPT: apply_delrcpt(s, md, l, r->address); return 1;
	case MILTER_REPLY_CHGFROM: apply_chgfrom(s, md, l, r->address); return 1;
	case MILTER_REPLY_QUARANTINE: {
		struct buf v = BUF_INIT, t = BUF_INIT;
		md->quarantine = 1;
		log_notice("id=%s event=milter milter=%s step=eom action=quarantine reason=%s", s->id,
			   xlog_value(&v, l->name), xlog_value(&t, r->text));
		buf_free(&v);
		buf_free(&t);
		return 1;
	}
	default:
		if (apply_header(md, r))
			return 1;
		snprintf(l->m.error, sizeof l->m.error, "%s", "header line too long");
		return 0;
	}
}

/* Sends the headers, the end of the header, the body (CRLF line ends, in
 * chunks) to one filter.  OUTCOME_GO to go on to SMFIC_EOM. */
static enum outcome link_content(struct smtp_session *s, struct milter_link *l, struct model *md, struct refusal *out)
{
	struct buf chunk = BUF_INIT;
	const char *p = md->body.data, *end = p + md->body.len;
	enum outcome o = OUTCOME_GO;
	size_t i;

	for (i = 0; o == OUTCOME_GO && !l->message_done && i < md->count; i++) {
		header_data(&l->m, &md->h[i]);
		o = link_step(s, l, MILTER_CMD_HEADER, NULL, NULL, out);
	}
	milter_out_reset(&l->m);
	if (o == OUTCOME_GO)
		o = link_step(s, l, MILTER_CMD_EOH, NULL, NULL, out);
	if (l->m.protocol & MILTER_PROTO_NOBODY)
		p = end;
	for (; o == OUTCOME_GO && p && p < end && l->open && !l->message_done; p++) {
		if (*p == '\n')
			xbuf_catc(&chunk, '\r');
		xbuf_catc(&chunk, *p);
		if (chunk.len >= MILTER_BODY_CHUNK_MAX_BYTES - 1 || p + 1 == end) {
			struct milter_reply r;
			if (!link_exchange(s, l, MILTER_CMD_BODY, chunk.data, chunk.len, NULL, NULL, &r))
				o = link_fail(s, l, MILTER_CMD_BODY, l->m.error, out);
			else if (r.kind == MILTER_REPLY_SKIP && (l->m.protocol & MILTER_PROTO_SKIP))
				break;
			else
				o = link_verdict(s, l, MILTER_CMD_BODY, &r, out);
			buf_truncate(&chunk, 0);
		}
	}
	buf_free(&chunk);
	return o;
}

/* SMFIC_EOM, then the modifications until the final reply. */
static enum outcome link_eom(struct smtp_session *s, struct milter_link *l, struct model *md, struct refusal *out)
{
	struct milter_reply r;
	const char *bad;
	enum outcome o;

	milter_out_reset(&l->m);
	buf_truncate(&md->new_body, 0);
	md->body_replaced = 0;
	if (!link_exchange(s, l, MILTER_CMD_EOM, "", 0, NULL, NULL, &r))
		return link_fail(s, l, MILTER_CMD_EOM, l->m.error, out);
	while (action_bit(r.kind)) {
		if (!apply_change(s, l, md, &r))
			return link_fail(s, l, MILTER_CMD_EOM, l->m.error, out);
		if (!milter_read_reply(&l->m, &r, (long long)l->content_sec * 1000))
			return link_fail(s, l, MILTER_CMD_EOM, l->m.error, out);
	}
	o = link_verdict(s, l, MILTER_CMD_EOM, &r, out);
	l->in_message = 0;
	if (o == OUTCOME_GO && md->body_replaced && (bad = body_take(s, md))) {
		snprintf(l->m.error, sizeof l->m.error, "replaced body broke the line rules: %s", bad);
		o = link_fail(s, l, MILTER_CMD_EOM, l->m.error, out);
	}
	return o;
}

static enum outcome link_message(struct smtp_session *s, struct milter_link *l, struct model *md, struct refusal *out)
{
	enum outcome o;

	if (!l->open || l->message_done)
		return OUTCOME_GO;
	milter_out_reset(&l->m);
	o = link_step(s, l, MILTER_CMD_DATA, NULL, NULL, out);
	if (o == OUTCOME_GO && l->open && !l->message_done)
		o = link_content(s, l, md, out);
	if (o == OUTCOME_GO && l->open && !l->message_done)
		o = link_eom(s, l, md, out);
	return o;
}

/* ---- end of message: all filters, then the spool file ------------------------------------ */

static int freezer_ready(void)
{
	char dir[PATH_MAX];

	return home_path(dir, sizeof dir, SPOOL_FREEZER_DIR) && (mkdir(dir, home_dir_mode()) == 0 || errno == EEXIST);
}

/* The spool file again: the envelope as the session has it now, then the
 * message, tagged once. */
static int spool_write(struct smtp_session *s, struct model *md, int tagged_before)
{
	struct buf head = BUF_INIT, message = BUF_INIT, stored = BUF_INIT;
	int ok;

	if (md->quarantine && !freezer_ready())
		return 0;
	if (md->quarantine)
		s->sink.dest_dir = SPOOL_FREEZER_DIR;
	model_write(md, &message);
	smtpd_rewrite_retag(&message, md->spam || tagged_before, &stored);
	ok = smtpd_data_envelope(s, &head) && smtpd_rewrite_rebuild(s, head.data, head.len, &stored);
	buf_free(&head);
	buf_free(&message);
	buf_free(&stored);
	return ok;
}

static size_t mail_recipients(const struct smtp_session *s)
{
	size_t i, n = 0;

	for (i = 0; i < s->rcpt_count; i++)
		n += s->rcpt[i].mail != 0;
	return n;
}

static int message_drop(struct smtp_session *s, const char *why)
{
	smtp_reply(s, 250, "2.0.0", "Ok: queued as %s", s->id);
	log_notice("id=%s event=milter-discard ip=%s reason=%s: message dropped", s->id, s->remote_ip, why);
	return 1;
}

/* The DNSBL tagged it already (the sink dropped any client's tag). */
static int message_tagged(const struct envelope *e)
{
	struct buf whole = BUF_INIT;
	int tagged;

	xbuf_cat(&whole, e->message, e->message_len);
	tagged = smtpd_rewrite_has_spam_flag(&whole);
	buf_free(&whole);
	return tagged;
}

int smtpd_milter_finish(struct smtp_session *s, const char *cmd)
{
	struct smtpd_milters *ms = s->milters;
	struct model md;
	struct envelope e;
	struct refusal r;
	size_t i, head_len;
	enum outcome o = OUTCOME_GO;
	int tagged_before, result = 1;

	if (!ms)
		return 0;
	if (ms->session.code) {
		refuse(s, cmd, &ms->session);
		return 1;
	}
	memset(&md, 0, sizeof md);
	envelope_init(&e);
	if (!smtpd_rewrite_split(s, &e, &head_len)) {
		log_warn("id=%s unable to read the spool file for the milters: %s", s->id, strerror(errno));
		refusal_set(&r, 451, "4.3.0", "Temporary local problem, try again later");
		refuse(s, cmd, &r);
		goto done;
	}
	model_load(&md, e.message, e.message_len);
	tagged_before = message_tagged(&e);
	for (i = 0; o == OUTCOME_GO && i < ms->count; i++)
		o = link_message(s, &ms->link[i], &md, &r);
	if (o == OUTCOME_REFUSE)
		refuse(s, cmd, &r);
	else if (o == OUTCOME_DISCARD || ms->discard)
		message_drop(s, "discard");
	else if (!mail_recipients(s))
		message_drop(s, "no-recipients-left");
	else if ((md.changed || md.envelope_changed || md.quarantine || (md.spam && !tagged_before))
		 && !spool_write(s, &md, tagged_before)) {
		log_warn("id=%s unable to rebuild the spool file for the milters: %s", s->id, strerror(errno));
		refusal_set(&r, 451, "4.3.0", "Temporary local problem, try again later");
		refuse(s, cmd, &r);
	} else {
		result = 0;
		if (md.quarantine)
			log_notice("id=%s event=frozen ip=%s: bound for %s", s->id, s->remote_ip, SPOOL_FREEZER_DIR);
	}
done:
	/* The filters that did not see the end of this message forget it. */
	smtpd_milter_abort(s);
	model_free(&md);
	envelope_free(&e);
	return result;
}
