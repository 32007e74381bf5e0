#include "message.h"
#include <errno.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define MESSAGE_READ_CHUNK_BYTES 65536

void message_init(struct message *m) { memset(m, 0, sizeof *m); }

void message_free(struct message *m)
{
	buf_free(&m->text);
	buf_free(&m->headers);
	buf_free(&m->address_headers);
}

/* Appends one input line (without its LF) to the text; 0 means the lone
 * "." end mark was seen. */
static int message_add_line(struct message *m, const char *line, size_t len, int dot_ends)
{
	if (len && line[len - 1] == '\r')
		len--;
	if (dot_ends && len == 1 && line[0] == '.')
		return 0;
	xbuf_cat(&m->text, line, len);
	xbuf_catc(&m->text, '\n');
	return 1;
}

static int message_read_raw(int fd, struct buf *raw, unsigned long long max_bytes)
{
	ssize_t r;

	for (;;) {
		if (!buf_reserve(raw, MESSAGE_READ_CHUNK_BYTES))
			return 0;
		r = read(fd, raw->data + raw->len, MESSAGE_READ_CHUNK_BYTES);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return 0;
		if (r == 0)
			return 1;
		raw->len += (size_t)r;
		raw->data[raw->len] = 0;
		/* CRLF -> LF only shrinks, so the raw size bounds the result:
		 * allow for a CR per line before refusing. */
		if (max_bytes && raw->len / 2 > max_bytes) {
			errno = EFBIG;
			return 0;
		}
	}
}

int message_read(struct message *m, int fd, int dot_ends, unsigned long long max_bytes)
{
	struct buf raw = BUF_INIT;
	const char *p, *end, *nl;

	if (!message_read_raw(fd, &raw, max_bytes)) {
		int saved = errno;
		buf_free(&raw);
		errno = saved;
		return 0;
	}
	buf_truncate(&m->text, 0);
	p = raw.data;
	end = raw.data + raw.len;
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (!message_add_line(m, p, nl ? (size_t)(nl - p) : (size_t)(end - p), dot_ends))
			break;
		p = nl ? nl + 1 : end;
	}
	buf_free(&raw);
	if (max_bytes && m->text.len > max_bytes) {
		errno = EFBIG;
		return 0;
	}
	return 1;
}

/* "Name:" with a printable, non-empty name (RFC 5322 §2.2). */
static int message_is_field(const char *line, size_t len)
{
	size_t i;

	for (i = 0; i < len && line[i] != ':'; i++)
		if ((unsigned char)line[i] < 33 || (unsigned char)line[i] > 126)
			return 0;
	return i > 0 && i < len;
}

static int message_name_is(const char *field, const char *name)
{
	size_t n = strlen(name);
	return strncasecmp(field, name, n) == 0 && field[n] == ':';
}

/* The value of one header (after the colon), with folding undone. */
static void message_keep_value(struct message *m, const char *field, size_t len)
{
	const char *colon = memchr(field, ':', len);
	size_t i;

	for (i = (size_t)(colon - field) + 1; i < len; i++)
		if (field[i] != '\n')
			xbuf_catc(&m->address_headers, field[i]);
	xbuf_catc(&m->address_headers, 0);
}

/* One complete header (with its continuation lines). */
static void message_take_header(struct message *m, const char *field, size_t len)
{
	int is_bcc = message_name_is(field, "bcc");

	if (is_bcc || message_name_is(field, "to") || message_name_is(field, "cc"))
		message_keep_value(m, field, len);
	m->has_from |= message_name_is(field, "from");
	m->has_date |= message_name_is(field, "date");
	m->has_message_id |= message_name_is(field, "message-id");
	if (!is_bcc)
		xbuf_cat(&m->headers, field, len);
}

void message_parse_headers(struct message *m)
{
	const char *text = m->text.data ? m->text.data : "", *line, *nl, *field = NULL;
	size_t pos = 0, len;

	/* An mbox "From " line is not a header; sendmail drops it. */
	if (strncmp(text, "From ", 5) == 0 && (nl = strchr(text, '\n')))
		pos = (size_t)(nl - text) + 1;
	m->header_end = m->text.len;
	for (; pos < m->text.len; pos += len) {
		line = text + pos;
		nl = memchr(line, '\n', m->text.len - pos);
		len = (size_t)(nl - line) + 1;
		if (field && (line[0] == ' ' || line[0] == '\t'))
			continue;       /* continuation: stays part of field */
		if (field)
			message_take_header(m, field, (size_t)(line - field));
		field = NULL;
		if (len == 1) {
			m->had_separator = 1;
			m->header_end = pos + 1;
			return;
		}
		if (!message_is_field(line, len - 1)) {
			m->header_end = pos;
			return;
		}
		field = line;
	}
	if (field)
		message_take_header(m, field, (size_t)(text + m->text.len - field));
}

struct address_scan {
	struct buf plain, angle;
	int in_angle, had_angle, quoted, comment_depth;
};

static int address_scan_emit(struct address_scan *s, int (*fn)(const char *, void *), void *arg)
{
	struct buf *b = s->had_angle ? &s->angle : &s->plain;
	int ok = 1;

	if (b->len)
		ok = fn(b->data, arg);
	buf_truncate(&s->plain, 0);
	buf_truncate(&s->angle, 0);
	s->in_angle = s->had_angle = 0;
	return ok;
}

/* One byte of the list outside a quoted string or comment. */
static void address_scan_byte(struct address_scan *s, char c)
{
	struct buf *b = s->in_angle ? &s->angle : &s->plain;

	if (c == '(') {
		s->comment_depth = 1;
	} else if (c == '"') {
		s->quoted = 1;
		xbuf_catc(b, c);
	} else if (s->in_angle && c == '>') {
		s->in_angle = 0;
	} else if (!s->in_angle && c == '<') {
		s->in_angle = s->had_angle = 1;
		buf_truncate(&s->angle, 0);
	} else if (!s->in_angle && c == ':') {
		buf_truncate(&s->plain, 0);    /* "group-name:" */
	} else if (c != ' ' && c != '\t') {
		xbuf_catc(b, c);
	}
}

int message_each_address(const char *list, int (*fn)(const char *address, void *arg), void *arg)
{
	struct address_scan s;
	const char *p;
	int ok = 1;

	memset(&s, 0, sizeof s);
	for (p = list; ok; p++) {
		if (!*p || (!s.quoted && !s.comment_depth && !s.in_angle && (*p == ',' || *p == ';'))) {
			ok = address_scan_emit(&s, fn, arg);
			if (!*p)
				break;
		} else if (s.quoted) {
			xbuf_catc(s.in_angle ? &s.angle : &s.plain, *p);
			if (*p == '\\' && p[1])
				xbuf_catc(s.in_angle ? &s.angle : &s.plain, *++p);
			else if (*p == '"')
				s.quoted = 0;
		} else if (s.comment_depth) {
			if (*p == '\\' && p[1])
				p++;
			else
				s.comment_depth += *p == '(' ? 1 : *p == ')' ? -1 : 0;
		} else {
			address_scan_byte(&s, *p);
		}
	}
	buf_free(&s.plain);
	buf_free(&s.angle);
	return ok;
}
