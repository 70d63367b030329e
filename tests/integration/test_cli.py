"""test_cli.py -- command line, config checks, embedded default, logging."""

import os
import re
import socket
import time

import pytest

import helpers
from helpers import run_wsd

pytestmark = pytest.mark.usefixtures("wsd_binary")


def write(path, text):
    path.write_text(text)
    return path


def good_config(tmp_path):
    root = tmp_path / "www"
    root.mkdir(exist_ok=True)
    (root / "index.html").write_text("hi\n")
    return helpers.make_config(root)


def test_help_exits_zero():
    rc, out = run_wsd(["-h"])
    assert rc == 0, out
    assert re.search(r"usage", out, re.I), out
    assert "-c" in out and "-t" in out, out


def package_version():
    """The version configure.ac declares."""
    text = (helpers.SRCDIR / "configure.ac").read_text()
    return re.search(r"AC_INIT\(\[wsd\],\s*\[([^]]+)\]", text).group(1)


def test_version_exits_zero():
    rc, out = run_wsd(["-V"])
    assert rc == 0, out
    assert package_version() in out, out


def test_server_header_has_version(wsd):
    d = wsd()
    r = helpers.http_get(d.port, "/index.html")
    assert r.header("Server") == "wsd/" + package_version(), r


def test_bad_option_fails():
    rc, out = run_wsd(["-Z"])
    assert rc != 0, out
    assert re.search(r"usage", out, re.I), out


def test_stray_argument_fails():
    rc, out = run_wsd(["extra"])
    assert rc != 0, out


def test_c_without_file_fails():
    rc, out = run_wsd(["-c"])
    assert rc != 0, out


def test_missing_config_file_fails(tmp_path):
    rc, out = run_wsd(["-t", "-c", str(tmp_path / "nope.ini")])
    assert rc == 1, out
    assert "nope.ini" in out, out


def test_check_good_config(tmp_path):
    f = write(tmp_path / "good.ini", good_config(tmp_path))
    rc, out = run_wsd(["-t", "-c", str(f)])
    assert rc == 0, out
    assert re.search(r"good\.ini: configuration OK", out), out


def test_check_does_not_start(tmp_path):
    # -t must not bind: a fixed port in the config stays free.
    text = good_config(tmp_path).replace("127.0.0.1:0", "127.0.0.1:1")
    f = write(tmp_path / "good.ini", text)
    rc, out = run_wsd(["-t", "-c", str(f)])
    assert rc == 0, out
    assert "listening" not in out, out


def test_check_typo_key_line_7(tmp_path):
    text = ("[server]\n"                        # 1
            "listen = 127.0.0.1:0\n"            # 2
            "log_level = info\n"                # 3
            "; a comment\n"                     # 4
            "\n"                                # 5
            "idle_timeout = 5s\n"               # 6
            "max_mesage_size = 1m\n"            # 7 typo
            "\n"
            "[route /echo]\n"
            "app = echo\n")
    f = write(tmp_path / "bad.ini", text)
    rc, out = run_wsd(["-t", "-c", str(f)])
    assert rc == 1, out
    assert re.search(r"bad\.ini:7: ", out), out
    assert "configuration OK" not in out, out


def test_check_reports_every_error(tmp_path):
    text = ("[server]\n"                        # 1
            "listen = 127.0.0.1:0\n"            # 2
            "bogus = 1\n"                       # 3 unknown key
            "max_connections = many\n"          # 4 bad number
            "\n"                                # 5
            "[route /echo]\n"                   # 6
            "app = nosuchapp\n")                # 7 unknown app
    f = write(tmp_path / "three.ini", text)
    rc, out = run_wsd(["-t", "-c", str(f)])
    assert rc == 1, out
    for line in (3, 4, 7):
        assert re.search(r"three\.ini:%d: " % line, out), (line, out)


# (name, config text, line the error must name). Every config is valid
# apart from the one problem.
ERROR_CASES = [
    ("unknown_section",
     "[server]\nlisten = 127.0.0.1:0\n[bogus]\nx = 1\n", 3),
    ("unknown_key",
     "[server]\nlisten = 127.0.0.1:0\nfoo = bar\n", 3),
    ("bad_number",
     "[server]\nlisten = 127.0.0.1:0\nmax_connections = 12x\n", 3),
    ("bad_size",
     "[server]\nlisten = 127.0.0.1:0\nmax_message_size = lots\n", 3),
    ("bad_duration",
     "[server]\nlisten = 127.0.0.1:0\nping_interval = soon\n", 3),
    ("bad_bool",
     "[server]\nlisten = 127.0.0.1:0\naccess_log = maybe\n", 3),
    ("bad_log_level",
     "[server]\nlisten = 127.0.0.1:0\nlog_level = loud\n", 3),
    ("bad_address",
     "[server]\nlisten = 127.0.0.1:0\nlisten = 300.1.2.3:80\n", 3),
    ("bad_address_no_port",
     "[server]\nlisten = 127.0.0.1\n", 2),
    ("bad_port",
     "[server]\nlisten = 127.0.0.1:70000\n", 2),
    ("empty_unknown_section",
     "[server]\nlisten = 127.0.0.1:0\n[bogus]\n", 3),
    ("empty_route",
     "[server]\nlisten = 127.0.0.1:0\n[route /x]\n\n[route /echo]\n"
     "app = echo\n", 3),
    ("route_path_not_absolute",
     "[server]\nlisten = 127.0.0.1:0\n[route echo]\napp = echo\n", 3),
    ("repeated_key",
     "[server]\nlisten = 127.0.0.1:0\nidle_timeout = 1s\n"
     "idle_timeout = 2s\n", 4),
    ("duplicate_route",
     "[server]\nlisten = 127.0.0.1:0\n[route /echo]\napp = echo\n"
     "[route /echo]\napp = echo\n", 5),
    ("unknown_app",
     "[server]\nlisten = 127.0.0.1:0\n[route /x]\napp = nosuchapp\n", 4),
    ("root_does_not_exist",
     "[server]\nlisten = 127.0.0.1:0\n[route /]\napp = static\n"
     "root = /nonexistent/wsd-test-root\n", 5),
    ("app_override_on_static",
     "[server]\nlisten = 127.0.0.1:0\n[route /]\napp = static\n"
     "root = {root}\nping_interval = 1s\n", 6),
]


@pytest.mark.parametrize("name,text,line", ERROR_CASES,
                         ids=[c[0] for c in ERROR_CASES])
def test_check_error_names_file_and_line(tmp_path, name, text, line):
    root = tmp_path / "www"
    root.mkdir()
    f = write(tmp_path / (name + ".ini"), text.format(root=root))
    rc, out = run_wsd(["-t", "-c", str(f)])
    assert rc == 1, out
    assert re.search(r"%s\.ini:%d: \S" % (name, line), out), out


def test_check_missing_static_root_key(tmp_path):
    text = ("[server]\n"
            "listen = 127.0.0.1:0\n"
            "[route /]\n"                       # 3
            "app = static\n")                   # 4
    f = write(tmp_path / "noroot.ini", text)
    rc, out = run_wsd(["-t", "-c", str(f)])
    assert rc == 1, out
    # Reported at the route's section or its app line.
    assert re.search(r"noroot\.ini:[34]: .*root", out), out


def test_check_route_without_app(tmp_path):
    text = ("[server]\n"
            "listen = 127.0.0.1:0\n"
            "[route /x]\n"                      # 3
            "max_message_size = 1k\n")          # 4
    f = write(tmp_path / "noapp.ini", text)
    rc, out = run_wsd(["-t", "-c", str(f)])
    assert rc == 1, out
    assert re.search(r"noapp\.ini:[34]: .*app", out), out


def test_check_long_line(tmp_path):
    long_root = "/tmp/" + "x" * 240
    text = ("[server]\n"
            "listen = 127.0.0.1:0\n"
            "[route /]\n"
            "app = static\n"
            "root = %s\n" % long_root)          # 5, 252 characters
    f = write(tmp_path / "long.ini", text)
    rc, out = run_wsd(["-t", "-c", str(f)])
    assert rc == 1, out
    assert re.search(r"long\.ini:5: .*too long", out, re.I), out


def test_config_error_at_start_exits_1(tmp_path):
    # Without -t the same errors stop the daemon before it listens.
    f = write(tmp_path / "bad.ini",
              "[server]\nlisten = 127.0.0.1:0\nfoo = 1\n")
    rc, out = run_wsd(["-c", str(f)])
    assert rc == 1, out
    assert re.search(r"bad\.ini:3: ", out), out
    assert "listening" not in out, out


def test_port_in_use_fails(wsd, tmp_path, static_root):
    d = wsd()
    text = helpers.make_config(static_root).replace(
        "127.0.0.1:0", "127.0.0.1:%d" % d.port)
    f = write(tmp_path / "clash.ini", text)
    rc, out = run_wsd(["-c", str(f)], timeout=10)
    assert rc != 0, out
    assert "127.0.0.1:%d" % d.port in out, out


def test_log_line_format(wsd):
    d = wsd()
    first_listen = [l for l in d.log_lines() if "listening on" in l][0]
    rx = (r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z wsd\[%d\]: info: "
          r"listening on 127\.0\.0\.1:%d$" % (d.pid, d.port))
    assert re.match(rx, first_listen), first_listen
    for line in d.log_lines():
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z wsd\[%d\]: "
                        r"(error|warn|info|debug): " % d.pid, line), line


def test_verbose_enables_debug(wsd, static_root):
    d = wsd(args=["-v"])
    helpers.http_get(d.port, "/index.html")
    d.wait_log(r"wsd\[\d+\]: debug: ")


def test_default_level_has_no_debug(wsd):
    d = wsd()
    r = helpers.http_get(d.port, "/index.html")
    assert r.status == 200
    d.wait_log(r"access: .*GET /index\.html")
    assert ": debug: " not in d.log_text()


def test_log_level_error_hides_info(wsd, static_root):
    d = wsd(helpers.make_config(static_root, server={"log_level": "error"}),
            listen=False)
    # "listening on" is info: hidden; give it time to log anything.
    time.sleep(0.5)
    assert d.alive(), d.log_text()
    assert ": info: " not in d.log_text(), d.log_text()


def test_access_log_off(wsd, static_root):
    d = wsd(helpers.make_config(static_root, server={"access_log": "off"}))
    assert helpers.http_get(d.port, "/index.html").status == 200
    time.sleep(0.3)
    assert "access: " not in d.log_text()


def test_listen_ipv6(wsd, static_root):
    try:
        s = socket.socket(socket.AF_INET6)
        s.bind(("::1", 0))
        s.close()
    except OSError:
        pytest.skip("no IPv6 loopback")
    text = helpers.make_config(static_root).replace(
        "listen = 127.0.0.1:0", "listen = 127.0.0.1:0\nlisten = [::1]:0")
    d = wsd(text)
    m = d.wait_log(r"listening on \[::1\]:(\d+)")
    with helpers.Conn(int(m.group(1)), host="::1") as c:
        c.send(helpers.request("GET", "/index.html"))
        assert helpers.read_response(c).status == 200


def test_embedded_default(wsd, tmp_path, srcdir):
    if not helpers.port_free(8080):
        pytest.skip("127.0.0.1:8080 is in use")
    for f in ("/usr/local/etc/wsd/wsd.ini", "/etc/wsd/wsd.ini"):
        if os.path.exists(f):
            pytest.skip("%s exists and would be used instead" % f)
    d = wsd(use_config=False, cwd=str(tmp_path))
    assert d.port == 8080
    assert re.search(r"default", d.log_lines()[0], re.I), d.log_lines()[0]
    r = helpers.http_get(8080, "/")
    assert r.status == 200, r
    assert r.header("Content-Type", "").startswith("text/html"), r
    assert b'href="hello.html"' in r.body, r.body[:500]
    # The apps are there too.
    with helpers.ws_connect(8080, "/echo") as c:
        c.send(helpers.frame(helpers.OP_TEXT, "ping?"))
        assert helpers.read_message(c)[:2] == (helpers.OP_TEXT, b"ping?")
    with helpers.ws_connect(8080, "/hello") as c:
        c.send(helpers.frame(helpers.OP_TEXT, "default"))
        assert helpers.read_message(c)[:2] == (helpers.OP_TEXT,
                                              b"Hello default!")
    assert helpers.http_get(8080, "/health").body == b"ok\n"
    assert helpers.http_get(8080, "/metrics").status == 200
