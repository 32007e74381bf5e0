/* pop3d: one POP3 session on fd 0/1 (RFC 1939, 2449), started by tcpserver,
 * inetd or systemd (Accept=yes).  main() stays thin: config, setup, loop. */
#include "session.h"
#include "home.h"
#include "privdrop.h"
#include "log.h"
#include "tls.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define USAGE "pop3d [-d DIR] [-s] [-u user]   (-s POP3S: implicit TLS, also BBSMAIL_IMPLICIT_TLS=1; -u: become user)"

#define POP3_DIE_MESSAGE "-ERR [SYS/TEMP] temporary server failure, try again later\r\n"

/* The die hook has no argument, so it finds the session here (set once the
 * session may speak: at once in plain text, after the handshake for POP3S). */
static struct pop3_session *die_session;

/* A fatal error (unreadable mail.ini, out of memory) still tells the client,
 * before or after the greeting: "-ERR" is a valid refusal in both places.
 * Inside TLS fd 1 is the socketpair to tlsproxy(8), which encrypts it like
 * any reply; the proxy ends when we do. */
static void pop3_die_hook(int code)
{
	struct pop3_session *s = die_session;

	(void)code;
	/* Through conn when there is a session, so a client that stopped
	 * reading cannot hold this write either. */
	if (s && conn_put(&s->conn, POP3_DIE_MESSAGE, sizeof POP3_DIE_MESSAGE - 1))
		(void)conn_flush(&s->conn);
	else if (!s || !conn_write_failed(&s->conn))
		(void)!write(1, POP3_DIE_MESSAGE, sizeof POP3_DIE_MESSAGE - 1);
}

/* -d home, -s implicit TLS, -u the user to become (as root, privdrop.h);
 * -h (or anything else) prints the usage, which scripts/run-embedded
 * greps for -s. */
static void parse_args(int argc, char **argv, int *implicit_tls)
{
	int opt;

	while ((opt = getopt(argc, argv, "d:hsu:")) != -1) {
		if (opt == 'd')
			home_set(optarg);
		else if (opt == 'u')
			xprivdrop(optarg);
		else if (opt == 's')
			*implicit_tls = 1;
		else
			die_usage(USAGE);
	}
	if (optind != argc)
		die_usage(USAGE);
	if (tls_implicit_from_env())
		*implicit_tls = 1;
}

/* TCPREMOTEIP from ucspi, else the socket's peer, else "local" (a pipe). */
static const char *remote_ip(void)
{
	static char text[INET6_ADDRSTRLEN];
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	const char *env = getenv("TCPREMOTEIP");

	if (env && *env && strlen(env) < sizeof text && !strpbrk(env, "\r\n"))
		return env;
	if (getpeername(0, (struct sockaddr *)&ss, &len) == 0) {
		if (ss.ss_family == AF_INET
		    && inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, text, sizeof text))
			return text;
		if (ss.ss_family == AF_INET6
		    && inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, text, sizeof text))
			return text;
	}
	return "local";
}

static void session_setup(struct pop3_session *s)
{
	struct timespec now;

	memset(s, 0, sizeof *s);
	tlsproxy_init(&s->tls_proxy);
	/* The session id goes on every line, the configuration warnings too. */
	snprintf(s->id, sizeof s->id, "%ld", (long)getpid());
	log_set_session(s->id);
	xmail_config_load(&s->cfg);
	conn_init(&s->conn, 0, 1);
	conn_set_idle_timeout(&s->conn, (int)s->cfg.max_inactivity_sec);
	/* MaxSessionTime bounds the whole session, as MaxInactivity each wait. */
	if (s->cfg.max_session_sec)
		conn_set_deadline(&s->conn, (int)(s->cfg.max_session_sec > 86400 ? 86400 : s->cfg.max_session_sec));
	mailbox_init(&s->box);
	s->state = POP3_STATE_AUTHORIZATION;
	s->debug = (s->cfg.options & MAIL_OPTION(DEBUG_POP3)) != 0;
	s->remote_ip = remote_ip();
	if (s->cfg.host_name[0])
		snprintf(s->host_name, sizeof s->host_name, "%s", s->cfg.host_name);
	else if (gethostname(s->host_name, sizeof s->host_name - 1) != 0)
		strcpy(s->host_name, "localhost");
	/* RFC 1939 §7: unique per connection; pid plus the clock to the ns. */
	clock_gettime(CLOCK_REALTIME, &now);
	snprintf(s->timestamp, sizeof s->timestamp, "<%ld.%lld.%09ld@%s>", (long)getpid(), (long long)now.tv_sec,
		 now.tv_nsec, s->host_name);
}

static void session_end(struct pop3_session *s)
{
	(void)conn_flush(&s->conn);
	pop3_tls_end(s);
	mailbox_free(&s->box);
	conn_free(&s->conn);
}

int main(int argc, char **argv)
{
	static struct pop3_session s;
	int implicit_tls = 0;

	log_set_program("pop3d");
	parse_args(argc, argv, &implicit_tls);
	home_umask();
	signal(SIGPIPE, SIG_IGN);
	/* POP3S: not one plaintext byte, not even a -ERR, before the handshake. */
	if (!implicit_tls)
		die_set_hook(pop3_die_hook);
	session_setup(&s);
	s.implicit_tls = implicit_tls;
	die_session = &s;
	pop3_tls_register();
	pop3_auth_register();
	log_info("event=connect ip=%s mode=%s", s.remote_ip, implicit_tls ? "pop3s" : "pop3");
	if (implicit_tls) {
		if (!pop3_tls_implicit(&s)) {
			session_end(&s);
			return EXIT_TEMPORARY;
		}
		die_set_hook(pop3_die_hook);
	}
	if (!(s.cfg.options & MAIL_OPTION(ALLOW_POP3))) {
		pop3_err(&s, "[SYS/PERM] POP3 is not enabled on this server");
		session_end(&s);
		return 0;
	}
	if (pop3_admit_client(&s)) {
		pop3_ok(&s, "bbsmail POP3 server ready %s", s.timestamp);
		pop3_session_run(&s);
	}
	session_end(&s);
	return 0;
}
