/* http.c -- pure HTTP/1.1 request parser and response helpers. */
#include <limits.h>
#include <stddef.h>
#include <string.h>
#include <time.h>

#include "http.h"

/* Internal result of the line parsers: one header line or the empty line. */
#define HTTP_LINE_HEADER	1
#define HTTP_LINE_END		2

static const char *const http_wdays[7] = {
	"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"
};
static const char *const http_wdays_long[7] = {
	"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
	"Saturday"
};
static const char *const http_months[12] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
};

static const struct {
	int		 status;
	const char	*text;
} http_statuses[] = {
	{ 101, "Switching Protocols" },
	{ 200, "OK" },
	{ 204, "No Content" },
	{ 206, "Partial Content" },
	{ 301, "Moved Permanently" },
	{ 302, "Found" },
	{ 304, "Not Modified" },
	{ 400, "Bad Request" },
	{ 401, "Unauthorized" },
	{ 403, "Forbidden" },
	{ 404, "Not Found" },
	{ 405, "Method Not Allowed" },
	{ 408, "Request Timeout" },
	{ 411, "Length Required" },
	{ 413, "Content Too Large" },
	{ 414, "URI Too Long" },
	{ 416, "Range Not Satisfiable" },
	{ 426, "Upgrade Required" },
	{ 429, "Too Many Requests" },
	{ 431, "Request Header Fields Too Large" },
	{ 500, "Internal Server Error" },
	{ 501, "Not Implemented" },
	{ 503, "Service Unavailable" },
	{ 505, "HTTP Version Not Supported" },
};

/* ASCII letter or digit, independent of the locale. */
static int
http_is_alnum(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
	    (c >= 'a' && c <= 'z');
}

/* RFC 7230 3.2.6: tchar, the characters of a token. */
int
http_is_tchar(unsigned char c)
{
	if (http_is_alnum(c))
		return 1;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Whether s is a non-empty RFC 7230 3.2.6 token. */
int
http_token_valid(const char *s, size_t len)
{
	size_t	i;

	if (len == 0)
		return 0;
	for (i = 0; i < len; i++)
		if (!http_is_tchar((unsigned char)s[i]))
			return 0;
	return 1;
}

/* ASCII lower case, independent of the locale. */
static unsigned char
http_lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* 1 if a and b (n bytes each) are equal ignoring ASCII case. */
static int
http_caseeq(const char *a, const char *b, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (http_lower((unsigned char)a[i]) !=
		    http_lower((unsigned char)b[i]))
			return 0;
	return 1;
}

/* Parses the request line at *pp; advances *pp past its end of line. */
static int
http_parse_request_line(const char **pp, const char *end,
    struct http_request *req)
{
	static const char	 prefix[] = "HTTP/";
	const char		*p = *pp, *start, *q;
	int			 major, minor;
	size_t			 i;

	/* method = token, then exactly one SP. */
	for (start = p; p != end && http_is_tchar((unsigned char)*p); p++)
		;
	if (p == end)
		return HTTP_PARTIAL;
	if (p == start || *p != ' ')
		return HTTP_ERR_BAD_REQUEST;
	req->method = start;
	req->method_len = (size_t)(p - start);
	p++;

	/* origin-form only: '/' then visible ASCII. */
	if (p == end)
		return HTTP_PARTIAL;
	if (*p != '/')
		return HTTP_ERR_BAD_REQUEST;
	for (start = p; p != end && (unsigned char)*p > 0x20 &&
	    (unsigned char)*p < 0x7f; p++)
		;
	if (p == end)
		return HTTP_PARTIAL;
	if (*p != ' ')
		return HTTP_ERR_BAD_REQUEST;
	req->target = start;
	req->target_len = (size_t)(p - start);
	p++;

	/* RFC 7230 2.6: HTTP-version = "HTTP/" DIGIT "." DIGIT */
	for (i = 0; i < sizeof(prefix) - 1; i++, p++) {
		if (p == end)
			return HTTP_PARTIAL;
		if (*p != prefix[i])
			return HTTP_ERR_BAD_REQUEST;
	}
	if (p == end)
		return HTTP_PARTIAL;
	if (*p < '0' || *p > '9')
		return HTTP_ERR_BAD_REQUEST;
	major = *p++ - '0';
	if (p == end)
		return HTTP_PARTIAL;
	if (*p++ != '.')
		return HTTP_ERR_BAD_REQUEST;
	if (p == end)
		return HTTP_PARTIAL;
	if (*p < '0' || *p > '9')
		return HTTP_ERR_BAD_REQUEST;
	minor = *p++ - '0';

	if (p == end)
		return HTTP_PARTIAL;
	if (*p == '\r') {
		if (++p == end)
			return HTTP_PARTIAL;
		if (*p != '\n')
			return HTTP_ERR_BAD_REQUEST;
	} else if (*p != '\n')
		return HTTP_ERR_BAD_REQUEST;
	p++;

	if (major != 1 || minor > 1)
		return HTTP_ERR_VERSION;
	req->minor_version = minor;

	req->path = req->target;
	if ((q = memchr(req->target, '?', req->target_len)) != NULL) {
		req->path_len = (size_t)(q - req->target);
		req->query = q + 1;
		req->query_len = req->target_len - req->path_len - 1;
	} else
		req->path_len = req->target_len;
	*pp = p;
	return HTTP_LINE_HEADER;
}

/*
 * Parses one header line, or the empty line that ends the head, at *pp
 * into h. Returns HTTP_LINE_HEADER, HTTP_LINE_END, HTTP_PARTIAL or an
 * error.
 */
static int
http_parse_header_line(const char **pp, const char *end,
    struct http_header *h)
{
	const char		*p = *pp, *name, *value, *vend;
	size_t			 name_len;
	unsigned char		 c;

	if (p == end)
		return HTTP_PARTIAL;
	if (*p == '\r') {
		if (++p == end)
			return HTTP_PARTIAL;
		if (*p != '\n')
			return HTTP_ERR_BAD_REQUEST;
		*pp = p + 1;
		return HTTP_LINE_END;
	}
	if (*p == '\n') {
		*pp = p + 1;
		return HTTP_LINE_END;
	}
	/* RFC 9112 5.2: obs-fold in a request is rejected with 400. */
	if (*p == ' ' || *p == '\t')
		return HTTP_ERR_BAD_REQUEST;

	/* RFC 9112 5.1: no whitespace between field-name and colon. */
	for (name = p; p != end && http_is_tchar((unsigned char)*p); p++)
		;
	if (p == end)
		return HTTP_PARTIAL;
	if (p == name || *p != ':')
		return HTTP_ERR_BAD_REQUEST;
	name_len = (size_t)(p - name);
	p++;

	while (p != end && (*p == ' ' || *p == '\t'))
		p++;
	value = vend = p;
	for (;;) {
		if (p == end)
			return HTTP_PARTIAL;
		c = (unsigned char)*p;
		if (c == '\r') {
			/* RFC 9112 2.2: a bare CR is an error. */
			if (p + 1 == end)
				return HTTP_PARTIAL;
			if (p[1] != '\n')
				return HTTP_ERR_BAD_REQUEST;
			p += 2;
			break;
		}
		if (c == '\n') {
			p++;
			break;
		}
		p++;
		if (c == ' ' || c == '\t')
			continue;
		/* field-vchar = VCHAR / obs-text; other controls are refused. */
		if (c < 0x21 || c == 0x7f)
			return HTTP_ERR_BAD_REQUEST;
		vend = p;
	}

	h->name = name;
	h->name_len = name_len;
	h->value = value;
	h->value_len = (size_t)(vend - value);
	*pp = p;
	return HTTP_LINE_HEADER;
}

/*
 * Looks for the LF that ends a line, from p on. Controls other than HTAB
 * and a CR not followed by LF cannot be in any line of a head: refused as
 * soon as they arrive (a TLS ClientHello on a plain port gets its 400 at
 * once). Returns HTTP_LINE_END with *nl at the LF, HTTP_PARTIAL with *nl
 * where the next call must look again, or HTTP_ERR_BAD_REQUEST.
 */
static int
http_line_scan(const char *p, const char *end, const char **nl)
{
	unsigned char	c;

	for (; p != end; p++) {
		c = (unsigned char)*p;
		if (c == '\n') {
			*nl = p;
			return HTTP_LINE_END;
		}
		if (c == '\r') {
			if (p + 1 == end)
				break;
			if (p[1] != '\n')
				return HTTP_ERR_BAD_REQUEST;
		} else if ((c < 0x20 && c != '\t') || c == 0x7f)
			return HTTP_ERR_BAD_REQUEST;
	}
	*nl = p;
	return HTTP_PARTIAL;
}

/* Starts the parse of a new request head. */
void
http_parser_init(struct http_parser *hp)
{
	memset(hp, 0, sizeof(*hp));
}

/* Fills req from the offsets a complete parse recorded. */
static void
http_parser_fill(const struct http_parser *hp, const char *buf,
    struct http_request *req)
{
	const char	*q;
	size_t		 i;

	req->method = buf + hp->method[0];
	req->method_len = hp->method[1];
	req->target = req->path = buf + hp->target[0];
	req->target_len = req->path_len = hp->target[1];
	req->query = NULL;
	req->query_len = 0;
	if ((q = memchr(req->target, '?', req->target_len)) != NULL) {
		req->path_len = (size_t)(q - req->target);
		req->query = q + 1;
		req->query_len = req->target_len - req->path_len - 1;
	}
	req->minor_version = hp->minor_version;
	req->nheaders = hp->nheaders;
	for (i = 0; i < hp->nheaders; i++) {
		req->headers[i].name = buf + hp->hdr[i][0];
		req->headers[i].name_len = hp->hdr[i][1];
		req->headers[i].value = buf + hp->hdr[i][2];
		req->headers[i].value_len = hp->hdr[i][3];
	}
}

/*
 * Parses what has arrived of a request head since the last call: whole
 * lines only, each looked at once (see http.h).
 */
int
http_parser_feed(struct http_parser *hp, const char *buf, size_t len,
    size_t max_head, struct http_request *req)
{
	struct http_request	 line;
	struct http_header	 h;
	const char		*p, *end, *lend, *nl, *from;
	size_t			 limit = max_head;
	int			 r;

	if (limit > INT_MAX)
		limit = INT_MAX;
	/*
	 * Nothing past the limit is looked at: a head that is not complete
	 * within the first max_head bytes is too long whatever follows.
	 */
	end = buf + (len < limit ? len : limit);
	for (;;) {
		p = buf + hp->off;
		if (p >= end)
			break;
		if (!hp->line1) {
			/* RFC 9112 2.2: empty lines before the request line. */
			if (*p == '\n') {
				hp->off++;
				continue;
			}
			if (*p == '\r') {
				if (p + 1 == end)
					break;
				if (p[1] != '\n')
					return HTTP_ERR_BAD_REQUEST;
				hp->off += 2;
				continue;
			}
		} else if (*p != '\r' && *p != '\n') {
			if (*p == ' ' || *p == '\t')
				return HTTP_ERR_BAD_REQUEST;	/* obs-fold */
			if (hp->nheaders == HTTP_MAX_HEADERS)
				return HTTP_ERR_HEADERS_TOO_BIG;
		}
		/*
		 * The rest of the line; what was searched before is not. The
		 * request line is not searched past its own limit.
		 */
		from = buf + (hp->scan > hp->off ? hp->scan : hp->off);
		lend = end;
		if (!hp->line1 && (size_t)(end - p) > HTTP_MAX_REQUEST_LINE)
			lend = p + HTTP_MAX_REQUEST_LINE;
		if ((r = http_line_scan(from, lend, &nl)) < 0)
			return r;
		if (r == HTTP_PARTIAL) {
			if (lend != end)
				return HTTP_ERR_URI_TOO_LONG;
			hp->scan = (size_t)(nl - buf);
			break;
		}
		hp->scan = (size_t)(nl + 1 - buf);
		if (!hp->line1) {
			r = http_parse_request_line(&p, nl + 1, &line);
			if (r < 0)
				return r;
			if (r != HTTP_LINE_HEADER || p != nl + 1)
				return HTTP_ERR_BAD_REQUEST;
			hp->method[0] = (uint32_t)(line.method - buf);
			hp->method[1] = (uint32_t)line.method_len;
			hp->target[0] = (uint32_t)(line.target - buf);
			hp->target[1] = (uint32_t)line.target_len;
			hp->minor_version = line.minor_version;
			hp->line1 = 1;
		} else {
			r = http_parse_header_line(&p, nl + 1, &h);
			if (r < 0)
				return r;
			if (r == HTTP_PARTIAL || p != nl + 1)
				return HTTP_ERR_BAD_REQUEST;
			if (r == HTTP_LINE_END) {
				hp->off = (size_t)(p - buf);
				http_parser_fill(hp, buf, req);
				return (int)hp->off;
			}
			hp->hdr[hp->nheaders][0] = (uint32_t)(h.name - buf);
			hp->hdr[hp->nheaders][1] = (uint32_t)h.name_len;
			hp->hdr[hp->nheaders][2] = (uint32_t)(h.value - buf);
			hp->hdr[hp->nheaders][3] = (uint32_t)h.value_len;
			hp->nheaders++;
		}
		hp->off = (size_t)(p - buf);
	}
	/* Incomplete: too long once the bytes given pass the limit. */
	if (len > limit)
		return hp->line1 ? HTTP_ERR_HEADERS_TOO_BIG :
		    HTTP_ERR_URI_TOO_LONG;
	return HTTP_PARTIAL;
}

/* Parses one request head from buf; see http.h. */
int
http_parse_request(const char *buf, size_t len, size_t max_head,
    struct http_request *req)
{
	struct http_parser	hp;

	http_parser_init(&hp);
	return http_parser_feed(&hp, buf, len, max_head, req);
}

/* Parses the status line "HTTP/1.x SSS reason" at *pp up to end. */
static int
http_parse_status_line(const char **pp, const char *end, int *status)
{
	const char	*p = *pp;
	int		 i, v = 0;

	if (end - p < 12)
		return HTTP_PARTIAL;
	if (memcmp(p, "HTTP/1.", 7) != 0 || (p[7] != '0' && p[7] != '1') ||
	    p[8] != ' ')
		return HTTP_ERR_BAD_REQUEST;
	for (i = 9; i < 12; i++) {
		if (p[i] < '0' || p[i] > '9')
			return HTTP_ERR_BAD_REQUEST;
		v = v * 10 + (p[i] - '0');
	}
	if (v < 100)
		return HTTP_ERR_BAD_REQUEST;
	*status = v;
	*pp = p + 12;
	return HTTP_LINE_HEADER;
}

/* Parses one response head from buf; see http.h. */
int
http_parse_response(const char *buf, size_t len, size_t max_head,
    int *status, struct http_request *hdrs)
{
	const char	*p = buf, *end, *nl;
	int		 r;

	if (len > max_head)
		len = max_head;
	end = buf + len;
	memset(hdrs, 0, offsetof(struct http_request, headers));
	hdrs->nheaders = 0;
	/* The status line: its reason phrase is anything up to the LF. */
	if ((nl = memchr(p, '\n', len)) == NULL)
		return len == max_head ? HTTP_ERR_HEADERS_TOO_BIG :
		    HTTP_PARTIAL;
	if ((r = http_parse_status_line(&p, nl + 1, status)) < 0)
		return r;
	if (r == HTTP_PARTIAL || (*p != ' ' && *p != '\r' && *p != '\n'))
		return HTTP_ERR_BAD_REQUEST;
	hdrs->method = buf;
	hdrs->method_len = (size_t)(p - buf);
	hdrs->target = hdrs->path = "";
	hdrs->minor_version = buf[7] - '0';
	p = nl + 1;
	for (;;) {
		if (hdrs->nheaders == HTTP_MAX_HEADERS && p != end &&
		    *p != '\r' && *p != '\n')
			return HTTP_ERR_HEADERS_TOO_BIG;
		r = http_parse_header_line(&p, end,
		    &hdrs->headers[hdrs->nheaders]);
		if (r == HTTP_PARTIAL)
			return len == max_head ? HTTP_ERR_HEADERS_TOO_BIG :
			    HTTP_PARTIAL;
		if (r < 0)
			return r;
		if (r == HTTP_LINE_END)
			return (int)(p - buf);
		hdrs->nheaders++;
	}
}

/* First header with that name (case-insensitive), or NULL. */
const struct http_header *
http_header_find(const struct http_request *req, const char *name)
{
	return http_header_next(req, name, NULL);
}

/* The next header called name after prev (NULL: the first). */
const struct http_header *
http_header_next(const struct http_request *req, const char *name,
    const struct http_header *prev)
{
	size_t	i = prev == NULL ? 0 : (size_t)(prev - req->headers) + 1;
	size_t	n = strlen(name);

	for (; i < req->nheaders; i++) {
		if (req->headers[i].name_len == n &&
		    http_caseeq(req->headers[i].name, name, n))
			return &req->headers[i];
	}
	return NULL;
}

/* How many headers are called name. */
size_t
http_header_count(const struct http_request *req, const char *name)
{
	const struct http_header	*h = NULL;
	size_t				 n = 0;

	while ((h = http_header_next(req, name, h)) != NULL)
		n++;
	return n;
}

/* Steps to the next element of a comma-separated list (RFC 7230 7). */
int
http_list_next(const char **p, const char *end, const char **elem,
    size_t *len)
{
	const char	*s, *t;

	if (*p >= end)
		return 0;
	if ((t = memchr(*p, ',', (size_t)(end - *p))) == NULL)
		t = end;
	s = *p;
	*p = t < end ? t + 1 : end;
	while (s < t && (*s == ' ' || *s == '\t'))
		s++;
	while (t > s && (t[-1] == ' ' || t[-1] == '\t'))
		t--;
	*elem = s;
	*len = (size_t)(t - s);
	return 1;
}

/* 1 if a header with that name lists token (RFC 7230 7: #rule). */
int
http_header_has_token(const struct http_request *req, const char *name,
    const char *token)
{
	const struct http_header	*h = NULL;
	const char			*p, *s;
	size_t				 tlen = strlen(token), slen;

	while ((h = http_header_next(req, name, h)) != NULL) {
		p = h->value;
		while (http_list_next(&p, h->value + h->value_len, &s, &slen))
			if (slen == tlen && http_caseeq(s, token, tlen))
				return 1;
	}
	return 0;
}

/*
 * RFC 9110 7.2, RFC 3986 3.2.2: Host = uri-host [ ":" port ], where
 * uri-host is an IP-literal in brackets or a reg-name (unreserved,
 * pct-encoded and sub-delims characters; empty is allowed).
 */
static int
http_host_valid(const char *s, size_t len)
{
	const char	*p = s, *end = s + len;
	const char	*extra = "-._~%!$&'()*+,;=";

	if (p != end && *p == '[') {
		/* IPv6, IPvFuture, a zone: letters, digits and ":.%". */
		extra = ":.%";
		p++;
	}
	while (p != end && *p != '\0' && (http_is_alnum((unsigned char)*p) ||
	    strchr(extra, *p) != NULL))
		p++;
	if (*s == '[') {
		if (p == end || *p != ']')
			return 0;
		p++;
	}
	if (p == end)
		return 1;
	if (*p++ != ':')
		return 0;
	for (; p != end; p++)
		if (*p < '0' || *p > '9')
			return 0;
	return 1;
}

/* RFC 9112 6.3 and 3.2: framing and Host; see http.h. */
int
http_request_check(const struct http_request *req, int *body,
    const char **why)
{
	const struct http_header	*h;
	size_t				 i;
	int				 b = 0;

	*body = 0;
	if (http_header_find(req, "Transfer-Encoding") != NULL) {
		*why = http_header_find(req, "Content-Length") != NULL ?
		    "Content-Length with Transfer-Encoding" :
		    "Transfer-Encoding not supported";
		return 400;
	}
	if ((h = http_header_find(req, "Content-Length")) != NULL) {
		if (http_header_count(req, "Content-Length") > 1) {
			*why = "repeated Content-Length";
			return 400;
		}
		/* 1*DIGIT, no sign, no list, at most 18 digits: no overflow. */
		if (h->value_len == 0 || h->value_len > 18) {
			*why = "invalid Content-Length";
			return 400;
		}
		for (i = 0; i < h->value_len; i++) {
			if (h->value[i] < '0' || h->value[i] > '9') {
				*why = "invalid Content-Length";
				return 400;
			}
			if (h->value[i] != '0')
				b = 1;
		}
	}
	switch (http_header_count(req, "Host")) {
	case 0:
		if (req->minor_version >= 1) {
			*why = "missing Host";
			return 400;
		}
		break;
	case 1:
		h = http_header_find(req, "Host");
		if (!http_host_valid(h->value, h->value_len)) {
			*why = "invalid Host";
			return 400;
		}
		break;
	default:
		*why = "repeated Host";
		return 400;
	}
	*body = b;
	*why = NULL;
	return 0;
}

/* 1 if the method equals m exactly (methods are case-sensitive). */
int
http_method_is(const struct http_request *req, const char *m)
{
	size_t	n = strlen(m);

	return req->method != NULL && req->method_len == n &&
	    memcmp(req->method, m, n) == 0;
}

/* Value of a hex digit, or -1. */
static int
http_hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The byte of the escape "%XX" at s (left bytes there), or -1. */
static int
http_pct_byte(const char *s, size_t left)
{
	int	hi, lo;

	if (left < 3 || (hi = http_hexval((unsigned char)s[1])) == -1 ||
	    (lo = http_hexval((unsigned char)s[2])) == -1)
		return -1;
	return hi << 4 | lo;
}

/* Percent-decodes a query component; see http.h. */
int
http_pct_decode(const char *s, size_t len, char *out, size_t outcap)
{
	size_t	i, o = 0;
	int	c;

	for (i = 0; i < len; i++) {
		if (o >= outcap || o >= INT_MAX)
			return -1;
		if (s[i] != '%') {
			out[o++] = s[i];
			continue;
		}
		if ((c = http_pct_byte(s + i, len - i)) == -1)
			return -1;
		out[o++] = (char)c;
		i += 2;
	}
	return (int)o;
}

/* 1 if the n bytes at s are the segment "." or "..". */
static int
http_is_dot_segment(const char *s, size_t n)
{
	return (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.');
}

/* Percent-decodes a request path into out; see http.h. */
int
http_path_decode(const char *path, size_t len, char *out, size_t outcap)
{
	size_t		i, o = 0, seg = 0;
	unsigned char	c;
	int		b;

	if (len == 0 || path[0] != '/' || outcap == 0)
		return -1;
	for (i = 0; i < len; i++) {
		c = (unsigned char)path[i];
		if (c == '%') {
			if ((b = http_pct_byte(path + i, len - i)) == -1)
				return -1;
			c = (unsigned char)b;
			i += 2;
			/* An encoded '/' would hide a segment boundary. */
			if (c == '/')
				return -1;
		}
		if (c == '\0')
			return -1;
		if (c == '/') {
			/* RFC 3986 5.2.4: dot segments are refused, not removed. */
			if (http_is_dot_segment(out + seg, o - seg))
				return -1;
			/*
			 * Empty segments are collapsed: "//host" must never
			 * reach a route or a redirect as a network path.
			 */
			if (o > 0 && out[o - 1] == '/')
				continue;
			seg = o + 1;
		}
		if (o + 1 >= outcap)
			return -1;
		out[o++] = (char)c;
	}
	if (http_is_dot_segment(out + seg, o - seg) || o > INT_MAX)
		return -1;
	out[o] = '\0';
	return (int)o;
}

/*
 * 1 if byte c stands for itself in a URI path (RFC 3986 3.3: pchar and
 * '/'); with query set, in a query (3.4: '?' too, and '%' since the query
 * is still encoded).
 */
static int
http_uri_keeps(unsigned char c, int query)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return 1;
	if (strchr("-._~!$&'()*+,;=:@/", c) != NULL)
		return c != '\0';
	return query && (c == '?' || c == '%');
}

/* Percent-encodes a decoded path or a raw query; see http.h. */
size_t
http_uri_encode(const char *s, size_t len, int query, char *out,
    size_t outcap)
{
	static const char hex[] = "0123456789ABCDEF";
	unsigned char	c;
	size_t		i, o = 0;
	char		enc[3];

	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if (http_uri_keeps(c, query)) {
			if (o + 1 < outcap)
				out[o] = (char)c;
			o++;
			continue;
		}
		enc[0] = '%';
		enc[1] = hex[c >> 4];
		enc[2] = hex[c & 0xf];
		if (o + 3 < outcap)
			memcpy(out + o, enc, 3);
		else if (o < outcap)
			outcap = o + 1;	/* never half an escape */
		o += 3;
	}
	if (outcap > 0)
		out[o < outcap ? o : outcap - 1] = '\0';
	return o;
}

/* Reason phrase for a status code; "Unknown" otherwise. */
const char *
http_status_text(int status)
{
	size_t	i;

	for (i = 0; i < sizeof(http_statuses) / sizeof(http_statuses[0]); i++)
		if (http_statuses[i].status == status)
			return http_statuses[i].text;
	return "Unknown";
}

/* Writes v as n decimal digits (zero padded) at out. */
static void
http_put_digits(char *out, int v, int n)
{
	while (n-- > 0) {
		out[n] = (char)('0' + v % 10);
		v /= 10;
	}
}

/* Formats t as an IMF-fixdate into out[30]. */
void
http_date_format(time_t t, char out[30])
{
	struct tm	tm;

	/* The format has four year digits: clamp to years 0000-9999. */
	if (gmtime_r(&t, &tm) == NULL || tm.tm_year > 9999 - 1900) {
		memcpy(out, "Fri, 31 Dec 9999 23:59:59 GMT", 30);
		return;
	}
	if (tm.tm_year < -1900) {
		memcpy(out, "Sat, 01 Jan 0000 00:00:00 GMT", 30);
		return;
	}
	memcpy(out, http_wdays[tm.tm_wday], 3);
	memcpy(out + 3, ", ", 2);
	http_put_digits(out + 5, tm.tm_mday, 2);
	out[7] = ' ';
	memcpy(out + 8, http_months[tm.tm_mon], 3);
	out[11] = ' ';
	http_put_digits(out + 12, tm.tm_year + 1900, 4);
	out[16] = ' ';
	http_put_digits(out + 17, tm.tm_hour, 2);
	out[19] = ':';
	http_put_digits(out + 20, tm.tm_min, 2);
	out[22] = ':';
	http_put_digits(out + 23, tm.tm_sec, 2);
	memcpy(out + 25, " GMT", 5);
}

/* Reads exactly n decimal digits at s into *v; -1 if any is not a digit. */
static int
http_get_digits(const char *s, int n, int *v)
{
	int	i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		*v = *v * 10 + (s[i] - '0');
	}
	return 0;
}

/* Month index of the three letters at s (case-sensitive), or -1. */
static int
http_get_month(const char *s)
{
	int	i;

	for (i = 0; i < 12; i++)
		if (memcmp(s, http_months[i], 3) == 0)
			return i;
	return -1;
}

/* 1 if the three letters at s are a day name (case-sensitive). */
static int
http_is_wday(const char *s)
{
	int	i;

	for (i = 0; i < 7; i++)
		if (memcmp(s, http_wdays[i], 3) == 0)
			return 1;
	return 0;
}

/* Reads "HH:MM:SS" at s into tm. */
static int
http_get_time(const char *s, struct tm *tm)
{
	if (http_get_digits(s, 2, &tm->tm_hour) == -1 || s[2] != ':' ||
	    http_get_digits(s + 3, 2, &tm->tm_min) == -1 || s[5] != ':' ||
	    http_get_digits(s + 6, 2, &tm->tm_sec) == -1)
		return -1;
	return 0;
}

/* Number of days in month mon (0-11) of year. */
static int
http_month_days(int mon, int year)
{
	static const int	days[12] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};

	if (mon == 1 && ((year % 4 == 0 && year % 100 != 0) ||
	    year % 400 == 0))
		return 29;
	return days[mon];
}

/* Parses an HTTP date (RFC 7231 7.1.1.1); (time_t)-1 when invalid. */
time_t
http_date_parse(const char *s, size_t len)
{
	struct tm	tm;
	size_t		i;
	int		year;

	memset(&tm, 0, sizeof(tm));
	if (len == 29) {
		/* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" */
		if (!http_is_wday(s) || memcmp(s + 3, ", ", 2) != 0 ||
		    http_get_digits(s + 5, 2, &tm.tm_mday) == -1 ||
		    s[7] != ' ' || (tm.tm_mon = http_get_month(s + 8)) == -1 ||
		    s[11] != ' ' || http_get_digits(s + 12, 4, &year) == -1 ||
		    s[16] != ' ' || http_get_time(s + 17, &tm) == -1 ||
		    memcmp(s + 25, " GMT", 4) != 0)
			return (time_t)-1;
	} else if (len == 24) {
		/* asctime: "Sun Nov  6 08:49:37 1994" */
		if (!http_is_wday(s) || s[3] != ' ' ||
		    (tm.tm_mon = http_get_month(s + 4)) == -1 || s[7] != ' ')
			return (time_t)-1;
		if (s[8] == ' ') {
			if (http_get_digits(s + 9, 1, &tm.tm_mday) == -1)
				return (time_t)-1;
		} else if (http_get_digits(s + 8, 2, &tm.tm_mday) == -1)
			return (time_t)-1;
		if (s[10] != ' ' || http_get_time(s + 11, &tm) == -1 ||
		    s[19] != ' ' || http_get_digits(s + 20, 4, &year) == -1)
			return (time_t)-1;
	} else {
		/* RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT" */
		for (i = 0; i < 7; i++) {
			if (len == strlen(http_wdays_long[i]) + 24 &&
			    memcmp(s, http_wdays_long[i], len - 24) == 0)
				break;
		}
		if (i == 7)
			return (time_t)-1;
		s += len - 24;
		if (memcmp(s, ", ", 2) != 0 ||
		    http_get_digits(s + 2, 2, &tm.tm_mday) == -1 ||
		    s[4] != '-' || (tm.tm_mon = http_get_month(s + 5)) == -1 ||
		    s[8] != '-' || http_get_digits(s + 9, 2, &year) == -1 ||
		    s[11] != ' ' || http_get_time(s + 12, &tm) == -1 ||
		    memcmp(s + 20, " GMT", 4) != 0)
			return (time_t)-1;
		/* Two-digit years: 70-99 are 19xx, 00-69 are 20xx. */
		year += year < 70 ? 2000 : 1900;
	}

	/* RFC 7231 7.1.1.1: second 00-60 allows a leap second. */
	if (tm.tm_mday < 1 || tm.tm_mday > http_month_days(tm.tm_mon, year) ||
	    tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
		return (time_t)-1;
	tm.tm_year = year - 1900;
	return timegm(&tm);
}
