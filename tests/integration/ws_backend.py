"""ws_backend.py -- a python-websockets (10.x) backend for the proxy tests.

Run as a program: ws_backend.py (--port N | --unix PATH) [--tls CERT KEY]
[--deflate]. It prints "ready PORT" once listening and one line per event
it wants the test to see ("closed CODE REASON", "sent N"), flushed.

Paths:
  /echo      each message back as it came (text or binary); subprotocols
             "chat" and "superchat" are offered, the server picks the
             first of its own list the client offered
  /headers   first sends a JSON text message: the request's path and
             headers and the chosen subprotocol, then echoes
  /close     "close CODE REASON" makes the server close with that
  (any path) "frames N" gets one text message in N fragments back
  /sink      never reads (a backend that does not keep up)
  /flood     sends 64 KiB binary messages until the connection goes
"""

import argparse
import asyncio
import json
import ssl
import sys

import websockets


def say(*words):
    print(*words, flush=True)


async def handler(ws, path=None):
    path = ws.path
    base = path.split("?")[0]
    try:
        if base == "/headers":
            await ws.send(json.dumps({
                "path": path,
                "subprotocol": ws.subprotocol,
                "headers": [[k, v] for k, v in ws.request_headers.raw_items()],
            }))
        if base == "/sink":
            await asyncio.sleep(3600)
            return
        if base == "/flood":
            blob = b"\x5a" * 65536
            n = 0
            while True:
                await ws.send(blob)
                n += 1
                if n % 16 == 0:
                    say("sent", n)
        async for msg in ws:
            if isinstance(msg, str) and msg.startswith("close "):
                _, code, reason = msg.split(" ", 2)
                await ws.close(int(code), reason)
                break
            if isinstance(msg, str) and msg.startswith("frames "):
                n = int(msg.split()[1])
                await ws.send(["part%d|" % i for i in range(n)])
                continue
            await ws.send(msg)
    except websockets.ConnectionClosed:
        pass
    finally:
        say("closed", ws.close_code, ws.close_reason or "-")


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int)
    ap.add_argument("--unix")
    ap.add_argument("--tls", nargs=2)
    ap.add_argument("--deflate", action="store_true")
    a = ap.parse_args()
    kw = dict(subprotocols=["chat", "superchat"], max_size=None,
              compression="deflate" if a.deflate else None,
              ping_interval=None, max_queue=1, read_limit=2 ** 16,
              write_limit=2 ** 16)
    if a.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.tls[0], a.tls[1])
        kw["ssl"] = ctx
    if a.unix:
        server = await websockets.unix_serve(handler, a.unix, **kw)
        say("ready", a.unix)
    else:
        server = await websockets.serve(handler, "127.0.0.1", a.port or 0,
                                        **kw)
        say("ready", server.sockets[0].getsockname()[1])
    await asyncio.Future()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
