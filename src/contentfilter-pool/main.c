/* contentfilter-pool: ZMailer's content filter as a pool of prestarted
 * processes shared by every smtpd session (contentfilter-pool(8)).  It
 * listens on spool/contentfilter.sock; a client sends one line, the path of
 * a message copy, and gets back one line: the filter's answer (checked by
 * the same parser smtpd uses) or "#fail <reason>". */
#include "config.h"
#include "conn.h"
#include "file.h"
#include "home.h"
#include "log.h"
#include "progspawn.h"
#include "../smtpd/smtpd-contentfilter.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define USAGE "contentfilter-pool [-d DIR]"
#define POOL_MAXPAR_DEFAULT 4
#define POOL_MAXPAR_MAX 64
/* Clients held at once (reading or queued); more wait in the listen backlog. */
#define POOL_CLIENTS_MAX 256
#define POOL_RESTART_DELAY_MS 1000   /* a filter that dies at once does not spin */
#define POOL_POLL_MAX_MS 1000        /* SIGTERM is seen within this */

enum filter_state { FILTER_DOWN, FILTER_STARTING, FILTER_HUNGRY, FILTER_BUSY };
enum client_state { CLIENT_READING, CLIENT_QUEUED, CLIENT_ASSIGNED };

struct filter {
	enum filter_state state;
	pid_t pid;
	int to_fd, from_fd;
	int hungry_seen;        /* "#hungry" came while busy */
	struct buf in;
	long long deadline_ms;  /* starting: for "#hungry"; busy: for the answer; down: restart */
	struct client *client;
};

struct client {
	enum client_state state;
	int fd;
	struct buf in;
	long long deadline_ms;  /* for its line, then in the queue */
	unsigned long seq;      /* arrival order: the queue is first come, first served */
};

struct pool {
	const char *program;
	size_t maxpar;
	unsigned long timeout_sec;
	int listen_fd;
	char sock_path[PATH_MAX];
	struct filter filters[POOL_MAXPAR_MAX];
	struct client *clients[POOL_CLIENTS_MAX];
	size_t client_count;
	unsigned long next_seq;
	struct smtpserver_conf conf;
};

static volatile sig_atomic_t stop_requested;

static void on_stop(int sig) { (void)sig; stop_requested = 1; }

static long long timeout_ms(const struct pool *p) { return (long long)p->timeout_sec * 1000; }

/* The program alone: stdin and stdout pipes to the pool, stderr the
 * pool's (spawn_program). */
static int filter_start(struct pool *p, struct filter *f)
{
	static char *const envp[] = { "PATH=/usr/local/bin:/usr/bin:/bin", NULL };
	char *argv[] = { (char *)p->program, NULL };
	int to[2], from[2];
	pid_t pid;

	if (pipe2(to, O_CLOEXEC) != 0)
		return 0;
	if (pipe2(from, O_CLOEXEC) != 0) {
		close(to[0]), close(to[1]);
		return 0;
	}
	if ((pid = spawn_program(p->program, argv, envp, to[0], from[1])) < 0) {
		close(to[0]), close(to[1]), close(from[0]), close(from[1]);
		return 0;
	}
	close(to[0]);
	close(from[1]);
	/* A filter that answers without reading its stdin must not block the
	 * pool once the pipe is full: the write then fails and it restarts. */
	fcntl(to[1], F_SETFL, O_NONBLOCK);
	f->pid = pid;
	f->to_fd = to[1];
	f->from_fd = from[0];
	f->state = FILTER_STARTING;
	f->hungry_seen = 0;
	f->client = NULL;
	f->deadline_ms = conn_now_ms() + timeout_ms(p);
	buf_truncate(&f->in, 0);
	log_info("event=contentfilter-start pid=%ld program=%s", (long)pid, p->program);
	return 1;
}

static void filter_kill(struct filter *f)
{
	kill(-f->pid, SIGKILL);
	kill(f->pid, SIGKILL);
	while (waitpid(f->pid, NULL, 0) < 0 && errno == EINTR)
		;
	close(f->to_fd);
	close(f->from_fd);
	f->state = FILTER_DOWN;
}

static void client_close(struct pool *p, struct client *c)
{
	size_t i;

	for (i = 0; i < p->client_count && p->clients[i] != c; i++)
		;
	if (i < p->client_count)
		p->clients[i] = p->clients[--p->client_count];
	close(c->fd);
	buf_free(&c->in);
	free(c);
}

/* One line to the client, then it is done.  The line is short and the
 * socket fresh: it fits its buffer, so a non-blocking send is enough. */
static void client_answer(struct pool *p, struct client *c, const char *line, size_t len)
{
	struct buf out = BUF_INIT;

	xbuf_cat(&out, line, len);
	xbuf_catc(&out, '\n');
	if (send(c->fd, out.data, out.len, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)out.len)
		log_warn("event=contentfilter-client-lost: %s", strerror(errno));
	buf_free(&out);
	client_close(p, c);
}

static void client_fail(struct pool *p, struct client *c, const char *why)
{
	char line[64];

	snprintf(line, sizeof line, "#fail %s", why);
	client_answer(p, c, line, strlen(line));
}

/* The filter crashed, talked garbage or ran out of time: killed, its client
 * told, and a new one started (after a pause when it failed at once). */
static void filter_failed(struct pool *p, struct filter *f, const char *why)
{
	log_warn("event=contentfilter-fail pid=%ld reason=%s: filter restarted", (long)f->pid, why);
	filter_kill(f);
	if (f->client)
		client_fail(p, f->client, why);
	f->client = NULL;
	f->deadline_ms = conn_now_ms() + POOL_RESTART_DELAY_MS;
}

/* One whole line from a filter (without its newline). */
static void filter_line(struct pool *p, struct filter *f, const char *line, size_t len)
{
	struct contentfilter_reply reply;

	if (strcmp(line, "#hungry") == 0) {
		if (f->state == FILTER_STARTING)
			f->state = FILTER_HUNGRY;
		else if (f->state == FILTER_BUSY)
			f->hungry_seen = 1;
		return;
	}
	/* Lines starting with '#' are the filter's own talk, and anything
	 * before its first "#hungry" is ignored, as in smtpd. */
	if (line[0] == '#' || f->state != FILTER_BUSY)
		return;
	if (!smtpd_contentfilter_parse_reply(line, len, &reply)) {
		filter_failed(p, f, "bad-reply");
		return;
	}
	client_answer(p, f->client, line, len);
	f->client = NULL;
	f->state = f->hungry_seen ? FILTER_HUNGRY : FILTER_STARTING;
	f->hungry_seen = 0;
	f->deadline_ms = conn_now_ms() + timeout_ms(p);
}

static void filter_readable(struct pool *p, struct filter *f)
{
	char chunk[512], *nl;
	ssize_t r = read(f->from_fd, chunk, sizeof chunk);

	if (r < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (r <= 0) {
		filter_failed(p, f, "eof");
		return;
	}
	xbuf_cat(&f->in, chunk, (size_t)r);
	while (f->state != FILTER_DOWN && (nl = memchr(f->in.data, '\n', f->in.len))) {
		size_t len = (size_t)(nl - f->in.data);

		*nl = '\0';
		filter_line(p, f, f->in.data, len);
		if (f->state != FILTER_DOWN)
			buf_drop_front(&f->in, len + 1);
	}
	if (f->state != FILTER_DOWN && f->in.len > SMTPD_CONTENTFILTER_LINE_MAX_BYTES)
		filter_failed(p, f, "long-line");
}

static void client_readable(struct pool *p, struct client *c)
{
	char chunk[512], *nl;
	ssize_t r = read(c->fd, chunk, sizeof chunk);

	if (r < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (r <= 0) {
		client_close(p, c);
		return;
	}
	xbuf_cat(&c->in, chunk, (size_t)r);
	if ((nl = memchr(c->in.data, '\n', c->in.len))) {
		buf_truncate(&c->in, (size_t)(nl - c->in.data));
		/* A path: not empty, no NUL (it goes to the filter as one line). */
		if (c->in.len > SMTPD_CONTENTFILTER_LINE_MAX_BYTES)
			client_fail(p, c, "long-line");
		else if (!c->in.len || memchr(c->in.data, '\0', c->in.len))
			client_fail(p, c, "bad-request");
		else
			c->state = CLIENT_QUEUED;
	} else if (c->in.len > SMTPD_CONTENTFILTER_LINE_MAX_BYTES) {
		client_fail(p, c, "long-line");
	}
}

static void client_accept(struct pool *p)
{
	struct client *c;
	int fd = accept4(p->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return;
	if (!(c = calloc(1, sizeof *c)))
		die_nomem();
	c->fd = fd;
	c->state = CLIENT_READING;
	c->deadline_ms = conn_now_ms() + timeout_ms(p);
	c->seq = p->next_seq++;
	p->clients[p->client_count++] = c;
}

/* The queued client that came first, or NULL. */
static struct client *queue_first(struct pool *p)
{
	struct client *first = NULL;
	size_t i;

	for (i = 0; i < p->client_count; i++)
		if (p->clients[i]->state == CLIENT_QUEUED && (!first || p->clients[i]->seq < first->seq))
			first = p->clients[i];
	return first;
}

/* Hungry filters take queued clients' paths. */
static void dispatch(struct pool *p)
{
	struct client *c;
	size_t i;

	for (i = 0; i < p->maxpar; i++) {
		struct filter *f = &p->filters[i];

		if (f->state != FILTER_HUNGRY || !(c = queue_first(p)))
			continue;
		xbuf_catc(&c->in, '\n');
		c->state = CLIENT_ASSIGNED;
		f->client = c;
		f->state = FILTER_BUSY;
		f->deadline_ms = conn_now_ms() + timeout_ms(p);
		/* Shorter than PIPE_BUF, so written whole or not at all. */
		if (!file_write_all(f->to_fd, c->in.data, c->in.len))
			filter_failed(p, f, "write");
	}
}

/* Every deadline: filters that did not answer or start, clients that did
 * not send their line or waited too long in the queue, restarts due. */
static void deadlines(struct pool *p)
{
	long long now = conn_now_ms();
	size_t i;

	for (i = 0; i < p->maxpar; i++) {
		struct filter *f = &p->filters[i];

		if (f->deadline_ms > now)
			continue;
		if (f->state == FILTER_DOWN) {
			if (!filter_start(p, f)) {
				log_warn("unable to start %s: %s", p->program, strerror(errno));
				f->deadline_ms = now + POOL_RESTART_DELAY_MS;
			}
		} else if (f->state == FILTER_STARTING || f->state == FILTER_BUSY) {
			filter_failed(p, f, "timeout");
		}
	}
	for (i = p->client_count; i-- > 0;)
		if (p->clients[i]->state != CLIENT_ASSIGNED && p->clients[i]->deadline_ms <= now)
			client_fail(p, p->clients[i], "timeout");
}

static long long next_deadline(const struct pool *p)
{
	long long next = conn_now_ms() + POOL_POLL_MAX_MS;
	size_t i;

	for (i = 0; i < p->maxpar; i++)
		if (p->filters[i].state != FILTER_HUNGRY && p->filters[i].deadline_ms < next)
			next = p->filters[i].deadline_ms;
	for (i = 0; i < p->client_count; i++)
		if (p->clients[i]->state != CLIENT_ASSIGNED && p->clients[i]->deadline_ms < next)
			next = p->clients[i]->deadline_ms;
	return next;
}

/* One poll round.  Descriptors are gathered first and handled by identity
 * afterwards, as handling one can close others. */
static void pool_round(struct pool *p)
{
	struct pollfd pfd[1 + POOL_MAXPAR_MAX + POOL_CLIENTS_MAX];
	struct client *who[POOL_CLIENTS_MAX];
	size_t n = 0, i, nf = 0, nc = 0, fi[POOL_MAXPAR_MAX];
	long long wait = next_deadline(p) - conn_now_ms();

	pfd[n++] = (struct pollfd){ p->listen_fd, p->client_count < POOL_CLIENTS_MAX ? POLLIN : 0, 0 };
	for (i = 0; i < p->maxpar; i++)
		if (p->filters[i].state != FILTER_DOWN)
			fi[nf++] = i, pfd[n++] = (struct pollfd){ p->filters[i].from_fd, POLLIN, 0 };
	for (i = 0; i < p->client_count; i++)
		if (p->clients[i]->state == CLIENT_READING)
			who[nc++] = p->clients[i], pfd[n++] = (struct pollfd){ p->clients[i]->fd, POLLIN, 0 };
	if (poll(pfd, n, wait < 0 ? 0 : (int)wait) < 0) {
		if (errno != EINTR)
			die_sys("unable to poll");
		return;
	}
	for (i = 0; i < nf; i++)
		if (pfd[1 + i].revents && p->filters[fi[i]].state != FILTER_DOWN)
			filter_readable(p, &p->filters[fi[i]]);
	for (i = 0; i < nc; i++)
		if (pfd[1 + nf + i].revents)
			client_readable(p, who[i]);
	if (pfd[0].revents & POLLIN)
		client_accept(p);
	deadlines(p);
	dispatch(p);
}

/* PARAM contentfilter, contentfilter-maxpar (the pool's size) and
 * contentfilter-timeout from etc/smtpserver.conf, as smtpd reads them. */
static void pool_configure(struct pool *p)
{
	char error[256];
	const char *maxpar, *timeout;
	unsigned long n;

	if (!smtpserver_conf_load(&p->conf, NULL, error, sizeof error))
		die_temp("%s", error);
	p->program = smtpserver_conf_get(&p->conf, "contentfilter");
	maxpar = smtpserver_conf_get(&p->conf, "contentfilter-maxpar");
	timeout = smtpserver_conf_get(&p->conf, "contentfilter-timeout");
	if (!p->program || !*p->program)
		die_perm("no PARAM contentfilter in etc/smtpserver.conf");
	p->maxpar = POOL_MAXPAR_DEFAULT;
	if (maxpar) {
		char *end;

		errno = 0;
		n = strtoul(maxpar, &end, 10);
		if (errno || end == maxpar || *end || n > POOL_MAXPAR_MAX)
			die_perm("PARAM contentfilter-maxpar %s: not a number from 0 to %d", maxpar, POOL_MAXPAR_MAX);
		if (n == 0)
			die_perm("PARAM contentfilter-maxpar 0: the content filter is off");
		p->maxpar = n;
	}
	p->timeout_sec = SMTPD_CONTENTFILTER_TIMEOUT_DEFAULT_SEC;
	if (timeout && (!config_parse_duration(timeout, &p->timeout_sec) || !p->timeout_sec)) {
		log_warn("PARAM contentfilter-timeout %s: not a duration; %d s used", timeout,
			 SMTPD_CONTENTFILTER_TIMEOUT_DEFAULT_SEC);
		p->timeout_sec = SMTPD_CONTENTFILTER_TIMEOUT_DEFAULT_SEC;
	}
}

/* Bound to a temporary name and renamed into place, so smtpd never sees a
 * socket that is not listening yet; mode 0600 (only the mail user), or in
 * a split home 0660 (spool/'s group: smtpd's uid, home.h). */
static void pool_listen(struct pool *p)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	char tmp[PATH_MAX];
	mode_t old_mask;

	xhome_path(p->sock_path, sizeof p->sock_path, CONTENTFILTER_POOL_SOCKET);
	if (snprintf(tmp, sizeof tmp, "%s.%ld", p->sock_path, (long)getpid()) >= (int)sizeof a.sun_path)
		die_perm("socket path too long for a unix socket: %s", p->sock_path);
	memcpy(a.sun_path, tmp, strlen(tmp) + 1);
	if ((p->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
		die_sys("unable to create a socket");
	unlink(tmp);
	old_mask = umask(077);
	if (bind(p->listen_fd, (struct sockaddr *)&a, sizeof a) != 0)
		die_sys("unable to bind %s", tmp);
	umask(old_mask);
	if (chmod(tmp, home_file_mode()) != 0 || listen(p->listen_fd, 128) != 0 || rename(tmp, p->sock_path) != 0) {
		int saved = errno;

		unlink(tmp);
		errno = saved;
		die_sys("unable to listen on %s", p->sock_path);
	}
}

static void pool_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}

/* SIGTERM: no new clients, the socket gone, every filter killed. */
static void pool_shutdown(struct pool *p)
{
	size_t i;

	close(p->listen_fd);
	unlink(p->sock_path);
	for (i = 0; i < p->maxpar; i++)
		if (p->filters[i].state != FILTER_DOWN)
			filter_kill(&p->filters[i]);
	while (p->client_count)
		client_fail(p, p->clients[0], "shutdown");
	for (i = 0; i < p->maxpar; i++)
		buf_free(&p->filters[i].in);
	smtpserver_conf_free(&p->conf);
	log_info("event=contentfilter-pool-stop");
}

int main(int argc, char **argv)
{
	static struct pool p;
	size_t i;
	int opt;

	log_set_program("contentfilter-pool");
	while ((opt = getopt(argc, argv, "d:")) != -1) {
		if (opt != 'd')
			die_usage(USAGE);
		home_set(optarg);
	}
	if (optind != argc)
		die_usage(USAGE);
	pool_configure(&p);
	pool_signals();
	for (i = 0; i < p.maxpar; i++)
		if (!filter_start(&p, &p.filters[i]))
			die_sys("unable to start %s", p.program);
	pool_listen(&p);
	log_info("event=contentfilter-pool-start maxpar=%zu timeout=%lu socket=%s", p.maxpar, p.timeout_sec,
		 CONTENTFILTER_POOL_SOCKET);
	while (!stop_requested)
		pool_round(&p);
	pool_shutdown(&p);
	return 0;
}
