/* hostlist: the list files that name clients and senders, such as
 * etc/dnsbl_exempt.cfg (antispam(5)).  One entry a line, comments after
 * ';' or '#' at the start of a line:
 *   192.0.2.1, 2001:db8::1          one client address
 *   192.0.2.0/24, 2001:db8::/32     a network (CIDR prefix)
 *   mx.example.org, *.example.org   a client host name (shell wildcards,
 *                                   no case; a name only matches when the
 *                                   client's name was verified, e.g. by
 *                                   tcpserver's TCPREMOTEHOST)
 *   user@example.org, *@example.org an address (any entry with '@';
 *                                   wildcards, no case)
 * Anything after the first blank on a line is a comment.  A malformed
 * network is a warning with file and line, and is skipped.  A long file
 * is looked up in its compiled form (listcache.h), with the same answers. */
#ifndef BBSMAIL_HOSTLIST_H
#define BBSMAIL_HOSTLIST_H

/* Whether the client (ip, and host when known: NULL otherwise) is listed
 * in <home>/<relative>: 1 yes, 0 no (or no file), -1 the file cannot be
 * read (errno; logged). */
int hostlist_match_client(const char *relative, const char *ip, const char *host);
/* Whether the address ("user@domain"; "" never matches) is listed. */
int hostlist_match_address(const char *relative, const char *address);
/* Whether text matches a whole line of the file taken as a shell pattern
 * (no case; blanks inside the line are part of it): subject.can. */
int hostlist_match_pattern(const char *relative, const char *text);
/* Whether ip matches a line of <home>/<relative> in ip.can's format
 * (ip.can(5): whole lines, comments after ';' only; "<prefix>*" compared
 * as text with ip as given and canonical (ipkey.h), any other line equal
 * to either or an address literal of the same canonical form): 1, 0 (or
 * no file), -1 unreadable (logged).  loginfail_ip_filtered's test. */
int hostlist_match_ip_can(const char *relative, const char *ip);
/* Appends entry (one word) to <home>/<relative> unless a line already
 * starts with it, with a comment line before it saying why; under an
 * flock, so concurrent sessions write each entry once.  1 ok (also when
 * it was there), 0 errno. */
int hostlist_append(const char *relative, const char *entry, const char *why);
/* One entry against an address: 1 when ip (an IPv4 or IPv6 literal) is
 * the entry's address or inside its network, 0 otherwise (also when the
 * entry is no address or network). */
int hostlist_ip_in(const char *entry, const char *ip);
/* Files of at least HOSTLIST_COMPILE_MIN_BYTES are looked up in their
 * compiled form (listcache.h) and smaller ones line by line: opening a
 * form costs about what parsing 300 lines does (measured: 256 lines, 6
 * KiB, 22 us either way; 1024 lines, 24 KiB, 69 us parsed, 25 us
 * compiled). */
#define HOSTLIST_COMPILE_MIN_BYTES 8192L
/* Sets that size for this process: -1 never compiles (every file is
 * parsed at each use), 0 compiles every file.  For tests and measurements. */
void hostlist_set_compile_min_bytes(long bytes);

#endif
