/* config: etc/mail.ini (Synchronet's sbbs.ini [mail] and [global] keys) and
 * etc/smtpserver.conf (ZMailer's PARAM lines and HELO patterns).
 * mail.ini(5) and smtpserver.conf(5) document every key.  Loaded once per
 * process; both files are small, so each receiver reads them at start. */
#ifndef BBSMAIL_CONFIG_H
#define BBSMAIL_CONFIG_H
#include <stddef.h>

/* Options flags of [mail] (Synchronet names). */
#define MAIL_OPTION_LIST(X) \
	X(USE_SUBMISSION_PORT) X(TLS_SUBMISSION) X(ALLOW_POP3) X(DEBUG_POP3) X(TLS_POP3) \
	X(DEBUG_TX) X(DEBUG_RX_HEADER) X(DEBUG_RX_BODY) X(DEBUG_RX_RSP) X(ALLOW_RX_BY_NUMBER) \
	X(ALLOW_SYSOP_ALIASES) X(NO_NOTIFY) X(NO_HOST_LOOKUP) X(USE_TCP_DNS) X(NO_SENDMAIL) \
	X(ALLOW_RELAY) X(SMTP_AUTH_VIA_IP) X(DNSBL_REFUSE) X(DNSBL_IGNORE) X(DNSBL_BADUSER) \
	X(DNSBL_CHKRECVHDRS) X(DNSBL_THROTTLE) X(DNSBL_SPAMHASH) X(SEND_INTRANSIT) X(RELAY_TX) \
	X(RELAY_AUTH_PLAIN) X(RELAY_AUTH_LOGIN) X(RELAY_AUTH_CRAM_MD5) X(NO_AUTO_EXEMPT) \
	X(NO_RECYCLE) X(KILL_READ_SPAM) X(MUTE)

enum mail_option_bit {
#define MAIL_OPTION_BIT(name) MAIL_OPTION_BIT_##name,
	MAIL_OPTION_LIST(MAIL_OPTION_BIT)
#undef MAIL_OPTION_BIT
	MAIL_OPTION_COUNT
};
#define MAIL_OPTION(name) (1ULL << MAIL_OPTION_BIT_##name)

#define CONFIG_STRING_MAX 256

struct mail_config {
	char host_name[CONFIG_STRING_MAX];
	char interface[CONFIG_STRING_MAX];
	char pop3_interface[CONFIG_STRING_MAX];
	char outbound_interface[CONFIG_STRING_MAX];
	unsigned smtp_port, submission_port, tls_submission_port, pop3_port, tls_pop3_port;
	unsigned long max_clients;
	unsigned long max_inactivity_sec;
	unsigned long max_session_sec;             /* whole connection; 0 = no limit */
	unsigned long max_delivery_attempts;
	unsigned long rescan_frequency_sec;
	unsigned long sem_file_check_frequency_sec;
	unsigned long lines_per_yield;
	unsigned long max_recipients;
	unsigned long long max_msg_size_bytes;     /* 0 = no limit */
	unsigned long max_msgs_waiting;            /* 0 = no limit */
	unsigned long connect_timeout_sec;
	char temp_directory[CONFIG_STRING_MAX];
	char relay_server[CONFIG_STRING_MAX];
	unsigned relay_port;
	char relay_username[CONFIG_STRING_MAX];
	char relay_password[CONFIG_STRING_MAX];
	char dns_server[CONFIG_STRING_MAX];        /* "" = the system resolver */
	char default_user[CONFIG_STRING_MAX];
	char default_charset[CONFIG_STRING_MAX];
	char dnsbl_header[CONFIG_STRING_MAX];
	char dnsbl_subject[CONFIG_STRING_MAX];
	char new_mail_notice[CONFIG_STRING_MAX];
	char forward_notice[CONFIG_STRING_MAX];
	int log_level;
	unsigned long bind_retry_count, bind_retry_delay_sec;
	/* [global] LoginAttempt* (Synchronet): delays in ms, durations in s. */
	unsigned long login_attempt_delay_ms;
	unsigned long login_attempt_throttle_ms;
	unsigned long login_attempt_hack_threshold;
	unsigned long login_attempt_temp_ban_threshold;
	unsigned long login_attempt_temp_ban_duration_sec;
	unsigned long login_attempt_filter_threshold;
	/* bbsmail keys (not in Synchronet), see mail.ini(5). */
	char tls_cert_file[CONFIG_STRING_MAX];
	char tls_key_file[CONFIG_STRING_MAX];
	char tls_ca_file[CONFIG_STRING_MAX];
	unsigned long auth_via_ip_window_sec;      /* SMTP_AUTH_VIA_IP window */
	/* Outbound delivery (deliver-remote(8), deliver-bounce(8)). */
	unsigned long max_queue_lifetime_sec;      /* 0 = no limit */
	unsigned long delay_warning_sec;           /* 0 = no delay notices */
	unsigned long outbound_concurrency;        /* sessions at once, in all */
	unsigned long outbound_per_destination;    /* sessions at once to one */
	unsigned long relay_auth_plaintext;        /* 1: AUTH to RelayServer without TLS */
	unsigned outbound_port;                    /* the port of MX hosts (25) */
	unsigned long outbound_timeout_sec;        /* caps each SMTP wait; 0: RFC 5321's */
	unsigned long long options;                /* MAIL_OPTION(...) bits */
};

/* Fills every field with its documented default. */
void mail_config_defaults(struct mail_config *cfg);
/* Reads path (NULL: <home>/etc/mail.ini; a missing file means defaults).
 * Unknown keys and malformed lines are logged as warnings naming file:line.
 * Returns 1, or 0 with a message in error (a bad value, an unreadable file). */
int mail_config_load(struct mail_config *cfg, const char *path, char *error, size_t error_size);
/* The same, dying (temporary) with the message. */
void xmail_config_load(struct mail_config *cfg);
/* Value parsers shared with smtpserver.conf: 1 ok, 0 malformed. */
int config_parse_size(const char *s, unsigned long long *bytes);     /* 20MB, 512K, 100 */
int config_parse_duration(const char *s, unsigned long *seconds);    /* 60M, 2h, 30 */
int config_parse_ulong(const char *s, unsigned long *value);
int config_parse_options(const char *s, unsigned long long *options, const char *file, int line);
const char *mail_option_name(int bit);
/* Writes key's current value as text (sizes in bytes, durations in seconds,
 * Options as NAME|NAME).  1 ok, 0 unknown key. */
int mail_config_format(const struct mail_config *cfg, const char *key, char *out, size_t size);
/* The bit of an Options flag name, or -1. */
int mail_option_bit(const char *name);

/* smtpserver.conf: PARAM lines (in the default group) and HELO patterns. */
struct smtpserver_param {
	char *name;
	char *value;    /* rest of the line, outer quotes removed; "" if none */
};
struct helo_pattern {
	char *pattern;  /* glob matched against the HELO/EHLO name */
	char *flags;    /* style flags, or "!message" to reject */
};
struct smtpserver_conf {
	struct smtpserver_param *params;
	size_t param_count;
	struct helo_pattern *helo;
	size_t helo_count;
};
/* path NULL: <home>/etc/smtpserver.conf; missing means empty.  1 ok, 0 error. */
int smtpserver_conf_load(struct smtpserver_conf *conf, const char *path, char *error, size_t error_size);
void smtpserver_conf_free(struct smtpserver_conf *conf);
/* The last value given for name (case-insensitive), or NULL.  "no-<name>"
 * after "<name>" turns it off again (returns NULL). */
const char *smtpserver_conf_get(const struct smtpserver_conf *conf, const char *name);
/* Every value of a repeatable PARAM (help), in order; idx from 0, NULL at end. */
const char *smtpserver_conf_get_nth(const struct smtpserver_conf *conf, const char *name, size_t idx);
int smtpserver_conf_flag(const struct smtpserver_conf *conf, const char *name);
/* The first HELO pattern matching name, or NULL. */
const struct helo_pattern *smtpserver_conf_helo(const struct smtpserver_conf *conf, const char *name);

#endif
