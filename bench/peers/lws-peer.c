/*
 * lws-peer.c -- wsd's apps on libwebsockets, for bench/run to compare.
 *
 * /echo, /hello, /broadcast, /counter and /relay behave like wsd's apps
 * (the python websockets Quick start): see bench/README.md. It uses
 * lws's own event loop (poll in Debian's build) and its idiom for
 * output: a message is queued on the connection, lws_callback_on_writable()
 * asks for a WRITEABLE callback, and that callback writes one message.
 * A message sent to many clients is one refcounted buffer.
 *
 * Build: cc -O2 -o lws-peer lws-peer.c $(pkg-config --cflags --libs
 * libwebsockets)
 * Usage: lws-peer [--port N] [--period-ms MS]
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <libwebsockets.h>

enum peer_app { APP_NONE, APP_ECHO, APP_HELLO, APP_BROADCAST, APP_COUNTER,
    APP_RELAY, APP_COUNT };

/* One encoded message, shared by every connection it is queued on. */
struct peer_msg {
	int		 refs;
	int		 binary;
	size_t		 len;
	unsigned char	 buf[];		/* LWS_PRE bytes, then the payload */
};

/* A queued message. */
struct peer_qent {
	struct peer_msg		*msg;
	struct peer_qent	*next;
};

/* Per-connection state. */
struct peer_pss {
	struct lws		*wsi;
	enum peer_app		 app;
	struct peer_pss		*next;		/* in its app's member list */
	struct peer_qent	*head, *tail;	/* output queue */
	unsigned char		*in;		/* message being received */
	size_t			 inlen, incap;
	int			 closing;	/* close 1000 once drained */
	int			 greeted;
};

static volatile sig_atomic_t	 peer_stop;
static struct lws_context	*peer_ctx;
static struct peer_pss		*peer_members[APP_COUNT];
static unsigned			 peer_nmembers[APP_COUNT];
static long long		 peer_value;
static lws_sorted_usec_list_t	 peer_sul;
static lws_usec_t		 peer_next, peer_period;

/* Maps a request path to its app. */
static enum peer_app
peer_app_of(const char *uri)
{
	if (strcmp(uri, "/echo") == 0)
		return APP_ECHO;
	if (strcmp(uri, "/hello") == 0)
		return APP_HELLO;
	if (strcmp(uri, "/broadcast") == 0)
		return APP_BROADCAST;
	if (strcmp(uri, "/counter") == 0)
		return APP_COUNTER;
	if (strcmp(uri, "/relay") == 0)
		return APP_RELAY;
	return APP_NONE;
}

/* Builds a message holding len bytes of data, with no references yet. */
static struct peer_msg *
peer_msg_new(const void *data, size_t len, int binary)
{
	struct peer_msg	*m;

	if ((m = malloc(sizeof(*m) + LWS_PRE + len)) == NULL)
		return NULL;
	m->refs = 0;
	m->binary = binary;
	m->len = len;
	memcpy(m->buf + LWS_PRE, data, len);
	return m;
}

/* Drops one reference to m. */
static void
peer_msg_unref(struct peer_msg *m)
{
	if (--m->refs <= 0)
		free(m);
}

/* Queues m on one connection and asks lws for a write callback. */
static void
peer_queue(struct peer_pss *p, struct peer_msg *m)
{
	struct peer_qent	*q;

	if ((q = malloc(sizeof(*q))) == NULL)
		return;
	q->msg = m;
	q->next = NULL;
	m->refs++;
	if (p->tail != NULL)
		p->tail->next = q;
	else
		p->head = q;
	p->tail = q;
	lws_callback_on_writable(p->wsi);
}

/* Queues one message on every member of app. */
static void
peer_publish(enum peer_app app, const void *data, size_t len, int binary)
{
	struct peer_msg	*m;
	struct peer_pss	*p;

	if (peer_members[app] == NULL)
		return;
	if ((m = peer_msg_new(data, len, binary)) == NULL)
		return;
	m->refs++;		/* held while queueing */
	for (p = peer_members[app]; p != NULL; p = p->next)
		peer_queue(p, m);
	peer_msg_unref(m);
}

/* Queues a copy of data on one connection. */
static void
peer_send(struct peer_pss *p, const void *data, size_t len, int binary)
{
	struct peer_msg	*m;

	if ((m = peer_msg_new(data, len, binary)) == NULL)
		return;
	m->refs++;
	peer_queue(p, m);
	peer_msg_unref(m);
}

/* Sends {"type":"users","count":N} to every counter client. */
static void
peer_counter_users(void)
{
	char	buf[64];
	int	n;

	n = snprintf(buf, sizeof(buf), "{\"type\":\"users\",\"count\":%u}",
	    peer_nmembers[APP_COUNTER]);
	peer_publish(APP_COUNTER, buf, (size_t)n, 0);
}

/* Encodes the counter's value event into buf. */
static int
peer_counter_value(char *buf, size_t size)
{
	return snprintf(buf, size, "{\"type\":\"value\",\"value\":%lld}",
	    peer_value);
}

/* Handles one complete message from a client. */
static void
peer_message(struct peer_pss *p, int binary)
{
	char	buf[64];
	char	*reply;
	int	 n;

	switch (p->app) {
	case APP_ECHO:
		peer_send(p, p->in, p->inlen, binary);
		break;
	case APP_HELLO:
		if (p->greeted)
			break;
		p->greeted = 1;
		if ((reply = malloc(p->inlen + 7)) == NULL)
			break;
		memcpy(reply, "Hello ", 6);
		memcpy(reply + 6, p->in, p->inlen);
		reply[p->inlen + 6] = '!';
		peer_send(p, reply, p->inlen + 7, 0);
		free(reply);
		p->closing = 1;
		break;
	case APP_COUNTER:
		/* The Quick start's two actions; anything else is ignored. */
		p->in[p->inlen] = '\0';
		if (strstr((char *)p->in, "\"plus\"") != NULL)
			peer_value++;
		else if (strstr((char *)p->in, "\"minus\"") != NULL)
			peer_value--;
		else
			break;
		n = peer_counter_value(buf, sizeof(buf));
		peer_publish(APP_COUNTER, buf, (size_t)n, 0);
		break;
	case APP_RELAY:
		peer_publish(APP_RELAY, p->in, p->inlen, binary);
		break;
	default:
		break;
	}
}

/* Appends received bytes to the message being assembled. */
static int
peer_append(struct peer_pss *p, const void *in, size_t len)
{
	unsigned char	*n;
	size_t		 cap;

	if (p->inlen + len + 1 > p->incap) {
		cap = p->incap ? p->incap : 256;
		while (cap < p->inlen + len + 1)
			cap *= 2;
		if (cap > (1u << 20) + 1 || (n = realloc(p->in, cap)) == NULL)
			return -1;
		p->in = n;
		p->incap = cap;
	}
	memcpy(p->in + p->inlen, in, len);
	p->inlen += len;
	return 0;
}

/* Unlinks p from its app's member list and drops its queue. */
static void
peer_leave(struct peer_pss *p)
{
	struct peer_pss		**pp;
	struct peer_qent	*q;

	for (pp = &peer_members[p->app]; *pp != NULL; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			peer_nmembers[p->app]--;
			break;
		}
	while ((q = p->head) != NULL) {
		p->head = q->next;
		peer_msg_unref(q->msg);
		free(q);
	}
	p->tail = NULL;
	free(p->in);
	p->in = NULL;
}

/* The one protocol's callback; the app is chosen by the request path. */
static int
peer_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user,
    void *in, size_t len)
{
	struct peer_pss		*p = user;
	struct peer_qent	*q;
	char			 uri[128], buf[64];
	int			 n;

	switch (reason) {
	case LWS_CALLBACK_ESTABLISHED:
		memset(p, 0, sizeof(*p));
		p->wsi = wsi;
		if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) <= 0 ||
		    (p->app = peer_app_of(uri)) == APP_NONE) {
			lws_close_reason(wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION,
			    (unsigned char *)"no such route", 13);
			return -1;
		}
		p->next = peer_members[p->app];
		peer_members[p->app] = p;
		peer_nmembers[p->app]++;
		if (p->app == APP_COUNTER) {
			peer_counter_users();
			n = peer_counter_value(buf, sizeof(buf));
			peer_send(p, buf, (size_t)n, 0);
		}
		break;
	case LWS_CALLBACK_RECEIVE:
		if (p->closing)
			break;
		if (peer_append(p, in, len) == -1) {
			lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE,
			    NULL, 0);
			return -1;
		}
		if (lws_is_final_fragment(wsi) &&
		    lws_remaining_packet_payload(wsi) == 0) {
			peer_message(p, lws_frame_is_binary(wsi));
			p->inlen = 0;
		}
		break;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		if ((q = p->head) != NULL) {
			if ((p->head = q->next) == NULL)
				p->tail = NULL;
			n = lws_write(wsi, q->msg->buf + LWS_PRE, q->msg->len,
			    q->msg->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
			peer_msg_unref(q->msg);
			free(q);
			if (n < 0)
				return -1;
		}
		if (p->head != NULL)
			lws_callback_on_writable(wsi);
		else if (p->closing) {
			lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
			return -1;
		}
		break;
	case LWS_CALLBACK_CLOSED:
		if (p->app == APP_NONE)
			break;
		n = p->app;
		peer_leave(p);
		if (n == APP_COUNTER)
			peer_counter_users();
		break;
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

/* The broadcast tick: the time to every client, fixed-rate. */
static void
peer_tick(lws_sorted_usec_list_t *sul)
{
	struct timespec	 ts;
	struct tm	 tm;
	char		 buf[64];
	size_t		 n;
	lws_usec_t	 now;

	(void)sul;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, ".%06ldZ",
	    ts.tv_nsec / 1000);
	peer_publish(APP_BROADCAST, buf, n, 0);

	/* The next deadline follows the last one; overrun ticks are skipped. */
	now = lws_now_usecs();
	peer_next += peer_period;
	while (peer_next <= now)
		peer_next += peer_period;
	lws_sul_schedule(peer_ctx, 0, &peer_sul, peer_tick, peer_next - now);
}

/* Ends the service loop. */
static void
peer_sigint(int sig)
{
	(void)sig;
	peer_stop = 1;
	lws_cancel_service(peer_ctx);
}

static const struct lws_protocols peer_protocols[] = {
	{ "wsd-peer", peer_cb, sizeof(struct peer_pss), 4096, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

/* As in lws's minimal-ws-server-pmd example, what browsers negotiate. */
static const struct lws_extension peer_extensions[] = {
	{ "permessage-deflate", lws_extension_callback_pm_deflate,
	    "permessage-deflate; client_max_window_bits" },
	{ NULL, NULL, NULL }
};

int
main(int argc, char *argv[])
{
	struct lws_context_creation_info	 info;
	struct lws_vhost			*vh;
	long					 port = 0, period = 1000;
	char					*end;
	int					 i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
			port = strtol(argv[++i], &end, 10);
			if (*end != '\0' || port < 0 || port > 65535)
				goto usage;
		} else if (strcmp(argv[i], "--period-ms") == 0 && i + 1 < argc) {
			period = strtol(argv[++i], &end, 10);
			if (*end != '\0' || period < 1 || period > 86400000)
				goto usage;
		} else
			goto usage;
	}
	lws_set_log_level(LLL_ERR, NULL);
	memset(&info, 0, sizeof(info));
	/* Port 0: the kernel picks one (CONTEXT_PORT_NO_LISTEN is -1). */
	info.port = port;
	info.iface = "127.0.0.1";
	info.protocols = peer_protocols;
	info.extensions = peer_extensions;
	info.options = LWS_SERVER_OPTION_DISABLE_IPV6 |
	    LWS_SERVER_OPTION_VALIDATE_UTF8;
	info.fd_limit_per_thread = 0;
	if ((peer_ctx = lws_create_context(&info)) == NULL) {
		fprintf(stderr, "lws-peer: lws_create_context failed\n");
		return 1;
	}
	vh = lws_get_vhost_by_name(peer_ctx, "default");
	printf("listening on 127.0.0.1:%d\n",
	    vh != NULL ? lws_get_vhost_listen_port(vh) : (int)port);
	fflush(stdout);
	signal(SIGINT, peer_sigint);
	signal(SIGTERM, peer_sigint);

	peer_period = (lws_usec_t)period * 1000;
	peer_next = lws_now_usecs() + peer_period;
	lws_sul_schedule(peer_ctx, 0, &peer_sul, peer_tick, peer_period);
	while (!peer_stop && lws_service(peer_ctx, 0) >= 0)
		;
	lws_context_destroy(peer_ctx);
	return 0;
usage:
	fprintf(stderr, "usage: lws-peer [--port N] [--period-ms MS]\n");
	return 2;
}
