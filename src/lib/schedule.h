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

struct envelope;

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

/* Decides whether one deferred job is released: name is its file name
 * (the queue id, or <job>.b<n> for a bounce job), e its record.  1 yes. */
typedef int (*schedule_match_fn)(const char *name, const struct envelope *e, void *ctx);
/* Releases now, whatever their buckets' times, the channel's deferred jobs
 * that match: for ETRN (RFC 1985), runq -D and mailq -r.  Each job is
 * claimed (stage_claim) and its record read from the claimed file before
 * it moves, so a job another process holds (mailq -x deleting it) is
 * skipped, and the move is one rename (RENAME_NOREPLACE): after a crash
 * the job is in its bucket or in the queue, never both or neither.  A
 * job whose name is already in the queue (an original not yet retired,
 * spool(5) D1) stays in its bucket: the queue has it.  A record that does
 * not parse stays too (the stage quarantines it when it falls due).
 * Emptied buckets are left for schedule_release_due to remove at their
 * time, since a stage may be deferring a job into one at this moment.
 * This reads every deferred record of the channel: its cost follows the
 * number of deferred jobs, which a sysop's command or one ETRN can pay.
 * *released (may be NULL) gets how many moved.  1 ok, 0 errno (a channel
 * with nothing deferred is ok, with 0). */
int schedule_release_matching(const char *channel, schedule_match_fn match, void *ctx,
			      unsigned long *released);

/* A matcher for schedule_release_matching: a job with a recipient whose
 * target (its address when it has none) is in the domain.  domain
 * "example.org" matches that domain only; "@example.org" matches it and
 * every subdomain (RFC 1985 §5.3).  Case-insensitive; a trailing dot is
 * ignored.  With tried_before set, a job whose last attempt (L) is at or
 * after it is not released: ETRN uses this so that a client repeating it
 * cannot spend a message's MaxDeliveryAttempts in minutes. */
struct schedule_domain {
	const char *domain;
	time_t tried_before;    /* 0: any job */
};
int schedule_match_domain(const char *name, const struct envelope *e, void *ctx);
/* 1 when host (a domain, or the part of an address after its last '@')
 * is in pattern's domain, as above. */
int schedule_domain_contains(const char *pattern, const char *host);

#endif
