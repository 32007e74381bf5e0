/* deliver-fido's own pieces: a mail message as one netmail packet, and
 * the BSO outbound it goes into (deliver-fido(8), spool(5) "F" states). */
#ifndef DELIVER_FIDO_NETMAIL_H
#define DELIVER_FIDO_NETMAIL_H
#include "buf.h"
#include "fido.h"
#include <stddef.h>
#include <stdint.h>

struct netmail {
	const struct fido_config *cfg;
	const char *to_name;            /* the FTN name (from the job's target) */
	struct ftn_addr dest;           /* the final destination */
	struct ftn_addr hop;            /* the next system */
	const struct fido_uplink *link; /* the hop's link, or NULL */
	uint32_t serial;                /* the MSGID serial */
	long long arrival;              /* for a message without a Date: */
	long long now;
};

/* The whole packet (header, one packed message, the terminator) of the
 * message (LF line ends) into out, in cfg->charset.  1 ok, 0 errno. */
int netmail_packet(const struct netmail *n, const char *message, size_t len, struct buf *out);

/* A MSGID serial: unique for our addresses over time (FTS-0009), taken
 * from spool/data/fido/serial in blocks.  1 ok, 0 errno. */
int netmail_serial(uint32_t *serial);

/* The outbound write of one packet, crash-safe (spool(5) F1-F5): key
 * names this recipient of this job (file-name-safe); the packet is in
 * spool/tmp already (tmp_path, spool/tmp/fido-<key>). */
struct outbound_write {
	const char *key;
	const char *tmp_path;
	const char *base;        /* <outbound>/<NNNNnnnn> (fido_outbound_base) */
	const char *dir;
	const char *extension;   /* out, cut, hut, dut */
	int again;               /* an earlier run had written it */
	char final_path[4096];
	char intent_path[4096];  /* the node's intent */
};
/* Fills final_path and intent_path.  1 ok, 0 errno. */
int outbound_prepare(struct outbound_write *w);
/* 1 written (again set when an earlier run had), 0 errno (EAGAIN: the
 * node is busy; EBADMSG: its .?ut does not end in the terminator). */
int outbound_deliver(struct outbound_write *w, const struct buf *packet);
/* 1 when key was written by an earlier run (its done marker). */
int outbound_was_written(const char *key);
/* Whether the node's intent, left by a killed run, is this recipient's:
 * then its packet in spool/tmp must be written as it is, not built again.
 * 1 loaded into packet (empty when it is placed already), 0 no, -1 errno. */
int outbound_pending(const struct outbound_write *w, struct buf *packet);
/* Removes the done markers of jobs no longer in spool/queue/fido/. */
void outbound_clean_markers(void);

#define OUTBOUND_MARKER_DIR "spool/data/fido"
/* Another program's .bsy older than this is stale (FTS-5005 leaves the
 * age to the implementation); one whose PID is not running on this host
 * is stale at once. */
#define OUTBOUND_BSY_STALE_SEC (2 * 3600)

#endif
