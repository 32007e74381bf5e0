#include "hostlist.h"
#include "buf.h"
#include "file.h"
#include "home.h"
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
	char e[300];

	entry_of(line, e, sizeof e);
	if (!e[0] || strchr(e, '@'))
		return 0;
	if ((net_len = parse_network(e, net, &prefix)))
		return in_network(net, net_len, prefix, m->addr, m->addr_len);
	/* Not a network: a host name, unless it was meant as an address. */
	if (strchr(e, '/') || strspn(e, "0123456789.") == strlen(e)) {
		log_warn("%s:%lu: not an address or network: %.64s (skipped)", m->relative, line_number, e);
		return 0;
	}
	return m->host && fnmatch(e, m->host, FNM_CASEFOLD) == 0;
}

int hostlist_match_client(const char *relative, const char *ip, const char *host)
{
	struct client_match m = { relative, host && *host ? host : NULL, { 0 }, 0 };

	m.addr_len = ip ? ip_bytes(ip, m.addr) : 0;
	return listfile_find_home_numbered(relative, LISTFILE_COMMENT_SEMICOLON | LISTFILE_COMMENT_HASH, client_line,
					   &m);
}

static int address_line(const char *line, void *opaque)
{
	const char *address = opaque;
	char e[600];

	entry_of(line, e, sizeof e);
	return e[0] && strchr(e, '@') && fnmatch(e, address, FNM_CASEFOLD) == 0;
}

int hostlist_match_address(const char *relative, const char *address)
{
	if (!address || !*address)
		return 0;
	return listfile_find_home(relative, LISTFILE_COMMENT_SEMICOLON | LISTFILE_COMMENT_HASH, address_line,
				  (void *)address);
}

static int pattern_line(const char *line, void *opaque)
{
	return fnmatch(line, (const char *)opaque, FNM_CASEFOLD) == 0;
}

int hostlist_match_pattern(const char *relative, const char *text)
{
	return listfile_find_home(relative, LISTFILE_COMMENT_SEMICOLON | LISTFILE_COMMENT_HASH, pattern_line,
				  (void *)text);
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

void hostlist_set_compile_min_bytes(long bytes) { (void)bytes; }
