/* conn.c -- per-connection state machine: HTTP/1.1, then RFC 6455. */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>

#include "access.h"
#include "config.h"
#include "app.h"
#include "cidr.h"
#include "conn.h"
#include "http.h"
#include "hub.h"
#include "iplimit.h"
#include "log.h"
#include "pmd.h"
#include "proxy.h"
#include "server.h"
#include "static.h"
#include "stats.h"
#include "tls.h"
#include "utf8.h"
#include "ws.h"

/*
 * Where a connection is. Every callback dispatches on this; transitions go
 * through conn_set_state() so that they show up in the debug log.
 */
enum conn_state {
	CONN_PROXY,		/* reading a PROXY protocol header, no bev yet */
	CONN_HTTP_HEAD,		/* reading a request head */
	CONN_HTTP_IDLE,		/* keep-alive: between requests */
	CONN_WS_OPEN,		/* WebSocket session */
	CONN_WS_CLOSING,	/* our close frame sent, awaiting the peer's */
	CONN_FLUSH_CLOSE,	/* write what is queued, then half-close */
	CONN_LINGER,		/* write side shut; discard input until EOF */
};

static const char *const conn_state_names[] = {
	"proxy", "http-head", "http-idle", "ws-open", "ws-closing",
	"flush-close", "linger",
};

/* Bytes handed to the frame parser per step; also the unmask buffer. */
#define CONN_CHUNK	16384

/* WebSocket session state, allocated at the upgrade only. */
struct conn_ws {
	struct ws_parser	 parser;
	struct evbuffer		*msg;		/* message being assembled */
	int			 msg_opcode;
	uint64_t		 bytes_in;	/* message payload bytes */
	uint64_t		 bytes_out;
	void			*app_data;
	struct app_route	*rt;		/* the route's runtime */
	struct stats_route	*stats;		/* the route's counters */
	struct hub_member	 member;	/* in the route's hub */
	struct pmd		*pmd;		/* NULL: no permessage-deflate */
	uint32_t		 inf_utf8;	/* inflated text's UTF-8 state */
	uint32_t		 ping_seq;
	unsigned		 close_code;	/* for the access log */
	struct timeval		 start;
	struct access_rate	 rate;		/* max_messages_per_second */
};

struct conn {
	TAILQ_ENTRY(conn)	 entry;
	struct server		*srv;
	struct bufferevent	*bev;
	struct event		*timer;		/* meaning depends on state */
	struct wsd_config	*conf;		/* a reference; route is in it */
	const struct wsd_route	*route;
	struct conn_ws		*ws;		/* NULL until upgraded */
	enum conn_state		 state;
	unsigned		 paused:1;	/* output over max_send_buffer */
	unsigned		 awaiting_pong:1;
	unsigned		 close_rcvd:1;
	unsigned		 close_sent:1;
	unsigned		 app_opened:1;	/* on_close still owed */
	unsigned		 end_pending:1;	/* session over, on_close queued */
	unsigned		 hub_drain:1;	/* hub backlog awaits a drain */
	unsigned		 tls:1;		/* counted as TLS */
	struct timeval		 req_start;	/* for the access log */
	char			 peer[INET6_ADDRSTRLEN + 8];
	/*
	 * The client: hop is who spoke TCP to us (after a PROXY header),
	 * addr the client that hop reports when hop is a trusted proxy.
	 */
	struct cidr_addr	 hop;
	struct cidr_addr	 addr;
	struct iplimit_entry	*ipe;		/* counted under addr */
	int			 refuse;	/* TLS: answer with this status */
	struct conn_proxy	*proxy;		/* CONN_PROXY only */
};

/* What a connection needs while its PROXY header arrives. */
struct conn_proxy {
	struct event		*ev;		/* the socket is readable */
	evutil_socket_t		 fd;
	struct tls		*tls;		/* for after the header */
	size_t			 len;
	uint8_t			 buf[PROXY_V2_MAX];
};

static void	conn_read_cb(struct bufferevent *, void *);
static void	conn_write_cb(struct bufferevent *, void *);
static void	conn_event_cb(struct bufferevent *, short, void *);
static void	conn_timer_cb(evutil_socket_t, short, void *);
static void	conn_http_read(struct conn *);
static void	conn_ws_read(struct conn *);
static void	conn_flush_close(struct conn *);
static void	conn_http_simple(struct conn *, const struct http_request *,
		    int, const char *, const char *, int);
static int	conn_http_fail(struct conn *, const struct http_request *, int,
		    const char *, const char *);

/* Moves c to a new state, logging the transition at debug level. */
static void
conn_set_state(struct conn *c, enum conn_state state)
{
	if (c->state != state)
		log_debug("%s: %s -> %s", c->peer, conn_state_names[c->state],
		    conn_state_names[state]);
	c->state = state;
}

/* (Re)arms the connection's single timer; 0 seconds disarms it. */
static void
conn_timer_set(struct conn *c, double seconds)
{
	struct timeval	tv;

	if (seconds <= 0) {
		evtimer_del(c->timer);
		return;
	}
	tv = config_timeval(seconds);
	evtimer_add(c->timer, &tv);
}

/* Seconds elapsed since t, for the access log. */
static double
conn_elapsed(const struct timeval *t)
{
	struct timeval	now, d;

	gettimeofday(&now, NULL);
	timersub(&now, t, &d);
	return (double)d.tv_sec + (double)d.tv_usec / 1e6;
}

/* Formats a peer address as ADDR:PORT or [ADDR]:PORT. */
static void
conn_format_peer(char *out, size_t outlen, const struct sockaddr *sa)
{
	char	addr[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;

		inet_ntop(AF_INET6, &s6->sin6_addr, addr, sizeof(addr));
		snprintf(out, outlen, "[%s]:%u", addr, ntohs(s6->sin6_port));
	} else if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)sa;

		inet_ntop(AF_INET, &s4->sin_addr, addr, sizeof(addr));
		snprintf(out, outlen, "%s:%u", addr, ntohs(s4->sin_port));
	} else
		snprintf(out, outlen, "unknown");
}

/* Seconds on the monotonic clock, for the message and connection rates. */
static double
conn_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Whether c's hop is a proxy whose word on the client we take. */
static int
conn_hop_trusted(const struct conn *c)
{
	return cidr_list_match(&c->srv->conf->trusted_proxies, &c->hop);
}

/*
 * Counts c under its client address. Returns 0, or the HTTP status to
 * refuse it with (503: too many connections, 429: too many new ones).
 */
static int
conn_account(struct conn *c)
{
	struct iplimit	*t = c->srv->iplimit;
	struct iplimit_entry *e;
	double		 now = conn_now();
	int		 r;

	if (t == NULL)
		return 0;
	if (c->ipe != NULL) {
		iplimit_release(t, c->ipe, now);
		c->ipe = NULL;
	}
	switch ((r = iplimit_acquire(t, &c->addr, now, &e))) {
	case IPLIMIT_OK:
		c->ipe = e;
		return 0;
	case IPLIMIT_COUNT:
		log_info("%s: connection refused: max_connections_per_ip "
		    "(%u) reached", c->peer,
		    c->srv->conf->max_connections_per_ip);
		stats_hs_fail(&c->srv->stats, STATS_HS_TOO_MANY);
		return 503;
	case IPLIMIT_RATE:
		log_info("%s: connection refused: max_connection_rate_per_ip "
		    "(%u/s) exceeded", c->peer,
		    c->srv->conf->max_connection_rate_per_ip);
		stats_hs_fail(&c->srv->stats, STATS_HS_RATE_LIMITED);
		return 429;
	default:
		log_warnx("%s: per-address table: out of memory", c->peer);
		stats_hs_fail(&c->srv->stats, STATS_HS_INTERNAL);
		return 503;
	}
}

/* Body text of a per-address refusal. */
static const char *
conn_refuse_text(int status)
{
	return status == 429 ? "too many new connections from your address" :
	    status == 403 ? "address not allowed" :
	    "too many connections from your address";
}

/*
 * Refuses a new connection with status: at once on plain sockets, after
 * the TLS handshake with the first request otherwise.
 */
static void
conn_refuse(struct conn *c, int status)
{
	if (c->tls) {
		c->refuse = status;
		return;
	}
	conn_http_fail(c, NULL, status, NULL, conn_refuse_text(status));
}

/*
 * Sets up the bufferevent (with TLS when tls is set) and starts reading a
 * request head. -1 (fd closed, c not freed) when that fails.
 */
static int
conn_start(struct conn *c, evutil_socket_t fd, struct tls *tls)
{
	struct server	*srv = c->srv;
	SSL		*ssl;
	struct timeval	 tv;
	double		 idle = srv->conf->idle_timeout;
	int		 status;

	if (tls != NULL) {
		if ((ssl = tls_ssl_new(tls)) != NULL) {
			/* The bufferevent owns ssl from here on. */
			c->bev = bufferevent_openssl_socket_new(srv->base, fd,
			    ssl, BUFFEREVENT_SSL_ACCEPTING,
			    BEV_OPT_CLOSE_ON_FREE);
			if (c->bev == NULL)
				SSL_free(ssl);
			else
				/* A peer that just closes TCP is an EOF,
				 * not an error. */
				bufferevent_openssl_set_allow_dirty_shutdown(
				    c->bev, 1);
		}
	} else
		c->bev = bufferevent_socket_new(srv->base, fd,
		    BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		log_warnx("%s: cannot set up connection", c->peer);
		evutil_closesocket(fd);
		return -1;
	}
	bufferevent_setcb(c->bev, conn_read_cb, conn_write_cb, conn_event_cb,
	    c);
	/*
	 * A response that makes no progress for idle_timeout is abandoned:
	 * libevent runs this write timeout only while output is pending.
	 */
	tv = config_timeval(idle);
	bufferevent_set_timeouts(c->bev, NULL, &tv);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	if (tls != NULL) {
		c->tls = 1;
		srv->stats.tls_total++;
		srv->stats.tls_current++;
	}
	conn_set_state(c, CONN_HTTP_HEAD);
	gettimeofday(&c->req_start, NULL);
	conn_timer_set(c, srv->conf->handshake_timeout);
	/* A trusted proxy's clients are counted once a request names them. */
	if (!conn_hop_trusted(c) && (status = conn_account(c)) != 0)
		conn_refuse(c, status);
	return 0;
}

/* Frees a connection that never got a bufferevent. */
static void
conn_free_early(struct conn *c)
{
	if (c->proxy != NULL) {
		if (c->proxy->ev != NULL)
			event_free(c->proxy->ev);
		free(c->proxy);
	}
	if (c->timer != NULL)
		event_free(c->timer);
	config_free(c->conf);
	free(c);
}

/* Moves c to the server's current config (after a reload). */
static void
conn_use_current_config(struct conn *c)
{
	if (c->conf == c->srv->conf)
		return;
	config_free(c->conf);
	c->conf = config_ref(c->srv->conf);
}

/* Formats an address and port like conn_format_peer(). */
static void
conn_format_addr(char *out, size_t outlen, const struct cidr_addr *a,
    unsigned port)
{
	char	buf[CIDR_ADDR_STRLEN];

	cidr_addr_format(a, buf);
	snprintf(out, outlen, a->family == AF_INET6 ? "[%s]:%u" : "%s:%u",
	    buf, port);
}

/* Applies a PROXY header: the client it names is c's from now on. */
static void
conn_proxy_apply(struct conn *c, const struct proxy_hdr *h)
{
	char	via[sizeof(c->peer)];

	if (h->local) {
		log_debug("%s: PROXY v%d: local, keeping the peer", c->peer,
		    h->version);
		return;
	}
	memcpy(via, c->peer, sizeof(via));
	c->hop = c->addr = h->src;
	conn_format_addr(c->peer, sizeof(c->peer), &h->src, h->sport);
	log_debug("%s: via %s (PROXY v%d)", c->peer, via, h->version);
}

/*
 * The socket of a proxy_protocol listener is readable. The header is
 * peeked, and exactly its own bytes are taken off the socket, so that
 * what follows (a TLS ClientHello, a request) is left for the
 * bufferevent created next.
 */
static void
conn_proxy_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn		*c = arg;
	struct conn_proxy	*p = c->proxy;
	struct proxy_hdr	 h;
	struct tls		*tls = p->tls;
	ssize_t			 n, got;
	size_t			 take;
	int			 r;

	(void)what;
	n = recv(fd, p->buf + p->len, sizeof(p->buf) - p->len, MSG_PEEK);
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK ||
	    errno == EINTR))
		return;
	if (n <= 0) {
		log_info("%s: %s before the PROXY header", c->peer,
		    n == 0 ? "eof" : strerror(errno));
		stats_hs_fail(&c->srv->stats, STATS_HS_PROXY_HEADER);
		conn_close(c, "no PROXY header");
		return;
	}
	r = proxy_parse(p->buf, p->len + (size_t)n, &h);
	if (r == PROXY_ERROR) {
		log_info("%s: invalid PROXY header, closing", c->peer);
		stats_hs_fail(&c->srv->stats, STATS_HS_PROXY_HEADER);
		conn_close(c, "invalid PROXY header");
		return;
	}
	/* Partial: every byte so far belongs to the header. */
	take = r > 0 ? (size_t)r - p->len : (size_t)n;
	if ((got = recv(fd, p->buf + p->len, take, 0)) <= 0) {
		conn_close(c, "PROXY header read failed");
		return;
	}
	p->len += (size_t)got;
	if (r == PROXY_PARTIAL || (size_t)got < take)
		return;
	conn_proxy_apply(c, &h);
	event_free(p->ev);
	free(p);
	c->proxy = NULL;
	if (conn_start(c, fd, tls) == -1)
		conn_close(c, "cannot set up connection");
}

/* Takes over an accepted socket. */
struct conn *
conn_new(struct server *srv, evutil_socket_t fd, const struct sockaddr *sa,
    socklen_t salen, struct tls *tls, int proxy)
{
	struct conn	*c;
	int		 one = 1;

	(void)salen;
	/* Small WebSocket frames must not wait for Nagle. */
	if (sa->sa_family != AF_UNIX)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warn("accept: conn");
		evutil_closesocket(fd);
		return NULL;
	}
	c->srv = srv;
	conn_format_peer(c->peer, sizeof(c->peer), sa);
	cidr_addr_from_sockaddr(sa, &c->hop);
	c->addr = c->hop;
	if (proxy && !conn_hop_trusted(c)) {
		log_info("%s: PROXY protocol listener: peer not in "
		    "trusted_proxies, closing", c->peer);
		stats_hs_fail(&srv->stats, STATS_HS_PROXY_HEADER);
		evutil_closesocket(fd);
		free(c);
		return NULL;
	}
	c->conf = config_ref(srv->conf);
	c->timer = evtimer_new(srv->base, conn_timer_cb, c);
	if (proxy && c->timer != NULL &&
	    (c->proxy = calloc(1, sizeof(*c->proxy))) != NULL) {
		c->proxy->fd = fd;
		c->proxy->tls = tls;
		c->proxy->ev = event_new(srv->base, fd, EV_READ | EV_PERSIST,
		    conn_proxy_cb, c);
	}
	if (c->timer == NULL || (proxy && (c->proxy == NULL ||
	    c->proxy->ev == NULL))) {
		log_warnx("%s: cannot set up connection", c->peer);
		evutil_closesocket(fd);
		conn_free_early(c);
		return NULL;
	}
	TAILQ_INSERT_TAIL(&srv->conns, c, entry);
	srv->nconns++;
	srv->stats.conns_total++;
	log_debug("%s: connected", c->peer);
	if (proxy) {
		c->state = CONN_PROXY;
		event_add(c->proxy->ev, NULL);
		conn_timer_set(c, srv->conf->handshake_timeout);
		return c;
	}
	c->state = CONN_HTTP_HEAD;
	if (conn_start(c, fd, tls) == -1) {
		conn_close(c, "cannot set up connection");
		return NULL;
	}
	return c;
}

/* Ends the session for the app: on_close once, then out of the hub. */
static void
conn_ws_end(struct conn *c)
{
	if (!c->app_opened)
		return;
	c->app_opened = 0;
	if (c->route->app->on_close != NULL)
		c->route->app->on_close(c);
	/* After on_close, so an app can still tell the others. */
	hub_leave(&c->ws->member);
}

/* The one teardown path. */
void
conn_close(struct conn *c, const char *reason)
{
	struct server	*srv = c->srv;

	log_debug("%s: closing: %s", c->peer, reason);
	if (c->ws != NULL) {
		conn_ws_end(c);
		log_access("%s ws %s %.3fs close=%u in=%" PRIu64
		    " out=%" PRIu64, c->peer, c->route->path,
		    conn_elapsed(&c->ws->start),
		    c->ws->close_code ? c->ws->close_code : WS_CLOSE_ABNORMAL,
		    c->ws->bytes_in, c->ws->bytes_out);
		stats_close(&srv->stats, c->ws->close_code ?
		    c->ws->close_code : WS_CLOSE_ABNORMAL);
		srv->stats.ws_current--;
		if (c->ws->msg != NULL)
			evbuffer_free(c->ws->msg);
		pmd_free(c->ws->pmd);
		app_route_free(c->ws->rt);
		free(c->ws);
	}
	if (c->ipe != NULL)
		iplimit_release(srv->iplimit, c->ipe, conn_now());
	if (c->tls)
		srv->stats.tls_current--;
	TAILQ_REMOVE(&srv->conns, c, entry);
	srv->nconns--;
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	else if (c->proxy != NULL)
		evutil_closesocket(c->proxy->fd);
	conn_free_early(c);
	server_conn_gone(srv);
}

/* Stops reading while the output is over the limit (backpressure). */
static void
conn_check_output(struct conn *c, size_t limit)
{
	if (c->paused ||
	    evbuffer_get_length(bufferevent_get_output(c->bev)) <= limit)
		return;
	c->paused = 1;
	c->srv->stats.out_paused++;
	bufferevent_disable(c->bev, EV_READ);
	/* The write callback fires once half the backlog has drained. */
	bufferevent_setwatermark(c->bev, EV_WRITE, limit / 2, 0);
	log_debug("%s: output over %zu bytes, reading paused", c->peer,
	    limit);
}

/* The send-buffer limit that applies to c now. */
static size_t
conn_send_limit(const struct conn *c)
{
	if (c->route != NULL && c->route->app != NULL)
		return c->route->lim.max_send_buffer;
	return c->conf->lim.max_send_buffer;
}

/* Goes into flush-then-close: queued output is written first. */
static void
conn_flush_close(struct conn *c)
{
	conn_set_state(c, CONN_FLUSH_CLOSE);
	bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
	bufferevent_enable(c->bev, EV_READ);
	c->paused = 0;
	conn_timer_set(c, c->conf->close_timeout);
	/*
	 * The WebSocket session is over: the app hears of it now, not when
	 * the peer gets round to closing TCP. Deferred to the timer callback
	 * because we may be inside hub_publish() or an app callback.
	 */
	if (c->app_opened && !c->end_pending) {
		c->end_pending = 1;
		event_active(c->timer, EV_TIMEOUT, 1);
	}
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		conn_write_cb(c->bev, c);
}

/* HTTP responses. */

/*
 * Queues a status line and the headers every response carries; 426 also
 * names the protocol to switch to (RFC 7230 6.7).
 */
static void
conn_http_head(struct conn *c, int status, int keepalive)
{
	struct evbuffer	*out = bufferevent_get_output(c->bev);
	char		 date[30];

	http_date_format(time(NULL), date);
	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\nServer: wsd/%s\r\n"
	    "Date: %s\r\nConnection: %s%s\r\n", status,
	    http_status_text(status), PACKAGE_VERSION, date,
	    status == 426 ? "Upgrade, " : "", keepalive ? "keep-alive" : "close");
}

/* Logs one HTTP request. */
static void
conn_http_log(struct conn *c, const struct http_request *req, int status,
    uint64_t bytes)
{
	char	 buf[1024], *target = buf;
	size_t	 n;

	stats_http(&c->srv->stats, status);
	if (req != NULL) {
		/* Tokens in the query never reach the log. */
		n = access_target_redact(req->target, req->target_len, buf,
		    sizeof(buf));
		if (n >= sizeof(buf) && (target = malloc(n + 1)) != NULL)
			access_target_redact(req->target, req->target_len,
			    target, n + 1);
		log_access("%s \"%.*s %s HTTP/1.%d\" %d %" PRIu64 " %.3fs",
		    c->peer, (int)req->method_len, req->method,
		    target != NULL ? target : buf, req->minor_version,
		    status, bytes, conn_elapsed(&c->req_start));
		if (target != buf)
			free(target);
	} else
		log_access("%s \"-\" %d %" PRIu64 " %.3fs", c->peer, status,
		    bytes, conn_elapsed(&c->req_start));
}

/*
 * Queues a short plain-text response for a status (errors, redirects,
 * 426) with optional extra header lines, and logs it.
 */
static void
conn_http_simple(struct conn *c, const struct http_request *req, int status,
    const char *extra, const char *detail, int keepalive)
{
	struct evbuffer	*out = bufferevent_get_output(c->bev);
	char		 body[512];
	int		 n;
	int		 head = req != NULL && http_method_is(req, "HEAD");

	n = snprintf(body, sizeof(body), "%d %s%s%s\n", status,
	    http_status_text(status), detail ? ": " : "", detail ? detail : "");
	if (n < 0 || (size_t)n >= sizeof(body))
		n = (int)strlen(body);
	conn_http_head(c, status, keepalive);
	evbuffer_add_printf(out, "%sContent-Type: text/plain; charset=utf-8\r\n"
	    "Content-Length: %d\r\n\r\n", extra ? extra : "", n);
	if (!head)
		evbuffer_add(out, body, (size_t)n);
	conn_http_log(c, req, status, head ? 0 : (uint64_t)n);
}

/*
 * Answers with an error (conn_http_simple) and closes once it is written.
 * Returns 0, conn_http_request()'s "the connection changed state".
 */
static int
conn_http_fail(struct conn *c, const struct http_request *req, int status,
    const char *extra, const char *detail)
{
	conn_http_simple(c, req, status, extra, detail, 0);
	conn_flush_close(c);
	return 0;
}

/*
 * Serves a file from a static route. Returns whether the connection may
 * stay open.
 */
static int
conn_http_static(struct conn *c, const struct http_request *req,
    const char *path, int keepalive)
{
	struct evbuffer		*out = bufferevent_get_output(c->bev);
	struct static_file	 f;
	char			 lastmod[30], *location;
	int			 head = http_method_is(req, "HEAD");

	static_open(c->route->root_real, c->route->path, path, req, &f);
	switch (f.status) {
	case 200:
	case 304:
		http_date_format(f.mtime, lastmod);
		conn_http_head(c, f.status, keepalive);
		evbuffer_add_printf(out, "Last-Modified: %s\r\nETag: %s\r\n",
		    lastmod, f.etag);
		if (f.status == 304) {
			evbuffer_add(out, "\r\n", 2);
			conn_http_log(c, req, 304, 0);
			break;
		}
		evbuffer_add_printf(out, "Content-Type: %s\r\n"
		    "Content-Length: %lld\r\n\r\n", f.mime, (long long)f.size);
		if (!head && f.size > 0) {
			/* The buffer owns fd now: sendfile on plain sockets. */
			if (evbuffer_add_file(out, f.fd, 0, f.size) == 0)
				f.fd = -1;
			else {
				/* The head promised a body: end the
				 * connection so the client notices. */
				log_warnx("%s: cannot queue file", c->peer);
				keepalive = 0;
			}
		}
		conn_http_log(c, req, 200, head ? 0 : (uint64_t)f.size);
		break;
	case 301:
		/*
		 * Built from the raw path: the decoded one may hold CR/LF.
		 * Sized to fit: path and query are as long as the request
		 * head allows, and a cut header line would run into the next.
		 */
		if (asprintf(&location, "Location: %.*s/%s%.*s\r\n",
		    (int)req->path_len, req->path, req->query ? "?" : "",
		    (int)req->query_len, req->query ? req->query : "") == -1) {
			log_warn("%s: redirect", c->peer);
			conn_http_simple(c, req, 500, NULL, NULL, 0);
			keepalive = 0;
			break;
		}
		conn_http_simple(c, req, 301, location, NULL, keepalive);
		free(location);
		break;
	default:
		conn_http_simple(c, req, f.status, NULL, NULL, keepalive);
		break;
	}
	if (f.fd != -1)
		close(f.fd);
	return keepalive;
}

/*
 * The route's access rules for a request: the Origin allow-list (upgrades
 * only) and the bearer token. Returns 0 when the request may go on, else
 * answers it (403 or 401), logs why and returns -1.
 */
static int
conn_access(struct conn *c, const struct http_request *req, int upgrade,
    int keepalive)
{
	const struct wsd_route	*r = c->route;
	const char		*why;

	if (upgrade && !access_origin_check(req, r->origins.v, r->origins.n,
	    r->require_origin, &why)) {
		log_info("%s: handshake refused: %s", c->peer, why);
		stats_hs_fail(&c->srv->stats, STATS_HS_FORBIDDEN_ORIGIN);
		conn_http_simple(c, req, 403, NULL, why, 0);
		return -1;
	}
	if (r->auth_token_file != NULL && !access_token_check(r->tokens, req)) {
		/* The token itself is never logged. */
		log_info("%s: %s refused: missing or invalid token", c->peer,
		    upgrade ? "handshake" : "request");
		stats_hs_fail(&c->srv->stats, STATS_HS_UNAUTHORIZED);
		conn_http_simple(c, req, 401, "WWW-Authenticate: Bearer\r\n",
		    "missing or invalid token", keepalive);
		return -1;
	}
	return 0;
}

/* Answers a GET or HEAD on the route of an HTTP app (metrics, health). */
static void
conn_http_app(struct conn *c, const struct http_request *req, int keepalive)
{
	struct evbuffer	*out = bufferevent_get_output(c->bev);
	struct evbuffer	*body;
	const char	*type = "text/plain; charset=utf-8";
	size_t		 len;
	int		 status, head = http_method_is(req, "HEAD");

	if ((body = evbuffer_new()) == NULL) {
		conn_http_simple(c, req, 500, NULL, NULL, keepalive);
		return;
	}
	status = c->route->app->on_http(c, body, &type);
	len = evbuffer_get_length(body);
	conn_http_head(c, status, keepalive);
	/* Every answer is about now: no cache may keep it. */
	evbuffer_add_printf(out, "Content-Type: %s\r\nCache-Control: no-store"
	    "\r\nContent-Length: %zu\r\n\r\n", type, len);
	if (!head)
		evbuffer_add_buffer(out, body);
	evbuffer_free(body);
	conn_http_log(c, req, status, head ? 0 : (uint64_t)len);
}

/* Completes the opening handshake and switches to the WebSocket. */
static int
conn_ws_upgrade(struct conn *c, const struct http_request *req,
    const char *accept, const char *proto)
{
	struct evbuffer		*out = bufferevent_get_output(c->bev);
	struct pmd_params	 pp;
	char			 ext[PMD_RESPONSE_MAX];

	if ((c->ws = calloc(1, sizeof(*c->ws))) == NULL) {
		log_warn("%s: upgrade", c->peer);
		return -1;
	}
	ws_parser_init(&c->ws->parser, c->route->lim.max_message_size);
	/* RFC 7692: an unacceptable offer only means no compression. */
	if (c->route->lim.compression && pmd_negotiate(req, &pp, ext)) {
		if ((c->ws->pmd = pmd_new(&pp, 0)) == NULL) {
			log_warn("%s: upgrade", c->peer);
			free(c->ws);
			c->ws = NULL;
			return -1;
		}
		ws_parser_allow_rsv1(&c->ws->parser);
		c->srv->stats.ws_deflate++;
	}
	c->ws->rt = app_route_hold(server_app_route(c->srv, c->route));
	c->ws->stats = app_route_stats(c->ws->rt);
	c->srv->stats.ws_total++;
	c->srv->stats.ws_current++;
	gettimeofday(&c->ws->start, NULL);
	if (c->route->lim.max_messages_per_second > 0)
		access_rate_init(&c->ws->rate,
		    c->route->lim.max_messages_per_second, conn_now());
	evbuffer_add_printf(out, "HTTP/1.1 101 Switching Protocols\r\n"
	    "Server: wsd/%s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Accept: %s\r\n", PACKAGE_VERSION, accept);
	if (proto != NULL)
		evbuffer_add_printf(out, "Sec-WebSocket-Protocol: %s\r\n",
		    proto);
	if (c->ws->pmd != NULL)
		evbuffer_add_printf(out, "Sec-WebSocket-Extensions: %s\r\n",
		    ext);
	evbuffer_add(out, "\r\n", 2);
	log_debug("%s: websocket %s%s%s%s%s", c->peer, c->route->path,
	    proto ? " subprotocol " : "",
	    proto ? proto : "",
	    c->ws->pmd != NULL ? " with " : "", c->ws->pmd != NULL ? ext : "");

	/* WebSockets are kept alive by pings, not by the write timeout. */
	bufferevent_set_timeouts(c->bev, NULL, NULL);
	conn_set_state(c, CONN_WS_OPEN);
	conn_timer_set(c, c->route->lim.ping_interval);
	c->app_opened = 1;
	if (c->route->app->on_open != NULL)
		c->route->app->on_open(c);
	return 0;
}

/*
 * Finds the client of a request: a trusted proxy names it in
 * X-Forwarded-For or Forwarded (each request anew: a proxy's keep-alive
 * connection carries many clients' requests), and the connection is
 * counted under it. Returns 0, or the status to refuse the request with.
 */
static int
conn_http_client(struct conn *c, const struct http_request *req)
{
	struct cidr_addr a;
	char		 via[CIDR_ADDR_STRLEN], buf[CIDR_ADDR_STRLEN];
	int		 status;

	if (c->refuse != 0) {
		status = c->refuse;
		c->refuse = 0;
		return status;
	}
	if (!conn_hop_trusted(c))
		return 0;
	if (proxy_forwarded_client(req, &c->srv->conf->trusted_proxies,
	    &a) != 1)
		a = c->hop;
	if (cidr_addr_equal(&a, &c->addr) && (c->ipe != NULL ||
	    c->srv->iplimit == NULL))
		return 0;
	c->addr = a;
	cidr_addr_format(&c->hop, via);
	cidr_addr_format(&a, buf);
	snprintf(c->peer, sizeof(c->peer), a.family == AF_INET6 ? "[%s]" :
	    "%s", buf);
	log_debug("%s: via %s (forwarded)", c->peer, via);
	return conn_account(c);
}

/*
 * Decides what to do with a complete request head. Returns 1 when the
 * connection may go on with the next request, 0 when it changed state
 * (upgrade, close).
 */
static int
conn_http_request(struct conn *c, const struct http_request *req)
{
	const struct http_header *h;
	const char	*reason;
	char		 path[4096], accept[WS_ACCEPT_LEN];
	size_t		 sel;
	int		 keepalive, status, upgrade, proto, has_body = 0;

	/* RFC 7230 6.3: persistence by version and Connection. */
	if (req->minor_version >= 1)
		keepalive = !http_header_has_token(req, "Connection", "close");
	else
		keepalive = http_header_has_token(req, "Connection",
		    "keep-alive");

	/*
	 * A body is never read: the request is answered and the connection
	 * closed, so that the body cannot be mistaken for a request.
	 */
	if ((h = http_header_find(req, "Content-Length")) != NULL) {
		size_t	i;

		for (i = 0; i < h->value_len; i++)
			if (h->value[i] < '0' || h->value[i] > '9')
				break;
		if (h->value_len == 0 || i != h->value_len)
			return conn_http_fail(c, req, 400, NULL,
			    "invalid Content-Length");
		for (i = 0; i < h->value_len; i++)
			if (h->value[i] != '0')
				has_body = 1;
	}
	if (http_header_find(req, "Transfer-Encoding") != NULL)
		has_body = 1;
	/* A stopping server answers, then closes: say so in the head. */
	if (has_body || c->srv->stopping)
		keepalive = 0;

	if (req->minor_version >= 1 && http_header_find(req, "Host") == NULL)
		return conn_http_fail(c, req, 400, NULL, "missing Host header");
	if (http_path_decode(req->path, req->path_len, path,
	    sizeof(path)) == -1)
		return conn_http_fail(c, req, 400, NULL, "invalid path");
	if ((status = conn_http_client(c, req)) != 0)
		return conn_http_fail(c, req, status, NULL,
		    conn_refuse_text(status));
	upgrade = http_header_has_token(req, "Upgrade", "websocket");
	c->route = config_route_match(c->conf, path);
	if (c->route != NULL && c->route->allow.n > 0 &&
	    !cidr_list_match(&c->route->allow, &c->addr)) {
		log_info("%s: %s refused: address not allowed on %s", c->peer,
		    upgrade ? "handshake" : "request", c->route->path);
		stats_hs_fail(&c->srv->stats, STATS_HS_FORBIDDEN_ADDRESS);
		return conn_http_fail(c, req, 403, NULL, conn_refuse_text(403));
	}

	if (upgrade) {
		if (c->route == NULL || c->route->app == NULL ||
		    c->route->app->on_http != NULL) {
			stats_hs_fail(&c->srv->stats, STATS_HS_NOT_FOUND);
			return conn_http_fail(c, req, 404, NULL,
			    "no WebSocket app on this path");
		}
		if (c->srv->stopping) {
			stats_hs_fail(&c->srv->stats, STATS_HS_SHUTTING_DOWN);
			return conn_http_fail(c, req, 503, NULL,
			    "shutting down");
		}
		if ((status = ws_handshake_check(req, accept, &reason)) != 0) {
			log_info("%s: handshake refused: %s", c->peer, reason);
			stats_hs_fail(&c->srv->stats, status == 426 ?
			    STATS_HS_VERSION : STATS_HS_BAD_REQUEST);
			return conn_http_fail(c, req, status, status == 426 ?
			    "Sec-WebSocket-Version: 13\r\n" : NULL, reason);
		}
		if (conn_access(c, req, 1, 0) == -1) {
			conn_flush_close(c);
			return 0;
		}
		if ((proto = ws_subprotocol_select(req, c->route->subprotocols.v,
		    c->route->subprotocols.n, &sel)) == -1) {
			reason = "invalid Sec-WebSocket-Protocol";
			log_info("%s: handshake refused: %s", c->peer, reason);
			stats_hs_fail(&c->srv->stats, STATS_HS_BAD_REQUEST);
			return conn_http_fail(c, req, 400, NULL, reason);
		}
		if (conn_ws_upgrade(c, req, accept, proto == 1 ?
		    c->route->subprotocols.v[sel] : NULL) == -1) {
			stats_hs_fail(&c->srv->stats, STATS_HS_INTERNAL);
			return conn_http_fail(c, req, 500, NULL, NULL);
		}
		return 0;
	}

	if (c->route == NULL)
		conn_http_simple(c, req, 404, NULL, NULL, keepalive);
	else if (!http_method_is(req, "GET") && !http_method_is(req, "HEAD")) {
		conn_http_simple(c, req, 405, "Allow: GET, HEAD\r\n", NULL, 0);
		keepalive = 0;
	} else if (c->route->app != NULL && c->route->app->on_http != NULL) {
		/* A token guards metrics as it guards files. */
		if (conn_access(c, req, 0, keepalive) == 0)
			conn_http_app(c, req, keepalive);
	} else if (c->route->app != NULL)
		conn_http_simple(c, req, 426, "Upgrade: websocket\r\n",
		    "this path speaks WebSocket", keepalive);
	else if (conn_access(c, req, 0, keepalive) == 0)
		keepalive = conn_http_static(c, req, path, keepalive);

	if (!keepalive || c->srv->stopping) {
		conn_flush_close(c);
		return 0;
	}
	return 1;
}

/* Reads request heads and answers them, pipelined ones included. */
static void
conn_http_read(struct conn *c)
{
	struct evbuffer		*in = bufferevent_get_input(c->bev);
	const struct wsd_config	*conf;
	struct http_request	 req;
	size_t			 len;
	unsigned char		*buf;
	int			 n;

	for (;;) {
		if ((len = evbuffer_get_length(in)) == 0)
			break;
		/*
		 * Between requests: a reload may have replaced the config,
		 * the next request is routed by the new one.
		 */
		c->route = NULL;
		conn_use_current_config(c);
		conf = c->conf;
		if (c->state == CONN_HTTP_IDLE) {
			/* A new request must now arrive in time. */
			conn_set_state(c, CONN_HTTP_HEAD);
			gettimeofday(&c->req_start, NULL);
			conn_timer_set(c, conf->handshake_timeout);
		}
		if (len > conf->max_header_size + 1)
			len = conf->max_header_size + 1;
		buf = evbuffer_pullup(in, (ev_ssize_t)len);
		n = http_parse_request((const char *)buf, len,
		    conf->max_header_size, &req);
		if (n == HTTP_PARTIAL)
			return;
		if (n < 0) {
			log_info("%s: bad request (%d)", c->peer, -n);
			stats_hs_fail(&c->srv->stats, STATS_HS_BAD_REQUEST);
			conn_http_fail(c, NULL, -n, NULL, NULL);
			return;
		}
		/* req points into buf: drain only once it is answered. */
		conn_timer_set(c, 0);
		if (!conn_http_request(c, &req)) {
			evbuffer_drain(in, (size_t)n);
			/* Frames may follow the head in the same read. */
			if (c->state == CONN_WS_OPEN)
				conn_ws_read(c);
			return;
		}
		evbuffer_drain(in, (size_t)n);
		conn_set_state(c, CONN_HTTP_IDLE);
		conn_check_output(c, conn_send_limit(c));
		if (c->paused)
			return;
	}
	if (c->state == CONN_HTTP_IDLE &&
	    evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		conn_timer_set(c, c->conf->idle_timeout);
}

/* WebSocket frames. */

/* Queues one frame; the payload is copied into the output buffer. */
static void
conn_ws_frame(struct conn *c, int opcode, const void *data, size_t len)
{
	struct evbuffer	*out = bufferevent_get_output(c->bev);
	uint8_t		 hdr[10];
	size_t		 hlen;

	hlen = ws_frame_header_encode(hdr, 1, opcode, len);
	evbuffer_add(out, hdr, hlen);
	if (len > 0)
		evbuffer_add(out, data, len);
}

/* Sends a close frame once; later calls do nothing. */
static void
conn_ws_send_close(struct conn *c, unsigned code, const char *reason)
{
	uint8_t	payload[WS_CONTROL_MAX];
	size_t	len;

	if (c->close_sent)
		return;
	c->close_sent = 1;
	if (c->ws->close_code == 0)
		c->ws->close_code = code;
	len = ws_close_payload(payload, code, reason);
	conn_ws_frame(c, WS_OP_CLOSE, payload, len);
}

/*
 * Fails the connection (RFC 6455 7.1.7): close frame with code, then the
 * TCP connection goes once it is written; input is no longer parsed.
 */
static void
conn_ws_fail(struct conn *c, unsigned code, const char *reason)
{
	log_info("%s: ws %s: closing with %u: %s", c->peer, c->route->path,
	    code, reason);
	conn_ws_send_close(c, code, reason);
	conn_flush_close(c);
}

/* Fails the WebSocket on hub.c's behalf. */
void
conn_fail(struct conn *c, unsigned code, const char *reason)
{
	if (c->state == CONN_WS_OPEN || c->state == CONN_WS_CLOSING)
		conn_ws_fail(c, code, reason);
}

/* Bytes waiting in the output. */
size_t
conn_output_length(struct conn *c)
{
	return evbuffer_get_length(bufferevent_get_output(c->bev));
}

/* Whether messages may still be sent. */
int
conn_is_open(const struct conn *c)
{
	return c->state == CONN_WS_OPEN && !c->close_sent;
}

/* Queues a shared, already encoded frame without copying it. */
int
conn_send_shared(struct conn *c, const void *frame, size_t len,
    size_t payload_len, void (*cleanup)(const void *, size_t, void *),
    void *arg)
{
	struct evbuffer	*out;

	if (!conn_is_open(c))
		return -1;
	out = bufferevent_get_output(c->bev);
	/*
	 * A reference costs libevent a chain of its own, 1 KiB whatever the
	 * frame's size, that evbuffer_get_length() does not show: for small
	 * frames a copy into the buffer's free space is both less memory and
	 * less work, and keeps max_send_buffer a true bound.
	 */
	if (len < CONN_SHARE_MIN) {
		if (evbuffer_add(out, frame, len) == -1)
			return -1;
		cleanup(frame, len, arg);
	} else if (evbuffer_add_reference(out, frame, len, cleanup,
	    arg) == -1)
		return -1;
	c->ws->bytes_out += payload_len;
	c->ws->stats->msgs_out++;
	c->ws->stats->bytes_out += payload_len;
	return 0;
}

/* Asks for a write callback once the output is down to low bytes. */
void
conn_watch_drain(struct conn *c, size_t low)
{
	if (c->hub_drain || c->state != CONN_WS_OPEN)
		return;
	c->hub_drain = 1;
	if (!c->paused)
		bufferevent_setwatermark(c->bev, EV_WRITE, low, 0);
}

/* The route runtime of a WebSocket. */
struct app_route *
conn_app_route(struct conn *c)
{
	return c->ws != NULL ? c->ws->rt : NULL;
}

/* Joins the route's hub. */
void
conn_join_hub(struct conn *c)
{
	if (c->ws != NULL && c->ws->rt != NULL)
		hub_join(app_route_hub(c->ws->rt), &c->ws->member, c);
}

/* The server's metrics, for the metrics app. */
void
conn_metrics(struct conn *c, struct evbuffer *out)
{
	server_metrics(c->srv, out);
}

/* Whether the server is draining, for the health app. */
int
conn_draining(const struct conn *c)
{
	return server_draining(c->srv);
}

/* The peer address, for app log lines. */
const char *
conn_peer(const struct conn *c)
{
	return c->peer;
}

/* The connection's permessage-deflate state, NULL when not negotiated. */
struct pmd *
conn_pmd(const struct conn *c)
{
	return c->ws != NULL ? c->ws->pmd : NULL;
}

/*
 * Queues one compressed message (RSV1, RFC 7692 6): compressed straight
 * into the output buffer behind room for the longest header, which is
 * then written in front of it. -1 when zlib fails.
 */
static int
conn_ws_frame_deflate(struct conn *c, int opcode, const void *data,
    size_t len)
{
	struct evbuffer	*out = bufferevent_get_output(c->bev);
	struct evbuffer_iovec v;
	uint8_t		 hdr[10], *p;
	size_t		 hlen, zlen, room = pmd_deflate_bound(len);

	if (evbuffer_reserve_space(out, (ev_ssize_t)(sizeof(hdr) + room), &v,
	    1) != 1)
		return -1;
	p = v.iov_base;
	if (pmd_deflate(c->ws->pmd, data, len, p + sizeof(hdr), room,
	    &zlen) != PMD_OK)
		return -1;
	hlen = ws_frame_header_encode(hdr, 1, opcode, zlen);
	hdr[0] |= 0x40;
	memcpy(p, hdr, hlen);
	memmove(p + hlen, p + sizeof(hdr), zlen);
	v.iov_len = hlen + zlen;
	return evbuffer_commit_space(out, &v, 1);
}

/*
 * Queues a message from an app; compressed when the connection negotiated
 * permessage-deflate. Every message is compressed, tiny ones too, as
 * python-websockets does: with context takeover even a short JSON message
 * shrinks, and one rule keeps the stream simple.
 */
int
conn_send(struct conn *c, int opcode, const void *data, size_t len)
{
	if (conn_queue(c, opcode, data, len) == -1)
		return -1;
	conn_check_output(c, c->route->lim.max_send_buffer);
	return 0;
}

/* conn_send() without the backpressure: the hub has its own policy. */
int
conn_queue(struct conn *c, int opcode, const void *data, size_t len)
{
	if (!conn_is_open(c))
		return -1;
	if (c->ws->pmd != NULL) {
		if (conn_ws_frame_deflate(c, opcode, data, len) == -1) {
			conn_ws_fail(c, WS_CLOSE_INTERNAL, "compression failed");
			return -1;
		}
	} else
		conn_ws_frame(c, opcode, data, len);
	c->ws->bytes_out += len;
	c->ws->stats->msgs_out++;
	c->ws->stats->bytes_out += len;
	return 0;
}

/* Starts the closing handshake on an app's behalf. */
void
conn_ws_close(struct conn *c, unsigned code, const char *reason)
{
	if (c->state != CONN_WS_OPEN)
		return;
	conn_ws_send_close(c, code, reason);
	conn_set_state(c, CONN_WS_CLOSING);
	conn_timer_set(c, c->conf->close_timeout);
}

/* Returns the app's per-connection pointer. */
void *
conn_app_data(struct conn *c)
{
	return c->ws != NULL ? c->ws->app_data : NULL;
}

/* Sets the app's per-connection pointer. */
void
conn_set_app_data(struct conn *c, void *data)
{
	if (c->ws != NULL)
		c->ws->app_data = data;
}

/* pmd sink: checks inflated text as it comes and assembles the message. */
static int
conn_inflate_sink(void *arg, const uint8_t *data, size_t len)
{
	struct conn	*c = arg;
	struct conn_ws	*ws = c->ws;

	if (ws->msg_opcode == WS_OP_TEXT) {
		/* RFC 6455 8.1: fail fast, on the inflated bytes. */
		ws->inf_utf8 = utf8_validate(ws->inf_utf8, data, len);
		if (ws->inf_utf8 == UTF8_REJECT) {
			conn_ws_fail(c, WS_CLOSE_INVALID_DATA,
			    "invalid UTF-8 in text message");
			return -1;
		}
	}
	if (evbuffer_add(ws->msg, data, len) == -1) {
		conn_ws_fail(c, WS_CLOSE_INTERNAL, "out of memory");
		return -1;
	}
	ws->bytes_in += len;
	ws->stats->bytes_in += len;
	return 0;
}

/*
 * Inflates a piece of a compressed message into ws->msg (RFC 7692 7.2.2),
 * the inflated size held to max_message_size as it grows. -1 when the
 * connection was failed.
 */
static int
conn_ws_inflate(struct conn *c, const struct ws_event *ev)
{
	struct conn_ws	*ws = c->ws;
	int		 rc;

	if (ws->msg == NULL && (ws->msg = evbuffer_new()) == NULL) {
		conn_ws_fail(c, WS_CLOSE_INTERNAL, "out of memory");
		return -1;
	}
	if (ev->first)
		ws->inf_utf8 = UTF8_ACCEPT;
	rc = pmd_inflate(ws->pmd, ev->data, ev->len, ev->fin,
	    c->route->lim.max_message_size, conn_inflate_sink, c);
	switch (rc) {
	case PMD_OK:
		break;
	case PMD_TOO_BIG:
		conn_ws_fail(c, WS_CLOSE_TOO_BIG, "inflated message too big");
		return -1;
	case PMD_ABORT:
		return -1;	/* the sink failed the connection */
	default:
		conn_ws_fail(c, WS_CLOSE_PROTOCOL, "invalid compressed data");
		return -1;
	}
	if (ev->fin && ws->msg_opcode == WS_OP_TEXT &&
	    ws->inf_utf8 != UTF8_ACCEPT) {
		conn_ws_fail(c, WS_CLOSE_INVALID_DATA,
		    "incomplete UTF-8 at end of text message");
		return -1;
	}
	return 0;
}

/* Hands a piece of a message to the app once the message is complete. */
static void
conn_ws_data(struct conn *c, const struct ws_event *ev)
{
	struct conn_ws		*ws = c->ws;
	const struct app	*app = c->route->app;
	const uint8_t		*data = ev->data;
	size_t			 len = ev->len;

	/* Message bytes: a compressed message counts once inflated. */
	if (!ev->compressed) {
		ws->bytes_in += len;
		ws->stats->bytes_in += len;
	}
	if (c->state != CONN_WS_OPEN)
		return;		/* closing: data is discarded */
	if (ev->first) {
		ws->msg_opcode = ev->opcode;
		if (ev->opcode == WS_OP_BINARY && !app->binary_ok) {
			conn_ws_fail(c, WS_CLOSE_UNSUPPORTED,
			    "binary messages are not supported");
			return;
		}
	}
	if (ev->compressed || !(ev->first && ev->fin)) {
		/* Compressed, fragmented or larger than one chunk: assemble. */
		if (ev->compressed) {
			if (conn_ws_inflate(c, ev) == -1)
				return;
		} else if ((ws->msg == NULL &&
		    (ws->msg = evbuffer_new()) == NULL) ||
		    evbuffer_add(ws->msg, data, len) == -1) {
			conn_ws_fail(c, WS_CLOSE_INTERNAL, "out of memory");
			return;
		}
		if (!ev->fin)
			return;
		len = evbuffer_get_length(ws->msg);
		/* An empty buffer pulls up to NULL: apps get "" instead. */
		data = len > 0 ? evbuffer_pullup(ws->msg, -1) :
		    (const uint8_t *)"";
	}
	ws->stats->msgs_in++;
	/* Complete messages only: control frames never count. */
	if (c->route->lim.max_messages_per_second > 0 &&
	    access_rate_take(&ws->rate, c->route->lim.max_messages_per_second,
	    conn_now()) == -1) {
		c->srv->stats.rate_closed++;
		conn_ws_fail(c, WS_CLOSE_POLICY, "message rate exceeded");
		return;
	}
	if (app->on_message != NULL)
		app->on_message(c, ws->msg_opcode, data, len);
	if (ws->msg != NULL)
		evbuffer_drain(ws->msg, evbuffer_get_length(ws->msg));
}

/* Acts on one parser event; returns 0 when parsing must stop. */
static int
conn_ws_event(struct conn *c, const struct ws_event *ev)
{
	uint8_t	 seq[4];

	switch (ev->type) {
	case WS_EV_NONE:
		return 1;
	case WS_EV_DATA:
		conn_ws_data(c, ev);
		break;
	case WS_EV_PING:
		if (c->close_sent)
			break;
		conn_ws_frame(c, WS_OP_PONG, ev->data, ev->len);
		/* Pongs cannot be held back: a client that does not read
		 * them is a slow reader and goes. */
		if (evbuffer_get_length(bufferevent_get_output(c->bev)) >
		    c->route->lim.max_send_buffer) {
			c->srv->stats.out_closed++;
			conn_ws_fail(c, WS_CLOSE_POLICY,
			    "pongs not read, send buffer full");
			return 0;
		}
		break;
	case WS_EV_PONG:
		memcpy(seq, &c->ws->ping_seq, sizeof(seq));
		if (c->awaiting_pong && ev->len == sizeof(seq) &&
		    memcmp(ev->data, seq, sizeof(seq)) == 0) {
			c->awaiting_pong = 0;
			if (c->state == CONN_WS_OPEN)
				conn_timer_set(c, c->route->lim.ping_interval);
		}
		break;
	case WS_EV_CLOSE:
		c->close_rcvd = 1;
		if (!c->close_sent)
			c->ws->close_code = ev->code;
		/* RFC 6455 5.5.1: answer with the same code, then the
		 * server closes the TCP connection first. */
		conn_ws_send_close(c, ev->code, "");
		conn_flush_close(c);
		return 0;
	case WS_EV_ERROR:
		conn_ws_fail(c, ev->code, ev->reason);
		return 0;
	}
	return c->state == CONN_WS_OPEN || c->state == CONN_WS_CLOSING;
}

/*
 * Parses frames from the input until it is empty, the connection is
 * paused by backpressure or the session ends. libevent reads at most 16 KiB
 * per callback, which bounds the work done per wakeup.
 */
static void
conn_ws_read(struct conn *c)
{
	struct evbuffer	*in = bufferevent_get_input(c->bev);
	uint8_t		 chunk[CONN_CHUNK], out[CONN_CHUNK];
	struct ws_event	 ev;
	size_t		 len, off, n;

	while (!c->paused && (len = evbuffer_get_length(in)) > 0) {
		if (len > sizeof(chunk))
			len = sizeof(chunk);
		evbuffer_copyout(in, chunk, len);
		off = 0;
		while (off < len) {
			n = ws_parser_feed(&c->ws->parser, chunk + off,
			    len - off, out, sizeof(out), &ev);
			off += n;
			if (!conn_ws_event(c, &ev) || c->paused)
				break;
			if (n == 0 && ev.type == WS_EV_NONE)
				break;
		}
		evbuffer_drain(in, off);
		if (c->state != CONN_WS_OPEN && c->state != CONN_WS_CLOSING)
			return;
	}
}

/* Callbacks. */

/* Input arrived: dispatch on state. */
static void
conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct conn	*c = arg;
	struct evbuffer	*in = bufferevent_get_input(bev);

	switch (c->state) {
	case CONN_PROXY:
		break;		/* no bufferevent yet */
	case CONN_HTTP_HEAD:
	case CONN_HTTP_IDLE:
		conn_http_read(c);
		break;
	case CONN_WS_OPEN:
	case CONN_WS_CLOSING:
		conn_ws_read(c);
		break;
	case CONN_FLUSH_CLOSE:
	case CONN_LINGER:
		/* Read and drop, so that closing does not reset the peer
		 * before it has read our last bytes. */
		evbuffer_drain(in, evbuffer_get_length(in));
		break;
	}
}

/* Output drained (to the low watermark). */
static void
conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct conn	*c = arg;
	evutil_socket_t	 fd;
	SSL		*ssl;

	if (c->state == CONN_FLUSH_CLOSE) {
		if (evbuffer_get_length(bufferevent_get_output(bev)) > 0)
			return;
		/* Half-close, then wait for the peer's EOF. Over TLS the
		 * close_notify goes first, straight to the socket: nothing is
		 * left in the output to overtake. */
		if ((ssl = bufferevent_openssl_get_ssl(bev)) != NULL)
			SSL_shutdown(ssl);
		fd = bufferevent_getfd(bev);
		if (fd != -1)
			shutdown(fd, SHUT_WR);
		conn_set_state(c, CONN_LINGER);
		bufferevent_disable(bev, EV_WRITE);
		return;
	}
	if (c->hub_drain || c->paused)
		bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
	if (c->hub_drain) {
		/* May queue more and ask for the next drain. */
		c->hub_drain = 0;
		hub_member_drained(&c->ws->member);
	}
	if (c->paused) {
		c->paused = 0;
		bufferevent_enable(bev, EV_READ);
		log_debug("%s: output drained, reading resumed", c->peer);
		/* What was read before the pause is still waiting. */
		conn_read_cb(bev, c);
		return;
	}
	if (c->state == CONN_HTTP_IDLE &&
	    evbuffer_get_length(bufferevent_get_input(bev)) == 0)
		conn_timer_set(c, c->conf->idle_timeout);
}

/* EOF, errors and the write timeout. */
static void
conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn	*c = arg;
	SSL		*ssl;

	/* Gone before the TLS handshake was done: a failed handshake. */
	if ((what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) && c->tls &&
	    c->state == CONN_HTTP_HEAD &&
	    (ssl = bufferevent_openssl_get_ssl(bev)) != NULL &&
	    !SSL_is_init_finished(ssl))
		stats_hs_fail(&c->srv->stats, STATS_HS_TLS);
	if (what & BEV_EVENT_EOF)
		conn_close(c, c->state == CONN_LINGER ? "closed" : "eof");
	else if (what & BEV_EVENT_ERROR)
		conn_close(c, evutil_socket_error_to_string(
		    EVUTIL_SOCKET_ERROR()));
	else if (what & BEV_EVENT_TIMEOUT)
		conn_close(c, "send timeout");
}

/* The connection's timer: its meaning depends on the state. */
static void
conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn	*c = arg;
	const struct wsd_limits *lim;

	(void)fd;
	(void)what;
	if (c->end_pending) {
		c->end_pending = 0;
		conn_ws_end(c);
		conn_timer_set(c, c->conf->close_timeout);
		return;
	}
	switch (c->state) {
	case CONN_PROXY:
		log_info("%s: PROXY header not complete in time", c->peer);
		conn_close(c, "handshake timeout");
		break;
	case CONN_HTTP_HEAD:
		log_info("%s: request head not complete in time", c->peer);
		stats_hs_fail(&c->srv->stats, STATS_HS_TIMEOUT);
		if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0) {
			conn_http_fail(c, NULL, 408, NULL, NULL);
			return;
		}
		conn_close(c, "handshake timeout");
		break;
	case CONN_HTTP_IDLE:
		conn_close(c, "idle timeout");
		break;
	case CONN_WS_OPEN:
		lim = &c->route->lim;
		if (c->awaiting_pong) {
			conn_ws_fail(c, WS_CLOSE_INTERNAL,
			    "keepalive ping timeout");
			return;
		}
		c->ws->ping_seq++;
		conn_ws_frame(c, WS_OP_PING, &c->ws->ping_seq,
		    sizeof(c->ws->ping_seq));
		if (lim->ping_timeout > 0) {
			c->awaiting_pong = 1;
			conn_timer_set(c, lim->ping_timeout);
		} else
			conn_timer_set(c, lim->ping_interval);
		break;
	case CONN_WS_CLOSING:
	case CONN_FLUSH_CLOSE:
	case CONN_LINGER:
		conn_close(c, "close timeout");
		break;
	}
}

/* The next connection of the server's list. */
struct conn *
conn_next(struct conn *c)
{
	return TAILQ_NEXT(c, entry);
}

/* Graceful stop of one connection. */
void
conn_shutdown(struct conn *c)
{
	switch (c->state) {
	case CONN_PROXY:
		conn_close(c, "shutdown");
		break;
	case CONN_HTTP_HEAD:
		if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
			return;	/* a request is arriving: answer it */
		conn_close(c, "shutdown");
		break;
	case CONN_HTTP_IDLE:
		if (evbuffer_get_length(bufferevent_get_output(c->bev)) > 0)
			conn_flush_close(c);
		else
			conn_close(c, "shutdown");
		break;
	case CONN_WS_OPEN:
		conn_ws_close(c, WS_CLOSE_GOING_AWAY, "server shutting down");
		break;
	case CONN_WS_CLOSING:
	case CONN_FLUSH_CLOSE:
	case CONN_LINGER:
		break;
	}
}
