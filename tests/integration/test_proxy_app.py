"""test_proxy_app.py -- issue 15: `app = proxy` routes to a backend
WebSocket server, against the real daemon and real python-websockets
(10.x) backends (ws_backend.py, run as a subprocess by each test and
stopped by it).

Covered: TCP and unix-socket backends, TLS on either side (certificates
made here with the openssl command), the backend's subprotocol choice,
the headers passed on, 502 for a backend that is down, refuses or fails
verification, 504 for one that never answers, 1011 when it dies
mid-session, close codes and reasons both ways, fragments and 1 MiB
messages, backpressure both ways with wsd's memory bounded, metrics, and
a reload that leaves running sessions on their old backend.
"""

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time

import pytest
import websockets

import helpers
from helpers import (OP_BINARY, OP_CONT, OP_TEXT, Conn, close_frame,
                     expect_close, frame, read_frame, read_message,
                     read_response, upgrade_request, ws_key)

OPENSSL = shutil.which("openssl")
BACKEND = str(helpers.HERE / "ws_backend.py")


def run(coro, timeout=30):
    """Runs a coroutine with an overall deadline."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


class Backend:
    """A ws_backend.py process; lines it prints are collected."""

    def __init__(self, args):
        self.proc = subprocess.Popen(
            [sys.executable, "-u", BACKEND] + args,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT)
        self.lines = []
        self.cv = threading.Condition()
        self.t = threading.Thread(target=self._reader, daemon=True)
        self.t.start()
        m = self.wait_line("ready ", 10)
        self.addr = m.split(" ", 1)[1]

    def _reader(self):
        for raw in iter(self.proc.stdout.readline, b""):
            with self.cv:
                self.lines.append(raw.decode("utf-8", "replace").rstrip())
                self.cv.notify_all()

    def wait_line(self, prefix, timeout=5.0):
        deadline = time.monotonic() + timeout
        with self.cv:
            while True:
                for line in self.lines:
                    if line.startswith(prefix):
                        return line
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    raise AssertionError("backend printed no %r: %r"
                                         % (prefix, self.lines[-20:]))
                self.cv.wait(left)

    def count(self, prefix):
        with self.cv:
            return sum(1 for x in self.lines if x.startswith(prefix))

    def last(self, prefix):
        with self.cv:
            found = [x for x in self.lines if x.startswith(prefix)]
        return found[-1] if found else None

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        # The reader sees EOF and ends before the pipe is closed.
        self.t.join(10)
        self.proc.stdout.close()


@pytest.fixture
def backend():
    """Factory: backend(args) starts a ws_backend.py; all are stopped at
    teardown, by their own process handles."""
    started = []

    def start(*args):
        b = Backend(list(args))
        started.append(b)
        return b

    yield start
    for b in started:
        b.stop()


def proxy_config(backend_url, extra=None, server=None, routes=None):
    keys = {"app": "proxy", "backend": backend_url}
    keys.update(extra or {})
    rts = [("/p", keys), ("/echo", {"app": "echo"}),
           ("/metrics", {"app": "metrics"})] + (routes or [])
    return helpers.make_config(routes=rts, server=server)


def ws_open(port, path="/p", headers=None, **kw):
    """A raw client WebSocket to wsd; returns (conn, its 101)."""
    c = helpers.ws_connect(port, path, headers=headers, **kw)
    return c, c.response


def proxied(wsd, backend, path="/echo", extra=None, *args):
    """A ws_backend.py (with args) and a wsd whose /p goes to its path."""
    b = backend("--port", "0", *args)
    return b, wsd(proxy_config("ws://127.0.0.1:%s%s" % (b.addr, path),
                               extra=extra))


def handshake_status(port, path="/p", timeout=10.0):
    """The status wsd answers an upgrade with, and the response."""
    with Conn(port, timeout=timeout) as c:
        c.send(upgrade_request(path, ws_key()))
        r = read_response(c, timeout=timeout)
        return r.status, r


@contextlib.contextmanager
def mute_backend():
    """A port that listens (the kernel completes TCP handshakes) but never
    accepts or answers; yields (port, listening socket)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield s.getsockname()[1], s


def echo_still_served(port):
    """Another route of the same wsd answers at once."""
    with helpers.ws_connect(port, "/echo") as e:
        e.send(frame(OP_TEXT, "unaffected"))
        assert read_message(e)[1] == b"unaffected"


def metric(port, name, route="/p"):
    r = helpers.http_get(port, "/metrics")
    assert r.status == 200, r
    want = '%s{route="%s"} ' % (name, route)
    for line in r.body.decode().splitlines():
        if line.startswith(want):
            return int(float(line[len(want):]))
    raise AssertionError("no %s%s in metrics" % (name, route))


# ------------------------------------------------------------ PKI


def openssl(*args, cwd=None):
    p = subprocess.run([OPENSSL] + list(args), cwd=cwd,
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=30)
    assert p.returncode == 0, p.stdout.decode("utf-8", "replace")


def make_cert(d, name, san="DNS:localhost,IP:127.0.0.1"):
    """A self-signed certificate with subjectAltName san, in d."""
    cert, key = d / ("%s.pem" % name), d / ("%s.key" % name)
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:prime256v1", "-nodes", "-subj",
            "/CN=%s" % name, "-days", "2", "-addext",
            "subjectAltName=%s" % san, "-keyout", str(key), "-out",
            str(cert))
    return cert, key


needs_openssl = pytest.mark.skipif(OPENSSL is None,
                                   reason="no openssl command")


# ------------------------------------------------------------ relaying


def echo_checks(c):
    """Text, binary and an empty message go round unchanged."""
    c.send(frame(OP_TEXT, "hello through the proxy"))
    assert read_message(c)[:2] == (OP_TEXT, b"hello through the proxy")
    blob = os.urandom(300)
    c.send(frame(OP_BINARY, blob))
    assert read_message(c)[:2] == (OP_BINARY, blob)
    c.send(frame(OP_TEXT, ""))
    assert read_message(c)[:2] == (OP_TEXT, b"")


def test_relay_over_tcp_with_headers_and_subprotocol(wsd, backend):
    b, d = proxied(wsd, backend, "/headers")
    c, r = ws_open(d.port, "/p?room=7&x=y", headers={
        "Sec-WebSocket-Protocol": "foo, superchat",
        "Cookie": "session=abc", "Authorization": "Bearer t0k",
        "Origin": "http://example.test",
        # From an untrusted peer: replaced, not passed on.
        "X-Forwarded-For": "6.6.6.6"})
    with c:
        # The backend chose among the client's offers; wsd has no list.
        assert r.header("Sec-WebSocket-Protocol") == "superchat", r
        op, payload, _ = read_message(c)
        seen = json.loads(payload)
        hdrs = {k.lower(): v for k, v in seen["headers"]}
        assert seen["path"] == "/headers?room=7&x=y"
        assert seen["subprotocol"] == "superchat"
        assert hdrs["sec-websocket-protocol"] == "foo, superchat"
        assert hdrs["cookie"] == "session=abc"
        assert hdrs["authorization"] == "Bearer t0k"
        assert hdrs["origin"] == "http://example.test"
        assert hdrs["x-forwarded-for"] == "127.0.0.1"
        assert hdrs["x-forwarded-proto"] == "http"
        assert hdrs["forwarded"].startswith("for=127.0.0.1;proto=http;")
        assert "sec-websocket-extensions" not in hdrs
        echo_checks(c)
        c.send(close_frame(1000))
        expect_close(c, 1000)


def test_forwarded_chain_appended_for_trusted_proxy(wsd, backend):
    b = backend("--port", "0")
    d = wsd(proxy_config("ws://127.0.0.1:%s/headers" % b.addr,
                         server={"trusted_proxies": "127.0.0.1"}))
    c, _ = ws_open(d.port, headers={
        "X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https",
        "Forwarded": "for=203.0.113.9;proto=https"})
    with c:
        hdrs = {k.lower(): v for k, v in
                json.loads(read_message(c)[1])["headers"]}
        assert hdrs["x-forwarded-for"] == "203.0.113.9, 127.0.0.1"
        assert hdrs["x-forwarded-proto"] == "https"
        assert hdrs["forwarded"].startswith(
            "for=203.0.113.9;proto=https, for=127.0.0.1;proto=http")


def test_relay_over_unix_socket(wsd, backend, tmp_path):
    sock = tmp_path / "be.sock"
    b = backend("--unix", str(sock))
    d = wsd(proxy_config("unix:%s:/echo" % sock))
    c, _ = ws_open(d.port)
    with c:
        echo_checks(c)
    b.wait_line("closed ")


def test_fragments_kept_and_1mib_messages_intact(wsd, backend):
    b, d = proxied(wsd, backend, "/echo")
    c, _ = ws_open(d.port)
    with c:
        # Backend to client: its frames arrive as they were sent
        # (python-websockets ends a fragmented message with an empty one).
        c.send(frame(OP_TEXT, "frames 3"))
        frames = [read_frame(c) for _ in range(4)]
        assert [(f.opcode, f.fin, f.payload) for f in frames] == [
            (OP_TEXT, 0, b"part0|"), (OP_CONT, 0, b"part1|"),
            (OP_CONT, 0, b"part2|"), (OP_CONT, 1, b"")], frames
        # Client to backend: a fragmented message with a ping inside.
        c.send(frame(OP_BINARY, b"ab", fin=False) + frame(0x9, b"pp") +
               frame(OP_CONT, b"cd", fin=False) + frame(OP_CONT, b"ef"))
        op, payload, controls = read_message(c)
        assert (op, payload) == (OP_BINARY, b"abcdef")
        # The ping was answered by wsd itself, not relayed.
        assert [(f.opcode, f.payload) for f in controls] == [(0xA, b"pp")]
        big = os.urandom(1 << 20)
        c.send(frame(OP_BINARY, big))
        assert read_message(c, timeout=20)[:2] == (OP_BINARY, big)
        text = ("é" * (1 << 19)).encode()       # 1 MiB of UTF-8
        c.send(frame(OP_TEXT, text[:5], fin=False) +
               frame(OP_CONT, text[5:]))
        assert read_message(c, timeout=20)[:2] == (OP_TEXT, text)


def test_compression_negotiated_with_the_client_only(wsd, backend):
    b = backend("--port", "0", "--deflate")
    d = wsd(proxy_config("ws://127.0.0.1:%s/headers" % b.addr))

    async def go():
        async with websockets.connect("ws://127.0.0.1:%d/p" % d.port) as ws:
            assert ws.extensions, "no permessage-deflate with the client"
            seen = json.loads(await ws.recv())
            names = [k.lower() for k, _ in seen["headers"]]
            assert "sec-websocket-extensions" not in names
            msg = "compressible " * 5000
            await ws.send(msg)
            assert await ws.recv() == msg
            await ws.send(["x" * 100, "y" * 100])
            assert await ws.recv() == "x" * 100 + "y" * 100
    run(go())


# ------------------------------------------------------------ closing


def test_close_code_and_reason_passed_both_ways(wsd, backend):
    b, d = proxied(wsd, backend, "/echo")
    # Backend first: its code and reason reach the client.
    c, _ = ws_open(d.port)
    with c:
        c.send(frame(OP_TEXT, "close 4001 backend says bye"))
        f = expect_close(c, 4001)
        assert f.payload[2:] == b"backend says bye"
        c.send(close_frame(4001))
    b.wait_line("closed 4001")
    # Client first: its code and reason reach the backend.
    n = b.count("closed ")
    c, _ = ws_open(d.port)
    with c:
        c.send(frame(OP_TEXT, "ping-pong"))
        assert read_message(c)[1] == b"ping-pong"
        c.send(close_frame(4002, b"client says bye"))
        expect_close(c, 4002)
    deadline = time.monotonic() + 5
    while b.count("closed ") == n and time.monotonic() < deadline:
        time.sleep(0.05)
    assert b.last("closed ") == "closed 4002 client says bye", b.lines


def test_backend_killed_mid_session_closes_client_1011(wsd, backend):
    b, d = proxied(wsd, backend, "/echo")
    c, _ = ws_open(d.port)
    with c:
        c.send(frame(OP_TEXT, "alive"))
        assert read_message(c)[1] == b"alive"
        b.kill()
        f = expect_close(c, 1011, timeout=10)
        assert b"backend" in f.payload[2:]
    d.wait_log(r"proxy: backend ws://127\.0\.0\.1:\d+/echo: connection "
               r"closed without a close frame")


# ------------------------------------------------------------ failures


def test_backend_down_gets_502_and_is_counted(wsd):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]     # nothing listens on it afterwards
    d = wsd(proxy_config("ws://127.0.0.1:%d/x" % port))
    status, r = handshake_status(d.port)
    assert status == 502, r
    d.wait_log(r"proxy.*backend ws://127\.0\.0\.1:%d/x: .*refused" % port)
    assert metric(d.port, "wsd_backend_connect_failures_total") == 1
    # A unix socket that does not exist: 502 as well.
    d2 = wsd(proxy_config("unix:/nonexistent/wsd-test.sock:/x"))
    assert handshake_status(d2.port)[0] == 502


def test_backend_refusing_upgrade_gets_502(wsd):
    """A backend that answers HTTP but not 101 (here: wsd's own 404)."""
    d0 = wsd(helpers.make_config(routes=[("/echo", {"app": "echo"})]))
    d = wsd(proxy_config("ws://127.0.0.1:%d/nothing-here" % d0.port))
    assert handshake_status(d.port)[0] == 502
    d.wait_log(r"answered 404 instead of 101")


def test_backend_never_answering_gets_504(wsd):
    with mute_backend() as (port, mute):
        d = wsd(proxy_config("ws://127.0.0.1:%d/" % port,
                             extra={"backend_connect_timeout": "0.5s"}))
        t0 = time.monotonic()
        status, r = handshake_status(d.port)
        took = time.monotonic() - t0
        assert status == 504, r
        assert 0.4 < took < 5, took
        d.wait_log(r"no answer in time \(504\)")
        # The other routes were served meanwhile and still are.
        echo_still_served(d.port)


def test_config_errors(tmp_path):
    bad = tmp_path / "bad.ini"
    bad.write_text("[server]\nlisten = 127.0.0.1:0\n\n[route /a]\n"
                   "app = proxy\n\n[route /b]\napp = proxy\n"
                   "backend = http://x/\n\n[route /c]\napp = proxy\n"
                   "backend = ws://127.0.0.1:1/\nbackend_ca = %s\n"
                   "\n[route /d]\napp = echo\nbackend = ws://h/\n"
                   % (tmp_path / "missing.pem"))
    rc, out = helpers.run_wsd(["-t", "-c", str(bad)])
    assert rc != 0
    assert "%s:4: app \"proxy\" needs key \"backend\"" % bad in out, out
    assert "%s:9: backend: invalid backend" % bad in out, out
    assert "%s:14: backend_ca: cannot read the file" % bad in out, out
    assert "%s:18: key \"backend\" is not used by app \"echo\"" % bad \
        in out, out


# ------------------------------------------------------------ TLS


@needs_openssl
def test_wss_backend_verified_against_backend_ca(wsd, backend, tmp_path):
    cert, key = make_cert(tmp_path, "be")
    b = backend("--port", "0", "--tls", str(cert), str(key))
    d = wsd(proxy_config("wss://127.0.0.1:%s/echo" % b.addr,
                         extra={"backend_ca": str(cert)}))
    c, _ = ws_open(d.port)
    with c:
        echo_checks(c)
    # Another CA: the certificate does not verify.
    other, _ = make_cert(tmp_path, "other")
    d2 = wsd(proxy_config("wss://127.0.0.1:%s/echo" % b.addr,
                          extra={"backend_ca": str(other)}))
    assert handshake_status(d2.port)[0] == 502
    d2.wait_log(r"certificate verify failed")
    # The right CA, the wrong name: the host check fails.
    wrong, wkey = make_cert(tmp_path, "wrong", san="DNS:elsewhere.test")
    b2 = backend("--port", "0", "--tls", str(wrong), str(wkey))
    d3 = wsd(proxy_config("wss://127.0.0.1:%s/echo" % b2.addr,
                          extra={"backend_ca": str(wrong)}))
    assert handshake_status(d3.port)[0] == 502
    d3.wait_log(r"certificate verify failed")
    # The system store does not know our certificate either.
    d4 = wsd(proxy_config("wss://127.0.0.1:%s/echo" % b.addr))
    assert handshake_status(d4.port)[0] == 502


def tls_server_config(cert, key, backend_url):
    return (proxy_config(backend_url, server={
        "listen": "127.0.0.1:0 tls"}) +
        "\n[tls]\ncertificate = %s\nprivate_key = %s\n" % (cert, key))


@needs_openssl
@pytest.mark.parametrize("side", ["tcp", "unix", "tcp+wss"])
def test_wss_client_side(wsd, backend, tmp_path, side):
    cert, key = make_cert(tmp_path, "front")
    if side == "unix":
        sock = tmp_path / "be.sock"
        backend("--unix", str(sock))
        url, extra = "unix:%s:/headers" % sock, ""
    elif side == "tcp":
        b = backend("--port", "0")
        url, extra = "ws://127.0.0.1:%s/headers" % b.addr, ""
    else:
        bc, bk = make_cert(tmp_path, "be")
        b = backend("--port", "0", "--tls", str(bc), str(bk))
        url = "wss://127.0.0.1:%s/headers" % b.addr
        extra = "backend_ca = %s\n" % bc
    text = tls_server_config(cert, key, url).replace(
        "backend = %s\n" % url, "backend = %s\n%s" % (url, extra))
    d = wsd(text)
    ctx = ssl.create_default_context(cafile=str(cert))

    async def go():
        async with websockets.connect("wss://127.0.0.1:%d/p" % d.port,
                                      ssl=ctx) as ws:
            hdrs = {k.lower(): v for k, v in
                    json.loads(await ws.recv())["headers"]}
            assert hdrs["x-forwarded-proto"] == "https"
            assert ";proto=https" in hdrs["forwarded"]
            await ws.send("over wss")
            assert await ws.recv() == "over wss"
            blob = os.urandom(200000)
            await ws.send(blob)
            assert await ws.recv() == blob
    run(go())


# ------------------------------------------------------------ backpressure


def rss_growth_bounded(d, before, limit_kb, what):
    now = helpers.proc_rss_kb(d.pid)
    assert now - before < limit_kb, "%s: wsd RSS grew %d kB" % (
        what, now - before)


def test_backpressure_backend_to_slow_client(wsd, backend):
    b, d = proxied(wsd, backend, "/flood", {"max_send_buffer": "256k"})
    before = helpers.proc_rss_kb(d.pid)
    c, _ = ws_open(d.port, rcvbuf=16384)
    with c:
        # The backend floods; the client reads nothing: the backend must
        # be stopped once the client's queue is over max_send_buffer.
        b.wait_line("sent ", 10)
        prev, stable_since = -1, time.monotonic()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            n = b.count("sent ")
            if n != prev:
                prev, stable_since = n, time.monotonic()
            elif time.monotonic() - stable_since > 1.5:
                break
            time.sleep(0.1)
        assert time.monotonic() < deadline, "the backend never stopped"
        # 16 messages of 64 KiB per line: far less than sent unbounded.
        assert prev * 16 * 64 < 32 * 1024, prev
        rss_growth_bounded(d, before, 24 * 1024, "backend flood")
        # Others are served meanwhile.
        echo_still_served(d.port)
        # Reading again drains it all: the flood resumes.
        got = 0
        while got < 8 << 20:
            op, payload, _ = read_message(c, timeout=10)
            got += len(payload)
        assert b.count("sent ") > prev


def test_backpressure_client_to_slow_backend(wsd, backend):
    b, d = proxied(wsd, backend, "/sink", {"max_send_buffer": "256k"})
    before = helpers.proc_rss_kb(d.pid)
    c, _ = ws_open(d.port, sndbuf=65536)
    with c:
        # The backend reads nothing: wsd must stop reading the client,
        # so its sends block well before what it tries to send.
        msg = frame(OP_BINARY, b"\x00" * 65536)
        sent = 0
        c.sock.settimeout(2.0)
        try:
            while sent < 256 << 20:
                c.sock.sendall(msg)
                sent += len(msg)
        except socket.timeout:
            pass
        assert sent < 64 << 20, "wsd read %d bytes a stuck backend " \
            "could not take" % sent
        rss_growth_bounded(d, before, 24 * 1024, "client flood")
        echo_still_served(d.port)


# ------------------------------------------------------------ ops


def test_metrics_count_backend_connections_and_bytes(wsd, backend):
    b, d = proxied(wsd, backend, "/echo")
    c, _ = ws_open(d.port)
    with c:
        c.send(frame(OP_TEXT, "x" * 1000))
        assert read_message(c)[1] == b"x" * 1000
        assert metric(d.port, "wsd_backend_connections") == 1
        assert metric(d.port, "wsd_backend_connections_total") == 1
        assert metric(d.port, "wsd_backend_sent_bytes_total") == 1000
        assert metric(d.port, "wsd_backend_received_bytes_total") == 1000
        c.send(close_frame(1000))
        expect_close(c, 1000)
    deadline = time.monotonic() + 5
    while metric(d.port, "wsd_backend_connections") != 0:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert metric(d.port, "wsd_backend_connect_failures_total") == 0


def test_reload_keeps_sessions_on_their_backend(wsd, backend):
    b1 = backend("--port", "0")
    b2 = backend("--port", "0")
    d = wsd(proxy_config("ws://127.0.0.1:%s/headers?old" % b1.addr))
    old, _ = ws_open(d.port)
    with old:
        assert json.loads(read_message(old)[1])["path"] == "/headers?old"
        conf = d.argv[d.argv.index("-c") + 1]
        helpers.write_config(conf, proxy_config(
            "ws://127.0.0.1:%s/headers?new" % b2.addr,
            extra={"backend_connect_timeout": "2s"}))
        mark = d.log_mark()
        d.kill(signal.SIGHUP)
        d.wait_log(r"SIGHUP: configuration reloaded", start=mark)
        new, _ = ws_open(d.port)
        with new:
            assert json.loads(read_message(new)[1])["path"] == \
                "/headers?new"
        # The running session still talks to the first backend.
        old.send(frame(OP_TEXT, "still here"))
        assert read_message(old)[1] == b"still here"
        assert b1.count("closed ") == 0
        old.send(close_frame(1000))
        expect_close(old, 1000)
    b1.wait_line("closed 1000")


def test_client_gone_while_backend_connects(wsd):
    """A client that leaves during the backend handshake costs nothing:
    the pending backend goes with it at the timeout, wsd serves on."""
    with mute_backend() as (port, mute):
        d = wsd(proxy_config("ws://127.0.0.1:%d/" % port,
                             extra={"backend_connect_timeout": "0.3s"}))
        for _ in range(5):
            c = Conn(d.port)
            c.send(upgrade_request("/p", ws_key()))
            c.close()
        d.wait_log(r"no answer in time \(504\)")
        echo_still_served(d.port)


def test_sigterm_closes_both_sides(wsd, backend):
    """A stop sends 1001 to the client, the backend hears it too, a held
    upgrade gets 503, and wsd exits cleanly (conftest checks)."""
    b = backend("--port", "0")
    with mute_backend() as (port, mute):
        text = proxy_config("ws://127.0.0.1:%s/echo" % b.addr, routes=[
            ("/mute", {"app": "proxy", "backend":
                       "ws://127.0.0.1:%d/" % port,
                       "backend_connect_timeout": "30s"})])
        d = wsd(text)
        c, _ = ws_open(d.port)
        held = Conn(d.port, timeout=10)
        with c, held:
            c.send(frame(OP_TEXT, "before the stop"))
            assert read_message(c)[1] == b"before the stop"
            held.send(upgrade_request("/mute", ws_key()))
            # Held: wsd's backend connection waits in the accept queue.
            assert helpers.readable(mute, 10)
            d.kill(signal.SIGTERM)
            assert read_response(held, timeout=10).status == 503
            expect_close(c, 1001, timeout=10)
            c.send(close_frame(1001))
            b.wait_line("closed 1001")
            assert d.proc.wait(10) == 0
