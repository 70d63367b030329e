"""test_liveness.py -- keepalive pings that only a reader can answer."""

import os
import struct
import time

import helpers
from helpers import (OP_CLOSE, OP_PING, OP_PONG, OP_TEXT, frame,
                     read_frame, read_message)


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
