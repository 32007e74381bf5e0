/* mail: one netmail as an RFC 5322 message.  From: and To: are the
 * gateway addresses (name@[p<point>.]f<node>.n<net>.z<zone>.fidonet) so a
 * reply goes back as netmail; Message-ID and In-Reply-To carry MSGID and
 * REPLY (fido_msgid_encode); every kludge is kept as an X-FTN-<name>
 * header; the text is converted to UTF-8. */
#include "toss.h"
#include "base64.h"
#include "date.h"
#include "post.h"
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define KLUDGE_NAME_MAX 32

void netmail_in_free(struct netmail_in *in)
{
	buf_free(&in->msgid), buf_free(&in->reply), buf_free(&in->charset);
}

/* "z:n/f" at s (FTS-4001 INTL sides).  1 ok. */
static int parse_zone_net_node(const char *s, size_t len, struct ftn_addr *a)
{
	char text[FTN_ADDR_MAX_BYTES];

	if (len >= sizeof text)
		return 0;
	memcpy(text, s, len);
	text[len] = 0;
	return ftn_addr_parse(text, a) && a->point == 0;
}

static int read_intl(struct netmail_in *in, const struct buf *intl)
{
	const char *sp = intl->len ? memchr(intl->data, ' ', intl->len) : NULL;
	struct ftn_addr d, o;

	if (!sp || !parse_zone_net_node(intl->data, (size_t)(sp - intl->data), &d)
	    || !parse_zone_net_node(sp + 1, intl->len - (size_t)(sp + 1 - intl->data), &o))
		return 0;
	in->dest.zone = d.zone, in->dest.net = d.net, in->dest.node = d.node;
	in->orig.zone = o.zone, in->orig.net = o.net, in->orig.node = o.node;
	return 1;
}

static unsigned kludge_number(const char *text, size_t len, const char *name)
{
	struct buf v = BUF_INIT;
	unsigned long n = 0;

	if (ftn_kludge_get(text, len, name, &v) == 1)
		n = strtoul(v.data, NULL, 10);
	buf_free(&v);
	return n <= FIDO_NUMBER_MAX ? (unsigned)n : 0;
}

static void read_tz(struct netmail_in *in, const char *text, size_t len)
{
	struct buf v = BUF_INIT;
	const char *p;
	int neg, hhmm;

	if (ftn_kludge_get(text, len, "TZUTC", &v) == 1) {
		p = v.data;
		neg = *p == '-';
		if (*p == '-' || *p == '+')
			p++;
		if (strlen(p) == 4 && strspn(p, "0123456789") == 4) {
			hhmm = atoi(p);
			in->tz_minutes = (neg ? -1 : 1) * ((hhmm / 100) * 60 + hhmm % 100);
			in->has_tz = in->tz_minutes > -24 * 60 && in->tz_minutes < 24 * 60;
		}
	}
	buf_free(&v);
}

int netmail_in_read(struct netmail_in *in, const struct ftn_message *m, const struct ftn_packet_header *h)
{
	const char *t = m->text.data ? m->text.data : "";
	struct buf intl = BUF_INIT;
	int r;

	memset(in, 0, sizeof *in);
	in->orig.zone = h->orig.zone, in->orig.net = m->orig_net, in->orig.node = m->orig_node;
	in->dest.zone = h->dest.zone, in->dest.net = m->dest_net, in->dest.node = m->dest_node;
	if ((r = ftn_kludge_get(t, m->text.len, "INTL", &intl)) < 0)
		return 0;
	if (r)
		read_intl(in, &intl);
	buf_free(&intl);
	in->orig.point = kludge_number(t, m->text.len, "FMPT");
	in->dest.point = kludge_number(t, m->text.len, "TOPT");
	read_tz(in, t, m->text.len);
	if (ftn_kludge_get(t, m->text.len, "MSGID", &in->msgid) < 0 || ftn_kludge_get(t, m->text.len, "REPLY", &in->reply) < 0
	    || ftn_kludge_get(t, m->text.len, "CHRS", &in->charset) < 0)
		return 0;
	if (in->charset.len)
		in->charset.data[strcspn(in->charset.data, " ")] = 0, in->charset.len = strlen(in->charset.data);
	return 1;
}

int netmail_address(const char *name, size_t len, const struct ftn_addr *a, struct buf *out)
{
	char domain[80];
	size_t i;
	int ok = 1;

	buf_truncate(out, 0);
	for (i = 0; i < len && ok; i++) {
		unsigned char c = (unsigned char)name[i];
		ok = buf_catc(out, c == ' ' ? '.' : (isalnum(c) || c == '-' || c == '_') ? (char)c : '_');
	}
	while (ok && out->len && out->data[out->len - 1] == '.')
		out->len--;
	if (ok && !out->len)
		ok = buf_cats(out, "sysop");
	fido_domain_format(domain, sizeof domain, a);
	return ok && buf_catc(out, '@') && buf_cats(out, domain);
}

/* FTS-5003 names that iconv spells differently. */
static const char *iconv_charset(const char *chrs, const char *fallback)
{
	if (!chrs || !*chrs)
		return fallback;
	if (strcasecmp(chrs, "IBMPC") == 0)
		return "CP437";
	if (strcasecmp(chrs, "LATIN-1") == 0)
		return "ISO-8859-1";
	return chrs;
}

/* A header value: converted to UTF-8, control bytes as spaces, RFC 2047
 * B-encoded when it is not ASCII. */
static int header_value(struct buf *out, const struct buf *raw, const char *charset)
{
	struct buf u = BUF_INIT, b = BUF_INIT;
	size_t i;
	int ascii = 1, ok;

	ok = post_convert(raw->data ? raw->data : "", raw->len, charset, "UTF-8", &u);
	for (i = 0; ok && i < u.len; i++) {
		if ((unsigned char)u.data[i] < 0x20 || u.data[i] == 0x7f)
			u.data[i] = ' ';
		if ((unsigned char)u.data[i] >= 0x80)
			ascii = 0;
	}
	if (ok && ascii)
		ok = buf_cat(out, u.data ? u.data : "", u.len);
	else if (ok)
		ok = base64_encode(&b, u.data, u.len) && buf_cats(out, "=?UTF-8?B?") && buf_cat(out, b.data, b.len)
		     && buf_cats(out, "?=");
	buf_free(&u), buf_free(&b);
	return ok;
}

/* "Name" <address>, the name quoted with its quotes and backslashes
 * escaped (RFC 5322 quoted-string). */
static int mailbox(struct buf *out, const char *field, const struct buf *name, const struct ftn_addr *a,
		   const char *charset)
{
	struct buf addr = BUF_INIT, shown = BUF_INIT, safe = BUF_INIT;
	size_t i;
	int ok = netmail_address(name->data ? name->data : "", name->len, a, &addr) && header_value(&shown, name, charset);

	for (i = 0; ok && i < shown.len; i++)
		ok = (shown.data[i] == '"' || shown.data[i] == '\\' ? buf_catc(&safe, '\\') : 1) && buf_catc(&safe, shown.data[i]);
	ok = ok && buf_catf(out, "%s: \"%s\" <%s>\n", field, safe.data ? safe.data : "", addr.data);
	buf_free(&addr), buf_free(&shown), buf_free(&safe);
	return ok;
}

static int date_header(struct buf *out, const struct ftn_message *m, const struct netmail_in *in)
{
	long long t = ftn_date_parse(m->date);
	int off = in->has_tz ? in->tz_minutes : 0;
	time_t tt;
	struct tm tm;
	char text[64];

	if (t < 0)
		t = (long long)time(NULL) + off * 60LL;   /* unreadable: now, in the writer's zone */
	tt = (time_t)t;
	if (!gmtime_r(&tt, &tm))
		return 1;
	strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S", &tm);
	return buf_catf(out, "Date: %s %c%02d%02d\n", text, off < 0 ? '-' : '+', abs(off) / 60, abs(off) % 60);
}

/* Each kludge line as "X-FTN-<NAME>: value" (INTL, MSGID, ...; the name
 * is the first word without its colon, letters, digits and '-' only). */
static int kludge_headers(struct buf *out, const char *t, size_t len)
{
	size_t i = 0, end, k, n, v;
	char name[KLUDGE_NAME_MAX + 1];
	int ok = 1;

	while (i < len && ok) {
		for (end = i; end < len && t[end] != '\r'; end++)
			;
		if (t[i] == 1) {
			for (k = i + 1, n = 0; k < end && n < KLUDGE_NAME_MAX && (isalnum((unsigned char)t[k]) || t[k] == '-'); k++)
				name[n++] = (char)toupper((unsigned char)t[k]);
			name[n] = 0;
			while (k < end && (t[k] == ':' || t[k] == ' '))
				k++;
			if (n && (ok = buf_catf(out, "X-FTN-%s: ", name))) {
				/* Kludges are ASCII; anything else would break the header. */
				for (v = k; ok && v < end; v++)
					ok = buf_catc(out, (unsigned char)t[v] < 0x20 || (unsigned char)t[v] >= 0x7f ? '?' : t[v]);
				ok = ok && buf_catc(out, '\n');
			}
		}
		i = end + 1;
	}
	return ok;
}

/* The visible text: kludge lines out, CR (and CR LF) to LF, soft CR 0x8D
 * kept (it is a character in some charsets), then to UTF-8. */
static int body_text(struct buf *out, const char *t, size_t len, const char *charset)
{
	struct buf raw = BUF_INIT;
	size_t i = 0, end;
	int ok = 1;

	while (i < len && ok) {
		for (end = i; end < len && t[end] != '\r'; end++)
			;
		if (t[i] != 1)
			ok = buf_cat(&raw, t + i, end - i) && buf_catc(&raw, '\n');
		i = end + 1;
		if (i < len && t[i] == '\n')
			i++;
	}
	if (ok && raw.len && raw.data[raw.len - 1] != '\n')
		ok = buf_catc(&raw, '\n');
	ok = ok && post_convert(raw.data ? raw.data : "", raw.len, charset, "UTF-8", out);
	buf_free(&raw);
	return ok;
}

int netmail_to_mail(const struct ftn_message *m, const struct netmail_in *in, const char *recipient,
		    const char *host_name, const char *default_charset, struct buf *out)
{
	const char *charset = iconv_charset(in->charset.data, default_charset);
	const char *t = m->text.data ? m->text.data : "";
	struct buf id = BUF_INIT, subject = BUF_INIT;
	char from[FTN_ADDR_MAX_BYTES], now[DATE_RFC5322_MAX_BYTES];
	int ok, found = 0;

	ftn_addr_format(from, sizeof from, &in->orig);
	buf_truncate(out, 0);
	date_rfc5322(now, sizeof now, (long long)time(NULL));
	ok = buf_catf(out, "Received: from %s by %s (bbsmail fido-toss) with FidoNet for <%s>; %s\n", from, host_name,
		      recipient, now)
	     && mailbox(out, "From", &m->from, &in->orig, charset) && mailbox(out, "To", &m->to, &in->dest, charset)
	     && header_value(&subject, &m->subject, charset) && buf_catf(out, "Subject: %s\n", subject.data ? subject.data : "")
	     && date_header(out, m, in);
	if (ok && in->msgid.len)
		ok = fido_msgid_encode(in->msgid.data, in->msgid.len, &id) && buf_catf(out, "Message-ID: %s\n", id.data);
	/* A reply to a mail we sent as netmail threads under that mail. */
	if (ok && in->reply.len && (found = fido_msgid_map_find(in->reply.data, 1, &id)) < 0)
		ok = 0;
	if (ok && in->reply.len && !found)
		ok = fido_msgid_encode(in->reply.data, in->reply.len, &id);
	if (ok && in->reply.len)
		ok = buf_catf(out, "In-Reply-To: %s\n", id.data);
	ok = ok && kludge_headers(out, t, m->text.len)
	     && buf_cats(out, "MIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: 8bit\n\n")
	     && body_text(out, t, m->text.len, charset);
	buf_free(&id), buf_free(&subject);
	return ok;
}
