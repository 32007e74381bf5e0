/* check: the one assertion macro of the unit drivers in t/drivers.  A driver
 * prints every failed check with its line and exits 1 if any failed, 0
 * otherwise; t/lib-units.bats runs them. */
#ifndef BBSMAIL_T_CHECK_H
#define BBSMAIL_T_CHECK_H
#include <stdio.h>

static int check_failures;

#define CHECK(cond)                                                              \
	do {                                                                     \
		if (!(cond)) {                                                   \
			printf("%s:%d: failed: %s\n", __FILE__, __LINE__, #cond); \
			check_failures++;                                        \
		}                                                                \
	} while (0)

#define CHECK_DONE() (fflush(stdout), check_failures ? 1 : 0)

#endif
