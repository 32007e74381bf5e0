/* dns-test [-c | -s SERVER] [-t] [-4] [-T SEC] [-n TRIES] mx|dest|a|aaaa|addr|txt|ptr NAME:
 * one lookup through src/lib/dns.c, for t/dns.bats; -c takes the server and
 * USE_TCP_DNS from the home's mail.ini (dns_init_config).  Prints the results one
 * a line, then the status word, with ": " and the error text when there is
 * one; exits 0 whatever the status (2 on a bad command line or server).
 *   mx     PREFERENCE HOST
 *   dest   PREFERENCE HOST ADDRESS... ("implicit" for the preference of an
 *          implicit MX), then "skipped tempfail=N noaddress=N" if any was
 *   a, aaaa, addr   ADDRESS
 *   txt, ptr        the text, bytes outside printable ASCII as \xHH */
#include "config.h"
#include "dns.h"
#include "log.h"
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
	"usage: dns-test [-c | -s SERVER] [-t] [-4] [-T SEC] [-n TRIES] mx|dest|a|aaaa|addr|txt|ptr NAME\n";

static void print_address(const struct sockaddr_storage *ss)
{
	char text[INET6_ADDRSTRLEN];
	const void *a = ss->ss_family == AF_INET ? (const void *)&((const struct sockaddr_in *)ss)->sin_addr
						 : (const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr;

	printf("%s", inet_ntop(ss->ss_family, a, text, sizeof text) ? text : "?");
}

static void print_addresses(const struct dns_address_list *list)
{
	size_t i;

	for (i = 0; i < list->count; i++) {
		print_address(&list->items[i]);
		putchar('\n');
	}
}

static void print_texts(const struct dns_text_list *list)
{
	size_t i, j;
	unsigned char c;

	for (i = 0; i < list->count; i++) {
		for (j = 0; j < list->items[i].len; j++) {
			c = (unsigned char)list->items[i].data[j];
			if (c >= 0x20 && c < 0x7f && c != '\\')
				putchar(c);
			else
				printf("\\x%02x", c);
		}
		putchar('\n');
	}
}

static void print_destination(const struct dns_destination *d)
{
	size_t i, j;

	for (i = 0; i < d->count; i++) {
		if (d->implicit_mx)
			printf("implicit %s", d->hosts[i].name);
		else
			printf("%u %s", d->hosts[i].preference, d->hosts[i].name);
		for (j = 0; j < d->hosts[i].addresses.count; j++) {
			putchar(' ');
			print_address(&d->hosts[i].addresses.items[j]);
		}
		putchar('\n');
	}
	if (d->tempfail_hosts || d->no_address_hosts)
		printf("skipped tempfail=%zu noaddress=%zu\n", d->tempfail_hosts, d->no_address_hosts);
}

static enum dns_status lookup_ptr(struct dns_resolver *r, const char *ip, struct dns_text_list *texts)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof ss);
	if (inet_pton(AF_INET, ip, &((struct sockaddr_in *)&ss)->sin_addr) == 1)
		ss.ss_family = AF_INET;
	else if (inet_pton(AF_INET6, ip, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1)
		ss.ss_family = AF_INET6;
	return dns_ptr(r, (struct sockaddr *)&ss, texts);
}

static enum dns_status lookup(struct dns_resolver *r, const char *what, const char *name)
{
	struct dns_mx_list mx = { 0 };
	struct dns_address_list addresses = { 0 };
	struct dns_text_list texts = { 0 };
	struct dns_destination dest = { 0 };
	enum dns_status st;
	size_t i;

	if (strcmp(what, "mx") == 0) {
		st = dns_mx(r, name, &mx);
		for (i = 0; i < mx.count; i++)
			printf("%u %s\n", mx.items[i].preference, mx.items[i].host);
		dns_mx_list_free(&mx);
	} else if (strcmp(what, "dest") == 0) {
		st = dns_destination(r, name, &dest);
		print_destination(&dest);
		dns_destination_free(&dest);
	} else if (strcmp(what, "a") == 0 || strcmp(what, "aaaa") == 0 || strcmp(what, "addr") == 0) {
		st = what[1] == '\0' ? dns_lookup_a(r, name, &addresses)
		     : what[1] == 'a' ? dns_lookup_aaaa(r, name, &addresses)
				      : dns_addresses(r, name, &addresses);
		print_addresses(&addresses);
		dns_address_list_free(&addresses);
	} else if (strcmp(what, "txt") == 0 || strcmp(what, "ptr") == 0) {
		st = what[0] == 't' ? dns_lookup_txt(r, name, &texts) : lookup_ptr(r, name, &texts);
		print_texts(&texts);
		dns_text_list_free(&texts);
	} else {
		fputs(usage, stderr);
		exit(2);
	}
	return st;
}

int main(int argc, char **argv)
{
	struct dns_resolver r;
	const char *server = "";
	struct mail_config cfg;
	int opt, flags = 0, timeout = 0, tries = 0, from_config = 0, ok;
	enum dns_status st;

	log_set_program("dns-test");

	while ((opt = getopt(argc, argv, "cs:t4T:n:")) != -1) {
		switch (opt) {
		case 'c': from_config = 1; break;
		case 's': server = optarg; break;
		case 't': flags |= DNS_USE_TCP; break;
		case '4': flags |= DNS_IPV4_FIRST; break;
		case 'T': timeout = atoi(optarg); break;
		case 'n': tries = atoi(optarg); break;
		default: fputs(usage, stderr); return 2;
		}
	}
	if (argc - optind != 2) {
		fputs(usage, stderr);
		return 2;
	}
	if (from_config) {
		xmail_config_load(&cfg);
		ok = dns_init_config(&r, &cfg);
	} else {
		ok = dns_init(&r, server, flags, timeout);
	}
	if (!ok) {
		printf("dns_init: %s\n", dns_error(&r));
		return 2;
	}
	if (tries > 0)
		r.tries = tries;
	st = lookup(&r, argv[optind], argv[optind + 1]);
	if (dns_error(&r)[0])
		printf("%s: %s\n", dns_status_name(st), dns_error(&r));
	else
		printf("%s\n", dns_status_name(st));
	dns_free(&r);
	return 0;
}
