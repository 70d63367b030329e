/*
 * conn.c -- a connection's lifecycle: accept, PROXY header, TLS, the
 * state's timer, backpressure and the one teardown path. HTTP requests
 * are http_serve.c's, the WebSocket session is session.c's.
 */
#include <sys/types.h>
#include <sys/socket.h>
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

#include "app.h"
#include "config.h"
#include "conn.h"
#include "conn_priv.h"
#include "generation.h"
#include "iplimit.h"
#include "log.h"
#include "proxy.h"
#include "server.h"
#include "stats.h"
#include "tls.h"

static const char *const conn_state_names[] = {
	"proxy", "http-head", "http-idle", "ws-open", "ws-closing",
	"flush-close", "linger",
};

/* What a connection needs while its PROXY header arrives. */
struct conn_proxy {
	struct event		*ev;		/* the socket is readable */
	evutil_socket_t		 fd;
	int			 tls;		/* TLS after the header, with
						 * the generation's context */
	size_t			 len;
	uint8_t			 buf[PROXY_V2_MAX];
};

static void	conn_read_cb(struct bufferevent *, void *);
static void	conn_write_cb(struct bufferevent *, void *);
static void	conn_event_cb(struct bufferevent *, short, void *);
static void	conn_timer_cb(evutil_socket_t, short, void *);

/* Moves c to a new state, logging the transition at debug level. */
void
conn_set_state(struct conn *c, enum conn_state state)
{
	if (c->state != state)
		log_debug("%s: %s -> %s", c->peer, conn_state_names[c->state],
		    conn_state_names[state]);
	c->state = state;
}

/* (Re)arms the connection's single timer; 0 seconds disarms it. */
void
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
double
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
double
conn_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Whether c's hop is a proxy whose word on the client we take. */
int
conn_hop_trusted(const struct conn *c)
{
	return cidr_list_match(&c->gen->conf->trusted_proxies, &c->hop);
}

/*
 * Counts c under its client address. Returns 0, or the HTTP status to
 * refuse it with (503: too many connections, 429: too many new ones);
 * silent: it will be closed without an answer (a TLS listener).
 */
int
conn_account(struct conn *c, int silent)
{
	struct iplimit	*t = c->srv->iplimit;
	const struct wsd_config *cur = c->srv->gen->conf;
	struct iplimit_entry *e;
	const char	*how = silent ? " (tls: closed without an answer)" : "";
	double		 now = conn_now();
	int		 r;

	if (t == NULL)
		return 0;
	if (c->ipe != NULL) {
		iplimit_release(t, c->ipe, now);
		c->ipe = NULL;
	}
	/* The table's limits are the current generation's. */
	switch ((r = iplimit_acquire(t, &c->addr, now, &e))) {
	case IPLIMIT_OK:
		c->ipe = e;
		return 0;
	case IPLIMIT_COUNT:
		if (server_refused(c->srv, SERVER_REFUSED_PER_IP, silent))
			log_info("%s: connection refused: "
			    "max_connections_per_ip (%u) reached%s", c->peer,
			    cur->max_connections_per_ip, how);
		return 503;
	case IPLIMIT_RATE:
		if (server_refused(c->srv, SERVER_REFUSED_RATE, silent))
			log_info("%s: connection refused: "
			    "max_connection_rate_per_ip (%u/s) exceeded%s",
			    c->peer, cur->max_connection_rate_per_ip, how);
		return 429;
	default:
		log_warnx("%s: per-address table: out of memory", c->peer);
		stats_hs_fail(&c->srv->stats, STATS_HS_INTERNAL);
		return 503;
	}
}

/* Body text of a per-address refusal. */
const char *
conn_refuse_text(int status)
{
	return status == 429 ? "too many new connections from your address" :
	    status == 403 ? "address not allowed" :
	    "too many connections from your address";
}

/*
 * Sets up the bufferevent (with the generation's TLS context when tls is
 * set) and starts reading a request head. A client over its per-address
 * limits is refused first, before any TLS work: on a plain socket with a
 * 503 or 429, on a TLS one by closing it without an answer. A trusted
 * proxy's clients are counted once a request names them. -1 when c was
 * closed.
 */
static int
conn_start(struct conn *c, evutil_socket_t fd, int tls)
{
	struct server	*srv = c->srv;
	const struct wsd_config *conf = c->gen->conf;
	SSL		*ssl;
	struct timeval	 tv;
	int		 status = 0;

	if (!conn_hop_trusted(c) && (status = conn_account(c, tls)) != 0 &&
	    tls) {
		evutil_closesocket(fd);
		conn_close(c, "refused");
		return -1;
	}
	if (tls) {
		if ((ssl = tls_ssl_new(c->gen->tls)) != NULL) {
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
		conn_close(c, "cannot set up connection");
		return -1;
	}
	bufferevent_setcb(c->bev, conn_read_cb, conn_write_cb, conn_event_cb,
	    c);
	/*
	 * A response that makes no progress for idle_timeout is abandoned:
	 * libevent runs this write timeout only while output is pending.
	 */
	tv = config_timeval(conf->idle_timeout);
	bufferevent_set_timeouts(c->bev, NULL, &tv);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	if (tls) {
		c->tls = 1;
		srv->stats.tls_total++;
		srv->stats.tls_current++;
	}
	conn_set_state(c, CONN_HTTP_HEAD);
	gettimeofday(&c->req_start, NULL);
	conn_timer_set(c, conf->handshake_timeout);
	if (status != 0)
		conn_http_fail(c, NULL, status, NULL, conn_refuse_text(status));
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
	free(c->hp);
	generation_unref(c->gen);
	free(c);
}

/*
 * Moves c to the server's current generation (after a reload): for an
 * HTTP connection between requests, which holds nothing of its old one
 * but c->route (reset by the caller).
 */
void
conn_use_current_config(struct conn *c)
{
	struct generation	*old = c->gen;

	if (old == c->srv->gen)
		return;
	c->gen = generation_ref(c->srv->gen);
	generation_unref(old);
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
	int			 tls = p->tls;
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
	/* The per-address limits see the client the header named. */
	conn_start(c, fd, tls);
}

/* Takes over an accepted socket. */
struct conn *
conn_new(struct server *srv, evutil_socket_t fd, const struct sockaddr *sa,
    socklen_t salen, int tls, int proxy)
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
	/* From accept to free: conf, routes and TLS context come from it. */
	c->gen = generation_ref(srv->gen);
	if (proxy && !conn_hop_trusted(c)) {
		log_info("%s: PROXY protocol listener: peer not in "
		    "trusted_proxies, closing", c->peer);
		stats_hs_fail(&srv->stats, STATS_HS_PROXY_HEADER);
		evutil_closesocket(fd);
		conn_free_early(c);
		return NULL;
	}
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
		conn_timer_set(c, c->gen->conf->handshake_timeout);
		return c;
	}
	c->state = CONN_HTTP_HEAD;
	if (conn_start(c, fd, tls) == -1)
		return NULL;
	return c;
}

/* The one teardown path. */
void
conn_close(struct conn *c, const char *reason)
{
	struct server	*srv = c->srv;

	log_debug("%s: closing: %s", c->peer, reason);
	if (c->ws != NULL)
		conn_ws_free(c);
	conn_http_file_free(c);
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
void
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
size_t
conn_send_limit(const struct conn *c)
{
	if (c->route != NULL && c->route->app != NULL)
		return c->route->lim.max_send_buffer;
	return c->gen->conf->lim.max_send_buffer;
}

/* Goes into flush-then-close: queued output is written first. */
void
conn_flush_close(struct conn *c)
{
	conn_set_state(c, CONN_FLUSH_CLOSE);
	bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
	bufferevent_enable(c->bev, EV_READ);
	c->paused = 0;
	conn_timer_set(c, c->gen->conf->close_timeout);
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

	/* A file body goes first: nothing else until it is all queued. */
	if (c->file != NULL && conn_http_file_more(c))
		return;
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
		conn_timer_set(c, c->gen->conf->idle_timeout);
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
	else if (what & BEV_EVENT_TIMEOUT) {
		if (c->ws != NULL)
			conn_ws_send_timeout(c);
		conn_close(c, "send timeout");
	}
}

/* The connection's timer: its meaning depends on the state. */
static void
conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn	*c = arg;

	(void)fd;
	(void)what;
	if (c->end_pending) {
		c->end_pending = 0;
		conn_ws_end(c);
		conn_timer_set(c, c->gen->conf->close_timeout);
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
		conn_ws_timer(c);
		break;
	case CONN_FLUSH_CLOSE:
		/*
		 * A file body still streaming is bounded by the write timeout
		 * (no progress for idle_timeout), not by its length.
		 */
		if (c->file != NULL) {
			conn_timer_set(c, c->gen->conf->close_timeout);
			break;
		}
		conn_close(c, "close timeout");
		break;
	case CONN_WS_CLOSING:
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
