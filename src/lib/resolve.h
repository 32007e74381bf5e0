/* resolve: what a recipient address means here.  One module, used by smtpd
 * at RCPT time and by route for every spooled recipient, so both always
 * agree.  It applies, in order: the relay tricks (%, !, quoted @, source
 * routes, address literals), local domains (HostName + etc/db/localnames),
 * the special prefixes (local:, forward:, sub:, <qwk-id>!), FidoNet
 * ".fidonet" addresses, #tags with per-user .smtptags, etc/alias.cfg,
 * sysop aliases, user name/alias/number and DefaultUser. */
#ifndef BBSMAIL_RESOLVE_H
#define BBSMAIL_RESOLVE_H
#include "board.h"
#include "buf.h"
#include "channel.h"
#include "config.h"
#include "fido.h"
#include "qwknet.h"
#include "userdb.h"

/* The channels are the channel table's (channel.h): same numbers. */
enum resolve_channel {
	RESOLVE_REJECT = 0,                /* code/enhanced/reason say why */
	RESOLVE_LOCAL = CHANNEL_LOCAL,     /* usernum's Maildir */
	RESOLVE_REMOTE = CHANNEL_REMOTE,   /* target: the address to send to */
	RESOLVE_BOARD = CHANNEL_BOARD,     /* target: sub-board internal code */
	RESOLVE_QWK = CHANNEL_QWK,         /* target: "<route>!<user>" */
	RESOLVE_FIDO = CHANNEL_FIDO        /* target: "<FTN name>@<zone:net/node[.point]>" */
};

struct resolve_result {
	enum resolve_channel channel;
	unsigned long usernum;     /* LOCAL (and the user a forward came from) */
	struct buf target;
	int is_relay;              /* destination outside this system: needs relay rights */
	int code;                  /* REJECT: 550, 451, ... */
	char enhanced[16];         /* REJECT: "5.1.1" */
	struct buf reason;         /* REJECT: text for the reply and the log */
};

struct resolve_context {
	const struct mail_config *cfg;
	struct userdb *db;         /* open for reading */
	/* Loaded once by resolve_context_load: */
	char **local_domains;      /* HostName first, then etc/db/localnames */
	size_t local_domain_count;
	char **aliases;            /* pairs: alias, target (etc/alias.cfg) */
	size_t alias_count;
	struct board_list boards;  /* etc/boards.cfg */
	int boards_loaded;         /* read at the first sub: recipient */
	int boards_bad;            /* boards.cfg did not load: sub: is a temporary failure */
	struct fido_config fido;   /* etc/fidonet.cfg */
	int fido_loaded;           /* read at the first .fidonet recipient */
	int fido_bad;              /* fidonet.cfg did not load: .fidonet is a temporary failure */
	struct qwknet qwknet;      /* etc/qwknet.cfg */
	int qwknet_loaded;         /* read at the first "!" recipient */
	int qwknet_bad;            /* qwknet.cfg did not load: "!" is a temporary failure */
	/* Set by the caller for each message, for the sub-boards' posting
	 * rules (boards.cfg(5)); NULL (resolve_context_load's value) means
	 * unknown, and then only boards open to anyone take the mail. */
	const char *sender;        /* the envelope sender, "" for <> */
	const char *auth_user;     /* the SMTP AUTH identity, or NULL / "" */
	/* The size the client declared with MAIL FROM SIZE= (RFC 1870), 0
	 * when unknown: a sub-board whose max-size it exceeds refuses the
	 * recipient now rather than bouncing the message later. */
	unsigned long long declared_size;
};

/* Reads etc/db/localnames and etc/alias.cfg (missing files are empty;
 * malformed lines are logged warnings); etc/boards.cfg is read at the
 * first sub: recipient (strictly: a bad line is logged and makes every
 * sub: recipient a temporary failure, so a typo cannot turn into a
 * bounce).  1 ok, 0 errno. */
int resolve_context_load(struct resolve_context *ctx, const struct mail_config *cfg, struct userdb *db);
void resolve_context_free(struct resolve_context *ctx);
/* 1 when domain (no trailing dot needed) is one of ours, case-insensitive. */
int resolve_domain_is_local(const struct resolve_context *ctx, const char *domain);
/* Resolves address ("" is not allowed; "postmaster" without a domain is).
 * Returns 1 when res is filled (including REJECT), 0 on a temporary error
 * (database unreadable), which callers turn into 451 4.3.0. */
int resolve_recipient(struct resolve_context *ctx, const char *address, struct resolve_result *res);
void resolve_result_init(struct resolve_result *res);
void resolve_result_free(struct resolve_result *res);
const char *resolve_channel_name(enum resolve_channel ch);   /* "local", "remote", ... */

#endif
