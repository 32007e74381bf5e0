#include "buf.h"
#include "log.h"
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int buf_reserve(struct buf *b, size_t extra)
{
	size_t need, cap;
	char *p;

	if (extra > (size_t)-1 - b->len - 1) {
		errno = EOVERFLOW;
		return 0;
	}
	need = b->len + extra + 1;
	if (need <= b->cap)
		return 1;
	cap = b->cap ? b->cap : 64;
	while (cap < need) {
		if (cap > (size_t)-1 / 2) {
			cap = need;
			break;
		}
		cap *= 2;
	}
	p = realloc(b->data, cap);
	if (!p) {
		errno = ENOMEM;
		return 0;
	}
	p[b->len] = 0;  /* keep the "always NUL-terminated" promise on the first allocation */
	b->data = p;
	b->cap = cap;
	return 1;
}

int buf_cat(struct buf *b, const void *data, size_t len)
{
	if (!buf_reserve(b, len))
		return 0;
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = 0;
	return 1;
}

int buf_cats(struct buf *b, const char *s) { return buf_cat(b, s, strlen(s)); }
int buf_catc(struct buf *b, char c) { return buf_cat(b, &c, 1); }

int buf_copy(struct buf *b, const void *data, size_t len)
{
	b->len = 0;
	return buf_cat(b, data, len);
}

int buf_copys(struct buf *b, const char *s) { return buf_copy(b, s, strlen(s)); }

static int buf_vcatf(struct buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return 0;
	if (!buf_reserve(b, (size_t)n))
		return 0;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 1;
}

int buf_catf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = buf_vcatf(b, fmt, ap);
	va_end(ap);
	return r;
}

int buf_cat_ulong(struct buf *b, unsigned long n) { return buf_catf(b, "%lu", n); }

void buf_truncate(struct buf *b, size_t len)
{
	if (len < b->len) {
		b->len = len;
		b->data[len] = 0;
	}
}

void buf_drop_front(struct buf *b, size_t n)
{
	if (n >= b->len) {
		buf_truncate(b, 0);
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
	b->data[b->len] = 0;
}

void buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void xbuf_cat(struct buf *b, const void *data, size_t len) { if (!buf_cat(b, data, len)) die_nomem(); }
void xbuf_cats(struct buf *b, const char *s) { if (!buf_cats(b, s)) die_nomem(); }
void xbuf_catc(struct buf *b, char c) { if (!buf_catc(b, c)) die_nomem(); }
void xbuf_copys(struct buf *b, const char *s) { if (!buf_copys(b, s)) die_nomem(); }

void xbuf_catf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = buf_vcatf(b, fmt, ap);
	va_end(ap);
	if (!r)
		die_nomem();
}
