"""test_exec.py -- app = exec: a program per WebSocket, its stdin and stdout
the messages, its stderr the log; environment, limits, lifetimes,
backpressure both ways, config errors, reload and stop."""

import asyncio
import os
import re
import signal
import ssl
import threading
import time

import pytest
import websockets

import helpers
from helpers import (OP_BINARY, OP_TEXT, Conn, close_frame, expect_close,
                     frame, read_message)


def conf(routes, server=None):
    return helpers.make_config(routes=routes, server=server)


def route(path, command, **keys):
    k = {"app": "exec", "command": command}
    k.update(keys)
    return (path, k)


def script(tmp_path, name, body, shell="/bin/sh"):
    """An executable script in tmp_path; returns its path."""
    p = tmp_path / name
    p.write_text("#!%s\n%s" % (shell, body))
    p.chmod(0o755)
    return str(p)


def text(c, timeout=None):
    op, payload, _ = read_message(c, timeout)
    assert op == OP_TEXT, (op, payload)
    return payload.decode()


def send_text(c, msg):
    c.send(frame(OP_TEXT, msg))


def upgrade_status(port, path):
    key = helpers.ws_key()
    with Conn(port) as c:
        c.send(helpers.upgrade_request(path, key))
        return helpers.read_response(c, head_request=True).status


def pid_gone(pid, timeout):
    """True once /proc/PID is gone (exited and reaped: no zombie)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not os.path.exists("/proc/%d" % pid):
            return True
        time.sleep(0.02)
    return not os.path.exists("/proc/%d" % pid)


def children(pid):
    """The pids whose parent is pid."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
        except OSError:
            continue
        if int(st.rsplit(")", 1)[1].split()[1]) == pid:
            out.append(int(d))
    return out


def metrics(port):
    r = helpers.http_get(port, "/metrics")
    assert r.status == 200, r
    return r.body.decode()


# A program that says its pid, then ignores SIGTERM and stdin's end.
STUBBORN = "trap '' TERM\necho $$\nwhile :; do sleep 0.1; done\n"


# --------------------------------------------------------------- basics

def test_cat_echoes_lines(wsd):
    d = wsd(conf([route("/cat", "/bin/cat")]))
    with helpers.ws_connect(d.port, "/cat") as c:
        for msg in ("hello", "", "zoë 🐢 \t tab", "x" * 70000):
            send_text(c, msg)
            assert text(c) == msg
        c.send(close_frame(1000))
        expect_close(c, 1000)
    d.wait_log(r"info: exec /cat pid \d+: exited with status 0")


def test_binary_mode_passes_bytes(wsd):
    d = wsd(conf([route("/bin", "/bin/cat", mode="binary")]))
    with helpers.ws_connect(d.port, "/bin") as c:
        data = bytes(range(256)) + b"\n\x00\n"
        c.send(frame(OP_BINARY, data))
        got = b""
        while len(got) < len(data):
            op, payload, _ = read_message(c)
            assert op == OP_BINARY
            got += payload
        assert got == data


def test_python_without_flush_works(wsd, tmp_path):
    # print() without flush: block-buffered on a pipe, were it not for
    # PYTHONUNBUFFERED=1 in the environment wsd gives the program.
    prog = script(tmp_path, "py.py", "import sys\n"
                  "for line in sys.stdin:\n"
                  "    print('got ' + line.strip().upper())\n",
                  shell="/usr/bin/python3")
    d = wsd(conf([route("/py", prog)]))
    with helpers.ws_connect(d.port, "/py") as c:
        send_text(c, "one")
        assert text(c) == "got ONE"
        send_text(c, "two")
        assert text(c) == "got TWO"


def test_argv_split_like_a_shell(wsd, tmp_path):
    prog = script(tmp_path, "args.sh", 'for a in "$@"; do echo "[$a]"; done\n')
    d = wsd(conf([route("/a", prog + " 'a b' \"c\\\"d\" e\\ f '' $HOME")]))
    with helpers.ws_connect(d.port, "/a") as c:
        got = [text(c) for _ in range(5)]
        expect_close(c, 1000)
    assert got == ["[a b]", '[c"d]', "[e f]", "[]", "[$HOME]"]


def test_dir_sets_working_directory(wsd, tmp_path):
    work = tmp_path / "work dir"
    work.mkdir()
    d = wsd(conf([route("/pwd", "/bin/pwd", dir=str(work))]))
    with helpers.ws_connect(d.port, "/pwd") as c:
        assert text(c) == str(work)
        expect_close(c, 1000)


def test_environment_is_cgi_like_and_nothing_leaks(wsd, monkeypatch):
    # wsd's own environment must not reach the program.
    monkeypatch.setenv("WSD_TEST_STRAY", "leaked")
    d = wsd(conf([route("/env", "/usr/bin/env",
                        env="GREETING='hello world' PATH=/bin")]))
    with Conn(d.port) as c:
        key = helpers.ws_key()
        c.send(helpers.upgrade_request(
            "/env?a=1&b=x%20y", key, extra={
                "Cookie": "session=abc; theme=dark",
                "Authorization": "Bearer t0ken",
                "Origin": "http://example.test",
                "Proxy": "http://attacker.test:3128",
                "X-Many": "one"}).replace(
            b"\r\n\r\n", b"\r\nX-Many: two\r\n\r\n"))
        r = helpers.read_response(c, head_request=True)
        assert r.status == 101, r
        env = {}
        while True:
            f = helpers.read_frame(c)
            if f.opcode == helpers.OP_CLOSE:
                assert f.close_code == 1000
                break
            k, _, v = f.payload.decode().partition("=")
            env[k] = v
        local = c.sock.getsockname()
    assert env["REMOTE_ADDR"] == "127.0.0.1"
    assert env["REMOTE_PORT"] == str(local[1])
    assert env["SERVER_NAME"] == "localhost"
    assert env["SERVER_PORT"] == str(d.port)
    assert env["PATH_INFO"] == "/env"
    assert env["QUERY_STRING"] == "a=1&b=x%20y"
    assert env["WSD_ROUTE"] == "/env"
    assert env["PYTHONUNBUFFERED"] == "1"
    assert env["HTTP_COOKIE"] == "session=abc; theme=dark"
    assert env["HTTP_AUTHORIZATION"] == "Bearer t0ken"
    assert env["HTTP_ORIGIN"] == "http://example.test"
    assert env["HTTP_X_MANY"] == "one, two"
    # The route's env = comes first and wins over the built-in PATH.
    assert env["GREETING"] == "hello world"
    assert env["PATH"] == "/bin"
    assert "HTTPS" not in env
    assert "HTTP_PROXY" not in env      # httpoxy
    allowed = {"PATH", "REMOTE_ADDR", "REMOTE_PORT", "SERVER_NAME",
               "SERVER_PORT", "PATH_INFO", "QUERY_STRING", "WSD_ROUTE",
               "PYTHONUNBUFFERED", "GREETING"}
    stray = [k for k in env if k not in allowed and not k.startswith("HTTP_")]
    assert stray == [], stray
    assert "leaked" not in env.values()


def test_https_on_over_tls(wsd, tmp_path):
    cert, key = helpers.selfsigned_cert(tmp_path)
    d = wsd(helpers.make_config(
        server={"listen": "127.0.0.1:0 tls"},
        routes=[route("/env", "/usr/bin/env")]) +
        "\n[tls]\ncertificate = %s\nprivate_key = %s\n" % (cert, key))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE

    async def go():
        lines = []
        async with websockets.connect("wss://127.0.0.1:%d/env" % d.port,
                                      ssl=ctx) as ws:
            try:
                while True:
                    lines.append(await asyncio.wait_for(ws.recv(), 5))
            except websockets.ConnectionClosed:
                pass
            return lines, ws.close_code

    lines, code = asyncio.run(asyncio.wait_for(go(), 20))
    assert code == 1000
    assert "HTTPS=on" in lines


# --------------------------------------------------------------- endings

def test_exit_status_close_codes(wsd, tmp_path):
    ok = script(tmp_path, "ok.sh", 'read x; echo "got $x"; echo last\n'
                'exit 0\n')
    bad = script(tmp_path, "bad.sh", 'read x; echo "got $x"; exit 3\n')
    sig = script(tmp_path, "sig.sh", 'echo bye; kill -9 $$\n')
    d = wsd(conf([route("/ok", ok), route("/bad", bad), route("/sig", sig),
                  ("/metrics", {"app": "metrics"})]))
    with helpers.ws_connect(d.port, "/ok") as c:
        send_text(c, "a")
        # The output the program wrote before exiting comes first.
        assert text(c) == "got a"
        assert text(c) == "last"
        expect_close(c, 1000)
    with helpers.ws_connect(d.port, "/bad") as c:
        send_text(c, "b")
        assert text(c) == "got b"
        f = expect_close(c, 1011)
        assert b"status 3" in f.payload
    d.wait_log(r"warn: exec /bad pid \d+: exited with status 3")
    with helpers.ws_connect(d.port, "/sig") as c:
        assert text(c) == "bye"
        expect_close(c, 1011)
    d.wait_log(r"warn: exec /sig pid \d+: killed by signal 9")
    m = metrics(d.port)
    assert 'wsd_exec_exits_total{route="/ok",status="0"} 1' in m
    assert 'wsd_exec_exits_total{route="/bad",status="3"} 1' in m
    assert 'wsd_exec_exits_total{route="/sig",status="signal"} 1' in m
    assert 'wsd_exec_started_total{route="/ok"} 1' in m
    assert 'wsd_exec_processes{route="/ok"} 0' in m


def test_client_close_ends_the_program(wsd, tmp_path):
    stubborn = script(tmp_path, "stubborn.sh", STUBBORN)
    d = wsd(conf([route("/cat", "/bin/cat", kill_timeout="10s"),
                  route("/stubborn", stubborn, kill_timeout="1s")]))
    # cat ends at stdin's EOF, at once, long before its kill_timeout.
    c = helpers.ws_connect(d.port, "/cat")
    send_text(c, "x")
    assert text(c) == "x"
    kids = children(d.pid)
    assert len(kids) == 1, kids
    c.send(close_frame(1000))
    expect_close(c, 1000)
    c.close()
    assert pid_gone(kids[0], 3.0)
    # One that ignores SIGTERM and stdin: SIGKILL, within kill_timeout + 1s.
    c = helpers.ws_connect(d.port, "/stubborn")
    pid = int(text(c))
    assert os.path.exists("/proc/%d" % pid)
    t0 = time.monotonic()
    c.close()       # no close frame: the connection just ends
    assert pid_gone(pid, 2.0), "pid %d still there" % pid
    assert time.monotonic() - t0 > 0.9     # kill_timeout was waited for
    d.wait_log(r"exec /stubborn pid %d: still running 1s after its "
               r"connection ended, SIGTERM" % pid)
    d.wait_log(r"exec /stubborn pid %d: still running after SIGTERM, "
               r"SIGKILL" % pid)
    d.wait_log(r"exec /stubborn pid %d: killed by signal 9" % pid)
    assert children(d.pid) == []


def test_stop_leaves_no_process(wsd, tmp_path):
    stubborn = script(tmp_path, "stubborn.sh", STUBBORN)
    d = wsd(conf([route("/s", stubborn, kill_timeout="1s"),
                  route("/cat", "/bin/cat", kill_timeout="1s")]))
    c1 = helpers.ws_connect(d.port, "/s")
    pid = int(text(c1))
    c2 = helpers.ws_connect(d.port, "/cat")
    send_text(c2, "x")
    assert text(c2) == "x"
    kids = children(d.pid)
    assert pid in kids and len(kids) == 2, kids
    assert d.stop() == 0
    c1.close()
    c2.close()
    for k in kids:
        assert pid_gone(k, 0.5), "pid %d outlived wsd" % k
    assert "SIGKILL" in d.log_text()


def test_cannot_start_is_1011_and_logged(wsd, tmp_path):
    prog = tmp_path / "gone.sh"
    prog.write_text("#!/bin/sh\necho hi\n")
    prog.chmod(0o755)
    d = wsd(conf([route("/gone", str(prog)),
                  ("/metrics", {"app": "metrics"})]))
    prog.unlink()       # checked at load; gone by the first connection
    with helpers.ws_connect(d.port, "/gone") as c:
        expect_close(c, 1011)
    d.wait_log(r"exec /gone: cannot start %s: No such file" % re.escape(
        str(prog)))
    assert 'wsd_exec_start_failures_total{route="/gone"} 1' in \
        metrics(d.port)
    assert d.alive()


def test_lines_mode_refuses_newlines_and_binary(wsd):
    d = wsd(conf([route("/cat", "/bin/cat")]))
    with helpers.ws_connect(d.port, "/cat") as c:
        send_text(c, "two\nlines")
        expect_close(c, 1003)
    with helpers.ws_connect(d.port, "/cat") as c:
        c.send(frame(OP_BINARY, b"abc"))
        expect_close(c, 1003)


def test_spawns_while_connections_close(wsd):
    """Programs start while other WebSockets close. A program being
    started holds a copy of every descriptor of wsd until its exec, and
    epoll forgets a socket only when no descriptor refers to it: a
    closed connection must leave the loop's epoll set itself, or its
    late readiness reaches freed memory (seen as a use after free under
    ThreadSanitizer, and as a generation released while still in use)."""
    d = wsd(conf([route("/cat", "/bin/cat")], server={"workers": "2"}))
    errors = []

    def spawner():
        try:
            for i in range(60):
                with helpers.ws_connect(d.port, "/cat") as c:
                    send_text(c, "x%d" % i)
                    assert text(c) == "x%d" % i
        except Exception as e:          # reported below
            errors.append("spawner: %r" % e)

    def closer():
        try:
            for i in range(60):
                with helpers.ws_connect(d.port, "/cat") as c:
                    # The server closes (1003); the client's answer and
                    # FIN come after wsd closed its socket.
                    send_text(c, "a\nb")
                    expect_close(c, 1003)
        except Exception as e:
            errors.append("closer: %r" % e)

    threads = [threading.Thread(target=f) for f in (spawner, closer)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert d.alive()
    assert "released" not in d.log_text(), d.log_tail()


def test_stderr_goes_to_the_log(wsd, tmp_path):
    prog = script(tmp_path, "err.sh", 'echo "something odd" >&2\n'
                  'echo out\nread x\n')
    d = wsd(conf([route("/err", prog)]))
    with helpers.ws_connect(d.port, "/err") as c:
        assert text(c) == "out"
        d.wait_log(r"warn: exec /err pid \d+: something odd")


def test_output_not_utf8_is_1011(wsd, tmp_path):
    prog = script(tmp_path, "latin.sh", "printf 'caf\\351\\n'\nread x\n")
    d = wsd(conf([route("/l", prog)]))
    with helpers.ws_connect(d.port, "/l") as c:
        expect_close(c, 1011)
    d.wait_log(r"exec /l pid \d+: program output is not UTF-8")


# --------------------------------------------------------------- limits

def test_max_procs_refuses_with_503_before_the_upgrade(wsd):
    d = wsd(conf([route("/cat", "/bin/cat", max_procs="2",
                        kill_timeout="1s"),
                  ("/metrics", {"app": "metrics"})]))
    a = helpers.ws_connect(d.port, "/cat")
    b = helpers.ws_connect(d.port, "/cat")
    assert upgrade_status(d.port, "/cat") == 503
    d.wait_log(r"exec /cat: max_procs \(2\) reached, refusing")
    assert len(children(d.pid)) == 2
    m = metrics(d.port)
    assert 'wsd_exec_processes{route="/cat"} 2' in m
    # A refusal for want of room, not an internal error.
    assert 'wsd_handshake_failures_total{reason="too_many"} 1' in m, m
    assert 'wsd_handshake_failures_total{reason="internal"} 0' in m, m
    # One ends: room for the next.
    a.send(close_frame(1000))
    expect_close(a, 1000)
    a.close()
    deadline = time.monotonic() + 3
    while len(children(d.pid)) > 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    with helpers.ws_connect(d.port, "/cat") as c:
        send_text(c, "in")
        assert text(c) == "in"
    b.close()


def test_program_flooding_a_client_that_does_not_read(wsd):
    d = wsd(conf([
        route("/zero", "/bin/cat /dev/zero", mode="binary",
              max_send_buffer="64k", send_timeout="30s"),
        route("/yes", "/usr/bin/yes " + "y" * 100, max_send_buffer="64k",
              send_timeout="30s"),
        route("/cat", "/bin/cat")]))
    rss = helpers.RssWatch(d.pid)
    slow = [helpers.ws_connect(d.port, p, rcvbuf=4096)
            for p in ("/zero", "/yes")]
    with helpers.ws_connect(d.port, "/cat") as other:
        end = time.monotonic() + 2.0
        i = 0
        while time.monotonic() < end:
            # Another client is served as usual meanwhile.
            send_text(other, "ping %d" % i)
            assert text(other, timeout=2) == "ping %d" % i
            rss.sample()
            i += 1
            time.sleep(0.05)
        # The floods are paused, not dropped: both still run (and cat).
        assert len(children(d.pid)) == 3
    assert rss.sample() < 16 * 1024, "RSS grew by %d KiB" % rss.peak
    for s in slow:
        s.close()


def test_client_flooding_a_program_that_does_not_read(wsd, tmp_path):
    sleeper = script(tmp_path, "sleeper.sh", "echo ready\nsleep 30\n")
    d = wsd(conf([route("/sleep", sleeper, kill_timeout="0.2s"),
                  route("/cat", "/bin/cat")]))
    rss = helpers.RssWatch(d.pid)
    c = helpers.ws_connect(d.port, "/sleep", sndbuf=65536)
    assert text(c) == "ready"
    msg = frame(OP_TEXT, "z" * 60000)
    c.sock.setblocking(False)
    sent = 0
    end = time.monotonic() + 2.0
    with helpers.ws_connect(d.port, "/cat") as other:
        while time.monotonic() < end and sent < 256 << 20:
            try:
                sent += c.sock.send(msg)
            except BlockingIOError:
                time.sleep(0.01)
            rss.sample()
        send_text(other, "still here")
        assert text(other) == "still here"
    # wsd stopped reading: the client could not push much.
    assert sent < 32 << 20, "client pushed %d bytes" % sent
    assert rss.sample() < 16 * 1024, "RSS grew by %d KiB" % rss.peak
    c.close()


# --------------------------------------------------------------- config

def test_config_errors_name_file_and_line(tmp_path):
    notexec = tmp_path / "notexec.sh"
    notexec.write_text("#!/bin/sh\n")
    notexec.chmod(0o644)
    text_ = "\n".join([
        "[server]",                                 # 1
        "listen = 127.0.0.1:0",                     # 2
        "[route /missing]",                         # 3
        "app = exec",                               # 4
        "command = /nonexistent/prog --x",          # 5
        "[route /notexec]",                         # 6
        "app = exec",                               # 7
        "command = %s" % notexec,                   # 8
        "[route /relative]",                        # 9
        "app = exec",                               # 10
        "command = cat",                            # 11
        "[route /quote]",                           # 12
        "app = exec",                               # 13
        "command = /bin/cat 'open",                 # 14
        "[route /nocommand]",                       # 15
        "app = exec",                               # 16
        "mode = lines",                             # 17
        "[route /bad]",                             # 18
        "app = exec",                               # 19
        "command = /bin/cat",                       # 20
        "mode = words",                             # 21
        "env = 1X=y",                               # 22
        "dir = /nonexistent",                       # 23
        "max_procs = 0",                            # 24
        "[route /echo]",                            # 25
        "app = echo",                               # 26
        "command = /bin/cat",                       # 27
        ""])
    path = tmp_path / "bad.ini"
    path.write_text(text_)
    rc, out = helpers.run_wsd(["-t", "-c", str(path)])
    assert rc != 0
    f = str(path)
    for line, rx in [
            (5, r"command: /nonexistent/prog: No such file or directory"),
            (8, r"command: %s: not an executable file" % re.escape(
                str(notexec))),
            (11, r"command: cat: not an absolute path"),
            (14, r"command: unterminated single quote"),
            (15, r'app "exec" needs key "command"'),
            (21, r"mode: invalid mode \(lines\|binary\)"),
            (22, r'env: "1X=y" is not NAME=VALUE'),
            (23, r"dir: /nonexistent: No such file or directory"),
            (24, r"max_procs: \"0\" is out of range"),
            (27, r'key "command" is not used by app "echo"')]:
        assert re.search(r"^%s:%d: %s" % (re.escape(f), line, rx), out,
                         re.M), (line, rx, out)


def test_valid_config_checks_ok(tmp_path):
    path = tmp_path / "ok.ini"
    path.write_text(conf([route("/cat", "/bin/cat -u", mode="binary",
                                env="A=1 B=2", dir="/tmp", max_procs="3",
                                kill_timeout="250ms")]))
    rc, out = helpers.run_wsd(["-t", "-c", str(path)])
    assert rc == 0, out


# --------------------------------------------------------------- reload

def test_reload_keeps_running_sessions_on_old_settings(wsd, tmp_path):
    a = script(tmp_path, "a.sh", 'while read x; do echo "A $x"; done\n')
    b = script(tmp_path, "b.sh", 'while read x; do echo "B $x"; done\n')
    d = wsd(conf([route("/p", a, kill_timeout="1s")]))
    old = helpers.ws_connect(d.port, "/p")
    send_text(old, "1")
    assert text(old) == "A 1"
    cfg = d.argv[d.argv.index("-c") + 1]
    helpers.write_config(cfg, conf([route("/p", b, kill_timeout="1s")]))
    mark = d.log_mark()
    d.kill(signal.SIGHUP)
    d.wait_log(r"SIGHUP: configuration reloaded", start=mark)
    with helpers.ws_connect(d.port, "/p") as new:
        send_text(new, "2")
        assert text(new) == "B 2"
    send_text(old, "3")
    assert text(old) == "A 3"
    old.close()


# --------------------------------------------------------------- user

def test_programs_never_run_as_root(wsd, tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs root to start wsd with user =")
    os.chmod(tmp_path, 0o755)
    d = wsd(conf([route("/id", "/usr/bin/id -u")],
                 server={"user": "nobody"}))
    with helpers.ws_connect(d.port, "/id") as c:
        uid = int(text(c))
        expect_close(c, 1000)
    assert uid != 0
    assert uid == int(os.popen("id -u nobody").read())


# --------------------------------------------------------------- examples

def test_example_count_lines(wsd):
    prog = "/bin/sh '%s'" % (helpers.SRCDIR / "examples" /
                             "count-lines.sh")
    d = wsd(conf([route("/count", prog)]))
    with helpers.ws_connect(d.port, "/count") as c:
        for i, msg in enumerate(["first", "  spaced \\ line", "third"], 1):
            send_text(c, msg)
            assert text(c) == "%d: %s" % (i, msg)


def test_example_chat(wsd, tmp_path):
    prog = "/usr/bin/python3 '%s'" % (helpers.SRCDIR / "examples" /
                                      "chat.py")
    room = tmp_path / "room.log"
    d = wsd(conf([route("/chat", prog, env="CHAT_ROOM=%s" % room)]))

    async def go():
        base = "ws://127.0.0.1:%d/chat?name=" % d.port
        async with websockets.connect(base + "ann") as ann:
            assert await asyncio.wait_for(ann.recv(), 5) == "* ann joined"
            async with websockets.connect(base + "bob") as bob:
                assert await asyncio.wait_for(bob.recv(), 5) == \
                    "* bob joined"
                assert await asyncio.wait_for(ann.recv(), 5) == \
                    "* bob joined"
                await ann.send("hi bob")
                assert await asyncio.wait_for(bob.recv(), 5) == \
                    "ann: hi bob"
                assert await asyncio.wait_for(ann.recv(), 5) == \
                    "ann: hi bob"
            assert await asyncio.wait_for(ann.recv(), 5) == "* bob left"

    asyncio.run(asyncio.wait_for(go(), 20))


@pytest.mark.parametrize("tls", [False, True])
def test_input_paused_then_resumed_loses_nothing(wsd, tmp_path, tls):
    # The program reads nothing for a second: the pipe fills, wsd stops
    # reading the client, then resumes (over TLS, with records OpenSSL
    # already holds) and every message arrives, in order.
    late = script(tmp_path, "late.sh", "sleep 1\nexec /bin/cat\n")
    server = {"listen": "127.0.0.1:0 tls" if tls else "127.0.0.1:0",
              "log_level": "debug"}
    text_ = conf([route("/late", late)], server=server)
    ctx = None
    if tls:
        cert, key = helpers.selfsigned_cert(tmp_path)
        text_ += "\n[tls]\ncertificate = %s\nprivate_key = %s\n" % (cert,
                                                                    key)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    d = wsd(text_)
    msgs = ["%04d %s" % (i, "m" * 3000) for i in range(200)]

    async def go():
        u = "%s://127.0.0.1:%d/late" % ("wss" if tls else "ws", d.port)
        async with websockets.connect(u, ssl=ctx, max_queue=None) as ws:
            async def send():
                for m in msgs:
                    await ws.send(m)
            sender = asyncio.ensure_future(send())
            got = [await asyncio.wait_for(ws.recv(), 10) for _ in msgs]
            await sender
            return got

    assert asyncio.run(asyncio.wait_for(go(), 30)) == msgs
    log = d.log_text()
    assert "reading paused by the app" in log
    assert "reading resumed by the app" in log
