/*
 * channels.c -- named channels below a route ("/live/news"): subscribers
 * over WebSocket or Server-Sent Events, messages published over HTTP
 * (POST) or, with client_publish, by subscribers; per-channel history
 * with EPOCH-SEQ ids, so that a subscriber resumes where it left off.
 * Every channel is a hub: a message is encoded once (frame and SSE form)
 * and shared by every subscriber, under the route's slow_client policy.
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
#include "config.h"
#include "http.h"
#include "hub.h"
#include "jwt.h"
#include "log.h"
#include "stats.h"
#include "utf8.h"
#include "ws.h"

/* envelope = off|json */
enum channels_envelope {
	CHANNELS_ENV_OFF = 0,
	CHANNELS_ENV_JSON,
};

struct channels;

/* One channel: its subscribers' hub and its history. */
struct channel {
	struct channel		*next;		/* hash chain */
	struct channel		*gc_next;	/* on the route's gc list */
	struct channels		*cs;
	struct hub		*hub;
	struct channel_ring	 ring;
	uint64_t		 last_seq;	/* last published; 0: none */
	char			 last_id[CHANNEL_ID_MAX]; /* its id */
	unsigned		 nsse;		/* SSE subscribers */
	unsigned		 on_gc:1;
	char			 name[];
};

/* A channels route: its channels by name and every retained message. */
struct channels {
	struct app_route	*rt;
	struct channel		**tab;
	size_t			 tabsize;	/* a power of 2 */
	unsigned		 n;
	uint64_t		 seq;		/* the route's last message */
	struct channel_msgs	 msgs;		/* retained, publish order */
	struct channel		*gc;		/* maybe empty: look again */
	struct app_timer	*timer;		/* gc and history_ttl */
	struct stats_channels	 st;
	/* In a cluster: the other nodes' messages; NULL when alone. */
	struct cluster_sink	*sink;
};

static void	channels_remote_cb(void *, const char *, size_t, int,
		    const void *, size_t, const void *, size_t);

/* Ids name the run that gave them out: a restart is recognised. */
static uint64_t	channels_epoch;

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

/* The route's settings now (a reload may have changed them). */
static const struct app_conf *
channels_conf(const struct channels *cs)
{
	return app_conf(app_route_conf(cs->rt));
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

/* Creates a channel; NULL when out of memory. */
static struct channel *
channels_create(struct channels *cs, const char *name, size_t len)
{
	struct channel	*ch;
	size_t		 b;
	char		 hubname[256];

	if (cs->n >= cs->tabsize && channels_grow(cs) == -1)
		return NULL;
	if ((ch = calloc(1, sizeof(*ch) + len + 1)) == NULL)
		return NULL;
	memcpy(ch->name, name, len);
	snprintf(hubname, sizeof(hubname), "%s%s",
	    app_route_conf(cs->rt)->path, ch->name);
	if ((ch->hub = hub_new(hubname,
	    app_route_conf(cs->rt)->lim.max_send_buffer,
	    (enum hub_policy)channels_conf(cs)->slow_client)) == NULL) {
		free(ch);
		return NULL;
	}
	ch->cs = cs;
	/* Every message it will have comes after the route's last one. */
	channel_ring_init(&ch->ring, cs->seq);
	b = channels_hash(name, len) & (cs->tabsize - 1);
	ch->next = cs->tab[b];
	cs->tab[b] = ch;
	cs->n++;
	cs->st.channels = cs->n;
	return ch;
}

/* Frees an empty channel (no subscribers, no history). */
static void
channels_destroy(struct channel *ch)
{
	struct channels	*cs = ch->cs;
	struct channel	**pp;

	pp = &cs->tab[channels_hash(ch->name, strlen(ch->name)) &
	    (cs->tabsize - 1)];
	while (*pp != ch)
		pp = &(*pp)->next;
	*pp = ch->next;
	cs->n--;
	cs->st.channels = cs->n;
	hub_free(ch->hub);
	channel_ring_free(&ch->ring);
	free(ch);
}

/* Looks at ch again soon: freed if it is empty by then. */
static void
channels_gc_mark(struct channel *ch)
{
	struct channels	*cs = ch->cs;

	if (ch->on_gc)
		return;
	ch->on_gc = 1;
	ch->gc_next = cs->gc;
	cs->gc = ch;
	app_timer_add(cs->timer, 0);
}

/* Drops the oldest retained message of the route or of one channel. */
static void
channels_evict(struct channels *cs, struct channel_msg *m)
{
	struct channel	*ch = m->owner;

	/* A channel's oldest is the route's oldest of that channel. */
	if (channel_ring_pop(&ch->ring) != m)
		fatalx("%s: history out of order", __func__);
	TAILQ_REMOVE(&cs->msgs, m, entry);
	cs->st.history_msgs--;
	cs->st.history_bytes -= m->len;
	free(m);
	if (ch->ring.n == 0)
		channels_gc_mark(ch);
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
channels_expire(struct channels *cs)
{
	const struct app_conf	*ac = channels_conf(cs);
	struct channel_msg	*m;
	double			 old = channels_now() - ac->history_ttl;

	while ((m = TAILQ_FIRST(&cs->msgs)) != NULL &&
	    (m->t < old || cs->st.history_bytes > ac->history_max_bytes ||
	    ((struct channel *)m->owner)->ring.n > ac->history))
		channels_evict(cs, m);
}

/* Frees the channels that were left empty; expires history. */
static void
channels_timer_cb(void *arg)
{
	struct channels	*cs = arg;
	struct channel	*ch;

	channels_expire(cs);
	while ((ch = cs->gc) != NULL) {
		cs->gc = ch->gc_next;
		ch->on_gc = 0;
		if (hub_size(ch->hub) == 0 && ch->ring.n == 0)
			channels_destroy(ch);
	}
	if (!TAILQ_EMPTY(&cs->msgs))
		app_timer_add(cs->timer, CHANNELS_GC_PERIOD);
}

/* The route's state and its timer. */
static int
channels_route_init(struct app_route *r)
{
	struct channels	*cs;

	if (channels_epoch == 0)
		channels_epoch = (uint64_t)time(NULL) * 1000 +
		    arc4random_uniform(1000);
	if ((cs = calloc(1, sizeof(*cs))) == NULL)
		return -1;
	cs->rt = r;
	TAILQ_INIT(&cs->msgs);
	if ((cs->timer = app_timer_new(r, channels_timer_cb, cs)) == NULL) {
		free(cs);
		return -1;
	}
	app_route_set_data(r, cs);
	cs->sink = cluster_sink_new(app_route_conf(r)->path, channels_remote_cb,
	    cs);
	return 0;
}

/* Frees every channel (their subscribers are gone) and the history. */
static void
channels_route_free(struct app_route *r)
{
	struct channels		*cs = app_route_data(r);
	struct channel_msg	*m;
	struct channel		*ch;
	size_t			 i;

	if (cs == NULL)
		return;
	while ((m = TAILQ_FIRST(&cs->msgs)) != NULL) {
		TAILQ_REMOVE(&cs->msgs, m, entry);
		free(m);
	}
	for (i = 0; i < cs->tabsize; i++)
		while ((ch = cs->tab[i]) != NULL) {
			cs->tab[i] = ch->next;
			hub_free(ch->hub);
			channel_ring_free(&ch->ring);
			free(ch);
		}
	free(cs->tab);
	cluster_sink_free(cs->sink);
	app_timer_free(cs->timer);
	free(cs);
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
	struct channels	*cs = app_route_data(r);
	const char	*name = channels_name(r, path);

	(void)req;
	if (!channel_name_valid(name, strlen(name))) {
		*why = "invalid channel name";
		return 400;
	}
	if (!channels_allowed(c, name, 0)) {
		*why = "channel not allowed";
		return 403;
	}
	if (channels_find(cs, name, strlen(name)) == NULL &&
	    cs->n >= channels_conf(cs)->max_channels) {
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
		channel_id_format(id, channels_epoch, m->seq);
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
 * one go, so nothing published meanwhile can fall between the two.
 */
static void
channels_open(struct conn *c)
{
	const struct http_request *req = conn_open_request();
	struct app_route	*r = conn_app_route(c);
	struct channels		*cs = app_route_data(r);
	struct channel		*ch;
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
	if ((ch = channels_find(cs, name, strlen(name))) == NULL &&
	    (ch = channels_create(cs, name, strlen(name))) == NULL) {
		log_warnx("%s: channel %s: out of memory", conn_peer(c), name);
		conn_ws_close(c, WS_CLOSE_INTERNAL, "out of memory");
		return;
	}
	if (conn_is_sse(c)) {
		snprintf(since, sizeof(since), "retry: %.0f\n\n",
		    channels_conf(cs)->sse_retry * 1000);
		conn_sse_send(c, since, strlen(since));
		ch->nsse++;
	}
	conn_set_app_data(c, ch);
	cs->st.subscribers++;
	channels_expire(cs);
	if (channels_since(req, since, sizeof(since))) {
		if (channel_id_parse(since, strlen(since), &epoch, &seq) == -1)
			reset = 1;
		else if (epoch != channels_epoch) {
			/* Another node's id: that message, if we heard it. */
			reset = channel_ring_find(&ch->ring, since, &first) ==
			    -1;
			first++;
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
	conn_join(c, ch->hub);
}

/* A subscriber left: its channel may be empty now. */
static void
channels_close(struct conn *c)
{
	struct app_route	*r = conn_app_route(c);
	struct channels		*cs = app_route_data(r);
	struct channel		*ch = conn_app_data(c);

	if (ch == NULL)
		return;
	conn_set_app_data(c, NULL);
	cs->st.subscribers--;
	if (conn_is_sse(c))
		ch->nsse--;
	channels_gc_mark(ch);
}

/*
 * Keeps a message just published (seq cs->seq) in the channel's history,
 * with the id its publisher gave it (origin; "": ours).
 */
static void
channels_keep(struct channels *cs, struct channel *ch, int binary,
    const void *payload, size_t plen, const char *origin)
{
	struct channel_msg	*m;

	if (channels_conf(cs)->history == 0)
		ch->ring.floor = cs->seq;	/* nothing after it is kept */
	else if ((m = channel_msg_new(cs->seq, channels_now(), binary,
	    payload, plen)) == NULL || channel_ring_push(&ch->ring, m) == -1) {
		/* Not kept: a subscriber resuming from before it is reset. */
		free(m);
		log_warnx("channel %s: history: out of memory", ch->name);
		while (ch->ring.n > 0)
			channels_evict(cs, channel_ring_at(&ch->ring, 0));
		ch->ring.floor = cs->seq;
	} else {
		m->owner = ch;
		snprintf(m->origin, sizeof(m->origin), "%s", origin);
		TAILQ_INSERT_TAIL(&cs->msgs, m, entry);
		cs->st.history_msgs++;
		cs->st.history_bytes += plen;
		if (TAILQ_FIRST(&cs->msgs) == m)
			app_timer_add(cs->timer, CHANNELS_GC_PERIOD);
		channels_expire(cs);
	}
}

/*
 * Another node published to channel name: its message goes to our
 * subscribers and into our history under the id that node gave it, so
 * that a subscriber may resume on any node (from what this node heard).
 */
static void
channels_remote_cb(void *arg, const char *name, size_t name_len, int opcode,
    const void *data, size_t len, const void *sse, size_t sse_len)
{
	struct channels		*cs = arg;
	const struct app_conf	*ac = channels_conf(cs);
	struct channel		*ch;
	const struct hub_stats	*hs;
	uint64_t		 before;
	char			 id[CHANNEL_ID_MAX];

	if (!channel_name_valid(name, name_len) || sse == NULL ||
	    channel_sse_id(sse, sse_len, id) == -1) {
		log_debug("channels: %s: a message from another node without "
		    "a channel or id", app_route_conf(cs->rt)->path);
		return;
	}
	/* Nobody to hear it and nothing kept: no channel is made. */
	if ((ch = channels_find(cs, name, name_len)) == NULL) {
		if (ac->history == 0 || cs->n >= ac->max_channels ||
		    (ch = channels_create(cs, name, name_len)) == NULL)
			return;
		channels_gc_mark(ch);
	}
	cs->seq++;
	cs->st.published++;
	ch->last_seq = cs->seq;
	snprintf(ch->last_id, sizeof(ch->last_id), "%s", id);
	hs = hub_stats(ch->hub);
	before = hs->delivered;
	hub_inject(ch->hub, opcode, data, len, ch->nsse > 0 ? sse : NULL,
	    ch->nsse > 0 ? sse_len : 0, 0);
	cs->st.deliveries += hs->delivered - before;
	channels_keep(cs, ch, opcode == WS_OP_BINARY, data, len, id);
}

/*
 * A message for channel name, which this node does not have: only the
 * other nodes of a cluster may have subscribers for it. 0, or -1 when a
 * JSON body does not parse (envelope json) or memory ran out.
 */
static int
channels_publish_remote(struct channels *cs, const char *name,
    enum channel_kind kind, const void *data, size_t len, const char *id)
{
	char		*env = NULL, *sse, hubname[256];
	const void	*payload = data;
	size_t		 plen = len, sselen;
	int		 binary = kind == CHANNEL_BINARY;

	if (!hub_bridged())
		return 0;
	if (channels_conf(cs)->envelope == CHANNELS_ENV_JSON) {
		if ((env = channel_envelope(name, id, kind, data, len,
		    &plen)) == NULL)
			return -1;
		payload = env;
		binary = 0;
	}
	if ((sse = channel_sse_event(id, NULL, binary, payload, plen,
	    &sselen)) == NULL) {
		free(env);
		return -1;
	}
	snprintf(hubname, sizeof(hubname), "%s%s", app_route_conf(cs->rt)->path,
	    name);
	hub_publish_remote(hubname, binary ? WS_OP_BINARY : WS_OP_TEXT,
	    payload, plen, sse, sselen, 0);
	free(sse);
	free(env);
	return 0;
}

/*
 * Publishes one message to a channel (NULL: nobody here listens and
 * nothing is kept: only the id is given out, and the message goes to
 * the other nodes of a cluster). Returns the number of subscribers
 * on this node it was queued for, -1 when a JSON body does not parse
 * (envelope json) or memory ran out; id gets its id.
 */
static int
channels_publish(struct channels *cs, struct channel *ch, const char *name,
    enum channel_kind kind, const void *data, size_t len,
    char id[CHANNEL_ID_MAX])
{
	const struct app_conf	*ac = channels_conf(cs);
	const struct hub_stats	*hs;
	uint64_t		 before;
	char			*env = NULL, *sse = NULL;
	const void		*payload = data;
	size_t			 plen = len, sselen = 0;
	int			 binary = kind == CHANNEL_BINARY, n;

	channel_id_format(id, channels_epoch, cs->seq + 1);
	if (ch == NULL) {
		cs->seq++;
		cs->st.published++;
		return channels_publish_remote(cs, name, kind, data, len, id);
	}
	if (ac->envelope == CHANNELS_ENV_JSON) {
		if ((env = channel_envelope(ch->name, id, kind, data, len,
		    &plen)) == NULL)
			return -1;
		payload = env;
		binary = 0;
	}
	cs->seq++;
	cs->st.published++;
	ch->last_seq = cs->seq;
	snprintf(ch->last_id, sizeof(ch->last_id), "%s", id);
	/* Other nodes of a cluster may have SSE subscribers. */
	if ((ch->nsse > 0 || hub_bridged()) && (sse = channel_sse_event(id,
	    NULL, binary, payload, plen, &sselen)) == NULL) {
		free(env);
		return -1;
	}
	hub_set_limit(ch->hub, app_route_conf(cs->rt)->lim.max_send_buffer,
	    (enum hub_policy)ac->slow_client);
	hs = hub_stats(ch->hub);
	before = hs->delivered;
	hub_publish_sse(ch->hub, binary ? WS_OP_BINARY : WS_OP_TEXT, payload,
	    plen, sse, sselen, 0, NULL);
	n = (int)(hs->delivered - before);
	cs->st.deliveries += (uint64_t)n;
	free(sse);
	channels_keep(cs, ch, binary, payload, plen, "");
	free(env);
	return n;
}

/* A subscriber's message: published with client_publish, else refused. */
static void
channels_message(struct conn *c, int opcode, const uint8_t *data, size_t len)
{
	struct app_route	*r = conn_app_route(c);
	struct channels		*cs = app_route_data(r);
	struct channel		*ch = conn_app_data(c);
	char			 id[CHANNEL_ID_MAX];

	if (ch == NULL)
		return;
	if (!channels_conf(cs)->client_publish) {
		log_limited(conn_log_limit(c), "channels: client message",
		    LOG_LVL_INFO, "channels: %s: message on %s%s refused: "
		    "client_publish is off", conn_peer(c),
		    app_route_conf(r)->path, ch->name);
		conn_ws_close(c, WS_CLOSE_POLICY, "subscribers may not publish");
		return;
	}
	if (channels_publish(cs, ch, ch->name, opcode == WS_OP_BINARY ?
	    CHANNEL_BINARY : CHANNEL_TEXT, data, len, id) == -1)
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

/* POST publishes, DELETE drops, GET tells (JSON). */
static int
channels_api(struct conn *c, struct app_route *r,
    const struct http_request *req, const char *path, const uint8_t *body,
    size_t len, struct evbuffer *out, const char **type)
{
	struct channels		*cs = app_route_data(r);
	const struct app_conf	*ac = channels_conf(cs);
	struct channel		*ch;
	enum channel_kind	 kind;
	const char		*name = channels_name(r, path);
	char			 id[CHANNEL_ID_MAX];
	int			 n, status;

	if (!channel_name_valid(name, strlen(name)))
		return channels_error(out, type, 400, "invalid channel name");
	if (!channels_allowed(c, name, 1))
		return channels_error(out, type, 403, "channel not allowed");
	ch = channels_find(cs, name, strlen(name));
	channels_expire(cs);
	*type = "application/json";
	if (http_method_is(req, "DELETE")) {
		if (ch != NULL) {
			hub_each(ch->hub, channels_kick_cb, NULL);
			while (ch->ring.n > 0)
				channels_evict(cs, channel_ring_at(&ch->ring,
				    0));
			ch->ring.floor = cs->seq;
			channels_gc_mark(ch);
		}
		return 204;
	}
	if (http_method_is(req, "GET")) {
		if (ch != NULL && ch->last_seq != 0)
			snprintf(id, sizeof(id), "%s", ch->last_id);
		evbuffer_add_printf(out, "{\"channel\":\"%s\",\"subscribers\":"
		    "%u,\"messages\":%zu,\"last_id\":%s%s%s}\n", name,
		    ch != NULL ? hub_size(ch->hub) : 0,
		    ch != NULL ? ch->ring.n : 0,
		    ch != NULL && ch->last_seq != 0 ? "\"" : "",
		    ch != NULL && ch->last_seq != 0 ? id : "null",
		    ch != NULL && ch->last_seq != 0 ? "\"" : "");
		return 200;
	}
	kind = channels_kind(req);
	if (kind != CHANNEL_BINARY && !utf8_valid(body, len))
		return channels_error(out, type, 400, "text body is not UTF-8");
	if (kind == CHANNEL_JSON && ac->envelope == CHANNELS_ENV_JSON &&
	    !channel_json_valid(body, len))
		return channels_error(out, type, 400, "body is not JSON");
	/* Nobody to hear it and nothing kept: no channel is made. */
	if (ch == NULL && ac->history > 0) {
		if (cs->n >= ac->max_channels)
			return channels_error(out, type, 503,
			    "too many channels");
		if ((ch = channels_create(cs, name, strlen(name))) == NULL)
			return channels_error(out, type, 500, "out of memory");
	}
	if ((n = channels_publish(cs, ch, name, kind, body, len, id)) == -1) {
		status = channels_error(out, type, 500, "publish failed");
		return status;
	}
	*type = "application/json";
	evbuffer_add_printf(out, "{\"id\":\"%s\",\"subscribers\":%d}\n", id,
	    n);
	return 200;
}

/* The route's channel counters, for metrics. */
static void
channels_metrics(struct app_route *r, struct stats_channels *st)
{
	struct channels	*cs = app_route_data(r);

	*st = cs->st;
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
