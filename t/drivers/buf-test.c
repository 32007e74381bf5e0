/* buf-test: growth keeps every byte and the NUL; impossible sizes are refused
 * with EOVERFLOW instead of wrapping (CVE-2005-1513 was an unchecked add). */
#include "buf.h"
#include "check.h"
#include <errno.h>
#include <stdint.h>
#include <string.h>

static void test_growth(void)
{
	struct buf b = BUF_INIT;
	size_t i;
	int ok = 1;

	for (i = 0; i < 100000; i++)
		ok &= buf_catc(&b, (char)('a' + i % 26));
	CHECK(ok);
	CHECK(b.len == 100000);
	CHECK(b.cap > b.len);
	CHECK(b.data[b.len] == 0);
	for (i = 0; i < 100000; i++)
		if (b.data[i] != (char)('a' + i % 26))
			break;
	CHECK(i == 100000);
	buf_free(&b);
	CHECK(b.data == NULL && b.len == 0 && b.cap == 0);
}

static void test_binary_and_format(void)
{
	struct buf b = BUF_INIT;

	CHECK(buf_cat(&b, "a\0b", 3) && b.len == 3 && memcmp(b.data, "a\0b", 4) == 0);
	CHECK(buf_catf(&b, "%d-%s", 42, "x") && b.len == 7 && memcmp(b.data + 3, "42-x", 5) == 0);
	CHECK(buf_cat_ulong(&b, 18446744073709551615UL) && strcmp(b.data + 7, "18446744073709551615") == 0);
	CHECK(buf_copys(&b, "hello") && b.len == 5 && strcmp(b.data, "hello") == 0);
	buf_drop_front(&b, 2);
	CHECK(b.len == 3 && strcmp(b.data, "llo") == 0);
	buf_truncate(&b, 1);
	CHECK(b.len == 1 && strcmp(b.data, "l") == 0);
	buf_truncate(&b, 10); /* longer than len: no change */
	CHECK(b.len == 1);
	buf_drop_front(&b, 5);
	CHECK(b.len == 0 && b.data[0] == 0);
	CHECK(buf_cat(&b, NULL, 0) && b.len == 0);
	buf_free(&b);
}

static void test_overflow(void)
{
	struct buf b = BUF_INIT;

	CHECK(buf_cats(&b, "abc"));
	errno = 0;
	CHECK(buf_reserve(&b, SIZE_MAX) == 0 && errno == EOVERFLOW);
	errno = 0;
	CHECK(buf_reserve(&b, SIZE_MAX - 3) == 0 && errno == EOVERFLOW);
	errno = 0;
	CHECK(buf_cat(&b, "x", SIZE_MAX - 1) == 0 && errno == EOVERFLOW);
	/* The buffer is untouched by a refused grow. */
	CHECK(b.len == 3 && strcmp(b.data, "abc") == 0);
	/* Large but not overflowing: refused by the allocator, not wrapped. */
	errno = 0;
	CHECK(buf_reserve(&b, SIZE_MAX / 2) == 0 && (errno == ENOMEM || errno == EOVERFLOW));
	CHECK(b.len == 3 && strcmp(b.data, "abc") == 0);
	buf_free(&b);
}

int main(void)
{
	test_growth();
	test_binary_and_format();
	test_overflow();
	return CHECK_DONE();
}
