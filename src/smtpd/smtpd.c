/* smtpd: one SMTP session on fd 0/1, started by tcpserver, inetd or systemd
 * (Accept=yes).  It never listens or forks.  See smtpd(8). */
#include "date.h"
#include "home.h"
#include "privdrop.h"
#include "log.h"
#include "smtpd-commands.h"
#include "smtpd-data.h"
#include "smtpd-dnsbl.h"
#include "smtpd-lists.h"
#include "smtpd-milter.h"
#include "smtpd-etrn.h"
#include "smtpd-reply.h"
#include "smtpd-session.h"
#include "smtpd-auth.h"
#include "smtpd-submit.h"
#include "smtpd-tls.h"
#include "smtpd-telegram.h"
#include "tls.h"
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SMTPD_USAGE "smtpd [-d home] [-m] [-s] [-u user]   (-m submission: AUTH before MAIL; -s SMTPS: implicit TLS; -u: become user)"

/* The die hook has no argument, so it finds the session here. */
static struct smtp_session *die_session;

/* Every fatal path says 421 first. */
static void smtpd_die_hook(int exit_code)
{
	struct smtp_session *s = die_session;
	char line[CONFIG_STRING_MAX + 128];
	int n;

	(void)exit_code;
	if (!s)
		return;
	(void)conn_flush(&s->conn);
	n = snprintf(line, sizeof line, "421 %s%s Service not available, closing connection\r\n",
		     (s->ext & SMTP_EXT_ENHANCED) ? "4.3.0 " : "", s->host ? s->host : "localhost");
	if (n <= 0 || (size_t)n >= sizeof line)
		return;
	/* Inside TLS fd 1 is the socketpair to tlsproxy, which encrypts the
	 * 421 like any reply; the proxy ends when we do.  Through conn, so a
	 * client that stopped reading cannot hold this write either. */
	if (conn_put(&s->conn, line, (size_t)n))
		(void)conn_flush(&s->conn);
}

static void sockaddr_text(const struct sockaddr_storage *ss, char *ip, size_t ip_size, char *port,
			  size_t port_size)
{
	const void *addr = NULL;
	unsigned p = 0;

	if (ss->ss_family == AF_INET) {
		addr = &((const struct sockaddr_in *)(const void *)ss)->sin_addr;
		p = ntohs(((const struct sockaddr_in *)(const void *)ss)->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		addr = &((const struct sockaddr_in6 *)(const void *)ss)->sin6_addr;
		p = ntohs(((const struct sockaddr_in6 *)(const void *)ss)->sin6_port);
	}
	if (addr && inet_ntop(ss->ss_family, addr, ip, (socklen_t)ip_size) && port)
		snprintf(port, port_size, "%u", p);
}

/* A host name from the environment goes into Received: letters, digits,
 * dots and hyphens only. */
static int host_name_clean(const char *h)
{
	if (!h || !*h || strlen(h) > 255)
		return 0;
	return strspn(h, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") == strlen(h);
}

/* ucspi-tcp environment first, then the socket itself (inetd, systemd). */
static void session_peer(struct smtp_session *s)
{
	struct sockaddr_storage ss;
	socklen_t len;
	const char *ip = getenv("TCPREMOTEIP"), *lip = getenv("TCPLOCALIP"), *lport = getenv("TCPLOCALPORT");
	const char *host = getenv("TCPREMOTEHOST");

	if (!ip) {
		len = sizeof ss;
		memset(&ss, 0, sizeof ss);
		if (getpeername(0, (struct sockaddr *)&ss, &len) == 0)
			sockaddr_text(&ss, s->peer_ip_storage, sizeof s->peer_ip_storage, NULL, 0);
		ip = s->peer_ip_storage[0] ? s->peer_ip_storage : NULL;
	}
	if (!lip || !lport) {
		len = sizeof ss;
		memset(&ss, 0, sizeof ss);
		if (getsockname(0, (struct sockaddr *)&ss, &len) == 0)
			sockaddr_text(&ss, s->local_ip_storage, sizeof s->local_ip_storage, s->local_port_storage,
				      sizeof s->local_port_storage);
		lip = s->local_ip_storage[0] ? s->local_ip_storage : NULL;
		lport = s->local_port_storage[0] ? s->local_port_storage : NULL;
	}
	if (ip && strspn(ip, "0123456789abcdefABCDEF:.") == strlen(ip) && *ip)
		s->remote_ip = ip;
	if (lip && strspn(lip, "0123456789abcdefABCDEF:.") == strlen(lip) && *lip)
		s->local_ip = lip;
	if (lport && strspn(lport, "0123456789") == strlen(lport) && *lport)
		s->local_port = lport;
	s->remote_host = host_name_clean(host) ? host : NULL;
}

/* hdr220 metatags (ZMailer): %H host name, %i local IP, %T date, %V
 * version, %% a percent sign; anything else is copied as it is. */
static void greeting(struct smtp_session *s)
{
	const char *t = smtpserver_conf_get(&s->conf, "hdr220"), *p;
	struct buf g = BUF_INIT;
	char date[DATE_RFC5322_MAX_BYTES];

	if (!t || !*t) {
		xconn_printf(&s->conn, "220 %s ESMTP bbsmail\r\n", s->host);
		return;
	}
	for (p = t; *p; p++) {
		if (*p != '%' || !p[1]) {
			if ((unsigned char)*p >= ' ')
				xbuf_catc(&g, *p);
			continue;
		}
		switch (*++p) {
		case 'H': xbuf_cats(&g, s->host); break;
		case 'i': xbuf_cats(&g, s->local_ip); break;
		case 'T': (void)date_rfc5322(date, sizeof date, (long long)time(NULL)); xbuf_cats(&g, date); break;
		case 'V': xbuf_cats(&g, "bbsmail"); break;
		case '%': xbuf_catc(&g, '%'); break;
		default: xbuf_catc(&g, '%'); xbuf_catc(&g, *p); break;
		}
	}
	xconn_printf(&s->conn, "220 %s\r\n", g.data ? g.data : "");
	buf_free(&g);
}

/* A command line with its CRLF: bare LF, bare CR and NUL are refused
 * (the SMTP smuggling lesson: only CRLF ends a line), then the table
 * decides. */
static void handle_line(struct smtp_session *s)
{
	struct buf *l = &s->line;
	const char *why = NULL;

	if (l->len < 2 || l->data[l->len - 2] != '\r')
		why = "Bare LF not allowed";
	else if (memchr(l->data, 0, l->len))
		why = "NUL not allowed in commands";
	else if (memchr(l->data, '\r', l->len - 2))
		why = "Bare CR not allowed";
	if (why) {
		smtp_log_reject(s, "line", 500, "5.5.2", why);
		if (smtp_count_error(s))
			smtp_reply(s, 500, "5.5.2", "%s", why);
		return;
	}
	buf_truncate(l, l->len - 2);
	smtp_command_dispatch(s, l->data);
}

/* Reads and runs commands until QUIT, EOF, a timeout or too many errors. */
static const char *session_loop(struct smtp_session *s)
{
	int r;

	while (!s->quit) {
		r = conn_getline(&s->conn, &s->line, SMTP_LINE_MAX_BYTES);
		if (r > 0) {
			smtpd_dnsbl_throttle(s);
			handle_line(s);
			continue;
		}
		if (r == 0)
			return "eof";
		if (errno == ERANGE) {
			smtp_log_reject(s, "line", 500, "5.5.2", "line-too-long");
			if (smtp_count_error(s))
				smtp_reply(s, 500, "5.5.2", "Line too long");
			continue;
		}
		if (conn_write_failed(&s->conn))
			return errno == ETIMEDOUT ? "write-timeout" : "write-error";
		if (errno == ETIMEDOUT) {
			smtp_reply_close(s, "4.4.2", "Timeout");
			return "timeout";
		}
		return errno == EPROTO ? "eof-mid-line" : "read-error";
	}
	return s->close_reason ? s->close_reason : "quit";
}

/* -d home, -m submission, -s implicit TLS, -u the user to become (as
 * root, privdrop.h); -h (or anything else) prints the usage, which
 * scripts/run-embedded greps for -m and -s. */
static void parse_args(struct smtp_session *s, int argc, char **argv)
{
	int opt;

	while ((opt = getopt(argc, argv, "d:hmsu:")) != -1) {
		switch (opt) {
		case 'd': home_set(optarg); break;
		case 'u': xprivdrop(optarg); break;
		case 'm': s->submission = 1; break;
		case 's': s->implicit_tls = 1; break;
		default: die_usage(SMTPD_USAGE);
		}
	}
	if (optind != argc)
		die_usage(SMTPD_USAGE);
	if (tls_implicit_from_env())
		s->implicit_tls = 1;
}

int main(int argc, char **argv)
{
	static struct smtp_session session;
	const char *reason;

	log_set_program("smtpd");
	session_init(&session);
	parse_args(&session, argc, argv);
	home_umask();
	signal(SIGPIPE, SIG_IGN);
	/* ETRN's table first: its EHLO line comes before STARTTLS and AUTH */
	smtpd_etrn_register();
	smtpd_tls_register();
	smtpd_auth_register();
	smtpd_telegram_register();
	/* SMTPS: no plaintext byte, not even a 421, before the handshake. */
	if (!session.implicit_tls) {
		die_session = &session;
		die_set_hook(smtpd_die_hook);
	}
	session_peer(&session);
	session_configure(&session);
	log_info("event=connect ip=%s host=%s local=%s:%s mode=%s", session.remote_ip,
		 session.remote_host ? session.remote_host : "unknown", session.local_ip, session.local_port,
		 session.submission ? (session.implicit_tls ? "smtps-submission" : "submission")
				    : (session.implicit_tls ? "smtps" : "smtp"));
	if (session.implicit_tls) {
		if (!smtpd_tls_implicit(&session)) {
			smtpd_tls_end(&session);
			log_info("event=close ip=%s messages=0 reason=tls-failed", session.remote_ip);
			session_free(&session);
			return EXIT_TEMPORARY;
		}
		die_session = &session;
		die_set_hook(smtpd_die_hook);
	}
	smtpd_submit_start(&session);
	if (smtpd_lists_connect(&session) && smtpd_dnsbl_connect(&session)) {
		smtpd_milter_connect(&session);
		greeting(&session);
		reason = session_loop(&session);
	} else {
		reason = session.close_reason;
	}
	smtp_reply_flush(&session);
	smtpd_tls_end(&session);
	log_info("event=close ip=%s messages=%lu reason=%s", session.remote_ip, session.messages, reason);
	session_free(&session);
	return 0;
}
