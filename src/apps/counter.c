/* counter.c -- a shared counter: clients press plus or minus, all see it. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "app.h"
#include "apps/counter.h"
#include "cluster.h"
#include "config.h"
#include "hub.h"
#include "log.h"
#include "worker.h"
#include "ws.h"

/* Conflation keys: a slow client only needs the newest of each. */
#define COUNTER_KEY_USERS	0
#define COUNTER_KEY_VALUE	1

/* How much of an unsupported message goes into the log line. */
#define COUNTER_EXCERPT_MAX	80

/*
 * Users events are coalesced: the first change after a quiet spell goes
 * out at once and opens a window of this many seconds; changes inside it
 * go out as one event, with the count of the moment, when it ends (which
 * opens the next window). A burst of joins costs each member a few
 * events, not one per join, and the last one is always exact.
 */
#define COUNTER_USERS_WINDOW	0.05

/*
 * The route's value and the users events' window: one for the route on
 * every worker (hub_shared()), read and changed under hub_lock(), which
 * also orders the publishes, so every member sees the changes in the
 * order they were made and ends at the same value.
 */
struct counter_shared {
	long long		 value;
	unsigned		 in_window:1;	/* an event went out lately */
	unsigned		 pending:1;	/* a change awaits the window end */
	/* The newest joiner inside the window, told its count directly. */
	struct conn		*fresh;
	unsigned		 fresh_count;
	/*
	 * In a cluster: worker 0's part, which holds the link's counter;
	 * set and read on worker 0 only.
	 */
	struct counter_route	*owner;
};

/* A worker's part of the route: the timer of a window it opened. */
struct counter_route {
	struct app_route	*route;
	struct app_timer	*window;	/* ends the window */
	/*
	 * In a cluster, on worker 0: value and users total live in Redis;
	 * else NULL (the other workers hand worker 0 their changes).
	 */
	struct cluster_counter	*cc;
};

static void	counter_publish_users(struct hub *, unsigned, struct conn *);
static void	counter_add_local(struct hub *, struct counter_shared *, int,
		    struct conn *);

/* The shared state; the caller holds hub_lock(). NULL: out of memory. */
static struct counter_shared *
counter_shared(struct counter_route *cr)
{
	return hub_shared(app_route_hub(cr->route), sizeof(struct
	    counter_shared));
}

/* Maps a message to +1 (plus), -1 (minus) or 0 (anything else). */
int
counter_parse_action(const uint8_t *data, size_t len)
{
	json_t		*root, *action;
	json_error_t	 error;
	const char	*s;
	int		 delta = 0;

	/* Top level must be an object: no JSON_DECODE_ANY. */
	if ((root = json_loadb((const char *)data, len, 0, &error)) == NULL)
		return 0;
	if (json_is_object(root) &&
	    (action = json_object_get(root, "action")) != NULL &&
	    json_is_string(action)) {
		s = json_string_value(action);
		if (strcmp(s, "plus") == 0)
			delta = 1;
		else if (strcmp(s, "minus") == 0)
			delta = -1;
	}
	json_decref(root);
	return delta;
}

/* Adds delta to *value unless that would overflow. */
int
counter_apply(long long *value, int delta)
{
	if ((delta > 0 && *value > LLONG_MAX - delta) ||
	    (delta < 0 && *value < LLONG_MIN - delta))
		return -1;
	*value += delta;
	return 0;
}

/* Encodes {"type":TYPE,KEY:N} compactly, keys in that order. */
static size_t
counter_json(char out[COUNTER_JSON_MAX], const char *type, const char *key,
    long long n)
{
	json_t	*obj;
	size_t	 len;

	/* "I" is json_int_t, long long on every platform we build on. */
	if ((obj = json_pack("{s:s,s:I}", "type", type, key,
	    (json_int_t)n)) == NULL)
		return 0;
	len = json_dumpb(obj, out, COUNTER_JSON_MAX,
	    JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(obj);
	/* json_dumpb returns the size it needs, even when out is too small. */
	if (len > COUNTER_JSON_MAX)
		return 0;
	return len;
}

/* Encodes the users event. */
size_t
counter_users_json(char out[COUNTER_JSON_MAX], unsigned count)
{
	return counter_json(out, "users", "count", count);
}

/* Encodes the value event. */
size_t
counter_value_json(char out[COUNTER_JSON_MAX], long long value)
{
	return counter_json(out, "value", "value", value);
}

/*
 * Copies the start of a message for a log line: control bytes become '?'
 * so a client cannot forge log lines, and a cut never splits a UTF-8
 * sequence (text messages are valid UTF-8).
 */
static void
counter_excerpt(char out[COUNTER_EXCERPT_MAX + 4], const uint8_t *data,
    size_t len)
{
	size_t	 i, n = len;

	if (n > COUNTER_EXCERPT_MAX) {
		n = COUNTER_EXCERPT_MAX;
		while (n > 0 && (data[n] & 0xc0) == 0x80)
			n--;
	}
	for (i = 0; i < n; i++)
		out[i] = (data[i] < 0x20 || data[i] == 0x7f) ? '?' : data[i];
	if (n < len) {
		memcpy(out + n, "...", 3);
		n += 3;
	}
	out[n] = '\0';
}

/* Publishes the users count to every member but except. */
static void
counter_publish_users(struct hub *hub, unsigned count, struct conn *except)
{
	char	 buf[COUNTER_JSON_MAX];
	size_t	 len;

	if ((len = counter_users_json(buf, count)) == 0) {
		log_warnx("counter: cannot encode users event");
		return;
	}
	hub_publish(hub, WS_OP_TEXT, buf, len, COUNTER_KEY_USERS, except);
}

/*
 * Whether Redis holds the value and users total now: on worker 0 the
 * link's counter says; the other workers hand worker 0 their changes
 * while the link is up.
 */
static int
counter_clustered(const struct counter_route *cr)
{
	if (cr->cc != NULL)
		return cluster_counter_shared(cr->cc);
	return worker_self() != 0 && cluster_linked();
}

/* Whether c's worker hands its changes to worker 0's link. */
static int
counter_via_worker0(const struct counter_route *cr)
{
	return cr->cc == NULL && worker_self() != 0 && cluster_active();
}

/*
 * On worker 0: the node's users (every worker's) to Redis, counted now,
 * so the last call sends the newest count (and Redis away, the count
 * the link re-registers later). Without Redis the count goes to our
 * members.
 */
static void
counter_users_hub0(struct hub *hub, void *arg)
{
	struct counter_shared	*sh;
	struct counter_route	*cr;
	unsigned		 n;

	(void)arg;
	hub_lock(hub);
	n = hub_total(hub);
	if ((sh = hub_shared(hub, sizeof(*sh))) != NULL &&
	    ((cr = sh->owner) == NULL || cr->cc == NULL ||
	    cluster_counter_users(cr->cc, n) == -1) && n > 0)
		counter_publish_users(hub, n, NULL);
	hub_unlock(hub);
}

/*
 * On worker 0: another worker's plus or minus, to Redis; Redis away, to
 * the value here (and to Redis once it is back).
 */
static void
counter_add_hub0(struct hub *hub, void *arg)
{
	struct counter_shared	*sh;
	struct counter_route	*cr;
	int			 delta = *(int *)arg;

	hub_lock(hub);
	if ((sh = hub_shared(hub, sizeof(*sh))) != NULL &&
	    ((cr = sh->owner) == NULL || cr->cc == NULL ||
	    cluster_counter_add(cr->cc, delta) == -1))
		counter_add_local(hub, sh, delta, NULL);
	hub_unlock(hub);
}

/*
 * Publishes the users count to every member but except, unless nobody
 * would get it, and opens a window (this worker's timer ends it).
 */
static void
counter_users_now(struct counter_route *cr, struct counter_shared *sh,
    unsigned count, struct conn *except)
{
	struct hub	*hub = app_route_hub(cr->route);

	/*
	 * In a cluster the total comes back from Redis, to every node;
	 * worker 0 sends it (or, Redis away, the count).
	 */
	if ((cr->cc != NULL && cluster_counter_users(cr->cc, count) == 0) ||
	    counter_via_worker0(cr)) {
		if (cr->cc == NULL)
			hub_group_call(hub, 0, counter_users_hub0, NULL);
		sh->in_window = 1;
		app_timer_add(cr->window, COUNTER_USERS_WINDOW);
		return;
	}
	if (hub_total(hub) <= (except != NULL ? 1 : 0))
		return;
	counter_publish_users(hub, count, except);
	sh->in_window = 1;
	app_timer_add(cr->window, COUNTER_USERS_WINDOW);
}

/* The window ends: the changes made inside it go out as one event. */
static void
counter_window_cb(void *arg)
{
	struct counter_route	*cr = arg;
	struct hub		*hub = app_route_hub(cr->route);
	struct counter_shared	*sh;
	struct conn		*except = NULL;
	unsigned		 n;

	hub_lock(hub);
	if ((sh = counter_shared(cr)) == NULL) {
		hub_unlock(hub);
		return;
	}
	n = hub_total(hub);
	sh->in_window = 0;
	if (sh->pending) {
		sh->pending = 0;
		/* The newest joiner already knows this count. */
		if (sh->fresh != NULL && sh->fresh_count == n)
			except = sh->fresh;
		sh->fresh = NULL;
		counter_users_now(cr, sh, n, except);
	}
	hub_unlock(hub);
}

/*
 * The users count is now count; except (the joiner or the leaver) is
 * not told. Inside a window the change waits for its end.
 */
static void
counter_users_changed(struct counter_route *cr, struct counter_shared *sh,
    unsigned count, struct conn *except)
{
	if (sh->in_window)
		sh->pending = 1;
	else
		counter_users_now(cr, sh, count, except);
}

/* The cluster's new value (any node's plus or minus): to our members. */
static void
counter_cluster_value_cb(void *arg, long long value)
{
	struct counter_route	*cr = arg;
	struct hub		*hub = app_route_hub(cr->route);
	struct counter_shared	*sh;
	char			 buf[COUNTER_JSON_MAX];
	size_t			 len;

	hub_lock(hub);
	if ((sh = counter_shared(cr)) != NULL)
		sh->value = value;
	if ((len = counter_value_json(buf, value)) == 0)
		log_warnx("counter: cannot encode value event");
	else
		hub_inject(hub, WS_OP_TEXT, buf, len, NULL, 0,
		    COUNTER_KEY_VALUE);
	hub_unlock(hub);
}

/* The cluster's new users total: to our members. */
static void
counter_cluster_users_cb(void *arg, long long total)
{
	struct counter_route	*cr = arg;
	char			 buf[COUNTER_JSON_MAX];
	size_t			 len;

	if ((len = counter_users_json(buf, total > UINT_MAX ? UINT_MAX :
	    (unsigned)total)) == 0) {
		log_warnx("counter: cannot encode users event");
		return;
	}
	hub_inject(app_route_hub(cr->route), WS_OP_TEXT, buf, len, NULL, 0,
	    COUNTER_KEY_USERS);
}

/* Creates the route's value, starting at 0, and the window's timer. */
static int
counter_route_init(struct app_route *r)
{
	struct counter_route	*cr;
	struct counter_shared	*sh;

	if ((cr = calloc(1, sizeof(*cr))) == NULL) {
		log_warn("counter: calloc");
		return -1;
	}
	cr->route = r;
	if ((cr->window = app_timer_new(r, counter_window_cb, cr)) == NULL) {
		log_warnx("counter: %s: cannot create timer",
		    app_route_conf(r)->path);
		free(cr);
		return -1;
	}
	app_route_set_data(r, cr);
	cr->cc = cluster_counter_new(app_route_conf(r)->path,
	    counter_cluster_value_cb, counter_cluster_users_cb, cr);
	if (worker_self() == 0 && cluster_active()) {
		hub_lock(app_route_hub(r));
		if ((sh = counter_shared(cr)) != NULL)
			sh->owner = cr;
		hub_unlock(app_route_hub(r));
	}
	return 0;
}

/* Frees the route's value and timer. */
static void
counter_route_free(struct app_route *r)
{
	struct counter_route	*cr;
	struct counter_shared	*sh;

	if ((cr = app_route_data(r)) == NULL)
		return;
	app_route_set_data(r, NULL);
	if (worker_self() == 0 && cluster_active()) {
		hub_lock(app_route_hub(r));
		if ((sh = counter_shared(cr)) != NULL && sh->owner == cr)
			sh->owner = NULL;
		hub_unlock(app_route_hub(r));
	}
	cluster_counter_free(cr->cc);
	app_timer_free(cr->window);
	free(cr);
}

/*
 * Tells the others the new user count, at once or at the window's end,
 * and the newcomer the count (in a cluster: Redis's total, soon) and the
 * value at once: under the lock, so that what it gets later through the
 * hub is what came after.
 */
static void
counter_open(struct conn *c)
{
	struct app_route	*r = conn_app_route(c);
	struct counter_route	*cr = app_route_data(r);
	struct hub		*hub = app_route_hub(r);
	struct counter_shared	*sh;
	char			 buf[COUNTER_JSON_MAX];
	size_t			 len;
	unsigned		 n;

	hub_lock(hub);
	if ((sh = counter_shared(cr)) == NULL) {
		hub_unlock(hub);
		log_warnx("counter: out of memory");
		conn_ws_close(c, WS_CLOSE_INTERNAL, "out of memory");
		return;
	}
	conn_join_hub(c);
	n = hub_total(hub);
	counter_users_changed(cr, sh, n, c);
	if (sh->in_window && sh->pending) {
		sh->fresh = c;
		sh->fresh_count = n;
	}
	/* In a cluster the total comes from Redis, like everyone's. */
	if (!counter_clustered(cr)) {
		if ((len = counter_users_json(buf, n)) == 0)
			log_warnx("counter: cannot encode users event");
		else
			conn_send(c, WS_OP_TEXT, buf, len);
	}
	if ((len = counter_value_json(buf, sh->value)) == 0)
		log_warnx("counter: cannot encode value event");
	else
		conn_send(c, WS_OP_TEXT, buf, len);
	hub_unlock(hub);
}

/* Applies plus or minus and tells everyone the new value. */
static void
counter_message(struct conn *c, int opcode, const uint8_t *data, size_t len)
{
	struct app_route	*r = conn_app_route(c);
	struct counter_route	*cr = app_route_data(r);
	struct hub		*hub = app_route_hub(r);
	struct counter_shared	*sh;
	char			 excerpt[COUNTER_EXCERPT_MAX + 4];
	int			 delta, *d;

	(void)opcode;		/* text only: binary_ok is 0 */
	if ((delta = counter_parse_action(data, len)) == 0) {
		/* A bad event is the client's problem: log it (a few
		 * times per client), carry on. */
		counter_excerpt(excerpt, data, len);
		log_limited(conn_log_limit(c), "counter: unsupported event",
		    LOG_LVL_INFO, "counter: %s: unsupported event: %s",
		    conn_peer(c), excerpt);
		return;
	}
	/*
	 * In a cluster, Redis applies the delta: its value comes back.
	 * Worker 0 holds the link: the others hand it theirs.
	 */
	if (cr->cc != NULL && cluster_counter_add(cr->cc, delta) == 0)
		return;
	if (counter_via_worker0(cr) && (d = malloc(sizeof(*d))) != NULL) {
		*d = delta;
		hub_group_call(hub, 0, counter_add_hub0, d);
		return;
	}
	/* Alone, or Redis away: the value here, to our members. */
	hub_lock(hub);
	if ((sh = counter_shared(cr)) == NULL)
		log_warnx("counter: out of memory");
	else
		counter_add_local(hub, sh, delta, c);
	hub_unlock(hub);
}

/*
 * Adds delta to the value here and tells every member; c pressed it
 * (NULL: a client of another worker). The caller holds hub_lock().
 */
static void
counter_add_local(struct hub *hub, struct counter_shared *sh, int delta,
    struct conn *c)
{
	char	 buf[COUNTER_JSON_MAX];
	size_t	 n;

	if (counter_apply(&sh->value, delta) == -1) {
		if (c != NULL)
			log_limited(conn_log_limit(c), "counter: value at its "
			    "limit", LOG_LVL_INFO, "counter: %s: value %lld at "
			    "its limit, %s ignored", conn_peer(c), sh->value,
			    delta > 0 ? "plus" : "minus");
		else
			log_info("counter: value %lld at its limit, %s "
			    "ignored", sh->value, delta > 0 ? "plus" : "minus");
	} else if ((n = counter_value_json(buf, sh->value)) == 0)
		log_warnx("counter: cannot encode value event");
	else
		hub_publish(hub, WS_OP_TEXT, buf, n, COUNTER_KEY_VALUE, NULL);
}

/* Tells the remaining members the new user count. */
static void
counter_close(struct conn *c)
{
	struct app_route	*r = conn_app_route(c);
	struct counter_route	*cr = app_route_data(r);
	struct hub		*hub = app_route_hub(r);
	struct counter_shared	*sh;
	unsigned		 n;

	hub_lock(hub);
	/*
	 * Out of the hub now, not after on_close: a count taken meanwhile
	 * on another worker (the one for Redis, worker 0's) is exact.
	 */
	conn_leave_hub(c);
	if ((sh = counter_shared(cr)) != NULL) {
		if (sh->fresh == c)
			sh->fresh = NULL;
		n = hub_total(hub);
		counter_users_changed(cr, sh, n, NULL);
	}
	hub_unlock(hub);
}

static const struct config_key *const counter_keys[] = {
	&app_key_slow_client,
	NULL
};

const struct app app_counter = {
	.name = "counter",
	.via_hub = 1,
	.binary_ok = 0,
	.keys = counter_keys,
	.route_init = counter_route_init,
	.route_free = counter_route_free,
	.on_open = counter_open,
	.on_message = counter_message,
	.on_close = counter_close,
};
