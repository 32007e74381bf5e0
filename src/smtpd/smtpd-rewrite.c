#include "smtpd-rewrite.h"
#include "log.h"
#include <string.h>
#include <strings.h>

/* A rewritten message must still obey what the sink enforced: LF line
 * ends (no CR, no NUL), lines of at most 998 octets, the last line ended.
 * NULL ok, else what is wrong. */
const char *smtpd_rewrite_check(const struct buf *m)
{
	size_t i, line = 0;

	if (!m->len)
		return "empty";
	for (i = 0; i < m->len; i++) {
		if (m->data[i] == '\0')
			return "nul";
		if (m->data[i] == '\r')
			return "cr";
		if (m->data[i] == '\n')
			line = 0;
		else if (++line > SMTP_TEXT_LINE_MAX_BYTES)
			return "long-line";
	}
	return m->data[m->len - 1] == '\n' ? NULL : "unterminated-line";
}

/* The length of the header section, up to and without its empty line (the
 * whole message when there is none). */
size_t smtpd_rewrite_header_length(const struct buf *m)
{
	size_t i;

	if (m->len && m->data[0] == '\n')
		return 0;
	for (i = 0; i + 1 < m->len; i++)
		if (m->data[i] == '\n' && m->data[i + 1] == '\n')
			return i + 1;
	return m->len;
}

static int is_spam_flag(const char *p, size_t n) { return n >= 12 && strncasecmp(p, "X-Spam-Flag:", 12) == 0; }

/* Whether the header holds an X-Spam-Flag: the sink has dropped the
 * client's, so in the message as received it can only be bbsmail's. */
int smtpd_rewrite_has_spam_flag(const struct buf *m)
{
	size_t h = smtpd_rewrite_header_length(m), i = 0;
	const char *nl;

	while (i < h) {
		nl = memchr(m->data + i, '\n', h - i);
		if (is_spam_flag(m->data + i, h - i))
			return 1;
		i = nl ? (size_t)(nl - m->data) + 1 : h;
	}
	return 0;
}

/* The message as it will be stored: every X-Spam-Flag field of the header
 * (with its continuation lines) dropped, since a program may have let a
 * client's through or added its own, and bbsmail's "X-Spam-Flag: YES" at
 * the header's end when spam. */
void smtpd_rewrite_retag(const struct buf *m, int spam, struct buf *out)
{
	size_t h = smtpd_rewrite_header_length(m), i = 0, end;
	const char *nl;
	int dropping = 0;

	while (i < h) {
		nl = memchr(m->data + i, '\n', h - i);
		end = nl ? (size_t)(nl - m->data) + 1 : h;
		if (m->data[i] != ' ' && m->data[i] != '\t')
			dropping = is_spam_flag(m->data + i, end - i);
		if (!dropping)
			xbuf_cat(out, m->data + i, end - i);
		i = end;
	}
	if (out->len && out->data[out->len - 1] != '\n')
		xbuf_catc(out, '\n');
	if (spam)
		xbuf_cats(out, "X-Spam-Flag: YES\n");
	xbuf_cat(out, m->data + h, m->len - h);
}

/* Writes the spool file again: the envelope record as it was, then the
 * new message.  1 ok, 0 errno (the old file is gone either way). */
int smtpd_rewrite_rebuild(struct smtp_session *s, const char *head, size_t head_len, const struct buf *m)
{
	struct smtp_sink *k = &s->sink;

	spool_file_abort(&k->file);
	k->active = spool_file_create(&k->file, k->dest_dir ? k->dest_dir : SPOOL_INCOMING_DIR, s->id);
	if (k->active && spool_file_write(&k->file, head, head_len) && spool_file_write(&k->file, m->data, m->len))
		return 1;
	return 0;
}

/* The spool file's envelope part, and the message after it. */
int smtpd_rewrite_split(struct smtp_session *s, struct envelope *e, size_t *head_len)
{
	if (!spool_file_start(&s->sink.file) || !file_read_path(s->sink.file.tmp_path, &e->storage) || !envelope_parse(e))
		return 0;
	*head_len = (size_t)(e->message - e->storage.data);
	return 1;
}

