#include "home.h"
#include "log.h"
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#ifndef BBSMAIL_DEFAULT_HOME
#define BBSMAIL_DEFAULT_HOME "/var/lib/bbsmail"
#endif

static const char *home_override;
static int home_shared_cached = -1;

void home_set(const char *dir)
{
	home_override = dir;
	home_shared_cached = -1;
}

const char *home_dir(void)
{
	const char *env;

	if (home_override)
		return home_override;
	env = getenv("BBSMAIL_HOME");
	if (env && *env)
		return env;
	return BBSMAIL_DEFAULT_HOME;
}

int home_path(char *out, size_t size, const char *relative)
{
	int n = snprintf(out, size, "%s/%s", home_dir(), relative);

	if (n < 0 || (size_t)n >= size) {
		errno = ENAMETOOLONG;
		return 0;
	}
	return 1;
}

void xhome_path(char *out, size_t size, const char *relative)
{
	if (!home_path(out, size, relative))
		die_temp("path too long: %s/%s", home_dir(), relative);
}

int home_shared(void)
{
	char path[PATH_MAX];
	struct stat st;

	if (home_shared_cached < 0)
		home_shared_cached = home_path(path, sizeof path, "spool") && stat(path, &st) == 0
				     && (st.st_mode & S_ISGID);
	return home_shared_cached;
}

unsigned home_file_mode(void) { return home_shared() ? 0660 : 0600; }

unsigned home_dir_mode(void) { return home_shared() ? 0770 : 0700; }

void home_umask(void)
{
	if (home_shared())
		umask(007);
}
