/* qwk: QWK message blocks (qwk.h). */
#include "qwk.h"
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Copies s into the field, cut at size, padded with spaces. */
static void put_field(unsigned char *at, size_t size, const char *s)
{
	size_t n = strlen(s);

	memset(at, ' ', size);
	memcpy(at, s, n < size ? n : size);
}

static void put_number(unsigned char *at, size_t size, unsigned long v)
{
	char text[24];

	snprintf(text, sizeof text, "%lu", v);
	put_field(at, size, text);
}

void qwk_message_set_number(unsigned char *header, unsigned long number)
{
	put_number(header + QWK_OFF_NUMBER, 7, number);
	header[QWK_OFF_LOGICAL] = (unsigned char)(number & 0xff);
	header[QWK_OFF_LOGICAL + 1] = (unsigned char)((number >> 8) & 0xff);
}

/* Text bytes as QWK text: line ends become 0xE3, a literal 0xE3 '*'. */
static int cat_text(struct buf *b, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\r' && i + 1 < n && s[i + 1] == '\n')
			continue;
		if (!buf_catc(b, c == '\r' || c == '\n' ? (char)QWK_LINE_END : c == QWK_LINE_END ? '*' : (char)c))
			return 0;
	}
	return 1;
}

static int cat_line(struct buf *b, const char *key, const char *value)
{
	return buf_cats(b, key) && cat_text(b, value, strlen(value)) && buf_catc(b, (char)QWK_LINE_END);
}

/* The body: the netmail route line, QWKE lines for long fields, the
 * kludges, the text. */
static int build_body(struct buf *body, const struct qwk_out *m)
{
	const char *const *k;

	if (m->route_line && !cat_line(body, "", m->route_line))
		return 0;
	if (strlen(m->to) > QWK_FIELD_NAME_BYTES && !cat_line(body, "To: ", m->to))
		return 0;
	if (strlen(m->from) > QWK_FIELD_NAME_BYTES && !cat_line(body, "From: ", m->from))
		return 0;
	if (strlen(m->subject) > QWK_FIELD_NAME_BYTES && !cat_line(body, "Subject: ", m->subject))
		return 0;
	for (k = m->kludges; k && *k; k++)
		if (!cat_line(body, "", *k))
			return 0;
	return cat_text(body, m->text, m->text_len);
}

static void put_date(unsigned char *header, time_t t)
{
	struct tm tm;
	char text[64];

	if (!localtime_r(&t, &tm))
		memset(&tm, 0, sizeof tm), tm.tm_mday = 1, tm.tm_year = 70;
	snprintf(text, sizeof text, "%02u-%02u-%02u", (unsigned)(tm.tm_mon + 1) % 100, (unsigned)tm.tm_mday % 100,
		 (unsigned)tm.tm_year % 100);
	memcpy(header + QWK_OFF_DATE, text, 8);
	snprintf(text, sizeof text, "%02u:%02u", (unsigned)tm.tm_hour % 100, (unsigned)tm.tm_min % 100);
	memcpy(header + QWK_OFF_TIME, text, 5);
}

int qwk_message_write(struct buf *out, const struct qwk_out *m)
{
	struct buf body = BUF_INIT;
	unsigned char header[QWK_BLOCK_BYTES];
	size_t blocks, pad;
	int ok = 0;

	if (!build_body(&body, m))
		goto out;
	blocks = 1 + (body.len + QWK_BLOCK_BYTES - 1) / QWK_BLOCK_BYTES;
	if (blocks > QWK_MESSAGE_BLOCKS_MAX) {
		errno = EFBIG;
		goto out;
	}
	memset(header, ' ', sizeof header);
	header[QWK_OFF_STATUS] = (unsigned char)m->status;
	if (m->number)
		put_number(header + QWK_OFF_NUMBER, 7, m->number);
	put_date(header, m->date);
	put_field(header + QWK_OFF_TO, QWK_FIELD_NAME_BYTES, m->to);
	put_field(header + QWK_OFF_FROM, QWK_FIELD_NAME_BYTES, m->from);
	put_field(header + QWK_OFF_SUBJECT, QWK_FIELD_NAME_BYTES, m->subject);
	if (m->reference)
		put_number(header + QWK_OFF_REFERENCE, 8, m->reference);
	put_number(header + QWK_OFF_BLOCKS, 6, (unsigned long)blocks);
	header[QWK_OFF_ACTIVE] = QWK_ACTIVE;
	header[QWK_OFF_CONFERENCE] = (unsigned char)(m->conference & 0xff);
	header[QWK_OFF_CONFERENCE + 1] = (unsigned char)((m->conference >> 8) & 0xff);
	pad = (blocks - 1) * QWK_BLOCK_BYTES - body.len;
	ok = buf_cat(out, header, sizeof header) && buf_cat(out, body.data ? body.data : "", body.len);
	while (ok && pad--)
		ok = buf_catc(out, ' ');
out:
	buf_free(&body);
	return ok;
}

/* ---- reading ---- */

/* A field without its trailing spaces and NULs. */
static int get_field(struct buf *out, const unsigned char *at, size_t size)
{
	while (size && (at[size - 1] == ' ' || at[size - 1] == 0))
		size--;
	return buf_copy(out, (const char *)at, size);
}

/* An ASCII decimal field: digits, blanks around them; all blanks is 0. */
static int get_number(const unsigned char *at, size_t size, unsigned long *v)
{
	size_t i = 0;
	int digits = 0;

	*v = 0;
	while (i < size && at[i] == ' ')
		i++;
	for (; i < size && isdigit(at[i]); i++, digits++)
		*v = *v * 10 + (unsigned long)(at[i] - '0');
	while (i < size && (at[i] == ' ' || at[i] == 0))
		i++;
	return i == size && digits <= 8;
}

static int two_digits(const unsigned char *p, int *v)
{
	if (!isdigit(p[0]) || !isdigit(p[1]))
		return 0;
	*v = (p[0] - '0') * 10 + (p[1] - '0');
	return 1;
}

static int get_date(struct qwk_in *m, const unsigned char *h)
{
	const unsigned char *d = h + QWK_OFF_DATE, *t = h + QWK_OFF_TIME;

	if (!two_digits(d, &m->month) || d[2] != '-' || !two_digits(d + 3, &m->day) || d[5] != '-'
	    || !two_digits(d + 6, &m->year) || !two_digits(t, &m->hour) || t[2] != ':'
	    || !two_digits(t + 3, &m->minute))
		return 0;
	m->year += m->year < 70 ? 2000 : 1900;
	return m->month >= 1 && m->month <= 12 && m->day >= 1 && m->day <= 31 && m->hour < 24 && m->minute < 60;
}

static void message_free(struct qwk_in *m)
{
	buf_free(&m->to);
	buf_free(&m->from);
	buf_free(&m->subject);
	buf_free(&m->route_line);
	buf_free(&m->via);
	buf_free(&m->msgid);
	buf_free(&m->reply);
	buf_free(&m->text);
}

/* 1 when the line starts with key (case-insensitive); the value in out. */
static int take_key(const char *line, size_t n, const char *key, struct buf *out, int *ok)
{
	size_t k = strlen(key);

	if (n < k || strncasecmp(line, key, k) != 0)
		return 0;
	*ok = buf_copy(out, line + k, n - k);
	return 1;
}

/* The leading lines that are not text: the netmail route line (when the
 * To is NETMAIL), QWKE To/From/Subject, @-kludges.  *used: their bytes. */
static int take_leading_lines(struct qwk_in *m, const char *t, size_t len, size_t *used)
{
	size_t pos = 0, n;
	const char *line, *end;
	int ok = 1, first = 1;
	struct buf ignored = BUF_INIT;

	for (; pos < len && ok; first = 0) {
		line = t + pos;
		end = memchr(line, '\n', len - pos);
		n = end ? (size_t)(end - line) : len - pos;
		if (first && strcasecmp(m->to.data ? m->to.data : "", "NETMAIL") == 0)
			ok = buf_copy(&m->route_line, line, n);
		else if (take_key(line, n, "To: ", &m->to, &ok) || take_key(line, n, "From: ", &m->from, &ok)
			 || take_key(line, n, "Subject: ", &m->subject, &ok) || take_key(line, n, "@VIA: ", &m->via, &ok)
			 || take_key(line, n, "@MSGID: ", &m->msgid, &ok) || take_key(line, n, "@REPLY: ", &m->reply, &ok)
			 || take_key(line, n, "@TZ: ", &ignored, &ok) || take_key(line, n, "@REPLYTO: ", &ignored, &ok))
			;
		else
			break;
		pos += n + (end ? 1 : 0);
	}
	buf_free(&ignored);
	*used = pos;
	return ok;
}

static int read_text(struct qwk_in *m, const unsigned char *body, size_t len)
{
	struct buf t = BUF_INIT;
	size_t i, used;
	int ok = 1;

	while (len && (body[len - 1] == ' ' || body[len - 1] == 0))
		len--;
	for (i = 0; i < len && ok; i++)
		ok = buf_catc(&t, body[i] == QWK_LINE_END ? '\n' : body[i] == 0 ? ' ' : (char)body[i]);
	ok = ok && take_leading_lines(m, t.data ? t.data : "", t.len, &used)
		&& buf_copy(&m->text, t.data ? t.data + used : "", t.len - used);
	buf_free(&t);
	return ok;
}

/* One header at data[pos]; NULL when fine, else what is wrong. */
static const char *read_message(struct qwk_in *m, const unsigned char *data, size_t len, size_t pos)
{
	const unsigned char *h = data + pos;
	unsigned long blocks;

	memset(m, 0, sizeof *m);
	m->offset = pos;
	m->status = (char)h[QWK_OFF_STATUS];
	if (!get_number(h + QWK_OFF_BLOCKS, 6, &blocks) || blocks < 1)
		return "bad block count";
	if (blocks > (len - pos) / QWK_BLOCK_BYTES)
		return "block count runs past the end of the file (truncated packet?)";
	m->blocks = blocks;
	if (h[QWK_OFF_ACTIVE] != QWK_ACTIVE && h[QWK_OFF_ACTIVE] != QWK_DELETED)
		return "bad active flag";
	m->active = h[QWK_OFF_ACTIVE] == QWK_ACTIVE;
	if (!get_number(h + QWK_OFF_NUMBER, 7, &m->number))
		return "bad message number field";
	if (!get_number(h + QWK_OFF_REFERENCE, 8, &m->reference))
		return "bad reference number";
	if (!get_date(m, h))
		return "bad date or time";
	m->conference = (unsigned)h[QWK_OFF_CONFERENCE] | (unsigned)h[QWK_OFF_CONFERENCE + 1] << 8;
	if (!get_field(&m->to, h + QWK_OFF_TO, QWK_FIELD_NAME_BYTES)
	    || !get_field(&m->from, h + QWK_OFF_FROM, QWK_FIELD_NAME_BYTES)
	    || !get_field(&m->subject, h + QWK_OFF_SUBJECT, QWK_FIELD_NAME_BYTES)
	    || !read_text(m, h + QWK_BLOCK_BYTES, (blocks - 1) * QWK_BLOCK_BYTES))
		return "out of memory";
	return NULL;
}

static int fail(char *problem, size_t size, int err, const char *fmt, size_t a, const char *b)
{
	snprintf(problem, size, fmt, a, b);
	errno = err;
	return 0;
}

int qwk_file_parse(struct qwk_file *f, const unsigned char *data, size_t len, char *problem, size_t problem_size)
{
	size_t pos, n;
	const char *why;
	struct qwk_in *grown;

	memset(f, 0, sizeof *f);
	if (len < QWK_BLOCK_BYTES || len % QWK_BLOCK_BYTES)
		return fail(problem, problem_size, EBADMSG, "size %zu is not a whole number of 128-byte blocks%s", len, "");
	for (n = QWK_BLOCK_BYTES; n && (data[n - 1] == ' ' || data[n - 1] == 0); n--)
		;
	memcpy(f->banner, data, n);
	f->banner[n] = 0;
	for (pos = QWK_BLOCK_BYTES; pos < len; pos += f->messages[f->count - 1].blocks * QWK_BLOCK_BYTES) {
		if (!(grown = realloc(f->messages, (f->count + 1) * sizeof *grown))) {
			qwk_file_free(f);
			return fail(problem, problem_size, ENOMEM, "out of memory at offset %zu%s", pos, "");
		}
		f->messages = grown;
		why = read_message(&f->messages[f->count++], data, len, pos);
		if (why) {
			qwk_file_free(f);
			return fail(problem, problem_size, EBADMSG, "message at offset %zu: %s", pos, why);
		}
	}
	return 1;
}

void qwk_file_free(struct qwk_file *f)
{
	size_t i;

	for (i = 0; i < f->count; i++)
		message_free(&f->messages[i]);
	free(f->messages);
	f->messages = NULL;
	f->count = 0;
}

void qwk_mbf_from_uint(uint32_t value, unsigned char out[4])
{
	uint32_t mantissa;
	int e = 0;

	memset(out, 0, 4);
	if (value == 0)
		return;
	while (e < 32 && (value >> e) > 1)
		e++;
	/* value = 1.m * 2^e; the 23 mantissa bits below the leading one. */
	mantissa = e <= 23 ? (value << (23 - e)) : (value >> (e - 23));
	mantissa &= 0x7fffff;
	out[0] = (unsigned char)(mantissa & 0xff);
	out[1] = (unsigned char)((mantissa >> 8) & 0xff);
	out[2] = (unsigned char)((mantissa >> 16) & 0x7f);
	out[3] = (unsigned char)(e + 129);
}

long qwk_mbf_to_long(const unsigned char in[4])
{
	uint32_t mantissa = ((uint32_t)(in[2] & 0x7f) << 16) | ((uint32_t)in[1] << 8) | in[0] | 0x800000;
	int shift;

	if (in[3] == 0)
		return 0;
	if (in[2] & 0x80)
		return -1;
	shift = (int)in[3] - 129 - 23;
	if (shift >= 0)
		return shift > 7 ? -1 : (long)mantissa << shift;
	if (shift < -24 || (mantissa & ((1u << -shift) - 1)))
		return -1;
	return (long)(mantissa >> -shift);
}
