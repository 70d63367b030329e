"""test_metrics.py -- the metrics app (Prometheus text format) and the
health app: the exposition is valid, and the counters move as traffic
flows (sessions, messages, close codes, refusals, slow clients)."""

import re
import signal
import time

import pytest

import helpers
from pmd_lib import PmdConn
from test_tls import leaf, pki  # noqa: F401 (fixtures)
from helpers import OP_BINARY, OP_TEXT, close_frame, expect_close, frame, \
    read_message

NAME_RX = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL_RX = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"')
VALUE_RX = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?|NaN|"
                      r"[+-]Inf)")


def parse_exposition(text):
    """Parses Prometheus text format 0.0.4 strictly, asserting as it goes:
    HELP then TYPE before a family's samples, a family in one block,
    valid metric and label names, escaped label values, numeric values,
    counters named *_total. Returns {(name, ((label, value), ...)): float}
    and {name: type}."""
    assert text.endswith("\n"), "no final newline"
    samples, types = {}, {}
    family = None
    seen = set()
    for line in text[:-1].split("\n"):
        assert line, "empty line"
        if line.startswith("# HELP "):
            name, _, help_ = line[7:].partition(" ")
            assert NAME_RX.fullmatch(name), line
            assert name.startswith("wsd_"), line
            assert help_.strip(), "empty HELP: %r" % line
            assert name not in seen, "family %s split or repeated" % name
            seen.add(name)
            family = name
            continue
        if line.startswith("# TYPE "):
            name, _, typ = line[7:].partition(" ")
            assert name == family and name not in types, (
                "TYPE without its HELP: %r" % line)
            assert typ in ("counter", "gauge"), line
            if typ == "counter":
                assert name.endswith("_total"), "counter %s" % name
            types[name] = typ
            continue
        assert not line.startswith("#"), "stray comment %r" % line
        m = NAME_RX.match(line)
        assert m, "bad sample line %r" % line
        name = m.group(0)
        assert name == family and name in types, (
            "sample %r outside its family (%s)" % (line, family))
        rest = line[m.end():]
        labels = []
        if rest.startswith("{"):
            end = 1
            while rest[end] != "}":
                lm = LABEL_RX.match(rest, end)
                assert lm, "bad labels in %r" % line
                labels.append((lm.group(1), lm.group(2)))
                end = lm.end()
                if rest[end] == ",":
                    end += 1
            rest = rest[end + 1:]
        assert rest.startswith(" "), "no value in %r" % line
        value = rest[1:]
        assert VALUE_RX.fullmatch(value), "bad value in %r" % line
        key = (name, tuple(sorted(labels)))
        assert key not in samples, "duplicate sample %r" % line
        samples[key] = float(value)
    return samples, types


def scrape(port):
    """GET /metrics: checks the response, returns the parsed samples."""
    r = helpers.http_get(port, "/metrics")
    assert r.status == 200, r
    assert r.header("Content-Type").startswith(
        "text/plain; version=0.0.4"), r
    return parse_exposition(r.body.decode("utf-8"))[0]


def val(samples, name, **labels):
    """One sample's value; the sample must exist. A label name may end
    in "_" (class_ for class)."""
    labels = {k.rstrip("_"): v for k, v in labels.items()}
    key = (name, tuple(sorted(labels.items())))
    assert key in samples, "no sample %s%r" % (name, labels)
    return samples[key]


def wait_metric(port, name, want, timeout=5.0, exact=False, **labels):
    """Scrapes until the sample reaches want (>=, or == when exact);
    returns the samples. Session ends are counted when the TCP connection
    goes, a moment after the close frames crossed."""
    deadline = time.monotonic() + timeout
    while True:
        s = scrape(port)
        v = val(s, name, **labels)
        if v == want or (v > want and not exact):
            return s
        assert time.monotonic() < deadline, "%s%r is %r, want %r" % (
            name, labels, val(s, name, **labels), want)
        time.sleep(0.05)


def conf(**server):
    return helpers.make_config(server=server, routes=[
        ("/echo", {"app": "echo"}),
        ("/hello", {"app": "hello"}),
        ("/relay", {"app": "relay", "echo_self": "off",
                    "slow_client": "close", "max_send_buffer": "1k"}),
        ("/metrics", {"app": "metrics"}),
        ("/health", {"app": "health"}),
    ])


def test_metrics_format(wsd):
    d = wsd(conf())
    r = helpers.http_get(d.port, "/metrics")
    assert r.status == 200, r
    assert r.header("Content-Type") == \
        "text/plain; version=0.0.4; charset=utf-8", r
    assert r.header("Cache-Control") == "no-store", r
    samples, types = parse_exposition(r.body.decode("utf-8"))
    for name in ("wsd_build_info", "wsd_uptime_seconds",
                 "wsd_process_resident_memory_bytes", "wsd_connections",
                 "wsd_connections_total", "wsd_handshake_failures_total",
                 "wsd_websocket_closes_total", "wsd_messages_received_total",
                 "wsd_sent_bytes_total", "wsd_hub_members",
                 "wsd_slow_client_total"):
        assert name in types, "no %s" % name
    assert val(samples, "wsd_process_resident_memory_bytes") > 1 << 20
    assert val(samples, "wsd_connections", kind="http") == 1   # this one
    assert val(samples, "wsd_connections", kind="websocket") == 0
    # Per-route samples for WebSocket app routes only.
    routes = {dict(k[1]).get("route") for k in samples
              if k[0] == "wsd_messages_received_total"}
    assert routes == {"/echo", "/hello", "/relay"}
    # HEAD: the head only, with the length a GET would have had.
    head = helpers.http_get(d.port, "/metrics", method="HEAD")
    assert head.status == 200 and head.body == b"", head
    assert int(head.header("Content-Length")) > 1000, head
    assert helpers.http_get(d.port, "/metrics", method="POST").status == 405
    # A query string is ignored, as on every app route.
    assert helpers.http_get(d.port, "/metrics?x=1").status == 200


HUB_FAMILIES = ("wsd_hub_members", "wsd_hub_published_total",
                "wsd_hub_delivered_total", "wsd_slow_client_total")


def test_hub_series_only_for_hub_routes(wsd):
    """Issue 16 item 9: hub and slow-client series name the routes whose
    app has a hub (relay here), not echo or hello, which never join one;
    the per-route message series still cover every WebSocket route."""
    d = wsd(conf())
    samples, _ = parse_exposition(
        helpers.http_get(d.port, "/metrics").body.decode("utf-8"))
    for fam in HUB_FAMILIES:
        routes = {dict(k[1]).get("route") for k in samples if k[0] == fam}
        assert routes == {"/relay"}, (fam, routes)
    actions = {dict(k[1]).get("action") for k in samples
               if k[0] == "wsd_slow_client_total"}
    assert actions == {"close", "drop", "conflate"}


def test_keepalive_scrapes(wsd):
    """Scrapes on one keep-alive connection see the request count rise."""
    d = wsd(conf())
    with helpers.Conn(d.port) as c:
        counts = []
        for _ in range(3):
            c.send(helpers.request("GET", "/metrics"))
            r = helpers.read_response(c)
            assert r.status == 200 and r.header("Connection") == \
                "keep-alive", r
            s = parse_exposition(r.body.decode())[0]
            counts.append(val(s, "wsd_http_responses_total", class_="2xx"))
            assert val(s, "wsd_connections_total", kind="http") == 1
        assert counts == [counts[0], counts[0] + 1, counts[0] + 2], counts


def test_messages_and_closes(wsd):
    d = wsd(conf())
    before = scrape(d.port)
    c = helpers.ws_connect(d.port, "/echo")
    s = scrape(d.port)
    assert val(s, "wsd_connections", kind="websocket") == 1
    assert val(s, "wsd_connections_total", kind="websocket") == 1
    # Three messages, one of them fragmented: 3 messages, 5+0+300 bytes.
    c.send(frame(OP_TEXT, "hello"))
    c.send(frame(OP_BINARY, b""))
    c.send(frame(OP_BINARY, b"x" * 100, fin=False) +
           frame(0, b"y" * 200))
    for want in (b"hello", b"", b"x" * 100 + b"y" * 200):
        assert read_message(c)[1] == want
    s = scrape(d.port)
    assert val(s, "wsd_messages_received_total", route="/echo") == 3
    assert val(s, "wsd_messages_sent_total", route="/echo") == 3
    assert val(s, "wsd_received_bytes_total", route="/echo") == 305
    assert val(s, "wsd_sent_bytes_total", route="/echo") == 305
    assert val(s, "wsd_messages_received_total", route="/hello") == 0

    # Normal close (1000), a private code (other), a protocol error
    # (1002), a TCP close without a close frame (1006).
    c.send(close_frame(1000))
    expect_close(c, 1000)
    c.close()
    c = helpers.ws_connect(d.port, "/echo")
    c.send(close_frame(4001))
    expect_close(c, 4001)
    c.close()
    c = helpers.ws_connect(d.port, "/echo")
    c.send(frame(OP_TEXT, "unmasked", mask=False))
    expect_close(c, 1002)
    c.close()
    c = helpers.ws_connect(d.port, "/echo")
    c.close()
    s = wait_metric(d.port, "wsd_websocket_closes_total", 1, code="1006")
    s = wait_metric(d.port, "wsd_connections_total", 4, kind="websocket")
    for code, n in (("1000", 1), ("other", 1), ("1002", 1), ("1006", 1),
                    ("1001", 0), ("1011", 0)):
        want = val(before, "wsd_websocket_closes_total", code=code) + n
        s = wait_metric(d.port, "wsd_websocket_closes_total", want,
                        code=code)
        assert val(s, "wsd_websocket_closes_total", code=code) == want, code
    wait_metric(d.port, "wsd_connections", 0, exact=True, kind="websocket")


def test_handshake_failures(wsd):
    d = wsd(conf())

    def refused(req, status):
        r = helpers.http_raw(d.port, req, head_request=False)
        assert r.status == status, r

    key = helpers.ws_key()
    refused(helpers.upgrade_request("/nowhere", key), 404)
    refused(helpers.upgrade_request("/metrics", key), 404)
    refused(helpers.upgrade_request("/health", key), 404)
    refused(helpers.upgrade_request("/echo", key, version="8"), 426)
    refused(helpers.upgrade_request("/echo", None), 400)
    refused(b"GARBAGE\r\n\r\n", 400)
    # A head that never completes: 408 at handshake_timeout (1s).
    with helpers.Conn(d.port) as c:
        c.send(b"GET /echo HTTP/1.1\r\nHost: x\r\n")
        r = helpers.read_response(c, timeout=5)
        assert r.status == 408, r
    s = scrape(d.port)
    for reason, n in (("not_found", 3), ("version", 1),
                      ("bad_request", 2), ("timeout", 1), ("too_many", 0),
                      ("tls", 0)):
        assert val(s, "wsd_handshake_failures_total", reason=reason) == n, \
            reason
    assert val(s, "wsd_connections_total", kind="websocket") == 0
    # 404 x3, 426, 400 x2, 408.
    assert val(s, "wsd_http_responses_total", class_="4xx") == 7
    assert val(s, "wsd_http_responses_total", class_="5xx") == 0


def test_access_refusals_counted(wsd, tmp_path):
    """Refusals of the access rules are counted by reason, and a token
    file guards the metrics route itself (Prometheus sends the token in
    Authorization: Bearer)."""
    tokens = tmp_path / "tokens"
    tokens.write_text("# scrapers\ns3cret\n")
    d = wsd(helpers.make_config(routes=[
        ("/echo", {"app": "echo", "origins": "https://good.example"}),
        ("/hello", {"app": "hello", "allow": "127.0.0.2"}),
        ("/metrics", {"app": "metrics", "auth_token_file": str(tokens)})]))
    r = helpers.http_raw(d.port, helpers.upgrade_request("/hello", helpers.ws_key()))
    assert r.status == 403, r
    key = helpers.ws_key()
    r = helpers.http_raw(d.port, helpers.upgrade_request("/echo", key, extra={
        "Origin": "https://evil.example"}))
    assert r.status == 403, r
    r = helpers.http_raw(d.port, helpers.upgrade_request("/echo", key, extra={
        "Origin": "https://good.example", "Sec-WebSocket-Protocol": "a b"}))
    assert r.status == 400, r
    r = helpers.http_get(d.port, "/metrics")
    assert r.status == 401 and b"wsd_" not in r.body, r
    r = helpers.http_get(d.port, "/metrics", headers={
        "Authorization": "Bearer wrong"})
    assert r.status == 401, r
    r = helpers.http_get(d.port, "/metrics", headers={
        "Authorization": "Bearer s3cret"})
    assert r.status == 200, r
    s = parse_exposition(r.body.decode())[0]
    assert val(s, "wsd_handshake_failures_total",
               reason="forbidden_origin") == 1
    assert val(s, "wsd_handshake_failures_total", reason="unauthorized") == 2
    assert val(s, "wsd_handshake_failures_total",
               reason="forbidden_address") == 1
    assert val(s, "wsd_handshake_failures_total", reason="bad_request") == 1
    assert "s3cret" not in d.log_text()


def test_max_connections_counted(wsd):
    d = wsd(conf(max_connections="2"))
    a = helpers.ws_connect(d.port, "/echo")
    # Upgraded, so surely counted: with workers, a bare connection may
    # still wait in another worker's backlog when the scrape comes.
    b = helpers.ws_connect(d.port, "/echo")
    try:
        # Both slots are taken: a scrape is refused now.
        with helpers.Conn(d.port) as c:
            c.send(helpers.request("GET", "/metrics"))
            r = helpers.read_response(c)
            assert r.status == 503, r
    finally:
        b.close()
    # b's slot frees once wsd sees its EOF.
    deadline = time.monotonic() + 5
    while True:
        try:
            s = scrape(d.port)
            break
        except (AssertionError, helpers.Closed, ConnectionError):
            assert time.monotonic() < deadline, "no slot for a scrape"
            time.sleep(0.05)
    assert val(s, "wsd_handshake_failures_total", reason="too_many") >= 1
    assert val(s, "wsd_http_responses_total", class_="5xx") >= 1
    a.close()


def test_slow_client_counted(wsd):
    """A relay member that never reads is closed (1008) by the close
    policy: the slow-client counter and the 1008 close count it."""
    d = wsd(conf())
    slow = helpers.ws_connect(d.port, "/relay", rcvbuf=4096)
    pub = helpers.ws_connect(d.port, "/relay")
    payload = b"z" * 65536
    sent = 0
    deadline = time.monotonic() + 30
    while True:
        pub.send(frame(OP_BINARY, payload))
        sent += 1
        if sent % 16 == 0:
            s = scrape(d.port)
            if val(s, "wsd_slow_client_total", route="/relay",
                   action="close") >= 1:
                break
        assert time.monotonic() < deadline, "slow client never closed"
    assert val(s, "wsd_slow_client_total", route="/relay",
               action="drop") == 0
    assert val(s, "wsd_hub_published_total", route="/relay") <= sent
    assert val(s, "wsd_messages_received_total", route="/relay") <= sent
    assert val(s, "wsd_hub_delivered_total", route="/relay") >= 1
    assert val(s, "wsd_hub_delivered_total", route="/relay") == \
        val(s, "wsd_messages_sent_total", route="/relay")
    slow.close()
    wait_metric(d.port, "wsd_websocket_closes_total", 1, code="1008")
    wait_metric(d.port, "wsd_hub_members", 1, exact=True, route="/relay")
    pub.close()


def test_tls_counted(wsd, static_root, pki, leaf):
    """TLS connections are counted, and so is a failed TLS handshake."""
    from test_tls import tls_config, tls_get, tls_ws_connect
    d = wsd(tls_config(static_root, leaf.chain, leaf.key, listens=(
        "127.0.0.1:0", "127.0.0.1:0 tls"), routes=[
            ("/echo", {"app": "echo"}), ("/metrics", {"app": "metrics"})]))
    plain = [p for p, t in d.ports if not t][0]
    tls = [p for p, t in d.ports if t][0]
    c = tls_ws_connect(tls, pki, "/echo")
    try:
        c.send(frame(OP_TEXT, "secure"))
        assert read_message(c)[1] == b"secure"
        # Scraped over TLS too.
        r = tls_get(tls, pki, "/metrics")
        assert r.status == 200, r
        # Plain HTTP to the TLS port is no TLS handshake.
        with helpers.Conn(tls) as raw:
            raw.send(helpers.request("GET", "/metrics"))
            assert raw.wait_closed(5)
        s = wait_metric(plain, "wsd_handshake_failures_total", 1,
                        reason="tls")
        assert val(s, "wsd_handshake_failures_total", reason="tls") == 1
        assert val(s, "wsd_connections_total", kind="tls") == 3
        assert val(s, "wsd_connections", kind="tls") == 1
        assert val(s, "wsd_connections", kind="websocket") == 1
        assert val(s, "wsd_messages_received_total", route="/echo") == 1
    finally:
        c.close()
    wait_metric(plain, "wsd_connections", 0, exact=True, kind="tls")


def send_until(d, conn, data, name, timeout=30, **labels):
    """Sends data over and over without reading, scraping now and then,
    until the sample is at least 1 (wsd may stop reading: sends that
    would block are skipped). Returns the samples."""
    conn.sock.setblocking(False)
    deadline = time.monotonic() + timeout
    pending = memoryview(data)
    n = 0
    while True:
        try:
            pending = pending[conn.sock.send(pending):]
            if not pending:
                pending = memoryview(data)
        except BlockingIOError:
            time.sleep(0.01)
        except (BrokenPipeError, ConnectionResetError):
            pass    # closed by wsd: the scrape tells why
        n += 1
        if n % 32 == 0:
            s = scrape(d.port)
            if val(s, name, **labels) >= 1:
                return s
        assert time.monotonic() < deadline, "%s%r never moved" % (name,
                                                                  labels)


def test_backpressure_counted(wsd):
    """An echo client that sends but never reads: wsd stops reading from
    it (pause), the connection stays open."""
    d = wsd(helpers.make_config(routes=[
        ("/echo", {"app": "echo", "max_send_buffer": "1k"}),
        ("/metrics", {"app": "metrics"})]))
    c = helpers.ws_connect(d.port, "/echo", rcvbuf=4096)
    try:
        s = send_until(d, c, frame(OP_BINARY, b"e" * 65536),
                       "wsd_output_limit_total", action="pause")
        assert val(s, "wsd_output_limit_total", action="close") == 0
        assert val(s, "wsd_connections", kind="websocket") == 1
    finally:
        c.close()


def test_unread_pongs_counted(wsd):
    """A client that pings but never reads its pongs is closed (1008)."""
    d = wsd(helpers.make_config(routes=[
        ("/echo", {"app": "echo", "max_send_buffer": "1k"}),
        ("/metrics", {"app": "metrics"})]))
    c = helpers.ws_connect(d.port, "/echo", rcvbuf=4096)
    try:
        s = send_until(d, c, frame(helpers.OP_PING, b"p" * 125) * 64,
                       "wsd_output_limit_total", action="close")
    finally:
        c.close()
    wait_metric(d.port, "wsd_websocket_closes_total", 1, code="1008")


def test_health(wsd):
    d = wsd(conf())
    r = helpers.http_get(d.port, "/health")
    assert (r.status, r.body) == (200, b"ok\n"), r
    assert r.header("Content-Type").startswith("text/plain"), r
    r = helpers.http_get(d.port, "/health", method="HEAD")
    assert (r.status, r.body, r.header("Content-Length")) == (200, b"", "3")


def test_health_draining_during_stop(wsd):
    """A request that is arriving when SIGTERM comes is still answered
    (conn_shutdown lets it finish): health says 503 draining. Works
    without shutdown_delay."""
    d = wsd(conf())
    with helpers.Conn(d.port) as c:
        c.send(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        # Let wsd read the partial head before the signal (an idle
        # daemon does so at once); the stop keeps such a connection.
        time.sleep(0.5)
        d.kill(signal.SIGTERM)
        d.wait_log(r"SIGTERM: stopping")
        c.send(b"\r\n")
        r = helpers.read_response(c)
    assert (r.status, r.body) == (503, b"draining\n"), r
    assert r.header("Connection") == "close", r
    # Exits by itself; a second SIGTERM from the teardown could land
    # after the handlers are gone.
    assert d.proc.wait(10) == 0


def test_health_draining(wsd):
    d = wsd(conf(shutdown_delay="3s"))
    assert helpers.http_get(d.port, "/health").status == 200
    d.kill(signal.SIGTERM)
    deadline = time.monotonic() + 2
    while True:
        r = helpers.http_get(d.port, "/health")
        if r.status == 503:
            break
        assert time.monotonic() < deadline, "health still %d" % r.status
        time.sleep(0.05)
    assert r.body == b"draining\n", r


def test_counters_survive_reload(wsd):
    """SIGHUP with the metrics and health routes kept: the server's and
    the route's counters go on, and the HTTP apps keep answering."""
    d = wsd(conf())
    c = helpers.ws_connect(d.port, "/echo")
    c.send(frame(OP_TEXT, "before"))
    assert read_message(c)[1] == b"before"
    assert val(scrape(d.port), "wsd_reloads_total", result="ok") == 0
    mark = d.log_mark()
    d.kill(signal.SIGHUP)
    d.wait_log(r"SIGHUP: configuration reloaded", start=mark)
    c.send(frame(OP_TEXT, "after"))
    assert read_message(c)[1] == b"after"
    s = scrape(d.port)
    assert val(s, "wsd_messages_received_total", route="/echo") == 2
    assert val(s, "wsd_connections_total", kind="websocket") == 1
    assert val(s, "wsd_connections", kind="websocket") == 1
    assert helpers.http_get(d.port, "/health").body == b"ok\n"
    c.close()


def test_reloads_counted(wsd):
    """A reload that works and one that fails (a typo) are counted apart."""
    d = wsd(conf())
    path = d.argv[d.argv.index("-c") + 1]
    mark = d.log_mark()
    d.kill(signal.SIGHUP)
    d.wait_log(r"SIGHUP: configuration reloaded", start=mark)
    with open(path, "a") as f:
        f.write("\nbogus_key = 1\n")
    mark = d.log_mark()
    d.kill(signal.SIGHUP)
    d.wait_log(r"SIGHUP: reload failed", start=mark)
    s = scrape(d.port)
    assert val(s, "wsd_reloads_total", result="ok") == 1
    assert val(s, "wsd_reloads_total", result="failed") == 1


def test_message_rate_closes_counted(wsd):
    d = wsd(conf(max_messages_per_second="2"))
    with helpers.ws_connect(d.port, "/echo") as c:
        for i in range(3):
            c.send(frame(OP_TEXT, "m%d" % i))
        for i in range(2):
            assert read_message(c)[1] == b"m%d" % i
        expect_close(c, 1008)
    d.wait_log(r"ws /echo .* close=1008")
    s = scrape(d.port)
    assert val(s, "wsd_message_rate_closes_total") == 1
    assert val(s, "wsd_websocket_closes_total", code="1008") == 1


def test_compressed_sessions_counted(wsd):
    d = wsd(conf())
    helpers.ws_connect(d.port, "/echo").close()
    with PmdConn(d.port, "/echo",
                 offer="permessage-deflate; client_max_window_bits") as c:
        assert c.params is not None
    s = wait_metric(d.port, "wsd_connections_total", 2, kind="websocket")
    assert val(s, "wsd_websocket_compressed_total") == 1
