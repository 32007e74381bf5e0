/* pickup: turns a drop file (drop.h) into spool/incoming/<id>, trusting
 * nothing in it but what a local user may claim, and taking the submitter
 * from the file's owner.  libexec/pickup runs it over spool/drop/; bin/sendmail
 * runs it on its own file when its caller is the mail user itself (no
 * privilege line to cross).  The order of the steps, and what a crash
 * between them leaves, is the pickup part of spool(5)'s state table. */
#ifndef BBSMAIL_PICKUP_H
#define BBSMAIL_PICKUP_H
#include "buf.h"
#include "spool.h"
#include <limits.h>
#include <stddef.h>

/* A drop file without its complete mark is a sendmail that died while
 * writing (or one still writing); after this long it is removed. */
#define PICKUP_INCOMPLETE_MAX_AGE_SEC (60 * 60)
#define PICKUP_TMP_PREFIX SPOOL_PICKUP_TMP_PREFIX
#define PICKUP_LOGIN_MAX_BYTES 64

struct mail_config;

struct pickup {
	const struct mail_config *cfg;
	char drop_dir[PATH_MAX];
	char bad_dir[PATH_MAX];
	char incoming_dir[PATH_MAX];
};

/* What a picked-up file became, for the caller's log line. */
struct pickup_result {
	char id[SPOOL_ID_MAX_BYTES];
	unsigned long uid;
	char login[PICKUP_LOGIN_MAX_BYTES];
	struct buf sender;
	size_t rcpt_count;
	size_t size;
};

enum pickup_outcome {
	PICKUP_DONE,      /* now spool/incoming/<id>, the drop file gone */
	PICKUP_SKIPPED,   /* not ours to take now: gone, incomplete, or claimed */
	PICKUP_LATER,     /* temporary trouble: left in place for the next run */
	PICKUP_REFUSED    /* never trusted: moved to spool/drop-bad/ (logged) */
};

/* 1 ok, 0 ENAMETOOLONG. */
int pickup_init(struct pickup *p, const struct mail_config *cfg);
void pickup_result_free(struct pickup_result *res);
/* One entry of spool/drop/.  Refusals and removals are logged here. */
enum pickup_outcome pickup_file(struct pickup *p, const char *name, struct pickup_result *res);
/* Finishes what a killed pickup left in spool/tmp/ (spool(5)).  Returns
 * how many it could not finish now. */
unsigned long pickup_recover(struct pickup *p);

#endif
