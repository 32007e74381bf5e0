/* schedule: deferred jobs wait in next-attempt buckets,
 * spool/defer/<channel>/<due>/<job>, where <due> is the Unix time (a
 * multiple of SCHEDULE_BUCKET_SEC) from which the job may be tried again.
 * A stage moves the jobs of every bucket that is due back into
 * spool/queue/<channel>/ before it scans its queue, so a job deferred
 * until T is not opened, locked or stat'ed before T, and a pass costs the
 * same with 20,000 jobs waiting as with none: it lists only the bucket
 * names. */
#ifndef BBSMAIL_SCHEDULE_H
#define BBSMAIL_SCHEDULE_H
#include <stddef.h>
#include <time.h>

#define SPOOL_DEFER_DIR "spool/defer"
#define SCHEDULE_BUCKET_SEC 60
/* Retry delays: the first after 60 s, then doubling up to 4 hours. */
#define SCHEDULE_FIRST_RETRY_SEC 60
#define SCHEDULE_MAX_RETRY_SEC (4 * 60 * 60)

/* The delay before the next attempt after `attempts` failed ones (>= 1). */
unsigned long schedule_backoff_sec(unsigned long attempts);
/* The bucket a job due at `due` goes into: "spool/defer/<channel>/<T>"
 * relative to the home, T being due rounded up to the bucket size.  The
 * directory is created (and its entry made durable) if missing.
 * 1 ok, 0 errno. */
int schedule_bucket(char *out, size_t size, const char *channel, time_t due);
/* Moves the jobs of the channel's buckets due at `now` back into
 * spool/queue/<channel>/ and removes the emptied buckets.  A rename is
 * atomic, so after a crash each job is in exactly one of the two places.
 * Returns how many jobs moved, -1 on error (errno). */
long schedule_release_due(const char *channel, time_t now);
/* The earliest bucket time of any channel, 0 when nothing is deferred. */
time_t schedule_next_due(void);

#endif
