/* drop: the file bin/sendmail leaves in spool/drop/ and libexec/pickup
 * turns into spool/incoming/<id> (spool(5), pickup(8)).  It holds only
 * what any local user may claim: a record (record.h) of
 *   V "drop1" (first)   F requested sender ("" for <>; absent: the
 *   submitter's login)   N full name (-F)   R RET= (FULL|HDRS)
 *   then per recipient T address, optionally n NOTIFY= value,
 * the end mark, and the message (LF line ends, ends with LF or empty).
 * Who submitted it is not in the file: it is the file's owner.  A file
 * is complete once its owner-execute bit is set (DROP_MODE_COMPLETE);
 * sendmail sets it after the data is on disk. */
#ifndef BBSMAIL_DROP_H
#define BBSMAIL_DROP_H
#include "buf.h"
#include <stddef.h>

#define DROP_VERSION "drop1"
/* Shared with pickup.c: written 0200, then 0704 when complete.  Group
 * bits are zero on purpose: the file's group is the drop group, so no
 * other member of it may read the file even if it guesses the name; the
 * mail user, which owns spool/drop/ and is not in the drop group, reads
 * it through the "other" bit (nobody else can search spool/drop/). */
#define DROP_MODE_WRITING 0200
#define DROP_MODE_COMPLETE 0704
/* Bounds a planted file cannot exceed: the record (not the message). */
#define DROP_RECORD_MAX_BYTES (4 * 1024 * 1024)
#define DROP_RCPT_MAX 10000
#define DROP_NAME_MAX_BYTES 64

struct drop_request {
	const char *sender;      /* NULL: the submitter's own address */
	const char *fullname;    /* NULL: none */
	const char *ret;         /* NULL, "FULL" or "HDRS" */
	const char **rcpt;
	const char **notify;     /* per recipient, NULL when not given */
	size_t rcpt_count;
	const char *message;
	size_t message_len;
	struct buf storage;      /* drop_parse: owns the file's bytes */
};

void drop_request_init(struct drop_request *r);
void drop_request_free(struct drop_request *r);
/* Serialises r (record and message) onto out.  1 ok, 0 errno (EINVAL:
 * a field holds NUL/CR/LF). */
int drop_serialize(const struct drop_request *r, struct buf *out);
/* Parses r->storage strictly: the tags above in that shape, each value
 * well-formed (*why says what is not).  1 ok, 0. */
int drop_parse(struct drop_request *r, const char **why);
/* Whether name is one sendmail could have made ([0-9A-Za-z._-], no
 * leading dot, at most DROP_NAME_MAX_BYTES). */
int drop_name_ok(const char *name);
/* sendmail's write: <dir>/<name> created exclusively 0200, written,
 * fsync'ed, made DROP_MODE_COMPLETE and fsync'ed again; the directory is
 * fsync'ed too when we may read it (a drop-group member may not: then the
 * file's fsync, which on Linux's journalled filesystems commits the new
 * directory entry with it, is what there is).  On 0 (errno) nothing is
 * left behind. */
int drop_create(const char *dir, const char *name, const struct buf *data);

#endif
