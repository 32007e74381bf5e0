#include "spool.h"
#include "body.h"
#include "channel.h"
#include "schedule.h"
#include "home.h"
#include "log.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define SPOOL_WRITE_SLICE_BYTES 65536

void spool_make_id(char id[SPOOL_ID_MAX_BYTES])
{
	static unsigned counter;
	struct timeval tv;

	gettimeofday(&tv, NULL);
	snprintf(id, SPOOL_ID_MAX_BYTES, "%lx%05lx.%lx.%x", (unsigned long)tv.tv_sec,
		 (unsigned long)tv.tv_usec, (unsigned long)getpid(), counter++);
}

/* One pass over the trash per process; entries another process takes
 * first are skipped (rename fails with ENOENT).  The directory is read a
 * few dozen entries at a time with getdents64: readdir's 32 KiB batches cost
 * ~270 us on a busy trash, and one free entry is all a receiver needs. */
#define TRASH_READ_BYTES 2048
#define TRASH_FOREIGN_MAX 16     /* others' files passed over per reuse (shared home) */
static struct {
	int fd;                 /* -1 until opened */
	int exhausted;
	char entries[TRASH_READ_BYTES];
	size_t pos, len;
} trash_reader = { -1, 0, { 0 }, 0, 0 };

static const char *trash_next_name(void)
{
	struct dirent64 *d;
	ssize_t n;

	for (;;) {
		if (trash_reader.exhausted)
			return NULL;
		if (trash_reader.fd < 0) {
			char dir[PATH_MAX];
			if (!home_path(dir, sizeof dir, SPOOL_TRASH_DIR)
			    || (trash_reader.fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
				trash_reader.exhausted = 1;
				return NULL;
			}
		}
		if (trash_reader.pos >= trash_reader.len) {
			n = getdents64(trash_reader.fd, trash_reader.entries, sizeof trash_reader.entries);
			if (n <= 0) {
				trash_reader.exhausted = 1;
				return NULL;
			}
			trash_reader.pos = 0;
			trash_reader.len = (size_t)n;
		}
		d = (struct dirent64 *)(void *)(trash_reader.entries + trash_reader.pos);
		trash_reader.pos += d->d_reclen;
		if (d->d_name[0] != '.')
			return d->d_name;
	}
}

/* Opens a just-renamed trash file for writing; -1 if it is not a plain,
 * singly linked file (it is then removed: nothing of ours looks like that). */
static int trash_take(const char *path, long long *old_size)
{
	struct stat st;
	int fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0 && errno == EACCES && chmod(path, home_file_mode()) == 0)
		fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink == 1
	    && ((st.st_mode & 07777) == home_file_mode() || fchmod(fd, home_file_mode()) == 0)) {
		*old_size = (long long)st.st_size;
		return fd;
	}
	if (fd >= 0)
		close(fd);
	unlink(path);
	return -1;
}

int spool_reuse_trash(const char *path, long long *old_size)
{
	const char *name;
	struct stat st;
	unsigned foreign = 0;
	int fd;

	while ((name = trash_next_name())) {
		/* In a shared home the trash holds the files of several uids
		 * (smtpd's messages, the stages' jobs); each reuses only its
		 * own, as only the owner may reset a file's mode.  Bounded:
		 * a trash of others' files is not searched for ever. */
		if (home_shared()
		    && (fstatat(trash_reader.fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 || st.st_uid != geteuid())) {
			if (++foreign >= TRASH_FOREIGN_MAX)
				break;
			continue;
		}
		if (renameat2(trash_reader.fd, name, AT_FDCWD, path, RENAME_NOREPLACE) != 0) {
			if (errno == ENOENT)
				continue;
			return -1;
		}
		fd = trash_take(path, old_size);
		if (fd >= 0)
			return fd;
	}
	errno = ENOENT;
	return -1;
}

int spool_file_create(struct spool_file *f, const char *dest_dir, const char *name)
{
	return spool_file_create_named(f, dest_dir, name, name);
}

int spool_file_create_named(struct spool_file *f, const char *dest_dir, const char *name, const char *tmp_name)
{
	char rel[PATH_MAX];

	memset(f, 0, sizeof *f);
	f->fd = -1;
	f->reused_size = -1;
	if ((size_t)snprintf(rel, sizeof rel, "%s/%s", SPOOL_TMP_DIR, tmp_name) >= sizeof rel
	    || !home_path(f->tmp_path, sizeof f->tmp_path, rel)
	    || !home_path(f->final_dir, sizeof f->final_dir, dest_dir)
	    || (size_t)snprintf(f->final_path, sizeof f->final_path, "%s/%s", f->final_dir, name)
		   >= sizeof f->final_path) {
		errno = ENAMETOOLONG;
		return 0;
	}
	f->fd = spool_reuse_trash(f->tmp_path, &f->reused_size);
	if (f->fd >= 0)
		return 1;
	if (errno == EEXIST)
		return 0;
	f->reused_size = -1;
	f->fd = open(f->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, home_file_mode());
	return f->fd >= 0;
}

static int spool_file_drain(struct spool_file *f)
{
	if (!file_write_all(f->fd, f->pending.data, f->pending.len))
		return 0;
	buf_truncate(&f->pending, 0);
	return 1;
}

int spool_file_write(struct spool_file *f, const void *data, size_t len)
{
	if (f->fd < 0) {
		errno = EBADF;
		return 0;
	}
	f->size += len;
	if (!buf_cat(&f->pending, data, len))
		return 0;
	if (f->pending.len >= SPOOL_WRITE_SLICE_BYTES)
		return spool_file_drain(f);
	return 1;
}

/* A failed directory fsync takes the file back out: the caller is about to
 * say "not accepted" (451, exit 75), and a file left in place would be
 * delivered as well as the client's retry. */
int spool_file_commit(struct spool_file *f)
{
	int saved;

	if (!spool_file_commit_nodirsync(f))
		return 0;
	if (file_fsync_dir(f->final_dir))
		return 1;
	saved = errno;
	unlink(f->final_path);
	errno = saved;
	return 0;
}

void spool_file_abort(struct spool_file *f)
{
	int saved = errno;

	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	if (f->tmp_path[0])
		unlink(f->tmp_path);
	buf_free(&f->pending);
	errno = saved;
}

/* Trash names stay unique: the base name plus a fresh id. */
int spool_retire(const char *path)
{
	char trash[PATH_MAX], id[SPOOL_ID_MAX_BYTES], rel[PATH_MAX];
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	spool_make_id(id);
	if ((size_t)snprintf(rel, sizeof rel, "%s/%.100s-%s", SPOOL_TRASH_DIR, base, id) >= sizeof rel
	    || !home_path(trash, sizeof trash, rel))
		return 0;
	if (rename(path, trash) == 0)
		return 1;
	/* Trash missing or on another filesystem: fall back to unlink. */
	return unlink(path) == 0;
}

void spool_quarantine(const char *path, const char *why)
{
	char bad[PATH_MAX], rel[PATH_MAX];
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	if ((size_t)snprintf(rel, sizeof rel, "%s/%s", SPOOL_BAD_DIR, base) < sizeof rel
	    && home_path(bad, sizeof bad, rel) && rename(path, bad) == 0) {
		log_error("quarantined %s into %s: %s", path, bad, why);
		return;
	}
	log_error("unable to quarantine %s (%s): %s", path, strerror(errno), why);
}

void spool_poke_trigger(void)
{
	char path[PATH_MAX];
	int fd;

	if (!home_path(path, sizeof path, SPOOL_TRIGGER_PATH))
		return;
	fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return; /* nobody listening: cron or the next rescan picks it up */
	(void)!write(fd, "", 1);
	close(fd);
}

int spool_free_kbytes(unsigned long long *kbytes)
{
	char path[PATH_MAX];
	struct statvfs sv;

	if (!home_path(path, sizeof path, "spool") || statvfs(path, &sv) != 0)
		return 0;
	*kbytes = (unsigned long long)sv.f_bavail * sv.f_frsize / 1024;
	return 1;
}

int spool_make_skeleton(void)
{
	static const char *dirs[] = { "spool", SPOOL_TMP_DIR, SPOOL_INCOMING_DIR, SPOOL_QUEUE_DIR,
		SPOOL_DROP_DIR, SPOOL_DROP_BAD_DIR,
		SPOOL_BODY_DIR, SPOOL_DEFER_DIR, SPOOL_TRASH_DIR, SPOOL_BAD_DIR, SPOOL_MAILBOX_DIR,
		SPOOL_DATA_DIR, SPOOL_DATA_DIR "/user", SPOOL_TELEGRAM_DIR, SPOOL_PRESENCE_DIR };
	char path[PATH_MAX], rel[PATH_MAX];
	size_t i;
	int id;

	for (i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
		if (!home_path(path, sizeof path, dirs[i]))
			return 0;
		if (mkdir(path, 0700) != 0 && errno != EEXIST)
			return 0;
	}
	for (id = CHANNEL_FIRST; id < CHANNEL_END; id++) {
		if ((size_t)snprintf(rel, sizeof rel, "%s/%s", SPOOL_QUEUE_DIR, channel_name(id)) >= sizeof rel
		    || !home_path(path, sizeof path, rel))
			return 0;
		if (mkdir(path, 0700) != 0 && errno != EEXIST)
			return 0;
	}
	if (!home_path(path, sizeof path, SPOOL_TRIGGER_PATH))
		return 0;
	if (mkfifo(path, home_file_mode()) != 0 && errno != EEXIST)
		return 0;
	return 1;
}

/* The commit's steps after the data is written: fsync unless the caller
 * synced the filesystem already, close (checked), rename into place. */
static int spool_file_finish(struct spool_file *f, int fsync_it)
{
	int fd = f->fd;

	if (fd < 0) {
		errno = EBADF;
		return 0;
	}
	if (!spool_file_drain(f))
		goto fail;
	/* A recycled file may be longer than what we wrote: cut its old tail. */
	if (f->reused_size > (long long)f->size && ftruncate(fd, (off_t)f->size) != 0)
		goto fail;
	if (fsync_it && fsync(fd) != 0)
		goto fail;
	f->fd = -1;
	if (close(fd) != 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(f->tmp_path, f->final_path) != 0)
		goto fail;
	buf_free(&f->pending);
	return 1;
fail:
	f->fd = fd;
	spool_file_abort(f);
	return 0;
}

/* spool_file_commit without the directory fsync. */
int spool_file_commit_nodirsync(struct spool_file *f) { return spool_file_finish(f, 1); }

int spool_file_commit_synced(struct spool_file *f) { return spool_file_finish(f, 0); }

/* spool_reuse_trash reads the trash once per process; a stage that has
 * just retired files calls this so its next writes recycle them. */
void spool_trash_rescan(void)
{
	trash_reader.exhausted = 0;
	trash_reader.pos = trash_reader.len = 0;
	if (trash_reader.fd >= 0)
		lseek(trash_reader.fd, 0, SEEK_SET);
}

/* Writes out what is buffered and starts the writeback without waiting for
 * it, so a stage that writes many files and then commits them all pays
 * the data writes in parallel instead of one fsync after the other. */
int spool_file_start(struct spool_file *f)
{
	if (f->fd < 0) {
		errno = EBADF;
		return 0;
	}
	if (!spool_file_drain(f))
		return 0;
	if (f->reused_size > (long long)f->size) {
		if (ftruncate(f->fd, (off_t)f->size) != 0)
			return 0;
		f->reused_size = (long long)f->size;
	}
	/* Only a hint: the commit's fsync is what makes the file durable. */
	(void)sync_file_range(f->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
	return 1;
}

/* Empties the trash but for a reserve for spool_reuse_trash: of the
 * entries older than min_age_seconds, up to keep regular, singly linked
 * files of at most keep_max_bytes and younger than keep_max_age_seconds
 * stay (every spool write recycles one instead of creating a file, which
 * after many deletions costs far more here); the rest are removed.
 * Returns how many were removed. */
unsigned long spool_trim_trash(int min_age_seconds, unsigned long keep, long long keep_max_bytes,
			       int keep_max_age_seconds)
{
	char dir[PATH_MAX], path[PATH_MAX];
	unsigned long removed = 0, kept = 0;
	struct dirent *d;
	struct stat st;
	time_t now = time(NULL);
	DIR *dh;

	if (!home_path(dir, sizeof dir, SPOOL_TRASH_DIR) || !(dh = opendir(dir)))
		return 0;
	while ((d = readdir(dh))) {
		if (d->d_name[0] == '.')
			continue;
		if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, d->d_name) >= sizeof path)
			continue;
		if (lstat(path, &st) != 0 || now - st.st_mtime < min_age_seconds)
			continue;
		if (kept < keep && S_ISREG(st.st_mode) && st.st_nlink == 1 && (long long)st.st_size <= keep_max_bytes
		    && now - st.st_mtime < keep_max_age_seconds) {
			kept++;
			continue;
		}
		if (unlink(path) == 0)
			removed++;
	}
	closedir(dh);
	return removed;
}
