/* body: the message is written and fsync'ed once, by the receiver, as
 * spool/incoming/<id> (envelope record + message).  Route does not copy it:
 * every job it writes owns one hard link to that file,
 * spool/body/<channel>-<job>, and the job record itself is small.  The
 * file's link count is therefore its reference count, kept by the
 * filesystem and so exact after a crash at any moment: the message's
 * blocks go when the last job drops its link (spool(5), "Bodies"). */
#ifndef BBSMAIL_BODY_H
#define BBSMAIL_BODY_H
#include "buf.h"
#include <stddef.h>

#define SPOOL_BODY_DIR "spool/body"

/* "<home>/spool/body/<channel>-<job>".  1 ok, 0 ENAMETOOLONG. */
int body_path(char *out, size_t size, const char *channel, const char *job);
/* Gives the job its link to the message file at source.  A link of that
 * name to the same file (left by an interrupted earlier run) is kept; one
 * to another file is replaced.  Durable once spool/body is fsync'ed.
 * 1 ok, 0 errno. */
int body_link(const char *source, const char *channel, const char *job);
/* Opens the job's body and reads it whole into b.  Returns the fd (kept
 * for body_release), or -1 with errno (ENOENT: the job has no body). */
int body_open(const char *channel, const char *job, struct buf *b);
/* The size of the job's message (its body file less the record before
 * it), for mailq.  -1 with errno (ENOENT: no body). */
long long body_message_size(const char *channel, const char *job);
/* Drops the job's link.  While other links remain the name is simply
 * unlinked (no blocks are freed, so it is cheap); the last one is moved
 * into spool/trash, where the next spool write recycles it.  fd is the
 * one body_open returned (closed here).  1 ok, 0 errno. */
int body_release(const char *channel, const char *job, int fd);

#endif
