/* cluster.c -- many nodes: hubs and app state shared through Redis. */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "cluster.h"
#include "cluster_env.h"
#include "cluster_hop.h"
#include "config.h"
#include "hub.h"
#include "log.h"
#include "tls.h"
#include "worker.h"

/*
 * Redis is reached over two connections: commands (PUBLISH, the
 * counter's and the lease's scripts, PING) and subscriptions (one
 * PSUBSCRIBE to every hub's channel). hiredis only encodes commands and
 * parses replies; the sockets are ours, on our loop, so that connecting
 * and every command have a deadline: a Redis that stalls or answers
 * garbage costs a reconnect, never the loop.
 */

/* Output to Redis held while it is slow; past it, publishes are dropped. */
#define CLUSTER_MAX_OUTPUT	(16u * 1024 * 1024)
/* A reply larger than this is not one we asked for. */
#define CLUSTER_MAX_INPUT	(64u * 1024 * 1024)
/* Registry buckets: hubs by name. */
#define CLUSTER_BUCKETS		1024
/* How often the links are checked and kept alive (at most). */
#define CLUSTER_TICK		1.0

struct cluster;
struct cluster_link;

/* Called with a command's reply; NULL when the link failed first. */
typedef void (*cluster_reply_cb)(struct cluster_link *, const redisReply *,
    void *);

struct cluster_cmd {
	TAILQ_ENTRY(cluster_cmd) entry;
	cluster_reply_cb	 cb;
	void			*arg;
};
TAILQ_HEAD(cluster_cmds, cluster_cmd);

/* One connection to Redis. */
struct cluster_link {
	struct cluster		*cl;
	const char		*what;		/* for log lines */
	struct bufferevent	*bev;		/* NULL: closed */
	redisReader		*rd;
	struct cluster_cmds	 cmds;		/* awaiting a reply, in order */
	struct event		*ev_timeout;	/* connect or reply deadline */
	int			 ready;
};

/* A hub this node has, by name. */
struct cluster_hub {
	struct cluster_hub	*next;
	struct hub		*hub;
	const char		*name;		/* the hub's own */
};

struct cluster_counter {
	LIST_ENTRY(cluster_counter) entry;
	struct cluster		*cl;
	char			*name;
	char			*kvalue;	/* PREFIXcounter:NAME */
	char			*kusers;	/* PREFIXusers:NAME, a hash */
	char			*ktotal;	/* PREFIXusers:NAME:total */
	char			*chan;		/* the hub's channel */
	void			(*value_cb)(void *, long long);
	void			(*users_cb)(void *, long long);
	void			*arg;
	long long		 offline;	/* added while Redis was away */
	unsigned		 local;		/* this node's users */
	unsigned		 refs;		/* owner + commands in flight */
	int			 gone;		/* the owner freed it */
};
LIST_HEAD(cluster_counters, cluster_counter);

struct cluster_lease {
	LIST_ENTRY(cluster_lease) entry;
	struct cluster		*cl;
	char			*key;
	int			 held;
	unsigned		 refs;
	int			 gone;
};
LIST_HEAD(cluster_leases, cluster_lease);

struct cluster_sink {
	LIST_ENTRY(cluster_sink) entry;
	char			*prefix;
	void			(*cb)(void *, const char *, size_t, int,
				    const void *, size_t, const void *,
				    size_t);
	/* Channel streams: every node's entries, ours too; deletions. */
	cluster_stream_cb	 stream_cb;
	void			*arg;
};
LIST_HEAD(cluster_sinks, cluster_sink);

struct cluster_stream_req;
TAILQ_HEAD(cluster_syncs, cluster_stream_req);

/* Changed on worker 0, read by the worker that serves the metrics. */
struct cluster_stats {
	_Atomic unsigned long long reconnects;
	_Atomic unsigned long long published;
	_Atomic unsigned long long received;
	_Atomic unsigned long long dropped;	/* not sent: link down, full */
	_Atomic unsigned long long malformed;	/* received, not an envelope */
	_Atomic unsigned	 counters;	/* counter routes */
};

/*
 * The whole state of the node's cluster membership, worker 0's: the
 * other workers hand it their calls (worker_post) and read only what is
 * atomic (up, last_contact, st).
 */
struct cluster {
	struct event_base	*base;
	struct evdns_base	*dns;
	char			*addr;		/* as configured, for logs */
	char			*host;		/* NULL: unix socket */
	int			 port;
	char			*path;
	char			*password;	/* NULL: no AUTH */
	char			*user;		/* ACL user; NULL: default */
	SSL_CTX			*ssl_ctx;	/* redis_tls; NULL: plain */
	char			 db[16];	/* "": no SELECT */
	char			*prefix;
	char			*hubchan;	/* PREFIXhub: */
	char			*pattern;	/* PREFIXhub:*, escaped */
	char			*syncpre;	/* PREFIXhub:sync: (not a hub) */
	char			*syncchan;	/* syncpre NODE: our markers */
	uint64_t		 sync_sent;	/* the last marker's number */
	struct cluster_syncs	 syncs;		/* stream reads waiting */
	char			 id[CLUSTER_ENV_ID_MAX + 1];
	double			 timeout;
	double			 users_ttl;
	double			 lease;
	struct cluster_link	 cmd;
	struct cluster_link	 sub;
	unsigned		 epoch;		/* bumped by every teardown */
	_Atomic int		 up;
	int			 ever_up;
	int			 down_logged;	/* one line per outage */
	int			 in_down;
	unsigned		 attempt;	/* failures since last up */
	struct event		*ev_retry;
	struct event		*ev_tick;
	_Atomic double		 last_contact;	/* monotonic; 0: never */
	double			 last_heartbeat;
	double			 last_lease;
	struct cluster_hub	*hubs[CLUSTER_BUCKETS];
	struct cluster_counters	 counters;
	struct cluster_leases	 leases;
	struct cluster_sinks	 sinks;
	struct cluster_stats	 st;
	/* Redis's error replies come per command: a few lines a minute. */
	struct log_limit	 errlog;
};

static struct cluster *cluster_cur;

#define CLUSTER_ERRLOG(cl, kind, ...)	\
	log_limited(&(cl)->errlog, (kind), LOG_LVL_WARN, __VA_ARGS__)

static void	cluster_down(struct cluster *, const char *, ...)
		    LOG_PRINTF(2, 3);
static void	cluster_link_ready(struct cluster_link *);
static char	*cluster_strf(const char *, ...) LOG_PRINTF(1, 2);
static int	 cluster_counter_send_users(struct cluster_counter *,
		    unsigned, int);
static void	 cluster_sync_marker(struct cluster *, const redisReply *);
static void	 cluster_syncs_flush(struct cluster *);
static int	 cluster_stream_message(struct cluster *, const char *,
		    size_t, const struct cluster_env *);
static void	 cluster_subs_heartbeat(struct cluster *, int);
static void	 cluster_subs_resend(struct cluster *);
static void	 cluster_subs_free(void);

/* Atomic INCRBY and PUBLISH: every node sees values in Redis's order. */
static const char cluster_lua_add[] =
    "local v = redis.call('INCRBY', KEYS[1], ARGV[1])\n"
    "redis.call('PUBLISH', ARGV[2], ARGV[3] .. string.format('%d', v))\n"
    "return v\n";

/*
 * This node's users with a deadline, the live total, and the total to
 * every node when it changed (or when asked: force).
 */
static const char cluster_lua_users[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ':' ..\n"
    "    string.format('%d', now + tonumber(ARGV[3])))\n"
    "local all = redis.call('HGETALL', KEYS[1])\n"
    "local sum = 0\n"
    "for i = 1, #all, 2 do\n"
    "  local c, e = string.match(all[i + 1], '^(%d+):(%d+)$')\n"
    "  if c == nil or tonumber(e) < now then\n"
    "    redis.call('HDEL', KEYS[1], all[i])\n"
    "  else\n"
    "    sum = sum + tonumber(c)\n"
    "  end\n"
    "end\n"
    "local s = string.format('%d', sum)\n"
    "if ARGV[4] == '1' or redis.call('GET', KEYS[2]) ~= s then\n"
    "  redis.call('SET', KEYS[2], s)\n"
    "  redis.call('PUBLISH', ARGV[5], ARGV[6] .. s)\n"
    "end\n"
    "return sum\n";

/* Takes or renews a lease: 1 when we hold it now. */
static const char cluster_lua_lease[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then\n"
    "  redis.call('PEXPIRE', KEYS[1], ARGV[2])\n"
    "  return 1\n"
    "end\n"
    "if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then\n"
    "  return 1\n"
    "end\n"
    "return 0\n";

/* Monotonic seconds. */
static double
cluster_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Seconds as a timeval. */
static struct timeval
cluster_tv(double s)
{
	struct timeval	tv;

	tv.tv_sec = (time_t)s;
	tv.tv_usec = (suseconds_t)((s - (double)tv.tv_sec) * 1e6);
	return tv;
}

/* asprintf that returns NULL on failure. */
static char *
cluster_strf(const char *fmt, ...)
{
	va_list	 ap;
	char	*s;
	int	 rc;

	va_start(ap, fmt);
	rc = vasprintf(&s, fmt, ap);
	va_end(ap);
	return rc == -1 ? NULL : s;
}

/* Registry bucket of a hub name. */
static size_t
cluster_bucket(const char *name, size_t len)
{
	uint32_t	h = 2166136261u;
	size_t		i;

	for (i = 0; i < len; i++)
		h = (h ^ (uint8_t)name[i]) * 16777619u;
	return h % CLUSTER_BUCKETS;
}

/* Sends one command; -1 when the link is closed or its output is full. */
static int
cluster_send(struct cluster_link *lk, int argc, const char **argv,
    const size_t *argvlen, cluster_reply_cb cb, void *arg)
{
	struct cluster_cmd	*cmd;
	struct timeval		 tv;
	char			*buf;
	int			 len;

	if (lk->bev == NULL || evbuffer_get_length(bufferevent_get_output(
	    lk->bev)) > CLUSTER_MAX_OUTPUT)
		return -1;
	if ((cmd = calloc(1, sizeof(*cmd))) == NULL)
		return -1;
	if ((len = redisFormatCommandArgv(&buf, argc, argv, argvlen)) < 0) {
		free(cmd);
		return -1;
	}
	if (bufferevent_write(lk->bev, buf, (size_t)len) == -1) {
		redisFreeCommand(buf);
		free(cmd);
		return -1;
	}
	redisFreeCommand(buf);
	cmd->cb = cb;
	cmd->arg = arg;
	TAILQ_INSERT_TAIL(&lk->cmds, cmd, entry);
	/* The deadline runs from the oldest unanswered command. */
	if (!evtimer_pending(lk->ev_timeout, NULL)) {
		tv = cluster_tv(lk->cl->timeout);
		evtimer_add(lk->ev_timeout, &tv);
	}
	return 0;
}

/* cluster_send() of NUL-terminated words. */
static int
cluster_sendv(struct cluster_link *lk, cluster_reply_cb cb, void *arg,
    int argc, const char **argv)
{
	return cluster_send(lk, argc, argv, NULL, cb, arg);
}

/* Fails the commands still waiting (their callbacks get NULL). */
static void
cluster_link_close(struct cluster_link *lk)
{
	struct cluster_cmd	*cmd;

	if (lk->bev != NULL) {
		bufferevent_free(lk->bev);
		lk->bev = NULL;
	}
	if (lk->rd != NULL) {
		redisReaderFree(lk->rd);
		lk->rd = NULL;
	}
	evtimer_del(lk->ev_timeout);
	lk->ready = 0;
	while ((cmd = TAILQ_FIRST(&lk->cmds)) != NULL) {
		TAILQ_REMOVE(&lk->cmds, cmd, entry);
		if (cmd->cb != NULL)
			cmd->cb(lk, NULL, cmd->arg);
		free(cmd);
	}
}

/* Both links are ready: cross-node delivery resumes. */
static void
cluster_up(struct cluster *cl)
{
	struct cluster_counter	*cc, *next;
	struct cluster_lease	*l;
	long long		 d;

	cl->up = 1;
	cl->attempt = 0;
	evtimer_del(cl->ev_retry);
	if (cl->ever_up) {
		cl->st.reconnects++;
		log_info("cluster: redis %s: link up again, node %s",
		    cl->addr, cl->id);
	} else
		log_info("cluster: redis %s: connected, node %s", cl->addr,
		    cl->id);
	cl->ever_up = 1;
	cl->down_logged = 0;
	/*
	 * What the counters did alone goes to Redis now; the resulting
	 * value and users total reach every node, which re-converges them.
	 */
	for (cc = LIST_FIRST(&cl->counters); cc != NULL; cc = next) {
		next = LIST_NEXT(cc, entry);
		if (cc->gone)
			continue;
		d = cc->offline;
		cc->offline = 0;
		if (cluster_counter_add(cc, d) == -1)
			cc->offline += d;
		/* Our members saw local counts meanwhile: they hear it. */
		(void)cluster_counter_send_users(cc, cc->local, 1);
	}
	cl->last_heartbeat = cluster_now();
	cluster_subs_resend(cl);
	LIST_FOREACH(l, &cl->leases, entry)
		l->held = 0;
	cl->last_lease = 0;
}

/* Retries connecting once the backoff delay is over. */
static void
cluster_schedule(struct cluster *cl)
{
	struct timeval	tv;
	unsigned	ms;

	if (evtimer_pending(cl->ev_retry, NULL))
		return;
	ms = cluster_backoff_ms(cl->attempt++,
	    (double)arc4random() / 4294967296.0);
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	evtimer_add(cl->ev_retry, &tv);
}

/*
 * Tears both links down, fails what waits for a reply, and schedules a
 * reconnect: one log line per outage, not one per retry.
 */
static void
cluster_down(struct cluster *cl, const char *fmt, ...)
{
	va_list	 ap;
	char	 why[256];

	if (cl->in_down)
		return;
	cl->in_down = 1;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	cl->epoch++;
	if (cl->up)
		log_warnx("cluster: redis %s: link down: %s; serving this "
		    "node's clients only, reconnecting", cl->addr, why);
	else if (!cl->down_logged)
		log_warnx("cluster: redis %s: %s; serving this node's "
		    "clients only, retrying", cl->addr, why);
	else
		log_debug("cluster: redis %s: %s", cl->addr, why);
	cl->down_logged = 1;
	cl->up = 0;
	cluster_link_close(&cl->cmd);
	cluster_link_close(&cl->sub);
	cluster_syncs_flush(cl);
	cluster_schedule(cl);
	cl->in_down = 0;
}

/* Delivers a message from another node to this node's hubs. */
static void
cluster_message(struct cluster *cl, const redisReply *chan,
    const redisReply *payload)
{
	struct cluster_env	 env;
	struct cluster_counter	*cc, *next;
	struct cluster_sink	*sk;
	struct cluster_hub	*e;
	const char		*name;
	size_t			 plen = strlen(cl->hubchan), nlen;
	long long		 n;

	/* A stream read's marker: ours waits for it, others' are not ours. */
	if (chan->type == REDIS_REPLY_STRING &&
	    chan->len >= strlen(cl->syncpre) &&
	    memcmp(chan->str, cl->syncpre, strlen(cl->syncpre)) == 0) {
		if (strcmp(chan->str, cl->syncchan) == 0)
			cluster_sync_marker(cl, payload);
		return;
	}
	cl->st.received++;
	if (chan->type != REDIS_REPLY_STRING ||
	    payload->type != REDIS_REPLY_STRING || chan->len < plen ||
	    memcmp(chan->str, cl->hubchan, plen) != 0 ||
	    cluster_env_decode((const uint8_t *)payload->str, payload->len,
	    &env) == -1) {
		cl->st.malformed++;
		log_debug("cluster: redis %s: not a wsd message on %.*s",
		    cl->addr, chan->type == REDIS_REPLY_STRING ?
		    (int)chan->len : 0, chan->str);
		return;
	}
	name = chan->str + plen;
	nlen = chan->len - plen;
	if (env.kind == CLUSTER_ENV_STREAM || env.kind == CLUSTER_ENV_DELETE) {
		if (cluster_stream_message(cl, name, nlen, &env) == -1)
			cl->st.malformed++;
		return;
	}
	if (env.kind == CLUSTER_ENV_MSG) {
		/* Our own: delivered here when it was published. */
		if (env.id_len == strlen(cl->id) &&
		    memcmp(env.id, cl->id, env.id_len) == 0)
			return;
		LIST_FOREACH(sk, &cl->sinks, entry)
			if (nlen > strlen(sk->prefix) && memcmp(name,
			    sk->prefix, strlen(sk->prefix)) == 0) {
				sk->cb(sk->arg, name + strlen(sk->prefix),
				    nlen - strlen(sk->prefix), env.opcode,
				    env.data, env.len, env.sse, env.sse_len);
				return;
			}
		/* Delivering may end connections, never a hub: no detach. */
		for (e = cl->hubs[cluster_bucket(name, nlen)]; e != NULL;
		    e = e->next)
			if (strlen(e->name) == nlen &&
			    memcmp(e->name, name, nlen) == 0)
				hub_inject(e->hub, env.opcode, env.data,
				    env.len, env.sse, env.sse_len, env.key);
		return;
	}
	if (cluster_env_number(&env, &n) == -1) {
		cl->st.malformed++;
		return;
	}
	for (cc = LIST_FIRST(&cl->counters); cc != NULL; cc = next) {
		next = LIST_NEXT(cc, entry);
		if (cc->gone || strlen(cc->name) != nlen ||
		    memcmp(cc->name, name, nlen) != 0)
			continue;
		if (env.kind == CLUSTER_ENV_VALUE)
			cc->value_cb(cc->arg, n);
		else
			cc->users_cb(cc->arg, n < 0 ? 0 : n);
	}
}

/* One reply or subscription message from Redis. */
static void
cluster_reply(struct cluster_link *lk, const redisReply *r)
{
	struct cluster		*cl = lk->cl;
	struct cluster_cmd	*cmd;
	struct timeval		 tv;

	/* Messages come on the subscription link, between replies. */
	if (lk == &cl->sub && r->type == REDIS_REPLY_ARRAY &&
	    r->elements >= 3 && r->element[0]->type == REDIS_REPLY_STRING) {
		if (r->elements == 4 &&
		    strcmp(r->element[0]->str, "pmessage") == 0) {
			cluster_message(cl, r->element[2], r->element[3]);
			return;
		}
		if (r->elements == 3 &&
		    strcmp(r->element[0]->str, "message") == 0) {
			cluster_message(cl, r->element[1], r->element[2]);
			return;
		}
	}
	if ((cmd = TAILQ_FIRST(&lk->cmds)) == NULL) {
		cluster_down(cl, "%s link: a reply nothing asked for",
		    lk->what);
		return;
	}
	TAILQ_REMOVE(&lk->cmds, cmd, entry);
	/* Progress: the next command gets its own time. */
	evtimer_del(lk->ev_timeout);
	if (!TAILQ_EMPTY(&lk->cmds)) {
		tv = cluster_tv(cl->timeout);
		evtimer_add(lk->ev_timeout, &tv);
	}
	if (cmd->cb != NULL)
		cmd->cb(lk, r, cmd->arg);
	free(cmd);
}

/* Bytes from Redis: parsed into replies, each handled in order. */
static void
cluster_read_cb(struct bufferevent *bev, void *arg)
{
	struct cluster_link	*lk = arg;
	struct cluster		*cl = lk->cl;
	struct evbuffer		*in = bufferevent_get_input(bev);
	struct evbuffer_iovec	 v[8];
	unsigned		 epoch = cl->epoch;
	void			*reply;
	size_t			 fed;
	int			 i, n;

	while (evbuffer_get_length(in) > 0) {
		n = evbuffer_peek(in, -1, NULL, v, 8);
		if (n > 8)
			n = 8;
		for (i = 0, fed = 0; i < n; i++) {
			if (redisReaderFeed(lk->rd, v[i].iov_base,
			    v[i].iov_len) != REDIS_OK) {
				cluster_down(cl, "%s link: out of memory",
				    lk->what);
				return;
			}
			fed += v[i].iov_len;
		}
		evbuffer_drain(in, fed);
	}
	cl->last_contact = cluster_now();
	for (;;) {
		if (redisReaderGetReply(lk->rd, &reply) != REDIS_OK) {
			cluster_down(cl, "%s link: malformed reply: %s",
			    lk->what, lk->rd->errstr);
			return;
		}
		if (reply == NULL)
			break;
		cluster_reply(lk, reply);
		freeReplyObject(reply);
		if (epoch != cl->epoch)
			return;		/* torn down meanwhile */
	}
	if (lk->rd->len - lk->rd->pos > CLUSTER_MAX_INPUT)
		cluster_down(cl, "%s link: reply over %u bytes", lk->what,
		    CLUSTER_MAX_INPUT);
}

/* The connection failed or closed. */
static void
cluster_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct cluster_link	*lk = arg;
	int			 err = EVUTIL_SOCKET_ERROR();
	unsigned long		 ssl_err;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED)
		return;
	if (what & BEV_EVENT_EOF)
		cluster_down(lk->cl, "%s link: closed by redis", lk->what);
	else if (what & BEV_EVENT_ERROR) {
		if (lk->cl->ssl_ctx != NULL &&
		    (ssl_err = bufferevent_get_openssl_error(bev)) != 0)
			cluster_down(lk->cl, "%s link: tls: %s", lk->what,
			    ERR_reason_error_string(ssl_err) != NULL ?
			    ERR_reason_error_string(ssl_err) : "error");
		else if (bufferevent_socket_get_dns_error(bev) != 0)
			cluster_down(lk->cl, "%s link: %s", lk->what,
			    evutil_gai_strerror(
			    bufferevent_socket_get_dns_error(bev)));
		else
			cluster_down(lk->cl, "%s link: %s", lk->what,
			    strerror(err));
	}
}

/* No reply (or no connection) within the timeout. */
static void
cluster_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cluster_link	*lk = arg;

	(void)fd;
	(void)what;
	cluster_down(lk->cl, "%s link: %s timed out", lk->what,
	    lk->ready ? "reply" : "connect");
}

/* AUTH and SELECT must say OK. */
static void
cluster_ok_cb(struct cluster_link *lk, const redisReply *r, void *arg)
{
	const char	*what = arg;

	if (r == NULL)
		return;
	if (r->type == REDIS_REPLY_ERROR)
		cluster_down(lk->cl, "%s link: %s: %s", lk->what, what,
		    r->str);
}

/* The last command of the handshake: the link is ready. */
static void
cluster_ready_cb(struct cluster_link *lk, const redisReply *r, void *arg)
{
	(void)arg;
	if (r == NULL)
		return;
	if (r->type == REDIS_REPLY_ERROR) {
		cluster_down(lk->cl, "%s link: %s", lk->what, r->str);
		return;
	}
	cluster_link_ready(lk);
}

/* A link is ready; with both, the cluster is up. */
static void
cluster_link_ready(struct cluster_link *lk)
{
	struct cluster	*cl = lk->cl;

	lk->ready = 1;
	if (cl->cmd.ready && cl->sub.ready && !cl->up)
		cluster_up(cl);
}

/* A link's bufferevent: plain, or TLS from the first byte. */
static struct bufferevent *
cluster_bev(struct cluster *cl)
{
	struct bufferevent	*bev;
	SSL			*ssl;

	if (cl->ssl_ctx == NULL)
		return bufferevent_socket_new(cl->base, -1,
		    BEV_OPT_CLOSE_ON_FREE);
	if ((ssl = tls_client_ssl(cl->ssl_ctx, cl->host)) == NULL)
		return NULL;
	/*
	 * Deferred: bufferevent_openssl may run callbacks from inside a
	 * write, and a failure there tears the link down.
	 */
	if ((bev = bufferevent_openssl_socket_new(cl->base, -1, ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE |
	    BEV_OPT_DEFER_CALLBACKS)) == NULL)
		SSL_free(ssl);
	return bev;
}

/* Connects one link and queues its handshake behind the connect. */
static int
cluster_link_open(struct cluster_link *lk)
{
	struct cluster		*cl = lk->cl;
	struct sockaddr_un	 sun;
	struct timeval		 tv;
	const char		*argv[3];
	int			 rc;

	if ((lk->bev = cluster_bev(cl)) == NULL ||
	    (lk->rd = redisReaderCreate()) == NULL)
		return -1;
	bufferevent_setcb(lk->bev, cluster_read_cb, NULL, cluster_event_cb,
	    lk);
	bufferevent_enable(lk->bev, EV_READ | EV_WRITE);
	tv = cluster_tv(cl->timeout);
	evtimer_add(lk->ev_timeout, &tv);
	if (cl->path != NULL) {
		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		if (strlen(cl->path) >= sizeof(sun.sun_path))
			return -1;
		memcpy(sun.sun_path, cl->path, strlen(cl->path) + 1);
		rc = bufferevent_socket_connect(lk->bev,
		    (struct sockaddr *)&sun, sizeof(sun));
	} else
		rc = bufferevent_socket_connect_hostname(lk->bev, cl->dns,
		    AF_UNSPEC, cl->host, cl->port);
	if (rc == -1)
		return -1;
	/* Written once connected; replies come back in this order. */
	if (cl->password != NULL && cl->user != NULL) {
		argv[0] = "AUTH";
		argv[1] = cl->user;
		argv[2] = cl->password;
		cluster_sendv(lk, cluster_ok_cb, "AUTH", 3, argv);
	} else if (cl->password != NULL) {
		argv[0] = "AUTH";
		argv[1] = cl->password;
		cluster_sendv(lk, cluster_ok_cb, "AUTH", 2, argv);
	}
	if (cl->db[0] != '\0') {
		argv[0] = "SELECT";
		argv[1] = cl->db;
		cluster_sendv(lk, cluster_ok_cb, "SELECT", 2, argv);
	}
	if (lk == &cl->sub) {
		argv[0] = "PSUBSCRIBE";
		argv[1] = cl->pattern;
		return cluster_sendv(lk, cluster_ready_cb, NULL, 2, argv);
	}
	argv[0] = "PING";
	return cluster_sendv(lk, cluster_ready_cb, NULL, 1, argv);
}

/* (Re)connects both links. */
static void
cluster_connect(struct cluster *cl)
{
	if (cluster_link_open(&cl->cmd) == -1 ||
	    cluster_link_open(&cl->sub) == -1)
		cluster_down(cl, "cannot connect: %s", strerror(errno));
}

/* The backoff delay is over. */
static void
cluster_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	cluster_connect(arg);
}

/* A command's reply we only wait for (PING, PUBLISH). */
static void
cluster_ignore_cb(struct cluster_link *lk, const redisReply *r, void *arg)
{
	(void)arg;
	if (r != NULL && r->type == REDIS_REPLY_ERROR)
		CLUSTER_ERRLOG(lk->cl, "cluster: redis error", "cluster: redis "
		    "%s: %s", lk->cl->addr, r->str);
}

/* Drops a reference to a counter; the last frees it. */
static void
cluster_counter_unref(struct cluster_counter *cc)
{
	if (--cc->refs > 0)
		return;
	LIST_REMOVE(cc, entry);
	free(cc->name);
	free(cc->kvalue);
	free(cc->kusers);
	free(cc->ktotal);
	free(cc->chan);
	free(cc);
}

/* A counter script's reply: errors are worth a line. */
static void
cluster_counter_cb(struct cluster_link *lk, const redisReply *r, void *arg)
{
	if (r != NULL && r->type == REDIS_REPLY_ERROR)
		CLUSTER_ERRLOG(lk->cl, "cluster: counter", "cluster: counter %s: "
		    "%s", ((struct cluster_counter *)arg)->name, r->str);
	cluster_counter_unref(arg);
}

/* Drops a reference to a lease; the last frees it. */
static void
cluster_lease_unref(struct cluster_lease *l)
{
	if (--l->refs > 0)
		return;
	LIST_REMOVE(l, entry);
	free(l->key);
	free(l);
}

/* The lease script's answer: whether we hold it now. */
static void
cluster_lease_cb(struct cluster_link *lk, const redisReply *r, void *arg)
{
	struct cluster_lease	*l = arg;

	/* Anything but a yes is a no: two leaders are worse than none. */
	if (r != NULL)
		l->held = r->type == REDIS_REPLY_INTEGER && r->integer == 1;
	if (r != NULL && r->type == REDIS_REPLY_ERROR)
		CLUSTER_ERRLOG(lk->cl, "cluster: lease", "cluster: lease %s: %s",
		    l->key, r->str);
	cluster_lease_unref(l);
}

/* Takes or renews every lease. */
static void
cluster_leases_renew(struct cluster *cl)
{
	struct cluster_lease	*l;
	const char		*argv[6];
	char			 ttl[32];

	snprintf(ttl, sizeof(ttl), "%.0f", cl->lease * 1000);
	LIST_FOREACH(l, &cl->leases, entry) {
		if (l->gone)
			continue;
		argv[0] = "EVAL";
		argv[1] = cluster_lua_lease;
		argv[2] = "1";
		argv[3] = l->key;
		argv[4] = cl->id;
		argv[5] = ttl;
		l->refs++;
		if (cluster_sendv(&cl->cmd, cluster_lease_cb, l, 6, argv) ==
		    -1) {
			l->refs--;
			l->held = 0;
		}
	}
}

/*
 * Keeps the links alive (a PING on an idle link gets the same deadline
 * as any command), the counters' heartbeats and the leases.
 */
static void
cluster_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cluster		*cl = arg;
	struct cluster_counter	*cc, *next;
	const char		*ping[] = { "PING" };
	double			 now = cluster_now();

	(void)fd;
	(void)what;
	if (!cl->up)
		return;
	if (TAILQ_EMPTY(&cl->cmd.cmds))
		cluster_sendv(&cl->cmd, cluster_ignore_cb, NULL, 1, ping);
	if (TAILQ_EMPTY(&cl->sub.cmds))
		cluster_sendv(&cl->sub, cluster_ignore_cb, NULL, 1, ping);
	if (now - cl->last_heartbeat >= cl->users_ttl / 3) {
		cl->last_heartbeat = now;
		for (cc = LIST_FIRST(&cl->counters); cc != NULL; cc = next) {
			next = LIST_NEXT(cc, entry);
			if (!cc->gone)
				(void)cluster_counter_users(cc, cc->local);
		}
	}
	cluster_subs_heartbeat(cl, 0);
	if (now - cl->last_lease >= cl->lease / 3) {
		cl->last_lease = now;
		cluster_leases_renew(cl);
	}
}

/*
 * Bridge: a hub of this node exists under name. Worker 0's are filed:
 * a message from another node goes to them, and their groups hand it to
 * the other workers' members.
 */
static void
cluster_hub_attach(struct hub *h, const char *name)
{
	struct cluster		*cl = cluster_cur;
	struct cluster_hub	*e;
	size_t			 b;

	if (cl == NULL || worker_self() != 0)
		return;
	if ((e = calloc(1, sizeof(*e))) == NULL) {
		log_warn("cluster: hub %s", name);
		return;
	}
	b = cluster_bucket(name, strlen(name));
	e->hub = h;
	e->name = name;
	e->next = cl->hubs[b];
	cl->hubs[b] = e;
}

/* Bridge: a hub goes away. */
static void
cluster_hub_detach(struct hub *h, const char *name)
{
	struct cluster		*cl = cluster_cur;
	struct cluster_hub	**ep, *e;

	if (cl == NULL || worker_self() != 0)
		return;
	for (ep = &cl->hubs[cluster_bucket(name, strlen(name))];
	    (e = *ep) != NULL; ep = &e->next)
		if (e->hub == h) {
			*ep = e->next;
			free(e);
			return;
		}
}

/*
 * Bridge: a message published here goes to the other nodes, once. While
 * Redis is away it is not sent (at-most-once across an outage). Another
 * worker's is handed to worker 0, behind that worker's earlier ones.
 */
void
cluster_hub_publish(const char *name, int opcode, const void *data,
    size_t len, const void *sse, size_t sse_len, unsigned key)
{
	struct cluster	*cl = cluster_cur;
	uint8_t		 hdr[CLUSTER_ENV_HDR_MAX], *env;
	size_t		 hlen, argvlen[3];
	const char	*argv[3];
	char		*chan;
	int		 rc;

	if (cl == NULL)
		return;
	if (worker_self() != 0) {
		cluster_hop_publish(name, opcode, data, len, sse, sse_len, key);
		return;
	}
	if (!cl->up) {
		cl->st.dropped++;
		return;
	}
	if ((hlen = cluster_env_header(hdr, CLUSTER_ENV_MSG, cl->id, opcode,
	    key, sse_len)) == 0 || (chan = cluster_strf("%s%s", cl->hubchan,
	    name)) == NULL) {
		cl->st.dropped++;
		return;
	}
	if ((env = malloc(hlen + sse_len + len + 1)) == NULL) {
		free(chan);
		cl->st.dropped++;
		return;
	}
	memcpy(env, hdr, hlen);
	if (sse_len > 0)
		memcpy(env + hlen, sse, sse_len);
	if (len > 0)
		memcpy(env + hlen + sse_len, data, len);
	argv[0] = "PUBLISH";
	argvlen[0] = 7;
	argv[1] = chan;
	argvlen[1] = strlen(chan);
	argv[2] = (const char *)env;
	argvlen[2] = hlen + sse_len + len;
	rc = cluster_send(&cl->cmd, 3, argv, argvlen, cluster_ignore_cb, NULL);
	free(env);
	free(chan);
	if (rc == -1)
		cl->st.dropped++;
	else
		cl->st.published++;
}

static const struct hub_bridge cluster_bridge = {
	.attach = cluster_hub_attach,
	.detach = cluster_hub_detach,
	.publish = cluster_hub_publish,
};

/* Reads the password: the file's first line. */
static char *
cluster_password(const char *file)
{
	FILE	*fp;
	char	 buf[1024];
	size_t	 n;

	if ((fp = fopen(file, "r")) == NULL) {
		log_warn("cluster: redis_password_file %s", file);
		return NULL;
	}
	if (fgets(buf, sizeof(buf), fp) == NULL) {
		fclose(fp);
		log_warnx("cluster: redis_password_file %s: empty", file);
		return NULL;
	}
	fclose(fp);
	n = strcspn(buf, "\r\n");
	buf[n] = '\0';
	if (n == 0) {
		log_warnx("cluster: redis_password_file %s: empty", file);
		return NULL;
	}
	return strdup(buf);
}

/* A glob pattern matching exactly s followed by anything. */
static char *
cluster_pattern(const char *s)
{
	char	*p, *o;

	if ((p = malloc(strlen(s) * 2 + 2)) == NULL)
		return NULL;
	for (o = p; *s != '\0'; s++) {
		if (strchr("*?[]\\", *s) != NULL)
			*o++ = '\\';
		*o++ = *s;
	}
	*o++ = '*';
	*o = '\0';
	return p;
}

/* Splits HOST:PORT, [V6]:PORT or unix:/PATH (config.c checked it). */
static int
cluster_addr(struct cluster *cl, const char *a)
{
	const char	*colon;

	if (strncmp(a, "unix:", 5) == 0)
		return (cl->path = strdup(a + 5)) == NULL ? -1 : 0;
	colon = strrchr(a, ':');
	cl->port = atoi(colon + 1);
	if (*a == '[')
		cl->host = strndup(a + 1, (size_t)(colon - a - 2));
	else
		cl->host = strndup(a, (size_t)(colon - a));
	return cl->host == NULL ? -1 : 0;
}

/* Frees the cluster state. */
static void
cluster_free(struct cluster *cl)
{
	struct cluster_counter	*cc;
	struct cluster_lease	*l;
	struct cluster_sink	*sk;
	struct cluster_hub	*e;
	size_t			 i;

	cl->in_down = 1;
	log_limit_flush(&cl->errlog);
	if (cl->cmd.ev_timeout != NULL)
		cluster_link_close(&cl->cmd);
	if (cl->sub.ev_timeout != NULL)
		cluster_link_close(&cl->sub);
	cluster_syncs_flush(cl);
	while ((cc = LIST_FIRST(&cl->counters)) != NULL) {
		cc->refs = 1;
		cluster_counter_unref(cc);
	}
	while ((l = LIST_FIRST(&cl->leases)) != NULL) {
		l->refs = 1;
		cluster_lease_unref(l);
	}
	while ((sk = LIST_FIRST(&cl->sinks)) != NULL)
		cluster_sink_free(sk);
	cluster_subs_free();
	for (i = 0; i < CLUSTER_BUCKETS; i++)
		while ((e = cl->hubs[i]) != NULL) {
			cl->hubs[i] = e->next;
			free(e);
		}
	if (cl->cmd.ev_timeout != NULL)
		event_free(cl->cmd.ev_timeout);
	if (cl->sub.ev_timeout != NULL)
		event_free(cl->sub.ev_timeout);
	if (cl->ev_retry != NULL)
		event_free(cl->ev_retry);
	if (cl->ev_tick != NULL)
		event_free(cl->ev_tick);
	if (cl->dns != NULL)
		evdns_base_free(cl->dns, 1);
	SSL_CTX_free(cl->ssl_ctx);
	free(cl->addr);
	free(cl->host);
	free(cl->path);
	free(cl->password);
	free(cl->user);
	free(cl->prefix);
	free(cl->hubchan);
	free(cl->pattern);
	free(cl->syncpre);
	free(cl->syncchan);
	free(cl);
}

/* Starts the link and becomes the hubs' bridge. */
int
cluster_start(struct event_base *base, const struct wsd_cluster *conf)
{
	struct cluster	*cl;
	struct timeval	 tv;
	char		 host[64];
	double		 tick;

	if (conf->line == 0 || conf->redis == NULL)
		return 0;
	if ((cl = calloc(1, sizeof(*cl))) == NULL) {
		log_warn("cluster");
		return -1;
	}
	cl->base = base;
	cl->timeout = conf->timeout;
	cl->users_ttl = conf->users_ttl;
	cl->lease = conf->lease;
	TAILQ_INIT(&cl->cmd.cmds);
	TAILQ_INIT(&cl->sub.cmds);
	LIST_INIT(&cl->counters);
	LIST_INIT(&cl->leases);
	LIST_INIT(&cl->sinks);
	TAILQ_INIT(&cl->syncs);
	cl->cmd.cl = cl->sub.cl = cl;
	log_limit_init(&cl->errlog, "cluster");
	cl->cmd.what = "command";
	cl->sub.what = "subscribe";
	if (conf->db != 0)
		snprintf(cl->db, sizeof(cl->db), "%u", conf->db);
	/* The name is the operator's; the suffix tells restarts apart. */
	if (conf->node_name != NULL)
		snprintf(cl->id, sizeof(cl->id), "%.200s/%08x",
		    conf->node_name, arc4random());
	else {
		if (gethostname(host, sizeof(host)) == -1)
			snprintf(host, sizeof(host), "wsd");
		host[sizeof(host) - 1] = '\0';
		snprintf(cl->id, sizeof(cl->id), "%s-%ld/%08x", host,
		    (long)getpid(), arc4random());
	}
	if ((cl->addr = strdup(conf->redis)) == NULL ||
	    cluster_addr(cl, conf->redis) == -1 ||
	    (cl->prefix = strdup(conf->prefix)) == NULL ||
	    (cl->hubchan = cluster_strf("%shub:", conf->prefix)) == NULL ||
	    (cl->pattern = cluster_pattern(cl->hubchan)) == NULL ||
	    (cl->syncpre = cluster_strf("%ssync:", cl->hubchan)) == NULL ||
	    (cl->syncchan = cluster_strf("%s%s", cl->syncpre, cl->id)) ==
	    NULL ||
	    (cl->cmd.ev_timeout = evtimer_new(base, cluster_timeout_cb,
	    &cl->cmd)) == NULL ||
	    (cl->sub.ev_timeout = evtimer_new(base, cluster_timeout_cb,
	    &cl->sub)) == NULL ||
	    (cl->ev_retry = evtimer_new(base, cluster_retry_cb, cl)) == NULL ||
	    (cl->ev_tick = event_new(base, -1, EV_PERSIST, cluster_tick_cb,
	    cl)) == NULL) {
		log_warnx("cluster: cannot set up the redis link");
		cluster_free(cl);
		return -1;
	}
	if (conf->user != NULL && (cl->user = strdup(conf->user)) == NULL) {
		cluster_free(cl);
		return -1;
	}
	if (conf->password_file != NULL &&
	    (cl->password = cluster_password(conf->password_file)) == NULL) {
		cluster_free(cl);
		return -1;
	}
	if (conf->tls && (cl->ssl_ctx = tls_client_ctx(conf->ca_file)) ==
	    NULL) {
		log_warnx("cluster: cannot load %s", conf->ca_file != NULL ?
		    conf->ca_file : "the system's certificates");
		cluster_free(cl);
		return -1;
	}
	if (cl->host != NULL && (cl->dns = evdns_base_new(base,
	    EVDNS_BASE_INITIALIZE_NAMESERVERS |
	    EVDNS_BASE_DISABLE_WHEN_INACTIVE)) == NULL &&
	    (cl->dns = evdns_base_new(base, 0)) == NULL) {
		log_warnx("cluster: cannot set up the resolver");
		cluster_free(cl);
		return -1;
	}
	tick = CLUSTER_TICK;
	if (cl->users_ttl / 3 < tick)
		tick = cl->users_ttl / 3;
	if (cl->lease / 3 < tick)
		tick = cl->lease / 3;
	tv = cluster_tv(tick);
	event_add(cl->ev_tick, &tv);
	cluster_cur = cl;
	hub_set_bridge(&cluster_bridge);
	log_info("cluster: node %s, redis %s%s, prefix \"%s\"", cl->id,
	    cl->addr, cl->ssl_ctx != NULL ? " (tls)" : "", cl->prefix);
	cluster_connect(cl);
	return 0;
}

/* Closes the link and forgets the bridge. */
void
cluster_stop(void)
{
	if (cluster_cur == NULL)
		return;
	hub_set_bridge(NULL);
	cluster_free(cluster_cur);
	cluster_cur = NULL;
}

/* The cluster's metrics. */
void
cluster_metrics(struct evbuffer *out)
{
	struct cluster		*cl = cluster_cur;
	unsigned		 local;
	int			 up;
	double			 last;

	if (cl == NULL)
		return;
	up = cl->up;
	local = up ? 0 : cl->st.counters;
	last = cl->last_contact;
	evbuffer_add_printf(out,
	    "# HELP wsd_cluster_up 1 while both links to Redis are up.\n"
	    "# TYPE wsd_cluster_up gauge\n"
	    "wsd_cluster_up %d\n"
	    "# HELP wsd_cluster_reconnects_total Times the links came back "
	    "after an outage.\n"
	    "# TYPE wsd_cluster_reconnects_total counter\n"
	    "wsd_cluster_reconnects_total %llu\n"
	    "# HELP wsd_cluster_published_total Messages sent to the other "
	    "nodes through Redis.\n"
	    "# TYPE wsd_cluster_published_total counter\n"
	    "wsd_cluster_published_total %llu\n"
	    "# HELP wsd_cluster_received_total Messages received from "
	    "Redis, this node's own included.\n"
	    "# TYPE wsd_cluster_received_total counter\n"
	    "wsd_cluster_received_total %llu\n"
	    "# HELP wsd_cluster_dropped_total Messages not sent to the other "
	    "nodes: Redis away or too slow.\n"
	    "# TYPE wsd_cluster_dropped_total counter\n"
	    "wsd_cluster_dropped_total %llu\n"
	    "# HELP wsd_cluster_malformed_total Messages from Redis that were "
	    "not wsd's.\n"
	    "# TYPE wsd_cluster_malformed_total counter\n"
	    "wsd_cluster_malformed_total %llu\n"
	    "# HELP wsd_cluster_counters_local Counter routes keeping a local "
	    "value while Redis is away.\n"
	    "# TYPE wsd_cluster_counters_local gauge\n"
	    "wsd_cluster_counters_local %u\n",
	    up, (unsigned long long)cl->st.reconnects,
	    (unsigned long long)cl->st.published,
	    (unsigned long long)cl->st.received,
	    (unsigned long long)cl->st.dropped,
	    (unsigned long long)cl->st.malformed, local);
	if (last > 0)
		evbuffer_add_printf(out,
		    "# HELP wsd_cluster_last_contact_seconds Seconds since "
		    "Redis last answered.\n"
		    "# TYPE wsd_cluster_last_contact_seconds gauge\n"
		    "wsd_cluster_last_contact_seconds %.3f\n",
		    cluster_now() - last);
}

/* A counter shared through Redis. */
struct cluster_counter *
cluster_counter_new(const char *name, void (*value_cb)(void *, long long),
    void (*users_cb)(void *, long long), void *arg)
{
	struct cluster		*cl = cluster_cur;
	struct cluster_counter	*cc;

	if (cl == NULL || worker_self() != 0)
		return NULL;
	if ((cc = calloc(1, sizeof(*cc))) == NULL)
		return NULL;
	cl->st.counters++;
	cc->cl = cl;
	cc->refs = 1;
	cc->value_cb = value_cb;
	cc->users_cb = users_cb;
	cc->arg = arg;
	LIST_INSERT_HEAD(&cl->counters, cc, entry);
	if ((cc->name = strdup(name)) == NULL ||
	    (cc->kvalue = cluster_strf("%scounter:%s", cl->prefix,
	    name)) == NULL ||
	    (cc->kusers = cluster_strf("%susers:%s", cl->prefix,
	    name)) == NULL ||
	    (cc->ktotal = cluster_strf("%susers:%s:total", cl->prefix,
	    name)) == NULL ||
	    (cc->chan = cluster_strf("%s%s", cl->hubchan, name)) == NULL) {
		cluster_counter_unref(cc);
		return NULL;
	}
	/* Learn the value now: a delta of 0 tells every node. */
	if (cl->up)
		(void)cluster_counter_add(cc, 0);
	return cc;
}

/* The owner is done with the counter. */
void
cluster_counter_free(struct cluster_counter *cc)
{
	if (cc == NULL)
		return;
	cc->cl->st.counters--;
	cc->gone = 1;
	cluster_counter_unref(cc);
}

/* Adds delta in Redis, or keeps it for later. */
int
cluster_counter_add(struct cluster_counter *cc, long long delta)
{
	struct cluster	*cl = cc->cl;
	uint8_t		 hdr[CLUSTER_ENV_HDR_MAX];
	const char	*argv[7];
	size_t		 argvlen[7], hlen, i;
	char		 d[32];

	if (!cl->up) {
		cc->offline += delta;
		return -1;
	}
	hlen = cluster_env_header(hdr, CLUSTER_ENV_VALUE, cl->id, 0, 0, 0);
	snprintf(d, sizeof(d), "%lld", delta);
	argv[0] = "EVAL";
	argv[1] = cluster_lua_add;
	argv[2] = "1";
	argv[3] = cc->kvalue;
	argv[4] = d;
	argv[5] = cc->chan;
	argv[6] = (const char *)hdr;
	for (i = 0; i < 6; i++)
		argvlen[i] = strlen(argv[i]);
	argvlen[6] = hlen;
	cc->refs++;
	if (cluster_send(&cl->cmd, 7, argv, argvlen, cluster_counter_cb,
	    cc) == -1) {
		cc->refs--;
		cc->offline += delta;
		return -1;
	}
	return 0;
}

/*
 * Tells Redis this node's users; the total comes back to every node,
 * when it changed or when force says our members need to hear it.
 */
static int
cluster_counter_send_users(struct cluster_counter *cc, unsigned local,
    int force)
{
	struct cluster	*cl = cc->cl;
	uint8_t		 hdr[CLUSTER_ENV_HDR_MAX];
	const char	*argv[11];
	size_t		 argvlen[11], i;
	char		 n[16], ttl[32];

	cc->local = local;
	if (!cl->up)
		return -1;
	snprintf(n, sizeof(n), "%u", local);
	snprintf(ttl, sizeof(ttl), "%.0f", cl->users_ttl * 1000);
	argv[0] = "EVAL";
	argv[1] = cluster_lua_users;
	argv[2] = "2";
	argv[3] = cc->kusers;
	argv[4] = cc->ktotal;
	argv[5] = cl->id;
	argv[6] = n;
	argv[7] = ttl;
	argv[8] = force ? "1" : "0";
	argv[9] = cc->chan;
	for (i = 0; i < 10; i++)
		argvlen[i] = strlen(argv[i]);
	/* The envelope's header is not a C string. */
	argv[10] = (const char *)hdr;
	argvlen[10] = cluster_env_header(hdr, CLUSTER_ENV_USERS, cl->id, 0, 0,
	    0);
	cc->refs++;
	if (cluster_send(&cl->cmd, 11, argv, argvlen, cluster_counter_cb,
	    cc) == -1) {
		cc->refs--;
		return -1;
	}
	return 0;
}

/* Tells Redis this node's users: a change here is news to all. */
int
cluster_counter_users(struct cluster_counter *cc, unsigned local)
{
	return cluster_counter_send_users(cc, local, local != cc->local);
}

/* Whether this node is in a cluster (any worker). */
int
cluster_active(void)
{
	return cluster_cur != NULL;
}

/* Whether both links are up now (any worker). */
int
cluster_linked(void)
{
	return cluster_cur != NULL && cluster_cur->up;
}

/* Whether Redis holds the counter now. */
int
cluster_counter_shared(const struct cluster_counter *cc)
{
	return cc->cl->up;
}

/* Takes the other nodes' messages for hubs under prefix. */
struct cluster_sink *
cluster_sink_new(const char *prefix, void (*cb)(void *, const char *, size_t,
    int, const void *, size_t, const void *, size_t), void *arg)
{
	struct cluster		*cl = cluster_cur;
	struct cluster_sink	*sk;

	if (cl == NULL || worker_self() != 0)
		return NULL;
	if ((sk = calloc(1, sizeof(*sk))) == NULL)
		return NULL;
	if ((sk->prefix = strdup(prefix)) == NULL) {
		free(sk);
		return NULL;
	}
	sk->cb = cb;
	sk->arg = arg;
	LIST_INSERT_HEAD(&cl->sinks, sk, entry);
	return sk;
}

/* The owner is done with the sink. */
void
cluster_sink_free(struct cluster_sink *sk)
{
	if (sk == NULL)
		return;
	LIST_REMOVE(sk, entry);
	free(sk->prefix);
	free(sk);
}

/* A lease renewed in the background. */
struct cluster_lease *
cluster_lease_new(const char *name)
{
	struct cluster		*cl = cluster_cur;
	struct cluster_lease	*l;

	if (cl == NULL || worker_self() != 0)
		return NULL;
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return NULL;
	if ((l->key = cluster_strf("%slease:%s", cl->prefix, name)) == NULL) {
		free(l);
		return NULL;
	}
	l->cl = cl;
	l->refs = 1;
	LIST_INSERT_HEAD(&cl->leases, l, entry);
	if (cl->up)
		cluster_leases_renew(cl);
	return l;
}

/* The owner is done with the lease (it expires in Redis). */
void
cluster_lease_free(struct cluster_lease *l)
{
	if (l == NULL)
		return;
	l->gone = 1;
	l->held = 0;
	cluster_lease_unref(l);
}

/* Who ticks now. */
enum cluster_role
cluster_lease_role(const struct cluster_lease *l)
{
	if (l == NULL || !l->cl->up)
		return CLUSTER_SOLO;
	return l->held ? CLUSTER_LEADER : CLUSTER_FOLLOWER;
}

/*
 * Channel streams: a channel's history and ids in a Redis Stream. One
 * script appends (XADD, trimmed by count and age) and publishes the
 * entry with its id to every node, so that every node delivers the
 * channel's messages in the stream's order, its own included, and a
 * subscriber resumes from a stream id on any node.
 */

/*
 * KEYS[1] the stream; ARGV: maxlen, ttl in ms (0: none), kind, message,
 * node, channel, envelope header. Returns the id.
 */
/*
 * The subscribers of a channel on every live node: each node keeps its
 * counts in the hash PREFIXsubs:NODE and its deadline in the sorted set
 * PREFIXnodes (renewed as the counter's users are); a node past its
 * deadline is dropped. Arguments: the set, PREFIXsubs:, the name.
 */
#define CLUSTER_LUA_SUBS \
    "local function subs(nodes, prefix, name)\n" \
    "  local t = redis.call('TIME')\n" \
    "  local now = tonumber(t[1]) * 1000 +\n" \
    "      math.floor(tonumber(t[2]) / 1000)\n" \
    "  redis.call('ZREMRANGEBYSCORE', nodes, '-inf', now)\n" \
    "  local sum = 0\n" \
    "  for _, n in ipairs(redis.call('ZRANGE', nodes, 0, -1)) do\n" \
    "    local v = redis.call('HGET', prefix .. n, name)\n" \
    "    if v then sum = sum + tonumber(v) end\n" \
    "  end\n" \
    "  return sum\n" \
    "end\n"

/*
 * KEYS[1] the stream; ARGV: maxlen, ttl in ms (0: none), kind, message,
 * node, channel, envelope header, PREFIXnodes, PREFIXsubs:, name.
 * Returns the id and the channel's subscribers on every node.
 */
static const char cluster_lua_xadd[] =
    CLUSTER_LUA_SUBS
    "local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*',\n"
    "    'k', ARGV[3], 'd', ARGV[4], 'n', ARGV[5])\n"
    "local ttl = tonumber(ARGV[2])\n"
    "if ttl > 0 then\n"
    "  local t = redis.call('TIME')\n"
    "  local now = tonumber(t[1]) * 1000 +\n"
    "      math.floor(tonumber(t[2]) / 1000)\n"
    "  redis.call('XTRIM', KEYS[1], 'MINID', string.format('%d', now - ttl))\n"
    "  redis.call('PEXPIRE', KEYS[1], ttl)\n"
    "end\n"
    "redis.call('PUBLISH', ARGV[6], ARGV[7] .. id .. '\\n' .. ARGV[3] ..\n"
    "    ARGV[4])\n"
    "return {id, subs(ARGV[8], ARGV[9], ARGV[10])}\n";

/*
 * KEYS[1] the stream; ARGV: PREFIXnodes, PREFIXsubs:, name. Returns the
 * subscribers on every node, the stream's length and its last id ("").
 */
static const char cluster_lua_info[] =
    CLUSTER_LUA_SUBS
    "local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)\n"
    "local id = ''\n"
    "if #last > 0 then id = last[1][1] end\n"
    "return {subs(ARGV[1], ARGV[2], ARGV[3]),\n"
    "    redis.call('XLEN', KEYS[1]), id}\n";

/* KEYS[1] PREFIXnodes, KEYS[2] PREFIXsubs:NODE; ARGV: node, ttl in ms. */
static const char cluster_lua_beat[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])\n"
    "redis.call('PEXPIRE', KEYS[2], ARGV[2])\n"
    "return 1\n";

/* KEYS[1] the stream; ARGV: channel, envelope. */
static const char cluster_lua_xdel[] =
    "redis.call('DEL', KEYS[1])\n"
    "redis.call('PUBLISH', ARGV[1], ARGV[2])\n"
    "return 1\n";

/* A stream command waiting for its reply. */
struct cluster_stream_req {
	void	(*add_cb)(void *, const char *, long long);
	void	(*info_cb)(void *, long long, long long, const char *);
	void	(*range_cb)(void *, const struct cluster_stream_entry *,
		    size_t, int);
	void	*arg;
	/*
	 * A read waits for its marker (sync, on cl->syncs): the entries
	 * it read have come over the subscription link by then. Read
	 * first: its answer (v, n, ok) is kept until the marker comes.
	 */
	TAILQ_ENTRY(cluster_stream_req) sync_entry;
	uint64_t		 sync;		/* 0: waits for none */
	int			 read;
	int			 ok;
	struct cluster_stream_entry *v;		/* one block */
	size_t			 n;
};

/* A STREAM or DELETE message: to the sink of the channel's route. */
static int
cluster_stream_message(struct cluster *cl, const char *name, size_t nlen,
    const struct cluster_env *env)
{
	struct cluster_env_stream	 st;
	struct cluster_sink		*sk;
	size_t				 plen;

	if (env->kind == CLUSTER_ENV_DELETE) {
		/* Ours: deleted here already. */
		if (env->id_len == strlen(cl->id) &&
		    memcmp(env->id, cl->id, env->id_len) == 0)
			return 0;
	} else if (cluster_env_stream(env, &st) == -1)
		return -1;
	LIST_FOREACH(sk, &cl->sinks, entry) {
		plen = strlen(sk->prefix);
		if (sk->stream_cb == NULL || nlen <= plen ||
		    memcmp(name, sk->prefix, plen) != 0)
			continue;
		if (env->kind == CLUSTER_ENV_DELETE)
			sk->stream_cb(sk->arg, name + plen, nlen - plen, NULL,
			    0, NULL, 0);
		else
			sk->stream_cb(sk->arg, name + plen, nlen - plen,
			    st.id, st.kind, st.data, st.len);
		return 0;
	}
	return 0;
}

/* The Redis names a channel's stream commands use. */
struct cluster_snames {
	char	*key;		/* PREFIXstream:NAME */
	char	*chan;		/* PREFIXhub:NAME */
	char	*nodes;		/* PREFIXnodes */
	char	*subs;		/* PREFIXsubs: */
};

/* Frees the names. */
static void
cluster_snames_free(struct cluster_snames *n)
{
	free(n->key);
	free(n->chan);
	free(n->nodes);
	free(n->subs);
}

/* The names for channel name, malloc'd: 0, or -1 (none left). */
static int
cluster_snames(const struct cluster *cl, const char *name,
    struct cluster_snames *n)
{
	n->key = cluster_strf("%sstream:%s", cl->prefix, name);
	n->chan = cluster_strf("%s%s", cl->hubchan, name);
	n->nodes = cluster_strf("%snodes", cl->prefix);
	n->subs = cluster_strf("%ssubs:", cl->prefix);
	if (n->key != NULL && n->chan != NULL && n->nodes != NULL &&
	    n->subs != NULL)
		return 0;
	cluster_snames_free(n);
	return -1;
}

/*
 * A stream command's request for arg and the names of channel name: the
 * caller sets its callback. NULL while Redis is away or out of memory.
 */
static struct cluster_stream_req *
cluster_stream_req(const char *name, void *arg, struct cluster_snames *sn)
{
	struct cluster			*cl = cluster_cur;
	struct cluster_stream_req	*rq;

	if (cl == NULL || !cl->up || (rq = calloc(1, sizeof(*rq))) == NULL)
		return NULL;
	if (cluster_snames(cl, name, sn) == -1) {
		free(rq);
		return NULL;
	}
	rq->arg = arg;
	return rq;
}

/* The sink's channel streams go to cb. */
void
cluster_sink_streams(struct cluster_sink *sk, cluster_stream_cb cb)
{
	if (sk != NULL)
		sk->stream_cb = cb;
}

/* XADD's reply: the id, or NULL for the caller. */
static void
cluster_stream_add_cb(struct cluster_link *lk, const redisReply *r,
    void *arg)
{
	struct cluster_stream_req	*rq = arg;
	char				 id[CLUSTER_ENV_SID_MAX];

	if (r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
	    r->element[0]->type == REDIS_REPLY_STRING &&
	    r->element[1]->type == REDIS_REPLY_INTEGER &&
	    cluster_env_sid_valid(r->element[0]->str, r->element[0]->len)) {
		memcpy(id, r->element[0]->str, r->element[0]->len);
		id[r->element[0]->len] = '\0';
		rq->add_cb(rq->arg, id, r->element[1]->integer);
	} else {
		if (r != NULL)
			CLUSTER_ERRLOG(lk->cl, "cluster: redis error",
			    "cluster: redis %s: XADD: %s", lk->cl->addr,
			    r->type == REDIS_REPLY_ERROR ? r->str :
			    "not an id");
		rq->add_cb(rq->arg, NULL, -1);
	}
	free(rq);
}

/* Appends to a channel's stream and publishes the entry. */
int
cluster_stream_add(const char *name, unsigned maxlen, double ttl, int kind,
    const void *data, size_t len, void (*cb)(void *, const char *, long long),
    void *arg)
{
	struct cluster			*cl = cluster_cur;
	struct cluster_stream_req	*rq;
	uint8_t				 hdr[CLUSTER_ENV_HDR_MAX];
	const char			*argv[14];
	size_t				 argvlen[14], i;
	char				 smax[16], sttl[32], k[2];
	struct cluster_snames		 sn;
	int				 rc = -1;

	if (worker_self() != 0)
		return cluster_hop_add(name, maxlen, ttl, kind, data, len,
		    cb, arg);
	if ((rq = cluster_stream_req(name, arg, &sn)) == NULL)
		return -1;
	rq->add_cb = cb;
	snprintf(smax, sizeof(smax), "%u", maxlen);
	snprintf(sttl, sizeof(sttl), "%.0f", ttl > 0 ? ttl * 1000 : 0);
	k[0] = (char)kind;
	k[1] = '\0';
	argv[0] = "EVAL";
	argv[1] = cluster_lua_xadd;
	argv[2] = "1";
	argv[3] = sn.key;
	argv[4] = smax;
	argv[5] = sttl;
	argv[6] = k;
	argv[7] = "";
	argv[8] = cl->id;
	argv[9] = sn.chan;
	argv[10] = "";
	argv[11] = sn.nodes;
	argv[12] = sn.subs;
	argv[13] = name;
	for (i = 0; i < 14; i++)
		argvlen[i] = strlen(argv[i]);
	/* The message and the envelope's header are not C strings. */
	argv[7] = data;
	argvlen[7] = len;
	argv[10] = (const char *)hdr;
	argvlen[10] = cluster_env_header(hdr, CLUSTER_ENV_STREAM, cl->id, 0, 0,
	    0);
	rc = cluster_send(&cl->cmd, 14, argv, argvlen, cluster_stream_add_cb,
	    rq);
	cluster_snames_free(&sn);
	if (rc == -1)
		free(rq);
	else
		cl->st.published++;
	return rc;
}

/* A copy of n entries and what they point to, in one block; NULL: none. */
struct cluster_stream_entry *
cluster_stream_entries_copy(const struct cluster_stream_entry *v, size_t n)
{
	struct cluster_stream_entry	*c;
	size_t				 i, size = n * sizeof(*v), idlen;
	char				*p;

	if (n == 0)
		return NULL;
	for (i = 0; i < n; i++)
		size += strlen(v[i].id) + 1 + v[i].len;
	if ((c = malloc(size)) == NULL) {
		log_warn("cluster: channel stream read");
		return NULL;
	}
	p = (char *)(c + n);
	for (i = 0; i < n; i++) {
		c[i] = v[i];
		idlen = strlen(v[i].id) + 1;
		memcpy(p, v[i].id, idlen);
		c[i].id = p;
		p += idlen;
		if (v[i].len > 0)
			memcpy(p, v[i].data, v[i].len);
		c[i].data = p;
		p += v[i].len;
	}
	return c;
}

/* XREVRANGE's reply: the entries, newest first, for the caller. */
static void
cluster_stream_range_cb(struct cluster_link *lk, const redisReply *r,
    void *arg)
{
	struct cluster_stream_req	*rq = arg;
	struct cluster_stream_entry	*v = NULL;
	const redisReply		*e, *f;
	size_t				 i, j, n = 0;
	int				 ok = r != NULL &&
					    r->type == REDIS_REPLY_ARRAY;

	if (r != NULL && r->type == REDIS_REPLY_ERROR)
		CLUSTER_ERRLOG(lk->cl, "cluster: redis error", "cluster: redis "
		    "%s: XREVRANGE: %s", lk->cl->addr, r->str);
	if (ok && r->elements > 0 &&
	    (v = calloc(r->elements, sizeof(*v))) == NULL)
		ok = 0;
	for (i = 0; ok && i < r->elements; i++) {
		e = r->element[i];
		if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
		    e->element[0]->type != REDIS_REPLY_STRING ||
		    e->element[1]->type != REDIS_REPLY_ARRAY) {
			ok = 0;
			break;
		}
		v[n].id = e->element[0]->str;
		v[n].kind = -1;
		f = e->element[1];
		for (j = 0; j + 1 < f->elements; j += 2) {
			if (f->element[j]->type != REDIS_REPLY_STRING ||
			    f->element[j + 1]->type != REDIS_REPLY_STRING)
				continue;
			if (strcmp(f->element[j]->str, "k") == 0 &&
			    f->element[j + 1]->len == 1)
				v[n].kind = (uint8_t)f->element[j + 1]->str[0];
			else if (strcmp(f->element[j]->str, "d") == 0) {
				v[n].data = f->element[j + 1]->str;
				v[n].len = f->element[j + 1]->len;
			}
		}
		/* Not one of ours: passed over. */
		if (v[n].kind != -1 && v[n].data != NULL)
			n++;
	}
	if (rq->sync != 0 && r != NULL) {
		/* Kept until the subscription link has caught up. */
		rq->ok = ok;
		if (ok && (rq->v = cluster_stream_entries_copy(v, n)) == NULL &&
		    n > 0)
			rq->ok = 0;
		rq->n = rq->ok ? n : 0;
		rq->read = 1;
		free(v);
		return;
	}
	if (rq->sync != 0) {
		/* The link failed: no marker is coming. */
		TAILQ_REMOVE(&lk->cl->syncs, rq, sync_entry);
		rq->sync = 0;
	}
	rq->range_cb(rq->arg, ok ? v : NULL, ok ? n : 0, ok);
	free(v);
	free(rq);
}

/* A kept read is answered (its marker came, or the links went). */
static void
cluster_sync_done(struct cluster *cl, struct cluster_stream_req *rq)
{
	TAILQ_REMOVE(&cl->syncs, rq, sync_entry);
	rq->sync = 0;
	if (!rq->read)
		return;		/* answered as it comes */
	rq->range_cb(rq->arg, rq->ok ? rq->v : NULL, rq->n, rq->ok);
	free(rq->v);
	free(rq);
}

/*
 * Our marker number N came over the subscription link: every entry the
 * reads up to N found has come before it (Redis sends one connection's
 * messages in the order they were published), so they are answered.
 */
static void
cluster_sync_marker(struct cluster *cl, const redisReply *payload)
{
	struct cluster_stream_req	*rq;
	char				 num[24], *end;
	unsigned long long		 n;

	if (payload->type != REDIS_REPLY_STRING || payload->len == 0 ||
	    payload->len >= sizeof(num))
		return;
	memcpy(num, payload->str, payload->len);
	num[payload->len] = '\0';
	n = strtoull(num, &end, 10);
	if (*end != '\0')
		return;
	while ((rq = TAILQ_FIRST(&cl->syncs)) != NULL && rq->sync <= n)
		cluster_sync_done(cl, rq);
}

/* The links went: kept reads are answered with what they read. */
static void
cluster_syncs_flush(struct cluster *cl)
{
	struct cluster_stream_req	*rq;

	while ((rq = TAILQ_FIRST(&cl->syncs)) != NULL)
		cluster_sync_done(cl, rq);
}

/*
 * After a read, a marker published to this node alone (syncchan): the
 * read waits for it. Without one (the command cannot be queued) the read
 * is answered as it comes.
 */
static void
cluster_sync_send(struct cluster *cl, struct cluster_stream_req *rq)
{
	const char	*argv[3];
	char		 num[24];

	snprintf(num, sizeof(num), "%llu",
	    (unsigned long long)(cl->sync_sent + 1));
	argv[0] = "PUBLISH";
	argv[1] = cl->syncchan;
	argv[2] = num;
	if (cluster_sendv(&cl->cmd, cluster_ignore_cb, NULL, 3, argv) == -1)
		return;
	rq->sync = ++cl->sync_sent;
	TAILQ_INSERT_TAIL(&cl->syncs, rq, sync_entry);
}

/* Reads a stream back from since, newest first. */
int
cluster_stream_range(const char *name, const char *since, unsigned count,
    void (*cb)(void *, const struct cluster_stream_entry *, size_t, int),
    void *arg)
{
	struct cluster			*cl = cluster_cur;
	struct cluster_stream_req	*rq;
	const char			*argv[6];
	struct cluster_snames		 sn;
	char				 n[16];
	int				 rc;

	if (worker_self() != 0)
		return cluster_hop_range(name, since, count, cb, arg);
	if ((rq = cluster_stream_req(name, arg, &sn)) == NULL)
		return -1;
	rq->range_cb = cb;
	snprintf(n, sizeof(n), "%u", count);
	argv[0] = "XREVRANGE";
	argv[1] = sn.key;
	argv[2] = "+";
	argv[3] = since;
	argv[4] = "COUNT";
	argv[5] = n;
	rc = cluster_sendv(&cl->cmd, cluster_stream_range_cb, rq, 6, argv);
	cluster_snames_free(&sn);
	if (rc == -1)
		free(rq);
	else
		cluster_sync_send(cl, rq);
	return rc;
}

/* Deletes a channel's stream; the other nodes delete the channel. */
int
cluster_stream_delete(const char *name)
{
	struct cluster	*cl = cluster_cur;
	uint8_t		 hdr[CLUSTER_ENV_HDR_MAX];
	const char	*argv[6];
	size_t		 argvlen[6], i;
	struct cluster_snames sn;
	int		 rc;

	if (worker_self() != 0)
		return cluster_hop_delete(name);
	if (cl == NULL || !cl->up || cluster_snames(cl, name, &sn) == -1)
		return -1;
	argv[0] = "EVAL";
	argv[1] = cluster_lua_xdel;
	argv[2] = "1";
	argv[3] = sn.key;
	argv[4] = sn.chan;
	for (i = 0; i < 5; i++)
		argvlen[i] = strlen(argv[i]);
	argv[5] = (const char *)hdr;
	argvlen[5] = cluster_env_header(hdr, CLUSTER_ENV_DELETE, cl->id, 0, 0,
	    0);
	rc = cluster_send(&cl->cmd, 6, argv, argvlen, cluster_ignore_cb, NULL);
	cluster_snames_free(&sn);
	return rc;
}

/* The answer to cluster_stream_info(). */
static void
cluster_stream_info_cb(struct cluster_link *lk, const redisReply *r,
    void *arg)
{
	struct cluster_stream_req	*rq = arg;

	if (r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
	    r->element[0]->type == REDIS_REPLY_INTEGER &&
	    r->element[1]->type == REDIS_REPLY_INTEGER &&
	    r->element[2]->type == REDIS_REPLY_STRING &&
	    (r->element[2]->len == 0 || cluster_env_sid_valid(
	    r->element[2]->str, r->element[2]->len)))
		rq->info_cb(rq->arg, r->element[0]->integer,
		    r->element[1]->integer, r->element[2]->len > 0 ?
		    r->element[2]->str : NULL);
	else {
		if (r != NULL && r->type == REDIS_REPLY_ERROR)
			CLUSTER_ERRLOG(lk->cl, "cluster: redis error",
			    "cluster: redis %s: channel info: %s",
			    lk->cl->addr, r->str);
		rq->info_cb(rq->arg, -1, -1, NULL);
	}
	free(rq);
}

/* A channel's subscribers on every node, its stream's length, last id. */
int
cluster_stream_info(const char *name, void (*cb)(void *, long long,
    long long, const char *), void *arg)
{
	struct cluster			*cl = cluster_cur;
	struct cluster_stream_req	*rq;
	const char			*argv[7];
	struct cluster_snames		 sn;
	int				 rc;

	if (worker_self() != 0)
		return cluster_hop_info(name, cb, arg);
	if ((rq = cluster_stream_req(name, arg, &sn)) == NULL)
		return -1;
	rq->info_cb = cb;
	argv[0] = "EVAL";
	argv[1] = cluster_lua_info;
	argv[2] = "1";
	argv[3] = sn.key;
	argv[4] = sn.nodes;
	argv[5] = sn.subs;
	argv[6] = name;
	rc = cluster_sendv(&cl->cmd, cluster_stream_info_cb, rq, 7, argv);
	cluster_snames_free(&sn);
	if (rc == -1)
		free(rq);
	return rc;
}

/*
 * This node's subscribers per channel, as Redis should have them: sent
 * as they change, sent again whole when the link comes back.
 */
struct cluster_subs {
	struct cluster_subs	*next;
	unsigned		 n;
	char			 name[];
};
static struct cluster_subs *cluster_subs_tab[CLUSTER_BUCKETS];
static unsigned		 cluster_subs_count;
static double		 cluster_subs_beat;	/* last renewal; 0: due */

/* Sends one channel's count: HSET, or HDEL at 0. */
static void
cluster_subs_send(struct cluster *cl, const char *name, unsigned n)
{
	const char	*argv[4];
	char		*key, num[16];

	if ((key = cluster_strf("%ssubs:%s", cl->prefix, cl->id)) == NULL)
		return;
	snprintf(num, sizeof(num), "%u", n);
	argv[0] = n > 0 ? "HSET" : "HDEL";
	argv[1] = key;
	argv[2] = name;
	argv[3] = num;
	(void)cluster_sendv(&cl->cmd, cluster_ignore_cb, NULL, n > 0 ? 4 : 3,
	    argv);
	free(key);
}

/*
 * Renews this node's deadline and its counts' (users_ttl), when due or
 * forced; nothing while it has no subscribers (they expire).
 */
static void
cluster_subs_heartbeat(struct cluster *cl, int force)
{
	const char	*argv[7];
	char		*nodes, *key, ttl[32];
	double		 now = cluster_now();

	if (!cl->up || cluster_subs_count == 0 || (!force &&
	    cluster_subs_beat > 0 && now - cluster_subs_beat < cl->users_ttl / 3))
		return;
	cluster_subs_beat = now;
	nodes = cluster_strf("%snodes", cl->prefix);
	key = cluster_strf("%ssubs:%s", cl->prefix, cl->id);
	snprintf(ttl, sizeof(ttl), "%.0f", cl->users_ttl * 1000);
	if (nodes != NULL && key != NULL) {
		argv[0] = "EVAL";
		argv[1] = cluster_lua_beat;
		argv[2] = "2";
		argv[3] = nodes;
		argv[4] = key;
		argv[5] = cl->id;
		argv[6] = ttl;
		(void)cluster_sendv(&cl->cmd, cluster_ignore_cb, NULL, 7, argv);
	}
	free(nodes);
	free(key);
}

/* The link is back: every count again, then the deadline. */
static void
cluster_subs_resend(struct cluster *cl)
{
	struct cluster_subs	*e;
	size_t			 i;

	for (i = 0; i < CLUSTER_BUCKETS; i++)
		for (e = cluster_subs_tab[i]; e != NULL; e = e->next)
			cluster_subs_send(cl, e->name, e->n);
	cluster_subs_heartbeat(cl, 1);
}

/* Forgets the counts (the node leaves; they expire in Redis). */
static void
cluster_subs_free(void)
{
	struct cluster_subs	*e;
	size_t			 i;

	for (i = 0; i < CLUSTER_BUCKETS; i++)
		while ((e = cluster_subs_tab[i]) != NULL) {
			cluster_subs_tab[i] = e->next;
			free(e);
		}
	cluster_subs_count = 0;
	cluster_subs_beat = 0;
}

/* This node has n subscribers of channel name now. */
void
cluster_subs_set(const char *name, unsigned n)
{
	if (cluster_cur == NULL)
		return;
	/* Worker 0's own calls too: in the order they were made. */
	if (worker_count() > 1)
		cluster_hop_subs(name, n);
	else
		cluster_subs_apply(name, n);
}

/* Worker 0 records and sends a count. */
void
cluster_subs_apply(const char *name, unsigned n)
{
	struct cluster		*cl = cluster_cur;
	struct cluster_subs	**ep, *e;
	size_t			 len = strlen(name);

	if (cl == NULL)
		return;
	for (ep = &cluster_subs_tab[cluster_bucket(name, len)];
	    (e = *ep) != NULL; ep = &e->next)
		if (strcmp(e->name, name) == 0)
			break;
	if (e == NULL && n > 0) {
		if ((e = calloc(1, sizeof(*e) + len + 1)) == NULL)
			return;
		memcpy(e->name, name, len);
		*ep = e;
		cluster_subs_count++;
	}
	if (e == NULL)
		return;
	e->n = n;
	if (cl->up)
		cluster_subs_send(cl, name, n);
	if (n == 0) {
		*ep = e->next;
		free(e);
		cluster_subs_count--;
	}
	cluster_subs_heartbeat(cl, 0);
}
