/*
 * generation.c -- build, reference and free one configuration's lifetime.
 * A reload builds a new generation beside the current one; connections
 * keep the generation they were accepted under until they go (an idle
 * keep-alive connection moves to the current one between requests), so
 * the old one dies with its last connection.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "config.h"
#include "generation.h"
#include "log.h"
#include "tls.h"

/*
 * Workers each hold a generation of the same id: the last one released
 * is the one the log tells of.
 */
struct generation_live {
	struct generation_live	*next;
	unsigned		 id;
	unsigned		 n;		/* workers holding one */
};
static pthread_mutex_t		 generation_mu = PTHREAD_MUTEX_INITIALIZER;
static struct generation_live	*generation_lives;

/* Counts one more (up 1) or one less (-1) generation id; the count left. */
static unsigned
generation_count(unsigned id, int up)
{
	struct generation_live	**lp, *l;
	unsigned		  n = 0;

	pthread_mutex_lock(&generation_mu);
	for (lp = &generation_lives; (l = *lp) != NULL; lp = &l->next)
		if (l->id == id)
			break;
	if (l == NULL && up > 0 && (l = calloc(1, sizeof(*l))) != NULL) {
		l->id = id;
		l->next = generation_lives;
		generation_lives = l;
		lp = &generation_lives;
	}
	if (l != NULL) {
		l->n = up > 0 ? l->n + 1 : l->n - 1;
		if ((n = l->n) == 0) {
			*lp = l->next;
			free(l);
		}
	}
	pthread_mutex_unlock(&generation_mu);
	return n;
}

/* Frees what a generation holds, and the generation. */
static void
generation_free(struct generation *gen)
{
	size_t	i;

	if (gen->routes != NULL)
		for (i = 0; i < gen->conf->nroutes; i++)
			app_route_free(gen->routes[i]);
	free(gen->routes);
	tls_free(gen->tls);
	config_free(gen->conf);
	free(gen);
}

/*
 * The app route runtimes of gen's config, parallel to its routes: one of
 * prev with the same path, hosts and app carries on, the others are
 * created.
 * -1 (logged) when an app fails to start.
 */
static int
generation_routes(struct generation *gen, struct event_base *base,
    const struct generation *prev)
{
	struct wsd_config	*conf = gen->conf;
	const struct wsd_route	*r, *old;
	size_t			 i, j;

	if ((gen->routes = calloc(conf->nroutes + 1,
	    sizeof(*gen->routes))) == NULL) {
		log_warn("routes");
		return -1;
	}
	for (i = 0; i < conf->nroutes; i++) {
		r = &conf->routes[i];
		if (r->app == NULL)
			continue;
		for (j = 0; prev != NULL && j < prev->conf->nroutes; j++) {
			old = &prev->conf->routes[j];
			if (old->app == r->app &&
			    strcmp(old->path, r->path) == 0 &&
			    config_route_same_host(old, r)) {
				gen->routes[i] =
				    app_route_hold(prev->routes[j]);
				break;
			}
		}
		if (gen->routes[i] == NULL &&
		    (gen->routes[i] = app_route_new(base, conf, r,
		    gen->id)) == NULL) {
			log_warnx("%s:%d: route %s: app %s failed to start",
			    r->file, r->line, r->path, r->app->name);
			return -1;
		}
	}
	return 0;
}

/* Builds a generation around conf and tls. */
struct generation *
generation_new(struct event_base *base, struct wsd_config *conf,
    struct tls *tls, const struct generation *prev)
{
	struct generation	*gen;

	if ((gen = calloc(1, sizeof(*gen))) == NULL) {
		log_warn("generation");
		tls_free(tls);
		config_free(conf);
		return NULL;
	}
	gen->refs = 1;
	gen->id = prev != NULL ? prev->id + 1 : 1;
	generation_count(gen->id, 1);
	gen->conf = conf;
	gen->tls = tls;
	if (generation_routes(gen, base, prev) == -1) {
		/* Carried-over runtimes were not touched: they only lose
		 * the reference taken here. */
		generation_free(gen);
		return NULL;
	}
	return gen;
}

/* gen becomes current: shared runtimes take its route settings. */
void
generation_activate(struct generation *gen)
{
	size_t	i;

	for (i = 0; i < gen->conf->nroutes; i++)
		if (gen->routes[i] != NULL)
			app_route_reconfigure(gen->routes[i], gen->conf,
			    &gen->conf->routes[i]);
}

/* Takes one more reference. */
struct generation *
generation_ref(struct generation *gen)
{
	gen->refs++;
	return gen;
}

/* Drops a reference; the last frees the generation. */
void
generation_unref(struct generation *gen)
{
	if (gen == NULL || --gen->refs > 0)
		return;
	if (generation_count(gen->id, -1) == 0)
		log_info("generation %u released: no connection holds it any "
		    "more", gen->id);
	generation_free(gen);
}

/* The runtime of one of gen's app routes. */
struct app_route *
generation_route(const struct generation *gen, const struct wsd_route *route)
{
	return gen->routes[route - gen->conf->routes];
}
