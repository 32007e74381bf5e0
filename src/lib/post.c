/* post: from an RFC 5322 / MIME message to a board post, a QWK message or a netmail: the header
 * fields a post needs, the text/plain part decoded (RFC 2045
 * quoted-printable and base64), other parts dropped with a one-line note,
 * the text converted to the board's charset with iconv ('?' for what the
 * charset lacks) and CR line ends (JAM's). */
#include "post.h"
#include "base64.h"
#include <ctype.h>
#include <errno.h>
#include <iconv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define MIME_DEPTH_MAX 4
#define CHARSET_NAME_MAX 40

void post_init(struct post *p)
{
	memset(p, 0, sizeof *p);
	p->date = -1;
}

void post_free(struct post *p)
{
	buf_free(&p->from_name), buf_free(&p->from_address), buf_free(&p->to);
	buf_free(&p->subject), buf_free(&p->message_id), buf_free(&p->in_reply_to);
	buf_free(&p->text);
}

/* The end of the header block: the offset of the body (after the empty
 * line), or len when there is none. */
static size_t header_end(const char *m, size_t len, size_t *body)
{
	size_t i;

	if (len && m[0] == '\n')
		return *body = 1, 0;
	for (i = 0; i + 1 < len; i++)
		if (m[i] == '\n' && m[i + 1] == '\n')
			return *body = i + 2, i + 1;
	return *body = len, len;
}

/* The unfolded value of the first header field called name, in out. */
static int header_get(const char *h, size_t hlen, const char *name, struct buf *out)
{
	size_t n = strlen(name), i = 0, j;

	buf_truncate(out, 0);
	while (i < hlen) {
		if (hlen - i > n && strncasecmp(h + i, name, n) == 0 && h[i + n] == ':') {
			for (j = i + n + 1; j < hlen; j++) {
				if (h[j] == '\n' && (j + 1 >= hlen || (h[j + 1] != ' ' && h[j + 1] != '\t')))
					break;
				if (h[j] != '\n' && h[j] != '\r' && !buf_catc(out, h[j] == '\t' ? ' ' : h[j]))
					return 0;
			}
			while (out->len && out->data[0] == ' ')
				buf_drop_front(out, 1);
			while (out->len && out->data[out->len - 1] == ' ')
				out->len--;
			return buf_catc(out, 0) && (out->len--, 1);
		}
		while (i < hlen && h[i] != '\n')
			i++;
		i++;
	}
	return buf_catc(out, 0) && (out->len--, 1);
}

/* A parameter of a Content-Type value ("boundary", "charset"). */
static int header_param(const char *value, const char *param, char *out, size_t size)
{
	size_t n = strlen(param), k;
	const char *p = value;

	out[0] = 0;
	while ((p = strchr(p, ';'))) {
		p++;
		while (*p == ' ')
			p++;
		if (strncasecmp(p, param, n) != 0 || p[n] != '=')
			continue;
		p += n + 1;
		k = 0;
		if (*p == '"')
			for (p++; *p && *p != '"' && k + 1 < size; p++)
				out[k++] = *p;
		else
			for (; *p && *p != ';' && *p != ' ' && k + 1 < size; p++)
				out[k++] = *p;
		out[k] = 0;
		return 1;
	}
	return 0;
}

static int hex(int c)
{
	return isdigit(c) ? c - '0' : isxdigit(c) ? (tolower(c) - 'a' + 10) : -1;
}

static int decode_qp(const char *in, size_t len, struct buf *out)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (in[i] != '=') {
			if (!buf_catc(out, in[i]))
				return 0;
		} else if (i + 1 < len && in[i + 1] == '\n') {
			i++;   /* soft line break */
		} else if (i + 2 < len && hex((unsigned char)in[i + 1]) >= 0 && hex((unsigned char)in[i + 2]) >= 0) {
			if (!buf_catc(out, (char)(hex((unsigned char)in[i + 1]) * 16 + hex((unsigned char)in[i + 2]))))
				return 0;
			i += 2;
		} else if (!buf_catc(out, '=')) {
			return 0;
		}
	}
	return 1;
}

static int decode_base64_lines(const char *in, size_t len, struct buf *out)
{
	struct buf clean = BUF_INIT;
	size_t i;
	int ok = 1;

	for (i = 0; i < len && ok; i++)
		if (!isspace((unsigned char)in[i]))
			ok = buf_catc(&clean, in[i]);
	/* Damaged base64 keeps what decoded: a note is better than nothing. */
	ok = ok && (base64_decode(out, clean.data ? clean.data : "", clean.len) || errno != ENOMEM);
	buf_free(&clean);
	return ok;
}

/* From charset to the board's, '?' for each character it cannot take. */
int post_convert(const char *in, size_t len, const char *from, const char *to, struct buf *out)
{
	iconv_t cd = iconv_open(to, from);
	char chunk[1024], *ip = (char *)in, *op;
	size_t il = len, ol;

	if (cd == (iconv_t)-1 && (cd = iconv_open(to, "UTF-8")) == (iconv_t)-1) {
		errno = EINVAL;
		return 0;
	}
	while (il) {
		op = chunk, ol = sizeof chunk;
		if (iconv(cd, &ip, &il, &op, &ol) == (size_t)-1 && errno != E2BIG) {
			/* EILSEQ or EINVAL: one byte (and its UTF-8 continuation bytes) becomes '?'. */
			if (!buf_cat(out, chunk, sizeof chunk - ol) || !buf_catc(out, '?'))
				goto fail;
			do
				ip++, il--;
			while (il && ((unsigned char)*ip & 0xc0) == 0x80);
			continue;
		}
		if (!buf_cat(out, chunk, sizeof chunk - ol))
			goto fail;
	}
	iconv_close(cd);
	return 1;
fail:
	iconv_close(cd);
	return 0;
}

struct part_walk {
	const char *charset;     /* the board's */
	struct buf *text;        /* the parts taken, converted */
	struct buf notes;        /* "[attachment dropped: ...]" lines */
};

/* chosen: NULL in a multipart/mixed (or a single part), where every inline
 * text/plain part is taken and every other part noted; in a
 * multipart/alternative it says whether one alternative was taken, and
 * the others are left out silently (they are the same text). */
static int walk_part(struct part_walk *w, const char *m, size_t len, int depth, int *chosen);

static int walk_multipart(struct part_walk *w, const char *body, size_t len, const char *boundary, int depth,
			  int alternative)
{
	char delim[100];
	size_t dn, i = 0, start = (size_t)-1;
	int chosen = 0, ok = 1;

	dn = (size_t)snprintf(delim, sizeof delim, "--%s", boundary);
	if (dn >= sizeof delim)
		return 1;
	while (i < len && ok) {
		size_t eol = i;
		while (eol < len && body[eol] != '\n')
			eol++;
		if (eol - i >= dn && memcmp(body + i, delim, dn) == 0) {
			if (start != (size_t)-1)
				ok = walk_part(w, body + start, i - start - (i > start), depth + 1,
					       alternative ? &chosen : NULL);
			if (eol - i >= dn + 2 && body[i + dn] == '-' && body[i + dn + 1] == '-')
				break;
			start = eol + 1;
		}
		i = eol + 1;
	}
	if (ok && alternative && !chosen)
		ok = buf_cats(&w->notes, "[alternative dropped: no text/plain part]\n");
	return ok;
}

static int note_dropped(struct part_walk *w, const char *type, const char *disposition)
{
	char name[200];

	if (!header_param(disposition, "filename", name, sizeof name) && !header_param(type, "name", name, sizeof name))
		strcpy(name, "");
	return buf_catf(&w->notes, "[attachment dropped: %.100s%s%.100s]\n", type[0] ? type : "application/octet-stream",
			name[0] ? " " : "", name);
}

/* A text part decoded (RFC 2045) and converted onto the text. */
static int take_text(struct part_walk *w, const char *type, const char *cte, const char *body, size_t len)
{
	struct buf raw = BUF_INIT;
	char charset[CHARSET_NAME_MAX];
	int ok;

	if (!*type || !header_param(type, "charset", charset, sizeof charset))
		strcpy(charset, "UTF-8");   /* a superset of US-ASCII */
	if (strncasecmp(cte, "quoted-printable", 16) == 0)
		ok = decode_qp(body, len, &raw);
	else if (strncasecmp(cte, "base64", 6) == 0)
		ok = decode_base64_lines(body, len, &raw);
	else
		ok = buf_cat(&raw, body, len);
	if (ok && w->text->len && w->text->data[w->text->len - 1] != '\n')
		ok = buf_catc(w->text, '\n');
	ok = ok && post_convert(raw.data ? raw.data : "", raw.len, charset, w->charset, w->text);
	buf_free(&raw);
	return ok;
}

static int walk_part(struct part_walk *w, const char *m, size_t len, int depth, int *chosen)
{
	struct buf type = BUF_INIT, cte = BUF_INIT, disp = BUF_INIT;
	char boundary[80];
	size_t body, hlen = header_end(m, len, &body);
	int ok, is_text, inline_text;

	ok = header_get(m, hlen, "Content-Type", &type) && header_get(m, hlen, "Content-Transfer-Encoding", &cte)
	     && header_get(m, hlen, "Content-Disposition", &disp);
	is_text = !type.len || strncasecmp(type.data, "text/plain", 10) == 0;
	inline_text = is_text && strncasecmp(disp.data, "attachment", 10) != 0;
	if (!ok)
		;
	else if (type.len && strncasecmp(type.data, "multipart/", 10) == 0 && depth < MIME_DEPTH_MAX
		 && header_param(type.data, "boundary", boundary, sizeof boundary))
		ok = walk_multipart(w, m + body, len - body, boundary, depth,
				    strncasecmp(type.data + 10, "alternative", 11) == 0);
	else if (inline_text && !(chosen && *chosen)) {
		ok = take_text(w, type.data, cte.data, m + body, len - body);
		if (chosen)
			*chosen = 1;
	} else if (!chosen)
		ok = note_dropped(w, type.data, disp.data);
	buf_free(&type), buf_free(&cte), buf_free(&disp);
	return ok;
}

/* "Name <a@b>", "a@b (Name)", "<a@b>", "a@b". */
static int split_from(const char *v, struct buf *name, struct buf *address)
{
	const char *lt = strchr(v, '<'), *gt = lt ? strchr(lt, '>') : NULL;
	size_t n;

	if (lt && gt) {
		if (!buf_copy(address, lt + 1, (size_t)(gt - lt - 1)))
			return 0;
		n = (size_t)(lt - v);
		while (n && v[n - 1] == ' ')
			n--;
		if (n >= 2 && v[0] == '"' && v[n - 1] == '"')
			v++, n -= 2;
		if (!buf_copy(name, v, n))
			return 0;
	} else {
		n = strcspn(v, " (");
		if (!buf_copy(address, v, n) || !buf_copys(name, ""))
			return 0;
		if ((lt = strchr(v, '(')) && (gt = strchr(lt, ')')) && !buf_copy(name, lt + 1, (size_t)(gt - lt - 1)))
			return 0;
	}
	if (!name->len && !buf_copy(name, address->data, address->len))
		return 0;
	return buf_catc(name, 0) && (name->len--, buf_catc(address, 0)) && (address->len--, 1);
}

/* RFC 5322 date-time into Unix seconds (zone applied), or -1. */
static long long parse_date(const char *v)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	char mon[4], zone[8] = "";
	int day, year, hh, mm, ss = 0, off;
	const char *p = strchr(v, ',');
	const char *m;
	struct tm tm;
	long long t;

	p = p ? p + 1 : v;
	if (sscanf(p, "%d %3s %d %d:%d:%d %7s", &day, mon, &year, &hh, &mm, &ss, zone) < 6
	    && sscanf(p, "%d %3s %d %d:%d %7s", &day, mon, &year, &hh, &mm, zone) < 5)
		return -1;
	m = strstr(months, mon);
	if (!m || strlen(mon) != 3 || (m - months) % 3 || year < 1970 || year > 2105)
		return -1;
	memset(&tm, 0, sizeof tm);
	tm.tm_mday = day, tm.tm_mon = (int)((m - months) / 3), tm.tm_year = year - 1900;
	tm.tm_hour = hh, tm.tm_min = mm, tm.tm_sec = ss;
	t = (long long)timegm(&tm);
	if ((zone[0] == '+' || zone[0] == '-') && sscanf(zone + 1, "%4d", &off) == 1)
		t -= (zone[0] == '-' ? -1 : 1) * ((off / 100) * 3600LL + (off % 100) * 60LL);
	return t;
}

/* LF (and CRLF) line ends to CR. */
static int to_cr_lines(struct buf *text)
{
	size_t i, j = 0;

	for (i = 0; i < text->len; i++) {
		if (text->data[i] == '\r' && i + 1 < text->len && text->data[i + 1] == '\n')
			continue;
		text->data[j++] = text->data[i] == '\n' ? '\r' : text->data[i];
	}
	text->len = j;
	return 1;
}

/* One RFC 2047 encoded word at p ("=?charset?B|Q?text?="): its text in
 * UTF-8 appended to out; returns the bytes it took, or 0 when p is not
 * one. */
static size_t encoded_word(const char *p, struct buf *out)
{
	const char *cs = p + 2, *enc, *text, *end;
	struct buf raw = BUF_INIT, q = BUF_INIT;
	char charset[CHARSET_NAME_MAX];
	size_t i, taken = 0;

	if (strncmp(p, "=?", 2) != 0 || !(enc = strchr(cs, '?')) || !enc[1] || enc[2] != '?'
	    || (size_t)(enc - cs) >= sizeof charset || !(end = strstr(text = enc + 3, "?=")))
		return 0;
	memcpy(charset, cs, (size_t)(enc - cs));
	charset[enc - cs] = 0;
	if (strchr(charset, '*'))
		*strchr(charset, '*') = 0;   /* RFC 2231 language */
	if (enc[1] == 'B' || enc[1] == 'b') {
		if (!decode_base64_lines(text, (size_t)(end - text), &raw))
			goto out;
	} else if (enc[1] == 'Q' || enc[1] == 'q') {
		for (i = 0; text + i < end; i++)
			if (!buf_catc(&q, text[i] == '_' ? ' ' : text[i]))
				goto out;
		if (!decode_qp(q.data ? q.data : "", q.len, &raw))
			goto out;
	} else {
		goto out;
	}
	if (post_convert(raw.data ? raw.data : "", raw.len, charset, "UTF-8", out))
		taken = (size_t)(end + 2 - p);
out:
	buf_free(&raw);
	buf_free(&q);
	return taken;
}

/* A header value with its encoded words decoded, in UTF-8 (other 8-bit
 * header text is taken as UTF-8 too).  Blanks between two encoded words
 * are not text (RFC 2047 section 6.2). */
static int decode_header_words(const char *v, size_t len, struct buf *out)
{
	struct buf scratch = BUF_INIT;
	size_t i = 0, n, gap;
	int after_word = 0, ok = 1;

	while (i < len && ok) {
		n = v[i] == '=' ? encoded_word(v + i, out) : 0;
		if (n) {
			i += n, after_word = 1;
			continue;
		}
		if (after_word && v[i] == ' ') {
			for (gap = i; gap < len && v[gap] == ' '; gap++)
				;
			buf_truncate(&scratch, 0);
			if (gap < len && v[gap] == '=' && encoded_word(v + gap, &scratch)) {
				i = gap;
				continue;
			}
		}
		after_word = 0;
		ok = buf_catc(out, v[i++]);
	}
	buf_free(&scratch);
	return ok;
}

/* A header value converted like the text. */
static int header_text(const char *h, size_t hlen, const char *name, const char *charset, struct buf *out)
{
	struct buf raw = BUF_INIT, utf8 = BUF_INIT;
	int ok = header_get(h, hlen, name, &raw) && decode_header_words(raw.data, raw.len, &utf8)
		 && post_convert(utf8.data ? utf8.data : "", utf8.len, "UTF-8", charset, out) && buf_catc(out, 0)
		 && (out->len--, 1);
	buf_free(&raw);
	buf_free(&utf8);
	return ok;
}

int post_from_message(struct post *p, const char *message, size_t len, const char *charset)
{
	struct buf v = BUF_INIT;
	struct part_walk w;
	size_t body, hlen = header_end(message, len, &body);
	int ok;

	memset(&w, 0, sizeof w);
	w.charset = charset;
	w.text = &p->text;
	ok = header_text(message, hlen, "From", charset, &v) && split_from(v.data, &p->from_name, &p->from_address)
	     && header_text(message, hlen, "Subject", charset, &p->subject)
	     && header_get(message, hlen, "Message-ID", &p->message_id)
	     && header_get(message, hlen, "In-Reply-To", &p->in_reply_to) && header_get(message, hlen, "Date", &v);
	if (ok)
		p->date = parse_date(v.data);
	ok = ok && walk_part(&w, message, len, 0, NULL);
	if (ok && w.notes.len) {
		if (p->text.len && p->text.data[p->text.len - 1] != '\n')
			ok = buf_catc(&p->text, '\n');
		ok = ok && buf_cat(&p->text, w.notes.data, w.notes.len);
	}
	ok = ok && to_cr_lines(&p->text);
	buf_free(&v);
	buf_free(&w.notes);
	return ok;
}
