/*
 * backend.c -- the client side of a WebSocket to a backend server: TCP,
 * unix socket or TLS (certificate and host name verified), the opening
 * handshake (RFC 6455 4.1) parsed with http.c, then frames through ws.c,
 * masked as a client's must be.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "backend.h"
#include "http.h"
#include "log.h"
#include "tls.h"
#include "ws.h"

/* A longer response head from a backend is a bad answer. */
#define BACKEND_HEAD_MAX	8192
/* Input read from the backend per wakeup, at most. */
#define BACKEND_READ_MAX	65536
/* Frames up to this size are masked on the stack and may go out at once. */
#define BACKEND_SMALL_FRAME	16384

enum backend_state {
	BK_CONNECTING,		/* TCP (and TLS), then the 101 */
	BK_OPEN,
	BK_CLOSING,		/* let go: close handshake, then free */
};

struct backend {
	TAILQ_ENTRY(backend)	 entry;		/* closing alone */
	struct bufferevent	*bev;
	struct event		*timer;		/* connect, close timeout */
	const struct backend_cb	*cb;		/* NULL once let go */
	void			*arg;
	struct backend_opts	 o;
	struct evdns_getaddrinfo_request *lookup; /* the host's, until answered */
	struct ws_parser	 parser;
	struct evbuffer		*frame;		/* a frame split over reads */
	char			 accept[WS_ACCEPT_LEN];
	enum backend_state	 st;
	int			 busy;		/* inside a callback */
	uint8_t			 frame_op;
	unsigned		 dead:1;	/* freed inside a callback */
	unsigned		 close_sent:1;
	unsigned		 close_rcvd:1;
	unsigned		 over:1;	/* output was over the limit */
	unsigned		 listed:1;
	unsigned		 tls:1;
	unsigned		 starting:1;	/* inside backend_connect() */
	unsigned		 failed:1;	/* ... and it failed there */
	unsigned		 tcp:1;
	unsigned		 nodelay:1;	/* TCP_NODELAY set */
	const char		*why;		/* ... why */
};

/* Each worker's own; set up on first use (no constant address). */
static _Thread_local TAILQ_HEAD(, backend) backend_closing;

static void	backend_read_cb(struct bufferevent *, void *);
static void	backend_write_cb(struct bufferevent *, void *);
static void	backend_event_cb(struct bufferevent *, short, void *);
static void	backend_timer_cb(evutil_socket_t, short, void *);

/* Copies n bytes of s into out[cap] with a NUL; -1 when it does not fit. */
static int
backend_copy(char *out, size_t cap, const char *s, size_t n)
{
	if (n >= cap)
		return -1;
	memcpy(out, s, n);
	out[n] = '\0';
	return 0;
}

/* Parses ws://, wss:// and unix: URLs. */
int
backend_url_parse(const char *s, struct backend_url *u)
{
	const char	*h, *p, *e, *c;
	unsigned long	 port;
	char		*end;

	memset(u, 0, sizeof(*u));
	if (strncmp(s, "unix:", 5) == 0) {
		u->kind = BACKEND_UNIX;
		h = s + 5;
		if (*h != '/')
			return -1;
		p = strchr(h, ':');
		if (backend_copy(u->sock, sizeof(u->sock), h,
		    p != NULL ? (size_t)(p - h) : strlen(h)) == -1)
			return -1;
		p = p != NULL ? p + 1 : "/";
		if (*p != '/')
			return -1;
		return backend_copy(u->path, sizeof(u->path), p, strlen(p));
	}
	if (strncmp(s, "ws://", 5) == 0) {
		u->kind = BACKEND_WS;
		h = s + 5;
	} else if (strncmp(s, "wss://", 6) == 0) {
		u->kind = BACKEND_WSS;
		h = s + 6;
	} else
		return -1;
	e = h + strcspn(h, "/?#");
	if (*e == '?' || *e == '#')
		return -1;
	if (*h == '[') {
		if ((c = memchr(h, ']', (size_t)(e - h))) == NULL ||
		    backend_copy(u->host, sizeof(u->host), h + 1,
		    (size_t)(c - h - 1)) == -1)
			return -1;
		c++;
		if (c != e && *c != ':')
			return -1;
	} else {
		c = memchr(h, ':', (size_t)(e - h));
		if (backend_copy(u->host, sizeof(u->host), h,
		    (size_t)((c != NULL ? c : e) - h)) == -1)
			return -1;
		if (c == NULL)
			c = e;
	}
	if (u->host[0] == '\0' || strpbrk(u->host, " @\t") != NULL)
		return -1;
	if (c != e) {
		errno = 0;
		port = strtoul(c + 1, &end, 10);
		if (end != e || c + 1 == e || port == 0 || port > 65535)
			return -1;
		snprintf(u->port, sizeof(u->port), "%lu", port);
	} else
		snprintf(u->port, sizeof(u->port), "%s",
		    u->kind == BACKEND_WSS ? "443" : "80");
	if (*e == '\0')
		e = "/";
	/* The path goes into a request line: visible ASCII only. */
	for (p = e; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return -1;
	return backend_copy(u->path, sizeof(u->path), e, strlen(e));
}

/* Whether s is a backend URL, for the config check. */
int
backend_url_check(const char *s)
{
	struct backend_url	u;

	return backend_url_parse(s, &u);
}

/* Frees b's resources. */
static void
backend_destroy(struct backend *b)
{
	if (b->listed)
		TAILQ_REMOVE(&backend_closing, b, entry);
	if (b->timer != NULL)
		event_free(b->timer);
	/* Its callback comes with EVUTIL_EAI_CANCEL, and ignores it. */
	if (b->lookup != NULL)
		evdns_getaddrinfo_cancel(b->lookup);
	if (b->bev != NULL) {
		bufferevent_disable(b->bev, EV_READ | EV_WRITE);
		bufferevent_free(b->bev);
	}
	if (b->frame != NULL)
		evbuffer_free(b->frame);
	ws_parser_free(&b->parser);
	free(b);
}

/* Drops the connection at once (later when inside a callback). */
void
backend_free(struct backend *b)
{
	if (b == NULL)
		return;
	b->cb = NULL;
	if (b->busy > 0) {
		b->dead = 1;
		if (b->bev != NULL)
			bufferevent_disable(b->bev, EV_READ | EV_WRITE);
		return;
	}
	backend_destroy(b);
}

/* Frees the backends still closing alone. */
void
backend_free_closing(void)
{
	struct backend	*b;

	while ((b = TAILQ_FIRST(&backend_closing)) != NULL)
		backend_destroy(b);
}

/* Marks a callback's start. */
static void
backend_enter(struct backend *b)
{
	b->busy++;
}

/* Marks a callback's end; 0 when b went meanwhile (freed here). */
static int
backend_leave(struct backend *b)
{
	if (--b->busy == 0 && b->dead) {
		backend_destroy(b);
		return 0;
	}
	return !b->dead;
}

/* Tells the owner that the connection failed, and frees b. */
static void
backend_fail(struct backend *b, int status, const char *why)
{
	const struct backend_cb	*cb = b->cb;

	b->cb = NULL;
	if (cb != NULL && b->st == BK_CONNECTING) {
		backend_enter(b);
		cb->on_fail(b->arg, status, why);
		b->busy--;
	} else if (cb != NULL && b->st == BK_OPEN) {
		backend_enter(b);
		cb->on_close(b->arg, WS_CLOSE_ABNORMAL, why);
		b->busy--;
	}
	if (b->busy == 0)
		backend_destroy(b);
	else
		backend_free(b);
}

/* A random masking key (RFC 6455 5.3: unpredictable), from a pool. */
static void
backend_mask_key(uint8_t key[4])
{
	static _Thread_local uint8_t	pool[256];
	static _Thread_local size_t	left;

	if (left == 0) {
		if (RAND_bytes(pool, sizeof(pool)) != 1)
			fatalx("no random bytes for masking keys");
		left = sizeof(pool);
	}
	left -= 4;
	memcpy(key, pool + left, 4);
}

/*
 * Writes a small frame straight to a plain socket when nothing is queued
 * before it, as the core does for clients: no write event is armed for
 * output the socket takes at once. Returns the bytes written (the rest
 * is for the caller to queue), or 0.
 */
static size_t
backend_write_now(struct backend *b, const uint8_t *frame, size_t len)
{
	evutil_socket_t	fd;
	ssize_t		n;

	if (b->tls || b->st != BK_OPEN ||
	    evbuffer_get_length(bufferevent_get_output(b->bev)) > 0 ||
	    (fd = bufferevent_getfd(b->bev)) == -1)
		return 0;
	do
		n = send(fd, frame, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (n == -1 && errno == EINTR);
	/* Errors show up on the next read or write of the bufferevent. */
	return n > 0 ? (size_t)n : 0;
}

/* Queues one masked frame; the payload is masked into the output. */
static int
backend_frame_out(struct backend *b, int opcode, int fin, const void *data,
    size_t len)
{
	static uint8_t		 small[BACKEND_SMALL_FRAME];
	struct evbuffer		*out = bufferevent_get_output(b->bev);
	struct evbuffer_iovec	 v;
	uint8_t			 hdr[WS_HEADER_MAX], key[4];
	size_t			 hlen, done;

	backend_mask_key(key);
	hlen = ws_frame_header_encode_masked(hdr, fin, opcode, len, key);
	if (hlen + len <= sizeof(small)) {
		memcpy(small, hdr, hlen);
		ws_unmask(small + hlen, data, len, key, 0);
		done = backend_write_now(b, small, hlen + len);
		return done == hlen + len ? 0 :
		    evbuffer_add(out, small + done, hlen + len - done);
	}
	if (evbuffer_reserve_space(out, (ev_ssize_t)(hlen + len), &v, 1) < 1)
		return -1;
	memcpy(v.iov_base, hdr, hlen);
	ws_unmask((uint8_t *)v.iov_base + hlen, data, len, key, 0);
	v.iov_len = hlen + len;
	return evbuffer_commit_space(out, &v, 1);
}

/* Sends a close frame once. */
static void
backend_send_close(struct backend *b, const uint8_t *payload, size_t len)
{
	if (b->close_sent)
		return;
	b->close_sent = 1;
	backend_frame_out(b, WS_OP_CLOSE, 1, payload, len);
}

/* Queues one frame of a message. */
int
backend_send_frame(struct backend *b, int opcode, int fin, const void *data,
    size_t len)
{
	size_t	pending;

	if (b->st != BK_OPEN || b->close_sent ||
	    backend_frame_out(b, opcode, fin, data, len) == -1)
		return -1;
	pending = backend_pending(b);
	/* The write callback fires once half of it has drained. */
	if (!b->over && pending > b->o.max_send_buffer) {
		b->over = 1;
		bufferevent_setwatermark(b->bev, EV_WRITE,
		    b->o.max_send_buffer / 2, 0);
	}
	return (int)(pending > INT32_MAX ? INT32_MAX : pending);
}

/* Bytes queued for the backend. */
size_t
backend_pending(const struct backend *b)
{
	return b->bev != NULL ?
	    evbuffer_get_length(bufferevent_get_output(b->bev)) : 0;
}

/* Stops or resumes reading the backend. */
void
backend_pause_reading(struct backend *b, int pause)
{
	if (b->bev == NULL || b->st != BK_OPEN)
		return;
	if (pause) {
		bufferevent_disable(b->bev, EV_READ);
		return;
	}
	bufferevent_enable(b->bev, EV_READ);
	/* What was read before the pause is parsed from the loop. */
	if (evbuffer_get_length(bufferevent_get_input(b->bev)) > 0)
		bufferevent_trigger(b->bev, EV_READ,
		    BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
}

/* Ends the closing handshake: the connection goes once flushed. */
static void
backend_closing_done(struct backend *b)
{
	if (backend_pending(b) == 0) {
		if (b->busy > 0)
			backend_free(b);
		else
			backend_destroy(b);
	} else
		bufferevent_setwatermark(b->bev, EV_WRITE, 0, 0);
}

/* The owner lets go; b closes alone. */
void
backend_close(struct backend *b, const uint8_t *payload, size_t len)
{
	struct timeval	tv;

	if (b == NULL)
		return;
	b->cb = NULL;
	if (b->st != BK_OPEN || b->dead) {
		backend_free(b);
		return;
	}
	b->st = BK_CLOSING;
	backend_send_close(b, payload, len);
	if (backend_closing.tqh_last == NULL)
		TAILQ_INIT(&backend_closing);
	TAILQ_INSERT_TAIL(&backend_closing, b, entry);
	b->listed = 1;
	bufferevent_enable(b->bev, EV_READ);
	bufferevent_setwatermark(b->bev, EV_WRITE, 0, 0);
	tv.tv_sec = (time_t)b->o.close_timeout;
	tv.tv_usec = (suseconds_t)((b->o.close_timeout - (double)tv.tv_sec) *
	    1e6);
	evtimer_add(b->timer, &tv);
	if (b->close_rcvd)
		backend_closing_done(b);
}

/*
 * Checks the 101 (RFC 6455 4.1): status, Upgrade, Connection,
 * Sec-WebSocket-Accept, no extension (none is offered). Returns the
 * head's length, 0 while incomplete, -1 after failing b.
 */
static int
backend_handshake(struct backend *b, struct evbuffer *in)
{
	struct http_request	 h;
	const struct http_header *hv;
	const struct backend_cb	*cb = b->cb;
	char			 why[128], proto[256];
	size_t			 len = evbuffer_get_length(in);
	const char		*buf;
	int			 n, status;

	if (len > BACKEND_HEAD_MAX)
		len = BACKEND_HEAD_MAX;
	buf = (const char *)evbuffer_pullup(in, (ev_ssize_t)len);
	n = http_parse_response(buf, len, BACKEND_HEAD_MAX, &status, &h);
	if (n == HTTP_PARTIAL)
		return 0;
	if (n < 0) {
		backend_fail(b, 502, "bad response head");
		return -1;
	}
	if (status != 101) {
		snprintf(why, sizeof(why), "answered %d instead of 101",
		    status);
		backend_fail(b, 502, why);
		return -1;
	}
	if ((hv = http_header_find(&h, "Sec-WebSocket-Accept")) == NULL ||
	    hv->value_len != WS_ACCEPT_LEN - 1 ||
	    memcmp(hv->value, b->accept, hv->value_len) != 0) {
		backend_fail(b, 502, "bad Sec-WebSocket-Accept");
		return -1;
	}
	if (!http_header_has_token(&h, "Upgrade", "websocket") ||
	    !http_header_has_token(&h, "Connection", "upgrade")) {
		backend_fail(b, 502, "bad Upgrade or Connection in the 101");
		return -1;
	}
	if (http_header_find(&h, "Sec-WebSocket-Extensions") != NULL) {
		backend_fail(b, 502, "extension not offered in the 101");
		return -1;
	}
	proto[0] = '\0';
	if ((hv = http_header_find(&h, "Sec-WebSocket-Protocol")) != NULL &&
	    (http_header_count(&h, "Sec-WebSocket-Protocol") != 1 ||
	    !http_token_valid(hv->value, hv->value_len) ||
	    backend_copy(proto, sizeof(proto), hv->value,
	    hv->value_len) == -1)) {
		backend_fail(b, 502, "bad Sec-WebSocket-Protocol in the 101");
		return -1;
	}
	b->st = BK_OPEN;
	evtimer_del(b->timer);
	evbuffer_drain(in, (size_t)n);
	backend_enter(b);
	cb->on_open(b->arg, proto[0] != '\0' ? proto : NULL);
	if (!backend_leave(b))
		return -1;
	return n;
}

/* Hands a data frame to the owner once whole; 0 when b went. */
static int
backend_data(struct backend *b, const struct ws_event *ev)
{
	const uint8_t	*data = ev->data;
	size_t		 len = ev->len;
	int		 opcode;

	if (ev->first)
		b->frame_op = (uint8_t)ev->opcode;
	if (evbuffer_get_length(b->frame) > 0 || !ev->frame_end) {
		if (evbuffer_add(b->frame, data, len) == -1) {
			backend_fail(b, 502, "out of memory");
			return 0;
		}
		if (!ev->frame_end)
			return 1;
		len = evbuffer_get_length(b->frame);
		data = evbuffer_pullup(b->frame, -1);
	}
	opcode = b->frame_op;
	b->frame_op = WS_OP_CONT;
	if (b->cb != NULL && b->st == BK_OPEN) {
		backend_enter(b);
		b->cb->on_frame(b->arg, opcode, ev->fin,
		    len > 0 ? data : (const uint8_t *)"", len);
		if (!backend_leave(b))
			return 0;
	}
	evbuffer_drain(b->frame, evbuffer_get_length(b->frame));
	return 1;
}

/* The backend's close frame: answered, then the owner hears of it. */
static int
backend_close_in(struct backend *b, const struct ws_event *ev)
{
	const struct backend_cb	*cb = b->cb;
	uint8_t			 payload[WS_CONTROL_MAX];
	char			 reason[WS_CONTROL_MAX];
	size_t			 n;

	b->close_rcvd = 1;
	n = ev->len < sizeof(reason) ? ev->len : sizeof(reason) - 1;
	memcpy(reason, ev->data, n);
	reason[n] = '\0';
	/* RFC 6455 5.5.1: echo the code. */
	n = ws_close_payload(payload, ev->code, "");
	backend_send_close(b, payload, n);
	if (b->st == BK_CLOSING) {
		backend_closing_done(b);
		return 0;
	}
	if (cb == NULL)
		return 0;
	backend_enter(b);
	cb->on_close(b->arg, ev->code, reason);
	return backend_leave(b);
}

/* Parses frames from the backend until the input is used or paused. */
static void
backend_frames(struct backend *b, struct evbuffer *in)
{
	struct ws_event	 ev;
	uint8_t		*buf;
	size_t		 len, off = 0, n;
	int		 go = 1;

	len = evbuffer_get_length(in);
	if (len > BACKEND_READ_MAX)
		len = BACKEND_READ_MAX;
	if (len == 0)
		return;
	buf = evbuffer_pullup(in, (ev_ssize_t)len);
	while (go && off < len) {
		n = ws_parser_feed_inplace(&b->parser, buf + off, len - off,
		    &ev);
		off += n;
		switch (ev.type) {
		case WS_EV_NONE:
			if (n == 0)
				go = 0;
			break;
		case WS_EV_DATA:
			if (b->close_rcvd)
				break;
			if (!backend_data(b, &ev))
				return;
			break;
		case WS_EV_PING:
			if (!b->close_sent)
				backend_frame_out(b, WS_OP_PONG, 1, ev.data,
				    ev.len);
			break;
		case WS_EV_PONG:
			break;
		case WS_EV_CLOSE:
			if (!backend_close_in(b, &ev))
				return;
			go = 0;
			break;
		case WS_EV_ERROR:
			log_info("backend: protocol error: %s", ev.reason);
			{
				uint8_t	p[WS_CONTROL_MAX];
				size_t	pl = ws_close_payload(p, ev.code,
				    ev.reason);

				backend_send_close(b, p, pl);
			}
			backend_fail(b, 502, ev.reason);
			return;
		}
		/* Paused by the owner: the rest waits in the input. */
		if (!(bufferevent_get_enabled(b->bev) & EV_READ))
			go = 0;
	}
	evbuffer_drain(in, off);
	/* More than one pass holds: come back from the loop. */
	if (evbuffer_get_length(in) > 0 && b->st != BK_CONNECTING &&
	    (bufferevent_get_enabled(b->bev) & EV_READ) && !b->close_rcvd)
		bufferevent_trigger(b->bev, EV_READ,
		    BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
}

/* Input from the backend. */
static void
backend_read_cb(struct bufferevent *bev, void *arg)
{
	struct backend	*b = arg;
	struct evbuffer	*in = bufferevent_get_input(bev);

	if (b->dead)
		return;
	if (b->st == BK_CONNECTING) {
		if (backend_handshake(b, in) <= 0)
			return;
	}
	if (b->close_rcvd) {
		/* Only the TCP close is awaited. */
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	backend_frames(b, in);
}

/* Output drained to the low watermark. */
static void
backend_write_cb(struct bufferevent *bev, void *arg)
{
	struct backend	*b = arg;

	(void)bev;
	if (b->dead)
		return;
	if (b->st == BK_CLOSING) {
		if (b->close_rcvd && backend_pending(b) == 0)
			backend_destroy(b);
		return;
	}
	if (b->over && backend_pending(b) <= b->o.max_send_buffer / 2) {
		b->over = 0;
		bufferevent_setwatermark(b->bev, EV_WRITE, 0, 0);
		if (b->cb != NULL && b->cb->on_drain != NULL) {
			backend_enter(b);
			b->cb->on_drain(b->arg);
			backend_leave(b);
		}
	}
}

/* Why a bufferevent error happened, for the log. */
static const char *
backend_error(struct backend *b, char *buf, size_t len)
{
	SSL		*ssl = bufferevent_openssl_get_ssl(b->bev);
	unsigned long	 e;
	long		 vr;

	if (ssl != NULL && (vr = SSL_get_verify_result(ssl)) != X509_V_OK) {
		snprintf(buf, len, "certificate verify failed: %s",
		    X509_verify_cert_error_string(vr));
		return buf;
	}
	if (ssl != NULL && (e = bufferevent_get_openssl_error(b->bev)) != 0) {
		snprintf(buf, len, "tls: %s", ERR_reason_error_string(e) ?
		    ERR_reason_error_string(e) : "error");
		return buf;
	}
	if (EVUTIL_SOCKET_ERROR() != 0)
		snprintf(buf, len, "%s", evutil_socket_error_to_string(
		    EVUTIL_SOCKET_ERROR()));
	else
		snprintf(buf, len, "connection closed");
	return buf;
}

/* Frames go out as they are relayed, not held for more (Nagle). */
static void
backend_nodelay(struct backend *b)
{
	evutil_socket_t	fd;
	int		one = 1;

	if (b->nodelay || !b->tcp ||
	    (fd = bufferevent_getfd(b->bev)) == -1)
		return;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	b->nodelay = 1;
}

/* Connected, EOF, errors. */
static void
backend_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct backend	*b = arg;
	char		 why[160];

	(void)bev;
	if (b->dead)
		return;
	/* A lookup or connect that failed at once: backend_connect() says. */
	if (b->starting) {
		if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
			b->failed = 1;
		return;
	}
	if (what & BEV_EVENT_CONNECTED) {
		backend_nodelay(b);
		return;		/* the request is already queued */
	}
	if (b->st == BK_CLOSING) {
		backend_destroy(b);
		return;
	}
	if (what & BEV_EVENT_EOF)
		backend_fail(b, 502, b->st == BK_CONNECTING ?
		    "connection closed before the 101" :
		    "connection closed without a close frame");
	else if (what & (BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
		backend_fail(b, 502, backend_error(b, why, sizeof(why)));
}

/* The connect or close timeout. */
static void
backend_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct backend	*b = arg;

	(void)fd;
	(void)what;
	if (b->dead)
		return;
	if (b->st == BK_CLOSING)
		backend_destroy(b);
	else if (b->st == BK_CONNECTING)
		backend_fail(b, 504, "no answer in time");
}

/* Whether the URL names its host. */
int
backend_url_named(const struct backend_url *u)
{
	struct in6_addr	a;

	return u->kind != BACKEND_UNIX && evutil_inet_pton(AF_INET, u->host,
	    &a) != 1 && evutil_inet_pton(AF_INET6, u->host, &a) != 1;
}

/* The address of a unix socket or of a numeric host into ss. */
static int
backend_addr(const struct backend_url *u, struct sockaddr_storage *ss,
    int *sslen, const char **why)
{
	struct evutil_addrinfo	 hints, *res = NULL;
	struct sockaddr_un	*sun = (struct sockaddr_un *)ss;

	memset(ss, 0, sizeof(*ss));
	if (u->kind == BACKEND_UNIX) {
		sun->sun_family = AF_UNIX;
		memcpy(sun->sun_path, u->sock, strlen(u->sock) + 1);
		*sslen = (int)sizeof(*sun);
		return 0;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = EVUTIL_AI_NUMERICHOST | EVUTIL_AI_NUMERICSERV;
	if (evutil_getaddrinfo(u->host, u->port, &hints, &res) != 0 ||
	    res == NULL) {
		*why = "invalid backend address";
		return -1;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*sslen = (int)res->ai_addrlen;
	evutil_freeaddrinfo(res);
	return 0;
}

/* The Host header's value (RFC 9110 7.2): the port unless the default. */
static const char *
backend_host(const struct backend_url *u, char *out, size_t len)
{
	int	v6 = strchr(u->host, ':') != NULL;
	int	def = strcmp(u->port, u->kind == BACKEND_WSS ? "443" : "80") ==
		    0;

	if (u->kind == BACKEND_UNIX)
		return "localhost";
	snprintf(out, len, "%s%s%s%s%s", v6 ? "[" : "", u->host, v6 ? "]" : "",
	    def ? "" : ":", def ? "" : u->port);
	return out;
}

/*
 * The host's addresses, or why there are none: connects to the first.
 * Inside backend_connect() (an answer from /etc/hosts), a failure is
 * its to report.
 */
static void
backend_resolved_cb(int err, struct evutil_addrinfo *res, void *arg)
{
	struct backend	*b = arg;
	char		 why[160];

	if (err == EVUTIL_EAI_CANCEL)
		return;		/* b is gone */
	b->lookup = NULL;
	if (err != 0 || res == NULL) {
		if (b->starting) {
			b->failed = 1;
			b->why = "cannot resolve the backend's host";
		} else {
			snprintf(why, sizeof(why), "cannot resolve the "
			    "backend's host: %s", err != 0 ?
			    evutil_gai_strerror(err) : "no address");
			backend_fail(b, 502, why);
		}
	} else if (bufferevent_socket_connect(b->bev, res->ai_addr,
	    (int)res->ai_addrlen) == -1) {
		if (b->starting)
			b->failed = 1;
		else
			backend_fail(b, 502, evutil_socket_error_to_string(
			    EVUTIL_SOCKET_ERROR()));
	} else
		backend_nodelay(b);
	if (res != NULL)
		evutil_freeaddrinfo(res);
}

/* Starts a connection to a backend and its handshake. */
struct backend *
backend_connect(struct event_base *base, const struct backend_url *u,
    const char *target, const char *extra, const struct backend_opts *o,
    const struct backend_cb *cb, void *arg, const char **why)
{
	struct backend		*b;
	struct sockaddr_storage	 ss;
	struct evbuffer		*out;
	struct timeval		 tv;
	SSL			*ssl = NULL;
	uint8_t			 nonce[16];
	char			 key[32], host[300];
	struct evutil_addrinfo	 hints;
	int			 sslen = 0, named = backend_url_named(u), rc;

	*why = "out of memory";
	if (named && o->dns == NULL) {
		*why = "no resolver for the backend's host";
		return NULL;
	}
	if (!named && backend_addr(u, &ss, &sslen, why) == -1)
		return NULL;
	if ((b = calloc(1, sizeof(*b))) == NULL)
		return NULL;
	b->cb = cb;
	b->arg = arg;
	b->o = *o;
	ws_parser_init(&b->parser, o->max_message);
	ws_parser_set_client(&b->parser);
	if ((b->frame = evbuffer_new()) == NULL ||
	    (b->timer = evtimer_new(base, backend_timer_cb, b)) == NULL)
		goto fail;
	if (u->kind == BACKEND_WSS) {
		/* SNI and the host name check (RFC 6125). */
		if ((ssl = tls_client_ssl(o->ssl_ctx, u->host)) == NULL) {
			*why = "cannot set up TLS";
			goto fail;
		}
		/*
		 * Deferred: bufferevent_openssl may run callbacks from inside
		 * a write; a plain socket's run from its events only.
		 */
		b->bev = bufferevent_openssl_socket_new(base, -1, ssl,
		    BUFFEREVENT_SSL_CONNECTING,
		    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
		if (b->bev == NULL) {
			SSL_free(ssl);
			goto fail;
		}
		b->tls = 1;
	} else if ((b->bev = bufferevent_socket_new(base, -1,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL)
		goto fail;
	bufferevent_setcb(b->bev, backend_read_cb, backend_write_cb,
	    backend_event_cb, b);
	bufferevent_setwatermark(b->bev, EV_READ, 0, BACKEND_READ_MAX);

	/* RFC 6455 4.1: a random 16-byte key, base64. */
	if (RAND_bytes(nonce, sizeof(nonce)) != 1)
		goto fail;
	EVP_EncodeBlock((unsigned char *)key, nonce, sizeof(nonce));
	if (ws_accept_key(key, strlen(key), b->accept) == -1)
		goto fail;
	out = bufferevent_get_output(b->bev);
	evbuffer_add_printf(out, "GET %s HTTP/1.1\r\nHost: %s\r\n"
	    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n%s\r\n",
	    target, backend_host(u, host, sizeof(host)), key, extra);
	/*
	 * A name is looked up without blocking (evdns: /etc/hosts, then the
	 * nameservers of /etc/resolv.conf), within the connect timeout; an
	 * answer from /etc/hosts comes at once, as an address does.
	 */
	b->tcp = u->kind != BACKEND_UNIX;
	b->starting = 1;
	if (named) {
		memset(&hints, 0, sizeof(hints));
		hints.ai_family = AF_UNSPEC;
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_protocol = IPPROTO_TCP;
		hints.ai_flags = EVUTIL_AI_ADDRCONFIG;
		b->lookup = evdns_getaddrinfo(o->dns, u->host, u->port, &hints,
		    backend_resolved_cb, b);
		rc = 0;
	} else
		rc = bufferevent_socket_connect(b->bev, (struct sockaddr *)&ss,
		    sslen);
	b->starting = 0;
	if (rc == -1 || b->failed) {
		*why = b->why != NULL ? b->why :
		    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR());
		goto fail;
	}
	backend_nodelay(b);
	bufferevent_enable(b->bev, EV_READ | EV_WRITE);
	tv.tv_sec = (time_t)o->connect_timeout;
	tv.tv_usec = (suseconds_t)((o->connect_timeout - (double)tv.tv_sec) *
	    1e6);
	evtimer_add(b->timer, &tv);
	b->st = BK_CONNECTING;
	return b;
fail:
	backend_destroy(b);
	return NULL;
}
