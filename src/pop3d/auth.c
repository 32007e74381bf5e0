/* AUTHORIZATION: USER/PASS and APOP, the LoginAttempt* policy (loginfail.h)
 * and the move into TRANSACTION (lock, snapshot, SMTP_AUTH_VIA_IP), shared
 * with AUTH (authsasl.c). */
#include "session.h"
#include "authvia.h"
#include "log.h"
#include "loginfail.h"
#include "md5.h"
#include "password.h"
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

enum login_method { LOGIN_USER, LOGIN_APOP };
static const char *const login_method_name[] = { "user", "apop" };

int pop3_admit_client(struct pop3_session *s)
{
	struct loginfail_state st;
	unsigned long wait_ms, cap_ms = s->cfg.max_inactivity_sec * 1000;

	if (loginfail_ip_filtered(s->remote_ip) == 1) {
		log_notice("event=refused ip=%s reason=ip.can", s->remote_ip);
		pop3_err(s, "[SYS/PERM] your address is blocked");
		return 0;
	}
	if (loginfail_get(s->remote_ip, time(NULL), &st) < 0) {
		log_warn("unable to read the failed-login table: %s", strerror(errno));
		return 1;
	}
	wait_ms = loginfail_throttle_ms(&st, &s->cfg);
	if (wait_ms) {
		if (cap_ms && wait_ms > cap_ms)
			wait_ms = cap_ms;
		log_info("event=throttle ip=%s failures=%lu delay_ms=%lu", s->remote_ip, st.count, wait_ms);
		loginfail_sleep_ms(wait_ms);
	}
	return 1;
}

int pop3_split_nospam(struct pop3_session *s, const char *arg, char *name, size_t size)
{
	size_t n = strlen(arg), suffix = strlen(POP3_NOSPAM_SUFFIX);

	s->nospam = 0;
	if (n > suffix && strcasecmp(arg + n - suffix, POP3_NOSPAM_SUFFIX) == 0) {
		s->nospam = 1;
		n -= suffix;
	}
	if (n == 0 || n >= size)
		return 0;
	memcpy(name, arg, n);
	name[n] = 0;
	return 1;
}

/* A table that cannot be read refuses the login: a ban must not fail open. */
int pop3_login_begin(struct pop3_session *s)
{
	time_t now = time(NULL);
	unsigned long ban;
	struct loginfail_state st;
	int err = 0, r = loginfail_try_ban(s->remote_ip, &s->cfg, now, &s->attempt_rank, &ban);

	/* A table that can be read but not written (the disk is full) cannot
	 * count this attempt; its ban still holds.  Users must be able to log
	 * in then, if only to delete mail. */
	if (r < 0)
		err = errno;
	if (r < 0 && loginfail_get(s->remote_ip, now, &st) >= 0) {
		log_warn("unable to count the login in the failed-login table: %s", strerror(err));
		if (!(ban = loginfail_ban_left(&st, &s->cfg, now)))
			return 1;
		r = 0;
	}
	if (r < 0) {
		log_warn("unable to read the failed-login table: %s", strerror(errno));
		log_notice("event=login-refused ip=%s reason=table-unavailable", s->remote_ip);
		pop3_err(s, "[SYS/TEMP] unable to check failed logins, try again later");
		return 0;
	}
	if (r == 0) {
		log_notice("event=login-refused ip=%s reason=temp-ban seconds=%lu", s->remote_ip, ban);
		pop3_err(s, "[LOGIN-DELAY] too many failed logins from %s, try again in %lu seconds", s->remote_ip,
			 ban);
		return 0;
	}
	s->attempt_open = 1;
	s->attempt_at = now;
	return 1;
}

/* Takes back the count of the attempt begun, if any; 1 ok, 0 errno. */
static int attempt_settle(struct pop3_session *s)
{
	if (!s->attempt_open)
		return 1;
	s->attempt_open = 0;
	return loginfail_forgive(s->remote_ip, s->attempt_at);
}

void pop3_login_abandoned(struct pop3_session *s)
{
	if (!attempt_settle(s))
		log_warn("unable to update the failed-login table: %s", strerror(errno));
}

void pop3_login_failed(struct pop3_session *s, const char *name, const char *method, const char *reason)
{
	const struct mail_config *cfg = &s->cfg;
	unsigned long count = 0, rank = 0;
	const char *stored = s->user.name[0] ? s->user.name : name;
	int ok;
	char why[160];
	struct buf v = BUF_INIT, m = BUF_INIT;
	const char *user = xlog_value(&v, name); /* the name as the client gave it */

	s->failures++;
	/* The anonymous count of the attempt becomes one by name: the stored
	 * name when the account exists, so its owner's success forgives these
	 * however the name was spelt.  The thresholds' one-time lines go by
	 * the attempt's rank, which parallel attempts cannot share. */
	if (s->attempt_open) {
		s->attempt_open = 0;
		rank = s->attempt_rank;
		ok = loginfail_settle_user(s->remote_ip, s->attempt_at, stored, time(NULL), &count);
	} else {
		ok = loginfail_record_user(s->remote_ip, stored, time(NULL), &count);
		rank = count;
	}
	if (!ok)
		log_warn("unable to update the failed-login table: %s", strerror(errno));
	log_notice("event=login-failed ip=%s user=%s method=%s tls=%d reason=%s failures=%lu", s->remote_ip, user,
		   xlog_value(&m, method), s->tls_active, reason, count);
	if (cfg->login_attempt_hack_threshold && rank == cfg->login_attempt_hack_threshold)
		log_warn("event=hack-attempt ip=%s user=%s failures=%lu", s->remote_ip, user, count);
	buf_free(&v);
	buf_free(&m);
	if (cfg->login_attempt_temp_ban_threshold && rank == cfg->login_attempt_temp_ban_threshold)
		log_warn("event=temp-ban ip=%s failures=%lu seconds=%lu", s->remote_ip, count,
			 cfg->login_attempt_temp_ban_duration_sec);
	/* ">=": when one append failed, the next failure tries again. */
	if (cfg->login_attempt_filter_threshold && count >= cfg->login_attempt_filter_threshold
	    && loginfail_ip_filtered(s->remote_ip) != 1) {
		snprintf(why, sizeof why, "pop3d: %lu failed logins, last as %s", count, name);
		if (loginfail_filter_ip(s->remote_ip, why))
			log_warn("event=filtered ip=%s failures=%lu", s->remote_ip, count);
		else
			log_warn("unable to append to etc/ip.can: %s", strerror(errno));
	}
	loginfail_sleep_ms(cfg->login_attempt_delay_ms);
}

/* Lock, snapshot, TRANSACTION.  The failure replies here are not login
 * failures: the password was right. */
static void login_open_mailbox(struct pop3_session *s, const char *method)
{
	size_t i;
	unsigned long long octets = 0;
	int r = mailbox_lock(&s->box, s->user.number);
	struct buf v = BUF_INIT;

	if (r == 0) {
		log_info("event=in-use ip=%s user=%s", s->remote_ip, xlog_value(&v, s->user.name));
		buf_free(&v);
		pop3_err(s, "[IN-USE] mailbox is in use by another POP3 session");
		return;
	}
	if (r < 0 || !mailbox_scan(&s->box, s->nospam)) {
		log_warn("unable to open mailbox %s: %s", s->box.path, strerror(errno));
		mailbox_free(&s->box);
		pop3_err(s, "[SYS/TEMP] unable to open your mailbox, try again later");
		return;
	}
	for (i = 0; i < s->box.count; i++)
		octets += s->box.messages[i].wire_size;
	s->state = POP3_STATE_TRANSACTION;
	log_info("event=login ip=%s user=%s number=%lu method=%s tls=%d nospam=%d messages=%zu octets=%llu",
		 s->remote_ip, xlog_value(&v, s->user.name), s->user.number, method, s->tls_active, s->nospam,
		 s->box.count, octets);
	buf_free(&v);
	pop3_ok(s, "%s has %zu message%s (%llu octets)", s->user.name, s->box.count, s->box.count == 1 ? "" : "s",
		octets);
}

/* APOP's digest: MD5(timestamp || secret) in lowercase hex (RFC 1939 §7). */
static int apop_matches(const struct pop3_session *s, const char *digest)
{
	unsigned char md[MD5_DIGEST_BYTES];
	char hex[2 * MD5_DIGEST_BYTES + 1], given[2 * MD5_DIGEST_BYTES + 1];
	struct md5 ctx;
	size_t i;

	if (strlen(digest) != 2 * MD5_DIGEST_BYTES || !s->user.apop[0])
		return 0;
	for (i = 0; i < 2 * MD5_DIGEST_BYTES; i++)
		given[i] = (char)tolower((unsigned char)digest[i]);
	given[i] = 0;
	md5_init(&ctx);
	md5_update(&ctx, s->timestamp, strlen(s->timestamp));
	md5_update(&ctx, s->user.apop, strlen(s->user.apop));
	md5_final(&ctx, md);
	for (i = 0; i < MD5_DIGEST_BYTES; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return password_equal(hex, given);
}

/* POP-before-SMTP (SMTP_AUTH_VIA_IP): smtpd lets this address relay for a
 * while.  The table is opened only when the option is on; a failure costs
 * relaying later, not this login. */
static void login_record_authvia(struct pop3_session *s)
{
	if (!(s->cfg.options & MAIL_OPTION(SMTP_AUTH_VIA_IP)) || strcmp(s->remote_ip, "local") == 0)
		return;
	if (!authvia_record(s->remote_ip, time(NULL)))
		log_warn("unable to record the POP3 login of %s for SMTP_AUTH_VIA_IP: %s", s->remote_ip,
			 strerror(errno));
}

/* Only the user's own latest failures are forgiven: the address's others
 * may be guesses at other accounts, which one good password must not
 * wipe out. */
void pop3_login_accepted(struct pop3_session *s, const char *method)
{
	if (!attempt_settle(s) || !loginfail_forgive_user(s->remote_ip, s->user.name, time(NULL)))
		log_warn("unable to update the failed-login table: %s", strerror(errno));
	login_open_mailbox(s, method);
	if (s->state != POP3_STATE_TRANSACTION) {
		memset(&s->user, 0, sizeof s->user);
		return;
	}
	login_record_authvia(s);
}

/* The shared path of PASS and APOP once the name and proof are known. */
static void login_attempt(struct pop3_session *s, const char *arg_name, enum login_method method, const char *proof)
{
	char name[USER_NAME_MAX_BYTES + 1];
	struct userdb db;
	int found = 0, ok = 0;

	if (!pop3_login_begin(s))
		return;
	if (pop3_split_nospam(s, arg_name, name, sizeof name)) {
		if (!userdb_open(&db, 0)) {
			log_warn("unable to open the user database: %s", strerror(errno));
			pop3_login_abandoned(s);
			pop3_err(s, "[SYS/TEMP] user database unavailable, try again later");
			return;
		}
		found = userdb_get_by_name(&db, name, &s->user);
		userdb_close(&db);
	}
	if (method == LOGIN_APOP)
		ok = found == 1 && apop_matches(s, proof);
	else if (found == 1 && s->user.password[0])
		ok = password_verify(proof, s->user.password);
	else
		ok = password_verify_none(proof); /* the same time for a name that does not exist */
	if (found == 1 && (s->user.flags & USER_FLAG_DISABLED))
		ok = 0;
	if (!ok) {
		pop3_login_failed(s, arg_name, login_method_name[method],
				  found < 0 ? "db-error" : found == 0 ? "unknown-user"
				  : s->user.flags & USER_FLAG_DISABLED ? "disabled" : "bad-credentials");
		memset(&s->user, 0, sizeof s->user);
		pop3_err(s, "[AUTH] invalid user name or password");
		return;
	}
	pop3_login_accepted(s, login_method_name[method]);
}

void pop3_cmd_user(struct pop3_session *s, const char *arg)
{
	s->have_user = 0;
	if (!arg) {
		pop3_err(s, "USER needs a name");
		return;
	}
	if (strlen(arg) >= sizeof s->user_arg) {
		pop3_err(s, "[AUTH] user name too long");
		return;
	}
	strcpy(s->user_arg, arg);
	s->have_user = 1;
	pop3_ok(s, "send PASS");
}

void pop3_cmd_pass(struct pop3_session *s, const char *arg)
{
	if (!s->have_user) {
		pop3_err(s, "give USER first");
		return;
	}
	s->have_user = 0;
	/* A password may hold spaces; the dispatcher trimmed only the ends. */
	login_attempt(s, s->user_arg, LOGIN_USER, arg ? arg : "");
}

void pop3_cmd_apop(struct pop3_session *s, const char *arg)
{
	char name[USER_NAME_MAX_BYTES + sizeof POP3_NOSPAM_SUFFIX];
	const char *sp = arg ? strrchr(arg, ' ') : NULL;

	s->have_user = 0;
	if (!sp || (size_t)(sp - arg) >= sizeof name) {
		pop3_err(s, "usage: APOP name digest");
		return;
	}
	memcpy(name, arg, (size_t)(sp - arg));
	name[sp - arg] = 0;
	login_attempt(s, name, LOGIN_APOP, sp + 1);
}
