/* deliver-fido: turns each recipient of the jobs in spool/queue/fido/
 * (written by route; each target is "<FTN name>@<zone:net/node[.point]>")
 * into one netmail packet in the BinkleyTerm-style outbound of the next
 * hop (deliver-fido(8), fidonet.cfg(5), spool(5) "F" states). */
#include "netmail.h"
#include "buf.h"
#include "channel.h"
#include "config.h"
#include "envelope.h"
#include "fido.h"
#include "home.h"
#include "log.h"
#include "spool.h"
#include "stage.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define USAGE "deliver-fido [-d DIR]"

struct fido_ctx {
	struct mail_config cfg;
	struct fido_config fido;
};

static void fido_open(void *opaque, struct stage_run *run)
{
	struct fido_ctx *c = opaque;
	char text[PATH_MAX + 160], dir[PATH_MAX];

	mail_config_defaults(&c->cfg);
	xmail_config_load(&c->cfg);
	stage_run_configure(run, &c->cfg);
	if (!fido_config_load(&c->fido, text, sizeof text))
		die_temp("%s", text);
	if (!c->fido.addr_count)
		die_temp("%s names no address of ours: FidoNet is off", FIDO_FILE);
	xhome_path(dir, sizeof dir, OUTBOUND_MARKER_DIR);
	if (!stage_mkdir(dir))
		die_sys("unable to create %s", dir);
	outbound_clean_markers();
}

/* "<name>@<address>": the name before the last '@'. */
static int parse_target(const char *target, struct buf *name, struct ftn_addr *dest)
{
	const char *at = strrchr(target, '@');

	return at && at > target && (size_t)(at - target) <= FIDO_NAME_MAX_BYTES && ftn_addr_parse(at + 1, dest)
	       && buf_copy(name, target, (size_t)(at - target));
}

/* A name for this recipient of this job, the same on every run:
 * "<job>.<FNV-1a of the target, hex>". */
static void recipient_key(const struct stage_job *job, const char *target, char *out, size_t size)
{
	uint32_t h = 2166136261u;
	const unsigned char *p;

	for (p = (const unsigned char *)target; *p; p++)
		h = (h ^ *p) * 16777619u;
	snprintf(out, size, "%s.%08lx", job->name, (unsigned long)h);
}

static int write_tmp(const char *path, const struct buf *packet)
{
	FILE *f;
	int ok;

	unlink(path);
	if (!(f = fopen(path, "wx")))
		return 0;
	ok = fwrite(packet->data, 1, packet->len, f) == packet->len && fflush(f) == 0 && fsync(fileno(f)) == 0;
	return (fclose(f) == 0) && ok;
}

struct recipient {
	struct buf name, packet;
	struct netmail n;
	char key[256], tmp_path[PATH_MAX], base[PATH_MAX], dir[PATH_MAX];
};

/* F1: the packet in spool/tmp/, or the one an earlier run left there. */
static int prepare_packet(struct fido_ctx *c, struct stage_job *job, struct recipient *r,
			  const struct outbound_write *w)
{
	int pending;

	if ((pending = outbound_pending(w, &r->packet)) != 0)
		return pending > 0;
	r->n.cfg = &c->fido;
	r->n.to_name = r->name.data;
	r->n.arrival = (long long)job->env->arrival;
	r->n.now = (long long)time(NULL);
	return netmail_serial(&r->n.serial) && netmail_packet(&r->n, job->message, job->message_len, &r->packet)
	       && write_tmp(r->tmp_path, &r->packet);
}

static void netmail_recipient(struct fido_ctx *c, struct stage_job *job, size_t i)
{
	const char *target = job->env->rcpt[i].target;
	struct recipient r;
	struct outbound_write w;
	char hop[FTN_ADDR_MAX_BYTES], rel[400];

	memset(&r, 0, sizeof r);
	recipient_key(job, target, r.key, sizeof r.key);
	if (!parse_target(target, &r.name, &r.n.dest)) {
		stage_report_failure(job, i, 0, 553, "5.1.3", "%s: malformed FidoNet target", target);
		goto out;
	}
	if (!fido_next_hop(&c->fido, &r.n.dest, &r.n.hop, &r.n.link)) {
		stage_report_failure(job, i, 1, 451, "4.4.0", "no FidoNet route to %s: no uplink configured", target);
		goto out;
	}
	ftn_addr_format(hop, sizeof hop, &r.n.hop);
	if (outbound_was_written(r.key)) {
		stage_report_done(job, i, "fido", "already-written", "node=%s", hop);
		goto out;
	}
	memset(&w, 0, sizeof w);
	w.key = r.key, w.tmp_path = r.tmp_path, w.base = r.base, w.dir = r.dir;
	w.extension = fido_packet_extension(r.n.link ? r.n.link->flavour : FIDO_FLAVOUR_NORMAL);
	snprintf(rel, sizeof rel, SPOOL_TMP_DIR "/fido-%s", r.key);
	if (!home_path(r.tmp_path, sizeof r.tmp_path, rel)
	    || !fido_outbound_base(&c->fido, &r.n.hop, r.base, sizeof r.base, r.dir, sizeof r.dir)
	    || !outbound_prepare(&w) || !prepare_packet(c, job, &r, &w)) {
		stage_report_errno(job, i, errno, "unable to write the netmail packet for %s", target);
		goto out;
	}
	if (!outbound_deliver(&w, &r.packet)) {
		if (errno == EAGAIN)
			stage_report_failure(job, i, 1, 451, "4.4.0", "FidoNet node %s is busy (%s.bsy)", hop, r.base);
		else if (errno == EBADMSG)
			/* Another program's file: the sysop must look, nothing bounces. */
			stage_report_failure(job, i, 1, 451, "4.3.0", "%s does not end in a packet terminator",
					     w.final_path);
		else
			stage_report_errno(job, i, errno, "unable to write %s", w.final_path);
		goto out;
	}
	stage_report_done(job, i, "fido", w.again ? "already-written" : "written", "node=%s file=%s", hop,
			  strrchr(w.final_path, '/') + 1);
out:
	buf_free(&r.name);
	buf_free(&r.packet);
}

static enum stage_verdict fido_work(void *opaque, struct stage_job *job)
{
	struct fido_ctx *c = opaque;
	const struct envelope *e = job->env;
	size_t i, j;

	for (i = 0; i < e->rcpt_count; i++)
		if (!e->rcpt[i].channel || strcmp(e->rcpt[i].channel, "fido") != 0 || !e->rcpt[i].target) {
			job->why = "job holds a recipient that is not FidoNet netmail";
			return STAGE_QUARANTINE;
		}
	for (i = 0; i < e->rcpt_count; i++) {
		for (j = 0; j < i && strcasecmp(e->rcpt[j].target, e->rcpt[i].target) != 0; j++)
			;
		if (j < i)
			stage_report_done(job, i, "fido", "duplicate", NULL);
		else
			netmail_recipient(c, job, i);
	}
	return STAGE_HOLD;
}

/* Every packet was made durable as it was written (outbound_deliver). */
static int fido_flush(void *opaque, struct stage_job **jobs, size_t count)
{
	(void)opaque, (void)jobs, (void)count;
	return 1;
}

static const struct stage_ops fido_ops = {
	.channel_id = CHANNEL_FIDO,
	.needs_message = 1,
	.open = fido_open,
	.work = fido_work,
	.flush = fido_flush,
};

int main(int argc, char **argv)
{
	struct fido_ctx c;
	int code;

	log_set_program("deliver-fido");
	xstage_parse_args(argc, argv, USAGE);
	memset(&c, 0, sizeof c);
	code = stage_run(&fido_ops, &c);
	fido_config_free(&c.fido);
	return code;
}
