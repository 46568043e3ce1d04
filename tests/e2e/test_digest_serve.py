"""`ferry serve` and Repr-Digest (RFC 9530): the field on 200, 206, 304 and
HEAD when Want-Repr-Digest asks for sha-256 (or always, with --digest); the
digest cached in the user.ferry.sha256 attribute, stamped so that a changed
file is never described by an old digest. No answer waits for a digest: a
large file not hashed yet goes at once, with its digest in a trailer for a
client that takes trailers, else without it; it is hashed in the background
for the requests to come."""
import base64
import ctypes
import hashlib
import os
import socket
import struct
import subprocess
import sys
import time

import pytest

from ferrylib import HttpConn, build_request, http_request
from peers import ScriptedServer, run_ferry, wait_for

XATTR = "user.ferry.sha256"
WANT = [("Want-Repr-Digest", "sha-256=7")]
SMALL = os.urandom(300_000)


def field(data):
    return "sha-256=:" + base64.b64encode(hashlib.sha256(data).digest()).decode() + ":"


def zeros_field(size):
    h = hashlib.sha256()
    chunk = bytes(1 << 20)
    left = size
    while left > 0:
        h.update(chunk[:min(left, len(chunk))])
        left -= len(chunk)
    return "sha-256=:" + base64.b64encode(h.digest()).decode() + ":"


def has_xattrs(path):
    try:
        os.setxattr(path, "user.ferry.probe", b"1")
        os.removexattr(path, "user.ferry.probe")
        return True
    except OSError:
        return False


@pytest.fixture
def root(tmp_path):
    r = tmp_path / "root"
    r.mkdir()
    (r / "s.bin").write_bytes(SMALL)
    return r


def test_asked_for_on_get_head_range_and_304(start_server, root):
    srv = start_server(root)
    full = http_request(srv, "GET", "/s.bin", WANT)
    assert full.status == 200 and full.body == SMALL
    assert full.header("repr-digest") == field(SMALL)
    etag = full.header("etag")
    head = http_request(srv, "HEAD", "/s.bin", WANT)
    assert head.header("repr-digest") == field(SMALL)
    part = http_request(srv, "GET", "/s.bin", WANT + [("Range", "bytes=10-99")])
    assert part.status == 206 and part.body == SMALL[10:100]
    assert part.header("repr-digest") == field(SMALL)  # the whole file's
    nm = http_request(srv, "GET", "/s.bin", WANT + [("If-None-Match", etag)])
    assert nm.status == 304
    assert nm.header("repr-digest") == field(SMALL)


def test_not_sent_unless_asked(start_server, root):
    srv = start_server(root)
    for headers in ([], [("Want-Repr-Digest", "sha-256=0")], [("Want-Repr-Digest", "md5=3")],
                    [("Want-Repr-Digest", "sha-256=:AAAA:")]):
        r = http_request(srv, "GET", "/s.bin", headers)
        assert r.status == 200
        assert r.header("repr-digest") is None, headers
    unsat = http_request(srv, "GET", "/s.bin", WANT + [("Range", "bytes=999999-")])
    assert unsat.status == 416
    assert unsat.header("repr-digest") is None


def test_digest_option_sends_it_always(start_server, root):
    srv = start_server(root, "--digest")
    r = http_request(srv, "GET", "/s.bin")
    assert r.header("repr-digest") == field(SMALL)


def test_cached_in_an_attribute_stamped_with_the_version(start_server, root):
    path = root / "s.bin"
    if not has_xattrs(path):
        pytest.skip("this file system refuses user extended attributes")
    srv = start_server(root)
    http_request(srv, "GET", "/s.bin", WANT)
    st = os.stat(path)
    text = os.getxattr(path, XATTR).decode()
    assert text == (f"v1 {st.st_size} {st.st_mtime_ns} {st.st_ino} "
                    + hashlib.sha256(SMALL).hexdigest())


def test_a_changed_file_gets_a_new_digest(start_server, root):
    """Same size, new bytes, a later mtime: neither the attribute nor the
    memory cache may describe it with the old digest."""
    path = root / "s.bin"
    srv = start_server(root)
    assert http_request(srv, "GET", "/s.bin", WANT).header("repr-digest") == field(SMALL)
    other = os.urandom(len(SMALL))
    with open(path, "r+b") as f:  # the same inode
        f.write(other)
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    r = http_request(srv, "GET", "/s.bin", WANT)
    assert r.body == other
    assert r.header("repr-digest") == field(other)


def test_a_planted_attribute_for_another_version_is_ignored(start_server, root):
    path = root / "s.bin"
    if not has_xattrs(path):
        pytest.skip("this file system refuses user extended attributes")
    st = os.stat(path)
    wrong = hashlib.sha256(b"not this file").hexdigest()
    os.setxattr(path, XATTR, f"v1 {st.st_size} {st.st_mtime_ns - 1} {st.st_ino} {wrong}".encode())
    srv = start_server(root)
    assert http_request(srv, "GET", "/s.bin", WANT).header("repr-digest") == field(SMALL)
    os.setxattr(path, XATTR, b"v1 garbage")
    srv2 = start_server(root)
    assert http_request(srv2, "GET", "/s.bin", WANT).header("repr-digest") == field(SMALL)


def poll_digest(srv, target, timeout=60):
    """HEAD target until its answer carries Repr-Digest; the field or None."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = http_request(srv, "HEAD", target, WANT, timeout=30).header("repr-digest")
        if got is not None:
            return got
        time.sleep(0.2)
    return None


def test_an_unknown_large_digest_never_holds_the_answer(start_server, root):
    """HEAD, GET without TE: trailers, and a range of a large file never
    hashed: each answered at once without the field (the old server held
    them in CS_DIGEST until the file was hashed), while the background
    thread hashes the file; then the field comes at once."""
    size = 256 << 20
    with open(root / "big.bin", "wb") as f:
        f.truncate(size)
    srv = start_server(root, "--no-digest-scan", threads=1)
    head = http_request(srv, "HEAD", "/big.bin", WANT)
    assert head.status == 200 and head.header("repr-digest") is None
    assert head.header("content-length") == str(size)
    part = http_request(srv, "GET", "/big.bin", WANT + [("Range", "bytes=0-9")])
    if part.header("repr-digest") is None:  # the thread may be done by now
        assert part.status == 206 and part.body == bytes(10)
    assert poll_digest(srv, "/big.bin") == zeros_field(size)
    again = http_request(srv, "GET", "/big.bin", WANT + [("Range", "bytes=0-9")])
    assert again.status == 206 and again.header("repr-digest") == zeros_field(size)


def test_a_trailer_carries_the_digest_computed_as_sent(start_server, root):
    """TE: trailers: a large file never hashed goes chunked at once, its
    digest in the trailer section, computed from the bytes sent; the next
    answer has it in the head (stored by the first)."""
    data = os.urandom(3 << 20)
    (root / "t.bin").write_bytes(data)
    srv = start_server(root, "--no-digest-scan")
    with HttpConn(srv.port) as conn:  # the same connection goes on after the trailer
        conn.send(build_request("GET", "/t.bin", WANT + [("TE", "trailers")]))
        r = conn.read_response("GET")
        conn.send(build_request("GET", "/t.bin", WANT + [("TE", "trailers")]))
        nxt = conn.read_response("GET")
    assert r.status == 200 and r.body == data
    assert r.header("transfer-encoding") == "chunked" and r.header("content-length") is None
    assert r.header("trailer") == "Repr-Digest" and r.header("repr-digest") is None
    assert r.trailers == [("repr-digest", field(data))]
    assert nxt.header("repr-digest") == field(data) and nxt.trailers == []
    assert nxt.header("content-length") == str(len(data)) and nxt.body == data


@pytest.mark.parametrize("headers,version", [
    ([], "HTTP/1.1"),                            # no TE
    ([("TE", "gzip")], "HTTP/1.1"),              # TE without trailers
    ([("TE", "trailers")], "HTTP/1.0"),          # no chunked in HTTP/1.0
])
def test_no_trailer_for_a_client_that_cannot_take_one(start_server, root, headers, version):
    data = os.urandom(3 << 20)
    (root / "t.bin").write_bytes(data)
    srv = start_server(root, "--no-digest-scan")
    r = http_request(srv, "GET", "/t.bin", WANT + headers, version=version)
    assert r.status == 200 and r.body == data
    assert r.header("content-length") == str(len(data))
    assert r.header("repr-digest") is None and r.header("trailer") is None and r.trailers == []


def test_a_trailer_under_tls(start_server, root):
    data = os.urandom(3 << 20)
    (root / "t.bin").write_bytes(data)
    srv = start_server(root, "--tls-self-signed", "--no-digest-scan")
    out = subprocess.run(["curl", "-sk", "--raw", "-H", "TE: trailers", "-H",
                          "Want-Repr-Digest: sha-256=10", f"https://127.0.0.1:{srv.port}/t.bin"],
                         capture_output=True, timeout=60)
    assert out.returncode == 0
    assert out.stdout.endswith(b"\r\n0\r\nRepr-Digest: " + field(data).encode() + b"\r\n\r\n")


def test_a_file_changed_while_sent_gets_no_trailer_digest(start_server, root):
    """The file changes in place (same size, a later mtime) while its
    chunked body is on the way: the trailer must not describe it by the
    digest of the bytes sent, nor is that digest kept."""
    size = 32 << 20
    old = os.urandom(size)
    path = root / "c.bin"
    path.write_bytes(old)
    srv = start_server(root, "--no-digest-scan")
    with HttpConn(srv.port, timeout=60) as conn:
        conn.send(build_request("GET", "/c.bin", WANT + [("TE", "trailers")]))
        conn.buffer_at_least(1 << 16)  # the head and the first bytes; the socket is full
        with open(path, "r+b") as f:
            f.seek(size - 4096)
            f.write(os.urandom(4096))
        st = os.stat(path)
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
        r = conn.read_response("GET")
    assert r.status == 200 and len(r.body) == size
    assert r.trailers == []
    again = http_request(srv, "HEAD", "/c.bin", WANT)
    assert again.header("repr-digest") in (None, field(path.read_bytes()))


def test_a_trailer_digest_hashed_beside_the_send_sends_the_file_in_one_chunk(start_server, root):
    """While a digest thread is free the file goes the fast way (sendfile or
    read/write as a plain GET), in one chunk, hashed by the thread beside
    the send; the trailer follows once both are done."""
    data = os.urandom(8 << 20)
    (root / "one.bin").write_bytes(data)
    srv = start_server(root, "--no-digest-scan")
    with HttpConn(srv.port, timeout=30) as conn:
        conn.send(build_request("GET", "/one.bin", WANT + [("TE", "trailers")]))
        conn.buffer_at_least(1 << 10)
        head_end = conn.buf.index(b"\r\n\r\n") + 4
        first_line = bytes(conn.buf[head_end:conn.buf.index(b"\r\n", head_end)])
        r = conn.read_response("GET")
        # the same connection goes on after the trailer
        conn.send(build_request("GET", "/s.bin"))
        assert conn.read_response("GET").body == SMALL
    assert first_line == b"%x" % len(data)
    assert r.status == 200 and r.body == data
    assert r.trailers == [("repr-digest", field(data))]


def abrupt_close(sock):
    """Closes with a reset (SO_LINGER 0): the server's next send fails."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


@pytest.mark.parametrize("how", ["reset", "close"])
def test_client_gone_mid_send_while_the_digest_thread_runs(start_server, root, how):
    """Clients leave after the first MiB of a large file whose digest a
    thread is hashing beside the send: the server lets go of the job (the
    thread stops; its result is freed when it comes back, never used), keeps
    serving, and the next download gets the right bytes and digest. Under
    ASan (SANITIZE=1) a leak or a use after free fails the server's exit."""
    size = 192 << 20
    with open(root / "gone.bin", "wb") as f:
        f.truncate(size)
    srv = start_server(root, "--no-digest-scan", threads=1)
    for _ in range(4):
        conn = HttpConn(srv.port, timeout=30)
        conn.send(build_request("GET", "/gone.bin", WANT + [("TE", "trailers")]))
        conn.buffer_at_least(1 << 20)
        if how == "reset":
            abrupt_close(conn.sock)
        else:
            conn.close()
    data = os.urandom(4 << 20)
    (root / "after.bin").write_bytes(data)
    r = http_request(srv, "GET", "/after.bin", WANT + [("TE", "trailers")], timeout=30)
    assert r.status == 200 and r.body == data and r.trailers == [("repr-digest", field(data))]
    # the file the clients left is not described by a digest of a part of it
    assert http_request(srv, "HEAD", "/gone.bin", WANT).header("repr-digest") in (None, zeros_field(size))
    assert srv.stop() == 0


def test_a_file_truncated_while_sent_with_its_digest_beside(start_server, root):
    """The file shrinks while its one chunk is on the way: the promised
    length cannot be kept, so the connection is cut inside the chunk (never
    a last chunk, never a trailer), no digest of either version is kept
    for the other, and the server goes on."""
    size = 32 << 20
    old = os.urandom(size)
    path = root / "t.bin"
    path.write_bytes(old)
    srv = start_server(root, "--no-digest-scan", threads=1)
    with HttpConn(srv.port, timeout=30) as conn:
        conn.send(build_request("GET", "/t.bin", WANT + [("TE", "trailers")]))
        conn.buffer_at_least(1 << 16)
        time.sleep(0.05)
        os.truncate(path, 1 << 20)
        with pytest.raises(ConnectionError):
            conn.read_response("GET")
    assert http_request(srv, "HEAD", "/t.bin", WANT).header("repr-digest") in (None, field(old[:1 << 20]))
    r = http_request(srv, "GET", "/t.bin", WANT + [("TE", "trailers")])
    assert r.status == 200 and r.body == old[:1 << 20]
    assert r.header("repr-digest") == field(r.body) or r.trailers == [("repr-digest", field(r.body))]
    assert srv.stop() == 0


def test_many_first_downloads_beyond_the_digest_threads(start_server, root):
    """More first downloads at once than there are digest threads: those
    past the cap are hashed as they are sent, on the worker. Every client
    gets the right bytes and the right trailer digest."""
    n = 8
    files = {}
    for i in range(n):
        files[f"/m{i}.bin"] = os.urandom((12 << 20) + i)
        (root / f"m{i}.bin").write_bytes(files[f"/m{i}.bin"])
    srv = start_server(root, "--no-digest-scan", threads=1)
    conns = [HttpConn(srv.port, timeout=60) for _ in range(n)]
    try:
        for i, conn in enumerate(conns):  # all asked before any is read
            conn.send(build_request("GET", f"/m{i}.bin", WANT + [("TE", "trailers")]))
        for i, conn in enumerate(conns):
            r = conn.read_response("GET")
            data = files[f"/m{i}.bin"]
            assert r.status == 200 and r.body == data, f"m{i}.bin"
            assert r.trailers == [("repr-digest", field(data))], f"m{i}.bin"
    finally:
        for conn in conns:
            conn.close()
    assert srv.stop() == 0


@pytest.mark.parametrize("how", ["pass", "queued"])
def test_a_file_changed_while_hashed_in_the_background(start_server, root, how):
    """The first pass over the tree (or the thread, for a file a request
    queued) is hashing a file, slowly (16 MiB/s), when it changes in place:
    its old digest is never given; the new one is, once hashed (the pass
    learns of the change from inotify; a request queues it again)."""
    size = 64 << 20
    path = root / "b.bin"
    with open(path, "wb") as f:
        f.truncate(size)
    srv = start_server(root, "--digest-rate", "16", *(["--no-digest-scan"] if how == "queued" else []))
    if how == "queued":
        assert http_request(srv, "HEAD", "/b.bin", WANT).header("repr-digest") is None
    time.sleep(0.5)
    with open(path, "r+b") as f:
        f.write(b"new")
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    old = zeros_field(size)
    new = field(path.read_bytes())
    deadline = time.monotonic() + 60
    got = None
    while got != new and time.monotonic() < deadline:
        got = http_request(srv, "HEAD", "/b.bin", WANT).header("repr-digest")
        assert got != old, "the old version's digest described the new one"
        time.sleep(0.3)
    assert got == new


def test_the_first_pass_hashes_the_tree_and_says_so(start_server, root):
    """Files over 1 MiB (never hashed on the loop) in the root and beneath
    it: after the first pass, which the log reports, a HEAD finds each
    digest at once, without any request having asked before."""
    files = {"one.bin": os.urandom(2 << 20), "sub/two.bin": os.urandom(3 << 20),
             "sub/deeper/three.bin": os.urandom(1 << 21)}
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    srv = start_server(root)
    assert wait_for(lambda: "first pass done" in srv.stderr_text(), timeout=60), srv.stderr_text()
    assert "4 files, 4 hashed" in srv.stderr_text()  # s.bin too
    for rel, data in files.items():
        assert http_request(srv, "HEAD", "/" + rel, WANT).header("repr-digest") == field(data), rel


def test_files_written_later_are_hashed_on_change(start_server, root):
    """inotify: a file written into a folder of the tree, and one in a
    folder made after the start, are hashed without a request (the
    attribute shows it)."""
    if not has_xattrs(root / "s.bin"):
        pytest.skip("this file system refuses user extended attributes")
    (root / "sub").mkdir()
    srv = start_server(root)
    assert wait_for(lambda: "first pass done" in srv.stderr_text(), timeout=60)
    later = {"sub/later.bin": os.urandom(2 << 20), "new/deep/later.bin": os.urandom(2 << 20)}
    (root / "new").mkdir()
    (root / "new" / "deep").mkdir()
    for rel, data in later.items():
        (root / rel).write_bytes(data)

    def stamped(rel):
        try:
            text = os.getxattr(root / rel, XATTR).decode()
        except OSError:
            return False
        return text.endswith(hashlib.sha256(later[rel]).hexdigest())

    for rel in later:
        assert wait_for(lambda: stamped(rel), timeout=30), rel


def test_no_digest_scan_leaves_the_tree_alone(start_server, root):
    data = os.urandom(2 << 20)
    (root / "big.bin").write_bytes(data)
    srv = start_server(root, "--no-digest-scan")
    time.sleep(1)
    assert "first pass" not in srv.stderr_text()
    assert http_request(srv, "HEAD", "/big.bin", WANT).header("repr-digest") is None


def test_stop_is_prompt_while_a_file_is_hashed(start_server, root):
    """Stopping the server does not wait for the file still being hashed."""
    size = 3 << 30
    with open(root / "huge.bin", "wb") as f:
        f.truncate(size)
    srv = start_server(root, "--digest-rate", "64")
    with HttpConn(srv.port, timeout=30) as conn:
        conn.send(build_request("HEAD", "/huge.bin", WANT))
        r = conn.read_response("HEAD")
        assert r.status == 200 and r.header("repr-digest") is None
        assert r.header("content-length") == str(size)
        # The same connection goes on: its next request is answered.
        conn.send(build_request("GET", "/s.bin"))
        assert conn.read_response("GET").body == SMALL
    t1 = time.monotonic()
    assert srv.stop() == 0
    assert time.monotonic() - t1 < 5


def without_write_override():
    """preexec_fn: the process keeps no capability to write where a file's
    mode says no (CAP_DAC_OVERRIDE, CAP_FOWNER), root or not."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 3):  # CAP_DAC_OVERRIDE, CAP_FOWNER
        libc.prctl(24, cap, 0, 0, 0)  # PR_CAPBSET_DROP; refused (and not needed) when not root
    libc.prctl(47, 4, 0, 0, 0)  # PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL


def test_where_the_attribute_is_refused_memory_serves(start_server, root):
    """A read-only file (mode 0444, the server without the capability to
    override it: no attribute can be set, on any file system) whose digest
    is not known: answers go without the field until the background thread
    is done, then come with it from the memory cache. Without that cache
    every request would queue it again."""
    size = 512 << 20
    path = root / "frozen.bin"
    with open(path, "wb") as f:
        f.truncate(size)
    os.chmod(path, 0o444)
    setx = "import os, sys; os.setxattr(sys.argv[1], 'user.ferry.probe', b'1')"
    probe = subprocess.run([sys.executable, "-c", setx, str(path)], preexec_fn=without_write_override,
                           capture_output=True, text=True, timeout=30)
    assert probe.returncode != 0 and "Error" in probe.stderr, "the attribute could be set"
    srv = start_server(root, "--no-digest-scan", preexec_fn=without_write_override)
    first = http_request(srv, "HEAD", "/frozen.bin", WANT, timeout=30)
    assert first.status == 200 and first.header("repr-digest") is None
    want = zeros_field(size)
    got = None
    deadline = time.monotonic() + 60
    while got is None and time.monotonic() < deadline:
        time.sleep(1)
        got = http_request(srv, "HEAD", "/frozen.bin", WANT, timeout=30).header("repr-digest")
    assert got == want
    # Now it is known: the next request needs no hashing.
    again = http_request(srv, "HEAD", "/frozen.bin", WANT, timeout=30)
    assert again.header("repr-digest") == want


# ---- PUT with a digest ------------------------------------------------------

OLD = b"the old content\n" * 100
NEW = os.urandom(40_000)


@pytest.fixture
def upsrv(start_server, root):
    (root / "old.txt").write_bytes(OLD)
    return start_server(root, "-q", "--upload")


def put(srv, target, body, headers=(), conn=None):
    hs = [("Content-Length", str(len(body))), *headers]
    if conn is None:
        return http_request(srv, "PUT", target, hs, body=body)
    conn.send(build_request("PUT", target, hs, body=body))
    return conn.read_response("PUT")


def dot_files(d):
    return [n for n in os.listdir(d) if n.startswith(".") and n != ".ferry-uploads"]


@pytest.mark.parametrize("name", ["Repr-Digest", "Content-Digest"])
def test_put_with_a_matching_digest(upsrv, root, name):
    r = put(upsrv, "/old.txt", NEW, [(name, field(NEW))])
    assert r.status == 204, r
    assert (root / "old.txt").read_bytes() == NEW
    # Kept for readers: the next GET needs no hashing, and says it.
    if has_xattrs(root / "old.txt"):
        assert os.getxattr(root / "old.txt", XATTR).decode().endswith(hashlib.sha256(NEW).hexdigest())
    assert http_request(upsrv, "HEAD", "/old.txt", WANT).header("repr-digest") == field(NEW)


def test_put_with_a_wrong_digest_keeps_the_old_file(upsrv, root):
    """400, the old file untouched, no temporary left; and the connection
    still answers its next request rightly."""
    with HttpConn(upsrv.port) as conn:
        r = put(upsrv, "/old.txt", NEW, [("Repr-Digest", field(NEW + b"!"))], conn=conn)
        assert r.status == 400, r
        assert (root / "old.txt").read_bytes() == OLD
        assert dot_files(root) == []
        r2 = put(upsrv, "/new.bin", NEW, [("Repr-Digest", field(NEW))], conn=conn)
        assert r2.status == 201, r2
    assert (root / "new.bin").read_bytes() == NEW


def test_put_chunked_with_a_wrong_digest(upsrv, root):
    body = b"%x\r\n" % len(NEW) + NEW + b"\r\n0\r\n\r\n"
    r = http_request(upsrv, "PUT", "/old.txt", [("Transfer-Encoding", "chunked"),
                                                ("Repr-Digest", field(OLD))], body=body)
    assert r.status == 400, r
    assert (root / "old.txt").read_bytes() == OLD
    assert dot_files(root) == []


@pytest.mark.parametrize("headers", [
    [("Repr-Digest", "sha-256=:short:")],
    [("Repr-Digest", "sha-256=:" + base64.b64encode(b"x" * 31).decode() + ":")],
    [("Repr-Digest", field(NEW)), ("Content-Digest", field(OLD))],
])
def test_put_with_a_malformed_or_contradictory_digest(upsrv, root, headers):
    r = put(upsrv, "/old.txt", NEW, headers)
    assert r.status == 400, r
    assert (root / "old.txt").read_bytes() == OLD
    assert dot_files(root) == []


def test_put_with_only_other_algorithms_is_taken(upsrv, root):
    r = put(upsrv, "/old.txt", NEW, [("Repr-Digest", "md5=:AAAAAAAAAAAAAAAAAAAAAA==:")])
    assert r.status == 204, r
    assert (root / "old.txt").read_bytes() == NEW


def test_ferry_put_sends_the_digest(tmp_path):
    """The request ferry put makes carries the file's Repr-Digest."""
    src = tmp_path / "up.bin"
    src.write_bytes(NEW)
    seen = {}

    def handler(peer):
        req = peer.read_request()
        seen["digest"] = req.header("repr-digest")
        peer.read_exact(int(req.header("content-length")))
        peer.respond(201, [("Content-Length", "0")])

    with ScriptedServer(handler) as srv:
        r = run_ferry("put", src, srv.url("/up.bin"))
    assert r.rc == 0, r
    assert seen["digest"] == field(NEW)


def test_ferry_put_round_trip_is_verified(upsrv, root, tmp_path):
    src = tmp_path / "up.bin"
    src.write_bytes(NEW)
    r = run_ferry("put", src, f"http://127.0.0.1:{upsrv.port}/up.bin")
    assert r.rc == 0, r
    out = tmp_path / "out"
    out.mkdir()
    g = run_ferry("get", "-v", f"http://127.0.0.1:{upsrv.port}/up.bin", cwd=out)
    assert g.rc == 0, g
    assert "verified" in g.err
    assert (out / "up.bin").read_bytes() == NEW


def test_ferry_put_notices_a_file_changed_while_sent(tmp_path):
    """The file is written to after ferry put hashed it (here: while the
    server holds back its 100 Continue): not called uploaded, exit 6."""
    src = tmp_path / "up.bin"
    src.write_bytes(NEW)

    def handler(peer):
        req = peer.read_request()
        with open(src, "r+b") as f:  # same size, other bytes, a later mtime
            f.write(b"X" * 100)
        st = os.stat(src)
        os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
        peer.send(b"HTTP/1.1 100 Continue\r\n\r\n")
        peer.read_exact(int(req.header("content-length")))
        peer.respond(201, [("Content-Length", "0")])

    with ScriptedServer(handler) as srv:
        r = run_ferry("put", src, srv.url("/up.bin"))
    assert r.rc == 6, r
    assert "changed while it was sent" in r.err


def test_a_folder_made_while_the_first_pass_runs_is_read(start_server, root):
    """A folder made in one the first pass is reading (slowly, 2 MiB/s,
    hashing a 6 MiB file there) is read once that folder is done: a file
    already in it, which no inotify event will name, gets its digest."""
    if not has_xattrs(root / "s.bin"):
        pytest.skip("this file system refuses user extended attributes")
    (root / "a").mkdir()
    (root / "a" / "slow.bin").write_bytes(os.urandom(6 << 20))
    srv = start_server(root, "--digest-rate", "2")
    time.sleep(0.8)
    assert "first pass done" not in srv.stderr_text()
    (root / "a" / "new").mkdir()
    data = os.urandom(1 << 20)
    (root / "a" / "new" / "x.bin").write_bytes(data)

    def stamped():
        try:
            return os.getxattr(root / "a/new/x.bin", XATTR).decode().endswith(hashlib.sha256(data).hexdigest())
        except OSError:
            return False

    assert wait_for(stamped, timeout=30)
    assert wait_for(lambda: "first pass done" in srv.stderr_text(), timeout=30)
