/* hub.h -- broadcast groups: encode once, share by reference. */
#ifndef WSD_HUB_H
#define WSD_HUB_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

struct conn;
struct pmd;
struct hub;
struct hub_frame;

/* What happens to a member whose pending output is over the limit. */
enum hub_policy {
	HUB_SLOW_CLOSE = 0,	/* close 1008 (default) */
	HUB_SLOW_DROP,		/* skip the message for that member */
	HUB_SLOW_CONFLATE,	/* keep only the newest unsent per key */
};

/* Conflation keys per hub: a counter has two (users, value). */
#define HUB_KEYS	4

/* A connection's membership; lives inside the connection. */
struct hub_member {
	TAILQ_ENTRY(hub_member)	 entry;
	struct hub		*hub;		/* NULL: not a member */
	struct conn		*conn;
	/* Conflated backlog: HUB_KEYS frames, allocated while there is one. */
	struct hub_frame	**pending;
	/* The group's last message when it joined: it gets the later ones. */
	uint64_t		 joined;
};

/* Counters of what a hub did; never reset. */
struct hub_stats {
	_Atomic uint64_t published;	/* hub_publish() calls */
	_Atomic uint64_t delivered;	/* frames queued to members */
	_Atomic uint64_t dropped;	/* skipped by the drop policy */
	_Atomic uint64_t conflated;	/* replaced unsent by a newer one */
	_Atomic uint64_t slow_closed;	/* closed by the close policy */
};

/*
 * How a hub reaches its members: the core's output queue, given once by
 * the core (hub_set_io(), session.c's conn_hub_io), so that the hub needs
 * no connection code. Each takes the member's connection.
 */
struct hub_io {
	/* 1 while c is a WebSocket or SSE stream that may be sent to. */
	int		(*open)(const struct conn *c);
	/* 1: c takes a message's Server-Sent Events form. */
	int		(*sse)(const struct conn *c);
	/* c's permessage-deflate state; NULL when not negotiated. */
	struct pmd	*(*pmd)(const struct conn *c);
	/* Bytes waiting in c's output. */
	size_t		(*pending)(const struct conn *c);
	/*
	 * Queues an encoded frame by reference; cleanup(frame, len, arg)
	 * runs once the output is done with it. -1 (no cleanup) when c is
	 * not open.
	 */
	int		(*send_shared)(struct conn *c, const void *frame,
			    size_t len, size_t payload_len,
			    void (*cleanup)(const void *, size_t, void *),
			    void *arg);
	/* Encodes (and compresses with c's own context) one message. */
	int		(*queue)(struct conn *c, int opcode, const void *data,
			    size_t len);
	/* Calls hub_member_drained() once c's output is at most low. */
	void		(*watch_drain)(struct conn *c, size_t low);
	/* Fails c: close frame with code, then the connection. */
	void		(*fail)(struct conn *c, unsigned code,
			    const char *reason);
	/* c's peer, for log lines. */
	const char	*(*peer)(const struct conn *c);
};

/*
 * How hubs reach other nodes (cluster.c), given once before the first
 * hub_new() when wsd runs in a cluster: attach and detach tell it which
 * hubs exist by name, publish takes every message hub_publish() (not
 * hub_inject()) sends, to pass it on to the other nodes.
 */
struct hub_bridge {
	void		(*attach)(struct hub *h, const char *name);
	void		(*detach)(struct hub *h, const char *name);
	void		(*publish)(const char *name, int opcode,
			    const void *data, size_t len, const void *sse,
			    size_t sse_len, unsigned key);
};

/* Sets the member interface; once, before the first hub_join(). */
void		 hub_set_io(const struct hub_io *io);
/* Sets the bridge to other nodes (NULL: none). */
void		 hub_set_bridge(const struct hub_bridge *b);
/* A hub for one route; limit is its max_send_buffer. */
struct hub	*hub_new(const char *name, size_t limit, enum hub_policy policy);
/* New limit and policy (a reload); they apply from the next publish. */
void		 hub_set_limit(struct hub *h, size_t limit,
		    enum hub_policy policy);
/* Frees the hub; members must have left. */
void		 hub_free(struct hub *h);
/* Adds c (O(1)); m is c's membership record. */
void		 hub_join(struct hub *h, struct hub_member *m, struct conn *c);
/* Removes a member (O(1)) and drops its backlog; no-op if not a member. */
void		 hub_leave(struct hub_member *m);
/*
 * Sends one message to every member but except (may be NULL): the frame is
 * encoded once and shared by reference; key (< HUB_KEYS) is the conflation
 * key. Members that are closing are skipped.
 */
void		 hub_publish(struct hub *h, int opcode, const void *data,
		    size_t len, unsigned key, struct conn *except);
/*
 * hub_publish() with the message's Server-Sent Events form (sse, NULL:
 * none), shared by reference with the members that are SSE streams the
 * way the frame is with WebSockets; SSE members get nothing of a
 * message without one.
 */
void		 hub_publish_sse(struct hub *h, int opcode, const void *data,
		    size_t len, const void *sse, size_t sse_len, unsigned key,
		    struct conn *except);
/*
 * hub_publish_sse() for this node's members only: a message that came
 * from another node, or one that goes to the others another way.
 */
void		 hub_inject(struct hub *h, int opcode, const void *data,
		    size_t len, const void *sse, size_t sse_len, unsigned key);
/*
 * Passes a message to the other nodes only, for a hub this node does
 * not have (a channel nobody here listens to); no-op without a bridge.
 */
void		 hub_publish_remote(const char *name, int opcode,
		    const void *data, size_t len, const void *sse,
		    size_t sse_len, unsigned key);
/* 1 when a bridge to other nodes is set. */
int		 hub_bridged(void);
/* The hub's name (its route path, or route path and channel). */
const char	*hub_name(const struct hub *h);
/* The member's output drained below half the limit: send its backlog. */
void		 hub_member_drained(struct hub_member *m);
unsigned	 hub_size(const struct hub *h);
/* Calls fn(conn, arg) for every member; fn must not make any leave. */
void		 hub_each(struct hub *h, void (*fn)(struct conn *, void *),
		    void *arg);
const struct hub_stats *hub_stats(const struct hub *h);
/*
 * Workers: hubs of one route (or one channel) on every worker form a
 * group, named by key. hub_link() files h as its worker's hub of the
 * group (a hub of each worker at most). A publish on any worker then
 * reaches the members of every worker's hub exactly once, in the same
 * order everywhere: the frame is made once and handed to each worker by
 * reference (worker_post), the publishing worker's own members included.
 * A member gets the messages published after it joined. Without
 * hub_link() (one worker) a hub delivers at once, as before.
 * -1 when out of memory.
 */
int		 hub_link(struct hub *h, const char *key);
/* Members of the hub's whole group (hub_size() without one). */
unsigned	 hub_total(struct hub *h);
/*
 * State of an app shared by the group's workers: size zeroed bytes, made
 * by the first caller and freed with the group (the hub's own without a
 * group). Read and change it only between hub_lock() and hub_unlock(),
 * which also keep every publish to the group out (the lock is
 * recursive: publish while holding it). NULL when out of memory.
 */
void		*hub_shared(struct hub *h, size_t size);
/*
 * fn(shared) runs when the shared state goes (with the group, or the
 * hub without one), before its block is freed: for what it points to.
 * Set it under hub_lock().
 */
void		 hub_shared_fini(struct hub *h, void (*fn)(void *));
void		 hub_lock(struct hub *h);
void		 hub_unlock(struct hub *h);
/*
 * Runs fn(hub, arg) on every worker with a hub of h's group (at once on
 * this one), e.g. to close every subscriber of a channel; arg is freed
 * with free() once every worker has run it.
 */
void		 hub_group_each(struct hub *h, void (*fn)(struct hub *, void *),
		    void *arg);
/*
 * Runs fn(hub, arg) on that worker's hub of h's group, later (at once
 * when it is this worker's, or without a group); not at all when that
 * worker has none (or stops first). arg is freed with free() after.
 */
void		 hub_group_call(struct hub *h, unsigned worker,
		    void (*fn)(struct hub *, void *), void *arg);
/* "close", "drop", "conflate" -> enum; -1 when unknown. */
int		 hub_policy_parse(const char *s);

#endif
