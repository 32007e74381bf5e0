/* The part of tls.h that needs no OpenSSL: which files to use, whether
 * they can be read, and the implicit-TLS switch.  It is a file of its own
 * because the archive is linked member by member: smtpd and pop3d decide
 * whether to offer STARTTLS with these alone, so OpenSSL never becomes part
 * of them (tlsproxy(8) does the TLS). */
#include "tls.h"
#include "home.h"
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TLS_DEFAULT_CERT_FILE "etc/tls/cert.pem"
#define TLS_DEFAULT_KEY_FILE "etc/tls/key.pem"

int tls_path(const char *param, const char *ini, const char *fallback, char *out, size_t size)
{
	const char *p = param && *param ? param : ini && *ini ? ini : fallback;

	if (!*p) {
		*out = 0;
		return 1;
	}
	if (*p == '/')
		return (size_t)snprintf(out, size, "%s", p) < size;
	return home_path(out, size, p);
}
int tls_server_paths(const struct mail_config *cfg, const struct smtpserver_conf *conf,
		     char *cert, char *key, char *ca, size_t path_size, char *error, size_t error_size)
{
	const char *pc = conf ? smtpserver_conf_get(conf, "tls-cert-file") : NULL;
	const char *pk = conf ? smtpserver_conf_get(conf, "tls-key-file") : NULL;
	const char *pa = conf ? smtpserver_conf_get(conf, "tls-CAfile") : NULL;

	if (!tls_path(pc, cfg->tls_cert_file, TLS_DEFAULT_CERT_FILE, cert, path_size)
	    || !tls_path(pk, cfg->tls_key_file, TLS_DEFAULT_KEY_FILE, key, path_size)
	    || !tls_path(pa, cfg->tls_ca_file, "", ca, path_size)) {
		snprintf(error, error_size, "TLS file path too long");
		return 0;
	}
	return 1;
}

/* ZMailer's PARAM tls-dcert-file/tls-dkey-file: an optional second pair
 * (both or neither). */
static int tls_second_pair(const struct smtpserver_conf *conf, struct tls_files *f, char *error, size_t size)
{
	const char *pc = conf ? smtpserver_conf_get(conf, "tls-dcert-file") : NULL;
	const char *pk = conf ? smtpserver_conf_get(conf, "tls-dkey-file") : NULL;

	f->dcert[0] = f->dkey[0] = 0;
	if ((!pc || !*pc) && (!pk || !*pk))
		return 1;
	if (!pc || !*pc || !pk || !*pk) {
		snprintf(error, size, "tls-dcert-file and tls-dkey-file must be set together");
		return 0;
	}
	if (!tls_path(pc, "", "", f->dcert, sizeof f->dcert) || !tls_path(pk, "", "", f->dkey, sizeof f->dkey)) {
		snprintf(error, size, "TLS file path too long");
		return 0;
	}
	return 1;
}

int tls_server_files(const struct mail_config *cfg, const struct smtpserver_conf *conf, struct tls_files *f,
		     char *error, size_t error_size)
{
	return tls_server_paths(cfg, conf, f->cert, f->key, f->ca, sizeof f->cert, error, error_size)
	       && tls_second_pair(conf, f, error, error_size);
}

int tls_file_readable(const char *path, const char *what, char *error, size_t size)
{
	if (access(path, R_OK) == 0)
		return 1;
	snprintf(error, size, "unable to read %s %s: %s", what, path, strerror(errno));
	return 0;
}

int tls_server_available(const struct mail_config *cfg, const struct smtpserver_conf *conf,
			 char *error, size_t error_size)
{
	char cert[PATH_MAX], key[PATH_MAX], ca[PATH_MAX];

	return tls_server_paths(cfg, conf, cert, key, ca, sizeof cert, error, error_size)
	       && tls_file_readable(key, "key file", error, error_size)
	       && tls_file_readable(cert, "certificate file", error, error_size);
}

int tls_implicit_from_env(void)
{
	const char *v = getenv(TLS_IMPLICIT_ENV);

	return v && !strcmp(v, "1");
}

