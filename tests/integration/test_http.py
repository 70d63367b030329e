"""test_http.py -- HTTP/1.1 handling: connections, limits, errors, timeouts."""

import re
import signal
import time

import pytest

import helpers
from helpers import Conn, read_response, request


def assert_closed(c, timeout=3.0):
    assert c.wait_closed(timeout), "still open after %.1fs" % timeout


def test_get_root(wsd):
    d = wsd()
    r = helpers.http_get(d.port, "/")
    assert r.status == 200, r
    assert r.version == "HTTP/1.1"
    assert r.header("Content-Type", "").startswith("text/html"), r
    assert b"wsd test root index" in r.body
    assert int(r.header("Content-Length")) == len(r.body)
    assert re.match(r"wsd/\d", r.header("Server", "")), r
    assert r.header("Date"), r


def check_common_headers(r):
    """What the spec says every response carries."""
    assert re.match(r"wsd/\d+\.\d+", r.header("Server", "")), r
    assert re.match(r"^[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} "
                    r"\d\d:\d\d:\d\d GMT$", r.header("Date", "")), r
    if r.status != 304:
        assert r.header("Content-Length") is not None, r
        assert r.header("Content-Type"), r


@pytest.mark.parametrize("data,status", [
    (request("GET", "/notes.txt"), 200),
    (request("GET", "/sub"), 301),
    (request("GET", "/missing"), 404),
    (request("POST", "/notes.txt", headers={"Content-Length": "0"}), 405),
    (request("GET", "/echo"), 426),
    (request("GET", "/notes.txt", host=False), 400),
    (b"GARBAGE\r\n\r\n", 400),
    (request("GET", "/" + "a" * 9000), 414),
    (request("GET", "/", headers={"X-Big": "b" * 9000}), 431),
    (request("GET", "/", version="HTTP/2.0"), 505),
], ids=["200", "301", "404", "405", "426", "400-host", "400-garbage", "414",
        "431", "505"])
def test_common_headers(wsd, data, status):
    d = wsd()
    r = helpers.http_raw(d.port, data)
    assert r.status == status, r
    check_common_headers(r)


def test_keep_alive_two_requests(wsd):
    d = wsd()
    with Conn(d.port) as c:
        c.send(request("GET", "/index.html"))
        r1 = read_response(c)
        c.send(request("GET", "/style.css"))
        r2 = read_response(c)
    assert r1.status == 200 and b"wsd test root index" in r1.body
    assert r2.status == 200 and r2.body == b"body { color: black; }\n"


def test_pipelined_requests(wsd):
    d = wsd()
    with Conn(d.port) as c:
        c.send(request("GET", "/notes.txt") + request("HEAD", "/style.css")
               + request("GET", "/sub/page.txt"))
        r1 = read_response(c)
        r2 = read_response(c, head_request=True)
        r3 = read_response(c)
    assert (r1.status, r1.body) == (200, b"plain notes\n")
    assert (r2.status, r2.header("Content-Length")) == (200, "23")
    assert (r3.status, r3.body) == (200, b"sub page\n")


def test_bare_lf_and_leading_empty_lines(wsd):
    d = wsd()
    r = helpers.http_raw(d.port, b"GET /notes.txt HTTP/1.1\nHost: x\n\n")
    assert (r.status, r.body) == (200, b"plain notes\n")
    r = helpers.http_raw(d.port, b"\r\n\r\n" + request("GET", "/notes.txt"))
    assert (r.status, r.body) == (200, b"plain notes\n")


def test_request_body_is_never_a_request(wsd):
    # A body is not read as the next request (no request smuggling).
    d = wsd()
    # A Transfer-Encoding is refused outright (test_http_strict.py).
    smuggled = request("GET", "/sub/page.txt")
    for hdrs, status in (({"Content-Length": str(len(smuggled))}, 200),
                         ({"Transfer-Encoding": "chunked"}, 400)):
        with Conn(d.port) as c:
            c.send(request("GET", "/notes.txt", headers=hdrs) + smuggled)
            r = read_response(c)
            assert r.status == status, hdrs
            rest = c.read_to_eof(3.0)
            assert b"sub page" not in rest, (hdrs, rest)


def test_invalid_content_length_400(wsd):
    d = wsd()
    r = helpers.http_raw(d.port, request("GET", "/notes.txt",
                                         headers={"Content-Length": "abc"}))
    assert r.status == 400, r


def test_pipelined_request_then_upgrade(wsd):
    d = wsd()
    key = helpers.ws_key()
    with Conn(d.port) as c:
        c.send(request("GET", "/notes.txt")
               + helpers.upgrade_request("/echo", key)
               + helpers.frame(helpers.OP_TEXT, "after upgrade"))
        r = read_response(c)
        assert (r.status, r.body) == (200, b"plain notes\n")
        r = read_response(c, head_request=True)
        assert r.status == 101, r
        assert r.header("Sec-WebSocket-Accept") == helpers.ws_accept(key)
        assert helpers.read_message(c)[:2] == (helpers.OP_TEXT,
                                              b"after upgrade")


def test_connection_close_honoured(wsd):
    d = wsd()
    with Conn(d.port) as c:
        c.send(request("GET", "/notes.txt", headers={"Connection": "close"}))
        r = read_response(c)
        assert r.status == 200 and r.body == b"plain notes\n"
        assert_closed(c, 2.0)


def test_http10_closes_by_default(wsd):
    d = wsd()
    with Conn(d.port) as c:
        c.send(request("GET", "/notes.txt", version="HTTP/1.0", host=False))
        r = read_response(c)
        assert r.status == 200 and r.body == b"plain notes\n"
        assert_closed(c, 2.0)


def test_http10_keep_alive(wsd):
    d = wsd()
    with Conn(d.port) as c:
        hdr = {"Connection": "keep-alive"}
        c.send(request("GET", "/notes.txt", "HTTP/1.0", hdr, host=False))
        r1 = read_response(c)
        c.send(request("GET", "/sub/page.txt", "HTTP/1.0", hdr, host=False))
        r2 = read_response(c)
    assert (r1.status, r1.body) == (200, b"plain notes\n")
    assert (r2.status, r2.body) == (200, b"sub page\n")


def test_not_found(wsd):
    d = wsd()
    with Conn(d.port) as c:
        c.send(request("GET", "/no/such/file.html"))
        r = read_response(c)
        assert r.status == 404, r
        # The connection survives a 404 (it is not a protocol error)...
        c.send(request("GET", "/notes.txt"))
        assert read_response(c).status == 200


def test_post_is_405(wsd):
    d = wsd()
    with Conn(d.port) as c:
        c.send(request("POST", "/index.html",
                       headers={"Content-Length": "0"}))
        r = read_response(c)
        assert r.status == 405, r
        allow = [m.strip() for m in r.header("Allow", "").split(",")]
        assert sorted(allow) == ["GET", "HEAD"], r
        assert_closed(c)


@pytest.mark.parametrize("method", ["PUT", "DELETE", "OPTIONS"])
def test_other_methods_405(wsd, method):
    d = wsd()
    r = helpers.http_get(d.port, "/index.html", method=method,
                         headers={"Content-Length": "0"})
    assert r.status == 405, r


def test_request_line_too_long_414(wsd, static_root):
    d = wsd(helpers.make_config(static_root,
                                server={"max_header_size": "1k"}))
    with Conn(d.port) as c:
        c.send(b"GET /" + b"a" * 1200 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        r = read_response(c)
        assert r.status == 414, r
        assert_closed(c)


def test_huge_headers_431(wsd, static_root):
    d = wsd(helpers.make_config(static_root,
                                server={"max_header_size": "1k"}))
    hdrs = {"X-Filler-%d" % i: "y" * 100 for i in range(12)}
    with Conn(d.port) as c:
        c.send(request("GET", "/index.html", headers=hdrs))
        r = read_response(c)
        assert r.status == 431, r
        assert_closed(c)


def test_too_many_headers_431(wsd):
    d = wsd()
    hdrs = {"X-H%d" % i: "v" for i in range(70)}
    r = helpers.http_raw(d.port, request("GET", "/index.html", headers=hdrs))
    assert r.status == 431, r


def test_head_just_under_limit_ok(wsd, static_root):
    d = wsd(helpers.make_config(static_root,
                                server={"max_header_size": "1k"}))
    req = request("GET", "/notes.txt", headers={"X-Pad": ""})
    pad = 1024 - len(req) - 8
    req = request("GET", "/notes.txt", headers={"X-Pad": "p" * pad})
    assert len(req) < 1024
    r = helpers.http_raw(d.port, req)
    assert (r.status, r.body) == (200, b"plain notes\n")


@pytest.mark.parametrize("data", [
    b"GARBAGE\r\n\r\n",
    b"GET\r\n\r\n",
    b"GET / HTTP/1.1 extra\r\nHost: x\r\n\r\n",
    b"GET / HTTX/1.1\r\nHost: x\r\n\r\n",
    b"GET / HTTP/1.1\r\nNo colon here\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost : x\r\n\r\n",
    b"GET http://example.org/ HTTP/1.1\r\nHost: x\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
], ids=["word", "no-target", "extra-token", "bad-proto", "no-colon",
        "space-before-colon", "absolute-form", "tls-hello"])
def test_garbage_400(wsd, data):
    d = wsd()
    with Conn(d.port) as c:
        c.send(data)
        r = read_response(c)
        assert r.status == 400, r
        assert "close" in r.header("Connection", "").lower(), r
        assert_closed(c)
    assert d.alive()


def test_64_headers_ok_65_rejected(wsd):
    d = wsd()
    hdrs = {"X-H%d" % i: "v" for i in range(63)}     # + Host = 64
    r = helpers.http_raw(d.port, request("GET", "/notes.txt", headers=hdrs))
    assert (r.status, r.body) == (200, b"plain notes\n")
    hdrs["X-One-More"] = "v"
    r = helpers.http_raw(d.port, request("GET", "/notes.txt", headers=hdrs))
    assert r.status == 431, r


def test_missing_host_400(wsd):
    d = wsd()
    r = helpers.http_get(d.port, "/index.html", host=False)
    assert r.status == 400, r


@pytest.mark.parametrize("version", ["HTTP/2.0", "HTTP/1.2", "HTTP/3.0"])
def test_other_versions_505(wsd, version):
    d = wsd()
    with Conn(d.port) as c:
        c.send(request("GET", "/index.html", version=version))
        r = read_response(c)
        assert r.status == 505, r
        assert_closed(c)


def head_timeout_config(root):
    """handshake_timeout 1s; the idle timeout far away, to tell them apart."""
    return helpers.make_config(root, server={"idle_timeout": "30s"})


def test_silent_connection_closed_after_handshake_timeout(wsd, static_root):
    d = wsd(head_timeout_config(static_root))
    with Conn(d.port) as c:
        t0 = time.monotonic()
        assert c.wait_closed(1 + 2.0), "still open"
        assert time.monotonic() - t0 >= 0.5, "closed long before the timeout"


def test_partial_head_closed_after_handshake_timeout(wsd, static_root):
    d = wsd(head_timeout_config(static_root))
    with Conn(d.port) as c:
        c.send(b"GET /index.html HTTP/1.1\r\nHost: x\r\n")
        assert c.wait_closed(1 + 2.0), "still open"


def test_slowloris_closed_after_handshake_timeout(wsd, static_root):
    d = wsd(head_timeout_config(static_root))
    payload = request("GET", "/index.html",
                      headers={"X-Slow": "z" * 100})[:-2]
    with Conn(d.port) as c:
        t0 = time.monotonic()
        closed = False
        for b in payload:
            if time.monotonic() - t0 > 1 + 2.0:
                break
            try:
                c.sock.send(bytes([b]))
            except OSError:
                closed = True
                break
            if c.wait_closed(0.3):
                closed = True
                break
        assert closed, "a trickling client kept the connection for %.1fs" % (
            time.monotonic() - t0)
        assert time.monotonic() - t0 < 1 + 2.0


def test_idle_keep_alive_closed_after_idle_timeout(wsd, static_root):
    d = wsd(helpers.make_config(static_root, server={
        "handshake_timeout": "30s"}))   # idle_timeout = 1s
    with Conn(d.port) as c:
        c.send(request("GET", "/notes.txt"))
        assert read_response(c).status == 200
        t0 = time.monotonic()
        assert c.wait_closed(1 + 2.0), "idle connection still open"
        assert time.monotonic() - t0 >= 0.5


def test_keep_alive_is_not_cut_by_handshake_timeout(wsd, static_root):
    # A connection that keeps making requests stays up past both timeouts.
    d = wsd()
    with Conn(d.port) as c:
        t0 = time.monotonic()
        while time.monotonic() - t0 < 1.8:
            c.send(request("GET", "/notes.txt"))
            assert read_response(c).status == 200
            time.sleep(0.4)


def test_plain_get_to_app_route_426(wsd):
    d = wsd()
    for path in ("/echo", "/hello"):
        r = helpers.http_get(d.port, path)
        assert r.status == 426, r
        assert r.header("Upgrade", "").lower() == "websocket", r
        assert len(r.header_all("Connection")) == 1, r
        conn = ",".join(r.header_all("Connection")).lower()
        assert "upgrade" in [t.strip() for t in conn.split(",")], r


def test_app_route_ignores_query_string(wsd):
    d = wsd()
    r = helpers.http_get(d.port, "/echo?x=1")
    assert r.status == 426, r


def test_upgrade_to_unknown_path_404(wsd):
    d = wsd()
    for path in ("/nope", "/index.html", "/echo/more"):
        with Conn(d.port) as c:
            c.send(helpers.upgrade_request(path, helpers.ws_key()))
            r = read_response(c)
            assert r.status == 404, (path, r)


def test_no_route_404(wsd):
    # Without a static route, a path that is not an app route is 404.
    d = wsd(helpers.make_config(None))
    r = helpers.http_get(d.port, "/index.html")
    assert r.status == 404, r


def test_access_log_line(wsd):
    d = wsd()
    with Conn(d.port) as c:
        c.send(request("GET", "/notes.txt"))
        r = read_response(c)
        port = c.sock.getsockname()[1]
    assert r.status == 200
    d.wait_log(r'access: 127\.0\.0\.1:%d "GET /notes\.txt HTTP/1\.1" 200 %d '
               r'\d+\.\d+s$' % (port, len(r.body)))


def test_access_log_for_errors(wsd):
    d = wsd()
    helpers.http_get(d.port, "/missing.txt")
    d.wait_log(r'access: 127\.0\.0\.1:\d+ "GET /missing\.txt HTTP/1\.1" 404 ')


def test_pipelined_big_responses_with_small_send_buffer(wsd, static_root):
    # Reading pauses while a response is queued past max_send_buffer and
    # resumes when it drains: every pipelined request is still answered.
    d = wsd(helpers.make_config(static_root,
                                server={"max_send_buffer": "64k"}))
    big = (static_root / "big.bin").read_bytes()
    with Conn(d.port, timeout=10) as c:
        c.send(request("GET", "/big.bin") * 3 + request("GET", "/notes.txt"))
        for _ in range(3):
            r = read_response(c)
            assert r.status == 200 and r.body == big
        r = read_response(c)
        assert (r.status, r.body) == (200, b"plain notes\n")


def test_max_connections(wsd, static_root):
    d = wsd(helpers.make_config(static_root,
                                server={"max_connections": "2"}))
    a = helpers.ws_connect(d.port, "/echo")
    b = helpers.ws_connect(d.port, "/echo")
    try:
        with Conn(d.port) as c:
            try:
                c.send(helpers.upgrade_request("/echo", helpers.ws_key()))
                r = read_response(c)
            except helpers.Closed:
                r = None    # refused without a response: fine
            if r is not None:
                assert r.status == 503, r
                check_common_headers(r)
            assert c.wait_closed(3), "a connection over the limit stayed open"
        a.close()
        # A slot is free again (once wsd has seen a go).
        deadline = time.monotonic() + 5
        while True:
            try:
                with helpers.ws_connect(d.port, "/echo") as e:
                    e.send(helpers.frame(helpers.OP_TEXT, "in"))
                    assert helpers.read_message(e)[1] == b"in"
                break
            except (AssertionError, helpers.Closed):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
    finally:
        a.close()
        b.close()


def test_sighup_does_not_kill(wsd):
    d = wsd()
    d.kill(signal.SIGHUP)
    time.sleep(0.3)
    assert d.alive()
    assert helpers.http_get(d.port, "/notes.txt").status == 200


def test_daemon_survives_abrupt_disconnects(wsd):
    d = wsd()
    for _ in range(20):
        c = Conn(d.port)
        c.send(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        c.close()
    r = helpers.http_get(d.port, "/notes.txt")
    assert r.status == 200 and d.alive()
