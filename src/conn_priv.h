/*
 * conn_priv.h -- what the three files of a connection share: conn.c (the
 * lifecycle: accept, PROXY, TLS, timers, teardown), http_serve.c (HTTP
 * requests and responses) and session.c (the WebSocket session). Nothing
 * else includes it.
 */
#ifndef WSD_CONN_PRIV_H
#define WSD_CONN_PRIV_H

#include <sys/queue.h>
#include <sys/time.h>
#include <sys/types.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdint.h>

#include <event2/util.h>

#include "access.h"
#include "cidr.h"
#include "hub.h"
#include "log.h"
#include "ws.h"

struct bufferevent;
struct event;
struct generation;
struct http_parser;
struct http_request;
struct iplimit_entry;
struct jwt_claims;
struct pmd;
struct server;
struct ssl_st;
struct wsd_route;

/*
 * Where a connection is. Every callback dispatches on this; transitions go
 * through conn_set_state() so that they show up in the debug log.
 */
enum conn_state {
	CONN_PROXY,		/* reading a PROXY protocol header, no bev yet */
	CONN_HTTP_HEAD,		/* reading a request head */
	CONN_HTTP_IDLE,		/* keep-alive: between requests */
	CONN_WS_PENDING,	/* upgrade held: the app answers later */
	CONN_WS_OPEN,		/* WebSocket session */
	CONN_WS_CLOSING,	/* our close frame sent, awaiting the peer's */
	CONN_FLUSH_CLOSE,	/* write what is queued, then half-close */
	CONN_LINGER,		/* write side shut; discard input until EOF */
	CONN_SSE,		/* a Server-Sent Events stream (channels) */
	CONN_HTTP_PENDING,	/* a publish answer held: the app answers later */
};

/*
 * The per-loop read buffer: a plain WebSocket reads into it and frames are
 * parsed and unmasked there; it also bounds the bytes read per wakeup.
 */
#define CONN_SCRATCH	65536

/* Random bytes in a keepalive ping: a pong cannot be forged ahead. */
#define CONN_PING_LEN	8

/* WebSocket session state, in use from the upgrade on (c->ws). */
struct conn_upgrade;
struct conn_api_hold;

/* A session's signed token (session.c), for routes that take one. */
struct conn_jwt {
	struct jwt_claims	*claims;
	struct event		*timer;		/* jwt_expire_close: at exp */
};

struct conn_ws {
	struct ws_parser	 parser;
	struct evbuffer		*msg;		/* message being assembled */
	uint64_t		 bytes_in;	/* message payload bytes */
	uint64_t		 bytes_out;
	void			*app_data;
	struct app_route	*rt;		/* the route's runtime */
	struct hub_member	 member;	/* in the route's hub */
	struct pmd		*pmd;		/* NULL: no permessage-deflate */
	/* max_messages_per_second; NULL until the first message. */
	struct access_rate	*rate;
	struct log_limit	*log;		/* lines the client causes;
						 * NULL until the first */
	/* The token's claims and its expiry timer; NULL: no token. */
	struct conn_jwt		*jwt;
	uint32_t		 inf_utf8;	/* inflated text's UTF-8 state */
	uint8_t			 ping[CONN_PING_LEN]; /* the outstanding one */
	uint16_t		 close_code;	/* for the access log */
	uint8_t			 msg_opcode;
	uint8_t			 frame_op;	/* on_frame: next frame's */
};

/*
 * A file body being sent (http_serve.c), from the response until its last
 * byte is queued: read with pread as the output drains.
 */
struct conn_file {
	int		 fd;
	off_t		 off;		/* next byte to read */
	off_t		 end;		/* one past the last one promised */
	char		 path[];	/* raw request path, for logs */
};

/*
 * A Server-Sent Events stream (http_serve.c): the response head is sent,
 * the connection stays on its bufferevent and is a hub member like a
 * WebSocket; its frames are the events' text.
 */
struct conn_sse {
	struct hub_member	 member;
	struct app_route	*rt;		/* the route's runtime */
	void			*app_data;
};

struct conn_slice;
struct conn_input;
struct conn_tlist;

struct conn {
	TAILQ_ENTRY(conn)	 entry;
	struct server		*srv;
	/*
	 * HTTP connections go through a bufferevent. A WebSocket owns its
	 * socket (and SSL) once upgraded (bev NULL): it waits for input in
	 * the loop's poller (conn_rd_*()), reads into the loop's scratch
	 * buffer, queues output as slices written with writev (SSL_write
	 * over TLS), and arms write interest only while the socket cannot
	 * take more.
	 */
	struct bufferevent	*bev;
	struct ssl_st		*ssl;		/* TLS: c's, not bev's */
	struct event		*wev;		/* no bev: output waits */
	struct conn_slice	*out;		/* no bev: output queue */
	struct conn_slice	*out_tail;
	size_t			 out_held;	/* memory the queue holds */
	union {
		struct conn_input *in;		/* no bev: bytes left over */
		/* CONN_WS_PENDING (a bev still): the held answer. */
		struct conn_upgrade *upg;
		/* CONN_HTTP_PENDING (a bev still): the held answer. */
		struct conn_api_hold *hold;
	};
	TAILQ_ENTRY(conn)	 dirty;		/* output to flush this turn */
	/* The one timer: its meaning depends on the state (conn.c). */
	struct conn_tlist	*tlist;		/* NULL: not armed */
	TAILQ_ENTRY(conn)	 tentry;
	double			 deadline;	/* on the monotonic clock */
	/* For the access log: the request's, then the session's start. */
	double			 req_start;	/* conn_now() */
	struct generation	*gen;		/* a reference: its conf, routes
						 * and tls; route is in it */
	const struct wsd_route	*route;
	struct conn_ws		*ws;		/* NULL, or &ws_room once
						 * upgraded */
	struct http_parser	*hp;		/* while a request head arrives */
	struct iplimit_entry	*ipe;		/* counted under addr */
	struct conn_proxy	*proxy;		/* CONN_PROXY only */
	struct conn_file	*file;		/* a file body being sent */
	struct conn_sse		*sse;		/* NULL: not an SSE stream */
	evutil_socket_t		 fd;		/* -1 for PROXY */
	enum conn_state		 state;
	/*
	 * The client: hop is who spoke TCP to us (after a PROXY header),
	 * addr the client that hop reports when hop is a trusted proxy.
	 */
	struct cidr_addr	 hop;
	struct cidr_addr	 addr;
	uint16_t		 port;		/* hop's, for conn_peer() */
	/* Not reading: output over max_send_buffer, or a file is sent. */
	unsigned		 paused:1;
	unsigned		 awaiting_pong:1;
	unsigned		 close_rcvd:1;
	unsigned		 close_sent:1;
	unsigned		 app_opened:1;	/* on_close still owed */
	unsigned		 end_pending:1;	/* session over, on_close queued */
	unsigned		 hub_drain:1;	/* hub backlog awaits a drain */
	unsigned		 tls:1;		/* counted as TLS */
	unsigned		 is_dirty:1;	/* on the flush list */
	unsigned		 forwarded:1;	/* a proxy's header named addr */
	unsigned		 tls_wr_rd:1;	/* SSL_write awaits input */
	unsigned		 tls_rd_wr:1;	/* SSL_read awaits output */
	/* The loop's WebSocket poller (conn_rd_*()). */
	unsigned		 rd_ok:1;	/* no bev: c reads the socket */
	unsigned		 rd_on:1;	/* in the epoll set */
	unsigned		 rd_act:1;	/* a read is due this turn */
	unsigned		 app_paused:1;	/* conn_pause_reading() */
	/*
	 * Part of c from the accept on: one allocation that outlives the
	 * HTTP phase's, so that their memory goes back in one piece.
	 */
	struct conn_ws		 ws_room;
};


/* conn.c */
void	conn_set_state(struct conn *, enum conn_state);
/* (Re)arms the connection's single timer; 0 seconds disarms it. */
void	conn_timer_set(struct conn *, double);
/* Seconds elapsed since t (conn_now()), for the access log. */
double	conn_elapsed(double);
/* Seconds on the monotonic clock. */
double	conn_now(void);
int	conn_hop_trusted(const struct conn *);
int	conn_account(struct conn *, int);
const char *conn_refuse_text(int);
void	conn_use_current_config(struct conn *);
void	conn_check_output(struct conn *, size_t);
size_t	conn_send_limit(const struct conn *);
void	conn_flush_close(struct conn *);
/* Output, whether through the bufferevent or the slice queue. */
int	conn_out_add(struct conn *, const void *, size_t);
int	conn_out_ref(struct conn *, const void *, size_t,
	    void (*)(const void *, size_t, void *), void *);
uint8_t	*conn_out_reserve(struct conn *, size_t);
int	conn_out_commit(struct conn *, size_t);
/* Whether c may read: neither backpressure nor the app holds it. */
#define conn_reading(c)	(!(c)->paused && !(c)->app_paused)
/* Hands a WebSocket's socket and SSL from its bufferevent to c; -1: closed. */
int	conn_io_takeover(struct conn *);
/* Parses what a WebSocket has left over (no read). */
void	conn_io_input(struct conn *);
/*
 * A WebSocket's reading (conn.c's poller): on waits for readability, off
 * stops, activate reads in this loop iteration without readiness (bytes
 * left over, records OpenSSL holds); end: for good, it is closed next.
 */
void	conn_rd_on(struct conn *);
void	conn_rd_off(struct conn *);
void	conn_rd_activate(struct conn *);
void	conn_rd_end(struct conn *);

/* http_serve.c */
void	conn_http_read(struct conn *);
void	conn_http_hold_drop(struct conn *);
int	conn_http_fail(struct conn *, const struct http_request *, int,
	    const char *, const char *);
int	conn_http_file_more(struct conn *);
void	conn_http_file_free(struct conn *);
void	conn_sse_free(struct conn *);
void	conn_sse_timer(struct conn *);

/* session.c */
int	conn_ws_upgrade(struct conn *, const struct http_request *,
	    const char *, const char *, struct jwt_claims *);
void	conn_ws_pending_close(struct conn *);
void	conn_ws_read(struct conn *);
size_t	conn_ws_input(struct conn *, uint8_t *, size_t);
void	conn_ws_end(struct conn *);
void	conn_app_open(struct conn *, const struct http_request *);
void	conn_ws_free(struct conn *);
void	conn_ws_fail(struct conn *, unsigned, const char *);
void	conn_ws_timer(struct conn *);
void	conn_ws_send_timeout(struct conn *);
/* The hub membership of a WebSocket or SSE stream; NULL for others. */
struct hub_member *conn_member(struct conn *);

#endif
