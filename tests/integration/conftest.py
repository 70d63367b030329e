"""conftest.py -- starts and stops wsd for the integration tests.

Environment: WSD is the binary (default /work/main/wsd), WSD_SRCDIR the
source tree (default: two levels above this directory).

The `wsd` fixture is a factory: wsd(config_text) writes the config to a
temporary file, starts `WSD -c FILE` with its output in a log file, waits
for `listening on 127.0.0.1:PORT` (` (tls)` behind it for a TLS listener)
and for as many listening lines as the config has `listen` keys, and
returns a Daemon: d.port is the first 127.0.0.1 listener, d.ports all of
them as (port, is_tls). At teardown every daemon the test started gets
SIGTERM; the test fails when one needs SIGKILL, exits non-zero or dies of
a signal (sanitizer runs rely on that), and when its log holds a
sanitizer report (helpers.SANITIZER_RX), leaks at exit included.
`wsd_module` is the same factory for a whole test module: its daemons
stop when the module ends.

WSD_SANITIZED=1 says WSD is a sanitizer build (ASan+UBSan or TSan):
tests marked `@pytest.mark.sanitizer_slow` are skipped there.

WSD_TEST_WORKERS (default 1) is the test matrix's worker count: every
config the fixture starts wsd with (config_text, or the file of a `-c`
argument under pytest's temporary directory) gets `workers = N` in
[server] unless it sets workers itself
(helpers.matrix_config; tests that rewrite the file for a reload use
helpers.write_config). Empty leaves configs alone.
"""

import os
import re
import signal
import subprocess
import time

import pytest

import helpers

from helpers import SANITIZER_RX, SRCDIR, WSD

START_TIMEOUT = 5.0
STOP_TIMEOUT = 10.0
# `listening on ADDR:PORT`, ` (tls)` behind it for a TLS listener.
LISTEN_RX = re.compile(r"listening on 127\.0\.0\.1:(\d+)( \(tls\))?\s*$",
                       re.M)
ANY_LISTEN_RX = re.compile(r"listening on \S+:\d+(?: \(tls\))?\s*$", re.M)


class Daemon:
    """A running wsd and its log."""

    def __init__(self, argv, logpath, cwd=None, preexec_fn=None):
        self.argv = argv
        self.logpath = logpath
        self._logf = open(logpath, "wb")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=self._logf,
                                     stderr=subprocess.STDOUT, cwd=cwd,
                                     preexec_fn=preexec_fn)
        self.pid = self.proc.pid
        self.port = None        # the first 127.0.0.1 listener
        self.ports = []         # [(port, is_tls)] of every 127.0.0.1 one
        self.killed = False

    def log_text(self):
        with open(self.logpath, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def log_lines(self):
        return self.log_text().splitlines()

    def log_mark(self):
        """Position in the log, for wait_log(start=...)."""
        return len(self.log_text())

    def alive(self):
        return self.proc.poll() is None

    def wait_log(self, pattern, timeout=5.0, start=0):
        """Waits for a regex (multiline) in the log; returns the match."""
        rx = re.compile(pattern, re.M)
        deadline = time.monotonic() + timeout
        while True:
            m = rx.search(self.log_text(), start)
            if m:
                return m
            if not self.alive():
                # One last look: the line may have come with the exit.
                m = rx.search(self.log_text(), start)
                if m:
                    return m
                pytest.fail("wsd exited (%s) before logging /%s/; log:\n%s"
                            % (self.proc.returncode, pattern, self.log_tail()))
            if time.monotonic() > deadline:
                pytest.fail("no /%s/ in the log within %.1fs; log:\n%s"
                            % (pattern, timeout, self.log_tail()))
            time.sleep(0.02)

    def log_tail(self, n=40):
        return "\n".join(self.log_lines()[-n:])

    def kill(self, sig):
        if self.alive():
            os.kill(self.pid, sig)

    def stop(self, sig=signal.SIGTERM, timeout=STOP_TIMEOUT):
        """Signals the process, waits, SIGKILLs on timeout; returns the
        exit status (negative: killed by that signal)."""
        if self.alive():
            os.kill(self.pid, sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.killed = True
                os.kill(self.pid, signal.SIGKILL)
                self.proc.wait()
        self._logf.close()
        return self.proc.returncode


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "sanitizer_slow: too slow under ASan+UBSan; skipped "
        "when WSD_SANITIZED=1")


def pytest_collection_modifyitems(config, items):
    if os.environ.get("WSD_SANITIZED") != "1":
        return
    skip = pytest.mark.skip(reason="slow under the sanitizers "
                            "(WSD_SANITIZED=1)")
    for item in items:
        if "sanitizer_slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def srcdir():
    return SRCDIR


@pytest.fixture(scope="session")
def wsd_binary():
    if not os.access(WSD, os.X_OK):
        pytest.fail("wsd binary %s not found (build it, or set WSD)" % WSD)
    return WSD


@pytest.fixture(scope="session")
def static_root(tmp_path_factory):
    """A static tree with the corner cases the tests need:

    root/index.html, style.css, notes.txt, pixel.png, blob.xyz, big.bin,
    root/sub/index.html, root/sub/page.txt, root/empty/ (no index.html),
    root/link_in.txt -> index.html, root/link_out.txt -> ../outside/secret.txt,
    root/link_dir_out -> ../outside, root/fifo (a FIFO),
    outside/secret.txt.
    """
    base = tmp_path_factory.mktemp("static")
    root = base / "root"
    outside = base / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "secret.txt").write_text("TOP SECRET outside the root\n")
    (root / "index.html").write_text(
        "<!DOCTYPE html>\n<html lang=\"en\"><title>test index</title>"
        "<p>wsd test root index</p></html>\n")
    (root / "style.css").write_text("body { color: black; }\n")
    (root / "notes.txt").write_text("plain notes\n")
    (root / "pixel.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(32))
    (root / "blob.xyz").write_bytes(b"\x00\x01unknown type\n")
    (root / "big.bin").write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    (root / "sub").mkdir()
    (root / "sub" / "index.html").write_text("<p>sub index</p>\n")
    (root / "sub" / "page.txt").write_text("sub page\n")
    (root / "empty").mkdir()
    (root / "empty" / "other.txt").write_text("not an index\n")
    os.symlink("index.html", root / "link_in.txt")
    os.symlink("../outside/secret.txt", root / "link_out.txt")
    os.symlink("../outside", root / "link_dir_out")
    os.mkfifo(root / "fifo")
    return root


def wsd_factory(wsd_binary, tmp_path, static_root, request):
    """The body of the `wsd` and `wsd_module` fixtures. Factory: wsd(config_text=None, args=(), cwd=None, preexec_fn=None,
    use_config=True, listen=True, config_file=None). config_text None uses
    the default test config (helpers.make_config on static_root);
    use_config=False runs without -c; listen=False does not wait for the
    listening line; config_file says where to write the config; binary
    runs another copy of the daemon (one that another user can reach)."""
    daemons = []
    counter = [0]

    def start(config_text=None, args=(), cwd=None, preexec_fn=None,
              use_config=True, listen=True, config_file=None, binary=None):
        counter[0] += 1
        n = counter[0]
        argv = [str(binary or wsd_binary)]
        if use_config:
            if config_text is None:
                config_text = helpers.make_config(static_root)
            config_text = helpers.matrix_config(config_text)
            conf = config_file or tmp_path / ("wsd%d.ini" % n)
            conf.write_text(config_text)
            os.chmod(conf, 0o644)
            argv += ["-c", str(conf)]
        elif "-c" in args:
            # A config file the test wrote itself (under pytest's
            # temporary directory, never the source tree's etc/wsd.ini)
            # gets the matrix's workers too, in place, line numbers kept
            # where possible.
            path = os.path.realpath(args[list(args).index("-c") + 1])
            base = os.path.realpath(request.getfixturevalue(
                "tmp_path_factory").getbasetemp())
            if path.startswith(base + os.sep) and os.path.isfile(path):
                with open(path) as f:
                    text = f.read()
                if helpers.matrix_config(text) != text:
                    helpers.write_config(path, text)
        argv += list(args)
        d = Daemon(argv, tmp_path / ("wsd%d.log" % n), cwd=cwd,
                   preexec_fn=preexec_fn)
        daemons.append(d)
        if listen:
            m = d.wait_log(LISTEN_RX.pattern, timeout=START_TIMEOUT)
            d.port = int(m.group(1))
            d.ports = [(d.port, bool(m.group(2)))]
            # Every other listener of the config logs its line too.
            want = 1
            if use_config:
                want = max(1, len(re.findall(r"(?m)^\s*listen\s*=",
                                             config_text)))
            deadline = time.monotonic() + START_TIMEOUT
            while len(re.findall(ANY_LISTEN_RX, d.log_text())) < want:
                if time.monotonic() > deadline or not d.alive():
                    pytest.fail("%d of %d listeners logged \"listening on\""
                                "; log:\n%s" % (len(re.findall(
                                    ANY_LISTEN_RX, d.log_text())), want,
                                    d.log_tail()))
                time.sleep(0.02)
            d.ports = [(int(p), bool(t)) for p, t in
                       re.findall(LISTEN_RX, d.log_text())]
        return d

    yield start

    problems = []
    outdir = os.environ.get("WSD_TEST_OUTPUT")
    for d in daemons:
        rc = d.stop()
        if outdir:
            # Keep every daemon log for the CI artifacts.
            # Parametrized names can pass the file-name limit.
            name = re.sub(r"[^\w.-]+", "_", request.node.name)[:120]
            logs = os.path.join(outdir, "logs")
            os.makedirs(logs, exist_ok=True)
            with open(os.path.join(logs, "%s-%d.log" % (name, d.pid)),
                      "w") as f:
                f.write(d.log_text())
        if d.killed:
            problems.append("wsd %d did not exit within %.0fs of SIGTERM "
                            "and was killed" % (d.pid, STOP_TIMEOUT))
        elif rc is not None and rc < 0:
            problems.append("wsd %d died of signal %d" % (d.pid, -rc))
        elif rc != 0:
            problems.append("wsd %d exited with status %d" % (d.pid, rc))
        m = SANITIZER_RX.search(d.log_text())
        if m:
            problems.append("wsd %d logged a sanitizer report: %s"
                            % (d.pid, m.group(0)))
        if problems and problems[-1].startswith("wsd %d " % d.pid):
            problems.append("log tail:\n" + d.log_tail())
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture
def wsd(wsd_binary, tmp_path, static_root, request):
    """The daemon factory of one test (see wsd_factory)."""
    yield from wsd_factory(wsd_binary, tmp_path, static_root, request)


@pytest.fixture(scope="module")
def wsd_module(wsd_binary, tmp_path_factory, static_root, request):
    """The daemon factory for a whole test module: one daemon serves many
    tests (the conformance suites), stopped and checked like `wsd`'s when
    the module ends."""
    yield from wsd_factory(wsd_binary, tmp_path_factory.mktemp("wsd"),
                           static_root, request)
