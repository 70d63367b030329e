/* config.h -- the INI config: table-driven parsing and validation. */
#ifndef WSD_CONFIG_H
#define WSD_CONFIG_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "cidr.h"

struct app;
struct access_tokens;

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
	int		 line;
};

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
	int		 line;			/* of the section; 0: absent */
	struct wsd_strlist names;		/* [tls NAME...]: lowercase
						 * names, "*.x" wildcards */
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
	struct cidr_list allow;			/* clients allowed; empty: all */
	/* Virtual hosts: Host names (lowercase, "*.x"); none: any host. */
	struct wsd_strlist hosts;
	int		 line;
};

struct wsd_config {
	unsigned	 refs;			/* config_ref(); config_free() */
	char		*file;			/* NULL: embedded default */
	struct wsd_listen *listens;
	size_t		 nlistens;
	struct wsd_route *routes;
	size_t		 nroutes;
	struct wsd_tls	 tls;
	/* [tls NAME...] sections: certificates chosen by SNI. */
	struct wsd_tls	*tls_hosts;
	size_t		 ntls_hosts;
	int		 log_level;		/* LOG_LVL_* */
	int		 access_log;
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
	CONFIG_KEY_STRING,		/* char *, NULL when not set */
	CONFIG_KEY_UINT,		/* unsigned, min to max */
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
 * "/staticx"). NULL when nothing matches.
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
