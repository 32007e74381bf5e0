/* listcache: the compiled form of a long list file (etc/spamblock.cfg,
 * etc/email.can, ...; antispam(5)), so that a session asks a few keys of a
 * GDBM file instead of parsing 100,000 lines.
 *
 * The form of <home>/etc/<name> for one kind of question (hostlist's
 * "client", "address", "pattern": each compiles the lines its own way and
 * warns about its own malformed lines) is
 * <home>/spool/data/lists/<name>.<kind> ('/' in a deeper name becomes
 * '_'), under spool/data because a receiver may write there and not in
 * etc/.  It holds the identity of the source it was built from (device,
 * inode, size, modification and change times with nanoseconds); a use
 * whose stat(2) of the source differs rebuilds it.  A build writes
 * <form>.tmp<pid> and renames it over the form, so a reader never sees a
 * half-built form and two builders at once each leave a whole one.
 *
 * A source changed less than LISTCACHE_SETTLE_SEC ago is parsed line by
 * line and not compiled: file times come from a coarse clock (a tick, or
 * a whole second on some file systems), so a write landing in the same
 * tick as the build's read, with the same size, would leave the form's
 * identity equal to the new file's.  After that second any later write
 * has a later change time.
 *
 * Why GDBM and not a format of our own: it is already the store of
 * spool/data, opening a form costs one open and a few reads, and a
 * lookup is a hash probe; a form here is rebuilt from its source, never
 * edited, so readers open it without locks (GDBM_NOLOCK). */
#ifndef BBSMAIL_LISTCACHE_H
#define BBSMAIL_LISTCACHE_H
#include "buf.h"
#include "listfile.h"
#include <gdbm.h>
#include <stddef.h>

#define LISTCACHE_SETTLE_SEC 1
#define LISTCACHE_DIR "spool/data/lists"

/* What listcache_open found. */
#define LISTCACHE_EMPTY 0     /* no source file: nobody is listed */
#define LISTCACHE_PARSE 1     /* parse the source line by line */
#define LISTCACHE_READY 2     /* c->db is the current form */

struct listcache {
	GDBM_FILE db;                  /* the form being read or built */
	int kept;                      /* db stays open for the next use */
	const char *relative;          /* the source, under the home */
	unsigned long keys;            /* stored by the build so far */
};

/* Fills the form being built from the source's lines (listfile_next on
 * lf, which warns about its own bad lines) with listcache_put: 1 done, 0
 * a put failed (errno), -1 the source could not be read. */
typedef int listcache_compile_fn(struct listcache *c, struct listfile *lf, void *ctx);

/* Opens the current form of <home>/<relative> for kind, building it with
 * compile (reading the source with listfile flags) when it is missing or
 * stale.  A source under min_bytes, or min_bytes -1, is left to the parse;
 * so is one that cannot be stat'ed (the parse reports why), and one whose
 * form cannot be written (logged as a warning). */
int listcache_open(struct listcache *c, const char *relative, const char *kind, long min_bytes, unsigned flags,
		   listcache_compile_fn *compile, void *ctx);
void listcache_close(struct listcache *c);
/* Sets the settling time (LISTCACHE_SETTLE_SEC by default).  0 compiles a
 * source however new, and is only for the fuzz harness, whose files are
 * all new and which removes every form before it asks again; it also
 * closes and stops keeping the forms a process keeps open between uses. */
void listcache_set_settle_sec(long sec);
/* Stores key with value in the form being built: 1 ok, 0 errno. */
int listcache_put(struct listcache *c, const void *key, size_t key_len, const void *value, size_t value_len);
/* Whether the form holds key: 1 yes, 0 no. */
int listcache_has(struct listcache *c, const void *key, size_t key_len);
/* The value of key into out (replaced): 1 found, 0 not (or a read error). */
int listcache_get(struct listcache *c, const void *key, size_t key_len, struct buf *out);

#endif
