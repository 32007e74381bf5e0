/* record-test: fields round-trip; writers refuse CR/LF/NUL; readers are
 * strict (truncated records and bad tags fail with EBADMSG). */
#include "buf.h"
#include "check.h"
#include "record.h"
#include <errno.h>
#include <string.h>

static void test_round_trip(void)
{
	struct buf b = BUF_INIT;
	struct record_reader r;
	const char *value;
	char tag;

	CHECK(record_add(&b, 'F', "a@b.example") && record_add(&b, 'T', "")
	      && record_add_ulong(&b, 'u', 4294967295UL) && record_add_len(&b, 'x', "abcdef", 3)
	      && record_end(&b) && buf_cats(&b, "body"));
	record_reader_init(&r, b.data, b.len);
	CHECK(record_next(&r, &tag, &value) == 1 && tag == 'F' && strcmp(value, "a@b.example") == 0);
	CHECK(record_next(&r, &tag, &value) == 1 && tag == 'T' && strcmp(value, "") == 0);
	CHECK(record_next(&r, &tag, &value) == 1 && tag == 'u' && strcmp(value, "4294967295") == 0);
	CHECK(record_next(&r, &tag, &value) == 1 && tag == 'x' && strcmp(value, "abc") == 0);
	CHECK(record_next(&r, &tag, &value) == 0);
	CHECK(r.end - r.pos == 4 && memcmp(r.pos, "body", 4) == 0);
	buf_free(&b);
}

static void test_refused_values(void)
{
	struct buf b = BUF_INIT;

	errno = 0;
	CHECK(record_add(&b, 'F', "a\rb") == 0 && errno == EINVAL);
	errno = 0;
	CHECK(record_add(&b, 'F', "a\nb") == 0 && errno == EINVAL);
	errno = 0;
	CHECK(record_add_len(&b, 'F', "a\0b", 3) == 0 && errno == EINVAL);
	errno = 0;
	CHECK(record_add(&b, ' ', "x") == 0 && errno == EINVAL);
	errno = 0;
	CHECK(record_add(&b, '\n', "x") == 0 && errno == EINVAL);
	CHECK(b.len == 0);
	buf_free(&b);
}

/* Every malformed input must give -1 with EBADMSG at the given field. */
static int fails_at(const char *data, size_t len, int good_fields)
{
	struct record_reader r;
	const char *value;
	char tag;
	int i, got;

	record_reader_init(&r, data, len);
	for (i = 0; i < good_fields; i++)
		if (record_next(&r, &tag, &value) != 1)
			return 0;
	errno = 0;
	got = record_next(&r, &tag, &value);
	return got == -1 && errno == EBADMSG;
}

static void test_strict_reader(void)
{
	CHECK(fails_at("", 0, 0));                        /* nothing at all */
	CHECK(fails_at("Fabc", 4, 0));                    /* value without NUL */
	CHECK(fails_at("Fabc\0", 5, 1));                  /* no end mark */
	CHECK(fails_at("Fabc\0Tx", 7, 1));                /* truncated second field */
	CHECK(fails_at(" abc\0\0", 6, 0));                /* space is no tag */
	CHECK(fails_at("\x01" "abc\0\0", 6, 0));          /* control byte is no tag */
	CHECK(fails_at("\x80" "abc\0\0", 6, 0));          /* high byte is no tag */
	CHECK(fails_at("Fa\nb\0\0", 6, 0));               /* LF smuggled into a value */
	CHECK(fails_at("Fa\rb\0\0", 6, 0));               /* CR too */
}

/* record_length: the end mark found without parsing, also after an empty
 * value, and 0 while the record is incomplete. */
static void test_length(void)
{
	CHECK(record_length("V1\0F\0\0message", 13) == 6);   /* empty last value */
	CHECK(record_length("V1\0Fa\0Tb\0\0", 10) == 10);
	CHECK(record_length("V1\0Fa\0Tb\0", 9) == 0);        /* no end mark yet */
	CHECK(record_length("\0", 1) == 0);
	CHECK(record_length("", 0) == 0);
}

int main(void)
{
	test_round_trip();
	test_refused_values();
	test_strict_reader();
	test_length();
	return CHECK_DONE();
}
