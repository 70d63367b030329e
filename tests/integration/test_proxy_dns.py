"""test_proxy_dns.py -- a proxy backend named by host name is looked up
without blocking the worker's loop.

The daemon runs in a mount namespace of its own where /etc/resolv.conf
names a DNS server of the test's (UDP on 127.0.0.1, an address:port
nameserver line, which evdns reads) and /etc/hosts is the test's: the
machine's files are never touched. The server answers A records from a
table, holds an answer until the test releases it, or never answers.
Backends are real python-websockets servers (ws_backend.py).
"""

import ctypes
import os
import signal
import socket
import subprocess
import struct
import threading
import time

import pytest

import helpers
from helpers import OP_TEXT, frame, read_message
from test_proxy_app import backend, handshake_status, proxy_config  # noqa: F401

CLONE_NEWNS = 0x20000
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18


class FakeDNS:
    """A DNS server on 127.0.0.1 (UDP): names maps a name to an IPv4
    address (A), any other name is NXDOMAIN; names in held are answered once
    release(name) is called, names in silent never. Every query's name
    is recorded; AAAA and other types get an empty answer."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.names = {}
        self.held = {}          # name -> [(query, addr)] waiting
        self.silent = set()
        self.queries = []
        self.lock = threading.Lock()
        self.cv = threading.Condition(self.lock)
        self.running = True
        self.t = threading.Thread(target=self._serve, daemon=True)
        self.t.start()

    def stop(self):
        self.running = False
        self.t.join(5)
        self.sock.close()

    def _serve(self):
        while self.running:
            try:
                q, addr = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            name, qtype = self._question(q)
            if name is None:
                continue
            with self.cv:
                self.queries.append((name, qtype))
                self.cv.notify_all()
                if name in self.silent:
                    continue
                if name in self.held:
                    self.held[name].append((q, addr))
                    continue
            self.sock.sendto(self._answer(q, name, qtype), addr)

    @staticmethod
    def _question(q):
        """(name, qtype) of a query, or (None, None)."""
        if len(q) < 12:
            return None, None
        labels, i = [], 12
        while i < len(q) and q[i] != 0:
            n = q[i]
            labels.append(q[i + 1:i + 1 + n].decode("ascii", "replace"))
            i += 1 + n
        if i + 5 > len(q):
            return None, None
        qtype = struct.unpack("!H", q[i + 1:i + 3])[0]
        return ".".join(labels).lower(), qtype

    def _answer(self, q, name, qtype):
        qid = q[:2]
        end = q.index(b"\0", 12) + 5
        question = q[12:end]
        addr = self.names.get(name)
        if addr is None:
            rcode, answers = 3, b""         # NXDOMAIN
        elif qtype == 1:
            rcode = 0
            answers = (b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) +
                       socket.inet_aton(addr))
        else:
            rcode, answers = 0, b""
        flags = 0x8180 | rcode
        return (qid + struct.pack("!HHHHH", flags, 1,
                                  1 if answers else 0, 0, 0) +
                question + answers)

    def hold(self, name):
        with self.lock:
            self.held[name] = []

    def release(self, name):
        with self.lock:
            waiting = self.held.pop(name, [])
        for q, addr in waiting:
            n, qtype = self._question(q)
            self.sock.sendto(self._answer(q, n, qtype), addr)

    def wait_query(self, name, timeout=5.0):
        deadline = time.monotonic() + timeout
        with self.cv:
            while not any(n == name for n, _ in self.queries):
                left = deadline - time.monotonic()
                assert left > 0, "no query for %s: %r" % (name, self.queries)
                self.cv.wait(left)

    def asked(self, name):
        with self.lock:
            return any(n == name for n, _ in self.queries)


@pytest.fixture
def dns():
    d = FakeDNS()
    yield d
    d.stop()


def private_etc(resolv, hosts):
    """A preexec_fn: the daemon alone sees resolv and hosts as
    /etc/resolv.conf and /etc/hosts (a mount namespace of its own, its
    mounts private, so that nothing reaches the machine's)."""
    def fn():
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.unshare(CLONE_NEWNS) != 0:
            os._exit(97)
        if libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) != 0:
            os._exit(98)
        for src, dst in ((resolv, b"/etc/resolv.conf"),
                         (hosts, b"/etc/hosts")):
            if libc.mount(src, dst, None, MS_BIND, None) != 0:
                os._exit(99)
    return fn


@pytest.fixture
def named_wsd(wsd, dns, tmp_path):
    """Factory: named_wsd(backend_url, extra) starts wsd (one worker, so
    that the echo client shares the proxy client's loop) in its private
    /etc: resolv.conf names the fake DNS server; hosts names
    hosts.test."""
    resolv = tmp_path / "resolv.conf"
    resolv.write_text("nameserver 127.0.0.1:%d\n"
                      "options timeout:5 attempts:1\n" % dns.port)
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost hosts.test\n")
    etc = private_etc(str(resolv).encode(), str(hosts).encode())
    probe = subprocess.run(["true"], preexec_fn=etc)
    if probe.returncode != 0:
        pytest.skip("no mount namespace here (exit %d): not root?"
                    % probe.returncode)

    def start(url, extra=None):
        return wsd(proxy_config(url, extra=extra, server={"workers": "1"}),
                   preexec_fn=etc)
    return start


def echo_once(port, path, text, timeout=5.0):
    with helpers.ws_connect(port, path, timeout=timeout) as c:
        c.send(frame(OP_TEXT, text))
        assert read_message(c)[:2] == (OP_TEXT, text.encode())


def test_backend_found_through_dns(named_wsd, dns, backend):
    b = backend("--port", "0")
    dns.names["backend.test"] = "127.0.0.1"
    d = named_wsd("ws://backend.test:%s/echo" % b.addr)
    echo_once(d.port, "/p", "through a name")
    # The daemon asked the nameserver of its resolv.conf.
    assert dns.asked("backend.test")


def test_lookup_does_not_hold_up_other_clients(named_wsd, dns, backend):
    """While one client's lookup waits for the DNS answer, another
    client on the same loop is served; the answer then completes the
    first one's handshake."""
    b = backend("--port", "0")
    dns.names["slow.test"] = "127.0.0.1"
    dns.hold("slow.test")
    d = named_wsd("ws://slow.test:%s/echo" % b.addr,
                  extra={"backend_connect_timeout": "30s"})
    result = {}

    def first():
        try:
            echo_once(d.port, "/p", "after the answer", timeout=30)
            result["ok"] = True
        except Exception as e:          # reported by the assert below
            result["error"] = repr(e)

    t = threading.Thread(target=first)
    t.start()
    try:
        dns.wait_query("slow.test")
        # The answer is held: the loop serves others meanwhile.
        for i in range(3):
            echo_once(d.port, "/echo", "meanwhile %d" % i)
        assert "ok" not in result and "error" not in result, result
    finally:
        dns.release("slow.test")
        t.join(30)
    assert result.get("ok"), result


def test_unknown_name_is_502(named_wsd, dns, backend):
    b = backend("--port", "0")
    d = named_wsd("ws://nowhere.test:%s/echo" % b.addr)
    assert handshake_status(d.port)[0] == 502
    d.wait_log(r"proxy: backend ws://nowhere\.test:\d+/echo: "
               r"cannot resolve the backend's host: .* \(502\)")
    assert dns.asked("nowhere.test")
    # The daemon goes on serving.
    echo_once(d.port, "/echo", "still here")


def test_silent_dns_is_504_at_the_connect_timeout(named_wsd, dns, backend):
    b = backend("--port", "0")
    dns.silent.add("mute.test")
    d = named_wsd("ws://mute.test:%s/echo" % b.addr,
                  extra={"backend_connect_timeout": "1s"})
    assert handshake_status(d.port)[0] == 504
    d.wait_log(r"no answer in time")
    echo_once(d.port, "/echo", "still here")


def test_etc_hosts_answers_without_dns(named_wsd, dns, backend):
    b = backend("--port", "0")
    d = named_wsd("ws://hosts.test:%s/echo" % b.addr)
    echo_once(d.port, "/p", "from /etc/hosts")
    assert not dns.asked("hosts.test")


def test_client_gone_during_the_lookup(named_wsd, dns, backend):
    """A client that leaves while its lookup waits: the late answer
    finds it gone, and the next client gets through."""
    b = backend("--port", "0")
    dns.names["late.test"] = "127.0.0.1"
    dns.hold("late.test")
    d = named_wsd("ws://late.test:%s/echo" % b.addr,
                  extra={"backend_connect_timeout": "30s"})
    c = helpers.Conn(d.port)
    c.send(helpers.upgrade_request("/p", helpers.ws_key()))
    dns.wait_query("late.test")
    c.close()
    dns.release("late.test")
    d.wait_log(r"access: 127\.0\.0\.1:\d+ .*/p")
    echo_once(d.port, "/p", "a new lookup")
    assert d.alive()


def test_stop_during_a_lookup(named_wsd, dns, backend):
    """SIGTERM while a lookup waits: the connection and its lookup go,
    and wsd exits 0 (under ASan: without a leak)."""
    b = backend("--port", "0")
    dns.names["held.test"] = "127.0.0.1"
    dns.hold("held.test")
    d = named_wsd("ws://held.test:%s/echo" % b.addr,
                  extra={"backend_connect_timeout": "30s"})
    with helpers.Conn(d.port) as c:
        c.send(helpers.upgrade_request("/p", helpers.ws_key()))
        dns.wait_query("held.test")
        d.kill(signal.SIGTERM)
        assert d.proc.wait(10) == 0, d.log_tail()
    dns.release("held.test")
