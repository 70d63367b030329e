"""test_frames.py -- hand-built frames against /echo and /hello (RFC 6455)."""

import struct
import time

import pytest

import helpers
from helpers import (OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT,
                     close_frame, expect_close, frame, read_frame,
                     read_message)

MAX_MESSAGE = 1024


@pytest.fixture
def ws(wsd, static_root):
    """Opens raw WebSockets on a daemon with max_message_size = 1k."""
    d = wsd(helpers.make_config(static_root,
                                server={"max_message_size": "1k"}))
    conns = []

    def open_ws(path="/echo"):
        c = helpers.ws_connect(d.port, path)
        conns.append(c)
        return c

    open_ws.daemon = d
    yield open_ws
    for c in conns:
        c.close()


def assert_tcp_closed(c, timeout=3.0):
    assert c.wait_closed(timeout), "TCP still open %.1fs after close" % timeout


def test_echo_text_and_binary(ws):
    c = ws()
    c.send(frame(OP_TEXT, "hello") + frame(OP_BINARY, b"\x00\xff\x80"))
    assert read_message(c)[:2] == (OP_TEXT, b"hello")
    assert read_message(c)[:2] == (OP_BINARY, b"\x00\xff\x80")


def test_zero_mask_key_and_empty_messages(ws):
    c = ws()
    c.send(frame(OP_TEXT, "", key=b"\0\0\0\0") + frame(OP_BINARY, b""))
    assert read_message(c)[:2] == (OP_TEXT, b"")
    assert read_message(c)[:2] == (OP_BINARY, b"")


def test_16bit_length(ws):
    c = ws()
    c.send(frame(OP_BINARY, bytes(range(256)) * 3))
    assert read_message(c)[:2] == (OP_BINARY, bytes(range(256)) * 3)


def test_frame_byte_by_byte(ws):
    c = ws()
    for b in frame(OP_TEXT, "slowly but surely"):
        c.send(bytes([b]))
    assert read_message(c)[:2] == (OP_TEXT, b"slowly but surely")


def test_mixed_sequence_byte_by_byte(ws):
    # Fragments, a ping between them and a close, one byte per write.
    c = ws()
    data = (frame(OP_TEXT, "caf\u00e9 ".encode()[:4], fin=False)
            + frame(OP_PING, "p1")
            + frame(OP_CONT, "caf\u00e9 ".encode()[4:] + b"au lait")
            + frame(OP_BINARY, bytes(200))
            + close_frame(1000, b"done"))
    for b in data:
        c.send(bytes([b]))
    f = read_frame(c)
    assert (f.opcode, f.payload) == (OP_PONG, b"p1"), f
    assert read_message(c)[:2] == (OP_TEXT, "café au lait".encode())
    assert read_message(c)[:2] == (OP_BINARY, bytes(200))
    expect_close(c, 1000)


def test_max_message_size_exact_is_ok(ws):
    c = ws()
    c.send(frame(OP_BINARY, b"m" * MAX_MESSAGE))
    assert read_message(c)[:2] == (OP_BINARY, b"m" * MAX_MESSAGE)


def test_unmasked_frame_1002(ws):
    c = ws()
    c.send(frame(OP_TEXT, "naked", mask=False))
    expect_close(c, 1002)


@pytest.mark.parametrize("rsv", [4, 2, 1], ids=["rsv1", "rsv2", "rsv3"])
def test_rsv_bits_1002(ws, rsv):
    c = ws()
    c.send(frame(OP_TEXT, "x", rsv=rsv))
    expect_close(c, 1002)


@pytest.mark.parametrize("opcode", [3, 7, 0xB, 0xF])
def test_unknown_opcode_1002(ws, opcode):
    c = ws()
    c.send(frame(opcode, "x"))
    expect_close(c, 1002)


def test_ping_126_bytes_1002(ws):
    c = ws()
    c.send(frame(OP_PING, b"p" * 126))
    expect_close(c, 1002)


def test_ping_125_bytes_ok(ws):
    c = ws()
    c.send(frame(OP_PING, b"p" * 125))
    f = read_frame(c)
    assert (f.opcode, f.payload) == (OP_PONG, b"p" * 125)


def test_fragmented_ping_1002(ws):
    c = ws()
    c.send(frame(OP_PING, b"abc", fin=False))
    expect_close(c, 1002)


def test_fragmented_close_1002(ws):
    c = ws()
    c.send(frame(OP_CLOSE, struct.pack("!H", 1000), fin=False))
    expect_close(c, 1002)


def test_continuation_without_start_1002(ws):
    c = ws()
    c.send(frame(OP_CONT, "orphan"))
    expect_close(c, 1002)


def test_new_message_while_fragmented_1002(ws):
    c = ws()
    c.send(frame(OP_TEXT, "part1", fin=False) + frame(OP_TEXT, "again"))
    expect_close(c, 1002)


def test_fragmented_with_ping_in_the_middle(ws):
    c = ws()
    c.send(frame(OP_TEXT, "Hello, ", fin=False)
           + frame(OP_PING, "mid")
           + frame(OP_CONT, "fragmented ", fin=False)
           + frame(OP_CONT, "world"))
    f = read_frame(c)
    assert (f.opcode, f.payload) == (OP_PONG, b"mid"), f
    op, data, controls = read_message(c)
    assert (op, data, controls) == (OP_TEXT, b"Hello, fragmented world", [])


def test_fragmented_binary(ws):
    c = ws()
    c.send(frame(OP_BINARY, b"\x01\x02", fin=False)
           + frame(OP_CONT, b"", fin=False)
           + frame(OP_CONT, b"\x03"))
    assert read_message(c)[:2] == (OP_BINARY, b"\x01\x02\x03")


@pytest.mark.parametrize("payload", [
    b"\xff",
    b"abc\xc0\xafdef",              # overlong '/'
    b"\xed\xa0\x80",                # surrogate U+D800
    b"\xf4\x90\x80\x80",            # above U+10FFFF
    b"caf\xc3",                     # truncated at the end
    b"\x80",                        # lone continuation byte
], ids=["ff", "overlong", "surrogate", "too-big", "truncated", "lone-cont"])
def test_invalid_utf8_1007(ws, payload):
    c = ws()
    c.send(frame(OP_TEXT, payload))
    expect_close(c, 1007)


def test_invalid_utf8_detected_mid_frame(ws):
    c = ws()
    payload = b"abc\xff" + b"x" * 996
    data = frame(OP_TEXT, payload)
    assert len(data) == 8 + 1000
    c.send(data[:8 + 10])       # header announces 1000, only 10 sent
    expect_close(c, 1007, timeout=3)


def test_invalid_utf8_in_later_fragment(ws):
    c = ws()
    c.send(frame(OP_TEXT, "valid start ", fin=False)
           + frame(OP_CONT, b"\xc3\x28", fin=False))
    expect_close(c, 1007)


def test_utf8_incomplete_at_message_end_1007(ws):
    c = ws()
    c.send(frame(OP_TEXT, b"euro \xe2\x82", fin=False)
           + frame(OP_CONT, b"", fin=True))
    expect_close(c, 1007)


def test_utf8_split_across_fragments_ok(ws):
    c = ws()
    c.send(frame(OP_TEXT, b"caf\xc3", fin=False)
           + frame(OP_CONT, b"\xa9 \xf0\x9f", fin=False)
           + frame(OP_CONT, b"\x98\x80"))
    assert read_message(c)[:2] == (OP_TEXT, "café 😀".encode())


def test_binary_may_hold_anything(ws):
    c = ws()
    c.send(frame(OP_BINARY, b"\xff\xfe\xc0\xaf"))
    assert read_message(c)[:2] == (OP_BINARY, b"\xff\xfe\xc0\xaf")


def test_close_one_byte_payload_1002(ws):
    c = ws()
    c.send(frame(OP_CLOSE, b"\x03"))
    expect_close(c, 1002)


@pytest.mark.parametrize("code", [0, 999, 1004, 1005, 1006, 1015, 1016,
                                  2000, 2999, 5000, 65535])
def test_close_invalid_code_1002(ws, code):
    c = ws()
    c.send(close_frame(code))
    expect_close(c, 1002)


def test_close_1000_with_reason(ws):
    c = ws()
    c.send(close_frame(1000, b"bye now"))
    expect_close(c, 1000)
    assert_tcp_closed(c)


@pytest.mark.parametrize("code", [1000, 1001, 1002, 1003, 1007, 1008, 1011,
                                  1014, 3000, 4000, 4999])
def test_close_valid_code_echoed(ws, code):
    c = ws()
    c.send(close_frame(code))
    expect_close(c, code)
    assert_tcp_closed(c)


def test_empty_close_echoed_empty(ws):
    c = ws()
    c.send(close_frame(None))
    f = read_frame(c)
    assert f.opcode == OP_CLOSE and f.payload == b"", f
    assert_tcp_closed(c)


def test_close_reason_invalid_utf8_1007(ws):
    c = ws()
    c.send(close_frame(1000, b"bad \xff reason"))
    expect_close(c, 1007)


def test_close_reason_125_bytes_ok(ws):
    c = ws()
    c.send(close_frame(1000, "é".encode() * 61 + b"x"))
    expect_close(c, 1000)


def test_close_after_data_still_delivers_data(ws):
    c = ws()
    c.send(frame(OP_TEXT, "last words") + close_frame(1000))
    assert read_message(c)[:2] == (OP_TEXT, b"last words")
    expect_close(c, 1000)
    assert_tcp_closed(c)


def test_message_too_big_at_header_1009(ws):
    c = ws()
    data = frame(OP_BINARY, bytes(2000))
    c.send(data[:2 + 2 + 4])    # header + mask only, no payload
    expect_close(c, 1009, timeout=3)


def test_huge_announced_length(ws):
    c = ws()
    c.send(bytes([0x82, 0xFF]) + struct.pack("!Q", 1 << 40) + b"\0\0\0\0")
    f = read_frame(c, 3)
    assert f.opcode == OP_CLOSE and f.close_code == 1009, f


def test_fragments_over_limit_1009(ws):
    c = ws()
    c.send(frame(OP_TEXT, "a" * 600, fin=False))
    c.send(frame(OP_CONT, "b" * 600)[:8])   # header of the second: 1200 > 1k
    expect_close(c, 1009, timeout=3)


def test_ten_pings_in_one_send(ws):
    c = ws()
    c.send(b"".join(frame(OP_PING, b"ping-%d" % i) for i in range(10)))
    for i in range(10):
        f = read_frame(c)
        assert (f.opcode, f.payload) == (OP_PONG, b"ping-%d" % i), (i, f)


def test_empty_ping(ws):
    c = ws()
    c.send(frame(OP_PING, b""))
    f = read_frame(c)
    assert (f.opcode, f.payload) == (OP_PONG, b"")


def test_unsolicited_pong_ignored(ws):
    c = ws()
    c.send(frame(OP_PONG, "unasked") + frame(OP_TEXT, "after"))
    assert read_message(c)[:3] == (OP_TEXT, b"after", [])


def test_binary_to_hello_1003(ws):
    c = ws("/hello")
    c.send(frame(OP_BINARY, b"\x01\x02"))
    expect_close(c, 1003)


def test_hello_raw(ws):
    c = ws("/hello")
    c.send(frame(OP_TEXT, "raw"))
    assert read_message(c)[:2] == (OP_TEXT, b"Hello raw!")
    expect_close(c, 1000)
    c.send(close_frame(1000))
    assert_tcp_closed(c)


def test_no_close_reply_tcp_dropped_after_close_timeout(ws):
    # The client neither answers the close nor closes its socket: wsd
    # still ends the session (access line) within close_timeout (1s).
    c = ws()
    port = c.sock.getsockname()[1]
    c.send(frame(OP_TEXT, "x", mask=False))
    expect_close(c, 1002)
    ws.daemon.wait_log(r"access: 127\.0\.0\.1:%d ws /echo .*close=1002"
                       % port, timeout=1 + 2.0)
    assert c.wait_closed(2.0), "TCP still open after the session ended"


def test_server_close_unanswered_dropped_after_close_timeout(ws):
    # hello closes by itself; a client that never answers is dropped.
    c = ws("/hello")
    c.send(frame(OP_TEXT, "mute"))
    assert read_message(c)[:2] == (OP_TEXT, b"Hello mute!")
    expect_close(c, 1000)
    assert c.wait_closed(1 + 2.0), "TCP kept open past close_timeout"


def test_close_reply_ends_tcp_promptly(wsd, static_root):
    # With a long close_timeout, answering the server's close must end
    # the TCP connection at once, not when the timeout fires.
    d = wsd(helpers.make_config(static_root, server={"close_timeout": "5s"}))
    c = helpers.ws_connect(d.port, "/hello")
    with c:
        c.send(frame(OP_TEXT, "quick"))
        assert read_message(c)[:2] == (OP_TEXT, b"Hello quick!")
        expect_close(c, 1000)
        c.send(close_frame(1000))
        assert c.wait_closed(2.5), "server waited for close_timeout anyway"


def test_protocol_error_does_not_affect_others(ws):
    good = ws()
    bad = ws()
    bad.send(frame(OP_TEXT, "x", rsv=4))
    expect_close(bad, 1002)
    good.send(frame(OP_TEXT, "still here"))
    assert read_message(good)[:2] == (OP_TEXT, b"still here")


# ----------------------------------------------------------------- pings

def ping_config(root):
    return helpers.make_config(root, server={"ping_interval": "0.5s",
                                             "ping_timeout": "0.5s"})


def test_server_pings(wsd, static_root):
    d = wsd(ping_config(static_root))
    with helpers.ws_connect(d.port, "/echo") as c:
        f = read_frame(c, timeout=3)
        assert f.opcode == OP_PING, f
        assert len(f.payload) <= 125


def test_answered_pings_keep_connection(wsd, static_root):
    d = wsd(ping_config(static_root))
    with helpers.ws_connect(d.port, "/echo") as c:
        t0 = time.monotonic()
        pings = 0
        while time.monotonic() - t0 < 2.0:
            if not c.buf and not helpers.readable(c.sock, 0.2):
                continue
            f = read_frame(c, timeout=3)
            assert f.opcode == OP_PING, f
            pings += 1
            c.send(frame(OP_PONG, f.payload))
        assert pings >= 2
        c.send(frame(OP_TEXT, "alive"))
        op, data, controls = read_message(c)
        assert (op, data) == (OP_TEXT, b"alive")


def test_unanswered_ping_1011(wsd, static_root):
    d = wsd(ping_config(static_root))
    with helpers.ws_connect(d.port, "/echo") as c:
        t0 = time.monotonic()
        expect_close(c, 1011, timeout=5)
        assert time.monotonic() - t0 < 5


def test_route_ping_override(wsd, static_root):
    text = helpers.make_config(static_root, route_extra={
        "/echo": {"ping_interval": "500ms", "ping_timeout": "500ms"}})
    d = wsd(text)
    with helpers.ws_connect(d.port, "/echo") as c:
        f = read_frame(c, timeout=3)
        assert f.opcode == OP_PING, f


def test_route_max_message_override(wsd, static_root):
    text = helpers.make_config(static_root, route_extra={
        "/echo": {"max_message_size": "100"}})
    d = wsd(text)
    with helpers.ws_connect(d.port, "/echo") as c:
        c.send(frame(OP_TEXT, "x" * 100))
        assert read_message(c)[1] == b"x" * 100
        c.send(frame(OP_TEXT, "x" * 101))
        expect_close(c, 1009)
