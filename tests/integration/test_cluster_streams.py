"""test_cluster_streams.py -- [cluster] channels keep their history and
ids in Redis Streams: one id for a message on every node, resume from it
on any node (a node started later too), DELETE on every node, and local
ids while Redis is away. Uses test_cluster.py's redis-server fixtures."""

import json
import re
import signal
import socket
import threading
import time

import helpers
from helpers import OP_TEXT, frame
from test_channels import post as channels_post
from test_channels_sse import SSE
from test_cluster import (drain, killable, node_config, redis,  # noqa
                          redis_factory, spread, text, wait_until)

SID = re.compile(r"^\d+-\d+$")


def chan_routes(**keys):
    conf = {"app": "channels", "history": "100"}
    conf.update(keys)
    return [("/live/", conf), ("/metrics", {"app": "metrics"})]


def kept(d):
    """The messages a node keeps in memory (its channels' history)."""
    r = helpers.http_get(d.port, "/metrics")
    m = re.search(r'(?m)^wsd_channel_history_messages\{route="/live/"'
                  r'[^}]*\} (\S+)$', r.body.decode())
    return int(float(m.group(1)))


def nodes(wsd, redis, n, cluster=None, **keys):
    out = [wsd(node_config(redis.port, "n%d" % i, chan_routes(**keys),
                           **(cluster or {})))
           for i in range(n)]
    for d in out:
        d.wait_log(r"cluster: redis \S+: connected", timeout=10)
    return out


def late_node(wsd, redis, name, workers=None, **keys):
    d = wsd(node_config(redis.port, name, chan_routes(**keys), workers))
    d.wait_log(r"cluster: redis \S+: connected", timeout=10)
    return d


def post(port, path, body, ctype="text/plain"):
    body = body if isinstance(body, bytes) else body.encode()
    r = helpers.http_raw(port, helpers.request(
        "POST", path, headers={"Content-Type": ctype,
                               "Content-Length": str(len(body))},
        body=body), timeout=10)
    assert r.status == 200, r
    return json.loads(r.body)


def info(port, path):
    r = helpers.http_get(port, path, headers={"Accept": "application/json"})
    assert r.status == 200, r
    return json.loads(r.body)


def stream_ids(redis, key):
    return [e[0] for e in redis.cmd("XRANGE", key, "-", "+")]


def subscribed(d, path, n):
    wait_until(lambda: info(d.port, path)["subscribers"] == n, 5,
               "subscribers on %s" % path)


def test_ids_from_the_stream_same_on_every_node(wsd, redis):
    """A POST's id is the id XADD gave it: the reply, every node's JSON
    envelope and SSE id say it, and the stream holds it; subscribers'
    messages (client_publish) get stream ids too, in one order
    everywhere."""
    a, b, c = nodes(wsd, redis, 3, envelope="json", client_publish="on")
    ws = [helpers.ws_connect(d.port, "/live/news") for d in (a, b, c)]
    sse = SSE(c.port, "/live/news")
    subscribed(a, "/live/news", 4)
    r = post(a.port, "/live/news", "hello")
    assert SID.match(r["id"]), r
    assert r["subscribers"] == 4
    assert stream_ids(redis, "wsd:stream:/live/news") == [r["id"]]
    for w in ws:
        env = json.loads(text(w))
        assert env == {"channel": "news", "id": r["id"], "data": "hello"}
    ev = sse.message()
    assert ev["id"] == [r["id"]]
    assert json.loads(ev["data"][0])["id"] == r["id"]
    # Two nodes' subscribers publish at once: every node delivers in the
    # stream's order.
    for i in range(5):
        ws[0].send(frame(OP_TEXT, "a%d" % i))
        ws[1].send(frame(OP_TEXT, "b%d" % i))
    seen = [[json.loads(text(w)) for _ in range(10)] for w in ws]
    order = stream_ids(redis, "wsd:stream:/live/news")[1:]
    for got in seen:
        assert [m["id"] for m in got] == order
    assert sorted(m["data"] for m in seen[0]) == sorted(
        ["a%d" % i for i in range(5)] + ["b%d" % i for i in range(5)])
    for w in ws:
        assert drain(w, 0.2) == []
    sse.close()


def test_pipelined_posts_answered_in_order(wsd, redis):
    """The answer to a POST waits for Redis; pipelined POSTs on one
    connection are answered one after the other, each with its id."""
    (a,) = nodes(wsd, redis, 1)
    reqs = b"".join(helpers.request(
        "POST", "/live/p", headers={"Content-Type": "text/plain",
                                    "Content-Length": "2"},
        body=("p%d" % i).encode()) for i in range(3))
    with helpers.Conn(a.port, timeout=10) as c:
        c.send(reqs)
        got = [json.loads(helpers.read_response(c).body)["id"]
               for _ in range(3)]
        # The connection goes on after held answers.
        c.send(helpers.request("GET", "/live/p",
                               headers={"Accept": "application/json"}))
        last = json.loads(helpers.read_response(c).body)["last_id"]
    assert got == stream_ids(redis, "wsd:stream:/live/p")
    assert last == got[-1]


def test_node_started_later_replays_from_the_stream(wsd, redis):
    """A node started after the messages were published replays them
    for ?since= (WebSocket) and Last-Event-ID (SSE); an id the stream no
    longer has gets the reset notice, then the history that is left."""
    (a,) = nodes(wsd, redis, 1, history="3")
    ids = [post(a.port, "/live/feed", "m%d" % i)["id"] for i in range(5)]
    late = late_node(wsd, redis, "late", history="3")
    ws = helpers.ws_connect(late.port, "/live/feed?since=" + ids[2])
    assert [text(ws) for _ in range(2)] == ["m3", "m4"]
    assert drain(ws, 0.3) == []
    sse = SSE(late.port, "/live/feed", headers={"Last-Event-ID": ids[3]})
    ev = sse.message()
    assert ev["data"] == ["m4"] and ev["id"] == [ids[4]]
    # Trimmed to history: since is gone, so reset, then the last three.
    old = helpers.ws_connect(late.port, "/live/feed?since=" + ids[0])
    assert json.loads(text(old)) == {"type": "reset", "channel": "feed"}
    assert [text(old) for _ in range(3)] == ["m2", "m3", "m4"]
    # Live after the replay, once.
    r = post(a.port, "/live/feed", "m5")
    assert text(ws) == "m5" and text(old) == "m5"
    assert sse.message()["id"] == [r["id"]]
    assert drain(ws, 0.3) == [] and drain(old, 0.1) == []
    sse.close()


def test_resume_while_publishing_no_gap_no_duplicate(wsd, redis):
    """Subscribers resume on a node that did not hear since while
    another node publishes without pause: each gets every message after
    since once, in the stream's order, the replay joined to the live
    messages."""
    a, = nodes(wsd, redis, 1, history="1000")
    first = post(a.port, "/live/run", "x")["id"]
    b = late_node(wsd, redis, "b", history="1000")
    stop = threading.Event()

    def publish():
        i = 0
        while not stop.is_set():
            post(a.port, "/live/run", "r%d" % i)
            i += 1
            time.sleep(0.01)

    t = threading.Thread(target=publish)
    t.start()
    subs = []
    try:
        for _ in range(4):
            time.sleep(0.1)
            subs.append(helpers.ws_connect(b.port,
                                           "/live/run?since=" + first))
        time.sleep(0.3)
    finally:
        stop.set()
        t.join(20)
    time.sleep(0.3)
    order = [e[1][3] for e in redis.cmd("XRANGE", "wsd:stream:/live/run",
                                        "-", "+")][1:]
    assert len(order) >= 4
    for w in subs:
        got = drain(w, 0.5)
        assert got == order, (got, order)


def test_resume_on_node_without_the_message_in_memory(wsd, redis):
    """B restarts (a new node, empty memory): a subscriber resumes there
    from an id A gave out before, and then hears B's own publishes."""
    a, = nodes(wsd, redis, 1)
    ids = [post(a.port, "/live/r", "m%d" % i)["id"] for i in range(3)]
    b = late_node(wsd, redis, "b")
    assert kept(b) == 0
    sse = SSE(b.port, "/live/r", headers={"Last-Event-ID": ids[0]})
    got = [sse.message() for _ in range(2)]
    assert [e["id"] for e in got] == [[ids[1]], [ids[2]]]
    r = post(b.port, "/live/r", "mine")
    ev = sse.message()
    assert ev["data"] == ["mine"] and ev["id"] == [r["id"]]
    assert stream_ids(redis, "wsd:stream:/live/r") == ids + [r["id"]]
    sse.close()


def test_delete_on_every_node(wsd, redis):
    """DELETE on one node removes the stream and the channel on every
    node: subscribers everywhere are closed, history is gone."""
    a, b = nodes(wsd, redis, 2)
    ids = [post(a.port, "/live/d", "m%d" % i)["id"] for i in range(2)]
    for d in (a, b):
        wait_until(lambda: kept(d) == 2, 5, "history in memory")
    wa = helpers.ws_connect(a.port, "/live/d")
    wb = helpers.ws_connect(b.port, "/live/d")
    subscribed(b, "/live/d", 2)
    r = helpers.http_raw(a.port, helpers.request("DELETE", "/live/d"))
    assert r.status == 204, r
    helpers.expect_close(wa, 1000)
    helpers.expect_close(wb, 1000)
    assert redis.cmd("EXISTS", "wsd:stream:/live/d") == 0
    wait_until(lambda: kept(b) == 0, 5, "history gone on b")
    subscribed(b, "/live/d", 0)
    assert info(b.port, "/live/d") == {
        "channel": "d", "subscribers": 0, "messages": 0, "last_id": None}
    w = helpers.ws_connect(b.port, "/live/d?since=" + ids[0])
    assert json.loads(text(w)) == {"type": "reset", "channel": "d"}
    assert drain(w, 0.3) == []


def test_redis_away_local_ids_then_streams_again(wsd, redis):
    """Redis killed: a POST is answered at once with a local id and
    reaches this node's subscribers; Redis back: the stream is used
    again and the other node hears the next message."""
    a, b = nodes(wsd, redis, 2)
    wa = helpers.ws_connect(a.port, "/live/o")
    wb = helpers.ws_connect(b.port, "/live/o")
    subscribed(a, "/live/o", 2)
    mark = a.log_mark()
    redis.stop()
    a.wait_log(r"warn: cluster: redis \S+: link down", start=mark)
    t0 = time.monotonic()
    r = post(a.port, "/live/o", "alone")
    assert time.monotonic() - t0 < 2
    assert text(wa) == "alone"
    assert drain(wb, 0.3) == []
    redis.start()
    a.wait_log(r"info: cluster: redis \S+: link up again", start=mark,
               timeout=15)
    b.wait_log(r"info: cluster: redis \S+: link up again", timeout=15)
    r2 = post(a.port, "/live/o", "shared")
    assert stream_ids(redis, "wsd:stream:/live/o") == [r2["id"]]
    assert r2["id"] != r["id"]
    assert text(wa) == "shared" and text(wb) == "shared"
    assert drain(wa, 0.2) == []


def test_redis_stalls_post_answered_in_time(wsd, redis):
    """A Redis that stops answering: a held POST is answered within
    redis_timeout with a local id (delivered here once), a publisher
    that hung up meanwhile costs nothing, and the stream is used again
    once Redis answers."""
    a, = nodes(wsd, redis, 1)
    wa = helpers.ws_connect(a.port, "/live/s")
    subscribed(a, "/live/s", 1)
    mark = a.log_mark()
    redis.proc.send_signal(signal.SIGSTOP)
    try:
        # One publisher leaves before the answer.
        gone = socket.create_connection(("127.0.0.1", a.port))
        gone.sendall(helpers.request(
            "POST", "/live/s", headers={"Content-Type": "text/plain",
                                        "Content-Length": "4"},
            body=b"gone"))
        time.sleep(0.1)
        gone.close()
        t0 = time.monotonic()
        r = post(a.port, "/live/s", "stalled")
        assert time.monotonic() - t0 < 4
        assert "id" in r
    finally:
        redis.proc.send_signal(signal.SIGCONT)
    got = drain(wa, 0.5)
    assert got.count("stalled") == 1, got
    a.wait_log(r"info: cluster: redis \S+: link up again", start=mark,
               timeout=15)
    r2 = post(a.port, "/live/s", "back")
    assert r2["id"] in stream_ids(redis, "wsd:stream:/live/s")
    assert text(wa) == "back"
    assert a.alive()


def test_subscribers_counted_on_every_node(wsd, redis, killable):
    """GET and the publish answer count a channel's subscribers on every
    node, and GET's messages and last_id are the stream's; a node that
    dies drops out within users_ttl; while Redis is away a node counts
    its own."""
    a, b = nodes(wsd, redis, 2, cluster={"users_ttl": "2s"})
    k = killable(node_config(redis.port, "k", chan_routes(),
                             users_ttl="2s"), "k")
    k.d.wait_log(r"cluster: redis \S+: connected", timeout=10)
    subs = [helpers.ws_connect(a.port, "/live/c")]
    subs += [helpers.ws_connect(b.port, "/live/c") for _ in range(2)]
    subs += [helpers.ws_connect(k.d.port, "/live/c") for _ in range(3)]
    sse = SSE(b.port, "/live/c")
    subscribed(a, "/live/c", 7)
    r = post(b.port, "/live/c", "x")
    assert r["subscribers"] == 7
    assert info(k.d.port, "/live/c") == {
        "channel": "c", "subscribers": 7, "messages": 1,
        "last_id": r["id"]}
    subs[1].close()
    subscribed(k.d, "/live/c", 6)
    t0 = time.monotonic()
    k.kill()
    subscribed(a, "/live/c", 3)
    assert time.monotonic() - t0 < 5
    redis.stop()
    a.wait_log(r"warn: cluster: redis \S+: link down")
    assert info(a.port, "/live/c")["subscribers"] == 1
    assert info(b.port, "/live/c")["subscribers"] == 2
    sse.close()


def spread_http(d):
    """Keep-alive HTTP connections to d, on both of its workers."""
    def opener():
        c = helpers.Conn(d.port, timeout=10)
        c.send(helpers.request("GET", "/metrics"))
        assert helpers.read_response(c).status == 200
        return c
    return spread(d, None, opener=opener)


def ask(c, method, path, body=None):
    """A request on a kept-alive connection; its JSON answer."""
    if body is None:
        c.send(helpers.request(method, path,
                               headers={"Accept": "application/json"}))
        r = helpers.read_response(c)
    else:
        r = channels_post(None, path, body.encode(), conn=c)
    assert r.status == 200, r
    return json.loads(r.body)


def test_streams_with_two_workers(wsd, redis):
    """Nodes of two workers use the streams too (the workers hand their
    calls to worker 0's link): POSTs taken by either worker of A get
    the stream's ids, in order, and reach the subscribers on both
    workers of B once, in order; GET on either worker counts every
    node's subscribers; a node of two workers started later replays
    from the stream on either worker, then goes on live."""
    # The publishers' connections stay open through the test.
    a, b = [wsd(node_config(redis.port, n, chan_routes(), "2").replace(
        "idle_timeout = 1s", "idle_timeout = 30s")) for n in ("a", "b")]
    for d in (a, b):
        d.wait_log(r"cluster: redis \S+: connected", timeout=10)
    subs = spread(b, "/live/w")
    posters = spread_http(a)
    subscribed(a, "/live/w", len(subs))
    ids = [ask(posters[i % len(posters)], "POST", "/live/w",
               "p%d" % i)["id"] for i in range(8)]
    assert all(SID.match(i) for i in ids), ids
    assert stream_ids(redis, "wsd:stream:/live/w") == ids
    for c in subs:
        assert [text(c) for _ in range(8)] == ["p%d" % i for i in range(8)]
        assert drain(c, 0.2) == []
    for c in posters:
        assert ask(c, "GET", "/live/w") == {
            "channel": "w", "subscribers": len(subs), "messages": 8,
            "last_id": ids[-1]}
    late = late_node(wsd, redis, "late", workers="2")
    assert kept(late) == 0
    resumed = spread(late, "/live/w?since=" + ids[3])
    for c in resumed:
        assert [text(c) for _ in range(4)] == ["p4", "p5", "p6", "p7"]
    r = post(late.port, "/live/w", "live")
    assert stream_ids(redis, "wsd:stream:/live/w") == ids + [r["id"]]
    for c in resumed + subs:
        assert text(c) == "live"
        assert drain(c, 0.2) == []
    for c in posters:
        c.close()


def test_resume_while_the_subscription_lags(wsd, redis):
    """A resume on a node that did not hear since reads the stream over
    the command link, while what it read may still be on its way over
    the subscription link (here behind a backlog of other messages): the
    node waits until the subscription has caught up with the read, so
    the subscriber gets every message once."""
    a, = nodes(wsd, redis, 1)
    since = [post(a.port, "/live/lag%d" % i, "m0")["id"] for i in range(3)]
    b = late_node(wsd, redis, "b")
    for i in range(3):
        # A backlog, then the message, then the resume from the stream.
        redis.cmd("EVAL", "for i = 1, 100000 do "
                  "redis.call('PUBLISH', KEYS[1], ARGV[1]) end",
                  "1", "wsd:hub:/elsewhere", "not a wsd message")
        post(a.port, "/live/lag%d" % i, "m1")
        w = helpers.ws_connect(b.port, "/live/lag%d?since=%s" % (
            i, since[i]))
        assert text(w) == "m1"
        assert drain(w, 1.0) == [], "a message came twice"
        w.close()
