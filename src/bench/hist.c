/* hist.c -- latency histogram and /proc sampling of the server. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

/*
 * Buckets in the manner of HdrHistogram: values below 128 µs are exact;
 * above, each power of two is cut into 64 buckets, so a bucket is at most
 * 1/64 of its value wide. Index = e * 64 + (v >> e), e = msb(v) - 6.
 */
static unsigned
hist_index(uint64_t v)
{
	unsigned	e;

	if (v >= (1ULL << 40))
		v = (1ULL << 40) - 1;
	if (v < (1u << (HIST_SUB_BITS + 1)))
		return (unsigned)v;
	e = (unsigned)(63 - __builtin_clzll(v)) - HIST_SUB_BITS;
	return (e << HIST_SUB_BITS) + (unsigned)(v >> e);
}

/* The highest value that falls into bucket i. */
static uint64_t
hist_value(unsigned i)
{
	unsigned	e;
	uint64_t	m;

	if (i < (1u << (HIST_SUB_BITS + 1)))
		return i;
	e = (i >> HIST_SUB_BITS) - 1;
	m = i - ((uint64_t)e << HIST_SUB_BITS);
	return ((m + 1) << e) - 1;
}

/* Empties the histogram. */
void
hist_reset(struct hist *h)
{
	memset(h, 0, sizeof(*h));
}

/* Records one latency in µs. */
void
hist_add(struct hist *h, uint64_t v)
{
	h->count[hist_index(v)]++;
	h->n++;
	if (v > h->max)
		h->max = v;
}

/* The q-quantile (0 < q <= 1): the top of its bucket, never above max. */
uint64_t
hist_percentile(const struct hist *h, double q)
{
	uint64_t	rank, seen = 0, v;
	unsigned	i;

	if (h->n == 0)
		return 0;
	rank = (uint64_t)(q * (double)h->n + 0.999999);
	if (rank < 1)
		rank = 1;
	for (i = 0; i < HIST_BUCKETS; i++) {
		seen += h->count[i];
		if (seen >= rank) {
			v = hist_value(i);
			return v < h->max ? v : h->max;
		}
	}
	return h->max;
}

/* Reads utime + stime and VmRSS of a process; 0, or -1 if it is gone. */
int
proc_sample(long pid, struct proc_sample *s)
{
	char			 path[64], buf[1024], *p;
	FILE			*f;
	unsigned long long	 ut, st;
	size_t			 n;
	long			 tck;

	memset(s, 0, sizeof(*s));
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* The command name may hold spaces and parentheses: skip to the last. */
	if ((p = strrchr(buf, ')')) == NULL)
		return -1;
	/* state ppid pgrp session tty tpgid flags minflt cminflt majflt
	   cmajflt utime stime */
	if (sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
	    "%llu %llu", &ut, &st) != 2)
		return -1;
	if ((tck = sysconf(_SC_CLK_TCK)) <= 0)
		tck = 100;
	s->cpu_s = (double)(ut + st) / (double)tck;
	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(buf, sizeof(buf), f) != NULL)
		if (strncmp(buf, "VmRSS:", 6) == 0)
			s->rss_kib = strtol(buf + 6, NULL, 10);
	fclose(f);
	s->ok = 1;
	return 0;
}
