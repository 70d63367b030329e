"""test_access.py -- per-route access control: the Origin allow-list,
require_origin, auth_token_file (header, query, static routes, SIGHUP),
subprotocol negotiation and max_messages_per_second."""

import asyncio
import signal

import pytest
import websockets

import helpers
from helpers import (OP_PING, OP_PONG, OP_TEXT, Conn, expect_close, frame,
                     read_frame, read_message, read_response, run_wsd,
                     upgrade_request, ws_accept, ws_key)

ALLOWED = "https://app.example"


def run(coro, timeout=20):
    """Runs a coroutine with an overall deadline."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


def url(d, path):
    return "ws://127.0.0.1:%d%s" % (d.port, path)


def handshake(port, path="/echo", headers=None):
    """A raw upgrade with extra headers; returns (Conn, Response). The
    caller closes the Conn."""
    key = ws_key()
    c = Conn(port)
    c.send(upgrade_request(path, key, extra=headers))
    r = read_response(c, head_request=True)
    if r.status == 101:
        assert r.header("Sec-WebSocket-Accept") == ws_accept(key), r
    else:
        # Refusals carry a short body.
        cl = int(r.header("Content-Length"))
        r.body = c.read_exact(cl)
    return c, r


def status_of(port, path="/echo", headers=None):
    c, r = handshake(port, path, headers)
    c.close()
    return r


async def echo_with(d, path="/echo", **kw):
    """Connects with python-websockets, echoes one message; returns the
    negotiated subprotocol."""
    async with websockets.connect(url(d, path), **kw) as ws:
        await ws.send("ping me")
        assert await asyncio.wait_for(ws.recv(), 5) == "ping me"
        return ws.subprotocol


async def refused_with(d, path="/echo", **kw):
    """Connects with python-websockets; returns the refusal's status."""
    with pytest.raises(websockets.InvalidStatusCode) as e:
        async with websockets.connect(url(d, path), **kw):
            pass
    return e.value.status_code


# ----------------------------------------------------------------- origins


def origin_config(static_root, **echo):
    keys = {"app": "echo", "origins": "%s http://localhost:8080" % ALLOWED}
    keys.update(echo)
    return helpers.make_config(static_root, routes=[
        ("/", {"app": "static", "root": str(static_root)}),
        ("/echo", keys),
        ("/open", {"app": "echo"}),
    ])


def test_origin_allowed_and_refused(wsd, static_root):
    d = wsd(origin_config(static_root))
    assert run(echo_with(d, origin=ALLOWED)) is None
    assert run(echo_with(d, origin="http://localhost:8080")) is None
    for bad in ("https://evil.example", "http://app.example",
                "https://app.example:8443", "https://app.example.evil",
                "null"):
        mark = d.log_mark()
        assert run(refused_with(d, origin=bad)) == 403, bad
        d.wait_log(r"handshake refused: Origin not allowed", start=mark)
    # A route without origins takes any.
    assert run(echo_with(d, "/open", origin="https://evil.example")) is None


def test_origin_serialisation(wsd, static_root):
    """Case and default ports do not matter (RFC 6454 serialisation)."""
    d = wsd(origin_config(static_root))
    for origin in ("HTTPS://APP.Example", "https://app.example:443",
                   "http://LOCALHOST:8080"):
        c, r = handshake(d.port, headers={"Origin": origin})
        with c:
            assert r.status == 101, (origin, r)
            c.send(frame(OP_TEXT, "x"))
            assert read_message(c)[:2] == (OP_TEXT, b"x")
    r = status_of(d.port, headers={"Origin": "https://app.example/"})
    assert r.status == 403 and b"Origin not allowed" in r.body, r
    assert r.header("Connection") == "close"


def test_origin_missing(wsd, static_root):
    """Without Origin (a non-browser client): allowed unless
    require_origin is on."""
    d = wsd(origin_config(static_root))
    assert status_of(d.port).status == 101
    # Two Origin headers are not one listed origin.
    c = Conn(d.port)
    with c:
        c.send(b"GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
               b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
               b"Sec-WebSocket-Key: " + ws_key().encode() + b"\r\n"
               b"Origin: " + ALLOWED.encode() + b"\r\n"
               b"Origin: " + ALLOWED.encode() + b"\r\n\r\n")
        assert read_response(c).status == 403


def test_require_origin(wsd, static_root):
    d = wsd(origin_config(static_root, require_origin="on"))
    r = status_of(d.port)
    assert r.status == 403 and b"Origin required" in r.body, r
    d.wait_log(r"handshake refused: Origin required")
    assert status_of(d.port, headers={"Origin": ALLOWED}).status == 101


def test_require_origin_without_list(wsd, static_root):
    """require_origin alone: any Origin, but there must be one."""
    d = wsd(helpers.make_config(static_root, route_extra={
        "/echo": {"require_origin": "yes"}}))
    assert status_of(d.port).status == 403
    assert run(echo_with(d, origin="https://any.example")) is None


def test_origin_checked_before_upgrade(wsd, static_root):
    """A refused handshake gets no 101 and no frames: the bytes behind
    the request are never treated as WebSocket frames."""
    d = wsd(origin_config(static_root))
    c = Conn(d.port)
    with c:
        c.send(upgrade_request("/echo", ws_key(), extra={
            "Origin": "https://evil.example"}) + frame(OP_TEXT, "sneaky"))
        r = read_response(c)
        assert r.status == 403
        assert c.read_to_eof() == b""


# ----------------------------------------------------------------- tokens


@pytest.fixture
def tokens(tmp_path):
    path = tmp_path / "tokens.txt"
    path.write_text("# wsd tokens\n\nfirst-Token_1\n  s3cr+t/=  \n")
    return path


def auth_config(static_root, tokens, **server):
    return helpers.make_config(static_root, server=server, routes=[
        ("/", {"app": "static", "root": str(static_root),
               "auth_token_file": str(tokens)}),
        ("/echo", {"app": "echo", "auth_token_file": str(tokens)}),
        ("/open", {"app": "echo"}),
    ])


def test_token_header(wsd, static_root, tokens):
    d = wsd(auth_config(static_root, tokens))
    assert run(echo_with(d, extra_headers={
        "Authorization": "Bearer first-Token_1"})) is None
    assert run(echo_with(d, extra_headers={
        "Authorization": "bearer s3cr+t/="})) is None
    for value in ("Bearer first-Token_", "Bearer first-Token_12",
                  "Basic first-Token_1", "first-Token_1", "Bearer "):
        assert run(refused_with(d, extra_headers={
            "Authorization": value})) == 401, value
    assert run(refused_with(d)) == 401
    assert run(echo_with(d, "/open")) is None


def test_token_refusal(wsd, static_root, tokens):
    d = wsd(auth_config(static_root, tokens))
    r = status_of(d.port, headers={"Authorization": "Bearer nope"})
    assert r.status == 401, r
    assert r.header("WWW-Authenticate") == "Bearer"
    assert r.header("Connection") == "close"
    assert b"missing or invalid token" in r.body
    d.wait_log(r"handshake refused: missing or invalid token")
    assert "nope" not in d.log_text()


def test_token_query(wsd, static_root, tokens):
    d = wsd(auth_config(static_root, tokens))
    assert run(echo_with(d, "/echo?token=first-Token_1")) is None
    # Percent-decoded: "+", "/" and "=" may come encoded.
    assert run(echo_with(d, "/echo?a=1&token=s3cr%2Bt%2F%3D&b=2")) is None
    assert run(echo_with(d, "/echo?token=s3cr+t/=")) is None
    for q in ("token=first", "token=", "Token=first-Token_1",
              "tokens=first-Token_1", "token=first-Token_1%"):
        assert run(refused_with(d, "/echo?" + q)) == 401, q


def test_token_never_logged(wsd, static_root, tokens):
    """The access log shows token=*** in place of a token, good or bad."""
    d = wsd(auth_config(static_root, tokens))
    assert status_of(d.port, "/echo?x=1&token=wrong-guess").status == 401
    assert helpers.http_get(d.port, "/index.html?token=first-Token_1"
                            "&y=2").status == 200
    assert helpers.http_get(d.port, "/nothing?token=other").status == 401
    d.wait_log(r'"GET /echo\?x=1&token=\*\*\* HTTP/1.1" 401')
    d.wait_log(r'"GET /index.html\?token=\*\*\*&y=2 HTTP/1.1" 200')
    d.wait_log(r'"GET /nothing\?token=\*\*\* HTTP/1.1" 401')
    log = d.log_text()
    for secret in ("wrong-guess", "first-Token_1", "other"):
        assert secret not in log, secret


def test_token_static_route(wsd, static_root, tokens):
    d = wsd(auth_config(static_root, tokens))
    r = helpers.http_get(d.port, "/index.html")
    assert r.status == 401 and r.header("WWW-Authenticate") == "Bearer"
    assert b"wsd test root index" not in r.body
    r = helpers.http_get(d.port, "/index.html", method="HEAD")
    assert r.status == 401
    r = helpers.http_get(d.port, "/index.html", headers={
        "Authorization": "Bearer first-Token_1"})
    assert r.status == 200 and b"wsd test root index" in r.body
    r = helpers.http_get(d.port, "/sub/?token=s3cr%2Bt/=")
    assert r.status == 200 and r.body == b"<p>sub index</p>\n"
    # The refusal keeps the connection: the next request is served.
    with Conn(d.port) as c:
        c.send(helpers.request("GET", "/notes.txt") +
               helpers.request("GET", "/notes.txt", headers={
                   "Authorization": "Bearer first-Token_1"}))
        assert read_response(c).status == 401
        r = read_response(c)
        assert r.status == 200 and r.body == b"plain notes\n"


def test_token_file_errors(tmp_path, static_root):
    """A missing or empty token file is a config error at the key's line."""
    for name, text, why in (
            ("missing.txt", None, "No such file or directory"),
            ("empty.txt", "# none yet\n\n", "no token in the file"),
            ("spaces.txt", "a b\n", "line 1: a token is printable ASCII "
             "without spaces")):
        path = tmp_path / name
        if text is not None:
            path.write_text(text)
        conf = tmp_path / "wsd.ini"
        conf.write_text("[server]\nlisten = 127.0.0.1:0\n\n[route /echo]\n"
                        "app = echo\nauth_token_file = %s\n" % path)
        rc, out = run_wsd(["-t", "-c", str(conf)])
        assert rc != 0, out
        assert '%s:6: auth_token_file "%s": %s' % (conf, path, why) in out


def test_token_reload(wsd, static_root, tokens):
    """SIGHUP re-reads the token file with the config; a bad file fails the
    reload and keeps the old tokens."""
    d = wsd(auth_config(static_root, tokens))
    old = {"Authorization": "Bearer first-Token_1"}
    new = {"Authorization": "Bearer brand-new"}
    assert status_of(d.port, headers=old).status == 101
    assert status_of(d.port, headers=new).status == 401

    tokens.write_text("brand-new\n")
    mark = d.log_mark()
    d.kill(signal.SIGHUP)
    d.wait_log(r"SIGHUP: configuration reloaded", start=mark)
    assert status_of(d.port, headers=new).status == 101
    assert status_of(d.port, headers=old).status == 401
    assert helpers.http_get(d.port, "/", headers=new).status == 200

    tokens.write_text("# emptied by mistake\n")
    mark = d.log_mark()
    d.kill(signal.SIGHUP)
    # A bad token file fails the reload: the old config, tokens included,
    # stays.
    d.wait_log(r"error: .*:\d+: auth_token_file .*: no token in the file",
               start=mark)
    d.wait_log(r"SIGHUP: reload failed", start=mark)
    assert status_of(d.port, headers=new).status == 101
    tokens.unlink()
    mark = d.log_mark()
    d.kill(signal.SIGHUP)
    d.wait_log(r"No such file or directory\n(?:.*\n)*?"
               r".*SIGHUP: reload failed", start=mark)
    assert status_of(d.port, headers=new).status == 101
    assert d.alive()


def test_origin_then_token(wsd, static_root, tokens):
    """Both rules on one route: a bad Origin is 403 whatever the token,
    a good Origin without a token 401."""
    d = wsd(helpers.make_config(static_root, routes=[
        ("/echo", {"app": "echo", "origins": ALLOWED,
                   "auth_token_file": str(tokens)})]))
    good = {"Authorization": "Bearer first-Token_1"}
    assert status_of(d.port, headers=dict(
        good, Origin="https://evil.example")).status == 403
    assert status_of(d.port, headers={"Origin": ALLOWED}).status == 401
    assert run(echo_with(d, origin=ALLOWED, extra_headers=good)) is None


# ------------------------------------------------------------ subprotocols


def proto_config(static_root):
    return helpers.make_config(static_root, routes=[
        ("/echo", {"app": "echo", "subprotocols": "superchat chat"}),
        ("/plain", {"app": "echo"}),
    ])


def test_subprotocol_python_client(wsd, static_root):
    d = wsd(proto_config(static_root))
    # The client's order decides: its first offer that the route lists.
    assert run(echo_with(d, subprotocols=["x", "chat", "superchat"])) == \
        "chat"
    assert run(echo_with(d, subprotocols=["superchat", "chat"])) == \
        "superchat"
    # No common one: accepted without a subprotocol.
    assert run(echo_with(d, subprotocols=["mqtt"])) is None
    assert run(echo_with(d)) is None
    # A route without subprotocols never selects one.
    assert run(echo_with(d, subprotocols=["CHAT"])) is None
    assert run(echo_with(d, "/plain", subprotocols=["chat"])) is None


def test_subprotocol_raw(wsd, static_root):
    d = wsd(proto_config(static_root))
    c, r = handshake(d.port, headers={"Sec-WebSocket-Protocol": "a, chat"})
    with c:
        assert r.status == 101
        assert r.header_all("Sec-WebSocket-Protocol") == ["chat"]
        c.send(frame(OP_TEXT, "still echoes"))
        assert read_message(c)[:2] == (OP_TEXT, b"still echoes")
    # Offers spread over several header lines count in order.
    with Conn(d.port) as c:
        c.send(b"GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
               b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
               b"Sec-WebSocket-Key: " + ws_key().encode() + b"\r\n"
               b"Sec-WebSocket-Protocol: x, , y\r\n"
               b"Sec-WebSocket-Protocol: superchat\r\n"
               b"Sec-WebSocket-Protocol: chat\r\n\r\n")
        r = read_response(c, head_request=True)
        assert r.status == 101
        assert r.header_all("Sec-WebSocket-Protocol") == ["superchat"]
    c, r = handshake(d.port, headers={"Sec-WebSocket-Protocol": "nothing"})
    with c:
        assert r.status == 101
        assert r.header("Sec-WebSocket-Protocol") is None


def test_subprotocol_invalid(wsd, static_root):
    d = wsd(proto_config(static_root))
    for bad in ("chat, a b", "chat;q=1", '"chat"', "x/y"):
        mark = d.log_mark()
        r = status_of(d.port, headers={"Sec-WebSocket-Protocol": bad})
        assert r.status == 400, (bad, r)
        assert b"invalid Sec-WebSocket-Protocol" in r.body
        d.wait_log(r"handshake refused: invalid Sec-WebSocket-Protocol",
                   start=mark)
    # Checked on routes without subprotocols too.
    assert status_of(d.port, "/plain", headers={
        "Sec-WebSocket-Protocol": "a b"}).status == 400


# ------------------------------------------------------------ message rate


def rate_config(static_root, server_rate=None, **echo):
    return helpers.make_config(
        static_root,
        server={"max_messages_per_second": server_rate},
        routes=[("/echo", dict({"app": "echo"}, **echo)),
                ("/free", {"app": "echo", "max_messages_per_second": "0"}),
                ("/default", {"app": "echo"})])


def burst(c, n, prefix="m"):
    """Sends n text messages in one write."""
    c.send(b"".join(frame(OP_TEXT, "%s%d" % (prefix, i)) for i in range(n)))


def test_rate_exceeded(wsd, static_root):
    d = wsd(rate_config(static_root, max_messages_per_second="5"))
    with helpers.ws_connect(d.port, "/echo") as c:
        burst(c, 6)
        for i in range(5):
            assert read_message(c)[:2] == (OP_TEXT, b"m%d" % i)
        f = expect_close(c, 1008)
        assert f.payload[2:] == b"message rate exceeded"
    d.wait_log(r"ws /echo: closing with 1008: message rate exceeded")
    d.wait_log(r"ws /echo .* close=1008")


def test_rate_burst_within_limit(wsd, static_root):
    """N messages at once are fine; control frames and fragments of one
    message do not count as more messages."""
    d = wsd(rate_config(static_root, max_messages_per_second="3"))
    with helpers.ws_connect(d.port, "/echo") as c:
        c.send(b"".join(frame(OP_PING, b"p%d" % i) for i in range(20)))
        for i in range(20):
            f = read_frame(c)
            assert (f.opcode, f.payload) == (OP_PONG, b"p%d" % i)
        # One message in ten fragments, then two more: three in all.
        c.send(frame(OP_TEXT, "a", fin=False) +
               b"".join(frame(0, "b", fin=False) for _ in range(8)) +
               frame(0, "c"))
        burst(c, 2)
        assert read_message(c)[:2] == (OP_TEXT, b"a" + b"b" * 8 + b"c")
        assert read_message(c)[:2] == (OP_TEXT, b"m0")
        assert read_message(c)[:2] == (OP_TEXT, b"m1")
        # The fourth goes over.
        c.send(frame(OP_TEXT, "over"))
        expect_close(c, 1008)


def test_rate_server_default(wsd, static_root):
    """[server] max_messages_per_second applies to routes that do not set
    their own; 0 on a route lifts it."""
    d = wsd(rate_config(static_root, server_rate="2"))
    with helpers.ws_connect(d.port, "/default") as c:
        burst(c, 3)
        read_message(c)
        read_message(c)
        expect_close(c, 1008)
    with helpers.ws_connect(d.port, "/free") as c:
        burst(c, 200)
        for i in range(200):
            assert read_message(c)[:2] == (OP_TEXT, b"m%d" % i)
    # Each connection has its own budget.
    for _ in range(3):
        with helpers.ws_connect(d.port, "/default") as c:
            burst(c, 2)
            assert read_message(c)[:2] == (OP_TEXT, b"m0")
            assert read_message(c)[:2] == (OP_TEXT, b"m1")


def test_rate_python_client(wsd, static_root):
    d = wsd(rate_config(static_root, max_messages_per_second="10"))

    async def flood():
        async with websockets.connect(url(d, "/echo")) as ws:
            with pytest.raises(websockets.ConnectionClosed):
                for i in range(1000):
                    await ws.send("x%d" % i)
                    await asyncio.sleep(0)
                await asyncio.wait_for(ws.wait_closed(), 5)
                await ws.recv()
            return ws.close_code, ws.close_reason

    assert run(flood()) == (1008, "message rate exceeded")
