"""test_http_strict.py -- ambiguous requests and exact refusals.

RFC 9112 6.3 and 3.2 (request smuggling, Host), RFC 6455 4.4 (426 before
the key is looked at), RFC 9110 15.5.6 (405 with Allow), 414 and 431, and
a head that arrives a byte at a time. Every refusal is checked on the wire:
the status, the headers it promises, and that the connection then closes
without a second response made of the same bytes.
"""

import socket
import time

import pytest

import helpers
from helpers import Conn, read_response, request

SMUGGLED = request("GET", "/sub/page.txt")


def refused(port, data, status=400):
    """Sends data on a fresh connection: one response with status, then
    EOF with nothing else (no response to what followed the head)."""
    with Conn(port) as c:
        c.send(data)
        r = read_response(c)
        assert r.status == status, (data[:200], r)
        assert r.header("Connection") and "close" in r.header("Connection")
        rest = c.read_to_eof(3.0)
        assert b"HTTP/1.1" not in rest, (data[:200], rest)
        assert b"sub page" not in rest
        return r


@pytest.mark.parametrize("headers", [
    [("Content-Length", "0"), ("Content-Length", "0")],
    [("Content-Length", "5"), ("Content-Length", "5")],
    [("Content-Length", "0"), ("Content-Length", "43")],
    [("Content-Length", "43"), ("content-length", "0")],
    [("Content-Length", "0, 0")],
    [("Content-Length", "+43")],
    [("Content-Length", "-1")],
    [("Content-Length", "0x2b")],
    [("Content-Length", "4 3")],
    [("Content-Length", "")],
    [("Content-Length", "99999999999999999999999")],
    [("Content-Length", "43"), ("Transfer-Encoding", "chunked")],
    [("Transfer-Encoding", "chunked"), ("Content-Length", "0")],
    [("Transfer-Encoding", "chunked")],
    [("Transfer-Encoding", "gzip, chunked")],
    [("Transfer-Encoding", "identity")],
    [("Transfer-Encoding", "chunked"), ("Transfer-Encoding", "chunked")],
], ids=lambda h: "+".join("%s=%s" % kv for kv in h))
def test_ambiguous_body_is_400_and_close(wsd, headers):
    # Whatever length a front end would have read, wsd answers once and
    # closes: the smuggled request behind the head is never answered.
    d = wsd()
    head = "GET /notes.txt HTTP/1.1\r\nHost: a\r\n" + "".join(
        "%s: %s\r\n" % kv for kv in headers) + "\r\n"
    body = b"0\r\n\r\n" + SMUGGLED
    r = refused(d.port, head.encode() + body)
    assert b"400 Bad Request" in r.body


def test_plain_content_length_answered_then_closed(wsd):
    # One valid Content-Length: the request is served, its body is never
    # parsed as a request and the connection ends.
    d = wsd()
    with Conn(d.port) as c:
        c.send(request("GET", "/notes.txt",
                       headers={"Content-Length": str(len(SMUGGLED))})
               + SMUGGLED)
        r = read_response(c)
        assert (r.status, r.body) == (200, b"plain notes\n")
        assert b"sub page" not in c.read_to_eof(3.0)


@pytest.mark.parametrize("data,why", [
    (b"GET /notes.txt HTTP/1.1\r\n\r\n", b"missing Host"),
    (b"GET /notes.txt HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n",
     b"repeated Host"),
    (b"GET /notes.txt HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
     b"repeated Host"),
    (b"GET /notes.txt HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n",
     b"repeated Host"),
    (b"GET /notes.txt HTTP/1.1\r\nHost: evil/x\r\n\r\n", b"invalid Host"),
    (b"GET /notes.txt HTTP/1.1\r\nHost: a@b\r\n\r\n", b"invalid Host"),
    (b"GET /notes.txt HTTP/1.1\r\nHost: a:b\r\n\r\n", b"invalid Host"),
])
def test_host_rules(wsd, data, why):
    d = wsd()
    r = refused(d.port, data + SMUGGLED)
    assert why in r.body, r.body


def test_http10_without_host_is_fine(wsd):
    d = wsd()
    r = helpers.http_raw(d.port, b"GET /notes.txt HTTP/1.0\r\n\r\n")
    assert (r.status, r.body) == (200, b"plain notes\n")


@pytest.mark.parametrize("extra", [
    {"Content-Length": "5"},
    {"Transfer-Encoding": "chunked"},
    {"Content-Length": "5", "Transfer-Encoding": "chunked"},
])
def test_upgrade_with_body_never_101(wsd, extra):
    d = wsd()
    data = helpers.upgrade_request("/echo", helpers.ws_key(), extra=extra)
    r = refused(d.port, data + helpers.frame(helpers.OP_TEXT, "x"))
    assert b"with a body" in r.body or b"Transfer-Encoding" in r.body


def test_upgrade_with_zero_content_length_is_fine(wsd):
    d = wsd()
    key = helpers.ws_key()
    with Conn(d.port) as c:
        c.send(helpers.upgrade_request("/echo", key,
                                       extra={"Content-Length": "0"}))
        r = read_response(c, head_request=True)
        assert r.status == 101, r
        c.send(helpers.frame(helpers.OP_TEXT, "still framed right"))
        assert helpers.read_message(c)[:2] == (helpers.OP_TEXT,
                                              b"still framed right")


@pytest.mark.parametrize("data", [
    # obs-fold (RFC 9112 5.2)
    b"GET /notes.txt HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n folded\r\n\r\n",
    b"GET /notes.txt HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n\tfolded\r\n\r\n",
    # whitespace before the colon (RFC 9112 5.1)
    b"GET /notes.txt HTTP/1.1\r\nHost : a\r\n\r\n",
    b"GET /notes.txt HTTP/1.1\r\nHost: a\r\nContent-Length : 43\r\n\r\n",
    # a bare CR (RFC 9112 2.2)
    b"GET /notes.txt HTTP/1.1\r\nHost: a\rX-B: 1\r\n\r\n",
    b"GET /notes.txt HTTP/1.1\rHost: a\r\n\r\n",
    b"GET /notes.txt HTTP/1.1\r\nHost: a\r\n\r\r\n",
    # NUL anywhere in the head
    b"GET /notes.txt HTTP/1.1\r\nHost: a\x00b\r\n\r\n",
    b"GET /notes.txt HTTP/1.1\r\nX\x00: a\r\nHost: a\r\n\r\n",
    b"GET /notes\x00.txt HTTP/1.1\r\nHost: a\r\n\r\n",
])
def test_malformed_head_400(wsd, data):
    d = wsd()
    refused(d.port, data + SMUGGLED)


def test_bare_cr_refused_before_the_head_ends(wsd):
    # A bare CR cannot be in any head: 400 at once, no timeout wait.
    d = wsd()
    with Conn(d.port) as c:
        c.send(b"GET /notes.txt HTTP/1.1\r\nHost: a\r\nX: a\rb")
        t = time.monotonic()
        r = read_response(c, timeout=3.0)
        assert r.status == 400
        assert time.monotonic() - t < 0.9  # handshake_timeout is 1s


def test_tls_hello_on_plain_port_400_at_once(wsd):
    d = wsd()
    with Conn(d.port) as c:
        c.send(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
        r = read_response(c, timeout=0.9)
        assert r.status == 400


# ------------------------------------------------------------------ 426


@pytest.mark.parametrize("version", ["8", "12", "14", "13, 8", "", None])
def test_wrong_version_426_with_headers(wsd, version):
    d = wsd()
    r = refused(d.port, helpers.upgrade_request("/echo", helpers.ws_key(),
                                                version=version), 426)
    assert r.header("Upgrade", "").lower() == "websocket", r
    assert r.header("Sec-WebSocket-Version") == "13", r
    assert "upgrade" in r.header("Connection", "").lower()


@pytest.mark.parametrize("key", [None, "not-base64!", "c2hvcnQ="])
def test_version_decided_before_key(wsd, key):
    # A client of another version may send a key of another form: it
    # still learns which version to speak.
    d = wsd()
    r = refused(d.port, helpers.upgrade_request("/echo", key, version="8"),
                426)
    assert r.header("Sec-WebSocket-Version") == "13", r


def test_bad_key_with_good_version_400(wsd):
    d = wsd()
    r = refused(d.port, helpers.upgrade_request("/echo", "bad"))
    assert b"Sec-WebSocket-Key" in r.body


def test_repeated_version_426(wsd):
    d = wsd()
    data = (b"GET /echo HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: "
            + helpers.ws_key().encode() + b"\r\nSec-WebSocket-Version: 13"
            b"\r\nSec-WebSocket-Version: 13\r\n\r\n")
    r = refused(d.port, data, 426)
    assert r.header("Sec-WebSocket-Version") == "13"


# ------------------------------------------------------------------ 405


def strict_config(root):
    return helpers.make_config(root, routes=[
        ("/", {"app": "static", "root": str(root)}),
        ("/echo", {"app": "echo"}),
        ("/health", {"app": "health"}),
    ])


@pytest.mark.parametrize("method,path,allow", [
    ("POST", "/notes.txt", "GET, HEAD"),
    ("PUT", "/", "GET, HEAD"),
    ("DELETE", "/notes.txt", "GET, HEAD"),
    ("OPTIONS", "/notes.txt", "GET, HEAD"),
    ("POST", "/health", "GET, HEAD"),
    ("POST", "/echo", "GET"),
    ("HEAD", "/echo", "GET"),
    ("PUT", "/echo", "GET"),
])
def test_405_lists_allowed_methods(wsd, static_root, method, path, allow):
    d = wsd(strict_config(static_root))
    with Conn(d.port) as c:
        c.send(request(method, path))
        r = read_response(c, head_request=(method == "HEAD"))
        assert r.status == 405, r
        assert r.header("Allow") == allow, r
        assert r.header("X-Content-Type-Options") == "nosniff", r


def test_405_on_upgrade_with_other_method(wsd, static_root):
    d = wsd(strict_config(static_root))
    r = refused(d.port, helpers.upgrade_request("/echo", helpers.ws_key(),
                                                method="POST"), 405)
    assert r.header("Allow") == "GET", r


def test_allowed_methods_still_work(wsd, static_root):
    d = wsd(strict_config(static_root))
    assert helpers.http_get(d.port, "/notes.txt", "HEAD").status == 200
    assert helpers.http_get(d.port, "/health", "HEAD").status == 200
    r = helpers.http_get(d.port, "/echo")
    assert r.status == 426 and r.header("Upgrade") == "websocket"


# ----------------------------------------------------------- 414 and 431


@pytest.mark.parametrize("n", [5000, 8200, 20000])
def test_long_target_414(wsd, n):
    # Within max_header_size (64k here) but over the request-line limit.
    d = wsd(helpers.make_config(server={"max_header_size": "64k"}))
    refused(d.port, request("GET", "/" + "a" * n), 414)


def test_long_target_414_default_limit(wsd):
    d = wsd()
    refused(d.port, request("GET", "/" + "a" * 5000), 414)


def test_target_under_limit_is_routed(wsd):
    # 4000 bytes of path fit: an ordinary 404, not 400 or 414.
    d = wsd()
    r = helpers.http_get(d.port, "/" + "a" * 4000)
    assert r.status == 404, r


def test_request_line_over_max_header_size_414(wsd):
    d = wsd(helpers.make_config(server={"max_header_size": "1k"}))
    refused(d.port, request("GET", "/" + "b" * 1100), 414)


def test_head_over_max_header_size_431(wsd):
    d = wsd(helpers.make_config(server={"max_header_size": "1k"}))
    refused(d.port, request("GET", "/notes.txt",
                            headers={"X-Big": "v" * 1100}), 431)
    many = {"X-H%d" % i: "v" for i in range(100)}
    refused(d.port, request("GET", "/notes.txt", headers=many), 431)


# ------------------------------------------------------ incremental head


def test_head_a_byte_at_a_time(wsd, static_root):
    # 6 KB of head in 1-byte writes: served exactly once, right.
    d = wsd(helpers.make_config(static_root,
                                server={"handshake_timeout": "20s"}))
    head = request("GET", "/notes.txt",
                   headers={"X-Pad-%d" % i: "p" * 90 for i in range(60)})
    assert len(head) > 6000
    with Conn(d.port, timeout=20) as c:
        c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for b in head:
            c.sock.send(bytes([b]))
        r = read_response(c)
        assert (r.status, r.body) == (200, b"plain notes\n")
