"""Autobahn|Testsuite groups 1-7 once more, over TLS (wss): the same case
tables as test_conformance_{framing,fragments,utf8,close}.py against an
echo route on a TLS listener, where chops become TLS records of their own
and the server's TCP close comes after its close_notify."""

import ssl
import subprocess

import pytest

import conformance_lib
from test_conformance_close import CASES as CLOSE
from test_conformance_fragments import CASES as FRAGMENTS
from test_conformance_framing import CASES as FRAMING
from test_conformance_utf8 import CASES as UTF8

CASES = conformance_lib.Cases()
for _table in (FRAMING, FRAGMENTS, UTF8, CLOSE):
    CASES.update(_table)


@pytest.fixture(scope="module")
def tls_echo(wsd_module, tmp_path_factory):
    """(port, client ssl context) of a daemon with /echo on a TLS
    listener, serving a self-signed certificate for localhost."""
    d = tmp_path_factory.mktemp("cert")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost", "-addext",
                    "subjectAltName=DNS:localhost", "-keyout", str(key),
                    "-out", str(cert)], check=True, capture_output=True)
    text = conformance_lib.echo_config(server={"listen": "127.0.0.1:0 tls"})
    text += "\n[tls]\ncertificate = %s\nprivate_key = %s\n" % (cert, key)
    daemon = wsd_module(text)
    assert daemon.ports == [(daemon.port, True)], daemon.ports
    return daemon.port, ssl.create_default_context(cafile=str(cert))


def test_case_count():
    assert len(CASES) == len(FRAMING) + len(FRAGMENTS) + len(UTF8) + \
        len(CLOSE) == 246


@pytest.mark.parametrize("cid", CASES.ids())
def test_case(tls_echo, cid):
    port, ctx = tls_echo
    CASES.run(port, cid, ssl_context=ctx)
