/* metrics.c -- the metrics app: the server's counters for Prometheus. */
#include <stddef.h>

#include "app.h"

/* Answers a scrape with every metric in text format 0.0.4. */
static int
metrics_http(struct conn *c, struct evbuffer *body, const char **type)
{
	conn_metrics(c, body);
	*type = "text/plain; version=0.0.4; charset=utf-8";
	return 200;
}

const struct app app_metrics = {
	.name = "metrics",
	.on_http = metrics_http,
};
