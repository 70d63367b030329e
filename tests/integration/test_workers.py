"""test_workers.py -- `workers = auto | N` (issue 17): one event loop per
thread, listeners with SO_REUSEPORT, hubs and app state across workers.

The interface these tests hold wsd to:
- [server] workers = auto | 1..64 (default auto: the CPUs of
  sched_getaffinity); 0, 65 or a word are FILE:LINE errors naming
  `workers` (exit 1, with -t too).
- At start wsd logs `workers: N` once, `workers: N (auto)` for auto.
- The metrics route has the gauge wsd_worker_connections{worker="I"}, one
  line per worker (connections open on it); wsd_connections{kind="http"}
  + {kind="websocket"} is their sum.

Which worker a connection lands on is the kernel's choice (SO_REUSEPORT
hashes the 4-tuple): tests open clients until the gauge shows both
workers holding some of them.
"""

import asyncio
import os
import re
import resource
import selectors
import signal
import threading
import time

import pytest
import websockets

import helpers
from helpers import OP_TEXT, Conn, close_frame, expect_close, frame
from test_hub_apps import TS_RX, counter_burst, text, users, value
from test_systemd import activated, listening_socket  # noqa: F401

GAUGE_RX = re.compile(r'(?m)^wsd_worker_connections\{[^}]*worker="(\d+)"'
                      r'[^}]*\} (\d+)$')
CONNS_RX = re.compile(r'(?m)^wsd_connections\{kind="(http|websocket)"\} '
                      r'(\d+)$')
MAX_CLIENTS = 60


def conf(routes, workers=2, **server):
    server["workers"] = str(workers)
    routes = list(routes) + [("/metrics", {"app": "metrics"})]
    return helpers.make_config(routes=routes, server=server)


def worker_gauge(port):
    """Scrapes /metrics: ({worker: open connections}, http + websocket
    from wsd_connections). The scrape's own connection is counted."""
    r = helpers.http_get(port, "/metrics")
    assert r.status == 200, r
    body = r.body.decode()
    workers = {}
    for w, n in GAUGE_RX.findall(body):
        assert int(w) not in workers, "worker %s twice:\n%s" % (w, body)
        workers[int(w)] = int(n)
    assert workers, "no wsd_worker_connections in:\n%s" % body
    total = sum(int(n) for _, n in CONNS_RX.findall(body))
    return workers, total


def spread(port):
    """True when each of two workers holds at least one client besides
    the scrape (two connections each, as the scrape may be on either)."""
    workers, _ = worker_gauge(port)
    assert sorted(workers) == [0, 1], workers
    return min(workers.values()) >= 2


def open_spread(port, path, n, opener=None):
    """Opens n WebSockets on path, then more (up to MAX_CLIENTS) until
    both workers hold some; returns them."""
    opener = opener or (lambda: helpers.ws_connect(port, path))
    clients = [opener() for _ in range(n)]
    try:
        while not spread(port):
            assert len(clients) < MAX_CLIENTS, (
                "%d clients, all on one worker: %r" % (
                    len(clients), worker_gauge(port)[0]))
            clients.append(opener())
    except BaseException:
        for c in clients:
            c.close()
        raise
    return clients


# ------------------------------------------------------------------ config

@pytest.mark.parametrize("setting", ["auto", "1", "2", "64"])
def test_workers_values_accepted(tmp_path, setting):
    p = tmp_path / "w.ini"
    p.write_text(conf([("/echo", {"app": "echo"})], workers=setting))
    rc, out = helpers.run_wsd(["-t", "-c", str(p)])
    assert (rc, out.strip()) == (0, "%s: configuration OK" % p), out


@pytest.mark.parametrize("setting", ["0", "65", "lots"])
def test_workers_bad_values_refused(tmp_path, setting):
    p = tmp_path / "w.ini"
    p.write_text("[server]\nlisten = 127.0.0.1:0\nworkers = %s\n\n"
                 "[route /echo]\napp = echo\n" % setting)
    rx = r"(?m)^%s:3: .*\bworkers\b" % re.escape(str(p))
    for args in (["-t", "-c", str(p)], ["-c", str(p)]):
        rc, out = helpers.run_wsd(args)
        assert rc == 1, out
        assert re.search(rx, out), out
        # A known key with a bad value, not an unknown one.
        assert "unknown key" not in out, out
        assert "listening on" not in out, out


# ------------------------------------------------------------- start, gauge

def test_workers_logged_once(wsd):
    d = wsd(conf([("/echo", {"app": "echo"})], workers=2))
    d.wait_log(r"\bworkers: 2\s*$")
    assert len(re.findall(r"(?m)\bworkers: \d+", d.log_text())) == 1, \
        d.log_text()


def test_workers_auto_is_the_cpu_count(wsd):
    n = min(len(os.sched_getaffinity(0)), 64)
    d = wsd(conf([("/echo", {"app": "echo"})], workers="auto"))
    d.wait_log(r"\bworkers: %d \(auto\)\s*$" % n)
    assert sorted(worker_gauge(d.port)[0]) == list(range(n))


def test_workers_1_is_one_loop(wsd):
    d = wsd(conf([("/echo", {"app": "echo"})], workers=1))
    with helpers.ws_connect(d.port, "/echo"), \
            helpers.ws_connect(d.port, "/echo"):
        workers, total = worker_gauge(d.port)
        # Two WebSockets and the scrape, all on the one worker.
        assert workers == {0: 3}, workers
        assert total == 3


def test_many_clients_land_on_both_workers(wsd):
    """40 python-websockets clients at once: both workers get some, the
    per-worker gauge adds up to wsd_connections, and each is served."""
    d = wsd(conf([("/echo", {"app": "echo"})]))
    url = "ws://127.0.0.1:%d/echo" % d.port

    async def go():
        socks = await asyncio.gather(*[websockets.connect(url)
                                       for _ in range(40)])
        try:
            workers, total = await asyncio.get_running_loop(
            ).run_in_executor(None, worker_gauge, d.port)
            for i, ws in enumerate(socks):
                await ws.send("n%d" % i)
            for i, ws in enumerate(socks):
                assert await asyncio.wait_for(ws.recv(), 10) == "n%d" % i
        finally:
            await asyncio.gather(*[ws.close() for ws in socks])
        return workers, total

    workers, total = asyncio.run(asyncio.wait_for(go(), 60))
    assert sorted(workers) == [0, 1], workers
    # 40 WebSockets and the scrape.
    assert sum(workers.values()) == total == 41, (workers, total)
    assert min(workers.values()) >= 2, workers


# ------------------------------------------------------------------- hubs

def pump_until(streams, want, timeout, on_msg):
    """Reads every stream until want() holds; on_msg(stream, payload) for
    each text message."""
    sel = selectors.DefaultSelector()
    for w in streams:
        sel.register(w, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    try:
        while not want():
            assert time.monotonic() < deadline, "timed out"
            for key, _ in sel.select(0.5):
                w = key.fileobj
                for op, payload in w.pump():
                    assert op == OP_TEXT, (op, payload[:80])
                    on_msg(w, payload.decode())
                assert not w.eof and w.close_frame is None, (
                    "member closed: %r" % w.close_frame)
    finally:
        sel.close()


def test_relay_across_workers_once_in_order(wsd):
    """1000 messages from two senders reach every member on both workers
    exactly once, in order per sender."""
    d = wsd(conf([("/relay", {"app": "relay"})]))
    members = [helpers.ws_stream(c)
               for c in open_spread(d.port, "/relay", 6)]
    per_sender = 500
    got = {w: [] for w in members}
    errors = []

    def send(w, tag):
        # Its own socket object on the same connection: the main thread
        # reads w without blocking meanwhile.
        s = w.sock.dup()
        try:
            s.settimeout(10)
            for i in range(per_sender):
                s.sendall(frame(OP_TEXT, "%s%d" % (tag, i)))
        except Exception as e:       # reported below
            errors.append(e)
        finally:
            s.close()

    senders = [threading.Thread(target=send, args=(members[i], tag))
               for i, tag in ((0, "a"), (len(members) - 1, "b"))]
    try:
        for t in senders:
            t.start()
        total = 2 * per_sender
        pump_until(members, lambda: all(len(v) >= total
                                        for v in got.values()),
                   60, lambda w, m: got[w].append(m))
        for t in senders:
            t.join(10)
        assert not errors, errors
        # Anything more (a duplicate) would be here by now.
        time.sleep(0.3)
        for w in members:
            got[w] += [m.decode() for _, m in w.pump()]
        want_a = ["a%d" % i for i in range(per_sender)]
        want_b = ["b%d" % i for i in range(per_sender)]
        for w in members:
            seq = got[w]
            assert len(seq) == total, len(seq)
            assert [m for m in seq if m[0] == "a"] == want_a
            assert [m for m in seq if m[0] == "b"] == want_b
    finally:
        for w in members:
            w.close()


def test_broadcast_identical_timestamps_across_workers(wsd):
    d = wsd(conf([("/broadcast", {"app": "broadcast",
                                  "interval_min": "50ms",
                                  "interval_max": "50ms"})]))
    members = [helpers.ws_stream(c)
               for c in open_spread(d.port, "/broadcast", 6)]
    got = {w: [] for w in members}

    def on_msg(w, m):
        assert TS_RX.match(m), m
        got[w].append(m)

    def ten_common():
        # Ten ticks after the last member's first one, seen by everyone.
        start = max(v[0] for v in got.values()) if all(got.values()) \
            else None
        return start is not None and all(
            len([t for t in v if t >= start]) >= 10 for v in got.values())

    try:
        pump_until(members, ten_common, 30, on_msg)
        start = max(v[0] for v in got.values())
        seqs = [[t for t in got[w] if t >= start][:10] for w in members]
        # One timer: the same ten timestamps, in order, for every member.
        for s in seqs:
            assert s == seqs[0], seqs
        assert seqs[0] == sorted(set(seqs[0])), seqs[0]
    finally:
        for w in members:
            w.close()


def read_until(c, want, timeout=10):
    """Reads text messages until one equals want; returns those before."""
    seen = []
    deadline = time.monotonic() + timeout
    while True:
        m = text(c, timeout=max(0.1, deadline - time.monotonic()))
        if m == want:
            return seen
        seen.append(m)


def test_counter_across_workers(wsd):
    """10 clients on both workers send 50 plus and 30 minus at once: one
    value, every change to everyone in one order, ending at 200."""
    d = wsd(conf([("/counter", {"app": "counter"})]))

    clients = []

    def join():
        c = helpers.ws_connect(d.port, "/counter")
        clients.append(c)
        n = len(clients)
        # Everyone hears of the newcomer; it also gets the value.
        for other in clients[:-1]:
            read_until(other, users(n))
        first = {text(c), text(c)}
        assert first == {users(n), value(0)}, first
        return c

    try:
        open_spread(d.port, "/counter", 10, opener=join)
        # 50 plus and 30 minus from each of the first ten, at once.
        assert counter_burst(clients, clients[:10], 5, 3) == 200
        # A newcomer and its leaving are counted on every worker.
        n = len(clients)
        with helpers.ws_connect(d.port, "/counter") as late:
            assert {text(late), text(late)} == {
                users(n + 1), value(200)}
            for c in clients:
                read_until(c, users(n + 1))
            late.send(close_frame(1000))
            expect_close(late, 1000)
        for c in clients:
            read_until(c, users(n))
    finally:
        for c in clients:
            c.close()


# --------------------------------------------------------- reload, SIGTERM

def test_reload_and_sigterm_across_workers(wsd):
    routes = [("/echo", {"app": "echo"})]
    d = wsd(conf(routes))
    path = d.argv[d.argv.index("-c") + 1]
    clients = open_spread(d.port, "/echo", 10)
    extra = []
    try:
        mark = d.log_mark()
        helpers.write_config(path, conf(routes + [("/new",
                                                   {"app": "echo"})]))
        d.kill(signal.SIGHUP)
        d.wait_log(r"SIGHUP: configuration reloaded", start=mark)
        # The new route on every worker: enough new clients to reach
        # both, each served.
        extra = open_spread(d.port, "/new", 6)
        for i, c in enumerate(extra):
            c.send(frame(OP_TEXT, "new %d" % i))
            assert text(c) == "new %d" % i
        # The old connections carry on.
        for i, c in enumerate(clients):
            c.send(frame(OP_TEXT, "still %d" % i))
            assert text(c) == "still %d" % i
        mark = d.log_mark()
        d.kill(signal.SIGTERM)
        for c in clients + extra:
            expect_close(c, 1001, timeout=10)
            try:
                c.send(close_frame(1001))
            except OSError:
                pass        # close_timeout (1s) may have passed already
        d.proc.wait(15)
        assert d.proc.returncode == 0, d.log_tail()
    finally:
        for c in clients + extra:
            c.close()


def test_socket_activation_shared_by_workers(activated):  # noqa: F811
    """A socket systemd passes is served by both workers (no SO_REUSEPORT
    copies of it): READY=1 once, then connections on it are served and
    counted per worker, and SIGTERM stops the daemon cleanly."""
    s = listening_socket()
    port = s.getsockname()[1]
    try:
        a = activated(conf([("/echo", {"app": "echo"})],
                           listen="127.0.0.1:%d" % port), [s])
        a.wait_log(r"\bworkers: 2\s*$")
        a.wait_log(r"listening on 127\.0\.0\.1:%d \(socket activation\)"
                   % port)
        s.close()
        clients = [helpers.ws_connect(port, "/echo") for _ in range(20)]
        try:
            for i, c in enumerate(clients):
                c.send(frame(OP_TEXT, "sa %d" % i))
                assert text(c) == "sa %d" % i
            workers, total = worker_gauge(port)
            assert sorted(workers) == [0, 1], workers
            assert sum(workers.values()) == total == 21, (workers, total)
        finally:
            for c in clients:
                c.close()
        assert a.stop() == 0, a.log_text()
        m = helpers.SANITIZER_RX.search(a.log_text())
        assert not m, m.group(0)
    finally:
        s.close()


# ------------------------------------------------------------------ limits

def upgrade_status(port, path="/echo"):
    key = helpers.ws_key()
    with Conn(port) as c:
        c.send(helpers.upgrade_request(path, key))
        return helpers.read_response(c, head_request=True).status


def test_max_connections_holds_across_workers(wsd):
    """max_connections counts the daemon's connections, not a worker's:
    ten open on two workers (as the kernel spreads them), the eleventh
    is refused on either."""
    d = wsd(conf([("/echo", {"app": "echo"})], max_connections="10"))
    clients = [helpers.ws_connect(d.port, "/echo") for _ in range(10)]
    try:
        # Full: the eleventh is refused, whichever worker takes it.
        for _ in range(8):
            assert upgrade_status(d.port) == 503
        for c in clients:
            c.send(frame(OP_TEXT, "served"))
            assert text(c) == "served"
        # A freed slot is free for either worker.
        clients.pop().close()
        deadline = time.monotonic() + 5
        while upgrade_status(d.port) != 101:
            assert time.monotonic() < deadline, "slot not freed"
            time.sleep(0.05)
    finally:
        for c in clients:
            c.close()


# ------------------------------------------------------------- file limit

def test_open_files_soft_limit_raised_to_hard(wsd):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 256:
        pytest.skip("hard RLIMIT_NOFILE %d" % hard)
    want = 256 if hard == resource.RLIM_INFINITY else min(hard, 4096)

    def limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, want))

    d = wsd(helpers.make_config(routes=[("/echo", {"app": "echo"})]),
            preexec_fn=limit)
    d.wait_log(r"open files limit: %d\s*$" % want)


def test_service_sets_limit_nofile():
    """The unit raises the file limit: a socket per connection, twice the
    default max_connections at least."""
    unit = (helpers.SRCDIR / "systemd" / "wsd.service").read_text()
    m = re.search(r"(?m)^LimitNOFILE=(\d+)$", unit)
    assert m, "no LimitNOFILE= in wsd.service"
    rc, out = helpers.run_wsd(["-T", "-c", "/dev/null"])
    mc = re.search(r"(?m)^max_connections = (\d+)", out)
    assert rc == 0 and mc, out
    assert int(m.group(1)) >= 2 * int(mc.group(1)), (m.group(0), mc.group(0))
