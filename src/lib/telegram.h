/* telegram: short messages to BBS users (SMTP SEND/SAML/SOML, RFC 821
 * §3.4, and the new-mail notices of deliver-local), stored one file each
 * in spool/telegram/<usernum>/<name>, and the presence files a BBS
 * touches while a user is on line (spool/presence/<usernum>).  Formats in
 * man/spool.5, the reader is bin/bbsmail-telegram. */
#ifndef BBSMAIL_TELEGRAM_H
#define BBSMAIL_TELEGRAM_H
#include "buf.h"
#include "spool.h"
#include <stddef.h>

/* The longest telegram text, after the cleaning below. */
#define TELEGRAM_TEXT_MAX 1024
/* A presence file touched less than this long ago means "on line". */
#define TELEGRAM_PRESENCE_SEC 900

/* The x functions here die through die_nomem when out cannot grow (they
 * serve smtpd and the stages, which can do nothing better).
 *
 * Appends one line of text (no line end) to out as telegram text: control
 * characters (below 0x20, and DEL) are dropped, then an LF.  Stops at
 * TELEGRAM_TEXT_MAX bytes; returns 0 (nothing more appended) once the text
 * would be longer, 1 otherwise. */
int xtelegram_text_line(struct buf *out, const char *line, size_t len);
/* The same cleaning for a whole text (LF kept, every other control
 * character dropped), up to TELEGRAM_TEXT_MAX: 0 when it was cut. */
int xtelegram_text_clean(struct buf *out, const char *text, size_t len);

/* A notice key of mail.ini (NewMailNotice, ForwardNotice) filled in: the
 * first "%s" becomes arg, "%%" becomes "%", any other '%' stays as it is;
 * the C escapes \r \n \t \\ of the key become their characters.  The key
 * is data, never a printf format. */
void xtelegram_format_key(struct buf *out, const char *key, const char *arg);

/* A new-mail notice: the NewMailNotice key with the sender, then, when
 * forwarded_to is not NULL, the ForwardNotice key with it; cleaned like
 * any telegram text, into a whole telegram file from from_address. */
void xtelegram_notice(struct buf *file, const char *from_address, long long when, const char *new_key,
		     const char *forward_key, const char *sender, const char *forwarded_to);

/* 1 when spool/presence/<usernum> exists and its mtime is less than
 * TELEGRAM_PRESENCE_SEC old (or in the future), 0 not, -1 error (errno). */
int telegram_user_present(unsigned long usernum, long long now);

/* The whole file: "From: <sender>\nDate: <RFC 5322 date>\n\n" + text. */
void xtelegram_build(struct buf *out, const char *sender, long long when, const char *text, size_t len);

/* Writes file as spool/telegram/<usernum>/<name> (the directories are
 * created), through spool/tmp/telegram.<usernum>.<name>.  With durable 1
 * it is fsync'ed, renamed and its directory fsync'ed (the one spool
 * write); with 0 it is only renamed into place and the caller makes a
 * batch durable with one file_syncfs.  An existing file of that name is
 * replaced (a rerun rewrites the same notice).  1 ok, 0 errno. */
int telegram_write(unsigned long usernum, const char *name, const char *file, size_t len, int durable);

#endif
