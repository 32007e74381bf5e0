#include "tlsproxy.h"
#include "home.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TLSPROXY_NUMBER_BYTES 24

extern char **environ;

void tlsproxy_init(struct tlsproxy *p)
{
	p->pid = 0;
	p->fd = -1;
	p->attached = 0;
}

/* libexec/tlsproxy: the directory of our own program file, so a checkout,
 * a test home and an installed tree each use their own build. */
static int tlsproxy_path(char *out, size_t size)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	char *slash;

	if (n <= 0)
		return 0;
	self[n] = 0;
	slash = strrchr(self, '/');
	if (!slash) {
		errno = ENOENT;
		return 0;
	}
	*slash = 0;
	if ((size_t)snprintf(out, size, "%s/%s", self, TLSPROXY_PROGRAM) >= size) {
		errno = ENAMETOOLONG;
		return 0;
	}
	return 1;
}

/* Seconds from now to deadline_ms, rounded up, plus the grace; "0" none. */
static void tlsproxy_seconds(char *out, long long value_sec)
{
	snprintf(out, TLSPROXY_NUMBER_BYTES, "%lld", value_sec > 0 ? value_sec + TLSPROXY_GRACE_SEC : 0);
}

static long long tlsproxy_deadline_left(long long deadline_ms)
{
	long long left;

	if (!deadline_ms)
		return 0;
	left = deadline_ms - conn_now_ms();
	return left > 0 ? (left + 999) / 1000 : 1;
}

/* In the child: fd 3 is our socketpair end, nothing else of the receiver's
 * stays open, then the fixed argv. */
static void tlsproxy_exec(const char *path, int fd, char *const argv[])
{
	char line[PATH_MAX + 64];
	int n;

	if (fd != TLSPROXY_STATUS_FD ? dup2(fd, TLSPROXY_STATUS_FD) < 0
				     : fcntl(fd, F_SETFD, 0) < 0)
		_exit(111);
	(void)syscall(SYS_close_range, TLSPROXY_STATUS_FD + 1, ~0U, 0);
	execve(path, argv, environ);
	n = snprintf(line, sizeof line, TLSPROXY_FAIL "unable to run %s: %s\n", path, strerror(errno));
	if (n > 0)
		(void)!write(TLSPROXY_STATUS_FD, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
	_exit(111);
}

static int tlsproxy_spawn(struct tlsproxy *p, const char *path, char *const argv[])
{
	int sp[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) != 0)
		return 0;
	p->pid = fork();
	if (p->pid < 0) {
		close(sp[0]);
		close(sp[1]);
		p->pid = 0;
		return 0;
	}
	if (p->pid == 0)
		tlsproxy_exec(path, sp[1], argv);
	close(sp[1]);
	p->fd = sp[0];
	return 1;
}

/* One status line from fd within until_ms, without reading past its LF
 * (what follows belongs to the session): peek, then read exactly the line.
 * 1 ok (line NUL-terminated, LF removed), 0 with a message. */
static int tlsproxy_status(int fd, long long until_ms, char *line, size_t size, char *error, size_t error_size)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	struct timespec pause = { 0, 1000000 };
	long long left;
	ssize_t n;
	char *lf;

	for (;;) {
		left = until_ms - conn_now_ms();
		if (left <= 0) {
			snprintf(error, error_size, "tlsproxy: no status line: timed out");
			return 0;
		}
		if (poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left) < 0 && errno != EINTR)
			break;
		n = recv(fd, line, size - 1, MSG_PEEK | MSG_DONTWAIT);
		if (n == 0) {
			snprintf(error, error_size, "tlsproxy ended without a status line");
			return 0;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			break;
		if (n < 0)
			continue;
		lf = memchr(line, '\n', (size_t)n);
		if (lf) {
			n = read(fd, line, (size_t)(lf - line) + 1);
			if (n != lf - line + 1)
				break;
			*lf = 0;
			return 1;
		}
		if ((size_t)n == size - 1) {
			snprintf(error, error_size, "tlsproxy: status line too long");
			return 0;
		}
		nanosleep(&pause, NULL); /* half a line: the rest is on its way */
	}
	snprintf(error, error_size, "tlsproxy: unable to read its status line: %s", strerror(errno));
	return 0;
}

/* "fail <reason>" -> reason; anything else is reported as it came. */
static void tlsproxy_failure(const char *line, char *error, size_t size)
{
	if (!strncmp(line, TLSPROXY_FAIL, strlen(TLSPROXY_FAIL)))
		snprintf(error, size, "%s", line + strlen(TLSPROXY_FAIL));
	else
		snprintf(error, size, "tlsproxy: unexpected status line: %.200s", line);
}

static void tlsproxy_close(struct tlsproxy *p)
{
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	(void)tlsproxy_finish(p);
}

int tlsproxy_start(struct tlsproxy *p, const char *session, int idle_sec, long long deadline_ms,
		   const struct tls_files *files, char *error, size_t error_size)
{
	char path[PATH_MAX], idle[TLSPROXY_NUMBER_BYTES], deadline[TLSPROXY_NUMBER_BYTES];
	char line[TLSPROXY_STATUS_MAX_BYTES];
	char *argv[] = { TLSPROXY_PROGRAM, "-d", (char *)home_dir(), (char *)session, idle, deadline,
			 (char *)files->cert, (char *)files->key, (char *)files->ca, (char *)files->dcert,
			 (char *)files->dkey, NULL };

	tlsproxy_init(p);
	/* A SIGCHLD ignored by whoever started us would reap the proxy behind
	 * our back, and tlsproxy_finish could not tell how it ended. */
	signal(SIGCHLD, SIG_DFL);
	tlsproxy_seconds(idle, idle_sec);
	tlsproxy_seconds(deadline, tlsproxy_deadline_left(deadline_ms));
	if (!tlsproxy_path(path, sizeof path) || !tlsproxy_spawn(p, path, argv)) {
		snprintf(error, error_size, "unable to start tlsproxy: %s", strerror(errno));
		return 0;
	}
	/* Loading a key takes milliseconds; the bound is for a broken proxy. */
	if (!tlsproxy_status(p->fd, conn_now_ms() + 1000LL * TLS_HANDSHAKE_DEFAULT_TIMEOUT_SEC, line, sizeof line,
			     error, error_size)) {
		tlsproxy_close(p);
		return 0;
	}
	if (strcmp(line, TLSPROXY_READY) != 0) {
		tlsproxy_failure(line, error, error_size);
		tlsproxy_close(p);
		return 0;
	}
	return 1;
}

/* A token of the status line: letters, digits and "._-" only, because it
 * goes into the Received header and the log. */
static int tlsproxy_token_ok(const char *t)
{
	return *t && strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == strlen(t);
}

/* "ok <version> <cipher> <bits>" -> "<version> cipher <cipher> bits <bits>". */
static int tlsproxy_parse_ok(const char *line, char *info, size_t size)
{
	char version[64], cipher[128], bits[16], extra;

	if (strncmp(line, TLSPROXY_OK, strlen(TLSPROXY_OK)) != 0
	    || sscanf(line + strlen(TLSPROXY_OK), "%63s %127s %15s %c", version, cipher, bits, &extra) != 3
	    || !tlsproxy_token_ok(version) || !tlsproxy_token_ok(cipher)
	    || strspn(bits, "0123456789") != strlen(bits))
		return 0;
	return (size_t)snprintf(info, size, "%s cipher %s bits %s", version, cipher, bits) < size;
}

int tlsproxy_start_server(struct tlsproxy *p, const struct mail_config *cfg, const struct smtpserver_conf *conf,
			  const char *session, int idle_sec, long long deadline_ms, char *error, size_t error_size)
{
	/* Five paths of PATH_MAX: not on the receiver's stack. */
	struct tls_files *f = malloc(sizeof *f);
	int ok = f && tls_server_files(cfg, conf, f, error, error_size)
		 && tlsproxy_start(p, session, idle_sec, deadline_ms, f, error, error_size);

	if (!f)
		snprintf(error, error_size, "out of memory");
	free(f);
	return ok;
}

int tlsproxy_attach(struct tlsproxy *p, struct conn *c, int idle_sec, size_t *discarded, char *info,
		    size_t info_size, char *error, size_t error_size)
{
	char line[TLSPROXY_STATUS_MAX_BYTES];
	long long wait_sec = (idle_sec > 0 ? idle_sec : TLS_HANDSHAKE_DEFAULT_TIMEOUT_SEC) + TLSPROXY_GRACE_SEC;
	int ok;

	*info = 0;
	*discarded = 0;
	if (!conn_flush(c)) {
		snprintf(error, error_size, "unable to write before TLS: %s", strerror(errno));
		return 0;
	}
	*discarded = conn_buffered(c);
	conn_discard_input(c);
	if (dup2(p->fd, 0) < 0 || dup2(p->fd, 1) < 0) {
		snprintf(error, error_size, "unable to hand the connection to tlsproxy: %s", strerror(errno));
		p->attached = 1; /* fd 0 may already be it */
		close(p->fd);
		p->fd = -1;
		return 0;
	}
	close(p->fd);
	p->fd = -1;
	p->attached = 1;
	c->fd_in = 0;
	c->fd_out = 1;
	if (!tlsproxy_status(0, conn_now_ms() + 1000 * wait_sec, line, sizeof line, error, error_size))
		return 0;
	ok = tlsproxy_parse_ok(line, info, info_size);
	if (!ok)
		tlsproxy_failure(line, error, error_size);
	return ok;
}

/* Waits for pid up to ms: a pidfd when the kernel has them, so the wait
 * ends the moment the proxy does. 1 reaped, 0 not yet. */
static int tlsproxy_wait(pid_t pid, int ms, int *status)
{
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	struct pollfd pfd;

	if (pidfd >= 0) {
		pfd.fd = pidfd;
		pfd.events = POLLIN;
		(void)poll(&pfd, 1, ms);
		close(pidfd);
		return waitpid(pid, status, WNOHANG) == pid;
	}
	for (; ms > 0; ms -= 10) {
		if (waitpid(pid, status, WNOHANG) == pid)
			return 1;
		usleep(10000);
	}
	return waitpid(pid, status, WNOHANG) == pid;
}

int tlsproxy_finish(struct tlsproxy *p)
{
	int status = 0;

	if (p->pid <= 0)
		return -1;
	if (p->attached) {
		close(0);
		close(1);
		p->attached = 0;
	}
	if (!tlsproxy_wait(p->pid, TLSPROXY_EXIT_WAIT_MS, &status)) {
		kill(p->pid, SIGKILL);
		(void)waitpid(p->pid, &status, 0);
		p->pid = 0;
		return -1;
	}
	p->pid = 0;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}
