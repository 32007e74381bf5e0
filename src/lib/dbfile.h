/* dbfile: opening the GDBM tables under spool/data (users, failed logins,
 * POP-before-SMTP), the one place that knows GDBM's locking: a reader or a
 * writer that finds another writer's lock waits a little and tries again. */
#ifndef BBSMAIL_DBFILE_H
#define BBSMAIL_DBFILE_H
#include <gdbm.h>

#define DBFILE_LOCK_WAIT_MS 2000

#define DBFILE_READ   0
#define DBFILE_WRITE  1      /* created when missing */
#define DBFILE_SYNC   2      /* with DBFILE_WRITE: every write reaches the disk */
#define DBFILE_GROUP_WRITE 4 /* with DBFILE_WRITE: created writable by the
			      * directory's group in a shared home (home.h);
			      * otherwise only readable by it */

/* Opens <home>/<relative>.  NULL with errno (ENOENT: a reader found no file,
 * or an empty one; EAGAIN: still locked after DBFILE_LOCK_WAIT_MS; EIO
 * otherwise). */
GDBM_FILE dbfile_open(const char *relative, int mode);
/* Sleeps ms milliseconds, through EINTR. */
void dbfile_sleep_ms(unsigned long ms);

#endif
