/* qwk-unpack: imports a REP packet a QWKnet node uploaded (qwk-unpack(1),
 * spool(5) "Q" states).  The whole packet is read and checked first; only
 * then is each message written as a spool/incoming/ file, the same file
 * sendmail writes, so route delivers it like any other mail: netmail to a
 * user here or on the Internet, a conference's messages to its sub-board
 * (sub:<code>).  The files are staged in the node's import directory and
 * renamed into spool/incoming/ only after a marker naming them all is
 * durable, so a rerun after a crash imports each message once. */
#include "address.h"
#include "base64.h"
#include "buf.h"
#include "config.h"
#include "date.h"
#include "envelope.h"
#include "file.h"
#include "home.h"
#include "log.h"
#include "md5.h"
#include "qwk.h"
#include "qwknet.h"
#include "qwkspool.h"
#include "spool.h"
#include "unpack.h"
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <iconv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define USAGE "qwk-unpack [-d DIR] ID FILE.REP"
#define STAGED_MARK "staged"
#define DONE_MARK "done"

struct unpack {
	struct mail_config cfg;
	struct qwknet net;
	const struct qwk_node *node;
	const char *rep;
	char digest[2 * MD5_DIGEST_BYTES + 1];   /* of the .MSG: names the import */
	char import_dir[PATH_MAX];               /* absolute import/<digest> */
	struct qwk_file file;
};

/* One message to inject. */
struct injection {
	char id[SPOOL_ID_MAX_BYTES];
	struct buf sender, rcpt, message;
	int skip;                 /* deleted, or a circular route: not imported */
};

static void xpath(char *out, size_t size, const char *dir, const char *name)
{
	if (snprintf(out, size, "%s/%s", dir, name) >= (int)size)
		die_perm("path too long: %s/%s", dir, name);
}

/* CP437 text to UTF-8 (QWK's traditional charset). */
static void to_utf8(const struct buf *in, struct buf *out)
{
	iconv_t cd = iconv_open("UTF-8", "CP437");
	char *ip = in->data ? in->data : "", *op;
	size_t il = in->len, ol;

	buf_truncate(out, 0);
	if (cd == (iconv_t)-1)
		die_sys("unable to convert from CP437");
	if (!buf_reserve(out, in->len * 3 + 1))
		die_nomem();
	op = out->data, ol = in->len * 3 + 1;
	while (il && iconv(cd, &ip, &il, &op, &ol) == (size_t)-1) {
		if (errno != EILSEQ && errno != EINVAL)
			die_sys("unable to convert from CP437");
		*op++ = '?', ol--, ip++, il--;
	}
	out->len = (size_t)(op - out->data);
	out->data[out->len] = 0;
	iconv_close(cd);
}

/* A name as an address's local part: letters, digits and ".-+=" stay,
 * anything else (the space first) becomes '_' (deliver-qwk turns '_'
 * back into a space). */
static void name_to_local(const char *name, struct buf *out)
{
	const unsigned char *p;

	buf_truncate(out, 0);
	for (p = (const unsigned char *)name; *p; p++)
		if (!buf_catc(out, isascii(*p) && (isalnum(*p) || strchr(".-+=", *p)) ? (char)*p : '_'))
			die_nomem();
}

/* 1 when route[0..len) is QWK ids separated by '/'. */
static int route_valid(const char *route, size_t len)
{
	size_t i = 0, start = 0;

	for (; i <= len; i++)
		if (i == len || route[i] == '/') {
			if (!qwk_id_valid(route + start, i - start))
				return 0;
			start = i + 1;
		}
	return 1;
}

/* The envelope recipient of message m, or a problem. */
static const char *recipient_of(const struct unpack *u, const struct qwk_in *m, struct buf *rcpt)
{
	const struct qwk_conference *c;
	struct buf address = BUF_INIT, local = BUF_INIT, path = BUF_INIT;
	const char *to = m->to.data ? m->to.data : "", *at, *why = NULL, *params;
	unsigned conference = (unsigned)m->number;

	buf_truncate(rcpt, 0);
	if (conference != QWK_NETMAIL_CONFERENCE) {
		c = qwknet_find_conference(&u->net, conference);
		if (!c || !qwknet_carries(c, u->node->id))
			return "conference not carried by this node (qwknet.cfg conf lines)";
		xbuf_catf(rcpt, "sub:%s@%s", c->code, u->cfg.host_name);
	} else if (strcasecmp(to, "NETMAIL") == 0) {
		/* "<user>@<HOP2>/<HOP3>...": the route after us. */
		const char *line = m->route_line.data ? m->route_line.data : "";
		at = strrchr(line, '@');
		if (!at || at == line || !route_valid(at + 1, strlen(at + 1)))
			return "NETMAIL without a \"user@HOP/...\" route line";
		name_to_local(line, &local);
		local.data[at - line] = 0;
		xbuf_catf(rcpt, "%s!%s@%s", at + 1, local.data, u->cfg.host_name);
	} else if (strchr(to, '@')) {
		xbuf_catf(&path, "<%s>", to);
		if (!address_parse_path(path.data, 0, &address, &params, &why) || *params || !address.len)
			why = why ? why : "bad Internet address in To";
		else
			xbuf_copys(rcpt, address.data);
	} else if (!*to)
		why = "empty To";
	else {
		name_to_local(to, &local);
		xbuf_catf(rcpt, "%s@%s", local.data, u->cfg.host_name);
	}
	buf_free(&address), buf_free(&local), buf_free(&path);
	return why;
}

/* The sender route: the node, then the message's @VIA path (qwk id list).
 * 0 when the path already holds our own id (a circular route). */
static int sender_of(const struct unpack *u, const struct qwk_in *m, struct buf *sender)
{
	struct buf local = BUF_INIT, route = BUF_INIT;
	const char *via = m->via.data ? m->via.data : "", *p;
	int circular = 0;

	xbuf_cats(&route, u->node->id);
	while (*via == ' ')
		via++;
	if (*via && route_valid(via, strcspn(via, " ")))
		xbuf_catf(&route, "/%.*s", (int)strcspn(via, " "), via);
	for (p = route.data; p && *p; p += strcspn(p, "/"), p += *p == '/')
		if (strncasecmp(p, u->net.hub, strlen(u->net.hub)) == 0 && (p[strlen(u->net.hub)] == '/' || !p[strlen(u->net.hub)]))
			circular = 1;
	name_to_local(m->from.data && m->from.len ? m->from.data : "unknown", &local);
	buf_truncate(sender, 0);
	xbuf_catf(sender, "%s!%s@%s", route.data, local.data, u->cfg.host_name);
	buf_free(&local), buf_free(&route);
	return !circular;
}

/* RFC 2047 for a header text that is not plain ASCII. */
static void cat_header_text(struct buf *out, const struct buf *utf8)
{
	size_t i;
	int plain = 1;

	for (i = 0; i < utf8->len; i++)
		plain &= (unsigned char)utf8->data[i] >= 0x20 && (unsigned char)utf8->data[i] < 0x7f;
	if (plain) {
		xbuf_cat(out, utf8->data ? utf8->data : "", utf8->len);
		return;
	}
	xbuf_cats(out, "=?UTF-8?B?");
	if (!base64_encode(out, utf8->data, utf8->len))
		die_nomem();
	xbuf_cats(out, "?=");
}

/* A QWK id kludge as a Message-ID: "<x>" when it has no blanks or angles. */
static int id_usable(const struct buf *id)
{
	return id->len && id->len < 200 && !strpbrk(id->data, " \t<>\"");
}

static void build_message(const struct unpack *u, const struct qwk_in *m, size_t index, struct injection *in)
{
	struct buf from = BUF_INIT, subject = BUF_INIT, to = BUF_INIT, text = BUF_INIT;
	struct tm tm;
	char date[64], now[64];
	time_t t;

	memset(&tm, 0, sizeof tm);
	tm.tm_year = m->year - 1900, tm.tm_mon = m->month - 1, tm.tm_mday = m->day;
	tm.tm_hour = m->hour, tm.tm_min = m->minute, tm.tm_isdst = -1;
	t = mktime(&tm);
	date_rfc5322(date, sizeof date, (long long)t);
	date_rfc5322(now, sizeof now, (long long)time(NULL));
	to_utf8(&m->from, &from), to_utf8(&m->subject, &subject), to_utf8(&m->to, &to), to_utf8(&m->text, &text);
	xbuf_catf(&in->message, "Received: from QWK node %s by %s (bbsmail qwk-unpack) id %s; %s\n", u->node->id,
		  u->cfg.host_name, in->id, now);
	xbuf_cats(&in->message, "From: ");
	cat_header_text(&in->message, &from);
	xbuf_catf(&in->message, " <%s>\nTo: ", in->sender.data);
	/* An Internet address as the To name is not repeated as a phrase. */
	if (!strchr(m->to.data ? m->to.data : "", '@')) {
		cat_header_text(&in->message, &to);
		xbuf_catc(&in->message, ' ');
	}
	xbuf_catf(&in->message, "<%s>\nSubject: ", in->rcpt.data);
	cat_header_text(&in->message, &subject);
	xbuf_catf(&in->message, "\nDate: %s\n", date);
	if (id_usable(&m->msgid))
		xbuf_catf(&in->message, "Message-ID: <%s>\n", m->msgid.data);
	else
		xbuf_catf(&in->message, "Message-ID: <%s.%zu.qwk@%s>\n", u->digest, index, u->cfg.host_name);
	if (id_usable(&m->reply))
		xbuf_catf(&in->message, "In-Reply-To: <%s>\n", m->reply.data);
	xbuf_cats(&in->message, "MIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\n"
				"Content-Transfer-Encoding: 8bit\n\n");
	xbuf_cat(&in->message, text.data ? text.data : "", text.len);
	if (text.len && text.data[text.len - 1] != '\n')
		xbuf_catc(&in->message, '\n');
	buf_free(&from), buf_free(&subject), buf_free(&to), buf_free(&text);
}

static void write_durable(const char *dir, const char *name, const void *data, size_t len)
{
	char path[PATH_MAX];
	int fd;

	xpath(path, sizeof path, dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || !file_write_all(fd, data, len) || fsync(fd) < 0 || close(fd) < 0)
		die_sys("unable to write %s", path);
}

/* The marker goes in by rename, so it is whole or absent. */
static void write_mark(const char *dir, const char *name, const struct buf *text)
{
	char tmp_name[64], from[PATH_MAX], to[PATH_MAX];

	snprintf(tmp_name, sizeof tmp_name, "%s.tmp", name);
	write_durable(dir, tmp_name, text->data ? text->data : "", text->len);
	xpath(from, sizeof from, dir, tmp_name);
	xpath(to, sizeof to, dir, name);
	if (rename(from, to) < 0 || !file_fsync_dir(dir))
		die_sys("unable to write %s", to);
}

/* staged -> spool/incoming/: each staged file that is still here moves
 * (one that is gone moved before a crash), then the done mark. */
static void finish_import(const struct unpack *u)
{
	char mark[PATH_MAX], from[PATH_MAX], to[PATH_MAX], incoming[PATH_MAX], *line, *next;
	struct buf list = BUF_INIT, done = BUF_INIT;
	size_t moved = 0;

	xpath(mark, sizeof mark, u->import_dir, STAGED_MARK);
	if (!file_read_path(mark, &list) || !buf_catc(&list, 0))
		die_sys("unable to read %s", mark);
	xhome_path(incoming, sizeof incoming, SPOOL_INCOMING_DIR);
	for (line = list.data; (next = strchr(line, '\n')); line = next + 1) {
		*next = 0;
		xpath(from, sizeof from, u->import_dir, line);
		xpath(to, sizeof to, incoming, line);
		if (rename(from, to) == 0)
			moved++;
		else if (errno != ENOENT)
			die_sys("unable to move %s to %s", from, to);
	}
	if (!file_fsync_dir(incoming))
		die_sys("unable to sync %s", incoming);
	write_mark(u->import_dir, DONE_MARK, &done);
	spool_poke_trigger();
	log_info("node=%s event=imported rep=%s messages=%zu", u->node->id, u->digest, moved);
	buf_free(&list);
}

static void log_injection(const struct unpack *u, const struct injection *in)
{
	struct buf a = BUF_INIT, b = BUF_INIT;

	log_info("id=%s node=%s event=queued from=<%s> rcpt=<%s>", in->id, u->node->id, xlog_value(&a, in->sender.data),
		 xlog_value(&b, in->rcpt.data));
	buf_free(&a), buf_free(&b);
}

/* Every message checked and built before the first is written. */
static struct injection *prepare(struct unpack *u, size_t *count)
{
	struct injection *all = calloc(u->file.count ? u->file.count : 1, sizeof *all);
	const struct qwk_in *m;
	const char *why;
	size_t i;

	if (!all)
		die_nomem();
	for (i = 0; i < u->file.count; i++) {
		m = &u->file.messages[i];
		if (!m->active) {
			all[i].skip = 1;
			continue;
		}
		if ((why = recipient_of(u, m, &all[i].rcpt)))
			die_perm("%s: refused, nothing imported: message %zu (offset %zu): %s", u->rep, i + 1, m->offset, why);
		if (!sender_of(u, m, &all[i].sender)) {
			log_notice("node=%s event=drop reason=\"circular route\" message=%zu", u->node->id, i + 1);
			all[i].skip = 1;
			continue;
		}
		spool_make_id(all[i].id);
		build_message(u, m, i + 1, &all[i]);
	}
	*count = u->file.count;
	return all;
}

static void stage_all(struct unpack *u, struct injection *all, size_t count)
{
	struct envelope e;
	struct envelope_rcpt r;
	struct buf head = BUF_INIT, names = BUF_INIT;
	size_t i;

	if (mkdir(u->import_dir, 0700) < 0 && errno != EEXIST)
		die_sys("unable to create %s", u->import_dir);
	for (i = 0; i < count; i++) {
		if (all[i].skip)
			continue;
		envelope_init(&e);
		memset(&r, 0, sizeof r);
		snprintf(e.id, sizeof e.id, "%s", all[i].id);
		e.arrival = (unsigned long)time(NULL);
		e.sender = all[i].sender.data;
		e.protocol = "local";
		r.address = all[i].rcpt.data;
		buf_truncate(&head, 0);
		if (!envelope_add_rcpt(&e, &r) || !envelope_write(&e, &head) || !buf_cat(&head, all[i].message.data,
											 all[i].message.len))
			die_temp("unable to write the envelope of message %zu: %s", i + 1, strerror(errno));
		envelope_free(&e);
		write_durable(u->import_dir, all[i].id, head.data, head.len);
		xbuf_catf(&names, "%s\n", all[i].id);
	}
	write_mark(u->import_dir, STAGED_MARK, &names);
	for (i = 0; i < count; i++)
		if (!all[i].skip)
			log_injection(u, &all[i]);
	buf_free(&head), buf_free(&names);
}

/* A run killed before the staged mark left files nobody will move. */
static void clear_import_dir(const char *dir)
{
	DIR *dh = opendir(dir);
	struct dirent *d;
	char path[PATH_MAX];

	if (!dh)
		return;
	while ((d = readdir(dh)))
		if (d->d_name[0] != '.' && snprintf(path, sizeof path, "%s/%s", dir, d->d_name) < (int)sizeof path)
			unlink(path);
	closedir(dh);
}

static void unpack_setup(struct unpack *u, const char *id)
{
	char text[PATH_MAX + 160];

	mail_config_defaults(&u->cfg);
	xmail_config_load(&u->cfg);
	if (!qwknet_load(&u->net, text, sizeof text))
		die_temp("%s", text);
	if (!u->net.hub[0])
		die_temp("%s has no hub line (our QWK id)", QWKNET_FILE);
	u->node = qwk_id_valid(id, strlen(id)) ? qwknet_find_node(&u->net, id) : NULL;
	if (!u->node || u->node->via)
		die_perm("%s: not a node of %s that calls us", id, QWKNET_FILE);
	if (!qwkspool_make_dirs(u->node->id))
		die_sys("unable to make the directories of %s", u->node->id);
}

static void digest_of(struct unpack *u)
{
	unsigned char d[MD5_DIGEST_BYTES];
	struct buf rep = BUF_INIT;
	char dir[PATH_MAX], name[64];
	size_t i;

	if (!file_read_path(u->rep, &rep))
		die_perm("unable to read %s: %s", u->rep, strerror(errno));
	md5_digest(rep.data ? rep.data : "", rep.len, d);
	for (i = 0; i < MD5_DIGEST_BYTES; i++)
		snprintf(u->digest + 2 * i, 3, "%02x", d[i]);
	snprintf(name, sizeof name, "%s", u->digest);
	if (!qwkspool_path(dir, sizeof dir, u->node->id, QWKSPOOL_IMPORT, name))
		die_sys("unable to name the import directory");
	snprintf(u->import_dir, sizeof u->import_dir, "%s", dir);
	buf_free(&rep);
}

static void parse_rep(struct unpack *u)
{
	char problem[PATH_MAX + 200];
	struct buf msg = BUF_INIT;

	if (!rep_read_msg(u->rep, u->net.hub, &msg, problem, sizeof problem))
		die_perm("%s: refused, nothing imported", problem);
	if (!qwk_file_parse(&u->file, (const unsigned char *)(msg.data ? msg.data : ""), msg.len, problem, sizeof problem))
		die_perm("%s: refused, nothing imported: %s", u->rep, problem);
	if (strcasecmp(u->file.banner, u->net.hub) != 0)
		die_perm("%s: refused, nothing imported: the packet is for \"%s\", we are %s", u->rep, u->file.banner,
			 u->net.hub);
	buf_free(&msg);
}

int main(int argc, char **argv)
{
	struct unpack u;
	struct injection *all;
	char mark[PATH_MAX];
	struct stat st;
	size_t count, i;
	int c;

	log_set_program("qwk-unpack");
	memset(&u, 0, sizeof u);
	while ((c = getopt(argc, argv, "d:")) != -1)
		if (c == 'd')
			home_set(optarg);
		else
			die_usage(USAGE);
	if (optind != argc - 2)
		die_usage(USAGE);
	u.rep = argv[optind + 1];
	unpack_setup(&u, argv[optind]);
	if (qwkspool_lock(u.node->id) < 0)
		die_sys("unable to lock the spool of %s", u.node->id);
	digest_of(&u);
	xpath(mark, sizeof mark, u.import_dir, DONE_MARK);
	if (stat(mark, &st) == 0) {
		log_info("node=%s event=already-imported rep=%s", u.node->id, u.digest);
		qwknet_free(&u.net);
		return 0;
	}
	xpath(mark, sizeof mark, u.import_dir, STAGED_MARK);
	if (stat(mark, &st) < 0) {
		parse_rep(&u);
		all = prepare(&u, &count);
		clear_import_dir(u.import_dir);
		stage_all(&u, all, count);
		for (i = 0; i < count; i++)
			buf_free(&all[i].sender), buf_free(&all[i].rcpt), buf_free(&all[i].message);
		free(all);
		qwk_file_free(&u.file);
	}
	finish_import(&u);
	qwknet_free(&u.net);
	return 0;
}
