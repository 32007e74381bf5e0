/* mailq: the sysop's view of the spool (mailq(1)) and its two commands:
 *   list.c     the listing (read-only, no locks): a line per spool file,
 *              then a line per recipient with its state
 *   requeue.c  -r ID|ALL: release deferred copies now
 *   delete.c   -x ID: remove a message from every queue, each file claimed
 * -d is the home in every bbsmail program, so deletion is -x. */
#ifndef BBSMAIL_MAILQ_H
#define BBSMAIL_MAILQ_H
#include "buf.h"
#include <time.h>

/* -r ALL: every deferred job of every channel. */
#define MAILQ_ALL "ALL"

struct mailq_list {
	int count_only;
	unsigned long count;
	unsigned long remote;   /* entries in the remote channel */
	time_t now;
	struct buf line;
};

/* Prints the listing (or, with count_only, counts).  Returns 0. */
int mailq_list(struct mailq_list *q);
/* -r: exit code 0, or 111 when the spool could not be read. */
int mailq_requeue(const char *id);
/* -x: exit code 0 when every file of the message was removed, 100 when
 * the spool holds nothing of that id, 111 when a file was busy (a stage
 * holds it: try again) or could not be removed. */
int mailq_delete(const char *id);
/* 1 when a spool file name belongs to the message id: the id itself, or
 * one of its bounce jobs, <id>.b<attempts>. */
int mailq_name_of(const char *name, const char *id);

#endif
