#include "tls.h"
#include "home.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define TLS_ERROR_MAX_BYTES 256
/* TLS 1.2 suites with forward secrecy only; TLS 1.3 keeps OpenSSL's set. */
#define TLS_CIPHER_LIST "HIGH:!aNULL:!eNULL:!kRSA:!PSK:!SRP:!DSS:!MD5:!RC4:!3DES:!CAMELLIA:!ARIA"

struct tls_context {
	SSL_CTX *ssl_ctx;
};

/* Per-connection state; c->transport points into it. */
struct tls_session {
	SSL *ssl;
	SSL_CTX *owned_ctx;        /* client side: its own context */
	struct conn *conn;
	struct conn_transport transport;
	char error[TLS_ERROR_MAX_BYTES];
};

/* ---- error text ---- */

/* "what: reason" with OpenSSL's first queued reason, else errno's. */
static void tls_error(char *error, size_t size, const char *what, int err)
{
	unsigned long code = ERR_peek_error();
	char reason[TLS_ERROR_MAX_BYTES];

	if (code)
		ERR_error_string_n(code, reason, sizeof reason);
	else
		snprintf(reason, sizeof reason, "%s", err ? strerror(err) : "unknown error");
	snprintf(error, size, "%s: %s", what, reason);
	ERR_clear_error();
}

/* ---- configuration ---- */

/* The system openssl.cnf is not read: parsing it costs about 2.5 ms of CPU
 * per process (measured: 7.3 ms -> 4.7 ms for a context load), and every
 * setting it could make (protocol floor, ciphers) is set explicitly below.
 * Must run before anything else in the process initialises libcrypto. */
static int tls_library_init(void)
{
	return OPENSSL_init_ssl(OPENSSL_INIT_NO_LOAD_CONFIG, NULL) == 1;
}

/* Settings shared by both sides. */
static int tls_context_defaults(SSL_CTX *ctx)
{
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET
				 | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_IGNORE_UNEXPECTED_EOF);
	/* conn_flush retries a short write with the rest of its buffer. */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_dh_auto(ctx, 1);
	return SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) == 1
	       && SSL_CTX_set_cipher_list(ctx, TLS_CIPHER_LIST) == 1;
}

/* One certificate and its key.  OpenSSL keeps one slot per key type, so a
 * second pair of another type (RSA next to EC) is loaded the same way. */
static int tls_context_load_pair(SSL_CTX *ctx, const char *cert, const char *key,
				 char *error, size_t size)
{
	char what[2 * PATH_MAX + 64];

	if (!tls_file_readable(key, "key file", error, size)
	    || !tls_file_readable(cert, "certificate file", error, size))
		return 0;
	snprintf(what, sizeof what, "unable to load certificate file %s", cert);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1)
		goto fail;
	snprintf(what, sizeof what, "unable to load key file %s", key);
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		/* OpenSSL already compares the key with the certificate here. */
		if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH)
			snprintf(what, sizeof what, "key file %s does not match certificate %s", key, cert);
		goto fail;
	}
	snprintf(what, sizeof what, "key file %s does not match certificate %s", key, cert);
	if (SSL_CTX_check_private_key(ctx) != 1)
		goto fail;
	return 1;
fail:
	tls_error(error, size, what, errno);
	return 0;
}

static int tls_context_load_files(SSL_CTX *ctx, const struct tls_files *f, char *error, size_t size)
{
	if (!tls_context_load_pair(ctx, f->cert, f->key, error, size))
		return 0;
	/* ZMailer's PARAM tls-dcert-file/tls-dkey-file: an optional second pair. */
	if (*f->dcert && !tls_context_load_pair(ctx, f->dcert, f->dkey, error, size))
		return 0;
	if (*f->ca && SSL_CTX_load_verify_locations(ctx, f->ca, NULL) != 1) {
		char what[PATH_MAX + 32];

		snprintf(what, sizeof what, "unable to load CA file %s", f->ca);
		tls_error(error, size, what, errno);
		return 0;
	}
	return 1;
}

struct tls_context *tls_server_context_files(const struct tls_files *f, char *error, size_t error_size)
{
	struct tls_context *t;
	SSL_CTX *ctx;

	ctx = tls_library_init() ? SSL_CTX_new(TLS_server_method()) : NULL;
	if (!ctx || !tls_context_defaults(ctx)) {
		tls_error(error, error_size, "unable to set up TLS", ENOMEM);
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (!tls_context_load_files(ctx, f, error, error_size)) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	t = malloc(sizeof *t);
	if (!t) {
		snprintf(error, error_size, "unable to set up TLS: %s", strerror(ENOMEM));
		SSL_CTX_free(ctx);
		return NULL;
	}
	t->ssl_ctx = ctx;
	return t;
}

struct tls_context *tls_server_context(const struct mail_config *cfg, const struct smtpserver_conf *conf,
				       char *error, size_t error_size)
{
	struct tls_files *f = malloc(sizeof *f);
	struct tls_context *t = NULL;

	if (!f)
		snprintf(error, error_size, "unable to set up TLS: %s", strerror(ENOMEM));
	else if (tls_server_files(cfg, conf, f, error, error_size))
		t = tls_server_context_files(f, error, error_size);
	free(f);
	return t;
}

void tls_context_free(struct tls_context *t)
{
	if (!t)
		return;
	SSL_CTX_free(t->ssl_ctx);
	free(t);
}

/* ---- waiting, bounded ---- */

/* The end of the current wait: the conn's deadline, bounded by its idle
 * timeout (or the default when it has neither). */
static long long tls_wait_until(const struct conn *c)
{
	long long now = conn_now_ms(), until;

	until = now + 1000LL * (c->idle_timeout_sec > 0 ? c->idle_timeout_sec
							: TLS_HANDSHAKE_DEFAULT_TIMEOUT_SEC);
	if (c->deadline_ms && c->deadline_ms < until)
		until = c->deadline_ms;
	return until;
}


/* ---- the conn transport ---- */

/* Maps a failed SSL_read/SSL_write to conn's convention.  want_other is
 * waited for here (a read that must write, or the reverse), since conn
 * only polls the direction it asked for. */
static ssize_t tls_io_failed(struct tls_session *t, int ret)
{
	int e = SSL_get_error(t->ssl, ret), saved = errno;

	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		errno = EAGAIN;
		return -1;
	}
	if (e == SSL_ERROR_ZERO_RETURN)
		return 0;
	if (e == SSL_ERROR_SYSCALL && !ERR_peek_error()) {
		if (!saved)
			return 0;  /* EOF without close_notify: a plain EOF to conn */
		snprintf(t->error, sizeof t->error, "TLS I/O: %s", strerror(saved));
		errno = saved;
		return -1;
	}
	tls_error(t->error, sizeof t->error, "TLS I/O", saved);
	errno = EPROTO;
	return -1;
}

static ssize_t tls_transport_read(void *ctx, void *dst, size_t len)
{
	struct tls_session *t = ctx;
	int n;

	ERR_clear_error();
	errno = 0;
	n = SSL_read(t->ssl, dst, len > INT_MAX ? INT_MAX : (int)len);
	if (n > 0)
		return n;
	if (SSL_get_error(t->ssl, n) == SSL_ERROR_WANT_WRITE
	    && !conn_poll_until(t->conn->fd_out, POLLOUT, tls_wait_until(t->conn)))
		return -1;
	return tls_io_failed(t, n);
}

static ssize_t tls_transport_write(void *ctx, const void *src, size_t len)
{
	struct tls_session *t = ctx;
	int n;

	ERR_clear_error();
	errno = 0;
	n = SSL_write(t->ssl, src, len > INT_MAX ? INT_MAX : (int)len);
	if (n > 0)
		return n;
	if (SSL_get_error(t->ssl, n) == SSL_ERROR_WANT_READ
	    && !conn_poll_until(t->conn->fd_in, POLLIN, tls_wait_until(t->conn)))
		return -1;
	return tls_io_failed(t, n);
}

/* Only decrypted application data: a partial record in OpenSSL's buffer
 * would make conn skip poll and spin. */
static size_t tls_transport_pending(void *ctx)
{
	struct tls_session *t = ctx;
	int n = SSL_pending(t->ssl);

	return n > 0 ? (size_t)n : 0;
}

/* ---- handshake ---- */

/* Non-blocking for the poll-driven handshake, and TCP_NODELAY: conn already
 * batches replies, and TLS sends a flight in several writes (a client's
 * Finished then its first command), which Nagle plus the peer's delayed ACK
 * would hold back 40 ms.  Not a socket (a pipe in a test): no NODELAY. */
static int tls_prepare_fd(int fd)
{
	int flags = fcntl(fd, F_GETFL), on = 1;

	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
	return flags >= 0 && fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0;
}

/* A client's "certificate verify failed" says why (name, expiry, issuer). */
static void tls_verify_detail(struct tls_session *t, int server, char *error, size_t size)
{
	long v = SSL_get_verify_result(t->ssl);
	size_t n = strlen(error);

	if (!server && v != X509_V_OK && n < size)
		snprintf(error + n, size - n, " (%s)", X509_verify_cert_error_string(v));
}

static int tls_handshake(struct tls_session *t, int server, char *error, size_t size)
{
	long long until = tls_wait_until(t->conn);
	int r, e;

	for (;;) {
		ERR_clear_error();
		errno = 0;
		r = server ? SSL_accept(t->ssl) : SSL_connect(t->ssl);
		if (r == 1)
			return 1;
		e = SSL_get_error(t->ssl, r);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			if (conn_poll_until(e == SSL_ERROR_WANT_READ ? t->conn->fd_in : t->conn->fd_out,
				     e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, until))
				continue;
			snprintf(error, size, "TLS handshake: %s",
				 errno == ETIMEDOUT ? "timed out" : strerror(errno));
			return 0;
		}
		if ((e == SSL_ERROR_SYSCALL || e == SSL_ERROR_ZERO_RETURN) && !ERR_peek_error()) {
			snprintf(error, size, "TLS handshake: %s",
				 errno ? strerror(errno) : "connection closed by peer");
			return 0;
		}
		tls_error(error, size, "TLS handshake", errno);
		tls_verify_detail(t, server, error, size);
		return 0;
	}
}

static void tls_session_free(struct tls_session *t)
{
	if (!t)
		return;
	SSL_free(t->ssl);
	SSL_CTX_free(t->owned_ctx);
	free(t);
}

/* A session on c's fds, not yet installed. */
static struct tls_session *tls_session_new(struct conn *c, SSL_CTX *ctx, char *error, size_t size)
{
	struct tls_session *t = calloc(1, sizeof *t);

	if (!t || !(t->ssl = SSL_new(ctx))) {
		tls_error(error, size, "unable to set up TLS", ENOMEM);
		free(t);
		return NULL;
	}
	t->conn = c;
	if (!tls_prepare_fd(c->fd_in) || !tls_prepare_fd(c->fd_out)
	    || SSL_set_rfd(t->ssl, c->fd_in) != 1 || SSL_set_wfd(t->ssl, c->fd_out) != 1) {
		tls_error(error, size, "unable to set up TLS", errno);
		tls_session_free(t);
		return NULL;
	}
	t->transport.read = tls_transport_read;
	t->transport.write = tls_transport_write;
	t->transport.pending = tls_transport_pending;
	t->transport.ctx = t;
	return t;
}

/* Flush, handshake, install; the session is freed on failure. */
static int tls_start(struct conn *c, struct tls_session *t, int server, char *error, size_t size)
{
	if (!conn_flush(c)) {
		snprintf(error, size, "unable to write before TLS: %s", strerror(errno));
		tls_session_free(t);
		return 0;
	}
	if (!tls_handshake(t, server, error, size)) {
		tls_session_free(t);
		return 0;
	}
	conn_set_transport(c, &t->transport);
	return 1;
}

int tls_server_start(struct conn *c, struct tls_context *ctx, size_t *discarded,
		     char *error, size_t error_size)
{
	struct tls_session *t;

	/* Bytes that arrived with the STARTTLS command were sent in the clear
	 * and could be an attacker's: they must never run inside TLS. */
	if (discarded)
		*discarded = conn_buffered(c);
	conn_discard_input(c);
	if (tls_is_active(c)) {
		snprintf(error, error_size, "TLS already active");
		return 0;
	}
	t = tls_session_new(c, ctx->ssl_ctx, error, error_size);
	return t && tls_start(c, t, 1, error, error_size);
}

static int tls_is_ip_literal(const char *name)
{
	unsigned char addr[16];

	return inet_pton(AF_INET, name, addr) == 1 || inet_pton(AF_INET6, name, addr) == 1;
}

static int tls_client_prepare(SSL_CTX *ctx, SSL *ssl, const char *servername, int verify,
			      const char *ca_file)
{
	int named = servername && *servername && !tls_is_ip_literal(servername);

	if (named && SSL_set_tlsext_host_name(ssl, servername) != 1)
		return 0;
	if (!verify) {
		SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL);
		return 1;
	}
	if ((ca_file && *ca_file ? SSL_CTX_load_verify_locations(ctx, ca_file, NULL)
				 : SSL_CTX_set_default_verify_paths(ctx)) != 1)
		return 0;
	SSL_set_verify(ssl, SSL_VERIFY_PEER, NULL);
	if (servername && *servername)
		return named ? SSL_set1_host(ssl, servername) == 1
			     : X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), servername) == 1;
	return 1;
}

int tls_client_start(struct conn *c, const char *servername, int verify, const char *ca_file,
		     char *error, size_t error_size)
{
	struct tls_session *t;
	SSL_CTX *ctx;

	conn_discard_input(c); /* nothing the server sent in the clear carries over */
	if (tls_is_active(c)) {
		snprintf(error, error_size, "TLS already active");
		return 0;
	}
	ctx = tls_library_init() ? SSL_CTX_new(TLS_client_method()) : NULL;
	if (!ctx || !tls_context_defaults(ctx)) {
		tls_error(error, error_size, "unable to set up TLS", ENOMEM);
		SSL_CTX_free(ctx);
		return 0;
	}
	t = tls_session_new(c, ctx, error, error_size);
	if (!t) {
		SSL_CTX_free(ctx);
		return 0;
	}
	t->owned_ctx = ctx;
	if (!tls_client_prepare(ctx, t->ssl, servername, verify, ca_file)) {
		tls_error(error, error_size, "unable to set up TLS verification", errno);
		tls_session_free(t);
		return 0;
	}
	return tls_start(c, t, 0, error, error_size);
}

/* ---- state ---- */

static struct tls_session *tls_session_of(const struct conn *c)
{
	if (!c->transport || c->transport->read != tls_transport_read)
		return NULL;
	return c->transport->ctx;
}

int tls_is_active(const struct conn *c) { return tls_session_of(c) != NULL; }

void tls_describe(const struct conn *c, char *out, size_t size)
{
	struct tls_session *t = tls_session_of(c);

	if (!size)
		return;
	*out = 0;
	if (t)
		snprintf(out, size, "%s cipher %s bits %d", SSL_get_version(t->ssl),
			 SSL_get_cipher_name(t->ssl), SSL_get_cipher_bits(t->ssl, NULL));
}

const char *tls_last_error(const struct conn *c)
{
	struct tls_session *t = tls_session_of(c);

	return t ? t->error : "";
}

void tls_shutdown(struct conn *c)
{
	struct tls_session *t = tls_session_of(c);
	long long until = conn_now_ms() + TLS_SHUTDOWN_TIMEOUT_MS;
	int r;

	(void)conn_flush(c);
	if (!t)
		return;
	for (;;) {
		ERR_clear_error();
		r = SSL_shutdown(t->ssl);
		/* 0: our close_notify is out; we do not wait for the peer's. */
		if (r >= 0 || SSL_get_error(t->ssl, r) != SSL_ERROR_WANT_WRITE
		    || !conn_poll_until(c->fd_out, POLLOUT, until))
			break;
	}
	ERR_clear_error();
	conn_set_transport(c, NULL);
	tls_session_free(t);
}
