/* smtpd-rewrite: what the content checks that change a message share (the
 * mail processors, the milters): reading the spool file being written,
 * checking a new message against the sink's line rules, bbsmail's one spam
 * tag, and writing the spool file again (the envelope record, then the new
 * message). */
#ifndef BBSMAIL_SMTPD_REWRITE_H
#define BBSMAIL_SMTPD_REWRITE_H
#include "envelope.h"
#include "smtpd-session.h"

/* A rewritten message must still obey what the sink enforced: LF line
 * ends (no CR, no NUL), lines of at most 998 octets, the last line ended.
 * NULL ok, else what is wrong ("nul", "cr", "long-line", ...). */
const char *smtpd_rewrite_check(const struct buf *m);
/* The length of the header section, up to and without its empty line (the
 * whole message when there is none). */
size_t smtpd_rewrite_header_length(const struct buf *m);
/* Whether the header holds an X-Spam-Flag field. */
int smtpd_rewrite_has_spam_flag(const struct buf *m);
/* m with every X-Spam-Flag field dropped, and "X-Spam-Flag: YES" at the
 * header's end when spam, appended to out. */
void smtpd_rewrite_retag(const struct buf *m, int spam, struct buf *out);
/* The spool file being written, loaded into e (its message after the
 * record); *head_len is the record's length.  1 ok, 0 errno. */
int smtpd_rewrite_split(struct smtp_session *s, struct envelope *e, size_t *head_len);
/* Writes the spool file again, bound for the sink's dest_dir (the incoming
 * directory unless frozen): head, then the message.  1 ok, 0 errno (the
 * old file is gone either way). */
int smtpd_rewrite_rebuild(struct smtp_session *s, const char *head, size_t head_len, const struct buf *m);

#endif
