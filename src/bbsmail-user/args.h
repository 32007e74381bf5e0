/* args: the command line of bbsmail-user, parsed by one option table so that
 * every command accepts exactly the options its usage line names. */
#ifndef BBSMAIL_USER_ARGS_H
#define BBSMAIL_USER_ARGS_H

/* One bit per option, so a command can list the ones it accepts. */
enum user_option {
	OPT_ALIAS = 1 << 0,
	OPT_PASSWORD = 1 << 1,
	OPT_PASSWORD_STDIN = 1 << 2,
	OPT_NUMBER = 1 << 3,
	OPT_FORWARD = 1 << 4,
	OPT_FLAGS = 1 << 5,
	OPT_NO_CRAM = 1 << 6,
	OPT_NAME = 1 << 7,
	OPT_SECRET = 1 << 8,
	OPT_SECRET_STDIN = 1 << 9,
	OPT_CLEAR = 1 << 10
};

struct user_args {
	const char *target;       /* the NAME or NAME|NUMBER operand */
	const char *alias, *password, *number, *forward, *flags, *new_name, *secret;
	unsigned given;           /* OPT_* bits seen on the command line */
};

/* Fills a from argv (after the command word).  0 when an option is unknown,
 * not in allowed, repeated or lacks its value, or the operand count is not
 * operands (0 or 1). */
int args_parse(struct user_args *a, char **argv, unsigned allowed, int operands);

#endif
