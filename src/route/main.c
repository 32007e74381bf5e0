/* route: resolves every recipient of each message in spool/incoming/ and
 * writes the per-channel jobs into spool/queue/<channel>/ (route(8),
 * spool(5)).  The message itself is not copied: each job is a small record
 * plus a hard link to the incoming file (body.h).  Every channel gets one
 * job per message, named "<id>", holding all its recipients (each local
 * user once), so a rerun after a crash rewrites the same job and
 * deliver-local's Maildir names, derived from the job and the user, catch
 * any earlier delivery.  The scan,
 * claims, batching, bounces and result lines are the stage driver's
 * (stage.h). */
#include "body.h"
#include "channel.h"
#include "config.h"
#include "envelope.h"
#include "home.h"
#include "log.h"
#include "resolve.h"
#include "spool.h"
#include "stage.h"
#include "telegram.h"
#include "userdb.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define USAGE "route [-d DIR]"

/* One slot per channel id (channel.h); resolve's numbering is the same. */
#define ROUTE_CHANNEL_SLOTS CHANNEL_END

struct route_ctx {
	struct mail_config cfg;
	struct userdb db;
	struct resolve_context resolver;
	int loaded;
	char body_dir[PATH_MAX];
	struct stage_batch jobs;    /* job records not yet durable */
};

/* Per message: the recipients of each channel (with their index in the
 * message), and the local users already in the local job. */
struct route_message {
	struct stage_job *job;
	struct envelope_rcpt *by_channel[ROUTE_CHANNEL_SLOTS];
	size_t *index_of[ROUTE_CHANNEL_SLOTS];
	size_t by_channel_count[ROUTE_CHANNEL_SLOTS];
	unsigned long *local_users;
	size_t local_user_count;
	char **target_copies;  /* owns the resolved targets */
	size_t target_copy_count;
};

static void route_open(void *opaque, struct stage_run *run)
{
	struct route_ctx *r = opaque;

	mail_config_defaults(&r->cfg);
	xmail_config_load(&r->cfg);
	if (!userdb_open(&r->db, 0))
		die_sys("unable to open the user database");
	if (!resolve_context_load(&r->resolver, &r->cfg, &r->db))
		die_sys("unable to load etc/alias.cfg or etc/db/localnames");
	xhome_path(r->body_dir, sizeof r->body_dir, SPOOL_BODY_DIR);
	stage_run_configure(run, &r->cfg);
	r->loaded = 1;
}

static char *route_keep_string(struct route_message *msg, const char *s)
{
	char *copy = strdup(s), **grown;

	if (!copy)
		die_nomem();
	grown = realloc(msg->target_copies, (msg->target_copy_count + 1) * sizeof *grown);
	if (!grown)
		die_nomem();
	msg->target_copies = grown;
	msg->target_copies[msg->target_copy_count++] = copy;
	return copy;
}

static void route_message_free(struct route_message *msg)
{
	size_t i;

	for (i = 0; i < ROUTE_CHANNEL_SLOTS; i++) {
		free(msg->by_channel[i]);
		free(msg->index_of[i]);
	}
	for (i = 0; i < msg->target_copy_count; i++)
		free(msg->target_copies[i]);
	free(msg->target_copies);
	free(msg->local_users);
}

/* Writes one job: its body link first (a job is never visible without
 * its body), then the record with the given recipients.  1 ok, 0 errno
 * (logged). */
static int route_write_job(struct route_ctx *r, struct route_message *msg, const char *channel,
			   const char *job_name, struct envelope_rcpt *rcpt, size_t rcpt_count)
{
	struct envelope job = *msg->job->env;
	struct buf head = BUF_INIT;
	char dest[64];
	int ok;

	job.rcpt = rcpt;
	job.rcpt_count = rcpt_count;
	job.attempts = job.last_attempt = 0;
	memset(&job.storage, 0, sizeof job.storage);
	snprintf(dest, sizeof dest, "%s/%s", SPOOL_QUEUE_DIR, channel);
	ok = body_link(msg->job->path, channel, job_name) && stage_dirs_add(&r->jobs.dirs, r->body_dir)
	     && envelope_write(&job, &head)
	     && stage_batch_write(&r->jobs, dest, job_name, head.data, head.len, NULL, 0, msg->job->retry);
	if (!ok)
		log_warn("id=%s event=job-failed channel=%s job=%s: %s", job.id, channel, job_name, strerror(errno));
	buf_free(&head);
	return ok;
}

static int route_seen_user(struct route_message *msg, unsigned long usernum)
{
	unsigned long *grown;
	size_t i;

	for (i = 0; i < msg->local_user_count; i++)
		if (msg->local_users[i] == usernum)
			return 1;
	grown = realloc(msg->local_users, (msg->local_user_count + 1) * sizeof *grown);
	if (!grown)
		die_nomem();
	msg->local_users = grown;
	msg->local_users[msg->local_user_count++] = usernum;
	return 0;
}

/* Collected now, written as one job per channel later: a message to 500
 * local users is one job record and one body link, not 500. */
static void route_collect(struct route_message *msg, size_t index, const struct resolve_result *res)
{
	struct envelope_rcpt rcpt = msg->job->env->rcpt[index], *grown;
	size_t slot = (size_t)res->channel, *grown_index;

	rcpt.channel = channel_name((int)res->channel);
	rcpt.usernum = res->usernum;
	rcpt.target = res->channel == RESOLVE_LOCAL ? NULL
						    : route_keep_string(msg, res->target.data ? res->target.data : "");
	grown = realloc(msg->by_channel[slot], (msg->by_channel_count[slot] + 1) * sizeof *grown);
	grown_index = grown ? realloc(msg->index_of[slot], (msg->by_channel_count[slot] + 1) * sizeof *grown_index)
			    : NULL;
	if (grown)
		msg->by_channel[slot] = grown;
	if (!grown_index)
		die_nomem();
	msg->index_of[slot] = grown_index;
	msg->index_of[slot][msg->by_channel_count[slot]] = index;
	msg->by_channel[slot][msg->by_channel_count[slot]++] = rcpt;
}

/* 1 when the recipient is handled (a job, a duplicate, a failure), 0 on a
 * temporary failure. */
static int route_recipient(struct route_ctx *r, struct route_message *msg, size_t index)
{
	struct resolve_result res;
	const char *address = msg->job->env->rcpt[index].address;
	int ok = 1;

	resolve_result_init(&res);
	/* The sub-boards' posting rules look at who sent it. */
	r->resolver.sender = msg->job->env->sender ? msg->job->env->sender : "";
	r->resolver.auth_user = msg->job->env->auth_user;
	if (!resolve_recipient(&r->resolver, address, &res)) {
		struct buf quoted = BUF_INIT;
		if (!log_quote(&quoted, address, strlen(address)) || !buf_catc(&quoted, 0))
			die_nomem();
		log_warn("id=%s event=defer rcpt=%s: unable to resolve: %s", msg->job->name, quoted.data,
			 strerror(errno));
		buf_free(&quoted);
		ok = 0;
	} else if (res.channel == RESOLVE_REJECT) {
		/* Accepted at RCPT time, refused now (the user was deleted since):
		 * the driver turns it into a bounce job. */
		stage_report_failure(msg->job, index, 0, res.code, res.enhanced, "%s",
				     res.reason.data ? res.reason.data : "");
	} else if (res.channel == RESOLVE_LOCAL && route_seen_user(msg, res.usernum)) {
		stage_report_done(msg->job, index, "local", "duplicate", "user=%lu", res.usernum);
	} else {
		route_collect(msg, index, &res);
	}
	resolve_result_free(&res);
	return ok;
}

/* A user's mail that the resolver sent to the user's forward address (a
 * remote recipient that keeps the user's number): the user gets the
 * NewMailNotice and ForwardNotice telegram now, as Synchronet sends it
 * when it forwards.  Named after the message and the user, so a rerun
 * rewrites the same file.  A notice that cannot be written is logged;
 * the mail goes on. */
static void route_forward_notice(struct route_ctx *r, struct route_message *msg, const struct envelope_rcpt *rcpt)
{
	struct buf file = BUF_INIT, name = BUF_INIT, from = BUF_INIT;

	if (r->cfg.options & MAIL_OPTION(NO_NOTIFY))
		return;
	xbuf_catf(&from, "MAILER-DAEMON@%s", r->cfg.host_name);
	xtelegram_notice(&file, from.data, (long long)time(NULL), r->cfg.new_mail_notice, r->cfg.forward_notice,
			msg->job->env->sender, rcpt->target ? rcpt->target : "");
	xbuf_catf(&name, "forward.%s", msg->job->name);
	if (telegram_write(rcpt->usernum, name.data, file.data, file.len, 1))
		log_info("id=%s event=notice user=%lu file=telegram/%lu/%s", msg->job->name, rcpt->usernum,
			 rcpt->usernum, name.data);
	else
		log_warn("id=%s unable to write the forward notice for user %lu: %s", msg->job->name, rcpt->usernum,
			 strerror(errno));
	buf_free(&file);
	buf_free(&name);
	buf_free(&from);
}

static int route_write_channel_jobs(struct route_ctx *r, struct route_message *msg)
{
	size_t slot, i;

	for (slot = 0; slot < ROUTE_CHANNEL_SLOTS; slot++) {
		const char *channel = channel_name((int)slot);
		if (!msg->by_channel_count[slot])
			continue;
		if (!route_write_job(r, msg, channel, msg->job->name, msg->by_channel[slot],
				     msg->by_channel_count[slot]))
			return 0;
		for (i = 0; i < msg->by_channel_count[slot]; i++) {
			struct buf target = BUF_INIT;
			const char *t = msg->by_channel[slot][i].target;
			if (slot == CHANNEL_LOCAL) {
				stage_report_done(msg->job, msg->index_of[slot][i], channel, "queued", "user=%lu job=%s",
						  msg->by_channel[slot][i].usernum, msg->job->name);
				continue;
			}
			if (slot == CHANNEL_REMOTE && msg->by_channel[slot][i].usernum)
				route_forward_notice(r, msg, &msg->by_channel[slot][i]);
			/* The target comes from the client's address: one quoted field. */
			if (!log_quote(&target, t, strlen(t)) || !buf_catc(&target, 0))
				die_nomem();
			stage_report_done(msg->job, msg->index_of[slot][i], channel, "queued", "target=%s job=%s",
					  target.data, msg->job->name);
			buf_free(&target);
		}
	}
	return 1;
}

static enum stage_verdict route_work(void *opaque, struct stage_job *job)
{
	struct route_ctx *r = opaque;
	struct route_message msg;
	size_t i;
	int ok = 1;

	memset(&msg, 0, sizeof msg);
	msg.job = job;
	for (i = 0; ok && i < job->env->rcpt_count; i++)
		ok = route_recipient(r, &msg, i);
	if (ok)
		ok = route_write_channel_jobs(r, &msg);
	route_message_free(&msg);
	/* The jobs already written are rewritten, identically, next time. */
	return ok ? STAGE_HOLD : STAGE_LEAVE;
}

static int route_flush(void *opaque, struct stage_job **jobs, size_t count)
{
	struct route_ctx *r = opaque;

	(void)jobs;
	(void)count;
	return stage_batch_sync(&r->jobs);
}

static const struct stage_ops route_ops = {
	.channel_id = 0,
	.needs_message = 0,
	.open = route_open,
	.work = route_work,
	.flush = route_flush,
};

int main(int argc, char **argv)
{
	struct route_ctx r;
	int code;

	log_set_program("route");
	xstage_parse_args(argc, argv, USAGE);
	memset(&r, 0, sizeof r);
	code = stage_run(&route_ops, &r);
	if (r.loaded) {
		resolve_context_free(&r.resolver);
		userdb_close(&r.db);
	}
	stage_batch_free(&r.jobs);
	return code;
}
