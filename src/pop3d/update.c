/* The UPDATE state (RFC 1939 §6): only after QUIT.  A dropped connection or
 * a crash never gets here, so nothing is deleted or moved then. */
#include "mailbox.h"
#include "spool.h"
#include "log.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The info part with S added, flags kept in ASCII order (the Maildir info rule). */
static int seen_info(const char *info, char *out, size_t size)
{
	char flags[64];
	size_t n = 0;
	const char *p;
	int added = 0, r;

	if (info && strncmp(info, ":2,", 3) == 0)
		for (p = info + 3; *p && n + 2 < sizeof flags; p++) {
			if (!added && *p > 'S') {
				flags[n++] = 'S';
				added = 1;
			}
			if (*p != 'S')
				flags[n++] = *p;
		}
	if (!added)
		flags[n++] = 'S';
	flags[n] = 0;
	r = snprintf(out, size, ":2,%s", flags);
	return r > 0 && (size_t)r < size;
}

/* new/<name> -> cur/<base>:2,S, or cur/<name> gains S. */
static int mailbox_mark_seen(const struct mailbox *box, size_t i)
{
	char from[PATH_MAX], to[PATH_MAX], info[80];
	const char *name = mailbox_name(box, i);
	size_t base = mailbox_base_len(name);
	int n;

	if (!mailbox_file_path(box, i, from, sizeof from) || !seen_info(name[base] ? name + base : NULL, info, sizeof info))
		return 0;
	n = snprintf(to, sizeof to, "%s/cur/%.*s%s", box->path, (int)base, name, info);
	if (n < 0 || (size_t)n >= sizeof to) {
		errno = ENAMETOOLONG;
		return 0;
	}
	return rename(from, to) == 0;
}

size_t mailbox_update(struct mailbox *box)
{
	char path[PATH_MAX];
	struct message *m;
	size_t i, failed = 0;

	for (i = 0; i < box->count; i++) {
		m = &box->messages[i];
		if (m->flags & MESSAGE_DELETED) {
			/* Into the spool's trash, not unlinked: the next spool write
			 * recycles the inode (spool_retire), which keeps creates and
			 * unlinks (each slow on a discard-mounted ext4) off the mail
			 * path once users read their mail. */
			if (!mailbox_file_path(box, i, path, sizeof path) || (!spool_retire(path) && errno != ENOENT)) {
				log_warn("unable to remove %s/%s: %s", box->path, mailbox_name(box, i), strerror(errno));
				failed++;
			}
		} else if ((m->flags & MESSAGE_RETRIEVED) && !(m->flags & MESSAGE_SEEN)) {
			if (!mailbox_mark_seen(box, i) && errno != ENOENT)
				log_warn("unable to mark %s/%s seen: %s", box->path, mailbox_name(box, i), strerror(errno));
		}
	}
	return failed;
}
