#include "smtpd-commands.h"
#include "address.h"
#include "home.h"
#include "log.h"
#include "loginfail.h"
#include "maildir.h"
#include "smtpd-data.h"
#include "smtpd-dnsbl.h"
#include "smtpd-lists.h"
#include "smtpd-milter.h"
#include "smtpd-params.h"
#include "smtpd-reply.h"
#include "smtpd-submit.h"
#include "smtpd-telegram.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SMTP_EXTRA_TABLES_MAX 8

/* Tables registered by other files (STARTTLS, AUTH): a registry, not
 * session state, so it may live at file scope. */
static struct {
	const struct smtp_command *table;
	size_t count;
} extra_tables[SMTP_EXTRA_TABLES_MAX];
static size_t extra_table_count;

void smtp_commands_add(const struct smtp_command *table, size_t count)
{
	if (extra_table_count == SMTP_EXTRA_TABLES_MAX)
		die_temp("too many command tables");
	extra_tables[extra_table_count].table = table;
	extra_tables[extra_table_count].count = count;
	extra_table_count++;
}

int smtp_count_error(struct smtp_session *s)
{
	if (++s->unknown_count <= s->max_unknown)
		return 1;
	log_notice("event=reject cmd=any code=421 status=4.7.0 ip=%s reason=too-many-errors errors=%lu", s->remote_ip,
		   s->unknown_count);
	smtp_reply_close(s, "4.7.0", "Too many unrecognized commands, closing connection");
	s->close_reason = "too-many-errors";
	return 0;
}

/* Replies and logs in one step for a refused MAIL/RCPT/DATA. */
static void refuse(struct smtp_session *s, const char *cmd, int code, const char *enhanced, const char *text)
{
	smtp_reply(s, code, enhanced, "%s", text);
	smtp_log_reject(s, cmd, code, enhanced, text);
}

static int has_8bit(const char *p)
{
	for (; *p; p++)
		if ((unsigned char)*p >= 0x80)
			return 1;
	return 0;
}

/* A HELO/EHLO name: printable ASCII (it goes into Received and the envelope). */
static int helo_name_valid(const char *name)
{
	if (!*name)
		return 0;
	for (; *name; name++)
		if ((unsigned char)*name <= ' ' || (unsigned char)*name >= 127)
			return 0;
	return 1;
}

/* A HELO pattern refused the name: the reject line names it too. */
static void helo_refuse(struct smtp_session *s, const char *verb, const char *name, const char *text)
{
	struct buf n = BUF_INIT, r = BUF_INIT;

	smtp_reply(s, 550, "5.7.1", "%s", text);
	log_notice("event=reject cmd=%s code=550 status=5.7.1 ip=%s helo=%s reason=%s", verb, s->remote_ip,
		   xlog_value(&n, name), xlog_value(&r, text));
	buf_free(&n);
	buf_free(&r);
}

/* Common part of HELO and EHLO.  1 when the name was accepted. */
static int helo_accept(struct smtp_session *s, const char *arg, const char *verb)
{
	const struct helo_pattern *hp;

	while (*arg == ' ')
		arg++;
	if (!helo_name_valid(arg)) {
		smtp_reply(s, 501, "5.5.4", "Syntax: %s <domain>", verb);
		return 0;
	}
	hp = smtpserver_conf_helo(&s->conf, arg);
	if (hp && hp->flags && hp->flags[0] == '!') {
		helo_refuse(s, verb, arg, hp->flags[1] ? hp->flags + 1 : "Access denied");
		return 0;
	}
	session_reset_transaction(s);
	xbuf_copys(&s->helo, arg);
	s->helo_seen = 1;
	smtpd_milter_helo(s);
	return 1;
}

static void cmd_helo(struct smtp_session *s, const char *arg)
{
	if (!helo_accept(s, arg, "HELO"))
		return;
	s->esmtp = 0;
	xconn_printf(&s->conn, "250 %s Hello %s [%s]\r\n", s->host, s->helo.data, s->remote_ip);
}

static void ehlo_keywords(struct smtp_session *s, struct buf *k)
{
	size_t t, i;

	if (s->ext & SMTP_EXT_PIPELINING)
		xbuf_cats(k, "PIPELINING\n");
	if (s->max_size)
		xbuf_catf(k, "SIZE %llu\n", s->max_size);
	else
		xbuf_cats(k, "SIZE\n");
	if (s->ext & SMTP_EXT_8BITMIME)
		xbuf_cats(k, "8BITMIME\n");
	if (s->ext & SMTP_EXT_ENHANCED)
		xbuf_cats(k, "ENHANCEDSTATUSCODES\n");
	if (s->ext & SMTP_EXT_CHUNKING)
		xbuf_cats(k, "CHUNKING\n");
	if (s->ext & SMTP_EXT_SMTPUTF8)
		xbuf_cats(k, "SMTPUTF8\n");
	if (s->ext & SMTP_EXT_DSN)
		xbuf_cats(k, "DSN\n");
	for (t = 0; t < extra_table_count; t++)
		for (i = 0; i < extra_tables[t].count; i++)
			if (extra_tables[t].table[i].advertise)
				extra_tables[t].table[i].advertise(s, k);
	xbuf_cats(k, "HELP\n");
}

static void cmd_ehlo(struct smtp_session *s, const char *arg)
{
	struct buf k = BUF_INIT;
	char *line, *nl;

	if (!helo_accept(s, arg, "EHLO"))
		return;
	s->esmtp = 1;
	xconn_printf(&s->conn, "250-%s Hello %s [%s]\r\n", s->host, s->helo.data, s->remote_ip);
	ehlo_keywords(s, &k);
	for (line = k.data; (nl = strchr(line, '\n')); line = nl + 1) {
		*nl = 0;
		xconn_printf(&s->conn, "250%c%s\r\n", nl[1] ? '-' : ' ', line);
	}
	buf_free(&k);
}

static int ehlo_available(const struct smtp_session *s) { return (s->ext & SMTP_EXT_EHLO) != 0; }
static int bdat_available(const struct smtp_session *s) { return (s->ext & SMTP_EXT_CHUNKING) != 0; }

/* "FROM:" / "TO:" then optional spaces; NULL if the keyword is missing. */
static const char *after_keyword(const char *arg, const char *keyword)
{
	size_t n = strlen(keyword);

	if (strncasecmp(arg, keyword, n) != 0)
		return NULL;
	arg += n;
	while (*arg == ' ')
		arg++;
	return arg;
}

/* Sender checks after a good path: 1 ok, else the reply was sent. */
static int mail_sender_ok(struct smtp_session *s, const char *address, int smtputf8)
{
	struct buf local = BUF_INIT, domain = BUF_INIT;
	int ok = 1;

	if (has_8bit(address) && !smtputf8) {
		refuse(s, "MAIL", 553, "5.6.7", "SMTPUTF8 is required for this address");
		return 0;
	}
	if (!*address)
		return 1;
	if (!address_split(address, &local, &domain)) {
		refuse(s, "MAIL", 553, "5.1.7", "Sender address needs a domain");
		ok = 0;
	} else if (!address_domain_valid(domain.data, smtputf8 ? ADDRESS_ALLOW_UTF8 : 0)) {
		refuse(s, "MAIL", 553, "5.1.8", "Bad sender domain syntax");
		ok = 0;
	}
	buf_free(&local);
	buf_free(&domain);
	return ok;
}

static int mail_start(struct smtp_session *s, const char *address, const char *params, struct smtp_mail_params *p)
{
	session_reset_transaction(s);
	if (!smtpd_milter_mail(s, address, params))
		return 0;   /* replied */
	s->in_mail = 1;
	xbuf_copys(&s->sender, address);
	s->body = p->body;
	s->smtputf8 = p->smtputf8;
	s->ret = p->ret;
	s->has_envid = p->has_envid;
	if (p->has_envid)
		xbuf_copys(&s->envid, p->envid.data);
	s->declared_size = p->size;
	smtpd_dnsbl_mail(s);
	/* RFC 4954 §5: AUTH= is kept only from an authenticated client; from
	 * anyone else it is accepted and ignored. */
	if (p->has_auth && s->auth_user.len) {
		s->has_mail_auth = 1;
		xbuf_copys(&s->mail_auth, p->auth.data ? p->auth.data : "");
	}
	smtp_reply(s, 250, "2.1.0", "Ok");
	return 1;
}

int smtp_mail_open(struct smtp_session *s, const char *arg, const char *verb)
{
	struct buf address = BUF_INIT, syntax = BUF_INIT;
	struct smtp_mail_params p;
	struct smtp_param_error err;
	const char *path, *params, *why = "Bad address syntax";
	int ok = 0;

	memset(&p, 0, sizeof p);
	if (s->in_mail && !s->bdat_failed) {
		/* After a refused BDAT chunk a new MAIL starts over (RFC 3030 §2). */
		refuse(s, verb, 503, "5.5.1", "Nested MAIL command");
	} else if (!smtpd_submit_mail_allowed(s)) {
		/* replied: 530 */
	} else if (!(path = after_keyword(arg, "FROM:"))) {
		xbuf_catf(&syntax, "Syntax: %s FROM:<address>", verb);
		refuse(s, verb, 501, "5.5.4", syntax.data);
	} else if (!address_parse_path(path, ADDRESS_ALLOW_UTF8, &address, &params, &why)) {
		refuse(s, verb, 501, "5.1.7", why);
	} else if (!smtp_params_mail(s, params, &p, &err)) {
		refuse(s, verb, err.code, err.enhanced, err.text);
	} else if (!mail_sender_ok(s, address.data ? address.data : "", p.smtputf8)) {
		/* replied */
	} else if (smtpd_lists_sender_refused(s, address.data ? address.data : "")) {
		/* replied: email.can */
	} else if (!session_spool_space_ok(s)) {
		refuse(s, verb, 452, "4.3.1", "Insufficient system storage");
	} else {
		ok = mail_start(s, address.data ? address.data : "", params, &p);
	}
	smtp_mail_params_free(&p);
	buf_free(&address);
	buf_free(&syntax);
	return ok;
}

void smtp_cmd_mail(struct smtp_session *s, const char *arg)
{
	(void)smtp_mail_open(s, arg, "MAIL");
}

static char *xstrdup_or_null(const char *p, int present)
{
	char *d;

	if (!present)
		return NULL;
	if (!(d = strdup(p)))
		die_nomem();
	return d;
}

struct smtp_rcpt *xsmtp_rcpt_new(struct smtp_session *s, const char *address, unsigned long usernum)
{
	struct smtp_rcpt *r;

	if (s->rcpt_count == s->rcpt_cap) {
		size_t cap = s->rcpt_cap ? s->rcpt_cap * 2 : 8;
		void *n = realloc(s->rcpt, cap * sizeof *s->rcpt);
		if (!n)
			die_nomem();
		s->rcpt = n;
		s->rcpt_cap = cap;
	}
	r = &s->rcpt[s->rcpt_count++];
	memset(r, 0, sizeof *r);
	r->address = xstrdup_or_null(address, 1);
	r->usernum = usernum;
	r->mail = 1;
	return r;
}

static void rcpt_add(struct smtp_session *s, const char *address, const char *params, struct smtp_rcpt_params *p,
		     unsigned long usernum, int channel)
{
	struct smtp_rcpt *r;

	if (!smtpd_milter_rcpt(s, address, params, channel))
		return;   /* replied */
	r = xsmtp_rcpt_new(s, address, usernum);
	r->notify = xstrdup_or_null(p->notify.data, p->has_notify);
	r->orcpt = xstrdup_or_null(p->orcpt.data, p->has_orcpt);
	smtp_reply(s, 250, "2.1.5", "Ok");
}

/* MaxMsgsWaiting (Synchronet): a full mailbox is a temporary refusal. */
static int rcpt_mailbox_room(struct smtp_session *s, unsigned long usernum, const char *address)
{
	char path[4096];
	struct user u;
	long count;
	int got;
	struct buf v = BUF_INIT;

	if (!s->cfg.max_msgs_waiting)
		return 1;
	got = userdb_get_by_number(&s->db, usernum, &u);
	if (got == 1 && (u.flags & USER_FLAG_MAIL_EXEMPT))
		return 1;
	count = got < 0 || !maildir_path(usernum, path, sizeof path) ? -2 : maildir_count(path);
	if (count == -1 && errno == ENOENT)
		count = 0;
	/* Under its own uid in a shared home, smtpd is kept out of the
	 * mailboxes (home.h): the limit cannot be checked, and is not. */
	if (count == -1 && errno == EACCES && home_shared()) {
		if (!s->mailbox_count_warned++)
			log_warn("event=mailbox-count-unreadable user=%lu: MaxMsgsWaiting not checked", usernum);
		return 1;
	}
	if (count < 0) {
		refuse(s, "RCPT", 451, "4.3.0", "Temporary failure reading the mailbox");
		return 0;
	}
	if ((unsigned long)count < s->cfg.max_msgs_waiting)
		return 1;
	log_notice("event=mailbox-full user=%lu rcpt=%s messages=%ld", usernum, smtp_log_path(&v, address), count);
	buf_free(&v);
	refuse(s, "RCPT", 452, "4.2.2", "Mailbox full");
	return 0;
}

/* An unknown or forbidden recipient (address harvesting, or a dictionary
 * attack on relaying): after tarpit-after-bad-recipients of them each
 * waits tarpit-delay-ms before its reply, and past max-bad-recipients in
 * the session the connection is closed with 421 instead. */
static void rcpt_refuse_bad(struct smtp_session *s, int code, const char *enhanced, const char *text)
{
	s->bad_rcpt_count++;
	if (s->max_bad_rcpt && s->bad_rcpt_count > s->max_bad_rcpt) {
		log_notice("event=reject cmd=RCPT code=421 status=4.7.0 ip=%s reason=too-many-bad-recipients bad=%lu",
			   s->remote_ip, s->bad_rcpt_count);
		smtp_reply_close(s, "4.7.0", "Too many rejected recipients, closing connection");
		s->close_reason = "too-many-bad-recipients";
		return;
	}
	if (s->bad_rcpt_count > s->tarpit_after && s->tarpit_delay_ms)
		loginfail_sleep_ms(s->tarpit_delay_ms);
	refuse(s, "RCPT", code, enhanced, text);
}

/* Asks the shared resolver.  1 when the recipient may be accepted;
 * *usernum is the local user (0 for any other recipient). */
static int rcpt_resolve(struct smtp_session *s, const char *address, unsigned long *usernum, int *channel)
{
	struct resolve_result res;
	int ok = 0;

	if (!session_resolver(s)) {
		refuse(s, "RCPT", 451, "4.3.0", "Temporary failure: user database unavailable");
		return 0;
	}
	resolve_result_init(&res);
	/* boards.cfg's posting rules look at who sends */
	s->resolver.sender = s->sender.data ? s->sender.data : "";
	s->resolver.auth_user = s->auth_user.len ? s->auth_user.data : NULL;
	s->resolver.declared_size = s->declared_size;
	if (!resolve_recipient(&s->resolver, address, &res))
		refuse(s, "RCPT", 451, "4.3.0", "Temporary failure resolving the recipient");
	else if (res.channel == RESOLVE_REJECT)
		rcpt_refuse_bad(s, res.code ? res.code : 550, res.enhanced[0] ? res.enhanced : "5.1.1",
				res.reason.len ? res.reason.data : "No such user");
	else if (res.is_relay && !s->relay_allowed)
		rcpt_refuse_bad(s, 550, "5.7.1", "Relaying denied");
	else if (s->kind != SMTP_KIND_MAIL && !smtpd_telegram_rcpt_ok(s, &res))
		; /* replied */
	else if (res.channel == RESOLVE_LOCAL) {
		*usernum = res.usernum;
		/* SEND stores a telegram only: the mailbox's fill does not matter. */
		ok = s->kind == SMTP_KIND_SEND || rcpt_mailbox_room(s, res.usernum, address);
	} else {
		ok = 1;
	}
	*channel = (int)res.channel;
	resolve_result_free(&res);
	return ok;
}

/* Syntax and policy checks that need no database.  1 ok; *skip_resolve
 * is set for <postmaster>, which is always accepted (RFC 5321 §4.5.1). */
static int rcpt_address_ok(struct smtp_session *s, const char *address, int *skip_resolve)
{
	struct buf local = BUF_INIT, domain = BUF_INIT;
	int ok = 0;

	if (!*address)
		refuse(s, "RCPT", 501, "5.1.3", "Null recipient not allowed");
	else if (has_8bit(address) && !s->smtputf8)
		refuse(s, "RCPT", 553, "5.6.7", "SMTPUTF8 is required for this address");
	else if (!address_split(address, &local, &domain)) {
		if (strcasecmp(address, "postmaster") == 0)
			ok = *skip_resolve = 1;
		else
			refuse(s, "RCPT", 553, "5.1.3", "Recipient address needs a domain");
	} else if (!address_domain_valid(domain.data, s->smtputf8 ? ADDRESS_ALLOW_UTF8 : 0))
		refuse(s, "RCPT", 501, "5.1.3", "Bad recipient domain syntax");
	else
		ok = 1;
	buf_free(&local);
	buf_free(&domain);
	return ok;
}

/* Sequence and count checks before the address is even parsed. */
static int rcpt_allowed_now(struct smtp_session *s)
{
	if (!s->in_mail || s->body_mode != SMTP_BODY_NONE) {
		refuse(s, "RCPT", 503, "5.5.1", s->in_mail ? "RCPT not allowed now" : "Need MAIL command");
		return 0;
	}
	s->rcpt_attempts++;
	if (s->max_recipients && s->rcpt_count >= s->max_recipients) {
		smtp_reply(s, 452, "4.5.3", "Too many recipients");
		if (!s->rcpt_limit_logged++)
			smtp_log_reject(s, "RCPT", 452, "4.5.3", "Too many recipients (logged once per message)");
		return 0;
	}
	if (!s->sender.len && s->rcpt_count >= s->max_error_recipients) {
		refuse(s, "RCPT", 550, "5.5.3", "Too many recipients for a null sender");
		return 0;
	}
	return 1;
}

void smtp_cmd_rcpt(struct smtp_session *s, const char *arg)
{
	struct buf address = BUF_INIT;
	struct smtp_rcpt_params p;
	struct smtp_param_error err;
	const char *path, *params, *why = "Bad address syntax";
	int skip_resolve = 0, listed = 0, channel = -1;
	unsigned long usernum = 0;

	memset(&p, 0, sizeof p);
	if (!rcpt_allowed_now(s)) {
		/* replied */
	} else if (!(path = after_keyword(arg, "TO:"))) {
		refuse(s, "RCPT", 501, "5.5.4", "Syntax: RCPT TO:<address>");
	} else if (!address_parse_path(path, ADDRESS_ALLOW_UTF8, &address, &params, &why)) {
		refuse(s, "RCPT", 501, "5.1.3", why);
	} else if (!smtp_params_rcpt(s, params, &p, &err)) {
		refuse(s, "RCPT", err.code, err.enhanced, err.text);
	} else if (smtpd_dnsbl_rcpt_refused(s) || (listed = smtpd_lists_rcpt(s, address.data ? address.data : "")) < 0) {
		/* replied: DNSBL_BADUSER or email.can */
	} else if (listed) {
		rcpt_add(s, address.data, params, &p, 0, -1);   /* a spam bait: the message is dropped at its end */
	} else if (rcpt_address_ok(s, address.data ? address.data : "", &skip_resolve)
		   && ((skip_resolve && s->kind == SMTP_KIND_MAIL) || rcpt_resolve(s, address.data, &usernum, &channel))) {
		/* <postmaster> is this system's (RFC 5321 §4.5.1) */
		rcpt_add(s, address.data, params, &p, usernum, skip_resolve ? (int)RESOLVE_LOCAL : channel);
	}
	smtp_rcpt_params_free(&p);
	buf_free(&address);
}

static void cmd_rset(struct smtp_session *s, const char *arg)
{
	(void)arg;
	session_reset_transaction(s);
	smtp_reply(s, 250, "2.0.0", "Ok");
}

static void cmd_noop(struct smtp_session *s, const char *arg)
{
	(void)arg;
	smtp_reply(s, 250, "2.0.0", "Ok");
}

static void cmd_quit(struct smtp_session *s, const char *arg)
{
	(void)arg;
	smtp_reply(s, 221, "2.0.0", "%s closing connection", s->host);
	s->quit = 1;
}

static const struct smtp_command *command_find(const char *verb, size_t len);

/* Whether this session would take the command now: what EHLO would
 * advertise for a command that advertises, its own test for the rest. */
static int help_lists(struct smtp_session *s, const struct smtp_command *c)
{
	struct buf said = BUF_INIT;
	int yes;

	if (c->available && !c->available(s))
		return 0;
	if (c->listed)
		return c->listed(s);
	if (!c->advertise)
		return 1;
	c->advertise(s, &said);
	yes = said.len > 0;
	buf_free(&said);
	return yes;
}

/* The commands in one fixed order, only those this session offers (no
 * STARTTLS without a certificate, no ETRN when it is off). */
static void cmd_help(struct smtp_session *s, const char *arg)
{
	static const char *const order[] = { "HELO", "EHLO", "STARTTLS", "AUTH", "MAIL", "RCPT", "DATA", "BDAT",
					     "SEND", "SOML", "SAML", "RSET", "NOOP", "QUIT", "HELP", "VRFY",
					     "EXPN", "ETRN" };
	struct buf list = BUF_INIT;
	const struct smtp_command *c;
	const char *line;
	size_t i;

	(void)arg;
	xbuf_cats(&list, "Commands:");
	for (i = 0; i < sizeof order / sizeof order[0]; i++)
		if ((c = command_find(order[i], strlen(order[i]))) && help_lists(s, c))
			xbuf_catf(&list, " %s", c->verb);
	smtp_reply_line(s, 214, "2.0.0", 1, list.data);
	buf_free(&list);
	for (i = 0; (line = smtpserver_conf_get_nth(&s->conf, "help", i)); i++)
		smtp_reply_line(s, 214, "2.0.0", 1, line);
	smtp_reply_line(s, 214, "2.0.0", 0, "End of HELP info");
}

/* VRFY/EXPN when enabled: what the resolver says about one address. */
static void verify_address(struct smtp_session *s, const char *arg)
{
	struct buf address = BUF_INIT;
	struct resolve_result res;
	size_t n;

	while (*arg == ' ')
		arg++;
	n = strlen(arg);
	if (n >= 2 && arg[0] == '<' && arg[n - 1] == '>')
		xbuf_cat(&address, arg + 1, n - 2), n -= 2;
	else
		xbuf_cats(&address, arg);
	if (!n || n > ADDRESS_MAX_BYTES || has_8bit(address.data)) {
		smtp_reply(s, 501, "5.5.4", "Syntax: VRFY <address>");
		buf_free(&address);
		return;
	}
	if (!strchr(address.data, '@') && strcasecmp(address.data, "postmaster") != 0)
		xbuf_catf(&address, "@%s", s->host);
	resolve_result_init(&res);
	if (session_resolver(s)) {
		s->resolver.sender = s->sender.data ? s->sender.data : "";
		s->resolver.auth_user = s->auth_user.len ? s->auth_user.data : NULL;
	}
	if (!session_resolver(s) || !resolve_recipient(&s->resolver, address.data, &res))
		smtp_reply(s, 451, "4.3.0", "Temporary lookup failure");
	else if (res.channel == RESOLVE_REJECT)
		smtp_reply(s, res.code ? res.code : 550, res.enhanced[0] ? res.enhanced : "5.1.1", "%s",
			   res.reason.len ? res.reason.data : "No such user");
	else if (res.is_relay)
		smtp_reply(s, 252, "2.5.2", "Not a local address");
	else
		smtp_reply(s, 250, "2.1.5", "<%s>", address.data);
	resolve_result_free(&res);
	buf_free(&address);
}

static void cmd_vrfy(struct smtp_session *s, const char *arg)
{
	if (!smtpserver_conf_flag(&s->conf, "VRFYcmd")) {
		smtp_reply(s, 252, "2.5.2", "Cannot VRFY user, but will accept message and attempt delivery");
		return;
	}
	verify_address(s, arg);
}

static int expn_listed(const struct smtp_session *s) { return smtpserver_conf_flag(&s->conf, "EXPNcmd"); }

static void cmd_expn(struct smtp_session *s, const char *arg)
{
	if (!expn_listed(s)) {
		smtp_reply(s, 502, "5.5.1", "EXPN not available");
		return;
	}
	verify_address(s, arg);
}

static const struct smtp_command builtin_commands[] = {
	{ "HELO", 0, NULL, cmd_helo, NULL, NULL },
	{ "EHLO", 0, ehlo_available, cmd_ehlo, NULL, NULL },
	{ "MAIL", SMTP_CMD_NEEDS_HELO, NULL, smtp_cmd_mail, NULL, NULL },
	{ "RCPT", SMTP_CMD_NEEDS_HELO, NULL, smtp_cmd_rcpt, NULL, NULL },
	{ "DATA", SMTP_CMD_NEEDS_HELO, NULL, smtp_cmd_data, NULL, NULL },
	{ "BDAT", SMTP_CMD_NEEDS_HELO, bdat_available, smtp_cmd_bdat, NULL, NULL },
	{ "RSET", 0, NULL, cmd_rset, NULL, NULL },
	{ "NOOP", 0, NULL, cmd_noop, NULL, NULL },
	{ "QUIT", 0, NULL, cmd_quit, NULL, NULL },
	{ "HELP", 0, NULL, cmd_help, NULL, NULL },
	{ "VRFY", 0, NULL, cmd_vrfy, NULL, NULL },
	{ "EXPN", 0, NULL, cmd_expn, NULL, expn_listed },
};

static const struct smtp_command *find_in(const struct smtp_command *t, size_t count, const char *verb,
					  size_t len)
{
	size_t i;

	for (i = 0; i < count; i++)
		if (strlen(t[i].verb) == len && strncasecmp(t[i].verb, verb, len) == 0)
			return &t[i];
	return NULL;
}

static const struct smtp_command *command_find(const char *verb, size_t len)
{
	const struct smtp_command *c;
	size_t t;

	for (t = 0; t < extra_table_count; t++)
		if ((c = find_in(extra_tables[t].table, extra_tables[t].count, verb, len)))
			return c;
	return find_in(builtin_commands, sizeof builtin_commands / sizeof builtin_commands[0], verb, len);
}

/* The verb as sent, cut at 32 bytes, as one quoted value. */
static void log_unknown_command(const struct smtp_session *s, const char *verb, size_t len)
{
	struct buf v = BUF_INIT;

	if (!log_quote(&v, verb, len > 32 ? 32 : len))
		die_nomem();
	log_info("event=unknown-command ip=%s verb=%s", s->remote_ip, v.data);
	buf_free(&v);
}

void smtp_command_dispatch(struct smtp_session *s, const char *line)
{
	const struct smtp_command *c;
	size_t len = strcspn(line, " ");
	const char *arg = line[len] ? line + len + 1 : "";

	c = command_find(line, len);
	if (!c || (c->available && !c->available(s))) {
		if (smtp_count_error(s)) {
			if (!smtpd_milter_unknown(s, line))
				smtp_reply(s, 500, "5.5.1", "Command unrecognized");
			log_unknown_command(s, line, len);
		}
		return;
	}
	if ((c->flags & SMTP_CMD_NEEDS_HELO) && !s->helo_seen) {
		/* BDAT must still swallow its octets to keep the framing. */
		if (c->handler == smtp_cmd_bdat) {
			c->handler(s, arg);
			return;
		}
		smtp_reply(s, 503, "5.5.1", "Send HELO/EHLO first");
		return;
	}
	c->handler(s, arg);
}
