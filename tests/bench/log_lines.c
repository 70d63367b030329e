/*
 * log_lines.c -- ns per log line: an access line at info, an off debug
 * line. Not built by make; against the objects of a build:
 *   cc -O2 -I src tests/bench/log_lines.c build/src/libwsd_a-log.o \
 *       -o /tmp/log_lines && /tmp/log_lines 2>/dev/null
 * The result goes to stdout; the lines themselves to stderr.
 */
#include <stdio.h>
#include <time.h>

#include "log.h"

#define N	20000

/* Monotonic nanoseconds. */
static double
now_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int
main(void)
{
	double	t0, t1, t2;
	int	i;

	log_init(LOG_LVL_INFO);
	t0 = now_ns();
	for (i = 0; i < N; i++)
		log_access("127.0.0.1:%d ws %s 101 in=%d out=%d close=%u "
		    "%.3fs", 40000 + i % 20000, "/echo", i, 2 * i, 1000u,
		    0.25);
	t1 = now_ns();
	for (i = 0; i < N; i++)
		log_debug("%s: %s -> %s", "127.0.0.1:5555", "open",
		    "closing");
	t2 = now_ns();
	printf("access line %.0f ns, debug line off %.1f ns\n",
	    (t1 - t0) / N, (t2 - t1) / N);
	return 0;
}
