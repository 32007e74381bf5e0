/* bbsmail-freezer: the sysop's view of spool/freezer/, where smtpd puts a
 * message its content filter froze (answer "1"): list them, release one
 * into spool/incoming/ (route then takes it as if just received), or
 * delete one.  bbsmail-freezer(1). */
#include "envelope.h"
#include "file.h"
#include "home.h"
#include "log.h"
#include "spool.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define USAGE "bbsmail-freezer [-d DIR] -l | -R ID | -D ID"
#define FREEZER_DIR "spool/freezer"   /* SPOOL_FREEZER_DIR in src/smtpd/smtpd-contentfilter.h */

/* An id names a file of the directory and nothing else. */
static int id_valid(const char *id)
{
	return *id && *id != '.' && !strchr(id, '/') && strlen(id) < SPOOL_ID_MAX_BYTES;
}

static void path_of(char *out, size_t size, const char *dir, const char *id)
{
	char rel[PATH_MAX];

	if ((size_t)snprintf(rel, sizeof rel, "%s/%s", dir, id) >= sizeof rel)
		die_perm("id too long: %s", id);
	xhome_path(out, size, rel);
}

/* "<id> <size> <sender> <recipients>" for each frozen message. */
static int freezer_list(void)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct dirent *d;
	struct envelope e;
	struct stat st;
	DIR *dh;

	xhome_path(dir, sizeof dir, FREEZER_DIR);
	if (!(dh = opendir(dir)))
		return errno == ENOENT ? 0 : (die_sys("unable to open %s", dir), 0);
	while ((d = readdir(dh))) {
		if (!id_valid(d->d_name))
			continue;
		path_of(path, sizeof path, FREEZER_DIR, d->d_name);
		envelope_init(&e);
		if (stat(path, &st) != 0 || !envelope_load(path, &e)) {
			printf("%s unreadable\n", d->d_name);
		} else {
			printf("%s %lld <%s> %zu\n", d->d_name, (long long)st.st_size, e.sender, e.rcpt_count);
		}
		envelope_free(&e);
	}
	closedir(dh);
	return 0;
}

/* Into spool/incoming/ (one rename: both are in the spool), made durable,
 * and runq woken. */
static int freezer_release(const char *id)
{
	char from[PATH_MAX], to[PATH_MAX], dir[PATH_MAX];

	path_of(from, sizeof from, FREEZER_DIR, id);
	path_of(to, sizeof to, SPOOL_INCOMING_DIR, id);
	xhome_path(dir, sizeof dir, SPOOL_INCOMING_DIR);
	/* Never over a message of that name already there. */
	if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) != 0) {
		if (errno == EEXIST)
			die_perm("%s exists already", to);
		die_sys("unable to move %s to %s", from, to);
	}
	if (!file_fsync_dir(dir))
		die_sys("unable to sync %s", dir);
	spool_poke_trigger();
	log_notice("id=%s event=freezer-release", id);
	return 0;
}

static int freezer_delete(const char *id)
{
	char path[PATH_MAX];

	path_of(path, sizeof path, FREEZER_DIR, id);
	if (unlink(path) != 0)
		die_sys("unable to remove %s", path);
	log_notice("id=%s event=freezer-delete", id);
	return 0;
}

int main(int argc, char **argv)
{
	int opt, list = 0;
	const char *release = NULL, *delete = NULL;

	log_set_program("bbsmail-freezer");
	while ((opt = getopt(argc, argv, "d:lR:D:")) != -1) {
		switch (opt) {
		case 'd': home_set(optarg); break;
		case 'l': list = 1; break;
		case 'R': release = optarg; break;
		case 'D': delete = optarg; break;
		default: die_usage(USAGE);
		}
	}
	if (optind != argc || list + !!release + !!delete != 1)
		die_usage(USAGE);
	if ((release && !id_valid(release)) || (delete && !id_valid(delete)))
		die_perm("not a message id: %s", release ? release : delete);
	if (list)
		return freezer_list();
	return release ? freezer_release(release) : freezer_delete(delete);
}
