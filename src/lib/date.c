#include "date.h"
#include <errno.h>
#include <stdio.h>

/* Days since 1970-01-01 to a proleptic Gregorian date: the era-based
 * civil-from-days arithmetic (400-year eras of 146097 days, years that
 * start on 1 March so the leap day comes last). */
static void date_civil(long long days, long long *year, int *month, int *day)
{
	long long era, doe, yoe, doy, mp;

	days += 719468;
	era = (days >= 0 ? days : days - 146096) / 146097;
	doe = days - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*day = (int)(doy - (153 * mp + 2) / 5 + 1);
	*month = (int)(mp < 10 ? mp + 3 : mp - 9);
	*year = yoe + era * 400 + (*month <= 2);
}

int date_rfc5322(char *out, size_t size, long long seconds)
{
	/* 1970-01-01 was a Thursday, hence the order of weekdays[]. */
	static const char weekdays[7][4] = { "Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed" };
	static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	long long days = seconds / 86400, secs = seconds % 86400, year;
	int month, day, n;

	if (secs < 0) {
		secs += 86400;
		days--;
	}
	date_civil(days, &year, &month, &day);
	n = snprintf(out, size, "%s, %02d %s %04lld %02lld:%02lld:%02lld +0000", weekdays[(days % 7 + 7) % 7], day,
		     months[month - 1], year, secs / 3600, secs / 60 % 60, secs % 60);
	if (n < 0 || (size_t)n >= size) {
		if (size)
			out[0] = 0;
		errno = ERANGE;
		return 0;
	}
	return 1;
}
