/* cache: the wire sizes and spam marks pop3d learned by reading message
 * files, kept in <mailbox>/bbsmail-pop3.cache so the next session answers
 * LIST without opening 10,000 files (Dovecot keeps the same facts in its
 * index).  One line per message in snapshot order, after a version line:
 *     <base name> <wire size> <file size> <spam 0|1>
 * The base name (before ':') survives the move to cur/.  The file is only an
 * optimisation: a missing, stale or damaged cache costs reads, never
 * correctness, so it is rewritten without fsync. */
#ifndef BBSMAIL_POP3D_CACHE_H
#define BBSMAIL_POP3D_CACHE_H
#include "mailbox.h"

#define CACHE_FILE "bbsmail-pop3.cache"
#define CACHE_VERSION_LINE "bbsmail-pop3-cache 1"

/* Copies what the cache knows into the sorted snapshot (a merge, so memory
 * stays flat); *stale counts cache lines for files that are gone. */
void cache_merge(struct mailbox *box, size_t *stale);
/* Rewrites the cache from the snapshot (tmp file, rename).  1 ok, 0 errno. */
int cache_write(const struct mailbox *box);

#endif
