/* cluster_hop.h -- other workers' cluster calls, made on worker 0's link. */
#ifndef WSD_CLUSTER_HOP_H
#define WSD_CLUSTER_HOP_H

#include <stddef.h>

struct cluster_stream_entry;

/*
 * The cluster_stream_*() calls of a worker other than 0 (cluster.h):
 * the same contract. -1 while Redis is away (the callback never runs);
 * else the call is handed to worker 0 and the callback runs later on
 * the caller's loop, with the answer or a failure.
 */
int	 cluster_hop_add(const char *name, unsigned maxlen, double ttl,
	    int kind, const void *data, size_t len,
	    void (*cb)(void *, const char *, long long), void *arg);
int	 cluster_hop_range(const char *name, const char *since,
	    unsigned count, void (*cb)(void *,
	    const struct cluster_stream_entry *, size_t, int), void *arg);
int	 cluster_hop_info(const char *name, void (*cb)(void *, long long,
	    long long, const char *), void *arg);
int	 cluster_hop_delete(const char *name);
/*
 * cluster_subs_set() with workers, from any worker (worker 0 too): in
 * the order of the calls, which the caller makes under the channel's
 * lock, so that the last count Redis hears is the newest.
 */
void	 cluster_hop_subs(const char *name, unsigned n);

/*
 * A hub publish of another worker (the bridge's): copied, behind that
 * worker's earlier ones, so each sender's order holds.
 */
void	 cluster_hop_publish(const char *name, int opcode, const void *data,
	    size_t len, const void *sse, size_t sse_len, unsigned key);

/* The bridge's publish, which worker 0 makes (cluster.c). */
void	 cluster_hub_publish(const char *name, int opcode, const void *data,
	    size_t len, const void *sse, size_t sse_len, unsigned key);
/* Worker 0 records a count (cluster.c). */
void	 cluster_subs_apply(const char *name, unsigned n);
/*
 * A copy of n entries and the bytes they point to, in one block for
 * free(); NULL when n is 0 or memory ran out (logged) (cluster.c).
 */
struct cluster_stream_entry *cluster_stream_entries_copy(
	    const struct cluster_stream_entry *v, size_t n);

#endif
