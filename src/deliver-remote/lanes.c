/* lanes: one child process per share of a destination's messages, at most
 * OutboundConcurrency at once and OutboundPerDestination for one
 * destination; the parent reads their result lines (remote.h) and reports
 * each recipient on its job. */
#include "remote.h"
#include "buf.h"
#include "file.h"
#include "log.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define LANE_RESULT_MAX_BYTES 8192   /* one result line; longer is a bug */

char *remote_clean(char *s)
{
	char *p;

	for (p = s; p && *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	return s;
}

int remote_result_write(int fd, size_t job, size_t rcpt, enum remote_kind kind, int code, const char *status,
			const char *mta, const char *fields, const char *text)
{
	struct buf line = BUF_INIT, clean = BUF_INIT;
	int ok;

	ok = buf_catf(&line, "R\t%zu\t%zu\t%c\t%d\t%s\t", job, rcpt, (char)kind, code, status && *status ? status : "-")
	     && buf_copys(&clean, mta && *mta ? mta : "-") && buf_cats(&line, remote_clean(clean.data))
	     && buf_catc(&line, '\t') && buf_copys(&clean, fields ? fields : "") && buf_cats(&line, remote_clean(clean.data))
	     && buf_catc(&line, '\t') && buf_copys(&clean, text ? text : "") && buf_cats(&line, remote_clean(clean.data))
	     && buf_catc(&line, '\n') && file_write_all(fd, line.data, line.len);
	buf_free(&line);
	buf_free(&clean);
	return ok;
}

int remote_down_write(int fd, const char *reason)
{
	struct buf line = BUF_INIT;
	int ok = buf_cats(&line, "D\t") && buf_cats(&line, reason) && buf_catc(&line, 0);

	if (ok) {
		remote_clean(line.data + 2);
		line.data[line.len - 1] = '\n';
		ok = file_write_all(fd, line.data, line.len);
	}
	buf_free(&line);
	return ok;
}

/* Splits line at TABs into at most max fields; returns how many. */
static size_t lane_fields(char *line, char **field, size_t max)
{
	size_t n = 0;

	while (n < max) {
		field[n++] = line;
		if (!(line = strchr(line, '\t')))
			break;
		*line++ = 0;
	}
	return n;
}

/* 1 when recipient rcpt of job belongs to the lane (a child can only
 * report on what it was given). */
static int lane_owns(const struct remote_lane *lane, size_t job, size_t rcpt)
{
	size_t i, j;

	for (i = lane->first; i < lane->first + lane->count; i++) {
		const struct remote_message *m = &lane->dest->messages[i];
		if (m->job != job)
			continue;
		for (j = 0; j < m->count; j++)
			if (m->rcpt[j] == rcpt)
				return 1;
	}
	return 0;
}

static void lane_apply(struct remote_ctx *ctx, struct remote_lane *lane, char *line)
{
	char *f[9], *end;
	size_t n = lane_fields(line, f, 9), job, rcpt;
	struct stage_job *j;
	int code;

	if (n == 2 && strcmp(f[0], "D") == 0) {
		lane->dest->down = 1;
		free(lane->dest->down_reason);
		lane->dest->down_reason = strdup(f[1]);
		return;
	}
	if (n != 9 || strcmp(f[0], "R") != 0)
		goto bad;
	job = strtoul(f[1], &end, 10);
	if (*end || job >= ctx->job_count)
		goto bad;
	rcpt = strtoul(f[2], &end, 10);
	j = ctx->jobs[job];
	if (*end || rcpt >= j->env->rcpt_count || !lane_owns(lane, job, rcpt) || strlen(f[3]) != 1)
		goto bad;
	code = (int)strtol(f[4], NULL, 10);
	switch (f[3][0]) {
	case REMOTE_SENT:
	case REMOTE_RELAYED:
		stage_report_done(j, rcpt, "remote", f[3][0] == REMOTE_SENT ? "sent" : "relayed", "%s", f[7]);
		if (!buf_cats(&ctx->exempt, j->env->rcpt[rcpt].target) || !buf_catc(&ctx->exempt, '\n'))
			die_nomem();
		break;
	case REMOTE_TEMPORARY:
	case REMOTE_PERMANENT:
		stage_report_failure(j, rcpt, f[3][0] == REMOTE_TEMPORARY, code,
				     strcmp(f[5], "-") ? f[5] : f[3][0] == REMOTE_TEMPORARY ? "4.0.0" : "5.0.0", "%s", f[8]);
		break;
	default:
		goto bad;
	}
	if (strcmp(f[6], "-") != 0)
		stage_report_remote_mta(j, rcpt, f[6]);
	return;
bad:
	log_warn("event=bad-result destination=%s: a delivery process wrote a malformed line", lane->dest->name);
}

/* Reads what the lane's child has written; at its end, the child is
 * reaped.  0 when the pipe is done. */
static int lane_read(struct remote_ctx *ctx, struct remote_lane *lane)
{
	char chunk[4096], *nl;
	ssize_t r = read(lane->fd, chunk, sizeof chunk);

	if (r < 0 && (errno == EINTR || errno == EAGAIN))
		return 1;
	if (r > 0) {
		if (!buf_cat(&lane->input, chunk, (size_t)r))
			die_nomem();
		while ((nl = memchr(lane->input.data, '\n', lane->input.len))) {
			*nl = 0;
			lane_apply(ctx, lane, lane->input.data);
			buf_drop_front(&lane->input, (size_t)(nl - lane->input.data) + 1);
		}
		if (lane->input.len > LANE_RESULT_MAX_BYTES) {
			log_warn("event=bad-result destination=%s: a result line is too long", lane->dest->name);
			buf_truncate(&lane->input, 0);
		}
		return 1;
	}
	close(lane->fd);
	lane->fd = -1;
	return 0;
}

/* Every recipient of the lane without a result: deferred with reason. */
static void lane_defer_rest(struct remote_ctx *ctx, const struct remote_lane *lane, const char *reason)
{
	size_t i, j;

	for (i = lane->first; i < lane->first + lane->count; i++) {
		const struct remote_message *m = &lane->dest->messages[i];
		struct stage_job *job = ctx->jobs[m->job];
		for (j = 0; j < m->count; j++)
			if (job->outcome[m->rcpt[j]].kind == STAGE_PENDING)
				stage_report_failure(job, m->rcpt[j], 1, 451, "4.4.1", "%s", reason);
	}
}

static void lane_reap(struct remote_ctx *ctx, struct remote_lane *lane)
{
	char why[128];
	int status;

	while (waitpid(lane->pid, &status, 0) < 0 && errno == EINTR)
		;
	lane->finished = 1;
	if (WIFSIGNALED(status))
		snprintf(why, sizeof why, "the delivery process was killed by signal %d", WTERMSIG(status));
	else
		snprintf(why, sizeof why, "the delivery process ended without a result (exit %d)", WEXITSTATUS(status));
	lane_defer_rest(ctx, lane, why);
	buf_free(&lane->input);
}

static void lane_start(struct remote_ctx *ctx, struct remote_lane *lanes, size_t count, struct remote_lane *lane)
{
	int fds[2];
	size_t i;

	lane->started = 1;
	if (pipe2(fds, O_CLOEXEC) != 0 || (lane->pid = fork()) < 0) {
		char why[128];
		snprintf(why, sizeof why, "unable to start a delivery process: %s", strerror(errno));
		log_warn("destination=%s event=defer: %s", lane->dest->name, why);
		lane_defer_rest(ctx, lane, why);
		lane->finished = 1;
		lane->fd = -1;
		return;
	}
	if (lane->pid == 0) {
		/* A killed deliver-remote takes its lanes with it, so that a
		 * rerun never races a lane still sending the same jobs (their
		 * claims are shared with the lanes). */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() == 1)
			_exit(111);
		close(fds[0]);
		for (i = 0; i < count; i++)
			if (lanes[i].started && !lanes[i].finished && lanes[i].fd >= 0 && &lanes[i] != lane)
				close(lanes[i].fd);
		remote_session_run(ctx, lane, fds[1]);
	}
	close(fds[1]);
	lane->fd = fds[0];
}

/* The lanes in the order to start them: every destination's first share,
 * then every second share, so one big destination does not hold the
 * others back. */
static struct remote_lane *lanes_plan(const struct remote_ctx *ctx, size_t *count)
{
	size_t per = ctx->cfg.outbound_per_destination ? ctx->cfg.outbound_per_destination : 1;
	size_t i, round, n = 0, total = 0;
	struct remote_lane *lanes;

	for (i = 0; i < ctx->dest_count; i++)
		total += ctx->dests[i].count < per ? ctx->dests[i].count : per;
	if (!(lanes = calloc(total ? total : 1, sizeof *lanes)))
		die_nomem();
	for (round = 0; round < per; round++) {
		for (i = 0; i < ctx->dest_count; i++) {
			struct remote_destination *d = &ctx->dests[i];
			size_t shares = d->count < per ? d->count : per;
			size_t base = d->count / (shares ? shares : 1), extra = d->count % (shares ? shares : 1);
			if (round >= shares)
				continue;
			lanes[n].dest = d;
			lanes[n].first = round * base + (round < extra ? round : extra);
			lanes[n].count = base + (round < extra ? 1 : 0);
			lanes[n].fd = -1;
			n++;
		}
	}
	*count = n;
	return lanes;
}

void remote_deliver_batch(struct remote_ctx *ctx)
{
	size_t limit = ctx->cfg.outbound_concurrency ? ctx->cfg.outbound_concurrency : 1;
	size_t count, next = 0, running = 0, i, n;
	struct remote_lane *lanes = lanes_plan(ctx, &count);
	struct pollfd *pfd = calloc(count ? count : 1, sizeof *pfd);
	size_t *which = calloc(count ? count : 1, sizeof *which);

	if (!pfd || !which)
		die_nomem();
	while (next < count || running) {
		while (running < limit && next < count) {
			struct remote_lane *lane = &lanes[next++];
			if (lane->dest->down) {
				lane_defer_rest(ctx, lane, lane->dest->down_reason ? lane->dest->down_reason : "unreachable");
				lane->started = lane->finished = 1;
				continue;
			}
			lane_start(ctx, lanes, count, lane);
			if (!lane->finished)
				running++;
		}
		for (i = n = 0; i < count; i++) {
			if (lanes[i].started && !lanes[i].finished && lanes[i].fd >= 0) {
				pfd[n].fd = lanes[i].fd;
				pfd[n].events = POLLIN;
				which[n++] = i;
			}
		}
		if (!n)
			break;
		/* The children bound every wait of theirs; this poll only
		 * waits for them. */
		if (poll(pfd, n, -1) < 0 && errno != EINTR)
			die_sys("poll");
		for (i = 0; i < n; i++) {
			struct remote_lane *lane = &lanes[which[i]];
			if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			if (!lane_read(ctx, lane)) {
				lane_reap(ctx, lane);
				running--;
			}
		}
	}
	free(pfd);
	free(which);
	free(lanes);
}
