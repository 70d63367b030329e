"""Autobahn|Testsuite group 7 (close handling) against the echo route, as
raw-socket cases held to their strict outcome (see
test_conformance_framing.py).

In every case the server answers our close frame with its own and then
closes the TCP connection itself (RFC 6455 7.1.1); nothing we send after
our close frame is answered (RFC 6455 5.5.1: no data after a close).
"""

import pytest

from conformance_lib import (OP_CLOSE, OP_CONT, OP_PING, OP_TEXT, Cases,
                             close_frame, echo_port,  # noqa: F401 (fixture)
                             frame)

CASES = Cases()


@CASES("7.1.1")
def _(c):
    c.send_message(OP_TEXT, b"Hello World")
    c.expect_message(OP_TEXT, b"Hello World")
    c.close_handshake()


def _after_close(extra):
    """Our close, then more frames: the server answers the close only."""
    def run(c):
        c.send_frames([close_frame(1000)] + extra)
        c.expect_close(1000)
        c.expect_tcp_close()
    return run


# 7.1.2 a second close, 7.1.3 a ping, 7.1.4 a text message.
CASES("7.1.2")(_after_close([close_frame(1000)]))
CASES("7.1.3")(_after_close([frame(OP_PING, b"Hello World")]))
CASES("7.1.4")(_after_close([frame(OP_TEXT, b"Hello World")]))


@CASES("7.1.5")
def _(c):
    # A close between two fragments ends the session: the message is never
    # complete, so never echoed.
    c.send_frames([frame(OP_TEXT, b"fragment1", fin=False), close_frame(1000),
                   frame(OP_CONT, b"fragment2")])
    c.expect_close(1000)
    c.expect_tcp_close()


@CASES("7.1.6")
def _(c):
    # 256 KiB, a small message, a close and a ping back to back: both
    # messages are echoed before the close (Autobahn calls this
    # informational; this is its "OK" outcome), the ping is not answered.
    big = (b"BAsd7&jh23" * (256 * 1024 // 10 + 1))[:256 * 1024]
    c.send_frames([frame(OP_TEXT, big), frame(OP_TEXT, b"Hello World!"),
                   close_frame(1000), frame(OP_PING)])
    c.expect_events([("message", OP_TEXT, big),
                     ("message", OP_TEXT, b"Hello World!"),
                     ("close", 1000, b"")])
    c.expect_tcp_close()


@CASES("7.3.1")
def _(c):
    # An empty close is answered with an empty close (or 1000).
    c.close_handshake(code=None, expect=(None, 1000))


@CASES("7.3.2")
def _(c):
    # A 1-byte payload cannot hold a code (RFC 6455 5.5.1).
    c.send_frame(OP_CLOSE, b"\x03")
    c.expect_close(1002)
    c.expect_tcp_close()


CASES("7.3.3")(lambda c: c.close_handshake(1000))
CASES("7.3.4")(lambda c: c.close_handshake(1000, b"Hello World!"))
# 123 bytes of reason: the largest close payload, 125 bytes.
CASES("7.3.5")(lambda c: c.close_handshake(1000, b"*" * 123))


@CASES("7.3.6")
def _(c):
    # 124 bytes of reason: a 126-byte control frame.
    c.send_close(1000, b"*" * 124)
    c.expect_close(1002)
    c.expect_tcp_close()


@CASES("7.5.1")
def _(c):
    # A reason that is not UTF-8 (a surrogate in the middle).
    c.send_close(1000, b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"
                 b"\xed\xa0\x80edited")
    c.expect_close(1007)
    c.expect_tcp_close()


# 7.7.x: valid codes are echoed (Autobahn accepts 1000 too; wsd echoes).
VALID_CODES = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000,
               3999, 4000, 4999]
# 7.9.x: codes a peer may not send (RFC 6455 7.4.1-7.4.2): 1002.
INVALID_CODES = [0, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999]


def _code_case(code, expect):
    return lambda c: c.close_handshake(code, expect=expect)


for _i, _code in enumerate(VALID_CODES):
    CASES("7.7.%d" % (_i + 1))(_code_case(_code, _code))
for _i, _code in enumerate(INVALID_CODES):
    CASES("7.9.%d" % (_i + 1))(_code_case(_code, 1002))
# 7.13.x: codes outside the ranges the RFC defines; Autobahn takes any of
# 1000, the code itself or 1002 ("informational"); wsd says 1002.
CASES("7.13.1")(_code_case(5000, 1002))
CASES("7.13.2")(_code_case(65535, 1002))


def test_case_count():
    assert len(CASES) == 6 + 6 + 1 + 13 + 9 + 2


@pytest.mark.parametrize("cid", CASES.ids())
def test_case(echo_port, cid):  # noqa: F811 (fixture)
    CASES.run(echo_port, cid)

