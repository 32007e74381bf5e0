/* dsn: composes the RFC 3464 notice of one notice job (dsn.h). */
#include "dsn.h"
#include "date.h"
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* RFC 5322 §2.1.1: lines SHOULD stay within 78 characters. */
#define DSN_HEADER_COLUMNS 78
#define DSN_TEXT_COLUMNS 72
#define DSN_BOUNDARY_TRIES 1000

static const char *dsn_or(const char *value, const char *fallback)
{
	return value && value[0] ? value : fallback;
}

static int dsn_has_8bit(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] > 0x7f)
			return 1;
	return 0;
}

/* Appends value from column col, breaking before a space wherever the
 * line would pass columns: the break is cont ("\n" in a header field, so
 * unfolding by RFC 5322 §2.2.3 gives the value back exactly; "\n   " in
 * the text, an indent).  A word longer than a line stays whole.  Control
 * bytes become '?', so no value can add a line of its own. */
static int dsn_fold(struct buf *out, const char *value, size_t col, size_t columns, const char *cont)
{
	size_t i = 0, j, k, len = strlen(value), start = col;

	while (i < len) {
		for (j = i; j < len && value[j] == ' '; j++)
			;
		while (j < len && value[j] != ' ')
			j++;
		if (value[i] == ' ' && col > start && col + (j - i) > columns) {
			if (!buf_cats(out, cont))
				return 0;
			col = strlen(cont) - 1;
		}
		for (k = i; k < j; k++)
			if (!buf_catc(out, (unsigned char)value[k] < 0x20 || value[k] == 0x7f ? '?' : value[k]))
				return 0;
		col += j - i;
		i = j;
	}
	return 1;
}

/* "Name: value\n", folded. */
static int dsn_field(struct buf *out, const char *name, const char *value)
{
	return buf_cats(out, name) && buf_cats(out, ": ")
	       && dsn_fold(out, value, strlen(name) + 2, DSN_HEADER_COLUMNS, "\n") && buf_catc(out, '\n');
}

static int dsn_field_date(struct buf *out, const char *name, long long when)
{
	char date[DATE_RFC5322_MAX_BYTES];

	return date_rfc5322(date, sizeof date, when) && dsn_field(out, name, date);
}

enum dsn_kind dsn_kind_of(const struct envelope *job)
{
	size_t i;
	int delivered = 0, relayed = 0;

	for (i = 0; i < job->rcpt_count; i++) {
		const char *a = job->rcpt[i].action;
		if (a && strcmp(a, "delayed") == 0)
			return DSN_DELAYED;
		if (a && strcmp(a, "delivered") == 0)
			delivered = 1;
		else if (a && strcmp(a, "relayed") == 0)
			relayed = 1;
	}
	return delivered ? DSN_DELIVERED : relayed ? DSN_RELAYED : DSN_FAILED;
}

static int dsn_about_notice(const struct envelope *job)
{
	return !job->sender[0] && job->notice && strcmp(job->notice, "dsn") == 0;
}

int dsn_recipient(const struct envelope *job, const char *host_name, struct buf *out)
{
	buf_truncate(out, 0);
	if (dsn_about_notice(job))
		return buf_catf(out, "postmaster@%s", host_name);
	return buf_cats(out, job->sender ? job->sender : "");
}

/* RET=FULL asks for the whole message, and only a failure returns it
 * (RFC 3461 §4.3); otherwise the header is enough. */
static int dsn_returns_full(const struct envelope *job, enum dsn_kind kind)
{
	return kind == DSN_FAILED && job->ret && strcasecmp(job->ret, "FULL") == 0;
}

/* Whether text starts with an RFC 3463 status ("5.1.1 ..."). */
static int dsn_starts_with_status(const char *text)
{
	return (text[0] == '2' || text[0] == '4' || text[0] == '5') && text[1] == '.' && isdigit((unsigned char)text[2]);
}

/* The reply as a diagnostic, as it came on the wire: code, status, text.
 * The SMTP client keeps the peer's enhanced status apart from its text
 * (smtpclient.h), so it is put back between the two; a text that starts
 * with one already keeps just that. */
static int dsn_reply(struct buf *out, const struct envelope_rcpt *r)
{
	const char *text = dsn_or(r->diagnostic, "");

	if (r->code && r->code[0] && !buf_catf(out, "%s ", r->code))
		return 0;
	if (r->status && r->status[0] && !dsn_starts_with_status(text) && !buf_catf(out, "%s ", r->status))
		return 0;
	return buf_cats(out, text);
}

static const char *dsn_subject(const struct envelope *job, enum dsn_kind kind)
{
	static const char *const subjects[] = { "Undelivered Mail Returned to Sender",
						"Delayed Mail (still being retried)", "Successful Mail Delivery Report",
						"Relayed Mail Report" };

	(void)job;
	return subjects[kind];
}

static const char *dsn_action(const struct envelope_rcpt *r)
{
	return dsn_or(r->action, "failed");
}

/* The introduction of the text part: what happened and what comes next. */
static int dsn_text_intro(struct buf *t, const struct envelope *job, const struct dsn_params *p, enum dsn_kind kind)
{
	char until[DATE_RFC5322_MAX_BYTES];
	const char *what = dsn_returns_full(job, kind) ? "the message is" : "its header is";

	if (!buf_catf(t, "This is the mail system at host %s.\n\n", p->host_name))
		return 0;
	if (dsn_about_notice(job))
		return buf_catf(t, "A delivery status notification that this mail system wrote could not be\n"
				   "delivered to the sender of the message it reported on.  Notifications are\n"
				   "sent from the null sender <>, so this one is reported to you, the\n"
				   "postmaster, instead.  No further notice is sent about it; %s attached.\n\n",
			       what);
	switch (kind) {
	case DSN_FAILED:
		return buf_catf(t, "Your message could not be delivered to one or more of its recipients.\n"
				   "This is a permanent error: the mail system has given up on them.\n"
				   "The reasons are below, and %s attached.\n\n"
				   "If you need help, write to postmaster@%s and include this notice.\n\n",
			       what, p->host_name);
	case DSN_DELAYED:
		if (p->max_lifetime_sec && date_rfc5322(until, sizeof until, (long long)job->arrival + (long long)p->max_lifetime_sec))
			return buf_catf(t, "Your message has not been delivered yet to one or more of its recipients.\n"
					   "The mail system will keep trying until %s;\n"
					   "you do not need to send it again.  The reasons for the delay are below.\n\n",
				       until);
		return buf_cats(t, "Your message has not been delivered yet to one or more of its recipients.\n"
				   "The mail system will keep trying; you do not need to send it again.\n"
				   "The reasons for the delay are below.\n\n");
	case DSN_DELIVERED:
		return buf_cats(t, "Your message was delivered to the recipients below, as you asked.\n\n");
	case DSN_RELAYED:
		return buf_cats(t, "Your message was passed on to the recipients below, as you asked.  The\n"
				   "mail system it went to sends no delivery notices, so this is the last\n"
				   "notice you get about it.\n\n");
	}
	return 1;
}

/* One recipient in the text part: "<addr>: why", wrapped. */
static int dsn_text_rcpt(struct buf *t, const struct envelope_rcpt *r)
{
	struct buf line = BUF_INIT;
	const char *action = dsn_action(r);
	int ok;

	ok = buf_catf(&line, "<%s>: ", r->address);
	if (ok && strcmp(action, "delivered") == 0)
		ok = buf_cats(&line, r->remote_mta ? "delivered to host " : "delivered to the mailbox")
		     && (!r->remote_mta || buf_cats(&line, r->remote_mta));
	else if (ok && strcmp(action, "relayed") == 0)
		ok = buf_cats(&line, "relayed to host ") && buf_cats(&line, dsn_or(r->remote_mta, "(unknown)"));
	else if (ok)
		ok = (!r->remote_mta || buf_catf(&line, "host %s said: ", r->remote_mta)) && dsn_reply(&line, r);
	ok = ok && dsn_fold(t, line.data, 0, DSN_TEXT_COLUMNS, "\n   ") && buf_cats(t, "\n\n");
	buf_free(&line);
	return ok;
}

static int dsn_text(struct buf *t, const struct envelope *job, const struct dsn_params *p, enum dsn_kind kind)
{
	size_t i;

	if (!dsn_text_intro(t, job, p, kind))
		return 0;
	for (i = 0; i < job->rcpt_count; i++)
		if (!dsn_text_rcpt(t, &job->rcpt[i]))
			return 0;
	/* No empty line after the last recipient. */
	buf_truncate(t, t->len - 1);
	return 1;
}

/* "type; address": an address with bytes above 0x7f is of type utf-8
 * (RFC 6533 §3). */
static int dsn_address_field(struct buf *out, const char *name, const char *address)
{
	struct buf v = BUF_INIT;
	int ok = buf_catf(&v, "%s; %s", dsn_has_8bit(address, strlen(address)) ? "utf-8" : "rfc822", address)
		 && dsn_field(out, name, v.data);

	buf_free(&v);
	return ok;
}

/* The per-message fields (RFC 3464 §2.2). */
static int dsn_status_message(struct buf *s, const struct envelope *job, const struct dsn_params *p)
{
	const char *from = dsn_or(job->client_host, job->helo);
	struct buf v = BUF_INIT;
	int ok = 1;

	if (job->envid && job->envid[0])
		ok = dsn_field(s, "Original-Envelope-Id", job->envid);
	ok = ok && buf_catf(&v, "dns; %s", p->host_name) && dsn_field(s, "Reporting-MTA", v.data);
	buf_truncate(&v, 0);
	if (ok && from)
		ok = buf_catf(&v, "dns; %s", from) && dsn_field(s, "Received-From-MTA", v.data);
	ok = ok && dsn_field_date(s, "Arrival-Date", (long long)job->arrival);
	buf_free(&v);
	return ok;
}

/* ORCPT is kept as "type;address" (envelope.h): the field puts a space
 * after the semicolon. */
static int dsn_original_recipient(struct buf *s, const char *orcpt)
{
	const char *semi = orcpt ? strchr(orcpt, ';') : NULL;
	struct buf v = BUF_INIT;
	int ok;

	if (!semi)
		return 1;
	ok = buf_cat(&v, orcpt, (size_t)(semi - orcpt)) && buf_cats(&v, "; ") && buf_cats(&v, semi + 1)
	     && dsn_field(s, "Original-Recipient", v.data);
	buf_free(&v);
	return ok;
}

/* The per-recipient fields (RFC 3464 §2.3), in its order. */
static int dsn_status_rcpt(struct buf *s, const struct envelope *job, const struct envelope_rcpt *r,
			   const struct dsn_params *p, enum dsn_kind kind)
{
	static const char *const default_status[] = { "5.0.0", "4.0.0", "2.0.0", "2.0.0" };
	struct buf v = BUF_INIT;
	int ok;

	ok = buf_catc(s, '\n') && dsn_original_recipient(s, r->orcpt)
	     && dsn_address_field(s, "Final-Recipient", r->address) && dsn_field(s, "Action", dsn_action(r))
	     && dsn_field(s, "Status", dsn_or(r->status, default_status[kind]));
	if (ok && r->remote_mta) {
		/* "mx.example.org [192.0.2.1]": the name is the first word. */
		ok = buf_cats(&v, "dns; ") && buf_cat(&v, r->remote_mta, strcspn(r->remote_mta, " "))
		     && dsn_field(s, "Remote-MTA", v.data);
		buf_truncate(&v, 0);
	}
	if (ok && r->diagnostic && r->diagnostic[0])
		ok = buf_cats(&v, "smtp; ") && dsn_reply(&v, r) && dsn_field(s, "Diagnostic-Code", v.data);
	ok = ok && dsn_field_date(s, "Last-Attempt-Date", job->last_attempt ? (long long)job->last_attempt : p->now)
	     && dsn_field(s, "Final-Log-ID", job->id);
	if (ok && kind == DSN_DELAYED && p->max_lifetime_sec)
		ok = dsn_field_date(s, "Will-Retry-Until", (long long)job->arrival + (long long)p->max_lifetime_sec);
	buf_free(&v);
	return ok;
}

static int dsn_status(struct buf *s, const struct envelope *job, const struct dsn_params *p, enum dsn_kind kind)
{
	size_t i;

	if (!dsn_status_message(s, job, p))
		return 0;
	for (i = 0; i < job->rcpt_count; i++)
		if (!dsn_status_rcpt(s, job, &job->rcpt[i], p, kind))
			return 0;
	return 1;
}

/* The length of the message's header block, through the LF of its last
 * field (the whole message when no empty line ends it). */
static size_t dsn_header_length(const char *message, size_t len)
{
	size_t i;

	if (len && message[0] == '\n')
		return 0;
	for (i = 0; i + 1 < len; i++)
		if (message[i] == '\n' && message[i + 1] == '\n')
			return i + 1;
	return len;
}

/* The third part's content, and its type. */
static void dsn_original(const struct envelope *job, enum dsn_kind kind, const char *message, size_t message_len,
			 size_t *len, const char **type, const char **description)
{
	static const char *const full_description[] = { "Undelivered Message", "Delayed Message", "Delivered Message",
							"Relayed Message" };
	static const char *const header_description[] = { "Undelivered Message Headers", "Delayed Message Headers",
							  "Delivered Message Headers", "Relayed Message Headers" };
	int full = dsn_returns_full(job, kind);

	/* RFC 6533 §6: the internationalized types for an SMTPUTF8 message. */
	if (job->smtputf8)
		*type = full ? "message/global" : "message/global-headers";
	else
		*type = full ? "message/rfc822" : "text/rfc822-headers";
	*description = full ? full_description[kind] : header_description[kind];
	*len = full ? message_len : dsn_header_length(message, message_len);
}

/* A boundary that occurs in none of the parts, so no line of the original
 * can end a part early (RFC 2046 §5.1.1). */
static int dsn_boundary(char *out, size_t size, const char *id, const struct buf *text, const struct buf *status,
			const char *original, size_t original_len)
{
	unsigned n;

	for (n = 0; n < DSN_BOUNDARY_TRIES; n++) {
		size_t len = (size_t)snprintf(out, size, "=_bbsmail-%s-%u", id, n);
		if (len >= size)
			break;
		if (!memmem(text->data, text->len, out, len) && !memmem(status->data, status->len, out, len)
		    && !memmem(original, original_len, out, len))
			return 1;
	}
	errno = EOVERFLOW;
	return 0;
}

static int dsn_head(struct buf *out, const struct envelope *job, const struct dsn_params *p, enum dsn_kind kind,
		    const char *boundary)
{
	struct buf to = BUF_INIT, v = BUF_INIT;
	char date[DATE_RFC5322_MAX_BYTES];
	int ok;

	ok = dsn_recipient(job, p->host_name, &to) && buf_catf(&v, "Mail Delivery System <MAILER-DAEMON@%s>", p->host_name)
	     && dsn_field(out, "From", v.data) && dsn_field(out, "To", to.data)
	     && dsn_field(out, "Subject", dsn_subject(job, kind)) && date_rfc5322(date, sizeof date, p->now)
	     && dsn_field(out, "Date", date);
	buf_truncate(&v, 0);
	ok = ok && buf_catf(&v, "<%s@%s>", p->notice_id, p->host_name) && dsn_field(out, "Message-ID", v.data)
	     && buf_cats(out, "MIME-Version: 1.0\n")
	     /* RFC 3834 §5: a notice is an automatic response. */
	     && buf_cats(out, "Auto-Submitted: auto-replied\n")
	     && buf_catf(out, "Content-Type: multipart/report; report-type=delivery-status;\n\tboundary=\"%s\"\n\n",
			 boundary)
	     && buf_cats(out, "This is a MIME-encapsulated message.\n\n");
	buf_free(&to);
	buf_free(&v);
	return ok;
}

/* One part: its delimiter, header, and content ending in LF; the LF
 * before the next delimiter belongs to the delimiter (RFC 2046 §5.1.1). */
static int dsn_part(struct buf *out, const char *boundary, const char *type, const char *description,
		    const char *content, size_t len)
{
	return buf_catf(out, "--%s\nContent-Type: %s\nContent-Description: %s\n\n", boundary, type, description)
	       && buf_cat(out, content, len) && (len && content[len - 1] == '\n' ? 1 : buf_catc(out, '\n'))
	       && buf_catc(out, '\n');
}

int dsn_compose(const struct envelope *job, const char *message, size_t message_len, const struct dsn_params *p,
		struct buf *out, int *eight_bit)
{
	enum dsn_kind kind = dsn_kind_of(job);
	struct buf text = BUF_INIT, status = BUF_INIT;
	const char *type, *description;
	char boundary[128], text_type[64];
	size_t original_len;
	int ok;

	buf_truncate(out, 0);
	dsn_original(job, kind, message, message_len, &original_len, &type, &description);
	ok = dsn_text(&text, job, p, kind) && dsn_status(&status, job, p, kind)
	     && dsn_boundary(boundary, sizeof boundary, p->notice_id, &text, &status, message, original_len);
	snprintf(text_type, sizeof text_type, "text/plain; charset=%s",
		 ok && dsn_has_8bit(text.data, text.len) ? "utf-8" : "us-ascii");
	ok = ok && dsn_head(out, job, p, kind, boundary)
	     && dsn_part(out, boundary, text_type, "Notification", text.data, text.len)
	     && dsn_part(out, boundary, job->smtputf8 ? "message/global-delivery-status" : "message/delivery-status",
			 "Delivery report", status.data, status.len)
	     && dsn_part(out, boundary, type, description, message, original_len) && buf_catf(out, "--%s--\n", boundary);
	if (ok)
		*eight_bit = dsn_has_8bit(out->data, out->len);
	buf_free(&text);
	buf_free(&status);
	return ok;
}
