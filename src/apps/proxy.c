/*
 * proxy.c -- the proxy app: each client WebSocket gets its own WebSocket
 * to a backend server (backend.c), opened before the client's 101, and
 * frames are relayed both ways as they come, with backpressure both ways.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/dns.h>

#include <openssl/ssl.h>

#include "app.h"
#include "backend.h"
#include "config.h"
#include "http.h"
#include "log.h"
#include "stats.h"
#include "tls.h"
#include "ws.h"

/* The route's state: the TLS context for wss backends. */
struct proxy_route {
	SSL_CTX		*ctx;
	char		*ca;		/* ctx's backend_ca; NULL: system */
	int		 have_ctx;
	struct evdns_base *dns;		/* for a backend named by host */
};

/* One client and its backend. */
struct proxy_conn {
	struct conn		*c;
	struct backend		*b;		/* NULL once let go */
	struct stats_route	*st;
	struct app_route	*rt;
	char			*offers;	/* the client's subprotocols */
	char			 url[96];	/* for log lines */
	size_t			 limit;		/* max_send_buffer */
	int			 open;		/* counted as current */
};

static const struct backend_cb proxy_backend_cb;

/* Config check for backend_ca: a readable file. */
static int
proxy_ca_check(const char *s)
{
	return access(s, R_OK) == 0 ? 0 : -1;
}

#define PROXY_CONF(f)	offsetof(struct app_conf, f)

/* Keep wsd.ini.5 and etc/wsd.ini in step with these keys. */
static const struct config_key proxy_key_backend = {
	"backend", CONFIG_KEY_STRING, 0, 0, NULL, PROXY_CONF(backend),
	backend_url_check, "invalid backend (ws://HOST[:PORT]/PATH, "
	"wss://HOST[:PORT]/PATH or unix:/SOCKET:/PATH)", NULL, 1, NULL
};
static const struct config_key proxy_key_backend_ca = {
	"backend_ca", CONFIG_KEY_STRING, 0, 0, NULL, PROXY_CONF(backend_ca),
	proxy_ca_check, "cannot read the file", NULL, 0, NULL
};
static const struct config_key proxy_key_connect_timeout = {
	"backend_connect_timeout", CONFIG_KEY_DURATION, 0.001, 3600, "5s",
	PROXY_CONF(backend_connect_timeout), NULL, NULL, NULL, 0, NULL
};

static const struct config_key *const proxy_keys[] = {
	&proxy_key_backend,
	&proxy_key_backend_ca,
	&proxy_key_connect_timeout,
	NULL
};

/* Creates the route's state. */
static int
proxy_route_init(struct app_route *r)
{
	struct proxy_route	*pr;

	if ((pr = calloc(1, sizeof(*pr))) == NULL)
		return -1;
	app_route_stats(r)->backend = 1;
	app_route_set_data(r, pr);
	return 0;
}

/* Frees the route's state and the backends still closing. */
static void
proxy_route_free(struct app_route *r)
{
	struct proxy_route	*pr = app_route_data(r);

	backend_free_closing();
	/* No lookup is left: the route's connections are gone. */
	if (pr->dns != NULL)
		evdns_base_free(pr->dns, 1);
	SSL_CTX_free(pr->ctx);
	free(pr->ca);
	free(pr);
}

/*
 * The TLS context for wss backends, made on first use and again when a
 * reload changed backend_ca; sessions keep the one they started with
 * (their SSL holds a reference).
 */
static SSL_CTX *
proxy_ctx(struct proxy_route *pr, const char *ca)
{
	SSL_CTX	*ctx;

	if (pr->have_ctx && ((ca == NULL && pr->ca == NULL) ||
	    (ca != NULL && pr->ca != NULL && strcmp(ca, pr->ca) == 0)))
		return pr->ctx;
	if ((ctx = tls_client_ctx(ca)) == NULL) {
		log_warnx("proxy: cannot load %s", ca != NULL ? ca :
		    "the system's certificates");
		return NULL;
	}
	SSL_CTX_free(pr->ctx);
	free(pr->ca);
	pr->ctx = ctx;
	pr->ca = ca != NULL ? strdup(ca) : NULL;
	pr->have_ctx = 1;
	return ctx;
}

/*
 * The route's resolver, made on its worker's loop at the first lookup:
 * the nameservers of /etc/resolv.conf and the names of /etc/hosts, as
 * read then (a route that a reload creates reads them again; one that
 * carries on keeps them: its lookups may be in flight).
 */
static struct evdns_base *
proxy_dns(struct proxy_route *pr, struct event_base *base)
{
	if (pr->dns != NULL)
		return pr->dns;
	if ((pr->dns = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
	    EVDNS_BASE_DISABLE_WHEN_INACTIVE)) == NULL) {
		/* No usable /etc/resolv.conf: /etc/hosts at least. */
		if ((pr->dns = evdns_base_new(base, 0)) == NULL) {
			log_warnx("proxy: cannot set up the resolver");
			return NULL;
		}
		evdns_base_load_hosts(pr->dns, "/etc/hosts");
	}
	return pr->dns;
}

/* Appends "Name: value\r\n" for every header called name. */
static void
proxy_pass(struct evbuffer *out, const struct http_request *req,
    const char *name)
{
	const struct http_header *h = NULL;

	while ((h = http_header_next(req, name, h)) != NULL)
		evbuffer_add_printf(out, "%s: %.*s\r\n", name,
		    (int)h->value_len, h->value);
}

/*
 * The forwarding headers: X-Forwarded-For, X-Forwarded-Proto and
 * Forwarded (RFC 7239). A trusted proxy's chain is kept and our hop
 * appended; anyone else's is replaced, as it could be forged.
 */
static void
proxy_forwarded(struct conn *c, const struct http_request *req,
    struct evbuffer *out)
{
	const struct http_header *h;
	const char	*proto = conn_is_tls(c) ? "https" : "http";
	char		 hop[64];
	int		 trusted = conn_hop_is_trusted(c), v6;
	size_t		 n;

	conn_hop_text(c, hop, sizeof(hop));
	v6 = strchr(hop, ':') != NULL;
	if (trusted && (n = http_header_count(req, "X-Forwarded-For")) > 0) {
		evbuffer_add_printf(out, "X-Forwarded-For: ");
		for (h = NULL; (h = http_header_next(req, "X-Forwarded-For",
		    h)) != NULL; )
			evbuffer_add_printf(out, "%.*s, ", (int)h->value_len,
			    h->value);
		evbuffer_add_printf(out, "%s\r\n", hop);
	} else
		evbuffer_add_printf(out, "X-Forwarded-For: %s\r\n", hop);
	if (trusted && (h = http_header_find(req, "X-Forwarded-Proto")) !=
	    NULL)
		evbuffer_add_printf(out, "X-Forwarded-Proto: %.*s\r\n",
		    (int)h->value_len, h->value);
	else
		evbuffer_add_printf(out, "X-Forwarded-Proto: %s\r\n", proto);
	evbuffer_add_printf(out, "Forwarded: ");
	if (trusted)
		for (h = NULL; (h = http_header_next(req, "Forwarded",
		    h)) != NULL; )
			evbuffer_add_printf(out, "%.*s, ", (int)h->value_len,
			    h->value);
	evbuffer_add_printf(out, "for=%s%s%s;proto=%s", v6 ? "\"[" : "", hop,
	    v6 ? "]\"" : "", proto);
	if ((h = http_header_find(req, "Host")) != NULL)
		evbuffer_add_printf(out, ";host=\"%.*s\"", (int)h->value_len,
		    h->value);
	evbuffer_add(out, "\r\n", 2);
}

/* Joins the client's Sec-WebSocket-Protocol offers with commas. */
static char *
proxy_offers(const struct http_request *req)
{
	const struct http_header *h = NULL;
	struct evbuffer	*b;
	char		*s = NULL;
	size_t		 n;

	if ((b = evbuffer_new()) == NULL)
		return NULL;
	while ((h = http_header_next(req, "Sec-WebSocket-Protocol", h)) !=
	    NULL)
		evbuffer_add_printf(b, ",%.*s", (int)h->value_len, h->value);
	n = evbuffer_get_length(b);
	if ((s = malloc(n + 2)) != NULL) {
		evbuffer_remove(b, s, n);
		s[n] = ',';
		s[n + 1] = '\0';
	}
	evbuffer_free(b);
	return s;
}

/* Whether the client offered proto. */
static int
proxy_offered(const struct proxy_conn *pc, const char *proto)
{
	const char	*p;
	size_t		 n = strlen(proto);

	/* Offers are tokens (checked by the core) between commas, OWS. */
	for (p = pc->offers; p != NULL && (p = strstr(p, proto)) != NULL;
	    p += n) {
		if ((p == pc->offers || p[-1] == ',' || p[-1] == ' ' ||
		    p[-1] == '\t') && (p[n] == ',' || p[n] == ' ' ||
		    p[n] == '\t'))
			return 1;
	}
	return 0;
}

/* Opens the backend connection before the client's 101. */
static int
proxy_pre_upgrade(struct conn *c, const struct http_request *req)
{
	struct app_route	*rt = conn_app_route(c);
	const struct wsd_route	*conf = app_route_conf(rt);
	const struct app_conf	*ac = app_conf(conf);
	struct proxy_conn	*pc;
	struct backend_url	 u;
	struct backend_opts	 o;
	struct evbuffer		*extra = NULL, *target = NULL;
	const char		*why = "out of memory";

	if ((pc = calloc(1, sizeof(*pc))) == NULL)
		return 500;
	pc->c = c;
	pc->rt = rt;
	pc->st = app_route_stats(rt);
	pc->limit = conf->lim.max_send_buffer;
	snprintf(pc->url, sizeof(pc->url), "%s", ac->backend);
	conn_set_app_data(c, pc);
	if (backend_url_parse(ac->backend, &u) == -1) {
		why = "invalid backend";
		goto fail;
	}
	memset(&o, 0, sizeof(o));
	o.connect_timeout = ac->backend_connect_timeout;
	o.close_timeout = app_route_close_timeout(rt);
	o.max_message = conf->lim.max_message_size;
	o.max_send_buffer = conf->lim.max_send_buffer;
	if (u.kind == BACKEND_WSS && (o.ssl_ctx = proxy_ctx(app_route_data(rt),
	    ac->backend_ca)) == NULL) {
		why = "no TLS context";
		goto fail;
	}
	if (backend_url_named(&u) && (o.dns = proxy_dns(app_route_data(rt),
	    app_route_base(rt))) == NULL) {
		why = "no resolver";
		goto fail;
	}
	if ((extra = evbuffer_new()) == NULL ||
	    (target = evbuffer_new()) == NULL ||
	    (http_header_find(req, "Sec-WebSocket-Protocol") != NULL &&
	    (pc->offers = proxy_offers(req)) == NULL))
		goto fail;
	/* The client's query goes along: the backend may route on it. */
	evbuffer_add_printf(target, "%s%s%.*s", u.path,
	    req->query != NULL ? (strchr(u.path, '?') ? "&" : "?") : "",
	    req->query != NULL ? (int)req->query_len : 0,
	    req->query != NULL ? req->query : "");
	evbuffer_add(target, "", 1);
	proxy_pass(extra, req, "Sec-WebSocket-Protocol");
	proxy_pass(extra, req, "Cookie");
	proxy_pass(extra, req, "Authorization");
	proxy_pass(extra, req, "Origin");
	proxy_forwarded(c, req, extra);
	evbuffer_add(extra, "", 1);
	pc->b = backend_connect(app_route_base(rt), &u,
	    (const char *)evbuffer_pullup(target, -1),
	    (const char *)evbuffer_pullup(extra, -1), &o, &proxy_backend_cb,
	    pc, &why);
	if (pc->b == NULL)
		goto fail;
	evbuffer_free(extra);
	evbuffer_free(target);
	return 1;
fail:
	log_warnx("%s: proxy %s: backend %s: %s", conn_peer(c), conf->path,
	    pc->url, why);
	pc->st->backend_failed++;
	if (extra != NULL)
		evbuffer_free(extra);
	if (target != NULL)
		evbuffer_free(target);
	/* on_close frees pc. */
	return 502;
}

/* The backend answered 101: so does the client get its. */
static void
proxy_b_open(void *arg, const char *proto)
{
	struct proxy_conn	*pc = arg;

	/* RFC 6455 4.1: a subprotocol the client did not offer fails. */
	if (proto != NULL && !proxy_offered(pc, proto)) {
		log_warnx("%s: proxy: backend %s chose subprotocol %s, not "
		    "offered", conn_peer(pc->c), pc->url, proto);
		pc->st->backend_failed++;
		backend_free(pc->b);
		pc->b = NULL;
		conn_upgrade_fail(pc->c, 502, "bad backend answer");
		return;
	}
	pc->open = 1;
	pc->st->backend_total++;
	pc->st->backend_current++;
	conn_upgrade_accept(pc->c, proto);
}

/* The backend could not be reached in time, or refused. */
static void
proxy_b_fail(void *arg, int status, const char *why)
{
	struct proxy_conn	*pc = arg;

	log_warnx("%s: proxy: backend %s: %s (%d)", conn_peer(pc->c),
	    pc->url, why, status);
	pc->st->backend_failed++;
	pc->b = NULL;		/* freed by backend.c */
	conn_upgrade_fail(pc->c, status, status == 504 ?
	    "backend timeout" : "backend unavailable");
}

/* A frame from the backend goes to the client. */
static void
proxy_b_frame(void *arg, int opcode, int fin, const uint8_t *data,
    size_t len)
{
	struct proxy_conn	*pc = arg;

	pc->st->backend_bytes_in += len;
	if (conn_send_frame(pc->c, opcode, fin, data, len) == -1)
		return;
	/* The client reads slower than the backend writes: wait for it. */
	if (conn_pending(pc->c) > pc->limit)
		backend_pause_reading(pc->b, 1);
}

/* Lets go of the backend. */
static void
proxy_release(struct proxy_conn *pc, const uint8_t *payload, size_t len)
{
	if (pc->b == NULL)
		return;
	if (pc->open)
		pc->st->backend_current--;
	pc->open = 0;
	backend_close(pc->b, payload, len);
	pc->b = NULL;
	/* Nothing waits for the backend now: the client's close is read. */
	conn_pause_reading(pc->c, 0);
}

/* The backend closed: its code and reason go to the client. */
static void
proxy_b_close(void *arg, unsigned code, const char *reason)
{
	struct proxy_conn	*pc = arg;

	if (code == WS_CLOSE_ABNORMAL) {
		log_warnx("%s: proxy: backend %s: %s", conn_peer(pc->c),
		    pc->url, reason);
		proxy_release(pc, NULL, 0);
		conn_ws_close(pc->c, WS_CLOSE_INTERNAL,
		    "backend connection lost");
		return;
	}
	proxy_release(pc, NULL, 0);
	conn_ws_close(pc->c, code, reason);
}

/* The backend took its backlog: read the client again. */
static void
proxy_b_drain(void *arg)
{
	struct proxy_conn	*pc = arg;

	conn_pause_reading(pc->c, 0);
}

static const struct backend_cb proxy_backend_cb = {
	.on_open = proxy_b_open,
	.on_fail = proxy_b_fail,
	.on_frame = proxy_b_frame,
	.on_close = proxy_b_close,
	.on_drain = proxy_b_drain,
};

/* A frame from the client goes to the backend; its close too. */
static void
proxy_frame(struct conn *c, int opcode, int fin, const uint8_t *data,
    size_t len)
{
	struct proxy_conn	*pc = conn_app_data(c);

	if (pc == NULL || pc->b == NULL)
		return;
	if (opcode == WS_OP_CLOSE) {
		proxy_release(pc, data, len);
		return;
	}
	pc->st->backend_bytes_out += len;
	if (backend_send_frame(pc->b, opcode, fin, data, len) == -1)
		return;
	/* The backend reads slower than the client writes: wait for it. */
	if (backend_pending(pc->b) > pc->limit)
		conn_pause_reading(c, 1);
}

/* The client took its backlog: read the backend again. */
static void
proxy_drain(struct conn *c)
{
	struct proxy_conn	*pc = conn_app_data(c);

	if (pc != NULL && pc->b != NULL)
		backend_pause_reading(pc->b, 0);
}

/* The client's session ended: the backend hears of it, then goes. */
static void
proxy_close(struct conn *c)
{
	struct proxy_conn	*pc = conn_app_data(c);
	uint8_t			 payload[WS_CONTROL_MAX];
	unsigned		 code = conn_close_code(c);
	size_t			 len;

	if (pc == NULL)
		return;
	if (pc->b != NULL) {
		if (!pc->open) {
			backend_free(pc->b);	/* still connecting */
			pc->b = NULL;
		} else {
			/* A code the core closed with, or "going away". */
			len = ws_close_payload(payload,
			    ws_close_code_valid(code) ? code :
			    WS_CLOSE_GOING_AWAY, "client gone");
			proxy_release(pc, payload, len);
		}
	}
	conn_set_app_data(c, NULL);
	free(pc->offers);
	free(pc);
}

const struct app app_proxy = {
	.name = "proxy",
	.binary_ok = 1,
	.keys = proxy_keys,
	.route_init = proxy_route_init,
	.route_free = proxy_route_free,
	.pre_upgrade = proxy_pre_upgrade,
	.on_frame = proxy_frame,
	.on_close = proxy_close,
	.on_drain = proxy_drain,
};
