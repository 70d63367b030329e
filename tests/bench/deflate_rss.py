#!/usr/bin/python3
"""deflate_rss.py -- measures wsd's memory per idle WebSocket, with and
without permessage-deflate. A benchmark, not a test: it prints numbers.

    WSD=build/wsd /usr/bin/python3 tests/bench/deflate_rss.py [N] [--peer]
    WSD=build/wsd /usr/bin/python3 tests/bench/deflate_rss.py [N] --hub

For each mode a fresh daemon gets N connections on /echo, each of which
sends one 200-byte (or 64 KiB) text message and reads the echo (or sends
nothing),
then sits idle; the daemon's VmRSS before and after, divided by N, is the
cost of one idle connection. With --peer, python-websockets' echo server
(serve() with its defaults, compression included) is measured the same
way in the same run, and the ratio printed. With --hub the connections
are on a broadcast route instead (a tick every 2 s): each sends one
200-byte message and reads one broadcast, without compression, with
python-websockets' offer under the route's default compression and with
it under compression = on. Everything runs on 127.0.0.1 and every process
started here is stopped by PID.
"""

import os
import pathlib
import re
import signal
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "integration"))

import helpers                                      # noqa: E402
from pmd_lib import PmdConn                          # noqa: E402

MODES = [
    ("plain, one echo", None, True),
    ("deflate offered, idle, no message", "permessage-deflate; "
     "client_max_window_bits", False),
    ("deflate (python-websockets offer), one echo", "permessage-deflate; "
     "client_max_window_bits", True),
    ("deflate (python-websockets offer), one 64 KiB echo",
     "permessage-deflate; client_max_window_bits", 65536),
    ("deflate, client window 15 bits, one echo", "permessage-deflate",
     True),
    ("deflate, client window 15 bits, one 64 KiB echo",
     "permessage-deflate", 65536),
    ("deflate, no context takeover both ways, one echo",
     "permessage-deflate; client_max_window_bits; "
     "server_no_context_takeover; client_no_context_takeover", True),
]


# --hub: (name, offer, compression key of the route or None).
HUB_MODES = [
    ("hub, plain", None, None),
    ("hub, deflate (python-websockets offer), default", "permessage-deflate;"
     " client_max_window_bits", None),
    ("hub, deflate (python-websockets offer), on", "permessage-deflate; "
     "client_max_window_bits", "on"),
    ("hub, deflate, client window 15 bits, default", "permessage-deflate",
     None),
]


def rss_kb(pid):
    return helpers.proc_rss_kb(pid)


# The peer: python-websockets 10.4's echo server, pings off like wsd here.
PEER = """
import asyncio, sys, websockets
async def echo(ws):
    async for m in ws:
        await ws.send(m)
async def main():
    async with websockets.serve(echo, "127.0.0.1", 0, ping_interval=None,
                                max_size=2 ** 20) as srv:
        port = srv.sockets[0].getsockname()[1]
        print("listening on 127.0.0.1:%d" % port, flush=True)
        await asyncio.Future()
asyncio.run(main())
"""


def start(argv, log):
    """Starts a server logging to log; returns it and its port (None if it
    said nothing within 5 s; the caller stops it in any case)."""
    p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                         stdin=subprocess.DEVNULL)
    port = None
    deadline = time.monotonic() + 5
    while port is None and time.monotonic() < deadline:
        m = re.search(r"listening on 127\.0\.0\.1:(\d+)",
                      open(log.name).read())
        port = int(m.group(1)) if m else None
        time.sleep(0.02)
    return p, port


def measure(wsd, n, offer, echo, peer=False, hub=False, compression=None):
    tmp = tempfile.mkdtemp(prefix="wsd-rss-")
    conf = os.path.join(tmp, "wsd.ini")
    path = "/broadcast" if hub else "/echo"
    keys = {"app": "echo"}
    if hub:
        keys = {"app": "broadcast", "interval_min": "2s",
                "interval_max": "2s"}
    if compression is not None:
        keys["compression"] = compression
    with open(conf, "w") as f:
        f.write(helpers.make_config(
            routes=[(path, keys)],
            server={"max_connections": str(n + 100),
                    "ping_interval": "0", "access_log": "off"}))
    log = open(os.path.join(tmp, "wsd.log"), "wb")
    argv = ["/usr/bin/python3", "-c", PEER] if peer else [wsd, "-c", conf]
    p, port = start(argv, log)
    conns = []
    try:
        # Warm up the allocator and libevent with a few connections.
        for _ in range(0 if hub else 20):
            c = PmdConn(port, "/echo", offer=offer)
            if echo:
                c.send(b"w" * 200)
                c.recv()
            c.close()
        time.sleep(0.3)
        before = rss_kb(p.pid)
        size = 200 if echo is True else echo
        # Text that compresses like real messages, different per byte.
        msg = b"".join(b"%08x idle connection message " % i
                       for i in range(size // 20 + 1))[:size]
        if hub:
            # Warm up, then one message each way per connection: one
            # sent, one broadcast received (ticks every 2 s).
            warm = [PmdConn(port, path, offer=offer) for _ in range(20)]
            for c in warm:
                c.send(msg)
            for c in warm:
                c.recv(timeout=5)
                c.close()
            time.sleep(0.3)
            before = rss_kb(p.pid)
            for _ in range(n):
                c = PmdConn(port, path, offer=offer)
                c.send(msg)
                conns.append(c)
            for c in conns:
                assert c.recv(timeout=10)[0] == helpers.OP_TEXT
        for _ in range(0 if hub else n):
            c = PmdConn(port, "/echo", offer=offer)
            if echo:
                c.send(msg)
                assert c.recv()[1] == msg
            conns.append(c)
        time.sleep(0.5)
        after = rss_kb(p.pid)
        negotiated = conns[0].params is not None
    finally:
        for c in conns:
            c.close()
        p.send_signal(signal.SIGTERM)
        p.wait(10)
        log.close()
    return before, after, negotiated


def main():
    args = [a for a in sys.argv[1:] if a not in ("--peer", "--hub")]
    peer = "--peer" in sys.argv[1:]
    hub = "--hub" in sys.argv[1:]
    n = int(args[0]) if args else 1000
    wsd = os.environ.get("WSD", "build/wsd")
    helpers.raise_nofile(n + 200)
    print("%d idle connections per mode (%s)" % (n, wsd))
    print("%-52s %9s %9s %10s%s" % ("mode", "RSS0 KiB", "RSS1 KiB",
                                    "KiB/conn", "  peer KiB  ratio"
                                    if peer else ""))
    if hub:
        for name, offer, comp in HUB_MODES:
            b, a, neg = measure(wsd, n, offer, True, hub=True,
                                compression=comp)
            assert neg == (offer is not None), name
            print("%-52s %9d %9d %10.1f" % (name, b, a, (a - b) / n))
        return
    for name, offer, echo in MODES:
        b, a, neg = measure(wsd, n, offer, echo)
        assert neg == (offer is not None), name
        line = "%-52s %9d %9d %10.1f" % (name, b, a, (a - b) / n)
        if peer:
            pb, pa, _ = measure(wsd, n, offer, echo, peer=True)
            line += " %10.1f %6.3f" % ((pa - pb) / n, (a - b) / (pa - pb))
        print(line)


if __name__ == "__main__":
    main()
