/* milter: the client side of the Sendmail mail filter protocol, version 6
 * (what libmilter and Postfix speak), with no knowledge of SMTP sessions.
 * A packet on the socket is a 4-byte length in network order (counting the
 * command byte and the data), one command byte, then the data; strings in
 * the data end with a NUL.  milter(5) says which steps and replies smtpd
 * uses. */
#ifndef BBSMAIL_MILTER_H
#define BBSMAIL_MILTER_H
#include "buf.h"
#include <stddef.h>

#define MILTER_PROTOCOL_VERSION 6
/* A packet larger than this is a protocol error; a body replacement may
 * add the message size limit (milter_set_packet_max). */
#define MILTER_PACKET_MAX_BYTES (1024 * 1024)
/* The largest body chunk one SMFIC_BODY carries (libmilter's MILTER_CHUNK_SIZE). */
#define MILTER_BODY_CHUNK_MAX_BYTES 65535
#define MILTER_ERROR_MAX_BYTES 128

/* Commands, MTA to filter (SMFIC_*). */
#define MILTER_CMD_ABORT    'A'
#define MILTER_CMD_BODY     'B'
#define MILTER_CMD_CONNECT  'C'
#define MILTER_CMD_MACRO    'D'
#define MILTER_CMD_EOM      'E'
#define MILTER_CMD_HELO     'H'
#define MILTER_CMD_QUIT_NC  'K'
#define MILTER_CMD_HEADER   'L'
#define MILTER_CMD_MAIL     'M'
#define MILTER_CMD_EOH      'N'
#define MILTER_CMD_OPTNEG   'O'
#define MILTER_CMD_QUIT     'Q'
#define MILTER_CMD_RCPT     'R'
#define MILTER_CMD_DATA     'T'
#define MILTER_CMD_UNKNOWN  'U'

/* Actions the MTA allows (SMFIF_*). */
#define MILTER_ACT_ADDHDRS     0x01
#define MILTER_ACT_CHGBODY     0x02
#define MILTER_ACT_ADDRCPT     0x04
#define MILTER_ACT_DELRCPT     0x08
#define MILTER_ACT_CHGHDRS     0x10
#define MILTER_ACT_QUARANTINE  0x20
#define MILTER_ACT_CHGFROM     0x40
#define MILTER_ACT_ADDRCPT_PAR 0x80
#define MILTER_ACT_SETSYMLIST  0x100

/* Protocol steps (SMFIP_*): the MTA offers, the filter picks. */
#define MILTER_PROTO_NOCONNECT 0x01
#define MILTER_PROTO_NOHELO    0x02
#define MILTER_PROTO_NOMAIL    0x04
#define MILTER_PROTO_NORCPT    0x08
#define MILTER_PROTO_NOBODY    0x10
#define MILTER_PROTO_NOHDRS    0x20
#define MILTER_PROTO_NOEOH     0x40
#define MILTER_PROTO_NR_HDR    0x80
#define MILTER_PROTO_NOUNKNOWN 0x100
#define MILTER_PROTO_NODATA    0x200
#define MILTER_PROTO_SKIP      0x400
#define MILTER_PROTO_RCPT_REJ  0x800
#define MILTER_PROTO_NR_CONN   0x1000
#define MILTER_PROTO_NR_HELO   0x2000
#define MILTER_PROTO_NR_MAIL   0x4000
#define MILTER_PROTO_NR_RCPT   0x8000
#define MILTER_PROTO_NR_DATA   0x10000
#define MILTER_PROTO_NR_UNKN   0x20000
#define MILTER_PROTO_NR_EOH    0x40000
#define MILTER_PROTO_NR_BODY   0x80000
#define MILTER_PROTO_HDR_LEADSPC 0x100000

/* What smtpd implements: every modification but SETSYMLIST, and every
 * step it can leave out or send without waiting for a reply. */
#define MILTER_ACTIONS_OFFERED 0xffUL
#define MILTER_PROTOCOL_OFFERED 0xff7ffUL

/* Replies, filter to MTA (SMFIR_*), as milter_reply_parse names them. */
enum milter_reply_kind {
	MILTER_REPLY_ACCEPT,       /* 'a' */
	MILTER_REPLY_CONTINUE,     /* 'c' */
	MILTER_REPLY_DISCARD,      /* 'd' */
	MILTER_REPLY_REJECT,       /* 'r' */
	MILTER_REPLY_TEMPFAIL,     /* 't' */
	MILTER_REPLY_REPLYCODE,    /* 'y': code, enhanced, text */
	MILTER_REPLY_PROGRESS,     /* 'p' */
	MILTER_REPLY_SKIP,         /* 's' */
	MILTER_REPLY_QUARANTINE,   /* 'q': text (the reason) */
	MILTER_REPLY_ADDHEADER,    /* 'h': name, value */
	MILTER_REPLY_INSHEADER,    /* 'i': index, name, value */
	MILTER_REPLY_CHGHEADER,    /* 'm': index, name, value ("" deletes) */
	MILTER_REPLY_REPLBODY,     /* 'b': data, data_len */
	MILTER_REPLY_ADDRCPT,      /* '+': address */
	MILTER_REPLY_ADDRCPT_PAR,  /* '2': address, args */
	MILTER_REPLY_DELRCPT,      /* '-': address */
	MILTER_REPLY_CHGFROM,      /* 'e': address, args */
	MILTER_REPLY_SETSYMLIST,   /* 'l': index (the step), text */
	MILTER_REPLY_SHUTDOWN,     /* '4' */
	MILTER_REPLY_CONN_FAIL,    /* 'f' */
	MILTER_REPLY_OPTNEG        /* 'O': version, actions, protocol */
};

#define MILTER_REPLY_TEXT_MAX_BYTES 512

struct milter_reply {
	enum milter_reply_kind kind;
	int code;                          /* REPLYCODE: 4xx or 5xx */
	char enhanced[16];                 /* REPLYCODE: "x.y.z" or "" */
	/* Strings point into the packet (each ends with its NUL there). */
	const char *text;                  /* REPLYCODE (after the codes), QUARANTINE, SETSYMLIST */
	const char *name, *value;          /* headers */
	unsigned long index;               /* INSHEADER, CHGHEADER, SETSYMLIST */
	const char *address, *args;        /* recipients, CHGFROM; args "" if none */
	const unsigned char *data;         /* REPLBODY */
	size_t data_len;
	unsigned long version, actions, protocol;   /* OPTNEG */
	const char *error;                 /* when the parse failed: why */
};

/* Parses one packet, its command byte first (the length prefix already
 * removed): no I/O, so it can be fuzzed.  1 ok; 0 malformed, out->error
 * says why.  A header name is printable ASCII without ':' or space; a
 * header value may fold (LF or CRLF, then a space or tab) but holds no
 * NUL, no bare CR and no line over 998 bytes; a reply code is 4xx or 5xx
 * with an optional enhanced code of the same class, its text printable. */
int milter_reply_parse(const unsigned char *packet, size_t len, struct milter_reply *out);
/* The letter's name for logs ("reject", "addheader", ...). */
const char *milter_reply_name(enum milter_reply_kind kind);

/* Parses a filter's address: unix:/path, inet:<port>@<ip>, inet:<ip>:<port>,
 * inet6:<port>@<ip6>, inet6:[<ip6>]:<port> (numeric addresses only, never a
 * name lookup).  1 ok, 0 with why. */
struct sockaddr_storage;
int milter_address_parse(const char *address, struct sockaddr_storage *ss, unsigned *ss_len, const char **why);

struct milter {
	int fd;                            /* -1 when closed */
	struct buf in;                     /* bytes read, not yet a whole packet */
	struct buf packet;                 /* the last packet read (command byte first) */
	struct buf out;                    /* the packet being built */
	struct buf pending;                /* framed packets not yet sent */
	size_t packet_max;
	unsigned long actions, protocol;   /* negotiated */
	char error[MILTER_ERROR_MAX_BYTES];/* of the last failure */
};

void milter_init(struct milter *m);
void milter_close(struct milter *m);
/* A larger bound for replies (a body replacement of a large message). */
void milter_set_packet_max(struct milter *m, size_t bytes);
/* Connects within timeout_ms.  1 ok, 0 with m->error. */
int milter_open(struct milter *m, const char *address, long long timeout_ms);
/* Sends one packet (cmd, data) before the absolute deadline (conn_now_ms
 * scale).  1 ok, 0 with m->error. */
int milter_send(struct milter *m, char cmd, const void *data, size_t len, long long deadline_ms);
/* Queues one packet to go with the next milter_send, in the same write
 * (a step's macros).  1 ok, 0 with m->error. */
int milter_queue(struct milter *m, char cmd, const void *data, size_t len);
/* Reads one reply, skipping progress replies (each restarts the wait of
 * timeout_ms), and parses it into r (pointing into m->packet).  1 ok, 0
 * with m->error (timeout, EOF, a malformed packet). */
int milter_read_reply(struct milter *m, struct milter_reply *r, long long timeout_ms);
/* SMFIC_OPTNEG: offers version 6, actions and protocol; keeps what the
 * filter chose within the offer (m->actions, m->protocol).  1 ok, 0 with
 * m->error (no answer, not an SMFIC_OPTNEG answer, a version outside 2..6). */
int milter_negotiate(struct milter *m, unsigned long actions, unsigned long protocol, long long timeout_ms);

/* Building a packet's data in m->out before milter_send(m, cmd, m->out...):
 * a string with its NUL, a 16-bit or 32-bit number in network order. */
void milter_out_reset(struct milter *m);
int milter_out_string(struct milter *m, const char *s);
int milter_out_bytes(struct milter *m, const void *p, size_t n);
int milter_out_u16(struct milter *m, unsigned v);
int milter_out_u32(struct milter *m, unsigned long v);

#endif
