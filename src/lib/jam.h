/* jam: a JAM message base (JAM-001, "JAM(mbp) - The Joaquim-Andrew-Mats
 * Message Base Proposal", rev. 001, 1993-07-01), the format the BBS
 * packages and FidoNet tools read.  One base is four files with a common
 * name: <base>.jhr (a 1024-byte base header, then per message a 76-byte
 * fixed header and its subfields), <base>.jdt (the texts, CR line ends),
 * <base>.jdx (8 bytes per message number: CRC of the lower-cased To name,
 * offset of the header in .jhr) and <base>.jlr (last-read records, which
 * we only create).  All numbers are little-endian.
 *
 * The files are written by other programs too, so every read here is
 * outside input: each offset and length is checked against the file. */
#ifndef BBSMAIL_JAM_H
#define BBSMAIL_JAM_H
#include "buf.h"
#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#define JAM_BASE_HEADER_BYTES 1024
#define JAM_MESSAGE_HEADER_BYTES 76
#define JAM_INDEX_RECORD_BYTES 8
#define JAM_REVISION 1
/* An index record of a message number with no message. */
#define JAM_NO_MESSAGE 0xffffffffu
/* Our own sanity bounds on what another writer put there. */
#define JAM_SUBFIELDS_MAX_BYTES (1024u * 1024u)
#define JAM_TEXT_MAX_BYTES (64u * 1024u * 1024u)

/* Subfield ids (LoID; HiID is 0). */
enum jam_subfield_id {
	JAM_SF_OADDRESS = 0, JAM_SF_DADDRESS = 1, JAM_SF_SENDERNAME = 2, JAM_SF_RECEIVERNAME = 3,
	JAM_SF_MSGID = 4, JAM_SF_REPLYID = 5, JAM_SF_SUBJECT = 6, JAM_SF_PID = 7,
	JAM_SF_FTSKLUDGE = 2000, JAM_SF_TZUTCINFO = 2004
};

/* Attribute bits used here. */
#define JAM_ATTR_LOCAL 0x00000001u
#define JAM_ATTR_TYPELOCAL 0x00800000u
#define JAM_ATTR_DELETED 0x80000000u

struct jam_base_header {
	uint32_t date_created, mod_counter, active_msgs, password_crc, base_msg_num;
};

struct jam_subfield {
	uint16_t lo_id, hi_id;
	uint32_t len;
	size_t offset;          /* of the data in jam_message.subfield_data */
};

struct jam_message {
	uint32_t subfield_len, times_read, msgid_crc, reply_crc, reply_to, reply_1st, reply_next;
	uint32_t date_written, date_received, date_processed, message_number;
	uint32_t attribute, attribute2, txt_offset, txt_len, password_crc, cost;
	struct buf subfield_data;   /* the raw subfields */
	struct jam_subfield *subfields;
	size_t subfield_count;
	struct buf text;            /* .jdt text (read, or to write) */
	/* Set before parsing: SubfieldLen may overstate the subfields (a
	 * known writer bug, jam.c), so a JAM signature at a subfield boundary
	 * or the end of the data ends them. */
	int subfield_len_clamped;
};

struct jam_base {
	int jhr, jdt, jdx;
	char path[PATH_MAX];        /* without the suffix */
};

/* The JAM CRC-32 of s lower-cased (ASCII), with no final XOR: the value
 * JAM puts in ToCRC, MSGIDcrc and REPLYcrc. */
uint32_t jam_crc(const char *s, size_t len);

void jam_message_init(struct jam_message *m);
void jam_message_free(struct jam_message *m);
/* Adds a subfield (data copied).  1 ok, 0 ENOMEM / EOVERFLOW. */
int jam_message_add(struct jam_message *m, unsigned id, const void *data, size_t len);
/* The first subfield with this id: its data and length, or NULL. */
const char *jam_message_get(const struct jam_message *m, unsigned id, size_t *len);

/* Parses the 1024-byte base header.  1 ok, 0 EINVAL (short, bad signature). */
int jam_parse_base_header(const void *data, size_t len, struct jam_base_header *h);
/* Parses a fixed header and its subfields from data (len bytes: the
 * header, then SubfieldLen bytes, or fewer with m->subfield_len_clamped).
 * 1 ok, 0 EINVAL. */
int jam_parse_message_header(const void *data, size_t len, struct jam_message *m);

/* Opens <path>.jhr/.jdt/.jdx (creating them and <path>.jlr, and the base
 * header, with create set; the directory must exist).  1 ok, 0 errno. */
int jam_open(struct jam_base *base, const char *path, int create);
void jam_close(struct jam_base *base);
/* The base's write lock: the first byte of .jhr, fcntl F_SETLKW (the
 * region JAM's writers lock while they update the base header and the
 * index).  1 ok, 0 errno. */
int jam_lock(struct jam_base *base);
void jam_unlock(struct jam_base *base);
/* Reads and checks the base header.  1 ok, 0 errno (EINVAL: bad). */
int jam_read_base_header(struct jam_base *base, struct jam_base_header *h);
/* The number of index records (the highest message number + 1 - base). */
int jam_index_count(struct jam_base *base, uint32_t *count);
/* Reads message number base_msg_num + i: 1 got it, 0 no message there
 * (deleted or an empty record), -1 error (errno; EINVAL for a damaged
 * record). */
int jam_read_message(struct jam_base *base, uint32_t i, struct jam_message *m);
/* Appends m (fields, subfields, text) as a new message; the caller holds
 * the lock.
 * The order makes a crash harmless: text, then header, then index record,
 * each made durable before the next, then the base header (ActiveMsgs,
 * ModCounter).  to_name gives the index CRC.  Fills m->message_number.
 * 1 ok, 0 errno. */
int jam_append(struct jam_base *base, struct jam_message *m, const char *to_name);
/* jam_append for count messages at once, numbered in order, in the same
 * four steps: all texts, then all headers, then all index records, each
 * step durable before the next, then the base header: four fdatasyncs
 * for the batch instead of four per message; a crash leaves a prefix of
 * the steps, as for one message.  1 ok, 0 errno. */
int jam_append_batch(struct jam_base *base, struct jam_message *const *msgs, size_t count, const char *to_name);
/* Recounts ActiveMsgs from the index and rewrites the base header, under
 * the lock (a rerun after a crash between the index and the base header).
 * 1 ok, 0 errno. */
int jam_recount(struct jam_base *base);

#endif
