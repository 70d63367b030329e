"""test_jwt.py -- signed tokens: auth_jwt_key_file with HS256 (a shared
secret), RS256 and ES256 (PEM public keys); tokens made here with hmac and
the openssl command line; Bearer header and ?token=; refusals (bad
signature, alg none, expired, not yet valid) answered 401; an open
connection closed with 1008 when its token expires (jwt_expire_close); a
new key picked up by SIGHUP."""

import base64
import hashlib
import hmac
import json
import signal
import subprocess
import time

import pytest

import helpers
from helpers import (Conn, OP_TEXT, expect_close, frame, read_message,
                     read_response, upgrade_request, ws_accept, ws_key)

SECRET = b"0123456789abcdef0123456789abcdef-integration"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def signing_input(alg, claims, header=None):
    head = {"alg": alg, "typ": "JWT"}
    head.update(header or {})
    return (b64url(json.dumps(head).encode()) + "." +
            b64url(json.dumps(claims).encode()))


def hs256(claims, secret=SECRET, alg="HS256"):
    si = signing_input(alg, claims)
    sig = hmac.new(secret, si.encode(), hashlib.sha256).digest()
    return si + "." + b64url(sig)


def der_to_raw(der):
    """ECDSA-Sig-Value (SEQUENCE of INTEGER r, s) to R || S, 32 bytes each
    (RFC 7518 3.4)."""
    assert der[0] == 0x30
    i = 2 if der[1] < 0x80 else 2 + (der[1] & 0x7f)
    out = b""
    for _ in range(2):
        assert der[i] == 0x02
        n = der[i + 1]
        out += der[i + 2:i + 2 + n].lstrip(b"\0").rjust(32, b"\0")
        i += 2 + n
    return out


def openssl_sign(priv, claims, alg):
    si = signing_input(alg, claims)
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", str(priv)],
                         input=si.encode(), stdout=subprocess.PIPE,
                         check=True, timeout=30).stdout
    if alg == "ES256":
        sig = der_to_raw(sig)
    return si + "." + b64url(sig)


def make_keypair(d, name, kind):
    """A private key and its PEM public key, with the openssl command."""
    priv, pub = d / (name + ".key"), d / (name + ".pub")
    opts = (["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]
            if kind == "rsa" else
            ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"])
    subprocess.run(["openssl", "genpkey"] + opts + ["-out", str(priv)],
                   check=True, timeout=60, capture_output=True)
    subprocess.run(["openssl", "pkey", "-in", str(priv), "-pubout", "-out",
                    str(pub)], check=True, timeout=30, capture_output=True)
    return priv, pub


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    d = tmp_path_factory.mktemp("jwtkeys")
    secret = d / "hs.secret"
    secret.write_bytes(SECRET + b"\n")
    rsa = make_keypair(d, "rsa", "rsa")
    ec = make_keypair(d, "ec", "ec")
    return {"dir": d, "secret": secret, "rsa": rsa, "ec": ec}


def later(s):
    return int(time.time()) + s


def handshake(port, path, token=None, query=False):
    """A raw upgrade; returns (Conn, Response); the caller closes the Conn."""
    key = ws_key()
    extra = {}
    if token is not None and query:
        path += "?token=" + token
    elif token is not None:
        extra["Authorization"] = "Bearer " + token
    c = Conn(port)
    c.send(upgrade_request(path, key, extra=extra))
    r = read_response(c, head_request=True)
    if r.status == 101:
        assert r.header("Sec-WebSocket-Accept") == ws_accept(key), r
    else:
        r.body = c.read_exact(int(r.header("Content-Length")))
    return c, r


def status(port, path, token=None, query=False):
    c, r = handshake(port, path, token, query)
    c.close()
    return r


def echo_once(port, path, token, query=False):
    c, r = handshake(port, path, token, query)
    try:
        assert r.status == 101, r
        c.send(frame(OP_TEXT, b"signed"))
        assert read_message(c)[:2] == (OP_TEXT, b"signed")
    finally:
        c.close()


def jwt_config(static_root, keys, **extra):
    routes = [
        ("/", {"app": "static", "root": str(static_root),
               "auth_jwt_key_file": str(keys["secret"])}),
        ("/hs", {"app": "echo", "auth_jwt_key_file": str(keys["secret"])}),
        ("/rs", {"app": "echo", "auth_jwt_key_file": str(keys["rsa"][1])}),
        ("/es", {"app": "echo", "auth_jwt_key_file": str(keys["ec"][1])}),
    ]
    for path, k in routes:
        if path != "/":
            k.update(extra)
    return helpers.make_config(static_root, routes=routes)


def test_jwt_valid_tokens_accepted(wsd, static_root, keys):
    d = wsd(jwt_config(static_root, keys))
    claims = {"sub": "ann", "exp": later(300), "nbf": later(-10)}
    echo_once(d.port, "/hs", hs256(claims))
    echo_once(d.port, "/rs", openssl_sign(keys["rsa"][0], claims, "RS256"))
    echo_once(d.port, "/es", openssl_sign(keys["ec"][0], claims, "ES256"))
    # No claims at all is a valid token too.
    echo_once(d.port, "/hs", hs256({}))
    # Plain HTTP routes take a token as well.
    assert helpers.http_get(d.port, "/", headers={
        "Authorization": "Bearer " + hs256(claims)}).status == 200
    assert helpers.http_get(d.port, "/").status == 401


def test_jwt_query_token(wsd, static_root, keys):
    d = wsd(jwt_config(static_root, keys))
    tok = openssl_sign(keys["ec"][0], {"exp": later(300)}, "ES256")
    echo_once(d.port, "/es", tok, query=True)
    # The token never reaches the log, neither does the query value.
    assert tok not in d.log_text()
    assert tok.split(".")[2] not in d.log_text()


def test_jwt_refusals(wsd, static_root, keys):
    d = wsd(jwt_config(static_root, keys))
    good = {"exp": later(300)}
    cases = [
        ("/hs", None, "missing token"),
        ("/hs", hs256(good, secret=SECRET + b"x"), "bad signature"),
        ("/hs", signing_input("none", good) + ".", "alg is not the key's"),
        ("/hs", hs256(good, alg="none"), "alg is not the key's"),
        ("/hs", hs256({"exp": later(-100)}), "token expired"),
        ("/hs", hs256({"nbf": later(300)}), "token not yet valid"),
        ("/hs", "garbage", "malformed token"),
        # An RS256 token offered to the EC key, an HS256 one to the RSA
        # key signed with its public PEM: alg confusion never passes.
        ("/es", openssl_sign(keys["rsa"][0], good, "RS256"),
         "alg is not the key's"),
        ("/rs", hs256(good, secret=keys["rsa"][1].read_bytes()),
         "alg is not the key's"),
        ("/rs", openssl_sign(keys["rsa"][0], {"exp": later(-100)}, "RS256"),
         "token expired"),
    ]
    for path, tok, why in cases:
        mark = d.log_mark()
        r = status(d.port, path, tok)
        assert r.status == 401, (path, why, r)
        assert r.header("WWW-Authenticate") == "Bearer"
        assert why.encode() in r.body, (why, r.body)
        d.wait_log(r"handshake refused: " + why, start=mark)
    # Within the default leeway of 30 s, an expired token still passes.
    echo_once(d.port, "/hs", hs256({"exp": later(-5)}))
    assert d.alive()


def test_jwt_expiry_closes_connection(wsd, static_root, keys):
    d = wsd(jwt_config(static_root, keys, jwt_leeway="0",
                       jwt_expire_close="on"))
    tok = hs256({"exp": later(2)})
    c, r = handshake(d.port, "/hs", tok)
    try:
        assert r.status == 101, r
        c.send(frame(OP_TEXT, b"still valid"))
        assert read_message(c)[:2] == (OP_TEXT, b"still valid")
        f = expect_close(c, 1008, timeout=8)
        assert b"token expired" in f.payload
    finally:
        c.close()
    d.wait_log(r"closing with 1008: token expired")


def test_jwt_expiry_without_close(wsd, static_root, keys):
    """jwt_expire_close off (the default): the token is checked at the
    handshake only."""
    d = wsd(jwt_config(static_root, keys, jwt_leeway="0"))
    c, r = handshake(d.port, "/hs", hs256({"exp": later(1)}))
    try:
        assert r.status == 101, r
        time.sleep(2.5)
        c.send(frame(OP_TEXT, b"after exp"))
        assert read_message(c)[:2] == (OP_TEXT, b"after exp")
    finally:
        c.close()


def test_jwt_sighup_new_key(wsd, static_root, keys, tmp_path):
    secret = tmp_path / "rotating.secret"
    old_secret = b"old-secret-old-secret-old-secret-0"
    new_secret = b"new-secret-new-secret-new-secret-1"
    secret.write_bytes(old_secret)
    d = wsd(helpers.make_config(static_root, routes=[
        ("/hs", {"app": "echo", "auth_jwt_key_file": str(secret)})]))
    old_tok = hs256({}, secret=old_secret)
    new_tok = hs256({}, secret=new_secret)
    assert status(d.port, "/hs", old_tok).status == 101
    assert status(d.port, "/hs", new_tok).status == 401

    secret.write_bytes(new_secret)
    mark = d.log_mark()
    d.kill(signal.SIGHUP)
    d.wait_log(r"SIGHUP: configuration reloaded", start=mark)
    assert status(d.port, "/hs", new_tok).status == 101
    assert status(d.port, "/hs", old_tok).status == 401

    # A key that does not parse fails the reload; the old key stays.
    secret.write_bytes(b"short")
    mark = d.log_mark()
    d.kill(signal.SIGHUP)
    d.wait_log(r"auth_jwt_key_file .*: HS256 secret shorter than 32 bytes",
               start=mark)
    d.wait_log(r"SIGHUP: reload failed", start=mark)
    assert status(d.port, "/hs", new_tok).status == 101


def test_jwt_config_errors(tmp_path, keys):
    bad = tmp_path / "wsd.ini"
    bad.write_text("[route /e]\napp = echo\njwt_expire_close = on\n"
                   "[route /f]\napp = echo\nauth_jwt_key_file = %s\n"
                   % (keys["dir"] / "missing.pub"))
    rc, out = helpers.run_wsd(["-t", "-c", str(bad)])
    assert rc == 1
    assert ('%s:3: key "jwt_expire_close" needs auth_jwt_key_file on the '
            'route' % bad) in out
    assert ('%s:6: auth_jwt_key_file "%s": No such file or directory'
            % (bad, keys["dir"] / "missing.pub")) in out


def test_jwt_channels_claim_limits_subscriptions(wsd, static_root, keys):
    """On a channels route the token's "channels" claim says which
    channels it may subscribe to, over WebSocket and Server-Sent Events
    alike: 403 for the others; no claim allows every channel."""
    routes = [("/live/", {"app": "channels",
                          "auth_jwt_key_file": str(keys["secret"])})]
    d = wsd(helpers.make_config(static_root, routes=routes))
    tok = hs256({"exp": later(300), "channels": ["news", "room.*"]})
    for path, want in [("/live/news", 101), ("/live/room.1", 101),
                       ("/live/sports", 403), ("/live/newsx", 403)]:
        c, r = handshake(d.port, path, tok)
        c.close()
        assert r.status == want, (path, r)
        sse = helpers.http_get(d.port, path, headers={
            "Authorization": "Bearer " + tok,
            "Accept": "text/event-stream"}, timeout=2) \
            if want == 403 else None
        if sse is not None:
            assert sse.status == 403, (path, sse)
    c, r = handshake(d.port, "/live/sports", hs256({"exp": later(300)}))
    c.close()
    assert r.status == 101, r
    c, r = handshake(d.port, "/live/news",
                     hs256({"exp": later(300), "channels": []}))
    c.close()
    assert r.status == 403, r
    assert "channel not allowed" in d.log_text()
