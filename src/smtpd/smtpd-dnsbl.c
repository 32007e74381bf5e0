#include "smtpd-dnsbl.h"
#include "conn.h"
#include "date.h"
#include "dbfile.h"
#include "dnsbl.h"
#include "file.h"
#include "home.h"
#include "hostlist.h"
#include "log.h"
#include "smtpd-data.h"
#include "smtpd-reply.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static int option(const struct smtp_session *s, unsigned long long bit) { return (s->cfg.options & bit) != 0; }

/* The actions apply to this transaction: a listed client (or Received:
 * address), not exempt, not authenticated. */
/* Whether this transaction's sender is in dnsbl_exempt.cfg, asked the
 * first time it matters (a listing, a Received: check, a known body hash)
 * rather than at every MAIL: a long list costs a lookup in its form. */
static int sender_exempt(struct smtp_session *s)
{
	if (s->dnsbl.sender_exempt < 0)
		s->dnsbl.sender_exempt =
			s->dnsbl.checked && !s->dnsbl.client_exempt
			&& hostlist_match_address(SMTPD_DNSBL_EXEMPT_FILE, s->sender.data ? s->sender.data : "") != 0;
	return s->dnsbl.sender_exempt;
}

static int acting(struct smtp_session *s)
{
	return s->dnsbl.listed && !s->dnsbl.client_exempt && !s->auth_user.len && !s->auth_via_ip
	       && !sender_exempt(s);
}

static long long dnsbl_deadline(const struct smtp_session *s)
{
	const char *v = smtpserver_conf_get(&s->conf, "dnsbl-timeout");
	unsigned long sec = SMTPD_DNSBL_TIMEOUT_DEFAULT_SEC;

	if (v && (!config_parse_ulong(v, &sec) || sec == 0 || sec > 60))
		die_temp("smtpserver.conf: PARAM dnsbl-timeout: seconds from 1 to 60: %s", v);
	return conn_now_ms() + (long long)sec * 1000;
}

/* One line in spool/data/spam.log for each listing (one write, O_APPEND:
 * sessions do not interleave). */
static void spam_log(const struct smtp_session *s)
{
	char date[DATE_RFC5322_MAX_BYTES], path[PATH_MAX];
	struct buf line = BUF_INIT;
	int fd;

	(void)date_rfc5322(date, sizeof date, (long long)time(NULL));
	xbuf_catf(&line, "%s SMTP BLACKLISTED SERVER on %s: %s [%s] answer=%s%s\n", date, s->dnsbl.zone, s->dnsbl.ip,
		  s->remote_host ? s->remote_host : "unknown", s->dnsbl.answer,
		  s->dnsbl.from_received ? " in=Received" : "");
	if (!home_path(path, sizeof path, SMTPD_SPAM_LOG)
	    || (fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600)) < 0) {
		log_warn("unable to open %s: %s", SMTPD_SPAM_LOG, strerror(errno));
	} else {
		if (!file_write_all(fd, line.data, line.len))
			log_warn("unable to write %s: %s", SMTPD_SPAM_LOG, strerror(errno));
		close(fd);
	}
	buf_free(&line);
}

/* Looks the addresses up; on a listing fills s->dnsbl and logs it.  1
 * listed. */
/* The zones, read once per session (one process): NULL when there are
 * none, so that a system without DNSBLs reads nothing else. */
static const struct dnsbl_zones *session_zones(void)
{
	static struct dnsbl_zones zones;
	static int loaded;

	if (!loaded) {
		loaded = 1;
		if (!dnsbl_zones_load(&zones, DNSBL_FILE))
			zones.count = 0;
	}
	return zones.count ? &zones : NULL;
}

static int dnsbl_lookup(struct smtp_session *s, const char *const *ips, size_t count, int from_received)
{
	const struct dnsbl_zones *zones = session_zones();
	struct dns_resolver r;
	struct dnsbl_hit hit;
	size_t failed = 0;
	long long started = conn_now_ms();
	int listed = 0;

	if (!zones)
		return 0;
	if (!dns_init_config(&r, &s->cfg)) {
		log_warn("event=dnsbl-skipped ip=%s: %s", s->remote_ip, dns_error(&r));
		return 0;
	}
	listed = dnsbl_check(&r, zones, ips, count, dnsbl_deadline(s), &hit, &failed);
	if (listed) {
		s->dnsbl.listed = 1;
		s->dnsbl.from_received = from_received;
		snprintf(s->dnsbl.zone, sizeof s->dnsbl.zone, "%s", zones->zone[hit.zone].name);
		snprintf(s->dnsbl.ip, sizeof s->dnsbl.ip, "%s", ips[hit.ip]);
		snprintf(s->dnsbl.answer, sizeof s->dnsbl.answer, "%s", hit.answer);
		log_notice("event=dnsbl ip=%s listed=%s zone=%s answer=%s in=%s: SMTP BLACKLISTED SERVER on %s: %s",
			   s->remote_ip, s->dnsbl.ip, s->dnsbl.zone, s->dnsbl.answer,
			   from_received ? "received" : "client", s->dnsbl.zone, s->dnsbl.ip);
		spam_log(s);
	}
	if (failed)
		log_info("event=dnsbl-incomplete ip=%s lookups=%zu failed=%zu ms=%lld", s->remote_ip, count * zones->count,
			 failed, conn_now_ms() - started);
	dns_free(&r);
	return listed;
}

/* 127.0.0.1 and ::1 are this host; the rest of 127.0.0.0/8 is checked
 * like any address (RFC 5782's test entry is 127.0.0.2). */
static int is_this_host(const char *ip)
{
	return strcmp(ip, "127.0.0.1") == 0 || strcmp(ip, "::1") == 0 || strcmp(ip, "::ffff:127.0.0.1") == 0;
}

int smtpd_dnsbl_connect(struct smtp_session *s)
{
	const char *ip = s->remote_ip;
	int r;

	memset(&s->dnsbl, 0, sizeof s->dnsbl);
	if (s->submission || !strcmp(ip, "unknown") || is_this_host(ip) || !session_zones()) {
		s->dnsbl.client_exempt = 1;
		return 1;
	}
	r = hostlist_match_client(SMTPD_DNSBL_EXEMPT_FILE, ip, s->remote_host);
	if (r != 0) {
		/* Exempt, or the file cannot be read: then nobody is acted on
		 * rather than someone exempt (logged by the reader). */
		s->dnsbl.client_exempt = 1;
		return 1;
	}
	s->dnsbl.checked = 1;
	if (!dnsbl_lookup(s, &ip, 1, 0))
		return 1;
	if (!option(s, MAIL_OPTION(DNSBL_REFUSE)))
		return 1;
	smtp_reply(s, 554, "5.7.1", "Your server %s is listed by %s: no mail accepted", ip, s->dnsbl.zone);
	smtp_log_reject(s, "connect", 554, "5.7.1", "dnsbl");
	s->quit = 1;
	s->close_reason = "dnsbl";
	return 0;
}

void smtpd_dnsbl_mail(struct smtp_session *s)
{
	s->dnsbl.sender_exempt = -1;   /* not asked yet: sender_exempt() */
}

int smtpd_dnsbl_rcpt_refused(struct smtp_session *s)
{
	if (!acting(s) || !option(s, MAIL_OPTION(DNSBL_BADUSER)))
		return 0;
	smtp_reply(s, 550, "5.7.1", "Invalid mailbox: your server %s is listed by %s", s->dnsbl.ip, s->dnsbl.zone);
	smtp_log_reject(s, "RCPT", 550, "5.7.1", "dnsbl-baduser");
	return 1;
}

void smtpd_dnsbl_pause(void)
{
	struct timespec t = { 1, 0 };

	while (nanosleep(&t, &t) != 0 && errno == EINTR)
		;
}

void smtpd_dnsbl_throttle(struct smtp_session *s)
{
	if (s->dnsbl.listed && !s->dnsbl.client_exempt && !s->auth_user.len && option(s, MAIL_OPTION(DNSBL_THROTTLE)))
		smtpd_dnsbl_pause();
}

/* The addresses in address literals of the Received: fields: "[192.0.2.1]",
 * "[IPv6:2001:db8::1]"; this host's, the client's own and exempt ones
 * left out, each once, SMTPD_RECEIVED_IPS_MAX at most. */
static size_t received_ips(const struct smtp_session *s, char ips[][64])
{
	const char *p = s->sink.received.data, *end, *close;
	unsigned char bytes[16];
	size_t n = 0, i, len;

	if (!p)
		return 0;
	end = p + s->sink.received.len;
	for (; n < SMTPD_RECEIVED_IPS_MAX && (p = memchr(p, '[', (size_t)(end - p))); p = close) {
		char text[64];
		p++;
		if (!(close = memchr(p, ']', (size_t)(end - p))))
			break;
		len = (size_t)(close - p);
		if (len > 5 && strncasecmp(p, "IPv6:", 5) == 0)
			p += 5, len -= 5;
		if (len == 0 || len >= sizeof text)
			continue;
		memcpy(text, p, len);
		text[len] = 0;
		if ((inet_pton(AF_INET, text, bytes) != 1 && inet_pton(AF_INET6, text, bytes) != 1) || is_this_host(text)
		    || strcmp(text, s->remote_ip) == 0 || hostlist_match_client(SMTPD_DNSBL_EXEMPT_FILE, text, NULL) != 0)
			continue;
		for (i = 0; i < n && strcmp(ips[i], text) != 0; i++)
			;
		if (i == n)
			memcpy(ips[n++], text, len + 1);
	}
	return n;
}

/* The sink's hook at the end of the header section: the Received:
 * addresses looked up (DNSBL_CHKRECVHDRS), then the tags. */
static void dnsbl_header_end(struct smtp_sink *k, void *ctx)
{
	struct smtp_session *s = ctx;
	char ips[SMTPD_RECEIVED_IPS_MAX][64], line[CONFIG_STRING_MAX + 300];
	const char *list[SMTPD_RECEIVED_IPS_MAX];
	size_t n, i;

	if (k->collect_received && !s->dnsbl.listed && (n = received_ips(s, ips)) > 0) {
		for (i = 0; i < n; i++)
			list[i] = ips[i];
		(void)dnsbl_lookup(s, list, n, 1);
	}
	if (!acting(s))
		return;
	if (s->cfg.dnsbl_subject[0])
		k->subject_tag = s->cfg.dnsbl_subject;
	if (s->cfg.dnsbl_header[0]) {
		snprintf(line, sizeof line, "%s: %s", s->cfg.dnsbl_header, s->dnsbl.zone);
		smtp_sink_store_line(k, line);
	}
	smtp_sink_store_line(k, "X-Spam-Flag: YES");
}

void smtpd_dnsbl_begin(struct smtp_session *s)
{
	struct smtp_sink *k = &s->sink;

	k->header_end = dnsbl_header_end;
	k->header_end_ctx = s;
	k->throttle = acting(s) && option(s, MAIL_OPTION(DNSBL_THROTTLE));
	if (s->dnsbl.client_exempt || s->auth_user.len || s->auth_via_ip)
		return;
	if (acting(s) && s->cfg.dnsbl_subject[0])
		k->subject_tag = s->cfg.dnsbl_subject;   /* tagged where it stands */
	k->collect_received = option(s, MAIL_OPTION(DNSBL_CHKRECVHDRS)) && !s->dnsbl.listed && !sender_exempt(s);
	k->hold_subject = k->collect_received && s->cfg.dnsbl_subject[0];
	if (option(s, MAIL_OPTION(DNSBL_SPAMHASH))) {
		k->hash_body = 1;
		sha256_init(&k->body_hash);
	}
}

/* spool/data/spam.hash: the hex SHA-256 of a body -> when it was seen. */
static void body_hash_hex(struct smtp_sink *k, char hex[2 * SHA256_DIGEST_BYTES + 1])
{
	unsigned char digest[SHA256_DIGEST_BYTES];
	size_t i;

	sha256_final(&k->body_hash, digest);
	for (i = 0; i < sizeof digest; i++)
		snprintf(hex + 2 * i, 3, "%02x", digest[i]);
}

/* 1 known spam, 0 not, -1 the table cannot be read. */
static int spam_hash_known(const char *hex)
{
	GDBM_FILE db = dbfile_open(SMTPD_SPAM_HASH, DBFILE_READ);
	datum key = { (char *)hex, (int)strlen(hex) };
	int known;

	if (!db)
		return errno == ENOENT ? 0 : -1;
	known = gdbm_exists(db, key) ? 1 : 0;
	gdbm_close(db);
	return known;
}

static void spam_hash_record(const struct smtp_session *s, const char *hex)
{
	GDBM_FILE db = dbfile_open(SMTPD_SPAM_HASH, DBFILE_WRITE | DBFILE_SYNC);
	char when[32];
	datum key = { (char *)hex, (int)strlen(hex) }, value = { when, 0 };

	if (!db) {
		log_warn("id=%s unable to open %s: %s", s->id, SMTPD_SPAM_HASH, strerror(errno));
		return;
	}
	value.dsize = snprintf(when, sizeof when, "%lld", (long long)time(NULL));
	if (gdbm_store(db, key, value, GDBM_REPLACE) != 0)
		log_warn("id=%s unable to write %s: %s", s->id, SMTPD_SPAM_HASH, gdbm_strerror(gdbm_errno));
	gdbm_close(db);
}

int smtpd_dnsbl_finish(struct smtp_session *s, const char *cmd)
{
	struct smtp_sink *k = &s->sink;
	char hex[2 * SHA256_DIGEST_BYTES + 1];
	int known;

	if (k->hash_body && k->body_bytes) {
		body_hash_hex(k, hex);
		if (acting(s)) {
			spam_hash_record(s, hex);
		} else if ((known = spam_hash_known(hex)) != 0 && !sender_exempt(s)) {
			if (known < 0) {
				smtp_reply(s, 451, "4.3.0", "Temporary local problem, try again later");
				smtp_log_reject(s, cmd, 451, "4.3.0", "spam-hash-unreadable");
			} else {
				smtp_reply(s, 554, "5.7.1", "Message refused: its body matches known spam");
				smtp_log_reject(s, cmd, 554, "5.7.1", "spam-hash");
			}
			return 1;
		}
	}
	if (!acting(s))
		return 0;
	if (s->dnsbl.from_received
	    && (option(s, MAIL_OPTION(DNSBL_REFUSE)) || option(s, MAIL_OPTION(DNSBL_BADUSER)))) {
		smtp_reply(s, 554, "5.7.1", "Message refused: it passed through %s, listed by %s", s->dnsbl.ip,
			   s->dnsbl.zone);
		smtp_log_reject(s, cmd, 554, "5.7.1", "dnsbl-received");
		return 1;
	}
	if (!option(s, MAIL_OPTION(DNSBL_IGNORE)))
		return 0;
	/* Accepted and dropped: the sender is told nothing. */
	smtp_reply(s, 250, "2.0.0", "Ok: queued as %s", s->id);
	log_notice("id=%s event=dnsbl-ignore ip=%s zone=%s rcpt=%zu: message dropped", s->id, s->dnsbl.ip,
		   s->dnsbl.zone, s->rcpt_count);
	return 1;
}
