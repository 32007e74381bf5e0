/* netmail: a mail message as one FTS-0001 packet holding one packed
 * netmail, with the kludges of FTS-4001 (INTL, FMPT, TOPT), FTS-0009
 * (MSGID, REPLY), FTS-4008 (TZUTC), FTS-5003 (CHRS) and FTS-4009 (Via). */
#include "netmail.h"
#include "ftnpkt.h"
#include "home.h"
#include "post.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#define SERIAL_FILE OUTBOUND_MARKER_DIR "/serial"
#define SERIAL_BLOCK 256
#define PRODUCT_NAME "bbsmail"

/* FTS-5003 levels: 1 for 7-bit sets, 4 for UTF-8, 2 for the 8-bit ones. */
static int charset_level(const char *charset)
{
	if (strcasecmp(charset, "ASCII") == 0 || strcasecmp(charset, "US-ASCII") == 0)
		return 1;
	if (strcasecmp(charset, "UTF-8") == 0 || strcasecmp(charset, "UTF8") == 0)
		return 4;
	return 2;
}

/* The text as it goes into a packed message: no NUL (it would end the
 * text), no SOH at a line start (a mail could forge kludges), ending in
 * CR. */
static void clean_text(struct buf *text)
{
	size_t i;

	for (i = 0; i < text->len; i++) {
		if (text->data[i] == 0)
			text->data[i] = ' ';
		if (text->data[i] == 1 && (i == 0 || text->data[i - 1] == '\r'))
			text->data[i] = '@';
	}
}

static int tz_kludge(struct buf *t, long long now)
{
	struct tm tm;
	time_t tt = (time_t)now;
	long off;

	localtime_r(&tt, &tm);
	off = tm.tm_gmtoff / 60;
	return buf_catf(t, "\001TZUTC: %s%02ld%02ld\r", off < 0 ? "-" : "", labs(off) / 60, labs(off) % 60);
}

static int via_line(struct buf *t, const struct ftn_addr *us, long long now)
{
	char a[FTN_ADDR_MAX_BYTES], when[32];
	struct tm tm;
	time_t tt = (time_t)now;

	gmtime_r(&tt, &tm);
	strftime(when, sizeof when, "%Y%m%d.%H%M%S", &tm);
	ftn_addr_format(a, sizeof a, us);
	return buf_catf(t, "\001Via %s @%s.UTC " PRODUCT_NAME "\r", a, when);
}

/* INTL, FMPT/TOPT, MSGID, REPLY, PID, TZUTC, CHRS, then the body, then Via. */
static int build_text(const struct netmail *n, const struct ftn_addr *us, struct post *p, struct buf *t)
{
	char origin[FTN_ADDR_MAX_BYTES];
	struct buf reply = BUF_INIT;
	int ok, has_reply;

	ftn_addr_format(origin, sizeof origin, us);
	/* In-Reply-To names a netmail fido-toss imported (its MSGID is in the
	 * Message-ID), or a mail we sent as netmail (the map has its MSGID). */
	has_reply = p->in_reply_to.len ? fido_msgid_decode(p->in_reply_to.data, &reply) : 0;
	if (has_reply == 0 && p->in_reply_to.len)
		has_reply = fido_msgid_map_find(p->in_reply_to.data, 0, &reply);
	clean_text(&p->text);
	ok = has_reply >= 0
	     && buf_catf(t, "\001INTL %u:%u/%u %u:%u/%u\r", n->dest.zone, n->dest.net, n->dest.node, us->zone, us->net,
			 us->node)
	     && (!us->point || buf_catf(t, "\001FMPT %u\r", us->point))
	     && (!n->dest.point || buf_catf(t, "\001TOPT %u\r", n->dest.point))
	     && buf_catf(t, "\001MSGID: %s %08lx\r", origin, (unsigned long)n->serial)
	     && (has_reply != 1 || buf_catf(t, "\001REPLY: %s\r", reply.data))
	     && buf_cats(t, "\001PID: " PRODUCT_NAME "\r") && tz_kludge(t, n->now)
	     && buf_catf(t, "\001CHRS: %s %d\r", n->cfg->charset, charset_level(n->cfg->charset))
	     && buf_cat(t, p->text.data ? p->text.data : "", p->text.len)
	     && (!p->text.len || p->text.data[p->text.len - 1] == '\r' || buf_catc(t, '\r')) && via_line(t, us, n->now);
	buf_free(&reply);
	return ok;
}

/* For the threading of replies (fido.h: the MSGID map). */
static int record_msgid(const struct netmail *n, const struct ftn_addr *us, const char *message_id)
{
	char origin[FTN_ADDR_MAX_BYTES], msgid[FTN_ADDR_MAX_BYTES + 16];

	ftn_addr_format(origin, sizeof origin, us);
	snprintf(msgid, sizeof msgid, "%s %08lx", origin, (unsigned long)n->serial);
	return fido_msgid_map_add(msgid, message_id);
}

static int packet_header(const struct netmail *n, struct buf *out)
{
	struct ftn_packet_header h;
	time_t tt = (time_t)n->now;
	struct tm tm;

	memset(&h, 0, sizeof h);
	localtime_r(&tt, &tm);
	h.type = FTN_PACKET_2PLUS;
	h.orig = *fido_our_address(n->cfg, &n->hop);
	h.dest = n->hop;
	if (n->link)
		strcpy(h.password, n->link->password);
	h.year = tm.tm_year + 1900, h.month = tm.tm_mon, h.day = tm.tm_mday;
	h.hour = tm.tm_hour, h.minute = tm.tm_min, h.second = tm.tm_sec;
	return ftn_packet_header_write(out, &h);
}

int netmail_packet(const struct netmail *n, const char *message, size_t len, struct buf *out)
{
	const struct ftn_addr *us = fido_our_address(n->cfg, &n->dest);
	struct ftn_message m;
	struct post p;
	int ok;

	post_init(&p);
	ftn_message_init(&m);
	m.orig_node = us->node, m.orig_net = us->net;
	m.dest_node = n->dest.node, m.dest_net = n->dest.net;
	/* Only Private: the other bits of a packed netmail have local meaning. */
	m.attribute = FTN_ATTR_PRIVATE;
	buf_truncate(out, 0);
	ok = post_from_message(&p, message, len, n->cfg->charset);
	if (ok) {
		ftn_date_format(m.date, p.date >= 0 ? p.date : n->arrival);
		ok = buf_copys(&m.to, n->to_name) && buf_copy(&m.from, p.from_name.data, p.from_name.len)
		     && buf_copy(&m.subject, p.subject.data, p.subject.len) && build_text(n, us, &p, &m.text)
		     && packet_header(n, out) && ftn_message_write(out, &m) && buf_cat(out, "\0\0", 2);
	}
	if (ok && p.message_id.len)
		ok = record_msgid(n, us, p.message_id.data);
	ftn_message_free(&m);
	post_free(&p);
	return ok;
}

/* The file holds the first serial not yet given out; each process takes
 * a block of SERIAL_BLOCK and starts no lower than the clock, so serials
 * keep rising even if the file is lost. */
int netmail_serial(uint32_t *serial)
{
	static uint32_t next, end;
	char path[4096], text[32];
	uint32_t stored = 0, now = (uint32_t)time(NULL);
	ssize_t r;
	int fd, ok;

	if (next != end) {
		*serial = next++;
		return 1;
	}
	if (!home_path(path, sizeof path, SERIAL_FILE) || (fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0)
		return 0;
	ok = flock(fd, LOCK_EX) == 0 && (r = pread(fd, text, sizeof text - 1, 0)) >= 0;
	if (ok) {
		text[r] = 0;
		stored = (uint32_t)strtoul(text, NULL, 16);
		next = stored > now ? stored : now;
		end = next + SERIAL_BLOCK;
		r = snprintf(text, sizeof text, "%08lx\n", (unsigned long)end);
		ok = pwrite(fd, text, (size_t)r, 0) == r && ftruncate(fd, r) == 0 && fsync(fd) == 0;
	}
	close(fd);
	if (!ok) {
		next = end = 0;
		return 0;
	}
	*serial = next++;
	return 1;
}
