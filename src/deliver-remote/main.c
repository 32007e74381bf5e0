/* deliver-remote: sends each job of spool/queue/remote/ (one per message,
 * written by route; each recipient's target is the address to send to) to
 * the destination's MX hosts, or to RelayServer with RELAY_TX
 * (deliver-remote(8)).  A batch's recipients are grouped by destination,
 * so a message gets one transaction per destination with all its
 * recipients there, and one connection carries every message of the batch
 * for that destination.  The scan, claims, retries, bounces and result
 * lines are the stage driver's (stage.h): a recipient the peer took is
 * done, a 4xx or an unreachable destination is deferred, a 5xx fails and
 * bounces.  A delivery cannot be made durable on our side: the window
 * between the peer's 250 and the job's retirement is the one place a
 * recipient can get a message twice (spool(5), R1). */
#include "remote.h"
#include "address.h"
#include "buf.h"
#include "channel.h"
#include "file.h"
#include "home.h"
#include "log.h"
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <unistd.h>

#define USAGE "deliver-remote [-d DIR]"
#define REMOTE_EXEMPT_FILE "etc/dnsbl_exempt.cfg"

static void remote_open(void *opaque, struct stage_run *run)
{
	struct remote_ctx *ctx = opaque;

	stage_run_configure(run, &ctx->cfg);
}

/* The destination of a target address: its domain in lower case (an
 * address literal as it is), or "" when it has none.  With RELAY_TX every
 * recipient goes to the relay.  1 ok, 0 ENOMEM. */
static int remote_destination_of(const struct remote_ctx *ctx, const char *target, struct buf *out)
{
	struct buf local = BUF_INIT;
	size_t i;

	buf_truncate(out, 0);
	if (ctx->relay)
		return buf_copys(out, ctx->cfg.relay_server);
	errno = 0;
	if (!address_split(target, &local, out) && errno == ENOMEM) {
		buf_free(&local);
		return 0;
	}
	buf_free(&local);
	if (!buf_catc(out, 0))
		return 0;
	out->len--;
	if (out->data[0] != '[')
		for (i = 0; i < out->len; i++)
			out->data[i] = (char)tolower((unsigned char)out->data[i]);
	return 1;
}

static const char *remote_down_reason(const struct remote_ctx *ctx, const char *dest)
{
	size_t i;

	for (i = 0; i < ctx->down_count; i++)
		if (strcmp(ctx->down_names[i], dest) == 0)
			return ctx->down_reasons[i];
	return NULL;
}

/* Checks each recipient; the ones that cannot be sent fail or wait here,
 * the rest are grouped in flush. */
static enum stage_verdict remote_work(void *opaque, struct stage_job *job)
{
	struct remote_ctx *ctx = opaque;
	struct buf dest = BUF_INIT;
	const char *down;
	size_t i;

	for (i = 0; i < job->env->rcpt_count; i++) {
		const struct envelope_rcpt *r = &job->env->rcpt[i];
		if (!r->channel || strcmp(r->channel, "remote") != 0 || !r->target) {
			buf_free(&dest);
			job->why = "job holds a recipient that is not remote";
			return STAGE_QUARANTINE;
		}
	}
	/* A killed earlier run may have sent some already. */
	remote_sent_apply(job);
	for (i = 0; i < job->env->rcpt_count; i++) {
		const struct envelope_rcpt *r = &job->env->rcpt[i];
		if (job->outcome[i].kind != STAGE_PENDING)
			continue;
		if (!remote_destination_of(ctx, r->target, &dest))
			die_nomem();
		if (!ctx->relay && (!dest.len || !address_domain_valid(dest.data, ADDRESS_ALLOW_UTF8)))
			stage_report_failure(job, i, 0, 553, "5.1.3", "no valid domain in <%s>", r->target);
		else if (!ctx->relay && dest.len >= 8 && strcmp(dest.data + dest.len - 8, ".fidonet") == 0)
			stage_report_failure(job, i, 0, 554, "5.1.2", "FidoNet addresses are not sent over SMTP");
		else if ((down = remote_down_reason(ctx, dest.data)))
			stage_report_failure(job, i, 1, 451, "4.4.1", "%s (earlier in this run)", down);
	}
	buf_free(&dest);
	return STAGE_HOLD;
}

static struct remote_destination *remote_find_dest(struct remote_ctx *ctx, const char *name)
{
	struct remote_destination *grown;
	size_t i;

	for (i = 0; i < ctx->dest_count; i++)
		if (strcmp(ctx->dests[i].name, name) == 0)
			return &ctx->dests[i];
	if (!(grown = realloc(ctx->dests, (ctx->dest_count + 1) * sizeof *grown)))
		die_nomem();
	ctx->dests = grown;
	memset(&grown[ctx->dest_count], 0, sizeof *grown);
	if (!(grown[ctx->dest_count].name = strdup(name)))
		die_nomem();
	return &grown[ctx->dest_count++];
}

/* Adds recipient rcpt of job number job_index to its destination: to the
 * destination's last message when that is the same job. */
static void remote_group(struct remote_ctx *ctx, size_t job_index, size_t rcpt, const char *dest_name)
{
	struct remote_destination *d = remote_find_dest(ctx, dest_name);
	struct remote_message *m;
	size_t *grown;

	if (!d->count || d->messages[d->count - 1].job != job_index) {
		struct remote_message *more = realloc(d->messages, (d->count + 1) * sizeof *more);
		if (!more)
			die_nomem();
		d->messages = more;
		memset(&more[d->count], 0, sizeof *more);
		more[d->count++].job = job_index;
	}
	m = &d->messages[d->count - 1];
	if (!(grown = realloc(m->rcpt, (m->count + 1) * sizeof *grown)))
		die_nomem();
	m->rcpt = grown;
	m->rcpt[m->count++] = rcpt;
}

static void remote_free_dests(struct remote_ctx *ctx)
{
	size_t i, j;

	for (i = 0; i < ctx->dest_count; i++) {
		for (j = 0; j < ctx->dests[i].count; j++)
			free(ctx->dests[i].messages[j].rcpt);
		free(ctx->dests[i].messages);
		free(ctx->dests[i].name);
		free(ctx->dests[i].down_reason);
	}
	free(ctx->dests);
	ctx->dests = NULL;
	ctx->dest_count = 0;
}

/* Remembers the destinations found down, for the rest of the run. */
static void remote_note_down(struct remote_ctx *ctx)
{
	size_t i;

	for (i = 0; i < ctx->dest_count; i++) {
		const struct remote_destination *d = &ctx->dests[i];
		char **names, **reasons;
		if (!d->down || remote_down_reason(ctx, d->name))
			continue;
		names = realloc(ctx->down_names, (ctx->down_count + 1) * sizeof *names);
		if (names)
			ctx->down_names = names;
		reasons = names ? realloc(ctx->down_reasons, (ctx->down_count + 1) * sizeof *reasons) : NULL;
		if (!reasons)
			die_nomem();
		ctx->down_reasons = reasons;
		if (!(names[ctx->down_count] = strdup(d->name))
		    || !(reasons[ctx->down_count] = strdup(d->down_reason ? d->down_reason : "unreachable")))
			die_nomem();
		ctx->down_count++;
	}
}

/* 1 when line (len bytes) is one of the file's lines, compared without
 * case. */
static int remote_listed(const struct buf *file, const char *line, size_t len)
{
	const char *p = file->data, *end = file->data + file->len;

	while (p && p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = (size_t)((nl ? nl : end) - p);
		if (n && p[n - 1] == '\r')
			n--;
		if (n == len && strncasecmp(p, line, len) == 0)
			return 1;
		p = nl ? nl + 1 : NULL;
	}
	return 0;
}

/* Appends the addresses delivered to etc/dnsbl_exempt.cfg (Synchronet's
 * behaviour: who we write to may write back), each once, under an flock
 * so two runs do not interleave.  Best effort: a failure is logged. */
static void remote_write_exemptions(struct remote_ctx *ctx)
{
	struct buf old = BUF_INIT, add = BUF_INIT;
	char path[PATH_MAX];
	const char *p, *end;
	int fd;

	if (!ctx->exempt.len || (ctx->cfg.options & MAIL_OPTION(NO_AUTO_EXEMPT)))
		goto done;
	if (!home_path(path, sizeof path, REMOTE_EXEMPT_FILE)
	    || (fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644)) < 0) {
		log_warn("unable to open %s: %s", REMOTE_EXEMPT_FILE, strerror(errno));
		goto done;
	}
	if (flock(fd, LOCK_EX) != 0 || !file_read_fd(fd, &old)) {
		log_warn("unable to read %s: %s", REMOTE_EXEMPT_FILE, strerror(errno));
		close(fd);
		goto done;
	}
	if (old.len && old.data[old.len - 1] != '\n' && !buf_catc(&add, '\n'))
		die_nomem();
	for (p = ctx->exempt.data, end = p + ctx->exempt.len; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = (size_t)(nl - p);
		if (!remote_listed(&old, p, n) && !remote_listed(&add, p, n)
		    && (!buf_cat(&add, p, n + 1)))
			die_nomem();
		p = nl + 1;
	}
	if (add.len && !file_write_all(fd, add.data, add.len))
		log_warn("unable to append to %s: %s", REMOTE_EXEMPT_FILE, strerror(errno));
	close(fd);
done:
	buf_free(&old);
	buf_free(&add);
	buf_truncate(&ctx->exempt, 0);
}

/* The batch's deliveries: the peers have the messages once they said 250,
 * so there is nothing of ours to make durable here. */
static int remote_flush(void *opaque, struct stage_job **jobs, size_t count)
{
	struct remote_ctx *ctx = opaque;
	struct buf dest = BUF_INIT;
	size_t i, j;

	for (i = 0; i < count; i++) {
		for (j = 0; j < jobs[i]->env->rcpt_count; j++) {
			if (jobs[i]->outcome[j].kind != STAGE_PENDING)
				continue;
			if (!remote_destination_of(ctx, jobs[i]->env->rcpt[j].target, &dest))
				die_nomem();
			remote_group(ctx, i, j, dest.data);
		}
	}
	buf_free(&dest);
	ctx->jobs = jobs;
	ctx->job_count = count;
	remote_deliver_batch(ctx);
	remote_note_down(ctx);
	remote_free_dests(ctx);
	remote_write_exemptions(ctx);
	return 1;
}

static const struct stage_ops remote_ops = {
	.channel_id = CHANNEL_REMOTE,
	.needs_message = 0,
	.open = remote_open,
	.work = remote_work,
	.flush = remote_flush,
};

int main(int argc, char **argv)
{
	struct remote_ctx ctx;
	char dir[PATH_MAX];
	size_t i;
	int code;

	log_set_program("deliver-remote");
	xstage_parse_args(argc, argv, USAGE);
	memset(&ctx, 0, sizeof ctx);
	mail_config_defaults(&ctx.cfg);
	xmail_config_load(&ctx.cfg);
	/* NO_SENDMAIL: the queue waits untouched (no attempt is counted);
	 * mailq(1) says why. */
	if (ctx.cfg.options & MAIL_OPTION(NO_SENDMAIL)) {
		log_info("event=skip reason=\"NO_SENDMAIL is set: remote delivery is off\"");
		return 0;
	}
	ctx.relay = (ctx.cfg.options & MAIL_OPTION(RELAY_TX)) != 0;
	if (ctx.relay && !ctx.cfg.relay_server[0])
		die_perm("RELAY_TX is set but RelayServer is empty");
	if (!home_path(dir, sizeof dir, REMOTE_SENT_DIR) || !stage_mkdir(dir))
		die_sys("unable to make %s", REMOTE_SENT_DIR);
	remote_sent_clean();
	code = stage_run(&remote_ops, &ctx);
	for (i = 0; i < ctx.down_count; i++) {
		free(ctx.down_names[i]);
		free(ctx.down_reasons[i]);
	}
	free(ctx.down_names);
	free(ctx.down_reasons);
	buf_free(&ctx.exempt);
	return code;
}
