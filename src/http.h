/* http.h -- pure HTTP/1.1 request parser and response helpers. */
#ifndef WSD_HTTP_H
#define WSD_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* More headers than this in one request is answered with 431. */
#define HTTP_MAX_HEADERS	64
/* A longer request line (CRLF included) is answered with 414. */
#define HTTP_MAX_REQUEST_LINE	4096

/* http_parse_request() results besides "bytes consumed". */
#define HTTP_PARTIAL		0	/* need more bytes */
#define HTTP_ERR_BAD_REQUEST	(-400)	/* syntax error */
#define HTTP_ERR_URI_TOO_LONG	(-414)	/* request line over the limit */
#define HTTP_ERR_HEADERS_TOO_BIG (-431)	/* head over the limit, or too many headers */
#define HTTP_ERR_VERSION	(-505)	/* not HTTP/1.0 or HTTP/1.1 */

struct http_header {
	const char	*name;
	size_t		 name_len;
	const char	*value;		/* leading/trailing OWS stripped */
	size_t		 value_len;
};

/* A parsed request head. Every pointer points into the caller's buffer. */
struct http_request {
	const char	*method;
	size_t		 method_len;
	const char	*target;	/* raw request-target, origin-form */
	size_t		 target_len;
	const char	*path;		/* target up to '?', still encoded */
	size_t		 path_len;
	const char	*query;		/* after '?', NULL when absent */
	size_t		 query_len;
	int		 minor_version;	/* HTTP/1.x */
	struct http_header headers[HTTP_MAX_HEADERS];
	size_t		 nheaders;
};

/*
 * Where the parse of one request head stands between reads: offsets, not
 * pointers, since the caller's buffer may move as it grows.
 */
struct http_parser {
	size_t		 off;		/* whole lines parsed up to here */
	size_t		 scan;		/* searched for '\n' up to here */
	int		 line1;		/* the request line is parsed */
	int		 minor_version;
	uint32_t	 method[2];	/* offset, length */
	uint32_t	 target[2];
	size_t		 nheaders;
	uint32_t	 hdr[HTTP_MAX_HEADERS][4]; /* name, len, value, len */
};

/* Starts the parse of a new request head. */
void	http_parser_init(struct http_parser *hp);
/*
 * Parses a request head as it arrives: buf holds the bytes of the earlier
 * calls (possibly moved) and more. Only complete lines are parsed, each
 * byte is looked at once whatever the pieces, so a head sent a byte at a
 * time costs what one read of it costs. Returns the number of bytes the
 * head takes (request line, headers and the empty line) with req filled
 * (pointing into buf) when complete, HTTP_PARTIAL when more bytes are
 * needed, or a negative HTTP_ERR_* code. max_head bounds the whole head:
 * an incomplete request line past it is HTTP_ERR_URI_TOO_LONG, so is a
 * request line over HTTP_MAX_REQUEST_LINE, and a longer head
 * HTTP_ERR_HEADERS_TOO_BIG; limits are reported as soon as len passes
 * them, without waiting for the end. Leading empty lines are skipped
 * (RFC 9112 2.2); a bare LF ends a line too, a bare CR is an error.
 * Only origin-form targets ("/...") are accepted.
 */
int	http_parser_feed(struct http_parser *hp, const char *buf, size_t len,
	    size_t max_head, struct http_request *req);
/* http_parser_feed() on a fresh parser: one head from buf. */
int	http_parse_request(const char *buf, size_t len, size_t max_head,
	    struct http_request *req);

/*
 * Parses a response head (a client's view, RFC 9112 4): "HTTP/1.x",
 * a three-digit status and a reason phrase, then header lines as in a
 * request. Returns the bytes the head takes with *status set and the
 * headers in hdrs (method and target point at the status line, pointers
 * into buf), HTTP_PARTIAL when incomplete, HTTP_ERR_BAD_REQUEST for bad
 * syntax and HTTP_ERR_HEADERS_TOO_BIG past max_head bytes or
 * HTTP_MAX_HEADERS headers.
 */
int	http_parse_response(const char *buf, size_t len, size_t max_head,
	    int *status, struct http_request *hdrs);

/*
 * RFC 9112 6.3, 3.2: the checks that keep a request unambiguous. Returns
 * 0 when the request may be served, with *body set when it announces a
 * body (Content-Length above 0); else 400 with *why: a repeated or
 * invalid Content-Length, any Transfer-Encoding (wsd reads no chunked
 * bodies, and one with Content-Length is a smuggling attempt), a
 * repeated, missing (HTTP/1.1) or invalid Host.
 */
int	http_request_check(const struct http_request *req, int *body,
	    const char **why);

/* First header with that name (case-insensitive), or NULL. */
const struct http_header *http_header_find(const struct http_request *req,
	    const char *name);
/* The next header called name after prev (NULL: the first), or NULL. */
const struct http_header *http_header_next(const struct http_request *req,
	    const char *name, const struct http_header *prev);
/* How many headers are called name (case-insensitive). */
size_t	http_header_count(const struct http_request *req, const char *name);

/*
 * 1 if any header with that name carries token in its comma-separated list
 * (case-insensitive, OWS around elements ignored), else 0.
 */
int	http_header_has_token(const struct http_request *req,
	    const char *name, const char *token);

/* 1 if c is an RFC 7230 3.2.6 tchar, a character of a token. */
int	http_is_tchar(unsigned char c);
/* 1 if s is a non-empty RFC 7230 3.2.6 token, else 0. */
int	http_token_valid(const char *s, size_t len);

/*
 * Steps through a comma-separated header value (RFC 7230 7): *p walks
 * from the value's start to end. Returns 1 with the next element, OWS
 * trimmed and possibly empty, in elem/len; 0 when the list is done.
 */
int	http_list_next(const char **p, const char *end, const char **elem,
	    size_t *len);

/*
 * Percent-decodes len bytes of a query component into out (not
 * NUL-terminated; '+' stays '+'). Returns the decoded length, or -1 on a
 * bad escape or when out is too small.
 */
int	http_pct_decode(const char *s, size_t len, char *out, size_t outcap);

/* 1 if the method equals m exactly (methods are case-sensitive). */
int	http_method_is(const struct http_request *req, const char *m);

/*
 * Percent-decodes a request path into out (NUL-terminated) and normalises
 * it: empty segments are collapsed ("//a//b/" is "/a/b/"), so the result
 * never starts with "//". Refuses (returns -1) invalid escapes, an encoded
 * or raw NUL, an encoded '/' ("%2f"), "." or ".." segments (raw or
 * encoded), and a path that does not start with '/' or does not fit in
 * outcap. Returns the decoded length.
 */
int	http_path_decode(const char *path, size_t len, char *out,
	    size_t outcap);

/*
 * Percent-encodes len bytes of s for a Location header: a decoded path
 * (query 0: everything but RFC 3986 pchar and '/' is encoded, '%', '?',
 * '#', controls, space and non-ASCII bytes included) or a query that is
 * still encoded (query 1: '?' and '%' stay too). Writes what fits of the
 * result into out, NUL-terminated and never cut inside an escape, and
 * returns the length of the whole result, like snprintf.
 */
size_t	http_uri_encode(const char *s, size_t len, int query, char *out,
	    size_t outcap);

/* Reason phrase for a status code ("Not Found"); "Unknown" otherwise. */
const char *http_status_text(int status);

/* Formats t as an IMF-fixdate (RFC 7231 7.1.1.1) into out[30]. */
void	http_date_format(time_t t, char out[30]);

/*
 * Parses an HTTP date (IMF-fixdate; RFC 850 and asctime forms too).
 * Returns (time_t)-1 when invalid.
 */
time_t	http_date_parse(const char *s, size_t len);

#endif
