/* server.c -- listeners, signals, connection accounting, graceful stop. */
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "app.h"
#include "cluster.h"
#include "config.h"
#include "conn.h"
#include "generation.h"
#include "http.h"
#include "hub.h"
#include "iplimit.h"
#include "log.h"
#include "logfile.h"
#include "sd.h"
#include "server.h"
#include "stats.h"
#include "tls.h"
#include "worker.h"

/* How long a listener rests after accept() ran out of descriptors. */
#define SERVER_ACCEPT_PAUSE_MS	500

/* How often systemd hears the connection count (STATUS=), at most. */
#define SERVER_SD_STATUS_USEC	5000000ULL

struct listener {
	struct server		*srv;
	struct evconnlistener	*lev;
	struct event		*ev_resume;
	struct sockaddr_storage	 bound;		/* as bound (port 0: the
						 * kernel's); other workers
						 * listen here too */
	struct sockaddr_storage	 addr;		/* as configured: a reload */
	socklen_t		 addrlen;	/* keeps an equal one */
	char			 name[INET6_ADDRSTRLEN + 8];
	int			 paused;
	int			 tls;
	int			 proxy;		/* PROXY protocol header first */
	int			 passed;	/* systemd's, no listen line */
	int			 inherited;	/* a socket systemd passed */
	int			 keep;		/* reload: still configured */
};

static void	server_stop_remote_cb(void *);
static void	server_conn_added(struct server *);
static void	server_conn_gone(struct server *);
static int	server_refused(struct server *, enum server_refusal, int);
static struct log_limit *server_tls_log(struct server *);
static void	server_metrics(struct server *, struct evbuffer *);

/* How the connections of a loop reach its server. */
static const struct server_ops server_ops = {
	.conn_added = server_conn_added,
	.conn_gone = server_conn_gone,
	.refused = server_refused,
	.tls_log = server_tls_log,
	.metrics = server_metrics,
};

/* Every worker's server (server_workers()); one without workers. */
static struct server	**server_all;
static unsigned		  server_nall;
static struct server	 *server_one;	/* server_all without workers */
static struct iplimit	 *server_ipl;	/* worker 0's, shared */
/*
 * Refusals not logged yet, for every worker: ev is the timer of the
 * worker that logged the first (its own loop's), NULL after a quiet
 * second.
 */
static struct server_refusals server_refusals[SERVER_REFUSED_MAX];
static pthread_mutex_t	 server_refusals_mu = PTHREAD_MUTEX_INITIALIZER;
static _Atomic unsigned	  server_nconns_all;

/* Links the workers' servers. */
void
server_workers(struct server **all, unsigned n)
{
	server_all = all;
	server_nall = n;
}

/* Once every worker's server is freed: what they shared. */
void
server_workers_end(void)
{
	if (server_nall > 1)
		iplimit_free(server_ipl);
	server_ipl = NULL;
}

/* TLS failures are rate-limited for the whole daemon: worker 0's. */
static struct log_limit *
server_tls_log(struct server *srv)
{
	(void)srv;
	return &server_all[0]->tls_log;
}

/* Connections on every worker. */
unsigned
server_conns_total(void)
{
	return server_nconns_all;
}

/* Runs fn(server) on every other worker, in its loop. */
static void
server_tell_others(struct server *srv, void (*fn)(void *))
{
	unsigned	i;

	for (i = 0; i < server_nall; i++)
		if (server_all[i] != srv &&
		    worker_post(i, fn, NULL, server_all[i]) == -1)
			log_warnx("worker %u: out of memory: not told", i);
}

/* Raises the open-files soft limit to the hard limit. */
long
server_raise_nofile(void)
{
	struct rlimit	rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1) {
		log_warn("getrlimit");
		return -1;
	}
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			log_warn("setrlimit");
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	return rl.rlim_cur == RLIM_INFINITY ? -1 : (long)rl.rlim_cur;
}

/*
 * Reads a listener's bound address (the port the kernel chose) into
 * l->bound and formats it into l->name.
 */
static void
server_sockname(struct listener *l)
{
	struct sockaddr_storage	*ss = &l->bound;
	socklen_t		 len = sizeof(*ss);
	char			*out = l->name, addr[INET6_ADDRSTRLEN];
	size_t			 outlen = sizeof(l->name);

	if (getsockname(evconnlistener_get_fd(l->lev),
	    (struct sockaddr *)ss, &len) == -1) {
		/* Never seen on a bound socket; the configured one then. */
		memcpy(ss, &l->addr, sizeof(*ss));
		snprintf(out, outlen, "?");
		return;
	}
	if (ss->ss_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, addr, sizeof(addr));
		snprintf(out, outlen, "[%s]:%u", addr, ntohs(s6->sin6_port));
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &s4->sin_addr, addr, sizeof(addr));
		snprintf(out, outlen, "%s:%u", addr, ntohs(s4->sin_port));
	}
}

/* What server_refused() logs of each reason. */
static const char *const server_refusal_names[SERVER_REFUSED_MAX] = {
	"max_connections", "max_connections_per_ip",
	"max_connection_rate_per_ip",
};

/* Counts a refusal; 1 when it is the first of a second: log it. */
static int
server_refused(struct server *srv, enum server_refusal why, int tls)
{
	struct server_refusals	*r = &server_refusals[why];
	struct timeval		 tv = { 1, 0 };
	int			 first = 0;

	stats_hs_fail(&srv->stats, why == SERVER_REFUSED_RATE ?
	    STATS_HS_RATE_LIMITED : STATS_HS_TOO_MANY);
	if (tls)
		srv->stats.tls_refused++;
	/* One count for every worker; the worker that logs keeps time. */
	pthread_mutex_lock(&server_refusals_mu);
	if (r->ev != NULL) {
		r->n++;
		r->ntls += tls != 0;
	} else {
		r->ev = srv->refused[why].ev;
		evtimer_add(r->ev, &tv);
		first = 1;
	}
	pthread_mutex_unlock(&server_refusals_mu);
	return first;
}

/*
 * A second after a logged refusal: the ones since then in one line, and
 * another second of quiet; after a quiet second the next is logged again.
 */
static void
server_refused_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server_refusals	*r = arg;
	struct timeval		 tv = { 1, 0 };

	(void)fd;
	(void)what;
	pthread_mutex_lock(&server_refusals_mu);
	if (r->n == 0) {
		/* A quiet second: the next refusal is logged again. */
		r->ev = NULL;
		pthread_mutex_unlock(&server_refusals_mu);
		return;
	}
	log_info("%u more connection%s refused in the last second: %s "
	    "(%u on TLS listeners, closed without an answer)", r->n,
	    r->n == 1 ? "" : "s", r->what, r->ntls);
	r->n = r->ntls = 0;
	evtimer_add(r->ev, &tv);
	pthread_mutex_unlock(&server_refusals_mu);
}

/* The plaintext 503 of a full server; best effort: the socket is fresh. */
static void
server_busy(const struct listener *l, evutil_socket_t fd)
{
	char	busy[512], date[30];
	int	n;

	http_date_format(time(NULL), date);
	n = snprintf(busy, sizeof(busy), "HTTP/1.1 503 %s\r\n"
	    "Server: wsd/%s\r\nDate: %s\r\nConnection: close\r\n"
	    "X-Content-Type-Options: nosniff\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Length: %zu\r\n\r\n503 %s\n",
	    http_status_text(503), PACKAGE_VERSION, date,
	    strlen(http_status_text(503)) + 5, http_status_text(503));
	if (write(fd, busy, (size_t)n) < 0)
		log_debug("%s: 503 not written", l->name);
	stats_http(&l->srv->stats, 503);
}

/*
 * A new connection: refuse it when full (a plain listener answers 503, a
 * TLS one closes it without a byte: plaintext is no answer to a
 * ClientHello), else hand it to conn.c.
 */
static void
server_accept_cb(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct listener	*l = arg;
	struct server	*srv = l->srv;
	unsigned	 max = srv->gen->conf->max_connections;
	int		 first;

	(void)lev;
	if (l->paused) {
		l->paused = 0;
		log_info("%s: accepting again", l->name);
	}
	if (server_nconns_all >= max) {
		/* Counted before the client can see it (a scrape next). */
		first = server_refused(srv, SERVER_REFUSED_FULL, l->tls);
		if (!l->tls)
			server_busy(l, fd);
		evutil_closesocket(fd);
		if (first)
			log_warnx("%s: max_connections (%u) reached, "
			    "connection refused%s", l->name, max, l->tls ?
			    " (tls: closed without an answer)" : "");
		return;
	}
	conn_new(srv, fd, sa, (socklen_t)salen, l->tls, l->proxy);
}

/* Re-enables a listener after an accept pause. */
static void
server_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct listener	*l = arg;

	(void)fd;
	(void)what;
	if (!l->srv->stopping)
		evconnlistener_enable(l->lev);
}

/*
 * accept() failed. Out of descriptors, the pending connection would make
 * the listener fire again at once: rest it for a moment instead of
 * spinning, and keep serving the connections we have.
 */
static void
server_accept_error_cb(struct evconnlistener *lev, void *arg)
{
	struct listener	*l = arg;
	int		 err = EVUTIL_SOCKET_ERROR();
	struct timeval	 tv = { 0, SERVER_ACCEPT_PAUSE_MS * 1000 };

	if (err == EMFILE || err == ENFILE || err == ENOBUFS ||
	    err == ENOMEM) {
		evconnlistener_disable(lev);
		evtimer_add(l->ev_resume, &tv);
		if (!l->paused)
			log_warnx("%s: accept: %s: pausing this listener "
			    "(%u connections open)", l->name, strerror(err),
			    l->srv->nconns);
		l->paused = 1;
		return;
	}
	log_warnx("%s: accept: %s", l->name, strerror(err));
}

/* Worker 0 ends its loop once every worker is done. */
static void
server_all_done(struct server *srv)
{
	if (srv->done && srv->ndone + 1 >= server_nall)
		event_base_loopexit(srv->base, NULL);
}

/* A worker finished its stop (on worker 0). */
static void
server_worker_done_cb(void *arg)
{
	struct server	*srv = arg;

	srv->ndone++;
	server_all_done(srv);
}

/*
 * Ends the loop once every connection is gone after a stop; worker 0's
 * (the signals') once every worker's are gone.
 */
static void
server_check_done(struct server *srv)
{
	if (!srv->stopping || srv->nconns != 0 || srv->done)
		return;
	srv->done = 1;
	if (srv->worker == 0 || server_nall < 2) {
		server_all_done(srv);
		return;
	}
	if (worker_post(0, server_worker_done_cb, NULL, server_all[0]) == -1)
		log_warnx("worker %u: out of memory", srv->worker);
	event_base_loopexit(srv->base, NULL);
}

/* Counts a new connection (conn_new()). */
static void
server_conn_added(struct server *srv)
{
	srv->nconns++;
	server_nconns_all++;
}

/* Called by conn_close(). */
static void
server_conn_gone(struct server *srv)
{
	srv->nconns--;
	server_nconns_all--;
	server_check_done(srv);
}

/* close_timeout after a stop began: drop whoever is left. */
static void
server_stop_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server	*srv = arg;
	struct conn	*c;

	(void)fd;
	(void)what;
	log_info("stop: %u connections did not close in time", srv->nconns);
	while ((c = TAILQ_FIRST(&srv->conns)) != NULL)
		conn_close(c, "stop timeout");
	server_check_done(srv);
}

/* Name of a stop signal, for the log. */
static const char *
server_signame(int sig)
{
	return sig == SIGINT ? "SIGINT" : "SIGTERM";
}

/* Stops accepting and closes every session gracefully (1001). */
static void
server_stop(struct server *srv, const char *why)
{
	struct conn	*c, *next;
	struct timeval	 tv = config_timeval(srv->gen->conf->close_timeout);
	size_t		 i;

	if (srv->stopping)
		return;
	if (srv->worker == 0) {
		log_info("%s: stopping (%u connections)", why,
		    server_conns_total());
		server_tell_others(srv, server_stop_remote_cb);
	} else
		log_debug("worker %u: stopping (%u connections)", srv->worker,
		    srv->nconns);
	srv->stopping = 1;
	evtimer_del(srv->ev_drain);
	for (i = 0; i < srv->nlisteners; i++) {
		evconnlistener_disable(srv->listeners[i]->lev);
		evtimer_del(srv->listeners[i]->ev_resume);
	}
	for (c = TAILQ_FIRST(&srv->conns); c != NULL; c = next) {
		next = conn_next(c);
		conn_shutdown(c);
	}
	evtimer_add(srv->ev_stop, &tv);
	server_check_done(srv);
}

/* Worker 0 stops: so does this one. */
static void
server_stop_remote_cb(void *arg)
{
	server_stop(arg, "stop");
}

/* Worker 0 began draining: health checks fail here too. */
static void
server_drain_remote_cb(void *arg)
{
	struct server	*srv = arg;

	srv->draining = 1;
}

/* A third stop signal: every worker leaves its loop at once. */
static void
server_exit_remote_cb(void *arg)
{
	struct server	*srv = arg;

	event_base_loopexit(srv->base, NULL);
}

/* shutdown_delay is over: the stop proper. */
static void
server_drain_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	server_stop(arg, "shutdown delay over");
}

/*
 * SIGTERM/SIGINT: draining at once (health checks fail, so a load
 * balancer moves traffic away), still serving for shutdown_delay, then
 * the stop. A second signal skips the delay; a third exits at once.
 */
static void
server_stop_cb(evutil_socket_t sig, short what, void *arg)
{
	struct server	*srv = arg;
	struct timeval	 tv;
	const char	*name = server_signame((int)sig);
	double		 delay = srv->gen->conf->shutdown_delay;

	(void)what;
	if (srv->stopping) {
		log_info("%s again: stopping now", name);
		server_tell_others(srv, server_exit_remote_cb);
		event_base_loopexit(srv->base, NULL);
		return;
	}
	if (srv->draining) {
		log_info("%s again: skipping the rest of the shutdown delay",
		    name);
		server_stop(srv, name);
		return;
	}
	/* The stop begins now, shutdown_delay included (sd_notify(3)). */
	srv->draining = 1;
	server_tell_others(srv, server_drain_remote_cb);
	sd_notify_stopping(server_conns_total());
	if (delay <= 0) {
		server_stop(srv, name);
		return;
	}
	log_info("%s: draining, stopping in %.3gs (%u connections)", name,
	    delay, server_conns_total());
	tv = config_timeval(delay);
	evtimer_add(srv->ev_drain, &tv);
}

/* Microseconds as a timeval. */
static struct timeval
server_usec_tv(uint64_t usec)
{
	struct timeval	tv;

	tv.tv_sec = (time_t)(usec / 1000000);
	tv.tv_usec = (suseconds_t)(usec % 1000000);
	return tv;
}

/*
 * The systemd tick: WATCHDOG=1 every half watchdog period, STATUS= with
 * the connection count when it changed.
 */
static void
server_sd_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server	*srv = arg;

	(void)fd;
	(void)what;
	if (srv->sd_watchdog != 0)
		sd_notify_watchdog();
	if (server_conns_total() != srv->sd_nconns) {
		srv->sd_nconns = server_conns_total();
		sd_notify_status(srv->sd_nconns);
	}
}

/* Frees one listener: closes its socket. */
static void
server_listener_free(struct listener *l)
{
	if (l == NULL)
		return;
	if (l->lev != NULL)
		evconnlistener_free(l->lev);
	if (l->ev_resume != NULL)
		event_free(l->ev_resume);
	free(l);
}

/*
 * With SO_REUSEPORT another process of ours could bind the port we want
 * and share it silently (a second wsd): first see whether the address is
 * free to a socket without it. 0: free (or port 0); -1 with errno.
 */
static int
server_port_free(const struct wsd_listen *cl)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)&cl->addr;
	int	fd, one = 1, rc, err;

	/* sin_port and sin6_port sit at the same offset. */
	if (sin->sin_port == 0)
		return 0;
	if ((fd = socket(cl->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC,
	    0)) == -1)
		return -1;
	/* As the listener: a port in TIME_WAIT is free. */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	rc = bind(fd, (const struct sockaddr *)&cl->addr, cl->addrlen);
	err = errno;
	close(fd);
	errno = err;
	return rc;
}

/*
 * A listener for listen line cl (NULL: a passed socket no line matches),
 * bound here or on the socket systemd passed (fd != -1). NULL (logged
 * with FILE:LINE) when it cannot be set up.
 */
static struct listener *
server_listener_new(struct server *srv, const struct wsd_listen *cl,
    evutil_socket_t fd, const struct sockaddr_storage *at)
{
	struct listener	*l;
	/* Workers listen side by side: the kernel spreads connections. */
	unsigned	 reuse = worker_count() > 1 ? LEV_OPT_REUSEABLE_PORT : 0;

	if ((l = calloc(1, sizeof(*l))) == NULL) {
		log_warn("listener");
		if (fd != -1)
			close(fd);
		return NULL;
	}
	l->srv = srv;
	if (fd != -1) {
		/* libevent accepts until EAGAIN: a blocking socket would hang. */
		if (evutil_make_socket_nonblocking(fd) == -1) {
			log_warn("passed socket %d", (int)fd);
			close(fd);
			free(l);
			return NULL;
		}
		/* Backlog 0: systemd has already called listen(). */
		l->lev = evconnlistener_new(srv->base, server_accept_cb, l,
		    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd);
		l->inherited = 1;
	} else if (reuse && at == NULL && server_port_free(cl) == -1)
		l->lev = NULL;
	else
		l->lev = evconnlistener_new_bind(srv->base, server_accept_cb,
		    l, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
		    LEV_OPT_CLOSE_ON_EXEC | reuse, 511,
		    (const struct sockaddr *)(at != NULL ? at : &cl->addr),
		    (int)cl->addrlen);
	if (l->lev == NULL) {
		if (cl != NULL && cl->line == 0)
			log_err("%s: listen %s", cl->file, cl->text);
		else if (cl != NULL)
			log_err("%s:%d: listen %s", cl->file, cl->line,
			    cl->text);
		else
			log_err("passed socket %d", (int)fd);
		free(l);
		return NULL;
	}
	if (cl != NULL) {
		memcpy(&l->addr, &cl->addr, sizeof(l->addr));
		l->addrlen = cl->addrlen;
		l->tls = cl->tls;
		l->proxy = cl->proxy_protocol;
	} else
		l->passed = 1;
	evconnlistener_set_error_cb(l->lev, server_accept_error_cb);
	if ((l->ev_resume = evtimer_new(srv->base, server_resume_cb, l)) ==
	    NULL) {
		log_warnx("listener: cannot create timer");
		server_listener_free(l);
		return NULL;
	}
	server_sockname(l);
	return l;
}

/*
 * Worker i > 0: a listener like worker 0's l0, on the address it got
 * (port 0 bound a port: the same one), or on the socket systemd passed.
 */
static struct listener *
server_listener_mirror(struct server *srv, const struct listener *l0)
{
	struct listener		*l;
	struct wsd_listen	 cl;
	char			 text[sizeof(l0->name)];
	evutil_socket_t		 fd = evconnlistener_get_fd(l0->lev);

	memset(&cl, 0, sizeof(cl));
	memcpy(&cl.addr, &l0->addr, sizeof(cl.addr));
	cl.addrlen = l0->addrlen;
	cl.file = "worker";
	memcpy(text, l0->name, sizeof(text));
	cl.text = text;
	if (l0->inherited) {
		if ((fd = dup(fd)) == -1) {
			log_warn("worker %u: passed socket", srv->worker);
			return NULL;
		}
		l = server_listener_new(srv, l0->passed ? NULL : &cl, fd,
		    NULL);
	} else
		l = server_listener_new(srv, &cl, -1, &l0->bound);
	if (l == NULL)
		return NULL;
	l->tls = l0->tls;
	l->proxy = l0->proxy;
	l->passed = l0->passed;
	return l;
}

/* Worker i > 0 listens where worker 0 does. */
static int
server_listeners_mirror(struct server *srv)
{
	const struct server	*s0 = server_all[0];
	size_t			 i;

	if ((srv->listeners = calloc(s0->nlisteners + 1,
	    sizeof(*srv->listeners))) == NULL) {
		log_warn("listeners");
		return -1;
	}
	for (i = 0; i < s0->nlisteners; i++) {
		if ((srv->listeners[i] = server_listener_mirror(srv,
		    s0->listeners[i])) == NULL)
			return -1;
		srv->nlisteners++;
	}
	return 0;
}

/* Logs a listener that starts serving. */
static void
server_listener_log(const struct listener *l, int activated)
{
	if (l->srv->worker != 0)
		return;
	log_info("listening on %s%s%s", l->name, l->tls ? " (tls)" : "",
	    activated ? " (socket activation)" : "");
	if (l->proxy)
		log_info("%s: a PROXY protocol header from trusted_proxies is "
		    "required", l->name);
}

/*
 * Start-up with socket activation: listen lines whose address matches a
 * passed socket use it instead of binding (a port of 0 matches any port).
 * A passed socket no line matches is served as a plain listener, with a
 * warning: refusing it would leave its clients hanging in the backlog.
 * A reload keeps all of them like bound ones.
 */
static int
server_listeners(struct server *srv, const struct wsd_config *conf)
{
	struct listener	*l;
	char		*names = NULL;
	int		*used = NULL, nfds, j, fd;
	size_t		 i;

	if ((nfds = sd_listen_fds(&names)) == -1)
		return -1;
	if (nfds > 0) {
		log_info("socket activation: %d socket%s passed%s%s", nfds,
		    nfds == 1 ? "" : "s", names ? ", names " : "",
		    names ? names : "");
		free(names);
	}
	if ((srv->listeners = calloc(conf->nlistens + (size_t)nfds,
	    sizeof(*srv->listeners))) == NULL ||
	    (used = calloc((size_t)nfds + 1, sizeof(*used))) == NULL) {
		log_warn("listeners");
		free(used);
		return -1;
	}
	for (i = 0; i < conf->nlistens; i++) {
		const struct wsd_listen *cl = &conf->listens[i];

		fd = -1;
		for (j = 0; j < nfds && fd == -1; j++) {
			if (!used[j] && sd_socket_matches(SD_LISTEN_FDS_START +
			    j, &cl->addr, cl->addrlen)) {
				used[j] = 1;
				fd = SD_LISTEN_FDS_START + j;
			}
		}
		if ((l = server_listener_new(srv, cl, fd, NULL)) == NULL)
			goto fail;
		srv->listeners[srv->nlisteners++] = l;
		server_listener_log(l, fd != -1);
	}
	for (j = 0; j < nfds; j++) {
		if (used[j])
			continue;
		used[j] = 1;
		fd = SD_LISTEN_FDS_START + j;
		log_warnx("passed socket %d matches no listen line: serving "
		    "it as a plain (not tls) listener", fd);
		if ((l = server_listener_new(srv, NULL, fd, NULL)) == NULL)
			goto fail;
		srv->listeners[srv->nlisteners++] = l;
		server_listener_log(l, 1);
	}
	free(used);
	return 0;
fail:
	/* Passed sockets not handed to a listener yet are closed too. */
	for (j = 0; j < nfds; j++)
		if (!used[j])
			close(SD_LISTEN_FDS_START + j);
	free(used);
	return -1;
}

/* Once a second: forget addresses whose rate bucket has refilled. */
static void
server_iplimit_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server	*srv = arg;
	struct timespec	 ts;

	(void)fd;
	(void)what;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	iplimit_expire(srv->iplimit, (double)ts.tv_sec +
	    (double)ts.tv_nsec / 1e9);
}

/* Whether two configured listen addresses are the same. */
static int
server_addr_equal(const struct sockaddr_storage *a, socklen_t alen,
    const struct sockaddr_storage *b, socklen_t blen)
{
	const struct sockaddr_in	*a4, *b4;
	const struct sockaddr_in6	*a6, *b6;

	if (alen != blen || a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET) {
		a4 = (const struct sockaddr_in *)a;
		b4 = (const struct sockaddr_in *)b;
		return a4->sin_port == b4->sin_port &&
		    a4->sin_addr.s_addr == b4->sin_addr.s_addr;
	}
	if (a->ss_family == AF_INET6) {
		a6 = (const struct sockaddr_in6 *)a;
		b6 = (const struct sockaddr_in6 *)b;
		return a6->sin6_port == b6->sin6_port &&
		    a6->sin6_scope_id == b6->sin6_scope_id &&
		    memcmp(&a6->sin6_addr, &b6->sin6_addr,
		    sizeof(a6->sin6_addr)) == 0;
	}
	return memcmp(a, b, alen) == 0;
}

/*
 * The listeners of conf: an unclaimed current listener with the same
 * address is reused (its socket never closes, so no connection is refused
 * during a reload), the others are bound. Returns an array that starts
 * parallel to conf->listens, *np long, or NULL (logged; the ones bound
 * here closed again).
 */
static struct listener **
server_listeners_prepare(struct server *srv, const struct wsd_config *conf,
    const struct sockaddr_storage *at, size_t *np)
{
	struct listener	**ls, *l;
	size_t		  i, j, n;

	if ((ls = calloc(conf->nlistens + srv->nlisteners,
	    sizeof(*ls))) == NULL) {
		log_warn("listeners");
		return NULL;
	}
	for (i = 0; i < srv->nlisteners; i++)
		srv->listeners[i]->keep = 0;
	for (i = 0; i < conf->nlistens; i++) {
		const struct wsd_listen *cl = &conf->listens[i];

		for (j = 0; j < srv->nlisteners; j++) {
			l = srv->listeners[j];
			if (!l->keep && server_addr_equal(&l->addr, l->addrlen,
			    &cl->addr, cl->addrlen)) {
				l->keep = 1;
				ls[i] = l;
				break;
			}
		}
		if (ls[i] == NULL && (ls[i] = server_listener_new(srv, cl, -1,
		    at != NULL ? &at[i] : NULL)) == NULL)
			goto fail;
	}
	/* Sockets systemd passed that no line matched stay as they are. */
	for (n = conf->nlistens, j = 0; j < srv->nlisteners; j++) {
		if (srv->listeners[j]->passed) {
			srv->listeners[j]->keep = 1;
			ls[n++] = srv->listeners[j];
		}
	}
	*np = n;
	return ls;
fail:
	for (i = 0; i < conf->nlistens; i++)
		if (ls[i] != NULL && !ls[i]->keep)
			server_listener_free(ls[i]);
	free(ls);
	return NULL;
}

/*
 * Switches to the listeners from server_listeners_prepare(): the kept ones
 * take their new flags, the new ones are announced, the rest are closed.
 */
static void
server_listeners_commit(struct server *srv, const struct wsd_config *conf,
    struct listener **ls, size_t n)
{
	size_t	i;

	for (i = 0; i < srv->nlisteners; i++) {
		if (srv->listeners[i]->keep)
			continue;
		log_info("no longer listening on %s", srv->listeners[i]->name);
		server_listener_free(srv->listeners[i]);
	}
	for (i = 0; i < conf->nlistens; i++) {
		if (ls[i]->keep && ls[i]->tls != conf->listens[i].tls)
			log_info("%s: tls now %s", ls[i]->name,
			    conf->listens[i].tls ? "on" : "off");
		ls[i]->tls = conf->listens[i].tls;
		ls[i]->proxy = conf->listens[i].proxy_protocol;
		if (!ls[i]->keep)
			server_listener_log(ls[i], 0);
	}
	for (i = 0; i < n; i++)
		ls[i]->keep = 0;
	free(srv->listeners);
	srv->listeners = ls;
	srv->nlisteners = n;
}

/* Strings that may be NULL: equal? */
static int
server_str_equal(const char *a, const char *b)
{
	return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/*
 * The per-address table, made when a per-address limit is first set (at
 * start-up or by a reload) and kept from then on: connections point into
 * it. A reload changes its limits; counts and buckets carry over.
 */
static int
server_iplimit_apply(struct server *srv, const struct wsd_config *conf)
{
	struct timeval	 tv = { 1, 0 };
	uint64_t	 seed;

	if (srv->iplimit != NULL)
		iplimit_set_limits(srv->iplimit, conf->max_connections_per_ip,
		    conf->max_connection_rate_per_ip);
	else if (conf->max_connections_per_ip == 0 &&
	    conf->max_connection_rate_per_ip == 0)
		return 0;
	else {
		/* A secret seed, so that nobody picks addresses that collide. */
		arc4random_buf(&seed, sizeof(seed));
		srv->iplimit = iplimit_new(conf->max_connections_per_ip,
		    conf->max_connection_rate_per_ip, seed);
		server_ipl = srv->iplimit;
		if (srv->iplimit == NULL) {
			log_warnx("per-address limits: out of memory");
			return -1;
		}
	}
	/* The rate buckets refill; the timer frees the full ones. */
	if (conf->max_connection_rate_per_ip == 0 || srv->ev_iplimit != NULL)
		return 0;
	srv->ev_iplimit = event_new(srv->base, -1, EV_PERSIST,
	    server_iplimit_cb, srv);
	if (srv->ev_iplimit == NULL || event_add(srv->ev_iplimit, &tv) == -1) {
		log_warnx("per-address limits: cannot set up the timer");
		return -1;
	}
	return 0;
}

/* Whether a reload changed the [cluster] section, read at start-up only. */
static int
server_cluster_changed(const struct wsd_cluster *a, const struct wsd_cluster *b)
{
	return (a->line == 0) != (b->line == 0) ||
	    !server_str_equal(a->redis, b->redis) ||
	    !server_str_equal(a->password_file, b->password_file) ||
	    !server_str_equal(a->user, b->user) ||
	    !server_str_equal(a->prefix, b->prefix) ||
	    !server_str_equal(a->node_name, b->node_name) ||
	    !server_str_equal(a->ca_file, b->ca_file) || a->tls != b->tls ||
	    a->db != b->db || a->timeout != b->timeout ||
	    a->users_ttl != b->users_ttl || a->lease != b->lease;
}

/*
 * Keys read once at start-up: a reload logs their change as needing a
 * restart and the running values stay in force.
 */
static void
server_reload_restart_keys(const struct wsd_config *old,
    const struct wsd_config *conf)
{
	if (!server_str_equal(old->user, conf->user) ||
	    !server_str_equal(old->group, conf->group))
		log_warnx("SIGHUP: user and group: a change needs a restart");
	if (!server_str_equal(old->pid_file, conf->pid_file))
		log_warnx("SIGHUP: pid_file: a change needs a restart");
	if (old->log_target != conf->log_target)
		log_warnx("SIGHUP: log: a change needs a restart");
	if (server_cluster_changed(&old->cluster, &conf->cluster))
		log_warnx("SIGHUP: [cluster]: a change needs a restart");
}

/*
 * What a reload changed, one info line each: routes and keys (the
 * listeners log their own lines), and whether the certificate was
 * replaced.
 */
static void
server_reload_log(const struct generation *old, const struct generation *gen)
{
	char	*changes, *line, *next, was[128], now[128];

	changes = config_changes(old->conf, gen->conf);
	for (line = changes; line != NULL; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		log_info("SIGHUP: %s", line);
	}
	free(changes);
	if (gen->tls == NULL)
		return;
	tls_fingerprint(old->tls, was, sizeof(was));
	tls_fingerprint(gen->tls, now, sizeof(now));
	if (strcmp(was, now) == 0)
		log_info("SIGHUP: tls: certificate reloaded: %s unchanged "
		    "(sha256 %s)", gen->conf->tls.certificate, now);
	else
		log_info("SIGHUP: tls: certificate reloaded: %s replaced "
		    "(sha256 %s, was %s)", gen->conf->tls.certificate, now,
		    was[0] != '\0' ? was : "none");
}

/* Logs every line of a config error list as an error. */
static void
server_log_errors(char *errors)
{
	char	*line, *next;

	for (line = errors; line != NULL && *line != '\0'; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		log_errx("%s", line);
	}
}

/* A reload on its way to worker i > 0: the config worker 0 switched to. */
struct server_reload_msg {
	struct server		*srv;
	struct wsd_config	*conf;
	/* Where worker 0 listens for each listen line (port 0: its port). */
	struct sockaddr_storage	 at[];
};

static int	server_reload_apply(struct server *, struct wsd_config *,
		    const struct sockaddr_storage *);

/*
 * Every worker runs the new generation (worker 0): the reload is done,
 * and systemd hears so.
 */
static void
server_reload_done(struct server *srv)
{
	const struct generation	*gen = srv->gen;

	log_info("SIGHUP: configuration reloaded (generation %u: %zu "
	    "listeners, %zu routes, %u connections)", gen->id,
	    srv->nlisteners, gen->conf->nroutes, server_conns_total());
	sd_notify_ready(server_conns_total());
}

/* A worker switched (or failed to): worker 0 counts it. */
static void
server_reload_ack_cb(void *arg)
{
	struct server	*srv = arg;

	if (srv->reloading > 0 && --srv->reloading == 0)
		server_reload_done(srv);
}

/* Worker i > 0 switches to the config worker 0 switched to. */
static void
server_reload_remote_cb(void *arg)
{
	struct server_reload_msg *m = arg;

	if (!m->srv->stopping && server_reload_apply(m->srv, m->conf,
	    m->at) == -1)
		log_errx("SIGHUP: worker %u: reload failed, it keeps the "
		    "previous configuration", m->srv->worker);
	if (worker_post(0, server_reload_ack_cb, NULL, server_all[0]) == -1)
		log_warnx("worker %u: out of memory", m->srv->worker);
	free(m);
}

/* A reload that came after its worker stopped. */
static void
server_reload_drop(void *arg)
{
	struct server_reload_msg *m = arg;

	config_free(m->conf);
	free(m);
}

/* Tells every other worker to switch to conf as worker 0 did. */
static void
server_reload_others(struct server *srv, struct wsd_config *conf)
{
	struct server_reload_msg *m;
	size_t			 i, j;

	for (i = 1; i < server_nall; i++) {
		if ((m = calloc(1, sizeof(*m) + (conf->nlistens + 1) *
		    sizeof(m->at[0]))) == NULL) {
			log_warnx("SIGHUP: worker %zu: out of memory", i);
			continue;
		}
		m->srv = server_all[i];
		for (j = 0; j < conf->nlistens; j++)
			m->at[j] = srv->listeners[j]->bound;
		m->conf = config_ref(conf);
		if (worker_post((unsigned)i, server_reload_remote_cb,
		    server_reload_drop, m) == -1)
			server_reload_drop(m);
		else
			srv->reloading++;
	}
}

/*
 * Switches srv to conf (a reference it takes over): certificates, a new
 * generation, listeners (at: where worker 0 listens; NULL on worker 0).
 * Everything that can fail (certificates, binding new listeners,
 * starting new app routes) happens before the first change; then the
 * switch cannot fail. The old generation lives on while connections
 * accepted under it do.
 */
static int
server_reload_apply(struct server *srv, struct wsd_config *conf,
    const struct sockaddr_storage *at)
{
	struct generation	 *gen = NULL, *old = srv->gen;
	struct listener		**ls = NULL;
	size_t			  nls = 0;
	struct tls		 *tls = NULL;
	const char		 *name = old->conf->file ? old->conf->file :
				    "(embedded)";
	char			 *errors = NULL;
	size_t			  i;
	int			  tls_line;

	if (conf->tls.line != 0 && (tls = tls_new(conf, &errors,
	    &tls_line)) == NULL) {
		log_errx("%s:%d: tls: reload failed, keeping the old "
		    "certificate: %s", conf->tls.file != NULL ? conf->tls.file :
		    name, tls_line, errors ? errors : "?");
		free(errors);
		config_free(conf);
		goto fail;
	}
	/* The generation takes conf and tls over, whatever happens. */
	if ((gen = generation_new(srv->base, conf, tls, old)) == NULL)
		goto fail;
	/* New per-address limits; the fail path puts the old ones back. */
	if (srv->worker == 0 && server_iplimit_apply(srv, conf) == -1)
		goto fail;
	if ((ls = server_listeners_prepare(srv, conf, at, &nls)) == NULL)
		goto fail;
	if (srv->worker == 0)
		server_reload_restart_keys(old->conf, conf);

	/* From here on nothing fails. */
	if (srv->worker != 0)
		srv->iplimit = server_all[0]->iplimit;
	server_listeners_commit(srv, conf, ls, nls);
	generation_activate(gen);
	pthread_mutex_lock(&srv->mu);
	srv->gen = gen;
	pthread_mutex_unlock(&srv->mu);
	if (srv->worker == 0) {
		server_reload_log(old, gen);
		log_set_level(conf->log_level + srv->verbose);
		server_access_log(srv, conf, "SIGHUP: ");
		/* Reloads of other modules' files go here. */
	}
	/* Freed here unless connections accepted under it still hold it. */
	pthread_mutex_lock(&srv->mu);
	generation_unref(old);
	pthread_mutex_unlock(&srv->mu);
	return 0;
fail:
	if (ls != NULL) {
		for (i = 0; i < nls; i++)
			if (!ls[i]->keep)
				server_listener_free(ls[i]);
		free(ls);
	}
	if (srv->worker == 0 && srv->iplimit != NULL)
		iplimit_set_limits(srv->iplimit,
		    old->conf->max_connections_per_ip,
		    old->conf->max_connection_rate_per_ip);
	generation_unref(gen);
	return -1;
}

/*
 * SIGHUP (worker 0): the whole config again, as a new generation, here
 * first and then, once it took, on every other worker. On any error
 * nothing changes.
 */
int
server_reload(struct server *srv)
{
	struct wsd_config	*conf;
	const char		*name = srv->gen->conf->file ?
				    srv->gen->conf->file : "(embedded)";
	char			*errors = NULL;

	log_info("SIGHUP: reloading %s", name);
	if ((conf = config_open(srv->source, &errors)) == NULL) {
		server_log_errors(errors);
		free(errors);
		goto fail;
	}
	if (conf->workers != srv->gen->conf->workers)
		log_warnx("SIGHUP: workers: a change needs a restart");
	/* Kept for the others: apply hands its reference on. */
	config_ref(conf);
	if (server_reload_apply(srv, conf, NULL) == -1) {
		config_free(conf);
		goto fail;
	}
	server_reload_others(srv, conf);
	config_free(conf);
	srv->stats.reloads[0]++;
	/* Done once every other worker said so. */
	if (srv->reloading == 0)
		server_reload_done(srv);
	return 0;
fail:
	log_errx("SIGHUP: reload failed, still running the previous "
	    "configuration");
	srv->stats.reloads[1]++;
	return -1;
}

/*
 * Points access lines where conf says; a file that cannot be opened is
 * logged and the previous destination kept. -1 on failure.
 */
int
server_access_log(struct server *srv, const struct wsd_config *conf,
    const char *what)
{
	char	*cause;

	if (log_access_configure(conf->access_log, conf->access_log_file,
	    conf->log_format, srv->base, &cause) == 0)
		return 0;
	log_errx("%saccess_log %s: %s", what, conf->access_log_file,
	    cause != NULL ? cause : "?");
	free(cause);
	return -1;
}

/* SIGUSR1: log files opened again, after logrotate renamed them. */
static void
server_usr1_cb(evutil_socket_t sig, short what, void *arg)
{
	char	*cause;

	(void)sig;
	(void)what;
	(void)arg;
	if (log_access_reopen(&cause) == -1) {
		log_errx("SIGUSR1: access log: cannot reopen, still writing "
		    "the old file: %s", cause != NULL ? cause : "?");
		free(cause);
		return;
	}
	log_info("SIGUSR1: log files reopened");
}

/* SIGHUP: reload, with systemd told before and after. */
static void
server_hup_cb(evutil_socket_t sig, short what, void *arg)
{
	struct server	*srv = arg;

	(void)sig;
	(void)what;
	if (srv->draining) {
		log_info("SIGHUP: ignored, stopping");
		return;
	}
	sd_notify_reloading();
	/* Success tells systemd READY=1 once every worker switched. */
	if (server_reload(srv) == -1)
		sd_notify_ready(server_conns_total());
}

/* Binds every configured listener and installs the signal handlers. */
int
server_init(struct server *srv, struct event_base *base,
    struct wsd_config *conf, struct tls *tls)
{
	size_t	i;

	memset(srv, 0, sizeof(*srv));
	srv->ops = &server_ops;
	srv->base = base;
	srv->worker = worker_self();
	pthread_mutex_init(&srv->mu, NULL);
	/* Hubs reach their members through the connections' output. */
	hub_set_io(&conn_hub_io);
	stats_init(&srv->stats, time(NULL));
	log_limit_init(&srv->tls_log, "tls");
	TAILQ_INIT(&srv->conns);
	if (server_all == NULL) {
		server_all = &server_one;
		server_one = srv;
		server_nall = 1;
	}
	/*
	 * The cluster before the first generation: its hubs and apps find
	 * the bridge to the other nodes when they are created. One link, on
	 * worker 0: the other workers hand it their calls.
	 */
	if (srv->worker == 0 && cluster_start(base, &conf->cluster) == -1) {
		config_free(conf);
		tls_free(tls);
		return -1;
	}
	/* First: it takes conf and tls over whatever happens. */
	if ((srv->gen = generation_new(base, conf, tls, NULL)) == NULL)
		return -1;
	generation_activate(srv->gen);
	srv->ev_drain = evtimer_new(base, server_drain_cb, srv);
	srv->ev_stop = evtimer_new(base, server_stop_timeout_cb, srv);
	if (srv->ev_drain == NULL || srv->ev_stop == NULL) {
		log_warnx("cannot set up timers");
		return -1;
	}
	for (i = 0; i < SERVER_REFUSED_MAX; i++) {
		server_refusals[i].what = server_refusal_names[i];
		srv->refused[i].what = server_refusal_names[i];
		srv->refused[i].ev = evtimer_new(base, server_refused_cb,
		    &server_refusals[i]);
		if (srv->refused[i].ev == NULL) {
			log_warnx("cannot set up a timer");
			return -1;
		}
	}
	if (srv->worker != 0) {
		/* Worker 0 takes the signals and tells this one. */
		srv->iplimit = server_all[0]->iplimit;
		return server_listeners_mirror(srv);
	}
	/*
	 * Signals first: a SIGTERM that comes while the listeners are bound
	 * waits for the loop and stops it gracefully instead of killing us.
	 */
	srv->ev_sigterm = evsignal_new(base, SIGTERM, server_stop_cb, srv);
	srv->ev_sigint = evsignal_new(base, SIGINT, server_stop_cb, srv);
	srv->ev_sighup = evsignal_new(base, SIGHUP, server_hup_cb, srv);
	srv->ev_sigusr1 = evsignal_new(base, SIGUSR1, server_usr1_cb, srv);
	if (srv->ev_sigterm == NULL || srv->ev_sigint == NULL ||
	    srv->ev_sighup == NULL || srv->ev_sigusr1 == NULL) {
		log_warnx("cannot set up signal handling");
		return -1;
	}
	evsignal_add(srv->ev_sigterm, NULL);
	evsignal_add(srv->ev_sigint, NULL);
	evsignal_add(srv->ev_sighup, NULL);
	evsignal_add(srv->ev_sigusr1, NULL);
	if (server_listeners(srv, conf) == -1)
		return -1;
	if (server_iplimit_apply(srv, conf) == -1)
		return -1;
	if (sd_notify_enabled()) {
		srv->sd_watchdog = sd_watchdog_usec();
		srv->ev_sd = event_new(base, -1, EV_PERSIST, server_sd_cb, srv);
		if (srv->ev_sd == NULL) {
			log_warnx("cannot set up the systemd timer");
			return -1;
		}
	}
	return 0;
}

/* The metric families apps keep of their own (exec), app by app. */
static void
server_metrics_apps(struct server *srv, struct evbuffer *out)
{
	const struct wsd_config	*conf = srv->gen->conf;
	const struct app	*app;
	struct app_route	**rts;
	struct stats_route_view	 *v;
	size_t			  i, j, n;

	rts = calloc(conf->nroutes + 1, sizeof(*rts));
	v = calloc(conf->nroutes + 1, sizeof(*v));
	for (j = 0; rts != NULL && v != NULL && (app = app_at(j)) != NULL;
	    j++) {
		if (app->metrics_text == NULL)
			continue;
		memset(v, 0, (conf->nroutes + 1) * sizeof(*v));
		for (i = n = 0; i < conf->nroutes; i++)
			if (conf->routes[i].app == app &&
			    srv->gen->routes[i] != NULL) {
				rts[n] = srv->gen->routes[i];
				v[n].path = conf->routes[i].path;
				if (conf->routes[i].hosts.n > 0)
					v[n].host = conf->routes[i].hosts.v[0];
				n++;
			}
		app->metrics_text(out, rts, v, n);
	}
	free(rts);
	free(v);
}

/*
 * Adds route rt's counters on every worker (the runtime with its key in
 * each worker's current generation) to st and hs.
 */
static void
server_route_sum(const struct app_route *rt, struct stats_route *st,
    struct hub_stats *hs)
{
	const struct hub_stats	*h;
	struct generation	*gen;
	struct app_route	*r;
	unsigned		 k;
	size_t			 i;

	for (k = 0; k < server_nall; k++) {
		pthread_mutex_lock(&server_all[k]->mu);
		gen = server_all[k]->gen;
		for (i = 0; i < gen->conf->nroutes; i++) {
			if ((r = gen->routes[i]) == NULL ||
			    strcmp(app_route_key(r), app_route_key(rt)) != 0)
				continue;
			stats_route_add(st, app_route_stats(r));
			h = hub_stats(app_route_hub(r));
			hs->published += h->published;
			hs->delivered += h->delivered;
			hs->dropped += h->dropped;
			hs->conflated += h->conflated;
			hs->slow_closed += h->slow_closed;
			break;
		}
		pthread_mutex_unlock(&server_all[k]->mu);
	}
}

/* Connections per worker: a gauge with a worker label. */
static void
server_metrics_workers(struct evbuffer *out)
{
	unsigned	k;

	stats_meta(out, "wsd_worker_connections", "gauge",
	    "Open connections on each worker (event loop thread).");
	for (k = 0; k < server_nall; k++)
		evbuffer_add_printf(out,
		    "wsd_worker_connections{worker=\"%u\"} %u\n", k,
		    (unsigned)server_all[k]->nconns);
}

/*
 * Gathers the gauges and per-route views and formats every metric: the
 * counters summed over the workers.
 */
static void
server_metrics(struct server *srv, struct evbuffer *out)
{
	const struct wsd_config	*conf = srv->gen->conf;
	struct stats_route_view	*v;
	struct stats_channels	*ch;
	struct stats_route	*rs;
	struct hub_stats	*hs;
	struct stats_gauges	 g;
	struct stats		 sum;
	struct app_route	*rt;
	size_t			 i, n = 0;
	unsigned		 k;

	memset(&sum, 0, sizeof(sum));
	sum.start = srv->stats.start;
	for (k = 0; k < server_nall; k++)
		stats_add(&sum, &server_all[k]->stats);
	g.conns = server_conns_total();
	g.rss = stats_rss();
	g.log_dropped = logfile_dropped();
	g.now = time(NULL);
	g.version = PACKAGE_VERSION;
	/* On a failed allocation the per-route part is left out. */
	v = calloc(conf->nroutes + 1, sizeof(*v));
	ch = calloc(conf->nroutes + 1, sizeof(*ch));
	rs = calloc(conf->nroutes + 1, sizeof(*rs));
	hs = calloc(conf->nroutes + 1, sizeof(*hs));
	if (v == NULL || ch == NULL || rs == NULL || hs == NULL) {
		free(v);
		v = NULL;
	}
	for (i = 0; v != NULL && i < conf->nroutes; i++) {
		if ((rt = srv->gen->routes[i]) == NULL ||
		    conf->routes[i].app->on_http != NULL)
			continue;
		v[n].path = conf->routes[i].path;
		if (conf->routes[i].hosts.n > 0)
			v[n].host = conf->routes[i].hosts.v[0];
		server_route_sum(rt, &rs[n], &hs[n]);
		v[n].st = &rs[n];
		/*
		 * Every runtime has a hub, but only a hub app's members join
		 * it: the others would show hub series that are always 0.
		 */
		if (conf->routes[i].app->via_hub) {
			v[n].hub = &hs[n];
			v[n].members = hub_total(app_route_hub(rt));
		}
		v[n].publish = conf->routes[i].app->publish;
		if (conf->routes[i].app->metrics != NULL) {
			conf->routes[i].app->metrics(rt, &ch[n]);
			v[n].ch = &ch[n];
		}
		n++;
	}
	stats_format(out, &sum, &g, v, n);
	free(v);
	free(ch);
	free(rs);
	free(hs);
	server_metrics_workers(out);
	server_metrics_apps(srv, out);
	cluster_metrics(out);
}

/* Tells systemd we are ready, then runs the loop until stopped. */
void
server_run(struct server *srv)
{
	struct timeval	tv;
	uint64_t	usec = SERVER_SD_STATUS_USEC;

	if (srv->ev_sd != NULL) {
		if (srv->sd_watchdog != 0 && srv->sd_watchdog / 2 < usec)
			usec = srv->sd_watchdog / 2;
		if (srv->sd_watchdog != 0)
			log_info("systemd watchdog: every %.3fs",
			    (double)usec / 1e6);
		tv = server_usec_tv(usec);
		evtimer_add(srv->ev_sd, &tv);
		sd_notify_ready(srv->nconns);
	}
	event_base_dispatch(srv->base);
}

/* Writes our pid to conf's pid_file, if any. */
int
server_pid_file_write(const struct wsd_config *conf)
{
	char	buf[32];
	int	fd, n;

	if (conf->pid_file == NULL)
		return 0;
	fd = open(conf->pid_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
	    O_NOFOLLOW, 0644);
	if (fd == -1) {
		log_err("pid_file %s", conf->pid_file);
		return -1;
	}
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (write(fd, buf, (size_t)n) != n) {
		log_err("pid_file %s", conf->pid_file);
		close(fd);
		unlink(conf->pid_file);
		return -1;
	}
	close(fd);
	return 0;
}

/* Removes the pid file at exit; only ours (it may have been replaced). */
void
server_pid_file_remove(const struct wsd_config *conf)
{
	char	buf[32];
	ssize_t	n;
	int	fd;

	if (conf->pid_file == NULL)
		return;
	if ((fd = open(conf->pid_file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) ==
	    -1)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	if (strtol(buf, NULL, 10) != (long)getpid())
		return;
	if (unlink(conf->pid_file) == -1)
		log_warn("pid_file %s: cannot remove it", conf->pid_file);
}

/* Warns when a file the next SIGHUP reads is not readable by us now. */
static void
server_check_readable(const char *what, const char *path, const char *user)
{
	if (path != NULL && access(path, R_OK) == -1)
		log_warn("%s %s is not readable by user %s: a reload on "
		    "SIGHUP will fail", what, path, user);
}

/*
 * Started as root with user or group set: give root up for good, after
 * the listeners were bound and the keys loaded, in OpenBSD's order
 * (groups, gid, uid).
 */
int
server_drop_privileges(const struct wsd_config *conf)
{
	struct passwd	*pw = NULL;
	struct group	*gr;
	gid_t		 gid;
	uid_t		 uid;

	if (conf->user == NULL && conf->group == NULL)
		return 0;
	if (geteuid() != 0) {
		log_info("not started as root: running as uid %ld, gid %ld; "
		    "user and group are ignored", (long)getuid(),
		    (long)getgid());
		return 0;
	}
	if (conf->user != NULL && (pw = getpwnam(conf->user)) == NULL) {
		log_errx("user %s: no such user", conf->user);
		return -1;
	}
	uid = pw != NULL ? pw->pw_uid : 0;
	gid = pw != NULL ? pw->pw_gid : 0;
	if (conf->group != NULL) {
		if ((gr = getgrnam(conf->group)) == NULL) {
			log_errx("group %s: no such group", conf->group);
			return -1;
		}
		gid = gr->gr_gid;
	}
	/* Still root: a rotated access log is reopened as the user. */
	if (pw != NULL && log_access_chown(uid, gid) == -1)
		log_warn("access_log %s: cannot give it to user %s",
		    conf->access_log_file, conf->user);
	if (setgroups(1, &gid) == -1 || setresgid(gid, gid, gid) == -1) {
		log_err("cannot drop privileges to gid %ld", (long)gid);
		return -1;
	}
	if (pw != NULL && setresuid(uid, uid, uid) == -1) {
		log_err("cannot drop privileges to user %s", conf->user);
		return -1;
	}
	/* Refuse to go on as root when root was meant to be given up. */
	if (uid != 0 && (setuid(0) != -1 || geteuid() == 0)) {
		log_errx("privileges were not dropped: refusing to run as "
		    "root");
		return -1;
	}
	log_info("running as user %s (uid %ld), group %ld",
	    pw != NULL ? pw->pw_name : "root", (long)uid, (long)gid);
	if (conf->tls.line != 0) {
		server_check_readable("certificate", conf->tls.certificate,
		    pw != NULL ? pw->pw_name : "root");
		server_check_readable("private_key", conf->tls.private_key,
		    pw != NULL ? pw->pw_name : "root");
	}
	return 0;
}

/* Frees whatever the server still holds. */
void
server_free(struct server *srv)
{
	struct conn	*c;
	size_t		 i;

	while ((c = TAILQ_FIRST(&srv->conns)) != NULL)
		conn_close(c, "exit");
	/* What the last minute held back is still worth a line. */
	if (srv->worker == 0)
		log_limit_flush(&srv->tls_log);
	for (i = 0; i < srv->nlisteners; i++)
		server_listener_free(srv->listeners[i]);
	free(srv->listeners);
	generation_unref(srv->gen);
	/* After the last hub and counter of the generations. */
	if (srv->worker == 0)
		cluster_stop();
	if (srv->ev_sigterm != NULL)
		event_free(srv->ev_sigterm);
	if (srv->ev_sigint != NULL)
		event_free(srv->ev_sigint);
	if (srv->ev_sighup != NULL)
		event_free(srv->ev_sighup);
	if (srv->ev_sigusr1 != NULL)
		event_free(srv->ev_sigusr1);
	/*
	 * libevent put back the default actions: a late SIGTERM or SIGHUP
	 * must not kill a daemon that is already on its way out with 0.
	 */
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGUSR1, SIG_IGN);
	if (srv->ev_drain != NULL)
		event_free(srv->ev_drain);
	if (srv->ev_stop != NULL)
		event_free(srv->ev_stop);
	if (srv->ev_sd != NULL)
		event_free(srv->ev_sd);
	if (srv->ev_iplimit != NULL)
		event_free(srv->ev_iplimit);
	for (i = 0; i < SERVER_REFUSED_MAX; i++)
		if (srv->refused[i].ev != NULL) {
			pthread_mutex_lock(&server_refusals_mu);
			if (server_refusals[i].ev == srv->refused[i].ev)
				server_refusals[i].ev = NULL;
			pthread_mutex_unlock(&server_refusals_mu);
			event_free(srv->refused[i].ev);
		}
	/* Shared by the workers: server_workers_end() frees it. */
	if (server_nall < 2)
		iplimit_free(srv->iplimit);
	pthread_mutex_destroy(&srv->mu);
	memset(srv, 0, sizeof(*srv));
}
