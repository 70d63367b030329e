/* relay.c -- every message a client sends goes to every client of the route. */
#include "app.h"
#include "config.h"
#include "hub.h"

/* A new client joins the route's hub. */
static void
relay_open(struct conn *c)
{
	conn_join_hub(c);
}

/* Publishes the message as it came, with its opcode. */
static void
relay_message(struct conn *c, int opcode, const uint8_t *data, size_t len)
{
	struct app_route	*r = conn_app_route(c);

	hub_publish(app_route_hub(r), opcode, data, len, 0,
	    app_conf(app_route_conf(r))->echo_self ? NULL : c);
}

static const struct config_key *const relay_keys[] = {
	&app_key_slow_client,
	&app_key_echo_self,
	NULL
};

const struct app app_relay = {
	.name = "relay",
	.via_hub = 1,
	.binary_ok = 1,
	.keys = relay_keys,
	.on_open = relay_open,
	.on_message = relay_message,
};
