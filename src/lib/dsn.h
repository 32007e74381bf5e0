/* dsn: the delivery status notification (RFC 3464) for one notice job of
 * spool/queue/bounce/ (deliver-bounce(8)).  The job's record says what
 * happened (its recipients' a, s, r, x and m tags, envelope.h) and the
 * job's body is the original message; the notice is a multipart/report
 * (RFC 6522) of three parts: a text for a person, the machine-readable
 * message/delivery-status, and the original message or its header.
 * Everything here is LF-terminated, as the spool stores messages. */
#ifndef BBSMAIL_DSN_H
#define BBSMAIL_DSN_H
#include "buf.h"
#include "envelope.h"
#include <stddef.h>

enum dsn_kind {
	DSN_FAILED,      /* a: absent or "failed" */
	DSN_DELAYED,     /* "delayed" */
	DSN_DELIVERED,   /* "delivered" (a job may mix it with "relayed") */
	DSN_RELAYED      /* "relayed" only */
};

struct dsn_params {
	const char *host_name;          /* HostName: Reporting-MTA, From, Message-ID */
	const char *notice_id;          /* the notice's queue id: Message-ID, boundary */
	unsigned long max_lifetime_sec; /* MaxQueueLifetime (Will-Retry-Until); 0: none */
	long long now;                  /* Date:, and Last-Attempt-Date without L */
};

/* The kind of notice a job asks for, from its recipients' actions (the
 * driver writes one kind per job). */
enum dsn_kind dsn_kind_of(const struct envelope *job);
/* Whom the notice goes to: the original sender, or, for the failure of a
 * notice of our own (K=dsn, sent from <>), postmaster@<host_name>.  Empty
 * when there is nobody (a message from <> that is not our notice). */
int dsn_recipient(const struct envelope *job, const char *host_name, struct buf *out);
/* Composes the whole notice, header and body, onto out (emptied first);
 * message is the original message (LF line ends).  *eight_bit is set when
 * the notice holds bytes above 0x7f (its BODY=8BITMIME).  1 ok, 0 errno
 * (ENOMEM, EOVERFLOW). */
int dsn_compose(const struct envelope *job, const char *message, size_t message_len, const struct dsn_params *p,
		struct buf *out, int *eight_bit);

#endif
