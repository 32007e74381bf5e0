/* mailproc-spamc: a mail processor for smtpd (antispam(5), "MAIL
 * PROCESSORS") that asks SpamAssassin's spamd through Debian's spamc.  It
 * runs spamc with execv on the message file as its stdin, its output (the
 * message with spamd's X-Spam-* header fields) to a new file beside it,
 * and renames that over the message.  Exit 0 not spam, 1 spam, 2 spamc
 * failed (the file is left as it was); mailproc-spamc(8). */
#include "log.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define SPAMC_DEFAULT_PATH "/usr/bin/spamc"
#define SPAMC_ARGS_MAX 64
#define MAILPROC_SPAMC_FAILED 2   /* not one of smtpd's answers: the line's onerror= applies */

static const char usage[] = "mailproc-spamc [--spamc=PATH] [spamc-option ...] FILE";

/* Every failure, bad usage too, exits MAILPROC_SPAMC_FAILED: to smtpd 100
 * and 111 mean "refuse the message", and a broken line of mailproc.cfg
 * must not refuse mail. */
static void usage_fail(void)
{
	log_error("usage: %s", usage);
	exit(MAILPROC_SPAMC_FAILED);
}

static void fail(const char *what, const char *path)
{
	log_error("unable to %s %s: %s", what, path, strerror(errno));
	exit(MAILPROC_SPAMC_FAILED);
}

/* spamc -x -E [options]: -E exits 1 for spam, -x gives an error status
 * instead of the unchanged message when spamd cannot be asked. */
static void build_argv(int argc, char **argv, const char **spamc, char **out)
{
	int i = 1, n = 0;

	*spamc = SPAMC_DEFAULT_PATH;
	if (i < argc && strncmp(argv[i], "--spamc=", 8) == 0)
		*spamc = argv[i++] + 8;
	if (argc - i - 1 > SPAMC_ARGS_MAX - 4)
		usage_fail();
	out[n++] = "spamc";
	out[n++] = "-x";
	out[n++] = "-E";
	for (; i < argc - 1; i++)
		out[n++] = argv[i];
	out[n] = NULL;
}

/* spamc with the message on stdin and the new file on stdout; its exit
 * status, or -1. */
static int spamc_run(const char *spamc, char **args, int in_fd, int out_fd)
{
	pid_t pid = fork();
	int status;

	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0)
			_exit(126);
		execv(spamc, args);
		log_warn("unable to run %s: %s", spamc, strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int main(int argc, char **argv)
{
	char *args[SPAMC_ARGS_MAX], new_path[PATH_MAX];
	const char *spamc, *file;
	struct stat st;
	int in_fd, out_fd, r;

	log_set_program("mailproc-spamc");
	if (argc < 2)
		usage_fail();
	file = argv[argc - 1];
	build_argv(argc, argv, &spamc, args);
	if (snprintf(new_path, sizeof new_path, "%s.spamc", file) >= (int)sizeof new_path)
		usage_fail();
	in_fd = open(file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (in_fd < 0)
		fail("open", file);
	out_fd = open(new_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out_fd < 0)
		fail("create", new_path);
	r = spamc_run(spamc, args, in_fd, out_fd);
	close(in_fd);
	if (close(out_fd) != 0 || (r != 0 && r != 1) || stat(new_path, &st) != 0 || st.st_size == 0
	    || rename(new_path, file) != 0) {
		log_warn("spamc failed (status %d): %s left unchanged", r, file);
		unlink(new_path);
		return MAILPROC_SPAMC_FAILED;
	}
	return r;
}
