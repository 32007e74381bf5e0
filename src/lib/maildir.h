/* maildir: durable delivery into a BBS user's Maildir (the tmp/, new/,
 * cur/ convention of D. J. Bernstein's maildir(5)) and
 * the message count that MaxMsgsWaiting checks.  Mailboxes live at
 * <home>/spool/mailbox/<usernum>/{tmp,new,cur}. */
#ifndef BBSMAIL_MAILDIR_H
#define BBSMAIL_MAILDIR_H
#include <limits.h>
#include <stddef.h>

/* Writes the mailbox path for usernum into out.  1 ok, 0 ENAMETOOLONG. */
int maildir_path(unsigned long usernum, char *out, size_t size);
/* Creates the mailbox and its tmp/new/cur if missing.  1 ok, 0 errno. */
int maildir_create(const char *mailbox);
/* Messages in new/ and cur/ (not tmp/).  -1 on error (errno).
 * O(1) in the steady state: the count is cached in <mailbox>/bbsmail-count
 * together with the modification times of new/ and cur/ it belongs to.
 * Any change by another program (a POP3 or IMAP server deleting or moving
 * files, another delivery agent) changes those times, and the next call
 * counts again (maildir_count_scan) and caches the new figure.
 * deliver-local keeps the cache right for its own deliveries
 * (maildir_count_added), so a mailbox that only receives is never
 * re-read.  Known limit: a foreign change in the same clock tick as the
 * cache write leaves the directory time unchanged and is seen only at the
 * directory's next change (MaxMsgsWaiting is a limit, not an inventory). */
long maildir_count(const char *mailbox);
/* The count from reading new/ and cur/ in full. */
long maildir_count_scan(const char *mailbox);
/* The state of new/ and cur/ that a cached count belongs to. */
struct maildir_stamp {
	long long new_sec, new_nsec, cur_sec, cur_nsec;
};
/* 1 ok, 0 errno. */
int maildir_stamp_get(const char *mailbox, struct maildir_stamp *st);
/* After `added` deliveries into a mailbox whose state was `before`: the
 * cached count rises by `added` when it belonged to `before`; any other
 * cache no longer matches the directories, and the next maildir_count
 * counts. */
void maildir_count_added(const char *mailbox, const struct maildir_stamp *before, long added);
/* Delivers head+body as new/<unique_name> the Maildir way: tmp/, fsync,
 * link into new/, fsync new/, remove the tmp/ name.  unique_name must be a
 * valid Maildir name chosen by the caller (deliver-local derives it from the
 * job so a rerun after a crash finds the earlier delivery).  Returns 1
 * delivered, 2 already there (same name in new/ or cur/), 0 errno. */
int maildir_deliver(const char *mailbox, const char *unique_name, const char *head, size_t head_len,
		    const char *body, size_t body_len);

/* 1 when cur/ holds "<name>:2,<flags>", i.e. a reader already moved this
 * delivery out of new/.  The two names a POP3 reader leaves are tried with a
 * stat each; with scan, the whole of cur/ is read for any flags (after an
 * interrupted attempt), so the common path costs two failed stats. */
int maildir_found_in_cur(const char *mailbox, const char *name, int scan);
/* maildir_deliver with flags.  MAILDIR_DEFER_DIRSYNC skips the fsync of
 * new/ (the caller fsyncs it, once for many deliveries, before it counts
 * any of them as done); the answer 1 then means "linked, not yet durable". */
#define MAILDIR_DEFER_DIRSYNC 1
/* For maildir_write_finish: the caller has made the tmp file's data
 * durable already (file_syncfs over a batch), so no fsync of it here. */
#define MAILDIR_DATA_SYNCED 2
int maildir_deliver_flags(const char *mailbox, const char *unique_name, const char *head, size_t head_len,
			  const char *body, size_t body_len, int flags);

/* The same in two steps, so a batch of deliveries is written first (each
 * one's writeback started) and fsync'ed together afterwards.  begin writes
 * tmp/<unique_name>: 1 ok, 0 errno.  finish fsyncs, links into new/ and
 * answers as maildir_deliver_flags does.  abort (after begin only) removes
 * the tmp file. */
struct maildir_pending {
	int fd;
	int leftover;              /* an earlier attempt's tmp file was there */
	char mailbox[PATH_MAX];
	char name[NAME_MAX + 1];
};
int maildir_write_begin(struct maildir_pending *p, const char *mailbox, const char *unique_name,
			const char *head, size_t head_len, const char *body, size_t body_len);
int maildir_write_finish(struct maildir_pending *p, int flags);
void maildir_write_abort(struct maildir_pending *p);

#endif
