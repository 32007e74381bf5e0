/* sendmail: the sendmail(8)-compatible injector for local scripts
 * (sendmail(1)).  Reads a message on stdin, adds the headers a message
 * needs, and writes spool/incoming/<id> exactly as smtpd does (protocol
 * "local"), then pokes the trigger.  Exit codes are sysexits(3) values,
 * because that is what mail clients and scripts expect from sendmail. */
#include "address.h"
#include "config.h"
#include "envelope.h"
#include "home.h"
#include "log.h"
#include "message.h"
#include "resolve.h"
#include "spool.h"
#include "userdb.h"
#include <errno.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define EX_OK 0
#define EX_USAGE 64
#define EX_DATAERR 65
#define EX_NOUSER 67
#define EX_SOFTWARE 70
#define EX_CANTCREAT 73
#define EX_IOERR 74
#define EX_TEMPFAIL 75

#define USAGE "sendmail [-t] [-i] [-f sender] [-F fullname] [-N dsn] [-o option] [--] [recipient ...]"
#define LOGIN_MAX_BYTES 64

struct sendmail {
	int extract;             /* -t */
	int dot_ends;            /* cleared by -i / -oi */
	const char *sender_arg;  /* -f / -r, NULL = the login */
	const char *fullname;    /* -F */
	char notify[32];         /* -N, as RCPT's NOTIFY= value; "" = not given */
	char **args;             /* recipients on the command line */
	int arg_count;
	struct mail_config cfg;
	char login[LOGIN_MAX_BYTES];
	struct buf sender;       /* qualified, "" for <> */
	char **rcpt;             /* qualified recipients */
	size_t rcpt_count;
	struct message msg;
	struct envelope env;
	char id[SPOOL_ID_MAX_BYTES];
};

static void sendmail_fail(int code, const char *fmt, ...) __attribute__((noreturn, format(printf, 2, 3)));
static void sendmail_fail(int code, const char *fmt, ...)
{
	char text[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	log_error("%s", text);
	exit(code);
}

/* die_* helpers (out of memory) exit 100/111; scripts expect sysexits. */
static void sendmail_die_hook(int code)
{
	_exit(code == EXIT_TEMPORARY ? EX_TEMPFAIL : EX_SOFTWARE);
}

static void sendmail_usage(void)
{
	fprintf(stderr, "sendmail: usage: %s\n", USAGE);
	exit(EX_USAGE);
}

/* ---- the command line: one row per option letter ---- */

struct option_row {
	char letter;
	int takes_value;   /* value glued (-fuser) or the next argument */
	void (*apply)(struct sendmail *s, const char *value);
};

static void option_extract(struct sendmail *s, const char *v) { (void)v; s->extract = 1; }
static void option_no_dot(struct sendmail *s, const char *v) { (void)v; s->dot_ends = 0; }
static void option_ignore(struct sendmail *s, const char *v) { (void)s; (void)v; }
static void option_sender(struct sendmail *s, const char *v) { s->sender_arg = v; }

static void option_fullname(struct sendmail *s, const char *v)
{
	const char *p;

	for (p = v; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			sendmail_fail(EX_USAGE, "control character in the -F full name");
	s->fullname = v;
}

/* -oi is the one -o option with a meaning here; -oem, -odb, ... are ignored. */
static void option_o(struct sendmail *s, const char *v)
{
	if (strcmp(v, "i") == 0)
		s->dot_ends = 0;
}

/* -N never | success,failure,delay (any non-empty mix): every recipient's
 * NOTIFY= (RFC 3461), as in sendmail and Postfix. */
static void option_notify(struct sendmail *s, const char *v)
{
	static const char *const words[] = { "success", "failure", "delay" };
	const char *p = v;
	size_t n, i;

	if (strcasecmp(v, "never") == 0) {
		snprintf(s->notify, sizeof s->notify, "NEVER");
		return;
	}
	s->notify[0] = 0;
	while (*p) {
		n = strcspn(p, ",");
		for (i = 0; i < 3 && !(strlen(words[i]) == n && strncasecmp(p, words[i], n) == 0); i++)
			;
		if (i == 3)
			sendmail_fail(EX_USAGE, "-N takes never, or a list of success, failure, delay");
		if (!strcasestr(s->notify, words[i]))
			snprintf(s->notify + strlen(s->notify), sizeof s->notify - strlen(s->notify), "%s%s",
				 s->notify[0] ? "," : "", i == 0 ? "SUCCESS" : i == 1 ? "FAILURE" : "DELAY");
		p += n;
		if (*p == ',' && *++p == 0)
			sendmail_fail(EX_USAGE, "-N takes never, or a list of success, failure, delay");
	}
	if (!s->notify[0])
		sendmail_fail(EX_USAGE, "-N takes never, or a list of success, failure, delay");
}

static void option_mode(struct sendmail *s, const char *v)
{
	(void)s;
	if (strcmp(v, "m") != 0)
		sendmail_fail(EX_USAGE, "mode -b%s is not supported (only -bm)", v);
}

static const struct option_row option_rows[] = {
	{ 't', 0, option_extract }, { 'i', 0, option_no_dot },
	{ 'f', 1, option_sender }, { 'r', 1, option_sender }, { 'F', 1, option_fullname },
	{ 'o', 1, option_o }, { 'b', 1, option_mode }, { 'N', 1, option_notify },
	/* Accepted for compatibility, without effect (sendmail(1)). */
	{ 'v', 0, option_ignore }, { 'm', 0, option_ignore }, { 'n', 0, option_ignore },
	{ 'U', 0, option_ignore }, { 'G', 0, option_ignore },
	{ 'O', 1, option_ignore }, { 'B', 1, option_ignore },
	{ 'R', 1, option_ignore }, { 'V', 1, option_ignore }, { 'h', 1, option_ignore },
	{ 'L', 1, option_ignore }, { 'C', 1, option_ignore }, { 'p', 1, option_ignore },
	{ 'A', 1, option_ignore },
};

static const struct option_row *option_find(char letter)
{
	size_t i;

	for (i = 0; i < sizeof option_rows / sizeof option_rows[0]; i++)
		if (option_rows[i].letter == letter)
			return &option_rows[i];
	return NULL;
}

/* One "-xyz" argument; returns how many extra argv entries it used. */
static int option_apply(struct sendmail *s, char **argv, int i, int argc)
{
	const char *p = argv[i] + 1;
	const struct option_row *row;

	for (; *p; p++) {
		row = option_find(*p);
		if (!row)
			sendmail_usage();
		if (!row->takes_value) {
			row->apply(s, "");
			continue;
		}
		if (p[1]) {
			row->apply(s, p + 1);
			return 0;
		}
		if (i + 1 >= argc)
			sendmail_usage();
		row->apply(s, argv[i + 1]);
		return 1;
	}
	return 0;
}

static void sendmail_parse_args(struct sendmail *s, int argc, char **argv)
{
	int i = 1;

	while (i < argc && argv[i][0] == '-' && argv[i][1]) {
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		}
		i += 1 + option_apply(s, argv, i, argc);
	}
	s->args = argv + i;
	s->arg_count = argc - i;
}

/* "user" -> "user@HostName"; then the SMTP path syntax.  1 ok. */
static int sendmail_qualify(const struct sendmail *s, const char *raw, struct buf *out, const char **why)
{
	struct buf wrapped = BUF_INIT;
	const char *params;
	int ok;

	xbuf_catc(&wrapped, '<');
	xbuf_cats(&wrapped, raw);
	if (!strchr(raw, '@'))
		xbuf_catf(&wrapped, "@%s", s->cfg.host_name);
	xbuf_catc(&wrapped, '>');
	ok = address_parse_path(wrapped.data, 0, out, &params, why);
	if (ok && (*params || !out->len)) {
		*why = "malformed address";
		ok = 0;
	}
	buf_free(&wrapped);
	return ok;
}

/* "<a@b>" -> "a@b": scripts often pass addresses in angle brackets. */
static void sendmail_unbracket(const char *raw, struct buf *bare)
{
	buf_truncate(bare, 0);
	xbuf_cats(bare, raw);
	if (bare->len >= 2 && bare->data[0] == '<' && bare->data[bare->len - 1] == '>') {
		memmove(bare->data, bare->data + 1, bare->len - 2);
		buf_truncate(bare, bare->len - 2);
	}
}

static int sendmail_add_rcpt(const char *raw, void *arg)
{
	struct sendmail *s = arg;
	struct buf address = BUF_INIT, bare = BUF_INIT;
	const char *why = "empty address";
	char **grown;

	if (raw[0] == '-')
		sendmail_fail(EX_USAGE, "refusing recipient %s: it starts with '-'", raw);
	sendmail_unbracket(raw, &bare);
	if (!bare.len || !sendmail_qualify(s, bare.data, &address, &why))
		sendmail_fail(EX_NOUSER, "bad recipient address %s: %s", raw, why);
	buf_free(&bare);
	grown = realloc(s->rcpt, (s->rcpt_count + 1) * sizeof *grown);
	if (!grown)
		die_nomem();
	s->rcpt = grown;
	s->rcpt[s->rcpt_count++] = address.data;
	return 1;
}

static void sendmail_set_sender(struct sendmail *s)
{
	const char *raw = s->sender_arg ? s->sender_arg : s->login;
	struct buf bare = BUF_INIT;
	const char *why = "";

	sendmail_unbracket(raw, &bare);
	if (!bare.len)
		buf_truncate(&s->sender, 0);
	else if (!sendmail_qualify(s, bare.data, &s->sender, &why))
		sendmail_fail(EX_USAGE, "bad sender address %s: %s", raw, why);
	buf_free(&bare);
}

static void sendmail_find_login(struct sendmail *s)
{
	struct passwd *pw = getpwuid(getuid());

	if (pw && pw->pw_name[0] && strlen(pw->pw_name) < sizeof s->login)
		strcpy(s->login, pw->pw_name);
	else
		snprintf(s->login, sizeof s->login, "uid%lu", (unsigned long)getuid());
}

/* Local submission may go anywhere (it is not a relay), but an unknown
 * local user is refused now rather than dropped later by route. */
static void sendmail_resolve_all(struct sendmail *s)
{
	struct resolve_context ctx;
	struct resolve_result res;
	struct userdb db;
	size_t i;

	if (!userdb_open(&db, 0))
		sendmail_fail(EX_TEMPFAIL, "unable to open the user database: %s", strerror(errno));
	if (!resolve_context_load(&ctx, &s->cfg, &db))
		sendmail_fail(EX_TEMPFAIL, "unable to load the aliases: %s", strerror(errno));
	ctx.sender = s->sender.data ? s->sender.data : "";   /* the sub-boards' posting rules */
	for (i = 0; i < s->rcpt_count; i++) {
		resolve_result_init(&res);
		if (!resolve_recipient(&ctx, s->rcpt[i], &res))
			sendmail_fail(EX_TEMPFAIL, "unable to resolve %s: %s", s->rcpt[i], strerror(errno));
		if (res.channel == RESOLVE_REJECT)
			sendmail_fail(EX_NOUSER, "%s: %d %s %s", s->rcpt[i], res.code, res.enhanced,
				      res.reason.data ? res.reason.data : "refused");
		resolve_result_free(&res);
	}
	resolve_context_free(&ctx);
	userdb_close(&db);
}

static void sendmail_collect_rcpt(struct sendmail *s)
{
	const char *v, *end;
	int i;

	for (i = 0; i < s->arg_count; i++)
		sendmail_add_rcpt(s->args[i], s);
	if (s->extract) {
		v = s->msg.address_headers.data;
		end = v + s->msg.address_headers.len;
		for (; v && v < end; v += strlen(v) + 1)
			message_each_address(v, sendmail_add_rcpt, s);
	}
	if (!s->rcpt_count)
		sendmail_fail(EX_USAGE, "no recipients given");
}

static void sendmail_date(char *out, size_t size, time_t t)
{
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(out, size, "%a, %d %b %Y %H:%M:%S %z", &tm);
}

/* The From: we add when the message has none (-F gives the phrase). */
static void sendmail_add_from(const struct sendmail *s, struct buf *out)
{
	const char *addr = s->sender.len ? s->sender.data : NULL;
	const char *p;

	xbuf_cats(out, "From: ");
	if (s->fullname) {
		xbuf_catc(out, '"');
		for (p = s->fullname; *p; p++) {
			if (*p == '"' || *p == '\\')
				xbuf_catc(out, '\\');
			xbuf_catc(out, *p);
		}
		xbuf_cats(out, "\" <");
	}
	if (addr)
		xbuf_cats(out, addr);
	else
		xbuf_catf(out, "%s@%s", s->login, s->cfg.host_name);
	xbuf_cats(out, s->fullname ? ">\n" : "\n");
}

/* Received first, the sender's headers, the missing ones, the body. */
static void sendmail_build(struct sendmail *s, struct buf *out, time_t now)
{
	const struct message *m = &s->msg;
	char date[64];

	sendmail_date(date, sizeof date, now);
	xbuf_catf(out, "Received: from local user (uid %lu) by %s (bbsmail) id %s; %s\n",
		  (unsigned long)getuid(), s->cfg.host_name, s->id, date);
	if (m->headers.len)
		xbuf_cat(out, m->headers.data, m->headers.len);
	if (!m->has_from)
		sendmail_add_from(s, out);
	if (!m->has_date)
		xbuf_catf(out, "Date: %s\n", date);
	if (!m->has_message_id)
		xbuf_catf(out, "Message-ID: <%s@%s>\n", s->id, s->cfg.host_name);
	if (m->had_separator || m->header_end < m->text.len)
		xbuf_catc(out, '\n');
	if (m->header_end < m->text.len)
		xbuf_cat(out, m->text.data + m->header_end, m->text.len - m->header_end);
}

static void sendmail_spool(struct sendmail *s, const struct buf *message, time_t now)
{
	struct envelope_rcpt r = { 0 };
	struct spool_file f;
	struct buf head = BUF_INIT;
	size_t i;

	envelope_init(&s->env);
	snprintf(s->env.id, sizeof s->env.id, "%s", s->id);
	s->env.arrival = (unsigned long)now;
	s->env.sender = s->sender.len ? s->sender.data : "";
	s->env.protocol = "local";
	for (i = 0; i < s->rcpt_count; i++) {
		r.address = s->rcpt[i];
		r.notify = s->notify[0] ? s->notify : NULL;
		if (!envelope_add_rcpt(&s->env, &r))
			die_nomem();
	}
	if (!envelope_write(&s->env, &head))
		sendmail_fail(EX_SOFTWARE, "unable to write the envelope: %s", strerror(errno));
	if (!spool_file_create(&f, SPOOL_INCOMING_DIR, s->id))
		sendmail_fail(errno == ENOSPC ? EX_TEMPFAIL : EX_CANTCREAT, "unable to create %s: %s",
			      f.tmp_path, strerror(errno));
	if (!spool_file_write(&f, head.data, head.len) || !spool_file_write(&f, message->data, message->len)
	    || !spool_file_commit(&f)) {
		int saved = errno;
		spool_file_abort(&f);
		sendmail_fail(saved == ENOSPC || saved == EDQUOT ? EX_TEMPFAIL : EX_IOERR,
			      "unable to write %s: %s", f.final_path, strerror(saved));
	}
	buf_free(&head);
}

static void sendmail_free(struct sendmail *s)
{
	size_t i;

	for (i = 0; i < s->rcpt_count; i++)
		free(s->rcpt[i]);
	free(s->rcpt);
	buf_free(&s->sender);
	message_free(&s->msg);
	envelope_free(&s->env);
}

int main(int argc, char **argv)
{
	static struct sendmail s;
	struct buf out = BUF_INIT;
	char error[512];
	time_t now;

	log_set_program("sendmail");
	die_set_hook(sendmail_die_hook);
	s.dot_ends = 1;
	sendmail_parse_args(&s, argc, argv);
	mail_config_defaults(&s.cfg);
	if (!mail_config_load(&s.cfg, NULL, error, sizeof error))
		sendmail_fail(EX_TEMPFAIL, "%s", error);
	sendmail_find_login(&s);
	sendmail_set_sender(&s);
	message_init(&s.msg);
	if (!message_read(&s.msg, 0, s.dot_ends, s.cfg.max_msg_size_bytes))
		sendmail_fail(errno == EFBIG ? EX_DATAERR : EX_IOERR, "unable to read the message: %s",
			      errno == EFBIG ? "larger than MaxMsgSize" : strerror(errno));
	message_parse_headers(&s.msg);
	sendmail_collect_rcpt(&s);
	sendmail_resolve_all(&s);
	spool_make_id(s.id);
	now = time(NULL);
	sendmail_build(&s, &out, now);
	sendmail_spool(&s, &out, now);
	spool_poke_trigger();
	log_info("id=%s event=accept from=<%s> rcpt=%zu size=%zu uid=%lu", s.id, s.sender.data ? s.sender.data : "",
		 s.rcpt_count, out.len, (unsigned long)getuid());
	buf_free(&out);
	sendmail_free(&s);
	return EX_OK;
}
