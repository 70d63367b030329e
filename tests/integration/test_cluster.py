"""test_cluster.py -- [cluster]: several wsd nodes share hubs, the counter,
the broadcast tick and channels through a real redis-server (started here
on a free loopback port without persistence, stopped by pid), and survive
a Redis that goes away, stalls or answers garbage."""

import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time

import pytest

import helpers
from conftest import LISTEN_RX, Daemon, START_TIMEOUT
from helpers import OP_TEXT, frame, read_message
from test_channels import publish

REDIS = shutil.which("redis-server") or "/usr/bin/redis-server"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def resp(*args):
    """One RESP command."""
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def resp_read(f):
    """One RESP reply from a file object."""
    line = f.readline()
    if not line:
        raise EOFError
    t, rest = line[:1], line[1:-2]
    if t in (b"+", b"-"):
        return rest.decode()
    if t == b":":
        return int(rest)
    if t == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)[:-2]
        return data.decode("utf-8", "replace")
    if t == b"*":
        return [resp_read(f) for _ in range(int(rest))]
    raise AssertionError("bad RESP line %r" % line)


class Redis:
    """A redis-server of our own; restartable on the same port."""

    def __init__(self, tmp_path, *extra):
        self.port = free_port()
        self.dir = tmp_path
        self.proc = None
        self.logs = []
        self.extra = list(extra)
        self.auth = []
        self.tls = None         # an ssl.SSLContext for a TLS-only Redis

    def start(self):
        log = open(self.dir / ("redis-%d.log" % len(self.logs)), "wb")
        self.logs.append(log)
        port = ["--port", str(self.port)] if self.tls is None else [
            "--port", "0", "--tls-port", str(self.port)]
        self.proc = subprocess.Popen(
            [REDIS] + port + ["--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", str(self.dir)] +
            self.extra,
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while True:
            try:
                if self.cmd("PING") == "PONG":
                    return self
            except OSError:
                pass
            assert self.proc.poll() is None, "redis-server exited"
            assert time.monotonic() < deadline, "redis-server not up"
            time.sleep(0.05)

    def stop(self, sig=signal.SIGKILL):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(10)
        self.proc = None

    def cmd(self, *args):
        with socket.create_connection(("127.0.0.1", self.port), 2) as s:
            if self.tls is not None:
                s = self.tls.wrap_socket(s, server_hostname="127.0.0.1")
            f = s.makefile("rb")
            if self.auth:
                s.sendall(resp(*self.auth))
                assert resp_read(f) == "OK"
            s.sendall(resp(*args))
            return resp_read(f)


@pytest.fixture
def redis_factory(tmp_path):
    """Starts redis-servers with extra arguments; stops them all."""
    if not os.access(REDIS, os.X_OK):
        pytest.fail("redis-server not found: tests/lib/deps.sh installs "
                    "Debian's redis-server")
    started = []

    def start(*extra, password=None, tls=None):
        r = Redis(tmp_path, *extra)
        if tls is not None:
            cert, key = tls
            r.extra += ["--tls-cert-file", str(cert), "--tls-key-file",
                        str(key), "--tls-ca-cert-file", str(cert),
                        "--tls-auth-clients", "no"]
            r.tls = ssl.create_default_context(cafile=str(cert))
        if password is not None:
            r.extra += ["--requirepass", password]
            r.auth = ["AUTH", password]
        started.append(r)
        return r.start()
    yield start
    for r in started:
        r.stop()
        for f in r.logs:
            f.close()


@pytest.fixture
def redis(redis_factory):
    return redis_factory()


def node_config(redis_port, name, routes=None, workers=None, **cluster):
    """A node: relay, counter, broadcast, channels and metrics routes."""
    if routes is None:
        routes = [
            ("/relay", {"app": "relay"}),
            ("/counter", {"app": "counter"}),
            ("/broadcast", {"app": "broadcast", "interval_min": "200ms",
                            "interval_max": "300ms"}),
            ("/live/", {"app": "channels", "history": "100"}),
            ("/metrics", {"app": "metrics"}),
        ]
    # The matrix's workers (1, then 2): the Killable nodes get them too.
    text = helpers.make_config(routes=routes, server={
        "workers": workers or helpers.TEST_WORKERS or "auto"})
    keys = {"redis": "127.0.0.1:%d" % redis_port, "node_name": name,
            "redis_timeout": "1s"}
    keys.update(cluster)
    text += "\n[cluster]\n" + "".join(
        "%s = %s\n" % (k, v) for k, v in keys.items())
    return text


def start_nodes(wsd, redis, n, routes=None, workers=None, **cluster):
    nodes = [wsd(node_config(redis.port, "n%d" % i, routes, workers,
                             **cluster)) for i in range(n)]
    for d in nodes:
        d.wait_log(r"cluster: redis \S+: connected", timeout=10)
    return nodes


class Killable:
    """A node the test SIGKILLs: started outside the fixture, which
    would count the signal as a crash."""

    def __init__(self, tmp_path, config_text, name):
        conf = tmp_path / ("%s.ini" % name)
        conf.write_text(config_text)
        self.d = Daemon([helpers.WSD, "-c", str(conf)],
                        tmp_path / ("%s.log" % name))
        m = self.d.wait_log(LISTEN_RX.pattern, timeout=START_TIMEOUT)
        self.d.port = int(m.group(1))

    def kill(self):
        self.d.stop(signal.SIGKILL)


@pytest.fixture
def killable(tmp_path):
    started = []

    def start(config_text, name):
        k = Killable(tmp_path, config_text, name)
        started.append(k)
        return k
    yield start
    for k in started:
        k.kill()


def text(c, timeout=5):
    op, payload, _ = read_message(c, timeout)
    assert op == OP_TEXT, (op, payload)
    return payload.decode()


def drain(c, wait=0.3):
    """Every message that arrives until wait seconds pass without one."""
    out = []
    while True:
        try:
            out.append(text(c, wait))
        except TimeoutError:
            return out


def metric(port, name):
    r = helpers.http_get(port, "/metrics")
    assert r.status == 200, r
    m = re.search(r"(?m)^%s (\S+)$" % re.escape(name), r.body.decode())
    return float(m.group(1)) if m else None


def wait_until(fn, timeout, what):
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        assert time.monotonic() < deadline, "%s: not within %.0fs" % (
            what, timeout)
        time.sleep(0.05)


# ----------------------------------------------------------------- config

def test_config_prints_cluster_section(tmp_path):
    conf = tmp_path / "c.ini"
    conf.write_text(node_config(6379, "a", routes=[("/r", {"app": "relay"})],
                                users_ttl="2s"))
    rc, out = helpers.run_wsd(["-c", str(conf), "-T"])
    assert rc == 0, out
    sect = out.split("[cluster]\n", 1)[1].split("\n\n", 1)[0] + "\n"
    assert "redis = 127.0.0.1:6379\n" in sect
    assert "prefix = wsd:\n" in sect
    assert "node_name = a\n" in sect
    assert "users_ttl = 2s\n" in sect
    assert "lease = 3s\n" in sect
    # Without the section, nothing of it.
    conf.write_text(helpers.make_config(routes=[("/r", {"app": "relay"})]))
    rc, out = helpers.run_wsd(["-c", str(conf), "-T"])
    assert rc == 0 and "[cluster]" not in out


@pytest.mark.parametrize("body,msg", [
    ("node_name = x\n", r"\[cluster\] without redis"),
    ("redis = localhost\n", r"redis: expected HOST:PORT"),
    ("redis = 127.0.0.1:0\n", r"redis: port must be 1 to 65535"),
    ("redis = unix:relative\n", r"unix: needs an absolute path"),
    ("redis = 127.0.0.1:1\nredis_db = x\n", r"redis_db"),
    ("redis = 127.0.0.1:1\nprefx = a\n",
     r'unknown key "prefx" in \[cluster\] \(did you mean "prefix"\?\)'),
    ("redis = unix:/x\nredis_tls = on\n", r"redis_tls: not over a unix"),
    ("redis = 127.0.0.1:1\nredis_ca_file = /etc/hostname\n",
     r"redis_ca_file without redis_tls = on"),
    ("redis = 127.0.0.1:1\nredis_user = u\n",
     r"redis_user without redis_password_file"),
    ("redis = 127.0.0.1:1\nredis_password_file = /etc/hostname\n"
     "redis_user = a b\n", r'redis_user: "a b": one word expected'),
    ("redis = 127.0.0.1:1\nredis_password_file = /nonexistent/pw\n",
     r"redis_password_file \"/nonexistent/pw\": No such file"),
])
def test_config_errors(tmp_path, body, msg):
    conf = tmp_path / "c.ini"
    conf.write_text(helpers.make_config(routes=[("/r", {"app": "relay"})]) +
                    "\n[cluster]\n" + body)
    rc, out = helpers.run_wsd(["-c", str(conf), "-t"])
    assert rc != 0
    assert re.search(msg, out), out


def worker_conns(d):
    """Open connections per worker, from the gauge."""
    m = helpers.http_get(d.port, "/metrics").body.decode()
    return {int(w): int(n) for w, n in re.findall(
        r'wsd_worker_connections\{worker="(\d+)"\} (\d+)', m)}


def spread(d, path, least=2, most=40, opener=None):
    """WebSockets to d's path (or what opener() opens) until both
    workers hold one (2 in the gauge: one may be the scrape) and there
    are least of them."""
    conns = []
    while len(conns) < most:
        conns.append(opener() if opener else
                     helpers.ws_connect(d.port, path))
        got = worker_conns(d)
        if len(conns) >= least and len(got) == 2 and \
                min(got.values()) >= 2:
            return conns
    raise AssertionError("%d connections all on one worker: %r" % (
        len(conns), worker_conns(d)))


def test_two_workers_per_node(wsd, redis):
    """Nodes of two workers each: worker 0 holds the link and the others
    hand it their publishes and counter changes, so relay messages from
    any worker reach every member on every node once, in each sender's
    order; the counter ends exact with users = every connection; a POST
    taken by any worker reaches the channel's subscribers on both of the
    other node's workers; the scrape of either worker says the same."""
    a, b = start_nodes(wsd, redis, 2, workers="2", routes=[
        ("/relay", {"app": "relay"}), ("/counter", {"app": "counter"}),
        ("/live/", {"app": "channels", "history": "100"}),
        ("/metrics", {"app": "metrics"})])
    for d in (a, b):
        d.wait_log(r"info: workers: 2\n")
    # relay: senders on both workers of both nodes
    on_a = spread(a, "/relay")
    on_b = spread(b, "/relay")
    clients = on_a + on_b
    time.sleep(0.2)
    n = 20
    want = relay_rounds(clients, clients, n)
    for c in clients:
        c.close()
    # Every publish went to Redis once: the scrape of any worker shows
    # the node's totals.
    # (Received counts the counter's events too.)
    for d, mine in ((a, len(on_a) * n), (b, len(on_b) * n)):
        seen = set()
        for _ in range(4):
            assert metric(d.port, "wsd_cluster_published_total") == mine
            seen.add(metric(d.port, "wsd_cluster_received_total"))
        assert len(seen) == 1 and seen.pop() >= want
    # counter: presses from both workers of both nodes, exact in Redis
    counters = spread(a, "/counter") + spread(b, "/counter")
    press_all(counters, redis, 10)
    counters.pop().close()
    for c in counters:
        last_of(c, "users", len(counters))
    # channels: subscribers on both workers of b, POSTs on either of a's
    subs = spread(b, "/live/news")
    time.sleep(0.2)
    for i in range(8):
        publish(a.port, "/live/news", ("p%d" % i).encode())
    for c in subs:
        assert [text(c) for _ in range(8)] == ["p%d" % i for i in range(8)]
        assert drain(c) == []


def test_reload_keeps_cluster_settings(wsd, redis, tmp_path):
    """[cluster] is read at start-up: a SIGHUP that changes it says a
    restart is needed, and the link stays up."""
    routes = [("/relay", {"app": "relay"}), ("/metrics", {"app": "metrics"})]
    conf = tmp_path / "node.ini"
    conf.write_text(node_config(redis.port, "r", routes))
    d = wsd(None, args=["-c", str(conf)], use_config=False)
    d.wait_log(r"cluster: redis \S+: connected", timeout=10)
    conf.write_text(node_config(redis.port, "r", routes, prefix="other:"))
    mark = d.log_mark()
    d.kill(signal.SIGHUP)
    d.wait_log(r"warn: SIGHUP: \[cluster\]: a change needs a restart",
               start=mark)
    assert metric(d.port, "wsd_cluster_up") == 1
    assert redis.cmd("PUBSUB", "NUMPAT") == 1


# ------------------------------------------------------------------ relay

def relay_rounds(clients, senders, n):
    """Each sender sends n messages; every client gets every message
    once, each sender's in order. Returns how many each got."""
    for i in range(n):
        for s, c in enumerate(senders):
            c.send(frame(OP_TEXT, "s%d-%d" % (s, i)))
    want = len(senders) * n
    for c in clients:
        got = [text(c) for _ in range(want)]
        for s in range(len(senders)):
            mine = [m for m in got if m.startswith("s%d-" % s)]
            assert mine == ["s%d-%d" % (s, i) for i in range(n)], mine
        assert drain(c) == []
    return want


def test_relay_across_nodes_once_in_order(wsd, redis):
    """Every message reaches every member on every node exactly once, in
    each sender's order."""
    nodes = start_nodes(wsd, redis, 3, routes=[
        ("/relay", {"app": "relay"}), ("/metrics", {"app": "metrics"})])
    clients = [helpers.ws_connect(d.port, "/relay") for d in nodes
               for _ in range(2)]
    n = 30
    relay_rounds(clients, clients[::2], n)       # a sender per node
    # Each node published its own once and heard every one back.
    for d in nodes:
        assert metric(d.port, "wsd_cluster_published_total") == n
        assert metric(d.port, "wsd_cluster_received_total") == 3 * n
        assert metric(d.port, "wsd_cluster_up") == 1


@pytest.mark.parametrize("history", ["0", "100"])
def test_channel_publish_reaches_other_nodes(wsd, redis, history):
    """A POST on node A reaches the channel's WebSocket subscribers on B
    and its SSE subscribers on C, whether A keeps history (so has the
    channel) or has never heard of it."""
    from test_channels_sse import SSE
    routes = [("/live/", {"app": "channels", "history": history})]
    a, b, c = start_nodes(wsd, redis, 3, routes=routes)
    sb = helpers.ws_connect(b.port, "/live/news")
    sc = SSE(c.port, "/live/news")
    assert sc.resp.status == 200
    time.sleep(0.2)
    r = publish(a.port, "/live/news", b"hello")
    # The publish reply counts the subscribers of every node.
    assert r["subscribers"] == 2
    assert text(sb) == "hello"
    ev = sc.message()
    assert ev["data"] == ["hello"] and len(ev["id"]) == 1
    sc.close()


def test_channel_resume_on_another_node(wsd, redis):
    """Ids are the publisher's on every node: a subscriber resumes with
    ?since= (WebSocket) or Last-Event-ID (SSE) on another node than the
    one it read from, and GET on a channel names the same last id."""
    from test_channels_sse import SSE
    routes = [("/live/", {"app": "channels", "history": "100"})]
    a, b, c = start_nodes(wsd, redis, 3, routes=routes)
    ids = []
    for i in range(4):
        ids.append(publish(a.port, "/live/feed", ("m%d" % i).encode())["id"])
    # B and C heard them, though nobody there listens.
    for d in (b, c):
        wait_until(lambda: json.loads(helpers.http_get(
            d.port, "/live/feed", headers={"Accept": "application/json"}
        ).body).get("last_id") == ids[-1], 5, "last_id on another node")
    ws = helpers.ws_connect(b.port, "/live/feed?since=" + ids[1])
    assert [text(ws) for _ in range(2)] == ["m2", "m3"]
    assert drain(ws, 0.3) == []
    sse = SSE(c.port, "/live/feed", headers={"Last-Event-ID": ids[0]})
    got = [sse.message() for _ in range(3)]
    assert [e["data"] for e in got] == [["m1"], ["m2"], ["m3"]]
    assert [e["id"] for e in got] == [[i] for i in ids[1:]]
    sse.close()
    # And live on, B's publish reaches a resumed subscriber on C with
    # B's id, which A can resume from.
    bid = publish(b.port, "/live/feed", b"m4")["id"]
    assert text(ws) == "m4"
    wait_until(lambda: json.loads(helpers.http_get(
        a.port, "/live/feed", headers={"Accept": "application/json"}
    ).body).get("last_id") == bid, 5, "B's id on A")
    wa = helpers.ws_connect(a.port, "/live/feed?since=" + ids[3])
    assert text(wa) == "m4"


def relay_works_across(a, b):
    """A message sent on a's /relay reaches b's."""
    ca = helpers.ws_connect(a.port, "/relay")
    cb = helpers.ws_connect(b.port, "/relay")
    time.sleep(0.1)
    ca.send(frame(OP_TEXT, "across"))
    assert text(cb) == "across"


def test_foreign_messages_on_cluster_channels(wsd, redis):
    """What another publisher puts on wsd's channels (not an envelope, a
    truncated one, a counter number that is not one) is counted and
    dropped; members get nothing of it and the node carries on."""
    routes = [("/relay", {"app": "relay"}), ("/counter", {"app": "counter"}),
              ("/metrics", {"app": "metrics"})]
    a, b = start_nodes(wsd, redis, 2, routes=routes)
    c = helpers.ws_connect(a.port, "/relay")
    k = helpers.ws_connect(a.port, "/counter")
    last_of(k, "users", 1)
    time.sleep(0.2)
    for payload in (b"garbage", b"W1M\x01n\x01", b"W1V\x01n12x",
                    b"W1Q\x01nabc"):
        assert redis.cmd("PUBLISH", "wsd:hub:/relay", payload) == 2
        assert redis.cmd("PUBLISH", "wsd:hub:/counter", payload) == 2
    wait_until(lambda: metric(a.port, "wsd_cluster_malformed_total") == 8,
               5, "malformed counted")
    assert drain(c, 0.3) == []
    assert [json.loads(m)["type"] for m in drain(k, 0.3)] == []
    relay_works_across(b, a)


PAIR_ROUTES = [("/relay", {"app": "relay"}), ("/counter", {"app": "counter"})]


def pair_works(wsd, port, **cluster):
    """Two nodes with these [cluster] keys connect; relay crosses them
    and a plus on the counter comes back with Redis's value."""
    a, b = [wsd(node_config(port, n, PAIR_ROUTES, **cluster))
            for n in ("a", "b")]
    for d in (a, b):
        d.wait_log(r"cluster: redis \S+: connected", timeout=10)
    relay_works_across(a, b)
    c = helpers.ws_connect(b.port, "/counter")
    c.send(frame(OP_TEXT, '{"action":"plus"}'))
    last_of(c, "value", 1)


def test_unix_socket_password_and_db(wsd, redis_factory, tmp_path):
    """redis = unix:/PATH, AUTH from redis_password_file, SELECT
    redis_db: the counter's key lands in that database."""
    sock = tmp_path / "redis.sock"
    r = redis_factory("--unixsocket", str(sock), password="s3cret")
    pw = tmp_path / "redis.pw"
    pw.write_text("s3cret\n")
    pair_works(wsd, 0, redis="unix:%s" % sock, redis_password_file=str(pw),
               redis_db="3")
    with socket.create_connection(("127.0.0.1", r.port), 2) as s:
        f = s.makefile("rb")
        s.sendall(resp("AUTH", "s3cret") + resp("SELECT", "3") +
                  resp("GET", "wsd:counter:/counter") +
                  resp("SELECT", "0") + resp("EXISTS", "wsd:counter:/counter"))
        assert [resp_read(f) for _ in range(5)] == ["OK", "OK", "1", "OK", 0]


def test_redis_acl_user(wsd, redis_factory, tmp_path):
    """redis_user: AUTH with an ACL user name and the password file; the
    links are that user's (CLIENT LIST), whose keys may only be under the
    prefix, and the cluster works; a wrong user is one log line."""
    # What wsd.ini(5) asks of the user: keys under the prefix, channels
    # under PREFIXhub: (the pattern literally, for PSUBSCRIBE).
    r = redis_factory("--user", "wsdnode", "on", ">n0de-pw", "~wsd:*",
                      "&wsd:hub:*", "+@all")
    pw = tmp_path / "redis.pw"
    pw.write_text("n0de-pw\n")
    pair_works(wsd, r.port, redis_user="wsdnode",
               redis_password_file=str(pw))
    users = re.findall(r"\buser=(\S+)", r.cmd("CLIENT", "LIST"))
    assert users.count("wsdnode") == 4, users      # two links a node
    bad = wsd(node_config(r.port, "x", PAIR_ROUTES, redis_user="nobody",
                          redis_password_file=str(pw)))
    bad.wait_log(r"warn: cluster: redis \S+: .*AUTH: WRONGPASS.*retrying",
                 timeout=10)


def ip_cert(d, name):
    """A self-signed certificate for 127.0.0.1 (subjectAltName IP)."""
    cert, key = d / (name + ".pem"), d / (name + "-key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-subj",
                    "/CN=redis", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-days", "2", "-keyout", str(key), "-out", str(cert)],
                   check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return cert, key


def test_redis_tls(wsd, redis_factory, tmp_path):
    """redis_tls = on: the link is TLS, the server's certificate checked
    against redis_ca_file and the address; another CA is refused."""
    cert, key = ip_cert(tmp_path, "redis")
    other, _ = ip_cert(tmp_path, "other")
    r = redis_factory(tls=(cert, key))
    routes = [("/relay", {"app": "relay"})]
    a, b = [wsd(node_config(r.port, n, routes, redis_tls="on",
                            redis_ca_file=str(cert))) for n in ("a", "b")]
    for d in (a, b):
        d.wait_log(r"cluster: redis \S+: connected", timeout=10)
    relay_works_across(a, b)
    bad = wsd(node_config(r.port, "bad", routes, redis_tls="on",
                          redis_ca_file=str(other)))
    bad.wait_log(r"warn: cluster: redis \S+: .*tls: certificate verify "
                 r"failed.*retrying", timeout=10)
    # Plain Redis protocol to a TLS port is no answer either.
    plain = wsd(node_config(r.port, "plain", routes, redis_timeout="500ms"))
    plain.wait_log(r"warn: cluster: redis \S+: .*retrying", timeout=10)


def test_wrong_password_one_line_local_service(wsd, redis_factory,
                                                tmp_path):
    r = redis_factory(password="right")
    pw = tmp_path / "redis.pw"
    pw.write_text("wrong\n")
    d = wsd(node_config(r.port, "x", [("/relay", {"app": "relay"})],
                        redis_password_file=str(pw)))
    d.wait_log(r"warn: cluster: redis \S+: .*AUTH: WRONGPASS.*retrying",
               timeout=10)
    time.sleep(1.5)
    assert len(re.findall(r"warn: cluster:", d.log_text())) == 1
    c1 = helpers.ws_connect(d.port, "/relay")
    c2 = helpers.ws_connect(d.port, "/relay")
    c1.send(frame(OP_TEXT, "local"))
    assert text(c2) == "local"


# ---------------------------------------------------------------- counter

def last_of(c, kind, want, timeout=10):
    """Reads c until its newest event of kind has value want; c keeps
    the newest of each kind seen (c.state), whatever it waited for."""
    if not hasattr(c, "state"):
        c.state = {}
    deadline = time.monotonic() + timeout
    while True:
        if c.state.get(kind) == want:
            return
        if time.monotonic() > deadline:
            raise AssertionError("%s: last %r, wanted %r" % (
                kind, c.state.get(kind), want))
        for m in drain(c, 0.3):
            ev = json.loads(m)
            c.state[ev["type"]] = ev["count" if ev["type"] == "users"
                                     else "value"]


def press_all(clients, redis, n):
    """Every client, at once, presses plus n times and minus n / 2 times
    (after they all count each other); every client ends at the exact
    total, and so does Redis."""
    for c in clients:
        last_of(c, "users", len(clients))

    def press(c):
        for i in range(n):
            c.send(frame(OP_TEXT, '{"action":"plus"}'))
            if i % 2:
                c.send(frame(OP_TEXT, '{"action":"minus"}'))
    threads = [threading.Thread(target=press, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for c in clients:
        last_of(c, "value", len(clients) * n // 2)
    assert redis.cmd("GET", "wsd:counter:/counter") == str(
        len(clients) * n // 2)


def test_counter_across_nodes_exact(wsd, redis):
    nodes = start_nodes(wsd, redis, 3)
    clients = [helpers.ws_connect(d.port, "/counter") for d in nodes
               for _ in range(2)]
    press_all(clients, redis, 20)
    # A newcomer anywhere learns the value and the new total.
    late = helpers.ws_connect(nodes[1].port, "/counter")
    last_of(late, "users", len(clients) + 1)
    assert json.loads(text(clients[0]))  # the others hear of it too


def test_users_corrected_after_node_killed(wsd, redis, killable):
    """A node that dies without a word: its users expire with its
    heartbeat (users_ttl) and the other nodes' members hear the total."""
    a = start_nodes(wsd, redis, 1, users_ttl="1s")[0]
    k = killable(node_config(redis.port, "doomed", users_ttl="1s"), "doomed")
    k.d.wait_log(r"cluster: redis \S+: connected", timeout=10)
    ca = helpers.ws_connect(a.port, "/counter")
    doomed = [helpers.ws_connect(k.d.port, "/counter") for _ in range(2)]
    last_of(ca, "users", 3)
    k.kill()
    t0 = time.monotonic()
    last_of(ca, "users", 1, timeout=8)
    assert time.monotonic() - t0 < 6
    for c in doomed:
        c.close()


# -------------------------------------------------------------- broadcast

def test_broadcast_one_ticker_and_takeover(wsd, redis, killable):
    """One node ticks for all: identical timestamps everywhere; when it
    dies another takes over within two lease periods."""
    lease = 1.0
    b = killable(node_config(redis.port, "b", lease="1s"), "b")
    wait_until(lambda: (redis.cmd("GET", "wsd:lease:/broadcast") or ""
                        ).startswith("b/"), 5, "b holds the lease")
    a = start_nodes(wsd, redis, 1, lease="1s")[0]
    ca = helpers.ws_connect(a.port, "/broadcast")
    cb = helpers.ws_connect(b.d.port, "/broadcast")
    time.sleep(0.4)
    drain(ca, 0.05)
    drain(cb, 0.05)
    got_a = [text(ca) for _ in range(6)]
    got_b = [text(cb) for _ in range(6)]
    # The same ticks on both nodes (give or take the edges), none twice.
    assert len(set(got_a) & set(got_b)) >= 4, (got_a, got_b)
    assert len(set(got_a)) == len(got_a), got_a
    assert (redis.cmd("GET", "wsd:lease:/broadcast") or "").startswith("b/")
    b.kill()
    drain(ca, 0.01)
    t0 = time.monotonic()
    text(ca, timeout=5)
    assert time.monotonic() - t0 < 2 * lease + 0.5
    wait_until(lambda: (redis.cmd("GET", "wsd:lease:/broadcast") or ""
                        ).startswith("n0/"), 3, "a holds the lease")


# ---------------------------------------------------------- redis outages

def test_redis_down_local_service_then_resume(wsd, redis):
    a, b = start_nodes(wsd, redis, 2)
    a1 = helpers.ws_connect(a.port, "/relay")
    a2 = helpers.ws_connect(a.port, "/relay")
    b1 = helpers.ws_connect(b.port, "/relay")
    ca = helpers.ws_connect(a.port, "/counter")
    cb = helpers.ws_connect(b.port, "/counter")
    last_of(cb, "users", 2)
    mark_a, mark_b = a.log_mark(), b.log_mark()
    redis.stop()
    a.wait_log(r"warn: cluster: redis \S+: link down", start=mark_a)
    b.wait_log(r"warn: cluster: redis \S+: link down", start=mark_b)
    # Local delivery goes on; the other node does not get it.
    a1.send(frame(OP_TEXT, "while down"))
    assert text(a2) == "while down"
    assert text(a1) == "while down"
    assert drain(b1, 0.5) == []
    # The counter counts locally, and says so.
    last_of(ca, "value", 0)
    ca.send(frame(OP_TEXT, '{"action":"plus"}'))
    assert json.loads(text(ca)) == {"type": "value", "value": 1}
    assert metric(a.port, "wsd_cluster_up") == 0
    assert metric(a.port, "wsd_cluster_counters_local") == 1
    assert metric(a.port, "wsd_cluster_dropped_total") >= 1
    # Several retries, one line.
    time.sleep(2.5)
    assert len(re.findall(r"cluster: redis .*(link down|refused)",
                          a.log_text()[mark_a:])) == 1, a.log_text()[mark_a:]
    redis.start()
    t0 = time.monotonic()
    a.wait_log(r"info: cluster: redis \S+: link up again", start=mark_a,
               timeout=15)
    b.wait_log(r"info: cluster: redis \S+: link up again", start=mark_b,
               timeout=15)
    assert time.monotonic() - t0 < 15
    drain(b1, 0.1)
    a1.send(frame(OP_TEXT, "after"))
    assert text(b1) == "after"
    # Counts re-converge: users re-registered, the offline plus applied.
    last_of(cb, "users", 2)
    last_of(cb, "value", 1)
    assert metric(a.port, "wsd_cluster_reconnects_total") == 1
    assert metric(a.port, "wsd_cluster_counters_local") == 0
    for d in (a, b):
        assert d.alive()


def test_users_told_again_after_a_blip(wsd, redis):
    """While the link is down a node's members see its local count; when
    it is back they hear the total again, even if that did not change."""
    routes = [("/counter", {"app": "counter"})]
    a, b = start_nodes(wsd, redis, 2, routes=routes)
    m1 = helpers.ws_connect(a.port, "/counter")
    m2 = helpers.ws_connect(b.port, "/counter")
    last_of(m1, "users", 2)
    mark = a.log_mark()
    # Redis stays up but answers nobody for a while: the links time out.
    with socket.create_connection(("127.0.0.1", redis.port), 2) as s:
        s.sendall(resp("CLIENT", "PAUSE", "3000", "ALL") +
                  resp("CLIENT", "KILL", "TYPE", "pubsub"))
    a.wait_log(r"warn: cluster: redis \S+: link down", start=mark)
    m3 = helpers.ws_connect(a.port, "/counter")
    last_of(m1, "users", 2)
    m3.close()
    last_of(m1, "users", 1)         # this node's own count, for now
    a.wait_log(r"info: cluster: redis \S+: link up again", start=mark,
               timeout=15)
    last_of(m1, "users", 2)         # the total again
    m2.close()


class FakeRedis:
    """A TCP server that accepts and then stalls, or answers garbage."""

    def __init__(self, mode):
        self.mode = mode
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.conns = []
        self.stop = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        self.sock.settimeout(0.2)
        while not self.stop:
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.accepted += 1
            self.conns.append(c)
            if self.mode == "garbage":
                try:
                    c.sendall(b"?this is not RESP\r\n")
                except OSError:
                    pass

    def close(self):
        self.stop = True
        self.thread.join(5)
        self.sock.close()
        for c in self.conns:
            c.close()


@pytest.mark.parametrize("mode,why", [
    ("stall", r"connect timed out"),
    ("garbage", r"malformed reply"),
])
def test_fake_redis_timeout_or_garbage(wsd, mode, why):
    fake = FakeRedis(mode)
    try:
        d = wsd(node_config(fake.port, "x", redis_timeout="300ms"))
        d.wait_log(r"warn: cluster: redis \S+: .*%s.*retrying" % why,
                   timeout=10)
        wait_until(lambda: fake.accepted >= 4, 15, "reconnects")
        # One line for the whole outage.
        assert len(re.findall(r"warn: cluster:", d.log_text())) == 1
        # The node serves its own clients meanwhile, without delay.
        c1 = helpers.ws_connect(d.port, "/relay")
        c2 = helpers.ws_connect(d.port, "/relay")
        t0 = time.monotonic()
        c1.send(frame(OP_TEXT, "local"))
        assert text(c2) == "local"
        assert time.monotonic() - t0 < 1
        assert metric(d.port, "wsd_cluster_up") == 0
    finally:
        fake.close()
