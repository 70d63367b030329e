/* cluster_env.c -- the envelope of a message between nodes (pure). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_env.h"
#include "ws.h"

#define CLUSTER_BACKOFF_BASE	500.0
#define CLUSTER_BACKOFF_FACTOR	1.5
#define CLUSTER_BACKOFF_MAX	10000.0

/* Writes an envelope's header. */
size_t
cluster_env_header(uint8_t *out, int kind, const char *id, int opcode,
    unsigned key, size_t sse_len)
{
	size_t	n = strlen(id), off;

	if (n == 0 || n > CLUSTER_ENV_ID_MAX || sse_len > UINT32_MAX)
		return 0;
	out[0] = 'W';
	out[1] = '1';
	out[2] = (uint8_t)kind;
	out[3] = (uint8_t)n;
	memcpy(out + 4, id, n);
	off = 4 + n;
	if (kind != CLUSTER_ENV_MSG)
		return off;
	out[off++] = (uint8_t)opcode;
	out[off++] = (uint8_t)key;
	out[off++] = (uint8_t)(sse_len >> 24);
	out[off++] = (uint8_t)(sse_len >> 16);
	out[off++] = (uint8_t)(sse_len >> 8);
	out[off++] = (uint8_t)sse_len;
	return off;
}

/* Reads an envelope, pointing into buf. */
int
cluster_env_decode(const uint8_t *buf, size_t len, struct cluster_env *env)
{
	size_t	off;

	memset(env, 0, sizeof(*env));
	if (len < 4 || buf[0] != 'W' || buf[1] != '1')
		return -1;
	env->kind = buf[2];
	if (env->kind != CLUSTER_ENV_MSG && env->kind != CLUSTER_ENV_VALUE &&
	    env->kind != CLUSTER_ENV_USERS && env->kind != CLUSTER_ENV_STREAM &&
	    env->kind != CLUSTER_ENV_DELETE)
		return -1;
	env->id_len = buf[3];
	if (env->id_len == 0 || len - 4 < env->id_len)
		return -1;
	env->id = (const char *)buf + 4;
	off = 4 + env->id_len;
	if (env->kind == CLUSTER_ENV_MSG) {
		if (len - off < 6)
			return -1;
		env->opcode = buf[off];
		if (env->opcode != WS_OP_TEXT && env->opcode != WS_OP_BINARY)
			return -1;
		env->key = buf[off + 1];
		env->sse_len = (size_t)buf[off + 2] << 24 |
		    (size_t)buf[off + 3] << 16 | (size_t)buf[off + 4] << 8 |
		    buf[off + 5];
		off += 6;
		if (len - off < env->sse_len)
			return -1;
		if (env->sse_len > 0)
			env->sse = buf + off;
		off += env->sse_len;
	}
	env->data = buf + off;
	env->len = len - off;
	return 0;
}

/* Parses the decimal number of a VALUE or USERS envelope. */
int
cluster_env_number(const struct cluster_env *env, long long *n)
{
	char	 tmp[32], *end;

	if ((env->kind != CLUSTER_ENV_VALUE &&
	    env->kind != CLUSTER_ENV_USERS) || env->len == 0 ||
	    env->len >= sizeof(tmp))
		return -1;
	memcpy(tmp, env->data, env->len);
	tmp[env->len] = '\0';
	/* strtoll takes leading space and "+": a number is digits only. */
	if (tmp[0] != '-' && (tmp[0] < '0' || tmp[0] > '9'))
		return -1;
	errno = 0;
	*n = strtoll(tmp, &end, 10);
	if (errno != 0 || *end != '\0' || end == tmp ||
	    (tmp[0] == '-' && end == tmp + 1))
		return -1;
	return 0;
}

/* 1 to 20 digits. */
static int
cluster_env_digits(const char *s, size_t len)
{
	size_t	i;

	if (len == 0 || len > 20)
		return 0;
	for (i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

/* "MS-SEQ": what XADD gives out. */
int
cluster_env_sid_valid(const char *s, size_t len)
{
	const char	*dash;

	if (len >= CLUSTER_ENV_SID_MAX ||
	    (dash = memchr(s, '-', len)) == NULL)
		return 0;
	return cluster_env_digits(s, (size_t)(dash - s)) &&
	    cluster_env_digits(dash + 1, len - (size_t)(dash - s) - 1);
}

/* Splits "ID\nK" and the message. */
int
cluster_env_stream(const struct cluster_env *env,
    struct cluster_env_stream *st)
{
	const uint8_t	*nl;
	size_t		 n;

	memset(st, 0, sizeof(*st));
	if (env->kind != CLUSTER_ENV_STREAM ||
	    (nl = memchr(env->data, '\n', env->len)) == NULL)
		return -1;
	n = (size_t)(nl - env->data);
	if (!cluster_env_sid_valid((const char *)env->data, n) ||
	    env->len - n < 2)
		return -1;
	memcpy(st->id, env->data, n);
	st->id[n] = '\0';
	st->kind = nl[1];
	st->data = nl + 2;
	st->len = env->len - n - 2;
	return 0;
}

/* The reconnect delay after attempt failures. */
unsigned
cluster_backoff_ms(unsigned attempt, double jitter)
{
	double	d = CLUSTER_BACKOFF_BASE;
	unsigned i;

	for (i = 0; i < attempt && d < CLUSTER_BACKOFF_MAX; i++)
		d *= CLUSTER_BACKOFF_FACTOR;
	if (d > CLUSTER_BACKOFF_MAX)
		d = CLUSTER_BACKOFF_MAX;
	if (jitter < 0 || jitter >= 1)
		jitter = 0.5;
	d *= 0.8 + 0.4 * jitter;
	return (unsigned)(d < CLUSTER_BACKOFF_MAX ? d : CLUSTER_BACKOFF_MAX);
}
