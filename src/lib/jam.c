/* jam: JAM message base reading and appending (jam.h). */
#include "jam.h"
#include "file.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const unsigned char jam_signature[4] = { 'J', 'A', 'M', 0 };

uint32_t jam_crc(const char *s, size_t len)
{
	uint32_t crc = 0xffffffffu;
	size_t i;
	int k;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		crc ^= c;
		for (k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
	}
	return crc;
}

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t get16(const unsigned char *p) { return (uint16_t)(p[0] | p[1] << 8); }

static void put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v, p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16), p[3] = (unsigned char)(v >> 24);
}

static void put16(unsigned char *p, unsigned v) { p[0] = (unsigned char)v, p[1] = (unsigned char)(v >> 8); }

void jam_message_init(struct jam_message *m) { memset(m, 0, sizeof *m); }

void jam_message_free(struct jam_message *m)
{
	buf_free(&m->subfield_data);
	buf_free(&m->text);
	free(m->subfields);
	memset(m, 0, sizeof *m);
}

static int note_subfield(struct jam_message *m, unsigned lo, unsigned hi, uint32_t len, size_t offset)
{
	struct jam_subfield *grown = realloc(m->subfields, (m->subfield_count + 1) * sizeof *grown);

	if (!grown)
		return 0;
	m->subfields = grown;
	grown[m->subfield_count].lo_id = (uint16_t)lo;
	grown[m->subfield_count].hi_id = (uint16_t)hi;
	grown[m->subfield_count].len = len;
	grown[m->subfield_count++].offset = offset;
	return 1;
}

int jam_message_add(struct jam_message *m, unsigned id, const void *data, size_t len)
{
	unsigned char head[8];

	if (len > JAM_SUBFIELDS_MAX_BYTES || m->subfield_data.len + 8 + len > JAM_SUBFIELDS_MAX_BYTES) {
		errno = EOVERFLOW;
		return 0;
	}
	put16(head, id), put16(head + 2, 0), put32(head + 4, (uint32_t)len);
	if (!buf_cat(&m->subfield_data, head, 8)
	    || !note_subfield(m, id, 0, (uint32_t)len, m->subfield_data.len)
	    || !buf_cat(&m->subfield_data, data, len))
		return 0;
	m->subfield_len = (uint32_t)m->subfield_data.len;
	return 1;
}

const char *jam_message_get(const struct jam_message *m, unsigned id, size_t *len)
{
	size_t i;

	for (i = 0; i < m->subfield_count; i++)
		if (m->subfields[i].lo_id == id && m->subfields[i].hi_id == 0) {
			if (len)
				*len = m->subfields[i].len;
			return m->subfield_data.data + m->subfields[i].offset;
		}
	return NULL;
}

int jam_parse_base_header(const void *data, size_t len, struct jam_base_header *h)
{
	const unsigned char *p = data;

	if (len < JAM_BASE_HEADER_BYTES || memcmp(p, jam_signature, 4) != 0) {
		errno = EINVAL;
		return 0;
	}
	h->date_created = get32(p + 4);
	h->mod_counter = get32(p + 8);
	h->active_msgs = get32(p + 12);
	h->password_crc = get32(p + 16);
	h->base_msg_num = get32(p + 20);
	return 1;
}

static void encode_base_header(const struct jam_base_header *h, unsigned char *p)
{
	memset(p, 0, JAM_BASE_HEADER_BYTES);
	memcpy(p, jam_signature, 4);
	put32(p + 4, h->date_created);
	put32(p + 8, h->mod_counter);
	put32(p + 12, h->active_msgs);
	put32(p + 16, h->password_crc);
	put32(p + 20, h->base_msg_num);
}

/* The subfields of a header, each inside SubfieldLen.  A writer built
 * with 8-byte longs (Debian's jamnntpd 1.3 on amd64) overstates
 * SubfieldLen by 8 bytes a subfield, so the region read may run into the
 * next message's header or end at the end of the file: a subfield
 * boundary where the JAM signature starts, or the file ends, closes the
 * list (no subfield id is 0x414a with HiID 0x004d).  Anything else that
 * does not fit is damage. */
static int parse_subfields(const unsigned char *p, uint32_t total, struct jam_message *m)
{
	size_t at = 0;
	uint32_t len;

	if (!buf_copy(&m->subfield_data, p, total))
		return 0;
	while (at < total) {
		if (total - at >= 4 && memcmp(p + at, jam_signature, 4) == 0 && m->subfield_len_clamped)
			break;
		if (total - at < 8)
			goto bad;
		len = get32(p + at + 4);
		if (len > total - at - 8)
			goto bad;
		if (!note_subfield(m, get16(p + at), get16(p + at + 2), len, at + 8))
			return 0;
		at += 8 + (size_t)len;
	}
	return 1;
bad:
	errno = EINVAL;
	return 0;
}

int jam_parse_message_header(const void *data, size_t len, struct jam_message *m)
{
	const unsigned char *p = data;
	uint32_t *fields[17];
	size_t i;

	if (len < JAM_MESSAGE_HEADER_BYTES || memcmp(p, jam_signature, 4) != 0 || get16(p + 4) != JAM_REVISION)
		goto bad;
	fields[0] = &m->subfield_len, fields[1] = &m->times_read, fields[2] = &m->msgid_crc;
	fields[3] = &m->reply_crc, fields[4] = &m->reply_to, fields[5] = &m->reply_1st;
	fields[6] = &m->reply_next, fields[7] = &m->date_written, fields[8] = &m->date_received;
	fields[9] = &m->date_processed, fields[10] = &m->message_number, fields[11] = &m->attribute;
	fields[12] = &m->attribute2, fields[13] = &m->txt_offset, fields[14] = &m->txt_len;
	fields[15] = &m->password_crc, fields[16] = &m->cost;
	for (i = 0; i < 17; i++)
		*fields[i] = get32(p + 8 + 4 * i);
	if (m->subfield_len > JAM_SUBFIELDS_MAX_BYTES)
		goto bad;
	if (m->subfield_len > len - JAM_MESSAGE_HEADER_BYTES) {
		if (!m->subfield_len_clamped)
			goto bad;
		return parse_subfields(p + JAM_MESSAGE_HEADER_BYTES, (uint32_t)(len - JAM_MESSAGE_HEADER_BYTES), m);
	}
	return parse_subfields(p + JAM_MESSAGE_HEADER_BYTES, m->subfield_len, m);
bad:
	errno = EINVAL;
	return 0;
}

static void encode_message_header(const struct jam_message *m, unsigned char *p)
{
	const uint32_t fields[17] = {
		m->subfield_len, m->times_read, m->msgid_crc, m->reply_crc, m->reply_to, m->reply_1st,
		m->reply_next, m->date_written, m->date_received, m->date_processed, m->message_number,
		m->attribute, m->attribute2, m->txt_offset, m->txt_len, m->password_crc, m->cost
	};
	size_t i;

	memcpy(p, jam_signature, 4);
	put16(p + 4, JAM_REVISION);
	put16(p + 6, 0);
	for (i = 0; i < 17; i++)
		put32(p + 8 + 4 * i, fields[i]);
}

/* ---- files ---- */

static int open_one(const char *path, const char *suffix, int create)
{
	char name[PATH_MAX];

	if ((size_t)snprintf(name, sizeof name, "%s%s", path, suffix) >= sizeof name) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return open(name, O_RDWR | O_CLOEXEC | O_NOFOLLOW | (create ? O_CREAT : 0), 0640);
}

/* A new base: the header written once, under the lock, by whoever finds
 * .jhr empty. */
static int init_base_header(struct jam_base *base)
{
	unsigned char p[JAM_BASE_HEADER_BYTES];
	struct jam_base_header h;
	struct stat st;
	int ok = 1;

	if (!jam_lock(base))
		return 0;
	if (fstat(base->jhr, &st) != 0)
		ok = 0;
	else if (st.st_size == 0) {
		memset(&h, 0, sizeof h);
		h.date_created = (uint32_t)time(NULL);
		h.password_crc = 0xffffffffu;   /* no password */
		h.base_msg_num = 1;
		encode_base_header(&h, p);
		ok = pwrite(base->jhr, p, sizeof p, 0) == (ssize_t)sizeof p && fsync(base->jhr) == 0;
	}
	jam_unlock(base);
	return ok;
}

int jam_open(struct jam_base *base, const char *path, int create)
{
	int jlr;

	base->jhr = base->jdt = base->jdx = -1;
	if (strlen(path) >= sizeof base->path) {
		errno = ENAMETOOLONG;
		return 0;
	}
	strcpy(base->path, path);
	if ((base->jhr = open_one(path, ".jhr", create)) < 0 || (base->jdt = open_one(path, ".jdt", create)) < 0
	    || (base->jdx = open_one(path, ".jdx", create)) < 0)
		goto fail;
	if (create) {
		if ((jlr = open_one(path, ".jlr", 1)) < 0)
			goto fail;
		close(jlr);
		if (!init_base_header(base))
			goto fail;
	}
	return 1;
fail:
	jam_close(base);
	return 0;
}

void jam_close(struct jam_base *base)
{
	int err = errno;

	if (base->jhr >= 0)
		close(base->jhr);
	if (base->jdt >= 0)
		close(base->jdt);
	if (base->jdx >= 0)
		close(base->jdx);
	base->jhr = base->jdt = base->jdx = -1;
	errno = err;
}

static int lock_op(struct jam_base *base, short type)
{
	struct flock fl;

	memset(&fl, 0, sizeof fl);
	fl.l_type = type;
	fl.l_whence = SEEK_SET;
	fl.l_start = 0;
	fl.l_len = 1;
	while (fcntl(base->jhr, F_SETLKW, &fl) != 0)
		if (errno != EINTR)
			return 0;
	return 1;
}

int jam_lock(struct jam_base *base) { return lock_op(base, F_WRLCK); }

void jam_unlock(struct jam_base *base)
{
	int err = errno;
	lock_op(base, F_UNLCK);
	errno = err;
}

static int read_exact(int fd, void *p, size_t n, off_t at)
{
	ssize_t r;
	size_t done = 0;

	while (done < n) {
		r = pread(fd, (char *)p + done, n - done, at + (off_t)done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = EINVAL;   /* shorter than its header says */
			return 0;
		}
		done += (size_t)r;
	}
	return 1;
}

static int write_exact(int fd, const void *p, size_t n, off_t at)
{
	ssize_t r;
	size_t done = 0;

	while (done < n) {
		r = pwrite(fd, (const char *)p + done, n - done, at + (off_t)done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return 0;
		done += (size_t)r;
	}
	return 1;
}

int jam_read_base_header(struct jam_base *base, struct jam_base_header *h)
{
	unsigned char p[JAM_BASE_HEADER_BYTES];

	return read_exact(base->jhr, p, sizeof p, 0) && jam_parse_base_header(p, sizeof p, h);
}

static int file_size(int fd, off_t *size)
{
	struct stat st;

	if (fstat(fd, &st) != 0)
		return 0;
	*size = st.st_size;
	return 1;
}

int jam_index_count(struct jam_base *base, uint32_t *count)
{
	off_t size;

	if (!file_size(base->jdx, &size))
		return 0;
	if ((unsigned long long)size / JAM_INDEX_RECORD_BYTES > 0xffffffffull) {
		errno = EFBIG;
		return 0;
	}
	/* A partial last record (a writer killed mid-write) is not a message. */
	*count = (uint32_t)(size / JAM_INDEX_RECORD_BYTES);
	return 1;
}

static int read_header_at(struct jam_base *base, uint32_t offset, struct jam_message *m)
{
	unsigned char fixed[JAM_MESSAGE_HEADER_BYTES];
	struct buf all = BUF_INIT;
	uint32_t sublen;
	off_t size;
	int ok;

	if (offset < JAM_BASE_HEADER_BYTES) {
		errno = EINVAL;
		return 0;
	}
	if (!file_size(base->jhr, &size) || !read_exact(base->jhr, fixed, sizeof fixed, offset))
		return 0;
	sublen = get32(fixed + 8);
	if (sublen > JAM_SUBFIELDS_MAX_BYTES) {
		errno = EINVAL;
		return 0;
	}
	/* SubfieldLen may overstate the subfields: past the end of the file
	 * only what is there is read, and a next header ends them
	 * (parse_subfields). */
	if ((off_t)offset + (off_t)sizeof fixed + (off_t)sublen > size)
		sublen = (uint32_t)(size - (off_t)offset - (off_t)sizeof fixed);
	m->subfield_len_clamped = 1;
	ok = buf_reserve(&all, sizeof fixed + sublen) && buf_cat(&all, fixed, sizeof fixed);
	if (ok) {
		ok = read_exact(base->jhr, all.data + sizeof fixed, sublen, (off_t)offset + (off_t)sizeof fixed);
		all.len += ok ? sublen : 0;
	}
	ok = ok && jam_parse_message_header(all.data, all.len, m);
	buf_free(&all);
	return ok;
}

static int read_text(struct jam_base *base, struct jam_message *m)
{
	off_t size;

	if (!file_size(base->jdt, &size))
		return 0;
	if (m->txt_len > JAM_TEXT_MAX_BYTES || (off_t)m->txt_offset + (off_t)m->txt_len > size) {
		errno = EINVAL;
		return 0;
	}
	if (!buf_reserve(&m->text, (size_t)m->txt_len + 1) || !read_exact(base->jdt, m->text.data, m->txt_len, m->txt_offset))
		return 0;
	m->text.len = m->txt_len;
	m->text.data[m->text.len] = 0;
	return 1;
}

int jam_read_message(struct jam_base *base, uint32_t i, struct jam_message *m)
{
	unsigned char rec[JAM_INDEX_RECORD_BYTES];
	uint32_t offset;

	jam_message_free(m);
	if (!read_exact(base->jdx, rec, sizeof rec, (off_t)i * JAM_INDEX_RECORD_BYTES))
		return -1;
	offset = get32(rec + 4);
	if (offset == JAM_NO_MESSAGE)
		return 0;
	if (!read_header_at(base, offset, m) || !read_text(base, m))
		return -1;
	return (m->attribute & JAM_ATTR_DELETED) ? 0 : 1;
}

static int append_durably(int fd, const void *p, size_t n, off_t at)
{
	return write_exact(fd, p, n, at) && fdatasync(fd) == 0;
}

int jam_append_batch(struct jam_base *base, struct jam_message *const *msgs, size_t count, const char *to_name)
{
	struct jam_base_header h;
	unsigned char fixed[JAM_MESSAGE_HEADER_BYTES], bh[JAM_BASE_HEADER_BYTES], *recs;
	off_t text_end, header_end, text_at, header_at;
	uint32_t index_count, to_crc = jam_crc(to_name, strlen(to_name));
	size_t k;
	int ok = 0;

	if (!count)
		return 1;
	if (!jam_read_base_header(base, &h) || !jam_index_count(base, &index_count)
	    || !file_size(base->jdt, &text_end) || !file_size(base->jhr, &header_end))
		return 0;
	if (count > 0xffffffffu - index_count || !(recs = malloc(count * JAM_INDEX_RECORD_BYTES))) {
		if (count > 0xffffffffu - index_count)
			errno = EFBIG;
		return 0;
	}
	/* Place every message first: one that does not fit JAM's 32-bit
	 * offsets fails the batch before anything is written. */
	text_at = text_end, header_at = header_end;
	for (k = 0; k < count; k++) {
		struct jam_message *m = msgs[k];
		if (text_at + (off_t)m->text.len > 0xffffffffLL
		    || header_at + JAM_MESSAGE_HEADER_BYTES + (off_t)m->subfield_data.len > 0xffffffffLL) {
			errno = EFBIG;
			goto out;
		}
		m->txt_offset = (uint32_t)text_at;
		m->txt_len = (uint32_t)m->text.len;
		m->subfield_len = (uint32_t)m->subfield_data.len;
		m->message_number = h.base_msg_num + index_count + (uint32_t)k;
		put32(recs + k * JAM_INDEX_RECORD_BYTES, to_crc);
		put32(recs + k * JAM_INDEX_RECORD_BYTES + 4, (uint32_t)header_at);
		text_at += (off_t)m->text.len;
		header_at += JAM_MESSAGE_HEADER_BYTES + (off_t)m->subfield_data.len;
	}
	for (k = 0; k < count; k++)
		if (!write_exact(base->jdt, msgs[k]->text.data ? msgs[k]->text.data : "", msgs[k]->text.len,
				 msgs[k]->txt_offset))
			goto out;
	if (fdatasync(base->jdt) != 0)
		goto out;
	header_at = header_end;
	for (k = 0; k < count; k++) {
		const struct jam_message *m = msgs[k];
		encode_message_header(m, fixed);
		if (!write_exact(base->jhr, fixed, sizeof fixed, header_at)
		    || !write_exact(base->jhr, m->subfield_data.data ? m->subfield_data.data : "", m->subfield_data.len,
				    header_at + (off_t)sizeof fixed))
			goto out;
		header_at += (off_t)sizeof fixed + (off_t)m->subfield_data.len;
	}
	if (fdatasync(base->jhr) != 0
	    || !append_durably(base->jdx, recs, count * JAM_INDEX_RECORD_BYTES, (off_t)index_count * JAM_INDEX_RECORD_BYTES))
		goto out;
	h.active_msgs += (uint32_t)count;
	h.mod_counter++;
	encode_base_header(&h, bh);
	ok = append_durably(base->jhr, bh, sizeof bh, 0);
out:
	free(recs);
	return ok;
}

int jam_append(struct jam_base *base, struct jam_message *m, const char *to_name)
{
	return jam_append_batch(base, &m, 1, to_name);
}

int jam_recount(struct jam_base *base)
{
	struct jam_base_header h;
	struct jam_message m;
	unsigned char bh[JAM_BASE_HEADER_BYTES];
	uint32_t count, i, active = 0;
	int r;

	if (!jam_read_base_header(base, &h) || !jam_index_count(base, &count))
		return 0;
	jam_message_init(&m);
	for (i = 0; i < count; i++) {
		r = jam_read_message(base, i, &m);
		if (r < 0) {
			jam_message_free(&m);
			return 0;
		}
		active += (uint32_t)r;
	}
	jam_message_free(&m);
	h.active_msgs = active;
	h.mod_counter++;
	encode_base_header(&h, bh);
	return append_durably(base->jhr, bh, sizeof bh, 0);
}
