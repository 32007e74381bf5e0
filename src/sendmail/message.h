/* message: what sendmail does to the text it reads: line ends, the lone "."
 * end mark, the header block (which headers exist, Bcc removed, To/Cc/Bcc
 * addresses for -t) and the RFC 5322 address-list parser. */
#ifndef SENDMAIL_MESSAGE_H
#define SENDMAIL_MESSAGE_H
#include "buf.h"
#include <stddef.h>

struct message {
	struct buf text;        /* LF line ends, ends with LF (or empty) */
	size_t header_end;      /* offset of the first body byte (past the blank line if any) */
	int had_separator;      /* a blank line ended the header block */
	int has_from, has_date, has_message_id;
	struct buf headers;     /* the header block to keep (Bcc removed, no leading "From ") */
	struct buf address_headers;   /* unfolded To/Cc/Bcc values, NUL-separated, for -t */
};

void message_init(struct message *m);
void message_free(struct message *m);
/* Reads fd to EOF, CRLF -> LF, stops at a lone "." line when dot_ends.
 * Returns 1, 0 with errno (EFBIG past max_bytes when max_bytes != 0). */
int message_read(struct message *m, int fd, int dot_ends, unsigned long long max_bytes);
/* Splits the header block from the body and fills the has_* flags. */
void message_parse_headers(struct message *m);
/* Calls fn for each address in an RFC 5322 address list (display names,
 * comments, groups and angle brackets removed).  fn returns 0 to stop;
 * then so does this. */
int message_each_address(const char *list, int (*fn)(const char *address, void *arg), void *arg);

#endif
