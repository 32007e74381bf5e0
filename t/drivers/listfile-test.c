/* listfile-test: the list-file reader (src/lib/listfile.h): comments and
 * blank lines, CRLF, a last line without LF, line numbers, the line cap
 * (exactly at it, one byte over, over across read buffers), NUL bytes,
 * strict mode, a missing file, a directory, a path through a file, a read
 * error, and listfile_split.  Files go in a fresh directory under $TMPDIR;
 * warnings are caught by pointing stderr at a file while a file is read. */
#include "check.h"
#include "listfile.h"
#include "log.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[256];
static char path[512];
static char warnings[4096];
/* Every line a read returned, as "<number>:<text>\n". */
static char got[16384];

static void write_file(const char *text, size_t len)
{
	FILE *f;

	snprintf(path, sizeof path, "%s/list", dir);
	f = fopen(path, "w");
	if (!f || fwrite(text, 1, len, f) != len || fclose(f) != 0) {
		perror(path);
		exit(111);
	}
}

static int stderr_to_file(void)
{
	char wpath[600];
	int saved = dup(2), fd;

	snprintf(wpath, sizeof wpath, "%s/stderr", dir);
	fd = open(wpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	dup2(fd, 2);
	close(fd);
	return saved;
}

static void stderr_back(int saved)
{
	char wpath[600];
	FILE *f;
	size_t n;

	dup2(saved, 2);
	close(saved);
	snprintf(wpath, sizeof wpath, "%s/stderr", dir);
	f = fopen(wpath, "r");
	n = f ? fread(warnings, 1, sizeof warnings - 1, f) : 0;
	warnings[n] = 0;
	if (f)
		fclose(f);
}

/* Reads path to the end into got[]; returns the last listfile_next result
 * (0 end, -1 error) and leaves lf open for the caller to inspect. */
static int read_all(struct listfile *lf, unsigned flags)
{
	char *line;
	size_t len, used = 0;
	int r, saved;

	got[0] = 0;
	saved = stderr_to_file();
	if (!listfile_open(lf, path, flags)) {
		stderr_back(saved);
		return -2;
	}
	while ((r = listfile_next(lf, &line, &len)) == 1) {
		CHECK(strlen(line) == len);
		if (used + len + 32 < sizeof got)
			used += (size_t)snprintf(got + used, sizeof got - used, "%lu:%s\n", lf->line_number, line);
	}
	stderr_back(saved);
	return r;
}

#define FILE_TEXT(text) write_file(text, sizeof text - 1)

static void test_comments_blanks_crlf(void)
{
	struct listfile lf;

	FILE_TEXT("; semicolon\n# hash\n  ; indented\n\n   \n\t\r\n\r\nalpha beta\r\n  spaced  \t\nlast");
	CHECK(read_all(&lf, LISTFILE_COMMENT_SEMICOLON | LISTFILE_COMMENT_HASH) == 0);
	CHECK(strcmp(got, "8:alpha beta\n9:spaced\n10:last\n") == 0);
	CHECK(warnings[0] == 0);
	listfile_close(&lf);
	/* Only the marks the caller names are comments. */
	CHECK(read_all(&lf, LISTFILE_COMMENT_SEMICOLON) == 0);
	CHECK(strcmp(got, "2:# hash\n8:alpha beta\n9:spaced\n10:last\n") == 0);
	listfile_close(&lf);
	CHECK(read_all(&lf, 0) == 0);
	CHECK(strncmp(got, "1:; semicolon\n2:# hash\n3:; indented\n8:", 38) == 0);
	listfile_close(&lf);
	/* A '#' or ';' later in the line is the caller's business. */
	FILE_TEXT("a ; b\nc # d\n");
	CHECK(read_all(&lf, LISTFILE_COMMENT_SEMICOLON | LISTFILE_COMMENT_HASH) == 0);
	CHECK(strcmp(got, "1:a ; b\n2:c # d\n") == 0);
	listfile_close(&lf);
}

static void test_last_line_and_empty(void)
{
	struct listfile lf;

	FILE_TEXT("one\ntwo");
	CHECK(read_all(&lf, 0) == 0 && strcmp(got, "1:one\n2:two\n") == 0);
	/* After the end, the end again. */
	CHECK(listfile_next(&lf, &(char *){ NULL }, NULL) == 0);
	listfile_close(&lf);
	FILE_TEXT("one\ntwo\n");
	CHECK(read_all(&lf, 0) == 0 && strcmp(got, "1:one\n2:two\n") == 0);
	listfile_close(&lf);
	FILE_TEXT("");
	CHECK(read_all(&lf, 0) == 0 && got[0] == 0);
	listfile_close(&lf);
	FILE_TEXT("\n\n\n");
	CHECK(read_all(&lf, 0) == 0 && got[0] == 0);
	listfile_close(&lf);
}

static void test_indented(void)
{
	struct listfile lf;

	FILE_TEXT(" PARAM a 1\n\tPARAM b 2\n\rPARAM c 3\nPARAM d 4\n#x\n");
	CHECK(read_all(&lf, LISTFILE_SKIP_INDENTED | LISTFILE_COMMENT_HASH) == 0);
	CHECK(strcmp(got, "4:PARAM d 4\n") == 0);
	listfile_close(&lf);
}

/* A file of: "first", a line of n times 'x', "after" (no final LF when
 * last_line is set: the long line ends the file). */
static void write_long(size_t n, int last_line)
{
	static char text[3 * LISTFILE_READ_BYTES + 64];
	size_t used = 0;

	memcpy(text, "first\n", 6);
	used = 6;
	memset(text + used, 'x', n);
	used += n;
	if (!last_line) {
		memcpy(text + used, "\nafter\n", 7);
		used += 7;
	}
	write_file(text, used);
}

static void test_long_lines(void)
{
	struct listfile lf;
	char expect[LISTFILE_LINE_MAX_BYTES + 64];

	/* Exactly at the cap: a line like any other. */
	write_long(LISTFILE_LINE_MAX_BYTES, 0);
	CHECK(read_all(&lf, 0) == 0);
	CHECK(strncmp(got, "1:first\n2:xxx", 13) == 0 && strlen(got) == 8 + 2 + LISTFILE_LINE_MAX_BYTES + 1 + 8);
	CHECK(strcmp(got + strlen(got) - 8, "3:after\n") == 0);
	CHECK(warnings[0] == 0);
	listfile_close(&lf);
	/* One byte over: skipped with a warning naming file:line, never cut. */
	write_long(LISTFILE_LINE_MAX_BYTES + 1, 0);
	CHECK(read_all(&lf, 0) == 0 && strcmp(got, "1:first\n3:after\n") == 0);
	snprintf(expect, sizeof expect, "listfile-test: warning: %s:2: line longer than %d bytes, line skipped\n", path,
		 LISTFILE_LINE_MAX_BYTES);
	CHECK(strcmp(warnings, expect) == 0);
	listfile_close(&lf);
	/* Far over, across several read buffers, and as the last line. */
	write_long(3 * LISTFILE_READ_BYTES, 0);
	CHECK(read_all(&lf, 0) == 0 && strcmp(got, "1:first\n3:after\n") == 0 && strcmp(warnings, expect) == 0);
	listfile_close(&lf);
	write_long(3 * LISTFILE_READ_BYTES, 1);
	CHECK(read_all(&lf, 0) == 0 && strcmp(got, "1:first\n") == 0 && strcmp(warnings, expect) == 0);
	listfile_close(&lf);
	/* Strict: the read stops at the bad line and says where and why. */
	write_long(LISTFILE_LINE_MAX_BYTES + 1, 0);
	CHECK(read_all(&lf, LISTFILE_STRICT) == -1 && errno == EINVAL && strcmp(got, "1:first\n") == 0);
	CHECK(lf.line_number == 2 && lf.problem && strstr(lf.problem, "line longer than") && warnings[0] == 0);
	listfile_close(&lf);
}

static void test_nul(void)
{
	struct listfile lf;
	char expect[2048];

	FILE_TEXT("good\nba\0d\n\0\nalso good\n");
	CHECK(read_all(&lf, 0) == 0 && strcmp(got, "1:good\n4:also good\n") == 0);
	snprintf(expect, sizeof expect,
		 "listfile-test: warning: %s:2: NUL byte in line, line skipped\n"
		 "listfile-test: warning: %s:3: NUL byte in line, line skipped\n",
		 path, path);
	CHECK(strcmp(warnings, expect) == 0);
	listfile_close(&lf);
	CHECK(read_all(&lf, LISTFILE_STRICT) == -1 && errno == EINVAL && lf.line_number == 2);
	CHECK(lf.problem && strcmp(lf.problem, "NUL byte in line") == 0 && strcmp(got, "1:good\n") == 0);
	listfile_close(&lf);
	/* A NUL in a comment is still a bad line: nothing hides behind ';'. */
	FILE_TEXT("; a\0b\nok\n");
	CHECK(read_all(&lf, LISTFILE_COMMENT_SEMICOLON | LISTFILE_STRICT) == -1 && lf.line_number == 1);
	listfile_close(&lf);
}

static void test_missing_and_unreadable(void)
{
	struct listfile lf;
	char other[600];
	char *line;

	/* Missing: an empty list. */
	snprintf(path, sizeof path, "%s/no-such-list", dir);
	CHECK(read_all(&lf, 0) == 0 && got[0] == 0 && warnings[0] == 0);
	listfile_close(&lf);
	/* A directory cannot be read (root or not). */
	errno = 0;
	CHECK(!listfile_open(&lf, dir, 0) && errno == EISDIR && lf.fd == -1);
	/* A path through a regular file is not "missing". */
	FILE_TEXT("x\n");
	snprintf(other, sizeof other, "%s/list/below", dir);
	errno = 0;
	CHECK(!listfile_open(&lf, other, 0) && errno == ENOTDIR);
	/* A read error after a good open: the kernel refuses to read the
	 * unmapped page 0 of the process's own memory (EIO). */
	CHECK(listfile_open(&lf, "/proc/self/mem", 0) && lf.fd >= 0);
	errno = 0;
	CHECK(listfile_next(&lf, &line, NULL) == -1 && errno == EIO && lf.problem == NULL);
	listfile_close(&lf);
	/* The home variant. */
	setenv("BBSMAIL_HOME", dir, 1);
	CHECK(listfile_open_home(&lf, "list", 0) && listfile_next(&lf, &line, NULL) == 1 && strcmp(line, "x") == 0);
	listfile_close(&lf);
}

static void test_split(void)
{
	char a[] = "key  \t value with  spaces", b[] = "lonely", c[] = "k\tv";
	char *key, *value;

	listfile_split(a, &key, &value);
	CHECK(strcmp(key, "key") == 0 && strcmp(value, "value with  spaces") == 0);
	listfile_split(b, &key, &value);
	CHECK(strcmp(key, "lonely") == 0 && strcmp(value, "") == 0);
	listfile_split(c, &key, &value);
	CHECK(strcmp(key, "k") == 0 && strcmp(value, "v") == 0);
}

int main(void)
{
	const char *tmp = getenv("TMPDIR");

	log_set_program("listfile-test");
	snprintf(dir, sizeof dir, "%s/listfile-test.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 111;
	}
	test_comments_blanks_crlf();
	test_last_line_and_empty();
	test_indented();
	test_long_lines();
	test_nul();
	test_missing_and_unreadable();
	test_split();
	return CHECK_DONE();
}
