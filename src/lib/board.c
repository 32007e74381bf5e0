/* board: etc/boards.cfg, read strictly (board.h, boards.cfg(5)). */
#include "board.h"
#include "config.h"
#include "listfile.h"
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int board_code_valid(const char *code)
{
	size_t n = strlen(code), i;

	if (n == 0 || n > BOARD_CODE_MAX_BYTES || code[0] == '.')
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)code[i]) && !strchr("-_.", code[i]))
			return 0;
	return 1;
}

/* A base path stays inside the home: relative, no "." or ".." component,
 * only file-name-safe bytes. */
static int base_valid(const char *base)
{
	const char *p = base, *slash;
	size_t n;

	if (!*base || *base == '/' || strlen(base) > 200)
		return 0;
	for (; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("-_./", *p))
			return 0;
	for (p = base;; p = slash + 1) {
		slash = strchr(p, '/');
		n = slash ? (size_t)(slash - p) : strlen(p);
		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return 0;
		if (!slash)
			return 1;
	}
}

static int charset_valid(const char *s)
{
	if (!*s || strlen(s) > BOARD_CHARSET_MAX_BYTES)
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("-_.:", *s))
			return 0;
	return 1;
}

static void board_free(struct board *b)
{
	size_t i;

	for (i = 0; i < b->post_count; i++)
		free(b->post_list[i]);
	free(b->post_list);
	free(b->base);
	free(b->name);
	memset(b, 0, sizeof *b);
}

/* "a@b,c@d": each address non-empty with an '@'.  NULL when fine, else
 * the problem (errno ENOMEM for "out of memory"). */
static const char *parse_post_list(struct board *b, char *list)
{
	char *save = NULL, *a;
	char **grown;

	for (a = strtok_r(list, ",", &save); a; a = strtok_r(NULL, ",", &save)) {
		if (!strchr(a, '@') || a[0] == '@')
			return "a poster must be anyone, local, auth or a list of addresses";
		grown = realloc(b->post_list, (b->post_count + 1) * sizeof *grown);
		if (!grown || !(grown[b->post_count] = strdup(a))) {
			if (grown)
				b->post_list = grown;
			return "out of memory";
		}
		b->post_list = grown;
		b->post_count++;
	}
	return b->post_count ? NULL : "empty poster list";
}

static const char *parse_post(struct board *b, char *post)
{
	if (strcasecmp(post, "anyone") == 0)
		b->post = BOARD_POST_ANYONE;
	else if (strcasecmp(post, "local") == 0)
		b->post = BOARD_POST_LOCAL;
	else if (strcasecmp(post, "auth") == 0)
		b->post = BOARD_POST_AUTH;
	else {
		b->post = BOARD_POST_LIST;
		return parse_post_list(b, post);
	}
	return NULL;
}

/* One line into b.  NULL when fine, else what is wrong. */
static const char *parse_line(struct board *b, char *line)
{
	char *code = listfile_next_word(&line), *post = listfile_next_word(&line), *max = listfile_next_word(&line);
	char *charset = listfile_next_word(&line), *base = listfile_next_word(&line), *name;
	const char *problem;

	while (*line == ' ' || *line == '\t')
		line++;
	name = line;
	if (!code || !post || !max || !charset || !base || !*name)
		return "expected: code post max-size charset base name";
	if (!board_code_valid(code))
		return "bad board code (letters, digits, '-', '_', '.', at most 24)";
	strcpy(b->code, code);
	problem = parse_post(b, post);
	if (problem)
		return problem;
	if (strcmp(max, "-") != 0 && !config_parse_size(max, &b->max_bytes))
		return "bad max-size";
	if (strcmp(charset, "-") != 0) {
		if (!charset_valid(charset))
			return "bad charset name";
		strcpy(b->charset, charset);
	}
	if (!base_valid(base))
		return "bad base path (relative to the home, no '.' or '..' parts)";
	b->base = strdup(base);
	b->name = strdup(name);
	return b->base && b->name ? NULL : "out of memory";
}

static int add_line(struct board_list *list, char *line, const char **problem)
{
	struct board b, *grown = NULL;

	memset(&b, 0, sizeof b);
	*problem = parse_line(&b, line);
	if (!*problem && board_find(list, b.code))
		*problem = "duplicate board code";
	if (!*problem && !(grown = realloc(list->boards, (list->count + 1) * sizeof *grown)))
		*problem = "out of memory";
	if (*problem) {
		board_free(&b);
		return 0;
	}
	list->boards = grown;
	list->boards[list->count++] = b;
	return 1;
}

static const char *board_line(char *line, void *ctx)
{
	const char *problem = NULL;

	return add_line(ctx, line, &problem) ? NULL : problem;
}

int board_list_load(struct board_list *list, char *error, size_t error_size)
{
	int err;

	list->boards = NULL;
	list->count = 0;
	if (listfile_load_strict(BOARD_FILE, board_line, list, error, error_size))
		return 1;
	err = errno;
	board_list_free(list);
	errno = err;
	return 0;
}

void board_list_free(struct board_list *list)
{
	size_t i;

	for (i = 0; i < list->count; i++)
		board_free(&list->boards[i]);
	free(list->boards);
	list->boards = NULL;
	list->count = 0;
}

const struct board *board_find(const struct board_list *list, const char *code)
{
	size_t i;

	for (i = 0; i < list->count; i++)
		if (strcasecmp(list->boards[i].code, code) == 0)
			return &list->boards[i];
	return NULL;
}

int board_may_post(const struct board *b, const char *sender, const char *auth_user, int sender_is_local)
{
	size_t i;

	switch (b->post) {
	case BOARD_POST_ANYONE:
		return 1;
	case BOARD_POST_LOCAL:
		return sender_is_local || (auth_user && *auth_user);
	case BOARD_POST_AUTH:
		return auth_user && *auth_user;
	case BOARD_POST_LIST:
		for (i = 0; sender && i < b->post_count; i++)
			if (strcasecmp(b->post_list[i], sender) == 0)
				return 1;
		return 0;
	}
	return 0;
}

const char *board_post_name(enum board_post post)
{
	switch (post) {
	case BOARD_POST_ANYONE: return "anyone";
	case BOARD_POST_LOCAL: return "local";
	case BOARD_POST_AUTH: return "auth";
	case BOARD_POST_LIST: return "list";
	}
	return "?";
}
