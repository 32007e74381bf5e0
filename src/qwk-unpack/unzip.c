/* The REP archive: its member list and the one member we read, through
 * Debian's unzip started with an argv (never a shell). */
#include "unpack.h"
#include "log.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#define UNZIP_PROGRAM "/usr/bin/unzip"

/* Runs unzip with argv, its stdout into out (at most max bytes: more
 * fails with EFBIG).  1 when it exited 0. */
static int run_unzip(char *const *argv, struct buf *out, size_t max)
{
	int fds[2], status, ok = 1, devnull;
	char chunk[65536];
	ssize_t n;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) < 0 || (pid = fork()) < 0)
		die_sys("unable to start %s", UNZIP_PROGRAM);
	if (pid == 0) {
		devnull = open("/dev/null", O_RDONLY);
		if (dup2(fds[1], 1) < 0 || devnull < 0 || dup2(devnull, 0) < 0)
			_exit(127);
		execv(UNZIP_PROGRAM, argv);
		_exit(127);
	}
	close(fds[1]);
	while ((n = read(fds[0], chunk, sizeof chunk)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || out->len + (size_t)n > max || !buf_cat(out, chunk, (size_t)n)) {
			ok = 0;
			break;
		}
	}
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			die_sys("unable to wait for %s", UNZIP_PROGRAM);
	return ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* A member name must be a plain file name: no directory part, no "..",
 * nothing a path could be made of. */
static int member_name_safe(const char *name)
{
	const unsigned char *p;

	if (!*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return 0;
	for (p = (const unsigned char *)name; *p; p++)
		if (*p == '/' || *p == '\\' || *p < 0x20 || *p == 0x7f || *p == ':')
			return 0;
	return 1;
}

int rep_read_msg(const char *rep, const char *hub, struct buf *msg, char *problem, size_t size)
{
	char *list_argv[] = { "unzip", "-Z1", (char *)rep, NULL };
	char member[64], *line, *next;
	struct buf list = BUF_INIT;
	int found = 0;

	snprintf(member, sizeof member, "%s.MSG", hub);
	if (!run_unzip(list_argv, &list, 1 << 20) || !buf_catc(&list, 0)) {
		snprintf(problem, size, "%s: not a readable zip archive", rep);
		buf_free(&list);
		return 0;
	}
	for (line = list.data; *line; line = next) {
		next = strchr(line, '\n');
		next = next ? (*next = 0, next + 1) : line + strlen(line);
		if (!member_name_safe(line)) {
			snprintf(problem, size, "%s: member name with a path or control bytes refused", rep);
			buf_free(&list);
			return 0;
		}
		if (strcasecmp(line, member) == 0 && !found) {
			snprintf(member, sizeof member, "%s", line);
			found = 1;
		}
	}
	buf_free(&list);
	if (!found) {
		snprintf(problem, size, "%s: no %s.MSG in the archive", rep, hub);
		return 0;
	}
	{
		char *msg_argv[] = { "unzip", "-p", "-qq", (char *)rep, member, NULL };
		if (!run_unzip(msg_argv, msg, REP_MSG_MAX_BYTES)) {
			snprintf(problem, size, "%s: unable to extract %s (damaged, or over %d MiB)", rep, member,
				 REP_MSG_MAX_BYTES >> 20);
			return 0;
		}
	}
	return 1;
}
