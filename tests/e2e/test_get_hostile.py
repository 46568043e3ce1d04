"""`ferry get` against hostile servers and a hostile local directory.

TLS truncation (issue 8, defect 7): a TLS stream that ends without the
server's close_notify, or that carries a record the session did not make,
must never read as the clean end of a body. The .part stays for -c; the
final name is never created.

Planted links (issue 8, defect 8): a symbolic (or hard) link at NAME.part,
NAME.part.validator or NAME must never be written through; the link and
its target stay as they were."""
import os
import ssl
import socket
import time

import pytest

from peers import ScriptedServer, chunked, keep_alive, listing, make_pki, run_ferry, send_file

BODY = os.urandom(150_000)
ETAG = '"hostile-v1"'
CUT = 30_000
PRECIOUS = b"the link's target: must stay exactly this\n"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def out(tmp_path):
    d = tmp_path / "out"
    d.mkdir()
    return d


def tls_server(pki, script):
    """A ScriptedServer speaking TLS with the "good" certificate; script(peer,
    raw) runs after the handshake with peer.sock the TLS socket and raw a
    second handle on the TCP socket beneath it (for bytes outside the
    session)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.fspath(pki["good"][0]), os.fspath(pki["good"][1]))

    def handler(peer):
        peer.sock = ctx.wrap_socket(peer.sock, server_side=True)
        raw = socket.socket(fileno=os.dup(peer.sock.fileno()))
        try:
            script(peer, raw)
        finally:
            raw.close()

    srv = ScriptedServer(handler)
    srv.https = lambda path: f"https://127.0.0.1:{srv.port}{path}"
    return srv


def close_notify(peer):
    """Ends the session properly: close_notify, then the TCP close."""
    try:
        peer.sock.unwrap().close()
    except (ssl.SSLError, OSError):
        peer.sock.close()


def cut(peer):
    """Closes the TCP connection without close_notify (python's ssl close
    sends none)."""
    time.sleep(0.05)  # the bytes before it reach the client first
    peer.sock.close()


def get(srv, out, pki, *opts):
    return run_ferry("get", "--cacert", pki["ca"], *opts, srv.https("/f.bin"), cwd=out)


def assert_cut_kept(r, out, rc, have=CUT):
    assert r.rc == rc, r
    assert "f.bin" not in listing(out), r
    assert (out / "f.bin.part").read_bytes() == BODY[:have]
    assert "-c resumes" in r.err, r.err


HEAD_UNTIL_CLOSE = b"HTTP/1.1 200 OK\r\nConnection: close\r\nETag: " + ETAG.encode() + b"\r\n\r\n"


def test_tls_close_without_close_notify_mid_close_delimited_body(pki, out):
    def script(peer, raw):
        peer.read_request()
        peer.send(HEAD_UNTIL_CLOSE + BODY[:CUT])
        cut(peer)

    with tls_server(pki, script) as srv:
        r = get(srv, out, pki)
    assert_cut_kept(r, out, 3)
    assert "close_notify" in r.err, r.err


def test_tls_forged_record_mid_close_delimited_body(pki, out):
    def script(peer, raw):
        peer.read_request()
        peer.send(HEAD_UNTIL_CLOSE + BODY[:CUT])
        time.sleep(0.05)
        # An application-data record the session never made: its tag cannot
        # verify. Then a clean-looking TCP close.
        raw.sendall(b"\x17\x03\x03\x00\x40" + os.urandom(0x40))
        time.sleep(0.05)
        raw.shutdown(socket.SHUT_RDWR)

    with tls_server(pki, script) as srv:
        r = get(srv, out, pki)
    assert_cut_kept(r, out, 4)
    assert "TLS record error" in r.err, r.err


def test_tls_garbage_instead_of_a_record(pki, out):
    def script(peer, raw):
        peer.read_request()
        peer.send(HEAD_UNTIL_CLOSE + BODY[:CUT])
        time.sleep(0.05)
        raw.sendall(b"this is not TLS at all\r\n" * 10)
        time.sleep(0.05)
        raw.shutdown(socket.SHUT_RDWR)

    with tls_server(pki, script) as srv:
        r = get(srv, out, pki)
    assert_cut_kept(r, out, 4)


@pytest.mark.parametrize("ending", ["cut", "close_notify"])
def test_tls_truncated_content_length(pki, out, ending):
    """A short Content-Length body is an error even after a proper
    close_notify."""
    def script(peer, raw):
        peer.read_request()
        peer.respond(200, [("Content-Length", str(len(BODY))), ("ETag", ETAG)], BODY[:CUT])
        time.sleep(0.05)
        cut(peer) if ending == "cut" else close_notify(peer)

    with tls_server(pki, script) as srv:
        r = get(srv, out, pki)
    assert_cut_kept(r, out, 3)
    assert (out / "f.bin.part.validator").read_text() == ETAG


def test_tls_truncated_chunked(pki, out):
    body = chunked([BODY[i:i + 10_000] for i in range(0, len(BODY), 10_000)])

    def script(peer, raw):
        peer.read_request()
        peer.respond(200, [("Transfer-Encoding", "chunked")], body[:CUT + 200])
        cut(peer)

    with tls_server(pki, script) as srv:
        r = get(srv, out, pki)
    assert r.rc == 3, r
    assert listing(out) == ["f.bin.part"], r
    part = (out / "f.bin.part").read_bytes()
    assert 0 < len(part) < len(BODY) and BODY.startswith(part)


def test_tls_close_notify_ends_close_delimited_body(pki, out):
    def script(peer, raw):
        peer.read_request()
        peer.send(HEAD_UNTIL_CLOSE + BODY)
        close_notify(peer)

    with tls_server(pki, script) as srv:
        r = get(srv, out, pki)
    assert r.rc == 0, r
    assert listing(out) == ["f.bin"]
    assert (out / "f.bin").read_bytes() == BODY


def test_tls_cut_then_resume_completes(pki, out):
    """The part a cut left is resumed with Range and If-Range."""
    state = {"n": 0}

    def script(peer, raw):
        state["n"] += 1
        req = peer.read_request()
        if state["n"] == 1:
            peer.respond(200, [("Content-Length", str(len(BODY))), ("ETag", ETAG)], BODY[:CUT])
            cut(peer)
            return
        send_file(peer, req, BODY, ETAG)
        close_notify(peer)

    with tls_server(pki, script) as srv:
        assert get(srv, out, pki).rc == 3
        r = get(srv, out, pki, "-c")
        ranges = [q.header("range") for q in srv.requests]
    assert r.rc == 0, r
    assert (out / "f.bin").read_bytes() == BODY
    assert ranges == [None, f"bytes={CUT}-"]
