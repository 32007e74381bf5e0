/* fido: FidoNet addresses and etc/fidonet.cfg, read strictly (fido.h,
 * fidonet.cfg(5)). */
#include "fido.h"
#include "home.h"
#include "file.h"
#include "listfile.h"
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* A decimal number of at most 5 digits, no sign, no leading blanks. */
static const char *parse_number(const char *s, unsigned max, unsigned *out)
{
	unsigned long v = 0;
	int digits = 0;

	while (isdigit((unsigned char)*s) && digits < 6)
		v = v * 10 + (unsigned long)(*s++ - '0'), digits++;
	if (!digits || digits > 5 || v > max)
		return NULL;
	*out = (unsigned)v;
	return s;
}

int ftn_addr_parse(const char *s, struct ftn_addr *a)
{
	memset(a, 0, sizeof *a);
	if (!(s = parse_number(s, FIDO_ZONE_MAX, &a->zone)) || a->zone == 0 || *s++ != ':'
	    || !(s = parse_number(s, FIDO_NUMBER_MAX, &a->net)) || *s++ != '/'
	    || !(s = parse_number(s, FIDO_NUMBER_MAX, &a->node)))
		return 0;
	if (*s == '.' && !(s = parse_number(s + 1, FIDO_NUMBER_MAX, &a->point)))
		return 0;
	return *s == 0;
}

void ftn_addr_format(char *out, size_t size, const struct ftn_addr *a)
{
	if (a->point)
		snprintf(out, size, "%u:%u/%u.%u", a->zone, a->net, a->node, a->point);
	else
		snprintf(out, size, "%u:%u/%u", a->zone, a->net, a->node);
}

int ftn_addr_equal(const struct ftn_addr *a, const struct ftn_addr *b)
{
	return a->zone == b->zone && a->net == b->net && a->node == b->node && a->point == b->point;
}

/* "<letter><number>." at s: the rest after the dot, or NULL (*range set
 * when the number was there but too big). */
static const char *parse_label(const char *s, char letter, unsigned max, unsigned *out, int *range)
{
	const char *start = s + 1, *end = start, *rest;

	if (tolower((unsigned char)*s) != letter)
		return NULL;
	if (!(rest = parse_number(start, max, out))) {
		while (isdigit((unsigned char)*end))
			end++;
		*range = end > start && *end == '.';
		return NULL;
	}
	return *rest == '.' ? rest + 1 : NULL;
}

const char *fido_domain_parse(const char *domain, struct ftn_addr *a)
{
	const char *s = domain;
	int range = 0;

	memset(a, 0, sizeof *a);
	if (tolower((unsigned char)*s) == 'p' && !(s = parse_label(s, 'p', FIDO_NUMBER_MAX, &a->point, &range)))
		goto bad;
	if (!(s = parse_label(s, 'f', FIDO_NUMBER_MAX, &a->node, &range))
	    || !(s = parse_label(s, 'n', FIDO_NUMBER_MAX, &a->net, &range)))
		goto bad;
	if (!(s = parse_label(s, 'z', FIDO_ZONE_MAX, &a->zone, &range)) || a->zone == 0)
		return range || a->zone == 0 ? "FidoNet zone out of range (1-32767)" : "malformed FidoNet address";
	if (strcasecmp(s, "fidonet") == 0 || strcasecmp(s, "fidonet.") == 0)
		return NULL;
	return "malformed FidoNet address";
bad:
	return range ? "FidoNet point, node or net out of range (0-65535)" : "malformed FidoNet address";
}

void fido_domain_format(char *out, size_t size, const struct ftn_addr *a)
{
	if (a->point)
		snprintf(out, size, "p%u.f%u.n%u.z%u.fidonet", a->point, a->node, a->net, a->zone);
	else
		snprintf(out, size, "f%u.n%u.z%u.fidonet", a->node, a->net, a->zone);
}

const char *fido_name_from_local(const char *local, struct buf *out)
{
	size_t n = strlen(local), i;

	if (n >= 2 && local[0] == '"' && local[n - 1] == '"')
		local++, n -= 2;
	buf_truncate(out, 0);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)local[i];
		if (c < 0x20 || c == 0x7f)
			return "control character in the FidoNet user name";
		if (c == '\\' && i + 1 < n)
			c = (unsigned char)local[++i];
		if (!buf_catc(out, (c == '.' || c == '_') ? ' ' : (char)c))
			return "out of memory";
	}
	if (!out->len)
		return "empty FidoNet user name";
	if (out->len > FIDO_NAME_MAX_BYTES)
		return "FidoNet user name longer than 35 characters";
	return NULL;
}

int fido_msgid_encode(const char *msgid, size_t len, struct buf *out)
{
	size_t i;

	if (!buf_copys(out, "<"))
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)msgid[i];
		if (!(isalnum(c) || c == '-' ? buf_catc(out, (char)c) : buf_catf(out, "=%02X", c)))
			return 0;
	}
	return buf_cats(out, "@" FIDO_MSGID_DOMAIN ">");
}

static int hex_value(int c)
{
	return isdigit(c) ? c - '0' : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}

int fido_msgid_decode(const char *message_id, struct buf *out)
{
	const char *p = message_id, *at;
	size_t domain_len = strlen("@" FIDO_MSGID_DOMAIN ">");

	while (*p == ' ')
		p++;
	if (*p++ != '<' || !(at = strchr(p, '@')) || strncasecmp(at, "@" FIDO_MSGID_DOMAIN ">", domain_len) != 0)
		return 0;
	buf_truncate(out, 0);
	for (; p < at; p++) {
		int c = (unsigned char)*p;
		if (c == '=' && at - p >= 3 && hex_value(p[1]) >= 0 && hex_value(p[2]) >= 0) {
			c = hex_value(p[1]) * 16 + hex_value(p[2]);
			p += 2;
		} else if (!isalnum(c) && c != '-') {
			return 0;
		}
		if (c < 0x20 || !buf_catc(out, (char)c))
			return c < 0x20 ? 0 : -1;
	}
	return out->len ? 1 : 0;
}

/* Keeps the newer half of the map (the caller holds the flock on fd). */
static int msgid_map_trim(int fd, const char *path)
{
	char side[PATH_MAX + 8];
	struct buf b = BUF_INIT;
	const char *start;
	int out, ok;

	if (!file_read_fd(fd, &b))
		return 0;
	start = b.len ? memchr(b.data + b.len / 2, '\n', b.len - b.len / 2) : NULL;
	snprintf(side, sizeof side, "%s.new", path);
	ok = (out = open(side, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) >= 0;
	if (ok && start)
		ok = file_write_all(out, start + 1, b.len - (size_t)(start + 1 - b.data));
	ok = out >= 0 && close(out) == 0 && ok && rename(side, path) == 0;
	buf_free(&b);
	return ok;
}

int fido_msgid_map_add(const char *msgid, const char *message_id)
{
	char path[PATH_MAX];
	struct buf line = BUF_INIT;
	struct stat st;
	int fd, ok;

	if (!*msgid || !*message_id || strpbrk(msgid, "\t\r\n") || strpbrk(message_id, "\t\r\n"))
		return 1;
	if (!home_path(path, sizeof path, FIDO_MSGID_MAP_FILE)
	    || (fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600)) < 0)
		return 0;
	ok = flock(fd, LOCK_EX) == 0 && buf_catf(&line, "%s\t%s\n", msgid, message_id)
	     && file_write_all(fd, line.data, line.len);
	if (ok && fstat(fd, &st) == 0 && st.st_size > FIDO_MSGID_MAP_MAX_BYTES)
		ok = msgid_map_trim(fd, path);
	close(fd);
	buf_free(&line);
	return ok;
}

int fido_msgid_map_find(const char *key, int by_msgid, struct buf *out)
{
	char path[PATH_MAX];
	struct buf b = BUF_INIT;
	size_t end, n = strlen(key);
	const char *line, *tab;
	int found = 0;

	if (!home_path(path, sizeof path, FIDO_MSGID_MAP_FILE))
		return -1;
	if (!file_read_path(path, &b)) {
		buf_free(&b);
		return errno == ENOENT ? 0 : -1;
	}
	/* Newest first: from the end. */
	for (end = b.len; end > 0 && !found;) {
		size_t start = end - 1;
		while (start > 0 && b.data[start - 1] != '\n')
			start--;
		line = b.data + start;
		tab = memchr(line, '\t', end - start);
		if (tab && by_msgid && (size_t)(tab - line) == n && memcmp(line, key, n) == 0)
			found = buf_copy(out, tab + 1, end - 1 - (size_t)(tab + 1 - b.data)) ? 1 : -1;
		else if (tab && !by_msgid && end - 1 - (size_t)(tab + 1 - b.data) == n && memcmp(tab + 1, key, n) == 0)
			found = buf_copy(out, line, (size_t)(tab - line)) ? 1 : -1;
		end = start;
	}
	buf_free(&b);
	return found;
}

/* ---- etc/fidonet.cfg ---- */

/* A directory: absolute, or relative to the home; no "." or ".." part. */
static int parse_dir(const char *value, char *out, size_t size)
{
	const char *p = value, *slash;
	size_t n;

	if (!*value || strlen(value) > 200)
		return 0;
	for (;; p = slash + 1) {
		slash = strchr(p, '/');
		n = slash ? (size_t)(slash - p) : strlen(p);
		if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.') || (n == 0 && p != value && slash))
			return 0;
		if (!slash)
			break;
	}
	if (value[0] == '/')
		return snprintf(out, size, "%s", value) < (int)size;
	return home_path(out, size, value);
}

static const char *parse_flavour(const char *s, enum fido_flavour *f)
{
	if (strcasecmp(s, "normal") == 0)
		*f = FIDO_FLAVOUR_NORMAL;
	else if (strcasecmp(s, "crash") == 0)
		*f = FIDO_FLAVOUR_CRASH;
	else if (strcasecmp(s, "hold") == 0)
		*f = FIDO_FLAVOUR_HOLD;
	else if (strcasecmp(s, "direct") == 0)
		*f = FIDO_FLAVOUR_DIRECT;
	else
		return "flavour must be normal, crash, hold or direct";
	return NULL;
}

static int push(void **list, size_t *count, size_t size, const void *item)
{
	char *grown = realloc(*list, (*count + 1) * size);

	if (!grown)
		return 0;
	memcpy(grown + *count * size, item, size);
	*list = grown;
	(*count)++;
	return 1;
}

static const char *parse_uplink(struct fido_config *cfg, char *rest)
{
	char *addr = listfile_next_word(&rest), *password = listfile_next_word(&rest), *flavour = listfile_next_word(&rest);
	struct fido_uplink u;
	const char *problem;

	memset(&u, 0, sizeof u);
	u.flavour = FIDO_FLAVOUR_NORMAL;
	if (!addr || !password || listfile_next_word(&rest))
		return "expected: uplink zone:net/node[.point] password|- [normal|crash|hold|direct]";
	if (!ftn_addr_parse(addr, &u.addr))
		return "bad uplink address (zone 1-32767, net/node/point 0-65535)";
	if (fido_uplink_find(cfg, &u.addr))
		return "duplicate uplink";
	if (strcmp(password, "-") != 0) {
		if (strlen(password) > FIDO_PASSWORD_MAX_BYTES)
			return "packet password longer than 8 characters";
		strcpy(u.password, password);
	}
	if (flavour && (problem = parse_flavour(flavour, &u.flavour)))
		return problem;
	return push((void **)&cfg->uplinks, &cfg->uplink_count, sizeof u, &u) ? NULL : "out of memory";
}

static const char *parse_address(struct fido_config *cfg, const char *value)
{
	struct ftn_addr a;

	if (!ftn_addr_parse(value, &a))
		return "bad address (zone 1-32767, net/node/point 0-65535)";
	if (fido_is_ours(cfg, &a))
		return "duplicate address";
	return push((void **)&cfg->addrs, &cfg->addr_count, sizeof a, &a) ? NULL : "out of memory";
}

static const char *parse_charset(struct fido_config *cfg, const char *value)
{
	const char *p;

	if (!*value || strlen(value) > FIDO_CHARSET_MAX_BYTES)
		return "bad charset name";
	for (p = value; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("-_.:", *p))
			return "bad charset name";
	strcpy(cfg->charset, value);
	return NULL;
}

/* One line.  NULL when fine, else what is wrong. */
static const char *parse_line(struct fido_config *cfg, char *line)
{
	char *key = listfile_next_word(&line), *value, *rest;

	if (strcasecmp(key, "uplink") == 0)
		return parse_uplink(cfg, line);
	value = listfile_next_word(&line);
	rest = listfile_next_word(&line);
	if (!value || rest)
		return "expected: keyword value";
	if (strcasecmp(key, "address") == 0)
		return parse_address(cfg, value);
	if (strcasecmp(key, "outbound") == 0)
		return parse_dir(value, cfg->outbound, sizeof cfg->outbound) ? NULL : "bad outbound directory";
	if (strcasecmp(key, "inbound") == 0)
		return parse_dir(value, cfg->inbound, sizeof cfg->inbound) ? NULL : "bad inbound directory";
	if (strcasecmp(key, "charset") == 0)
		return parse_charset(cfg, value);
	if (strcasecmp(key, "route") == 0) {
		if (strcasecmp(value, "direct") == 0)
			cfg->route_direct = 1;
		else if (strcasecmp(value, "uplink") == 0)
			cfg->route_direct = 0;
		else
			return "route must be uplink or direct";
		return NULL;
	}
	return "unknown keyword (address, outbound, inbound, uplink, route, charset)";
}

static void config_defaults(struct fido_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	strcpy(cfg->charset, "CP437");
	home_path(cfg->outbound, sizeof cfg->outbound, "spool/fido/outbound");
	home_path(cfg->inbound, sizeof cfg->inbound, "spool/fido/inbound");
}

static const char *fido_line(char *line, void *ctx) { return parse_line(ctx, line); }

int fido_config_load(struct fido_config *cfg, char *error, size_t error_size)
{
	int err;

	config_defaults(cfg);
	if (listfile_load_strict(FIDO_FILE, fido_line, cfg, error, error_size)) {
		if (cfg->addr_count || !cfg->uplink_count)
			return 1;
		char path[PATH_MAX];
		(void)home_path(path, sizeof path, FIDO_FILE);
		snprintf(error, error_size, "%s: uplinks but no address of ours", path);
		errno = EINVAL;
	}
	err = errno;
	fido_config_free(cfg);
	errno = err;
	return 0;
}

void fido_config_free(struct fido_config *cfg)
{
	free(cfg->addrs);
	free(cfg->uplinks);
	cfg->addrs = NULL;
	cfg->uplinks = NULL;
	cfg->addr_count = cfg->uplink_count = 0;
}

int fido_is_ours(const struct fido_config *cfg, const struct ftn_addr *a)
{
	size_t i;

	for (i = 0; i < cfg->addr_count; i++)
		if (ftn_addr_equal(&cfg->addrs[i], a))
			return 1;
	return 0;
}

const struct ftn_addr *fido_our_address(const struct fido_config *cfg, const struct ftn_addr *a)
{
	size_t i;

	for (i = 0; i < cfg->addr_count; i++)
		if (cfg->addrs[i].zone == a->zone)
			return &cfg->addrs[i];
	return &cfg->addrs[0];
}

const struct fido_uplink *fido_uplink_find(const struct fido_config *cfg, const struct ftn_addr *a)
{
	size_t i;

	for (i = 0; i < cfg->uplink_count; i++)
		if (ftn_addr_equal(&cfg->uplinks[i].addr, a))
			return &cfg->uplinks[i];
	return NULL;
}

/* Routing kept simple: a link is used as it is; a point's mail goes to
 * its boss node; anything else goes to the first uplink in the
 * destination's zone (else the first uplink), or with "route direct" to
 * the destination node itself. */
int fido_next_hop(const struct fido_config *cfg, const struct ftn_addr *dest, struct ftn_addr *hop,
		  const struct fido_uplink **link)
{
	struct ftn_addr boss = *dest;
	size_t i;

	boss.point = 0;
	if ((*link = fido_uplink_find(cfg, dest))) {
		*hop = *dest;
		return 1;
	}
	if ((*link = fido_uplink_find(cfg, &boss)) || cfg->route_direct) {
		*hop = boss;
		return 1;
	}
	if (!cfg->uplink_count)
		return 0;
	*link = &cfg->uplinks[0];
	for (i = 0; i < cfg->uplink_count; i++)
		if (cfg->uplinks[i].addr.zone == dest->zone) {
			*link = &cfg->uplinks[i];
			break;
		}
	*hop = (*link)->addr;
	return 1;
}

int fido_outbound_base(const struct fido_config *cfg, const struct ftn_addr *hop, char *base, size_t size, char *dir,
		       size_t dir_size)
{
	char zone_dir[PATH_MAX];
	int n;

	if (hop->zone == cfg->addrs[0].zone)
		n = snprintf(zone_dir, sizeof zone_dir, "%s", cfg->outbound);
	else
		n = snprintf(zone_dir, sizeof zone_dir, "%s.%03x", cfg->outbound, hop->zone);
	if (n < 0 || (size_t)n >= sizeof zone_dir)
		goto too_long;
	if (hop->point) {
		n = snprintf(dir, dir_size, "%s/%04x%04x.pnt", zone_dir, hop->net, hop->node);
		if (n < 0 || (size_t)n >= dir_size)
			goto too_long;
		n = snprintf(base, size, "%s/0000%04x", dir, hop->point);
	} else {
		n = snprintf(dir, dir_size, "%s", zone_dir);
		if (n < 0 || (size_t)n >= dir_size)
			goto too_long;
		n = snprintf(base, size, "%s/%04x%04x", dir, hop->net, hop->node);
	}
	if (n >= 0 && (size_t)n < size)
		return 1;
too_long:
	errno = ENAMETOOLONG;
	return 0;
}

const char *fido_packet_extension(enum fido_flavour f)
{
	switch (f) {
	case FIDO_FLAVOUR_CRASH: return "cut";
	case FIDO_FLAVOUR_HOLD: return "hut";
	case FIDO_FLAVOUR_DIRECT: return "dut";
	case FIDO_FLAVOUR_NORMAL: break;
	}
	return "out";
}
