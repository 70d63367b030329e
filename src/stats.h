/* stats.h -- counters of what the server did, in Prometheus text format. */
#ifndef WSD_STATS_H
#define WSD_STATS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct evbuffer;
struct hub_stats;

/*
 * Why a connection was refused or failed before its WebSocket (or its
 * request) got going. Add a reason before STATS_HS_MAX and its label to
 * stats_hs_names[] in stats.c; nothing else needs to change.
 */
enum stats_hs_reason {
	STATS_HS_BAD_REQUEST,		/* unparsable head, bad handshake */
	STATS_HS_VERSION,		/* Sec-WebSocket-Version not 13: 426 */
	STATS_HS_NOT_FOUND,		/* upgrade to a path with no ws app */
	STATS_HS_FORBIDDEN_ORIGIN,	/* Origin not allowed: 403 */
	STATS_HS_UNAUTHORIZED,		/* token missing or wrong: 401 */
	STATS_HS_RATE_LIMITED,		/* per-IP connection rate: 429 */
	STATS_HS_TOO_MANY,		/* max_connections (or per IP): 503 */
	STATS_HS_TLS,			/* TLS handshake failed */
	STATS_HS_TIMEOUT,		/* head not complete in time */
	STATS_HS_SHUTTING_DOWN,		/* upgrade during a graceful stop */
	STATS_HS_INTERNAL,		/* out of memory */
	STATS_HS_FORBIDDEN_ADDRESS,	/* client not in the route's allow */
	STATS_HS_PROXY_HEADER,		/* PROXY header bad, absent, untrusted */
	STATS_HS_MAX
};

/* Close codes counted one by one; every other code counts as "other". */
#define STATS_CLOSE_CODES	{ 1000, 1001, 1002, 1003, 1005, 1006, 1007, \
				  1008, 1009, 1010, 1011 }
#define STATS_NCLOSE		12	/* the codes above + "other" */

/* HTTP publish refusals are counted per route for these statuses. */
#define STATS_PUB_STATUSES	{ 400, 401, 403, 405, 408, 411, 413, 503 }
#define STATS_NPUB		8

/*
 * A counter bumped by one worker and read by any (the metrics sum them
 * up): atomic, so that a read never races a write.
 */
typedef _Atomic uint64_t stat_t;

/* Per app route: messages are complete WebSocket messages. */
struct stats_route {
	stat_t		msgs_in;
	stat_t		msgs_out;	/* hub deliveries included */
	stat_t		bytes_in;	/* payload bytes, as received */
	stat_t		bytes_out;	/* payload bytes queued */
	stat_t		ticks_skipped;	/* app timer deadlines missed */
	stat_t		pub_refused[STATS_NPUB]; /* HTTP publish refusals */
	/* Proxy routes (backend set): the backend side. */
	int		backend;
	stat_t		backend_total;		/* handshakes completed */
	stat_t		backend_current;
	stat_t		backend_failed;		/* refused, unreachable, slow */
	stat_t		backend_bytes_in;	/* payload from the backend */
	stat_t		backend_bytes_out;	/* payload to the backend */
};

/*
 * One server's counters; lives in struct server (one per event loop),
 * bumped in place by conn.c and server.c. Never reset.
 */
struct stats {
	time_t		start;		/* wall clock at start-up */
	stat_t		conns_total;	/* accepted connections */
	stat_t		tls_total;	/* of those, on tls listeners */
	stat_t		tls_refused;	/* on tls listeners, refused by a
					 * limit: closed without an answer */
	stat_t		ws_total;	/* upgrades to WebSocket */
	stat_t		ws_deflate;	/* of those, with permessage-deflate */
	stat_t		tls_current;
	stat_t		ws_current;
	stat_t		http_status[5];	/* responses by class: 1xx .. 5xx */
	stat_t		out_paused;	/* reading paused: output over limit */
	stat_t		out_closed;	/* closed 1008: pongs not read */
	stat_t		rate_closed;	/* closed 1008: message rate */
	stat_t		send_timeouts;	/* dropped: no output progress */
	stat_t		reloads[2];	/* SIGHUP reloads: ok, failed */
	stat_t		closes[STATS_NCLOSE];
	stat_t		hs_failures[STATS_HS_MAX];
};

/* A channels route's counters and gauges (channels.c). */
struct stats_channels {
	uint64_t	published;	/* messages published */
	uint64_t	deliveries;	/* queued to subscribers */
	unsigned	channels;
	unsigned	subscribers;
	uint64_t	history_msgs;
	uint64_t	history_bytes;
};

/* Counts one refused publish request (STATS_PUB_STATUSES) on a route. */
void	stats_pub_refused(struct stats_route *r, int status);

/* What stats_format() shows of one route. */
struct stats_route_view {
	const char		*path;
	const struct stats_route *st;	/* NULL: not a WebSocket app */
	const struct hub_stats	*hub;	/* NULL: no hub */
	unsigned		 members;
	const char		*host;		/* its first host name; NULL:
						 * none (no host label) */
	const struct stats_channels *ch; /* NULL: not a channels route */
	int			 publish; /* takes HTTP publish requests */
};

/* What stats_format() shows besides the counters. */
struct stats_gauges {
	unsigned	 conns;		/* open connections, every kind */
	long long	 rss;		/* bytes; -1: unknown */
	time_t		 now;
	const char	*version;
	uint64_t	 log_dropped;	/* access log lines dropped */
};

/* For apps' own metrics (exec): a family's HELP and TYPE lines. */
void	stats_meta(struct evbuffer *out, const char *name, const char *type,
	    const char *help);
/* One sample labelled with a route: name{route="/x"EXTRA} value. */
void	stats_route_sample(struct evbuffer *out, const char *name,
	    const struct stats_route_view *r, const char *extra,
	    uint64_t value);

/* Adds the counters of src to dst (workers' sums). */
void	stats_add(struct stats *dst, const struct stats *src);
void	stats_route_add(struct stats_route *dst, const struct stats_route *src);

/* Zeroes st and stamps the start time. */
void	stats_init(struct stats *st, time_t now);
/* Counts one WebSocket session end with its close code. */
void	stats_close(struct stats *st, unsigned code);
/* Counts one HTTP response by its status class. */
void	stats_http(struct stats *st, int status);
/* Counts one refusal. */
void	stats_hs_fail(struct stats *st, enum stats_hs_reason reason);
/* The label of a reason ("bad_request"). */
const char *stats_hs_name(enum stats_hs_reason reason);
/* The process's resident set in bytes (/proc/self/statm); -1 if unknown. */
long long stats_rss(void);
/*
 * Appends every metric in Prometheus text format 0.0.4 to out: HELP and
 * TYPE lines, then the samples; routes[] give the per-route ones.
 */
void	stats_format(struct evbuffer *out, const struct stats *st,
	    const struct stats_gauges *g, const struct stats_route_view *routes,
	    size_t nroutes);

#endif
