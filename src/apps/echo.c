/* echo.c -- every message goes back unchanged, with the same opcode. */
#include "app.h"

/* Sends the message back as it came. */
static void
echo_message(struct conn *c, int opcode, const uint8_t *data, size_t len)
{
	conn_send(c, opcode, data, len);
}

const struct app app_echo = {
	.name = "echo",
	.binary_ok = 1,
	.on_message = echo_message,
};
