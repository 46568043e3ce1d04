"""A PUT's wait for the disk does not hold up the worker's other connections.

The server runs with one worker and tests/e2e/slow_fsync.c preloaded: while
the test says so, every fsync of a regular file waits until the test
releases it (no timing: the library notes each hold in a file and waits for
a release file). While a PUT (or a resumable upload's part, or its
completion) waits there, a GET on another connection must be answered, the
PUT must still be unanswered, and once released the PUT answers as before:
201, then 204, the right bytes under the name, and pipelined requests after
it answered after it."""
import os
import select

import pytest

from ferrylib import HttpConn, build_preload, build_request, http_request, preload_list
from peers import listing, wait_for

OTHER = b"another file, served meanwhile\n" * 100
OLD = b"the old content\n" * 64
V8 = [("Upload-Draft-Interop-Version", "8")]


class Disk:
    """The preloaded library's switches, in one directory."""

    def __init__(self, d):
        self.d = d

    def slow(self):
        (self.d / "on").touch()

    def holds(self):
        p = self.d / "held"
        return len(p.read_text().splitlines()) if p.exists() else 0

    def wait_held(self):
        assert wait_for(lambda: self.holds() > 0, timeout=10), "no fsync was held"

    def release(self):
        (self.d / "release").touch()

    def reset(self):
        """Holds the next fsync again."""
        for n in ("release", "held"):
            (self.d / n).unlink(missing_ok=True)


@pytest.fixture(scope="module")
def slow_fsync(tmp_path_factory):
    return build_preload(tmp_path_factory.mktemp("shim"), "slow_fsync")


@pytest.fixture
def root(tmp_path):
    r = tmp_path / "root"
    r.mkdir()
    (r / "other.txt").write_bytes(OTHER)
    (r / "old.bin").write_bytes(OLD)
    return r


@pytest.fixture
def disk(tmp_path):
    d = tmp_path / "disk"
    d.mkdir()
    return Disk(d)


@pytest.fixture
def srv(start_server, root, disk, slow_fsync, monkeypatch):
    monkeypatch.setenv("LD_PRELOAD", preload_list(slow_fsync))
    monkeypatch.setenv("FERRY_SLOW_FSYNC", str(disk.d))
    try:
        s = start_server(root, "-q", "--upload", "--max-upload", "64M", threads=1)
    finally:
        monkeypatch.delenv("LD_PRELOAD")
    yield s
    disk.release()  # a failed test must not leave the server in fsync at its stop


def unanswered(conn):
    """True when nothing has come back on conn yet."""
    readable, _, _ = select.select([conn.sock], [], [], 0)
    return not conn.buf and not readable


def served_meanwhile(srv, conn):
    """While conn's request waits for the disk: another connection's GET is
    answered (on a worker stuck in fsync it would time out), and conn is
    not."""
    r = http_request(srv, "GET", "/other.txt", timeout=5)
    assert r.status == 200 and r.body == OTHER
    assert unanswered(conn)


def put_bytes(target, body, extra=b""):
    hs = [("Content-Length", str(len(body)))]
    return build_request("PUT", target, hs, body=body) + extra


def test_get_served_while_put_waits_for_disk_then_201_then_204(srv, root, disk):
    disk.slow()
    for body, status in ((os.urandom(100_000), 201), (os.urandom(30_000), 204)):
        disk.reset()
        with HttpConn(srv.port) as c:
            c.send(put_bytes("/new.bin", body))
            disk.wait_held()
            served_meanwhile(srv, c)
            assert not (root / "new.bin").exists() or status == 204
            disk.release()
            r = c.read_response("PUT")
            assert r.status == status, r
            assert (root / "new.bin").read_bytes() == body
            # The connection goes on after the answer.
            c.request("GET", "/new.bin")
            g = c.read_response()
            assert g.status == 200 and g.body == body


@pytest.mark.parametrize("size", [0, 100, 300_000], ids=["empty", "in-buffer", "bulk"])
def test_pipelined_get_after_put_answered_after_the_put(srv, root, disk, size):
    body = os.urandom(size)
    disk.slow()
    with HttpConn(srv.port) as c:
        c.send(put_bytes("/new.bin", body, build_request("GET", "/new.bin")))
        disk.wait_held()
        served_meanwhile(srv, c)
        disk.release()
        r = c.read_response("PUT")
        assert r.status == 201, r
        g = c.read_response()
        assert g.status == 200 and g.body == body
    assert (root / "new.bin").read_bytes() == body


def test_client_gone_during_flush_file_whole_or_absent(srv, root, disk):
    body = os.urandom(200_000)
    disk.slow()
    c = HttpConn(srv.port)
    c.send(put_bytes("/old.bin", body))
    disk.wait_held()
    c.close()
    served_meanwhile(srv, HttpConn(srv.port))
    assert (root / "old.bin").read_bytes() == OLD  # not replaced before its data is down
    disk.release()
    assert wait_for(lambda: (root / "old.bin").read_bytes() != OLD, timeout=10)
    assert (root / "old.bin").read_bytes() == body
    assert listing(root) == ["old.bin", "other.txt"]  # no temporary left
    r = http_request(srv, "GET", "/old.bin")
    assert r.status == 200 and r.body == body


def create_upload(srv, data, first):
    """An upload of data, its length known from the start (a request that
    teaches it the server saves the state before the body, on the loop),
    with its first bytes sent; its URL."""
    hs = [("Content-Length", str(first)), ("Upload-Complete", "?0"), ("Upload-Length", str(len(data))), *V8]
    with HttpConn(srv.port) as c:
        c.send(build_request("POST", "/up.bin", hs, body=data[:first]))
        while (r := c.read_response("POST")).status < 200:
            pass
    assert r.status == 201 and r.header("upload-offset") == str(first), r
    return r.header("location")


def patch_held(srv, disk, loc, data, start, end):
    """A PATCH of data[start:end] whose sync the disk holds while another
    connection is served; its answer once released."""
    done = end == len(data)
    hs = [("Content-Length", str(end - start)), ("Upload-Offset", str(start)),
          ("Upload-Complete", "?1" if done else "?0"), ("Content-Type", "application/partial-upload"), *V8]
    disk.reset()
    disk.slow()
    with HttpConn(srv.port) as c:
        c.send(build_request("PATCH", loc, hs, body=data[start:end]))
        disk.wait_held()
        served_meanwhile(srv, c)
        disk.release()
        r = c.read_response("PATCH")
    assert r.header("upload-offset") == str(end), r
    assert r.header("upload-complete") == ("?1" if done else "?0")
    return r


def test_resumable_part_sync_does_not_hold_other_connections(srv, root, disk):
    data = os.urandom(250_000)
    loc = create_upload(srv, data, 100_000)
    assert patch_held(srv, disk, loc, data, 100_000, 200_000).status == 204
    r = http_request(srv, "HEAD", loc)
    assert r.header("upload-offset") == "200000" and r.header("upload-complete") == "?0"
    assert not (root / "up.bin").exists()


def test_resumable_completion_does_not_hold_other_connections(srv, root, disk):
    data = os.urandom(250_000)
    loc = create_upload(srv, data, 100_000)
    assert patch_held(srv, disk, loc, data, 100_000, 250_000).status == 201
    assert (root / "up.bin").read_bytes() == data
    r = http_request(srv, "HEAD", loc)
    assert r.header("upload-offset") == "250000" and r.header("upload-complete") == "?1"


def test_resumable_client_gone_during_completion_completes(srv, root, disk):
    data = os.urandom(250_000)
    loc = create_upload(srv, data, 100_000)
    hs = [("Content-Length", "150000"), ("Upload-Offset", "100000"), ("Upload-Complete", "?1"),
          ("Content-Type", "application/partial-upload"), *V8]
    disk.slow()
    c = HttpConn(srv.port)
    c.send(build_request("PATCH", loc, hs, body=data[100_000:]))
    disk.wait_held()
    c.close()
    served_meanwhile(srv, HttpConn(srv.port))
    assert not (root / "up.bin").exists()
    disk.release()
    assert wait_for(lambda: (root / "up.bin").exists(), timeout=10)
    assert (root / "up.bin").read_bytes() == data
    r = http_request(srv, "HEAD", loc)
    assert r.header("upload-offset") == "250000" and r.header("upload-complete") == "?1"
