/* The new posts of a sub-board as QWK messages (posts.h). */
#include "posts.h"
#include "home.h"
#include "jam.h"
#include "qwk.h"
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static int open_base(const struct board *b, struct jam_base *base)
{
	char path[PATH_MAX];

	return home_path(path, sizeof path, b->base) && jam_open(base, path, 0);
}

int posts_index_end(const struct board *b, uint32_t *end)
{
	struct jam_base base;
	int ok;

	*end = 0;
	if (!open_base(b, &base))
		return errno == ENOENT;
	ok = jam_index_count(&base, end);
	jam_close(&base);
	return ok;
}

/* A subfield as a C string in out. */
static const char *subfield(const struct jam_message *m, unsigned id, struct buf *out)
{
	size_t len = 0;
	const char *s = jam_message_get(m, id, &len);

	if (!buf_copy(out, s ? s : "", s ? len : 0) || !buf_catc(out, 0))
		return NULL;
	out->len--;
	return out->data;
}

/* 1 when the post came in from the node (its REPLYADDR kludge). */
static int from_node(const struct jam_message *m, const char *node_id)
{
	size_t i, n = strlen(node_id);

	for (i = 0; i < m->subfield_count; i++) {
		const struct jam_subfield *s = &m->subfields[i];
		const char *d = m->subfield_data.data + s->offset;
		if (s->lo_id == JAM_SF_FTSKLUDGE && s->len > 10 + n && memcmp(d, "REPLYADDR ", 10) == 0
		    && strncasecmp(d + 10, node_id, n) == 0 && (d[10 + n] == '!' || d[10 + n] == '/'))
			return 1;
	}
	return 0;
}

/* JAM dates are local time counted as if it were UTC. */
static time_t jam_time(uint32_t local)
{
	struct tm tm;
	time_t t = (time_t)local;

	if (!localtime_r(&t, &tm))
		return t;
	return t - tm.tm_gmtoff;
}

static int add_post(struct conf_posts *c, const struct jam_message *m)
{
	struct buf to = BUF_INIT, from = BUF_INIT, subject = BUF_INIT, msgid = BUF_INIT, line = BUF_INIT;
	const char *kludges[2] = { NULL, NULL };
	struct qwk_out q;
	int ok = subfield(m, JAM_SF_RECEIVERNAME, &to) && subfield(m, JAM_SF_SENDERNAME, &from)
		 && subfield(m, JAM_SF_SUBJECT, &subject) && subfield(m, JAM_SF_MSGID, &msgid);

	if (ok && msgid.len && (ok = buf_catf(&line, "@MSGID: %s", msgid.data)))
		kludges[0] = line.data;
	memset(&q, 0, sizeof q);
	q.status = ' ';
	q.date = jam_time(m->date_written);
	q.to = to.len ? to.data : "All";
	q.from = from.data ? from.data : "";
	q.subject = subject.data ? subject.data : "";
	q.kludges = kludges;
	q.conference = c->number;
	q.text = m->text.data ? m->text.data : "";
	q.text_len = m->text.len;
	ok = ok && qwk_message_write(&c->blocks, &q);
	if (ok)
		c->count++;
	buf_free(&to), buf_free(&from), buf_free(&subject), buf_free(&msgid), buf_free(&line);
	return ok;
}

int posts_collect(struct conf_posts *c, const char *node_id)
{
	struct jam_base base;
	struct jam_message m;
	uint32_t i;
	int r, ok = 1;

	c->end = c->start;
	if (!open_base(c->board, &base))
		return errno == ENOENT;
	if (!jam_index_count(&base, &c->end)) {
		jam_close(&base);
		return 0;
	}
	jam_message_init(&m);
	for (i = c->start; i < c->end && ok; i++) {
		r = jam_read_message(&base, i, &m);
		if (r < 0 && errno != EINVAL)
			ok = 0;
		else if (r > 0 && !(m.attribute & JAM_ATTR_DELETED) && !from_node(&m, node_id))
			ok = add_post(c, &m);
	}
	jam_message_free(&m);
	jam_close(&base);
	return ok;
}
