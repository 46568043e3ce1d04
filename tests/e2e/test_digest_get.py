"""`ferry get` checks what it saved against a digest before the rename: the
server's Repr-Digest (RFC 9530), or the one the user gives with --sha256 or
--digest. A mismatch keeps NAME.part, names both digests and exits 9; on a
resume the digest covers the prefix already on disk too."""
import base64
import hashlib
import os
import socket

import pytest

from ferrylib import file_sha256, sha256
from peers import ScriptedServer, chunked, keep_alive, listing, run_ferry, send_file

BODY = os.urandom(150_000)
ETAG = '"d1-150000"'
GOOD = hashlib.sha256(BODY).digest()
BAD = hashlib.sha256(BODY + b"x").digest()
DIGEST_EXIT = 9


def field(d):
    return "sha-256=:" + base64.b64encode(d).decode() + ":"


def serving(digest_value, drop_at=None):
    """Serves BODY with the given Repr-Digest value (None: no field); the
    first answer is cut after drop_at body bytes when drop_at is set."""
    state = {"n": 0}

    def respond(peer, req):
        state["n"] += 1
        extra = [] if digest_value is None else [("Repr-Digest", digest_value)]
        cut = drop_at if state["n"] == 1 else None
        return send_file(peer, req, BODY, ETAG, extra=extra, drop_after=cut)

    return keep_alive(respond)


def test_matching_repr_digest_is_verified_and_asked_for(tmp_path):
    with ScriptedServer(serving(field(GOOD))) as srv:
        r = run_ferry("get", "-v", srv.url("/f.bin"), cwd=tmp_path)
    assert r.rc == 0, r
    assert file_sha256(tmp_path / "f.bin") == sha256(BODY)
    assert listing(tmp_path) == ["f.bin"]
    assert "verified" in r.err
    assert srv.requests[0].header("want-repr-digest") == "sha-256=10"


def test_mismatching_repr_digest_keeps_the_part(tmp_path):
    with ScriptedServer(serving(field(BAD))) as srv:
        r = run_ferry("get", srv.url("/f.bin"), cwd=tmp_path)
    assert r.rc == DIGEST_EXIT, r
    assert "f.bin" not in listing(tmp_path)
    assert (tmp_path / "f.bin.part").read_bytes() == BODY
    assert BAD.hex() in r.err and GOOD.hex() in r.err


def test_after_a_mismatch_continue_starts_from_zero(tmp_path):
    """The rejected part is no prefix: -c must not ask only for the rest
    (nor take a 416 as "already complete")."""
    with ScriptedServer(serving(field(BAD))) as srv:
        assert run_ferry("get", "-q", srv.url("/f.bin"), cwd=tmp_path).rc == DIGEST_EXIT
    with ScriptedServer(serving(field(GOOD))) as srv:
        r = run_ferry("get", "-c", srv.url("/f.bin"), cwd=tmp_path)
    assert r.rc == 0, r
    assert srv.requests[0].header("range") is None
    assert file_sha256(tmp_path / "f.bin") == sha256(BODY)
    assert listing(tmp_path) == ["f.bin"]


def test_already_complete_part_is_checked(tmp_path):
    """A 416 says the part is whole; its Repr-Digest still decides."""
    part = tmp_path / "f.bin.part"
    damaged = bytearray(BODY)
    damaged[7] ^= 0x80
    part.write_bytes(bytes(damaged))
    (tmp_path / "f.bin.part.validator").write_text(ETAG)
    with ScriptedServer(serving(field(GOOD))) as srv:
        r = run_ferry("get", "-c", srv.url("/f.bin"), cwd=tmp_path)
    assert srv.requests[0].header("range") == f"bytes={len(BODY)}-"
    assert r.rc == DIGEST_EXIT, r
    assert "f.bin" not in listing(tmp_path)


def test_other_algorithms_alone_are_not_checked(tmp_path):
    with ScriptedServer(serving("sha-512=:" + base64.b64encode(b"z" * 64).decode() + ":")) as srv:
        r = run_ferry("get", "-v", srv.url("/f.bin"), cwd=tmp_path)
    assert r.rc == 0, r
    assert "verified" not in r.err
    assert file_sha256(tmp_path / "f.bin") == sha256(BODY)


def test_malformed_repr_digest_is_a_protocol_error(tmp_path):
    with ScriptedServer(serving("sha-256=:not base64!:")) as srv:
        r = run_ferry("get", srv.url("/f.bin"), cwd=tmp_path)
    assert r.rc == 8, r
    assert "f.bin" not in listing(tmp_path)
    assert "Repr-Digest" in r.err


def test_resume_checks_the_prefix_on_disk(tmp_path):
    """The prefix kept by the first run is damaged on disk; the bytes that
    come on resume are right, but the whole file is not."""
    with ScriptedServer(serving(field(GOOD), drop_at=60_000)) as srv:
        assert run_ferry("get", "-q", srv.url("/f.bin"), cwd=tmp_path).rc == 3
        part = tmp_path / "f.bin.part"
        damaged = bytearray(part.read_bytes())
        damaged[1234] ^= 0x01
        part.write_bytes(bytes(damaged))
        r = run_ferry("get", "-c", srv.url("/f.bin"), cwd=tmp_path)
    assert r.rc == DIGEST_EXIT, r
    assert srv.requests[1].header("range") == "bytes=60000-"
    assert "f.bin" not in listing(tmp_path)
    assert part.stat().st_size == len(BODY)


def test_resume_with_a_whole_prefix_is_verified(tmp_path):
    with ScriptedServer(serving(field(GOOD), drop_at=60_000)) as srv:
        assert run_ferry("get", "-q", srv.url("/f.bin"), cwd=tmp_path).rc == 3
        r = run_ferry("get", "-v", "-c", srv.url("/f.bin"), cwd=tmp_path)
    assert r.rc == 0, r
    assert "verified" in r.err
    assert file_sha256(tmp_path / "f.bin") == sha256(BODY)
    assert listing(tmp_path) == ["f.bin"]


def test_sha256_option_without_a_server_digest(tmp_path):
    with ScriptedServer(serving(None)) as srv:
        ok = run_ferry("get", "-o", "good.bin", "--sha256", GOOD.hex(), srv.url("/f.bin"),
                       cwd=tmp_path)
        bad = run_ferry("get", "-o", "bad.bin", "--sha256", BAD.hex().upper(), srv.url("/f.bin"),
                        cwd=tmp_path)
    assert ok.rc == 0, ok
    assert bad.rc == DIGEST_EXIT, bad
    assert sorted(listing(tmp_path)) == ["bad.bin.part", "good.bin"]
    assert "the digest given" in bad.err


def test_digest_option_and_server_digest_must_both_match(tmp_path):
    """The user's digest is right, the server's is not: the file is not
    trusted, whichever of the two is wrong."""
    with ScriptedServer(serving(field(BAD))) as srv:
        r = run_ferry("get", "--digest", field(GOOD), srv.url("/f.bin"), cwd=tmp_path)
    assert r.rc == DIGEST_EXIT, r
    assert "f.bin" not in listing(tmp_path)


def test_digest_option_checks_a_raw_download(tmp_path, start_server):
    root = tmp_path / "root"
    root.mkdir()
    (root / "r.bin").write_bytes(BODY)
    srv = start_server(root)
    out = tmp_path / "out"
    out.mkdir()
    ok = run_ferry("get", "--sha256", GOOD.hex(), f"raw://127.0.0.1:{srv.port}/r.bin", cwd=out)
    bad = run_ferry("get", "-o", "x.bin", "--sha256", BAD.hex(),
                    f"raw://127.0.0.1:{srv.port}/r.bin", cwd=out)
    assert ok.rc == 0, ok
    assert bad.rc == DIGEST_EXIT, bad
    assert sorted(listing(out)) == ["r.bin", "x.bin.part"]


def test_bad_digest_options_are_usage_errors(tmp_path):
    for args in (["--sha256", "abc"], ["--sha256", "g" * 64], ["--digest", "md5=:AAAA:"],
                 ["--digest", "sha-256=:AAAA:"], ["--sha256", GOOD.hex(), "-o", "-"],
                 ["--sha256", GOOD.hex(), "http://127.0.0.1:9/a"]):
        r = run_ferry("get", *args, "http://127.0.0.1:9/b", cwd=tmp_path)
        assert r.rc == 2, (args, r)
    assert listing(tmp_path) == []


# ---- a Repr-Digest trailer (issue 21) ----------------------------------------


def serving_chunked(trailer_value, announce=True):
    """Serves BODY chunked, with a Repr-Digest trailer field of the given
    value (None: none), announced in Trailer when announce is set."""

    def respond(peer, req):
        headers = [("Transfer-Encoding", "chunked"), ("ETag", ETAG)]
        if announce:
            headers.append(("Trailer", "Repr-Digest"))
        trailer = b"" if trailer_value is None else f"Repr-Digest: {trailer_value}\r\n".encode()
        peer.respond(200, headers, chunked([BODY[:70_000], BODY[70_000:]], trailer))
        return True

    return keep_alive(respond)


def test_a_trailer_digest_is_verified_and_trailers_are_asked_for(tmp_path):
    with ScriptedServer(serving_chunked(field(GOOD))) as srv:
        r = run_ferry("get", "-v", srv.url("/f.bin"), cwd=tmp_path)
    assert r.rc == 0, r
    assert "verified" in r.err
    assert listing(tmp_path) == ["f.bin"]
    assert srv.requests[0].header("te") == "trailers"
    assert "TE" in srv.requests[0].header("connection").split(", ")


def test_an_unannounced_trailer_digest_is_checked_too(tmp_path):
    with ScriptedServer(serving_chunked(field(BAD), announce=False)) as srv:
        r = run_ferry("get", srv.url("/f.bin"), cwd=tmp_path)
    assert r.rc == DIGEST_EXIT, r
    assert (tmp_path / "f.bin.part").read_bytes() == BODY


def test_a_mismatching_trailer_digest_keeps_the_part(tmp_path):
    with ScriptedServer(serving_chunked(field(BAD))) as srv:
        r = run_ferry("get", srv.url("/f.bin"), cwd=tmp_path)
    assert r.rc == DIGEST_EXIT, r
    assert "f.bin" not in listing(tmp_path)
    assert BAD.hex() in r.err and GOOD.hex() in r.err


def test_a_malformed_trailer_digest_is_a_protocol_error(tmp_path):
    with ScriptedServer(serving_chunked("sha-256=:not base64!:")) as srv:
        r = run_ferry("get", srv.url("/f.bin"), cwd=tmp_path)
    assert r.rc == 8, r
    assert "f.bin" not in listing(tmp_path)
    assert "Repr-Digest trailer" in r.err


def test_an_announced_trailer_that_never_comes_is_no_failure(tmp_path):
    with ScriptedServer(serving_chunked(None)) as srv:
        r = run_ferry("get", "-v", srv.url("/f.bin"), cwd=tmp_path)
    assert r.rc == 0, r
    assert "verified" not in r.err
    assert file_sha256(tmp_path / "f.bin") == sha256(BODY)


BIG = os.urandom(3 << 20)


def serving_big_chunk(after):
    """Serves BIG as one chunk (as ferry serve sends a file with a trailer
    digest), the bytes after that chunk's data given by after."""

    def respond(peer, req):
        peer.respond(200, [("Transfer-Encoding", "chunked"), ("Trailer", "Repr-Digest")],
                     b"%x\r\n" % len(BIG) + BIG + after)
        return False

    return keep_alive(respond)


def test_a_large_chunk_is_moved_whole_and_checked(tmp_path):
    """The data of a large chunk goes past the decoder (spliced from the
    socket to the file); what follows it is decoded as before: a small
    chunk, the last one, the trailer digest, which is checked."""
    tail = b"tail"
    good = field(hashlib.sha256(BIG + tail).digest())
    after = b"\r\n4\r\ntail\r\n0\r\nRepr-Digest: " + good.encode() + b"\r\n\r\n"
    with ScriptedServer(serving_big_chunk(after)) as srv:
        r = run_ferry("get", "-v", srv.url("/f.bin"), cwd=tmp_path)
    assert r.rc == 0, r
    assert "verified" in r.err
    assert (tmp_path / "f.bin").read_bytes() == BIG + tail


def test_a_large_chunk_with_a_wrong_trailer_digest_keeps_the_part(tmp_path):
    bad = field(hashlib.sha256(BIG + b"x").digest())
    after = b"\r\n0\r\nRepr-Digest: " + bad.encode() + b"\r\n\r\n"
    with ScriptedServer(serving_big_chunk(after)) as srv:
        r = run_ferry("get", srv.url("/f.bin"), cwd=tmp_path)
    assert r.rc == DIGEST_EXIT, r
    assert listing(tmp_path) == ["f.bin.part"]
    assert (tmp_path / "f.bin.part").read_bytes() == BIG


def test_a_large_chunk_not_followed_by_crlf_is_malformed(tmp_path):
    """Data moved past the decoder still has to end with CR LF."""
    with ScriptedServer(serving_big_chunk(b"XY0\r\n\r\n")) as srv:
        r = run_ferry("get", srv.url("/f.bin"), cwd=tmp_path)
    assert r.rc == 8, r
    assert "malformed chunked body" in r.err
    assert "f.bin" not in listing(tmp_path)


def test_a_cut_inside_a_large_chunk_keeps_what_came(tmp_path):
    """The server closes 1 MiB into a 3 MiB chunk: a cut (exit 3), never a
    renamed file; the part holds the bytes that came."""

    def respond(peer, req):
        peer.respond(200, [("Transfer-Encoding", "chunked")], b"%x\r\n" % len(BIG) + BIG[:1 << 20])
        peer.close()
        return False

    with ScriptedServer(keep_alive(respond)) as srv:
        r = run_ferry("get", srv.url("/f.bin"), cwd=tmp_path)
    assert r.rc == 3, r
    assert "f.bin" not in listing(tmp_path)
    assert (tmp_path / "f.bin.part").read_bytes() == BIG[:1 << 20]


def test_a_resume_without_a_whole_file_digest_says_so(tmp_path):
    with ScriptedServer(serving(None, drop_at=60_000)) as srv:
        assert run_ferry("get", "-q", srv.url("/f.bin"), cwd=tmp_path).rc == 3
        r = run_ferry("get", "-c", srv.url("/f.bin"), cwd=tmp_path)
    assert r.rc == 0, r
    assert srv.requests[1].header("range") == "bytes=60000-"
    assert "no digest of the whole file" in r.err and "not checked" in r.err
    assert file_sha256(tmp_path / "f.bin") == sha256(BODY)


def flipping_proxy(upstream_port, at, seen):
    """A handler that passes one request to upstream (asking it to close
    after the answer) and relays the answer with the byte at offset `at`
    after its head flipped; seen gets the answer's head."""

    def handler(peer):
        req = peer.read_request()
        if req is None:
            return
        with socket.create_connection(("127.0.0.1", upstream_port), timeout=30) as up:
            up.sendall(req.head[:-2] + b"Connection: close\r\n\r\n")
            data = bytearray()
            while chunk := up.recv(1 << 20):
                data += chunk
        end = data.index(b"\r\n\r\n") + 4
        seen.append(bytes(data[:end]))
        data[end + at] ^= 0x20
        peer.send(bytes(data))
        peer.close()

    return handler


@pytest.mark.parametrize("where", ["header", "trailer"])
def test_a_byte_flipped_on_the_way_is_caught(tmp_path, start_server, where):
    """The real server and client, a proxy between them that flips one
    bit of the body: exit 9 whether the digest came in the head (known
    already) or in the trailer (computed as the file was sent)."""
    root = tmp_path / "root"
    root.mkdir()
    data = os.urandom(3 << 20)
    (root / "f.bin").write_bytes(data)
    srv = start_server(root, "-q", "--no-digest-scan")
    if where == "header":  # the first download stores the digest
        first = run_ferry("get", "-q", "-o", tmp_path / "first.bin", f"http://127.0.0.1:{srv.port}/f.bin")
        assert first.rc == 0, first
    seen = []
    out = tmp_path / "out"
    out.mkdir()
    with ScriptedServer(flipping_proxy(srv.port, 100_000, seen)) as proxy:
        r = run_ferry("get", "--no-pipeline", proxy.url("/f.bin"), cwd=out)
    assert r.rc == DIGEST_EXIT, r
    assert listing(out) == ["f.bin.part"]
    head = seen[0].decode("latin-1").lower()
    if where == "header":
        assert "\r\nrepr-digest: sha-256=" in head and "transfer-encoding" not in head
    else:
        assert "\r\ntrailer: repr-digest\r\n" in head and "transfer-encoding: chunked" in head
