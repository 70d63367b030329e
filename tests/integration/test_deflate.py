"""test_deflate.py -- permessage-deflate (RFC 7692): negotiation with
python-websockets and raw clients, compressed echo, hub fan-out, limits."""

import asyncio
import json
import os
import zlib

import websockets

import helpers
from helpers import (OP_BINARY, OP_CONT, OP_PING, OP_TEXT, expect_close,
                     frame)
from pmd_lib import PmdConn, TAIL

# The relay keeps context takeover here (compression = on), so that the
# hub's per-member path stays covered; test_deflate_shared.py has the
# hub routes' default, shared.
ROUTES = [("/echo", {"app": "echo"}),
          ("/relay", {"app": "relay", "echo_self": "off",
                      "compression": "on"}),
          ("/counter", {"app": "counter"})]


def conf(server=None, routes=None):
    return helpers.make_config(routes=routes or ROUTES, server=server)


def run(coro, timeout=30):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def url(d, path):
    return "ws://127.0.0.1:%d%s" % (d.port, path)


def text_blob(n, seed=0):
    """n bytes of compressible UTF-8 text with multibyte characters."""
    words = ["wsd", "deflate", "żółw", "猫", "émoji", "🐢", "window",
             "context", "takeover", "message", "%d" % seed]
    out, i = [], seed
    size = 0
    while size < n:
        w = words[(i * 7 + i // 3) % len(words)]
        out.append(w)
        size += len(w.encode()) + 1
        i += 1
    return " ".join(out).encode()[:n].decode("utf-8", "ignore")


# ------------------------------------------------------- python-websockets


def test_python_client_negotiates_and_echoes(wsd):
    d = wsd(conf())
    big_text = text_blob(600000)
    big_bin = os.urandom(300000) + bytes(300000)

    async def go():
        async with websockets.connect(url(d, "/echo"), max_size=None) as ws:
            names = [e.name for e in ws.extensions]
            hdr = ws.response_headers.get("Sec-WebSocket-Extensions")
            for msg in ["small", "", "ü" * 3, big_text, b"", b"\x00\x01",
                        big_bin, "again " * 100]:
                await ws.send(msg)
                got = await asyncio.wait_for(ws.recv(), 10)
                assert got == msg, (len(got), len(msg))
            await ws.close()
            return names, hdr, ws.close_code

    names, hdr, code = run(go())
    assert names == ["permessage-deflate"]
    # python-websockets offers client_max_window_bits: we take 12 bits
    # both ways, as its own server does.
    assert hdr == "permessage-deflate; server_max_window_bits=12; " \
        "client_max_window_bits=12"
    assert code == 1000


def test_python_client_without_compression(wsd):
    d = wsd(conf())

    async def go():
        async with websockets.connect(url(d, "/echo"),
                                      compression=None) as ws:
            await ws.send("plain")
            got = await ws.recv()
            return got, ws.extensions, \
                ws.response_headers.get("Sec-WebSocket-Extensions")

    assert run(go()) == ("plain", [], None)


def test_compression_off_and_per_route(wsd):
    routes = [("/echo", {"app": "echo"}),
              ("/zecho", {"app": "echo", "compression": "on"})]
    d = wsd(conf(server={"compression": "off"}, routes=routes))

    async def names(path):
        async with websockets.connect(url(d, path)) as ws:
            await ws.send("x" * 1000)
            assert await ws.recv() == "x" * 1000
            return [e.name for e in ws.extensions]

    assert run(names("/echo")) == []
    assert run(names("/zecho")) == ["permessage-deflate"]
    routes = [("/echo", {"app": "echo", "compression": "off"})]
    d2 = wsd(conf(routes=routes))
    with PmdConn(d2.port, "/echo", offer="permessage-deflate") as c:
        assert c.params is None
        # Without the extension, RSV1 is a protocol error.
        c.conn.send(frame(OP_TEXT, b"x", rsv=4))
        expect_close(c.conn, 1002)


def test_counter_compressed(wsd):
    d = wsd(conf())

    async def go():
        async with websockets.connect(url(d, "/counter")) as a, \
                websockets.connect(url(d, "/counter"),
                                   compression=None) as b:
            seen = []
            await a.send(json.dumps({"action": "plus"}))
            for ws in (a, b):
                while True:
                    m = json.loads(await asyncio.wait_for(ws.recv(), 5))
                    # The value on joining (0) comes first.
                    if m["type"] == "value" and m["value"] == 1:
                        seen.append(m["value"])
                        break
            return seen, [e.name for e in a.extensions], b.extensions

    seen, names, none = run(go())
    assert seen == [1, 1]
    assert names == ["permessage-deflate"] and none == []


# ------------------------------------------------------------ negotiation


def test_declined_offers_still_upgrade(wsd):
    d = wsd(conf())
    for offer in ["permessage-deflate; server_max_window_bits=8",
                  "permessage-deflate; bogus",
                  "permessage-deflate; server_no_context_takeover; "
                  "server_no_context_takeover",
                  "permessage-deflate; client_max_window_bits=\"1",
                  "x-unknown-extension; a=b",
                  ";;;,,,\"\\"]:
        with PmdConn(d.port, "/echo", offer=offer) as c:
            assert c.params is None, (offer, c.params)
            c.send("hello", compress=False)
            assert c.recv() == (OP_TEXT, b"hello")


def test_fallback_to_next_offer_across_lines(wsd):
    d = wsd(conf())
    key = helpers.ws_key()
    req = helpers.upgrade_request("/echo", key).replace(
        b"\r\n\r\n", b"\r\nSec-WebSocket-Extensions: foo, permessage-deflate;"
        b" server_max_window_bits=8\r\nSec-WebSocket-Extensions: "
        b"permessage-deflate; server_no_context_takeover; "
        b"server_max_window_bits=10\r\n\r\n")
    with helpers.Conn(d.port) as c:
        c.send(req)
        r = helpers.read_response(c, head_request=True)
        assert r.status == 101
        assert r.header_all("Sec-WebSocket-Extensions") == [
            "permessage-deflate; server_no_context_takeover; "
            "server_max_window_bits=10"]


# ------------------------------------------------------------ raw frames


def test_raw_echo_params_and_fragments(wsd):
    d = wsd(conf())
    offers = ["permessage-deflate",
              "permessage-deflate; client_no_context_takeover; "
              "server_no_context_takeover",
              "permessage-deflate; server_max_window_bits=9; "
              "client_max_window_bits=9"]
    for offer in offers:
        with PmdConn(d.port, "/echo", offer=offer) as c:
            assert c.params is not None
            for i, n in enumerate([0, 1, 100, 5000, 70000, 200000]):
                msg = text_blob(n, i).encode()
                for frag in (0, 1, 7, 1000):
                    if frag == 1 and n > 5000:
                        continue
                    c.send(msg, OP_TEXT, frag=frag)
                    op, rsv1, payload = c.recv_raw()
                    assert op == OP_TEXT and rsv1 == 1
                    assert c.decompress(payload) == msg
                c.send(msg, OP_BINARY, frag=0)
                assert c.recv() == (OP_BINARY, msg)
            # Uncompressed messages stay allowed on the same connection.
            c.send("plain", compress=False)
            assert c.recv() == (OP_TEXT, b"plain")


def test_server_no_context_takeover_bytes_repeat(wsd):
    d = wsd(conf())
    offer = "permessage-deflate; server_no_context_takeover"
    msg = b"the same message, twice over " * 20
    with PmdConn(d.port, "/echo", offer=offer) as c:
        c.send(msg)
        first = c.recv_raw()[2]
        c.send(msg)
        second = c.recv_raw()[2]
        assert first == second
        assert zlib.decompressobj(wbits=-12).decompress(first + TAIL) == msg
    with PmdConn(d.port, "/echo", offer="permessage-deflate") as c:
        c.send(msg)
        first = c.recv_raw()[2]
        c.send(msg)
        second = c.recv_raw()[2]
        # Context takeover: the repeat refers back to the first copy.
        assert len(second) < len(first) // 2


def test_rsv1_rules(wsd):
    d = wsd(conf())
    # No extension: RSV1 on a data frame fails the connection.
    with helpers.ws_connect(d.port, "/echo") as c:
        c.send(frame(OP_TEXT, b"x", rsv=4))
        expect_close(c, 1002)
    offer = "permessage-deflate"
    # With it: never on a continuation frame...
    with PmdConn(d.port, "/echo", offer=offer) as c:
        c.conn.send(frame(OP_TEXT, b"", fin=False, rsv=4) +
                    frame(OP_CONT, b"", rsv=4))
        expect_close(c.conn, 1002)
    # ... nor on a control frame; RSV2/RSV3 stay errors.
    with PmdConn(d.port, "/echo", offer=offer) as c:
        c.conn.send(frame(OP_PING, b"", rsv=4))
        expect_close(c.conn, 1002)
    with PmdConn(d.port, "/echo", offer=offer) as c:
        c.conn.send(frame(OP_TEXT, b"x", rsv=2))
        expect_close(c.conn, 1002)


def test_zip_bomb_closes_1009(wsd):
    d = wsd(conf(server={"max_message_size": "64k"}))
    bomb = zlib.compressobj(wbits=-15)
    z = bomb.compress(bytes(50 * 1024 * 1024)) + \
        bomb.flush(zlib.Z_SYNC_FLUSH)
    assert len(z) < 100000
    rss0 = helpers.proc_rss_kb(d.pid)
    with PmdConn(d.port, "/echo", offer="permessage-deflate") as c:
        c.conn.send(frame(OP_BINARY, z[:-4], rsv=4))
        expect_close(c.conn, 1009)
    d.wait_log(r"closing with 1009: inflated message too big")
    # Inflating stopped at the limit: nothing near 50 MiB was held.
    assert helpers.proc_rss_kb(d.pid) - rss0 < 20 * 1024
    # Within the limit (64 KiB exactly) the same stream is fine.
    with PmdConn(d.port, "/echo", offer="permessage-deflate") as c:
        c.send(bytes(65536), OP_BINARY)
        assert c.recv() == (OP_BINARY, bytes(65536))
        c.send(bytes(65537), OP_BINARY)
        expect_close(c.conn, 1009)


def test_bad_compressed_data(wsd):
    d = wsd(conf())
    # Invalid UTF-8 inside compressed text: 1007 once inflated.
    with PmdConn(d.port, "/echo", offer="permessage-deflate") as c:
        c.conn.send(frame(OP_TEXT, c.compress(b"ok \xff\xfe bad"), rsv=4))
        expect_close(c.conn, 1007)
    # Truncated UTF-8 at the end of a compressed text message.
    with PmdConn(d.port, "/echo", offer="permessage-deflate") as c:
        c.conn.send(frame(OP_TEXT, c.compress("ż".encode()[:1]), rsv=4))
        expect_close(c.conn, 1007)
    # Not deflate at all.
    with PmdConn(d.port, "/echo", offer="permessage-deflate") as c:
        c.conn.send(frame(OP_BINARY, b"\xff\xff\xff\xff\xff", rsv=4))
        expect_close(c.conn, 1002)
    d.wait_log(r"invalid compressed data")


def test_hub_shares_no_context_frames(wsd):
    d = wsd(conf())
    nct = "permessage-deflate; server_no_context_takeover"
    with PmdConn(d.port, "/relay", offer=nct) as a, \
            PmdConn(d.port, "/relay", offer=nct) as b, \
            PmdConn(d.port, "/relay", offer="permessage-deflate") as k, \
            PmdConn(d.port, "/relay") as p, \
            PmdConn(d.port, "/relay", offer="permessage-deflate") as sender:
        for i in range(3):
            msg = ("broadcast %d " % i).encode() * 50
            sender.send(msg)
            ra, rb, rk, rp = (x.recv_raw() for x in (a, b, k, p))
            # The same parameters: the very same compressed bytes.
            assert ra == rb and ra[1] == 1
            assert a.decompress(ra[2]) == msg
            assert rk[1] == 1 and k.decompress(rk[2]) == msg
            assert rp == (OP_TEXT, 0, msg)


def test_hub_drop_keeps_compression_context(wsd):
    """A slow member with context takeover under the drop policy: the
    messages dropped for it never enter its compression context (wsd
    compresses at delivery), so everything it does get inflates with one
    continuous inflater, intact and in order."""
    import random
    from test_slow_clients import (Reader, RssWatch, nodelay,
                                   publish_paced, relay_conf)

    total = 4000

    def block(seq):
        return random.Random(seq).randbytes(3000)

    def payload(seq):
        # Mostly incompressible, so the slow client's kernel buffers fill;
        # but each message repeats 1000 bytes of the one before, which its
        # compressed form refers back to: a dropped message that had gone
        # into the context would garble the next one.
        return seq.to_bytes(8, "big") + block(seq - 1)[:1000] + block(seq)

    def check(op, data):
        assert op == OP_BINARY
        seq = int.from_bytes(data[:8], "big")
        assert data == payload(seq), "corrupt message %d" % seq
        return seq

    d = wsd(relay_conf("drop").replace("app = relay",
                                       "app = relay\ncompression = on"))
    slow = PmdConn(d.port, "/relay", offer="permessage-deflate",
                   rcvbuf=4096)
    readers = [Reader(helpers.ws_connect(d.port, "/relay"), check)]
    pub = nodelay(helpers.ws_connect(d.port, "/relay"))
    rss = RssWatch(d.pid)
    try:
        assert slow.params is not None
        publish_paced(lambda i, k: [pub.send(frame(OP_BINARY, payload(s)))
                                    for s in range(i, i + k)],
                      readers, total, rss)
        assert readers[0].got == list(range(total))
        seqs = []
        while True:
            try:
                op, rsv1, z = slow.recv_raw(timeout=1.0)
            except TimeoutError:
                break
            assert rsv1 == 1
            seqs.append(check(op, slow.decompress(z)))
        assert seqs == sorted(set(seqs)), "out of order or repeated"
        assert 0 < len(seqs) < total, len(seqs)
        # (test_slow_clients.py bounds the memory of the policies; RSS
        # here would only measure a sanitizer's quarantine.)
    finally:
        for c in [slow, pub] + [r.w for r in readers]:
            c.close()
