/* Fuzzes a whole SMTP session of smtpd: the command parser and dispatcher,
 * every handler that needs no network peer (HELO/EHLO, MAIL, RCPT against
 * the real resolver and user database, DATA and BDAT with dot-stuffing,
 * line rules and chunk sizes, AUTH PLAIN/LOGIN/CRAM-MD5, RSET, VRFY, EXPN,
 * HELP, NOOP, ETRN, SEND/SOML/SAML, STARTTLS refused as no key exists).
 *
 * One input is the bytes a client sends, after one leading byte that picks
 * the connection: bits 0-1 the client address (127.0.0.1, 127.0.0.3, ::1,
 * or 127.0.0.4, which spamblock.cfg refuses at connect), bit 2 submission
 * mode (-m), bit 3 a TCPREMOTEHOST, bit 4 the second smtpserver.conf
 * (extensions off, small limits, a hdr220 greeting).  The bytes are fd 0 (a memfd, so EOF
 * comes at once and nothing ever waits), fd 1 is a memfd too, and the
 * session runs in this process exactly as smtpd's main() runs it.
 *
 * smtpd.c is compiled in (its main renamed) so the harness can call its
 * static session_peer, greeting and session_loop and do the extension
 * registrations once, as they fill static tables; the other smtpd sources
 * are linked as objects built for the fuzz build (Makefile: FUZZ_SMTPD_OBJ),
 * so their static names cannot clash.
 *
 * What must hold, beyond no crash, leak or undefined behaviour: the session
 * returns (an exit() on client input is a finding: libFuzzer reports it);
 * every reply line is "NNN" with a code from 200 to 599, then ' ' or '-',
 * text and CRLF, at most 512 octets with its CRLF (RFC 5321 §4.5.3.1.5);
 * spool/incoming holds exactly the messages a "250 2.0.0 Ok: queued as
 * <id>" was sent for, each a spool file that envelope_load reads, under its
 * id, with 1 to MaxRecipients (8) recipients and a message with LF line
 * ends and no CR or NUL; and no descriptor stays open.  The home has no
 * DNS blacklist, spam bait, mail processor or content filter, so no
 * accepted message is dropped; smtpd's only DNS lookups are the DNSBL ones,
 * so none is made (and DNSServer is a dead loopback port besides). */
#define main smtpd_main
#include "../src/smtpd/smtpd.c"
#undef main
#include "session-harness.h"
#include "envelope.h"
#include <dirent.h>
#include <stdint.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SMTP_REPLY_LINE_MAX_BYTES 512   /* RFC 5321 §4.5.3.1.5, CRLF included */
#define QUEUED_PREFIX "250 2.0.0 Ok: queued as "

/* Both without a tarpit and without an AUTH failure limit (a sleep, and
 * state across inputs).  The first offers PLAIN and LOGIN without TLS
 * (there is no TLS here); the second turns extensions and limits down,
 * offers only CRAM-MD5, and answers VRFY and EXPN. */
static const char *const smtpserver_conf[2] = {
	"PARAM AUTH-LOGIN-also-without-TLS\nPARAM tarpit-delay-ms 0\nPARAM auth-failrate 0\n"
	"PARAM max-bad-recipients 6\n",
	"PARAM hdr220 %H ESMTP %V at %T on %i, 100%% %q%\nPARAM NoCHUNKING\nPARAM NoPIPELINING\nPARAM NoDSN\n"
	"PARAM NoETRN\nPARAM No8BITMIME\nPARAM auth-legacy-ehlo\nPARAM maxsize 2000\nPARAM RcptLimitCount 3\n"
	"PARAM max-unknown-commands 3\nPARAM max-error-recipients 1\nPARAM tarpit-delay-ms 0\n"
	"PARAM auth-failrate 0\nPARAM rcvd-auth-user\nPARAM no-rcvd-tls-mode\nPARAM VRFYcmd\nPARAM EXPNcmd\n"
	"PARAM help This is the fuzz home.\nPARAM help Second %s line\n"
	"PARAM smtp-auth-username-prompt Who?\nPARAM smtp-auth-password-prompt Secret?\n",
};
static int conf_current = -1;
static char presence[4200];
static const char *const client_ip[4] = { "127.0.0.1", "127.0.0.3", "::1", "127.0.0.4" };

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	log_set_program("smtpd");
	fuzz_home_make("smtp");
	/* LogLevel Error: the info line of every event would drown the
	 * fuzzer's own output.  Short timeouts only matter if a read waited,
	 * which a memfd never does. */
	fuzz_write_file("etc/mail.ini", "[mail]\nHostName = localhost\nMaxInactivity = 2\nMaxSessionTime = 10\n"
					"Options = ALLOW_POP3 | ALLOW_SYSOP_ALIASES | NO_SENDMAIL | ALLOW_RELAY\n"
					"DNSServer = 127.0.0.1:1\nLogLevel = Error\nMaxMsgSize = 64K\n"
					"MaxRecipients = 8\n");
	fuzz_config_pick("etc/smtpserver.conf", smtpserver_conf, &conf_current, 0);
	fuzz_write_file("etc/spamblock.cfg", "127.0.0.4\n");
	fuzz_write_file("etc/email.can", "blocked@example.com\n");
	fuzz_write_file("etc/subject.can", "*forbidden*\n");
	fuzz_write_file("etc/alias.cfg", "postmaster sysop\nlist demo\n");
	/* sysop is on line, so SEND/SOML/SAML to sysop write a telegram. */
	fuzz_write_file("spool/presence/1", "");
	snprintf(presence, sizeof presence, "%s/spool/presence/1", fuzz_home);
	fuzz_snapshot_take();
	fuzz_fds_init();
	signal(SIGPIPE, SIG_IGN);
	smtpd_etrn_register();
	smtpd_tls_register();
	smtpd_auth_register();
	smtpd_telegram_register();
	return 0;
}

/* main() after the registrations, for one connection (no SMTPS: there is
 * no TLS peer). */
static void session_run(int submission)
{
	static struct smtp_session session;

	session_init(&session);
	session.submission = submission;
	die_session = &session;
	die_set_hook(smtpd_die_hook);
	session_peer(&session);
	session_configure(&session);
	smtpd_submit_start(&session);
	if (smtpd_lists_connect(&session) && smtpd_dnsbl_connect(&session)) {
		greeting(&session);
		(void)session_loop(&session);
	}
	smtp_reply_flush(&session);
	smtpd_tls_end(&session);
	session_free(&session);
	die_session = NULL;
}

static void connection_env(uint8_t how)
{
	setenv("TCPREMOTEIP", client_ip[how & 3], 1);
	setenv("TCPLOCALIP", "127.0.0.1", 1);
	setenv("TCPLOCALPORT", (how & 4) ? "587" : "25", 1);
	if (how & 8)
		setenv("TCPREMOTEHOST", "client.example", 1);
	else
		unsetenv("TCPREMOTEHOST");
}

/* A queued message is what route will read: a spool file under its id
 * with one to MaxRecipients recipients, and a message with LF line ends
 * holding no CR or NUL (the DATA and BDAT readers refuse both). */
static void queued_check(const char *path, const char *id, size_t idlen)
{
	struct envelope e;

	envelope_init(&e);
	if (!envelope_load(path, &e))
		__builtin_trap();   /* 250 for a message that is not on disk, or unreadable */
	if (strlen(e.id) != idlen || memcmp(e.id, id, idlen) != 0 || !e.rcpt_count || e.rcpt_count > 8)
		__builtin_trap();
	if (memchr(e.message, '\r', e.message_len) || memchr(e.message, 0, e.message_len))
		__builtin_trap();
	envelope_free(&e);
}

/* Checks every reply line; returns how many said "queued as", and traps
 * unless each of those ids is a file in spool/incoming. */
static size_t replies_check(const char *out, size_t len)
{
	const char *p = out, *end = out + len, *e;
	char path[4200];
	size_t queued = 0, n;
	int code;

	while (p < end) {
		e = fuzz_line_end(p, end);
		if (e == end)
			__builtin_trap();   /* a reply without its LF */
		n = (size_t)(e - p) + 1;
		if (n > SMTP_REPLY_LINE_MAX_BYTES || n < 6 || e[-1] != '\r' || memchr(p, '\r', n - 2))
			__builtin_trap();
		if (p[0] < '2' || p[0] > '5' || p[1] < '0' || p[1] > '9' || p[2] < '0' || p[2] > '9'
		    || (p[3] != ' ' && p[3] != '-'))
			__builtin_trap();
		code = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
		if (code == 250 && n > sizeof QUEUED_PREFIX && memcmp(p, QUEUED_PREFIX, sizeof QUEUED_PREFIX - 1) == 0) {
			const char *id = p + sizeof QUEUED_PREFIX - 1;
			size_t idlen = strcspn(id, ",\r");
			snprintf(path, sizeof path, "%s/%s/%.*s", fuzz_home, SPOOL_INCOMING_DIR, (int)idlen, id);
			queued_check(path, id, idlen);
			queued++;
		}
		p = e + 1;
	}
	return queued;
}

static size_t incoming_count(void)
{
	char path[4200];
	struct dirent *d;
	size_t n = 0;
	DIR *dir;

	snprintf(path, sizeof path, "%s/%s", fuzz_home, SPOOL_INCOMING_DIR);
	if (!(dir = opendir(path)))
		abort();
	while ((d = readdir(dir)))
		if (d->d_name[0] != '.')
			n++;
	closedir(dir);
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *out;
	size_t len;

	if (!size)
		return 0;
	connection_env(data[0]);
	fuzz_config_pick("etc/smtpserver.conf", smtpserver_conf, &conf_current, (data[0] >> 4) & 1);
	if (utimensat(AT_FDCWD, presence, NULL, 0) != 0)
		abort();
	fuzz_fd_probe();
	fuzz_fds_begin(data + 1, size - 1);
	session_run((data[0] & 4) != 0);
	out = fuzz_fds_end(&len);
	fuzz_dump(out, len);
	if (replies_check(out, len) != incoming_count())
		__builtin_trap();   /* a message on disk that no 250 announced */
	free(out);
	fuzz_fd_check();
	fuzz_clean();
	return 0;
}
