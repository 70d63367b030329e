"""test_limits.py -- backpressure on slow readers and running out of file
descriptors."""

import resource
import socket
import struct
import time

import helpers
from helpers import (OP_BINARY, OP_TEXT, frame, proc_cpu_seconds, proc_rss_kb,
                     read_message, writable)

MSG = 64 * 1024
SEND_CAP = 50 * 1024 * 1024


def payload(i):
    """Message i of the backpressure test: its index, repeated."""
    return struct.pack("!I", i) * (MSG // 4)


def echo_once(port, text, timeout=3.0):
    with helpers.ws_connect(port, "/echo", timeout=timeout) as c:
        c.send(frame(OP_TEXT, text))
        return read_message(c, timeout=timeout)[:2]


def test_backpressure_slow_reader(wsd, static_root):
    d = wsd(helpers.make_config(static_root, server={
        "max_send_buffer": "64k", "idle_timeout": "30s"}))
    slow = helpers.ws_connect(d.port, "/echo", timeout=10,
                              sndbuf=64 * 1024, rcvbuf=64 * 1024)
    try:
        rss0 = proc_rss_kb(d.pid)
        sock = slow.sock
        sock.setblocking(False)
        total, sent_msgs, pending, stalled = 0, 0, b"", False
        while total < SEND_CAP:
            if not pending:
                pending = frame(OP_BINARY, payload(sent_msgs))
                sent_msgs += 1
            if not writable(sock, 1.5):
                stalled = True
                break
            try:
                n = sock.send(pending)
            except BlockingIOError:
                continue
            pending = pending[n:]
            total += n
        assert stalled, "wsd read %d bytes from a client that never " \
            "reads" % total
        complete = sent_msgs - 1 if pending else sent_msgs

        # wsd has stopped reading: its memory stays bounded...
        time.sleep(0.5)
        grown = proc_rss_kb(d.pid) - rss0
        assert grown < 100 * 1024, "RSS grew by %d KiB" % grown
        # ...and it keeps serving everyone else.
        assert echo_once(d.port, "other client") == (OP_TEXT, b"other client")

        # The slow client reads: every message comes back intact, in order.
        sock.setblocking(True)
        slow.timeout = 10
        for i in range(complete):
            op, data, _ = read_message(slow, timeout=10)
            assert op == OP_BINARY and len(data) == MSG, (i, op, len(data))
            assert data == payload(i), "message %d/%d differs" % (i, complete)
        if pending:
            slow.send(pending)
            op, data, _ = read_message(slow, timeout=10)
            assert data == payload(sent_msgs - 1)
        # Nothing more than what was sent.
        slow.send(frame(OP_TEXT, "end"))
        assert read_message(slow, timeout=10)[:2] == (OP_TEXT, b"end")
    finally:
        slow.close()


def test_open_files_limit_logged(wsd):
    d = wsd()
    d.wait_log(r"open files limit")


def test_emfile_pauses_accept(wsd, static_root):
    def limit_fds():
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))

    d = wsd(helpers.make_config(static_root, server={
        "handshake_timeout": "30s", "idle_timeout": "30s"}),
        preexec_fn=limit_fds)
    d.wait_log(r"open files limit\D*64\b")
    ws = helpers.ws_connect(d.port, "/echo")
    extra = []
    try:
        ws.send(frame(OP_TEXT, "first"))
        assert read_message(ws)[:2] == (OP_TEXT, b"first")
        mark = d.log_mark()
        for _ in range(70):
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex((helpers.HOST, d.port))
            extra.append(s)
        d.wait_log(r"accept.*(paus|EMFILE|Too many open files)", start=mark)

        # Out of descriptors, wsd must not spin on the listener.
        cpu0 = proc_cpu_seconds(d.pid)
        time.sleep(1.0)
        used = proc_cpu_seconds(d.pid) - cpu0
        assert used < 0.5, "wsd used %.2fs CPU in 1s while out of fds" % used

        # Open sessions are unaffected.
        ws.send(frame(OP_TEXT, "still echoing"))
        assert read_message(ws, timeout=3)[:2] == (OP_TEXT, b"still echoing")

        for s in extra:
            s.close()
        extra = []
        # Descriptors are back: new connections are accepted again.
        r = helpers.http_get(d.port, "/notes.txt", timeout=8)
        assert (r.status, r.body) == (200, b"plain notes\n")
        assert echo_once(d.port, "new session", timeout=5) == (
            OP_TEXT, b"new session")
    finally:
        for s in extra:
            s.close()
        ws.close()
