#include "capa.h"
#include <stddef.h>

#define CAPA_EXTRA_MAX 8

static const struct pop3_capability capa_fixed[] = {
	{ "TOP", POP3_STATE_AUTHORIZATION | POP3_STATE_TRANSACTION, NULL },
	{ "UIDL", POP3_STATE_AUTHORIZATION | POP3_STATE_TRANSACTION, NULL },
	{ "USER", POP3_STATE_AUTHORIZATION, NULL },
	{ "RESP-CODES", POP3_STATE_AUTHORIZATION | POP3_STATE_TRANSACTION, NULL },
	{ "AUTH-RESP-CODE", POP3_STATE_AUTHORIZATION | POP3_STATE_TRANSACTION, NULL },
	{ "PIPELINING", POP3_STATE_AUTHORIZATION | POP3_STATE_TRANSACTION, NULL },
	/* Messages are kept until the user deletes them. */
	{ "EXPIRE NEVER", POP3_STATE_AUTHORIZATION | POP3_STATE_TRANSACTION, NULL },
	{ "IMPLEMENTATION bbsmail", POP3_STATE_AUTHORIZATION | POP3_STATE_TRANSACTION, NULL },
};

/* Registered once at start-up, before any session runs: a table, not state. */
static const struct pop3_capability *capa_extra[CAPA_EXTRA_MAX];
static size_t capa_extra_count;

int pop3_capa_register(const struct pop3_capability *cap)
{
	if (capa_extra_count == CAPA_EXTRA_MAX)
		return 0;
	capa_extra[capa_extra_count++] = cap;
	return 1;
}

static void capa_line(struct pop3_session *s, const struct pop3_capability *cap)
{
	if (!(cap->states & s->state) || (cap->offered && !cap->offered(s)))
		return;
	xconn_puts(&s->conn, cap->text);
	xconn_puts(&s->conn, "\r\n");
}

void pop3_cmd_capa(struct pop3_session *s, const char *arg)
{
	size_t i;

	if (arg) {
		pop3_err(s, "CAPA takes no argument");
		return;
	}
	pop3_ok(s, "capability list follows");
	for (i = 0; i < sizeof capa_fixed / sizeof capa_fixed[0]; i++)
		capa_line(s, &capa_fixed[i]);
	for (i = 0; i < capa_extra_count; i++)
		capa_line(s, capa_extra[i]);
	pop3_end_multiline(s);
}
