/* relay.c -- every message a client sends goes to every client of the route. */
#include <event2/buffer.h>

#include "app.h"
#include "channel.h"
#include "config.h"
#include "http.h"
#include "hub.h"
#include "utf8.h"
#include "worker.h"
#include "ws.h"

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

/*
 * An authenticated POST (publish_allow, publish_token_file) publishes
 * its body into the room: text for text types and JSON, else binary.
 */
static int
relay_api(struct conn *c, struct app_route *r, const struct http_request *req,
    const char *path, const uint8_t *body, size_t len, struct evbuffer *out,
    const char **type)
{
	const struct http_header *h = http_header_find(req, "Content-Type");
	struct hub		*hub = app_route_hub(r);
	uint64_t		 before = hub_stats(hub)->delivered, n;
	int			 text;

	(void)c;
	(void)path;
	text = h != NULL && channel_kind_of(h->value, h->value_len) !=
	    CHANNEL_BINARY;
	if (text && !utf8_valid(body, len)) {
		*type = "text/plain; charset=utf-8";
		evbuffer_add_printf(out, "400 Bad Request: text body is not "
		    "UTF-8\n");
		return 400;
	}
	/*
	 * With workers, the others deliver later: the members of every
	 * worker when it went out.
	 */
	hub_lock(hub);
	hub_publish(hub, text ? WS_OP_TEXT : WS_OP_BINARY, body, len, 0, NULL);
	n = worker_count() > 1 ? hub_total(hub) :
	    hub_stats(hub)->delivered - before;
	hub_unlock(hub);
	*type = "application/json";
	evbuffer_add_printf(out, "{\"subscribers\":%llu}\n",
	    (unsigned long long)n);
	return 200;
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
	.publish = 1,
	.methods = "GET, POST",
	.on_api = relay_api,
};
