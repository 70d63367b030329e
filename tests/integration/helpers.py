"""helpers.py -- raw HTTP and WebSocket clients for the wsd integration tests.

Everything here works on plain sockets with a deadline on every read, so a
misbehaving daemon makes a test fail, never hang.
"""

import base64
import hashlib
import os
import pathlib
import re
import select
import socket
import struct
import subprocess
import time

HERE = pathlib.Path(__file__).resolve().parent
SRCDIR = pathlib.Path(os.environ.get("WSD_SRCDIR") or HERE.parent.parent)
WSD = os.environ.get("WSD") or "/work/main/wsd"

HOST = "127.0.0.1"
TIMEOUT = 5.0
WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

# A report of ASan, LSan, UBSan or TSan in a log (test.sh's sanitizer
# passes): TSan's data races, lock-order inversions and thread leaks all
# start with "WARNING: ThreadSanitizer:".
SANITIZER_RX = re.compile(r"ERROR: (?:Address|Leak)Sanitizer\b.*|"
                          r"WARNING: AddressSanitizer\b.*|"
                          r"(?:WARNING|ERROR|FATAL): ThreadSanitizer\b.*|"
                          r"\bruntime error: .*")

OP_CONT, OP_TEXT, OP_BINARY = 0x0, 0x1, 0x2
OP_CLOSE, OP_PING, OP_PONG = 0x8, 0x9, 0xA


class Closed(Exception):
    """The peer closed the connection before the expected bytes arrived."""


# --------------------------------------------------------------- config


def run_wsd(args, timeout=10, **kw):
    """Runs wsd to completion (-h, -V, -t); returns (rc, stdout+stderr)."""
    p = subprocess.run([WSD] + list(args), stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=timeout, **kw)
    out = p.stdout.decode("utf-8", "replace")
    m = SANITIZER_RX.search(out)
    assert not m, "sanitizer report from wsd %s: %s\n%s" % (
        " ".join(args), m.group(0), out[-4000:])
    return p.returncode, out


def make_config(root=None, server=None, routes=None, route_extra=None):
    """Config text: [server] defaults tuned for fast tests, plus routes.

    server: {key: value} merged over the defaults (value None drops a key).
    routes: list of (path, {key: value}); default "/" static on root,
    "/hello" and "/echo". route_extra: {path: {key: value}} merged in.
    """
    srv = {
        "listen": "127.0.0.1:0",
        "handshake_timeout": "1s",
        "idle_timeout": "1s",
        "close_timeout": "1s",
    }
    srv.update(server or {})
    if routes is None:
        routes = []
        if root is not None:
            routes.append(("/", {"app": "static", "root": str(root)}))
        routes.append(("/hello", {"app": "hello"}))
        routes.append(("/echo", {"app": "echo"}))
    lines = ["[server]"]
    lines += ["%s = %s" % (k, v) for k, v in srv.items() if v is not None]
    for path, keys in routes:
        keys = dict(keys)
        keys.update((route_extra or {}).get(path, {}))
        lines += ["", "[route %s]" % path]
        lines += ["%s = %s" % (k, v) for k, v in keys.items() if v is not None]
    return "\n".join(lines) + "\n"


# The test matrix: test.sh runs the suite with WSD_TEST_WORKERS=1 and =2;
# empty leaves configs alone (wsd's own default, workers = auto).
TEST_WORKERS = os.environ.get("WSD_TEST_WORKERS", "1")
WORKERS_RX = re.compile(r"(?m)^[ \t]*workers[ \t]*=")
SECTION_RX = re.compile(r"^[ \t]*\[")


def matrix_config(text, workers=None):
    """Config text with `workers = N` (N: WSD_TEST_WORKERS) in [server],
    unless it sets workers already. Line numbers stay as they were where
    possible (FILE:LINE messages): the line takes the place of a blank
    line closing [server], or goes at the end of the file (in a [server]
    of its own when the text has none); only a [server] without a blank
    line before the next section gets an inserted line. A config whose
    [server] is in an included file gets a second [server] (an error):
    such tests set `workers` themselves."""
    n = TEST_WORKERS if workers is None else str(workers)
    if not n or text is None or WORKERS_RX.search(text):
        return text
    line = "workers = %s" % n
    lines = text.split("\n")
    start = None
    for i, ln in enumerate(lines):
        if re.match(r"^[ \t]*\[server\][ \t]*$", ln):
            start = i
            break
    if start is None:
        tail = "" if text.endswith("\n") or not text else "\n"
        return text + tail + "[server]\n" + line + "\n"
    end = len(lines)
    for i in range(start + 1, len(lines)):
        if SECTION_RX.match(lines[i]):
            end = i
            break
    if end == len(lines):
        # [server] is the last section: append (nothing moves).
        tail = "" if text.endswith("\n") or not text else "\n"
        return text + tail + line + "\n"
    # The last blank line of the section, unless an indented line (a
    # continuation of the value above) follows it.
    for i in range(end - 1, start, -1):
        if lines[i].strip():
            continue
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if nxt.strip() and nxt[:1] in " \t":
            continue
        lines[i] = line
        return "\n".join(lines)
    lines.insert(end, line)
    return "\n".join(lines)


def write_config(path, text):
    """Writes a config file for a reload, through matrix_config."""
    with open(path, "w") as f:
        f.write(matrix_config(text))


# --------------------------------------------------------------- sockets


class Conn:
    """A TCP connection with a read buffer and deadlines on every read."""

    def __init__(self, port, host=HOST, timeout=TIMEOUT, sndbuf=None,
                 rcvbuf=None, source=None):
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(fam, socket.SOCK_STREAM)
        if source:
            # Another loopback address is another client (127.0.0.2...).
            self.sock.bind((source, 0))
        if sndbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect((host, port))
        self.timeout = timeout
        self.buf = bytearray()
        self.eof = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data):
        """Sends everything (bounded by the socket timeout)."""
        self.sock.settimeout(self.timeout)
        self.sock.sendall(data)

    def _fill(self, deadline):
        """Reads once into the buffer; raises Closed on EOF/reset."""
        if self.eof:
            raise Closed("connection closed; buffered %r" % self._head())
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("timed out; buffered %r" % self._head())
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(1 << 20)
        except socket.timeout:
            raise TimeoutError("timed out; buffered %r" % self._head())
        except (ConnectionResetError, BrokenPipeError):
            data = b""
        if not data:
            self.eof = True
            raise Closed("connection closed; buffered %r" % self._head())
        self.buf += data

    def _head(self):
        return bytes(self.buf[:200])

    def read_exact(self, n, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        while len(self.buf) < n:
            self._fill(deadline)
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def read_until(self, sep, timeout=None, limit=1 << 20):
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            i = self.buf.find(sep)
            if i >= 0:
                out = bytes(self.buf[:i + len(sep)])
                del self.buf[:i + len(sep)]
                return out
            if len(self.buf) > limit:
                raise AssertionError("no %r in %d bytes"
                                     % (sep, len(self.buf)))
            self._fill(deadline)

    def read_to_eof(self, timeout=None):
        """Everything until the peer closes; TimeoutError if it does not."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            try:
                self._fill(deadline)
            except Closed:
                out = bytes(self.buf)
                self.buf.clear()
                return out

    def wait_closed(self, timeout):
        """True when the peer closes within timeout (data is discarded)."""
        deadline = time.monotonic() + timeout
        try:
            while True:
                self._fill(deadline)
                self.buf.clear()
        except Closed:
            return True
        except TimeoutError:
            return False


# --------------------------------------------------------------- HTTP


class Response:
    def __init__(self, version, status, reason, headers, body, head):
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers          # [(name, value)] as received
        self.body = body
        self.head = head                # raw head bytes

    def header(self, name, default=None):
        """Value of the first header with that name (case-insensitive)."""
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return default

    def header_all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def __repr__(self):
        return "<Response %d %r>" % (self.status, self.head[:300])


def request(method="GET", path="/", version="HTTP/1.1", headers=None,
            host=True, body=b""):
    """Builds a request head (and body)."""
    lines = ["%s %s %s" % (method, path, version)]
    if host:
        if not isinstance(host, str):
            host = "localhost"
        lines.append("Host: %s" % host)
    for k, v in (headers or {}).items():
        lines.append("%s: %s" % (k, v))
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def read_response(conn, head_request=False, timeout=None):
    """Reads one response: status line, headers and a body framed by
    Content-Length (none for HEAD, 1xx, 204, 304; else up to EOF)."""
    raw = conn.read_until(b"\r\n\r\n", timeout=timeout)
    text = raw.decode("latin-1")
    lines = text.split("\r\n")
    m = re.match(r"^(HTTP/\d\.\d) (\d{3})(?: (.*))?$", lines[0])
    assert m, "bad status line %r" % lines[0]
    headers = []
    for line in lines[1:]:
        if not line:
            continue
        assert ":" in line, "bad header line %r" % line
        k, v = line.split(":", 1)
        headers.append((k.strip(), v.strip()))
    status = int(m.group(2))
    resp = Response(m.group(1), status, m.group(3) or "", headers, b"", raw)
    if head_request or status < 200 or status in (204, 304):
        return resp
    cl = resp.header("Content-Length")
    if cl is not None:
        resp.body = conn.read_exact(int(cl), timeout=timeout)
    else:
        resp.body = conn.read_to_eof(timeout=timeout)
    return resp


def http_get(port, path="/", method="GET", headers=None, version="HTTP/1.1",
             host=True, timeout=TIMEOUT):
    """One request on a fresh connection; returns the response."""
    with Conn(port, timeout=timeout) as c:
        c.send(request(method, path, version, headers, host))
        return read_response(c, head_request=(method == "HEAD"))


def http_raw(port, data, timeout=TIMEOUT, head_request=False):
    """Sends raw bytes on a fresh connection and reads one response."""
    with Conn(port, timeout=timeout) as c:
        c.send(data)
        return read_response(c, head_request=head_request)


# --------------------------------------------------------------- WebSocket


def ws_key():
    return base64.b64encode(os.urandom(16)).decode()


def ws_accept(key):
    """Sec-WebSocket-Accept for a key (RFC 6455 4.2.2)."""
    digest = hashlib.sha1(key.encode() + WS_GUID).digest()
    return base64.b64encode(digest).decode()


def upgrade_request(path="/echo", key=None, version="13", method="GET",
                    http="HTTP/1.1", upgrade="websocket", connection="Upgrade",
                    extra=None, host=True):
    """A handshake request; any header given as None is left out."""
    headers = {}
    if upgrade is not None:
        headers["Upgrade"] = upgrade
    if connection is not None:
        headers["Connection"] = connection
    if key is not None:
        headers["Sec-WebSocket-Key"] = key
    if version is not None:
        headers["Sec-WebSocket-Version"] = version
    headers.update(extra or {})
    return request(method, path, http, headers, host)


def ws_connect(port, path="/echo", after=b"", timeout=TIMEOUT, headers=None,
               **kw):
    """Opens a WebSocket by hand; `after` is sent in the same write as the
    request, with the extra request headers given. Returns the Conn, its
    101 in c.response; bytes behind the 101 stay buffered."""
    key = ws_key()
    c = Conn(port, timeout=timeout, **kw)
    try:
        c.send(upgrade_request(path, key, extra=headers) + after)
        r = read_response(c, head_request=True)
        assert r.status == 101, r
        assert r.header("Sec-WebSocket-Accept") == ws_accept(key), r
    except BaseException:
        c.close()
        raise
    c.response = r
    return c


def mask_bytes(payload, key):
    """XORs payload with the 4-byte key (fast for big payloads)."""
    n = len(payload)
    if n == 0:
        return b""
    k = (key * (n // 4 + 1))[:n]
    x = int.from_bytes(payload, "big") ^ int.from_bytes(k, "big")
    return x.to_bytes(n, "big")


def frame(opcode, payload=b"", fin=True, rsv=0, mask=True, key=None,
          length=None):
    """A client frame. length overrides the announced payload length
    (to announce more than is sent)."""
    if isinstance(payload, str):
        payload = payload.encode()
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
    mbit = 0x80 if mask else 0
    if n < 126:
        hdr = struct.pack("!BB", b0, mbit | n)
    elif n < 65536:
        hdr = struct.pack("!BBH", b0, mbit | 126, n)
    else:
        hdr = struct.pack("!BBQ", b0, mbit | 127, n)
    if not mask:
        return hdr + payload
    key = key if key is not None else os.urandom(4)
    return hdr + key + mask_bytes(payload, key)


def close_frame(code=None, reason=b"", **kw):
    payload = b"" if code is None else struct.pack("!H", code) + reason
    return frame(OP_CLOSE, payload, **kw)


class Frame:
    def __init__(self, fin, rsv, opcode, payload):
        self.fin, self.rsv = fin, rsv
        self.opcode, self.payload = opcode, payload

    @property
    def close_code(self):
        assert self.opcode == OP_CLOSE, self
        if len(self.payload) < 2:
            return None
        return struct.unpack("!H", self.payload[:2])[0]

    def __repr__(self):
        return "<Frame fin=%d op=%d len=%d %r>" % (
            self.fin, self.opcode, len(self.payload), self.payload[:60])


def read_frame(conn, timeout=None):
    """Reads one server frame; server frames must be unmasked."""
    b0, b1 = conn.read_exact(2, timeout)
    n = b1 & 0x7F
    # RFC 6455 5.2: the minimal number of bytes encodes the length.
    if n == 126:
        n = struct.unpack("!H", conn.read_exact(2, timeout))[0]
        assert n >= 126, "16-bit length %d" % n
    elif n == 127:
        n = struct.unpack("!Q", conn.read_exact(8, timeout))[0]
        assert 65536 <= n < 1 << 63, "64-bit length %d" % n
    assert not b1 & 0x80, "server frame is masked"
    payload = conn.read_exact(n, timeout) if n else b""
    return Frame(b0 >> 7, (b0 >> 4) & 7, b0 & 0x0F, payload)


def read_message(conn, timeout=None):
    """Reads one data message (joining fragments); control frames on the
    way are returned too: (opcode, payload, [control frames])."""
    controls = []
    parts = []
    opcode = None
    while True:
        f = read_frame(conn, timeout)
        if f.opcode >= 0x8:
            if f.opcode == OP_CLOSE:
                raise AssertionError("close %r instead of a message" % f)
            controls.append(f)
            continue
        if opcode is None:
            assert f.opcode in (OP_TEXT, OP_BINARY), f
            opcode = f.opcode
        else:
            assert f.opcode == OP_CONT, f
        parts.append(f.payload)
        if f.fin:
            return opcode, b"".join(parts), controls


def expect_close(conn, code, timeout=None, skip_pings=True):
    """Reads frames until a close frame and asserts its code (None: empty
    payload). Data frames before the close fail the test."""
    while True:
        try:
            f = read_frame(conn, timeout)
        except Closed:
            raise AssertionError("TCP closed without a close frame "
                                 "(want %r)" % code)
        if skip_pings and f.opcode == OP_PING:
            continue
        assert f.opcode == OP_CLOSE, "expected close %r, got %r" % (code, f)
        assert f.close_code == code, "close code %r, want %r (%r)" % (
            f.close_code, code, f.payload)
        if len(f.payload) > 2:
            f.payload[2:].decode("utf-8")    # the reason must be UTF-8
        return f


# --------------------------------------------------------------- processes


def proc_rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for %d" % pid)


class RssWatch:
    """Tracks a process's peak VmRSS above a baseline (kB)."""

    def __init__(self, pid):
        self.pid = pid
        self.base = proc_rss_kb(pid)
        self.peak = self.base

    def sample(self):
        """Takes a sample; returns the peak growth so far."""
        self.peak = max(self.peak, proc_rss_kb(self.pid))
        return self.peak - self.base


def proc_cpu_seconds(pid):
    """utime + stime of a process, in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        data = f.read()
    fields = data[data.rindex(")") + 2:].split()
    ticks = int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def selfsigned_cert(d):
    """Makes a self-signed EC certificate for localhost in directory d with
    the openssl command; returns (cert.pem, key.pem)."""
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                    "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-subj", "/CN=localhost", "-days", "2",
                    "-keyout", str(d / "key.pem"), "-out",
                    str(d / "cert.pem")], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return d / "cert.pem", d / "key.pem"


def port_free(port, host=HOST):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind((host, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def readable(sock, timeout):
    return bool(select.select([sock], [], [], timeout)[0])


def writable(sock, timeout):
    return bool(select.select([], [sock], [], timeout)[1])


# --------------------------------------------------------------- many clients


class WsStream:
    """A WebSocket on a non-blocking raw socket, for tests that drive many
    clients (or a slow one) from one loop. pump() reads what is there and
    returns the complete data messages as (opcode, payload); pings are
    skipped, a close frame is kept in close_frame (a Frame), EOF or a
    reset sets eof."""

    def __init__(self, sock, buffered=b""):
        self.sock = sock
        self.sock.setblocking(False)
        self.buf = bytearray(buffered)
        self.eof = False
        self.close_frame = None
        self._op = None
        self._parts = []

    def fileno(self):
        return self.sock.fileno()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data, timeout=TIMEOUT):
        """Sends everything (blocking up to timeout), then goes back to
        non-blocking reads."""
        self.sock.settimeout(timeout)
        try:
            self.sock.sendall(data)
        finally:
            self.sock.setblocking(False)

    def pump(self, max_reads=8):
        """Reads up to max_reads chunks without blocking; returns the
        complete messages buffered so far."""
        for _ in range(max_reads):
            if self.eof:
                break
            try:
                data = self.sock.recv(1 << 20)
            except (BlockingIOError, InterruptedError):
                break
            except (ConnectionResetError, BrokenPipeError):
                data = b""
            if not data:
                self.eof = True
                break
            self.buf += data
        return self._messages()

    def _messages(self):
        out = []
        buf = self.buf
        n = len(buf)
        i = 0
        while n - i >= 2:
            b0, b1 = buf[i], buf[i + 1]
            ln, h = b1 & 0x7F, 2
            if ln == 126:
                if n - i < 4:
                    break
                ln, h = int.from_bytes(buf[i + 2:i + 4], "big"), 4
            elif ln == 127:
                if n - i < 10:
                    break
                ln, h = int.from_bytes(buf[i + 2:i + 10], "big"), 10
            assert not b1 & 0x80, "server frame is masked"
            if n - i < h + ln:
                break
            fin, op = b0 >> 7, b0 & 0x0F
            assert not b0 & 0x70, "RSV bits in a server frame"
            payload = bytes(buf[i + h:i + h + ln])
            i += h + ln
            if op >= 0x8:
                if op == OP_CLOSE and self.close_frame is None:
                    self.close_frame = Frame(fin, 0, op, payload)
                continue
            if self._op is None:
                assert op in (OP_TEXT, OP_BINARY), "bad opcode %d" % op
                self._op = op
            else:
                assert op == OP_CONT, "opcode %d inside a message" % op
            self._parts.append(payload)
            if fin:
                msg = self._parts[0] if len(self._parts) == 1 else \
                    b"".join(self._parts)
                out.append((self._op, msg))
                self._op, self._parts = None, []
        del buf[:i]
        return out


def ws_connect_many(port, path, n, timeout=20.0, rcvbuf=None):
    """Opens n WebSockets by hand from one loop; returns [WsStream] in the
    order their 101 arrived. Raise RLIMIT_NOFILE first for big n."""
    pending = {}
    done = []
    deadline = time.monotonic() + timeout
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            if rcvbuf:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            s.settimeout(max(0.1, deadline - time.monotonic()))
            s.connect((HOST, port))
            key = ws_key()
            s.sendall(upgrade_request(path, key))
            s.setblocking(False)
            pending[s] = (key, bytearray())
            _ws_many_poll(pending, done, 0)
        while pending:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("%d of %d handshakes unanswered"
                                   % (len(pending), n))
            _ws_many_poll(pending, done, min(left, 0.5))
    except BaseException:
        for s in pending:
            s.close()
        for w in done:
            w.close()
        raise
    return done


def _ws_many_poll(pending, done, timeout):
    """Reads handshake responses; moves finished sockets to done."""
    if not pending:
        return
    # poll, not select: descriptors can pass FD_SETSIZE.
    poller = select.poll()
    byfd = {}
    for s in pending:
        poller.register(s, select.POLLIN)
        byfd[s.fileno()] = s
    for fd, _ in poller.poll(timeout * 1000):
        s = byfd[fd]
        key, buf = pending[s]
        try:
            data = s.recv(65536)
        except (BlockingIOError, InterruptedError):
            continue
        except ConnectionError:
            data = b""
        if not data:
            raise Closed("connection closed during the handshake; got %r"
                         % bytes(buf[:200]))
        buf += data
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            continue
        head = bytes(buf[:end]).decode("latin-1")
        assert head.startswith("HTTP/1.1 101 "), head
        accept = re.search(r"(?im)^Sec-WebSocket-Accept:\s*(\S+)\s*$", head)
        assert accept and accept.group(1) == ws_accept(key), head
        del pending[s]
        done.append(WsStream(s, buf[end + 4:]))


def ws_stream(conn):
    """Turns a Conn from ws_connect() into a WsStream (keeps its buffer)."""
    w = WsStream(conn.sock, conn.buf)
    conn.buf = bytearray()
    return w


def raise_nofile(n):
    """Raises this process's soft RLIMIT_NOFILE to at least n (children,
    such as wsd started afterwards, inherit it); returns the new limit."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < n:
        new = n if hard == resource.RLIM_INFINITY else min(n, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
        soft = new
    return soft


def tcp_queue_bytes(local_port, remote_port):
    """(tx_queue, rx_queue) of the IPv4 TCP socket local_port ->
    remote_port on 127.0.0.1, from /proc/net/tcp; None when absent."""
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            lport = int(fields[1].split(":")[1], 16)
            rport = int(fields[2].split(":")[1], 16)
            if lport == local_port and rport == remote_port:
                tx, rx = fields[4].split(":")
                return int(tx, 16), int(rx, 16)
    return None
