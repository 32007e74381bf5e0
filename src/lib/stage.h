/* stage: what the spool stages (route, deliver-local, later deliver-*)
 * share beyond spool.h: the stage driver (stage_run, below), the -d option,
 * the flock claim on a spool file, batched output files and the attempt
 * mark. */
#ifndef BBSMAIL_STAGE_H
#define BBSMAIL_STAGE_H
#include "spool.h"
#include <stddef.h>
#include <time.h>

/* Accepts only "-d DIR" (sets the home); anything else dies with usage.
 * Then sets the home's umask (home_umask). */
void xstage_parse_args(int argc, char **argv, const char *usage);

/* Claims a spool file: opens it and takes flock(LOCK_EX|LOCK_NB).  Returns
 * the fd (closing it releases the claim), or -1 when the file is gone,
 * locked by another process, or was moved away while we waited for it
 * (the path no longer names the inode we locked). */
int stage_claim(const char *path);

/* Batching: a stage writes the outputs of many inputs, then makes their
 * directory entries durable at once, and only then retires the inputs (an
 * input goes only when all it produced is durable).  Every spool and
 * Maildir directory is on the spool's filesystem, so one file_syncfs covers
 * them all: stage_dirs only remembers that some entry is waiting, and one
 * directory to open for the call. */
struct stage_dirs {
	char *path;             /* NULL: nothing waiting */
};
#define STAGE_DIRS_INIT { NULL }
/* Notes that an entry in the absolute directory path waits.  1 ok, 0
 * ENOMEM. */
int stage_dirs_add(struct stage_dirs *dirs, const char *path);
/* Makes every waiting entry durable (file_syncfs) and empties the set.  1
 * when they are durable, 0 errno (emptied either way: the caller retires
 * nothing). */
int stage_dirs_sync(struct stage_dirs *dirs);
void stage_dirs_free(struct stage_dirs *dirs);

/* A batch of output files: each is written and its writeback started at
 * once; later one file_syncfs makes all their data durable, they are
 * renamed into place, and a second one makes the entries durable (one
 * fsync after another is served one at a time by this disk).  At most
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
 * With retry set the file carries the attempt mark (below).  body may be
 * NULL (a job record, whose message is its body link).  1 ok, 0 errno
 * (nothing of this file is left). */
/* Removes what a killed earlier attempt left in spool/tmp/ on its way to
 * <dest_dir>/<name>, when this attempt will not write that file again
 * (the caller holds the claim that makes the name its own).  1 ok (also
 * when there was none), 0 errno. */
int stage_discard_leftover(const char *dest_dir, const char *name);
int stage_batch_write(struct stage_batch *b, const char *dest_dir, const char *name, const void *head,
		      size_t head_len, const void *body, size_t body_len, int retry);
/* Commits every file (one syncfs for their data, the renames), then makes
 * the entries durable (stage_dirs_sync).
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
/* Sets the mark on a file of ours.  1 ok, 0 errno. */
int stage_mark_attempted(int fd);
/* A claimed input another uid owns (in a shared home, spool/incoming is
 * smtpd's) cannot be chmod'ed, so its mark is the empty file
 * spool/attempt/<name> instead, made durable by the batch's sync like
 * the mode.  The input's name is unique while it exists, and a mark left
 * behind by a crash between retiring and unmarking only makes a later
 * file of that name look harder (runq removes old ones).  These three
 * take either kind: stage_input_was_attempted (1 when the input carries
 * the mark) sets *foreign to say which the input is. */
int stage_input_was_attempted(int fd, const char *name, int *foreign);
int stage_input_mark(int fd, const char *name, int foreign);
/* Drops a foreign input's mark once the input is retired or moved away. */
void stage_input_unmark(const char *name, int foreign);

/* mkdir 0700 that accepts an existing directory.  1 ok, 0 errno. */
int stage_mkdir(const char *path);

/* The stage driver.  Every stage is the same loop: release the jobs whose
 * deferral is over (schedule.h), scan the input directory, claim each file
 * (flock), set the attempt mark, load and check its record, find its
 * message, let the stage work on it, and after a batch of up to
 * STAGE_RUN_BATCH_MAX inputs make every output durable (the stage's own
 * flush, then the driver's deferred copies and bounce jobs) before it
 * retires any input and logs one result line per
 * recipient:
 *   <program>: info: id=<job> rcpt=<address> channel=<channel>
 *                    result=<result> delay=<seconds> [fields...] [reason=...]
 * A stage is then its work function, its flush, and one line in the
 * channel table (channel.h). */
#define STAGE_RUN_BATCH_MAX 128

enum stage_verdict {
	STAGE_HOLD,         /* worked on: outputs written, durable after flush */
	STAGE_LEAVE,        /* temporary trouble with the whole input: left as it
			     * is for the next pass (used where the input carries
			     * the message, e.g. route's spool/incoming) */
	STAGE_QUARANTINE    /* will never work: moved to spool/bad (job->why) */
};

enum stage_result_kind {
	STAGE_PENDING = 0,  /* not reported yet */
	STAGE_DONE,         /* delivered or handed on (result says which) */
	STAGE_DEFERRED,     /* temporary failure: tried again later */
	STAGE_FAILED        /* permanent failure: a bounce job is written */
};

struct stage_outcome {
	enum stage_result_kind kind;
	const char *channel;   /* where it went (static string) */
	const char *result;    /* "delivered", "queued", ... (static string) */
	char *fields;          /* extra key=value fields for the log, or NULL */
	char status[16];       /* DEFERRED/FAILED: RFC 3463 status */
	int code;              /* DEFERRED/FAILED: SMTP-style reply code */
	char *reason;          /* DEFERRED/FAILED: text, single line */
	char *remote_mta;      /* the peer that gave the reply, or NULL */
};

struct stage_job {
	const char *name;          /* file name in the input directory */
	char path[PATH_MAX];       /* where the claimed input is */
	int fd;                    /* the claim (flock); closed when retired */
	int retry;                 /* an earlier attempt was interrupted */
	int foreign;               /* another uid owns the input (its mark is a file) */
	struct envelope *env;      /* the record (owned by the driver) */
	const char *message;       /* the message, when the stage needs it */
	size_t message_len;
	int message_inline;        /* the input carries the message itself */
	int body_fd;               /* the job's body link, or -1 */
	struct stage_outcome *outcome;   /* one per recipient of env */
	const char *why;           /* STAGE_QUARANTINE: the reason */
	void *data;                /* the stage's own, from work to flush */
};

struct stage_run;
struct stage_ops {
	int channel_id;            /* CHANNEL_LOCAL, ...; 0: spool/incoming */
	int needs_message;         /* load the message before work */
	/* Once, before the first job (config, databases).  May die. */
	void (*open)(void *ctx, struct stage_run *run);
	enum stage_verdict (*work)(void *ctx, struct stage_job *job);
	/* Makes the outputs of every held job durable.  A job whose output
	 * failed is reported with stage_report_failure (temporary).  1 when
	 * all are durable; 0 (errno) leaves every held input for later. */
	int (*flush)(void *ctx, struct stage_job **jobs, size_t count);
};

struct stage_run {
	const struct stage_ops *ops;
	void *ctx;
	int opened;
	unsigned long max_attempts;   /* deferrals before a recipient fails */
	unsigned long max_lifetime_sec;   /* time in the queue before it fails */
	unsigned long delay_warning_sec;  /* deferred this long: a delay notice */
	struct stage_job **held;      /* STAGE_RUN_BATCH_MAX */
	size_t held_count;
	struct stage_batch outputs;   /* deferred copies and bounce jobs */
	int temporary_failures;
	time_t now;
};

/* The notices handed on: deliver-bounce records each notice job's name in
 * spool/data/notices-sent before it hands the notice on, so that the stage
 * that wrote the notice job, rerun after a crash between making the job
 * durable and retiring its input, does not write it again once
 * deliver-bounce has taken it (a second notice).  Entries older than
 * STAGE_NOTICES_KEEP_SEC are dropped when the file grows. */
#define STAGE_NOTICES_SENT_FILE "spool/data/notices-sent"
#define STAGE_NOTICES_KEEP_SEC (7 * 86400)
/* Appends the names (one write, under an flock).  1 ok, 0 errno. */
int stage_notices_record(const char *const *names, size_t count);
/* 1 when name is in the file. */
int stage_notice_was_sent(const char *name);

struct mail_config;
/* For a stage's open: the limits above from mail.ini (MaxDeliveryAttempts,
 * MaxQueueLifetime, DelayWarningTime). */
void stage_run_configure(struct stage_run *run, const struct mail_config *cfg);

/* Runs the stage once over its input.  Returns the exit code: 0, or
 * EXIT_TEMPORARY when anything was deferred or left for later. */
int stage_run(const struct stage_ops *ops, void *ctx);

/* For work and flush: what happened to recipient i.  result is a word
 * for the log ("delivered", "queued", "duplicate", "already-delivered";
 * "delivered" and "relayed" are final for RFC 3461: a recipient that asked
 * for NOTIFY=SUCCESS gets a notice);
 * fields, if not NULL, a printf format for extra key=value fields. */
void stage_report_done(struct stage_job *job, size_t i, const char *channel, const char *result,
		       const char *fields, ...) __attribute__((format(printf, 5, 6)));
/* A failure of recipient i: temporary (deferred, tried again after a
 * backoff) or permanent (a bounce job in spool/queue/bounce/). */
void stage_report_failure(struct stage_job *job, size_t i, int temporary, int code, const char *status,
			  const char *reason, ...) __attribute__((format(printf, 6, 7)));
/* The peer that gave recipient i's reply ("mx.example.org [192.0.2.1]"),
 * for the notice's Remote-MTA and the deferred copy (after the report). */
void stage_report_remote_mta(struct stage_job *job, size_t i, const char *mta);
/* A failure from an errno, classified in one place (error_is_temporary):
 * temporary 451 4.3.0, or permanent 554 5.3.0; the reason is what failed
 * (a printf format) and strerror(err). */
void stage_report_errno(struct stage_job *job, size_t i, int err, const char *what, ...)
	__attribute__((format(printf, 4, 5)));

#endif
