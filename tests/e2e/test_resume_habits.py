"""Resuming the way people expect, safely (issue 17, point 4): `ferry get -c` on a file that is
already complete, on a partial NAME left by curl, wget or a browser (continued only when the
server's Repr-Digest then proves the whole file), a plain get that finds NAME.part, Ctrl-C
during get and put (the line that resumes it), and --retry's report of the whole transfer."""
import os
import re
import shlex
import signal
import socket
import threading

import pytest

from ferrylib import file_sha256, sha256
from peers import ScriptedServer, listing, run_ferry, start_ferry, wait_for

BIG = os.urandom(1 << 20)
SMALL = b"small file\n" * 40
BODY = os.urandom(200_000)  # what the purpose-made servers serve
ETAG = '"v1-200000"'
WAIT = 10  # seconds: the longest any step here waits


@pytest.fixture(scope="module")
def served_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("habits") / "root"
    root.mkdir()
    (root / "big.bin").write_bytes(BIG)
    (root / "a.txt").write_bytes(SMALL)
    return root


@pytest.fixture
def fsrv(start_server, served_dir):
    return start_server(served_dir, "-q")


@pytest.fixture
def out(tmp_path):
    d = tmp_path / "out"
    d.mkdir()
    return d


# ---- -c on NAME itself ---------------------------------------------------------------------


def test_continue_on_a_complete_file_says_so(fsrv, out):
    (out / "big.bin").write_bytes(BIG)
    r = run_ferry("get", "-c", fsrv.url + "big.bin", cwd=out)
    assert r.rc == 0, r
    assert "big.bin: already complete (sha-256 verified)" in r.err, r.err
    assert listing(out) == ["big.bin"]
    assert file_sha256(out / "big.bin") == sha256(BIG)


def test_continue_on_a_same_size_wrong_file_is_a_digest_error(fsrv, out):
    wrong = b"W" * len(BIG)
    (out / "big.bin").write_bytes(wrong)
    r = run_ferry("get", "-c", fsrv.url + "big.bin", cwd=out)
    assert r.rc == 9, r
    assert "not the digest it must have" in r.err and "-f downloads it again" in r.err, r.err
    assert listing(out) == ["big.bin"]
    assert (out / "big.bin").read_bytes() == wrong  # left as it is


def test_continue_a_partial_name_proved_by_the_digest(fsrv, out):
    half = len(BIG) // 2
    (out / "big.bin").write_bytes(BIG[:half])  # as curl or wget leave a cut download
    r = run_ferry("get", "-v", "-c", fsrv.url + "big.bin", cwd=out)
    assert r.rc == 0, r
    assert f"resuming at byte {half}" in r.err and "sha-256" in r.err, r.err
    assert listing(out) == ["big.bin"]
    assert file_sha256(out / "big.bin") == sha256(BIG)


def test_continue_a_partial_name_with_a_wrong_prefix_keeps_the_part(fsrv, out):
    half = len(BIG) // 2
    (out / "big.bin").write_bytes(b"J" * half)  # not the start of the file
    r = run_ferry("get", "-c", fsrv.url + "big.bin", cwd=out)
    assert r.rc == 9, r
    assert "does not match the server's Repr-Digest" in r.err, r.err
    assert f"so the {half} bytes big.bin held were not the start of this file" in r.err, r.err
    assert listing(out) == ["big.bin.part"]  # never a corrupted big.bin
    data = (out / "big.bin.part").read_bytes()
    assert data[:half] == b"J" * half and data[half:] == BIG[half:]


def test_continue_a_name_larger_than_the_file_starts_again(fsrv, out):
    (out / "a.txt").write_bytes(b"L" * (len(SMALL) + 100))
    r = run_ferry("get", "-c", fsrv.url + "a.txt", cwd=out)
    assert r.rc == 0, r
    assert f"more than the server's {len(SMALL)}-byte file" in r.err, r.err
    assert listing(out) == ["a.txt"]
    assert (out / "a.txt").read_bytes() == SMALL


def test_continue_a_partial_name_without_a_digest_starts_again(out):
    have = 5000
    (out / "f.bin").write_bytes(BODY[:have])

    def handler(peer):
        req = peer.read_request()
        if peer.index == 0:
            # The rest, without Repr-Digest: nothing could prove the prefix.
            assert req.header("range") == f"bytes={have}-" and req.header("if-range") is None
            try:
                peer.respond(206, [("Content-Range", f"bytes {have}-{len(BODY) - 1}/{len(BODY)}")],
                             BODY[have:])
            except OSError:
                pass  # the client goes away at the head
            return
        assert req.header("range") is None
        peer.respond(200, [("ETag", ETAG)], BODY)

    with ScriptedServer(handler) as srv:
        r = run_ferry("get", "-c", srv.url("/f.bin"), cwd=out)
    assert r.rc == 0, r
    assert (f"f.bin: the server gives no Repr-Digest to prove its {have} bytes the start of "
            "this file: downloading it again from zero") in r.err, r.err
    assert listing(out) == ["f.bin"]
    assert (out / "f.bin").read_bytes() == BODY


def test_plain_get_finding_a_part_says_continue_resumes_it(fsrv, out):
    (out / "big.bin.part").write_bytes(BIG[:1000])
    r = run_ferry("get", fsrv.url + "big.bin", cwd=out)
    assert r.rc == 6, r
    assert ("big.bin.part holds 1000 bytes of an earlier download: -c resumes it, -f starts "
            "again from zero") in r.err, r.err
    assert listing(out) == ["big.bin.part"]
    assert (out / "big.bin.part").read_bytes() == BIG[:1000]


# ---- Ctrl-C ----------------------------------------------------------------------------------


def wait_gone(peer):
    """Waits (bounded) until the client closes the connection."""
    peer.sock.settimeout(WAIT)
    try:
        while peer.sock.recv(65536):
            pass
    except OSError:
        pass


def interrupt(p):
    """Sends SIGINT to p and returns (exit status, stderr)."""
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=WAIT)
    return p.returncode, err.decode("utf-8", "replace")


def resume_command(err, marker):
    """The command after marker in err, as argv (without the leading 'ferry')."""
    m = re.search(re.escape(marker) + r"(ferry .*)$", err, re.M)
    assert m, err
    argv = shlex.split(m.group(1))
    assert argv[0] == "ferry"
    return argv[1:]


def stall_then_rest(sent):
    """A handler: the first connection sends sent bytes of BODY and stalls; the next ones must
    ask for the rest with If-Range and get it."""
    def handler(peer):
        req = peer.read_request()
        if peer.index == 0:
            peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nETag: %s\r\n\r\n"
                      % (len(BODY), ETAG.encode()) + BODY[:sent])
            wait_gone(peer)  # stalls until Ctrl-C ends the client
            return
        assert req.header("range") == f"bytes={sent}-" and req.header("if-range") == ETAG
        peer.respond(206, [("Content-Range", f"bytes {sent}-{len(BODY) - 1}/{len(BODY)}"),
                           ("ETag", ETAG)], BODY[sent:])
    return handler


def test_ctrl_c_during_get_prints_the_command_that_resumes_it(out):
    sent = 50_000
    with ScriptedServer(stall_then_rest(sent)) as srv:
        url = srv.url("/f.bin")
        p = start_ferry("get", url, cwd=out)
        try:
            assert wait_for(lambda: (out / "f.bin.part").exists()
                            and (out / "f.bin.part").stat().st_size == sent, timeout=WAIT)
        finally:
            rc, err = interrupt(p)
        assert rc == 130, err
        assert f"ferry: interrupted; f.bin.part is kept; resume with: ferry get -c {url}\n" in err
        assert listing(out) == ["f.bin.part", "f.bin.part.validator"]
        argv = resume_command(err, "resume with: ")
        assert argv == ["get", "-c", url]
        r = run_ferry(*argv, cwd=out)
    assert r.rc == 0, r
    assert listing(out) == ["f.bin"]
    assert (out / "f.bin").read_bytes() == BODY


def test_ctrl_c_resume_command_keeps_the_output_folder(out):
    sent = 30_000
    folder = out / "my files 'x'"  # a space and quotes: the command must still be one word
    with ScriptedServer(stall_then_rest(sent)) as srv:
        url = srv.url("/f.bin")
        p = start_ferry("get", "-O", folder.name, url, cwd=out)
        try:
            assert wait_for(lambda: (folder / "f.bin.part").exists()
                            and (folder / "f.bin.part").stat().st_size == sent, timeout=WAIT)
        finally:
            rc, err = interrupt(p)
        assert rc == 130, err
        argv = resume_command(err, "resume with: ")
        assert argv == ["get", "-c", "-O", folder.name, url], err
        r = run_ferry(*argv, cwd=out)
    assert r.rc == 0, r
    assert (folder / "f.bin").read_bytes() == BODY


def test_ctrl_c_during_put_keeps_the_upload_token(tmp_path):
    data = os.urandom(1 << 20) * 16  # more than the socket buffers hold: the client waits
    src = tmp_path / "up.bin"
    src.write_bytes(data)
    got = threading.Event()
    token = "/up.bin?upload=tok123"
    first = 40_000

    def handler(peer):
        if peer.index == 0:
            req = peer.read_request()
            assert req.method == "PUT"
            peer.send(b"HTTP/1.1 104 Upload Resumption Supported\r\nLocation: " + token.encode()
                      + b"\r\nUpload-Draft-Interop-Version: 8\r\n\r\n"
                      + b"HTTP/1.1 100 Continue\r\n\r\n")
            assert peer.read_exact(first) == data[:first]
            got.set()
            wait_gone(peer)  # reads no more: the client stalls until Ctrl-C
            return
        while True:
            req = peer.read_request()
            if req is None:
                return
            assert req.target == token, req.target
            if req.method == "HEAD":
                peer.send(b"HTTP/1.1 204 No Content\r\nUpload-Offset: %d\r\nUpload-Complete: ?0\r\n"
                          b"Upload-Length: %d\r\n\r\n" % (first, len(data)))
                continue
            assert req.method == "PATCH" and req.header("upload-offset") == str(first)
            peer.send(b"HTTP/1.1 100 Continue\r\n\r\n")
            assert peer.read_exact(len(data) - first) == data[first:]
            peer.respond(201)
            return

    with ScriptedServer(handler) as srv:
        p = start_ferry("put", src, srv.url("/up.bin"), cwd=tmp_path)
        try:
            assert got.wait(WAIT)
        finally:
            rc, err = interrupt(p)
        assert rc == 130, err
        argv = resume_command(err, "ferry: interrupted; the upload can go on from where it stopped: ")
        assert argv == ["put", "-c", str(src), srv.url(token)], err
        r = run_ferry(*argv, cwd=tmp_path)
    assert r.rc == 0, r
    assert "201" in r.err


# ---- --retry ---------------------------------------------------------------------------------


def test_retry_reports_the_whole_transfer(out):
    cut = 100_000

    def handler(peer):
        req = peer.read_request()
        if peer.index == 0:
            peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nETag: %s\r\n\r\n"
                      % (len(BODY), ETAG.encode()) + BODY[:cut])
            peer.sock.shutdown(socket.SHUT_WR)
            wait_gone(peer)
            return
        assert req.header("range") == f"bytes={cut}-"
        peer.respond(206, [("Content-Range", f"bytes {cut}-{len(BODY) - 1}/{len(BODY)}"),
                           ("ETag", ETAG)], BODY[cut:])

    with ScriptedServer(handler) as srv:
        r = run_ferry("get", "--retry", "2", srv.url("/f.bin"), cwd=out)
    assert r.rc == 0, r
    m = re.search(r"ferry: f\.bin: 195\.3 KiB in (\d+\.\d\d) s \([^)]*/s\), 2 attempts\n", r.err)
    assert m, r.err
    # The whole transfer includes the 1 s wait before the retry, not only the last attempt.
    assert float(m.group(1)) >= 0.9, r.err
    assert (out / "f.bin").read_bytes() == BODY
