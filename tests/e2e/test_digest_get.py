"""`ferry get` checks what it saved against a digest before the rename: the
server's Repr-Digest (RFC 9530), or the one the user gives with --sha256 or
--digest. A mismatch keeps NAME.part, names both digests and exits 9; on a
resume the digest covers the prefix already on disk too."""
import base64
import hashlib
import os

from ferrylib import file_sha256, sha256
from peers import ScriptedServer, keep_alive, listing, run_ferry, send_file

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
