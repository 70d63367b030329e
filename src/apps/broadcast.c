/*
 * broadcast.c -- one timer per route sends the same time to every client.
 * With workers, the timer is worker 0's: its hub group hands every tick
 * to the members on all workers, so all see the same timestamps.
 */
#include <string.h>

#include <stdlib.h>

#include "app.h"
#include "cluster.h"
#include "config.h"
#include "hub.h"
#include "log.h"
#include "worker.h"
#include "ws.h"

/*
 * The route's timer and, in a cluster, the lease that lets one node at
 * a time tick for all (the others get its messages through the hub).
 */
struct broadcast_route {
	struct app_timer	*timer;
	struct cluster_lease	*lease;		/* NULL: alone */
};

/*
 * Arms the route's timer for its next tick, a fresh random interval
 * after the previous tick's deadline (not after publishing ended).
 */
static void
broadcast_schedule(struct app_route *r)
{
	const struct wsd_route	*conf = app_route_conf(r);
	struct broadcast_route	*br = app_route_data(r);

	app_timer_tick(br->timer,
	    app_random_interval(app_conf(conf)->interval_min,
	    app_conf(conf)->interval_max));
}

/* Publishes one timestamp to the whole route and waits again. */
static void
broadcast_tick_cb(void *arg)
{
	struct app_route	*r = arg;
	struct broadcast_route	*br = app_route_data(r);
	struct hub		*hub = app_route_hub(r);
	enum cluster_role	 role = cluster_lease_role(br->lease);
	char			 ts[32];

	/*
	 * The timer keeps running with nobody listening; it is cheap. The
	 * leader of a cluster ticks for the members of every node.
	 */
	if (role == CLUSTER_LEADER || (role == CLUSTER_SOLO &&
	    hub_total(hub) > 0)) {
		app_timestamp(ts);
		hub_publish(hub, WS_OP_TEXT, ts, strlen(ts), 0, NULL);
	}
	broadcast_schedule(r);
}

/* Creates the route's timer and starts it. */
static int
broadcast_route_init(struct app_route *r)
{
	struct broadcast_route	*br;

	if (worker_self() != 0)
		return 0;
	if ((br = calloc(1, sizeof(*br))) == NULL ||
	    (br->timer = app_timer_new(r, broadcast_tick_cb, r)) == NULL) {
		log_warnx("broadcast: %s: cannot create timer",
		    app_route_conf(r)->path);
		free(br);
		return -1;
	}
	br->lease = cluster_lease_new(app_route_conf(r)->path);
	app_route_set_data(r, br);
	broadcast_schedule(r);
	return 0;
}

/* Stops and frees the route's timer. */
static void
broadcast_route_free(struct app_route *r)
{
	struct broadcast_route	*br;

	if ((br = app_route_data(r)) == NULL)
		return;
	app_route_set_data(r, NULL);
	app_timer_free(br->timer);
	cluster_lease_free(br->lease);
	free(br);
}

/* A new client listens to the route. */
static void
broadcast_open(struct conn *c)
{
	conn_join_hub(c);
}

static const struct config_key *const broadcast_keys[] = {
	&app_key_interval_min,
	&app_key_interval_max,
	&app_key_slow_client,
	NULL
};

const struct app app_broadcast = {
	.name = "broadcast",
	.via_hub = 1,
	.binary_ok = 0,
	.keys = broadcast_keys,
	.route_init = broadcast_route_init,
	.route_free = broadcast_route_free,
	.on_open = broadcast_open,
	/* No on_message: text from the client is ignored. */
};
