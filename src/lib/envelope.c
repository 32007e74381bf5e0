#include "envelope.h"
#include "record.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void envelope_init(struct envelope *e) { memset(e, 0, sizeof *e); }

void envelope_free(struct envelope *e)
{
	free(e->rcpt);
	buf_free(&e->storage);
	memset(e, 0, sizeof *e);
}

int envelope_add_rcpt(struct envelope *e, const struct envelope_rcpt *r)
{
	struct envelope_rcpt *grown;

	if (e->rcpt_count >= ((size_t)-1) / sizeof *grown / 2) {
		errno = EOVERFLOW;
		return 0;
	}
	grown = realloc(e->rcpt, (e->rcpt_count + 1) * sizeof *grown);
	if (!grown)
		return 0;
	e->rcpt = grown;
	e->rcpt[e->rcpt_count++] = *r;
	return 1;
}

static int add_optional(struct buf *out, char tag, const char *value)
{
	return !value || record_add(out, tag, value);
}

int envelope_write(const struct envelope *e, struct buf *out)
{
	size_t i;
	int ok;

	ok = record_add(out, 'V', ENVELOPE_VERSION) && record_add(out, 'I', e->id)
	     && record_add_ulong(out, 'D', e->arrival) && record_add(out, 'F', e->sender ? e->sender : "")
	     && add_optional(out, 'H', e->helo) && add_optional(out, 'A', e->client_ip)
	     && add_optional(out, 'N', e->client_host) && add_optional(out, 'P', e->protocol)
	     && add_optional(out, 'U', e->auth_user) && add_optional(out, 'B', e->body)
	     && (!e->smtputf8 || record_add(out, 'Y', "1")) && add_optional(out, 'R', e->ret)
	     && add_optional(out, 'E', e->envid)
	     && (!e->attempts || record_add_ulong(out, 'Q', e->attempts))
	     && (!e->last_attempt || record_add_ulong(out, 'L', e->last_attempt))
	     && (!e->delay_warned || record_add(out, 'W', "1")) && add_optional(out, 'K', e->notice);
	for (i = 0; ok && i < e->rcpt_count; i++) {
		const struct envelope_rcpt *r = &e->rcpt[i];
		ok = record_add(out, 'T', r->address) && add_optional(out, 'n', r->notify)
		     && add_optional(out, 'o', r->orcpt) && add_optional(out, 'c', r->channel)
		     && (!r->channel || record_add_ulong(out, 'u', r->usernum))
		     && add_optional(out, 't', r->target) && add_optional(out, 's', r->status)
		     && add_optional(out, 'r', r->code) && add_optional(out, 'x', r->diagnostic)
		     && add_optional(out, 'm', r->remote_mta) && add_optional(out, 'a', r->action);
	}
	return ok && record_end(out);
}

int envelope_parse(struct envelope *e)
{
	struct envelope_rcpt *cur = NULL, blank = { 0 };
	struct record_reader r;
	const char *value;
	char tag;
	int got, seen_version = 0;

	record_reader_init(&r, e->storage.data, e->storage.len);
	while ((got = record_next(&r, &tag, &value)) == 1) {
		if (tag == 'T') {
			blank.address = value;
			if (!envelope_add_rcpt(e, &blank))
				return 0;
			cur = &e->rcpt[e->rcpt_count - 1];
			continue;
		}
		if (cur) {
			switch (tag) {
			case 'n': cur->notify = value; continue;
			case 'o': cur->orcpt = value; continue;
			case 'c': cur->channel = value; continue;
			case 'u': cur->usernum = strtoul(value, NULL, 10); continue;
			case 't': cur->target = value; continue;
			case 's': cur->status = value; continue;
			case 'r': cur->code = value; continue;
			case 'x': cur->diagnostic = value; continue;
			case 'm': cur->remote_mta = value; continue;
			case 'a': cur->action = value; continue;
			default: goto bad; /* message fields come before recipients */
			}
		}
		switch (tag) {
		case 'V': if (strcmp(value, ENVELOPE_VERSION) != 0) goto bad; seen_version = 1; break;
		case 'I': if (strlen(value) >= sizeof e->id) goto bad; strcpy(e->id, value); break;
		case 'D': e->arrival = strtoul(value, NULL, 10); break;
		case 'F': e->sender = value; break;
		case 'H': e->helo = value; break;
		case 'A': e->client_ip = value; break;
		case 'N': e->client_host = value; break;
		case 'P': e->protocol = value; break;
		case 'U': e->auth_user = value; break;
		case 'B': e->body = value; break;
		case 'Y': e->smtputf8 = 1; break;
		case 'R': e->ret = value; break;
		case 'E': e->envid = value; break;
		case 'Q': e->attempts = strtoul(value, NULL, 10); break;
		case 'L': e->last_attempt = strtoul(value, NULL, 10); break;
		case 'W': e->delay_warned = 1; break;
		case 'K': e->notice = value; break;
		default: goto bad;
		}
	}
	if (got < 0 || !seen_version || !e->sender || !e->id[0] || e->rcpt_count == 0)
		goto bad;
	e->message = r.pos;
	e->message_len = (size_t)(e->storage.data + e->storage.len - r.pos);
	return 1;
bad:
	errno = EBADMSG;
	return 0;
}

int envelope_notify_wants(const char *notify, const char *kind)
{
	size_t n = strlen(kind);
	const char *p;

	if (!notify || !notify[0])
		return strcmp(kind, "SUCCESS") != 0;
	for (p = notify; *p; p += strcspn(p, ",")) {
		if (*p == ',')
			p++;
		if (strncasecmp(p, kind, n) == 0 && (p[n] == ',' || p[n] == 0))
			return 1;
	}
	return 0;
}

int envelope_load(const char *path, struct envelope *e)
{
	envelope_init(e);
	if (!file_read_path(path, &e->storage))
		return 0;
	return envelope_parse(e);
}
