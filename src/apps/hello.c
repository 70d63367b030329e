/* hello.c -- the first text message is a name; greet it and close. */
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "ws.h"

/* Replies "Hello <name>!" and closes normally. */
static void
hello_message(struct conn *c, int opcode, const uint8_t *data, size_t len)
{
	char	*reply;

	(void)opcode;
	/* memcpy, not printf: a name may hold U+0000. */
	if ((reply = malloc(len + 7)) == NULL) {
		conn_ws_close(c, WS_CLOSE_INTERNAL, "out of memory");
		return;
	}
	memcpy(reply, "Hello ", 6);
	memcpy(reply + 6, data, len);
	reply[len + 6] = '!';
	conn_send(c, WS_OP_TEXT, reply, len + 7);
	free(reply);
	conn_ws_close(c, WS_CLOSE_NORMAL, "");
}

const struct app app_hello = {
	.name = "hello",
	.binary_ok = 0,
	.on_message = hello_message,
};
