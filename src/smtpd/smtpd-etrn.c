#include "smtpd-etrn.h"
#include "etrn.h"
#include "home.h"
#include "address.h"
#include "channel.h"
#include "envelope.h"
#include "log.h"
#include "schedule.h"
#include "smtpd-commands.h"
#include "smtpd-reply.h"
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* One line per ETRN, whatever its outcome. */
static void etrn_log(const struct smtp_session *s, const char *node, int code, const char *status,
		     unsigned long released, const char *reason)
{
	struct buf v = BUF_INIT, r = BUF_INIT;

	log_info("event=etrn ip=%s domain=%s code=%d status=%s released=%lu%s%s", s->remote_ip,
		 xlog_value(&v, node), code, status, released, reason ? " reason=" : "",
		 reason ? xlog_value(&r, reason) : "");
	buf_free(&v);
	buf_free(&r);
}

/* Spaces around the argument are not part of the node name. */
static const char *etrn_trim(struct buf *out, const char *arg)
{
	size_t n;

	while (*arg == ' ')
		arg++;
	n = strlen(arg);
	while (n && arg[n - 1] == ' ')
		n--;
	buf_truncate(out, 0);
	xbuf_cat(out, arg, n);
	return out->data ? out->data : "";
}

/* ETRN releases deferred jobs itself (spool/defer): under its own uid in a
 * split home smtpd may not, and leaves the request for runq (etrn.h).
 * Asked only when a client says ETRN, not at every connection. */
static int etrn_via_runq(void)
{
	char path[PATH_MAX];

	return home_shared() && (!home_path(path, sizeof path, SPOOL_DEFER_DIR) || access(path, W_OK | X_OK) != 0);
}

/* The reply for a request that parsed; the count of the rate limit. */
static void etrn_run(struct smtp_session *s, struct etrn_request *req)
{
	unsigned long released = 0;
	int saved;

	if (!req->queue && !req->domain.domain) {
		smtp_reply(s, 459, "4.7.1", "%s: node not allowed", req->node);
		etrn_log(s, req->node, 459, "4.7.1", 0, "unknown queue");
		return;
	}
	if (++s->etrn_count > SMTP_ETRN_PER_SESSION_MAX) {
		smtp_reply(s, 458, "4.7.0", "Unable to queue messages for node %s: too many ETRN commands", req->node);
		etrn_log(s, req->node, 458, "4.7.0", 0, "too many ETRN commands in this session");
		return;
	}
	if (etrn_via_runq()) {
		if (!etrn_request_queue(req->node)) {
			saved = errno;
			smtp_reply(s, 458, "4.0.0", "Unable to queue messages for node %s", req->node);
			etrn_log(s, req->node, 458, "4.0.0", 0, strerror(saved));
			return;
		}
		spool_poke_trigger();
		smtp_reply(s, 250, "2.0.0", "OK, queuing for node %s started", req->node);
		etrn_log(s, req->node, 250, "2.0.0", 0, "left for runq");
		return;
	}
	if (!etrn_release(req, &released)) {
		saved = errno;
		if (released)
			spool_poke_trigger();
		smtp_reply(s, 458, "4.0.0", "Unable to queue messages for node %s", req->node);
		etrn_log(s, req->node, 458, "4.0.0", released, strerror(saved));
		return;
	}
	if (!released) {
		smtp_reply(s, 251, "2.0.0", "OK, no messages waiting for node %s", req->node);
		etrn_log(s, req->node, 251, "2.0.0", 0, NULL);
		return;
	}
	spool_poke_trigger();
	smtp_reply(s, 253, "2.0.0", "OK, %lu pending messages for node %s started", released, req->node);
	etrn_log(s, req->node, 253, "2.0.0", released, NULL);
}

static void cmd_etrn(struct smtp_session *s, const char *arg)
{
	struct buf node = BUF_INIT;
	struct etrn_request req;
	const char *x = etrn_trim(&node, arg);

	if (s->in_mail) {
		/* RFC 1985: not within a mail transaction */
		smtp_reply(s, 503, "5.5.1", "ETRN not allowed during a mail transaction");
		etrn_log(s, x, 503, "5.5.1", 0, "in a mail transaction");
	} else if (!etrn_parse(x, &req)) {
		smtp_reply(s, 501, "5.5.4", "Syntax: ETRN <domain> | @<domain> | #<queue>");
		etrn_log(s, x, 501, "5.5.4", 0, "syntax");
	} else {
		etrn_run(s, &req);
	}
	buf_free(&node);
}

static int etrn_available(const struct smtp_session *s) { return (s->ext & SMTP_EXT_ETRN) != 0; }

static void etrn_advertise(struct smtp_session *s, struct buf *keywords)
{
	if (etrn_available(s))
		xbuf_cats(keywords, "ETRN\n");
}

static const struct smtp_command etrn_commands[] = {
	{ "ETRN", SMTP_CMD_NEEDS_HELO, etrn_available, cmd_etrn, etrn_advertise, NULL },
};

void smtpd_etrn_register(void)
{
	smtp_commands_add(etrn_commands, sizeof etrn_commands / sizeof etrn_commands[0]);
}
