"""test_systemd.py -- systemd's side of the protocols, played by the test.

The notify protocol (READY/RELOADING/STOPPING/STATUS/WATCHDOG datagrams to
$NOTIFY_SOCKET), socket activation ($LISTEN_FDS), the privilege drop,
pid_file, journal priorities and syslog, and the unit files checked by
systemd-analyze when it is installed.
"""

import os
import pathlib
import re
import shutil
import signal
import socket
import ssl
import subprocess
import time

import pytest

import helpers
from helpers import SRCDIR, WSD
# A directory any user can enter, for a copy of wsd another user can run.
from test_static import open_dir  # noqa: F401  (a fixture)

ECHO_ONLY = [("/echo", {"app": "echo"})]


def config(**server):
    return helpers.make_config(routes=ECHO_ONLY, server=server)


class Notify:
    """A NOTIFY_SOCKET: a datagram socket collecting wsd's messages."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.addr = path if path[0] != "\0" else "@" + path[1:]
        self.msgs = []

    def next(self, timeout=5.0):
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(4096)
        except socket.timeout:
            pytest.fail("no notify message within %.1fs; got %r"
                        % (timeout, self.msgs))
        msg = dict(line.split("=", 1)
                   for line in data.decode().split("\n") if line)
        self.msgs.append(msg)
        return msg

    def wait_for(self, key, timeout=5.0):
        """Next message with key, skipping WATCHDOG/STATUS-only ones."""
        deadline = time.monotonic() + timeout
        while True:
            msg = self.next(max(0.01, deadline - time.monotonic()))
            if key in msg:
                return msg
            assert set(msg) <= {"WATCHDOG", "STATUS"}, (key, msg)

    def close(self):
        self.sock.close()


@pytest.fixture
def notify(tmp_path, monkeypatch):
    n = Notify(str(tmp_path / "notify.sock"))
    monkeypatch.setenv("NOTIFY_SOCKET", n.addr)
    yield n
    n.close()


def test_notify_ready_reload_stopping(wsd, notify):
    d = wsd(config())
    ready = notify.wait_for("READY")
    assert ready["READY"] == "1"
    assert re.match(r"\d+ connections$", ready["STATUS"]), ready

    before = time.clock_gettime(time.CLOCK_MONOTONIC) * 1e6
    d.kill(signal.SIGHUP)
    reloading = notify.wait_for("RELOADING")
    after = time.clock_gettime(time.CLOCK_MONOTONIC) * 1e6
    assert reloading["RELOADING"] == "1"
    assert before <= int(reloading["MONOTONIC_USEC"]) <= after, reloading
    assert notify.wait_for("READY")["READY"] == "1"

    assert d.stop() == 0
    stopping = notify.wait_for("STOPPING")
    assert stopping["STOPPING"] == "1"
    keys = [k for m in notify.msgs for k in m if k in
            ("READY", "RELOADING", "STOPPING")]
    assert keys == ["READY", "RELOADING", "READY", "STOPPING"], notify.msgs


def test_notify_stopping_before_shutdown_delay(wsd, notify):
    """STOPPING=1 goes out when the stop begins, while wsd still drains
    (and serves) for shutdown_delay."""
    d = wsd(config(shutdown_delay="30s"))
    notify.wait_for("READY")
    d.kill(signal.SIGTERM)
    assert notify.wait_for("STOPPING")["STOPPING"] == "1"
    assert d.alive()
    with helpers.ws_connect(d.port, "/echo") as c:
        c.send(helpers.frame(helpers.OP_TEXT, "still here"))
        assert helpers.read_message(c)[1] == b"still here"
    assert d.stop() == 0


def test_notify_abstract_socket(wsd, tmp_path, monkeypatch):
    name = "\0wsd-test-%d-%d" % (os.getpid(), time.monotonic_ns())
    n = Notify(name)
    try:
        monkeypatch.setenv("NOTIFY_SOCKET", n.addr)
        wsd(config())
        assert n.wait_for("READY")["READY"] == "1"
    finally:
        n.close()


def test_watchdog_and_status(wsd, notify, monkeypatch):
    monkeypatch.setenv("WATCHDOG_USEC", "200000")
    d = wsd(config())
    notify.wait_for("READY")
    # A tick every 100 ms: a few pings within a second.
    for _ in range(3):
        assert notify.wait_for("WATCHDOG", timeout=1.0)["WATCHDOG"] == "1"
    d.wait_log(r"systemd watchdog: every 0\.100s")
    # The connection count goes out when it changes.
    c = helpers.ws_connect(d.port)
    try:
        deadline = time.monotonic() + 3
        while True:
            msg = notify.next(max(0.01, deadline - time.monotonic()))
            if msg.get("STATUS") == "1 connections":
                break
    finally:
        c.close()


def test_watchdog_for_another_pid(wsd, notify, monkeypatch):
    monkeypatch.setenv("WATCHDOG_USEC", "200000")
    monkeypatch.setenv("WATCHDOG_PID", "1")
    d = wsd(config())
    notify.wait_for("READY")
    time.sleep(0.5)
    notify.sock.setblocking(False)
    got = []
    try:
        while True:
            got.append(notify.sock.recv(4096))
    except BlockingIOError:
        pass
    assert not any(b"WATCHDOG" in m for m in got), got
    assert "systemd watchdog" not in d.log_text()


def test_no_notify_socket_is_quiet(wsd, monkeypatch):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    d = wsd(config())
    helpers.ws_connect(d.port).close()
    assert "sd:" not in d.log_text()


# ------------------------------------------------------ socket activation

class Activated:
    """wsd started with listening sockets passed from fd 3 on, the way
    systemd does it: LISTEN_PID must be wsd's own pid, so bash sets it
    to $$ and execs wsd."""

    def __init__(self, tmp_path, conf_text, socks, env=None, pid=None,
                 notify=None):
        self.conf = tmp_path / "activated.ini"
        self.conf.write_text(conf_text)
        self.logpath = tmp_path / "activated.log"
        self.log = open(self.logpath, "wb")
        fds = [s.fileno() for s in socks]
        e = dict(os.environ)
        e.update(env or {})
        e["LISTEN_FDS"] = str(len(fds))
        e["LISTEN_FDNAMES"] = ":".join("s%d" % i for i in range(len(fds)))
        e["WSD_BIN"] = WSD
        e["WSD_CONF"] = str(self.conf)
        if notify is not None:
            e["NOTIFY_SOCKET"] = notify.addr
        listen_pid = pid or "$$"
        # Move the sockets to 3, 4, ... as systemd does.
        moves = " ".join("%d>&%d" % (3 + i, fd) for i, fd in enumerate(fds))
        script = ('LISTEN_PID=%s; export LISTEN_PID; exec "$WSD_BIN" -c '
                  '"$WSD_CONF" %s' % (listen_pid, moves))
        self.proc = subprocess.Popen(["bash", "-c", script], env=e,
                                     stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     pass_fds=fds)

    def log_text(self):
        return self.logpath.read_text(errors="replace")

    def wait_log(self, rx, timeout=5.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = re.search(rx, self.log_text(), re.M)
            if m:
                return m
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        pytest.fail("no /%s/; log:\n%s" % (rx, self.log_text()))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


def tls_section(tmp_path):
    """A [tls] section with a fresh self-signed certificate."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost", "-keyout", str(key), "-out",
                    str(cert)], check=True, capture_output=True)
    os.chmod(key, 0o600)
    return "\n[tls]\ncertificate = %s\nprivate_key = %s\n" % (cert, key)


def listening_socket():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((helpers.HOST, 0))
    s.listen(16)
    return s


@pytest.fixture
def activated(tmp_path):
    """Factory: starts wsd with passed sockets and waits for READY=1
    (signals are handled from then on)."""
    started = []

    def start(*args, ready=True, **kw):
        n = Notify(str(tmp_path / ("activated%d.sock" % len(started))))
        try:
            a = Activated(tmp_path, *args, notify=n, **kw)
            started.append(a)
            if ready:
                n.wait_for("READY")
        finally:
            n.close()
        return a

    yield start
    for a in started:
        a.stop()


def test_socket_activation(activated):
    s1, s2 = listening_socket(), listening_socket()
    p1, p2 = s1.getsockname()[1], s2.getsockname()[1]
    try:
        a = activated(config(listen="127.0.0.1:%d" % p1), [s1, s2])
        a.wait_log(r"listening on 127\.0\.0\.1:%d \(socket activation\)"
                   % p1)
        # The second one matches no listen line: served, plain, warned.
        a.wait_log(r"passed socket 4 matches no listen line")
        a.wait_log(r"listening on 127\.0\.0\.1:%d \(socket activation\)"
                   % p2)
        assert "socket activation: 2 sockets passed, names s0:s1" in \
            a.log_text()
        # Close our copies: wsd's are the only ones left.
        s1.close()
        s2.close()
        for port in (p1, p2):
            c = helpers.ws_connect(port)
            c.send(helpers.frame(0x1, b"activated"))
            assert helpers.read_message(c)[:2] == (0x1, b"activated")
            c.close()
        assert a.stop() == 0
    finally:
        s1.close()
        s2.close()


def test_socket_activation_survives_reload(activated):
    """A SIGHUP keeps the passed sockets, the matched one and the one no
    listen line names: both go on accepting, nothing is bound anew."""
    s1, s2 = listening_socket(), listening_socket()
    p1, p2 = s1.getsockname()[1], s2.getsockname()[1]
    try:
        a = activated(config(listen="127.0.0.1:%d" % p1), [s1, s2])
        a.wait_log(r"listening on 127\.0\.0\.1:%d \(socket activation\)"
                   % p2)
        s1.close()
        s2.close()
        a.conf.write_text(helpers.make_config(
            routes=[("/echo", {"app": "echo"}), ("/hello", {"app": "hello"})],
            server={"listen": "127.0.0.1:%d" % p1}))
        a.proc.send_signal(signal.SIGHUP)
        a.wait_log(r"SIGHUP: configuration reloaded")
        assert "cannot bind" not in a.log_text()
        for port in (p1, p2):
            c = helpers.ws_connect(port, "/hello")
            c.send(helpers.frame(0x1, b"again"))
            assert helpers.read_message(c)[:2] == (0x1, b"Hello again!")
            c.close()
        assert a.stop() == 0
    finally:
        s1.close()
        s2.close()


def test_socket_activation_port_zero_matches(activated):
    s = listening_socket()
    port = s.getsockname()[1]
    try:
        a = activated(config(listen="127.0.0.1:0"), [s])
        a.wait_log(r"listening on 127\.0\.0\.1:%d \(socket activation\)"
                   % port)
        assert "matches no listen line" not in a.log_text()
        r = helpers.http_get(port, "/echo")
        assert r.status == 426, r
        assert a.stop() == 0
    finally:
        s.close()


def test_socket_activation_tls(activated, tmp_path):
    """A passed socket takes the tls flag of its listen line; another
    line is bound as usual next to it."""
    s = listening_socket()
    port = s.getsockname()[1]
    try:
        text = helpers.make_config(routes=ECHO_ONLY, server={
            "listen": "127.0.0.1:%d tls\nlisten = 127.0.0.1:0" % port})
        a = activated(text + tls_section(tmp_path), [s])
        a.wait_log(r"listening on 127\.0\.0\.1:%d \(tls\) \(socket "
                   r"activation\)" % port)
        plain = int(a.wait_log(r"listening on 127\.0\.0\.1:(\d+)$")
                    .group(1))
        assert plain != port
        s.close()
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        with socket.create_connection((helpers.HOST, port), 5) as raw:
            with ctx.wrap_socket(raw) as t:
                t.sendall(b"GET /echo HTTP/1.1\r\nHost: x\r\n"
                          b"Connection: close\r\n\r\n")
                head = t.recv(4096)
        assert head.startswith(b"HTTP/1.1 426 "), head
        assert helpers.http_get(plain, "/echo").status == 426
        assert a.stop() == 0
    finally:
        s.close()


def test_listen_pid_of_another_process_is_ignored(activated):
    s = listening_socket()
    port = s.getsockname()[1]
    try:
        # Not meant for wsd: it binds the address itself, which the
        # socket we still hold makes impossible.
        a = activated(config(listen="127.0.0.1:%d" % port), [s], pid="1",
                      ready=False)
        assert a.proc.wait(10) == 1
        assert re.search(r"listen 127\.0\.0\.1:%d: Address already in use"
                         % port, a.log_text()), a.log_text()
        assert "socket activation" not in a.log_text()
    finally:
        s.close()


# ------------------------------------------------- privileges, pid_file

def proc_ids(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return [int(x) for x in line.split()[1:]]
    raise AssertionError("no %s in /proc/%d/status" % (field, pid))


def test_pid_file(wsd, tmp_path):
    pid_file = tmp_path / "run" / "wsd.pid"
    pid_file.parent.mkdir()
    d = wsd(config(pid_file=str(pid_file)))
    assert pid_file.read_text() == "%d\n" % d.pid
    assert d.stop() == 0
    assert not pid_file.exists()


def test_pid_file_unwritable_fails(tmp_path):
    conf = tmp_path / "wsd.ini"
    conf.write_text(config(pid_file=str(tmp_path / "nodir" / "wsd.pid")))
    rc, out = helpers.run_wsd(["-c", str(conf)])
    assert rc == 1, out
    assert re.search(r"pid_file .*/nodir/wsd\.pid: No such file", out), out


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_drop_privileges_to_nobody(wsd, tmp_path):
    text = config(user="nobody", group="nogroup") + tls_section(tmp_path)
    d = wsd(text)
    d.wait_log(r"running as user nobody \(uid 65534\), group 65534")
    # Real, effective, saved and filesystem ids.
    assert proc_ids(d.pid, "Uid") == [65534] * 4
    assert proc_ids(d.pid, "Gid") == [65534] * 4
    assert proc_ids(d.pid, "Groups") == [65534]
    # The next SIGHUP would read the key as nobody: wsd says so now.
    d.wait_log(r"private_key .*key\.pem is not readable by user nobody")
    c = helpers.ws_connect(d.port)
    c.send(helpers.frame(0x1, b"as nobody"))
    assert helpers.read_message(c)[:2] == (0x1, b"as nobody")
    c.close()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to become nobody")
def test_user_ignored_when_not_root(wsd, wsd_binary, open_dir):
    binary = open_dir / "wsd"
    shutil.copy(wsd_binary, binary)
    os.chmod(binary, 0o755)

    def become_nobody():
        os.setgroups([])
        os.setgid(65534)
        os.setuid(65534)

    d = wsd(config(user="root", group="root"), preexec_fn=become_nobody,
            config_file=open_dir / "wsd.ini", binary=binary)
    d.wait_log(r"not started as root: running as uid 65534, gid 65534; "
               r"user and group are ignored")
    assert proc_ids(d.pid, "Uid") == [65534] * 4


def test_unknown_user_is_a_config_error(tmp_path):
    conf = tmp_path / "wsd.ini"
    conf.write_text(config(user="no-such-user-wsd"))
    rc, out = helpers.run_wsd(["-t", "-c", str(conf)])
    assert rc == 1, out
    assert re.search(r"wsd\.ini:\d+: user: no such user "
                     r"\"no-such-user-wsd\"", out), out


# -------------------------------------------------------------- logging

def run_with_stderr(tmp_path, env, conf_text):
    """Starts wsd with stderr on a file and env, waits for READY=1;
    returns (proc, logpath)."""
    conf = tmp_path / "log.ini"
    conf.write_text(conf_text)
    logpath = tmp_path / "stderr.log"
    log = open(logpath, "wb")
    st = os.fstat(log.fileno())
    e = dict(os.environ)
    for k, v in env.items():
        e[k] = v.format(dev=st.st_dev, ino=st.st_ino)
    n = Notify(str(tmp_path / "ready.sock"))
    e["NOTIFY_SOCKET"] = n.addr
    try:
        p = subprocess.Popen([WSD, "-c", str(conf)], env=e,
                             stdin=subprocess.DEVNULL, stdout=log,
                             stderr=log)
        log.close()
        n.wait_for("READY")
    finally:
        n.close()
    return p, logpath


def wait_text(path, rx, proc, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = path.read_text(errors="replace")
        if re.search(rx, text, re.M):
            return text
        if proc.poll() is not None:
            break
        time.sleep(0.02)
    pytest.fail("no /%s/ in:\n%s" % (rx, path.read_text(errors="replace")))


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return None


@pytest.mark.parametrize("journal", [True, False])
def test_journal_priorities(tmp_path, journal):
    env = {"JOURNAL_STREAM": "{dev}:{ino}" if journal else "1:1"}
    p, logpath = run_with_stderr(tmp_path, env, config(max_connections="1"))
    try:
        text = wait_text(logpath, r"listening on 127\.0\.0\.1:(\d+)", p)
        port = int(re.search(r"listening on 127\.0\.0\.1:(\d+)",
                             text).group(1))
        # A second connection over max_connections: a warning.
        c = helpers.ws_connect(port)
        try:
            assert helpers.http_get(port, "/echo").status == 503
            wait_text(logpath, r"max_connections", p)
        finally:
            c.close()
    finally:
        assert stop(p) == 0
    text = logpath.read_text()
    first = text.splitlines()[0]
    if journal:
        # No time stamp: the journal has its own.
        assert re.match(r"<6>info: wsd \S+ starting", first), text
        assert re.search(r"(?m)^<6>info: listening on 127\.0\.0\.1:\d+$",
                         text), text
        assert re.search(r"(?m)^<4>warn: .*max_connections", text), text
        assert all(re.match(r"<[0-7]>", l) for l in text.splitlines()), text
    else:
        assert re.match(r"\d{4}-\d\d-\d\dT[\d:.]+Z wsd\[\d+\]: info: ",
                        first), text
        assert re.search(r"(?m)Z wsd\[\d+\]: warn: .*max_connections",
                         text), text
        assert not re.search(r"(?m)^<\d>", text), text


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None,
                    reason="needs root and unshare(1) for a private /dev/log")
def test_log_to_syslog(tmp_path):
    """wsd in a private mount namespace whose /dev/log is our socket."""
    sockpath = str(tmp_path / "devlog.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(sockpath)
    conf = tmp_path / "syslog.ini"
    conf.write_text(config(log="syslog"))
    errpath = tmp_path / "stderr.log"
    n = Notify(str(tmp_path / "ready.sock"))
    env = dict(os.environ, NOTIFY_SOCKET=n.addr)
    script = ('mount -t tmpfs none /dev && touch /dev/log && '
              'mount --bind "$1" /dev/log && exec "$2" -c "$3"')
    with open(errpath, "wb") as err:
        p = subprocess.Popen(["unshare", "-m", "sh", "-c", script, "sh",
                              sockpath, WSD, str(conf)],
                             stdin=subprocess.DEVNULL, stdout=err,
                             stderr=err, env=env)
    try:
        n.wait_for("READY")
        sock.settimeout(5)
        got = []
        while not any(b"listening on" in m for m in got):
            try:
                got.append(sock.recv(4096))
            except socket.timeout:
                pytest.fail("syslog got %r; stderr:\n%s"
                            % (got, errpath.read_text()))
        # LOG_DAEMON | LOG_INFO = 3 * 8 + 6.
        line = [m for m in got if b"listening on" in m][0].decode()
        assert re.match(r"<30>.*wsd\[%d\]: listening on 127\.0\.0\.1:\d+$"
                        % p.pid, line), line
        # Nothing but start-up noise from the shell on stderr.
        assert "listening on" not in errpath.read_text()
    finally:
        assert stop(p) == 0
        sock.close()
        n.close()


# ----------------------------------------------------------- unit files

def analyze():
    path = shutil.which("systemd-analyze")
    if path is None:
        pytest.skip("systemd-analyze is not installed (Debian: systemd)")
    return path


def test_service_security_exposure():
    out = subprocess.run([analyze(), "security", "--offline=yes",
                          str(SRCDIR / "systemd" / "wsd.service")],
                         capture_output=True, text=True, timeout=60)
    m = re.search(r"Overall exposure level for wsd\.service: ([\d.]+)",
                  out.stdout)
    assert m, out.stdout + out.stderr
    assert float(m.group(1)) <= 2.0, out.stdout


def test_units_verify(tmp_path):
    """The units with ExecStart= pointing at this wsd, the man pages where
    man(1) finds them: systemd-analyze verify prints nothing."""
    sbindir = pathlib.Path(WSD).resolve().parent
    units = tmp_path / "units"
    units.mkdir()
    for name in ("wsd.service", "wsd.socket"):
        text = (SRCDIR / "systemd" / name).read_text()
        text = text.replace("/usr/local/sbin/wsd", str(sbindir / "wsd"))
        (units / name).write_text(text)
    man = tmp_path / "man"
    for page, sect in (("wsd.8", "8"), ("wsd.ini.5", "5")):
        (man / ("man" + sect)).mkdir(parents=True, exist_ok=True)
        shutil.copy(SRCDIR / "man" / page, man / ("man" + sect) / page)
    env = dict(os.environ, MANPATH=str(man))
    out = subprocess.run([analyze(), "verify", "--man=yes",
                          str(units / "wsd.socket"),
                          str(units / "wsd.service")],
                         capture_output=True, text=True, timeout=60,
                         env=env, cwd=tmp_path)
    problems = [l for l in (out.stdout + out.stderr).splitlines()
                if "wsd" in l]
    assert out.returncode == 0 and not problems, out.stdout + out.stderr
