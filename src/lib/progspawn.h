/* progspawn: starts a program that judges mail (a mail processor, a content
 * filter), never through a shell. */
#ifndef BBSMAIL_PROGSPAWN_H
#define BBSMAIL_PROGSPAWN_H
#include <sys/types.h>

/* Runs path with argv and envp: fd 0 is in_fd (-1: /dev/null), fd 1 is
 * out_fd, fd 2 the caller's, and no other descriptor; its own process
 * group (so a kill of the group reaches what it started), the signal mask
 * cleared and SIGPIPE back to the default (the receivers ignore it).
 * posix_spawn, not fork: a fork copies the caller's page tables and makes
 * its next writes fault, for a child that only execs.  The pid, or -1 with
 * errno (also when the program could not be run). */
pid_t spawn_program(const char *path, char *const argv[], char *const envp[], int in_fd, int out_fd);

#endif
