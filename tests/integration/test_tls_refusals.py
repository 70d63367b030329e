"""test_tls_refusals.py -- issue 12 item 5: a connection that
max_connections, max_connections_per_ip or max_connection_rate_per_ip
refuses on a TLS listener is closed at accept without a byte (plaintext is
no answer to a ClientHello, and no TLS work is spent on it), counted in
wsd_tls_refused_total and logged at most about once a second; a plain
listener still answers 503 or 429 in plain text.
"""

import re
import shutil
import socket
import ssl
import time

import pytest

import helpers
from helpers import Conn, read_response, request

@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is not installed")
    return helpers.selfsigned_cert(tmp_path_factory.mktemp("tlsrefuse"))


def config(root, cert, server, listens=("127.0.0.1:0", "127.0.0.1:0 tls")):
    # Held connections must outlast the test: no idle timeout on them.
    srv = {"listen": "\nlisten = ".join(listens), "idle_timeout": "30s"}
    srv.update(server)
    text = helpers.make_config(routes=[
        ("/", {"app": "static", "root": str(root)}),
        ("/echo", {"app": "echo"}), ("/metrics", {"app": "metrics"})],
        server=srv)
    return text + "\n[tls]\ncertificate = %s\nprivate_key = %s\n" % cert


def ports(d):
    plain = [p for p, tls in d.ports if not tls]
    tls = [p for p, tls in d.ports if tls]
    return plain[0], tls[0]


def client_ctx():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def client_hello():
    """The bytes of a TLS ClientHello."""
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = client_ctx().wrap_bio(inc, out, server_hostname="localhost")
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    return out.read()


def tls_hold(port, source=None, pre=b""):
    """A TLS connection with its handshake done (so the daemon counts it)."""
    s = socket.socket()
    if source:
        s.bind((source, 0))
    s.settimeout(10)
    s.connect(("127.0.0.1", port))
    if pre:
        s.sendall(pre)
    t = client_ctx().wrap_socket(s, server_hostname="localhost")
    t.sendall(request("GET", "/index.html"))
    assert t.recv(4096).startswith(b"HTTP/1.1 200 ")
    return t


def silent_close(port, source=None, pre=b"", timeout=5.0):
    """Connects, sends pre and a ClientHello and returns what comes back
    before the daemon closes: b"" when it closed without a byte. Fails when
    the connection stays open."""
    s = socket.socket()
    if source:
        s.bind((source, 0))
    s.settimeout(timeout)
    try:
        s.connect(("127.0.0.1", port))
        try:
            s.sendall(pre + client_hello())
        except (BrokenPipeError, ConnectionResetError):
            return b""
        data = b""
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                return data
            except socket.timeout:
                pytest.fail("still open after %.0fs; got %r" % (timeout,
                                                                 data[:80]))
            if not chunk:
                return data
            data += chunk
    finally:
        s.close()


def metric(port, name):
    body = helpers.http_get(port, "/metrics").body.decode()
    m = re.search(r"^%s (\d+)$" % re.escape(name), body, re.M)
    assert m, "no %s in\n%s" % (name, body)
    return int(m.group(1))


def hs_failures(port, reason):
    return metric(port, 'wsd_handshake_failures_total{reason="%s"}' % reason)


def test_max_connections_tls_closed_without_answer(wsd, static_root, cert):
    d = wsd(config(static_root, cert, {"max_connections": "2"}))
    plain, tls = ports(d)
    held = [tls_hold(tls), tls_hold(tls)]
    try:
        for _ in range(3):
            assert silent_close(tls) == b""
        # A plain listener still answers in plain text.
        r = helpers.http_get(plain, "/index.html")
        assert r.status == 503, r
        assert r.header("X-Content-Type-Options") == "nosniff", r
        assert int(r.header("Content-Length")) == len(r.body), r
        d.wait_log(r"127\.0\.0\.1:\d+: max_connections \(2\) reached, "
                   r"connection refused \(tls: closed without an answer\)")
    finally:
        for t in held:
            t.close()
    deadline = time.monotonic() + 5
    while True:
        try:
            n = metric(plain, "wsd_tls_refused_total")
            break
        except (AssertionError, helpers.Closed):
            # Still full while the held ones close.
            assert time.monotonic() < deadline
            time.sleep(0.05)
    assert n == 3
    assert hs_failures(plain, "too_many") >= 4


def test_per_ip_limit_tls_closed_without_answer(wsd, static_root, cert):
    d = wsd(config(static_root, cert, {"max_connections_per_ip": "1"}))
    plain, tls = ports(d)
    held = tls_hold(tls, source="127.0.0.2")
    try:
        # No ServerHello: refused before any TLS work.
        assert silent_close(tls, source="127.0.0.2") == b""
        d.wait_log(r"127\.0\.0\.2:\d+: connection refused: "
                   r"max_connections_per_ip \(1\) reached \(tls: closed "
                   r"without an answer\)")
        # Another address is served, over TLS and in plain text.
        tls_hold(tls, source="127.0.0.3").close()
        # The plain listener answers 503 in plain text.
        with Conn(plain, source="127.0.0.2") as c:
            c.send(request("GET", "/index.html"))
            r = read_response(c)
        assert r.status == 503 and b"too many connections" in r.body, r
    finally:
        held.close()
    assert metric(plain, "wsd_tls_refused_total") == 1


def first_bytes(port, source):
    """Sends a ClientHello; returns the first bytes of the answer, b""
    when the daemon closed the connection without one."""
    s = socket.socket()
    s.bind((source, 0))
    s.settimeout(5)
    try:
        s.connect(("127.0.0.1", port))
        s.sendall(client_hello())
        return s.recv(65536)
    except (BrokenPipeError, ConnectionResetError):
        return b""
    finally:
        s.close()


def test_rate_limit_tls_closed_without_answer(wsd, static_root, cert):
    d = wsd(config(static_root, cert, {"max_connection_rate_per_ip": "3"}))
    plain, tls = ports(d)
    # The bucket starts full: a burst of 3 passes. Then one token comes
    # every third of a second, far slower than these attempts.
    got = [first_bytes(tls, "127.0.0.4") for _ in range(10)]
    assert all(g[:1] == b"\x16" for g in got[:3]), got
    assert b"" in got, got
    # A refused one got nothing at all: TLS or nothing.
    assert all(g == b"" or g[:1] == b"\x16" for g in got), got
    d.wait_log(r"127\.0\.0\.4:\d+: connection refused: "
               r"max_connection_rate_per_ip \(3/s\) exceeded \(tls: closed "
               r"without an answer\)")
    assert metric(plain, "wsd_tls_refused_total") == got.count(b"")
    # Plain text keeps its 429.
    statuses = []
    for _ in range(10):
        with Conn(plain, source="127.0.0.6") as c:
            c.send(request("GET", "/index.html"))
            statuses.append(read_response(c).status)
    assert statuses[:3] == [200] * 3 and 429 in statuses, statuses


def test_refusals_in_a_burst_log_a_few_lines(wsd, static_root, cert):
    d = wsd(config(static_root, cert, {"max_connections_per_ip": "1"}))
    plain, tls = ports(d)
    held = tls_hold(tls, source="127.0.0.2")
    try:
        mark = d.log_mark()
        t0 = time.monotonic()
        for _ in range(50):
            assert silent_close(tls, source="127.0.0.2") == b""
        took = time.monotonic() - t0
        # The ones after the first line are summed up a second later.
        d.wait_log(r"more connections? refused in the last second: "
                   r"max_connections_per_ip", start=mark)
        time.sleep(1.2)
        log = d.log_text()[mark:]
    finally:
        held.close()
    single = re.findall(r"connection refused: max_connections_per_ip", log)
    summed = [(int(n), int(t)) for n, t in re.findall(
        r"(\d+) more connections? refused in the last second: "
        r"max_connections_per_ip \((\d+) on TLS listeners", log)]
    # One line at once, then at most one a second.
    lines = len(single) + len(summed)
    assert lines <= 3 + took, (took, log)
    assert len(single) + sum(n for n, _ in summed) == 50, log
    assert sum(t for _, t in summed) == sum(n for n, _ in summed), log
    assert metric(plain, "wsd_tls_refused_total") == 50


def test_proxy_tls_per_ip_limit_after_header(wsd, static_root, cert):
    """Behind a PROXY header the client's address counts; the check runs
    after the header, still before TLS."""
    d = wsd(config(static_root, cert, {"max_connections_per_ip": "1",
                                        "trusted_proxies": "127.0.0.1"},
                   listens=("127.0.0.1:0", "127.0.0.1:0 tls proxy_protocol")))
    plain, tls = ports(d)

    def hdr(src):
        return ("PROXY TCP4 %s 127.0.0.1 4000 443\r\n" % src).encode()

    held = tls_hold(tls, pre=hdr("203.0.113.1"))
    try:
        assert silent_close(tls, pre=hdr("203.0.113.1")) == b""
        tls_hold(tls, pre=hdr("203.0.113.2")).close()
        d.wait_log(r"203\.0\.113\.1:4000: connection refused: "
                   r"max_connections_per_ip \(1\) reached \(tls")
    finally:
        held.close()
    assert metric(plain, "wsd_tls_refused_total") == 1
