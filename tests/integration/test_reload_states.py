"""test_reload_states.py -- SIGHUP while connections are in every state:
PROXY header pending (plain and TLS listeners), TLS handshake pending,
request head pending, static file in flight, WebSocket open (echo,
counter), closing handshake. Each connection finishes correctly after the
reload with what it was accepted under (a TLS one with the certificate of
its generation), the daemon stays up, and under the sanitizers
(WSD_SANITIZED=1) nothing is reported. Several reloads in a row: one
changes the certificate, one removes routes and the TLS listeners, one
brings them back.
"""

import hashlib
import os
import re
import shutil
import signal
import socket
import ssl

import pytest

import helpers
from helpers import (OP_CLOSE, OP_TEXT, Conn, close_frame, frame,
                     read_frame, read_message, read_response, request)

# One loopback address per listener: a reload keeps a listener whose
# address is unchanged (port 0 included), so each line keeps its socket.
PLAIN, TLS, PROXY, PROXY_TLS = ("127.0.0.1", "127.0.0.2", "127.0.0.3",
                                "127.0.0.4")
LISTEN_RX = re.compile(r"listening on (127\.0\.0\.\d):(\d+)")


def openssl_cert(d):
    d.mkdir()
    cert, key = helpers.selfsigned_cert(d)
    der = ssl.PEM_cert_to_DER_cert(cert.read_text())
    return cert, key, hashlib.sha256(der).hexdigest()


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    """Two self-signed certificates: (cert, key, sha256 of the DER)."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is not installed")
    base = tmp_path_factory.mktemp("reloadtls")
    return openssl_cert(base / "one"), openssl_cert(base / "two")


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """index.html and a file larger than the most a socket buffers (4 MiB
    of send buffer at most): a transfer of it is still in the daemon when
    the reload comes."""
    d = tmp_path_factory.mktemp("reloadroot")
    (d / "index.html").write_text("<p>reload states</p>\n")
    (d / "big.bin").write_bytes(os.urandom(16 * 1024 * 1024 + 17))
    return d


def config(root, cert=None, counter=True, log_level="info"):
    """Plain and PROXY listeners always; with cert the TLS ones too."""
    lines = ["[server]", "listen = %s:0" % PLAIN,
             "listen = %s:0 proxy_protocol" % PROXY]
    if cert:
        lines += ["listen = %s:0 tls" % TLS,
                  "listen = %s:0 tls proxy_protocol" % PROXY_TLS]
    # Long enough that no state ends by itself while a reload runs.
    lines += ["trusted_proxies = 127.0.0.0/8", "handshake_timeout = 20s",
              "idle_timeout = 20s", "close_timeout = 20s",
              "log_level = %s" % log_level,
              "", "[route /]", "app = static", "root = %s" % root,
              "", "[route /echo]", "app = echo"]
    if counter:
        lines += ["", "[route /counter]", "app = counter",
                  "", "[route /hello]", "app = hello"]
    if cert:
        lines += ["", "[tls]", "certificate = %s" % cert[0],
                  "private_key = %s" % cert[1]]
    return "\n".join(lines) + "\n"


def ports(d, start=0):
    """{address: port} of the listeners announced in the log from start."""
    return {a: int(p) for a, p in LISTEN_RX.findall(d.log_text()[start:])}


def reload(d, text):
    path = d.argv[d.argv.index("-c") + 1]
    helpers.write_config(path, text)
    mark = d.log_mark()
    d.kill(signal.SIGHUP)
    d.wait_log(r"SIGHUP: configuration reloaded", start=mark, timeout=10)
    assert d.alive(), d.log_tail()
    return mark


def proxy_v1(src, sport=40000):
    return ("PROXY TCP4 %s 127.0.0.1 %d 80\r\n" % (src, sport)).encode()


def tcp(addr, port, **kw):
    return Conn(port, host=addr, timeout=10, **kw)


class TLSClient:
    """TLS over a socket that connected earlier: the ClientHello (behind
    pre, in the same write) goes out only when start() is called."""

    def __init__(self, conn):
        self.conn = conn
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self.inc, self.out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.obj = ctx.wrap_bio(self.inc, self.out,
                                server_hostname="localhost")

    def _recv(self):
        chunk = self.conn.sock.recv(65536)
        assert chunk, "closed during the TLS exchange"
        self.inc.write(chunk)

    def start(self, pre=b""):
        """Handshakes; returns the sha256 of the server's certificate."""
        try:
            self.obj.do_handshake()
        except ssl.SSLWantReadError:
            pass
        self.conn.sock.sendall(pre + self.out.read())
        while True:
            try:
                self.obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                if self.out.pending:
                    self.conn.sock.sendall(self.out.read())
                self._recv()
        if self.out.pending:
            self.conn.sock.sendall(self.out.read())
        der = self.obj.getpeercert(binary_form=True)
        return hashlib.sha256(der).hexdigest()

    def get(self, path):
        """One request; returns the response head and body (by
        Content-Length)."""
        self.obj.write(request("GET", path))
        self.conn.sock.sendall(self.out.read())
        data = b""
        while b"\r\n\r\n" not in data:
            try:
                data += self.obj.read(65536)
            except ssl.SSLWantReadError:
                self._recv()
        head, body = data.split(b"\r\n\r\n", 1)
        n = int(re.search(rb"(?i)content-length: (\d+)", head).group(1))
        while len(body) < n:
            try:
                body += self.obj.read(65536)
            except ssl.SSLWantReadError:
                self._recv()
        return head, body


def text(c):
    op, payload, _ = read_message(c)
    assert op == OP_TEXT, (op, payload)
    return payload.decode()


def counter_value(c):
    """The counter's next value message (users counts are skipped: other
    members come and go)."""
    while True:
        m = text(c)
        if '"type":"value"' in m:
            return int(re.search(r'"value":(-?\d+)', m).group(1))


class States:
    """One connection in each state, opened before a reload and finished
    after it (finish() asserts that each completed correctly)."""

    def __init__(self, root, p, value):
        self.root = root
        self.index = (root / "index.html").read_bytes()
        self.big = (root / "big.bin").read_bytes()
        self.tls = TLS in p
        self.counter = value is not None
        self.open = []
        if self.tls:
            # PROXY header pending on a `tls proxy_protocol` listener:
            # half a header; TLS starts after it.
            self.proxy_tls = self._keep(tcp(PROXY_TLS, p[PROXY_TLS]))
            self.proxy_tls.send(b"PROXY TCP4 203.0.113.9 ")
            # TLS handshake pending: connected, no ClientHello yet.
            self.tls_pending = self._keep(tcp(TLS, p[TLS]))
        # PROXY header pending on a plain proxy_protocol listener.
        self.proxy = self._keep(tcp(PROXY, p[PROXY]))
        # Request head pending: half a head.
        self.head = self._keep(tcp(PLAIN, p[PLAIN]))
        self.head.send(b"GET /index.html HTTP/1.1\r\nHost: x\r\n")
        # Static transfer in flight: a 16 MiB file partly read.
        self.static = self._keep(tcp(PLAIN, p[PLAIN], rcvbuf=16384))
        self.static.send(request("GET", "/big.bin"))
        r = read_response(self.static, head_request=True)
        assert r.status == 200, r
        assert int(r.header("Content-Length")) == len(self.big)
        self.static_got = self.static.read_exact(65536)
        # WebSocket open on the echo app and on the counter.
        self.ws = self._keep(helpers.ws_connect(p[PLAIN], "/echo"))
        self.ws.send(frame(OP_TEXT, "before"))
        assert text(self.ws) == "before"
        if self.counter:
            self.ctr = self._keep(helpers.ws_connect(p[PLAIN], "/counter"))
            self.ctr_value = value
            assert counter_value(self.ctr) == value
            self._plus()
            # Closing: the hello app has sent its close frame and awaits
            # the client's.
            self.closing = self._keep(helpers.ws_connect(p[PLAIN],
                                                         "/hello"))
            self.closing.send(frame(OP_TEXT, "x"))
            assert text(self.closing) == "Hello x!"
            f = read_frame(self.closing)
            assert f.opcode == OP_CLOSE and f.close_code == 1000, f

    def _keep(self, c):
        self.open.append(c)
        return c

    def _plus(self):
        self.ctr.send(frame(OP_TEXT, '{"action":"plus"}'))
        self.ctr_value += 1
        assert counter_value(self.ctr) == self.ctr_value

    def finish(self, cert_fp=None):
        """Completes every connection; cert_fp: the certificate the TLS
        ones must see (their generation's, not the reload's)."""
        if self.tls:
            t = TLSClient(self.proxy_tls)
            assert t.start(b"127.0.0.1 5555 443\r\n") == cert_fp
            head, body = t.get("/index.html")
            assert head.startswith(b"HTTP/1.1 200 "), head
            assert body == self.index
            t = TLSClient(self.tls_pending)
            assert t.start() == cert_fp
            head, body = t.get("/index.html")
            assert head.startswith(b"HTTP/1.1 200 "), head
            assert body == self.index
        self.proxy.send(proxy_v1("203.0.113.8") + request("GET",
                                                          "/index.html"))
        r = read_response(self.proxy)
        assert r.status == 200 and r.body == self.index, r
        self.head.send(b"\r\n")
        r = read_response(self.head)
        assert r.status == 200 and r.body == self.index, r
        rest = self.static.read_exact(len(self.big) - len(self.static_got),
                                      timeout=20)
        assert self.static_got + rest == self.big
        self.ws.send(frame(OP_TEXT, "after"))
        assert text(self.ws) == "after"
        if self.counter:
            # The counter's runtime, and its value, carried on.
            self._plus()
            self.closing.send(close_frame(1000))
            assert self.closing.wait_closed(5)
        for c in self.open:
            c.close()
        return self.ctr_value if self.counter else None


def test_reloads_with_connections_in_every_state(wsd, root, certs):
    one, two = certs
    d = wsd(config(root, one))
    p = ports(d)
    assert set(p) == {PLAIN, TLS, PROXY, PROXY_TLS}, p

    # 1: a new certificate while connections of every state are open.
    st = States(root, p, 0)
    mark = reload(d, config(root, two))
    assert ports(d, mark) == {}, "a listener was bound anew"
    value = st.finish(cert_fp=one[2])
    # New TLS connections get the new certificate; the counter's value
    # carried over to the new generation.
    t = TLSClient(tcp(TLS, p[TLS]))
    assert t.start() == two[2]
    t.conn.close()
    with helpers.ws_connect(p[PLAIN], "/counter") as c:
        assert counter_value(c) == value

    # 2: the TLS listeners, the [tls] section, /counter and /hello go.
    st = States(root, p, value)
    reload(d, config(root, None, counter=False))
    st.finish(cert_fp=two[2])
    for addr in (TLS, PROXY_TLS):
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((addr, p[addr]), timeout=5).close()
    key = helpers.ws_key()
    with Conn(p[PLAIN]) as c:
        c.send(helpers.upgrade_request("/counter", key))
        assert read_response(c, head_request=True).status == 404

    # 3: everything back, with the first certificate.
    st = States(root, {PLAIN: p[PLAIN], PROXY: p[PROXY]}, None)
    mark = reload(d, config(root, one))
    st.finish()
    q = ports(d, mark)
    assert set(q) == {TLS, PROXY_TLS}, q
    t = TLSClient(tcp(PROXY_TLS, q[PROXY_TLS]))
    assert t.start(proxy_v1("203.0.113.7")) == one[2]
    assert t.get("/index.html")[0].startswith(b"HTTP/1.1 200 ")
    t.conn.close()
    assert d.alive()
    assert "reload failed" not in d.log_text()


def test_old_generation_lives_until_its_last_connection(wsd, root):
    """The generation a connection was accepted under is freed when the
    last of its connections closes, not at the reload."""
    d = wsd(config(root))
    p = ports(d)
    ws = helpers.ws_connect(p[PLAIN], "/echo")
    mark = reload(d, config(root, counter=False))
    reload(d, config(root))
    log = d.log_text()[mark:]
    # Generation 2 had no connection: freed by the second reload.
    assert re.search(r"generation 2 released", log), log
    assert "generation 1 released" not in log, log
    ws.send(frame(OP_TEXT, "still here"))
    assert text(ws) == "still here"
    ws.send(close_frame(1000))
    helpers.expect_close(ws, 1000)
    ws.close()
    d.wait_log(r"generation 1 released", start=mark)
