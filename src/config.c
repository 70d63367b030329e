/* config.c -- the INI config: table-driven parsing and validation. */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <limits.h>
#include <unistd.h>

#include <ini.h>
#include <openssl/ssl.h>

#include "access.h"
#include "cidr.h"
#include "config.h"
#include "http.h"
#include "jwt.h"
#include "log.h"

#define CFG_KIB		1024.0
#define CFG_MIB		(1024.0 * 1024.0)
#define CFG_GIB		(1024.0 * 1024.0 * 1024.0)
#define CFG_DAY		86400.0

/* Room for any line inih accepts; longer lines are only counted. */
#define CFG_BUF_MAX	512
/* Files open at once through include lines, the main one included. */
#define CFG_INCLUDE_DEPTH 16
/* The file name of listeners given with -l. */
#define CFG_CMDLINE	"-l"

enum cfg_sect {
	CFG_SERVER,
	CFG_ROUTE,
	CFG_APPKEY,		/* [route], only if its app takes the key;
				   registered by the app layer */
	CFG_TLS,
	CFG_CLUSTER,		/* [cluster], struct wsd_cluster */
};

enum cfg_type {
	CFG_SIZE,		/* size_t, bytes with k/m/g suffix */
	CFG_DURATION,		/* double, seconds */
	CFG_BOOL,		/* int */
	CFG_UINT,		/* unsigned */
	CFG_LOGLEVEL,		/* int, LOG_LVL_* */
	CFG_WORD,		/* int, from the app key's parse() */
	CFG_LISTEN,		/* appended to listens; repeatable */
	CFG_APP,		/* "static" or an app name */
	CFG_PATH,		/* char *, copied; checked at the end */
	CFG_FILE,		/* char *, made absolute */
	CFG_STRING,		/* char *, copied */
	CFG_TLSVER,		/* int, TLS1_2_VERSION or TLS1_3_VERSION */
	CFG_ORIGINS,		/* struct wsd_strlist, serialised; repeatable */
	CFG_PROTOCOLS,		/* struct wsd_strlist of tokens; repeatable */
	CFG_USER,		/* char *, an existing user name */
	CFG_GROUP,		/* char *, an existing group name */
	CFG_LOGTARGET,		/* int, enum log_target */
	CFG_CIDR,		/* struct cidr_list; repeatable, appends */
	CFG_DOTFILES,		/* int, 1: allow, 0: deny */
	CFG_COMPRESSION,	/* int, enum wsd_compression */
	CFG_HOSTS,		/* struct wsd_strlist of host names; repeats */
	CFG_ACCESSLOG,		/* int on|off, or a file: access_log_file */
	CFG_LOGFORMAT,		/* int, enum log_format */
	CFG_WORKERS,		/* unsigned, "auto": 0 */
};

/*
 * One config key. Where the value lives follows from sect and route:
 * [server]-only keys in struct wsd_config, keys a route may override in
 * struct wsd_limits (the server's or the route's), [route]-only keys in
 * struct wsd_route, [tls] keys in struct wsd_tls, app keys in the
 * route's app_conf. An app key is accepted on a route only if its app
 * lists it (struct config_app); its default applies to every route.
 */
struct cfg_key {
	enum cfg_sect	 sect;
	const char	*name;
	enum cfg_type	 type;
	double		 min;
	double		 max;
	const char	*def;		/* NULL: no default */
	int		 route;		/* a [route] may override it */
	size_t		 off;
};

#define CFG_C(f)	offsetof(struct wsd_config, f)
#define CFG_L(f)	offsetof(struct wsd_limits, f)
#define CFG_R(f)	offsetof(struct wsd_route, f)
#define CFG_T(f)	offsetof(struct wsd_tls, f)
#define CFG_K(f)	offsetof(struct wsd_cluster, f)

/* Keep wsd.ini.5 and etc/wsd.ini in step with this table. */
static const struct cfg_key cfg_keys[] = {
	{ CFG_SERVER, "listen", CFG_LISTEN, 0, 0,
	    "127.0.0.1:8080", 0, 0 },
	{ CFG_SERVER, "log_level", CFG_LOGLEVEL, 0, 0,
	    "info", 0, CFG_C(log_level) },
	{ CFG_SERVER, "access_log", CFG_ACCESSLOG, 0, 1,
	    "on", 0, CFG_C(access_log) },
	{ CFG_SERVER, "log_format", CFG_LOGFORMAT, 0, 0,
	    "text", 0, CFG_C(log_format) },
	{ CFG_SERVER, "workers", CFG_WORKERS, 1, CONFIG_WORKERS_MAX,
	    "auto", 0, CFG_C(workers) },
	{ CFG_SERVER, "max_connections", CFG_UINT, 1, 1000000,
	    "10000", 0, CFG_C(max_connections) },
	{ CFG_SERVER, "max_header_size", CFG_SIZE, CFG_KIB, CFG_MIB,
	    "8k", 0, CFG_C(max_header_size) },
	{ CFG_SERVER, "max_message_size", CFG_SIZE, 1, CFG_GIB,
	    "1m", 1, CFG_L(max_message_size) },
	{ CFG_SERVER, "max_send_buffer", CFG_SIZE, CFG_KIB, CFG_GIB,
	    "1m", 1, CFG_L(max_send_buffer) },
	{ CFG_SERVER, "ping_interval", CFG_DURATION, 0, CFG_DAY,
	    "20s", 1, CFG_L(ping_interval) },
	{ CFG_SERVER, "ping_timeout", CFG_DURATION, 0, CFG_DAY,
	    "20s", 1, CFG_L(ping_timeout) },
	{ CFG_SERVER, "send_timeout", CFG_DURATION, 0, CFG_DAY,
	    "30s", 1, CFG_L(send_timeout) },
	{ CFG_SERVER, "handshake_timeout", CFG_DURATION, 0.001, CFG_DAY,
	    "10s", 0, CFG_C(handshake_timeout) },
	{ CFG_SERVER, "idle_timeout", CFG_DURATION, 0.001, CFG_DAY,
	    "30s", 0, CFG_C(idle_timeout) },
	{ CFG_SERVER, "close_timeout", CFG_DURATION, 0.001, CFG_DAY,
	    "10s", 0, CFG_C(close_timeout) },
	/* Operations: privileges, pid file, log destination. */
	{ CFG_SERVER, "user", CFG_USER, 0, 0,
	    NULL, 0, CFG_C(user) },
	{ CFG_SERVER, "group", CFG_GROUP, 0, 0,
	    NULL, 0, CFG_C(group) },
	{ CFG_SERVER, "pid_file", CFG_FILE, 0, 0,
	    NULL, 0, CFG_C(pid_file) },
	{ CFG_SERVER, "log", CFG_LOGTARGET, 0, 0,
	    "stderr", 0, CFG_C(log_target) },
	/* Client addresses (clientaddr). */
	{ CFG_SERVER, "trusted_proxies", CFG_CIDR, 0, 0,
	    NULL, 0, CFG_C(trusted_proxies) },
	{ CFG_SERVER, "max_connections_per_ip", CFG_UINT, 0, 1000000,
	    "0", 0, CFG_C(max_connections_per_ip) },
	{ CFG_SERVER, "max_connection_rate_per_ip", CFG_UINT, 0, 1000000,
	    "0", 0, CFG_C(max_connection_rate_per_ip) },
	{ CFG_ROUTE, "allow", CFG_CIDR, 0, 0,
	    NULL, 0, CFG_R(allow) },
	/*
	 * permessage-deflate (RFC 7692), per route too. No default: a route
	 * that neither sets it nor inherits it from [server] gets its app's
	 * (config_finish()).
	 */
	{ CFG_SERVER, "compression", CFG_COMPRESSION, 0, 0,
	    NULL, 1, CFG_L(compression) },
	/* Graceful stop: draining before the listeners close. */
	{ CFG_SERVER, "shutdown_delay", CFG_DURATION, 0, CFG_DAY,
	    "0s", 0, CFG_C(shutdown_delay) },
	{ CFG_ROUTE, "app", CFG_APP, 0, 0,
	    NULL, 0, CFG_R(app) },
	{ CFG_ROUTE, "root", CFG_PATH, 0, 0,
	    NULL, 0, CFG_R(root) },
	{ CFG_ROUTE, "dotfiles", CFG_DOTFILES, 0, 0,
	    "deny", 0, CFG_R(dotfiles) },
	{ CFG_TLS, "certificate", CFG_FILE, 0, 0,
	    NULL, 0, CFG_T(certificate) },
	{ CFG_TLS, "private_key", CFG_FILE, 0, 0,
	    NULL, 0, CFG_T(private_key) },
	{ CFG_TLS, "min_version", CFG_TLSVER, 0, 0,
	    "1.2", 0, CFG_T(min_version) },
	{ CFG_TLS, "ciphers", CFG_STRING, 0, 0,
	    NULL, 0, CFG_T(ciphers) },
	{ CFG_TLS, "ciphersuites", CFG_STRING, 0, 0,
	    NULL, 0, CFG_T(ciphersuites) },
	/* Access control (access.c); see config_access_finish(). */
	{ CFG_SERVER, "max_messages_per_second", CFG_UINT, 0, 1000000,
	    "0", 1, CFG_L(max_messages_per_second) },
	{ CFG_ROUTE, "origins", CFG_ORIGINS, 0, 0,
	    NULL, 0, CFG_R(origins) },
	{ CFG_ROUTE, "require_origin", CFG_BOOL, 0, 1,
	    "off", 0, CFG_R(require_origin) },
	{ CFG_ROUTE, "subprotocols", CFG_PROTOCOLS, 0, 0,
	    NULL, 0, CFG_R(subprotocols) },
	{ CFG_ROUTE, "auth_token_file", CFG_FILE, 0, 0,
	    NULL, 0, CFG_R(auth_token_file) },
	/* Virtual hosts: the Host names a route serves; none: every one. */
	{ CFG_ROUTE, "host", CFG_HOSTS, 0, 0,
	    NULL, 0, CFG_R(hosts) },
	/* HTTP publish (channels, relay); see config_publish_finish(). */
	{ CFG_ROUTE, "publish_allow", CFG_CIDR, 0, 0,
	    NULL, 0, CFG_R(publish_allow) },
	{ CFG_ROUTE, "publish_token_file", CFG_FILE, 0, 0,
	    NULL, 0, CFG_R(publish_token_file) },
	/* Signed tokens (jwt.c); see config_access_finish(). */
	{ CFG_ROUTE, "auth_jwt_key_file", CFG_FILE, 0, 0,
	    NULL, 0, CFG_R(auth_jwt_key_file) },
	{ CFG_ROUTE, "jwt_leeway", CFG_DURATION, 0, 3600,
	    "30s", 0, CFG_R(jwt_leeway) },
	{ CFG_ROUTE, "jwt_expire_close", CFG_BOOL, 0, 1,
	    "off", 0, CFG_R(jwt_expire_close) },
	/* Many nodes through Redis (cluster.c); see config_finish_cluster(). */
	{ CFG_CLUSTER, "redis", CFG_STRING, 0, 0,
	    NULL, 0, CFG_K(redis) },
	{ CFG_CLUSTER, "redis_password_file", CFG_FILE, 0, 0,
	    NULL, 0, CFG_K(password_file) },
	{ CFG_CLUSTER, "redis_user", CFG_STRING, 0, 0,
	    NULL, 0, CFG_K(user) },
	{ CFG_CLUSTER, "redis_db", CFG_UINT, 0, 1000000,
	    "0", 0, CFG_K(db) },
	{ CFG_CLUSTER, "prefix", CFG_STRING, 0, 0,
	    "wsd:", 0, CFG_K(prefix) },
	{ CFG_CLUSTER, "node_name", CFG_STRING, 0, 0,
	    NULL, 0, CFG_K(node_name) },
	{ CFG_CLUSTER, "redis_tls", CFG_BOOL, 0, 1,
	    "off", 0, CFG_K(tls) },
	{ CFG_CLUSTER, "redis_ca_file", CFG_FILE, 0, 0,
	    NULL, 0, CFG_K(ca_file) },
	{ CFG_CLUSTER, "redis_timeout", CFG_DURATION, 0.01, 600,
	    "2s", 0, CFG_K(timeout) },
	{ CFG_CLUSTER, "users_ttl", CFG_DURATION, 0.3, CFG_DAY,
	    "30s", 0, CFG_K(users_ttl) },
	{ CFG_CLUSTER, "lease", CFG_DURATION, 0.3, 3600,
	    "3s", 0, CFG_K(lease) },
};
#define CFG_NKEYS	(sizeof(cfg_keys) / sizeof(cfg_keys[0]))
/* The names of a [tls NAME...] header, checked like a host value. */
static const struct cfg_key cfg_tls_names = {
	CFG_TLS, "[tls]", CFG_HOSTS, 0, 0, NULL, 0, 0
};

/* Route keys only static routes take, and only WebSocket app routes. */
static const char *const cfg_static_only[] = { "root", "dotfiles" };
#define CFG_NSTATIC_ONLY (sizeof(cfg_static_only) / sizeof(cfg_static_only[0]))
static const char *const cfg_ws_only[] = {
	"origins", "require_origin", "subprotocols", "jwt_expire_close",
};
#define CFG_NWS_ONLY	(sizeof(cfg_ws_only) / sizeof(cfg_ws_only[0]))
/* Route keys that need auth_jwt_key_file on the route. */
static const char *const cfg_jwt_only[] = { "jwt_leeway", "jwt_expire_close" };
#define CFG_NJWT_ONLY	(sizeof(cfg_jwt_only) / sizeof(cfg_jwt_only[0]))
/* Room for the keys the apps register. */
#define CFG_APPKEYS_MAX	32
#define CFG_MAXKEYS	(CFG_NKEYS + CFG_APPKEYS_MAX)

/*
 * Every key: the table above, then the app keys registered, each with
 * its source entry (cfg_src; NULL for the table's). Built once.
 */
static struct cfg_key	 cfg_all[CFG_MAXKEYS];
static const struct config_key *cfg_src[CFG_MAXKEYS];
static size_t		 cfg_nall;
/* The registered apps and what their route keys take. */
static const struct config_app *const *cfg_apps;
static size_t		 cfg_napps;
static size_t		 cfg_conf_size;
static char		 cfg_app_names[256] = "static";
/* tls.c's check of a [tls] section's files; NULL: readable is enough. */
static config_tls_check_fn cfg_tls_check;

struct cfg_error {
	const char	*file;			/* conf->files, or CFG_CMDLINE */
	size_t		 fileidx;		/* its place in conf->files */
	int		 line;			/* 0: about the whole file */
	size_t		 seq;			/* keeps equal lines in order */
	char		*msg;
};

/*
 * One value as written (for config_print and config_changes): section
 * CFG_VSECT_SERVER, CFG_VSECT_TLS or a route's index, key cfg_all's.
 */
#define CFG_VSECT_SERVER	(-1)
#define CFG_VSECT_TLS		(-2)
#define CFG_VSECT_CLUSTER	(-3)
struct config_value {
	long		 sect;
	size_t		 key;
	char		*text;
};

struct config_values {
	struct config_value *v;
	size_t		 n;
};

enum cfg_route_kind {
	CFG_ROUTE_UNSET = 0,
	CFG_ROUTE_STATIC,
	CFG_ROUTE_APP,
	CFG_ROUTE_BAD,				/* app value was rejected */
};

/* Parse-time facts about one route, parallel to conf->routes. */
struct cfg_route_state {
	int		 seen[CFG_MAXKEYS];	/* line of each key, 0: unset */
	int		 bad[CFG_MAXKEYS];	/* value was rejected */
	enum cfg_route_kind kind;
	const struct config_app *app;		/* CFG_ROUTE_APP */
};

enum cfg_in {
	CFG_IN_NONE,				/* before the first section */
	CFG_IN_SERVER,
	CFG_IN_ROUTE,
	CFG_IN_TLS,
	CFG_IN_CLUSTER,
	CFG_IN_SKIP,				/* bad section: keys ignored */
};

/*
 * A file whose reading an include line suspended: where it was, and the
 * section its next lines belong to.
 */
struct cfg_input {
	FILE		*fp;
	const char	*text;
	const char	*name;
	char		*dir;
	int		 line;
	int		 eof;
	int		 read_errno;
	dev_t		 dev;
	ino_t		 ino;
	char		**incl;			/* files of its include line */
	size_t		 nincl;
	size_t		 inext;			/* the next one to read */
	int		 incl_line;
	enum cfg_in	 in;
	size_t		 route;
};

struct cfg_parse {
	const char	*name;			/* for messages */
	char		*dir;			/* relative roots; NULL: cwd */
	struct wsd_config *conf;
	const struct config_source *src;	/* NULL: no overrides */
	struct cfg_route_state *rstate;
	int		 server_seen[CFG_MAXKEYS];
	const char	*server_file;
	int		 server_line;
	char		 at[PATH_MAX + 32];	/* config_at()'s answer */
	int		 tls_seen[CFG_MAXKEYS];
	int		 cluster_seen[CFG_MAXKEYS];
	/* [tls NAME...] sections: the one being read (0: [tls]), seen keys. */
	size_t		 tls_cur;
	int		(*tls_hseen)[CFG_MAXKEYS];
	int		 tls_bad;		/* a [tls] value was refused */
	enum cfg_in	 in;
	size_t		 route;			/* current route index */

	struct cfg_error *errs;
	size_t		 nerrs;

	/* The reader: a FILE or a string; suspended ones below it. */
	FILE		*fp;
	const char	*text;
	int		 line;
	int		 eof;
	int		 pending_nl;
	int		 read_errno;
	dev_t		 dev;			/* of fp, for include loops */
	ino_t		 ino;
	char		**incl;			/* an include line's files */
	size_t		 nincl;
	size_t		 inext;
	int		 incl_line;
	struct cfg_input stack[CFG_INCLUDE_DEPTH];
	size_t		 depth;
	char		 buf[CFG_BUF_MAX];
};

static void	config_error(struct cfg_parse *, int, const char *, ...)
		    LOG_PRINTF(3, 4);
static void	config_list_free(struct wsd_strlist *);
static char	*config_xasprintf(const char *, ...) LOG_PRINTF(1, 2);
static void	config_include(struct cfg_parse *, const char *);
static char	*config_xvasprintf(const char *, va_list) LOG_PRINTF(1, 0);

/* Allocation failures at config time are not recoverable. */
static void *
config_xrealloc(void *ptr, size_t n, size_t size)
{
	void	*p;

	if ((p = reallocarray(ptr, n, size)) == NULL)
		fatal("%s", __func__);
	return p;
}

/* strdup that cannot fail. */
static char *
config_xstrdup(const char *s)
{
	char	*p;

	if ((p = strdup(s)) == NULL)
		fatal("%s", __func__);
	return p;
}

/* vasprintf that cannot fail. */
static char *
config_xvasprintf(const char *fmt, va_list ap)
{
	char	*p;

	if (vasprintf(&p, fmt, ap) == -1)
		fatal("%s", __func__);
	return p;
}

/* asprintf that cannot fail. */
static char *
config_xasprintf(const char *fmt, ...)
{
	va_list	 ap;
	char	*p;

	va_start(ap, fmt);
	p = config_xvasprintf(fmt, ap);
	va_end(ap);
	return p;
}

/* Records one error at a line (0: none); parsing goes on. */
static void
config_error(struct cfg_parse *p, int line, const char *fmt, ...)
{
	struct cfg_error *e;
	va_list		 ap;

	p->errs = config_xrealloc(p->errs, p->nerrs + 1, sizeof(*p->errs));
	e = &p->errs[p->nerrs];
	e->file = p->name;
	for (e->fileidx = 0; e->fileidx < p->conf->files.n; e->fileidx++)
		if (p->conf->files.v[e->fileidx] == p->name)
			break;
	e->line = line;
	e->seq = p->nerrs++;
	va_start(ap, fmt);
	e->msg = config_xvasprintf(fmt, ap);
	va_end(ap);
}

/*
 * "line N" for a line of the file being read, "FILE:N" for one of
 * another file, for "(first at ...)" in messages; valid until the next
 * call.
 */
static const char *
config_at(struct cfg_parse *p, const char *file, int line)
{
	if (file == p->name)
		snprintf(p->at, sizeof(p->at), "line %d", line);
	else
		snprintf(p->at, sizeof(p->at), "%s:%d", file, line);
	return p->at;
}

/*
 * Orders errors by file (in the order they were read), line, then the
 * order they were found.
 */
static int
config_error_cmp(const void *a, const void *b)
{
	const struct cfg_error *ea = a, *eb = b;

	if (ea->fileidx != eb->fileidx)
		return ea->fileidx < eb->fileidx ? -1 : 1;
	if (ea->line != eb->line)
		return ea->line < eb->line ? -1 : 1;
	return ea->seq < eb->seq ? -1 : (ea->seq > eb->seq);
}

/* Joins the errors into "FILE:LINE: message" lines and frees them. */
static char *
config_error_join(struct cfg_parse *p)
{
	char	*out = NULL, *line;
	size_t	 len = 0, n, i;

	qsort(p->errs, p->nerrs, sizeof(*p->errs), config_error_cmp);
	for (i = 0; i < p->nerrs; i++) {
		if (p->errs[i].line > 0)
			line = config_xasprintf("%s:%d: %s", p->errs[i].file,
			    p->errs[i].line, p->errs[i].msg);
		else
			line = config_xasprintf("%s: %s", p->errs[i].file,
			    p->errs[i].msg);
		n = strlen(line);
		out = config_xrealloc(out, len + n + 2, 1);
		if (len > 0)
			out[len++] = '\n';
		memcpy(out + len, line, n + 1);
		len += n;
		free(line);
		free(p->errs[i].msg);
	}
	free(p->errs);
	p->errs = NULL;
	p->nerrs = 0;
	return out;
}

/* Parses a size: digits with an optional k, m or g (KiB, MiB, GiB). */
int
config_parse_size(const char *s, size_t *out)
{
	unsigned long long v;
	size_t		 mult = 1;
	char		*end;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -1;
	switch (tolower((unsigned char)*end)) {
	case '\0':
		break;
	case 'k':
		mult = (size_t)1 << 10;
		end++;
		break;
	case 'm':
		mult = (size_t)1 << 20;
		end++;
		break;
	case 'g':
		mult = (size_t)1 << 30;
		end++;
		break;
	default:
		return -1;
	}
	if (*end != '\0' || v > SIZE_MAX / mult)
		return -1;
	*out = (size_t)v * mult;
	return 0;
}

/*
 * Parses a duration in seconds: digits, an optional fraction and an
 * optional ms, s or m suffix. No signs, exponents or locale: "0.5", "250ms".
 */
int
config_parse_duration(const char *s, double *out)
{
	unsigned long long ip = 0, frac = 0, div = 1;
	double		 v;

	if (!isdigit((unsigned char)*s))
		return -1;
	for (; isdigit((unsigned char)*s); s++) {
		/* Far beyond any bound; keeps the integer exact. */
		if (ip > 1000000000000ULL)
			return -1;
		ip = ip * 10 + (unsigned)(*s - '0');
	}
	if (*s == '.') {
		s++;
		if (!isdigit((unsigned char)*s))
			return -1;
		for (; isdigit((unsigned char)*s); s++) {
			if (div >= 1000000000000000ULL)
				continue;	/* beyond double precision */
			frac = frac * 10 + (unsigned)(*s - '0');
			div *= 10;
		}
	}
	/* One division, so "0.001" and "1ms" give the same double. */
	v = (double)ip + (double)frac / (double)div;
	if (*s == '\0' || strcasecmp(s, "s") == 0)
		;
	else if (strcasecmp(s, "ms") == 0)
		v = ((double)ip * (double)div + (double)frac) /
		    ((double)div * 1000.0);
	else if (strcasecmp(s, "m") == 0)
		v *= 60;
	else
		return -1;
	*out = v;
	return 0;
}

/* Parses on|off|yes|no|true|false|1|0, in any case. */
int
config_parse_bool(const char *s, int *out)
{
	static const char *const yes[] = { "on", "yes", "true", "1" };
	static const char *const no[] = { "off", "no", "false", "0" };
	size_t		 i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return -1;
}

/*
 * Parses "ADDR:PORT" or "[V6ADDR]:PORT" with numeric addresses only (no
 * name lookups at config time). Port 0 asks for an ephemeral port.
 */
int
config_parse_address(const char *s, struct sockaddr_storage *ss,
    socklen_t *len)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	char		 host[INET6_ADDRSTRLEN];
	const char	*hend, *port;
	size_t		 hlen;
	unsigned long	 pnum = 0;
	int		 v6, ndigits = 0;

	if (*s == '[') {
		s++;
		if ((hend = strchr(s, ']')) == NULL || hend[1] != ':')
			return -1;
		port = hend + 2;
		v6 = 1;
	} else {
		if ((hend = strrchr(s, ':')) == NULL)
			return -1;
		port = hend + 1;
		v6 = 0;
	}
	hlen = (size_t)(hend - s);
	if (hlen == 0 || hlen >= sizeof(host))
		return -1;
	memcpy(host, s, hlen);
	host[hlen] = '\0';

	for (; isdigit((unsigned char)*port); port++) {
		if (++ndigits > 5)
			return -1;
		pnum = pnum * 10 + (unsigned)(*port - '0');
	}
	if (ndigits == 0 || *port != '\0' || pnum > 65535)
		return -1;

	memset(ss, 0, sizeof(*ss));
	if (v6) {
		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
			return -1;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)pnum);
		*len = sizeof(*sin6);
	} else {
		/* An unbracketed IPv6 address fails here too. */
		if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
			return -1;
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)pnum);
		*len = sizeof(*sin);
	}
	return 0;
}

/* A duration in seconds as a timeval. */
struct timeval
config_timeval(double seconds)
{
	struct timeval	tv;

	tv.tv_sec = (time_t)seconds;
	tv.tv_usec = (suseconds_t)((seconds - (double)tv.tv_sec) * 1e6);
	return tv;
}

/* Parses an unsigned decimal number. */
int
config_parse_uint(const char *s, unsigned long long *out)
{
	char	*end;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	*out = strtoull(s, &end, 10);
	if (errno == ERANGE || *end != '\0')
		return -1;
	return 0;
}

/* Formats a bound of a key in the units its values are written in. */
static void
config_fmt_bound(const struct cfg_key *k, double v, char *buf, size_t size)
{
	unsigned long long n = (unsigned long long)v;

	switch (k->type) {
	case CFG_SIZE:
		if (n != 0 && n % (1ULL << 30) == 0)
			snprintf(buf, size, "%llug", n >> 30);
		else if (n != 0 && n % (1ULL << 20) == 0)
			snprintf(buf, size, "%llum", n >> 20);
		else if (n != 0 && n % (1ULL << 10) == 0)
			snprintf(buf, size, "%lluk", n >> 10);
		else
			snprintf(buf, size, "%llu", n);
		break;
	case CFG_DURATION:
		if (v > 0 && v < 1)
			snprintf(buf, size, "%gms", v * 1000);
		else
			snprintf(buf, size, "%gs", v);
		break;
	default:
		snprintf(buf, size, "%llu", n);
		break;
	}
}

/* The table's own keys, once; the apps' follow when they register. */
static void
config_keys_init(void)
{
	if (cfg_nall == 0) {
		memcpy(cfg_all, cfg_keys, sizeof(cfg_keys));
		cfg_nall = CFG_NKEYS;
	}
}

/* Adds one app key to the table, or checks it is the one there. */
static void
config_key_register(const struct config_key *ak)
{
	struct cfg_key	*k;
	size_t		 i;

	for (i = 0; i < cfg_nall; i++) {
		if (strcmp(cfg_all[i].name, ak->name) != 0)
			continue;
		if (cfg_src[i] != ak)
			fatalx("%s: key %s registered twice", __func__,
			    ak->name);
		return;
	}
	if (cfg_nall == CFG_MAXKEYS)
		fatalx("%s: more than %d app keys", __func__, CFG_APPKEYS_MAX);
	if (ak->off + (ak->type == CONFIG_KEY_DURATION ? sizeof(double) :
	    ak->type == CONFIG_KEY_SIZE ? sizeof(size_t) :
	    ak->type == CONFIG_KEY_STRING ? sizeof(char *) :
	    sizeof(int)) > cfg_conf_size ||
	    (ak->def == NULL) != (ak->type == CONFIG_KEY_STRING) ||
	    ((ak->type == CONFIG_KEY_WORD || (ak->type == CONFIG_KEY_STRING &&
	    ak->parse != NULL)) && (ak->parse == NULL || ak->why == NULL)))
		fatalx("%s: key %s: bad entry", __func__, ak->name);
	k = &cfg_all[cfg_nall];
	memset(k, 0, sizeof(*k));
	k->sect = CFG_APPKEY;
	k->name = ak->name;
	k->type = ak->type == CONFIG_KEY_DURATION ? CFG_DURATION :
	    ak->type == CONFIG_KEY_BOOL ? CFG_BOOL :
	    ak->type == CONFIG_KEY_UINT ? CFG_UINT :
	    ak->type == CONFIG_KEY_SIZE ? CFG_SIZE :
	    ak->type == CONFIG_KEY_STRING ? CFG_STRING : CFG_WORD;
	k->min = ak->type == CONFIG_KEY_BOOL ||
	    ak->type == CONFIG_KEY_WORD ||
	    ak->type == CONFIG_KEY_STRING ? 0 : ak->min;
	k->max = ak->type == CONFIG_KEY_BOOL ||
	    ak->type == CONFIG_KEY_WORD ||
	    ak->type == CONFIG_KEY_STRING ? 1 : ak->max;
	k->def = ak->def;
	k->off = ak->off;
	cfg_src[cfg_nall++] = ak;
}

/* Takes the app layer's table: names, keys, the size of app_conf. */
void
config_register_apps(const struct config_app *const *apps, size_t n,
    size_t conf_size)
{
	const struct config_key *const *ak, *kmax;
	size_t		 i, j, len;

	config_keys_init();
	if (cfg_nall > CFG_NKEYS)
		fatalx("%s: apps registered twice", __func__);
	cfg_apps = apps;
	cfg_napps = n;
	cfg_conf_size = conf_size;
	for (i = 0; i < n; i++) {
		len = strlen(cfg_app_names);
		if (snprintf(cfg_app_names + len, sizeof(cfg_app_names) - len,
		    " %s", apps[i]->name) >= (int)(sizeof(cfg_app_names) - len))
			fatalx("%s: too many apps", __func__);
		for (ak = apps[i]->keys; ak != NULL && *ak != NULL; ak++)
			config_key_register(*ak);
	}
	for (i = CFG_NKEYS; i < cfg_nall; i++) {
		if (cfg_src[i]->not_above == NULL)
			continue;
		kmax = NULL;
		for (j = CFG_NKEYS; j < cfg_nall; j++)
			if (strcmp(cfg_all[j].name, cfg_src[i]->not_above) == 0)
				kmax = cfg_src[j];
		if (kmax == NULL || kmax->type != CONFIG_KEY_DURATION ||
		    cfg_src[i]->type != CONFIG_KEY_DURATION)
			fatalx("%s: key %s: bad not_above", __func__,
			    cfg_src[i]->name);
	}
}

/* Takes the deeper check of [tls] files (tls_check). */
void
config_register_tls_check(config_tls_check_fn fn)
{
	cfg_tls_check = fn;
}

/* A registered app by name. */
static const struct config_app *
config_app_find(const char *name)
{
	size_t	i;

	for (i = 0; i < cfg_napps; i++)
		if (strcmp(cfg_apps[i]->name, name) == 0)
			return cfg_apps[i];
	return NULL;
}

/* Looks a key up by name. */
static const struct cfg_key *
config_key_find(const char *name)
{
	size_t	i;

	for (i = 0; i < cfg_nall; i++)
		if (strcmp(cfg_all[i].name, name) == 0)
			return &cfg_all[i];
	return NULL;
}

/* Whether a key may be written in the section being read. */
static int
config_key_allowed(const struct cfg_key *k, enum cfg_in in)
{
	switch (in) {
	case CFG_IN_SERVER:
		return k->sect == CFG_SERVER;
	case CFG_IN_ROUTE:
		return k->sect == CFG_ROUTE || k->sect == CFG_APPKEY ||
		    (k->sect == CFG_SERVER && k->route);
	case CFG_IN_TLS:
		return k->sect == CFG_TLS;
	case CFG_IN_CLUSTER:
		return k->sect == CFG_CLUSTER;
	default:
		return 0;
	}
}

/* Edit distance of two short strings; large for long ones. */
static size_t
config_distance(const char *a, const char *b)
{
	size_t	 la = strlen(a), lb = strlen(b), i, j, d[64], prev, tmp;

	if (la >= 64 || lb >= 64)
		return SIZE_MAX;
	for (j = 0; j <= lb; j++)
		d[j] = j;
	for (i = 1; i <= la; i++) {
		prev = d[0];
		d[0] = i;
		for (j = 1; j <= lb; j++) {
			tmp = d[j];
			d[j] = prev + (a[i - 1] != b[j - 1]);
			if (d[j] > d[j - 1] + 1)
				d[j] = d[j - 1] + 1;
			if (d[j] > tmp + 1)
				d[j] = tmp + 1;
			prev = tmp;
		}
	}
	return d[lb];
}

/* The closest key allowed in this section, if it is a likely typo. */
static const char *
config_key_suggest(const char *name, enum cfg_in in)
{
	const char	*best = NULL;
	size_t		 i, d, bestd = 3;	/* at most two edits */

	for (i = 0; i < cfg_nall; i++) {
		if (!config_key_allowed(&cfg_all[i], in))
			continue;
		d = config_distance(name, cfg_all[i].name);
		/* Short names are a few edits from anything ("foo", "log"). */
		if (d * 2 > strlen(cfg_all[i].name))
			continue;
		if (d < bestd) {
			bestd = d;
			best = cfg_all[i].name;
		}
	}
	return best;
}

/* Stores a parsed number into its field. */
static void
config_store(const struct cfg_key *k, void *base, double v)
{
	char	*field = (char *)base + k->off;

	switch (k->type) {
	case CFG_SIZE:
		*(size_t *)(void *)field = (size_t)v;
		break;
	case CFG_DURATION:
		*(double *)(void *)field = v;
		break;
	case CFG_UINT:
	case CFG_WORKERS:
		*(unsigned *)(void *)field = (unsigned)v;
		break;
	case CFG_BOOL:
	case CFG_ACCESSLOG:
	case CFG_LOGFORMAT:
	case CFG_LOGLEVEL:
	case CFG_WORD:
	case CFG_TLSVER:
	case CFG_LOGTARGET:
	case CFG_DOTFILES:
	case CFG_COMPRESSION:
		*(int *)(void *)field = (int)v;
		break;
	default:
		fatalx("%s: key %s has no number", __func__, k->name);
	}
}

/* Copies an inherited field from the [server] limits to a route's. */
static void
config_inherit(const struct cfg_key *k, struct wsd_limits *dst,
    const struct wsd_limits *src)
{
	size_t	size;

	switch (k->type) {
	case CFG_SIZE:
		size = sizeof(size_t);
		break;
	case CFG_UINT:
		size = sizeof(unsigned);
		break;
	case CFG_BOOL:
	case CFG_COMPRESSION:
		size = sizeof(int);
		break;
	case CFG_DURATION:
		size = sizeof(double);
		break;
	default:
		/* A new overridable type must say its size here. */
		fatalx("%s: key %s: type %d", __func__, k->name, k->type);
	}
	memcpy((char *)dst + k->off, (const char *)src + k->off, size);
}

/*
 * Parses a number-like value of a key. Returns 0 and the value, or -1
 * with the problem in *why (a static string) or out of bounds.
 */
static int
config_value(const struct cfg_key *k, const char *s, double *v,
    const char **why)
{
	unsigned long long n;
	size_t		 sz;
	int		 b;

	*why = NULL;
	switch (k->type) {
	case CFG_SIZE:
		if (config_parse_size(s, &sz) == -1) {
			*why = "invalid size";
			return -1;
		}
		*v = (double)sz;
		break;
	case CFG_DURATION:
		if (config_parse_duration(s, v) == -1) {
			*why = "invalid duration";
			return -1;
		}
		break;
	case CFG_UINT:
		if (config_parse_uint(s, &n) == -1) {
			*why = "invalid number";
			return -1;
		}
		*v = (double)n;
		break;
	case CFG_BOOL:
	case CFG_ACCESSLOG:
		/* access_log: a file is taken by config_set(), not here. */
		if (config_parse_bool(s, &b) == -1) {
			*why = k->type == CFG_BOOL ? "invalid boolean "
			    "(on|off|yes|no|true|false|1|0)" : "invalid value "
			    "(on|off or a file path with a /)";
			return -1;
		}
		*v = b;
		return 0;
	case CFG_LOGFORMAT:
		if ((b = log_format_parse(s)) == -1) {
			*why = "invalid format (text|json)";
			return -1;
		}
		*v = b;
		return 0;
	case CFG_LOGLEVEL:
		if ((b = log_level_parse(s)) == -1) {
			*why = "invalid level (error|warn|info|debug)";
			return -1;
		}
		*v = b;
		return 0;
	case CFG_WORD:
		if ((b = cfg_src[k - cfg_all]->parse(s)) == -1) {
			*why = cfg_src[k - cfg_all]->why;
			return -1;
		}
		*v = b;
		return 0;
	case CFG_LOGTARGET:
		if ((b = log_target_parse(s)) == -1) {
			*why = "invalid log destination (stderr|syslog)";
			return -1;
		}
		*v = b;
		return 0;
	case CFG_COMPRESSION:
		/* A boolean keeps meaning what it meant: on or off. */
		if (strcasecmp(s, "shared") == 0)
			*v = WSD_COMPRESSION_SHARED;
		else if (config_parse_bool(s, &b) == 0)
			*v = b ? WSD_COMPRESSION_ON : WSD_COMPRESSION_OFF;
		else {
			*why = "invalid value (on|shared|off)";
			return -1;
		}
		return 0;
	case CFG_WORKERS:
		if (strcmp(s, "auto") == 0) {
			*v = 0;
			return 0;
		}
		if (config_parse_uint(s, &n) == -1 || n < k->min ||
		    n > k->max) {
			*why = "invalid value (auto or 1..64)";
			return -1;
		}
		*v = (double)n;
		return 0;
	case CFG_DOTFILES:
		if (strcmp(s, "allow") == 0)
			*v = 1;
		else if (strcmp(s, "deny") == 0)
			*v = 0;
		else {
			*why = "invalid value (allow|deny)";
			return -1;
		}
		return 0;
	case CFG_TLSVER:
		if (strcmp(s, "1.2") == 0)
			*v = TLS1_2_VERSION;
		else if (strcmp(s, "1.3") == 0)
			*v = TLS1_3_VERSION;
		else {
			*why = "invalid version (1.2|1.3)";
			return -1;
		}
		return 0;
	default:
		fatalx("%s: key %s has no number", __func__, k->name);
	}
	if (*v < k->min || *v > k->max)
		return -1;
	return 0;
}

/* The port of an AF_INET or AF_INET6 address, in host order. */
static unsigned
config_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	return ntohs(((const struct sockaddr_in *)ss)->sin_port);
}

/* Parses one listen value, "ADDR:PORT [FLAG]...", and adds it. */
static void
config_listen(struct cfg_parse *p, const char *value, int line)
{
	struct wsd_config *conf = p->conf;
	struct wsd_listen *l;
	struct sockaddr_storage ss;
	socklen_t	 len;
	char		*addr, *flag, *save = NULL;
	size_t		 i;
	int		 bad = 0, tls = 0, proxy = 0, *fl;

	addr = config_xstrdup(value);
	strtok_r(addr, " \t", &save);
	while ((flag = strtok_r(NULL, " \t", &save)) != NULL) {
		if (strcmp(flag, "tls") == 0)
			fl = &tls;
		else if (strcmp(flag, "proxy_protocol") == 0)
			fl = &proxy;
		else {
			config_error(p, line, "unknown listen flag \"%s\"",
			    flag);
			bad = 1;
			continue;
		}
		if (*fl) {
			config_error(p, line, "duplicate listen flag \"%s\"",
			    flag);
			bad = 1;
		}
		*fl = 1;
	}
	if (config_parse_address(addr, &ss, &len) == -1) {
		config_error(p, line, "listen: invalid address \"%s\" "
		    "(expected ADDR:PORT or [V6ADDR]:PORT)", addr);
		free(addr);
		return;
	}
	for (i = 0; i < conf->nlistens; i++) {
		l = &conf->listens[i];
		/* Port 0 gives each listener its own ephemeral port. */
		if (l->addrlen != len || memcmp(&l->addr, &ss, len) != 0)
			continue;
		if (config_port(&ss) == 0)
			continue;
		if (l->line == 0)
			config_error(p, line, "duplicate listen %s", addr);
		else
			config_error(p, line, "duplicate listen %s (first at "
			    "%s)", addr, config_at(p, l->file, l->line));
		bad = 1;
		break;
	}
	if (bad) {
		free(addr);
		return;
	}
	conf->listens = config_xrealloc(conf->listens, conf->nlistens + 1,
	    sizeof(*conf->listens));
	l = &conf->listens[conf->nlistens++];
	memset(l, 0, sizeof(*l));
	l->text = addr;
	l->addr = ss;
	l->addrlen = len;
	l->tls = tls;
	l->proxy_protocol = proxy;
	l->file = p->name;
	l->line = line;
}

/*
 * A [tls] file name as an absolute path: a relative one is taken from
 * the config file's directory, like a static root. The file is not
 * looked at; tls.c reports what is wrong with it. NULL after an error.
 */
static char *
config_file_path(struct cfg_parse *p, const struct cfg_key *k,
    const char *value)
{
	char	*path, *abs, *cwd;

	if (value[0] == '/')
		return config_xstrdup(value);
	if (p->dir != NULL && strcmp(p->dir, ".") != 0)
		path = config_xasprintf("%s/%s", p->dir, value);
	else
		path = config_xstrdup(value);
	if (path[0] == '/')
		return path;
	/* The config's own name was relative: anchor it here and now. */
	if ((cwd = getcwd(NULL, 0)) == NULL) {
		config_error(p, p->line, "%s \"%s\": %s", k->name, value,
		    strerror(errno));
		free(path);
		return NULL;
	}
	abs = config_xasprintf("%s%s%s", cwd, strcmp(cwd, "/") ? "/" : "",
	    path);
	free(cwd);
	free(path);
	return abs;
}

/* Why name cannot be a host name of host or [tls NAME...], or NULL. */
static const char *
config_host_check(const char *name)
{
	const char	*label = name;
	size_t		 n, i;

	if (strlen(name) > 253)
		return "longer than 253 characters";
	if (label[0] == '*') {
		if (label[1] != '.' || label[2] == '\0')
			return "a wildcard is \"*.\" and a name";
		label += 2;
	}
	for (;;) {
		n = strcspn(label, ".");
		if (n == 0)
			return "empty label (no final dot, no \"..\")";
		if (n > 63)
			return "a label is longer than 63 characters";
		for (i = 0; i < n; i++)
			if (!isalnum((unsigned char)label[i]) &&
			    label[i] != '-')
				return "only letters, digits, \"-\" and \".\"";
		if (label[0] == '-' || label[n - 1] == '-')
			return "a label starts or ends with \"-\"";
		if (label[n] == '\0')
			return NULL;
		label += n + 1;
	}
}

/*
 * Checks one host name of a list (host, [tls NAME...]) and lowercases it
 * in place; -1 (reported) when it is bad or already in l.
 */
static int
config_host_word(struct cfg_parse *p, const char *what, char *w,
    const struct wsd_strlist *l)
{
	const char	*why;
	char		*c;
	size_t		 i;

	for (c = w; *c != '\0'; c++)
		*c = (char)tolower((unsigned char)*c);
	if ((why = config_host_check(w)) != NULL) {
		config_error(p, p->line, "%s: invalid host name \"%s\": %s",
		    what, w, why);
		return -1;
	}
	for (i = 0; i < l->n; i++)
		if (strcmp(l->v[i], w) == 0) {
			config_error(p, p->line, "%s: host name \"%s\" given "
			    "twice", what, w);
			return -1;
		}
	return 0;
}

/*
 * A file wsd reads (a certificate, a key) must be a readable file; the
 * error is its key's line. -1 when it is not.
 */
static int
config_file_check(struct cfg_parse *p, const struct cfg_key *k,
    const char *path)
{
	struct stat	 st;
	int		 saved = 0;

	if (stat(path, &st) == -1)
		saved = errno;
	else if (S_ISDIR(st.st_mode))
		saved = EISDIR;
	else if (access(path, R_OK) == -1)
		saved = errno;
	if (saved == 0)
		return 0;
	config_error(p, p->line, "%s \"%s\": %s", k->name, path,
	    strerror(saved));
	return -1;
}

/*
 * Appends the words of a list value (origins, subprotocols, host names)
 * to a list, checking each; -1 when one is bad.
 */
static int
config_list(struct cfg_parse *p, const struct cfg_key *k, const char *value,
    struct wsd_strlist *l)
{
	char		*copy, *w, *save = NULL, buf[ACCESS_ORIGIN_MAX];
	const char	*why;
	int		 bad = 0;

	copy = config_xstrdup(value);
	for (w = strtok_r(copy, " \t", &save); w != NULL;
	    w = strtok_r(NULL, " \t", &save)) {
		if (k->type == CFG_ORIGINS) {
			if (access_origin_serialise(w, strlen(w), buf,
			    sizeof(buf), &why) == -1) {
				config_error(p, p->line, "%s: invalid origin "
				    "\"%s\": %s", k->name, w, why);
				bad = 1;
				continue;
			}
			w = buf;
		} else if (k->type == CFG_HOSTS) {
			if (config_host_word(p, k->name, w, l) == -1) {
				bad = 1;
				continue;
			}
		} else if (!http_token_valid(w, strlen(w))) {
			config_error(p, p->line, "%s: invalid subprotocol "
			    "\"%s\" (not an HTTP token)", k->name, w);
			bad = 1;
			continue;
		}
		l->v = config_xrealloc(l->v, l->n + 1, sizeof(*l->v));
		l->v[l->n++] = config_xstrdup(w);
	}
	free(copy);
	return bad ? -1 : 0;
}

/*
 * A user or group name that must exist now: the privilege drop looks it
 * up again at start-up, but -t should catch a typo.
 */
static int
config_account(struct cfg_parse *p, const struct cfg_key *k, void *base,
    const char *value)
{
	char	**field = (char **)(void *)((char *)base + k->off);
	int	  found;

	errno = 0;
	if (k->type == CFG_USER)
		found = getpwnam(value) != NULL;
	else
		found = getgrnam(value) != NULL;
	if (!found) {
		config_error(p, p->line, "%s: no such %s \"%s\"%s%s", k->name,
		    k->type == CFG_USER ? "user" : "group", value,
		    errno != 0 ? ": " : "", errno != 0 ? strerror(errno) : "");
		return -1;
	}
	*field = config_xstrdup(value);
	return 0;
}

/* Applies one key = value inside the current section; -1: bad value. */
static int
config_set(struct cfg_parse *p, const struct cfg_key *k, const char *value)
{
	struct wsd_route *r = NULL;
	struct cfg_route_state *st = NULL;
	const struct config_app *a;
	const char	*why;
	char		 lo[32], hi[32], word[64], **field, bad[256];
	void		*base;
	double		 v;
	int		 b;

	if (p->in == CFG_IN_ROUTE) {
		r = &p->conf->routes[p->route];
		st = &p->rstate[p->route];
		base = k->sect == CFG_APPKEY ? r->app_conf : k->route ?
		    (void *)&r->lim : (void *)r;
	} else if (p->in == CFG_IN_TLS)
		base = p->tls_cur == 0 ? &p->conf->tls :
		    &p->conf->tls_hosts[p->tls_cur - 1];
	else if (p->in == CFG_IN_CLUSTER)
		base = &p->conf->cluster;
	else
		base = k->route ? (void *)&p->conf->lim : (void *)p->conf;

	switch (k->type) {
	case CFG_LISTEN:
		config_listen(p, value, p->line);
		return 0;
	case CFG_APP:
		if (strcmp(value, "static") == 0) {
			st->kind = CFG_ROUTE_STATIC;
			r->app = NULL;
		} else if ((a = config_app_find(value)) != NULL) {
			st->kind = CFG_ROUTE_APP;
			st->app = a;
			r->app = a->app;
		} else {
			st->kind = CFG_ROUTE_BAD;
			config_error(p, p->line, "unknown app \"%s\" "
			    "(known: %s)", value, cfg_app_names);
		}
		return 0;
	case CFG_PATH:
		r->root = config_xstrdup(value);
		return 0;
	case CFG_FILE:
		field = (char **)(void *)((char *)base + k->off);
		if ((*field = config_file_path(p, k, value)) == NULL)
			return -1;
		/* Read at start-up and on reloads: -t reports it here. */
		if (p->in == CFG_IN_TLS || p->in == CFG_IN_CLUSTER)
			return config_file_check(p, k, *field);
		return 0;
	case CFG_ACCESSLOG:
		/* on|off as a boolean; a path names a file of its own. */
		if (config_parse_bool(value, &b) == -1 &&
		    strchr(value, '/') != NULL) {
			p->conf->access_log = 1;
			if ((p->conf->access_log_file = config_file_path(p, k,
			    value)) == NULL)
				return -1;
			return 0;
		}
		break;
	case CFG_STRING:
		field = (char **)(void *)((char *)base + k->off);
		if (k->sect == CFG_APPKEY && cfg_src[k - cfg_all]->parse !=
		    NULL && cfg_src[k - cfg_all]->parse(value) == -1) {
			config_error(p, p->line, "%s: %s \"%s\"", k->name,
			    cfg_src[k - cfg_all]->why, value);
			return -1;
		}
		free(*field);
		*field = config_xstrdup(value);
		/* An app's string key may have its own check (exec). */
		if (k->sect == CFG_APPKEY && cfg_src[k - cfg_all]->check !=
		    NULL && cfg_src[k - cfg_all]->check(value, bad,
		    sizeof(bad)) == -1) {
			config_error(p, p->line, "%s: %s", k->name, bad);
			return -1;
		}
		return 0;
	case CFG_ORIGINS:
	case CFG_PROTOCOLS:
	case CFG_HOSTS:
		return config_list(p, k, value,
		    (struct wsd_strlist *)(void *)((char *)base + k->off));
	case CFG_USER:
	case CFG_GROUP:
		return config_account(p, k, base, value);
	case CFG_CIDR:
		switch (cidr_list_parse((struct cidr_list *)(void *)((char *)base +
		    k->off), value, word, sizeof(word))) {
		case 0:
			return 0;
		case -2:
			fatal("%s", __func__);
		default:
			config_error(p, p->line, "%s: invalid address or "
			    "network \"%s\" (expected ADDR or ADDR/LEN, host "
			    "bits zero)", k->name, word);
			return -1;
		}
	default:
		break;
	}
	if (config_value(k, value, &v, &why) == 0) {
		config_store(k, base, v);
		return 0;
	}
	if (why != NULL) {
		config_error(p, p->line, "%s: %s \"%s\"", k->name, why, value);
		return -1;
	}
	config_fmt_bound(k, k->min, lo, sizeof(lo));
	config_fmt_bound(k, k->max, hi, sizeof(hi));
	config_error(p, p->line, "%s: \"%s\" is out of range (%s to %s)",
	    k->name, value, lo, hi);
	return -1;
}

/* Keeps a value as written, for config_print and config_changes. */
static void
config_value_keep(struct cfg_parse *p, const struct cfg_key *k,
    const char *value)
{
	struct config_values *vs = p->conf->values;
	struct config_value *v;

	vs->v = config_xrealloc(vs->v, vs->n + 1, sizeof(*vs->v));
	v = &vs->v[vs->n++];
	v->sect = p->in == CFG_IN_SERVER ? CFG_VSECT_SERVER :
	    p->in == CFG_IN_TLS ? CFG_VSECT_TLS :
	    p->in == CFG_IN_CLUSTER ? CFG_VSECT_CLUSTER : (long)p->route;
	v->key = (size_t)(k - cfg_all);
	v->text = config_xstrdup(value);
}

/*
 * inih's handler. It gets no line number (Debian builds inih without
 * INI_HANDLER_LINENO), but inih calls it right after the reader returned
 * the line, so the reader's count is this line. The section argument is
 * ignored: inih cuts it at 49 bytes; the reader tracks sections itself.
 */
static int
config_handler_cb(void *user, const char *section, const char *name,
    const char *value)
{
	struct cfg_parse *p = user;
	const struct cfg_key *k;
	const char	*hint;
	int		*seen, *bad = NULL;

	(void)section;
	/* Not a key of any section: it may stand anywhere. */
	if (strcmp(name, "include") == 0) {
		if (*value == '\0')
			config_error(p, p->line, "include: missing value");
		else
			config_include(p, value);
		return 1;
	}
	switch (p->in) {
	case CFG_IN_SKIP:
		return 1;	/* the section header was already reported */
	case CFG_IN_NONE:
		config_error(p, p->line, "key \"%s\" outside any section",
		    name);
		return 1;
	default:
		break;
	}

	if ((k = config_key_find(name)) == NULL) {
		hint = config_key_suggest(name, p->in);
		config_error(p, p->line, "unknown key \"%s\" in [%s%s]%s%s%s",
		    name, p->in == CFG_IN_SERVER ? "server" :
		    p->in == CFG_IN_TLS ? "tls" :
		    p->in == CFG_IN_CLUSTER ? "cluster" : "route ",
		    p->in == CFG_IN_ROUTE ? p->conf->routes[p->route].path : "",
		    hint ? " (did you mean \"" : "",
		    hint ? hint : "", hint ? "\"?)" : "");
		return 1;
	}
	if (!config_key_allowed(k, p->in)) {
		config_error(p, p->line, "key \"%s\" belongs in %s", name,
		    k->sect == CFG_SERVER ? "the [server] section" :
		    k->sect == CFG_TLS ? "the [tls] section" :
		    k->sect == CFG_CLUSTER ? "the [cluster] section" :
		    "a [route PATH] section");
		return 1;
	}

	/* One set of protocol settings: the ClientHello is read once. */
	if (p->in == CFG_IN_TLS && p->tls_cur != 0 && k->type != CFG_FILE) {
		config_error(p, p->line, "key \"%s\" belongs in the [tls] "
		    "section: it applies to every certificate", name);
		return 1;
	}
	if (p->in == CFG_IN_SERVER)
		seen = &p->server_seen[k - cfg_all];
	else if (p->in == CFG_IN_TLS && p->tls_cur != 0)
		seen = &p->tls_hseen[p->tls_cur - 1][k - cfg_all];
	else if (p->in == CFG_IN_TLS)
		seen = &p->tls_seen[k - cfg_all];
	else if (p->in == CFG_IN_CLUSTER)
		seen = &p->cluster_seen[k - cfg_all];
	else {
		seen = &p->rstate[p->route].seen[k - cfg_all];
		bad = &p->rstate[p->route].bad[k - cfg_all];
	}
	if (*seen != 0 && k->type != CFG_LISTEN && k->type != CFG_ORIGINS &&
	    k->type != CFG_PROTOCOLS && k->type != CFG_CIDR &&
	    k->type != CFG_HOSTS) {
		config_error(p, p->line, "duplicate key \"%s\" (first at line "
		    "%d)", name, *seen);
		return 1;
	}
	*seen = p->line;

	if (*value == '\0') {
		config_error(p, p->line, "%s: missing value", name);
		if (p->in == CFG_IN_TLS)
			p->tls_bad = 1;
		if (k->type == CFG_APP)
			p->rstate[p->route].kind = CFG_ROUTE_BAD;
		if (bad != NULL)
			*bad = 1;
		return 1;
	}
	if (config_set(p, k, value) == -1) {
		if (bad != NULL)
			*bad = 1;
		if (p->in == CFG_IN_TLS)
			p->tls_bad = 1;
	} else
		config_value_keep(p, k, value);
	return 1;
}

/* Why a route path is not acceptable, or NULL when it is. */
static const char *
config_route_path_check(const char *path)
{
	const char	*s, *seg;
	size_t		 len;

	if (*path != '/')
		return "must start with \"/\"";
	for (s = path; *s != '\0'; s++) {
		if (isspace((unsigned char)*s) || iscntrl((unsigned char)*s))
			return "must not contain white space or control "
			    "characters";
		if (*s == '?' || *s == '#')
			return "must not contain \"?\" or \"#\"";
	}
	if (path[1] == '\0')
		return NULL;
	/* A trailing "/" is for prefix apps only: config_finish() says. */
	for (seg = path + 1; seg != NULL; seg = s ? s + 1 : NULL) {
		s = strchr(seg, '/');
		len = s ? (size_t)(s - seg) : strlen(seg);
		if (len == 0 && s == NULL && seg[-1] == '/' && seg - 1 > path)
			break;
		if (len == 0)
			return "must not contain empty segments (\"//\")";
		if ((len == 1 && seg[0] == '.') ||
		    (len == 2 && seg[0] == '.' && seg[1] == '.'))
			return "must not contain \".\" or \"..\" segments";
	}
	return NULL;
}

/* Stores the table default of key k into base. */
static void
config_default_store(const struct cfg_key *k, void *base)
{
	const char	*why;
	double		 v;

	if (config_value(k, k->def, &v, &why) == -1)
		fatalx("bad default for %s", k->name);
	config_store(k, base, v);
}

/*
 * Sets a new route's app keys, and its own keys that have a default, to
 * their defaults, whatever its app.
 */
static void
config_route_defaults(struct wsd_route *r)
{
	size_t	i;

	/* Never empty, so that no app key's store meets a NULL. */
	if ((r->app_conf = calloc(1, cfg_conf_size + 1)) == NULL)
		fatal("%s", __func__);
	/* String app keys start unset (NULL). */
	for (i = 0; i < cfg_nall; i++)
		if (cfg_all[i].sect == CFG_APPKEY && cfg_all[i].def != NULL)
			config_default_store(&cfg_all[i], r->app_conf);
		else if (cfg_all[i].sect == CFG_ROUTE && cfg_all[i].def != NULL)
			config_default_store(&cfg_all[i], r);
}

/*
 * Opens a [tls NAME...] section: a certificate for those names, chosen by
 * SNI. A name may belong to one section only.
 */
static void
config_tls_host_section(struct cfg_parse *p, const char *arg)
{
	struct wsd_config *conf = p->conf;
	struct wsd_strlist names = { NULL, 0 };
	struct wsd_tls	*t;
	size_t		 i, j, k;
	int		 bad;

	bad = config_list(p, &cfg_tls_names, arg, &names) == -1;
	for (i = 0; i < names.n; i++)
		for (j = 0; j < conf->ntls_hosts; j++)
			for (k = 0; k < conf->tls_hosts[j].names.n; k++) {
				if (strcmp(names.v[i],
				    conf->tls_hosts[j].names.v[k]) != 0)
					continue;
				config_error(p, p->line, "[tls]: host name "
				    "\"%s\" already has a certificate (at "
				    "line %d)", names.v[i],
				    conf->tls_hosts[j].line);
				bad = 1;
			}
	if (bad) {
		config_list_free(&names);
		return;		/* p->in stays CFG_IN_SKIP */
	}
	conf->tls_hosts = config_xrealloc(conf->tls_hosts,
	    conf->ntls_hosts + 1, sizeof(*conf->tls_hosts));
	p->tls_hseen = config_xrealloc(p->tls_hseen, conf->ntls_hosts + 1,
	    sizeof(*p->tls_hseen));
	t = &conf->tls_hosts[conf->ntls_hosts];
	memset(t, 0, sizeof(*t));
	memset(&p->tls_hseen[conf->ntls_hosts], 0, sizeof(*p->tls_hseen));
	t->names = names;
	t->line = p->line;
	p->tls_cur = ++conf->ntls_hosts;
	p->in = CFG_IN_TLS;
}

/* Opens a section from the text between its brackets. */
static void
config_section(struct cfg_parse *p, char *s)
{
	struct wsd_config *conf = p->conf;
	struct wsd_route *r;
	const char	*why, *arg;
	size_t		 len, wlen;

	p->in = CFG_IN_SKIP;
	while (isspace((unsigned char)*s))
		s++;
	len = strlen(s);
	while (len > 0 && isspace((unsigned char)s[len - 1]))
		s[--len] = '\0';
	/* "server", "tls" or "route", then the argument, if any. */
	wlen = strcspn(s, " \t");
	for (arg = s + wlen; isspace((unsigned char)*arg); arg++)
		;

	/*
	 * A second [server] or [tls] is an error, but its keys are still
	 * read as the first one's, so that their errors are reported too.
	 */
	if (wlen == 6 && strncmp(s, "server", 6) == 0 && *arg == '\0') {
		if (p->server_line != 0)
			config_error(p, p->line, "duplicate [server] section "
			    "(first at %s)", config_at(p, p->server_file,
			    p->server_line));
		else {
			p->server_line = p->line;
			p->server_file = p->name;
		}
		p->in = CFG_IN_SERVER;
		return;
	}
	if (wlen == 3 && strncmp(s, "tls", 3) == 0 && *arg == '\0') {
		if (conf->tls.line != 0)
			config_error(p, p->line, "duplicate [tls] section "
			    "(first at %s)", config_at(p, conf->tls.file,
			    conf->tls.line));
		else {
			conf->tls.line = p->line;
			conf->tls.file = p->name;
		}
		p->tls_cur = 0;
		p->in = CFG_IN_TLS;
		return;
	}
	if (wlen == 3 && strncmp(s, "tls", 3) == 0) {
		config_tls_host_section(p, arg);
		return;
	}
	if (wlen == 7 && strncmp(s, "cluster", 7) == 0 && *arg == '\0') {
		if (conf->cluster.line != 0)
			config_error(p, p->line, "duplicate [cluster] section "
			    "(first at %s)", config_at(p, conf->cluster.file,
			    conf->cluster.line));
		else {
			conf->cluster.line = p->line;
			conf->cluster.file = p->name;
		}
		p->in = CFG_IN_CLUSTER;
		return;
	}
	if (wlen != 5 || strncmp(s, "route", 5) != 0) {
		config_error(p, p->line, "unknown section \"[%s]\"", s);
		return;
	}
	if (*arg == '\0') {
		config_error(p, p->line, "route without a path "
		    "(expected [route /PATH])");
		return;
	}
	if ((why = config_route_path_check(arg)) != NULL) {
		config_error(p, p->line, "invalid route path \"%s\": %s", arg,
		    why);
		return;
	}
	/* Duplicates wait for the hosts: config_finish_hosts(). */
	conf->routes = config_xrealloc(conf->routes, conf->nroutes + 1,
	    sizeof(*conf->routes));
	p->rstate = config_xrealloc(p->rstate, conf->nroutes + 1,
	    sizeof(*p->rstate));
	r = &conf->routes[conf->nroutes];
	memset(r, 0, sizeof(*r));
	memset(&p->rstate[conf->nroutes], 0, sizeof(*p->rstate));
	r->path = config_xstrdup(arg);
	r->path_len = strlen(arg);
	r->file = p->name;
	r->line = p->line;
	config_route_defaults(r);
	p->route = conf->nroutes++;
	p->in = CFG_IN_ROUTE;
}

/* Next byte of the config text, or EOF. */
static int
config_getc(struct cfg_parse *p)
{
	int	c;

	if (p->fp != NULL) {
		if ((c = getc(p->fp)) == EOF && ferror(p->fp))
			p->read_errno = errno ? errno : EIO;
		return c;
	}
	if (*p->text == '\0')
		return EOF;
	return (unsigned char)*p->text++;
}

/* Whether the text left of '=' can be a key inih splits the same way. */
static int
config_is_key_line(const char *s)
{
	const char	*eq, *c;

	if ((eq = strchr(s, '=')) == NULL || eq == s)
		return 0;
	for (c = s; c < eq; c++) {
		/* inih would split at ':' (name:value) too. */
		if (*c == ':')
			return 0;
		if (isspace((unsigned char)*c)) {
			while (c < eq && isspace((unsigned char)*c))
				c++;
			return c == eq;
		}
	}
	return 1;
}

/* Frees the file names of an include line. */
static void
config_incl_free(char **v, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* The directory glob(3) could not read, for the include's message. */
static int	cfg_glob_errno;
static char	cfg_glob_path[PATH_MAX];

/*
 * glob(3)'s error callback: a directory that does not exist matches
 * nothing (conf.d may be absent); one that cannot be read is an error.
 */
static int
config_glob_error_cb(const char *path, int err)
{
	if (err == ENOENT || err == ENOTDIR)
		return 0;
	cfg_glob_errno = err;
	snprintf(cfg_glob_path, sizeof(cfg_glob_path), "%s", path);
	return 1;
}

/*
 * An include line: its pattern (relative to the directory of the file
 * that holds the line) expands to the files that match, in sorted order;
 * the reader reads them, one after another, before the next line. A
 * pattern without wildcards must name a file; one with them may match
 * nothing (an empty conf.d).
 */
static void
config_include(struct cfg_parse *p, const char *pattern)
{
	glob_t		 g;
	char		*path;
	size_t		 i;
	int		 rc;

	config_incl_free(p->incl, p->nincl);
	p->incl = NULL;
	p->nincl = p->inext = 0;
	if (pattern[0] != '/' && p->dir != NULL)
		path = config_xasprintf("%s/%s", p->dir, pattern);
	else
		path = config_xstrdup(pattern);
	memset(&g, 0, sizeof(g));
	cfg_glob_errno = 0;
	rc = glob(path, 0, config_glob_error_cb, &g);
	if (rc == GLOB_NOMATCH && strpbrk(pattern, "*?[") == NULL)
		config_error(p, p->line, "include \"%s\": %s", path,
		    strerror(ENOENT));
	else if (rc == GLOB_ABORTED)
		config_error(p, p->line, "include \"%s\": %s: %s", path,
		    cfg_glob_path, strerror(cfg_glob_errno));
	else if (rc == GLOB_NOSPACE)
		fatalx("%s: glob: out of memory", __func__);
	else if (rc == 0) {
		p->incl = config_xrealloc(NULL, g.gl_pathc + 1,
		    sizeof(*p->incl));
		for (i = 0; i < g.gl_pathc; i++)
			p->incl[i] = config_xstrdup(g.gl_pathv[i]);
		p->nincl = g.gl_pathc;
		p->incl_line = p->line;
	}
	if (rc != GLOB_NOMATCH)
		globfree(&g);
	free(path);
}

/* The directory part of a file name; NULL for a bare name (the cwd). */
static char *
config_dirname(const char *name)
{
	const char	*slash;
	char		*dir;

	if ((slash = strrchr(name, '/')) == NULL)
		return NULL;
	if (slash == name)
		return config_xstrdup("/");
	if ((dir = strndup(name, (size_t)(slash - name))) == NULL)
		fatal("%s", __func__);
	return dir;
}

/*
 * Opens the next file of the current include line and makes it the one
 * read, in no section; errors (a missing file, a loop, too deep) are the
 * include line's.
 */
static void
config_include_next(struct cfg_parse *p)
{
	struct cfg_input *in;
	struct stat	 st;
	const char	*path = p->incl[p->inext++];
	FILE		*fp;
	size_t		 i;
	int		 fd, loop = 0;

	/* Non-blocking: opening a FIFO must not wait for a writer. */
	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) == -1 ||
	    fstat(fd, &st) == -1) {
		config_error(p, p->incl_line, "include \"%s\": %s", path,
		    strerror(errno));
		if (fd != -1)
			close(fd);
		return;
	}
	/* Not a device or a FIFO: a line might never end. */
	if (!S_ISREG(st.st_mode)) {
		config_error(p, p->incl_line, "include \"%s\": %s", path,
		    S_ISDIR(st.st_mode) ? strerror(EISDIR) :
		    "not a regular file");
		close(fd);
		return;
	}
	if ((fp = fdopen(fd, "r")) == NULL)
		fatal("%s", __func__);
	/* The string of the embedded default has no inode: it is never
	 * included. */
	if (p->fp != NULL && p->dev == st.st_dev && p->ino == st.st_ino)
		loop = 1;
	for (i = 0; i < p->depth; i++)
		if (p->stack[i].fp != NULL && p->stack[i].dev == st.st_dev &&
		    p->stack[i].ino == st.st_ino)
			loop = 1;
	if (loop) {
		config_error(p, p->incl_line, "include \"%s\": include loop "
		    "(the file is already being read)", path);
		fclose(fp);
		return;
	}
	if (p->depth + 1 >= CFG_INCLUDE_DEPTH) {
		config_error(p, p->incl_line, "include \"%s\": includes nested "
		    "more than %d deep", path, CFG_INCLUDE_DEPTH);
		fclose(fp);
		return;
	}
	in = &p->stack[p->depth++];
	in->fp = p->fp;
	in->text = p->text;
	in->name = p->name;
	in->dir = p->dir;
	in->line = p->line;
	in->eof = p->eof;
	in->read_errno = p->read_errno;
	in->dev = p->dev;
	in->ino = p->ino;
	in->incl = p->incl;
	in->nincl = p->nincl;
	in->inext = p->inext;
	in->incl_line = p->incl_line;
	in->in = p->in;
	in->route = p->route;

	p->conf->files.v = config_xrealloc(p->conf->files.v,
	    p->conf->files.n + 1, sizeof(*p->conf->files.v));
	p->name = p->conf->files.v[p->conf->files.n++] = config_xstrdup(path);
	p->fp = fp;
	p->text = NULL;
	p->dir = config_dirname(path);
	p->line = 0;
	p->eof = 0;
	p->read_errno = 0;
	p->dev = st.st_dev;
	p->ino = st.st_ino;
	p->incl = NULL;
	p->nincl = p->inext = 0;
	p->in = CFG_IN_NONE;
}

/* Done with an included file: back to the one that included it. */
static void
config_include_pop(struct cfg_parse *p)
{
	struct cfg_input *in = &p->stack[--p->depth];

	if (p->read_errno != 0)
		config_error(p, 0, "%s", strerror(p->read_errno));
	fclose(p->fp);
	free(p->dir);
	config_incl_free(p->incl, p->nincl);
	p->fp = in->fp;
	p->text = in->text;
	p->name = in->name;
	p->dir = in->dir;
	p->line = in->line;
	p->eof = in->eof;
	p->read_errno = in->read_errno;
	p->dev = in->dev;
	p->ino = in->ino;
	p->incl = in->incl;
	p->nincl = in->nincl;
	p->inext = in->inext;
	p->incl_line = in->incl_line;
	p->in = in->in;
	p->route = in->route;
}

/*
 * inih's reader: hands over one line, counting lines and defusing the
 * traps of Debian's inih build. Lines are checked here and anything inih
 * would refuse or misread becomes an empty line after an error, so that
 * every mistake is reported and later line numbers stay right.
 */
static char *
config_reader_cb(char *str, int num, void *stream)
{
	struct cfg_parse *p = stream;
	char		*s, *end;
	size_t		 n = 0, len = 0;
	int		 c, last = 0, nul = 0;

	if (num < 2)
		return NULL;
	/*
	 * The previous line filled inih's buffer without a newline; newer
	 * inih then reads on to discard "the rest". Give it a bare newline.
	 */
	if (p->pending_nl) {
		p->pending_nl = 0;
		memcpy(str, "\n", 2);
		return str;
	}
	/* The files of an include line first, then the rest of this one. */
	for (;;) {
		if (p->inext < p->nincl) {
			config_include_next(p);
			continue;
		}
		if (!p->eof) {
			while ((c = config_getc(p)) != EOF && c != '\n') {
				if (c == '\0')
					nul = 1;
				if (n < sizeof(p->buf) - 1)
					p->buf[n++] = (char)c;
				len++;
				last = c;
			}
			if (c == EOF)
				p->eof = 1;
			if (c != EOF || len > 0)
				break;
		}
		if (p->depth == 0)
			return NULL;
		config_include_pop(p);
	}
	p->line++;
	if (last == '\r') {
		len--;
		if (n > len)
			n = len;
	}
	p->buf[n] = '\0';
	str[0] = '\0';

	/* INI_MAX_LINE counts the NUL, so inih holds num - 1 characters. */
	if (len > (size_t)num - 1) {
		config_error(p, p->line, "line too long (at most %d "
		    "characters)", num - 1);
		return str;
	}
	if (nul) {
		config_error(p, p->line, "line contains a NUL byte");
		return str;
	}

	s = p->buf;
	if (p->line == 1 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
		s += 3;
	/* Leading white space would make inih continue the last value. */
	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';

	if (*s == '\0' || *s == ';' || *s == '#')
		return str;
	if (*s == '[') {
		/* inih never reports empty sections: track them here. */
		if ((end = strchr(s, ']')) == NULL) {
			config_error(p, p->line, "missing \"]\" in section "
			    "header");
			p->in = CFG_IN_SKIP;
			return str;
		}
		*end++ = '\0';
		while (isspace((unsigned char)*end))
			end++;
		if (*end != '\0' && *end != ';' && *end != '#') {
			config_error(p, p->line, "unexpected text after \"]\"");
			p->in = CFG_IN_SKIP;
			return str;
		}
		config_section(p, s + 1);
		return str;
	}
	if (!config_is_key_line(s)) {
		config_error(p, p->line,
		    "expected \"key = value\" or \"[section]\"");
		return str;
	}
	len = strlen(s);
	memcpy(str, s, len + 1);
	if (len == (size_t)num - 1)
		p->pending_nl = 1;
	return str;
}

/* Turns a static route's root into an existing directory's real path. */
static void
config_root(struct cfg_parse *p, struct wsd_route *r, int line)
{
	struct stat	 st;
	char		*path, *real;
	int		 saved;

	if (r->root[0] != '/' && p->dir != NULL)
		path = config_xasprintf("%s/%s", p->dir, r->root);
	else
		path = config_xstrdup(r->root);
	if ((real = realpath(path, NULL)) == NULL) {
		config_error(p, line, "root \"%s\": %s", path, strerror(errno));
		free(path);
		return;
	}
	saved = 0;
	if (stat(real, &st) == -1)
		saved = errno;
	else if (!S_ISDIR(st.st_mode))
		saved = ENOTDIR;
	else if (access(real, R_OK | X_OK) == -1)
		saved = errno;
	if (saved != 0) {
		config_error(p, line, "root \"%s\": %s", path, strerror(saved));
		free(real);
		free(path);
		return;
	}
	free(path);
	r->root_real = real;
}

/* Whether the route's app lists the key. */
static int
config_app_takes(const struct config_app *a, const struct cfg_key *k)
{
	const struct config_key *const *ak;

	if (a == NULL || a->keys == NULL)
		return 0;
	for (ak = a->keys; *ak != NULL; ak++)
		if (strcmp((*ak)->name, k->name) == 0)
			return 1;
	return 0;
}

/*
 * Checks a route's app keys once its app is known, wherever "app =" stood
 * in the section: each must be one the app takes, and one with a
 * not_above (interval_min) must not exceed that key (interval_max).
 */
static void
config_app_keys(struct cfg_parse *p, const struct wsd_route *r,
    const struct cfg_route_state *st)
{
	const struct cfg_key *k, *kmax;
	const char	*name;
	char		 lo[32], hi[32];
	double		 vmin, vmax;
	size_t		 j, imax;
	int		 line;

	if (st->kind != CFG_ROUTE_STATIC && st->kind != CFG_ROUTE_APP)
		return;		/* no app, or a bad one: already reported */
	name = st->kind == CFG_ROUTE_STATIC ? "static" : st->app->name;
	for (j = 0; j < cfg_nall; j++) {
		k = &cfg_all[j];
		if (k->sect != CFG_APPKEY || st->seen[j] == 0)
			continue;
		if (st->kind == CFG_ROUTE_APP && config_app_takes(st->app, k))
			continue;
		config_error(p, st->seen[j], "key \"%s\" is not used by app "
		    "\"%s\"", k->name, name);
	}
	if (st->kind != CFG_ROUTE_APP)
		return;
	for (j = 0; j < cfg_nall; j++)
		if (cfg_all[j].sect == CFG_APPKEY && cfg_src[j]->required &&
		    st->seen[j] == 0 && config_app_takes(st->app, &cfg_all[j]))
			config_error(p, r->line, "app \"%s\" needs key \"%s\"",
			    name, cfg_all[j].name);
	for (j = 0; j < cfg_nall; j++) {
		k = &cfg_all[j];
		if (k->sect != CFG_APPKEY || cfg_src[j]->not_above == NULL ||
		    !config_app_takes(st->app, k))
			continue;
		kmax = config_key_find(cfg_src[j]->not_above);
		if (!config_app_takes(st->app, kmax))
			continue;
		imax = (size_t)(kmax - cfg_all);
		/* A rejected value left the default: nothing to compare. */
		if (st->bad[j] || st->bad[imax])
			continue;
		/* Registration allows not_above between durations only. */
		vmin = *(const double *)(const void *)((const char *)r->app_conf +
		    k->off);
		vmax = *(const double *)(const void *)((const char *)r->app_conf +
		    kmax->off);
		if (vmin <= vmax)
			continue;
		/* Blame the later of the two keys, or the section. */
		line = st->seen[j];
		if (st->seen[imax] > line)
			line = st->seen[imax];
		if (line == 0)
			line = r->line;
		config_fmt_bound(k, vmin, lo, sizeof(lo));
		config_fmt_bound(kmax, vmax, hi, sizeof(hi));
		config_error(p, line, "%s (%s%s) is greater than %s (%s%s)",
		    k->name, lo, st->seen[j] ? "" : ", the default", kmax->name,
		    hi, st->seen[imax] ? "" : ", the default");
	}
}

/*
 * Why a redis value is not HOST:PORT, [V6ADDR]:PORT or unix:/PATH, or
 * NULL when it is one.
 */
static const char *
config_redis_check(const char *s)
{
	const char	*colon, *e;
	long		 port;
	char		*end;

	if (strncmp(s, "unix:", 5) == 0)
		return s[5] == '/' ? NULL : "unix: needs an absolute path";
	if (*s == '[') {
		if ((e = strchr(s, ']')) == NULL || e[1] != ':')
			return "expected [V6ADDR]:PORT";
		colon = e + 1;
	} else if ((colon = strrchr(s, ':')) == NULL || colon == s ||
	    memchr(s, ':', (size_t)(colon - s)) != NULL)
		return "expected HOST:PORT, [V6ADDR]:PORT or unix:/PATH";
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || errno != 0 || port < 1 ||
	    port > 65535)
		return "port must be 1 to 65535";
	return NULL;
}

/* A [cluster] section needs redis; the prefix keeps its default. */
static void
config_finish_cluster(struct cfg_parse *p)
{
	struct wsd_cluster *cl = &p->conf->cluster;
	const struct cfg_key *k;
	const char	*why;

	if (cl->line == 0)
		return;
	p->name = cl->file;
	k = config_key_find("redis");
	if (cl->redis == NULL)
		config_error(p, cl->line, "[cluster] without redis "
		    "(HOST:PORT or unix:/PATH)");
	else if ((why = config_redis_check(cl->redis)) != NULL)
		config_error(p, p->cluster_seen[k - cfg_all], "redis: %s: "
		    "\"%s\"", why, cl->redis);
	if (cl->tls && cl->redis != NULL && strncmp(cl->redis, "unix:", 5) == 0)
		config_error(p, p->cluster_seen[config_key_find("redis_tls") -
		    cfg_all], "redis_tls: not over a unix socket");
	if (cl->user != NULL && cl->password_file == NULL)
		config_error(p, p->cluster_seen[config_key_find(
		    "redis_user") - cfg_all], "redis_user without "
		    "redis_password_file");
	else if (cl->user != NULL && (cl->user[0] == '\0' ||
	    strpbrk(cl->user, " \t") != NULL))
		config_error(p, p->cluster_seen[config_key_find(
		    "redis_user") - cfg_all], "redis_user: \"%s\": one word "
		    "expected", cl->user);
	if (cl->ca_file != NULL && !cl->tls)
		config_error(p, p->cluster_seen[config_key_find(
		    "redis_ca_file") - cfg_all], "redis_ca_file without "
		    "redis_tls = on");
	if (cl->prefix == NULL)
		cl->prefix = config_xstrdup(config_key_find("prefix")->def);
	p->name = p->conf->files.v[0];
}

/*
 * A [tls] section needs both files; a tls listener needs the section. A
 * section without a tls listener is fine: it is ready for one.
 */
static void
config_finish_tls(struct cfg_parse *p)
{
	struct wsd_config *conf = p->conf;
	const struct cfg_key *k;
	const char	*name = NULL;
	char		*cause = NULL;
	size_t		 i;
	int		 line;

	if (conf->tls.line != 0) {
		p->name = conf->tls.file;
		for (i = 0; i < cfg_nall; i++) {
			k = &cfg_all[i];
			if (k->sect != CFG_TLS || k->type != CFG_FILE ||
			    p->tls_seen[i] != 0)
				continue;
			config_error(p, conf->tls.line, "[tls]: missing "
			    "\"%s\"", k->name);
			p->tls_bad = 1;
		}
		/* The files load and match, at the line of the one at fault. */
		if (!p->tls_bad && cfg_tls_check != NULL &&
		    cfg_tls_check(&conf->tls, &cause, &name) == -1) {
			k = config_key_find(name);
			line = k != NULL && p->tls_seen[k - cfg_all] != 0 ?
			    p->tls_seen[k - cfg_all] : conf->tls.line;
			config_error(p, line, "%s", cause ? cause : "TLS "
			    "set-up failed");
			free(cause);
		}
		return;
	}
	for (i = 0; i < conf->nlistens; i++) {
		if (!conf->listens[i].tls)
			continue;
		p->name = conf->listens[i].file;
		config_error(p, conf->listens[i].line, "listen %s tls: no "
		    "[tls] section with certificate and private_key",
		    conf->listens[i].text);
	}
}

/*
 * Reads a route's token file (key name, path NULL: not set) now, so that
 * `wsd -t` reports a missing or empty one. NULL after an error.
 */
static struct access_tokens *
config_tokens(struct cfg_parse *p, const struct cfg_route_state *st,
    const char *name, const char *path)
{
	const struct cfg_key *k = config_key_find(name);
	struct access_tokens *t;
	char		*cause;

	if (path == NULL)
		return NULL;
	if ((t = access_tokens_load(path, &cause)) == NULL) {
		config_error(p, st->seen[k - cfg_all], "%s \"%s\": %s", name,
		    path, cause ? cause : "?");
		free(cause);
	}
	return t;
}

/*
 * Listeners from the command line (wsd -l) replace the config's listen
 * lines, which were checked all the same.
 */
static void
config_listen_override(struct cfg_parse *p)
{
	struct wsd_config *conf = p->conf;
	size_t		 i;

	for (i = 0; i < conf->nlistens; i++)
		free(conf->listens[i].text);
	conf->nlistens = 0;
	p->name = CFG_CMDLINE;
	for (i = 0; i < p->src->nlistens; i++)
		config_listen(p, p->src->listens[i], 0);
}

/*
 * Access keys once the route's kind is known: origins, require_origin and
 * subprotocols only make sense for WebSocket routes; the token file is
 * read now, so that `wsd -t` reports a missing or empty one.
 */
static void
config_access_finish(struct cfg_parse *p, struct wsd_route *r,
    const struct cfg_route_state *st)
{
	const struct cfg_key *k;
	char		*cause;
	size_t		 i;

	for (i = 0; i < CFG_NWS_ONLY; i++) {
		k = config_key_find(cfg_ws_only[i]);
		if (st->kind == CFG_ROUTE_STATIC && st->seen[k - cfg_all])
			config_error(p, st->seen[k - cfg_all], "key \"%s\" "
			    "is only for WebSocket app routes", k->name);
	}
	for (i = 0; i < CFG_NJWT_ONLY; i++) {
		k = config_key_find(cfg_jwt_only[i]);
		if (r->auth_jwt_key_file == NULL && st->seen[k - cfg_all])
			config_error(p, st->seen[k - cfg_all], "key \"%s\" "
			    "needs auth_jwt_key_file on the route", k->name);
	}
	if (r->auth_jwt_key_file != NULL) {
		k = config_key_find("auth_jwt_key_file");
		if ((r->jwt_key = access_jwt_key_load(r->auth_jwt_key_file,
		    &cause)) == NULL) {
			config_error(p, st->seen[k - cfg_all],
			    "auth_jwt_key_file \"%s\": %s",
			    r->auth_jwt_key_file, cause ? cause : "?");
			free(cause);
		}
	}
	r->tokens = config_tokens(p, st, "auth_token_file",
	    r->auth_token_file);
}

/*
 * The HTTP publish keys: only for apps that take a POST (channels,
 * relay); the token file is read now, like auth_token_file.
 */
static void
config_publish_finish(struct cfg_parse *p, struct wsd_route *r,
    const struct cfg_route_state *st)
{
	static const char *const keys[] = {
		"publish_allow", "publish_token_file",
	};
	const struct cfg_key *k;
	size_t		 i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		k = config_key_find(keys[i]);
		if (st->seen[k - cfg_all] && (st->kind != CFG_ROUTE_APP ||
		    !st->app->publish))
			config_error(p, st->seen[k - cfg_all], "key \"%s\" "
			    "is only for channels and relay routes", k->name);
	}
	r->publish_tokens = config_tokens(p, st, "publish_token_file",
	    r->publish_token_file);
}

/*
 * The access log file is opened at start-up (log.c); -t can at least
 * tell that its directory is missing.
 */
static void
config_finish_access_log(struct cfg_parse *p)
{
	const struct cfg_key *k = config_key_find("access_log");
	struct stat	 st;
	char		*dir, *slash;

	if (p->conf->access_log_file == NULL || k == NULL)
		return;
	dir = config_xstrdup(p->conf->access_log_file);
	slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	if (stat(dir, &st) == -1 || !S_ISDIR(st.st_mode))
		config_error(p, p->server_seen[k - cfg_all], "access_log "
		    "\"%s\": %s: %s", p->conf->access_log_file, dir,
		    strerror(stat(dir, &st) == -1 ? errno : ENOTDIR));
	free(dir);
}

/* Frees the words of a list value. */
static void
config_list_free(struct wsd_strlist *l)
{
	size_t	i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
}

/* Whether two routes' host lists share a name (both empty: yes). */
static int
config_hosts_overlap(const struct wsd_route *a, const struct wsd_route *b)
{
	size_t	i, j;

	if (a->hosts.n == 0 || b->hosts.n == 0)
		return a->hosts.n == b->hosts.n;
	for (i = 0; i < a->hosts.n; i++)
		for (j = 0; j < b->hosts.n; j++)
			if (strcmp(a->hosts.v[i], b->hosts.v[j]) == 0)
				return 1;
	return 0;
}

/*
 * Virtual hosts once the whole file is read: a path may appear once per
 * host (and once without host); each [tls NAME...] section needs its
 * files, and a [tls] section with the default certificate beside it.
 */
static void
config_finish_hosts(struct cfg_parse *p)
{
	struct wsd_config *conf = p->conf;
	const struct wsd_route *r, *o;
	const struct cfg_key *k;
	size_t		 i, j, host = config_key_find("host") - cfg_all;

	for (i = 0; i < conf->nroutes; i++) {
		r = &conf->routes[i];
		/* A rejected host value says nothing about duplicates. */
		if (p->rstate[i].bad[host])
			continue;
		for (j = 0; j < i; j++) {
			o = &conf->routes[j];
			if (p->rstate[j].bad[host] ||
			    strcmp(o->path, r->path) != 0 ||
			    !config_hosts_overlap(o, r))
				continue;
			/* Its messages are its file's. */
			p->name = r->file;
			config_error(p, r->line, "duplicate route %s%s (first "
			    "at %s)", r->path, r->hosts.n == 0 ? "" :
			    " on the same host", config_at(p, o->file,
			    o->line));
			break;
		}
	}
	p->name = conf->files.v[0];
	for (i = 0; i < conf->ntls_hosts; i++)
		for (j = 0; j < cfg_nall; j++) {
			k = &cfg_all[j];
			if (k->sect != CFG_TLS || k->type != CFG_FILE ||
			    p->tls_hseen[i][j] != 0)
				continue;
			config_error(p, conf->tls_hosts[i].line, "[tls %s]: "
			    "missing \"%s\"", conf->tls_hosts[i].names.v[0],
			    k->name);
		}
	if (conf->ntls_hosts > 0 && conf->tls.line == 0)
		config_error(p, conf->tls_hosts[0].line, "[tls %s]: no [tls] "
		    "section with the default certificate (for clients "
		    "without SNI or with another name)",
		    conf->tls_hosts[0].names.v[0]);
}

/* Checks what only the whole file shows and fills in inherited values. */
static void
config_finish(struct cfg_parse *p)
{
	struct wsd_config *conf = p->conf;
	struct wsd_route *r;
	struct cfg_route_state *st;
	const struct cfg_key *k, *root = config_key_find("root");
	size_t		 i, j;

	for (i = 0; i < conf->nroutes; i++) {
		r = &conf->routes[i];
		st = &p->rstate[i];
		/* Its messages are its file's. */
		p->name = r->file;
		/* "/live/": channels serve what is below it; others may not. */
		r->prefix = st->kind == CFG_ROUTE_APP && st->app->prefix;
		if (r->path_len > 1 && r->path[r->path_len - 1] == '/' &&
		    !r->prefix && st->kind != CFG_ROUTE_BAD) {
			config_error(p, r->line, "invalid route path \"%s\": "
			    "must not end with \"/\"%s", r->path,
			    st->kind == CFG_ROUTE_UNSET ? "" :
			    " (only channels routes do)");
			continue;
		}
		if (r->prefix && r->path[r->path_len - 1] != '/') {
			config_error(p, r->line, "route %s: app %s needs a path "
			    "ending in \"/\" (channels are below it)", r->path,
			    st->app->name);
			continue;
		}
		config_publish_finish(p, r, st);
		switch (st->kind) {
		case CFG_ROUTE_UNSET:
			config_error(p, r->line, "route %s: missing \"app\"",
			    r->path);
			break;
		case CFG_ROUTE_STATIC:
			for (j = 0; j < cfg_nall; j++) {
				k = &cfg_all[j];
				if (!k->route || st->seen[j] == 0)
					continue;
				config_error(p, st->seen[j], "key \"%s\" is "
				    "not allowed on a static route", k->name);
			}
			if (st->seen[root - cfg_all] == 0)
				config_error(p, r->line, "route %s: missing "
				    "\"root\"", r->path);
			else if (r->root != NULL)
				config_root(p, r, st->seen[root - cfg_all]);
			break;
		case CFG_ROUTE_APP:
			for (j = 0; j < CFG_NSTATIC_ONLY; j++) {
				k = config_key_find(cfg_static_only[j]);
				if (st->seen[k - cfg_all] != 0)
					config_error(p, st->seen[k - cfg_all],
					    "key \"%s\" is only for static "
					    "routes", k->name);
			}
			break;
		case CFG_ROUTE_BAD:
			break;
		}
		config_app_keys(p, r, st);
		config_access_finish(p, r, st);
		/* After the whole file, so [server] may come after routes. */
		for (j = 0; j < cfg_nall; j++) {
			k = &cfg_all[j];
			if (k->route && st->seen[j] == 0)
				config_inherit(k, &r->lim, &conf->lim);
		}
		/* Set nowhere: hub apps share compressed frames. */
		if (r->lim.compression == WSD_COMPRESSION_APP)
			r->lim.compression = st->kind == CFG_ROUTE_APP &&
			    st->app->via_hub ? WSD_COMPRESSION_SHARED :
			    WSD_COMPRESSION_ON;
	}

	/* No listen line at all: the table's default. */
	p->name = conf->files.v[0];
	k = config_key_find("listen");
	if (p->src != NULL && p->src->nlistens > 0)
		config_listen_override(p);
	else if (conf->nlistens == 0 && p->server_seen[k - cfg_all] == 0)
		config_listen(p, k->def, 0);

	config_finish_tls(p);
	config_finish_cluster(p);
	config_finish_hosts(p);
	config_finish_access_log(p);
	for (i = 0; i < conf->nlistens; i++) {
		if (!conf->listens[i].proxy_protocol ||
		    conf->trusted_proxies.n != 0)
			continue;
		p->name = conf->listens[i].file;
		config_error(p, conf->listens[i].line, "listen %s "
		    "proxy_protocol: no trusted_proxies in [server] to accept "
		    "the header from", conf->listens[i].text);
	}
	p->name = conf->files.v[0];
}

/* Sets every default from the table, through the same parsers. */
static void
config_defaults(struct wsd_config *conf)
{
	const struct cfg_key *k;
	size_t		 i;

	for (i = 0; i < cfg_nall; i++) {
		k = &cfg_all[i];
		if (k->def == NULL || k->type == CFG_LISTEN)
			continue;
		if (k->sect == CFG_TLS)
			config_default_store(k, &conf->tls);
		else if (k->sect == CFG_CLUSTER && k->type != CFG_STRING)
			config_default_store(k, &conf->cluster);
		else if (k->sect == CFG_SERVER)
			config_default_store(k, k->route ?
			    (void *)&conf->lim : (void *)conf);
	}
}

/* Parses from the reader set up in p; frees p's parts. */
static struct wsd_config *
config_parse(struct cfg_parse *p, const char *file, char **errors)
{
	struct wsd_config *conf;
	char		*errs;
	int		 rc;

	p->dir = config_dirname(p->name);
	config_keys_init();
	if ((conf = calloc(1, sizeof(*conf))) == NULL ||
	    (conf->values = calloc(1, sizeof(*conf->values))) == NULL)
		fatal("%s", __func__);
	conf->refs = 1;
	conf->file = file ? config_xstrdup(file) : NULL;
	/* Messages name files by these copies: errors outlive the parse. */
	conf->files.v = config_xrealloc(NULL, 1, sizeof(*conf->files.v));
	conf->files.v[conf->files.n++] = config_xstrdup(p->name);
	p->name = conf->files.v[0];
	config_defaults(conf);
	p->conf = conf;

	rc = ini_parse_stream(config_reader_cb, p, config_handler_cb, p);
	/* A positive rc is a line we already reported; -2 is no memory. */
	if (rc < 0 && p->read_errno == 0)
		fatalx("%s: ini_parse_stream: %d", __func__, rc);
	while (p->depth > 0)
		config_include_pop(p);
	if (p->read_errno != 0)
		config_error(p, 0, "%s", strerror(p->read_errno));
	config_incl_free(p->incl, p->nincl);
	config_finish(p);

	free(p->dir);
	free(p->rstate);
	free(p->tls_hseen);
	if (p->nerrs == 0) {
		if (errors != NULL)
			*errors = NULL;
		return conf;
	}
	errs = config_error_join(p);
	if (errors != NULL)
		*errors = errs;
	else
		free(errs);
	config_free(conf);
	return NULL;
}

/* Reads and validates a config file, with src's overrides (NULL: none). */
static struct wsd_config *
config_load_file(const char *file, const struct config_source *src,
    char **errors)
{
	struct wsd_config *conf;
	struct cfg_parse *p;
	struct stat	 st;
	FILE		*fp;
	int		 saved;

	if ((fp = fopen(file, "r")) == NULL || fstat(fileno(fp), &st) == -1 ||
	    S_ISDIR(st.st_mode)) {
		saved = fp == NULL ? errno : S_ISDIR(st.st_mode) ? EISDIR :
		    errno;
		if (fp != NULL)
			fclose(fp);
		if (errors != NULL)
			*errors = config_xasprintf("%s: %s", file,
			    strerror(saved));
		return NULL;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL)
		fatal("%s", __func__);
	p->name = file;
	p->fp = fp;
	p->dev = st.st_dev;
	p->ino = st.st_ino;
	p->src = src;
	conf = config_parse(p, file, errors);
	fclose(fp);
	free(p);
	return conf;
}

/* Reads and validates a config file. */
struct wsd_config *
config_load(const char *file, char **errors)
{
	return config_load_file(file, NULL, errors);
}

/* Config text held in memory, with src's overrides (NULL: none). */
static struct wsd_config *
config_load_text(const char *name, const char *text,
    const struct config_source *src, char **errors)
{
	struct wsd_config *conf;
	struct cfg_parse *p;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		fatal("%s", __func__);
	p->name = name != NULL ? name : "(string)";
	p->text = text;
	p->src = src;
	conf = config_parse(p, name, errors);
	free(p);
	return conf;
}

/* Reads and validates config text held in memory. */
struct wsd_config *
config_load_string(const char *name, const char *text, char **errors)
{
	return config_load_text(name, text, NULL, errors);
}

/* The embedded default, with src's overrides (NULL: none). */
static struct wsd_config *
config_default_src(const char *www_root, const struct config_source *src,
    char **errors)
{
	struct wsd_config *conf;
	char		*text;

	if (strpbrk(www_root, "\r\n") != NULL) {
		if (errors != NULL)
			*errors = config_xstrdup("(embedded): www root "
			    "contains a newline");
		return NULL;
	}
	text = config_xasprintf(
	    "[server]\n"
	    "listen = 127.0.0.1:8080\n"
	    "\n"
	    "[route /]\n"
	    "app = static\n"
	    "root = %s\n"
	    "\n"
	    "[route /hello]\n"
	    "app = hello\n"
	    "\n"
	    "[route /echo]\n"
	    "app = echo\n"
	    "\n"
	    "[route /time]\n"
	    "app = time\n"
	    "\n"
	    "[route /broadcast]\n"
	    "app = broadcast\n"
	    "\n"
	    "[route /counter]\n"
	    "app = counter\n"
	    "\n"
	    "[route /relay]\n"
	    "app = relay\n"
	    "\n"
	    "[route /live/]\n"
	    "app = channels\n"
	    "history = 100\n"
	    "envelope = json\n"
	    "\n"
	    "[route /metrics]\n"
	    "app = metrics\n"
	    "allow = 127.0.0.0/8 ::1\n"
	    "\n"
	    "[route /health]\n"
	    "app = health\n", www_root);
	conf = config_load_text("(embedded)", text, src, errors);
	free(text);
	if (conf != NULL) {
		free(conf->file);
		conf->file = NULL;
	}
	return conf;
}

/* The embedded default, written as INI so it passes the same checks. */
struct wsd_config *
config_default(const char *www_root, char **errors)
{
	return config_default_src(www_root, NULL, errors);
}

/* The config main asked for: a file or the embedded default. */
struct wsd_config *
config_open(const struct config_source *src, char **errors)
{
	if (src->file != NULL)
		return config_load_file(src->file, src, errors);
	return config_default_src(src->www_root, src, errors);
}

/* Takes one more reference to conf. */
struct wsd_config *
config_ref(struct wsd_config *conf)
{
	conf->refs++;
	return conf;
}

/* Frees the string app keys of a route's app_conf. */
static void
config_app_strings_free(void *app_conf)
{
	size_t	i;

	if (app_conf == NULL)
		return;
	for (i = 0; i < cfg_nall; i++)
		if (cfg_all[i].sect == CFG_APPKEY &&
		    cfg_all[i].type == CFG_STRING)
			free(*(char **)(void *)((char *)app_conf +
			    cfg_all[i].off));
}

/* Drops a reference; the last frees the config and every string in it. */
void
config_free(struct wsd_config *conf)
{
	size_t	i;

	if (conf == NULL || --conf->refs > 0)
		return;
	for (i = 0; i < conf->nlistens; i++)
		free(conf->listens[i].text);
	for (i = 0; i < conf->nroutes; i++) {
		free(conf->routes[i].path);
		free(conf->routes[i].root);
		free(conf->routes[i].root_real);
		config_app_strings_free(conf->routes[i].app_conf);
		free(conf->routes[i].app_conf);
		config_list_free(&conf->routes[i].origins);
		config_list_free(&conf->routes[i].subprotocols);
		free(conf->routes[i].auth_token_file);
		access_tokens_free(conf->routes[i].tokens);
		free(conf->routes[i].auth_jwt_key_file);
		jwt_key_free(conf->routes[i].jwt_key);
		cidr_list_free(&conf->routes[i].allow);
		config_list_free(&conf->routes[i].hosts);
		cidr_list_free(&conf->routes[i].publish_allow);
		free(conf->routes[i].publish_token_file);
		access_tokens_free(conf->routes[i].publish_tokens);
	}
	for (i = 0; i < conf->ntls_hosts; i++) {
		free(conf->tls_hosts[i].certificate);
		free(conf->tls_hosts[i].private_key);
		config_list_free(&conf->tls_hosts[i].names);
	}
	free(conf->tls_hosts);
	config_list_free(&conf->tls.names);
	cidr_list_free(&conf->trusted_proxies);
	config_list_free(&conf->files);
	if (conf->values != NULL) {
		for (i = 0; i < conf->values->n; i++)
			free(conf->values->v[i].text);
		free(conf->values->v);
		free(conf->values);
	}
	free(conf->listens);
	free(conf->routes);
	free(conf->tls.certificate);
	free(conf->tls.private_key);
	free(conf->tls.ciphers);
	free(conf->tls.ciphersuites);
	free(conf->cluster.redis);
	free(conf->cluster.password_file);
	free(conf->cluster.user);
	free(conf->cluster.prefix);
	free(conf->cluster.node_name);
	free(conf->cluster.ca_file);
	free(conf->user);
	free(conf->group);
	free(conf->pid_file);
	free(conf->access_log_file);
	free(conf->file);
	free(conf);
}

/* Whether name is one of the n names in v. */
static int
config_name_in(const char *name, const char *const *v, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (strcmp(name, v[i]) == 0)
			return 1;
	return 0;
}

/* The registered app a route runs; NULL for a static route. */
static const struct config_app *
config_route_app(const struct wsd_route *r)
{
	size_t	i;

	for (i = 0; r->app != NULL && i < cfg_napps; i++)
		if (cfg_apps[i]->app == r->app)
			return cfg_apps[i];
	return NULL;
}

/*
 * Whether key k has a place in a section of a valid config: sect is
 * CFG_VSECT_SERVER, CFG_VSECT_TLS or a route's index. The rules are
 * config_finish()'s.
 */
static int
config_sect_takes(const struct wsd_config *conf, long sect,
    const struct cfg_key *k)
{
	const struct wsd_route *r;

	if (sect == CFG_VSECT_SERVER)
		return k->sect == CFG_SERVER;
	if (sect == CFG_VSECT_TLS)
		return k->sect == CFG_TLS;
	if (sect == CFG_VSECT_CLUSTER)
		return k->sect == CFG_CLUSTER;
	r = &conf->routes[sect];
	switch (k->sect) {
	case CFG_ROUTE:
		if (r->auth_jwt_key_file == NULL && config_name_in(k->name,
		    cfg_jwt_only, CFG_NJWT_ONLY))
			return 0;
		if (r->app == NULL)
			return !config_name_in(k->name, cfg_ws_only,
			    CFG_NWS_ONLY);
		return !config_name_in(k->name, cfg_static_only,
		    CFG_NSTATIC_ONLY);
	case CFG_SERVER:
		return k->route && r->app != NULL;
	case CFG_APPKEY:
		return config_app_takes(config_route_app(r), k);
	default:
		return 0;
	}
}

/* Appends s to the '\n'-separated list *out. */
static void
config_text_add(char **out, const char *s)
{
	char	*n;

	if (*out == NULL)
		n = config_xstrdup(s);
	else {
		n = config_xasprintf("%s\n%s", *out, s);
		free(*out);
	}
	*out = n;
}

/*
 * The value(s) of key k in a section, '\n'-separated: as written, else
 * inherited from [server], else the default; file names resolved, the
 * listeners in use. NULL when the key has none (caller frees).
 */
static char *
config_key_text(const struct wsd_config *conf, long sect,
    const struct cfg_key *k)
{
	static const char *const compression[] = {
		[WSD_COMPRESSION_APP] = "on",
		[WSD_COMPRESSION_OFF] = "off",
		[WSD_COMPRESSION_ON] = "on",
		[WSD_COMPRESSION_SHARED] = "shared",
	};
	const struct wsd_route *r = sect >= 0 ? &conf->routes[sect] : NULL;
	const struct wsd_listen *l;
	const void	*base;
	char		*out = NULL, *s;
	size_t		 i;

	switch (k->type) {
	case CFG_LISTEN:
		for (i = 0; i < conf->nlistens; i++) {
			l = &conf->listens[i];
			s = config_xasprintf("%s%s%s", l->text,
			    l->tls ? " tls" : "",
			    l->proxy_protocol ? " proxy_protocol" : "");
			config_text_add(&out, s);
			free(s);
		}
		return out;
	case CFG_PATH:
		s = r->root_real != NULL ? r->root_real : r->root;
		return s != NULL ? config_xstrdup(s) : NULL;
	case CFG_FILE:
		base = r != NULL ? (const void *)r : sect == CFG_VSECT_TLS ?
		    (const void *)&conf->tls : sect == CFG_VSECT_CLUSTER ?
		    (const void *)&conf->cluster : (const void *)conf;
		s = *(char *const *)(const void *)((const char *)base + k->off);
		return s != NULL ? config_xstrdup(s) : NULL;
	default:
		break;
	}
	for (i = 0; i < conf->values->n; i++)
		if (conf->values->v[i].sect == sect &&
		    &cfg_all[conf->values->v[i].key] == k)
			config_text_add(&out, conf->values->v[i].text);
	if (out != NULL || r == NULL)
		return out != NULL || k->def == NULL ? out :
		    config_xstrdup(k->def);
	if (k->type == CFG_COMPRESSION)
		return config_xstrdup(compression[r->lim.compression]);
	if (k->sect == CFG_SERVER && k->route)
		return config_key_text(conf, CFG_VSECT_SERVER, k);
	return k->def != NULL ? config_xstrdup(k->def) : NULL;
}

/* Writes one section's keys, in the table's order. */
static void
config_print_sect(const struct wsd_config *conf, long sect, FILE *fp)
{
	const struct cfg_key *k;
	char		*text, *line, *save = NULL;
	size_t		 i;

	for (i = 0; i < cfg_nall; i++) {
		k = &cfg_all[i];
		if (k->type == CFG_APP || !config_sect_takes(conf, sect, k))
			continue;
		if ((text = config_key_text(conf, sect, k)) == NULL) {
			/* Unset, no default: shown, not set. */
			if (sect < 0)
				fprintf(fp, ";%s =\n", k->name);
			continue;
		}
		for (line = strtok_r(text, "\n", &save); line != NULL;
		    line = strtok_r(NULL, "\n", &save))
			fprintf(fp, "%s = %s\n", k->name, line);
		free(text);
	}
}

/* Writes the effective configuration as INI. */
void
config_print(const struct wsd_config *conf, FILE *fp)
{
	const struct config_app *a;
	size_t		 i;

	fprintf(fp, "; the effective configuration of %s\n",
	    conf->files.v[0]);
	for (i = 1; i < conf->files.n; i++)
		fprintf(fp, ";   with %s\n", conf->files.v[i]);
	fprintf(fp, "\n[server]\n");
	config_print_sect(conf, CFG_VSECT_SERVER, fp);
	if (conf->tls.line != 0) {
		fprintf(fp, "\n[tls]\n");
		config_print_sect(conf, CFG_VSECT_TLS, fp);
	}
	if (conf->cluster.line != 0) {
		fprintf(fp, "\n[cluster]\n");
		config_print_sect(conf, CFG_VSECT_CLUSTER, fp);
	}
	for (i = 0; i < conf->nroutes; i++) {
		a = config_route_app(&conf->routes[i]);
		fprintf(fp, "\n[route %s]\napp = %s\n", conf->routes[i].path,
		    a != NULL ? a->name : "static");
		config_print_sect(conf, (long)i, fp);
	}
}

/* Whether a value type is a number config_value() parses. */
static int
config_type_numeric(enum cfg_type t)
{
	switch (t) {
	case CFG_SIZE:
	case CFG_DURATION:
	case CFG_UINT:
	case CFG_BOOL:
	case CFG_LOGLEVEL:
	case CFG_WORD:
	case CFG_LOGTARGET:
	case CFG_DOTFILES:
	case CFG_COMPRESSION:
	case CFG_TLSVER:
	case CFG_WORKERS:
		return 1;
	default:
		return 0;
	}
}

/* Whether two values of k mean the same ("1m" and "60s" do). */
static int
config_text_equal(const struct cfg_key *k, const char *a, const char *b)
{
	const char	*why;
	double		 va, vb;

	if (a == NULL || b == NULL)
		return a == b;
	if (config_type_numeric(k->type) && config_value(k, a, &va,
	    &why) == 0 && config_value(k, b, &vb, &why) == 0)
		return va == vb;
	return strcmp(a, b) == 0;
}

static void	config_change_add(char **, const char *, ...)
		    LOG_PRINTF(2, 3);

/*
 * Adds "LABEL changed: key old -> new, ..." to *out for the keys of a
 * section whose value differs between old's section osect and conf's
 * section sect; what (taken over, NULL: none) is said first.
 */
static void
config_sect_changes(const struct wsd_config *old, long osect,
    const struct wsd_config *conf, long sect, char *what, const char *label,
    char **out)
{
	const struct cfg_key *k;
	char		*a, *b, *s, *c;
	size_t		 i;

	for (i = 0; i < cfg_nall; i++) {
		k = &cfg_all[i];
		/* Listeners log themselves; app is said first. */
		if (k->type == CFG_LISTEN || k->type == CFG_APP ||
		    (!config_sect_takes(old, osect, k) &&
		    !config_sect_takes(conf, sect, k)))
			continue;
		a = config_sect_takes(old, osect, k) ?
		    config_key_text(old, osect, k) : NULL;
		b = config_sect_takes(conf, sect, k) ?
		    config_key_text(conf, sect, k) : NULL;
		if (!config_text_equal(k, a, b)) {
			for (c = a; c != NULL && (c = strchr(c, '\n')) != NULL;)
				*c = ' ';
			for (c = b; c != NULL && (c = strchr(c, '\n')) != NULL;)
				*c = ' ';
			s = config_xasprintf("%s%s%s %s -> %s", what ? what :
			    "", what ? ", " : "", k->name, a ? a : "(unset)",
			    b ? b : "(unset)");
			free(what);
			what = s;
		}
		free(a);
		free(b);
	}
	if (what != NULL)
		config_change_add(out, "%s changed: %s", label, what);
	free(what);
}

/* Appends one change line to *out. */
static void
config_change_add(char **out, const char *fmt, ...)
{
	va_list	 ap;
	char	*s;

	va_start(ap, fmt);
	s = config_xvasprintf(fmt, ap);
	va_end(ap);
	config_text_add(out, s);
	free(s);
}

/* What changed from old to conf, one line each. */
char *
config_changes(const struct wsd_config *old, const struct wsd_config *conf)
{
	const struct config_app *a, *b;
	const struct wsd_route *r;
	char		*out = NULL, *what, *label;
	size_t		 i, j;

	config_sect_changes(old, CFG_VSECT_SERVER, conf, CFG_VSECT_SERVER,
	    NULL, "[server]", &out);
	if (old->tls.line != 0 && conf->tls.line == 0)
		config_change_add(&out, "[tls] removed");
	else if (old->tls.line == 0 && conf->tls.line != 0)
		config_change_add(&out, "[tls] added");
	else if (conf->tls.line != 0)
		config_sect_changes(old, CFG_VSECT_TLS, conf, CFG_VSECT_TLS,
		    NULL, "[tls]", &out);
	if (old->cluster.line != 0 && conf->cluster.line == 0)
		config_change_add(&out, "[cluster] removed");
	else if (old->cluster.line == 0 && conf->cluster.line != 0)
		config_change_add(&out, "[cluster] added");
	else if (conf->cluster.line != 0)
		config_sect_changes(old, CFG_VSECT_CLUSTER, conf,
		    CFG_VSECT_CLUSTER, NULL, "[cluster]", &out);
	for (i = 0; i < old->nroutes; i++) {
		r = &old->routes[i];
		a = config_route_app(r);
		for (j = 0; j < conf->nroutes; j++)
			if (strcmp(conf->routes[j].path, r->path) == 0)
				break;
		if (j == conf->nroutes) {
			config_change_add(&out, "route %s removed (app %s)",
			    r->path, a ? a->name : "static");
			continue;
		}
		b = config_route_app(&conf->routes[j]);
		what = a == b ? NULL : config_xasprintf("app %s -> %s",
		    a ? a->name : "static", b ? b->name : "static");
		label = config_xasprintf("route %s", r->path);
		config_sect_changes(old, (long)i, conf, (long)j, what, label,
		    &out);
		free(label);
	}
	for (j = 0; j < conf->nroutes; j++) {
		r = &conf->routes[j];
		for (i = 0; i < old->nroutes; i++)
			if (strcmp(old->routes[i].path, r->path) == 0)
				break;
		if (i == old->nroutes) {
			b = config_route_app(r);
			config_change_add(&out, "route %s added (app %s)",
			    r->path, b ? b->name : "static");
		}
	}
	return out;
}

/* Finds the route for a decoded request path, whatever the host. */
const struct wsd_route *
config_route_match(const struct wsd_config *conf, const char *path)
{
	return config_route_match_host(conf, NULL, path);
}

/* A Host header value or SNI name, lowercase, without port or final dot. */
int
config_host_normalize(const char *s, char *out, size_t size)
{
	const char	*end;
	size_t		 len, i;

	/* RFC 9110 7.2: uri-host [ ":" port ]; an IPv6 literal in brackets. */
	if (*s == '[')
		len = (end = strchr(s, ']')) != NULL ? (size_t)(end - s) + 1 :
		    strlen(s);
	else
		len = strcspn(s, ":");
	if (len > 0 && s[len - 1] == '.')
		len--;
	if (len == 0 || len >= size)
		return -1;
	for (i = 0; i < len; i++)
		out[i] = (char)tolower((unsigned char)s[i]);
	out[len] = '\0';
	return 0;
}

/* How well host matches pattern: 2 exactly, 1 by wildcard, 0 not. */
int
config_host_rank(const char *pattern, const char *host)
{
	const char	*dot;

	if (strcmp(pattern, host) == 0)
		return 2;
	/* "*.example.org": exactly one label more, as in RFC 6125 6.4.3. */
	if (pattern[0] == '*' && pattern[1] == '.' &&
	    (dot = strchr(host, '.')) != NULL && dot != host &&
	    strcmp(dot + 1, pattern + 2) == 0)
		return 1;
	return 0;
}

/* A route's rank for a host: -1 not for it, 0 any host, 1-2 by name. */
static int
config_route_rank(const struct wsd_route *r, const char *host)
{
	size_t	i;
	int	best = -1, rank;

	if (r->hosts.n == 0)
		return 0;
	for (i = 0; host != NULL && i < r->hosts.n; i++)
		if ((rank = config_host_rank(r->hosts.v[i], host)) > 0 &&
		    rank > best)
			best = rank;
	return best;
}

/* Finds the route for a decoded request path and Host header. */
const struct wsd_route *
config_route_match_host(const struct wsd_config *conf, const char *host,
    const char *path)
{
	const struct wsd_route *r, *best = NULL;
	char		 name[256];
	size_t		 i;
	int		 rank, best_rank = -1;

	if (host != NULL && config_host_normalize(host, name,
	    sizeof(name)) == -1)
		host = NULL;
	else if (host != NULL)
		host = name;
	/* App routes match exactly. */
	for (i = 0; i < conf->nroutes; i++) {
		r = &conf->routes[i];
		if (r->app == NULL || r->prefix || strcmp(r->path, path) != 0 ||
		    (rank = config_route_rank(r, host)) <= best_rank)
			continue;
		best = r;
		best_rank = rank;
	}
	if (best != NULL)
		return best;
	/* Then the longest prefix: static and channel routes. */
	for (i = 0; i < conf->nroutes; i++) {
		r = &conf->routes[i];
		if (r->app != NULL && !r->prefix)
			continue;
		if (r->app != NULL) {
			/* "/live/" serves "/live/news": what is below it. */
			if (strncmp(path, r->path, r->path_len) != 0)
				continue;
		} else if (r->path_len > 1 &&
		    (strncmp(path, r->path, r->path_len) != 0 ||
		    (path[r->path_len] != '\0' && path[r->path_len] != '/')))
			/* Static: a prefix ending on a segment boundary. */
			continue;
		else if (r->path_len == 1 && path[0] != '/')
			continue;
		if ((rank = config_route_rank(r, host)) < 0)
			continue;
		if (best == NULL || r->path_len > best->path_len ||
		    (r->path_len == best->path_len && rank > best_rank)) {
			best = r;
			best_rank = rank;
		}
	}
	return best;
}

/* Whether two routes serve the same host names, in any order. */
int
config_route_same_host(const struct wsd_route *a, const struct wsd_route *b)
{
	size_t	i, j;

	if (a->hosts.n != b->hosts.n)
		return 0;
	for (i = 0; i < a->hosts.n; i++) {
		for (j = 0; j < b->hosts.n; j++)
			if (strcmp(a->hosts.v[i], b->hosts.v[j]) == 0)
				break;
		if (j == b->hosts.n)
			return 0;
	}
	return 1;
}
