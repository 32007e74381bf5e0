#include "stage.h"
#include "envelope.h"
#include "home.h"
#include "log.h"
#include "spool.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

void xstage_parse_args(int argc, char **argv, const char *usage)
{
	int opt;

	while ((opt = getopt(argc, argv, "d:")) != -1) {
		if (opt != 'd')
			die_usage(usage);
		home_set(optarg);
	}
	if (optind != argc)
		die_usage(usage);
	home_umask();
}

int stage_claim(const char *path)
{
	struct stat held, named;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return -1;
	if (flock(fd, LOCK_EX | LOCK_NB) != 0)
		goto skip;
	/* Another process may have finished the file and renamed it away
	 * between our open and our lock. */
	if (fstat(fd, &held) != 0 || stat(path, &named) != 0 || held.st_ino != named.st_ino
	    || held.st_dev != named.st_dev || !S_ISREG(held.st_mode))
		goto skip;
	return fd;
skip:
	close(fd);
	return -1;
}

/* The file goes through spool/tmp/<last part of dest_dir>-<name>: a
 * message's jobs of different channels share their name, and the tmp name
 * stays the same on every attempt, so a leftover is recognised. */
static int stage_tmp_name(char tmp_name[NAME_MAX + 1], const char *dest_dir, const char *name)
{
	const char *slash = strrchr(dest_dir, '/');

	if ((size_t)snprintf(tmp_name, NAME_MAX + 1, "%s-%s", slash ? slash + 1 : dest_dir, name) > NAME_MAX) {
		errno = ENAMETOOLONG;
		return 0;
	}
	return 1;
}

int stage_discard_leftover(const char *dest_dir, const char *name)
{
	char tmp_name[NAME_MAX + 1], rel[PATH_MAX], path[PATH_MAX];

	if (!stage_tmp_name(tmp_name, dest_dir, name)
	    || (size_t)snprintf(rel, sizeof rel, "%s/%s", SPOOL_TMP_DIR, tmp_name) >= sizeof rel
	    || !home_path(path, sizeof path, rel))
		return 0;
	return unlink(path) == 0 || errno == ENOENT;
}

static int stage_create(struct spool_file *f, const char *dest_dir, const char *name)
{
	char tmp_name[NAME_MAX + 1];

	if (!stage_tmp_name(tmp_name, dest_dir, name))
		return 0;
	if (spool_file_create_named(f, dest_dir, name, tmp_name))
		return 1;
	if (errno != EEXIST || unlink(f->tmp_path) != 0)
		return 0;
	return spool_file_create_named(f, dest_dir, name, tmp_name);
}

/* One file_syncfs makes the data of every file written since the last
 * one durable; then each is renamed into place (its entry durable at the
 * batch's stage_dirs_sync).  A file is never in place before its data is
 * on disk. */
static void stage_batch_commit_files(struct stage_batch *b)
{
	size_t i;
	int synced;

	if (!b->count)
		return;
	synced = file_syncfs(b->files[0].final_dir);
	for (i = 0; i < b->count; i++) {
		if (!synced) {
			int saved = errno;
			spool_file_abort(&b->files[i]);
			errno = saved;
		} else if (spool_file_commit_synced(&b->files[i]) && stage_dirs_add(&b->dirs, b->files[i].final_dir)) {
			continue;
		}
		if (!b->failed) {
			b->failed = 1;
			b->failed_errno = errno;
		}
	}
	b->count = 0;
}

int stage_batch_write(struct stage_batch *b, const char *dest_dir, const char *name, const void *head,
		      size_t head_len, const void *body, size_t body_len, int retry)
{
	struct spool_file *f;

	if (!b->files && !(b->files = malloc(STAGE_BATCH_FILES_MAX * sizeof *b->files)))
		return 0;
	if (b->count == STAGE_BATCH_FILES_MAX)
		stage_batch_commit_files(b);
	f = &b->files[b->count];
	if (!stage_create(f, dest_dir, name))
		return 0;
	if ((retry && !stage_mark_attempted(f->fd)) || !spool_file_write(f, head, head_len)
	    || (body && !spool_file_write(f, body, body_len)) || !spool_file_start(f)) {
		spool_file_abort(f);
		return 0;
	}
	b->count++;
	return 1;
}

int stage_batch_sync(struct stage_batch *b)
{
	int ok;

	stage_batch_commit_files(b);
	ok = stage_dirs_sync(&b->dirs);
	if (b->failed) {
		ok = 0;
		errno = b->failed_errno;
	}
	b->failed = 0;
	return ok;
}

void stage_batch_free(struct stage_batch *b)
{
	size_t i;

	for (i = 0; i < b->count; i++)
		spool_file_abort(&b->files[i]);
	free(b->files);
	b->files = NULL;
	b->count = 0;
	stage_dirs_free(&b->dirs);
}

int stage_dirs_add(struct stage_dirs *dirs, const char *path)
{
	return dirs->path || (dirs->path = strdup(path)) != NULL;
}

int stage_dirs_sync(struct stage_dirs *dirs)
{
	int ok = !dirs->path || file_syncfs(dirs->path), saved = errno;

	stage_dirs_free(dirs);
	errno = saved;
	return ok;
}

void stage_dirs_free(struct stage_dirs *dirs)
{
	free(dirs->path);
	dirs->path = NULL;
}

int stage_mkdir(const char *path)
{
	return mkdir(path, 0700) == 0 || errno == EEXIST;
}

int stage_mark_attempted(int fd)
{
	return fchmod(fd, STAGE_MODE_ATTEMPTED) == 0;
}

static int stage_mark_path(char *out, size_t size, const char *name)
{
	char rel[PATH_MAX];

	if ((size_t)snprintf(rel, sizeof rel, "%s/%s", SPOOL_ATTEMPT_DIR, name) >= sizeof rel)
		return (errno = ENAMETOOLONG, 0);
	return home_path(out, size, rel);
}

int stage_input_was_attempted(int fd, const char *name, int *foreign)
{
	char path[PATH_MAX];
	struct stat st;

	*foreign = 0;
	if (fstat(fd, &st) != 0)
		return 0;
	if (st.st_uid == geteuid())
		return (st.st_mode & 0777) == STAGE_MODE_ATTEMPTED;
	*foreign = 1;
	return stage_mark_path(path, sizeof path, name) && access(path, F_OK) == 0;
}

int stage_input_mark(int fd, const char *name, int foreign)
{
	char path[PATH_MAX], dir[PATH_MAX];
	int mark;

	if (!foreign)
		return stage_mark_attempted(fd);
	if (!stage_mark_path(path, sizeof path, name))
		return 0;
	mark = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (mark < 0 && errno == ENOENT && home_path(dir, sizeof dir, SPOOL_ATTEMPT_DIR) && stage_mkdir(dir))
		mark = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	return mark >= 0 && close(mark) == 0;
}

void stage_input_unmark(const char *name, int foreign)
{
	char path[PATH_MAX];

	if (foreign && stage_mark_path(path, sizeof path, name) && unlink(path) != 0 && errno != ENOENT)
		log_warn("id=%s: unable to remove its attempt mark %s: %s", name, path, strerror(errno));
}
