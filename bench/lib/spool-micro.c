/* spool-micro: what one delivery's file operations cost on this disk, for
 * bench/spool-micro.  Run in an empty scratch directory DIR on the disk
 * under test; it leaves its files there (the script removes DIR), so that
 * no unlink but the measured ones happens during the run.
 *
 * usage: spool-micro DIR OPS ROUNDS UNLINKS IVROUNDS IVWAIT
 *
 * Prints one line per test and round: "TEST ROUND WALL CPU LOAD", WALL and
 * CPU (user + system, getrusage) in microseconds per operation, LOAD the
 * one-minute load average when the round began.  Tests:
 *   create       open O_CREAT|O_EXCL in tmp/, write 4 KiB, fsync, close,
 *                rename into new/, fsync new/
 *   reuse        the same with a file taken from trash/: rename it into
 *                tmp/, overwrite 4 KiB, ftruncate, fsync, close, rename
 *                into new/, fsync new/
 *   link         link(2) an existing (fsynced) 4 KiB file into another
 *                directory, fsync that directory
 *   fresh        create + write 4 KiB + close (no fsync) in a directory of
 *                UNLINKS files, with none of this run's unlinks in the last
 *                IVWAIT seconds
 *   afterunlink  the same right after UNLINKS files of that directory were
 *                unlinked (more than a second before: ext4 counts an inode
 *                as recently deleted from the second after its unlink)
 * The first three take turns, ROUNDS rounds of OPS operations each; then
 * IVROUNDS rounds of fresh and afterunlink, IVWAIT seconds apart, because
 * ext4 without a journal skips inodes freed in the last 60 seconds (more
 * while their inode table block is dirty) when it allocates one.
 * Exit 0, or 111 with a message when an operation fails. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BODY_BYTES 4096

static char body[BODY_BYTES];
static const char *prog = "spool-micro";
/* In the names of DIR's subdirectories: ext4 places a top-level directory
 * by the hash of its name, so fixed names would land every run where the
 * last run's clean-up has just freed inodes. */
static long tag;

static void die(const char *what, const char *path)
{
	fprintf(stderr, "%s: fatal: %s %s: %s\n", prog, what, path, strerror(errno));
	exit(111);
}

static double wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static double cpu_us(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
	       ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

static void load(char *out, size_t size)
{
	FILE *f = fopen("/proc/loadavg", "r");

	if (!f || fscanf(f, "%15s", out) != 1)
		snprintf(out, size, "-");
	if (f)
		fclose(f);
}

static void path(char *out, const char *dir, const char *name, int round, int k)
{
	if ((size_t)snprintf(out, PATH_MAX, "%s/%s.%d.%d", dir, name, round, k) >= PATH_MAX) {
		errno = ENAMETOOLONG;
		die("path", dir);
	}
}

static void xmkdir(const char *dir)
{
	if (mkdir(dir, 0700) != 0)
		die("mkdir", dir);
}

static int xopendir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY);

	if (fd < 0)
		die("open", dir);
	return fd;
}

static void xfsync(int fd, const char *what)
{
	if (fsync(fd) != 0)
		die("fsync", what);
}

/* write_body PATH SYNC: a new file holding the 4 KiB body. */
static void write_body(const char *p, int sync)
{
	int fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0600);

	if (fd < 0)
		die("create", p);
	if (write(fd, body, BODY_BYTES) != BODY_BYTES)
		die("write", p);
	if (sync)
		xfsync(fd, p);
	if (close(fd) != 0)
		die("close", p);
}

struct timing {
	double wall, cpu;
};

static void start(struct timing *t)
{
	t->cpu = cpu_us();
	t->wall = wall_us();
}

static void report(const char *test, int round, int ops, struct timing *t, const char *ld)
{
	double wall = wall_us() - t->wall, cpu = cpu_us() - t->cpu;

	printf("%s %d %.1f %.1f %s\n", test, round, wall / ops, cpu / ops, ld);
	fflush(stdout);
}

static void t_create(const char *d, int round, int ops)
{
	char tmp[PATH_MAX], new[PATH_MAX], a[PATH_MAX], b[PATH_MAX], ld[16];
	struct timing t;
	int k, dfd;

	snprintf(tmp, sizeof tmp, "%s/create.%ld/tmp", d, tag);
	snprintf(new, sizeof new, "%s/create.%ld/new", d, tag);
	dfd = xopendir(new);
	load(ld, sizeof ld);
	start(&t);
	for (k = 0; k < ops; k++) {
		path(a, tmp, "m", round, k);
		path(b, new, "m", round, k);
		write_body(a, 1);
		if (rename(a, b) != 0)
			die("rename", a);
		xfsync(dfd, new);
	}
	report("create", round, ops, &t, ld);
	close(dfd);
}

static void t_reuse(const char *d, int round, int ops)
{
	char trash[PATH_MAX], tmp[PATH_MAX], new[PATH_MAX], ld[16];
	char a[PATH_MAX], b[PATH_MAX], c[PATH_MAX];
	struct timing t;
	int k, fd, dfd;

	snprintf(trash, sizeof trash, "%s/reuse.%ld/trash", d, tag);
	snprintf(tmp, sizeof tmp, "%s/reuse.%ld/tmp", d, tag);
	snprintf(new, sizeof new, "%s/reuse.%ld/new", d, tag);
	/* Not timed: the files a previous delivery left in trash/. */
	for (k = 0; k < ops; k++) {
		path(a, trash, "t", round, k);
		write_body(a, 1);
	}
	dfd = xopendir(trash);
	xfsync(dfd, trash);
	close(dfd);
	dfd = xopendir(new);
	load(ld, sizeof ld);
	start(&t);
	for (k = 0; k < ops; k++) {
		path(a, trash, "t", round, k);
		path(b, tmp, "m", round, k);
		path(c, new, "m", round, k);
		if (rename(a, b) != 0)
			die("rename", a);
		if ((fd = open(b, O_WRONLY)) < 0)
			die("open", b);
		if (pwrite(fd, body, BODY_BYTES, 0) != BODY_BYTES)
			die("write", b);
		if (ftruncate(fd, BODY_BYTES) != 0)
			die("ftruncate", b);
		xfsync(fd, b);
		if (close(fd) != 0)
			die("close", b);
		if (rename(b, c) != 0)
			die("rename", b);
		xfsync(dfd, new);
	}
	report("reuse", round, ops, &t, ld);
	close(dfd);
}

static void t_link(const char *d, int round, int ops)
{
	char src[PATH_MAX], dst[PATH_MAX], a[PATH_MAX], b[PATH_MAX], ld[16];
	struct timing t;
	int k, dfd;

	snprintf(src, sizeof src, "%s/link.%ld/spool", d, tag);
	snprintf(dst, sizeof dst, "%s/link.%ld/new", d, tag);
	/* Not timed: the spooled bodies, one a message, already on disk. */
	for (k = 0; k < ops; k++) {
		path(a, src, "b", round, k);
		write_body(a, 1);
	}
	dfd = xopendir(src);
	xfsync(dfd, src);
	close(dfd);
	dfd = xopendir(dst);
	load(ld, sizeof ld);
	start(&t);
	for (k = 0; k < ops; k++) {
		path(a, src, "b", round, k);
		path(b, dst, "m", round, k);
		if (link(a, b) != 0)
			die("link", a);
		xfsync(dfd, dst);
	}
	report("link", round, ops, &t, ld);
	close(dfd);
}

/* t_alloc: UNLINKS empty files made in a fresh directory (and unlinked
 * again when unlink is set), everything written out (syncfs: the inode
 * table blocks clean, so the kernel's window is its shortest), a pause
 * into the next second, then OPS files created, timed. */
static void t_alloc(const char *d, int round, int ops, int unlinks, int unlink)
{
	const char *name = unlink ? "afterunlink" : "fresh";
	char dir[PATH_MAX], a[PATH_MAX], ld[16];
	struct timing t;
	int k, dfd;

	snprintf(dir, sizeof dir, "%s/alloc.%ld/%s.%d", d, tag, name, round);
	xmkdir(dir);
	for (k = 0; k < unlinks; k++) {
		path(a, dir, "u", round, k);
		write_body(a, 0);
	}
	for (k = 0; unlink && k < unlinks; k++) {
		path(a, dir, "u", round, k);
		if (unlinkat(AT_FDCWD, a, 0) != 0)
			die("unlink", a);
	}
	dfd = xopendir(dir);
	if (syncfs(dfd) != 0)
		die("syncfs", dir);
	usleep(1200 * 1000);
	load(ld, sizeof ld);
	start(&t);
	for (k = 0; k < ops; k++) {
		path(a, dir, "m", round, k);
		write_body(a, 0);
	}
	report(name, round, ops, &t, ld);
	close(dfd);
}

/* The scratch directory's subdirectories are spread over the disk's block
 * groups as if they were top-level ones (FS_TOPDIR_FL, chattr +T), away
 * from where other programs under the same parent create and delete. */
static void topdir(const char *d)
{
	int fd = xopendir(d), flags;

	if (ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0) {
		flags |= FS_TOPDIR_FL;
		(void)ioctl(fd, FS_IOC_SETFLAGS, &flags);
	}
	close(fd);
}

static int number(const char *s)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(s, &end, 10);
	if (!*s || *end || errno || n < 0 || n > 1000000) {
		fprintf(stderr, "%s: bad number: %s\n", prog, s);
		exit(100);
	}
	return (int)n;
}

int main(int argc, char **argv)
{
	static const char *const subdirs[] = {
		"create", "create/tmp", "create/new", "reuse", "reuse/trash", "reuse/tmp",
		"reuse/new", "link", "link/spool", "link/new", "alloc",
	};
	const char *slash;
	char p[PATH_MAX];
	int ops, rounds, unlinks, ivrounds, ivwait, r, i;
	size_t s;

	if (argc != 7) {
		fprintf(stderr, "usage: %s DIR OPS ROUNDS UNLINKS IVROUNDS IVWAIT\n", prog);
		return 100;
	}
	ops = number(argv[2]);
	rounds = number(argv[3]);
	unlinks = number(argv[4]);
	ivrounds = number(argv[5]);
	ivwait = number(argv[6]);
	if (ops == 0) {
		fprintf(stderr, "%s: OPS must be at least 1\n", prog);
		return 100;
	}
	memset(body, 'x', sizeof body);
	topdir(argv[1]);
	tag = (long)getpid();
	for (s = 0; s < sizeof subdirs / sizeof subdirs[0]; s++) {
		slash = strchr(subdirs[s], '/');
		if (slash)
			snprintf(p, sizeof p, "%s/%.*s.%ld%s", argv[1], (int)(slash - subdirs[s]),
				 subdirs[s], tag, slash);
		else
			snprintf(p, sizeof p, "%s/%s.%ld", argv[1], subdirs[s], tag);
		xmkdir(p);
	}
	/* Each round starts with the next test, so that no test always runs
	 * right after the same one. */
	for (r = 1; r <= rounds; r++)
		for (i = 0; i < 3; i++)
			switch ((r + i) % 3) {
			case 0: t_create(argv[1], r, ops); break;
			case 1: t_reuse(argv[1], r, ops); break;
			default: t_link(argv[1], r, ops); break;
			}
	for (r = 1; r <= ivrounds; r++) {
		if (r > 1)
			sleep((unsigned)ivwait);
		t_alloc(argv[1], r, ops, unlinks, 0);
		t_alloc(argv[1], r, ops, unlinks, 1);
	}
	return 0;
}
