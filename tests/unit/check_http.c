/* check_http.c -- unit tests for the pure HTTP request parser and helpers. */
#include <sys/mman.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "http.h"
#include "suites.h"

#define S(lit)		lit, sizeof(lit) - 1
#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))
#define BIG		8192	/* max_head that no test input reaches */
#define GUARD_SPAN	(64 * 1024)

/*
 * Copies len bytes so that they end right before a PROT_NONE page: reading
 * one byte past the input crashes the test.
 */
static const char *
guard_place(const char *s, size_t len)
{
	static char	*base;
	static size_t	 span;
	long		 pg;

	if (base == NULL) {
		pg = sysconf(_SC_PAGESIZE);
		ck_assert_int_gt(pg, 0);
		span = ((GUARD_SPAN + (size_t)pg - 1) / (size_t)pg) * (size_t)pg;
		base = mmap(NULL, span + (size_t)pg, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		ck_assert_ptr_ne(base, MAP_FAILED);
		ck_assert_int_eq(mprotect(base + span, (size_t)pg, PROT_NONE),
		    0);
	}
	ck_assert_uint_le(len, span);
	memmove(base + span - len, s, len);
	return base + span - len;
}

/* Parses s from a guarded buffer; req points into that buffer. */
static int
parse(const char *s, size_t len, size_t max, struct http_request *req)
{
	return http_parse_request(guard_place(s, len), len, max, req);
}

/*
 * Feeds every prefix of s (each right before the guard page): all must be
 * HTTP_PARTIAL or, when want is an error, that error. Returns the result
 * for the whole of s.
 */
static int
parse_bytewise(const char *s, size_t len, size_t max, int want,
    struct http_request *req)
{
	size_t	i;
	int	r;

	for (i = 0; i < len; i++) {
		r = parse(s, i, max, req);
		if (want >= 0)
			ck_assert_msg(r == HTTP_PARTIAL,
			    "prefix %zu of %zu gave %d", i, len, r);
		else
			ck_assert_msg(r == HTTP_PARTIAL || r == want,
			    "prefix %zu of %zu gave %d, want %d", i, len, r,
			    want);
	}
	return parse(s, len, max, req);
}

/* 1 if the n bytes at p equal the C string s. */
static int
span_eq(const char *p, size_t n, const char *s)
{
	return p != NULL && n == strlen(s) && memcmp(p, s, n) == 0;
}

#define ck_span(p, n, s) \
	ck_assert_msg(span_eq(p, n, s), "got \"%.*s\", want \"%s\"", \
	    (int)(n), (p) ? (p) : "", s)

/* A request that parses, and what it has. */
struct valid_req {
	const char	*s;
	size_t		 len;
	const char	*method;
	const char	*target;
	int		 minor;
	size_t		 nheaders;
};

static const struct valid_req valid_reqs[] = {
	{ S("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), "GET", "/", 1, 1 },
	{ S("GET / HTTP/1.0\r\n\r\n"), "GET", "/", 0, 0 },
	{ S("HEAD /x/y.html?q=1 HTTP/1.1\r\nHost: h\r\nAccept: */*\r\n\r\n"),
	    "HEAD", "/x/y.html?q=1", 1, 2 },
	{ S("GET / HTTP/1.1\nHost: a\n\n"), "GET", "/", 1, 1 },
	{ S("GET / HTTP/1.1\r\nHost: a\n\r\n"), "GET", "/", 1, 1 },
	{ S("\r\n\r\nGET / HTTP/1.1\r\n\r\n"), "GET", "/", 1, 0 },
	{ S("\n\nGET / HTTP/1.1\r\n\r\n"), "GET", "/", 1, 0 },
	{ S("M-SEARCH /~a!$&'()*+,;=:@ HTTP/1.1\r\n\r\n"), "M-SEARCH",
	    "/~a!$&'()*+,;=:@", 1, 0 },
	{ S("!#$%&'*+-.^_`|~09azAZ / HTTP/1.1\r\n\r\n"),
	    "!#$%&'*+-.^_`|~09azAZ", "/", 1, 0 },
	{ S("get / HTTP/1.1\r\n\r\n"), "get", "/", 1, 0 },
	{ S("GET / HTTP/1.1\r\nX:\r\nY: \t \r\n\r\n"), "GET", "/", 1, 2 },
	{ S("GET / HTTP/1.1\r\nX: caf\xc3\xa9 \x80\xff\r\n\r\n"), "GET", "/",
	    1, 1 },
	{ S("GET / HTTP/1.1\r\nX-A_b.c~: v\"a'l(u)e\r\n\r\n"), "GET", "/", 1,
	    1 },
	{ S("GET /a%20b/%2e?x=%00 HTTP/1.1\r\n\r\n"), "GET",
	    "/a%20b/%2e?x=%00", 1, 0 },
};

/* Every valid request parses whole, and byte by byte. */
START_TEST(test_parse_valid)
{
	const struct valid_req	*v = &valid_reqs[_i];
	struct http_request	 req;
	int			 r;

	r = parse_bytewise(v->s, v->len, BIG, 0, &req);
	ck_assert_int_eq(r, (int)v->len);
	ck_span(req.method, req.method_len, v->method);
	ck_span(req.target, req.target_len, v->target);
	ck_assert_int_eq(req.minor_version, v->minor);
	ck_assert_uint_eq(req.nheaders, v->nheaders);

	/* The exact limit is fine; one byte less is not. */
	ck_assert_int_eq(parse(v->s, v->len, v->len, &req), (int)v->len);
	ck_assert_int_lt(parse(v->s, v->len, v->len - 1, &req), 0);
}
END_TEST

/* Fields of a request point into the caller's buffer. */
START_TEST(test_parse_fields)
{
	static const char	 s[] = "GET /a/b?c=d&e HTTP/1.1\r\n"
	    "Host: example.org\r\nUser-Agent:  x y\t \r\n\r\n";
	struct http_request	 req;
	const char		*buf = guard_place(s, sizeof(s) - 1);

	ck_assert_int_eq(http_parse_request(buf, sizeof(s) - 1, BIG, &req),
	    (int)sizeof(s) - 1);
	ck_assert_ptr_eq(req.method, buf);
	ck_assert_ptr_eq(req.target, buf + 4);
	ck_span(req.path, req.path_len, "/a/b");
	ck_assert_ptr_eq(req.path, req.target);
	ck_span(req.query, req.query_len, "c=d&e");
	ck_assert_uint_eq(req.nheaders, 2);
	ck_span(req.headers[0].name, req.headers[0].name_len, "Host");
	ck_span(req.headers[0].value, req.headers[0].value_len,
	    "example.org");
	ck_span(req.headers[1].name, req.headers[1].name_len, "User-Agent");
	/* RFC 7230 3.2.4: OWS around the value is not part of it. */
	ck_span(req.headers[1].value, req.headers[1].value_len, "x y");
	ck_assert(req.headers[1].value > buf &&
	    req.headers[1].value < buf + sizeof(s));
}
END_TEST

/* The query starts at the first '?', and "?" alone is an empty query. */
START_TEST(test_parse_query)
{
	struct http_request	req;

	ck_assert_int_gt(parse(S("GET /p HTTP/1.1\r\n\r\n"), BIG, &req), 0);
	ck_span(req.path, req.path_len, "/p");
	ck_assert_ptr_null(req.query);
	ck_assert_uint_eq(req.query_len, 0);

	ck_assert_int_gt(parse(S("GET /p? HTTP/1.1\r\n\r\n"), BIG, &req), 0);
	ck_span(req.path, req.path_len, "/p");
	ck_assert_ptr_nonnull(req.query);
	ck_assert_uint_eq(req.query_len, 0);

	ck_assert_int_gt(parse(S("GET /?a?b HTTP/1.1\r\n\r\n"), BIG, &req),
	    0);
	ck_span(req.path, req.path_len, "/");
	ck_span(req.query, req.query_len, "a?b");
}
END_TEST

/* Only the first of pipelined requests is consumed. */
START_TEST(test_parse_pipelined)
{
	static const char	s[] = "GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n"
	    "\r\n";
	struct http_request	req;
	int			n;

	n = parse(S(s), BIG, &req);
	ck_assert_int_eq(n, 19);
	ck_span(req.target, req.target_len, "/1");
	ck_assert_int_eq(parse(s + n, sizeof(s) - 1 - (size_t)n, BIG, &req),
	    19);
	ck_span(req.target, req.target_len, "/2");

	/* Bytes behind the head (a WebSocket frame) are left alone. */
	ck_assert_int_eq(parse(S("GET / HTTP/1.1\r\n\r\n\x81\x80"), BIG,
	    &req), 18);
}
END_TEST

/* An input that fails, and how. */
struct bad_req {
	const char	*s;
	size_t		 len;
	int		 want;
};

static const struct bad_req bad_reqs[] = {
	/* request line */
	{ S("GET  / HTTP/1.1\r\n\r\n"), HTTP_ERR_BAD_REQUEST },
	{ S("GET /  HTTP/1.1\r\n\r\n"), HTTP_ERR_BAD_REQUEST },
	{ S("GET\t/ HTTP/1.1\r\n\r\n"), HTTP_ERR_BAD_REQUEST },
	{ S("GET /\tHTTP/1.1\r\n\r\n"), HTTP_ERR_BAD_REQUEST },
	{ S(" GET / HTTP/1.1\r\n\r\n"), HTTP_ERR_BAD_REQUEST },
	{ S("GE(T / HTTP/1.1\r\n\r\n"), HTTP_ERR_BAD_REQUEST },
	{ S("GE\"T / HTTP/1.1\r\n\r\n"), HTTP_ERR_BAD_REQUEST },
	{ S("G\x80T / HTTP/1.1\r\n\r\n"), HTTP_ERR_BAD_REQUEST },
	{ S("/ HTTP/1.1\r\n\r\n"), HTTP_ERR_BAD_REQUEST },
	{ S("GET http://a/ HTTP/1.1\r\n\r\n"), HTTP_ERR_BAD_REQUEST },
	{ S("OPTIONS * HTTP/1.1\r\n\r\n"), HTTP_ERR_BAD_REQUEST },
	{ S("CONNECT a:443 HTTP/1.1\r\n\r\n"), HTTP_ERR_BAD_REQUEST },
	{ S("GET /a\x7f HTTP/1.1\r\n\r\n"), HTTP_ERR_BAD_REQUEST },
	{ S("GET /a\x80 HTTP/1.1\r\n\r\n"), HTTP_ERR_BAD_REQUEST },
	{ S("GET /a\x01 HTTP/1.1\r\n\r\n"), HTTP_ERR_BAD_REQUEST },
	{ S("GET /a\0b HTTP/1.1\r\n\r\n"), HTTP_ERR_BAD_REQUEST },
	{ S("GET /a\rb HTTP/1.1\r\n\r\n"), HTTP_ERR_BAD_REQUEST },
	{ S("GET / HTTP/1.1 \r\n\r\n"), HTTP_ERR_BAD_REQUEST },
	{ S("GET / http/1.1\r\n\r\n"), HTTP_ERR_BAD_REQUEST },
	{ S("GET / HTTP/1.1x\r\n\r\n"), HTTP_ERR_BAD_REQUEST },
	{ S("GET / HTTP/1.\r\n\r\n"), HTTP_ERR_BAD_REQUEST },
	{ S("GET / HTTP/11.1\r\n\r\n"), HTTP_ERR_BAD_REQUEST },
	{ S("GET / HTTP/1,1\r\n\r\n"), HTTP_ERR_BAD_REQUEST },
	{ S("GET / HTTP/a.1\r\n\r\n"), HTTP_ERR_BAD_REQUEST },
	{ S("GET / HTTP/1.a\r\n\r\n"), HTTP_ERR_BAD_REQUEST },
	{ S("GET / HTTP\r\n\r\n"), HTTP_ERR_BAD_REQUEST },
	{ S("GET /\r\n\r\n"), HTTP_ERR_BAD_REQUEST },
	{ S("GET\r\n\r\n"), HTTP_ERR_BAD_REQUEST },
	{ S("GET / HTTP/1.1\rX\r\n\r\n"), HTTP_ERR_BAD_REQUEST },
	{ S("GET / HTTP/1.1\r\r\n\r\n"), HTTP_ERR_BAD_REQUEST },
	{ S("\rGET / HTTP/1.1\r\n\r\n"), HTTP_ERR_BAD_REQUEST },
	{ S("\r\n\rGET / HTTP/1.1\r\n\r\n"), HTTP_ERR_BAD_REQUEST },
	{ S("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"),
	    HTTP_ERR_BAD_REQUEST },
	/* version */
	{ S("GET / HTTP/1.2\r\n\r\n"), HTTP_ERR_VERSION },
	{ S("GET / HTTP/2.0\r\n\r\n"), HTTP_ERR_VERSION },
	{ S("GET / HTTP/0.9\r\n\r\n"), HTTP_ERR_VERSION },
	{ S("GET / HTTP/3.0\nHost: a\n\n"), HTTP_ERR_VERSION },
	{ S("GET / HTTP/9.9\r\n"), HTTP_ERR_VERSION },
	/* header names */
	{ S("GET / HTTP/1.1\r\nHost : a\r\n\r\n"), HTTP_ERR_BAD_REQUEST },
	{ S("GET / HTTP/1.1\r\nHost\t: a\r\n\r\n"), HTTP_ERR_BAD_REQUEST },
	{ S("GET / HTTP/1.1\r\n: a\r\n\r\n"), HTTP_ERR_BAD_REQUEST },
	{ S("GET / HTTP/1.1\r\nHo(st: a\r\n\r\n"), HTTP_ERR_BAD_REQUEST },
	{ S("GET / HTTP/1.1\r\nHo/st: a\r\n\r\n"), HTTP_ERR_BAD_REQUEST },
	{ S("GET / HTTP/1.1\r\nH\xc3\xa9: a\r\n\r\n"), HTTP_ERR_BAD_REQUEST },
	{ S("GET / HTTP/1.1\r\nHost a\r\n\r\n"), HTTP_ERR_BAD_REQUEST },
	{ S("GET / HTTP/1.1\r\nHost\r\n\r\n"), HTTP_ERR_BAD_REQUEST },
	/* obs-fold */
	{ S("GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n"), HTTP_ERR_BAD_REQUEST },
	{ S("GET / HTTP/1.1\r\nX: a\r\n\tb\r\n\r\n"), HTTP_ERR_BAD_REQUEST },
	{ S("GET / HTTP/1.1\r\n Host: a\r\n\r\n"), HTTP_ERR_BAD_REQUEST },
	/* header values */
	{ S("GET / HTTP/1.1\r\nX: a\x01\r\n\r\n"), HTTP_ERR_BAD_REQUEST },
	{ S("GET / HTTP/1.1\r\nX: a\x7f\r\n\r\n"), HTTP_ERR_BAD_REQUEST },
	{ S("GET / HTTP/1.1\r\nX: a\0b\r\n\r\n"), HTTP_ERR_BAD_REQUEST },
	{ S("GET / HTTP/1.1\r\nX: \x1b[0m\r\n\r\n"), HTTP_ERR_BAD_REQUEST },
	{ S("GET / HTTP/1.1\r\nX: a\rb\r\n\r\n"), HTTP_ERR_BAD_REQUEST },
	{ S("GET / HTTP/1.1\r\nX: a\r\r\n\r\n"), HTTP_ERR_BAD_REQUEST },
	{ S("GET / HTTP/1.1\r\nX: a\r\n\rX"), HTTP_ERR_BAD_REQUEST },
	{ S("GET / HTTP/1.1\r\nX: a\r\n\r\r\n"), HTTP_ERR_BAD_REQUEST },
};

/* Every bad input fails with its code, byte by byte too. */
START_TEST(test_parse_bad)
{
	const struct bad_req	*b = &bad_reqs[_i];
	struct http_request	 req;

	ck_assert_int_eq(parse_bytewise(b->s, b->len, BIG, b->want, &req),
	    b->want);
}
END_TEST

/* Request line n bytes long including CRLF: "GET /aaa... HTTP/1.1\r\n". */
static size_t
make_line(char *out, size_t n)
{
	size_t	fixed = strlen("GET / HTTP/1.1\r\n");

	ck_assert_uint_ge(n, fixed);
	memcpy(out, "GET /", 5);
	memset(out + 5, 'a', n - fixed);
	memcpy(out + 5 + n - fixed, " HTTP/1.1\r\n", 11);
	return n;
}

/* The request line against max_head: 414 only when it passes it. */
START_TEST(test_limit_request_line)
{
	struct http_request	req;
	char			buf[512];
	size_t			n;

	/* Request line plus the empty line exactly at the limit. */
	n = make_line(buf, 98);
	memcpy(buf + n, "\r\n", 2);
	ck_assert_int_eq(parse(buf, n + 2, 100, &req), 100);
	/* One more byte of head: the line fits, the head does not. */
	ck_assert_int_eq(parse(buf, n + 2, 99, &req),
	    HTTP_ERR_HEADERS_TOO_BIG);
	/* The line alone exactly at the limit still fits. */
	ck_assert_int_eq(parse(buf, n + 2, 98, &req),
	    HTTP_ERR_HEADERS_TOO_BIG);
	/* One byte of the line over the limit. */
	ck_assert_int_eq(parse(buf, n + 2, 97, &req), HTTP_ERR_URI_TOO_LONG);
	ck_assert_int_eq(parse(buf, n, 97, &req), HTTP_ERR_URI_TOO_LONG);
	ck_assert_int_eq(parse(buf, n, 98, &req), HTTP_PARTIAL);

	/* A bare-LF line counts its one byte. */
	n = make_line(buf, 50);
	buf[n - 2] = '\n';
	buf[n - 1] = '\n';
	ck_assert_int_eq(parse(buf, n, 50, &req), 50);
	ck_assert_int_eq(parse(buf, n, 49, &req), HTTP_ERR_HEADERS_TOO_BIG);
	ck_assert_int_eq(parse(buf, n, 48, &req), HTTP_ERR_URI_TOO_LONG);
}
END_TEST

/* A limit is reported as soon as the bytes given pass it. */
START_TEST(test_limit_early)
{
	struct http_request	req;
	char			buf[600];
	size_t			i, n;
	int			r;

	/* A long line with no end in sight: 414 at max + 1 bytes. */
	n = make_line(buf, sizeof(buf));
	for (i = 0; i <= n; i++) {
		r = parse(buf, i, 100, &req);
		ck_assert_int_eq(r, i <= 100 ? HTTP_PARTIAL :
		    HTTP_ERR_URI_TOO_LONG);
	}

	/* Whatever follows the limit is never looked at. */
	memset(buf + 100, '\0', sizeof(buf) - 100);
	ck_assert_int_eq(parse(buf, sizeof(buf), 100, &req),
	    HTTP_ERR_URI_TOO_LONG);

	/* Headers that go on and on: 431 at max + 1 bytes. */
	n = make_line(buf, 20);
	memcpy(buf + n, "X-Long: ", 8);
	memset(buf + n + 8, 'v', sizeof(buf) - n - 8);
	for (i = n; i <= sizeof(buf); i++) {
		r = parse(buf, i, 100, &req);
		ck_assert_int_eq(r, i <= 100 ? HTTP_PARTIAL :
		    HTTP_ERR_HEADERS_TOO_BIG);
	}

	/* Nothing fits into a zero limit. */
	ck_assert_int_eq(parse(S(""), 0, &req), HTTP_PARTIAL);
	ck_assert_int_eq(parse(S("G"), 0, &req), HTTP_ERR_URI_TOO_LONG);
}
END_TEST

/* Leading empty lines count toward max_head. */
START_TEST(test_limit_leading_lines)
{
	static const char	s[] = "\r\n\r\n\nGET / HTTP/1.1\r\n\r\n";
	struct http_request	req;
	size_t			n = sizeof(s) - 1;

	ck_assert_int_eq(parse(S(s), n, &req), (int)n);
	ck_assert_int_eq(parse(S(s), n - 1, &req), HTTP_ERR_HEADERS_TOO_BIG);
	ck_assert_int_eq(parse(S(s), n - 3, &req), HTTP_ERR_URI_TOO_LONG);
	/* Only empty lines: waiting for a request line, until the limit. */
	ck_assert_int_eq(parse(S("\r\n\r\n\r\n"), 6, &req), HTTP_PARTIAL);
	ck_assert_int_eq(parse(S("\r\n\r\n\r\n"), 5, &req),
	    HTTP_ERR_URI_TOO_LONG);
}
END_TEST

/* Builds a request with n headers "H<i>: v"; returns its length. */
static size_t
make_headers(char *out, size_t cap, int n, int complete)
{
	size_t	len;
	int	i;

	len = (size_t)snprintf(out, cap, "GET / HTTP/1.1\r\n");
	for (i = 0; i < n; i++)
		len += (size_t)snprintf(out + len, cap - len, "H%d: v\r\n", i);
	if (complete)
		len += (size_t)snprintf(out + len, cap - len, "\r\n");
	ck_assert_uint_lt(len, cap);
	return len;
}

/* HTTP_MAX_HEADERS headers are fine, one more is 431. */
START_TEST(test_limit_header_count)
{
	struct http_request	req;
	char			buf[4096];
	size_t			n;

	n = make_headers(buf, sizeof(buf), HTTP_MAX_HEADERS, 1);
	ck_assert_int_eq(parse(buf, n, BIG, &req), (int)n);
	ck_assert_uint_eq(req.nheaders, HTTP_MAX_HEADERS);
	ck_span(req.headers[HTTP_MAX_HEADERS - 1].name,
	    req.headers[HTTP_MAX_HEADERS - 1].name_len, "H63");

	n = make_headers(buf, sizeof(buf), HTTP_MAX_HEADERS + 1, 1);
	ck_assert_int_eq(parse(buf, n, BIG, &req), HTTP_ERR_HEADERS_TOO_BIG);

	/* Known as soon as the first byte of one header too many arrives. */
	n = make_headers(buf, sizeof(buf), HTTP_MAX_HEADERS, 0);
	ck_assert_int_eq(parse(buf, n, BIG, &req), HTTP_PARTIAL);
	buf[n] = 'H';
	ck_assert_int_eq(parse(buf, n + 1, BIG, &req),
	    HTTP_ERR_HEADERS_TOO_BIG);
}
END_TEST

/* A small deterministic PRNG (xorshift32). */
static uint32_t
rng_next(uint32_t *state)
{
	uint32_t	x = *state;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *state = x;
}

/*
 * Random and mutated inputs right before the guard page: the parser never
 * reads past the end, and every result is one the header allows.
 */
START_TEST(test_parse_random)
{
	static const char	 alphabet[] = "GET /HTP1.0\r\n: \t,?%a\x7f\x80";
	static const char	 base[] = "GET /a?b HTTP/1.1\r\nHost: x\r\n"
	    "Connection: keep-alive, Upgrade\r\n\r\n";
	struct http_request	 req;
	char			 buf[256];
	const char		*g;
	uint32_t		 seed = 0x2545f491;
	size_t			 i, j, len;
	int			 r, round;

	for (round = 0; round < 20000; round++) {
		if (round % 2 == 0) {
			len = rng_next(&seed) % sizeof(buf);
			for (i = 0; i < len; i++) {
				j = rng_next(&seed);
				buf[i] = (round % 4 == 0) ? (char)j :
				    alphabet[j % (sizeof(alphabet) - 1)];
			}
		} else {
			len = sizeof(base) - 1;
			memcpy(buf, base, len);
			for (i = rng_next(&seed) % 4; i > 0; i--)
				buf[rng_next(&seed) % len] =
				    (char)rng_next(&seed);
			len -= rng_next(&seed) % 8;
		}
		g = guard_place(buf, len);
		r = http_parse_request(g, len, 1 + rng_next(&seed) % 128,
		    &req);
		ck_assert(r == HTTP_PARTIAL || r == HTTP_ERR_BAD_REQUEST ||
		    r == HTTP_ERR_URI_TOO_LONG ||
		    r == HTTP_ERR_HEADERS_TOO_BIG || r == HTTP_ERR_VERSION ||
		    (r > 0 && (size_t)r <= len));
		if (r <= 0)
			continue;
		ck_assert(req.method >= g);
		ck_assert(req.target + req.target_len <= g + r);
		for (i = 0; i < req.nheaders; i++)
			ck_assert(req.headers[i].value +
			    req.headers[i].value_len <= g + r);
	}
}
END_TEST

static void	must_parse(const char *, struct http_request *);

/*
 * Feeds s to one parser a piece at a time, each time from a fresh copy at
 * another address (the caller's buffer moves as it grows). Every partial
 * call must leave the scan at the end of what it was given: no byte is
 * looked at twice. Returns the final result.
 */
static int
feed_pieces(const char *s, size_t len, size_t max, size_t step,
    struct http_request *req)
{
	struct http_parser	 hp;
	static char		 copies[2][4 * BIG];
	size_t			 i, n, pos;
	int			 r = HTTP_PARTIAL;

	ck_assert_uint_le(len, sizeof(copies[0]));
	http_parser_init(&hp);
	for (i = 0, n = 0; n < len && r == HTTP_PARTIAL; i++) {
		n = n + step < len ? n + step : len;
		memcpy(copies[i % 2], s, n);
		r = http_parser_feed(&hp, copies[i % 2], n, max, req);
		if (r == HTTP_PARTIAL) {
			pos = hp.scan > hp.off ? hp.scan : hp.off;
			ck_assert_uint_le(pos, n);
			/* Only a CR that may start a CRLF waits for more. */
			ck_assert_msg(pos == n || (pos == n - 1 &&
			    s[n - 1] == '\r'), "at %zu after %zu bytes", pos,
			    n);
		}
	}
	if (r > 0) {
		/* req points into the last copy: check it against s. */
		ck_assert(req->method >= copies[(i - 1) % 2] &&
		    req->method < copies[(i - 1) % 2] + n);
	}
	return r;
}

/* Fed in pieces, every request gives what it gives in one piece. */
START_TEST(test_parse_incremental)
{
	struct http_request	 whole, part;
	size_t			 i, step;
	int			 r;

	for (i = 0; i < NELEM(valid_reqs); i++) {
		r = parse(valid_reqs[i].s, valid_reqs[i].len, BIG, &whole);
		for (step = 1; step <= 7; step++) {
			ck_assert_int_eq(feed_pieces(valid_reqs[i].s,
			    valid_reqs[i].len, BIG, step, &part), r);
			ck_assert_uint_eq(part.nheaders, whole.nheaders);
			ck_assert_uint_eq(part.method_len, whole.method_len);
			ck_assert_uint_eq(part.target_len, whole.target_len);
			ck_assert_uint_eq(part.path_len, whole.path_len);
			ck_assert_uint_eq(part.query_len, whole.query_len);
		}
	}
	for (i = 0; i < NELEM(bad_reqs); i++)
		for (step = 1; step <= 3; step++)
			ck_assert_int_eq(feed_pieces(bad_reqs[i].s,
			    bad_reqs[i].len, BIG, step, &part), bad_reqs[i].want);
}
END_TEST

/*
 * A long head a byte at a time: the parser's position only moves forward,
 * so the work is linear in the head's length.
 */
START_TEST(test_parse_incremental_long)
{
	static char		 buf[3 * BIG];
	struct http_request	 req;
	size_t			 n = 0;
	int			 i;

	n += (size_t)snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\n");
	for (i = 0; i < 60; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n,
		    "X-H%d: %0100d\r\n", i, i);
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, "\r\n");
	ck_assert_int_eq(feed_pieces(buf, n, sizeof(buf), 1, &req), (int)n);
	ck_assert_uint_eq(req.nheaders, 60);
	ck_span(req.headers[59].name, req.headers[59].name_len, "X-H59");
}
END_TEST

/* A request line over HTTP_MAX_REQUEST_LINE is 414 whatever max_head. */
START_TEST(test_limit_request_line_cap)
{
	static char		 buf[2 * HTTP_MAX_REQUEST_LINE + 64];
	struct http_request	 req;
	size_t			 n;

	n = make_line(buf, HTTP_MAX_REQUEST_LINE);
	memcpy(buf + n, "\r\n", 2);
	ck_assert_int_eq(parse(buf, n + 2, sizeof(buf), &req), (int)n + 2);
	n = make_line(buf, HTTP_MAX_REQUEST_LINE + 1);
	memcpy(buf + n, "\r\n", 2);
	ck_assert_int_eq(parse(buf, n + 2, sizeof(buf), &req),
	    HTTP_ERR_URI_TOO_LONG);
	/* Known before the line ends. */
	ck_assert_int_eq(parse(buf, HTTP_MAX_REQUEST_LINE + 1, sizeof(buf),
	    &req), HTTP_ERR_URI_TOO_LONG);
	ck_assert_int_eq(parse(buf, HTTP_MAX_REQUEST_LINE, sizeof(buf),
	    &req), HTTP_PARTIAL);
}
END_TEST

/* Requests for http_request_check() and what it answers. */
static const struct {
	const char	*s;
	int		 status;
	int		 body;
	const char	*why;
} check_vecs[] = {
	{ "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 0, 0, NULL },
	{ "GET / HTTP/1.0\r\n\r\n", 0, 0, NULL },
	{ "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", 0, 0,
	    NULL },
	{ "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 000\r\n\r\n", 0, 0,
	    NULL },
	{ "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\n\r\n", 0, 1,
	    NULL },
	{ "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 999999999999999999"
	    "\r\n\r\n", 0, 1, NULL },
	{ "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1000000000000000000"
	    "\r\n\r\n", 400, 0, "Content-Length" },
	{ "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n"
	    "content-length: 1\r\n\r\n", 400, 0, "repeated Content-Length" },
	{ "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n"
	    "Content-Length: 2\r\n\r\n", 400, 0, "repeated Content-Length" },
	{ "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 1\r\n\r\n", 400, 0,
	    "invalid Content-Length" },
	{ "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\n", 400, 0,
	    "invalid Content-Length" },
	{ "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400, 0,
	    "invalid Content-Length" },
	{ "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x1\r\n\r\n", 400, 0,
	    "invalid Content-Length" },
	{ "GET / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", 400, 0,
	    "invalid Content-Length" },
	{ "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 2\r\n\r\n", 400, 0,
	    "invalid Content-Length" },
	{ "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
	    400, 0, "Transfer-Encoding" },
	{ "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
	    400, 0, "Transfer-Encoding" },
	{ "GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400, 0,
	    "Transfer-Encoding" },
	{ "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n", 400, 0,
	    "Content-Length with Transfer-Encoding" },
	{ "GET / HTTP/1.1\r\n\r\n", 400, 0, "missing Host" },
	{ "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400, 0,
	    "repeated Host" },
	{ "GET / HTTP/1.0\r\nHost: a\r\nHOST: b\r\n\r\n", 400, 0,
	    "repeated Host" },
	{ "GET / HTTP/1.1\r\nHost:\r\n\r\n", 0, 0, NULL },
	{ "GET / HTTP/1.1\r\nHost: example.org:8080\r\n\r\n", 0, 0, NULL },
	{ "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", 0, 0, NULL },
	{ "GET / HTTP/1.1\r\nHost: [fe80::1%25eth0]\r\n\r\n", 0, 0, NULL },
	{ "GET / HTTP/1.1\r\nHost: xn--caf-dma.example\r\n\r\n", 0, 0, NULL },
	{ "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400, 0, "invalid Host" },
	{ "GET / HTTP/1.1\r\nHost: a@b\r\n\r\n", 400, 0, "invalid Host" },
	{ "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400, 0, "invalid Host" },
	{ "GET / HTTP/1.1\r\nHost: a:b\r\n\r\n", 400, 0, "invalid Host" },
	{ "GET / HTTP/1.1\r\nHost: a:80:80\r\n\r\n", 400, 0, "invalid Host" },
	{ "GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", 400, 0, "invalid Host" },
	{ "GET / HTTP/1.1\r\nHost: [::1]x\r\n\r\n", 400, 0, "invalid Host" },
	{ "GET / HTTP/1.1\r\nHost: caf\xc3\xa9\r\n\r\n", 400, 0,
	    "invalid Host" },
};

/* Framing and Host: RFC 9112 6.3 and 3.2. */
START_TEST(test_request_check)
{
	struct http_request	 req;
	const char		*why = "unset";
	int			 body = -1;

	must_parse(check_vecs[_i].s, &req);
	ck_assert_int_eq(http_request_check(&req, &body, &why),
	    check_vecs[_i].status);
	if (check_vecs[_i].status == 0) {
		ck_assert_int_eq(body, check_vecs[_i].body);
		ck_assert_ptr_null(why);
	} else {
		ck_assert_ptr_nonnull(why);
		ck_assert_msg(strstr(why, check_vecs[_i].why) != NULL,
		    "%zu: why \"%s\", want \"%s\"", (size_t)_i, why,
		    check_vecs[_i].why);
	}
}
END_TEST

/* Parses s (a complete head) into req; fails the test otherwise. */
static void
must_parse(const char *s, struct http_request *req)
{
	size_t	len = strlen(s);

	ck_assert_int_eq(parse(s, len, BIG, req), (int)len);
}

/* Header lookup ignores case and finds the first of duplicates. */
START_TEST(test_header_find)
{
	struct http_request		 req;
	const struct http_header	*h;

	must_parse("GET / HTTP/1.1\r\nHost: a\r\nX-Dup: 1\r\nx-dup: 2\r\n\r\n",
	    &req);
	ck_assert_ptr_nonnull(h = http_header_find(&req, "host"));
	ck_span(h->value, h->value_len, "a");
	ck_assert_ptr_nonnull(h = http_header_find(&req, "HOST"));
	ck_assert_ptr_nonnull(h = http_header_find(&req, "X-DUP"));
	ck_span(h->value, h->value_len, "1");
	ck_assert_ptr_null(http_header_find(&req, "Hos"));
	ck_assert_ptr_null(http_header_find(&req, "Hosts"));
	ck_assert_ptr_null(http_header_find(&req, "Upgrade"));
}
END_TEST

/* Token lists: across headers, case-insensitive, OWS ignored. */
START_TEST(test_header_has_token)
{
	struct http_request	req;

	must_parse("GET / HTTP/1.1\r\nConnection: keep-alive, Upgrade\r\n"
	    "Upgrade: WebSocket\r\nX: a ,\tb\t, ,,c\r\nx: second\r\n"
	    "Y: upgrades, up, keep-alive-ish\r\n\r\n", &req);
	ck_assert_int_eq(http_header_has_token(&req, "Connection",
	    "upgrade"), 1);
	ck_assert_int_eq(http_header_has_token(&req, "connection",
	    "Keep-Alive"), 1);
	ck_assert_int_eq(http_header_has_token(&req, "Connection",
	    "close"), 0);
	ck_assert_int_eq(http_header_has_token(&req, "Upgrade", "websocket"),
	    1);
	ck_assert_int_eq(http_header_has_token(&req, "X", "a"), 1);
	ck_assert_int_eq(http_header_has_token(&req, "X", "b"), 1);
	ck_assert_int_eq(http_header_has_token(&req, "X", "c"), 1);
	/* The second header of the same name is searched too. */
	ck_assert_int_eq(http_header_has_token(&req, "X", "second"), 1);
	ck_assert_int_eq(http_header_has_token(&req, "X", "a ,\tb"), 0);
	/* Whole elements only. */
	ck_assert_int_eq(http_header_has_token(&req, "Y", "upgrade"), 0);
	ck_assert_int_eq(http_header_has_token(&req, "Y", "u"), 0);
	ck_assert_int_eq(http_header_has_token(&req, "Y", "keep-alive"), 0);
	/* Another header's tokens do not count. */
	ck_assert_int_eq(http_header_has_token(&req, "Upgrade", "upgrade"),
	    0);
	ck_assert_int_eq(http_header_has_token(&req, "Absent", "x"), 0);

	must_parse("GET / HTTP/1.1\r\nConnection: keep-alive\r\n"
	    "Connection: close\r\n\r\n", &req);
	ck_assert_int_eq(http_header_has_token(&req, "Connection", "close"),
	    1);
	must_parse("GET / HTTP/1.1\r\nConnection:\r\n\r\n", &req);
	ck_assert_int_eq(http_header_has_token(&req, "Connection", "close"),
	    0);
}
END_TEST

/* Methods compare exactly and case-sensitively. */
START_TEST(test_method_is)
{
	struct http_request	req;

	must_parse("GET / HTTP/1.1\r\n\r\n", &req);
	ck_assert_int_eq(http_method_is(&req, "GET"), 1);
	ck_assert_int_eq(http_method_is(&req, "get"), 0);
	ck_assert_int_eq(http_method_is(&req, "GE"), 0);
	ck_assert_int_eq(http_method_is(&req, "GETX"), 0);
	ck_assert_int_eq(http_method_is(&req, "HEAD"), 0);
	must_parse("head / HTTP/1.1\r\n\r\n", &req);
	ck_assert_int_eq(http_method_is(&req, "HEAD"), 0);
	ck_assert_int_eq(http_method_is(&req, "head"), 1);
}
END_TEST

/* A path and its decoded form, or NULL when refused. */
struct path_vec {
	const char	*in;
	size_t		 len;
	const char	*out;
	size_t		 out_len;
};

#define PATH_OK(a, b)	{ S(a), b, sizeof(b) - 1 }
#define PATH_BAD(a)	{ S(a), NULL, 0 }

static const struct path_vec path_vecs[] = {
	PATH_OK("/", "/"),
	PATH_OK("/a/b", "/a/b"),
	PATH_OK("/a/b/", "/a/b/"),
	/* Empty segments are collapsed: never a "//host" path. */
	PATH_OK("//a", "/a"),
	PATH_OK("//", "/"),
	PATH_OK("///", "/"),
	PATH_OK("//evil.example", "/evil.example"),
	PATH_OK("//evil.example/", "/evil.example/"),
	PATH_OK("/a//b", "/a/b"),
	PATH_OK("/a///b//", "/a/b/"),
	PATH_OK("/a//", "/a/"),
	PATH_OK("/%41//%42", "/A/B"),
	PATH_OK("//.well-known//x", "/.well-known/x"),
	PATH_OK("/a%20b", "/a b"),
	PATH_OK("/%41%62%7e", "/Ab~"),
	PATH_OK("/%c3%a9", "/\xc3\xa9"),
	PATH_OK("/%C3%A9", "/\xc3\xa9"),
	PATH_OK("/%Ff%fF", "/\xff\xff"),
	PATH_OK("/a+b", "/a+b"),
	PATH_OK("/%2B", "/+"),
	PATH_OK("/%25", "/%"),
	PATH_OK("/%250", "/%0"),
	PATH_OK("/%0a", "/\n"),
	PATH_OK("/a..b", "/a..b"),
	PATH_OK("/..a", "/..a"),
	PATH_OK("/a..", "/a.."),
	PATH_OK("/...", "/..."),
	PATH_OK("/.well-known/x", "/.well-known/x"),
	PATH_OK("/.a/b.", "/.a/b."),
	PATH_OK("/%2e%2e%2e", "/..."),
	PATH_OK("/a/.b/%2ec", "/a/.b/.c"),
	PATH_BAD(""),
	PATH_BAD("a"),
	PATH_BAD("a/b"),
	PATH_BAD("%2f"),
	PATH_BAD("%2fa"),
	PATH_BAD("/a%2fb"),
	PATH_BAD("/a%2Fb"),
	PATH_BAD("/%2F"),
	PATH_BAD("/%00"),
	PATH_BAD("/a%00b"),
	PATH_BAD("/a\0b"),
	PATH_BAD("/\0"),
	PATH_BAD("/%zz"),
	PATH_BAD("/%4"),
	PATH_BAD("/%"),
	PATH_BAD("/a%"),
	PATH_BAD("/%4g"),
	PATH_BAD("/%g4"),
	PATH_BAD("/%%41"),
	PATH_BAD("/%-1"),
	PATH_BAD("/%+1"),
	PATH_BAD("/%\0" "0"),
	PATH_BAD("/."),
	PATH_BAD("/.."),
	PATH_BAD("/./"),
	PATH_BAD("/../"),
	PATH_BAD("/./a"),
	PATH_BAD("/../a"),
	PATH_BAD("/a/."),
	PATH_BAD("/a/.."),
	PATH_BAD("/a/./b"),
	PATH_BAD("/a/../b"),
	PATH_BAD("/a/../../etc/passwd"),
	PATH_BAD("/%2e"),
	PATH_BAD("/%2E"),
	PATH_BAD("/%2e%2E"),
	PATH_BAD("/.%2e"),
	PATH_BAD("/%2e."),
	PATH_BAD("/a/%2e%2e/b"),
	PATH_BAD("/a/%2e/b"),
	PATH_BAD("/a/%2E%2e"),
	PATH_BAD("//.."),
	PATH_BAD("/a//./"),
	PATH_BAD("//."),
	PATH_BAD("//../"),
	PATH_BAD("/a//..//b"),
	PATH_BAD("//%2f"),
	PATH_BAD("/%2f/"),
};

/* Every path decodes to its expected form or is refused. */
START_TEST(test_path_decode)
{
	const struct path_vec	*v = &path_vecs[_i];
	char			 out[64];
	const char		*g = guard_place(v->in, v->len);
	int			 r;

	memset(out, 'X', sizeof(out));
	r = http_path_decode(g, v->len, out, sizeof(out));
	if (v->out == NULL) {
		ck_assert_msg(r == -1, "\"%.*s\" decoded to %d", (int)v->len,
		    v->in, r);
		return;
	}
	ck_assert_msg(r == (int)v->out_len, "\"%s\" gave %d", v->in, r);
	ck_assert(memcmp(out, v->out, v->out_len) == 0);
	ck_assert_int_eq(out[v->out_len], '\0');
}
END_TEST

/* The decoded path and its NUL must fit in outcap. */
START_TEST(test_path_decode_capacity)
{
	char	out[8];

	ck_assert_int_eq(http_path_decode(S("/abc"), out, 5), 4);
	ck_assert_str_eq(out, "/abc");
	ck_assert_int_eq(http_path_decode(S("/abc"), out, 4), -1);
	ck_assert_int_eq(http_path_decode(S("/%41bc"), out, 5), 4);
	ck_assert_int_eq(http_path_decode(S("/%41bc"), out, 4), -1);
	ck_assert_int_eq(http_path_decode(S("/"), out, 1), -1);
	ck_assert_int_eq(http_path_decode(S("/"), out, 0), -1);
	/* Collapsed slashes take no room. */
	ck_assert_int_eq(http_path_decode(S("//a//b"), out, 5), 4);
	ck_assert_str_eq(out, "/a/b");
	/* Only len bytes count: the rest of the target is not the path. */
	ck_assert_int_eq(http_path_decode("/ab?c", 3, out, sizeof(out)), 3);
	ck_assert_str_eq(out, "/ab");
}
END_TEST

/* Encoding for Location: what fits, never half an escape. */
START_TEST(test_uri_encode)
{
	char	out[16];

	ck_assert_uint_eq(http_uri_encode(S("/a b"), 0, out, sizeof(out)), 6);
	ck_assert_str_eq(out, "/a%20b");
	ck_assert_uint_eq(http_uri_encode(S("/%?#"), 0, out, sizeof(out)), 10);
	ck_assert_str_eq(out, "/%25%3F%23");
	ck_assert_uint_eq(http_uri_encode(S("a=%20?b#"), 1, out, sizeof(out)),
	    10);
	ck_assert_str_eq(out, "a=%20?b%23");
	ck_assert_uint_eq(http_uri_encode("\0\r\n", 3, 0, out, sizeof(out)),
	    9);
	ck_assert_str_eq(out, "%00%0D%0A");
	/* Cut: "/a" fits in 4, "%20" does not. */
	ck_assert_uint_eq(http_uri_encode(S("/a b"), 0, out, 4), 6);
	ck_assert_str_eq(out, "/a");
	ck_assert_uint_eq(http_uri_encode(S("/a b"), 0, out, 6), 6);
	ck_assert_str_eq(out, "/a%20");
	ck_assert_uint_eq(http_uri_encode(S(" b"), 0, out, 3), 4);
	ck_assert_str_eq(out, "");
	ck_assert_uint_eq(http_uri_encode(S("ab"), 0, NULL, 0), 2);
	ck_assert_uint_eq(http_uri_encode(S("ab"), 0, out, 1), 2);
	ck_assert_str_eq(out, "");
}
END_TEST

/* Every status code wsd sends has its reason phrase. */
START_TEST(test_status_text)
{
	static const int	codes[] = {
		101, 200, 204, 206, 301, 302, 304, 400, 401, 403, 404, 405,
		408, 413, 414, 416, 426, 429, 431, 500, 501, 503, 505
	};
	size_t			i;

	for (i = 0; i < NELEM(codes); i++)
		ck_assert_msg(strcmp(http_status_text(codes[i]), "Unknown") != 0,
		    "no text for %d", codes[i]);
	ck_assert_str_eq(http_status_text(101), "Switching Protocols");
	ck_assert_str_eq(http_status_text(200), "OK");
	ck_assert_str_eq(http_status_text(301), "Moved Permanently");
	ck_assert_str_eq(http_status_text(304), "Not Modified");
	ck_assert_str_eq(http_status_text(400), "Bad Request");
	ck_assert_str_eq(http_status_text(404), "Not Found");
	ck_assert_str_eq(http_status_text(405), "Method Not Allowed");
	ck_assert_str_eq(http_status_text(414), "URI Too Long");
	ck_assert_str_eq(http_status_text(426), "Upgrade Required");
	ck_assert_str_eq(http_status_text(431),
	    "Request Header Fields Too Large");
	ck_assert_str_eq(http_status_text(505), "HTTP Version Not Supported");
	ck_assert_str_eq(http_status_text(0), "Unknown");
	ck_assert_str_eq(http_status_text(299), "Unknown");
	ck_assert_str_eq(http_status_text(-404), "Unknown");
}
END_TEST

/* IMF-fixdate formatting (RFC 7231 7.1.1.1). */
START_TEST(test_date_format)
{
	char	out[30];

	http_date_format(784111777, out);
	ck_assert_str_eq(out, "Sun, 06 Nov 1994 08:49:37 GMT");
	http_date_format(0, out);
	ck_assert_str_eq(out, "Thu, 01 Jan 1970 00:00:00 GMT");
	http_date_format(951782400, out);
	ck_assert_str_eq(out, "Tue, 29 Feb 2000 00:00:00 GMT");
	http_date_format(1600000000, out);
	ck_assert_str_eq(out, "Sun, 13 Sep 2020 12:26:40 GMT");
	http_date_format(-1, out);
	ck_assert_str_eq(out, "Wed, 31 Dec 1969 23:59:59 GMT");
	http_date_format((time_t)253402300799LL, out);
	ck_assert_str_eq(out, "Fri, 31 Dec 9999 23:59:59 GMT");
	/* Past four year digits the date is clamped, never overflows. */
	http_date_format((time_t)253402300800LL, out);
	ck_assert_str_eq(out, "Fri, 31 Dec 9999 23:59:59 GMT");
	http_date_format((time_t)INT64_MAX, out);
	ck_assert_str_eq(out, "Fri, 31 Dec 9999 23:59:59 GMT");
	http_date_format((time_t)-62167219201LL, out);
	ck_assert_str_eq(out, "Sat, 01 Jan 0000 00:00:00 GMT");
}
END_TEST

/* A date string and its time, or -1 when it must be refused. */
struct date_vec {
	const char	*s;
	time_t		 t;
};

static const struct date_vec date_vecs[] = {
	{ "Sun, 06 Nov 1994 08:49:37 GMT", 784111777 },
	{ "Sunday, 06-Nov-94 08:49:37 GMT", 784111777 },
	{ "Sun Nov  6 08:49:37 1994", 784111777 },
	{ "Sun Nov 06 08:49:37 1994", 784111777 },
	{ "Thu, 01 Jan 1970 00:00:01 GMT", 1 },
	{ "Tue, 29 Feb 2000 00:00:00 GMT", 951782400 },
	{ "Sat, 29 Feb 2020 00:00:00 GMT", 1582934400 },
	{ "Sun, 13 Sep 2020 12:26:40 GMT", 1600000000 },
	/* RFC 7231 7.1.1.1: second 60 is a leap second. */
	{ "Sun, 06 Nov 1994 08:49:60 GMT", 784111800 },
	{ "Thursday, 01-Jan-70 00:00:01 GMT", 1 },
	{ "Wednesday, 06-Nov-69 08:49:37 GMT", 3150953377 },
	{ "Thu Jan  1 00:00:01 1970", 1 },
	/* Refused. */
	{ "", -1 },
	{ "garbage", -1 },
	{ "Sun, 06 Nov 1994 08:49:37 GMT ", -1 },
	{ " Sun, 06 Nov 1994 08:49:37 GMT", -1 },
	{ "Sun, 06 Nov 1994 08:49:37 GMTx", -1 },
	{ "Sun, 06 Nov 1994 08:49:37 gmt", -1 },
	{ "Sun, 06 Nov 1994 08:49:37 UTC", -1 },
	{ "Sun, 06 Nov 1994 08:49:37 +0000", -1 },
	{ "Sun, 06 Nov 1994 08:49:37", -1 },
	{ "Sun, 06 nov 1994 08:49:37 GMT", -1 },
	{ "Sun, 06 Nox 1994 08:49:37 GMT", -1 },
	{ "Fun, 06 Nov 1994 08:49:37 GMT", -1 },
	{ "Sun; 06 Nov 1994 08:49:37 GMT", -1 },
	{ "Sun,  6 Nov 1994 08:49:37 GMT", -1 },
	{ "Sun, 6 Nov 1994 08:49:37 GMT", -1 },
	{ "Sun, 06 Nov 94 08:49:37 GMT", -1 },
	{ "Sun, 06 Nov 1994 8:49:37 GMT", -1 },
	{ "Sun, 06 Nov 1994 08-49-37 GMT", -1 },
	{ "Sun, 06 Nov 1994 +8:49:37 GMT", -1 },
	{ "Sun, 06 Nov 19x4 08:49:37 GMT", -1 },
	{ "Sun, 00 Nov 1994 08:49:37 GMT", -1 },
	{ "Sun, 31 Nov 1994 08:49:37 GMT", -1 },
	{ "Sun, 32 Dec 1994 08:49:37 GMT", -1 },
	{ "Sun, 29 Feb 2019 08:49:37 GMT", -1 },
	{ "Sun, 29 Feb 1900 08:49:37 GMT", -1 },
	{ "Sun, 06 Nov 1994 24:00:00 GMT", -1 },
	{ "Sun, 06 Nov 1994 08:60:00 GMT", -1 },
	{ "Sun, 06 Nov 1994 08:49:61 GMT", -1 },
	{ "Sun, 06 Nov 1994 99:99:99 GMT", -1 },
	{ "Sunday, 06-Nov-1994 08:49:37 GMT", -1 },
	{ "Sunday, 06 Nov 94 08:49:37 GMT", -1 },
	{ "Sunday, 06-Nov-94 08:49:37 GMT ", -1 },
	{ "Sunday, 06-Nov-94 08:49:37 UTC", -1 },
	{ "Sunday, 31-Apr-94 08:49:37 GMT", -1 },
	{ "Sun, 06-Nov-94 08:49:37 GMT", -1 },
	{ "Sundae, 06-Nov-94 08:49:37 GMT", -1 },
	{ "Sun Nov 6 08:49:37 1994", -1 },
	{ "Sun Nov  6 08:49:37 1994 ", -1 },
	{ "Sun Nov  6 08:49:37 94", -1 },
	{ "Sun Nov x6 08:49:37 1994", -1 },
	{ "Sun Nov 31 08:49:37 1994", -1 },
	{ "Sun Nov  6 25:49:37 1994", -1 },
	{ "Sun Nov  6 08:49:37 GMT ", -1 },
};

/* Each date parses to its time or is refused, also from a guarded buffer. */
START_TEST(test_date_parse)
{
	const struct date_vec	*v = &date_vecs[_i];
	size_t			 len = strlen(v->s), i;

	ck_assert_msg(http_date_parse(guard_place(v->s, len), len) == v->t,
	    "\"%s\" gave %lld", v->s,
	    (long long)http_date_parse(v->s, len));
	/* No prefix of a date is one. */
	if (v->t != -1)
		for (i = 0; i < len; i++)
			ck_assert(http_date_parse(guard_place(v->s, i), i) ==
			    (time_t)-1);
}
END_TEST

/* Formatting and parsing are inverse over a wide range of times. */
START_TEST(test_date_roundtrip)
{
	char	out[30];
	time_t	t;

	for (t = -2208988800LL; t < 4102444800LL; t += 86400 * 7 + 3607) {
		http_date_format(t, out);
		ck_assert_msg(http_date_parse(out, 29) == t, "%s", out);
	}
	http_date_format((time_t)253402300799LL, out);
	ck_assert(http_date_parse(out, 29) == (time_t)253402300799LL);
}
END_TEST

/* The suite for http.c. */
/* A backend's 101, and what a response head may not be. */
START_TEST(test_parse_response)
{
	static const char	 ok[] = "HTTP/1.1 101 Switching Protocols\r\n"
	    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\nFRAME";
	struct http_request	 h;
	const struct http_header *v;
	const char		*g;
	size_t			 i, len = sizeof(ok) - 1;
	int			 status = 0;

	g = guard_place(ok, len);
	ck_assert_int_eq(http_parse_response(g, len, BIG, &status, &h),
	    (int)len - 5);
	ck_assert_int_eq(status, 101);
	ck_assert_uint_eq(h.nheaders, 3);
	ck_assert_ptr_nonnull(v = http_header_find(&h, "sec-websocket-accept"));
	ck_assert_int_eq(strncmp(v->value, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
	    v->value_len), 0);
	ck_assert(http_header_has_token(&h, "Connection", "upgrade"));
	/* Every prefix is incomplete, read right up to the guard page. */
	for (i = 0; i < len - 5; i++) {
		g = guard_place(ok, i);
		ck_assert_int_eq(http_parse_response(g, i, BIG, &status, &h),
		    HTTP_PARTIAL);
	}
	/* No reason phrase, bare LF, another status. */
	g = guard_place(S("HTTP/1.0 404\nA: b\n\n"));
	ck_assert_int_eq(http_parse_response(g, 19, BIG, &status, &h), 19);
	ck_assert_int_eq(status, 404);
	g = guard_place(S("HTTP/2 101 x\r\n\r\n"));
	ck_assert_int_eq(http_parse_response(g, 16, BIG, &status, &h),
	    HTTP_ERR_BAD_REQUEST);
	g = guard_place(S("HTTP/1.1 1x1 x\r\n\r\n"));
	ck_assert_int_eq(http_parse_response(g, 18, BIG, &status, &h),
	    HTTP_ERR_BAD_REQUEST);
	g = guard_place(S("HTTP/1.1 101 x\r\nBad Name: v\r\n\r\n"));
	ck_assert_int_eq(http_parse_response(g, 31, BIG, &status, &h),
	    HTTP_ERR_BAD_REQUEST);
	/* Past max_head without its end: too big, not partial. */
	g = guard_place(ok, len);
	ck_assert_int_eq(http_parse_response(g, len, 40, &status, &h),
	    HTTP_ERR_HEADERS_TOO_BIG);
}
END_TEST

Suite *
http_suite(void)
{
	Suite	*s = suite_create("http");
	TCase	*tc;

	tc = tcase_create("parse");
	tcase_add_loop_test(tc, test_parse_valid, 0, NELEM(valid_reqs));
	tcase_add_test(tc, test_parse_fields);
	tcase_add_test(tc, test_parse_query);
	tcase_add_test(tc, test_parse_pipelined);
	tcase_add_loop_test(tc, test_parse_bad, 0, NELEM(bad_reqs));
	tcase_add_test(tc, test_parse_random);
	tcase_add_test(tc, test_parse_incremental);
	tcase_add_test(tc, test_parse_incremental_long);
	tcase_add_loop_test(tc, test_request_check, 0, NELEM(check_vecs));
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_add_test(tc, test_limit_request_line);
	tcase_add_test(tc, test_limit_early);
	tcase_add_test(tc, test_limit_leading_lines);
	tcase_add_test(tc, test_limit_header_count);
	tcase_add_test(tc, test_limit_request_line_cap);
	suite_add_tcase(s, tc);

	tc = tcase_create("headers");
	tcase_add_test(tc, test_header_find);
	tcase_add_test(tc, test_header_has_token);
	tcase_add_test(tc, test_method_is);
	suite_add_tcase(s, tc);

	tc = tcase_create("path");
	tcase_add_loop_test(tc, test_path_decode, 0, NELEM(path_vecs));
	tcase_add_test(tc, test_path_decode_capacity);
	tcase_add_test(tc, test_uri_encode);
	suite_add_tcase(s, tc);

	tc = tcase_create("misc");
	tcase_add_test(tc, test_status_text);
	tcase_add_test(tc, test_parse_response);
	tcase_add_test(tc, test_date_format);
	tcase_add_loop_test(tc, test_date_parse, 0, NELEM(date_vecs));
	tcase_add_test(tc, test_date_roundtrip);
	suite_add_tcase(s, tc);
	return s;
}
