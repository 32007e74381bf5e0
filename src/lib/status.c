#include "status.h"

size_t smtp_status_length(const char *p, size_t n, char cls)
{
	size_t i = 2, part, digits;

	if (n < 5 || p[0] != cls || p[1] != '.' || (cls != '2' && cls != '4' && cls != '5'))
		return 0;
	for (part = 0; part < 2; part++) {
		for (digits = 0; i < n && p[i] >= '0' && p[i] <= '9'; i++)
			digits++;
		if (digits < 1 || digits > 3)
			return 0;
		if (part == 0 && (i >= n || p[i++] != '.'))
			return 0;
	}
	return i == n || p[i] == ' ' ? i : 0;
}
