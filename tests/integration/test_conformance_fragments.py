"""Autobahn|Testsuite group 5 (fragmentation) against the echo route, as
raw-socket cases held to their strict outcome (see
test_conformance_framing.py).

Where Autobahn sends "in one chop", "in frame-wise chops" or "in
octet-wise chops", the frames go out in one write, one write per frame, or
one write per byte.
"""

import pytest

from conformance_lib import (OP_CONT, OP_PING, OP_PONG, OP_TEXT, Cases,
                             echo_port, frame)  # noqa: F401 (fixture)

CASES = Cases()

@CASES("5.1")
def _(c):
    # RFC 6455 5.5: control frames are never fragmented.
    c.send_frames([frame(OP_PING, b"fragment1", fin=False),
                   frame(OP_CONT, b"fragment2")])
    c.expect_fail(1002)


@CASES("5.2")
def _(c):
    c.send_frames([frame(OP_PONG, b"fragment1", fin=False),
                   frame(OP_CONT, b"fragment2")])
    c.expect_fail(1002)


def _two_fragments(chop):
    """A text message in two fragments is echoed whole."""
    def run(c):
        c.send_frames([frame(OP_TEXT, b"fragment1", fin=False),
                       frame(OP_CONT, b"fragment2")], chop)
        c.expect_message(OP_TEXT, b"fragment1fragment2")
        c.close_handshake()
    return run


def _ping_between(chop):
    """A ping between two fragments is answered at once (RFC 6455 5.4:
    control frames may be injected in the middle of a message)."""
    def run(c):
        c.send_frames([frame(OP_TEXT, b"fragment1", fin=False),
                       frame(OP_PING, b"ping payload"),
                       frame(OP_CONT, b"fragment2")], chop)
        c.expect_events([("pong", b"ping payload"),
                         ("message", OP_TEXT, b"fragment1fragment2")])
        c.close_handshake()
    return run


def _nothing_to_continue(fin, chop):
    """A continuation frame outside a message fails the connection, and
    the text message behind it is not echoed."""
    def run(c):
        c.send_frames([frame(OP_CONT, b"non-continuation payload", fin=fin),
                       frame(OP_TEXT, b"Hello, world!")], chop)
        c.expect_fail(1002)
    return run


# Autobahn's "one chop", "frame-wise chops" and "octet-wise chops".
for _i, _chop in enumerate((None, "frame", 1)):
    CASES("5.%d" % (3 + _i))(_two_fragments(_chop))
    CASES("5.%d" % (6 + _i))(_ping_between(_chop))
    CASES("5.%d" % (9 + _i))(_nothing_to_continue(True, _chop))
    CASES("5.%d" % (12 + _i))(_nothing_to_continue(False, _chop))


@CASES("5.15")
def _(c):
    # The first message is complete and echoed; then a continuation with
    # nothing to continue.
    c.send_frames([frame(OP_TEXT, b"fragment1", fin=False),
                   frame(OP_CONT, b"fragment2"),
                   frame(OP_CONT, b"fragment3", fin=False),
                   frame(OP_TEXT, b"fragment4")])
    c.expect_message(OP_TEXT, b"fragment1fragment2")
    c.expect_fail(1002)


def _repeated_bad_continuation(fin):
    """Twice: a continuation with nothing to continue (FIN = fin), a text
    fragment and a final continuation; the first frame fails it."""
    def run(c):
        frames = []
        for _ in range(2):
            frames += [frame(OP_CONT, b"fragment1", fin=fin),
                       frame(OP_TEXT, b"fragment2", fin=False),
                       frame(OP_CONT, b"fragment3")]
        c.send_frames(frames)
        c.expect_fail(1002)
    return run


CASES("5.16")(_repeated_bad_continuation(False))
CASES("5.17")(_repeated_bad_continuation(True))


@CASES("5.18")
def _(c):
    # The second fragment must be a continuation, not a new text frame.
    c.send_frames([frame(OP_TEXT, b"fragment1", fin=False),
                   frame(OP_TEXT, b"fragment2")])
    c.expect_fail(1002)


def _five_fragments_two_pings(chop):
    """A message in five fragments with a ping after the second and the
    fourth. The first pong must come before the message is complete (we
    wait for it before sending the rest, where Autobahn waits 1 s)."""
    def run(c):
        f = [b"fragment%d" % i for i in range(1, 6)]
        c.send_frames([frame(OP_TEXT, f[0], fin=False),
                       frame(OP_CONT, f[1], fin=False),
                       frame(OP_PING, b"pongme 1!")], chop)
        c.expect_pong(b"pongme 1!")
        c.expect_nothing()
        c.send_frames([frame(OP_CONT, f[2], fin=False),
                       frame(OP_CONT, f[3], fin=False),
                       frame(OP_PING, b"pongme 2!"),
                       frame(OP_CONT, f[4])], chop)
        c.expect_events([("pong", b"pongme 2!"),
                         ("message", OP_TEXT, b"".join(f))])
        c.close_handshake()
    return run


CASES("5.19")(_five_fragments_two_pings(None))
CASES("5.20")(_five_fragments_two_pings("frame"))


def test_case_count():
    assert len(CASES) == 20


@pytest.mark.parametrize("cid", CASES.ids())
def test_case(echo_port, cid):  # noqa: F811 (fixture)
    CASES.run(echo_port, cid)
