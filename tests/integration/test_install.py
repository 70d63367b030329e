"""test_install.py -- `make install DESTDIR=...` from the build tree.

The build tree is $WSD_BUILDDIR, else the directory of $WSD (a build tree
has a Makefile there). The installed tree is checked file by file, the
installed config is checked with the installed wsd (`-t`, its paths moved
under DESTDIR), a second install keeps a changed wsd.ini and uninstall
removes everything else.
"""

import os
import pathlib
import re
import subprocess

import pytest

from helpers import WSD

BUILDDIR = pathlib.Path(os.environ.get("WSD_BUILDDIR") or
                        pathlib.Path(WSD).resolve().parent)

pytestmark = pytest.mark.skipif(
    not (BUILDDIR / "Makefile").is_file(),
    reason="no build tree (Makefile) at %s: set WSD_BUILDDIR" % BUILDDIR)

DIRS = ("bindir", "sbindir", "sysconfdir", "pkgdatadir", "mandir",
        "systemdsystemunitdir")


def make(*args):
    p = subprocess.run(["make", "-s", "--no-print-directory", "-C",
                        str(BUILDDIR)] + list(args),
                       stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=300)
    assert p.returncode == 0, "make %s:\n%s%s" % (" ".join(args), p.stdout,
                                                p.stderr)
    return p.stdout


def install_dirs():
    """The build's installation directories, fully expanded by make."""
    rule = "wsd-print-dirs:\n\t@echo %s\n" % " ".join(
        "%s=$(%s)" % (d, d) for d in DIRS)
    p = subprocess.run(["make", "-s", "--no-print-directory", "-C",
                        str(BUILDDIR), "-f", "Makefile", "-f", "-",
                        "wsd-print-dirs"], input=rule, capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return dict(kv.split("=", 1) for kv in p.stdout.split())


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    dest = tmp_path_factory.mktemp("destdir")
    make("install", "DESTDIR=%s" % dest)
    return dest, install_dirs()


def under(dest, path):
    return dest / path.lstrip("/")


def test_install_tree(installed):
    dest, dirs = installed
    wsd = under(dest, dirs["sbindir"]) / "wsd"
    assert wsd.is_file() and os.access(wsd, os.X_OK), wsd
    assert (under(dest, dirs["sysconfdir"]) / "wsd" / "wsd.ini").is_file()
    www = under(dest, dirs["pkgdatadir"]) / "www"
    for page in ("index.html", "counter.html", "counter.js", "style.css"):
        assert (www / page).is_file(), page
    assert (under(dest, dirs["mandir"]) / "man8" / "wsd.8").is_file()
    assert (under(dest, dirs["mandir"]) / "man5" / "wsd.ini.5").is_file()
    # The logrotate snippet: rotates /var/log/wsd, then SIGUSR1.
    lr = (under(dest, dirs["sysconfdir"]) / "logrotate.d" / "wsd").read_text()
    assert "/var/log/wsd/*.log {" in lr and "SIGUSR1" in lr, lr
    out = subprocess.run([str(wsd), "-V"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("wsd "), out
    # The load generator and its page (issue 13).
    bench = under(dest, dirs["bindir"]) / "wsd-bench"
    assert bench.is_file() and os.access(bench, os.X_OK), bench
    assert (under(dest, dirs["mandir"]) / "man1" / "wsd-bench.1").is_file()
    out = subprocess.run([str(bench)], capture_output=True, text=True)
    assert out.returncode == 2 and "usage: wsd-bench" in out.stderr, out


def test_installed_units(installed):
    dest, dirs = installed
    if not dirs.get("systemdsystemunitdir"):
        pytest.skip("configured without systemd units")
    units = under(dest, dirs["systemdsystemunitdir"])
    service = (units / "wsd.service").read_text()
    ini = "%s/wsd/wsd.ini" % dirs["sysconfdir"]
    # The paths of this build, not the /usr/local of the source file.
    assert "ExecStart=%s/wsd -c %s\n" % (dirs["sbindir"], ini) in service
    assert "ExecStartPre=%s/wsd -t -c %s\n" % (dirs["sbindir"], ini) \
        in service
    assert "Type=notify" in service
    socket = (units / "wsd.socket").read_text()
    assert re.search(r"(?m)^ListenStream=127\.0\.0\.1:8080$", socket)


def test_installed_config_checks(installed, tmp_path):
    """The installed wsd.ini names the installed demo site; with its
    paths moved under DESTDIR the installed wsd accepts it."""
    dest, dirs = installed
    ini = (under(dest, dirs["sysconfdir"]) / "wsd" / "wsd.ini").read_text()
    www = "%s/www" % dirs["pkgdatadir"]
    assert re.search(r"(?m)^root = %s$" % re.escape(www), ini), ini
    assert "@WWWDIR@" not in ini
    moved = tmp_path / "wsd.ini"
    moved.write_text(ini.replace("root = " + www,
                                 "root = %s" % under(dest, www)))
    wsd = under(dest, dirs["sbindir"]) / "wsd"
    p = subprocess.run([str(wsd), "-t", "-c", str(moved)],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "configuration OK" in p.stderr


def test_reinstall_keeps_config_and_uninstall(tmp_path):
    dest = tmp_path / "dest"
    make("install", "DESTDIR=%s" % dest)
    dirs = install_dirs()
    ini = under(dest, dirs["sysconfdir"]) / "wsd" / "wsd.ini"
    ini.write_text(ini.read_text() + "\n; changed by the admin\n")
    out = make("install", "DESTDIR=%s" % dest)
    assert "keeping existing" in out, out
    assert ini.read_text().endswith("; changed by the admin\n")
    make("uninstall", "DESTDIR=%s" % dest)
    left = sorted(str(p.relative_to(dest)) for p in dest.rglob("*")
                  if p.is_file())
    assert left == [str(ini.relative_to(dest))], left
    # Unchanged, it goes with the rest.
    ini.unlink()
    make("install", "DESTDIR=%s" % dest)
    make("uninstall", "DESTDIR=%s" % dest)
    assert [p for p in dest.rglob("*") if p.is_file()] == []


def test_reinstall_puts_new_default_beside_kept_config(tmp_path):
    """An install that keeps a changed wsd.ini installs the new default
    beside it as wsd.ini.dist and says so; uninstall removes the .dist
    (unchanged) and keeps the admin's file."""
    dest = tmp_path / "dest"
    make("install", "DESTDIR=%s" % dest)
    dirs = install_dirs()
    ini = under(dest, dirs["sysconfdir"]) / "wsd" / "wsd.ini"
    dist = ini.with_name("wsd.ini.dist")
    default = ini.read_text()
    assert not dist.exists()
    ini.write_text("; the admin's own\n")
    out = make("install", "DESTDIR=%s" % dest)
    assert "keeping existing %s" % ini in out, out
    assert "the new default is %s" % dist in out, out
    assert ini.read_text() == "; the admin's own\n"
    assert dist.read_text() == default
    make("uninstall", "DESTDIR=%s" % dest)
    assert not dist.exists()
    assert ini.read_text() == "; the admin's own\n"
