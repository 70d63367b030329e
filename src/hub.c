/* hub.c -- broadcast groups: one encoded frame shared by every member. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "hub.h"
#include "log.h"
#include "pmd.h"
#include "worker.h"
#include "ws.h"

/* Compressed variants of a message: by server_max_window_bits 8..15. */
#define HUB_ZVARIANTS	8

/*
 * One encoded server frame (header + payload). Server frames are unmasked,
 * so the bytes are the same for every member: each member's output holds a
 * reference, and the last one to write it frees it.
 *
 * permessage-deflate (RFC 7692): the plain frame is the message. Members
 * without context takeover on our side (every member of a route with
 * compression = shared) get a compressed variant made once per window
 * size and shared like the plain one (same parameters from a reset
 * stream: the same bytes); it hangs off the plain frame. Members with
 * context takeover get their own compressed copy, made when the frame is
 * actually delivered, so that a dropped or conflated message never enters
 * their compression context.
 */
struct hub_frame {
	unsigned	 refs;		/* atomic: workers share frames */
	uint64_t	 seq;		/* publish order, for backlogs */
	size_t		 off;		/* where the frame starts in data */
	size_t		 len;		/* header + payload */
	size_t		 hlen;		/* header */
	size_t		 payload_len;	/* of the message, uncompressed */
	struct hub_frame *z[HUB_ZVARIANTS]; /* shared compressed variants */
	struct hub_frame *sse;		/* the Server-Sent Events form */
	uint8_t		 data[];
};

TAILQ_HEAD(hub_members, hub_member);

/*
 * The hubs of one route on every worker. mu orders the group: a publish
 * takes its seq and queues the frame for every worker under it, and
 * members join and leave under it, so every worker sees one order.
 */
struct hub_group {
	struct hub_group	*next;		/* hub_groups */
	char			*key;
	unsigned		 refs;		/* under hub_groups_mu */
	pthread_mutex_t		 mu;		/* recursive */
	uint64_t		 seq;
	struct hub		*hubs[WORKER_MAX];
	void			*shared;	/* hub_shared() */
	void			(*fini)(void *); /* hub_shared_fini() */
};

/* One message on its way to one worker's hub. */
struct hub_post {
	struct hub_group	*g;
	struct hub_frame	*f;
	unsigned		 key;
	unsigned		 worker;
	struct conn		*except;
};

static pthread_mutex_t	 hub_groups_mu = PTHREAD_MUTEX_INITIALIZER;
static struct hub_group	*hub_groups;

static void	hub_group_unref(struct hub_group *);

struct hub {
	struct hub_members	 members;
	unsigned		 n;
	size_t			 limit;
	enum hub_policy		 policy;
	uint64_t		 seq;
	struct hub_stats	 stats;
	/* No-context compressors: pooled, so no zlib memory of their own. */
	struct pmd		*zs[HUB_ZVARIANTS];
	char			*name;
	struct hub_group	*g;		/* NULL: this worker only */
	unsigned		 worker;	/* its slot in g */
	void			*shared;	/* hub_shared() without g */
	void			(*fini)(void *); /* hub_shared_fini() */
};

static const char *const hub_policy_names[] = { "close", "drop", "conflate" };

/* The members' connections, as the core reaches them. */
static const struct hub_io *hub_io;
/* The other nodes; NULL: this node runs alone. */
static const struct hub_bridge *hub_bridge;

/* Sets the member interface. */
void
hub_set_io(const struct hub_io *io)
{
	hub_io = io;
}

/* Sets the bridge to other nodes. */
void
hub_set_bridge(const struct hub_bridge *b)
{
	hub_bridge = b;
}

/* Parses a slow_client value. */
int
hub_policy_parse(const char *s)
{
	size_t	i;

	for (i = 0; i < sizeof(hub_policy_names) / sizeof(hub_policy_names[0]);
	    i++)
		if (strcmp(s, hub_policy_names[i]) == 0)
			return (int)i;
	return -1;
}

/* Creates an empty hub. */
struct hub *
hub_new(const char *name, size_t limit, enum hub_policy policy)
{
	struct hub	*h;

	if ((h = calloc(1, sizeof(*h))) == NULL)
		return NULL;
	if ((h->name = strdup(name)) == NULL) {
		free(h);
		return NULL;
	}
	TAILQ_INIT(&h->members);
	h->limit = limit;
	h->policy = policy;
	if (hub_bridge != NULL)
		hub_bridge->attach(h, h->name);
	return h;
}

/* A reload changed the route's limit or policy: members keep their place. */
void
hub_set_limit(struct hub *h, size_t limit, enum hub_policy policy)
{
	h->limit = limit;
	h->policy = policy;
}

/* Frees a hub whose members have all left. */
void
hub_free(struct hub *h)
{
	if (h == NULL)
		return;
	size_t	i;

	if (h->n != 0)
		log_warnx("hub %s: freed with %u members", h->name, h->n);
	if (h->g != NULL) {
		pthread_mutex_lock(&h->g->mu);
		if (h->g->hubs[h->worker] == h)
			h->g->hubs[h->worker] = NULL;
		pthread_mutex_unlock(&h->g->mu);
		hub_group_unref(h->g);
	}
	if (h->shared != NULL && h->fini != NULL)
		h->fini(h->shared);
	free(h->shared);
	if (hub_bridge != NULL)
		hub_bridge->detach(h, h->name);
	for (i = 0; i < HUB_ZVARIANTS; i++)
		pmd_free(h->zs[i]);
	free(h->name);
	free(h);
}

/* Drops one reference to a frame. */
static void
hub_frame_unref(struct hub_frame *f)
{
	size_t	i;

	if (__atomic_sub_fetch(&f->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	for (i = 0; i < HUB_ZVARIANTS; i++)
		if (f->z[i] != NULL)
			hub_frame_unref(f->z[i]);
	if (f->sse != NULL)
		hub_frame_unref(f->sse);
	free(f);
}

/* evbuffer cleanup: a member's output is done with the frame. */
static void
hub_frame_cleanup_cb(const void *data, size_t len, void *arg)
{
	(void)data;
	(void)len;
	hub_frame_unref(arg);
}

/* Adds a member. */
void
hub_join(struct hub *h, struct hub_member *m, struct conn *c)
{
	if (m->hub != NULL)
		return;
	m->pending = NULL;
	m->hub = h;
	m->conn = c;
	hub_lock(h);
	m->joined = h->g != NULL ? h->g->seq : h->seq;
	TAILQ_INSERT_TAIL(&h->members, m, entry);
	h->n++;
	hub_unlock(h);
}

/* Releases a member's backlog. */
static void
hub_backlog_free(struct hub_member *m)
{
	size_t	i;

	if (m->pending == NULL)
		return;
	for (i = 0; i < HUB_KEYS; i++)
		if (m->pending[i] != NULL)
			hub_frame_unref(m->pending[i]);
	free(m->pending);
	m->pending = NULL;
}

/* Removes a member and releases its backlog. */
void
hub_leave(struct hub_member *m)
{
	struct hub	*h = m->hub;

	if (h == NULL)
		return;
	hub_backlog_free(m);
	hub_lock(h);
	TAILQ_REMOVE(&h->members, m, entry);
	h->n--;
	hub_unlock(h);
	m->hub = NULL;
}

/*
 * A new frame of room payload bytes, with refs 1; the header is written
 * once the payload is in (hub_frame_finish).
 */
static struct hub_frame *
hub_frame_new(size_t room)
{
	struct hub_frame	*f;

	if ((f = malloc(sizeof(*f) + 10 + room)) == NULL)
		return NULL;
	memset(f, 0, sizeof(*f));
	f->refs = 1;
	return f;
}

/* Writes the header right in front of the len payload bytes at data+10. */
static void
hub_frame_finish(struct hub_frame *f, int opcode, int rsv1, size_t len)
{
	uint8_t	hdr[10];

	f->hlen = ws_frame_header_encode(hdr, 1, opcode, len);
	if (rsv1)
		hdr[0] |= 0x40;
	f->off = sizeof(hdr) - f->hlen;
	memcpy(f->data + f->off, hdr, f->hlen);
	f->len = f->hlen + len;
}

/* Compresses the message of plain frame f with z: a new frame, refs 1. */
static struct hub_frame *
hub_frame_deflate(struct pmd *z, const struct hub_frame *f)
{
	struct hub_frame	*zf;
	size_t			 plen = f->len - f->hlen, zlen;

	if ((zf = hub_frame_new(pmd_deflate_bound(plen))) == NULL)
		return NULL;
	if (pmd_deflate(z, f->data + f->off + f->hlen, plen, zf->data + 10,
	    pmd_deflate_bound(plen), &zlen) != PMD_OK) {
		free(zf);
		return NULL;
	}
	zf->seq = f->seq;
	zf->payload_len = f->payload_len;
	hub_frame_finish(zf, f->data[f->off] & 0x0f, 1, zlen);
	return zf;
}

/* The shared variant of f compressed from a reset stream with wbits. */
static struct hub_frame *
hub_frame_shared_z(struct hub *h, struct hub_frame *f, int wbits)
{
	struct pmd_params	p;
	size_t			i = (size_t)wbits % HUB_ZVARIANTS;

	struct hub_frame	*zf, *none = NULL;

	if ((zf = __atomic_load_n(&f->z[i], __ATOMIC_ACQUIRE)) != NULL)
		return zf;
	if (h->zs[i] == NULL) {
		memset(&p, 0, sizeof(p));
		p.server_no_context_takeover = 1;
		p.server_max_window_bits = wbits;
		p.client_max_window_bits = 15;
		if ((h->zs[i] = pmd_new(&p, 1)) == NULL)
			return NULL;
	}
	if ((zf = hub_frame_deflate(h->zs[i], f)) == NULL)
		return NULL;
	/* Another worker may have made it meanwhile: the same bytes. */
	if (!__atomic_compare_exchange_n(&f->z[i], &none, zf, 0,
	    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		hub_frame_unref(zf);
		return none;
	}
	return zf;
}

/* Hands one reference of f to a member's output. */
static void
hub_send(struct hub *h, struct hub_member *m, struct hub_frame *f)
{
	__atomic_add_fetch(&f->refs, 1, __ATOMIC_RELAXED);
	if (hub_io->send_shared(m->conn, f->data + f->off, f->len, f->payload_len,
	    hub_frame_cleanup_cb, f) == -1) {
		hub_frame_unref(f);
		return;
	}
	h->stats.delivered++;
}

/* Delivers message f to a member in the form it negotiated. */
static void
hub_deliver(struct hub *h, struct hub_member *m, struct hub_frame *f)
{
	struct pmd		*z = hub_io->pmd(m->conn);
	const struct pmd_params	*p;
	struct hub_frame	*zf;

	/* An SSE stream gets the event form, when the message has one. */
	if (hub_io->sse(m->conn)) {
		if (f->sse != NULL)
			hub_send(h, m, f->sse);
		return;
	}
	if (z == NULL) {
		hub_send(h, m, f);
		return;
	}
	p = pmd_params(z);
	if (p->server_no_context_takeover) {
		/* Compressed once for every member with this window. */
		if ((zf = hub_frame_shared_z(h, f,
		    p->server_max_window_bits)) != NULL)
			hub_send(h, m, zf);
		else
			hub_io->fail(m->conn, WS_CLOSE_INTERNAL,
			    "compression failed");
		return;
	}
	/* Context takeover: compressed with this member's own stream,
	 * straight into its output. */
	if (hub_io->queue(m->conn, f->data[f->off] & 0x0f,
	    f->data + f->off + f->hlen, f->len - f->hlen) == 0)
		h->stats.delivered++;
}

/* Whether a member has a conflated backlog. */
static int
hub_member_backlog(const struct hub_member *m)
{
	size_t	i;

	if (m->pending == NULL)
		return 0;
	for (i = 0; i < HUB_KEYS; i++)
		if (m->pending[i] != NULL)
			return 1;
	return 0;
}

/*
 * Keeps f as the member's newest unsent message for key; without memory
 * for the backlog, f is dropped like under the drop policy.
 */
static void
hub_conflate(struct hub *h, struct hub_member *m, struct hub_frame *f,
    unsigned key)
{
	if (m->pending == NULL && (m->pending = calloc(HUB_KEYS,
	    sizeof(*m->pending))) == NULL) {
		h->stats.dropped++;
		return;
	}
	if (m->pending[key] != NULL) {
		hub_frame_unref(m->pending[key]);
		h->stats.conflated++;
	}
	__atomic_add_fetch(&f->refs, 1, __ATOMIC_RELAXED);
	m->pending[key] = f;
	hub_io->watch_drain(m->conn, h->limit / 2);
}

/* Applies the slow-client policy to a member over the limit. */
static void
hub_slow(struct hub *h, struct hub_member *m, struct hub_frame *f,
    unsigned key)
{
	switch (h->policy) {
	case HUB_SLOW_CLOSE:
		h->stats.slow_closed++;
		log_info("%s: hub %s: slow client, %zu bytes pending: closing",
		    hub_io->peer(m->conn), h->name,
		    hub_io->pending(m->conn));
		hub_io->fail(m->conn, WS_CLOSE_POLICY, "slow client");
		break;
	case HUB_SLOW_DROP:
		h->stats.dropped++;
		break;
	case HUB_SLOW_CONFLATE:
		hub_conflate(h, m, f, key);
		break;
	}
}

/* Encodes once, then shares the frame with every open member. */
void
hub_publish(struct hub *h, int opcode, const void *data, size_t len,
    unsigned key, struct conn *except)
{
	hub_publish_sse(h, opcode, data, len, NULL, 0, key, except);
}

/* The SSE form of a message: the bytes as they are, shared like a frame. */
static struct hub_frame *
hub_frame_sse(const void *sse, size_t len)
{
	struct hub_frame	*f;

	if ((f = hub_frame_new(len)) == NULL)
		return NULL;
	f->off = 10;
	f->len = f->payload_len = len;
	memcpy(f->data + 10, sse, len);
	return f;
}

/* Hands frame f to every open member joined before it (but except). */
static void
hub_deliver_all(struct hub *h, struct hub_frame *f, unsigned key,
    struct conn *except)
{
	struct hub_member	*m;

	TAILQ_FOREACH(m, &h->members, entry) {
		if (m->conn == except || m->joined >= f->seq ||
		    !hub_io->open(m->conn))
			continue;
		/* Behind a backlog, new messages queue too: order holds. */
		if (hub_member_backlog(m))
			hub_conflate(h, m, f, key);
		else if (hub_io->pending(m->conn) > h->limit)
			hub_slow(h, m, f, key);
		else
			hub_deliver(h, m, f);
	}
}

/* Takes one more reference to a group (a call on its way to a worker). */
static void
hub_group_hold(struct hub_group *g)
{
	pthread_mutex_lock(&hub_groups_mu);
	g->refs++;
	pthread_mutex_unlock(&hub_groups_mu);
}

/* Drops one reference to a group; the last frees it. */
static void
hub_group_unref(struct hub_group *g)
{
	struct hub_group	**gp;

	pthread_mutex_lock(&hub_groups_mu);
	if (--g->refs > 0) {
		pthread_mutex_unlock(&hub_groups_mu);
		return;
	}
	for (gp = &hub_groups; *gp != g; gp = &(*gp)->next)
		;
	*gp = g->next;
	pthread_mutex_unlock(&hub_groups_mu);
	pthread_mutex_destroy(&g->mu);
	if (g->shared != NULL && g->fini != NULL)
		g->fini(g->shared);
	free(g->shared);
	free(g->key);
	free(g);
}

/* A message done with (delivered, or its worker stopped first). */
static void
hub_post_drop(void *arg)
{
	struct hub_post	*p = arg;

	hub_frame_unref(p->f);
	hub_group_unref(p->g);
	free(p);
}

/* A message a worker queued for this one: to its members. */
static void
hub_post_cb(void *arg)
{
	struct hub_post	*p = arg;
	struct hub	*h;

	/* Only this worker sets its slot: no lock to read it. */
	if ((h = p->g->hubs[p->worker]) != NULL)
		hub_deliver_all(h, p->f, p->key, p->except);
	hub_post_drop(p);
}

/*
 * Queues f for every worker whose hub of the group has members, in
 * group order (the caller holds g->mu and gave f its seq).
 */
static void
hub_group_publish(struct hub *h, struct hub_frame *f, unsigned key,
    struct conn *except)
{
	struct hub_group	*g = h->g;
	struct hub_post		*p;
	unsigned		 i, n = worker_count();

	for (i = 0; i < n; i++) {
		if (g->hubs[i] == NULL || g->hubs[i]->n == 0)
			continue;
		if ((p = malloc(sizeof(*p))) == NULL) {
			log_warn("hub %s: publish", h->name);
			continue;
		}
		p->g = g;
		p->f = f;
		p->key = key;
		p->worker = i;
		/*
		 * A live connection is a member of one worker's hub only,
		 * so except can go to all; one freed since and reused
		 * joined after f and gets it no matter what.
		 */
		p->except = except;
		hub_group_hold(g);
		__atomic_add_fetch(&f->refs, 1, __ATOMIC_RELAXED);
		if (worker_post(i, hub_post_cb, hub_post_drop, p) == -1) {
			log_warnx("hub %s: publish: out of memory", h->name);
			hub_post_drop(p);
		}
	}
}

/*
 * Makes the frame once and hands it to every member of the hub (on every
 * worker of its group) but except.
 */
static void
hub_send_all(struct hub *h, int opcode, const void *data, size_t len,
    const void *sse, size_t sse_len, unsigned key, struct conn *except)
{
	struct hub_frame	*f;

	if (key >= HUB_KEYS)
		key = HUB_KEYS - 1;
	if (h->g == NULL && h->n == 0)
		return;
	/* refs 1: ours, until the loop is done */
	if ((f = hub_frame_new(len)) == NULL) {
		log_warn("hub %s: publish", h->name);
		return;
	}
	f->payload_len = len;
	if (len > 0)
		memcpy(f->data + 10, data, len);
	hub_frame_finish(f, opcode, 0, len);
	if (sse != NULL && (f->sse = hub_frame_sse(sse, sse_len)) == NULL) {
		log_warn("hub %s: publish", h->name);
		hub_frame_unref(f);
		return;
	}
	if (h->g != NULL) {
		pthread_mutex_lock(&h->g->mu);
		f->seq = ++h->g->seq;
		hub_group_publish(h, f, key, except);
		pthread_mutex_unlock(&h->g->mu);
	} else {
		f->seq = ++h->seq;
		hub_deliver_all(h, f, key, except);
	}
	hub_frame_unref(f);
}

/*
 * hub_publish() with the message's Server-Sent Events form too: to the
 * members here, and to the other nodes through the bridge.
 */
void
hub_publish_sse(struct hub *h, int opcode, const void *data, size_t len,
    const void *sse, size_t sse_len, unsigned key, struct conn *except)
{
	h->stats.published++;
	hub_send_all(h, opcode, data, len, sse, sse_len, key, except);
	if (hub_bridge != NULL)
		hub_bridge->publish(h->name, opcode, data, len, sse, sse_len,
		    key >= HUB_KEYS ? HUB_KEYS - 1 : key);
}

/* Files h as this worker's hub of group key. */
int
hub_link(struct hub *h, const char *key)
{
	struct hub_group	*g;
	pthread_mutexattr_t	 attr;

	pthread_mutex_lock(&hub_groups_mu);
	for (g = hub_groups; g != NULL; g = g->next)
		if (strcmp(g->key, key) == 0)
			break;
	if (g == NULL) {
		if ((g = calloc(1, sizeof(*g))) == NULL ||
		    (g->key = strdup(key)) == NULL) {
			pthread_mutex_unlock(&hub_groups_mu);
			free(g);
			return -1;
		}
		pthread_mutexattr_init(&attr);
		pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
		pthread_mutex_init(&g->mu, &attr);
		pthread_mutexattr_destroy(&attr);
		g->next = hub_groups;
		hub_groups = g;
	}
	g->refs++;
	pthread_mutex_unlock(&hub_groups_mu);
	pthread_mutex_lock(&g->mu);
	h->g = g;
	h->worker = worker_self();
	if (g->hubs[h->worker] != NULL)
		log_warnx("hub %s: worker %u has two hubs of group %s",
		    h->name, h->worker, key);
	g->hubs[h->worker] = h;
	pthread_mutex_unlock(&g->mu);
	return 0;
}

/* Members on every worker. */
unsigned
hub_total(struct hub *h)
{
	unsigned	i, n = 0;

	if (h->g == NULL)
		return h->n;
	pthread_mutex_lock(&h->g->mu);
	for (i = 0; i < WORKER_MAX; i++)
		if (h->g->hubs[i] != NULL)
			n += h->g->hubs[i]->n;
	pthread_mutex_unlock(&h->g->mu);
	return n;
}

/* The group's app state. */
void *
hub_shared(struct hub *h, size_t size)
{
	void	**sp = h->g != NULL ? &h->g->shared : &h->shared;

	if (*sp == NULL)
		*sp = calloc(1, size);
	return *sp;
}

/* What frees the insides of the shared state when it goes. */
void
hub_shared_fini(struct hub *h, void (*fn)(void *))
{
	if (h->g != NULL)
		h->g->fini = fn;
	else
		h->fini = fn;
}

/* Keeps publishes and changes of the shared state out. */
void
hub_lock(struct hub *h)
{
	if (h->g != NULL)
		pthread_mutex_lock(&h->g->mu);
}

void
hub_unlock(struct hub *h)
{
	if (h->g != NULL)
		pthread_mutex_unlock(&h->g->mu);
}

/* A call of hub_group_each() on its way to one worker. */
struct hub_each_post {
	struct hub_group	*g;
	unsigned		 worker;
	void			(*fn)(struct hub *, void *);
	void			*arg;
	unsigned		*left;		/* workers still to run it */
};

/* Drops a hub_group_each() call; the last frees its argument. */
static void
hub_each_drop(void *arg)
{
	struct hub_each_post	*p = arg;

	if (__atomic_sub_fetch(p->left, 1, __ATOMIC_ACQ_REL) == 0) {
		free(p->arg);
		free(p->left);
	}
	hub_group_unref(p->g);
	free(p);
}

/* Runs a hub_group_each() call on this worker. */
static void
hub_each_cb(void *arg)
{
	struct hub_each_post	*p = arg;
	struct hub		*h;

	if ((h = p->g->hubs[p->worker]) != NULL)
		p->fn(h, p->arg);
	hub_each_drop(p);
}

/* Queues one call of fn on worker's hub of g; left counts it. */
static void
hub_each_post(struct hub_group *g, unsigned worker,
    void (*fn)(struct hub *, void *), void *arg, unsigned *left)
{
	struct hub_each_post	*p;

	if ((p = malloc(sizeof(*p))) == NULL) {
		log_warn("hub: call");
		return;
	}
	p->g = g;
	p->worker = worker;
	p->fn = fn;
	p->arg = arg;
	p->left = left;
	__atomic_add_fetch(left, 1, __ATOMIC_RELAXED);
	hub_group_hold(g);
	if (worker_post(worker, hub_each_cb, hub_each_drop, p) == -1)
		hub_each_drop(p);
}

/* Runs fn on every worker's hub of the group. */
void
hub_group_each(struct hub *h, void (*fn)(struct hub *, void *), void *arg)
{
	unsigned	*left, i, n = worker_count();

	if (h->g == NULL || (left = malloc(sizeof(*left))) == NULL) {
		fn(h, arg);
		free(arg);
		return;
	}
	*left = 1;
	pthread_mutex_lock(&h->g->mu);
	for (i = 0; i < n; i++)
		if (i != h->worker && h->g->hubs[i] != NULL)
			hub_each_post(h->g, i, fn, arg, left);
	pthread_mutex_unlock(&h->g->mu);
	fn(h, arg);
	if (__atomic_sub_fetch(left, 1, __ATOMIC_ACQ_REL) == 0) {
		free(arg);
		free(left);
	}
}

/* Runs fn on one worker's hub of the group. */
void
hub_group_call(struct hub *h, unsigned worker,
    void (*fn)(struct hub *, void *), void *arg)
{
	unsigned	*left;

	if (h->g == NULL || worker == h->worker) {
		fn(h, arg);
		free(arg);
		return;
	}
	if ((left = malloc(sizeof(*left))) == NULL) {
		log_warn("hub %s: call", h->name);
		free(arg);
		return;
	}
	/* Ours: dropped below, so the call's drop frees arg. */
	*left = 1;
	hub_each_post(h->g, worker, fn, arg, left);
	if (__atomic_sub_fetch(left, 1, __ATOMIC_ACQ_REL) == 0) {
		free(arg);
		free(left);
	}
}

/* A message for this node's members only (on every worker). */
void
hub_inject(struct hub *h, int opcode, const void *data, size_t len,
    const void *sse, size_t sse_len, unsigned key)
{
	hub_send_all(h, opcode, data, len, sse, sse_len, key, NULL);
}

/* A message for the other nodes only. */
void
hub_publish_remote(const char *name, int opcode, const void *data,
    size_t len, const void *sse, size_t sse_len, unsigned key)
{
	if (hub_bridge != NULL)
		hub_bridge->publish(name, opcode, data, len, sse, sse_len,
		    key >= HUB_KEYS ? HUB_KEYS - 1 : key);
}

/* Whether messages go to other nodes too. */
int
hub_bridged(void)
{
	return hub_bridge != NULL;
}

/* The hub's name. */
const char *
hub_name(const struct hub *h)
{
	return h->name;
}

/* The member drained: send its backlog, oldest first. */
void
hub_member_drained(struct hub_member *m)
{
	struct hub		*h = m->hub;
	struct hub_frame	*f;
	size_t			 i, oldest;

	if (h == NULL)
		return;
	while (hub_member_backlog(m)) {
		if (!hub_io->open(m->conn))
			return;
		if (hub_io->pending(m->conn) > h->limit) {
			hub_io->watch_drain(m->conn, h->limit / 2);
			return;
		}
		oldest = HUB_KEYS;
		for (i = 0; i < HUB_KEYS; i++)
			if (m->pending[i] != NULL && (oldest == HUB_KEYS ||
			    m->pending[i]->seq < m->pending[oldest]->seq))
				oldest = i;
		f = m->pending[oldest];
		m->pending[oldest] = NULL;
		hub_deliver(h, m, f);
		hub_frame_unref(f);
	}
	/* An idle member holds no backlog array. */
	hub_backlog_free(m);
}

/* Members now. */
unsigned
hub_size(const struct hub *h)
{
	return h->n;
}

/* Visits every member. */
void
hub_each(struct hub *h, void (*fn)(struct conn *, void *), void *arg)
{
	struct hub_member	*m, *next;

	for (m = TAILQ_FIRST(&h->members); m != NULL; m = next) {
		next = TAILQ_NEXT(m, entry);
		fn(m->conn, arg);
	}
}

/* What the hub did so far. */
const struct hub_stats *
hub_stats(const struct hub *h)
{
	return &h->stats;
}
