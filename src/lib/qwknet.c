/* qwknet: etc/qwknet.cfg, read strictly (qwknet.h, qwknet.cfg(5)). */
#include "qwknet.h"
#include "listfile.h"
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int qwk_id_valid(const char *id, size_t len)
{
	size_t i;

	if (len == 0 || len > QWK_ID_MAX_BYTES)
		return 0;
	for (i = 0; i < len; i++)
		if (!isascii((unsigned char)id[i]) || !isalnum((unsigned char)id[i]))
			return 0;
	return 1;
}

static void upper_copy(char *out, const char *in, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		out[i] = (char)toupper((unsigned char)in[i]);
	out[len] = 0;
}

const struct qwk_node *qwknet_find_node(const struct qwknet *net, const char *id)
{
	size_t i;

	for (i = 0; i < net->node_count; i++)
		if (strcasecmp(net->nodes[i].id, id) == 0)
			return &net->nodes[i];
	return NULL;
}

const struct qwk_conference *qwknet_find_conference(const struct qwknet *net, unsigned number)
{
	size_t i;

	for (i = 0; i < net->conference_count; i++)
		if (net->conferences[i].number == number)
			return &net->conferences[i];
	return NULL;
}

int qwknet_carries(const struct qwk_conference *c, const char *id)
{
	size_t i;

	for (i = 0; i < c->node_count; i++)
		if (strcasecmp(c->nodes[i], id) == 0)
			return 1;
	return 0;
}

/* "A/B/C": every element a valid id, the first a node that calls us
 * itself.  The result upper case in out.  NULL when fine. */
static const char *check_via(const struct qwknet *net, const char *via, char *out, size_t size)
{
	const char *p = via, *slash;
	char first[QWK_ID_MAX_BYTES + 1];
	const struct qwk_node *n;
	size_t len, hops = 0;

	if (strlen(via) >= size)
		return "via route too long";
	for (;; p = slash + 1) {
		slash = strchr(p, '/');
		len = slash ? (size_t)(slash - p) : strlen(p);
		if (!qwk_id_valid(p, len))
			return "bad via route (QWK ids of 1-8 letters and digits, '/' between)";
		if (++hops > QWK_ROUTE_MAX_HOPS - 1)
			return "via route has too many hops";
		if (hops == 1)
			upper_copy(first, p, len);
		if (!slash)
			break;
	}
	n = qwknet_find_node(net, first);
	if (!n || n->via)
		return "a via route must start with a node listed before it that calls us itself";
	upper_copy(out, via, strlen(via));
	return NULL;
}

static const char *parse_node(struct qwknet *net, char *line)
{
	char *id = listfile_next_word(&line), *password = listfile_next_word(&line), *via = listfile_next_word(&line);
	char via_upper[QWK_ROUTE_MAX_HOPS * (QWK_ID_MAX_BYTES + 1)];
	struct qwk_node n, *grown;
	const char *problem;

	if (!id || !password || listfile_next_word(&line))
		return "expected: node id password [via-route]";
	if (!qwk_id_valid(id, strlen(id)))
		return "bad QWK id (1-8 letters and digits)";
	if (qwknet_find_node(net, id))
		return "duplicate node id";
	if (via && (problem = check_via(net, via, via_upper, sizeof via_upper)))
		return problem;
	memset(&n, 0, sizeof n);
	upper_copy(n.id, id, strlen(id));
	n.password = strdup(strcmp(password, "-") == 0 ? "" : password);
	n.via = via ? strdup(via_upper) : NULL;
	grown = realloc(net->nodes, (net->node_count + 1) * sizeof *grown);
	if (!n.password || (via && !n.via) || !grown) {
		free(n.password);
		free(n.via);
		if (grown)
			net->nodes = grown;
		return "out of memory";
	}
	net->nodes = grown;
	net->nodes[net->node_count++] = n;
	return NULL;
}

static void conference_free(struct qwk_conference *c)
{
	size_t i;

	for (i = 0; i < c->node_count; i++)
		free(c->nodes[i]);
	free(c->nodes);
	memset(c, 0, sizeof *c);
}

static const char *parse_conference_nodes(const struct qwknet *net, struct qwk_conference *c, char *list)
{
	char *save = NULL, *id, **grown;

	for (id = strtok_r(list, ",", &save); id; id = strtok_r(NULL, ",", &save)) {
		if (!qwknet_find_node(net, id))
			return "a conference's nodes must be listed (node lines) before it";
		if (!(grown = realloc(c->nodes, (c->node_count + 1) * sizeof *grown)))
			return "out of memory";
		c->nodes = grown;
		if (!(c->nodes[c->node_count] = strdup(qwknet_find_node(net, id)->id)))
			return "out of memory";
		c->node_count++;
	}
	return c->node_count ? NULL : "empty node list";
}

static const char *parse_conference(struct qwknet *net, char *line)
{
	char *number = listfile_next_word(&line), *code = listfile_next_word(&line), *nodes = listfile_next_word(&line), *end;
	struct qwk_conference c, *grown;
	const char *problem;
	unsigned long n;

	if (!number || !code || !nodes || listfile_next_word(&line))
		return "expected: conf number sub-board-code node[,node...]";
	errno = 0;
	n = strtoul(number, &end, 10);
	if (*end || errno || !isdigit((unsigned char)number[0]) || n == 0 || n > 65535)
		return "bad conference number (1-65535; 0 is netmail)";
	if (qwknet_find_conference(net, (unsigned)n))
		return "duplicate conference number";
	if (!board_code_valid(code))
		return "bad sub-board code";
	memset(&c, 0, sizeof c);
	c.number = (unsigned)n;
	strcpy(c.code, code);
	if ((problem = parse_conference_nodes(net, &c, nodes))
	    || (!(grown = realloc(net->conferences, (net->conference_count + 1) * sizeof *grown))
		&& (problem = "out of memory"))) {
		conference_free(&c);
		return problem;
	}
	net->conferences = grown;
	net->conferences[net->conference_count++] = c;
	return NULL;
}

static const char *parse_hub(struct qwknet *net, char *line)
{
	char *id = listfile_next_word(&line);

	if (!id || listfile_next_word(&line))
		return "expected: hub id";
	if (!qwk_id_valid(id, strlen(id)))
		return "bad QWK id (1-8 letters and digits)";
	if (net->hub[0])
		return "a second hub line";
	upper_copy(net->hub, id, strlen(id));
	return NULL;
}

static const char *parse_line(struct qwknet *net, char *line)
{
	char *keyword = listfile_next_word(&line);

	if (keyword && strcasecmp(keyword, "hub") == 0)
		return parse_hub(net, line);

	if (keyword && strcasecmp(keyword, "node") == 0)
		return parse_node(net, line);
	if (keyword && strcasecmp(keyword, "conf") == 0)
		return parse_conference(net, line);
	return "expected a hub, node or conf line";
}

static const char *qwknet_line(char *line, void *ctx) { return parse_line(ctx, line); }

int qwknet_load(struct qwknet *net, char *error, size_t error_size)
{
	int err;

	memset(net, 0, sizeof *net);
	if (listfile_load_strict(QWKNET_FILE, qwknet_line, net, error, error_size))
		return 1;
	err = errno;
	qwknet_free(net);
	errno = err;
	return 0;
}

void qwknet_free(struct qwknet *net)
{
	size_t i;

	for (i = 0; i < net->node_count; i++) {
		free(net->nodes[i].password);
		free(net->nodes[i].via);
	}
	for (i = 0; i < net->conference_count; i++)
		conference_free(&net->conferences[i]);
	free(net->nodes);
	free(net->conferences);
	memset(net, 0, sizeof *net);
}

/* Checks each hop of the route (up to bang).  NULL when fine. */
static const char *check_route(const char *local, const char *bang, size_t *hops)
{
	const char *p = local, *slash;
	size_t len;

	for (*hops = 0;; p = slash + 1) {
		slash = memchr(p, '/', (size_t)(bang - p));
		len = slash ? (size_t)(slash - p) : (size_t)(bang - p);
		if (len == 0)
			return "empty node id";
		if (len > QWK_ID_MAX_BYTES)
			return "node id longer than 8 characters";
		if (!qwk_id_valid(p, len))
			return "node id not made of letters and digits";
		if (++*hops > QWK_ROUTE_MAX_HOPS)
			return "route longer than 16 hops";
		if (!slash)
			return NULL;
	}
}

enum qwk_route_result qwknet_route(const struct qwknet *net, const char *local, struct buf *target,
				   const char **why)
{
	const char *bang = strchr(local, '!'), *user;
	char first[QWK_ID_MAX_BYTES + 1];
	const struct qwk_node *n;
	size_t hops, len, i;

	*why = NULL;
	if (!bang)
		return (*why = "no '!'"), QWK_ROUTE_MALFORMED;
	user = bang + 1;
	if ((*why = check_route(local, bang, &hops)))
		return QWK_ROUTE_MALFORMED;
	if (!*user)
		return (*why = "empty user name"), QWK_ROUTE_MALFORMED;
	if (strpbrk(user, "!/"))
		return (*why = "user name with '!' or '/'"), QWK_ROUTE_MALFORMED;
	len = strcspn(local, "/!");
	upper_copy(first, local, len);
	n = qwknet_find_node(net, first);
	if (!n)
		return QWK_ROUTE_UNKNOWN;
	for (i = 0; n->via && n->via[i]; i++)
		hops += n->via[i] == '/';
	if (n->via && hops + 1 > QWK_ROUTE_MAX_HOPS)
		return (*why = "route longer than 16 hops"), QWK_ROUTE_MALFORMED;
	buf_truncate(target, 0);
	if (n->via && (!buf_cats(target, n->via) || !buf_catc(target, '/')))
		return QWK_ROUTE_NOMEM;
	for (i = 0; local + i < bang; i++)
		if (!buf_catc(target, (char)toupper((unsigned char)local[i])))
			return QWK_ROUTE_NOMEM;
	if (!buf_catc(target, '!') || !buf_cats(target, user))
		return QWK_ROUTE_NOMEM;
	return QWK_ROUTE_OK;
}

int qwk_target_split(const char *target, struct qwk_target *t)
{
	const char *bang = strchr(target, '!'), *slash;
	size_t hops, len;

	memset(t, 0, sizeof *t);
	if (!bang || check_route(target, bang, &hops) || !bang[1]) {
		errno = EINVAL;
		return 0;
	}
	slash = memchr(target, '/', (size_t)(bang - target));
	len = slash ? (size_t)(slash - target) : (size_t)(bang - target);
	upper_copy(t->hop, target, len);
	if (slash)
		upper_copy(t->rest, slash + 1, (size_t)(bang - slash - 1));
	t->user = bang + 1;
	return 1;
}
