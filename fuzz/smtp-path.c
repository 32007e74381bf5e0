/* Fuzzes the SMTP path parser (src/lib/address.c): the argument of MAIL
 * FROM: and RCPT TO: as a client sends it, with and without SMTPUTF8 and
 * the sloppy mode, then the split and domain check of what it accepted.
 * What it accepts must hold no control byte and fit the RFC 5321 limit. */
#include "address.h"
#include "buf.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_path(const char *arg, int flags)
{
	struct buf address = BUF_INIT, local = BUF_INIT, domain = BUF_INIT;
	const char *params = NULL, *why = NULL;
	size_t i;

	if (address_parse_path(arg, flags, &address, &params, &why)) {
		if (!params || params < arg || params > arg + strlen(arg))
			__builtin_trap();
		if (address.len > ADDRESS_MAX_BYTES)
			__builtin_trap();
		for (i = 0; i < address.len; i++)
			if ((unsigned char)address.data[i] < 0x20 || address.data[i] == 0x7f)
				__builtin_trap();
		if (address.len && address_split(address.data, &local, &domain))
			(void)address_domain_valid(domain.data, flags);
	} else if (!why) {
		__builtin_trap();
	}
	buf_free(&address);
	buf_free(&local);
	buf_free(&domain);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *arg = malloc(size + 1);

	if (!arg)
		return 0;
	memcpy(arg, data, size);
	arg[size] = 0;   /* the receivers cut lines at NUL before this */
	check_path(arg, 0);
	check_path(arg, ADDRESS_ALLOW_UTF8);
	check_path(arg, ADDRESS_SLOPPY | ADDRESS_ALLOW_UTF8);
	(void)address_domain_valid(arg, 0);
	free(arg);
	return 0;
}
