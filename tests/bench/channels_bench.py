#!/usr/bin/python3
"""channels_bench.py -- numbers for the channels app: publishes per second
through POST with keep-alive, wsd's CPU per delivery for a channel of 1000
subscribers next to the broadcast app's, memory per channel holding
history 100 x 1 KiB.

Usage: WSD=build/wsd tests/bench/channels_bench.py
Starts its own wsd on 127.0.0.1 (stopped by PID at the end)."""

import http.client
import os
import pathlib
import re
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent /
                       "integration"))
import helpers  # noqa: E402

WSD = os.environ.get("WSD", "build/wsd")
CONF = """[server]
listen = 127.0.0.1:0
max_connections = 20000
log_level = warn
access_log = off

[route /live/]
app = channels
history = 100
max_channels = 100000

[route /broadcast]
app = broadcast
interval_min = 2ms
interval_max = 2ms

[route /metrics]
app = metrics
"""


def start():
    d = tempfile.mkdtemp()
    conf = os.path.join(d, "wsd.ini")
    with open(conf, "w") as f:
        f.write(CONF.replace("log_level = warn", "log_level = info"))
    log = open(os.path.join(d, "wsd.log"), "w+b")
    p = subprocess.Popen([WSD, "-c", conf], stdout=log, stderr=log,
                         stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        log.seek(0)
        m = re.search(rb"listening on 127\.0\.0\.1:(\d+)", log.read())
        if m:
            return p, int(m.group(1))
        time.sleep(0.02)
    p.kill()
    raise SystemExit("wsd did not start")


def metric(port, name, route):
    body = helpers.http_get(port, "/metrics").body.decode()
    m = re.search(r'^%s\{route="%s"\} (\d+)' % (re.escape(name),
                                                   re.escape(route)),
                  body, re.M)
    return int(m.group(1))


def publishes_per_second(port, seconds=3.0, channel="rate"):
    c = http.client.HTTPConnection("127.0.0.1", port)
    n = 0
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        c.request("POST", "/live/" + channel, body=b"x" * 64,
                  headers={"Content-Type": "text/plain"})
        r = c.getresponse()
        r.read()
        assert r.status == 200
        n += 1
    c.close()
    return n / (time.monotonic() - t0)


def main():
    helpers.raise_nofile(20000)
    p, port = start()
    subs = []
    try:
        print("publishes/s over one keep-alive connection (python "
              "http.client, 64 B): %.0f" % publishes_per_second(port))

        # Fan-out: 1000 subscribers on one channel, 1000 on /broadcast.
        subs = helpers.ws_connect_many(port, "/live/fan", 1000)
        msgs = 300
        cpu0 = helpers.proc_cpu_seconds(p.pid)
        d0 = metric(port, "wsd_channel_deliveries_total", "/live/")
        c = http.client.HTTPConnection("127.0.0.1", port)
        for i in range(msgs):
            c.request("POST", "/live/fan", body=b"y" * 64,
                      headers={"Content-Type": "text/plain"})
            c.getresponse().read()
        c.close()
        cpu1 = helpers.proc_cpu_seconds(p.pid)
        d1 = metric(port, "wsd_channel_deliveries_total", "/live/")
        ch_us = (cpu1 - cpu0) / max(1, d1 - d0) * 1e6
        for s in subs:
            s.close()
        subs = helpers.ws_connect_many(port, "/broadcast", 1000)
        time.sleep(0.5)
        cpu0 = helpers.proc_cpu_seconds(p.pid)
        b0 = metric(port, "wsd_hub_delivered_total", "/broadcast")
        time.sleep(3.0)
        cpu1 = helpers.proc_cpu_seconds(p.pid)
        b1 = metric(port, "wsd_hub_delivered_total", "/broadcast")
        bc_us = (cpu1 - cpu0) / max(1, b1 - b0) * 1e6
        for s in subs:
            s.close()
        subs = []
        print("fan-out to 1000 subscribers, wsd CPU per delivery: "
              "channels %.2f us (%d deliveries), broadcast %.2f us "
              "(%d deliveries)" % (ch_us, d1 - d0, bc_us, b1 - b0))

        # Memory: 200 channels of 100 x 1 KiB kept.
        time.sleep(0.5)
        rss0 = helpers.proc_rss_kb(p.pid)
        c = http.client.HTTPConnection("127.0.0.1", port)
        for ch in range(200):
            for i in range(100):
                c.request("POST", "/live/mem%d" % ch, body=b"z" * 1024,
                          headers={"Content-Type": "text/plain"})
                c.getresponse().read()
        c.close()
        rss1 = helpers.proc_rss_kb(p.pid)
        print("memory per channel with history 100 x 1 KiB: %.1f KiB "
              "(RSS growth over 200 channels)" % ((rss1 - rss0) / 200.0))
    finally:
        for s in subs:
            s.close()
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()


if __name__ == "__main__":
    main()
