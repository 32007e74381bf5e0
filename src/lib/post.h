/* post: a mail message as a text post (a sub-board post, a QWK message, a
 * netmail): the sender, subject, ids and date from the header, the
 * text/plain part decoded, and the text converted to the target charset
 * with CR line ends.  Used by deliver-board, deliver-qwk and deliver-fido. */
#ifndef BBSMAIL_POST_H
#define BBSMAIL_POST_H
#include "buf.h"
#include <stddef.h>

struct post {
	struct buf from_name, from_address, to, subject, message_id, in_reply_to;
	long long date;          /* Date: as Unix seconds, or -1 */
	struct buf text;         /* the body in the board's charset, CR line ends */
};

void post_init(struct post *p);
void post_free(struct post *p);
/* Turns the message (LF line ends) into a post in charset (iconv name).
 * 1 ok, 0 errno (ENOMEM; EINVAL for an unknown charset). */
int post_from_message(struct post *p, const char *message, size_t len, const char *charset);
/* Converts len bytes from charset from (iconv name; unknown: taken as
 * UTF-8) to charset to, appending to out; a character to cannot hold
 * becomes '?'.  1 ok, 0 errno (ENOMEM; EINVAL when to is unknown). */
int post_convert(const char *in, size_t len, const char *from, const char *to, struct buf *out);

#endif
