"""test_tls.py -- issue 5: https:// and wss:// on `listen = ADDR:PORT tls`
listeners, certificates from [tls], SIGHUP reloads, start-up errors,
handshake timeouts and protocol versions, against the real daemon.

Every certificate is made here with the openssl command line in a
temporary directory (nothing is committed): a root CA, an intermediate CA
and leaves for localhost / 127.0.0.1 signed by the intermediate, so the
`certificate` file is a real full chain (leaf + intermediate) and clients
trust the root alone. The expired leaf comes from `openssl ca` with
explicit -startdate/-enddate (openssl 3.0's req/x509 refuse -days <= 0).
"""

import asyncio
import hashlib
import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import time

import pytest
import websockets

import helpers
from helpers import OP_BINARY, OP_TEXT, close_frame, expect_close, frame

HANDSHAKE_TIMEOUT = 1.0     # make_config's handshake_timeout
OPENSSL = shutil.which("openssl")
CURL = shutil.which("curl")

pytestmark = pytest.mark.skipif(OPENSSL is None,
                                reason="the openssl command is not installed")


def run(coro, timeout=30):
    """Runs a coroutine with an overall deadline."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


# ----------------------------------------------------------------- PKI


def openssl(*args, cwd=None):
    """Runs the openssl command; fails the test with its output."""
    p = subprocess.run([OPENSSL] + list(args), cwd=cwd,
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=30)
    assert p.returncode == 0, "openssl %s: %s" % (
        " ".join(args), p.stdout.decode("utf-8", "replace"))
    return p.stdout.decode("utf-8", "replace")


CA_EXT = ("basicConstraints = critical, CA:TRUE\n"
          "keyUsage = critical, keyCertSign, cRLSign\n"
          "subjectKeyIdentifier = hash\n"
          "authorityKeyIdentifier = keyid\n")
LEAF_EXT = ("basicConstraints = critical, CA:FALSE\n"
            "keyUsage = critical, digitalSignature\n"
            "extendedKeyUsage = serverAuth\n"
            "subjectAltName = DNS:localhost, IP:127.0.0.1\n"
            "subjectKeyIdentifier = hash\n"
            "authorityKeyIdentifier = keyid\n")
CA_CNF = """[ca]
default_ca = ca_default
[ca_default]
database = index.txt
new_certs_dir = .
serial = serial
default_md = sha256
policy = policy_any
unique_subject = no
[policy_any]
commonName = supplied
"""


class Leaf:
    """A server certificate: chain (leaf + intermediate PEM), key, leaf
    PEM and the SHA-256 of the leaf's DER (what a client sees)."""

    def __init__(self, chain, key, leaf_pem):
        self.chain = chain
        self.key = key
        self.leaf_pem = leaf_pem
        der = ssl.PEM_cert_to_DER_cert(leaf_pem.read_text())
        self.fingerprint = hashlib.sha256(der).hexdigest()

    def install(self, cert_path, key_path):
        """Writes this pair to the paths a config names."""
        key_path.write_bytes(self.key.read_bytes())
        os.chmod(key_path, 0o600)
        cert_path.write_bytes(self.chain.read_bytes())


class Pki:
    """Root CA -> intermediate CA -> leaves, all P-256, in one directory."""

    def __init__(self, base):
        self.base = base
        self.n = 0
        (base / "index.txt").write_text("")
        (base / "serial").write_text("1000\n")
        (base / "ca.cnf").write_text(CA_CNF)
        (base / "ca.ext").write_text(CA_EXT)
        (base / "leaf.ext").write_text(LEAF_EXT)
        self.root = base / "root.pem"
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
                "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", str(base / "root.key"), "-out", str(self.root),
                "-days", "3", "-subj", "/CN=wsd test root CA",
                "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        self.inter = base / "inter.pem"
        self._sign("inter", "/CN=wsd test intermediate CA", self.root,
                   base / "root.key", "ca.ext", self.inter)

    def _sign(self, name, subj, ca, ca_key, ext, out, dates=None):
        """New key NAME.key and a CSR, signed by ca into out."""
        b = self.base
        openssl("req", "-new", "-newkey", "ec", "-pkeyopt",
                "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", str(b / (name + ".key")),
                "-out", str(b / (name + ".csr")), "-subj", subj)
        when = (["-startdate", dates[0], "-enddate", dates[1]] if dates
                else ["-days", "3"])
        openssl("ca", "-batch", "-config", "ca.cnf", "-cert", str(ca),
                "-keyfile", str(ca_key), "-in", name + ".csr",
                "-out", str(out), "-notext", "-extfile", ext, *when,
                cwd=b)

    def leaf(self, dates=None):
        """A new leaf for localhost and 127.0.0.1 (own key); dates:
        (notBefore, notAfter) as YYYYMMDDHHMMSSZ, default now + 3 days."""
        self.n += 1
        name = "leaf%d" % self.n
        b = self.base
        pem = b / (name + ".pem")
        self._sign(name, "/CN=localhost", self.inter, b / "inter.key",
                   "leaf.ext", pem, dates)
        chain = b / (name + "-chain.pem")
        chain.write_text(pem.read_text() + self.inter.read_text())
        return Leaf(chain, b / (name + ".key"), pem)

    def self_signed(self):
        """A self-signed localhost certificate (not trusted by root)."""
        self.n += 1
        b = self.base
        key, pem = b / ("self%d.key" % self.n), b / ("self%d.pem" % self.n)
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
                "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
                str(key), "-out", str(pem), "-days", "3", "-subj",
                "/CN=localhost", "-addext",
                "subjectAltName=DNS:localhost,IP:127.0.0.1")
        return Leaf(pem, key, pem)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return Pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def leaf(pki):
    """The leaf most tests serve (read-only: reload tests copy it)."""
    return pki.leaf()


def client_ctx(pki):
    """An ssl context that trusts the test root CA only."""
    ctx = ssl.create_default_context(cafile=str(pki.root))
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


# ----------------------------------------------------------------- config


def tls_config(root, cert, key, listens=("127.0.0.1:0 tls",), tls=None,
               server=None, routes=None):
    """make_config with the given listen lines and a [tls] section (tls:
    extra keys; cert or key None leaves that key out)."""
    text = helpers.make_config(root, server=server, routes=routes)
    text = text.replace("listen = 127.0.0.1:0\n", "".join(
        "listen = %s\n" % l for l in listens), 1)
    keys = {"certificate": cert, "private_key": key}
    keys.update(tls or {})
    text += "\n[tls]\n" + "".join("%s = %s\n" % (k, v)
                                  for k, v in keys.items() if v is not None)
    return text


def start_tls(wsd, static_root, leaf, **kw):
    """A daemon serving leaf on one TLS listener; returns it."""
    d = wsd(tls_config(static_root, leaf.chain, leaf.key, **kw))
    assert d.ports and d.ports[0][1], \
        "the listener is not logged as (tls): %r" % d.ports
    return d


def tls_port(d):
    ports = [p for p, t in d.ports if t]
    assert ports, "no (tls) listener in the log:\n%s" % d.log_tail()
    return ports[0]


def plain_port(d):
    ports = [p for p, t in d.ports if not t]
    assert ports, "no plain listener in the log:\n%s" % d.log_tail()
    return ports[0]


# ----------------------------------------------------------------- clients


class TlsConn(helpers.Conn):
    """helpers.Conn over TLS (handshake done in the constructor); a TLS
    close_notify or a truncated stream reads as EOF."""

    def __init__(self, port, ctx, server_hostname="localhost", **kw):
        super().__init__(port, **kw)
        try:
            self.sock = ctx.wrap_socket(self.sock,
                                        server_hostname=server_hostname)
        except BaseException:
            self.close()
            raise

    def _fill(self, deadline):
        try:
            return super()._fill(deadline)
        except (ssl.SSLEOFError, ssl.SSLZeroReturnError):
            self.eof = True
            raise helpers.Closed("TLS stream ended; buffered %r"
                                 % self._head())

    def peer_fingerprint(self):
        der = self.sock.getpeercert(binary_form=True)
        return hashlib.sha256(der).hexdigest()


def fingerprint(port, pki):
    """SHA-256 of the leaf a fresh, verified TLS connection is served."""
    with TlsConn(port, client_ctx(pki)) as c:
        return c.peer_fingerprint()


def tls_get(port, pki, path, method="GET"):
    with TlsConn(port, client_ctx(pki)) as c:
        c.send(helpers.request(method, path))
        return helpers.read_response(c, head_request=(method == "HEAD"))


def tls_ws_connect(port, pki, path="/echo", after=b""):
    """A hand-made WebSocket over TLS; returns the TlsConn after the 101."""
    key = helpers.ws_key()
    c = TlsConn(port, client_ctx(pki))
    try:
        c.send(helpers.upgrade_request(path, key) + after)
        r = helpers.read_response(c, head_request=True)
        assert r.status == 101, r
        assert r.header("Sec-WebSocket-Accept") == helpers.ws_accept(key), r
    except BaseException:
        c.close()
        raise
    return c


def wss(port, path):
    return "wss://127.0.0.1:%d%s" % (port, path)


async def echo_once(ws, msg):
    await ws.send(msg)
    got = await asyncio.wait_for(ws.recv(), 10)
    assert got == msg
    return got


def s_client(port, pki, *args, timeout=15):
    """openssl s_client against the daemon, stdin /dev/null; returns
    (rc, output)."""
    argv = [OPENSSL, "s_client", "-connect", "127.0.0.1:%d" % port,
            "-servername", "localhost", "-CAfile", str(pki.root)] + list(args)
    p = subprocess.run(argv, stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace")


def assert_handshake(rc, out, version, cipher=None):
    """s_client completed a verified handshake with that version."""
    m = re.search(r"^New, (\S+), Cipher is (\S+)", out, re.M)
    assert m and m.group(1) == version, out
    assert rc == 0, out
    assert "Verify return code: 0 (ok)" in out, out
    if cipher:
        assert m.group(2) == cipher, out


def assert_refused(rc, out):
    """s_client did not get a session, and not for a reason of its own."""
    assert rc != 0, out
    assert "no protocols available" not in out, "client-side failure: " + out
    assert "no ciphers available" not in out, "client-side failure: " + out
    assert re.search(r"^New, \(NONE\), Cipher is \(NONE\)", out, re.M) \
        or "CONNECTED" not in out, out
    assert not re.search(r"^New, TLSv", out, re.M), out


def client_hello(pki):
    """The bytes of a real TLS ClientHello (for partial handshakes)."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = client_ctx(pki).wrap_bio(incoming, outgoing,
                                   server_hostname="localhost")
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    hello = outgoing.read()
    assert hello[:1] == b"\x16" and len(hello) > 50, hello[:16]
    return hello


# ================================================================= tests
# ----------------------------------------------------------------- wss://


def test_wss_hello(wsd, static_root, pki, leaf):
    d = start_tls(wsd, static_root, leaf)

    async def go():
        async with websockets.connect(wss(d.port, "/hello"),
                                      ssl=client_ctx(pki)) as ws:
            await ws.send("tls")
            reply = await asyncio.wait_for(ws.recv(), 5)
            await asyncio.wait_for(ws.wait_closed(), 5)
            return reply, ws.close_code

    assert run(go()) == ("Hello tls!", 1000)
    d.wait_log(r"access: 127\.0\.0\.1:\d+ ws /hello .*close=1000 in=3 out=10")


def test_wss_echo_one_mib(wsd, static_root, pki, leaf):
    d = start_tls(wsd, static_root, leaf)
    blob = os.urandom(1 << 20)
    text = ("é€😀a" * 20000)[:65537]

    async def go():
        async with websockets.connect(wss(d.port, "/echo"), max_size=None,
                                      ssl=client_ctx(pki)) as ws:
            await ws.send(blob)
            got = await asyncio.wait_for(ws.recv(), 15)
            await echo_once(ws, text)
            for i in range(20):
                await ws.send("m%d" % i)
            more = [await asyncio.wait_for(ws.recv(), 5) for _ in range(20)]
            await ws.close()
            return got, more, ws.close_code

    got, more, code = run(go())
    assert len(got) == len(blob) and got == blob
    assert more == ["m%d" % i for i in range(20)]
    assert code == 1000


def test_wss_counter(wsd, static_root, pki, leaf):
    d = start_tls(wsd, static_root, leaf, routes=[
        ("/counter", {"app": "counter"})])

    async def recv_json(ws):
        return json.loads(await asyncio.wait_for(ws.recv(), 5))

    async def go():
        ctx = client_ctx(pki)
        async with websockets.connect(wss(d.port, "/counter"),
                                      ssl=ctx) as a:
            assert await recv_json(a) == {"type": "users", "count": 1}
            assert await recv_json(a) == {"type": "value", "value": 0}
            async with websockets.connect(wss(d.port, "/counter"),
                                          ssl=ctx) as b:
                assert await recv_json(a) == {"type": "users", "count": 2}
                assert await recv_json(b) == {"type": "users", "count": 2}
                assert await recv_json(b) == {"type": "value", "value": 0}
                for _ in range(3):
                    await a.send('{"action":"plus"}')
                for ws in (a, b):
                    got = [(await recv_json(ws))["value"] for _ in range(3)]
                    assert got == [1, 2, 3], got
                await b.send('{"action":"minus"}')
                for ws in (a, b):
                    assert await recv_json(ws) == {"type": "value",
                                                   "value": 2}
            assert await recv_json(a) == {"type": "users", "count": 1}
        return True

    assert run(go())


def test_wss_frames_behind_request_head(wsd, static_root, pki, leaf):
    # Request head and two frames in one TLS write: the frames are kept.
    d = start_tls(wsd, static_root, leaf)
    after = frame(OP_TEXT, "first") + frame(OP_BINARY, b"\x00second")
    with tls_ws_connect(d.port, pki, "/echo", after=after) as c:
        assert helpers.read_message(c)[:2] == (OP_TEXT, b"first")
        assert helpers.read_message(c)[:2] == (OP_BINARY, b"\x00second")
        c.send(close_frame(1000))
        expect_close(c, 1000)
        assert c.wait_closed(3)


def test_wss_untrusted_certificate_rejected_by_client(wsd, static_root, pki):
    # Sanity of the set-up: a client that does not trust the served
    # certificate fails, so the verified handshakes elsewhere mean something.
    d = start_tls(wsd, static_root, pki.self_signed())
    with pytest.raises(ssl.SSLCertVerificationError):
        TlsConn(d.port, client_ctx(pki)).close()
    assert d.alive()


# ----------------------------------------------------------------- https://


def curl(*args, timeout=20):
    p = subprocess.run([CURL, "-sS", "--noproxy", "*", "--max-time", "15"]
                       + list(args), stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout)
    return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")


@pytest.mark.skipif(CURL is None, reason="curl is not installed")
def test_https_static_with_curl(wsd, static_root, pki, leaf):
    d = start_tls(wsd, static_root, leaf)
    resolve = ["--resolve", "localhost:%d:127.0.0.1" % d.port,
               "--cacert", str(pki.root)]
    base = "https://localhost:%d" % d.port
    rc, body, err = curl(*resolve, base + "/index.html")
    assert rc == 0, err
    assert body == (static_root / "index.html").read_bytes()
    # A 3 MiB file through TLS records and the write path.
    rc, body, err = curl(*resolve, base + "/big.bin")
    assert rc == 0, err
    assert hashlib.sha256(body).digest() == hashlib.sha256(
        (static_root / "big.bin").read_bytes()).digest()
    # HEAD: the headers, no body.
    rc, head, err = curl(*resolve, "-I", base + "/notes.txt")
    assert rc == 0, err
    head = head.decode("latin-1")
    assert re.match(r"HTTP/1\.1 200 ", head), head
    size = (static_root / "notes.txt").stat().st_size
    assert re.search(r"(?im)^content-length:\s*%d\s*$" % size, head), head
    # Directory redirect and 404 work the same over TLS.
    rc, head, err = curl(*resolve, "-I", base + "/sub")
    assert rc == 0, err
    assert re.match(r"HTTP/1\.1 301 ", head.decode("latin-1")), head
    rc, head, err = curl(*resolve, "-I", base + "/nope.txt")
    assert rc == 0, err
    assert re.match(r"HTTP/1\.1 404 ", head.decode("latin-1")), head
    d.wait_log(r'access: 127\.0\.0\.1:\d+ "GET /index\.html HTTP/1\.1" 200 ')
    d.wait_log(r'access: 127\.0\.0\.1:\d+ "HEAD /notes\.txt HTTP/1\.1" 200 ')


@pytest.mark.skipif(CURL is None, reason="curl is not installed")
def test_https_curl_alpn_http11(wsd, static_root, pki, leaf):
    # curl offers h2 and http/1.1 by ALPN; wsd must pick http/1.1.
    d = start_tls(wsd, static_root, leaf)
    rc, out, err = curl("--resolve", "localhost:%d:127.0.0.1" % d.port,
                        "--cacert", str(pki.root), "-v", "-o", os.devnull,
                        "https://localhost:%d/notes.txt" % d.port)
    assert rc == 0, err
    assert re.search(r"ALPN[:,] server accepted (to use )?http/1\.1", err), err


def test_https_keep_alive(wsd, static_root, pki, leaf):
    d = start_tls(wsd, static_root, leaf)
    with TlsConn(d.port, client_ctx(pki)) as c:
        for path in ("/notes.txt", "/style.css", "/sub/page.txt"):
            c.send(helpers.request("GET", path))
            r = helpers.read_response(c)
            assert r.status == 200, r
            assert r.body == (static_root / path[1:]).read_bytes()
        c.send(helpers.request("HEAD", "/notes.txt"))
        r = helpers.read_response(c, head_request=True)
        assert r.status == 200 and r.body == b"", r
        # An app route over https without an upgrade: 426 as in plain.
        c.send(helpers.request("GET", "/echo"))
        r = helpers.read_response(c)
        assert r.status == 426, r
        # idle_timeout (1s) closes the idle TLS connection.
        assert c.wait_closed(1 + 3)


def test_plain_and_tls_side_by_side(wsd, static_root, pki, leaf):
    d = wsd(tls_config(static_root, leaf.chain, leaf.key, listens=(
        "127.0.0.1:0", "127.0.0.1:0 tls")))
    assert len(d.ports) == 2 and [t for _, t in d.ports] == [False, True], \
        d.ports
    plain, tls = plain_port(d), tls_port(d)
    assert re.search(r"info: listening on 127\.0\.0\.1:%d$" % plain,
                     d.log_text(), re.M), d.log_text()
    assert re.search(r"info: listening on 127\.0\.0\.1:%d \(tls\)$" % tls,
                     d.log_text(), re.M), d.log_text()
    # The same file from both.
    r1 = helpers.http_get(plain, "/notes.txt")
    r2 = tls_get(tls, pki, "/notes.txt")
    assert (r1.status, r1.body) == (200, b"plain notes\n"), r1
    assert (r2.status, r2.body) == (200, b"plain notes\n"), r2

    async def go():
        async with websockets.connect("ws://127.0.0.1:%d/echo" % plain) as a, \
                websockets.connect(wss(tls, "/echo"),
                                   ssl=client_ctx(pki)) as b:
            await echo_once(a, "plain")
            await echo_once(b, "secure")
            await echo_once(a, "plain again")
        return True

    assert run(go())
    # TLS to the plain port fails cleanly; the plain port still works.
    with helpers.Conn(plain) as raw:
        ctx = client_ctx(pki)
        with pytest.raises((ssl.SSLError, OSError)):
            s = ctx.wrap_socket(raw.sock, server_hostname="localhost")
            s.close()
    assert helpers.http_get(plain, "/notes.txt").status == 200
    assert d.alive()


def test_two_tls_listeners(wsd, static_root, pki, leaf):
    d = wsd(tls_config(static_root, leaf.chain, leaf.key, listens=(
        "127.0.0.1:0 tls", "127.0.0.1:0 tls")))
    assert [t for _, t in d.ports] == [True, True], d.ports
    for port, _ in d.ports:
        assert fingerprint(port, pki) == leaf.fingerprint
        assert tls_get(port, pki, "/notes.txt").status == 200


# ----------------------------------------------------------------- versions


def test_tls11_refused_tls12_tls13_accepted(wsd, static_root, pki, leaf):
    d = start_tls(wsd, static_root, leaf)
    rc, out = s_client(d.port, pki, "-tls1_1", "-cipher",
                       "DEFAULT@SECLEVEL=0")
    assert_refused(rc, out)
    assert "alert protocol version" in out, out
    rc, out = s_client(d.port, pki, "-tls1_2")
    assert_handshake(rc, out, "TLSv1.2")
    rc, out = s_client(d.port, pki, "-tls1_3")
    assert_handshake(rc, out, "TLSv1.3")
    assert d.alive()
    # Python's client agrees.
    for v in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        ctx = client_ctx(pki)
        ctx.minimum_version = ctx.maximum_version = v
        with TlsConn(d.port, ctx) as c:
            assert c.sock.version() == v.name.replace("_", "."), \
                c.sock.version()


def test_min_version_13_refuses_tls12(wsd, static_root, pki, leaf):
    d = start_tls(wsd, static_root, leaf, tls={"min_version": "1.3"})
    rc, out = s_client(d.port, pki, "-tls1_2")
    assert_refused(rc, out)
    rc, out = s_client(d.port, pki, "-tls1_3")
    assert_handshake(rc, out, "TLSv1.3")


def test_min_version_12_explicit(wsd, static_root, pki, leaf):
    d = start_tls(wsd, static_root, leaf, tls={"min_version": "1.2"})
    assert_handshake(*s_client(d.port, pki, "-tls1_2"), "TLSv1.2")
    assert_refused(*s_client(d.port, pki, "-tls1_1", "-cipher",
                             "DEFAULT@SECLEVEL=0"))


def test_ciphers_key(wsd, static_root, pki, leaf):
    d = start_tls(wsd, static_root, leaf,
                  tls={"ciphers": "ECDHE-ECDSA-CHACHA20-POLY1305"})
    rc, out = s_client(d.port, pki, "-tls1_2")
    assert_handshake(rc, out, "TLSv1.2", "ECDHE-ECDSA-CHACHA20-POLY1305")
    rc, out = s_client(d.port, pki, "-tls1_2", "-cipher",
                       "ECDHE-ECDSA-AES128-GCM-SHA256")
    assert_refused(rc, out)


def test_ciphersuites_key(wsd, static_root, pki, leaf):
    d = start_tls(wsd, static_root, leaf,
                  tls={"ciphersuites": "TLS_CHACHA20_POLY1305_SHA256"})
    rc, out = s_client(d.port, pki, "-tls1_3")
    assert_handshake(rc, out, "TLSv1.3", "TLS_CHACHA20_POLY1305_SHA256")
    rc, out = s_client(d.port, pki, "-tls1_3", "-ciphersuites",
                       "TLS_AES_128_GCM_SHA256")
    assert_refused(rc, out)


def test_default_ciphers_are_modern(wsd, static_root, pki, leaf):
    # Issue 5: "a modern default cipher list": no CBC/SHA-1 suites.
    d = start_tls(wsd, static_root, leaf)
    rc, out = s_client(d.port, pki, "-tls1_2", "-cipher",
                       "ECDHE-ECDSA-AES128-SHA@SECLEVEL=0")
    assert_refused(rc, out)
    rc, out = s_client(d.port, pki, "-tls1_2")
    m = re.search(r"^New, TLSv1\.2, Cipher is (\S+)", out, re.M)
    assert m and re.search(r"GCM|CHACHA20", m.group(1)), out


def test_alpn_http11(wsd, static_root, pki, leaf):
    d = start_tls(wsd, static_root, leaf)
    rc, out = s_client(d.port, pki, "-alpn", "http/1.1")
    assert_handshake(rc, out, "TLSv1.3")
    assert "ALPN protocol: http/1.1" in out, out
    # Offered after h2, http/1.1 is still the one chosen.
    rc, out = s_client(d.port, pki, "-alpn", "h2,http/1.1")
    assert rc == 0, out
    assert "ALPN protocol: http/1.1" in out, out
    ctx = client_ctx(pki)
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    with TlsConn(d.port, ctx) as c:
        assert c.sock.selected_alpn_protocol() == "http/1.1"
        c.send(helpers.request("GET", "/notes.txt"))
        assert helpers.read_response(c).status == 200


# ----------------------------------------------------------------- reload


def reload_setup(wsd, static_root, tmp_path, first):
    """A daemon whose [tls] files are copies it can be reloaded from."""
    cert, key = tmp_path / "server.pem", tmp_path / "server.key"
    first.install(cert, key)
    d = wsd(tls_config(static_root, cert, key, listens=(
        "127.0.0.1:0", "127.0.0.1:0 tls")))
    return d, cert, key


def sighup(d, ok=True):
    """SIGHUP, then waits for the reload's log line; returns the text
    logged from the signal on."""
    mark = d.log_mark()
    d.kill(signal.SIGHUP)
    if ok:
        d.wait_log(r"tls: certificate reloaded", start=mark)
    else:
        # A file that cannot be read or loaded is the config's error, at
        # the line of its key.
        d.wait_log(r": error: .*(tls: reload failed|\.ini:\d+: "
                   r"(certificate \"[^\"]*\": No such file|cannot load "
                   r"(certificate|private key) ))", start=mark)
    time.sleep(0.1)
    assert d.alive(), d.log_tail()
    return d.log_text()[mark:]


def test_sighup_reloads_certificate(wsd, static_root, tmp_path, pki, leaf):
    second = pki.leaf()
    d, cert, key = reload_setup(wsd, static_root, tmp_path, leaf)
    port = tls_port(d)
    assert fingerprint(port, pki) == leaf.fingerprint

    async def go():
        ctx = client_ctx(pki)
        async with websockets.connect(wss(port, "/echo"), ssl=ctx,
                                      max_size=None) as old_ws:
            await echo_once(old_ws, "before the reload")
            # An https keep-alive connection made with the old certificate.
            old_http = TlsConn(port, ctx)
            assert old_http.peer_fingerprint() == leaf.fingerprint
            try:
                second.install(cert, key)
                log = sighup(d)
                assert "reload failed" not in log, log
                assert fingerprint(port, pki) == second.fingerprint
                # Open connections keep working.
                await echo_once(old_ws, "after the reload")
                await echo_once(old_ws, os.urandom(256 * 1024))
                old_http.send(helpers.request("GET", "/notes.txt"))
                assert helpers.read_response(old_http).status == 200
                # New WebSockets get (and verify) the new certificate.
                async with websockets.connect(wss(port, "/echo"),
                                              ssl=ctx) as new_ws:
                    der = new_ws.transport.get_extra_info(
                        "ssl_object").getpeercert(binary_form=True)
                    assert hashlib.sha256(der).hexdigest() == \
                        second.fingerprint
                    await echo_once(new_ws, "new")
                    # And back: a second reload while both are open.
                    leaf.install(cert, key)
                    sighup(d)
                    assert fingerprint(port, pki) == leaf.fingerprint
                    await echo_once(new_ws, "new, after another reload")
                await echo_once(old_ws, "old, after two reloads")
            finally:
                old_http.close()
            await old_ws.close()
            return old_ws.close_code

    assert run(go()) == 1000
    # The plain listener is not disturbed.
    assert helpers.http_get(plain_port(d), "/notes.txt").status == 200


def garbage_key(first, second, cert, key):
    key.write_bytes(b"-----BEGIN PRIVATE KEY-----\nnot a key at all\n"
                    b"-----END PRIVATE KEY-----\n")


def mismatched_pair(first, second, cert, key):
    # The new certificate with the old key.
    cert.write_bytes(second.chain.read_bytes())


def missing_certificate(first, second, cert, key):
    cert.unlink()


def empty_certificate(first, second, cert, key):
    cert.write_bytes(b"")


@pytest.mark.parametrize("breakage", [garbage_key, mismatched_pair,
                                      missing_certificate,
                                      empty_certificate])
def test_failed_reload_keeps_old_certificate(wsd, static_root, tmp_path,
                                             pki, leaf, breakage):
    second = pki.leaf()
    d, cert, key = reload_setup(wsd, static_root, tmp_path, leaf)
    port = tls_port(d)

    async def go():
        async with websockets.connect(wss(port, "/echo"),
                                      ssl=client_ctx(pki)) as ws:
            await echo_once(ws, "before")
            breakage(leaf, second, cert, key)
            log = sighup(d, ok=False)
            assert "certificate reloaded" not in log, log
            # The old certificate is still served, old and new
            # connections work.
            assert fingerprint(port, pki) == leaf.fingerprint
            await echo_once(ws, "after a failed reload")
            assert tls_get(port, pki, "/notes.txt").status == 200
            # Fixed files: the next SIGHUP takes them.
            second.install(cert, key)
            sighup(d)
            assert fingerprint(port, pki) == second.fingerprint
            await echo_once(ws, "after the good reload")
        return True

    assert run(go())


def test_sighup_applies_tls_keys_and_listeners(wsd, static_root, pki, leaf):
    """A full reload: the [tls] keys besides the files apply too, and a
    listener can become a TLS one (its socket kept) or be added as one."""
    d = wsd(tls_config(static_root, leaf.chain, leaf.key, listens=(
        "127.0.0.1:0", "127.0.0.1:0 tls")))
    plain, tls = plain_port(d), tls_port(d)
    rc, out = s_client(tls, pki, "-tls1_2")
    assert_handshake(rc, out, "TLSv1.2")
    conf_file = d.argv[d.argv.index("-c") + 1]
    helpers.write_config(conf_file, tls_config(
        static_root, leaf.chain, leaf.key,
        listens=("127.0.0.1:0 tls", "127.0.0.1:0 tls"),
        tls={"min_version": "1.3"}))
    log = sighup(d)
    assert "configuration reloaded" in log, log
    rc, out = s_client(tls, pki, "-tls1_2")
    assert_refused(rc, out)
    rc, out = s_client(tls, pki, "-tls1_3")
    assert_handshake(rc, out, "TLSv1.3")
    # The plain listener kept its port and speaks TLS now.
    assert "127.0.0.1:%d: tls now on" % plain in log, log
    assert tls_get(plain, pki, "/notes.txt").status == 200


def test_sighup_without_tls_is_harmless(wsd):
    d = wsd()
    d.kill(signal.SIGHUP)
    time.sleep(0.3)
    assert d.alive(), d.log_tail()
    assert helpers.http_get(d.port, "/notes.txt").status == 200


# ----------------------------------------------------------------- start-up


def start_and_fail(conf, timeout=5):
    """Runs `wsd -c conf` that must refuse to start; returns (rc, log)."""
    p = subprocess.Popen([helpers.WSD, "-c", str(conf)],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    try:
        out, _ = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate()
        pytest.fail("wsd started (still running after %ds) with a bad TLS "
                    "set-up; log:\n%s" % (timeout,
                                          out.decode("utf-8", "replace")))
    return p.returncode, out.decode("utf-8", "replace")


def bad_files(tmp_path, leaf, pki):
    """name -> (certificate path, private_key path, the path the error
    must name)."""
    missing = tmp_path / "missing.pem"
    folder = tmp_path / "a-directory.pem"
    folder.mkdir(exist_ok=True)
    junk = tmp_path / "junk.pem"
    junk.write_text("this is not PEM\n")
    empty = tmp_path / "empty.pem"
    empty.write_text("")
    other = pki.leaf()
    return {
        "missing certificate": (missing, leaf.key, missing),
        "missing key": (leaf.chain, missing, missing),
        "certificate is a directory": (folder, leaf.key, folder),
        "key is a directory": (leaf.chain, folder, folder),
        "certificate not PEM": (junk, leaf.key, junk),
        "key not PEM": (leaf.chain, junk, junk),
        "empty certificate": (empty, leaf.key, empty),
        "key is a certificate": (leaf.chain, leaf.leaf_pem, leaf.leaf_pem),
        "key does not match": (leaf.chain, other.key, None),
    }


BAD_FILES = ["missing certificate", "missing key",
             "certificate is a directory", "key is a directory",
             "certificate not PEM", "key not PEM", "empty certificate",
             "key is a certificate", "key does not match"]


@pytest.mark.parametrize("case", BAD_FILES)
def test_startup_error_names_file(tmp_path, static_root, pki, leaf, case):
    cert, key, named = bad_files(tmp_path, leaf, pki)[case]
    conf = tmp_path / "bad.ini"
    conf.write_text(tls_config(static_root, cert, key))
    names = [str(named)] if named else [str(cert), str(key)]
    # wsd -t loads the certificates too.
    rc, out = helpers.run_wsd(["-t", "-c", str(conf)])
    assert rc == 1, out
    assert "configuration OK" not in out, out
    assert any(n in out for n in names), \
        "-t output names none of %r:\n%s" % (names, out)
    rc, out = start_and_fail(conf)
    assert rc == 1, out
    assert "listening on" not in out, out
    lines = [l for l in out.splitlines() if any(n in l for n in names)]
    assert lines, "the log names none of %r:\n%s" % (names, out)
    # An error line: a config error (`FILE:LINE: `) or `error: `.
    assert any(re.search(r"wsd\[\d+\]: error: ", l) or
               l.startswith("%s:" % conf) for l in lines), out
    if case == "key does not match":
        assert re.search(r"match", out, re.I), out


@pytest.mark.skipif(os.geteuid() == 0,
                    reason="root reads a mode-000 file anyway")
def test_startup_error_unreadable_key(tmp_path, static_root, leaf):
    key = tmp_path / "locked.key"
    key.write_bytes(leaf.key.read_bytes())
    os.chmod(key, 0)
    conf = tmp_path / "bad.ini"
    conf.write_text(tls_config(static_root, leaf.chain, key))
    rc, out = helpers.run_wsd(["-t", "-c", str(conf)])
    assert rc == 1 and str(key) in out, out
    rc, out = start_and_fail(conf)
    assert rc == 1 and str(key) in out, out


def test_tls_listener_without_tls_section(tmp_path, static_root):
    conf = tmp_path / "notls.ini"
    text = helpers.make_config(static_root).replace(
        "listen = 127.0.0.1:0\n",
        "listen = 127.0.0.1:0\nlisten = 127.0.0.1:0 tls\n", 1)
    conf.write_text(text)
    line = text.splitlines().index("listen = 127.0.0.1:0 tls") + 1
    rc, out = helpers.run_wsd(["-t", "-c", str(conf)])
    assert rc == 1, out
    assert re.search(r"%s:%d: .*tls" % (re.escape(str(conf)), line), out,
                     re.I), out
    rc, out = start_and_fail(conf)
    assert rc == 1, out
    assert re.search(r"%s:%d: .*tls" % (re.escape(str(conf)), line), out,
                     re.I), out
    assert "listening on" not in out, out


@pytest.mark.parametrize("key,value", [
    ("min_version", "1.1"),
    ("min_version", "1.0"),
    ("min_version", "tls"),
    ("no_such_key", "1"),
])
def test_bad_tls_keys(tmp_path, static_root, leaf, key, value):
    conf = tmp_path / "bad.ini"
    text = tls_config(static_root, leaf.chain, leaf.key, tls={key: value})
    conf.write_text(text)
    line = text.splitlines().index("%s = %s" % (key, value)) + 1
    rc, out = helpers.run_wsd(["-t", "-c", str(conf)])
    assert rc == 1, out
    assert re.search(r"%s:%d: " % (re.escape(str(conf)), line), out), out


def test_bad_listen_flag(tmp_path, static_root, leaf):
    conf = tmp_path / "bad.ini"
    text = tls_config(static_root, leaf.chain, leaf.key,
                      listens=("127.0.0.1:0 tsl",))
    conf.write_text(text)
    line = text.splitlines().index("listen = 127.0.0.1:0 tsl") + 1
    rc, out = helpers.run_wsd(["-t", "-c", str(conf)])
    assert rc == 1, out
    assert re.search(r"%s:%d: " % (re.escape(str(conf)), line), out), out


def test_check_good_tls_config(tmp_path, static_root, leaf):
    conf = tmp_path / "good.ini"
    conf.write_text(tls_config(static_root, leaf.chain, leaf.key,
                               tls={"min_version": "1.3"}))
    rc, out = helpers.run_wsd(["-t", "-c", str(conf)])
    assert (rc, out.strip()) == (0, "%s: configuration OK" % conf), out


def test_tls_section_without_tls_listener_is_fine(wsd, static_root, leaf):
    # Certificates ready, listener plain for now: starts and serves.
    d = wsd(tls_config(static_root, leaf.chain, leaf.key,
                       listens=("127.0.0.1:0",)))
    assert d.ports == [(d.port, False)], d.ports
    assert helpers.http_get(d.port, "/notes.txt").status == 200


def test_expired_certificate_warns_and_starts(wsd, tmp_path, static_root,
                                              pki):
    old = pki.leaf(dates=("20200101000000Z", "20200102000000Z"))
    conf = tmp_path / "expired.ini"
    conf.write_text(tls_config(static_root, old.chain, old.key))
    rc, out = helpers.run_wsd(["-t", "-c", str(conf)])
    assert rc == 0, out
    assert "configuration OK" in out, out
    assert "expired" in out, out
    d = start_tls(wsd, static_root, old)
    m = d.wait_log(r"wsd\[\d+\]: warn: .*expired.*$")
    assert str(old.chain) in m.group(0), m.group(0)
    # It serves (a client that checks dates refuses it, as it should).
    ctx = client_ctx(pki)
    with pytest.raises(ssl.SSLCertVerificationError, match="expired"):
        TlsConn(d.port, ctx).close()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with TlsConn(d.port, ctx) as c:
        assert c.peer_fingerprint() == old.fingerprint
        c.send(helpers.request("GET", "/notes.txt"))
        assert helpers.read_response(c).status == 200


def test_not_yet_valid_certificate_warns_and_starts(wsd, tmp_path,
                                                    static_root, pki):
    future = pki.leaf(dates=("20900101000000Z", "20900102000000Z"))
    d = start_tls(wsd, static_root, future)
    m = d.wait_log(r"wsd\[\d+\]: warn: .*%s.*$" % re.escape(
        str(future.chain)))
    assert re.search(r"not (yet )?valid|future|before", m.group(0), re.I), \
        m.group(0)


def test_tls_section_files_checked_without_tls_listener(tmp_path,
                                                       static_root, leaf):
    missing = tmp_path / "missing.pem"
    conf = tmp_path / "bad.ini"
    conf.write_text(tls_config(static_root, missing, leaf.key,
                               listens=("127.0.0.1:0",)))
    rc, out = helpers.run_wsd(["-t", "-c", str(conf)])
    assert rc == 1 and str(missing) in out, out


@pytest.mark.parametrize("drop", ["certificate", "private_key"])
def test_tls_section_needs_both_files(tmp_path, static_root, leaf, drop):
    conf = tmp_path / "bad.ini"
    files = {"certificate": leaf.chain, "private_key": leaf.key}
    files[drop] = None
    text = tls_config(static_root, files["certificate"],
                      files["private_key"])
    conf.write_text(text)
    line = text.splitlines().index("[tls]") + 1
    rc, out = helpers.run_wsd(["-t", "-c", str(conf)])
    assert rc == 1, out
    assert re.search(r"%s:%d: .*%s" % (re.escape(str(conf)), line, drop),
                     out), out


def test_relative_paths_from_config_directory(wsd, tmp_path, static_root,
                                              pki, leaf):
    # Relative names are taken from the config file's directory, also on
    # SIGHUP, whatever wsd's working directory is.
    etc = tmp_path / "etc"
    (etc / "certs").mkdir(parents=True)
    leaf.install(etc / "certs" / "chain.pem", etc / "certs" / "key.pem")
    text = tls_config(static_root, "certs/chain.pem", "certs/key.pem")
    d = wsd(text, config_file=etc / "wsd.ini", cwd="/")
    assert fingerprint(d.port, pki) == leaf.fingerprint
    second = pki.leaf()
    second.install(etc / "certs" / "chain.pem", etc / "certs" / "key.pem")
    sighup(d)
    assert fingerprint(d.port, pki) == second.fingerprint


# ----------------------------------------------------------------- timeouts


def test_stalled_handshake_dropped(wsd, static_root, pki, leaf):
    # TCP connect, then nothing at all.
    d = start_tls(wsd, static_root, leaf)
    with helpers.Conn(d.port) as c:
        t0 = time.monotonic()
        assert c.wait_closed(HANDSHAKE_TIMEOUT + 2), \
            "silent TLS client still connected after %.1fs" % (
                HANDSHAKE_TIMEOUT + 2)
        took = time.monotonic() - t0
    assert took >= HANDSHAKE_TIMEOUT - 0.2, "dropped after %.2fs" % took
    assert tls_get(d.port, pki, "/notes.txt").status == 200


def test_half_client_hello_dropped(wsd, static_root, pki, leaf):
    d = start_tls(wsd, static_root, leaf)
    hello = client_hello(pki)
    with helpers.Conn(d.port) as c:
        t0 = time.monotonic()
        c.send(hello[:len(hello) // 2])
        assert c.wait_closed(HANDSHAKE_TIMEOUT + 2), \
            "half a ClientHello still connected after %.1fs" % (
                HANDSHAKE_TIMEOUT + 2)
        took = time.monotonic() - t0
    assert took >= HANDSHAKE_TIMEOUT - 0.2, "dropped after %.2fs" % took
    assert d.alive()


def test_handshake_then_silence_dropped(wsd, static_root, pki, leaf):
    # The TLS handshake completes, the request never comes.
    d = start_tls(wsd, static_root, leaf)
    t0 = time.monotonic()
    with TlsConn(d.port, client_ctx(pki)) as c:
        assert c.wait_closed(HANDSHAKE_TIMEOUT + 2)
    assert time.monotonic() - t0 < HANDSHAKE_TIMEOUT + 2.5


def test_many_stalled_handshakes_do_not_block_others(wsd, static_root, pki,
                                                     leaf):
    d = start_tls(wsd, static_root, leaf)
    hello = client_hello(pki)
    stalled = [helpers.Conn(d.port) for _ in range(50)]
    try:
        for i, c in enumerate(stalled):
            if i % 2:
                c.send(hello[:20])
        # Others are served meanwhile.
        assert tls_get(d.port, pki, "/notes.txt").status == 200
        deadline = time.monotonic() + HANDSHAKE_TIMEOUT + 3
        for c in stalled:
            assert c.wait_closed(max(0.1, deadline - time.monotonic())), \
                "a stalled handshake outlived handshake_timeout"
    finally:
        for c in stalled:
            c.close()
    assert tls_get(d.port, pki, "/notes.txt").status == 200


PLAIN_HTTP = {
    "GET": helpers.request("GET", "/notes.txt"),
    "upgrade": helpers.upgrade_request("/echo", helpers.ws_key()),
    "random 64 KiB": os.urandom(64 * 1024),
    "TLS record header, no body": b"\x16\x03\x01\x40\x00",
    # msg_type 1, version 3.1, 6 cipher specs, no session id, 16 bytes of
    # challenge: 43 bytes behind the 2-byte length.
    "SSLv2-style hello": b"\x80\x2b\x01\x03\x01\x00\x12\x00\x00\x00\x10"
    + bytes.fromhex("00003900003800003500001600001300000a") + os.urandom(16),
}


@pytest.mark.parametrize("name", list(PLAIN_HTTP))
def test_plain_http_to_tls_port(wsd, static_root, pki, leaf, name):
    d = start_tls(wsd, static_root, leaf)
    with helpers.Conn(d.port) as c:
        t0 = time.monotonic()
        try:
            c.send(PLAIN_HTTP[name])
        except (ConnectionResetError, BrokenPipeError):
            pass                # the server gave up first: fine
        try:
            got = c.read_to_eof(timeout=HANDSHAKE_TIMEOUT + 2)
        except TimeoutError:
            pytest.fail("%s: TLS port still open %.1fs later" % (
                name, HANDSHAKE_TIMEOUT + 2))
        took = time.monotonic() - t0
    assert took < HANDSHAKE_TIMEOUT + 2
    # Whatever came back is not a plaintext HTTP answer with the file.
    assert not got.startswith(b"HTTP/1.1 200"), got[:200]
    assert b"plain notes" not in got, got[:200]
    time.sleep(0.1)
    assert d.alive(), d.log_tail()
    assert tls_get(d.port, pki, "/notes.txt").status == 200


# ----------------------------------------------------------------- memory


def sanitized(binary):
    """True for a binary built with AddressSanitizer or ThreadSanitizer
    (its RSS says nothing about the daemon's own memory)."""
    with open(binary, "rb") as f:
        data = f.read()
    return b"__asan_init" in data or b"__tsan_init" in data


def test_idle_tls_connections_stay_small(wsd, wsd_binary, static_root, pki,
                                         leaf):
    if sanitized(wsd_binary):
        pytest.skip("sanitizer build: RSS is the sanitizer's")
    # SSL_MODE_RELEASE_BUFFERS: an idle WebSocket over TLS holds no 16 KiB
    # record buffers. 200 idle wss sessions: ~16 KiB each with the mode,
    # ~32 KiB without (measured with the mode masked by an LD_PRELOAD).
    helpers.raise_nofile(1024)
    d = start_tls(wsd, static_root, leaf)
    n = 200
    warm = [tls_ws_connect(d.port, pki) for _ in range(10)]
    for c in warm:
        c.send(frame(OP_TEXT, "x" * 2000))
        assert helpers.read_message(c)[1] == b"x" * 2000
    time.sleep(0.2)
    before = helpers.proc_rss_kb(d.pid)
    conns = []
    try:
        for _ in range(n):
            c = tls_ws_connect(d.port, pki)
            c.send(frame(OP_TEXT, "y" * 2000))
            assert helpers.read_message(c)[1] == b"y" * 2000
            conns.append(c)
        time.sleep(0.3)
        after = helpers.proc_rss_kb(d.pid)
        per_conn = (after - before) / n
        assert per_conn < 24, \
            "%.1f KiB RSS per idle TLS WebSocket (%d -> %d KiB)" % (
                per_conn, before, after)
        # They all still work.
        for c in conns[::20]:
            c.send(frame(OP_TEXT, "still"))
            assert helpers.read_message(c)[1] == b"still"
    finally:
        for c in conns + warm:
            c.close()


# ----------------------------------------------------------------- stop


def test_sigterm_closes_wss_1001(wsd, static_root, pki, leaf):
    d = start_tls(wsd, static_root, leaf)

    async def go():
        async with websockets.connect(wss(d.port, "/echo"),
                                      ssl=client_ctx(pki)) as ws:
            await echo_once(ws, "before")
            d.kill(signal.SIGTERM)
            await asyncio.wait_for(ws.wait_closed(), 5)
            return ws.close_code

    assert run(go()) == 1001
    d.proc.wait(10)
    assert d.proc.returncode == 0, d.log_tail()
