/* static.h -- static files under a route's root: safe lookup, MIME, ETag. */
#ifndef WSD_STATIC_H
#define WSD_STATIC_H

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

struct http_request;

/* What static_open() decided; conn.c turns it into a response. */
struct static_file {
	int		 status;	/* 200, 301, 304, 403, 404 */
	int		 fd;		/* open file for 200, else -1 */
	off_t		 size;
	time_t		 mtime;
	const char	*mime;		/* static string */
	char		 etag[48];	/* quoted entity tag */
	char		 location[1024];/* 301: absolute path + '/' */
};

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
 * Opens what a request for decoded path `path` under static route `prefix`
 * with resolved root `root_real` (realpath, no trailing '/') refers to,
 * never leaving root_real: the opened file is checked by its real path, so
 * symlinks pointing outside are refused (404). A directory gives its
 * index.html, or 301 to the path with '/' when the path lacks one. Fills
 * *f; the caller closes f->fd. Only regular files are served.
 */
void	static_open(const char *root_real, const char *prefix,
	    const char *path, const struct http_request *req,
	    struct static_file *f);

#endif
