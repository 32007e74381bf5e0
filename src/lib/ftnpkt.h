/* ftnpkt: FidoNet packets (FTS-0001 type 2, FSC-0039/0048 type 2+,
 * FSC-0045 type 2.2): the 58-byte header, packed messages, the two-null
 * terminator, and the kludge lines of a message text (FTS-4000).  All
 * integers are u16 little-endian.  Readers are strict about lengths: a
 * field that runs past the data is an error, never a read past it. */
#ifndef BBSMAIL_FTNPKT_H
#define BBSMAIL_FTNPKT_H
#include "buf.h"
#include "fido.h"
#include <stddef.h>

#define FTN_PACKET_HEADER_BYTES 58
#define FTN_MESSAGE_FIXED_BYTES 34     /* up to and with the 20-byte date */
#define FTN_DATE_BYTES 20
/* Our product code (0xFE is "not assigned" in the FTSC list). */
#define FTN_PRODUCT_CODE 0xFE

enum ftn_packet_type {
	FTN_PACKET_2 = 1,       /* FTS-0001: no points */
	FTN_PACKET_2PLUS,       /* FSC-0039 / FSC-0048 */
	FTN_PACKET_22           /* FSC-0045 */
};

struct ftn_packet_header {
	enum ftn_packet_type type;
	struct ftn_addr orig, dest;
	char password[FIDO_PASSWORD_MAX_BYTES + 1];
	int year, month, day, hour, minute, second;   /* month 0-11 */
};

/* Appends a type 2+ header (both zone copies, the capability word and its
 * byte-swapped copy; FSC-0048 0xFFFF/auxNet for a point origin). */
int ftn_packet_header_write(struct buf *out, const struct ftn_packet_header *h);
/* Parses the first 58 bytes.  1 ok, 0 malformed (too short, not type 2). */
int ftn_packet_header_parse(const unsigned char *data, size_t len, struct ftn_packet_header *h);

#define FTN_ATTR_PRIVATE 0x0001
#define FTN_ATTR_CRASH 0x0002
#define FTN_ATTR_HOLD 0x0200
#define FTN_ATTR_LOCAL_ONLY 0x03ba   /* Crash Sent KillSent Local InTransit Orphan Hold: never sent */

struct ftn_message {
	unsigned orig_node, dest_node, orig_net, dest_net, attribute;
	char date[FTN_DATE_BYTES];     /* ASCIIZ */
	struct buf to, from, subject;  /* without their NUL */
	struct buf text;               /* without its NUL; CR line ends */
};
void ftn_message_init(struct ftn_message *m);
void ftn_message_free(struct ftn_message *m);
/* Appends one packed message (FTS-0001 names cut at 35 bytes, the subject
 * at 71; a NUL in any of them ends it there). */
int ftn_message_write(struct buf *out, const struct ftn_message *m);
/* Reads the packed message at data: 1 with *used bytes taken, 0 at the
 * packet terminator (two zero bytes), -1 malformed or truncated (EBADMSG). */
int ftn_message_parse(const unsigned char *data, size_t len, size_t *used, struct ftn_message *m);

/* "DD Mon YY  HH:MM:SS" of a Unix time in local time. */
void ftn_date_format(char out[FTN_DATE_BYTES], long long t);
/* The FTS date (or the SEAdog form "Www DD Mon YY HH:MM") as seconds
 * since 1970 read as if it were UTC (the caller applies the writer's
 * TZUTC offset); -1 when it is neither.  Two-digit years: 00-79 are
 * 20xx, 80-99 19xx. */
long long ftn_date_parse(const char *s);

/* The value of the first kludge line "\001<name>" of text, followed by
 * ':' and/or blanks (both forms are in use), into out.  1 found, 0 not,
 * -1 ENOMEM. */
int ftn_kludge_get(const char *text, size_t len, const char *name, struct buf *out);

#endif
