/* conn.h -- one client connection: HTTP, then maybe a WebSocket session. */
#ifndef WSD_CONN_H
#define WSD_CONN_H

#include <sys/socket.h>
#include <event2/util.h>

struct server;
struct conn;

/*
 * Takes over an accepted socket and starts reading a request head. NULL
 * (socket closed, logged) when memory runs out.
 */
struct conn *conn_new(struct server *srv, evutil_socket_t fd,
	    const struct sockaddr *sa, socklen_t salen);

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

/* The connection after c in its server's list, for walking it. */
struct conn *conn_next(struct conn *c);

#endif
