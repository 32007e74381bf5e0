/* channel: the one table of delivery channels.  Each channel has a queue
 * (spool/queue/<name>/), a place for deferred jobs (spool/defer/<name>/),
 * and the stage program that works on it.  The spool skeleton, route,
 * runq, mailq and the resolver all read this table, so a new channel is
 * one line here (spool(5)). */
#ifndef BBSMAIL_CHANNEL_H
#define BBSMAIL_CHANNEL_H
#include <stddef.h>

/* The numbering is the resolver's (resolve.h: RESOLVE_LOCAL is 1, ...):
 * keep both in step. */
enum channel_id {
	CHANNEL_LOCAL = 1,
	CHANNEL_REMOTE,
	CHANNEL_BOARD,
	CHANNEL_QWK,
	CHANNEL_FIDO,
	CHANNEL_BOUNCE,     /* permanent failures waiting for the DSN writer */
	CHANNEL_END
};

struct channel {
	enum channel_id id;
	const char *name;      /* directory name, log field channel= */
	const char *stage;     /* program in libexec/ that works on the queue */
};

/* The channel with this id, or NULL. */
const struct channel *channel_by_id(int id);
/* The channel of this name, or NULL. */
const struct channel *channel_by_name(const char *name);
/* "local", "remote", ...; "?" for an unknown id. */
const char *channel_name(int id);
#define CHANNEL_FIRST CHANNEL_LOCAL

#endif
