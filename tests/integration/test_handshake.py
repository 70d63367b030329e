"""test_handshake.py -- the WebSocket opening handshake (RFC 6455 4.2)."""

import base64

import pytest

import helpers
from helpers import Conn, read_response, upgrade_request


def handshake(port, want_close=True, **kw):
    """Sends a handshake request; returns the response and, for refusals
    (which end the connection), whether the server closed it."""
    with Conn(port) as c:
        c.send(upgrade_request(**kw))
        r = read_response(c, head_request=False)
        closed = c.wait_closed(3.0) if want_close else None
    return r, closed


def test_valid_handshake_101(wsd):
    d = wsd()
    key = helpers.ws_key()
    with Conn(d.port) as c:
        c.send(upgrade_request("/echo", key))
        r = read_response(c, head_request=True)
    assert r.status == 101, r
    assert r.header("Upgrade", "").lower() == "websocket", r
    assert "upgrade" in r.header("Connection", "").lower(), r
    assert r.header("Sec-WebSocket-Accept") == helpers.ws_accept(key), r


def test_rfc_sample_key(wsd):
    # RFC 6455 1.3: the sample nonce and its accept value.
    d = wsd()
    with Conn(d.port) as c:
        c.send(upgrade_request("/echo", "dGhlIHNhbXBsZSBub25jZQ=="))
        r = read_response(c, head_request=True)
    assert r.status == 101, r
    assert r.header("Sec-WebSocket-Accept") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_header_tokens_case_and_lists(wsd):
    d = wsd()
    key = helpers.ws_key()
    with Conn(d.port) as c:
        c.send(upgrade_request("/echo", key, upgrade="WebSocket",
                               connection="keep-alive, UPGRADE"))
        r = read_response(c, head_request=True)
    assert r.status == 101, r
    assert r.header("Sec-WebSocket-Accept") == helpers.ws_accept(key)


def test_post_with_upgrade_405(wsd):
    d = wsd()
    r, closed = handshake(d.port, path="/echo", key=helpers.ws_key(),
                          method="POST")
    assert r.status == 405, r
    assert closed


def test_missing_key_400(wsd):
    d = wsd()
    r, closed = handshake(d.port, path="/echo", key=None)
    assert r.status == 400, r
    assert r.body, "400 without a reason in the body"
    assert closed


@pytest.mark.parametrize("key", [
    base64.b64encode(b"short").decode(),            # 5 bytes
    base64.b64encode(bytes(17)).decode(),           # 17 bytes
    "not base64 at all!!!!!!!",
    "",
])
def test_invalid_key_400(wsd, key):
    d = wsd()
    r, closed = handshake(d.port, path="/echo", key=key)
    assert r.status == 400, r
    assert closed


def test_missing_upgrade_header_is_plain_get(wsd):
    # Without "Upgrade: websocket" no upgrade was requested: a plain GET
    # to an app route, which the spec answers with 426.
    d = wsd()
    r, _ = handshake(d.port, False, path="/echo", key=helpers.ws_key(),
                     upgrade=None)
    assert r.status == 426, r
    assert r.header("Upgrade", "").lower() == "websocket", r


def test_upgrade_other_protocol_is_plain_get(wsd):
    d = wsd()
    r, _ = handshake(d.port, False, path="/echo", key=helpers.ws_key(),
                     upgrade="h2c")
    assert r.status == 426, r


def test_missing_connection_token_400(wsd):
    d = wsd()
    r, closed = handshake(d.port, path="/echo", key=helpers.ws_key(),
                          connection="keep-alive")
    assert r.status == 400, r
    assert closed


def test_missing_connection_header_400(wsd):
    d = wsd()
    r, closed = handshake(d.port, path="/echo", key=helpers.ws_key(),
                          connection=None)
    assert r.status == 400, r
    assert closed


def test_http10_upgrade_400(wsd):
    d = wsd()
    r, closed = handshake(d.port, path="/echo", key=helpers.ws_key(),
                          http="HTTP/1.0")
    assert r.status == 400, r
    assert closed


@pytest.mark.parametrize("version", ["8", None, "14"])
def test_wrong_version_426(wsd, version):
    d = wsd()
    r, closed = handshake(d.port, path="/echo", key=helpers.ws_key(),
                          version=version)
    assert r.status == 426, r
    assert r.header("Sec-WebSocket-Version") == "13", r
    assert closed


def test_frame_behind_handshake_is_echoed(wsd):
    d = wsd()
    c = helpers.ws_connect(d.port, "/echo",
                           after=helpers.frame(helpers.OP_TEXT, "early bird"))
    with c:
        op, data, _ = helpers.read_message(c)
    assert (op, data) == (helpers.OP_TEXT, b"early bird")


def test_several_frames_behind_handshake(wsd):
    d = wsd()
    frames = b"".join(helpers.frame(helpers.OP_TEXT, "m%d" % i)
                      for i in range(5))
    c = helpers.ws_connect(d.port, "/echo", after=frames)
    with c:
        got = [helpers.read_message(c)[1] for _ in range(5)]
    assert got == [b"m%d" % i for i in range(5)]


def test_handshake_query_string(wsd):
    d = wsd()
    key = helpers.ws_key()
    with Conn(d.port) as c:
        c.send(upgrade_request("/echo?token=abc", key))
        r = read_response(c, head_request=True)
    assert r.status == 101, r


def test_handshake_timeout_applies_to_upgrade(wsd):
    d = wsd()   # handshake_timeout = 1s
    with Conn(d.port) as c:
        c.send(b"GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n")
        assert c.wait_closed(1 + 2.0)
