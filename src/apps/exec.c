/*
 * exec.c -- a program per WebSocket (websocketd's model): messages go to
 * its stdin, what it writes to stdout comes back as messages, its stderr
 * goes to the log. No shell runs: the command line is split like a shell
 * would (argv.c) and the program started with posix_spawn, its
 * environment built from scratch (CGI-like). Children are reaped on
 * SIGCHLD from the event loop; a connection that ends closes the pipes
 * and a program still running kill_timeout later gets SIGTERM, then
 * SIGKILL.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "app.h"
#include "apps/exec.h"
#include "argv.h"
#include "config.h"
#include "http.h"
#include "hub.h"
#include "log.h"
#include "worker.h"
#include "stats.h"
#include "utf8.h"
#include "ws.h"

/* The one PATH a program gets (env = may set another). */
#define EXEC_PATH	"/usr/local/bin:/usr/bin:/bin"
/* Bytes read from a program's stdout or stderr per wakeup. */
#define EXEC_READ_MAX	65536
/* Input held for a program beyond its pipe before the client waits. */
#define EXEC_IN_MAX	65536
/* A stderr line longer than this is logged in pieces. */
#define EXEC_ERR_LINE	512
/* From SIGTERM to SIGKILL. */
#define EXEC_KILL_GRACE	0.5
/* Exit statuses counted: 0 to 255, then killed by a signal. */
#define EXEC_EXITS	257

/*
 * A route's processes (app_route_data): one for the route on every
 * worker (hub_shared()), so max_procs and the counts are the route's.
 */
struct exec_route {
	_Atomic unsigned running;	/* started, not reaped yet */
	_Atomic uint64_t started;
	_Atomic uint64_t failed;	/* could not be started */
	_Atomic uint64_t exits[EXEC_EXITS];
};

/* One program and its pipes; outlives its connection until reaped. */
struct exec_proc {
	LIST_ENTRY(exec_proc)	 entry;		/* in exec_procs once started */
	pid_t			 pid;
	struct app_route	*rt;		/* a reference: counters */
	struct exec_route	*er;
	struct conn		*conn;		/* NULL once it ended */
	char			**envp;		/* until started */
	/* The route's settings when the connection came. */
	int			 mode;
	double			 kill_timeout;
	size_t			 max_line;	/* max_message_size */
	size_t			 max_send;	/* max_send_buffer */
	int			 in_fd;		/* -1 once closed */
	int			 out_fd;
	int			 err_fd;
	struct event		*in_ev;		/* armed while input waits */
	struct event		*out_ev;
	struct event		*err_ev;
	struct event		*kill_ev;
	struct evbuffer		*to_child;	/* input the pipe did not take */
	struct evbuffer		*line;		/* lines mode: a partial line */
	size_t			 errlen;
	int			 status;	/* waitpid's, once exited */
	unsigned		 exited:1;
	unsigned		 out_paused:1;	/* client output over limit */
	unsigned		 stage:2;	/* 0, SIGTERM sent, SIGKILL */
	struct log_limit	 log;		/* stderr lines */
	char			 who[64];	/* "/route pid N" */
	char			 errbuf[EXEC_ERR_LINE];
};

/* Each worker's own children; SIGCHLD comes to worker 0, which tells all. */
static _Thread_local LIST_HEAD(, exec_proc) exec_procs =
    LIST_HEAD_INITIALIZER(exec_procs);
static struct event	*exec_sigchld;
/* Refusals at max_procs: a burst of clients must not flood the log. */
static _Thread_local struct log_limit exec_refusals = { "exec", { { 0 } } };
static _Thread_local uint8_t exec_buf[EXEC_READ_MAX];

static void	exec_free(struct exec_proc *);
static void	exec_finish(struct exec_proc *);
static void	exec_reaped(struct exec_proc *, int);
static int	exec_env_add(char ***, size_t *, const char *, ...)
		    LOG_PRINTF(3, 4);

#define EXEC_CONF(f)	offsetof(struct app_conf, f)

/* Config check: an absolute path to an executable file, then arguments. */
static int
exec_check_command(const char *value, char *why, size_t len)
{
	struct stat	 st;
	const char	*err;
	char		**v;
	size_t		  n;
	int		  rc = -1;

	if ((v = argv_split(value, &n, &err)) == NULL) {
		snprintf(why, len, "%s", err);
		return -1;
	}
	if (v[0][0] != '/')
		snprintf(why, len, "%s: not an absolute path (no shell and "
		    "no PATH search: name the program's file)", v[0]);
	else if (stat(v[0], &st) == -1)
		snprintf(why, len, "%s: %s", v[0], strerror(errno));
	else if (!S_ISREG(st.st_mode) || access(v[0], X_OK) == -1)
		snprintf(why, len, "%s: not an executable file", v[0]);
	else
		rc = 0;
	argv_free(v);
	return rc;
}

/* Config check: NAME=VALUE words. */
static int
exec_check_env(const char *value, char *why, size_t len)
{
	const char	*err;
	char		**v;
	size_t		  n, i;
	int		  rc = 0;

	if ((v = argv_split(value, &n, &err)) == NULL) {
		snprintf(why, len, "%s", err);
		return -1;
	}
	for (i = 0; i < n && rc == 0; i++)
		if (!argv_env_valid(v[i])) {
			snprintf(why, len, "\"%s\" is not NAME=VALUE", v[i]);
			rc = -1;
		}
	argv_free(v);
	return rc;
}

/* Config check: an absolute path to a directory. */
static int
exec_check_dir(const char *value, char *why, size_t len)
{
	struct stat	st;

	if (value[0] != '/')
		snprintf(why, len, "%s: not an absolute path", value);
	else if (stat(value, &st) == -1)
		snprintf(why, len, "%s: %s", value, strerror(errno));
	else if (!S_ISDIR(st.st_mode))
		snprintf(why, len, "%s: not a directory", value);
	else
		return 0;
	return -1;
}

/* mode = lines|binary. */
static int
exec_mode_parse(const char *s)
{
	if (strcmp(s, "lines") == 0)
		return EXEC_MODE_LINES;
	if (strcmp(s, "binary") == 0)
		return EXEC_MODE_BINARY;
	return -1;
}

/* Keep wsd.ini.5 and etc/wsd.ini in step with these keys. */
static const struct config_key exec_key_command = {
	"command", CONFIG_KEY_STRING, 0, 0, NULL, EXEC_CONF(exec_command),
	NULL, NULL, NULL, 1, exec_check_command
};
static const struct config_key exec_key_env = {
	"env", CONFIG_KEY_STRING, 0, 0, NULL, EXEC_CONF(exec_env),
	NULL, NULL, NULL, 0, exec_check_env
};
static const struct config_key exec_key_dir = {
	"dir", CONFIG_KEY_STRING, 0, 0, NULL, EXEC_CONF(exec_dir),
	NULL, NULL, NULL, 0, exec_check_dir
};
static const struct config_key exec_key_mode = {
	"mode", CONFIG_KEY_WORD, 0, 0, "lines", EXEC_CONF(exec_mode),
	exec_mode_parse, "invalid mode (lines|binary)", NULL, 0, NULL
};
static const struct config_key exec_key_max_procs = {
	"max_procs", CONFIG_KEY_UINT, 1, 1000000, "64",
	EXEC_CONF(exec_max_procs), NULL, NULL, NULL, 0, NULL
};
static const struct config_key exec_key_kill_timeout = {
	"kill_timeout", CONFIG_KEY_DURATION, 0.001, 3600, "5s",
	EXEC_CONF(exec_kill_timeout), NULL, NULL, NULL, 0, NULL
};

/*
 * Reaps this worker's children that exited (SIGCHLD, through the event
 * loop): each by its pid, never another worker's.
 */
static void
exec_reap(void *arg)
{
	struct exec_proc	*p;
	int			 status, again = 1;

	(void)arg;
	while (again) {
		again = 0;
		LIST_FOREACH(p, &exec_procs, entry) {
			if (!p->exited && p->pid > 0 &&
			    waitpid(p->pid, &status, WNOHANG) == p->pid) {
				/* It may leave the list: look again. */
				exec_reaped(p, status);
				again = 1;
				break;
			}
		}
	}
}

/* libevent's SIGCHLD callback, on worker 0: every worker reaps its own. */
static void
exec_sigchld_cb(evutil_socket_t sig, short what, void *arg)
{
	unsigned	i;

	(void)sig;
	(void)what;
	for (i = 1; i < worker_count(); i++)
		if (worker_post(i, exec_reap, NULL, NULL) == -1)
			log_warnx("exec: worker %u: out of memory", i);
	exec_reap(arg);
}

/* Per-route state; SIGCHLD is watched from the first exec route on. */
static int
exec_route_init(struct app_route *r)
{
	struct exec_route	*er;
	struct hub		*hub = app_route_hub(r);

	/* Worker 0 takes the signals. */
	if (worker_self() == 0 && exec_sigchld == NULL) {
		exec_sigchld = evsignal_new(app_route_base(r), SIGCHLD,
		    exec_sigchld_cb, NULL);
		if (exec_sigchld == NULL || evsignal_add(exec_sigchld,
		    NULL) == -1) {
			log_warnx("exec: cannot watch SIGCHLD");
			return -1;
		}
	}
	hub_lock(hub);
	er = hub_shared(hub, sizeof(*er));
	hub_unlock(hub);
	if (er == NULL)
		return -1;
	app_route_set_data(r, er);
	return 0;
}

/* The route goes: its processes are all gone (they hold it). */
static void
exec_route_free(struct app_route *r)
{
	/* The hub's group frees it with the route's last worker. */
	app_route_set_data(r, NULL);
}

/* Whether the environment already has NAME (up to '='). */
static int
exec_env_has(char *const *v, size_t n, const char *s)
{
	size_t	i, k = strcspn(s, "=");

	for (i = 0; i < n; i++)
		if (strncmp(v[i], s, k + 1) == 0)
			return 1;
	return 0;
}

/*
 * Appends NAME=VALUE to the environment unless NAME is there already
 * (the route's env = came first and wins); -1: out of memory.
 */
static int
exec_env_add(char ***v, size_t *n, const char *fmt, ...)
{
	va_list	  ap;
	char	 *s, **nv;
	int	  r;

	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r == -1)
		return -1;
	if (exec_env_has(*v, *n, s)) {
		free(s);
		return 0;
	}
	if ((nv = reallocarray(*v, *n + 2, sizeof(*nv))) == NULL) {
		free(s);
		return -1;
	}
	nv[(*n)++] = s;
	nv[*n] = NULL;
	*v = nv;
	return 0;
}

/* HTTP_NAME for header i: upper case, '-' and the like become '_'. */
static int
exec_env_header(char ***v, size_t *n, const struct http_request *req,
    size_t hi)
{
	const struct http_header *h = &req->headers[hi], *o;
	struct evbuffer	*b;
	char		 name[128];
	size_t		 i, k;
	int		 r;

	/* httpoxy: a client must not set HTTP_PROXY for the program. */
	if (h->name_len == 5 && strncasecmp(h->name, "Proxy", 5) == 0)
		return 0;

	k = h->name_len < sizeof(name) - 6 ? h->name_len : sizeof(name) - 6;
	memcpy(name, "HTTP_", 5);
	for (i = 0; i < k; i++) {
		name[5 + i] = h->name[i];
		if (name[5 + i] >= 'a' && name[5 + i] <= 'z')
			name[5 + i] -= 'a' - 'A';
		else if (!((name[5 + i] >= 'A' && name[5 + i] <= 'Z') ||
		    (name[5 + i] >= '0' && name[5 + i] <= '9')))
			name[5 + i] = '_';
	}
	name[5 + k] = '\0';
	if (exec_env_has(*v, *n, name))
		return 0;	/* a repeated header: joined below */
	/* Repeated headers are one, joined with ", " as CGI does. */
	if ((b = evbuffer_new()) == NULL)
		return -1;
	for (i = hi; i < req->nheaders; i++) {
		o = &req->headers[i];
		if (o->name_len != h->name_len ||
		    strncasecmp(o->name, h->name, h->name_len) != 0)
			continue;
		if (evbuffer_get_length(b) > 0)
			evbuffer_add(b, ", ", 2);
		evbuffer_add(b, o->value, o->value_len);
	}
	evbuffer_add(b, "", 1);
	r = exec_env_add(v, n, "%s=%s", name, (char *)evbuffer_pullup(b, -1));
	evbuffer_free(b);
	return r;
}

/* The program's environment, from scratch; NULL: out of memory. */
static char **
exec_env(struct conn *c, const struct http_request *req,
    const struct wsd_route *conf, const struct app_conf *ac)
{
	const struct http_header *host;
	const char	*why, *end;
	char		**v = NULL, **words = NULL, addr[64];
	size_t		  n = 0, nw = 0, i, hl;
	unsigned	  port, lport;
	int		  tls, bad = 0;

	conn_endpoints(c, addr, sizeof(addr), &port, &lport, &tls);
	/* Checked at load: only memory can fail here. */
	if (ac->exec_env != NULL &&
	    (words = argv_split(ac->exec_env, &nw, &why)) == NULL)
		return NULL;
	for (i = 0; i < nw; i++)
		bad |= exec_env_add(&v, &n, "%s", words[i]);
	argv_free(words);
	bad |= exec_env_add(&v, &n, "PATH=%s", EXEC_PATH);
	bad |= exec_env_add(&v, &n, "REMOTE_ADDR=%s", addr);
	if (port != 0)
		bad |= exec_env_add(&v, &n, "REMOTE_PORT=%u", port);
	if ((host = http_header_find(req, "Host")) != NULL) {
		/* Without the port; an IPv6 literal keeps its brackets. */
		end = memchr(host->value, host->value_len > 0 &&
		    host->value[0] == '[' ? ']' : ':', host->value_len);
		hl = end == NULL ? host->value_len :
		    (size_t)(end - host->value) + (*end == ']');
		bad |= exec_env_add(&v, &n, "SERVER_NAME=%.*s", (int)hl,
		    host->value);
	}
	bad |= exec_env_add(&v, &n, "SERVER_PORT=%u", lport);
	bad |= exec_env_add(&v, &n, "PATH_INFO=%.*s", (int)req->path_len,
	    req->path);
	bad |= exec_env_add(&v, &n, "QUERY_STRING=%.*s",
	    req->query != NULL ? (int)req->query_len : 0,
	    req->query != NULL ? req->query : "");
	if (tls)
		bad |= exec_env_add(&v, &n, "HTTPS=on");
	bad |= exec_env_add(&v, &n, "WSD_ROUTE=%s", conf->path);
	bad |= exec_env_add(&v, &n, "PYTHONUNBUFFERED=1");
	for (i = 0; i < req->nheaders; i++)
		bad |= exec_env_header(&v, &n, req, i);
	if (bad || v == NULL) {
		argv_free(v);
		return NULL;
	}
	return v;
}

/*
 * Before the 101: the route's max_procs, then the environment from the
 * request, which is gone by on_open.
 */
static int
exec_upgrade(struct conn *c, const struct http_request *req)
{
	struct app_route	*r = conn_app_route(c);
	const struct wsd_route	*conf = app_route_conf(r);
	const struct app_conf	*ac = app_conf(conf);
	struct exec_route	*er = app_route_data(r);
	struct exec_proc	*p;

	if (er->running >= ac->exec_max_procs) {
		log_limited(&exec_refusals, "exec: max_procs", LOG_LVL_WARN,
		    "%s: exec %s: max_procs (%u) reached, refusing",
		    conn_peer(c), conf->path, ac->exec_max_procs);
		return 503;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (p->envp = exec_env(c, req, conf, ac)) == NULL) {
		log_warnx("%s: exec %s: out of memory", conn_peer(c),
		    conf->path);
		free(p);
		return 503;
	}
	p->in_fd = p->out_fd = p->err_fd = -1;
	p->mode = ac->exec_mode;
	p->kill_timeout = ac->exec_kill_timeout;
	p->max_line = conf->lim.max_message_size;
	p->max_send = conf->lim.max_send_buffer;
	conn_set_app_data(c, p);
	return 0;
}

/* A pipe end at 3 or above, so that dup2 onto 0-2 cannot clobber one. */
static int
exec_fd_high(int fd)
{
	int	nfd;

	if (fd > 2)
		return fd;
	nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	close(fd);
	return nfd;
}

/* Three pipes, close-on-exec; the ends wsd keeps are non-blocking. */
static int
exec_pipes(int fds[3][2])
{
	int	i, j;

	for (i = 0; i < 3; i++)
		fds[i][0] = fds[i][1] = -1;
	for (i = 0; i < 3; i++) {
		if (pipe2(fds[i], O_CLOEXEC) == -1)
			return -1;
		for (j = 0; j < 2; j++)
			if ((fds[i][j] = exec_fd_high(fds[i][j])) == -1)
				return -1;
	}
	/* stdin: wsd writes [0][1]; stdout, stderr: wsd reads [i][0]. */
	if (fcntl(fds[0][1], F_SETFL, O_NONBLOCK) == -1 ||
	    fcntl(fds[1][0], F_SETFL, O_NONBLOCK) == -1 ||
	    fcntl(fds[2][0], F_SETFL, O_NONBLOCK) == -1)
		return -1;
	return 0;
}

/* Closes what exec_pipes() opened. */
static void
exec_pipes_close(int fds[3][2])
{
	int	i, j;

	for (i = 0; i < 3; i++)
		for (j = 0; j < 2; j++)
			if (fds[i][j] != -1)
				close(fds[i][j]);
}

/*
 * Starts the program: its stdin, stdout and stderr are the pipes, every
 * other descriptor closed, signals at their defaults and unblocked, in
 * its own session (its process group is signalled as one), in dir.
 * Returns 0, or an errno.
 */
static int
exec_spawn(struct exec_proc *p, const struct app_conf *ac)
{
	posix_spawn_file_actions_t	 fa;
	posix_spawnattr_t		 at;
	sigset_t			 none, dfl;
	const char			*why;
	char				**argv;
	size_t				  argc;
	int				  fds[3][2], err;

	if ((argv = argv_split(ac->exec_command, &argc, &why)) == NULL)
		return ENOMEM;	/* the command was checked at load */
	if (exec_pipes(fds) == -1) {
		err = errno;
		exec_pipes_close(fds);
		argv_free(argv);
		return err;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&at);
	posix_spawn_file_actions_adddup2(&fa, fds[0][0], 0);
	posix_spawn_file_actions_adddup2(&fa, fds[1][1], 1);
	posix_spawn_file_actions_adddup2(&fa, fds[2][1], 2);
	if (ac->exec_dir != NULL)
		posix_spawn_file_actions_addchdir_np(&fa, ac->exec_dir);
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	sigemptyset(&none);
	/* wsd ignores SIGPIPE (and SIGTERM at exit): the program must not. */
	sigemptyset(&dfl);
	sigaddset(&dfl, SIGPIPE);
	sigaddset(&dfl, SIGTERM);
	sigaddset(&dfl, SIGINT);
	sigaddset(&dfl, SIGHUP);
	sigaddset(&dfl, SIGCHLD);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &dfl);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK |
	    POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSID);
	err = posix_spawn(&p->pid, argv[0], &fa, &at, argv, p->envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	argv_free(argv);
	close(fds[0][0]);
	close(fds[1][1]);
	close(fds[2][1]);
	p->in_fd = fds[0][1];
	p->out_fd = fds[1][0];
	p->err_fd = fds[2][0];
	if (err != 0) {
		p->pid = 0;
		close(p->in_fd);
		close(p->out_fd);
		close(p->err_fd);
		p->in_fd = p->out_fd = p->err_fd = -1;
	}
	return err;
}

/* Writes what input waits to the program; pauses the client if it piles. */
static void
exec_in_flush(struct exec_proc *p)
{
	size_t	len;
	int	n;

	while ((len = evbuffer_get_length(p->to_child)) > 0) {
		n = evbuffer_write(p->to_child, p->in_fd);
		if (n > 0)
			continue;
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		/* The program closed its stdin: it takes no more input. */
		log_limited(&p->log, "exec: stdin closed", LOG_LVL_INFO,
		    "exec %s: the program closed its stdin, input dropped",
		    p->who);
		evbuffer_drain(p->to_child, len);
		len = 0;
		break;
	}
	if (len > 0)
		event_add(p->in_ev, NULL);
	else
		event_del(p->in_ev);
	if (p->conn != NULL)
		conn_pause_reading(p->conn, len > EXEC_IN_MAX);
}

/* The program's stdin can take more. */
static void
exec_in_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	exec_in_flush(arg);
}

/* Stops the program's output: the connection cannot take it. */
static void
exec_out_stop(struct exec_proc *p)
{
	if (p->out_ev != NULL)
		event_del(p->out_ev);
	p->out_paused = 1;
}

/* Sends a message of the program's; fails the connection when it can't. */
static int
exec_send(struct exec_proc *p, int opcode, const void *data, size_t len)
{
	if (p->conn == NULL || conn_send(p->conn, opcode, data, len) == -1) {
		exec_out_stop(p);
		return -1;
	}
	if (conn_pending(p->conn) > p->max_send)
		exec_out_stop(p);	/* on_drain resumes it */
	return 0;
}

/* Gives up on a program whose output cannot be sent: 1011. */
static void
exec_fail(struct exec_proc *p, const char *why)
{
	log_warnx("exec %s: %s, closing the connection", p->who, why);
	exec_out_stop(p);
	if (p->conn != NULL)
		conn_ws_close(p->conn, WS_CLOSE_INTERNAL, why);
}

/* Sends the complete lines of the program's output as text messages. */
static void
exec_lines(struct exec_proc *p, int eof)
{
	struct evbuffer_ptr	 ptr;
	const uint8_t		*s;
	size_t			 len;

	while (!p->out_paused) {
		ptr = evbuffer_search(p->line, "\n", 1, NULL);
		len = ptr.pos == -1 ? evbuffer_get_length(p->line) :
		    (size_t)ptr.pos;
		if (len > p->max_line) {
			exec_fail(p, "program output line too long");
			return;
		}
		/* At the end, a last line without its newline. */
		if (ptr.pos == -1 && (!eof || len == 0))
			return;
		s = evbuffer_pullup(p->line, (ev_ssize_t)len + (ptr.pos != -1));
		if (utf8_validate(UTF8_ACCEPT, s, len) != UTF8_ACCEPT) {
			exec_fail(p, "program output is not UTF-8");
			return;
		}
		if (exec_send(p, WS_OP_TEXT, s, len) == -1 && p->conn == NULL)
			return;
		evbuffer_drain(p->line, len + (ptr.pos != -1));
	}
}

/* Reads once from the program's stdout; finishes at EOF. */
static void
exec_out_read(struct exec_proc *p)
{
	ssize_t	n;

	if (p->out_fd == -1 || p->out_paused)
		return;
	/* Binary mode: no message over max_message_size. */
	n = read(p->out_fd, exec_buf, p->mode == EXEC_MODE_BINARY &&
	    p->max_line < sizeof(exec_buf) ? p->max_line : sizeof(exec_buf));
	if (n == -1 && errno == EINTR)
		return;
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK) &&
	    !p->exited)
		return;
	if (n > 0) {
		if (p->mode == EXEC_MODE_BINARY)
			exec_send(p, WS_OP_BINARY, exec_buf, (size_t)n);
		else if (evbuffer_add(p->line, exec_buf, (size_t)n) == -1)
			exec_fail(p, "out of memory");
		else
			exec_lines(p, 0);
		/* Exited: read on until the pipe is empty. */
		if (p->exited && !p->out_paused && p->out_ev != NULL)
			event_active(p->out_ev, EV_READ, 1);
		return;
	}
	/*
	 * EOF, an error, or nothing more after the exit (a process the
	 * program left behind may hold the pipe open).
	 */
	if (p->mode == EXEC_MODE_LINES)
		exec_lines(p, 1);
	if (p->out_paused && p->conn != NULL &&
	    evbuffer_get_length(p->line) > 0)
		return;	/* the last line waits for the drain */
	event_free(p->out_ev);
	p->out_ev = NULL;
	close(p->out_fd);
	p->out_fd = -1;
	if (p->exited)
		exec_finish(p);
}

/* The program's stdout is readable. */
static void
exec_out_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	exec_out_read(arg);
}

/* Logs one stderr line (or piece of a long one). */
static void
exec_err_line(struct exec_proc *p, const char *s, size_t len)
{
	log_limited(&p->log, "exec: stderr", LOG_LVL_WARN, "exec %s: %.*s",
	    p->who, (int)len, s);
}

/*
 * Reads the program's stderr and logs it line by line: 1 after data, 0
 * when there is none now, -1 at EOF.
 */
static int
exec_err_read(struct exec_proc *p)
{
	char	*nl, *s;
	ssize_t	 n;
	size_t	 k;

	n = read(p->err_fd, p->errbuf + p->errlen,
	    sizeof(p->errbuf) - p->errlen);
	if (n == -1)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	if (n == 0) {
		if (p->errlen > 0)
			exec_err_line(p, p->errbuf, p->errlen);
		p->errlen = 0;
		return -1;
	}
	p->errlen += (size_t)n;
	s = p->errbuf;
	while ((nl = memchr(s, '\n', p->errlen - (size_t)(s - p->errbuf))) !=
	    NULL) {
		exec_err_line(p, s, (size_t)(nl - s));
		s = nl + 1;
	}
	k = p->errlen - (size_t)(s - p->errbuf);
	if (k == sizeof(p->errbuf)) {
		exec_err_line(p, p->errbuf, k);
		k = 0;
	}
	memmove(p->errbuf, s, k);
	p->errlen = k;
	return 1;
}

/* The program's stderr is readable. */
static void
exec_err_cb(evutil_socket_t fd, short what, void *arg)
{
	struct exec_proc	*p = arg;

	(void)fd;
	(void)what;
	if (exec_err_read(p) == -1 && p->err_ev != NULL) {
		event_free(p->err_ev);
		p->err_ev = NULL;
		close(p->err_fd);
		p->err_fd = -1;
	}
}

/* Signals the program's process group (its own session). */
static void
exec_signal(struct exec_proc *p, int sig)
{
	if (p->exited)
		return;
	if (kill(-p->pid, sig) == -1)
		kill(p->pid, sig);
}

/* kill_timeout after the connection ended: SIGTERM, then SIGKILL. */
static void
exec_kill_cb(evutil_socket_t fd, short what, void *arg)
{
	struct exec_proc	*p = arg;
	struct timeval		 tv = config_timeval(EXEC_KILL_GRACE);

	(void)fd;
	(void)what;
	if (p->stage == 0) {
		log_info("exec %s: still running %.3gs after its connection "
		    "ended, SIGTERM", p->who, p->kill_timeout);
		exec_signal(p, SIGTERM);
		p->stage = 1;
		evtimer_add(p->kill_ev, &tv);
		return;
	}
	log_warnx("exec %s: still running after SIGTERM, SIGKILL", p->who);
	exec_signal(p, SIGKILL);
	p->stage = 2;
}

/* A child was reaped: counted, logged, and its session told. */
static void
exec_reaped(struct exec_proc *p, int status)
{
	p->exited = 1;
	p->status = status;
	p->er->running--;
	if (WIFEXITED(status)) {
		p->er->exits[WEXITSTATUS(status)]++;
		if (WEXITSTATUS(status) == 0)
			log_info("exec %s: exited with status 0", p->who);
		else
			log_warnx("exec %s: exited with status %d", p->who,
			    WEXITSTATUS(status));
	} else {
		p->er->exits[EXEC_EXITS - 1]++;
		if (WIFSIGNALED(status))
			log_warnx("exec %s: killed by signal %d", p->who,
			    WTERMSIG(status));
	}
	evtimer_del(p->kill_ev);
	if (p->conn == NULL)
		exec_free(p);
	else if (p->out_fd == -1)
		exec_finish(p);
	else if (!p->out_paused)
		/* What it wrote before exiting is still in the pipe. */
		event_active(p->out_ev, EV_READ, 1);
}

/*
 * The program exited and its output was read: the connection closes,
 * 1000 after a status of 0, 1011 otherwise, behind the output queued.
 */
static void
exec_finish(struct exec_proc *p)
{
	int	ok = WIFEXITED(p->status) && WEXITSTATUS(p->status) == 0;
	char	why[64];

	if (p->conn != NULL) {
		if (WIFEXITED(p->status))
			snprintf(why, sizeof(why), "program exited with "
			    "status %d", WEXITSTATUS(p->status));
		else
			snprintf(why, sizeof(why), "program killed by "
			    "signal %d", WIFSIGNALED(p->status) ?
			    WTERMSIG(p->status) : 0);
		conn_ws_close(p->conn, ok ? WS_CLOSE_NORMAL :
		    WS_CLOSE_INTERNAL, ok ? "" : why);
		conn_set_app_data(p->conn, NULL);
		p->conn = NULL;
	}
	exec_free(p);
}

/* Frees a process that was reaped, or never started. */
static void
exec_free(struct exec_proc *p)
{
	int	i;

	if (p->pid > 0)
		LIST_REMOVE(p, entry);
	/* Its last words on stderr, as far as they are there. */
	for (i = 0; p->err_fd != -1 && i < 16 && exec_err_read(p) == 1; i++)
		;
	if (p->errlen > 0)
		exec_err_line(p, p->errbuf, p->errlen);
	if (p->in_ev != NULL)
		event_free(p->in_ev);
	if (p->out_ev != NULL)
		event_free(p->out_ev);
	if (p->err_ev != NULL)
		event_free(p->err_ev);
	if (p->kill_ev != NULL)
		event_free(p->kill_ev);
	if (p->in_fd != -1)
		close(p->in_fd);
	if (p->out_fd != -1)
		close(p->out_fd);
	if (p->err_fd != -1)
		close(p->err_fd);
	if (p->to_child != NULL)
		evbuffer_free(p->to_child);
	if (p->line != NULL)
		evbuffer_free(p->line);
	argv_free(p->envp);
	log_limit_flush(&p->log);
	if (p->rt != NULL)
		app_route_free(p->rt);
	free(p);
}

/* The handshake is done: starts the program. */
static void
exec_open(struct conn *c)
{
	struct exec_proc	*p = conn_app_data(c);
	struct app_route	*r = conn_app_route(c);
	const struct wsd_route	*conf = app_route_conf(r);
	struct event_base	*base = app_route_base(r);
	int			 err;

	if (p == NULL)
		return;
	p->conn = c;
	p->er = app_route_data(r);
	if ((p->to_child = evbuffer_new()) == NULL ||
	    (p->line = evbuffer_new()) == NULL ||
	    (p->kill_ev = evtimer_new(base, exec_kill_cb, p)) == NULL)
		err = ENOMEM;
	else
		err = exec_spawn(p, app_conf(conf));
	if (err == 0) {
		snprintf(p->who, sizeof(p->who), "%s pid %ld", conf->path,
		    (long)p->pid);
		LIST_INSERT_HEAD(&exec_procs, p, entry);
		p->rt = app_route_hold(r);
		p->er->running++;
		p->er->started++;
		argv_free(p->envp);
		p->envp = NULL;
		log_limit_init(&p->log, p->who);
		log_debug("%s: exec %s started", conn_peer(c), p->who);
		p->in_ev = event_new(base, p->in_fd, EV_WRITE | EV_PERSIST,
		    exec_in_cb, p);
		p->out_ev = event_new(base, p->out_fd, EV_READ | EV_PERSIST,
		    exec_out_cb, p);
		p->err_ev = event_new(base, p->err_fd, EV_READ | EV_PERSIST,
		    exec_err_cb, p);
		if (p->in_ev != NULL && p->out_ev != NULL &&
		    p->err_ev != NULL) {
			event_add(p->out_ev, NULL);
			event_add(p->err_ev, NULL);
			return;
		}
		/* It runs: closing its pipes and the timer end it. */
		log_warnx("exec %s: out of memory", p->who);
		conn_ws_close(c, WS_CLOSE_INTERNAL, "out of memory");
		return;
	}
	p->er->failed++;
	log_warnx("%s: exec %s: cannot start %s: %s", conn_peer(c),
	    conf->path, app_conf(conf)->exec_command, strerror(err));
	conn_set_app_data(c, NULL);
	p->conn = NULL;
	exec_free(p);
	conn_ws_close(c, WS_CLOSE_INTERNAL, "cannot start program");
}

/* A message from the client: to the program's stdin. */
static void
exec_message(struct conn *c, int opcode, const uint8_t *data, size_t len)
{
	struct exec_proc	*p = conn_app_data(c);

	if (p == NULL || p->in_fd == -1)
		return;
	if (p->mode == EXEC_MODE_LINES) {
		if (opcode == WS_OP_BINARY || memchr(data, '\n', len) != NULL) {
			log_limited(conn_log_limit(c), "exec: not a line",
			    LOG_LVL_INFO, "%s: exec %s: %s, closing with 1003",
			    conn_peer(c), p->who, opcode == WS_OP_BINARY ?
			    "binary message in lines mode" :
			    "message with a newline in lines mode");
			conn_ws_close(c, WS_CLOSE_UNSUPPORTED,
			    opcode == WS_OP_BINARY ? "lines mode: text only" :
			    "lines mode: a message must not contain a newline");
			return;
		}
		if (evbuffer_add(p->to_child, data, len) == -1 ||
		    evbuffer_add(p->to_child, "\n", 1) == -1) {
			conn_ws_close(c, WS_CLOSE_INTERNAL, "out of memory");
			return;
		}
	} else if (evbuffer_add(p->to_child, data, len) == -1) {
		conn_ws_close(c, WS_CLOSE_INTERNAL, "out of memory");
		return;
	}
	exec_in_flush(p);
}

/* The client's output drained: the program's output is read again. */
static void
exec_drain(struct conn *c)
{
	struct exec_proc	*p = conn_app_data(c);

	if (p == NULL || !p->out_paused || p->out_ev == NULL)
		return;
	p->out_paused = 0;
	/* The lines already read go first. */
	if (p->mode == EXEC_MODE_LINES) {
		exec_lines(p, p->exited);
		if (p->out_paused || p->conn == NULL)
			return;
	}
	event_add(p->out_ev, NULL);
	event_active(p->out_ev, EV_READ, 1);
}

/*
 * The session ended, whatever the reason: stdin and stdout close (the
 * program sees EOF, and SIGPIPE if it writes on); one still running
 * kill_timeout later gets SIGTERM.
 */
static void
exec_close(struct conn *c)
{
	struct exec_proc	*p = conn_app_data(c);
	struct timeval		 tv;

	if (p == NULL)
		return;
	conn_set_app_data(c, NULL);
	p->conn = NULL;
	if (p->pid <= 0) {
		exec_free(p);	/* never started */
		return;
	}
	if (p->in_ev != NULL) {
		event_free(p->in_ev);
		p->in_ev = NULL;
	}
	if (p->out_ev != NULL) {
		event_free(p->out_ev);
		p->out_ev = NULL;
	}
	if (p->in_fd != -1)
		close(p->in_fd);
	if (p->out_fd != -1)
		close(p->out_fd);
	p->in_fd = p->out_fd = -1;
	if (p->exited) {
		exec_free(p);
		return;
	}
	tv = config_timeval(p->kill_timeout);
	evtimer_add(p->kill_ev, &tv);
}

/* Waits up to secs for the children to be reaped. */
static void
exec_wait(double secs)
{
	struct timespec	ts = { 0, 10 * 1000 * 1000 };
	double		waited = 0;

	while (!LIST_EMPTY(&exec_procs) && waited < secs) {
		exec_reap(NULL);
		if (LIST_EMPTY(&exec_procs))
			break;
		nanosleep(&ts, NULL);
		waited += 0.01;
	}
}

/* At exit: SIGTERM, kill_timeout, SIGKILL; every child reaped. */
void
exec_stop_all(void)
{
	struct exec_proc	*p, *next;
	double			 wait = 0;
	int			 status;

	LIST_FOREACH(p, &exec_procs, entry) {
		if (p->kill_timeout > wait)
			wait = p->kill_timeout;
		exec_signal(p, SIGTERM);
	}
	if (!LIST_EMPTY(&exec_procs))
		log_info("exec: stopping %s", "the programs still running");
	exec_wait(wait);
	for (p = LIST_FIRST(&exec_procs); p != NULL; p = next) {
		next = LIST_NEXT(p, entry);
		log_warnx("exec %s: still running at exit, SIGKILL", p->who);
		exec_signal(p, SIGKILL);
		if (waitpid(p->pid, &status, 0) == p->pid)
			exec_reaped(p, status);
		else
			exec_free(p);
	}
	log_limit_flush(&exec_refusals);
	if (worker_self() == 0 && exec_sigchld != NULL) {
		event_free(exec_sigchld);
		exec_sigchld = NULL;
	}
}

/* The exec metrics of the exec routes (struct app's metrics_text). */
static void
exec_metrics(struct evbuffer *out, struct app_route *const *rts,
    const struct stats_route_view *views, size_t n)
{
	const struct exec_route	*er;
	char			 extra[32];
	size_t			 i, s;

	if (n == 0)
		return;
	stats_meta(out, "wsd_exec_processes", "gauge",
	    "Programs of exec routes running (or not reaped yet), by route.");
	for (i = 0; i < n; i++)
		stats_route_sample(out, "wsd_exec_processes", &views[i], NULL,
		    ((const struct exec_route *)app_route_data(rts[i]))->running);
	stats_meta(out, "wsd_exec_started_total", "counter",
	    "Programs started by exec routes, by route.");
	for (i = 0; i < n; i++)
		stats_route_sample(out, "wsd_exec_started_total", &views[i],
		    NULL, ((const struct exec_route *)
		    app_route_data(rts[i]))->started);
	stats_meta(out, "wsd_exec_start_failures_total", "counter",
	    "Programs of exec routes that could not be started, by route.");
	for (i = 0; i < n; i++)
		stats_route_sample(out, "wsd_exec_start_failures_total",
		    &views[i], NULL, ((const struct exec_route *)
		    app_route_data(rts[i]))->failed);
	stats_meta(out, "wsd_exec_exits_total", "counter",
	    "Programs of exec routes that ended, by route and exit status "
	    "(\"signal\": killed by a signal).");
	for (i = 0; i < n; i++) {
		er = app_route_data(rts[i]);
		for (s = 0; s < EXEC_EXITS; s++) {
			if (er->exits[s] == 0)
				continue;
			if (s == EXEC_EXITS - 1)
				snprintf(extra, sizeof(extra),
				    ",status=\"signal\"");
			else
				snprintf(extra, sizeof(extra),
				    ",status=\"%zu\"", s);
			stats_route_sample(out, "wsd_exec_exits_total",
			    &views[i], extra, er->exits[s]);
		}
	}
}

static const struct config_key *const exec_keys[] = {
	&exec_key_command,
	&exec_key_env,
	&exec_key_dir,
	&exec_key_mode,
	&exec_key_max_procs,
	&exec_key_kill_timeout,
	NULL
};

const struct app app_exec = {
	.name = "exec",
	.binary_ok = 1,		/* lines mode refuses them itself */
	.keys = exec_keys,
	.route_init = exec_route_init,
	.route_free = exec_route_free,
	.on_upgrade = exec_upgrade,
	.on_open = exec_open,
	.on_message = exec_message,
	.on_close = exec_close,
	.metrics_text = exec_metrics,
	.on_drain = exec_drain,
};
