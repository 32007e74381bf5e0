/* mailbox: the session's snapshot of one Maildir, its
 * lock, and the UPDATE state that applies DELE and the seen flag at QUIT.
 *
 * Memory is what limits a 10,000-message mailbox (pop3d(8) promises under
 * 4 MiB): each message is one 16-byte entry in a single array, and every
 * file name lives in one string arena.  Message bodies are never read to
 * LIST when the name carries Dovecot's ",W=<wire size>" or the size cache
 * (cache.h) knows it; otherwise the file is read once and the cache learns it. */
#ifndef BBSMAIL_POP3D_MAILBOX_H
#define BBSMAIL_POP3D_MAILBOX_H
#include "buf.h"
#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#define MAILBOX_LOCK_FILE "bbsmail-pop3.lock"
/* The header that marks spam (SpamAssassin's convention; the anti-spam
 * stage will set it): "X-Spam-Flag: YES", case-insensitive. */
#define MAILBOX_SPAM_HEADER "X-Spam-Flag"
#define MAILBOX_SPAM_VALUE "YES"
#define MAILBOX_UIDL_MAX_BYTES 70

enum message_flag {
	MESSAGE_IN_CUR = 0x01,        /* lives in cur/ (else new/) */
	MESSAGE_DELETED = 0x02,       /* DELE: unlinked at QUIT */
	MESSAGE_RETRIEVED = 0x04,     /* RETR: gets the seen flag at QUIT */
	MESSAGE_SIZE_UNKNOWN = 0x08,  /* no ",W=" in the name and not in the cache */
	MESSAGE_SPAM = 0x10,          /* carries the spam header (valid with SPAM_KNOWN) */
	MESSAGE_SPAM_KNOWN = 0x20,    /* measured now or remembered by the cache */
	MESSAGE_LEARNED = 0x40,       /* measured by reading the file in this session */
	MESSAGE_SEEN = 0x80           /* already has the S flag */
};

struct message {
	uint32_t name;        /* offset of the file name in the arena */
	uint32_t wire_size;   /* octets as sent: CRLF line ends, no dot-stuffing */
	uint32_t file_size;   /* octets on disk, when learned (for ",S=") */
	uint32_t flags;       /* enum message_flag */
};

struct mailbox {
	char path[PATH_MAX];  /* <home>/spool/mailbox/<usernum> */
	int lock_fd;          /* -1 when not held */
	struct message *messages;
	size_t count, cap;
	struct buf names;     /* the arena: NUL-terminated file names */
};

void mailbox_init(struct mailbox *box);
void mailbox_free(struct mailbox *box);
/* Takes the session lock (flock on MAILBOX_LOCK_FILE, released by the
 * kernel when the process dies).  1 held, 0 busy (another session), -1 errno. */
int mailbox_lock(struct mailbox *box, unsigned long usernum);
/* Reads new/ and cur/ into the snapshot, oldest first.  hide_spam drops
 * messages that carry the spam header.  1 ok, 0 errno. */
int mailbox_scan(struct mailbox *box, int hide_spam);

const char *mailbox_name(const struct mailbox *box, size_t i);
/* "<mailbox>/new/<name>" or ".../cur/<name>".  1 ok, 0 ENAMETOOLONG. */
int mailbox_file_path(const struct mailbox *box, size_t i, char *out, size_t size);
/* The unique-id listing of message i (1..70 bytes of 0x21..0x7E). */
void mailbox_uidl(const struct mailbox *box, size_t i, char out[MAILBOX_UIDL_MAX_BYTES + 1]);

/* UPDATE: unlinks deleted messages, moves retrieved ones to cur/ with the S
 * flag, and caches learned sizes in the names.  Returns the number of
 * deletions that failed (0 = all done). */
size_t mailbox_update(struct mailbox *box);

/* The part of a name before ":2,<flags>", which a move to cur/ keeps. */
size_t mailbox_base_len(const char *name);
/* Oldest first (names begin with the delivery time), by base name only. */
int mailbox_compare_names(const char *a, const char *b);

/* Reads one message file: wire size, file size and the spam header.  1 ok, 0 errno. */
int mailbox_measure(const char *path, uint32_t *wire_size, uint32_t *file_size, int *spam);

#endif
