/* TRANSACTION (RFC 1939 §5) and QUIT.  Deleted messages keep their numbers
 * and are hidden from STAT/LIST/UIDL; touching one is -ERR. */
#include "session.h"
#include "log.h"
#include "wire.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TRANSFER_CHUNK_BYTES 65536

/* Strict decimal (no sign, no spaces); 0 if malformed or too large. */
static int parse_number(const char *s, unsigned long *value)
{
	char *end;

	if (!s || *s < '0' || *s > '9' || strlen(s) > 9)
		return 0;
	*value = strtoul(s, &end, 10);
	return *end == 0;
}

/* The message a "msg" argument names, as an index; replies -ERR itself. */
static int message_arg(struct pop3_session *s, const char *arg, size_t *index)
{
	unsigned long n;

	if (!parse_number(arg, &n)) {
		pop3_err(s, "bad message number");
		return 0;
	}
	if (n == 0 || n > s->box.count) {
		pop3_err(s, "no such message, only %zu in maildrop", s->box.count);
		return 0;
	}
	if (s->box.messages[n - 1].flags & MESSAGE_DELETED) {
		pop3_err(s, "message %lu is deleted", n);
		return 0;
	}
	*index = n - 1;
	return 1;
}

static void maildrop_totals(const struct pop3_session *s, size_t *count, unsigned long long *octets)
{
	size_t i;

	*count = 0;
	*octets = 0;
	for (i = 0; i < s->box.count; i++)
		if (!(s->box.messages[i].flags & MESSAGE_DELETED)) {
			(*count)++;
			*octets += s->box.messages[i].wire_size;
		}
}

void pop3_cmd_stat(struct pop3_session *s, const char *arg)
{
	unsigned long long octets;
	size_t count;

	(void)arg;
	maildrop_totals(s, &count, &octets);
	pop3_ok(s, "%zu %llu", count, octets);
}

/* LIST and UIDL share their shape: one line for "n", or all live messages. */
static void listing(struct pop3_session *s, const char *arg, int uidl)
{
	char uid[MAILBOX_UIDL_MAX_BYTES + 1];
	unsigned long long octets;
	size_t i, count;

	if (arg) {
		if (!message_arg(s, arg, &i))
			return;
		if (uidl)
			mailbox_uidl(&s->box, i, uid);
		if (uidl)
			pop3_ok(s, "%zu %s", i + 1, uid);
		else
			pop3_ok(s, "%zu %lu", i + 1, (unsigned long)s->box.messages[i].wire_size);
		return;
	}
	maildrop_totals(s, &count, &octets);
	pop3_ok(s, "%zu messages (%llu octets)", count, octets);
	for (i = 0; i < s->box.count; i++) {
		if (s->box.messages[i].flags & MESSAGE_DELETED)
			continue;
		if (uidl) {
			mailbox_uidl(&s->box, i, uid);
			xconn_printf(&s->conn, "%zu %s\r\n", i + 1, uid);
		} else {
			xconn_printf(&s->conn, "%zu %lu\r\n", i + 1, (unsigned long)s->box.messages[i].wire_size);
		}
	}
	pop3_end_multiline(s);
}

void pop3_cmd_list(struct pop3_session *s, const char *arg) { listing(s, arg, 0); }
void pop3_cmd_uidl(struct pop3_session *s, const char *arg) { listing(s, arg, 1); }

/* Streams message i after "+OK"; returns the spam mark.  A read error after
 * the +OK cannot be reported in-band, so it ends the session. */
static int transfer(struct pop3_session *s, size_t i, int fd, long body_lines)
{
	static char chunk[TRANSFER_CHUNK_BYTES];
	struct buf out = BUF_INIT;
	struct wire w;
	ssize_t r;

	wire_init(&w, body_lines);
	while (!w.done && (r = read(fd, chunk, sizeof chunk)) != 0) {
		if (r < 0) {
			if (errno == EINTR)
				continue;
			log_warn("unable to read %s/%s: %s", s->box.path, mailbox_name(&s->box, i), strerror(errno));
			s->done = 1;
			buf_free(&out);
			return 0;
		}
		wire_feed(&w, chunk, (size_t)r, &out);
		xconn_put(&s->conn, out.data, out.len);
		buf_truncate(&out, 0);
		/* A client that stops reading must not make us buffer the whole
		 * message: flush each chunk, and give up when that fails. */
		if (s->conn.out.len >= TRANSFER_CHUNK_BYTES && !conn_flush(&s->conn)) {
			log_info("event=disconnect ip=%s reason=%s during=retr", s->remote_ip,
				 xlog_value(&out, strerror(errno)));
			s->done = 1;
			buf_free(&out);
			return 0;
		}
	}
	wire_finish(&w, &out);
	xbuf_cats(&out, ".\r\n");
	xconn_put(&s->conn, out.data, out.len);
	buf_free(&out);
	return w.spam;
}

/* RETR and TOP: open first, so a vanished file is a clean -ERR. */
static void send_message(struct pop3_session *s, size_t i, long body_lines)
{
	char path[PATH_MAX];
	struct message *m = &s->box.messages[i];
	int fd = -1, spam;

	if (mailbox_file_path(&s->box, i, path, sizeof path))
		fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		log_warn("unable to open %s: %s", path, strerror(errno));
		pop3_err(s, "[SYS/TEMP] unable to read message %zu", i + 1);
		return;
	}
	if (body_lines < 0)
		pop3_ok(s, "%lu octets", (unsigned long)m->wire_size);
	else
		pop3_ok(s, "top of message %zu follows", i + 1);
	spam = transfer(s, i, fd, body_lines);
	close(fd);
	if (body_lines >= 0 || s->done)
		return;
	m->flags |= MESSAGE_RETRIEVED;
	s->retrieved++;
	/* Synchronet's KILL_READ_SPAM: spam read once is deleted at QUIT. */
	if (spam && (s->cfg.options & MAIL_OPTION(KILL_READ_SPAM)) && !(m->flags & MESSAGE_DELETED)) {
		m->flags |= MESSAGE_DELETED;
	}
}

void pop3_cmd_retr(struct pop3_session *s, const char *arg)
{
	size_t i;

	if (message_arg(s, arg, &i))
		send_message(s, i, -1);
}

void pop3_cmd_top(struct pop3_session *s, const char *arg)
{
	char number[16];
	const char *sp = arg ? strchr(arg, ' ') : NULL;
	unsigned long lines;
	size_t i;

	if (!sp || (size_t)(sp - arg) >= sizeof number || !parse_number(sp + 1, &lines)) {
		pop3_err(s, "usage: TOP msg n");
		return;
	}
	memcpy(number, arg, (size_t)(sp - arg));
	number[sp - arg] = 0;
	if (message_arg(s, number, &i))
		send_message(s, i, (long)lines);
}

void pop3_cmd_dele(struct pop3_session *s, const char *arg)
{
	size_t i;

	if (!message_arg(s, arg, &i))
		return;
	s->box.messages[i].flags |= MESSAGE_DELETED;
	pop3_ok(s, "message %zu deleted", i + 1);
}

void pop3_cmd_rset(struct pop3_session *s, const char *arg)
{
	unsigned long long octets;
	size_t i, count;

	(void)arg;
	for (i = 0; i < s->box.count; i++)
		s->box.messages[i].flags &= ~(uint32_t)MESSAGE_DELETED;
	maildrop_totals(s, &count, &octets);
	pop3_ok(s, "maildrop has %zu messages (%llu octets)", count, octets);
}

void pop3_cmd_noop(struct pop3_session *s, const char *arg)
{
	(void)arg;
	pop3_ok(s, "%s", "");
}

void pop3_cmd_quit(struct pop3_session *s, const char *arg)
{
	unsigned long long octets;
	size_t count, failed, deleted;
	struct buf v = BUF_INIT;

	(void)arg;
	s->done = 1;
	if (s->state != POP3_STATE_TRANSACTION) {
		pop3_ok(s, "bbsmail POP3 server signing off");
		return;
	}
	failed = mailbox_update(&s->box);
	maildrop_totals(s, &count, &octets);
	deleted = s->box.count - count;
	log_info("event=quit ip=%s user=%s retrieved=%lu deleted=%zu failed=%zu left=%zu", s->remote_ip,
		 xlog_value(&v, s->user.name), s->retrieved, deleted - failed, failed, count + failed);
	buf_free(&v);
	if (failed)
		pop3_err(s, "[SYS/TEMP] %zu deleted message%s could not be removed", failed, failed == 1 ? "" : "s");
	else
		pop3_ok(s, "bbsmail POP3 server signing off (%zu message%s left)", count, count == 1 ? "" : "s");
}
