/*
 * loop.h -- what one worker's event loop holds for its connections: the
 * state conn.c, http_serve.c and session.c read and count in, and the
 * calls up into the server (server.c) that owns the loop, as function
 * pointers, so that the connection layer does not depend on the server
 * above it.
 */
#ifndef WSD_LOOP_H
#define WSD_LOOP_H

#include <sys/queue.h>
#include <pthread.h>
#include <stdint.h>

#include "log.h"
#include "stats.h"

struct event_base;
struct event;
struct evbuffer;
struct conn;
struct generation;
struct listener;
struct iplimit;
struct server;

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

/* What connections ask of the server that owns their loop. */
struct server_ops {
	/* Counts a new connection (conn_new()), and one that went. */
	void		(*conn_added)(struct server *);
	void		(*conn_gone)(struct server *);
	/*
	 * Counts a connection refused by a limit (tls: on a TLS listener,
	 * closed without an answer) in the metrics. Returns 1 when the
	 * caller should log it: the first refusal of a reason in a second
	 * is logged, the rest are summed up in one line a second later.
	 */
	int		(*refused)(struct server *, enum server_refusal, int tls);
	/* The rate limit of TLS failure lines, one for every worker. */
	struct log_limit *(*tls_log)(struct server *);
	/* Appends every metric in Prometheus text format. */
	void		(*metrics)(struct server *, struct evbuffer *);
};

/*
 * Everything one event loop owns; passed in, never global. With workers,
 * each worker has one (server_workers() links them); worker 0's also
 * handles the signals and tells the others.
 */
struct server {
	const struct server_ops	*ops;		/* the server's, for conn.c */
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

#endif
