/* stats.c -- server counters and their Prometheus text exposition. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "hub.h"
#include "stats.h"

static const unsigned stats_close_codes[] = STATS_CLOSE_CODES;

/* Labels of enum stats_hs_reason, in its order. */
static const char *const stats_hs_names[STATS_HS_MAX] = {
	"bad_request",
	"version",
	"not_found",
	"forbidden_origin",
	"unauthorized",
	"rate_limited",
	"too_many",
	"tls",
	"timeout",
	"shutting_down",
	"internal",
	"forbidden_address",
	"proxy_header",
};

/* Zeroes the counters and stamps the start. */
void
stats_init(struct stats *st, time_t now)
{
	memset(st, 0, sizeof(*st));
	st->start = now;
}

/* Counts a session end under its close code, or under "other". */
void
stats_close(struct stats *st, unsigned code)
{
	size_t	i;

	for (i = 0; i < STATS_NCLOSE - 1; i++)
		if (stats_close_codes[i] == code)
			break;
	st->closes[i]++;
}

/* Counts an HTTP response under 1xx .. 5xx. */
void
stats_http(struct stats *st, int status)
{
	if (status >= 100 && status <= 599)
		st->http_status[status / 100 - 1]++;
}

/* Counts one refusal. */
void
stats_hs_fail(struct stats *st, enum stats_hs_reason reason)
{
	if ((unsigned)reason < STATS_HS_MAX)
		st->hs_failures[reason]++;
}

/* The label of a reason. */
const char *
stats_hs_name(enum stats_hs_reason reason)
{
	if ((unsigned)reason >= STATS_HS_MAX)
		return "unknown";
	return stats_hs_names[reason];
}

/* Resident pages from /proc/self/statm, in bytes. */
long long
stats_rss(void)
{
	FILE		*f;
	long long	 size, resident;
	long		 page = sysconf(_SC_PAGESIZE);
	int		 n;

	if (page <= 0 || (f = fopen("/proc/self/statm", "re")) == NULL)
		return -1;
	n = fscanf(f, "%lld %lld", &size, &resident);
	fclose(f);
	if (n != 2)
		return -1;
	return resident * page;
}

/* The HELP and TYPE lines that precede a metric's samples. */
void
stats_meta(struct evbuffer *out, const char *name, const char *type,
    const char *help)
{
	evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help,
	    name, type);
}

/*
 * A label value, escaped as the text format wants (backslash, double
 * quote, newline); route paths come from the config file.
 */
static void
stats_label(struct evbuffer *out, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\')
			evbuffer_add(out, "\\\\", 2);
		else if (*s == '"')
			evbuffer_add(out, "\\\"", 2);
		else if (*s == '\n')
			evbuffer_add(out, "\\n", 2);
		else
			evbuffer_add(out, s, 1);
	}
}

/* One sample labelled with a route: name{route="/x"EXTRA} value. */
void
stats_route_sample(struct evbuffer *out, const char *name,
    const struct stats_route_view *r, const char *extra, uint64_t value)
{
	evbuffer_add_printf(out, "%s{route=\"", name);
	stats_label(out, r->path);
	if (r->host != NULL) {
		/* Routes of one path on several hosts stay apart. */
		evbuffer_add(out, "\",host=\"", 8);
		stats_label(out, r->host);
	}
	evbuffer_add_printf(out, "\"%s} %" PRIu64 "\n", extra ? extra : "",
	    value);
}

/* Connection counts and totals by kind. */
static void
stats_format_conns(struct evbuffer *out, const struct stats *st,
    const struct stats_gauges *g)
{
	unsigned	http = g->conns - (unsigned)st->ws_current;
	size_t		i;

	if (st->ws_current > g->conns)
		http = 0;
	stats_meta(out, "wsd_connections", "gauge", "Open connections: http "
	    "(not upgraded) + websocket = all; tls counts those over TLS.");
	evbuffer_add_printf(out, "wsd_connections{kind=\"http\"} %u\n"
	    "wsd_connections{kind=\"websocket\"} %u\n"
	    "wsd_connections{kind=\"tls\"} %u\n", http,
	    (unsigned)st->ws_current,
	    (unsigned)st->tls_current);
	stats_meta(out, "wsd_connections_total", "counter", "Connections "
	    "accepted (http: all of them), upgraded to WebSocket, over TLS.");
	evbuffer_add_printf(out, "wsd_connections_total{kind=\"http\"} %" PRIu64
	    "\nwsd_connections_total{kind=\"websocket\"} %" PRIu64
	    "\nwsd_connections_total{kind=\"tls\"} %" PRIu64 "\n",
	    st->conns_total, st->ws_total, st->tls_total);
	stats_meta(out, "wsd_tls_refused_total", "counter", "Connections on "
	    "TLS listeners that a connection limit refused: closed at accept "
	    "without an answer (also in wsd_handshake_failures_total).");
	evbuffer_add_printf(out, "wsd_tls_refused_total %" PRIu64 "\n",
	    st->tls_refused);
	stats_meta(out, "wsd_websocket_compressed_total", "counter",
	    "WebSocket sessions that negotiated permessage-deflate.");
	evbuffer_add_printf(out, "wsd_websocket_compressed_total %" PRIu64 "\n",
	    st->ws_deflate);
	stats_meta(out, "wsd_http_responses_total", "counter",
	    "HTTP responses other than 101, by status class.");
	for (i = 0; i < 5; i++)
		evbuffer_add_printf(out, "wsd_http_responses_total"
		    "{class=\"%zuxx\"} %" PRIu64 "\n", i + 1,
		    st->http_status[i]);
	stats_meta(out, "wsd_output_limit_total", "counter", "A connection's "
	    "own output passed max_send_buffer: reading paused until it "
	    "drained (pause), or closed with 1008 as pongs went unread "
	    "(close). Hub traffic: wsd_slow_client_total.");
	evbuffer_add_printf(out, "wsd_output_limit_total{action=\"pause\"} %"
	    PRIu64 "\nwsd_output_limit_total{action=\"close\"} %" PRIu64 "\n",
	    st->out_paused, st->out_closed);
	stats_meta(out, "wsd_message_rate_closes_total", "counter",
	    "WebSockets closed with 1008 for sending more than "
	    "max_messages_per_second.");
	evbuffer_add_printf(out, "wsd_message_rate_closes_total %" PRIu64 "\n",
	    st->rate_closed);
	stats_meta(out, "wsd_send_timeouts_total", "counter",
	    "WebSockets dropped because their pending output made no "
	    "progress for send_timeout.");
	evbuffer_add_printf(out, "wsd_send_timeouts_total %" PRIu64 "\n",
	    st->send_timeouts);
	stats_meta(out, "wsd_reloads_total", "counter",
	    "Configuration reloads (SIGHUP) by result.");
	evbuffer_add_printf(out, "wsd_reloads_total{result=\"ok\"} %" PRIu64
	    "\nwsd_reloads_total{result=\"failed\"} %" PRIu64 "\n",
	    st->reloads[0], st->reloads[1]);
}

/* Refusals by reason and session ends by close code. */
static void
stats_format_ends(struct evbuffer *out, const struct stats *st)
{
	size_t	i;

	stats_meta(out, "wsd_handshake_failures_total", "counter",
	    "Connections or upgrades refused or failed before a WebSocket "
	    "session began, by reason.");
	for (i = 0; i < STATS_HS_MAX; i++)
		evbuffer_add_printf(out, "wsd_handshake_failures_total"
		    "{reason=\"%s\"} %" PRIu64 "\n", stats_hs_names[i],
		    st->hs_failures[i]);
	stats_meta(out, "wsd_websocket_closes_total", "counter",
	    "WebSocket sessions ended, by close code (1006: no close frame).");
	for (i = 0; i < STATS_NCLOSE; i++) {
		if (i < STATS_NCLOSE - 1)
			evbuffer_add_printf(out, "wsd_websocket_closes_total"
			    "{code=\"%u\"} %" PRIu64 "\n",
			    stats_close_codes[i], st->closes[i]);
		else
			evbuffer_add_printf(out, "wsd_websocket_closes_total"
			    "{code=\"other\"} %" PRIu64 "\n", st->closes[i]);
	}
}

/* Which per-route metric stats_format_routes() writes. */
enum stats_rcol {
	STATS_R_MSGS_IN, STATS_R_MSGS_OUT, STATS_R_BYTES_IN, STATS_R_BYTES_OUT,
	STATS_R_TICKS_SKIPPED, STATS_R_MEMBERS, STATS_R_PUBLISHED,
	STATS_R_DELIVERED, STATS_R_SLOW,
	STATS_R_BACKEND_TOTAL, STATS_R_BACKEND_CURRENT, STATS_R_BACKEND_FAILED,
	STATS_R_BACKEND_IN, STATS_R_BACKEND_OUT,
	STATS_R_MAX
};

static const struct {
	const char	*name;
	const char	*type;
	const char	*help;
	int		 hub;		/* only routes with a hub; 2: only
					 * proxy routes */
} stats_rcols[STATS_R_MAX] = {
	{ "wsd_messages_received_total", "counter",
	  "Complete WebSocket messages received, by route.", 0 },
	{ "wsd_messages_sent_total", "counter",
	  "WebSocket messages queued to clients, by route.", 0 },
	{ "wsd_received_bytes_total", "counter",
	  "WebSocket payload bytes received, by route.", 0 },
	{ "wsd_sent_bytes_total", "counter",
	  "WebSocket payload bytes queued to clients, by route.", 0 },
	{ "wsd_timer_ticks_skipped_total", "counter",
	  "Ticks of the route's fixed-rate timers (broadcast, time) skipped "
	  "because the previous tick ran past them.", 0 },
	{ "wsd_hub_members", "gauge",
	  "Connections in the route's broadcast hub.", 1 },
	{ "wsd_hub_published_total", "counter",
	  "Messages published to the route's hub.", 1 },
	{ "wsd_hub_delivered_total", "counter",
	  "Hub messages queued to members (one per member).", 1 },
	{ "wsd_slow_client_total", "counter",
	  "Slow-client policy actions: members closed (1008), messages "
	  "dropped, messages replaced by a newer one (conflate).", 1 },
	{ "wsd_backend_connections_total", "counter",
	  "Backend WebSocket connections opened (handshake done), by proxy "
	  "route.", 2 },
	{ "wsd_backend_connections", "gauge",
	  "Backend WebSocket connections open, by proxy route.", 2 },
	{ "wsd_backend_connect_failures_total", "counter",
	  "Backend connections that failed: unreachable, refused, bad "
	  "handshake or too slow (502 and 504 answers), by proxy route.", 2 },
	{ "wsd_backend_received_bytes_total", "counter",
	  "Payload bytes received from backends, by proxy route.", 2 },
	{ "wsd_backend_sent_bytes_total", "counter",
	  "Payload bytes sent to backends, by proxy route.", 2 },
};

/* The per-route metrics, one metric family at a time. */
static void
stats_format_routes(struct evbuffer *out,
    const struct stats_route_view *routes, size_t nroutes)
{
	const struct stats_route_view	*r;
	const struct hub_stats		*h;
	size_t				 i, col;
	uint64_t			 v = 0;

	for (col = 0; col < STATS_R_MAX; col++) {
		stats_meta(out, stats_rcols[col].name, stats_rcols[col].type,
		    stats_rcols[col].help);
		for (i = 0; i < nroutes; i++) {
			r = &routes[i];
			h = r->hub;
			if (r->st == NULL || (h == NULL &&
			    stats_rcols[col].hub == 1) ||
			    (!r->st->backend && stats_rcols[col].hub == 2))
				continue;
			switch (col) {
			case STATS_R_MSGS_IN:
				v = r->st->msgs_in;
				break;
			case STATS_R_MSGS_OUT:
				v = r->st->msgs_out;
				break;
			case STATS_R_BYTES_IN:
				v = r->st->bytes_in;
				break;
			case STATS_R_BYTES_OUT:
				v = r->st->bytes_out;
				break;
			case STATS_R_TICKS_SKIPPED:
				v = r->st->ticks_skipped;
				break;
			case STATS_R_MEMBERS:
				v = r->members;
				break;
			case STATS_R_PUBLISHED:
				v = h->published;
				break;
			case STATS_R_DELIVERED:
				v = h->delivered;
				break;
			case STATS_R_BACKEND_TOTAL:
				v = r->st->backend_total;
				break;
			case STATS_R_BACKEND_CURRENT:
				v = r->st->backend_current;
				break;
			case STATS_R_BACKEND_FAILED:
				v = r->st->backend_failed;
				break;
			case STATS_R_BACKEND_IN:
				v = r->st->backend_bytes_in;
				break;
			case STATS_R_BACKEND_OUT:
				v = r->st->backend_bytes_out;
				break;
			case STATS_R_SLOW:
				stats_route_sample(out, stats_rcols[col].name,
				    r, ",action=\"close\"",
				    h->slow_closed);
				stats_route_sample(out, stats_rcols[col].name,
				    r, ",action=\"drop\"", h->dropped);
				stats_route_sample(out, stats_rcols[col].name,
				    r, ",action=\"conflate\"",
				    h->conflated);
				continue;
			}
			stats_route_sample(out, stats_rcols[col].name, r,
			    NULL, v);
		}
	}
}

/* Counts a refused HTTP publish request by its status. */
void
stats_pub_refused(struct stats_route *r, int status)
{
	static const int	codes[STATS_NPUB] = STATS_PUB_STATUSES;
	size_t			i;

	for (i = 0; i < STATS_NPUB; i++)
		if (codes[i] == status)
			r->pub_refused[i]++;
}

/* Which channels metric stats_format_channels() writes. */
enum stats_ccol {
	STATS_C_PUBLISHED, STATS_C_DELIVERIES, STATS_C_CHANNELS,
	STATS_C_SUBSCRIBERS, STATS_C_HIST_MSGS, STATS_C_HIST_BYTES,
	STATS_C_MAX
};

static const struct {
	const char	*name;
	const char	*type;
	const char	*help;
} stats_ccols[STATS_C_MAX] = {
	{ "wsd_channel_published_total", "counter",
	  "Messages published to the route's channels (HTTP and clients)." },
	{ "wsd_channel_deliveries_total", "counter",
	  "Channel messages queued to subscribers (one per subscriber)." },
	{ "wsd_channels", "gauge",
	  "Channels that exist (with subscribers or history)." },
	{ "wsd_channel_subscribers", "gauge",
	  "Subscribers (WebSocket and SSE) of the route's channels." },
	{ "wsd_channel_history_messages", "gauge",
	  "Messages retained for resuming subscribers." },
	{ "wsd_channel_history_bytes", "gauge",
	  "Payload bytes of the retained messages." },
};

/* The channels routes' metrics and every publish route's refusals. */
static void
stats_format_channels(struct evbuffer *out,
    const struct stats_route_view *routes, size_t nroutes)
{
	static const int	 codes[STATS_NPUB] = STATS_PUB_STATUSES;
	const struct stats_channels *c;
	size_t			 i, col;
	uint64_t		 v = 0;
	char			 label[32];

	for (col = 0; col < STATS_C_MAX; col++) {
		stats_meta(out, stats_ccols[col].name, stats_ccols[col].type,
		    stats_ccols[col].help);
		for (i = 0; i < nroutes; i++) {
			if ((c = routes[i].ch) == NULL)
				continue;
			switch (col) {
			case STATS_C_PUBLISHED:
				v = c->published;
				break;
			case STATS_C_DELIVERIES:
				v = c->deliveries;
				break;
			case STATS_C_CHANNELS:
				v = c->channels;
				break;
			case STATS_C_SUBSCRIBERS:
				v = c->subscribers;
				break;
			case STATS_C_HIST_MSGS:
				v = c->history_msgs;
				break;
			case STATS_C_HIST_BYTES:
				v = c->history_bytes;
				break;
			}
			stats_route_sample(out, stats_ccols[col].name,
			    &routes[i], NULL, v);
		}
	}
	stats_meta(out, "wsd_publish_refused_total", "counter",
	    "HTTP publish requests refused, by status.");
	for (i = 0; i < nroutes; i++) {
		if (!routes[i].publish || routes[i].st == NULL)
			continue;
		for (col = 0; col < STATS_NPUB; col++) {
			snprintf(label, sizeof(label), ",status=\"%d\"",
			    codes[col]);
			stats_route_sample(out, "wsd_publish_refused_total",
			    &routes[i], label,
			    routes[i].st->pub_refused[col]);
		}
	}
}

/* Every metric, in Prometheus text format 0.0.4. */
void
stats_format(struct evbuffer *out, const struct stats *st,
    const struct stats_gauges *g, const struct stats_route_view *routes,
    size_t nroutes)
{
	stats_meta(out, "wsd_build_info", "gauge",
	    "Always 1; the version of wsd in a label.");
	evbuffer_add(out, "wsd_build_info{version=\"", 24);
	stats_label(out, g->version);
	evbuffer_add(out, "\"} 1\n", 5);
	stats_meta(out, "wsd_start_time_seconds", "gauge",
	    "Start of the process, seconds since the Unix epoch.");
	evbuffer_add_printf(out, "wsd_start_time_seconds %lld\n",
	    (long long)st->start);
	stats_meta(out, "wsd_uptime_seconds", "gauge",
	    "Seconds since the process started.");
	evbuffer_add_printf(out, "wsd_uptime_seconds %lld\n",
	    g->now > st->start ? (long long)(g->now - st->start) : 0LL);
	if (g->rss >= 0) {
		stats_meta(out, "wsd_process_resident_memory_bytes", "gauge",
		    "Resident set size of the process.");
		evbuffer_add_printf(out, "wsd_process_resident_memory_bytes "
		    "%lld\n", g->rss);
	}
	stats_meta(out, "wsd_log_lines_dropped_total", "counter",
	    "Access log lines dropped because the file could not take them "
	    "(full disk, a reader that does not keep up): writes never "
	    "block.");
	evbuffer_add_printf(out, "wsd_log_lines_dropped_total %" PRIu64 "\n",
	    g->log_dropped);
	stats_format_conns(out, st, g);
	stats_format_ends(out, st);
	stats_format_routes(out, routes, nroutes);
	stats_format_channels(out, routes, nroutes);
}

/* Adds n counters of a to b. */
static void
stats_sum(stat_t *b, const stat_t *a, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		b[i] += a[i];
}

/* One worker's counters into the sum. */
void
stats_add(struct stats *dst, const struct stats *src)
{
	stats_sum(&dst->conns_total, &src->conns_total, (sizeof(*src) -
	    offsetof(struct stats, conns_total)) / sizeof(stat_t));
}

/* One worker's route counters into the sum. */
void
stats_route_add(struct stats_route *dst, const struct stats_route *src)
{
	stats_sum(&dst->msgs_in, &src->msgs_in, (offsetof(struct stats_route,
	    backend) - offsetof(struct stats_route, msgs_in)) /
	    sizeof(stat_t));
	stats_sum(&dst->backend_total, &src->backend_total, (sizeof(*src) -
	    offsetof(struct stats_route, backend_total)) / sizeof(stat_t));
	dst->backend |= src->backend;
}
