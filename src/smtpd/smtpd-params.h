/* smtpd-params: the ESMTP parameters of MAIL (SIZE, BODY, SMTPUTF8, RET,
 * ENVID, AUTH) and RCPT (NOTIFY, ORCPT), RFC 1869/1870/6152/6531/3461/4954.
 * Each parameter may appear once; xtext is decoded strictly. */
#ifndef BBSMAIL_SMTPD_PARAMS_H
#define BBSMAIL_SMTPD_PARAMS_H
#include "smtpd-session.h"

struct smtp_param_error {
	int code;               /* 501, 552, 555 */
	const char *enhanced;
	const char *text;
};

struct smtp_mail_params {
	int has_size;
	unsigned long long size;    /* ULLONG_MAX when too large to count */
	const char *body;           /* "7BIT" / "8BITMIME" / NULL */
	int smtputf8;
	const char *ret;            /* "FULL" / "HDRS" / NULL */
	int has_envid;
	struct buf envid;           /* decoded */
	int has_auth;
	struct buf auth;            /* decoded AUTH= mailbox, "" for <> */
};

struct smtp_rcpt_params {
	int has_notify;
	struct buf notify;          /* upper case, e.g. "SUCCESS,FAILURE" */
	int has_orcpt;
	struct buf orcpt;           /* "<type>;<decoded address>" */
};

/* 1 when every parameter is valid, else 0 with err filled. */
int smtp_params_mail(const struct smtp_session *s, const char *params, struct smtp_mail_params *p,
		     struct smtp_param_error *err);
int smtp_params_rcpt(const struct smtp_session *s, const char *params, struct smtp_rcpt_params *p,
		     struct smtp_param_error *err);
void smtp_mail_params_free(struct smtp_mail_params *p);
void smtp_rcpt_params_free(struct smtp_rcpt_params *p);
/* Strict RFC 3461 xtext decoding onto out; 0 on a malformed '+' sequence,
 * a byte outside 33..126, or a decoded control byte. */
int smtp_xtext_decode(const char *in, size_t len, struct buf *out);

#endif
