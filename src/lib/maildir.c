#include "maildir.h"
#include "home.h"
#include "spool.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int maildir_path(unsigned long usernum, char *out, size_t size)
{
	char rel[64];

	snprintf(rel, sizeof rel, "%s/%lu", SPOOL_MAILBOX_DIR, usernum);
	return home_path(out, size, rel);
}

/* Joins dir and name into out; 0 with ENAMETOOLONG on truncation. */
static int maildir_join(char *out, size_t size, const char *dir, const char *name)
{
	int n = snprintf(out, size, "%s/%s", dir, name);

	if (n < 0 || (size_t)n >= size) {
		errno = ENAMETOOLONG;
		return 0;
	}
	return 1;
}

/* mkdir that reports whether it created something, so the parent directory
 * is fsync'ed only when its entries changed. */
static int maildir_mkdir(const char *path, int *created)
{
	if (mkdir(path, home_dir_mode()) == 0) {
		*created = 1;
		return 1;
	}
	return errno == EEXIST;
}

int maildir_create(const char *mailbox)
{
	static const char *subdirs[] = { "tmp", "new", "cur" };
	char path[PATH_MAX], parent[PATH_MAX];
	int created_box = 0, created_sub = 0;
	size_t i;

	if (!maildir_mkdir(mailbox, &created_box))
		return 0;
	for (i = 0; i < sizeof subdirs / sizeof subdirs[0]; i++)
		if (!maildir_join(path, sizeof path, mailbox, subdirs[i])
		    || !maildir_mkdir(path, &created_sub))
			return 0;
	/* A new mailbox must survive a crash like the message written into it. */
	if (created_sub && !file_fsync_dir(mailbox))
		return 0;
	if (created_box) {
		if (!maildir_join(parent, sizeof parent, mailbox, ".."))
			return 0;
		if (!file_fsync_dir(parent))
			return 0;
	}
	return 1;
}

/* Entries of dir that are not dotfiles; -1 on error. */
static long maildir_count_dir(const char *dir)
{
	struct dirent *d;
	long n = 0;
	DIR *dh = opendir(dir);

	if (!dh)
		return errno == ENOENT ? 0 : -1;
	while ((d = readdir(dh)))
		if (d->d_name[0] != '.')
			n++;
	closedir(dh);
	return n;
}

long maildir_count_scan(const char *mailbox)
{
	char path[PATH_MAX];
	long fresh, seen;

	if (!maildir_join(path, sizeof path, mailbox, "new") || (fresh = maildir_count_dir(path)) < 0)
		return -1;
	if (!maildir_join(path, sizeof path, mailbox, "cur") || (seen = maildir_count_dir(path)) < 0)
		return -1;
	return fresh + seen;
}

#define MAILDIR_COUNT_FILE "bbsmail-count"

int maildir_stamp_get(const char *mailbox, struct maildir_stamp *st)
{
	char path[PATH_MAX];
	struct stat sn, sc;

	if (!maildir_join(path, sizeof path, mailbox, "new") || stat(path, &sn) != 0
	    || !maildir_join(path, sizeof path, mailbox, "cur") || stat(path, &sc) != 0)
		return 0;
	st->new_sec = (long long)sn.st_mtim.tv_sec;
	st->new_nsec = (long long)sn.st_mtim.tv_nsec;
	st->cur_sec = (long long)sc.st_mtim.tv_sec;
	st->cur_nsec = (long long)sc.st_mtim.tv_nsec;
	return 1;
}

static int maildir_stamp_same(const struct maildir_stamp *a, const struct maildir_stamp *b)
{
	return a->new_sec == b->new_sec && a->new_nsec == b->new_nsec && a->cur_sec == b->cur_sec
	       && a->cur_nsec == b->cur_nsec;
}

/* The cache: "1 <count> <new s> <new ns> <cur s> <cur ns>\n".  1 when it
 * was read and well formed. */
static int maildir_cache_read(const char *mailbox, long *count, struct maildir_stamp *st)
{
	char path[PATH_MAX], text[160];
	ssize_t n;
	int fd;

	if (!maildir_join(path, sizeof path, mailbox, MAILDIR_COUNT_FILE)
	    || (fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return 0;
	n = read(fd, text, sizeof text - 1);
	close(fd);
	if (n <= 0)
		return 0;
	text[n] = 0;
	return sscanf(text, "1 %ld %lld %lld %lld %lld\n", count, &st->new_sec, &st->new_nsec, &st->cur_sec,
		      &st->cur_nsec) == 5 && *count >= 0;
}

/* Replaces the cache by rename, so a reader sees the old or the new one.
 * Not fsync'ed: after a crash a lost or stale cache only fails to match
 * the directories, and the next call counts. */
static void maildir_cache_write(const char *mailbox, long count, const struct maildir_stamp *st)
{
	char path[PATH_MAX], tmp[PATH_MAX], text[160];
	int fd, n, ok;

	if (!maildir_join(path, sizeof path, mailbox, MAILDIR_COUNT_FILE)
	    || snprintf(tmp, sizeof tmp, "%s.%ld", path, (long)getpid()) >= (int)sizeof tmp)
		return;
	n = snprintf(text, sizeof text, "1 %ld %lld %lld %lld %lld\n", count, st->new_sec, st->new_nsec, st->cur_sec,
		     st->cur_nsec);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, home_file_mode());
	if (fd < 0)
		return;
	ok = file_write_all(fd, text, (size_t)n);
	if (close(fd) != 0)
		ok = 0;
	if (!ok || rename(tmp, path) != 0)
		unlink(tmp);
}

long maildir_count(const char *mailbox)
{
	struct maildir_stamp now, cached;
	long count;

	if (!maildir_stamp_get(mailbox, &now))
		return errno == ENOENT ? maildir_count_scan(mailbox) : -1;
	if (maildir_cache_read(mailbox, &count, &cached) && maildir_stamp_same(&now, &cached))
		return count;
	/* The times are taken before the count, so a change while we read
	 * leaves times that no longer match the cache: counted again. */
	count = maildir_count_scan(mailbox);
	if (count >= 0)
		maildir_cache_write(mailbox, count, &now);
	return count;
}

void maildir_count_added(const char *mailbox, const struct maildir_stamp *before, long added)
{
	struct maildir_stamp cached, after;
	long count;

	/* A cache that did not belong to `before` no longer matches the
	 * directories either: the next maildir_count counts. */
	if (maildir_cache_read(mailbox, &count, &cached) && maildir_stamp_same(before, &cached)
	    && maildir_stamp_get(mailbox, &after))
		maildir_cache_write(mailbox, count + added, &after);
}

int maildir_found_in_cur(const char *mailbox, const char *name, int scan)
{
	static const char *flags[] = { ":2,", ":2,S" };
	char path[PATH_MAX];
	struct stat st;
	struct dirent *d;
	size_t i, name_len = strlen(name);
	int found = 0;
	DIR *dh;

	for (i = 0; i < sizeof flags / sizeof flags[0]; i++) {
		int n = snprintf(path, sizeof path, "%s/cur/%s%s", mailbox, name, flags[i]);
		if (n > 0 && (size_t)n < sizeof path && stat(path, &st) == 0)
			return 1;
	}
	if (!scan || !maildir_join(path, sizeof path, mailbox, "cur") || !(dh = opendir(path)))
		return 0;
	while (!found && (d = readdir(dh)))
		found = strncmp(d->d_name, name, name_len) == 0 && d->d_name[name_len] == ':';
	closedir(dh);
	return found;
}

/* Creates tmp/<name>.  A leftover with this name is from an interrupted
 * earlier attempt at the same job (the caller holds the job's lock), so it
 * is replaced; *leftover tells the caller to look harder for that attempt. */
static int maildir_open_tmp(const char *tmp_path, int *leftover, long long *old_size)
{
	int fd;

	/* A recycled spool file (same filesystem) saves a slow create.  Not
	 * in a shared home: it would keep the spool's group, which pop3d is
	 * not in, where a new file takes the mailbox's. */
	fd = home_shared() ? -1 : spool_reuse_trash(tmp_path, old_size);
	if (fd >= 0)
		return fd;
	*old_size = -1;
	fd = open(tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, home_file_mode());
	if (fd >= 0 || errno != EEXIST)
		return fd;
	*leftover = 1;
	if (unlink(tmp_path) != 0)
		return -1;
	return open(tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, home_file_mode());
}

/* Fills the tmp file and starts its writeback; the fsync comes at finish. */
static int maildir_fill_tmp(int fd, long long old_size, const char *head, size_t head_len, const char *body,
			    size_t body_len)
{
	if (!file_write_all(fd, head, head_len) || !file_write_all(fd, body, body_len))
		return 0;
	if (old_size > (long long)(head_len + body_len) && ftruncate(fd, (off_t)(head_len + body_len)) != 0)
		return 0;
	/* Only a hint: finish's fsync is what makes the file durable. */
	(void)sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
	return 1;
}

/* The three paths of a delivery; 0 with errno set when they do not fit. */
static int maildir_paths(const struct maildir_pending *p, char *tmp_path, char *new_path, char *new_dir)
{
	if (!maildir_join(new_dir, PATH_MAX, p->mailbox, "new") || !maildir_join(new_path, PATH_MAX, new_dir, p->name)
	    || snprintf(tmp_path, PATH_MAX, "%s/tmp/%s", p->mailbox, p->name) >= PATH_MAX) {
		errno = ENAMETOOLONG;
		return 0;
	}
	return 1;
}

int maildir_write_begin(struct maildir_pending *p, const char *mailbox, const char *unique_name,
			const char *head, size_t head_len, const char *body, size_t body_len)
{
	char tmp_path[PATH_MAX], new_path[PATH_MAX], new_dir[PATH_MAX];
	long long old_size = -1;

	p->fd = -1;
	p->leftover = 0;
	if (!unique_name[0] || strchr(unique_name, '/') || unique_name[0] == '.') {
		errno = EINVAL;
		return 0;
	}
	if (snprintf(p->mailbox, sizeof p->mailbox, "%s", mailbox) >= (int)sizeof p->mailbox
	    || snprintf(p->name, sizeof p->name, "%s", unique_name) >= (int)sizeof p->name) {
		errno = ENAMETOOLONG;
		return 0;
	}
	if (!maildir_paths(p, tmp_path, new_path, new_dir))
		return 0;
	p->fd = maildir_open_tmp(tmp_path, &p->leftover, &old_size);
	if (p->fd < 0)
		return 0;
	if (!maildir_fill_tmp(p->fd, old_size, head, head_len, body, body_len)) {
		maildir_write_abort(p);
		return 0;
	}
	return 1;
}

void maildir_write_abort(struct maildir_pending *p)
{
	char tmp_path[PATH_MAX], new_path[PATH_MAX], new_dir[PATH_MAX];
	int saved = errno;

	if (p->fd >= 0) {
		close(p->fd);
		if (maildir_paths(p, tmp_path, new_path, new_dir))
			unlink(tmp_path);
	}
	p->fd = -1;
	errno = saved;
}

/* fsync (unless already synced) and close the tmp file (the caller
 * removes it on failure). */
static int maildir_sync_tmp(struct maildir_pending *p, int synced)
{
	int fd = p->fd, ok = synced || fsync(fd) == 0, saved = errno;

	p->fd = -1;
	if (close(fd) != 0 && ok) {
		ok = 0;
		saved = errno;
	}
	errno = saved;
	return ok;
}

int maildir_write_finish(struct maildir_pending *p, int flags)
{
	char tmp_path[PATH_MAX], new_path[PATH_MAX], new_dir[PATH_MAX];
	int already = 0, saved;

	if (!maildir_paths(p, tmp_path, new_path, new_dir)) {
		maildir_write_abort(p);
		return 0;
	}
	if (!maildir_sync_tmp(p, flags & MAILDIR_DATA_SYNCED))
		goto fail;
	if (maildir_found_in_cur(p->mailbox, p->name, p->leftover))
		already = 1;
	else if (link(tmp_path, new_path) != 0) {
		if (errno != EEXIST)
			goto fail;
		already = 1;
	} else if (!(flags & MAILDIR_DEFER_DIRSYNC) && !file_fsync_dir(new_dir)) {
		/* The link exists but may not be durable: report a temporary
		 * failure; the retry finds the name and answers 2. */
		goto fail;
	}
	unlink(tmp_path);
	return already ? 2 : 1;
fail:
	saved = errno;
	unlink(tmp_path);
	errno = saved;
	return 0;
}

int maildir_deliver(const char *mailbox, const char *unique_name, const char *head, size_t head_len,
		    const char *body, size_t body_len)
{
	return maildir_deliver_flags(mailbox, unique_name, head, head_len, body, body_len, 0);
}

int maildir_deliver_flags(const char *mailbox, const char *unique_name, const char *head, size_t head_len,
			  const char *body, size_t body_len, int flags)
{
	struct maildir_pending p;

	if (!maildir_write_begin(&p, mailbox, unique_name, head, head_len, body, body_len))
		return 0;
	return maildir_write_finish(&p, flags);
}
