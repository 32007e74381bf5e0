/* fido-toss's own pieces (fido-toss(1)). */
#ifndef FIDO_TOSS_H
#define FIDO_TOSS_H
#include "buf.h"
#include "fido.h"
#include "ftnpkt.h"
#include <stddef.h>

/* What one netmail says, after its kludges are read. */
struct netmail_in {
	struct ftn_addr orig, dest;
	struct buf msgid, reply, charset;   /* "" when absent */
	int tz_minutes, has_tz;             /* TZUTC */
};

/* Reads INTL, FMPT, TOPT, MSGID, REPLY, CHRS and TZUTC of m; the zone
 * comes from INTL, else from the packet header (h). */
int netmail_in_read(struct netmail_in *in, const struct ftn_message *m, const struct ftn_packet_header *h);
void netmail_in_free(struct netmail_in *in);

/* The RFC 5322 message (LF line ends) of a netmail to recipient, the
 * text converted from its charset (default_charset without CHRS) to
 * UTF-8.  1 ok, 0 errno. */
int netmail_to_mail(const struct ftn_message *m, const struct netmail_in *in, const char *recipient,
		    const char *host_name, const char *default_charset, struct buf *out);
/* An e-mail address for an FTN name at a: "Joe.Bloggs@f5.n250.z2.fidonet"
 * (a space is '.', anything but letters, digits and "-_." is '_'). */
int netmail_address(const char *name, size_t len, const struct ftn_addr *a, struct buf *out);

/* The MSGIDs seen (spool/data/fido/dupes): at most TOSS_DUPES_MAX kept,
 * the older half dropped when the file grows past it. */
#define TOSS_DUPES_FILE "spool/data/fido/dupes"
#define TOSS_DUPES_MAX 20000
struct dupes {
	char **ids;
	size_t count;
	int fd;
};
int dupes_open(struct dupes *d);
int dupes_seen(const struct dupes *d, const char *msgid);
/* Appends and fsyncs.  1 ok, 0 errno. */
int dupes_add(struct dupes *d, const char *msgid);
void dupes_close(struct dupes *d);

#endif
