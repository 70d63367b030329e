/*
 * generation.h -- one configuration's lifetime (nginx's cycle): the parsed
 * config, its routes' app runtimes and the TLS context, kept alive by the
 * server while current and by every connection accepted under it.
 */
#ifndef WSD_GENERATION_H
#define WSD_GENERATION_H

struct app_route;
struct event_base;
struct tls;
struct wsd_config;
struct wsd_route;

/*
 * Everything a reload replaces. Reference-counted: the server holds one
 * while it is current, every connection one from accept to free. The
 * access lists and token sets are in conf's routes. Nothing may keep a
 * pointer into a generation without holding a reference to it.
 */
struct generation {
	unsigned		 refs;
	unsigned		 id;		/* 1 at start-up, +1 a reload */
	struct wsd_config	*conf;
	struct app_route	**routes;	/* parallel to conf->routes */
	struct tls		*tls;		/* NULL: conf has no [tls] */
};

/*
 * Builds a generation from conf and tls (NULL when conf has no [tls]),
 * which it takes over whatever happens. App routes of prev (the current
 * generation; NULL at start-up) with the same path and app carry on, so
 * their state, hub members and timers survive; the others are started.
 * NULL (logged) when an app fails to start. Nothing visible changes until
 * generation_activate().
 */
struct generation *generation_new(struct event_base *base,
	    struct wsd_config *conf, struct tls *tls,
	    const struct generation *prev);
/* Makes gen the one new connections use: carried-over runtimes take its
 * route settings. */
void	generation_activate(struct generation *gen);
struct generation *generation_ref(struct generation *gen);
/* Drops a reference; the last frees the config, runtimes and TLS. */
void	generation_unref(struct generation *gen);
/* The runtime of route, an app route of gen's config. */
struct app_route *generation_route(const struct generation *gen,
	    const struct wsd_route *route);

#endif
