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
        try:
            raw.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # the client, seeing no TLS record, may have closed first

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


# ---- planted links ---------------------------------------------------------


def file_server():
    return ScriptedServer(keep_alive(lambda p, q: send_file(p, q, BODY, ETAG)))


def disposition_server(name):
    return ScriptedServer(keep_alive(lambda p, q: send_file(
        p, q, BODY, ETAG, extra=[("Content-Disposition", f'attachment; filename="{name}"')])))


@pytest.fixture
def victim(tmp_path):
    v = tmp_path / "victim"
    v.write_bytes(PRECIOUS)
    return v


def assert_untouched(victim, link):
    assert os.path.islink(link), f"{link} is no longer the planted link"
    assert os.readlink(link) == os.fspath(victim)
    assert victim.read_bytes() == PRECIOUS


@pytest.mark.parametrize("opts", [[], ["-c"], ["-f"], ["-c", "-f"]], ids=["plain", "c", "f", "cf"])
def test_symlink_at_part_is_refused(out, victim, opts):
    link = out / "f.bin.part"
    os.symlink(victim, link)
    with file_server() as srv:
        r = run_ferry("get", *opts, srv.url("/f.bin"), cwd=out)
        nreq = len(srv.requests)
    assert r.rc == 6, r
    assert "f.bin.part" in r.err and "not a regular file" in r.err, r.err
    assert_untouched(victim, link)
    assert listing(out) == ["f.bin.part"]
    assert nreq == 0  # refused before asking


def test_symlink_at_part_to_a_missing_target_is_refused(out, tmp_path):
    link = out / "f.bin.part"
    os.symlink(tmp_path / "nothing-here", link)
    with file_server() as srv:
        r = run_ferry("get", srv.url("/f.bin"), cwd=out)
    assert r.rc == 6, r
    assert os.path.islink(link)
    assert not (tmp_path / "nothing-here").exists()
    assert listing(out) == ["f.bin.part"]


@pytest.mark.parametrize("with_part", [False, True], ids=["no-part", "with-part"])
@pytest.mark.parametrize("opts", [[], ["-c"]], ids=["plain", "c"])
def test_symlink_at_validator_is_refused(out, victim, with_part, opts):
    link = out / "f.bin.part.validator"
    os.symlink(victim, link)
    if with_part:
        (out / "f.bin.part").write_bytes(BODY[:CUT])
    with file_server() as srv:
        r = run_ferry("get", *opts, srv.url("/f.bin"), cwd=out)
    assert r.rc == 6, r
    assert "f.bin.part.validator" in r.err and "not a regular file" in r.err, r.err
    assert_untouched(victim, link)
    assert "f.bin" not in listing(out)
    if with_part:
        assert (out / "f.bin.part").read_bytes() == BODY[:CUT]


def test_hard_link_at_part_is_refused(out, victim):
    os.link(victim, out / "f.bin.part")
    with file_server() as srv:
        r = run_ferry("get", "-c", srv.url("/f.bin"), cwd=out)
    assert r.rc == 6, r
    assert "not a regular file" in r.err, r.err
    assert victim.read_bytes() == PRECIOUS
    assert "f.bin" not in listing(out)


def test_symlink_at_final_name_needs_force(out, victim):
    """A link at NAME counts as an existing NAME: refused without -f."""
    link = out / "f.bin"
    os.symlink(victim, link)
    with file_server() as srv:
        r = run_ferry("get", srv.url("/f.bin"), cwd=out)
    assert r.rc == 6, r
    assert "exists" in r.err and "link" in r.err, r.err
    assert_untouched(victim, link)
    assert listing(out) == ["f.bin"]


def test_symlink_at_final_name_with_force_replaces_the_link(out, victim):
    """With -f the link itself is replaced by the download; its target is
    never written."""
    link = out / "f.bin"
    os.symlink(victim, link)
    with file_server() as srv:
        r = run_ferry("get", "-q", "-f", srv.url("/f.bin"), cwd=out)
    assert r.rc == 0, r
    assert not os.path.islink(link)
    assert link.read_bytes() == BODY
    assert victim.read_bytes() == PRECIOUS


def test_dangling_symlink_at_final_name(out, tmp_path):
    link = out / "f.bin"
    os.symlink(tmp_path / "nothing-here", link)
    with file_server() as srv:
        r = run_ferry("get", srv.url("/f.bin"), cwd=out)
    assert r.rc == 6, r
    assert os.path.islink(link)
    assert not (tmp_path / "nothing-here").exists()


def test_symlink_at_final_name_to_a_device_is_not_followed(out, tmp_path):
    """A server-chosen name that is a link to /dev/null is not a way to
    write into a device (nor to replace it): refused without -f."""
    link = out / "f.bin"
    os.symlink("/dev/null", link)
    with file_server() as srv:
        r = run_ferry("get", srv.url("/f.bin"), cwd=out)
    assert r.rc == 6, r
    assert os.path.islink(link)


@pytest.mark.parametrize("where", ["f.bin.part", "f.bin.part.validator", "f.bin"])
def test_symlink_in_output_dir(out, victim, where):
    d = out / "d"
    d.mkdir()
    link = d / where
    os.symlink(victim, link)
    with file_server() as srv:
        r = run_ferry("get", "-O", "d", srv.url("/f.bin"), cwd=out)
    assert r.rc == 6, r
    assert_untouched(victim, link)
    assert listing(d) == [where]


@pytest.mark.parametrize("where", ["report.pdf.part", "report.pdf.part.validator", "report.pdf"])
def test_symlink_at_disposition_name(out, victim, where):
    link = out / where
    os.symlink(victim, link)
    with disposition_server("report.pdf") as srv:
        r = run_ferry("get", "-J", srv.url("/url-name.bin"), cwd=out)
    assert r.rc == 6, r
    assert_untouched(victim, link)
    assert listing(out) == [where]


def test_symlink_at_disposition_name_with_output_dir(out, victim):
    d = out / "d"
    d.mkdir()
    link = d / "report.pdf.part"
    os.symlink(victim, link)
    with disposition_server("report.pdf") as srv:
        r = run_ferry("get", "-J", "-O", "d", srv.url("/url-name.bin"), cwd=out)
    assert r.rc == 6, r
    assert_untouched(victim, link)
    assert listing(d) == ["report.pdf.part"]


def test_symlink_mid_pipeline_refuses_only_its_url(out, victim):
    """Three URLs on one kept connection: the one with a planted link fails,
    the others arrive."""
    link = out / "b.bin.part"
    os.symlink(victim, link)
    with file_server() as srv:
        r = run_ferry("get", "-q", srv.url("/a.bin"), srv.url("/b.bin"), srv.url("/c.bin"),
                      srv.url("/d.bin"), cwd=out)
        targets = [q.target for q in srv.requests]
    assert r.rc == 6, r
    assert_untouched(victim, link)
    assert listing(out) == ["a.bin", "b.bin.part", "c.bin", "d.bin"]
    assert (out / "c.bin").read_bytes() == BODY
    assert "/b.bin" not in targets


def test_explicit_output_link_to_a_device_is_written(out, tmp_path):
    """-o names the user's own choice: a link there to a character device
    (like /dev/stdout) is followed to the device, never replaced."""
    link = tmp_path / "sink"
    os.symlink("/dev/null", link)
    with file_server() as srv:
        r = run_ferry("get", "-q", "-o", link, srv.url("/f.bin"), cwd=out)
    assert r.rc == 0, r
    assert os.path.islink(link) and os.readlink(link) == "/dev/null"
    assert listing(out) == []
