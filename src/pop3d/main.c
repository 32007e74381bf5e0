/* pop3d: one POP3 session on fd 0/1 (RFC 1939, 2449), started by tcpserver,
 * inetd or systemd (Accept=yes).  main() stays thin: config, setup, loop. */
#include "session.h"
#include "home.h"
#include "log.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define USAGE "pop3d [-d DIR]"

/* A fatal error (unreadable mail.ini, out of memory) still tells the client,
 * before or after the greeting: "-ERR" is a valid refusal in both places. */
static void pop3_die_hook(int code)
{
	static const char msg[] = "-ERR [SYS/TEMP] temporary server failure, try again later\r\n";

	(void)code;
	(void)!write(1, msg, sizeof msg - 1);
}

static void parse_args(int argc, char **argv)
{
	int opt;

	while ((opt = getopt(argc, argv, "d:")) != -1) {
		if (opt == 'd')
			home_set(optarg);
		else
			die_usage(USAGE);
	}
	if (optind != argc)
		die_usage(USAGE);
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
	xmail_config_load(&s->cfg);
	conn_init(&s->conn, 0, 1);
	conn_set_idle_timeout(&s->conn, (int)s->cfg.max_inactivity_sec);
	mailbox_init(&s->box);
	s->state = POP3_STATE_AUTHORIZATION;
	s->debug = (s->cfg.options & MAIL_OPTION(DEBUG_POP3)) != 0;
	s->remote_ip = remote_ip();
	snprintf(s->id, sizeof s->id, "%ld", (long)getpid());
	if (s->cfg.host_name[0])
		snprintf(s->host_name, sizeof s->host_name, "%s", s->cfg.host_name);
	else if (gethostname(s->host_name, sizeof s->host_name - 1) != 0)
		strcpy(s->host_name, "localhost");
	/* RFC 1939 §7: unique per connection; pid plus the clock to the ns. */
	clock_gettime(CLOCK_REALTIME, &now);
	snprintf(s->timestamp, sizeof s->timestamp, "<%ld.%lld.%09ld@%s>", (long)getpid(), (long long)now.tv_sec,
		 now.tv_nsec, s->host_name);
}

int main(int argc, char **argv)
{
	struct pop3_session s;

	log_set_program("pop3d");
	parse_args(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	die_set_hook(pop3_die_hook);
	session_setup(&s);
	log_info("id=%s event=connect ip=%s", s.id, s.remote_ip);
	if (!(s.cfg.options & MAIL_OPTION(ALLOW_POP3))) {
		pop3_err(&s, "[SYS/PERM] POP3 is not enabled on this server");
		(void)conn_flush(&s.conn);
		return 0;
	}
	if (pop3_admit_client(&s)) {
		pop3_ok(&s, "bbsmail POP3 server ready %s", s.timestamp);
		pop3_session_run(&s);
	}
	(void)conn_flush(&s.conn);
	mailbox_free(&s.box);
	conn_free(&s.conn);
	return 0;
}
