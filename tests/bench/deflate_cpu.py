#!/usr/bin/python3
"""deflate_cpu.py -- wsd's CPU per hub delivery with and without
permessage-deflate. A benchmark, not a test: it prints numbers.

    WSD=build/wsd /usr/bin/python3 tests/bench/deflate_cpu.py [N] [M] [RUNS]

For each mode a fresh daemon gets N subscribers on a relay route (the
python-websockets/browser offer, or none) and one plain publisher that
sends M text messages of 200 bytes, paced so that nobody falls behind.
The subscribers' sockets are drained without parsing until nothing more
comes for half a second. The daemon's CPU time (utime + stime from
/proc) over that window, divided by
M * N, is its CPU per delivery; the median of RUNS runs is printed, and
each mode's ratio to the plain one. Everything runs on 127.0.0.1 and
every process started here is stopped by PID.
"""

import os
import pathlib
import selectors
import signal
import socket
import statistics
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "integration"))

import helpers                                      # noqa: E402
from deflate_rss import start                       # noqa: E402
from helpers import OP_TEXT, frame                  # noqa: E402

OFFER = "permessage-deflate; client_max_window_bits"
MODES = [("plain", None, None),
         ("deflate, route default", OFFER, None),
         ("deflate, compression = on", OFFER, "on")]


def subscriber(port, offer):
    """A raw WebSocket on /relay, handshake read; returns the socket."""
    s = socket.create_connection(("127.0.0.1", port))
    extra = {"Sec-WebSocket-Extensions": offer} if offer else {}
    s.sendall(helpers.upgrade_request("/relay", helpers.ws_key(),
                                      extra=extra))
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        assert chunk, "closed during the handshake"
        head += chunk
    assert head.startswith(b"HTTP/1.1 101"), head
    assert (b"permessage-deflate" in head) == bool(offer), head
    s.setblocking(False)
    return s


def drain(sel, timeout):
    """Reads whatever the subscribers have; returns the bytes read."""
    n = 0
    for key, _ in sel.select(timeout):
        try:
            n += len(key.fileobj.recv(1 << 20))
        except BlockingIOError:
            pass
    return n


def cpu(pid):
    return helpers.proc_cpu_seconds(pid)


def measure(wsd, n, m, offer, comp):
    tmp = tempfile.mkdtemp(prefix="wsd-cpu-")
    conf = os.path.join(tmp, "wsd.ini")
    keys = {"app": "relay", "echo_self": "off", "max_send_buffer": "16m"}
    if comp is not None:
        keys["compression"] = comp
    with open(conf, "w") as f:
        f.write(helpers.make_config(
            routes=[("/relay", keys)],
            server={"max_connections": str(n + 100), "ping_interval": "0",
                    "access_log": "off"}))
    log = open(os.path.join(tmp, "wsd.log"), "wb")
    p, port = start([wsd, "-c", conf], log)
    subs = []
    sel = selectors.DefaultSelector()
    try:
        for _ in range(n):
            s = subscriber(port, offer)
            subs.append(s)
            sel.register(s, selectors.EVENT_READ)
        pub = helpers.ws_connect(port, "/relay")
        pub.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        words = b"wsd relay deflate fan-out %08d {\"type\":\"tick\"} "
        time.sleep(0.3)
        t0 = cpu(p.pid)
        for i in range(m):
            msg = (words % i * 8)[:200]
            pub.send(frame(OP_TEXT, msg))
            # Pace: let the fan-out go out before the next message.
            drain(sel, 0)
            if i % 10 == 9:
                drain(sel, 0.001)
        # Until the fan-out is over: nothing more for half a second.
        quiet = time.monotonic()
        while time.monotonic() - quiet < 0.5:
            if drain(sel, 0.05) > 0:
                quiet = time.monotonic()
        t1 = cpu(p.pid)
        assert p.poll() is None, "wsd exited"
        assert "closing" not in open(log.name).read(), "a member was closed"
        pub.close()
    finally:
        for s in subs:
            s.close()
        p.send_signal(signal.SIGTERM)
        p.wait(10)
        log.close()
    return (t1 - t0) / (m * n) * 1e6


def main():
    args = sys.argv[1:]
    n = int(args[0]) if len(args) > 0 else 1000
    m = int(args[1]) if len(args) > 1 else 500
    runs = int(args[2]) if len(args) > 2 else 3
    wsd = os.environ.get("WSD", "build/wsd")
    helpers.raise_nofile(n + 200)
    print("%d subscribers x %d messages of 200 bytes, median of %d (%s)" %
          (n, m, runs, wsd))
    base = None
    for name, offer, comp in MODES:
        v = statistics.median(measure(wsd, n, m, offer, comp)
                              for _ in range(runs))
        base = base or v
        print("%-32s %8.3f us/delivery  %5.2fx plain" % (name, v, v / base))


if __name__ == "__main__":
    main()
