/* outbound: one packet into the BinkleyTerm-style outbound (FTS-5005)
 * under the node's .bsy lock, so that a SIGKILL at any point leaves no
 * half packet for the mailer and a rerun writes the netmail once.
 * The states (spool(5), F1-F5):
 *   F1 the packet is complete and fsynced in spool/tmp/;
 *   F2 the .bsy lock is ours;
 *   F3 the intent is durable: spool/data/fido/<key>.at says "new <path>"
 *      (the packet becomes the .?ut by rename) or "append <path> <offset>"
 *      (its packed message replaces the .?ut's two-null terminator at
 *      that offset);
 *   F4 the .?ut is renamed into place, or the bytes are written and
 *      fsynced;
 *   F5 done: the intent renamed to <key>.done (not fsynced: an intent
 *      whose packet is gone from spool/tmp means the same), then the lock
 *      removed.
 * A rerun that finds <key>.done reports the netmail as written; one that
 * finds <key>.at takes the lock and redoes F4 from the same packet: a
 * rename that has happened is seen (the tmp file is gone), and writing the
 * same bytes at the same offset again gives the same file.  While the
 * intent exists the lock is ours or stale, so no mailer took the file in
 * between. */
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

int outbound_pending(const char *key, const char *tmp_path, struct buf *packet)
{
	char path[PATH_MAX];

	if (!marker_path(path, sizeof path, key, "at"))
		return -1;
	if (access(path, F_OK) != 0)
		return errno == ENOENT ? 0 : -1;
	if (!file_read_path(tmp_path, packet))
		/* Renamed into place already (F4 "new" done): nothing to load. */
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

static int write_intent(const char *key, const char *text)
{
	char path[PATH_MAX], dir[PATH_MAX];
	int fd, ok;

	if (!marker_path(path, sizeof path, key, "at") || !home_path(dir, sizeof dir, OUTBOUND_MARKER_DIR))
		return 0;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return 0;
	ok = file_write_all(fd, text, strlen(text)) && fsync(fd) == 0;
	ok = close(fd) == 0 && ok;
	return ok && file_fsync_dir(dir);
}

/* "new <path>" or "append <path> <offset>" back from the intent. */
static int read_intent(const char *key, char *path, size_t size, long long *offset)
{
	char marker[PATH_MAX];
	struct buf b = BUF_INIT;
	char *sp;
	int ok = 0;

	if (!marker_path(marker, sizeof marker, key, "at") || !file_read_path(marker, &b))
		return 0;
	*offset = -1;
	if (b.len > 4 && strncmp(b.data, "new ", 4) == 0) {
		ok = (size_t)snprintf(path, size, "%s", b.data + 4) < size;
	} else if (b.len > 7 && strncmp(b.data, "append ", 7) == 0 && (sp = strrchr(b.data, ' ')) > b.data + 7) {
		*sp = 0;
		*offset = strtoll(sp + 1, NULL, 10);
		ok = *offset >= 0 && (size_t)snprintf(path, size, "%s", b.data + 7) < size;
	}
	buf_free(&b);
	if (!ok)
		errno = EBADMSG;
	return ok;
}

/* F4 for "append": the packed message and the terminator at offset. */
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
 * none (ENOENT), or -2 when it is damaged (EBADMSG). */
static long long terminator_offset(const char *path)
{
	unsigned char tail[2];
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	ssize_t r;

	if (fd < 0)
		return errno == ENOENT ? -1 : -2;
	r = fstat(fd, &st) == 0 && st.st_size >= FTN_PACKET_HEADER_BYTES + 2
		    ? pread(fd, tail, 2, st.st_size - 2)
		    : -1;
	close(fd);
	if (r != 2 || tail[0] || tail[1])
		return errno = EBADMSG, -2;
	return (long long)st.st_size - 2;
}

/* F3 and F4 from scratch. */
static int first_write(struct outbound_write *w, const struct buf *packet)
{
	char intent[PATH_MAX + 64];
	long long offset = terminator_offset(w->final_path);

	if (offset == -2)
		return 0;
	if (offset < 0) {
		snprintf(intent, sizeof intent, "new %s", w->final_path);
		return write_intent(w->key, intent) && rename(w->tmp_path, w->final_path) == 0
		       && file_fsync_dir(w->dir);
	}
	snprintf(intent, sizeof intent, "append %s %lld", w->final_path, offset);
	return write_intent(w->key, intent) && append_at(w->final_path, offset, packet) && (unlink(w->tmp_path), 1);
}

/* F4 again after a crash past F3. */
static int redo_write(struct outbound_write *w, const struct buf *packet)
{
	long long offset;
	struct stat st;

	if (!read_intent(w->key, w->final_path, sizeof w->final_path, &offset))
		return 0;
	w->again = 1;
	if (offset < 0) {
		if (!packet->len)
			return file_fsync_dir(w->dir);   /* renamed already */
		return rename(w->tmp_path, w->final_path) == 0 && file_fsync_dir(w->dir);
	}
	if (!packet->len)
		return 1;   /* the packet is removed only after a complete append */
	if (stat(w->final_path, &st) != 0 || st.st_size < offset) {
		/* The file went (stale lock broken, file sent): write it anew
		 * rather than lose it; a duplicate has the same MSGID. */
		log_warn("event=outbound-changed path=%s: writing the netmail again", w->final_path);
		return rename(w->tmp_path, w->final_path) == 0 && file_fsync_dir(w->dir);
	}
	return append_at(w->final_path, offset, packet) && (unlink(w->tmp_path), 1);
}

/* No directory fsync: a rerun that finds the intent instead (the rename
 * lost in a crash) sees the packet gone from spool/tmp and only reports
 * it; nothing in the outbound is touched again. */
static int mark_done(const char *key)
{
	char at[PATH_MAX], done[PATH_MAX];

	return marker_path(at, sizeof at, key, "at") && marker_path(done, sizeof done, key, "done")
	       && rename(at, done) == 0;
}

int outbound_deliver(struct outbound_write *w, const struct buf *packet)
{
	char bsy[PATH_MAX], at[PATH_MAX];
	int ok, err, pending;

	w->again = 0;
	if ((size_t)snprintf(bsy, sizeof bsy, "%s.bsy", w->base) >= sizeof bsy
	    || (size_t)snprintf(w->final_path, sizeof w->final_path, "%s.%s", w->base, w->extension)
		       >= sizeof w->final_path)
		return errno = ENAMETOOLONG, 0;
	if (!make_dirs(w->dir) || !marker_path(at, sizeof at, w->key, "at") || !bsy_take(bsy))
		return 0;
	pending = access(at, F_OK) == 0;
	ok = pending ? redo_write(w, packet) : first_write(w, packet);
	ok = ok && mark_done(w->key);
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
