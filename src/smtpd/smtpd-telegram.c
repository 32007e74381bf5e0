#include "smtpd-telegram.h"
#include "log.h"
#include "smtpd-commands.h"
#include "smtpd-reply.h"
#include "telegram.h"
#include <errno.h>
#include <string.h>
#include <time.h>

static void open_kind(struct smtp_session *s, const char *arg, const char *verb, enum smtp_mail_kind kind)
{
	if (smtp_mail_open(s, arg, verb))
		s->kind = kind;
}

static void cmd_send(struct smtp_session *s, const char *arg) { open_kind(s, arg, "SEND", SMTP_KIND_SEND); }
static void cmd_soml(struct smtp_session *s, const char *arg) { open_kind(s, arg, "SOML", SMTP_KIND_SOML); }
static void cmd_saml(struct smtp_session *s, const char *arg) { open_kind(s, arg, "SAML", SMTP_KIND_SAML); }

static const struct smtp_command telegram_commands[] = {
	{ "SEND", SMTP_CMD_NEEDS_HELO, NULL, cmd_send, NULL, NULL },
	{ "SOML", SMTP_CMD_NEEDS_HELO, NULL, cmd_soml, NULL, NULL },
	{ "SAML", SMTP_CMD_NEEDS_HELO, NULL, cmd_saml, NULL, NULL },
};

void smtpd_telegram_register(void)
{
	smtp_commands_add(telegram_commands, sizeof telegram_commands / sizeof telegram_commands[0]);
}

static void refuse(struct smtp_session *s, int code, const char *enhanced, const char *text)
{
	smtp_reply(s, code, enhanced, "%s", text);
	smtp_log_reject(s, "RCPT", code, enhanced, text);
}

int smtpd_telegram_rcpt_ok(struct smtp_session *s, const struct resolve_result *res)
{
	int present;

	if (res->channel != RESOLVE_LOCAL) {
		refuse(s, 550, "5.7.1", "Telegrams only to local users");
		return 0;
	}
	if (s->kind != SMTP_KIND_SEND)
		return 1;
	/* RFC 821 §3.4: for SEND to a user who is not active, "a 450 reply
	 * may be returned to a RCPT command". */
	present = telegram_user_present(res->usernum, (long long)time(NULL));
	if (present < 0) {
		log_warn("unable to read the presence of user %lu: %s", res->usernum, strerror(errno));
		refuse(s, 451, "4.3.0", "Temporary failure reading the user's presence");
		return 0;
	}
	if (!present) {
		refuse(s, 450, "4.2.1", "User not logged in");
		return 0;
	}
	return 1;
}

void smtpd_telegram_plan(struct smtp_session *s)
{
	long long now = (long long)time(NULL);
	size_t i;

	s->sink.tg_capture = 0;
	for (i = 0; i < s->rcpt_count; i++) {
		struct smtp_rcpt *r = &s->rcpt[i];
		switch (s->kind) {
		case SMTP_KIND_MAIL: r->telegram = 0, r->mail = 1; break;
		case SMTP_KIND_SEND: r->telegram = 1, r->mail = 0; break;
		case SMTP_KIND_SAML: r->telegram = 1, r->mail = 1; break;
		case SMTP_KIND_SOML:
			/* Presence unreadable: mail, which always reaches the user. */
			r->telegram = telegram_user_present(r->usernum, now) == 1;
			r->mail = !r->telegram;
			break;
		}
		if (r->telegram)
			s->sink.tg_capture = 1;
	}
	s->sink.tg_in_header = 1;
	s->sink.tg_too_long = 0;
	buf_truncate(&s->sink.tg_text, 0);
}

/* "Name:" with a field name of printable ASCII (RFC 5322 §2.2). */
static int is_header_field(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n && p[i] != ':'; i++)
		if ((unsigned char)p[i] <= ' ' || (unsigned char)p[i] >= 127)
			return 0;
	return i > 0 && i < n;
}

void smtpd_telegram_line(struct smtp_sink *k, const char *p, size_t n)
{
	if (!k->tg_capture || k->tg_too_long)
		return;
	if (k->tg_in_header) {
		if (n == 0) {
			k->tg_in_header = 0;
			return;
		}
		if (is_header_field(p, n) || p[0] == ' ' || p[0] == '\t')
			return;   /* a field or its continuation */
		/* Text where the first field should be: a message without a
		 * header section (a telegram client may send just its text). */
		k->tg_in_header = 0;
	}
	if (!xtelegram_text_line(&k->tg_text, p, n))
		k->tg_too_long = 1;
}

static void log_telegram(struct smtp_session *s, const char *cmd, const struct smtp_rcpt *r, size_t size)
{
	struct buf from = BUF_INIT, to = BUF_INIT;

	smtp_log_path(&from, s->sender.data ? s->sender.data : "");
	smtp_log_path(&to, r->address);
	log_info("id=%s event=telegram cmd=%s from=%s rcpt=%s user=%lu file=telegram/%lu/%s size=%zu ip=%s", s->id,
		 cmd, from.data, to.data, r->usernum, r->usernum, s->id, size, s->remote_ip);
	buf_free(&from);
	buf_free(&to);
}

int smtpd_telegram_deliver(struct smtp_session *s, const char *cmd, size_t *sent)
{
	struct smtp_sink *k = &s->sink;
	struct buf file = BUF_INIT;
	const char *verb = s->kind == SMTP_KIND_SEND ? "SEND" : s->kind == SMTP_KIND_SOML ? "SOML" : "SAML";
	size_t i;
	int ok = 1;

	*sent = 0;
	if (!k->tg_capture)
		return 1;
	if (k->tg_too_long) {
		smtp_reply(s, 552, "5.3.4", "Telegram too long (more than %d octets of text)", TELEGRAM_TEXT_MAX);
		smtp_log_reject(s, cmd, 552, "5.3.4", "telegram-too-long");
		return 0;
	}
	xtelegram_build(&file, s->sender.data ? s->sender.data : "", (long long)time(NULL),
		       k->tg_text.data ? k->tg_text.data : "", k->tg_text.len);
	for (i = 0; ok && i < s->rcpt_count; i++) {
		if (!s->rcpt[i].telegram)
			continue;
		if (!telegram_write(s->rcpt[i].usernum, s->id, file.data, file.len, 1)) {
			log_warn("id=%s unable to write the telegram for user %lu: %s", s->id, s->rcpt[i].usernum,
				 strerror(errno));
			smtp_reply(s, 451, "4.3.0", "Temporary local problem, try again later");
			ok = 0;
		} else {
			log_telegram(s, verb, &s->rcpt[i], file.len);
			++*sent;
		}
	}
	buf_free(&file);
	return ok;
}

size_t smtpd_telegram_mail_count(const struct smtp_session *s)
{
	size_t i, n = 0;

	for (i = 0; i < s->rcpt_count; i++)
		n += s->rcpt[i].mail != 0;
	return n;
}
