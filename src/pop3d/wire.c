#include "wire.h"
#include "log.h"
#include "mailbox.h"
#include <string.h>
#include <strings.h>

void wire_init(struct wire *w, long body_lines)
{
	memset(w, 0, sizeof *w);
	w->body_lines_left = body_lines;
	w->line_start = 1;
	w->in_header = 1;
}

static void wire_put(struct buf *out, const char *p, size_t n)
{
	if (out)
		xbuf_cat(out, p, n);
}

/* Keeps the first bytes of a header line so the spam header can be checked
 * when the line ends, however the chunks fall. */
static void wire_keep_head(struct wire *w, const char *p, size_t n)
{
	size_t room;

	if (!w->in_header || w->line_len >= sizeof w->head)
		return;
	room = sizeof w->head - w->line_len;
	memcpy(w->head + w->line_len, p, n < room ? n : room);
}

/* "X-Spam-Flag: YES" with any case and spacing around the value. */
static void wire_check_spam(struct wire *w)
{
	size_t n = w->line_len < sizeof w->head ? w->line_len : sizeof w->head;
	size_t name = strlen(MAILBOX_SPAM_HEADER), i;

	if (n <= name || strncasecmp(w->head, MAILBOX_SPAM_HEADER, name) != 0 || w->head[name] != ':')
		return;
	for (i = name + 1; i < n && (w->head[i] == ' ' || w->head[i] == '\t'); i++)
		;
	if (n - i >= strlen(MAILBOX_SPAM_VALUE)
	    && strncasecmp(w->head + i, MAILBOX_SPAM_VALUE, strlen(MAILBOX_SPAM_VALUE)) == 0)
		w->spam = 1;
}

/* Bytes of a line (no LF).  A CR is held back in case an LF follows. */
static void wire_text(struct wire *w, const char *p, size_t n, struct buf *out)
{
	if (!n)
		return;
	if (w->pending_cr) {
		wire_put(out, "\r", 1);
		w->size++;
		wire_keep_head(w, "\r", 1);
		w->line_len++;
		w->pending_cr = 0;
	}
	if (w->line_start && p[0] == '.')
		wire_put(out, ".", 1);
	w->line_start = 0;
	if (p[n - 1] == '\r') {
		w->pending_cr = 1;
		n--;
	}
	wire_put(out, p, n);
	wire_keep_head(w, p, n);
	w->size += n;
	w->line_len += n;
}

/* The LF: the held CR (if any) becomes part of the CRLF. */
static void wire_end_line(struct wire *w, struct buf *out)
{
	wire_put(out, "\r\n", 2);
	w->size += 2;
	w->pending_cr = 0;
	if (w->in_header) {
		if (w->line_len == 0)
			w->in_header = 0;
		else
			wire_check_spam(w);
	} else if (w->body_lines_left > 0) {
		w->body_lines_left--;
	}
	if (!w->in_header && w->body_lines_left == 0)
		w->done = 1;
	w->line_start = 1;
	w->line_len = 0;
}

void wire_feed(struct wire *w, const char *data, size_t len, struct buf *out)
{
	const char *lf, *end = data + len;

	while (data < end && !w->done) {
		lf = memchr(data, '\n', (size_t)(end - data));
		if (!lf) {
			wire_text(w, data, (size_t)(end - data), out);
			return;
		}
		wire_text(w, data, (size_t)(lf - data), out);
		wire_end_line(w, out);
		data = lf + 1;
	}
}

void wire_finish(struct wire *w, struct buf *out)
{
	if (w->done)
		return;
	if (w->pending_cr) {
		wire_put(out, "\r", 1);
		w->size++;
		w->pending_cr = 0;
		w->line_start = 0;
	}
	if (!w->line_start) {
		wire_put(out, "\r\n", 2);
		w->size += 2;
		w->line_start = 1;
	}
}
