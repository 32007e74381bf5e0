/* date: the RFC 5322 §3.3 date-time of a moment, always in UTC ("+0000"),
 * for Received, an added Date: and the greeting's %T. */
#ifndef BBSMAIL_DATE_H
#define BBSMAIL_DATE_H
#include <stddef.h>

/* "Thu, 01 Jan 1970 00:00:00 +0000" plus room for a five-digit year. */
#define DATE_RFC5322_MAX_BYTES 40

/* Writes the date of seconds since the epoch (negative ones too) into out.
 * Plain arithmetic, no gmtime_r: glibc's gmtime_r calls tzset, which reads
 * /etc/localtime, and a receiver pays that once per connection.
 * 1 ok, 0 with ERANGE when size is too small (out then holds ""). */
int date_rfc5322(char *out, size_t size, long long seconds);

#endif
