#include "mailbox.h"
#include "cache.h"
#include "log.h"
#include "maildir.h"
#include "wire.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAILBOX_READ_CHUNK_BYTES 65536

void mailbox_init(struct mailbox *box)
{
	memset(box, 0, sizeof *box);
	box->lock_fd = -1;
}

void mailbox_free(struct mailbox *box)
{
	free(box->messages);
	buf_free(&box->names);
	if (box->lock_fd >= 0)
		close(box->lock_fd);
	mailbox_init(box);
}

int mailbox_lock(struct mailbox *box, unsigned long usernum)
{
	char path[PATH_MAX];
	int fd, n;

	if (!maildir_path(usernum, box->path, sizeof box->path) || !maildir_create(box->path))
		return -1;
	n = snprintf(path, sizeof path, "%s/%s", box->path, MAILBOX_LOCK_FILE);
	if (n < 0 || (size_t)n >= sizeof path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	/* flock, not a lock file's existence: the kernel drops it when the
	 * process dies, so a SIGKILLed session leaves no stale lock. */
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int busy = errno == EWOULDBLOCK;
		close(fd);
		return busy ? 0 : -1;
	}
	box->lock_fd = fd;
	return 1;
}

const char *mailbox_name(const struct mailbox *box, size_t i) { return box->names.data + box->messages[i].name; }

int mailbox_file_path(const struct mailbox *box, size_t i, char *out, size_t size)
{
	const char *sub = box->messages[i].flags & MESSAGE_IN_CUR ? "cur" : "new";
	int n = snprintf(out, size, "%s/%s/%s", box->path, sub, mailbox_name(box, i));

	if (n < 0 || (size_t)n >= size) {
		errno = ENAMETOOLONG;
		return 0;
	}
	return 1;
}

static uint32_t clamp32(unsigned long long v) { return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v; }

int mailbox_measure(const char *path, uint32_t *wire_size, uint32_t *file_size, int *spam)
{
	static char chunk[MAILBOX_READ_CHUNK_BYTES];
	unsigned long long total = 0;
	struct wire w;
	ssize_t r;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return 0;
	wire_init(&w, -1);
	while ((r = read(fd, chunk, sizeof chunk)) != 0) {
		if (r < 0) {
			if (errno == EINTR)
				continue;
			close(fd);
			return 0;
		}
		total += (unsigned long long)r;
		wire_feed(&w, chunk, (size_t)r, NULL);
	}
	close(fd);
	wire_finish(&w, NULL);
	*wire_size = clamp32(w.size);
	*file_size = clamp32(total);
	*spam = w.spam;
	return 1;
}

/* Dovecot's ",W=<n>" in the base name: the wire size without reading. */
static int name_wire_size(const char *name, uint32_t *size)
{
	const char *colon = strchr(name, ':'), *p = name;
	unsigned long long v = 0;

	while ((p = strstr(p, ",W=")) && (!colon || p < colon)) {
		p += 3;
		if (*p < '0' || *p > '9')
			continue;
		while (*p >= '0' && *p <= '9') /* no wrap: more digits stay huge */
			if ((v = v * 10 + (unsigned)(*p++ - '0')) > UINT32_MAX)
				v = (unsigned long long)UINT32_MAX + 1;
		*size = clamp32(v);
		return 1;
	}
	return 0;
}

/* "...:2,<flags>" holds S. */
static int name_seen(const char *name)
{
	const char *info = strchr(name, ':');

	return info && strncmp(info, ":2,", 3) == 0 && strchr(info + 3, 'S');
}

static int mailbox_add(struct mailbox *box, const char *name, uint32_t flags)
{
	struct message *m;
	size_t len = strlen(name);

	if (box->count == box->cap) {
		size_t cap = box->cap ? box->cap * 2 : 256;
		m = realloc(box->messages, cap * sizeof *m);
		if (!m)
			return 0;
		box->messages = m;
		box->cap = cap;
	}
	if (box->names.len + len + 1 > UINT32_MAX) {
		errno = EOVERFLOW;
		return 0;
	}
	m = &box->messages[box->count];
	m->name = (uint32_t)box->names.len;
	if (!buf_cat(&box->names, name, len + 1))
		return 0;
	m->flags = flags | (name_seen(name) ? MESSAGE_SEEN : 0);
	m->wire_size = 0;
	m->file_size = 0;
	if (!name_wire_size(name, &m->wire_size))
		m->flags |= MESSAGE_SIZE_UNKNOWN;
	box->count++;
	return 1;
}

/* Lists one of new/ or cur/.  Dot files and directories are not messages. */
static int mailbox_read_dir(struct mailbox *box, const char *sub, uint32_t flags)
{
	char path[PATH_MAX];
	struct dirent *d;
	DIR *dh;
	int n = snprintf(path, sizeof path, "%s/%s", box->path, sub), ok = 1;

	if (n < 0 || (size_t)n >= sizeof path) {
		errno = ENAMETOOLONG;
		return 0;
	}
	if (!(dh = opendir(path)))
		return errno == ENOENT;
	while (ok && (errno = 0, d = readdir(dh)))
		if (d->d_name[0] != '.' && d->d_type != DT_DIR)
			ok = mailbox_add(box, d->d_name, flags);
	if (ok && errno)
		ok = 0;
	closedir(dh);
	return ok;
}

/* Length of the part of a name before the info (":2,..."): the key that
 * stays the same when a reader moves the message to cur/. */
size_t mailbox_base_len(const char *name)
{
	const char *colon = strchr(name, ':');
	return colon ? (size_t)(colon - name) : strlen(name);
}

/* Oldest first: Maildir names begin with the delivery time in seconds, so
 * a shorter run of leading digits is an older time; then byte order up to
 * the info part.  (No strtoull: this runs ~300,000 times for 10,000 names.) */
int mailbox_compare_names(const char *a, const char *b)
{
	size_t da = 0, db = 0, i;
	unsigned char ca, cb;

	while (a[da] >= '0' && a[da] <= '9')
		da++;
	while (b[db] >= '0' && b[db] <= '9')
		db++;
	if (da != db)
		return da < db ? -1 : 1;
	for (i = 0;; i++) {
		ca = a[i] == ':' ? 0 : (unsigned char)a[i];
		cb = b[i] == ':' ? 0 : (unsigned char)b[i];
		if (ca != cb)
			return ca < cb ? -1 : 1;
		if (!ca)
			return 0;
	}
}

static int message_less(const struct mailbox *box, size_t x, size_t y)
{
	return mailbox_compare_names(mailbox_name(box, x), mailbox_name(box, y)) < 0;
}

static void message_swap(struct message *m, size_t x, size_t y)
{
	struct message t = m[x];
	m[x] = m[y];
	m[y] = t;
}

static void sift_down(struct mailbox *box, size_t root, size_t end)
{
	size_t child;

	while ((child = 2 * root + 1) < end) {
		if (child + 1 < end && message_less(box, child, child + 1))
			child++;
		if (!message_less(box, root, child))
			return;
		message_swap(box->messages, root, child);
		root = child;
	}
}

/* Heapsort in place: glibc's qsort would malloc a copy of the array, and
 * memory is the budget here (see mailbox.h). */
static void mailbox_sort(struct mailbox *box)
{
	size_t n = box->count, i;

	for (i = n / 2; i-- > 0;)
		sift_down(box, i, n);
	for (i = n; i-- > 1;) {
		message_swap(box->messages, 0, i);
		sift_down(box, 0, i);
	}
}

/* Fills in what the cache did not know by reading the files.  A file that
 * cannot be read is dropped from the snapshot. */
static int mailbox_measure_unknown(struct mailbox *box, int need_spam, size_t *learned)
{
	char path[PATH_MAX];
	struct message *m;
	size_t i, kept = 0;
	int spam;

	for (i = 0; i < box->count; i++) {
		box->messages[kept] = box->messages[i];
		m = &box->messages[kept];
		if ((m->flags & MESSAGE_SIZE_UNKNOWN) || (need_spam && !(m->flags & MESSAGE_SPAM_KNOWN))) {
			if (!mailbox_file_path(box, kept, path, sizeof path))
				return 0;
			if (!mailbox_measure(path, &m->wire_size, &m->file_size, &spam)) {
				/* Gone (another reader moved it) is normal; anything
				 * else (a symlink, EACCES) hides that one file, not
				 * the whole mailbox. */
				if (errno != ENOENT)
					log_warn("unable to read %s: %s", path, strerror(errno));
				continue;
			}
			m->flags &= ~(uint32_t)MESSAGE_SIZE_UNKNOWN;
			m->flags |= MESSAGE_SPAM_KNOWN | (spam ? MESSAGE_SPAM : 0) | MESSAGE_LEARNED;
			(*learned)++;
		}
		kept++;
	}
	box->count = kept;
	return 1;
}

static void mailbox_hide_spam(struct mailbox *box)
{
	size_t i, kept = 0;

	for (i = 0; i < box->count; i++)
		if (!(box->messages[i].flags & MESSAGE_SPAM))
			box->messages[kept++] = box->messages[i];
	box->count = kept;
}

int mailbox_scan(struct mailbox *box, int hide_spam)
{
	size_t learned = 0, stale = 0;

	box->count = 0;
	buf_truncate(&box->names, 0);
	if (!mailbox_read_dir(box, "new", 0) || !mailbox_read_dir(box, "cur", MESSAGE_IN_CUR))
		return 0;
	mailbox_sort(box);
	cache_merge(box, &stale);
	if (!mailbox_measure_unknown(box, hide_spam, &learned))
		return 0;
	/* The cache is only an optimisation: failing to write it is logged, not fatal. */
	if (learned || stale > box->count / 4)
		if (!cache_write(box))
			log_warn("unable to write %s/%s: %s", box->path, CACHE_FILE, strerror(errno));
	if (hide_spam)
		mailbox_hide_spam(box);
	return 1;
}

/* The unique-id listing: the base name up to the first ',' (Dovecot adds
 * ",S=" and ",W=" there) or ':', which neither delivery nor a move to cur/
 * changes.  Bytes outside 0x21..0x7E and '%' become %XX; a longer result
 * becomes a hash of the base, so the id always fits RFC 1939's 70 bytes. */
void mailbox_uidl(const struct mailbox *box, size_t i, char out[MAILBOX_UIDL_MAX_BYTES + 1])
{
	const char *name = mailbox_name(box, i);
	size_t len = strcspn(name, ",:"), n = 0, k;
	unsigned long long hash = 14695981039346656037ULL;
	unsigned char c;

	for (k = 0; k < len && n <= MAILBOX_UIDL_MAX_BYTES; k++) {
		c = (unsigned char)name[k];
		if (c > 0x20 && c < 0x7f && c != '%') {
			out[n++] = (char)c;
		} else if (n + 3 <= MAILBOX_UIDL_MAX_BYTES) {
			snprintf(out + n, 4, "%%%02X", c);
			n += 3;
		} else {
			n = MAILBOX_UIDL_MAX_BYTES + 1;
		}
	}
	if (n > 0 && n <= MAILBOX_UIDL_MAX_BYTES) {
		out[n] = 0;
		return;
	}
	for (k = 0; k < len; k++)  /* FNV-1a, 64 bits */
		hash = (hash ^ (unsigned char)name[k]) * 1099511628211ULL;
	snprintf(out, MAILBOX_UIDL_MAX_BYTES + 1, "H%016llX%04zX", hash, len & 0xffff);
}
