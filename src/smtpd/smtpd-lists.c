#include "smtpd-lists.h"
#include "hostlist.h"
#include "log.h"
#include "loginfail.h"
#include "smtpd-reply.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>

static int trusted(const struct smtp_session *s) { return s->auth_user.len || s->auth_via_ip; }

/* 1 listed; an unreadable list (logged by the reader) lists nobody. */
static int listed(int r) { return r > 0; }

int smtpd_lists_connect(struct smtp_session *s)
{
	const char *ip = strcmp(s->remote_ip, "unknown") ? s->remote_ip : "";
	const char *file = NULL;

	if (*ip && listed(loginfail_ip_filtered(ip)))
		file = "ip.can";
	else if (s->remote_host && listed(hostlist_match_client(SMTPD_HOST_CAN, "", s->remote_host)))
		file = "host.can";
	else if (!s->submission && *ip && listed(hostlist_match_client(SMTPD_SPAMBLOCK, ip, s->remote_host))
		 && !listed(hostlist_match_client(SMTPD_SPAMBLOCK_EXEMPT, ip, s->remote_host)))
		file = "spamblock.cfg";
	if (!file)
		return 1;
	log_notice("event=refused ip=%s host=%s reason=%s", s->remote_ip, s->remote_host ? s->remote_host : "unknown",
		   file);
	smtp_reply(s, 554, "5.7.1", "Access denied (%s)", file);
	s->quit = 1;
	s->close_reason = file;
	return 0;
}

int smtpd_lists_sender_refused(struct smtp_session *s, const char *sender)
{
	if (trusted(s) || !*sender || !listed(hostlist_match_address(SMTPD_EMAIL_CAN, sender)))
		return 0;
	smtp_reply(s, 553, "5.7.1", "Sender address blocked");
	smtp_log_reject(s, "MAIL", 553, "5.7.1", "email.can");
	return 1;
}

int smtpd_lists_rcpt(struct smtp_session *s, const char *address)
{
	char why[128];

	if (trusted(s))
		return 0;
	if (listed(hostlist_match_address(SMTPD_EMAIL_CAN, address))) {
		smtp_reply(s, 550, "5.7.1", "Recipient address blocked");
		smtp_log_reject(s, "RCPT", 550, "5.7.1", "email.can");
		return -1;
	}
	if (!listed(hostlist_match_address(SMTPD_SPAMBAIT, address)))
		return 0;
	/* The bait is taken: the client goes on the block list now (its next
	 * session is refused), and this message is accepted and dropped. */
	snprintf(why, sizeof why, "mail to a spam bait address (session %s)", s->log_id);
	if (strcmp(s->remote_ip, "unknown") && !hostlist_append(SMTPD_SPAMBLOCK, s->remote_ip, why))
		log_warn("unable to add %s to %s: %s", s->remote_ip, SMTPD_SPAMBLOCK, strerror(errno));
	else
		log_notice("event=spambait ip=%s: added to %s", s->remote_ip, SMTPD_SPAMBLOCK);
	s->spam_bait = 1;
	return 1;
}

int smtpd_lists_finish(struct smtp_session *s, const char *cmd)
{
	struct smtp_sink *k = &s->sink;

	if (s->spam_bait) {
		smtp_reply(s, 250, "2.0.0", "Ok: queued as %s", s->id);
		log_notice("id=%s event=spambait-drop ip=%s rcpt=%zu: message dropped", s->id, s->remote_ip, s->rcpt_count);
		return 1;
	}
	if (trusted(s) || !k->subject_text.len
	    || !listed(hostlist_match_pattern(SMTPD_SUBJECT_CAN, k->subject_text.data)))
		return 0;
	smtp_reply(s, 554, "5.7.1", "Message refused: subject blocked");
	smtp_log_reject(s, cmd, 554, "5.7.1", "subject.can");
	return 1;
}
