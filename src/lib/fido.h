/* fido: FidoNet addresses and etc/fidonet.cfg (fidonet.cfg(5)): our
 * addresses, the BinkleyTerm-style outbound (FTS-5005), the inbound, the
 * uplinks and the route for netmail to nodes we have no link to.  Read
 * strictly, like boards.cfg: one bad line fails the whole file. */
#ifndef BBSMAIL_FIDO_H
#define BBSMAIL_FIDO_H
#include "buf.h"
#include <limits.h>
#include <stddef.h>

#define FIDO_FILE "etc/fidonet.cfg"
/* FTS-0001: the packed message's name fields are ASCIIZ of 36 bytes. */
#define FIDO_NAME_MAX_BYTES 35
#define FIDO_SUBJECT_MAX_BYTES 71
#define FIDO_PASSWORD_MAX_BYTES 8
#define FIDO_CHARSET_MAX_BYTES 31
#define FIDO_ZONE_MAX 32767U
#define FIDO_NUMBER_MAX 65535U

struct ftn_addr {
	unsigned zone, net, node, point;
};

enum fido_flavour {
	FIDO_FLAVOUR_NORMAL = 'o',
	FIDO_FLAVOUR_CRASH = 'c',
	FIDO_FLAVOUR_HOLD = 'h',
	FIDO_FLAVOUR_DIRECT = 'd'
};

struct fido_uplink {
	struct ftn_addr addr;
	char password[FIDO_PASSWORD_MAX_BYTES + 1];   /* "" none */
	enum fido_flavour flavour;
};

struct fido_config {
	struct ftn_addr *addrs;        /* ours; the first is the primary */
	size_t addr_count;
	char outbound[PATH_MAX];       /* absolute: the BSO root */
	char inbound[PATH_MAX];        /* absolute */
	struct fido_uplink *uplinks;
	size_t uplink_count;
	int route_direct;              /* 0: via the first uplink */
	char charset[FIDO_CHARSET_MAX_BYTES + 1];
};

/* "zone:net/node[.point]" with the ranges above (zone 1..32767).  1 ok, 0
 * malformed. */
int ftn_addr_parse(const char *s, struct ftn_addr *a);
/* "zone:net/node" and ".point" when the point is not 0. */
void ftn_addr_format(char *out, size_t size, const struct ftn_addr *a);
#define FTN_ADDR_MAX_BYTES 32
int ftn_addr_equal(const struct ftn_addr *a, const struct ftn_addr *b);

/* The e-mail form: "f<node>.n<net>.z<zone>.fidonet" or
 * "p<point>.f...": NULL with *a, else what is wrong (malformed, or which
 * number is out of range). */
const char *fido_domain_parse(const char *domain, struct ftn_addr *a);
/* The e-mail domain of a: "p<point>." only when the point is not 0. */
void fido_domain_format(char *out, size_t size, const struct ftn_addr *a);
/* An FTN user name from an e-mail local part ('.' and '_' read as
 * spaces, quotes removed) into out; NULL when fine, else what is wrong. */
const char *fido_name_from_local(const char *local, struct buf *out);

/* A MSGID (FTS-0009 "<origin> <serial>") as an RFC 5322 Message-ID and
 * back: "<" + the MSGID with every byte but letters, digits and '-'
 * written =XX + "@" FIDO_MSGID_DOMAIN ">", so a reply's In-Reply-To gives
 * the REPLY kludge without any table.  decode: 1 when message_id has
 * that form, 0 not, -1 ENOMEM. */
#define FIDO_MSGID_DOMAIN "msgid.fidonet"
int fido_msgid_encode(const char *msgid, size_t len, struct buf *out);
int fido_msgid_decode(const char *message_id, struct buf *out);

/* The pairs of MSGID and Message-ID of the netmail deliver-fido wrote, so
 * that a netmail reply (REPLY) threads under the mail it answers and a
 * mail reply to that mail gets the REPLY kludge.  One line
 * "<msgid>\t<message-id>\n" each, appended with one write under an flock;
 * past FIDO_MSGID_MAP_MAX_BYTES the newer half is kept.  A lost line only
 * costs the threading, so nothing is fsynced. */
#define FIDO_MSGID_MAP_FILE "spool/data/fido/msgids"
#define FIDO_MSGID_MAP_MAX_BYTES (1024 * 1024)
/* 1 ok (also when a value holds a tab or newline and is not recorded),
 * 0 errno. */
int fido_msgid_map_add(const char *msgid, const char *message_id);
/* The other half of the newest pair whose MSGID (by_msgid 1) or Message-ID
 * (0) is key, into out.  1 found, 0 not, -1 errno. */
int fido_msgid_map_find(const char *key, int by_msgid, struct buf *out);

/* Reads etc/fidonet.cfg.  1 ok (cfg->addr_count 0 when the file is missing
 * or names no address: FidoNet is off), 0 with "file:line: what" in error. */
int fido_config_load(struct fido_config *cfg, char *error, size_t error_size);
void fido_config_free(struct fido_config *cfg);
/* 1 when a is one of our addresses. */
int fido_is_ours(const struct fido_config *cfg, const struct ftn_addr *a);
/* Our address to use towards a: the first in a's zone, else the primary. */
const struct ftn_addr *fido_our_address(const struct fido_config *cfg, const struct ftn_addr *a);
const struct fido_uplink *fido_uplink_find(const struct fido_config *cfg, const struct ftn_addr *a);
/* The next hop for netmail to dest and its link (NULL: none configured,
 * sent unprotected, normal flavour).  1 ok, 0 when there is no route (via
 * the uplink, and none is configured). */
int fido_next_hop(const struct fido_config *cfg, const struct ftn_addr *dest, struct ftn_addr *hop,
		  const struct fido_uplink **link);
/* The outbound path of hop's files, without the extension:
 * <root>[.zzz]/<NNNNnnnn> or .../<NNNNnnnn>.pnt/0000<pppp>, and the
 * directory it is in.  1 ok, 0 ENAMETOOLONG. */
int fido_outbound_base(const struct fido_config *cfg, const struct ftn_addr *hop, char *base, size_t size, char *dir,
		       size_t dir_size);
/* The extension of a netmail packet of this flavour: "out", "cut", ... */
const char *fido_packet_extension(enum fido_flavour f);

#endif
