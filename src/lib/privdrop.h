/* privdrop: a receiver started as root becomes its own user before it
 * reads a byte from the client.  tcpserver -u/-g and daemontools'
 * setuidgid set one group only, and in a shared home (home.h) smtpd and
 * pop3d each need several (the spool's or the mailboxes' group, spool/data's,
 * etc/'s), so they take -u USER and set every group USER is in. */
#ifndef BBSMAIL_PRIVDROP_H
#define BBSMAIL_PRIVDROP_H

/* As root: the groups of user (its passwd group and every group that lists
 * it), then its gid and uid, for good.  Already running as user: nothing
 * to do.  Dies (temporary) otherwise, and for a user that is root or
 * unknown: a receiver never goes on with privileges it was not meant to
 * keep. */
void xprivdrop(const char *user);

#endif
