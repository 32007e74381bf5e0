#include "telegram.h"
#include "date.h"
#include "file.h"
#include "home.h"
#include "spool.h"
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int is_control(unsigned char c) { return c < 0x20 || c == 0x7f; }

int xtelegram_text_line(struct buf *out, const char *line, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (is_control((unsigned char)line[i]))
			continue;
		if (out->len >= TELEGRAM_TEXT_MAX)
			return 0;
		xbuf_catc(out, line[i]);
	}
	if (out->len >= TELEGRAM_TEXT_MAX)
		return 0;
	xbuf_catc(out, '\n');
	return 1;
}

int xtelegram_text_clean(struct buf *out, const char *text, size_t len)
{
	const char *end = text + len, *lf;

	while (text < end) {
		lf = memchr(text, '\n', (size_t)(end - text));
		if (!lf) {
			size_t before = out->len;
			/* The last piece has no LF: take it, then drop the LF added. */
			if (!xtelegram_text_line(out, text, (size_t)(end - text)))
				return 0;
			if (out->len > before)
				buf_truncate(out, out->len - 1);
			return 1;
		}
		if (!xtelegram_text_line(out, text, (size_t)(lf - text)))
			return 0;
		text = lf + 1;
	}
	return 1;
}

static char key_escape(char c)
{
	switch (c) {
	case 'r': return '\r';
	case 'n': return '\n';
	case 't': return '\t';
	case '\\': return '\\';
	default: return 0;
	}
}

void xtelegram_format_key(struct buf *out, const char *key, const char *arg)
{
	int used = 0;
	char e;

	for (; *key; key++) {
		if (*key == '%' && key[1] == 's' && !used) {
			xbuf_cats(out, arg);
			used = 1;
			key++;
		} else if (*key == '%' && key[1] == '%') {
			xbuf_catc(out, '%');
			key++;
		} else if (*key == '\\' && (e = key_escape(key[1]))) {
			xbuf_catc(out, e);
			key++;
		} else {
			xbuf_catc(out, *key);
		}
	}
}

int telegram_user_present(unsigned long usernum, long long now)
{
	char rel[64], path[PATH_MAX];
	struct stat st;

	snprintf(rel, sizeof rel, "%s/%lu", SPOOL_PRESENCE_DIR, usernum);
	if (!home_path(path, sizeof path, rel))
		return -1;
	if (stat(path, &st) != 0)
		return errno == ENOENT ? 0 : -1;
	return (long long)st.st_mtime > now - TELEGRAM_PRESENCE_SEC;
}

void xtelegram_build(struct buf *out, const char *sender, long long when, const char *text, size_t len)
{
	char date[DATE_RFC5322_MAX_BYTES];

	(void)date_rfc5322(date, sizeof date, when);
	xbuf_catf(out, "From: <%s>\nDate: %s\n\n", sender, date);
	xbuf_cat(out, text, len);
}

void xtelegram_notice(struct buf *file, const char *from_address, long long when, const char *new_key,
		     const char *forward_key, const char *sender, const char *forwarded_to)
{
	struct buf key = BUF_INIT, text = BUF_INIT;

	xtelegram_format_key(&key, new_key, sender);
	if (forwarded_to)
		xtelegram_format_key(&key, forward_key, forwarded_to);
	(void)xtelegram_text_clean(&text, key.data ? key.data : "", key.len);
	xtelegram_build(file, from_address, when, text.data ? text.data : "", text.len);
	buf_free(&key);
	buf_free(&text);
}

/* mkdir -p for one level; a directory it creates is made durable in its
 * parent.  1 ok, 0 errno. */
static int telegram_mkdir(const char *path, const char *parent, int durable)
{
	if (mkdir(path, home_dir_mode()) != 0)
		return errno == EEXIST;
	return !durable || file_fsync_dir(parent);
}

int telegram_write(unsigned long usernum, const char *name, const char *file, size_t len, int durable)
{
	char spool[PATH_MAX], top[PATH_MAX], dir[PATH_MAX], rel[PATH_MAX], tmp[PATH_MAX], path[PATH_MAX];
	struct spool_file f;

	if (strchr(name, '/') || name[0] == '.' || !name[0]) {
		errno = EINVAL;
		return 0;
	}
	if ((size_t)snprintf(rel, sizeof rel, "%s/%lu", SPOOL_TELEGRAM_DIR, usernum) >= sizeof rel
	    || (size_t)snprintf(tmp, sizeof tmp, "telegram.%lu.%s", usernum, name) >= sizeof tmp
	    || !home_path(spool, sizeof spool, "spool") || !home_path(top, sizeof top, SPOOL_TELEGRAM_DIR)
	    || !home_path(dir, sizeof dir, rel)) {
		errno = ENAMETOOLONG;
		return 0;
	}
	if (!telegram_mkdir(top, spool, durable) || !telegram_mkdir(dir, top, durable))
		return 0;
	if (!spool_file_create_named(&f, rel, name, tmp)) {
		/* Left by a run that died: the name is ours (derived from a queue
		 * id), so the stale file is replaced. */
		if (errno != EEXIST || !home_path(path, sizeof path, SPOOL_TMP_DIR))
			return 0;
		if ((size_t)snprintf(path + strlen(path), sizeof path - strlen(path), "/%s", tmp) >= sizeof path - strlen(path)
		    || (unlink(path) != 0 && errno != ENOENT) || !spool_file_create_named(&f, rel, name, tmp))
			return 0;
	}
	if (!spool_file_write(&f, file, len)) {
		spool_file_abort(&f);
		return 0;
	}
	return durable ? spool_file_commit(&f) : spool_file_commit_synced(&f);
}
