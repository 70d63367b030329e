"""test_hub_apps.py -- the issue-4 apps: counter, broadcast, time and relay
(behaviour of the python-websockets Quick start), on raw clients."""

import datetime
import json
import re
import selectors
import socket
import struct
import threading
import time

import helpers
from helpers import (OP_BINARY, OP_CONT, OP_TEXT, close_frame, expect_close,
                     frame, read_message)

TS_RX = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
ERROR_RX = r"wsd\[\d+\]: error: "


def conf(routes, server=None):
    return helpers.make_config(routes=routes, server=server)


def text(c, timeout=None):
    """The next message, which must be text; returns it decoded."""
    op, payload, _ = read_message(c, timeout)
    assert op == OP_TEXT, (op, payload)
    return payload.decode()


def users(n):
    return '{"type":"users","count":%d}' % n


def value(v):
    return '{"type":"value","value":%d}' % v


def nothing_more(c, wait=0.3):
    """Asserts that no frame arrives within wait seconds."""
    try:
        f = helpers.read_frame(c, wait)
    except TimeoutError:
        return
    raise AssertionError("unexpected frame %r" % f)


def parse_ts(s):
    assert TS_RX.match(s), "bad timestamp %r" % s
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc)


def assert_recent(ts):
    now = datetime.datetime.now(datetime.timezone.utc)
    age = abs((now - parse_ts(ts)).total_seconds())
    assert age < 60, "timestamp %s is %.0fs away from now (UTC)" % (ts, age)


# ----------------------------------------------------------------- config

def test_hub_app_config_accepted(tmp_path):
    p = tmp_path / "hub.ini"
    p.write_text(conf([
        ("/time", {"app": "time", "interval_min": "0.2s",
                   "interval_max": "0.4s"}),
        ("/broadcast", {"app": "broadcast", "interval_min": "100ms",
                        "interval_max": "0.3", "slow_client": "drop"}),
        ("/counter", {"app": "counter", "slow_client": "conflate",
                      "max_send_buffer": "16k"}),
        ("/relay", {"app": "relay", "echo_self": "off",
                    "slow_client": "close"}),
    ]))
    rc, out = helpers.run_wsd(["-t", "-c", str(p)])
    assert (rc, out.strip()) == (0, "%s: configuration OK" % p), out


def test_app_key_on_wrong_app(tmp_path):
    p = tmp_path / "bad.ini"
    p.write_text(conf([
        ("/echo", {"app": "echo", "interval_min": "1s"}),
        ("/", {"app": "static", "root": str(tmp_path), "echo_self": "on"}),
        ("/time", {"app": "time", "slow_client": "drop"}),
    ]))
    rc, out = helpers.run_wsd(["-t", "-c", str(p)])
    assert rc == 1, out
    # [server] has 5 lines, a blank, "[route /echo]", app, interval_min.
    assert '%s:9: key "interval_min" is not used by app "echo"' % p in out, \
        out
    assert '%s:14: key "echo_self" is not used by app "static"' % p in out, \
        out
    assert '%s:18: key "slow_client" is not used by app "time"' % p in out, \
        out


def test_bad_hub_keys(tmp_path):
    p = tmp_path / "bad.ini"
    p.write_text(conf([
        ("/relay", {"app": "relay", "slow_client": "sometimes"}),
        ("/time", {"app": "time", "interval_min": "3s",
                   "interval_max": "1s"}),
    ]))
    rc, out = helpers.run_wsd(["-t", "-c", str(p)])
    assert rc == 1, out
    assert re.search(r"(?m)^%s:9: " % re.escape(str(p)), out), out
    assert re.search(r"(?m)^%s:1[1-4]: " % re.escape(str(p)), out), out


# ----------------------------------------------------------------- counter

COUNTER = [("/counter", {"app": "counter"})]


def counter_join(port, members, value_now=0):
    """Connects one more counter client: every member and the newcomer get
    the new user count, the newcomer alone the value. Returns it."""
    c = helpers.ws_connect(port, "/counter")
    n = len(members) + 1
    for m in members:
        assert text(m) == users(n)
    assert text(c) == users(n)
    assert text(c) == value(value_now)
    return c


def test_counter_join_and_leave(wsd):
    d = wsd(conf(COUNTER))
    c1 = counter_join(d.port, [])
    c2 = counter_join(d.port, [c1])
    nothing_more(c1, 0.2)       # the value goes to the newcomer only
    c2.send(frame(OP_TEXT, '{"action":"plus"}'))
    assert text(c1) == value(1)
    assert text(c2) == value(1)
    c3 = counter_join(d.port, [c1, c2], value_now=1)
    # A clean close: the two others hear of it.
    c3.send(close_frame(1000))
    expect_close(c3, 1000)
    c3.close()
    assert text(c1) == users(2)
    assert text(c2) == users(2)
    # TCP dropped without a close frame: the same.
    c2.close()
    assert text(c1) == users(1)
    c1.send(frame(OP_TEXT, '{"action":"minus"}'))
    assert text(c1) == value(0)
    nothing_more(c1)
    c1.close()
    # Alone again: a new client starts over with one user and the value.
    # c1's leave may be counted just after c4's join (its EOF still on
    # the way, or on another worker): c4 hears 2 users, then 1.
    with helpers.ws_connect(d.port, "/counter") as c4:
        first = text(c4)
        assert first in (users(1), users(2)), first
        assert text(c4) == value(0)
        if first == users(2):
            assert text(c4) == users(1)
        nothing_more(c4, 0.2)


def test_counter_leave_at_close_handshake(wsd):
    """The others hear of a leave once the close handshake is done, not when
    the leaving client gets round to closing TCP (close_timeout is long)."""
    d = wsd(conf(COUNTER, server={"close_timeout": "6s"}))
    c1 = counter_join(d.port, [])
    c2 = counter_join(d.port, [c1])
    # Client-initiated close; c2 keeps its socket open afterwards.
    c2.send(close_frame(1000))
    expect_close(c2, 1000)
    assert text(c1, timeout=3) == users(1)
    # Server-initiated close (binary → 1003); the client answers the
    # close but keeps its socket open.
    c3 = counter_join(d.port, [c1])
    c3.send(frame(OP_BINARY, b"x"))
    expect_close(c3, 1003)
    c3.send(close_frame(1003))
    assert text(c1, timeout=3) == users(1)
    for c in (c1, c2, c3):
        c.close()


def counter_burst(clients, senders, plus, minus, rounds=10):
    """Every sender sends `plus` plus then `minus` minus events, `rounds`
    times, all senders at once; every client must then get each change in
    steps of one, all in the same order, and nothing more. Returns the
    final value."""
    barrier = threading.Barrier(len(senders))
    errors = []

    def send(c):
        try:
            barrier.wait(10)
            for _ in range(rounds):
                for a in ["plus"] * plus + ["minus"] * minus:
                    c.send(frame(OP_TEXT, '{"action":"%s"}' % a))
        except Exception as e:      # reported below
            errors.append(e)

    threads = [threading.Thread(target=send, args=(c,)) for c in senders]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert not errors, errors
    changes = len(senders) * rounds * (plus + minus)
    final = len(senders) * rounds * (plus - minus)
    seqs = []
    for c in clients:
        seq = []
        for _ in range(changes):
            m = json.loads(text(c, timeout=10))
            assert list(m) == ["type", "value"] and m["type"] == "value", m
            seq.append(m["value"])
        seqs.append(seq)
    for seq in seqs:
        prev = 0
        for v in seq:
            assert abs(v - prev) == 1, "value %d after %d in %r" % (
                v, prev, seq)
            prev = v
        assert seq[-1] == final, seq
    # One shared counter, published in one order to everyone.
    assert all(s == seqs[0] for s in seqs)
    for c in clients:
        nothing_more(c, 0.2)
    return final


def test_counter_concurrent_plus_minus(wsd):
    d = wsd(conf(COUNTER))
    clients = []
    for i in range(3):
        clients.append(helpers.ws_connect(d.port, "/counter"))
        for c in clients:
            assert text(c) == users(i + 1)
        assert text(clients[-1]) == value(0)
    # 5 plus and 2 minus, ten times: each client interleaves.
    final = counter_burst(clients, clients, 5, 2)
    assert final == 3 * (50 - 20)
    # And a newcomer is told the final value.
    with helpers.ws_connect(d.port, "/counter") as c4:
        assert text(c4) == users(4)
        assert text(c4) == value(final)
    for c in clients:
        c.close()


def reset(c):
    """Drops a client's TCP connection with a reset (SO_LINGER 0)."""
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                      struct.pack("ii", 1, 0))
    c.close()


def test_counter_users_after_resets(wsd):
    d = wsd(conf(COUNTER))
    with helpers.ws_connect(d.port, "/counter") as c0:
        assert [text(c0), text(c0)] == [users(1), value(0)]
        others = []
        for n in range(2, 21):
            others.append(helpers.ws_connect(d.port, "/counter"))
            assert text(c0) == users(n)
        for c in others[:10]:
            reset(c)
        # Users messages counting down (coalesced: not one per leave)
        # to the exact count.
        assert users_down_to(c0, 10)[0] <= 19
        for c in others[10:]:
            c.close()
        assert users_down_to(c0, 1)[0] <= 9
        c0.send(frame(OP_TEXT, '{"action":"plus"}'))
        assert text(c0) == value(1)
        nothing_more(c0)


def test_counter_users_coalesced(wsd):
    # 20 clients join and 15 of them leave in a burst: a member gets a
    # handful of users messages (one per 50 ms window), not one per join
    # and leave (35), and the last one is the exact count.
    d = wsd(conf(COUNTER))
    with helpers.ws_connect(d.port, "/counter") as obs:
        assert [text(obs), text(obs)] == [users(1), value(0)]
        socks = [helpers.Conn(d.port) for _ in range(20)]
        try:
            keys = [helpers.ws_key() for _ in socks]
            for s, k in zip(socks, keys):
                s.send(helpers.upgrade_request("/counter", k))
            for s in socks:
                assert helpers.read_response(s, True).status == 101
            for s in socks[:15]:
                reset(s)
            counts = []
            while True:
                try:
                    m = json.loads(text(obs, 1.0))
                except TimeoutError:
                    break       # quiet for a second: the burst is over
                assert list(m) == ["type", "count"], m
                assert m["type"] == "users" and 2 <= m["count"] <= 21, m
                counts.append(m["count"])
            assert counts and counts[-1] == 6, counts
            assert len(counts) <= 6, counts
            # After a quiet spell a join goes out at once (well within a
            # second), and the newcomer learns the count and the value.
            with helpers.ws_connect(d.port, "/counter") as c:
                assert text(obs, 1.0) == users(7)
                assert [text(c), text(c)] == [users(7), value(0)]
                nothing_more(c)
            assert text(obs) == users(6)
        finally:
            for s in socks:
                s.close()


def users_down_to(c, n, timeout=5.0):
    """Reads users messages, each count below the one before, until the
    count is n; returns the counts. Nothing else may come in between."""
    counts = []
    deadline = time.monotonic() + timeout
    while not counts or counts[-1] != n:
        m = json.loads(text(c, max(0.1, deadline - time.monotonic())))
        assert list(m) == ["type", "count"] and m["type"] == "users", m
        assert m["count"] >= n and (not counts or m["count"] < counts[-1]), \
            (counts, m)
        counts.append(m["count"])
    return counts


BAD_COUNTER_INPUT = [
    b"{", b"not json", b"", b'{"action":"plus"', b"[1,2]", b'"plus"', b"42",
    b"null", b"{}", b'{"foo":"plus"}', b'{"action":"jump"}',
    b'{"action":1}',
]


def unsupported_rx(port):
    return (r"wsd\[\d+\]: info: counter: 127\.0\.0\.1:%d: unsupported "
            r"event: " % port)


def suppressed_rx(port, n):
    return (r"wsd\[\d+\]: info: 127\.0\.0\.1:%d: counter: unsupported "
            r"event: %d similar messages suppressed$" % (port, n))


def test_counter_bad_input_logged_and_ignored(wsd):
    d = wsd(conf(COUNTER))
    with helpers.ws_connect(d.port, "/counter") as c:
        port = c.sock.getsockname()[1]
        assert text(c) == users(1)
        assert text(c) == value(0)
        for n, bad in enumerate(BAD_COUNTER_INPUT):
            c.send(frame(OP_TEXT, bad))
            c.send(frame(OP_TEXT, '{"action":"plus"}'))
            # The bad one changed nothing, the plus behind it works.
            assert text(c) == value(n + 1), bad
        nothing_more(c)
        # The first five are logged, at info (a client's mistake is not
        # the daemon's error), with what the client sent.
        lines = [l for l in d.log_lines()
                 if re.search(unsupported_rx(port), l)]
        assert [l.split("unsupported event: ", 1)[1] for l in lines] == \
            [b.decode() for b in BAD_COUNTER_INPUT[:5]], lines
    # The rest are counted, and reported when the connection ends.
    d.wait_log(suppressed_rx(port, len(BAD_COUNTER_INPUT) - 5))
    assert not [l for l in d.log_lines() if re.search(ERROR_RX, l)]


def test_counter_bad_input_flood_rate_limited(wsd):
    # 5000 malformed messages from one client cannot flood the log: a few
    # lines, then one that counts the rest, none at error level.
    d = wsd(conf(COUNTER))
    flood = (frame(OP_TEXT, '{"action":"bogus"}') +
             frame(OP_TEXT, "not json")) * 2500
    with helpers.ws_connect(d.port, "/counter") as c:
        port = c.sock.getsockname()[1]
        assert [text(c), text(c)] == [users(1), value(0)]
        c.send(flood + frame(OP_TEXT, '{"action":"plus"}'))
        assert text(c, timeout=20) == value(1)
        c.send(close_frame(1000))
        expect_close(c, 1000)
    d.wait_log(r"access: 127\.0\.0\.1:%d ws /counter " % port)
    about = [l for l in d.log_lines() if "127.0.0.1:%d" % port in l]
    assert len(about) <= 10, about
    assert len([l for l in about if re.search(unsupported_rx(port), l)]) \
        == 5, about
    assert len([l for l in about if re.search(suppressed_rx(port, 4995),
                                               l)]) == 1, about
    assert not [l for l in d.log_lines() if re.search(ERROR_RX, l)]


def test_counter_binary_closes_1003(wsd):
    d = wsd(conf(COUNTER))
    with helpers.ws_connect(d.port, "/counter") as c1, \
            helpers.ws_connect(d.port, "/counter") as c2:
        assert [text(c1), text(c1), text(c1)] == [users(1), value(0),
                                                  users(2)]
        assert [text(c2), text(c2)] == [users(2), value(0)]
        port = c2.sock.getsockname()[1]
        c2.send(frame(OP_BINARY, b'{"action":"plus"}'))
        expect_close(c2, 1003)
        c2.send(close_frame(1003))
        assert c2.wait_closed(3)
        c2.close()      # wsd lingers until our EOF (or close_timeout)
        assert text(c1, 0.8) == users(1)
        c1.send(frame(OP_TEXT, '{"action":"plus"}'))
        assert text(c1) == value(1)     # the binary plus did nothing
    d.wait_log(r"access: 127\.0\.0\.1:%d ws /counter .*close=1003" % port)


# ----------------------------------------------------------------- broadcast

def test_broadcast_500_clients_same_timestamps(wsd):
    n = 500
    helpers.raise_nofile(2 * n + 200)      # for us and for wsd
    d = wsd(conf([("/broadcast", {"app": "broadcast",
                                  "interval_min": "0.1s",
                                  "interval_max": "0.3s"})]))
    streams = helpers.ws_connect_many(d.port, "/broadcast", n, timeout=20)
    sel = selectors.DefaultSelector()
    got = {}
    for w in streams:
        sel.register(w, selectors.EVENT_READ)
        got[w] = []
    seen = {}           # timestamp -> number of clients that got it
    common = []
    deadline = time.monotonic() + 15
    try:
        while len(common) < 3:
            assert time.monotonic() < deadline, (
                "no 3 ticks seen by all %d clients within 15s; "
                "%d distinct timestamps, counts %r" % (
                    n, len(seen), sorted(seen.values())[-10:]))
            for key, _ in sel.select(0.5):
                w = key.fileobj
                for op, payload in w.pump():
                    assert op == OP_TEXT, (op, payload)
                    ts = payload.decode()
                    assert TS_RX.match(ts), ts
                    got[w].append(ts)
                    seen[ts] = seen.get(ts, 0) + 1
                    if seen[ts] == n:
                        common.append(ts)
                assert not w.eof and w.close_frame is None, (
                    "client closed: %r" % w.close_frame)
        common.sort()
        for ts in common:
            assert_recent(ts)
        assert len(set(common)) == 3
        # Each client saw exactly these ticks in a row, nothing between.
        for w in streams:
            i = got[w].index(common[0])
            assert got[w][i:i + 3] == common, got[w]
        # Ticks only: timestamps increase for every client.
        for w in streams:
            assert got[w] == sorted(got[w]) and len(set(got[w])) == len(
                got[w]), got[w]
    finally:
        sel.close()
        for w in streams:
            w.close()


def test_broadcast_ignores_text_binary_1003(wsd):
    d = wsd(conf([("/broadcast", {"app": "broadcast",
                                  "interval_min": "0.1s",
                                  "interval_max": "0.2s"})]))
    with helpers.ws_connect(d.port, "/broadcast") as c1, \
            helpers.ws_connect(d.port, "/broadcast") as c2:
        c1.send(frame(OP_TEXT, "anyone there?"))
        for _ in range(3):
            assert TS_RX.match(text(c1))
        c1.send(frame(OP_BINARY, b"\x01\x02"))
        # Ticks may come before the close.
        while True:
            f = helpers.read_frame(c1)
            if f.opcode == helpers.OP_CLOSE:
                assert f.close_code == 1003, f
                break
            assert f.opcode in (OP_TEXT, helpers.OP_PING), f
        # The other member keeps getting ticks.
        for _ in range(3):
            assert TS_RX.match(text(c2))


# ----------------------------------------------------------------- time

TIME_MIN, TIME_MAX, TOLERANCE = 0.2, 0.4, 0.15


def time_conf():
    return conf([("/time", {"app": "time", "interval_min": "%gs" % TIME_MIN,
                            "interval_max": "%gs" % TIME_MAX})])


def collect_time(clients, count, timeout=15):
    """Reads count timestamps from every client (concurrently); returns
    [[(arrival monotonic, timestamp)]] per client."""
    out = [[] for _ in clients]
    streams = [helpers.ws_stream(c) for c in clients]
    sel = selectors.DefaultSelector()
    for i, w in enumerate(streams):
        sel.register(w, selectors.EVENT_READ, i)
    deadline = time.monotonic() + timeout
    try:
        while min(len(o) for o in out) < count:
            assert time.monotonic() < deadline, out
            for key, _ in sel.select(0.5):
                w = streams[key.data]
                now = time.monotonic()
                for op, payload in w.pump():
                    assert op == OP_TEXT, (op, payload)
                    out[key.data].append((now, payload.decode()))
                assert not w.eof and w.close_frame is None
    finally:
        sel.close()
    return out


def intervals(series):
    stamps = [parse_ts(ts) for _, ts in series]
    return [(b - a).total_seconds() for a, b in zip(stamps, stamps[1:])]


def test_time_intervals(wsd):
    d = wsd(time_conf())
    with helpers.ws_connect(d.port, "/time") as c:
        t0 = time.monotonic()
        c.send(frame(OP_TEXT, "ignored"))       # text is ignored
        series = collect_time([c], 9)[0]
    for _, ts in series:
        assert TS_RX.match(ts), ts
        assert_recent(ts)
    # The first one comes after a delay, not at once.
    assert series[0][0] - t0 >= TIME_MIN - TOLERANCE, (series[0][0] - t0)
    lo, hi = TIME_MIN - TOLERANCE, TIME_MAX + TOLERANCE
    gaps = intervals(series)
    assert all(lo <= g <= hi for g in gaps), gaps
    arrivals = [b[0] - a[0] for a, b in zip(series, series[1:])]
    assert all(lo <= g <= hi + 0.2 for g in arrivals), arrivals
    # Random, not a fixed period.
    assert max(gaps) - min(gaps) > 0.01, gaps


def test_time_clients_independent(wsd):
    d = wsd(time_conf())
    with helpers.ws_connect(d.port, "/time") as c1, \
            helpers.ws_connect(d.port, "/time") as c2:
        s1, s2 = collect_time([c1, c2], 7)
    # (A shared schedule would give the same timestamps; two timers can
    # still fire together now and then.)
    assert len({ts for _, ts in s1} & {ts for _, ts in s2}) < 3, (s1, s2)
    g1, g2 = intervals(s1[:7]), intervals(s2[:7])
    lo, hi = TIME_MIN - TOLERANCE, TIME_MAX + TOLERANCE
    assert all(lo <= g <= hi for g in g1 + g2), (g1, g2)
    # Separate random schedules: the gaps do not follow each other.
    assert any(abs(a - b) > 0.01 for a, b in zip(g1, g2)), (g1, g2)


def test_time_binary_closes_1003(wsd):
    d = wsd(time_conf())
    with helpers.ws_connect(d.port, "/time") as c:
        c.send(frame(OP_BINARY, b"\x00"))
        while True:
            f = helpers.read_frame(c)
            if f.opcode == helpers.OP_CLOSE:
                assert f.close_code == 1003, f
                break
            assert f.opcode == OP_TEXT, f


# ----------------------------------------------------------------- relay

RELAY = [("/relay", {"app": "relay"}),
         ("/quiet", {"app": "relay", "echo_self": "off"})]


def test_relay_echo_self_on(wsd):
    d = wsd(conf(RELAY))
    members = [helpers.ws_connect(d.port, "/relay") for _ in range(5)]
    other = helpers.ws_connect(d.port, "/quiet")
    try:
        for i, sender in enumerate(members):
            sender.send(frame(OP_TEXT, "from %d: żółw 🐢" % i))
            for m in members:        # the sender too
                assert read_message(m)[:2] == (
                    OP_TEXT, ("from %d: żółw 🐢" % i).encode())
        blob = bytes(range(256)) * 300
        members[2].send(frame(OP_BINARY, blob))
        for m in members:
            assert read_message(m)[:2] == (OP_BINARY, blob)
        # A fragmented message is relayed as one message.
        members[4].send(frame(OP_TEXT, "frag", fin=False)
                        + frame(OP_CONT, "mented"))
        for m in members:
            assert read_message(m)[:2] == (OP_TEXT, b"fragmented")
        # Another route's hub is another group.
        nothing_more(other, 0.2)
        for m in members:
            nothing_more(m, 0.1)
    finally:
        for m in members + [other]:
            m.close()


def test_relay_echo_self_off(wsd):
    d = wsd(conf(RELAY))
    members = [helpers.ws_connect(d.port, "/quiet") for _ in range(5)]
    try:
        for i, sender in enumerate(members):
            sender.send(frame(OP_TEXT, "quiet %d" % i))
            for j, m in enumerate(members):
                if j != i:
                    assert read_message(m)[:2] == (
                        OP_TEXT, b"quiet %d" % i)
        blob = bytes(range(255, -1, -1)) * 10
        members[0].send(frame(OP_BINARY, blob))
        for m in members[1:]:
            assert read_message(m)[:2] == (OP_BINARY, blob)
        # Nobody got their own: each member's next message is the one
        # member 1 sends now (its own would have come first).
        members[1].send(frame(OP_TEXT, "last"))
        for j, m in enumerate(members):
            if j != 1:
                assert read_message(m)[:2] == (OP_TEXT, b"last")
        for m in members:
            nothing_more(m, 0.1)
    finally:
        for m in members:
            m.close()


def test_relay_members_vanish_while_publishing(wsd):
    d = wsd(conf(RELAY))
    stable = [helpers.ws_stream(helpers.ws_connect(d.port, "/quiet"))
              for _ in range(5)]
    vanishing = [helpers.ws_connect(d.port, "/quiet") for _ in range(30)]
    pub = helpers.ws_connect(d.port, "/quiet")
    pub.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    got = {w: [] for w in stable}
    try:
        for i in range(300):
            pub.send(frame(OP_TEXT, "message %d " % i + "x" * 1000))
            if i % 10 == 5:
                reset(vanishing.pop())
            for w in stable:
                got[w] += w.pump()
        deadline = time.monotonic() + 10
        while min(len(g) for g in got.values()) < 300:
            assert time.monotonic() < deadline, [len(g) for g in got.values()]
            time.sleep(0.01)
            for w in stable:
                got[w] += w.pump()
                assert not w.eof
        want = [(OP_TEXT, b"message %d " % i + b"x" * 1000)
                for i in range(300)]
        for w in stable:
            assert got[w] == want
        assert d.alive()
    finally:
        for c in stable + vanishing + [pub]:
            c.close()


def test_relay_members_leaving(wsd):
    d = wsd(conf(RELAY))
    members = [helpers.ws_connect(d.port, "/relay") for _ in range(3)]
    try:
        members[0].send(close_frame(1000))
        expect_close(members[0], 1000)
        members[1].close()
        time.sleep(0.2)
        members[2].send(frame(OP_TEXT, "still here"))
        assert read_message(members[2])[:2] == (OP_TEXT, b"still here")
        assert d.alive()
    finally:
        for m in members:
            m.close()
