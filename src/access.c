/* access.c -- who may use a route: origins, bearer tokens, message rate. */
#include <sys/types.h>
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "access.h"
#include "config.h"
#include "http.h"
#include "jwt.h"
#include "log.h"

/* A token file larger than this is refused: it is not a token list. */
#define ACCESS_FILE_MAX		(1024 * 1024)

/* Origins. */

/* The default port of a scheme (RFC 6454 4 step 6), or 0 if none. */
static unsigned
access_default_port(const char *scheme, size_t len)
{
	if ((len == 4 && strncmp(scheme, "http", 4) == 0) ||
	    (len == 2 && strncmp(scheme, "ws", 2) == 0))
		return 80;
	if ((len == 5 && strncmp(scheme, "https", 5) == 0) ||
	    (len == 3 && strncmp(scheme, "wss", 3) == 0))
		return 443;
	return 0;
}

/* Serialises an origin the RFC 6454 6.2 way. */
int
access_origin_serialise(const char *s, size_t len, char *out, size_t outcap,
    const char **why)
{
	const char	*end = s + len, *p, *host;
	char		 scheme[32];
	size_t		 slen, hlen, i;
	unsigned long	 port = 0;
	int		 ndigits = 0, n;

	/* RFC 3986 3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) */
	for (p = s; p < end && (isalnum((unsigned char)*p) || *p == '+' ||
	    *p == '-' || *p == '.'); p++)
		;
	slen = (size_t)(p - s);
	if (slen == 0 || !isalpha((unsigned char)s[0]) ||
	    slen >= sizeof(scheme) || end - p < 3 || strncmp(p, "://", 3) != 0) {
		*why = "expected scheme://host[:port]";
		return -1;
	}
	for (i = 0; i < slen; i++)
		scheme[i] = (char)tolower((unsigned char)s[i]);
	scheme[slen] = '\0';

	host = p += 3;
	if (p < end && *p == '[') {
		/* An IPv6 literal; its hex digits are lowered below. */
		for (p++; p < end && (isxdigit((unsigned char)*p) ||
		    *p == ':' || *p == '.'); p++)
			;
		if (p >= end || *p != ']' || p == host + 1) {
			*why = "invalid IPv6 address in origin";
			return -1;
		}
		p++;
	} else {
		/* reg-name or IPv4, without percent-encoding. */
		for (; p < end && (isalnum((unsigned char)*p) || *p == '-' ||
		    *p == '.' || *p == '_' || *p == '~'); p++)
			;
		if (p == host) {
			*why = "missing host in origin";
			return -1;
		}
	}
	hlen = (size_t)(p - host);

	if (p < end && *p == ':') {
		for (p++; p < end && isdigit((unsigned char)*p); p++) {
			if (++ndigits > 5)
				break;
			port = port * 10 + (unsigned)(*p - '0');
		}
		if (ndigits == 0 || ndigits > 5 || port == 0 || port > 65535) {
			*why = "invalid port in origin";
			return -1;
		}
	}
	if (p != end) {
		*why = *p == '/' ? "an origin has no path, not even \"/\"" :
		    "unexpected character in origin";
		return -1;
	}
	if (port == access_default_port(scheme, slen))
		port = 0;

	n = snprintf(out, outcap, "%s://%.*s", scheme, (int)hlen, host);
	if (n < 0 || (size_t)n >= outcap) {
		*why = "origin too long";
		return -1;
	}
	for (i = slen + 3; out[i] != '\0'; i++)
		out[i] = (char)tolower((unsigned char)out[i]);
	if (port != 0) {
		i = (size_t)n;
		n = snprintf(out + i, outcap - i, ":%lu", port);
		if (n < 0 || (size_t)n >= outcap - i) {
			*why = "origin too long";
			return -1;
		}
	}
	*why = NULL;
	return 0;
}

/* The Origin rule of a route. */
int
access_origin_check(const struct http_request *req, char *const *origins,
    size_t n, int require, const char **why)
{
	const struct http_header *h = http_header_find(req, "Origin");
	char		 origin[ACCESS_ORIGIN_MAX];
	const char	*bad;
	size_t		 i;

	if (h == NULL) {
		if (require) {
			*why = "Origin required";
			return 0;
		}
		return 1;
	}
	if (n == 0)
		return 1;
	/* RFC 6454 7.3: one header; "null" and the rest never match. */
	if (http_header_next(req, "Origin", h) != NULL) {
		*why = "more than one Origin header";
		return 0;
	}
	if (access_origin_serialise(h->value, h->value_len, origin,
	    sizeof(origin), &bad) == 0) {
		for (i = 0; i < n; i++)
			if (strcmp(origin, origins[i]) == 0)
				return 1;
	}
	*why = "Origin not allowed";
	return 0;
}

/* Tokens. */

/* SHA-256 of a token. */
static void
access_digest(const char *s, size_t len, unsigned char out[32])
{
	unsigned int	mdlen = 0;

	if (EVP_Digest(s, len, out, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != 32)
		fatalx("%s: EVP_Digest failed", __func__);
}

/* Parses the text of a token file. */
struct access_tokens *
access_tokens_parse(const char *text, size_t len, char **cause)
{
	struct access_tokens *t;
	const char	*p = text, *end = text + len, *eol, *b, *e, *c;
	void		*grow;
	int		 line = 0;

	*cause = NULL;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		fatal("%s", __func__);
	for (; p < end; p = eol + (eol < end)) {
		line++;
		if ((eol = memchr(p, '\n', (size_t)(end - p))) == NULL)
			eol = end;
		for (b = p; b < eol && isspace((unsigned char)*b); b++)
			;
		for (e = eol; e > b && isspace((unsigned char)e[-1]); e--)
			;
		if (b == e || *b == '#')
			continue;
		for (c = b; c < e; c++) {
			if (*c < 0x21 || *c > 0x7e)
				break;
		}
		if (c != e) {
			log_cause(cause, "line %d: a token is printable "
			    "ASCII without spaces", line);
			goto fail;
		}
		if ((size_t)(e - b) > ACCESS_TOKEN_MAX) {
			log_cause(cause, "line %d: token longer than %d "
			    "characters", line, ACCESS_TOKEN_MAX);
			goto fail;
		}
		if ((grow = reallocarray(t->digest, t->n + 1,
		    sizeof(*t->digest))) == NULL)
			fatal("%s", __func__);
		t->digest = grow;
		access_digest(b, (size_t)(e - b), t->digest[t->n++]);
	}
	if (t->n == 0) {
		log_cause(cause, "no token in the file");
		goto fail;
	}
	return t;
fail:
	access_tokens_free(t);
	return NULL;
}

/*
 * Reads a small regular file whole into a NUL-terminated buffer (caller
 * frees, after OPENSSL_cleanse if it holds secrets); NULL with *cause.
 */
static char *
access_file_read(const char *path, size_t *lenp, char **cause)
{
	struct stat	 st;
	char		*buf;
	size_t		 len = 0;
	ssize_t		 n;
	int		 fd;

	*cause = NULL;
	/* Non-blocking: a FIFO must not hang the start-up. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1) {
		log_cause(cause, "%s", strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1) {
		log_cause(cause, "%s", strerror(errno));
		close(fd);
		return NULL;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > ACCESS_FILE_MAX) {
		if (S_ISDIR(st.st_mode))
			log_cause(cause, "%s", strerror(EISDIR));
		else if (!S_ISREG(st.st_mode))
			log_cause(cause, "not a regular file");
		else
			log_cause(cause, "larger than %d bytes",
			    ACCESS_FILE_MAX);
		close(fd);
		return NULL;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL)
		fatal("%s", __func__);
	/* Read what is there, even if it changed since fstat. */
	while (len < (size_t)st.st_size) {
		n = read(fd, buf + len, (size_t)st.st_size - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			log_cause(cause, "%s", strerror(errno));
			close(fd);
			OPENSSL_cleanse(buf, len);
			free(buf);
			return NULL;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	*lenp = len;
	return buf;
}

/* Reads and parses a token file. */
struct access_tokens *
access_tokens_load(const char *path, char **cause)
{
	struct access_tokens *t;
	char		*buf;
	size_t		 len;

	if ((buf = access_file_read(path, &len, cause)) == NULL)
		return NULL;
	t = access_tokens_parse(buf, len, cause);
	/* The plain tokens do not stay in memory. */
	OPENSSL_cleanse(buf, len);
	free(buf);
	return t;
}

/* Reads and parses a JWT key file. */
struct jwt_key *
access_jwt_key_load(const char *path, char **cause)
{
	struct jwt_key	*key;
	char		*buf;
	size_t		 len;

	if ((buf = access_file_read(path, &len, cause)) == NULL)
		return NULL;
	key = jwt_key_parse(buf, len, cause);
	OPENSSL_cleanse(buf, len);
	free(buf);
	return key;
}

/* Frees a token list. */
void
access_tokens_free(struct access_tokens *t)
{
	if (t == NULL)
		return;
	free(t->digest);
	free(t);
}

/* 1 if a candidate token is one of t's, looking at every token. */
static int
access_token_match(const struct access_tokens *t, const char *s, size_t len)
{
	unsigned char	 md[32];
	size_t		 i;
	int		 ok = 0;

	if (len == 0 || len > ACCESS_TOKEN_MAX)
		return 0;
	access_digest(s, len, md);
	for (i = 0; i < t->n; i++)
		ok |= CRYPTO_memcmp(md, t->digest[i], sizeof(md)) == 0;
	OPENSSL_cleanse(md, sizeof(md));
	return ok;
}

/*
 * Calls cb(arg, token, len) for every token a request carries: each
 * "Authorization: Bearer TOKEN" header, then each "token" query parameter
 * (name compared as sent, value percent-decoded). Values too long to
 * decode are skipped.
 */
static void
access_candidates(const struct http_request *req,
    void (*cb)(void *, const char *, size_t), void *arg)
{
	const struct http_header *h = NULL;
	const char	*v, *end, *p, *amp, *eq;
	char		 buf[JWT_TOKEN_MAX];
	int		 n;

	while ((h = http_header_next(req, "Authorization", h)) != NULL) {
		/* RFC 6750 2.1: "Bearer" 1*SP b64token; scheme any case. */
		v = h->value;
		end = v + h->value_len;
		if (h->value_len < 7 || strncasecmp(v, "Bearer", 6) != 0 ||
		    v[6] != ' ')
			continue;
		for (v += 6; v < end && *v == ' '; v++)
			;
		if (memchr(v, ' ', (size_t)(end - v)) != NULL)
			continue;
		cb(arg, v, (size_t)(end - v));
	}
	if (req->query == NULL)
		return;
	end = req->query + req->query_len;
	for (p = req->query; p < end; p = amp + 1) {
		if ((amp = memchr(p, '&', (size_t)(end - p))) == NULL)
			amp = end;
		eq = memchr(p, '=', (size_t)(amp - p));
		if (eq != NULL && eq - p == 5 && strncmp(p, "token", 5) == 0 &&
		    (n = http_pct_decode(eq + 1, (size_t)(amp - eq - 1), buf,
		    sizeof(buf))) > 0) {
			cb(arg, buf, (size_t)n);
			OPENSSL_cleanse(buf, (size_t)n);
		}
		if (amp == end)
			break;
	}
}

struct access_check {
	const struct access_tokens *t;
	int		 ok;
};

/* Checks one candidate against the token list. */
static void
access_token_cb(void *arg, const char *value, size_t len)
{
	struct access_check *ck = arg;

	ck->ok |= access_token_match(ck->t, value, len);
}

/* Whether the request carries one of the tokens. */
int
access_token_check(const struct access_tokens *t,
    const struct http_request *req)
{
	struct access_check ck = { t, 0 };

	if (t == NULL)
		return 0;
	access_candidates(req, access_token_cb, &ck);
	return ck.ok;
}

struct access_jwt {
	const struct jwt_key *key;
	double		 now;
	double		 leeway;
	struct jwt_claims *claims;	/* the first valid token's */
	const char	*why;		/* the first refusal's */
};

/* Verifies one candidate unless a valid token came already. */
static void
access_jwt_cb(void *arg, const char *value, size_t len)
{
	struct access_jwt *aj = arg;
	const char	*why;

	if (aj->claims != NULL)
		return;
	if (jwt_verify(aj->key, value, len, aj->now, aj->leeway, &aj->claims,
	    &why) == -1 && aj->why == NULL)
		aj->why = why;
}

/* The claims of the first valid JWT a request carries. */
struct jwt_claims *
access_jwt_check(const struct jwt_key *key, const struct http_request *req,
    double now, double leeway, const char **why)
{
	struct access_jwt aj = { key, now, leeway, NULL, NULL };

	if (key != NULL)
		access_candidates(req, access_jwt_cb, &aj);
	*why = aj.claims != NULL ? NULL : aj.why != NULL ? aj.why :
	    "missing token";
	return aj.claims;
}

/* Copies a request target with token values replaced by "***". */
size_t
access_target_redact(const char *target, size_t len, char *out,
    size_t outcap)
{
	const char	*q, *end = target + len, *p, *amp, *eq;
	size_t		 o = 0;

/* Appends n bytes of s, counting what does not fit. */
#define ACCESS_PUT(s, n) do {						\
	size_t	n_ = (n);						\
	if (o < outcap)							\
		memcpy(out + o, (s), n_ < outcap - o ? n_ : outcap - o);\
	o += n_;							\
} while (0)

	if ((q = memchr(target, '?', len)) == NULL)
		q = end;
	else
		q++;
	ACCESS_PUT(target, (size_t)(q - target));
	for (p = q; p < end; p = amp + 1) {
		if ((amp = memchr(p, '&', (size_t)(end - p))) == NULL)
			amp = end;
		eq = memchr(p, '=', (size_t)(amp - p));
		if (eq != NULL && eq - p == 5 && strncmp(p, "token", 5) == 0) {
			ACCESS_PUT(p, 6);
			ACCESS_PUT("***", 3);
		} else
			ACCESS_PUT(p, (size_t)(amp - p));
		if (amp == end)
			break;
		ACCESS_PUT("&", 1);
	}
#undef ACCESS_PUT
	if (outcap > 0)
		out[o < outcap ? o : outcap - 1] = '\0';
	return o;
}

/* Message rate. */

/* Fills the bucket. */
void
access_rate_init(struct access_rate *r, unsigned rate, double now)
{
	r->tokens = rate;
	r->last = now;
}

/* Adds the tokens earned since the last look, up to rate. */
void
access_rate_refill(struct access_rate *r, unsigned rate, double now)
{
	if (now > r->last) {
		r->tokens += (now - r->last) * rate;
		if (r->tokens > rate)
			r->tokens = rate;
	}
	r->last = now;
}

/* Takes one message from the bucket. */
int
access_rate_take(struct access_rate *r, unsigned rate, double now)
{
	access_rate_refill(r, rate, now);
	if (r->tokens < 1.0)
		return -1;
	r->tokens -= 1.0;
	return 0;
}
