#!/usr/bin/python3
"""idle_rss.py -- measures wsd's memory per idle plain WebSocket. A
benchmark, not a test: it prints numbers.

    WSD=build/wsd /usr/bin/python3 tests/bench/idle_rss.py [N] [RUNS]

Each run starts a fresh daemon with an echo route (pings off, no idle
timeout, no access log; one worker, WSD_WORKERS=N for more), warms it up with 100 WebSockets opened and closed,
then opens N WebSockets with raw sockets from this one process (handshake
only, nothing sent after it) and reads wsd's VmRSS before and after. The
growth divided by N is what an idle plain WebSocket costs; the median of
RUNS runs (3 by default) is printed last. N sockets here and N in wsd: keep
N under the 20000 open files limit. Everything runs on 127.0.0.1 and every
process started here is stopped by PID.
"""

import os
import pathlib
import signal
import statistics
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "integration"))

import helpers                                      # noqa: E402
from deflate_rss import start                        # noqa: E402


def measure(wsd, n):
    """One run: (RSS KiB before, RSS KiB after) n idle WebSockets."""
    tmp = tempfile.mkdtemp(prefix="wsd-idle-")
    conf = os.path.join(tmp, "wsd.ini")
    with open(conf, "w") as f:
        f.write(helpers.make_config(
            routes=[("/echo", {"app": "echo"})],
            server={"max_connections": str(n + 200), "ping_interval": "0",
                    "idle_timeout": "3600s", "handshake_timeout": "60s",
                    "access_log": "off",
                    "workers": os.environ.get("WSD_WORKERS", "1")}))
    log = open(os.path.join(tmp, "wsd.log"), "wb")
    p, port = start([wsd, "-c", conf], log)
    conns = []
    try:
        assert port is not None, open(log.name).read()
        for w in helpers.ws_connect_many(port, "/echo", 100):
            w.close()
        time.sleep(0.3)
        before = helpers.proc_rss_kb(p.pid)
        conns = helpers.ws_connect_many(port, "/echo", n, timeout=120)
        assert len(conns) == n
        time.sleep(0.5)
        after = helpers.proc_rss_kb(p.pid)
        assert p.poll() is None, open(log.name).read()
    finally:
        for w in conns:
            w.close()
        p.send_signal(signal.SIGTERM)
        p.wait(10)
        log.close()
    return before, after


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    wsd = os.environ.get("WSD", "build/wsd")
    helpers.raise_nofile(n + 300)
    print("%d idle plain WebSockets per run (%s)" % (n, wsd))
    print("%4s %9s %9s %10s" % ("run", "RSS0 KiB", "RSS1 KiB", "B/conn"))
    per = []
    for i in range(runs):
        b, a = measure(wsd, n)
        per.append((a - b) * 1024 / n)
        print("%4d %9d %9d %10.0f" % (i + 1, b, a, per[-1]))
    print("median B/conn: %.0f" % statistics.median(per))


if __name__ == "__main__":
    main()
