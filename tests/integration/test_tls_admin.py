"""test_tls_admin.py -- issue 16: what an admin meets on TLS listeners.

Item 13: virtual hosts: [tls NAME...] sections chosen by SNI (python ssl
with server_hostname, openssl s_client -servername, curl --resolve), host
= NAME... routes matched against Host, SIGHUP and wsd -t.

Item 6: plain HTTP sent to a TLS port gets a plaintext 400 saying so (the
first byte, peeked before OpenSSL sees the socket, cannot start a TLS
record), and failed handshakes are logged at info with OpenSSL's reason,
a few lines a minute at most.

Certificates come from test_tls's Pki (openssl command line, temporary
directory)."""

import hashlib
import re
import shutil
import signal
import socket
import ssl
import subprocess
import time

import pytest

import helpers
from test_tls import (OPENSSL, Leaf, TlsConn, client_ctx,  # noqa: F401
                      client_hello, leaf, pki, s_client, start_tls, tls_get)

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
    hello = client_hello(pki)
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


# ------------------------------------------------- item 13: virtual hosts

def named_leaf(pki, *names):
    """A leaf for DNS names, signed by the test intermediate."""
    pki.n += 1
    name = "vh%d" % pki.n
    b = pki.base
    ext = b / (name + ".ext")
    ext.write_text("basicConstraints = critical, CA:FALSE\n"
                   "keyUsage = critical, digitalSignature\n"
                   "extendedKeyUsage = serverAuth\n"
                   "subjectAltName = %s\n"
                   % ", ".join("DNS:" + n for n in names))
    pem = b / (name + ".pem")
    pki._sign(name, "/CN=" + names[0], pki.inter, b / "inter.key",
              ext.name, pem)
    chain = b / (name + "-chain.pem")
    chain.write_text(pem.read_text() + pki.inter.read_text())
    return Leaf(chain, b / (name + ".key"), pem)


@pytest.fixture(scope="module")
def vh_a(pki):
    return named_leaf(pki, "a.test", "www.a.test")


@pytest.fixture(scope="module")
def vh_b(pki):
    return named_leaf(pki, "*.b.test")


def sites(tmp_path):
    """Two document roots, each with its own notes.txt."""
    roots = {}
    for site in ("a", "b"):
        d = tmp_path / ("site-" + site)
        d.mkdir()
        (d / "notes.txt").write_text("site %s\n" % site)
        (d / "index.html").write_text("<p>site %s</p>\n" % site)
        roots[site] = d
    return roots


def vhost_config(static_root, leaf, a, b, roots, plain=True):
    """A TLS listener (and a plain one) with the default certificate,
    [tls a.test www.a.test] and [tls *.b.test], and per-host routes."""
    listens = "listen = 127.0.0.1:0 tls\n"
    if plain:
        listens += "listen = 127.0.0.1:0\n"
    return (
        "[server]\n" + listens +
        "handshake_timeout = 1s\nidle_timeout = 1s\nclose_timeout = 1s\n"
        "\n[tls]\ncertificate = %s\nprivate_key = %s\n"
        "\n[tls a.test www.a.test]\ncertificate = %s\nprivate_key = %s\n"
        "\n[tls *.b.test]\ncertificate = %s\nprivate_key = %s\n"
        "\n[route /]\napp = static\nroot = %s\nhost = a.test www.a.test\n"
        "\n[route /]\napp = static\nroot = %s\nhost = *.b.test\n"
        "\n[route /]\napp = static\nroot = %s\n"
        "\n[route /only-a]\napp = echo\nhost = a.test\n"
        "\n[route /echo]\napp = echo\n"
        % (leaf.chain, leaf.key, a.chain, a.key, b.chain, b.key,
           roots["a"], roots["b"], static_root))


def sni_fingerprint(port, pki, name):
    """The leaf served for an SNI name (None: no SNI), not verified."""
    ctx = client_ctx(pki)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        with ctx.wrap_socket(s, server_hostname=name) as t:
            der = t.getpeercert(binary_form=True)
    return hashlib.sha256(der).hexdigest()


def verified_get(port, pki, name, path, host=None):
    """GET over TLS with SNI name, the certificate verified for name."""
    with TlsConn(port, client_ctx(pki), server_hostname=name) as c:
        c.send(helpers.request("GET", path, host=host or name))
        return helpers.read_response(c)


def test_sni_selects_certificate(wsd, static_root, tmp_path, pki, leaf,
                                 vh_a, vh_b):
    d = wsd(vhost_config(static_root, leaf, vh_a, vh_b, sites(tmp_path)))
    port = [p for p, t in d.ports if t][0]
    assert sni_fingerprint(port, pki, "a.test") == vh_a.fingerprint
    assert sni_fingerprint(port, pki, "WWW.A.test") == vh_a.fingerprint
    assert sni_fingerprint(port, pki, "x.b.test") == vh_b.fingerprint
    # No SNI, an unknown name, or one a wildcard does not cover: default.
    assert sni_fingerprint(port, pki, None) == leaf.fingerprint
    assert sni_fingerprint(port, pki, "other.test") == leaf.fingerprint
    assert sni_fingerprint(port, pki, "b.test") == leaf.fingerprint
    assert sni_fingerprint(port, pki, "y.x.b.test") == leaf.fingerprint
    # Verified by hostname: python's client and openssl s_client agree.
    assert verified_get(port, pki, "www.a.test", "/notes.txt").body == \
        b"site a\n"
    rc, out = s_client(port, pki, "-servername", "x.b.test",
                       "-verify_hostname", "x.b.test", "-verify_return_error")
    assert rc == 0 and "Verify return code: 0 (ok)" in out, out
    assert re.search(r"subject=.*CN ?= ?\*\.b\.test", out), out
    p = subprocess.run([OPENSSL, "s_client", "-connect",
                        "127.0.0.1:%d" % port, "-noservername", "-CAfile",
                        str(pki.root)], stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=15)
    out = p.stdout.decode("utf-8", "replace")
    assert re.search(r"subject=.*CN ?= ?localhost", out), out


def test_host_routes_share_one_port(wsd, static_root, tmp_path, pki, leaf,
                                    vh_a, vh_b):
    d = wsd(vhost_config(static_root, leaf, vh_a, vh_b, sites(tmp_path)))
    port = [p for p, t in d.ports if t][0]
    plain = [p for p, t in d.ports if not t][0]
    assert verified_get(port, pki, "a.test", "/notes.txt").body == \
        b"site a\n"
    assert verified_get(port, pki, "q.b.test", "/notes.txt").body == \
        b"site b\n"
    # Host matching: case-insensitive, port stripped, also over plain HTTP.
    for host, body in (("A.Test:%d" % port, b"site a\n"),
                       ("www.a.test.", b"site a\n"), ("z.B.TEST", b"site b\n"),
                       ("other.test", b"plain notes\n"),
                       ("127.0.0.1:%d" % plain, b"plain notes\n")):
        r = helpers.http_get(plain, "/notes.txt", headers=None) \
            if host is None else helpers.http_raw(
                plain, helpers.request("GET", "/notes.txt", host=host))
        assert r.status == 200 and r.body == body, (host, r)
    # A host-only app route: 404 for other hosts (nothing to fall back to).
    up = helpers.upgrade_request("/only-a", helpers.ws_key(), host="a.test")
    assert helpers.http_raw(plain, up, head_request=True).status == 101
    up = helpers.upgrade_request("/only-a", helpers.ws_key(), host="b.test")
    assert helpers.http_raw(plain, up).status == 404
    # A route without host serves every host, over TLS too.
    with TlsConn(port, client_ctx(pki), server_hostname="a.test") as c:
        c.send(helpers.upgrade_request("/echo", helpers.ws_key(),
                                       host="a.test"))
        assert helpers.read_response(c, head_request=True).status == 101


@pytest.mark.skipif(shutil.which("curl") is None, reason="no curl")
def test_curl_resolve_two_sites(wsd, static_root, tmp_path, pki, leaf,
                                vh_a, vh_b):
    d = wsd(vhost_config(static_root, leaf, vh_a, vh_b, sites(tmp_path),
                         plain=False))
    for name, body in (("a.test", "site a\n"), ("w.b.test", "site b\n")):
        p = subprocess.run([CURL, "-sS", "--max-time", "10", "--cacert",
                            str(pki.root), "--resolve",
                            "%s:%d:127.0.0.1" % (name, d.port),
                            "https://%s:%d/notes.txt" % (name, d.port)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=20)
        assert p.returncode == 0 and p.stdout.decode() == body, p


def test_sighup_reloads_sni_certificates(wsd, static_root, tmp_path, pki,
                                         leaf, vh_a, vh_b):
    a2 = named_leaf(pki, "a.test", "www.a.test")
    ca, ka = tmp_path / "a.pem", tmp_path / "a.key"
    vh_a.install(ca, ka)
    roots = sites(tmp_path)
    text = vhost_config(static_root, leaf, Leaf(ca, ka, vh_a.leaf_pem),
                        vh_b, roots, plain=False)
    conf = tmp_path / "vh.ini"
    conf.write_text(text)
    d = wsd(text, config_file=conf)
    assert sni_fingerprint(d.port, pki, "a.test") == vh_a.fingerprint
    assert sni_fingerprint(d.port, pki, "c.test") == leaf.fingerprint
    # New files for a.test, and a new section for c.test.
    a2.install(ca, ka)
    c = named_leaf(pki, "c.test")
    conf.write_text(text + "\n[tls c.test]\ncertificate = %s\n"
                    "private_key = %s\n" % (c.chain, c.key))
    mark = d.log_mark()
    d.kill(signal.SIGHUP)
    d.wait_log(r"configuration reloaded", start=mark)
    assert sni_fingerprint(d.port, pki, "a.test") == a2.fingerprint
    assert sni_fingerprint(d.port, pki, "c.test") == c.fingerprint
    assert sni_fingerprint(d.port, pki, "x.b.test") == vh_b.fingerprint
    # A broken named certificate fails the reload; the old ones stay.
    ka.write_text("not a key\n")
    mark = d.log_mark()
    d.kill(signal.SIGHUP)
    m = d.wait_log(r"vh\.ini:(\d+): tls: reload failed.*a\.key", start=mark)
    assert text.splitlines()[int(m.group(1)) - 1].startswith(
        "[tls a.test"), m.group(0)
    assert sni_fingerprint(d.port, pki, "a.test") == a2.fingerprint


def test_check_reports_vhost_errors(tmp_path, static_root, leaf, vh_a):
    conf = tmp_path / "bad.ini"
    conf.write_text(
        "[server]\nlisten = 127.0.0.1:0 tls\n"
        "[tls]\ncertificate = %s\nprivate_key = %s\n"
        "[tls a.test]\ncertificate = %s\nciphers = HIGH\n"
        "[tls A.TEST b..test]\ncertificate = x\nprivate_key = y\n"
        "[route /]\napp = static\nroot = %s\nhost = a_b.test\n"
        "[route /]\napp = static\nroot = %s\n"
        "[route /]\napp = static\nroot = %s\n"
        % (leaf.chain, leaf.key, vh_a.chain, static_root, static_root,
           static_root))
    rc, err = helpers.run_wsd(["-t", "-c", str(conf)])
    assert rc == 1, err
    name = str(conf)
    for line, text in (
            (8, 'key "ciphers" belongs in the [tls] section'),
            (9, 'host name "a.test" already has a certificate'),
            (9, 'invalid host name "b..test"'),
            (15, 'host: invalid host name "a_b.test"'),
            (19, "duplicate route / (first at line 16)"),
            (6, '[tls a.test]: missing "private_key"')):
        assert "%s:%d: " % (name, line) in err and text in err, (line, err)
    # Files of a named section are checked by -t too, at their key's line.
    conf.write_text(
        "[server]\nlisten = 127.0.0.1:0 tls\n"
        "[tls]\ncertificate = %s\nprivate_key = %s\n"
        "[tls a.test]\ncertificate = %s/missing.pem\nprivate_key = %s\n"
        % (leaf.chain, leaf.key, tmp_path, vh_a.key))
    rc, err = helpers.run_wsd(["-t", "-c", str(conf)])
    assert rc == 1, err
    assert '%s:7: certificate "%s/missing.pem": No such file' % (
        name, tmp_path) in err, err


def ws_host(port, path, host):
    """A plain WebSocket with a Host header of its own."""
    key = helpers.ws_key()
    c = helpers.Conn(port)
    c.send(helpers.upgrade_request(path, key, host=host))
    r = helpers.read_response(c, head_request=True)
    assert r.status == 101, r
    return c


def test_same_path_on_two_hosts_are_two_routes(wsd, tmp_path):
    """Two relay routes on /chat, one per host: two hubs, kept apart
    across a reload, which keeps each one's runtime (its members)."""
    text = helpers.make_config(routes=[
        ("/chat", {"app": "relay", "host": "a.test", "echo_self": "off"}),
        ("/chat", {"app": "relay", "host": "b.test", "echo_self": "off"}),
    ])
    conf = tmp_path / "two.ini"
    conf.write_text(text)
    d = wsd(text, config_file=conf)
    a1, a2 = ws_host(d.port, "/chat", "a.test"), ws_host(d.port, "/chat",
                                                          "A.TEST:1")
    b1 = ws_host(d.port, "/chat", "b.test")
    try:
        mark = d.log_mark()
        d.kill(signal.SIGHUP)
        d.wait_log(r"configuration reloaded", start=mark)
        a1.send(helpers.frame(helpers.OP_TEXT, "for a"))
        assert helpers.read_message(a2)[1] == b"for a"
        b1.send(helpers.frame(helpers.OP_TEXT, "for b"))
        # a2 gets nothing from b's hub; b1 nothing from a's.
        a1.send(helpers.frame(helpers.OP_TEXT, "again a"))
        assert helpers.read_message(a2)[1] == b"again a"
        b2 = ws_host(d.port, "/chat", "b.test")
        try:
            b1.send(helpers.frame(helpers.OP_TEXT, "b only"))
            assert helpers.read_message(b2)[1] == b"b only"
        finally:
            b2.close()
        with pytest.raises(TimeoutError):
            helpers.read_message(b1, timeout=0.3)
    finally:
        for c in (a1, a2, b1):
            c.close()
    # No host: neither route, nothing else on /chat.
    up = helpers.upgrade_request("/chat", helpers.ws_key(), host="c.test")
    assert helpers.http_raw(d.port, up).status == 404
