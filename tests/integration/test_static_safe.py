"""test_static_safe.py -- static files that cannot be turned against the
site or the daemon: normalised paths and redirects that stay on the site,
dot files, nosniff, byte ranges (RFC 9110 14) and file bodies read with
pread in chunks (a file truncated or replaced mid-transfer, a client that
does not read, pipelining and Connection: close behind a long body)."""

import array
import os
import shutil
import socket
import ssl
import subprocess
import sys
import time

import pytest

import helpers
from helpers import Conn, read_response, request

NOSNIFF = "nosniff"
BIG = 32 * 1024 * 1024
HUGE = 64 * 1024 * 1024
OLD = 1500000000        # mtime of the tree: If-Range dates are strong


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """root/: notes.txt, r.bin (1000 bytes), evil.example/ (with index),
    weird directories, dot files; every mtime in the past."""
    root = tmp_path_factory.mktemp("safe") / "root"
    root.mkdir()
    (root / "notes.txt").write_text("plain notes\n")
    (root / "r.bin").write_bytes(bytes(range(256)) * 3 + bytes(232))
    (root / "empty.txt").write_bytes(b"")
    (root / "evil.example").mkdir()
    (root / "evil.example" / "index.html").write_text("<p>evil dir</p>\n")
    (root / "sub").mkdir()
    (root / "sub" / "index.html").write_text("<p>sub</p>\n")
    (root / "we ird%dir").mkdir()
    (root / "q?#").mkdir()
    (root / "x\r\ny").mkdir()
    (root / "\u00e9t\u00e9").mkdir()
    (root / ".git").mkdir()
    (root / ".git" / "config").write_text("[core] secret\n")
    (root / ".env").write_text("SECRET=1\n")
    (root / "sub" / ".hidden").mkdir()
    (root / "sub" / ".hidden" / "file").write_text("hidden file\n")
    (root / ".well-known").mkdir()
    (root / ".well-known" / "x").write_text("well known\n")
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            os.utime(os.path.join(dirpath, name), (OLD, OLD))
    return root


def get(port, path, headers=None, method="GET", tls_ctx=None):
    """One request on a fresh connection (TLS with tls_ctx)."""
    c = tls_conn(port, tls_ctx) if tls_ctx else Conn(port)
    with c:
        c.send(request(method, path, headers=headers))
        return read_response(c, head_request=(method == "HEAD"))


# ------------------------------------------------------------- redirects


@pytest.mark.parametrize("path,location", [
    ("//evil.example", "/evil.example/"),
    ("///evil.example", "/evil.example/"),
    ("//evil.example?next=//x", "/evil.example/?next=//x"),
    ("/sub//..%2e", None),
    ("//sub", "/sub/"),
    ("//sub?a=1&b=%20", "/sub/?a=1&b=%20"),
    ("/we%20ird%25dir", "/we%20ird%25dir/"),
    ("/q%3F%23", "/q%3F%23/"),
    ("/x%0d%0ay", "/x%0D%0Ay/"),
    ("/%C3%A9t%C3%A9", "/%C3%A9t%C3%A9/"),
])
def test_redirect_single_slash_encoded(wsd, site, path, location):
    d = wsd(helpers.make_config(site))
    r = get(d.port, path)
    loc = r.header("Location")
    if location is None:
        assert loc is None, r
        return
    assert r.status == 301, (path, r)
    assert loc == location, (path, r)
    assert r.header("X-Content-Type-Options") == NOSNIFF, r
    assert b"\r\n\r\n" in r.head and b"\ny\r\n" not in r.head


@pytest.mark.parametrize("path", ["//evil.example", "//evil.example/",
                                  "//evil.example//", "///evil.example/x",
                                  "//evil.example?x", "//evil.example/..",
                                  "/.//evil.example"])
@pytest.mark.parametrize("exists", [True, False])
def test_no_open_redirect(wsd, site, tmp_path, path, exists):
    """Never a Location starting with "//", a directory or not."""
    root = site
    if not exists:
        root = tmp_path / "bare"
        root.mkdir()
        (root / "notes.txt").write_text("n\n")
    d = wsd(helpers.make_config(root))
    r = get(d.port, path)
    loc = r.header("Location")
    assert loc is None or (loc.startswith("/") and
                           not loc.startswith("//")), (path, r)
    if loc is not None:
        assert loc.split("?")[0] == "/evil.example/", (path, r)
    if exists and path in ("//evil.example/", "//evil.example//"):
        assert (r.status, r.body) == (200, b"<p>evil dir</p>\n"), r
    if not exists:
        assert r.status in (400, 404), (path, r)


def test_normalised_before_routing(wsd, site):
    """"//echo" is the app on /echo; "/sub//index.html" the file."""
    routes = [("/", {"app": "static", "root": str(site)}),
              ("/health", {"app": "health"})]
    d = wsd(helpers.make_config(routes=routes))
    assert get(d.port, "//health").body == b"ok\n"
    r = get(d.port, "/sub//index.html")
    assert (r.status, r.body) == (200, b"<p>sub</p>\n"), r


# -------------------------------------------------------------- dotfiles


HIDDEN = [("/.git/config", b"[core] secret\n"), ("/.env", b"SECRET=1\n"),
          ("/sub/.hidden/file", b"hidden file\n")]


@pytest.mark.parametrize("path,body", HIDDEN)
def test_dotfiles_denied_by_default(wsd, site, path, body):
    d = wsd(helpers.make_config(site))
    r = get(d.port, path)
    assert r.status == 404, (path, r)
    assert body not in r.body
    assert r.header("X-Content-Type-Options") == NOSNIFF, r
    # Not even a redirect says a hidden directory is there.
    assert get(d.port, "/.git").status == 404


@pytest.mark.parametrize("value", ["allow", "deny"])
def test_dotfiles_key(wsd, site, value):
    d = wsd(helpers.make_config(site, route_extra={"/": {
        "dotfiles": value}}))
    for path, body in HIDDEN:
        r = get(d.port, path)
        if value == "allow":
            assert (r.status, r.body) == (200, body), (path, r)
        else:
            assert r.status == 404, (path, r)


def test_well_known_always_served(wsd, site):
    d = wsd(helpers.make_config(site))
    r = get(d.port, "/.well-known/x")
    assert (r.status, r.body) == (200, b"well known\n"), r


def test_dotfiles_bad_value_is_config_error(wsd, site, tmp_path):
    conf = tmp_path / "bad.ini"
    conf.write_text(helpers.make_config(site, route_extra={"/": {
        "dotfiles": "maybe"}}))
    rc, out = helpers.run_wsd(["-t", "-c", str(conf)])
    assert rc != 0
    assert "%s:" % conf in out and "dotfiles" in out, out
    conf.write_text(helpers.make_config(site) +
                    "\n[route /e]\napp = echo\ndotfiles = allow\n")
    rc, out = helpers.run_wsd(["-t", "-c", str(conf)])
    assert rc != 0 and "only for static routes" in out, out


# --------------------------------------------------------------- nosniff


def test_nosniff_everywhere(wsd, site):
    d = wsd(helpers.make_config(site))
    r200 = get(d.port, "/notes.txt")
    cases = {
        200: r200,
        304: get(d.port, "/notes.txt",
                 {"If-None-Match": r200.header("ETag")}),
        404: get(d.port, "/missing.txt"),
        301: get(d.port, "/sub"),
        206: get(d.port, "/notes.txt", {"Range": "bytes=0-1"}),
        416: get(d.port, "/notes.txt", {"Range": "bytes=100-"}),
    }
    for status, r in cases.items():
        assert r.status == status, (status, r)
        assert r.header("X-Content-Type-Options") == NOSNIFF, r
    assert get(d.port, "/notes.txt", method="HEAD").header(
        "X-Content-Type-Options") == NOSNIFF


# ---------------------------------------------------------------- ranges


DATA = bytes(range(256)) * 3 + bytes(232)      # r.bin, 1000 bytes


@pytest.mark.parametrize("spec,first,last", [
    ("bytes=0-0", 0, 0),
    ("bytes=10-19", 10, 19),
    ("bytes=990-", 990, 999),
    ("bytes=-5", 995, 999),
    ("bytes=-5000", 0, 999),
    ("bytes=900-5000", 900, 999),
    ("bytes=0-999", 0, 999),
    ("BYTES=1-2", 1, 2),
])
def test_range_206(wsd, site, spec, first, last):
    d = wsd(helpers.make_config(site))
    r = get(d.port, "/r.bin", {"Range": spec})
    assert r.status == 206, (spec, r)
    assert r.header("Content-Range") == "bytes %d-%d/1000" % (first, last)
    assert int(r.header("Content-Length")) == last - first + 1
    assert r.body == DATA[first:last + 1]
    assert r.header("Accept-Ranges") == "bytes", r


@pytest.mark.parametrize("spec", ["bytes=1000-", "bytes=5000-6000",
                                  "bytes=-0",
                                  "bytes=99999999999999999999999-"])
def test_range_416(wsd, site, spec):
    d = wsd(helpers.make_config(site))
    with Conn(d.port) as c:
        c.send(request("GET", "/r.bin", headers={"Range": spec}))
        r = read_response(c)
        assert r.status == 416, (spec, r)
        assert r.header("Content-Range") == "bytes */1000", r
        # The connection goes on.
        c.send(request("GET", "/notes.txt"))
        assert read_response(c).body == b"plain notes\n"


@pytest.mark.parametrize("spec", ["bytes=5-3", "bytes=-", "bytes=",
                                  "bytes=a-b", "lines=1-2", "bytes = 1-2",
                                  "bytes=1-2;3", "bytes=0-1,5-6",
                                  "bytes=0-1, -3", "bytes=--1"])
def test_range_ignored_200(wsd, site, spec):
    d = wsd(helpers.make_config(site))
    r = get(d.port, "/r.bin", {"Range": spec})
    assert (r.status, r.body) == (200, DATA), (spec, r)
    assert r.header("Content-Range") is None
    assert r.header("Accept-Ranges") == "bytes", r


def test_if_range(wsd, site):
    d = wsd(helpers.make_config(site))
    full = get(d.port, "/r.bin")
    etag, lm = full.header("ETag"), full.header("Last-Modified")
    for cond in (etag, lm):
        r = get(d.port, "/r.bin", {"Range": "bytes=1-2", "If-Range": cond})
        assert (r.status, r.body) == (206, DATA[1:3]), (cond, r)
    old_etag = '"%x-%x"' % (OLD - 1, 1000)
    for cond in (old_etag, "W/" + etag, "Sun, 06 Nov 1994 08:49:37 GMT",
                 "garbage"):
        r = get(d.port, "/r.bin", {"Range": "bytes=1-2", "If-Range": cond})
        assert (r.status, r.body) == (200, DATA), (cond, r)
    # A stale If-Range turns an unsatisfiable range into the whole file.
    r = get(d.port, "/r.bin", {"Range": "bytes=5000-",
                               "If-Range": old_etag})
    assert (r.status, r.body) == (200, DATA), r


def test_head_with_range(wsd, site):
    d = wsd(helpers.make_config(site))
    with Conn(d.port) as c:
        c.send(request("HEAD", "/r.bin", headers={"Range": "bytes=10-19"}))
        r = read_response(c, head_request=True)
        assert r.status == 206, r
        assert r.header("Content-Range") == "bytes 10-19/1000"
        assert r.header("Content-Length") == "10"
        c.send(request("HEAD", "/r.bin", headers={"Range": "bytes=2000-"}))
        r = read_response(c, head_request=True)
        assert r.status == 416, r
        assert r.header("Content-Range") == "bytes */1000"
        # No body went out: the next response follows at once.
        c.send(request("GET", "/notes.txt"))
        assert read_response(c).body == b"plain notes\n"


def test_empty_file_ranges(wsd, site):
    d = wsd(helpers.make_config(site))
    assert get(d.port, "/empty.txt", {"Range": "bytes=0-"}).status == 416
    r = get(d.port, "/empty.txt", {"Range": "bytes=-5"})
    assert (r.status, r.body) == (200, b""), r


# ------------------------------------------------------- streamed bodies


@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    """A self-signed certificate and key for a TLS listener."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is not installed")
    base = tmp_path_factory.mktemp("cert")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
                    str(base / "key.pem"), "-out", str(base / "cert.pem"),
                    "-days", "3", "-subj", "/CN=localhost"],
                   check=True, capture_output=True)
    return base / "cert.pem", base / "key.pem"


class TlsConn(Conn):
    """helpers.Conn over TLS, certificate not checked; a truncated TLS
    stream reads as EOF."""

    def __init__(self, port, ctx, **kw):
        super().__init__(port, **kw)
        self.sock = ctx.wrap_socket(self.sock, server_hostname="localhost")

    def _fill(self, deadline):
        try:
            return super()._fill(deadline)
        except (ssl.SSLError, ConnectionError):
            self.eof = True
            raise helpers.Closed("TLS stream ended")


def tls_conn(port, ctx, **kw):
    return TlsConn(port, ctx, **kw)


def client_ctx():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def stream_daemon(wsd, root, cert, tls, server=None):
    """A daemon serving root, on TLS when tls; returns (daemon, ctx)."""
    text = helpers.make_config(root, server=server)
    if tls:
        text = text.replace("listen = 127.0.0.1:0\n",
                            "listen = 127.0.0.1:0 tls\n", 1)
        text += "\n[tls]\ncertificate = %s\nprivate_key = %s\n" % cert
    d = wsd(text)
    return d, (client_ctx() if tls else None)


def open_conn(d, ctx, **kw):
    return tls_conn(d.port, ctx, **kw) if ctx else Conn(d.port, **kw)


def read_head(c):
    """Reads a response head; returns (status, {lower name: value})."""
    raw = c.read_until(b"\r\n\r\n").decode("latin-1")
    lines = raw.split("\r\n")
    hdrs = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            hdrs[k.strip().lower()] = v.strip()
    return int(lines[0].split()[1]), hdrs


def read_some(c, n, timeout=10):
    """Reads at least n body bytes (after the head) into c.buf."""
    deadline = time.monotonic() + timeout
    while len(c.buf) < n:
        c._fill(deadline)


@pytest.fixture
def big_root(tmp_path):
    root = tmp_path / "big"
    root.mkdir()
    return root


def write_big(path, size):
    """size bytes whose every 4-byte word is its own offset / 4."""
    chunk = 4 << 20
    with open(path, "wb") as f:
        for base in range(0, size, chunk):
            n = min(chunk, size - base) // 4
            a = array.array("I", range(base // 4, base // 4 + n))
            if sys.byteorder == "little":
                a.byteswap()
            f.write(a.tobytes())


def check_words(data, start=0):
    """data, read from offset start, is write_big's content."""
    step = 4096
    for off in range(0, len(data) - 3, step):
        pos = start + off
        assert pos % 4 == 0
        assert int.from_bytes(data[off:off + 4], "big") == pos // 4, pos


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
def test_truncated_mid_transfer(wsd, big_root, cert, tls):
    f = big_root / "big.bin"
    write_big(f, BIG)
    d, ctx = stream_daemon(wsd, big_root, cert, tls,
                           server={"idle_timeout": "10s"})
    mark = d.log_mark()
    with open_conn(d, ctx, rcvbuf=65536, timeout=15) as c:
        c.send(request("GET", "/big.bin"))
        status, hdrs = read_head(c)
        assert status == 200 and int(hdrs["content-length"]) == BIG
        read_some(c, 1 << 20)
        os.truncate(f, 4096)
        body = c.read_to_eof(timeout=15)   # the buffered part too
    assert len(body) < BIG, "the whole body came after the truncation"
    check_words(body)
    d.wait_log(r"/big\.bin: file shrank at byte \d+ of %d, closing" % BIG,
               start=mark)
    assert d.alive(), "wsd died: %s" % d.log_tail()
    with open_conn(d, ctx) as c:
        c.send(request("GET", "/big.bin"))
        r = read_response(c)
        assert r.status == 200 and len(r.body) == 4096


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
def test_replaced_mid_transfer(wsd, big_root, cert, tls):
    """rename() over the file: the open file is sent whole."""
    f = big_root / "big.bin"
    write_big(f, BIG // 4)
    d, ctx = stream_daemon(wsd, big_root, cert, tls,
                           server={"idle_timeout": "10s"})
    with open_conn(d, ctx, rcvbuf=65536, timeout=15) as c:
        c.send(request("GET", "/big.bin"))
        status, hdrs = read_head(c)
        assert status == 200
        read_some(c, 1 << 20)
        new = big_root / "new.bin"
        new.write_bytes(b"new content\n")
        os.rename(new, f)
        body = c.read_exact(BIG // 4, timeout=15)
    check_words(body)
    assert get(d.port, "/big.bin", tls_ctx=ctx).body == b"new content\n"
    assert d.alive()


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
def test_memory_bounded_for_reader_that_stalls(wsd, big_root, cert, tls):
    write_big(big_root / "huge.bin", HUGE)
    d, ctx = stream_daemon(wsd, big_root, cert, tls,
                           server={"idle_timeout": "30s"})
    # Warm up: the first response allocates what every one needs.
    assert get(d.port, "/.x", tls_ctx=ctx).status == 404
    before = helpers.proc_rss_kb(d.pid)
    conns = []
    try:
        for _ in range(2):
            c = open_conn(d, ctx, rcvbuf=16384, timeout=15)
            conns.append(c)
            c.send(request("GET", "/huge.bin"))
            c.read_until(b"\r\n\r\n")
        time.sleep(1.5)
        grown = helpers.proc_rss_kb(d.pid) - before
        assert grown < 8 * 1024, "RSS grew by %d KiB" % grown
        # The daemon still serves others meanwhile.
        assert get(d.port, "/huge.bin", method="HEAD",
                   tls_ctx=ctx).status == 200
        # And a reader that resumes gets the whole file.
        c = conns[0]
        check_words(c.read_exact(4096))
        n = 4096
        deadline = time.monotonic() + 60
        while True:
            n += len(c.buf)
            c.buf.clear()
            if n >= HUGE:
                break
            c._fill(deadline)
        assert n == HUGE
    finally:
        for c in conns:
            c.close()


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
def test_pipelined_after_streamed_body(wsd, big_root, cert, tls):
    """A request behind a long body is answered after all of it."""
    write_big(big_root / "big.bin", BIG // 8)
    (big_root / "small.txt").write_text("small\n")
    d, ctx = stream_daemon(wsd, big_root, cert, tls)
    with open_conn(d, ctx, timeout=15) as c:
        c.send(request("GET", "/big.bin") +
               request("GET", "/big.bin", headers={"Range": "bytes=4-"}) +
               request("GET", "/small.txt"))
        r = read_response(c, timeout=15)
        assert r.status == 200 and len(r.body) == BIG // 8
        check_words(r.body)
        r = read_response(c, timeout=15)
        assert r.status == 206 and len(r.body) == BIG // 8 - 4
        check_words(r.body, 4)
        r = read_response(c)
        assert (r.status, r.body) == (200, b"small\n")


def test_connection_close_long_body(wsd, big_root, cert):
    """Connection: close behind a body that takes longer than
    close_timeout (1s) to read: the body is sent whole."""
    write_big(big_root / "big.bin", BIG // 4)
    d, ctx = stream_daemon(wsd, big_root, cert, False,
                           server={"idle_timeout": "10s"})
    with Conn(d.port, rcvbuf=65536, timeout=15) as c:
        c.send(request("GET", "/big.bin", headers={"Connection": "close"}))
        status, hdrs = read_head(c)
        assert status == 200
        read_some(c, 1 << 20)
        time.sleep(2.5)
        body = c.read_to_eof(timeout=15)   # the buffered part too
    assert len(body) == BIG // 4
    check_words(body)
