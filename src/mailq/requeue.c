/* -r ID|ALL: the deferred copies of one message (or every deferred job)
 * go back into their queues now, in every channel, whatever their next
 * attempt time; runq -l is poked so it tries them at once. */
#include "mailq.h"
#include "channel.h"
#include "envelope.h"
#include "log.h"
#include "schedule.h"
#include "spool.h"
#include <errno.h>
#include <string.h>

/* The message's copies: its queue id, or a file name of its (its bounce
 * jobs carry the failed message's id too). */
static int mailq_requeue_match(const char *name, const struct envelope *e, void *ctx)
{
	const char *id = ctx;

	return strcmp(id, MAILQ_ALL) == 0 || strcmp(e->id, id) == 0 || mailq_name_of(name, id);
}

int mailq_requeue(const char *id)
{
	struct buf v = BUF_INIT;
	unsigned long n, total = 0;
	int channel, failed = 0;

	xlog_value(&v, id);
	for (channel = CHANNEL_FIRST; channel < CHANNEL_END; channel++) {
		const char *name = channel_name(channel);
		if (!schedule_release_matching(name, mailq_requeue_match, (void *)id, &n)) {
			log_warn("unable to release the deferred %s jobs of %s: %s", name, v.data, strerror(errno));
			failed = 1;
		}
		if (n)
			log_info("event=release id=%s channel=%s jobs=%lu", v.data, name, n);
		total += n;
	}
	if (!total)
		log_info("event=release id=%s jobs=0", v.data);
	else
		spool_poke_trigger();
	buf_free(&v);
	return failed ? EXIT_TEMPORARY : 0;
}
