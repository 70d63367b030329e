/* cluster_env.h -- the envelope of a message between nodes (pure). */
#ifndef WSD_CLUSTER_ENV_H
#define WSD_CLUSTER_ENV_H

#include <stddef.h>
#include <stdint.h>

/*
 * What a node publishes to Redis: "W1", a kind, the sender's id (length
 * byte, then its bytes), then by kind:
 *   CLUSTER_ENV_MSG   opcode, conflation key, 4-byte big-endian length
 *                     of the Server-Sent Events form, that form, then
 *                     the message itself (the rest);
 *   CLUSTER_ENV_VALUE a counter's value, decimal (the rest);
 *   CLUSTER_ENV_USERS a counter's users total, decimal (the rest);
 *   CLUSTER_ENV_STREAM a channel message appended to its stream: the
 *                     stream id, "\n", a kind byte, the message (the
 *                     rest, all appended by the script after XADD);
 *   CLUSTER_ENV_DELETE a channel deleted (nothing more).
 * The numbers are appended by a Lua script in Redis, so that every node
 * sees them in the order Redis applied them.
 */
#define CLUSTER_ENV_MSG		'M'
#define CLUSTER_ENV_VALUE	'V'
#define CLUSTER_ENV_USERS	'U'
#define CLUSTER_ENV_STREAM	'S'
#define CLUSTER_ENV_DELETE	'D'
/* A stream id "MS-SEQ", two 64-bit decimals, and the NUL. */
#define CLUSTER_ENV_SID_MAX	42

#define CLUSTER_ENV_ID_MAX	255
/* Header room before the message: magic, kind, id, opcode, key, length. */
#define CLUSTER_ENV_HDR_MAX	(4 + CLUSTER_ENV_ID_MAX + 6)

struct cluster_env {
	int		 kind;
	const char	*id;		/* not NUL-terminated */
	size_t		 id_len;
	int		 opcode;	/* MSG: WS_OP_TEXT or WS_OP_BINARY */
	unsigned	 key;		/* MSG: conflation key */
	const uint8_t	*sse;		/* MSG: NULL when sse_len is 0 */
	size_t		 sse_len;
	const uint8_t	*data;		/* the message or the number */
	size_t		 len;
};

/*
 * Writes the header of an envelope (for VALUE and USERS the whole
 * prefix the script appends its number to) into out, which has
 * CLUSTER_ENV_HDR_MAX bytes; opcode, key and sse_len only count for
 * MSG. Returns its length, 0 when id is empty or too long.
 */
size_t	cluster_env_header(uint8_t *out, int kind, const char *id,
	    int opcode, unsigned key, size_t sse_len);
/*
 * Reads an envelope; its fields point into buf. 0, or -1 when buf is
 * not one (bad magic, kind, opcode, lengths).
 */
int	cluster_env_decode(const uint8_t *buf, size_t len,
	    struct cluster_env *env);
/* The decimal number of a VALUE or USERS envelope: 0, or -1. */
int	cluster_env_number(const struct cluster_env *env, long long *n);
/* The parts of a STREAM envelope's rest. */
struct cluster_env_stream {
	char		 id[CLUSTER_ENV_SID_MAX];	/* NUL-terminated */
	int		 kind;
	const uint8_t	*data;
	size_t		 len;
};
/*
 * Splits a STREAM envelope's rest; data points into the envelope's. 0,
 * or -1 when it is not one (another kind, no "MS-SEQ" id, no kind byte).
 */
int	cluster_env_stream(const struct cluster_env *env,
	    struct cluster_env_stream *st);
/* 1 if s (len bytes) is a stream id "MS-SEQ", else 0. */
int	cluster_env_sid_valid(const char *s, size_t len);
/*
 * The reconnect delay in milliseconds after attempt failed attempts
 * (0 for the first retry): 500 ms times 1.5 per attempt, scaled by
 * 0.8 + 0.4 * jitter (jitter in [0, 1)) so that nodes that lost Redis
 * together do not come back in step, at most 10 s.
 */
unsigned cluster_backoff_ms(unsigned attempt, double jitter);

#endif
