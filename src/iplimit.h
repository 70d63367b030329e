/* iplimit.h -- per-client-address connection counts and rates (pure). */
#ifndef WSD_IPLIMIT_H
#define WSD_IPLIMIT_H

#include <stddef.h>
#include <stdint.h>

#include "cidr.h"

/* iplimit_acquire() results. */
#define IPLIMIT_OK	0
#define IPLIMIT_COUNT	1		/* max_connections_per_ip reached */
#define IPLIMIT_RATE	2		/* max_connection_rate_per_ip */

struct iplimit;
struct iplimit_entry;

/*
 * A table of client addresses: IPv4 addresses each count on their own,
 * IPv6 addresses by /64 (one host usually has a whole /64). max_count and
 * rate are the limits, 0 for none; the rate is a token bucket holding
 * rate tokens (a burst of rate connections, then rate per second). seed
 * keys the hash. An entry lives while it has connections or its bucket is
 * refilling, so the table holds at most the open connections' addresses
 * plus those that connected in the last second. NULL when out of memory.
 */
struct iplimit *iplimit_new(unsigned max_count, unsigned rate, uint64_t seed);
void	iplimit_free(struct iplimit *t);
/* New limits for the table (a reload); counts and buckets carry over. */
void	iplimit_set_limits(struct iplimit *t, unsigned max_count,
	    unsigned rate);

/*
 * Counts a new connection from a at time now (seconds, monotonic).
 * IPLIMIT_OK with *e set (hand it back to iplimit_release), or
 * IPLIMIT_COUNT / IPLIMIT_RATE when a limit refuses it (nothing counted),
 * or -1 when out of memory.
 */
int	iplimit_acquire(struct iplimit *t, const struct cidr_addr *a,
	    double now, struct iplimit_entry **e);
/* A connection counted by iplimit_acquire() has ended. */
void	iplimit_release(struct iplimit *t, struct iplimit_entry *e, double now);
/* Frees entries with no connection and a full bucket. */
void	iplimit_expire(struct iplimit *t, double now);
/* Entries in the table, for tests and bounds. */
size_t	iplimit_size(const struct iplimit *t);
/* Open connections counted for a's entry (0 when absent). */
unsigned iplimit_count(const struct iplimit *t, const struct cidr_addr *a);

#endif
