/* smtp-send: sends spool-style messages (files with LF line ends) to a peer
 * through src/lib/smtpclient, for t/smtpclient.bats.  All FILEs go over one
 * session, in order.  Prints the session's facts and one line per recipient:
 *   rcpt=<addr> code=<n> status=<x.y.z> remote=<0|1> text=<text>
 * Exit 0 when every message got its answers (whatever they were), 111 or 100
 * when the session failed (the error line says why). */
#include "log.h"
#include "smtpclient.h"
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define USAGE "smtp-send [-f sender] -r rcpt [-N notify] [-O orcpt] ... [-R ret] [-E envid] [-U]" \
	" [-t off|may|required] [-V cafile] [-S servername] [-a mech] [-u user] [-p password] [-P]" \
	" [-C] [-X] [-T seconds] [-w seconds] [-b bind-ip] [-H helo] host port file..."
#define RCPT_MAX 200

struct options {
	struct smtpclient_envelope env;
	struct smtpclient_rcpt rcpt[RCPT_MAX];
	const char *tls, *ca_file, *servername, *mech, *user, *password, *bind_ip, *helo;
	int allow_plaintext, no_chunking, rset_between, timeout, connect_timeout;
};

static void parse_options(struct options *o, int argc, char **argv)
{
	int ch;

	memset(o, 0, sizeof *o);
	o->env.sender = "";
	o->env.rcpt = o->rcpt;
	o->tls = "may";
	o->helo = "client.example";
	o->connect_timeout = 10;
	while ((ch = getopt(argc, argv, "f:r:N:O:R:E:Ut:V:S:a:u:p:PCXT:w:b:H:")) != -1) {
		switch (ch) {
		case 'f': o->env.sender = optarg; break;
		case 'r':
			if (o->env.rcpt_count >= RCPT_MAX)
				die_usage(USAGE);
			o->rcpt[o->env.rcpt_count++].address = optarg;
			break;
		case 'N': case 'O':
			if (!o->env.rcpt_count)
				die_usage(USAGE);
			if (ch == 'N')
				o->rcpt[o->env.rcpt_count - 1].notify = optarg;
			else
				o->rcpt[o->env.rcpt_count - 1].orcpt = optarg;
			break;
		case 'R': o->env.ret = optarg; break;
		case 'E': o->env.envid = optarg; break;
		case 'U': o->env.smtputf8 = 1; break;
		case 't': o->tls = optarg; break;
		case 'V': o->ca_file = optarg; break;
		case 'S': o->servername = optarg; break;
		case 'a': o->mech = optarg; break;
		case 'u': o->user = optarg; break;
		case 'p': o->password = optarg; break;
		case 'P': o->allow_plaintext = 1; break;
		case 'C': o->no_chunking = 1; break;
		case 'X': o->rset_between = 1; break;
		case 'T': o->timeout = atoi(optarg); break;
		case 'w': o->connect_timeout = atoi(optarg); break;
		case 'b': o->bind_ip = optarg; break;
		case 'H': o->helo = optarg; break;
		default: die_usage(USAGE);
		}
	}
	if (argc - optind < 3 || !o->env.rcpt_count)
		die_usage(USAGE);
}

static void fail(struct smtpclient *c)
{
	printf("error temporary=%d connection=%d code=%d status=%s text=%s\n", c->error.temporary,
	       c->error.connection, c->error.code, *c->error.status ? c->error.status : "-", c->error.text);
	fflush(stdout);
	smtpclient_quit(c);
	exit(c->error.temporary ? EXIT_TEMPORARY : EXIT_PERMANENT);
}

static void print_caps(const struct smtpclient *c)
{
	unsigned f = c->caps.flags;

	printf("esmtp=%s pipelining=%s chunking=%s 8bitmime=%s smtputf8=%s dsn=%s starttls=%s size=%llu"
	       " enhancedstatuscodes=%s auth-offered=%s\n",
	       c->esmtp ? "yes" : "no", f & SMTPCLIENT_CAP_PIPELINING ? "yes" : "no",
	       f & SMTPCLIENT_CAP_CHUNKING ? "yes" : "no", f & SMTPCLIENT_CAP_8BITMIME ? "yes" : "no",
	       f & SMTPCLIENT_CAP_SMTPUTF8 ? "yes" : "no", f & SMTPCLIENT_CAP_DSN ? "yes" : "no",
	       f & SMTPCLIENT_CAP_STARTTLS ? "yes" : "no", c->caps.size_limit,
	       f & SMTPCLIENT_CAP_ENHANCEDSTATUSCODES ? "yes" : "no", *c->caps.auth ? c->caps.auth : "-");
}

static void open_session(struct smtpclient *c, const struct options *o, const char *host, const char *port)
{
	struct addrinfo hints, *ai;
	int required = !strcmp(o->tls, "required");

	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV; /* never the resolver */
	if (getaddrinfo(host, port, &hints, &ai) != 0)
		die_perm("host must be an IP literal and port a number");
	if (!smtpclient_connect(c, ai->ai_addr, ai->ai_addrlen, o->bind_ip, o->connect_timeout)) {
		freeaddrinfo(ai);
		fail(c);
	}
	freeaddrinfo(ai);
	if (!smtpclient_ehlo(c, o->helo))
		fail(c);
	print_caps(c);
	if (strcmp(o->tls, "off") && ((c->caps.flags & SMTPCLIENT_CAP_STARTTLS) || required)) {
		if (!smtpclient_starttls(c, o->servername, o->ca_file != NULL, o->ca_file))
			fail(c);
		print_caps(c);
	}
	if (o->user && !smtpclient_auth(c, o->mech, o->user, o->password ? o->password : "", o->allow_plaintext))
		fail(c);
	if (o->no_chunking)
		c->caps.flags &= ~(unsigned)SMTPCLIENT_CAP_CHUNKING;
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *data = NULL;
	long n;

	if (!f || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0
	    || !(data = malloc((size_t)n + 1)) || fread(data, 1, (size_t)n, f) != (size_t)n)
		die_sys("unable to read %s", path);
	fclose(f);
	*len = (size_t)n;
	return data;
}

static void print_facts(unsigned f)
{
	printf("sent pipelined=%s bdat=%s 8bitmime=%s 8bit-as-is=%s smtputf8=%s dsn=%s data=%s\n",
	       f & SMTPCLIENT_SENT_PIPELINED ? "yes" : "no", f & SMTPCLIENT_SENT_BDAT ? "yes" : "no",
	       f & SMTPCLIENT_SENT_8BITMIME ? "yes" : "no", f & SMTPCLIENT_SENT_8BIT_AS_IS ? "yes" : "no",
	       f & SMTPCLIENT_SENT_SMTPUTF8 ? "yes" : "no", f & SMTPCLIENT_SENT_DSN ? "yes" : "no",
	       f & SMTPCLIENT_SENT_DATA ? "yes" : "no");
}

static void send_one(struct smtpclient *c, const struct options *o, const char *path)
{
	struct smtpclient_result results[RCPT_MAX];
	size_t len, i;
	char *message = read_file(path, &len);
	unsigned facts;
	int ok;

	for (i = 0; i < o->env.rcpt_count; i++)
		smtpclient_result_init(&results[i]);
	ok = smtpclient_send(c, &o->env, message, len, results, &facts);
	print_facts(facts);
	for (i = 0; i < o->env.rcpt_count; i++) {
		printf("rcpt=%s code=%d status=%s remote=%d text=%s\n", o->rcpt[i].address, results[i].code,
		       *results[i].status ? results[i].status : "-", results[i].remote,
		       results[i].text.data ? results[i].text.data : "");
		smtpclient_result_free(&results[i]);
	}
	free(message);
	if (!ok)
		fail(c);
	printf("usable=%s\n", smtpclient_usable(c) ? "yes" : "no");
}

int main(int argc, char **argv)
{
	struct smtpclient_timeouts t;
	struct smtpclient c;
	struct options o;
	int i;

	log_set_program("smtp-send");
	parse_options(&o, argc, argv);
	smtpclient_timeouts_default(&t);
	if (o.timeout > 0)
		t.greeting = t.helo = t.starttls = t.auth = t.mail = t.rcpt = t.data_init = t.data_block
			= t.data_done = t.rset = t.quit = o.timeout;
	smtpclient_init(&c, &t);
	open_session(&c, &o, argv[optind], argv[optind + 1]);
	for (i = optind + 2; i < argc; i++) {
		if (i > optind + 2 && o.rset_between && !smtpclient_rset(&c))
			fail(&c);
		send_one(&c, &o, argv[i]);
	}
	printf("tls=%s verified=%s auth=%s\n", *c.tls ? c.tls : "none", c.tls_verified ? "yes" : "no",
	       c.authenticated ? c.auth_mech : "none");
	if (!smtpclient_quit(&c))
		printf("quit: %s\n", c.error.text);
	return 0;
}
