"""Security and fault cases for `ferry serve`, one named test each: path
escapes, symbolic links, header limits, request smuggling shapes, slow
clients, descriptor exhaustion and the connection cap."""
import os
import resource
import socket
import struct
import threading
import time

import pytest

from ferrylib import (
    connect,
    cpu_seconds,
    http_request,
    wait_closed,
)

SECRET = b"TOPSECRET-ferry-e2e-7f3a"
SECRET2 = b"OUTSIDE-DIR-SECRET-91c2"
FILE = b"an ordinary file\n"
BIG50 = 50 << 20
SMALL_TIMEOUT = 5.0


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    parent = tmp_path_factory.mktemp("sec")
    (parent / "secret").write_bytes(SECRET)
    (parent / "outside").mkdir()
    (parent / "outside" / "secret2").write_bytes(SECRET2)
    root = parent / "root"
    root.mkdir()
    (root / "file.txt").write_bytes(FILE)
    (root / "a").mkdir()
    (root / "a" / "inner.txt").write_bytes(b"inner")
    os.symlink("file.txt", root / "link_in")
    os.symlink("a", root / "link_in_dir")
    os.symlink("../secret", root / "link_out")
    os.symlink(str(parent / "secret"), root / "link_out_abs")
    os.symlink("../outside", root / "dirlink_out")
    os.symlink("../../secret", root / "a" / "link_up")
    os.mkfifo(root / "fifo")
    with open(root / "big50.bin", "wb") as f:
        block = os.urandom(1 << 20)
        for _ in range(BIG50 >> 20):
            f.write(block)
    return root


@pytest.fixture(scope="module")
def served_dir(tree):
    return tree


def assert_refused(r, status=404):
    """Refused with exactly status: 403 for a path that leaves the root, 400
    for one that cannot be a path, 404 for a link the kernel will not follow
    out of the root (it is not there, as far as the client can know)."""
    assert r.status == status, r
    assert SECRET not in r.body and SECRET2 not in r.body


# ---- path escapes ----------------------------------------------------------

ESCAPES = {
    "dotdot": (b"/../secret", 403),
    "encoded_dotdot": (b"/%2e%2e/secret", 403),
    "half_encoded_dotdot": (b"/.%2e/secret", 403),
    "encoded_slash_dotdot": (b"/%2e%2e%2fsecret", 403),
    "deep_dotdot": (b"/a/../../secret", 403),
    "double_encoded_dotdot": (b"/%252e%252e/secret", 404),
    "nul_byte": (b"/a/%00", 400),
    "nul_before_name": (b"/file.txt%00.html", 400),
    "double_slash_etc_passwd": (b"//etc/passwd", 404),
    "backslash_dotdot": (b"/..%5c..%5csecret", 404),
    "raw_backslash_dotdot": (b"/..\\..\\secret", 404),
    "absolute_form_dotdot": (b"http://x/../secret", 403),
    "absolute_form_encoded_dotdot": (b"http://x/%2e%2e/secret", 403),
}


@pytest.mark.parametrize("target,status", ESCAPES.values(), ids=ESCAPES.keys())
def test_path_escape_refused(server, target, status):
    with server.http() as c:
        c.send(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        r = c.read_response()
        assert_refused(r, status)
        assert b"root:" not in r.body


def test_symlink_inside_root_served(server):
    r = http_request(server, "GET", "/link_in")
    assert r.status == 200 and r.body == FILE
    r = http_request(server, "GET", "/link_in_dir/inner.txt")
    assert r.status == 200 and r.body == b"inner"


@pytest.mark.parametrize("target", ["/link_out", "/link_out_abs", "/a/link_up"])
def test_symlink_to_file_outside_refused(server, target):
    assert_refused(http_request(server, "GET", target))


@pytest.mark.parametrize("target", ["/dirlink_out/secret2", "/dirlink_out/", "/dirlink_out"])
def test_symlinked_dir_outside_refused(server, target):
    r = http_request(server, "GET", target)
    assert_refused(r)
    assert b"secret2" not in r.body


def test_listing_leaves_out_links_leading_outside(server):
    body = http_request(server, "GET", "/").body
    assert b"link_in" in body
    for name in (b"link_out", b"link_out_abs", b"dirlink_out"):
        assert b'"./' + name + b'"' not in body and b'"./' + name + b'/"' not in body


def test_fifo_not_served(server):
    # Opening a FIFO for reading must neither block the server nor serve it.
    r = http_request(server, "GET", "/fifo", timeout=SMALL_TIMEOUT)
    assert r.status == 404, r
    with server.connect(SMALL_TIMEOUT) as s:
        s.sendall(b"fifo")
        assert wait_closed(s, SMALL_TIMEOUT) is True
    assert b"fifo" not in http_request(server, "GET", "/").body
    assert http_request(server, "GET", "/file.txt", timeout=SMALL_TIMEOUT).body == FILE


@pytest.mark.parametrize("mode", ["auto", "sendfile", "splice", "readwrite"])
def test_client_reset_mid_download(start_server, served_dir, mode):
    srv = start_server(served_dir, "--send-mode", mode, threads=1)
    for _ in range(3):
        s = connect(srv.port)
        s.sendall(b"GET /big50.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        assert s.recv(65536)
        # Unread data makes close send a reset.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    fast_requests(srv, 2)


# ---- header limits and malformed requests -----------------------------------


def expect_error_then_close(server, data, statuses):
    with server.http() as c:
        c.send(data)
        r = c.read_response()
        assert r.status in statuses, r
        assert c.closed_by_peer(SMALL_TIMEOUT), "the connection must be closed after the error"
        return r


def test_head_over_8k_gets_431_and_close(server):
    data = b"GET /file.txt HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n"
    expect_error_then_close(server, data, (431,))


def test_long_request_line_gets_414_and_close(server):
    data = b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    expect_error_then_close(server, data, (414,))


def test_101_header_lines_refused(server):
    lines = [b"Host: x"] + [b"X-H%d: v" % i for i in range(100)]
    data = b"GET /file.txt HTTP/1.1\r\n" + b"\r\n".join(lines) + b"\r\n\r\n"
    expect_error_then_close(server, data, (431,))


def test_100_header_lines_accepted(server):
    lines = [b"Host: x"] + [b"X-H%d: v" % i for i in range(99)]
    with server.http() as c:
        c.send(b"GET /file.txt HTTP/1.1\r\n" + b"\r\n".join(lines) + b"\r\n\r\n")
        r = c.read_response()
        assert r.status == 200 and r.body == FILE


def test_malformed_request_line_400_and_close(server):
    # A valid request pipelined after the bad one must not be answered.
    data = (b"GET /file.txt HTTP/1.1 junk\r\nHost: x\r\n\r\n"
            b"GET /file.txt HTTP/1.1\r\nHost: x\r\n\r\n")
    expect_error_then_close(server, data, (400,))


def test_malformed_header_400_and_close(server):
    data = b"GET /file.txt HTTP/1.1\r\nHost: x\r\nBad Header : v\r\n\r\n"
    expect_error_then_close(server, data, (400,))


def test_obs_fold_header_400(server):
    data = b"GET /file.txt HTTP/1.1\r\nHost: x\r\nX-A: one\r\n two\r\n\r\n"
    expect_error_then_close(server, data, (400,))


def test_content_length_with_transfer_encoding_400(server):
    data = (b"GET /file.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
    expect_error_then_close(server, data, (400,))


def test_duplicate_content_length_400(server):
    data = b"GET /file.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello"
    expect_error_then_close(server, data, (400,))


def test_bad_content_length_400(server):
    data = b"GET /file.txt HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\nhello"
    expect_error_then_close(server, data, (400,))


def test_http11_without_host_400(server):
    expect_error_then_close(server, b"GET /file.txt HTTP/1.1\r\n\r\n", (400,))


def test_http11_with_two_hosts_400(server):
    expect_error_then_close(server, b"GET /file.txt HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", (400,))


def test_unsupported_http_version_refused(server):
    expect_error_then_close(server, b"GET /file.txt HTTP/2.0\r\nHost: x\r\n\r\n", (505,))


def test_get_with_small_body_then_second_request(server):
    with server.http() as c:
        c.send(b"GET /file.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
               b"GET /a/inner.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        r1 = c.read_response()
        r2 = c.read_response()
        assert (r1.status, r1.body) == (200, FILE)
        assert (r2.status, r2.body) == (200, b"inner")


def test_get_with_late_body_then_second_request(server):
    # The body arrives after the response was sent: it is still dropped.
    with server.http() as c:
        c.send(b"GET /file.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n")
        assert c.read_response().body == FILE
        c.send(b"GET /")  # looks like a request, but is the 5-byte body
        time.sleep(0.05)
        c.send(b"GET /a/inner.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        r2 = c.read_response()
        assert (r2.status, r2.body) == (200, b"inner")


def test_chunked_body_on_get_closes_after_response(server):
    with server.http() as c:
        c.send(b"GET /file.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"5\r\nhello\r\n0\r\n\r\n")
        r = c.read_response()
        assert (r.status, r.body) == (200, FILE)
        assert c.closed_by_peer(SMALL_TIMEOUT)


# ---- slow and stuck clients -------------------------------------------------


def fast_requests(server, n=3):
    """n requests, each on its own connection, each within SMALL_TIMEOUT."""
    for _ in range(n):
        r = http_request(server, "GET", "/file.txt", timeout=SMALL_TIMEOUT)
        assert r.status == 200 and r.body == FILE


def trickle_until_closed(sock, first, limit_s):
    """Sends first, then one byte a second until the server closes; returns
    the seconds that took, or None when it did not within limit_s."""
    start = time.monotonic()
    sock.sendall(first)
    for _ in range(int(limit_s) + 2):
        r = wait_closed(sock, 1.0)
        if r is True:
            return time.monotonic() - start
        if r is not False:
            raise AssertionError(f"a slow head got an answer: {r!r}")
        if time.monotonic() - start > limit_s:
            return None
        try:
            sock.sendall(b"X")
        except (BrokenPipeError, ConnectionResetError):
            return time.monotonic() - start
    return None


def run_slowloris(server, sock, first, limit_s):
    result = {}

    def slow():
        try:
            result["took"] = trickle_until_closed(sock, first, limit_s)
        except Exception as e:  # reported by the main thread
            result["error"] = e

    t = threading.Thread(target=slow, daemon=True)
    t.start()
    fast_requests(server)  # served while the slow client holds its connection
    t.join(limit_s + 5)
    assert not t.is_alive()
    if "error" in result:
        raise result["error"]
    return result["took"]


def test_slowloris_disconnected_within_head_timeout(start_server, served_dir):
    srv = start_server(served_dir, "--head-timeout", "2", threads=1)
    with srv.connect() as s:
        took = run_slowloris(srv, s, b"GET /file.txt HTTP/1.1\r\nHost: x\r\nX-Slow: ", limit_s=8)
        assert took is not None, "a trickling head was not cut off"
    fast_requests(srv, 1)


def test_slowloris_after_keepalive_request_disconnected(start_server, served_dir):
    # The head deadline must also run for the second request on a connection.
    srv = start_server(served_dir, "--head-timeout", "2", "--idle", "60", threads=1)
    with srv.http() as c:
        c.request("GET", "/file.txt")
        assert c.read_response().body == FILE
        took = run_slowloris(srv, c.sock, b"GET /file.txt HTTP/1.1\r\nX-Slow: ", limit_s=8)
        assert took is not None, "a trickling second head was not cut off"


def test_silent_connection_closed_within_head_timeout(start_server, served_dir):
    srv = start_server(served_dir, "--head-timeout", "2", threads=1)
    with srv.connect() as s:
        assert wait_closed(s, 8) is True


def test_slow_reader_does_not_stall_others(start_server, served_dir):
    srv = start_server(served_dir, threads=1)
    with connect(srv.port, rcvbuf=4096) as stuck:
        stuck.sendall(b"GET /big50.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.3)  # let the server fill the socket
        fast_requests(srv, 5)
        r = http_request(srv, "GET", "/file.txt", [("Range", "bytes=0-3")], timeout=SMALL_TIMEOUT)
        assert r.status == 206


def test_stalled_reader_does_not_spin(start_server, served_dir):
    srv = start_server(served_dir, threads=1)
    with connect(srv.port, rcvbuf=4096) as stuck:
        stuck.sendall(b"GET /big50.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.5)
        before = cpu_seconds(srv.pid)
        time.sleep(1.0)
        used = cpu_seconds(srv.pid) - before
        assert used < 0.25, f"server used {used:.2f}s CPU in 1s waiting for a stalled reader"


def test_send_timeout_frees_stalled_connection(start_server, served_dir):
    # With room for one connection, a reader that stalls must lose it after
    # --send-timeout so that the next client is served.
    srv = start_server(served_dir, "--max-conns", "1", "--send-timeout", "1", threads=1)
    with connect(srv.port, rcvbuf=4096) as stuck:
        stuck.sendall(b"GET /big50.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        assert stuck.recv(16).startswith(b"HTTP/1.1 200")
        r = http_request(srv, "GET", "/file.txt", timeout=15)
        assert r.status == 200 and r.body == FILE


def low_fd_limit():
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))


def test_descriptor_exhaustion_no_spin_and_recovers(start_server, served_dir):
    srv = start_server(served_dir, "--max-conns", "1000", "--head-timeout", "30", "--idle", "30",
                       preexec_fn=low_fd_limit)
    early = srv.http()  # accepted before the limit is reached
    early.request("GET", "/file.txt")
    assert early.read_response().body == FILE
    idle = []
    try:
        for _ in range(100):
            idle.append(connect(srv.port))
        time.sleep(0.5)
        before = cpu_seconds(srv.pid)
        time.sleep(1.0)
        used = cpu_seconds(srv.pid) - before
        assert used < 0.25, f"server used {used:.2f}s CPU in 1s while out of descriptors"
        # A connection it already has gets an answer, even if only 503.
        early.request("GET", "/file.txt")
        assert early.read_response(timeout=SMALL_TIMEOUT).status == 503  # no descriptor to open the file
    finally:
        for s in idle:
            s.close()
        early.close()
    r = http_request(srv, "GET", "/file.txt", timeout=15)
    assert r.status == 200 and r.body == FILE
    assert srv.alive()


def test_max_conns_holds_the_next_connection(start_server, served_dir):
    srv = start_server(served_dir, "--max-conns", "5", "--head-timeout", "30", "--idle", "30")
    held = []
    try:
        for _ in range(5):
            c = srv.http()
            c.request("GET", "/file.txt")  # proves the connection was accepted
            assert c.read_response().body == FILE
            held.append(c)
        with srv.http() as sixth:
            sixth.request("GET", "/a/inner.txt")
            sixth.sock.settimeout(1.0)
            with pytest.raises((socket.timeout, TimeoutError)):
                data = sixth.sock.recv(100)
                pytest.fail(f"the 6th connection was served over the limit: {data!r}")
            held.pop(0).close()
            r = sixth.read_response(timeout=10)
            assert r.status == 200 and r.body == b"inner"
    finally:
        for c in held:
            c.close()


# ---- uploaded pages run sandboxed -------------------------------------------

PAGE = b"<!DOCTYPE html><title>page</title><script>localStorage.x = 1</script>\n"


@pytest.fixture
def pages(tmp_path):
    root = tmp_path / "pages"
    root.mkdir()
    (root / "evil.html").write_bytes(PAGE)
    (root / "pic.svg").write_bytes(b'<svg xmlns="http://www.w3.org/2000/svg"><script>1</script></svg>')
    (root / "site").mkdir()
    (root / "site" / "index.html").write_bytes(PAGE)
    (root / "plain").mkdir()
    (root / "plain" / "f.txt").write_bytes(FILE)
    return root


def assert_sandboxed(r):
    assert r.header("content-security-policy") == "sandbox", r
    assert r.header("x-content-type-options") == "nosniff", r


@pytest.mark.parametrize("method,target,headers,status", [
    ("GET", "/evil.html", [], 200),
    ("HEAD", "/evil.html", [], 200),
    ("GET", "/evil.html", [("Range", "bytes=0-9")], 206),
    ("GET", "/pic.svg", [], 200),
    ("GET", "/site/", [], 200),  # an index page is a file from the tree too
    ("GET", "/evil.html", [("Range", "bytes=9999-")], 416),
])
def test_file_responses_are_sandboxed(start_server, pages, method, target, headers, status):
    srv = start_server(pages, "-q")
    r = http_request(srv, method, target, headers)
    assert r.status == status, r
    assert_sandboxed(r)


def test_file_304_is_sandboxed(start_server, pages):
    srv = start_server(pages, "-q")
    etag = http_request(srv, "HEAD", "/evil.html").header("etag")
    r = http_request(srv, "GET", "/evil.html", [("If-None-Match", etag)])
    assert r.status == 304, r
    assert_sandboxed(r)


def test_listing_keeps_its_own_csp(start_server, pages):
    srv = start_server(pages, "-q")
    r = http_request(srv, "GET", "/plain/")
    assert r.status == 200 and b"f.txt" in r.body, r
    csp = r.header("content-security-policy")
    assert csp.startswith("default-src 'none'; script-src 'sha256-"), r
    assert "sandbox" not in csp
    assert r.header("x-content-type-options") == "nosniff", r
