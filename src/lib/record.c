#include "record.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>

static int record_tag_valid(char tag) { return tag > ' ' && tag < 0x7f; }

int record_add_len(struct buf *b, char tag, const char *value, size_t len)
{
	size_t i;

	if (!record_tag_valid(tag)) {
		errno = EINVAL;
		return 0;
	}
	for (i = 0; i < len; i++)
		if (value[i] == 0 || value[i] == '\r' || value[i] == '\n') {
			errno = EINVAL;
			return 0;
		}
	return buf_catc(b, tag) && buf_cat(b, value, len) && buf_catc(b, 0);
}

int record_add(struct buf *b, char tag, const char *value)
{
	return record_add_len(b, tag, value, strlen(value));
}

int record_add_ulong(struct buf *b, char tag, unsigned long value)
{
	char n[32];
	snprintf(n, sizeof n, "%lu", value);
	return record_add(b, tag, n);
}

int record_end(struct buf *b) { return buf_catc(b, 0); }

void record_reader_init(struct record_reader *r, const char *data, size_t len)
{
	r->pos = data;
	r->end = data + len;
}

int record_next(struct record_reader *r, char *tag, const char **value)
{
	const char *nul, *p;

	if (r->pos >= r->end)
		goto bad;
	if (*r->pos == 0) {
		r->pos++;
		return 0;
	}
	nul = memchr(r->pos, 0, (size_t)(r->end - r->pos));
	if (!nul || !record_tag_valid(*r->pos))
		goto bad;
	for (p = r->pos + 1; p < nul; p++)
		if (*p == '\r' || *p == '\n')
			goto bad;
	*tag = *r->pos;
	*value = r->pos + 1;
	r->pos = nul + 1;
	return 1;
bad:
	errno = EBADMSG;
	return -1;
}

size_t record_length(const char *data, size_t len)
{
	const char *end = memmem(data, len, "\0\0", 2);

	return end ? (size_t)(end + 2 - data) : 0;
}
