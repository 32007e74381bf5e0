#include "resolve.h"
#include "address.h"
#include "home.h"
#include "listfile.h"
#include "log.h"
#include "spool.h"
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define RESOLVE_ALIAS_DEPTH_MAX 8

/* Administrative names that reach the sysop with ALLOW_SYSOP_ALIASES. */
static const char *const sysop_aliases[] = {
	"sysop", "root", "abuse", "hostmaster", "webmaster", "mailer-daemon",
	"admin", "administrator", "security", NULL
};

void resolve_result_init(struct resolve_result *res) { memset(res, 0, sizeof *res); }

void resolve_result_free(struct resolve_result *res)
{
	buf_free(&res->target);
	buf_free(&res->reason);
}

const char *resolve_channel_name(enum resolve_channel ch)
{
	return ch == RESOLVE_REJECT ? "reject" : channel_name((int)ch);
}

/* Fills a REJECT result.  1, or 0 (ENOMEM) for resolve_recipient's
 * temporary failure. */
static int reject(struct resolve_result *res, int code, const char *enhanced, const char *fmt, const char *arg)
{
	res->channel = RESOLVE_REJECT;
	res->code = code;
	snprintf(res->enhanced, sizeof res->enhanced, "%s", enhanced);
	buf_truncate(&res->reason, 0);
	return buf_catf(&res->reason, fmt, arg);
}

/* A result that sends the mail to address. */
static int send_remote(struct resolve_result *res, const char *address, int is_relay)
{
	res->channel = RESOLVE_REMOTE;
	res->is_relay = is_relay;
	return buf_copys(&res->target, address);
}

/* ---- loading etc/db/localnames and etc/alias.cfg ---- */

static int push_string(char ***list, size_t *count, const char *s, size_t n)
{
	char **grown = realloc(*list, (*count + 1) * sizeof **list);
	char *copy;

	if (!grown)
		return 0;
	*list = grown;
	copy = strndup(s, n);
	if (!copy)
		return 0;
	(*list)[(*count)++] = copy;
	return 1;
}

/* Calls fn for each line's first two blank-separated words (further words
 * are ignored).  A missing file is empty; comments start with ';' or '#';
 * an over-long line or one with a NUL byte is a warning and is skipped.
 * 0 (errno) when the file cannot be read or fn fails. */
static int each_config_line(const char *relative, int words_wanted,
			    int (*fn)(struct resolve_context *, const char *, const char *),
			    struct resolve_context *ctx)
{
	struct listfile lf;
	char *line, *w1, *w2, text[PATH_MAX + 256];
	int r = 0, ok = 1, err;

	if (!listfile_open_home(&lf, relative, LISTFILE_COMMENT_SEMICOLON | LISTFILE_COMMENT_HASH))
		goto unreadable;
	while (ok && (r = listfile_next(&lf, &line, NULL)) == 1) {
		listfile_split(line, &w1, &w2);
		w2[strcspn(w2, " \t\r")] = 0;
		if (words_wanted == 2 && !*w2) {
			log_warn("%s:%lu: malformed line (expected: alias target)", lf.path, lf.line_number);
			continue;
		}
		ok = fn(ctx, w1, w2);
	}
	listfile_close(&lf);
	if (!ok || r >= 0)
		return ok;
unreadable:
	err = errno;
	listfile_error_text(&lf, text, sizeof text);
	log_warn("%s", text);
	errno = err;
	return 0;
}

static int add_local_domain(struct resolve_context *ctx, const char *domain, const char *unused)
{
	size_t n = strlen(domain);

	(void)unused;
	if (n && domain[n - 1] == '.')
		n--;
	return push_string(&ctx->local_domains, &ctx->local_domain_count, domain, n);
}

static int add_alias(struct resolve_context *ctx, const char *alias, const char *target)
{
	return push_string(&ctx->aliases, &ctx->alias_count, alias, strlen(alias))
	       && push_string(&ctx->aliases, &ctx->alias_count, target, strlen(target));
}

/* On the first sub: recipient only: smtpd resolves in every session, and
 * most never name a board. */
static void load_boards(struct resolve_context *ctx)
{
	char text[PATH_MAX + 160];

	if (ctx->boards_loaded)
		return;
	ctx->boards_loaded = 1;
	if (!board_list_load(&ctx->boards, text, sizeof text)) {
		log_warn("%s", text);
		ctx->boards_bad = 1;
	}
}

int resolve_context_load(struct resolve_context *ctx, const struct mail_config *cfg, struct userdb *db)
{
	memset(ctx, 0, sizeof *ctx);
	ctx->cfg = cfg;
	ctx->db = db;
	if (!add_local_domain(ctx, cfg->host_name, NULL)
	    || !each_config_line("etc/db/localnames", 1, add_local_domain, ctx)
	    || !each_config_line("etc/alias.cfg", 2, add_alias, ctx)) {
		resolve_context_free(ctx);
		return 0;
	}
	return 1;
}

static void free_list(char **list, size_t count)
{
	size_t i;
	for (i = 0; i < count; i++)
		free(list[i]);
	free(list);
}

void resolve_context_free(struct resolve_context *ctx)
{
	free_list(ctx->local_domains, ctx->local_domain_count);
	free_list(ctx->aliases, ctx->alias_count);
	board_list_free(&ctx->boards);
	fido_config_free(&ctx->fido);
	qwknet_free(&ctx->qwknet);
	ctx->local_domains = ctx->aliases = NULL;
	ctx->local_domain_count = ctx->alias_count = 0;
}

int resolve_domain_is_local(const struct resolve_context *ctx, const char *domain)
{
	size_t n = strlen(domain), i;

	if (n && domain[n - 1] == '.')
		n--;
	for (i = 0; i < ctx->local_domain_count; i++)
		if (strlen(ctx->local_domains[i]) == n && strncasecmp(ctx->local_domains[i], domain, n) == 0)
			return 1;
	return 0;
}

/* ---- the local part ---- */

static int resolve_local(struct resolve_context *ctx, const char *local, int depth, int no_forward,
			 struct resolve_result *res);

static const char *alias_target(const struct resolve_context *ctx, const char *name)
{
	size_t i;

	for (i = 0; i + 1 < ctx->alias_count; i += 2)
		if (strcasecmp(ctx->aliases[i], name) == 0)
			return ctx->aliases[i + 1];
	return NULL;
}

/* An alias target: a prefixed or plain local name, or a full address. */
static int resolve_alias_target(struct resolve_context *ctx, const char *target, int depth,
				struct resolve_result *res)
{
	struct buf local = BUF_INIT, domain = BUF_INIT;
	int r;

	if (strncasecmp(target, "sub:", 4) != 0 && address_split(target, &local, &domain)
	    && !resolve_domain_is_local(ctx, domain.data)) {
		/* The sysop's own forward: allowed without relay rights. */
		r = send_remote(res, target, 0);
	} else {
		r = resolve_local(ctx, domain.len ? local.data : target, depth + 1, 0, res);
	}
	buf_free(&local);
	buf_free(&domain);
	return r;
}

/* 1 when tag is listed in spool/data/user/<num>.smtptags (case-insensitive),
 * 0 not (or no file), -1 when the file cannot be read (errno, logged): a
 * tag the user disabled must not come back because of a read error. */
static int tag_line(const char *line, void *tag)
{
	return strcasecmp(line, tag) == 0;
}

static int tag_is_blocked(unsigned long usernum, const char *tag)
{
	char rel[64];

	snprintf(rel, sizeof rel, SPOOL_DATA_DIR "/user/%lu.smtptags", usernum);
	return listfile_find_home(rel, 0, tag_line, (void *)tag);
}

static int all_digits(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return 0;
	return 1;
}

/* Finds a user by name/alias, then with '.' and '_' read as spaces
 * ("rob.swindell" for "Rob Swindell"), then by number when allowed. */
static int find_user(struct resolve_context *ctx, const char *name, struct user *u)
{
	char spaced[USER_NAME_MAX_BYTES + 1];
	size_t i, n = strlen(name);
	int r;

	r = userdb_get_by_name(ctx->db, name, u);
	if (r != 0)
		return r;
	if (n <= USER_NAME_MAX_BYTES && strpbrk(name, "._")) {
		for (i = 0; i <= n; i++)
			spaced[i] = (name[i] == '.' || name[i] == '_') ? ' ' : name[i];
		r = userdb_get_by_name(ctx->db, spaced, u);
		if (r != 0)
			return r;
	}
	if ((ctx->cfg->options & MAIL_OPTION(ALLOW_RX_BY_NUMBER)) && all_digits(name) && n < 10)
		return userdb_get_by_number(ctx->db, strtoul(name, NULL, 10), u);
	return 0;
}

static int is_sysop_alias(const struct resolve_context *ctx, const char *name)
{
	size_t i;

	if (strcasecmp(name, "postmaster") == 0)
		return 1; /* RFC 5321 §4.5.1: always */
	if (!(ctx->cfg->options & MAIL_OPTION(ALLOW_SYSOP_ALIASES)))
		return 0;
	for (i = 0; sysop_aliases[i]; i++)
		if (strcasecmp(name, sysop_aliases[i]) == 0)
			return 1;
	return 0;
}

/* What a found user's mail does: the mailbox, or the forward address. */
static int deliver_to_user(const struct user *u, int no_forward, int want_forward,
			   struct resolve_result *res)
{
	res->usernum = u->number;
	if (u->flags & USER_FLAG_DISABLED)
		return reject(res, 550, "5.2.1", "%s: mailbox disabled", u->name);
	if (want_forward || (!no_forward && (u->flags & USER_FLAG_FORWARD) && u->forward[0])) {
		if (!u->forward[0])
			return reject(res, 550, "5.1.1", "%s: no forward address", u->name);
		return send_remote(res, u->forward, 0);
	}
	res->channel = RESOLVE_LOCAL;
	return 1;
}

static int resolve_user_name(struct resolve_context *ctx, const char *name, int no_forward,
			     int want_forward, struct resolve_result *res)
{
	struct user u;
	int r;

	if (is_sysop_alias(ctx, name)) {
		r = userdb_get_by_number(ctx->db, USER_SYSOP_NUMBER, &u);
	} else {
		r = find_user(ctx, name, &u);
		if (r == 0 && ctx->cfg->default_user[0])
			r = userdb_get_by_name(ctx->db, ctx->cfg->default_user, &u);
	}
	if (r < 0)
		return 0;
	if (r == 0)
		return reject(res, 550, "5.1.1", "%s: no such user here", name);
	return deliver_to_user(&u, no_forward, want_forward, res);
}

/* "name#tag": the user, unless the tag is in the user's .smtptags.  0
 * (temporary) when memory or the tag file fails. */
static int resolve_tagged(struct resolve_context *ctx, const char *local, int no_forward,
			  struct resolve_result *res)
{
	const char *hash = strchr(local, '#');
	char *name = strndup(local, (size_t)(hash - local));
	int r, blocked;

	if (!name)
		return 0;
	r = resolve_user_name(ctx, name, no_forward, 0, res);
	free(name);
	if (!r || res->channel == RESOLVE_REJECT)
		return r;
	blocked = tag_is_blocked(res->usernum, hash + 1);
	if (blocked < 0)
		return 0;
	return blocked ? reject(res, 550, "5.1.1", "%s: no such user here (tag disabled)", local) : 1;
}

/* 1 when the envelope sender is an address at one of our domains that
 * names a user here, 0 not, -1 when the user database fails. */
static int sender_is_local(struct resolve_context *ctx)
{
	struct buf local = BUF_INIT, domain = BUF_INIT;
	struct user u;
	int r = 0;

	if (ctx->sender && *ctx->sender && address_split(ctx->sender, &local, &domain) && local.len
	    && resolve_domain_is_local(ctx, domain.data))
		r = find_user(ctx, local.data, &u);
	buf_free(&local);
	buf_free(&domain);
	return r < 0 ? -1 : r > 0;
}

/* "sub:<code>": the board channel when the board exists and the sender
 * may post there. */
static int resolve_board(struct resolve_context *ctx, const char *local, struct resolve_result *res)
{
	const struct board *b;
	int is_local = 0;

	if (!board_code_valid(local + 4))
		return reject(res, 550, "5.1.3", "%s: malformed sub-board code", local);
	load_boards(ctx);
	if (ctx->boards_bad) {
		errno = EINVAL;
		return 0;
	}
	b = board_find(&ctx->boards, local + 4);
	if (!b)
		return reject(res, 550, "5.1.1", "%s: no such sub-board", local);
	if (b->post == BOARD_POST_LOCAL && (is_local = sender_is_local(ctx)) < 0)
		return 0;
	if (!board_may_post(b, ctx->sender, ctx->auth_user, is_local))
		return reject(res, 550, "5.1.1", "%s: sub-board closed to this sender", local);
	if (b->max_bytes && ctx->declared_size > b->max_bytes)
		return reject(res, 552, "5.3.4", "%s: message too big for this sub-board", local);
	res->channel = RESOLVE_BOARD;
	if (!buf_copys(&res->target, b->code))
		return 0;
	return 1;
}

/* Like load_boards, at the first "!" recipient only. */
static void load_qwknet(struct resolve_context *ctx)
{
	char text[PATH_MAX + 160];

	if (ctx->qwknet_loaded)
		return;
	ctx->qwknet_loaded = 1;
	if (!qwknet_load(&ctx->qwknet, text, sizeof text)) {
		log_warn("%s", text);
		ctx->qwknet_bad = 1;
	}
}

/* "<route>!<user>": the QWK channel when the first hop is a node of
 * etc/qwknet.cfg (qwknet.cfg(5)). */
static int resolve_qwk(struct resolve_context *ctx, const char *local, struct resolve_result *res)
{
	const char *why;
	struct buf text = BUF_INIT;
	int ok;
	size_t hop = strcspn(local, "!/");

	/* A first hop with a dot is a host, not a QWK id: the UUCP bang-path
	 * relay trick (host!user@here), refused as relaying. */
	if (memchr(local, '.', hop)) {
		res->is_relay = 1;
		return reject(res, 550, "5.7.1", "%s: bang path through another host, relaying denied", local);
	}
	load_qwknet(ctx);
	if (ctx->qwknet_bad) {
		errno = EINVAL;
		return 0;
	}
	switch (qwknet_route(&ctx->qwknet, local, &res->target, &why)) {
	case QWK_ROUTE_OK:
		res->channel = RESOLVE_QWK;
		return 1;
	case QWK_ROUTE_UNKNOWN:
		return reject(res, 550, "5.1.2", "%s: unknown QWK network node", local);
	case QWK_ROUTE_MALFORMED:
		ok = buf_catf(&text, "%s: malformed QWK address: %s", local, why)
			&& reject(res, 553, "5.1.3", "%s", text.data);
		buf_free(&text);
		return ok;
	default:
		return 0;
	}
}

static int resolve_local(struct resolve_context *ctx, const char *local, int depth, int no_forward,
			 struct resolve_result *res)
{
	const char *target;

	if (depth > RESOLVE_ALIAS_DEPTH_MAX)
		return reject(res, 550, "5.4.6", "%s: alias loop", local);
	/* %-hacks and quoted "user@other" are relay attempts in disguise. */
	if (strpbrk(local, "%@")) {
		res->is_relay = 1;
		return reject(res, 550, "5.7.1", "%s: relaying denied", local);
	}
	if (strncasecmp(local, "local:", 6) == 0)
		return resolve_user_name(ctx, local + 6, 1, 0, res);
	if (strncasecmp(local, "forward:", 8) == 0)
		return resolve_user_name(ctx, local + 8, 0, 1, res);
	if (strncasecmp(local, "sub:", 4) == 0)
		return resolve_board(ctx, local, res);
	if (strchr(local, '!'))
		return resolve_qwk(ctx, local, res);
	target = alias_target(ctx, local);
	if (target)
		return resolve_alias_target(ctx, target, depth, res);
	if (strchr(local, '#'))
		return resolve_tagged(ctx, local, no_forward, res);
	return resolve_user_name(ctx, local, no_forward, 0, res);
}

/* On the first .fidonet recipient only, as boards.cfg. */
static void load_fido(struct resolve_context *ctx)
{
	char text[PATH_MAX + 160];

	if (ctx->fido_loaded)
		return;
	ctx->fido_loaded = 1;
	if (!fido_config_load(&ctx->fido, text, sizeof text)) {
		log_warn("%s", text);
		ctx->fido_bad = 1;
	}
}

static int reject_fido(struct resolve_result *res, const char *address, const char *problem)
{
	res->channel = RESOLVE_REJECT;
	res->code = 553;
	snprintf(res->enhanced, sizeof res->enhanced, "5.1.3");
	buf_truncate(&res->reason, 0);
	return buf_catf(&res->reason, "%s: %s", address, problem);
}

/* "name@[p<point>.]f<node>.n<net>.z<zone>.fidonet": netmail when
 * etc/fidonet.cfg gives us an address (never any DNS), the local user
 * when the address is one of ours. */
static int resolve_fidonet(struct resolve_context *ctx, const char *address, const char *local,
			   const char *domain, struct resolve_result *res)
{
	struct ftn_addr a;
	struct buf name = BUF_INIT;
	char text[FTN_ADDR_MAX_BYTES];
	const char *problem;
	int r;

	if ((problem = fido_domain_parse(domain, &a)))
		return reject_fido(res, address, problem);
	load_fido(ctx);
	if (ctx->fido_bad) {
		errno = EINVAL;
		return 0;
	}
	if (!ctx->fido.addr_count)
		return reject(res, 550, "5.1.2", "%s: FidoNet netmail is not configured here", address);
	if (fido_is_ours(&ctx->fido, &a))
		return resolve_local(ctx, local, 0, 0, res);
	if ((problem = fido_name_from_local(local, &name))) {
		buf_free(&name);
		if (errno == ENOMEM && strcmp(problem, "out of memory") == 0)
			return 0;
		return reject_fido(res, address, problem);
	}
	ftn_addr_format(text, sizeof text, &a);
	res->channel = RESOLVE_FIDO;
	/* Netmail leaves this system: only senders who may relay. */
	res->is_relay = 1;
	r = buf_copy(&res->target, name.data, name.len) && buf_catc(&res->target, '@') && buf_cats(&res->target, text);
	buf_free(&name);
	return r;
}

static int ends_with_fidonet(const char *domain)
{
	size_t n = strlen(domain);
	if (n && domain[n - 1] == '.')
		n--;
	return n >= 8 && strncasecmp(domain + n - 8, ".fidonet", 8) == 0;
}

int resolve_recipient(struct resolve_context *ctx, const char *address, struct resolve_result *res)
{
	struct buf local = BUF_INIT, domain = BUF_INIT;
	int r, has_domain;

	res->channel = RESOLVE_REJECT;
	res->is_relay = 0;
	res->usernum = 0;
	buf_truncate(&res->target, 0);
	buf_truncate(&res->reason, 0);
	errno = 0;
	has_domain = address_split(address, &local, &domain);
	if (!has_domain && errno == ENOMEM)
		r = 0;
	else if (!local.len)
		r = reject(res, 553, "5.1.3", "%s: empty local part", address);
	else if (has_domain && domain.data[0] == '[')
		/* Address literals are never ours: relaying to them needs rights. */
		r = send_remote(res, address, 1);
	else if (has_domain && ends_with_fidonet(domain.data))
		r = resolve_fidonet(ctx, address, local.data, domain.data, res);
	else if (has_domain && !resolve_domain_is_local(ctx, domain.data))
		r = send_remote(res, address, 1);
	else
		r = resolve_local(ctx, local.data, 0, 0, res);
	buf_free(&local);
	buf_free(&domain);
	return r;
}
