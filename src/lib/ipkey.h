/* ipkey: the one spelling of a client address, for the GDBM keys
 * "ip:<address>" of spool/data/logins.gdbm (loginfail) and
 * spool/data/authvia.gdbm (authvia), and for matching etc/ip.can.
 *
 * Only an IPv4 or IPv6 literal is accepted (inet_pton: no names, no
 * zone "%eth0", no blanks).  The canonical form is:
 *   IPv4, and IPv4-mapped IPv6 (::ffff:192.0.2.1):  dotted quad, 192.0.2.1
 *     (one host reached over IPv4 or through a dual-stack socket is one key)
 *   any other IPv6: inet_ntop's text, lowercase hex with the longest (then
 *     the first) run of two or more zero groups written "::" (RFC 5952), so
 *     2001:DB8:0:0::1 and 2001:db8::0:1 are both 2001:db8::1; glibc keeps
 *     a dotted tail for the deprecated IPv4-compatible ::a.b.c.d, which is
 *     still one spelling for one address. */
#ifndef BBSMAIL_IPKEY_H
#define BBSMAIL_IPKEY_H
#include <stddef.h>

/* Room for "ip:" and the longest canonical IPv6 text, with the NUL. */
#define IPKEY_MAX_BYTES 64

/* Writes the canonical form of ip into out.  1 ok, 0 with EINVAL (not an
 * IPv4 or IPv6 literal) or ERANGE (out too small). */
int ipkey_canonical(char *out, size_t size, const char *ip);
/* Writes "ip:<canonical form>" into out.  1 ok, 0 with EINVAL or ERANGE. */
int ipkey_make(char *out, size_t size, const char *ip);

#endif
