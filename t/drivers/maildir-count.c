/* maildir-count MAILBOX: prints maildir_count(MAILBOX) for the Bats tests
 * (t/deliver-local.bats). */
#include "maildir.h"
#include <stdio.h>

int main(int argc, char **argv)
{
	long n;

	if (argc != 2) {
		fprintf(stderr, "usage: maildir-count MAILBOX\n");
		return 100;
	}
	n = maildir_count(argv[1]);
	if (n < 0) {
		perror("maildir_count");
		return 111;
	}
	printf("%ld\n", n);
	return 0;
}
