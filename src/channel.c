/* channel.c -- channel names, ids, history rings, envelope and SSE form. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "channel.h"

/* Names: 1-128 of A-Z a-z 0-9 . _ : - (safe in paths, logs and JSON). */
int
channel_name_valid(const char *s, size_t len)
{
	size_t	i;
	char	c;

	if (len == 0 || len > CHANNEL_NAME_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		c = s[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		    c == ':' || c == '-')
			continue;
		return 0;
	}
	return 1;
}

/* "EPOCH-SEQ". */
size_t
channel_id_format(char out[CHANNEL_ID_MAX], uint64_t epoch, uint64_t seq)
{
	int	n;

	n = snprintf(out, CHANNEL_ID_MAX, "%" PRIu64 "-%" PRIu64, epoch, seq);
	return n < 0 ? 0 : (size_t)n;
}

/* One decimal number of at most 20 digits that fits 64 bits. */
static int
channel_number(const char *s, size_t len, uint64_t *out)
{
	uint64_t	v = 0;
	size_t		i;

	if (len == 0 || len > 20)
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return 0;
}

/* Parses "EPOCH-SEQ". */
int
channel_id_parse(const char *s, size_t len, uint64_t *epoch, uint64_t *seq)
{
	const char	*dash;

	if ((dash = memchr(s, '-', len)) == NULL)
		return -1;
	if (channel_number(s, (size_t)(dash - s), epoch) == -1 ||
	    channel_number(dash + 1, len - (size_t)(dash - s) - 1, seq) == -1)
		return -1;
	return 0;
}

/* A retained message with its own copy of the bytes. */
struct channel_msg *
channel_msg_new(uint64_t seq, double t, int binary, const void *data,
    size_t len)
{
	struct channel_msg	*m;

	if ((m = malloc(sizeof(*m) + len)) == NULL)
		return NULL;
	memset(m, 0, sizeof(*m));
	m->seq = seq;
	m->t = t;
	m->binary = binary;
	m->len = len;
	if (len > 0)
		memcpy(m->data, data, len);
	return m;
}

/* Finds a message by the id its publisher gave it. */
int
channel_ring_find(const struct channel_ring *r, const char *id, size_t *at)
{
	size_t	i;

	if (*id == '\0')
		return -1;	/* ours have no origin */
	for (i = 0; i < r->n; i++)
		if (strcmp(channel_ring_at(r, i)->origin, id) == 0) {
			*at = i;
			return 0;
		}
	return -1;
}

/* An empty ring. */
void
channel_ring_init(struct channel_ring *r, uint64_t floor)
{
	memset(r, 0, sizeof(*r));
	r->floor = floor;
}

/* Frees the array; the caller owns the messages. */
void
channel_ring_free(struct channel_ring *r)
{
	free(r->v);
	r->v = NULL;
	r->cap = r->n = r->head = 0;
}

/* Appends, growing the ring (doubling, order kept) when full. */
int
channel_ring_push(struct channel_ring *r, struct channel_msg *m)
{
	struct channel_msg	**v;
	size_t			  cap, i;

	if (r->n == r->cap) {
		cap = r->cap == 0 ? 4 : r->cap * 2;
		if ((v = calloc(cap, sizeof(*v))) == NULL)
			return -1;
		for (i = 0; i < r->n; i++)
			v[i] = r->v[(r->head + i) % r->cap];
		free(r->v);
		r->v = v;
		r->cap = cap;
		r->head = 0;
	}
	r->v[(r->head + r->n) % r->cap] = m;
	r->n++;
	r->bytes += m->len;
	return 0;
}

/* Takes the oldest out: nothing at or below its seq is retained now. */
struct channel_msg *
channel_ring_pop(struct channel_ring *r)
{
	struct channel_msg	*m;

	if (r->n == 0)
		return NULL;
	m = r->v[r->head];
	r->v[r->head] = NULL;
	r->head = (r->head + 1) % r->cap;
	r->n--;
	r->bytes -= m->len;
	if (m->seq > r->floor)
		r->floor = m->seq;
	return m;
}

/* The i-th oldest. */
struct channel_msg *
channel_ring_at(const struct channel_ring *r, size_t i)
{
	return r->v[(r->head + i) % r->cap];
}

/* The newest. */
struct channel_msg *
channel_ring_last(const struct channel_ring *r)
{
	return r->n == 0 ? NULL : channel_ring_at(r, r->n - 1);
}

/* Binary search for the first message after seq. */
int
channel_ring_since(const struct channel_ring *r, uint64_t seq, uint64_t last,
    size_t *first)
{
	size_t	lo = 0, hi = r->n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (channel_ring_at(r, mid)->seq <= seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	*first = lo;
	return seq < r->floor || seq > last;
}

/* Case-insensitive: s starts with the media type t, whole. */
static int
channel_type_is(const char *s, size_t len, const char *t)
{
	size_t	n = strlen(t);

	return len >= n && strncasecmp(s, t, n) == 0 &&
	    (len == n || s[n] == ';' || s[n] == ' ' || s[n] == '\t');
}

/* What a Content-Type says the body is. */
enum channel_kind
channel_kind_of(const char *ctype, size_t len)
{
	if (len >= 5 && strncasecmp(ctype, "text/", 5) == 0)
		return CHANNEL_TEXT;
	if (channel_type_is(ctype, len, "application/x-www-form-urlencoded"))
		return CHANNEL_TEXT;
	if (channel_type_is(ctype, len, "application/json"))
		return CHANNEL_JSON;
	return CHANNEL_BINARY;
}

/* 1 if the bytes are exactly one JSON value. */
int
channel_json_valid(const void *data, size_t len)
{
	json_t		*v;
	json_error_t	 err;

	if ((v = json_loadb(data, len, JSON_DECODE_ANY, &err)) == NULL)
		return 0;
	json_decref(v);
	return 1;
}

/* Base64 of len bytes, malloc'd and NUL-terminated; its length in *n. */
static char *
channel_base64(const void *data, size_t len, size_t *n)
{
	char	*out;
	int	 k;

	if (len > (SIZE_MAX / 4) * 3 - 3 || len > INT32_MAX)
		return NULL;
	if ((out = malloc((len + 2) / 3 * 4 + 1)) == NULL)
		return NULL;
	k = EVP_EncodeBlock((unsigned char *)out, data, (int)len);
	if (k < 0) {
		free(out);
		return NULL;
	}
	*n = (size_t)k;
	return out;
}

/* A compact JSON text of v (taking v), malloc'd. */
static char *
channel_json_dump(json_t *v, size_t *outlen)
{
	char	*s;

	if (v == NULL)
		return NULL;
	s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(v);
	if (s != NULL)
		*outlen = strlen(s);
	return s;
}

/* {"channel":..,"id":..,"data":..}. */
char *
channel_envelope(const char *channel, const char *id, enum channel_kind kind,
    const void *data, size_t len, size_t *outlen)
{
	json_t		*o, *d = NULL;
	json_error_t	 err;
	char		*b64;
	size_t		 n;

	switch (kind) {
	case CHANNEL_JSON:
		d = json_loadb(data, len, JSON_DECODE_ANY, &err);
		break;
	case CHANNEL_TEXT:
		d = json_stringn(data, len);
		break;
	case CHANNEL_BINARY:
		if ((b64 = channel_base64(data, len, &n)) == NULL)
			return NULL;
		d = json_stringn(b64, n);
		free(b64);
		break;
	}
	if (d == NULL)
		return NULL;
	if ((o = json_object()) == NULL) {
		json_decref(d);
		return NULL;
	}
	if (json_object_set_new(o, "channel", json_string(channel)) == -1 ||
	    json_object_set_new(o, "id", json_string(id)) == -1 ||
	    json_object_set_new(o, "data", d) == -1 ||
	    (kind == CHANNEL_BINARY &&
	    json_object_set_new(o, "binary", json_true()) == -1)) {
		json_decref(o);
		return NULL;
	}
	return channel_json_dump(o, outlen);
}

/* {"type":"reset","channel":..}. */
char *
channel_envelope_reset(const char *channel, size_t *outlen)
{
	return channel_json_dump(json_pack("{s:s,s:s}", "type", "reset",
	    "channel", channel), outlen);
}

/* Appends len bytes at *p. */
static char *
channel_put(char *p, const void *s, size_t len)
{
	memcpy(p, s, len);
	return p + len;
}

/* The id field of an event of ours: the last line before the blank one. */
int
channel_sse_id(const char *ev, size_t len, char out[CHANNEL_ID_MAX])
{
	const char	*end, *line;
	uint64_t	 epoch, seq;
	size_t		 n;

	if (len < 2 || ev[len - 1] != '\n' || ev[len - 2] != '\n')
		return -1;
	end = ev + len - 2;
	for (line = end; line > ev && line[-1] != '\n'; line--)
		;
	n = (size_t)(end - line);
	if (n < 4 || memcmp(line, "id: ", 4) != 0 || n - 4 >= CHANNEL_ID_MAX ||
	    channel_id_parse(line + 4, n - 4, &epoch, &seq) == -1)
		return -1;
	memcpy(out, line + 4, n - 4);
	out[n - 4] = '\0';
	return 0;
}

/* The event: its fields, data lines split at CR, LF and CRLF. */
char *
channel_sse_event(const char *id, const char *event, int binary,
    const void *data, size_t len, size_t *outlen)
{
	const uint8_t	*d = data, *end = d + len, *eol;
	char		*out, *p, *b64 = NULL;
	size_t		 lines = 1, i, room, n;

	if (binary) {
		if ((b64 = channel_base64(data, len, &n)) == NULL)
			return NULL;
		d = (const uint8_t *)b64;
		end = d + n;
		event = "binary";
	} else
		for (i = 0; i < len; i++)
			if (d[i] == '\n' || d[i] == '\r')
				lines++;
	/* "data: " and "\n" per line, the fields, the empty line. */
	room = (size_t)(end - d) + lines * 7 + 1;
	if (id != NULL)
		room += strlen(id) + 5;
	if (event != NULL)
		room += strlen(event) + 8;
	if ((out = malloc(room)) == NULL) {
		free(b64);
		return NULL;
	}
	p = out;
	if (event != NULL) {
		p = channel_put(p, "event: ", 7);
		p = channel_put(p, event, strlen(event));
		*p++ = '\n';
	}
	for (;;) {
		for (eol = d; eol < end && *eol != '\n' && *eol != '\r'; eol++)
			;
		p = channel_put(p, "data: ", 6);
		p = channel_put(p, d, (size_t)(eol - d));
		*p++ = '\n';
		if (eol == end)
			break;
		d = eol + 1;
		if (*eol == '\r' && d < end && *d == '\n')
			d++;
	}
	/* The id last: EventSource records it once the event is whole. */
	if (id != NULL) {
		p = channel_put(p, "id: ", 4);
		p = channel_put(p, id, strlen(id));
		*p++ = '\n';
	}
	*p++ = '\n';
	free(b64);
	*outlen = (size_t)(p - out);
	return out;
}
