/* bbsmail-user: manages the BBS user database (spool/data/users.gdbm).
 * main() stays thin: the global -d option, then one row of the command
 * table, which says which options the command takes and how it opens the
 * database.  The commands live in commands.c. */
#include "args.h"
#include "commands.h"
#include "home.h"
#include "log.h"
#include "userdb.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>

#define USAGE "bbsmail-user [-d DIR] init|add|del|passwd|apop|set|show|list [ARGS]"

enum open_mode { OPEN_NONE, OPEN_READ, OPEN_WRITE };

struct command {
	const char *name;
	int (*run)(struct user_args *a, struct userdb *db);
	unsigned options;      /* OPT_* accepted */
	int operands;          /* 0 or 1 (NAME or NAME|NUMBER) */
	enum open_mode open;
	const char *usage;
};

static const struct command commands[] = {
	{ "init", command_init, 0, 0, OPEN_NONE, "bbsmail-user [-d DIR] init" },
	{ "add", command_add,
	  OPT_ALIAS | OPT_PASSWORD | OPT_PASSWORD_STDIN | OPT_NUMBER | OPT_FORWARD | OPT_FLAGS | OPT_NO_CRAM,
	  1, OPEN_WRITE,
	  "bbsmail-user [-d DIR] add NAME [--alias A] [--password P | --password-stdin] [--number N]"
	  " [--forward ADDR] [--flags F1,F2] [--no-cram]" },
	{ "del", command_del, 0, 1, OPEN_WRITE, "bbsmail-user [-d DIR] del NAME|NUMBER" },
	{ "passwd", command_passwd, OPT_PASSWORD | OPT_PASSWORD_STDIN | OPT_NO_CRAM, 1, OPEN_WRITE,
	  "bbsmail-user [-d DIR] passwd NAME|NUMBER (--password P | --password-stdin) [--no-cram]" },
	{ "apop", command_apop, OPT_SECRET | OPT_SECRET_STDIN | OPT_CLEAR, 1, OPEN_WRITE,
	  "bbsmail-user [-d DIR] apop NAME|NUMBER (--secret S | --secret-stdin | --clear)" },
	{ "set", command_set, OPT_ALIAS | OPT_FORWARD | OPT_FLAGS | OPT_NAME, 1, OPEN_WRITE,
	  "bbsmail-user [-d DIR] set NAME|NUMBER [--alias A] [--forward ADDR] [--flags F1,F2] [--name NEW]" },
	{ "show", command_show, 0, 1, OPEN_READ, "bbsmail-user [-d DIR] show NAME|NUMBER" },
	{ "list", command_list, 0, 0, OPEN_READ, "bbsmail-user [-d DIR] list" },
};

static const struct command *command_find(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (strcmp(name, commands[i].name) == 0)
			return &commands[i];
	return NULL;
}

/* An unusable database is a temporary failure: the sysop can fix it. */
static void xuserdb_open(struct userdb *db, int writable)
{
	if (!userdb_open(db, writable)) {
		if (!errno)
			errno = EIO;
		die_temp("unable to open %s/spool/data/users.gdbm: %s", home_dir(), strerror(errno));
	}
}

int main(int argc, char **argv)
{
	const struct command *c;
	struct user_args args;
	struct userdb db;
	int code, i = 1;

	log_set_program("bbsmail-user");
	if (i + 1 < argc && strcmp(argv[i], "-d") == 0) {
		home_set(argv[i + 1]);
		i += 2;
	}
	home_umask();
	if (i >= argc || !(c = command_find(argv[i])))
		die_usage(USAGE);
	if (!args_parse(&args, argv + i + 1, c->options, c->operands))
		die_usage(c->usage);
	if (c->open == OPEN_NONE)
		return c->run(&args, NULL);
	xuserdb_open(&db, c->open == OPEN_WRITE);
	code = c->run(&args, &db);
	userdb_close(&db);
	if (fflush(stdout) != 0)
		die_sys("unable to write output");
	return code;
}
