#include "privdrop.h"
#include "log.h"
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The receivers are static: glibc's NSS would load the system's shared
 * modules into them (libnss_systemd crashes there), so the user and its
 * groups are read from /etc/passwd and /etc/group with the plain file
 * readers, which is where a mail system's own users live. */
#define PRIVDROP_PASSWD "/etc/passwd"
#define PRIVDROP_GROUP "/etc/group"

static int privdrop_find_user(const char *user, uid_t *uid, gid_t *gid)
{
	FILE *f = fopen(PRIVDROP_PASSWD, "re");
	struct passwd *pw;
	int found = 0;

	if (!f)
		die_sys("-u %s: unable to open %s", user, PRIVDROP_PASSWD);
	while (!found && (pw = fgetpwent(f))) {
		if (strcmp(pw->pw_name, user) == 0) {
			*uid = pw->pw_uid;
			*gid = pw->pw_gid;
			found = 1;
		}
	}
	fclose(f);
	return found;
}

/* Every group listing user, after its passwd group.  *count set. */
static gid_t *privdrop_groups(const char *user, gid_t primary, size_t *count)
{
	FILE *f = fopen(PRIVDROP_GROUP, "re");
	gid_t *gids = malloc(sizeof *gids), *more;
	size_t n = 1, i;
	struct group *gr;

	if (!gids)
		die_nomem();
	gids[0] = primary;
	if (!f)
		die_sys("-u %s: unable to open %s", user, PRIVDROP_GROUP);
	while ((gr = fgetgrent(f))) {
		for (i = 0; gr->gr_mem && gr->gr_mem[i]; i++)
			if (strcmp(gr->gr_mem[i], user) == 0 && gr->gr_gid != primary)
				break;
		if (!gr->gr_mem || !gr->gr_mem[i])
			continue;
		if (!(more = realloc(gids, (n + 1) * sizeof *gids)))
			die_nomem();
		gids = more;
		gids[n++] = gr->gr_gid;
	}
	fclose(f);
	*count = n;
	return gids;
}

void xprivdrop(const char *user)
{
	uid_t uid;
	gid_t gid, *gids;
	size_t count;

	if (!privdrop_find_user(user, &uid, &gid))
		die_temp("-u %s: no such user in %s", user, PRIVDROP_PASSWD);
	if (uid == 0)
		die_temp("-u %s: refusing to run as root", user);
	if (getuid() == uid && geteuid() == uid)
		return;
	if (geteuid() != 0)
		die_temp("-u %s: running as uid %lu, neither root nor %s", user, (unsigned long)geteuid(), user);
	gids = privdrop_groups(user, gid, &count);
	if (setgroups(count, gids) != 0 || setgid(gid) != 0 || setuid(uid) != 0)
		die_sys("-u %s: unable to become %s", user, user);
	free(gids);
	/* setuid as root drops the saved uid too: getting it back must fail. */
	if (setuid(0) == 0 || geteuid() != uid || getegid() != gid)
		die_temp("-u %s: privileges not dropped", user);
}
