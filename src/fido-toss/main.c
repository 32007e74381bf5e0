/* fido-toss: imports the netmail of the FidoNet packets (*.pkt) in the
 * inbound directory of etc/fidonet.cfg: each netmail to a user here
 * becomes a mail in spool/incoming/, as sendmail writes one, and route
 * delivers it (fido-toss(1), spool(5) "T" states).  A bad packet is moved
 * to <inbound>/bad/; a good one is removed once every message in it is
 * durably in the spool. */
#include "toss.h"
#include "config.h"
#include "envelope.h"
#include "file.h"
#include "home.h"
#include "log.h"
#include "resolve.h"
#include "spool.h"
#include "stage.h"
#include "userdb.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define USAGE "fido-toss [-d DIR]"
#define PROGRESS_DIR "spool/data/fido/toss"
/* A netmail packet is small; a bigger file is not one. */
#define PACKET_MAX_BYTES (64UL * 1024 * 1024)
#define PACKETS_PER_RUN_MAX 10000

struct toss {
	struct mail_config cfg;
	struct fido_config fido;
	struct userdb db;
	struct resolve_context resolve;
	struct dupes dupes;
	unsigned long imported, skipped;
};

/* One packet being tossed. */
struct packet {
	const char *name;
	struct buf quoted;             /* name as a log field value (the peer chose it) */
	char path[PATH_MAX], progress[PATH_MAX];
	struct buf data;
	struct ftn_packet_header h;
	unsigned long done;            /* messages finished (progress record) */
	char pending[SPOOL_ID_MAX_BYTES];   /* written to spool/tmp, not renamed yet */
};

/* ---- the progress record: "<done>\n" or "<done> <id>\n" ---- */

static void progress_load(struct packet *p)
{
	struct buf b = BUF_INIT;
	char *sp;

	p->done = 0;
	p->pending[0] = 0;
	if (!file_read_path(p->progress, &b))
		return;
	p->done = strtoul(b.data, &sp, 10);
	if (*sp == ' ') {
		sp++;
		sp[strcspn(sp, "\n")] = 0;
		if (strlen(sp) < sizeof p->pending && !strchr(sp, '/'))
			strcpy(p->pending, sp);
	}
	buf_free(&b);
}

/* Written to a side name, fsynced and renamed over the record. */
static int progress_save(const struct packet *p, unsigned long done, const char *pending)
{
	char side[PATH_MAX + 8], text[96], dir[PATH_MAX];
	int fd, n, ok;

	snprintf(side, sizeof side, "%s.new", p->progress);
	n = snprintf(text, sizeof text, pending ? "%lu %s\n" : "%lu\n", done, pending);
	if ((fd = open(side, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
		return 0;
	ok = file_write_all(fd, text, (size_t)n) && fsync(fd) == 0;
	ok = close(fd) == 0 && ok && rename(side, p->progress) == 0;
	return ok && home_path(dir, sizeof dir, PROGRESS_DIR) && file_fsync_dir(dir);
}

/* ---- one netmail into the spool ---- */

/* T1 written in spool/tmp, T2 the progress names it, T3 renamed into
 * spool/incoming, T4 the progress counts it. */
static void inject(struct toss *t, struct packet *p, const char *sender, const char *recipient, const struct buf *mail,
		   const char *msgid)
{
	struct envelope env;
	struct envelope_rcpt r = { 0 };
	struct spool_file f;
	struct buf head = BUF_INIT;
	char id[SPOOL_ID_MAX_BYTES];

	spool_make_id(id);
	envelope_init(&env);
	snprintf(env.id, sizeof env.id, "%s", id);
	env.arrival = (unsigned long)time(NULL);
	env.sender = sender;
	env.protocol = "FidoNet";
	r.address = recipient;
	if (!envelope_add_rcpt(&env, &r) || !envelope_write(&env, &head))
		die_sys("unable to write the envelope for %s", recipient);
	if (!spool_file_create(&f, SPOOL_INCOMING_DIR, id))
		die_sys("unable to create %s", f.tmp_path);
	if (!spool_file_write(&f, head.data, head.len) || !spool_file_write(&f, mail->data, mail->len)
	    || !spool_file_start(&f) || fsync(f.fd) != 0 || !progress_save(p, p->done, id)
	    || (msgid && *msgid && !dupes_add(&t->dupes, msgid)) || !spool_file_commit_synced(&f)
	    || !file_fsync_dir(f.final_dir) || !progress_save(p, p->done + 1, NULL)) {
		int err = errno;
		spool_file_abort(&f);
		errno = err;
		die_sys("unable to write %s", f.final_path);
	}
	log_info("id=%s event=import packet=%s from=<%s> rcpt=<%s> size=%zu", id, p->quoted.data, sender, recipient, mail->len);
	spool_poke_trigger();
	envelope_free(&env);
	buf_free(&head);
	t->imported++;
}

/* T2 after a crash: the file in spool/tmp still to rename, or already
 * renamed (gone from spool/tmp). */
static void finish_pending(struct packet *p)
{
	char rel[PATH_MAX], from[PATH_MAX], to[PATH_MAX], dir[PATH_MAX];

	snprintf(rel, sizeof rel, SPOOL_TMP_DIR "/%s", p->pending);
	xhome_path(from, sizeof from, rel);
	snprintf(rel, sizeof rel, SPOOL_INCOMING_DIR "/%s", p->pending);
	xhome_path(to, sizeof to, rel);
	xhome_path(dir, sizeof dir, SPOOL_INCOMING_DIR);
	if (rename(from, to) == 0)
		log_info("id=%s event=import packet=%s again=yes", p->pending, p->quoted.data);
	else if (errno != ENOENT)
		die_sys("unable to rename %s", from);
	if (!file_fsync_dir(dir) || !progress_save(p, p->done + 1, NULL))
		die_sys("unable to record the progress in %s", p->progress);
	p->done++;
	p->pending[0] = 0;
}

/* A message not imported: counted, and logged with reason (a fixed
 * word), key=value text (ours) and a quoted value (the peer's). */
static void skip(struct toss *t, struct packet *p, const char *reason, const char *fields, const char *key,
		 const char *value, size_t value_len)
{
	struct buf q = BUF_INIT;

	if (value && (!buf_catf(&q, " %s=", key) || !log_quote(&q, value, value_len)))
		die_nomem();
	if (!progress_save(p, p->done + 1, NULL))
		die_sys("unable to record the progress in %s", p->progress);
	log_info("event=skip packet=%s message=%lu reason=%s%s%s", p->quoted.data, p->done + 1, reason, fields,
		 q.data ? q.data : "");
	buf_free(&q);
	t->skipped++;
}

/* One netmail: skipped (not to us, seen before, no such user) or
 * imported.  Dies on a temporary error: the packet stays for a rerun. */
static void toss_message(struct toss *t, struct packet *p, const struct ftn_message *m)
{
	struct netmail_in in;
	struct resolve_result res;
	struct buf rcpt = BUF_INIT, sender = BUF_INIT, mail = BUF_INIT;
	char fields[FTN_ADDR_MAX_BYTES + 600];

	resolve_result_init(&res);
	if (!netmail_in_read(&in, m, &p->h)
	    || !netmail_address(m->to.data ? m->to.data : "", m->to.len, &in.dest, &rcpt)
	    || !netmail_address(m->from.data ? m->from.data : "", m->from.len, &in.orig, &sender))
		die_nomem();
	if (!fido_is_ours(&t->fido, &in.dest)) {
		strcpy(fields, " dest=");
		ftn_addr_format(fields + 6, sizeof fields - 6, &in.dest);
		skip(t, p, "not-for-us", fields, NULL, NULL, 0);
	} else if (in.msgid.len && dupes_seen(&t->dupes, in.msgid.data)) {
		skip(t, p, "duplicate", "", "msgid", in.msgid.data, in.msgid.len);
	} else if (!resolve_recipient(&t->resolve, rcpt.data, &res)) {
		die_temp("unable to resolve %s: %s", rcpt.data, strerror(errno));
	} else if (res.channel == RESOLVE_REJECT) {
		snprintf(fields, sizeof fields, " rcpt=<%.500s> code=%d", rcpt.data, res.code);
		skip(t, p, "no-such-user", fields, "text", res.reason.data, res.reason.len);
	} else if (!netmail_to_mail(m, &in, rcpt.data, t->cfg.host_name, t->fido.charset, &mail)) {
		die_sys("unable to make the mail of %s message %lu", p->quoted.data, p->done + 1);
	} else {
		inject(t, p, sender.data, rcpt.data, &mail, in.msgid.data);
	}
	p->done++;
	netmail_in_free(&in);
	resolve_result_free(&res);
	buf_free(&rcpt), buf_free(&sender), buf_free(&mail);
}

/* ---- one packet ---- */

static void move_bad(const struct toss *t, struct packet *p, const char *why)
{
	char dir[PATH_MAX + 8], to[PATH_MAX * 2];
	struct buf moved = BUF_INIT;

	snprintf(dir, sizeof dir, "%s/bad", t->fido.inbound);
	if (!stage_mkdir(dir) || (size_t)snprintf(to, sizeof to, "%s/%s", dir, p->name) >= sizeof to
	    || rename(p->path, to) != 0 || !file_fsync_dir(t->fido.inbound))
		die_sys("unable to move %s to %s", p->path, dir);
	unlink(p->progress);
	if (!log_quote(&moved, to, strlen(to)))
		die_nomem();
	log_warn("event=bad-packet packet=%s reason=\"%s\" moved=%s", p->quoted.data, why, moved.data);
	buf_free(&moved);
}

/* NULL when the packet header is for us with the right password. */
static const char *check_header(const struct toss *t, struct packet *p)
{
	const struct fido_uplink *link;
	struct ftn_addr dest = p->h.dest;

	if (!ftn_packet_header_parse((const unsigned char *)p->data.data, p->data.len, &p->h))
		return "bad packet header";
	dest = p->h.dest;
	if (!dest.zone)
		dest.zone = t->fido.addrs[0].zone;   /* a type 2 packet from an old mailer */
	if (!p->h.orig.zone)
		p->h.orig.zone = dest.zone;
	if (!fido_is_ours(&t->fido, &dest))
		return "packet not addressed to us";
	link = fido_uplink_find(&t->fido, &p->h.orig);
	if (link && link->password[0] && strcasecmp(link->password, p->h.password) != 0)
		return "wrong packet password";
	p->h.dest = dest;
	return NULL;
}

/* Every message past the ones the progress record counts. */
static const char *toss_messages(struct toss *t, struct packet *p)
{
	const unsigned char *d = (const unsigned char *)p->data.data;
	size_t pos = FTN_PACKET_HEADER_BYTES, used;
	unsigned long index = 0;
	struct ftn_message m;
	int r;

	for (;; index++) {
		ftn_message_init(&m);
		r = ftn_message_parse(d + pos, p->data.len - pos, &used, &m);
		if (r <= 0) {
			ftn_message_free(&m);
			if (r < 0 && errno == ENOMEM)
				die_nomem();
			return r < 0 ? "truncated or malformed message" : NULL;
		}
		pos += used;
		if (index >= p->done)
			toss_message(t, p, &m);
		ftn_message_free(&m);
	}
}

static int read_claimed(struct packet *p, int *fd)
{
	struct stat st;

	*fd = open(p->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (*fd < 0)
		return 0;
	if (fstat(*fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1) {
		errno = EINVAL;
		return 0;
	}
	if (flock(*fd, LOCK_EX | LOCK_NB) != 0)
		return 0;   /* another fido-toss has it */
	if ((unsigned long long)st.st_size > PACKET_MAX_BYTES) {
		errno = EFBIG;
		return 0;
	}
	snprintf(p->progress + strlen(p->progress), sizeof p->progress - strlen(p->progress), ".%llu",
		 (unsigned long long)st.st_ino);
	return file_read_fd(*fd, &p->data);
}

static void toss_packet(struct toss *t, const char *name)
{
	struct packet p;
	const char *why;
	char rel[PATH_MAX];
	int fd = -1;

	memset(&p, 0, sizeof p);
	p.name = name;
	if (!log_quote(&p.quoted, name, strlen(name)))
		die_nomem();
	snprintf(rel, sizeof rel, PROGRESS_DIR "/%.200s", name);
	if ((size_t)snprintf(p.path, sizeof p.path, "%s/%s", t->fido.inbound, name) >= sizeof p.path
	    || !home_path(p.progress, sizeof p.progress - 24, rel))
		goto out;
	if (!read_claimed(&p, &fd)) {
		if (errno == EFBIG || errno == EINVAL)
			move_bad(t, &p, errno == EFBIG ? "too big for a packet" : "not a regular file");
		else if (errno != EWOULDBLOCK && errno != ENOENT)
			log_warn("unable to read %s: %s", p.quoted.data, strerror(errno));
		goto out;
	}
	if ((why = check_header(t, &p))) {
		move_bad(t, &p, why);
		goto out;
	}
	progress_load(&p);
	if (p.pending[0])
		finish_pending(&p);
	if ((why = toss_messages(t, &p))) {
		move_bad(t, &p, why);
		goto out;
	}
	if (unlink(p.path) != 0 || !file_fsync_dir(t->fido.inbound))
		die_sys("unable to remove %s", p.path);
	unlink(p.progress);
	log_info("event=tossed packet=%s messages=%lu", p.quoted.data, p.done);
out:
	if (fd >= 0)
		close(fd);
	buf_free(&p.data);
	buf_free(&p.quoted);
}

/* ---- the inbound ---- */

static int is_packet_name(const char *name)
{
	size_t n = strlen(name);

	return n > 4 && name[0] != '.' && strcasecmp(name + n - 4, ".pkt") == 0;
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The packets, in name order (mailers name them by time). */
static char **list_packets(const char *dir, size_t *count)
{
	DIR *dp = opendir(dir);
	struct dirent *d;
	char **names = NULL, **grown;

	*count = 0;
	if (!dp) {
		if (errno == ENOENT)
			return NULL;
		die_sys("unable to open %s", dir);
	}
	while ((d = readdir(dp)) && *count < PACKETS_PER_RUN_MAX) {
		if (!is_packet_name(d->d_name))
			continue;
		if (!(grown = realloc(names, (*count + 1) * sizeof *names)) || !(grown[*count] = strdup(d->d_name)))
			die_nomem();
		names = grown;
		(*count)++;
	}
	closedir(dp);
	if (*count)
		qsort(names, *count, sizeof *names, compare_names);
	return names;
}

/* Removes the progress records of packets that are gone (or are another
 * file now): a crash between removing a packet and its record leaves one. */
static void clean_progress(const struct toss *t)
{
	char dir[PATH_MAX], path[PATH_MAX * 2], name[256], *dot;
	struct dirent *d;
	struct stat st;
	DIR *dp;

	xhome_path(dir, sizeof dir, PROGRESS_DIR);
	if (!(dp = opendir(dir)))
		return;
	while ((d = readdir(dp))) {
		if (d->d_name[0] == '.' || strlen(d->d_name) >= sizeof name)
			continue;
		strcpy(name, d->d_name);
		if (!(dot = strrchr(name, '.')) || strcmp(dot, ".new") == 0)
			goto remove;   /* a side file of a killed progress_save */
		*dot = 0;
		snprintf(path, sizeof path, "%s/%s", t->fido.inbound, name);
		if (stat(path, &st) == 0 && strtoull(dot + 1, NULL, 10) == (unsigned long long)st.st_ino)
			continue;
remove:
		snprintf(path, sizeof path, "%s/%s", dir, d->d_name);
		unlink(path);
	}
	closedir(dp);
}

static void toss_open(struct toss *t)
{
	char text[PATH_MAX + 160], dir[PATH_MAX];

	mail_config_defaults(&t->cfg);
	xmail_config_load(&t->cfg);
	if (!fido_config_load(&t->fido, text, sizeof text))
		die_temp("%s", text);
	if (!t->fido.addr_count)
		die_temp("%s names no address of ours: FidoNet is off", FIDO_FILE);
	xhome_path(dir, sizeof dir, "spool/data/fido");
	if (!stage_mkdir(dir))
		die_sys("unable to create %s", dir);
	xhome_path(dir, sizeof dir, PROGRESS_DIR);
	if (!stage_mkdir(dir))
		die_sys("unable to create %s", dir);
	if (!userdb_open(&t->db, 0))
		die_sys("unable to open the user database");
	if (!resolve_context_load(&t->resolve, &t->cfg, &t->db))
		die_sys("unable to load the aliases");
	t->resolve.sender = "";
	if (!dupes_open(&t->dupes))
		die_sys("unable to read %s", TOSS_DUPES_FILE);
	clean_progress(t);
}

int main(int argc, char **argv)
{
	static struct toss t;
	char **names;
	size_t count, i;

	log_set_program("fido-toss");
	xstage_parse_args(argc, argv, USAGE);
	toss_open(&t);
	names = list_packets(t.fido.inbound, &count);
	for (i = 0; i < count; i++) {
		toss_packet(&t, names[i]);
		free(names[i]);
	}
	free(names);
	dupes_close(&t.dupes);
	resolve_context_free(&t.resolve);
	userdb_close(&t.db);
	fido_config_free(&t.fido);
	return 0;
}
