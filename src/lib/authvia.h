/* authvia: POP-before-SMTP (Synchronet's SMTP_AUTH_VIA_IP).  pop3d records
 * the client address after each successful login; smtpd asks whether its
 * client logged in recently enough (mail.ini AuthViaIPWindow) to relay
 * without SMTP AUTH.
 *
 * GDBM file spool/data/authvia.gdbm, one record per address, key
 * "ip:<address>" with the address in its canonical form (ipkey.h: so a
 * POP3 login over IPv4 counts for an SMTP client seen as ::ffff:a.b.c.d),
 * value the login time as decimal seconds since the epoch.
 * A record call also forgets, at most once an hour, records older than
 * AUTHVIA_FORGET_SEC (the key "pruned" holds the time of the last sweep),
 * so the table stays as small as the set of recent POP3 clients.  Behind
 * this small interface so the table can move to a shared store. */
#ifndef BBSMAIL_AUTHVIA_H
#define BBSMAIL_AUTHVIA_H
#include <time.h>

#define AUTHVIA_FORGET_SEC (24 * 60 * 60)
#define AUTHVIA_PRUNE_EVERY_SEC (60 * 60)

/* Remembers that ip logged in at now.  1 ok, 0 errno (EINVAL: ip is not
 * an IPv4 or IPv6 literal). */
int authvia_record(const char *ip, time_t now);
/* 1 when ip logged in within the last window_sec seconds (and not in the
 * future), 0 not (or no table), -1 on error (errno). */
int authvia_recent(const char *ip, unsigned long window_sec, time_t now);

#endif
