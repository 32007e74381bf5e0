/* Fuzzes pop3d's reading of Maildir file names (src/pop3d/mailbox.c): the
 * names any delivery agent or reader (bbsmail, Dovecot, mutt) may leave in
 * new/ and cur/.  The input is up to three names separated by '/' (which
 * no file name holds).  Checked: the ",W=" size, the seen flag and the
 * UIDL of each; the UIDL is 1..70 bytes of 0x21..0x7E (RFC 1939) and the
 * same for a name before and after a reader adds an info part; the order
 * of names is a total order (antisymmetric, transitive) and ignores the
 * info part. */
/* mailbox.c calls the cache and the wire writer: one program. */
#include "../src/pop3d/cache.c"
#include "../src/pop3d/mailbox.c"
#include "../src/pop3d/wire.c"
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_uidl(struct mailbox *box, size_t i)
{
	char out[MAILBOX_UIDL_MAX_BYTES + 1];
	size_t n, k;

	mailbox_uidl(box, i, out);
	n = strlen(out);
	if (n == 0 || n > MAILBOX_UIDL_MAX_BYTES)
		__builtin_trap();
	for (k = 0; k < n; k++)
		if ((unsigned char)out[k] <= 0x20 || (unsigned char)out[k] >= 0x7f)
			__builtin_trap();
}

static int sign(int v) { return (v > 0) - (v < 0); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mailbox box;
	struct buf text = BUF_INIT, moved = BUF_INIT;
	char *names[3], *p, *slash;
	char a[MAILBOX_UIDL_MAX_BYTES + 1], b[MAILBOX_UIDL_MAX_BYTES + 1];
	size_t n = 0, i, j, k;
	uint32_t w;

	if (size == 0 || size > 4096 || memchr(data, 0, size))
		return 0;
	xbuf_cat(&text, (const char *)data, size);
	for (p = text.data; n < 3; p = slash + 1) {
		names[n++] = p;
		if (!(slash = strchr(p, '/')))
			break;
		*slash = 0;
	}
	mailbox_init(&box);
	for (i = 0; i < n; i++) {
		if (!mailbox_add(&box, names[i], 0))
			__builtin_trap();
		if ((box.messages[i].flags & MESSAGE_SIZE_UNKNOWN) == (name_wire_size(names[i], &w) ? MESSAGE_SIZE_UNKNOWN : 0))
			__builtin_trap();
		if (mailbox_base_len(names[i]) > strlen(names[i]))
			__builtin_trap();
		check_uidl(&box, i);
	}
	/* A size too large to count is the largest, never a wrapped one. */
	if (name_wire_size(",W=99999999999999999999999:2,", &w) && w != UINT32_MAX)
		__builtin_trap();
	/* A reader moving a name to cur/ adds ":2,S": same UIDL, same place. */
	if (n && !strchr(names[0], ':')) {
		xbuf_copys(&moved, names[0]);
		xbuf_cats(&moved, ":2,S");
		if (!mailbox_add(&box, moved.data, 0))
			__builtin_trap();
		mailbox_uidl(&box, 0, a);
		mailbox_uidl(&box, box.count - 1, b);
		if (strcmp(a, b) != 0 || !(box.messages[box.count - 1].flags & MESSAGE_SEEN))
			__builtin_trap();
		if (mailbox_compare_names(names[0], moved.data) != 0)
			__builtin_trap();
	}
	for (i = 0; i < n; i++) {
		if (mailbox_compare_names(names[i], names[i]) != 0)
			__builtin_trap();
		for (j = 0; j < n; j++) {
			if (sign(mailbox_compare_names(names[i], names[j])) != -sign(mailbox_compare_names(names[j], names[i])))
				__builtin_trap();
			for (k = 0; k < n; k++)
				if (mailbox_compare_names(names[i], names[j]) < 0
				    && mailbox_compare_names(names[j], names[k]) < 0
				    && mailbox_compare_names(names[i], names[k]) >= 0)
					__builtin_trap();
		}
	}
	mailbox_free(&box);
	buf_free(&text);
	buf_free(&moved);
	return 0;
}
