#include "drop.h"
#include "address.h"
#include "file.h"
#include "record.h"
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void drop_request_init(struct drop_request *r) { memset(r, 0, sizeof *r); }

void drop_request_free(struct drop_request *r)
{
	free(r->rcpt);
	free(r->notify);
	buf_free(&r->storage);
	drop_request_init(r);
}

int drop_serialize(const struct drop_request *r, struct buf *out)
{
	size_t i;

	if (!record_add(out, 'V', DROP_VERSION) || (r->sender && !record_add(out, 'F', r->sender))
	    || (r->fullname && !record_add(out, 'N', r->fullname)) || (r->ret && !record_add(out, 'R', r->ret)))
		return 0;
	for (i = 0; i < r->rcpt_count; i++)
		if (!record_add(out, 'T', r->rcpt[i]) || (r->notify[i] && !record_add(out, 'n', r->notify[i])))
			return 0;
	return record_end(out) && buf_cat(out, r->message, r->message_len);
}

int drop_name_ok(const char *name)
{
	size_t i;

	if (!name[0] || name[0] == '.')
		return 0;
	for (i = 0; name[i]; i++)
		if (i >= DROP_NAME_MAX_BYTES || !strchr("0123456789abcdefghijklmnopqrstuvwxyz"
						      "ABCDEFGHIJKLMNOPQRSTUVWXYZ._-", name[i]))
			return 0;
	return 1;
}

/* The value must be exactly what the SMTP path parser makes of "<value>":
 * no parameters, no source route, nothing it would rewrite. */
static int drop_address_ok(const char *value, int may_be_empty)
{
	struct buf wrapped = BUF_INIT, parsed = BUF_INIT;
	const char *params = "", *why;
	int ok;

	ok = buf_catc(&wrapped, '<') && buf_cats(&wrapped, value) && buf_catc(&wrapped, '>')
	     && address_parse_path(wrapped.data, ADDRESS_ALLOW_UTF8, &parsed, &params, &why) && !*params
	     && parsed.len == strlen(value) && memcmp(parsed.data ? parsed.data : "", value, parsed.len) == 0
	     && (may_be_empty || parsed.len);
	buf_free(&wrapped);
	buf_free(&parsed);
	return ok;
}

/* NEVER, or a list of SUCCESS, FAILURE, DELAY, each once (RFC 3461 §4.1). */
static int drop_notify_ok(const char *v)
{
	static const char *const words[] = { "SUCCESS", "FAILURE", "DELAY" };
	int seen[3] = { 0, 0, 0 };
	size_t n, i;

	if (strcmp(v, "NEVER") == 0)
		return 1;
	for (;;) {
		n = strcspn(v, ",");
		for (i = 0; i < 3 && !(strlen(words[i]) == n && strncmp(v, words[i], n) == 0); i++)
			;
		if (i == 3 || seen[i]++)
			return 0;
		if (!v[n])
			return 1;
		v += n + 1;
	}
}

static int drop_text_ok(const char *v)
{
	for (; *v; v++)
		if ((unsigned char)*v < 0x20 || *v == 0x7f)
			return 0;
	return 1;
}

static int drop_add_rcpt(struct drop_request *r, const char *address)
{
	const char **grown_rcpt, **grown_notify;

	grown_rcpt = realloc(r->rcpt, (r->rcpt_count + 1) * sizeof *grown_rcpt);
	if (!grown_rcpt)
		return 0;
	r->rcpt = grown_rcpt;
	grown_notify = realloc(r->notify, (r->rcpt_count + 1) * sizeof *grown_notify);
	if (!grown_notify)
		return 0;
	r->notify = grown_notify;
	r->rcpt[r->rcpt_count] = address;
	r->notify[r->rcpt_count++] = NULL;
	return 1;
}

/* One field after V: the header fields once each and before any
 * recipient, then T with at most one n after it. */
static const char *drop_take_field(struct drop_request *r, char tag, const char *value)
{
	if (strchr("FNR", tag) && r->rcpt_count)
		return "field after the recipients";
	if (tag == 'F')
		return r->sender ? "F twice" : !drop_address_ok(value, 1) ? "bad sender" : (r->sender = value, NULL);
	if (tag == 'N')
		return r->fullname ? "N twice" : !drop_text_ok(value) ? "bad full name" : (r->fullname = value, NULL);
	if (tag == 'R')
		return r->ret                                              ? "R twice"
		       : strcmp(value, "FULL") != 0 && strcmp(value, "HDRS") != 0 ? "bad RET"
										   : (r->ret = value, NULL);
	if (tag == 'T') {
		if (r->rcpt_count >= DROP_RCPT_MAX)
			return "too many recipients";
		if (!drop_address_ok(value, 0))
			return "bad recipient";
		return drop_add_rcpt(r, value) ? NULL : "out of memory";
	}
	if (tag == 'n') {
		if (!r->rcpt_count || r->notify[r->rcpt_count - 1])
			return "n without its recipient";
		return drop_notify_ok(value) ? (r->notify[r->rcpt_count - 1] = value, NULL) : "bad NOTIFY";
	}
	return "unknown field";
}

/* The message: LF line ends (sendmail removed every CR before LF), and a
 * last line that ends. */
static int drop_message_ok(const char *m, size_t len)
{
	return len == 0 || (m[len - 1] == '\n' && !memmem(m, len, "\r\n", 2));
}

int drop_parse(struct drop_request *r, const char **why)
{
	struct record_reader rd;
	const char *value;
	char tag;
	int got;

	*why = NULL;
	record_reader_init(&rd, r->storage.data ? r->storage.data : "", r->storage.len);
	if (record_next(&rd, &tag, &value) != 1 || tag != 'V' || strcmp(value, DROP_VERSION) != 0) {
		*why = "not a drop file (no V" DROP_VERSION ")";
		return 0;
	}
	while ((got = record_next(&rd, &tag, &value)) == 1)
		if ((*why = drop_take_field(r, tag, value)))
			return 0;
	if (got < 0)
		*why = "malformed record";
	else if (!r->rcpt_count)
		*why = "no recipients";
	else if (!drop_message_ok(rd.pos, (size_t)(rd.end - rd.pos)))
		*why = "message without LF line ends";
	if (*why)
		return 0;
	r->message = rd.pos;
	r->message_len = (size_t)(rd.end - rd.pos);
	return 1;
}

int drop_create(const char *dir, const char *name, const struct buf *data)
{
	char path[PATH_MAX];
	int fd, saved;

	if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path) {
		errno = ENAMETOOLONG;
		return 0;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, DROP_MODE_WRITING);
	if (fd < 0)
		return 0;
	if (!file_write_all(fd, data->data, data->len) || fsync(fd) != 0 || fchmod(fd, DROP_MODE_COMPLETE) != 0
	    || fsync(fd) != 0)
		goto fail;
	if (close(fd) != 0) {
		fd = -1;
		goto fail;
	}
	if (!file_fsync_dir(dir) && errno != EACCES) {
		saved = errno;
		unlink(path);
		errno = saved;
		return 0;
	}
	return 1;
fail:
	saved = errno;
	if (fd >= 0)
		close(fd);
	unlink(path);
	errno = saved;
	return 0;
}
