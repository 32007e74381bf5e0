/* base64: RFC 4648 base64 for SASL (RFC 4954 challenges and responses).
 * The decoder is strict because its input comes from the network: no
 * whitespace, length a multiple of 4, '=' only as final padding, and the
 * unused bits of the last group must be zero.  Anything else is refused, so
 * "bad base64" (501 5.5.2) is always reported and never guessed at. */
#ifndef BBSMAIL_BASE64_H
#define BBSMAIL_BASE64_H
#include "buf.h"
#include <stddef.h>

/* Appends the encoding of len bytes to out.  1 ok, 0 ENOMEM/EOVERFLOW. */
int base64_encode(struct buf *out, const void *data, size_t len);
/* Replaces out with the decoded bytes of in[0..len) (out->len is the exact
 * decoded length; out->data is NUL-terminated after it, the NUL not counted).
 * 1 ok, 0 with errno EINVAL (malformed) or ENOMEM. */
int base64_decode(struct buf *out, const char *in, size_t len);

#endif
