"""PUT: `ferry put` against `ferry serve --upload`, and raw requests for what
the client never sends (chunked bodies, no length, escapes, aborted bodies).

The server's promise: the body goes to a temporary file that replaces the
target only when complete, so a target is always either its old or its new
content, and an aborted upload leaves nothing behind."""
import os
import socket
import struct
import threading
import time

import pytest

from ferrylib import HttpConn, build_request, file_sha256, http_request, sha256
from peers import QuietHandler, ScriptedServer, TlsServer, listing, make_pki, run_ferry, wait_for

LIMIT = 64 * 1024
OLD = b"the old content\n" * 1000
NEW = os.urandom(50_000)


@pytest.fixture
def root(tmp_path):
    r = tmp_path / "root"
    r.mkdir()
    (r / "sub").mkdir()
    (r / "old.txt").write_bytes(OLD)
    return r


@pytest.fixture
def upsrv(start_server, root):
    return start_server(root, "-q", "--upload", "--max-upload", "64K")


@pytest.fixture
def src(tmp_path):
    """A local file to upload, holding NEW."""
    p = tmp_path / "src.bin"
    p.write_bytes(NEW)
    return p


def outside(tmp_path):
    """What sits next to the served root: must not change."""
    return sorted(os.listdir(tmp_path))


def no_temp_files(d):
    """True when d holds no upload temporary (no dot files at all, but the
    server's state directory)."""
    return not any(n.startswith(".") for n in listing(d))


def put_raw(srv, target, body, headers=()):
    """One PUT with Content-Length on a fresh connection; the Response."""
    hs = [("Content-Length", str(len(body))), *headers]
    return http_request(srv, "PUT", target, hs, body=body)


# ---- ferry put -------------------------------------------------------------


def test_put_new_file_201(upsrv, root, src):
    r = run_ferry("put", src, upsrv.url + "new.bin")
    assert r.rc == 0, r
    assert "201" in r.err
    assert (root / "new.bin").read_bytes() == NEW
    assert listing(root) == ["new.bin", "old.txt", "sub"]


def test_put_replace_204(upsrv, root, src):
    r = run_ferry("put", src, upsrv.url + "old.txt")
    assert r.rc == 0, r
    assert "204" in r.err
    assert (root / "old.txt").read_bytes() == NEW
    assert listing(root) == ["old.txt", "sub"]


def test_put_into_subdirectory(upsrv, root, src):
    r = run_ferry("put", "-q", src, upsrv.url + "sub/in.bin")
    assert r.rc == 0, r
    assert r.err == ""
    assert (root / "sub" / "in.bin").read_bytes() == NEW


def test_put_missing_parent_409(upsrv, root, src):
    r = run_ferry("put", src, upsrv.url + "nodir/x.bin")
    assert r.rc == 5, r
    assert "409" in r.err
    assert listing(root) == ["old.txt", "sub"]


def test_put_under_a_file_409(upsrv, root, src):
    r = run_ferry("put", src, upsrv.url + "old.txt/x")
    assert r.rc == 5, r
    assert "409" in r.err
    assert (root / "old.txt").read_bytes() == OLD


def test_put_onto_a_directory_409(upsrv, root, src):
    r = run_ferry("put", src, upsrv.url + "sub")
    assert r.rc == 5, r
    assert "409" in r.err
    assert listing(root / "sub") == []


@pytest.mark.parametrize("target", ["/sub/", "/sub", "/newdir/", "/"])
def test_put_to_a_directory_409_then_next_request(upsrv, root, target):
    """A directory, named with or without the slash (or a new name ending in
    one), is a conflict (RFC 4918, nginx), not a refusal; the small body is
    dropped and the connection answers its next request."""
    with HttpConn(upsrv.port) as c:
        c.request("PUT", target, [("Content-Length", "9")], body=b"not a dir")
        resp = c.read_response()
        assert resp.status == 409, resp
        assert resp.header("connection") is None, resp
        c.request("GET", "/old.txt")
        resp = c.read_response()
        assert resp.status == 200 and resp.body == OLD, resp
    assert listing(root) == ["old.txt", "sub"]
    assert listing(root / "sub") == []


def test_put_over_the_limit_413(upsrv, root, tmp_path):
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(LIMIT + 1))
    r = run_ferry("put", big, upsrv.url + "big.bin")
    assert r.rc == 5, r
    assert "413" in r.err
    assert listing(root) == ["old.txt", "sub"]


def test_put_exactly_the_limit(upsrv, root, tmp_path):
    data = os.urandom(LIMIT)
    (tmp_path / "edge.bin").write_bytes(data)
    r = run_ferry("put", tmp_path / "edge.bin", upsrv.url + "edge.bin")
    assert r.rc == 0, r
    assert (root / "edge.bin").read_bytes() == data


def test_put_empty_file(upsrv, root, tmp_path):
    (tmp_path / "empty").write_bytes(b"")
    r = run_ferry("put", tmp_path / "empty", upsrv.url + "empty")
    assert r.rc == 0, r
    assert "201" in r.err
    assert (root / "empty").read_bytes() == b""


def test_put_big_file_streams(start_server, root, tmp_path):
    data = os.urandom(6 << 20)
    (tmp_path / "big.bin").write_bytes(data)
    srv = start_server(root, "-q", "--upload")
    r = run_ferry("put", tmp_path / "big.bin", srv.url + "big.bin")
    assert r.rc == 0, r
    assert file_sha256(root / "big.bin") == sha256(data)


def test_put_then_get_round_trip(upsrv, tmp_path, src):
    assert run_ferry("put", "-q", src, upsrv.url + "rt.bin").rc == 0
    d = tmp_path / "dl"
    d.mkdir()
    r = run_ferry("get", "-q", upsrv.url + "rt.bin", cwd=d)
    assert r.rc == 0, r
    assert (d / "rt.bin").read_bytes() == NEW


def test_put_without_upload_405(start_server, root, src):
    srv = start_server(root, "-q")
    r = run_ferry("put", src, srv.url + "new.bin")
    assert r.rc == 5, r
    assert "405" in r.err
    assert listing(root) == ["old.txt", "sub"]
    resp = put_raw(srv, "/new.bin", b"data")
    assert resp.status == 405
    assert resp.header("allow") == "GET, HEAD, OPTIONS, PROPFIND"


def test_other_method_with_upload_405(upsrv, root):
    resp = http_request(upsrv, "PATCH", "/old.txt")
    assert resp.status == 405, resp
    assert resp.header("allow") == "GET, HEAD, OPTIONS, PUT, DELETE, MKCOL, PROPFIND, PROPPATCH, COPY, MOVE, LOCK, UNLOCK"
    assert (root / "old.txt").read_bytes() == OLD


def test_put_missing_local_file(upsrv, tmp_path):
    r = run_ferry("put", tmp_path / "nope", upsrv.url + "x")
    assert r.rc == 6, r


def test_put_local_directory(upsrv, tmp_path):
    r = run_ferry("put", tmp_path, upsrv.url + "x")
    assert r.rc == 6, r


@pytest.mark.parametrize("args", [[], ["only-one"], ["a", "b", "c"]], ids=["none", "one", "three"])
def test_put_usage(args):
    assert run_ferry("put", *args).rc == 2


def test_put_raw_url_is_usage(upsrv, src):
    r = run_ferry("put", src, f"raw://127.0.0.1:{upsrv.port}/x")
    assert r.rc == 2, r


def test_put_connection_refused(src):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    assert run_ferry("put", src, f"http://127.0.0.1:{port}/x").rc == 3


# ---- what the client sends ---------------------------------------------


def test_client_waits_for_100_continue(src):
    """The body follows the 100 Continue; the head announces its length."""
    got = {}

    def handler(peer):
        req = peer.read_request()
        got["req"] = req
        peer.sock.settimeout(0.3)
        try:
            got["early"] = peer.sock.recv(1)  # nothing before the 100
        except (socket.timeout, TimeoutError):
            got["early"] = None
        peer.sock.settimeout(10)
        peer.send(b"HTTP/1.1 100 Continue\r\n\r\n")
        got["body"] = peer.read_exact(len(NEW))
        peer.respond(201, [], b"")

    with ScriptedServer(handler) as srv:
        r = run_ferry("put", src, srv.url("/dir/up.bin"))
    assert r.rc == 0, r
    req = got["req"]
    assert req.method == "PUT" and req.target == "/dir/up.bin"
    assert req.header("expect") == "100-continue"
    assert req.header("content-length") == str(len(NEW))
    assert got["early"] is None
    assert got["body"] == NEW


def test_client_sends_the_body_to_a_server_ignoring_expect(src):
    got = {}

    def handler(peer):
        peer.read_request()
        got["body"] = peer.read_exact(len(NEW), timeout=5)
        peer.respond(204, [], b"")

    t0 = time.monotonic()
    with ScriptedServer(handler) as srv:
        r = run_ferry("put", src, srv.url("/x"))
    assert r.rc == 0, r
    assert got["body"] == NEW
    assert time.monotonic() - t0 < 4


def test_client_stops_on_an_early_refusal(src):
    got = {}

    def handler(peer):
        peer.read_request()
        peer.respond(413, [("Connection", "close")], b"too big")
        peer.sock.settimeout(1)
        try:
            got["after"] = peer.sock.recv(65536)
        except (socket.timeout, TimeoutError, ConnectionResetError):
            got["after"] = b""

    with ScriptedServer(handler) as srv:
        r = run_ferry("put", src, srv.url("/x"))
    assert r.rc == 5, r
    assert "413" in r.err
    assert got["after"] == b""  # the body was not sent


class PutHandler(QuietHandler):
    """python's http.server taking PUT into its directory; send_continue
    False makes it ignore Expect: 100-continue, as many servers do."""

    send_continue = True

    def handle_expect_100(self):
        return super().handle_expect_100() if self.send_continue else True

    def do_PUT(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with open(self.translate_path(self.path), "wb") as f:
            f.write(body)
        self.send_response(201)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.mark.parametrize("sends_continue", [True, False], ids=["100-continue", "ignores-expect"])
def test_put_over_https(pki, tmp_path, src, sends_continue):
    """The client waits a moment for 100 Continue, then sends the body
    anyway: over TLS as over plain TCP."""
    d = tmp_path / "tls-root"
    d.mkdir()
    handler = type("Handler", (PutHandler,), {"send_continue": sends_continue})
    srv = TlsServer(d, *pki["good"], handler_class=handler)
    t0 = time.monotonic()
    try:
        r = run_ferry("put", "--cacert", pki["ca"], "--timeout", "3", src, srv.url("/up.bin"))
    finally:
        srv.stop()
    assert r.rc == 0, r
    assert (d / "up.bin").read_bytes() == NEW
    assert time.monotonic() - t0 < 2.9


# ---- escapes ---------------------------------------------------------------


@pytest.mark.parametrize("target", ["/../x", "/%2e%2e/x", "/%2E%2E%2Fx", "/..%2fx", "/sub/../../x",
                                    "/sub/%2e%2e/%2e%2e/x", "/./../x", "/..", "/%2e%2e"])
def test_put_escape_refused(upsrv, root, tmp_path, target):
    before = outside(tmp_path)
    resp = put_raw(upsrv, target, b"escaped")
    assert resp.status == 403, resp
    assert outside(tmp_path) == before
    assert listing(root) == ["old.txt", "sub"]
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("path", ["/../x", "/%2e%2e/x"])
def test_ferry_put_escape_refused(upsrv, root, tmp_path, src, path):
    before = outside(tmp_path)
    r = run_ferry("put", src, f"http://127.0.0.1:{upsrv.port}{path}")
    assert r.rc == 5, r
    assert outside(tmp_path) == before
    assert listing(root) == ["old.txt", "sub"]


def test_put_through_a_symlink_out_of_the_root(upsrv, root, tmp_path):
    (tmp_path / "elsewhere").mkdir()
    os.symlink(tmp_path / "elsewhere", root / "link")
    resp = put_raw(upsrv, "/link/x", b"escaped")
    assert resp.status == 403, resp
    assert listing(tmp_path / "elsewhere") == []


def test_put_onto_a_symlink_leaves_its_target_alone(upsrv, root, tmp_path):
    (tmp_path / "victim").write_bytes(b"victim")
    os.symlink(tmp_path / "victim", root / "ln")
    put_raw(upsrv, "/ln", b"replaced")
    assert (tmp_path / "victim").read_bytes() == b"victim"


def test_put_hidden_name_refused(upsrv, root):
    resp = put_raw(upsrv, "/.profile", b"x")
    assert resp.status == 403, resp
    assert listing(root) == ["old.txt", "sub"]


# ---- framing ---------------------------------------------------------------


def chunk_body(pieces, trailer=b""):
    return b"".join(b"%x\r\n" % len(p) + p + b"\r\n" for p in pieces) + b"0\r\n" + trailer + b"\r\n"


def test_chunked_put(upsrv, root):
    pieces = [NEW[:1], NEW[1:10_000], NEW[10_000:10_003], NEW[10_003:]]
    enc = chunk_body(pieces, b"X-Trailer: 1\r\n")
    with HttpConn(upsrv.port) as c:
        c.send(build_request("PUT", "/chunked.bin", [("Transfer-Encoding", "chunked")]))
        for i in range(0, len(enc), 777):  # size lines split across sends
            c.send(enc[i:i + 777])
            time.sleep(0.001)
        resp = c.read_response()
    assert resp.status == 201, resp
    assert (root / "chunked.bin").read_bytes() == NEW


def test_chunked_put_over_the_limit(upsrv, root):
    with HttpConn(upsrv.port) as c:
        c.send(build_request("PUT", "/big.bin", [("Transfer-Encoding", "chunked")]))
        try:
            for _ in range(10):
                c.send(chunk_body([b"x" * 20_000])[:-5])  # no last chunk
        except (BrokenPipeError, ConnectionResetError):
            pass
        resp = c.read_response()
    assert resp.status == 413, resp
    assert wait_for(lambda: listing(root) == ["old.txt", "sub"])


def test_malformed_chunked_put_keeps_the_old_file(upsrv, root):
    with HttpConn(upsrv.port) as c:
        c.send(build_request("PUT", "/old.txt", [("Transfer-Encoding", "chunked")]) + b"5\r\nhello\r\nzz\r\n")
        resp = c.read_response()
    assert resp.status == 400, resp
    assert (root / "old.txt").read_bytes() == OLD
    assert wait_for(lambda: no_temp_files(root))


def test_put_without_length_411(upsrv, root):
    with HttpConn(upsrv.port) as c:
        c.send(build_request("PUT", "/x.bin", []) + b"some bytes")
        resp = c.read_response()
    assert resp.status == 411, resp
    assert listing(root) == ["old.txt", "sub"]


def test_expect_100_continue(upsrv, root):
    with HttpConn(upsrv.port) as c:
        c.send(build_request("PUT", "/cont.bin", [("Content-Length", str(len(NEW))),
                                                  ("Expect", "100-continue")]))
        c.buffer_at_least(25)
        assert bytes(c.buf[:25]) == b"HTTP/1.1 100 Continue\r\n\r\n"
        interim = c.read_response()
        assert interim.status == 100
        assert not (root / "cont.bin").exists()
        c.send(NEW)
        resp = c.read_response()
    assert resp.status == 201, resp
    assert (root / "cont.bin").read_bytes() == NEW


def test_expect_over_the_limit_refused_at_once(upsrv, root):
    with HttpConn(upsrv.port) as c:
        c.send(build_request("PUT", "/big.bin", [("Content-Length", str(LIMIT + 1)),
                                                 ("Expect", "100-continue")]))
        resp = c.read_response()
    assert resp.status == 413, resp
    assert listing(root) == ["old.txt", "sub"]


def test_two_puts_on_one_connection(upsrv, root):
    with HttpConn(upsrv.port) as c:
        c.send(build_request("PUT", "/k.bin", [("Content-Length", "3")], body=b"one"))
        assert c.read_response().status == 201
        c.send(build_request("PUT", "/k.bin", [("Content-Length", "3")], body=b"two"))
        assert c.read_response().status == 204
        c.send(build_request("GET", "/k.bin"))
        assert c.read_response().body == b"two"


# ---- aborted uploads and readers -------------------------------------------


@pytest.mark.parametrize("how", ["close", "reset"])
@pytest.mark.parametrize("exists", [False, True], ids=["new", "replace"])
def test_aborted_upload_leaves_nothing(upsrv, root, how, exists):
    name = "old.txt" if exists else "new.bin"
    with HttpConn(upsrv.port) as c:
        c.send(build_request("PUT", "/" + name, [("Content-Length", str(len(NEW)))]) + NEW[:len(NEW) // 2])
        time.sleep(0.1)  # the server has the first half
        if how == "reset":
            c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    # Once the server noticed, it answers the next request: the abort is done.
    assert wait_for(lambda: no_temp_files(root), timeout=3)
    resp = http_request(upsrv, "GET", "/" + name)
    if exists:
        assert resp.status == 200 and resp.body == OLD
    else:
        assert resp.status == 404
    time.sleep(0.1)
    assert listing(root) == ["old.txt", "sub"]
    assert (root / "old.txt").read_bytes() == OLD


def test_reader_sees_old_or_new_during_an_upload(upsrv, root):
    new = b"N" * len(OLD)
    done = threading.Event()
    seen = {"old": 0, "new": 0, "other": []}
    lock = threading.Lock()

    def reader():
        for _ in range(2000):
            if done.is_set():
                return
            body = http_request(upsrv, "GET", "/old.txt").body
            with lock:
                if body == OLD:
                    seen["old"] += 1
                elif body == new:
                    seen["new"] += 1
                else:
                    seen["other"].append(len(body))

    readers = [threading.Thread(target=reader, daemon=True) for _ in range(2)]
    for t in readers:
        t.start()
    try:
        with HttpConn(upsrv.port) as c:
            c.send(build_request("PUT", "/old.txt", [("Content-Length", str(len(new)))]))
            for i in range(0, len(new), 1000):
                c.send(new[i:i + 1000])
                time.sleep(0.01)
            assert c.read_response().status == 204
        time.sleep(0.1)  # readers see the new content too
    finally:
        done.set()
        for t in readers:
            t.join(10)
    assert seen["other"] == []
    assert seen["old"] > 0 and seen["new"] > 0, seen
    assert (root / "old.txt").read_bytes() == new


def test_concurrent_uploads_to_one_name(upsrv, root):
    """Two slow uploads of the same size to one name: the result is exactly
    one of them, never a mix."""
    bodies = [b"1" * 40_000, b"2" * 40_000]
    statuses = []

    def upload(body):
        with HttpConn(upsrv.port) as c:
            c.send(build_request("PUT", "/both.bin", [("Content-Length", str(len(body)))]))
            for i in range(0, len(body), 4000):
                c.send(body[i:i + 4000])
                time.sleep(0.005)
            statuses.append(c.read_response().status)

    threads = [threading.Thread(target=upload, args=(b,), daemon=True) for b in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join(15)
    assert sorted(statuses) == [201, 204], statuses  # one created it, the other replaced it
    assert (root / "both.bin").read_bytes() in bodies
    assert wait_for(lambda: no_temp_files(root))
