#include "body.h"
#include "home.h"
#include "record.h"
#include "spool.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int body_path(char *out, size_t size, const char *channel, const char *job)
{
	char rel[PATH_MAX];

	if ((size_t)snprintf(rel, sizeof rel, "%s/%s-%s", SPOOL_BODY_DIR, channel, job) >= sizeof rel) {
		errno = ENAMETOOLONG;
		return 0;
	}
	return home_path(out, size, rel);
}

static int same_file(const char *a, const char *b)
{
	struct stat sa, sb;

	return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_ino == sb.st_ino && sa.st_dev == sb.st_dev;
}

int body_link(const char *source, const char *channel, const char *job)
{
	char path[PATH_MAX];

	if (!body_path(path, sizeof path, channel, job))
		return 0;
	if (link(source, path) == 0)
		return 1;
	if (errno != EEXIST)
		return 0;
	if (same_file(source, path))
		return 1;
	if (unlink(path) != 0 && errno != ENOENT)
		return 0;
	return link(source, path) == 0;
}

int body_open(const char *channel, const char *job, struct buf *b)
{
	char path[PATH_MAX];
	int fd, saved;

	if (!body_path(path, sizeof path, channel, job))
		return -1;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (!file_read_fd(fd, b)) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

int body_release(const char *channel, const char *job, int fd)
{
	char path[PATH_MAX];
	struct stat st;
	int ok;

	if (!body_path(path, sizeof path, channel, job)) {
		close(fd);
		return 0;
	}
	/* Two stages releasing the last two links at once may both unlink;
	 * that only costs the recycling of this one file. */
	if (fstat(fd, &st) == 0 && st.st_nlink > 1)
		ok = unlink(path) == 0 || errno == ENOENT;
	else
		ok = spool_retire(path);
	close(fd);
	return ok;
}

long long body_message_size(const char *channel, const char *job)
{
	char path[PATH_MAX], chunk[8192];
	struct stat st;
	long long size = -1;
	size_t record_len = 0;
	ssize_t n;
	int fd;

	if (!body_path(path, sizeof path, channel, job))
		return -1;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	/* Records of bodies are small: the end mark is in the first chunk,
	 * else the size is reported as unknown. */
	n = pread(fd, chunk, sizeof chunk, 0);
	if (n > 0 && fstat(fd, &st) == 0 && (record_len = record_length(chunk, (size_t)n)))
		size = (long long)st.st_size - (long long)record_len;
	else
		errno = EBADMSG;
	close(fd);
	return size;
}
