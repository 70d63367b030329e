/* access.h -- who may use a route: origins, bearer tokens, message rate. */
#ifndef WSD_ACCESS_H
#define WSD_ACCESS_H

#include <stddef.h>

struct http_request;
struct jwt_claims;
struct jwt_key;
struct wsd_config;

/* Longest serialised origin we keep or compare, NUL included. */
#define ACCESS_ORIGIN_MAX	256
/* Longest token accepted in a token file or a request. */
#define ACCESS_TOKEN_MAX	1024

/*
 * Serialises an origin "scheme://host[:port]" as RFC 6454 6.2 does: scheme
 * and host in lower case, the scheme's default port (http and ws 80,
 * https and wss 443) left out. Returns 0 with the result in out, or -1
 * with *why (a static string) when s is not such an origin. Pure.
 */
int	access_origin_serialise(const char *s, size_t len, char *out,
	    size_t outcap, const char **why);

/*
 * The Origin rule of a route: with no origins (n 0) every Origin is
 * allowed; otherwise the request's Origin must serialise to one of them.
 * A request without Origin is allowed unless require is set; one with
 * several Origin headers is treated as not listed. Returns 1 when
 * allowed, else 0 with *why. Pure.
 */
int	access_origin_check(const struct http_request *req,
	    char *const *origins, size_t n, int require, const char **why);

/*
 * The tokens of an auth_token_file, kept as SHA-256 digests so that
 * every comparison runs over 32 bytes, whatever the token's length.
 */
struct access_tokens {
	unsigned char	(*digest)[32];
	size_t		 n;
};

/*
 * Parses the text of a token file: one token per line, surrounding white
 * space ignored, blank lines and lines starting with '#' skipped. A token
 * is 1 to ACCESS_TOKEN_MAX printable ASCII characters without spaces.
 * Returns the tokens, or NULL with *cause ("line N: ...", caller frees)
 * when a line is bad or there is no token at all. Pure.
 */
struct access_tokens *access_tokens_parse(const char *text, size_t len,
	    char **cause);

/* Reads and parses a token file; NULL with *cause (caller frees). */
struct access_tokens *access_tokens_load(const char *path, char **cause);

void	access_tokens_free(struct access_tokens *t);

/*
 * 1 if the request carries one of the tokens, in an "Authorization:
 * Bearer TOKEN" header or a "token" query parameter (percent-decoded),
 * else 0. Every candidate is compared with every token in constant time
 * (CRYPTO_memcmp of digests), without stopping at the first match. Pure.
 */
int	access_token_check(const struct access_tokens *t,
	    const struct http_request *req);

/* Reads and parses a JWT key file (jwt_key_parse); NULL with *cause. */
struct jwt_key *access_jwt_key_load(const char *path, char **cause);

/*
 * The claims of the first valid JWT (jwt_verify with key at wall-clock
 * time now, leeway seconds) that the request carries where tokens go:
 * "Authorization: Bearer" or a "token" query parameter. NULL with *why
 * ("missing token", "token expired", ...: a refusal's reason, from the
 * first candidate) when none is valid. Pure.
 */
struct jwt_claims *access_jwt_check(const struct jwt_key *key,
	    const struct http_request *req, double now, double leeway,
	    const char **why);

/*
 * Copies a request target into out (NUL-terminated, cut to outcap) with
 * the value of every "token" query parameter replaced by "***", for log
 * lines. Returns the length of the whole result, like snprintf. Pure.
 */
size_t	access_target_redact(const char *target, size_t len, char *out,
	    size_t outcap);

/*
 * A token bucket for max_messages_per_second: it holds up to rate
 * messages and refills at rate per second, so a client may send rate
 * messages at once, then rate per second on average.
 */
struct access_rate {
	double		 tokens;
	double		 last;		/* seconds, monotonic */
};

/* Fills the bucket at time now. Pure. */
void	access_rate_init(struct access_rate *r, unsigned rate, double now);
/* Refills the bucket up to time now (at most rate tokens). Pure. */
void	access_rate_refill(struct access_rate *r, unsigned rate, double now);
/* Takes one message at time now: 0 when allowed, -1 over the rate. Pure. */
int	access_rate_take(struct access_rate *r, unsigned rate, double now);

#endif
