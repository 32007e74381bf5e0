/* The content filter's answer line, apart so the fuzz harness
 * (fuzz/contentfilter-reply.c) links it alone. */
#include "smtpd-contentfilter.h"
#include <string.h>

/* "x.y.z", 1-3 digits after the class each (RFC 3463 §2), of class c: its
 * length, or 0. */
static size_t enhanced_length(const char *p, size_t len, char c)
{
	size_t i = 0, part = 0, digits = 0;

	if (len < 5 || p[0] != c || p[1] != '.')
		return 0;
	for (i = 2; i < len && p[i] != ' '; i++) {
		if (p[i] == '.') {
			if (!digits || ++part > 1)
				return 0;
			digits = 0;
		} else if (p[i] < '0' || p[i] > '9' || ++digits > 3) {
			return 0;
		}
	}
	return part == 1 && digits && i < 16 ? i : 0;
}

static int code_allowed(enum contentfilter_action a, char first)
{
	if (a == CONTENTFILTER_REJECT)
		return first == '4' || first == '5';
	return first == '2';
}

int smtpd_contentfilter_parse_reply(const char *line, size_t len, struct contentfilter_reply *r)
{
	size_t i, e, t = 0;

	memset(r, 0, sizeof *r);
	if (len >= 2 && line[0] == '-' && line[1] == '1')
		r->action = CONTENTFILTER_REJECT, i = 2;
	else if (len >= 1 && (line[0] == '0' || line[0] == '1'))
		r->action = line[0] == '0' ? CONTENTFILTER_ACCEPT : CONTENTFILTER_FREEZE, i = 1;
	else
		return 0;
	if (i == len)
		return 1;
	if (line[i] != ' ' || len - i < 5 || !code_allowed(r->action, line[i + 1]))
		return 0;
	for (i++; i < len && t < 3; i++, t++) {
		if (line[i] < '0' || line[i] > '9')
			return 0;
		r->code = r->code * 10 + (line[i] - '0');
	}
	if (t != 3 || i >= len || line[i] != ' ')
		return 0;
	i++;
	if (!(e = enhanced_length(line + i, len - i, line[i - 4])))
		return 0;
	memcpy(r->enhanced, line + i, e);
	r->enhanced[e] = '\0';
	i += e;
	if (i >= len || line[i] != ' ' || i + 1 >= len)
		return 0;
	for (i++, t = 0; i < len && t < SMTPD_CONTENTFILTER_TEXT_MAX_BYTES; i++)
		r->text[t++] = line[i] >= 0x20 && line[i] < 0x7f ? line[i] : '?';
	r->text[t] = '\0';
	return 1;
}
