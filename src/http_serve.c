/* http_serve.c -- HTTP/1.1 on a connection: requests, responses, files. */
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/time.h>

#include <errno.h>
#include <pthread.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "access.h"
#include "app.h"
#include "config.h"
#include "conn.h"
#include "conn_priv.h"
#include "generation.h"
#include "http.h"
#include "jwt.h"
#include "log.h"
#include "proxy.h"
#include "loop.h"
#include "static.h"
#include "stats.h"
#include "ws.h"

/*
 * Queues a status line and the headers every response carries; 426 also
 * names the protocol to switch to (RFC 7230 6.7).
 */
static void
conn_http_head(struct conn *c, int status, int keepalive)
{
	struct evbuffer	*out = bufferevent_get_output(c->bev);
	char		 date[30];

	/* Browsers must not guess a type: files, errors and metrics alike. */
	http_date_format(time(NULL), date);
	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\nServer: wsd/%s\r\n"
	    "Date: %s\r\nConnection: %s%s\r\n"
	    "X-Content-Type-Options: nosniff\r\n", status,
	    http_status_text(status), PACKAGE_VERSION, date,
	    status == 426 ? "Upgrade, " : "", keepalive ? "keep-alive" : "close");
}

/* Logs one HTTP request. */
static void
conn_http_log(struct conn *c, const struct http_request *req, int status,
    uint64_t bytes)
{
	struct log_access_rec r;
	char	 buf[1024], *target = buf;
	size_t	 n;

	stats_http(&c->srv->stats, status);
	memset(&r, 0, sizeof(r));
	r.client = conn_peer(c);
	r.status = status;
	r.bytes = bytes;
	r.secs = conn_elapsed(c->req_start);
	if (req != NULL) {
		/* Tokens in the query never reach the log. */
		n = access_target_redact(req->target, req->target_len, buf,
		    sizeof(buf));
		if (n >= sizeof(buf) && (target = malloc(n + 1)) != NULL)
			access_target_redact(req->target, req->target_len,
			    target, n + 1);
		r.method = req->method;
		r.method_len = req->method_len;
		r.target = target != NULL ? target : buf;
		r.minor = req->minor_version;
	}
	log_access(&r);
	if (target != buf)
		free(target);
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
int
conn_http_fail(struct conn *c, const struct http_request *req, int status,
    const char *extra, const char *detail)
{
	conn_http_simple(c, req, status, extra, detail, 0);
	conn_flush_close(c);
	return 0;
}

/*
 * A file body is read with pread into the output, a chunk at a time, and
 * refilled as the output drains: never mmap (a file truncated meanwhile
 * would be SIGBUS) and never the whole file in memory.
 */
#define CONN_FILE_CHUNK	65536

/* Frees the file being sent, if any. */
void
conn_http_file_free(struct conn *c)
{
	if (c->file == NULL)
		return;
	close(c->file->fd);
	free(c->file);
	c->file = NULL;
}

/*
 * Queues file data until the output holds two chunks or the promised
 * bytes are all queued. Returns 1 while bytes remain, 0 when done, -1
 * when a read failed (errno set) or the file ended early (errno 0).
 */
static int
conn_file_fill(struct conn *c)
{
	struct conn_file	*cf = c->file;
	struct evbuffer		*out = bufferevent_get_output(c->bev);
	struct evbuffer_iovec	 v;
	size_t			 want;
	ssize_t			 n;

	while (cf->off < cf->end &&
	    evbuffer_get_length(out) < 2 * CONN_FILE_CHUNK) {
		want = cf->end - cf->off < CONN_FILE_CHUNK ?
		    (size_t)(cf->end - cf->off) : CONN_FILE_CHUNK;
		if (evbuffer_reserve_space(out, (ev_ssize_t)want, &v, 1) != 1) {
			errno = ENOMEM;
			return -1;
		}
		do
			n = pread(cf->fd, v.iov_base, want, cf->off);
		while (n == -1 && errno == EINTR);
		if (n <= 0) {
			if (n == 0)
				errno = 0;
			return -1;
		}
		v.iov_len = (size_t)n;
		evbuffer_commit_space(out, &v, 1);
		cf->off += n;
	}
	return cf->off < cf->end;
}

/*
 * A file cannot be finished: its head promised more bytes than are left
 * (it shrank) or a read failed (errno). Logs it and frees the file; the
 * caller closes the connection so that the client sees the body is short.
 */
static void
conn_file_fail(struct conn *c)
{
	struct conn_file	*cf = c->file;

	log_warnx("%s: %s: %s at byte %lld of %lld, closing", conn_peer(c),
	    cf->path, errno != 0 ? strerror(errno) : "file shrank",
	    (long long)cf->off, (long long)cf->end);
	conn_http_file_free(c);
}

/*
 * The output drained while a file is sent: queues the next chunks.
 * Returns 1 while the file goes on (or the connection is ending), 0 once
 * its last byte is queued.
 */
int
conn_http_file_more(struct conn *c)
{
	switch (conn_file_fill(c)) {
	case 1:
		bufferevent_setwatermark(c->bev, EV_WRITE, CONN_FILE_CHUNK, 0);
		return 1;
	case 0:
		conn_http_file_free(c);
		bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
		return 0;
	default:
		/* What is queued still goes out. */
		conn_file_fail(c);
		conn_flush_close(c);
		return 1;
	}
}

/*
 * Starts sending bytes first..last of f's file (taking f->fd). A long one
 * goes on from conn_write_cb; meanwhile reading is paused, so that the
 * responses to pipelined requests follow it. -1 (logged) when the body
 * cannot be sent: the connection must close.
 */
static int
conn_file_start(struct conn *c, const struct http_request *req,
    struct static_file *f)
{
	struct conn_file	*cf;

	if ((cf = malloc(sizeof(*cf) + req->path_len + 1)) == NULL) {
		log_warn("%s: file", conn_peer(c));
		return -1;
	}
	cf->fd = f->fd;
	f->fd = -1;
	cf->off = f->first;
	cf->end = f->last + 1;
	memcpy(cf->path, req->path, req->path_len);
	cf->path[req->path_len] = '\0';
	c->file = cf;
	switch (conn_file_fill(c)) {
	case 0:
		conn_http_file_free(c);
		return 0;
	case 1:
		c->paused = 1;
		bufferevent_disable(c->bev, EV_READ);
		bufferevent_setwatermark(c->bev, EV_WRITE, CONN_FILE_CHUNK, 0);
		return 0;
	default:
		conn_file_fail(c);
		return -1;
	}
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
	char			 lastmod[30], range[128], *location;
	char			*extra = NULL;
	off_t			 len;
	int			 head = http_method_is(req, "HEAD");

	static_open(c->route->root_real, c->route->path, path, req,
	    c->route->dotfiles ? STATIC_DOTFILES : 0, &f);
	switch (f.status) {
	case 200:
	case 206:
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
		len = f.last - f.first + 1;
		if (f.status == 206)
			evbuffer_add_printf(out, "Content-Range: bytes "
			    "%lld-%lld/%lld\r\n", (long long)f.first,
			    (long long)f.last, (long long)f.size);
		evbuffer_add_printf(out, "Accept-Ranges: bytes\r\n"
		    "Content-Type: %s\r\nContent-Length: %lld\r\n\r\n",
		    f.mime, (long long)len);
		conn_http_log(c, req, f.status, head ? 0 : (uint64_t)len);
		/* The head promised a body: without it, the client must
		 * see the connection end. */
		if (!head && len > 0 && conn_file_start(c, req, &f) == -1)
			keepalive = 0;
		break;
	case 301:
		/*
		 * From the normalised path, encoded again: the decoded one
		 * may hold CR/LF, and "//host" would send the client away.
		 */
		if ((location = static_redirect(path, req->query,
		    req->query_len)) == NULL || asprintf(&extra,
		    "Location: %s\r\n", location) == -1) {
			log_warn("%s: redirect", conn_peer(c));
			extra = NULL;
			conn_http_simple(c, req, 500, NULL, NULL, 0);
			keepalive = 0;
		} else
			conn_http_simple(c, req, 301, extra, NULL, keepalive);
		free(location);
		break;
	case 416:
		/* RFC 9110 15.5.17: the length, for a better next try. */
		snprintf(range, sizeof(range), "Content-Range: bytes */%lld\r\n",
		    (long long)f.size);
		conn_http_simple(c, req, 416, range, NULL, keepalive);
		break;
	default:
		conn_http_simple(c, req, f.status, NULL, NULL, keepalive);
		break;
	}
	free(extra);
	if (f.fd != -1)
		close(f.fd);
	return keepalive;
}

/*
 * The route's access rules for a request: the Origin allow-list (upgrades
 * only) and the tokens: with auth_token_file, auth_jwt_key_file or both,
 * one token must pass either. Returns 0 when the request may go on, with
 * the claims of a valid JWT in *claims (NULL: none; caller frees), else
 * answers it (403 or 401), logs why and returns -1.
 */
static int
conn_access(struct conn *c, const struct http_request *req, int upgrade,
    int keepalive, struct jwt_claims **claims)
{
	const struct wsd_route	*r = c->route;
	const char		*why = "missing or invalid token";
	struct timeval		 now;

	*claims = NULL;
	if (upgrade && !access_origin_check(req, r->origins.v, r->origins.n,
	    r->require_origin, &why)) {
		log_info("%s: handshake refused: %s", conn_peer(c), why);
		stats_hs_fail(&c->srv->stats, STATS_HS_FORBIDDEN_ORIGIN);
		conn_http_simple(c, req, 403, NULL, why, 0);
		return -1;
	}
	if (r->auth_token_file == NULL && r->auth_jwt_key_file == NULL)
		return 0;
	if (r->auth_token_file != NULL && access_token_check(r->tokens, req))
		return 0;
	if (r->jwt_key != NULL) {
		gettimeofday(&now, NULL);
		*claims = access_jwt_check(r->jwt_key, req, (double)now.tv_sec +
		    now.tv_usec / 1e6, r->jwt_leeway, &why);
		if (*claims != NULL)
			return 0;
	}
	/* The token itself is never logged. */
	log_info("%s: %s refused: %s", conn_peer(c), upgrade ? "handshake" :
	    "request", why);
	stats_hs_fail(&c->srv->stats, STATS_HS_UNAUTHORIZED);
	conn_http_simple(c, req, 401, "WWW-Authenticate: Bearer\r\n", why,
	    keepalive);
	return -1;
}

/*
 * The claims of the token of the subscribing request being checked
 * (on_request), thread-local like the loop; NULL: none.
 */
static _Thread_local const struct jwt_claims *conn_req_claims;

/* For apps' on_request: the token claims of the request at hand. */
const struct jwt_claims *
conn_request_claims(void)
{
	return conn_req_claims;
}

/* conn_access() for a plain request: the claims are not kept. */
static int
conn_access_http(struct conn *c, const struct http_request *req,
    int keepalive)
{
	struct jwt_claims *claims;

	if (conn_access(c, req, 0, keepalive, &claims) == -1)
		return -1;
	jwt_claims_free(claims);
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
	char		 via[CIDR_ADDR_STRLEN];

	if (!conn_hop_trusted(c))
		return 0;
	if (proxy_forwarded_client(req, &c->gen->conf->trusted_proxies,
	    &a) != 1)
		a = c->hop;
	if (cidr_addr_equal(&a, &c->addr) && (c->ipe != NULL ||
	    c->srv->iplimit == NULL))
		return 0;
	c->addr = a;
	c->forwarded = 1;
	cidr_addr_format(&c->hop, via);
	log_debug("%s: via %s (forwarded)", conn_peer(c), via);
	return conn_account(c, 0);
}

/* 1 if the comma-separated list methods names the request's method. */
static int
conn_method_listed(const struct http_request *req, const char *methods)
{
	const char	*p = methods, *end = methods + strlen(methods), *m;
	size_t		 len;

	while (http_list_next(&p, end, &m, &len))
		if (len == req->method_len &&
		    memcmp(m, req->method, len) == 0)
			return 1;
	return 0;
}

/*
 * Who may publish on the route (POST, DELETE, GET for JSON):
 * publish_allow (loopback unless set), then publish_token_file. 0 when
 * the request may go on, else the status it was refused with (answered).
 */
static struct cidr_list	conn_loopback;	/* publish_allow's default */
static pthread_once_t	conn_loopback_once = PTHREAD_ONCE_INIT;

/* Parses the default publish_allow once, for every worker. */
static void
conn_loopback_parse(void)
{
	char	bad[64];

	if (cidr_list_parse(&conn_loopback, "127.0.0.0/8 ::1", bad,
	    sizeof(bad)) != 0)
		fatalx("%s: %s", __func__, bad);
}

static int
conn_publish_access(struct conn *c, const struct http_request *req,
    int keepalive)
{
	const struct wsd_route	*r = c->route;

	pthread_once(&conn_loopback_once, conn_loopback_parse);
	if (!cidr_list_match(r->publish_allow.n > 0 ? &r->publish_allow :
	    &conn_loopback, &c->addr)) {
		log_info("%s: publish refused: address not allowed on %s",
		    conn_peer(c), r->path);
		conn_http_simple(c, req, 403, NULL, "publishing not allowed",
		    keepalive);
		return 403;
	}
	if (r->publish_tokens != NULL &&
	    !access_token_check(r->publish_tokens, req)) {
		log_info("%s: publish refused: missing or invalid token",
		    conn_peer(c));
		conn_http_simple(c, req, 401, "WWW-Authenticate: Bearer\r\n",
		    "missing or invalid token", keepalive);
		return 401;
	}
	return 0;
}

/*
 * A publisher's answer an app gives later (conn_api_hold()): what the
 * access log needs of the request, which is gone by then.
 */
struct conn_api_hold {
	struct conn	*c;		/* NULL: it closed meanwhile */
	int		 keepalive;
	int		 minor;
	char		*method;
	char		*target;
};

/* The request on_api is answering, and its keep-alive; for a hold. */
static _Thread_local const struct http_request *conn_api_req;
static _Thread_local int conn_api_keepalive;

/* Queues an app's answer (body rb) and logs it. */
static void
conn_http_api_reply(struct conn *c, const struct http_request *req,
    int status, const char *type, struct evbuffer *rb, int keepalive)
{
	struct evbuffer		*out = bufferevent_get_output(c->bev);
	struct app_route	*rt = generation_route(c->gen, c->route);
	size_t			 blen = rb != NULL ? evbuffer_get_length(rb) : 0;

	if (status >= 400)
		stats_pub_refused(app_route_stats(rt), status);
	conn_http_head(c, status, keepalive);
	/* RFC 9110 15.3.5: a 204 has no body, nor its length. */
	if (status == 204)
		evbuffer_add(out, "\r\n", 2);
	else {
		evbuffer_add_printf(out, "Content-Type: %s\r\nCache-Control: "
		    "no-store\r\nContent-Length: %zu\r\n\r\n", type, blen);
		if (rb != NULL)
			evbuffer_add_buffer(out, rb);
	}
	conn_http_log(c, req, status, status == 204 ? 0 : (uint64_t)blen);
}

/*
 * Answers with what an app's on_api produced; an app that took the
 * answer with conn_api_hold() answers later (CONN_HTTP_PENDING).
 */
static void
conn_http_api(struct conn *c, const struct http_request *req,
    const char *path, const uint8_t *body, size_t len, int keepalive)
{
	struct evbuffer		*rb;
	struct app_route	*rt = generation_route(c->gen, c->route);
	const char		*type = "text/plain; charset=utf-8";
	int			 status;

	if ((rb = evbuffer_new()) == NULL) {
		conn_http_simple(c, req, 500, NULL, NULL, keepalive);
		return;
	}
	conn_api_req = req;
	conn_api_keepalive = keepalive;
	status = c->route->app->on_api(c, rt, req, path, body, len, rb, &type);
	conn_api_req = NULL;
	if (status == 0 && c->state == CONN_HTTP_PENDING) {
		evbuffer_free(rb);
		return;
	}
	if (status == 0) {
		evbuffer_drain(rb, evbuffer_get_length(rb));
		status = 500;
	}
	conn_http_api_reply(c, req, status, type, rb, keepalive);
	evbuffer_free(rb);
}

/* Takes the answer of the request on_api is answering, for later. */
struct conn_api_hold *
conn_api_hold(struct conn *c)
{
	const struct http_request	*req = conn_api_req;
	struct conn_api_hold		*h;

	if (req == NULL || c->state != CONN_HTTP_HEAD ||
	    (h = calloc(1, sizeof(*h))) == NULL)
		return NULL;
	if ((h->method = strndup(req->method, req->method_len)) == NULL ||
	    (h->target = strndup(req->target, req->target_len)) == NULL) {
		free(h->method);
		free(h);
		return NULL;
	}
	h->c = c;
	h->keepalive = conn_api_keepalive;
	h->minor = req->minor_version;
	c->hold = h;
	conn_set_state(c, CONN_HTTP_PENDING);
	return h;
}

/* The connection closes while its answer is held: the hold lives on. */
void
conn_http_hold_drop(struct conn *c)
{
	if (c->hold != NULL)
		c->hold->c = NULL;
	c->hold = NULL;
}

/* Frees a hold. */
static void
conn_api_hold_free(struct conn_api_hold *h)
{
	free(h->method);
	free(h->target);
	free(h);
}

/*
 * The held answer: queued, then the connection goes on with the next
 * request (or closes); dropped when the connection closed meanwhile.
 */
void
conn_api_answer(struct conn_api_hold *h, int status, const char *type,
    struct evbuffer *body)
{
	struct http_request	 req;
	struct conn		*c = h->c;
	int			 keepalive;

	if (c == NULL) {
		conn_api_hold_free(h);
		return;
	}
	c->hold = NULL;
	memset(&req, 0, sizeof(req));
	req.method = h->method;
	req.method_len = strlen(h->method);
	req.target = h->target;
	req.target_len = strlen(h->target);
	req.minor_version = h->minor;
	keepalive = h->keepalive && !c->srv->stopping;
	conn_http_api_reply(c, &req, status, type, body, keepalive);
	conn_api_hold_free(h);
	if (!keepalive) {
		conn_flush_close(c);
		return;
	}
	/* As conn_http_read() after an answer: pipelined requests next. */
	conn_set_state(c, CONN_HTTP_IDLE);
	conn_check_output(c, conn_send_limit(c));
	if (c->paused)
		return;
	bufferevent_enable(c->bev, EV_READ);
	conn_http_read(c);
}

/*
 * Starts a Server-Sent Events stream on a channels route: the head, then
 * the app replays and joins; the connection stays open for the events.
 */
static int
conn_sse_start(struct conn *c, const struct http_request *req)
{
	struct evbuffer	*out = bufferevent_get_output(c->bev);

	if ((c->sse = calloc(1, sizeof(*c->sse))) == NULL) {
		log_warn("%s: sse", conn_peer(c));
		return -1;
	}
	c->sse->rt = app_route_hold(generation_route(c->gen, c->route));
	/* The stream ends with the connection: no length, no keep-alive. */
	conn_http_head(c, 200, 0);
	evbuffer_add_printf(out, "Content-Type: text/event-stream\r\n"
	    "Cache-Control: no-cache\r\n\r\n");
	conn_http_log(c, req, 200, 0);
	c->req_start = conn_now();
	conn_set_state(c, CONN_SSE);
	conn_timer_set(c, app_conf(c->route)->sse_keepalive);
	conn_app_open(c, req);
	return 0;
}

/* An SSE stream's timer: a comment keeps proxies from timing it out. */
void
conn_sse_timer(struct conn *c)
{
	evbuffer_add(bufferevent_get_output(c->bev), ": keepalive\n\n", 13);
	conn_timer_set(c, app_conf(c->route)->sse_keepalive);
}

/* Queues raw bytes on an SSE stream. */
int
conn_sse_send(struct conn *c, const void *data, size_t len)
{
	if (c->state != CONN_SSE)
		return -1;
	return evbuffer_add(bufferevent_get_output(c->bev), data, len);
}

/* The end of an SSE stream: the app hears of it, the route is let go. */
void
conn_sse_free(struct conn *c)
{
	struct log_access_rec	 r;

	memset(&r, 0, sizeof(r));
	r.client = conn_peer(c);
	r.ws = 2;
	r.path = c->route->path;
	r.secs = conn_elapsed(c->req_start);
	log_access(&r);
	conn_ws_end(c);
	app_route_free(c->sse->rt);
	free(c->sse);
	c->sse = NULL;
}

/* After an answer: the next request, or close once it is written. */
static int
conn_http_pub_done(struct conn *c, int keepalive)
{
	if (keepalive)
		return 1;
	conn_flush_close(c);
	return 0;
}

/*
 * A request other than an upgrade on a publish route (channels, relay):
 * SSE subscribers (GET, Accept: text/event-stream), publishers (POST
 * with a body, DELETE, GET for JSON). Returns like conn_http_request();
 * 2 while the body has yet to arrive; *extra gets the body's length,
 * to be drained with the head.
 */
static int
conn_http_pub(struct conn *c, const struct http_request *req,
    const char *path, int keepalive, size_t head, size_t *extra)
{
	struct evbuffer		*in = bufferevent_get_input(c->bev);
	const struct app	*app = c->route->app;
	struct app_route	*rt = generation_route(c->gen, c->route);
	const struct http_header *h;
	struct evbuffer_ptr	 pos;
	const char		*why = NULL;
	struct jwt_claims	*claims;
	unsigned long long	 clen = 0;
	uint8_t			*body = NULL;
	char			 allow[64], num[24];
	double			 left;
	int			 status;

	if (!conn_method_listed(req, app->methods)) {
		snprintf(allow, sizeof(allow), "Allow: %s\r\n", app->methods);
		stats_pub_refused(app_route_stats(rt), 405);
		conn_http_simple(c, req, 405, allow, NULL, 0);
		conn_flush_close(c);
		return 0;
	}
	if (http_method_is(req, "GET") && app->on_request != NULL &&
	    http_header_has_token(req, "Accept", "text/event-stream")) {
		/* A subscriber, behind the same checks as a WebSocket. */
		if (conn_access(c, req, 1, 0, &claims) == -1) {
			conn_flush_close(c);
			return 0;
		}
		if (c->srv->stopping)
			return conn_http_fail(c, req, 503, NULL,
			    "shutting down");
		conn_req_claims = claims;
		status = app->on_request(c, rt, req, path, &why);
		conn_req_claims = NULL;
		jwt_claims_free(claims);
		if (status != 0) {
			log_info("%s: sse refused: %s", conn_peer(c), why);
			return conn_http_fail(c, req, status, NULL, why);
		}
		if (conn_sse_start(c, req) == -1)
			return conn_http_fail(c, req, 500, NULL, NULL);
		return 0;
	}
	if (http_method_is(req, "GET") && (app->on_request == NULL ||
	    !http_header_has_token(req, "Accept", "application/json"))) {
		conn_http_simple(c, req, 426, "Upgrade: websocket\r\n",
		    "this path speaks WebSocket", keepalive);
		return conn_http_pub_done(c, keepalive);
	}
	if (http_method_is(req, "POST")) {
		/* RFC 9110 15.5.12, 15.5.14: length first, before any byte. */
		if ((h = http_header_find(req, "Content-Length")) == NULL) {
			stats_pub_refused(app_route_stats(rt), 411);
			return conn_http_fail(c, req, 411, NULL,
			    "Content-Length required");
		}
		snprintf(num, sizeof(num), "%.*s", (int)(h->value_len <
		    sizeof(num) ? h->value_len : sizeof(num) - 1), h->value);
		if (config_parse_uint(num, &clen) == -1 ||
		    clen > c->route->lim.max_message_size) {
			stats_pub_refused(app_route_stats(rt), 413);
			return conn_http_fail(c, req, 413, NULL,
			    "message larger than max_message_size");
		}
	}
	if ((status = conn_publish_access(c, req, keepalive)) != 0) {
		stats_pub_refused(app_route_stats(rt), status);
		/* The body, if any, was not read: it must not be taken
		 * for the next request. */
		return conn_http_pub_done(c, keepalive && clen == 0);
	}
	if (clen > 0) {
		if (evbuffer_get_length(in) < head + clen) {
			/* The body must come within handshake_timeout too. */
			left = c->gen->conf->handshake_timeout -
			    conn_elapsed(c->req_start);
			if (left <= 0) {
				stats_pub_refused(app_route_stats(rt), 408);
				return conn_http_fail(c, req, 408, NULL,
				    "body not complete in time");
			}
			conn_timer_set(c, left);
			return 2;
		}
		if ((body = malloc(clen)) == NULL ||
		    evbuffer_ptr_set(in, &pos, head, EVBUFFER_PTR_SET) == -1 ||
		    evbuffer_copyout_from(in, &pos, body, clen) !=
		    (ev_ssize_t)clen) {
			free(body);
			return conn_http_fail(c, req, 500, NULL, NULL);
		}
		*extra = clen;
	}
	conn_http_api(c, req, path, body, clen, keepalive);
	free(body);
	if (c->state == CONN_HTTP_PENDING)
		return 0;	/* the app answers later */
	return conn_http_pub_done(c, keepalive);
}

/*
 * The route for a request: by path and, for routes limited to hosts, by
 * its Host header (a longer one than any host name matches none).
 */
static const struct wsd_route *
conn_http_route(struct conn *c, const struct http_request *req,
    const char *path)
{
	const struct http_header *h;
	char		 host[256];

	if ((h = http_header_find(req, "Host")) == NULL ||
	    h->value_len >= sizeof(host))
		return config_route_match_host(c->gen->conf, NULL, path);
	memcpy(host, h->value, h->value_len);
	host[h->value_len] = '\0';
	return config_route_match_host(c->gen->conf, host, path);
}
/*
 * Decides what to do with a complete request head. Returns 1 when the
 * connection may go on with the next request, 0 when it changed state
 * (upgrade, close).
 */
static int
conn_http_request(struct conn *c, const struct http_request *req, size_t head,
    size_t *extra)
{
	const char	*reason;
	char		 path[HTTP_MAX_REQUEST_LINE], accept[WS_ACCEPT_LEN];
	size_t		 sel;
	struct jwt_claims *claims;
	int		 keepalive, status, upgrade, proto, has_body, ws_route;
	int		 pub;

	/* RFC 7230 6.3: persistence by version and Connection. */
	if (req->minor_version >= 1)
		keepalive = !http_header_has_token(req, "Connection", "close");
	else
		keepalive = http_header_has_token(req, "Connection",
		    "keep-alive");

	/*
	 * A publisher's POST must say its length: chunked bodies are not
	 * read (RFC 9110 15.5.12).
	 */
	if (http_method_is(req, "POST") &&
	    http_header_find(req, "Content-Length") == NULL &&
	    http_path_decode(req->path, req->path_len, path,
	    sizeof(path)) != -1 &&
	    (c->route = config_route_match(c->gen->conf, path)) != NULL &&
	    c->route->app != NULL && c->route->app->publish) {
		stats_pub_refused(app_route_stats(generation_route(c->gen,
		    c->route)), 411);
		return conn_http_fail(c, req, 411, NULL,
		    "Content-Length required");
	}
	/* RFC 9112 6.3, 3.2: no request whose framing is in doubt. */
	if (http_request_check(req, &has_body, &reason) != 0) {
		log_info("%s: bad request: %s", conn_peer(c), reason);
		stats_hs_fail(&c->srv->stats, STATS_HS_BAD_REQUEST);
		return conn_http_fail(c, req, 400, NULL, reason);
	}
	/*
	 * A body is never read: the request is answered and the connection
	 * closed, so that the body cannot be mistaken for a request. A
	 * stopping server answers, then closes: say so in the head.
	 */
	if (c->srv->stopping)
		keepalive = 0;
	if (http_path_decode(req->path, req->path_len, path,
	    sizeof(path)) == -1)
		return conn_http_fail(c, req, 400, NULL, "invalid path");
	if ((status = conn_http_client(c, req)) != 0)
		return conn_http_fail(c, req, status, NULL,
		    conn_refuse_text(status));
	upgrade = http_header_has_token(req, "Upgrade", "websocket");
	c->route = conn_http_route(c, req, path);
	/* Publish routes read a POST's body (conn_http_pub()). */
	pub = c->route != NULL && c->route->app != NULL &&
	    c->route->app->publish && !upgrade;
	if (has_body && !(pub && http_method_is(req, "POST")))
		keepalive = 0;
	if (c->route != NULL && c->route->allow.n > 0 &&
	    !cidr_list_match(&c->route->allow, &c->addr)) {
		log_info("%s: %s refused: address not allowed on %s", conn_peer(c),
		    upgrade ? "handshake" : "request", c->route->path);
		stats_hs_fail(&c->srv->stats, STATS_HS_FORBIDDEN_ADDRESS);
		return conn_http_fail(c, req, 403, NULL, conn_refuse_text(403));
	}

	if (upgrade) {
		/* The body would be read as frames: never a 101. */
		if (has_body) {
			reason = "WebSocket handshake with a body";
			log_info("%s: handshake refused: %s", conn_peer(c), reason);
			stats_hs_fail(&c->srv->stats, STATS_HS_BAD_REQUEST);
			return conn_http_fail(c, req, 400, NULL, reason);
		}
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
			log_info("%s: handshake refused: %s", conn_peer(c), reason);
			stats_hs_fail(&c->srv->stats, status == 426 ?
			    STATS_HS_VERSION : STATS_HS_BAD_REQUEST);
			return conn_http_fail(c, req, status, status == 426 ?
			    "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n" :
			    status == 405 ? "Allow: GET\r\n" : NULL, reason);
		}
		if (conn_access(c, req, 1, 0, &claims) == -1) {
			conn_flush_close(c);
			return 0;
		}
		/*
		 * Channels: a valid name, one the token's claims allow, room
		 * for one more channel.
		 */
		conn_req_claims = claims;
		if (c->route->app->on_request != NULL &&
		    (status = c->route->app->on_request(c,
		    generation_route(c->gen, c->route), req, path,
		    &reason)) != 0) {
			conn_req_claims = NULL;
			jwt_claims_free(claims);
			log_info("%s: handshake refused: %s", conn_peer(c),
			    reason);
			stats_hs_fail(&c->srv->stats, STATS_HS_BAD_REQUEST);
			return conn_http_fail(c, req, status, NULL, reason);
		}
		conn_req_claims = NULL;
		if ((proto = ws_subprotocol_select(req, c->route->subprotocols.v,
		    c->route->subprotocols.n, &sel)) == -1) {
			jwt_claims_free(claims);
			reason = "invalid Sec-WebSocket-Protocol";
			log_info("%s: handshake refused: %s", conn_peer(c), reason);
			stats_hs_fail(&c->srv->stats, STATS_HS_BAD_REQUEST);
			return conn_http_fail(c, req, 400, NULL, reason);
		}
		/* The session takes the claims over, whatever happens. */
		status = conn_ws_upgrade(c, req, accept, proto == 1 ?
		    c->route->subprotocols.v[sel] : NULL, claims);
		if (status == 0)
			return 0;
		/* An internal error, or an app refused it before the 101
		 * (exec: 503 at max_procs). */
		stats_hs_fail(&c->srv->stats, status == 503 ?
		    STATS_HS_TOO_MANY : STATS_HS_INTERNAL);
		return conn_http_fail(c, req, status == -1 ? 500 : status,
		    NULL, NULL);
	}

	if (pub) {
		if ((status = conn_http_pub(c, req, path, keepalive, head,
		    extra)) != 1)
			return status;
		if (c->srv->stopping) {
			conn_flush_close(c);
			return 0;
		}
		return 1;
	}

	/* Files and HTTP apps take GET and HEAD, WebSocket routes GET. */
	ws_route = c->route != NULL && c->route->app != NULL &&
	    c->route->app->on_http == NULL;
	if (c->route == NULL)
		conn_http_simple(c, req, 404, NULL, NULL, keepalive);
	else if (!http_method_is(req, "GET") &&
	    (ws_route || !http_method_is(req, "HEAD"))) {
		conn_http_simple(c, req, 405, ws_route ? "Allow: GET\r\n" :
		    "Allow: GET, HEAD\r\n", NULL, 0);
		keepalive = 0;
	} else if (c->route->app != NULL && c->route->app->on_http != NULL) {
		/* A token guards metrics as it guards files. */
		if (conn_access_http(c, req, keepalive) == 0)
			conn_http_app(c, req, keepalive);
	} else if (c->route->app != NULL)
		conn_http_simple(c, req, 426, "Upgrade: websocket\r\n",
		    "this path speaks WebSocket", keepalive);
	else if (conn_access_http(c, req, keepalive) == 0)
		keepalive = conn_http_static(c, req, path, keepalive);

	if (!keepalive || c->srv->stopping) {
		conn_flush_close(c);
		return 0;
	}
	return 1;
}

/* Reads request heads and answers them, pipelined ones included. */
void
conn_http_read(struct conn *c)
{
	struct evbuffer		*in = bufferevent_get_input(c->bev);
	const struct wsd_config	*conf;
	struct http_request	 req;
	size_t			 len, extra;
	unsigned char		*buf;
	int			 n, rc;

	for (;;) {
		if ((len = evbuffer_get_length(in)) == 0)
			break;
		if (c->hp == NULL) {
			/*
			 * A new request: a reload may have replaced the
			 * config, the request is routed by the new one.
			 */
			c->route = NULL;
			conn_use_current_config(c);
			if (c->state == CONN_HTTP_IDLE) {
				/* A new request must now arrive in time. */
				conn_set_state(c, CONN_HTTP_HEAD);
				c->req_start = conn_now();
				conn_timer_set(c, c->gen->conf->handshake_timeout);
			}
			/* Only while a head arrives: idle costs nothing. */
			if ((c->hp = malloc(sizeof(*c->hp))) == NULL) {
				log_warn("%s: request", conn_peer(c));
				conn_close(c, "out of memory");
				return;
			}
			http_parser_init(c->hp);
		}
		conf = c->gen->conf;
		if (len > conf->max_header_size + 1)
			len = conf->max_header_size + 1;
		buf = evbuffer_pullup(in, (ev_ssize_t)len);
		n = http_parser_feed(c->hp, (const char *)buf, len,
		    conf->max_header_size, &req);
		if (n == HTTP_PARTIAL)
			return;
		free(c->hp);
		c->hp = NULL;
		if (n < 0) {
			log_info("%s: bad request (%d)", conn_peer(c), -n);
			stats_hs_fail(&c->srv->stats, STATS_HS_BAD_REQUEST);
			conn_http_fail(c, NULL, -n, NULL, NULL);
			return;
		}
		/* req points into buf: drain only once it is answered. */
		conn_timer_set(c, 0);
		extra = 0;
		rc = conn_http_request(c, &req, (size_t)n, &extra);
		if (rc == 2)
			return;		/* the body is on its way */
		if (rc == 0) {
			evbuffer_drain(in, (size_t)n + extra);
			/* A held answer reads nothing until given. */
			if (c->state == CONN_WS_PENDING ||
			    c->state == CONN_HTTP_PENDING) {
				bufferevent_disable(c->bev, EV_READ);
				return;
			}
			/* A WebSocket does its own I/O from here on. */
			if (c->ws != NULL &&
			    conn_io_takeover(c) == -1)
				return;
			/* Frames may follow the head in the same read. */
			if (c->state == CONN_WS_OPEN)
				conn_ws_read(c);
			return;
		}
		evbuffer_drain(in, (size_t)n + extra);
		conn_set_state(c, CONN_HTTP_IDLE);
		conn_check_output(c, conn_send_limit(c));
		if (c->paused)
			return;
	}
	if (c->state == CONN_HTTP_IDLE &&
	    evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		conn_timer_set(c, c->gen->conf->idle_timeout);
}
