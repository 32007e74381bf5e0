/* etrn: what an ETRN (RFC 1985) asks for, and releasing it.  smtpd does it
 * itself when it may write spool/defer; in a split home (home.h) it may
 * not, and leaves a request in spool/etrn/ that runq carries out at its
 * next pass (etrn_requests_run). */
#ifndef BBSMAIL_ETRN_H
#define BBSMAIL_ETRN_H
#include "channel.h"
#include "schedule.h"

#define SPOOL_ETRN_DIR "spool/etrn"
/* A deferred job tried less than this long ago is not released by ETRN:
 * a client repeating ETRN over many sessions gets at most one attempt a
 * minute, as the stage's own first retry, so it cannot use up a message's
 * MaxDeliveryAttempts (and get it bounced) in a few minutes. */
#define ETRN_MIN_RETRY_SEC 60
/* The longest "#queue" name (channel names are short words). */
#define ETRN_QUEUE_MAX_BYTES 32
/* The longest node a request file holds ("@" + a domain + "."). */
#define ETRN_NODE_MAX_BYTES 300

/* What one ETRN asked for, once its syntax is checked. */
struct etrn_request {
	const char *node;             /* the argument as given: the <x> of the replies */
	const struct channel *queue;  /* "#<queue>": every deferred job of it */
	struct schedule_domain domain;   /* otherwise: a domain, "@" with subdomains */
};

/* 1 when the node is a domain, "@domain" or "#queue" of valid syntax (the
 * queue may still be unknown: req->queue NULL and domain.domain NULL). */
int etrn_parse(const char *node, struct etrn_request *req);
/* Releases what the request names; *released how many.  1 ok, 0 errno. */
int etrn_release(struct etrn_request *req, unsigned long *released);
/* Leaves node (parsed by etrn_parse) for runq as spool/etrn/<id>, durable.
 * 1 ok, 0 errno. */
int etrn_request_queue(const char *node);
/* runq's part: every request in spool/etrn/ released and removed, with
 * one log line each (event=etrn-request); a malformed one is removed and
 * logged.  Returns how many jobs went back into their queues. */
unsigned long etrn_requests_run(void);

#endif
