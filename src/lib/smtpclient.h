/* smtpclient: the ESMTP client that deliver-remote(8) speaks to a peer with.
 * One struct smtpclient is one TCP session; it can carry several messages.
 *
 * Session: smtpclient_init, smtpclient_connect (non-blocking connect within
 * its timeout, optional source address, then the greeting: only 220 goes
 * on), smtpclient_ehlo (EHLO, HELO when EHLO gets a 5xx), optionally
 * smtpclient_starttls (RFC 3207: everything learnt before is forgotten and
 * EHLO is sent again) and smtpclient_auth, then smtpclient_send per message
 * and smtpclient_quit + smtpclient_close.  smtpclient_usable says whether
 * the session can take another message.
 *
 * Replies (RFC 5321 §4.2): each line is three digits, then '-' (more lines
 * follow), ' ' or the line end; every line of one reply must carry the same
 * code.  A line is at most SMTPCLIENT_LINE_MAX_BYTES, a reply at most
 * SMTPCLIENT_REPLY_MAX_LINES lines and SMTPCLIENT_REPLY_MAX_BYTES; anything
 * else is a protocol error that ends the session.  A bare LF is accepted as
 * a line end.  An RFC 2034 enhanced status code ("x.y.z" whose class is the
 * reply's first digit) at the start of a line is taken off the text and kept
 * apart.  The text keeps one '\n' between lines; control bytes in it become
 * '?' (TAB a space), so it can go into a spool record or a log field.
 *
 * Timeouts (RFC 5321 §4.5.3.2) are a struct the caller fills; each wait for
 * a reply is bounded both per read and as a whole, a data block write by
 * data_block; 0 means no limit.  A caller that must not use an extension
 * clears its flag in c->caps after the last EHLO (smtpclient_starttls sends
 * one too): CHUNKING, PIPELINING, ...
 *
 * A transaction (smtpclient_send): MAIL FROM with SIZE= (RFC 1870) when the
 * peer offers SIZE, BODY=8BITMIME (RFC 6152) when the message has a byte
 * >= 0x80 and the peer offers 8BITMIME, SMTPUTF8 (RFC 6531) when an address
 * is not ASCII or the envelope says so and the peer offers it, RET= and
 * ENVID= (RFC 3461, xtext) when given and the peer offers DSN; RCPT TO with
 * NOTIFY= and ORCPT= likewise.  With PIPELINING (RFC 2920) MAIL, every RCPT
 * and DATA go out in one write and the replies are read in order.  The
 * message is stored with LF line ends: on the wire each LF becomes CRLF (a
 * CR already before the LF is kept, not doubled), a last line without LF
 * gets one, lines starting with '.' are dot-stuffed (RFC 5321 §4.5.2) and
 * ".\r\n" ends the data.  With CHUNKING (RFC 3030) the message goes as one
 * "BDAT n LAST" instead, CRLF-converted but not dot-stuffed, after the RCPT
 * replies.  No recipient accepted: no data, RSET.  Other bare CRs pass
 * through unchanged (a spool written by smtpd has none).
 *
 * Refused before anything is sent, with a result made here (remote 0):
 *   a message larger than the peer's SIZE         552 5.3.4, every recipient
 *   a non-ASCII sender, peer without SMTPUTF8     553 5.6.7, every recipient
 *   a non-ASCII recipient, peer without SMTPUTF8  553 5.6.7, that recipient
 *   a control byte in an address or NOTIFY=       501 5.1.3 / 5.5.4
 * 8-bit data to a peer without 8BITMIME is sent as it is (RFC 6152 wants
 * it converted to 7 bit first, which this client does not do);
 * SMTPCLIENT_SENT_8BIT_AS_IS in the facts says that happened.
 *
 * Errors: every function returns 1 (ok) or 0 and then fills c->error: the
 * text, whether retrying later may help (temporary; a 5xx reply is
 * permanent, a 4xx, a network error, a timeout or a protocol error is
 * temporary) and whether the session itself is gone (connection: connect,
 * greeting, I/O, timeout, malformed reply, 421, failed TLS handshake), so
 * the caller can try another host.  Nothing here logs or exits. */
#ifndef BBSMAIL_SMTPCLIENT_H
#define BBSMAIL_SMTPCLIENT_H
#include "buf.h"
#include "conn.h"
#include <stddef.h>
#include <sys/socket.h>

#define SMTPCLIENT_LINE_MAX_BYTES 2048   /* one reply line, CRLF included */
#define SMTPCLIENT_REPLY_MAX_LINES 100
#define SMTPCLIENT_REPLY_MAX_BYTES 65536
#define SMTPCLIENT_STATUS_BYTES 12       /* "5.999.999" + NUL */
#define SMTPCLIENT_ERROR_BYTES 1024
#define SMTPCLIENT_CREDENTIAL_MAX_BYTES 1024 /* AUTH user or password */

/* Seconds; smtpclient_timeouts_default sets the RFC 5321 values. */
struct smtpclient_timeouts {
	int greeting;    /* 300, §4.5.3.2.1 */
	int helo;        /* 300 (EHLO/HELO; the RFC names none, MAIL's is used) */
	int starttls;    /* 300 (the 220 and then the handshake) */
	int auth;        /* 300 (each AUTH step) */
	int mail;        /* 300, §4.5.3.2.2 */
	int rcpt;        /* 300, §4.5.3.2.3 */
	int data_init;   /* 120, §4.5.3.2.4 (DATA's 354; BDAT is timed as a block) */
	int data_block;  /* 180, §4.5.3.2.5 (each wait to write data) */
	int data_done;   /* 600, §4.5.3.2.6 (the reply to "." or BDAT LAST) */
	int rset;        /* 300 */
	int quit;        /* 300 */
};

/* One reply.  text: every line's text, enhanced status taken off, lines
 * joined with '\n', control bytes replaced (see above); NUL-terminated. */
struct smtpclient_reply {
	int code;                          /* 200..599; 0 none yet */
	char status[SMTPCLIENT_STATUS_BYTES]; /* "2.1.0", "" when absent */
	struct buf text;
	size_t lines;
	size_t bytes;
	int done;                          /* the last line has been seen */
};

/* Capabilities from the EHLO reply (RFC 5321 §4.1.1.1, one keyword a line). */
#define SMTPCLIENT_CAP_PIPELINING 0x001
#define SMTPCLIENT_CAP_SIZE 0x002
#define SMTPCLIENT_CAP_8BITMIME 0x004
#define SMTPCLIENT_CAP_SMTPUTF8 0x008
#define SMTPCLIENT_CAP_DSN 0x010
#define SMTPCLIENT_CAP_CHUNKING 0x020
#define SMTPCLIENT_CAP_STARTTLS 0x040
#define SMTPCLIENT_CAP_AUTH 0x080
#define SMTPCLIENT_CAP_ENHANCEDSTATUSCODES 0x100

struct smtpclient_caps {
	unsigned flags;
	unsigned long long size_limit;     /* SIZE n; 0: none announced or no limit */
	char auth[256];                    /* the AUTH mechanisms, upper case, ' ' between */
};

struct smtpclient_error {
	char text[SMTPCLIENT_ERROR_BYTES];
	int temporary;   /* 1: retrying later may help */
	int connection;  /* 1: the session is gone (try another host) */
	int code;        /* the reply code behind it, 0 when none */
	char status[SMTPCLIENT_STATUS_BYTES];
};

struct smtpclient {
	int fd;                            /* -1 when not connected */
	struct conn conn;
	struct smtpclient_timeouts timeouts;
	struct smtpclient_reply reply;     /* the last reply read */
	struct smtpclient_caps caps;
	int esmtp;                         /* EHLO was accepted (else HELO) */
	int greeted;                       /* 220 seen, no transaction open */
	int broken;                        /* the session cannot go on */
	int authenticated;
	char auth_mech[32];                /* the mechanism that succeeded */
	char tls[128];                     /* tls_describe(), "" when plain */
	int tls_verified;                  /* the peer's certificate was checked */
	char helo_name[256];
	struct smtpclient_error error;
	struct buf line;                   /* private: the reply line being read */
};

struct smtpclient_rcpt {
	const char *address;   /* without <> */
	const char *notify;    /* NOTIFY= value or NULL */
	const char *orcpt;     /* "rfc822;addr" decoded, or NULL */
};

struct smtpclient_envelope {
	const char *sender;    /* "" for <> */
	const char *ret;       /* RET= FULL|HDRS or NULL */
	const char *envid;     /* decoded ENVID or NULL */
	int smtputf8;          /* the message needs SMTPUTF8 (its headers) */
	const struct smtpclient_rcpt *rcpt;
	size_t rcpt_count;
};

/* One per recipient, in the envelope's order. */
struct smtpclient_result {
	int code;              /* 250 ok; 4xx/5xx failed; 0: the session broke */
	char status[SMTPCLIENT_STATUS_BYTES];
	struct buf text;       /* one line: the reply's lines joined with ' ' */
	int remote;            /* 1: the peer said it; 0: decided here */
};

/* What smtpclient_send did (the facts argument). */
#define SMTPCLIENT_SENT_PIPELINED 0x01
#define SMTPCLIENT_SENT_BDAT 0x02
#define SMTPCLIENT_SENT_8BITMIME 0x04
#define SMTPCLIENT_SENT_8BIT_AS_IS 0x08 /* 8-bit data, peer without 8BITMIME */
#define SMTPCLIENT_SENT_SMTPUTF8 0x10
#define SMTPCLIENT_SENT_DSN 0x20
#define SMTPCLIENT_SENT_DATA 0x40       /* the message itself went out */

void smtpclient_timeouts_default(struct smtpclient_timeouts *t);
/* t NULL: the defaults.  Never fails. */
void smtpclient_init(struct smtpclient *c, const struct smtpclient_timeouts *t);
/* Connects (from bind_ip when it is a literal of addr's family; NULL, "",
 * "0.0.0.0" or "::" mean any, and a literal of the other family is
 * ignored) within connect_timeout_sec, then reads the greeting. */
int smtpclient_connect(struct smtpclient *c, const struct sockaddr *addr, socklen_t len,
		       const char *bind_ip, int connect_timeout_sec);
/* EHLO (HELO on a 5xx); fills c->caps.  A 4xx reply fails. */
int smtpclient_ehlo(struct smtpclient *c, const char *helo_name);
/* STARTTLS, the handshake (SNI servername unless NULL or an IP literal;
 * verify 1 checks the chain against ca_file, NULL = system store, and the
 * name), then EHLO again.  A non-220 reply fails with the session still
 * usable in plain text (error.connection 0); a failed handshake ends it. */
int smtpclient_starttls(struct smtpclient *c, const char *servername, int verify, const char *ca_file);
/* AUTH (RFC 4954) with mech PLAIN, LOGIN or CRAM-MD5; NULL or "" picks one
 * the peer offers (CRAM-MD5 first without TLS, PLAIN first with it).
 * Refused without TLS unless allow_plaintext. */
int smtpclient_auth(struct smtpclient *c, const char *mech, const char *user, const char *password,
		    int allow_plaintext);
/* One transaction.  results: env->rcpt_count entries (smtpclient_result_init
 * each first, or reused).  facts: SMTPCLIENT_SENT_* (may be NULL).  1 when
 * every recipient got its answer; 0 when the session failed first: then
 * c->error says why and each recipient still without one has code 0 (or
 * the 421) and that text, to be retried. */
int smtpclient_send(struct smtpclient *c, const struct smtpclient_envelope *env, const char *message,
		    size_t len, struct smtpclient_result *results, unsigned *facts);
int smtpclient_rset(struct smtpclient *c);
/* QUIT and its 221, best effort (0 when it failed; c->error keeps what it
 * said before, the failure that led to QUIT); always closes too. */
int smtpclient_quit(struct smtpclient *c);
/* Closes the socket (TLS close_notify first); safe to call twice. */
void smtpclient_close(struct smtpclient *c);
/* 1 when the session is open, greeted and between transactions. */
int smtpclient_usable(const struct smtpclient *c);

void smtpclient_result_init(struct smtpclient_result *r);
void smtpclient_result_free(struct smtpclient_result *r);

/* The pure parsers (no I/O, for the fuzz harness and the unit driver). */
void smtpclient_reply_init(struct smtpclient_reply *r);
void smtpclient_reply_free(struct smtpclient_reply *r);
/* Adds one line (its LF included) to r.  1: the reply is complete; 0: more
 * lines follow; -1: malformed, *why says how. */
int smtpclient_reply_add_line(struct smtpclient_reply *r, const char *line, size_t len, const char **why);
/* Parses one reply from the front of data: 1 complete (*used bytes taken),
 * 0 incomplete, -1 malformed (*why). */
int smtpclient_reply_parse(struct smtpclient_reply *r, const char *data, size_t len, size_t *used,
			   const char **why);
/* Capabilities from a complete 250 EHLO reply. */
void smtpclient_caps_parse(struct smtpclient_caps *caps, const struct smtpclient_reply *r);

#endif
