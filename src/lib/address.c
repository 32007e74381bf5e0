#include "address.h"
#include <ctype.h>
#include <errno.h>
#include <string.h>

/* RFC 5322 atext, the characters of an unquoted local part. */
static int is_atext(unsigned char c, int flags)
{
	if (c >= 0x80)
		return (flags & ADDRESS_ALLOW_UTF8) != 0;
	return isalnum(c) || (c && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

static int is_control(unsigned char c) { return c < 0x20 || c == 0x7f; }

/* A domain label character; '_' is tolerated because it exists in the wild. */
static int is_label_char(unsigned char c, int flags)
{
	if (c >= 0x80)
		return (flags & ADDRESS_ALLOW_UTF8) != 0;
	return isalnum(c) || c == '-' || c == '_';
}

static int literal_valid(const char *d, size_t n)
{
	size_t i;

	if (n < 3 || d[0] != '[' || d[n - 1] != ']')
		return 0;
	for (i = 1; i < n - 1; i++) {
		unsigned char c = (unsigned char)d[i];
		if (!(isalnum(c) || c == '.' || c == ':'))
			return 0;
	}
	return 1;
}

static int domain_valid_len(const char *d, size_t n, int flags)
{
	size_t i, label = 0;

	if (n == 0 || n > ADDRESS_DOMAIN_MAX_BYTES)
		return 0;
	if (d[0] == '[')
		return literal_valid(d, n);
	for (i = 0; i < n; i++) {
		if (d[i] == '.') {
			if (label == 0)
				return 0;
			label = 0;
			continue;
		}
		if (!is_label_char((unsigned char)d[i], flags) || ++label > 63)
			return 0;
	}
	return 1; /* a trailing dot (label == 0) is the root: allowed */
}

int address_domain_valid(const char *domain, int flags)
{
	return domain_valid_len(domain, strlen(domain), flags);
}

static const char *first_bad_byte(const char *arg, int flags)
{
	const unsigned char *p;

	for (p = (const unsigned char *)arg; *p; p++) {
		if (is_control(*p) && *p != ' ' && *p != '\t')
			return "control characters in address";
		if (*p >= 0x80 && !(flags & ADDRESS_ALLOW_UTF8))
			return "8-bit characters in address need SMTPUTF8";
	}
	return NULL;
}

/* Skips "@a,@b:" (RFC 5321 A-d-l); its domains are checked, then dropped. */
static const char *skip_source_route(const char *p, const char **why)
{
	const char *end;

	if (*p != '@')
		return p;
	end = strchr(p, ':');
	if (!end) {
		*why = "malformed source route";
		return NULL;
	}
	while (p < end) {
		const char *comma;
		if (*p != '@') {
			*why = "malformed source route";
			return NULL;
		}
		comma = memchr(p, ',', (size_t)(end - p));
		if (!comma)
			comma = end;
		if (!domain_valid_len(p + 1, (size_t)(comma - p - 1), 0)) {
			*why = "malformed source route";
			return NULL;
		}
		p = comma < end ? comma + 1 : end;
	}
	return end + 1;
}

/* Scans a local part; returns a pointer past it or NULL. */
static const char *scan_local(const char *p, int flags, const char **why)
{
	const char *start = p;

	if (*p == '"') {
		for (p++; *p && *p != '"'; p++) {
			if (*p == '\\') {
				p++;
				if (!*p || is_control((unsigned char)*p))
					break;
			} else if (is_control((unsigned char)*p)
				   || ((unsigned char)*p >= 0x80 && !(flags & ADDRESS_ALLOW_UTF8))) {
				break;
			}
		}
		if (*p != '"') {
			*why = "malformed quoted local part";
			return NULL;
		}
		p++;
	} else {
		while (is_atext((unsigned char)*p, flags) || *p == '.')
			p++;
		if (p == start) {
			*why = "empty local part";
			return NULL;
		}
	}
	if ((size_t)(p - start) > ADDRESS_LOCAL_MAX_BYTES) {
		*why = "local part too long";
		return NULL;
	}
	return p;
}

int address_parse_path(const char *arg, int flags, struct buf *address, const char **params,
		       const char **why)
{
	const char *p = arg, *start, *local_end, *end;
	int bracketed;

	buf_truncate(address, 0);
	while (*p == ' ' || *p == '\t')
		p++;
	/* Only the path itself is checked here; parameters after it are the caller's. */
	bracketed = *p == '<';
	if (!bracketed && !(flags & ADDRESS_SLOPPY)) {
		*why = "address must be enclosed in <>";
		return 0;
	}
	if (bracketed)
		p++;
	if (bracketed && *p == '>') {
		*params = p + 1;
		while (**params == ' ')
			(*params)++;
		return 1; /* the null path <> */
	}
	p = skip_source_route(p, why);
	if (!p)
		return 0;
	start = p;
	local_end = scan_local(p, flags, why);
	if (!local_end) {
		const char *bad = first_bad_byte(start, flags);
		if (bad)
			*why = bad;
		return 0;
	}
	end = local_end;
	if (*end == '@') {
		const char *d = end + 1;
		end = d;
		if (*end == '[') {
			end = strchr(end, ']');
			end = end ? end + 1 : d + strlen(d);
		} else {
			while (is_label_char((unsigned char)*end, flags) || *end == '.')
				end++;
		}
		if (!domain_valid_len(d, (size_t)(end - d), flags)) {
			const char *bad = first_bad_byte(d, flags);
			*why = bad ? bad : "malformed domain";
			return 0;
		}
	}
	if (bracketed ? *end != '>' : (*end && *end != ' ')) {
		const char *bad = first_bad_byte(start, flags);
		*why = bad ? bad : "malformed address";
		return 0;
	}
	if ((size_t)(end - start) > ADDRESS_MAX_BYTES) {
		*why = "address too long";
		return 0;
	}
	if (!buf_copy(address, start, (size_t)(end - start))) {
		*why = "out of memory";
		return 0;
	}
	p = bracketed ? end + 1 : end;
	while (*p == ' ')
		p++;
	*params = p;
	return 1;
}

int address_split(const char *address, struct buf *local, struct buf *domain)
{
	const char *at = NULL, *p, *end;
	int quoted = 0, ok;

	buf_truncate(local, 0);
	buf_truncate(domain, 0);
	/* Both come back as strings, "" when empty. */
	ok = buf_reserve(local, 0) && buf_reserve(domain, 0);
	for (p = address; *p; p++) {
		if (*p == '\\' && quoted && p[1])
			p++;
		else if (*p == '"')
			quoted = !quoted;
		else if (*p == '@' && !quoted)
			at = p;
	}
	end = at ? at : address + strlen(address);
	p = address;
	if (*p == '"') {
		for (p++; ok && *p && *p != '"'; p++) {
			if (*p == '\\' && p[1])
				p++;
			ok = buf_catc(local, *p);
		}
		if (*p == '"')
			p++;
		/* Anything between the closing quote and '@' is malformed; keep it visible. */
		if (ok && p < end)
			ok = buf_cat(local, p, (size_t)(end - p));
	} else if (ok) {
		ok = buf_cat(local, address, (size_t)(end - address));
	}
	if (ok && at)
		ok = buf_cats(domain, at + 1);
	if (!ok) {
		errno = ENOMEM;
		return 0;
	}
	return at != NULL;
}
