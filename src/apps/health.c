/* health.c -- the health app: "ok", or 503 once a graceful stop began. */
#include <stddef.h>

#include <event2/buffer.h>

#include "app.h"

/*
 * 200 ok while serving; 503 draining from the moment a stop signal
 * arrives, so that a load balancer stops sending new clients during
 * shutdown_delay.
 */
static int
health_http(struct conn *c, struct evbuffer *body, const char **type)
{
	*type = "text/plain; charset=utf-8";
	if (conn_draining(c)) {
		evbuffer_add(body, "draining\n", 9);
		return 503;
	}
	evbuffer_add(body, "ok\n", 3);
	return 200;
}

const struct app app_health = {
	.name = "health",
	.on_http = health_http,
};
