"""test_apps.py -- the built-in apps with a real client (python-websockets),
session access lines and the graceful stop."""

import asyncio
import os
import re
import signal
import time

import websockets

import helpers
from helpers import OP_TEXT, close_frame, expect_close, frame, read_message


def run(coro, timeout=20):
    """Runs a coroutine with an overall deadline."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


def url(d, path):
    return "ws://127.0.0.1:%d%s" % (d.port, path)


async def hello(d, name):
    async with websockets.connect(url(d, "/hello")) as ws:
        await ws.send(name)
        reply = await asyncio.wait_for(ws.recv(), 5)
        await asyncio.wait_for(ws.wait_closed(), 5)
        return reply, ws.close_code


def test_hello(wsd):
    d = wsd()
    assert run(hello(d, "world")) == ("Hello world!", 1000)


def test_hello_unicode_and_empty(wsd):
    d = wsd()
    assert run(hello(d, "Zoë 🌍")) == ("Hello Zoë 🌍!", 1000)
    assert run(hello(d, "")) == ("Hello !", 1000)


def test_echo_round_trips(wsd):
    d = wsd()

    async def go():
        async with websockets.connect(url(d, "/echo"), max_size=None) as ws:
            await ws.send("plain text")
            assert await ws.recv() == "plain text"
            await ws.send(b"\x00\x01\xfe\xff")
            got = await ws.recv()
            assert isinstance(got, bytes) and got == b"\x00\x01\xfe\xff"
            text = "unicode: żółw, 猫, émoji 🐢, nul \x00 end"
            await ws.send(text)
            assert await ws.recv() == text
            await ws.close()
            return ws.close_code

    assert run(go()) == 1000


def test_echo_big_unicode_text(wsd):
    # Multibyte characters straddle every internal chunk boundary.
    d = wsd()
    text = ("é€😀a" * 30000)[:100001]

    async def go():
        async with websockets.connect(url(d, "/echo"), max_size=None) as ws:
            await ws.send(text)
            return await asyncio.wait_for(ws.recv(), 10)

    assert run(go()) == text


def test_hello_only_first_message(wsd):
    d = wsd()
    with helpers.ws_connect(d.port, "/hello") as c:
        c.send(frame(OP_TEXT, "one") + frame(OP_TEXT, "two"))
        assert read_message(c)[:2] == (OP_TEXT, b"Hello one!")
        expect_close(c, 1000)


def test_hello_fragmented_name(wsd):
    d = wsd()
    with helpers.ws_connect(d.port, "/hello") as c:
        c.send(frame(OP_TEXT, "frag", fin=False)
               + frame(helpers.OP_CONT, "mented"))
        assert read_message(c)[:2] == (OP_TEXT, b"Hello fragmented!")
        expect_close(c, 1000)


def test_echo_one_mib_binary(wsd):
    d = wsd()
    blob = os.urandom(1 << 20)

    async def go():
        async with websockets.connect(url(d, "/echo"), max_size=None) as ws:
            await ws.send(blob)
            return await asyncio.wait_for(ws.recv(), 10)

    got = run(go())
    assert len(got) == len(blob)
    assert got == blob


def test_echo_over_default_limit_1009(wsd):
    d = wsd()   # max_message_size default: 1 MiB

    async def go():
        async with websockets.connect(url(d, "/echo"), max_size=None) as ws:
            try:
                await ws.send(bytes((1 << 20) + 1))
                await asyncio.wait_for(ws.recv(), 5)
            except websockets.ConnectionClosed:
                pass
            await asyncio.wait_for(ws.wait_closed(), 5)
            return ws.close_code

    assert run(go()) == 1009


def test_echo_hundred_in_order(wsd):
    d = wsd()

    async def go():
        async with websockets.connect(url(d, "/echo")) as ws:
            for i in range(100):
                await ws.send("message %d" % i)
            return [await asyncio.wait_for(ws.recv(), 5) for _ in range(100)]

    assert run(go()) == ["message %d" % i for i in range(100)]


def test_client_ping_gets_pong(wsd):
    d = wsd()

    async def go():
        async with websockets.connect(url(d, "/echo")) as ws:
            waiter = await ws.ping(b"are you there")
            await asyncio.wait_for(waiter, 5)
            return True

    assert run(go())


def test_client_answering_server_pings_stays(wsd, static_root):
    d = wsd(helpers.make_config(static_root, server={
        "ping_interval": "0.5s", "ping_timeout": "0.5s"}))

    async def go():
        async with websockets.connect(url(d, "/echo"),
                                      ping_interval=None) as ws:
            await asyncio.sleep(2.0)
            await ws.send("still open")
            return await asyncio.wait_for(ws.recv(), 5)

    assert run(go()) == "still open"


def test_many_clients_at_once(wsd):
    d = wsd()

    async def one(i):
        async with websockets.connect(url(d, "/echo")) as ws:
            await ws.send("client %d" % i)
            return await asyncio.wait_for(ws.recv(), 5)

    async def go():
        return await asyncio.gather(*(one(i) for i in range(50)))

    assert run(go()) == ["client %d" % i for i in range(50)]


# ----------------------------------------------------------------- logging

def test_ws_access_line(wsd):
    d = wsd()
    c = helpers.ws_connect(d.port, "/echo")
    with c:
        port = c.sock.getsockname()[1]
        c.send(frame(OP_TEXT, "hello") + frame(helpers.OP_BINARY, b"123"))
        assert read_message(c)[1] == b"hello"
        assert read_message(c)[1] == b"123"
        c.send(close_frame(1000))
        expect_close(c, 1000)
        c.wait_closed(3)
    m = d.wait_log(r"access: 127\.0\.0\.1:%d ws /echo .*$" % port)
    line = m.group(0)
    assert "ws /echo" in line and "close=1000" in line, line
    assert " in=8" in line and " out=8" in line, line
    assert len([l for l in d.log_lines()
                if "access: 127.0.0.1:%d ws " % port in l]) == 1
    assert re.search(r"access: 127\.0\.0\.1:%d ws /echo \d+(\.\d+)?s "
                     r"close=1000 in=8 out=8$" % port, line), line


def test_ws_access_line_protocol_error(wsd):
    d = wsd()
    c = helpers.ws_connect(d.port, "/echo")
    with c:
        port = c.sock.getsockname()[1]
        c.send(frame(OP_TEXT, "x", mask=False))
        expect_close(c, 1002)
    d.wait_log(r"access: 127\.0\.0\.1:%d ws /echo .*close=1002" % port)


def test_hello_access_line(wsd):
    d = wsd()
    run(hello(d, "log"))
    d.wait_log(r"access: 127\.0\.0\.1:\d+ ws /hello .*close=1000 in=3 out=10")


# ----------------------------------------------------------------- stop

def test_sigterm_sends_1001_and_exits_zero(wsd):
    d = wsd()

    async def go():
        async with websockets.connect(url(d, "/echo")) as ws:
            await ws.send("before")
            assert await ws.recv() == "before"
            d.kill(signal.SIGTERM)
            await asyncio.wait_for(ws.wait_closed(), 5)
            return ws.close_code

    assert run(go()) == 1001
    d.proc.wait(10)
    assert d.proc.returncode == 0, d.log_tail()


def test_sigint_exits_zero(wsd):
    d = wsd()
    d.kill(signal.SIGINT)
    d.proc.wait(10)
    assert d.proc.returncode == 0, d.log_tail()


def test_stop_waits_at_most_close_timeout(wsd):
    # A raw client that never answers the 1001 close: wsd still exits,
    # after close_timeout (1s).
    d = wsd()
    c = helpers.ws_connect(d.port, "/echo")
    with c:
        t0 = time.monotonic()
        d.kill(signal.SIGTERM)
        expect_close(c, 1001)
        d.proc.wait(1 + 4)
        assert d.proc.returncode == 0, d.log_tail()
        assert time.monotonic() - t0 < 1 + 4


def test_stop_with_idle_http_connection(wsd):
    d = wsd()
    with helpers.Conn(d.port) as c:
        c.send(helpers.request("GET", "/notes.txt"))
        assert helpers.read_response(c).status == 200
        d.kill(signal.SIGTERM)
        assert c.wait_closed(3)
        d.proc.wait(5)
    assert d.proc.returncode == 0, d.log_tail()
