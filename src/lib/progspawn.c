#include "progspawn.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>

pid_t spawn_program(const char *path, char *const argv[], char *const envp[], int in_fd, int out_fd)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, pipe_only;
	pid_t pid = -1;
	int err;

	sigemptyset(&none);
	sigemptyset(&pipe_only);
	sigaddset(&pipe_only, SIGPIPE);
	if ((err = posix_spawn_file_actions_init(&fa)) != 0)
		return (errno = err, -1);
	if ((err = posix_spawnattr_init(&at)) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return (errno = err, -1);
	}
	err = in_fd < 0 ? posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0)
			: posix_spawn_file_actions_adddup2(&fa, in_fd, 0);
	err = err ? err : posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
	err = err ? err : posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	err = err ? err : posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK
							     | POSIX_SPAWN_SETSIGDEF);
	err = err ? err : posix_spawnattr_setpgroup(&at, 0);
	err = err ? err : posix_spawnattr_setsigmask(&at, &none);
	err = err ? err : posix_spawnattr_setsigdefault(&at, &pipe_only);
	err = err ? err : posix_spawn(&pid, path, &fa, &at, argv, envp);
	posix_spawnattr_destroy(&at);
	posix_spawn_file_actions_destroy(&fa);
	if (err) {
		errno = err;
		return -1;
	}
	return pid;
}
