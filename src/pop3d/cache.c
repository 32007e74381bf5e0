#include "cache.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct cache_entry {
	char *base;
	unsigned long long wire, file;
	int spam;
};

/* "<base> <wire> <file> <spam>\n" in place; 0 for a malformed line. */
static int cache_parse(char *line, struct cache_entry *e)
{
	char *sp = strchr(line, ' '), *end;

	if (!sp || sp == line)
		return 0;
	*sp = 0;
	e->base = line;
	e->wire = strtoull(sp + 1, &end, 10);
	if (*end != ' ')
		return 0;
	e->file = strtoull(end + 1, &end, 10);
	if (*end != ' ' || (end[1] != '0' && end[1] != '1') || (end[2] != '\n' && end[2] != 0))
		return 0;
	e->spam = end[1] == '1';
	return 1;
}

static void cache_apply(struct message *m, const struct cache_entry *e)
{
	if (m->flags & MESSAGE_SIZE_UNKNOWN)
		m->wire_size = e->wire > UINT32_MAX ? UINT32_MAX : (uint32_t)e->wire;
	m->file_size = e->file > UINT32_MAX ? UINT32_MAX : (uint32_t)e->file;
	m->flags &= ~(uint32_t)MESSAGE_SIZE_UNKNOWN;
	m->flags |= MESSAGE_SPAM_KNOWN | (e->spam ? MESSAGE_SPAM : 0);
}

static int cache_path(const struct mailbox *box, const char *suffix, char out[PATH_MAX])
{
	int n = snprintf(out, PATH_MAX, "%s/%s%s", box->path, CACHE_FILE, suffix);

	if (n < 0 || n >= PATH_MAX) {
		errno = ENAMETOOLONG;
		return 0;
	}
	return 1;
}

static FILE *cache_open(const struct mailbox *box, const char *suffix, const char *mode)
{
	char path[PATH_MAX];

	return cache_path(box, suffix, path) ? fopen(path, mode) : NULL;
}

/* The new cache, 0600 like every other file of the mailbox (it names the
 * messages and their sizes): fopen would leave it to the umask. */
static FILE *cache_create(const struct mailbox *box, const char *suffix)
{
	char path[PATH_MAX];
	FILE *f;
	int fd;

	if (!cache_path(box, suffix, path))
		return NULL;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return NULL;
	/* A leftover file keeps its old mode through O_CREAT. */
	if (fchmod(fd, 0600) != 0 || !(f = fdopen(fd, "w"))) {
		close(fd);
		return NULL;
	}
	return f;
}

void cache_merge(struct mailbox *box, size_t *stale)
{
	struct cache_entry e;
	char *line = NULL;
	size_t cap = 0, i = 0;
	FILE *f = cache_open(box, "", "re");
	int c;

	*stale = 0;
	if (!f)
		return;
	if (getline(&line, &cap, f) <= 0 || strcmp(line, CACHE_VERSION_LINE "\n") != 0)
		goto done;
	while (getline(&line, &cap, f) > 0) {
		if (!cache_parse(line, &e))
			continue;
		c = -1;
		while (i < box->count && (c = mailbox_compare_names(mailbox_name(box, i), e.base)) < 0)
			i++;
		if (c == 0 && mailbox_base_len(mailbox_name(box, i)) == strlen(e.base))
			cache_apply(&box->messages[i++], &e);
		else
			(*stale)++;
	}
done:
	free(line);
	fclose(f);
}

int cache_write(const struct mailbox *box)
{
	char tmp[PATH_MAX], path[PATH_MAX];
	const struct message *m;
	const char *name;
	size_t i, len;
	FILE *f = cache_create(box, ".tmp");
	int ok;

	if (!f)
		return 0;
	ok = fputs(CACHE_VERSION_LINE "\n", f) >= 0;
	for (i = 0; ok && i < box->count; i++) {
		m = &box->messages[i];
		name = mailbox_name(box, i);
		len = mailbox_base_len(name);
		if (!(m->flags & MESSAGE_SPAM_KNOWN) || m->flags & MESSAGE_SIZE_UNKNOWN
		    || strcspn(name, " \n") < len)
			continue;
		ok = fprintf(f, "%.*s %lu %lu %d\n", (int)len, name, (unsigned long)m->wire_size,
			     (unsigned long)m->file_size, m->flags & MESSAGE_SPAM ? 1 : 0) > 0;
	}
	if (fclose(f) != 0)
		ok = 0;
	if (!cache_path(box, ".tmp", tmp) || !cache_path(box, "", path))
		return 0;
	if (ok && rename(tmp, path) != 0)
		ok = 0;
	if (!ok)
		unlink(tmp);
	return ok;
}
