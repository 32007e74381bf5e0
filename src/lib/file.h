/* file: generic file I/O that every program shares (the spool, Maildirs,
 * caches): whole writes, whole reads, directory fsync. */
#ifndef BBSMAIL_FILE_H
#define BBSMAIL_FILE_H
#include "buf.h"
#include <stddef.h>

/* write() until all n bytes are out, through EINTR and short writes.
 * 1 ok, 0 errno. */
int file_write_all(int fd, const void *data, size_t n);
/* Reads a whole file into b.  1 ok, 0 errno. */
int file_read_path(const char *path, struct buf *b);
/* The same for a file already open, read with pread from offset 0 without
 * moving the descriptor (a stage's claim).  1 ok, 0 errno. */
int file_read_fd(int fd, struct buf *b);
/* fsyncs a directory, making the entries created or renamed in it
 * durable.  1 ok, 0 errno. */
int file_fsync_dir(const char *dir_path);

/* Makes everything written to the filesystem holding path durable at
 * once: file data, inodes and directory entries (syncfs(2)).  A batch of
 * spool writes pays one wait instead of one fsync per file and directory,
 * which on this disk are served one after the other.  1 ok, 0 errno (a
 * writeback error since the last call is reported, Linux 5.8 and later). */
int file_syncfs(const char *path);

#endif
