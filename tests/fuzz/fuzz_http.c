/*
 * fuzz_http.c -- libFuzzer target for the HTTP request parser and the
 * pure code that reads a parsed request: header lookup, tokens, path
 * decoding and the redirect built from it, dates, Range and If-Range,
 * the WebSocket handshake and subprotocol choice, the access rules
 * (Origin, bearer tokens, the redacted log target). The input also goes
 * through the token file parser.
 *
 * Input: 2 bytes of max_head, then the request bytes. The request is
 * copied into a buffer of its exact size so that ASan sees any read past
 * its end.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "http.h"
#include "static.h"
#include "ws.h"
#include "fuzz.h"

/* Prefixes longer than this are checked at a few points, not all. */
#define FUZZ_HTTP_ALL_PREFIXES	512

/* 1 if p..p+n lies inside base..base+len. */
static int
fuzz_inside(const char *base, size_t len, const char *p, size_t n)
{
	return p >= base && n <= len && (size_t)(p - base) <= len - n;
}

/* The access rules and subprotocols on a parsed request. */
static void
fuzz_http_access(const struct http_request *req)
{
	static char *const origins[] = {
		"https://example.org", "http://127.0.0.1:8080",
	};
	static char *const protos[] = { "chat", "v2.json" };
	static const char tokens[] = "# tokens\nsecret-1\n\n  s3cr3t  \n";
	struct access_tokens *t;
	const char	*why = NULL;
	char		*cause = NULL, out[64], *big;
	size_t		 n, sel = 99;
	int		 r;

	r = access_origin_check(req, origins, 2, 1, &why);
	FUZZ_CHECK(r == 1 || (r == 0 && why != NULL));
	FUZZ_CHECK(access_origin_check(req, origins, 0, 0, &why) == 1);
	r = ws_subprotocol_select(req, protos, 2, &sel);
	FUZZ_CHECK(r == -1 || r == 0 || (r == 1 && sel < 2));

	FUZZ_CHECK((t = access_tokens_parse(tokens, sizeof(tokens) - 1,
	    &cause)) != NULL && t->n == 2);
	(void)access_token_check(t, req);
	access_tokens_free(t);

	/* Cut to fit, NUL-terminated; the whole result never holds less. */
	n = access_target_redact(req->target, req->target_len, out,
	    sizeof(out));
	FUZZ_CHECK(strlen(out) == (n < sizeof(out) ? n : sizeof(out) - 1));
	if ((big = malloc(n + 1)) != NULL) {
		FUZZ_CHECK(access_target_redact(req->target, req->target_len,
		    big, n + 1) == n && strlen(big) == n);
		FUZZ_CHECK(strncmp(big, out, strlen(out)) == 0);
		free(big);
	}
}

/* Range and If-Range against a few file sizes (RFC 9110 14). */
static void
fuzz_http_range(const struct http_request *req)
{
	static const off_t sizes[] = { 0, 1, 10, 1000, (off_t)1 << 40 };
	const struct http_header *h = NULL;
	off_t		 first, last;
	size_t		 i;
	int		 r;

	while ((h = http_header_next(req, "Range", h)) != NULL) {
		for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			first = last = -7;
			r = static_range_parse(h->value, h->value_len, sizes[i],
			    &first, &last);
			FUZZ_CHECK(r == STATIC_RANGE_IGNORE ||
			    r == STATIC_RANGE_OK ||
			    r == STATIC_RANGE_UNSATISFIABLE);
			if (r == STATIC_RANGE_OK)
				FUZZ_CHECK(0 <= first && first <= last &&
				    last < sizes[i]);
			else
				FUZZ_CHECK(first == -7 && last == -7);
		}
	}
	r = static_if_range(req, "\"5f5e1000-6\"", 1600000000, 1600000100);
	FUZZ_CHECK(r == 0 || r == 1);
}

/* The Location of a directory redirect from a decoded path. */
static void
fuzz_http_redirect(const struct http_request *req, const char *path)
{
	char	*loc;
	size_t	 i;

	if ((loc = static_redirect(path, req->query, req->query_len)) == NULL)
		return;
	/* One leading '/', never a network path; one header line. */
	FUZZ_CHECK(loc[0] == '/' && loc[1] != '/');
	for (i = 0; loc[i] != '\0'; i++)
		FUZZ_CHECK((unsigned char)loc[i] > ' ' &&
		    (unsigned char)loc[i] < 0x7f && loc[i] != '#');
	FUZZ_CHECK(strstr(loc, "//") == NULL || (strchr(loc, '?') != NULL &&
	    strstr(loc, "//") > strchr(loc, '?')));
	(void)static_dotfile(path + 1, 1);
	free(loc);
}

/* The input as the text of an auth_token_file. */
static void
fuzz_http_token_file(const char *buf, size_t len)
{
	struct access_tokens *t;
	char		*cause = NULL;

	if ((t = access_tokens_parse(buf, len, &cause)) != NULL) {
		FUZZ_CHECK(t->n > 0 && cause == NULL);
		access_tokens_free(t);
	} else {
		FUZZ_CHECK(cause != NULL);
		free(cause);
	}
}

/* Checks what a complete request head points at and reads it around. */
static void
fuzz_http_request(const char *buf, size_t head, const struct http_request *req)
{
	const struct http_header *h;
	char		 path[HTTP_MAX_REQUEST_LINE], accept[WS_ACCEPT_LEN];
	const char	*reason = NULL;
	size_t		 i;
	int		 n, status, body;

	FUZZ_CHECK(req->method_len > 0 &&
	    fuzz_inside(buf, head, req->method, req->method_len));
	FUZZ_CHECK(req->target_len > 0 &&
	    fuzz_inside(buf, head, req->target, req->target_len));
	FUZZ_CHECK(req->target[0] == '/');
	FUZZ_CHECK(req->path == req->target && req->path_len <= req->target_len);
	if (req->query != NULL)
		FUZZ_CHECK(req->query == req->path + req->path_len + 1 &&
		    req->path_len + 1 + req->query_len == req->target_len);
	else
		FUZZ_CHECK(req->path_len == req->target_len);
	FUZZ_CHECK(req->minor_version == 0 || req->minor_version == 1);
	FUZZ_CHECK(req->nheaders <= HTTP_MAX_HEADERS);
	for (i = 0; i < req->nheaders; i++) {
		h = &req->headers[i];
		FUZZ_CHECK(h->name_len > 0 &&
		    fuzz_inside(buf, head, h->name, h->name_len));
		FUZZ_CHECK(fuzz_inside(buf, head, h->value, h->value_len));
		/* OWS is stripped: no leading or trailing blank. */
		if (h->value_len > 0) {
			FUZZ_CHECK(h->value[0] != ' ' && h->value[0] != '\t');
			FUZZ_CHECK(h->value[h->value_len - 1] != ' ' &&
			    h->value[h->value_len - 1] != '\t');
		}
		FUZZ_CHECK(memchr(h->value, '\n', h->value_len) == NULL);
		(void)http_date_parse(h->value, h->value_len);
	}
	if ((h = http_header_find(req, "Host")) != NULL)
		FUZZ_CHECK(h >= req->headers && h < req->headers + req->nheaders);
	(void)http_header_has_token(req, "Connection", "upgrade");
	(void)http_header_has_token(req, "Upgrade", "websocket");
	(void)http_method_is(req, "GET");

	n = http_path_decode(req->path, req->path_len, path, sizeof(path));
	if (n >= 0) {
		FUZZ_CHECK((size_t)n < sizeof(path) && path[n] == '\0');
		FUZZ_CHECK(strlen(path) == (size_t)n);
		FUZZ_CHECK(path[0] == '/');
		FUZZ_CHECK(strstr(path, "/../") == NULL &&
		    strstr(path, "/./") == NULL);
		FUZZ_CHECK(n < 3 || strcmp(path + n - 3, "/..") != 0);
		/* Empty segments are collapsed. */
		FUZZ_CHECK(strstr(path, "//") == NULL);
		fuzz_http_redirect(req, path);
	}
	fuzz_http_range(req);

	status = http_request_check(req, &body, &reason);
	FUZZ_CHECK((status == 0 && reason == NULL && (body == 0 ||
	    body == 1)) || (status == 400 && reason != NULL && body == 0));
	if (status == 0)
		FUZZ_CHECK(http_header_count(req, "Content-Length") <= 1 &&
		    http_header_count(req, "Host") <= 1 &&
		    http_header_find(req, "Transfer-Encoding") == NULL);

	fuzz_http_access(req);
	status = ws_handshake_check(req, accept, &reason);
	if (status == 0)
		FUZZ_CHECK(strlen(accept) == WS_ACCEPT_LEN - 1);
	else
		FUZZ_CHECK((status == 400 || status == 405 || status == 426) &&
		    reason != NULL);
}

/*
 * Feeds buf to one parser in pieces whose sizes come from the seed bytes,
 * as reads would bring it; returns the final result.
 */
static int
fuzz_http_pieces(const char *buf, size_t len, size_t max_head,
    const uint8_t *seed, size_t seedlen)
{
	struct http_parser	 hp;
	struct http_request	 req;
	size_t			 n = 0, i = 0;
	int			 r = HTTP_PARTIAL;

	http_parser_init(&hp);
	while (r == HTTP_PARTIAL && n < len) {
		n += 1 + (seedlen > 0 ? seed[i++ % seedlen] % 64 : 0);
		if (n > len)
			n = len;
		r = http_parser_feed(&hp, buf, n, max_head, &req);
	}
	if (len == 0)
		r = http_parser_feed(&hp, buf, 0, max_head, &req);
	return r;
}

/*
 * The input as a backend's response head: a result in range, headers
 * inside the head, every prefix of a complete head incomplete.
 */
static void
fuzz_http_response(const char *buf, size_t len, size_t max_head)
{
	struct http_request	 h;
	size_t			 i;
	int			 r, status;

	r = http_parse_response(buf, len, max_head, &status, &h);
	FUZZ_CHECK(r == HTTP_PARTIAL || r == HTTP_ERR_BAD_REQUEST ||
	    r == HTTP_ERR_HEADERS_TOO_BIG || r > 0);
	if (r <= 0)
		return;
	FUZZ_CHECK((size_t)r <= len && (size_t)r <= max_head);
	FUZZ_CHECK(status >= 100 && status <= 999);
	FUZZ_CHECK(h.nheaders <= HTTP_MAX_HEADERS);
	for (i = 0; i < h.nheaders; i++)
		FUZZ_CHECK(fuzz_inside(buf, (size_t)r, h.headers[i].name,
		    h.headers[i].name_len) && fuzz_inside(buf, (size_t)r,
		    h.headers[i].value, h.headers[i].value_len));
	for (i = 0; i < (size_t)r && i < FUZZ_HTTP_ALL_PREFIXES; i++)
		FUZZ_CHECK(http_parse_response(buf, i, max_head, &status,
		    &h) == HTTP_PARTIAL);
}

/* Parses the input; checks results, pointers and prefix behaviour. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input	 in = { data, size };
	struct http_request	 req, req2;
	size_t			 max_head, k, step;
	char			*buf;
	int			 r, r2;

	max_head = 16 + (size_t)(fuzz_take(&in, 2) % 8192);
	if ((buf = malloc(in.len ? in.len : 1)) == NULL)
		return 0;
	memcpy(buf, in.data, in.len);

	r = http_parse_request(buf, in.len, max_head, &req);
	FUZZ_CHECK(r == HTTP_PARTIAL || r == HTTP_ERR_BAD_REQUEST ||
	    r == HTTP_ERR_URI_TOO_LONG || r == HTTP_ERR_HEADERS_TOO_BIG ||
	    r == HTTP_ERR_VERSION || r > 0);
	if (r > 0) {
		FUZZ_CHECK((size_t)r <= in.len && (size_t)r <= max_head);
		fuzz_http_request(buf, (size_t)r, &req);
		/* The head does not depend on what follows it... */
		r2 = http_parse_request(buf, (size_t)r, max_head, &req2);
		FUZZ_CHECK(r2 == r && req2.nheaders == req.nheaders);
		/* ...and none of its prefixes is complete or an error. */
		step = (size_t)r <= FUZZ_HTTP_ALL_PREFIXES ? 1 :
		    (size_t)r / 16;
		for (k = 0; k < (size_t)r; k += step) {
			r2 = http_parse_request(buf, k, max_head, &req2);
			FUZZ_CHECK(r2 == HTTP_PARTIAL);
		}
	} else if (r == HTTP_PARTIAL)
		/* Incomplete input within the limit is never too big. */
		FUZZ_CHECK(in.len <= max_head);
	/* Fed in pieces of sizes drawn from the input: the same answer. */
	FUZZ_CHECK(fuzz_http_pieces(buf, in.len, max_head, data, size) == r);
	fuzz_http_token_file(buf, in.len);
	fuzz_http_response(buf, in.len, max_head);
	free(buf);
	return 0;
}
