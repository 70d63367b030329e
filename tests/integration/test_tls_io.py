"""test_tls_io.py -- issue 13: a wss:// WebSocket does its own I/O after
the upgrade (SSL_read into the loop's scratch buffer, SSL_write of the
slice queue). The edges TLS adds to the plain path: bytes the
bufferevent already decrypted, frames split over records or many frames
in one record, messages larger than a record either way, close_notify
before the half-close, and send_timeout for a client that stops reading.
"""

import os
import socket
import ssl
import time

import helpers
from helpers import OP_BINARY, OP_TEXT, close_frame, expect_close, frame
from helpers import read_message
from test_tls import (OPENSSL, TlsConn, client_ctx, leaf, pki,  # noqa
                      start_tls, tls_ws_connect)

import pytest

pytestmark = pytest.mark.skipif(OPENSSL is None,
                                reason="the openssl command is not installed")


def test_wss_frame_split_over_many_records(wsd, static_root, pki, leaf):
    # Each send() on an SSL socket is a record of its own: a frame cut
    # into 3-byte records is put together again.
    d = start_tls(wsd, static_root, leaf)
    data = frame(OP_TEXT, "split over records " * 20)
    with tls_ws_connect(d.port, pki) as c:
        for i in range(0, len(data), 3):
            c.send(data[i:i + 3])
        assert read_message(c)[:2] == (OP_TEXT,
                                       b"split over records " * 20)


def test_wss_many_frames_in_one_record(wsd, static_root, pki, leaf):
    # 300 frames in one write (one or two records): every echo comes back,
    # in order (they leave coalesced into few records).
    d = start_tls(wsd, static_root, leaf)
    with tls_ws_connect(d.port, pki) as c:
        c.send(b"".join(frame(OP_TEXT, "m%d" % i) for i in range(300)))
        for i in range(300):
            assert read_message(c)[:2] == (OP_TEXT, b"m%d" % i)


def test_wss_large_message_many_records(wsd, static_root, pki, leaf):
    # 3 MiB each way: well over the 64 KiB scratch buffer and the 16 KiB
    # record, read and written in many records.
    d = wsd(helpers.make_config(static_root, server={
        "max_message_size": "4m", "max_send_buffer": "8m"}).replace(
        "listen = 127.0.0.1:0\n", "listen = 127.0.0.1:0 tls\n") +
        "\n[tls]\ncertificate = %s\nprivate_key = %s\n" % (leaf.chain,
                                                           leaf.key))
    payload = os.urandom(3 << 20)
    with tls_ws_connect(d.port, pki) as c:
        c.send(frame(OP_BINARY, payload) + frame(OP_TEXT, "after"))
        op, got = read_message(c, timeout=20)[:2]
        assert op == OP_BINARY and got == payload
        assert read_message(c)[:2] == (OP_TEXT, b"after")


def test_wss_close_sends_close_notify(wsd, static_root, pki, leaf):
    # Flush-then-close over TLS: the close frame, then close_notify, then
    # the TCP half-close. A missing close_notify would read as a ragged
    # EOF (SSLEOFError with suppress_ragged_eofs off).
    # (ssl ignores a missing close_notify by default: not here).
    d = start_tls(wsd, static_root, leaf)
    ctx = client_ctx(pki)
    ctx.options &= ~ssl.OP_IGNORE_UNEXPECTED_EOF
    key = helpers.ws_key()
    with TlsConn(d.port, ctx) as c:
        c.sock.suppress_ragged_eofs = False
        c.send(helpers.upgrade_request("/echo", key))
        assert helpers.read_response(c, head_request=True).status == 101
        c.send(frame(OP_TEXT, "bye"))
        assert read_message(c)[:2] == (OP_TEXT, b"bye")
        c.send(close_frame(1000))
        expect_close(c, 1000)
        c.sock.settimeout(5)
        assert c.sock.recv(100) == b""      # close_notify, not ragged


def test_wss_send_timeout_drops_client_that_stops_reading(wsd, static_root,
                                                          pki, leaf):
    # A wss client that sends and never reads: its echoes fill the socket
    # (SSL_write wants to write), then max_send_buffer pauses reading, and
    # with no progress for send_timeout the connection is dropped.
    conf = helpers.make_config(static_root, server={
        "max_send_buffer": "64k", "ping_interval": "0"}, routes=[
        ("/echo", {"app": "echo", "send_timeout": "1s"}),
        ("/metrics", {"app": "metrics"})]).replace(
        "listen = 127.0.0.1:0\n", "listen = 127.0.0.1:0 tls\n")
    conf += "\n[tls]\ncertificate = %s\nprivate_key = %s\n" % (leaf.chain,
                                                               leaf.key)
    d = wsd(conf)
    c = tls_ws_connect(d.port, pki)
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    with c:
        port = c.sock.getsockname()[1]
        mark = d.log_mark()
        msg = frame(OP_BINARY, bytes(65536))
        c.sock.settimeout(1.0)
        sent = 0
        try:
            while sent < (64 << 20):
                c.sock.sendall(msg)
                sent += len(msg)
        except (socket.timeout, ssl.SSLError, OSError):
            pass
        assert sent > 64 * 1024, sent
        d.wait_log(r"127\.0\.0\.1:%d: ws /echo: no output progress for 1s, "
                   r"dropping the connection" % port, timeout=10,
                   start=mark)
    d.wait_log(r"access: 127\.0\.0\.1:%d ws /echo .*close=1006" % port,
               start=mark)
    # Others are still served.
    with tls_ws_connect(d.port, pki) as other:
        other.send(frame(OP_TEXT, "still served"))
        assert read_message(other)[:2] == (OP_TEXT, b"still served")


def test_wss_burst_over_scratch_buffer_all_echoed(wsd, static_root, pki,
                                                 leaf):
    # 1000 small frames (~150 KiB) in one write, then silence: more than
    # one 64 KiB read's worth, frames across record and buffer edges. What
    # OpenSSL holds after a full buffer is read without the socket saying
    # so again: every echo arrives, in order.
    d = start_tls(wsd, static_root, leaf)
    msgs = [("%04d" % i).encode() * 37 for i in range(1000)]
    with tls_ws_connect(d.port, pki) as c:
        c.send(b"".join(frame(OP_BINARY, m) for m in msgs))
        for m in msgs:
            assert read_message(c)[:2] == (OP_BINARY, m)
