"""pmd_lib.py -- a raw-socket permessage-deflate (RFC 7692) client for the
tests, with Python's zlib doing the compression.

    c = PmdConn(port, "/echo", offer="permessage-deflate")
    c.params        # the agreed parameters, None when declined
    c.send(b"x", OP_TEXT, frag=0)   # compressed when agreed; frag > 0 cuts
                                    # the compressed payload into frames
    op, data = c.recv()             # inflated
"""

import re
import zlib

import helpers
from helpers import OP_CONT, OP_TEXT, Conn, frame, read_frame

TAIL = b"\x00\x00\xff\xff"


def autobahn_offer(no_context_takeover=False, max_window_bits=0):
    """The offer of the Autobahn client (PerMessageDeflateOffer with
    accept_no_context_takeover and accept_max_window_bits): the server may
    ask us for both; requestNoContextTakeover / requestMaxWindowBits ask
    the server."""
    s = "permessage-deflate; client_no_context_takeover; " \
        "client_max_window_bits"
    if no_context_takeover:
        s += "; server_no_context_takeover"
    if max_window_bits:
        s += "; server_max_window_bits=%d" % max_window_bits
    return s


def parse_response(value):
    """The parameters of a response value: {name: value or True}."""
    if value is None:
        return None
    parts = [p.strip() for p in value.split(";")]
    assert parts[0] == "permessage-deflate", value
    params = {}
    for p in parts[1:]:
        m = re.match(r"^([a-z_]+)(?:=(\d+))?$", p)
        assert m, "bad parameter %r in %r" % (p, value)
        assert m.group(1) not in params, "repeated %r" % value
        params[m.group(1)] = int(m.group(2)) if m.group(2) else True
    return params


class PmdCodec:
    """The client's side of the agreed parameters (a parse_response()
    dict): compresses what it sends, inflates what the server sends."""

    def __init__(self, params):
        self.params = params
        self.enc = self.dec = None

    def compress(self, data):
        """The payload of one compressed message, tail stripped."""
        p = self.params
        bits = p.get("client_max_window_bits", 15)
        if bits is True:
            bits = 15
        bits = max(bits, 9)     # zlib: no 8-bit window for raw deflate
        if self.enc is None or "client_no_context_takeover" in p:
            self.enc = zlib.compressobj(wbits=-bits)
        z = self.enc.compress(data) + self.enc.flush(zlib.Z_SYNC_FLUSH)
        assert z.endswith(TAIL)
        return z[:-4]

    def decompress(self, z):
        """One message from the server, inflated (RFC 7692 7.2.2)."""
        p = self.params
        bits = p.get("server_max_window_bits", 15)
        if self.dec is None or "server_no_context_takeover" in p:
            self.dec = zlib.decompressobj(wbits=-bits)
        return self.dec.decompress(z + TAIL)

    def decode(self, rsv, payload):
        """conformance_lib.Client's decode: with the extension agreed
        every server message must be compressed (RSV1 and nothing else)."""
        assert rsv == 4, "server message with RSV bits %d" % rsv
        return self.decompress(payload)


class PmdConn:
    """One WebSocket with (maybe) permessage-deflate; see the module doc."""

    def __init__(self, port, path="/echo", offer=None, extra=None,
                 timeout=helpers.TIMEOUT, rcvbuf=None):
        key = helpers.ws_key()
        headers = dict(extra or {})
        if offer is not None:
            headers["Sec-WebSocket-Extensions"] = offer
        self.conn = Conn(port, timeout=timeout, rcvbuf=rcvbuf)
        self.conn.send(helpers.upgrade_request(path, key, extra=headers))
        self.response = helpers.read_response(self.conn, head_request=True)
        assert self.response.status == 101, self.response
        assert self.response.header("Sec-WebSocket-Accept") == \
            helpers.ws_accept(key)
        exts = self.response.header_all("Sec-WebSocket-Extensions")
        assert len(exts) <= 1, exts
        self.params = parse_response(exts[0] if exts else None)
        self.codec = PmdCodec(self.params)

    def close(self):
        self.conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def compress(self, data):
        return self.codec.compress(data)

    def decompress(self, z):
        return self.codec.decompress(z)

    def send(self, data, opcode=OP_TEXT, frag=0, compress=None):
        """Sends one message; frag > 0: frames of at most frag payload
        bytes (after compression)."""
        if isinstance(data, str):
            data = data.encode()
        if compress is None:
            compress = self.params is not None
        payload = self.compress(data) if compress else data
        rsv = 4 if compress else 0
        if frag <= 0 or len(payload) <= frag:
            self.conn.send(frame(opcode, payload, rsv=rsv))
            return
        out = []
        for i in range(0, len(payload), frag):
            first, last = i == 0, i + frag >= len(payload)
            out.append(frame(opcode if first else OP_CONT,
                             payload[i:i + frag], fin=last,
                             rsv=rsv if first else 0))
        self.conn.send(b"".join(out))

    def recv_raw(self, timeout=None):
        """One message as sent: (opcode, rsv1, payload), fragments joined;
        control frames are skipped (a close fails)."""
        parts, op, rsv1 = [], None, 0
        while True:
            f = read_frame(self.conn, timeout)
            if f.opcode >= 0x8:
                assert f.opcode != helpers.OP_CLOSE, \
                    "close %r instead of a message" % f
                assert f.rsv == 0, f
                continue
            if op is None:
                op, rsv1 = f.opcode, f.rsv >> 2
                assert f.rsv & 3 == 0, f
            else:
                assert f.opcode == OP_CONT and f.rsv == 0, f
            parts.append(f.payload)
            if f.fin:
                return op, rsv1, b"".join(parts)

    def recv(self, timeout=None):
        """One message, inflated: (opcode, data)."""
        op, rsv1, payload = self.recv_raw(timeout)
        if rsv1:
            assert self.params is not None, "RSV1 without the extension"
            payload = self.decompress(payload)
        return op, payload
