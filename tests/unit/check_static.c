/* check_static.c -- unit tests for static file lookup, MIME, ETag, 304. */
#include <sys/stat.h>
#include <sys/types.h>

#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "http.h"
#include "static.h"
#include "suites.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* mtime of every file in the test tree. */
#define TREE_MTIME	((time_t)1600000000)	/* Sun, 13 Sep 2020 12:26:40 */

/* The test tree, made once before the "open" tests and removed after. */
static char	tree_tmp[PATH_MAX];	/* mkdtemp() directory */
static char	tree_root[PATH_MAX];	/* realpath of tree_tmp/root */

/* A prefix ("/static"), a path, and what static_path_relative gives. */
struct rel_vec {
	const char	*prefix;
	const char	*path;
	const char	*rel;		/* NULL: -1 */
};

static const struct rel_vec rel_vecs[] = {
	{ "/", "/", "" },
	{ "/", "/a", "a" },
	{ "/", "/a/b/", "a/b/" },
	{ "/", "//a", "a" },
	{ "/static", "/static", "" },
	{ "/static", "/static/", "" },
	{ "/static", "/static/x/y.css", "x/y.css" },
	{ "/static", "/static//x", "x" },
	{ "/static/", "/static/x", "x" },
	{ "/static/", "/static/", "" },
	{ "/a/b", "/a/b/c", "c" },
	{ "/static", "/staticx", NULL },
	{ "/static", "/statics/x", NULL },
	{ "/static", "/stat", NULL },
	{ "/static", "/other/x", NULL },
	{ "/static", "/", NULL },
	{ "/static/", "/static", NULL },
	{ "/a/b", "/a/bc", NULL },
};

/* The route prefix is stripped on a segment boundary. */
START_TEST(test_path_relative)
{
	const struct rel_vec	*v = &rel_vecs[_i];
	char			 out[64];
	int			 r;

	r = static_path_relative(v->prefix, v->path, out, sizeof(out));
	if (v->rel == NULL) {
		ck_assert_msg(r == -1, "%s under %s gave %d", v->path,
		    v->prefix, r);
		return;
	}
	ck_assert_int_eq(r, (int)strlen(v->rel));
	ck_assert_str_eq(out, v->rel);
}
END_TEST

/* The relative path and its NUL must fit. */
START_TEST(test_path_relative_capacity)
{
	char	out[8];

	ck_assert_int_eq(static_path_relative("/", "/abc", out, 4), 3);
	ck_assert_str_eq(out, "abc");
	ck_assert_int_eq(static_path_relative("/", "/abcd", out, 4), -1);
	ck_assert_int_eq(static_path_relative("/", "/", out, 1), 0);
	ck_assert_int_eq(static_path_relative("/", "/", out, 0), -1);
}
END_TEST

/* A file name and its type. */
struct mime_vec {
	const char	*name;
	const char	*mime;
};

static const struct mime_vec mime_vecs[] = {
	{ "a.html", "text/html; charset=utf-8" },
	{ "a.htm", "text/html; charset=utf-8" },
	{ "a.css", "text/css; charset=utf-8" },
	{ "a.js", "text/javascript; charset=utf-8" },
	{ "a.mjs", "text/javascript; charset=utf-8" },
	{ "a.json", "application/json; charset=utf-8" },
	{ "a.txt", "text/plain; charset=utf-8" },
	{ "a.xml", "text/xml; charset=utf-8" },
	{ "a.svg", "image/svg+xml; charset=utf-8" },
	{ "a.png", "image/png" },
	{ "a.jpg", "image/jpeg" },
	{ "a.jpeg", "image/jpeg" },
	{ "a.gif", "image/gif" },
	{ "a.webp", "image/webp" },
	{ "a.ico", "image/x-icon" },
	{ "a.wasm", "application/wasm" },
	{ "a.woff", "font/woff" },
	{ "a.woff2", "font/woff2" },
	{ "a.pdf", "application/pdf" },
	{ "a.map", "application/json; charset=utf-8" },
	{ "a.mp3", "audio/mpeg" },
	{ "a.mp4", "video/mp4" },
	{ "a.webm", "video/webm" },
	{ "a.ogg", "audio/ogg" },
	{ "/dir/INDEX.HTML", "text/html; charset=utf-8" },
	{ "/x/app.min.JS", "text/javascript; charset=utf-8" },
	{ "archive.tar.gz", "application/octet-stream" },
	{ "a.html.bak", "application/octet-stream" },
	{ "README", "application/octet-stream" },
	{ "/dir.html/README", "application/octet-stream" },
	{ "/a.css/", "application/octet-stream" },
	{ "a.", "application/octet-stream" },
	{ "a.htmlx", "application/octet-stream" },
	{ "a.ht", "application/octet-stream" },
	{ "a.woff3", "application/octet-stream" },
	{ "", "application/octet-stream" },
};

/* MIME types by extension, case-insensitive, last component only. */
START_TEST(test_mime_type)
{
	const struct mime_vec	*v = &mime_vecs[_i];

	ck_assert_str_eq(static_mime_type(v->name), v->mime);
}
END_TEST

/* ETags are formed as nginx does: hex mtime, '-', hex size, quoted. */
START_TEST(test_etag)
{
	char	etag[48];

	static_etag(etag, 1234, 1600000000);
	ck_assert_str_eq(etag, "\"5f5e1000-4d2\"");
	static_etag(etag, 0, 0);
	ck_assert_str_eq(etag, "\"0-0\"");
	static_etag(etag, (off_t)0x7fffffffffffffffLL,
	    (time_t)0x7fffffffffffffffLL);
	ck_assert_str_eq(etag, "\"7fffffffffffffff-7fffffffffffffff\"");
	/* Any change of size or mtime changes the tag. */
	static_etag(etag, 1235, 1600000000);
	ck_assert_str_ne(etag, "\"5f5e1000-4d2\"");
	static_etag(etag, 1234, 1600000001);
	ck_assert_str_ne(etag, "\"5f5e1000-4d2\"");
}
END_TEST

/* Parses "GET / HTTP/1.1\r\n" + headers + "\r\n" into req (kept in buf). */
static void
make_req(struct http_request *req, char *buf, size_t cap,
    const char *headers)
{
	int	n;

	n = snprintf(buf, cap, "GET / HTTP/1.1\r\nHost: a\r\n%s\r\n", headers);
	ck_assert(n > 0 && (size_t)n < cap);
	ck_assert_int_eq(http_parse_request(buf, (size_t)n, (size_t)n, req),
	    n);
}

/* Headers of a conditional request and whether 304 is the answer. */
struct cond_vec {
	const char	*headers;
	int		 not_modified;
};

/* Against ETag "5f5e1000-4d2" and mtime 1600000000. */
static const struct cond_vec cond_vecs[] = {
	{ "", 0 },
	{ "If-None-Match: \"5f5e1000-4d2\"\r\n", 1 },
	{ "if-none-match: \"5f5e1000-4d2\"\r\n", 1 },
	{ "If-None-Match: *\r\n", 1 },
	{ "If-None-Match: W/\"5f5e1000-4d2\"\r\n", 1 },
	{ "If-None-Match: \"a\", \"5f5e1000-4d2\"\r\n", 1 },
	{ "If-None-Match: \"a\",\"5f5e1000-4d2\"\r\n", 1 },
	{ "If-None-Match: W/\"a\" ,\tW/\"5f5e1000-4d2\" , \"b\"\r\n", 1 },
	{ "If-None-Match: \"a\"\r\nIf-None-Match: \"5f5e1000-4d2\"\r\n", 1 },
	{ "If-None-Match: \"a\"\r\n", 0 },
	{ "If-None-Match: \"5f5e1000-4d3\"\r\n", 0 },
	{ "If-None-Match: \"5F5E1000-4D2\"\r\n", 0 },
	{ "If-None-Match: 5f5e1000-4d2\r\n", 0 },
	{ "If-None-Match: \"5f5e1000-4d2\r\n", 0 },
	{ "If-None-Match: w/\"5f5e1000-4d2\"\r\n", 0 },
	{ "If-None-Match: \"a,\"5f5e1000-4d2\"\"\r\n", 0 },
	{ "If-None-Match:\r\n", 0 },
	/* RFC 7232 3.3: If-None-Match wins over If-Modified-Since. */
	{ "If-None-Match: \"a\"\r\n"
	    "If-Modified-Since: Sun, 13 Sep 2020 12:26:40 GMT\r\n", 0 },
	{ "If-Modified-Since: Sun, 13 Sep 2020 12:26:40 GMT\r\n"
	    "If-None-Match: \"a\"\r\n", 0 },
	{ "If-None-Match: \"5f5e1000-4d2\"\r\n"
	    "If-Modified-Since: Sun, 13 Sep 2020 12:26:39 GMT\r\n", 1 },
	/* If-Modified-Since: 304 when mtime <= the date. */
	{ "If-Modified-Since: Sun, 13 Sep 2020 12:26:40 GMT\r\n", 1 },
	{ "If-Modified-Since: Sun, 13 Sep 2020 12:26:41 GMT\r\n", 1 },
	{ "If-Modified-Since: Sun, 13 Sep 2020 12:26:39 GMT\r\n", 0 },
	{ "If-Modified-Since: Sunday, 13-Sep-20 12:26:40 GMT\r\n", 1 },
	{ "If-Modified-Since: Sun Sep 13 12:26:40 2020\r\n", 1 },
	{ "if-modified-since: Sun, 13 Sep 2020 12:26:40 GMT\r\n", 1 },
	{ "If-Modified-Since: Sun, 13 Sep 2020 12:26:40 GMT; length=3\r\n",
	    0 },
	{ "If-Modified-Since: yesterday\r\n", 0 },
	{ "If-Modified-Since: \r\n", 0 },
};

/* Conditional GET decisions (RFC 7232 6). */
START_TEST(test_not_modified)
{
	const struct cond_vec	*v = &cond_vecs[_i];
	struct http_request	 req;
	char			 buf[512];

	make_req(&req, buf, sizeof(buf), v->headers);
	ck_assert_msg(static_not_modified(&req, "\"5f5e1000-4d2\"",
	    TREE_MTIME) == v->not_modified, "%s", v->headers);
}
END_TEST

/* An entity tag may hold a comma: the list is split on quotes. */
START_TEST(test_not_modified_comma_tag)
{
	struct http_request	req;
	char			buf[512];

	make_req(&req, buf, sizeof(buf), "If-None-Match: \"x\", \"a,b\"\r\n");
	ck_assert_int_eq(static_not_modified(&req, "\"a,b\"", 0), 1);
	ck_assert_int_eq(static_not_modified(&req, "\"a\"", 0), 0);
	ck_assert_int_eq(static_not_modified(&req, "\"b\"", 0), 0);
	/* A weak tag of ours compares weakly too. */
	make_req(&req, buf, sizeof(buf), "If-None-Match: \"v1\"\r\n");
	ck_assert_int_eq(static_not_modified(&req, "W/\"v1\"", 0), 1);
}
END_TEST

/* Writes tree_tmp "/" rel into out[PATH_MAX]. */
static void
tree_path(char *out, const char *rel)
{
	int	n;

	n = snprintf(out, PATH_MAX, "%s/%s", tree_tmp, rel);
	if (n < 0 || n >= PATH_MAX)
		abort();
}

/* Writes a file under the tree with the tree's mtime. */
static void
tree_file(const char *rel, const char *content, mode_t mode)
{
	struct timespec	ts[2];
	char		path[PATH_MAX];
	int		fd;
	size_t		len = strlen(content);

	tree_path(path, rel);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd == -1 || write(fd, content, len) != (ssize_t)len) {
		perror(path);
		abort();
	}
	ts[0].tv_sec = ts[1].tv_sec = TREE_MTIME;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	if (futimens(fd, ts) == -1 || fchmod(fd, mode) == -1) {
		perror(path);
		abort();
	}
	close(fd);
}

/* Makes a directory under the tree. */
static void
tree_dir(const char *rel)
{
	char	path[PATH_MAX];

	tree_path(path, rel);
	if (mkdir(path, 0755) == -1) {
		perror(path);
		abort();
	}
}

/* Makes a symlink rel -> target under the tree. */
static void
tree_link(const char *target, const char *rel)
{
	char	path[PATH_MAX];

	tree_path(path, rel);
	if (symlink(target, path) == -1) {
		perror(path);
		abort();
	}
}

/*
 * Builds the test tree:
 *	outside.txt		a file beside the root
 *	root/			the route's root
 *	root/index.html
 *	root/hello.txt		"hello\n"
 *	root/page.html
 *	root/dir/index.html
 *	root/dir/sub.css
 *	root/empty/		no index.html
 *	root/idxdir/index.html/	an index that is a directory
 *	root/alias -> hello.txt
 *	root/linkdir -> dir
 *	root/passwd -> /etc/passwd
 *	root/etc -> /etc
 *	root/out -> ../outside.txt
 *	root/evil/index.html -> /etc/passwd
 *	root/secret.txt		mode 000
 *	root/fifo		a named pipe
 *	root/dangling -> nowhere
 *	root/.env, root/.git/config, root/dir/.hidden/x, root/.well-known/x
 */
static void
tree_setup(void)
{
	char	path[PATH_MAX];

	snprintf(tree_tmp, sizeof(tree_tmp), "%s/wsd-static-XXXXXX",
	    getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(tree_tmp) == NULL) {
		perror(tree_tmp);
		abort();
	}
	tree_file("outside.txt", "outside\n", 0644);
	tree_dir("root");
	tree_file("root/index.html", "<p>root</p>\n", 0644);
	tree_file("root/hello.txt", "hello\n", 0644);
	tree_file("root/page.html", "<p>page</p>\n", 0644);
	tree_dir("root/dir");
	tree_file("root/dir/index.html", "<p>dir index</p>\n", 0644);
	tree_file("root/dir/sub.css", "p{}\n", 0644);
	tree_dir("root/empty");
	tree_dir("root/idxdir");
	tree_dir("root/idxdir/index.html");
	tree_link("hello.txt", "root/alias");
	tree_link("dir", "root/linkdir");
	tree_link("/etc/passwd", "root/passwd");
	tree_link("/etc", "root/etc");
	tree_link("../outside.txt", "root/out");
	tree_dir("root/evil");
	tree_link("/etc/passwd", "root/evil/index.html");
	tree_file("root/secret.txt", "secret\n", 0);
	tree_link("nowhere", "root/dangling");
	tree_file("root/.env", "env\n", 0644);
	tree_dir("root/.git");
	tree_file("root/.git/config", "git\n", 0644);
	tree_dir("root/dir/.hidden");
	tree_file("root/dir/.hidden/x", "x\n", 0644);
	tree_dir("root/.well-known");
	tree_file("root/.well-known/x", "known\n", 0644);
	tree_path(path, "root/fifo");
	if (mkfifo(path, 0644) == -1) {
		perror(path);
		abort();
	}
	tree_path(path, "root");
	if (realpath(path, tree_root) == NULL) {
		perror(path);
		abort();
	}
}

/* Removes one entry of the test tree (nftw callback). */
static int
tree_rm_cb(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	if (remove(path) == -1)
		perror(path);
	return 0;
}

/* Removes the test tree. */
static void
tree_teardown(void)
{
	if (tree_tmp[0] != '\0')
		nftw(tree_tmp, tree_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* static_open() with flags for path under route prefix and headers. */
static void
open_flags(const char *prefix, const char *path, const char *headers,
    int flags, struct static_file *f)
{
	struct http_request	req;
	char			buf[512];

	make_req(&req, buf, sizeof(buf), headers);
	memset(f, 0xa5, sizeof(*f));
	static_open(tree_root, prefix, path, &req, flags, f);
	if (f->status != 200 && f->status != 206)
		ck_assert_int_eq(f->fd, -1);
}

/* static_open() for path under route prefix, with extra request headers. */
static void
open_req(const char *prefix, const char *path, const char *headers,
    struct static_file *f)
{
	open_flags(prefix, path, headers, 0, f);
}

/* Checks that f is a 200 for content, then closes its fd. */
static void
check_200(struct static_file *f, const char *content, const char *mime)
{
	char	buf[256], etag[48];
	ssize_t	n;
	int	flags;

	ck_assert_int_eq(f->status, 200);
	ck_assert_int_ge(f->fd, 0);
	ck_assert_int_eq(f->size, (off_t)strlen(content));
	ck_assert_int_eq(f->mtime, TREE_MTIME);
	ck_assert_str_eq(f->mime, mime);
	static_etag(etag, f->size, f->mtime);
	ck_assert_str_eq(f->etag, etag);
	n = read(f->fd, buf, sizeof(buf) - 1);
	ck_assert_int_eq(n, (ssize_t)strlen(content));
	buf[n] = '\0';
	ck_assert_str_eq(buf, content);
	/* Not inherited by children, never blocks. */
	ck_assert((flags = fcntl(f->fd, F_GETFD)) != -1 &&
	    (flags & FD_CLOEXEC));
	ck_assert((flags = fcntl(f->fd, F_GETFL)) != -1 &&
	    (flags & O_NONBLOCK) && (flags & O_ACCMODE) == O_RDONLY);
	close(f->fd);
}

/* A regular file is 200 with size, MIME type and ETag. */
START_TEST(test_open_file)
{
	struct static_file	f;

	open_req("/", "/hello.txt", "", &f);
	check_200(&f, "hello\n", "text/plain; charset=utf-8");
	ck_assert_str_eq(f.etag, "\"5f5e1000-6\"");
	open_req("/", "/page.html", "", &f);
	check_200(&f, "<p>page</p>\n", "text/html; charset=utf-8");
	open_req("/", "/dir/sub.css", "", &f);
	check_200(&f, "p{}\n", "text/css; charset=utf-8");
	/* Under a prefix, the prefix is stripped (alias). */
	open_req("/static", "/static/hello.txt", "", &f);
	check_200(&f, "hello\n", "text/plain; charset=utf-8");
	open_req("/static/", "/static/dir/sub.css", "", &f);
	check_200(&f, "p{}\n", "text/css; charset=utf-8");
}
END_TEST

/* Missing files and paths not under the prefix are 404. */
START_TEST(test_open_missing)
{
	struct static_file	f;

	open_req("/", "/nope.txt", "", &f);
	ck_assert_int_eq(f.status, 404);
	open_req("/", "/nope/x.txt", "", &f);
	ck_assert_int_eq(f.status, 404);
	/* ENOTDIR: a file used as a directory. */
	open_req("/", "/hello.txt/x", "", &f);
	ck_assert_int_eq(f.status, 404);
	open_req("/", "/hello.txt/", "", &f);
	ck_assert_int_eq(f.status, 404);
	open_req("/", "/dangling", "", &f);
	ck_assert_int_eq(f.status, 404);
	open_req("/static", "/staticx/hello.txt", "", &f);
	ck_assert_int_eq(f.status, 404);
	open_req("/static", "/hello.txt", "", &f);
	ck_assert_int_eq(f.status, 404);
}
END_TEST

/* A path longer than PATH_MAX is 404, not a crash. */
START_TEST(test_open_too_long)
{
	struct static_file	f;
	static char		path[PATH_MAX + 64];

	memset(path, 'a', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	static_open(tree_root, "/", path, NULL, 0, &f);
	ck_assert_int_eq(f.status, 404);
	ck_assert_int_eq(f.fd, -1);
	/* Long, but still below PATH_MAX: ENAMETOOLONG per component. */
	path[PATH_MAX - strlen(tree_root) - 8] = '\0';
	static_open(tree_root, "/", path, NULL, 0, &f);
	ck_assert_int_eq(f.status, 404);
}
END_TEST

/* A directory with a trailing slash gives its index.html. */
START_TEST(test_open_dir_index)
{
	struct static_file	f;

	open_req("/", "/dir/", "", &f);
	check_200(&f, "<p>dir index</p>\n", "text/html; charset=utf-8");
	open_req("/", "/", "", &f);
	check_200(&f, "<p>root</p>\n", "text/html; charset=utf-8");
	open_req("/static", "/static/", "", &f);
	check_200(&f, "<p>root</p>\n", "text/html; charset=utf-8");
	open_req("/static", "/static/dir/", "", &f);
	check_200(&f, "<p>dir index</p>\n", "text/html; charset=utf-8");
}
END_TEST

/* A directory without the slash is 301 to the path with it. */
START_TEST(test_open_dir_redirect)
{
	struct static_file	f;

	open_req("/", "/dir", "", &f);
	ck_assert_int_eq(f.status, 301);
	open_req("/", "/empty", "", &f);
	ck_assert_int_eq(f.status, 301);
	open_req("/static", "/static", "", &f);
	ck_assert_int_eq(f.status, 301);
	open_req("/static", "/static/dir", "", &f);
	ck_assert_int_eq(f.status, 301);
}
END_TEST

/* A directory without index.html, or with one that is no file, is 404. */
START_TEST(test_open_dir_no_index)
{
	struct static_file	f;

	open_req("/", "/empty/", "", &f);
	ck_assert_int_eq(f.status, 404);
	open_req("/", "/idxdir/", "", &f);
	ck_assert_int_eq(f.status, 404);
}
END_TEST

/* Symlinks that stay inside the root are followed. */
START_TEST(test_open_symlink_inside)
{
	struct static_file	f;

	open_req("/", "/alias", "", &f);
	check_200(&f, "hello\n", "application/octet-stream");
	open_req("/", "/linkdir/sub.css", "", &f);
	check_200(&f, "p{}\n", "text/css; charset=utf-8");
	open_req("/", "/linkdir/", "", &f);
	check_200(&f, "<p>dir index</p>\n", "text/html; charset=utf-8");
}
END_TEST

/* Symlinks out of the root are 404, whatever they point to. */
START_TEST(test_open_symlink_outside)
{
	struct static_file	f;

	open_req("/", "/passwd", "", &f);
	ck_assert_int_eq(f.status, 404);
	open_req("/", "/out", "", &f);
	ck_assert_int_eq(f.status, 404);
	/* A symlinked directory component. */
	open_req("/", "/etc/passwd", "", &f);
	ck_assert_int_eq(f.status, 404);
	open_req("/", "/etc/", "", &f);
	ck_assert_int_eq(f.status, 404);
	/* Not even a redirect tells that the target exists. */
	open_req("/", "/etc", "", &f);
	ck_assert_int_eq(f.status, 404);
	/* Nor "forbidden" for an unreadable file out there. */
	open_req("/", "/etc/shadow", "", &f);
	ck_assert_int_eq(f.status, 404);
	/* An index.html that leaves the root. */
	open_req("/", "/evil/", "", &f);
	ck_assert_int_eq(f.status, 404);
}
END_TEST

/* A file the daemon may not read is 403 (root reads everything). */
START_TEST(test_open_forbidden)
{
	struct static_file	f;

	open_req("/", "/secret.txt", "", &f);
	if (geteuid() == 0)
		check_200(&f, "secret\n", "text/plain; charset=utf-8");
	else
		ck_assert_int_eq(f.status, 403);
}
END_TEST

/* A FIFO is 404, and opening it does not block. */
START_TEST(test_open_fifo)
{
	struct static_file	f;

	open_req("/", "/fifo", "", &f);
	ck_assert_int_eq(f.status, 404);
}
END_TEST

/* Conditional requests: 304 when current, 200 when the file is newer. */
START_TEST(test_open_conditional)
{
	struct static_file	f;

	open_req("/", "/hello.txt", "If-None-Match: \"5f5e1000-6\"\r\n", &f);
	ck_assert_int_eq(f.status, 304);
	ck_assert_int_eq(f.fd, -1);
	ck_assert_str_eq(f.etag, "\"5f5e1000-6\"");
	ck_assert_int_eq(f.mtime, TREE_MTIME);
	ck_assert_int_eq(f.size, 6);

	open_req("/", "/hello.txt", "If-None-Match: \"5f5e1000-7\"\r\n", &f);
	check_200(&f, "hello\n", "text/plain; charset=utf-8");

	open_req("/", "/hello.txt",
	    "If-Modified-Since: Sun, 13 Sep 2020 12:26:40 GMT\r\n", &f);
	ck_assert_int_eq(f.status, 304);
	ck_assert_int_eq(f.fd, -1);

	open_req("/", "/hello.txt",
	    "If-Modified-Since: Sun, 13 Sep 2020 12:26:39 GMT\r\n", &f);
	check_200(&f, "hello\n", "text/plain; charset=utf-8");

	/* The index of a directory is conditional too. */
	open_req("/", "/dir/", "If-None-Match: \"5f5e1000-11\"\r\n", &f);
	ck_assert_int_eq(f.status, 304);
	ck_assert_int_eq(f.fd, -1);

	/* 304 never hides a 404. */
	open_req("/", "/nope.txt", "If-None-Match: *\r\n", &f);
	ck_assert_int_eq(f.status, 404);
}
END_TEST

/* Ranges and If-Range on a file: 206 with the bytes, 416, or all. */
START_TEST(test_open_range)
{
	static const struct {
		const char	*headers;
		int		 status;
		off_t		 first, last;
	} v[] = {
		{ "Range: bytes=1-3\r\n", 206, 1, 3 },
		{ "Range: bytes=6-\r\n", 416, 0, 0 },
		{ "Range: bytes=-0\r\n", 416, 0, 0 },
		/* Malformed, other units, several ranges, two headers: all. */
		{ "Range: bytes=3-1\r\n", 200, 0, 5 },
		{ "Range: lines=1-2\r\n", 200, 0, 5 },
		{ "Range: bytes=0-1,3-4\r\n", 200, 0, 5 },
		{ "Range: bytes=0-1\r\nRange: bytes=2-3\r\n", 200, 0, 5 },
		/* If-Range: our etag or the exact date; else the whole file. */
		{ "Range: bytes=1-\r\nIf-Range: \"5f5e1000-6\"\r\n", 206, 1,
		    5 },
		{ "Range: bytes=1-\r\n"
		    "If-Range: Sun, 13 Sep 2020 12:26:40 GMT\r\n", 206, 1, 5 },
		{ "Range: bytes=1-\r\nIf-Range: \"5f5e1000-5\"\r\n", 200, 0,
		    5 },
		{ "Range: bytes=1-\r\n"
		    "If-Range: Sun, 13 Sep 2020 12:26:41 GMT\r\n", 200, 0, 5 },
		/* A mismatch ignores an unsatisfiable range too. */
		{ "Range: bytes=99-\r\nIf-Range: \"old\"\r\n", 200, 0, 5 },
		/* 304 comes first (RFC 9110 13.2.2). */
		{ "Range: bytes=1-\r\nIf-None-Match: \"5f5e1000-6\"\r\n", 304,
		    0, 0 },
	};
	struct static_file	f;
	size_t			i;

	for (i = 0; i < NELEM(v); i++) {
		open_req("/", "/hello.txt", v[i].headers, &f);
		ck_assert_msg(f.status == v[i].status, "%s: %d", v[i].headers,
		    f.status);
		ck_assert_int_eq(f.size, 6);
		if (f.status == 200)
			check_200(&f, "hello\n", "text/plain; charset=utf-8");
		if (f.status != 200 && f.status != 206)
			continue;
		ck_assert_msg(f.first == v[i].first && f.last == v[i].last,
		    "%s: %lld-%lld", v[i].headers, (long long)f.first,
		    (long long)f.last);
		if (f.status == 206)
			close(f.fd);
	}
}
END_TEST

/* Dot names are 404 unless allowed; /.well-known/ is always served. */
START_TEST(test_open_dotfiles)
{
	static const struct {
		const char	*prefix, *path;
		int		 flags, status;
		const char	*content;
	} v[] = {
		{ "/", "/.env", 0, 404, NULL },
		{ "/", "/.git/config", 0, 404, NULL },
		/* Not even the redirect of a hidden directory. */
		{ "/", "/.git", 0, 404, NULL },
		{ "/", "/dir/.hidden/x", 0, 404, NULL },
		{ "/static", "/static/.env", 0, 404, NULL },
		{ "/", "/.well-known/x", 0, 200, "known\n" },
		/* Below another prefix, .well-known is just a dot name. */
		{ "/static", "/static/.well-known/x", 0, 404, NULL },
		{ "/", "/.env", STATIC_DOTFILES, 200, "env\n" },
		{ "/", "/.git/config", STATIC_DOTFILES, 200, "git\n" },
		{ "/", "/dir/.hidden/x", STATIC_DOTFILES, 200, "x\n" },
		{ "/", "/.git", STATIC_DOTFILES, 301, NULL },
	};
	struct static_file	f;
	size_t			i;

	for (i = 0; i < NELEM(v); i++) {
		open_flags(v[i].prefix, v[i].path, "", v[i].flags, &f);
		ck_assert_msg(f.status == v[i].status, "%s: %d", v[i].path,
		    f.status);
		if (v[i].content != NULL)
			check_200(&f, v[i].content,
			    "application/octet-stream");
	}
}
END_TEST

/* A relative path, whether it starts at the top, and static_dotfile. */
struct dot_vec {
	const char	*rel;
	int		 top;
	int		 hidden;
};

static const struct dot_vec dot_vecs[] = {
	{ "", 1, 0 },
	{ "a", 1, 0 },
	{ "a/b.c/d.", 1, 0 },
	{ "a..b", 1, 0 },
	{ ".env", 1, 1 },
	{ ".env", 0, 1 },
	{ ".git/config", 1, 1 },
	{ "a/.hidden/x", 1, 1 },
	{ "a/.hidden/", 1, 1 },
	{ "a/.x", 0, 1 },
	{ ".well-known/x", 1, 0 },
	{ ".well-known/", 1, 0 },
	{ ".well-known", 1, 0 },
	{ ".well-known/x", 0, 1 },
	{ ".well-known/.x", 1, 1 },
	{ "a/.well-known/x", 1, 1 },
	{ ".well-knownx/x", 1, 1 },
	{ ".well-know/x", 1, 1 },
	{ "/.x", 1, 1 },
	{ "a//.x", 1, 1 },
};

/* Which names are hidden. */
START_TEST(test_dotfile)
{
	const struct dot_vec	*v = &dot_vecs[_i];

	ck_assert_msg(static_dotfile(v->rel, v->top) == v->hidden,
	    "\"%s\" top %d", v->rel, v->top);
}
END_TEST

/* A Range value, a file size, and what static_range_parse makes of it. */
struct range_vec {
	const char	*value;
	off_t		 size;
	int		 result;
	off_t		 first, last;
};

#define RANGE_OK(v, sz, a, b)	{ v, sz, STATIC_RANGE_OK, a, b }
#define RANGE_IGN(v, sz)	{ v, sz, STATIC_RANGE_IGNORE, -7, -7 }
#define RANGE_416(v, sz)	{ v, sz, STATIC_RANGE_UNSATISFIABLE, -7, -7 }

static const struct range_vec range_vecs[] = {
	RANGE_OK("bytes=0-0", 10, 0, 0),
	RANGE_OK("bytes=0-9", 10, 0, 9),
	RANGE_OK("bytes=2-5", 10, 2, 5),
	RANGE_OK("bytes=2-", 10, 2, 9),
	RANGE_OK("bytes=9-", 10, 9, 9),
	RANGE_OK("bytes=5-100", 10, 5, 9),
	RANGE_OK("bytes=-3", 10, 7, 9),
	RANGE_OK("bytes=-10", 10, 0, 9),
	RANGE_OK("bytes=-11", 10, 0, 9),
	RANGE_OK("BYTES=1-2", 10, 1, 2),
	RANGE_OK("Bytes=1-2", 10, 1, 2),
	RANGE_OK("bytes=007-008", 10, 7, 8),
	RANGE_OK("bytes= 1-2", 10, 1, 2),
	RANGE_OK("bytes=1-2 ,", 10, 1, 2),
	RANGE_OK("bytes=,1-2", 10, 1, 2),
	RANGE_OK("bytes=, ,1-2,,", 10, 1, 2),
	RANGE_OK("bytes=0-99999999999999999999999999", 10, 0, 9),
	RANGE_OK("bytes=-99999999999999999999999999", 10, 0, 9),
	RANGE_OK("bytes=1-9223372036854775807", 10, 1, 9),
	RANGE_OK("bytes=1-9223372036854775808", 10, 1, 9),
	RANGE_OK("bytes=0-", 1, 0, 0),
	RANGE_OK("bytes=-1", 1, 0, 0),
	RANGE_OK("bytes=100-200", 1000, 100, 200),
	RANGE_416("bytes=10-", 10),
	RANGE_416("bytes=10-20", 10),
	RANGE_416("bytes=11-", 10),
	RANGE_416("bytes=-0", 10),
	RANGE_416("bytes=-000", 10),
	RANGE_416("bytes=0-", 0),
	RANGE_416("bytes=-0", 0),
	RANGE_416("bytes=99999999999999999999999999-", 10),
	RANGE_416("bytes=9223372036854775807-", 10),
	RANGE_416("bytes=99999999999999999999-99999999999999999999", 10),
	RANGE_IGN("bytes=-5", 0),
	RANGE_IGN("", 10),
	RANGE_IGN("bytes", 10),
	RANGE_IGN("bytes=", 10),
	RANGE_IGN("bytes=-", 10),
	RANGE_IGN("bytes=,", 10),
	RANGE_IGN("bytes=--1", 10),
	RANGE_IGN("bytes=1--2", 10),
	RANGE_IGN("bytes=5-3", 10),
	RANGE_IGN("bytes=99999999999999999999-1", 10),
	RANGE_IGN("bytes=a-b", 10),
	RANGE_IGN("bytes=1-b", 10),
	RANGE_IGN("bytes=1", 10),
	RANGE_IGN("bytes=1 - 2", 10),
	RANGE_IGN("bytes=1- 2", 10),
	RANGE_IGN("bytes=+1-2", 10),
	RANGE_IGN("bytes=0x1-2", 10),
	RANGE_IGN("bytes=1.5-2", 10),
	RANGE_IGN("bytes = 1-2", 10),
	RANGE_IGN("bytes =1-2", 10),
	RANGE_IGN(" bytes=1-2", 10),
	RANGE_IGN("bytesx=1-2", 10),
	RANGE_IGN("byte=1-2", 10),
	RANGE_IGN("lines=1-2", 10),
	RANGE_IGN("none", 10),
	RANGE_IGN("bytes=0-1,5-6", 10),
	RANGE_IGN("bytes=0-1, 5-", 10),
	RANGE_IGN("bytes=0-1,-2", 10),
	RANGE_IGN("bytes=0-0,0-0", 10),
	RANGE_IGN("bytes=20-,30-", 10),
	RANGE_IGN("bytes=0-1,x", 10),
	RANGE_IGN("bytes=0-1;x", 10),
	RANGE_IGN("bytes=1-2\t3", 10),
};

/* Range values of every shape. */
START_TEST(test_range_parse)
{
	const struct range_vec	*v = &range_vecs[_i];
	off_t			 first = -7, last = -7;
	int			 r;

	r = static_range_parse(v->value, strlen(v->value), v->size, &first,
	    &last);
	ck_assert_msg(r == v->result, "\"%s\" on %lld gave %d", v->value,
	    (long long)v->size, r);
	if (r != STATIC_RANGE_OK)
		return;
	ck_assert_msg(first == v->first && last == v->last,
	    "\"%s\" gave %lld-%lld", v->value, (long long)first,
	    (long long)last);
}
END_TEST

/* Only len bytes are read: a range must not run past the value. */
START_TEST(test_range_parse_len)
{
	off_t	first, last;

	ck_assert_int_eq(static_range_parse("bytes=1-2", 8, 10, &first,
	    &last), STATIC_RANGE_OK);
	ck_assert_int_eq(last, 9);
	ck_assert_int_eq(static_range_parse("bytes=1-2", 6, 10, &first,
	    &last), STATIC_RANGE_IGNORE);
}
END_TEST

/* If-Range: strong etag comparison or the exact, strong date. */
START_TEST(test_if_range)
{
	static const struct {
		const char	*headers;
		int		 applies;
	} v[] = {
		{ "", 1 },
		{ "If-Range: \"5f5e1000-6\"\r\n", 1 },
		{ "If-Range: \"5f5e1000-7\"\r\n", 0 },
		{ "If-Range: W/\"5f5e1000-6\"\r\n", 0 },
		{ "If-Range: \"5f5e1000-6\", \"x\"\r\n", 0 },
		{ "If-Range: 5f5e1000-6\r\n", 0 },
		{ "If-Range: \r\n", 0 },
		{ "If-Range: Sun, 13 Sep 2020 12:26:40 GMT\r\n", 1 },
		{ "If-Range: Sunday, 13-Sep-20 12:26:40 GMT\r\n", 1 },
		{ "If-Range: Sun, 13 Sep 2020 12:26:41 GMT\r\n", 0 },
		{ "If-Range: Sun, 13 Sep 2020 12:26:39 GMT\r\n", 0 },
		{ "If-Range: Wed, 13 Sep 2020 12:26:40 GMT\r\n", 1 },
		{ "If-Range: yesterday\r\n", 0 },
		{ "If-Range: \"5f5e1000-6\"\r\nIf-Range: \"5f5e1000-6\"\r\n",
		    0 },
	};
	struct http_request	req;
	char			buf[512];
	size_t			i;

	for (i = 0; i < NELEM(v); i++) {
		make_req(&req, buf, sizeof(buf), v[i].headers);
		ck_assert_msg(static_if_range(&req, "\"5f5e1000-6\"",
		    TREE_MTIME, TREE_MTIME + 100) == v[i].applies, "%s",
		    v[i].headers);
	}
	/* A date is a strong validator only once a second old. */
	make_req(&req, buf, sizeof(buf),
	    "If-Range: Sun, 13 Sep 2020 12:26:40 GMT\r\n");
	ck_assert_int_eq(static_if_range(&req, "\"e\"", TREE_MTIME,
	    TREE_MTIME), 0);
	ck_assert_int_eq(static_if_range(&req, "\"e\"", TREE_MTIME,
	    TREE_MTIME + 1), 1);
	/* A weak etag of ours never matches. */
	make_req(&req, buf, sizeof(buf), "If-Range: W/\"e\"\r\n");
	ck_assert_int_eq(static_if_range(&req, "W/\"e\"", 0, 1), 0);
}
END_TEST

/* Directory redirects: one leading '/', encoded, the query kept. */
START_TEST(test_redirect)
{
	static const struct {
		const char	*path, *query, *location;
	} v[] = {
		{ "/dir", NULL, "/dir/" },
		{ "/a/b", NULL, "/a/b/" },
		{ "/dir", "", "/dir/?" },
		{ "/dir", "a=1&b=%20c?d", "/dir/?a=1&b=%20c?d" },
		{ "//evil.example", NULL, "/evil.example/" },
		{ "///evil.example", "x", "/evil.example/?x" },
		{ "/a//b", NULL, "/a/b/" },
		{ "/a b", NULL, "/a%20b/" },
		{ "/a\r\nSet-Cookie: x", NULL, "/a%0D%0ASet-Cookie:%20x/" },
		{ "/100%", NULL, "/100%25/" },
		{ "/a?b#c", NULL, "/a%3Fb%23c/" },
		{ "/\xc3\xa9\x7f", NULL, "/%C3%A9%7F/" },
		{ "/a\"<>\\^`{|}", NULL, "/a%22%3C%3E%5C%5E%60%7B%7C%7D/" },
		{ "/-._~!$&'()*+,;=:@", NULL, "/-._~!$&'()*+,;=:@/" },
		{ "/d", "q#f\x80 \r\n", "/d/?q%23f%80%20%0D%0A" },
		{ "", NULL, "/" },
	};
	size_t	i;
	char	*loc;

	for (i = 0; i < NELEM(v); i++) {
		loc = static_redirect(v[i].path, v[i].query,
		    v[i].query != NULL ? strlen(v[i].query) : 0);
		ck_assert_ptr_nonnull(loc);
		ck_assert_msg(strcmp(loc, v[i].location) == 0,
		    "\"%s\": \"%s\"", v[i].path, loc);
		free(loc);
	}
}
END_TEST

/* The suite for static.c. */
Suite *
static_suite(void)
{
	Suite	*s = suite_create("static");
	TCase	*tc;

	tc = tcase_create("pure");
	tcase_add_loop_test(tc, test_path_relative, 0, NELEM(rel_vecs));
	tcase_add_test(tc, test_path_relative_capacity);
	tcase_add_loop_test(tc, test_mime_type, 0, NELEM(mime_vecs));
	tcase_add_test(tc, test_etag);
	tcase_add_loop_test(tc, test_not_modified, 0, NELEM(cond_vecs));
	tcase_add_test(tc, test_not_modified_comma_tag);
	tcase_add_loop_test(tc, test_dotfile, 0, NELEM(dot_vecs));
	tcase_add_loop_test(tc, test_range_parse, 0, NELEM(range_vecs));
	tcase_add_test(tc, test_range_parse_len);
	tcase_add_test(tc, test_if_range);
	tcase_add_test(tc, test_redirect);
	suite_add_tcase(s, tc);

	/* The tree is made once in the runner, not in each forked test. */
	tc = tcase_create("open");
	tcase_add_unchecked_fixture(tc, tree_setup, tree_teardown);
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_open_file);
	tcase_add_test(tc, test_open_missing);
	tcase_add_test(tc, test_open_too_long);
	tcase_add_test(tc, test_open_dir_index);
	tcase_add_test(tc, test_open_dir_redirect);
	tcase_add_test(tc, test_open_dir_no_index);
	tcase_add_test(tc, test_open_symlink_inside);
	tcase_add_test(tc, test_open_symlink_outside);
	tcase_add_test(tc, test_open_forbidden);
	tcase_add_test(tc, test_open_fifo);
	tcase_add_test(tc, test_open_conditional);
	tcase_add_test(tc, test_open_range);
	tcase_add_test(tc, test_open_dotfiles);
	suite_add_tcase(s, tc);
	return s;
}
