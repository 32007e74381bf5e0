/* rusage-log: stands in for a program to count the CPU it uses.  Installed
 * under the program's name (a copy named smtpd, route, ...), it runs
 * $RUSAGE_REAL/<its own name> with the same arguments, waits for it, and
 * appends "<name> <CPU microseconds>" (user + system, the child's and its
 * own children's) to $RUSAGE_LOG in one write; then exits as the child did.
 * It closes its own fd 0 and 1 at once, so a connection on them ends with
 * the child.
 * Its own fork and exec are not counted: only the real program's.  TERM,
 * INT and HUP are passed on to the child.  Built by the bench scripts. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static pid_t child;

static void pass_on(int sig) { kill(child, sig); }

int main(int argc, char **argv)
{
	const char *real = getenv("RUSAGE_REAL"), *log = getenv("RUSAGE_LOG");
	const char *name = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	char path[PATH_MAX], line[256];
	struct rusage ru;
	int status, fd, n;

	(void)argc;
	if (!real || !log || snprintf(path, sizeof path, "%s/%s", real, name) >= (int)sizeof path) {
		fprintf(stderr, "rusage-log: RUSAGE_REAL and RUSAGE_LOG must be set\n");
		return 111;
	}
	child = fork();
	if (child < 0)
		return 111;
	if (child == 0) {
		execv(path, argv);
		fprintf(stderr, "rusage-log: cannot run %s: %s\n", path, strerror(errno));
		_exit(111);
	}
	/* The child alone holds the connection: it closes when the child is done. */
	close(0);
	close(1);
	signal(SIGTERM, pass_on);
	signal(SIGINT, pass_on);
	signal(SIGHUP, pass_on);
	while (wait4(child, &status, 0, &ru) < 0)
		if (errno != EINTR)
			return 111;
	n = snprintf(line, sizeof line, "%s %ld\n", name,
		     (long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000L
		     + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
	fd = open(log, O_WRONLY | O_APPEND | O_CREAT, 0644);
	if (fd >= 0) {
		if (write(fd, line, (size_t)n) != n)
			fprintf(stderr, "rusage-log: short write to %s\n", log);
		close(fd);
	}
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}
