#include "smtpd-data.h"
#include "address.h"
#include "date.h"
#include "envelope.h"
#include "log.h"
#include "smtpd-commands.h"
#include "smtpd-contentfilter.h"
#include "smtpd-dnsbl.h"
#include "smtpd-mailproc.h"
#include "smtpd-milter.h"
#include "smtpd-lists.h"
#include "smtpd-reply.h"
#include "smtpd-telegram.h"
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* ---- the line rules, shared by DATA and BDAT ------------------------- */

static void sink_start(struct smtp_sink *k, int dot_mode)
{
	k->in_header = 1;
	k->seen_date = k->seen_message_id = 0;
	k->dot_mode = dot_mode;
	k->prev_line_crlf = 1;
	k->error = SMTP_DATA_OK;
	k->size = 0;
	buf_truncate(&k->line, 0);
	k->line_bytes = 0;
	k->line_cr_count = k->line_nul = k->last_byte_cr = 0;
	k->header_ended = 0;
	k->dropping_field = k->field_received = k->in_subject = 0;
	k->hold_subject = k->collect_received = k->hash_body = k->throttle = 0;
	k->subject_tag = NULL;
	buf_truncate(&k->subject, 0);
	buf_truncate(&k->received, 0);
	buf_truncate(&k->subject_text, 0);
	k->body_bytes = 0;
	k->header_end = NULL;
}

static void sink_fail(struct smtp_sink *k, enum smtp_data_error e)
{
	if (k->error == SMTP_DATA_OK)
		k->error = e;
}

static void sink_append(struct smtp_sink *k, const char *p, size_t n)
{
	size_t i, room;

	if (!n)
		return;
	for (i = 0; i < n; i++) {
		if (p[i] == '\r')
			k->line_cr_count++;
		else if (!p[i])
			k->line_nul = 1;
	}
	k->last_byte_cr = p[n - 1] == '\r';
	k->line_bytes += n;
	room = k->line.len < SMTP_LINE_MAX_BYTES ? SMTP_LINE_MAX_BYTES - k->line.len : 0;
	xbuf_cat(&k->line, p, n < room ? n : room);
}

/* Stores one line's content (CRLF already stripped) with an LF. */
static void sink_store(struct smtp_sink *k, const char *p, size_t n, int newline)
{
	if (k->error != SMTP_DATA_OK || !k->active)
		return;
	k->line_open = !newline;
	if (!spool_file_write(&k->file, p, n) || (newline && !spool_file_write(&k->file, "\n", 1))) {
		log_warn("unable to write %s: %s", k->file.tmp_path, strerror(errno));
		sink_fail(k, SMTP_DATA_WRITE_FAILED);
	}
}

void smtp_sink_store_line(struct smtp_sink *k, const char *line)
{
	if (k->line_open)
		sink_store(k, "", 0, 1);   /* a header-only BDAT message's last line */
	sink_store(k, line, strlen(line), 1);
}

/* "Name:" at the start of a header line (RFC 5322 §3.6, obsolete
 * whitespace before the colon allowed). */
static int header_is(const char *p, size_t n, const char *name)
{
	size_t len = strlen(name);

	if (n <= len || strncasecmp(p, name, len) != 0)
		return 0;
	for (p += len, n -= len; n && (*p == ' ' || *p == '\t'); p++, n--)
		;
	return n && *p == ':';
}

/* RFC 6409 §8: Date and Message-ID for a submitted message that lacks them,
 * written where its header section ends. */
static void sink_add_missing_headers(struct smtp_sink *k)
{
	char date[DATE_RFC5322_MAX_BYTES], line[CONFIG_STRING_MAX + SPOOL_ID_MAX_BYTES + 64];
	int n;

	if (!k->add_headers)
		return;
	if (!k->seen_date) {
		(void)date_rfc5322(date, sizeof date, (long long)time(NULL));
		n = snprintf(line, sizeof line, "Date: %s", date);
		if (n > 0 && (size_t)n < sizeof line)
			sink_store(k, line, (size_t)n, 1);
	}
	if (!k->seen_message_id) {
		n = snprintf(line, sizeof line, "Message-ID: <%s@%s>", k->id, k->host);
		if (n > 0 && (size_t)n < sizeof line)
			sink_store(k, line, (size_t)n, 1);
	}
	k->seen_date = k->seen_message_id = 1;
}

/* "Subject: <tag>: <text>" for the first line of a Subject field. */
static void sink_store_tagged_subject(struct smtp_sink *k, const char *p, size_t n)
{
	const char *colon = memchr(p, ':', n);
	size_t name = colon ? (size_t)(colon - p) + 1 : n, rest = n - name;
	const char *text = p + name;

	while (rest && (*text == ' ' || *text == '\t'))
		text++, rest--;
	sink_store(k, p, name, 0);
	sink_store(k, " ", 1, 0);
	/* Tagged once: a message tagged upstream keeps its one tag. */
	if (!(rest > strlen(k->subject_tag) && strncasecmp(text, k->subject_tag, strlen(k->subject_tag)) == 0
	      && text[strlen(k->subject_tag)] == ':')) {
		sink_store(k, k->subject_tag, strlen(k->subject_tag), 0);
		sink_store(k, ": ", 2, 0);
	}
	sink_store(k, text, rest, 1);
}

/* The held Subject field, tagged when the tag is known by now. */
static void sink_flush_subject(struct smtp_sink *k)
{
	const char *p = k->subject.data, *end, *nl;
	int first = 1;

	if (!p)
		return;
	for (end = p + k->subject.len; p < end; p = nl + 1, first = 0) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (first && k->subject_tag)
			sink_store_tagged_subject(k, p, (size_t)(nl - p));
		else
			sink_store(k, p, (size_t)(nl - p), 1);
	}
	buf_truncate(&k->subject, 0);
}

/* The end of the header section, before its blank line: the anti-spam
 * hook, the held Subject, then Date and Message-ID for submissions. */
static void sink_header_end(struct smtp_sink *k)
{
	if (k->header_ended)
		return;
	k->header_ended = 1;
	if (k->header_end)
		k->header_end(k, k->header_end_ctx);
	sink_flush_subject(k);
	sink_add_missing_headers(k);
}

/* A line of the header section (not the blank line that ends it): a
 * client's X-Spam-Flag field is dropped with its continuation lines, a
 * Subject is tagged or held, Received fields are kept for the DNSBL. */
static void sink_store_field(struct smtp_sink *k, const char *p, size_t n, int newline)
{
	int continuation = *p == ' ' || *p == '\t';

	if (!continuation) {
		k->dropping_field = header_is(p, n, "X-Spam-Flag");
		k->field_received = header_is(p, n, "Received");
		k->in_subject = header_is(p, n, "Subject");
	}
	if (k->dropping_field)
		return;
	/* The subject as one line for subject.can: unfolded, bounded. */
	if (k->in_subject && k->subject_text.len < SMTP_TEXT_LINE_MAX_BYTES) {
		const char *v = continuation ? p : (const char *)memchr(p, ':', n) + 1, *end = p + n;
		while (v < end && (*v == ' ' || *v == '\t'))
			v++;
		if (continuation && k->subject_text.len)
			xbuf_catc(&k->subject_text, ' ');
		xbuf_cat(&k->subject_text, v, (size_t)(end - v));
	}
	if (k->collect_received && k->field_received && k->received.len < SMTP_RECEIVED_KEEP_BYTES) {
		xbuf_cat(&k->received, p, n);
		xbuf_catc(&k->received, ' ');
	}
	if (k->in_subject && k->hold_subject && k->subject.len + n >= SMTP_RECEIVED_KEEP_BYTES) {
		/* Too long to hold: it goes out as it is, untagged. */
		sink_flush_subject(k);
		k->hold_subject = 0;
		sink_store(k, p, n, 1);
	} else if (k->in_subject && k->hold_subject) {
		xbuf_cat(&k->subject, p, n);
		xbuf_catc(&k->subject, '\n');
	} else if (k->in_subject && k->subject_tag && !continuation) {
		sink_store_tagged_subject(k, p, n);
	} else {
		sink_store(k, p, n, newline);
	}
}

/* Watches the header section for Date and Message-ID (content without the
 * line end; dot-stuffing already removed). */
static void sink_header_line(struct smtp_sink *k, const char *p, size_t n)
{
	if (!k->in_header)
		return;
	if (n == 0) {
		sink_header_end(k);
		k->in_header = 0;
	} else if (header_is(p, n, "Date")) {
		k->seen_date = 1;
	} else if (header_is(p, n, "Message-ID")) {
		k->seen_message_id = 1;
	}
}

/* Checks the line against the rules; content excludes the CRLF. */
static void sink_check(struct smtp_sink *k, size_t content, int bare_cr)
{
	if (bare_cr) {
		k->bare_newlines++;
		sink_fail(k, SMTP_DATA_BARE_NEWLINE);
	}
	if (k->line_nul)
		sink_fail(k, SMTP_DATA_NUL);
	if (content > SMTP_TEXT_LINE_MAX_BYTES)
		sink_fail(k, SMTP_DATA_LONG_LINE);
}

static void sink_line_reset(struct smtp_sink *k)
{
	buf_truncate(&k->line, 0);
	k->line_bytes = 0;
	k->line_cr_count = k->line_nul = k->last_byte_cr = 0;
}

/* The LF of a line arrived.  Returns 1 when this line is the end of DATA:
 * "." alone, after CRLF, ended by CRLF (RFC 5321 §4.1.1.4; nothing else ends
 * DATA, and a bare LF or CR never counts towards it). */
static int sink_line_end(struct smtp_sink *k, unsigned long long max_size)
{
	int crlf = k->line_bytes > 0 && k->last_byte_cr;
	size_t content = k->line_bytes - (crlf ? 1 : 0), stored;
	const char *p = k->line.data ? k->line.data : "";

	if (k->dot_mode && k->prev_line_crlf && crlf && content == 1 && p[0] == '.')
		return 1;
	if (!crlf)
		k->bare_newlines++, sink_fail(k, SMTP_DATA_BARE_NEWLINE);
	sink_check(k, content, k->line_cr_count > crlf);
	stored = content < k->line.len ? content : k->line.len;
	if (k->dot_mode && stored && p[0] == '.')
		p++, stored--, content--;
	if (k->dot_mode) {
		k->size += content + 2;
		if (max_size && k->size > max_size)
			sink_fail(k, SMTP_DATA_TOO_BIG);
	}
	if (k->throttle)
		smtpd_dnsbl_pause();
	if (k->in_header && stored) {
		sink_header_line(k, p, stored);
		sink_store_field(k, p, stored, 1);
	} else {
		int body = !k->in_header;
		sink_header_line(k, p, stored);
		sink_store(k, p, stored, 1);
		if (body && k->hash_body) {
			sha256_update(&k->body_hash, p, stored);
			sha256_update(&k->body_hash, "\n", 1);
			k->body_bytes += stored + 1;
		}
	}
	smtpd_telegram_line(k, p, stored);
	k->prev_line_crlf = crlf;
	sink_line_reset(k);
	return 0;
}

/* Feeds raw bytes.  Returns 1 when the end of DATA was found, with *used
 * the bytes consumed (the rest belongs to the next command). */
static int sink_feed(struct smtp_sink *k, const char *p, size_t n, size_t *used, unsigned long long max_size)
{
	const char *start = p, *end = p + n, *lf;

	if (!k->dot_mode) {
		k->size += n;
		if (max_size && k->size > max_size)
			sink_fail(k, SMTP_DATA_TOO_BIG);
	}
	while (p < end) {
		lf = memchr(p, '\n', (size_t)(end - p));
		sink_append(k, p, lf ? (size_t)(lf - p) : (size_t)(end - p));
		if (!lf)
			break;
		p = lf + 1;
		if (sink_line_end(k, max_size)) {
			*used = (size_t)(p - start);
			return 1;
		}
	}
	*used = n;
	return 0;
}

/* BDAT LAST: a final line without LF is stored as it is. */
static void sink_finish_partial(struct smtp_sink *k)
{
	if (!k->line_bytes)
		return;
	if (k->last_byte_cr)
		k->bare_newlines++, sink_fail(k, SMTP_DATA_BARE_NEWLINE);
	sink_check(k, k->line_bytes, k->line_cr_count > 0);
	sink_header_line(k, k->line.data, k->line.len);
	if (k->in_header) {
		/* Still in the header: a field, ended with LF when headers are
		 * to be added after it. */
		sink_store_field(k, k->line.data, k->line.len, k->add_headers);
	} else {
		sink_store(k, k->line.data, k->line.len, 0);
		if (k->hash_body) {
			sha256_update(&k->body_hash, k->line.data, k->line.len);
			k->body_bytes += k->line.len;
		}
	}
	smtpd_telegram_line(k, k->line.data, k->line.len);
	sink_line_reset(k);
}

/* ---- reading from the connection -------------------------------------- */

/* Makes sure some input is buffered.  1 yes, 0 EOF, -1 error (errno). */
static int input_wait(struct conn *c)
{
	char byte;
	ssize_t r;

	if (conn_buffered(c))
		return 1;
	r = conn_read(c, &byte, 1);
	if (r <= 0)
		return (int)r;
	/* conn_read consumed the byte from c->in; it is still there, so step back
	 * and let the caller scan the buffer in place (no copy per byte). */
	c->in_pos--;
	return 1;
}

/* Reads up to and including CRLF.CRLF.  1 found, 0 EOF, -1 error. */
static int data_read_dot(struct smtp_session *s)
{
	struct conn *c = &s->conn;
	size_t used;
	int r;

	for (;;) {
		if ((r = input_wait(c)) <= 0)
			return r;
		r = sink_feed(&s->sink, c->in.data + c->in_pos, conn_buffered(c), &used, s->max_size);
		c->in_pos += used;
		if (r)
			return 1;
	}
}

/* Reads exactly n octets of a BDAT chunk (always all of them, RFC 3030). */
static int data_read_chunk(struct smtp_session *s, unsigned long long n, int keep)
{
	struct conn *c = &s->conn;
	size_t take, used;
	int r;

	while (n) {
		if ((r = input_wait(c)) <= 0)
			return r;
		take = conn_buffered(c);
		if (take > n)
			take = (size_t)n;
		if (keep)
			sink_feed(&s->sink, c->in.data + c->in_pos, take, &used, s->max_size);
		c->in_pos += take;
		n -= take;
	}
	return 1;
}

/* The DATA deadline, never later than the session's. */
static void data_deadline(struct smtp_session *s, int on)
{
	long long d = conn_now_ms() + (long long)SMTP_DATA_DEADLINE_SEC * 1000;

	if (!on)
		s->conn.deadline_ms = s->session_deadline_ms;
	else
		s->conn.deadline_ms = s->session_deadline_ms && s->session_deadline_ms < d ? s->session_deadline_ms : d;
}

/* The connection failed while reading a message: nothing is kept. */
static void data_connection_lost(struct smtp_session *s, const char *cmd)
{
	int timed_out = errno == ETIMEDOUT;

	log_notice("id=%s event=abort cmd=%s ip=%s reason=%s", s->id[0] ? s->id : "-", cmd, s->remote_ip,
		   timed_out ? "timeout" : "connection-lost");
	session_reset_transaction(s);
	if (timed_out)
		smtp_reply_close(s, "4.4.2", "Timeout");
	s->quit = 1;
	s->close_reason = timed_out ? "timeout" : "connection-lost";
}

/* ---- the spool file --------------------------------------------------- */

/* Client text in the Received header's structure: letters, digits, the
 * bytes of keep and (utf8) bytes >= 0x80 as they are, every other byte as
 * %HH ('%' too, so the form can be undone).  No '(', ')', '\\', ';', '<',
 * '>', '"' or space of the client's can then end a comment (RFC 5322
 * §3.2.2), the path or the clause list (RFC 5321 §4.4) for a reader. */
static void received_encode(struct buf *out, const char *text, const char *keep, int utf8)
{
	unsigned char c;

	for (; *text; text++) {
		c = (unsigned char)*text;
		if (isalnum(c) || (utf8 && c >= 0x80) || (c < 0x80 && strchr(keep, c)))
			xbuf_catc(out, (char)c);
		else
			xbuf_catf(out, "%%%02X", c);
	}
}

/* "from <helo> (<rdns> [<ip>])" when the HELO name is a domain or an
 * address literal; any other HELO text is not put where a name goes: the
 * client's address literal stands there and the text, encoded, in the
 * comment as helo=... */
static void received_from(struct smtp_session *s, struct buf *out)
{
	const char *rdns = s->remote_host ? s->remote_host : "unknown";

	if (address_domain_valid(s->helo.data, 0)) {
		xbuf_catf(out, "Received: from %s (%s [%s])\n", s->helo.data, rdns, s->remote_ip);
		return;
	}
	if (strcmp(s->remote_ip, "unknown") == 0)
		xbuf_cats(out, "Received: from unknown (helo=");
	else
		xbuf_catf(out, "Received: from [%s%s] (helo=", strchr(s->remote_ip, ':') ? "IPv6:" : "", s->remote_ip);
	received_encode(out, s->helo.data, "-._:[]", 0);
	xbuf_catf(out, " %s [%s])\n", rdns, s->remote_ip);
}

/* "for <address>": the local part unquoted and encoded (a quoted one may
 * hold anything but CR, LF and NUL); the domain was checked at RCPT. */
static void received_for(struct smtp_session *s, struct buf *out, const char *address)
{
	struct buf local = BUF_INIT, domain = BUF_INIT;

	xbuf_cats(out, "\n\tfor <");
	if (address_split(address, &local, &domain)) {
		received_encode(out, local.data ? local.data : "", "!#$&'*+-/=?^_`{|}~.", s->smtputf8);
		xbuf_catf(out, "@%s>", domain.data);
	} else {
		received_encode(out, address, "-._", s->smtputf8);
		xbuf_catc(out, '>');
	}
	buf_free(&local);
	buf_free(&domain);
}

/* What a receiver writes (RFC 5321 §4.4); "for" only with exactly one
 * recipient (privacy). */
static void received_header(struct smtp_session *s, struct buf *out)
{
	char date[DATE_RFC5322_MAX_BYTES];

	(void)date_rfc5322(date, sizeof date, (long long)time(NULL));
	received_from(s, out);
	if (s->tls_active && s->policy.rcvd_tls_mode && s->tls_info.len)
		xbuf_catf(out, "\t(using %s)\n", s->tls_info.data);
	if (s->auth_user.len && s->policy.rcvd_auth_user) {
		xbuf_cats(out, "\t(authenticated as ");
		received_encode(out, s->auth_user.data, " -._'!#$&*+/=?^`{|}~", 0);
		xbuf_cats(out, ")\n");
	}
	xbuf_catf(out, "\tby %s (bbsmail) with %s id %s", s->host, session_protocol(s), s->id);
	if (s->rcpt_count == 1)
		received_for(s, out, s->rcpt[0].address);
	xbuf_catf(out, ";\n\t%s\n", date);
}

int smtpd_data_envelope(struct smtp_session *s, struct buf *out)
{
	struct envelope e;
	struct envelope_rcpt r;
	size_t i;
	int ok = 1;

	envelope_init(&e);
	memcpy(e.id, s->id, sizeof e.id);
	e.arrival = s->arrival;
	e.sender = s->sender.data ? s->sender.data : "";
	e.helo = s->helo.data;
	e.client_ip = strcmp(s->remote_ip, "unknown") ? s->remote_ip : NULL;
	e.client_host = s->remote_host;
	e.protocol = session_protocol(s);
	e.auth_user = s->auth_user.len ? s->auth_user.data : NULL;
	e.body = s->body;
	e.smtputf8 = s->smtputf8;
	e.ret = s->ret;
	e.envid = s->has_envid ? s->envid.data : NULL;
	for (i = 0; ok && i < s->rcpt_count; i++) {
		if (!s->rcpt[i].mail)
			continue;   /* a telegram only (SEND, SOML on line) */
		memset(&r, 0, sizeof r);
		r.address = s->rcpt[i].address;
		r.notify = s->rcpt[i].notify;
		r.orcpt = s->rcpt[i].orcpt;
		ok = envelope_add_rcpt(&e, &r);
	}
	ok = ok && envelope_write(&e, out);
	envelope_free(&e);
	return ok;
}

/* Opens spool/tmp/<id> with the envelope and Received header.  1 ok, else
 * 451 was sent. */
static int message_begin(struct smtp_session *s, int dot_mode)
{
	struct buf head = BUF_INIT;
	int ok;

	spool_make_id(s->id);
	s->arrival = (unsigned long)time(NULL);
	sink_start(&s->sink, dot_mode);
	smtpd_telegram_plan(s);
	s->sink.add_headers = s->auth_user.len != 0;
	s->sink.host = s->host;
	s->sink.id = s->id;
	smtpd_dnsbl_begin(s);
	ok = smtpd_data_envelope(s, &head);
	if (ok)
		received_header(s, &head);
	ok = ok && spool_file_create(&s->sink.file, SPOOL_INCOMING_DIR, s->id);
	s->sink.active = ok;
	ok = ok && spool_file_write(&s->sink.file, head.data, head.len);
	buf_free(&head);
	if (ok)
		return 1;
	log_warn("id=%s unable to start the spool file: %s", s->id, strerror(errno));
	smtp_reply(s, 451, "4.3.0", "Temporary local problem, try again later");
	if (s->sink.active)
		spool_file_abort(&s->sink.file);
	s->sink.active = 0;
	return 0;
}

static void message_refuse(struct smtp_session *s, const char *cmd)
{
	static const struct {
		int code;
		const char *enhanced, *text, *reason;
	} why[] = {
		[SMTP_DATA_BARE_NEWLINE] = { 550, "5.5.2", "Bare LF or bare CR not allowed", "bare-newline" },
		[SMTP_DATA_NUL] = { 554, "5.6.0", "NUL byte not allowed in message", "nul" },
		[SMTP_DATA_LONG_LINE] = { 554, "5.6.0", "Line too long (more than 998 octets)", "long-line" },
		[SMTP_DATA_TOO_BIG] = { 552, "5.3.4", "Message size exceeds fixed maximum message size", "too-big" },
		[SMTP_DATA_WRITE_FAILED] = { 451, "4.3.0", "Temporary local problem, try again later", "write-failed" },
	};
	enum smtp_data_error e = s->sink.error;

	smtp_reply(s, why[e].code, why[e].enhanced, "%s", why[e].text);
	smtp_log_reject(s, cmd, why[e].code, why[e].enhanced, why[e].reason);
}

/* The sender, user and MAIL AUTH= are the client's: quoted values. */
static void log_accept(struct smtp_session *s)
{
	struct buf from = BUF_INIT, user = BUF_INIT, auth = BUF_INIT;

	smtp_log_path(&from, s->sender.data ? s->sender.data : "");
	xlog_value(&user, s->auth_user.len ? s->auth_user.data : "-");
	if (s->has_mail_auth)
		smtp_log_path(&auth, s->mail_auth.data ? s->mail_auth.data : "");
	log_info("id=%s event=accept from=%s rcpt=%zu size=%llu ip=%s proto=%s user=%s%s%s", s->id, from.data,
		 smtpd_telegram_mail_count(s), s->sink.size, s->remote_ip, session_protocol(s), user.data,
		 s->has_mail_auth ? " mailauth=" : "", s->has_mail_auth ? auth.data : "");
	buf_free(&from);
	buf_free(&user);
	buf_free(&auth);
}

/* End of the message: refuse, or commit (fsync, rename, fsync dir) and only
 * then say 250. */
static void message_finish(struct smtp_session *s, const char *cmd)
{
	struct smtp_sink *k = &s->sink;
	size_t telegrams = 0;

	if (k->in_header)
		sink_header_end(k);
	if (k->error != SMTP_DATA_OK) {
		message_refuse(s, cmd);
	} else if (smtpd_lists_finish(s, cmd) || smtpd_dnsbl_finish(s, cmd) || smtpd_milter_finish(s, cmd)
		   || smtpd_mailproc_finish(s, cmd)
		   || smtpd_contentfilter_finish(s, cmd)) {
		/* refused, or dropped with 250 (DNSBL_IGNORE); replied */
	} else if (!session_spool_space_ok(s)) {
		smtp_reply(s, 452, "4.3.1", "Insufficient system storage");
		smtp_log_reject(s, cmd, 452, "4.3.1", "min-availspace");
	} else if (!smtpd_telegram_deliver(s, cmd, &telegrams)) {
		/* replied; the spool file is dropped with the transaction */
	} else if (!smtpd_telegram_mail_count(s)) {
		/* SEND, or SOML to users on line only: no mail. */
		smtp_reply(s, 250, "2.0.0", "Ok: telegram delivered to %zu recipient(s)", telegrams);
		s->messages++;
	} else if (!spool_file_commit(&k->file)) {
		k->active = 0;
		log_warn("id=%s unable to commit the spool file: %s", s->id, strerror(errno));
		smtp_reply(s, 451, "4.3.0", "Temporary local problem, try again later");
	} else {
		k->active = 0;
		if (telegrams)
			smtp_reply(s, 250, "2.0.0", "Ok: queued as %s, telegram delivered to %zu recipient(s)", s->id,
				   telegrams);
		else
			smtp_reply(s, 250, "2.0.0", "Ok: queued as %s", s->id);
		log_accept(s);
		s->messages++;
		spool_poke_trigger();
	}
	session_reset_transaction(s);
}

/* ---- DATA ------------------------------------------------------------- */

/* 1 when DATA/BDAT may start now, else the reply was sent. */
static int body_allowed(struct smtp_session *s, const char *cmd)
{
	if (!s->helo_seen) {
		smtp_reply(s, 503, "5.5.1", "Send HELO/EHLO first");
	} else if (!s->in_mail) {
		smtp_reply(s, 503, "5.5.1", "Need MAIL command");
	} else if (s->rcpt_count == 0 && s->rcpt_attempts) {
		smtp_reply(s, 554, "5.5.1", "No valid recipients");
		smtp_log_reject(s, cmd, 554, "5.5.1", "no-valid-recipients");
	} else if (s->rcpt_count == 0) {
		smtp_reply(s, 503, "5.5.1", "Need RCPT command");
	} else {
		return 1;
	}
	return 0;
}

void smtp_cmd_data(struct smtp_session *s, const char *arg)
{
	int r;

	if (*arg) {
		smtp_reply(s, 501, "5.5.4", "Syntax: DATA");
		return;
	}
	if (s->body_mode == SMTP_BODY_BDAT) {
		smtp_reply(s, 503, "5.5.1", "DATA not allowed after BDAT");
		return;
	}
	if (!body_allowed(s, "DATA") || !message_begin(s, 1))
		return;
	s->body_mode = SMTP_BODY_DATA;
	smtp_reply(s, 354, NULL, "End data with <CR><LF>.<CR><LF>");
	data_deadline(s, 1);
	r = data_read_dot(s);
	data_deadline(s, 0);
	if (r <= 0) {
		data_connection_lost(s, "DATA");
		return;
	}
	message_finish(s, "DATA");
}

/* ---- BDAT (RFC 3030) ------------------------------------------------------ */

/* "<size> [LAST]": 1 ok; 0 the size is not a number; -1 the size is one
 * but the rest is wrong, so the client will still send that many octets. */
static int bdat_parse(const char *arg, unsigned long long *size, int *last)
{
	const char *p = arg;
	unsigned long long n = 0;

	if (*p < '0' || *p > '9')
		return 0;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (n > (~0ULL - 9) / 10)
			return 0;
		n = n * 10 + (unsigned long long)(*p - '0');
	}
	*size = n;
	*last = 0;
	if (!*p)
		return 1;
	if (strcasecmp(p, " LAST") == 0)
		return *last = 1;
	return -1;
}

/* Decides before reading whether this chunk can be taken: 0 and the reply
 * (sent after the octets are read) in code, enhanced and text. */
static int bdat_check(struct smtp_session *s, int *code, const char **enhanced, const char **text)
{
	*code = 503;
	*enhanced = "5.5.1";
	if (!s->helo_seen)
		*text = "Send HELO/EHLO first";
	else if (!s->in_mail)
		*text = "Need MAIL command";
	else if (s->bdat_failed)
		*text = "Transaction failed, send RSET";
	else if (s->body_mode == SMTP_BODY_DATA)
		*text = "BDAT not allowed after DATA";
	else if (s->rcpt_count == 0) {
		*text = s->rcpt_attempts ? "No valid recipients" : "Need RCPT command";
		if (s->rcpt_attempts)
			*code = 554;
	} else
		return 1;
	return 0;
}

/* After a refused chunk the transaction has failed until RSET or MAIL. */
static void bdat_fail(struct smtp_session *s)
{
	if (s->in_mail) {
		s->bdat_failed = 1;
		if (s->sink.active)
			spool_file_abort(&s->sink.file);
		s->sink.active = 0;
	}
}

static void bdat_refuse(struct smtp_session *s, int code, const char *enhanced, const char *text)
{
	smtp_reply(s, code, enhanced, "%s", text);
	bdat_fail(s);
}

void smtp_cmd_bdat(struct smtp_session *s, const char *arg)
{
	unsigned long long size;
	int last, keep, code, r;
	const char *enhanced = NULL, *text = NULL;

	r = bdat_parse(arg, &size, &last);
	if (r == 0) {
		smtp_reply(s, 501, "5.5.4", "Syntax: BDAT <size> [LAST]");
		return;
	}
	keep = bdat_check(s, &code, &enhanced, &text);
	/* A size that parses is followed by that many octets whatever else
	 * is wrong: they are read and thrown away, never run as commands. */
	if (r < 0) {
		keep = 0;
		code = 501;
		enhanced = "5.5.4";
		text = "Syntax: BDAT <size> [LAST]";
	}
	if (keep && s->body_mode == SMTP_BODY_NONE) {
		if (!message_begin(s, 0)) {
			/* 451 was sent; the octets still have to be read. */
			s->bdat_failed = 1;
			keep = 0;
			code = 0;
		}
		s->body_mode = SMTP_BODY_BDAT;
	}
	data_deadline(s, 1);
	r = data_read_chunk(s, size, keep);
	data_deadline(s, 0);
	if (r <= 0) {
		data_connection_lost(s, "BDAT");
		return;
	}
	if (!keep) {
		if (code)
			bdat_refuse(s, code, enhanced, text);
	} else if (s->sink.error != SMTP_DATA_OK) {
		message_refuse(s, "BDAT");
		bdat_fail(s);
	} else if (last) {
		sink_finish_partial(&s->sink);
		if (s->sink.error != SMTP_DATA_OK)
			s->bdat_failed = 1;
		message_finish(s, "BDAT");
	} else {
		smtp_reply(s, 250, "2.0.0", "%llu octets received", size);
	}
}
