#include "etrn.h"
#include "address.h"
#include "buf.h"
#include "envelope.h"
#include "file.h"
#include "home.h"
#include "log.h"
#include "spool.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* "#<queue>" releases a whole channel, with the same retry floor. */
static int etrn_match_any(const char *name, const struct envelope *e, void *ctx)
{
	const struct schedule_domain *m = ctx;

	(void)name;
	return !m->tried_before || !e->last_attempt || (time_t)e->last_attempt < m->tried_before;
}

/* A queue name is a short word; anything else is a syntax error, so the
 * 459 echoes nothing odd. */
static int etrn_queue_name_valid(const char *name)
{
	size_t n = strlen(name);

	return n && n <= ETRN_QUEUE_MAX_BYTES
	       && strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") == n;
}

int etrn_parse(const char *node, struct etrn_request *req)
{
	const char *domain = node[0] == '@' ? node + 1 : node;
	char plain[ADDRESS_DOMAIN_MAX_BYTES + 1];
	size_t n;

	memset(req, 0, sizeof *req);
	req->node = node;
	if (node[0] == '#') {
		if (!etrn_queue_name_valid(node + 1))
			return 0;
		req->queue = channel_by_name(node + 1);
		return 1;
	}
	n = strlen(domain);
	/* a final dot is allowed (an absolute name), not checked as a label */
	if (n && domain[n - 1] == '.')
		n--;
	if (!n || n > ADDRESS_DOMAIN_MAX_BYTES)
		return 0;
	memcpy(plain, domain, n);
	plain[n] = 0;
	if (!address_domain_valid(plain, 0))
		return 0;
	req->domain.domain = node;
	return 1;
}

int etrn_release(struct etrn_request *req, unsigned long *released)
{
	req->domain.tried_before = time(NULL) - ETRN_MIN_RETRY_SEC + 1;
	if (req->queue)
		return schedule_release_matching(req->queue->name, etrn_match_any, &req->domain, released);
	return schedule_release_matching(channel_name(CHANNEL_REMOTE), schedule_match_domain, &req->domain,
					 released);
}

int etrn_request_queue(const char *node)
{
	struct spool_file f;
	char id[SPOOL_ID_MAX_BYTES];

	spool_make_id(id);
	if (!spool_file_create(&f, SPOOL_ETRN_DIR, id))
		return 0;
	if (!spool_file_write(&f, node, strlen(node)) || !spool_file_write(&f, "\n", 1) || !spool_file_commit(&f)) {
		spool_file_abort(&f);
		return 0;
	}
	return 1;
}

/* One request file: its node (one line), released.  The file goes
 * whatever it held: a request is asked once. */
static unsigned long etrn_request_run(const char *dir, const char *name)
{
	char path[PATH_MAX], node[ETRN_NODE_MAX_BYTES + 2];
	struct etrn_request req;
	struct buf v = BUF_INIT;
	unsigned long released = 0;
	ssize_t n = -1;
	int fd;

	if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path)
		return 0;
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) >= 0) {
		n = read(fd, node, sizeof node - 1);
		close(fd);
	}
	if (n > 0 && node[n - 1] == '\n')
		node[--n] = 0;
	if (n <= 0 || memchr(node, '\n', (size_t)n) || memchr(node, 0, (size_t)n) || !etrn_parse(node, &req)
	    || (!req.queue && !req.domain.domain)) {
		log_warn("event=etrn-request file=%s status=malformed", name);
	} else if (!etrn_release(&req, &released)) {
		log_warn("event=etrn-request file=%s node=%s released=%lu status=failed: %s", name,
			 xlog_value(&v, node), released, strerror(errno));
	} else {
		log_info("event=etrn-request file=%s node=%s released=%lu", name, xlog_value(&v, node), released);
	}
	buf_free(&v);
	if (unlink(path) != 0 && errno != ENOENT)
		log_warn("unable to remove %s: %s", path, strerror(errno));
	return released;
}

unsigned long etrn_requests_run(void)
{
	char dir[PATH_MAX];
	unsigned long released = 0;
	struct dirent *d;
	DIR *dh;

	if (!home_path(dir, sizeof dir, SPOOL_ETRN_DIR) || !(dh = opendir(dir)))
		return 0;
	while ((d = readdir(dh)))
		if (d->d_name[0] != '.')
			released += etrn_request_run(dir, d->d_name);
	closedir(dh);
	return released;
}
