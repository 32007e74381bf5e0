/* qwkspool: a QWKnet node's directory spool/qwk/<ID>/ (spool(5), "Q"
 * states): new/ (queued messages, one file each, its QWK blocks), packed/
 * (the messages in the packet waiting in out/), out/ (the packet),
 * import/ (a REP being imported), packed.log (names that went into a
 * packet, so a rerun of deliver-qwk never queues one again) and lock (held
 * by qwk-pack and qwk-unpack). */
#ifndef BBSMAIL_QWKSPOOL_H
#define BBSMAIL_QWKSPOOL_H
#include <stddef.h>

enum qwkspool_sub { QWKSPOOL_NODE, QWKSPOOL_NEW, QWKSPOOL_PACKED, QWKSPOOL_OUT, QWKSPOOL_IMPORT };
#define QWKSPOOL_LOG "packed.log"
#define QWKSPOOL_LOCK "lock"

/* "spool/qwk/<ID>[/<sub>]", relative to the home.  1 ok, 0 ENAMETOOLONG
 * or EINVAL (id not a QWK id). */
int qwkspool_dir(char *out, size_t size, const char *id, enum qwkspool_sub sub);
/* The absolute path of a file in one of them. */
int qwkspool_path(char *out, size_t size, const char *id, enum qwkspool_sub sub, const char *name);
/* Makes every directory of the node.  1 ok, 0 errno. */
int qwkspool_make_dirs(const char *id);
/* 1 when <sub>/<name> exists, 0 when not (or unknown). */
int qwkspool_has(const char *id, enum qwkspool_sub sub, const char *name);
/* Takes the node's lock (flock, waits).  The fd, or -1 (errno). */
int qwkspool_lock(const char *id);
/* Appends names to packed.log and fsyncs it.  1 ok, 0 errno. */
int qwkspool_log_add(const char *id, char *const *names, size_t count);
/* 1 when name is in packed.log, 0 not, -1 error. */
int qwkspool_log_has(const char *id, const char *name);

#endif
