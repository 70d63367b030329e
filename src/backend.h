/* backend.h -- the client side of a WebSocket to a backend server. */
#ifndef WSD_BACKEND_H
#define WSD_BACKEND_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct ssl_ctx_st;
struct evdns_base;

/* Where a backend is: ws://, wss:// or unix:SOCKET:PATH. */
enum backend_kind {
	BACKEND_WS,
	BACKEND_WSS,
	BACKEND_UNIX,
};

struct backend_url {
	enum backend_kind kind;
	char		 host[256];	/* ws, wss: name or address */
	char		 port[8];
	char		 sock[108];	/* unix: the socket's path */
	char		 path[1024];	/* request path, "/" at least */
};

/*
 * Parses a backend URL (pure): ws://HOST[:PORT][/PATH],
 * wss://HOST[:PORT][/PATH] (HOST may be [V6ADDR]) or
 * unix:/SOCKET[:/PATH]. Returns 0, or -1 when it is not one of those.
 */
int	backend_url_parse(const char *s, struct backend_url *u);
/* Whether a parsed URL names its host (pure): a lookup, with a resolver. */
int	backend_url_named(const struct backend_url *u);
/* backend_url_parse() as a config check: 0 valid, -1 not. */
int	backend_url_check(const char *s);

/*
 * What a backend tells its owner. Every callback comes from the event
 * loop, never from inside a backend_*() call, and the owner may call
 * backend_close() or backend_free() from any of them.
 */
struct backend_cb {
	/* The handshake is done; subprotocol NULL when none was chosen. */
	void	(*on_open)(void *arg, const char *subprotocol);
	/*
	 * It failed before that: 502 (unreachable, refused, bad answer) or
	 * 504 (no answer in time), why for the log. The backend is freed.
	 */
	void	(*on_fail)(void *arg, int status, const char *why);
	/* A data frame, as the client's on_frame gets it (app.h). */
	void	(*on_frame)(void *arg, int opcode, int fin,
		    const uint8_t *data, size_t len);
	/*
	 * The backend closed: with a close frame (code and reason, already
	 * answered) or not (code 1006, why). The owner then lets go with
	 * backend_close().
	 */
	void	(*on_close)(void *arg, unsigned code, const char *reason);
	/* Pending output fell to half the limit after being above it. */
	void	(*on_drain)(void *arg);
};

/* Per-connection settings. */
struct backend_opts {
	double		 connect_timeout;	/* seconds to a 101 */
	double		 close_timeout;		/* closing handshake */
	uint64_t	 max_message;		/* from the backend; 0: none */
	size_t		 max_send_buffer;	/* for on_drain */
	struct ssl_ctx_st *ssl_ctx;		/* wss: verifies the peer */
	struct evdns_base *dns;			/* looks a host name up */
};

struct backend;

/*
 * Starts a connection and its handshake: GET target (the URL's path
 * and the client's query), Host, the WebSocket headers, then the
 * header lines in extra ("Name: value\r\n" each). NULL with *why when
 * it cannot even start (no such unix socket, bad address).
 */
struct backend *backend_connect(struct event_base *base,
		    const struct backend_url *u, const char *target,
		    const char *extra, const struct backend_opts *o,
		    const struct backend_cb *cb, void *arg, const char **why);
/*
 * Queues one frame, masked (RFC 6455 5.3): opcode TEXT or BINARY starts
 * a message, CONT continues it. Returns the pending output, or -1 when
 * the connection is not open.
 */
int	backend_send_frame(struct backend *b, int opcode, int fin,
	    const void *data, size_t len);
/* Bytes queued for the backend, not yet written. */
size_t	backend_pending(const struct backend *b);
/* Stops (1) or resumes (0) reading the backend. */
void	backend_pause_reading(struct backend *b, int pause);
/*
 * The owner lets go: sends a close frame with payload (code and reason,
 * as on the wire; none when one was already sent or the backend's came
 * first), then the backend finishes the closing handshake alone and
 * frees itself; no callback comes any more.
 */
void	backend_close(struct backend *b, const uint8_t *payload, size_t len);
/* Drops the connection at once. */
void	backend_free(struct backend *b);
/* Frees the backends still closing alone (at exit). */
void	backend_free_closing(void);

#endif
