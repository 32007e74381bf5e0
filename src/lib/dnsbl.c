#include "dnsbl.h"
#include "listfile.h"
#include "log.h"
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The answers of one line: "127.0.0.2,127.0.0.4".  1 ok. */
static int parse_answers(struct dnsbl_zone *zone, char *list)
{
	char *tok, *save = NULL;
	struct in_addr a;

	for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (zone->answer_count == DNSBL_ANSWERS_MAX || inet_pton(AF_INET, tok, &a) != 1)
			return 0;
		zone->answers[zone->answer_count++] = ntohl(a.s_addr);
	}
	return zone->answer_count > 0;
}

int dnsbl_zones_load(struct dnsbl_zones *z, const char *relative)
{
	char text[PATH_MAX + 256];
	struct listfile lf;
	char *line, *key, *value;
	int r;

	memset(z, 0, sizeof *z);
	if (!listfile_open_home(&lf, relative, LISTFILE_COMMENT_SEMICOLON | LISTFILE_COMMENT_HASH))
		goto fail;
	while ((r = listfile_next(&lf, &line, NULL)) == 1) {
		struct dnsbl_zone zone;
		memset(&zone, 0, sizeof zone);
		listfile_split(line, &key, &value);
		value[strcspn(value, " \t")] = 0;
		if (strlen(key) >= sizeof zone.name || !dns_name_valid(key) || !strchr(key, '.')) {
			log_warn("%s:%lu: not a DNS zone: %.64s (skipped)", relative, lf.line_number, key);
			continue;
		}
		snprintf(zone.name, sizeof zone.name, "%s", key);
		if (*value && !parse_answers(&zone, value)) {
			log_warn("%s:%lu: bad answer list (IPv4 addresses, comma-separated) (skipped)", relative,
				 lf.line_number);
			continue;
		}
		if (z->count == DNSBL_ZONES_MAX) {
			log_warn("%s:%lu: more than %d zones: the rest are ignored", relative, lf.line_number,
				 DNSBL_ZONES_MAX);
			break;
		}
		z->zone[z->count++] = zone;
	}
	listfile_close(&lf);
	if (r >= 0)
		return 1;
fail:
	r = errno;
	listfile_error_text(&lf, text, sizeof text);
	log_warn("%s", text);
	errno = r;
	return 0;
}

int dnsbl_answer_counts(const struct dnsbl_zone *zone, uint32_t answer)
{
	size_t i;

	if ((answer >> 24) != 127)
		return 0;
	if (!zone->answer_count)
		return (answer >> 8) != 0x7fffff;   /* 127.255.255.0/24: error codes */
	for (i = 0; i < zone->answer_count; i++)
		if (zone->answers[i] == answer)
			return 1;
	return 0;
}

/* The first address of list that counts for zone: 1 with its text. */
static int listed_answer(const struct dnsbl_zone *zone, const struct dns_address_list *list, char *out,
			 size_t size)
{
	size_t i;

	for (i = 0; i < list->count; i++) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)(const void *)&list->items[i];
		if (list->items[i].ss_family == AF_INET && dnsbl_answer_counts(zone, ntohl(sin->sin_addr.s_addr))) {
			inet_ntop(AF_INET, &sin->sin_addr, out, (socklen_t)size);
			return 1;
		}
	}
	return 0;
}

/* The address as a sockaddr, for dns_reverse_name.  1 ok. */
static int ip_sockaddr(const char *ip, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof *ss);
	if (inet_pton(AF_INET, ip, &((struct sockaddr_in *)ss)->sin_addr) == 1) {
		ss->ss_family = AF_INET;
		return 1;
	}
	if (inet_pton(AF_INET6, ip, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
		ss->ss_family = AF_INET6;
		return 1;
	}
	return 0;
}

int dnsbl_check(struct dns_resolver *r, const struct dnsbl_zones *z, const char *const *ips, size_t ip_count,
		long long deadline_ms, struct dnsbl_hit *hit, size_t *failed)
{
	size_t n = ip_count * z->count, i, j, k, bad = 0;
	char **names = calloc(n ? n : 1, sizeof *names);
	enum dns_status *status = calloc(n ? n : 1, sizeof *status);
	struct dns_address_list *answers = calloc(n ? n : 1, sizeof *answers);
	struct sockaddr_storage ss;
	int listed = 0;

	if (!names || !status || !answers) {
		bad = n;
		goto out;
	}
	for (i = 0; i < ip_count; i++)
		for (j = 0; j < z->count; j++) {
			k = i * z->count + j;
			if (!(names[k] = malloc(NI_MAXHOST + 256))) {
				bad = n;
				goto out;
			}
			/* Not an address: a name no lookup takes (DNS_PERMFAIL). */
			if (!ip_sockaddr(ips[i], &ss)
			    || !dns_reverse_name((struct sockaddr *)&ss, z->zone[j].name, names[k], NI_MAXHOST + 256))
				snprintf(names[k], NI_MAXHOST + 256, "-");
		}
	dns_lookup_a_parallel(r, (const char *const *)names, n, deadline_ms, status, answers);
	for (k = 0; k < n; k++) {
		if (status[k] == DNS_TEMPFAIL || status[k] == DNS_PERMFAIL)
			bad++;
		if (!listed && status[k] == DNS_OK
		    && listed_answer(&z->zone[k % z->count], &answers[k], hit->answer, sizeof hit->answer)) {
			hit->ip = k / z->count;
			hit->zone = k % z->count;
			listed = 1;
		}
	}
out:
	for (k = 0; k < n; k++) {
		if (names)
			free(names[k]);
		if (answers)
			dns_address_list_free(&answers[k]);
	}
	free(names);
	free(status);
	free(answers);
	if (failed)
		*failed = bad;
	return listed;
}
