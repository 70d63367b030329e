/* pmd.h -- permessage-deflate (RFC 7692): negotiation and zlib streams. */
#ifndef WSD_PMD_H
#define WSD_PMD_H

#include <stddef.h>
#include <stdint.h>

struct http_request;

/*
 * Memory settings, as python-websockets' serve() has them: our compressor
 * uses at most a 4 KiB window (server_max_window_bits=12, announced in
 * every response) and memLevel 5; clients that offer client_max_window_bits
 * are asked for at most 12 too. A deflater then costs about 38 KiB, an
 * inflater about 11 KiB (32 KiB more with a 15-bit client window): per
 * connection with context takeover, once per loop and window size for
 * pooled state (pmd_new()).
 */
#define PMD_SERVER_WBITS	12
#define PMD_CLIENT_WBITS	12
#define PMD_MEM_LEVEL		5
/* Longest response value pmd_negotiate() writes, plus NUL. */
#define PMD_RESPONSE_MAX	160

/* The agreed parameters of one connection. */
struct pmd_params {
	int	server_no_context_takeover;	/* our compressor resets */
	int	client_no_context_takeover;	/* the peer's compressor resets */
	int	server_max_window_bits;		/* 9..15, our window */
	int	client_max_window_bits;		/* 8..15, the peer's window */
};

/* pmd_inflate() and pmd_deflate() results. */
#define PMD_OK		0
#define PMD_ERROR	(-1)	/* invalid compressed data, out of memory */
#define PMD_TOO_BIG	(-2)	/* inflated message over the limit */
#define PMD_ABORT	(-3)	/* the sink said stop */

/*
 * Picks the first acceptable permessage-deflate offer of a value of
 * Sec-WebSocket-Extensions (RFC 7692 5, 7.1): offers are comma-separated,
 * parameters follow ';', values may be quoted. An offer with an unknown,
 * repeated or invalid parameter is declined, and so is one asking for
 * server_max_window_bits=8, which zlib cannot produce. With shared set
 * (compression = shared) the response adds server_no_context_takeover
 * and client_no_context_takeover whatever the offer said, so that no
 * compression state outlives a message in either direction. Returns 1
 * with the parameters and the response value, 0 when nothing was
 * acceptable.
 */
int	pmd_negotiate_value(const char *value, size_t len, int shared,
	    struct pmd_params *params, char resp[PMD_RESPONSE_MAX]);

/* Same over every Sec-WebSocket-Extensions line of a request, in order. */
int	pmd_negotiate(const struct http_request *req, int shared,
	    struct pmd_params *params, char resp[PMD_RESPONSE_MAX]);

/*
 * Per-connection compression state. The zlib streams are created when the
 * first message needs them; a stream without context takeover is freed
 * after each message. With pooled set, a direction without context
 * takeover uses instead the loop's stream for its window size (created
 * once, reset per message, never freed before pmd_pool_free()), so the
 * connection holds no zlib memory at all: a compressed message that
 * comes in pieces is then kept compressed until its last piece and
 * inflated in one go, as the shared stream cannot wait for a peer.
 */
struct pmd;

struct pmd	*pmd_new(const struct pmd_params *params, int pooled);
void		 pmd_free(struct pmd *z);
const struct pmd_params *pmd_params(const struct pmd *z);

/* Called with each piece of inflated data; nonzero stops inflating. */
typedef int	(*pmd_sink_fn)(void *arg, const uint8_t *data, size_t len);

/*
 * Inflates one piece of a compressed message's payload; fin marks the last
 * piece, after which the RFC 7692 7.2.2 tail 00 00 ff ff is inflated too.
 * The inflated bytes of the message are counted as they come out: more
 * than max (0: no limit) stops with PMD_TOO_BIG before the sink sees them.
 */
int	pmd_inflate(struct pmd *z, const uint8_t *in, size_t len, int fin,
	    uint64_t max, pmd_sink_fn sink, void *arg);

/* Room pmd_deflate() may need for a message of len bytes. */
size_t	pmd_deflate_bound(size_t len);

/* Frees the loop's pooled streams (at exit; they come back on demand). */
void	pmd_pool_free(void);

/*
 * Compresses one whole message into out (cap >= pmd_deflate_bound(len))
 * and strips the trailing 00 00 ff ff (RFC 7692 7.2.1). Returns PMD_OK
 * with the length in *outlen, or PMD_ERROR.
 */
int	pmd_deflate(struct pmd *z, const uint8_t *in, size_t len,
	    uint8_t *out, size_t cap, size_t *outlen);

#endif
