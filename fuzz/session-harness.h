/* What the two session harnesses (smtp-session.c, pop3-session.c) share:
 * a home in a fresh directory (tmpfs when there is one), memfds standing in
 * for the socket on fd 0 and fd 1, and the clean-up that makes every input
 * start from the same spool.  A header of static functions, as each harness
 * is its own program. */
#ifndef BBSMAIL_FUZZ_SESSION_HARNESS_H
#define BBSMAIL_FUZZ_SESSION_HARNESS_H
#include "home.h"
#include "password.h"
#include "spool.h"
#include "userdb.h"
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define FUZZ_PASSWORD "demo"
#define FUZZ_SNAPSHOT_MAX 256

static char fuzz_home[4096];
static int fuzz_in = -1, fuzz_out = -1, fuzz_saved_in = -1, fuzz_saved_out = -1;
/* The inodes under the home once it is made: everything else a session
 * leaves behind is removed after it. */
static ino_t fuzz_snapshot[FUZZ_SNAPSHOT_MAX];
static size_t fuzz_snapshot_count;
static const char *fuzz_keep_under;   /* a subtree the harness restores itself */

static void fuzz_write_file(const char *rel, const char *text)
{
	char path[4200];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", fuzz_home, rel);
	if (!(f = fopen(path, "w")) || fputs(text, f) < 0 || fclose(f) != 0)
		abort();
}

static void fuzz_add_user(struct userdb *db, const char *name, const char *apop)
{
	struct user u;

	memset(&u, 0, sizeof u);
	snprintf(u.name, sizeof u.name, "%s", name);
	snprintf(u.apop, sizeof u.apop, "%s", apop);
	if (!password_hash(FUZZ_PASSWORD, u.password))
		abort();
	password_cram_precompute(FUZZ_PASSWORD, u.cram_md5);
	if (!userdb_put(db, &u))
		abort();
}

static int fuzz_remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st, (void)ftw;
	return type == FTW_DP ? rmdir(path) : unlink(path);
}

/* At exit the home goes; after a crash it stays, to look at. */
static void fuzz_home_remove(void)
{
	if (fuzz_home[0])
		(void)nftw(fuzz_home, fuzz_remove_one, 16, FTW_PHYS | FTW_DEPTH);
}

/* A home under /dev/shm (or $TMPDIR, or /tmp) with the spool skeleton and
 * users sysop (1) and demo (2), both with password "demo". */
static void fuzz_home_make(const char *name)
{
	const char *base = getenv("TMPDIR");
	struct userdb db;
	char path[4200];

	if (access("/dev/shm", W_OK) == 0)
		base = "/dev/shm";
	else if (!base || !*base)
		base = "/tmp";
	snprintf(fuzz_home, sizeof fuzz_home, "%s/bbsmail-fuzz-%s.XXXXXX", base, name);
	if (!mkdtemp(fuzz_home))
		abort();
	atexit(fuzz_home_remove);
	home_set(fuzz_home);
	setenv("BBSMAIL_HOME", fuzz_home, 1);
	snprintf(path, sizeof path, "%s/etc", fuzz_home);
	if (mkdir(path, 0700) != 0 || !spool_make_skeleton() || !userdb_open(&db, 1))
		abort();
	fuzz_add_user(&db, "sysop", "");
	fuzz_add_user(&db, "demo", "apop-secret");
	userdb_close(&db);
}

/* Rewrites a config file when the input picks another variant of it; in
 * place, so its inode stays the one the snapshot knows. */
static void fuzz_config_pick(const char *rel, const char *const *variants, int *current, int pick)
{
	if (*current == pick)
		return;
	fuzz_write_file(rel, variants[pick]);
	*current = pick;
}

static int fuzz_snapshot_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)path, (void)type, (void)ftw;
	if (fuzz_snapshot_count >= FUZZ_SNAPSHOT_MAX)
		abort();
	fuzz_snapshot[fuzz_snapshot_count++] = st->st_ino;
	return 0;
}

static void fuzz_snapshot_take(void)
{
	fuzz_snapshot_count = 0;
	if (nftw(fuzz_home, fuzz_snapshot_one, 16, FTW_PHYS) != 0)
		abort();
}

static int fuzz_known(ino_t ino)
{
	size_t i;

	for (i = 0; i < fuzz_snapshot_count; i++)
		if (fuzz_snapshot[i] == ino)
			return 1;
	return 0;
}

static int fuzz_clean_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)ftw;
	if (fuzz_keep_under && strncmp(path, fuzz_keep_under, strlen(fuzz_keep_under)) == 0)
		return 0;
	if (fuzz_known(st->st_ino))
		return 0;
	if (type == FTW_DP ? rmdir(path) != 0 : unlink(path) != 0)
		abort();
	return 0;
}

/* Removes what the session created (the spool file, logins.gdbm, a
 * telegram, ...), deepest first. */
static void fuzz_clean(void)
{
	if (nftw(fuzz_home, fuzz_clean_one, 16, FTW_PHYS | FTW_DEPTH) != 0)
		abort();
}

/* fd 0 and fd 1 stay where they are between inputs; each input puts memfds
 * there, which never block: reads end at EOF, writes always fit. */
static void fuzz_fds_init(void)
{
	fuzz_in = memfd_create("fuzz-in", MFD_CLOEXEC);
	fuzz_out = memfd_create("fuzz-out", MFD_CLOEXEC);
	fuzz_saved_in = dup(0);
	fuzz_saved_out = dup(1);
	if (fuzz_in < 0 || fuzz_out < 0 || fuzz_saved_in < 0 || fuzz_saved_out < 0)
		abort();
}

static void fuzz_fds_begin(const void *data, size_t size)
{
	if (ftruncate(fuzz_in, 0) != 0 || ftruncate(fuzz_out, 0) != 0
	    || (size && pwrite(fuzz_in, data, size, 0) != (ssize_t)size) || lseek(fuzz_in, 0, SEEK_SET) != 0
	    || lseek(fuzz_out, 0, SEEK_SET) != 0 || dup2(fuzz_in, 0) != 0 || dup2(fuzz_out, 1) != 1)
		abort();
}

/* Puts the saved fds back and returns what the session wrote (malloc'd,
 * NUL-terminated; *len its length). */
static char *fuzz_fds_end(size_t *len)
{
	struct stat st;
	char *out;

	if (dup2(fuzz_saved_in, 0) != 0 || dup2(fuzz_saved_out, 1) != 1 || fstat(fuzz_out, &st) != 0)
		abort();
	*len = (size_t)st.st_size;
	if (!(out = malloc(*len + 1)) || (*len && pread(fuzz_out, out, *len, 0) != (ssize_t)*len))
		abort();
	out[*len] = 0;
	return out;
}

/* The lowest free descriptor, taken before each session (libFuzzer opens
 * its own between inputs, a symbolizer's pipes for one): after the session
 * it must be free again. */
static int fuzz_fd_lowest;

static void fuzz_fd_probe(void)
{
	if ((fuzz_fd_lowest = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0)
		abort();
	close(fuzz_fd_lowest);
}

/* Says which descriptor the session left open, and traps. */
static void fuzz_fd_check(void)
{
	char link[64], target[4200];
	ssize_t n;
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		abort();
	close(fd);
	if (fd == fuzz_fd_lowest)
		return;
	snprintf(link, sizeof link, "/proc/self/fd/%d", fuzz_fd_lowest);
	n = readlink(link, target, sizeof target - 1);
	target[n > 0 ? n : 0] = 0;
	fprintf(stderr, "fuzz: the session left fd %d open: %s\n", fuzz_fd_lowest, target);
	__builtin_trap();
}

/* PBKDF2 at 10,000 rounds takes about 150 ms under the sanitizers, which
 * would make every login input 100 times slower than the rest.  The
 * session harnesses link with -Wl,--wrap for both verifiers (Makefile), so
 * a login compares the password with the one every user here has, and a
 * stored hash must still be there (a user without one cannot log in).
 * password.c itself is fuzzed by the sasl harness. */
int __wrap_password_verify(const char *password, const char *stored);
int __wrap_password_verify_none(const char *password);

int __wrap_password_verify(const char *password, const char *stored)
{
	return strncmp(stored, "$pbkdf2-sha256$", 15) == 0 && strcmp(password, FUZZ_PASSWORD) == 0;
}

int __wrap_password_verify_none(const char *password)
{
	(void)password;
	return 0;
}

/* FUZZ_SESSION_DUMP=1 shows what the server sent, to check a seed by
 * running the harness on it. */
static void fuzz_dump(const char *out, size_t len)
{
	if (getenv("FUZZ_SESSION_DUMP"))
		(void)!write(2, out, len);
}

/* The end of the line starting at p (its LF, or end). */
static const char *fuzz_line_end(const char *p, const char *end)
{
	const char *lf = memchr(p, '\n', (size_t)(end - p));

	return lf ? lf : end;
}

#endif
