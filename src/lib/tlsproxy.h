/* tlsproxy: the receiver's side of libexec/tlsproxy (tlsproxy(8)), the
 * helper that does TLS for smtpd and pop3d so that neither links OpenSSL
 * nor ever holds the private key.
 *
 * At STARTTLS/STLS (or at the start of an SMTPS/POP3S session):
 *   tlsproxy_start()   forks and execs tlsproxy with the network socket on
 *                      its fds 0/1 and one end of a socketpair on its fd 3.
 *                      It loads the certificate and key and answers on fd 3
 *                      "ready" (the receiver may say 220 / +OK) or
 *                      "fail <reason>" (454 / -ERR, the session goes on plain:
 *                      the receiver still holds the socket).
 *   tlsproxy_attach()  flushes the 220/+OK, throws away every byte the
 *                      client sent before the handshake (CVE-2011-0411:
 *                      they must never be read as if sent under TLS),
 *                      then the receiver's end of the socketpair replaces
 *                      fds 0 and 1, so the socket
 *                      now lives only in the proxy, which runs the handshake
 *                      and answers "ok <version> <cipher> <bits>" or
 *                      "fail <reason>".  From then on fds 0/1 carry the
 *                      session in plain text and the proxy encrypts it.
 *   tlsproxy_finish()  at the end: closes fds 0/1 (the proxy sends its
 *                      close_notify and exits) and reaps the proxy.
 * Each status line is one write of at most TLSPROXY_STATUS_MAX_BYTES, LF
 * ended; both sides include this header, so the words below are the
 * contract.  Library rules: nothing here logs or exits. */
#ifndef BBSMAIL_TLSPROXY_H
#define BBSMAIL_TLSPROXY_H
#include "conn.h"
#include "tls.h"
#include <stddef.h>
#include <sys/types.h>

#define TLSPROXY_PROGRAM "tlsproxy"       /* next to the receiver's own file */
#define TLSPROXY_STATUS_FD 3              /* the proxy's end of the socketpair */
#define TLSPROXY_STATUS_MAX_BYTES 512
#define TLSPROXY_READY "ready"
#define TLSPROXY_OK "ok "
#define TLSPROXY_FAIL "fail "
/* Added to the receiver's idle timeout and deadline in the proxy's argv:
 * the receiver's own timeout fires first and its 421 or -ERR still goes
 * out through the proxy. */
#define TLSPROXY_GRACE_SEC 5
/* How long tlsproxy_finish waits for the proxy after closing fds 0/1. */
#define TLSPROXY_EXIT_WAIT_MS 3000

struct tlsproxy {
	pid_t pid;      /* 0: none */
	int fd;         /* our socketpair end until attached, then -1 */
	int attached;   /* fds 0/1 are that end */
};

void tlsproxy_init(struct tlsproxy *p);
/* Starts the proxy for session id (log_set_session's) with the receiver's
 * idle timeout (seconds, 0 none) and absolute deadline (conn_now_ms based,
 * 0 none), and the files to load.  1: the proxy holds the key and waits
 * for the client.  0 with a message (its "fail" reason, or why it could
 * not start); it has been reaped and the receiver still owns the socket. */
int tlsproxy_start(struct tlsproxy *p, const char *session, int idle_sec, long long deadline_ms,
		   const struct tls_files *files, char *error, size_t error_size);
/* The same with the server's files chosen from mail.ini and smtpserver.conf
 * (tls_server_files; conf may be NULL), as both receivers start it. */
struct mail_config;
struct smtpserver_conf;
int tlsproxy_start_server(struct tlsproxy *p, const struct mail_config *cfg, const struct smtpserver_conf *conf,
			  const char *session, int idle_sec, long long deadline_ms, char *error, size_t error_size);
/* Flushes c (the 220 / +OK goes out in plain text), discards the input c
 * has buffered (*discarded says how many bytes, for the log), moves the
 * proxy's socketpair end onto fds 0 and 1 and waits for the handshake: 1
 * with info "TLSv1.3 cipher TLS_AES_256_GCM_SHA384 bits 256" (the form of
 * tls_describe), 0 with a message.  Once past the flush, fds 0/1 no longer
 * are the network socket.  c keeps its fds (0 and 1); anything the proxy
 * relays after its status line stays in c's buffer. */
int tlsproxy_attach(struct tlsproxy *p, struct conn *c, int idle_sec, size_t *discarded, char *info,
		    size_t info_size, char *error, size_t error_size);
/* Ends the session: closes fds 0/1 so the proxy sees EOF, sends its
 * close_notify and exits; waits for it (TLSPROXY_EXIT_WAIT_MS, then
 * SIGKILL).  Returns the proxy's exit status, -1 when it was killed or
 * none ran.  Safe to call when no proxy was started. */
int tlsproxy_finish(struct tlsproxy *p);

#endif
