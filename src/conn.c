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

#include <sys/epoll.h>
#include <sys/uio.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "app.h"
#include "config.h"
#include "conn.h"
#include "conn_priv.h"
#include "generation.h"
#include "iplimit.h"
#include "log.h"
#include "proxy.h"
#include "loop.h"
#include "stats.h"
#include "tls.h"

static const char *const conn_state_names[] = {
	"proxy", "http-head", "http-idle", "ws-pending", "ws-open", "ws-closing",
	"flush-close", "linger", "sse", "http-pending",
};

/*
 * What a connection needs while its PROXY header arrives, or (sniff) while
 * a TLS listener waits for the first byte that tells TLS from plain HTTP.
 */
struct conn_proxy {
	struct event		*ev;		/* the socket is readable */
	evutil_socket_t		 fd;
	int			 tls;		/* TLS after the header, with
						 * the generation's context */
	int			 sniff;		/* no header: the first byte */
	size_t			 len;
	uint8_t			 buf[PROXY_V2_MAX];
};

static void	conn_read_cb(struct bufferevent *, void *);
static void	conn_write_cb(struct bufferevent *, void *);
static void	conn_event_cb(struct bufferevent *, short, void *);

/* Moves c to a new state, logging the transition at debug level. */
void
conn_set_state(struct conn *c, enum conn_state state)
{
	if (c->state != state)
		log_debug("%s: %s -> %s", conn_peer(c), conn_state_names[c->state],
		    conn_state_names[state]);
	c->state = state;
}

/*
 * Connection timers without a libevent event each: one list per duration
 * (handshake_timeout, a route's ping_interval, ...), in the order the
 * connections were armed, which for one duration is deadline order. Each
 * list has one libevent timer, for its head. A duration of 0 is "as soon
 * as the loop comes round" (conn_timer_soon).
 */
struct conn_tlist {
	double			 secs;
	TAILQ_HEAD(, conn)	 conns;
	struct event		*ev;
};

/* Like everything of a loop below: the worker thread's own. */
static _Thread_local struct conn_tlist **conn_tlists;
static _Thread_local size_t conn_ntlists;

static void	conn_timer_cb(struct conn *);

/* Arms list t's libevent timer for its head, if any. */
static void
conn_tlist_arm(struct conn_tlist *t, double now)
{
	struct conn	*c;
	struct timeval	 tv;
	double		 left;

	if ((c = TAILQ_FIRST(&t->conns)) == NULL) {
		evtimer_del(t->ev);
		return;
	}
	left = c->deadline - now;
	tv = config_timeval(left > 0 ? left : 0);
	evtimer_add(t->ev, &tv);
}

/* A list's head is due: runs every connection whose deadline passed. */
static void
conn_tlist_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn_tlist	*t = arg;
	struct conn		*c;
	double			 now = conn_now();

	(void)fd;
	(void)what;
	/* A millisecond early is on time: libevent rounds. */
	while ((c = TAILQ_FIRST(&t->conns)) != NULL &&
	    c->deadline <= now + 0.001) {
		TAILQ_REMOVE(&t->conns, c, tentry);
		c->tlist = NULL;
		conn_timer_cb(c);
	}
	conn_tlist_arm(t, conn_now());
}

/* The list for a duration, made on first use (or an empty one reused). */
static struct conn_tlist *
conn_tlist_get(struct server *srv, double secs)
{
	struct conn_tlist	**v, *t, *spare = NULL;
	size_t			  i;

	for (i = 0; i < conn_ntlists; i++) {
		if (conn_tlists[i]->secs == secs)
			return conn_tlists[i];
		if (spare == NULL && TAILQ_EMPTY(&conn_tlists[i]->conns))
			spare = conn_tlists[i];
	}
	/* Reloads bring new durations: an idle list takes one. */
	if (spare != NULL && conn_ntlists >= 16) {
		spare->secs = secs;
		return spare;
	}
	if ((v = reallocarray(conn_tlists, conn_ntlists + 1,
	    sizeof(*v))) == NULL)
		return NULL;
	conn_tlists = v;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	if ((t->ev = evtimer_new(srv->base, conn_tlist_cb, t)) == NULL) {
		free(t);
		return NULL;
	}
	t->secs = secs;
	TAILQ_INIT(&t->conns);
	conn_tlists[conn_ntlists++] = t;
	return t;
}

/* Takes c off its timer list. */
static void
conn_timer_del(struct conn *c)
{
	if (c->tlist == NULL)
		return;
	/* The list's timer may fire for nothing: it re-arms itself. */
	TAILQ_REMOVE(&c->tlist->conns, c, tentry);
	c->tlist = NULL;
}

/* Arms c's timer for secs (0: as soon as the loop comes round). */
static void
conn_timer_arm(struct conn *c, double secs)
{
	struct conn_tlist	*t;
	double			 now = conn_now();

	conn_timer_del(c);
	if ((t = conn_tlist_get(c->srv, secs)) == NULL)
		fatalx("cannot create a timer");
	c->deadline = now + secs;
	c->tlist = t;
	TAILQ_INSERT_TAIL(&t->conns, c, tentry);
	if (TAILQ_FIRST(&t->conns) == c)
		conn_tlist_arm(t, now);
}

/* (Re)arms the connection's single timer; 0 seconds disarms it. */
void
conn_timer_set(struct conn *c, double seconds)
{
	if (seconds <= 0)
		conn_timer_del(c);
	else
		conn_timer_arm(c, seconds);
}

/* Seconds elapsed since t (conn_now()), for the access log. */
double
conn_elapsed(double t)
{
	return conn_now() - t;
}

/*
 * The output queue of a plain WebSocket: slices written with writev.
 * A reference slice points into a refcounted frame (a hub's, shared by
 * every member) and costs only the slice; small frames of the
 * connection's own (pongs, app messages, close) are copied into the tail
 * slice, which has room for CONN_TAIL_MIN bytes or more, so that a burst
 * of them costs one allocation. out_held counts what the queue holds:
 * slices, copy room and referenced bytes, and is what max_send_buffer
 * bounds.
 */
#define CONN_TAIL_MIN	512
#define CONN_IOV_MAX	64
#define CONN_FLUSH_AT	16384
#define CONN_TLS_RECORD	16384	/* the most a TLS record carries */

struct conn_slice {
	struct conn_slice	*next;
	const uint8_t		*base;		/* the bytes */
	size_t			 len;		/* bytes at base */
	size_t			 off;		/* bytes written */
	size_t			 cap;		/* copy: room in buf; 0: a ref */
	void			(*cleanup)(const void *, size_t, void *);
	void			*arg;
	uint8_t			 buf[];
};

/* Input of a plain WebSocket not parsed yet (backpressure, upgrade). */
struct conn_input {
	size_t		 len;
	uint8_t		 data[];
};

/* One buffer per loop: every WebSocket reads into it. */
static _Thread_local uint8_t conn_scratch[CONN_SCRATCH];
/* One per loop: small slices of a TLS WebSocket go out as one record. */
static _Thread_local uint8_t conn_tls_out[CONN_TLS_RECORD];

/* Connections with output to write before the loop waits again. */
/* Set up with conn_flush_ev: a thread-local has no constant address. */
static _Thread_local TAILQ_HEAD(, conn) conn_dirty;
static _Thread_local unsigned conn_ndirty;
static _Thread_local struct event *conn_flush_ev;

/*
 * The loop's WebSocket poller: upgraded sockets wait for input in an epoll
 * set of their own, which is one event in the libevent loop. A WebSocket
 * then needs no struct event of its own (128 bytes, a third of an idle
 * one's memory); write interest, armed only when a socket is full, still
 * goes through a libevent event (c->wev). Reads due without readiness
 * (OpenSSL holds records, a pause ended) run from the flush callback.
 */
#define CONN_EP_BATCH	256
static _Thread_local int conn_epfd = -1;
static _Thread_local struct event *conn_ep_ev;
static _Thread_local struct epoll_event conn_ep_batch[CONN_EP_BATCH];
static _Thread_local int conn_ep_at, conn_ep_n; /* the batch being run */

static int	conn_out_flush(struct conn *);
static int	conn_out_write(struct conn *);
static void	conn_io_write_cb(evutil_socket_t, short, void *);
static void	conn_io_read_cb(evutil_socket_t, short, void *);
static void	conn_tls_read(struct conn *, size_t);
static void	conn_out_dirty(struct conn *);

/* Runs the WebSocket reads that epoll reports ready. */
static void
conn_ep_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn	*c;

	(void)what;
	(void)arg;
	do
		conn_ep_n = epoll_wait(fd, conn_ep_batch, CONN_EP_BATCH, 0);
	while (conn_ep_n == -1 && errno == EINTR);
	/* A full batch leaves the set readable: the loop comes back. */
	for (conn_ep_at = 0; conn_ep_at < conn_ep_n; conn_ep_at++) {
		/* NULL: closed by an earlier one of this batch. */
		if ((c = conn_ep_batch[conn_ep_at].data.ptr) != NULL)
			conn_io_read_cb(c->fd, EV_READ, c);
	}
	conn_ep_n = 0;
}

/* Makes the loop's poller; -1 on an error. */
static int
conn_ep_init(struct event_base *base)
{
	if (conn_epfd != -1)
		return 0;
	if ((conn_epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		return -1;
	if ((conn_ep_ev = event_new(base, conn_epfd, EV_READ | EV_PERSIST,
	    conn_ep_cb, NULL)) == NULL || event_add(conn_ep_ev, NULL) == -1) {
		if (conn_ep_ev != NULL)
			event_free(conn_ep_ev);
		conn_ep_ev = NULL;
		close(conn_epfd);
		conn_epfd = -1;
		return -1;
	}
	return 0;
}

/* c reads its socket when it is readable; a no-op once it already does. */
void
conn_rd_on(struct conn *c)
{
	struct epoll_event	ev;

	if (!c->rd_ok || c->rd_on)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.ptr = c;
	if (epoll_ctl(conn_epfd, EPOLL_CTL_ADD, c->fd, &ev) == -1) {
		/* Never lose input silently: try again from the loop. */
		log_warn("%s: epoll_ctl", conn_peer(c));
		return;
	}
	c->rd_on = 1;
}

/*
 * c leaves the epoll set (a pause: epoll's HUP would wake it; or its
 * end), always by EPOLL_CTL_DEL: closing the socket is not enough. epoll
 * forgets a file only once no descriptor refers to it, and a program an
 * exec route is starting (on any worker) holds a copy of every
 * descriptor until its exec; the set would go on reporting a freed
 * connection.
 */
void
conn_rd_off(struct conn *c)
{
	int	i;

	if (!c->rd_on)
		return;
	epoll_ctl(conn_epfd, EPOLL_CTL_DEL, c->fd, NULL);
	c->rd_on = 0;
	/* A readiness of the batch being run must not call it now. */
	for (i = conn_ep_at + 1; i < conn_ep_n; i++)
		if (conn_ep_batch[i].data.ptr == c)
			conn_ep_batch[i].data.ptr = NULL;
}

/* A read is due without readiness: it runs in this loop iteration. */
void
conn_rd_activate(struct conn *c)
{
	if (!c->rd_ok)
		return;
	c->rd_act = 1;
	conn_out_dirty(c);
}

/* A WebSocket stops reading its socket for good: it is closed next. */
void
conn_rd_end(struct conn *c)
{
	conn_rd_off(c);
	c->rd_ok = 0;
	c->rd_act = 0;
}

static void	conn_app_drained(struct conn *);

/* Memory a slice holds. */
static size_t
conn_slice_held(const struct conn_slice *s)
{
	return sizeof(*s) + (s->cap != 0 ? s->cap : s->len);
}

/* Frees a slice, releasing a referenced frame. */
static void
conn_slice_free(struct conn_slice *s)
{
	if (s->cleanup != NULL)
		s->cleanup(s->base, s->len, s->arg);
	free(s);
}

/* Writes the dirty connections' output, once per loop iteration. */
static void
conn_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn	*c;
	unsigned	 n = conn_ndirty;

	(void)fd;
	(void)what;
	(void)arg;
	/* Those that turn dirty meanwhile wait for the next round. */
	int		 rd;

	while (n-- > 0 && (c = TAILQ_FIRST(&conn_dirty)) != NULL) {
		TAILQ_REMOVE(&conn_dirty, c, dirty);
		conn_ndirty--;
		c->is_dirty = 0;
		rd = c->rd_act;
		c->rd_act = 0;
		if (conn_out_flush(c) == 0 && rd && c->rd_ok)
			conn_io_read_cb(c->fd, EV_READ, c);
	}
	if (conn_ndirty > 0)
		event_active(conn_flush_ev, EV_TIMEOUT, 1);
}

/*
 * Marks c to be flushed in this loop iteration: small messages queued for
 * it meanwhile leave in one writev. Once the queue holds half the send
 * limit (or CONN_FLUSH_AT) it is written at once, so that a burst read in
 * one go does not pile up to the limit before the flush.
 */
static void
conn_out_dirty(struct conn *c)
{
	size_t	at = conn_send_limit(c) / 2;

	if (c->bev != NULL)
		return;
	if (!c->is_dirty) {
		if (conn_flush_ev == NULL) {
			if ((conn_flush_ev = event_new(c->srv->base, -1, 0,
			    conn_flush_cb, NULL)) == NULL)
				fatalx("cannot create the flush event");
			TAILQ_INIT(&conn_dirty);
		}
		c->is_dirty = 1;
		TAILQ_INSERT_TAIL(&conn_dirty, c, dirty);
		if (conn_ndirty++ == 0)
			event_active(conn_flush_ev, EV_TIMEOUT, 1);
	}
	if (c->out_held >= (at < CONN_FLUSH_AT ? at : CONN_FLUSH_AT) &&
	    (c->wev == NULL || !event_pending(c->wev, EV_WRITE, NULL)))
		/* Errors and what follows a drain wait for the flush. */
		conn_out_write(c);
}

/* Appends a slice to the queue. */
static void
conn_out_append(struct conn *c, struct conn_slice *s)
{
	s->next = NULL;
	if (c->out_tail != NULL)
		c->out_tail->next = s;
	else
		c->out = s;
	c->out_tail = s;
	c->out_held += conn_slice_held(s);
}

/* Room for n more bytes in the tail copy slice; NULL when out of memory. */
static struct conn_slice *
conn_out_room(struct conn *c, size_t n)
{
	struct conn_slice	*s = c->out_tail;
	size_t			 cap;

	if (s != NULL && s->cap - s->len >= n && s->cap != 0)
		return s;
	cap = n < CONN_TAIL_MIN ? CONN_TAIL_MIN : n;
	if ((s = malloc(sizeof(*s) + cap)) == NULL)
		return NULL;
	memset(s, 0, sizeof(*s));
	s->base = s->buf;
	s->cap = cap;
	conn_out_append(c, s);
	return s;
}

/* Queues a copy of len bytes. */
int
conn_out_add(struct conn *c, const void *data, size_t len)
{
	struct conn_slice	*s;

	if (c->bev != NULL)
		return evbuffer_add(bufferevent_get_output(c->bev), data, len);
	if (len == 0)
		return 0;
	if ((s = conn_out_room(c, len)) == NULL)
		return -1;
	memcpy(s->buf + s->len, data, len);
	s->len += len;
	conn_out_dirty(c);
	return 0;
}

/*
 * Queues len bytes by reference; cleanup(data, len, arg) runs once they
 * are written or dropped. A bufferevent copies small ones (a reference
 * costs it a 1 KiB chain) and calls cleanup at once.
 */
int
conn_out_ref(struct conn *c, const void *data, size_t len,
    void (*cleanup)(const void *, size_t, void *), void *arg)
{
	struct evbuffer		*out;
	struct conn_slice	*s;

	if (c->bev != NULL) {
		out = bufferevent_get_output(c->bev);
		if (len >= CONN_SHARE_MIN)
			return evbuffer_add_reference(out, data, len, cleanup,
			    arg);
		if (evbuffer_add(out, data, len) == -1)
			return -1;
		cleanup(data, len, arg);
		return 0;
	}
	if ((s = malloc(sizeof(*s))) == NULL)
		return -1;
	memset(s, 0, sizeof(*s));
	s->base = data;
	s->len = len;
	s->cleanup = cleanup;
	s->arg = arg;
	conn_out_append(c, s);
	conn_out_dirty(c);
	return 0;
}

/* The reservation of the bufferevent's output between reserve and commit. */
static _Thread_local struct evbuffer_iovec conn_reserved;

/* Room for up to n bytes at the end of the output; NULL: no memory. */
uint8_t *
conn_out_reserve(struct conn *c, size_t n)
{
	struct conn_slice	*s;

	if (c->bev != NULL) {
		if (evbuffer_reserve_space(bufferevent_get_output(c->bev),
		    (ev_ssize_t)n, &conn_reserved, 1) != 1)
			return NULL;
		return conn_reserved.iov_base;
	}
	if ((s = conn_out_room(c, n)) == NULL)
		return NULL;
	return s->buf + s->len;
}

/* Adds the first n bytes written at conn_out_reserve()'s pointer. */
int
conn_out_commit(struct conn *c, size_t n)
{
	if (c->bev != NULL) {
		conn_reserved.iov_len = n;
		return evbuffer_commit_space(bufferevent_get_output(c->bev),
		    &conn_reserved, 1);
	}
	c->out_tail->len += n;
	conn_out_dirty(c);
	return 0;
}

/* Calls hub_member_drained() once c's output is at most low bytes. */
void
conn_watch_drain(struct conn *c, size_t low)
{
	if (c->hub_drain || (c->state != CONN_WS_OPEN && c->state != CONN_SSE))
		return;
	c->hub_drain = 1;
	if (c->bev == NULL) {
		/* The hub's low is half its limit, which is c's. */
		conn_out_dirty(c);	/* it may be there already */
	} else if (!c->paused)
		bufferevent_setwatermark(c->bev, EV_WRITE, low, 0);
}

/* Frees the queue and whatever input is left of a plain WebSocket. */
static void
conn_io_free(struct conn *c)
{
	struct conn_slice	*s;

	while ((s = c->out) != NULL) {
		c->out = s->next;
		conn_slice_free(s);
	}
	c->out_tail = NULL;
	c->out_held = 0;
	free(c->in);
	c->in = NULL;
	if (c->is_dirty) {
		TAILQ_REMOVE(&conn_dirty, c, dirty);
		conn_ndirty--;
		c->is_dirty = 0;
	}
	conn_rd_end(c);
	if (c->wev != NULL)
		event_free(c->wev);
	c->wev = NULL;
}

/*
 * Arms write interest with the send timeout: it fires when the output has
 * made no progress for that long. Armed again after each progress.
 */
static int
conn_out_arm(struct conn *c)
{
	struct timeval	 tv, *tvp = NULL;
	evutil_socket_t	 fd = c->tls_wr_rd ? -1 : c->fd;

	/* An SSL_write that awaits readability keeps only the timeout. */
	if (c->wev != NULL && event_get_fd(c->wev) != fd) {
		event_free(c->wev);
		c->wev = NULL;
	}
	if (c->wev == NULL && (c->wev = event_new(c->srv->base, fd,
	    fd == -1 ? 0 : EV_WRITE | EV_PERSIST, conn_io_write_cb,
	    c)) == NULL)
		return -1;
	if (c->ws != NULL && c->route->lim.send_timeout > 0) {
		tv = config_timeval(c->route->lim.send_timeout);
		tvp = &tv;
	}
	return event_add(c->wev, tvp);
}

/* Removes n written bytes, and empty slices, from the front of the queue. */
static void
conn_out_consume(struct conn *c, size_t n)
{
	struct conn_slice	*s;
	size_t			 k;

	while ((s = c->out) != NULL) {
		k = s->len - s->off;
		if (n < k) {
			s->off += n;
			return;
		}
		n -= k;
		c->out = s->next;
		if (c->out == NULL)
			c->out_tail = NULL;
		c->out_held -= conn_slice_held(s);
		conn_slice_free(s);
	}
}

/*
 * What follows a write on a plain WebSocket: the end of flush-then-close,
 * a hub's drain, the end of backpressure.
 */
static void
conn_out_progress(struct conn *c)
{
	if (c->state == CONN_FLUSH_CLOSE) {
		if (c->out != NULL)
			return;
		/* Over TLS the close_notify goes first. */
		if (c->ssl != NULL) {
			ERR_clear_error();
			SSL_shutdown(c->ssl);
		}
		shutdown(c->fd, SHUT_WR);
		conn_set_state(c, CONN_LINGER);
		return;
	}
	if (c->hub_drain && c->ws != NULL &&
	    c->out_held <= conn_send_limit(c) / 2) {
		/* May queue more and ask for the next drain. */
		c->hub_drain = 0;
		hub_member_drained(conn_member(c));
	}
	if (c->paused && c->out_held <= conn_send_limit(c) / 2) {
		c->paused = 0;
		conn_app_drained(c);
		/* on_drain may have queued past the limit again. */
		if (c->paused || c->app_paused || c->state == CONN_FLUSH_CLOSE ||
		    c->state == CONN_LINGER)
			return;
		conn_rd_on(c);
		log_debug("%s: output drained, reading resumed", conn_peer(c));
		/*
		 * What was read before the pause is still waiting; over TLS,
		 * OpenSSL may hold more that no readiness will signal.
		 */
		if (c->ssl != NULL)
			conn_rd_activate(c);
		else
			conn_io_input(c);
	}
}

/*
 * Writes a TLS WebSocket's queue with SSL_write: a run of small slices is
 * copied into one record, a large slice goes out from where it is. With
 * SSL_MODE_ENABLE_PARTIAL_WRITE each call returns once a record is
 * written, so the queue gives back what has left even when the socket
 * fills mid-run; SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER lets a retried
 * write come from another buffer: the queue's front bytes are the same.
 * Returns like conn_out_write().
 */
static int
conn_tls_write(struct conn *c)
{
	struct conn_slice	*s;
	const uint8_t		*p;
	size_t			 len, k;
	int			 n, err, progress = 0;

	while (c->out != NULL) {
		s = c->out;
		len = s->len - s->off;
		p = s->base + s->off;
		if (len < CONN_TLS_RECORD && s->next != NULL) {
			for (len = 0; s != NULL && len < CONN_TLS_RECORD;
			    s = s->next) {
				k = s->len - s->off;
				if (k > CONN_TLS_RECORD - len)
					k = CONN_TLS_RECORD - len;
				memcpy(conn_tls_out + len, s->base + s->off, k);
				len += k;
			}
			p = conn_tls_out;
		} else if (len > CONN_TLS_RECORD)
			len = CONN_TLS_RECORD;
		if (len == 0) {
			/* Empty slices only: a reservation not used. */
			conn_out_consume(c, 0);
			break;
		}
		ERR_clear_error();
		errno = 0;
		if ((n = SSL_write(c->ssl, p, (int)len)) > 0) {
			progress = 1;
			c->tls_wr_rd = 0;
			conn_out_consume(c, (size_t)n);
			continue;
		}
		err = SSL_get_error(c->ssl, n);
		if (err == SSL_ERROR_WANT_WRITE)
			break;
		if (err == SSL_ERROR_WANT_READ) {
			/* Readability retries it: conn_io_read_cb(). */
			c->tls_wr_rd = 1;
			conn_rd_on(c);
			break;
		}
		if (err != SSL_ERROR_SYSCALL || errno == 0)
			errno = EPIPE;
		return -1;
	}
	return progress;
}

/*
 * Writes what the queue holds with writev until it is empty or the socket
 * is full. Returns 1 after progress, 0 without, -1 on an error (errno).
 */
static int
conn_out_write(struct conn *c)
{
	struct iovec		 iov[CONN_IOV_MAX];
	struct conn_slice	*s;
	ssize_t			 n;
	int			 cnt, progress = 0;

	if (c->ssl != NULL)
		return conn_tls_write(c);
	while (c->out != NULL) {
		for (cnt = 0, s = c->out; s != NULL && cnt < CONN_IOV_MAX;
		    s = s->next) {
			if (s->len == s->off)
				continue;
			iov[cnt].iov_base = (void *)(s->base + s->off);
			iov[cnt].iov_len = s->len - s->off;
			cnt++;
		}
		if (cnt == 0) {
			/* Empty slices only: a reservation not used. */
			conn_out_consume(c, 0);
			break;
		}
		n = writev(c->fd, iov, cnt);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			return -1;
		}
		progress = 1;
		conn_out_consume(c, (size_t)n);
	}
	return progress;
}

/*
 * Writes the queue; write interest is armed only when the socket is full,
 * and dropped once the queue drains. Then what a drain brings.
 */
static int
conn_out_flush(struct conn *c)
{
	int	progress;

	if ((progress = conn_out_write(c)) == -1) {
		conn_close(c, strerror(errno));
		return -1;
	}
	if (c->out != NULL || c->tls_rd_wr) {
		/* A timeout restarts only with progress. */
		if ((progress || c->wev == NULL || !event_pending(c->wev,
		    EV_WRITE | EV_TIMEOUT, NULL) || event_get_fd(c->wev) !=
		    (c->tls_wr_rd ? -1 : c->fd)) && conn_out_arm(c) == -1) {
			conn_close(c, "cannot wait for output");
			return -1;
		}
	} else if (c->wev != NULL) {
		event_free(c->wev);
		c->wev = NULL;
	}
	conn_out_progress(c);
	return 0;
}

/* A WebSocket's socket is writable, or its output stalled. */
static void
conn_io_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn	*c = arg;

	(void)fd;
	if (what & EV_TIMEOUT) {
		if (c->ws != NULL)
			conn_ws_send_timeout(c);
		conn_close(c, "send timeout");
		return;
	}
	if (c->tls_rd_wr) {
		/* An SSL_read waited for this: read again. */
		c->tls_rd_wr = 0;
		if (conn_reading(c))
			conn_rd_on(c);
		conn_rd_activate(c);
	}
	conn_out_flush(c);
}

/*
 * Parses bytes at the front of the scratch buffer; what the session does
 * not take now (backpressure) is kept until reading resumes.
 */
static void
conn_io_parse(struct conn *c, size_t len)
{
	size_t	used;

	if (c->state != CONN_WS_OPEN && c->state != CONN_WS_CLOSING)
		return;		/* flush-close, linger: input is dropped */
	used = conn_ws_input(c, conn_scratch, len);
	if (used == len || (c->state != CONN_WS_OPEN &&
	    c->state != CONN_WS_CLOSING))
		return;
	if ((c->in = malloc(sizeof(*c->in) + len - used)) == NULL) {
		conn_ws_fail(c, WS_CLOSE_INTERNAL, "out of memory");
		return;
	}
	c->in->len = len - used;
	memcpy(c->in->data, conn_scratch + used, len - used);
}

/* Parses what a WebSocket has left over, without reading. */
void
conn_io_input(struct conn *c)
{
	size_t	len;

	if (c->in == NULL || c->bev != NULL)
		return;
	len = c->in->len;
	memcpy(conn_scratch, c->in->data, len);
	free(c->in);
	c->in = NULL;
	conn_io_parse(c, len);
}

/* A plain WebSocket's socket is readable. */
static void
conn_io_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn	*c = arg;
	size_t		 len = 0;
	ssize_t		 n;

	(void)what;
	if (c->tls_wr_rd) {
		/* An SSL_write waited for this: write again. */
		c->tls_wr_rd = 0;
		if (conn_out_flush(c) == -1)
			return;
	}
	if (!conn_reading(c) || c->tls_rd_wr) {
		/* Added only for the write, or come back by event_active(). */
		if (!c->tls_wr_rd)
			conn_rd_off(c);
		return;
	}
	if (c->in != NULL) {
		len = c->in->len;
		memcpy(conn_scratch, c->in->data, len);
		free(c->in);
		c->in = NULL;
	}
	if (c->ssl != NULL) {
		conn_tls_read(c, len);
		return;
	}
	if (len == sizeof(conn_scratch))
		n = -1, errno = EAGAIN;	/* parse the leftover first */
	else
		do
			n = read(fd, conn_scratch + len,
			    sizeof(conn_scratch) - len);
		while (n == -1 && errno == EINTR);
	if (n == 0) {
		conn_close(c, c->state == CONN_LINGER ? "closed" : "eof");
		return;
	}
	if (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK) {
		conn_close(c, strerror(errno));
		return;
	}
	if (n > 0)
		len += (size_t)n;
	conn_io_parse(c, len);
}

/* Why a TLS read ended, other than for more bytes: an EOF or an error. */
static const char *
conn_tls_error(struct conn *c, int err)
{
	unsigned long	e = ERR_peek_error();

	if (err == SSL_ERROR_ZERO_RETURN ||
	    (err == SSL_ERROR_SYSCALL && errno == 0) ||
	    (err == SSL_ERROR_SSL &&
	    ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING))
		return c->state == CONN_LINGER ? "closed" : "eof";
	if (err == SSL_ERROR_SYSCALL)
		return strerror(errno);
	return e != 0 && ERR_reason_error_string(e) != NULL ?
	    ERR_reason_error_string(e) : "tls error";
}

/*
 * A TLS WebSocket reads with SSL_read into the scratch buffer until
 * OpenSSL wants more from the socket. Bytes OpenSSL still holds when the
 * buffer is full (or an EOF after data) bring c back by event_active():
 * no readiness would signal them.
 */
static void
conn_tls_read(struct conn *c, size_t len)
{
	const char	*why = NULL;
	int		 n, err;

	while (len < sizeof(conn_scratch)) {
		ERR_clear_error();
		errno = 0;
		n = SSL_read(c->ssl, conn_scratch + len,
		    (int)(sizeof(conn_scratch) - len));
		if (n > 0) {
			len += (size_t)n;
			continue;
		}
		if ((err = SSL_get_error(c->ssl, n)) == SSL_ERROR_WANT_READ)
			break;
		if (err == SSL_ERROR_WANT_WRITE) {
			/* conn_io_write_cb() reads again. */
			c->tls_rd_wr = 1;
			conn_rd_off(c);
			if (conn_out_arm(c) == -1)
				why = "cannot wait for output";
			else
				break;
		} else
			why = conn_tls_error(c, err);
		if (len == 0) {
			conn_close(c, why);
			return;
		}
		break;		/* the data first, then the end */
	}
	conn_io_parse(c, len);
	if ((why != NULL || len == sizeof(conn_scratch)) && conn_reading(c) &&
	    !c->tls_rd_wr)
		conn_rd_activate(c);
}

/*
 * Takes a WebSocket's socket (and SSL: the bufferevent never owned
 * either) from its bufferevent once the upgrade request is answered:
 * what the bufferevent holds (the 101, an app's first messages, frames
 * that followed the request, decrypted or not) moves to c. -1 when c was
 * closed.
 */
int
conn_io_takeover(struct conn *c)
{
	struct evbuffer		*out = bufferevent_get_output(c->bev);
	struct evbuffer		*in = bufferevent_get_input(c->bev);
	struct conn_slice	*s = NULL;
	size_t			 olen = evbuffer_get_length(out);
	size_t			 ilen = evbuffer_get_length(in);

	int			 ep = conn_ep_init(c->srv->base);

	if (olen > 0 && (s = malloc(sizeof(*s) + olen)) != NULL) {
		memset(s, 0, sizeof(*s));
		s->base = s->buf;
		s->cap = s->len = olen;
		/* Its start is frozen: only the bev may drain it. */
		evbuffer_unfreeze(out, 1);
		evbuffer_copyout(out, s->buf, olen);
	}
	if (ilen > 0 && (c->in = malloc(sizeof(*c->in) + ilen)) != NULL) {
		c->in->len = ilen;
		evbuffer_copyout(in, c->in->data, ilen);
	}
	if (ep == -1 || (olen > 0 && s == NULL) ||
	    (ilen > 0 && c->in == NULL)) {
		free(s);
		log_warnx("%s: cannot take over the socket", conn_peer(c));
		conn_close(c, "out of memory");
		return -1;
	}
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	bufferevent_free(c->bev);
	c->bev = NULL;
	c->rd_ok = 1;
	if (c->ssl != NULL)
		SSL_set_mode(c->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE |
		    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (s != NULL) {
		conn_out_append(c, s);
		conn_out_dirty(c);
	}
	if (conn_reading(c)) {
		conn_rd_on(c);
		/* OpenSSL may hold records the bufferevent did not read. */
		if (c->ssl != NULL)
			conn_rd_activate(c);
	}
	return 0;
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
		if (c->srv->ops->refused(c->srv, SERVER_REFUSED_PER_IP, silent))
			log_info("%s: connection refused: "
			    "max_connections_per_ip (%u) reached%s", conn_peer(c),
			    cur->max_connections_per_ip, how);
		return 503;
	case IPLIMIT_RATE:
		if (c->srv->ops->refused(c->srv, SERVER_REFUSED_RATE, silent))
			log_info("%s: connection refused: "
			    "max_connection_rate_per_ip (%u/s) exceeded%s",
			    conn_peer(c), cur->max_connection_rate_per_ip, how);
		return 429;
	default:
		log_warnx("%s: per-address table: out of memory", conn_peer(c));
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
 * set) and starts reading a request head; status: refuse it with that
 * (conn_account()). -1 when c was closed.
 */
static int
conn_start_io(struct conn *c, evutil_socket_t fd, int tls, int status)
{
	struct server	*srv = c->srv;
	const struct wsd_config *conf = c->gen->conf;
	SSL		*ssl;
	struct timeval	 tv;

	if (tls) {
		/* c owns ssl and fd: a WebSocket takes them from the bev. */
		if ((ssl = tls_ssl_new(c->gen->tls)) != NULL) {
			c->bev = bufferevent_openssl_socket_new(srv->base, fd,
			    ssl, BUFFEREVENT_SSL_ACCEPTING, 0);
			if (c->bev == NULL)
				SSL_free(ssl);
			else {
				c->ssl = ssl;
				/* A peer that just closes TCP is an EOF,
				 * not an error. */
				bufferevent_openssl_set_allow_dirty_shutdown(
				    c->bev, 1);
			}
		}
	} else
		/* c closes fd: a WebSocket takes it over from the bev. */
		c->bev = bufferevent_socket_new(srv->base, fd, 0);
	if (c->bev == NULL) {
		log_warnx("%s: cannot set up connection", conn_peer(c));
		evutil_closesocket(fd);
		conn_close(c, "cannot set up connection");
		return -1;
	}
	c->fd = fd;
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
	c->req_start = conn_now();
	conn_timer_set(c, conf->handshake_timeout);
	if (status != 0)
		conn_http_fail(c, NULL, status, NULL, conn_refuse_text(status));
	return 0;
}

/*
 * Connections come from blocks of CONN_BLOCK kept for the life of the
 * process, as nginx keeps its connection array: a struct conn costs its
 * size and no malloc header, and it is not carved out of the holes that
 * the HTTP phase's buffers leave (those holes were 50 bytes a WebSocket).
 * Under AddressSanitizer plain calloc and free keep use-after-free
 * visible.
 */
#define CONN_BLOCK	64
#if defined(__SANITIZE_ADDRESS__)
#define CONN_POOL	0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CONN_POOL	0
#endif
#endif
#ifndef CONN_POOL
#define CONN_POOL	1
#endif

struct conn_block {
	struct conn_block	*next;
	struct conn		 conns[CONN_BLOCK];
};
/* Reachable until conn_loop_free(): never a leak. */
static _Thread_local struct conn_block *conn_blocks;
static _Thread_local struct conn *conn_free_list; /* linked through entry */

/* A zeroed struct conn; NULL when out of memory. */
static struct conn *
conn_alloc(void)
{
	struct conn_block	*b;
	struct conn		*c;
	size_t			 i;

	if (!CONN_POOL)
		return calloc(1, sizeof(*c));
	if (conn_free_list == NULL) {
		if ((b = malloc(sizeof(*b))) == NULL)
			return NULL;
		b->next = conn_blocks;
		conn_blocks = b;
		for (i = 0; i < CONN_BLOCK; i++) {
			b->conns[i].entry.tqe_next = conn_free_list;
			conn_free_list = &b->conns[i];
		}
	}
	c = conn_free_list;
	conn_free_list = c->entry.tqe_next;
	memset(c, 0, sizeof(*c));
	return c;
}

/* Gives c back to the pool. */
static void
conn_release(struct conn *c)
{
	if (!CONN_POOL) {
		free(c);
		return;
	}
	c->entry.tqe_next = conn_free_list;
	conn_free_list = c;
}

/*
 * The first byte on a TLS listener, peeked: a TLS client's goes to
 * OpenSSL; anything else (http:// to an https port, most likely) gets a
 * plaintext 400 that says so, instead of a TLS alert nobody can read.
 */
static void
conn_sniff_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn	*c = arg;
	uint8_t		 b;
	ssize_t		 n;

	(void)what;
	n = recv(fd, &b, 1, MSG_PEEK);
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK ||
	    errno == EINTR))
		return;
	if (n <= 0) {
		/* A port check: connected, said nothing. Not worth a line. */
		stats_hs_fail(&c->srv->stats, STATS_HS_TLS);
		conn_close(c, n == 0 ? "eof before the TLS handshake" :
		    strerror(errno));
		return;
	}
	event_free(c->proxy->ev);
	free(c->proxy);
	c->proxy = NULL;
	if (tls_record_start(b)) {
		conn_start_io(c, fd, 1, 0);
		return;
	}
	if (conn_start_io(c, fd, 0, 0) == -1)
		return;
	/* Accepted on a TLS listener all the same, like a failed handshake. */
	c->srv->stats.tls_total++;
	stats_hs_fail(&c->srv->stats, STATS_HS_TLS);
	log_limited(c->srv->ops->tls_log(c->srv), "plain HTTP on a TLS listener",
	    LOG_LVL_INFO, "%s: plain HTTP on a TLS listener (first byte "
	    "0x%02x): 400", conn_peer(c), b);
	conn_http_fail(c, NULL, 400, NULL,
	    "plain HTTP request sent to a TLS port");
}

/* Waits for a TLS listener's first byte (conn_sniff_cb); -1: c closed. */
static int
conn_sniff_start(struct conn *c, evutil_socket_t fd)
{
	if ((c->proxy = calloc(1, sizeof(*c->proxy))) == NULL) {
		log_warn("%s: cannot set up connection", conn_peer(c));
		evutil_closesocket(fd);
		conn_close(c, "cannot set up connection");
		return -1;
	}
	c->proxy->fd = fd;
	c->proxy->tls = 1;
	c->proxy->sniff = 1;
	if ((c->proxy->ev = event_new(c->srv->base, fd, EV_READ | EV_PERSIST,
	    conn_sniff_cb, c)) == NULL) {
		log_warnx("%s: cannot set up connection", conn_peer(c));
		conn_close(c, "cannot set up connection");
		return -1;
	}
	conn_set_state(c, CONN_PROXY);
	event_add(c->proxy->ev, NULL);
	conn_timer_set(c, c->gen->conf->handshake_timeout);
	return 0;
}

/*
 * Starts a connection once its client is known. A client over its
 * per-address limits is refused first, before any TLS work: on a plain
 * socket with a 503 or 429, on a TLS one by closing it without an
 * answer. A trusted proxy's clients are counted once a request names
 * them. A TLS listener first looks at the first byte. -1 when c was
 * closed.
 */
static int
conn_start(struct conn *c, evutil_socket_t fd, int tls)
{
	int	status = 0;

	if (!conn_hop_trusted(c) && (status = conn_account(c, tls)) != 0 &&
	    tls) {
		evutil_closesocket(fd);
		conn_close(c, "refused");
		return -1;
	}
	if (tls)
		return conn_sniff_start(c, fd);
	return conn_start_io(c, fd, 0, status);
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
	conn_timer_del(c);
	free(c->hp);
	generation_unref(c->gen);
	conn_release(c);
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

/* Applies a PROXY header: the client it names is c's from now on. */
static void
conn_proxy_apply(struct conn *c, const struct proxy_hdr *h)
{
	const char	*via;

	if (h->local) {
		log_debug("%s: PROXY v%d: local, keeping the peer", conn_peer(c),
		    h->version);
		return;
	}
	via = conn_peer(c);
	c->hop = c->addr = h->src;
	c->port = h->sport;
	log_debug("%s: via %s (PROXY v%d)", conn_peer(c), via, h->version);
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
		log_info("%s: %s before the PROXY header", conn_peer(c),
		    n == 0 ? "eof" : strerror(errno));
		stats_hs_fail(&c->srv->stats, STATS_HS_PROXY_HEADER);
		conn_close(c, "no PROXY header");
		return;
	}
	r = proxy_parse(p->buf, p->len + (size_t)n, &h);
	if (r == PROXY_ERROR) {
		log_info("%s: invalid PROXY header, closing", conn_peer(c));
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
	if ((c = conn_alloc()) == NULL) {
		log_warn("accept: conn");
		evutil_closesocket(fd);
		return NULL;
	}
	c->srv = srv;
	c->fd = -1;
	cidr_addr_from_sockaddr(sa, &c->hop);
	if (sa->sa_family == AF_INET)
		c->port = ntohs(((const struct sockaddr_in *)(const void *)
		    sa)->sin_port);
	else if (sa->sa_family == AF_INET6)
		c->port = ntohs(((const struct sockaddr_in6 *)(const void *)
		    sa)->sin6_port);
	c->addr = c->hop;
	/* From accept to free: conf, routes and TLS context come from it. */
	c->gen = generation_ref(srv->gen);
	if (proxy && !conn_hop_trusted(c)) {
		log_info("%s: PROXY protocol listener: peer not in "
		    "trusted_proxies, closing", conn_peer(c));
		stats_hs_fail(&srv->stats, STATS_HS_PROXY_HEADER);
		evutil_closesocket(fd);
		conn_free_early(c);
		return NULL;
	}
	if (proxy && (c->proxy = calloc(1, sizeof(*c->proxy))) != NULL) {
		c->proxy->fd = fd;
		c->proxy->tls = tls;
		c->proxy->ev = event_new(srv->base, fd, EV_READ | EV_PERSIST,
		    conn_proxy_cb, c);
	}
	if (proxy && (c->proxy == NULL || c->proxy->ev == NULL)) {
		log_warnx("%s: cannot set up connection", conn_peer(c));
		evutil_closesocket(fd);
		conn_free_early(c);
		return NULL;
	}
	TAILQ_INSERT_TAIL(&srv->conns, c, entry);
	srv->ops->conn_added(srv);
	srv->stats.conns_total++;
	log_debug("%s: connected", conn_peer(c));
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

	log_debug("%s: closing: %s", conn_peer(c), reason);
	if (c->state == CONN_HTTP_PENDING)
		conn_http_hold_drop(c);
	if (c->ws != NULL)
		conn_ws_free(c);
	if (c->sse != NULL)
		conn_sse_free(c);
	conn_http_file_free(c);
	if (c->ipe != NULL)
		iplimit_release(srv->iplimit, c->ipe, conn_now());
	if (c->tls)
		srv->stats.tls_current--;
	TAILQ_REMOVE(&srv->conns, c, entry);
	conn_io_free(c);
	if (c->bev != NULL) {
		/*
		 * Disabled first: a bufferevent_openssl inside its own
		 * callback goes on reading or writing while enabled, and
		 * the SSL is freed right here, not with the bufferevent.
		 */
		bufferevent_disable(c->bev, EV_READ | EV_WRITE);
		bufferevent_free(c->bev);
	} else if (c->proxy != NULL)
		evutil_closesocket(c->proxy->fd);
	if (c->ssl != NULL)
		SSL_free(c->ssl);
	if (c->fd != -1)
		evutil_closesocket(c->fd);
	conn_free_early(c);
	srv->ops->conn_gone(srv);
}

/* Stops reading while the output is over the limit (backpressure). */
void
conn_check_output(struct conn *c, size_t limit)
{
	if (c->paused || conn_pending(c) <= limit)
		return;
	c->paused = 1;
	c->srv->stats.out_paused++;
	if (c->bev == NULL) {
		/* Resumed at half the limit: conn_out_progress(). */
		conn_rd_off(c);
		log_debug("%s: output over %zu bytes, reading paused",
		    conn_peer(c), limit);
		return;
	}
	bufferevent_disable(c->bev, EV_READ);
	/* The write callback fires once half the backlog has drained. */
	bufferevent_setwatermark(c->bev, EV_WRITE, limit / 2, 0);
	log_debug("%s: output over %zu bytes, reading paused", conn_peer(c),
	    limit);
}

/* Bytes waiting in c's output: the memory its queue holds. */
size_t
conn_pending(const struct conn *c)
{
	if (c->bev != NULL)
		return evbuffer_get_length(bufferevent_get_output(c->bev));
	return c->out_held;
}

/*
 * Stops (pause 1) or resumes reading the client for an app whose own
 * output cannot take more (a full pipe). Independent of the output
 * backpressure: reading resumes only when neither holds it.
 */
void
conn_pause_reading(struct conn *c, int pause)
{
	/* Flush-close and linger read and drop input to the end. */
	if ((pause != 0) == c->app_paused ||
	    (c->state != CONN_WS_OPEN && c->state != CONN_WS_CLOSING &&
	    c->state != CONN_WS_PENDING))
		return;
	c->app_paused = pause != 0;
	log_debug("%s: reading %s by the app", conn_peer(c),
	    pause ? "paused" : "resumed");
	/* A held upgrade reads nothing: the takeover honours the flag. */
	if (c->state == CONN_WS_PENDING)
		return;
	if (c->bev != NULL) {
		if (pause)
			bufferevent_disable(c->bev, EV_READ);
		else if (!c->paused)
			bufferevent_enable(c->bev, EV_READ);
		return;
	}
	if (!c->rd_ok)
		return;
	if (pause) {
		/* An SSL_write waiting for input keeps its readiness. */
		if (!c->tls_wr_rd)
			conn_rd_off(c);
		return;
	}
	if (c->paused)
		return;
	conn_rd_on(c);
	/*
	 * Bytes read before the pause wait in c->in, and over TLS OpenSSL
	 * may hold more that no readiness would signal: the read runs from
	 * the loop rather than from inside the app.
	 */
	conn_rd_activate(c);
}

/* Output fell to half the limit after a pause: the app's on_drain. */
static void
conn_app_drained(struct conn *c)
{
	if (c->ws != NULL && c->app_opened && c->route->app->on_drain !=
	    NULL && (c->state == CONN_WS_OPEN || c->state == CONN_WS_CLOSING))
		c->route->app->on_drain(c);
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
	if (c->bev != NULL) {
		bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
		bufferevent_enable(c->bev, EV_READ);
	} else {
		/* Input is read and dropped from now on. */
		free(c->in);
		c->in = NULL;
		if (!conn_reading(c))
			conn_rd_on(c);
	}
	c->paused = 0;
	c->app_paused = 0;
	conn_timer_set(c, c->gen->conf->close_timeout);
	/*
	 * The WebSocket session is over: the app hears of it now, not when
	 * the peer gets round to closing TCP. Deferred to the timer callback
	 * because we may be inside hub_publish() or an app callback.
	 */
	if (c->app_opened && !c->end_pending) {
		c->end_pending = 1;
		conn_timer_arm(c, 0);
	}
	if (c->bev == NULL)
		conn_out_dirty(c);	/* half-closes once written */
	else if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		conn_write_cb(c->bev, c);
}

/* The server's metrics, for the metrics app. */
void
conn_metrics(struct conn *c, struct evbuffer *out)
{
	c->srv->ops->metrics(c->srv, out);
}

/* Whether the server is draining, for the health app. */
int
conn_draining(const struct conn *c)
{
	return c->srv->draining;
}

/*
 * The peer for log lines, formatted on demand (not stored: 56 bytes per
 * connection that only logs read) into one of a few static buffers in
 * turn, as a line may name it twice: the hop as ADDR:PORT or [ADDR]:PORT
 * (who spoke TCP, or what a PROXY header named), or the client a trusted
 * proxy's X-Forwarded-For or Forwarded named, as ADDR or [ADDR].
 */
const char *
conn_peer(const struct conn *c)
{
	/* Per thread: every worker logs its own connections. */
	static _Thread_local char	 ring[4][CIDR_ADDR_STRLEN + 8];
	static _Thread_local unsigned	 next;
	const struct cidr_addr	*a = c->forwarded ? &c->addr : &c->hop;
	char			 buf[CIDR_ADDR_STRLEN];
	char			*out = ring[next++ % 4];

	if (a->family != AF_INET && a->family != AF_INET6)
		return "unknown";
	cidr_addr_format(a, buf);
	if (c->forwarded)
		snprintf(out, sizeof(ring[0]), a->family == AF_INET6 ?
		    "[%s]" : "%s", buf);
	else
		snprintf(out, sizeof(ring[0]), a->family == AF_INET6 ?
		    "[%s]:%u" : "%s:%u", buf, c->port);
	return out;
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
	case CONN_WS_PENDING:
	case CONN_HTTP_PENDING:
		break;		/* not reading: the app answers first */
	case CONN_WS_OPEN:
	case CONN_WS_CLOSING:
		conn_ws_read(c);
		break;
	case CONN_SSE:		/* an SSE client has nothing to say */
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
		hub_member_drained(conn_member(c));
	}
	if (c->paused) {
		c->paused = 0;
		conn_app_drained(c);
		if (c->paused || c->app_paused)
			return;
		bufferevent_enable(bev, EV_READ);
		log_debug("%s: output drained, reading resumed", conn_peer(c));
		/* What was read before the pause is still waiting. */
		conn_read_cb(bev, c);
		return;
	}
	if (c->state == CONN_HTTP_IDLE &&
	    evbuffer_get_length(bufferevent_get_input(bev)) == 0)
		conn_timer_set(c, c->gen->conf->idle_timeout);
}

/*
 * Logs why a TLS handshake failed, from OpenSSL's error queue (which
 * libevent empties into the bufferevent), at most a few lines a minute.
 */
static void
conn_tls_failed(struct conn *c, struct bufferevent *bev, short what)
{
	unsigned long	 e, first = 0;
	const char	*why;

	while ((e = bufferevent_get_openssl_error(bev)) != 0)
		if (first == 0)
			first = e;
	if (first != 0)
		why = tls_reason(first, "?");
	else if (what & BEV_EVENT_EOF)
		why = "eof during the handshake";
	else
		why = evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR());
	log_limited(c->srv->ops->tls_log(c->srv), "tls handshake failed", LOG_LVL_INFO,
	    "%s: tls handshake failed: %s", conn_peer(c), why);
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
	    !SSL_is_init_finished(ssl)) {
		stats_hs_fail(&c->srv->stats, STATS_HS_TLS);
		conn_tls_failed(c, bev, what);
	}
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
conn_timer_cb(struct conn *c)
{
	if (c->end_pending) {
		c->end_pending = 0;
		conn_ws_end(c);
		conn_timer_set(c, c->gen->conf->close_timeout);
		return;
	}
	switch (c->state) {
	case CONN_PROXY:
		if (c->proxy != NULL && c->proxy->sniff) {
			stats_hs_fail(&c->srv->stats, STATS_HS_TIMEOUT);
			log_limited(c->srv->ops->tls_log(c->srv), "tls handshake failed",
			    LOG_LVL_INFO, "%s: tls handshake failed: nothing "
			    "sent in time", conn_peer(c));
		} else
			log_info("%s: PROXY header not complete in time",
			    conn_peer(c));
		conn_close(c, "handshake timeout");
		break;
	case CONN_HTTP_HEAD:
		log_info("%s: request head not complete in time", conn_peer(c));
		stats_hs_fail(&c->srv->stats, STATS_HS_TIMEOUT);
		if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0) {
			/* A publisher's body that did not come (channels). */
			if (c->route != NULL && c->route->app != NULL &&
			    c->route->app->publish)
				stats_pub_refused(app_route_stats(
				    generation_route(c->gen, c->route)), 408);
			conn_http_fail(c, NULL, 408, NULL, NULL);
			return;
		}
		conn_close(c, "handshake timeout");
		break;
	case CONN_HTTP_IDLE:
		conn_close(c, "idle timeout");
		break;
	case CONN_WS_PENDING:
	case CONN_HTTP_PENDING:
		break;		/* no timer: the app bounds its wait */
	case CONN_WS_OPEN:
		conn_ws_timer(c);
		break;
	case CONN_SSE:
		conn_sse_timer(c);
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
	case CONN_WS_PENDING:
		conn_ws_pending_close(c);
		break;
	case CONN_WS_OPEN:
		conn_ws_close(c, WS_CLOSE_GOING_AWAY, "server shutting down");
		break;
	case CONN_SSE:
		conn_flush_close(c);
		break;
	case CONN_WS_CLOSING:
	case CONN_FLUSH_CLOSE:
	case CONN_LINGER:
	case CONN_HTTP_PENDING:	/* answered soon, then closed */
		break;
	}
}

/* Frees the loop's own: the pool, timer lists, poller and flush event. */
void
conn_loop_free(void)
{
	struct conn_block	*b;
	size_t			 i;

	while ((b = conn_blocks) != NULL) {
		conn_blocks = b->next;
		free(b);
	}
	conn_free_list = NULL;
	for (i = 0; i < conn_ntlists; i++) {
		event_free(conn_tlists[i]->ev);
		free(conn_tlists[i]);
	}
	free(conn_tlists);
	conn_tlists = NULL;
	conn_ntlists = 0;
	if (conn_ep_ev != NULL)
		event_free(conn_ep_ev);
	conn_ep_ev = NULL;
	if (conn_epfd != -1)
		close(conn_epfd);
	conn_epfd = -1;
	if (conn_flush_ev != NULL)
		event_free(conn_flush_ev);
	conn_flush_ev = NULL;
	conn_ndirty = 0;
}
