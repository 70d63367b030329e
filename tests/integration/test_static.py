"""test_static.py -- static files: types, HEAD, conditional GET, directories,
path safety, symlinks, and the demo pages."""

import os
import pathlib
import re
import shutil
import tempfile
from urllib.parse import urlsplit

import pytest

import helpers
from helpers import Conn, read_response, request


def test_head_matches_get(wsd, static_root):
    d = wsd()
    g = helpers.http_get(d.port, "/style.css")
    with Conn(d.port) as c:
        c.send(request("HEAD", "/style.css", headers={"Connection": "close"}))
        h = read_response(c, head_request=True)
        rest = c.read_to_eof(3.0)
    assert h.status == 200, h
    assert rest == b"", "HEAD response carried a body: %r" % rest[:100]
    size = os.path.getsize(static_root / "style.css")
    assert int(h.header("Content-Length")) == size == len(g.body)
    for name in ("Content-Type", "ETag", "Last-Modified", "Content-Length"):
        assert h.header(name) == g.header(name), name


def test_head_big_file_no_body(wsd, static_root):
    d = wsd()
    with Conn(d.port) as c:
        c.send(request("HEAD", "/big.bin"))
        h = read_response(c, head_request=True)
        assert int(h.header("Content-Length")) == os.path.getsize(
            static_root / "big.bin")
        # The next response follows directly: no body bytes in between.
        c.send(request("GET", "/notes.txt"))
        r = read_response(c)
        assert (r.status, r.body) == (200, b"plain notes\n")


@pytest.mark.parametrize("path,ctype", [
    ("/index.html", "text/html"),
    ("/style.css", "text/css"),
    ("/notes.txt", "text/plain"),
    ("/pixel.png", "image/png"),
    ("/blob.xyz", "application/octet-stream"),
])
def test_content_type_by_extension(wsd, path, ctype):
    d = wsd()
    r = helpers.http_get(d.port, path)
    assert r.status == 200, r
    assert r.header("Content-Type", "").split(";")[0].strip() == ctype, r


def test_big_file_intact(wsd, static_root):
    d = wsd()
    r = helpers.http_get(d.port, "/big.bin", timeout=10)
    assert r.status == 200
    assert r.body == (static_root / "big.bin").read_bytes()


def test_query_string_ignored(wsd):
    d = wsd()
    r = helpers.http_get(d.port, "/notes.txt?v=1&x=%00")
    assert (r.status, r.body) == (200, b"plain notes\n")


def test_percent_encoded_name(wsd):
    d = wsd()
    r = helpers.http_get(d.port, "/n%6Ftes.txt")
    assert (r.status, r.body) == (200, b"plain notes\n")


def test_validators_present(wsd, static_root):
    d = wsd()
    r = helpers.http_get(d.port, "/notes.txt")
    assert re.match(r'^(W/)?"[^"]+"$', r.header("ETag", "")), r
    assert r.header("Last-Modified", "").endswith(" GMT"), r


def test_if_none_match_304(wsd):
    d = wsd()
    r = helpers.http_get(d.port, "/notes.txt")
    etag = r.header("ETag")
    with Conn(d.port) as c:
        c.send(request("GET", "/notes.txt", headers={"If-None-Match": etag}))
        r2 = read_response(c)
        assert r2.status == 304, r2
        # No body after a 304: the next response on the connection parses.
        c.send(request("GET", "/sub/page.txt"))
        r3 = read_response(c)
        assert (r3.status, r3.body) == (200, b"sub page\n")


def test_if_none_match_other_etag_200(wsd):
    d = wsd()
    r = helpers.http_get(d.port, "/notes.txt",
                         headers={"If-None-Match": '"nope-123"'})
    assert (r.status, r.body) == (200, b"plain notes\n")


def test_if_none_match_list_and_star(wsd):
    d = wsd()
    etag = helpers.http_get(d.port, "/notes.txt").header("ETag")
    r = helpers.http_get(d.port, "/notes.txt", headers={
        "If-None-Match": '"other", %s' % etag})
    assert r.status == 304, r
    r = helpers.http_get(d.port, "/notes.txt", headers={"If-None-Match": "*"})
    assert r.status == 304, r


def test_head_404_has_no_body(wsd):
    d = wsd()
    with Conn(d.port) as c:
        c.send(request("HEAD", "/missing.txt"))
        r = read_response(c, head_request=True)
        assert r.status == 404, r
        c.send(request("GET", "/notes.txt"))
        r = read_response(c)
        assert (r.status, r.body) == (200, b"plain notes\n")


def test_if_modified_since_304(wsd):
    d = wsd()
    lm = helpers.http_get(d.port, "/notes.txt").header("Last-Modified")
    r = helpers.http_get(d.port, "/notes.txt",
                         headers={"If-Modified-Since": lm})
    assert r.status == 304, r


def test_if_modified_since_other_date_forms(wsd):
    # RFC 7231 7.1.1.1: recipients accept the RFC 850 and asctime forms.
    from email.utils import parsedate_to_datetime
    d = wsd()
    lm = helpers.http_get(d.port, "/notes.txt").header("Last-Modified")
    t = parsedate_to_datetime(lm)
    rfc850 = t.strftime("%A, %d-%b-%y %H:%M:%S GMT")
    asctime = "%s %2d %s" % (t.strftime("%a %b"), t.day,
                             t.strftime("%H:%M:%S %Y"))
    for form in (rfc850, asctime):
        r = helpers.http_get(d.port, "/notes.txt",
                             headers={"If-Modified-Since": form})
        assert r.status == 304, (form, r)


def test_if_modified_since_old_200(wsd):
    d = wsd()
    r = helpers.http_get(d.port, "/notes.txt", headers={
        "If-Modified-Since": "Sun, 06 Nov 1994 08:49:37 GMT"})
    assert (r.status, r.body) == (200, b"plain notes\n")


def test_if_none_match_wins_over_if_modified_since(wsd):
    d = wsd()
    lm = helpers.http_get(d.port, "/notes.txt").header("Last-Modified")
    r = helpers.http_get(d.port, "/notes.txt", headers={
        "If-None-Match": '"other"', "If-Modified-Since": lm})
    assert r.status == 200, r


def test_directory_without_slash_301(wsd):
    d = wsd()
    r = helpers.http_get(d.port, "/sub")
    assert r.status == 301, r
    assert urlsplit(r.header("Location", "")).path == "/sub/", r


def test_directory_301_with_long_query(wsd):
    # The Location header holds the whole query, however long the
    # request line allows (4 KiB), and ends its line: it used to be cut
    # at 2 KiB, running into the next header.
    d = wsd()
    query = "q=" + "a" * 4000
    r = helpers.http_get(d.port, "/sub?" + query)
    assert r.status == 301, r
    assert r.header("Location") == "/sub/?" + query
    assert r.header("Content-Type") == "text/plain; charset=utf-8", r


def test_directory_with_slash_index(wsd):
    d = wsd()
    r = helpers.http_get(d.port, "/sub/")
    assert r.status == 200, r
    assert r.body == b"<p>sub index</p>\n"
    assert r.header("Content-Type", "").startswith("text/html")


def test_directory_without_index_404(wsd):
    d = wsd()
    r = helpers.http_get(d.port, "/empty/")
    assert r.status == 404, r
    assert b"not an index" not in r.body


TRAVERSALS = [
    "/../etc/passwd",
    "/%2e%2e/%2e%2e/etc/passwd",
    "/%2E%2E/%2E%2E/etc/passwd",
    "/sub/../../etc/passwd",
    "/sub/%2e%2e/%2e%2e/etc/passwd",
    "/..%2f..%2fetc/passwd",
    "/a%2fb",
    "/sub%2Fpage.txt",
    "/%00",
    "/notes.txt%00.html",
    "/a/./b",
    "/sub/./page.txt",
    "/%2e/notes.txt",
    "/sub/..",
    "/%zz",
    "/%2",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_path_traversal_400(wsd, path):
    d = wsd()
    with Conn(d.port) as c:
        c.send(request("GET", path))
        r = read_response(c)
    assert r.status == 400, (path, r)
    assert b"root:" not in r.body and b"TOP SECRET" not in r.body
    assert b"sub page" not in r.body


@pytest.mark.parametrize("path", ["//etc/passwd", "/sub//page.txt",
                                  "/%ff", "/" + "a" * 5000])
def test_odd_paths_never_escape(wsd, path):
    d = wsd()
    r = helpers.http_get(d.port, path)
    assert r.status in (200, 400, 404, 414), (path, r)
    assert b"root:" not in r.body
    if r.status == 200:
        assert r.body == b"sub page\n", (path, r)
    assert d.alive()


def test_symlink_inside_root_served(wsd):
    d = wsd()
    r = helpers.http_get(d.port, "/link_in.txt")
    assert r.status == 200, r
    assert b"wsd test root index" in r.body


@pytest.mark.parametrize("path", ["/link_out.txt", "/link_dir_out/secret.txt",
                                  "/link_dir_out/"])
def test_symlink_outside_root_404(wsd, path):
    d = wsd()
    r = helpers.http_get(d.port, path)
    assert r.status == 404, (path, r)
    assert b"TOP SECRET" not in r.body


def test_fifo_is_404(wsd):
    d = wsd()
    r = helpers.http_get(d.port, "/fifo", timeout=3)
    assert r.status == 404, r


@pytest.fixture
def open_dir():
    """A world-readable scratch directory (tmp_path is private to root)."""
    path = tempfile.mkdtemp(prefix="wsd-test-")
    os.chmod(path, 0o755)
    yield pathlib.Path(path)
    shutil.rmtree(path, ignore_errors=True)


def test_unreadable_file_403(open_dir, wsd, wsd_binary):
    root = open_dir / "www"
    root.mkdir()
    os.chmod(root, 0o755)
    (root / "ok.txt").write_text("ok\n")
    os.chmod(root / "ok.txt", 0o644)
    (root / "locked.txt").write_text("locked\n")
    os.chmod(root / "locked.txt", 0)
    preexec = None
    binary = None
    if os.geteuid() == 0:
        # The build tree may sit in a directory only root can enter.
        binary = open_dir / "wsd"
        shutil.copy(wsd_binary, binary)
        os.chmod(binary, 0o755)
        # root reads anything: run wsd as nobody for this test.
        def preexec():
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
    conf = open_dir / "wsd.ini"
    d = wsd(helpers.make_config(root), preexec_fn=preexec, config_file=conf,
            binary=binary)
    assert helpers.http_get(d.port, "/ok.txt").status == 200
    r = helpers.http_get(d.port, "/locked.txt")
    assert r.status == 403, r
    assert b"locked" not in r.body


def test_static_route_under_prefix(wsd, static_root):
    routes = [("/files", {"app": "static", "root": str(static_root)}),
              ("/echo", {"app": "echo"})]
    d = wsd(helpers.make_config(routes=routes))
    r = helpers.http_get(d.port, "/files/notes.txt")
    assert (r.status, r.body) == (200, b"plain notes\n")
    r = helpers.http_get(d.port, "/files/sub/")
    assert (r.status, r.body) == (200, b"<p>sub index</p>\n")
    r = helpers.http_get(d.port, "/files")
    assert r.status == 301, r
    assert urlsplit(r.header("Location", "")).path == "/files/"
    assert helpers.http_get(d.port, "/filesx/notes.txt").status == 404
    assert helpers.http_get(d.port, "/notes.txt").status == 404


def test_demo_pages(wsd, srcdir):
    www = srcdir / "www"
    d = wsd(helpers.make_config(www))
    idx = helpers.http_get(d.port, "/")
    assert idx.status == 200, idx
    assert idx.header("Content-Type", "").startswith("text/html")
    assert b'href="hello.html"' in idx.body
    assert b'href="echo.html"' in idx.body
    for page, path in (("hello.html", "/hello"), ("echo.html", "/echo")):
        r = helpers.http_get(d.port, "/" + page)
        assert r.status == 200, (page, r)
        assert b"location.host" in r.body, page
        assert ("'%s'" % path).encode() in r.body, page
    for page in ("index.html", "hello.html", "echo.html"):
        body = (www / page).read_bytes()
        assert re.search(rb'<html lang="[a-z]+"', body), page
        assert b'href="style.css"' in body, page
        # No external resources: nothing is fetched from another origin.
        assert not re.search(rb'(src|href)="(https?:)?//', body), page
    css = helpers.http_get(d.port, "/style.css")
    assert css.status == 200
    assert css.header("Content-Type", "").startswith("text/css")
