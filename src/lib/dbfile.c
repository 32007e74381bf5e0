#include "dbfile.h"
#include "home.h"
#include <errno.h>
#include <limits.h>
#include <time.h>

void dbfile_sleep_ms(unsigned long ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

GDBM_FILE dbfile_open(const char *relative, int mode)
{
	char path[PATH_MAX];
	unsigned long waited = 0;
	int flags = (mode & DBFILE_WRITE) ? GDBM_WRCREAT : GDBM_READER;
	int create_mode = (int)(home_file_mode() & ((mode & DBFILE_GROUP_WRITE) ? 0777u : 0757u));
	GDBM_FILE f;

	if (mode & DBFILE_SYNC)
		flags |= GDBM_SYNC;
	if (!home_path(path, sizeof path, relative))
		return NULL;
	for (;;) {
		errno = 0;
		f = gdbm_open(path, 0, flags, create_mode, NULL);
		if (f)
			return f;
		if (gdbm_errno != GDBM_CANT_BE_READER && gdbm_errno != GDBM_CANT_BE_WRITER)
			break;
		if (waited >= DBFILE_LOCK_WAIT_MS) {
			errno = EAGAIN;
			return NULL;
		}
		dbfile_sleep_ms(10);
		waited += 10;
	}
	/* A writer that found the disk full may leave the file empty (created,
	 * no header yet); it holds nothing, like a missing one, and the next
	 * writer with room initialises it. */
	if (gdbm_errno == GDBM_EMPTY_DATABASE)
		errno = ENOENT;
	else if (!errno)
		errno = EIO;
	return NULL;
}
