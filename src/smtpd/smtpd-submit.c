#include "smtpd-submit.h"
#include "authvia.h"
#include "log.h"
#include "smtpd-auth.h"
#include "smtpd-reply.h"
#include <errno.h>
#include <string.h>
#include <time.h>

void smtpd_submit_start(struct smtp_session *s)
{
	int r;

	if (s->cfg.options & MAIL_OPTION(SMTP_AUTH_VIA_IP)) {
		r = authvia_recent(s->remote_ip, s->cfg.auth_via_ip_window_sec, time(NULL));
		if (r < 0)
			log_warn("unable to read the POP-before-SMTP table: %s", strerror(errno));
		s->auth_via_ip = r == 1;
		if (s->auth_via_ip)
			log_info("event=auth-via-ip ip=%s window=%lu", s->remote_ip, s->cfg.auth_via_ip_window_sec);
	}
	smtpd_relay_update(s);
}

int smtpd_submit_mail_allowed(struct smtp_session *s)
{
	if (!s->submission || s->auth_user.len || s->auth_via_ip)
		return 1;
	smtp_reply(s, 530, "5.7.0", "Authentication required");
	smtp_log_reject(s, "MAIL", 530, "5.7.0", "auth-required");
	return 0;
}
