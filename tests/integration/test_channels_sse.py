"""test_channels_sse.py -- Server-Sent Events on channels: framing,
keepalive, retry, Last-Event-ID resume, reset, access checks, TLS, and
slow subscribers (SSE and WebSocket) under each slow_client policy."""

import json
import socket
import ssl
import time

import pytest

import helpers
from helpers import Conn, read_message
from test_channels import chan_config, info, post, publish, wait_for


class SSE:
    """An SSE client on a raw socket: reads events with deadlines."""

    def __init__(self, port, path, headers=None, conn=None):
        h = {"Accept": "text/event-stream"}
        h.update(headers or {})
        self.c = conn or Conn(port)
        self.c.send(helpers.request("GET", path, headers=h))
        self.resp = helpers.read_response(self.c, head_request=True)

    def event(self, timeout=5.0):
        """The next event as a dict of field lists ('' for comments)."""
        raw = self.c.read_until(b"\n\n", timeout=timeout)
        ev = {}
        for line in raw.decode().split("\n"):
            if not line:
                continue
            k, _, v = line.partition(":")
            if v.startswith(" "):
                v = v[1:]
            ev.setdefault(k, []).append(v)
        return ev

    def message(self, timeout=5.0):
        """The next event that is not a comment or retry line."""
        while True:
            ev = self.event(timeout)
            if "data" in ev:
                return ev

    def close(self):
        self.c.close()


def test_sse_stream_and_framing(wsd):
    d = wsd(chan_config(history=5))
    s = SSE(d.port, "/live/n")
    assert s.resp.status == 200
    assert s.resp.header("Content-Type") == "text/event-stream"
    assert s.resp.header("Cache-Control") == "no-cache"
    assert s.event() == {"retry": ["2000"]}
    assert wait_for(lambda: info(d.port, "/live/n")["subscribers"] == 1)
    r = publish(d.port, "/live/n", b"one\ntwo\r\nthree")
    ev = s.message()
    assert ev == {"data": ["one", "two", "three"], "id": [r["id"]]}
    r = publish(d.port, "/live/n", b"\x00\x01\xff", ctype="image/png")
    ev = s.message()
    assert ev["event"] == ["binary"] and ev["data"] == ["AAH/"]
    assert ev["id"] == [r["id"]]
    # Subscribers over WebSocket and SSE get the same message.
    w = helpers.ws_connect(d.port, "/live/n")
    r = publish(d.port, "/live/n", b"both")
    assert r["subscribers"] == 2
    assert s.message()["data"] == ["both"]
    assert read_message(w)[1] == b"both"
    w.close()
    s.close()


def test_sse_keepalive(wsd):
    d = wsd(chan_config(sse_keepalive="200ms"))
    s = SSE(d.port, "/live/k")
    s.event()                       # retry
    t0 = time.monotonic()
    ev = s.event(timeout=3)
    assert ev == {"": ["keepalive"]}
    assert time.monotonic() - t0 < 2.5
    assert s.event(timeout=3) == {"": ["keepalive"]}
    s.close()


def test_sse_last_event_id_resume(wsd):
    d = wsd(chan_config(history=10))
    ids = [publish(d.port, "/live/r", b"m%d" % i)["id"] for i in range(5)]
    s = SSE(d.port, "/live/r", headers={"Last-Event-ID": ids[1]})
    got = [s.message() for _ in range(3)]
    assert [g["data"] for g in got] == [["m2"], ["m3"], ["m4"]]
    assert [g["id"] for g in got] == [[i] for i in ids[2:]]
    r = publish(d.port, "/live/r", b"live")
    assert s.message() == {"data": ["live"], "id": [r["id"]]}
    s.close()
    # ?since= works too; Last-Event-ID wins over it.
    s = SSE(d.port, "/live/r?since=" + ids[3])
    assert s.message()["data"] == ["m4"]
    s.close()


def test_sse_reset(wsd):
    d = wsd(chan_config(history=2))
    ids = [publish(d.port, "/live/x", b"%d" % i)["id"] for i in range(4)]
    s = SSE(d.port, "/live/x", headers={"Last-Event-ID": ids[0]})
    ev = s.message()
    assert ev["event"] == ["reset"]
    assert json.loads(ev["data"][0]) == {"type": "reset", "channel": "x"}
    assert [s.message()["data"] for _ in range(2)] == [["2"], ["3"]]
    s.close()


def test_sse_refusals(wsd, tmp_path):
    tokens = tmp_path / "t"
    tokens.write_text("sub\n")
    cfg = chan_config(auth_token_file=str(tokens),
                      origins="https://good.example", max_channels=1)
    d = wsd(cfg)
    assert SSE(d.port, "/live/a").resp.status == 401
    h = {"Authorization": "Bearer sub"}
    s = SSE(d.port, "/live/a", headers=h)
    assert s.resp.status == 200
    r = SSE(d.port, "/live/a", headers=dict(h, Origin="https://evil"))
    assert r.resp.status == 403
    assert SSE(d.port, "/live/b%20c", headers=h).resp.status == 400
    assert SSE(d.port, "/live/b", headers=h).resp.status == 503
    s.close()


def test_sse_delete_ends_stream(wsd):
    d = wsd(chan_config())
    s = SSE(d.port, "/live/del")
    s.event()
    assert wait_for(lambda: info(d.port, "/live/del")["subscribers"] == 1)
    assert helpers.http_get(d.port, "/live/del",
                            method="DELETE").status == 204
    assert s.c.read_to_eof(timeout=5) == b""
    s.close()


def test_sse_over_tls(wsd, tmp_path):
    cert, key = helpers.selfsigned_cert(tmp_path)
    cfg = chan_config(history=2).replace(
        "[server]\n", "[server]\nlisten = 127.0.0.1:0 tls\n", 1)
    cfg += "\n[tls]\ncertificate = %s\nprivate_key = %s\n" % (cert, key)
    d = wsd(cfg)
    tls_port = [p for p, t in d.ports if t][0]
    plain = [p for p, t in d.ports if not t][0]
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    raw = socket.create_connection(("127.0.0.1", tls_port), timeout=5)
    tls = ctx.wrap_socket(raw)
    tls.sendall(b"GET /live/s HTTP/1.1\r\nHost: x\r\n"
                b"Accept: text/event-stream\r\n\r\n")
    buf = b""
    while b"retry:" not in buf:
        buf += tls.recv(4096)
    assert buf.startswith(b"HTTP/1.1 200")
    assert wait_for(lambda: info(plain, "/live/s")["subscribers"] == 1)
    r = publish(plain, "/live/s", b"secure")
    while b"data: secure" not in buf:
        buf += tls.recv(4096)
    assert ("id: %s" % r["id"]).encode() in buf
    tls.close()


def _slow_subscribers(d, sse, n=3):
    """n subscribers that never read, with small receive buffers."""
    subs = []
    for _ in range(n):
        c = Conn(d.port, rcvbuf=4096)
        if sse:
            c.send(helpers.request("GET", "/live/slow", headers={
                "Accept": "text/event-stream"}))
        else:
            c.send(helpers.upgrade_request("/live/slow", helpers.ws_key()))
        subs.append(c)
    return subs


@pytest.mark.parametrize("policy", ["close", "drop", "conflate"])
@pytest.mark.parametrize("kind", ["sse", "ws"])
def test_slow_subscribers(wsd, policy, kind):
    d = wsd(chan_config(slow_client=policy, max_send_buffer="64k"))
    fast = SSE(d.port, "/live/fast") if kind == "sse" else None
    subs = _slow_subscribers(d, kind == "sse")
    assert wait_for(lambda: info(d.port, "/live/slow")["subscribers"] == 3)
    rss0 = helpers.proc_rss_kb(d.pid)
    body = b"x" * 16384
    with Conn(d.port, timeout=30) as p:
        for i in range(1500):   # 24 MB per subscriber if nothing bounded
            r = post(d.port, "/live/slow", body, conn=p)
            assert r.status == 200
    rss = helpers.proc_rss_kb(d.pid)
    # Room for the sanitizers' quarantine, far below 3 x 24 MB.
    assert rss - rss0 < 20 * 1024, (rss0, rss)
    if policy == "close":
        assert wait_for(lambda: info(d.port, "/live/slow")[
            "subscribers"] == 0)
    else:
        assert info(d.port, "/live/slow")["subscribers"] == 3
    m = helpers.http_get(d.port, "/metrics").body.decode()
    assert 'wsd_channel_published_total{route="/live/"} 1500' in m
    if fast is not None:
        r = publish(d.port, "/live/fast", b"still here")
        assert fast.message()["data"] == ["still here"]
        fast.close()
    for c in subs:
        c.close()
