/* address-test [-u] [-s] ARG: parses ARG as an SMTP path the way smtpd does
 * (-u: SMTPUTF8 given, -s: sloppy) and prints "ok <address>|<params>" or
 * "error <why>"; then, for a good one, "split <local>|<domain>". */
#include "address.h"
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	struct buf address = BUF_INIT, local = BUF_INIT, domain = BUF_INIT;
	const char *params = NULL, *why = NULL;
	int flags = 0, i;

	for (i = 1; i < argc - 1; i++) {
		if (strcmp(argv[i], "-u") == 0)
			flags |= ADDRESS_ALLOW_UTF8;
		else if (strcmp(argv[i], "-s") == 0)
			flags |= ADDRESS_SLOPPY;
	}
	if (argc < 2)
		return 100;
	if (!address_parse_path(argv[argc - 1], flags, &address, &params, &why)) {
		printf("error %s\n", why);
		return 1;
	}
	printf("ok %s|%s\n", address.len ? address.data : "", params);
	address_split(address.len ? address.data : "", &local, &domain);
	printf("split %s|%s\n", local.len ? local.data : "", domain.len ? domain.data : "");
	buf_free(&address);
	buf_free(&local);
	buf_free(&domain);
	return 0;
}
