/* home: where etc/ and spool/ live.  -d DIR, else $BBSMAIL_HOME, else the
 * compiled-in default (the checkout for the embedded default, PREFIX's home
 * after make install). */
#ifndef BBSMAIL_HOME_H
#define BBSMAIL_HOME_H
#include <stddef.h>

void home_set(const char *dir);
const char *home_dir(void);
/* Writes "<home>/<relative>" into out.  1 ok, 0 with ENAMETOOLONG. */
int home_path(char *out, size_t size, const char *relative);
/* The same, dying (temporary) on truncation. */
void xhome_path(char *out, size_t size, const char *relative);

/* A shared home (scripts/set-permissions --split) serves the receivers and
 * the stages under different uids.  Its spool/ is setgid, so every
 * directory below hands its group down, and those groups decide who
 * reaches which files: the spool's queue group (the stages and smtpd),
 * the mailboxes' group (the stages and pop3d), spool/data's group (both
 * receivers).  home_shared is 1 for such a home (stat'ed once). */
int home_shared(void);
/* The mode a file or directory shared through its directory's group is
 * created with: 0660 / 0770 in a shared home, 0600 / 0700 otherwise. */
unsigned home_file_mode(void);
unsigned home_dir_mode(void);
/* In a shared home, umask 007: the group bits of home_file_mode survive
 * whatever umask the program was started with (cron's, tcpserver's).
 * Elsewhere the umask is left alone.  Called first thing by the programs
 * that write what another uid reads. */
void home_umask(void);

#endif
