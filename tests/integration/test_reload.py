"""test_reload.py -- SIGHUP reloads the whole config (routes, app settings,
listeners) keeping open connections and app state; SIGTERM drains for
shutdown_delay, then closes every WebSocket with 1001 and exits 0."""

import os
import re
import signal
import socket
import threading
import time

import helpers
from helpers import (OP_TEXT, Conn, close_frame, expect_close, frame,
                     read_message)

LISTEN_RX = r"listening on 127\.0\.0\.1:(\d+)"


def conf(routes, server=None):
    return helpers.make_config(routes=routes, server=server)


def config_path(d):
    """The file the daemon was started with (-c FILE)."""
    return d.argv[d.argv.index("-c") + 1]


def reload(d, text, ok=True):
    """Writes the config file anew and sends SIGHUP; waits for the outcome
    and returns what was logged from the signal on."""
    helpers.write_config(config_path(d), text)
    mark = d.log_mark()
    d.kill(signal.SIGHUP)
    if ok:
        d.wait_log(r"SIGHUP: configuration reloaded", start=mark)
    else:
        d.wait_log(r"error: SIGHUP: reload failed", start=mark)
    assert d.alive(), d.log_tail()
    return d.log_text()[mark:]


def text(c, timeout=None):
    op, payload, _ = read_message(c, timeout)
    assert op == OP_TEXT, (op, payload)
    return payload.decode()


def echo(c, msg):
    c.send(frame(OP_TEXT, msg))
    assert text(c) == msg


def upgrade_status(port, path):
    """Status of an upgrade request to path (101 when it is accepted)."""
    key = helpers.ws_key()
    with Conn(port) as c:
        c.send(helpers.upgrade_request(path, key))
        return helpers.read_response(c, head_request=True).status


def refused(port):
    s = socket.socket()
    s.settimeout(2)
    try:
        s.connect((helpers.HOST, port))
        return False
    except ConnectionRefusedError:
        return True
    finally:
        s.close()


# ------------------------------------------------------------------ routes

def test_reload_changes_routes_for_new_connections(wsd):
    before = [("/echo", {"app": "echo"}), ("/old", {"app": "hello"})]
    after = [("/echo", {"app": "echo", "max_message_size": "100"}),
             ("/new", {"app": "echo"})]
    d = wsd(conf(before))
    old_ws = helpers.ws_connect(d.port, "/echo")
    echo(old_ws, "x" * 200)
    assert upgrade_status(d.port, "/new") == 404

    log = reload(d, conf(after))
    assert "reload failed" not in log, log
    # New requests are routed by the new config.
    assert upgrade_status(d.port, "/new") == 101
    assert upgrade_status(d.port, "/old") == 404
    with helpers.ws_connect(d.port, "/new") as c:
        echo(c, "on a route the reload added")
    # The changed route key applies to a new connection...
    with helpers.ws_connect(d.port, "/echo") as c:
        c.send(frame(OP_TEXT, "x" * 200))
        expect_close(c, 1009)
    # ... while the open one keeps working with the settings it started
    # with.
    echo(old_ws, "y" * 200)
    old_ws.send(close_frame(1000))
    expect_close(old_ws, 1000)
    old_ws.close()


def test_keepalive_connection_uses_new_config_after_reload(wsd):
    """An idle keep-alive HTTP connection routes its next request by the
    config that is current then."""
    d = wsd(conf([("/echo", {"app": "echo"})],
                 server={"idle_timeout": "10s"}))
    with Conn(d.port) as c:
        c.send(helpers.request("GET", "/new"))
        assert helpers.read_response(c).status == 404
        reload(d, conf([("/echo", {"app": "echo"}),
                        ("/new", {"app": "hello"})],
                       server={"idle_timeout": "10s"}))
        c.send(helpers.request("GET", "/new"))
        # An app route answers a plain GET with 426.
        assert helpers.read_response(c).status == 426


def test_broken_config_keeps_the_running_one(wsd):
    good = conf([("/echo", {"app": "echo"})])
    d = wsd(good)
    ws = helpers.ws_connect(d.port, "/echo")
    broken = good.replace("[route /echo]", "[route /echo]\nmax_mesage_size = 1k"
                          ).replace("[server]", "[server]\nlog_level = loud")
    log = reload(d, broken, ok=False)
    path = re.escape(config_path(d))
    # Every error, each with FILE:LINE.
    assert re.search(r"error: %s:2: .*log_level" % path, log), log
    assert re.search(r"error: %s:\d+: .*max_mesage_size" % path, log), log
    assert "configuration reloaded" not in log
    # The old config still serves, old and new connections alike.
    echo(ws, "still here")
    with helpers.ws_connect(d.port, "/echo") as c:
        echo(c, "new connection, old config")
    # A missing file fails the same way.
    mark = d.log_mark()
    os.rename(config_path(d), config_path(d) + ".moved")
    d.kill(signal.SIGHUP)
    # Another worker's access line may come between the two.
    d.wait_log(r"error: .*No such file.*\n(?:.*\n)*?.*reload failed",
               start=mark)
    os.rename(config_path(d) + ".moved", config_path(d))
    # Fixed: the next SIGHUP takes it.
    reload(d, good.replace("[route /echo]", "[route /hello]\napp = hello\n\n"
                           "[route /echo]"))
    assert upgrade_status(d.port, "/hello") == 101
    echo(ws, "after the good reload")
    ws.close()


def test_removed_route_lives_until_its_last_connection(wsd):
    d = wsd(conf([("/echo", {"app": "echo"}),
                  ("/counter", {"app": "counter"})]))
    c = helpers.ws_connect(d.port, "/counter")
    assert text(c) == '{"type":"users","count":1}'
    assert text(c) == '{"type":"value","value":0}'
    reload(d, conf([("/echo", {"app": "echo"})]))
    assert upgrade_status(d.port, "/counter") == 404
    # The client of the removed route is still served by its runtime.
    c.send(frame(OP_TEXT, '{"action":"plus"}'))
    assert text(c) == '{"type":"value","value":1}'
    c.send(close_frame(1000))
    expect_close(c, 1000)
    c.close()


def test_log_level_applies_at_once(wsd):
    routes = [("/echo", {"app": "echo"})]
    d = wsd(conf(routes))
    helpers.http_get(d.port, "/echo")
    assert ": connected" not in d.log_text()
    reload(d, conf(routes, server={"log_level": "debug"}))
    mark = d.log_mark()
    helpers.http_get(d.port, "/echo")
    d.wait_log(r"debug: 127\.0\.0\.1:\d+: connected", start=mark)


def test_start_up_only_keys_need_a_restart(wsd):
    routes = [("/echo", {"app": "echo"})]
    d = wsd(conf(routes))
    log = reload(d, conf(routes + [("/hello", {"app": "hello"})], server={
        "log": "syslog"}))
    assert "SIGHUP: log: a change needs a restart" in log, log
    # The rest of the new config applies.
    assert upgrade_status(d.port, "/hello") == 101


def test_per_ip_limits_follow_reload(wsd):
    """max_connections_per_ip set by a reload counts the connections
    opened from then on; a later reload lifts it again."""
    routes = [("/echo", {"app": "echo"})]
    d = wsd(conf(routes))
    reload(d, conf(routes, server={"max_connections_per_ip": "1"}))
    with helpers.ws_connect(d.port, "/echo"):
        assert upgrade_status(d.port, "/echo") == 503
        log = reload(d, conf(routes, server={"max_connections_per_ip": "0"}))
        assert "needs a restart" not in log, log
        assert upgrade_status(d.port, "/echo") == 101


# --------------------------------------------------------------- app state

def test_counter_state_survives_reload(wsd):
    routes = [("/counter", {"app": "counter"})]
    d = wsd(conf(routes))
    c1 = helpers.ws_connect(d.port, "/counter")
    assert text(c1) == '{"type":"users","count":1}'
    assert text(c1) == '{"type":"value","value":0}'
    for i in range(3):
        c1.send(frame(OP_TEXT, '{"action":"plus"}'))
        assert text(c1) == '{"type":"value","value":%d}' % (i + 1)
    # A changed key on the same route and app: the runtime carries on.
    reload(d, conf([("/counter", {"app": "counter",
                                  "slow_client": "conflate"}),
                    ("/echo", {"app": "echo"})]))
    c2 = helpers.ws_connect(d.port, "/counter")
    # Users and value: the old client is still a member, the value kept.
    assert text(c1) == '{"type":"users","count":2}'
    assert text(c2) == '{"type":"users","count":2}'
    assert text(c2) == '{"type":"value","value":3}'
    c2.send(frame(OP_TEXT, '{"action":"plus"}'))
    assert text(c1) == '{"type":"value","value":4}'
    assert text(c2) == '{"type":"value","value":4}'
    # Another app on the path: a fresh runtime, the old one lives on for c1.
    reload(d, conf([("/counter", {"app": "echo"})]))
    with helpers.ws_connect(d.port, "/counter") as c3:
        echo(c3, "an echo now")
    c1.send(frame(OP_TEXT, '{"action":"minus"}'))
    assert text(c1) == '{"type":"value","value":3}'
    assert text(c2) == '{"type":"value","value":3}'
    for c in (c1, c2):
        c.close()


def test_broadcast_timer_takes_new_interval(wsd):
    slow = {"app": "broadcast", "interval_min": "1s", "interval_max": "1s"}
    fast = {"app": "broadcast", "interval_min": "50ms",
            "interval_max": "50ms"}
    d = wsd(conf([("/broadcast", slow)]))
    c = helpers.ws_connect(d.port, "/broadcast")
    reload(d, conf([("/broadcast", fast)]))
    # The same client, on the same hub, now gets the new rhythm: far more
    # than the one or two messages a second the old interval allows.
    n = 0
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        text(c, timeout=3)
        n += 1
    assert n >= 8, n
    c.close()


# --------------------------------------------------------------- listeners

def test_listener_added_and_removed(wsd):
    routes = [("/echo", {"app": "echo"})]
    one = conf(routes)
    two = one.replace("listen = 127.0.0.1:0",
                      "listen = 127.0.0.1:0\nlisten = 127.0.0.1:0")
    d = wsd(one)
    ws = helpers.ws_connect(d.port, "/echo")
    log = reload(d, two)
    ports = [int(p) for p in re.findall(LISTEN_RX, log)]
    assert len(ports) == 1 and ports[0] != d.port, log
    new = ports[0]
    with helpers.ws_connect(new, "/echo") as c:
        echo(c, "on the new listener")
    # The first listener kept its socket (no new "listening" line for it).
    with helpers.ws_connect(d.port, "/echo") as c:
        echo(c, "on the old listener")
    log = reload(d, one)
    assert "no longer listening on 127.0.0.1:%d" % new in log, log
    assert refused(new)
    echo(ws, "open connection unaffected")
    ws.close()


def test_unbindable_listener_fails_the_whole_reload(wsd):
    blocker = socket.socket()
    blocker.bind((helpers.HOST, 0))
    blocker.listen(1)
    taken = blocker.getsockname()[1]
    try:
        d = wsd(conf([("/echo", {"app": "echo"})]))
        bad = conf([("/echo", {"app": "echo"}), ("/new", {"app": "echo"})],
                   server={"listen": "127.0.0.1:0\nlisten = 127.0.0.1:%d"
                           % taken})
        log = reload(d, bad, ok=False)
        path = re.escape(config_path(d))
        assert re.search(r"error: %s:3: listen 127\.0\.0\.1:%d" % (path, taken),
                         log), log
        # Nothing of the new config applies: no /new route.
        assert upgrade_status(d.port, "/new") == 404
        assert upgrade_status(d.port, "/echo") == 101
    finally:
        blocker.close()


def test_no_refused_connections_during_reloads(wsd):
    routes = [("/echo", {"app": "echo"}), ("/hello", {"app": "hello"})]
    d = wsd(conf(routes))
    stop = threading.Event()
    results = {"ok": 0, "errors": []}

    def hammer():
        while not stop.is_set():
            try:
                r = helpers.http_get(d.port, "/echo")
                if r.status == 426:
                    results["ok"] += 1
                else:
                    results["errors"].append(r.status)
            except OSError as e:
                results["errors"].append(repr(e))

    t = threading.Thread(target=hammer)
    t.start()
    try:
        for i in range(10):
            text_ = conf(routes + [("/r%d" % i, {"app": "echo"})])
            reload(d, text_)
    finally:
        stop.set()
        t.join(10)
    assert results["errors"] == [], results["errors"][:5]
    assert results["ok"] > 0


# ----------------------------------------------------------- graceful stop

def test_shutdown_delay_then_1001(wsd):
    d = wsd(conf([("/echo", {"app": "echo"})],
                 server={"shutdown_delay": "1s", "close_timeout": "2s"}))
    ws = helpers.ws_connect(d.port, "/echo")
    mark = d.log_mark()
    d.kill(signal.SIGTERM)
    d.wait_log(r"SIGTERM: draining, stopping in 1s", start=mark)
    # During the delay: still accepting and serving, old and new.
    echo(ws, "during the delay")
    with helpers.ws_connect(d.port, "/echo") as late:
        echo(late, "accepted while draining")
        late.send(close_frame(1000))
        expect_close(late, 1000)
    # Then every WebSocket gets 1001 and the daemon exits 0.
    expect_close(ws, 1001, timeout=5)
    ws.send(close_frame(1001))
    d.proc.wait(10)
    assert d.proc.returncode == 0, d.log_tail()
    log = d.log_text()[mark:]
    assert "shutdown delay over: stopping" in log, log


def test_second_sigterm_skips_the_delay(wsd):
    d = wsd(conf([("/echo", {"app": "echo"})],
                 server={"shutdown_delay": "60s"}))
    ws = helpers.ws_connect(d.port, "/echo")
    mark = d.log_mark()
    d.kill(signal.SIGTERM)
    d.wait_log(r"draining, stopping in 60s", start=mark)
    echo(ws, "still served")
    d.kill(signal.SIGINT)
    d.wait_log(r"SIGINT again: skipping the rest of the shutdown delay",
               start=mark)
    expect_close(ws, 1001, timeout=5)
    ws.send(close_frame(1001))
    d.proc.wait(10)
    assert d.proc.returncode == 0, d.log_tail()
    assert refused(d.port)


def test_sighup_ignored_while_draining(wsd):
    d = wsd(conf([("/echo", {"app": "echo"})],
                 server={"shutdown_delay": "60s"}))
    mark = d.log_mark()
    d.kill(signal.SIGTERM)
    d.wait_log(r"draining", start=mark)
    d.kill(signal.SIGHUP)
    d.wait_log(r"SIGHUP: ignored, stopping", start=mark)
    assert upgrade_status(d.port, "/echo") == 101
