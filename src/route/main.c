/* route: scans spool/incoming/ once, resolves every recipient and writes the
 * per-channel jobs into spool/queue/<channel>/ (route(8), spool(5)).
 * Local jobs hold one recipient each and are named "<id>.<n>" after the
 * recipient's index, so a rerun after a crash rewrites the same names and
 * deliver-local's deterministic Maildir names catch any earlier delivery. */
#include "config.h"
#include "envelope.h"
#include "home.h"
#include "log.h"
#include "resolve.h"
#include "spool.h"
#include "stage.h"
#include "userdb.h"
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define USAGE "route [-d DIR]"

/* Channels other than local get one job per message; the order is the
 * order of resolve_channel, so a channel's slot is its enum value. */
#define ROUTE_CHANNEL_SLOTS (RESOLVE_FIDO + 1)

/* Inputs routed before their jobs' directories are fsync'ed together and
 * they are retired: one directory fsync per channel per batch instead of
 * one per job.  Bounded so the claims held stay a small number of fds. */
#define ROUTE_BATCH_MAX 128

/* A routed input waiting for the batch's directory fsync; the claim (fd)
 * is held until it is retired, so no other route takes it meanwhile. */
struct route_done {
	int fd;
	char *path;
	char *id;
	size_t rcpt_count;
};

struct route_run {
	struct mail_config cfg;
	struct userdb db;
	struct resolve_context ctx;
	int loaded;            /* config, database and aliases read (lazily) */
	int temporary_failures;
	struct stage_batch jobs;               /* jobs not yet durable */
	struct route_done batch[ROUTE_BATCH_MAX];
	size_t batch_count;
};

/* Per message: the recipients of each non-local channel, and the local
 * users already given a job (a user named twice gets the message once). */
struct route_message {
	const char *name;      /* file name in spool/incoming, also the job prefix */
	int retry;             /* an earlier route worked on it: mark the jobs */
	struct stage_batch *jobs;
	struct envelope env;
	struct envelope_rcpt *by_channel[ROUTE_CHANNEL_SLOTS];
	size_t by_channel_count[ROUTE_CHANNEL_SLOTS];
	unsigned long *local_users;
	size_t local_user_count;
	char **target_copies;  /* owns the resolved targets */
	size_t target_copy_count;
};

static void route_load(struct route_run *run)
{
	static const char *channels[] = { "local", "remote", "board", "qwk", "fido" };
	char path[PATH_MAX], rel[64];
	size_t i;

	if (run->loaded)
		return;
	mail_config_defaults(&run->cfg);
	xmail_config_load(&run->cfg);
	if (!userdb_open(&run->db, 0))
		die_sys("unable to open the user database");
	if (!resolve_context_load(&run->ctx, &run->cfg, &run->db))
		die_sys("unable to load etc/alias.cfg or etc/db/localnames");
	for (i = 0; i < sizeof channels / sizeof channels[0]; i++) {
		snprintf(rel, sizeof rel, "%s/%s", SPOOL_QUEUE_DIR, channels[i]);
		xhome_path(path, sizeof path, rel);
		if (!stage_mkdir(path))
			die_sys("unable to create %s", path);
	}
	run->loaded = 1;
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

	for (i = 0; i < ROUTE_CHANNEL_SLOTS; i++)
		free(msg->by_channel[i]);
	for (i = 0; i < msg->target_copy_count; i++)
		free(msg->target_copies[i]);
	free(msg->target_copies);
	free(msg->local_users);
	envelope_free(&msg->env);
}

/* Writes one job: the message's envelope fields with the given recipients,
 * then the message.  Returns 1 when durable. */
static int route_write_job(struct route_message *msg, const char *channel, const char *job_name,
			   struct envelope_rcpt *rcpt, size_t rcpt_count)
{
	struct envelope job = msg->env;
	struct buf head = BUF_INIT;
	char dest[64];
	int ok;

	job.rcpt = rcpt;
	job.rcpt_count = rcpt_count;
	job.storage.data = NULL;
	snprintf(dest, sizeof dest, "%s/%s", SPOOL_QUEUE_DIR, channel);
	if (!envelope_write(&job, &head)) {
		log_error("id=%s event=job-failed channel=%s: %s", msg->env.id, channel, strerror(errno));
		buf_free(&head);
		return 0;
	}
	ok = stage_batch_write(msg->jobs, dest, job_name, head.data, head.len, msg->env.message,
			       msg->env.message_len, msg->retry);
	if (!ok)
		log_warn("id=%s event=job-failed channel=%s job=%s: %s", msg->env.id, channel, job_name,
			 strerror(errno));
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

static int route_local(struct route_message *msg, size_t index, const struct resolve_result *res)
{
	struct envelope_rcpt rcpt = msg->env.rcpt[index];
	char job_name[SPOOL_ID_MAX_BYTES + 64];

	if (route_seen_user(msg, res->usernum)) {
		log_info("id=%s event=duplicate rcpt=%s channel=local user=%lu", msg->env.id, rcpt.address,
			 res->usernum);
		return 1;
	}
	rcpt.channel = "local";
	rcpt.usernum = res->usernum;
	rcpt.target = NULL;
	snprintf(job_name, sizeof job_name, "%s.%zu", msg->name, index);
	if (!route_write_job(msg, "local", job_name, &rcpt, 1))
		return 0;
	log_info("id=%s event=route rcpt=%s channel=local user=%lu job=%s", msg->env.id, rcpt.address,
		 res->usernum, job_name);
	return 1;
}

/* Remote, board, qwk, fido: collected now, written once per channel later. */
static void route_collect(struct route_message *msg, size_t index, const struct resolve_result *res)
{
	struct envelope_rcpt rcpt = msg->env.rcpt[index], *grown;
	size_t slot = (size_t)res->channel;

	rcpt.channel = resolve_channel_name(res->channel);
	rcpt.usernum = res->usernum;
	rcpt.target = route_keep_string(msg, res->target.data ? res->target.data : "");
	grown = realloc(msg->by_channel[slot], (msg->by_channel_count[slot] + 1) * sizeof *grown);
	if (!grown)
		die_nomem();
	msg->by_channel[slot] = grown;
	msg->by_channel[slot][msg->by_channel_count[slot]++] = rcpt;
	log_info("id=%s event=route rcpt=%s channel=%s target=%s", msg->env.id, rcpt.address, rcpt.channel,
		 rcpt.target);
}

/* 1 when the recipient is handled (routed, dropped), 0 on a temporary failure. */
static int route_recipient(struct route_run *run, struct route_message *msg, size_t index)
{
	struct resolve_result res;
	const char *address = msg->env.rcpt[index].address;
	int ok = 1;

	resolve_result_init(&res);
	if (!resolve_recipient(&run->ctx, address, &res)) {
		log_warn("id=%s event=defer rcpt=%s: unable to resolve: %s", msg->env.id, address,
			 strerror(errno));
		ok = 0;
	} else if (res.channel == RESOLVE_REJECT) {
		/* Bounces come with deliver-remote; until then the recipient is
		 * dropped with this line (spool(5)). */
		log_info("id=%s event=reject rcpt=%s code=%d status=%s reason=%s", msg->env.id, address, res.code,
			 res.enhanced, res.reason.data ? res.reason.data : "");
	} else if (res.channel == RESOLVE_LOCAL) {
		ok = route_local(msg, index, &res);
	} else {
		route_collect(msg, index, &res);
	}
	resolve_result_free(&res);
	return ok;
}

static int route_write_channel_jobs(struct route_message *msg)
{
	size_t slot;
	int ok = 1;

	for (slot = 0; slot < ROUTE_CHANNEL_SLOTS; slot++) {
		if (!msg->by_channel_count[slot])
			continue;
		if (!route_write_job(msg, resolve_channel_name((enum resolve_channel)slot), msg->name,
				     msg->by_channel[slot], msg->by_channel_count[slot]))
			ok = 0;
	}
	return ok;
}

/* Routes one claimed file.  Returns 1 when the file may be retired. */
static int route_message(struct route_run *run, struct route_message *msg, int fd, const char *path)
{
	size_t i;
	int ok = 1;

	if (!stage_load_envelope(fd, &msg->env)) {
		if (errno == EBADMSG) {
			spool_quarantine(path, "malformed envelope");
			log_error("id=%s event=quarantine reason=malformed-envelope", msg->name);
		} else {
			log_warn("id=%s event=defer: unable to read %s: %s", msg->name, path, strerror(errno));
			run->temporary_failures++;
		}
		return 0;
	}
	route_load(run);
	for (i = 0; i < msg->env.rcpt_count; i++)
		if (!route_recipient(run, msg, i))
			ok = 0;
	if (ok && !route_write_channel_jobs(msg))
		ok = 0;
	if (!ok) {
		run->temporary_failures++;
		return 0;
	}
	return 1;
}

/* Makes the batch's jobs durable, then retires its inputs (invariant 2:
 * an input goes only after everything it produced is on disk). */
static void route_flush(struct route_run *run)
{
	int synced = stage_batch_sync(&run->jobs), saved = errno;
	size_t i;

	for (i = 0; i < run->batch_count; i++) {
		struct route_done *d = &run->batch[i];
		if (!synced) {
			log_warn("id=%s event=defer: unable to make the jobs durable: %s", d->id,
				 strerror(saved));
			run->temporary_failures++;
		} else if (!spool_retire(d->path)) {
			log_warn("id=%s event=defer: unable to retire %s: %s", d->id, d->path, strerror(errno));
			run->temporary_failures++;
		} else {
			log_info("id=%s event=routed rcpt=%zu", d->id, d->rcpt_count);
		}
		close(d->fd);
		free(d->path);
		free(d->id);
	}
	run->batch_count = 0;
	/* The retired inputs are the cheapest files for the next jobs. */
	spool_trash_rescan();
}

static void route_hold(struct route_run *run, int fd, const char *path, const struct envelope *env)
{
	struct route_done *d = &run->batch[run->batch_count++];

	d->fd = fd;
	d->path = strdup(path);
	d->id = strdup(env->id);
	if (!d->path || !d->id)
		die_nomem();
	d->rcpt_count = env->rcpt_count;
	if (run->batch_count == ROUTE_BATCH_MAX)
		route_flush(run);
}

static void route_one(struct route_run *run, const char *dir, const char *name)
{
	struct route_message msg;
	char path[PATH_MAX];
	int fd;

	if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path)
		return;
	fd = stage_claim(path);
	if (fd < 0)
		return;    /* gone, or another route holds it */
	memset(&msg, 0, sizeof msg);
	msg.name = name;
	msg.jobs = &run->jobs;
	/* If a killed route wrote jobs that were delivered since, the rewritten
	 * jobs tell deliver-local to look for those deliveries (stage.h). */
	msg.retry = stage_was_attempted(fd);
	if (!msg.retry && !stage_mark_attempted(fd))
		log_warn("id=%s: unable to mark %s: %s", name, path, strerror(errno));
	if (route_message(run, &msg, fd, path))
		route_hold(run, fd, path, &msg.env);
	else
		close(fd);
	route_message_free(&msg);
}

static int route_scan(struct route_run *run)
{
	char dir[PATH_MAX];
	struct dirent *d;
	DIR *dh;

	xhome_path(dir, sizeof dir, SPOOL_INCOMING_DIR);
	dh = opendir(dir);
	if (!dh)
		die_sys("unable to open %s", dir);
	while ((d = readdir(dh)))
		if (d->d_name[0] != '.')
			route_one(run, dir, d->d_name);
	route_flush(run);
	closedir(dh);
	return run->temporary_failures ? EXIT_TEMPORARY : 0;
}

int main(int argc, char **argv)
{
	struct route_run run;
	int code;

	log_set_program("route");
	stage_parse_args(argc, argv, USAGE);
	memset(&run, 0, sizeof run);
	code = route_scan(&run);
	if (run.loaded) {
		resolve_context_free(&run.ctx);
		userdb_close(&run.db);
	}
	stage_batch_free(&run.jobs);
	return code;
}
