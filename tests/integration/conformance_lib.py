"""conformance_lib.py -- a raw-socket client for conformance suites in the
style of Autobahn|Testsuite (test_conformance_*.py: groups 1-7; the
permessage-deflate groups 12-13 reuse it).

A case opens a Client on the daemon, puts frames on the wire exactly as it
wants them -- any opcode, RSV bits, mask, fragmentation, cut into chops
that go out in separate writes -- and asserts what comes back:

    with Client(port) as c:                       # handshake on /echo
        c.send_message(OP_TEXT, b"hello", fragments=2)    # b"hel" + b"lo"
        c.expect_message(OP_TEXT, b"hello")
        c.send_ping(b"x", chop=1)                 # one byte per write
        c.expect_pong(b"x")
        c.close_handshake()       # our 1000, its 1000, then it closes TCP

A case the server must fail ends with c.expect_fail(code): the server's
close frame carries that code, nothing else comes first, and the server
closes the TCP connection (RFC 6455 7.1.1: the server closes first).

What comes back is read as events, tuples that compare with ==:
    ("message", opcode, payload)   a data message, fragments joined
    ("ping", payload), ("pong", payload)
    ("close", code, reason)        code None for an empty close payload
A message whose first frame had RSV bits set is reported with its payload
passed through Client(decode=f) as f(rsv, payload) -- e.g. an inflater for
permessage-deflate; without decode, RSV bits on a server frame fail the
test. The 101 response is kept in c.response (c.response.header(name)),
for the extensions the server accepted. Client(ssl_context=ctx) speaks
wss (server name "localhost").

Sending: every send_* call is one write (TCP_NODELAY is on) unless chop
says otherwise:
    chop=None       the whole call in one write
    chop=N          pieces of N bytes, CHOP_DELAY apart (1: octet-wise)
    chop="frame"    send_message and send_frames: one write per frame
"""

import socket
import time

import pytest

import helpers
from helpers import (OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG,  # noqa
                     OP_TEXT, Closed, close_frame, frame)

# Pause between two chops: long enough for each to leave as its own
# segment, short enough for octet-wise cases of a few hundred bytes.
CHOP_DELAY = 0.0005
# How long expect_nothing() listens by default.
QUIET = 0.1


class Cases(dict):
    """A table of cases, Autobahn id -> function(client), filled with the
    object as a decorator and run by one parametrized test:

        CASES = Cases()

        @CASES("1.1.1")
        def _(c):
            ...

        @pytest.mark.parametrize("cid", CASES.ids())
        def test_case(echo_port, cid):
            CASES.run(echo_port, cid)
    """

    def __call__(self, cid):
        def register(f):
            assert cid not in self, "case %s twice" % cid
            self[cid] = f
            return f
        return register

    def ids(self):
        """The case ids in Autobahn's order (1.2.10 after 1.2.9)."""
        return sorted(self, key=lambda cid: [int(x) for x in cid.split(".")])

    def run(self, port, cid, **client_kw):
        """Runs one case on a fresh Client(port, **client_kw)."""
        with Client(port, **client_kw) as c:
            self[cid](c)


@pytest.fixture(scope="module")
def echo_port(wsd_module):
    """The port of one daemon with an echo route on /echo, shared by the
    tests of a module (import it into the test module to use it)."""
    return wsd_module(echo_config()).port


def echo_config(server=None, route=None):
    """Config text with one `echo` route on /echo; server and route are
    {key: value} added to [server] and [route /echo]. close_timeout is
    longer than any read deadline here, so a server that leaves closing
    TCP to its timeout fails expect_tcp_close()."""
    srv = {"close_timeout": "30s"}
    srv.update(server or {})
    keys = {"app": "echo"}
    keys.update(route or {})
    return helpers.make_config(server=srv, routes=[("/echo", keys)])


def split(data, sizes):
    """Cuts data into pieces: sizes is a piece length (the last piece may
    be shorter) or a list of lengths (the rest, if any, is a last piece).
    Empty data gives one empty piece."""
    if isinstance(sizes, int):
        step = max(1, sizes)
        sizes = [step] * (len(data) // step)
    out, pos = [], 0
    for n in sizes:
        out.append(data[pos:pos + n])
        pos += n
    if pos < len(data) or not out:
        out.append(data[pos:])
    return out


def message_frames(opcode, payload, fragments=None, rsv=0, mask=True):
    """The frames of one message as a list of bytes: fragments is None
    (one frame), a number of frames, or a list of fragment lengths (see
    split). RSV bits go on the first frame only (RFC 7692 6)."""
    if isinstance(payload, str):
        payload = payload.encode()
    if fragments is None:
        parts = [payload]
    elif isinstance(fragments, int):
        # n frames of equal size, the last one shorter (or empty).
        size = -(-len(payload) // fragments)
        parts = [payload[i * size:(i + 1) * size]
                 for i in range(fragments - 1)]
        parts.append(payload[(fragments - 1) * size:])
    else:
        parts = split(payload, list(fragments))
    out = []
    for i, part in enumerate(parts):
        out.append(frame(opcode if i == 0 else OP_CONT, part,
                         fin=i == len(parts) - 1, rsv=rsv if i == 0 else 0,
                         mask=mask))
    return out


class Client:
    """One WebSocket opened by hand on a raw socket. Every read has a
    deadline (timeout seconds by default), so a daemon that misbehaves
    fails the test instead of hanging it."""

    def __init__(self, port, path="/echo", headers=None,
                 timeout=helpers.TIMEOUT, decode=None, host=helpers.HOST,
                 ssl_context=None):
        self.decode = decode
        self.timeout = timeout
        self.conn = helpers.Conn(port, host=host, timeout=timeout)
        self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        key = helpers.ws_key()
        try:
            if ssl_context is not None:
                # wss: every write is a TLS record of its own.
                self.conn.sock = ssl_context.wrap_socket(
                    self.conn.sock, server_hostname="localhost")
            self.conn.send(helpers.upgrade_request(path, key, extra=headers))
            r = helpers.read_response(self.conn, head_request=True)
            assert r.status == 101, r
            assert r.header("Sec-WebSocket-Accept") == helpers.ws_accept(key), r
        except BaseException:
            self.conn.close()
            raise
        self.response = r
        self._op = None         # message being assembled
        self._rsv = 0
        self._parts = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        """Closes the socket (no closing handshake)."""
        self.conn.close()

    # ------------------------------------------------------------ sending

    def send_raw(self, data, chop=None, delay=CHOP_DELAY):
        """Writes bytes, in one write or in pieces of chop bytes."""
        if not chop:
            self.conn.send(data)
            return
        for i in range(0, len(data), chop):
            if i:
                time.sleep(delay)
            self.conn.send(data[i:i + chop])

    def send_frame(self, opcode, payload=b"", fin=True, rsv=0, mask=True,
                   length=None, chop=None):
        """One frame; length announces another payload length than sent."""
        self.send_raw(frame(opcode, payload, fin=fin, rsv=rsv, mask=mask,
                            length=length), chop)

    def send_message(self, opcode, payload, fragments=None, rsv=0,
                     chop=None):
        """One message, fragmented as message_frames() says."""
        self.send_frames(message_frames(opcode, payload, fragments, rsv),
                         chop)

    def send_frames(self, frames, chop=None):
        """Frames built with frame() (a list of bytes): in one write, one
        write per frame (chop="frame"), or in chops of chop bytes."""
        if chop == "frame":
            for i, f in enumerate(frames):
                if i:
                    time.sleep(CHOP_DELAY)
                self.send_raw(f)
        else:
            self.send_raw(b"".join(frames), chop)

    def send_ping(self, payload=b"", chop=None):
        self.send_frame(OP_PING, payload, chop=chop)

    def send_pong(self, payload=b"", chop=None):
        self.send_frame(OP_PONG, payload, chop=chop)

    def send_close(self, code=None, reason=b"", chop=None):
        """A close frame: code None sends an empty payload; reason may be
        str or (invalid UTF-8, say) bytes."""
        if isinstance(reason, str):
            reason = reason.encode()
        self.send_raw(close_frame(code, reason), chop)

    # ------------------------------------------------------------ reading

    def recv_frame(self, timeout=None):
        """The next server frame (a helpers.Frame); Closed on EOF."""
        return helpers.read_frame(self.conn, timeout)

    def recv_event(self, timeout=None):
        """The next event (see the module comment). Control frames that
        arrive between the fragments of a message come out first."""
        while True:
            f = self.recv_frame(timeout)
            if f.opcode >= 0x8:
                # RFC 6455 5.5: control frames are short and whole.
                assert f.fin and len(f.payload) <= 125, f
                assert f.rsv == 0, "RSV bits on a control frame"
            if f.opcode == OP_CLOSE:
                code = f.close_code
                return ("close", code, f.payload[2:])
            if f.opcode == OP_PING:
                return ("ping", f.payload)
            if f.opcode == OP_PONG:
                return ("pong", f.payload)
            if self._op is None:
                assert f.opcode in (OP_TEXT, OP_BINARY), \
                    "server frame with opcode %d" % f.opcode
                assert f.rsv == 0 or self.decode is not None, \
                    "RSV bits %d on a server frame" % f.rsv
                self._op, self._rsv, self._parts = f.opcode, f.rsv, []
            else:
                assert f.opcode == OP_CONT, \
                    "opcode %d inside a fragmented message" % f.opcode
                assert f.rsv == 0, "RSV bits on a continuation frame"
            self._parts.append(f.payload)
            if f.fin:
                payload = b"".join(self._parts)
                if self.decode is not None:
                    payload = self.decode(self._rsv, payload)
                op, self._op, self._parts = self._op, None, []
                return ("message", op, payload)

    def recv_message(self, timeout=None):
        """The next data message as (opcode, payload); server pings are
        skipped, anything else fails the test."""
        ev = self._next(timeout)
        assert ev[0] == "message", "expected a message, got %s" % _show(ev)
        return ev[1], ev[2]

    def _next(self, timeout=None):
        """The next event that is not a server ping (keepalive)."""
        while True:
            try:
                ev = self.recv_event(timeout)
            except Closed:
                raise AssertionError("the server closed TCP without a "
                                     "close frame")
            if ev[0] != "ping":
                return ev

    def expect_events(self, expected, timeout=None):
        """Reads as many events as expected has (server pings skipped) and
        compares the two lists."""
        got = []
        for _ in expected:
            got.append(self._next(timeout))
            if got[-1][0] == "close":
                break
        assert got == list(expected), "events %s, want %s" % (
            _show_all(got), _show_all(expected))

    def expect_message(self, opcode, payload, timeout=None):
        """The next event is that message."""
        if isinstance(payload, str):
            payload = payload.encode()
        self.expect_events([("message", opcode, payload)], timeout)

    def expect_pong(self, payload=b"", timeout=None):
        """The next event is a pong with that payload."""
        self.expect_events([("pong", payload)], timeout)

    def expect_close(self, code, timeout=None):
        """The next event is a close frame with code, or one of the codes
        in a tuple (None: empty payload); its reason must be UTF-8.
        Returns the reason."""
        ev = self._next(timeout)
        codes = code if isinstance(code, tuple) else (code,)
        assert ev[0] == "close" and ev[1] in codes, \
            "expected close %s, got %s" % (code, _show(ev))
        ev[2].decode("utf-8")
        return ev[2]

    def expect_tcp_close(self, timeout=None):
        """The server closes the TCP connection, with nothing more sent."""
        try:
            ev = self.recv_event(timeout)
        except Closed:
            return
        raise AssertionError("expected the server to close TCP, got %s"
                             % _show(ev))

    def expect_fail(self, code, timeout=None):
        """The server fails the connection: a close frame with code, then
        it closes TCP. Our close reply goes out in between, as RFC 6455
        5.5.1 asks (the server may have gone already: not an error)."""
        self.expect_close(code, timeout)
        try:
            self.send_close(code if code not in (None, 1005) else None)
        except OSError:
            pass
        self.expect_tcp_close(timeout)

    def close_handshake(self, code=1000, reason=b"", expect=None,
                        timeout=None):
        """A clean close started by us: our close frame, the server's with
        expect (default: the same code), then the server closes TCP."""
        self.send_close(code, reason)
        self.expect_close(code if expect is None else expect, timeout)
        self.expect_tcp_close(timeout)

    def expect_nothing(self, seconds=QUIET):
        """Nothing arrives for that long and the connection stays open."""
        try:
            ev = self.recv_event(seconds)
        except TimeoutError:
            return
        except Closed:
            raise AssertionError("the server closed TCP")
        raise AssertionError("expected nothing, got %s" % _show(ev))


def _show(ev):
    """An event for an assertion message, long payloads cut."""
    out = []
    for x in ev:
        if isinstance(x, (bytes, bytearray)) and len(x) > 40:
            x = "%r...(%d bytes)" % (bytes(x[:40]), len(x))
        out.append(x if isinstance(x, str) else repr(x))
    return "(" + ", ".join(out) + ")"


def _show_all(evs):
    return "[" + ", ".join(_show(ev) for ev in evs) + "]"

