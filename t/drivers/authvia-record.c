/* authvia-record IP [SECONDS_AGO]: records a POP3 login from IP, as pop3d
 * does after a successful login, optionally dated SECONDS_AGO in the past
 * (tests open and close the SMTP_AUTH_VIA_IP window with it).
 * authvia-record -q IP WINDOW: prints 1 when IP is within WINDOW seconds.
 * Exit 0 ok, 100 usage, 111 table error. */
#include "authvia.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int main(int argc, char **argv)
{
	time_t now = time(NULL);
	int r;

	if (argc == 4 && strcmp(argv[1], "-q") == 0) {
		r = authvia_recent(argv[2], strtoul(argv[3], NULL, 10), now);
		if (r < 0) {
			perror("authvia-record: fatal: unable to read the table");
			return 111;
		}
		printf("%d\n", r);
		return 0;
	}
	if (argc != 2 && argc != 3) {
		fprintf(stderr, "authvia-record: usage: authvia-record IP [SECONDS_AGO] | -q IP WINDOW\n");
		return 100;
	}
	if (argc == 3)
		now -= (time_t)strtol(argv[2], NULL, 10);
	if (!authvia_record(argv[1], now)) {
		perror("authvia-record: fatal: unable to record");
		return 111;
	}
	return 0;
}
