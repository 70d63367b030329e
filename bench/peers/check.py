#!/usr/bin/python3
"""check.py -- checks that a server on 127.0.0.1:PORT speaks wsd's five apps
the way bench/run expects of wsd and every peer (bench/run --check).

Usage: check.py PORT [PERIOD_MS]    (the server's broadcast period)
Exit status 0 when every check passes, 1 with the first failure otherwise.
"""
import asyncio
import datetime
import json
import sys

import websockets

STAMP = "%Y-%m-%dT%H:%M:%S.%fZ"


async def expect_close(ws, code):
    try:
        msg = await asyncio.wait_for(ws.recv(), 5)
    except websockets.ConnectionClosed as e:
        assert e.rcvd is not None and e.rcvd.code == code, \
            "close %r, want %d" % (e.rcvd, code)
        return
    raise AssertionError("message %r, want close %d" % (msg, code))


async def recv_json(ws):
    return json.loads(await asyncio.wait_for(ws.recv(), 5))


async def expect_json(ws, want, what):
    got = await recv_json(ws)
    assert got == want, "%s: %r, want %r" % (what, got, want)


async def main(port, period_ms):
    url = "ws://127.0.0.1:%d" % port
    for compression in (None, "deflate"):
        async with websockets.connect(url + "/echo",
                                      compression=compression) as ws:
            for msg in ("abc", "é" * 3000, b"\x00\xff" * 40000):
                await ws.send(msg)
                got = await asyncio.wait_for(ws.recv(), 5)
                assert got == msg, "echo of %d units differs" % len(msg)

    async with websockets.connect(url + "/hello") as ws:
        await ws.send("bench")
        got = await asyncio.wait_for(ws.recv(), 5)
        assert got == "Hello bench!", "hello: %r" % got
        await expect_close(ws, 1000)

    async with websockets.connect(url + "/broadcast") as a, \
            websockets.connect(url + "/broadcast", compression=None) as b:
        x = await asyncio.wait_for(a.recv(), 5 + period_ms / 1000)
        # b may have joined after a's tick: both see the next one.
        y = await asyncio.wait_for(b.recv(), 5 + period_ms / 1000)
        if x != y:
            x = await asyncio.wait_for(a.recv(), 5 + period_ms / 1000)
        assert x == y, "broadcast: %r vs %r" % (x, y)
        t = datetime.datetime.strptime(x, STAMP).replace(
            tzinfo=datetime.timezone.utc)
        now = datetime.datetime.now(datetime.timezone.utc)
        assert abs((now - t).total_seconds()) < 5, "broadcast: stamp %s" % x

    async with websockets.connect(url + "/counter") as a:
        await expect_json(a, {"type": "users", "count": 1}, "counter")
        first = await recv_json(a)
        assert first["type"] == "value", first
        async with websockets.connect(url + "/counter") as b:
            await expect_json(a, {"type": "users", "count": 2}, "counter")
            got = [await recv_json(b), await recv_json(b)]
            assert {"type": "users", "count": 2} in got, got
            assert {"type": "value", "value": first["value"]} in got, got
            await b.send(json.dumps({"action": "plus"}))
            want = {"type": "value", "value": first["value"] + 1}
            await expect_json(a, want, "counter")
            await expect_json(b, want, "counter")
            await b.send('{"action":"minus"}')
            want["value"] -= 1
            await expect_json(a, want, "counter")
            await expect_json(b, want, "counter")
        await expect_json(a, {"type": "users", "count": 1}, "counter")

    async with websockets.connect(url + "/relay") as a, \
            websockets.connect(url + "/relay") as b:
        await a.send("hi")
        assert await asyncio.wait_for(a.recv(), 5) == "hi"
        assert await asyncio.wait_for(b.recv(), 5) == "hi"


if __name__ == "__main__":
    try:
        asyncio.run(main(int(sys.argv[1]),
                         float(sys.argv[2]) if len(sys.argv) > 2 else 1000))
    except (AssertionError, OSError, asyncio.TimeoutError,
            websockets.WebSocketException) as e:
        print("check failed: %s: %s" % (type(e).__name__, e))
        sys.exit(1)
    print("ok")
