"""test_tls_admin.py -- issue 16: what an admin meets on TLS listeners.

Item 6: plain HTTP sent to a TLS port gets a plaintext 400 saying so (the
first byte, peeked before OpenSSL sees the socket, cannot start a TLS
record), and failed handshakes are logged at info with OpenSSL's reason,
a few lines a minute at most.

Certificates come from test_tls's Pki (openssl command line, temporary
directory)."""

import re
import shutil
import socket
import ssl
import subprocess
import time

import pytest

import helpers
from test_tls import (TlsConn, client_ctx, leaf, pki,  # noqa: F401
                      s_client, start_tls, tls_get)

CURL = shutil.which("curl")
PLAIN_400 = b"plain HTTP request sent to a TLS port"


# ------------------------------------------------- item 6: plain HTTP


@pytest.mark.parametrize("req", [
    helpers.request("GET", "/notes.txt"),
    helpers.request("OPTIONS", "*"),
    helpers.upgrade_request("/echo", helpers.ws_key()),
    b"\x00\x01garbage\r\n\r\n",
], ids=["GET", "OPTIONS", "upgrade", "binary"])
def test_plain_http_to_tls_port_gets_400(wsd, static_root, pki, leaf, req):
    d = start_tls(wsd, static_root, leaf)
    with helpers.Conn(d.port) as c:
        c.send(req)
        r = helpers.read_response(c)
        assert r.status == 400, r
        assert r.header("Content-Type").startswith("text/plain"), r
        assert r.header("Connection") == "close", r
        assert PLAIN_400 in r.body, r
        c.read_to_eof(timeout=5)
    d.wait_log(r" info: 127\.0\.0\.1:\d+: plain HTTP on a TLS listener \(first byte 0x[0-9a-f]{2}\)"
               r": 400")
    # The listener still speaks TLS.
    assert tls_get(d.port, pki, "/notes.txt").status == 200


@pytest.mark.skipif(CURL is None, reason="curl is not installed")
def test_curl_http_to_tls_port(wsd, static_root, leaf):
    d = start_tls(wsd, static_root, leaf)
    p = subprocess.run([CURL, "-sS", "-o", "-", "-w", "\n%{http_code}",
                        "--max-time", "10",
                        "http://127.0.0.1:%d/notes.txt" % d.port],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=20)
    body, _, code = p.stdout.rpartition(b"\n")
    assert code == b"400", p
    assert PLAIN_400 in body, p


def test_tls_client_unaffected_by_sniffing(wsd, static_root, pki, leaf):
    """A ClientHello that arrives one byte at a time still makes it."""
    d = start_tls(wsd, static_root, leaf)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = client_ctx(pki).wrap_bio(incoming, outgoing,
                                   server_hostname="localhost")
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    hello = outgoing.read()
    s = socket.create_connection(("127.0.0.1", d.port), timeout=10)
    try:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(hello[:1])
        time.sleep(0.2)
        s.sendall(hello[1:])
        data = s.recv(5)
        assert data[:1] == b"\x16", data     # a ServerHello record
    finally:
        s.close()


# ------------------------------------------------- item 6: failures logged


def handshake_fails(port, ctx):
    """A python-ssl handshake that must fail."""
    with pytest.raises((ssl.SSLError, ConnectionError)):
        TlsConn(port, ctx).close()


def test_handshake_failure_protocol_version_logged(wsd, static_root, pki,
                                                   leaf):
    d = start_tls(wsd, static_root, leaf, tls={"min_version": "1.3"})
    ctx = client_ctx(pki)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    handshake_fails(d.port, ctx)
    m = d.wait_log(r" info: 127\.0\.0\.1:\d+: tls handshake failed: (.*)$")
    assert "protocol" in m.group(1), m.group(0)


def test_handshake_failure_no_shared_cipher_logged(wsd, static_root, pki,
                                                   leaf):
    d = start_tls(wsd, static_root, leaf,
                  tls={"ciphers": "ECDHE-ECDSA-CHACHA20-POLY1305"})
    rc, out = s_client(d.port, pki, "-tls1_2", "-cipher",
                       "ECDHE-ECDSA-AES128-GCM-SHA256")
    assert rc != 0, out
    d.wait_log(r"127\.0\.0\.1:\d+: tls handshake failed: no shared cipher$")


def test_handshake_failure_bad_record_logged(wsd, static_root, pki, leaf):
    """A handshake record with a bogus version and length."""
    d = start_tls(wsd, static_root, leaf)
    with helpers.Conn(d.port) as c:
        c.send(b"\x16\x7f\x7f\xff\xff" + b"\x00" * 64)
        c.read_to_eof(timeout=5)
    m = d.wait_log(r"127\.0\.0\.1:\d+: tls handshake failed: (.*)$")
    assert m.group(1) not in ("?", "eof during the handshake"), m.group(0)
    assert re.search(r"version|record|length", m.group(1)), m.group(0)


def test_handshake_failures_rate_limited(wsd, static_root, pki, leaf):
    """Eight failures in a row: five lines, the rest only counted."""
    d = start_tls(wsd, static_root, leaf, tls={"min_version": "1.3"})
    ctx = client_ctx(pki)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    for _ in range(8):
        handshake_fails(d.port, ctx)
    d.wait_log(r"tls handshake failed")
    # All eight are counted before the metrics say so; the log has five.
    time.sleep(0.5)
    n = len(re.findall(r"tls handshake failed: ", d.log_text()))
    assert n == 5, d.log_tail()
    assert tls_get(d.port, pki, "/notes.txt").status == 200
    # The rest are summed up, at the latest when the daemon stops.
    assert d.stop() == 0
    assert re.search(r"tls: tls handshake failed: 3 similar messages "
                     r"suppressed", d.log_text()), d.log_tail()
