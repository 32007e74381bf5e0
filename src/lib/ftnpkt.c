/* ftnpkt: FidoNet packet headers, packed messages and kludges (ftnpkt.h). */
#include "ftnpkt.h"
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";

static void put16(unsigned char *p, unsigned v)
{
	p[0] = (unsigned char)(v & 0xff);
	p[1] = (unsigned char)((v >> 8) & 0xff);
}

static unsigned get16(const unsigned char *p) { return (unsigned)p[0] | ((unsigned)p[1] << 8); }

int ftn_packet_header_write(struct buf *out, const struct ftn_packet_header *h)
{
	unsigned char p[FTN_PACKET_HEADER_BYTES];
	size_t n = strlen(h->password);

	memset(p, 0, sizeof p);
	put16(p + 0, h->orig.node);
	put16(p + 2, h->dest.node);
	put16(p + 4, (unsigned)h->year);
	put16(p + 6, (unsigned)h->month);
	put16(p + 8, (unsigned)h->day);
	put16(p + 10, (unsigned)h->hour);
	put16(p + 12, (unsigned)h->minute);
	put16(p + 14, (unsigned)h->second);
	put16(p + 18, 2);
	/* FSC-0048: a point origin is net 0xFFFF, its real net in auxNet. */
	put16(p + 20, h->orig.point ? 0xffff : h->orig.net);
	put16(p + 22, h->dest.net);
	p[24] = FTN_PRODUCT_CODE;
	p[25] = 1;
	memcpy(p + 26, h->password, n > FIDO_PASSWORD_MAX_BYTES ? FIDO_PASSWORD_MAX_BYTES : n);
	put16(p + 34, h->orig.zone);
	put16(p + 36, h->dest.zone);
	put16(p + 38, h->orig.point ? h->orig.net : 0);
	put16(p + 40, 0x0100);   /* the capability word, byte-swapped */
	p[42] = 0;
	p[43] = 0;
	put16(p + 44, 0x0001);
	put16(p + 46, h->orig.zone);
	put16(p + 48, h->dest.zone);
	put16(p + 50, h->orig.point);
	put16(p + 52, h->dest.point);
	return buf_cat(out, p, sizeof p);
}

int ftn_packet_header_parse(const unsigned char *p, size_t len, struct ftn_packet_header *h)
{
	unsigned cw, cw_copy;

	memset(h, 0, sizeof *h);
	if (len < FTN_PACKET_HEADER_BYTES || get16(p + 18) != 2)
		return 0;
	h->orig.node = get16(p + 0);
	h->dest.node = get16(p + 2);
	h->orig.net = get16(p + 20);
	h->dest.net = get16(p + 22);
	memcpy(h->password, p + 26, FIDO_PASSWORD_MAX_BYTES);
	h->password[FIDO_PASSWORD_MAX_BYTES] = 0;
	h->orig.zone = get16(p + 34);
	h->dest.zone = get16(p + 36);
	cw = get16(p + 44);
	cw_copy = get16(p + 40);
	if (cw == (((cw_copy & 0xff) << 8) | (cw_copy >> 8)) && (cw & 1)) {
		h->type = FTN_PACKET_2PLUS;
		h->orig.point = get16(p + 50);
		h->dest.point = get16(p + 52);
		if (!h->orig.zone)
			h->orig.zone = get16(p + 46);
		if (!h->dest.zone)
			h->dest.zone = get16(p + 48);
		if (h->orig.net == 0xffff && h->orig.point && get16(p + 38))
			h->orig.net = get16(p + 38);
	} else if (get16(p + 16) == 2) {
		h->type = FTN_PACKET_22;
		h->orig.point = get16(p + 4);
		h->dest.point = get16(p + 6);
		return 1;
	} else {
		h->type = FTN_PACKET_2;
	}
	h->year = (int)get16(p + 4);
	h->month = (int)get16(p + 6);
	h->day = (int)get16(p + 8);
	h->hour = (int)get16(p + 10);
	h->minute = (int)get16(p + 12);
	h->second = (int)get16(p + 14);
	return 1;
}

void ftn_message_init(struct ftn_message *m) { memset(m, 0, sizeof *m); }

void ftn_message_free(struct ftn_message *m)
{
	buf_free(&m->to), buf_free(&m->from), buf_free(&m->subject), buf_free(&m->text);
}

/* s up to max bytes or its first NUL, then a NUL. */
static int cat_asciiz(struct buf *out, const struct buf *s, size_t max)
{
	size_t n = s->data ? strnlen(s->data, s->len) : 0;

	return buf_cat(out, s->data ? s->data : "", n > max ? max : n) && buf_catc(out, 0);
}

int ftn_message_write(struct buf *out, const struct ftn_message *m)
{
	unsigned char p[FTN_MESSAGE_FIXED_BYTES];

	memset(p, 0, sizeof p);
	put16(p + 0, 2);
	put16(p + 2, m->orig_node);
	put16(p + 4, m->dest_node);
	put16(p + 6, m->orig_net);
	put16(p + 8, m->dest_net);
	put16(p + 10, m->attribute);
	memcpy(p + 14, m->date, strnlen(m->date, FTN_DATE_BYTES - 1));
	return buf_cat(out, p, sizeof p) && cat_asciiz(out, &m->to, FIDO_NAME_MAX_BYTES)
	       && cat_asciiz(out, &m->from, FIDO_NAME_MAX_BYTES) && cat_asciiz(out, &m->subject, FIDO_SUBJECT_MAX_BYTES)
	       && cat_asciiz(out, &m->text, m->text.len);
}

/* The NUL-terminated string at *pos of at most max bytes (NUL included,
 * or unlimited when max is 0) into out.  1 ok, -1 malformed, 0 ENOMEM. */
static int take_asciiz(const unsigned char *d, size_t len, size_t *pos, size_t max, struct buf *out)
{
	const unsigned char *nul = memchr(d + *pos, 0, len - *pos);
	size_t n;

	if (!nul)
		return -1;
	n = (size_t)(nul - (d + *pos));
	if (max && n + 1 > max)
		return -1;
	if (!buf_copy(out, d + *pos, n))
		return 0;
	*pos += n + 1;
	return 1;
}

int ftn_message_parse(const unsigned char *d, size_t len, size_t *used, struct ftn_message *m)
{
	size_t pos = FTN_MESSAGE_FIXED_BYTES;
	int r;

	if (len >= 2 && get16(d) == 0)
		return *used = 2, 0;
	if (len < FTN_MESSAGE_FIXED_BYTES || get16(d) != 2)
		goto bad;
	m->orig_node = get16(d + 2);
	m->dest_node = get16(d + 4);
	m->orig_net = get16(d + 6);
	m->dest_net = get16(d + 8);
	m->attribute = get16(d + 10);
	memcpy(m->date, d + 14, FTN_DATE_BYTES);
	m->date[FTN_DATE_BYTES - 1] = 0;
	/* Some writers do not NUL-terminate the date within its 20 bytes. */
	if ((r = take_asciiz(d, len, &pos, FIDO_NAME_MAX_BYTES + 1, &m->to)) != 1
	    || (r = take_asciiz(d, len, &pos, FIDO_NAME_MAX_BYTES + 1, &m->from)) != 1
	    || (r = take_asciiz(d, len, &pos, FIDO_SUBJECT_MAX_BYTES + 1, &m->subject)) != 1
	    || (r = take_asciiz(d, len, &pos, 0, &m->text)) != 1) {
		if (r == 0)
			return -1;
		goto bad;
	}
	*used = pos;
	return 1;
bad:
	errno = EBADMSG;
	return -1;
}

void ftn_date_format(char out[FTN_DATE_BYTES], long long t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	char text[64];

	if (!localtime_r(&tt, &tm))
		memset(&tm, 0, sizeof tm);
	snprintf(text, sizeof text, "%02u %.3s %02u  %02u:%02u:%02u", (unsigned)tm.tm_mday % 100u,
		 months + 3 * (tm.tm_mon % 12), (unsigned)tm.tm_year % 100u, (unsigned)tm.tm_hour % 100u,
		 (unsigned)tm.tm_min % 100u, (unsigned)tm.tm_sec % 100u);
	memcpy(out, text, FTN_DATE_BYTES - 1);
	out[FTN_DATE_BYTES - 1] = 0;
}

static int month_number(const char *mon)
{
	const char *m;

	if (strlen(mon) != 3 || !(m = strcasestr(months, mon)) || (m - months) % 3)
		return -1;
	return (int)((m - months) / 3);
}

long long ftn_date_parse(const char *s)
{
	char mon[4], wday[4];
	int day, year, hh, mm, ss = 0, month;
	struct tm tm;

	if (sscanf(s, "%2d %3s %2d %2d:%2d:%2d", &day, mon, &year, &hh, &mm, &ss) != 6
	    && sscanf(s, "%3s %2d %3s %2d %2d:%2d", wday, &day, mon, &year, &hh, &mm) != 6)
		return -1;
	month = month_number(mon);
	if (month < 0 || day < 1 || day > 31 || year < 0 || hh > 23 || mm > 59 || ss > 60)
		return -1;
	memset(&tm, 0, sizeof tm);
	tm.tm_mday = day, tm.tm_mon = month, tm.tm_year = year < 80 ? year + 100 : year;
	tm.tm_hour = hh, tm.tm_min = mm, tm.tm_sec = ss;
	return (long long)timegm(&tm);
}

int ftn_kludge_get(const char *text, size_t len, const char *name, struct buf *out)
{
	size_t n = strlen(name), i = 0, end;

	while (i < len) {
		for (end = i; end < len && text[end] != '\r'; end++)
			;
		if (end - i > n && text[i] == 1 && strncasecmp(text + i + 1, name, n) == 0
		    && (text[i + 1 + n] == ':' || text[i + 1 + n] == ' ')) {
			i += 1 + n;
			while (i < end && (text[i] == ':' || text[i] == ' '))
				i++;
			while (end > i && text[end - 1] == ' ')
				end--;
			return buf_copy(out, text + i, end - i) ? 1 : -1;
		}
		i = end + 1;
		if (i < len && text[i] == '\n')
			i++;
	}
	return 0;
}
