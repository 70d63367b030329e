/* static.h -- static files under a route's root: safe lookup, MIME, ETag. */
#ifndef WSD_STATIC_H
#define WSD_STATIC_H

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

struct http_request;

/* What static_open() decided; http_serve.c turns it into a response. */
struct static_file {
	int		 status;	/* 200 206 301 304 403 404 416 */
	int		 fd;		/* the open file for 200, 206 */
	off_t		 size;
	time_t		 mtime;
	off_t		 first;		/* 200, 206: bytes first..last */
	off_t		 last;		/* are sent (none: last < first) */
	const char	*mime;		/* static string */
	char		 etag[48];	/* quoted entity tag */
};

/* static_open() flags. */
#define STATIC_DOTFILES	0x01		/* serve names starting with '.' */

/* static_range_parse() results. */
#define STATIC_RANGE_IGNORE	0	/* no usable range: the whole file */
#define STATIC_RANGE_OK		1	/* one satisfiable range: 206 */
#define STATIC_RANGE_UNSATISFIABLE 2	/* 416 */

/*
 * Maps a decoded request path to a path relative to the route's root:
 * strips the route prefix (on a segment boundary) and the leading '/'.
 * Returns the relative path ("" for the root itself) written to out, or -1
 * when it does not fit or the path is not under the prefix.
 */
int	static_path_relative(const char *prefix, const char *path,
	    char *out, size_t outcap);

/* MIME type for a file name by extension; application/octet-stream else. */
const char *static_mime_type(const char *name);

/* Quoted ETag from size and mtime, as nginx forms it: "<mtime>-<size>". */
void	static_etag(char out[48], off_t size, time_t mtime);

/*
 * Conditional GET (RFC 7232 6): 1 when the request's If-None-Match (which
 * wins when present) or If-Modified-Since says the client's copy is current
 * and 304 is the answer, else 0.
 */
int	static_not_modified(const struct http_request *req, const char *etag,
	    time_t mtime);

/*
 * 1 if the relative path rel (static_path_relative's) names a file or
 * directory starting with '.'. With top set (rel starts the request path:
 * the route is "/"), its first segment may be ".well-known" (RFC 8615).
 */
int	static_dotfile(const char *rel, int top);

/*
 * Reads a Range header value (RFC 9110 14.1.2) against a file of size
 * bytes. STATIC_RANGE_OK with the inclusive range in *first and *last
 * (clipped to the file) for one satisfiable byte range; UNSATISFIABLE for
 * one range starting at or past the end, or "-0"; IGNORE for everything
 * else: a malformed value, another unit, several ranges (the whole file
 * answers them, 14.2 allows it) or an empty file.
 */
int	static_range_parse(const char *v, size_t len, off_t size,
	    off_t *first, off_t *last);

/*
 * If-Range (RFC 9110 13.1.5): 1 when the range may apply, i.e. there is no
 * If-Range, or it holds our strong etag, or an HTTP date equal to mtime
 * that is a strong validator (mtime at least a second before now); else 0.
 */
int	static_if_range(const struct http_request *req, const char *etag,
	    time_t mtime, time_t now);

/*
 * The Location of a directory redirect: decoded path (percent-encoded
 * again, runs of '/' collapsed so it is never a network path "//host"),
 * a '/', and the raw query after '?' when query is not NULL (bytes that
 * may not stand in a URI encoded). Returns a malloc'd string, NULL when
 * out of memory.
 */
char	*static_redirect(const char *path, const char *query,
	    size_t query_len);

/*
 * Opens what a request for decoded path `path` under static route `prefix`
 * with resolved root `root_real` (realpath, no trailing '/') refers to,
 * never leaving root_real: the opened file is checked by its real path, so
 * symlinks pointing outside are refused (404), and so are names starting
 * with '.' unless flags has STATIC_DOTFILES (static_dotfile). A directory
 * gives its index.html, or 301 when the path lacks the trailing '/'
 * (static_redirect makes the Location). A request's If-None-Match and
 * If-Modified-Since give 304, then its Range and If-Range 206 or 416.
 * Fills *f; the caller closes f->fd. Only regular files are served.
 */
void	static_open(const char *root_real, const char *prefix,
	    const char *path, const struct http_request *req, int flags,
	    struct static_file *f);

#endif
