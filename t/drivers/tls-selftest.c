/* tls-selftest: drives src/lib/tls.c for t/tls-lib.bats.
 *   tls-selftest available          exit 0 if cert+key are readable, else 1 + reason
 *   tls-selftest context            loads the server context: "ok" or 1 + reason
 *   tls-selftest bench N            average cost of available() and context()
 *   tls-selftest server [-s]        a tiny SMTP-like server on fd 0/1 (tcpserver);
 *                                   -s or BBSMAIL_IMPLICIT_TLS=1: TLS from the start
 *   tls-selftest client PORT NAME CAFILE VERIFY
 *                                   STARTTLS client against 127.0.0.1:PORT
 * Server commands: EHLO, STARTTLS, TLS (describe), NOOP, BIG n, QUIT, else echo. */
#include "config.h"
#include "conn.h"
#include "log.h"
#include "tls.h"
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_BYTES 1000

struct selftest {
	struct mail_config cfg;
	struct smtpserver_conf conf;
	struct conn conn;
	char error[512];
};

static void load_config(struct selftest *s)
{
	memset(s, 0, sizeof *s);
	if (!mail_config_load(&s->cfg, NULL, s->error, sizeof s->error)
	    || !smtpserver_conf_load(&s->conf, NULL, s->error, sizeof s->error))
		die_temp("%s", s->error);
}

static int cmd_available(struct selftest *s)
{
	if (!tls_server_available(&s->cfg, &s->conf, s->error, sizeof s->error)) {
		fprintf(stderr, "%s\n", s->error);
		return 1;
	}
	puts("available");
	return 0;
}

static int cmd_context(struct selftest *s)
{
	struct tls_context *ctx = tls_server_context(&s->cfg, &s->conf, s->error, sizeof s->error);

	if (!ctx) {
		fprintf(stderr, "%s\n", s->error);
		return 1;
	}
	tls_context_free(ctx);
	puts("ok");
	return 0;
}

static int cmd_bench(struct selftest *s, int n)
{
	long long t0, t1, t2;
	int i;

	t0 = conn_now_ms();
	for (i = 0; i < n * 100; i++)
		if (!tls_server_available(&s->cfg, &s->conf, s->error, sizeof s->error))
			die_temp("%s", s->error);
	t1 = conn_now_ms();
	for (i = 0; i < n; i++)
		tls_context_free(tls_server_context(&s->cfg, &s->conf, s->error, sizeof s->error));
	t2 = conn_now_ms();
	printf("available_us=%.2f context_us=%.1f\n", (double)(t1 - t0) * 1000 / (n * 100),
	       (double)(t2 - t1) * 1000 / n);
	return 0;
}

/* ---- server ---- */

static long long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void server_starttls(struct selftest *s)
{
	struct tls_context *ctx;
	char desc[256];
	size_t discarded = 0;

	long long t0, t1, t2;

	if (tls_is_active(&s->conn)) {
		conn_puts(&s->conn, "503 5.5.1 TLS already active\r\n");
		return;
	}
	t0 = now_us();
	ctx = tls_server_context(&s->cfg, &s->conf, s->error, sizeof s->error);
	if (!ctx) {
		log_warn("unable to start TLS: %s", s->error);
		conn_puts(&s->conn, "454 4.7.0 TLS not available\r\n");
		return;
	}
	conn_puts(&s->conn, "220 2.0.0 Ready to start TLS\r\n");
	t1 = now_us();
	if (!tls_server_start(&s->conn, ctx, &discarded, s->error, sizeof s->error))
		die_temp("%s discarded=%zu", s->error, discarded);
	t2 = now_us();
	tls_context_free(ctx);
	tls_describe(&s->conn, desc, sizeof desc);
	log_info("event=starttls discarded=%zu tls=\"%s\" context_us=%lld handshake_us=%lld",
		 discarded, desc, t1 - t0, t2 - t1);
}

static void server_ehlo(struct selftest *s)
{
	if (!tls_is_active(&s->conn) && tls_server_available(&s->cfg, &s->conf, s->error, sizeof s->error)) {
		conn_puts(&s->conn, "250-localhost\r\n250 STARTTLS\r\n");
		return;
	}
	if (!tls_is_active(&s->conn))
		log_info("event=no-starttls reason=\"%s\"", s->error);
	conn_puts(&s->conn, "250 localhost\r\n");
}

static void server_implicit(struct selftest *s)
{
	struct tls_context *ctx = tls_server_context(&s->cfg, &s->conf, s->error, sizeof s->error);

	if (!ctx || !tls_server_start(&s->conn, ctx, NULL, s->error, sizeof s->error))
		die_temp("%s", s->error);
	tls_context_free(ctx);
}

/* BIG n: n numbered 100-byte lines, enough to fill the socket buffer so
 * SSL_write returns WANT_WRITE and conn_flush has to poll. */
static void server_big(struct selftest *s, unsigned long n)
{
	unsigned long i;

	for (i = 0; i < n; i++)
		conn_printf(&s->conn, "250-%08lu %s\r\n", i,
			    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
	conn_printf(&s->conn, "250 %lu lines\r\n", n);
}

/* One command (its first word decides); 0 when the session is over. */
static int server_command(struct selftest *s, char *line)
{
	char desc[256];
	size_t verb = strcspn(line, " ");

	if (verb == 4 && !strncasecmp(line, "EHLO", 4))
		server_ehlo(s);
	else if (!strcasecmp(line, "STARTTLS"))
		server_starttls(s);
	else if (!strcasecmp(line, "NOOP"))
		conn_puts(&s->conn, "250 2.0.0 NOOP ok\r\n");
	else if (!strcasecmp(line, "TLS")) {
		tls_describe(&s->conn, desc, sizeof desc);
		conn_printf(&s->conn, "250 %s\r\n", *desc ? desc : "plain");
	} else if (!strncasecmp(line, "BIG ", 4)) {
		server_big(s, strtoul(line + 4, NULL, 10));
	} else if (!strcasecmp(line, "QUIT")) {
		conn_puts(&s->conn, "221 2.0.0 bye\r\n");
		tls_shutdown(&s->conn); /* flushes the 221 first, TLS or not */
		return 0;
	} else
		conn_printf(&s->conn, "250 echo %s\r\n", line);
	return 1;
}

static int cmd_server(struct selftest *s, int implicit)
{
	struct buf line = BUF_INIT;
	int r;

	conn_init(&s->conn, 0, 1);
	conn_set_idle_timeout(&s->conn, (int)s->cfg.max_inactivity_sec);
	if (implicit || tls_implicit_from_env())
		server_implicit(s);
	conn_puts(&s->conn, "220 tls-selftest ready\r\n");
	for (;;) {
		r = conn_getline(&s->conn, &line, LINE_MAX_BYTES);
		if (r <= 0)
			die_temp("read: %s %s", r ? strerror(errno) : "EOF", tls_last_error(&s->conn));
		while (line.len && (line.data[line.len - 1] == '\n' || line.data[line.len - 1] == '\r'))
			line.data[--line.len] = 0;
		if (!server_command(s, line.data))
			break;
	}
	buf_free(&line);
	conn_free(&s->conn);
	return 0;
}

/* ---- client ---- */

static int client_connect(int port)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
		die_sys("unable to connect to port %d", port);
	return fd;
}

/* Sends cmd (unless NULL) and prints the one-line reply. */
static void client_exchange(struct conn *c, const char *cmd, struct buf *line)
{
	if (cmd)
		conn_printf(c, "%s\r\n", cmd);
	if (conn_getline(c, line, LINE_MAX_BYTES) <= 0)
		die_temp("no reply to %s: %s %s", cmd ? cmd : "connect", strerror(errno), tls_last_error(c));
	while (line->len && (line->data[line->len - 1] == '\n' || line->data[line->len - 1] == '\r'))
		line->data[--line->len] = 0;
	printf("%s\n", line->data);
}

static int cmd_client(struct selftest *s, int port, const char *name, const char *ca, int verify)
{
	struct buf line = BUF_INIT;
	long long t0;
	int fd = client_connect(port);

	conn_init(&s->conn, fd, fd);
	conn_set_idle_timeout(&s->conn, 10);
	client_exchange(&s->conn, NULL, &line);
	client_exchange(&s->conn, "STARTTLS", &line);
	t0 = conn_now_ms();
	if (!tls_client_start(&s->conn, name, verify, ca, s->error, sizeof s->error)) {
		fprintf(stderr, "%s\n", s->error);
		conn_free(&s->conn);
		buf_free(&line);
		return 1;
	}
	t0 = conn_now_ms() - t0;
	client_exchange(&s->conn, "TLS", &line);
	client_exchange(&s->conn, "QUIT", &line);
	printf("handshake_ms=%lld\n", t0);
	tls_shutdown(&s->conn);
	conn_free(&s->conn);
	buf_free(&line);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	static struct selftest s;

	log_set_program("tls-selftest");
	if (argc < 2)
		die_usage("tls-selftest available|context|bench N|server [-s]|client PORT NAME CAFILE VERIFY");
	load_config(&s);
	if (!strcmp(argv[1], "available"))
		return cmd_available(&s);
	if (!strcmp(argv[1], "context"))
		return cmd_context(&s);
	if (!strcmp(argv[1], "bench") && argc == 3)
		return cmd_bench(&s, atoi(argv[2]) > 0 ? atoi(argv[2]) : 1);
	if (!strcmp(argv[1], "server"))
		return cmd_server(&s, argc > 2 && !strcmp(argv[2], "-s"));
	if (!strcmp(argv[1], "client") && argc == 6)
		return cmd_client(&s, atoi(argv[2]), argv[3], argv[4], atoi(argv[5]));
	die_usage("tls-selftest available|context|bench N|server [-s]|client PORT NAME CAFILE VERIFY");
}
