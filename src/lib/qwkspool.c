/* qwkspool: spool/qwk/<ID>/ (qwkspool.h). */
#include "qwkspool.h"
#include "buf.h"
#include "file.h"
#include "home.h"
#include "qwknet.h"
#include "stage.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const sub_names[] = { "", "/new", "/packed", "/out", "/import" };

int qwkspool_dir(char *out, size_t size, const char *id, enum qwkspool_sub sub)
{
	int n;

	if (!qwk_id_valid(id, strlen(id))) {
		errno = EINVAL;
		return 0;
	}
	n = snprintf(out, size, "%s/%s%s", QWK_SPOOL_DIR, id, sub_names[sub]);
	if (n < 0 || (size_t)n >= size) {
		errno = ENAMETOOLONG;
		return 0;
	}
	return 1;
}

int qwkspool_path(char *out, size_t size, const char *id, enum qwkspool_sub sub, const char *name)
{
	char rel[PATH_MAX];
	int n;

	if (!qwkspool_dir(rel, sizeof rel, id, sub))
		return 0;
	n = snprintf(out, size, "%s/%s/%s", home_dir(), rel, name);
	if (n < 0 || (size_t)n >= size) {
		errno = ENAMETOOLONG;
		return 0;
	}
	return 1;
}

int qwkspool_make_dirs(const char *id)
{
	char rel[PATH_MAX], path[PATH_MAX];
	int sub;

	if (!home_path(path, sizeof path, QWK_SPOOL_DIR) || !stage_mkdir(path))
		return 0;
	for (sub = QWKSPOOL_NODE; sub <= QWKSPOOL_IMPORT; sub++)
		if (!qwkspool_dir(rel, sizeof rel, id, (enum qwkspool_sub)sub) || !home_path(path, sizeof path, rel)
		    || !stage_mkdir(path))
			return 0;
	return 1;
}

int qwkspool_has(const char *id, enum qwkspool_sub sub, const char *name)
{
	char path[PATH_MAX];
	struct stat st;

	return qwkspool_path(path, sizeof path, id, sub, name) && lstat(path, &st) == 0;
}

int qwkspool_lock(const char *id)
{
	char path[PATH_MAX];
	int fd;

	if (!qwkspool_make_dirs(id) || !qwkspool_path(path, sizeof path, id, QWKSPOOL_NODE, QWKSPOOL_LOCK))
		return -1;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -1;
	while (flock(fd, LOCK_EX) < 0)
		if (errno != EINTR) {
			int saved = errno;
			close(fd);
			errno = saved;
			return -1;
		}
	return fd;
}

int qwkspool_log_add(const char *id, char *const *names, size_t count)
{
	char path[PATH_MAX];
	struct buf text = BUF_INIT;
	size_t i;
	int fd, ok;

	if (!count)
		return 1;
	if (!qwkspool_path(path, sizeof path, id, QWKSPOOL_NODE, QWKSPOOL_LOG))
		return 0;
	for (i = 0, ok = 1; i < count && ok; i++)
		ok = buf_cats(&text, names[i]) && buf_catc(&text, '\n');
	fd = ok ? open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600) : -1;
	ok = fd >= 0 && file_write_all(fd, text.data, text.len) && fsync(fd) == 0;
	if (fd >= 0 && close(fd) < 0)
		ok = 0;
	buf_free(&text);
	return ok;
}

int qwkspool_log_has(const char *id, const char *name)
{
	char path[PATH_MAX];
	struct buf text = BUF_INIT;
	size_t n = strlen(name);
	const char *p, *end;
	int found = 0;

	if (!qwkspool_path(path, sizeof path, id, QWKSPOOL_NODE, QWKSPOOL_LOG))
		return -1;
	if (!file_read_path(path, &text)) {
		buf_free(&text);
		return errno == ENOENT ? 0 : -1;
	}
	for (p = text.data, end = text.data + text.len; p && p < end && !found; p = memchr(p, '\n', (size_t)(end - p)), p = p ? p + 1 : NULL)
		found = (size_t)(end - p) > n && memcmp(p, name, n) == 0 && p[n] == '\n';
	buf_free(&text);
	return found;
}
