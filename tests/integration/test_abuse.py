"""test_abuse.py -- limits under abuse (issue 6 item 3).

Each case abuses one limit from several connections at once and checks
three things: the abusers get the answer the limit promises (an HTTP
status, a close code, or their TCP connection dropped in time), another
client is served normally while the abuse goes on, and wsd's resident
memory (VmRSS) after the abuse stays within a bound far below what the
abusers sent. RSS numbers go to stdout (`pytest -s`) and, with
WSD_TEST_OUTPUT set, to abuse-rss.txt there. Under the sanitizers
(WSD_SANITIZED=1; test.sh caps ASan's quarantine of freed memory at 8 MiB)
the quarantine and shadow memory stay resident, so the bounds get
SANITIZER_SLACK on top: still far below what the abusers send.
"""

import os
import select
import socket
import struct
import threading
import time

import pytest

import helpers
from helpers import (OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_TEXT, Conn,
                     frame, proc_rss_kb, read_message, request)

MIB = 1024
SANITIZED = os.environ.get("WSD_SANITIZED") == "1"
SANITIZER_SLACK = 32 * MIB if SANITIZED else 0


# --------------------------------------------------------------- helpers

class Abuser:
    """A non-blocking client that sends `feed` (an iterator of byte
    strings, endless or not) as fast as wsd takes it, up to `limit` bytes,
    and keeps everything wsd sends back in `received` (reads=False: reads
    nothing, like a client that never reads). It goes on sending after
    wsd's FIN, until wsd resets the connection."""

    def __init__(self, sock, feed, limit, received=b"", reads=True):
        self.sock = sock
        self.sock.setblocking(False)
        self.feed = iter(feed)
        self.limit = limit
        self.reads = reads
        self.pending = b""
        self.sent = 0
        self.sending = True     # until the limit, the feed's end or a reset
        self.eof = False
        self.received = bytearray(received)

    def fileno(self):
        return self.sock.fileno()

    def close(self):
        self.sock.close()

    def on_writable(self):
        if not self.pending:
            try:
                self.pending = next(self.feed)
            except StopIteration:
                self.sending = False
                return
        try:
            n = self.sock.send(self.pending[:256 * 1024])
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self.sending = False
            return
        self.pending = self.pending[n:]
        self.sent += n
        if self.sent >= self.limit:
            self.sending = False

    def on_readable(self):
        try:
            data = self.sock.recv(1 << 20)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
            self.sending = False
        if not data:
            self.eof = True
        else:
            self.received += data

    def read_to_eof(self, timeout):
        """Reads (blocking) until wsd closes or timeout; True on EOF."""
        deadline = time.monotonic() + timeout
        while not self.eof and time.monotonic() < deadline:
            if select.select([self.sock], [], [], 0.1)[0]:
                self.on_readable()
        return self.eof


def drive(abusers, timeout, linger=3.0):
    """Runs the abusers until each has stopped sending and wsd has closed
    its connection or gone quiet for `linger` seconds (at once for those
    that do not read). Returns the seconds it took."""
    t0 = time.monotonic()
    deadline = t0 + timeout
    last_read = {a: t0 for a in abusers}
    while True:
        now = time.monotonic()
        live = [a for a in abusers if a.sending or
                (a.reads and not a.eof and now - last_read[a] < linger)]
        if not live or now > deadline:
            return now - t0
        poller = select.poll()
        for a in live:
            poller.register(a, (select.POLLIN if a.reads and not a.eof
                                else 0) |
                            (select.POLLOUT if a.sending else 0))
        byfd = {a.fileno(): a for a in live}
        for fd, ev in poller.poll(100):
            a = byfd[fd]
            if a.reads and not a.eof and ev & (select.POLLIN |
                                               select.POLLHUP |
                                               select.POLLERR):
                a.on_readable()
                last_read[a] = time.monotonic()
            if a.sending and ev & (select.POLLOUT | select.POLLHUP |
                                   select.POLLERR):
                a.on_writable()


def in_background(fn, *args):
    """Runs fn(*args) in a thread; returns a join function giving its
    result (or raising its exception)."""
    box = {}

    def run():
        try:
            box["result"] = fn(*args)
        except BaseException as e:    # handed to the test's thread
            box["error"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()

    def join(timeout=60):
        t.join(timeout)
        assert not t.is_alive(), "abuse did not end within %ds" % timeout
        if "error" in box:
            raise box["error"]
        return box.get("result")
    return join


def wait_sent(abusers, nbytes, timeout=10.0):
    """Waits until the abusers have sent nbytes in all (or stopped)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sum(a.sent for a in abusers) >= nbytes or \
                not any(a.sending for a in abusers):
            return
        time.sleep(0.02)


def assert_served(port, tag):
    """Another client is served normally: an echo round trip on a new
    WebSocket and a static file."""
    msg = "still served during %s" % tag
    with helpers.ws_connect(port, "/echo", timeout=5) as c:
        c.send(frame(OP_TEXT, msg))
        assert read_message(c, timeout=5)[:2] == (OP_TEXT, msg.encode())
    r = helpers.http_get(port, "/notes.txt", timeout=5)
    assert (r.status, r.body) == (200, b"plain notes\n"), r


def warm_up(d):
    """Runs each code path once so that RSS measures the abuse, not
    first-use allocations; returns the baseline RSS in KiB."""
    for _ in range(3):
        assert_served(d.port, "warm-up")
    # Until wsd has seen the warm-up connections go.
    time.sleep(0.5)
    return proc_rss_kb(d.pid)


def check_rss(d, rss0, bound_kib, tag, sent):
    """Reports RSS before and after and asserts the growth bound."""
    rss1 = proc_rss_kb(d.pid)
    bound_kib += SANITIZER_SLACK
    line = ("%s: RSS %d KiB before, %d KiB after (%+d KiB) for %d KiB "
            "sent; bound %d KiB" % (tag, rss0, rss1, rss1 - rss0,
                                    sent // 1024, bound_kib))
    print(line)
    out = os.environ.get("WSD_TEST_OUTPUT")
    if out:
        os.makedirs(out, exist_ok=True)
        with open(os.path.join(out, "abuse-rss.txt"), "a") as f:
            f.write(line + "\n")
    assert rss1 - rss0 < bound_kib, line


def frames(data):
    """The complete server frames in raw bytes, as helpers.Frame."""
    out = []
    i, n = 0, len(data)
    while n - i >= 2:
        b0, b1 = data[i], data[i + 1]
        h = {126: 4, 127: 10}.get(b1 & 0x7F, 2)
        if n - i < h:
            break
        ln = (b1 & 0x7F if h == 2 else
              int.from_bytes(data[i + 2:i + h], "big"))
        if n - i < h + ln:
            break
        out.append(helpers.Frame(b0 >> 7, (b0 >> 4) & 7, b0 & 0x0F,
                                 bytes(data[i + h:i + h + ln])))
        i += h + ln
    return out


def first_frame(data, opcode):
    """The first server frame with that opcode in raw bytes, or None."""
    for f in frames(data):
        if f.opcode == opcode:
            return f
    return None


def close_code(a):
    f = first_frame(a.received, OP_CLOSE)
    return f.close_code if f is not None else None


def http_status(a):
    head = bytes(a.received[:64]).decode("latin-1")
    return int(head[9:12]) if head.startswith("HTTP/1.1 ") else None


def ws_abusers(port, path, n, feed, limit, **kw):
    """n WebSockets turned into Abusers sending feed()."""
    socks = helpers.ws_connect_many(port, path, n, **kw)
    return [Abuser(w.sock, feed(), limit, w.buf) for w in socks]


def tcp_abusers(port, n, feed, limit):
    out = []
    for _ in range(n):
        s = socket.create_connection((helpers.HOST, port), timeout=5)
        out.append(Abuser(s, feed(), limit))
    return out


def repeat(first, then):
    """first, then `then` forever."""
    yield first
    while True:
        yield then


@pytest.fixture
def clients():
    """clients(x) registers a client (anything with close()) or a list of
    them, returns it, and closes them all at teardown, before the daemon
    stops."""
    kept = []

    def keep(x):
        kept.append(x)
        return x
    yield keep
    for x in kept:
        for c in (x if isinstance(x, list) else [x]):
            c.close()


def abuse_config(root, **server):
    conf = {"handshake_timeout": "2s", "idle_timeout": "5s",
            "close_timeout": "1s"}
    conf.update(server)
    return helpers.make_config(root, server=conf)


# --------------------------------------------------------------- cases

def test_max_connections_flood(wsd, static_root, clients):
    # 20 WebSockets fill max_connections; 300 more connections arrive at
    # once. Each extra one gets a 503 or is closed at once; the 20 keep
    # echoing; nothing piles up in memory; once one goes, a new client is
    # served.
    helpers.raise_nofile(2048)
    d = wsd(abuse_config(static_root, max_connections="20",
                         handshake_timeout="10s"))
    rss0 = warm_up(d)
    held = clients(helpers.ws_connect_many(d.port, "/echo", 20))
    req = helpers.upgrade_request("/echo", helpers.ws_key())
    refused = clients([])
    for _ in range(300):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex((helpers.HOST, d.port))
        refused.append(Abuser(s, [req], len(req)))
    took = drive(refused, timeout=20, linger=3)
    statuses = [http_status(a) for a in refused]
    closed = sum(a.eof for a in refused)
    got503 = statuses.count(503)
    print("max_connections flood: %d of %d closed, %d with a 503, "
          "%.1fs" % (closed, len(refused), got503, took))
    assert closed == len(refused), "%d connections over the limit " \
        "stayed open" % (len(refused) - closed)
    assert set(statuses) <= {503, None}, statuses
    assert got503 > 0, "no 503 at all"
    d.wait_log(r"max_connections \(20\) reached")
    # Everyone admitted is served as before.
    for i, w in enumerate(held):
        w.send(frame(OP_TEXT, "held %d" % i))
    for i, w in enumerate(held):
        deadline = time.monotonic() + 5
        msgs = []
        while not msgs and time.monotonic() < deadline:
            select.select([w], [], [], 0.2)
            msgs = w.pump()
        assert msgs == [(OP_TEXT, b"held %d" % i)], (i, msgs)
    check_rss(d, rss0, 4 * MIB, "max_connections flood",
              sum(a.sent for a in refused))
    # A slot is free again once wsd has seen one go.
    held.pop().close()
    deadline = time.monotonic() + 5
    while True:
        try:
            assert_served(d.port, "a freed slot")
            break
        except (AssertionError, helpers.Closed, OSError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def header_lines():
    i = 0
    while True:
        yield b"".join(b"X-Flood-%d: %s\r\n" % (i + j, b"v" * 40)
                       for j in range(100))
        i += 100


def giant_header():
    chunk = b"a" * 65536
    yield b"X-Giant: "
    while True:
        yield chunk


@pytest.mark.parametrize("kind", ["endless_lines", "giant_header"])
def test_header_flood(wsd, static_root, clients, kind):
    # 10 clients each send a request head that never ends, 8 MiB each:
    # 431 for all, the rest of their bytes thrown away unread.
    d = wsd(abuse_config(static_root))
    rss0 = warm_up(d)
    body = header_lines if kind == "endless_lines" else giant_header

    def feed():
        yield b"GET /notes.txt HTTP/1.1\r\nHost: x\r\n"
        yield from body()

    abusers = clients(tcp_abusers(d.port, 10, feed, 8 * 1048576))
    join = in_background(drive, abusers, 30)
    wait_sent(abusers, 2 * 1048576)
    assert_served(d.port, "a header flood")
    join()
    assert [http_status(a) for a in abusers] == [431] * 10
    for a in abusers:
        assert a.read_to_eof(3), "flooder not disconnected"
    sent = sum(a.sent for a in abusers)
    check_rss(d, rss0, 4 * MIB, "header flood (%s)" % kind, sent)


@pytest.mark.parametrize("length,code", [
    ((1 << 63) - 1, 1009),      # the largest legal length: too big
    (1 << 63, 1002),            # top bit set: not a legal length
    ((1 << 64) - 1, 1002),
])
def test_huge_frame_length(wsd, static_root, clients, length, code):
    # A frame announcing up to 2^64-1 bytes, then 16 MiB of payload
    # behind it: the close code comes from the header alone and the
    # payload is never buffered.
    d = wsd(abuse_config(static_root))
    rss0 = warm_up(d)
    hdr = struct.pack("!BBQ", 0x82, 0xFF, length) + b"\1\2\3\4"

    def feed():
        return repeat(hdr, bytes(65536))

    abusers = clients(ws_abusers(d.port, "/echo", 5, feed, 16 * 1048576))
    join = in_background(drive, abusers, 30)
    wait_sent(abusers, 1048576)
    assert_served(d.port, "huge frames")
    join()
    assert [close_code(a) for a in abusers] == [code] * 5
    for a in abusers:
        assert a.read_to_eof(3)
    check_rss(d, rss0, 4 * MIB, "frame length %#x" % length,
              sum(a.sent for a in abusers))


@pytest.mark.parametrize("opcode", [OP_TEXT, OP_BINARY])
def test_endless_fragments_1009(wsd, static_root, clients, opcode):
    # Fragments that never end are counted against max_message_size
    # (64k here) as a whole: 1009 once the total passes it, and what was
    # assembled is freed.
    d = wsd(abuse_config(static_root, max_message_size="64k"))
    rss0 = warm_up(d)
    piece = b"f" * 1000

    def feed():
        return repeat(frame(opcode, piece, fin=False),
                      frame(OP_CONT, piece, fin=False))

    abusers = clients(ws_abusers(d.port, "/echo", 10, feed, 4 * 1048576))
    join = in_background(drive, abusers, 30)
    wait_sent(abusers, 1048576)
    assert_served(d.port, "endless fragments")
    join()
    assert [close_code(a) for a in abusers] == [1009] * 10
    for a in abusers:
        # Nothing was echoed: 1009 came at the 66th fragment and the
        # rest was discarded, not parsed.
        assert [f.opcode for f in frames(a.received)] == [OP_CLOSE]
    check_rss(d, rss0, 4 * MIB, "endless fragments (opcode %d)" % opcode,
              sum(a.sent for a in abusers))


def test_endless_empty_fragments_hold_no_memory(wsd, static_root, clients):
    # Empty continuation frames never reach max_message_size: the
    # message stays open, but it costs no memory, and the message still
    # arrives whole when it ends.
    d = wsd(abuse_config(static_root, max_message_size="64k"))
    rss0 = warm_up(d)
    c = clients(helpers.ws_connect(d.port, "/echo", timeout=10))
    c.send(frame(OP_TEXT, "start-", fin=False))
    empty = frame(OP_CONT, b"", fin=False, key=b"\0\0\0\0") * 10000
    join = in_background(lambda: [c.send(empty) for _ in range(50)])
    assert_served(d.port, "empty fragments")
    join()
    c.send(frame(OP_CONT, "end"))
    assert read_message(c, timeout=10)[:2] == (OP_TEXT, b"start-end")
    check_rss(d, rss0, 4 * MIB, "500000 empty fragments",
              50 * len(empty))


def test_ping_flood_from_non_readers(wsd, static_root, clients):
    # Pongs cannot be held back like echoes: clients that send pings but
    # never read the pongs are slow readers and are closed with 1008
    # (DESIGN.md, "Pings") once the pongs pass max_send_buffer. (A long
    # close_timeout lets them read everything afterwards.)
    d = wsd(abuse_config(static_root, max_send_buffer="64k",
                         close_timeout="10s"))
    rss0 = warm_up(d)
    ping = frame(OP_PING, b"p" * 125, key=b"\1\2\3\4") * 500

    def feed():
        return repeat(ping, ping)

    socks = helpers.ws_connect_many(d.port, "/echo", 5, rcvbuf=64 * 1024)
    abusers = clients([Abuser(w.sock, feed(), 8 * 1048576, w.buf,
                              reads=False) for w in socks])
    join = in_background(drive, abusers, 30)
    wait_sent(abusers, 1048576)
    assert_served(d.port, "a ping flood")
    join()
    check_rss(d, rss0, 8 * MIB, "ping flood",
              sum(a.sent for a in abusers))
    for a in abusers:
        a.reads = True
        assert a.read_to_eof(10), "no EOF after the close"
        got = frames(a.received)
        pongs = [f for f in got if f.opcode == helpers.OP_PONG]
        rest = [f for f in got if f.opcode != helpers.OP_PONG]
        assert pongs and rest, got[-3:]
        assert (rest[0].opcode, rest[0].close_code) == (OP_CLOSE, 1008), \
            "after %d pongs: %r" % (len(pongs), rest[0])


def test_slowloris_headers(wsd, static_root, clients):
    # 30 clients send a request head one byte per second: each is
    # answered 408 and dropped at handshake_timeout (2s), whatever it
    # still sends; others are served meanwhile.
    d = wsd(abuse_config(static_root))
    rss0 = warm_up(d)
    head = request("GET", "/notes.txt", headers={"X-Slow": "z" * 50})
    socks = clients([Conn(d.port) for _ in range(30)])
    t0 = time.monotonic()
    closed_at = {}
    served = False
    i = 0
    while len(closed_at) < len(socks) and time.monotonic() - t0 < 8:
        for s in socks:
            if s in closed_at:
                continue
            try:
                s.sock.send(head[i:i + 1])
            except OSError:
                closed_at[s] = time.monotonic() - t0
        i += 1
        if not served:
            assert_served(d.port, "a slowloris")
            served = True
        end = time.monotonic() + 1.0
        while time.monotonic() < end:
            for s in socks:
                if s not in closed_at and s.wait_closed(0.01):
                    closed_at[s] = time.monotonic() - t0
            time.sleep(0.05)
    times = sorted(closed_at.values())
    print("slowloris: %d of %d closed after %.1f-%.1fs"
          % (len(times), len(socks), times[0] if times else -1,
             times[-1] if times else -1))
    assert len(closed_at) == len(socks), "slow clients still connected"
    assert times[0] >= 1.5, "closed before handshake_timeout"
    assert times[-1] < 2 + 2.0, "kept past handshake_timeout"
    assert d.log_text().count("request head not complete in time") \
        >= len(socks)
    check_rss(d, rss0, 2 * MIB, "slowloris", i * len(socks))


def test_clients_that_never_answer_close(wsd, static_root, clients):
    # 30 clients get hello's close frame and never answer it (nor read,
    # nor close): each is dropped after close_timeout (1s).
    d = wsd(abuse_config(static_root))
    rss0 = warm_up(d)
    mark = d.log_mark()
    socks = clients(helpers.ws_connect_many(d.port, "/hello", 30))
    ports = [w.sock.getsockname()[1] for w in socks]
    for w in socks:
        w.send(frame(OP_TEXT, "mute"))
    assert_served(d.port, "unanswered closes")
    for p in ports:
        d.wait_log(r"access: 127\.0\.0\.1:%d ws /hello .*close=1000"
                   % p, timeout=1 + 3.0, start=mark)
    for w in socks:
        deadline = time.monotonic() + 3
        while not w.eof and time.monotonic() < deadline:
            select.select([w], [], [], 0.1)
            w.pump()
        assert w.eof, "TCP kept open past close_timeout"
    check_rss(d, rss0, 2 * MIB, "unanswered closes", 0)


def test_close_stuck_behind_full_send_buffer(wsd, static_root, clients):
    # A client that stops reading while wsd sends, and never answers a
    # ping: wsd closes it (1011) even though the close frame cannot be
    # written, and drops it after close_timeout.
    d = wsd(abuse_config(static_root, max_send_buffer="64k",
                         ping_interval="0.5s", ping_timeout="0.5s"))
    rss0 = warm_up(d)
    mark = d.log_mark()
    c = clients(helpers.ws_connect(d.port, "/echo", timeout=10,
                                   rcvbuf=16 * 1024))
    port = c.sock.getsockname()[1]
    msg = frame(OP_BINARY, bytes(65536))
    a = Abuser(c.sock, repeat(msg, msg), 8 * 1048576, reads=False)
    drive([a], timeout=3)
    assert_served(d.port, "a stuck close")
    d.wait_log(r"access: 127\.0\.0\.1:%d ws /echo .*close=1011" % port,
               timeout=0.5 + 0.5 + 1 + 3.0, start=mark)
    check_rss(d, rss0, 4 * MIB, "close behind a full buffer", a.sent)


def test_pipelined_requests_never_read(wsd, static_root, clients):
    # Clients pipeline requests for a 3 MiB file and never read: wsd stops
    # reading them once max_send_buffer is queued (backpressure), keeps
    # its memory, and drops them when the response makes no progress for
    # idle_timeout (2s).
    d = wsd(abuse_config(static_root, max_send_buffer="256k",
                         idle_timeout="2s", log_level="debug"))
    rss0 = warm_up(d)
    mark = d.log_mark()
    req = request("GET", "/big.bin") * 100

    def feed():
        return repeat(req, req)

    socks = [Conn(d.port, rcvbuf=64 * 1024) for _ in range(5)]
    abusers = clients([Abuser(s.sock, feed(), 32 * 1048576, reads=False)
                       for s in socks])
    join = in_background(drive, abusers, 30)
    time.sleep(1)
    assert_served(d.port, "a pipelining flood")
    join()
    sent = sum(a.sent for a in abusers)
    # wsd read a bounded part of what was offered, and answered the
    # requests it read one response at a time.
    assert sent < 5 * 4 * 1048576, "wsd read %d bytes of requests" % sent
    for a in abusers:
        d.wait_log(r"127\.0\.0\.1:%d: closing: send timeout"
                   % a.sock.getsockname()[1], timeout=2 + 3.0, start=mark)
    check_rss(d, rss0, 4 * MIB, "pipelined requests never read", sent)
