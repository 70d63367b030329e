"""test_liveness.py -- keepalive pings that only a reader can answer, and
send_timeout: a WebSocket whose output makes no progress is dropped."""

import os
import select
import struct
import time

import helpers
from helpers import (OP_BINARY, OP_CLOSE, OP_PING, OP_PONG, OP_TEXT, frame,
                     read_frame, read_message)
from test_metrics import scrape, val, wait_metric

MIB = 1024 * 1024


def ping_config(root):
    return helpers.make_config(root, server={
        "ping_interval": "0.5s", "ping_timeout": "1s"})


def answer_pings(c, answer, seconds):
    """Reads frames for up to seconds, answering each ping with
    answer(n, payload) (None: no answer) and sending an unsolicited pong
    every 0.2s. Returns (ping payloads, the close frame or None)."""
    pings = []
    deadline = time.monotonic() + seconds
    next_pong = 0.0
    while time.monotonic() < deadline:
        now = time.monotonic()
        if now >= next_pong:
            # RFC 6455 5.5.3: unsolicited pongs are allowed, and ignored.
            c.send(frame(OP_PONG, os.urandom(8)))
            next_pong = now + 0.2
        try:
            f = read_frame(c, min(0.2, max(0.01, deadline - now)))
        except TimeoutError:
            continue
        if f.opcode == OP_CLOSE:
            return pings, f
        assert f.opcode == OP_PING, f
        pings.append(f.payload)
        payload = answer(len(pings), f.payload)
        if payload is not None:
            c.send(frame(OP_PONG, payload))
    return pings, None


def test_forged_pongs_do_not_keep_alive(wsd, static_root):
    # A client that answers each ping without its payload (the sequence
    # number an older wsd sent, or any fixed value) and sends pongs of
    # its own is closed with 1011 once ping_timeout passes.
    d = wsd(ping_config(static_root))
    for forge in (lambda n, p: struct.pack("=I", n),
                  lambda n, p: b"\0" * len(p)):
        with helpers.ws_connect(d.port, "/echo") as c:
            mark = d.log_mark()
            port = c.sock.getsockname()[1]
            pings, close = answer_pings(c, forge, 0.5 + 1 + 5)
            assert close is not None, "still open after %d pings" % len(
                pings)
            assert close.close_code == 1011, close
            assert len(pings) == 1, pings
            d.wait_log(r"127\.0\.0\.1:%d: ws /echo: closing with 1011: "
                       r"keepalive ping timeout" % port, start=mark)


def test_echoed_pings_keep_alive_and_differ(wsd, static_root):
    d = wsd(ping_config(static_root))
    with helpers.ws_connect(d.port, "/echo") as c:
        pings, close = answer_pings(c, lambda n, p: p, 2.6)
        assert close is None, close
        # Pings every 0.5s, each answered: 4 or 5 of them in 2.6s.
        assert len(pings) >= 3, pings
        # Random payloads: long enough not to be guessed, never repeated.
        assert all(len(p) >= 8 for p in pings), pings
        assert len(set(pings)) == len(pings), pings
        c.send(frame(OP_TEXT, "still open"))
        assert read_message(c)[:2] == (OP_TEXT, b"still open")


def send_config(root, send_timeout="1s", **server):
    srv = {"max_send_buffer": "64k", "ping_interval": "0"}
    srv.update(server)
    return helpers.make_config(root, server=srv, routes=[
        ("/echo", {"app": "echo", "send_timeout": send_timeout}),
        ("/metrics", {"app": "metrics"}),
    ])


def flood_until_stuck(sock, msg, limit=64 * MIB, quiet=0.5):
    """Sends msg again and again on a non-blocking socket, never reading,
    until nothing more goes for quiet seconds (the server stopped reading
    us) or the peer goes; returns the bytes sent."""
    sock.setblocking(False)
    sent, view, last = 0, memoryview(b""), time.monotonic()
    while sent < limit and time.monotonic() - last < quiet:
        if not view:
            view = memoryview(msg)
        if not helpers.writable(sock, 0.05):
            continue
        try:
            n = sock.send(view)
        except (BlockingIOError, InterruptedError):
            continue
        except (ConnectionResetError, BrokenPipeError):
            break
        sent += n
        view = view[n:]
        last = time.monotonic()
    return sent


def test_send_timeout_drops_zero_window(wsd, static_root):
    # A client that sends large messages and never reads: its echoes fill
    # the kernel buffers, then max_send_buffer (reading pauses), and with
    # no byte getting through for send_timeout wsd drops the connection.
    d = wsd(send_config(static_root))
    assert val(scrape(d.port), "wsd_send_timeouts_total") == 0
    c = helpers.ws_connect(d.port, "/echo", rcvbuf=16 * 1024)
    with c:
        port = c.sock.getsockname()[1]
        mark = d.log_mark()
        sent = flood_until_stuck(c.sock, frame(OP_BINARY, bytes(65536)))
        assert sent > 64 * 1024, sent
        # Another client is served meanwhile.
        with helpers.ws_connect(d.port, "/echo") as other:
            other.send(frame(OP_TEXT, "served"))
            assert read_message(other)[:2] == (OP_TEXT, b"served")
        d.wait_log(r"127\.0\.0\.1:%d: ws /echo: no output progress for 1s, "
                   r"dropping the connection" % port, timeout=1 + 5,
                   start=mark)
        wait_metric(d.port, "wsd_send_timeouts_total", 1, exact=True)
        # The client sees its connection end (EOF or reset) once it reads
        # what was in flight; no close frame could be sent.
        c.sock.setblocking(True)
        assert c.wait_closed(5)
    d.wait_log(r"access: 127\.0\.0\.1:%d ws /echo .*close=1006" % port,
               start=mark)
    with helpers.ws_connect(d.port, "/echo") as other:
        other.send(frame(OP_TEXT, "still served"))
        assert read_message(other)[:2] == (OP_TEXT, b"still served")


def test_send_timeout_spares_slow_reader(wsd, static_root):
    # A client that reads slowly but steadily makes progress: its output
    # is pending for much longer than send_timeout, and it stays.
    d = wsd(send_config(static_root))
    c = helpers.ws_connect(d.port, "/echo", rcvbuf=16 * 1024, timeout=20)
    with c:
        msg = frame(OP_BINARY, bytes(65536))
        total = 24 * 65536
        want = total + 24 * 10      # payload and 10-byte headers
        got = 0
        start = time.monotonic()
        c.sock.setblocking(False)
        out = memoryview(msg * 24)
        while got < want:
            assert time.monotonic() - start < 30, (got, want)
            r, w, _ = select.select([c.sock], [c.sock] if out else [], [],
                                    0.1)
            if w:
                try:
                    out = out[c.sock.send(out):]
                except BlockingIOError:
                    pass
            if r:
                data = c.sock.recv(8192)
                assert data, "closed after %d of %d bytes" % (got, want)
                got += len(data)
                time.sleep(0.02)    # about 400 KiB/s
        elapsed = time.monotonic() - start
        assert elapsed > 2, "read %d bytes too fast (%.1fs)" % (got, elapsed)
        c.sock.setblocking(True)
        c.send(frame(OP_TEXT, "still open"))
        assert read_message(c)[:2] == (OP_TEXT, b"still open")
    assert val(scrape(d.port), "wsd_send_timeouts_total") == 0


def test_send_timeout_zero_is_off(wsd, static_root):
    # send_timeout = 0: a client that does not read is left to the other
    # limits (backpressure holds its memory), not dropped.
    d = wsd(send_config(static_root, send_timeout="0"))
    c = helpers.ws_connect(d.port, "/echo", rcvbuf=16 * 1024)
    with c:
        mark = d.log_mark()
        assert flood_until_stuck(c.sock, frame(OP_BINARY,
                                               bytes(65536))) > 64 * 1024
        time.sleep(1.5)
        assert val(scrape(d.port), "wsd_send_timeouts_total") == 0
        assert "no output progress" not in d.log_text()[mark:]
        # Still connected: the echoes are all there to be read.
        c.sock.setblocking(True)
        assert read_message(c)[:2] == (OP_BINARY, bytes(65536))
