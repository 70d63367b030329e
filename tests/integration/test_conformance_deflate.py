"""test_conformance_deflate.py -- Autobahn|Testsuite case groups 12 and 13
(permessage-deflate) as raw-socket tests on conformance_lib.Client.

Group 12 echoes compressed messages sliced from five kinds of data (the
suite's JSON, bitmap, German text, HTML and PDF files; generated here), group
13 echoes compressed messages under each of the suite's client offers
(requestNoContextTakeover, requestMaxWindowBits). Both run the suite's 18
payload size / auto-fragment combinations. The suite sends 1000 messages per
case; here each case sends as many as fit in 256 KiB (at least 4, at most
1000), which keeps the whole file to a few seconds. Every echoed message
must be the exact payload sent.
"""

import json
import random

import pytest

from conformance_lib import (OP_BINARY, OP_TEXT, Client,  # noqa: F401
                             echo_port, message_frames)
from pmd_lib import PmdCodec, autobahn_offer, parse_response

# (payload size, auto-fragment size; 0: one frame), cases x.x.1 - x.x.18.
SIZES = [(16, 0), (64, 0), (256, 0), (1024, 0), (4096, 0), (8192, 0),
         (16384, 0), (32768, 0), (65536, 0), (131072, 0),
         (8192, 256), (16384, 256), (32768, 256), (65536, 256),
         (131072, 256), (131072, 1024), (131072, 4096), (131072, 32768)]
BUDGET = 256 * 1024


def _json_data(rng):
    items = [{"id": i, "name": "item-%d" % rng.randrange(10000),
              "tags": ["t%d" % rng.randrange(50) for _ in range(3)],
              "price": round(rng.random() * 100, 2),
              "active": rng.random() < 0.5} for i in range(4000)]
    return json.dumps(items, indent=1).encode()


def _bitmap_data(rng):
    # A 512x512 black-and-white picture: a header and rows with runs.
    rows = []
    for y in range(512):
        row = bytearray()
        while len(row) < 64:
            row += bytes([0xff if rng.random() < 0.5 else 0x00]) * \
                rng.randrange(1, 9)
        rows.append(bytes(row[:64]))
    return b"BM" + bytes(60) + b"".join(rows) * 4


def _faust_data(rng):
    words = ["Habe", "nun,", "ach!", "Philosophie,", "Juristerei", "und",
             "Medizin,", "Und", "leider", "auch", "Theologie!", "Durchaus",
             "studiert,", "mit", "heißem", "Bemühn.", "Da", "steh", "ich",
             "nun,", "ich", "armer", "Tor!", "Und", "bin", "so", "klug",
             "als", "wie", "zuvor;", "Mephistopheles:", "Grün", "ist",
             "des", "Lebens", "goldner", "Baum.", "Größe", "Übel", "ä"]
    lines = []
    for _ in range(6000):
        lines.append(" ".join(rng.choice(words)
                              for _ in range(rng.randrange(3, 10))))
    return "\n".join(lines).encode()


def _html_data(rng):
    parts = ["<!DOCTYPE html>\n<html><head><title>wsd</title></head><body>"]
    for i in range(3000):
        parts.append('<div class="row r%d"><a href="/p/%d">link %d</a>'
                     '<span>%s</span></div>\n' % (
                         i % 7, rng.randrange(100000), i,
                         "x" * rng.randrange(0, 40)))
    parts.append("</body></html>\n")
    return "".join(parts).encode()


def _pdf_data(rng):
    # Text-like objects with compressed-looking (random) streams between.
    out = [b"%PDF-1.4\n"]
    for i in range(300):
        out.append(b"%d 0 obj << /Length 512 /Filter /FlateDecode >>\n"
                   b"stream\n" % i)
        out.append(rng.randbytes(512))
        out.append(b"\nendstream endobj\n")
    return b"".join(out)


_DATA = {}


def data(kind):
    if kind not in _DATA:
        rng = random.Random(kind)
        _DATA[kind] = {"json": _json_data, "bitmap": _bitmap_data,
                       "faust": _faust_data, "html": _html_data,
                       "pdf": _pdf_data}[kind](rng)
    return _DATA[kind]


def messages(src, size, text):
    """The case's messages: slices of src from moving offsets."""
    count = max(4, min(1000, BUDGET // size))
    out = []
    for i in range(count):
        off = (i * 7919) % max(1, len(src) - size)
        m = src[off:off + size]
        if text:
            # Start and end on character boundaries.
            while m and (m[0] & 0xC0) == 0x80:
                m = m[1:]
            m = m.decode("utf-8", "ignore").encode()
        out.append(m)
    return out


def echo_case(port, offer, msgs, opcode, frag, expect_params):
    """Sends every message compressed (if agreed) and cut into frames of
    frag payload bytes, all in one write, then expects each echo to be
    the exact payload, compressed (RSV1) when the extension was agreed."""
    with Client(port, headers={"Sec-WebSocket-Extensions": offer},
                timeout=20) as c:
        params = parse_response(
            c.response.header("Sec-WebSocket-Extensions"))
        assert params == expect_params, params
        codec = PmdCodec(params) if params is not None else None
        if codec is not None:
            c.decode = codec.decode
        frames = []
        for m in msgs:
            payload = codec.compress(m) if codec is not None else m
            frags = None
            if frag and len(payload) > frag:
                frags = [frag] * (len(payload) // frag)
            frames += message_frames(opcode, payload, frags,
                                     rsv=4 if codec is not None else 0)
        c.send_frames(frames)
        for m in msgs:
            c.expect_message(opcode, m)
        c.close_handshake()


# Autobahn's default offer: client_no_context_takeover and
# client_max_window_bits, which wsd answers with 12 bits each way.
DEFAULT = {"client_no_context_takeover": True,
           "server_max_window_bits": 12, "client_max_window_bits": 12}

GROUP12 = [("12.1", "json", OP_TEXT), ("12.2", "bitmap", OP_BINARY),
           ("12.3", "faust", OP_TEXT), ("12.4", "html", OP_TEXT),
           ("12.5", "pdf", OP_BINARY)]


@pytest.mark.parametrize("group,kind,opcode", GROUP12,
                         ids=[g[0] for g in GROUP12])
@pytest.mark.parametrize("case", range(len(SIZES)),
                         ids=[str(i + 1) for i in range(len(SIZES))])
def test_group12(echo_port, group, kind, opcode, case):  # noqa: F811
    size, frag = SIZES[case]
    msgs = messages(data(kind), size, opcode == OP_TEXT)
    echo_case(echo_port, autobahn_offer(), msgs, opcode, frag, DEFAULT)


def _agreed(nct, bits):
    p = dict(DEFAULT)
    if nct:
        p["server_no_context_takeover"] = True
    if bits:
        p["server_max_window_bits"] = min(bits, 12)
    return p


# Offers of each case: [(requestNoContextTakeover, requestMaxWindowBits)]
# and what wsd agrees to. server_max_window_bits=8 is declined (zlib cannot
# compress with a 256-byte window), so 13.3 and 13.5 run uncompressed.
GROUP13 = [
    ("13.1", [(False, 0)], _agreed(False, 0)),
    ("13.2", [(True, 0)], _agreed(True, 0)),
    ("13.3", [(False, 8)], None),
    ("13.4", [(False, 15)], _agreed(False, 15)),
    ("13.5", [(True, 8)], None),
    ("13.6", [(True, 15)], _agreed(True, 15)),
    ("13.7", [(True, 9), (True, 0), (False, 0)], _agreed(True, 9)),
]


@pytest.mark.parametrize("group,offers,agreed", GROUP13,
                         ids=[g[0] for g in GROUP13])
@pytest.mark.parametrize("case", range(len(SIZES)),
                         ids=[str(i + 1) for i in range(len(SIZES))])
def test_group13(echo_port, group, offers, agreed, case):  # noqa: F811
    size, frag = SIZES[case]
    offer = ", ".join(autobahn_offer(n, b) for n, b in offers)
    msgs = messages(data("faust") + data("json"), size, True)
    echo_case(echo_port, offer, msgs, OP_TEXT, frag, agreed)
