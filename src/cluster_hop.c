/*
 * cluster_hop.c -- the cluster calls of workers other than 0: hub
 * publishes and channel stream calls.
 *
 * The link to Redis is worker 0's. Another worker's call is copied and
 * handed to worker 0 (worker_post_call(): each worker's calls keep their
 * order), which makes it; a stream call's answer is copied and handed back,
 * and the caller's callback runs on the caller's loop, as worker 0's
 * own callbacks do. A call whose worker stopped before it ran (at the
 * end) gets a failure from worker_teardown() instead, so that whatever
 * its callback holds is freed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "cluster_env.h"
#include "cluster_hop.h"
#include "log.h"
#include "worker.h"

enum cluster_hop_op {
	HOP_PUBLISH,
	HOP_ADD,
	HOP_RANGE,
	HOP_INFO,
	HOP_DELETE,
	HOP_SUBS,
};

/* A call on its way to worker 0, then its answer on its way back. */
struct cluster_hop {
	struct worker_call	 call;		/* its place in a queue */
	enum cluster_hop_op	 op;
	unsigned		 from;		/* the caller's worker */
	void	(*add_cb)(void *, const char *, long long);
	void	(*info_cb)(void *, long long, long long, const char *);
	void	(*range_cb)(void *, const struct cluster_stream_entry *,
		    size_t, int);
	void			*arg;
	unsigned		 u;		/* maxlen, count, subs, key */
	double			 ttl;
	int			 kind;		/* add; publish: opcode */
	/* The answer: a failure until worker 0 sets it. */
	int			 ok;
	long long		 subs;
	long long		 length;
	char			 id[CLUSTER_ENV_SID_MAX]; /* add, info: "" none */
	struct cluster_stream_entry *v;		/* range: one block */
	size_t			 nv;
	size_t			 len;
	char			*name;
	uint8_t			*more;		/* range: since; publish: SSE */
	size_t			 more_len;
	uint8_t			 data[];	/* data, name, more */
};

/*
 * A call of op for name, with data and more bytes (a C string with its
 * NUL, or an SSE form) if any; NULL: no memory.
 */
static struct cluster_hop *
cluster_hop_new(enum cluster_hop_op op, const char *name, const void *data,
    size_t len, const void *more, size_t more_len)
{
	struct cluster_hop	*h;
	size_t			 nlen = strlen(name) + 1;

	if ((h = calloc(1, sizeof(*h) + len + nlen + more_len)) == NULL) {
		log_warn("cluster: %s: call to worker 0", name);
		return NULL;
	}
	h->op = op;
	h->from = worker_self();
	h->len = len;
	if (len > 0)
		memcpy(h->data, data, len);
	h->name = (char *)h->data + len;
	memcpy(h->name, name, nlen);
	if (more != NULL) {
		h->more = (uint8_t *)h->name + nlen;
		h->more_len = more_len;
		memcpy(h->more, more, more_len);
	}
	return h;
}

/* Frees a call and its answer. */
static void
cluster_hop_free(struct cluster_hop *h)
{
	free(h->v);
	free(h);
}

/*
 * The caller's loop: its callback gets the answer. Also a call dropped
 * at the end (either way), from the main thread: a failure then, or an
 * answer nobody waits for (the caller's route and connections are gone).
 */
static void
cluster_hop_answer(void *arg)
{
	struct cluster_hop	*h = arg;

	switch (h->op) {
	case HOP_ADD:
		h->add_cb(h->arg, h->ok ? h->id : NULL, h->ok ? h->subs : -1);
		break;
	case HOP_RANGE:
		h->range_cb(h->arg, h->ok ? h->v : NULL, h->ok ? h->nv : 0,
		    h->ok);
		break;
	case HOP_INFO:
		if (h->ok)
			h->info_cb(h->arg, h->subs, h->length,
			    h->id[0] != '\0' ? h->id : NULL);
		else
			h->info_cb(h->arg, -1, -1, NULL);
		break;
	case HOP_PUBLISH:
	case HOP_DELETE:
	case HOP_SUBS:
		break;
	}
	cluster_hop_free(h);
}

/*
 * Worker 0: the answer goes back to the caller's loop, in the call's
 * own place, so that nothing can keep it from arriving.
 */
static void
cluster_hop_back(struct cluster_hop *h)
{
	worker_post_call(h->from, &h->call, cluster_hop_answer,
	    cluster_hop_answer, h);
}

/* XADD answered (id NULL: failed). */
static void
cluster_hop_added_cb(void *arg, const char *id, long long subs)
{
	struct cluster_hop	*h = arg;

	if ((h->ok = id != NULL)) {
		snprintf(h->id, sizeof(h->id), "%s", id);
		h->subs = subs;
	}
	cluster_hop_back(h);
}

/* XREVRANGE answered: the entries copied into one block. */
static void
cluster_hop_ranged_cb(void *arg, const struct cluster_stream_entry *v,
    size_t n, int ok)
{
	struct cluster_hop	*h = arg;

	if (ok && (h->v = cluster_stream_entries_copy(v, n)) == NULL && n > 0)
		ok = 0;
	h->ok = ok;
	h->nv = ok ? n : 0;
	cluster_hop_back(h);
}

/* The channel's info answered (subs -1: failed). */
static void
cluster_hop_info_cb(void *arg, long long subs, long long length,
    const char *last)
{
	struct cluster_hop	*h = arg;

	if ((h->ok = subs >= 0)) {
		h->subs = subs;
		h->length = length;
		if (last != NULL)
			snprintf(h->id, sizeof(h->id), "%s", last);
	}
	cluster_hop_back(h);
}

/* Worker 0 makes a call; a failure to make it is the answer. */
static void
cluster_hop_run(void *arg)
{
	struct cluster_hop	*h = arg;

	switch (h->op) {
	case HOP_PUBLISH:
		cluster_hub_publish(h->name, h->kind, h->data, h->len, h->more,
		    h->more_len, h->u);
		cluster_hop_free(h);
		break;
	case HOP_ADD:
		if (cluster_stream_add(h->name, h->u, h->ttl, h->kind, h->data,
		    h->len, cluster_hop_added_cb, h) == -1)
			cluster_hop_back(h);
		break;
	case HOP_RANGE:
		if (cluster_stream_range(h->name, (const char *)h->more, h->u,
		    cluster_hop_ranged_cb, h) == -1)
			cluster_hop_back(h);
		break;
	case HOP_INFO:
		if (cluster_stream_info(h->name, cluster_hop_info_cb, h) == -1)
			cluster_hop_back(h);
		break;
	case HOP_DELETE:
		(void)cluster_stream_delete(h->name);
		cluster_hop_free(h);
		break;
	case HOP_SUBS:
		cluster_subs_apply(h->name, h->u);
		cluster_hop_free(h);
		break;
	}
}

/* Hands a call to worker 0. */
static void
cluster_hop_send(struct cluster_hop *h)
{
	worker_post_call(0, &h->call, cluster_hop_run, cluster_hop_answer, h);
}

/* A hub publish of another worker. */
void
cluster_hop_publish(const char *name, int opcode, const void *data,
    size_t len, const void *sse, size_t sse_len, unsigned key)
{
	struct cluster_hop	*h;

	if ((h = cluster_hop_new(HOP_PUBLISH, name, data, len, sse,
	    sse != NULL ? sse_len : 0)) == NULL)
		return;
	h->kind = opcode;
	h->u = key;
	cluster_hop_send(h);
}

/* cluster_stream_add() of another worker. */
int
cluster_hop_add(const char *name, unsigned maxlen, double ttl, int kind,
    const void *data, size_t len, void (*cb)(void *, const char *, long long),
    void *arg)
{
	struct cluster_hop	*h;

	if (!cluster_linked() ||
	    (h = cluster_hop_new(HOP_ADD, name, data, len, NULL, 0)) == NULL)
		return -1;
	h->u = maxlen;
	h->ttl = ttl;
	h->kind = kind;
	h->add_cb = cb;
	h->arg = arg;
	cluster_hop_send(h);
	return 0;
}

/* cluster_stream_range() of another worker. */
int
cluster_hop_range(const char *name, const char *since, unsigned count,
    void (*cb)(void *, const struct cluster_stream_entry *, size_t, int),
    void *arg)
{
	struct cluster_hop	*h;

	if (!cluster_linked() ||
	    (h = cluster_hop_new(HOP_RANGE, name, NULL, 0, since,
	    strlen(since) + 1)) == NULL)
		return -1;
	h->u = count;
	h->range_cb = cb;
	h->arg = arg;
	cluster_hop_send(h);
	return 0;
}

/* cluster_stream_info() of another worker. */
int
cluster_hop_info(const char *name, void (*cb)(void *, long long, long long,
    const char *), void *arg)
{
	struct cluster_hop	*h;

	if (!cluster_linked() ||
	    (h = cluster_hop_new(HOP_INFO, name, NULL, 0, NULL, 0)) == NULL)
		return -1;
	h->info_cb = cb;
	h->arg = arg;
	cluster_hop_send(h);
	return 0;
}

/* cluster_stream_delete() of another worker. */
int
cluster_hop_delete(const char *name)
{
	struct cluster_hop	*h;

	if (!cluster_linked() ||
	    (h = cluster_hop_new(HOP_DELETE, name, NULL, 0, NULL, 0)) == NULL)
		return -1;
	cluster_hop_send(h);
	return 0;
}

/* cluster_subs_set() with workers: through worker 0's queue, in order. */
void
cluster_hop_subs(const char *name, unsigned n)
{
	struct cluster_hop	*h;

	if ((h = cluster_hop_new(HOP_SUBS, name, NULL, 0, NULL, 0)) == NULL)
		return;
	h->u = n;
	cluster_hop_send(h);
}
