/* envelope: the header of every spool file (spool/incoming/<id> and the
 * per-channel jobs in spool/queue/<channel>/).  A record (record.h) of
 * tagged fields, then the message itself, stored with LF line ends.
 *
 * Message tags (once each, in this order when written):
 *   V version "1"   I queue id   D arrival time (unix seconds)
 *   F sender ("" for <>)   H HELO name   A client IP   N client host name
 *   P protocol (RFC 3848 name: ESMTP, ESMTPSA, LMTP, local, ...)
 *   U authenticated user   B BODY= (7BIT, 8BITMIME)   Y "1" if SMTPUTF8
 *   R RET= (FULL|HDRS)   E ENVID= (decoded xtext)
 *   Q attempts so far   L time of the last attempt   (jobs deferred before)
 *   W "1": a delay notice was sent for the recipients of this copy
 *   K "dsn" a notification bbsmail wrote (its own failure goes to the
 *     postmaster once), "dsn2" that notice to the postmaster (a failure of
 *     it is logged and dropped: never a loop)
 * Recipient tags: T starts a recipient (its address), then optionally
 *   n NOTIFY= value   o ORCPT= value (decoded, "rfc822;addr")
 *   c channel   u user number   t target   (set by route in queue jobs)
 *   s status (RFC 3463, "5.1.1")   r reply code   x diagnostic text
 *   m the remote MTA that gave the reply ("mx.example.org [192.0.2.1]")
 *     (bounce jobs: why the recipient failed; deferred copies: the last
 *     temporary failure)
 *   a action for the notice: failed (also when absent), delayed,
 *     delivered, relayed (bounce jobs only, RFC 3464)
 * A job record (spool/queue/<channel>/<job>) ends at the record's end mark;
 * its message is the job's body link (body.h).  An incoming file, and a
 * job written by an older bbsmail, carries the message after the mark.
 * Constants shared with man/spool.5: keep them in step. */
#ifndef BBSMAIL_ENVELOPE_H
#define BBSMAIL_ENVELOPE_H
#include "buf.h"
#include "spool.h"
#include <stddef.h>

#define ENVELOPE_VERSION "1"

struct envelope_rcpt {
	const char *address;
	const char *notify;   /* NULL when not given */
	const char *orcpt;
	const char *channel;  /* route output only */
	unsigned long usernum;
	const char *target;
	const char *status;   /* bounce jobs only */
	const char *code;
	const char *diagnostic;
	const char *remote_mta;
	const char *action;   /* bounce jobs: NULL means "failed" */
};

struct envelope {
	char id[SPOOL_ID_MAX_BYTES];
	unsigned long arrival;
	const char *sender, *helo, *client_ip, *client_host, *protocol, *auth_user;
	const char *body, *ret, *envid;
	int smtputf8;
	unsigned long attempts;      /* Q: 0 for a job never deferred */
	unsigned long last_attempt;  /* L */
	int delay_warned;            /* W */
	const char *notice;          /* K: NULL, "dsn" or "dsn2" */
	struct envelope_rcpt *rcpt;
	size_t rcpt_count;
	const char *message;   /* the message bytes (LF line ends) */
	size_t message_len;
	struct buf storage;    /* owns the loaded file */
};

void envelope_init(struct envelope *e);
void envelope_free(struct envelope *e);
/* Appends one recipient (strings are borrowed; they must outlive e). */
int envelope_add_rcpt(struct envelope *e, const struct envelope_rcpt *r);
/* Serialises the envelope record (not the message) onto out.  0 with EINVAL
 * if any field holds NUL/CR/LF. */
int envelope_write(const struct envelope *e, struct buf *out);
/* Whether a recipient's NOTIFY= value asks for notices of this kind
 * ("SUCCESS", "FAILURE", "DELAY"): without NOTIFY, failures and delays
 * (RFC 3461 §4.1 leaves DELAY to the MTA). */
int envelope_notify_wants(const char *notify, const char *kind);
/* Reads and parses a spool file.  1 ok; 0 with errno (EBADMSG: malformed). */
int envelope_load(const char *path, struct envelope *e);
/* Parses data already in e->storage. */
int envelope_parse(struct envelope *e);

#endif
