"""test_deflate_shared.py -- compression = shared (RFC 7692 without context
takeover either way), the default on hub routes: the handshake, messages
compressed once and shared by every member with the same parameters,
messages from clients inflated through the loop's streams, and the
defaults and precedence of the compression key."""

import asyncio
import json
import re
import time
import zlib

import websockets

import helpers
from helpers import OP_BINARY, OP_CONT, OP_TEXT, expect_close, frame
from pmd_lib import PmdConn, TAIL
from test_deflate import run, url

NCT = "server_no_context_takeover; client_no_context_takeover"
# What python-websockets (and browsers) offer, answered on a shared route.
SHARED_RESP = "permessage-deflate; " + NCT + "; server_max_window_bits=12; " \
    "client_max_window_bits=12"

ROUTES = [("/echo", {"app": "echo"}),
          ("/relay", {"app": "relay", "echo_self": "off"}),
          ("/counter", {"app": "counter"}),
          ("/broadcast", {"app": "broadcast", "interval_min": "20ms",
                          "interval_max": "40ms"})]


def conf(server=None, routes=None):
    return helpers.make_config(routes=routes or ROUTES, server=server)


def fresh_inflate(payload, bits):
    """A server message inflated by a stream that saw nothing before: what
    no context takeover promises."""
    return zlib.decompressobj(wbits=-bits).decompress(payload + TAIL)


def test_python_client_on_hub_routes(wsd):
    """python-websockets with its default offer: the response asks for no
    context takeover both ways, and broadcast, counter and relay messages
    (hub traffic and the counter's direct replies) arrive intact."""
    d = wsd(conf())

    async def go():
        out = {}
        async with websockets.connect(url(d, "/broadcast")) as b:
            out["broadcast"] = [await asyncio.wait_for(b.recv(), 5)
                                for _ in range(5)]
            out["broadcast_hdr"] = b.response_headers[
                "Sec-WebSocket-Extensions"]
        async with websockets.connect(url(d, "/counter")) as a, \
                websockets.connect(url(d, "/counter")) as b:
            for _ in range(3):
                await a.send(json.dumps({"action": "plus"}))
            seen = []
            while len(seen) < 3:
                m = json.loads(await asyncio.wait_for(b.recv(), 5))
                if m["type"] == "value" and m["value"] > 0:
                    seen.append(m["value"])
            out["counter"] = seen
            out["counter_hdr"] = a.response_headers[
                "Sec-WebSocket-Extensions"]
        async with websockets.connect(url(d, "/relay")) as a, \
                websockets.connect(url(d, "/relay")) as b:
            msgs = ["message %d " % i * (i + 1) for i in range(40)]
            msgs += [b"\x00\x01" * 3000, "", "ü" * 5000]
            got = []
            for m in msgs:
                await a.send(m)
                got.append(await asyncio.wait_for(b.recv(), 5))
            out["relay"] = got == msgs
            out["relay_hdr"] = b.response_headers["Sec-WebSocket-Extensions"]
        return out

    out = run(go())
    assert len(out["broadcast"]) == 5
    for ts in out["broadcast"]:
        assert ts.endswith("Z") and len(ts) == 27, ts
    assert out["counter"] == [1, 2, 3]
    assert out["relay"]
    for k in ("broadcast_hdr", "counter_hdr", "relay_hdr"):
        assert out[k] == SHARED_RESP, (k, out[k])


def test_members_share_identical_frames(wsd):
    """Two members with the same parameters get byte-identical compressed
    frames that a fresh inflater reads (no context); a member with a
    smaller window gets its own variant; a plain member the plain frame.
    Repeated messages compress to the same bytes every time."""
    d = wsd(conf())
    offer = "permessage-deflate; client_max_window_bits"
    with PmdConn(d.port, "/relay", offer=offer) as a, \
            PmdConn(d.port, "/relay", offer="permessage-deflate") as b, \
            PmdConn(d.port, "/relay", offer="permessage-deflate; "
                    "server_max_window_bits=10") as w10, \
            PmdConn(d.port, "/relay") as plain, \
            PmdConn(d.port, "/relay", offer=offer) as sender:
        for c in (a, b, sender):
            assert "server_no_context_takeover" in c.params
            assert "client_no_context_takeover" in c.params
            assert c.params["server_max_window_bits"] == 12
        assert w10.params["server_max_window_bits"] == 10
        assert plain.params is None
        msg = b"the same message, over and over " * 40
        first = None
        for i in range(3):
            sender.send(msg)
            ra, rb, r10, rp = (x.recv_raw() for x in (a, b, w10, plain))
            assert ra == rb and ra[0] == OP_TEXT and ra[1] == 1
            assert fresh_inflate(ra[2], 12) == msg
            assert r10[1] == 1 and fresh_inflate(r10[2], 10) == msg
            assert rp == (OP_TEXT, 0, msg)
            # No context: the third copy is as long as the first.
            first = first or ra[2]
            assert ra[2] == first
    # Counter: hub messages shared, direct replies to a newcomer pooled.
    with PmdConn(d.port, "/counter", offer=offer) as a, \
            PmdConn(d.port, "/counter", offer=offer) as b:
        # Each gets the value and users directly on joining, then users
        # 2 through the hub (maybe coalesced): all inflate fresh.
        for c in (a, b):
            seen = []
            while {"type": "users", "count": 2} not in seen or \
                    {"type": "value", "value": 0} not in seen:
                op, rsv1, z = c.recv_raw()
                assert rsv1 == 1
                seen.append(json.loads(fresh_inflate(z, 12)))
        a.send(json.dumps({"action": "plus"}).encode())
        ra, rb = a.recv_raw(), b.recv_raw()
        assert ra == rb and ra[1] == 1
        assert json.loads(fresh_inflate(ra[2], 12)) == \
            {"type": "value", "value": 1}


def test_inflate_interleaved_clients(wsd):
    """Compressed messages from several clients with different windows,
    cut into fragments that arrive interleaved with each other's: the
    loop's inflaters (one per window size, reset per message) never mix
    them up, over many messages."""
    d = wsd(conf())
    offers = ["permessage-deflate; client_max_window_bits=9",
              "permessage-deflate",                   # 15 bits
              "permessage-deflate; client_max_window_bits",  # 12 bits
              "permessage-deflate; client_max_window_bits=9"]
    senders = [PmdConn(d.port, "/relay", offer=o) for o in offers]
    reader = PmdConn(d.port, "/relay")
    try:
        bits = [s.params.get("client_max_window_bits", 15)
                for s in senders]
        assert bits == [9, 15, 12, 9]
        for s in senders:
            assert "client_no_context_takeover" in s.params
        expect = []
        for rnd in range(30):
            parts = []
            for i, s in enumerate(senders):
                msg = ("client %d round %d: " % (i, rnd) +
                       "żółw deflate window %d " % (rnd * i) * (20 + i * 30)
                       ).encode()
                z = s.compress(msg)
                cut = len(z) // 2
                parts.append((s, frame(OP_TEXT, z[:cut], fin=False, rsv=4),
                              frame(OP_CONT, z[cut:])))
                expect.append(msg)
            # First halves of all, then the second halves: each message
            # spans other clients' messages, in separate reads.
            for s, f1, _ in parts:
                s.conn.send(f1)
                time.sleep(0.002)
            for s, _, f2 in parts:
                s.conn.send(f2)
                time.sleep(0.002)
            # Whole messages in between, binary too.
            for i, s in enumerate(senders):
                msg = bytes([rnd, i]) * (100 + rnd)
                s.send(msg, OP_BINARY)
                expect.append(msg)
        got = []
        while len(got) < len(expect):
            got.append(reader.recv()[1])
        # Order among clients follows completion: compare as multisets
        # per client, and every message intact.
        assert sorted(got) == sorted(expect)
    finally:
        for c in senders + [reader]:
            c.close()


def test_echo_keeps_context_takeover(wsd):
    """Echo-style routes default to on: today's response and context
    takeover (a repeated message shrinks)."""
    d = wsd(conf())
    with PmdConn(d.port, "/echo", offer="permessage-deflate; "
                 "client_max_window_bits") as c:
        assert c.params == {"server_max_window_bits": 12,
                            "client_max_window_bits": 12}
        msg = b"the same message, twice over " * 20
        c.send(msg)
        first = c.recv_raw()[2]
        assert c.decompress(first) == msg
        c.send(msg)
        second = c.recv_raw()[2]
        assert len(second) < len(first) // 2
        assert c.decompress(second) == msg


def test_compression_key_precedence(wsd):
    """A route's own value beats [server]'s, which beats the app's
    default; off declines; on makes a hub route take context over."""
    routes = [("/relay", {"app": "relay"}),
              ("/relay-off", {"app": "relay", "compression": "off"}),
              ("/echo-shared", {"app": "echo", "compression": "shared"}),
              ("/counter-on", {"app": "counter", "compression": "yes"})]
    d = wsd(conf(routes=routes))
    off = PmdConn(d.port, "/relay-off", offer="permessage-deflate")
    assert off.params is None
    # Without the extension RSV1 is a protocol error.
    off.conn.send(frame(OP_TEXT, b"x", rsv=4))
    expect_close(off.conn, 1002)
    off.close()
    with PmdConn(d.port, "/relay", offer="permessage-deflate") as c:
        assert "server_no_context_takeover" in c.params
    with PmdConn(d.port, "/echo-shared", offer="permessage-deflate") as c:
        assert "client_no_context_takeover" in c.params
        msg = b"echo without context " * 30
        for _ in range(3):
            c.send(msg)
            op, rsv1, z = c.recv_raw()
            assert rsv1 == 1 and fresh_inflate(z, 12) == msg
    with PmdConn(d.port, "/counter-on", offer="permessage-deflate") as c:
        assert c.params == {"server_max_window_bits": 12}

    # [server] sets it for every route that does not set its own.
    routes = [("/relay", {"app": "relay"}),
              ("/echo", {"app": "echo", "compression": "shared"})]
    d2 = wsd(conf(server={"compression": "on"}, routes=routes))
    with PmdConn(d2.port, "/relay", offer="permessage-deflate") as c:
        assert c.params == {"server_max_window_bits": 12}
    with PmdConn(d2.port, "/echo", offer="permessage-deflate") as c:
        assert "server_no_context_takeover" in c.params
    d3 = wsd(conf(server={"compression": "off"}, routes=routes))
    with PmdConn(d3.port, "/relay", offer="permessage-deflate") as c:
        assert c.params is None
    with PmdConn(d3.port, "/echo", offer="permessage-deflate") as c:
        assert "server_no_context_takeover" in c.params


def test_shared_limits_and_errors(wsd):
    """Held pieces are inflated at the end, still under max_message_size
    (1009) and still checked (1007, 1002); the next connection's messages
    are unaffected by a failed one."""
    d = wsd(conf(server={"max_message_size": "64k"}))
    bomb = zlib.compressobj(wbits=-15)
    z = bomb.compress(bytes(10 * 1024 * 1024)) + \
        bomb.flush(zlib.Z_SYNC_FLUSH)
    with PmdConn(d.port, "/relay", offer="permessage-deflate") as c:
        cut = len(z) // 3
        c.conn.send(frame(OP_BINARY, z[:cut], fin=False, rsv=4) +
                    frame(OP_CONT, z[cut:-4]))
        expect_close(c.conn, 1009)
    with PmdConn(d.port, "/relay", offer="permessage-deflate") as c:
        zz = c.compress(b"ok \xff\xfe bad")
        c.conn.send(frame(OP_TEXT, zz[:3], fin=False, rsv=4) +
                    frame(OP_CONT, zz[3:]))
        expect_close(c.conn, 1007)
    with PmdConn(d.port, "/relay", offer="permessage-deflate") as c:
        c.conn.send(frame(OP_BINARY, b"\xff\xff", fin=False, rsv=4) +
                    frame(OP_CONT, b"\xff\xff\xff"))
        expect_close(c.conn, 1002)
    with PmdConn(d.port, "/relay", offer="permessage-deflate") as a, \
            PmdConn(d.port, "/relay") as r:
        for n in (0, 1, 65536):
            a.send(bytes(n), OP_BINARY, frag=100)
            assert r.recv() == (OP_BINARY, bytes(n))
        a.send(bytes(65537), OP_BINARY, frag=1000)
        expect_close(a.conn, 1009)


# ------------------------------------------------- documented memory cost


def zlib_bytes(deflating, wbits, mem_level):
    """Bytes zlib allocates for one raw stream the way pmd.c sets it up,
    after one short message went through it (inflate allocates its window
    on first use): counted by a zalloc hook through ctypes."""
    import ctypes
    import ctypes.util
    lib = ctypes.CDLL(ctypes.util.find_library("z"))
    alloc_t = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p,
                               ctypes.c_uint, ctypes.c_uint)
    free_t = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)

    class ZStream(ctypes.Structure):
        _fields_ = [("next_in", ctypes.c_void_p), ("avail_in", ctypes.c_uint),
                    ("total_in", ctypes.c_ulong),
                    ("next_out", ctypes.c_void_p),
                    ("avail_out", ctypes.c_uint),
                    ("total_out", ctypes.c_ulong), ("msg", ctypes.c_char_p),
                    ("state", ctypes.c_void_p), ("zalloc", alloc_t),
                    ("zfree", free_t), ("opaque", ctypes.c_void_p),
                    ("data_type", ctypes.c_int), ("adler", ctypes.c_ulong),
                    ("reserved", ctypes.c_ulong)]

    libc = ctypes.CDLL(None)
    libc.calloc.restype = ctypes.c_void_p
    libc.calloc.argtypes = [ctypes.c_size_t, ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    total = [0]

    def zalloc(_, n, size):
        total[0] += n * size
        return libc.calloc(n, size)

    def zfree(_, p):
        libc.free(p)

    keep = (alloc_t(zalloc), free_t(zfree))
    src = b"hello " * 20
    comp = zlib.compressobj(wbits=-wbits)
    payload = comp.compress(src) + comp.flush(zlib.Z_SYNC_FLUSH)
    s = ZStream(zalloc=keep[0], zfree=keep[1])
    lib.zlibVersion.restype = ctypes.c_char_p
    ver = lib.zlibVersion()
    if deflating:
        assert lib.deflateInit2_(ctypes.byref(s), -1, 8, -wbits, mem_level,
                                 0, ver, ctypes.sizeof(s)) == 0
        inp = src
    else:
        assert lib.inflateInit2_(ctypes.byref(s), -wbits, ver,
                                 ctypes.sizeof(s)) == 0
        inp = payload
    ibuf = ctypes.create_string_buffer(inp, len(inp))
    obuf = ctypes.create_string_buffer(4096)
    s.next_in, s.avail_in = ctypes.addressof(ibuf), len(inp)
    s.next_out, s.avail_out = ctypes.addressof(obuf), 4096
    (lib.deflate if deflating else lib.inflate)(ctypes.byref(s), 2)
    (lib.deflateEnd if deflating else lib.inflateEnd)(ctypes.byref(s))
    return total[0]


def test_documented_compression_memory_matches_zlib(srcdir):
    """Issue 16 item 9: README, wsd.ini(5) and etc/wsd.ini give the same
    memory cost for compression = on, and it is what zlib allocates for
    pmd.c's streams (server window and memLevel from pmd.h): a deflate
    context, an inflate one for a 4 KiB client window or a 32 KiB one."""
    h = (srcdir / "src" / "pmd.h").read_text()
    wbits = int(re.search(r"#define PMD_SERVER_WBITS\s+(\d+)", h).group(1))
    cbits = int(re.search(r"#define PMD_CLIENT_WBITS\s+(\d+)", h).group(1))
    level = int(re.search(r"#define PMD_MEM_LEVEL\s+(\d+)", h).group(1))
    kib = lambda n: round(n / 1024)         # noqa: E731
    d = zlib_bytes(True, wbits, level)
    i = zlib_bytes(False, cbits, level)
    i15 = zlib_bytes(False, 15, level)
    want = ["%d KiB to compress and %d KiB to inflate" % (kib(d), kib(i)),
            "%d KiB" % kib(d + i), "%d KiB for a" % kib(d + i15)]
    for doc in ("README.md", "man/wsd.ini.5", "etc/wsd.ini"):
        text = re.sub(r"[\s;]+", " ", (srcdir / doc).read_text())
        for w in want:
            assert w in text, "%s does not say %r" % (doc, w)
    # shared: no per-connection zlib state, said everywhere too.
    for doc in ("README.md", "man/wsd.ini.5", "etc/wsd.ini"):
        text = re.sub(r"[\s;]+", " ", (srcdir / doc).read_text())
        assert "holds no zlib state" in text, doc
