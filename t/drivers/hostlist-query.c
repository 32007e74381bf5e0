/* hostlist-query: answers list-file questions (src/lib/hostlist.h) read
 * from stdin, one a line, printing one answer a line (1, 0 or -1), for
 * t/hostlist-compiled.bats:
 *   client <file> <ip or -> <host or ->
 *   address <file> <address or ->
 *   pattern <file> <text: the rest of the line>
 *   append <file> <entry>            (hostlist_append; prints 1 or 0)
 *   ipcan - <ip>                     (etc/ip.can: loginfail_ip_filtered)
 * -d DIR sets the home; -m direct|auto|compiled picks the direct parse,
 * the size rule, or the compiled form for every file. */
#include "hostlist.h"
#include "home.h"
#include "log.h"
#include "loginfail.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *arg(const char *word) { return strcmp(word, "-") ? word : NULL; }

static int answer(char *line)
{
	char *kind = strtok(line, " "), *file = strtok(NULL, " "), *rest = strtok(NULL, "");
	char *a, *b;

	if (!kind || !file)
		return -2;
	if (!strcmp(kind, "pattern"))
		return hostlist_match_pattern(file, rest ? rest : "");
	a = rest ? strtok(rest, " ") : NULL;
	b = a ? strtok(NULL, " ") : NULL;
	if (!a)
		return -2;
	if (!strcmp(kind, "client"))
		return hostlist_match_client(file, arg(a), b ? arg(b) : NULL);
	if (!strcmp(kind, "address"))
		return hostlist_match_address(file, arg(a) ? a : "");
	if (!strcmp(kind, "ipcan"))
		return loginfail_ip_filtered(a);
	if (!strcmp(kind, "append"))
		return hostlist_append(file, a, "test");
	return -2;
}

int main(int argc, char **argv)
{
	char line[8192];
	int c, r;

	log_set_program("hostlist-query");
	while ((c = getopt(argc, argv, "d:m:")) != -1) {
		if (c == 'd')
			home_set(optarg);
		else if (c == 'm' && !strcmp(optarg, "direct"))
			hostlist_set_compile_min_bytes(-1);
		else if (c == 'm' && !strcmp(optarg, "compiled"))
			hostlist_set_compile_min_bytes(0);
		else if (!(c == 'm' && !strcmp(optarg, "auto")))
			die_usage("hostlist-query [-d dir] [-m direct|auto|compiled] < queries");
	}
	while (fgets(line, sizeof line, stdin)) {
		line[strcspn(line, "\n")] = 0;
		if (!line[0] || line[0] == '#')
			continue;
		if ((r = answer(line)) == -2)
			die_perm("bad query: %s", line);
		printf("%d\n", r);
		fflush(stdout);
	}
	return 0;
}
