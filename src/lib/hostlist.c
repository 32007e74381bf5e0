#include "hostlist.h"
#include "buf.h"
#include "file.h"
#include "home.h"
#include "ipkey.h"
#include "listcache.h"
#include "listfile.h"
#include "log.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <unistd.h>

#define LIST_FLAGS (LISTFILE_COMMENT_SEMICOLON | LISTFILE_COMMENT_HASH)
/* Entries longer than these never match (see entry_of). */
#define CLIENT_ENTRY_BYTES 300
#define ADDRESS_ENTRY_BYTES 600

static long compile_min_bytes = HOSTLIST_COMPILE_MIN_BYTES;

void hostlist_set_compile_min_bytes(long bytes) { compile_min_bytes = bytes; }

/* The address bytes of an IPv4 or IPv6 literal, IPv4-mapped IPv6 taken as
 * IPv4: 4 or 16, 0 when it is neither. */
static int ip_bytes(const char *text, unsigned char out[16])
{
	if (inet_pton(AF_INET, text, out) == 1)
		return 4;
	if (inet_pton(AF_INET6, text, out) != 1)
		return 0;
	if (IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)(const void *)out)) {
		memmove(out, out + 12, 4);
		return 4;
	}
	return 16;
}

/* "addr" or "addr/prefix": the bytes and the prefix length, 0 when it is
 * not one (a host name, or a bad prefix). */
static int parse_network(const char *entry, unsigned char net[16], unsigned *prefix)
{
	char text[64];
	const char *slash = strchr(entry, '/');
	size_t n = slash ? (size_t)(slash - entry) : strlen(entry);
	char *end;
	unsigned long bits;
	int len;

	if (n >= sizeof text)
		return 0;
	memcpy(text, entry, n);
	text[n] = 0;
	if (!(len = ip_bytes(text, net)))
		return 0;
	if (!slash) {
		*prefix = (unsigned)len * 8;
		return len;
	}
	bits = strtoul(slash + 1, &end, 10);
	if (!slash[1] || *end || bits > (unsigned long)len * 8)
		return 0;
	*prefix = (unsigned)bits;
	return len;
}

/* Whether the address (len bytes) is in the network. */
static int in_network(const unsigned char *net, int net_len, unsigned prefix, const unsigned char *addr, int addr_len)
{
	unsigned i;

	if (!net_len || net_len != addr_len)
		return 0;
	for (i = 0; i < prefix / 8; i++)
		if (net[i] != addr[i])
			return 0;
	return prefix % 8 == 0 || ((net[i] ^ addr[i]) & (0xff << (8 - prefix % 8)) & 0xff) == 0;
}

int hostlist_ip_in(const char *entry, const char *ip)
{
	unsigned char net[16], addr[16];
	unsigned prefix;
	int net_len = parse_network(entry, net, &prefix);

	return in_network(net, net_len, prefix, addr, ip_bytes(ip, addr));
}

/* The entry of a line: its first word. */
static void entry_of(const char *line, char *out, size_t size)
{
	size_t n = strcspn(line, " \t");

	if (n >= size)
		n = 0;   /* longer than any address or name: matches nothing */
	memcpy(out, line, n);
	out[n] = 0;
}

/* How a client list's entry is read (the same for the parse and the
 * build). */
enum client_entry { CLIENT_SKIP, CLIENT_NETWORK, CLIENT_BAD, CLIENT_HOST };

static enum client_entry client_entry_kind(const char *e, unsigned char net[16], int *net_len, unsigned *prefix)
{
	if (!e[0] || strchr(e, '@'))
		return CLIENT_SKIP;
	if ((*net_len = parse_network(e, net, prefix)))
		return CLIENT_NETWORK;
	/* Not a network: a host name, unless it was meant as an address. */
	if (strchr(e, '/') || strspn(e, "0123456789.") == strlen(e))
		return CLIENT_BAD;
	return CLIENT_HOST;
}

static void warn_bad_client(const char *relative, unsigned long line_number, const char *e)
{
	log_warn("%s:%lu: not an address or network: %.64s (skipped)", relative, line_number, e);
}

/* The client, its address parsed once for the whole file. */
struct client_match {
	const char *relative, *host;
	unsigned char addr[16];
	int addr_len;
};

static int client_line(const char *line, unsigned long line_number, void *opaque)
{
	const struct client_match *m = opaque;
	unsigned char net[16];
	unsigned prefix;
	int net_len;
	char e[CLIENT_ENTRY_BYTES];

	entry_of(line, e, sizeof e);
	switch (client_entry_kind(e, net, &net_len, &prefix)) {
	case CLIENT_NETWORK:
		return in_network(net, net_len, prefix, m->addr, m->addr_len);
	case CLIENT_BAD:
		warn_bad_client(m->relative, line_number, e);
		return 0;
	case CLIENT_HOST:
		return m->host && fnmatch(e, m->host, FNM_CASEFOLD) == 0;
	default:
		return 0;
	}
}

/* The compiled forms.  Keys are a tag byte and a text, lowercased in
 * ASCII as fnmatch's FNM_CASEFOLD does in the C locale (no program sets
 * another); the values do not matter.  Entries that are no key (other
 * wildcards) are kept, NUL-terminated one after the other, under one key
 * and matched with fnmatch at each use. */
#define KEY_NETWORK 'N'        /* length (4, 16), prefix, the prefix's bytes */
#define KEY_HOST 'H'           /* a host name */
#define KEY_SUFFIX 'S'         /* "*<suffix>": a host's or address's tail from a '.' or '@' */
#define KEY_DOMAIN 'D'         /* "*@*<suffix>": an address's tail from a '.' after its first '@' */
#define KEY_ADDRESS 'A'        /* an address */
#define KEY_EXACT 'E'          /* a subject line without wildcards */
#define KEY_LENGTHS4 "\002lengths4" /* the prefix lengths present, one byte each */
#define KEY_LENGTHS6 "\002lengths6"
#define KEY_PATTERNS "\002patterns" /* the other patterns */
#define KEY_WORDS "\002words"       /* subject.can's "*word*" lines: words under 3 bytes */
#define KEY_TRIGRAM 'W'        /* subject.can's longer words, by their last 3 bytes */
#define TRIGRAM_BYTES 3
#define KEY_TEXT 'T'           /* ip.can: a line's text, and its canonical address (as is, any case) */
#define KEY_PREFIX 'P'         /* ip.can: a "<prefix>*" line's prefix (as is) */
#define KEY_PREFIX_LENGTHS "\002prefixes" /* their lengths, two bytes each, high byte first */

struct build {
	unsigned char lengths[2][129];   /* [0] IPv4, [1] IPv6: 1 when present */
	unsigned char prefix_lengths[LISTFILE_LINE_MAX_BYTES + 1];
	struct buf patterns, words, key;
};

static char lower(char c) { return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c; }

static int has_wildcard(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] == '*' || s[i] == '?' || s[i] == '[' || s[i] == '\\')
			return 1;
	return 0;
}

/* key = tag and the lowercased text. */
static int make_key(struct buf *key, char tag, const char *text, size_t len)
{
	size_t i;

	buf_truncate(key, 0);
	if (!buf_catc(key, tag) || !buf_reserve(key, len + 1))
		return 0;
	for (i = 0; i < len; i++)
		key->data[key->len++] = lower(text[i]);
	key->data[key->len] = 0;
	return 1;
}

static int put_key(struct listcache *c, struct build *b, char tag, const char *text, size_t len)
{
	return make_key(&b->key, tag, text, len) && listcache_put(c, b->key.data, b->key.len, "1", 1);
}

/* put_key without the lowercasing. */
static int put_raw_key(struct listcache *c, struct build *b, char tag, const char *text, size_t len)
{
	buf_truncate(&b->key, 0);
	return buf_catc(&b->key, tag) && buf_cat(&b->key, text, len)
	       && listcache_put(c, b->key.data, b->key.len, "1", 1);
}

/* The network key: the bytes the prefix covers, the bits past it zero. */
static size_t network_key(unsigned char out[19], const unsigned char *addr, int len, unsigned prefix)
{
	size_t n = (prefix + 7) / 8;

	out[0] = KEY_NETWORK;
	out[1] = (unsigned char)len;
	out[2] = (unsigned char)prefix;
	memcpy(out + 3, addr, n);
	if (prefix % 8)
		out[2 + n] &= (unsigned char)(0xff << (8 - prefix % 8));
	return 3 + n;
}

static int add_pattern(struct buf *list, const char *p, size_t len)
{
	return buf_cat(list, p, len) && buf_catc(list, 0);
}

static int client_build_line(struct listcache *c, struct build *b, const char *line, unsigned long line_number)
{
	unsigned char net[16], key[19];
	unsigned prefix;
	int net_len;
	char e[CLIENT_ENTRY_BYTES];

	entry_of(line, e, sizeof e);
	switch (client_entry_kind(e, net, &net_len, &prefix)) {
	case CLIENT_NETWORK:
		b->lengths[net_len == 16][prefix] = 1;
		return listcache_put(c, key, network_key(key, net, net_len, prefix), "1", 1);
	case CLIENT_BAD:
		warn_bad_client(c->relative, line_number, e);
		return 1;
	case CLIENT_HOST:
		if (!has_wildcard(e, strlen(e)))
			return put_key(c, b, KEY_HOST, e, strlen(e));
		if (e[0] == '*' && e[1] == '.' && !has_wildcard(e + 1, strlen(e + 1)))
			return put_key(c, b, KEY_SUFFIX, e + 1, strlen(e + 1));
		return add_pattern(&b->patterns, e, strlen(e));
	default:
		return 1;
	}
}

static int address_build_line(struct listcache *c, struct build *b, const char *line, unsigned long line_number)
{
	char e[ADDRESS_ENTRY_BYTES];
	size_t n;

	(void)line_number;
	entry_of(line, e, sizeof e);
	if (!e[0] || !strchr(e, '@'))
		return 1;
	n = strlen(e);
	if (!has_wildcard(e, n))
		return put_key(c, b, KEY_ADDRESS, e, n);
	if (e[0] == '*' && (e[1] == '@' || e[1] == '.') && !has_wildcard(e + 1, n - 1))
		return put_key(c, b, KEY_SUFFIX, e + 1, n - 1);
	if (strncmp(e, "*@*.", 4) == 0 && !has_wildcard(e + 3, n - 3))
		return put_key(c, b, KEY_DOMAIN, e + 3, n - 3);
	return add_pattern(&b->patterns, e, n);
}

static int pattern_build_line(struct listcache *c, struct build *b, const char *line, unsigned long line_number)
{
	size_t n = strlen(line), i;

	(void)line_number;
	if (!has_wildcard(line, n))
		return put_key(c, b, KEY_EXACT, line, n);
	/* "*word*" is "contains word": a substring search gives fnmatch's
	 * answer for a fraction of its cost. */
	if (n >= 2 && line[0] == '*' && line[n - 1] == '*' && !has_wildcard(line + 1, n - 2)) {
		if (!buf_reserve(&b->words, n))
			return 0;
		for (i = 1; i < n - 1; i++)
			b->words.data[b->words.len++] = lower(line[i]);
		return buf_catc(&b->words, 0);
	}
	return add_pattern(&b->patterns, line, n);
}

static int ip_can_build_line(struct listcache *c, struct build *b, const char *line, unsigned long line_number)
{
	char canonical[IPKEY_MAX_BYTES];
	size_t n = strlen(line);

	(void)line_number;
	if (line[n - 1] == '*') {
		b->prefix_lengths[n - 1] = 1;
		return put_raw_key(c, b, KEY_PREFIX, line, n - 1);
	}
	return put_raw_key(c, b, KEY_TEXT, line, n)
	       && (!ipkey_canonical(canonical, sizeof canonical, line)
		   || put_raw_key(c, b, KEY_TEXT, canonical, strlen(canonical)));
}

static int put_prefix_lengths(struct listcache *c, const unsigned char *present)
{
	struct buf list = BUF_INIT;
	size_t i;
	int ok = 1;

	for (i = 0; ok && i <= LISTFILE_LINE_MAX_BYTES; i++)
		if (present[i])
			ok = buf_catc(&list, (char)(i >> 8)) && buf_catc(&list, (char)(i & 0xff));
	ok = ok && (!list.len || listcache_put(c, KEY_PREFIX_LENGTHS, strlen(KEY_PREFIX_LENGTHS), list.data, list.len));
	buf_free(&list);
	return ok;
}

static int put_lengths(struct listcache *c, const unsigned char *present, unsigned max, const char *key)
{
	unsigned char list[129];
	size_t n = 0;
	unsigned i;

	for (i = max + 1; i-- > 0;)
		if (present[i])
			list[n++] = (unsigned char)i;
	return !n || listcache_put(c, key, strlen(key), list, n);
}

static const char *last_trigram(const char *w) { return w + strlen(w) - TRIGRAM_BYTES; }

static int by_trigram(const void *a, const void *b)
{
	return memcmp(last_trigram(*(const char *const *)a), last_trigram(*(const char *const *)b), TRIGRAM_BYTES);
}

/* Stores the words that share their last trigram (sorted together) under
 * one key: [first, end). */
static int put_trigram_group(struct listcache *c, struct build *b, const char **first, const char **end)
{
	const char **w;

	buf_truncate(&b->key, 0);
	for (w = first; w < end; w++)
		if (!buf_cat(&b->key, *w, strlen(*w) + 1))
			return 0;
	buf_truncate(&b->patterns, 0);   /* stored already: scratch now */
	return buf_catc(&b->patterns, KEY_TRIGRAM) && buf_cat(&b->patterns, last_trigram(*first), TRIGRAM_BYTES)
	       && listcache_put(c, b->patterns.data, b->patterns.len, b->key.data, b->key.len);
}

/* The "*word*" words: a subject is then probed at each of its trigrams
 * rather than searched for every word.  Words too short for a trigram go
 * in one list. */
static int put_words(struct listcache *c, struct build *b)
{
	struct buf shorter = BUF_INIT;
	const char **list, **w, **group, *p, *end;
	size_t n = 0;
	int ok = 1;

	if (!b->words.len)
		return 1;
	end = b->words.data + b->words.len;
	for (p = b->words.data; p < end; p += strlen(p) + 1)
		n++;
	if (!(list = calloc(n, sizeof *list)))
		return 0;
	for (n = 0, p = b->words.data; ok && p < end; p += strlen(p) + 1)
		if (strlen(p) >= TRIGRAM_BYTES)
			list[n++] = p;
		else
			ok = buf_cat(&shorter, p, strlen(p) + 1);
	if (n)
		qsort(list, n, sizeof *list, by_trigram);
	for (group = w = list; ok && w < list + n; w++)
		if (w + 1 == list + n || by_trigram(w, w + 1) != 0) {
			ok = put_trigram_group(c, b, group, w + 1);
			group = w + 1;
		}
	ok = ok && (!shorter.len || listcache_put(c, KEY_WORDS, strlen(KEY_WORDS), shorter.data, shorter.len));
	free(list);
	buf_free(&shorter);
	return ok;
}

static int build_finish(struct listcache *c, struct build *b)
{
	/* put_words last: it takes b->patterns as scratch. */
	return put_lengths(c, b->lengths[0], 32, KEY_LENGTHS4) && put_lengths(c, b->lengths[1], 128, KEY_LENGTHS6)
	       && put_prefix_lengths(c, b->prefix_lengths)
	       && (!b->patterns.len || listcache_put(c, KEY_PATTERNS, strlen(KEY_PATTERNS), b->patterns.data, b->patterns.len))
	       && put_words(c, b);
}

typedef int build_line_fn(struct listcache *c, struct build *b, const char *line, unsigned long line_number);

/* What one kind of list does with a line at the build. */
struct kind {
	build_line_fn *build_line;
};

static const struct kind client_kind = { client_build_line };
static const struct kind address_kind = { address_build_line };
static const struct kind pattern_kind = { pattern_build_line };
static const struct kind ip_can_kind = { ip_can_build_line };

/* The listcache_compile_fn of every kind: ctx is its struct kind. */
static int compile_list(struct listcache *c, struct listfile *lf, void *ctx)
{
	build_line_fn *build_line = ((const struct kind *)ctx)->build_line;
	struct build b;
	char *line;
	int ok = 1, r = 0, err;

	memset(&b, 0, sizeof b);
	b.patterns = b.words = b.key = (struct buf)BUF_INIT;
	while (ok && (r = listfile_next(lf, &line, NULL)) == 1)
		ok = build_line(c, &b, line, lf->line_number);
	r = !ok ? 0 : r < 0 ? -1 : build_finish(c, &b);
	err = errno;
	buf_free(&b.patterns);
	buf_free(&b.words);
	buf_free(&b.key);
	errno = err;
	return r;
}

/* Whether any of the NUL-terminated patterns stored under KEY_PATTERNS
 * matches text. */
static int patterns_match(struct listcache *c, const char *text, struct buf *scratch)
{
	const char *p, *end;

	if (!listcache_get(c, KEY_PATTERNS, strlen(KEY_PATTERNS), scratch))
		return 0;
	for (p = scratch->data, end = p + scratch->len; p < end; p += strlen(p) + 1)
		if (fnmatch(p, text, FNM_CASEFOLD) == 0)
			return 1;
	return 0;
}

/* One probe per prefix length present for the address's family. */
static int network_listed(struct listcache *c, const unsigned char *addr, int addr_len, struct buf *scratch)
{
	const char *lengths = addr_len == 16 ? KEY_LENGTHS6 : KEY_LENGTHS4;
	unsigned char key[19];
	size_t i;

	if (!addr_len || !listcache_get(c, lengths, strlen(lengths), scratch))
		return 0;
	for (i = 0; i < scratch->len; i++)
		if (listcache_has(c, key, network_key(key, addr, addr_len, (unsigned char)scratch->data[i])))
			return 1;
	return 0;
}

/* Whether a key of tag and text lowered from s + at is present; key keeps
 * the tag's byte out of the way. */
static int tail_listed(struct listcache *c, struct buf *key, char tag, const char *s, size_t at)
{
	return make_key(key, tag, s + at, strlen(s + at)) && listcache_has(c, key->data, key->len);
}

static int host_listed(struct listcache *c, const char *host, struct buf *key, struct buf *scratch)
{
	size_t i;

	if (tail_listed(c, key, KEY_HOST, host, 0))
		return 1;
	for (i = 0; host[i]; i++)
		if (host[i] == '.' && tail_listed(c, key, KEY_SUFFIX, host, i))
			return 1;
	return patterns_match(c, host, scratch);
}

static int client_compiled(struct listcache *c, const struct client_match *m)
{
	struct buf key = BUF_INIT, scratch = BUF_INIT;
	int r = network_listed(c, m->addr, m->addr_len, &scratch) || (m->host && host_listed(c, m->host, &key, &scratch));

	buf_free(&key);
	buf_free(&scratch);
	return r;
}

int hostlist_match_client(const char *relative, const char *ip, const char *host)
{
	struct client_match m = { relative, host && *host ? host : NULL, { 0 }, 0 };
	struct listcache c;
	int r;

	m.addr_len = ip ? ip_bytes(ip, m.addr) : 0;
	r = listcache_open(&c, relative, "client", compile_min_bytes, LIST_FLAGS, compile_list,
			   (void *)&client_kind);
	if (r == LISTCACHE_EMPTY)
		return 0;
	if (r == LISTCACHE_READY) {
		r = client_compiled(&c, &m);
		listcache_close(&c);
		return r;
	}
	return listfile_find_home_numbered(relative, LIST_FLAGS, client_line, &m);
}

static int address_line(const char *line, void *opaque)
{
	const char *address = opaque;
	char e[ADDRESS_ENTRY_BYTES];

	entry_of(line, e, sizeof e);
	return e[0] && strchr(e, '@') && fnmatch(e, address, FNM_CASEFOLD) == 0;
}

static int address_listed(struct listcache *c, const char *address, struct buf *key, struct buf *scratch)
{
	const char *at = strchr(address, '@');
	size_t i;

	if (tail_listed(c, key, KEY_ADDRESS, address, 0))
		return 1;
	for (i = 0; address[i]; i++)
		if ((address[i] == '.' || address[i] == '@') && tail_listed(c, key, KEY_SUFFIX, address, i))
			return 1;
	for (i = at ? (size_t)(at - address) + 1 : strlen(address); address[i]; i++)
		if (address[i] == '.' && tail_listed(c, key, KEY_DOMAIN, address, i))
			return 1;
	return patterns_match(c, address, scratch);
}

int hostlist_match_address(const char *relative, const char *address)
{
	struct buf key = BUF_INIT, scratch = BUF_INIT;
	struct listcache c;
	int r;

	if (!address || !*address)
		return 0;
	r = listcache_open(&c, relative, "address", compile_min_bytes, LIST_FLAGS, compile_list,
			   (void *)&address_kind);
	if (r == LISTCACHE_EMPTY)
		return 0;
	if (r != LISTCACHE_READY)
		return listfile_find_home(relative, LIST_FLAGS, address_line, (void *)address);
	r = address_listed(&c, address, &key, &scratch);
	listcache_close(&c);
	buf_free(&key);
	buf_free(&scratch);
	return r;
}

static int pattern_line(const char *line, void *opaque)
{
	return fnmatch(line, (const char *)opaque, FNM_CASEFOLD) == 0;
}

/* Whether a stored word is inside the lowercased text (key, after its tag). */
static int words_match(struct listcache *c, const struct buf *lowered, struct buf *scratch)
{
	const char *w, *end, *text = lowered->data + 1;
	size_t len = lowered->len - 1, i, n;
	char key[1 + TRIGRAM_BYTES] = { KEY_TRIGRAM };

	if (listcache_get(c, KEY_WORDS, strlen(KEY_WORDS), scratch))
		for (w = scratch->data, end = w + scratch->len; w < end; w += strlen(w) + 1)
			if (memmem(text, len, w, strlen(w)))
				return 1;
	/* A word ends at i + 3 when the trigram there is its last one. */
	for (i = 0; i + TRIGRAM_BYTES <= len; i++) {
		memcpy(key + 1, text + i, TRIGRAM_BYTES);
		if (!listcache_get(c, key, sizeof key, scratch))
			continue;
		for (w = scratch->data, end = w + scratch->len; w < end; w += n + 1) {
			n = strlen(w);
			if (n <= i + TRIGRAM_BYTES && memcmp(text + i + TRIGRAM_BYTES - n, w, n) == 0)
				return 1;
		}
	}
	return 0;
}

static int pattern_listed(struct listcache *c, const char *text, struct buf *key, struct buf *scratch)
{
	if (!make_key(key, KEY_EXACT, text, strlen(text)))
		return 0;
	return listcache_has(c, key->data, key->len) || words_match(c, key, scratch) || patterns_match(c, text, scratch);
}

int hostlist_match_pattern(const char *relative, const char *text)
{
	struct buf key = BUF_INIT, scratch = BUF_INIT;
	struct listcache c;
	int r;

	r = listcache_open(&c, relative, "pattern", compile_min_bytes, LIST_FLAGS, compile_list,
			   (void *)&pattern_kind);
	if (r == LISTCACHE_EMPTY)
		return 0;
	if (r != LISTCACHE_READY)
		return listfile_find_home(relative, LIST_FLAGS, pattern_line, (void *)text);
	r = pattern_listed(&c, text, &key, &scratch);
	listcache_close(&c);
	buf_free(&key);
	buf_free(&scratch);
	return r;
}

/* One ip.can line (blanks already removed) against the client's address
 * as given (ip) and canonical (canonical): a prefix ending in '*' is
 * compared as text; an exact line matches either, or is itself an address
 * literal with the same canonical form. */
static int ip_can_match(const char *pattern, const char *ip, const char *canonical)
{
	char line_canonical[IPKEY_MAX_BYTES];
	size_t n = strlen(pattern);

	if (pattern[n - 1] == '*')
		return strncmp(pattern, ip, n - 1) == 0 || strncmp(pattern, canonical, n - 1) == 0;
	if (strcmp(pattern, ip) == 0 || strcmp(pattern, canonical) == 0)
		return 1;
	return ipkey_canonical(line_canonical, sizeof line_canonical, pattern)
	       && strcmp(line_canonical, canonical) == 0;
}

struct ip_can_client {
	const char *ip, *canonical;
};

static int ip_can_line(const char *line, void *ctx)
{
	const struct ip_can_client *c = ctx;

	return ip_can_match(line, c->ip, c->canonical);
}

static int text_listed(struct listcache *c, struct buf *key, char tag, const char *text, size_t len)
{
	buf_truncate(key, 0);
	return buf_catc(key, tag) && buf_cat(key, text, len) && listcache_has(c, key->data, key->len);
}

/* The compiled ip.can: the texts, then one probe per prefix length. */
static int ip_can_listed(struct listcache *c, const struct ip_can_client *m, struct buf *key, struct buf *scratch)
{
	size_t i, k, n = strlen(m->ip), nc = strlen(m->canonical);

	if (text_listed(c, key, KEY_TEXT, m->ip, n) || text_listed(c, key, KEY_TEXT, m->canonical, nc))
		return 1;
	if (!listcache_get(c, KEY_PREFIX_LENGTHS, strlen(KEY_PREFIX_LENGTHS), scratch))
		return 0;
	for (i = 0; i + 1 < scratch->len; i += 2) {
		k = (size_t)(unsigned char)scratch->data[i] << 8 | (unsigned char)scratch->data[i + 1];
		if ((k <= n && text_listed(c, key, KEY_PREFIX, m->ip, k))
		    || (k <= nc && text_listed(c, key, KEY_PREFIX, m->canonical, k)))
			return 1;
	}
	return 0;
}

int hostlist_match_ip_can(const char *relative, const char *ip)
{
	char canonical[IPKEY_MAX_BYTES];
	struct ip_can_client m = { ip, ip };
	struct buf key = BUF_INIT, scratch = BUF_INIT;
	struct listcache c;
	int r;

	/* A line matches the address as the client's peer gave it or in its
	 * canonical form (ipkey.h), so "192.0.2.*" also bans ::ffff:192.0.2.7. */
	if (ipkey_canonical(canonical, sizeof canonical, ip))
		m.canonical = canonical;
	r = listcache_open(&c, relative, "ipcan", compile_min_bytes, LISTFILE_COMMENT_SEMICOLON, compile_list,
			   (void *)&ip_can_kind);
	if (r == LISTCACHE_EMPTY)
		return 0;
	if (r != LISTCACHE_READY)
		return listfile_find_home(relative, LISTFILE_COMMENT_SEMICOLON, ip_can_line, &m);
	r = ip_can_listed(&c, &m, &key, &scratch);
	listcache_close(&c);
	buf_free(&key);
	buf_free(&scratch);
	return r;
}

/* 1 when a line of text starts with entry followed by a blank or its end. */
static int has_entry(const struct buf *text, const char *entry)
{
	const char *p = text->data, *end;
	size_t n = strlen(entry);

	if (!p)
		return 0;
	for (end = p + text->len; p && p < end; p = memchr(p, '\n', (size_t)(end - p)), p = p ? p + 1 : NULL)
		if ((size_t)(end - p) >= n && strncasecmp(p, entry, n) == 0
		    && (p + n == end || p[n] == '\n' || p[n] == '\r' || p[n] == ' ' || p[n] == '\t'))
			return 1;
	return 0;
}

int hostlist_append(const char *relative, const char *entry, const char *why)
{
	struct buf old = BUF_INIT, add = BUF_INIT;
	char path[PATH_MAX];
	int fd, ok = 0, err;

	if (!*entry || strpbrk(entry, " \t\r\n") || !home_path(path, sizeof path, relative))
		return (errno = EINVAL, 0);
	if ((fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644)) < 0)
		return 0;
	if (flock(fd, LOCK_EX) == 0 && file_read_fd(fd, &old)) {
		ok = has_entry(&old, entry)
		     || ((!old.len || old.data[old.len - 1] == '\n' || buf_catc(&add, '\n'))
			 && buf_catf(&add, "; %s\n%s\n", why, entry) && file_write_all(fd, add.data, add.len)
			 && fsync(fd) == 0);
	}
	err = errno;
	close(fd);
	buf_free(&old);
	buf_free(&add);
	errno = err;
	return ok;
}
