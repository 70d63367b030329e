/* conn.h -- one client connection: HTTP, then maybe a WebSocket session. */
#ifndef WSD_CONN_H
#define WSD_CONN_H

#include <sys/socket.h>
#include <event2/util.h>

struct server;
struct conn;

/*
 * Takes over an accepted socket under the server's current generation
 * (TLS with its context when tls is set: the handshake must finish within
 * handshake_timeout like the request head) and starts reading a request
 * head; with proxy set, a PROXY protocol header from a trusted proxy comes
 * first (before TLS). A client over a per-address limit is refused (on a
 * TLS listener closed without an answer). NULL (socket closed, logged)
 * when memory runs out, the peer may not send a PROXY header or a limit
 * refused it.
 */
struct conn *conn_new(struct server *srv, evutil_socket_t fd,
	    const struct sockaddr *sa, socklen_t salen, int tls, int proxy);

/*
 * The one teardown path: tells the app, logs the session, frees the
 * bufferevent and the connection. Nothing may touch c afterwards.
 */
void	conn_close(struct conn *c, const char *reason);

/*
 * Graceful stop: WebSockets get close 1001 and the closing handshake, idle
 * HTTP connections are closed, responses in flight finish first.
 */
void	conn_shutdown(struct conn *c);
/*
 * Frees what the calling worker's loop keeps for its connections (timer
 * lists, the poller, the pool); once its connections are gone, at exit.
 */
void	conn_loop_free(void);

/*
 * For hub.c, which reaches them through conn_hub_io (hub_set_io() at
 * start-up, server.c):
 */
struct hub_io;
extern const struct hub_io conn_hub_io;

/*
 * Through a bufferevent (an SSE stream), frames at least this long are
 * shared by reference, smaller ones copied; a WebSocket's queue, plain or
 * TLS, takes every frame by reference.
 */
#define CONN_SHARE_MIN	1024

/* 1 while c is a WebSocket or SSE stream that may still be sent to. */
int	conn_is_open(const struct conn *c);
/* 1 if c is a Server-Sent Events stream (its frames are the SSE form). */
int	conn_is_sse(const struct conn *c);
/*
 * Queues an encoded frame by reference (no copy), or, through a
 * bufferevent, copies it when it is smaller than CONN_SHARE_MIN;
 * cleanup(data, len, arg) runs once the output is done with it (at once
 * after a copy). -1 (cleanup not called) when c is not open.
 */
int	conn_send_shared(struct conn *c, const void *frame, size_t len,
	    size_t payload_len, void (*cleanup)(const void *, size_t, void *),
	    void *arg);
/* Fails the WebSocket: close frame with code, then the TCP connection. */
void	conn_fail(struct conn *c, unsigned code, const char *reason);
/* c's permessage-deflate state; NULL when not negotiated. */
struct pmd *conn_pmd(const struct conn *c);
/*
 * Encodes (and compresses, when negotiated) one message into c's output,
 * as conn_send() does but without pausing c's reading: for hub members
 * with a compression context of their own. -1 when c is not open or
 * compression failed (c is then failed with 1011).
 */
int	conn_queue(struct conn *c, int opcode, const void *data, size_t len);
/* Calls hub_member_drained() once c's output is at most low bytes. */
void	conn_watch_drain(struct conn *c, size_t low);

/* The connection after c in its server's list, for walking it. */
struct conn *conn_next(struct conn *c);

#endif
