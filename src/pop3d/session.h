/* session: the state of one POP3 session (RFC 1939), passed to every
 * command handler; no file-scope session globals. */
#ifndef BBSMAIL_POP3D_SESSION_H
#define BBSMAIL_POP3D_SESSION_H
#include "config.h"
#include "conn.h"
#include "mailbox.h"
#include "tlsproxy.h"
#include "userdb.h"

/* RFC 2449 says 255 for commands; the issue asks for 1000, which also fits
 * long SASL lines later.  CRLF included. */
#define POP3_LINE_MAX_BYTES 1000
#define POP3_NOSPAM_SUFFIX "#nospam"
#define POP3_TIMESTAMP_MAX_BYTES (CONFIG_STRING_MAX + 64)

enum pop3_state {
	POP3_STATE_AUTHORIZATION = 0x1,
	POP3_STATE_TRANSACTION = 0x2
};

struct pop3_session {
	struct conn conn;
	struct mail_config cfg;
	char id[32];                   /* the log's session=: pid */
	const char *remote_ip;
	char host_name[CONFIG_STRING_MAX];
	char timestamp[POP3_TIMESTAMP_MAX_BYTES]; /* APOP's <pid.clock@host> */
	enum pop3_state state;
	char user_arg[USER_NAME_MAX_BYTES + sizeof POP3_NOSPAM_SUFFIX]; /* after USER */
	int have_user;
	struct user user;              /* valid in TRANSACTION */
	int nospam;                    /* logged in as <name>#nospam */
	int debug;                     /* DEBUG_POP3: log commands and replies */
	int done;                      /* QUIT seen or the session must end */
	unsigned long failures;        /* failed logins in this session */
	int attempt_open;              /* a login counted before its check */
	time_t attempt_at;             /* ... at this time (loginfail_try_ban) */
	unsigned long attempt_rank;    /* ... as the address's n-th failure */
	unsigned long retrieved;        /* RETRs, for the quit log line */
	struct mailbox box;
	/* TLS (stls.c): */
	int implicit_tls;              /* POP3S: -s or BBSMAIL_IMPLICIT_TLS=1 */
	int tls_active;                /* the conn runs over TLS */
	int tls_offer;                 /* 0 not checked yet, 1 key readable, -1 not */
	int conf_loaded;               /* conf read (only when TLS is asked about) */
	struct tlsproxy tls_proxy;     /* the helper that holds the key and the socket */
	struct smtpserver_conf conf;   /* PARAM tls-* paths, bbsmail-tls(7) */
};

/* Replies: one status line, logged at debug level when DEBUG_POP3 is set. */
void pop3_ok(struct pop3_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void pop3_err(struct pop3_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Ends a multi-line reply. */
void pop3_end_multiline(struct pop3_session *s);

/* Command handlers receive the argument text (NULL when none). */
struct pop3_command {
	const char *name;
	unsigned states;       /* enum pop3_state bits where it is valid */
	void (*handler)(struct pop3_session *s, const char *arg);
};

/* Another module (STLS, AUTH in the TLS work) adds its commands here before
 * the session starts.  1 ok, 0 when the extension table is full. */
int pop3_command_register(const struct pop3_command *cmd);
/* Reads and runs commands until QUIT, EOF, timeout or a fatal error. */
void pop3_session_run(struct pop3_session *s);

/* auth.c */
void pop3_cmd_user(struct pop3_session *s, const char *arg);
void pop3_cmd_pass(struct pop3_session *s, const char *arg);
void pop3_cmd_apop(struct pop3_session *s, const char *arg);
/* The shared login steps, for AUTH too.  method is the log word: "user",
 * "apop", "auth-plain", ...  begin: counts the attempt before the password
 * is checked (so parallel guesses cannot all pass one reading of the
 * count); 0 (and the [LOGIN-DELAY] or [SYS/TEMP] reply sent) when the
 * address is temp-banned or the table is unusable.  Every begun attempt
 * ends in exactly one of: failed: records the failure by name, applies
 * LoginAttempt* and waits LoginAttemptDelay; the caller replies.
 * accepted: s->user holds the verified user; forgives that user's own
 * failures, opens the mailbox (TRANSACTION on success), records
 * SMTP_AUTH_VIA_IP, replies.  abandoned: no password was tried (a cancelled
 * or malformed AUTH, a lost client): takes the count back. */
int pop3_login_begin(struct pop3_session *s);
void pop3_login_failed(struct pop3_session *s, const char *name, const char *method, const char *reason);
void pop3_login_accepted(struct pop3_session *s, const char *method);
void pop3_login_abandoned(struct pop3_session *s);
/* "<name>#nospam" -> name and s->nospam.  0 when name is empty or too long. */
int pop3_split_nospam(struct pop3_session *s, const char *arg, char *name, size_t size);
/* Refuses a banned or filtered client before the greeting (1 = go on),
 * and applies Synchronet's throttle to a client with past failures. */
int pop3_admit_client(struct pop3_session *s);

/* transaction.c */
void pop3_cmd_stat(struct pop3_session *s, const char *arg);
void pop3_cmd_list(struct pop3_session *s, const char *arg);
void pop3_cmd_uidl(struct pop3_session *s, const char *arg);
void pop3_cmd_retr(struct pop3_session *s, const char *arg);
void pop3_cmd_top(struct pop3_session *s, const char *arg);
void pop3_cmd_dele(struct pop3_session *s, const char *arg);
void pop3_cmd_rset(struct pop3_session *s, const char *arg);
void pop3_cmd_noop(struct pop3_session *s, const char *arg);
void pop3_cmd_quit(struct pop3_session *s, const char *arg);

/* capa.c */
void pop3_cmd_capa(struct pop3_session *s, const char *arg);

/* stls.c: STLS (RFC 2595) and implicit TLS (POP3S, RFC 8314). */
void pop3_tls_register(void);
/* Handshake before the greeting; 0 = failed and logged (exit 111). */
int pop3_tls_implicit(struct pop3_session *s);
/* close_notify after the last reply, when TLS is active. */
void pop3_tls_end(struct pop3_session *s);

/* authsasl.c: AUTH (RFC 5034) over src/lib/sasl.h. */
void pop3_auth_register(void);

/* Writes a complete status line (sasl_pop3_reply's "-ERR ..."). */
void pop3_status_line(struct pop3_session *s, const char *line);

#endif
