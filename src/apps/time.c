/* time.c -- every client gets the time at its own random intervals. */
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "config.h"
#include "log.h"
#include "ws.h"

/* One client's timer. */
struct time_conn {
	struct conn		*conn;
	struct app_timer	*timer;
};

/* Arms the client's timer a fresh random interval after its last tick. */
static void
time_schedule(struct time_conn *tc)
{
	const struct wsd_route	*conf;

	conf = app_route_conf(conn_app_route(tc->conn));
	app_timer_tick(tc->timer,
	    app_random_interval(app_conf(conf)->interval_min,
	    app_conf(conf)->interval_max));
}

/* Sends the time and waits again. */
static void
time_tick_cb(void *arg)
{
	struct time_conn	*tc = arg;
	char			 ts[32];

	app_timestamp(ts);
	/* Closing: on_close frees the timer, nothing more to send. */
	if (conn_send(tc->conn, WS_OP_TEXT, ts, strlen(ts)) == -1)
		return;
	time_schedule(tc);
}

/* Starts the client's timer. */
static void
time_open(struct conn *c)
{
	struct time_conn	*tc;

	if ((tc = calloc(1, sizeof(*tc))) == NULL)
		goto fail;
	tc->conn = c;
	if ((tc->timer = app_timer_new(conn_app_route(c), time_tick_cb,
	    tc)) == NULL) {
		free(tc);
		goto fail;
	}
	conn_set_app_data(c, tc);
	time_schedule(tc);
	return;
fail:
	log_warnx("time: %s: out of memory", conn_peer(c));
	conn_ws_close(c, WS_CLOSE_INTERNAL, "out of memory");
}

/* Stops and frees the client's timer. */
static void
time_close(struct conn *c)
{
	struct time_conn	*tc;

	if ((tc = conn_app_data(c)) == NULL)
		return;
	conn_set_app_data(c, NULL);
	app_timer_free(tc->timer);
	free(tc);
}

static const struct config_key *const time_keys[] = {
	&app_key_interval_min,
	&app_key_interval_max,
	NULL
};

const struct app app_time = {
	.name = "time",
	.binary_ok = 0,
	.keys = time_keys,
	.on_open = time_open,
	/* No on_message: text is ignored, as in the Quick start. */
	.on_close = time_close,
};
