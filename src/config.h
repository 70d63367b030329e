/* config.h -- the INI config: table-driven parsing and validation. */
#ifndef WSD_CONFIG_H
#define WSD_CONFIG_H

#include <stddef.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "cidr.h"

struct app;
struct access_tokens;
struct jwt_key;

/* Limits that a [route] may override; seconds are doubles. */
struct wsd_limits {
	size_t		 max_message_size;
	size_t		 max_send_buffer;
	double		 ping_interval;		/* 0: no pings */
	double		 ping_timeout;
	double		 send_timeout;		/* 0: no limit */
	unsigned	 max_messages_per_second; /* 0: no limit */
	int		 compression;		/* enum wsd_compression */
};

/*
 * permessage-deflate on a route (RFC 7692), the compression key. Unset
 * ([server] without the key) a route gets its app's default: shared when
 * its messages go through the route's hub, on otherwise.
 */
enum wsd_compression {
	WSD_COMPRESSION_APP = 0,	/* not set: the app decides */
	WSD_COMPRESSION_OFF,		/* offers are declined */
	WSD_COMPRESSION_ON,		/* context takeover as offered */
	WSD_COMPRESSION_SHARED,		/* no context takeover either way */
};

/* A list value of space-separated words (origins, subprotocols). */
struct wsd_strlist {
	char		**v;
	size_t		  n;
};

struct wsd_listen {
	char		*text;			/* as written, for logs */
	struct sockaddr_storage addr;
	socklen_t	 addrlen;
	int		 tls;			/* "tls" flag: https/wss */
	int		 proxy_protocol;	/* PROXY header required */
	const char	*file;			/* where: conf->files, or "-l" */
	int		 line;			/* 0: from the command line */
};

/* workers = N takes at most this many (worker.h's WORKER_MAX). */
#define CONFIG_WORKERS_MAX	64

/*
 * The [tls] section, or a [tls NAME...] one (certificate and private_key
 * only: the protocol keys of [tls] apply to every certificate); paths are
 * absolute (resolved like roots).
 */
struct wsd_tls {
	char		*certificate;		/* full chain PEM */
	char		*private_key;
	int		 min_version;		/* TLS1_2_VERSION or TLS1_3_VERSION */
	char		*ciphers;		/* TLS <= 1.2 list; NULL: default */
	char		*ciphersuites;		/* TLS 1.3; NULL: default */
	const char	*file;			/* of the section (conf->files) */
	int		 line;			/* of the section; 0: absent */
	struct wsd_strlist names;		/* [tls NAME...]: lowercase
						 * names, "*.x" wildcards */
};

/*
 * The [cluster] section (cluster.c): nodes share hubs and app state
 * through Redis. line 0: no section, the node runs alone.
 */
struct wsd_cluster {
	char		*redis;			/* HOST:PORT or unix:/path */
	char		*password_file;		/* absolute; NULL: no AUTH */
	char		*user;			/* ACL user; NULL: default */
	unsigned	 db;			/* SELECT; 0: none sent */
	char		*prefix;		/* of every Redis key */
	char		*node_name;		/* NULL: hostname-pid */
	int		 tls;			/* redis_tls */
	char		*ca_file;		/* absolute; NULL: system's */
	double		 timeout;		/* connect and command */
	double		 users_ttl;		/* counter heartbeat TTL */
	double		 lease;			/* broadcast leader lease */
	const char	*file;			/* of the section (conf->files) */
	int		 line;			/* of the section; 0: absent */
};

struct wsd_route {
	char		*path;			/* "/hello"; "/" or "/static" */
	size_t		 path_len;
	const struct app *app;			/* NULL: static files */
	char		*root;			/* static: as written */
	char		*root_real;		/* static: realpath(root) */
	int		 dotfiles;		/* static: ".x" served */
	struct wsd_limits lim;
	/*
	 * The values of the registered app keys (config_register_apps),
	 * every one at its default unless the route set it; the app layer
	 * knows its type (struct app_conf in app.h).
	 */
	void		*app_conf;
	/* Access control (access.c). */
	struct wsd_strlist origins;		/* serialised; none: any */
	int		 require_origin;
	struct wsd_strlist subprotocols;
	char		*auth_token_file;	/* absolute; NULL: no auth */
	struct access_tokens *tokens;		/* re-read on SIGHUP */
	/* Signed tokens (jwt.c): the key is re-read on SIGHUP too. */
	char		*auth_jwt_key_file;	/* absolute; NULL: no JWT */
	struct jwt_key	*jwt_key;
	double		 jwt_leeway;		/* seconds, exp and nbf */
	int		 jwt_expire_close;	/* close 1008 at exp */
	struct cidr_list allow;			/* clients allowed; empty: all */
	/* Virtual hosts: Host names (lowercase, "*.x"); none: any host. */
	struct wsd_strlist hosts;
	/* Channels and relay: who may publish over HTTP. */
	int		 prefix;		/* path ends in "/": below it */
	struct cidr_list publish_allow;		/* empty: loopback only */
	char		*publish_token_file;	/* absolute; NULL: none */
	struct access_tokens *publish_tokens;	/* re-read on SIGHUP */
	const char	*file;			/* of the section (conf->files) */
	int		 line;
};

struct wsd_config {
	_Atomic unsigned refs;		/* config_ref(); config_free(): any worker */
	char		*file;			/* NULL: embedded default */
	/*
	 * Every file read, the main one ("(embedded)" for the default)
	 * first, then those of include lines in the order they were read.
	 */
	struct wsd_strlist files;
	struct config_values *values;		/* as written, for config_print */
	struct wsd_listen *listens;
	size_t		 nlistens;
	struct wsd_route *routes;
	size_t		 nroutes;
	struct wsd_tls	 tls;
	/* [tls NAME...] sections: certificates chosen by SNI. */
	struct wsd_tls	*tls_hosts;
	size_t		 ntls_hosts;
	int		 log_level;		/* LOG_LVL_* */
	int		 access_log;		/* on: main log or file */
	char		*access_log_file;	/* absolute; NULL: main log */
	int		 log_format;		/* enum log_format, access */
	unsigned	 workers;		/* 0: auto, one per CPU; at
						 * most CONFIG_WORKERS_MAX */
	unsigned	 max_connections;
	size_t		 max_header_size;	/* request head bytes */
	double		 handshake_timeout;
	double		 idle_timeout;
	double		 close_timeout;
	/* Graceful stop and reload (server.c). */
	double		 shutdown_delay;	/* draining before the stop */
	struct wsd_limits lim;			/* [server] values */
	/* Operations. */
	char		*user;			/* NULL: keep the user */
	char		*group;			/* NULL: user's group */
	char		*pid_file;		/* absolute; NULL: none */
	int		 log_target;		/* enum log_target */
	/* Client addresses: proxies believed, per-address limits. */
	struct cidr_list trusted_proxies;
	unsigned	 max_connections_per_ip;	/* 0: no limit */
	unsigned	 max_connection_rate_per_ip;	/* per second; 0: off */
	struct wsd_cluster cluster;		/* [cluster] */
};

/*
 * config.c knows no app: the app layer registers each app's name and
 * the route keys it takes, beyond the common ones, before the first
 * config is loaded (app_register() in app.c). A key is accepted on a
 * route whose app lists it, and stored at off in the route's app_conf.
 */
enum config_key_type {
	CONFIG_KEY_DURATION,		/* double, seconds, min to max */
	CONFIG_KEY_BOOL,		/* int, 0 or 1 */
	CONFIG_KEY_WORD,		/* int, what parse() returns */
	CONFIG_KEY_UINT,		/* unsigned, min to max */
	CONFIG_KEY_SIZE,		/* size_t, bytes, min to max */
	CONFIG_KEY_STRING,		/* char *, copied; def NULL, and
					 * NULL when unset; parse() and
					 * check(), if any, refuse bad
					 * values; see required */
};

struct config_key {
	const char	*name;
	enum config_key_type type;
	double		 min;
	double		 max;
	const char	*def;			/* every route starts with it */
	size_t		 off;			/* in wsd_route.app_conf */
	int		(*parse)(const char *);	/* WORD: value, or -1 */
	const char	*why;			/* WORD: "invalid policy (...)" */
	const char	*not_above;		/* a key it may not exceed */
	/*
	 * STRING (def NULL): the route must set it when required, and
	 * check, if set, returns -1 with why (len bytes) for a bad value.
	 */
	int		 required;
	int		(*check)(const char *value, char *why, size_t len);
};

struct config_app {
	const char	*name;
	const struct app *app;			/* becomes wsd_route.app */
	const struct config_key *const *keys;	/* NULL-ended */
	int		 via_hub;		/* compression = shared */
	/* Channels: the route path ends in "/" and matches below it. */
	int		 prefix;
	/* Takes publish_allow and publish_token_file (HTTP publish). */
	int		 publish;
};

/*
 * Registers the apps, in the order "unknown app" messages list them, and
 * the size of a route's app_conf. Keys of the same name are one key:
 * apps share them by pointer. Once, before config_load; fatal on a
 * broken table.
 */
void	config_register_apps(const struct config_app *const *apps, size_t n,
	    size_t conf_size);

/*
 * A deeper check of a [tls] section than "its files can be read" (tls.c's
 * tls_check: they load, the key matches): 0, or -1 with *cause (caller
 * frees) and *key, the key whose line to blame. Registered once before
 * config_load (main), it runs when the rest of the section is clean, so
 * that these errors come in the same run as all the others.
 */
typedef int (*config_tls_check_fn)(const struct wsd_tls *, char **,
	    const char **);
void	config_register_tls_check(config_tls_check_fn fn);

/*
 * Reads and validates a config file. Returns the config, or NULL with
 * *errors set to every problem found, one "FILE:LINE: message" per line
 * (caller frees).
 */
struct wsd_config *config_load(const char *file, char **errors);

/*
 * Same for config text held in memory; name is used in messages and to
 * resolve relative roots (NULL: relative to the working directory).
 */
struct wsd_config *config_load_string(const char *name, const char *text,
	    char **errors);

/*
 * The embedded default: 127.0.0.1:8080, every built-in app on its path and
 * the demo pages from www_root on "/".
 */
struct wsd_config *config_default(const char *www_root, char **errors);

/*
 * What the command line asked for; a reload reads the same again (the
 * file, or the embedded default built from www_root) with the same
 * overrides.
 */
struct config_source {
	const char	*file;			/* NULL: the embedded default */
	const char	*www_root;		/* the default's demo pages */
	char *const	*listens;		/* -l ADDR:PORT [FLAG]...: they */
	size_t		 nlistens;		/* replace every listen line */
};

/* config_load or config_default, as src says; errors as config_load. */
struct wsd_config *config_open(const struct config_source *src,
	    char **errors);

/*
 * Writes the effective configuration as INI that wsd accepts: every
 * section, every key with its value (as written, the inherited one or
 * the default; resolved paths; the listeners in use), includes resolved,
 * keys without a value as comments.
 */
void	config_print(const struct wsd_config *conf, FILE *fp);

/*
 * What changed from old to conf, one line each ("route /x added (app
 * echo)", "route /y removed", "route /z changed: ping_interval 20s ->
 * 5s", "[server] changed: ..."); listen lines are left to the listeners.
 * NULL when nothing did (caller frees).
 */
char	*config_changes(const struct wsd_config *old,
	    const struct wsd_config *conf);

/*
 * A loaded config starts with one reference, which its generation
 * (generation.h) takes over; route runtimes, which outlive a generation
 * when a reload keeps their route, and main (for pid_file and user) take
 * their own (config_ref). config_free drops a reference and frees the
 * config with the last.
 */
struct wsd_config *config_ref(struct wsd_config *conf);
void	config_free(struct wsd_config *conf);

/*
 * Route for a decoded request path: an app route whose path equals it
 * exactly, else the static route with the longest prefix that ends on a
 * segment boundary ("/static" matches "/static" and "/static/x", not
 * "/staticx") or the prefix app route (channels, "/live/") with the
 * longest path that starts it. NULL when nothing matches.
 */
const struct wsd_route *config_route_match(const struct wsd_config *conf,
	    const char *path);
/*
 * The same for a request with a Host header (raw, NULL: none). Candidates
 * are the routes whose host matches it and the routes without host; the
 * rules above pick one, and of two as specific (the same path), the one
 * whose host matches best wins: an exact name, then a wildcard, then a
 * route without host.
 */
const struct wsd_route *config_route_match_host(const struct wsd_config *conf,
	    const char *host, const char *path);
/* Whether two routes serve the same host names (both none included). */
int	config_route_same_host(const struct wsd_route *a,
	    const struct wsd_route *b);
/*
 * Virtual host names, pure. config_host_normalize: a Host header value or
 * SNI name as a lowercase name without port or final dot, into out; -1
 * when empty or longer than size - 1. config_host_rank: how a normalized
 * name matches a pattern of host or [tls NAME...]: 2 the same name, 1
 * "*.example.org" for one more label ("a.example.org", not
 * "example.org" or "a.b.example.org"), 0 not at all.
 */
int	config_host_normalize(const char *s, char *out, size_t size);
int	config_host_rank(const char *pattern, const char *host);

/*
 * Value parsers shared with tests: 0 on success, -1 on a bad value.
 * Sizes: bytes with optional k/m/g suffix (KiB/MiB/GiB). Durations:
 * seconds (fractions allowed) or with ms/s/m suffix. Booleans:
 * on|off|yes|no|true|false|1|0.
 */
int	config_parse_size(const char *s, size_t *out);
int	config_parse_duration(const char *s, double *out);
/* A duration in seconds (>= 0) as a timeval, for timers. */
struct timeval config_timeval(double seconds);
int	config_parse_bool(const char *s, int *out);
/* A whole unsigned decimal number, digits only. */
int	config_parse_uint(const char *s, unsigned long long *out);
/* "ADDR:PORT" or "[V6ADDR]:PORT"; port 0-65535 (0: the kernel picks). */
int	config_parse_address(const char *s, struct sockaddr_storage *ss,
	    socklen_t *len);

#endif
