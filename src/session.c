/* session.c -- the WebSocket session of a connection (RFC 6455, 7692). */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include <openssl/rand.h>

#include "access.h"
#include "app.h"
#include "config.h"
#include "conn.h"
#include "conn_priv.h"
#include "generation.h"
#include "http.h"
#include "hub.h"
#include "jwt.h"
#include "log.h"
#include "pmd.h"
#include "loop.h"
#include "stats.h"
#include "utf8.h"
#include "ws.h"

/* Ends the session for the app: on_close once, then out of the hub. */
void
conn_ws_end(struct conn *c)
{
	if (!c->app_opened)
		return;
	c->app_opened = 0;
	if (c->route->app->on_close != NULL)
		c->route->app->on_close(c);
	/* After on_close, so an app can still tell the others. */
	hub_leave(conn_member(c));
}

/* jwt_expire_close: the token's exp (and leeway) has come. */
static void
conn_ws_jwt_expired_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn	*c = arg;

	(void)fd;
	(void)what;
	if (conn_is_open(c))
		conn_ws_fail(c, WS_CLOSE_POLICY, "token expired");
}

/*
 * The session takes claims over (a connection without a token costs one
 * NULL pointer) and, with jwt_expire_close, arms a timer for the moment
 * the token stops being valid (exp + jwt_leeway, as at the handshake).
 * -1 without memory; the claims are freed then too.
 */
static int
conn_ws_jwt_set(struct conn *c, struct jwt_claims *claims)
{
	struct timeval	 now, tv;
	double		 left;

	if (claims == NULL)
		return 0;
	if ((c->ws->jwt = calloc(1, sizeof(*c->ws->jwt))) == NULL) {
		jwt_claims_free(claims);
		return -1;
	}
	c->ws->jwt->claims = claims;
	if (!claims->has_exp || !c->route->jwt_expire_close)
		return 0;
	gettimeofday(&now, NULL);
	left = (double)claims->exp + c->route->jwt_leeway -
	    ((double)now.tv_sec + now.tv_usec / 1e6);
	if ((c->ws->jwt->timer = evtimer_new(c->srv->base,
	    conn_ws_jwt_expired_cb, c)) == NULL)
		return -1;
	tv = config_timeval(left > 0 ? left : 0);
	evtimer_add(c->ws->jwt->timer, &tv);
	return 0;
}

/* Frees the session's token claims and expiry timer. */
static void
conn_ws_jwt_free(struct conn *c)
{
	if (c->ws->jwt == NULL)
		return;
	if (c->ws->jwt->timer != NULL)
		event_free(c->ws->jwt->timer);
	jwt_claims_free(c->ws->jwt->claims);
	free(c->ws->jwt);
	c->ws->jwt = NULL;
}

/* The claims of the token the WebSocket came with; NULL: none. */
const struct jwt_claims *
conn_jwt_claims(const struct conn *c)
{
	return c->ws != NULL && c->ws->jwt != NULL ? c->ws->jwt->claims :
	    NULL;
}

/* The hub membership of a WebSocket or an SSE stream. */
struct hub_member *
conn_member(struct conn *c)
{
	if (c->ws != NULL)
		return &c->ws->member;
	if (c->sse != NULL)
		return &c->sse->member;
	return NULL;
}

/* The request on_open may look at (thread-local: one loop per thread). */
static _Thread_local const struct http_request *conn_opening;

/* The request of the subscriber being opened. */
const struct http_request *
conn_open_request(void)
{
	return conn_opening;
}

/* Runs the app's on_open with the request at hand. */
void
conn_app_open(struct conn *c, const struct http_request *req)
{
	c->app_opened = 1;
	if (c->route->app->on_open == NULL)
		return;
	conn_opening = req;
	c->route->app->on_open(c);
	conn_opening = NULL;
}

/* What a held upgrade needs to answer later (CONN_WS_PENDING). */
struct conn_upgrade {
	char		 accept[WS_ACCEPT_LEN];
	char		 ext[PMD_RESPONSE_MAX];
};

/*
 * Sets up the session of an upgrade request: parser, compression agreed
 * with the request's offer (the response value in ext), the route held.
 */
static int
conn_ws_start(struct conn *c, const struct http_request *req,
    char ext[PMD_RESPONSE_MAX])
{
	struct pmd_params	 pp;
	int			 shared;

	c->ws = &c->ws_room;
	memset(c->ws, 0, sizeof(*c->ws));
	ws_parser_init(&c->ws->parser, c->route->lim.max_message_size);
	/*
	 * RFC 7692: an unacceptable offer only means no compression. Shared:
	 * no context takeover either way, so the connection holds no zlib
	 * state; hub messages come compressed once for all.
	 */
	shared = c->route->lim.compression == WSD_COMPRESSION_SHARED;
	if (c->route->lim.compression != WSD_COMPRESSION_OFF &&
	    pmd_negotiate(req, shared, &pp, ext)) {
		if ((c->ws->pmd = pmd_new(&pp, shared)) == NULL) {
			log_warn("%s: upgrade", conn_peer(c));
			c->ws = NULL;
			return -1;
		}
		ws_parser_allow_rsv1(&c->ws->parser);
	}
	c->ws->rt = app_route_hold(generation_route(c->gen, c->route));
	return 0;
}

/* Frees a session that never opened (a held upgrade that failed). */
static void
conn_ws_discard(struct conn *c)
{
	ws_parser_free(&c->ws->parser);
	pmd_free(c->ws->pmd);
	conn_ws_jwt_free(c);
	app_route_free(c->ws->rt);
	free(c->upg);
	c->upg = NULL;
	c->ws = NULL;
}

/*
 * Queues the 101 and opens the session: counters, timers, on_open (which
 * sees req through conn_open_request(); NULL for a held upgrade).
 */
static void
conn_ws_answer(struct conn *c, const struct http_request *req,
    const char *accept, const char *ext, const char *proto)
{
	struct evbuffer		*out = bufferevent_get_output(c->bev);

	if (c->ws->pmd != NULL)
		c->srv->stats.ws_deflate++;
	c->srv->stats.ws_total++;
	c->srv->stats.ws_current++;
	c->req_start = conn_now();
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
	log_debug("%s: websocket %s%s%s%s%s", conn_peer(c), c->route->path,
	    proto ? " subprotocol " : "",
	    proto ? proto : "",
	    c->ws->pmd != NULL ? " with " : "", c->ws->pmd != NULL ? ext : "");

	/*
	 * The bufferevent goes right after this (conn_io_takeover()):
	 * send_timeout is carried by the write event that output armed.
	 */
	conn_set_state(c, CONN_WS_OPEN);
	conn_timer_set(c, c->route->lim.ping_interval);
	conn_app_open(c, req);
}

/*
 * Completes the opening handshake and switches to the WebSocket, or
 * holds it for an app's pre_upgrade; the session takes the token's claims
 * over, whatever happens. Returns 0 (upgraded or held), -1 on an internal
 * error, or the status an app refused with.
 */
int
conn_ws_upgrade(struct conn *c, const struct http_request *req,
    const char *accept, const char *proto, struct jwt_claims *claims)
{
	const struct app	*app = c->route->app;
	char			 ext[PMD_RESPONSE_MAX];
	int			 rc;

	if (conn_ws_start(c, req, ext) == -1) {
		jwt_claims_free(claims);
		return -1;
	}
	if (conn_ws_jwt_set(c, claims) == -1) {
		log_warn("%s: upgrade", conn_peer(c));
		conn_ws_discard(c);
		return -1;
	}
	/* exec: refused before anything is owed (max_procs). */
	if (app->on_upgrade != NULL && (rc = app->on_upgrade(c, req)) != 0) {
		conn_ws_discard(c);
		return rc >= 400 && rc <= 599 ? rc : -1;
	}
	if (app->pre_upgrade == NULL) {
		conn_ws_answer(c, req, accept, ext, proto);
		return 0;
	}
	/* on_close is owed from here on, whatever happens. */
	c->app_opened = 1;
	rc = app->pre_upgrade(c, req);
	if (rc == 0) {
		conn_ws_answer(c, req, accept, ext, proto);
		return 0;
	}
	if (rc == 1 && (c->upg = malloc(sizeof(*c->upg))) != NULL) {
		memcpy(c->upg->accept, accept, WS_ACCEPT_LEN);
		memcpy(c->upg->ext, ext, sizeof(ext));
		conn_set_state(c, CONN_WS_PENDING);
		return 0;
	}
	conn_ws_end(c);
	conn_ws_discard(c);
	return rc >= 400 && rc <= 599 ? rc : -1;
}

/* Ends a held upgrade with the 101; the session starts. */
void
conn_upgrade_accept(struct conn *c, const char *subprotocol)
{
	struct conn_upgrade	*upg;

	if (c->state != CONN_WS_PENDING)
		return;
	upg = c->upg;
	c->upg = NULL;
	conn_ws_answer(c, NULL, upg->accept, upg->ext, subprotocol);
	free(upg);
	/* As conn_http_read() does for an upgrade answered at once. */
	if (conn_io_takeover(c) == -1)
		return;
	if (c->state == CONN_WS_OPEN)
		conn_ws_read(c);
}

/* Ends a held upgrade with an error: on_close, the answer, the close. */
void
conn_upgrade_fail(struct conn *c, int status, const char *detail)
{
	if (c->state != CONN_WS_PENDING)
		return;
	conn_ws_end(c);
	conn_ws_discard(c);
	conn_http_fail(c, NULL, status, NULL, detail);
}

/* A held upgrade meets a stop: on_close now, then 503. */
void
conn_ws_pending_close(struct conn *c)
{
	conn_upgrade_fail(c, 503, "shutting down");
}

/* Queues one frame, final or not; the payload is copied. */
static void
conn_ws_frame_fin(struct conn *c, int fin, int opcode, const void *data,
    size_t len)
{
	uint8_t		 hdr[10];
	size_t		 hlen;

	hlen = ws_frame_header_encode(hdr, fin, opcode, len);
	conn_out_add(c, hdr, hlen);
	if (len > 0)
		conn_out_add(c, data, len);
}

/* Queues one final frame; the payload is copied into the output. */
static void
conn_ws_frame(struct conn *c, int opcode, const void *data, size_t len)
{
	conn_ws_frame_fin(c, 1, opcode, data, len);
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
void
conn_ws_fail(struct conn *c, unsigned code, const char *reason)
{
	log_info("%s: ws %s: closing with %u: %s", conn_peer(c), c->route->path,
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
	else if (c->state == CONN_SSE) {
		log_info("%s: sse %s: closing: %s", conn_peer(c),
		    c->route->path, reason);
		conn_flush_close(c);
	}
}

/* Whether messages may still be sent. */
int
conn_is_open(const struct conn *c)
{
	return (c->state == CONN_WS_OPEN && !c->close_sent) ||
	    c->state == CONN_SSE;
}

/* Whether c is an SSE stream. */
int
conn_is_sse(const struct conn *c)
{
	return c->sse != NULL;
}

/* Counts a message queued to c, in the session and the route. */
static void
conn_ws_sent(struct conn *c, size_t len)
{
	struct stats_route	*stats = app_route_stats(c->ws->rt);

	c->ws->bytes_out += len;
	stats->msgs_out++;
	stats->bytes_out += len;
}

/*
 * Takes a token of max_messages_per_second; the bucket is allocated on
 * the first message, so that a route without the limit pays nothing.
 * -1: c was failed (over the rate, or out of memory).
 */
static int
conn_ws_rate(struct conn *c)
{
	unsigned	rate = c->route->lim.max_messages_per_second;

	if (c->ws->rate == NULL) {
		if ((c->ws->rate = malloc(sizeof(*c->ws->rate))) == NULL) {
			conn_ws_fail(c, WS_CLOSE_INTERNAL, "out of memory");
			return -1;
		}
		access_rate_init(c->ws->rate, rate, conn_now());
	}
	if (access_rate_take(c->ws->rate, rate, conn_now()) == -1) {
		c->srv->stats.rate_closed++;
		conn_ws_fail(c, WS_CLOSE_POLICY, "message rate exceeded");
		return -1;
	}
	return 0;
}

/* Queues a shared, already encoded frame without copying it. */
int
conn_send_shared(struct conn *c, const void *frame, size_t len,
    size_t payload_len, void (*cleanup)(const void *, size_t, void *),
    void *arg)
{
	if (!conn_is_open(c))
		return -1;
	if (conn_out_ref(c, frame, len, cleanup, arg) == -1)
		return -1;
	/* An SSE stream (c->sse) has no session to count in. */
	if (c->ws != NULL)
		conn_ws_sent(c, payload_len);
	return 0;
}

/* The route runtime of a WebSocket. */
struct app_route *
conn_app_route(struct conn *c)
{
	if (c->ws != NULL)
		return c->ws->rt;
	return c->sse != NULL ? c->sse->rt : NULL;
}

/* Joins the route's hub. */
void
conn_join_hub(struct conn *c)
{
	struct app_route	*rt = conn_app_route(c);

	if (rt != NULL)
		conn_join(c, app_route_hub(rt));
}

/* Leaves the hub early (on_close). */
void
conn_leave_hub(struct conn *c)
{
	hub_leave(conn_member(c));
}

/* Joins a hub of the app's (a channel's). */
void
conn_join(struct conn *c, struct hub *h)
{
	struct hub_member	*m = conn_member(c);

	if (m != NULL)
		hub_join(h, m, c);
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
	uint8_t		 hdr[10], *p;
	size_t		 hlen, zlen, room = pmd_deflate_bound(len);

	if ((p = conn_out_reserve(c, sizeof(hdr) + room)) == NULL)
		return -1;
	if (pmd_deflate(c->ws->pmd, data, len, p + sizeof(hdr), room,
	    &zlen) != PMD_OK)
		return -1;
	hlen = ws_frame_header_encode(hdr, 1, opcode, zlen);
	hdr[0] |= 0x40;
	memcpy(p, hdr, hlen);
	memmove(p + hlen, p + sizeof(hdr), zlen);
	return conn_out_commit(c, hlen + zlen);
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
	if (!conn_is_open(c) || c->ws == NULL)
		return -1;
	if (c->ws->pmd != NULL) {
		if (conn_ws_frame_deflate(c, opcode, data, len) == -1) {
			conn_ws_fail(c, WS_CLOSE_INTERNAL, "compression failed");
			return -1;
		}
	} else
		conn_ws_frame(c, opcode, data, len);
	conn_ws_sent(c, len);
	return 0;
}

/* Queues one frame of a message as it is, fragments kept. */
int
conn_send_frame(struct conn *c, int opcode, int fin, const void *data,
    size_t len)
{
	if (opcode != WS_OP_CONT && fin)
		return conn_send(c, opcode, data, len);
	if (!conn_is_open(c))
		return -1;
	conn_ws_frame_fin(c, fin, opcode, data, len);
	c->ws->bytes_out += len;
	app_route_stats(c->ws->rt)->bytes_out += len;
	if (fin)
		app_route_stats(c->ws->rt)->msgs_out++;
	conn_check_output(c, c->route->lim.max_send_buffer);
	return 0;
}

/* Whether the client came over TLS. */
int
conn_is_tls(const struct conn *c)
{
	return c->tls;
}

/* The hop's address as text. */
void
conn_hop_text(const struct conn *c, char *out, size_t outlen)
{
	char	buf[CIDR_ADDR_STRLEN];

	if (c->hop.family != AF_INET && c->hop.family != AF_INET6) {
		snprintf(out, outlen, "unknown");
		return;
	}
	cidr_addr_format(&c->hop, buf);
	snprintf(out, outlen, "%s", buf);
}

/* Whether the hop is a trusted proxy. */
int
conn_hop_is_trusted(const struct conn *c)
{
	return conn_hop_trusted(c);
}

/* The close code of the session, 0 while none was sent or received. */
unsigned
conn_close_code(const struct conn *c)
{
	return c->ws != NULL ? c->ws->close_code : 0;
}

/* Starts the closing handshake on an app's behalf. */
void
conn_ws_close(struct conn *c, unsigned code, const char *reason)
{
	if (c->state == CONN_SSE) {
		log_debug("%s: sse %s: ending: %s", conn_peer(c),
		    c->route->path, reason);
		conn_flush_close(c);
		return;
	}
	if (c->state != CONN_WS_OPEN)
		return;
	conn_ws_send_close(c, code, reason);
	conn_set_state(c, CONN_WS_CLOSING);
	conn_timer_set(c, c->gen->conf->close_timeout);
}

/* Returns the app's per-connection pointer. */
void *
conn_app_data(struct conn *c)
{
	if (c->ws != NULL)
		return c->ws->app_data;
	return c->sse != NULL ? c->sse->app_data : NULL;
}

/* Sets the app's per-connection pointer. */
void
conn_set_app_data(struct conn *c, void *data)
{
	if (c->ws != NULL)
		c->ws->app_data = data;
	else if (c->sse != NULL)
		c->sse->app_data = data;
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
	app_route_stats(ws->rt)->bytes_in += len;
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

/*
 * For an app with on_frame: hands it each frame once whole. A frame that
 * lies whole in one piece goes where it lies; others are assembled in
 * ws->msg (a frame is at most a message: max_message_size bounds it).
 */
static void
conn_ws_frame_in(struct conn *c, const struct ws_event *ev)
{
	struct conn_ws	*ws = c->ws;
	const uint8_t	*data = ev->data;
	size_t		 len = ev->len;
	int		 opcode;

	if (ev->first)
		ws->frame_op = (uint8_t)ev->opcode;
	if (ev->compressed) {
		if (conn_ws_inflate(c, ev) == -1)
			return;
	} else if ((ws->msg != NULL && evbuffer_get_length(ws->msg) > 0) ||
	    !ev->frame_end) {
		if ((ws->msg == NULL && (ws->msg = evbuffer_new()) == NULL) ||
		    evbuffer_add(ws->msg, data, len) == -1) {
			conn_ws_fail(c, WS_CLOSE_INTERNAL, "out of memory");
			return;
		}
	}
	if (!ev->frame_end)
		return;
	if (ws->msg != NULL) {
		len = evbuffer_get_length(ws->msg);
		data = len > 0 ? evbuffer_pullup(ws->msg, -1) :
		    (const uint8_t *)"";
	}
	if (ev->fin)
		app_route_stats(ws->rt)->msgs_in++;
	opcode = ws->frame_op;
	ws->frame_op = WS_OP_CONT;
	c->route->app->on_frame(c, opcode, ev->fin, data, len);
	if (ws->msg != NULL) {
		evbuffer_free(ws->msg);
		ws->msg = NULL;
	}
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
		app_route_stats(ws->rt)->bytes_in += len;
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
	if (app->on_frame != NULL) {
		conn_ws_frame_in(c, ev);
		return;
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
	app_route_stats(ws->rt)->msgs_in++;
	/* Complete messages only: control frames never count. */
	if (c->route->lim.max_messages_per_second > 0 &&
	    conn_ws_rate(c) == -1)
		return;
	if (app->on_message != NULL)
		app->on_message(c, ws->msg_opcode, data, len);
	/* Assembly memory lives only while a message needs it. */
	if (ws->msg != NULL) {
		evbuffer_free(ws->msg);
		ws->msg = NULL;
	}
}

/* Hands the peer's close frame to an app with on_frame. */
static void
conn_ws_close_frame_in(struct conn *c, const struct ws_event *ev)
{
	uint8_t	payload[WS_CONTROL_MAX];
	char	reason[WS_CONTROL_MAX];
	size_t	len;

	len = ev->len < sizeof(reason) ? ev->len : sizeof(reason) - 1;
	memcpy(reason, ev->data, len);
	reason[len] = '\0';
	len = ws_close_payload(payload, ev->code, reason);
	c->route->app->on_frame(c, WS_OP_CLOSE, 1, payload, len);
}

/* Acts on one parser event; returns 0 when parsing must stop. */
static int
conn_ws_event(struct conn *c, const struct ws_event *ev)
{
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
		if (conn_pending(c) > c->route->lim.max_send_buffer) {
			c->srv->stats.out_closed++;
			conn_ws_fail(c, WS_CLOSE_POLICY,
			    "pongs not read, send buffer full");
			return 0;
		}
		break;
	case WS_EV_PONG:
		/* RFC 6455 5.5.3: a pong may be unsolicited. Only the one
		 * that carries our ping's random bytes answers it. */
		if (c->awaiting_pong && ev->len == CONN_PING_LEN &&
		    memcmp(ev->data, c->ws->ping, CONN_PING_LEN) == 0) {
			c->awaiting_pong = 0;
			if (c->state == CONN_WS_OPEN)
				conn_timer_set(c, c->route->lim.ping_interval);
		}
		break;
	case WS_EV_CLOSE:
		c->close_rcvd = 1;
		if (!c->close_sent)
			c->ws->close_code = ev->code;
		if (c->route->app->on_frame != NULL && c->state == CONN_WS_OPEN)
			conn_ws_close_frame_in(c, ev);
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
 * Parses and unmasks frames in place in buf until it is used up, the
 * connection is paused by backpressure or the session ends. A message
 * that lies whole in buf reaches the app where it lies. Returns the bytes
 * used; the rest is for the caller to keep (masked, as it came).
 */
size_t
conn_ws_input(struct conn *c, uint8_t *buf, size_t len)
{
	struct ws_event	 ev;
	size_t		 off = 0, n;

	while (off < len) {
		n = ws_parser_feed_inplace(&c->ws->parser, buf + off,
		    len - off, &ev);
		off += n;
		if (!conn_ws_event(c, &ev) || !conn_reading(c))
			break;
		if (n == 0 && ev.type == WS_EV_NONE)
			break;
	}
	return off;
}

/*
 * Parses what arrived with the upgrade request. Plain or TLS, a WebSocket
 * reads on its own after that (conn.c).
 */
void
conn_ws_read(struct conn *c)
{
	conn_io_input(c);
}

/* The session ends for good: access log line, counters, memory. */
void
conn_ws_free(struct conn *c)
{
	struct server	*srv = c->srv;
	struct log_access_rec r;
	unsigned	 code = c->ws->close_code ? c->ws->close_code :
			    WS_CLOSE_ABNORMAL;

	conn_ws_end(c);
	if (c->state == CONN_WS_PENDING) {
		conn_ws_discard(c);	/* never opened: nothing to count */
		return;
	}
	if (c->ws->log != NULL) {
		log_limit_flush(c->ws->log);
		free(c->ws->log);
	}
	memset(&r, 0, sizeof(r));
	r.client = conn_peer(c);
	r.ws = 1;
	r.path = c->route->path;
	r.close_code = code;
	r.bytes_in = c->ws->bytes_in;
	r.bytes_out = c->ws->bytes_out;
	r.secs = conn_elapsed(c->req_start);
	log_access(&r);
	stats_close(&srv->stats, code);
	srv->stats.ws_current--;
	if (c->ws->msg != NULL)
		evbuffer_free(c->ws->msg);
	free(c->ws->rate);
	ws_parser_free(&c->ws->parser);
	conn_rd_end(c);
	pmd_free(c->ws->pmd);
	conn_ws_jwt_free(c);
	app_route_free(c->ws->rt);
	c->ws = NULL;
}

/*
 * The timer of an open session: a ping is due, or the pong to the last
 * one is overdue.
 */
void
conn_ws_timer(struct conn *c)
{
	const struct wsd_limits *lim = &c->route->lim;

	if (c->awaiting_pong) {
		conn_ws_fail(c, WS_CLOSE_INTERNAL, "keepalive ping timeout");
		return;
	}
	/* Unpredictable, so that only a client that read the ping can
	 * answer it. */
	if (RAND_bytes(c->ws->ping, sizeof(c->ws->ping)) != 1) {
		log_errx("%s: no random bytes for a ping", conn_peer(c));
		conn_ws_fail(c, WS_CLOSE_INTERNAL, "internal error");
		return;
	}
	conn_ws_frame(c, WS_OP_PING, c->ws->ping, sizeof(c->ws->ping));
	if (lim->ping_timeout > 0) {
		c->awaiting_pong = 1;
		conn_timer_set(c, lim->ping_timeout);
	} else
		conn_timer_set(c, lim->ping_interval);
}

/*
 * The write timeout: output has been pending for send_timeout without a
 * byte getting through. The caller drops TCP; a close frame would only
 * queue behind the rest.
 */
void
conn_ws_send_timeout(struct conn *c)
{
	log_info("%s: ws %s: no output progress for %.3gs, dropping "
	    "the connection", conn_peer(c), c->route->path,
	    c->route->lim.send_timeout);
	c->srv->stats.send_timeouts++;
}

/* Who the client is and how it came, for a program's environment. */
void
conn_endpoints(const struct conn *c, char *addr, size_t len, unsigned *port,
    unsigned *local_port, int *tls)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sl = sizeof(ss);
	char			 buf[CIDR_ADDR_STRLEN];

	cidr_addr_format(&c->addr, buf);
	snprintf(addr, len, "%s", buf);
	*port = c->forwarded ? 0 : c->port;
	*local_port = 0;
	if (c->fd != -1 && getsockname(c->fd, (struct sockaddr *)&ss,
	    &sl) == 0) {
		if (ss.ss_family == AF_INET)
			*local_port = ntohs(((struct sockaddr_in *)(void *)
			    &ss)->sin_port);
		else if (ss.ss_family == AF_INET6)
			*local_port = ntohs(((struct sockaddr_in6 *)(void *)
			    &ss)->sin6_port);
	}
	*tls = c->tls;
}

/* The connection's budget of client-caused log lines. */
struct log_limit *
conn_log_limit(struct conn *c)
{
	/* Out of memory: such clients share one budget. */
	static _Thread_local struct log_limit spare = { "clients",
	    { { 0 } } };

	/* Most clients never cause a line: made on the first one. */
	if (c->ws->log == NULL) {
		if ((c->ws->log = malloc(sizeof(*c->ws->log))) == NULL)
			return &spare;
		log_limit_init(c->ws->log, conn_peer(c));
	}
	return c->ws->log;
}

/* How hubs reach their members (hub.h): a connection's output queue. */
const struct hub_io conn_hub_io = {
	.open = conn_is_open,
	.sse = conn_is_sse,
	.pmd = conn_pmd,
	.pending = conn_pending,
	.send_shared = conn_send_shared,
	.queue = conn_queue,
	.watch_drain = conn_watch_drain,
	.fail = conn_fail,
	.peer = conn_peer,
};
