"""test_channels_workers.py -- channels with workers = 2: one channel
table, history and id sequence for the route on every worker. Subscribers
are opened until both workers hold some (the per-worker connections
gauge), then publishes over HTTP and by clients, resume, DELETE, the
counts and max_channels are checked across them."""

import json
import re
import signal
import threading
import time

import helpers
from helpers import Conn, OP_TEXT, read_message, read_response
from test_channels import (id_seq, info, no_message, post, publish, sub,
                           wait_for)
from test_channels_sse import SSE


def wconfig(**keys):
    """A channels route on /live/ and metrics, with two workers."""
    route = {"app": "channels"}
    route.update(keys)
    return helpers.make_config(
        server={"workers": 2, "idle_timeout": "30s"},
        routes=[("/live/", route), ("/metrics", {"app": "metrics"})])


def worker_conns(d):
    """Open connections per worker, from the gauge (the scrape's own
    connection counts on one of them)."""
    m = helpers.http_get(d.port, "/metrics").body.decode()
    got = {int(w): int(n) for w, n in re.findall(
        r'wsd_worker_connections\{worker="(\d+)"\} (\d+)', m)}
    assert sorted(got) == [0, 1], m
    return got


def spread(d, opener, least=3, most=40):
    """Opens connections with opener() until each worker holds at least
    one of them (2 in the gauge: one may be the scrape), least in all;
    returns them."""
    conns = []
    while len(conns) < most:
        conns.append(opener())
        if len(conns) >= least and min(worker_conns(d).values()) >= 2:
            return conns
    raise AssertionError("%d connections all landed on one worker: %r" % (
        len(conns), worker_conns(d)))


class Sub:
    """A WebSocket or SSE subscriber: data messages as bytes."""

    def __init__(self, port, path, sse=False):
        self.sse = sse
        if sse:
            self.s = SSE(port, path)
            assert self.s.resp.status == 200
            assert self.s.event() == {"retry": ["2000"]}
        else:
            self.s = sub(port, path)

    def message(self):
        if self.sse:
            ev = self.s.message()
            return "\n".join(ev["data"]).encode()
        op, data, _ = read_message(self.s)
        assert op == OP_TEXT
        return data

    def quiet(self):
        """Nothing more arrives."""
        c = self.s.c if self.sse else self.s
        no_message(c)

    def close(self):
        self.s.close()


def test_publish_reaches_ws_and_sse_on_both_workers_once_in_order(wsd):
    d = wsd(wconfig())
    n = [0]

    def opener():
        n[0] += 1
        return Sub(d.port, "/live/w", sse=n[0] % 2 == 0)

    subs = spread(d, opener, least=4)
    assert any(s.sse for s in subs) and any(not s.sse for s in subs)
    assert wait_for(lambda: info(d.port, "/live/w")["subscribers"] ==
                    len(subs))
    ids = []
    with Conn(d.port) as p:
        for i in range(50):
            r = post(d.port, "/live/w", b"m%d" % i, conn=p)
            assert r.status == 200, r
            rep = json.loads(r.body)
            # Subscribers on both workers count, not only this one's.
            assert rep["subscribers"] == len(subs)
            ids.append(id_seq(rep["id"])[1])
    assert ids == sorted(ids) and len(set(ids)) == 50
    for s in subs:
        assert [s.message() for _ in range(50)] == [
            b"m%d" % i for i in range(50)]
        s.quiet()
    m = helpers.http_get(d.port, "/metrics").body.decode()
    assert 'wsd_channel_subscribers{route="/live/"} %d\n' % len(subs) in m
    assert 'wsd_channel_published_total{route="/live/"} 50\n' in m
    assert 'wsd_channel_deliveries_total{route="/live/"} %d\n' % (
        50 * len(subs)) in m
    for s in subs:
        s.close()


def test_resume_since_on_either_worker(wsd):
    """One history and one id sequence: a subscriber resumes from any id
    whichever worker its new connection lands on."""
    d = wsd(wconfig(history=100))
    ids = [publish(d.port, "/live/r", b"%d" % i)["id"] for i in range(10)]
    seqs = [id_seq(i)[1] for i in ids]
    assert seqs == list(range(seqs[0], seqs[0] + 10))
    k = [0]

    def opener():
        since = ids[k[0] % 10]
        k[0] += 1
        c = sub(d.port, "/live/r?since=" + since)
        first = ids.index(since) + 1
        assert [read_message(c)[1] for _ in range(10 - first)] == [
            b"%d" % i for i in range(first, 10)]
        no_message(c, 0.1)
        return c

    subs = spread(d, opener, least=6)
    # Later messages once, after the replay.
    last = publish(d.port, "/live/r", b"10")
    assert last["subscribers"] == len(subs)
    for c in subs:
        assert read_message(c)[1] == b"10"
        no_message(c, 0.1)
        c.close()
    # SSE: Last-Event-ID on new streams, on both workers.
    streams = spread(d, lambda: SSE(d.port, "/live/r", headers={
        "Last-Event-ID": ids[7]}), least=4)
    for s in streams:
        assert s.event() == {"retry": ["2000"]}
        got = [s.message() for _ in range(3)]
        assert [e["data"] for e in got] == [["8"], ["9"], ["10"]]
        assert [e["id"] for e in got] == [[ids[8]], [ids[9]], [last["id"]]]
        s.close()


def test_client_publish_reaches_the_other_worker(wsd):
    d = wsd(wconfig(client_publish="on", history=1000))
    subs = spread(d, lambda: sub(d.port, "/live/chat"), least=4)
    assert wait_for(lambda: info(d.port, "/live/chat")["subscribers"] ==
                    len(subs))
    per = 20
    for i, c in enumerate(subs):
        for j in range(per):
            c.send(helpers.frame(OP_TEXT, b"%d-%d" % (i, j)))
    want = {i: [b"%d-%d" % (i, j) for j in range(per)]
            for i in range(len(subs))}
    orders = []
    for c in subs:
        got = [read_message(c)[1] for _ in range(per * len(subs))]
        no_message(c, 0.1)
        # Every message once, each sender's in the order it sent them.
        for i in want:
            assert [m for m in got if m.startswith(b"%d-" % i)] == want[i]
        orders.append(got)
    # One id order: every subscriber saw the same sequence.
    assert all(o == orders[0] for o in orders)
    assert info(d.port, "/live/chat")["messages"] == per * len(subs)
    for c in subs:
        c.close()


def test_delete_closes_subscribers_on_both_workers(wsd):
    d = wsd(wconfig(history=10))
    publish(d.port, "/live/del", b"old")
    subs = spread(d, lambda: sub(d.port, "/live/del"), least=4)
    streams = spread(d, lambda: SSE(d.port, "/live/del"), least=2)
    other = sub(d.port, "/live/keep")
    assert wait_for(lambda: info(d.port, "/live/del")["subscribers"] ==
                    len(subs) + len(streams))
    r = helpers.http_get(d.port, "/live/del", method="DELETE")
    assert r.status == 204
    for c in subs:
        helpers.expect_close(c, 1000)
        c.close()
    for s in streams:
        s.event()                       # retry
        assert s.c.read_to_eof(timeout=5) == b""
        s.close()
    no_message(other)
    assert wait_for(lambda: info(d.port, "/live/del")["subscribers"] == 0)
    assert info(d.port, "/live/del")["messages"] == 0
    assert info(d.port, "/live/keep")["subscribers"] == 1
    other.close()


def test_max_channels_across_workers(wsd):
    """max_channels counts the channels of every worker: refusals come
    from connections on both."""
    d = wsd(wconfig(history=1, max_channels=2))
    publish(d.port, "/live/a", b"x")
    publish(d.port, "/live/b", b"x")
    conns = spread(d, lambda: Conn(d.port), least=4)
    for i, c in enumerate(conns):
        r = post(d.port, "/live/new%d" % i, b"x", conn=c)
        assert r.status == 503, r
        # An existing channel still takes messages, from either worker.
        r = post(d.port, "/live/a", b"y", conn=c)
        assert r.status == 200, r
        c.send(helpers.upgrade_request("/live/other%d" % i,
                                       helpers.ws_key()))
        assert read_response(c).status == 503
        c.close()
    m = helpers.http_get(d.port, "/metrics").body.decode()
    assert 'wsd_channels{route="/live/"} 2\n' in m


def _gauge(d, name):
    m = helpers.http_get(d.port, "/metrics").body.decode()
    return int(re.search(r'%s\{route="/live/"\} (\d+)' % name, m).group(1))


def test_channel_and_history_go_once_every_worker_is_done(wsd):
    """A channel with subscribers on both workers is freed once they all
    left (each worker frees its own hub); history_ttl empties the
    history whichever worker published it."""
    d = wsd(wconfig(history=10, history_ttl="300ms"))
    subs = spread(d, lambda: sub(d.port, "/live/g"), least=4)
    assert wait_for(lambda: info(d.port, "/live/g")["subscribers"] ==
                    len(subs))
    assert _gauge(d, "wsd_channels") == 1
    for c in subs:
        c.close()
    assert wait_for(lambda: _gauge(d, "wsd_channels") == 0)
    assert _gauge(d, "wsd_channel_subscribers") == 0
    conns = spread(d, lambda: Conn(d.port), least=4)
    for i, c in enumerate(conns):
        assert post(d.port, "/live/t%d" % (i % 2), b"x", conn=c).status == 200
    assert _gauge(d, "wsd_channel_history_messages") == len(conns)
    assert _gauge(d, "wsd_channels") == 2
    assert wait_for(lambda: _gauge(d, "wsd_channel_history_messages") == 0)
    assert wait_for(lambda: _gauge(d, "wsd_channels") == 0)
    for c in conns:
        c.close()


def test_resume_while_publishing_no_gap_no_dup(wsd):
    """Subscribers resume from the first id, on either worker, while two
    publishers (each on some worker) run: replay and live messages join
    without a gap or a duplicate, in id order."""
    d = wsd(wconfig(history=2000))
    first = publish(d.port, "/live/h", b"a0")["id"]
    total = 300

    def publisher(tag):
        with Conn(d.port, timeout=20) as p:
            for i in range(1, total + 1):
                r = post(d.port, "/live/h", b"%s%d" % (tag, i), conn=p)
                assert r.status == 200

    ts = [threading.Thread(target=publisher, args=(t,)) for t in
          (b"a", b"b")]
    for t in ts:
        t.start()
    subs = []
    try:
        while len(subs) < 12:
            subs.append(sub(d.port, "/live/h?since=" + first, timeout=20))
            time.sleep(0.02)
    finally:
        for t in ts:
            t.join()
    w = worker_conns(d)
    assert min(w.values()) >= 2, w
    order = None
    for c in subs:
        got = [read_message(c, timeout=20)[1] for _ in range(2 * total)]
        no_message(c, 0.1)
        for tag in (b"a", b"b"):
            assert [m for m in got if m[:1] == tag] == [
                b"%s%d" % (tag, i) for i in range(1, total + 1)]
        # The same id order for everyone, replayed or live.
        order = order or got
        assert got == order
        c.close()


def _reload(d, text):
    """Writes the config anew and sends SIGHUP; waits for the outcome."""
    with open(d.argv[d.argv.index("-c") + 1], "w") as f:
        f.write(text)
    mark = d.log_mark()
    d.kill(signal.SIGHUP)
    d.wait_log(r"SIGHUP: configuration reloaded", start=mark)


def test_reload_keeps_adds_and_removes_channels_routes(wsd):
    """A reload keeps a channels route's state on every worker, starts a
    new one on every worker, and one it removes lives on until its last
    subscriber leaves (the sanitizers check what is freed at exit)."""
    d = wsd(wconfig(history=5))
    subs = spread(d, lambda: sub(d.port, "/live/x"), least=4)
    first = publish(d.port, "/live/x", b"before")["id"]
    for c in subs:
        assert read_message(c)[1] == b"before"
    routes = [("/live/", {"app": "channels", "history": 10}),
              ("/news/", {"app": "channels", "history": 10}),
              ("/metrics", {"app": "metrics"})]
    _reload(d, helpers.make_config(server={
        "workers": 2, "idle_timeout": "30s"}, routes=routes))
    rep = publish(d.port, "/live/x", b"after")
    assert rep["subscribers"] == len(subs)
    assert id_seq(rep["id"])[1] == id_seq(first)[1] + 1
    for c in subs:
        assert read_message(c)[1] == b"after"
    # The new route, on both workers.
    assert wait_for(lambda: post(d.port, "/news/y", b"0").status == 200)
    news = spread(d, lambda: sub(d.port, "/news/y"), least=4)
    rep = publish(d.port, "/news/y", b"news")
    assert rep["subscribers"] == len(news)
    for c in news:
        assert read_message(c)[1] == b"news"
    # Both routes go; their subscribers stay until they leave.
    _reload(d, helpers.make_config(server={
        "workers": 2, "idle_timeout": "30s"},
        routes=[("/metrics", {"app": "metrics"})]))
    assert wait_for(lambda: post(d.port, "/live/x", b"x").status == 404)
    for c in subs + news:
        c.send(helpers.frame(OP_TEXT, b"x"))
        helpers.expect_close(c, 1008)
        c.close()
