/* sendmail: the sendmail(8)-compatible injector for local scripts
 * (sendmail(1)).  Reads a message on stdin and writes into spool/drop/
 * only what its caller may claim (sender, recipients, DSN options, the
 * message); pickup(8) checks that file and makes spool/incoming/<id> of it,
 * taking the submitter from the file's owner.  Installed setgid to the
 * drop group, the one privilege it has is creating a file there.  When
 * the caller is the mail user itself there is no privilege line to cross,
 * and sendmail picks up its own file at once.  Exit codes are sysexits(3)
 * values, because that is what mail clients and scripts expect. */
#include "../pickup/drop.h"
#include "../pickup/pickup.h"
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
#include <sys/stat.h>
#include <unistd.h>

#define EX_OK 0
#define EX_USAGE 64
#define EX_DATAERR 65
#define EX_NOUSER 67
#define EX_SOFTWARE 70
#define EX_CANTCREAT 73
#define EX_IOERR 74
#define EX_TEMPFAIL 75

#define USAGE "sendmail [-t] [-i] [-f sender] [-F fullname] [-N dsn] [-R full|hdrs] [-o option] [--] [recipient ...]"
#define LOGIN_MAX_BYTES 64

struct sendmail {
	int extract;             /* -t */
	int dot_ends;            /* cleared by -i / -oi */
	const char *sender_arg;  /* -f / -r, NULL = the login */
	const char *fullname;    /* -F */
	char notify[32];         /* -N, as RCPT's NOTIFY= value; "" = not given */
	const char *ret;         /* -R, as MAIL's RET= value; NULL = not given */
	char **args;             /* recipients on the command line */
	int arg_count;
	struct mail_config cfg;
	char login[LOGIN_MAX_BYTES];
	struct buf sender;       /* qualified, "" for <> */
	char **rcpt;             /* qualified recipients */
	size_t rcpt_count;
	struct message msg;
	char name[SPOOL_ID_MAX_BYTES];   /* of the drop file */
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

/* -R full|hdrs: what a failure notice returns (RFC 3461 §4.3). */
static void option_ret(struct sendmail *s, const char *v)
{
	if (strcasecmp(v, "full") == 0)
		s->ret = "FULL";
	else if (strcasecmp(v, "hdrs") == 0)
		s->ret = "HDRS";
	else
		sendmail_fail(EX_USAGE, "-R takes full or hdrs");
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
	{ 'o', 1, option_o }, { 'b', 1, option_mode }, { 'N', 1, option_notify }, { 'R', 1, option_ret },
	/* Accepted for compatibility, without effect (sendmail(1)). */
	{ 'v', 0, option_ignore }, { 'm', 0, option_ignore }, { 'n', 0, option_ignore },
	{ 'U', 0, option_ignore }, { 'G', 0, option_ignore },
	{ 'O', 1, option_ignore }, { 'B', 1, option_ignore },
	{ 'V', 1, option_ignore }, { 'h', 1, option_ignore },
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

	/* A drop-group caller may not read the user database: then route
	 * bounces an unknown recipient instead. */
	if (!userdb_open(&db, 0)) {
		if (errno == EACCES)
			return;
		sendmail_fail(EX_TEMPFAIL, "unable to open the user database: %s", strerror(errno));
	}
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

/* The message as the caller gave it, Bcc removed: pickup adds the rest. */
static void sendmail_message_text(const struct message *m, struct buf *out)
{
	if (m->headers.len)
		xbuf_cat(out, m->headers.data, m->headers.len);
	if (m->had_separator || m->header_end < m->text.len)
		xbuf_catc(out, '\n');
	if (m->header_end < m->text.len)
		xbuf_cat(out, m->text.data + m->header_end, m->text.len - m->header_end);
}

static void sendmail_drop(struct sendmail *s, const char *drop_dir)
{
	struct drop_request r;
	struct buf text = BUF_INIT, file = BUF_INIT;
	const char *notify[1];
	size_t i;

	drop_request_init(&r);
	r.sender = s->sender_arg ? s->sender.data ? s->sender.data : "" : NULL;
	r.fullname = s->fullname;
	r.ret = s->ret;
	r.rcpt = (const char **)s->rcpt;
	r.rcpt_count = s->rcpt_count;
	r.notify = calloc(s->rcpt_count, sizeof *r.notify);
	if (!r.notify)
		die_nomem();
	notify[0] = s->notify[0] ? s->notify : NULL;
	for (i = 0; i < s->rcpt_count; i++)
		r.notify[i] = notify[0];
	sendmail_message_text(&s->msg, &text);
	r.message = text.data ? text.data : "";
	r.message_len = text.len;
	if (!drop_serialize(&r, &file))
		sendmail_fail(EX_SOFTWARE, "unable to write the drop file: %s", strerror(errno));
	spool_make_id(s->name);
	if (!drop_create(drop_dir, s->name, &file))
		sendmail_fail(errno == ENOSPC || errno == EDQUOT ? EX_TEMPFAIL : EX_CANTCREAT,
			      "unable to create %s/%s: %s", drop_dir, s->name, strerror(errno));
	free(r.notify);
	buf_free(&text);
	buf_free(&file);
}

/* The mail user's own submission: nothing to separate, so the file is
 * picked up now, through the same checks pickup(8) makes.  A temporary
 * failure leaves it in spool/drop/, which is as durable: still exit 0. */
static void sendmail_pickup_own(struct sendmail *s, struct pickup *p)
{
	struct pickup_result res;

	memset(&res, 0, sizeof res);
	switch (pickup_file(p, s->name, &res)) {
	case PICKUP_DONE:
		log_info("id=%s event=accept from=<%s> rcpt=%zu size=%zu uid=%lu", res.id,
			 res.sender.data ? res.sender.data : "", res.rcpt_count, res.size, res.uid);
		break;
	case PICKUP_REFUSED:
		pickup_result_free(&res);
		sendmail_fail(EX_SOFTWARE, "pickup refused the drop file %s", s->name);
	default:
		log_info("event=drop name=%s rcpt=%zu uid=%lu", s->name, s->rcpt_count, (unsigned long)getuid());
		break;
	}
	pickup_result_free(&res);
}

/* Whether the caller owns spool/drop/: the mail user (or a single-user
 * home).  Anyone else's file waits there for pickup(8). */
static int sendmail_is_mail_user(const char *drop_dir)
{
	struct stat st;

	return stat(drop_dir, &st) == 0 && st.st_uid == getuid() && geteuid() == getuid();
}
static void sendmail_free(struct sendmail *s)
{
	size_t i;

	for (i = 0; i < s->rcpt_count; i++)
		free(s->rcpt[i]);
	free(s->rcpt);
	buf_free(&s->sender);
	message_free(&s->msg);
}

int main(int argc, char **argv)
{
	static struct sendmail s;
	struct pickup p;
	char error[512];

	log_set_program("sendmail");
	die_set_hook(sendmail_die_hook);
	s.dot_ends = 1;
	sendmail_parse_args(&s, argc, argv);
	mail_config_defaults(&s.cfg);
	/* Set-id, the details could show lines of a file the caller may not
	 * read (mail.ini is readable through the drop group). */
	if (!mail_config_load(&s.cfg, NULL, error, sizeof error))
		sendmail_fail(EX_TEMPFAIL, "%s", getegid() != getgid() || geteuid() != getuid()
						? "unable to read the configuration" : error);
	if (!pickup_init(&p, &s.cfg))
		sendmail_fail(EX_TEMPFAIL, "home path too long");
	sendmail_find_login(&s);
	sendmail_set_sender(&s);
	message_init(&s.msg);
	if (!message_read(&s.msg, 0, s.dot_ends, s.cfg.max_msg_size_bytes))
		sendmail_fail(errno == EFBIG ? EX_DATAERR : EX_IOERR, "unable to read the message: %s",
			      errno == EFBIG ? "larger than MaxMsgSize" : strerror(errno));
	message_parse_headers(&s.msg);
	sendmail_collect_rcpt(&s);
	sendmail_resolve_all(&s);
	sendmail_drop(&s, p.drop_dir);
	if (sendmail_is_mail_user(p.drop_dir))
		sendmail_pickup_own(&s, &p);
	else
		log_info("event=drop name=%s rcpt=%zu uid=%lu", s.name, s.rcpt_count, (unsigned long)getuid());
	spool_poke_trigger();
	sendmail_free(&s);
	return EX_OK;
}
