#!/usr/bin/python3
"""make_corpus.py -- writes the seed corpora of the fuzz targets into
corpus/<target>/ (http, frame, config, proxy, channel, cluster). The seeds are
committed; rerun this after changing it and commit what it wrote. Each seed starts with the
parameter bytes its target reads first (see the comment at the top of
fuzz_<target>.c)."""

import os
import pathlib
import struct
import sys

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "integration"))
import helpers  # noqa: E402  (the integration tests' frame encoder)
KEY = b"dGhlIHNhbXBsZSBub25jZQ=="


def write(target, name, data):
    d = HERE / "corpus" / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)


# --------------------------------------------------------------- http

def http_seeds():
    # 2 bytes of max_head (16 + value % 8192): 0x1ff0 -> 8192.
    big, small = struct.pack("!H", 8176), struct.pack("!H", 48)
    upgrade = (b"GET /echo?x=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"
               b"Upgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n"
               b"Sec-WebSocket-Key: " + KEY + b"\r\n"
               b"Sec-WebSocket-Version: 13\r\n"
               b"Origin: http://127.0.0.1:8080\r\n\r\n")
    seeds = {
        "get": b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        "upgrade": upgrade,
        "upgrade_v8": upgrade.replace(b"Version: 13", b"Version: 8"),
        "post_upgrade": upgrade.replace(b"GET", b"POST", 1),
        "head_dates": b"HEAD /index.html HTTP/1.1\r\nHost: a\r\n"
                      b"If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
                      b"If-Unmodified-Since: Sunday, 06-Nov-94 08:49:37 GMT"
                      b"\r\nDate: Sun Nov  6 08:49:37 1994\r\n"
                      b"If-None-Match: \"abc\", W/\"def\"\r\n\r\n",
        "http10": b"GET /a/b/../c HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        "bare_lf": b"\r\n\nGET /%2e%2E/x%41?q HTTP/1.1\nHost: x\n"
                   b"X-Ows: \t v \t\n\n",
        "pipelined": b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\n"
                     b"GET /2 HTTP/1.1\r\nHost: x\r\n\r\n",
        "frame_after_head": upgrade + b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f"
                                      b"\x4d\x51\x58",
        "bad_version": b"GET / HTTP/2.0\r\nHost: x\r\n\r\n",
        "folded": b"GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n",
        "body": b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                b"Transfer-Encoding: chunked\r\n\r\nhello",
        "many_headers": b"GET / HTTP/1.1\r\n" +
                        b"".join(b"H%d: %d\r\n" % (i, i) for i in range(70)) +
                        b"\r\n",
        "obs_text": b"GET /\xc3\xa9 HTTP/1.1\r\nHost: x\r\nX: \xff\xfe\r\n\r\n",
        "nul_path": b"GET /a%00b HTTP/1.1\r\nHost: x\r\n\r\n",
        "access": b"GET /chat?a=1&token=s3cr%33t&token=x HTTP/1.1\r\n"
                  b"Host: x\r\nOrigin: HTTPS://Example.ORG:443\r\n"
                  b"Authorization: Bearer secret-1\r\n"
                  b"Sec-WebSocket-Protocol: v1, , chat\r\n"
                  b"Sec-WebSocket-Protocol: v2.json\r\n\r\n",
        "access_bad": b"GET /?token=%zz HTTP/1.1\r\nHost: x\r\n"
                      b"Origin: null\r\nOrigin: http://[::1]:80\r\n"
                      b"Authorization: bearer  \r\n"
                      b"Sec-WebSocket-Protocol: a b\r\n\r\n",
        "token_file": b"# tokens\n\n  secret-1\t\n#x\nsecret 2\n",
        "dup_content_length": b"GET / HTTP/1.1\r\nHost: x\r\n"
                              b"Content-Length: 0\r\nContent-Length: 43\r\n"
                              b"\r\n",
        "content_length_odd": b"GET / HTTP/1.1\r\nHost: x\r\n"
                              b"Content-Length: +0x1, 1\r\n\r\n",
        "dup_host": b"GET / HTTP/1.1\r\nHost: a\r\nhost: [::1]:80\r\n\r\n",
        "host_invalid": b"GET / HTTP/1.1\r\nHost: a@b:c/d\r\n\r\n",
        "bare_cr": b"GET / HTTP/1.1\r\nHost: x\rX: y\r\n\r\n",
        "upgrade_body": upgrade.replace(b"\r\n\r\n",
                                        b"\r\nContent-Length: 5\r\n\r\n")
                        + b"hello",
        "range": b"GET //evil.example//a%20b?q=%0d HTTP/1.1\r\nHost: x\r\n"
                 b"Range: bytes=0-99\r\n"
                 b"If-Range: \"5f5e1000-6\"\r\n\r\n",
        "range_suffix": b"HEAD /.well-known/x HTTP/1.1\r\nHost: x\r\n"
                        b"Range: bytes=-5\r\n"
                        b"If-Range: Sun, 13 Sep 2020 12:26:40 GMT\r\n\r\n",
        "range_multi": b"GET /.git/config HTTP/1.1\r\nHost: x\r\n"
                       b"Range: BYTES=0-1, ,5-,-0,99999999999999999999-\r\n"
                       b"Range: bytes=5-3\r\nIf-Range: W/\"x\"\r\n\r\n",
    }
    for name, req in seeds.items():
        write("http", name, big + req)
    write("http", "small_limit", small + seeds["upgrade"])
    write("http", "long_line", small + b"GET /" + b"a" * 100 + b" HTTP/1.1")
    write("http", "long_target", big + b"GET /" + b"a" * 5000 +
          b" HTTP/1.1\r\nHost: x\r\n\r\n")


# --------------------------------------------------------------- frames

def frame(*args, **kw):
    """helpers.frame() with a fixed masking key, for stable seeds."""
    kw.setdefault("key", b"\x37\xfa\x21\x3d")
    return helpers.frame(*args, **kw)


def frame_seeds():
    # sel (max_message = sel * 8, 0: none), outcap byte, 8 seed bytes.
    def params(sel=0, outcap=7):
        return bytes([sel, outcap]) + b"\x12\x34\x56\x78\x9a\xbc\xde\xf1"

    euro = "€uro 𝄞 ok".encode()
    seeds = {
        "text": frame(1, b"Hello"),
        "binary": frame(2, bytes(range(256))),
        "empty": frame(1) + frame(2) + frame(9) + frame(10),
        "fragmented": frame(1, euro[:2], fin=False) +
                      frame(9, b"ping in between") +
                      frame(0, euro[2:7], fin=False) + frame(0, euro[7:]),
        "close_reason": frame(1, b"x") + frame(8, b"\x03\xe8bye \xc3\xa9"),
        "close_empty": frame(8),
        "close_1byte": frame(8, b"\x03"),
        "close_bad_code": frame(8, b"\x03\xed"),
        "len16": frame(2, b"a" * 300),
        "len64": frame(2, b"b" * 65536)[:2 + 8 + 4 + 200],
        "len64_top_bit": frame(2, length=1 << 63)[:14],
        "len64_huge": frame(2, length=(1 << 63) - 1)[:14],
        "unmasked": frame(1, b"no mask", mask=False),
        "rsv": frame(1, b"r", rsv=4),
        "opcode3": frame(3, b"?"),
        "ping_126": frame(9, b"p" * 126),
        "ping_fragmented": frame(9, b"p", fin=False),
        "cont_first": frame(0, b"c"),
        "nested_message": frame(1, b"a", fin=False) + frame(1, b"b"),
        "bad_utf8": frame(1, b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce"
                             b"\xb5\xed\xa0\x80edited"),
        "utf8_incomplete": frame(1, b"ok \xf0\x9f\x98"),
        "overlong": frame(1, b"\xc0\xaf\xe0\x80\xaf"),
        "pongs": b"".join(frame(10, b"%d" % i) for i in range(10)),
    }
    for name, data in seeds.items():
        write("frame", name, params() + data)
    write("frame", "limit_fragments", params(sel=2) +
          frame(1, b"a" * 10, fin=False) + frame(0, b"b" * 10))
    write("frame", "limit_exact", params(sel=1, outcap=1) + frame(2, bytes(8)))
    write("frame", "utf8_plain", params() + "ascii é € 𝄞 \U0010ffff".encode()
          + b"\xed\x9f\xbf\xee\x80\x80\xf4\x90\x80\x80")


# --------------------------------------------------------------- proxy

def proxy_seeds():
    sig = b"\r\n\r\n\x00\r\nQUIT\n"
    v4 = bytes([192, 0, 2, 1, 127, 0, 0, 1]) + struct.pack("!HH", 56324, 443)
    v6 = (bytes(15) + b"\x01") * 2 + struct.pack("!HH", 1, 2)
    seeds = {
        "v1_tcp4": b"PROXY TCP4 192.0.2.1 127.0.0.1 56324 443\r\nGET /",
        "v1_tcp6": b"PROXY TCP6 2001:db8::1 ::1 56324 443\r\n",
        "v1_unknown": b"PROXY UNKNOWN ffff::1 ::1 1 2\r\n",
        "v1_bad_port": b"PROXY TCP4 1.2.3.4 5.6.7.8 65536 1\r\n",
        "v2_inet": sig + b"\x21\x11" + struct.pack("!H", len(v4)) + v4,
        "v2_inet6": sig + b"\x21\x21" + struct.pack("!H", len(v6)) + v6,
        "v2_local": sig + b"\x20\x00\x00\x00",
        "v2_tlv": sig + b"\x21\x11" + struct.pack("!H", len(v4) + 7) + v4 +
                  b"\x04\x00\x04abcd",
        "v2_unix": sig + b"\x21\x31\x00\xd8" + bytes(216),
        "v2_truncated": sig + b"\x21\x11\x00\x0c" + v4[:5],
        "cidr_list": b"10.0.0.0/8 ::ffff:127.0.0.1 2001:db8::/32 ::1/128",
    }
    for name, data in seeds.items():
        write("proxy", name, data)


# --------------------------------------------------------------- config

def config_seeds():
    seeds = {
        "minimal": "[server]\nlisten = 127.0.0.1:0\n\n[route /echo]\n"
                   "app = echo\n",
        # Issue 16: virtual hosts, good and bad names.
        "vhosts_ini": """[server]
listen = 127.0.0.1:0 tls

[tls]
certificate = c.pem
private_key = k.pem

[tls example.org WWW.example.org]
certificate = a.pem
private_key = a.key

[tls *.example.net]
certificate = b.pem
private_key = b.key
ciphers = HIGH

[route /]
app = static
root = /tmp
host = example.org www.example.org

[route /]
app = static
root = /tmp

[route /chat]
app = relay
host = *.example.net a..b -x.org
""",
        "all_apps": """; every app
[server]
listen = 127.0.0.1:8080
listen = [::1]:8443 tls
log_level = debug
access_log = off
max_connections = 100
max_header_size = 16k
max_message_size = 1m
max_send_buffer = 64k
ping_interval = 0.5s
ping_timeout = 500ms
handshake_timeout = 10
idle_timeout = 1m
close_timeout = 2s

[tls]
certificate = /etc/ssl/certs/ssl-cert-snakeoil.pem
private_key = /etc/ssl/private/ssl-cert-snakeoil.key
min_version = 1.3
ciphers = HIGH:!aNULL
ciphersuites = TLS_AES_128_GCM_SHA256

[route /]
app = static
root = /tmp

[route /hello]
app = hello

[route /echo]
app = echo
max_message_size = 16m

[route /time]
app = time
interval_min = 1s
interval_max = 3s

[route /broadcast]
app = broadcast
interval_min = 2

[route /counter]
app = counter
slow_client = conflate

[route /relay]
app = relay
echo_self = no
slow_client = drop
""",
        "errors": """[server]
listen = nowhere
listen = 127.0.0.1:99999
max_connections = 0
max_mesage_size = 1m
ping_interval = -1
[server]
[route /echo]
app = echo
app = hello
[route /echo]
app = nosuchapp
[route relative]
root = .
[tls]
min_version = 1.1
[bogus]
x = y
""",
        "indented": "[server]\n listen = 127.0.0.1:1\n\tcontinued\n"
                    "long = " + "x" * 250 + "\n",
        "no_newline": "[route /a]\napp = static\nroot = /",
        "crlf": "[server]\r\nlisten = 127.0.0.1:1\r\n[route /e]\r\napp=echo\r\n",
        "empty_sections": "[]\n[route]\n[route /]\n[tls]\n=\n==\nkey\n",
        "access": """[server]
max_messages_per_second = 10

[route /chat]
app = relay
origins = https://example.org HTTP://127.0.0.1:8080 wss://[::1]:443
require_origin = on
subprotocols = chat v2.json
max_messages_per_second = 0
auth_token_file = /dev/null
""",
        "exec": """[route /cat]
app = exec
command = /bin/cat -u 'a b' "c\\"d" e\\ f
env = A=1 'B=two words' PATH=/bin
dir = /tmp
mode = binary
max_procs = 3
kill_timeout = 250ms
[route /bad]
app = exec
command = bin/cat 'open
env = 1X=y
dir = relative
mode = words
[route /none]
app = exec
""",
    }
    for name, text in seeds.items():
        write("config", name, text.encode())
    with open(HERE.parent.parent / "etc" / "wsd.ini", "rb") as f:
        write("config", "etc_wsd_ini", f.read().replace(b"@WWWDIR@", b"/"))


# --------------------------------------------------------------- channel

def channel_seeds():
    """fuzz_channel: name length, name, epoch (8), seq (8), kind, a flag
    (1: kind from the Content-Type at the body's front), then the body."""
    def seed(name, kind, body, ctype_flag=0):
        return (bytes([len(name)]) + name + struct.pack("<QQ", 1733, 42) +
                bytes([kind, ctype_flag]) + body)
    seeds = {
        "text": seed(b"news", 0, b"hello\nworld\r\nagain\rend"),
        "json": seed(b"a.b_c:d-e", 1, b'{"a":[1,2,{"b":null}]}'),
        "json_bad": seed(b"x", 1, b'{"a":'),
        "binary": seed(b"bin", 2, bytes(range(256))),
        "bad_name": seed(b"a/b c", 0, b"x"),
        "ctype": seed(b"t", 0, b"application/json; charset=utf-8", 1),
        "id_text": seed(b"i", 0, b"1733350000123-42"),
        "not_utf8": seed(b"u", 0, b"\xff\xfe\xc3"),
    }
    for name, data in seeds.items():
        write("channel", name, data)


# --------------------------------------------------------------- cluster

def cluster_seeds():
    """fuzz_cluster: an envelope as a node publishes it (cluster_env.h)."""
    def hdr(kind, node):
        return b"W1" + kind + bytes([len(node)]) + node
    seeds = {
        "msg": hdr(b"M", b"web1/0a1b2c3d") + b"\x01\x00\x00\x00\x00\x00"
        + b"hello",
        "msg_sse": hdr(b"M", b"n/1") + b"\x02\x01\x00\x00\x00\x0c"
        + b"data: x\n\nid: \x00\xffbinary",
        "value": hdr(b"V", b"web2/ffffffff") + b"-9223372036854775808",
        "users": hdr(b"U", b"a") + b"42",
        "short_sse": hdr(b"M", b"a") + b"\x01\x00\xff\xff\xff\xff",
        "stream": hdr(b"S", b"web1/0a1b2c3d") + b"1733370000000-0\nj"
        + b'{"a":1}',
        "stream_binary": hdr(b"S", b"n") + b"0-1\nb\x00\xff",
        "delete": hdr(b"D", b"web2/ffffffff"),
    }
    for name, data in seeds.items():
        write("cluster", name, data)


if __name__ == "__main__":
    os.umask(0o022)
    http_seeds()
    frame_seeds()
    config_seeds()
    proxy_seeds()
    channel_seeds()
    cluster_seeds()
