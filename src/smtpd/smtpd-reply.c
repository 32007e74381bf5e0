#include "smtpd-reply.h"
#include "log.h"
#include <stdarg.h>
#include <stdio.h>

static void reply_prefix(struct smtp_session *s, int code, const char *enhanced, int more)
{
	xconn_printf(&s->conn, "%03d%c", code, more ? '-' : ' ');
	if (enhanced && (s->ext & SMTP_EXT_ENHANCED))
		xconn_printf(&s->conn, "%s ", enhanced);
}

void smtp_reply_line(struct smtp_session *s, int code, const char *enhanced, int more, const char *text)
{
	reply_prefix(s, code, enhanced, more);
	xconn_puts(&s->conn, text);
	xconn_put(&s->conn, "\r\n", 2);
}

void smtp_reply(struct smtp_session *s, int code, const char *enhanced, const char *fmt, ...)
{
	struct buf text = BUF_INIT;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !buf_reserve(&text, (size_t)n + 1))
		die_nomem();
	va_start(ap, fmt);
	vsnprintf(text.data, (size_t)n + 1, fmt, ap);
	va_end(ap);
	text.len = (size_t)n;
	smtp_reply_line(s, code, enhanced, 0, text.data);
	buf_free(&text);
}

void smtp_reply_flush(struct smtp_session *s)
{
	(void)conn_flush(&s->conn);
}

void smtp_reply_close(struct smtp_session *s, const char *enhanced, const char *text)
{
	smtp_reply(s, 421, enhanced, "%s %s", s->host, text);
	smtp_reply_flush(s);
	s->quit = 1;
}

const char *smtp_log_path(struct buf *scratch, const char *address)
{
	struct buf path = BUF_INIT;

	xbuf_catc(&path, '<');
	xbuf_cats(&path, address);
	xbuf_catc(&path, '>');
	xlog_value(scratch, path.data);
	buf_free(&path);
	return scratch->data;
}

/* The reason is often the reply's text, which may quote the client's
 * address: it goes through log_quote like every client string. */
void smtp_log_reject(struct smtp_session *s, const char *cmd, int code, const char *enhanced,
		     const char *reason)
{
	struct buf v = BUF_INIT;

	log_notice("%s%s%sevent=reject cmd=%s code=%d status=%s ip=%s reason=%s", s->id[0] ? "id=" : "", s->id,
		   s->id[0] ? " " : "", cmd, code, enhanced ? enhanced : "-", s->remote_ip, xlog_value(&v, reason));
	buf_free(&v);
}
