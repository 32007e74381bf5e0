/* deliver-remote's parts: main.c (the stage: groups a batch's recipients
 * by destination), lanes.c (runs the deliveries in child processes, at
 * most OutboundConcurrency at once and OutboundPerDestination to one
 * destination, and reads their results back), session.c (one child: finds
 * the hosts, speaks SMTP to them, one transaction per message with all its
 * recipients for that destination, the connection reused for the next). */
#ifndef BBSMAIL_DELIVER_REMOTE_H
#define BBSMAIL_DELIVER_REMOTE_H
#include "buf.h"
#include "config.h"
#include "envelope.h"
#include "stage.h"
#include <stddef.h>

/* The recipients of one message that go to one destination. */
struct remote_message {
	size_t job;             /* index in the batch */
	size_t *rcpt;           /* indexes in the job's envelope */
	size_t count;
};

struct remote_destination {
	char *name;             /* domain (lower case), "[literal]", or the relay */
	struct remote_message *messages;
	size_t count;
	int down;               /* a lane found no host to talk to */
	char *down_reason;
};

/* A share of one destination's messages for one child. */
struct remote_lane {
	struct remote_destination *dest;
	size_t first, count;    /* messages[first .. first+count) */
	int pid;
	int fd;                 /* the child's result pipe, -1 when read to its end */
	struct buf input;       /* result lines not yet complete */
	int started, finished;
};

struct remote_ctx {
	struct mail_config cfg;
	int relay;              /* RELAY_TX */
	struct stage_job **jobs;   /* the batch being delivered */
	size_t job_count;
	struct remote_destination *dests;
	size_t dest_count;
	/* Destinations found down earlier in this run: later batches defer
	 * their recipients at once instead of trying again. */
	char **down_names, **down_reasons;
	size_t down_count;
	struct buf exempt;      /* addresses delivered, for dnsbl_exempt.cfg */
};

/* sent.c: the sent-log, spool/sent/<job>: the target addresses of a job
 * that a peer has taken, one a line, appended by the lane right after the
 * peer's 250 and before the result goes to the parent.  It is not synced:
 * a killed deliver-remote loses none of it (the page cache keeps it), so
 * a rerun skips what was sent; only a machine crash can lose its last
 * lines, and then a recipient gets the message twice, never none
 * (spool(5), R1). */
#define REMOTE_SENT_DIR SPOOL_SENT_DIR
/* Appends the n addresses.  1 ok, 0 errno. */
int remote_sent_append(const char *job, const char *const *addresses, size_t n);
/* Reports each recipient of job whose target is in its sent-log as done
 * ("already-sent"). */
void remote_sent_apply(struct stage_job *job);
/* Removes the sent-logs of jobs that are neither queued nor deferred any
 * more (their job was retired) and whose message has left spool/incoming
 * (route can queue a job again until then). */
void remote_sent_clean(void);

/* lanes.c: delivers every destination of the batch; reports each recipient
 * on its job (stage_report_*).  Returns when every child has ended. */
void remote_deliver_batch(struct remote_ctx *ctx);

/* session.c, in the child: delivers the lane's messages and writes one
 * result line per recipient to fd (remote_result_write). Never returns. */
void remote_session_run(const struct remote_ctx *ctx, const struct remote_lane *lane, int fd)
	__attribute__((noreturn));

/* The result protocol between a lane and the parent, one line each:
 *   R <job> <rcpt> <kind> <code> <status> <mta> <fields> <text>   (TAB between)
 * kind: S sent, N relayed to a peer without DSN, T temporary, P permanent;
 *   D <reason>        no host could be reached: the destination is down
 * Fields never hold TAB or LF (remote_clean). */
enum remote_kind { REMOTE_SENT = 'S', REMOTE_RELAYED = 'N', REMOTE_TEMPORARY = 'T', REMOTE_PERMANENT = 'P' };
int remote_result_write(int fd, size_t job, size_t rcpt, enum remote_kind kind, int code, const char *status,
			const char *mta, const char *fields, const char *text);
int remote_down_write(int fd, const char *reason);
/* Replaces TAB, CR, LF and other control bytes with spaces, in place. */
char *remote_clean(char *s);

#endif
