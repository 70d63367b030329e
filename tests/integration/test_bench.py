"""test_bench.py -- issue 13 item 7: wsd-bench, the load generator, smoke
tested against a real wsd (a test, not a timing: each mode runs for about
a second and must count work without errors; no number is compared with a
speed).

The binary is WSD_BENCH if set, else wsd-bench next to WSD (the build
directory builds both).
"""

import json
import os
import pty
import re
import resource
import select
import socket
import subprocess

import pytest

import helpers

BENCH = os.environ.get("WSD_BENCH") or os.path.join(
    os.path.dirname(helpers.WSD), "wsd-bench")
# A run: connect + ramp + window + teardown; far below this.
RUN_TIMEOUT = 60

KEYS = {"mode": str, "url": str, "connections": int, "duration_s": float,
        "units": int, "units_per_s": (float, type(None)),
        "latency_us": dict, "server": dict, "ticks": dict,
        "losses": (int, type(None)), "errors": int}


def bench_config(tmp_path, tls=False):
    """echo, hello, a 50 ms broadcast, counter, relay and metrics; with
    tls a TLS listener and a self-signed certificate as well."""
    text = helpers.make_config(server={"max_connections": "2000"}, routes=[
        ("/echo", {"app": "echo"}),
        ("/hello", {"app": "hello"}),
        ("/broadcast", {"app": "broadcast", "interval_min": "50ms",
                        "interval_max": "50ms"}),
        ("/counter", {"app": "counter"}),
        ("/relay", {"app": "relay"}),
        ("/metrics", {"app": "metrics"}),
    ])
    if tls:
        cert, key = helpers.selfsigned_cert(tmp_path)
        text = text.replace("listen = 127.0.0.1:0\n",
                            "listen = 127.0.0.1:0\n"
                            "listen = 127.0.0.1:0 tls\n")
        text += "\n[tls]\ncertificate = %s\nprivate_key = %s\n" % (cert,
                                                                     key)
    return text


def run_bench(args, timeout=RUN_TIMEOUT, preexec_fn=None):
    """Runs wsd-bench to completion; returns (rc, stdout, stderr)."""
    if not os.access(BENCH, os.X_OK):
        pytest.fail("wsd-bench %s not found (build it, or set WSD_BENCH)"
                    % BENCH)
    p = subprocess.run([BENCH] + [str(a) for a in args],
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout,
                       preexec_fn=preexec_fn)
    out = p.stdout.decode("utf-8", "replace")
    err = p.stderr.decode("utf-8", "replace")
    m = helpers.SANITIZER_RX.search(out + err)
    assert not m, "sanitizer report from wsd-bench: %s\n%s" % (m.group(0),
                                                              err[-4000:])
    return p.returncode, out, err


def run_json(d, mode, path, *args, port=None, scheme="ws"):
    """Runs one mode for about a second with --json --server-pid; checks
    what every run must have and returns the object."""
    url = "%s://127.0.0.1:%d%s" % (scheme, port or d.port, path)
    rc, out, err = run_bench([mode, "-c", "5", "-d", "1", "--ramp", "0.2",
                              "--json", "--server-pid", d.pid] +
                             list(args) + [url])
    assert rc == 0, "wsd-bench %s exited %d: %s%s" % (mode, rc, out, err)
    r = json.loads(out)
    for k, t in KEYS.items():
        assert k in r, "no %r in %r" % (k, r)
        assert isinstance(r[k], t), "%s: %r" % (k, r[k])
    assert r["mode"] == mode and r["url"] == url
    assert r["connections"] == 5
    assert 0.9 <= r["duration_s"] <= 5
    assert r["units"] > 0, r
    assert r["errors"] == 0, (r, err)
    lat = r["latency_us"]
    assert set(lat) == {"p50", "p99", "p999", "max"}
    assert all(isinstance(v, int) for v in lat.values()), lat
    assert 0 <= lat["p50"] <= lat["p99"] <= lat["p999"] <= lat["max"], lat
    srv = r["server"]
    assert set(srv) == {"pid", "cpu_s", "cpu_us_per_unit", "rss_start_kib",
                        "rss_end_kib", "rss_per_conn_kib"}
    assert srv["pid"] == d.pid
    assert isinstance(srv["cpu_s"], float) and srv["cpu_s"] >= 0, srv
    assert srv["rss_start_kib"] > 0 and srv["rss_end_kib"] > 0, srv
    assert set(r["ticks"]) == {"received", "implied", "ratio"}
    assert d.alive()
    return r


@pytest.fixture
def bench_wsd(wsd, tmp_path):
    return wsd(bench_config(tmp_path))


def test_bench_echo(bench_wsd):
    r = run_json(bench_wsd, "echo", "/echo", "-s", "100", "-p", "2")
    assert r["units_per_s"] > 0
    assert r["server"]["cpu_us_per_unit"] >= 0
    assert r["server"]["rss_per_conn_kib"] is None
    assert r["losses"] is None and r["ticks"]["ratio"] is None
    # Every round trip was a verified echo of 100 bytes in both directions.
    log = bench_wsd.log_text()
    assert re.search(r"ws /echo .*close=1000 in=\d+ out=\d+", log), log[-2000:]


def test_bench_echo_wss(wsd, tmp_path):
    d = wsd(bench_config(tmp_path, tls=True))
    tls = [p for p, is_tls in d.ports if is_tls]
    assert tls, d.ports
    run_json(d, "echo", "/echo", port=tls[0], scheme="wss")
    r = helpers.http_get(d.port, "/metrics")
    m = re.search(r'^wsd_connections_total\{kind="tls"\} (\d+)$',
                  r.body.decode(), re.M)
    assert m and int(m.group(1)) >= 5, r.body[-2000:]


def test_bench_echo_deflate(bench_wsd):
    run_json(bench_wsd, "echo", "/echo", "--deflate")
    r = helpers.http_get(bench_wsd.port, "/metrics")
    m = re.search(r"^wsd_websocket_compressed_total (\d+)$", r.body.decode(),
                  re.M)
    assert m and int(m.group(1)) >= 5, r.body[-2000:]


def test_bench_connect(bench_wsd):
    r = run_json(bench_wsd, "connect", "/hello")
    assert r["server"]["cpu_us_per_unit"] > 0


def test_bench_connect_hello(bench_wsd):
    run_json(bench_wsd, "connect", "/hello", "--hello")
    # The hello app greeted the workers by the names they sent.
    assert re.search(r"ws /hello .*close=1000", bench_wsd.log_text())


def test_bench_broadcast(bench_wsd):
    r = run_json(bench_wsd, "broadcast", "/broadcast", "--period", "50")
    t = r["ticks"]
    assert isinstance(t["received"], int) and isinstance(t["implied"], int)
    # A tick at each end of the window: one more than it implies, at most.
    assert 0 < t["ratio"] and t["received"] <= t["implied"] + 1, t
    assert r["losses"] == 0
    # Every subscriber had every tick: deliveries = subscribers x ticks.
    assert r["units"] == 5 * t["received"], r


def test_bench_relay(bench_wsd):
    r = run_json(bench_wsd, "broadcast", "/relay", "-r", "100")
    t = r["ticks"]
    assert t["implied"] > 50, t
    assert 0 < t["ratio"] <= 1.05, t
    # Every subscriber had every message published in the window.
    assert r["losses"] == 0
    assert r["units"] == 5 * t["implied"], r


def test_bench_relay_publish_port(wsd, tmp_path):
    """--publish-port: the publisher talks to another listener (in a
    cluster, another node) and the subscribers still get every message;
    a publisher that cannot connect is an error, not a quiet zero."""
    d = wsd(bench_config(tmp_path).replace(
        "listen = 127.0.0.1:0\n",
        "listen = 127.0.0.1:0\nlisten = 127.0.0.1:0\n"))
    other = d.ports[1][0]
    assert other != d.port
    r = run_json(d, "broadcast", "/relay", "-r", "100", "--publish-port",
                 other)
    assert r["losses"] == 0 and r["units"] == 5 * r["ticks"]["implied"], r
    rc, out, err = run_bench(["broadcast", "-c", "2", "-d", "0.5", "--ramp",
                              "0", "-r", "50", "--publish-port", 1,
                              "--json", "ws://127.0.0.1:%d/relay" % d.port])
    r = json.loads(out)
    assert rc == 1 and r["units"] == 0 and r["errors"] >= 1, (rc, out, err)


def test_bench_counter(bench_wsd):
    r = run_json(bench_wsd, "counter", "/counter", "-r", "50")
    # 50 pluses a second, each a value event to each of 5 clients (the
    # route may coalesce events, never invent them).
    assert r["units"] <= 5 * 60, r


def test_bench_idle(bench_wsd):
    r = run_json(bench_wsd, "idle", "/echo")
    assert r["units"] == 5
    assert r["units_per_s"] is None
    assert isinstance(r["server"]["rss_per_conn_kib"], float)


def test_bench_idle_deflate(bench_wsd):
    r = run_json(bench_wsd, "idle", "/echo", "--deflate")
    assert r["units"] == 5


def test_bench_human_report(bench_wsd):
    rc, out, err = run_bench(["echo", "-c", "2", "-d", "0.3", "--ramp", "0",
                              "http://127.0.0.1:%d/echo" % bench_wsd.port])
    assert rc == 2 and "ws:// or wss://" in err
    rc, out, err = run_bench(["echo", "-c", "2", "-d", "0.3", "--ramp", "0",
                              "--server-pid", bench_wsd.pid,
                              "ws://127.0.0.1:%d/echo" % bench_wsd.port])
    assert rc == 0, out + err
    assert re.search(r"^  units +\d+ \(", out, re.M), out
    assert re.search(r"^  server +pid %d: cpu " % bench_wsd.pid, out,
                     re.M), out
    assert re.search(r"^  errors +0$", out, re.M), out
    # Not a terminal: no progress line.
    assert err == ""


@pytest.mark.parametrize("args, why", [
    ([], "a mode and a URL are needed"),
    (["echo"], "a mode and a URL are needed"),
    (["fly", "ws://127.0.0.1:1/"], "unknown mode"),
    (["echo", "-c", "0", "ws://127.0.0.1:1/"], "-c: bad value"),
    (["echo", "-d", "x", "ws://127.0.0.1:1/"], "-d: bad value"),
    (["echo", "--bogus", "ws://127.0.0.1:1/"], "usage:"),
    (["counter", "-s", "10", "ws://127.0.0.1:1/"], "-s and -p are for echo"),
    (["idle", "ws://127.0.0.1:1/"], "idle needs --server-pid"),
    (["echo", "ws://127.0.0.1:99999/"], "bad port"),
    (["echo", "--publish-port", "5", "ws://127.0.0.1:1/"],
     "--publish-port is for broadcast with -r"),
    (["broadcast", "--publish-port", "0", "-r", "1", "ws://127.0.0.1:1/"],
     "--publish-port: bad value"),
    (["echo", "--source", "nowhere", "ws://127.0.0.1:1/"], "bad address"),
])
def test_bench_usage(args, why):
    rc, out, err = run_bench(args, timeout=10)
    assert rc == 2, (rc, out, err)
    assert why in err, err
    assert out == ""


def test_bench_file_limit(bench_wsd):
    """-c past RLIMIT_NOFILE: exit 2 with a line naming the limit, before
    a single connection is opened."""
    def tiny():
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
    mark = bench_wsd.log_mark()
    rc, out, err = run_bench(["echo", "-c", "500", "-d", "1",
                              "ws://127.0.0.1:%d/echo" % bench_wsd.port],
                             timeout=10, preexec_fn=tiny)
    assert rc == 2, (rc, out, err)
    assert re.search(r"500 connections need \d+ open files, over the limit "
                     r"of 64 \(RLIMIT_NOFILE", err), err
    assert "ws /echo" not in bench_wsd.log_text()[mark:]


def test_bench_refused():
    """Nothing listening: exit 1 with the error counted, and no hang."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    rc, out, err = run_bench(["echo", "-c", "3", "-d", "0.5", "--ramp", "0",
                              "--json", "ws://127.0.0.1:%d/echo" % port],
                             timeout=30)
    assert rc == 1, (rc, out, err)
    r = json.loads(out)
    assert r["units"] == 0 and r["errors"] == 3, r
    assert "connection refused" in err


def test_bench_source_address(bench_wsd):
    """--source binds every connection to a local address (127.0.0.1
    only here: tests stay on 127.0.0.1)."""
    r = run_json(bench_wsd, "echo", "/echo", "--source", "127.0.0.1")
    assert r["units"] > 0


def test_bench_cafile_verifies(wsd, tmp_path):
    """--cafile turns verification on: the self-signed certificate names
    localhost, not 127.0.0.1, so every handshake fails: exit 1."""
    d = wsd(bench_config(tmp_path, tls=True))
    tls = [p for p, is_tls in d.ports if is_tls][0]
    rc, out, err = run_bench(["echo", "-c", "2", "-d", "0.3", "--ramp", "0",
                              "--json", "--cafile", tmp_path / "cert.pem",
                              "wss://127.0.0.1:%d/echo" % tls], timeout=30)
    assert rc == 1, (rc, out, err)
    r = json.loads(out)
    assert r["units"] == 0 and r["errors"] == 2, r
    assert "TLS handshake failed" in err


def test_bench_progress_on_a_terminal(bench_wsd):
    """With stderr a terminal, a progress line is drawn there and erased;
    stdout still has the whole report."""
    master, slave = pty.openpty()
    try:
        p = subprocess.run([BENCH, "echo", "-c", "2", "-d", "1.2", "--ramp",
                            "0", "ws://127.0.0.1:%d/echo" % bench_wsd.port],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=slave, timeout=RUN_TIMEOUT)
        os.close(slave)
        slave = None
        err = b""
        while select.select([master], [], [], 0.2)[0]:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            err += chunk
    finally:
        if slave is not None:
            os.close(slave)
        os.close(master)
    assert p.returncode == 0, (p.stdout, err)
    assert re.search(rb"\r(window|ramp) +up 2/2  units \d+  errors 0", err), \
        err
    assert err.endswith(b"\r\x1b[K"), err
    assert b"errors        0" in p.stdout


def test_bench_help():
    rc, out, err = run_bench(["--help"], timeout=10)
    assert rc == 0 and out.startswith("usage: wsd-bench "), (rc, out, err)
