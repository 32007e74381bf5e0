/* post: a mail message as a text post (a sub-board post, a QWK message):
 * the sender, subject, ids and date from the header, and the text body
 * converted to a board charset with CR line ends.  Used by deliver-board
 * and deliver-qwk. */
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

#endif
