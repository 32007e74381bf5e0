/* smtpd-session: the state of one SMTP session on fd 0/1, passed to every
 * handler.  One struct, no file-scope globals; the only global is the
 * pointer the die hook needs to send its 421. */
#ifndef BBSMAIL_SMTPD_SESSION_H
#define BBSMAIL_SMTPD_SESSION_H
#include "buf.h"
#include "config.h"
#include "conn.h"
#include "tlsproxy.h"
#include "resolve.h"
#include "sha256.h"
#include "spool.h"
#include "userdb.h"

#define SMTP_LINE_MAX_BYTES 1000        /* RFC 5321 §4.5.3.1.4, CRLF included */
#define SMTP_TEXT_LINE_MAX_BYTES 998    /* RFC 5321 §4.5.3.1.6, CRLF excluded */
#define SMTP_DATA_DEADLINE_SEC 600      /* absolute limit for one DATA/BDAT message */
#define SMTP_UNKNOWN_COMMANDS_DEFAULT 10
#define SMTP_ERROR_RECIPIENTS_DEFAULT 3 /* recipients allowed with MAIL FROM:<> */
#define SMTP_ENVID_MAX_BYTES 100        /* RFC 3461 §4.4 */
#define SMTP_ORCPT_MAX_BYTES 500        /* RFC 3461 §4.2 */
#define SMTP_AUTH_FAILRATE_DEFAULT 20   /* failed AUTHs per IP per hour (ZMailer's sample) */
#define SMTP_AUTH_FAILRATE_WINDOW_SEC 3600
#define SMTP_BAD_RECIPIENTS_DEFAULT 20  /* rejected RCPTs per session, then 421 */
#define SMTP_TARPIT_AFTER_DEFAULT 5     /* rejected RCPTs answered at once */
#define SMTP_TARPIT_DELAY_MS_DEFAULT 1000 /* before each later rejection */

/* EHLO extensions; a PARAM No<name> clears the bit at start. */
#define SMTP_EXT_PIPELINING   0x01
#define SMTP_EXT_8BITMIME     0x02
#define SMTP_EXT_CHUNKING     0x04
#define SMTP_EXT_DSN          0x08
#define SMTP_EXT_ENHANCED     0x10
#define SMTP_EXT_SMTPUTF8     0x20
#define SMTP_EXT_SIZE         0x40
#define SMTP_EXT_EHLO         0x80
#define SMTP_EXT_ETRN         0x100

/* How much of the Received: fields (DNSBL_CHKRECVHDRS) and of a held
 * Subject: field is kept. */
#define SMTP_RECEIVED_KEEP_BYTES 16384

/* Why the message being received will be refused (first one wins). */
enum smtp_data_error {
	SMTP_DATA_OK = 0,
	SMTP_DATA_BARE_NEWLINE,   /* bare LF or bare CR: 550 5.5.2 */
	SMTP_DATA_NUL,            /* NUL byte: 554 5.6.0 */
	SMTP_DATA_LONG_LINE,      /* line over 998 octets: 554 5.6.0 */
	SMTP_DATA_TOO_BIG,        /* over the size limit: 552 5.3.4 */
	SMTP_DATA_WRITE_FAILED    /* spool write failed: 451 4.3.0 */
};

/* The message being received (DATA or a BDAT series). */
struct smtp_sink {
	int active;                 /* the spool file is open */
	int dot_mode;               /* DATA: dot-stuffing and the CRLF.CRLF end */
	struct spool_file file;
	struct buf line;            /* the current line, at most SMTP_LINE_MAX_BYTES kept */
	size_t line_bytes;          /* the current line's real length on the wire */
	int line_cr_count, line_nul;
	int last_byte_cr;           /* last byte of the current line was CR */
	int prev_line_crlf;         /* the previous line ended in CRLF (or none yet) */
	unsigned long long size;    /* message octets so far, CRLF counted as 2 */
	enum smtp_data_error error;
	unsigned long bare_newlines;
	/* RFC 6409 §8: a submitted message without Date or Message-ID gets
	 * them at the end of its header section. */
	int add_headers;            /* this message may get them */
	int in_header;              /* still before the first empty line */
	int seen_date, seen_message_id;
	const char *host, *id;      /* for the Message-ID */
	/* SEND/SOML/SAML: the telegram text, the body's lines cleaned as they
	 * pass (smtpd-telegram.c) */
	int tg_capture;             /* a telegram will be written */
	int tg_in_header;           /* still in the message's header lines */
	int tg_too_long;            /* over TELEGRAM_TEXT_MAX */
	struct buf tg_text;
	/* The anti-spam layer (smtpd-dnsbl.c), set up by smtpd_dnsbl_begin:
	 * a client's X-Spam-Flag is never stored (only bbsmail's own tag
	 * counts); the Subject can get a tag; the header section's end can
	 * get X-DNSBL and X-Spam-Flag. */
	int header_ended;           /* sink_header_end ran */
	int line_open;              /* the last line stored has no LF yet */
	int dropping_field;         /* the field being read is dropped, continuation lines too */
	int field_received;         /* the field being read is a Received: */
	int in_subject;             /* the field being read is the Subject: */
	int hold_subject;           /* Subject: waits for the header's end (the tag is not known yet) */
	struct buf subject;         /* the held Subject: field */
	struct buf subject_text;    /* the Subject's text, unfolded (subject.can) */
	const char *subject_tag;    /* DNSBlacklistSubject, once the client is known to be listed */
	int collect_received;       /* DNSBL_CHKRECVHDRS: keep the Received: fields' addresses */
	struct buf received;        /* their text, for smtpd_dnsbl_header_end */
	int hash_body;              /* DNSBL_SPAMHASH: hash the body */
	struct sha256 body_hash;
	unsigned long long body_bytes;
	int throttle;               /* DNSBL_THROTTLE: one line a second */
	void (*header_end)(struct smtp_sink *k, void *ctx);   /* at the header's end, before its blank line */
	void *header_end_ctx;
	const char *dest_dir;       /* where the spool file goes when rebuilt; NULL: spool/incoming */
};

struct smtp_rcpt {
	char *address;              /* as the client gave it (route resolves again) */
	char *notify;               /* NULL when not given */
	char *orcpt;                /* decoded, "rfc822;addr" */
	unsigned long usernum;      /* SEND/SOML/SAML: the local user */
	int telegram, mail;         /* SEND/SOML/SAML: what this recipient gets */
};

/* The command that opened the transaction (RFC 821 §3.4). */
enum smtp_mail_kind { SMTP_KIND_MAIL = 0, SMTP_KIND_SEND, SMTP_KIND_SOML, SMTP_KIND_SAML };

enum smtp_body_mode { SMTP_BODY_NONE = 0, SMTP_BODY_BDAT, SMTP_BODY_DATA };

struct smtp_session {
	struct conn conn;
	char log_id[24];            /* the log's session=: pid, unique while the session lives */
	struct mail_config cfg;
	struct smtpserver_conf conf;
	const char *host;           /* HostName */
	const char *remote_ip, *remote_host, *local_ip, *local_port;
	char peer_ip_storage[64], local_ip_storage[64], local_port_storage[16];

	/* HELO/EHLO */
	struct buf helo;
	int helo_seen, esmtp;
	unsigned ext;               /* SMTP_EXT_* offered by this server */
	/* TLS (smtpd-tls.c) */
	int tls_active;
	int implicit_tls;           /* -s: SMTPS, TLS before the greeting */
	int tls_offer;              /* 0 not yet checked, 1 STARTTLS offered, -1 not */
	struct buf tls_info;        /* "TLSv1.3 cipher X bits 256" after the handshake */
	struct tlsproxy tls_proxy;  /* the helper that holds the key and the socket */
	/* AUTH and relay (smtpd-auth.c, smtpd-submit.c) */
	struct buf auth_user;       /* set only by a successful AUTH */
	const char *auth_mech;
	int auth_via_ip;            /* POP-before-SMTP (SMTP_AUTH_VIA_IP) */
	int relay_allowed;
	int submission;             /* -m: AUTH before MAIL (RFC 6409) */
	struct buf mail_auth;       /* MAIL AUTH= value, kept only when authenticated */
	int has_mail_auth;
	int mailbox_count_warned;   /* MaxMsgsWaiting could not be checked (said once) */
	struct smtpd_policy {
		int use_tls;            /* PARAM use-tls / no-use-tls (default on) */
		int auth;               /* PARAM smtp-auth / no-smtp-auth (default on) */
		int auth_plaintext;     /* PARAM AUTH-LOGIN-also-without-TLS */
		int auth_legacy_ehlo;   /* PARAM auth-legacy-ehlo: also "250-AUTH=..." */
		int no_auth_on_plain;   /* PARAM no-smtp-auth-on-25 */
		unsigned long auth_failrate;   /* PARAM auth-failrate (0: off) */
		int rcvd_tls_mode;      /* PARAM rcvd-tls-mode (default on) */
		int rcvd_auth_user;     /* PARAM rcvd-auth-user (default off) */
	} policy;

	/* limits */
	unsigned long max_recipients;
	unsigned long long max_size;      /* 0: none */
	unsigned long max_unknown;
	unsigned long max_error_recipients;
	unsigned long long min_availspace_kb;
	unsigned long unknown_count;
	unsigned long max_bad_rcpt;       /* PARAM max-bad-recipients (0: none) */
	unsigned long tarpit_after;       /* PARAM tarpit-after-bad-recipients */
	unsigned long tarpit_delay_ms;    /* PARAM tarpit-delay-ms */
	unsigned long bad_rcpt_count;     /* rejected RCPTs in this session */
	long long session_deadline_ms;

	/* the transaction */
	int in_mail;
	enum smtp_mail_kind kind;
	struct buf sender;
	const char *body;                 /* "7BIT", "8BITMIME" or NULL */
	int smtputf8;
	const char *ret;                  /* "FULL", "HDRS" or NULL */
	struct buf envid;
	int has_envid;
	unsigned long long declared_size;
	struct smtp_rcpt *rcpt;
	size_t rcpt_count, rcpt_cap;
	unsigned long rcpt_attempts;      /* RCPT commands in this transaction */
	int rcpt_limit_logged;            /* the 452 4.5.3 is logged once per message */
	enum smtp_body_mode body_mode;
	int bdat_failed;                  /* a chunk was refused: refuse until RSET/MAIL */
	char id[SPOOL_ID_MAX_BYTES];
	unsigned long arrival;
	struct smtp_sink sink;

	/* recipients are resolved through the shared resolver, opened lazily */
	int resolver_ready;
	struct userdb db;
	struct resolve_context resolver;

	/* DNS blacklists (smtpd-dnsbl.c) */
	struct smtpd_dnsbl {
		int checked;                  /* the client was looked up */
		int listed;                   /* the client, or a Received: address, is listed */
		int from_received;            /* the listing came from a Received: field */
		char zone[256];               /* the zone that lists it */
		char ip[64];                  /* the listed address */
		char answer[16];
		int client_exempt;            /* dnsbl_exempt.cfg, loopback, submission */
		int sender_exempt;            /* this transaction's sender is in dnsbl_exempt.cfg; -1 not asked */
	} dnsbl;
	int spam_bait;                    /* a recipient was a spam bait (smtpd-lists.c) */
	struct smtpd_contentfilter_state *filter;   /* PARAM contentfilter's process, once started */
	struct smtpd_milters *milters;    /* PARAM milter connections (smtpd-milter.c); NULL: none */

	unsigned long etrn_count;         /* ETRN commands that scanned the spool */
	unsigned long messages;           /* accepted in this session */
	struct buf line;                  /* the command line being handled */
	int quit;
	const char *close_reason;         /* for the close log line; NULL: "quit" */
};

void session_init(struct smtp_session *s);
/* Reads mail.ini and smtpserver.conf and applies the PARAMs. */
void session_configure(struct smtp_session *s);
/* Forgets MAIL, RCPT and any message in progress (RSET, EHLO, after DATA). */
void session_reset_transaction(struct smtp_session *s);
/* Opens the user database and the resolver on first use.  1 ok, 0 failed. */
int session_resolver(struct smtp_session *s);
void session_free(struct smtp_session *s);
/* ZMailer min-availspace: 0 when the spool has less free space (logged). */
int session_spool_space_ok(const struct smtp_session *s);
/* A PARAM that is on by default: the last of "<name>" and "no-<name>"
 * wins, and a value of 0/no/off also turns it off. */
int session_param_default_on(const struct smtpserver_conf *conf, const char *name);
/* The RFC 3848 protocol name: SMTP, ESMTP, ESMTPSA, UTF8SMTP, ... */
const char *session_protocol(const struct smtp_session *s);

#endif
