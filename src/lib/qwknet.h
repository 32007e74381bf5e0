/* qwknet: the QWKnet nodes this hub serves and the conferences their
 * packets carry (etc/qwknet.cfg, qwknet.cfg(5)).  Three kinds of line:
 *   hub <our QWK id>
 *   node <id> <password> [<via-route>]
 *   conf <number> <sub-board code> <node-id>[,<node-id>...]
 * The resolver turns "<route>!<user>" into a QWK target; deliver-qwk,
 * qwk-pack and qwk-unpack find a node's spool directory and conferences
 * here. */
#ifndef BBSMAIL_QWKNET_H
#define BBSMAIL_QWKNET_H
#include "board.h"
#include "buf.h"
#include <stddef.h>

#define QWKNET_FILE "etc/qwknet.cfg"
#define QWK_ID_MAX_BYTES 8
/* A route is at most this many ids (hops), "A/B/C/...". */
#define QWK_ROUTE_MAX_HOPS 16
/* spool/qwk/<ID>/: a node's queued netmail and its packets (spool(5)). */
#define QWK_SPOOL_DIR "spool/qwk"
/* The QWK conference of netmail (E-mail). */
#define QWK_NETMAIL_CONFERENCE 0

struct qwk_node {
	char id[QWK_ID_MAX_BYTES + 1];   /* upper case */
	char *password;                   /* "" when "-" */
	char *via;                        /* NULL: calls us itself; else "HUB/..." */
};

struct qwk_conference {
	unsigned number;                  /* 1..65535 */
	char code[BOARD_CODE_MAX_BYTES + 1];
	char **nodes;                     /* the node ids that carry it */
	size_t node_count;
};

struct qwknet {
	char hub[QWK_ID_MAX_BYTES + 1];   /* our own id, "" when not set */
	struct qwk_node *nodes;
	size_t node_count;
	struct qwk_conference *conferences;
	size_t conference_count;
};
#define QWKNET_INIT { "", NULL, 0, NULL, 0 }

/* 1 when id is 1-8 letters and digits. */
int qwk_id_valid(const char *id, size_t len);
/* Reads etc/qwknet.cfg strictly: a missing file is an empty list; any bad
 * line fails the whole read (0, errno EINVAL, "file:line: what" in error). */
int qwknet_load(struct qwknet *net, char *error, size_t error_size);
void qwknet_free(struct qwknet *net);
/* The node of this id (case-insensitive), or NULL. */
const struct qwk_node *qwknet_find_node(const struct qwknet *net, const char *id);
/* The conference of this number, or NULL. */
const struct qwk_conference *qwknet_find_conference(const struct qwknet *net, unsigned number);
/* 1 when node id carries the conference. */
int qwknet_carries(const struct qwk_conference *c, const char *id);

enum qwk_route_result {
	QWK_ROUTE_OK = 1,        /* target filled */
	QWK_ROUTE_MALFORMED,     /* *why says what (553 5.1.3) */
	QWK_ROUTE_UNKNOWN,       /* the first hop is no configured node (550 5.1.2) */
	QWK_ROUTE_NOMEM = 0
};
/* "<route>!<user>" (route "ID" or "ID/ID/..."): the full route from here,
 * the first hop's via route put in front, upper case, as
 * "<HOP1>/<HOP2>...!<user>" in target. */
enum qwk_route_result qwknet_route(const struct qwknet *net, const char *local, struct buf *target,
				   const char **why);

/* A target split: first hop, the route after it ("" for a single hop),
 * the user.  1 ok, 0 EINVAL (not a well-formed target). */
struct qwk_target {
	char hop[QWK_ID_MAX_BYTES + 1];
	char rest[QWK_ROUTE_MAX_HOPS * (QWK_ID_MAX_BYTES + 1)];
	const char *user;        /* points into the target string */
};
int qwk_target_split(const char *target, struct qwk_target *t);

#endif
