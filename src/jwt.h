/* jwt.h -- signed tokens (RFC 7519 JWTs in the RFC 7515 compact form). */
#ifndef WSD_JWT_H
#define WSD_JWT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* The algorithms we verify (RFC 7518 3.1); "none" is never one of them. */
enum jwt_alg {
	JWT_HS256 = 1,		/* HMAC SHA-256, a shared secret */
	JWT_RS256,		/* RSASSA-PKCS1-v1_5 SHA-256, RSA public key */
	JWT_ES256,		/* ECDSA P-256 SHA-256, EC public key */
};

/* Longest token looked at, in bytes; longer ones are refused unread. */
#define JWT_TOKEN_MAX		8192
/* Shortest HS256 secret: RFC 7518 3.2, a key as long as the hash. */
#define JWT_SECRET_MIN		32
/* Default leeway for exp and nbf, seconds (clocks are not in step). */
#define JWT_LEEWAY_DEFAULT	30

/* A verification key; what it is decides the one algorithm accepted. */
struct jwt_key;

/*
 * Parses the text of a key file: a PEM public key ("-----BEGIN PUBLIC
 * KEY-----"; RSA of 2048 bits or more for RS256, EC P-256 for ES256), or
 * else an HS256 secret, the file's bytes less trailing white space, at
 * least JWT_SECRET_MIN of them. NULL with *cause (caller frees) when the
 * text is neither. Pure.
 */
struct jwt_key	*jwt_key_parse(const char *text, size_t len, char **cause);
void		 jwt_key_free(struct jwt_key *key);
/* The algorithm a key verifies. */
enum jwt_alg	 jwt_key_alg(const struct jwt_key *key);
/* "HS256", "RS256" or "ES256". */
const char	*jwt_alg_name(enum jwt_alg alg);

/* What wsd uses of a verified token's claims. */
struct jwt_claims {
	int64_t		 exp;		/* seconds since the epoch */
	int64_t		 nbf;
	char		*sub;		/* NULL: none */
	char		**channels;	/* patterns, see jwt_allows_channel */
	size_t		 nchannels;
	unsigned	 has_exp:1;
	unsigned	 has_nbf:1;
	unsigned	 has_channels:1;
};

/*
 * Verifies a compact JWS "header.payload.signature" with key at time now
 * (seconds since the epoch), allowing leeway seconds either way for exp
 * (RFC 7519 4.1.4: refused once now >= exp + leeway) and nbf (4.1.5:
 * refused while now + leeway < nbf). The header's alg must be the key's;
 * a header with "crit" is refused (RFC 7515 4.1.11: we understand no
 * extension). exp and nbf must be numbers; channels, when present, a
 * list of strings. Returns 0 with *claims (free with jwt_claims_free),
 * or -1 with *why, a static string fit for a log line. Pure.
 */
int	jwt_verify(const struct jwt_key *key, const char *token, size_t len,
	    double now, double leeway, struct jwt_claims **claims,
	    const char **why);
void	jwt_claims_free(struct jwt_claims *claims);

/*
 * 1 if name matches pattern, where '*' stands for any run of characters
 * (none included) and every other character for itself. Pure.
 */
int	jwt_channel_match(const char *pattern, const char *name);
/*
 * Whether a token lets its holder subscribe to or publish on a channel:
 * 1 when its channels claim has a pattern matching channel, or when it
 * has no channels claim at all (the token then limits nothing); 0 for a
 * claim that lists no match (an empty list allows nothing) and for
 * NULL claims (no token). Pure.
 */
int	jwt_allows_channel(const struct jwt_claims *claims,
	    const char *channel);

/*
 * Decodes base64url without padding (RFC 7515 2, RFC 4648 5) into out,
 * which holds at least len * 3 / 4 + 3 bytes. Returns the length, or -1
 * for a character outside the alphabet or an impossible length. Pure.
 */
int	jwt_b64url_decode(const char *s, size_t len, unsigned char *out);

#endif
