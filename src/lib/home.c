#include "home.h"
#include "log.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#ifndef BBSMAIL_DEFAULT_HOME
#define BBSMAIL_DEFAULT_HOME "/var/lib/bbsmail"
#endif

static const char *home_override;

void home_set(const char *dir) { home_override = dir; }

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
