"""test_admin.py -- what an admin meets first: long options, man pages
that lint clean and name the configured paths, and the README's examples
(the Python client right after ./run.sh, the TLS walk-through) working as
written.
"""

import os
import re
import shutil
import socket
import ssl
import subprocess

import pytest

import helpers
from helpers import SRCDIR, WSD

pytestmark = pytest.mark.usefixtures("wsd_binary")

README = SRCDIR / "README.md"


def run(argv, **kw):
    """Runs argv; returns the CompletedProcess (stdout, stderr apart)."""
    return subprocess.run(argv, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True,
                          timeout=kw.pop("timeout", 60), **kw)


def readme_section(title):
    """The text of the README section `## title`."""
    text = README.read_text()
    m = re.search(r"(?ms)^## %s\n(.*?)(?=^## )" % re.escape(title), text)
    assert m, "no section %r in README.md" % title
    return m.group(1)


def code_blocks(text, lang):
    return re.findall(r"(?ms)^```%s\n(.*?)^```" % lang, text)


# ------------------------------------------------------ --help, --version


def test_long_help_to_stdout():
    p = run([WSD, "--help"])
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("usage: wsd"), p.stdout
    assert p.stderr == "", p.stderr
    for opt in ("--config", "--test", "--verbose", "--version", "--help"):
        assert opt in p.stdout, (opt, p.stdout)


def test_long_version_to_stdout():
    p = run([WSD, "--version"])
    assert p.returncode == 0, p.stderr
    assert re.fullmatch(r"wsd \d+\.\d+\.\d+\n", p.stdout), p.stdout


def test_long_config_and_test(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    conf = tmp_path / "wsd.ini"
    conf.write_text(helpers.make_config(root))
    p = run([WSD, "--test", "--config", str(conf)])
    assert p.returncode == 0, p.stderr
    assert "wsd.ini: configuration OK" in p.stderr, p.stderr
    p = run([WSD, "--test", "--config=%s" % conf])
    assert p.returncode == 0, p.stderr


def test_unknown_long_option_fails_with_usage_on_stderr():
    p = run([WSD, "--no-such-option"])
    assert p.returncode == 1, p
    assert p.stdout == "", p.stdout
    assert "usage: wsd" in p.stderr, p.stderr


# -------------------------------------------------------------- man pages


def test_man_pages_lint_clean_at_style_level():
    """mandoc -T lint -W style on man/* (tests/lint_man.sh) says nothing."""
    if not shutil.which("mandoc"):
        pytest.skip("mandoc not installed")
    p = run([str(SRCDIR / "tests" / "lint_man.sh")])
    assert p.returncode == 0 and p.stdout == "", p.stdout + p.stderr


@pytest.fixture(scope="module")
def etc_build(tmp_path_factory):
    """A build tree configured as a distribution would, with only the man
    pages made."""
    if not (SRCDIR / "configure").is_file():
        pytest.skip("no configure in %s (autoreconf -fi)" % SRCDIR)
    build = tmp_path_factory.mktemp("etc-build")
    p = run([str(SRCDIR / "configure"), "--prefix=/usr", "--sysconfdir=/etc",
             "--with-systemdsystemunitdir=/lib/systemd/system"],
            cwd=build, timeout=300)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr
    p = run(["make", "-s", "gen/wsd.8", "gen/wsd.ini.5", "gen/wsd-bench.1"],
            cwd=build, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    return build


def test_built_man_pages_name_configured_paths(etc_build):
    wsd8 = (etc_build / "gen" / "wsd.8").read_text()
    ini5 = (etc_build / "gen" / "wsd.ini.5").read_text()
    assert ".It Pa /etc/wsd/wsd.ini\n" in wsd8
    assert ".It Pa /usr/share/wsd/www\n" in wsd8
    assert "$ wsd -t -c /etc/wsd/wsd.ini\n" in wsd8
    assert ".It Pa /etc/wsd/wsd.ini\n" in ini5
    assert "root = /usr/share/wsd/www\n" in ini5
    for page in ("wsd.8", "wsd.ini.5", "wsd-bench.1"):
        text = (etc_build / "gen" / page).read_text()
        assert "/usr/local" not in text, page
    # The installed pages are these.
    p = run(["make", "-s", "install-man", "DESTDIR=%s" % (etc_build / "d")],
            cwd=etc_build)
    assert p.returncode == 0, p.stdout + p.stderr
    inst = (etc_build / "d" / "usr/share/man/man8/wsd.8").read_text()
    assert inst == wsd8


def test_source_man_pages_name_usr_local():
    """The pages in man/ are the templates: /usr/local, the default."""
    assert ".It Pa /usr/local/etc/wsd/wsd.ini\n" in \
        (SRCDIR / "man" / "wsd.8").read_text()


# ---------------------------------------------------- README quick start


def test_run_sh_installs_the_python_client():
    """./run.sh installs what the README's Python example imports."""
    run_sh = (SRCDIR / "run.sh").read_text()
    m = re.search(r"(?m)^wsd_deps (\w+)$", run_sh)
    assert m, run_sh
    p = run(["bash", "-c", '. tests/lib/deps.sh && wsd_pkgs "$1"', "-",
             m.group(1)], cwd=SRCDIR)
    assert p.returncode == 0, p.stderr
    assert "python3-websockets" in p.stdout.split(), p.stdout


def test_readme_python_example(wsd, tmp_path):
    """The Quick start's Python example, against the embedded default's
    /hello route (on a free port instead of 8080)."""
    quick = readme_section("Quick start")
    (example,) = code_blocks(quick, "python")
    d = wsd()
    assert "ws://127.0.0.1:8080/hello" in example
    script = tmp_path / "example.py"
    script.write_text(example.replace("127.0.0.1:8080",
                                      "127.0.0.1:%d" % d.port))
    p = run(["/usr/bin/python3", str(script)], timeout=30)
    assert p.returncode == 0, p.stderr
    assert p.stdout == "Hello world!\n", p.stdout


# ------------------------------------------------- README TLS walk-through


def tls_walkthrough():
    """(shell commands, wsd.ini text, run command) of the README's TLS
    walk-through."""
    tls = readme_section("TLS")
    sh = code_blocks(tls, "sh")
    # The walk-through's config is the section's last (virtual hosts
    # come first).
    ini = code_blocks(tls, "ini")[-1]
    m = re.search(r"Run `([^`]+)`", tls)
    assert m, tls
    return sh[0], ini, m.group(1)


def test_tls_walkthrough_files_are_ignored_by_git():
    """The files the walk-through makes in the source tree are ignored."""
    commands, _, _ = tls_walkthrough()
    m = re.match(r"mkdir (?:-p )?(\S+) && cd \1\n", commands)
    assert m, commands
    if not (SRCDIR / ".git").exists():
        pytest.skip("not a git checkout")
    for f in ("cert.pem", "key.pem", "wsd.ini"):
        path = "%s/%s" % (m.group(1), f)
        p = run(["git", "-C", str(SRCDIR), "check-ignore", "-q", path])
        assert p.returncode == 0, "%s is not ignored by git" % path


def test_tls_walkthrough_works(wsd, tmp_path):
    """The walk-through's commands, in a copy of the tree's layout (www/
    and the build directory ./run.sh makes), serve https."""
    commands, ini, runcmd = tls_walkthrough()
    tree = tmp_path / "tree"
    tree.mkdir()
    os.symlink(SRCDIR / "www", tree / "www")
    m = re.fullmatch(r"\.\./(\S+) -c wsd\.ini", runcmd)
    assert m, runcmd
    # The README runs the binary ./run.sh builds: build/wsd.
    assert m.group(1) == "build/wsd", runcmd
    p = run(["sh", "-ec", commands], cwd=tree)
    assert p.returncode == 0, p.stderr
    tlsdir = tree / re.match(r"mkdir (?:-p )?(\S+)", commands).group(1)
    assert (tlsdir / "cert.pem").is_file() and (tlsdir / "key.pem").is_file()
    assert "listen = 127.0.0.1:8443 tls" in ini
    d = wsd(ini.replace("127.0.0.1:8443", "127.0.0.1:0"), cwd=tlsdir,
            config_file=tlsdir / "wsd.ini")
    ctx = ssl.create_default_context(cafile=str(tlsdir / "cert.pem"))
    with socket.create_connection(("127.0.0.1", d.port), timeout=5) as s:
        with ctx.wrap_socket(s, server_hostname="localhost") as t:
            t.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n"
                      b"Connection: close\r\n\r\n")
            data = b""
            while True:
                chunk = t.recv(65536)
                if not chunk:
                    break
                data += chunk
    assert data.startswith(b"HTTP/1.1 200 "), data[:200]
    assert b"<html" in data.lower()
