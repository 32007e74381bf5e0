/* commands: one handler per bbsmail-user command.  Each gets the parsed
 * arguments and the user database (open for writing for commands that
 * change it, for reading otherwise; NULL for init) and returns the exit code
 * or dies through log.h with the class code. */
#ifndef BBSMAIL_USER_COMMANDS_H
#define BBSMAIL_USER_COMMANDS_H
#include "args.h"
#include "userdb.h"

int command_init(struct user_args *a, struct userdb *db);
int command_add(struct user_args *a, struct userdb *db);
int command_del(struct user_args *a, struct userdb *db);
int command_passwd(struct user_args *a, struct userdb *db);
int command_apop(struct user_args *a, struct userdb *db);
int command_set(struct user_args *a, struct userdb *db);
int command_show(struct user_args *a, struct userdb *db);
int command_list(struct user_args *a, struct userdb *db);

#endif
