#include "ipkey.h"
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

/* The longest literal inet_pton could take: a full IPv6 address with an
 * IPv4 tail is 45 bytes. */
#define IP_LITERAL_MAX_BYTES 64

int ipkey_canonical(char *out, size_t size, const char *ip)
{
	char text[INET6_ADDRSTRLEN];
	struct in6_addr a6;
	struct in_addr a4;
	int n;

	if (strlen(ip) >= IP_LITERAL_MAX_BYTES) {
		errno = EINVAL;
		return 0;
	}
	if (inet_pton(AF_INET, ip, &a4) == 1) {
		if (!inet_ntop(AF_INET, &a4, text, sizeof text))
			return 0;
	} else if (inet_pton(AF_INET6, ip, &a6) == 1) {
		if (IN6_IS_ADDR_V4MAPPED(&a6)) {
			memcpy(&a4, a6.s6_addr + 12, 4);
			if (!inet_ntop(AF_INET, &a4, text, sizeof text))
				return 0;
		} else if (!inet_ntop(AF_INET6, &a6, text, sizeof text)) {
			return 0;
		}
	} else {
		errno = EINVAL;
		return 0;
	}
	n = snprintf(out, size, "%s", text);
	if (n < 0 || (size_t)n >= size) {
		errno = ERANGE;
		return 0;
	}
	return 1;
}

int ipkey_make(char *out, size_t size, const char *ip)
{
	if (size < 4) {
		errno = ERANGE;
		return 0;
	}
	memcpy(out, "ip:", 3);
	return ipkey_canonical(out + 3, size - 3, ip);
}
