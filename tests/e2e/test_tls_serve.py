"""HTTPS on the one port (issue 10): `ferry serve --tls-cert/--tls-key` and
`--tls-self-signed`, the 301 for plain HTTP, `--tls-only`, the raw protocol
inside TLS, what the server refuses (old versions, renegotiation, garbage,
a ClientHello cut halfway), SIGHUP reloads, session resumption and
`ferry get --pin`. Real clients where people use them: curl, wget,
openssl s_client; Python's ssl where a case needs exact control."""
import hashlib
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time

import pytest

from ferrylib import TIMEOUT, HttpConn, build_request, clean_env, file_sha256, recv_until_close, wait_closed
from peers import run_ferry, wait_for

BIG = 24 << 20  # bytes of the large file


def make_cert(d, name):
    """A self-signed EC P-256 certificate for localhost and 127.0.0.1."""
    cert, key = d / f"{name}.pem", d / f"{name}.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", f"/CN={name}",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=30)
    return cert, key


def fingerprint(cert_path):
    """The SHA-256 of a PEM certificate's DER form, as hex."""
    der = ssl.PEM_cert_to_DER_cert(cert_path.read_text())
    return hashlib.sha256(der).hexdigest()


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = tmp_path_factory.mktemp("certs")
    return {"a": make_cert(d, "alpha"), "b": make_cert(d, "beta"), "dir": d}


@pytest.fixture
def served_dir(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (root / "hello.txt").write_bytes(b"hello over tls\n")
    (root / "digits.txt").write_bytes(bytes(range(48, 58)) * 100)
    with open(root / "big.bin", "wb") as f:
        f.write(os.urandom(BIG))
    return root


@pytest.fixture
def tls_server(start_server, served_dir, certs, tmp_path):
    """ferry serve with copies of certificate a (so a test may replace them)."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    shutil.copy(certs["a"][0], cert)
    shutil.copy(certs["a"][1], key)

    def start(*args, **kw):
        srv = start_server(served_dir, "--tls-cert", str(cert), "--tls-key", str(key), *args, **kw)
        srv.cert, srv.key = cert, key
        return srv
    return start


def client_ctx(cafile=None, **kw):
    ctx = ssl.create_default_context(cafile=str(cafile)) if cafile else ssl.create_default_context()
    for k, v in kw.items():
        setattr(ctx, k, v)
    return ctx


def tls_conn(srv, ctx, session=None, timeout=TIMEOUT):
    """An HttpConn whose socket is TLS; a stream cut without close_notify raises."""
    c = HttpConn(srv.port, srv.host, timeout)
    c.sock = ctx.wrap_socket(c.sock, server_hostname="localhost", session=session,
                             suppress_ragged_eofs=False)
    return c


def peer_fp(conn):
    return hashlib.sha256(conn.sock.getpeercert(binary_form=True)).hexdigest()


def curl(*args, timeout=60):
    return subprocess.run(["curl", "-sS", *args], capture_output=True, env=clean_env(), timeout=timeout)


def s_client(srv, *args, stdin=b"", timeout=20):
    p = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{srv.port}", *args],
                       input=stdin, capture_output=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


# ---- real clients ----------------------------------------------------------

def test_first_line_says_https(tls_server):
    srv = tls_server()
    assert srv.url.startswith("https://127.0.0.1:")
    assert any("SHA-256" in line for line in srv.stdout_lines[:2])


def test_curl_https(tls_server, certs):
    srv = tls_server()
    p = curl("--cacert", str(certs["a"][0]), f"https://127.0.0.1:{srv.port}/hello.txt")
    assert p.returncode == 0, p.stderr
    assert p.stdout == b"hello over tls\n"


def test_wget_https(tls_server, certs, tmp_path):
    srv = tls_server()
    out = tmp_path / "w.txt"
    p = subprocess.run(["wget", "-q", "--ca-certificate", str(certs["a"][0]), "-O", str(out),
                        f"https://localhost:{srv.port}/hello.txt"],
                       capture_output=True, env=clean_env(), timeout=60)
    assert p.returncode == 0, p.stderr
    assert out.read_bytes() == b"hello over tls\n"


def test_openssl_s_client_http(tls_server, certs):
    srv = tls_server()
    req = b"GET /hello.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    rc, out, _ = s_client(srv, "-quiet", "-CAfile", str(certs["a"][0]), "-verify_return_error", stdin=req)
    assert b"HTTP/1.1 200 OK" in out, out
    assert out.endswith(b"hello over tls\n"), out


def test_alpn_http11_negotiated(tls_server, certs):
    srv = tls_server()
    ctx = client_ctx(certs["a"][0])
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    with tls_conn(srv, ctx) as c:
        assert c.sock.selected_alpn_protocol() == "http/1.1"
        c.request("GET", "/hello.txt")
        assert c.read_response().status == 200


def test_alpn_without_http11_refused(tls_server, certs):
    srv = tls_server()
    ctx = client_ctx(certs["a"][0])
    ctx.set_alpn_protocols(["h2"])
    with pytest.raises(ssl.SSLError, match="(?i)no.application.protocol"):
        tls_conn(srv, ctx)


# ---- ferry get and the pin -------------------------------------------------

def test_get_pin_right(tls_server, certs, tmp_path):
    srv = tls_server()
    out = tmp_path / "got.txt"
    r = run_ferry("get", "-q", "--pin", fingerprint(certs["a"][0]), "-o", out, srv.url + "hello.txt")
    assert r.rc == 0, r
    assert out.read_bytes() == b"hello over tls\n"


def test_get_pin_with_colons(tls_server, certs, tmp_path):
    srv = tls_server()
    fp = fingerprint(certs["a"][0]).upper()
    pin = ":".join(fp[i:i + 2] for i in range(0, len(fp), 2))
    r = run_ferry("get", "-q", "--pin", pin, "-o", tmp_path / "got.txt", srv.url + "hello.txt")
    assert r.rc == 0, r


def test_get_pin_wrong_refused(tls_server, certs, tmp_path):
    srv = tls_server()
    out = tmp_path / "got.txt"
    r = run_ferry("get", "-q", "--pin", fingerprint(certs["b"][0]), "-o", out, srv.url + "hello.txt")
    assert r.rc == 4, r  # TLS
    assert "pin" in r.err
    assert not out.exists() and not (tmp_path / "got.txt.part").exists()


def test_get_pin_refuses_ca_valid_cert(tls_server, certs, tmp_path):
    """The certificate verifies against --cacert, but it is not the pinned one."""
    srv = tls_server()
    r = run_ferry("get", "-q", "--cacert", certs["a"][0], "--pin", fingerprint(certs["b"][0]),
                  "-o", tmp_path / "got.txt", srv.url + "hello.txt")
    assert r.rc == 4, r
    ok = run_ferry("get", "-q", "--cacert", certs["a"][0], "-o", tmp_path / "ok.txt", srv.url + "hello.txt")
    assert ok.rc == 0, ok  # the same CA check alone accepts it


def test_get_pin_malformed_is_usage(tmp_path):
    r = run_ferry("get", "--pin", "abcd", "https://127.0.0.1:1/x")
    assert r.rc == 2, r


def test_self_signed_fingerprint_and_pin(start_server, served_dir, tmp_path):
    srv = start_server(served_dir, "--tls-self-signed")
    assert srv.url.startswith("https://")
    assert wait_for(lambda: len(srv.stdout_lines) >= 2)
    line = srv.stdout_lines[1]
    assert "SHA-256" in line, srv.stdout_lines
    printed = line.split("SHA-256 ")[1].split()[0].replace(":", "").lower()
    ctx = client_ctx(check_hostname=False, verify_mode=ssl.CERT_NONE)
    with tls_conn(srv, ctx) as c:
        der = c.sock.getpeercert(binary_form=True)
    assert hashlib.sha256(der).hexdigest() == printed
    cert = ssl.DER_cert_to_PEM_cert(der)
    (tmp_path / "ss.pem").write_text(cert)
    # curl accepts it with itself as the CA (EC P-256, SAN 127.0.0.1)
    p = curl("--cacert", str(tmp_path / "ss.pem"), srv.url + "hello.txt")
    assert p.returncode == 0 and p.stdout == b"hello over tls\n", p.stderr
    ok = run_ferry("get", "-q", "--pin", printed, "-o", tmp_path / "a.txt", srv.url + "hello.txt")
    assert ok.rc == 0, ok
    bad = run_ferry("get", "-q", "--pin", "00" * 32, "-o", tmp_path / "b.txt", srv.url + "hello.txt")
    assert bad.rc == 4, bad
    # without a pin the self-signed certificate is not trusted
    plain = run_ferry("get", "-q", "-o", tmp_path / "c.txt", srv.url + "hello.txt")
    assert plain.rc == 4, plain


# ---- the raw protocol, plain HTTP, --tls-only -------------------------------

def test_raw_inside_tls(tls_server, certs):
    srv = tls_server()
    with tls_conn(srv, client_ctx(certs["a"][0])) as c:
        c.send(b"hello.txt\n")
        # suppress_ragged_eofs=False: a close without close_notify would raise here
        assert c.rest_until_close() == b"hello over tls\n"


def test_raw_inside_tls_missing_is_clean_empty(tls_server, certs):
    srv = tls_server()
    with tls_conn(srv, client_ctx(certs["a"][0])) as c:
        c.send(b"nope.txt\n")
        assert c.rest_until_close() == b""


def test_plain_http_gets_301(tls_server):
    srv = tls_server()
    with HttpConn(srv.port, srv.host, TIMEOUT) as c:
        c.send(build_request("GET", "/hello.txt?x=1", host=f"127.0.0.1:{srv.port}"))
        r = c.read_response()
    assert r.status == 301
    assert r.header("location") == f"https://127.0.0.1:{srv.port}/hello.txt?x=1"


def test_plain_http_301_followed_by_curl(tls_server, certs):
    srv = tls_server()
    p = curl("-L", "--cacert", str(certs["a"][0]), f"http://127.0.0.1:{srv.port}/hello.txt")
    assert p.returncode == 0, p.stderr
    assert p.stdout == b"hello over tls\n"


def test_plain_http_bad_host_no_redirect(tls_server):
    srv = tls_server()
    with HttpConn(srv.port, srv.host, TIMEOUT) as c:
        c.send(b"GET / HTTP/1.1\r\nHost: evil\"<x>\r\n\r\n")
        r = c.read_response()
    assert r.status == 400
    assert r.header("location") is None


def test_plain_raw_still_served(tls_server):
    srv = tls_server()
    s = srv.connect()
    try:
        s.sendall(b"hello.txt\n")
        assert recv_until_close(s) == b"hello over tls\n"
    finally:
        s.close()


def test_tls_only_closes_plain_raw(tls_server, certs):
    srv = tls_server("--tls-only")
    s = srv.connect()
    try:
        s.sendall(b"hello.txt\n")
        assert recv_until_close(s) == b""
    finally:
        s.close()
    with HttpConn(srv.port, srv.host, TIMEOUT) as c:  # plain HTTP: still the 301
        c.send(build_request("GET", "/hello.txt", host=f"127.0.0.1:{srv.port}"))
        assert c.read_response().status == 301
    with tls_conn(srv, client_ctx(certs["a"][0])) as c:  # raw inside TLS is fine
        c.send(b"hello.txt\n")
        assert c.rest_until_close() == b"hello over tls\n"


# ---- what the server refuses ----------------------------------------------

@pytest.mark.parametrize("flag", ["-tls1_1", "-tls1"])
def test_old_tls_versions_refused(tls_server, flag):
    srv = tls_server()
    rc, out, err = s_client(srv, flag, "-cipher", "DEFAULT@SECLEVEL=0", stdin=b"")
    out += err
    assert rc != 0
    # the server's alert, not a client that refused to try
    assert b"alert protocol version" in out, out


def test_renegotiation_refused(tls_server, certs):
    srv = tls_server()
    p = subprocess.Popen(["openssl", "s_client", "-connect", f"127.0.0.1:{srv.port}", "-tls1_2",
                          "-CAfile", str(certs["a"][0])],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        time.sleep(1)
        p.stdin.write(b"R\n")
        p.stdin.flush()
        time.sleep(1)
        try:
            p.stdin.write(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            p.stdin.close()
        except BrokenPipeError:
            pass  # s_client gave up after the refusal
        out = p.stdout.read()
        p.wait(15)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(5)
    assert b"RENEGOTIATING" in out, out
    assert b"no renegotiation" in out, out
    assert b"hello over tls" not in out


def test_garbage_after_0x16_closes(tls_server, certs):
    srv = tls_server()
    s = srv.connect()
    try:
        s.sendall(b"\x16\x03\x01\x00\x05" + b"\xff" * 5 + b"GET / HTTP/1.1\r\n\r\n")
        data = recv_until_close(s, timeout=TIMEOUT)
    finally:
        s.close()
    assert b"HTTP/" not in data
    assert len(data) <= 16  # an alert at most
    with tls_conn(srv, client_ctx(certs["a"][0])) as c:  # the server goes on
        c.request("GET", "/hello.txt")
        assert c.read_response().status == 200


def client_hello():
    """The first flight of a real TLS client, from a memory BIO."""
    ctx = client_ctx(check_hostname=False, verify_mode=ssl.CERT_NONE)
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname="localhost")
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    return out.read()


def test_clienthello_cut_halfway_closes_at_head_deadline(tls_server):
    srv = tls_server("--head-timeout", "1")
    hello = client_hello()
    assert hello[0] == 0x16 and len(hello) > 100
    s = srv.connect()
    try:
        t0 = time.monotonic()
        s.sendall(hello[: len(hello) // 2])
        closed = wait_closed(s, timeout=8)
        took = time.monotonic() - t0
    finally:
        s.close()
    assert closed is True, closed
    assert took < 8  # the default head deadline is 10 s: --head-timeout 1 closed it


def test_tls_handshake_never_started_closes(tls_server):
    """Only the first byte: the head deadline still ends it."""
    srv = tls_server("--head-timeout", "1")
    s = srv.connect()
    try:
        s.sendall(b"\x16")
        assert wait_closed(s, timeout=8) is True
    finally:
        s.close()


# ---- HTTP over TLS ---------------------------------------------------------

def test_keepalive_and_pipelining_over_tls(tls_server, certs):
    srv = tls_server()
    with tls_conn(srv, client_ctx(certs["a"][0])) as c:
        c.request("GET", "/hello.txt")
        assert c.read_response().body == b"hello over tls\n"
        c.send(b"".join(build_request("GET", t) for t in ["/hello.txt", "/digits.txt", "/nope", "/hello.txt"]))
        rs = [c.read_response() for _ in range(4)]
        assert [r.status for r in rs] == [200, 200, 404, 200]
        assert rs[1].body == bytes(range(48, 58)) * 100
        assert rs[3].body == b"hello over tls\n"
        assert c.sock.version() == "TLSv1.3"


def test_many_pipelined_requests_over_tls(tls_server, certs):
    """More requests than one TLS record holds, sent at once: decrypted bytes
    the session holds are read without waiting for the socket."""
    srv = tls_server()
    n = 1000
    with tls_conn(srv, client_ctx(certs["a"][0])) as c:
        c.send(b"".join(build_request("GET", "/hello.txt") for _ in range(n)))
        for _ in range(n):
            assert c.read_response().body == b"hello over tls\n"


@pytest.mark.parametrize("mode", ["auto", "sendfile", "splice", "readwrite"])
def test_large_file_over_tls(tls_server, certs, served_dir, mode):
    srv = tls_server("--send-mode", mode)
    p = curl("--cacert", str(certs["a"][0]), srv.url + "big.bin", timeout=120)
    assert p.returncode == 0, p.stderr
    assert len(p.stdout) == BIG
    assert hashlib.sha256(p.stdout).hexdigest() == file_sha256(served_dir / "big.bin")


def test_large_file_over_tls_ferry_get(tls_server, certs, served_dir, tmp_path):
    srv = tls_server()
    out = tmp_path / "big.bin"
    r = run_ferry("get", "-q", "--cacert", certs["a"][0], "-o", out, srv.url + "big.bin", timeout=120)
    assert r.rc == 0, r
    assert file_sha256(out) == file_sha256(served_dir / "big.bin")


def test_range_over_tls(tls_server, certs):
    srv = tls_server()
    with tls_conn(srv, client_ctx(certs["a"][0])) as c:
        c.request("GET", "/digits.txt", headers=[("Range", "bytes=5-14")])
        r = c.read_response()
    assert r.status == 206
    assert r.body == b"5678901234"
    assert r.header("content-range") == "bytes 5-14/1000"


def test_put_with_100_continue_over_tls(start_server, served_dir, certs, tmp_path):
    srv = start_server(served_dir, "--upload", "--tls-cert", str(certs["a"][0]),
                       "--tls-key", str(certs["a"][1]))
    src = tmp_path / "up.bin"
    src.write_bytes(os.urandom(200000))
    p = curl("--cacert", str(certs["a"][0]), "-H", "Expect: 100-continue", "-T", str(src),
             "-o", "/dev/null", "-w", "%{http_code}", srv.url + "up.bin")
    assert p.returncode == 0, p.stderr
    assert p.stdout == b"201"
    assert (served_dir / "up.bin").read_bytes() == src.read_bytes()


# ---- SIGHUP ----------------------------------------------------------------

def test_sighup_reload_new_cert(tls_server, certs):
    srv = tls_server()
    fa, fb = fingerprint(certs["a"][0]), fingerprint(certs["b"][0])
    ctx = client_ctx(check_hostname=False, verify_mode=ssl.CERT_NONE)
    old = tls_conn(srv, ctx)
    try:
        old.request("GET", "/hello.txt")
        assert old.read_response().status == 200
        assert peer_fp(old) == fa
        shutil.copy(certs["b"][0], srv.cert)
        shutil.copy(certs["b"][1], srv.key)
        srv.send_signal(signal.SIGHUP)
        assert wait_for(lambda: "certificate reloaded" in srv.stderr_text(), timeout=10), srv.stderr_text()
        with tls_conn(srv, ctx) as new:
            assert peer_fp(new) == fb
            new.request("GET", "/hello.txt")
            assert new.read_response().status == 200
        old.request("GET", "/digits.txt")  # the old connection keeps working
        assert old.read_response().body == bytes(range(48, 58)) * 100
        assert peer_fp(old) == fa
    finally:
        old.close()
    assert srv.alive()


def test_sighup_bad_file_keeps_old_cert(tls_server, certs):
    srv = tls_server()
    srv.cert.write_text("-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n")
    srv.send_signal(signal.SIGHUP)
    assert wait_for(lambda: "keeping the old certificate" in srv.stderr_text(), timeout=10), srv.stderr_text()
    with tls_conn(srv, client_ctx(certs["a"][0])) as c:
        assert peer_fp(c) == fingerprint(certs["a"][0])
        c.request("GET", "/hello.txt")
        assert c.read_response().status == 200


def test_sighup_key_not_matching_keeps_old_cert(tls_server, certs):
    srv = tls_server()
    shutil.copy(certs["b"][0], srv.cert)  # b's certificate with a's key
    srv.send_signal(signal.SIGHUP)
    assert wait_for(lambda: "keeping the old certificate" in srv.stderr_text(), timeout=10), srv.stderr_text()
    with tls_conn(srv, client_ctx(certs["a"][0])) as c:
        assert peer_fp(c) == fingerprint(certs["a"][0])


# ---- session resumption ------------------------------------------------------

@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_session_resumption(tls_server, certs, version):
    srv = tls_server()
    ctx = client_ctx(certs["a"][0], minimum_version=version, maximum_version=version)
    with tls_conn(srv, ctx) as c:
        c.request("GET", "/hello.txt")
        assert c.read_response().status == 200  # TLS 1.3 tickets arrive after the handshake
        session = c.sock.session
        assert not c.sock.session_reused
    assert session is not None and session.has_ticket
    with tls_conn(srv, ctx, session=session) as c:
        c.request("GET", "/hello.txt")
        assert c.read_response().status == 200
        assert c.sock.session_reused


def test_session_resumption_survives_reload(tls_server, certs):
    """The ticket keys belong to the server, not to one certificate's context."""
    srv = tls_server()
    ctx = client_ctx(check_hostname=False, verify_mode=ssl.CERT_NONE)
    with tls_conn(srv, ctx) as c:
        c.request("GET", "/hello.txt")
        c.read_response()
        session = c.sock.session
    srv.send_signal(signal.SIGHUP)
    assert wait_for(lambda: "certificate reloaded" in srv.stderr_text(), timeout=10)
    with tls_conn(srv, ctx, session=session) as c:
        c.request("GET", "/hello.txt")
        assert c.read_response().status == 200
        assert c.sock.session_reused


def test_usage_errors():
    assert run_ferry("serve", "--tls-cert", "x.pem").rc == 2
    assert run_ferry("serve", "--tls-only").rc == 2
    assert run_ferry("serve", "--tls-self-signed", "--tls-cert", "a", "--tls-key", "b").rc == 2


def test_unreadable_cert_fails_to_start(tmp_path):
    r = run_ferry("serve", "-p", "0", "-b", "127.0.0.1", "--tls-cert", tmp_path / "none.pem",
                  "--tls-key", tmp_path / "none.key", tmp_path)
    assert r.rc == 1, r
    assert "none.pem" in r.err


def test_raw_inside_tls_large_file_ends_with_close_notify(tls_server, certs, served_dir):
    """A close-delimited body over TLS: the end is known only from close_notify,
    which must reach a slow reader even when the socket was full at the end."""
    srv = tls_server()
    want = file_sha256(served_dir / "big.bin")
    for _ in range(3):
        c = HttpConn(srv.port, srv.host, TIMEOUT)
        c.sock = client_ctx(certs["a"][0]).wrap_socket(c.sock, server_hostname="localhost",
                                                       suppress_ragged_eofs=False)
        with c:
            c.send(b"big.bin\n")
            time.sleep(0.5)  # the server fills the socket and waits
            data = c.rest_until_close(timeout=60)
        assert len(data) == BIG
        assert hashlib.sha256(data).hexdigest() == want
