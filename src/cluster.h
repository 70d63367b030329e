/* cluster.h -- many nodes: hubs and app state shared through Redis. */
#ifndef WSD_CLUSTER_H
#define WSD_CLUSTER_H

struct event_base;
struct evbuffer;
struct wsd_cluster;
struct cluster_counter;
struct cluster_lease;

/*
 * Starts the link to Redis on base from the [cluster] settings (read
 * once: a reload keeps them) and becomes the hubs' bridge, so that
 * every hub_publish() reaches the other nodes; before the first hub is
 * created. The link connects in the background: a node whose Redis is
 * away serves its own clients. -1 when the settings cannot be used
 * (the password file); it was logged.
 */
int	 cluster_start(struct event_base *base, const struct wsd_cluster *conf);
/* Closes the link; after the last hub is freed. No-op when not started. */
void	 cluster_stop(void);
/* Appends the wsd_cluster_* metrics; nothing when not started. */
void	 cluster_metrics(struct evbuffer *out);
/* 1 when this node is in a cluster; from any worker. */
int	 cluster_active(void);
/* 1 while the links to Redis are up; from any worker. */
int	 cluster_linked(void);

/*
 * Workers: the link is worker 0's. A hub publish on another worker is
 * handed to it (each worker's order kept), and so are the channel
 * stream calls below; the counters, sinks and leases are worker 0's
 * own: on the others their constructors return NULL, and apps hand
 * worker 0 their calls (hub_group_call()).
 */

/*
 * A counter whose value and users total live in Redis (apps/counter.c);
 * NULL when wsd runs alone. Every node's counter of that name hears each
 * new value through value_cb and each new users total through users_cb,
 * in the order Redis applied them, its own changes included.
 */
struct cluster_counter *cluster_counter_new(const char *name,
	    void (*value_cb)(void *, long long),
	    void (*users_cb)(void *, long long), void *arg);
void	 cluster_counter_free(struct cluster_counter *cc);
/*
 * Adds delta in Redis: 0, and the new value comes through value_cb; -1
 * while Redis is away: the caller keeps a local value, and the delta is
 * added once the link is back.
 */
int	 cluster_counter_add(struct cluster_counter *cc, long long delta);
/*
 * This node has local users now: 0, and the new total comes through
 * users_cb; -1 while Redis is away (the caller counts its own).
 */
int	 cluster_counter_users(struct cluster_counter *cc, unsigned local);
/* 1 while the value and users total come from Redis. */
int	 cluster_counter_shared(const struct cluster_counter *cc);

/*
 * Messages other nodes publish to hubs whose name starts with prefix (a
 * channels route's path) go to cb instead of this node's hubs: name is
 * the rest (the channel), sse the Server-Sent Events form or NULL. NULL
 * when alone.
 */
struct cluster_sink;
struct cluster_sink *cluster_sink_new(const char *prefix,
	    void (*cb)(void *arg, const char *name, size_t name_len,
	    int opcode, const void *data, size_t len, const void *sse,
	    size_t sse_len), void *arg);
void	 cluster_sink_free(struct cluster_sink *s);

/*
 * Channel history in Redis Streams (apps/channels.c). A channel's
 * messages are appended to the stream PREFIXstream:NAME (NAME is the
 * route's path and the channel) and published to every node, this one
 * included, with the id XADD gave them, by one script: every node sees
 * them in the stream's order. Any worker may call them (another
 * worker's calls are handed to worker 0, which owns the link, and the
 * answers back: cluster_hop.c): every callback runs later on the loop
 * that made the call, never from inside it; the calls return -1 (and
 * the callback never runs) while Redis is away. kind is a byte the
 * cluster carries and does not read. The sink's stream_cb is worker
 * 0's, like the sink.
 */

/*
 * A channel's stream entry, from any node (ours included): id the
 * stream id; or, with id NULL, another node deleted the channel.
 */
typedef void (*cluster_stream_cb)(void *arg, const char *name,
    size_t name_len, const char *id, int kind, const void *data,
    size_t len);
/* The sink's messages of channel streams go to cb (its arg). */
void	 cluster_sink_streams(struct cluster_sink *s, cluster_stream_cb cb);

/*
 * Appends a message to name's stream, trimmed to about maxlen entries
 * and, ttl > 0, to the last ttl seconds (the key expires then too), and
 * publishes it to every node. cb gets the stream id and the channel's
 * subscribers on every node (cluster_subs_set()), or NULL and -1 when
 * Redis failed to answer in time or refused (the message may or may not
 * have gone out).
 */
int	 cluster_stream_add(const char *name, unsigned maxlen, double ttl,
	    int kind, const void *data, size_t len,
	    void (*cb)(void *arg, const char *id, long long subscribers),
	    void *arg);
/*
 * What Redis knows of channel name: cb gets its subscribers on every
 * node, its stream's length and last id (NULL: empty), or -1, -1, NULL
 * when Redis failed.
 */
int	 cluster_stream_info(const char *name, void (*cb)(void *arg,
	    long long subscribers, long long length, const char *last_id),
	    void *arg);
/*
 * This node has n subscribers of channel name now: Redis holds every
 * node's count (renewed like the counter's users, gone within
 * users_ttl of a node's death) for the sums above. Any time, also while
 * Redis is away (sent when it is back). With workers, n is the node's
 * count and the calls are made under one lock: Redis hears them in
 * that order.
 */
void	 cluster_subs_set(const char *name, unsigned n);

/* One entry of a stream read back. */
struct cluster_stream_entry {
	const char	*id;
	int		 kind;
	const void	*data;
	size_t		 len;
};
/*
 * Reads name's entries from id since (inclusive) on, at most count, the
 * newest first. cb gets them (ok 1), or ok 0 when Redis failed or
 * refused (since not a stream id, say).
 */
int	 cluster_stream_range(const char *name, const char *since,
	    unsigned count, void (*cb)(void *arg,
	    const struct cluster_stream_entry *v, size_t n, int ok),
	    void *arg);
/* Deletes name's stream and tells the other nodes the channel went. */
int	 cluster_stream_delete(const char *name);

/* Who ticks a fixed-rate publisher (broadcast). */
enum cluster_role {
	CLUSTER_SOLO,		/* alone, or Redis away: tick for our clients */
	CLUSTER_LEADER,		/* we hold the lease: tick for every node */
	CLUSTER_FOLLOWER,	/* another node ticks */
};
/* A lease of that name, renewed in the background; NULL when alone. */
struct cluster_lease *cluster_lease_new(const char *name);
void	 cluster_lease_free(struct cluster_lease *l);
/* The role now; CLUSTER_SOLO for NULL. */
enum cluster_role cluster_lease_role(const struct cluster_lease *l);

#endif
