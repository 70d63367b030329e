"""test_channels.py -- the channels app: named channels below a route,
publish over HTTP, history with ids and resume, envelope, client_publish,
limits and metrics, relay's POST."""

import json
import os
import re
import signal
import threading
import time

import pytest

import helpers
from helpers import Conn, OP_BINARY, OP_TEXT, read_message, read_response


def chan_config(tmp_path=None, server=None, **keys):
    """A config with a channels route on /live/ and a relay on /relay."""
    route = {"app": "channels"}
    route.update({k: v for k, v in keys.items()})
    return helpers.make_config(server=server, routes=[
        ("/live/", route),
        ("/relay", {"app": "relay"}),
        ("/metrics", {"app": "metrics"}),
    ])


def post(port, path, body=b"", ctype="text/plain", headers=None,
         conn=None):
    """POSTs body; returns the response (a fresh connection unless conn)."""
    h = {"Content-Length": str(len(body))}
    if ctype is not None:
        h["Content-Type"] = ctype
    h.update(headers or {})
    req = helpers.request("POST", path, headers=h, body=body)
    if conn is not None:
        conn.send(req)
        return read_response(conn)
    return helpers.http_raw(port, req)


def publish(port, path, body, **kw):
    r = post(port, path, body, **kw)
    assert r.status == 200, r
    assert r.header("Content-Type") == "application/json"
    return json.loads(r.body)


def info(port, path):
    r = helpers.http_get(port, path, headers={"Accept": "application/json"})
    assert r.status == 200, r
    return json.loads(r.body)


def sub(port, path, **kw):
    return helpers.ws_connect(port, path, **kw)


def id_seq(i):
    epoch, seq = i.split("-")
    return int(epoch), int(seq)


def no_message(c, timeout=0.3):
    """Nothing arrives on c within timeout."""
    assert not helpers.readable(c.sock, timeout) and not c.buf, c.buf


def wait_for(pred, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.02)
    return pred()


def test_publish_reaches_its_channel_once(wsd):
    d = wsd(chan_config())
    a1, a2 = sub(d.port, "/live/news"), sub(d.port, "/live/news")
    b = sub(d.port, "/live/sport")
    wait_for(lambda: info(d.port, "/live/news")["subscribers"] == 2)
    rep = publish(d.port, "/live/news", b"hello")
    assert rep["subscribers"] == 2
    for c in (a1, a2):
        assert read_message(c)[:2] == (OP_TEXT, b"hello")
        no_message(c)
    no_message(b)
    # Binary by Content-Type; the other channel hears only its own.
    rep = publish(d.port, "/live/sport", b"\x00\xff", ctype="image/png")
    assert rep["subscribers"] == 1
    assert read_message(b)[:2] == (OP_BINARY, b"\x00\xff")
    no_message(a1)
    for c in (a1, a2, b):
        c.close()


def test_ids_increase_and_info(wsd):
    d = wsd(chan_config(history=5))
    ids = [publish(d.port, "/live/x", b"m%d" % i)["id"] for i in range(4)]
    seqs = [id_seq(i) for i in ids]
    assert len({e for e, _ in seqs}) == 1
    assert [s for _, s in seqs] == sorted(s for _, s in seqs)
    assert len(set(seqs)) == 4
    i = info(d.port, "/live/x")
    assert i == {"channel": "x", "subscribers": 0, "messages": 4,
                 "last_id": ids[-1]}
    i = info(d.port, "/live/nothing")
    assert i["subscribers"] == 0 and i["last_id"] is None


def test_keepalive_publishes(wsd):
    d = wsd(chan_config())
    c = sub(d.port, "/live/k")
    with Conn(d.port) as p:
        for i in range(20):
            r = post(d.port, "/live/k", b"%d" % i, conn=p)
            assert r.status == 200 and r.header("Connection") == "keep-alive"
    for i in range(20):
        assert read_message(c)[1] == b"%d" % i
    c.close()


def test_bad_names_400(wsd):
    d = wsd(chan_config())
    for name in ("", "a%20b", "a/b", "x" * 129, "%C3%A9"):
        r = post(d.port, "/live/" + name, b"x")
        assert r.status == 400, (name, r)
        with Conn(d.port) as c:
            c.send(helpers.upgrade_request("/live/" + name, helpers.ws_key()))
            assert read_response(c).status == 400, name
    ok = "Aa0._:-" + "y" * 121
    assert post(d.port, "/live/" + ok, b"x").status == 200


def test_statuses(wsd, tmp_path):
    tokens = tmp_path / "tokens"
    tokens.write_text("s3cret\n")
    d = wsd(chan_config(publish_token_file=str(tokens),
                        max_message_size="1k"))
    path = "/live/s"
    # 401 without or with a wrong token, with WWW-Authenticate.
    r = post(d.port, path, b"x")
    assert r.status == 401 and r.header("WWW-Authenticate") == "Bearer"
    r = post(d.port, path, b"x", headers={"Authorization": "Bearer no"})
    assert r.status == 401
    auth = {"Authorization": "Bearer s3cret"}
    assert post(d.port, path, b"x", headers=auth).status == 200
    # 405 with Allow.
    r = helpers.http_get(d.port, path, method="PUT")
    assert r.status == 405 and r.header("Allow") == "GET, POST, DELETE"
    # 411: no Content-Length, chunked or not.
    r = helpers.http_raw(d.port, helpers.request("POST", path, headers=dict(
        auth, **{"Transfer-Encoding": "chunked"}), body=b"1\r\nx\r\n0\r\n\r\n"))
    assert r.status == 411
    r = helpers.http_raw(d.port, helpers.request("POST", path, headers=auth))
    assert r.status == 411
    # 413 from Content-Length, before the body is sent.
    with Conn(d.port) as c:
        c.send(helpers.request("POST", path, headers=dict(
            auth, **{"Content-Length": "2000"})))
        assert read_response(c).status == 413
    # 408: the body does not come within handshake_timeout (1s).
    with Conn(d.port) as c:
        c.send(helpers.request("POST", path, headers=dict(
            auth, **{"Content-Length": "10"}), body=b"abc"))
        assert read_response(c, timeout=5).status == 408
    # 400: text that is not UTF-8.
    r = post(d.port, path, b"\xff\xfe", headers=auth)
    assert r.status == 400
    # A GET without Accept is the WebSocket's path: 426.
    assert helpers.http_get(d.port, path).status == 426
    m = _metrics(d)
    for status, n in ((401, 2), (405, 1), (411, 2), (413, 1), (408, 1),
                      (400, 1)):
        assert re.search(r'wsd_publish_refused_total\{route="/live/",'
                         r'status="%d"\} %d\b' % (status, n), m), (status, m)


def test_publish_allow_403(wsd):
    d = wsd(chan_config(publish_allow="10.0.0.0/8"))
    r = post(d.port, "/live/a", b"x")
    assert r.status == 403
    r = helpers.http_get(d.port, "/live/a", headers={
        "Accept": "application/json"})
    assert r.status == 403
    # Subscribers are not publishers: they may still come.
    sub(d.port, "/live/a").close()


def test_token_file_reread_on_sighup(wsd, tmp_path):
    tokens = tmp_path / "tokens"
    tokens.write_text("one\n")
    d = wsd(chan_config(publish_token_file=str(tokens)))
    assert post(d.port, "/live/t", b"x", headers={
        "Authorization": "Bearer one"}).status == 200
    tokens.write_text("two\n")
    os.kill(d.pid, signal.SIGHUP)
    assert wait_for(lambda: post(d.port, "/live/t", b"x", headers={
        "Authorization": "Bearer two"}).status == 200)
    assert post(d.port, "/live/t", b"x", headers={
        "Authorization": "Bearer one"}).status == 401


def test_delete_closes_1000_and_drops_history(wsd):
    d = wsd(chan_config(history=10))
    publish(d.port, "/live/d", b"old")
    c1, c2 = sub(d.port, "/live/d"), sub(d.port, "/live/other")
    r = helpers.http_get(d.port, "/live/d", method="DELETE")
    assert r.status == 204 and r.body == b""
    helpers.expect_close(c1, 1000)
    no_message(c2)
    assert wait_for(lambda: info(d.port, "/live/d")["messages"] == 0)
    c1.close()
    c2.close()


def test_channel_freed_when_empty(wsd):
    d = wsd(chan_config(server={"log_level": "debug"}, max_channels=2))
    c = sub(d.port, "/live/a")
    c2 = sub(d.port, "/live/b")
    with Conn(d.port) as x:
        x.send(helpers.upgrade_request("/live/c", helpers.ws_key()))
        assert read_response(x).status == 503
    c.close()
    # Once a's subscriber is gone, a is freed: room for c.
    assert wait_for(lambda: _upgrade_status(d.port, "/live/c") == 101)
    c2.close()


def _upgrade_status(port, path):
    with Conn(port) as x:
        x.send(helpers.upgrade_request(path, helpers.ws_key()))
        return read_response(x, head_request=True).status


def test_max_channels_503_publish(wsd):
    d = wsd(chan_config(history=1, max_channels=3))
    for n in "abc":
        publish(d.port, "/live/" + n, b"x")
    r = post(d.port, "/live/d", b"x")
    assert r.status == 503
    # An existing channel still takes messages.
    publish(d.port, "/live/a", b"y")
    m = _metrics(d)
    assert re.search(r'wsd_channels\{route="/live/"\} 3\b', m), m
    assert re.search(r'wsd_publish_refused_total\{route="/live/",'
                     r'status="503"\} 1\b', m), m
    assert re.search(r'wsd_channel_published_total\{route="/live/"\} 4\b', m)


def test_default_max_channels(wsd):
    """10 000 channels (the default), then one more is refused."""
    d = wsd(chan_config(history=1))
    with Conn(d.port, timeout=30) as p:
        for i in range(10000):
            p.send(helpers.request("POST", "/live/c%d" % i, headers={
                "Content-Length": "1"}, body=b"x"))
            if i % 100 == 99:
                for _ in range(100):
                    assert read_response(p, timeout=30).status == 200
        r = post(d.port, "/live/one-more", b"x", conn=p)
    assert r.status == 503


def _metrics(d):
    return helpers.http_get(d.port, "/metrics").body.decode()


def test_history_resume_since_no_gap_no_dup(wsd):
    """A publisher runs while subscribers resume from ids they saw."""
    d = wsd(chan_config(history=1000))
    first = publish(d.port, "/live/h", b"0")["id"]
    stop = threading.Event()
    sent = []

    def publisher():
        with Conn(d.port, timeout=10) as p:
            i = 1
            while not stop.is_set() and i < 400:
                r = post(d.port, "/live/h", b"%d" % i, conn=p)
                assert r.status == 200
                sent.append(i)
                i += 1

    t = threading.Thread(target=publisher)
    t.start()
    got_all = []
    try:
        for _ in range(5):
            time.sleep(0.05)
            c = sub(d.port, "/live/h?since=" + first)
            got = []
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                op, data, _ = read_message(c, timeout=10)
                got.append(int(data))
                if len(got) > 30:
                    break
            c.close()
            # From 1 on, in order, nothing skipped, nothing twice.
            assert got == list(range(1, len(got) + 1)), got
            got_all.append(got)
    finally:
        stop.set()
        t.join()


def test_resume_from_middle(wsd):
    d = wsd(chan_config(history=10))
    ids = [publish(d.port, "/live/m", b"%d" % i)["id"] for i in range(5)]
    c = sub(d.port, "/live/m?since=" + ids[2])
    assert [read_message(c)[1] for _ in range(2)] == [b"3", b"4"]
    no_message(c)
    last = publish(d.port, "/live/m", b"5")["id"]
    assert read_message(c)[1] == b"5"
    c.close()
    # The newest id: nothing to replay, no reset.
    c = sub(d.port, "/live/m?since=" + last)
    no_message(c)
    c.close()


def test_reset_after_eviction(wsd):
    d = wsd(chan_config(history=3))
    ids = [publish(d.port, "/live/e", b"%d" % i)["id"] for i in range(6)]
    c = sub(d.port, "/live/e?since=" + ids[0])
    op, data, _ = read_message(c)
    assert json.loads(data) == {"type": "reset", "channel": "e"}
    assert [read_message(c)[1] for _ in range(3)] == [b"3", b"4", b"5"]
    no_message(c)
    c.close()


def test_reset_after_ttl(wsd):
    d = wsd(chan_config(history=3, history_ttl="300ms"))
    i0 = publish(d.port, "/live/t", b"0")["id"]
    publish(d.port, "/live/t", b"1")
    assert wait_for(lambda: info(d.port, "/live/t")["messages"] == 0)
    c = sub(d.port, "/live/t?since=" + i0)
    assert json.loads(read_message(c)[1])["type"] == "reset"
    no_message(c)
    c.close()


def test_reset_after_restart(wsd):
    d = wsd(chan_config(history=3))
    i0 = publish(d.port, "/live/r", b"0")["id"]
    d.stop()
    d2 = wsd(chan_config(history=3))
    publish(d2.port, "/live/r", b"new")
    c = sub(d2.port, "/live/r?since=" + i0)
    assert json.loads(read_message(c)[1]) == {"type": "reset",
                                               "channel": "r"}
    assert read_message(c)[1] == b"new"
    c.close()
    c = sub(d2.port, "/live/r?since=garbage")
    assert json.loads(read_message(c)[1])["type"] == "reset"
    c.close()


def test_history_max_bytes(wsd):
    d = wsd(chan_config(history=100, history_max_bytes="1k"))
    for i in range(10):
        publish(d.port, "/live/%d" % (i % 3), b"x" * 300)
    total = sum(info(d.port, "/live/%d" % i)["messages"] for i in range(3))
    assert total == 3      # 3 x 300 <= 1k < 4 x 300


def test_envelope_json(wsd):
    d = wsd(chan_config(envelope="json", history=5))
    c = sub(d.port, "/live/env")
    r1 = publish(d.port, "/live/env", b'{"a": [1, 2]}',
                 ctype="application/json")
    r2 = publish(d.port, "/live/env", "caf\u00e9\n".encode(),
                 ctype="text/plain; charset=utf-8")
    r3 = publish(d.port, "/live/env", b"\x00\x01", ctype="application/x-raw")
    m1 = json.loads(read_message(c)[1])
    assert m1 == {"channel": "env", "id": r1["id"], "data": {"a": [1, 2]}}
    m2 = json.loads(read_message(c)[1])
    assert m2 == {"channel": "env", "id": r2["id"], "data": "caf\u00e9\n"}
    op, data, _ = read_message(c)
    assert op == OP_TEXT
    m3 = json.loads(data)
    assert m3["data"] == "AAE=" and m3["binary"] is True
    assert post(d.port, "/live/env", b"{nope",
                ctype="application/json").status == 400
    c.close()
    c = sub(d.port, "/live/env?since=1-1")
    assert json.loads(read_message(c)[1]) == {"type": "reset",
                                              "channel": "env"}
    assert json.loads(read_message(c)[1])["id"] == r1["id"]
    c.close()


def test_client_publish_off_closes_1008(wsd):
    d = wsd(chan_config())
    c = sub(d.port, "/live/cp")
    c.send(helpers.frame(OP_TEXT, b"hi"))
    helpers.expect_close(c, 1008)
    c.close()
    assert d.wait_log("client_publish is off")


def test_client_publish_on(wsd):
    d = wsd(chan_config(client_publish="on", history=2))
    a, b = sub(d.port, "/live/chat"), sub(d.port, "/live/chat")
    o = sub(d.port, "/live/other")
    a.send(helpers.frame(OP_TEXT, b"hey"))
    assert read_message(b)[1] == b"hey"
    assert read_message(a)[1] == b"hey"
    no_message(o)
    assert info(d.port, "/live/chat")["messages"] == 1
    for c in (a, b, o):
        c.close()


def test_route_must_end_in_slash(tmp_path):
    conf = tmp_path / "bad.ini"
    conf.write_text(
        "[route /live]\napp = channels\n[route /x/]\napp = echo\n"
        "[route /y]\napp = echo\npublish_allow = 127.0.0.1\n")
    rc, out = helpers.run_wsd(["-t", "-c", str(conf)])
    assert rc != 0
    assert 'route /live: app channels needs a path ending in "/"' in out
    assert 'invalid route path "/x/": must not end with "/"' in out
    assert 'key "publish_allow" is only for channels and relay' in out


def test_relay_accepts_post(wsd, tmp_path):
    tokens = tmp_path / "tokens"
    tokens.write_text("tok\n")
    cfg = helpers.make_config(routes=[
        ("/relay", {"app": "relay", "publish_token_file": str(tokens)})])
    d = wsd(cfg)
    c = sub(d.port, "/relay")
    assert post(d.port, "/relay", b"x").status == 401
    r = post(d.port, "/relay", b"from backend",
             headers={"Authorization": "Bearer tok"})
    assert r.status == 200 and json.loads(r.body) == {"subscribers": 1}
    assert read_message(c)[:2] == (OP_TEXT, b"from backend")
    c.close()


def test_unread_body_closes_connection(wsd):
    """A DELETE or GET with a body is answered, then the connection closes:
    the body is never taken for the next request."""
    d = wsd(chan_config())
    for method, headers in (("DELETE", {}),
                            ("GET", {"Accept": "application/json"})):
        with Conn(d.port) as c:
            c.send(helpers.request(method, "/live/b", headers=dict(
                headers, **{"Content-Length": "3"}), body=b"abc"))
            r = read_response(c)
            assert r.status in (200, 204), r
            assert r.header("Connection") == "close"
            assert c.read_to_eof(timeout=5) == b""
