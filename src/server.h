/* server.h -- listeners, signals, the set of open connections. */
#ifndef WSD_SERVER_H
#define WSD_SERVER_H

#include <sys/queue.h>
#include <pthread.h>
#include <stdint.h>

#include "log.h"
#include "stats.h"

struct event_base;
struct event;
struct wsd_config;
struct conn;
struct generation;
struct listener;
struct tls;
struct iplimit;
struct evbuffer;

TAILQ_HEAD(conn_list, conn);

/* Why a connection was refused by a connection limit. */
enum server_refusal {
	SERVER_REFUSED_FULL,		/* max_connections */
	SERVER_REFUSED_PER_IP,		/* max_connections_per_ip */
	SERVER_REFUSED_RATE,		/* max_connection_rate_per_ip */
	SERVER_REFUSED_MAX
};

/* Refusals of one reason not logged yet (server_refused()). */
struct server_refusals {
	const char	*what;
	unsigned	 n;
	unsigned	 ntls;		/* of n, on TLS listeners */
	struct event	*ev;		/* pending: a second after a log line */
};

/*
 * Everything one event loop owns; passed in, never global. With workers,
 * each worker has one (server_workers() links them); worker 0's also
 * handles the signals and tells the others.
 */
struct server {
	struct event_base	*base;
	unsigned		 worker;	/* its worker's index */
	/* Held while gen changes, and by other workers reading it. */
	pthread_mutex_t		 mu;
	int			 done;		/* stopped: no connection left */
	unsigned		 ndone;		/* worker 0: others done */
	unsigned		 reloading;	/* worker 0: others switching */
	struct generation	*gen;		/* the current one (a
						 * reference); a reload
						 * replaces it */
	/* What to read again on SIGHUP: main's, outlives the server. */
	const struct config_source *source;
	int			 verbose;	/* -v count, added to log_level */
	struct listener		**listeners;
	size_t			 nlisteners;
	struct conn_list	 conns;
	_Atomic unsigned	 nconns;	/* metrics read it anywhere */
	int			 draining;	/* a stop signal came */
	int			 stopping;	/* not accepting, closing all */
	struct event		*ev_sigterm;
	struct event		*ev_sigint;
	struct event		*ev_sighup;
	struct event		*ev_sigusr1;	/* reopen log files */
	struct event		*ev_drain;	/* end of shutdown_delay */
	struct event		*ev_stop;	/* close_timeout after a stop */
	/* systemd (sd.c): watchdog and status tick, under systemd only. */
	struct event		*ev_sd;
	uint64_t		 sd_watchdog;	/* usec; 0: off */
	unsigned		 sd_nconns;	/* last count sent */
	struct iplimit		*iplimit;	/* NULL: no per-address limit */
	struct event		*ev_iplimit;	/* expires idle entries */
	struct stats		 stats;		/* for the metrics app */
	struct server_refusals	 refused[SERVER_REFUSED_MAX];
	/* TLS handshake failures and plain HTTP on TLS listeners. */
	struct log_limit	 tls_log;
};

/*
 * Binds every listener of conf; -1 (logged) when one cannot be bound. The
 * server's first generation takes conf and tls (NULL when conf has no
 * [tls]) over, whether this succeeds or not: server_free() releases them.
 */
int	server_init(struct server *srv, struct event_base *base,
	    struct wsd_config *conf, struct tls *tls);
/*
 * Workers: all[0..n) are every worker's server, set up by main one after
 * the other (all[0] first: the others listen on its sockets' addresses,
 * with SO_REUSEPORT, and share its per-address table). Called once,
 * before the first server_init(); all must outlive every server.
 */
void	server_workers(struct server **all, unsigned n);
/* After every worker's server_free(): frees what they shared. */
void	server_workers_end(void);
/* The rate limit of TLS failure lines, one for every worker. */
struct log_limit *server_tls_log(struct server *srv);
/* Connections open on every worker. */
unsigned server_conns_total(void);
/*
 * Runs the loop until a graceful stop has finished; under systemd tells
 * it READY=1 first.
 */
void	server_run(struct server *srv);
/* Frees listeners, connections, events and the generation. */
void	server_free(struct server *srv);
/*
 * SIGHUP: reads the config file again (conf->file; the embedded default
 * is built again from www_root) and the certificates into a new
 * generation, and switches to it; 0 on success. On any error (logged,
 * FILE:LINE) nothing changes and -1 is returned. Listeners with an
 * unchanged address are kept, app route runtimes with the same path and
 * app carry on, open connections keep the generation they hold (an idle
 * HTTP one moves to the new one with its next request).
 */
int	server_reload(struct server *srv);
/*
 * Sends access lines where conf says (access_log, log_format): opens the
 * file as it is at start-up, before privileges are dropped. A failure is
 * logged with what in front; -1.
 */
int	server_access_log(struct server *srv, const struct wsd_config *conf,
	    const char *what);
/*
 * 1 from the moment a stop signal arrives (through shutdown_delay and the
 * stop itself): health checks answer 503 "draining".
 */
int	server_draining(const struct server *srv);
/* Called by conn_new() for every connection, and by conn_close() for every
 * one that goes away. */
void	server_conn_added(struct server *srv);
void	server_conn_gone(struct server *srv);

/*
 * Counts a connection refused by a limit (tls: on a TLS listener, closed
 * without an answer) in the metrics. Returns 1 when the caller should log
 * it: the first refusal of a reason in a second is logged, the rest are
 * summed up in one line a second later.
 */
int	server_refused(struct server *srv, enum server_refusal why, int tls);

/* Writes/removes conf->pid_file, if set; -1 (logged) on failure. */
int	server_pid_file_write(const struct wsd_config *conf);
void	server_pid_file_remove(const struct wsd_config *conf);

/*
 * When root and conf has user or group: drop to them for good. -1
 * (logged) when that fails; wsd must then not run.
 */
int	server_drop_privileges(const struct wsd_config *conf);
/* Appends every metric of srv in Prometheus text format. */
void	server_metrics(struct server *srv, struct evbuffer *out);

/* Raises the open-files soft limit to the hard limit; returns the limit. */
long	server_raise_nofile(void);

#endif
