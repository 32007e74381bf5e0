/* buf: one growable, binary-safe byte buffer shared by every program.
 * Every grow checks for size_t overflow (qmail's CVE-2005-1513 lesson). */
#ifndef BBSMAIL_BUF_H
#define BBSMAIL_BUF_H
#include <stddef.h>

struct buf {
	char *data;     /* always NUL-terminated when non-NULL (not counted in len) */
	size_t len;
	size_t cap;
};
#define BUF_INIT { 0, 0, 0 }

/* All return 1 on success, 0 on failure with errno set (ENOMEM, EOVERFLOW). */
int buf_reserve(struct buf *b, size_t extra);
int buf_cat(struct buf *b, const void *data, size_t len);
int buf_cats(struct buf *b, const char *s);
int buf_catc(struct buf *b, char c);
int buf_copy(struct buf *b, const void *data, size_t len);
int buf_copys(struct buf *b, const char *s);
int buf_catf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_cat_ulong(struct buf *b, unsigned long n);
void buf_truncate(struct buf *b, size_t len);
void buf_free(struct buf *b);
/* Removes the first n bytes (memmove); used by readers that consume from the front. */
void buf_drop_front(struct buf *b, size_t n);
/* Die-on-failure variants: they call die_nomem(). */
void xbuf_cat(struct buf *b, const void *data, size_t len);
void xbuf_cats(struct buf *b, const char *s);
void xbuf_catc(struct buf *b, char c);
void xbuf_catf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void xbuf_copys(struct buf *b, const char *s);

#endif
