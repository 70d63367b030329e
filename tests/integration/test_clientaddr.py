"""test_clientaddr.py -- issue 6 items 4 and `allow`: CIDR allow-lists,
the real client behind trusted proxies (X-Forwarded-For, Forwarded, PROXY
protocol v1 and v2, also in front of TLS) and per-address connection
limits.

Different clients are different loopback addresses: the client socket is
bound to 127.0.0.2, 127.0.0.3, ... before it connects.
"""

import re
import shutil
import socket
import ssl
import struct
import time

import pytest

import helpers
from helpers import (OP_TEXT, Closed, Conn, frame, read_message,
                     read_response, request, upgrade_request, ws_accept,
                     ws_key)

V2SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def config(static_root, server=None, route_extra=None, listens=None):
    """The default test config with [server] and route keys merged in;
    listens replaces the listen line (several allowed)."""
    text = helpers.make_config(static_root, server=server,
                               route_extra=route_extra)
    if listens:
        text = text.replace("listen = 127.0.0.1:0\n", "".join(
            "listen = %s\n" % l for l in listens))
    return text


def get(port, path="/", source=None, headers=None, pre=b""):
    """One GET on a fresh connection from source; the response."""
    with Conn(port, source=source) as c:
        c.send(pre + request("GET", path, headers=headers))
        return read_response(c)


def upgrade(port, path="/echo", source=None, headers=None, pre=b""):
    """A WebSocket handshake from source: (Conn, response). The caller
    closes the Conn."""
    key = ws_key()
    c = Conn(port, source=source)
    c.send(pre + upgrade_request(path, key, extra=headers))
    r = read_response(c, head_request=True)
    if r.status == 101:
        assert r.header("Sec-WebSocket-Accept") == ws_accept(key)
    else:
        r.body = c.read_exact(int(r.header("Content-Length")))
    return c, r


def upgrade_status(port, **kw):
    c, r = upgrade(port, **kw)
    c.close()
    return r.status


def echo(c, text=b"hi"):
    c.send(frame(OP_TEXT, text))
    assert read_message(c)[:2] == (OP_TEXT, text)


def closed_without_response(c, timeout=3.0):
    """True when the daemon closes c without sending a byte."""
    try:
        data = c.read_to_eof(timeout=timeout)
    except Closed:
        return True
    return data == b""


def proxy_v1(src, sport=40000, dst=None, dport=80):
    fam = "TCP6" if ":" in src else "TCP4"
    dst = dst or ("::1" if ":" in src else "127.0.0.1")
    return ("PROXY %s %s %s %d %d\r\n" % (fam, src, dst, sport,
                                          dport)).encode()


def proxy_v2(src=None, sport=40000, dst=None, dport=80, local=False,
             tlv=b""):
    if local:
        return V2SIG + b"\x20\x00" + struct.pack("!H", len(tlv)) + tlv
    dst = dst or ("::1" if ":" in src else "127.0.0.1")
    if ":" in src:
        fam, body = 0x21, (socket.inet_pton(socket.AF_INET6, src) +
                           socket.inet_pton(socket.AF_INET6, dst))
    else:
        fam, body = 0x11, (socket.inet_aton(src) + socket.inet_aton(dst))
    body += struct.pack("!HH", sport, dport) + tlv
    return V2SIG + bytes([0x21, fam]) + struct.pack("!H", len(body)) + body


# ------------------------------------------------------------------ allow


def test_allow_app_route(wsd, static_root):
    d = wsd(config(static_root, route_extra={
        "/echo": {"allow": "127.0.0.2 127.0.0.8/29"}}))
    c, r = upgrade(d.port, source="127.0.0.2")
    with c:
        assert r.status == 101
        echo(c)
    assert upgrade_status(d.port, source="127.0.0.9") == 101
    c, r = upgrade(d.port, source="127.0.0.3")
    c.close()
    assert r.status == 403
    assert b"address not allowed" in r.body
    assert upgrade_status(d.port, source="127.0.0.16") == 403
    d.wait_log(r"127\.0\.0\.3:\d+: handshake refused: address not allowed "
               r"on /echo")
    # The other routes are open to everyone.
    assert upgrade_status(d.port, path="/hello", source="127.0.0.3") == 101


def test_allow_static_route(wsd, static_root):
    d = wsd(config(static_root, route_extra={
        "/": {"allow": "127.0.0.0/30"}}))
    assert get(d.port, "/index.html", source="127.0.0.2").status == 200
    r = get(d.port, "/index.html", source="127.0.0.5")
    assert r.status == 403
    d.wait_log(r"127\.0\.0\.5:\d+: request refused: address not allowed "
               r"on /")


def test_allow_repeated_key_appends(wsd, static_root):
    text = config(static_root).replace(
        "[route /echo]\n", "[route /echo]\nallow = 127.0.0.2\n"
        "allow = 127.0.0.3 ::1\n")
    d = wsd(text)
    assert upgrade_status(d.port, source="127.0.0.2") == 101
    assert upgrade_status(d.port, source="127.0.0.3") == 101
    assert upgrade_status(d.port, source="127.0.0.4") == 403


def need_ipv6():
    """Skips the test on a machine without an IPv6 loopback."""
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        s = socket.socket(socket.AF_INET6)
        s.bind(("::1", 0))
        s.close()
    except OSError:
        pytest.skip("no ::1")


def v6_port(d):
    """The port of d's [::1] listener."""
    return int(re.search(r"listening on \[::1\]:(\d+)",
                         d.log_text()).group(1))


def test_allow_ipv6_and_mapped(wsd, static_root):
    need_ipv6()
    # A dual listener on [::1] and the v4 one; allow names both spellings.
    d = wsd(config(static_root, route_extra={
        "/echo": {"allow": "::1 ::ffff:127.0.0.2/128"}},
        listens=["127.0.0.1:0", "[::1]:0"]))
    v6port = v6_port(d)
    with Conn(v6port, host="::1") as c:
        c.send(upgrade_request("/echo", ws_key()))
        assert read_response(c, head_request=True).status == 101
    assert upgrade_status(d.port, source="127.0.0.2") == 101
    assert upgrade_status(d.port, source="127.0.0.1") == 403


def test_ipv6_peer_named_with_port(wsd, static_root):
    need_ipv6()
    # Log lines format the peer from the address and port on demand.
    d = wsd(config(static_root, listens=["127.0.0.1:0", "[::1]:0"]))
    v6port = v6_port(d)
    with Conn(v6port, host="::1") as c:
        port = c.sock.getsockname()[1]
        c.send(upgrade_request("/echo", ws_key()))
        assert read_response(c, head_request=True).status == 101
    d.wait_log(r"access: \[::1\]:%d ws /echo " % port)


# -------------------------------------------------- forwarding headers


def test_xff_from_trusted_proxy(wsd, static_root):
    d = wsd(config(static_root, server={"trusted_proxies": "127.0.0.1"},
                   route_extra={"/echo": {"allow": "203.0.113.0/24"}}))
    c, r = upgrade(d.port, headers={"X-Forwarded-For": "203.0.113.5"})
    with c:
        assert r.status == 101
        echo(c)
    # The access line names the client, not the proxy.
    d.wait_log(r"203\.0\.113\.5 ws /echo ")
    # Spoofed on the left of the proxy chain: the rightmost untrusted
    # address counts.
    assert upgrade_status(d.port, headers={
        "X-Forwarded-For": "203.0.113.5, 198.51.100.1"}) == 403
    assert upgrade_status(d.port, headers={
        "X-Forwarded-For": "198.51.100.1, 203.0.113.5, 127.0.0.1"}) == 101
    # Without a header the proxy is the client.
    assert upgrade_status(d.port) == 403


def test_xff_from_untrusted_peer_ignored(wsd, static_root):
    d = wsd(config(static_root, server={"trusted_proxies": "127.0.0.1"},
                   route_extra={"/echo": {"allow": "203.0.113.0/24"}}))
    c, r = upgrade(d.port, source="127.0.0.2",
                   headers={"X-Forwarded-For": "203.0.113.5",
                            "Forwarded": "for=203.0.113.5"})
    c.close()
    assert r.status == 403
    d.wait_log(r"127\.0\.0\.2:\d+: handshake refused: address not allowed")
    assert "203.0.113.5" not in d.log_text()


def test_forwarded_header(wsd, static_root):
    d = wsd(config(static_root, server={"trusted_proxies": "127.0.0.0/8"},
                   route_extra={"/echo": {"allow": "2001:db8::/32"}}))
    assert upgrade_status(d.port, source="127.0.0.2", headers={
        "Forwarded": 'for="[2001:db8:cafe::17]:4711";proto=http'}) == 101
    d.wait_log(r"\[2001:db8:cafe::17\] ws /echo ")
    # unknown / obfuscated: the walk stops at the proxy.
    assert upgrade_status(d.port, source="127.0.0.2", headers={
        "Forwarded": "for=\"[2001:db8::1]\", for=_hidden"}) == 403
    assert upgrade_status(d.port, source="127.0.0.2", headers={
        "Forwarded": "for=unknown"}) == 403


def test_forwarded_client_in_debug_log(wsd, static_root):
    d = wsd(config(static_root, server={"trusted_proxies": "127.0.0.1"}),
            args=["-v"])
    r = get(d.port, "/index.html", headers={"X-Forwarded-For": "192.0.2.9"})
    assert r.status == 200
    d.wait_log(r"debug: 192\.0\.2\.9: via 127\.0\.0\.1 \(forwarded\)")
    d.wait_log(r"192\.0\.2\.9 \"GET /index.html HTTP/1.1\" 200")


# ---------------------------------------------------- PROXY protocol


def proxy_config(static_root, trusted="127.0.0.1", extra=None, listens=None,
                 **kw):
    server = {"trusted_proxies": trusted}
    server.update(extra or {})
    return config(static_root, server=server,
                  listens=listens or ["127.0.0.1:0 proxy_protocol"], **kw)


def test_proxy_v1(wsd, static_root):
    d = wsd(proxy_config(static_root, route_extra={
        "/echo": {"allow": "203.0.113.0/24 2001:db8::/32"}}), args=["-v"])
    d.wait_log(r"a PROXY protocol header from trusted_proxies is required")
    c, r = upgrade(d.port, pre=proxy_v1("203.0.113.7", 1234))
    with c:
        assert r.status == 101
        echo(c)
    d.wait_log(r"203\.0\.113\.7:1234 ws /echo ")
    d.wait_log(r"203\.0\.113\.7:1234: via 127\.0\.0\.1:\d+ \(PROXY v1\)")
    assert upgrade_status(d.port, pre=proxy_v1("2001:db8::5")) == 101
    d.wait_log(r"\[2001:db8::5\]:40000 ws /echo ")
    assert upgrade_status(d.port, pre=proxy_v1("198.51.100.7")) == 403
    # UNKNOWN keeps the proxy's own address.
    assert upgrade_status(d.port, pre=b"PROXY UNKNOWN\r\n") == 403
    assert get(d.port, "/index.html",
               pre=b"PROXY UNKNOWN\r\n").status == 200


def test_proxy_v2(wsd, static_root):
    d = wsd(proxy_config(static_root, route_extra={
        "/echo": {"allow": "203.0.113.0/24 127.0.0.1"}}))
    c, r = upgrade(d.port, pre=proxy_v2("203.0.113.8", 999,
                                        tlv=b"\x02\x00\x03abc"))
    with c:
        assert r.status == 101
        echo(c)
    d.wait_log(r"203\.0\.113\.8:999 ws /echo ")
    assert upgrade_status(d.port, pre=proxy_v2("2001:db8::9")) == 403
    # LOCAL (a health check of the proxy) keeps the peer address.
    assert upgrade_status(d.port, pre=proxy_v2(local=True)) == 101
    d.wait_log(r"127\.0\.0\.1:\d+ ws /echo ")


def test_proxy_header_split_over_writes(wsd, static_root):
    d = wsd(proxy_config(static_root))
    hdr = proxy_v2("203.0.113.8", 7)
    with Conn(d.port) as c:
        for i in range(0, len(hdr), 5):
            c.send(hdr[i:i + 5])
            time.sleep(0.02)
        c.send(request("GET", "/index.html"))
        assert read_response(c).status == 200
    d.wait_log(r"203\.0\.113\.8:7 \"GET /index.html")


def test_proxy_required_and_refused(wsd, static_root):
    d = wsd(proxy_config(static_root))
    # A plain request where the header belongs: closed, no response.
    with Conn(d.port) as c:
        c.send(request("GET", "/index.html"))
        assert closed_without_response(c)
    d.wait_log(r"127\.0\.0\.1:\d+: invalid PROXY header, closing")
    # Broken v1 and v2 headers.
    for bad in (b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",
                b"PROXY TCP9 1.2.3.4 5.6.7.8 1 2\r\n",
                V2SIG + b"\x23\x11\x00\x0c" + bytes(12)):
        with Conn(d.port) as c:
            c.send(bad)
            assert closed_without_response(c)
    # From a peer that is not a trusted proxy: closed at once.
    with Conn(d.port, source="127.0.0.2") as c:
        c.send(proxy_v1("203.0.113.7"))
        assert closed_without_response(c)
    d.wait_log(r"127\.0\.0\.2:\d+: PROXY protocol listener: peer not in "
               r"trusted_proxies, closing")


def test_proxy_header_timeout(wsd, static_root):
    d = wsd(proxy_config(static_root))
    with Conn(d.port) as c:
        c.send(b"PROXY TCP4 203.0.113.7 ")
        t0 = time.monotonic()
        assert closed_without_response(c, timeout=5.0)
        # handshake_timeout is 1s in the test config.
        assert time.monotonic() - t0 < 4.0
    d.wait_log(r"PROXY header not complete in time")
    with Conn(d.port) as c:
        assert closed_without_response(c, timeout=5.0)


def test_proxy_listener_beside_plain_one(wsd, static_root):
    d = wsd(proxy_config(static_root, listens=[
        "127.0.0.1:0", "127.0.0.1:0 proxy_protocol"]))
    plain, proxied = d.ports[0][0], d.ports[1][0]
    assert get(plain, "/index.html").status == 200
    assert get(proxied, "/index.html",
               pre=proxy_v1("203.0.113.1")).status == 200
    with Conn(proxied) as c:
        c.send(request("GET", "/index.html"))
        assert closed_without_response(c)


def test_proxy_config_needs_trusted_proxies(tmp_path):
    conf = tmp_path / "wsd.ini"
    conf.write_text("[server]\nlisten = 127.0.0.1:0 proxy_protocol\n\n"
                    "[route /hello]\napp = hello\n")
    rc, out = helpers.run_wsd(["-t", "-c", str(conf)])
    assert rc != 0
    assert re.search(r"wsd\.ini:2: listen 127\.0\.0\.1:0 proxy_protocol: "
                     r"no trusted_proxies", out), out


@pytest.fixture(scope="module")
def selfsigned(tmp_path_factory):
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is not installed")
    return helpers.selfsigned_cert(tmp_path_factory.mktemp("proxytls"))


def tls_exchange(port, pre, req, timeout=5.0):
    """Sends pre and a TLS ClientHello in ONE write (so the daemon must
    take the PROXY header's bytes alone off the socket), completes the
    handshake, sends req and returns the response head."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname="localhost")
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    with sock:
        try:
            obj.do_handshake()
        except ssl.SSLWantReadError:
            pass
        sock.sendall(pre + out.read())
        while True:
            try:
                obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                if out.pending:
                    sock.sendall(out.read())
                chunk = sock.recv(65536)
                assert chunk, "closed during the TLS handshake"
                inc.write(chunk)
        obj.write(req)
        sock.sendall(out.read())
        data = b""
        while b"\r\n\r\n" not in data:
            try:
                data += obj.read(65536)
            except ssl.SSLWantReadError:
                chunk = sock.recv(65536)
                assert chunk, data
                inc.write(chunk)
        return data


def test_proxy_before_tls(wsd, static_root, selfsigned):
    cert, key = selfsigned
    text = proxy_config(static_root, listens=["127.0.0.1:0 tls "
                                              "proxy_protocol"],
                        route_extra={"/echo": {"allow": "203.0.113.0/24"}})
    text += "\n[tls]\ncertificate = %s\nprivate_key = %s\n" % (cert, key)
    d = wsd(text)
    for pre, want in ((proxy_v1("203.0.113.4", 4444), 101),
                      (proxy_v2("198.51.100.4", 4445), 403)):
        data = tls_exchange(d.port, pre, upgrade_request("/echo", ws_key()))
        assert data.startswith(b"HTTP/1.1 %d " % want), data
    d.wait_log(r"203\.0\.113\.4:4444 ws /echo ")
    d.wait_log(r"198\.51\.100\.4:4445: handshake refused: address not "
               r"allowed")


# ------------------------------------------------- per-address limits


def test_max_connections_per_ip(wsd, static_root):
    d = wsd(config(static_root, server={"max_connections_per_ip": "2",
                                        "idle_timeout": "10s"}))
    a1 = helpers.ws_connect(d.port, source="127.0.0.2")
    a2 = helpers.ws_connect(d.port, source="127.0.0.2")
    try:
        c, r = upgrade(d.port, source="127.0.0.2")
        c.close()
        assert r.status == 503
        assert b"too many connections from your address" in r.body
        d.wait_log(r"127\.0\.0\.2:\d+: connection refused: "
                   r"max_connections_per_ip \(2\) reached")
        # Plain HTTP is counted too.
        assert get(d.port, "/index.html", source="127.0.0.2").status == 503
        # Another address is not affected, and the open ones work.
        b1 = helpers.ws_connect(d.port, source="127.0.0.3")
        b1.close()
        echo(a1)
    finally:
        a2.close()
    # A slot comes back once a connection has gone.
    deadline = time.monotonic() + 5
    while True:
        c, r = upgrade(d.port, source="127.0.0.2")
        c.close()
        if r.status == 101 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert r.status == 101
    a1.close()


def test_max_connection_rate_per_ip(wsd, static_root):
    d = wsd(config(static_root, server={"max_connection_rate_per_ip": "3"}))
    statuses = [get(d.port, "/index.html", source="127.0.0.4").status
                for _ in range(6)]
    # A burst of 3 at most passes within the same second.
    assert statuses[:3] == [200, 200, 200], statuses
    assert 429 in statuses, statuses
    r = get(d.port, "/index.html", source="127.0.0.4")
    if r.status == 429:
        assert b"too many new connections" in r.body
    d.wait_log(r"127\.0\.0\.4:\d+: connection refused: "
               r"max_connection_rate_per_ip \(3/s\) exceeded")
    assert get(d.port, "/index.html", source="127.0.0.5").status == 200
    # Tokens come back: one every third of a second.
    time.sleep(1.1)
    assert get(d.port, "/index.html", source="127.0.0.4").status == 200


def test_per_ip_limit_counts_forwarded_client(wsd, static_root):
    d = wsd(config(static_root, server={"trusted_proxies": "127.0.0.1",
                                        "max_connections_per_ip": "1"}))
    a = upgrade(d.port, headers={"X-Forwarded-For": "203.0.113.1"})
    b = upgrade(d.port, headers={"X-Forwarded-For": "203.0.113.2"})
    try:
        assert a[1].status == 101 and b[1].status == 101
        assert upgrade_status(d.port, headers={
            "X-Forwarded-For": "203.0.113.1"}) == 503
        d.wait_log(r"203\.0\.113\.1: connection refused: "
                   r"max_connections_per_ip")
    finally:
        a[0].close()
        b[0].close()


def test_per_ip_limit_spoofing_untrusted_does_not_help(wsd, static_root):
    d = wsd(config(static_root, server={"trusted_proxies": "127.0.0.1",
                                        "max_connections_per_ip": "1"}))
    a = upgrade(d.port, source="127.0.0.2",
                headers={"X-Forwarded-For": "203.0.113.1"})
    try:
        assert a[1].status == 101
        assert upgrade_status(d.port, source="127.0.0.2", headers={
            "X-Forwarded-For": "203.0.113.2"}) == 503
    finally:
        a[0].close()


def test_per_ip_limit_proxy_protocol_client(wsd, static_root):
    d = wsd(proxy_config(static_root, extra={"max_connections_per_ip": "1"}))
    a = upgrade(d.port, pre=proxy_v1("203.0.113.1"))
    try:
        assert a[1].status == 101
        assert upgrade_status(d.port, pre=proxy_v1("203.0.113.1")) == 503
        assert upgrade_status(d.port, pre=proxy_v1("203.0.113.2")) == 101
    finally:
        a[0].close()


def test_per_ip_churn_many_addresses(wsd, static_root):
    """Many client addresses, each connecting and leaving: all served,
    the daemon stays up and memory stays bounded."""
    d = wsd(config(static_root, server={"max_connections_per_ip": "2",
                                        "max_connection_rate_per_ip": "5"}))
    rss0 = helpers.proc_rss_kb(d.pid)
    for i in range(2, 202):
        src = "127.0.%d.%d" % (i // 250, i % 250 + 1)
        assert get(d.port, "/index.html", source=src).status == 200
    grown = helpers.proc_rss_kb(d.pid) - rss0
    assert grown < 4096, "RSS grew by %d KiB" % grown
    assert get(d.port, "/index.html", source="127.0.0.2").status == 200
