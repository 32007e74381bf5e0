/* outbound: one packet into the BinkleyTerm-style outbound (FTS-5005)
 * under the node's .bsy lock, so that a SIGKILL at any point leaves no
 * half packet for the mailer and a rerun writes the netmail once.
 * The states (spool(5), F1-F5):
 *   F1 the packet is complete and fsynced in spool/tmp/fido-<key>;
 *   F2 the .bsy lock is ours;
 *   F3 the node's intent is durable: spool/data/fido/node-<hash>.at
 *      (hash: of the .?ut path) names the key, and the offset of the
 *      terminator its packed message replaces, or -1 when the packet
 *      becomes the .?ut by rename;
 *   F4 the .?ut is renamed into place, or the bytes are written and
 *      fsynced (then the tmp packet is removed);
 *   F5 done: the intent renamed to <key>.done (not fsynced: an intent
 *      whose packet is gone from spool/tmp means the same), then the lock
 *      removed.
 * The intent is the node's, not the recipient's: whoever takes the lock
 * next finishes it first, whichever job it belongs to, so a half append
 * never stays in front of another job's append.  Finishing redoes F4 from
 * the same packet: a rename that happened is seen (the tmp file is gone),
 * and the same bytes at the same offset give the same file.  While an
 * intent exists the lock is held or stale, so no mailer took the file. */
#include "netmail.h"
#include "ftnpkt.h"
#include "file.h"
#include "home.h"
#include "log.h"
#include "spool.h"
#include "stage.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int marker_path(char *out, size_t size, const char *key, const char *suffix)
{
	char rel[512];

	if ((size_t)snprintf(rel, sizeof rel, OUTBOUND_MARKER_DIR "/%s.%s", key, suffix) >= sizeof rel) {
		errno = ENAMETOOLONG;
		return 0;
	}
	return home_path(out, size, rel);
}

int outbound_was_written(const char *key)
{
	char path[PATH_MAX];

	return marker_path(path, sizeof path, key, "done") && access(path, F_OK) == 0;
}

int outbound_prepare(struct outbound_write *w)
{
	uint32_t h = 2166136261u;
	const unsigned char *p;
	char rel[64];

	w->again = 0;
	if ((size_t)snprintf(w->final_path, sizeof w->final_path, "%s.%s", w->base, w->extension)
	    >= sizeof w->final_path)
		return errno = ENAMETOOLONG, 0;
	for (p = (const unsigned char *)w->final_path; *p; p++)
		h = (h ^ *p) * 16777619u;
	snprintf(rel, sizeof rel, OUTBOUND_MARKER_DIR "/node-%08lx.at", (unsigned long)h);
	return home_path(w->intent_path, sizeof w->intent_path, rel);
}

/* The node's intent: its key, offset (-1: new) and path.  1 read, 0 none,
 * -1 errno. */
static int read_intent(const char *intent_path, char *key, size_t key_size, long long *offset, char *path,
		       size_t size)
{
	struct buf b = BUF_INIT;
	char *sp1, *sp2;
	int ok = 0;

	if (!file_read_path(intent_path, &b)) {
		buf_free(&b);
		return errno == ENOENT ? 0 : -1;
	}
	if ((sp1 = strchr(b.data, ' ')) && (sp2 = strchr(sp1 + 1, ' ')) && (size_t)(sp1 - b.data) < key_size) {
		*sp1 = *sp2 = 0;
		strcpy(key, b.data);
		*offset = strtoll(sp1 + 1, NULL, 10);
		ok = *key && *offset >= -1 && (size_t)snprintf(path, size, "%s", sp2 + 1) < size;
	}
	buf_free(&b);
	if (!ok)
		errno = EBADMSG;
	return ok ? 1 : -1;
}

static int tmp_packet_path(char *out, size_t size, const char *key)
{
	char rel[PATH_MAX];

	snprintf(rel, sizeof rel, SPOOL_TMP_DIR "/fido-%s", key);
	return home_path(out, size, rel);
}

int outbound_pending(const struct outbound_write *w, struct buf *packet)
{
	char key[256], path[PATH_MAX];
	long long offset;
	int r = read_intent(w->intent_path, key, sizeof key, &offset, path, sizeof path);

	if (r <= 0 || strcmp(key, w->key) != 0)
		return r < 0 ? -1 : 0;
	buf_truncate(packet, 0);
	if (!file_read_path(w->tmp_path, packet))
		/* Written already (F4 done): nothing to load. */
		return errno == ENOENT ? (buf_truncate(packet, 0), 1) : -1;
	return 1;
}

/* mkdir -p of an absolute directory. */
static int make_dirs(const char *dir)
{
	char path[PATH_MAX], *slash;

	if ((size_t)snprintf(path, sizeof path, "%s", dir) >= sizeof path)
		return errno = ENAMETOOLONG, 0;
	for (slash = strchr(path + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = 0;
		if (!stage_mkdir(path))
			return 0;
		*slash = '/';
	}
	return stage_mkdir(path);
}

/* 1 when pid runs here.  A zombie does not: its lock is as dead as its
 * program, and under a PID 1 that reaps nothing it would stay forever. */
static int pid_is_running(long pid)
{
	char path[64], text[256], *paren;
	FILE *f;
	int zombie = 0;

	if (kill((pid_t)pid, 0) != 0 && errno == ESRCH)
		return 0;
	snprintf(path, sizeof path, "/proc/%ld/stat", pid);
	if ((f = fopen(path, "re"))) {
		if (fgets(text, sizeof text, f) && (paren = strrchr(text, ')')))
			zombie = paren[1] == ' ' && paren[2] == 'Z';
		fclose(f);
	}
	return !zombie;
}

/* A .bsy whose writer is gone: too old, or its PID (the first word, as we
 * and most mailers write it) is not running here. */
static int bsy_is_stale(const char *path)
{
	struct stat st;
	char text[32];
	ssize_t r;
	long pid;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return errno == ENOENT;
	r = fstat(fd, &st) == 0 ? read(fd, text, sizeof text - 1) : -1;
	close(fd);
	if (r < 0)
		return 0;
	if (time(NULL) - st.st_mtime > OUTBOUND_BSY_STALE_SEC)
		return 1;
	text[r] = 0;
	pid = strtol(text, NULL, 10);
	return pid > 0 && !pid_is_running(pid);
}

/* A side file holding our PID, linked to <bsy> (fails if it exists). */
static int bsy_link(const char *side, const char *bsy)
{
	char text[64];
	int fd, n, ok;

	unlink(side);
	if ((fd = open(side, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) < 0)
		return 0;
	n = snprintf(text, sizeof text, "%ld deliver-fido\n", (long)getpid());
	ok = file_write_all(fd, text, (size_t)n);
	ok = close(fd) == 0 && ok && link(side, bsy) == 0;
	n = errno;
	unlink(side);
	errno = n;
	return ok;
}

/* The lock appears with its PID in it (written first, then linked), so a
 * kill between create and write leaves no empty .bsy that would look
 * busy for hours.  The side file is in spool/tmp/, or beside the .bsy
 * when the outbound is on another filesystem. */
static int bsy_create(const char *bsy)
{
	char side[PATH_MAX], rel[64];

	snprintf(rel, sizeof rel, SPOOL_TMP_DIR "/fido-bsy.%ld", (long)getpid());
	if (home_path(side, sizeof side, rel) && bsy_link(side, bsy))
		return 1;
	if (errno != EXDEV)
		return 0;
	if ((size_t)snprintf(side, sizeof side, "%s.%ld.tmp", bsy, (long)getpid()) >= sizeof side)
		return errno = ENAMETOOLONG, 0;
	return bsy_link(side, bsy);
}

static int bsy_take(const char *bsy)
{
	int attempt;

	for (attempt = 0; attempt < 2; attempt++) {
		if (bsy_create(bsy))
			return 1;
		if (errno != EEXIST)
			return 0;
		if (!attempt && bsy_is_stale(bsy)) {
			log_notice("event=stale-bsy path=%s", bsy);
			unlink(bsy);
		}
	}
	errno = EAGAIN;
	return 0;
}

/* Written to a side name, fsynced, then renamed: a kill part way leaves
 * no intent, never a partial one. */
static int write_intent(const struct outbound_write *w, long long offset)
{
	char side[PATH_MAX + 8], dir[PATH_MAX], text[PATH_MAX + 300];
	int fd, ok, n;

	n = snprintf(text, sizeof text, "%s %lld %s", w->key, offset, w->final_path);
	if (n < 0 || (size_t)n >= sizeof text || !home_path(dir, sizeof dir, OUTBOUND_MARKER_DIR))
		return errno = ENAMETOOLONG, 0;
	snprintf(side, sizeof side, "%s.new", w->intent_path);
	if ((fd = open(side, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
		return 0;
	ok = file_write_all(fd, text, (size_t)n) && fsync(fd) == 0;
	ok = close(fd) == 0 && ok && rename(side, w->intent_path) == 0;
	return ok && file_fsync_dir(dir);
}

/* F4 for an append: the packed message and the terminator at offset. */
static int append_at(const char *path, long long offset, const struct buf *packet)
{
	const char *m = packet->data + FTN_PACKET_HEADER_BYTES;
	size_t n = packet->len - FTN_PACKET_HEADER_BYTES;
	int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW), ok;

	if (fd < 0)
		return 0;
	ok = lseek(fd, (off_t)offset, SEEK_SET) >= 0 && file_write_all(fd, m, n)
	     && ftruncate(fd, (off_t)offset + (off_t)n) == 0 && fsync(fd) == 0;
	return close(fd) == 0 && ok;
}

/* The offset of the terminator of an existing .?ut, or -1 when there is
 * none, or -2 when it is damaged (EBADMSG) or unreadable. */
static long long terminator_offset(const char *path)
{
	unsigned char tail[2];
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	ssize_t r;

	if (fd < 0)
		return errno == ENOENT ? -1 : -2;
	r = fstat(fd, &st) == 0 && st.st_size >= FTN_PACKET_HEADER_BYTES + 2 ? pread(fd, tail, 2, st.st_size - 2) : -1;
	close(fd);
	if (r != 2 || tail[0] || tail[1])
		return errno = EBADMSG, -2;
	return (long long)st.st_size - 2;
}

static int rename_into(const char *from, const char *to, const char *dir)
{
	return rename(from, to) == 0 && file_fsync_dir(dir);
}

/* F4 as the intent says, with the packet from spool/tmp (empty: it went
 * there already). */
static int do_write(const char *tmp, const char *path, long long offset, const struct buf *packet, const char *dir)
{
	struct stat st;

	if (!packet->len)
		return file_fsync_dir(dir);   /* renamed, or appended and then removed */
	if (offset < 0)
		return rename_into(tmp, path, dir);
	if (stat(path, &st) != 0 || st.st_size < offset) {
		/* The file went (a stale lock broken, the file sent): write it
		 * anew rather than lose it; a duplicate has the same MSGID. */
		log_warn("event=outbound-changed path=%s: writing the netmail again", path);
		return rename_into(tmp, path, dir);
	}
	return append_at(path, offset, packet) && (unlink(tmp), 1);
}

static int mark_done(const char *intent_path, const char *key)
{
	char done[PATH_MAX];

	return marker_path(done, sizeof done, key, "done") && rename(intent_path, done) == 0;
}

/* Under the lock: an intent left by a killed run, of any job, done first.
 * 2 when it was this recipient's, 1 done or none, 0 errno. */
static int finish_intent(struct outbound_write *w)
{
	char key[256], path[PATH_MAX], tmp[PATH_MAX];
	struct buf packet = BUF_INIT;
	long long offset;
	int r = read_intent(w->intent_path, key, sizeof key, &offset, path, sizeof path);

	if (r <= 0)
		return r == 0;
	if (!tmp_packet_path(tmp, sizeof tmp, key) || (!file_read_path(tmp, &packet) && errno != ENOENT)) {
		buf_free(&packet);
		return 0;
	}
	if (packet.len && packet.len < FTN_PACKET_HEADER_BYTES + 2)
		errno = EBADMSG, r = 0;
	else
		r = do_write(tmp, path, offset, &packet, w->dir) && mark_done(w->intent_path, key);
	buf_free(&packet);
	if (r)
		log_notice("event=intent-finished key=%s path=%s", key, path);
	return r ? (strcmp(key, w->key) == 0 ? 2 : 1) : 0;
}

/* F3 to F5 for a packet no run has started to place. */
static int first_write(struct outbound_write *w, const struct buf *packet)
{
	long long offset = terminator_offset(w->final_path);

	if (offset == -2)
		return 0;
	return write_intent(w, offset) && do_write(w->tmp_path, w->final_path, offset, packet, w->dir)
	       && mark_done(w->intent_path, w->key);
}

int outbound_deliver(struct outbound_write *w, const struct buf *packet)
{
	char bsy[PATH_MAX];
	int ok, err, r;

	if ((size_t)snprintf(bsy, sizeof bsy, "%s.bsy", w->base) >= sizeof bsy)
		return errno = ENAMETOOLONG, 0;
	if (!make_dirs(w->dir) || !bsy_take(bsy))
		return 0;
	r = finish_intent(w);
	if (r == 2 || (r == 1 && outbound_was_written(w->key)))
		ok = w->again = 1;
	else if (r == 1 && packet->len < FTN_PACKET_HEADER_BYTES + 2)
		ok = 0, errno = EINVAL;
	else
		ok = r == 1 && first_write(w, packet);
	err = errno;
	unlink(bsy);
	errno = err;
	return ok;
}

/* A marker is "<job>.<hash>.done": the job's name is all before the
 * second-to-last dot. */
static int marker_job_exists(const char *name, char *job, size_t size)
{
	const char *dot = strrchr(name, '.');
	const char *hash = dot;
	char path[PATH_MAX], rel[PATH_MAX];

	while (hash && hash > name && *--hash != '.')
		;
	if (!dot || !hash || hash == name || (size_t)(hash - name) >= size)
		return 1;
	memcpy(job, name, (size_t)(hash - name));
	job[hash - name] = 0;
	snprintf(rel, sizeof rel, SPOOL_QUEUE_DIR "/fido/%s", job);
	return !home_path(path, sizeof path, rel) || access(path, F_OK) == 0;
}

void outbound_clean_markers(void)
{
	char dir[PATH_MAX], path[PATH_MAX], job[256];
	struct dirent *d;
	size_t n;
	DIR *dp;

	if (!home_path(dir, sizeof dir, OUTBOUND_MARKER_DIR) || !(dp = opendir(dir)))
		return;
	while ((d = readdir(dp))) {
		n = strlen(d->d_name);
		if (n < 6 || strcmp(d->d_name + n - 5, ".done") != 0 || marker_job_exists(d->d_name, job, sizeof job))
			continue;
		if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, d->d_name) < sizeof path)
			unlink(path);
	}
	closedir(dp);
}
