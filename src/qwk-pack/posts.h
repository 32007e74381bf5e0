/* qwk-pack's board posts: the new posts of a sub-board a node carries. */
#ifndef QWK_PACK_POSTS_H
#define QWK_PACK_POSTS_H
#include "board.h"
#include "buf.h"
#include <stddef.h>
#include <stdint.h>

struct conf_posts {
	unsigned number;          /* the conference */
	const struct board *board;
	uint32_t start, end;      /* JAM index records [start, end) */
	struct buf blocks;        /* their QWK messages, unnumbered */
	size_t count;
};

/* The posts of the board's JAM base from index record c->start to the end
 * of the index (c->end is set to it), except deleted ones and those that
 * came from node_id (their REPLYADDR starts with "<node_id>!" or
 * "<node_id>/"), as QWK messages of conference c->number.  1 ok, 0 errno
 * (a base that does not exist yet has no posts). */
int posts_collect(struct conf_posts *c, const char *node_id);
/* The number of index records of the base now (0 when it does not exist). */
int posts_index_end(const struct board *b, uint32_t *end);

#endif
