/* status: RFC 3463 enhanced status codes ("5.1.1") as peers and filters
 * write them in a reply's text (RFC 2034). */
#ifndef BBSMAIL_STATUS_H
#define BBSMAIL_STATUS_H
#include <stddef.h>

/* Length of a status "c.s.d" of class digit cls ('2', '4' or '5') at the
 * start of the n bytes at p, 1-3 digits for each of s and d, followed by a
 * space or the end; 0 when there is none. */
size_t smtp_status_length(const char *p, size_t n, char cls);

#endif
