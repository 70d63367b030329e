"""test_accesslog.py -- access_log to a file: text and JSON lines, SIGUSR1
reopens the file after logrotate renamed it, and writes never block: a
full disk (/dev/full) or a FIFO nobody reads only drops lines, counted in
wsd_log_lines_dropped_total and noted in the main log."""

import fcntl
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

import helpers
from helpers import OP_TEXT, Conn, frame, read_message, read_response

F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)


def log_config(static_root, path, fmt=None, **server):
    srv = {"access_log": str(path)}
    if fmt is not None:
        srv["log_format"] = fmt
    srv.update(server)
    return helpers.make_config(static_root, server=srv, routes=[
        ("/", {"app": "static", "root": str(static_root)}),
        ("/echo", {"app": "echo"}),
        ("/metrics", {"app": "metrics"}),
    ])


def wait_lines(path, n, timeout=5.0):
    """The file's lines once it has at least n of them."""
    deadline = time.monotonic() + timeout
    while True:
        lines = path.read_text().splitlines() if path.exists() else []
        if len(lines) >= n or time.monotonic() > deadline:
            assert len(lines) >= n, "want %d lines in %s, got %r" % (
                n, path, lines)
            return lines
        time.sleep(0.02)


def echo_session(port):
    c = helpers.ws_connect(port, "/echo")
    try:
        c.send(frame(OP_TEXT, b"hi"))
        assert read_message(c)[:2] == (OP_TEXT, b"hi")
        c.send(helpers.close_frame(1000))
        helpers.expect_close(c, 1000)
    finally:
        c.close()


def dropped(port):
    body = helpers.http_get(port, "/metrics").body.decode()
    m = re.search(r"(?m)^wsd_log_lines_dropped_total (\d+)$", body)
    assert m, body
    return int(m.group(1))


def test_access_log_text_file(wsd, static_root, tmp_path):
    path = tmp_path / "access.log"
    d = wsd(log_config(static_root, path))
    assert helpers.http_get(d.port, "/index.html?token=secret").status == 200
    assert helpers.http_get(d.port, "/nope").status == 404
    echo_session(d.port)
    lines = wait_lines(path, 3)
    stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z "
    assert re.match(stamp + r'127\.0\.0\.1:\d+ "GET /index\.html\?token=\*\*\*'
                    r' HTTP/1\.1" 200 \d+ \d+\.\d{3}s$', lines[0]), lines[0]
    assert re.match(stamp + r'127\.0\.0\.1:\d+ "GET /nope HTTP/1\.1" 404 ',
                    lines[1]), lines[1]
    ws = [l for l in lines if " ws /echo " in l]
    assert ws and re.search(r" close=1000 in=2 out=2$", ws[0]), lines
    # The main log no longer carries access lines.
    assert "access: " not in d.log_text()
    assert "secret" not in path.read_text()


def test_access_log_json_file(wsd, static_root, tmp_path):
    path = tmp_path / "access.json"
    d = wsd(log_config(static_root, path, "json"))
    assert helpers.http_get(d.port, "/index.html").status == 200
    echo_session(d.port)
    # A target with a quote, a backslash and a control character.
    c = Conn(d.port)
    c.send(b'GET /x%22y\\z?a="b" HTTP/1.1\r\nHost: x\r\n\r\n')
    assert read_response(c).status in (400, 404)
    c.close()
    lines = wait_lines(path, 3)
    recs = [json.loads(l) for l in lines]
    http = recs[0]
    assert http["type"] == "http"
    assert http["method"] == "GET" and http["target"] == "/index.html"
    assert http["status"] == 200 and http["http"] == "1.1"
    assert http["bytes"] > 0 and http["duration"] >= 0
    assert re.match(r"\d{4}-\d\d-\d\dT.*Z$", http["time"])
    assert re.match(r"127\.0\.0\.1:\d+$", http["client"])
    ws = [r for r in recs if r["type"] == "ws"][0]
    assert ws["path"] == "/echo" and ws["close"] == 1000
    assert ws["bytes_in"] == 2 and ws["bytes_out"] == 2
    odd = [r for r in recs if r.get("target", "").startswith("/x")]
    assert odd and odd[0]["target"] == '/x%22y\\z?a="b"', recs


def test_access_log_reopen_on_sigusr1(wsd, static_root, tmp_path):
    """logrotate's way: rename the file, SIGUSR1, the next lines go to a
    new file under the old name."""
    path = tmp_path / "access.log"
    rotated = tmp_path / "access.log.1"
    d = wsd(log_config(static_root, path))
    assert helpers.http_get(d.port, "/index.html?n=1").status == 200
    wait_lines(path, 1)
    os.rename(path, rotated)
    # Until the signal, lines follow the renamed file.
    assert helpers.http_get(d.port, "/index.html?n=2").status == 200
    assert len(wait_lines(rotated, 2)) == 2
    mark = d.log_mark()
    d.kill(signal.SIGUSR1)
    d.wait_log(r"SIGUSR1: log files reopened", start=mark)
    assert helpers.http_get(d.port, "/index.html?n=3").status == 200
    lines = wait_lines(path, 1)
    assert len(lines) == 1 and "?n=3 " in lines[0], lines
    assert "?n=3" not in rotated.read_text()
    assert oct(path.stat().st_mode & 0o777) == oct(0o640)


def test_logrotate_snippet(wsd, static_root, srcdir, tmp_path):
    """The installed snippet, run by logrotate itself on a copy that points
    at this test's directory and signals this daemon: the old lines stay
    in access.log.1, new ones go to a new access.log."""
    logrotate = shutil.which("logrotate") or "/usr/sbin/logrotate"
    if not os.path.exists(logrotate):
        pytest.skip("logrotate is not installed (tests/lib/deps.sh)")
    logs = tmp_path / "logs"
    logs.mkdir(mode=0o755)
    path = logs / "access.log"
    d = wsd(log_config(static_root, path))
    assert helpers.http_get(d.port, "/index.html?n=1").status == 200
    wait_lines(path, 1)
    snippet = (Path(srcdir) / "etc" / "logrotate.d" / "wsd").read_text()
    assert "/var/log/wsd/*.log {" in snippet
    snippet = snippet.replace("/var/log/wsd/", str(logs) + "/")
    snippet = re.sub(r"(?s)postrotate\n.*?endscript",
                     "postrotate\n\t\tkill -USR1 %d\n\tendscript" % d.pid,
                     snippet)
    conf = tmp_path / "logrotate.conf"
    conf.write_text(snippet)
    os.chmod(conf, 0o644)
    mark = d.log_mark()
    p = subprocess.run([logrotate, "-f", "-s", str(tmp_path / "state"),
                        str(conf)], capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 0, p.stderr
    d.wait_log(r"SIGUSR1: log files reopened", start=mark)
    rotated = logs / "access.log.1"
    assert "?n=1 " in rotated.read_text()
    assert helpers.http_get(d.port, "/index.html?n=2").status == 200
    lines = wait_lines(path, 1)
    assert len(lines) == 1 and "?n=2 " in lines[0], lines
    assert "?n=2" not in rotated.read_text()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to become nobody")
def test_access_log_given_to_user(wsd, static_root):
    """Started as root with user = nobody: the file wsd creates is given to
    nobody (the static root is not readable by nobody: 404s are logged
    too), so that after a rotation (logrotate's create copies the old
    file's owner) the unprivileged daemon can open the new file."""
    logs = Path(tempfile.mkdtemp(prefix="wsd-accesslog-"))
    try:
        os.chmod(logs, 0o755)
        path = logs / "access.log"
        d = wsd(log_config(static_root, path, user="nobody",
                           group="nogroup"))
        d.wait_log(r"running as user nobody")
        assert helpers.http_get(d.port, "/nope?n=1").status == 404
        wait_lines(path, 1)
        st = path.stat()
        assert (st.st_uid, st.st_gid) == (65534, 65534), st
        os.rename(path, logs / "access.log.1")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
        os.fchown(fd, st.st_uid, st.st_gid)
        os.close(fd)
        mark = d.log_mark()
        d.kill(signal.SIGUSR1)
        d.wait_log(r"SIGUSR1: log files reopened", start=mark)
        assert helpers.http_get(d.port, "/nope?n=2").status == 404
        lines = wait_lines(path, 1)
        assert "?n=2 " in lines[0], lines
    finally:
        shutil.rmtree(logs, ignore_errors=True)


def test_access_log_full_disk(wsd, static_root):
    """/dev/full: every write fails with ENOSPC; the lines are dropped and
    counted, the main log says so once, and serving goes on."""
    d = wsd(log_config(static_root, "/dev/full"))
    for i in range(20):
        assert helpers.http_get(d.port, "/index.html").status == 200
    n = dropped(d.port)
    assert n >= 20, n
    d.wait_log(r"access log /dev/full: \d+ lines dropped \(No space left "
               r"on device\)")
    # At most one note a minute.
    assert len(re.findall(r"lines dropped", d.log_text())) == 1
    echo_session(d.port)
    assert dropped(d.port) > n


def test_access_log_fifo_nobody_reads(wsd, static_root, tmp_path):
    """A FIFO whose reader never reads: the pipe fills, then the bounded
    queue; later lines are dropped while every request is still answered
    at once."""
    fifo = tmp_path / "access.fifo"
    os.mkfifo(fifo)
    # Opened for reading (so that the daemon's open succeeds), never read.
    rfd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        try:
            fcntl.fcntl(rfd, F_SETPIPE_SZ, 4096)
        except OSError:
            pass
        d = wsd(log_config(static_root, fifo))
        # Lines of about 4 KiB: a few hundred of them pass the 256 KiB
        # queue; each response still comes at once.
        target = "/nope?" + "x" * 3800
        c = Conn(d.port)
        try:
            for i in range(120):
                c.send(("GET %s HTTP/1.1\r\nHost: x\r\n\r\n"
                        % target).encode())
                t0 = time.monotonic()
                assert read_response(c).status == 404
                assert time.monotonic() - t0 < 5
        finally:
            c.close()
        assert dropped(d.port) > 0
        d.wait_log(r"access log .*access\.fifo: \d+ lines dropped")
        echo_session(d.port)
        assert d.alive()
    finally:
        os.close(rfd)


def test_access_log_config_errors(tmp_path):
    bad = tmp_path / "wsd.ini"
    bad.write_text("[server]\naccess_log = %s/missing/a.log\n"
                   "log_format = yaml\n" % tmp_path)
    rc, out = helpers.run_wsd(["-t", "-c", str(bad)])
    assert rc == 1
    assert '%s:2: access_log "%s/missing/a.log": %s/missing: No such file' % (
        bad, tmp_path, tmp_path) in out
    assert '%s:3: log_format: invalid format (text|json) "yaml"' % bad in out


def test_access_log_follows_reload(wsd, static_root, tmp_path):
    """SIGHUP applies access_log and log_format: a new file is opened, the
    old one gets no more lines; back to on, lines go to the main log."""
    first, second = tmp_path / "a.log", tmp_path / "b.log"
    conf = tmp_path / "reload.ini"
    conf.write_text(log_config(static_root, first))
    d = wsd(config_file=conf, config_text=conf.read_text())
    assert helpers.http_get(d.port, "/index.html?n=1").status == 200
    wait_lines(first, 1)
    for text, path in ((log_config(static_root, second, "json"), second),
                       (log_config(static_root, "on"), None)):
        helpers.write_config(conf, text)
        mark = d.log_mark()
        d.kill(signal.SIGHUP)
        d.wait_log(r"SIGHUP: configuration reloaded", start=mark)
        assert helpers.http_get(d.port, "/index.html?n=2").status == 200
        if path is not None:
            assert json.loads(wait_lines(path, 1)[0])["target"] == \
                "/index.html?n=2"
        else:
            d.wait_log(r'access: 127\.0\.0\.1:\d+ "GET /index\.html\?n=2 ',
                       start=mark)
    assert len(first.read_text().splitlines()) == 1
    assert len(second.read_text().splitlines()) == 1
