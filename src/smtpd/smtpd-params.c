#include "smtpd-params.h"
#include "log.h"
#include <limits.h>
#include <string.h>
#include <strings.h>

/* One "KEYWORD[=value]" token of the parameter list. */
struct smtp_param {
	const char *key, *value;
	size_t key_len, value_len;
	int has_value;
};

static int param_set(struct smtp_param_error *err, int code, const char *enhanced, const char *text)
{
	err->code = code;
	err->enhanced = enhanced;
	err->text = text;
	return 0;
}

static int syntax_error(struct smtp_param_error *err, const char *text)
{
	return param_set(err, 501, "5.5.4", text);
}

static int unknown_param(struct smtp_param_error *err)
{
	return param_set(err, 555, "5.5.4", "Unsupported parameter");
}

/* Takes the next token from *pos.  1 got one, 0 at the end, -1 malformed
 * (RFC 5321 §4.1.2: esmtp-keyword = ALPHA/DIGIT *(ALPHA/DIGIT/"-"),
 * esmtp-value = 1*(%d33-60 / %d62-126)). */
static int param_next(const char **pos, struct smtp_param *p)
{
	const char *s = *pos;

	while (*s == ' ')
		s++;
	if (!*s)
		return 0;
	memset(p, 0, sizeof *p);
	p->key = s;
	while ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')
	       || (*s == '-' && s != p->key))
		s++;
	p->key_len = (size_t)(s - p->key);
	if (!p->key_len)
		return -1;
	if (*s == '=') {
		p->has_value = 1;
		p->value = ++s;
		while (*s > 32 && *s < 127 && *s != '=')
			s++;
		p->value_len = (size_t)(s - p->value);
		if (!p->value_len)
			return -1;
	}
	if (*s && *s != ' ')
		return -1;
	*pos = s;
	return 1;
}

static int key_is(const struct smtp_param *p, const char *name)
{
	return p->key_len == strlen(name) && strncasecmp(p->key, name, p->key_len) == 0;
}

static int value_is(const struct smtp_param *p, const char *name)
{
	return p->value_len == strlen(name) && strncasecmp(p->value, name, p->value_len) == 0;
}

static int hex_upper(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int smtp_xtext_decode(const char *in, size_t len, struct buf *out)
{
	size_t i;
	int hi, lo;
	unsigned char c;

	buf_truncate(out, 0);
	for (i = 0; i < len; i++) {
		c = (unsigned char)in[i];
		if (c == '+') {
			if (i + 2 >= len)
				return 0;
			hi = hex_upper(in[i + 1]);
			lo = hex_upper(in[i + 2]);
			if (hi < 0 || lo < 0)
				return 0;
			c = (unsigned char)(hi * 16 + lo);
			i += 2;
			if (c < 32 || c == 127)
				return 0;
		} else if (c < 33 || c > 126 || c == '=') {
			return 0;
		}
		xbuf_catc(out, (char)c);
	}
	return 1;
}

/* SIZE=<digits> (RFC 1870).  Too many digits to count means "too big". */
static int mail_size(const struct smtp_session *s, const struct smtp_param *p, struct smtp_mail_params *mp,
		     struct smtp_param_error *err)
{
	size_t i;
	unsigned long long n = 0;

	if (!p->has_value)
		return syntax_error(err, "Syntax: SIZE=<octets>");
	for (i = 0; i < p->value_len; i++) {
		if (p->value[i] < '0' || p->value[i] > '9')
			return syntax_error(err, "Syntax: SIZE=<octets>");
		if (n > (ULLONG_MAX - 9) / 10)
			n = ULLONG_MAX;
		else
			n = n * 10 + (unsigned long long)(p->value[i] - '0');
	}
	mp->has_size = 1;
	mp->size = n;
	if (s->max_size && n > s->max_size)
		return param_set(err, 552, "5.3.4", "Message size exceeds fixed maximum message size");
	return 1;
}

static int mail_body(const struct smtp_session *s, const struct smtp_param *p, struct smtp_mail_params *mp,
		     struct smtp_param_error *err)
{
	if (!(s->ext & SMTP_EXT_8BITMIME))
		return unknown_param(err);
	if (value_is(p, "7BIT"))
		mp->body = "7BIT";
	else if (value_is(p, "8BITMIME"))
		mp->body = "8BITMIME";
	else
		return syntax_error(err, "Syntax: BODY=7BIT|8BITMIME");
	return 1;
}

static int mail_ret(const struct smtp_param *p, struct smtp_mail_params *mp, struct smtp_param_error *err)
{
	if (value_is(p, "FULL"))
		mp->ret = "FULL";
	else if (value_is(p, "HDRS"))
		mp->ret = "HDRS";
	else
		return syntax_error(err, "Syntax: RET=FULL|HDRS");
	return 1;
}

static int mail_envid(const struct smtp_param *p, struct smtp_mail_params *mp, struct smtp_param_error *err)
{
	if (!p->has_value || p->value_len > SMTP_ENVID_MAX_BYTES || !smtp_xtext_decode(p->value, p->value_len, &mp->envid))
		return syntax_error(err, "Syntax: ENVID=<xtext>");
	mp->has_envid = 1;
	return 1;
}

/* AUTH=<> or AUTH=xtext (RFC 4954 §5); smtpd keeps it only when the
 * session is authenticated. */
static int mail_auth(const struct smtp_param *p, struct smtp_mail_params *mp, struct smtp_param_error *err)
{
	mp->has_auth = 1;
	if (p->value_len == 2 && memcmp(p->value, "<>", 2) == 0) {
		xbuf_copys(&mp->auth, "");
		return 1;
	}
	if (p->value_len > SMTP_ORCPT_MAX_BYTES || !smtp_xtext_decode(p->value, p->value_len, &mp->auth))
		return syntax_error(err, "Syntax: AUTH=<> or AUTH=xtext");
	return 1;
}

/* Applies one MAIL parameter; seen[] catches repeats. */
static int mail_one(const struct smtp_session *s, const struct smtp_param *p, struct smtp_mail_params *mp,
		    int seen[6], struct smtp_param_error *err)
{
	static const char *const names[6] = { "SIZE", "BODY", "SMTPUTF8", "RET", "ENVID", "AUTH" };
	int i;

	for (i = 0; i < 6 && !key_is(p, names[i]); i++)
		;
	if (i == 6)
		return unknown_param(err);
	if ((i == 3 || i == 4) && !(s->ext & SMTP_EXT_DSN))
		return unknown_param(err);
	if (i == 2 && !(s->ext & SMTP_EXT_SMTPUTF8))
		return unknown_param(err);
	if (seen[i]++)
		return syntax_error(err, "Duplicate parameter");
	if (i != 2 && !p->has_value)
		return syntax_error(err, "Parameter needs a value");
	switch (i) {
	case 0: return mail_size(s, p, mp, err);
	case 1: return mail_body(s, p, mp, err);
	case 2:
		if (p->has_value)
			return syntax_error(err, "SMTPUTF8 takes no value");
		mp->smtputf8 = 1;
		return 1;
	case 3: return mail_ret(p, mp, err);
	case 4: return mail_envid(p, mp, err);
	default:
		return mail_auth(p, mp, err);
	}
}

int smtp_params_mail(const struct smtp_session *s, const char *params, struct smtp_mail_params *p,
		     struct smtp_param_error *err)
{
	struct smtp_param one;
	const char *pos = params;
	int seen[6] = { 0 }, r;

	while ((r = param_next(&pos, &one)) == 1)
		if (!mail_one(s, &one, p, seen, err))
			return 0;
	if (r < 0)
		return syntax_error(err, "Syntax error in parameters");
	return 1;
}

/* NOTIFY=NEVER or a comma list of SUCCESS, FAILURE, DELAY (RFC 3461 §4.1). */
static int rcpt_notify(const struct smtp_param *p, struct smtp_rcpt_params *rp, struct smtp_param_error *err)
{
	static const char *const words[3] = { "SUCCESS", "FAILURE", "DELAY" };
	const char *v = p->value, *end = p->value + p->value_len, *comma;
	int seen[3] = { 0 }, i;
	size_t n;

	if (value_is(p, "NEVER")) {
		xbuf_copys(&rp->notify, "NEVER");
		return 1;
	}
	buf_truncate(&rp->notify, 0);
	while (v < end) {
		comma = memchr(v, ',', (size_t)(end - v));
		n = comma ? (size_t)(comma - v) : (size_t)(end - v);
		for (i = 0; i < 3 && !(n == strlen(words[i]) && strncasecmp(v, words[i], n) == 0); i++)
			;
		if (i == 3 || seen[i]++ || (comma && comma + 1 == end))
			return syntax_error(err, "Syntax: NOTIFY=NEVER or SUCCESS,FAILURE,DELAY");
		if (rp->notify.len)
			xbuf_catc(&rp->notify, ',');
		xbuf_cats(&rp->notify, words[i]);
		v += n + (comma ? 1 : 0);
	}
	return 1;
}

/* ORCPT=<addr-type>;<xtext> (RFC 3461 §4.2); stored decoded. */
static int rcpt_orcpt(const struct smtp_param *p, struct smtp_rcpt_params *rp, struct smtp_param_error *err)
{
	const char *semi = memchr(p->value, ';', p->value_len);
	struct buf decoded = BUF_INIT;
	size_t type_len, i;
	int ok;

	if (!semi || semi == p->value || p->value_len > SMTP_ORCPT_MAX_BYTES)
		return syntax_error(err, "Syntax: ORCPT=<type>;<xtext>");
	type_len = (size_t)(semi - p->value);
	for (i = 0; i < type_len; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-", p->value[i]))
			return syntax_error(err, "Syntax: ORCPT=<type>;<xtext>");
	ok = smtp_xtext_decode(semi + 1, p->value_len - type_len - 1, &decoded) && decoded.len;
	if (ok) {
		buf_truncate(&rp->orcpt, 0);
		xbuf_cat(&rp->orcpt, p->value, type_len + 1);
		xbuf_cat(&rp->orcpt, decoded.data, decoded.len);
		rp->has_orcpt = 1;
	}
	buf_free(&decoded);
	return ok ? 1 : syntax_error(err, "Syntax: ORCPT=<type>;<xtext>");
}

int smtp_params_rcpt(const struct smtp_session *s, const char *params, struct smtp_rcpt_params *p,
		     struct smtp_param_error *err)
{
	struct smtp_param one;
	const char *pos = params;
	int r;

	while ((r = param_next(&pos, &one)) == 1) {
		int is_notify = key_is(&one, "NOTIFY"), is_orcpt = key_is(&one, "ORCPT");
		if ((!is_notify && !is_orcpt) || !(s->ext & SMTP_EXT_DSN))
			return unknown_param(err);
		if ((is_notify && p->has_notify) || (is_orcpt && p->has_orcpt))
			return syntax_error(err, "Duplicate parameter");
		if (!one.has_value)
			return syntax_error(err, "Parameter needs a value");
		if (is_notify && !rcpt_notify(&one, p, err))
			return 0;
		if (is_orcpt && !rcpt_orcpt(&one, p, err))
			return 0;
		p->has_notify |= is_notify;
	}
	if (r < 0)
		return syntax_error(err, "Syntax error in parameters");
	return 1;
}

void smtp_mail_params_free(struct smtp_mail_params *p)
{
	buf_free(&p->envid);
	buf_free(&p->auth);
}

void smtp_rcpt_params_free(struct smtp_rcpt_params *p)
{
	buf_free(&p->notify);
	buf_free(&p->orcpt);
}
