#include "channel.h"
#include <string.h>

/* In the order a message travels; runq starts the stages in this order. */
static const struct channel channels[] = {
	{ CHANNEL_LOCAL, "local", "deliver-local" },
	{ CHANNEL_REMOTE, "remote", "deliver-remote" },
	{ CHANNEL_BOARD, "board", "deliver-board" },
	{ CHANNEL_QWK, "qwk", "deliver-qwk" },
	{ CHANNEL_FIDO, "fido", "deliver-fido" },
	{ CHANNEL_BOUNCE, "bounce", "deliver-bounce" },
};

const struct channel *channel_by_id(int id)
{
	if (id < CHANNEL_FIRST || id >= CHANNEL_END)
		return NULL;
	return &channels[id - CHANNEL_FIRST];
}

const struct channel *channel_by_name(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof channels / sizeof channels[0]; i++)
		if (strcmp(channels[i].name, name) == 0)
			return &channels[i];
	return NULL;
}

const char *channel_name(int id)
{
	const struct channel *c = channel_by_id(id);

	return c ? c->name : "?";
}
