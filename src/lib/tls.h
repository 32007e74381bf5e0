/* tls: the one module that knows OpenSSL.  tlsproxy(8) (server side, the
 * TLS helper of smtpd and pop3d) and the SMTP client (client side) call
 * these functions; everything else talks to a struct conn, whose transport
 * this module swaps for SSL_read/SSL_write once the handshake is done.
 * bbsmail-tls(7) describes the configuration.  The file choice, the
 * access(2) check and tls_implicit_from_env live in tlsfiles.c, which needs
 * no OpenSSL: smtpd and pop3d use only those and hand the socket to
 * tlsproxy (tlsproxy.h) for the handshake, so they never link OpenSSL.
 *
 * Files (first match wins; a relative path is relative to the home):
 *   certificate  PARAM tls-cert-file, mail.ini TLSCertFile, etc/tls/cert.pem
 *   private key  PARAM tls-key-file,  mail.ini TLSKeyFile,  etc/tls/key.pem
 *   CA file      PARAM tls-CAfile,    mail.ini TLSCAFile,   none
 *   second pair  PARAM tls-dcert-file + tls-dkey-file (optional, e.g. RSA
 *                next to the default EC pair)
 * (scripts/make-cert creates the two default files.)
 *
 * Server use (tlsproxy(8), which runs one session and exits):
 *   ctx = tls_server_context(cfg, conf, err, n);   NULL -> report err
 *   tls_server_start(c, ctx, &discarded, err, n):  0 -> report err
 *   then relay through c->transport; tls_shutdown(c) at the end.
 * The receivers decide whether to offer STARTTLS/STLS with
 * tls_server_available() (two access(2) calls, no file is parsed) and,
 * for implicit TLS (SMTPS 465, POP3S 995, RFC 8314: argv flag -s or
 * BBSMAIL_IMPLICIT_TLS=1), with tls_implicit_from_env().
 *
 * Protocol floor TLS 1.2, forward-secret AEAD/CBC ciphers, no compression, no
 * client-initiated renegotiation, no session tickets or cache (every
 * connection is a fresh process, so resumption could never hit anyway).
 *
 * After tls_*_start the connection's fds are left non-blocking (conn.c
 * retries EAGAIN with poll).  Library rules: nothing here logs or exits;
 * errors come back as text in the caller's error buffer. */
#ifndef BBSMAIL_TLS_H
#define BBSMAIL_TLS_H
#include "config.h"
#include "conn.h"
#include <limits.h>
#include <stddef.h>

/* tlsfiles.c: the first non-empty of param, ini, fallback ("" stays "");
 * a relative path is relative to the home.  1 ok, 0 too long. */
int tls_path(const char *param, const char *ini, const char *fallback, char *out, size_t size);
/* 1 when path is readable, else 0 with "unable to read <what> <path>: <why>". */
int tls_file_readable(const char *path, const char *what, char *error, size_t size);

/* Used when the conn has neither an idle timeout nor a deadline: a handshake
 * is always bounded. */
#define TLS_HANDSHAKE_DEFAULT_TIMEOUT_SEC 60
/* How long tls_shutdown waits for the socket to take the close_notify. */
#define TLS_SHUTDOWN_TIMEOUT_MS 1000
/* Environment variable that selects implicit TLS in a receiver. */
#define TLS_IMPLICIT_ENV "BBSMAIL_IMPLICIT_TLS"

struct tls_context; /* a loaded certificate and key: opaque */

/* Every file a server context loads; "" for none (ca, the second pair). */
struct tls_files {
	char cert[PATH_MAX], key[PATH_MAX], ca[PATH_MAX];
	char dcert[PATH_MAX], dkey[PATH_MAX];
};

/* All five after the precedence above (tlsfiles.c, no OpenSSL).  1 ok, 0
 * with a message (a path too long, a second certificate without its key). */
int tls_server_files(const struct mail_config *cfg, const struct smtpserver_conf *conf, struct tls_files *f,
		     char *error, size_t error_size);
/* The three paths (cert, key, CA; CA "" when none) after the precedence
 * above.  1 ok, 0 with a message (a path too long).  conf may be NULL. */
int tls_server_paths(const struct mail_config *cfg, const struct smtpserver_conf *conf,
		     char *cert, char *key, char *ca, size_t path_size, char *error, size_t error_size);
/* 1 when the certificate and key files exist and are readable (access(2)
 * only: cost is two syscalls).  0 with "unable to read key file <path>: <why>". */
int tls_server_available(const struct mail_config *cfg, const struct smtpserver_conf *conf,
			 char *error, size_t error_size);
/* Loads and checks certificate, key (must match) and CA file.  NULL with a
 * message naming the file and the reason. */
struct tls_context *tls_server_context(const struct mail_config *cfg, const struct smtpserver_conf *conf,
				       char *error, size_t error_size);
/* The same from paths already chosen (tlsproxy(8) gets them in argv). */
struct tls_context *tls_server_context_files(const struct tls_files *f, char *error, size_t error_size);
void tls_context_free(struct tls_context *ctx);

/* Flushes pending plaintext replies, throws away every byte the client sent
 * before the handshake (CVE-2011-0411; *discarded gets how many, may be
 * NULL), then runs the server handshake on c->fd_in/c->fd_out within the
 * conn's idle timeout and deadline.  On success c reads and writes through
 * TLS.  1 ok, 0 with a message (timeout, protocol version, peer closed...). */
int tls_server_start(struct conn *c, struct tls_context *ctx, size_t *discarded,
		     char *error, size_t error_size);
/* Client side (deliver-remote): handshake with SNI = servername (skipped for
 * an IP literal or NULL).  verify: 1 checks the chain against ca_file (NULL:
 * the system store) and the name against servername, 0 accepts any
 * certificate (opportunistic TLS).  Same return convention. */
int tls_client_start(struct conn *c, const char *servername, int verify, const char *ca_file,
		     char *error, size_t error_size);

/* 1 when BBSMAIL_IMPLICIT_TLS is "1" (a receiver ORs in its -s flag). */
int tls_implicit_from_env(void);

/* 1 when c currently runs over TLS. */
int tls_is_active(const struct conn *c);
/* "TLSv1.3 cipher TLS_AES_256_GCM_SHA384 bits 256", or "" when not active. */
void tls_describe(const struct conn *c, char *out, size_t size);
/* The reason of the last failed TLS read or write ("" if none), for the
 * caller's log line after conn_getline/conn_flush fails. */
const char *tls_last_error(const struct conn *c);
/* Flushes c, sends close_notify (best effort, bounded by
 * TLS_SHUTDOWN_TIMEOUT_MS), frees the TLS state and returns c to plain
 * (unusable) fds.  Safe to call when TLS is not active. */
void tls_shutdown(struct conn *c);

#endif
