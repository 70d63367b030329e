/* app.h -- the interface between the core and the built-in apps. */
#ifndef WSD_APP_H
#define WSD_APP_H

#include <stddef.h>
#include <stdint.h>

struct conn;

/*
 * A built-in app. The core calls on_open once the handshake is done,
 * on_message for every complete message (text already validated as UTF-8)
 * and on_close exactly once when the session ends, whatever the reason.
 * Apps talk back only through the functions below, never to a socket.
 */
struct app {
	const char	*name;
	int		 binary_ok;	/* 0: a binary message closes with 1003 */
	void		(*on_open)(struct conn *c);
	void		(*on_message)(struct conn *c, int opcode,
			    const uint8_t *data, size_t len);
	void		(*on_close)(struct conn *c);
};

/* The app table (apps.c). NULL when no app has that name. */
const struct app *app_find(const char *name);
/* Space-separated list of app names, for error messages and help. */
const char	*app_names(void);

/* App API, implemented by conn.c. */

/* Queues one message (WS_OP_TEXT or WS_OP_BINARY); -1 once closing. */
int	 conn_send(struct conn *c, int opcode, const void *data, size_t len);
/* Starts the closing handshake with code and reason. */
void	 conn_ws_close(struct conn *c, unsigned code, const char *reason);
/* Per-connection pointer owned by the app. */
void	*conn_app_data(struct conn *c);
void	 conn_set_app_data(struct conn *c, void *data);

#endif
