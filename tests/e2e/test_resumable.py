"""Resumable uploads (draft-ietf-httpbis-resumable-upload-11, interop
version 8): `ferry serve --upload` as the server, spoken to with raw
requests and by `ferry put`; uploads cut at many points (by a proxy that
stops forwarding) and the server killed with SIGKILL, then resumed and
compared byte for byte; clients that lie about offsets; concurrent uploads
of one target; planted links where the data goes; expiry."""
import os
import re
import signal
import socket
import threading
import time

import pytest

from ferrylib import FerryServer, HttpConn, build_request, http_request, sha256
from peers import STATE_DIR, free_port, listing, run_ferry, start_ferry

TOKEN_RE = re.compile(r"^/(?P<path>[^?]+)\?upload=(?P<token>[0-9a-f]{32})$")
DATA = os.urandom(3 << 20)
OLD = b"the old content\n" * 64
V8 = [("Upload-Draft-Interop-Version", "8")]
PARTIAL = "application/partial-upload"


@pytest.fixture
def root(tmp_path):
    r = tmp_path / "root"
    r.mkdir()
    (r / "old.bin").write_bytes(OLD)
    return r


@pytest.fixture
def srv(start_server, root):
    return start_server(root, "-q", "--upload", "--max-upload", "64M")


@pytest.fixture
def src(tmp_path):
    p = tmp_path / "src.bin"
    p.write_bytes(DATA)
    return p


def responses(conn, method, want_final=True):
    """Interim responses and the final one, in order."""
    got = []
    for _ in range(8):
        r = conn.read_response(method)
        got.append(r)
        if r.status >= 200:
            return got
    raise AssertionError(f"no final response after {got!r}")


def create(srv, target, body, complete, headers=(), method="POST"):
    """An upload creation request; (interim responses, final response)."""
    hs = [("Content-Length", str(len(body))), ("Upload-Complete", "?1" if complete else "?0"),
          *V8, *headers]
    with HttpConn(srv.port) as c:
        c.send(build_request(method, target, hs, body=body))
        rs = responses(c, method)
    return rs[:-1], rs[-1]


def patch(srv_or_conn, location, body, offset, complete, headers=(), ctype=PARTIAL):
    hs = [("Content-Length", str(len(body))), ("Upload-Offset", str(offset)),
          ("Upload-Complete", "?1" if complete else "?0"), *V8, *headers]
    if ctype is not None:
        hs.append(("Content-Type", ctype))
    if isinstance(srv_or_conn, HttpConn):
        srv_or_conn.send(build_request("PATCH", location, hs, body=body))
        return srv_or_conn.read_response("PATCH")
    return http_request(srv_or_conn, "PATCH", location, hs, body=body)


def head(srv, location):
    return http_request(srv, "HEAD", location)


def upload_files(root):
    """The server's own files in root: partial data and states."""
    data = sorted(n for n in os.listdir(root) if n.startswith(".ferry-up"))
    sd = root / STATE_DIR
    states = sorted(os.listdir(sd)) if sd.is_dir() else []
    return [n for n in data if n != STATE_DIR], states


# ---- the protocol ------------------------------------------------------------


def test_creation_in_one_request_announces_104_first(srv, root):
    interim, final = create(srv, "/new.bin", DATA[:100_000], True)
    assert [r.status for r in interim] == [104]
    loc = interim[0].header("location")
    m = TOKEN_RE.match(loc)
    assert m and m.group("path") == "new.bin", loc
    assert interim[0].header("upload-draft-interop-version") == "8"
    assert "max-age=" in interim[0].header("upload-limit")
    assert final.status == 201
    assert final.header("upload-complete") == "?1"
    assert (root / "new.bin").read_bytes() == DATA[:100_000]
    h = head(srv, loc)
    assert h.status == 204
    assert h.header("upload-complete") == "?1"
    assert h.header("upload-offset") == "100000"
    assert upload_files(root)[0] == []  # no partial data left


def test_104_only_for_interop_version_8(srv, root):
    hs = [("Content-Length", "5"), ("Upload-Complete", "?1")]
    for extra, status in (([], 201), ([("Upload-Draft-Interop-Version", "7")], 204)):
        with HttpConn(srv.port) as c:
            c.send(build_request("PUT", "/a.txt", hs + extra, body=b"hello"))
            rs = responses(c, "PUT")
        assert [r.status for r in rs] == [status], extra  # created, then replaced
        assert rs[-1].header("upload-complete") == "?1"
    assert (root / "a.txt").read_bytes() == b"hello"


def test_104_comes_before_100_continue(srv, root):
    hs = [("Content-Length", "5"), ("Upload-Complete", "?1"), ("Expect", "100-continue"), *V8]
    with HttpConn(srv.port) as c:
        c.send(build_request("PUT", "/b.txt", hs))
        first, second = c.read_response("PUT"), c.read_response("PUT")
        assert (first.status, second.status) == (104, 100)
        c.send(b"hello")
        assert c.read_response("PUT").status == 201
    assert (root / "b.txt").read_bytes() == b"hello"


def test_incomplete_creation_then_head_then_patch(srv, root):
    _, final = create(srv, "/old.bin", DATA[:1_000_000], False,
                      [("Upload-Length", str(len(DATA)))])
    assert final.status == 201
    loc = final.header("location")
    assert TOKEN_RE.match(loc)
    assert final.header("upload-complete") == "?0"
    assert final.header("upload-offset") == "1000000"
    assert (root / "old.bin").read_bytes() == OLD  # nothing replaced yet
    h = head(srv, loc)
    assert (h.status, h.header("upload-offset"), h.header("upload-complete")) == (204, "1000000", "?0")
    assert h.header("upload-length") == str(len(DATA))
    assert h.header("cache-control") == "no-store"
    assert "max-size=" in h.header("upload-limit")
    r = patch(srv, loc, DATA[1_000_000:2_000_000], 1_000_000, False)
    assert (r.status, r.header("upload-complete"), r.header("upload-offset")) == (204, "?0", "2000000")
    r = patch(srv, loc, DATA[2_000_000:], 2_000_000, True)
    assert r.status == 204 and r.header("upload-complete") == "?1"  # old.bin replaced
    assert (root / "old.bin").read_bytes() == DATA
    assert upload_files(root)[0] == []


@pytest.mark.parametrize("lie", [0, 999, 1001, 10**9])
def test_a_lying_offset_gets_409_with_the_real_one(srv, root, lie):
    """And the connection goes on: the next request on it is answered, and
    the bytes of the refused PATCH are not taken."""
    _, final = create(srv, "/x.bin", DATA[:1000], False)
    loc = final.header("location")
    with HttpConn(srv.port) as c:
        r = patch(c, loc, DATA[1000:1100], lie, False)
        assert r.status == 409 if lie != 1000 else r.status == 204
        assert r.header("upload-offset") == "1000"
        c.send(build_request("HEAD", loc))
        assert c.read_response("HEAD").header("upload-offset") == "1000"
        r = patch(c, loc, DATA[1000:2000], 1000, True)
        assert r.status == 201, r
    assert (root / "x.bin").read_bytes() == DATA[:2000]


def test_patch_needs_its_media_type_and_fields(srv, root):
    _, final = create(srv, "/y.bin", DATA[:10], False)
    loc = final.header("location")
    assert patch(srv, loc, b"abc", 10, True, ctype="application/octet-stream").status == 415
    assert patch(srv, loc, b"abc", 10, True, ctype=None).status == 415
    no_offset = [("Content-Length", "3"), ("Upload-Complete", "?1"), ("Content-Type", PARTIAL)]
    assert http_request(srv, "PATCH", loc, no_offset, body=b"abc").status == 400
    two = [("Upload-Offset", "11")]  # a second, different Upload-Offset
    assert patch(srv, loc, b"abc", 10, True, headers=two).status == 400
    assert head(srv, loc).header("upload-offset") == "10"
    assert not (root / "y.bin").exists()


def test_data_past_the_length_invalidates_the_upload(srv, root):
    _, final = create(srv, "/z.bin", DATA[:100], False, [("Upload-Length", "150")])
    loc = final.header("location")
    assert patch(srv, loc, DATA[100:200], 100, True).status == 400  # 200 > 150, said up front
    # Chunked, so the length is found out only as the bytes come.
    body = b"%x\r\n" % 100 + DATA[100:200] + b"\r\n0\r\n\r\n"
    hs = [("Transfer-Encoding", "chunked"), ("Upload-Offset", "100"), ("Upload-Complete", "?0"),
          ("Content-Type", PARTIAL)]
    assert http_request(srv, "PATCH", loc, hs, body=body).status == 400
    assert head(srv, loc).status == 404
    assert upload_files(root) == ([], [])
    assert not (root / "z.bin").exists()


@pytest.mark.parametrize("complete", [True, False])
def test_a_content_length_of_int64_max_after_an_offset_is_413(srv, root, complete):
    """Issue 16, defect 7: 4 + 9223372036854775807 overflowed in the
    decision (the sanitizer build died). Now 413 with the limits, and the
    upload is untouched."""
    _, final = create(srv, "/big.bin", b"abcd", False)
    loc = final.header("location")
    hs = [("Content-Length", str(2**63 - 1)), ("Upload-Offset", "4"),
          ("Upload-Complete", "?1" if complete else "?0"), ("Content-Type", PARTIAL)]
    with HttpConn(srv.port) as c:
        c.send(build_request("PATCH", loc, hs) + b"efgh")
        r = c.read_response("PATCH")
    assert r.status == 413, r
    assert "max-size=" in r.header("upload-limit")
    assert srv.alive()
    h = head(srv, loc)
    assert (h.status, h.header("upload-offset"), h.header("upload-complete")) == (204, "4", "?0")


def test_appending_to_a_completed_upload_is_refused(srv, root):
    interim, final = create(srv, "/done.bin", b"abc", True)
    loc = interim[0].header("location")
    assert patch(srv, loc, b"more", 3, True).status == 400
    assert patch(srv, loc, b"", 3, True).status == 410
    assert (root / "done.bin").read_bytes() == b"abc"


def test_delete_cancels(srv, root):
    _, final = create(srv, "/c.bin", DATA[:5000], False)
    loc = final.header("location")
    assert upload_files(root) != ([], [])
    assert http_request(srv, "DELETE", loc).status == 204
    assert head(srv, loc).status == 404
    assert patch(srv, loc, DATA[5000:6000], 5000, True).status == 404
    assert upload_files(root) == ([], [])
    assert not (root / "c.bin").exists()


def test_options_says_resumable_uploads_are_taken(srv):
    r = http_request(srv, "OPTIONS", "/anything.bin")
    assert r.status == 204
    assert PARTIAL in r.header("accept-patch")
    assert "max-size=67108864" in r.header("upload-limit")


def test_the_upload_url_names_its_target(srv, root):
    _, final = create(srv, "/t.bin", b"12345", False)
    loc = final.header("location")
    token = TOKEN_RE.match(loc).group("token")
    assert head(srv, f"/old.bin?upload={token}").status == 404  # another target
    assert patch(srv, f"/old.bin?upload={token}", b"x", 5, True).status == 404
    assert head(srv, "/t.bin?upload=" + "0" * 32).status == 404  # no such token
    for bad in ("/t.bin?upload=" + token.upper(), "/t.bin?upload=" + token[:-1],
                "/t.bin?upload=../../etc", f"/t.bin?upload={token}&x=1"):
        assert head(srv, bad).status == 400, bad
    assert (root / "old.bin").read_bytes() == OLD


def test_without_upload_there_is_nothing_to_resume(start_server, root):
    srv = start_server(root, "-q")
    r = http_request(srv, "POST", "/p.bin", [("Content-Length", "3"), ("Upload-Complete", "?1"), *V8],
                     body=b"abc")
    assert r.status == 405
    assert not (root / STATE_DIR).exists()


def test_the_servers_own_files_are_never_served(start_server, root):
    srv = start_server(root, "-q", "--upload", "--hidden")
    _, final = create(srv, "/s.bin", b"secret part", False)
    token = TOKEN_RE.match(final.header("location")).group("token")
    for target in (f"/.ferry-up-{token}", f"/{STATE_DIR}/", f"/{STATE_DIR}/{token}",
                   "/.ferry-upload-1"):
        assert http_request(srv, "GET", target).status == 404, target
    assert http_request(srv, "PUT", f"/.ferry-up-{token}", [("Content-Length", "1")],
                        body=b"x").status == 403
    page = http_request(srv, "GET", "/").body
    assert b".ferry-up" not in page
    tar = run_ferry("get", "-o", "-", srv.url + "?tar").out
    assert len(tar) >= 1024 and b"old.bin" in tar
    assert b".ferry-up" not in tar and b"secret part" not in tar
    with srv.connect() as s:  # the raw protocol
        s.sendall(f".ferry-up-{token}\n".encode())
        assert s.recv(100) == b""


def test_a_planted_link_at_the_data_is_not_written_through(srv, root, tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"keep me")
    _, final = create(srv, "/l.bin", b"first", False)
    loc = final.header("location")
    token = TOKEN_RE.match(loc).group("token")
    partial = root / f".ferry-up-{token}"
    partial.unlink()
    partial.symlink_to(outside)
    assert patch(srv, loc, b" more", 5, True).status == 404
    assert outside.read_bytes() == b"keep me"
    assert not (root / "l.bin").exists()
    # A hard link in its place is refused the same way.
    _, final = create(srv, "/h.bin", b"first", False)
    loc = final.header("location")
    partial = root / f".ferry-up-{TOKEN_RE.match(loc).group('token')}"
    other = root / "other.txt"
    other.write_bytes(b"other")
    partial.unlink()
    os.link(other, partial)
    assert patch(srv, loc, b" more", 5, True).status == 404
    assert other.read_bytes() == b"other"


def test_a_wrong_digest_fails_the_whole_upload(srv, root):
    import base64
    import hashlib
    wrong = "sha-256=:" + base64.b64encode(hashlib.sha256(b"no").digest()).decode() + ":"
    _, final = create(srv, "/old.bin", DATA[:1000], False, [("Repr-Digest", wrong)])
    loc = final.header("location")
    r = patch(srv, loc, DATA[1000:2000], 1000, True)
    assert r.status == 400 and r.header("upload-complete") == "?1"
    assert (root / "old.bin").read_bytes() == OLD
    assert upload_files(root) == ([], [])
    right = "sha-256=:" + base64.b64encode(hashlib.sha256(DATA[:2000]).digest()).decode() + ":"
    _, final = create(srv, "/old.bin", DATA[:1000], False, [("Repr-Digest", right)])
    r = patch(srv, final.header("location"), DATA[1000:2000], 1000, True)
    assert r.status == 204
    assert (root / "old.bin").read_bytes() == DATA[:2000]
    # Kept for readers of the file, hashed once.
    assert http_request(srv, "HEAD", "/old.bin", [("Want-Repr-Digest", "sha-256=1")]).header(
        "repr-digest") == right


def cd(data):
    import base64
    import hashlib
    return "sha-256=:" + base64.b64encode(hashlib.sha256(data).digest()).decode() + ":"


def test_a_part_with_a_wrong_content_digest_is_not_appended(srv, root):
    """Content-Digest describes one request's content: a PATCH whose bytes
    do not match is 400 and taken back out; the upload goes on from where
    it was, and a right one is appended."""
    _, final = create(srv, "/cd.bin", DATA[:1000], False, [("Content-Digest", cd(DATA[:1000]))])
    assert final.status == 201, final
    loc = final.header("location")
    r = patch(srv, loc, DATA[1000:2000], 1000, False, [("Content-Digest", cd(b"other"))])
    assert (r.status, r.header("upload-offset")) == (400, "1000"), r
    assert head(srv, loc).header("upload-offset") == "1000"
    r = patch(srv, loc, DATA[1000:2000], 1000, False, [("Content-Digest", cd(DATA[1000:2000]))])
    assert (r.status, r.header("upload-offset")) == (204, "2000"), r
    assert patch(srv, loc, b"x", 2000, True, [("Content-Digest", "sha-256=:bad:")]).status == 400
    r = patch(srv, loc, DATA[2000:3000], 2000, True)
    assert r.status == 201, r
    assert (root / "cd.bin").read_bytes() == DATA[:3000]


def test_an_unfinished_upload_expires(start_server, root):
    srv = start_server(root, "-q", "--upload", "--upload-max-age", "1")
    _, final = create(srv, "/e.bin", b"part", False)
    loc = final.header("location")
    # The time left in whole seconds, from a creation time kept in whole
    # seconds: 1, or 0 when the answer came after the next second began
    # (once in a CI run with the flush on a thread); the default is a day.
    left = int(re.search(r"max-age=(\d+)", final.header("upload-limit")).group(1))
    assert left in (0, 1), final.header("upload-limit")
    time.sleep(2.2)
    assert head(srv, loc).status == 404
    assert upload_files(root) == ([], [])


def test_an_upload_survives_a_restart(start_server, root):
    srv = start_server(root, "-q", "--upload")
    _, final = create(srv, "/r.bin", DATA[:70_000], False)
    loc = final.header("location")
    assert srv.stop() == 0
    srv2 = start_server(root, "-q", "--upload")
    assert head(srv2, loc).header("upload-offset") == "70000"
    assert patch(srv2, loc, DATA[70_000:90_000], 70_000, True).status == 201
    assert (root / "r.bin").read_bytes() == DATA[:90_000]


def test_a_later_request_supersedes_one_in_flight(srv, root):
    """A PATCH whose client went quiet (the server still thinks it is
    alive) is cut off by the next request for the same upload: HEAD's
    offset is final, and the stale connection writes no more."""
    _, final = create(srv, "/f.bin", b"", False)
    loc = final.header("location")
    stale = HttpConn(srv.port)
    hs = [("Content-Length", "200000"), ("Upload-Offset", "0"), ("Upload-Complete", "?0"),
          ("Content-Type", PARTIAL)]
    stale.send(build_request("PATCH", loc, hs) + DATA[:50_000])
    for _ in range(100):  # until the server has written what came
        if head_offset(root, loc) == 50_000:
            break
        time.sleep(0.02)
    h = head(srv, loc)
    assert h.header("upload-offset") == "50000"
    try:
        stale.send(DATA[50_000:200_000])
        closed = stale.closed_by_peer(timeout=5)
    except OSError:
        closed = True  # reset: the server closed while we were sending
    stale.close()
    assert closed, "the superseded request's connection stayed open"
    assert head(srv, loc).header("upload-offset") == "50000"
    r = patch(srv, loc, DATA[50_000:120_000], 50_000, True)
    assert r.status == 201, r
    assert (root / "f.bin").read_bytes() == DATA[:120_000]


def head_offset(root, loc):
    token = TOKEN_RE.match(loc).group("token")
    p = root / f".ferry-up-{token}"
    return p.stat().st_size if p.exists() else -1


# ---- ferry put ------------------------------------------------------------------


class CutProxy:
    """Forwards loopback connections to port; the client's bytes of
    connection i stop after cut[i] of them (then both sides are closed),
    or, with hold, stop being forwarded and the connection stays open."""

    def __init__(self, port, cut, hold=False):
        self.port, self.cut, self.hold = port, list(cut), hold
        self.ls = socket.socket()
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(8)
        self.ls.settimeout(0.1)
        self.lport = self.ls.getsockname()[1]
        self.forwarded = []
        self.held = threading.Event()
        self._stop = threading.Event()
        self._socks = []
        self._t = threading.Thread(target=self._accept, daemon=True)
        self._t.start()

    def url(self, path):
        return f"http://127.0.0.1:{self.lport}{path}"

    def _accept(self):
        n = 0
        while not self._stop.is_set() and n < 16:
            try:
                c, _ = self.ls.accept()
            except (socket.timeout, TimeoutError):
                continue
            except OSError:
                return
            s = socket.create_connection(("127.0.0.1", self.port))
            self._socks += [c, s]
            limit = self.cut[n] if n < len(self.cut) else None
            self.forwarded.append(0)
            threading.Thread(target=self._up, args=(c, s, limit, n), daemon=True).start()
            threading.Thread(target=self._down, args=(s, c), daemon=True).start()
            n += 1

    def _up(self, c, s, limit, i):
        try:
            while True:
                data = c.recv(65536)
                if not data:
                    s.shutdown(socket.SHUT_WR)
                    return
                if limit is not None and self.forwarded[i] + len(data) >= limit:
                    s.sendall(data[:limit - self.forwarded[i]])
                    self.forwarded[i] = limit
                    if self.hold:
                        self.held.set()
                        self._stop.wait(30)
                    for x in (c, s):
                        try:
                            x.shutdown(socket.SHUT_RDWR)
                        except OSError:
                            pass
                    return
                s.sendall(data)
                self.forwarded[i] += len(data)
        except OSError:
            return

    def _down(self, s, c):
        try:
            while True:
                data = s.recv(65536)
                if not data:
                    c.shutdown(socket.SHUT_WR)
                    return
                c.sendall(data)
        except OSError:
            return

    def close(self):
        self._stop.set()
        self.ls.close()
        for x in self._socks:
            try:
                x.close()
            except OSError:
                pass


RESUME_RE = re.compile(r"ferry put -c (\S+) '(?P<url>[^']+)'")


def test_ferry_put_plain_is_resumable_and_complete(srv, root, src):
    r = run_ferry("put", src, srv.url + "p.bin")
    assert r.rc == 0, r
    assert (root / "p.bin").read_bytes() == DATA
    assert upload_files(root)[0] == []


# Cut in the head, right after it, at many points of the body, one byte
# short of the end.
HEAD_GUESS = 400
CUTS = [50, HEAD_GUESS + 1, 65_536, 1 << 20, (1 << 20) + 1, 2_500_000, len(DATA) - 1]


@pytest.mark.parametrize("cut", CUTS)
def test_ferry_put_cut_then_resumed(srv, root, src, cut):
    proxy = CutProxy(srv.port, [cut])
    try:
        r = run_ferry("put", "--timeout", "5", src, proxy.url("/cut.bin"))
    finally:
        proxy.close()
    assert r.rc == 3, r
    assert not (root / "cut.bin").exists()  # never a part under the final name
    m = RESUME_RE.search(r.err)
    if m is None:
        # Cut before the 104 came: nothing to resume, nothing left over
        # but an upload with what came, which expires.
        assert cut < HEAD_GUESS, r
        return
    url = m.group("url").replace(f":{proxy.lport}/", f":{srv.port}/")
    again = run_ferry("put", "-c", src, url)
    assert again.rc == 0, again
    assert (root / "cut.bin").read_bytes() == DATA
    assert upload_files(root)[0] == []
    done = run_ferry("put", "-c", src, url)  # once more: it is complete
    assert done.rc == 0 and "already complete" in done.err, done


def test_ferry_put_retry_resumes_by_itself(srv, root, src):
    proxy = CutProxy(srv.port, [1_500_000])
    try:
        r = run_ferry("put", "-v", "--retry", "2", "--timeout", "5", src, proxy.url("/rt.bin"))
    finally:
        proxy.close()
    assert r.rc == 0, r
    assert "resuming at byte" in r.err
    assert (root / "rt.bin").read_bytes() == DATA
    assert proxy.forwarded[1] < len(DATA)  # the second request sent only the rest


def test_ferry_put_after_the_server_was_killed(start_server, root, src):
    """The server dies with SIGKILL mid-upload (the proxy holds the
    rest); a new server on the same port and directory takes the resume."""
    port = free_port()
    srv = FerryServer(root, ["-q", "--upload", "-p", str(port)])  # not the fixture's: it dies
    proxy = CutProxy(port, [2_000_000], hold=True)
    p = start_ferry("put", "--timeout", "5", src, proxy.url("/k.bin"))
    try:
        assert proxy.held.wait(20)
        time.sleep(0.3)  # the server writes what it got
        srv.kill()
        assert srv.returncode == -signal.SIGKILL
        proxy.close()
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
        srv.kill()
    err = err.decode()
    assert p.returncode == 3, err
    m = RESUME_RE.search(err)
    assert m, err
    srv2 = start_server(root, "-q", "--upload", "-p", str(port))
    url = m.group("url").replace(f":{proxy.lport}/", f":{srv2.port}/")
    r = run_ferry("put", "-v", "-c", src, url)
    assert r.rc == 0, r
    assert (root / "k.bin").read_bytes() == DATA


def test_ferry_put_resume_with_another_file(srv, root, src, tmp_path):
    proxy = CutProxy(srv.port, [1_000_000])
    try:
        r = run_ferry("put", "--timeout", "5", src, proxy.url("/o.bin"))
    finally:
        proxy.close()
    url = RESUME_RE.search(r.err).group("url").replace(f":{proxy.lport}/", f":{srv.port}/")
    shorter = tmp_path / "short.bin"
    shorter.write_bytes(DATA[:-1])
    r = run_ferry("put", "-c", shorter, url)
    assert r.rc == 6 and "not the file" in r.err, r
    same_size = tmp_path / "same.bin"
    same_size.write_bytes(DATA[:-1] + b"\x00" if DATA[-1] else DATA[:-1] + b"\x01")
    r = run_ferry("put", "-c", same_size, url)
    assert r.rc == 5, r  # the server's digest check: 400
    assert not (root / "o.bin").exists()
    assert upload_files(root) == ([], [])


def test_ferry_put_usage(srv, src):
    r = run_ferry("put", "-c", src, srv.url + "x.bin")
    assert r.rc == 2 and "-c resumes" in r.err, r
    r = run_ferry("put", src, srv.url + "x.bin?upload=" + "a" * 32)
    assert r.rc == 2 and "-c resumes it" in r.err, r
    r = run_ferry("put", "-c", src, srv.url + "x.bin?upload=" + "a" * 32)
    assert r.rc == 5 and "no longer has this upload" in r.err, r


def test_concurrent_uploads_of_one_target(srv, root, tmp_path):
    """Four clients upload four files to one name at once: the name ends up
    with one of them whole, and nothing is left over."""
    files = []
    for i in range(4):
        p = tmp_path / f"c{i}.bin"
        p.write_bytes(bytes([i]) * 200_000 + os.urandom(800_000))
        files.append(p)
    procs = [start_ferry("put", "-q", f, srv.url + "same.bin") for f in files]
    for p in procs:
        p.communicate(timeout=60)
        assert p.returncode == 0
    got = (root / "same.bin").read_bytes()
    assert sha256(got) in {sha256(f.read_bytes()) for f in files}
    assert upload_files(root)[0] == []
    assert listing(root) == ["old.bin", "same.bin"]


# ---- issue 16: completion races, expiry, bounds per party ------------------------


def token_of(loc):
    return TOKEN_RE.match(loc).group("token")


def complete_rest(srv, loc, data, offset, attempts=100):
    """PATCHes data from offset on, completing it. A PATCH that a HEAD cut
    off (the server's right: the HEAD supersedes it) goes again from the
    offset HEAD gives, as a client would. The last answer."""
    for _ in range(attempts):
        try:
            r = patch(srv, loc, data[offset:], offset, True)
        except (ConnectionError, OSError):
            r = None
        if r is not None and r.status in (201, 204) and r.header("upload-complete") == "?1":
            return r
        h = head(srv, loc)
        assert h.status == 204, (r, h)
        if h.header("upload-complete") == "?1":
            return h
        offset = int(h.header("upload-offset"))
    raise AssertionError(f"not complete after {attempts} attempts")


def test_a_head_racing_completion_sees_it_in_progress_or_complete(srv, root):
    """Issue 16, defect 8: the data was renamed over the target before the
    state said complete, and a HEAD that found no data forgot the upload:
    HEADs racing the completion got 404 and could delete the finished
    state. 100 rounds, each completing an upload while another thread
    sends HEADs (the server has two worker threads): every answer is the
    upload in progress or complete, and each ends complete and whole."""
    total = DATA[:6000]
    answers = []
    for i in range(100):
        name = f"race{i}.bin"
        _, final = create(srv, "/" + name, total[:3000], False, [("Upload-Length", "6000")])
        loc = final.header("location")
        stop = threading.Event()

        def hammer(loc=loc, i=i, stop=stop):
            for _ in range(2000):
                if stop.is_set():
                    return
                h = head(srv, loc)
                answers.append((i, h.status, h.header("upload-complete"), h.header("upload-offset")))

        t = threading.Thread(target=hammer, daemon=True)
        t.start()
        try:
            complete_rest(srv, loc, total, 3000)
        finally:
            stop.set()
            t.join(30)
        h = head(srv, loc)
        assert (h.status, h.header("upload-complete"), h.header("upload-offset")) == (204, "?1", "6000"), (i, h)
        assert (root / name).read_bytes() == total, i
    assert answers
    for i, status, complete, offset in answers:
        assert status == 204, (i, status)
        assert (complete, offset) == ("?1", "6000") or (
            complete == "?0" and 3000 <= int(offset) <= 6000), (i, complete, offset)
    assert upload_files(root)[0] == []


def test_an_expired_upload_is_removed_without_anyone_asking(start_server, root):
    """Issue 16, defect 9: an expired upload stayed on disk until someone
    named its token or a later creation swept. Now the workers' tick
    sweeps: both files go within a bounded time, nobody asking."""
    srv = start_server(root, "-q", "--upload", "--upload-max-age", "1")
    _, final = create(srv, "/idle.bin", b"part", False)
    token = token_of(final.header("location"))
    data, state = root / f".ferry-up-{token}", root / STATE_DIR / token
    assert data.exists() and state.exists()
    deadline = time.monotonic() + 15  # expiry after 1-2 s, the sweep every second
    while (data.exists() or state.exists()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not data.exists() and not state.exists()
    assert upload_files(root) == ([], [])


def conn_from(srv, source):
    """A connection to srv from the loopback address source (127.0.0.2 is
    another party to the server)."""
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10, source_address=(source, 0))
    return HttpConn(srv.port, sock=s)


def create_from(srv, source, target, body, headers=()):
    hs = [("Content-Length", str(len(body))), ("Upload-Complete", "?0"), *headers]
    with conn_from(srv, source) as c:
        c.send(build_request("POST", target, hs, body=body))
        return c.read_response("POST")


def test_unfinished_uploads_per_address_are_bounded_429(start_server, root):
    """Issue 16, defect 10: 3,000 unfinished uploads were made in 1.5 s by
    one client. Now one party (an address without --auth) has at most
    --upload-max-unfinished; the next creation is 429, another address is
    not affected, and a finished or deleted upload frees its place."""
    srv = start_server(root, "-q", "--upload", "--upload-max-unfinished", "3")
    locs = []
    for i in range(3):
        r = create_from(srv, "127.0.0.1", f"/n{i}.bin", b"part")
        assert r.status == 201, r
        locs.append(r.header("location"))
    r = create_from(srv, "127.0.0.1", "/n3.bin", b"part")
    assert r.status == 429, r
    assert len(upload_files(root)[1]) == 3  # nothing made for the refused one
    assert create_from(srv, "127.0.0.2", "/other.bin", b"part").status == 201
    assert http_request(srv, "DELETE", locs[0]).status == 204
    assert create_from(srv, "127.0.0.1", "/n3.bin", b"part").status == 201
    assert create_from(srv, "127.0.0.1", "/n4.bin", b"part").status == 429
    assert patch(srv, locs[1], b"!", 4, True).status == 201  # finished: its place is free
    assert create_from(srv, "127.0.0.1", "/n4.bin", b"part").status == 201
    # A complete upload in one request never stays unfinished.
    interim, final = create(srv, "/whole.bin", b"whole", True)
    assert final.status == 429  # it is unfinished while its body comes
    assert len(upload_files(root)[1]) == 5  # n1 (complete), n2, n3, n4, other


def test_unfinished_bytes_per_address_are_bounded_507(start_server, root):
    """Issue 16, defect 10: each unfinished upload could hold --max-upload
    of hidden disk. Now one party's unfinished uploads hold at most
    --upload-max-unfinished-bytes: 507 up front when Content-Length says
    so, and when the bytes of a chunked body reach it."""
    srv = start_server(root, "-q", "--upload", "--upload-max-unfinished-bytes", "100K")
    a = create_from(srv, "127.0.0.1", "/a.bin", DATA[:60_000])
    assert a.status == 201, a
    r = create_from(srv, "127.0.0.1", "/b.bin", DATA[:60_000])
    assert r.status == 507, r
    b = create_from(srv, "127.0.0.1", "/b.bin", DATA[:30_000])
    assert b.status == 201, b
    loc = b.header("location")
    assert patch(srv, loc, DATA[30_000:50_000], 30_000, False).status == 507  # said up front
    assert head(srv, loc).header("upload-offset") == "30000"
    body = b"".join(b"%x\r\n" % 4096 + DATA[o:o + 4096] + b"\r\n"
                    for o in range(30_000, 50_000, 4096) if o + 4096 <= 50_000) + b"0\r\n\r\n"
    hs = [("Transfer-Encoding", "chunked"), ("Upload-Offset", "30000"), ("Upload-Complete", "?0"),
          ("Content-Type", PARTIAL)]
    assert http_request(srv, "PATCH", loc, hs, body=body).status == 507
    offset = int(head(srv, loc).header("upload-offset"))
    assert 30_000 <= offset <= 100 * 1024 - 60_000
    # Another party has its own bound.
    assert create_from(srv, "127.0.0.2", "/c.bin", DATA[:60_000]).status == 201
    # Deleting one gives its bytes back.
    assert http_request(srv, "DELETE", a.header("location")).status == 204
    r = patch(srv, loc, DATA[offset:100_000], offset, True)
    assert r.status == 201, r
    assert (root / "b.bin").read_bytes() == DATA[:100_000]


def test_one_client_holding_many_uploads_does_not_block_another(start_server, root):
    """Issue 16, defect 10: 64 slots let one request write to an upload at
    a time; one client holding all 64 (PATCHes that send a little and then
    wait) made every other client's upload 503 for --send-timeout. Slots
    are made per upload now: another client's upload goes through."""
    n = 70
    srv = start_server(root, "-q", "--upload", "--upload-max-unfinished", str(n))
    locs = []
    for i in range(n):
        r = create_from(srv, "127.0.0.1", f"/s{i}.bin", b"part")
        assert r.status == 201, r
        locs.append(r.header("location"))
    stalled = []
    try:
        for loc in locs:
            c = conn_from(srv, "127.0.0.1")
            hs = [("Content-Length", "1000"), ("Upload-Offset", "4"), ("Upload-Complete", "?1"),
                  ("Content-Type", PARTIAL)]
            c.send(build_request("PATCH", loc, hs) + b"0123456789")
            stalled.append(c)
        deadline = time.monotonic() + 10  # until the server has written what came
        while time.monotonic() < deadline:
            sizes = [(root / f".ferry-up-{token_of(loc)}").stat().st_size for loc in locs]
            if all(s == 14 for s in sizes):
                break
            time.sleep(0.05)
        with conn_from(srv, "127.0.0.2") as c:
            c.send(build_request("POST", "/other.bin", [("Content-Length", "5"),
                                                         ("Upload-Complete", "?0")], body=b"other"))
            r = c.read_response("POST", timeout=5)
            assert r.status == 201, r
            r = patch(c, r.header("location"), b" part", 5, True)
            assert r.status == 201, r
        assert (root / "other.bin").read_bytes() == b"other part"
    finally:
        for c in stalled:
            c.close()


def test_a_completion_cut_short_by_a_crash_is_finished_at_start(start_server, root):
    """Issue 16, defect 8: completion writes the state complete (synced)
    before it renames the data. A server that died between the two finds
    the state complete and the data still there: it finishes the rename
    when it starts, and HEAD says complete. A state without its data is
    not removed before it expires."""
    token, lost = "ab" * 16, "cd" * 16
    (root / STATE_DIR).mkdir(mode=0o700)
    now = int(time.time())
    (root / f".ferry-up-{token}").write_bytes(DATA[:5000])
    (root / STATE_DIR / token).write_text(f"v2 5000 {now} 1 - a:127.0.0.1 crash.bin\n")
    (root / STATE_DIR / lost).write_text(f"v2 -1 {now} 0 - a:127.0.0.1 lost.bin\n")
    srv = start_server(root, "-q", "--upload")
    assert (root / "crash.bin").read_bytes() == DATA[:5000]
    assert not (root / f".ferry-up-{token}").exists()
    h = head(srv, f"/crash.bin?upload={token}")
    assert (h.status, h.header("upload-complete"), h.header("upload-offset")) == (204, "?1", "5000")
    assert head(srv, f"/lost.bin?upload={lost}").status == 404
    assert (root / STATE_DIR / lost).exists()


def test_unfinished_counts_survive_a_restart(start_server, root):
    """Issue 16, defect 10: the owner is in the state, so a restart does not
    reset a party's count."""
    srv = start_server(root, "-q", "--upload", "--upload-max-unfinished", "2")
    for i in range(2):
        assert create_from(srv, "127.0.0.1", f"/r{i}.bin", b"part").status == 201
    assert srv.stop() == 0
    srv = start_server(root, "-q", "--upload", "--upload-max-unfinished", "2")
    assert create_from(srv, "127.0.0.1", "/r2.bin", b"part").status == 429
    assert create_from(srv, "127.0.0.2", "/r2.bin", b"part").status == 201


def test_under_auth_the_bound_is_per_user(start_server, root, tmp_path):
    """Issue 16, defect 10: under --auth a user is the party, whatever its
    address: two users on one address each have their own count."""
    import base64
    import subprocess
    from ferrylib import FERRY

    def account(user):
        r = subprocess.run([FERRY, "passwd", user, "rw:/"], input=f"{user}-pw\n",
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        return r.stdout

    auth = tmp_path / "accounts"
    auth.write_text(account("ann") + account("ben"))
    srv = start_server(root, "-q", "--upload", "--auth", str(auth), "--upload-max-unfinished", "1")

    def as_user(user, target):
        cred = base64.b64encode(f"{user}:{user}-pw".encode()).decode()
        return create_from(srv, "127.0.0.1", target, b"part", [("Authorization", f"Basic {cred}")])

    assert as_user("ann", "/a1.bin").status == 201
    assert as_user("ann", "/a2.bin").status == 429
    assert as_user("ben", "/b1.bin").status == 201
