/* bbsmail-board: shows what the sub-boards hold (bbsmail-board(1)).
 *   list                 each board: code, messages, base, name
 *   read <code>          one line per message: number, from, subject
 *   read <code> <n>      message number n, headers and text
 *   export <code>        every message as by read <code> <n> */
#include "board.h"
#include "buf.h"
#include "date.h"
#include "file.h"
#include "home.h"
#include "jam.h"
#include "log.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define USAGE "bbsmail-board [-d DIR] list | read <code> [n] | export <code>"

static void out(const struct buf *b)
{
	if (!file_write_all(1, b->data ? b->data : "", b->len))
		die_sys("unable to write the output");
}

static const char *field(const struct jam_message *m, unsigned id, struct buf *scratch)
{
	size_t len;
	const char *d = jam_message_get(m, id, &len);

	buf_truncate(scratch, 0);
	xbuf_cat(scratch, d ? d : "", d ? len : 0);
	xbuf_catc(scratch, 0);
	scratch->len--;
	return scratch->data;
}

/* The e-mail address kept in the REPLYADDR kludge, or "". */
static void reply_address(const struct jam_message *m, struct buf *b)
{
	size_t i;

	buf_truncate(b, 0);
	for (i = 0; i < m->subfield_count; i++) {
		const struct jam_subfield *s = &m->subfields[i];
		if (s->lo_id == JAM_SF_FTSKLUDGE && s->len > 10 && memcmp(m->subfield_data.data + s->offset, "REPLYADDR ", 10) == 0) {
			xbuf_cat(b, m->subfield_data.data + s->offset + 10, s->len - 10);
			break;
		}
	}
	xbuf_catc(b, 0);
	b->len--;
}

static int open_board(const char *code, struct jam_base *base, struct jam_base_header *h)
{
	struct board_list list;
	const struct board *b;
	char text[PATH_MAX + 160], path[PATH_MAX];

	if (!board_list_load(&list, text, sizeof text))
		die_temp("%s", text);
	b = board_find(&list, code);
	if (!b)
		die_perm("no such sub-board: %s", code);
	xhome_path(path, sizeof path, b->base);
	board_list_free(&list);
	if (!jam_open(base, path, 0)) {
		if (errno == ENOENT)
			return 0;
		die_sys("unable to open %s", path);
	}
	if (!jam_read_base_header(base, h))
		die_sys("unable to read the base header of %s", path);
	return 1;
}

static void show_message(const struct jam_message *m, unsigned long number, struct buf *o)
{
	struct buf s = BUF_INIT, a = BUF_INIT;
	char date[64];
	size_t i;

	reply_address(m, &a);
	xbuf_catf(o, "Number: %lu\n", number);
	xbuf_catf(o, "From: %s", field(m, JAM_SF_SENDERNAME, &s));
	if (a.len)
		xbuf_catf(o, " <%s>", a.data);
	xbuf_catf(o, "\nTo: %s\n", field(m, JAM_SF_RECEIVERNAME, &s));
	xbuf_catf(o, "Subject: %s\n", field(m, JAM_SF_SUBJECT, &s));
	/* JAM keeps local time: shown as such, with no zone. */
	date_rfc5322(date, sizeof date, (long long)m->date_written);
	if (strlen(date) > 6 && date[strlen(date) - 6] == ' ')
		date[strlen(date) - 6] = 0;
	xbuf_catf(o, "Date: %s\n", date);
	if (jam_message_get(m, JAM_SF_MSGID, NULL))
		xbuf_catf(o, "Message-ID: %s\n", field(m, JAM_SF_MSGID, &s));
	if (jam_message_get(m, JAM_SF_REPLYID, NULL))
		xbuf_catf(o, "Reply-ID: %s\n", field(m, JAM_SF_REPLYID, &s));
	xbuf_catc(o, '\n');
	for (i = 0; i < m->text.len; i++)
		xbuf_catc(o, m->text.data[i] == '\r' ? '\n' : m->text.data[i]);
	if (m->text.len && m->text.data[m->text.len - 1] != '\r')
		xbuf_catc(o, '\n');
	buf_free(&s);
	buf_free(&a);
}

static int cmd_list(void)
{
	struct board_list list;
	struct buf o = BUF_INIT;
	char text[PATH_MAX + 160], path[PATH_MAX];
	size_t i;

	if (!board_list_load(&list, text, sizeof text))
		die_temp("%s", text);
	for (i = 0; i < list.count; i++) {
		struct jam_base base;
		struct jam_base_header h = { 0, 0, 0, 0, 0 };
		xhome_path(path, sizeof path, list.boards[i].base);
		if (jam_open(&base, path, 0)) {
			if (!jam_read_base_header(&base, &h))
				die_sys("unable to read the base header of %s", path);
			jam_close(&base);
		}
		xbuf_catf(&o, "%s %lu %s %s\n", list.boards[i].code, (unsigned long)h.active_msgs, list.boards[i].base,
			  list.boards[i].name);
	}
	out(&o);
	buf_free(&o);
	board_list_free(&list);
	return 0;
}

/* n == 0: the summary of every message; export: every message whole. */
static int cmd_read(const char *code, unsigned long n, int whole)
{
	struct jam_base base;
	struct jam_base_header h;
	struct jam_message m;
	struct buf o = BUF_INIT, s = BUF_INIT;
	uint32_t count, i;
	int r, shown = 0;

	if (!open_board(code, &base, &h)) {
		if (n)
			die_perm("no message %lu in %s", n, code);
		return 0;
	}
	if (!jam_index_count(&base, &count))
		die_sys("unable to read the index of %s", code);
	jam_message_init(&m);
	for (i = 0; i < count; i++) {
		if (n && (unsigned long)h.base_msg_num + i != n)
			continue;
		r = jam_read_message(&base, i, &m);
		if (r < 0)
			die_sys("message %lu of %s is damaged", (unsigned long)h.base_msg_num + i, code);
		if (r == 0)
			continue;
		if (n || whole) {
			if (shown++)
				xbuf_catc(&o, '\n');
			show_message(&m, (unsigned long)h.base_msg_num + i, &o);
		} else {
			xbuf_catf(&o, "%lu %s", (unsigned long)h.base_msg_num + i, field(&m, JAM_SF_SENDERNAME, &s));
			xbuf_catf(&o, " %s\n", field(&m, JAM_SF_SUBJECT, &s));
		}
		out(&o);
		buf_truncate(&o, 0);
	}
	jam_message_free(&m);
	jam_close(&base);
	buf_free(&o);
	buf_free(&s);
	if (n && !shown)
		die_perm("no message %lu in %s", n, code);
	return 0;
}

int main(int argc, char **argv)
{
	int i = 1;
	char *end;
	unsigned long n = 0;

	log_set_program("bbsmail-board");
	if (argc > 2 && strcmp(argv[1], "-d") == 0)
		home_set(argv[2]), i = 3;
	if (argc == i + 1 && strcmp(argv[i], "list") == 0)
		return cmd_list();
	if ((argc == i + 2 || argc == i + 3) && strcmp(argv[i], "read") == 0) {
		if (argc == i + 3) {
			errno = 0;
			n = strtoul(argv[i + 2], &end, 10);
			if (errno || *end || !n)
				die_usage(USAGE);
		}
		return cmd_read(argv[i + 1], n, 0);
	}
	if (argc == i + 2 && strcmp(argv[i], "export") == 0)
		return cmd_read(argv[i + 1], 0, 1);
	die_usage(USAGE);
}
