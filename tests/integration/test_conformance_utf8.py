"""Autobahn|Testsuite group 6 (UTF-8 handling) against the echo route, as
raw-socket cases held to their strict outcome (see
test_conformance_framing.py).

6.1-6.4 are the hand-written cases; 6.5-6.23 are generated from the
sequences of Markus Kuhn's UTF-8 decoder stress test, the way Autobahn
numbers them: one text message per sequence, echoed when valid, the
connection failed with 1007 when not (RFC 6455 8.1).

Beyond Autobahn, test_split_at_every_point sends each sequence in two
fragments at every split point, and each invalid one inside a frame that
announces more payload than is ever sent: the server must fail the
connection as soon as the offending byte is in (fail fast), not at the end
of the frame or message.
"""

import pytest

from conformance_lib import (OP_CONT, OP_TEXT, Cases, Client, echo_port,
                             frame)  # noqa: F401 (fixture)

CASES = Cases()


def utf8_bad_at(data):
    """Index of the first byte at which data stops being a prefix of valid
    UTF-8 (Unicode 15 table 3-7), or None if it is one."""
    i = 0
    while i < len(data):
        b = data[i]
        if b < 0x80:
            i += 1
            continue
        if 0xc2 <= b <= 0xdf:
            ranges = [(0x80, 0xbf)]
        elif b == 0xe0:
            ranges = [(0xa0, 0xbf), (0x80, 0xbf)]
        elif b == 0xed:
            ranges = [(0x80, 0x9f), (0x80, 0xbf)]
        elif 0xe1 <= b <= 0xef:
            ranges = [(0x80, 0xbf)] * 2
        elif b == 0xf0:
            ranges = [(0x90, 0xbf)] + [(0x80, 0xbf)] * 2
        elif 0xf1 <= b <= 0xf3:
            ranges = [(0x80, 0xbf)] * 3
        elif b == 0xf4:
            ranges = [(0x80, 0x8f)] + [(0x80, 0xbf)] * 2
        else:
            return i
        for k, (lo, hi) in enumerate(ranges):
            j = i + 1 + k
            if j == len(data):
                return None
            if not lo <= data[j] <= hi:
                return j
        i += 1 + len(ranges)
    return None


def utf8_ok(data):
    """Complete, valid UTF-8 (checked against Python's decoder too)."""
    try:
        data.decode("utf-8")
        ok = True
    except UnicodeDecodeError:
        ok = False
    return ok


# ------------------------------------------------------------ 6.1-6.4

@CASES("6.1.1")
def _(c):
    c.send_message(OP_TEXT, b"")
    c.expect_message(OP_TEXT, b"")
    c.close_handshake()


@CASES("6.1.2")
def _(c):
    # Three empty fragments.
    c.send_message(OP_TEXT, b"", fragments=3)
    c.expect_message(OP_TEXT, b"")
    c.close_handshake()


@CASES("6.1.3")
def _(c):
    # Empty first and last fragments around a non-empty one.
    c.send_message(OP_TEXT, b"middle frame payload", fragments=[0, 20, 0])
    c.expect_message(OP_TEXT, b"middle frame payload")
    c.close_handshake()


HELLO = "Hello-\u00b5@\u00df\u00f6\u00e4\u00fc\u00e0\u00e1-UTF-8!!".encode()
KOSME = b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"     # greek kosme


def _valid_case(payload, fragments):
    def run(c):
        c.send_message(OP_TEXT, payload, fragments=fragments)
        c.expect_message(OP_TEXT, payload)
        c.close_handshake()
    return run


CASES("6.2.1")(_valid_case(HELLO, None))
# On a code point boundary: "Hello-µ@ßöä" + "üàá-UTF-8!!".
CASES("6.2.2")(_valid_case(HELLO, [len("Hello-\u00b5@\u00df\u00f6\u00e4"
                                       .encode())]))
# One octet per fragment: most fragments end inside a code point.
CASES("6.2.3")(_valid_case(HELLO, len(HELLO)))
CASES("6.2.4")(_valid_case(KOSME, len(KOSME)))

# U+D800 (a surrogate) in the middle.
INVALID_631 = KOSME + b"\xed\xa0\x80" + b"edited"


@CASES("6.3.1")
def _(c):
    c.send_message(OP_TEXT, INVALID_631)
    c.expect_fail(1007)


@CASES("6.3.2")
def _(c):
    c.send_message(OP_TEXT, INVALID_631, fragments=len(INVALID_631))
    c.expect_fail(1007)


# 6.4.x: kosme, then 0x110000 in the 4-byte form (invalid at its second
# byte, 0x90), then "edited". Autobahn sends the first part, waits 1 s,
# sends the second, waits, sends the rest; the server must fail at the
# second part. Here the first part must draw nothing for a moment, and
# the close must come without the third part ever being sent.
PART1, PART2, PART3 = KOSME, b"\xf4\x90\x80\x80", b"edited"
PAYLOAD_64 = PART1 + PART2 + PART3


def _fail_fast_frames(cut1, cut2):
    """6.4.1/6.4.2: three fragments cut at cut1 and cut2."""
    def run(c):
        c.send_frame(OP_TEXT, PAYLOAD_64[:cut1], fin=False)
        c.expect_nothing()
        c.send_frame(OP_CONT, PAYLOAD_64[cut1:cut2], fin=False)
        c.expect_fail(1007)
    return run


def _fail_fast_chops(cut1, cut2):
    """6.4.3/6.4.4: one frame, its bytes sent in pieces cut at cut1 and
    cut2 of the payload."""
    def run(c):
        raw = frame(OP_TEXT, PAYLOAD_64)
        head = len(raw) - len(PAYLOAD_64)
        c.send_raw(raw[:head + cut1])
        c.expect_nothing()
        c.send_raw(raw[head + cut1:head + cut2])
        c.expect_fail(1007)
    return run


CASES("6.4.1")(_fail_fast_frames(len(PART1), len(PART1 + PART2)))
# The second part ends with the first invalid byte.
CASES("6.4.2")(_fail_fast_frames(12, 13))
CASES("6.4.3")(_fail_fast_chops(len(PART1), len(PART1 + PART2)))
CASES("6.4.4")(_fail_fast_chops(12, 13))


# ------------------------------------------------------------ 6.5-6.23

def utf8_sequences():
    """[(title, [(valid, bytes)])]: the groups 6.5-6.23 in Autobahn's
    order, from Markus Kuhn's UTF-8-test.txt."""
    seqs = []

    def group(title, items):
        seqs.append((title, items))

    group("some valid UTF-8 sequences", [
        (True, b"hello$world"), (True, b"hello\xc2\xa2world"),
        (True, b"hello\xe2\x82\xacworld"),
        (True, b"hello\xf0\xa4\xad\xa2world"), (True, KOSME)])
    # Prefixes that end inside a code point are not valid messages.
    group("all prefixes of kosme", [(utf8_ok(KOSME[:i]), KOSME[:i])
                                    for i in range(1, len(KOSME) + 1)])
    group("first possible sequence of a certain length", [
        (True, b"\x00"), (True, b"\xc2\x80"), (True, b"\xe0\xa0\x80"),
        (True, b"\xf0\x90\x80\x80")])
    group("first possible sequence length 5/6 (invalid code points)", [
        (False, b"\xf8\x88\x80\x80\x80"), (False, b"\xfc\x84\x80\x80\x80\x80")])
    group("last possible sequence of a certain length", [
        (True, b"\x7f"), (True, b"\xdf\xbf"), (True, b"\xef\xbf\xbf"),
        (True, b"\xf4\x8f\xbf\xbf")])
    group("last possible sequence length 4/5/6 (invalid code points)", [
        (False, b"\xf7\xbf\xbf\xbf"), (False, b"\xfb\xbf\xbf\xbf\xbf"),
        (False, b"\xfd\xbf\xbf\xbf\xbf\xbf")])
    group("other boundary conditions", [
        (True, b"\xed\x9f\xbf"), (True, b"\xee\x80\x80"),
        (True, b"\xef\xbf\xbd"), (True, b"\xf4\x8f\xbf\xbf"),
        (False, b"\xf4\x90\x80\x80")])
    group("unexpected continuation bytes", [
        (False, b"\x80"), (False, b"\xbf"), (False, b"\x80\xbf"),
        (False, b"\x80\xbf\x80"), (False, b"\x80\xbf\x80\xbf"),
        (False, b"\x80\xbf\x80\xbf\x80"), (False, b"\x80\xbf\x80\xbf\x80\xbf"),
        (False, bytes(range(0x80, 0xbf)))])
    group("lonely start characters", [
        (False, b"".join(bytes([b, 0x20]) for b in range(lo, hi)))
        for lo, hi in ((0xc0, 0xdf), (0xe0, 0xef), (0xf0, 0xf7),
                       (0xf8, 0xfb), (0xfc, 0xfd))])
    missing = [b"\xc0", b"\xe0\x80", b"\xf0\x80\x80", b"\xf8\x80\x80\x80",
               b"\xfc\x80\x80\x80\x80", b"\xdf", b"\xef\xbf", b"\xf7\xbf\xbf",
               b"\xfb\xbf\xbf\xbf", b"\xfd\xbf\xbf\xbf\xbf"]
    group("sequences with last continuation byte missing",
          [(False, s) for s in missing])
    group("concatenation of incomplete sequences",
          [(False, b"".join(missing))])
    group("impossible bytes", [
        (False, b"\xfe"), (False, b"\xff"), (False, b"\xfe\xfe\xff\xff")])
    group("examples of an overlong ASCII character", [
        (False, b"\xc0\xaf"), (False, b"\xe0\x80\xaf"),
        (False, b"\xf0\x80\x80\xaf"), (False, b"\xf8\x80\x80\x80\xaf"),
        (False, b"\xfc\x80\x80\x80\x80\xaf")])
    group("maximum overlong sequences", [
        (False, b"\xc1\xbf"), (False, b"\xe0\x9f\xbf"),
        (False, b"\xf0\x8f\xbf\xbf"), (False, b"\xf8\x87\xbf\xbf\xbf"),
        (False, b"\xfc\x83\xbf\xbf\xbf\xbf")])
    group("overlong representation of the NUL character", [
        (False, b"\xc0\x80"), (False, b"\xe0\x80\x80"),
        (False, b"\xf0\x80\x80\x80"), (False, b"\xf8\x80\x80\x80\x80"),
        (False, b"\xfc\x80\x80\x80\x80\x80")])
    single = [b"\xed\xa0\x80", b"\xed\xad\xbf", b"\xed\xae\x80",
              b"\xed\xaf\xbf", b"\xed\xb0\x80", b"\xed\xbe\x80",
              b"\xed\xbf\xbf"]
    group("single UTF-16 surrogates", [(False, s) for s in single])
    group("paired UTF-16 surrogates", [
        (False, hi + lo) for hi in single[:4] for lo in (single[4],
                                                          single[6])])
    # Non-characters are valid UTF-8 (RFC 3629).
    nonchars = [b"\xef\xbf\xbe", b"\xef\xbf\xbf"]
    for z1 in (0xf0, 0xf1, 0xf2, 0xf3, 0xf4):
        for z2 in (0x8f, 0x9f, 0xaf, 0xbf):
            if z1 == 0xf4 and z2 != 0x8f:
                continue        # above U+10FFFF
            for z3 in (0xbe, 0xbf):
                s = bytes([z1, z2, 0xbf, z3])
                if not (z1 == 0xf0 and z2 == 0x8f):     # overlong
                    nonchars.append(s)
    group("non-character code points (valid UTF-8)",
          [(True, s) for s in nonchars])
    group("Unicode specials", [
        (True, bytes([0xef, 0xbf, b])) for b in range(0xb9, 0xc0)])
    return seqs


SEQUENCES = {}          # case id -> (valid, bytes)
for _g, (_title, _items) in enumerate(utf8_sequences()):
    for _j, (_valid, _s) in enumerate(_items):
        SEQUENCES["6.%d.%d" % (_g + 5, _j + 1)] = (_valid, _s)


def _sequence_case(valid, payload):
    def run(c):
        c.send_message(OP_TEXT, payload)
        if valid:
            c.expect_message(OP_TEXT, payload)
            c.close_handshake()
        else:
            c.expect_fail(1007)
    return run


for _cid, (_valid, _s) in SEQUENCES.items():
    CASES(_cid)(_sequence_case(_valid, _s))


def test_sequence_table():
    """The table matches Autobahn's numbering (6.5.1 .. 6.23.7, 132
    sequences) and Python's decoder agrees with every verdict."""
    assert len(SEQUENCES) == 132
    assert "6.22.34" in SEQUENCES and "6.23.7" in SEQUENCES
    assert "6.22.35" not in SEQUENCES and "6.24.1" not in SEQUENCES
    for cid, (valid, s) in SEQUENCES.items():
        assert utf8_ok(s) == valid, cid
        if valid:
            assert utf8_bad_at(s) is None, cid


def test_case_count():
    assert len(CASES) == 13 + 132


@pytest.mark.parametrize("cid", CASES.ids())
def test_case(echo_port, cid):  # noqa: F811 (fixture)
    CASES.run(echo_port, cid)


@pytest.mark.parametrize("cid", list(SEQUENCES))
def test_split_at_every_point(echo_port, cid):  # noqa: F811 (fixture)
    """Not an Autobahn case: the sequence of cid, wrapped in ASCII, in two
    fragments split at every point. Valid: echoed whole each time (one
    connection). Invalid: 1007, and when the first fragment already holds
    the offending byte, without the second fragment being sent; then the
    same payload in one frame that announces 16 bytes more than are ever
    sent: 1007 as soon as the offending byte is in."""
    valid, s = SEQUENCES[cid]
    payload = b"ab" + s + b"yz"
    bad = utf8_bad_at(payload)
    if valid:
        with Client(echo_port) as c:
            for k in range(len(payload) + 1):
                c.send_message(OP_TEXT, payload, fragments=[k])
                c.expect_message(OP_TEXT, payload)
            c.close_handshake()
        return
    for k in range(len(payload) + 1):
        with Client(echo_port) as c:
            c.send_frame(OP_TEXT, payload[:k], fin=False)
            if bad is None or bad >= k:
                c.send_frame(OP_CONT, payload[k:])
            c.expect_fail(1007)
    if bad is not None:
        with Client(echo_port) as c:
            raw = frame(OP_TEXT, payload, length=len(payload) + 16)
            head = len(raw) - len(payload)
            c.send_raw(raw[:head + bad + 1])
            c.expect_fail(1007)
