/* bbsmail-telegram: shows a BBS user's telegrams (spool/telegram/<usernum>/,
 * spool(5)), oldest first, and removes them; -k keeps them
 * (bbsmail-telegram(1)).  A telegram is removed only after all of them
 * were written out, so a failed write loses none. */
#include "buf.h"
#include "file.h"
#include "home.h"
#include "log.h"
#include "telegram.h"
#include "userdb.h"
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define USAGE "bbsmail-telegram [-k] [-d DIR] <user>"

struct telegram_entry {
	char *name;
	long long mtime;
};

/* A user by number (all digits) or by name; dies when there is none. */
static unsigned long telegram_user(const char *arg)
{
	struct userdb db;
	struct user u;
	char *end;
	unsigned long n;
	int got;

	if (!userdb_open(&db, 0))
		die_sys("unable to open the user database");
	n = strtoul(arg, &end, 10);
	if (*arg >= '0' && *arg <= '9' && !*end)
		got = userdb_get_by_number(&db, n, &u);
	else
		got = userdb_get_by_name(&db, arg, &u);
	if (got < 0)
		die_sys("unable to read the user database");
	userdb_close(&db);
	if (got == 0)
		die_perm("no such user: %s", arg);
	return u.number;
}

static int entry_order(const void *a, const void *b)
{
	const struct telegram_entry *x = a, *y = b;

	if (x->mtime != y->mtime)
		return x->mtime < y->mtime ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* The directory's telegrams, oldest first (mtime, then name). */
static struct telegram_entry *telegram_scan(const char *dir, size_t *count)
{
	struct telegram_entry *list = NULL, *grown;
	char path[PATH_MAX];
	struct dirent *d;
	struct stat st;
	DIR *dh;

	*count = 0;
	if (!(dh = opendir(dir))) {
		if (errno == ENOENT)
			return NULL;
		die_sys("unable to open %s", dir);
	}
	while ((d = readdir(dh))) {
		if (d->d_name[0] == '.')
			continue;
		if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, d->d_name) >= sizeof path || lstat(path, &st) != 0
		    || !S_ISREG(st.st_mode))
			continue;
		if (!(grown = realloc(list, (*count + 1) * sizeof *list)))
			die_nomem();
		list = grown;
		if (!(list[*count].name = strdup(d->d_name)))
			die_nomem();
		list[(*count)++].mtime = (long long)st.st_mtime;
	}
	closedir(dh);
	if (*count)
		qsort(list, *count, sizeof *list, entry_order);
	return list;
}

/* dir/name into path.  1 ok, 0 ENAMETOOLONG. */
static int entry_path(char *path, size_t size, const char *dir, const char *name)
{
	if ((size_t)snprintf(path, size, "%s/%s", dir, name) < size)
		return 1;
	errno = ENAMETOOLONG;
	return 0;
}

static void telegram_show(const char *dir, const struct telegram_entry *list, size_t count)
{
	char path[PATH_MAX];
	struct buf b = BUF_INIT;
	size_t i;

	for (i = 0; i < count; i++) {
		buf_truncate(&b, 0);
		if (!entry_path(path, sizeof path, dir, list[i].name) || !file_read_path(path, &b))
			die_sys("unable to read %s", path);
		if (i)
			putchar('\n');
		if (b.len)
			fwrite(b.data, 1, b.len, stdout);
		if (b.len && b.data[b.len - 1] != '\n')
			putchar('\n');
	}
	buf_free(&b);
	if (fflush(stdout) != 0 || ferror(stdout))
		die_sys("unable to write the telegrams");
}

static void telegram_remove(const char *dir, const struct telegram_entry *list, size_t count)
{
	char path[PATH_MAX];
	size_t i;

	for (i = 0; i < count; i++) {
		if (!entry_path(path, sizeof path, dir, list[i].name) || (unlink(path) != 0 && errno != ENOENT))
			die_sys("unable to remove %s", path);
	}
	if (count && !file_fsync_dir(dir))
		die_sys("unable to sync %s", dir);
}

int main(int argc, char **argv)
{
	struct telegram_entry *list;
	char rel[64], dir[PATH_MAX];
	unsigned long usernum;
	size_t count, i;
	int opt, keep = 0;

	log_set_program("bbsmail-telegram");
	while ((opt = getopt(argc, argv, "kd:")) != -1) {
		switch (opt) {
		case 'k': keep = 1; break;
		case 'd': home_set(optarg); break;
		default: die_usage(USAGE);
		}
	}
	if (optind + 1 != argc)
		die_usage(USAGE);
	usernum = telegram_user(argv[optind]);
	snprintf(rel, sizeof rel, "%s/%lu", SPOOL_TELEGRAM_DIR, usernum);
	xhome_path(dir, sizeof dir, rel);
	list = telegram_scan(dir, &count);
	telegram_show(dir, list, count);
	if (!keep)
		telegram_remove(dir, list, count);
	for (i = 0; i < count; i++)
		free(list[i].name);
	free(list);
	return 0;
}
