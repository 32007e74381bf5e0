/* capa: the CAPA list (RFC 2449) as a table.  The fixed entries live in
 * capa.c; another module (STLS and SASL in the TLS work) adds its own with
 * pop3_capa_register() before the session starts, with a predicate that
 * decides per session whether to offer it. */
#ifndef BBSMAIL_POP3D_CAPA_H
#define BBSMAIL_POP3D_CAPA_H
#include "session.h"

struct pop3_capability {
	const char *text;      /* the CAPA line without CRLF, e.g. "STLS" */
	unsigned states;       /* enum pop3_state bits where it is listed */
	int (*offered)(const struct pop3_session *s);  /* NULL: always */
};

/* 1 ok, 0 when the extension table is full. */
int pop3_capa_register(const struct pop3_capability *cap);

#endif
