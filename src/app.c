/* app.c -- the app table and the runtime apps use: routes, timers. */
#include <sys/time.h>

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "app.h"
#include "config.h"
#include "hub.h"
#include "log.h"
#include "stats.h"
#include "worker.h"

extern const struct app app_broadcast;
extern const struct app app_channels;
extern const struct app app_counter;
extern const struct app app_echo;
extern const struct app app_exec;
extern const struct app app_health;
extern const struct app app_hello;
extern const struct app app_metrics;
extern const struct app app_proxy;
extern const struct app app_relay;
extern const struct app app_time;

static const struct app *const apps[] = {
	&app_hello,
	&app_echo,
	&app_time,
	&app_broadcast,
	&app_counter,
	&app_relay,
	&app_channels,
	&app_metrics,
	&app_health,
	&app_proxy,
	&app_exec,
};

#define APP_N	(sizeof(apps) / sizeof(apps[0]))

#define APP_CONF(f)	offsetof(struct app_conf, f)

/* Keep wsd.ini.5 and etc/wsd.ini in step with these keys. */
const struct config_key app_key_interval_min = {
	"interval_min", CONFIG_KEY_DURATION, 0.001, 86400, "1s",
	APP_CONF(interval_min), NULL, NULL, "interval_max", 0, NULL
};
const struct config_key app_key_interval_max = {
	"interval_max", CONFIG_KEY_DURATION, 0.001, 86400, "3s",
	APP_CONF(interval_max), NULL, NULL, NULL, 0, NULL
};
const struct config_key app_key_slow_client = {
	"slow_client", CONFIG_KEY_WORD, 0, 0, "close",
	APP_CONF(slow_client), hub_policy_parse,
	"invalid policy (close|drop|conflate)", NULL, 0, NULL
};
const struct config_key app_key_echo_self = {
	"echo_self", CONFIG_KEY_BOOL, 0, 1, "on",
	APP_CONF(echo_self), NULL, NULL, NULL, 0, NULL
};

/* Per-route runtime. */
struct app_route {
	unsigned		 refs;
	struct event_base	*base;
	struct wsd_config	*wconf;		/* a reference: conf is in it */
	const struct wsd_route	*conf;
	struct hub		*hub;
	void			*data;
	struct stats_route	 stats;
	/* The same route on every worker: its hub group's name. */
	char			*key;
};

struct app_timer {
	struct event	*ev;
	struct app_route *route;	/* counts skipped ticks */
	void		(*cb)(void *);
	void		*arg;
	double		 deadline;	/* monotonic; 0: no tick yet */
};

/* Finds a built-in app by name. */
const struct app *
app_find(const char *name)
{
	size_t	i;

	for (i = 0; i < APP_N; i++)
		if (strcmp(apps[i]->name, name) == 0)
			return apps[i];
	return NULL;
}

/* The i-th app of the table; NULL past its end. */
const struct app *
app_at(size_t i)
{
	return i < APP_N ? apps[i] : NULL;
}

/* Lists the app names, "static" first, for messages. */
const char *
app_names(void)
{
	return "static hello echo time broadcast counter relay channels "
	    "metrics health proxy exec";
}

/* Registers the apps' names and keys with config.c. */
void
app_register(void)
{
	static struct config_app		 ca[APP_N];
	static const struct config_app	*cap[APP_N];
	size_t				 i;

	for (i = 0; i < APP_N; i++) {
		ca[i].name = apps[i]->name;
		ca[i].app = apps[i];
		ca[i].keys = apps[i]->keys;
		ca[i].via_hub = apps[i]->via_hub;
		ca[i].prefix = apps[i]->prefix;
		ca[i].publish = apps[i]->publish;
		cap[i] = &ca[i];
	}
	config_register_apps(cap, APP_N, sizeof(struct app_conf));
}

/* A route's app key values, as config.c filled them in. */
const struct app_conf *
app_conf(const struct wsd_route *conf)
{
	return conf->app_conf;
}

/* "GEN app host,host path": the same for a route on every worker. */
static int
app_route_keytext(char **out, unsigned gen, const struct wsd_route *conf)
{
	size_t	i, len, at;
	char	*s;

	len = 48 + strlen(conf->app->name) + strlen(conf->path);
	for (i = 0; i < conf->hosts.n; i++)
		len += strlen(conf->hosts.v[i]) + 1;
	if ((s = malloc(len)) == NULL)
		return -1;
	at = (size_t)snprintf(s, len, "%u %s ", gen, conf->app->name);
	for (i = 0; i < conf->hosts.n; i++)
		at += (size_t)snprintf(s + at, len - at, "%s,",
		    conf->hosts.v[i]);
	snprintf(s + at, len - at, " %s", conf->path);
	*out = s;
	return 0;
}

/* Creates the runtime of one app route and runs the app's route_init. */
struct app_route *
app_route_new(struct event_base *base, struct wsd_config *wconf,
    const struct wsd_route *conf, unsigned gen)
{
	struct app_route	*r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	/*
	 * Every worker makes the route in the same generation: the one it
	 * was made in, its app, hosts and path name it in every worker.
	 */
	if (app_route_keytext(&r->key, gen, conf) == -1) {
		free(r);
		return NULL;
	}
	r->refs = 1;
	r->base = base;
	r->conf = conf;
	/*
	 * HTTP apps get a hub too, never joined: every runtime has one, so
	 * no caller needs to check.
	 */
	r->hub = hub_new(conf->path, conf->lim.max_send_buffer,
	    (enum hub_policy)app_conf(conf)->slow_client);
	if (r->hub == NULL || (worker_count() > 1 &&
	    hub_link(r->hub, r->key) == -1)) {
		hub_free(r->hub);
		free(r->key);
		free(r);
		return NULL;
	}
	if (conf->app->route_init != NULL && conf->app->route_init(r) == -1) {
		hub_free(r->hub);
		free(r->key);
		free(r);
		return NULL;
	}
	r->wconf = config_ref(wconf);
	return r;
}

/* Takes one more reference to the runtime. */
struct app_route *
app_route_hold(struct app_route *r)
{
	r->refs++;
	return r;
}

/* Drops a reference; the last runs the app's route_free and frees. */
void
app_route_free(struct app_route *r)
{
	if (r == NULL || --r->refs > 0)
		return;
	if (r->conf->app->route_free != NULL)
		r->conf->app->route_free(r);
	hub_free(r->hub);
	config_free(r->wconf);
	free(r->key);
	free(r);
}

/* The route's name across workers. */
const char *
app_route_key(const struct app_route *r)
{
	return r->key;
}

/* Moves the runtime to a route of a newly loaded config. */
void
app_route_reconfigure(struct app_route *r, struct wsd_config *wconf,
    const struct wsd_route *conf)
{
	struct wsd_config	*old = r->wconf;

	r->wconf = config_ref(wconf);
	r->conf = conf;
	hub_set_limit(r->hub, conf->lim.max_send_buffer,
	    (enum hub_policy)app_conf(conf)->slow_client);
	config_free(old);
}

/* The route's config. */
const struct wsd_route *
app_route_conf(const struct app_route *r)
{
	return r->conf;
}

/* The route runtime's event loop, for apps that own descriptors. */
struct event_base *
app_route_base(struct app_route *r)
{
	return r->base;
}

/* The closing-handshake timeout of the route's config. */
double
app_route_close_timeout(const struct app_route *r)
{
	return r->wconf->close_timeout;
}

/* The route's hub. */
struct hub *
app_route_hub(struct app_route *r)
{
	return r->hub;
}

/* The route's message counters. */
struct stats_route *
app_route_stats(struct app_route *r)
{
	return &r->stats;
}

/* The app's per-route pointer. */
void *
app_route_data(struct app_route *r)
{
	return r->data;
}

/* Sets the app's per-route pointer. */
void
app_route_set_data(struct app_route *r, void *data)
{
	r->data = data;
}

/* libevent side of an app timer. */
static void
app_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct app_timer	*t = arg;

	(void)fd;
	(void)what;
	t->cb(t->arg);
}

/* A one-shot timer on the route's event loop. */
struct app_timer *
app_timer_new(struct app_route *r, void (*cb)(void *), void *arg)
{
	struct app_timer	*t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->route = r;
	t->cb = cb;
	t->arg = arg;
	if ((t->ev = evtimer_new(r->base, app_timer_cb, t)) == NULL) {
		free(t);
		return NULL;
	}
	return t;
}

/* (Re)arms the timer to fire once after seconds. */
void
app_timer_add(struct app_timer *t, double seconds)
{
	struct timeval	tv;

	if (seconds < 0)
		seconds = 0;
	tv = config_timeval(seconds);
	evtimer_add(t->ev, &tv);
}

/* Monotonic seconds, the clock deadlines are kept on. */
static double
app_monotonic(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The first deadline after now on prev's schedule; counts the others. */
double
app_deadline_next(double prev, double now, double period, uint64_t *skipped)
{
	uint64_t	k;
	double		next;

	*skipped = 0;
	if (prev + period > now)
		return prev + period;
	/* Arithmetic, not a loop: a stalled loop may have missed many. */
	k = (uint64_t)((now - prev) / period);
	next = prev + (double)(k + 1) * period;
	/* Rounding may put next a hair on the wrong side of now. */
	while (next <= now) {
		next += period;
		k++;
	}
	while (k > 0 && next - period > now) {
		next -= period;
		k--;
	}
	*skipped = k;
	return next;
}

/* Arms the timer for its next deadline on a fixed-rate schedule. */
void
app_timer_tick(struct app_timer *t, double period)
{
	uint64_t	skipped;
	double		now;

	if (period < 0.000001)
		period = 0.000001;	/* a zero period would never advance */
	now = app_monotonic();
	if (t->deadline == 0)
		t->deadline = now + period;
	else {
		t->deadline = app_deadline_next(t->deadline, now, period,
		    &skipped);
		if (skipped > 0) {
			t->route->stats.ticks_skipped += skipped;
			log_debug("%s: timer ran late: %llu ticks skipped",
			    t->route->conf->path, (unsigned long long)skipped);
		}
	}
	/*
	 * libevent adds a delay to the time it cached when this loop
	 * iteration began, which the callback may have used up: refresh it.
	 */
	event_base_update_cache_time(t->route->base);
	app_timer_add(t, t->deadline - app_monotonic());
}

/* Cancels and frees a timer; NULL is fine. */
void
app_timer_free(struct app_timer *t)
{
	if (t == NULL)
		return;
	event_free(t->ev);
	free(t);
}

/* Uniform in [lo, hi]; arc4random keeps no state of ours. */
double
app_random_interval(double lo, double hi)
{
	if (hi <= lo)
		return lo;
	return lo + (hi - lo) * ((double)arc4random() / 4294967295.0);
}

/* ISO-8601 UTC with microseconds, as the time apps send it. */
void
app_timestamp(char out[32])
{
	log_timestamp(out, 6);
}
