/* Fuzzes a whole POP3 session of pop3d: the command loop and every handler
 * (USER/PASS, APOP, AUTH, CAPA, STLS refused as no key exists, STAT, LIST,
 * UIDL, RETR, TOP, DELE, RSET, NOOP, QUIT and its UPDATE state) against a
 * real user database and a Maildir for demo holding three messages (one
 * in cur/ already seen, one marked as spam, one with lines that need
 * dot-stuffing), put back as it was before every input.
 *
 * One input is the bytes a client sends, after one leading byte whose bits
 * 0-1 pick the client address (127.0.0.1, 127.0.0.3, ::1, or none: a
 * pipe's "local") and bit 2 turns DEBUG_POP3 on.  fd 0 and fd 1 are memfds,
 * so EOF comes at once and no write waits, and the session runs in this
 * process as pop3d's main() runs it.
 * main.c is compiled in (its main renamed) for its static session_setup
 * and session_end and to register STLS and AUTH once (a static table); the
 * other pop3d sources are linked as objects built for the fuzz build.
 *
 * What must hold, beyond no crash, leak or undefined behaviour: the session
 * returns (an exit() is a finding), holds no descriptor after it, and its
 * output, read against the commands sent, is one status line per command
 * line ("+OK", "-ERR", or a SASL "+ " challenge), each at most 512 octets
 * with CRLF, where a +OK to CAPA, AUTH, LIST or UIDL without argument,
 * RETR or TOP is followed by a body of CRLF lines, dot-stuffed, ended by
 * ".\r\n" (a list's lines as short as a status line; a message's as
 * stored, where a bare CR goes out as it is), and nothing comes after the
 * last reply. */
#define main pop3d_main
#include "../src/pop3d/main.c"
#undef main
#include "session-harness.h"
#include <stdint.h>
#include <strings.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define POP3_STATUS_LINE_MAX_BYTES 512   /* RFC 2449 §4: 512 octets, CRLF included */

static const char *const client_ip[4] = { "127.0.0.1", "127.0.0.3", "::1", NULL };

/* demo's Maildir as it is before every input. */
static const struct {
	const char *name, *text;
} messages[] = {
	{ "new/1700000000.M1P1.fuzz", "From: alice@example.org\nSubject: first\n\nhello\n.starts with a dot\n..two\n.\n" },
	{ "new/1700000100.M2P1.fuzz,S=49", "Subject: spam\nX-Spam-Flag: YES\n\nbuy now\r\nand\rthen\n" },
	{ "cur/1700000200.M3P1.fuzz:2,S", "Subject: seen\n\nline1\nline2\nline3\nline4\n" },
};
/* No waits after a failed login (LoginAttemptDelay, Throttle), and no
 * address put on ip.can; LogLevel Error keeps the fuzzer's output
 * readable.  The second logs every command and reply (at debug level, so
 * the lines are built and then dropped). */
#define MAIL_INI_COMMON "[mail]\nHostName = localhost\nMaxInactivity = 2\nMaxSessionTime = 10\n" \
	"DNSServer = 127.0.0.1:1\nLogLevel = Error\nLoginAttemptDelay = 0\nLoginAttemptThrottle = 0\n" \
	"LoginAttemptTempBanThreshold = 6\nLoginAttemptFilterThreshold = 0\n"
static const char *const mail_ini[2] = {
	MAIL_INI_COMMON "Options = ALLOW_POP3\n",
	MAIL_INI_COMMON "Options = ALLOW_POP3 | DEBUG_POP3\n",
};
static int ini_current = -1;
static char mailbox[4200];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	log_set_program("pop3d");
	fuzz_home_make("pop3");
	fuzz_config_pick("etc/mail.ini", mail_ini, &ini_current, 0);
	fuzz_write_file("etc/smtpserver.conf", "PARAM AUTH-LOGIN-also-without-TLS\n");
	snprintf(mailbox, sizeof mailbox, "%s/%s/2", fuzz_home, SPOOL_MAILBOX_DIR);
	fuzz_keep_under = mailbox;
	fuzz_snapshot_take();
	fuzz_fds_init();
	signal(SIGPIPE, SIG_IGN);
	pop3_tls_register();
	pop3_auth_register();
	return 0;
}

/* Removes demo's Maildir (whatever the last session did to it) and writes
 * it again. */
static void mailbox_restore(void)
{
	static const char *const dirs[] = { "", "/new", "/cur", "/tmp" };
	char path[4400];
	size_t i;
	FILE *f;

	(void)nftw(mailbox, fuzz_remove_one, 16, FTW_PHYS | FTW_DEPTH);
	for (i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
		snprintf(path, sizeof path, "%s%s", mailbox, dirs[i]);
		if (mkdir(path, 0700) != 0)
			abort();
	}
	for (i = 0; i < sizeof messages / sizeof messages[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", mailbox, messages[i].name);
		if (!(f = fopen(path, "w")) || fputs(messages[i].text, f) < 0 || fclose(f) != 0)
			abort();
	}
}

/* main() after the registrations, for one plain-text connection. */
static void session_run(void)
{
	static struct pop3_session s;

	die_set_hook(pop3_die_hook);
	session_setup(&s);
	die_session = &s;
	if (!(s.cfg.options & MAIL_OPTION(ALLOW_POP3)))
		pop3_err(&s, "[SYS/PERM] POP3 is not enabled on this server");
	else if (pop3_admit_client(&s)) {
		pop3_ok(&s, "bbsmail POP3 server ready %s", s.timestamp);
		pop3_session_run(&s);
	}
	session_end(&s);
	die_session = NULL;
}

/* Reads one reply line at *p; traps unless it ends in CRLF, and for a
 * status line (not content, which is sent as stored) holds no other CR.
 * Returns its length with the CRLF. */
static size_t reply_line(const char *p, const char *end, int content)
{
	const char *e = fuzz_line_end(p, end);
	size_t n = (size_t)(e - p) + 1;

	if (e == end || n < 2 || e[-1] != '\r' || (!content && memchr(p, '\r', n - 2)))
		__builtin_trap();
	return n;
}

/* A status line, at most 512 octets: +OK, -ERR, or "+ " (SASL). */
static int status_is(const char *p, size_t n, const char *status)
{
	size_t k = strlen(status);

	return n >= k + 2 && memcmp(p, status, k) == 0 && (p[k] == ' ' || p[k] == '\r');
}

/* The body after a multi-line +OK: CRLF lines, a leading dot doubled,
 * up to ".\r\n"; a list (not a message) has status-sized lines with no
 * bare CR.  Returns where it ends. */
static const char *body_check(const char *p, const char *end, int content)
{
	size_t n;

	for (;;) {
		if (p >= end)
			__builtin_trap();   /* a body never ended */
		n = reply_line(p, end, content);
		if (!content && n > POP3_STATUS_LINE_MAX_BYTES)
			__builtin_trap();
		if (n == 3 && p[0] == '.')
			return p + n;
		if (p[0] == '.' && p[1] != '.')
			__builtin_trap();   /* not dot-stuffed */
		p += n;
	}
}

/* Does a +OK to this command line start a body: 2 a message (RETR, TOP),
 * 1 a list, 0 none?  The split is pop3d's: verb up to the first space, the
 * argument without surrounding blanks. */
static int command_multiline(const char *line, size_t len)
{
	const char *sp = memchr(line, ' ', len), *arg = NULL;
	size_t verb = sp ? (size_t)(sp - line) : len, alen = 0;

	if (sp) {
		arg = sp + 1;
		alen = len - verb - 1;
		while (alen && *arg == ' ')
			arg++, alen--;
		while (alen && (arg[alen - 1] == ' ' || arg[alen - 1] == '\t'))
			alen--;
	}
#define IS(v) (verb == sizeof v - 1 && strncasecmp(line, v, verb) == 0)
	if (IS("RETR") || IS("TOP"))
		return 2;
	if (IS("CAPA"))
		return 1;
	return (IS("LIST") || IS("UIDL") || IS("AUTH")) && !alen;
#undef IS
}

/* Walks the commands sent and the replies together. */
static void replies_check(const char *in, size_t in_len, const char *out, size_t out_len)
{
	const char *p = out, *end = out + out_len, *c = in, *cend = in + in_len, *lf;
	size_t n, len;
	int sasl = 0, multi;

	if (p == end)
		return;
	n = reply_line(p, end, 0);
	if (!status_is(p, n, "+OK") && !status_is(p, n, "-ERR"))
		__builtin_trap();
	p += n;
	while (p < end) {
		if (c >= cend || !(lf = memchr(c, '\n', (size_t)(cend - c))))
			__builtin_trap();   /* a reply to no command */
		len = (size_t)(lf - c) + 1;
		multi = 0;
		if (len <= POP3_LINE_MAX_BYTES && !sasl) {
			len -= 1 + (len > 1 && lf[-1] == '\r');
			multi = command_multiline(c, len);
		}
		c = lf + 1;
		n = reply_line(p, end, 0);
		if (n > POP3_STATUS_LINE_MAX_BYTES)
			__builtin_trap();
		sasl = status_is(p, n, "+");
		if (!sasl && !status_is(p, n, "+OK") && !status_is(p, n, "-ERR"))
			__builtin_trap();
		p += n;
		if (multi && status_is(p - n, n, "+OK"))
			p = body_check(p, end, multi == 2);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *out;
	size_t len;

	if (!size)
		return 0;
	if (client_ip[data[0] & 3])
		setenv("TCPREMOTEIP", client_ip[data[0] & 3], 1);
	else
		unsetenv("TCPREMOTEIP");
	fuzz_config_pick("etc/mail.ini", mail_ini, &ini_current, (data[0] >> 2) & 1);
	mailbox_restore();
	fuzz_fd_probe();
	fuzz_fds_begin(data + 1, size - 1);
	session_run();
	out = fuzz_fds_end(&len);
	fuzz_dump(out, len);
	replies_check((const char *)data + 1, size - 1, out, len);
	free(out);
	fuzz_fd_check();
	fuzz_clean();
	return 0;
}
