#include "smtpd-contentfilter.h"
#include "conn.h"
#include "envelope.h"
#include "file.h"
#include "home.h"
#include "log.h"
#include "progspawn.h"
#include "smtpd-reply.h"
#include <errno.h>
#include <fcntl.h>
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

/* The session's filter process, started at its first message. */
struct smtpd_contentfilter_state {
	pid_t pid;
	int to_fd, from_fd;     /* its stdin, its stdout */
	int hungry;             /* "#hungry" seen since the last path */
	struct buf in;          /* read, not yet a whole line */
};

static void filter_stop(struct smtp_session *s, int force)
{
	struct smtpd_contentfilter_state *f = s->filter;

	if (!f)
		return;
	close(f->to_fd);
	close(f->from_fd);
	if (force) {
		kill(-f->pid, SIGKILL);
		kill(f->pid, SIGKILL);
	}
	/* Without force the filter sees EOF on its stdin and ends by itself:
	 * smtpd does not wait for it. */
	if (force)
		while (waitpid(f->pid, NULL, 0) < 0 && errno == EINTR)
			;
	buf_free(&f->in);
	free(f);
	s->filter = NULL;
}

void smtpd_contentfilter_stop(struct smtp_session *s) { filter_stop(s, 0); }

/* The filter's stdin and stdout are pipes to smtpd, its stderr smtpd's
 * log (spawn_program).  1 ok, 0 errno (logged). */
static int filter_start(struct smtp_session *s, const char *program)
{
	static char *const envp[] = { "PATH=/usr/local/bin:/usr/bin:/bin", NULL };
	char *argv[] = { (char *)program, NULL };
	struct smtpd_contentfilter_state *f;
	int to[2], from[2];
	pid_t pid = -1;

	if (pipe2(to, O_CLOEXEC) != 0)
		return 0;
	if (pipe2(from, O_CLOEXEC) != 0) {
		close(to[0]), close(to[1]);
		return 0;
	}
	if (!(f = calloc(1, sizeof *f)) || (pid = spawn_program(program, argv, envp, to[0], from[1])) < 0) {
		log_warn("unable to run %s: %s", program, strerror(errno));
		free(f);
		close(to[0]), close(to[1]), close(from[0]), close(from[1]);
		return 0;
	}
	close(to[0]);
	close(from[1]);
	f->pid = pid;
	f->to_fd = to[1];
	f->from_fd = from[0];
	s->filter = f;
	log_info("event=contentfilter-start pid=%ld program=%s", (long)pid, program);
	return 1;
}

/* The next line from the filter, without its newline, into line: 1 got
 * one, 0 EOF or error, -1 the deadline passed, -2 too long. */
static int filter_read_line(struct smtpd_contentfilter_state *f, long long deadline_ms, struct buf *line)
{
	struct pollfd pfd = { f->from_fd, POLLIN, 0 };
	char chunk[512], *nl;
	long long left;
	ssize_t r;

	for (;;) {
		if ((nl = f->in.len ? memchr(f->in.data, '\n', f->in.len) : NULL)) {
			if (!buf_copy(line, f->in.data, (size_t)(nl - f->in.data)))
				die_nomem();
			buf_drop_front(&f->in, (size_t)(nl - f->in.data) + 1);
			return 1;
		}
		if (f->in.len > SMTPD_CONTENTFILTER_LINE_MAX_BYTES)
			return -2;
		if ((left = deadline_ms - conn_now_ms()) <= 0)
			return -1;
		if (poll(&pfd, 1, left > 1000 ? 1000 : (int)left) < 0 && errno != EINTR)
			return 0;
		if (!pfd.revents)
			continue;
		r = read(f->from_fd, chunk, sizeof chunk);
		if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN))
			return 0;
		if (r > 0)
			xbuf_cat(&f->in, chunk, (size_t)r);
	}
}

static const char *read_failure(int r) { return r == -1 ? "timeout" : r == -2 ? "long-line" : "eof"; }

/* The pool's socket (contentfilter-pool(8)): 1 with a connected *fd, 0
 * when there is no socket (the session runs its own filter), -1 when there
 * is one but it does not take the connection.  A blocking unix connect
 * waits for room in the backlog no longer than SO_SNDTIMEO. */
static int pool_connect(unsigned long timeout_sec, int *fd)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct timeval tv = { (time_t)timeout_sec, 0 };
	struct stat st;
	char path[PATH_MAX];

	if (!home_path(path, sizeof path, CONTENTFILTER_POOL_SOCKET))
		return 0;
	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISSOCK(st.st_mode) || strlen(path) >= sizeof a.sun_path)
		return -1;
	memcpy(a.sun_path, path, strlen(path) + 1);
	if ((*fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	if (setsockopt(*fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) == 0
	    && connect(*fd, (struct sockaddr *)&a, sizeof a) == 0)
		return 1;
	close(*fd);
	return -1;
}

/* One path to the pool, one line back.  The pool bounds a client's wait in
 * its queue and its filter's answer by contentfilter-timeout each, so the
 * session waits for both and a second more.  1 with *reply, else 0 and why;
 * -1: no pool, the session's own filter is to be asked. */
static int pool_ask(const char *path, unsigned long timeout_sec, struct contentfilter_reply *reply,
		    const char **why)
{
	struct smtpd_contentfilter_state link = { 0, -1, -1, 1, BUF_INIT };
	long long deadline = conn_now_ms() + (long long)timeout_sec * 2000 + 1000;
	struct buf line = BUF_INIT, out = BUF_INIT;
	int r, ok = 0;

	if ((r = pool_connect(timeout_sec, &link.from_fd)) <= 0) {
		*why = "pool-connect";
		return r == 0 ? -1 : 0;
	}
	xbuf_catf(&out, "%s\n", path);
	if (!file_write_all(link.from_fd, out.data, out.len))
		*why = "pool-write";
	else if ((r = filter_read_line(&link, deadline, &line)) != 1)
		*why = r == -1 ? "timeout" : "pool-eof";
	else if (line.data[0] == '#')
		*why = "pool";   /* "#fail <reason>": the pool logged the reason */
	else if (!(ok = smtpd_contentfilter_parse_reply(line.data, line.len, reply)))
		*why = "bad-reply";
	close(link.from_fd);
	buf_free(&link.in);
	buf_free(&line);
	buf_free(&out);
	return ok;
}

/* Sends the path and reads the answer.  1 with *reply, else 0 and why. */
static int filter_ask(struct smtp_session *s, const char *program, const char *path, unsigned long timeout_sec,
		      struct contentfilter_reply *reply, const char **why)
{
	long long deadline = conn_now_ms() + (long long)timeout_sec * 1000;
	struct buf line = BUF_INIT, out = BUF_INIT;
	int r = 1, ok = 0;

	if (!s->filter && (r = pool_ask(path, timeout_sec, reply, why)) >= 0)
		return r;
	r = 1;
	if (!s->filter && !filter_start(s, program))
		return *why = "spawn", 0;
	while (!s->filter->hungry && (r = filter_read_line(s->filter, deadline, &line)) == 1)
		if (strcmp(line.data, "#hungry") == 0)
			s->filter->hungry = 1;
	if (r != 1) {
		*why = read_failure(r);
		goto done;
	}
	xbuf_catf(&out, "%s\n", path);
	s->filter->hungry = 0;
	if (!file_write_all(s->filter->to_fd, out.data, out.len)) {
		*why = "write";
		goto done;
	}
	/* Lines starting with '#' are the filter's own talk, not the answer. */
	while ((r = filter_read_line(s->filter, deadline, &line)) == 1 && line.data[0] == '#')
		if (strcmp(line.data, "#hungry") == 0)
			s->filter->hungry = 1;
	if (r != 1)
		*why = read_failure(r);
	else if (!(ok = smtpd_contentfilter_parse_reply(line.data, line.len, reply)))
		*why = "bad-reply";
done:
	buf_free(&line);
	buf_free(&out);
	return ok;
}

/* PARAM contentfilter and its companions: the program, or NULL when off. */
static const char *filter_program(struct smtp_session *s, unsigned long *timeout_sec)
{
	const char *program = smtpserver_conf_get(&s->conf, "contentfilter");
	const char *maxpar = smtpserver_conf_get(&s->conf, "contentfilter-maxpar");
	const char *timeout = smtpserver_conf_get(&s->conf, "contentfilter-timeout");

	*timeout_sec = SMTPD_CONTENTFILTER_TIMEOUT_DEFAULT_SEC;
	if (!program || !*program || (maxpar && strcmp(maxpar, "0") == 0))
		return NULL;
	if (timeout && (!config_parse_duration(timeout, timeout_sec) || !*timeout_sec)) {
		log_warn("PARAM contentfilter-timeout %s: not a duration; %d s used", timeout,
			 SMTPD_CONTENTFILTER_TIMEOUT_DEFAULT_SEC);
		*timeout_sec = SMTPD_CONTENTFILTER_TIMEOUT_DEFAULT_SEC;
	}
	return program;
}

/* The copy the filter reads: the message without the envelope record. */
static int copy_write(const char *path, const struct envelope *e)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	int ok;

	if (fd < 0)
		return 0;
	ok = file_write_all(fd, e->message, e->message_len);
	return close(fd) == 0 && ok;
}

/* The spool file bound for spool/freezer/<id> instead: written again (a
 * spool file's destination is fixed when it is created). */
static int spool_freeze(struct smtp_session *s, const struct envelope *e)
{
	struct smtp_sink *k = &s->sink;
	char dir[PATH_MAX];

	if (!home_path(dir, sizeof dir, SPOOL_FREEZER_DIR) || (mkdir(dir, home_dir_mode()) != 0 && errno != EEXIST))
		return 0;
	spool_file_abort(&k->file);
	k->active = spool_file_create(&k->file, SPOOL_FREEZER_DIR, s->id);
	return k->active && spool_file_write(&k->file, e->storage.data, e->storage.len);
}

/* The filter failed: it is killed (a new one starts for the next message)
 * and the message tempfailed. */
static int filter_failed(struct smtp_session *s, const char *cmd, const char *why)
{
	log_warn("id=%s event=contentfilter-fail reason=%s: filter stopped", s->id, why);
	filter_stop(s, 1);
	smtp_reply(s, 451, "4.7.1", "Content filter unavailable, try again later");
	smtp_log_reject(s, cmd, 451, "4.7.1", "contentfilter");
	return 1;
}

static int verdict_apply(struct smtp_session *s, const char *cmd, const struct contentfilter_reply *r,
			 const struct envelope *e)
{
	if (r->action == CONTENTFILTER_REJECT) {
		if (r->code)
			smtp_reply(s, r->code, r->enhanced, "%s", r->text);
		else
			smtp_reply(s, 550, "5.7.1", "Message refused by the content filter");
		smtp_log_reject(s, cmd, r->code ? r->code : 550, r->code ? r->enhanced : "5.7.1", "contentfilter");
		return 1;
	}
	if (r->action == CONTENTFILTER_ACCEPT)
		return 0;
	if (!spool_freeze(s, e)) {
		log_warn("id=%s unable to write %s/%s: %s", s->id, SPOOL_FREEZER_DIR, s->id, strerror(errno));
		smtp_reply(s, 451, "4.3.0", "Temporary local problem, try again later");
		smtp_log_reject(s, cmd, 451, "4.3.0", "freeze-failed");
		return 1;
	}
	log_notice("id=%s event=frozen ip=%s: bound for %s", s->id, s->remote_ip, SPOOL_FREEZER_DIR);
	return 0;
}

int smtpd_contentfilter_finish(struct smtp_session *s, const char *cmd)
{
	struct contentfilter_reply reply;
	struct envelope e;
	char name[SPOOL_ID_MAX_BYTES + 32], path[PATH_MAX];
	const char *program, *why = "io";
	unsigned long timeout_sec;
	int refused;

	if (!(program = filter_program(s, &timeout_sec)))
		return 0;
	envelope_init(&e);
	snprintf(name, sizeof name, "%s/%s.filter", SPOOL_TMP_DIR, s->id);
	if (!home_path(path, sizeof path, name) || !spool_file_start(&s->sink.file)
	    || !file_read_path(s->sink.file.tmp_path, &e.storage) || !envelope_parse(&e) || !copy_write(path, &e)) {
		log_warn("id=%s unable to write the content filter's copy: %s", s->id, strerror(errno));
		smtp_reply(s, 451, "4.3.0", "Temporary local problem, try again later");
		smtp_log_reject(s, cmd, 451, "4.3.0", "contentfilter-io");
		refused = 1;
	} else if (!filter_ask(s, program, path, timeout_sec, &reply, &why)) {
		refused = filter_failed(s, cmd, why);
	} else {
		refused = verdict_apply(s, cmd, &reply, &e);
	}
	unlink(path);
	envelope_free(&e);
	return refused;
}
