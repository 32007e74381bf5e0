/* runq: runs the spool stages (runq(8)).  Without flags, every stage once,
 * for cron.  With -l, forever: the stages, then a wait on the trigger FIFO
 * that a receiver pokes after each accepted message, or RescanFrequency.
 * -f (every deferred job) and -D (one domain's remote ones) release
 * deferred jobs before the first pass.
 * Stages are child programs from libexec/, started with execve and a fixed
 * argv; two runq on one spool are safe because every stage claims its
 * files with flock, which also lets -l run them together under load. */
#include "buf.h"
#include "channel.h"
#include "config.h"
#include "etrn.h"
#include "home.h"
#include "log.h"
#include "schedule.h"
#include "spool.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define USAGE "runq [-l] [-f] [-D [@]DOMAIN] [-d DIR]"
#define TRASH_MIN_AGE_SEC 2                 /* older files unlink cheaply (spool.h) */
/* The reserve left in the trash for the next burst to recycle: a spool
 * write that finds the trash empty creates a file, which after many
 * deletions costs ~0.7 ms here against ~30 us for a recycled one. */
#define TRASH_KEEP_FILES 4096
#define TRASH_KEEP_MAX_BYTES (64 * 1024)
#define TRASH_KEEP_MAX_AGE_SEC (60 * 60)
#define TMP_MAX_AGE_SEC (36 * 60 * 60)      /* the Maildir rule: tmp files older are garbage */
#define TMP_SWEEP_EVERY_SEC (60 * 60)
#define RESCAN_MAX_SEC (24 * 60 * 60)
/* Under load (a poke already waiting when a pass ends) runq lets this long
 * pass before the next pass, so one pass takes a bigger batch: every pass
 * costs two stage start-ups (~3 ms of CPU) and a directory fsync per
 * queue, shared by the messages it carries.  An idle runq that a poke
 * wakes starts at once. */
#define GATHER_MS 20

/* pickup (local submissions into spool/incoming), route, then one stage
 * per channel in the channel table's order (the order a message travels).
 * A stage whose program is not in libexec/ is skipped, so a new channel
 * needs only its line in channel.c. */
#define STAGE_COUNT (2 + CHANNEL_END - CHANNEL_FIRST)
static const char *runq_stage_name(size_t i)
{
	return i == 0 ? "pickup" : i == 1 ? "route" : channel_by_id(CHANNEL_FIRST + (int)i - 2)->stage;
}

struct runq {
	char libexec[PATH_MAX];
	int loop;
	int flush;              /* -f: every deferred job is due now */
	const char *domain;     /* -D: that domain's deferred remote jobs are */
	unsigned long rescan_sec;
	time_t last_tmp_sweep;
	int gather_ms;
};

static volatile sig_atomic_t stop_requested;

static void on_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/* The stages' directory: BBSMAIL_LIBEXEC, else ../libexec/bbsmail next to
 * our own bin/ (make install's layout), else ../libexec (the checkout). */
static void runq_find_libexec(struct runq *q)
{
	const char *env = getenv("BBSMAIL_LIBEXEC");
	char self[PATH_MAX];
	ssize_t n;
	char *slash;

	if (env && *env) {
		if ((size_t)snprintf(q->libexec, sizeof q->libexec, "%s", env) >= sizeof q->libexec)
			die_temp("BBSMAIL_LIBEXEC too long");
		return;
	}
	n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n <= 0)
		die_sys("unable to find my own program file");
	self[n] = 0;
	slash = strrchr(self, '/');
	if (slash)
		*slash = 0;
	if ((size_t)snprintf(q->libexec, sizeof q->libexec, "%s/../libexec/bbsmail", self) >= sizeof q->libexec)
		die_temp("libexec path too long");
	if (access(q->libexec, X_OK) == 0)
		return;
	if ((size_t)snprintf(q->libexec, sizeof q->libexec, "%s/../libexec", self) >= sizeof q->libexec)
		die_temp("libexec path too long");
}

/* What counts as work in a directory listing (never "." or ".."). */
enum runq_look { LOOK_JOB, LOOK_ANY, LOOK_DUE_BUCKET, LOOK_PICKUP_TMP };

static int runq_entry_counts(const char *name, enum runq_look look, time_t now)
{
	unsigned long long t;
	char *end;

	switch (look) {
	case LOOK_JOB:
		return name[0] != '.';
	case LOOK_ANY: /* drop/: sendmail's files may have any name */
		return strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
	case LOOK_DUE_BUCKET: /* a bucket is named by its time (schedule.h) */
		if (name[0] == '.')
			return 0;
		errno = 0;
		t = strtoull(name, &end, 10);
		return *end || errno || t <= (unsigned long long)now;
	case LOOK_PICKUP_TMP:
		return strncmp(name, SPOOL_PICKUP_TMP_PREFIX, strlen(SPOOL_PICKUP_TMP_PREFIX)) == 0;
	}
	return 1;
}

/* Whether <home>/<rel> lists an entry that counts.  An error says yes:
 * the stage will meet and report it. */
static int runq_dir_lists(const char *rel, enum runq_look look, time_t now)
{
	char dir[PATH_MAX];
	struct dirent *d;
	int found = 0;
	DIR *dh;

	if (!home_path(dir, sizeof dir, rel))
		return 1;
	if (!(dh = opendir(dir)))
		return errno != ENOENT;
	while (!found && (d = readdir(dh)))
		found = runq_entry_counts(d->d_name, look, now);
	closedir(dh);
	return found;
}

/* Whether stage i may have work: pickup a drop file or one it left half
 * picked up in spool/tmp/, route an incoming message, a channel's stage a
 * job in its queue or a deferred bucket that is due.  A stage started for
 * nothing costs a fork, an exec and its start-up (~55 us of CPU per
 * message at 10 sessions, for each of five idle stages); a look costs an
 * opendir. */
static int runq_stage_has_work(size_t i, time_t now)
{
	char rel[PATH_MAX];
	const char *channel;

	if (i == 0)
		return runq_dir_lists(SPOOL_DROP_DIR, LOOK_ANY, now) || runq_dir_lists(SPOOL_TMP_DIR, LOOK_PICKUP_TMP, now);
	if (i == 1)
		return runq_dir_lists(SPOOL_INCOMING_DIR, LOOK_JOB, now);
	channel = channel_name(CHANNEL_FIRST + (int)i - 2);
	snprintf(rel, sizeof rel, "%s/%s", SPOOL_QUEUE_DIR, channel);
	if (runq_dir_lists(rel, LOOK_JOB, now))
		return 1;
	/* deliver-remote also removes the sent-logs of retired jobs. */
	if (CHANNEL_FIRST + (int)i - 2 == CHANNEL_REMOTE && runq_dir_lists(SPOOL_SENT_DIR, LOOK_JOB, now))
		return 1;
	snprintf(rel, sizeof rel, "%s/%s", SPOOL_DEFER_DIR, channel);
	return runq_dir_lists(rel, LOOK_DUE_BUCKET, now);
}

/* Starts stage i when it has work.  Returns its pid, 0 when it has none
 * or is not installed (not a stage yet), -1 when it could not start. */
static pid_t runq_stage_start(const struct runq *q, size_t i)
{
	const char *name = runq_stage_name(i);
	char path[PATH_MAX];
	char *const argv[] = { (char *)name, NULL };
	pid_t pid;

	if (!runq_stage_has_work(i, time(NULL)))
		return 0;
	if ((size_t)snprintf(path, sizeof path, "%s/%s", q->libexec, name) >= sizeof path
	    || access(path, X_OK) != 0)
		return 0;
	pid = fork();
	if (pid < 0) {
		log_warn("unable to fork for %s: %s", name, strerror(errno));
		return -1;
	}
	if (pid == 0) {
		execv(path, argv);
		log_error("unable to run %s: %s", path, strerror(errno));
		_exit(EXIT_TEMPORARY);
	}
	return pid;
}

/* Waits for a started stage.  Returns its exit code, or 111 when it could
 * not start or died of a signal (both are temporary); 0 for no stage. */
static int runq_stage_wait(const char *name, pid_t pid)
{
	int status;

	if (pid == 0)
		return 0;
	if (pid < 0)
		return EXIT_TEMPORARY;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return EXIT_TEMPORARY;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	log_warn("event=stage-killed stage=%s signal=%d", name, WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	return EXIT_TEMPORARY;
}

static int runq_stage_failed(const char *name, int code)
{
	if (code > 0)
		log_warn("event=stage-failed stage=%s exit=%d", name, code);
	return code > 0;
}

/* Every stage once, in order, each to completion before the next (so one
 * pass carries a message all the way); 0 when all succeeded, else 111. */
static int runq_stages(const struct runq *q)
{
	size_t i;
	int failed = 0;

	/* ETRN requests that smtpd could not carry out (etrn.h) first: their
	 * jobs then go in this pass. */
	(void)etrn_requests_run();
	for (i = 0; i < STAGE_COUNT; i++)
		failed |= runq_stage_failed(runq_stage_name(i), runq_stage_wait(runq_stage_name(i), runq_stage_start(q, i)));
	return failed ? EXIT_TEMPORARY : 0;
}

/* Every stage at once: under load, route works on the new messages while
 * deliver-local delivers what the previous pass routed (a pipeline on two
 * cores, and fsync waits overlap).  The stages claim their files, so
 * running them together is as safe as two runq (runq(8)). */
static void runq_stages_together(const struct runq *q)
{
	pid_t pids[STAGE_COUNT];
	size_t i;

	(void)etrn_requests_run();
	for (i = 0; i < STAGE_COUNT; i++)
		pids[i] = runq_stage_start(q, i);
	for (i = 0; i < STAGE_COUNT; i++)
		runq_stage_failed(runq_stage_name(i), runq_stage_wait(runq_stage_name(i), pids[i]));
}

/* Removes the files in relative_dir older than 36 h: in spool/tmp, writers
 * that died mid-write; in spool/attempt, the marks (stage.h) of inputs
 * gone from spool/incoming, left by a crash between retiring and
 * unmarking (only_if_gone_from). */
static void runq_sweep_dir(const char *relative_dir, const char *only_if_gone_from, const char *event, time_t now)
{
	char dir[PATH_MAX], path[PATH_MAX], rel[PATH_MAX], other[PATH_MAX];
	struct dirent *d;
	struct stat st;
	DIR *dh;

	if (!home_path(dir, sizeof dir, relative_dir) || !(dh = opendir(dir)))
		return;
	while ((d = readdir(dh))) {
		if (d->d_name[0] == '.' || (size_t)snprintf(path, sizeof path, "%s/%s", dir, d->d_name) >= sizeof path)
			continue;
		if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode) || now - st.st_mtime <= TMP_MAX_AGE_SEC)
			continue;
		if (only_if_gone_from
		    && ((size_t)snprintf(rel, sizeof rel, "%s/%s", only_if_gone_from, d->d_name) >= sizeof rel
			|| !home_path(other, sizeof other, rel) || access(other, F_OK) == 0 || errno != ENOENT))
			continue;
		if (unlink(path) == 0)
			log_info("event=%s file=%s", event, d->d_name);
	}
	closedir(dh);
}

static void runq_sweep_tmp(struct runq *q)
{
	time_t now = time(NULL);

	if (now - q->last_tmp_sweep < TMP_SWEEP_EVERY_SEC)
		return;
	q->last_tmp_sweep = now;
	runq_sweep_dir(SPOOL_TMP_DIR, NULL, "tmp-removed", now);
	runq_sweep_dir(SPOOL_ATTEMPT_DIR, SPOOL_INCOMING_DIR, "mark-removed", now);
}

/* The unlinks, kept off the path a message waits on (spool.h). */
static void runq_clean(struct runq *q)
{
	spool_trim_trash(TRASH_MIN_AGE_SEC, TRASH_KEEP_FILES, TRASH_KEEP_MAX_BYTES, TRASH_KEEP_MAX_AGE_SEC);
	runq_sweep_tmp(q);
}

/* Reads every pending poke so one burst of messages costs one pass. */
static void runq_drain(int fd)
{
	char sink[512];

	while (read(fd, sink, sizeof sink) > 0)
		;
}

/* O_RDWR so the open never blocks and poll never sees a writer-less EOF. */
static int runq_open_trigger(void)
{
	char path[PATH_MAX];
	int fd;

	xhome_path(path, sizeof path, SPOOL_TRIGGER_PATH);
	if (mkfifo(path, home_file_mode()) != 0 && errno != EEXIST)
		die_sys("unable to create %s", path);
	fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		die_sys("unable to open %s", path);
	return fd;
}

/* Waits for a poke up to timeout_ms; 1 when one is pending. */
static int runq_wait(int fd, int timeout_ms)
{
	struct pollfd p;
	int n;

	p.fd = fd;
	p.events = POLLIN;
	p.revents = 0;
	n = poll(&p, 1, timeout_ms);
	if (n < 0 && errno != EINTR)
		die_sys("unable to wait on the trigger");
	return n > 0;
}

/* Sleeps ms (cut short by SIGTERM/SIGINT) while pokes pile up unread. */
static void runq_gather(int ms)
{
	struct timespec ts;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	if (ms > 0 && !stop_requested)
		nanosleep(&ts, NULL);
}

/* How long an idle loop sleeps: RescanFrequency, or less when a deferred
 * job falls due sooner (its bucket's time, schedule.h). */
static int runq_idle_ms(const struct runq *q)
{
	time_t now = time(NULL), due = schedule_next_due();
	unsigned long sec = q->rescan_sec;

	/* A bucket already due was emptied by the pass just run; one still
	 * there cannot be (no stage for its channel): it sets no alarm. */
	if (due > now && (unsigned long)(due - now) < sec)
		sec = (unsigned long)(due - now);
	return (int)(sec * 1000);
}

/* -f: moves every deferred job back into its queue now, as a sysop does
 * after fixing what made deliveries fail. */
static void runq_release_all(void)
{
	long n;
	int id;

	for (id = CHANNEL_FIRST; id < CHANNEL_END; id++) {
		n = schedule_release_due(channel_name(id), (time_t)LONG_MAX);
		if (n < 0)
			log_warn("unable to release the deferred %s jobs: %s", channel_name(id), strerror(errno));
		else if (n > 0)
			log_info("event=release channel=%s jobs=%ld", channel_name(id), n);
	}
}

/* -D: the deferred remote jobs with a recipient in the domain ("@domain":
 * and its subdomains) go back into the queue now, as ETRN does for a
 * client (smtpd(8)) but with no retry floor: the sysop asked. */
static void runq_release_domain(const char *domain)
{
	struct schedule_domain match = { domain, 0 };
	const char *channel = channel_name(CHANNEL_REMOTE);
	struct buf v = BUF_INIT;
	unsigned long n = 0;
	int ok = schedule_release_matching(channel, schedule_match_domain, &match, &n);
	int saved = errno;

	if (!ok)
		log_warn("unable to release the deferred %s jobs of %s: %s", channel, domain, strerror(saved));
	log_info("event=release channel=%s domain=%s jobs=%lu", channel, xlog_value(&v, domain), n);
	buf_free(&v);
}

/* The -D argument: a valid domain, optionally "@" first and a dot last
 * (ETRN's syntax without its "#queue"). */
static int runq_domain_valid(const char *arg)
{
	struct etrn_request req;

	return arg[0] != '#' && etrn_parse(arg, &req);
}

static void runq_loop(struct runq *q)
{
	int fd = runq_open_trigger(), busy = 0;

	log_info("event=start rescan=%lu", q->rescan_sec);
	while (!stop_requested) {
		runq_drain(fd);
		if (busy)
			runq_stages_together(q);
		else
			runq_stages(q);
		if (stop_requested)
			break;
		/* Messages arrived during the pass: let more gather, then run the
		 * stages together.  After a pass of stages together with no new
		 * poke, an ordinary pass delivers what that one routed. */
		if (runq_wait(fd, 0)) {
			busy = 1;
			runq_gather(q->gather_ms);
			continue;
		}
		if (busy) {
			busy = 0;
			continue;
		}
		runq_clean(q);
		if (!stop_requested)
			runq_wait(fd, runq_idle_ms(q));
	}
	close(fd);
	log_info("event=stop");
}

static void runq_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_stop;   /* no SA_RESTART: poll must return */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}

static void runq_parse_args(struct runq *q, int argc, char **argv)
{
	int opt;

	while ((opt = getopt(argc, argv, "lfD:d:")) != -1) {
		switch (opt) {
		case 'l': q->loop = 1; break;
		case 'f': q->flush = 1; break;
		case 'D': q->domain = optarg; break;
		case 'd': home_set(optarg); break;
		default: die_usage(USAGE);
		}
	}
	if (optind != argc)
		die_usage(USAGE);
	if (q->domain && !runq_domain_valid(q->domain))
		die_perm("bad domain for -D: %s", q->domain);
}

int main(int argc, char **argv)
{
	struct mail_config cfg;
	struct runq q;

	log_set_program("runq");
	memset(&q, 0, sizeof q);
	runq_parse_args(&q, argc, argv);
	home_umask();
	/* The stages find the same home through the environment. */
	if (setenv("BBSMAIL_HOME", home_dir(), 1) != 0)
		die_nomem();
	mail_config_defaults(&cfg);
	xmail_config_load(&cfg);
	q.rescan_sec = cfg.rescan_frequency_sec;
	if (q.rescan_sec == 0 || q.rescan_sec > RESCAN_MAX_SEC)
		q.rescan_sec = q.rescan_sec ? RESCAN_MAX_SEC : 60;
	runq_find_libexec(&q);
	q.gather_ms = GATHER_MS;
	runq_signals();
	if (q.flush)
		runq_release_all();
	else if (q.domain)
		runq_release_domain(q.domain);
	if (!q.loop) {
		int code = runq_stages(&q);
		runq_clean(&q);
		return code;
	}
	runq_loop(&q);
	return 0;
}
