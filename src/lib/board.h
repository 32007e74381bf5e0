/* board: the sub-boards that take mail (etc/boards.cfg, boards.cfg(5)).
 * One line a board:
 *   <code> <post> <max-size> <charset> <base> <name...>
 * The resolver asks whether a code exists and the sender may post there;
 * deliver-board and bbsmail-board find the board's JAM base from it. */
#ifndef BBSMAIL_BOARD_H
#define BBSMAIL_BOARD_H
#include <stddef.h>

#define BOARD_FILE "etc/boards.cfg"
/* A code is a file-name-safe word: letters, digits, '-', '_', '.', not
 * starting with '.', at most this long. */
#define BOARD_CODE_MAX_BYTES 24
#define BOARD_CHARSET_MAX_BYTES 31

enum board_post {
	BOARD_POST_ANYONE = 1,   /* any sender */
	BOARD_POST_LOCAL,        /* a sender address that names a user here */
	BOARD_POST_AUTH,         /* an authenticated SMTP session */
	BOARD_POST_LIST          /* one of the listed addresses */
};

struct board {
	char code[BOARD_CODE_MAX_BYTES + 1];
	enum board_post post;
	char **post_list;        /* BOARD_POST_LIST: the addresses */
	size_t post_count;
	unsigned long long max_bytes;   /* 0: no limit beyond the system's */
	char charset[BOARD_CHARSET_MAX_BYTES + 1];   /* "" ("-"): DefaultCharset */
	char *base;              /* relative to the home: the JAM base name (no suffix) */
	char *name;
};

struct board_list {
	struct board *boards;
	size_t count;
};
#define BOARD_LIST_INIT { NULL, 0 }

/* 1 when code is a valid board code. */
int board_code_valid(const char *code);
/* Reads etc/boards.cfg strictly: a missing file is an empty list; any bad
 * line fails the whole read (0, with "file:line: what" in error). */
int board_list_load(struct board_list *list, char *error, size_t error_size);
void board_list_free(struct board_list *list);
/* The board of this code (case-insensitive), or NULL. */
const struct board *board_find(const struct board_list *list, const char *code);
/* Whether sender (the envelope address, "" for <>) may post.  auth_user
 * is the SMTP AUTH identity or "" / NULL; sender_is_local says whether the
 * sender names a user here (the resolver decides). */
int board_may_post(const struct board *b, const char *sender, const char *auth_user, int sender_is_local);
/* "anyone", "local", "auth", "list". */
const char *board_post_name(enum board_post post);

#endif
