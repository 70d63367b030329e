"""test_config_admin.py -- what an admin checks and changes: `wsd -t`
reports every error in one run, `-l` overrides the listeners, the
source tree's etc/wsd.ini checks as it is, `include` pulls in other
files, `-T` prints the effective configuration, and a reload logs what
it changed."""

import os
import re
import shutil
import signal
import socket

import pytest

import helpers
from helpers import OP_TEXT, read_message, run_wsd

pytestmark = pytest.mark.usefixtures("wsd_binary")

LISTEN_RX = r"listening on 127\.0\.0\.1:(\d+)"


def write(path, text):
    path.write_text(text)
    return path


def free_port():
    """A port nothing listens on (the kernel's pick, closed again)."""
    s = socket.socket()
    s.bind((helpers.HOST, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def echo(port, path="/echo", text="hi"):
    with helpers.ws_connect(port, path) as c:
        c.send(helpers.frame(OP_TEXT, text))
        assert read_message(c)[:2] == (OP_TEXT, text.encode())


def check_fails(path, text=None, args=()):
    """wsd -t on path (written first when text is given) must fail;
    returns what it printed."""
    if text is not None:
        write(path, text)
    rc, out = run_wsd(["-t", "-c", str(path)] + list(args))
    assert rc == 1, out
    return out


def sighup(d, text=None, conf=None, ok=True):
    """Rewrites the config (if text) and sends SIGHUP; returns the log
    from the signal on, once the reload is over."""
    if text is not None:
        helpers.write_config(conf, text)
    mark = d.log_mark()
    d.kill(signal.SIGHUP)
    d.wait_log(r"SIGHUP: configuration reloaded" if ok else
               r"SIGHUP: reload failed", start=mark)
    return d.log_text()[mark:]


# ---------------------------------------------------------------- item 3:
# every error, every line, one run


def test_check_reports_tls_file_errors_with_the_others(tmp_path):
    """Missing certificate and key files are reported at their own lines,
    in the same run as the file's other errors."""
    text = ("[server]\n"                                # 1
            "listen = 127.0.0.1:0 tls\n"                # 2
            "bogus = 1\n"                               # 3
            "[tls]\n"                                   # 4
            "certificate = %s\n"                        # 5
            "private_key = missing.key\n"               # 6
            "[route /echo]\n"                           # 7
            "app = nosuchapp\n"                         # 8
            % (tmp_path / "missing.pem"))
    out = check_fails(tmp_path / "all.ini", text)
    assert re.search(r"all\.ini:3: unknown key \"bogus\"", out), out
    assert re.search(r"all\.ini:5: certificate \".*missing\.pem\": "
                     r"No such file or directory", out), out
    assert re.search(r"all\.ini:6: private_key \".*missing\.key\": "
                     r"No such file or directory", out), out
    assert re.search(r"all\.ini:8: unknown app", out), out
    assert "all.ini:4:" not in out, out


def test_check_reports_missing_private_key(tmp_path):
    """No private_key key, and a certificate file that is not there: both
    are reported."""
    text = ("[server]\nlisten = 127.0.0.1:0 tls\n"
            "[tls]\n"                                   # 3
            "certificate = gone.pem\n")                 # 4
    out = check_fails(tmp_path / "nokey.ini", text)
    assert re.search(r"nokey\.ini:3: \[tls\]: missing \"private_key\"",
                     out), out
    assert re.search(r"nokey\.ini:4: certificate \".*gone\.pem\": No such",
                     out), out


def test_check_reports_bad_pem_with_the_others(tmp_path):
    """A certificate that does not load, or a key that does not match,
    is reported at its key's line in the same run as other errors."""
    write(tmp_path / "garbage.pem", "not a certificate\n")
    text = ("[server]\n"                                # 1
            "listen = 127.0.0.1:0 tls\n"                # 2
            "foo = 1\n"                                 # 3
            "[tls]\n"                                   # 4
            "certificate = garbage.pem\n"               # 5
            "private_key = garbage.pem\n")              # 6
    out = check_fails(tmp_path / "pem.ini", text)
    assert re.search(r"pem\.ini:3: unknown key \"foo\"", out), out
    assert re.search(r"pem\.ini:5: cannot load certificate .*garbage\.pem",
                     out), out
    # Another pair's key: blamed on private_key.
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    helpers.selfsigned_cert(one)
    helpers.selfsigned_cert(two)
    text = text.replace("garbage.pem\n", "one/cert.pem\n", 1).replace(
        "garbage.pem", "two/key.pem")
    out = check_fails(tmp_path / "pair.ini", text)
    assert re.search(r"pair\.ini:3: unknown key \"foo\"", out), out
    assert re.search(r"pair\.ini:6: .*private key .*two/key\.pem.*"
                     r"mismatch", out), out


def test_check_reads_a_duplicate_server_section(tmp_path):
    """A second [server] is an error, and its keys are checked all the
    same: a bad listen in it is reported, not skipped."""
    text = ("[server]\n"                                # 1
            "listen = 127.0.0.1:0\n"                    # 2
            "[route /echo]\n"                           # 3
            "app = echo\n"                              # 4
            "[server]\n"                                # 5
            "listen = 127.0.0.1\n"                      # 6
            "idle_timeout = forever\n")                 # 7
    out = check_fails(tmp_path / "dup.ini", text)
    assert re.search(r"dup\.ini:5: duplicate \[server\] section", out), out
    assert re.search(r"dup\.ini:6: listen: invalid address", out), out
    assert re.search(r"dup\.ini:7: idle_timeout: invalid duration", out), out


# ---------------------------------------------------------------- item 4:
# -l, and etc/wsd.ini from the source tree


def test_listen_option_replaces_the_listen_lines(wsd, static_root):
    port = free_port()
    text = helpers.make_config(static_root).replace(
        "listen = 127.0.0.1:0", "listen = 127.0.0.1:0\nlisten = [::1]:0")
    d = wsd(text, args=["-l", "127.0.0.1:%d" % port], listen=False)
    d.wait_log(LISTEN_RX)
    assert re.findall(r"listening on (\S+)", d.log_text()) == [
        "127.0.0.1:%d" % port], d.log_text()
    assert helpers.http_get(port, "/index.html").status == 200
    # A reload reads the file again, -l still wins.
    log = sighup(d)
    assert "listening on" not in log, log
    assert helpers.http_get(port, "/index.html").status == 200


def test_listen_option_repeats(wsd, static_root):
    ports = [free_port(), free_port()]
    while ports[1] == ports[0]:
        ports[1] = free_port()
    d = wsd(args=["-l", "127.0.0.1:%d" % ports[0],
                  "-l", "127.0.0.1:%d" % ports[1]], listen=False)
    for p in ports:
        d.wait_log(r"listening on 127\.0\.0\.1:%d" % p)
        echo(p)


def test_listen_option_with_embedded_default(wsd, tmp_path):
    for f in ("/usr/local/etc/wsd/wsd.ini", "/etc/wsd/wsd.ini"):
        if os.path.exists(f):
            pytest.skip("%s exists and would be used instead" % f)
    port = free_port()
    d = wsd(use_config=False, args=["-l", "127.0.0.1:%d" % port],
            cwd=str(tmp_path), listen=False)
    d.wait_log(r"listening on 127\.0\.0\.1:%d" % port)
    assert "8080" not in d.log_text(), d.log_text()
    r = helpers.http_get(port, "/")
    assert r.status == 200 and b"hello.html" in r.body, r


def test_listen_option_errors(tmp_path, static_root):
    out = check_fails(tmp_path / "ok.ini", helpers.make_config(static_root),
                      ["-l", "localhost", "-l", "127.0.0.1:1 tls"])
    assert re.search(r"^-l: listen: invalid address \"localhost\"", out,
                     re.M), out
    assert re.search(r"^-l: listen 127\.0\.0\.1:1 tls: no \[tls\] section",
                     out, re.M), out


def test_source_tree_example_checks_as_it_is(srcdir):
    ini = srcdir / "etc" / "wsd.ini"
    assert re.search(r"(?m)^root = \.\./www$", ini.read_text())
    rc, out = run_wsd(["-t", "-c", str(ini)])
    assert rc == 0, out
    assert "configuration OK" in out, out
    # From etc/ itself too: relative to the file, not the cwd.
    rc, out = run_wsd(["-t", "-c", "wsd.ini"], cwd=str(srcdir / "etc"))
    assert rc == 0, out
    # The root is the tree's www/.
    rc, out = run_wsd(["-T", "-c", str(ini)])
    assert rc == 0, out
    assert re.search(r"(?m)^root = %s$" % re.escape(
        os.path.realpath(srcdir / "www")), out), out


def test_source_tree_example_serves_on_any_port(wsd, srcdir):
    port = free_port()
    d = wsd(use_config=False, listen=False,
            args=["-c", str(srcdir / "etc" / "wsd.ini"),
                  "-l", "127.0.0.1:%d" % port])
    d.wait_log(r"listening on 127\.0\.0\.1:%d" % port)
    r = helpers.http_get(port, "/")
    assert r.status == 200 and b"hello.html" in r.body, r
    echo(port)


# ---------------------------------------------------------------- item 12:
# include, -T


def include_tree(tmp_path, static_root):
    """main.ini in etc/ including etc/conf.d/*.ini (two routes, a README
    that is no .ini)."""
    etc = tmp_path / "etc"
    (etc / "conf.d").mkdir(parents=True)
    write(etc / "main.ini",
          "[server]\n"
          "listen = 127.0.0.1:0\n"
          "idle_timeout = 1s\n"
          "include = conf.d/*.ini\n"
          "\n"
          "[route /]\n"
          "app = static\n"
          "root = %s\n" % static_root)
    write(etc / "conf.d" / "20-time.ini",
          "[route /time]\napp = time\ninterval_min = 100ms\n"
          "interval_max = 200ms\n")
    write(etc / "conf.d" / "10-echo.ini",
          "; echo, for the tests\n[route /echo]\napp = echo\n")
    write(etc / "conf.d" / "README", "not a config file\n")
    return etc


def test_include_glob_sorted_relative_to_the_file(tmp_path, static_root):
    etc = include_tree(tmp_path, static_root)
    # From another directory: the pattern is the including file's.
    rc, out = run_wsd(["-T", "-c", str(etc / "main.ini")], cwd="/")
    assert rc == 0, out
    sections = re.findall(r"(?m)^\[(.*)\]$", out)
    # The included routes where the include line stands, sorted.
    assert sections == ["server", "route /echo", "route /time",
                        "route /"], out
    assert not re.search(r"(?m)^include", out), out


def test_include_serves_included_routes(wsd, tmp_path, static_root):
    etc = include_tree(tmp_path, static_root)
    d = wsd(use_config=False, args=["-c", str(etc / "main.ini")])
    echo(d.port)
    with helpers.ws_connect(d.port, "/time") as c:
        assert read_message(c)[0] == OP_TEXT
    # A new file in conf.d is read by the next reload.
    write(etc / "conf.d" / "30-hello.ini", "[route /hello]\napp = hello\n")
    log = sighup(d)
    assert re.search(r"info: SIGHUP: route /hello added \(app hello\)",
                     log), log
    with helpers.ws_connect(d.port, "/hello") as c:
        c.send(helpers.frame(OP_TEXT, "conf.d"))
        assert read_message(c)[:2] == (OP_TEXT, b"Hello conf.d!")


def test_include_errors_name_the_included_file(tmp_path, static_root):
    etc = include_tree(tmp_path, static_root)
    write(etc / "conf.d" / "20-time.ini",
          "[route /time]\n"                             # 1
          "app = time\n"                                # 2
          "interval_mn = 1s\n")                         # 3 typo
    with open(etc / "main.ini", "a") as f:
        f.write("bogus = 1\n")                          # main.ini:9
    out = check_fails(etc / "main.ini")
    assert re.search(r"conf\.d/20-time\.ini:3: unknown key \"interval_mn\"",
                     out), out
    assert re.search(r"main\.ini:9: unknown key \"bogus\"", out), out


def test_include_missing_file(tmp_path):
    f = write(tmp_path / "m.ini", "[server]\nlisten = 127.0.0.1:0\n"
              "include = nothere.ini\n"                 # 3
              "include = none.d/*.ini\n")               # 4: may be empty
    out = check_fails(f)
    assert re.search(r"m\.ini:3: include \".*nothere\.ini\": No such file",
                     out), out
    assert "m.ini:4" not in out, out


def test_include_loop_refused(tmp_path):
    write(tmp_path / "a.ini", "[server]\nlisten = 127.0.0.1:0\n"
          "include = b.ini\n")
    write(tmp_path / "b.ini", "; b\n"
          "include = ./a.ini\n")                        # 2
    out = check_fails(tmp_path / "a.ini")
    assert re.search(r"b\.ini:2: include \".*a\.ini\": include loop", out), \
        out
    # Including itself.
    write(tmp_path / "c.ini", "include = c.ini\n")
    out = check_fails(tmp_path / "c.ini")
    assert re.search(r"c\.ini:1: include .*include loop", out), out


def test_print_effective_config(tmp_path, static_root):
    """-T: every section, defaults shown, includes resolved, relative
    paths made absolute; wsd accepts what it prints, and printing that
    again gives the same."""
    etc = include_tree(tmp_path, static_root)
    cert, key = helpers.selfsigned_cert(etc)
    with open(etc / "main.ini", "a") as f:
        f.write("[tls]\ncertificate = cert.pem\nprivate_key = key.pem\n")
    rc, out = run_wsd(["-T", "-c", str(etc / "main.ini"),
                       "-l", "127.0.0.1:0 tls"])
    assert rc == 0, out
    text = out[:out.rindex("\n[route /time]")]
    assert re.search(r"(?m)^listen = 127\.0\.0\.1:0 tls$", out), out
    assert re.search(r"(?m)^idle_timeout = 1s$", out), out
    assert re.search(r"(?m)^max_connections = 10000$", out), out
    assert re.search(r"(?m)^max_message_size = 1m$", text), out
    assert re.search(r"(?m)^certificate = %s$" % re.escape(str(cert)),
                     out), out
    assert re.search(r"(?m)^interval_min = 100ms$", out), out
    assert re.search(r"(?m)^compression = shared$", out) is None, out
    assert "conf.d/10-echo.ini" in out, out
    printed = write(tmp_path / "printed.ini",
                    re.sub(r"(?m)^.*: configuration OK\n?", "", out))
    rc, again = run_wsd(["-T", "-c", str(printed)])
    assert rc == 0, again
    strip = lambda s: re.sub(r"(?m)^;.*\n|^.*configuration OK\n?", "", s)
    assert strip(again) == strip(printed.read_text()), again


def test_print_embedded_default(tmp_path):
    for f in ("/usr/local/etc/wsd/wsd.ini", "/etc/wsd/wsd.ini"):
        if os.path.exists(f):
            pytest.skip("%s exists and would be used instead" % f)
    rc, out = run_wsd(["-T"], cwd=str(tmp_path))
    assert rc == 0, out
    assert "(embedded)" in out, out
    for path in ("/", "/echo", "/metrics", "/health"):
        assert "[route %s]" % path in out, out


def test_print_bad_config_fails(tmp_path):
    f = write(tmp_path / "bad.ini", "[server]\nfoo = 1\n")
    rc, out = run_wsd(["-T", "-c", str(f)])
    assert rc == 1, out
    assert not re.search(r"(?m)^\[server\]$", out), out
    assert re.search(r"bad\.ini:2: ", out), out


# ---------------------------------------------------------------- item 10:
# a reload logs what changed


def test_reload_logs_what_changed(wsd, tmp_path, static_root):
    conf = tmp_path / "r.ini"
    port = free_port()
    d = wsd(helpers.make_config(routes=[("/echo", {"app": "echo"}),
                                        ("/time", {"app": "time"})],
                                server={"listen": "127.0.0.1:%d" % port}),
            config_file=conf)
    assert d.port == port
    text = helpers.make_config(
        routes=[("/echo", {"app": "echo", "ping_interval": "5s"}),
                ("/hello", {"app": "hello"})],
        server={"idle_timeout": "2s"})
    text = text.replace("listen = 127.0.0.1:0",
                        "listen = 127.0.0.1:%d\nlisten = 127.0.0.1:0"
                        % port)
    log = sighup(d, text, conf)
    info = r"info: SIGHUP: "
    assert re.search(info + r"route /hello added \(app hello\)", log), log
    assert re.search(info + r"route /time removed \(app time\)", log), log
    assert re.search(info + r"route /echo changed: ping_interval 20s -> 5s",
                     log), log
    assert re.search(info + r"\[server\] changed: idle_timeout 1s -> 2s",
                     log), log
    m = re.search(r"info: listening on 127\.0\.0\.1:(\d+)", log)
    assert m and int(m.group(1)) != d.port, log
    new_port = int(m.group(1))
    # One line each, nothing about what stayed.
    assert len(re.findall(r"SIGHUP: route ", log)) == 3, log
    # The second listener goes again; nothing else changed.
    log = sighup(d, text.replace("listen = 127.0.0.1:0\n", ""), conf)
    assert re.search(r"info: no longer listening on 127\.0\.0\.1:%d"
                     % new_port, log), log
    assert not re.search(r"SIGHUP: (route|\[server\])", log), log
    echo(d.port)


def test_reload_logs_certificate_replaced(wsd, tmp_path, static_root):
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    cert, key = helpers.selfsigned_cert(one)
    helpers.selfsigned_cert(two)
    conf = tmp_path / "t.ini"
    text = helpers.make_config(static_root) + (
        "\n[tls]\ncertificate = one/cert.pem\nprivate_key = one/key.pem\n")
    d = wsd(text, config_file=conf)
    log = sighup(d)
    assert re.search(r"info: SIGHUP: tls: certificate reloaded: %s "
                     r"unchanged \(sha256 [0-9A-F:]{95}\)"
                     % re.escape(str(cert)), log), log
    shutil.copy(two / "cert.pem", cert)
    shutil.copy(two / "key.pem", key)
    log = sighup(d)
    m = re.search(r"info: SIGHUP: tls: certificate reloaded: \S+ replaced "
                  r"\(sha256 ([0-9A-F:]+), was ([0-9A-F:]+)\)", log)
    assert m and m.group(1) != m.group(2), log
