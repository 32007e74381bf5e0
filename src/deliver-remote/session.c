/* session: one delivery child.  It finds the destination's hosts (MX in
 * order, the implicit MX, an address literal, or the relay), connects to
 * them in turn until one answers, uses STARTTLS whenever it is offered (a
 * failed handshake is retried once in plain text on the same address),
 * authenticates to the relay, and sends its messages one transaction each
 * over the same connection (RSET between them), writing one result line
 * per recipient for the parent (remote.h). */
#include "remote.h"
#include "buf.h"
#include "dns.h"
#include "file.h"
#include "log.h"
#include "record.h"
#include "smtpclient.h"
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* Addresses tried for one destination before it counts as unreachable
 * (every MX host's addresses, in order). */
#define SESSION_ADDRESSES_MAX 10
/* Recipients in one transaction; more go in further transactions. */
#define SESSION_RCPT_PER_TRANSACTION 50

struct session_address {
	char host[256];
	struct sockaddr_storage addr;
	socklen_t len;
};

struct session {
	const struct remote_ctx *ctx;
	const struct remote_lane *lane;
	int out;                               /* result pipe */
	struct session_address addrs[SESSION_ADDRESSES_MAX];
	size_t addr_count;
	unsigned port;
	char mta[320];                         /* "host [ip]" of the current peer */
	char relay_field[320];                 /* "host[ip]:port" for the log */
	/* The last failure to reach a host, for the recipients left over. */
	int last_code;                         /* 0 until a host failed */
	char last_status[SMTPCLIENT_STATUS_BYTES];
	char last_text[SMTPCLIENT_ERROR_BYTES + 400];
	int reached;                           /* some host took part of a transaction */
	int used;                              /* transactions on this connection */
	struct smtpclient_timeouts timeouts;
	unsigned char *resolved;               /* per recipient slot of the lane */
};

static void session_result(struct session *s, size_t job, size_t rcpt, enum remote_kind kind, int code,
			   const char *status, const char *fields, const char *text)
{
	if (!remote_result_write(s->out, job, rcpt, kind, code, status, s->mta[0] ? s->mta : NULL, fields, text))
		_exit(111);   /* the parent is gone: it defers what has no result */
}

/* Reports every recipient of the lane not resolved yet, the same way. */
static void session_fail_rest(struct session *s, size_t from, enum remote_kind kind, int code, const char *status,
			      const char *text)
{
	size_t i, j, slot = 0;

	for (i = 0; i < s->lane->count; i++) {
		const struct remote_message *m = &s->lane->dest->messages[s->lane->first + i];
		for (j = 0; j < m->count; j++, slot++)
			if (i >= from && !s->resolved[slot]) {
				session_result(s, m->job, m->rcpt[j], kind, code, status, NULL, text);
				s->resolved[slot] = 1;
			}
	}
}

static int session_add_address(struct session *s, const char *host, const struct sockaddr *sa, socklen_t len)
{
	struct session_address *a;

	if (s->addr_count == SESSION_ADDRESSES_MAX)
		return 0;
	a = &s->addrs[s->addr_count++];
	snprintf(a->host, sizeof a->host, "%s", host);
	memcpy(&a->addr, sa, len);
	a->len = len;
	return 1;
}

/* An IP literal: "192.0.2.1", "::1", "[192.0.2.1]", "[IPv6:2001:db8::1]".
 * 1 when text is one (added), 0 when it is a name. */
static int session_literal(struct session *s, const char *text)
{
	char ip[INET6_ADDRSTRLEN + 8];
	size_t n = strlen(text);
	struct sockaddr_in v4;
	struct sockaddr_in6 v6;

	if (text[0] == '[' && n > 2 && text[n - 1] == ']') {
		text++;
		n -= 2;
		if (n > 5 && strncasecmp(text, "IPv6:", 5) == 0) {
			text += 5;
			n -= 5;
		}
	}
	if (n >= sizeof ip)
		return 0;
	memcpy(ip, text, n);
	ip[n] = 0;
	memset(&v4, 0, sizeof v4);
	memset(&v6, 0, sizeof v6);
	if (inet_pton(AF_INET, ip, &v4.sin_addr) == 1) {
		v4.sin_family = AF_INET;
		return session_add_address(s, ip, (struct sockaddr *)&v4, sizeof v4) || 1;
	}
	if (inet_pton(AF_INET6, ip, &v6.sin6_addr) == 1) {
		v6.sin6_family = AF_INET6;
		return session_add_address(s, ip, (struct sockaddr *)&v6, sizeof v6) || 1;
	}
	return 0;
}

static void session_add_list(struct session *s, const char *host, const struct dns_address_list *list)
{
	size_t i;

	for (i = 0; i < list->count; i++)
		session_add_address(s, host, (const struct sockaddr *)&list->items[i],
				    list->items[i].ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
									  : sizeof(struct sockaddr_in));
}

/* Fills s->addrs.  On a DNS answer that settles the matter (no such
 * domain, a null MX) every recipient is failed here; on a temporary DNS
 * failure deferred.  1 when there are addresses to try. */
static int session_find_hosts(struct session *s)
{
	const struct mail_config *cfg = &s->ctx->cfg;
	const char *dest = s->lane->dest->name;
	struct dns_resolver r;
	struct dns_destination d = { 0 };
	struct dns_address_list list = { 0 };
	enum dns_status st;
	unsigned own = (unsigned)-1;   /* our own MX preference, if we are one */
	char why[600];
	size_t i;

	s->port = s->ctx->relay ? cfg->relay_port : cfg->outbound_port;
	if (session_literal(s, dest))
		return 1;
	if (!dns_init(&r, cfg->dns_server, (cfg->options & MAIL_OPTION(USE_TCP_DNS)) ? DNS_USE_TCP : 0, 0)) {
		snprintf(why, sizeof why, "DNSServer %s: %s", cfg->dns_server, dns_error(&r));
		session_fail_rest(s, 0, REMOTE_TEMPORARY, 451, "4.4.3", why);
		return 0;
	}
	if (s->ctx->relay) {
		st = dns_addresses(&r, dest, &list);
		if (st == DNS_OK)
			session_add_list(s, dest, &list);
	} else {
		st = dns_destination(&r, dest, &d);
		/* RFC 5321 §5.1: when we are an MX of the destination ourselves,
		 * only hosts of a better preference than ours may take it. */
		for (i = 0; st == DNS_OK && i < d.count; i++)
			if (strcasecmp(d.hosts[i].name, cfg->host_name) == 0 && d.hosts[i].preference < own)
				own = d.hosts[i].preference;
		for (i = 0; st == DNS_OK && i < d.count; i++)
			if (d.hosts[i].preference < own)
				session_add_list(s, d.hosts[i].name, &d.hosts[i].addresses);
		if (st == DNS_OK && !s->addr_count) {
			snprintf(why, sizeof why, "mail for %s loops back to myself (%s is its best MX)", dest,
				 cfg->host_name);
			session_fail_rest(s, 0, REMOTE_PERMANENT, 554, "5.4.6", why);
			dns_destination_free(&d);
			dns_free(&r);
			return 0;
		}
	}
	switch (st) {
	case DNS_OK:
		break;
	case DNS_NULL_MX:
		snprintf(why, sizeof why, "the domain %s accepts no mail (null MX)", dest);
		session_fail_rest(s, 0, REMOTE_PERMANENT, 556, "5.1.10", why);
		break;
	case DNS_NOTFOUND:
		snprintf(why, sizeof why, "host or domain name not found: %s: %s", dest, dns_error(&r));
		session_fail_rest(s, 0, REMOTE_PERMANENT, 550, "5.1.2", why);
		break;
	case DNS_PERMFAIL:
		snprintf(why, sizeof why, "the domain %s cannot be looked up: %s", dest, dns_error(&r));
		session_fail_rest(s, 0, REMOTE_PERMANENT, 553, "5.1.2", why);
		break;
	case DNS_TEMPFAIL:
		snprintf(why, sizeof why, "DNS lookup of %s failed: %s", dest, dns_error(&r));
		session_fail_rest(s, 0, REMOTE_TEMPORARY, 451, "4.4.3", why);
		remote_down_write(s->out, why);
		break;
	}
	dns_destination_free(&d);
	dns_address_list_free(&list);
	dns_free(&r);
	return st == DNS_OK && s->addr_count > 0;
}

static void session_set_port(struct session_address *a, unsigned port)
{
	if (a->addr.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&a->addr)->sin6_port = htons((uint16_t)port);
	else
		((struct sockaddr_in *)&a->addr)->sin_port = htons((uint16_t)port);
}

static void session_name_peer(struct session *s, const struct session_address *a)
{
	char ip[INET6_ADDRSTRLEN];
	const void *raw = a->addr.ss_family == AF_INET6 ? (const void *)&((const struct sockaddr_in6 *)&a->addr)->sin6_addr
							 : (const void *)&((const struct sockaddr_in *)&a->addr)->sin_addr;

	if (!inet_ntop(a->addr.ss_family, raw, ip, sizeof ip))
		snprintf(ip, sizeof ip, "?");
	snprintf(s->mta, sizeof s->mta, "%s [%s]", a->host, ip);
	snprintf(s->relay_field, sizeof s->relay_field, "%s[%s]:%u", a->host, ip, s->port);
}

/* Remembers why a host could not take the messages.  What is left over is
 * tried again later, whatever the host said (another host, or the same
 * one later, may take it): a 5xx here is kept as its 4xx counterpart. */
static void session_note_error(struct session *s, const struct smtpclient *c, const char *what)
{
	int code = c->error.code;

	s->last_code = code >= 500 ? code - 100 : code >= 400 ? code : 451;
	snprintf(s->last_status, sizeof s->last_status, "%s", c->error.status[0] ? c->error.status : "4.4.1");
	s->last_status[0] = '4';
	snprintf(s->last_text, sizeof s->last_text, "%s %s: %s", what, s->relay_field, c->error.text);
	struct buf quoted = BUF_INIT;

	log_info("destination=%s event=host-failed relay=%s reason=%s", s->lane->dest->name, s->relay_field,
		 xlog_value(&quoted, c->error.text));
	buf_free(&quoted);
}

static void session_timeouts(const struct mail_config *cfg, struct smtpclient_timeouts *t)
{
	int cap = (int)cfg->outbound_timeout_sec, *each[] = { &t->greeting, &t->helo, &t->starttls, &t->auth,
							      &t->mail, &t->rcpt, &t->data_init, &t->data_block,
							      &t->data_done, &t->rset, &t->quit };
	size_t i;

	smtpclient_timeouts_default(t);
	for (i = 0; cap > 0 && i < sizeof each / sizeof each[0]; i++)
		if (*each[i] > cap)
			*each[i] = cap;
}

/* The relay's AUTH mechanism from the RELAY_AUTH_* options; NULL: none. */
static const char *session_auth_mech(const struct mail_config *cfg)
{
	if (cfg->options & MAIL_OPTION(RELAY_AUTH_CRAM_MD5))
		return "CRAM-MD5";
	if (cfg->options & MAIL_OPTION(RELAY_AUTH_LOGIN))
		return "LOGIN";
	if (cfg->options & MAIL_OPTION(RELAY_AUTH_PLAIN))
		return "PLAIN";
	return NULL;
}

/* Connects to address a and gets the session ready: greeting, EHLO,
 * STARTTLS when offered (plain_only: not this time), AUTH to the relay.
 * 1 ready; 0 with the reason noted (try the next address); -1 when the
 * relay refused our credentials (no other host would do better). */
static int session_open(struct session *s, struct smtpclient *c, struct session_address *a, int plain_only)
{
	const struct mail_config *cfg = &s->ctx->cfg;
	const char *mech = s->ctx->relay && cfg->relay_username[0] ? session_auth_mech(cfg) : NULL;

	session_set_port(a, s->port);
	session_name_peer(s, a);
	smtpclient_close(c);
	smtpclient_init(c, &s->timeouts);
	s->used = 0;
	if (!smtpclient_connect(c, (struct sockaddr *)&a->addr, a->len, cfg->outbound_interface,
				(int)cfg->connect_timeout_sec)) {
		session_note_error(s, c, "connect to");
		return 0;
	}
	if (!smtpclient_ehlo(c, cfg->host_name)) {
		session_note_error(s, c, "EHLO/HELO to");
		smtpclient_close(c);
		return 0;
	}
	if (!plain_only && (c->caps.flags & SMTPCLIENT_CAP_STARTTLS)
	    && !smtpclient_starttls(c, a->host, 0, NULL)) {
		struct buf quoted = BUF_INIT;
		int again = c->error.connection;
		log_notice("destination=%s event=%s relay=%s next=%s reason=%s", s->lane->dest->name,
			   again ? "tls-failed" : "tls-refused", s->relay_field, again ? "retry-plain" : "plain",
			   xlog_value(&quoted, c->error.text));
		buf_free(&quoted);
		if (again) {
			smtpclient_close(c);
			return session_open(s, c, a, 1);
		}
	}
	if (mech && !smtpclient_auth(c, mech, cfg->relay_username, cfg->relay_password,
				     cfg->relay_auth_plaintext != 0)) {
		session_note_error(s, c, "AUTH to");
		smtpclient_quit(c);
		return -1;
	}
	log_info("destination=%s event=session relay=%s tls=%s verified=%s auth=%s pipelining=%s", s->lane->dest->name,
		 s->relay_field, c->tls[0] ? "yes" : "no", c->tls_verified ? "yes" : "no",
		 c->authenticated ? c->auth_mech : "none", (c->caps.flags & SMTPCLIENT_CAP_PIPELINING) ? "yes" : "no");
	if (c->tls[0])
		log_info("destination=%s event=tls relay=%s %s", s->lane->dest->name, s->relay_field, c->tls);
	return 1;
}

/* The message of a job: its body file (or the job file itself, for a job
 * written by an older bbsmail) after the record. */
static int session_read_message(const struct stage_job *job, struct buf *file, const char **msg, size_t *len)
{
	size_t record_len;

	if (!file_read_fd(job->message_inline ? job->fd : job->body_fd, file))
		return 0;
	if (!(record_len = record_length(file->data, file->len))) {
		errno = EBADMSG;
		return 0;
	}
	*msg = file->data + record_len;
	*len = file->len - record_len;
	return 1;
}

/* The log fields of a recipient the peer took. */
static void session_sent_fields(struct session *s, const struct smtpclient *c, const struct smtpclient_result *r,
				struct buf *out)
{
	struct buf quoted = BUF_INIT;

	buf_truncate(out, 0);
	if (!log_quote(&quoted, r->text.data ? r->text.data : "", r->text.len) || !buf_catc(&quoted, 0)
	    || !buf_catf(out, "relay=%s tls=%s reply=\"%d %s\" text=%s", s->relay_field, c->tls[0] ? "yes" : "no",
			 r->code, r->status[0] ? r->status : "-", quoted.data))
		die_nomem();
	buf_free(&quoted);
}

/* The peer's 250s go into the sent-log before the parent hears of them. */
static void session_log_sent(const struct session *s, const struct stage_job *job, const struct smtpclient_rcpt *rcpt,
			     const struct smtpclient_result *result, size_t n)
{
	const char *taken[SESSION_RCPT_PER_TRANSACTION];
	size_t i, k = 0;

	for (i = 0; i < n; i++)
		if (result[i].code >= 200 && result[i].code < 300)
			taken[k++] = rcpt[i].address;
	if (k && !remote_sent_append(job->name, taken, k))
		log_warn("id=%s destination=%s: unable to write the sent-log: %s", job->name, s->lane->dest->name,
			 strerror(errno));
}

/* One message's recipients not yet resolved, in transactions of at most
 * SESSION_RCPT_PER_TRANSACTION.  1 when each got an answer; 0 when the
 * session broke (the ones left are tried on the next host, unless the
 * message itself may have gone out: those wait for a later attempt). */
static int session_send(struct session *s, struct smtpclient *c, size_t index, unsigned char *resolved)
{
	const struct remote_message *m = &s->lane->dest->messages[s->lane->first + index];
	const struct stage_job *job = s->ctx->jobs[m->job];
	struct smtpclient_rcpt rcpt[SESSION_RCPT_PER_TRANSACTION];
	struct smtpclient_result result[SESSION_RCPT_PER_TRANSACTION];
	size_t slot_of[SESSION_RCPT_PER_TRANSACTION];
	struct smtpclient_envelope env;
	struct buf file = BUF_INIT, fields = BUF_INIT;
	const char *message;
	size_t len, i, n, next = 0;
	unsigned facts;
	int ok = 1;

	if (!session_read_message(job, &file, &message, &len)) {
		char why[200];
		snprintf(why, sizeof why, "unable to read the message: %s", strerror(errno));
		for (i = 0; i < m->count; i++)
			if (!resolved[i])
				session_result(s, m->job, m->rcpt[i], REMOTE_TEMPORARY, 451, "4.3.0", NULL, why);
		memset(resolved, 1, m->count);
		buf_free(&file);
		return 1;
	}
	memset(&env, 0, sizeof env);
	env.sender = job->env->sender;
	env.ret = job->env->ret;
	env.envid = job->env->envid;
	env.smtputf8 = job->env->smtputf8;
	while (ok && next < m->count) {
		for (n = 0; next < m->count && n < SESSION_RCPT_PER_TRANSACTION; next++) {
			const struct envelope_rcpt *r = &job->env->rcpt[m->rcpt[next]];
			if (resolved[next])
				continue;
			rcpt[n].address = r->target;
			rcpt[n].notify = r->notify;
			rcpt[n].orcpt = r->orcpt;
			smtpclient_result_init(&result[n]);
			slot_of[n++] = next;
		}
		if (!n)
			break;
		if (!smtpclient_usable(c) || (s->used && !smtpclient_rset(c))) {
			for (i = 0; i < n; i++)
				smtpclient_result_free(&result[i]);
			ok = 0;
			break;
		}
		env.rcpt = rcpt;
		env.rcpt_count = n;
		facts = 0;
		ok = smtpclient_send(c, &env, message, len, result, &facts);
		s->reached = 1;
		s->used++;
		session_log_sent(s, job, rcpt, result, n);
		for (i = 0; i < n; i++) {
			struct smtpclient_result *r = &result[i];
			size_t k = slot_of[i];
			const char *text = r->text.data ? r->text.data : "";
			if (r->code >= 200 && r->code < 300) {
				int relayed = !(c->caps.flags & SMTPCLIENT_CAP_DSN)
					      && envelope_notify_wants(rcpt[i].notify, "SUCCESS");
				session_sent_fields(s, c, r, &fields);
				session_result(s, m->job, m->rcpt[k], relayed ? REMOTE_RELAYED : REMOTE_SENT, r->code, r->status,
					       fields.data, text);
				resolved[k] = 1;
			} else if (r->code >= 400) {
				session_result(s, m->job, m->rcpt[k], r->code >= 500 ? REMOTE_PERMANENT : REMOTE_TEMPORARY,
					       r->code, r->status, NULL, text);
				resolved[k] = 1;
			} else if (facts & SMTPCLIENT_SENT_DATA) {
				char why[SMTPCLIENT_ERROR_BYTES + 400];
				snprintf(why, sizeof why, "lost the connection to %s while sending the message: %s",
					 s->relay_field, c->error.text);
				session_result(s, m->job, m->rcpt[k], REMOTE_TEMPORARY, 451, "4.4.2", NULL, why);
				resolved[k] = 1;
			}
			smtpclient_result_free(r);
		}
		if (!ok)
			session_note_error(s, c, "session with");
	}
	buf_free(&file);
	buf_free(&fields);
	return ok;
}

void remote_session_run(const struct remote_ctx *ctx, const struct remote_lane *lane, int fd)
{
	struct session s;
	struct smtpclient c;
	size_t total = 0, i, index = 0, next_addr = 0, slot = 0;

	signal(SIGPIPE, SIG_IGN);
	memset(&s, 0, sizeof s);
	s.ctx = ctx;
	s.lane = lane;
	s.out = fd;
	for (i = 0; i < lane->count; i++)
		total += lane->dest->messages[lane->first + i].count;
	if (!(s.resolved = calloc(total ? total : 1, 1)))
		_exit(111);
	if (!session_find_hosts(&s))
		_exit(0);
	session_timeouts(&ctx->cfg, &s.timeouts);
	smtpclient_init(&c, &s.timeouts);
	while (index < lane->count && next_addr < s.addr_count) {
		int opened = session_open(&s, &c, &s.addrs[next_addr], 0);
		if (opened < 0)
			break;
		if (!opened) {
			next_addr++;
			continue;
		}
		for (; index < lane->count; slot += lane->dest->messages[lane->first + index].count, index++)
			if (!session_send(&s, &c, index, s.resolved + slot))
				break;
		if (index < lane->count) {
			smtpclient_close(&c);
			next_addr++;
		}
	}
	if (smtpclient_usable(&c))
		smtpclient_quit(&c);
	smtpclient_close(&c);
	if (index < lane->count) {
		s.mta[0] = 0;
		if (!s.reached && s.last_text[0])
			remote_down_write(fd, s.last_text);
		session_fail_rest(&s, index, REMOTE_TEMPORARY, s.last_code ? s.last_code : 451,
				  s.last_code ? s.last_status : "4.4.1",
				  s.last_text[0] ? s.last_text : "no host of the destination could be reached");
	}
	_exit(0);
}
