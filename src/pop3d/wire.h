/* wire: turns a stored message (LF or CRLF line ends) into what POP3 sends:
 * CRLF line ends, a '.' doubled at the start of a line (RFC 1939 §3), an
 * unterminated last line closed with CRLF.  The same pass counts the wire
 * size (without the stuffing dots, as LIST reports it), notices the spam
 * header, and stops after the header plus N body lines for TOP. */
#ifndef BBSMAIL_POP3D_WIRE_H
#define BBSMAIL_POP3D_WIRE_H
#include "buf.h"
#include <stddef.h>

#define WIRE_HEAD_KEEP_BYTES 40

struct wire {
	unsigned long long size;    /* wire octets so far, stuffing excluded */
	long body_lines_left;       /* TOP: body lines still to send; -1 = all */
	int line_start;             /* next byte begins a line */
	int pending_cr;             /* a CR ended the last chunk */
	int in_header;              /* no empty line seen yet */
	int done;                   /* TOP limit reached: ignore the rest */
	int spam;                   /* the spam header was seen */
	size_t line_len;            /* bytes of the current line so far (no CR/LF) */
	char head[WIRE_HEAD_KEEP_BYTES]; /* first bytes of the current header line */
};

/* body_lines: TOP's line count, or -1 for the whole message. */
void wire_init(struct wire *w, long body_lines);
/* Feeds stored bytes; appends wire bytes to out unless out is NULL (measuring). */
void wire_feed(struct wire *w, const char *data, size_t len, struct buf *out);
/* Ends the message: a pending CR, a missing final CRLF. */
void wire_finish(struct wire *w, struct buf *out);

#endif
