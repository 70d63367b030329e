/*
 * channels.c -- named channels below a route ("/live/news"): subscribers
 * over WebSocket or Server-Sent Events, messages published over HTTP
 * (POST) or, with client_publish, by subscribers; per-channel history
 * with EPOCH-SEQ ids, so that a subscriber resumes where it left off.
 * Every channel is a hub: a message is encoded once (frame and SSE form)
 * and shared by every subscriber, under the route's slow_client policy.
 *
 * With workers, the route's channels, their history and the id sequence
 * are one for the route on every worker: they live in the route hub's
 * shared state (hub_shared()) and every entry point holds its lock. A
 * channel has a hub on each worker that has subscribers of it (or
 * publishes to it), and those hubs form a group, so a message reaches
 * the subscribers of every worker once and in id order.
 *
 * In a [cluster], a channel's history and ids live in a Redis Stream
 * (the "cluster streams" functions at the end): messages are delivered
 * as they come back from it, on every node in the stream's order.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>

#include "app.h"
#include "channel.h"
#include "channels.h"
#include "cluster.h"
#include "cluster_env.h"
#include "config.h"
#include "http.h"
#include "hub.h"
#include "jwt.h"
#include "log.h"
#include "stats.h"
#include "utf8.h"
#include "worker.h"
#include "ws.h"

/* envelope = off|json */
enum channels_envelope {
	CHANNELS_ENV_OFF = 0,
	CHANNELS_ENV_JSON,
};

struct channel;

/*
 * A channel's hub on one worker: its subscribers there. Only that worker
 * makes, uses and frees it (the hub delivers on its loop).
 */
struct channel_slot {
	struct hub		*hub;		/* NULL: none on the worker */
	struct channel		*gc_next;	/* on the worker's gc list */
	unsigned		 on_gc:1;
};

/*
 * One channel: its history and a hub per worker. It goes once it has
 * no subscribers, no history and no hub left on any worker.
 */
struct channel {
	struct channel		*next;		/* hash chain */
	struct channel		*gc_next;	/* on the route's gc list */
	struct channel_ring	 ring;
	uint64_t		 last_seq;	/* last published; 0: none */
	char			 last_id[CHANNEL_ID_MAX]; /* its id */
	unsigned		 nsubs;		/* subscribers, every worker */
	unsigned		 nsse;		/* of those, SSE streams */
	unsigned		 nhubs;		/* slots with a hub */
	unsigned		 deletions;	/* DELETEs it had */
	unsigned		 on_gc:1;
	struct channel_slot	*slots;		/* worker_count() of them */
	char			*name;
};

/*
 * A channels route: its channels by name and every retained message.
 * One for the route on every worker (the route hub's hub_shared()),
 * read and changed only under hub_lock() of the route's hub.
 */
struct channels {
	int			 ready;
	struct channel		**tab;
	size_t			 tabsize;	/* a power of 2 */
	unsigned		 n;
	uint64_t		 seq;		/* the route's last message */
	struct channel_msgs	 msgs;		/* retained, publish order */
	struct channel		*gc;		/* maybe empty: look again */
	struct stats_channels	 st;
	uint64_t		 delivered;	/* by hubs already freed */
};

/*
 * A call to Redis a worker's part of a channels route waits for
 * (cluster streams): a publish (hold: the publisher's answer, NULL for
 * a subscriber's message), or a subscriber's replay (c). The route
 * forgets it when it goes (cr NULL), the subscriber when it leaves (c
 * NULL); the reply, on the same worker, frees it.
 */
struct channels_op {
	LIST_ENTRY(channels_op)	 entry;
	struct channels_route	*cr;
	struct conn_api_hold	*hold;
	struct conn		*c;		/* replay: the subscriber */
	struct channel		*ch;		/* replay: its channel */
	unsigned		 deletions;	/* replay: ch's, when asked */
	char			 since[CHANNEL_ID_MAX];
	enum channel_kind	 kind;		/* publish */
	char			*name;
	size_t			 len;
	uint8_t			 data[];
};
LIST_HEAD(channels_ops, channels_op);

/* A worker's part of a channels route: its timer and gc list. */
struct channels_route {
	struct app_route	*rt;
	struct hub		*hub;		/* the route's: its lock */
	struct channels		*cs;
	unsigned		 worker;
	struct channel		*gc;		/* hubs here that may be empty */
	struct app_timer	*timer;		/* gc and history_ttl */
	/*
	 * In a cluster, worker 0's: the other nodes' messages and the
	 * channels' streams, which it hands to every worker's subscribers
	 * (the hub groups); NULL when alone and on the other workers.
	 */
	struct cluster_sink	*sink;
	/* History and ids in Redis Streams: in a cluster. */
	int			 streams;
	struct channels_ops	 ops;		/* waiting for Redis */
};

static void	channels_remote_cb(void *, const char *, size_t, int,
		    const void *, size_t, const void *, size_t);
static void	channels_stream_cb(void *, const char *, size_t, const char *,
		    int, const void *, size_t);
static void	channels_ops_orphan(struct channels_route *);
static void	channels_ops_leave(struct channels_route *, struct conn *);
static int	channels_replay_stream(struct channels_route *, struct conn *,
		    struct channel *, const char *);
static int	channels_publish_stream(struct channels_route *, struct conn *,
		    const char *, enum channel_kind, const void *, size_t);
static int	channels_publish_here(struct channels_route *, const char *,
		    enum channel_kind, const uint8_t *, size_t,
		    struct evbuffer *, const char **);
static const char *channels_full(const struct channels_route *, const char *,
		    char *, size_t);
static void	channels_subs_tell(struct channels_route *, struct channel *);
static int	channels_info_cluster(struct channels_route *, struct conn *,
		    const char *);

/* A route's path and a channel name: a hub's, a stream's name. */
#define CHANNELS_FULL_MAX	(HTTP_MAX_REQUEST_LINE + CHANNEL_NAME_MAX + 1)

/*
 * Ids name the run that gave them out: a restart is recognised. Set once
 * (atomically: routes of a reload start on every worker at once).
 */
static uint64_t	channels_epoch_v;

#define CHANNELS_GC_PERIOD	1.0	/* s: history_ttl is checked as often */

/* Keep wsd.ini.5 and etc/wsd.ini in step with these keys. */
#define CH_CONF(f)	offsetof(struct app_conf, f)

/* "off" or "json". */
static int
channels_envelope_parse(const char *s)
{
	if (strcmp(s, "off") == 0)
		return CHANNELS_ENV_OFF;
	if (strcmp(s, "json") == 0)
		return CHANNELS_ENV_JSON;
	return -1;
}

static const struct config_key channels_key_history = {
	"history", CONFIG_KEY_UINT, 0, 1000000, "0",
	CH_CONF(history), NULL, NULL, NULL, 0, NULL
};
static const struct config_key channels_key_history_ttl = {
	"history_ttl", CONFIG_KEY_DURATION, 0.001, 365 * 86400.0, "5m",
	CH_CONF(history_ttl), NULL, NULL, NULL, 0, NULL
};
static const struct config_key channels_key_history_max_bytes = {
	"history_max_bytes", CONFIG_KEY_SIZE, 0, 1024.0 * 1024 * 1024 * 64,
	"64m", CH_CONF(history_max_bytes), NULL, NULL, NULL, 0, NULL
};
static const struct config_key channels_key_envelope = {
	"envelope", CONFIG_KEY_WORD, 0, 0, "off",
	CH_CONF(envelope), channels_envelope_parse,
	"invalid envelope (off|json)", NULL, 0, NULL
};
static const struct config_key channels_key_client_publish = {
	"client_publish", CONFIG_KEY_BOOL, 0, 1, "off",
	CH_CONF(client_publish), NULL, NULL, NULL, 0, NULL
};
static const struct config_key channels_key_max_channels = {
	"max_channels", CONFIG_KEY_UINT, 1, 10000000, "10000",
	CH_CONF(max_channels), NULL, NULL, NULL, 0, NULL
};
static const struct config_key channels_key_sse_keepalive = {
	"sse_keepalive", CONFIG_KEY_DURATION, 0.01, 86400, "15s",
	CH_CONF(sse_keepalive), NULL, NULL, NULL, 0, NULL
};
static const struct config_key channels_key_sse_retry = {
	"sse_retry", CONFIG_KEY_DURATION, 0.001, 86400, "2s",
	CH_CONF(sse_retry), NULL, NULL, NULL, 0, NULL
};

/*
 * May c subscribe to (publish 0) or publish to channel? A signed token's
 * "channels" claim (auth_jwt_key_file) limits both: the subscribing
 * request's, or the one a WebSocket kept (client_publish). Without a
 * token, or without the claim, every client the route's checks let
 * through may. HTTP publishers are checked by publish_allow and
 * publish_token_file.
 */
int
channels_allowed(const struct conn *c, const char *channel, int publish)
{
	const struct jwt_claims	*cl = conn_request_claims();

	(void)publish;		/* one list for both */
	if (cl == NULL)
		cl = conn_jwt_claims(c);
	return cl == NULL || jwt_allows_channel(cl, channel);
}

/* This run's epoch. */
static uint64_t
channels_epoch(void)
{
	return __atomic_load_n(&channels_epoch_v, __ATOMIC_RELAXED);
}

/* The route's settings now (a reload may have changed them). */
static const struct app_conf *
channels_conf(const struct channels_route *cr)
{
	return app_conf(app_route_conf(cr->rt));
}

/* FNV-1a of a name. */
static size_t
channels_hash(const char *s, size_t len)
{
	uint64_t	h = 14695981039346656037ULL;
	size_t		i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ULL;
	}
	return (size_t)h;
}

/* The channel called name, NULL when it does not exist. */
static struct channel *
channels_find(const struct channels *cs, const char *name, size_t len)
{
	struct channel	*ch;

	if (cs->tabsize == 0)
		return NULL;
	for (ch = cs->tab[channels_hash(name, len) & (cs->tabsize - 1)];
	    ch != NULL; ch = ch->next)
		if (strncmp(ch->name, name, len) == 0 && ch->name[len] == '\0')
			return ch;
	return NULL;
}

/* Doubles the table once it holds as many channels as buckets. */
static int
channels_grow(struct channels *cs)
{
	struct channel	**tab, *ch, *next;
	size_t		  size = cs->tabsize == 0 ? 64 : cs->tabsize * 2, i, b;

	if ((tab = calloc(size, sizeof(*tab))) == NULL)
		return -1;
	for (i = 0; i < cs->tabsize; i++)
		for (ch = cs->tab[i]; ch != NULL; ch = next) {
			next = ch->next;
			b = channels_hash(ch->name, strlen(ch->name)) &
			    (size - 1);
			ch->next = tab[b];
			tab[b] = ch;
		}
	free(cs->tab);
	cs->tab = tab;
	cs->tabsize = size;
	return 0;
}

/* Creates a channel, with no hub yet; NULL when out of memory. */
static struct channel *
channels_create(struct channels *cs, const char *name, size_t len)
{
	struct channel	*ch;
	size_t		 b, nw = worker_count();

	if (cs->n >= cs->tabsize && channels_grow(cs) == -1)
		return NULL;
	/* One block: the channel, its slots, its name. */
	if ((ch = calloc(1, sizeof(*ch) + nw * sizeof(*ch->slots) + len +
	    1)) == NULL)
		return NULL;
	ch->slots = (struct channel_slot *)(ch + 1);
	ch->name = (char *)(ch->slots + nw);
	memcpy(ch->name, name, len);
	/* Every message it will have comes after the route's last one. */
	channel_ring_init(&ch->ring, cs->seq);
	b = channels_hash(name, len) & (cs->tabsize - 1);
	ch->next = cs->tab[b];
	cs->tab[b] = ch;
	cs->n++;
	cs->st.channels = cs->n;
	return ch;
}

/* Frees an empty channel (no subscribers, no history, no hubs). */
static void
channels_destroy(struct channels *cs, struct channel *ch)
{
	struct channel	**pp;

	pp = &cs->tab[channels_hash(ch->name, strlen(ch->name)) &
	    (cs->tabsize - 1)];
	while (*pp != ch)
		pp = &(*pp)->next;
	*pp = ch->next;
	cs->n--;
	cs->st.channels = cs->n;
	channel_ring_free(&ch->ring);
	free(ch);
}

/*
 * This worker's hub of ch, made on first use (and filed in the group of
 * the channel's hubs on every worker); NULL when out of memory.
 */
static struct hub *
channels_hub(struct channels_route *cr, struct channel *ch)
{
	const struct wsd_route	*conf = app_route_conf(cr->rt);
	struct channel_slot	*sl = &ch->slots[cr->worker];
	enum hub_policy		 policy;
	char			 name[256], *key;
	size_t			 len;

	policy = (enum hub_policy)channels_conf(cr)->slow_client;
	if (sl->hub != NULL) {
		/* A reload may have changed them. */
		hub_set_limit(sl->hub, conf->lim.max_send_buffer, policy);
		return sl->hub;
	}
	snprintf(name, sizeof(name), "%s%s", conf->path, ch->name);
	if ((sl->hub = hub_new(name, conf->lim.max_send_buffer,
	    policy)) == NULL)
		return NULL;
	if (worker_count() > 1) {
		len = strlen(app_route_key(cr->rt)) + strlen(ch->name) + 2;
		if ((key = malloc(len)) == NULL) {
			hub_free(sl->hub);
			sl->hub = NULL;
			return NULL;
		}
		snprintf(key, len, "%s\n%s", app_route_key(cr->rt), ch->name);
		if (hub_link(sl->hub, key) == -1) {
			hub_free(sl->hub);
			sl->hub = NULL;
		}
		free(key);
		if (sl->hub == NULL)
			return NULL;
	}
	ch->nhubs++;
	return sl->hub;
}

/* Frees this worker's hub of ch (its members have left). */
static void
channels_hub_free(struct channels_route *cr, struct channel *ch)
{
	struct channel_slot	*sl = &ch->slots[cr->worker];

	if (sl->hub == NULL)
		return;
	cr->cs->delivered += hub_stats(sl->hub)->delivered;
	hub_free(sl->hub);
	sl->hub = NULL;
	ch->nhubs--;
}

/* Files ch on the route's gc list (the caller arms a timer). */
static void
channels_gc_push(struct channels *cs, struct channel *ch)
{
	if (ch->on_gc)
		return;
	ch->on_gc = 1;
	ch->gc_next = cs->gc;
	cs->gc = ch;
}

/* Looks at ch again soon: freed if it is empty by then. */
static void
channels_gc_mark(struct channels_route *cr, struct channel *ch)
{
	channels_gc_push(cr->cs, ch);
	app_timer_add(cr->timer, 0);
}

/* Looks at this worker's hub of ch again soon: freed if it is empty. */
static void
channels_hub_gc_mark(struct channels_route *cr, struct channel *ch)
{
	struct channel_slot	*sl = &ch->slots[cr->worker];

	if (!sl->on_gc) {
		sl->on_gc = 1;
		sl->gc_next = cr->gc;
		cr->gc = ch;
	}
	app_timer_add(cr->timer, 0);
}

/* Drops the oldest retained message of the route or of one channel. */
static void
channels_evict(struct channels_route *cr, struct channel_msg *m)
{
	struct channels	*cs = cr->cs;
	struct channel	*ch = m->owner;

	/* A channel's oldest is the route's oldest of that channel. */
	if (channel_ring_pop(&ch->ring) != m)
		fatalx("%s: history out of order", __func__);
	TAILQ_REMOVE(&cs->msgs, m, entry);
	cs->st.history_msgs--;
	cs->st.history_bytes -= m->len;
	free(m);
	if (ch->ring.n == 0)
		channels_gc_mark(cr, ch);
}

/* Monotonic seconds. */
static double
channels_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* history_ttl, history_max_bytes and history now (a reload lowers them). */
static void
channels_expire(struct channels_route *cr)
{
	const struct app_conf	*ac = channels_conf(cr);
	struct channels		*cs = cr->cs;
	struct channel_msg	*m;
	double			 old = channels_now() - ac->history_ttl;

	while ((m = TAILQ_FIRST(&cs->msgs)) != NULL &&
	    (m->t < old || cs->st.history_bytes > ac->history_max_bytes ||
	    ((struct channel *)m->owner)->ring.n > ac->history))
		channels_evict(cr, m);
}

/*
 * Frees this worker's hubs that were left empty, then the channels that
 * were (on any worker); expires history.
 */
static void
channels_timer_cb(void *arg)
{
	struct channels_route	*cr = arg;
	struct channels		*cs = cr->cs;
	struct channel_slot	*sl;
	struct channel		*ch;

	hub_lock(cr->hub);
	channels_expire(cr);
	while ((ch = cr->gc) != NULL) {
		sl = &ch->slots[cr->worker];
		cr->gc = sl->gc_next;
		sl->on_gc = 0;
		if (sl->hub != NULL && hub_size(sl->hub) == 0) {
			channels_hub_free(cr, ch);
			if (ch->nhubs == 0)
				channels_gc_push(cs, ch);
		}
	}
	while ((ch = cs->gc) != NULL) {
		cs->gc = ch->gc_next;
		ch->on_gc = 0;
		if (ch->nsubs == 0 && ch->ring.n == 0 && ch->nhubs == 0)
			channels_destroy(cs, ch);
	}
	if (!TAILQ_EMPTY(&cs->msgs))
		app_timer_add(cr->timer, CHANNELS_GC_PERIOD);
	hub_unlock(cr->hub);
}

/*
 * Frees the route's channels and history, once no worker has the route
 * any more (the route hub's group goes): their hubs went with each
 * worker's part.
 */
static void
channels_shared_free(void *arg)
{
	struct channels		*cs = arg;
	struct channel_msg	*m;
	struct channel		*ch;
	size_t			 i;

	while ((m = TAILQ_FIRST(&cs->msgs)) != NULL) {
		TAILQ_REMOVE(&cs->msgs, m, entry);
		free(m);
	}
	for (i = 0; i < cs->tabsize; i++)
		while ((ch = cs->tab[i]) != NULL) {
			cs->tab[i] = ch->next;
			if (ch->nhubs != 0)
				log_warnx("channel %s: freed with %u hubs",
				    ch->name, ch->nhubs);
			channel_ring_free(&ch->ring);
			free(ch);
		}
	free(cs->tab);
}

/* This worker's part of the route; the route's state on first use. */
static int
channels_route_init(struct app_route *r)
{
	struct channels_route	*cr;
	uint64_t		 none = 0, epoch;

	epoch = (uint64_t)time(NULL) * 1000 + arc4random_uniform(1000);
	__atomic_compare_exchange_n(&channels_epoch_v, &none, epoch, 0,
	    __ATOMIC_RELAXED, __ATOMIC_RELAXED);
	if ((cr = calloc(1, sizeof(*cr))) == NULL)
		return -1;
	cr->rt = r;
	cr->hub = app_route_hub(r);
	cr->worker = worker_self();
	hub_lock(cr->hub);
	if ((cr->cs = hub_shared(cr->hub, sizeof(*cr->cs))) != NULL &&
	    !cr->cs->ready) {
		TAILQ_INIT(&cr->cs->msgs);
		cr->cs->ready = 1;
		hub_shared_fini(cr->hub, channels_shared_free);
	}
	hub_unlock(cr->hub);
	if (cr->cs == NULL ||
	    (cr->timer = app_timer_new(r, channels_timer_cb, cr)) == NULL) {
		free(cr);
		return -1;
	}
	LIST_INIT(&cr->ops);
	app_route_set_data(r, cr);
	cr->sink = cluster_sink_new(app_route_conf(r)->path, channels_remote_cb,
	    cr);
	cluster_sink_streams(cr->sink, channels_stream_cb);
	cr->streams = cluster_active();
	return 0;
}

/*
 * Frees this worker's hubs (their subscribers are gone) and its part;
 * the channels and history go with the last worker's route hub.
 */
static void
channels_route_free(struct app_route *r)
{
	struct channels_route	*cr = app_route_data(r);
	struct channel		*ch;
	size_t			 i;

	if (cr == NULL)
		return;
	hub_lock(cr->hub);
	for (i = 0; i < cr->cs->tabsize; i++)
		for (ch = cr->cs->tab[i]; ch != NULL; ch = ch->next)
			channels_hub_free(cr, ch);
	hub_unlock(cr->hub);
	channels_ops_orphan(cr);
	cluster_sink_free(cr->sink);
	app_timer_free(cr->timer);
	free(cr);
	app_route_set_data(r, NULL);
}

/* The channel name of a decoded request path below the route. */
static const char *
channels_name(struct app_route *r, const char *path)
{
	return path + app_route_conf(r)->path_len;
}

/* A subscriber may come: a valid name, room for its channel. */
static int
channels_request(struct conn *c, struct app_route *r,
    const struct http_request *req, const char *path, const char **why)
{
	struct channels_route	*cr = app_route_data(r);
	const char		*name = channels_name(r, path);
	int			 full;

	(void)req;
	if (!channel_name_valid(name, strlen(name))) {
		*why = "invalid channel name";
		return 400;
	}
	if (!channels_allowed(c, name, 0)) {
		*why = "channel not allowed";
		return 403;
	}
	hub_lock(cr->hub);
	full = channels_find(cr->cs, name, strlen(name)) == NULL &&
	    cr->cs->n >= channels_conf(cr)->max_channels;
	hub_unlock(cr->hub);
	if (full) {
		*why = "too many channels";
		return 503;
	}
	return 0;
}

/* The reset notice: what was asked for is no longer all there. */
static void
channels_send_reset(struct conn *c, const struct channel *ch)
{
	char	*s, *ev;
	size_t	 len, evlen;

	if ((s = channel_envelope_reset(ch->name, &len)) == NULL)
		return;
	if (conn_is_sse(c)) {
		if ((ev = channel_sse_event(NULL, "reset", 0, s, len,
		    &evlen)) != NULL)
			conn_sse_send(c, ev, evlen);
		free(ev);
	} else
		conn_queue(c, WS_OP_TEXT, s, len);
	free(s);
}

/* Sends one retained message to a resuming subscriber. */
static void
channels_send_msg(struct conn *c, const struct channel_msg *m)
{
	char	 id[CHANNEL_ID_MAX], *ev;
	size_t	 evlen;

	if (!conn_is_sse(c)) {
		conn_queue(c, m->binary ? WS_OP_BINARY : WS_OP_TEXT, m->data,
		    m->len);
		return;
	}
	if (m->origin[0] != '\0')
		snprintf(id, sizeof(id), "%s", m->origin);
	else
		channel_id_format(id, channels_epoch(), m->seq);
	if ((ev = channel_sse_event(id, NULL, m->binary, m->data, m->len,
	    &evlen)) != NULL)
		conn_sse_send(c, ev, evlen);
	free(ev);
}

/*
 * The id a subscriber resumes from: Last-Event-ID (what EventSource
 * sends when it reconnects) over ?since=. 0 when there is none, 1 with
 * the id's text in buf.
 */
static int
channels_since(const struct http_request *req, char *buf, size_t size)
{
	const struct http_header *h;
	const char	*p, *end, *e;
	size_t		 len;
	int		 n;

	if ((h = http_header_find(req, "Last-Event-ID")) != NULL &&
	    h->value_len > 0) {
		len = h->value_len < size - 1 ? h->value_len : size - 1;
		memcpy(buf, h->value, len);
		buf[len] = '\0';
		return 1;
	}
	if (req->query == NULL)
		return 0;
	p = req->query;
	end = p + req->query_len;
	while (p < end) {
		if ((e = memchr(p, '&', (size_t)(end - p))) == NULL)
			e = end;
		if ((size_t)(e - p) >= 6 && memcmp(p, "since=", 6) == 0) {
			n = http_pct_decode(p + 6, (size_t)(e - p) - 6, buf,
			    size - 1);
			if (n < 0)
				n = 0;
			buf[n] = '\0';
			return 1;
		}
		p = e + 1;
	}
	return 0;
}

/*
 * A subscriber: replays what it missed, then joins the channel's hub. In
 * one go under the route's lock, so that nothing published meanwhile (on
 * any worker) can fall between the two or come twice: the hub gives a
 * member only what was published after it joined.
 */
static void
channels_open(struct conn *c)
{
	const struct http_request *req = conn_open_request();
	struct app_route	*r = conn_app_route(c);
	struct channels_route	*cr = app_route_data(r);
	struct channels		*cs = cr->cs;
	struct channel		*ch;
	struct hub		*h;
	char			 path[HTTP_MAX_REQUEST_LINE], since[64];
	const char		*name;
	uint64_t		 epoch, seq;
	size_t			 first = 0, i;
	int			 reset;

	if (req == NULL || http_path_decode(req->path, req->path_len, path,
	    sizeof(path)) == -1) {
		conn_ws_close(c, WS_CLOSE_INTERNAL, "no request");
		return;
	}
	name = channels_name(r, path);
	hub_lock(cr->hub);
	if ((ch = channels_find(cs, name, strlen(name))) == NULL &&
	    (ch = channels_create(cs, name, strlen(name))) == NULL)
		h = NULL;
	else if ((h = channels_hub(cr, ch)) == NULL)
		channels_gc_mark(cr, ch);
	if (h == NULL) {
		hub_unlock(cr->hub);
		log_warnx("%s: channel %s: out of memory", conn_peer(c), name);
		conn_ws_close(c, WS_CLOSE_INTERNAL, "out of memory");
		return;
	}
	if (conn_is_sse(c)) {
		snprintf(since, sizeof(since), "retry: %.0f\n\n",
		    channels_conf(cr)->sse_retry * 1000);
		conn_sse_send(c, since, strlen(since));
		ch->nsse++;
	}
	conn_set_app_data(c, ch);
	ch->nsubs++;
	cs->st.subscribers++;
	channels_subs_tell(cr, ch);
	channels_expire(cr);
	if (channels_since(req, since, sizeof(since))) {
		if (channel_id_parse(since, strlen(since), &epoch, &seq) == -1)
			reset = 1;
		else if (epoch != channels_epoch()) {
			/* Another node's id: that message, if we heard it. */
			reset = channel_ring_find(&ch->ring, since, &first) ==
			    -1;
			first++;
			/* Else from the channel's stream, then live. */
			if (reset && channels_replay_stream(cr, c, ch,
			    since) == 0) {
				channels_hub_gc_mark(cr, ch);
				hub_unlock(cr->hub);
				return;
			}
		} else
			reset = channel_ring_since(&ch->ring, seq, cs->seq,
			    &first);
		if (reset) {
			first = 0;
			channels_send_reset(c, ch);
		}
		for (i = first; i < ch->ring.n; i++)
			channels_send_msg(c, channel_ring_at(&ch->ring, i));
	}
	conn_join(c, h);
	hub_unlock(cr->hub);
}

/* A subscriber left: its channel (and its hub here) may be empty now. */
static void
channels_close(struct conn *c)
{
	struct app_route	*r = conn_app_route(c);
	struct channels_route	*cr = app_route_data(r);
	struct channel		*ch = conn_app_data(c);

	if (ch == NULL)
		return;
	conn_set_app_data(c, NULL);
	hub_lock(cr->hub);
	channels_ops_leave(cr, c);
	cr->cs->st.subscribers--;
	ch->nsubs--;
	channels_subs_tell(cr, ch);
	if (conn_is_sse(c))
		ch->nsse--;
	/* The core takes c out of the hub after this: the timer is later. */
	channels_hub_gc_mark(cr, ch);
	channels_gc_mark(cr, ch);
	hub_unlock(cr->hub);
}

/*
 * Keeps a message just published (seq cs->seq) in the channel's history,
 * with the id its publisher gave it (origin; "": ours).
 */
static void
channels_keep(struct channels_route *cr, struct channel *ch, int binary,
    const void *payload, size_t plen, const char *origin)
{
	struct channels		*cs = cr->cs;
	struct channel_msg	*m;

	if (channels_conf(cr)->history == 0)
		ch->ring.floor = cs->seq;	/* nothing after it is kept */
	else if ((m = channel_msg_new(cs->seq, channels_now(), binary,
	    payload, plen)) == NULL || channel_ring_push(&ch->ring, m) == -1) {
		/* Not kept: a subscriber resuming from before it is reset. */
		free(m);
		log_warnx("channel %s: history: out of memory", ch->name);
		while (ch->ring.n > 0)
			channels_evict(cr, channel_ring_at(&ch->ring, 0));
		ch->ring.floor = cs->seq;
	} else {
		m->owner = ch;
		snprintf(m->origin, sizeof(m->origin), "%s", origin);
		TAILQ_INSERT_TAIL(&cs->msgs, m, entry);
		cs->st.history_msgs++;
		cs->st.history_bytes += plen;
		if (TAILQ_FIRST(&cs->msgs) == m)
			app_timer_add(cr->timer, CHANNELS_GC_PERIOD);
		channels_expire(cr);
	}
}

/*
 * A message of channel name another node published, or one of the
 * channel's stream (ours included), with the id it has everywhere: to
 * our subscribers and into our history under that id, so that a
 * subscriber may resume on any node. The caller holds the route's lock.
 */
static void
channels_deliver(struct channels_route *cr, const char *name, size_t name_len,
    int opcode, const void *data, size_t len, const void *sse, size_t sse_len,
    const char *id)
{
	struct channels		*cs = cr->cs;
	const struct app_conf	*ac = channels_conf(cr);
	struct channel		*ch;
	struct hub		*h;

	/* Nobody to hear it and nothing kept: no channel is made. */
	if ((ch = channels_find(cs, name, name_len)) == NULL) {
		if (ac->history == 0 || cs->n >= ac->max_channels ||
		    (ch = channels_create(cs, name, name_len)) == NULL)
			return;
		channels_gc_mark(cr, ch);
	}
	cs->seq++;
	cs->st.published++;
	ch->last_seq = cs->seq;
	snprintf(ch->last_id, sizeof(ch->last_id), "%s", id);
	if (ch->nsubs > 0 && (h = channels_hub(cr, ch)) != NULL)
		hub_inject(h, opcode, data, len, ch->nsse > 0 ? sse : NULL,
		    ch->nsse > 0 ? sse_len : 0, 0);
	channels_keep(cr, ch, opcode == WS_OP_BINARY, data, len, id);
}

/*
 * Another node published to channel name (with Redis's pub/sub only:
 * its own id): to our subscribers and history.
 */
static void
channels_remote_cb(void *arg, const char *name, size_t name_len, int opcode,
    const void *data, size_t len, const void *sse, size_t sse_len)
{
	struct channels_route	*cr = arg;
	char			 id[CHANNEL_ID_MAX];

	if (!channel_name_valid(name, name_len) || sse == NULL ||
	    channel_sse_id(sse, sse_len, id) == -1) {
		log_debug("channels: %s: a message from another node without "
		    "a channel or id", app_route_conf(cr->rt)->path);
		return;
	}
	hub_lock(cr->hub);
	channels_deliver(cr, name, name_len, opcode, data, len, sse, sse_len,
	    id);
	hub_unlock(cr->hub);
}

/*
 * A message of channel name for the other nodes of a cluster only: this
 * node has no subscriber for it. 0, or -1 when memory ran out.
 */
static int
channels_publish_remote(struct channels_route *cr, const char *name,
    int binary, const void *payload, size_t plen, const char *sse,
    size_t sselen)
{
	char	hubname[256];

	if (!hub_bridged())
		return 0;
	snprintf(hubname, sizeof(hubname), "%s%s",
	    app_route_conf(cr->rt)->path, name);
	hub_publish_remote(hubname, binary ? WS_OP_BINARY : WS_OP_TEXT,
	    payload, plen, sse, sselen, 0);
	return 0;
}

/*
 * Publishes one message to channel name (ch NULL: nobody listens here
 * and nothing is kept: only the id is given out, and the message goes to
 * the other nodes of a cluster); the caller holds the route's lock.
 * Returns the number of subscribers on this node it goes to (with one
 * worker, those it was queued for), -1 when a JSON body does not parse
 * (envelope json) or memory ran out; id gets its id.
 */
static int
channels_publish(struct channels_route *cr, struct channel *ch,
    const char *name, enum channel_kind kind, const void *data, size_t len,
    char id[CHANNEL_ID_MAX])
{
	const struct app_conf	*ac = channels_conf(cr);
	struct channels		*cs = cr->cs;
	struct hub		*h = NULL;
	uint64_t		 before;
	char			*env = NULL, *sse = NULL;
	const void		*payload = data;
	size_t			 plen = len, sselen = 0;
	int			 binary = kind == CHANNEL_BINARY, n = 0;

	channel_id_format(id, channels_epoch(), cs->seq + 1);
	/* Subscribers on any worker: through this worker's hub. */
	if (ch != NULL && ch->nsubs > 0 && (h = channels_hub(cr, ch)) == NULL)
		return -1;
	if (ac->envelope == CHANNELS_ENV_JSON && (ch != NULL ||
	    hub_bridged())) {
		if ((env = channel_envelope(name, id, kind, data, len,
		    &plen)) == NULL)
			goto fail;
		payload = env;
		binary = 0;
	}
	/* Other nodes of a cluster may have SSE subscribers. */
	if (((ch != NULL && ch->nsse > 0) || hub_bridged()) &&
	    (sse = channel_sse_event(id, NULL, binary, payload, plen,
	    &sselen)) == NULL)
		goto fail;
	cs->seq++;
	cs->st.published++;
	if (ch == NULL) {
		n = channels_publish_remote(cr, name, binary, payload, plen,
		    sse, sselen);
		free(sse);
		free(env);
		return n;
	}
	ch->last_seq = cs->seq;
	snprintf(ch->last_id, sizeof(ch->last_id), "%s", id);
	if (h != NULL) {
		before = hub_stats(h)->delivered;
		hub_publish_sse(h, binary ? WS_OP_BINARY : WS_OP_TEXT,
		    payload, plen, sse, sselen, 0, NULL);
		/* With workers, the others deliver later. */
		n = worker_count() > 1 ? (int)ch->nsubs :
		    (int)(hub_stats(h)->delivered - before);
		if (hub_size(h) == 0)
			channels_hub_gc_mark(cr, ch);
	} else
		channels_publish_remote(cr, name, binary, payload, plen, sse,
		    sselen);
	free(sse);
	channels_keep(cr, ch, binary, payload, plen, "");
	free(env);
	return n;
fail:
	free(env);
	if (h != NULL && hub_size(h) == 0)
		channels_hub_gc_mark(cr, ch);
	return -1;
}

/* A subscriber's message: published with client_publish, else refused. */
static void
channels_message(struct conn *c, int opcode, const uint8_t *data, size_t len)
{
	struct app_route	*r = conn_app_route(c);
	struct channels_route	*cr = app_route_data(r);
	struct channel		*ch = conn_app_data(c);
	char			 id[CHANNEL_ID_MAX];
	int			 n;

	if (ch == NULL)
		return;
	if (!channels_conf(cr)->client_publish) {
		log_limited(conn_log_limit(c), "channels: client message",
		    LOG_LVL_INFO, "channels: %s: message on %s%s refused: "
		    "client_publish is off", conn_peer(c),
		    app_route_conf(r)->path, ch->name);
		conn_ws_close(c, WS_CLOSE_POLICY, "subscribers may not publish");
		return;
	}
	hub_lock(cr->hub);
	n = 0;
	/* In a cluster through the channel's stream, else here. */
	if (channels_publish_stream(cr, NULL, ch->name, opcode ==
	    WS_OP_BINARY ? CHANNEL_BINARY : CHANNEL_TEXT, data, len) == -1)
		n = channels_publish(cr, ch, ch->name, opcode == WS_OP_BINARY ?
		    CHANNEL_BINARY : CHANNEL_TEXT, data, len, id);
	hub_unlock(cr->hub);
	if (n == -1)
		conn_ws_close(c, WS_CLOSE_INTERNAL, "publish failed");
}

/* What a Content-Type says the body is: text, JSON or binary. */
static enum channel_kind
channels_kind(const struct http_request *req)
{
	const struct http_header *h = http_header_find(req, "Content-Type");

	return h == NULL ? CHANNEL_BINARY :
	    channel_kind_of(h->value, h->value_len);
}

/* A plain-text error body. */
static int
channels_error(struct evbuffer *out, const char **type, int status,
    const char *why)
{
	*type = "text/plain; charset=utf-8";
	evbuffer_add_printf(out, "%d %s: %s\n", status,
	    http_status_text(status), why);
	return status;
}

/* Closes a subscriber of a deleted channel with 1000. */
static void
channels_kick_cb(struct conn *c, void *arg)
{
	(void)arg;
	conn_ws_close(c, WS_CLOSE_NORMAL, "channel deleted");
}

/* Closes a deleted channel's subscribers on one worker (its own loop). */
static void
channels_kick_hub(struct hub *h, void *arg)
{
	hub_each(h, channels_kick_cb, arg);
}

/* Drops a channel's history and closes its subscribers on every worker. */
static void
channels_delete(struct channels_route *cr, struct channel *ch)
{
	struct hub	*h;

	if (ch->nsubs > 0 && (h = channels_hub(cr, ch)) != NULL) {
		hub_group_each(h, channels_kick_hub, NULL);
		if (hub_size(h) == 0)
			channels_hub_gc_mark(cr, ch);
	}
	/* Subscribers waiting for a replay (any worker) go when it comes. */
	ch->deletions++;
	while (ch->ring.n > 0)
		channels_evict(cr, channel_ring_at(&ch->ring, 0));
	ch->ring.floor = cr->cs->seq;
	channels_gc_mark(cr, ch);
}

/* What this node knows of a channel (ch NULL: none), for GET. */
static void
channels_info_here(const struct channel *ch, const char *name,
    struct evbuffer *out)
{
	int	has = ch != NULL && ch->last_seq != 0;

	evbuffer_add_printf(out, "{\"channel\":\"%s\",\"subscribers\":"
	    "%u,\"messages\":%zu,\"last_id\":%s%s%s}\n", name,
	    ch != NULL ? ch->nsubs : 0, ch != NULL ? ch->ring.n : 0,
	    has ? "\"" : "", has ? ch->last_id : "null", has ? "\"" : "");
}

/* POST publishes, DELETE drops, GET tells (JSON); under the route's lock. */
static int
channels_api_locked(struct conn *c, struct channels_route *cr,
    const struct http_request *req, const char *name, const uint8_t *body,
    size_t len, struct evbuffer *out, const char **type)
{
	struct channels		*cs = cr->cs;
	const struct app_conf	*ac = channels_conf(cr);
	struct channel		*ch;
	enum channel_kind	 kind;
	char			 full[CHANNELS_FULL_MAX];
	int			 status;

	ch = channels_find(cs, name, strlen(name));
	channels_expire(cr);
	*type = "application/json";
	if (http_method_is(req, "DELETE")) {
		if (ch != NULL)
			channels_delete(cr, ch);
		/* Its stream, and the channel on the other nodes. */
		if (cr->streams)
			(void)cluster_stream_delete(channels_full(cr, name,
			    full, sizeof(full)));
		return 204;
	}
	if (http_method_is(req, "GET")) {
		/* In a cluster, Redis's view: answered later. */
		if (channels_info_cluster(cr, c, name) == 0)
			return 0;
		channels_info_here(ch, name, out);
		return 200;
	}
	kind = channels_kind(req);
	if (kind != CHANNEL_BINARY && !utf8_valid(body, len))
		return channels_error(out, type, 400, "text body is not UTF-8");
	if (kind == CHANNEL_JSON && ac->envelope == CHANNELS_ENV_JSON &&
	    !channel_json_valid(body, len))
		return channels_error(out, type, 400, "body is not JSON");
	if (ch == NULL && ac->history > 0 && cs->n >= ac->max_channels)
		return channels_error(out, type, 503, "too many channels");
	/* In a cluster through the channel's stream: answered later. */
	if ((status = channels_publish_stream(cr, c, name, kind, body,
	    len)) != -1)
		return status == 0 ? 0 :
		    channels_error(out, type, 500, "out of memory");
	return channels_publish_here(cr, name, kind, body, len, out, type);
}

/*
 * Publishes on this node (alone, or Redis away: an id of ours) and
 * answers; under the route's lock.
 */
static int
channels_publish_here(struct channels_route *cr, const char *name,
    enum channel_kind kind, const uint8_t *body, size_t len,
    struct evbuffer *out, const char **type)
{
	struct channels		*cs = cr->cs;
	const struct app_conf	*ac = channels_conf(cr);
	struct channel		*ch;
	char			 id[CHANNEL_ID_MAX];
	int			 n;

	ch = channels_find(cs, name, strlen(name));
	/* Nobody to hear it and nothing kept: no channel is made. */
	if (ch == NULL && ac->history > 0) {
		if (cs->n >= ac->max_channels)
			return channels_error(out, type, 503,
			    "too many channels");
		if ((ch = channels_create(cs, name, strlen(name))) == NULL)
			return channels_error(out, type, 500, "out of memory");
	}
	if ((n = channels_publish(cr, ch, name, kind, body, len, id)) == -1)
		return channels_error(out, type, 500, "publish failed");
	*type = "application/json";
	evbuffer_add_printf(out, "{\"id\":\"%s\",\"subscribers\":%d}\n", id,
	    n);
	return 200;
}

/* A publisher's request: checked, then answered under the route's lock. */
static int
channels_api(struct conn *c, struct app_route *r,
    const struct http_request *req, const char *path, const uint8_t *body,
    size_t len, struct evbuffer *out, const char **type)
{
	struct channels_route	*cr = app_route_data(r);
	const char		*name = channels_name(r, path);
	int			 status;

	if (!channel_name_valid(name, strlen(name)))
		return channels_error(out, type, 400, "invalid channel name");
	if (!channels_allowed(c, name, 1))
		return channels_error(out, type, 403, "channel not allowed");
	hub_lock(cr->hub);
	status = channels_api_locked(c, cr, req, name, body, len, out, type);
	hub_unlock(cr->hub);
	return status;
}

/*
 * Cluster streams: with a [cluster], a channel's messages go through its
 * Redis Stream (cluster_stream_add()), which gives their ids and brings
 * them back to every node, this one included, in one order; a
 * subscriber resuming from an id this node did not hear reads the rest
 * from the stream. While Redis is away, the node publishes alone with
 * ids of its own.
 */

/* The stream's byte for what a message is. */
static int
channels_kind_byte(enum channel_kind kind)
{
	return kind == CHANNEL_JSON ? 'j' : kind == CHANNEL_TEXT ? 't' : 'b';
}

/* What a stream's byte says a message is; -1: not one of ours. */
static int
channels_byte_kind(int b)
{
	return b == 'j' ? CHANNEL_JSON : b == 't' ? CHANNEL_TEXT :
	    b == 'b' ? CHANNEL_BINARY : -1;
}

/* The route's path and a channel name, into buf. */
static const char *
channels_full(const struct channels_route *cr, const char *name, char *buf,
    size_t size)
{
	snprintf(buf, size, "%s%s", app_route_conf(cr->rt)->path, name);
	return buf;
}

/* What subscribers get of a stream entry: its payload and SSE form. */
struct channels_form {
	const void	*payload;
	size_t		 plen;
	int		 binary;
	char		*env;		/* envelope json: the payload */
	char		*sse;
	size_t		 sselen;
};

/* Builds the forms of an entry; -1 when it cannot be (frees). */
static int
channels_form(struct channels_route *cr, const char *name, const char *id,
    int kind, const void *data, size_t len, struct channels_form *f)
{
	memset(f, 0, sizeof(*f));
	if ((kind = channels_byte_kind(kind)) == -1)
		return -1;
	f->payload = data;
	f->plen = len;
	f->binary = kind == CHANNEL_BINARY;
	if (channels_conf(cr)->envelope == CHANNELS_ENV_JSON) {
		if ((f->env = channel_envelope(name, id, kind, data, len,
		    &f->plen)) == NULL)
			return -1;
		f->payload = f->env;
		f->binary = 0;
	}
	if ((f->sse = channel_sse_event(id, NULL, f->binary, f->payload,
	    f->plen, &f->sselen)) == NULL) {
		free(f->env);
		return -1;
	}
	return 0;
}

/* Frees what channels_form() made. */
static void
channels_form_free(struct channels_form *f)
{
	free(f->env);
	free(f->sse);
}

/* Sends one entry to a subscriber (a replay). */
static void
channels_form_send(struct conn *c, const struct channels_form *f)
{
	if (conn_is_sse(c))
		conn_sse_send(c, f->sse, f->sselen);
	else
		conn_queue(c, f->binary ? WS_OP_BINARY : WS_OP_TEXT,
		    f->payload, f->plen);
}

/*
 * An entry of a channel's stream, from any node (ours too), in the
 * stream's order: to our subscribers and history. id NULL: another
 * node deleted the channel.
 */
static void
channels_stream_cb(void *arg, const char *name, size_t name_len,
    const char *id, int kind, const void *data, size_t len)
{
	struct channels_route	*cr = arg;
	struct channels_form	 f;
	struct channel		*ch;
	char			 nm[CHANNEL_NAME_MAX + 1];

	if (!channel_name_valid(name, name_len))
		return;
	memcpy(nm, name, name_len);
	nm[name_len] = '\0';
	hub_lock(cr->hub);
	if (id == NULL) {
		if ((ch = channels_find(cr->cs, nm, name_len)) != NULL)
			channels_delete(cr, ch);
	} else if (channels_form(cr, nm, id, kind, data, len, &f) == 0) {
		channels_deliver(cr, nm, name_len, f.binary ? WS_OP_BINARY :
		    WS_OP_TEXT, f.payload, f.plen, f.sse, f.sselen, id);
		channels_form_free(&f);
	} else
		log_debug("channels: %s%s: stream entry %s not delivered",
		    app_route_conf(cr->rt)->path, nm, id);
	hub_unlock(cr->hub);
}

/* A new op for cr, filed on its list; NULL when out of memory. */
static struct channels_op *
channels_op_new(struct channels_route *cr, const char *name, size_t len)
{
	struct channels_op	*op;

	if ((op = calloc(1, sizeof(*op) + len)) == NULL)
		return NULL;
	if ((op->name = strdup(name)) == NULL) {
		free(op);
		return NULL;
	}
	op->cr = cr;
	op->len = len;
	LIST_INSERT_HEAD(&cr->ops, op, entry);
	return op;
}

/* Frees an op (its route's list no longer holds it). */
static void
channels_op_free(struct channels_op *op)
{
	free(op->name);
	free(op);
}

/* Gives a publisher its held answer, if any; frees op and out. */
static void
channels_op_answer(struct channels_op *op, int status, const char *type,
    struct evbuffer *out)
{
	if (op->hold != NULL)
		conn_api_answer(op->hold, status, type, out);
	if (out != NULL)
		evbuffer_free(out);
	channels_op_free(op);
}

/* Takes an op off its route's list (once). */
static void
channels_op_unlink(struct channels_op *op)
{
	if (op->cr == NULL)
		return;
	LIST_REMOVE(op, entry);
	op->cr = NULL;
}

/* The route goes: its ops' replies find nobody. */
static void
channels_ops_orphan(struct channels_route *cr)
{
	struct channels_op	*op;

	while ((op = LIST_FIRST(&cr->ops)) != NULL)
		channels_op_unlink(op);
}

/* A subscriber leaves: its replay, if one waits, finds nobody. */
static void
channels_ops_leave(struct channels_route *cr, struct conn *c)
{
	struct channels_op	*op;

	LIST_FOREACH(op, &cr->ops, entry)
		if (op->c == c) {
			op->c = NULL;
			op->ch = NULL;
		}
}

/*
 * XADD answered: the publisher hears the id and the subscribers on
 * every node (the message itself comes back through the stream, to
 * every node at once); if Redis did not answer, the message is
 * published here with an id of ours.
 */
static void
channels_added_cb(void *arg, const char *id, long long subs)
{
	struct channels_op	*op = arg;
	struct channels_route	*cr = op->cr;
	struct channel		*ch;
	struct evbuffer		*out = NULL;
	const char		*type = "application/json";
	char			 lid[CHANNEL_ID_MAX];
	int			 status = 200;

	channels_op_unlink(op);
	if (op->hold != NULL && (out = evbuffer_new()) == NULL)
		status = 500;
	else if (cr == NULL) {
		if (out != NULL)
			status = channels_error(out, &type, 503,
			    "route removed");
	} else {
		hub_lock(cr->hub);
		if (id != NULL && out != NULL)
			evbuffer_add_printf(out, "{\"id\":\"%s\","
			    "\"subscribers\":%lld}\n", id, subs);
		else if (id == NULL && out != NULL)
			status = channels_publish_here(cr, op->name, op->kind,
			    op->data, op->len, out, &type);
		else if (id == NULL &&
		    (ch = channels_find(cr->cs, op->name,
		    strlen(op->name))) != NULL)
			(void)channels_publish(cr, ch, op->name, op->kind,
			    op->data, op->len, lid);
		hub_unlock(cr->hub);
	}
	channels_op_answer(op, status, type, out);
}

/*
 * Publishes through the channel's stream: 0 (c NULL: a subscriber's
 * message; else the answer held for the publisher c), 1 when it went
 * but the answer could not be held, -1 when Redis is away or this
 * node alone (publish here). Under the route's lock.
 */
static int
channels_publish_stream(struct channels_route *cr, struct conn *c,
    const char *name, enum channel_kind kind, const void *data, size_t len)
{
	const struct app_conf	*ac = channels_conf(cr);
	struct channels_op	*op;
	char			 full[CHANNELS_FULL_MAX];

	if (!cr->streams ||
	    (op = channels_op_new(cr, name, len)) == NULL)
		return -1;
	op->kind = kind;
	if (len > 0)
		memcpy(op->data, data, len);
	if (cluster_stream_add(channels_full(cr, name, full, sizeof(full)),
	    ac->history, ac->history_ttl, channels_kind_byte(kind), data, len,
	    channels_added_cb, op) == -1) {
		channels_op_unlink(op);
		channels_op_free(op);
		return -1;
	}
	if (c == NULL)
		return 0;
	return (op->hold = conn_api_hold(c)) == NULL ? 1 : 0;
}

/* In a cluster, Redis hears this node's subscribers of ch. */
static void
channels_subs_tell(struct channels_route *cr, struct channel *ch)
{
	char	full[CHANNELS_FULL_MAX];

	if (cr->streams)
		cluster_subs_set(channels_full(cr, ch->name, full,
		    sizeof(full)), ch->nsubs);
}

/*
 * Redis answered a GET: subscribers on every node, the messages a
 * resume may get (the stream's, at most history), the stream's last
 * id; this node's view when Redis failed.
 */
static void
channels_info_cb(void *arg, long long subs, long long length,
    const char *last)
{
	struct channels_op	*op = arg;
	struct channels_route	*cr = op->cr;
	struct channel		*ch;
	struct evbuffer		*out;
	const char		*type = "application/json";
	int			 status = 200;
	unsigned		 max;

	channels_op_unlink(op);
	if ((out = evbuffer_new()) == NULL)
		status = 500;
	else if (cr == NULL)
		status = channels_error(out, &type, 503, "route removed");
	else if (subs < 0) {
		hub_lock(cr->hub);
		ch = channels_find(cr->cs, op->name, strlen(op->name));
		channels_info_here(ch, op->name, out);
		hub_unlock(cr->hub);
	} else {
		max = channels_conf(cr)->history;
		evbuffer_add_printf(out, "{\"channel\":\"%s\",\"subscribers\":"
		    "%lld,\"messages\":%lld,\"last_id\":%s%s%s}\n", op->name,
		    subs, length < max ? length : (long long)max,
		    last != NULL ? "\"" : "", last != NULL ? last : "null",
		    last != NULL ? "\"" : "");
	}
	channels_op_answer(op, status, type, out);
}

/*
 * A GET in a cluster: Redis is asked, the answer held. 0, or -1 when
 * alone or Redis is away (this node's view, now).
 */
static int
channels_info_cluster(struct channels_route *cr, struct conn *c,
    const char *name)
{
	struct channels_op	*op;
	char			 full[CHANNELS_FULL_MAX];

	if (!cr->streams || (op = channels_op_new(cr, name, 0)) == NULL)
		return -1;
	if (cluster_stream_info(channels_full(cr, name, full, sizeof(full)),
	    channels_info_cb, op) == -1) {
		channels_op_unlink(op);
		channels_op_free(op);
		return -1;
	}
	/* Without a hold the answer is dropped: the op frees itself. */
	if ((op->hold = conn_api_hold(c)) == NULL)
		return -1;
	return 0;
}

/* Compares two stream ids; an id that is not one sorts first. */
static int
channels_sid_cmp(const char *a, const char *b)
{
	uint64_t	ams, aseq, bms, bseq;

	if (channel_id_parse(a, strlen(a), &ams, &aseq) == -1)
		return -1;
	if (channel_id_parse(b, strlen(b), &bms, &bseq) == -1)
		return 1;
	if (ams != bms)
		return ams < bms ? -1 : 1;
	return aseq < bseq ? -1 : aseq > bseq;
}

/*
 * The stream answered a replay (entries from since on, the newest
 * first): the subscriber gets those after since (a reset notice first
 * when since is no longer in the stream), then what this node heard
 * since the stream was read, then it joins the channel's hub, all under
 * the route's lock: nothing twice, nothing missed. Redis failed: what
 * this node has, after a reset notice.
 */
static void
channels_fetched_cb(void *arg, const struct cluster_stream_entry *v,
    size_t n, int ok)
{
	struct channels_op	*op = arg;
	struct channels_route	*cr = op->cr;
	struct channels_form	 f;
	struct channel_msg	*m;
	struct channel		*ch = op->ch;
	struct conn		*c = op->c;
	struct hub		*h;
	const char		*last = op->since;
	size_t			 i, max;

	channels_op_unlink(op);
	if (cr == NULL || c == NULL) {
		channels_op_free(op);
		return;
	}
	hub_lock(cr->hub);
	max = channels_conf(cr)->history;
	if (ch->deletions != op->deletions) {
		conn_ws_close(c, WS_CLOSE_NORMAL, "channel deleted");
		hub_unlock(cr->hub);
		channels_op_free(op);
		return;
	}
	if (!ok) {
		channels_send_reset(c, ch);
		for (i = 0; i < ch->ring.n; i++)
			channels_send_msg(c, channel_ring_at(&ch->ring, i));
	} else {
		if (n == 0 || strcmp(v[n - 1].id, op->since) != 0)
			channels_send_reset(c, ch);
		else
			n--;		/* since itself */
		/* history of them at most: the newest. */
		for (i = n > max ? max : n; i-- > 0;) {
			if (channels_form(cr, ch->name, v[i].id, v[i].kind,
			    v[i].data, v[i].len, &f) == 0) {
				channels_form_send(c, &f);
				channels_form_free(&f);
			}
			last = v[i].id;
		}
		/* Heard here after the stream was read. */
		for (i = 0; i < ch->ring.n; i++) {
			m = channel_ring_at(&ch->ring, i);
			if (m->origin[0] != '\0' &&
			    channels_sid_cmp(m->origin, last) > 0)
				channels_send_msg(c, m);
		}
	}
	if ((h = channels_hub(cr, ch)) != NULL)
		conn_join(c, h);
	else
		conn_ws_close(c, WS_CLOSE_INTERNAL, "out of memory");
	hub_unlock(cr->hub);
	channels_op_free(op);
}

/*
 * A subscriber resumes from since, which this node did not hear: the
 * channel's stream is read first. 0 when it is asked (the subscriber
 * joins once it answers), -1 when it cannot be (alone, Redis away, no
 * history, not a stream id).
 */
static int
channels_replay_stream(struct channels_route *cr, struct conn *c,
    struct channel *ch, const char *since)
{
	const struct app_conf	*ac = channels_conf(cr);
	struct channels_op	*op;
	char			 full[CHANNELS_FULL_MAX];

	if (!cr->streams || ac->history == 0 ||
	    !cluster_env_sid_valid(since, strlen(since)) ||
	    (op = channels_op_new(cr, ch->name, 0)) == NULL)
		return -1;
	op->c = c;
	op->ch = ch;
	op->deletions = ch->deletions;
	snprintf(op->since, sizeof(op->since), "%s", since);
	if (cluster_stream_range(channels_full(cr, ch->name, full,
	    sizeof(full)), since, ac->history + 1, channels_fetched_cb,
	    op) == -1) {
		channels_op_unlink(op);
		channels_op_free(op);
		return -1;
	}
	return 0;
}

/*
 * The route's channel counters, for metrics: the route's on every
 * worker; deliveries are what the channels' hubs delivered.
 */
static void
channels_metrics(struct app_route *r, struct stats_channels *st)
{
	struct channels_route	*cr = app_route_data(r);
	struct channels		*cs = cr->cs;
	struct channel		*ch;
	size_t			 i, w, nw = worker_count();

	hub_lock(cr->hub);
	*st = cs->st;
	st->deliveries = cs->delivered;
	for (i = 0; i < cs->tabsize; i++)
		for (ch = cs->tab[i]; ch != NULL; ch = ch->next)
			for (w = 0; w < nw; w++)
				if (ch->slots[w].hub != NULL)
					st->deliveries += hub_stats(
					    ch->slots[w].hub)->delivered;
	hub_unlock(cr->hub);
}

static const struct config_key *const channels_keys[] = {
	&app_key_slow_client,
	&channels_key_history,
	&channels_key_history_ttl,
	&channels_key_history_max_bytes,
	&channels_key_envelope,
	&channels_key_client_publish,
	&channels_key_max_channels,
	&channels_key_sse_keepalive,
	&channels_key_sse_retry,
	NULL
};

const struct app app_channels = {
	.name = "channels",
	.via_hub = 1,
	.binary_ok = 1,
	.keys = channels_keys,
	.route_init = channels_route_init,
	.route_free = channels_route_free,
	.on_open = channels_open,
	.on_message = channels_message,
	.on_close = channels_close,
	.publish = 1,
	.prefix = 1,
	.methods = "GET, POST, DELETE",
	.on_request = channels_request,
	.on_api = channels_api,
	.metrics = channels_metrics,
};
