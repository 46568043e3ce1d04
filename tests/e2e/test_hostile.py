"""Hostile peers against `ferry serve`: what becomes of a request body that
no handler read (it must never be parsed as the next request), partial
PUT, expectations, and raw names that arrive in pieces.

Each case sends raw bytes and then, on the same connection, a second
request, and checks what that second request is answered with."""
import socket
import time

import pytest

from ferrylib import HttpConn, build_request, recv_until_close

SECRET = b"the secret file\n"
PUBLIC = b"the public file\n"
OLD = b"x" * 1000
LIMIT = 64 * 1024


@pytest.fixture
def root(tmp_path):
    r = tmp_path / "root"
    r.mkdir()
    (r / "secret.txt").write_bytes(SECRET)
    (r / "public.txt").write_bytes(PUBLIC)
    (r / "old.txt").write_bytes(OLD)
    (r / "report.txt").write_bytes(b"report.txt's bytes\n")
    (r / "report.txt.bak").write_bytes(b"report.txt.bak's bytes\n")
    (r / "HEADER.txt").write_bytes(b"HEADER.txt's bytes\n")
    (r / "HEAD").write_bytes(b"HEAD's bytes\n")
    (r / "sub").mkdir()
    return r


@pytest.fixture
def upsrv(start_server, root):
    return start_server(root, "--upload", "--max-upload", "64K")


SMUGGLED = b"GET /secret.txt HTTP/1.1\r\nHost: x\r\n\r\n"


def put_with_body(target, body, extra=()):
    headers = [("Content-Length", str(len(body))), *extra]
    return build_request("PUT", target, headers, body=body)


def assert_next_is_public(c):
    """The next request on c is answered for itself: the smuggled one never is."""
    c.request("GET", "/public.txt")
    r = c.read_response()
    assert r.status == 200 and r.body == PUBLIC, r


def assert_closed_without_answer(c):
    rest = c.rest_until_close(timeout=5)
    assert b"HTTP/1.1" not in rest, rest
    assert SECRET not in rest


# ---- defect 1: the body of a request answered with an error ----------------

@pytest.mark.parametrize("target,status", [
    ("nofile", 400),                 # no leading slash
    ("/.hidden", 403),               # hidden names are not ours to write
    ("/missing/dir/f", 409),         # the parent does not exist
    ("/sub/", 409),                  # a directory
])
def test_put_error_body_is_dropped_not_parsed(upsrv, target, status):
    with upsrv.http() as c:
        c.send(put_with_body(target, SMUGGLED))
        r = c.read_response()
        assert r.status == status, r
        assert r.header("connection") is None  # the small body is read and dropped
        assert_next_is_public(c)
    assert not (upsrv.root / "nofile").exists()


def test_put_too_large_body_closes(upsrv):
    # Bigger than the discard limit: the connection cannot be kept.
    with upsrv.http() as c:
        c.send(build_request("PUT", "/big", [("Content-Length", str(8 << 20))]) + SMUGGLED)
        r = c.read_response()
        assert r.status == 413 and r.header("connection") == "close", r
        assert_closed_without_answer(c)
    assert not (upsrv.root / "big").exists()


def test_post_body_is_dropped_not_parsed(upsrv):
    with upsrv.http() as c:
        c.send(build_request("POST", "/public.txt", [("Content-Length", str(len(SMUGGLED)))],
                             body=SMUGGLED))
        r = c.read_response()
        assert r.status == 405 and r.header("allow") == "GET, HEAD, OPTIONS, PUT, DELETE, MKCOL, PROPFIND, PROPPATCH, COPY, MOVE, LOCK, UNLOCK", r
        assert_next_is_public(c)


def test_get_body_is_dropped_not_parsed(upsrv):
    with upsrv.http() as c:
        c.send(build_request("GET", "/public.txt", [("Content-Length", str(len(SMUGGLED)))],
                             body=SMUGGLED))
        assert c.read_response().body == PUBLIC
        assert_next_is_public(c)


def test_put_error_chunked_body_closes(upsrv):
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(SMUGGLED), SMUGGLED)
    with upsrv.http() as c:
        c.send(build_request("PUT", "nofile", [("Transfer-Encoding", "chunked")]) + chunked)
        r = c.read_response()
        assert r.status == 400 and r.header("connection") == "close", r
        assert_closed_without_answer(c)


def test_get_chunked_body_closes(upsrv):
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(SMUGGLED), SMUGGLED)
    with upsrv.http() as c:
        c.send(build_request("GET", "/public.txt", [("Transfer-Encoding", "chunked")]) + chunked)
        r = c.read_response()
        assert r.status == 200 and r.header("connection") == "close", r
        assert_closed_without_answer(c)


def test_error_with_held_back_body_closes(upsrv):
    # The client waits for 100 Continue; a final answer without it leaves
    # the body's fate unknown: the client may send it or not.
    with upsrv.http() as c:
        c.send(build_request("PUT", "nofile", [("Content-Length", "10"), ("Expect", "100-continue")]))
        r = c.read_response()
        assert r.status == 400 and r.header("connection") == "close", r
        assert c.closed_by_peer()


def test_put_invalid_chunk_closes(upsrv):
    with upsrv.http() as c:
        c.send(build_request("PUT", "/new.txt", [("Transfer-Encoding", "chunked")]) + b"zz\r\n" + SMUGGLED)
        r = c.read_response()
        assert r.status == 400 and r.header("connection") == "close", r
        assert_closed_without_answer(c)
    assert not (upsrv.root / "new.txt").exists()


def test_pipelined_request_after_chunked_put_is_answered(upsrv):
    with upsrv.http() as c:
        c.send(build_request("PUT", "/new.txt", [("Transfer-Encoding", "chunked")]) +
               b"5\r\nhello\r\n0\r\n\r\n" + build_request("GET", "/new.txt"))
        r = c.read_response()
        assert r.status == 201, r
        r = c.read_response()
        assert r.status == 200 and r.body == b"hello", r


def test_put_body_past_max_upload_with_small_rest_is_dropped(upsrv):
    # 70,000 bytes announced, 64 KiB allowed: 413 at once, and the 70,000
    # bytes (under the 1 MiB discard limit) are read and dropped.
    body = b"y" * 70_000
    with upsrv.http() as c:
        c.send(put_with_body("/toobig", body))
        r = c.read_response()
        assert r.status == 413, r
        assert r.header("connection") is None
        assert_next_is_public(c)
    assert not (upsrv.root / "toobig").exists()


# ---- defect 4: partial PUT ----------------------------------------------

def test_put_with_content_range_is_refused_and_changes_nothing(upsrv):
    with upsrv.http() as c:
        c.send(put_with_body("/old.txt", b"1234567", [("Content-Range", "bytes 0-6/1000")]))
        r = c.read_response()
        assert r.status == 400, r
        assert_next_is_public(c)
    assert (upsrv.root / "old.txt").read_bytes() == OLD


# ---- defect 5: expectations and Location ---------------------------------

def test_expect_continue_on_http10_gets_no_100(upsrv):
    with upsrv.http() as c:
        c.send(build_request("PUT", "/ten.txt", [("Content-Length", "5"), ("Expect", "100-continue")],
                             version="HTTP/1.0"))
        c.sock.settimeout(0.5)
        try:
            early = c.sock.recv(100)
        except socket.timeout:
            early = b""
        assert early == b"", early
        c.send(b"hello")
        r = c.read_response()
        assert r.status == 201, r
    assert (upsrv.root / "ten.txt").read_bytes() == b"hello"


def test_expect_continue_on_http11_gets_100(upsrv):
    with upsrv.http() as c:
        c.send(build_request("PUT", "/eleven.txt", [("Content-Length", "5"), ("Expect", "100-continue")]))
        r = c.read_response()
        assert r.status == 100, r
        c.send(b"hello")
        assert c.read_response().status == 201


def test_unknown_expectation_gets_417(upsrv):
    with upsrv.http() as c:
        c.send(build_request("PUT", "/x.txt", [("Content-Length", "5"), ("Expect", "something-else")]))
        r = c.read_response()
        assert r.status == 417 and r.header("connection") == "close", r
    assert not (upsrv.root / "x.txt").exists()


def test_unknown_expectation_on_get_gets_417(upsrv):
    with upsrv.http() as c:
        c.request("GET", "/public.txt", [("Expect", "x-y")])
        r = c.read_response()
        assert r.status == 417 and r.header("connection") == "close", r
        assert c.closed_by_peer()


def test_created_carries_location(upsrv):
    with upsrv.http() as c:
        c.send(put_with_body("/a%20b.txt", b"abc"))
        r = c.read_response()
        assert r.status == 201 and r.header("location") == "/a%20b.txt", r
        c.send(put_with_body("/a%20b.txt", b"abcd"))
        r = c.read_response()
        assert r.status == 204 and r.header("location") is None, r


# ---- defect 6: raw names in pieces ----------------------------------------

def raw_in_pieces(port, pieces, pause, half_close=False):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i, p in enumerate(pieces):
            if i:
                time.sleep(pause)
            s.sendall(p)
        if half_close:
            s.shutdown(socket.SHUT_WR)
        return recv_until_close(s, 10)


@pytest.fixture
def slowgap(start_server, root):
    # A long gap, so the test's own pauses never look like the end of a name
    # on a loaded machine; the default gap has its own test below.
    return start_server(root, "-q", "--raw-gap", "1500")


@pytest.mark.parametrize("name", [b"report.txt.bak", b"HEADER.txt"])
def test_raw_name_split_at_every_byte(slowgap, root, name):
    want = (root / name.decode()).read_bytes()
    for i in range(1, len(name)):
        got = raw_in_pieces(slowgap.port, [name[:i], name[i:]], 0.02)
        assert got == want, (i, got)


@pytest.mark.parametrize("end", [b"\n", b"\r\n", b"\x00"])
def test_raw_name_split_with_terminator(slowgap, root, end):
    # The terminator ends the name at once: no gap to wait for.
    got = raw_in_pieces(slowgap.port, [b"report", b".txt", b".bak" + end], 0.02)
    assert got == (root / "report.txt.bak").read_bytes()


def test_raw_name_split_then_half_close(slowgap, root):
    got = raw_in_pieces(slowgap.port, [b"report.t", b"xt.bak"], 0.02, half_close=True)
    assert got == (root / "report.txt.bak").read_bytes()


def test_raw_quiet_gap_ends_name(server_default_gap, root):
    # Well past the default gap: the first piece was the whole name.
    got = raw_in_pieces(server_default_gap.port, [b"report.txt", b".bak"], 1.0)
    assert got == (root / "report.txt").read_bytes()


def test_raw_method_prefix_then_more_is_raw(slowgap, root):
    # "HEAD" could still become "HEAD /"; "HEADER.txt" is a raw name.
    got = raw_in_pieces(slowgap.port, [b"HEAD", b"ER.txt"], 0.02)
    assert got == (root / "HEADER.txt").read_bytes()


def test_raw_method_prefix_alone_after_gap(server_default_gap, root):
    assert raw_in_pieces(server_default_gap.port, [b"HEAD"], 0) == b"HEAD's bytes\n"


@pytest.fixture
def server_default_gap(start_server, root):
    return start_server(root, "-q")


def test_raw_name_of_exactly_4096_bytes_and_terminator(start_server, root):
    name = "n" * 200
    (root / name).write_bytes(b"long")
    srv = start_server(root, "-q")
    # 4096 bytes of name: "./" runs that normalise to the file.
    raw = b"./" * ((4096 - len(name)) // 2) + name.encode()
    assert len(raw) == 4096
    assert raw_in_pieces(srv.port, [raw[:1000], raw[1000:] + b"\n"], 0.01) == b"long"
    assert raw_in_pieces(srv.port, [raw + b"x"], 0) == b""  # 4097 bytes: too long
