/* qwk: the QWK message format (MESSAGES.DAT and a REP's <ID>.MSG: 128-byte
 * blocks, man qwk-pack(1)): writing one message as its blocks, reading a
 * whole file of them strictly, and the MS-BASIC single-precision floats
 * of the NDX index files. */
#ifndef BBSMAIL_QWK_H
#define BBSMAIL_QWK_H
#include "buf.h"
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define QWK_BLOCK_BYTES 128
#define QWK_FIELD_NAME_BYTES 25
#define QWK_LINE_END 0xE3          /* the line separator in message text */
#define QWK_ACTIVE 0xE1
#define QWK_DELETED 0xE2
/* A message's block count field holds 6 digits; we refuse bigger. */
#define QWK_MESSAGE_BLOCKS_MAX 999999UL
/* Offsets in a header block. */
#define QWK_OFF_STATUS 0
#define QWK_OFF_NUMBER 1
#define QWK_OFF_DATE 8
#define QWK_OFF_TIME 16
#define QWK_OFF_TO 21
#define QWK_OFF_FROM 46
#define QWK_OFF_SUBJECT 71
#define QWK_OFF_PASSWORD 96
#define QWK_OFF_REFERENCE 108
#define QWK_OFF_BLOCKS 116
#define QWK_OFF_ACTIVE 122
#define QWK_OFF_CONFERENCE 123
#define QWK_OFF_LOGICAL 125
#define QWK_OFF_NETTAG 127

/* A message to write.  Strings are NUL-terminated; to/from/subject may be
 * longer than 25 (then a QWKE line carries the whole value). */
struct qwk_out {
	char status;               /* ' ' public, '+' private */
	unsigned long number;      /* 0: spaces (patched by the packer) */
	time_t date;               /* written in local time */
	const char *to, *from, *subject;
	const char *route_line;    /* NULL, or the netmail route line "user@HOP2/..." */
	const char *const *kludges;   /* NULL-ended "@KEY: value" lines, or NULL */
	unsigned long reference;
	unsigned conference;
	const char *text;          /* CR or LF line ends (CRLF is one end) */
	size_t text_len;
};
/* Appends the message's blocks to out.  1 ok, 0 errno. */
int qwk_message_write(struct buf *out, const struct qwk_out *m);
/* Patches the message number and logical number of the header block at
 * blocks (a message written by qwk_message_write). */
void qwk_message_set_number(unsigned char *header, unsigned long number);

/* A message read from a file of blocks. */
struct qwk_in {
	size_t offset;             /* of its header block */
	size_t blocks;             /* header + body */
	char status;
	unsigned long number;      /* the number field (a REP: the conference) */
	unsigned conference;       /* bytes 123-124 */
	int active;
	int year, month, day, hour, minute;   /* 4-digit year (YY < 70: 20YY) */
	unsigned long reference;
	struct buf to, from, subject;   /* QWKE long values where given, else the fields */
	struct buf route_line;     /* empty unless to is NETMAIL: the first text line */
	struct buf via, msgid, reply;   /* @VIA, @MSGID, @REPLY kludges */
	struct buf text;           /* the rest, LF line ends, trailing blanks stripped */
};
struct qwk_file {
	char banner[QWK_BLOCK_BYTES + 1];   /* block 0, trailing blanks stripped */
	struct qwk_in *messages;
	size_t count;
};
#define QWK_FILE_INIT { { 0 }, NULL, 0 }
/* Parses a whole file strictly: its size a multiple of 128 and at least
 * one block, every header valid (a block count from 1 that stays inside
 * the file, date and time digits, the active flag).  1 ok; 0 with errno
 * EBADMSG (problem says what and where; problem_size bytes) or ENOMEM. */
int qwk_file_parse(struct qwk_file *f, const unsigned char *data, size_t len, char *problem,
		   size_t problem_size);
void qwk_file_free(struct qwk_file *f);

/* The MS-BASIC (MBF) single-precision float of a non-negative integer
 * value (exact up to 2^24), little-endian as in the NDX files. */
void qwk_mbf_from_uint(uint32_t value, unsigned char out[4]);
/* Back again; -1 for a value that is negative or not an integer. */
long qwk_mbf_to_long(const unsigned char in[4]);

#endif
