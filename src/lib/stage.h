/* stage: what the spool stages (route, deliver-local, later deliver-*)
 * share beyond spool.h: the -d option, the flock claim on a spool file and
 * the job write that replaces a leftover of an interrupted earlier run. */
#ifndef BBSMAIL_STAGE_H
#define BBSMAIL_STAGE_H
#include "spool.h"
#include <stddef.h>

/* Accepts only "-d DIR" (sets the home); anything else dies with usage. */
void stage_parse_args(int argc, char **argv, const char *usage);

/* Claims a spool file: opens it and takes flock(LOCK_EX|LOCK_NB).  Returns
 * the fd (closing it releases the claim), or -1 when the file is gone,
 * locked by another process, or was moved away while we waited for it
 * (the path no longer names the inode we locked). */
int stage_claim(const char *path);

/* Batching: a stage writes the outputs of many inputs, then makes their
 * directory entries durable with one fsync per directory, and only then
 * retires the inputs (an input goes only when all it produced is durable).
 * stage_dirs is the set of directories still to fsync. */
struct stage_dirs {
	char **paths;
	size_t count;
};
#define STAGE_DIRS_INIT { NULL, 0 }
/* Adds an absolute directory path (once). */
void stage_dirs_add(struct stage_dirs *dirs, const char *path);
/* fsyncs every directory of the set and empties it.  1 when all are durable,
 * 0 errno (the set is emptied either way: the caller retires nothing). */
int stage_dirs_sync(struct stage_dirs *dirs);
void stage_dirs_free(struct stage_dirs *dirs);

/* A batch of output files: each is written and its writeback started at
 * once, and all are fsync'ed and renamed into place later, together (one
 * fsync after another costs about twice as much per file here).  At most
 * STAGE_BATCH_FILES_MAX stay open; more commit the earlier ones early. */
#define STAGE_BATCH_FILES_MAX 64
struct stage_batch {
	struct spool_file *files;   /* written, not yet committed */
	size_t count;
	struct stage_dirs dirs;     /* directories of committed files */
	int failed;                 /* a commit failed: errno in failed_errno */
	int failed_errno;
};
#define STAGE_BATCH_INIT { NULL, 0, STAGE_DIRS_INIT, 0, 0 }
/* Writes head+body to become <dest_dir>/<name> (dest_dir relative to the
 * home) through spool/tmp/<name>; durable only after stage_batch_sync.  A
 * spool/tmp/<name> left by a killed earlier run is removed first: the
 * caller holds the claim on the input, so nobody else writes that name.
 * With retry set the file carries the attempt mark (below).  1 ok, 0 errno
 * (nothing of this file is left). */
int stage_batch_write(struct stage_batch *b, const char *dest_dir, const char *name, const void *head,
		      size_t head_len, const void *body, size_t body_len, int retry);
/* Commits every file (fsync, rename), then fsyncs each directory once.
 * 1 when all the batch's files since the last sync are durable, 0 errno
 * (then the caller retires none of the inputs behind them). */
int stage_batch_sync(struct stage_batch *b);
void stage_batch_free(struct stage_batch *b);

/* The attempt mark: a claimed spool file is chmod'ed to STAGE_MODE_ATTEMPTED
 * (from 0600) before the stage starts its work, so a rerun after a crash
 * knows an earlier attempt may have left results (a Maildir file that a
 * reader has already renamed, for instance) and looks for them harder.
 * The mark rides on the journal commit of the stage's next fsync; if it is
 * lost, the rerun falls back to the cheap checks (spool(5)). */
#define STAGE_MODE_ATTEMPTED 0400
/* 1 when the file behind fd carries the mark. */
int stage_was_attempted(int fd);
/* Sets the mark.  1 ok, 0 errno. */
int stage_mark_attempted(int fd);

/* envelope_load from a claimed file's descriptor (no second open).
 * 1 ok, 0 errno (EBADMSG: malformed). */
struct envelope;
int stage_load_envelope(int fd, struct envelope *e);

/* mkdir 0700 that accepts an existing directory.  1 ok, 0 errno. */
int stage_mkdir(const char *path);

#endif
