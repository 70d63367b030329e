/* static.c -- static files under a route's root: safe lookup, MIME, ETag. */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "http.h"
#include "static.h"

#define STATIC_OPEN_FLAGS	(O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)
#define STATIC_INDEX		"index.html"
#define STATIC_OFF_MAX		((off_t)(((uintmax_t)1 << \
				    (sizeof(off_t) * CHAR_BIT - 1)) - 1))
#define STATIC_WELL_KNOWN	".well-known"

static const struct {
	const char	*ext;
	const char	*mime;
} static_mimes[] = {
	{ "css",	"text/css; charset=utf-8" },
	{ "gif",	"image/gif" },
	{ "htm",	"text/html; charset=utf-8" },
	{ "html",	"text/html; charset=utf-8" },
	{ "ico",	"image/x-icon" },
	{ "jpeg",	"image/jpeg" },
	{ "jpg",	"image/jpeg" },
	{ "js",		"text/javascript; charset=utf-8" },
	{ "json",	"application/json; charset=utf-8" },
	{ "map",	"application/json; charset=utf-8" },
	{ "mjs",	"text/javascript; charset=utf-8" },
	{ "mp3",	"audio/mpeg" },
	{ "mp4",	"video/mp4" },
	{ "ogg",	"audio/ogg" },
	{ "pdf",	"application/pdf" },
	{ "png",	"image/png" },
	{ "svg",	"image/svg+xml; charset=utf-8" },
	{ "txt",	"text/plain; charset=utf-8" },
	{ "wasm",	"application/wasm" },
	{ "webm",	"video/webm" },
	{ "webp",	"image/webp" },
	{ "woff",	"font/woff" },
	{ "woff2",	"font/woff2" },
	{ "xml",	"text/xml; charset=utf-8" },
};

/* Maps a decoded request path to a path relative to the route's root. */
int
static_path_relative(const char *prefix, const char *path, char *out,
    size_t outcap)
{
	size_t	plen = strlen(prefix), rlen;

	if (strncmp(path, prefix, plen) != 0)
		return -1;
	/* "/static" matches "/static" and "/static/x", not "/staticx". */
	if (plen > 0 && prefix[plen - 1] != '/' && path[plen] != '\0' &&
	    path[plen] != '/')
		return -1;
	path += plen;
	while (*path == '/')
		path++;
	rlen = strlen(path);
	if (rlen >= outcap || rlen > INT_MAX)
		return -1;
	memcpy(out, path, rlen + 1);
	return (int)rlen;
}

/* MIME type for a file name by extension; application/octet-stream else. */
const char *
static_mime_type(const char *name)
{
	const char	*base, *dot;
	size_t		 i, n;

	base = (base = strrchr(name, '/')) != NULL ? base + 1 : name;
	if ((dot = strrchr(base, '.')) == NULL)
		return "application/octet-stream";
	dot++;
	n = strlen(dot);
	for (i = 0; i < sizeof(static_mimes) / sizeof(static_mimes[0]); i++) {
		if (strlen(static_mimes[i].ext) == n &&
		    strncasecmp(static_mimes[i].ext, dot, n) == 0)
			return static_mimes[i].mime;
	}
	return "application/octet-stream";
}

/* Quoted ETag from size and mtime, as nginx forms it. */
void
static_etag(char out[48], off_t size, time_t mtime)
{
	snprintf(out, 48, "\"%llx-%llx\"", (unsigned long long)mtime,
	    (unsigned long long)size);
}

/*
 * 1 if the If-None-Match list in [p, e) holds "*" or an entity tag equal to
 * etag by weak comparison (RFC 7232 2.3.2: W/ is ignored).
 */
static int
static_etag_match(const char *p, const char *e, const char *etag)
{
	const char	*tag, *q;
	size_t		 elen;

	if (etag[0] == 'W' && etag[1] == '/')
		etag += 2;
	elen = strlen(etag);
	for (;;) {
		while (p < e && (*p == ' ' || *p == '\t' || *p == ','))
			p++;
		if (p == e)
			return 0;
		if (*p == '*')
			return 1;
		if (e - p >= 2 && p[0] == 'W' && p[1] == '/')
			p += 2;
		/* entity-tag = [ W/ ] DQUOTE *etagc DQUOTE; etagc may be ','. */
		if (p == e || *p != '"')
			return 0;
		tag = p;
		if ((q = memchr(p + 1, '"', (size_t)(e - p - 1))) == NULL)
			return 0;
		p = q + 1;
		if ((size_t)(p - tag) == elen && memcmp(tag, etag, elen) == 0)
			return 1;
	}
}

/* Conditional GET (RFC 7232 6): 1 when 304 is the answer. */
int
static_not_modified(const struct http_request *req, const char *etag,
    time_t mtime)
{
	const struct http_header	*h = NULL;
	time_t				 since;
	int				 inm = 0;

	/* RFC 7232 3.2: If-None-Match may be split over several lines. */
	while ((h = http_header_next(req, "If-None-Match", h)) != NULL) {
		inm = 1;
		if (static_etag_match(h->value, h->value + h->value_len, etag))
			return 1;
	}
	/* RFC 7232 3.3: If-Modified-Since is ignored with If-None-Match. */
	if (inm)
		return 0;
	if ((h = http_header_find(req, "If-Modified-Since")) == NULL)
		return 0;
	if ((since = http_date_parse(h->value, h->value_len)) == (time_t)-1)
		return 0;
	return mtime <= since;
}

/* 1 if a relative path names a file or directory starting with '.'. */
int
static_dotfile(const char *rel, int top)
{
	const char	*s = rel;
	size_t		 n;

	for (;;) {
		while (*s == '/')
			s++;
		if (*s == '\0')
			return 0;
		n = strcspn(s, "/");
		/* RFC 8615: /.well-known/ is for everyone to read. */
		if (s[0] == '.' && !(top && s == rel &&
		    n == sizeof(STATIC_WELL_KNOWN) - 1 &&
		    memcmp(s, STATIC_WELL_KNOWN, n) == 0))
			return 1;
		s += n;
	}
}

/*
 * Reads the decimal digits at *p (at least one) into *v, saturating at
 * STATIC_OFF_MAX: a huge position is still past any file's end. -1 when
 * there is no digit.
 */
static int
static_range_num(const char **p, const char *e, off_t *v)
{
	const char	*s = *p;
	off_t		 n = 0;
	int		 d;

	if (s == e || *s < '0' || *s > '9')
		return -1;
	for (; s < e && *s >= '0' && *s <= '9'; s++) {
		d = *s - '0';
		n = n > (STATIC_OFF_MAX - d) / 10 ? STATIC_OFF_MAX : n * 10 + d;
	}
	*p = s;
	*v = n;
	return 0;
}

/*
 * One range-spec in [s, e): int-range "a-" or "a-b" (*a, and *b or -1) or
 * suffix-range "-n" (*a -1, *b n). -1 when malformed or when b < a (RFC
 * 9110 14.1.1: such a range-spec is invalid).
 */
static int
static_range_spec(const char *s, const char *e, off_t *a, off_t *b)
{
	*a = *b = -1;
	if (s < e && *s != '-' && static_range_num(&s, e, a) == -1)
		return -1;
	if (s == e || *s++ != '-')
		return -1;
	if (s < e && static_range_num(&s, e, b) == -1)
		return -1;
	if (s != e || (*a == -1 && *b == -1))
		return -1;
	if (*a != -1 && *b != -1 && *b < *a)
		return -1;
	return 0;
}

/* Reads a Range header value against a file of size bytes. */
int
static_range_parse(const char *v, size_t len, off_t size, off_t *first,
    off_t *last)
{
	const char	*p, *e = v + len, *elem;
	size_t		 n, count = 0;
	off_t		 a, b, fa = -1, fb = -1;

	/* RFC 9110 14.1: the unit is case-insensitive; bytes is ours. */
	if (len < 6 || strncasecmp(v, "bytes=", 6) != 0)
		return STATIC_RANGE_IGNORE;
	p = v + 6;
	while (http_list_next(&p, e, &elem, &n)) {
		/* RFC 9110 5.6.1.2: empty list elements do not count. */
		if (n == 0)
			continue;
		if (static_range_spec(elem, elem + n, &a, &b) == -1)
			return STATIC_RANGE_IGNORE;
		if (count++ == 0) {
			fa = a;
			fb = b;
		}
	}
	/* RFC 9110 14.2: a server may ignore Range; several get it all. */
	if (count != 1)
		return STATIC_RANGE_IGNORE;
	if (fa == -1) {
		/* RFC 9110 14.1.3: "-0" selects nothing. */
		if (fb == 0)
			return STATIC_RANGE_UNSATISFIABLE;
		/* An empty file has no byte to name in Content-Range. */
		if (size == 0)
			return STATIC_RANGE_IGNORE;
		*first = fb >= size ? 0 : size - fb;
		*last = size - 1;
		return STATIC_RANGE_OK;
	}
	if (fa >= size)
		return STATIC_RANGE_UNSATISFIABLE;
	*first = fa;
	*last = fb == -1 || fb >= size ? size - 1 : fb;
	return STATIC_RANGE_OK;
}

/* If-Range (RFC 9110 13.1.5): 1 when the range may apply. */
int
static_if_range(const struct http_request *req, const char *etag,
    time_t mtime, time_t now)
{
	const struct http_header	*h;
	size_t				 elen = strlen(etag);

	if ((h = http_header_find(req, "If-Range")) == NULL)
		return 1;
	if (http_header_count(req, "If-Range") != 1)
		return 0;
	/* An entity-tag compares strongly: W/ never matches. */
	if ((h->value_len > 0 && h->value[0] == '"') ||
	    (h->value_len > 1 && h->value[0] == 'W' && h->value[1] == '/'))
		return etag[0] == '"' && h->value_len == elen &&
		    memcmp(h->value, etag, elen) == 0;
	/*
	 * A date must equal Last-Modified, which is a strong validator only
	 * when at least a second old (RFC 9110 8.8.2.2).
	 */
	return http_date_parse(h->value, h->value_len) == mtime &&
	    mtime < now;
}

/* The Location of a directory redirect, malloc'd. */
char *
static_redirect(const char *path, const char *query, size_t query_len)
{
	char	*p, *out;
	size_t	 plen = strlen(path), i, n = 0, elen, qlen = 0;

	if ((p = malloc(plen + 2)) == NULL)
		return NULL;
	/* One '/' first: "//host" would be another site (RFC 3986 4.2). */
	p[n++] = '/';
	for (i = 0; i < plen; i++)
		if (path[i] != '/' || p[n - 1] != '/')
			p[n++] = path[i];
	if (p[n - 1] != '/')
		p[n++] = '/';
	elen = http_uri_encode(p, n, 0, NULL, 0);
	if (query != NULL)
		qlen = 1 + http_uri_encode(query, query_len, 1, NULL, 0);
	if ((out = malloc(elen + qlen + 1)) != NULL) {
		http_uri_encode(p, n, 0, out, elen + 1);
		if (query != NULL) {
			out[elen] = '?';
			http_uri_encode(query, query_len, 1, out + elen + 1,
			    qlen);
		}
	}
	free(p);
	return out;
}

/* 1 if the real path of fd is root_real or below it. */
static int
static_fd_under_root(int fd, const char *root_real)
{
	char	link[64], real[PATH_MAX];
	size_t	rlen = strlen(root_real);
	ssize_t	n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	if ((n = readlink(link, real, sizeof(real))) == -1 ||
	    (size_t)n >= sizeof(real))
		return 0;
	real[n] = '\0';
	/* A root of "/" has its trailing slash; anything is below it. */
	while (rlen > 0 && root_real[rlen - 1] == '/')
		rlen--;
	return strncmp(real, root_real, rlen) == 0 &&
	    (real[rlen] == '\0' || real[rlen] == '/');
}

/* 1 if a path that exists but could not be opened resolves below root. */
static int
static_path_under_root(const char *path, const char *root_real)
{
	char	real[PATH_MAX];
	size_t	rlen = strlen(root_real);

	if (realpath(path, real) == NULL)
		return 0;
	while (rlen > 0 && root_real[rlen - 1] == '/')
		rlen--;
	return strncmp(real, root_real, rlen) == 0 &&
	    (real[rlen] == '\0' || real[rlen] == '/');
}

/* Status for a failed open(): the file is missing, forbidden or worse. */
static int
static_open_error(int error, const char *path, const char *root_real)
{
	switch (error) {
	case EACCES:
	case EPERM:
		/* Do not tell "forbidden" about a file outside the root. */
		return static_path_under_root(path, root_real) ? 403 : 404;
	case ENOENT:
	case ENOTDIR:
	case ELOOP:
	case ENAMETOOLONG:
	case ENXIO:
		return 404;
	default:
		/* Out of descriptors or memory: not the client's fault. */
		return 500;
	}
}

/* Opens the file a request refers to, never leaving root_real. */
void
static_open(const char *root_real, const char *prefix, const char *path,
    const struct http_request *req, int flags, struct static_file *f)
{
	const struct http_header *h;
	char		 full[PATH_MAX];
	const char	*name = path;
	struct stat	 st;
	size_t		 rootlen = strlen(root_real), plen = strlen(path), n;
	int		 fd, ifd, error;

	f->status = 404;
	f->fd = -1;
	f->size = 0;
	f->mtime = 0;
	f->first = 0;
	f->last = -1;
	f->mime = "application/octet-stream";
	f->etag[0] = '\0';

	/* full = root_real "/" relative path */
	if (rootlen + 2 > sizeof(full))
		return;
	memcpy(full, root_real, rootlen);
	full[rootlen] = '/';
	if (static_path_relative(prefix, path, full + rootlen + 1,
	    sizeof(full) - rootlen - 1) == -1)
		return;
	/* Before open: a hidden directory does not even redirect. */
	if (!(flags & STATIC_DOTFILES) &&
	    static_dotfile(full + rootlen + 1, strcmp(prefix, "/") == 0))
		return;

	if ((fd = open(full, STATIC_OPEN_FLAGS)) == -1) {
		f->status = static_open_error(errno, full, root_real);
		return;
	}
	/* The check is on what was opened, so symlinks cannot escape. */
	if (!static_fd_under_root(fd, root_real) || fstat(fd, &st) == -1)
		goto fail;

	if (S_ISDIR(st.st_mode)) {
		if (plen == 0 || path[plen - 1] != '/') {
			/* RFC 7231 6.4.2: relative links need the slash. */
			f->status = 301;
			close(fd);
			return;
		}
		/* The directory is checked: open its index relative to it. */
		ifd = openat(fd, STATIC_INDEX, STATIC_OPEN_FLAGS);
		if (ifd == -1) {
			error = errno;
			/* full ends with '/': the path did. */
			n = strlen(full);
			if (n + sizeof(STATIC_INDEX) <= sizeof(full)) {
				memcpy(full + n, STATIC_INDEX,
				    sizeof(STATIC_INDEX));
				f->status = static_open_error(error, full,
				    root_real);
			}
			close(fd);
			return;
		}
		close(fd);
		fd = ifd;
		name = STATIC_INDEX;
		if (!static_fd_under_root(fd, root_real) ||
		    fstat(fd, &st) == -1)
			goto fail;
	}
	/* FIFOs, devices and sockets are not served. */
	if (!S_ISREG(st.st_mode))
		goto fail;

	f->size = st.st_size;
	f->mtime = st.st_mtim.tv_sec;
	f->mime = static_mime_type(name);
	static_etag(f->etag, f->size, f->mtime);
	if (req != NULL && static_not_modified(req, f->etag, f->mtime)) {
		f->status = 304;
		close(fd);
		return;
	}
	f->status = 200;
	f->fd = fd;
	f->last = f->size - 1;
	/*
	 * RFC 9110 13.2.2: Range is evaluated after the conditions above;
	 * more than one Range header is not one range.
	 */
	if (req == NULL || (h = http_header_find(req, "Range")) == NULL ||
	    http_header_count(req, "Range") != 1 ||
	    !static_if_range(req, f->etag, f->mtime, time(NULL)))
		return;
	switch (static_range_parse(h->value, h->value_len, f->size, &f->first,
	    &f->last)) {
	case STATIC_RANGE_OK:
		f->status = 206;
		break;
	case STATIC_RANGE_UNSATISFIABLE:
		f->status = 416;
		f->fd = -1;
		close(fd);
		break;
	}
	return;

fail:
	f->status = 404;
	close(fd);
}
