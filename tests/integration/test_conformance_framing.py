"""Autobahn|Testsuite groups 1-4 against the echo route, as raw-socket
cases: 1 framing, 2 pings and pongs, 3 reserved bits, 4 opcodes.

Each case is the Autobahn case of the same id, held to its strict
outcome ("OK", not "NON-STRICT"): frames that precede a protocol error are
answered before the server fails the connection, and the server fails it
with a close frame carrying the code, then closes TCP.
"""

import pytest

from conformance_lib import (OP_BINARY, OP_CLOSE, OP_PING, OP_TEXT, Cases,
                             Client, echo_port)  # noqa: F401 (fixture)

CASES = Cases()


# ------------------------------------------------------------ 1 framing

# 1.1.x text, 1.2.x binary: payload lengths around the 7-bit, 16-bit and
# 64-bit length encodings.
LENGTHS = [0, 125, 126, 127, 128, 65535, 65536]


def _echo_case(opcode, payload, chop=None):
    """Sends one message, expects it back, closes cleanly."""
    def run(c):
        c.send_message(opcode, payload, chop=chop)
        c.expect_message(opcode, payload)
        c.close_handshake()
    return run


for _i, _n in enumerate(LENGTHS):
    CASES("1.1.%d" % (_i + 1))(_echo_case(OP_TEXT, b"*" * _n))
    CASES("1.2.%d" % (_i + 1))(_echo_case(OP_BINARY, b"\xfe" * _n))
# 1.x.8: 65536 bytes, sent in chops of 997 octets.
CASES("1.1.8")(_echo_case(OP_TEXT, b"*" * 65536, chop=997))
CASES("1.2.8")(_echo_case(OP_BINARY, b"\xfe" * 65536, chop=997))


# ------------------------------------------------------------ 2 pings

def _ping_case(payload, chop=None):
    """A ping is answered with a pong carrying the same payload."""
    def run(c):
        c.send_ping(payload, chop=chop)
        c.expect_pong(payload)
        c.close_handshake()
    return run


CASES("2.1")(_ping_case(b""))
CASES("2.2")(_ping_case(b"Hello, world!"))
CASES("2.3")(_ping_case(b"\x00\xff\xfe\xfd\xfc\xfb\x00\xff"))
CASES("2.4")(_ping_case(b"\xfe" * 125))
CASES("2.6")(_ping_case(b"\xfe" * 125, chop=1))


@CASES("2.5")
def _(c):
    # RFC 6455 5.5: control frame payloads are at most 125 bytes.
    c.send_ping(b"\xfe" * 126)
    c.expect_fail(1002)


def _pong_case(payload):
    """An unsolicited pong is ignored (RFC 6455 5.5.3)."""
    def run(c):
        c.send_pong(payload)
        c.expect_nothing()
        c.close_handshake()
    return run


CASES("2.7")(_pong_case(b""))
CASES("2.8")(_pong_case(b"unsolicited pong payload"))


@CASES("2.9")
def _(c):
    c.send_pong(b"unsolicited pong payload")
    c.send_ping(b"ping payload")
    c.expect_pong(b"ping payload")
    c.close_handshake()


def _ten_pings(chop):
    """Ten pings in a row: ten pongs, in order."""
    def run(c):
        for i in range(10):
            c.send_ping(b"payload-%d" % i, chop=chop)
        c.expect_events([("pong", b"payload-%d" % i) for i in range(10)])
        c.close_handshake()
    return run


CASES("2.10")(_ten_pings(None))
CASES("2.11")(_ten_pings(1))


# ------------------------------------------------------------ 3 reserved bits

def _rsv_case(rsv, opcode, payload, echo_first, chop=None):
    """RSV bits without a negotiated extension fail the connection (RFC
    6455 5.2). With echo_first, a valid text message goes first and is
    echoed, and a ping behind the bad frame gets no pong."""
    def run(c):
        if echo_first:
            c.send_message(OP_TEXT, b"Hello, world!", chop=chop)
        c.send_frame(opcode, payload, rsv=rsv, chop=chop)
        if echo_first:
            c.send_ping(chop=chop)
            c.expect_message(OP_TEXT, b"Hello, world!")
        c.expect_fail(1002)
    return run


CASES("3.1")(_rsv_case(1, OP_TEXT, b"Hello, world!", False))
CASES("3.2")(_rsv_case(2, OP_TEXT, b"Hello, world!", True))
CASES("3.3")(_rsv_case(3, OP_TEXT, b"Hello, world!", True, chop=1))
CASES("3.4")(_rsv_case(4, OP_TEXT, b"Hello, world!", True, chop=1))
CASES("3.5")(_rsv_case(5, OP_BINARY, b"\x00\xff\xfe\xfd\xfc\xfb\x00\xff",
                       False))
CASES("3.6")(_rsv_case(6, OP_PING, b"Hello, world!", False))
CASES("3.7")(_rsv_case(7, OP_CLOSE, b"\x03\xe8", False))


# ------------------------------------------------------------ 4 opcodes

def _opcode_case(opcode, payload, echo_first):
    """Reserved opcodes fail the connection (RFC 6455 5.2); with
    echo_first as in _rsv_case."""
    def run(c):
        if echo_first:
            c.send_message(OP_TEXT, b"Hello, world!")
        c.send_frame(opcode, payload)
        if echo_first:
            c.send_ping()
            c.expect_message(OP_TEXT, b"Hello, world!")
        c.expect_fail(1002)
    return run


# 4.1.x: non-control opcodes 3-7; 4.2.x: control opcodes 11-15.
for _g, _base in ((1, 3), (2, 11)):
    CASES("4.%d.1" % _g)(_opcode_case(_base, b"", False))
    CASES("4.%d.2" % _g)(_opcode_case(_base + 1, b"reserved opcode payload",
                                      False))
    CASES("4.%d.3" % _g)(_opcode_case(_base + 2, b"", True))
    CASES("4.%d.4" % _g)(_opcode_case(_base + 3, b"reserved opcode payload",
                                      True))
    CASES("4.%d.5" % _g)(_opcode_case(_base + 4, b"reserved opcode payload",
                                      True))


def test_case_count():
    """Every case of groups 1-4 is in the table."""
    groups = {}
    for cid in CASES:
        groups[cid.split(".")[0]] = groups.get(cid.split(".")[0], 0) + 1
    assert groups == {"1": 16, "2": 11, "3": 7, "4": 10}


@pytest.mark.parametrize("cid", CASES.ids())
def test_case(echo_port, cid):  # noqa: F811 (fixture)
    CASES.run(echo_port, cid)



# Not Autobahn: the server fails the connection as soon as the frame header
# bytes that break a rule are in, without waiting for the masking key or
# the payload (sent: only the bytes listed).
HEADER_ERRORS = {
    "rsv1": (b"\xc1\x85", 1002),
    "opcode-3": (b"\x83\x80", 1002),
    "opcode-11": (b"\x8b\x80", 1002),
    "fragmented-ping": (b"\x09\x80", 1002),
    "ping-126": (b"\x89\xfe", 1002),
    "unmasked": (b"\x81\x05", 1002),
    "continuation-first": (b"\x80\x85", 1002),
    "length-top-bit": (b"\x82\xff\x80" + bytes(7), 1002),
    "too-big": (b"\x82\xff" + (1 << 40).to_bytes(8, "big"), 1009),
}


@pytest.mark.parametrize("name", HEADER_ERRORS)
def test_header_fail_fast(echo_port, name):  # noqa: F811 (fixture)
    data, code = HEADER_ERRORS[name]
    with Client(echo_port) as c:
        c.send_raw(data)
        c.expect_fail(code)
