/* server.h -- listeners, signals, the set of open connections. */
#ifndef WSD_SERVER_H
#define WSD_SERVER_H

#include <stdint.h>

#include "loop.h"

struct event_base;
struct event;
struct wsd_config;
struct conn;
struct generation;
struct listener;
struct tls;
struct iplimit;
struct evbuffer;

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


/* Writes/removes conf->pid_file, if set; -1 (logged) on failure. */
int	server_pid_file_write(const struct wsd_config *conf);
void	server_pid_file_remove(const struct wsd_config *conf);

/*
 * When root and conf has user or group: drop to them for good. -1
 * (logged) when that fails; wsd must then not run.
 */
int	server_drop_privileges(const struct wsd_config *conf);

/* Raises the open-files soft limit to the hard limit; returns the limit. */
long	server_raise_nofile(void);

#endif
