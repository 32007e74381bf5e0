/* spool: the one durable write (create in tmp/, write, fsync, rename,
 * fsync the directory: ARCHITECTURE.md, invariant 1) and the small
 * things every stage shares: unique ids, the trigger FIFO, the trash.
 * The directory layout and state table are in man/spool.5. */
#ifndef BBSMAIL_SPOOL_H
#define BBSMAIL_SPOOL_H
#include "buf.h"
#include "file.h"
#include <limits.h>
#include <stddef.h>

/* Relative to the home (home.h).  spool.5 documents each. */
#define SPOOL_TMP_DIR      "spool/tmp"
#define SPOOL_INCOMING_DIR "spool/incoming"
#define SPOOL_DROP_DIR     "spool/drop"       /* local submissions (pickup(8)) */
#define SPOOL_DROP_BAD_DIR "spool/drop-bad"   /* the drop files pickup refused */
/* The name in spool/tmp/ while a drop file is being picked up: this
 * prefix + the drop file's name (pickup(8); runq looks for it too). */
#define SPOOL_PICKUP_TMP_PREFIX "pickup."
#define SPOOL_QUEUE_DIR    "spool/queue"      /* + "/<channel>" */
#define SPOOL_SENT_DIR     "spool/sent"       /* deliver-remote's sent-logs */
#define SPOOL_TRASH_DIR    "spool/trash"
#define SPOOL_BAD_DIR      "spool/bad"
#define SPOOL_MAILBOX_DIR  "spool/mailbox"    /* + "/<usernum>" (Maildir) */
#define SPOOL_DATA_DIR     "spool/data"
#define SPOOL_TRIGGER_PATH "spool/trigger"
#define SPOOL_TELEGRAM_DIR "spool/telegram"   /* + "/<usernum>/<name>" (telegram.h) */
#define SPOOL_PRESENCE_DIR "spool/presence"   /* + "/<usernum>", touched by a BBS */
#define SPOOL_ATTEMPT_DIR  "spool/attempt"    /* attempt marks on others' files (stage.h) */

#define SPOOL_ID_MAX_BYTES 48

/* Unique on this host: time in microseconds, pid, per-process counter. */
void spool_make_id(char id[SPOOL_ID_MAX_BYTES]);

struct spool_file {
	int fd;
	char tmp_path[PATH_MAX];
	char final_path[PATH_MAX];
	char final_dir[PATH_MAX];
	struct buf pending;     /* written in 64 KiB slices */
	unsigned long long size;
	long long reused_size;  /* size of the trash file reused, -1 if created */
};

/* Creates spool/tmp/<name> exclusively, to become <dest_dir>/<name>
 * (dest_dir relative to the home, e.g. SPOOL_INCOMING_DIR).  A finished
 * file from the trash is reused when there is one (spool_reuse_trash).
 * 1 ok, 0 errno (EEXIST when spool/tmp/<name> exists). */
int spool_file_create(struct spool_file *f, const char *dest_dir, const char *name);
/* The same with another name in spool/tmp/ (two files of one name bound
 * for different directories, e.g. a message's jobs of two channels). */
int spool_file_create_named(struct spool_file *f, const char *dest_dir, const char *name, const char *tmp_name);
int spool_file_write(struct spool_file *f, const void *data, size_t len);
/* write all, fsync, close (checked), rename into place, fsync the directory.
 * Only after 1 is the file durable.  On 0 the file is removed (the tmp
 * file, or the renamed one when the directory fsync failed). */
int spool_file_commit(struct spool_file *f);
/* The same without the last step: the file is in place but its directory
 * entry is durable only after the caller's file_fsync_dir(f->final_dir).
 * For stages that write many files and fsync each directory once. */
int spool_file_commit_nodirsync(struct spool_file *f);
/* The same for a file whose data the caller has already made durable with
 * file_syncfs: close (checked) and rename into place, no fsync.  The
 * directory entry is durable after the caller's next file_syncfs. */
int spool_file_commit_synced(struct spool_file *f);
/* Writes out the buffered data and starts its writeback without waiting;
 * the file is durable only after a commit.  1 ok, 0 errno. */
int spool_file_start(struct spool_file *f);
/* Closes and removes the tmp file; safe after a failed write or commit. */
void spool_file_abort(struct spool_file *f);


/* Moves a finished file aside (rename into spool/trash) instead of unlinking
 * it, because unlink of a fresh file costs ~1 ms on a disk mounted with
 * discard, and the inode allocator then searches past recently deleted
 * inodes on every create.  1 ok. */
int spool_retire(const char *path);
/* Renames a finished file of the trash to path (never replacing an existing
 * path), makes it mode 0600 and opens it for writing: on this disk creating
 * a file after many deletions costs ~0.7 ms and a rename ~40 us, so every
 * spool write recycles an inode instead of creating one.  The caller
 * overwrites it from offset 0 and truncates to its own size (*old_size says
 * how big it was).  Returns the fd, or -1 (errno ENOENT: trash empty;
 * EEXIST: path exists). */
int spool_reuse_trash(const char *path, long long *old_size);
/* spool_reuse_trash reads the trash once per process and then creates;
 * this makes it look again (after the caller retired files itself). */
void spool_trash_rescan(void);
/* Removes trash entries older than min_age_seconds, but keeps up to keep of
 * them for reuse: regular, singly linked, at most keep_max_bytes, younger
 * than keep_max_age_seconds.  Returns how many were removed. */
unsigned long spool_trim_trash(int min_age_seconds, unsigned long keep, long long keep_max_bytes,
			       int keep_max_age_seconds);
/* Moves an unreadable or malformed file into spool/bad/ and logs why. */
void spool_quarantine(const char *path, const char *why);

/* Wakes runq -l (writes a byte to the trigger FIFO, never blocks). */
void spool_poke_trigger(void);
/* Free space under the spool in KiB.  1 ok, 0 errno. */
int spool_free_kbytes(unsigned long long *kbytes);
/* Creates the spool skeleton under the home (mode 0700 dirs, the FIFO). */
int spool_make_skeleton(void);

#endif
