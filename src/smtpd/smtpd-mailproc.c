#include "smtpd-mailproc.h"
#include "conn.h"
#include "envelope.h"
#include "file.h"
#include "home.h"
#include "listfile.h"
#include "log.h"
#include "progspawn.h"
#include "smtpd-reply.h"
#include "smtpd-rewrite.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* What a failed program (crash, timeout, an exit status or output outside
 * the protocol) means for the message. */
enum mailproc_onerror { ONERROR_TEMPFAIL = 0, ONERROR_PASS, ONERROR_REJECT };

struct mailproc {
	char *argv[SMTPD_MAILPROC_ARGS_MAX + 2];  /* program, its words, the file, NULL */
	size_t argc;
	int unauth_only;
	unsigned long timeout_sec;
	enum mailproc_onerror onerror;
	unsigned long line;
	struct buf words;            /* owns the argv strings */
	char program[PATH_MAX];      /* argv[0] made absolute */
};

/* One program's answer. */
enum mailproc_verdict { VERDICT_PASS, VERDICT_SPAM, VERDICT_REJECT, VERDICT_FAILED };

struct mailproc_run {
	enum mailproc_verdict verdict;
	int code;
	char enhanced[16];
	char text[SMTPD_MAILPROC_REPLY_TEXT_MAX_BYTES + 1];
	char why[64];                /* of a failure, for the log */
};

/* ---- etc/mailproc.cfg ---------------------------------------------------- */

/* The next word of p (blank separated; "..." keeps blanks, with \" and \\)
 * appended to out with its NUL.  1 a word, 0 none left, -1 malformed. */
static int next_word(const char **p, struct buf *out)
{
	const char *q = *p;

	while (*q == ' ' || *q == '\t')
		q++;
	if (!*q)
		return 0;
	if (*q != '"') {
		while (*q && *q != ' ' && *q != '\t')
			xbuf_catc(out, *q++);
	} else {
		for (q++; *q != '"'; q++) {
			if (!*q)
				return -1;
			if (*q == '\\' && (q[1] == '"' || q[1] == '\\'))
				q++;
			xbuf_catc(out, *q);
		}
		q++;
		if (*q && *q != ' ' && *q != '\t')
			return -1;
	}
	xbuf_catc(out, '\0');
	*p = q;
	return 1;
}

/* An option word before the program: 1 understood, 0 not. */
static int option_word(struct mailproc *m, const char *w)
{
	if (strcmp(w, "unauth") == 0)
		m->unauth_only = 1;
	else if (strncmp(w, "timeout=", 8) == 0)
		return config_parse_duration(w + 8, &m->timeout_sec) && m->timeout_sec > 0;
	else if (strcmp(w, "onerror=tempfail") == 0)
		m->onerror = ONERROR_TEMPFAIL;
	else if (strcmp(w, "onerror=pass") == 0)
		m->onerror = ONERROR_PASS;
	else if (strcmp(w, "onerror=reject") == 0)
		m->onerror = ONERROR_REJECT;
	else
		return 0;
	return 1;
}

/* "[option...] program [word...]": the program is the first word with a
 * '/'.  1 ok, 0 malformed (why says what). */
static int line_parse(struct mailproc *m, const char *line, const char **why)
{
	size_t offsets[SMTPD_MAILPROC_ARGS_MAX + 1], n = 0, start, i;
	int r, seen_program = 0;

	while ((start = m->words.len, r = next_word(&line, &m->words)) > 0) {
		const char *w = m->words.data + start;

		if (!seen_program && !strchr(w, '/')) {
			if (!option_word(m, w))
				return *why = "unknown option or a program without a '/'", 0;
			buf_truncate(&m->words, start);
			continue;
		}
		seen_program = 1;
		if (n == SMTPD_MAILPROC_ARGS_MAX + 1)
			return *why = "too many words", 0;
		offsets[n++] = start;
	}
	if (r < 0)
		return *why = "unterminated or misplaced quote", 0;
	if (!n)
		return *why = "no program", 0;
	for (i = 0; i < n; i++)
		m->argv[i] = m->words.data + offsets[i];
	m->argc = n;
	if (m->argv[0][0] != '/') {
		/* relative to the home, as every path of the configuration */
		if (!home_path(m->program, sizeof m->program, m->argv[0]))
			return *why = "program path too long", 0;
		m->argv[0] = m->program;
	}
	return 1;
}

static void procs_free(struct mailproc *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		buf_free(&p[i].words);
	free(p);
}

/* The programs in order; a bad line is logged and skipped.  1 ok (*n may
 * be 0), 0 the file cannot be read (logged). */
static int procs_load(struct mailproc **out, size_t *n)
{
	struct listfile lf;
	struct mailproc *p = NULL, *grown;
	char *line, error[PATH_MAX + 64];
	const char *why;
	int r;

	*n = 0;
	if (!listfile_open_home(&lf, SMTPD_MAILPROC_FILE, LISTFILE_COMMENT_HASH | LISTFILE_COMMENT_SEMICOLON))
		goto fail;
	while ((r = listfile_next(&lf, &line, NULL)) > 0) {
		if (!(grown = realloc(p, (*n + 1) * sizeof *p)))
			die_nomem();
		p = grown;
		memset(&p[*n], 0, sizeof p[*n]);
		p[*n].timeout_sec = SMTPD_MAILPROC_TIMEOUT_DEFAULT_SEC;
		p[*n].line = lf.line_number;
		if (line_parse(&p[*n], line, &why))
			(*n)++;
		else {
			log_warn("%s:%lu: %s: line ignored", SMTPD_MAILPROC_FILE, lf.line_number, why);
			buf_free(&p[*n].words);
		}
	}
	if (r < 0)
		goto fail;
	listfile_close(&lf);
	*out = p;
	return 1;
fail:
	listfile_error_text(&lf, error, sizeof error);
	log_warn("%s", error);
	listfile_close(&lf);
	procs_free(p, *n);
	return 0;
}

/* ---- the reply a program gives --------------------------------------- */

int smtpd_mailproc_parse_reply(const char *line, size_t len, int want, int *code, char enhanced[16],
			       char text[SMTPD_MAILPROC_REPLY_TEXT_MAX_BYTES + 1])
{
	size_t i = 4, e = 0, t = 0, dots = 0, digits = 0;

	if (len < 10 || line[0] != '0' + want || line[1] < '0' || line[1] > '9' || line[2] < '0' || line[2] > '9'
	    || line[3] != ' ' || line[4] != line[0] || line[5] != '.')
		return 0;
	*code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	/* RFC 3463 §2: class.subject.detail, 1-3 digits each after the class. */
	for (; i < len && line[i] != ' '; i++) {
		if (line[i] == '.') {
			if (digits == 0 && i > 4)
				return 0;
			dots++;
			digits = 0;
		} else if (line[i] >= '0' && line[i] <= '9' && ++digits <= 3 && e < 15) {
		} else {
			return 0;
		}
		enhanced[e++] = line[i];
	}
	if (dots != 2 || digits == 0 || i >= len)
		return 0;
	enhanced[e] = '\0';
	for (i++; i < len && t < SMTPD_MAILPROC_REPLY_TEXT_MAX_BYTES; i++)
		text[t++] = line[i] >= 0x20 && line[i] < 0x7f ? line[i] : '?';
	text[t] = '\0';
	return t > 0;
}

/* ---- running one program --------------------------------------------- */

static void env_add(struct buf *env, size_t *offsets, size_t *n, const char *name, const char *value)
{
	offsets[(*n)++] = env->len;
	xbuf_catf(env, "%s=%s", name, value ? value : "");
	xbuf_catc(env, '\0');
}

/* The envelope, for the program's environment: nothing else of smtpd's. */
static void env_build(struct smtp_session *s, struct buf *env, char **envp)
{
	struct buf rcpt = BUF_INIT;
	size_t offsets[16], n = 0, i, count = 0;
	char number[32];

	for (i = 0; i < s->rcpt_count; i++) {
		if (!s->rcpt[i].mail)
			continue;
		if (count++)
			xbuf_catc(&rcpt, '\n');
		xbuf_cats(&rcpt, s->rcpt[i].address);
	}
	snprintf(number, sizeof number, "%zu", count);
	env_add(env, offsets, &n, "PATH", "/usr/local/bin:/usr/bin:/bin");
	env_add(env, offsets, &n, "MAIL_FROM", s->sender.data);
	env_add(env, offsets, &n, "RCPT_TO", rcpt.data);
	env_add(env, offsets, &n, "RCPT_COUNT", number);
	env_add(env, offsets, &n, "CLIENT_IP", s->remote_ip);
	env_add(env, offsets, &n, "CLIENT_HOST", s->remote_host);
	env_add(env, offsets, &n, "CLIENT_HELO", s->helo.data);
	env_add(env, offsets, &n, "AUTH_USER", s->auth_user.len ? s->auth_user.data : "");
	env_add(env, offsets, &n, "MESSAGE_ID", s->id);
	env_add(env, offsets, &n, "PROTOCOL", session_protocol(s));
	for (i = 0; i < n; i++)
		envp[i] = env->data + offsets[i];
	envp[n] = NULL;
	buf_free(&rcpt);
}

/* Reads the program's output until EOF or the deadline; only the first
 * SMTPD_MAILPROC_STDOUT_MAX_BYTES are kept.  1 EOF, 0 deadline. */
static int output_read(int fd, long long deadline_ms, struct buf *out)
{
	char chunk[4096];
	struct pollfd pfd = { fd, POLLIN, 0 };
	long long left;
	ssize_t r;

	for (;;) {
		left = deadline_ms - conn_now_ms();
		if (left <= 0)
			return 0;
		if (poll(&pfd, 1, left > 1000 ? 1000 : (int)left) < 0 && errno != EINTR)
			return 0;
		if (!pfd.revents)
			continue;
		r = read(fd, chunk, sizeof chunk);
		if (r == 0)
			return 1;
		if (r < 0 && errno != EINTR && errno != EAGAIN)
			return 1;
		if (r > 0 && out->len < SMTPD_MAILPROC_STDOUT_MAX_BYTES)
			xbuf_cat(out, chunk,
				 (size_t)r < SMTPD_MAILPROC_STDOUT_MAX_BYTES - out->len ? (size_t)r
											 : SMTPD_MAILPROC_STDOUT_MAX_BYTES - out->len);
	}
}

/* Waits for the child until the deadline, then kills its group.  1 with
 * *status, 0 timed out (killed and reaped). */
static int child_wait(pid_t pid, long long deadline_ms, int *status)
{
	/* A pidfd becomes readable when the child exits: the wait costs no
	 * polling delay.  Without one (an old kernel), short naps that grow. */
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);
	long nap_ns = 1000 * 1000;
	pid_t r;

	while (conn_now_ms() < deadline_ms) {
		r = waitpid(pid, status, WNOHANG);
		if (r == pid || (r < 0 && errno != EINTR)) {
			if (r != pid)
				*status = 0;
			if (fd >= 0)
				close(fd);
			return 1;
		}
		if (fd >= 0) {
			if (!conn_poll_until(fd, POLLIN, deadline_ms) && errno != ETIMEDOUT)
				close(fd), fd = -1;
		} else {
			struct timespec pause = { 0, nap_ns };
			nanosleep(&pause, NULL);
			if (nap_ns < 20 * 1000 * 1000)
				nap_ns *= 2;
		}
	}
	if (fd >= 0)
		close(fd);
	kill(-pid, SIGKILL);
	kill(pid, SIGKILL);
	while (waitpid(pid, status, 0) < 0 && errno == EINTR)
		;
	return 0;
}

/* The exit status and the first line of output, as the protocol reads them. */
static void judge(int status, const struct buf *out, struct mailproc_run *run)
{
	size_t len = out->len;
	const char *nl = out->len ? memchr(out->data, '\n', out->len) : NULL;
	int exit_code, want;

	if (nl)
		len = (size_t)(nl - out->data);
	if (len && out->data[len - 1] == '\r')
		len--;
	if (WIFSIGNALED(status)) {
		run->verdict = VERDICT_FAILED;
		snprintf(run->why, sizeof run->why, "signal-%d", WTERMSIG(status));
		return;
	}
	exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	if (exit_code == MAILPROC_EXIT_PASS || exit_code == MAILPROC_EXIT_SPAM) {
		run->verdict = exit_code == MAILPROC_EXIT_PASS ? VERDICT_PASS : VERDICT_SPAM;
		return;
	}
	if (exit_code != MAILPROC_EXIT_REJECT && exit_code != MAILPROC_EXIT_TEMPFAIL) {
		run->verdict = VERDICT_FAILED;
		snprintf(run->why, sizeof run->why, "exit-%d", exit_code);
		return;
	}
	want = exit_code == MAILPROC_EXIT_REJECT ? 5 : 4;
	run->verdict = VERDICT_REJECT;
	if (!len) {
		run->code = want == 5 ? 554 : 451;
		snprintf(run->enhanced, sizeof run->enhanced, "%s", want == 5 ? "5.7.1" : "4.7.1");
		snprintf(run->text, sizeof run->text, "%s", "Message refused by a content check");
	} else if (!smtpd_mailproc_parse_reply(out->data, len, want, &run->code, run->enhanced, run->text)) {
		run->verdict = VERDICT_FAILED;
		snprintf(run->why, sizeof run->why, "bad-reply");
	}
}

static void proc_run(struct smtp_session *s, struct mailproc *m, const char *path, struct mailproc_run *run)
{
	struct buf env = BUF_INIT, out = BUF_INIT;
	char *envp[16];
	int fds[2], status = 0, eof;
	long long deadline = conn_now_ms() + (long long)m->timeout_sec * 1000;
	pid_t pid;

	memset(run, 0, sizeof *run);
	m->argv[m->argc] = (char *)path;
	m->argv[m->argc + 1] = NULL;
	env_build(s, &env, envp);
	if (pipe2(fds, O_CLOEXEC) != 0) {
		pid = -1;
	} else if ((pid = spawn_program(m->argv[0], m->argv, envp, -1, fds[1])) < 0) {
		log_warn("unable to run %s: %s", m->argv[0], strerror(errno));
		close(fds[0]);
		close(fds[1]);
	}
	if (pid < 0) {
		run->verdict = VERDICT_FAILED;
		snprintf(run->why, sizeof run->why, "spawn");
		buf_free(&env);
		return;
	}
	close(fds[1]);
	eof = output_read(fds[0], deadline, &out);
	close(fds[0]);
	if (!child_wait(pid, eof ? deadline : 0, &status)) {
		run->verdict = VERDICT_FAILED;
		snprintf(run->why, sizeof run->why, "timeout");
	} else {
		judge(status, &out, run);
	}
	buf_free(&env);
	buf_free(&out);
}

/* ---- the message copy ------------------------------------------------- */

/* The copy a program sees: spool/tmp/<id>.proc, mode 0600, created
 * exclusively.  1 ok, 0 errno. */
static int copy_write(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	int ok;

	if (fd < 0)
		return 0;
	ok = file_write_all(fd, data, len);
	if (close(fd) != 0)
		ok = 0;
	return ok;
}

/* The copy after a program: a regular file, read without following a
 * link.  1 ok, 0 errno. */
static int copy_read(const char *path, unsigned long long max_bytes, struct buf *out)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	int ok;

	if (fd < 0)
		return 0;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (unsigned long long)st.st_size > max_bytes) {
		close(fd);
		errno = EFBIG;
		return 0;
	}
	buf_truncate(out, 0);
	ok = file_read_fd(fd, out);
	close(fd);
	return ok;
}

/* ---- the chain --------------------------------------------------------- */

struct chain {
	char path[PATH_MAX];
	char scratch_name[SPOOL_ID_MAX_BYTES + 32];
	struct buf current;          /* the message as the last good program left it */
	struct buf scratch;
	unsigned long long max_bytes;
	int changed, spam;
	int tagged_before;           /* the DNSBL had tagged it */
};

/* After one program: keep its rewrite when it obeys the rules, else put
 * the last good copy back for the next program (logged). */
static void chain_take_rewrite(struct smtp_session *s, struct chain *c, const struct mailproc *m)
{
	const char *bad = NULL;

	if (!copy_read(c->path, c->max_bytes, &c->scratch))
		bad = errno == EFBIG ? "too-big" : "unreadable";
	else if (c->scratch.len == c->current.len && memcmp(c->scratch.data, c->current.data, c->current.len) == 0)
		return;
	else
		bad = smtpd_rewrite_check(&c->scratch);
	if (!bad) {
		if (!buf_copy(&c->current, c->scratch.data, c->scratch.len))
			die_nomem();
		c->changed = 1;
		log_info("id=%s event=mailproc-rewrite line=%lu size=%zu", s->id, m->line, c->current.len);
		return;
	}
	log_warn("id=%s event=mailproc-bad-rewrite line=%lu program=%s reason=%s: rewrite ignored", s->id, m->line,
		 m->argv[0], bad);
	if (!copy_write(c->path, c->current.data, c->current.len))
		log_warn("id=%s unable to restore %s: %s", s->id, c->path, strerror(errno));
}

/* One program's verdict applied: 1 the message is refused (replied). */
static int chain_step(struct smtp_session *s, const char *cmd, struct chain *c, struct mailproc *m)
{
	struct mailproc_run run;

	proc_run(s, m, c->path, &run);
	if (run.verdict == VERDICT_FAILED) {
		log_warn("id=%s event=mailproc-fail line=%lu program=%s reason=%s onerror=%s", s->id, m->line,
			 m->argv[0], run.why,
			 m->onerror == ONERROR_PASS ? "pass" : m->onerror == ONERROR_REJECT ? "reject" : "tempfail");
		if (m->onerror == ONERROR_PASS)
			return 0;
		run.code = m->onerror == ONERROR_REJECT ? 554 : 451;
		snprintf(run.enhanced, sizeof run.enhanced, "%s", m->onerror == ONERROR_REJECT ? "5.7.1" : "4.3.0");
		snprintf(run.text, sizeof run.text, "%s",
			 m->onerror == ONERROR_REJECT ? "Message refused by a content check"
						      : "Temporary local problem, try again later");
		run.verdict = VERDICT_REJECT;
	}
	if (run.verdict == VERDICT_REJECT) {
		smtp_reply(s, run.code, run.enhanced, "%s", run.text);
		smtp_log_reject(s, cmd, run.code, run.enhanced, "mailproc");
		return 1;
	}
	if (run.verdict == VERDICT_SPAM && !c->spam) {
		c->spam = 1;
		log_notice("id=%s event=mailproc-spam line=%lu program=%s", s->id, m->line, m->argv[0]);
	}
	chain_take_rewrite(s, c, m);
	return 0;
}

static int chain_finish(struct smtp_session *s, struct chain *c, const char *head, size_t head_len)
{
	struct buf stored = BUF_INIT;
	int ok;

	if (!c->changed && (!c->spam || c->tagged_before))
		return 1;
	smtpd_rewrite_retag(&c->current, c->spam || c->tagged_before, &stored);
	ok = smtpd_rewrite_rebuild(s, head, head_len, &stored);
	buf_free(&stored);
	return ok;
}

int smtpd_mailproc_finish(struct smtp_session *s, const char *cmd)
{
	struct mailproc *procs = NULL;
	struct envelope e;
	struct chain c = { .current = BUF_INIT, .scratch = BUF_INIT };
	size_t n, i, head_len = 0;
	int refused = 0, ok;

	if (!procs_load(&procs, &n)) {
		smtp_reply(s, 451, "4.3.0", "Temporary local problem, try again later");
		smtp_log_reject(s, cmd, 451, "4.3.0", "mailproc-config");
		return 1;
	}
	if (!n)
		return 0;
	envelope_init(&e);
	snprintf(c.scratch_name, sizeof c.scratch_name, "%s/%s.proc", SPOOL_TMP_DIR, s->id);
	ok = home_path(c.path, sizeof c.path, c.scratch_name) && smtpd_rewrite_split(s, &e, &head_len) && buf_copy(&c.current, e.message, e.message_len)
	     && copy_write(c.path, c.current.data, c.current.len);
	c.tagged_before = ok && smtpd_rewrite_has_spam_flag(&c.current);
	c.max_bytes = s->max_size ? s->max_size : ~0ULL;
	for (i = 0; ok && !refused && i < n; i++)
		if (!procs[i].unauth_only || !(s->auth_user.len || s->auth_via_ip))
			refused = chain_step(s, cmd, &c, &procs[i]);
	ok = ok && (refused || chain_finish(s, &c, e.storage.data, head_len));
	if (!ok) {
		log_warn("id=%s unable to run the mail processors: %s", s->id, strerror(errno));
		smtp_reply(s, 451, "4.3.0", "Temporary local problem, try again later");
		smtp_log_reject(s, cmd, 451, "4.3.0", "mailproc-io");
		refused = 1;
	}
	unlink(c.path);
	envelope_free(&e);
	buf_free(&c.current);
	buf_free(&c.scratch);
	procs_free(procs, n);
	return refused;
}
