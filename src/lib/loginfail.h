/* loginfail: failed logins per client IP, in the GDBM file
 * spool/data/logins.gdbm, so the count survives across connections (every
 * session is its own process).  It implements Synchronet's [global]
 * LoginAttempt* keys (mail.ini(5)) for pop3d, and its windowed count serves
 * ZMailer's auth-failrate (failed AUTHs per IP per hour) in smtpd.
 *
 * One record per IP, key "ip:<address>" with the address in its canonical
 * form (ipkey.h: only IPv4 and IPv6 literals, ::ffff:a.b.c.d is a.b.c.d),
 * holding record.h fields
 *   'c' failures since the last success (or since they were forgotten)
 *   'l' time of the last failure (seconds since the epoch)
 *   't' the times of the failures, space separated, oldest first, each
 *       "time" or "time*count" (that many failures in one entry); at most
 *       LOGINFAIL_TIMES_MAX entries: when full, the two oldest merge under
 *       the newer time, so no failure is lost (for loginfail_count)
 *   'u' 'r' the user name the latest 'r' failures were all against
 * A success never removes the record: the count is the address's, and one
 * account's good password must not buy guesses at the others; it forgives
 * only that run of failures against its own name (a user's own typos).  Failures
 * older than LOGINFAIL_FORGET_SEC (counted from the last one) are forgotten.  Behind this small interface so
 * the table can move to a shared store. */
#ifndef BBSMAIL_LOGINFAIL_H
#define BBSMAIL_LOGINFAIL_H
#include "config.h"
#include <time.h>

#define LOGINFAIL_TIMES_MAX 64         /* entries, not failures: see 't' */
#define LOGINFAIL_USER_MAX_BYTES 64    /* longer names start no run */
#define LOGINFAIL_FORGET_SEC (24 * 60 * 60)

struct loginfail_state {
	unsigned long count;    /* failures since the last success */
	time_t last;            /* last failure, 0 if none */
};

/* Adds one failure for ip at now; *count (may be NULL) gets the new count.
 * 1 ok (also for an ip that is not an address literal, such as the "local"
 * or "unknown" of a session on a pipe, which is never counted: *count 0),
 * 0 errno. */
int loginfail_record(const char *ip, time_t now, unsigned long *count);
/* The same, for a failure against the account user (the name as stored
 * when it exists, else as given): consecutive failures against one name
 * form the run that loginfail_forgive_user may take back. */
int loginfail_record_user(const char *ip, const char *user, time_t now, unsigned long *count);
/* user logged in from ip: takes back the latest failures of ip when they
 * were all against user (compared without case), and nothing older or
 * against anyone else.  1 ok (also when nothing was forgiven), 0 errno. */
int loginfail_forgive_user(const char *ip, const char *user, time_t now);
/* The readers below treat a non-literal ip as one with nothing
 * remembered, which is true: nothing is ever stored for it. */
/* Forgets everything about ip (a sysop lifting a ban; logins never do).
 * 1 ok (also when there was nothing), 0 errno. */
int loginfail_clear(const char *ip);
/* 1 found (st filled), 0 no failures remembered (st zeroed), -1 errno. */
int loginfail_get(const char *ip, time_t now, struct loginfail_state *st);
/* Failures of ip within the last window_sec seconds; -1 on error. */
long loginfail_count(const char *ip, unsigned long window_sec, time_t now);
/* Counts an attempt before its password is checked, so parallel attempts
 * cannot all pass one reading of the count: under the writer's lock, with
 * fewer than limit failures of ip in the last window_sec seconds, records
 * one at now (as loginfail_record) and returns 1; at the limit records
 * nothing and returns 0; -1 errno (the caller refuses: fail closed).
 * A non-literal ip is never counted: 1. */
int loginfail_try(const char *ip, unsigned long window_sec, unsigned long limit, time_t now);
/* pop3d's LoginAttemptTempBan counted before the password check, for the
 * same reason: under the writer's lock, unless ip is banned at now (as
 * loginfail_ban_left says with cfg), records one failure naming no user
 * (*count the new count: this attempt's rank) and returns 1; banned:
 * records nothing, *ban_left gets the seconds left, returns 0; -1 errno
 * (the caller refuses).  The caller settles the attempt: a success with
 * loginfail_forgive(ip, now), a failure with loginfail_settle_user, which
 * turns the try into a failure against user without the count dipping
 * (*count the count after).  A non-literal ip is never counted: 1. */
int loginfail_try_ban(const char *ip, const struct mail_config *cfg, time_t now, unsigned long *count,
		      unsigned long *ban_left);
int loginfail_settle_user(const char *ip, time_t at, const char *user, time_t now, unsigned long *count);
/* The attempt loginfail_try or loginfail_try_ban counted at `at` succeeded, or never reached a
 * password check: takes that one failure back, and nothing else of ip's.
 * 1 ok (also when it was already forgotten), 0 errno. */
int loginfail_forgive(const char *ip, time_t at);

/* Policy from mail.ini, all pure functions of the state:
 * seconds left of a temporary ban (count >= LoginAttemptTempBanThreshold and
 * the last failure less than LoginAttemptTempBanDuration ago), 0 if none. */
unsigned long loginfail_ban_left(const struct loginfail_state *st, const struct mail_config *cfg, time_t now);
/* Synchronet's throttle: a client with more than one remembered failure
 * waits count x LoginAttemptThrottle ms before it is served. */
unsigned long loginfail_throttle_ms(const struct loginfail_state *st, const struct mail_config *cfg);
/* Convenience: looks ip up and returns loginfail_ban_left (0 on lookup errors,
 * which are logged; a login must use loginfail_get and refuse on error). */
unsigned long loginfail_banned(const char *ip, const struct mail_config *cfg, time_t now);

/* Appends ip to etc/ip.can (LoginAttemptFilterThreshold), with a comment
 * line saying why; an address literal is written in its canonical form, any
 * other text (a pattern) as given.  1 ok, 0 errno. */
int loginfail_filter_ip(const char *ip, const char *why);
/* 1 when ip, as given or in its canonical form, matches a line of
 * etc/ip.can (exact, or a prefix ending in '*'; a line whose first
 * non-blank byte is ';' is a comment), 0 not, -1 unreadable (logged;
 * missing = 0). */
int loginfail_ip_filtered(const char *ip);

/* Sleeps ms milliseconds (EINTR-safe); the shared delay for failures. */
void loginfail_sleep_ms(unsigned long ms);

#endif
