/* pmd.c -- permessage-deflate (RFC 7692): negotiation and zlib streams. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <zlib.h>

#include "http.h"
#include "pmd.h"

/* RFC 7692 7.2.1: what a sync flush ends with, stripped on the wire. */
static const uint8_t pmd_tail[4] = { 0x00, 0x00, 0xff, 0xff };

/* Inflated bytes handed to the sink at a time. */
#define PMD_CHUNK	16384

struct pmd {
	struct pmd_params	 params;
	int			 pooled;	/* no-context streams: the loop's */
	z_stream		*def;		/* pooled: lent for one call */
	z_stream		*inf;
	uint64_t		 inf_total;	/* inflated bytes of the message */
	uint64_t		 inf_in;	/* its compressed bytes */
	int			 inf_ended;	/* BFINAL block seen */
	uint8_t			*zin;		/* pooled: pieces held until fin */
	size_t			 zin_len;
	size_t			 zin_cap;
};

/*
 * The loop's streams for connections without context takeover, by window
 * bits 8..15: created on first use, reset before each message. Only one
 * message uses a stream at a time (a whole one per call), so one per
 * window size serves every connection of the loop; per thread, so that
 * each loop of a future worker has its own.
 */
#define PMD_POOL_N	8
static _Thread_local z_stream	*pmd_pool_def[PMD_POOL_N];
static _Thread_local z_stream	*pmd_pool_inf[PMD_POOL_N];

/* What one offer asked for while it is being parsed. */
struct pmd_offer {
	int	is_pmd;
	int	bad;
	int	snct;		/* server_no_context_takeover, 0/1 */
	int	cnct;
	int	smwb;		/* 0: absent */
	int	cmwb;		/* 0: absent, -1: without a value */
};

/* Skips optional white space. */
static void
pmd_ows(const char *s, size_t len, size_t *pos)
{
	while (*pos < len && (s[*pos] == ' ' || s[*pos] == '\t'))
		(*pos)++;
}

/* Reads a token; returns its length (0: none). */
static size_t
pmd_token(const char *s, size_t len, size_t *pos)
{
	size_t	start = *pos;

	while (*pos < len && http_is_tchar((unsigned char)s[*pos]))
		(*pos)++;
	return *pos - start;
}

/*
 * Reads a quoted-string and unescapes it into out (cut at outcap - 1, which
 * only makes an overlong value invalid). -1 when it is not terminated.
 */
static int
pmd_quoted(const char *s, size_t len, size_t *pos, char *out, size_t outcap,
    size_t *outlen)
{
	size_t	n = 0;
	char	c;

	(*pos)++;	/* the opening quote */
	while (*pos < len) {
		c = s[(*pos)++];
		if (c == '"') {
			*outlen = n;
			return 0;
		}
		if (c == '\\') {
			if (*pos == len)
				return -1;
			c = s[(*pos)++];
		}
		if (n + 1 < outcap)
			out[n] = c;
		n++;
	}
	return -1;
}

/* Moves past the rest of a bad offer: to the next comma outside quotes. */
static void
pmd_skip_offer(const char *s, size_t len, size_t *pos)
{
	int	quoted = 0;

	while (*pos < len) {
		if (quoted && s[*pos] == '\\')
			(*pos)++;
		else if (s[*pos] == '"')
			quoted = !quoted;
		else if (!quoted && s[*pos] == ',')
			return;
		if (*pos < len)
			(*pos)++;
	}
}

/* RFC 7692 7.1.2: window bits are "8" to "15", no sign, no leading zero. */
static int
pmd_window_bits(const char *v, size_t len)
{
	if (len == 1 && (v[0] == '8' || v[0] == '9'))
		return v[0] - '0';
	if (len == 2 && v[0] == '1' && v[1] >= '0' && v[1] <= '5')
		return 10 + v[1] - '0';
	return 0;
}

/* 1 if the token s/len is name, compared case-insensitively. */
static int
pmd_is(const char *s, size_t len, const char *name)
{
	return strlen(name) == len && strncasecmp(s, name, len) == 0;
}

/* Applies one parameter to an offer; duplicates and bad values spoil it. */
static void
pmd_param(struct pmd_offer *o, const char *name, size_t nlen,
    const char *value, size_t vlen, int has_value)
{
	int	bits = has_value ? pmd_window_bits(value, vlen) : 0;

	/* RFC 7692 7.1: each parameter at most once, with a valid value. */
	if (pmd_is(name, nlen, "server_no_context_takeover")) {
		if (has_value || o->snct)
			o->bad = 1;
		o->snct = 1;
	} else if (pmd_is(name, nlen, "client_no_context_takeover")) {
		if (has_value || o->cnct)
			o->bad = 1;
		o->cnct = 1;
	} else if (pmd_is(name, nlen, "server_max_window_bits")) {
		if (!has_value || bits == 0 || o->smwb != 0)
			o->bad = 1;
		o->smwb = bits ? bits : -1;
	} else if (pmd_is(name, nlen, "client_max_window_bits")) {
		/* RFC 7692 7.1.2.2: the value is optional in an offer. */
		if ((has_value && bits == 0) || o->cmwb != 0)
			o->bad = 1;
		o->cmwb = bits ? bits : -1;
	} else
		o->bad = 1;	/* RFC 7692 7.1: unknown parameter */
}

/*
 * Parses one offer starting at *pos (a token and its parameters) up to the
 * comma that ends it or the end of the value.
 */
static void
pmd_offer_parse(const char *s, size_t len, size_t *pos, struct pmd_offer *o)
{
	const char	*name, *value;
	char		 qbuf[32];
	size_t		 nlen, vlen;
	int		 has_value;

	memset(o, 0, sizeof(*o));
	name = s + *pos;
	if ((nlen = pmd_token(s, len, pos)) == 0) {
		o->bad = 1;
		pmd_skip_offer(s, len, pos);
		return;
	}
	o->is_pmd = pmd_is(name, nlen, "permessage-deflate");
	for (;;) {
		pmd_ows(s, len, pos);
		if (*pos == len || s[*pos] == ',')
			return;
		if (s[*pos] != ';')
			break;
		(*pos)++;
		pmd_ows(s, len, pos);
		name = s + *pos;
		if ((nlen = pmd_token(s, len, pos)) == 0)
			break;
		pmd_ows(s, len, pos);
		has_value = 0;
		value = NULL;
		vlen = 0;
		if (*pos < len && s[*pos] == '=') {
			(*pos)++;
			pmd_ows(s, len, pos);
			has_value = 1;
			if (*pos < len && s[*pos] == '"') {
				/* RFC 6455 9.1: unquoted, still a token. */
				if (pmd_quoted(s, len, pos, qbuf, sizeof(qbuf),
				    &vlen) == -1 || vlen == 0 ||
				    vlen >= sizeof(qbuf) ||
				    !http_token_valid(qbuf, vlen))
					break;
				value = qbuf;
			} else {
				value = s + *pos;
				if ((vlen = pmd_token(s, len, pos)) == 0)
					break;
			}
		}
		pmd_param(o, name, nlen, value, vlen, has_value);
	}
	o->bad = 1;
	pmd_skip_offer(s, len, pos);
}

/* Fills the parameters and the response for an acceptable offer. */
static int
pmd_accept(const struct pmd_offer *o, int shared, struct pmd_params *p,
    char resp[PMD_RESPONSE_MAX])
{
	int	n;

	/* zlib has no 256-byte window for raw deflate: decline, do not lie. */
	if (o->smwb == 8)
		return 0;
	memset(p, 0, sizeof(*p));
	/*
	 * RFC 7692 7.1.1.1: a server may add server_no_context_takeover to
	 * any response; 7.1.1.2: "A server MAY include the
	 * client_no_context_takeover extension parameter in an extension
	 * negotiation response", offered or not. Shared: both, always.
	 */
	p->server_no_context_takeover = o->snct || shared;
	p->client_no_context_takeover = o->cnct || shared;
	/* RFC 7692 7.1.2.1: we may always announce a smaller window. */
	p->server_max_window_bits = o->smwb != 0 && o->smwb < PMD_SERVER_WBITS ?
	    o->smwb : PMD_SERVER_WBITS;
	/* RFC 7692 7.1.2.2: only a client that offered it can be limited. */
	if (o->cmwb == 0)
		p->client_max_window_bits = 15;
	else if (o->cmwb == -1 || o->cmwb > PMD_CLIENT_WBITS)
		p->client_max_window_bits = PMD_CLIENT_WBITS;
	else
		p->client_max_window_bits = o->cmwb;
	n = snprintf(resp, PMD_RESPONSE_MAX, "permessage-deflate%s%s"
	    "; server_max_window_bits=%d", p->server_no_context_takeover ?
	    "; server_no_context_takeover" : "", p->client_no_context_takeover ?
	    "; client_no_context_takeover" : "", p->server_max_window_bits);
	if (o->cmwb != 0)
		snprintf(resp + n, PMD_RESPONSE_MAX - (size_t)n,
		    "; client_max_window_bits=%d", p->client_max_window_bits);
	return 1;
}

/* Picks the first acceptable offer of one header value. */
int
pmd_negotiate_value(const char *s, size_t len, int shared,
    struct pmd_params *p, char resp[PMD_RESPONSE_MAX])
{
	struct pmd_offer	o;
	size_t			pos = 0;

	for (;;) {
		pmd_ows(s, len, &pos);
		if (pos == len)
			return 0;
		if (s[pos] == ',') {
			/* RFC 7230 7: empty list elements are allowed. */
			pos++;
			continue;
		}
		pmd_offer_parse(s, len, &pos, &o);
		if (o.is_pmd && !o.bad && pmd_accept(&o, shared, p, resp))
			return 1;
	}
}

/* Picks the first acceptable offer over every extensions header line. */
int
pmd_negotiate(const struct http_request *req, int shared,
    struct pmd_params *p, char resp[PMD_RESPONSE_MAX])
{
	const struct http_header	*h = NULL;

	while ((h = http_header_next(req, "Sec-WebSocket-Extensions", h)) !=
	    NULL) {
		if (pmd_negotiate_value(h->value, h->value_len, shared, p,
		    resp))
			return 1;
	}
	return 0;
}

/* Creates the state of one connection; the streams come later. */
struct pmd *
pmd_new(const struct pmd_params *params, int pooled)
{
	struct pmd	*z;

	if ((z = calloc(1, sizeof(*z))) == NULL)
		return NULL;
	z->params = *params;
	z->pooled = pooled;
	return z;
}

/* Ends and frees one stream. */
static void
pmd_stream_free(z_stream *s, int deflating)
{
	if (s == NULL)
		return;
	if (deflating)
		deflateEnd(s);
	else
		inflateEnd(s);
	free(s);
}

/* A new raw deflate (or inflate) stream with wbits; NULL without memory. */
static z_stream *
pmd_stream_new(int deflating, int wbits)
{
	z_stream	*s;
	int		 rc;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	if (deflating)
		rc = deflateInit2(s, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -wbits,
		    PMD_MEM_LEVEL, Z_DEFAULT_STRATEGY);
	else
		rc = inflateInit2(s, -wbits);
	if (rc != Z_OK) {
		free(s);
		return NULL;
	}
	return s;
}

/*
 * The loop's stream for a window size, ready for a new message: created
 * on first use, reset (same window bits) afterwards.
 */
static z_stream *
pmd_pool_get(int deflating, int wbits)
{
	z_stream	**slot = deflating ? &pmd_pool_def[wbits - 8] :
			    &pmd_pool_inf[wbits - 8];
	int		  rc;

	if (*slot == NULL)
		return *slot = pmd_stream_new(deflating, wbits);
	rc = deflating ? deflateReset(*slot) : inflateReset(*slot);
	if (rc != Z_OK) {
		pmd_stream_free(*slot, deflating);
		*slot = NULL;
	}
	return *slot;
}

/* Drops the loop's stream for a window size after a failure. */
static void
pmd_pool_drop(int deflating, int wbits)
{
	z_stream	**slot = deflating ? &pmd_pool_def[wbits - 8] :
			    &pmd_pool_inf[wbits - 8];

	pmd_stream_free(*slot, deflating);
	*slot = NULL;
}

/* Frees the loop's pooled streams. */
void
pmd_pool_free(void)
{
	int	i;

	for (i = 0; i < PMD_POOL_N; i++) {
		pmd_pool_drop(1, i + 8);
		pmd_pool_drop(0, i + 8);
	}
}

/* Whether inflating uses the pool: the peer resets every message. */
static int
pmd_inf_pooled(const struct pmd *z)
{
	return z->pooled && z->params.client_no_context_takeover;
}

/* Whether deflating uses the pool: we reset every message. */
static int
pmd_def_pooled(const struct pmd *z)
{
	return z->pooled && z->params.server_no_context_takeover;
}

/* Frees the inflater (a pooled one only goes back to the pool). */
static void
pmd_inf_free(struct pmd *z)
{
	if (!pmd_inf_pooled(z))
		pmd_stream_free(z->inf, 0);
	z->inf = NULL;
}

/* Frees the deflater. */
static void
pmd_def_free(struct pmd *z)
{
	pmd_stream_free(z->def, 1);
	z->def = NULL;
}

/* Frees the state and its streams. */
void
pmd_free(struct pmd *z)
{
	if (z == NULL)
		return;
	pmd_inf_free(z);
	pmd_def_free(z);
	free(z->zin);
	free(z);
}

/* The agreed parameters. */
const struct pmd_params *
pmd_params(const struct pmd *z)
{
	return &z->params;
}

/* Ends a message on the inflating side: reset or free per the params. */
static void
pmd_inflate_end(struct pmd *z)
{
	z->inf_total = 0;
	z->inf_in = 0;
	if (pmd_inf_pooled(z)) {
		/* The stream goes back; the pool resets it before reuse. */
		z->inf = NULL;
		free(z->zin);
		z->zin = NULL;
		z->zin_len = z->zin_cap = 0;
	} else if (z->inf != NULL &&
	    (z->inf_ended || z->params.client_no_context_takeover)) {
		/* A new message starts a new stream (RFC 7692 7.2.2). */
		pmd_inf_free(z);
	}
	z->inf_ended = 0;
}

/* Runs inflate over in, feeding the sink; see pmd_inflate(). */
static int
pmd_inflate_run(struct pmd *z, const uint8_t *in, size_t len, uint64_t max,
    pmd_sink_fn sink, void *arg)
{
	uint8_t	 buf[PMD_CHUNK];
	size_t	 have;
	uInt	 before;
	int	 rc;

	z->inf->next_in = (Bytef *)(uintptr_t)in;
	z->inf->avail_in = (uInt)len;
	for (;;) {
		if (z->inf_ended)	/* nothing may follow the final block */
			return z->inf->avail_in > 0 ? PMD_ERROR : PMD_OK;
		z->inf->next_out = buf;
		z->inf->avail_out = sizeof(buf);
		before = z->inf->avail_in;
		rc = inflate(z->inf, Z_SYNC_FLUSH);
		if (rc == Z_STREAM_END)
			z->inf_ended = 1;
		else if (rc != Z_OK && rc != Z_BUF_ERROR)
			return PMD_ERROR;
		have = sizeof(buf) - z->inf->avail_out;
		if (have > 0) {
			/* The limit is checked before the bytes go anywhere. */
			if (max != 0 && have > max - z->inf_total)
				return PMD_TOO_BIG;
			z->inf_total += have;
			if (sink(arg, buf, have) != 0)
				return PMD_ABORT;
		}
		/* Done once the input is in and no output is pending. */
		if (z->inf->avail_in == 0 && z->inf->avail_out != 0)
			return PMD_OK;
		if (have == 0 && z->inf->avail_in == before)
			return PMD_ERROR;	/* no progress */
	}
}

/* Keeps a piece of a pooled message until its last piece comes. */
static int
pmd_inflate_hold(struct pmd *z, const uint8_t *in, size_t len)
{
	uint8_t	*p;
	size_t	 cap;

	if (len == 0)
		return PMD_OK;
	if (len > z->zin_cap - z->zin_len) {
		if (len > SIZE_MAX / 2 - z->zin_len)
			return PMD_ERROR;
		cap = z->zin_cap ? z->zin_cap : 1024;
		while (cap - z->zin_len < len)
			cap *= 2;
		if ((p = realloc(z->zin, cap)) == NULL)
			return PMD_ERROR;
		z->zin = p;
		z->zin_cap = cap;
	}
	memcpy(z->zin + z->zin_len, in, len);
	z->zin_len += len;
	return PMD_OK;
}

/* Inflates one piece of a compressed message. */
int
pmd_inflate(struct pmd *z, const uint8_t *in, size_t len, int fin,
    uint64_t max, pmd_sink_fn sink, void *arg)
{
	int	rc;

	/*
	 * An empty payload is an empty message: the tail alone is no valid
	 * block, and a stream left waiting in it would garble the next one.
	 */
	z->inf_in += len;
	if (fin && z->inf_in == 0) {
		pmd_inflate_end(z);
		return PMD_OK;
	}
	if (pmd_inf_pooled(z)) {
		/* The loop's stream serves whole messages only. */
		if (!fin || z->zin_len > 0) {
			if (pmd_inflate_hold(z, in, len) != PMD_OK) {
				pmd_inflate_end(z);
				return PMD_ERROR;
			}
			if (!fin)
				return PMD_OK;
			in = z->zin;
			len = z->zin_len;
		}
		z->inf = pmd_pool_get(0, z->params.client_max_window_bits);
		if (z->inf == NULL) {
			pmd_inflate_end(z);
			return PMD_ERROR;
		}
		z->inf_ended = 0;
	} else if (z->inf == NULL) {
		z->inf = pmd_stream_new(0, z->params.client_max_window_bits);
		if (z->inf == NULL)
			return PMD_ERROR;
		z->inf_ended = 0;
	}
	rc = pmd_inflate_run(z, in, len, max, sink, arg);
	/* RFC 7692 7.2.2: the tail the sender stripped, unless it ended. */
	if (rc == PMD_OK && fin && !z->inf_ended)
		rc = pmd_inflate_run(z, pmd_tail, sizeof(pmd_tail), max, sink,
		    arg);
	if (rc != PMD_OK || fin)
		pmd_inflate_end(z);
	return rc;
}

/* Room pmd_deflate() may need. */
size_t
pmd_deflate_bound(size_t len)
{
	/* zlib's deflateBound() for non-default settings, plus the flush. */
	return len + (len >> 3) + (len >> 6) + 64;
}

/* Compresses one whole message. */
int
pmd_deflate(struct pmd *z, const uint8_t *in, size_t len, uint8_t *out,
    size_t cap, size_t *outlen)
{
	int	pooled = pmd_def_pooled(z), wbits;
	size_t	n;
	int	rc;

	/*
	 * An empty message is one empty stored block: zlib refuses a second
	 * flush in a row, and 00 plus the tail inflates to nothing.
	 */
	if (len == 0) {
		if (cap < 1)
			return PMD_ERROR;
		out[0] = 0x00;
		*outlen = 1;
		return PMD_OK;
	}
	wbits = z->params.server_max_window_bits;
	if (pooled)
		z->def = pmd_pool_get(1, wbits);
	else if (z->def == NULL)
		z->def = pmd_stream_new(1, wbits);
	if (z->def == NULL)
		return PMD_ERROR;
	z->def->next_in = (Bytef *)(uintptr_t)in;
	z->def->avail_in = (uInt)len;
	z->def->next_out = out;
	z->def->avail_out = (uInt)cap;
	rc = deflate(z->def, Z_SYNC_FLUSH);
	n = cap - z->def->avail_out;
	if ((rc != Z_OK && rc != Z_BUF_ERROR) || z->def->avail_in != 0 ||
	    z->def->avail_out == 0 || n < sizeof(pmd_tail) ||
	    memcmp(out + n - sizeof(pmd_tail), pmd_tail,
	    sizeof(pmd_tail)) != 0) {
		if (pooled) {
			pmd_pool_drop(1, wbits);
			z->def = NULL;
		} else
			pmd_def_free(z);
		return PMD_ERROR;
	}
	/* RFC 7692 7.2.1: the sync flush marker is not sent. */
	*outlen = n - sizeof(pmd_tail);
	if (pooled)
		z->def = NULL;		/* back to the pool */
	else if (z->params.server_no_context_takeover)
		pmd_def_free(z);
	return PMD_OK;
}
