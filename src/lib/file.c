#include "file.h"
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

int file_write_all(int fd, const void *data, size_t n)
{
	const char *p = data;
	ssize_t w;

	while (n) {
		w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w == 0)
				errno = EIO;
			return 0;
		}
		p += w;
		n -= (size_t)w;
	}
	return 1;
}

int file_fsync_dir(const char *dir_path)
{
	int fd = open(dir_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r;

	if (fd < 0)
		return 0;
	r = fsync(fd);
	close(fd);
	return r == 0;
}

int file_read_path(const char *path, struct buf *b)
{
	int fd, ok, saved;

	buf_truncate(b, 0);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ok = file_read_fd(fd, b);
	saved = errno;
	close(fd);
	errno = saved;
	return ok;
}

/* file_read_path for a file the caller has open (a stage's claim), read
 * from offset 0 without moving the descriptor.  1 ok, 0 errno. */
int file_read_fd(int fd, struct buf *b)
{
	struct stat st;
	off_t off = 0;
	ssize_t r;

	buf_truncate(b, 0);
	if (fstat(fd, &st) == 0 && st.st_size > 0 && !buf_reserve(b, (size_t)st.st_size))
		return 0;
	for (;;) {
		if (!buf_reserve(b, 65536))
			return 0;
		r = pread(fd, b->data + b->len, 65536, off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return 0;
		if (r == 0)
			return 1;
		b->len += (size_t)r;
		b->data[b->len] = 0;
		off += r;
	}
}

int file_syncfs(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), r, saved;

	if (fd < 0)
		return 0;
	r = syncfs(fd);
	saved = errno;
	close(fd);
	errno = saved;
	return r == 0;
}
