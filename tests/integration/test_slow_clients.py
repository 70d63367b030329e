"""test_slow_clients.py -- the hub's slow_client policies (close, drop,
conflate): a client with a small receive buffer stops reading while a
publisher keeps publishing and normal members keep reading.

The slow client's kernel buffers (its receive buffer and wsd's send buffer,
a few MB on loopback) fill first; only then does wsd's own pending output
pass max_send_buffer (16k here) and the policy start. The publisher keeps
at most WINDOW messages ahead of the normal readers, so their pending
output stays far below the limit: they must get every message."""

import os
import re
import selectors
import socket
import struct
import time

import helpers
from helpers import OP_BINARY, OP_TEXT, frame, read_message

WINDOW = 3
MSG = 8 * 1024
FILLER = bytes(range(256)) * ((MSG - 8) // 256) + b"\xa5" * ((MSG - 8) % 256)
LIMIT = 16 * 1024      # max_send_buffer
RSS_GROWTH_KB = 50 * 1024
SLOW_RCVBUF = 4096


def relay_conf(policy):
    return helpers.make_config(routes=[("/relay", {
        "app": "relay", "echo_self": "off", "slow_client": policy,
        "max_send_buffer": "16k"})])


def relay_frame(seq):
    """A masked binary frame; the zero mask key leaves the payload as is."""
    payload = struct.pack("!Q", seq) + FILLER
    return struct.pack("!BBH", 0x80 | OP_BINARY, 0x80 | 126, len(payload)) \
        + b"\0\0\0\0" + payload


def check_relayed(payload):
    """The sequence number of an intact relayed message."""
    assert len(payload) == MSG and payload[8:] == FILLER, (
        "corrupt message of %d bytes" % len(payload))
    return struct.unpack("!Q", payload[:8])[0]


class Reader:
    """A normal member: reads everything, checks order and content."""

    def __init__(self, conn, check):
        self.w = helpers.ws_stream(conn)
        self.check = check
        self.got = []

    def fileno(self):
        return self.w.fileno()

    def pump(self):
        for op, payload in self.w.pump():
            self.got.append(self.check(op, payload))
        assert not self.w.eof and self.w.close_frame is None, (
            "a normal member was closed: %r" % self.w.close_frame)


def relay_check(op, payload):
    assert op == OP_BINARY, (op, payload[:40])
    return check_relayed(payload)


class RssWatch(helpers.RssWatch):
    """Tracks wsd's peak VmRSS above a baseline."""

    def check(self):
        self.sample()
        growth = self.peak - self.base
        assert growth < RSS_GROWTH_KB, (
            "wsd grew by %d kB (from %d kB)" % (growth, self.base))


def publish_paced(send, readers, count, rss, window=WINDOW, chunk=1,
                  timeout=40):
    """Publishes count messages, send(i, k) sending k of them from the
    i-th on, never more than window ahead of the slowest reader; returns
    once every reader has them all."""
    sel = selectors.DefaultSelector()
    for r in readers:
        sel.register(r, selectors.EVENT_READ)
    base = [len(r.got) for r in readers]
    deadline = time.monotonic() + timeout
    sent = 0
    try:
        while True:
            done = min(len(r.got) - b for r, b in zip(readers, base))
            wait = 0.5
            if sent < count and sent - done + chunk <= window:
                k = min(chunk, count - sent)
                send(sent, k)
                sent += k
                if sent // 256 != (sent - k) // 256:
                    rss.sample()
                wait = 0
            elif done >= count:
                return
            assert time.monotonic() < deadline, (
                "publishing stalled at %d of %d; readers have %r" % (
                    sent, count, [len(r.got) - b
                                  for r, b in zip(readers, base)]))
            for key, _ in sel.select(wait):
                key.fileobj.pump()
    finally:
        sel.close()


def drain(w, until=None, idle=1.0, timeout=20):
    """Reads a slow client again: returns its messages once until(msgs) is
    true or nothing came for idle seconds (or at EOF)."""
    out = []
    deadline = time.monotonic() + timeout
    last = time.monotonic()
    sel = selectors.DefaultSelector()
    sel.register(w, selectors.EVENT_READ)
    try:
        while not w.eof:
            if until and until(out):
                break
            now = time.monotonic()
            assert now < deadline, "still reading after %ds" % timeout
            if now - last > idle:
                break
            if sel.select(0.2):
                msgs = w.pump(64)
                if msgs:
                    last = time.monotonic()
                out += msgs
    finally:
        sel.close()
    return out


def nodelay(conn):
    """Publishers send back to back: without TCP_NODELAY, Nagle holds
    each write until wsd's delayed ACK (tens of ms)."""
    conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return conn


def wire_size(msgs):
    """Bytes of the server frames that carried msgs (unfragmented)."""
    return sum(len(p) + (2 if len(p) < 126 else 4 if len(p) < 65536 else 10)
               for _, p in msgs)


def kernel_queued(port, sport):
    """Bytes on their way to the slow client that sit in the kernel: wsd's
    send queue plus the client's unread receive queue; None when wsd's
    socket is gone."""
    a = helpers.tcp_queue_bytes(port, sport)
    b = helpers.tcp_queue_bytes(sport, port) or (0, 0)
    return None if a is None else a[0] + b[1]


def setup_relay(wsd, policy):
    d = wsd(relay_conf(policy))
    slow = helpers.ws_connect(d.port, "/relay", rcvbuf=SLOW_RCVBUF)
    readers = [Reader(helpers.ws_connect(d.port, "/relay"), relay_check)
               for _ in range(2)]
    pub = nodelay(helpers.ws_connect(d.port, "/relay"))
    return d, slow, readers, pub


# Every message goes to three members: 3 * 8 KiB * 8000 = 192 MiB of
# fan-out, 64 MiB of it for the slow client, far more than its kernel
# buffers and than the RSS bound.
RELAY_TOTAL = 8000


def relay_sender(pub, first=0):
    def send(i, k):
        for seq in range(first + i, first + i + k):
            pub.send(relay_frame(seq))
    return send


def test_slow_client_close(wsd):
    d, slow, readers, pub = setup_relay(wsd, "close")
    # A second slow client: both go, likely in the same publish.
    slow2 = helpers.ws_connect(d.port, "/relay", rcvbuf=SLOW_RCVBUF)
    rss = RssWatch(d.pid)
    try:
        publish_paced(relay_sender(pub), readers, RELAY_TOTAL, rss)
        for r in readers:
            assert r.got == list(range(RELAY_TOTAL))
        rss.check()
        for c in (slow, slow2):
            sport = c.sock.getsockname()[1]
            # Closed while it was not reading: logged, with 1008.
            d.wait_log(r"access: 127\.0\.0\.1:%d ws /relay .*close=1008"
                       % sport, timeout=5)
            others = [l for l in d.log_lines()
                      if ("127.0.0.1:%d" % sport in l or "slow" in l.lower())
                      and "access:" not in l]
            assert others, "no log line about the slow client:\n" + \
                d.log_tail()
            # Reading again: what was buffered, maybe the close, the end.
            queued = kernel_queued(d.port, sport)
            w = helpers.ws_stream(c)
            msgs = drain(w, idle=5)
            if queued is not None:
                # wsd itself never held more than the limit and a message.
                assert wire_size(msgs) <= queued + LIMIT + MSG + 1024, (
                    wire_size(msgs), queued)
            assert w.eof, "the slow client is still connected"
            if w.close_frame is not None:
                assert w.close_frame.close_code == 1008, w.close_frame
            seqs = [relay_check(op, p) for op, p in msgs]
            assert seqs == list(range(len(seqs))), "gaps before the close"
            assert len(seqs) < RELAY_TOTAL
        # The hub still works for the others.
        publish_paced(relay_sender(pub, RELAY_TOTAL), readers, 1, rss)
        for r in readers:
            assert r.got[-1] == RELAY_TOTAL
        rss.check()
    finally:
        for c in [slow, slow2, pub] + [r.w for r in readers]:
            c.close()


def test_slow_client_drop(wsd):
    d, slow, readers, pub = setup_relay(wsd, "drop")
    rss = RssWatch(d.pid)
    try:
        publish_paced(relay_sender(pub), readers, RELAY_TOTAL, rss)
        for r in readers:
            assert r.got == list(range(RELAY_TOTAL))
        rss.check()
        queued = kernel_queued(d.port, slow.sock.getsockname()[1])
        w = helpers.ws_stream(slow)
        msgs = drain(w, idle=1.0)
        assert not w.eof and w.close_frame is None, (
            "drop closed the slow client: %r" % w.close_frame)
        seqs = [relay_check(op, p) for op, p in msgs]
        assert seqs == sorted(set(seqs)), "out of order or repeated"
        assert 0 < len(seqs) < RELAY_TOTAL, len(seqs)
        # Besides what the kernel held, wsd kept at most the limit and
        # the message that crossed it; the rest was dropped.
        assert wire_size(msgs) <= queued + LIMIT + MSG + 1024, (
            wire_size(msgs), queued)
        # Drained, it gets new messages again, like everyone.
        marker = RELAY_TOTAL + 7
        publish_paced(relay_sender(pub, marker), readers, 1, rss)
        for r in readers:
            assert r.got[-1] == marker
        last = drain(w, until=lambda m: m, idle=5)
        assert [relay_check(op, p) for op, p in last] == [marker]
        rss.check()
    finally:
        for c in [slow, pub] + [r.w for r in readers]:
            c.close()


# ----------------------------------------------------------------- counter

MSG_RX = re.compile(rb'^\{"type":"(users|value)","(?:count|value)":(-?\d+)\}$')
PLUS = frame(OP_TEXT, '{"action":"plus"}', key=b"\0\0\0\0")
BATCH = 2000        # value messages per check of the kernel queues
CHUNK = 250         # plus actions per write, two writes ahead at most


def counter_check(op, payload):
    """("users", N) or ("value", V) from a counter message."""
    assert op == OP_TEXT, (op, payload)
    m = MSG_RX.match(payload)
    assert m and m.group(1) in (b"users", b"value") and (
        (m.group(1) == b"users") == payload.startswith(b'{"type":"users",'
                                                       b'"count":')), payload
    return m.group(1).decode(), int(m.group(2))


def values(got):
    return [v for kind, v in got if kind == "value"]


def plus_sender(pub):
    return lambda i, k: pub.w.send(PLUS * k)


def setup_counter(wsd, policy):
    """A counter route; the slow client joins first, then three readers
    (the first one publishes), one at a time, join messages read."""
    d = wsd(helpers.make_config(routes=[("/counter", {
        "app": "counter", "slow_client": policy,
        "max_send_buffer": "16k"})]))
    slow = helpers.ws_connect(d.port, "/counter", rcvbuf=SLOW_RCVBUF)
    conns = []
    for i in range(3):
        conns.append(nodelay(helpers.ws_connect(d.port, "/counter")))
        for c in conns:
            assert read_message(c)[1] == b'{"type":"users","count":%d}' % (
                i + 2)
        assert read_message(conns[-1])[1] == b'{"type":"value","value":0}'
    readers = [Reader(c, counter_check) for c in conns]
    return d, slow, readers


def fill_counter(readers, rss, total, done, limit=1500000):
    """Publishes plus actions in batches until done(total) is true;
    returns the new total (the counter's value)."""
    while not done(total):
        assert total < limit, "the slow client's buffers never filled"
        publish_paced(plus_sender(readers[0]), readers, BATCH, rss,
                      window=2 * CHUNK, chunk=CHUNK)
        total += BATCH
    return total


def test_slow_client_conflate(wsd):
    d, slow, readers, = setup_counter(wsd, "conflate")
    sport = slow.sock.getsockname()[1]
    rss = RssWatch(d.pid)
    extra_client = None

    def queued():
        return kernel_queued(d.port, sport) or 0

    try:
        # Publish until the slow client's kernel buffers stop growing
        # (full: from now on wsd's own output fills), then 30000 more,
        # which must be conflated for it.
        state = {"stable": 0, "high": -1, "full_at": None}

        def done(total):
            if state["full_at"] is not None:
                return total >= state["full_at"] + 30000
            time.sleep(0.02)
            q = queued()
            state["stable"] = state["stable"] + 1 \
                if q <= state["high"] + 512 else 0
            state["high"] = max(q, state["high"])
            if state["stable"] >= 3:
                state["full_at"] = total
            return False

        total = fill_counter(readers, rss, 0, done)
        # A join: users (key 0) is conflated apart from value (key 1).
        extra_client = Reader(helpers.ws_connect(d.port, "/counter"),
                              counter_check)
        publish_paced(lambda i, k: None, readers, 1, rss)
        for r in readers:
            assert r.got[-1] == ("users", 5)
        total = fill_counter(readers + [extra_client], rss, total,
                             lambda t: t >= total + BATCH)
        for r in readers:
            assert values(r.got) == list(range(1, total + 1)), (
                "a reader lost values")
        assert extra_client.got[:2] == [("users", 5),
                                        ("value", total - BATCH)]
        rss.check()
        in_kernel = queued()
        read_early = len(slow.buf)      # join messages read with the 101
        w = helpers.ws_stream(slow)
        want = b'{"type":"value","value":%d}' % total
        msgs = drain(w, until=lambda m: m and m[-1][1] == want, idle=3)
        assert not w.eof and w.close_frame is None, w.close_frame
        got = [counter_check(op, p) for op, p in msgs]
        assert [v for k, v in got if k == "users"] == [1, 2, 3, 4, 5], got
        # The newest of each key, in publish order: the join came before
        # the last batch of plus. (Usually users 5 comes right before the
        # final value; when the kernel grows a socket buffer late, wsd's
        # backlog drains early and newer values follow normally.)
        assert got[-1] == ("value", total), got[-5:]
        joined = got.index(("users", 5))
        assert all(v <= total - BATCH for k, v in got[:joined]
                   if k == "value"), got[joined - 3:joined + 3]
        assert all(v > total - BATCH for k, v in got[joined + 1:]
                   if k == "value"), got[joined - 3:joined + 3]
        vals = values(got)
        assert vals == sorted(set(vals)) and vals[0] == 0, (
            "values out of order")
        assert total - len(vals) >= 10000, (
            "%d of %d values: not conflated" % (len(vals), total))
        # Past what the kernel held, wsd sent at most the limit and the
        # conflated newest values.
        extra = wire_size(msgs) - read_early - in_kernel
        assert extra <= LIMIT + 1024, (extra, in_kernel)
        # Nothing more is queued for it.
        assert not drain(w, idle=0.5)
        # And it is a member like the others again.
        publish_paced(plus_sender(readers[0]), readers, 1, rss)
        assert [counter_check(op, p) for op, p in
                drain(w, until=lambda m: m, idle=5)] == [
                    ("value", total + 1)]
    finally:
        for c in [slow] + [r.w for r in readers]:
            c.close()
        if extra_client:
            extra_client.w.close()


def test_slow_client_close_counter_leaves(wsd):
    # The close policy on a counter: the slow client goes with 1008 and
    # the others are told there is one user less.
    d, slow, readers = setup_counter(wsd, "close")
    sport = slow.sock.getsockname()[1]
    rss = RssWatch(d.pid)
    closed = re.compile(r"access: 127\.0\.0\.1:%d ws /counter .*close=1008"
                        % sport)
    try:
        total = fill_counter(readers, rss, 0,
                             lambda t: closed.search(d.log_text()))
        deadline = time.monotonic() + 5
        while not all(("users", 3) in r.got for r in readers):
            assert time.monotonic() < deadline, [r.got[-3:] for r in readers]
            time.sleep(0.01)
            for r in readers:
                r.pump()
        for r in readers:
            assert r.got.count(("users", 3)) == 1, r.got[-5:]
            assert values(r.got) == list(range(1, total + 1))
        rss.check()
        w = helpers.ws_stream(slow)
        msgs = drain(w, idle=5)
        assert w.eof, "the slow client is still connected"
        if w.close_frame is not None:
            assert w.close_frame.close_code == 1008, w.close_frame
        vals = values(counter_check(op, p) for op, p in msgs)
        assert vals == list(range(len(vals))) and len(vals) < total
        # One user less: a newcomer is the fourth.
        with helpers.ws_connect(d.port, "/counter") as c:
            assert read_message(c)[1] == b'{"type":"users","count":4}'
    finally:
        for c in [slow] + [r.w for r in readers]:
            c.close()


def test_tiny_messages_stay_within_max_send_buffer(wsd):
    """Many members that never read, a flood of tiny messages published
    faster than wsd writes them out: what wsd holds per member stays near
    max_send_buffer, not a multiple of it. (A frame
    shared by reference costs libevent a 1 KiB chain; tiny frames are
    copied instead, so the bytes counted are the bytes held.)"""
    members, total, limit = 100, 30000, 16 * 1024
    d = wsd(helpers.make_config(routes=[
        ("/relay", {"app": "relay", "echo_self": "off",
                    "slow_client": "drop", "max_send_buffer": "16k"}),
        ("/metrics", {"app": "metrics"})],
        server={"max_connections": "1000"}))
    slow = [helpers.ws_connect(d.port, "/relay", rcvbuf=SLOW_RCVBUF)
            for _ in range(members)]
    pub = nodelay(helpers.ws_connect(d.port, "/relay"))
    rss = RssWatch(d.pid)
    msg = frame(OP_TEXT, b"0123456789abcdef")
    for i in range(0, total, 100):
        pub.send(msg * 100)
    rx = re.compile(rb'wsd_messages_received_total\{route="/relay"\} (\d+)')
    deadline = time.monotonic() + 30
    while True:
        body = helpers.http_get(d.port, "/metrics").body
        if int(rx.search(body).group(1)) == total:
            break
        assert time.monotonic() < deadline, "wsd did not take every message"
        time.sleep(0.1)
    rss.sample()
    growth = rss.peak - rss.base
    bound = members * 3 * limit // 1024 + 4096
    if os.environ.get("WSD_SANITIZED") == "1":
        bound += 32 * 1024
    assert growth < bound, "wsd grew by %d kB for %d members (bound %d kB)" % (
        growth, members, bound)
    for c in slow:
        c.close()
    pub.close()
