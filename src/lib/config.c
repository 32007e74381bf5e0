#include "config.h"
#include "buf.h"
#include "home.h"
#include "listfile.h"
#include "log.h"
#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum key_type { KEY_STRING, KEY_PORT, KEY_ULONG, KEY_SIZE, KEY_DURATION, KEY_LOGLEVEL,
		KEY_OPTIONS, KEY_IGNORED };
#define IN_MAIL 1
#define IN_GLOBAL 2

struct key_spec {
	const char *name;
	int sections;
	enum key_type type;
	size_t offset;
	const char *default_value;
};

#define F(field) offsetof(struct mail_config, field)
static const struct key_spec key_specs[] = {
	{ "HostName", IN_MAIL | IN_GLOBAL, KEY_STRING, F(host_name), "localhost" },
	{ "Interface", IN_MAIL | IN_GLOBAL, KEY_STRING, F(interface), "" },
	{ "POP3Interface", IN_MAIL, KEY_STRING, F(pop3_interface), "" },
	{ "OutboundInterface", IN_MAIL, KEY_STRING, F(outbound_interface), "0.0.0.0" },
	{ "SMTPPort", IN_MAIL, KEY_PORT, F(smtp_port), "25" },
	{ "SubmissionPort", IN_MAIL, KEY_PORT, F(submission_port), "587" },
	{ "TLSSubmissionPort", IN_MAIL, KEY_PORT, F(tls_submission_port), "465" },
	{ "POP3Port", IN_MAIL, KEY_PORT, F(pop3_port), "110" },
	{ "TLSPOP3Port", IN_MAIL, KEY_PORT, F(tls_pop3_port), "995" },
	{ "MaxClients", IN_MAIL, KEY_ULONG, F(max_clients), "10" },
	{ "MaxInactivity", IN_MAIL, KEY_DURATION, F(max_inactivity_sec), "120" },
	{ "MaxSessionTime", IN_MAIL, KEY_DURATION, F(max_session_sec), "1H" },
	{ "MaxDeliveryAttempts", IN_MAIL, KEY_ULONG, F(max_delivery_attempts), "50" },
	{ "RescanFrequency", IN_MAIL, KEY_DURATION, F(rescan_frequency_sec), "60M" },
	{ "SemFileCheckFrequency", IN_MAIL | IN_GLOBAL, KEY_DURATION, F(sem_file_check_frequency_sec), "2" },
	{ "LinesPerYield", IN_MAIL, KEY_ULONG, F(lines_per_yield), "10" },
	{ "MaxRecipients", IN_MAIL, KEY_ULONG, F(max_recipients), "100" },
	{ "MaxMsgSize", IN_MAIL, KEY_SIZE, F(max_msg_size_bytes), "20MB" },
	{ "MaxMsgsWaiting", IN_MAIL, KEY_ULONG, F(max_msgs_waiting), "100" },
	{ "ConnectTimeout", IN_MAIL, KEY_DURATION, F(connect_timeout_sec), "30" },
	{ "TempDirectory", IN_MAIL | IN_GLOBAL, KEY_STRING, F(temp_directory), "" },
	{ "RelayServer", IN_MAIL, KEY_STRING, F(relay_server), "" },
	{ "RelayPort", IN_MAIL, KEY_PORT, F(relay_port), "25" },
	{ "RelayUsername", IN_MAIL, KEY_STRING, F(relay_username), "" },
	{ "RelayPassword", IN_MAIL, KEY_STRING, F(relay_password), "" },
	{ "DNSServer", IN_MAIL, KEY_STRING, F(dns_server), "" },
	{ "DefaultUser", IN_MAIL, KEY_STRING, F(default_user), "" },
	{ "DefaultCharset", IN_MAIL, KEY_STRING, F(default_charset), "" },
	{ "DNSBlacklistHeader", IN_MAIL, KEY_STRING, F(dnsbl_header), "X-DNSBL" },
	{ "DNSBlacklistSubject", IN_MAIL, KEY_STRING, F(dnsbl_subject), "SPAM" },
	{ "NewMailNotice", IN_MAIL, KEY_STRING, F(new_mail_notice), "New e-mail from <%s>\\r\\n" },
	{ "ForwardNotice", IN_MAIL, KEY_STRING, F(forward_notice), "and it was forwarded to: %s" },
	{ "LogLevel", IN_MAIL | IN_GLOBAL, KEY_LOGLEVEL, F(log_level), "Info" },
	{ "BindRetryCount", IN_MAIL | IN_GLOBAL, KEY_ULONG, F(bind_retry_count), "2" },
	{ "BindRetryDelay", IN_MAIL | IN_GLOBAL, KEY_DURATION, F(bind_retry_delay_sec), "15" },
	{ "LoginAttemptDelay", IN_GLOBAL | IN_MAIL, KEY_ULONG, F(login_attempt_delay_ms), "5000" },
	{ "LoginAttemptThrottle", IN_GLOBAL | IN_MAIL, KEY_ULONG, F(login_attempt_throttle_ms), "1000" },
	{ "LoginAttemptHackThreshold", IN_GLOBAL | IN_MAIL, KEY_ULONG, F(login_attempt_hack_threshold), "10" },
	{ "LoginAttemptTempBanThreshold", IN_GLOBAL | IN_MAIL, KEY_ULONG, F(login_attempt_temp_ban_threshold), "20" },
	{ "LoginAttemptTempBanDuration", IN_GLOBAL | IN_MAIL, KEY_DURATION, F(login_attempt_temp_ban_duration_sec), "10M" },
	{ "LoginAttemptFilterThreshold", IN_GLOBAL | IN_MAIL, KEY_ULONG, F(login_attempt_filter_threshold), "0" },
	{ "TLSCertFile", IN_MAIL | IN_GLOBAL, KEY_STRING, F(tls_cert_file), "" },
	{ "TLSKeyFile", IN_MAIL | IN_GLOBAL, KEY_STRING, F(tls_key_file), "" },
	{ "TLSCAFile", IN_MAIL | IN_GLOBAL, KEY_STRING, F(tls_ca_file), "" },
	{ "AuthViaIPWindow", IN_MAIL, KEY_DURATION, F(auth_via_ip_window_sec), "30M" },
	{ "MaxQueueLifetime", IN_MAIL, KEY_DURATION, F(max_queue_lifetime_sec), "5D" },
	{ "DelayWarningTime", IN_MAIL, KEY_DURATION, F(delay_warning_sec), "4H" },
	{ "OutboundConcurrency", IN_MAIL, KEY_ULONG, F(outbound_concurrency), "8" },
	{ "OutboundPerDestination", IN_MAIL, KEY_ULONG, F(outbound_per_destination), "2" },
	{ "RelayAuthPlaintext", IN_MAIL, KEY_ULONG, F(relay_auth_plaintext), "0" },
	{ "OutboundPort", IN_MAIL, KEY_PORT, F(outbound_port), "25" },
	{ "OutboundTimeout", IN_MAIL, KEY_DURATION, F(outbound_timeout_sec), "0" },
	{ "Options", IN_MAIL, KEY_OPTIONS, F(options), "ALLOW_POP3" },
	/* Accepted for compatibility with an existing sbbs.ini, not used. */
	{ "POP3Sound", IN_MAIL, KEY_IGNORED, 0, NULL },
	{ "InboundSound", IN_MAIL, KEY_IGNORED, 0, NULL },
	{ "OutboundSound", IN_MAIL, KEY_IGNORED, 0, NULL },
	{ "AutoStart", IN_MAIL, KEY_IGNORED, 0, NULL },
	{ "Failed", IN_GLOBAL, KEY_IGNORED, 0, NULL },
};
#undef F

static const char *const option_names[] = {
#define MAIL_OPTION_NAME(name) #name,
	MAIL_OPTION_LIST(MAIL_OPTION_NAME)
#undef MAIL_OPTION_NAME
};

const char *mail_option_name(int bit)
{
	return bit >= 0 && bit < MAIL_OPTION_COUNT ? option_names[bit] : "?";
}

int config_parse_ulong(const char *s, unsigned long *value)
{
	char *end;

	if (!isdigit((unsigned char)*s))
		return 0;
	errno = 0;
	*value = strtoul(s, &end, 10);
	return errno == 0 && *end == 0;
}

int config_parse_size(const char *s, unsigned long long *bytes)
{
	unsigned long long mult = 1, n;
	char *end;

	if (!isdigit((unsigned char)*s))
		return 0;
	errno = 0;
	n = strtoull(s, &end, 10);
	if (errno)
		return 0;
	switch (toupper((unsigned char)*end)) {
	case 0: break;
	case 'K': mult = 1024ULL; end++; break;
	case 'M': mult = 1024ULL * 1024; end++; break;
	case 'G': mult = 1024ULL * 1024 * 1024; end++; break;
	case 'B': break;
	default: return 0;
	}
	if (toupper((unsigned char)*end) == 'B')
		end++;
	if (*end || (n && mult > ~0ULL / n))
		return 0;
	*bytes = n * mult;
	return 1;
}

int config_parse_duration(const char *s, unsigned long *seconds)
{
	unsigned long mult = 1, n;
	char *end;

	if (!isdigit((unsigned char)*s))
		return 0;
	errno = 0;
	n = strtoul(s, &end, 10);
	if (errno)
		return 0;
	switch (toupper((unsigned char)*end)) {
	case 0: break;
	case 'S': end++; break;
	case 'M': mult = 60; end++; break;
	case 'H': mult = 3600; end++; break;
	case 'D': mult = 86400; end++; break;
	case 'W': mult = 604800; end++; break;
	default: return 0;
	}
	if (*end || (n && mult > ULONG_MAX / n))
		return 0;
	*seconds = n * mult;
	return 1;
}

int config_parse_options(const char *s, unsigned long long *options, const char *file, int line)
{
	char word[64];
	size_t n;
	int i;

	*options = 0;
	while (*s) {
		while (*s == ' ' || *s == '\t' || *s == '|')
			s++;
		n = strcspn(s, " \t|");
		if (n == 0)
			break;
		if (n >= sizeof word) {
			log_warn("%s:%d: unknown Options flag %.*s", file, line, (int)n, s);
			s += n;
			continue;
		}
		memcpy(word, s, n);
		word[n] = 0;
		s += n;
		for (i = 0; i < MAIL_OPTION_COUNT; i++)
			if (strcasecmp(word, option_names[i]) == 0)
				break;
		if (i < MAIL_OPTION_COUNT)
			*options |= 1ULL << i;
		else if (strcmp(word, "0") != 0)
			log_warn("%s:%d: unknown Options flag %s", file, line, word);
	}
	return 1;
}

static int key_apply(struct mail_config *cfg, const struct key_spec *k, const char *value,
		     const char *file, int line, char *error, size_t error_size)
{
	char *field = (char *)cfg + k->offset;
	unsigned long ul;
	int level;

	switch (k->type) {
	case KEY_IGNORED:
		return 1;
	case KEY_STRING:
		if (strlen(value) >= CONFIG_STRING_MAX)
			goto bad;
		strcpy(field, value);
		return 1;
	case KEY_PORT:
		if (!config_parse_ulong(value, &ul) || ul == 0 || ul > 65535)
			goto bad;
		*(unsigned *)(void *)field = (unsigned)ul;
		return 1;
	case KEY_ULONG:
		if (!config_parse_ulong(value, &ul))
			goto bad;
		*(unsigned long *)(void *)field = ul;
		return 1;
	case KEY_DURATION:
		if (!config_parse_duration(value, &ul))
			goto bad;
		*(unsigned long *)(void *)field = ul;
		return 1;
	case KEY_SIZE:
		if (!config_parse_size(value, (unsigned long long *)(void *)field))
			goto bad;
		return 1;
	case KEY_LOGLEVEL:
		level = log_level_parse(value);
		if (level < 0)
			goto bad;
		*(int *)(void *)field = level;
		return 1;
	case KEY_OPTIONS:
		return config_parse_options(value, (unsigned long long *)(void *)field, file, line);
	}
bad:
	snprintf(error, error_size, "%s:%d: bad value for %s: %.80s", file, line, k->name, value);
	return 0;
}

int mail_option_bit(const char *name)
{
	int i;

	for (i = 0; i < MAIL_OPTION_COUNT; i++)
		if (strcasecmp(name, option_names[i]) == 0)
			return i;
	return -1;
}

static void format_options(unsigned long long options, char *out, size_t size)
{
	size_t used = 0;
	int i, n;

	out[0] = 0;
	for (i = 0; i < MAIL_OPTION_COUNT; i++)
		if (options & (1ULL << i)) {
			n = snprintf(out + used, size - used, "%s%s", used ? "|" : "", option_names[i]);
			if (n < 0 || (size_t)n >= size - used)
				return;
			used += (size_t)n;
		}
}

int mail_config_format(const struct mail_config *cfg, const char *key, char *out, size_t size)
{
	const char *field;
	size_t i;

	for (i = 0; i < sizeof key_specs / sizeof key_specs[0]; i++)
		if (strcasecmp(key, key_specs[i].name) == 0 && key_specs[i].type != KEY_IGNORED)
			break;
	if (i == sizeof key_specs / sizeof key_specs[0])
		return 0;
	field = (const char *)cfg + key_specs[i].offset;
	switch (key_specs[i].type) {
	case KEY_STRING: snprintf(out, size, "%s", field); break;
	case KEY_PORT: snprintf(out, size, "%u", *(const unsigned *)(const void *)field); break;
	case KEY_ULONG:
	case KEY_DURATION: snprintf(out, size, "%lu", *(const unsigned long *)(const void *)field); break;
	case KEY_SIZE: snprintf(out, size, "%llu", *(const unsigned long long *)(const void *)field); break;
	case KEY_LOGLEVEL: snprintf(out, size, "%d", *(const int *)(const void *)field); break;
	case KEY_OPTIONS: format_options(*(const unsigned long long *)(const void *)field, out, size); break;
	case KEY_IGNORED: return 0;
	}
	return 1;
}

void mail_config_defaults(struct mail_config *cfg)
{
	char error[256];
	size_t i;

	memset(cfg, 0, sizeof *cfg);
	for (i = 0; i < sizeof key_specs / sizeof key_specs[0]; i++)
		if (key_specs[i].default_value)
			key_apply(cfg, &key_specs[i], key_specs[i].default_value, "default", 0,
				  error, sizeof error);
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
		*--e = 0;
	return s;
}

/* One "[section]" line: the section it opens, -1 for one that is not ours. */
static int section_line(char *line, const struct listfile *lf)
{
	char *close = strchr(line, ']');

	if (!close) {
		log_warn("%s:%lu: malformed section line", lf->path, lf->line_number);
		return -1;
	}
	*close = 0;
	return strcasecmp(line + 1, "mail") == 0 ? IN_MAIL : strcasecmp(line + 1, "global") == 0 ? IN_GLOBAL : -1;
}

/* [mail] wins over [global]: keys seen in [mail] are remembered. */
static int mail_config_parse(struct mail_config *cfg, struct listfile *lf, char *error, size_t error_size)
{
	unsigned char set_in_mail[sizeof key_specs / sizeof key_specs[0]] = { 0 };
	int section = 0, r, lineno;
	char *line, *eq, *key, *value;
	size_t i;

	while ((r = listfile_next(lf, &line, NULL)) == 1) {
		lineno = (int)lf->line_number;
		if (*line == '[') {
			section = section_line(line, lf);
			continue;
		}
		eq = strchr(line, '=');
		if (!eq) {
			log_warn("%s:%d: malformed line (no '=')", lf->path, lineno);
			continue;
		}
		*eq = 0;
		key = trim(line);
		value = trim(eq + 1);
		if (section <= 0)
			continue; /* other sections of an sbbs.ini are not ours */
		for (i = 0; i < sizeof key_specs / sizeof key_specs[0]; i++)
			if (strcasecmp(key, key_specs[i].name) == 0)
				break;
		if (i == sizeof key_specs / sizeof key_specs[0]
		    || !(key_specs[i].sections & section)) {
			if (section == IN_MAIL)
				log_warn("%s:%d: unknown key %s", lf->path, lineno, key);
			continue;
		}
		if (section == IN_GLOBAL && set_in_mail[i])
			continue;
		if (section == IN_MAIL)
			set_in_mail[i] = 1;
		if (!key_apply(cfg, &key_specs[i], value, lf->path, lineno, error, error_size))
			return 0;
	}
	if (r < 0)
		listfile_error_text(lf, error, error_size);
	return r == 0;
}

int mail_config_load(struct mail_config *cfg, const char *path, char *error, size_t error_size)
{
	char default_path[PATH_MAX];
	struct listfile lf;
	int ok, present;

	mail_config_defaults(cfg);
	if (!path) {
		if (!home_path(default_path, sizeof default_path, "etc/mail.ini")) {
			snprintf(error, error_size, "home path too long");
			return 0;
		}
		path = default_path;
	}
	/* Strict: a line that cannot be read must not leave its key at the
	 * default without a word. */
	if (!listfile_open(&lf, path, LISTFILE_COMMENT_SEMICOLON | LISTFILE_COMMENT_HASH | LISTFILE_STRICT)) {
		listfile_error_text(&lf, error, error_size);
		return 0;
	}
	present = lf.fd >= 0;
	ok = mail_config_parse(cfg, &lf, error, error_size);
	listfile_close(&lf);
	if (ok && present)
		log_set_level(cfg->log_level);
	return ok;
}

void xmail_config_load(struct mail_config *cfg)
{
	char error[512];

	if (!mail_config_load(cfg, NULL, error, sizeof error))
		die_temp("%s", error);
}

/* ---- smtpserver.conf ---- */

static char *strdup_checked(const char *s, int *ok)
{
	char *d = strdup(s);
	if (!d)
		*ok = 0;
	return d;
}

static int smtpserver_conf_add_param(struct smtpserver_conf *conf, char *rest)
{
	struct smtpserver_param *p;
	char *name, *value;
	size_t vlen;
	int ok = 1;

	listfile_split(rest, &name, &value);
	vlen = strlen(value);
	if (vlen >= 2 && (value[0] == '"' || value[0] == '\'') && value[vlen - 1] == value[0]) {
		value[vlen - 1] = 0;
		value++;
	} else {
		/* A trailing " # comment" is a comment (the sample file relies on it). */
		char *hash = strstr(value, " #");
		if (!hash)
			hash = strstr(value, "\t#");
		if (hash)
			*hash = 0;
		value = trim(value);
	}
	p = realloc(conf->params, (conf->param_count + 1) * sizeof *p);
	if (!p)
		return 0;
	conf->params = p;
	p[conf->param_count].name = strdup_checked(name, &ok);
	p[conf->param_count].value = strdup_checked(value, &ok);
	conf->param_count++;
	return ok;
}

static int smtpserver_conf_add_helo(struct smtpserver_conf *conf, char *line, const struct listfile *lf)
{
	struct helo_pattern *h;
	char *pattern, *flags;
	int ok = 1;

	listfile_split(line, &pattern, &flags);
	if (!*flags) {
		log_warn("%s:%lu: HELO pattern without style flags", lf->path, lf->line_number);
		return 1;
	}
	/* ZMailer's lines carry an obsolete "*" column between pattern and flags. */
	if (flags[0] == '*' && (flags[1] == ' ' || flags[1] == '\t'))
		flags = trim(flags + 1);
	h = realloc(conf->helo, (conf->helo_count + 1) * sizeof *h);
	if (!h)
		return 0;
	conf->helo = h;
	h[conf->helo_count].pattern = strdup_checked(pattern, &ok);
	h[conf->helo_count].flags = strdup_checked(flags, &ok);
	conf->helo_count++;
	return ok;
}

/* One line that is not a comment: a PARAM, "PARAM newgroup", or a HELO pattern. */
static int smtpserver_conf_line(struct smtpserver_conf *conf, char *line, const struct listfile *lf,
				int *in_default_group)
{
	char *rest;

	if (strncmp(line, "PARAM", 5) != 0 || (line[5] != ' ' && line[5] != '\t'))
		return smtpserver_conf_add_helo(conf, line, lf);
	rest = trim(line + 6);
	if (strncasecmp(rest, "newgroup", 8) == 0) {
		/* Groups belong to ZMailer's own listener; under tcpserver each
		 * port gets its own receiver, so only the default group applies
		 * (smtpserver.conf(5)). */
		*in_default_group = 0;
		return 1;
	}
	return *in_default_group && *rest ? smtpserver_conf_add_param(conf, rest) : 1;
}

int smtpserver_conf_load(struct smtpserver_conf *conf, const char *path, char *error, size_t error_size)
{
	char default_path[PATH_MAX], *line;
	struct listfile lf;
	int ok = 1, r = 0, in_default_group = 1;

	memset(conf, 0, sizeof *conf);
	if (!path) {
		if (!home_path(default_path, sizeof default_path, "etc/smtpserver.conf")) {
			snprintf(error, error_size, "home path too long");
			return 0;
		}
		path = default_path;
	}
	if (!listfile_open(&lf, path, LISTFILE_COMMENT_HASH | LISTFILE_SKIP_INDENTED | LISTFILE_STRICT)) {
		listfile_error_text(&lf, error, error_size);
		return 0;
	}
	while (ok && (r = listfile_next(&lf, &line, NULL)) == 1)
		ok = smtpserver_conf_line(conf, line, &lf, &in_default_group);
	if (!ok)
		snprintf(error, error_size, "out of memory");
	else if (r < 0)
		listfile_error_text(&lf, error, error_size);
	listfile_close(&lf);
	if (!ok || r < 0) {
		smtpserver_conf_free(conf);
		return 0;
	}
	return 1;
}

void smtpserver_conf_free(struct smtpserver_conf *conf)
{
	size_t i;

	for (i = 0; i < conf->param_count; i++) {
		free(conf->params[i].name);
		free(conf->params[i].value);
	}
	for (i = 0; i < conf->helo_count; i++) {
		free(conf->helo[i].pattern);
		free(conf->helo[i].flags);
	}
	free(conf->params);
	free(conf->helo);
	memset(conf, 0, sizeof *conf);
}

const char *smtpserver_conf_get(const struct smtpserver_conf *conf, const char *name)
{
	const char *found = NULL;
	size_t i;

	for (i = 0; i < conf->param_count; i++) {
		const char *n = conf->params[i].name;
		if (!n)
			continue;
		if (strcasecmp(n, name) == 0)
			found = conf->params[i].value ? conf->params[i].value : "";
		else if (strncasecmp(n, "no-", 3) == 0 && strcasecmp(n + 3, name) == 0)
			found = NULL;
	}
	return found;
}

const char *smtpserver_conf_get_nth(const struct smtpserver_conf *conf, const char *name, size_t idx)
{
	size_t i;

	for (i = 0; i < conf->param_count; i++)
		if (conf->params[i].name && strcasecmp(conf->params[i].name, name) == 0 && idx-- == 0)
			return conf->params[i].value ? conf->params[i].value : "";
	return NULL;
}

int smtpserver_conf_flag(const struct smtpserver_conf *conf, const char *name)
{
	return smtpserver_conf_get(conf, name) != NULL;
}

const struct helo_pattern *smtpserver_conf_helo(const struct smtpserver_conf *conf, const char *name)
{
	size_t i;

	for (i = 0; i < conf->helo_count; i++)
		if (conf->helo[i].pattern && fnmatch(conf->helo[i].pattern, name, FNM_CASEFOLD) == 0)
			return &conf->helo[i];
	return NULL;
}
