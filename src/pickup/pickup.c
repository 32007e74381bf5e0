#include "pickup.h"
#include "../sendmail/message.h"
#include "address.h"
#include "config.h"
#include "drop.h"
#include "envelope.h"
#include "file.h"
#include "home.h"
#include "log.h"
#include "stage.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* One drop file being picked up: its claim and what it says. */
struct pickup_input {
	const char *name;
	char path[PATH_MAX];
	int fd;                  /* open, flock'ed */
	struct stat st;
	struct drop_request req;
};

int pickup_init(struct pickup *p, const struct mail_config *cfg)
{
	p->cfg = cfg;
	return home_path(p->drop_dir, sizeof p->drop_dir, SPOOL_DROP_DIR)
	       && home_path(p->bad_dir, sizeof p->bad_dir, SPOOL_DROP_BAD_DIR)
	       && home_path(p->incoming_dir, sizeof p->incoming_dir, SPOOL_INCOMING_DIR);
}

void pickup_result_free(struct pickup_result *res) { buf_free(&res->sender); }

/* A refused file is kept for the sysop (under a name of ours: the drop
 * file's name is the submitter's choice), or removed when it cannot be. */
static enum pickup_outcome pickup_refuse(struct pickup *p, const char *name, const struct stat *st, const char *why)
{
	char id[SPOOL_ID_MAX_BYTES], to[PATH_MAX], from[PATH_MAX];
	struct buf q = BUF_INIT, r = BUF_INIT;
	const char *where = "removed";

	spool_make_id(id);
	if ((size_t)snprintf(from, sizeof from, "%s/%s", p->drop_dir, name) >= sizeof from)
		return PICKUP_SKIPPED;
	if ((size_t)snprintf(to, sizeof to, "%s/%s", p->bad_dir, id) < sizeof to
	    && (stage_mkdir(p->bad_dir) || errno == EEXIST) && rename(from, to) == 0)
		where = "drop-bad";
	else if (unlink(from) != 0 && rmdir(from) != 0)
		where = "kept";
	log_warn("event=refuse drop=%s uid=%ld reason=%s moved=%s%s%s", xlog_value(&q, name),
		 st ? (long)st->st_uid : -1L, xlog_value(&r, why), where, *where == 'd' ? "/" : "", *where == 'd' ? id : "");
	buf_free(&q);
	buf_free(&r);
	return PICKUP_REFUSED;
}

/* lstat first: a symlink, a FIFO or a socket is refused without opening
 * it, and a file without the complete mark is left alone (or, when old,
 * removed). */
static enum pickup_outcome pickup_check_entry(struct pickup *p, struct pickup_input *in)
{
	struct buf q = BUF_INIT;

	if (lstat(in->path, &in->st) != 0)
		return errno == ENOENT ? PICKUP_SKIPPED : PICKUP_LATER;
	if (!S_ISREG(in->st.st_mode))
		return pickup_refuse(p, in->name, &in->st, "not a regular file");
	if (in->st.st_nlink != 1)
		return pickup_refuse(p, in->name, &in->st, "hard link");
	if (in->st.st_mode & S_IXUSR)
		return PICKUP_DONE;
	if (time(NULL) - in->st.st_mtime < PICKUP_INCOMPLETE_MAX_AGE_SEC)
		return PICKUP_SKIPPED;
	if (unlink(in->path) == 0)
		log_warn("event=remove-incomplete drop=%s uid=%ld", xlog_value(&q, in->name), (long)in->st.st_uid);
	buf_free(&q);
	return PICKUP_SKIPPED;
}

/* Opens without following a link and without blocking on a FIFO put in
 * its place since the lstat, checks it is the same single-linked regular
 * file, claims it (flock: a second pickup or sendmail skips it) and reads
 * it. */
static enum pickup_outcome pickup_open(struct pickup *p, struct pickup_input *in)
{
	unsigned long long max = p->cfg->max_msg_size_bytes;
	struct stat now;
	enum pickup_outcome o = pickup_check_entry(p, in);

	if (o != PICKUP_DONE)
		return o;
	in->fd = open(in->path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (in->fd < 0)
		return errno == ENOENT ? PICKUP_SKIPPED : pickup_refuse(p, in->name, &in->st, "unable to open");
	if (fstat(in->fd, &now) != 0)
		return PICKUP_LATER;
	if (now.st_nlink == 0)
		return PICKUP_SKIPPED;   /* picked up by another process since the lstat */
	if (now.st_ino != in->st.st_ino || now.st_dev != in->st.st_dev || !S_ISREG(now.st_mode) || now.st_nlink != 1)
		return pickup_refuse(p, in->name, &now, "changed while opened");
	if (flock(in->fd, LOCK_EX | LOCK_NB) != 0)
		return PICKUP_SKIPPED;
	/* Picked up and removed by another process between our open and lock. */
	if (fstat(in->fd, &in->st) != 0 || in->st.st_nlink != 1)
		return PICKUP_SKIPPED;
	if (max && (unsigned long long)in->st.st_size > max + DROP_RECORD_MAX_BYTES)
		return pickup_refuse(p, in->name, &in->st, "too large");
	if (!file_read_fd(in->fd, &in->req.storage))
		return errno == ENOMEM ? PICKUP_LATER : pickup_refuse(p, in->name, &in->st, "unreadable");
	return PICKUP_DONE;
}

/* The submitter's name: the owner's login, when it makes an address. */
static void pickup_find_login(const struct pickup *p, uid_t uid, struct pickup_result *res)
{
	struct passwd *pw = getpwuid(uid);
	struct buf test = BUF_INIT, parsed = BUF_INIT;
	const char *params, *why;

	res->uid = (unsigned long)uid;
	snprintf(res->login, sizeof res->login, "uid%lu", res->uid);
	if (!pw || !pw->pw_name[0] || strlen(pw->pw_name) >= sizeof res->login)
		return;
	xbuf_catf(&test, "<%s@%s>", pw->pw_name, p->cfg->host_name);
	if (address_parse_path(test.data, 0, &parsed, &params, &why) && !*params)
		snprintf(res->login, sizeof res->login, "%s", pw->pw_name);
	buf_free(&test);
	buf_free(&parsed);
}

static void pickup_date(char *out, size_t size, time_t t)
{
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(out, size, "%a, %d %b %Y %H:%M:%S %z", &tm);
}

/* The From: added when the message has none (-F gives the phrase). */
static void pickup_add_from(const struct drop_request *req, const struct pickup_result *res, const char *host,
			    struct buf *out)
{
	const char *p;

	xbuf_cats(out, "From: ");
	if (req->fullname) {
		xbuf_catc(out, '"');
		for (p = req->fullname; *p; p++) {
			if (*p == '"' || *p == '\\')
				xbuf_catc(out, '\\');
			xbuf_catc(out, *p);
		}
		xbuf_cats(out, "\" <");
	}
	if (res->sender.len)
		xbuf_cats(out, res->sender.data);
	else
		xbuf_catf(out, "%s@%s", res->login, host);
	xbuf_cats(out, req->fullname ? ">\n" : "\n");
}

/* Received first (who submitted it, from the file's owner), the sender's
 * headers, the missing ones, the body. */
static void pickup_build(const struct pickup *p, const struct drop_request *req, const struct pickup_result *res,
			 struct buf *out, time_t now)
{
	const char *host = p->cfg->host_name;
	struct message m;
	char date[64];

	message_init(&m);
	xbuf_cat(&m.text, req->message, req->message_len);
	message_parse_headers(&m);
	pickup_date(date, sizeof date, now);
	xbuf_catf(out, "Received: from local user (uid %lu) by %s (bbsmail) id %s; %s\n", res->uid, host, res->id,
		  date);
	if (m.headers.len)
		xbuf_cat(out, m.headers.data, m.headers.len);
	if (!m.has_from)
		pickup_add_from(req, res, host, out);
	if (!m.has_date)
		xbuf_catf(out, "Date: %s\n", date);
	if (!m.has_message_id)
		xbuf_catf(out, "Message-ID: <%s@%s>\n", res->id, host);
	if (m.had_separator || m.header_end < m.text.len)
		xbuf_catc(out, '\n');
	if (m.header_end < m.text.len)
		xbuf_cat(out, m.text.data + m.header_end, m.text.len - m.header_end);
	message_free(&m);
}

/* The incoming envelope: protocol "local" and nothing of a network
 * session (no client address, HELO or authenticated user), whatever the
 * file said. */
static int pickup_envelope(const struct drop_request *req, const struct pickup_result *res, time_t now,
			   struct buf *head)
{
	struct envelope env;
	struct envelope_rcpt r = { 0 };
	size_t i;
	int ok = 1;

	envelope_init(&env);
	snprintf(env.id, sizeof env.id, "%s", res->id);
	env.arrival = (unsigned long)now;
	env.sender = res->sender.len ? res->sender.data : "";
	env.protocol = "local";
	env.ret = req->ret;
	for (i = 0; ok && i < req->rcpt_count; i++) {
		r.address = req->rcpt[i];
		r.notify = req->notify[i];
		ok = envelope_add_rcpt(&env, &r);
	}
	ok = ok && envelope_write(&env, head);
	envelope_free(&env);
	return ok;
}

/* The order that loses nothing and duplicates nothing (spool(5)): the new
 * file complete and fsync'ed in spool/tmp/pickup.<name>, then the drop file
 * removed and that made durable, then the rename into incoming/.  A crash
 * before the removal leaves the drop file (done again from scratch); after
 * it, the tmp file alone, which pickup_recover renames into place.  The
 * tmp file stays claimed (flock) until its rename is durable, so that
 * recovery never races a pickup still at work. */
static enum pickup_outcome pickup_commit(struct pickup *p, struct pickup_input *in, const struct buf *head,
					 const struct buf *msg, const char *id)
{
	char tmp_name[NAME_MAX + 1];
	struct spool_file f;
	int claim = -1, tries;

	snprintf(tmp_name, sizeof tmp_name, "%s%s", PICKUP_TMP_PREFIX, in->name);
	for (tries = 0; !spool_file_create_named(&f, SPOOL_INCOMING_DIR, id, tmp_name); tries++)
		/* A leftover of a killed run: we hold the drop file's claim,
		 * so its writer is gone. */
		if (errno != EEXIST || tries || unlink(f.tmp_path) != 0)
			goto later;
	claim = stage_claim(f.tmp_path);
	if (claim < 0 || !spool_file_write(&f, head->data, head->len) || !spool_file_write(&f, msg->data, msg->len)
	    || !spool_file_start(&f) || fsync(f.fd) != 0) {
		spool_file_abort(&f);
		goto later;
	}
	if (unlink(in->path) != 0 || !file_fsync_dir(p->drop_dir)) {
		log_warn("unable to remove %s: %s", in->path, strerror(errno));
		spool_file_abort(&f);
		goto later;
	}
	buf_free(&f.pending);
	if (close(f.fd) != 0 || rename(f.tmp_path, f.final_path) != 0 || !file_fsync_dir(p->incoming_dir))
		/* The tmp file is complete and stays: pickup_recover ends it. */
		log_warn("unable to move %s into %s: %s", f.tmp_path, p->incoming_dir, strerror(errno));
	close(claim);
	return PICKUP_DONE;
later:
	log_warn("unable to pick up %s: %s", in->path, strerror(errno));
	if (claim >= 0)
		close(claim);
	return PICKUP_LATER;
}

static enum pickup_outcome pickup_convert(struct pickup *p, struct pickup_input *in, struct pickup_result *res)
{
	unsigned long long max = p->cfg->max_msg_size_bytes;
	struct buf head = BUF_INIT, msg = BUF_INIT;
	enum pickup_outcome o;
	const char *why;
	time_t now = time(NULL);

	if (!drop_parse(&in->req, &why))
		return pickup_refuse(p, in->name, &in->st, why);
	if (max && in->req.message_len > max)
		return pickup_refuse(p, in->name, &in->st, "larger than MaxMsgSize");
	pickup_find_login(p, in->st.st_uid, res);
	spool_make_id(res->id);
	buf_truncate(&res->sender, 0);
	if (in->req.sender)
		xbuf_cats(&res->sender, in->req.sender);
	else
		xbuf_catf(&res->sender, "%s@%s", res->login, p->cfg->host_name);
	pickup_build(p, &in->req, res, &msg, now);
	if (!pickup_envelope(&in->req, res, now, &head)) {
		buf_free(&msg);
		return pickup_refuse(p, in->name, &in->st, "unable to write the envelope");
	}
	o = pickup_commit(p, in, &head, &msg, res->id);
	res->rcpt_count = in->req.rcpt_count;
	res->size = msg.len;
	buf_free(&head);
	buf_free(&msg);
	return o;
}

enum pickup_outcome pickup_file(struct pickup *p, const char *name, struct pickup_result *res)
{
	struct pickup_input in;
	enum pickup_outcome o;

	memset(&in, 0, sizeof in);
	in.name = name;
	in.fd = -1;
	drop_request_init(&in.req);
	if (!drop_name_ok(name))
		return pickup_refuse(p, name, NULL, "bad file name");
	if ((size_t)snprintf(in.path, sizeof in.path, "%s/%s", p->drop_dir, name) >= sizeof in.path)
		return pickup_refuse(p, name, NULL, "bad file name");
	o = pickup_open(p, &in);
	if (o == PICKUP_DONE)
		o = pickup_convert(p, &in, res);
	if (in.fd >= 0)
		close(in.fd);
	drop_request_free(&in.req);
	return o;
}

/* One spool/tmp/pickup.<name> (claimed): with its drop file still there it
 * is an unfinished copy (removed, the drop file is picked up again); with
 * the drop file gone it is complete and only its rename was lost. */
static int pickup_recover_one(struct pickup *p, const char *tmp_path, const char *name)
{
	char drop_path[PATH_MAX], final_path[PATH_MAX];
	struct envelope env;
	int fd, done = 0;

	if ((size_t)snprintf(drop_path, sizeof drop_path, "%s/%s", p->drop_dir, name) >= sizeof drop_path)
		return 0;
	fd = open(drop_path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd >= 0) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0 && unlink(tmp_path) == 0) {
			log_info("event=recover tmp=%s action=discard", tmp_path);
			done = 1;
		}
		close(fd);
		return done;
	}
	if (errno != ENOENT)
		return 0;
	if (!envelope_load(tmp_path, &env) || !drop_name_ok(env.id)) {
		envelope_free(&env);
		spool_quarantine(tmp_path, "unreadable pickup copy");
		return 1;
	}
	if ((size_t)snprintf(final_path, sizeof final_path, "%s/%s", p->incoming_dir, env.id) < sizeof final_path
	    && rename(tmp_path, final_path) == 0 && file_fsync_dir(p->incoming_dir)) {
		log_info("id=%s event=recover tmp=%s action=commit", env.id, tmp_path);
		done = 1;
	}
	envelope_free(&env);
	return done;
}

unsigned long pickup_recover(struct pickup *p)
{
	const size_t prefix_len = strlen(PICKUP_TMP_PREFIX);
	char dir[PATH_MAX], path[PATH_MAX];
	unsigned long left = 0;
	struct dirent *d;
	DIR *dh;
	int claim;

	if (!home_path(dir, sizeof dir, SPOOL_TMP_DIR) || !(dh = opendir(dir)))
		return 1;
	while ((d = readdir(dh))) {
		if (strncmp(d->d_name, PICKUP_TMP_PREFIX, prefix_len) != 0
		    || (size_t)snprintf(path, sizeof path, "%s/%s", dir, d->d_name) >= sizeof path)
			continue;
		claim = stage_claim(path);
		if (claim < 0)
			continue;   /* a pickup at work on it */
		left += !pickup_recover_one(p, path, d->d_name + prefix_len);
		close(claim);
	}
	closedir(dh);
	return left;
}
