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
