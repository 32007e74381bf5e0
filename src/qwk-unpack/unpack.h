/* qwk-unpack's own pieces. */
#ifndef QWK_UNPACK_H
#define QWK_UNPACK_H
#include "buf.h"
#include <stddef.h>

/* A REP's message file is refused beyond this. */
#define REP_MSG_MAX_BYTES (64 << 20)

/* Lists the archive (every member name must be a plain file name) and
 * reads its <hub>.MSG (any case) into msg.  1 ok; 0 with problem set. */
int rep_read_msg(const char *rep, const char *hub, struct buf *msg, char *problem, size_t size);

#endif
