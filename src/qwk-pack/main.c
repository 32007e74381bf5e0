/* qwk-pack: builds the QWK packet a QWKnet node downloads from us, from
 * the netmail queued for it in spool/qwk/<ID>/new/ (qwk-pack(1), spool(5)
 * "Q" states).  Messages move into packed/ before the packet is built and
 * stay there until the node has fetched the packet, so a crash or a lost
 * download never loses one and a message goes into exactly one fetched
 * packet. */
#include "board.h"
#include "buf.h"
#include "config.h"
#include "file.h"
#include "home.h"
#include "log.h"
#include "posts.h"
#include "qwk.h"
#include "qwknet.h"
#include "qwkspool.h"
#include "spool.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define USAGE "qwk-pack [-d DIR] [-c] [-o DIR] ID"
#define ZIP_PROGRAM "/usr/bin/zip"
/* The names of the messages in the packet that waits for the node, the
 * packet's path on the first line (spool(5)). */
#define PACKET_LIST "packet.list"
#define BUILD_DIR "build"
#define BANNER "Produced by bbsmail qwk-pack"

struct pack {
	struct mail_config cfg;
	struct qwknet net;
	const struct qwk_node *node;
	const char *out_dir;        /* -o, or NULL for spool/qwk/<ID>/out */
	int confirm;                /* -c */
	char packet[PATH_MAX];      /* where the packet goes */
	char node_dir[PATH_MAX];    /* absolute spool/qwk/<ID> */
	char **names;               /* of packed/, sorted */
	size_t count;
	struct board_list boards;
	struct conf_posts *confs;   /* the conferences the node carries */
	size_t conf_count;
	size_t total;               /* messages in the packet */
};

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **names, size_t count)
{
	size_t i;

	for (i = 0; i < count; i++)
		free(names[i]);
	free(names);
}

/* The regular files of dir (no dot files), sorted.  1 ok, 0 errno. */
static int list_dir(const char *dir, char ***names, size_t *count)
{
	DIR *dh = opendir(dir);
	struct dirent *d;
	char **grown;

	*names = NULL, *count = 0;
	if (!dh)
		return 0;
	while ((d = readdir(dh))) {
		if (d->d_name[0] == '.')
			continue;
		if (!(grown = realloc(*names, (*count + 1) * sizeof *grown)) || !(grown[*count] = strdup(d->d_name))) {
			if (grown)
				*names = grown;
			closedir(dh);
			return 0;
		}
		*names = grown;
		(*count)++;
	}
	closedir(dh);
	if (*count > 1)
		qsort(*names, *count, sizeof **names, compare_names);
	return 1;
}

static void xpath(char *out, size_t size, const struct pack *p, const char *sub, const char *name)
{
	int n = snprintf(out, size, "%s%s%s%s%s", p->node_dir, *sub ? "/" : "", sub, *name ? "/" : "", name);
	if (n < 0 || (size_t)n >= size)
		die_perm("path too long: %s/%s/%s", p->node_dir, sub, name);
}

/* conf-<n>.next: the first JAM index record of conference n's board
 * that no fetched packet has held.  1 read, 0 missing, dies otherwise. */
static int read_pointer(const struct pack *p, unsigned number, uint32_t *next)
{
	char name[32], path[PATH_MAX];
	struct buf text = BUF_INIT;
	char *end;
	unsigned long v;

	snprintf(name, sizeof name, "conf-%u.next", number);
	xpath(path, sizeof path, p, "", name);
	if (!file_read_path(path, &text)) {
		buf_free(&text);
		if (errno == ENOENT)
			return 0;
		die_sys("unable to read %s", path);
	}
	if (!buf_catc(&text, 0))
		die_nomem();
	errno = 0;
	v = strtoul(text.data, &end, 10);
	if (errno || end == text.data || (*end && *end != '\n') || v > UINT32_MAX)
		die_temp("%s: malformed", path);
	*next = (uint32_t)v;
	buf_free(&text);
	return 1;
}

static void write_pointer(const struct pack *p, unsigned number, uint32_t next)
{
	char name[32], tmp_name[40], path[PATH_MAX], tmp[PATH_MAX], text[16];
	int fd, n;

	snprintf(name, sizeof name, "conf-%u.next", number);
	snprintf(tmp_name, sizeof tmp_name, "%s.tmp", name);
	xpath(path, sizeof path, p, "", name);
	xpath(tmp, sizeof tmp, p, "", tmp_name);
	n = snprintf(text, sizeof text, "%lu\n", (unsigned long)next);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || !file_write_all(fd, text, (size_t)n) || fsync(fd) < 0 || close(fd) < 0 || rename(tmp, path) < 0
	    || !file_fsync_dir(p->node_dir))
		die_sys("unable to write %s", path);
}

/* "@<conference> <next>" lines of packet.list: the fetched packet held the
 * posts up to there. */
static void advance_pointer(const struct pack *p, const char *line)
{
	unsigned number;
	unsigned long next;

	if (sscanf(line, "@%u %lu", &number, &next) != 2 || next > UINT32_MAX)
		die_temp("%s/%s: malformed line %s", p->node_dir, PACKET_LIST, line);
	write_pointer(p, number, (uint32_t)next);
}

/* The previous packet was fetched (its file is gone): its messages are
 * done.  The list goes last, so a crash here only repeats the removals. */
static void forget_fetched_packet(struct pack *p)
{
	char list_path[PATH_MAX], path[PATH_MAX], *line, *next;
	struct buf list = BUF_INIT;
	struct stat st;
	size_t removed = 0;

	xpath(list_path, sizeof list_path, p, "", PACKET_LIST);
	if (!file_read_path(list_path, &list)) {
		if (errno != ENOENT)
			die_sys("unable to read %s", list_path);
		return;
	}
	if (!buf_catc(&list, 0))
		die_nomem();
	line = list.data;
	next = strchr(line, '\n');
	if (!next)
		die_temp("%s: malformed (no packet line)", list_path);
	*next = 0;
	if (!p->confirm && stat(line, &st) == 0)
		goto out;   /* not fetched yet: its messages go into the new packet too */
	if (p->confirm && unlink(line) < 0 && errno != ENOENT)
		die_sys("unable to remove %s", line);
	for (line = next + 1; (next = strchr(line, '\n')); line = next + 1) {
		*next = 0;
		if (line[0] == '@') {
			advance_pointer(p, line);
			continue;
		}
		xpath(path, sizeof path, p, "packed", line);
		if (unlink(path) == 0)
			removed++;
		else if (errno != ENOENT)
			die_sys("unable to remove %s", path);
	}
	xpath(path, sizeof path, p, "packed", "");
	if (!file_fsync_dir(path) || unlink(list_path) < 0 || !file_fsync_dir(p->node_dir))
		die_sys("unable to forget the fetched packet of %s", p->node->id);
	log_info("node=%s event=fetched messages=%zu", p->node->id, removed);
out:
	buf_free(&list);
}

/* new/ -> packed/: each name goes into packed.log first, so deliver-qwk
 * never queues it again even after the node has fetched it. */
static void take_new(struct pack *p)
{
	char new_dir[PATH_MAX], from[PATH_MAX], to[PATH_MAX];
	char **names;
	size_t count, i;

	xpath(new_dir, sizeof new_dir, p, "new", "");
	if (!list_dir(new_dir, &names, &count))
		die_sys("unable to read %s", new_dir);
	if (!count)
		return free(names);
	if (!qwkspool_log_add(p->node->id, names, count))
		die_sys("unable to write %s/%s", p->node_dir, QWKSPOOL_LOG);
	for (i = 0; i < count; i++) {
		xpath(from, sizeof from, p, "new", names[i]);
		xpath(to, sizeof to, p, "packed", names[i]);
		if (rename(from, to) < 0)
			die_sys("unable to move %s to %s", from, to);
	}
	xpath(to, sizeof to, p, "packed", "");
	if (!file_fsync_dir(to) || !file_fsync_dir(new_dir))
		die_sys("unable to sync %s", to);
	free_names(names, count);
}

static int add_ndx(struct buf *ndx, size_t offset, unsigned conference)
{
	unsigned char record[5];

	qwk_mbf_from_uint((uint32_t)(offset / QWK_BLOCK_BYTES + 1), record);
	record[4] = (unsigned char)(conference & 0xff);
	return buf_cat(ndx, record, sizeof record);
}

/* MESSAGES.DAT and the index records, from packed/. */
static void build_messages(struct pack *p, struct buf *dat, struct buf *ndx)
{
	char path[PATH_MAX];
	struct buf m = BUF_INIT;
	unsigned long blocks;
	char field[8];
	size_t i, start;

	if (!buf_cats(dat, BANNER))
		die_nomem();
	while (dat->len < QWK_BLOCK_BYTES)
		if (!buf_catc(dat, ' '))
			die_nomem();
	for (i = 0; i < p->count; i++) {
		xpath(path, sizeof path, p, "packed", p->names[i]);
		buf_truncate(&m, 0);
		if (!file_read_path(path, &m))
			die_sys("unable to read %s", path);
		if (m.len < QWK_BLOCK_BYTES || m.len % QWK_BLOCK_BYTES)
			die_temp("%s: not a queued QWK message", path);
		memcpy(field, m.data + QWK_OFF_BLOCKS, 6), field[6] = 0;
		if ((blocks = strtoul(field, NULL, 10)) < 1 || blocks * QWK_BLOCK_BYTES != m.len)
			die_temp("%s: not a queued QWK message", path);
		start = dat->len;
		qwk_message_set_number((unsigned char *)m.data, (unsigned long)i + 1);
		if (!buf_cat(dat, m.data, m.len) || !add_ndx(ndx, start, (unsigned char)m.data[QWK_OFF_CONFERENCE]))
			die_nomem();
	}
	buf_free(&m);
}

/* The board posts after the netmail, numbered on; one index a conference. */
static void append_posts(struct pack *p, struct buf *dat, struct buf *ndx)
{
	size_t i, pos, blocks, number = p->count;
	struct conf_posts *c;
	unsigned char *h;
	char field[8];

	for (i = 0; i < p->conf_count; i++) {
		c = &p->confs[i];
		for (pos = 0; pos < c->blocks.len; pos += blocks * QWK_BLOCK_BYTES) {
			h = (unsigned char *)c->blocks.data + pos;
			memcpy(field, h + QWK_OFF_BLOCKS, 6), field[6] = 0;
			blocks = strtoul(field, NULL, 10);
			qwk_message_set_number(h, (unsigned long)++number);
			if (!add_ndx(&ndx[i], dat->len, c->number)
			    || !buf_cat(dat, h, blocks * QWK_BLOCK_BYTES))
				die_nomem();
		}
	}
}

/* The posts of every conference the node carries since its pointer; a
 * conference without a pointer yet starts at its board's present end
 * (a new node gets the posts written from now on). */
static void collect_posts(struct pack *p)
{
	char text[PATH_MAX + 160];
	const struct qwk_conference *q;
	struct conf_posts *c;
	size_t i;

	if (!board_list_load(&p->boards, text, sizeof text))
		die_temp("%s", text);
	if (!(p->confs = calloc(p->net.conference_count + 1, sizeof *p->confs)))
		die_nomem();
	for (i = 0; i < p->net.conference_count; i++) {
		q = &p->net.conferences[i];
		if (!qwknet_carries(q, p->node->id))
			continue;
		c = &p->confs[p->conf_count];
		c->number = q->number;
		if (!(c->board = board_find(&p->boards, q->code))) {
			log_warn("node=%s conference=%u: no sub-board %s in %s", p->node->id, q->number, q->code, BOARD_FILE);
			continue;
		}
		if (!read_pointer(p, c->number, &c->start)) {
			if (!posts_index_end(c->board, &c->start))
				die_sys("unable to read the base of %s", q->code);
			write_pointer(p, c->number, c->start);
		}
		if (!posts_collect(c, p->node->id))
			die_sys("unable to read the posts of %s", q->code);
		p->total += c->count;
		p->conf_count++;
	}
}

static void control_dat(const struct pack *p, struct buf *out)
{
	char when[32];
	time_t now = time(NULL);
	struct tm tm;
	size_t i, n = 1;

	localtime_r(&now, &tm);
	strftime(when, sizeof when, "%m-%d-%Y,%H:%M:%S", &tm);
	for (i = 0; i < p->net.conference_count; i++)
		n += qwknet_carries(&p->net.conferences[i], p->node->id);
	if (!buf_catf(out, "%s\r\n%s\r\n%s\r\n%s\r\n0000,%s\r\n%s\r\n%s\r\n\r\n0\r\n%zu\r\n%zu\r\n0\r\nE-mail\r\n",
		      p->cfg.host_name, "Internet", "000-000-0000", "Sysop, Sysop", p->net.hub, when, p->node->id,
		      p->total, n - 1))
		die_nomem();
	for (i = 0; i < p->net.conference_count; i++)
		if (qwknet_carries(&p->net.conferences[i], p->node->id)
		    && !buf_catf(out, "%u\r\n%s\r\n", p->net.conferences[i].number, p->net.conferences[i].code))
			die_nomem();
	if (!buf_cats(out, "HELLO\r\nBBSNEWS\r\nGOODBYE\r\n"))
		die_nomem();
}

static void write_file(const char *dir, const char *name, const struct buf *b)
{
	char path[PATH_MAX];
	int fd;

	if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
		die_perm("path too long: %s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || !file_write_all(fd, b->data ? b->data : "", b->len) || close(fd) < 0)
		die_sys("unable to write %s", path);
}

/* zip -q -X <zipfile> <files...> in dir: argv only, never a shell. */
static void run_zip(const char *zipfile, const char *dir, const char *const *files, size_t count)
{
	char *argv[80];
	size_t i, a = 0;
	pid_t pid;
	int status;

	argv[a++] = "zip", argv[a++] = "-q", argv[a++] = "-X", argv[a++] = (char *)zipfile;
	for (i = 0; i < count && i < 72; i++)
		argv[a++] = (char *)files[i];
	argv[a] = NULL;
	pid = fork();
	if (pid < 0)
		die_sys("unable to fork");
	if (pid == 0) {
		if (chdir(dir) == 0)
			execv(ZIP_PROGRAM, argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			die_sys("unable to wait for zip");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		die_temp("%s failed (status %d) making %s", ZIP_PROGRAM, status, zipfile);
}

static void fsync_path(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fsync(fd) < 0 || close(fd) < 0)
		die_sys("unable to sync %s", path);
}

static void remove_build_dir(const char *build)
{
	char **names, path[PATH_MAX];
	size_t count, i;

	if (!list_dir(build, &names, &count)) {
		if (errno == ENOENT)
			return;
		die_sys("unable to read %s", build);
	}
	for (i = 0; i < count; i++)
		if (snprintf(path, sizeof path, "%s/%s", build, names[i]) < (int)sizeof path)
			unlink(path);
	free_names(names, count);
	rmdir(build);
}

static const char *const packet_files[] = { "MESSAGES.DAT", "CONTROL.DAT", "DOOR.ID", "000.NDX", "PERSONAL.NDX" };
#define PACKET_FILE_COUNT (sizeof packet_files / sizeof packet_files[0])

/* The packet's files in build/, zipped, made durable and renamed into
 * place. */
static void write_packet(struct pack *p, size_t *bytes)
{
	char build[PATH_MAX], zipfile[PATH_MAX], dir[PATH_MAX], *slash;
	struct buf dat = BUF_INIT, ndx = BUF_INIT, control = BUF_INIT, door = BUF_INIT;
	struct buf *conf_ndx = calloc(p->conf_count + 1, sizeof *conf_ndx);
	const char *files[PACKET_FILE_COUNT + 64];
	char names[64][16];
	size_t i, file_count = PACKET_FILE_COUNT;
	struct stat st;

	xpath(build, sizeof build, p, BUILD_DIR, "");
	remove_build_dir(build);
	if (mkdir(build, 0700) < 0)
		die_sys("unable to create %s", build);
	if (!conf_ndx)
		die_nomem();
	build_messages(p, &dat, &ndx);
	append_posts(p, &dat, conf_ndx);
	control_dat(p, &control);
	if (!buf_cats(&door, "DOOR = bbsmail\r\nVERSION = 1\r\nSYSTEM = bbsmail\r\nCONTROLNAME = BBSMAIL\r\n"
			     "MIXEDCASE = YES\r\n"))
		die_nomem();
	write_file(build, "MESSAGES.DAT", &dat);
	write_file(build, "CONTROL.DAT", &control);
	write_file(build, "DOOR.ID", &door);
	write_file(build, "000.NDX", &ndx);
	/* Every netmail message is addressed to a user of the node. */
	write_file(build, "PERSONAL.NDX", &ndx);
	memcpy(files, packet_files, sizeof packet_files);
	for (i = 0; i < p->conf_count && i < 64; i++) {
		snprintf(names[i], sizeof names[i], "%03u.NDX", p->confs[i].number);
		write_file(build, names[i], &conf_ndx[i]);
		files[file_count++] = names[i];
		buf_free(&conf_ndx[i]);
	}
	free(conf_ndx);
	if (snprintf(zipfile, sizeof zipfile, "%s/%s.QWK", build, p->net.hub) >= (int)sizeof zipfile)
		die_perm("path too long: %s", build);
	run_zip(zipfile, build, files, file_count);
	fsync_path(zipfile);
	if (stat(zipfile, &st) < 0)
		die_sys("unable to stat %s", zipfile);
	*bytes = (size_t)st.st_size;
	if (rename(zipfile, p->packet) < 0)
		die_sys("unable to move %s to %s", zipfile, p->packet);
	snprintf(dir, sizeof dir, "%s", p->packet);
	if ((slash = strrchr(dir, '/')))
		*slash = 0;
	if (!file_fsync_dir(dir))
		die_sys("unable to sync %s", dir);
	remove_build_dir(build);
	buf_free(&dat), buf_free(&ndx), buf_free(&control), buf_free(&door);
}

/* packet.list: written after the packet is durable (spool(5)). */
static void write_packet_list(struct pack *p)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	struct buf list = BUF_INIT;
	size_t i;
	int fd;

	xpath(path, sizeof path, p, "", PACKET_LIST);
	xpath(tmp, sizeof tmp, p, "", PACKET_LIST ".tmp");
	if (!buf_catf(&list, "%s\n", p->packet))
		die_nomem();
	for (i = 0; i < p->count; i++)
		if (!buf_catf(&list, "%s\n", p->names[i]))
			die_nomem();
	for (i = 0; i < p->conf_count; i++)
		if (!buf_catf(&list, "@%u %lu\n", p->confs[i].number, (unsigned long)p->confs[i].end))
			die_nomem();
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || !file_write_all(fd, list.data, list.len) || fsync(fd) < 0 || close(fd) < 0
	    || rename(tmp, path) < 0 || !file_fsync_dir(p->node_dir))
		die_sys("unable to write %s", path);
	buf_free(&list);
}

static void parse_args(struct pack *p, int argc, char **argv, const char **id)
{
	int c;

	while ((c = getopt(argc, argv, "d:co:")) != -1)
		switch (c) {
		case 'd': home_set(optarg); break;
		case 'c': p->confirm = 1; break;
		case 'o': p->out_dir = optarg; break;
		default: die_usage(USAGE);
		}
	if (optind != argc - 1)
		die_usage(USAGE);
	*id = argv[optind];
}

static void pack_setup(struct pack *p, const char *id)
{
	char text[PATH_MAX + 160], rel[PATH_MAX], out[PATH_MAX];

	mail_config_defaults(&p->cfg);
	xmail_config_load(&p->cfg);
	if (!qwknet_load(&p->net, text, sizeof text))
		die_temp("%s", text);
	if (!p->net.hub[0])
		die_temp("%s has no hub line (our QWK id)", QWKNET_FILE);
	p->node = qwk_id_valid(id, strlen(id)) ? qwknet_find_node(&p->net, id) : NULL;
	if (!p->node || p->node->via)
		die_perm("%s: not a node of %s that calls us", id, QWKNET_FILE);
	if (!qwkspool_dir(rel, sizeof rel, p->node->id, QWKSPOOL_NODE) || !home_path(p->node_dir, sizeof p->node_dir, rel)
	    || !qwkspool_make_dirs(p->node->id))
		die_sys("unable to make the directories of %s", p->node->id);
	if (p->out_dir)
		snprintf(out, sizeof out, "%s", p->out_dir);
	else
		xpath(out, sizeof out, p, "out", "");
	if (snprintf(p->packet, sizeof p->packet, "%s/%s.QWK", out, p->net.hub) >= (int)sizeof p->packet)
		die_perm("path too long: %s", out);
}

static void pack_free(struct pack *p)
{
	size_t i;

	free_names(p->names, p->count);
	for (i = 0; i < p->conf_count; i++)
		buf_free(&p->confs[i].blocks);
	free(p->confs);
	board_list_free(&p->boards);
	qwknet_free(&p->net);
}

int main(int argc, char **argv)
{
	struct pack p;
	const char *id;
	char packed[PATH_MAX];
	size_t bytes = 0;
	int lock;

	log_set_program("qwk-pack");
	memset(&p, 0, sizeof p);
	parse_args(&p, argc, argv, &id);
	pack_setup(&p, id);
	if ((lock = qwkspool_lock(p.node->id)) < 0)
		die_sys("unable to lock %s", p.node_dir);
	forget_fetched_packet(&p);
	if (p.confirm) {
		pack_free(&p);
		return 0;
	}
	take_new(&p);
	xpath(packed, sizeof packed, &p, "packed", "");
	if (!list_dir(packed, &p.names, &p.count))
		die_sys("unable to read %s", packed);
	collect_posts(&p);
	p.total += p.count;
	if (!p.total) {
		log_info("node=%s event=empty", p.node->id);
		pack_free(&p);
		return 0;
	}
	write_packet(&p, &bytes);
	write_packet_list(&p);
	log_info("node=%s event=packed messages=%zu netmail=%zu bytes=%zu packet=%s", p.node->id, p.total, p.count, bytes,
		 p.packet);
	pack_free(&p);
	close(lock);
	return 0;
}
