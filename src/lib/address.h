/* address: the SMTP path parser (RFC 5321 §4.1.2) shared by smtpd, sendmail
 * and route.  CR, LF, NUL and other control bytes are refused at the door. */
#ifndef BBSMAIL_ADDRESS_H
#define BBSMAIL_ADDRESS_H
#include "buf.h"

#define ADDRESS_MAX_BYTES 256        /* RFC 5321 §4.5.3.1.3 path limit */
#define ADDRESS_LOCAL_MAX_BYTES 64
#define ADDRESS_DOMAIN_MAX_BYTES 255

#define ADDRESS_ALLOW_UTF8  0x1      /* SMTPUTF8 was given: bytes >= 0x80 ok */
#define ADDRESS_SLOPPY      0x2      /* tolerate missing <> and stray spaces */

/* Parses "<path>" at the start of arg (after "FROM:"/"TO:").  On 1, address
 * holds "local@domain" (source route dropped, quotes of the local part kept
 * as given) or "" for <>, and *params points at the text after '>'.  On 0,
 * *why says what is wrong, in words fit for a 501/553 reply. */
int address_parse_path(const char *arg, int flags, struct buf *address, const char **params,
		       const char **why);
/* Splits at the last '@' outside quotes.  local is unquoted ("a b"@x -> a b).
 * Returns 1 with a domain, 0 when there is no '@' (domain "").  Out of
 * memory it returns 0 with errno ENOMEM (and either buffer may be empty):
 * a caller that must tell the two apart sets errno to 0 first. */
int address_split(const char *address, struct buf *local, struct buf *domain);
/* 1 for a syntactically valid domain or address literal. */
int address_domain_valid(const char *domain, int flags);

#endif
