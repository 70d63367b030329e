#!/usr/bin/python3
"""py-peer.py -- wsd's apps on python-websockets, for bench/run to compare.

The handlers are the library's Quick start examples (echo, hello, the
counter) plus a broadcast and a relay written the same way; run with
Debian's python3-websockets (10.4) and asyncio's default loop.

Usage: py-peer.py [--port N] [--period-ms MS]
"""
import argparse
import asyncio
import datetime
import http
import json
import logging
import signal

import websockets

USERS = set()           # /counter
VALUE = 0
TICKERS = set()         # /broadcast
ROOM = set()            # /relay


# Compact JSON, byte for byte what wsd sends.
def users_event():
    return json.dumps({"type": "users", "count": len(USERS)},
                      separators=(",", ":"))


def value_event():
    return json.dumps({"type": "value", "value": VALUE},
                      separators=(",", ":"))


async def echo(websocket):
    async for message in websocket:
        await websocket.send(message)


async def hello(websocket):
    name = await websocket.recv()
    await websocket.send(f"Hello {name}!")


async def counter(websocket):
    global VALUE
    try:
        USERS.add(websocket)
        websockets.broadcast(USERS, users_event())
        await websocket.send(value_event())
        async for message in websocket:
            event = json.loads(message)
            if event.get("action") == "minus":
                VALUE -= 1
                websockets.broadcast(USERS, value_event())
            elif event.get("action") == "plus":
                VALUE += 1
                websockets.broadcast(USERS, value_event())
    finally:
        USERS.remove(websocket)
        websockets.broadcast(USERS, users_event())


async def members(group, websocket):
    group.add(websocket)
    try:
        async for message in websocket:
            if group is ROOM:
                websockets.broadcast(ROOM, message)
    finally:
        group.discard(websocket)


async def ticker(period):
    """Every period the same UTC time to every client, fixed-rate: the next
    deadline follows the last one, and ticks that overran are skipped."""
    loop = asyncio.get_running_loop()
    deadline = loop.time()
    while True:
        deadline += period
        now = loop.time()
        while deadline <= now:
            deadline += period
        await asyncio.sleep(deadline - now)
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%S.%fZ")
        websockets.broadcast(TICKERS, stamp)


async def route(websocket, path=None):
    path = websocket.path
    if path == "/echo":
        await echo(websocket)
    elif path == "/hello":
        await hello(websocket)
    elif path == "/counter":
        await counter(websocket)
    elif path == "/broadcast":
        await members(TICKERS, websocket)
    elif path == "/relay":
        await members(ROOM, websocket)


async def process_request(path, headers):
    if path not in ("/echo", "/hello", "/counter", "/broadcast", "/relay"):
        return http.HTTPStatus.NOT_FOUND, [], b"not found\n"
    return None


async def main(args):
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(
            sig, stop.set_result, None)
    async with websockets.serve(route, "127.0.0.1", args.port,
                                process_request=process_request) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"listening on 127.0.0.1:{port}", flush=True)
        tick = asyncio.create_task(ticker(args.period_ms / 1000))
        await stop
        tick.cancel()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--period-ms", type=float, default=1000)
    logging.basicConfig(level=logging.ERROR)
    asyncio.run(main(parser.parse_args()))
