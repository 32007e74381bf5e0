/* record: the one internal record format (spool(5)): a sequence of fields,
 * each a one-byte tag, the value, and a NUL; an empty field (a lone NUL)
 * ends the record.  Values never hold NUL, CR or LF: writers refuse them, so
 * no outside data can forge a field.  Used by the spool envelope (spool(5))
 * and the user database. */
#ifndef BBSMAIL_RECORD_H
#define BBSMAIL_RECORD_H
#include "buf.h"
#include <stddef.h>

/* Appends one field.  0 with errno EINVAL if value holds NUL/CR/LF or tag is
 * not a printable non-space byte; ENOMEM on growth failure. */
int record_add(struct buf *b, char tag, const char *value);
int record_add_len(struct buf *b, char tag, const char *value, size_t len);
int record_add_ulong(struct buf *b, char tag, unsigned long value);
/* Appends the terminating empty field. */
int record_end(struct buf *b);

/* The length of the record at the start of data, its end mark included,
 * found without parsing it (tags are printable and values hold no NUL, so
 * the first two NULs in a row end the last field and the record); 0 when
 * data holds no end mark yet.  For reading a record in chunks; the record
 * is still parsed strictly afterwards. */
size_t record_length(const char *data, size_t len);

struct record_reader {
	const char *pos, *end;
};
void record_reader_init(struct record_reader *r, const char *data, size_t len);
/* 1: a field (tag, NUL-terminated value inside the data);  0: the end mark,
 * r->pos now points just past it (for envelopes: the message);  -1: malformed
 * (missing terminator, bad tag, CR/LF in a value), errno EBADMSG. */
int record_next(struct record_reader *r, char *tag, const char **value);

#endif
