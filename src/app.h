/* app.h -- the interface between the core and the built-in apps. */
#ifndef WSD_APP_H
#define WSD_APP_H

#include <stddef.h>
#include <stdint.h>

struct config_key;
struct conn;
struct jwt_claims;
struct hub;
struct app_route;
struct app_timer;
struct log_limit;
struct wsd_route;
struct wsd_config;
struct event_base;
struct evbuffer;
struct http_request;
struct stats_route;
struct stats_route_view;
struct stats_channels;
struct http_request;

/*
 * A built-in app. The core calls route_init once per route (at start-up,
 * or when a reload adds the route; to create per-route state such as a
 * timer), on_open once the handshake is done, on_message for every
 * complete message (text already validated as UTF-8; NULL: messages are
 * ignored), on_close exactly
 * once when the session ends, whatever the reason, and route_free when the
 * route's runtime goes (at exit, or after a reload removed the route and
 * its last connection ended). A reload that keeps the route keeps its
 * state: app_route_conf() then returns the new settings. Apps talk back
 * only through the functions below, never to a socket or to libevent.
 *
 * An app with on_http answers plain HTTP instead (metrics, health): a GET
 * or HEAD on its route calls on_http, which appends the body to body (an
 * evbuffer it only appends to), sets *type to the Content-Type and returns
 * the status; the core writes the head (Content-Length, keep-alive) and
 * leaves the body out for HEAD. Such a route takes no upgrade: an upgrade
 * request gets 404 like a path without a WebSocket app, and its hub and
 * message counters stay unused (metrics leaves them out). Other methods
 * get 405.
 */
struct app {
	const char	*name;
	int		 binary_ok;	/* 0: a binary message closes with 1003 */
	/* Messages go through the route's hub: compression = shared. */
	int		 via_hub;
	/*
	 * Route keys this app takes beyond the common ones, NULL-ended:
	 * entries of app_keys below, their values in struct app_conf.
	 */
	const struct config_key *const *keys;
	int		(*route_init)(struct app_route *r);
	void		(*route_free)(struct app_route *r);
	/*
	 * Optional: called once an upgrade request passed every check of
	 * the core, before the 101. Returns 0 to upgrade now, an HTTP
	 * status (400-599) to refuse now (the app logs why), or 1 to
	 * answer later with conn_upgrade_accept() or conn_upgrade_fail():
	 * the client then waits, nothing of it is read, and the app must
	 * answer in bounded time (a proxy's connect timeout). req lives
	 * only during the call; the app may keep per-connection data from
	 * here on. After a 1, on_close comes exactly once whatever
	 * happens: after on_open, after a fail, or when wsd stops first.
	 */
	int		(*pre_upgrade)(struct conn *c,
			    const struct http_request *req);
	void		(*on_open)(struct conn *c);
	/*
	 * Optional, before the 101 goes out (exec): 0 lets the upgrade go
	 * on, an HTTP status (503) refuses it; the app logs why. What it
	 * sets with conn_set_app_data() stays for on_open; on a refusal it
	 * frees it and on_close is not called.
	 */
	int		(*on_upgrade)(struct conn *c,
			    const struct http_request *req);
	void		(*on_message)(struct conn *c, int opcode,
			    const uint8_t *data, size_t len);
	/*
	 * Optional, instead of on_message: each frame of a data message as
	 * it came, once the whole frame is in (a compressed message's frames
	 * inflated one by one); opcode is WS_OP_TEXT or WS_OP_BINARY on a
	 * message's first frame and WS_OP_CONT on the others, fin marks the
	 * last. The peer's close frame comes here too (WS_OP_CLOSE, fin 1,
	 * its payload: code and reason) before the core answers it.
	 */
	void		(*on_frame)(struct conn *c, int opcode, int fin,
			    const uint8_t *data, size_t len);
	void		(*on_close)(struct conn *c);
	int		(*on_http)(struct conn *c, struct evbuffer *body,
			    const char **type);

	/*
	 * HTTP publish (channels, relay). publish: the route takes
	 * publish_allow and publish_token_file, and the methods in
	 * methods ("GET, POST, DELETE"); others get 405. prefix: the
	 * route path ends in "/" and serves every path below it.
	 * on_request sees a subscribing request (upgrade, or an SSE GET)
	 * before it is accepted: 0 lets it go on, else the status to
	 * refuse it with (why for the answer and log). on_api answers a
	 * publisher's request (POST with its whole body, DELETE, GET for
	 * JSON): it appends the response body to out, sets *type and
	 * returns the status, or 0 having taken the answer for later with
	 * conn_api_hold() (never answered from inside on_api). path is the
	 * decoded request path.
	 */
	int		 publish;
	int		 prefix;
	const char	*methods;
	int		(*on_request)(struct conn *c, struct app_route *r,
			    const struct http_request *req, const char *path,
			    const char **why);
	int		(*on_api)(struct conn *c, struct app_route *r,
			    const struct http_request *req, const char *path,
			    const uint8_t *body, size_t len,
			    struct evbuffer *out, const char **type);
	/* Channel counters for the metrics (channels). */
	void		(*metrics)(struct app_route *r,
			    struct stats_channels *st);
	/*
	 * Metric families of the app's own (exec), appended once for its
	 * n routes rts, each with its view (the route and host labels).
	 */
	void		(*metrics_text)(struct evbuffer *out,
			    struct app_route *const *rts,
			    const struct stats_route_view *views, size_t n);
	/*
	 * Optional: c's pending output (conn_pending()) went over the
	 * route's max_send_buffer and has now fallen to at most half of
	 * it: a source the app stopped reading may be read again.
	 */
	void		(*on_drain)(struct conn *c);
};

/* The values of the app route keys of one route (wsd_route.app_conf). */
struct app_conf {
	double		 interval_min;		/* time, broadcast: seconds */
	double		 interval_max;
	int		 slow_client;		/* hub apps: enum hub_policy */
	int		 echo_self;		/* relay: sender gets its own */
	/* channels */
	unsigned	 history;		/* messages kept per channel */
	double		 history_ttl;		/* seconds */
	size_t		 history_max_bytes;	/* per route */
	int		 envelope;		/* enum channels_envelope */
	int		 client_publish;
	unsigned	 max_channels;
	double		 sse_keepalive;		/* seconds */
	double		 sse_retry;		/* seconds */
	char		*backend;		/* proxy: ws, wss, unix URL */
	char		*backend_ca;		/* proxy: NULL: system store */
	double		 backend_connect_timeout; /* proxy: to the 101 */
	/* exec (apps/exec.c) */
	char		*exec_command;		/* split at each start */
	char		*exec_env;		/* NAME=VALUE words */
	char		*exec_dir;		/* NULL: wsd's */
	int		 exec_mode;		/* EXEC_MODE_* */
	unsigned	 exec_max_procs;
	double		 exec_kill_timeout;
};

/* The app route keys, shared by the apps that take them. */
extern const struct config_key app_key_interval_min;
extern const struct config_key app_key_interval_max;
extern const struct config_key app_key_slow_client;
extern const struct config_key app_key_echo_self;

/*
 * Tells config.c about the apps and their keys (config_register_apps);
 * once, before the first config is loaded.
 */
void		 app_register(void);
/* The app table (app.c). NULL when no app has that name. */
const struct app *app_find(const char *name);
/* The i-th app of the table; NULL past its end. */
const struct app *app_at(size_t i);
/* Space-separated list of app names, for error messages and help. */
const char	*app_names(void);
/* A route's app key values. */
const struct app_conf *app_conf(const struct wsd_route *conf);

/*
 * Per-route runtime (app.c): created for every app route at start-up and
 * for new app routes on a reload. It holds a reference to the config its
 * route lives in (not to the generation: generations hold runtimes).
 * Reference-counted like SSL_CTX: every generation with the route holds
 * one (a reload that keeps the route shares it), every WebSocket on the
 * route another (app_route_hold); the last app_route_free runs the app's
 * route_free, so a route removed by a reload lives on until its last
 * WebSocket and the last connection of a generation that has it end.
 */
struct app_route *app_route_new(struct event_base *base,
		    struct wsd_config *wconf, const struct wsd_route *conf,
		    unsigned gen);
/*
 * The route's name, the same on every worker (gen: the generation that
 * made it): hub groups of the route, or of its channels, are named by it.
 */
const char	*app_route_key(const struct app_route *r);
struct app_route *app_route_hold(struct app_route *r);
void		 app_route_free(struct app_route *r);
/*
 * Reload: the runtime carries on (state, hub, timers) under route conf of
 * the new config wconf; new settings apply from the next use on.
 */
void		 app_route_reconfigure(struct app_route *r,
		    struct wsd_config *wconf, const struct wsd_route *conf);
const struct wsd_route *app_route_conf(const struct app_route *r);
/* The route's broadcast hub (one per app route). */
struct hub	*app_route_hub(struct app_route *r);
/* The route's message counters (metrics). */
struct stats_route *app_route_stats(struct app_route *r);
/* The route's event loop and closing-handshake timeout. */
struct event_base *app_route_base(struct app_route *r);
double		 app_route_close_timeout(const struct app_route *r);
/* The app's per-route pointer. */
void		*app_route_data(struct app_route *r);
void		 app_route_set_data(struct app_route *r, void *data);

/* Timers for apps: cb(arg) runs once per app_timer_add() or _tick(). */
struct app_timer *app_timer_new(struct app_route *r, void (*cb)(void *),
		    void *arg);
/* One shot, seconds from now. */
void		 app_timer_add(struct app_timer *t, double seconds);
/*
 * Fixed rate: arms t for the deadline period after its previous one
 * (after now on the first call), so the time the callback took does
 * not stretch the schedule. Deadlines that already passed are skipped,
 * never fired late in a burst; they are counted in the route's stats
 * (wsd_timer_ticks_skipped_total) and logged at debug level.
 */
void		 app_timer_tick(struct app_timer *t, double period);
void		 app_timer_free(struct app_timer *t);
/*
 * The pure part of app_timer_tick(), on monotonic seconds: the first of
 * prev + period, prev + 2 * period, ... that lies after now; *skipped
 * gets how many of them did not.
 */
double		 app_deadline_next(double prev, double now, double period,
		    uint64_t *skipped);
/* Uniformly random seconds in [lo, hi]. */
double		 app_random_interval(double lo, double hi);
/* ISO-8601 UTC now with microseconds: 2026-11-25T12:00:00.123456Z. */
void		 app_timestamp(char out[32]);

/* App API for connections, implemented by conn.c. */

/*
 * The request a subscriber came with (path, query, headers): valid only
 * while on_open runs, NULL elsewhere.
 */
const struct http_request *conn_open_request(void);
/* Joins hub h (a channel's); the core leaves it when the connection ends. */
void	 conn_join(struct conn *c, struct hub *h);
/* Queues raw bytes on an SSE stream (a replayed event); -1 once closing. */
int	 conn_sse_send(struct conn *c, const void *data, size_t len);

/* Queues one message (WS_OP_TEXT or WS_OP_BINARY); -1 once closing. */
int	 conn_send(struct conn *c, int opcode, const void *data, size_t len);
/*
 * Queues one frame of a message as it is (fragments kept): opcode
 * WS_OP_TEXT or WS_OP_BINARY starts a message, WS_OP_CONT continues it,
 * fin ends it. A whole message (a first frame with fin) goes through
 * conn_send() and may be compressed; fragments go uncompressed, which
 * RFC 7692 allows message by message. -1 once closing.
 */
int	 conn_send_frame(struct conn *c, int opcode, int fin, const void *data,
	    size_t len);
/* Bytes queued for c and not yet written to its socket. */
size_t	 conn_pending(const struct conn *c);
/*
 * Stops (pause 1) or resumes (0) reading c's input, for an app whose
 * destination is full; independent of the core's own backpressure.
 * Bytes already read (over TLS, also those OpenSSL holds) are parsed
 * once reading resumes.
 */
void	 conn_pause_reading(struct conn *c, int pause);
/*
 * An on_api that answers later (it waits for Redis) takes the answer
 * with conn_api_hold() and returns 0 (NULL: it must answer now); the
 * connection reads nothing more until the app calls conn_api_answer()
 * with the status, type and body (its bytes moved out; NULL: none),
 * once, on the same loop, within a bounded time (no timer runs
 * meanwhile). When the connection closes first, the hold stays valid
 * and the answer is dropped.
 */
struct conn_api_hold;
struct conn_api_hold *conn_api_hold(struct conn *c);
void	 conn_api_answer(struct conn_api_hold *h, int status,
	    const char *type, struct evbuffer *body);
/* Ends a deferred upgrade (pre_upgrade returned 1): the 101 goes out. */
void	 conn_upgrade_accept(struct conn *c, const char *subprotocol);
/* Ends a deferred upgrade with an error status and closes. */
void	 conn_upgrade_fail(struct conn *c, int status, const char *detail);
/* 1 when the client came over TLS. */
int	 conn_is_tls(const struct conn *c);
/*
 * The address that spoke to us (after a PROXY header) as text, and
 * whether it is a trusted proxy whose forwarding headers count.
 */
void	 conn_hop_text(const struct conn *c, char *out, size_t outlen);
int	 conn_hop_is_trusted(const struct conn *c);
/* The close code the session ended with (0 while open). */
unsigned conn_close_code(const struct conn *c);
/*
 * Starts the closing handshake with code and reason; an SSE stream ends
 * once what is queued is written.
 */
void	 conn_ws_close(struct conn *c, unsigned code, const char *reason);
/* 1 if c is a Server-Sent Events stream rather than a WebSocket. */
int	 conn_is_sse(const struct conn *c);
/* conn_send() without pausing c's reading (a replay, a hub's own). */
int	 conn_queue(struct conn *c, int opcode, const void *data, size_t len);
/* Per-connection pointer owned by the app. */
void	*conn_app_data(struct conn *c);
void	 conn_set_app_data(struct conn *c, void *data);
/* The route this connection came in on. */
struct app_route *conn_app_route(struct conn *c);
/*
 * The verified claims of the JWT the WebSocket came with (a route with
 * auth_jwt_key_file), for jwt_allows_channel(); NULL: no token.
 */
const struct jwt_claims *conn_jwt_claims(const struct conn *c);
/*
 * In on_request: the claims of the subscribing request's signed token
 * (NULL: none); a WebSocket keeps them (conn_jwt_claims()).
 */
const struct jwt_claims *conn_request_claims(void);
/* Joins the route's hub; the core leaves it when the connection ends. */
void	 conn_join_hub(struct conn *c);
/*
 * Leaves the hub now, in on_close (the core would after it): hub_total()
 * no longer counts c, on any worker.
 */
void	 conn_leave_hub(struct conn *c);
/* Peer address for log lines ("127.0.0.1:5555"). */
const char *conn_peer(const struct conn *c);
/* For log_limited(): lines the client can cause once per message. */
struct log_limit *conn_log_limit(struct conn *c);
/* For HTTP apps: appends the server's metrics in Prometheus text format. */
void	 conn_metrics(struct conn *c, struct evbuffer *out);
/* For HTTP apps: 1 once a graceful stop has begun. */
int	 conn_draining(const struct conn *c);

/*
 * For exec: the client's address without port into addr (len bytes),
 * its port (0 when a trusted proxy named the client), the port it
 * connected to and whether the connection is TLS.
 */
void	 conn_endpoints(const struct conn *c, char *addr, size_t len,
	    unsigned *port, unsigned *local_port, int *tls);

#endif
