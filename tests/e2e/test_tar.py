"""GET /dir/?tar: one streaming ustar/pax archive of a folder, read back
with Python's tarfile and with `tar -t`, compared with the tree. Links
leading out of the root (or anywhere) are never followed or stored, hidden
names follow --hidden, and a file that changes size while it is sent
keeps the archive's framing."""
import hashlib
import io
import os
import subprocess
import tarfile
import threading
import time

import pytest

from ferrylib import HttpConn, build_request, connect, http_request, recv_until_close

LONG = "l" * 120 + "/" + "m" * 140 + ".txt"  # needs a pax path record


@pytest.fixture
def root(tmp_path):
    r = tmp_path / "root"
    r.mkdir()
    t = r / "tree"
    t.mkdir()
    (t / "a.txt").write_bytes(b"alpha\n")
    (t / "empty.bin").write_bytes(b"")
    (t / "block.bin").write_bytes(os.urandom(512))
    (t / "big.bin").write_bytes(os.urandom(3_000_001))
    (t / "sp ace & <odd>.txt").write_bytes(b"odd name")
    (t / "caf\u00e9.txt").write_bytes(b"utf-8 name")
    (t / "sub" / "deeper").mkdir(parents=True)
    (t / "sub" / "deeper" / "d.txt").write_bytes(b"deep")
    (t / "emptydir").mkdir()
    os.makedirs(t / os.path.dirname(LONG))
    (t / LONG).write_bytes(b"long name")
    (t / ".hidden").write_bytes(b"hidden")
    (t / ".hdir").mkdir()
    (t / ".hdir" / "x").write_bytes(b"in hidden dir")
    (tmp_path / "secret").mkdir()
    (tmp_path / "secret" / "passwords").write_bytes(b"SECRET-OUTSIDE")
    os.symlink(tmp_path / "secret", t / "dirlink_out")
    os.symlink(tmp_path / "secret" / "passwords", t / "link_out")
    os.symlink("../../secret/passwords", t / "rel_link_out")
    os.symlink("a.txt", t / "link_in")
    os.mkfifo(t / "fifo")
    return r


def tree_files(d, hidden=False):
    """{relative path: bytes} of regular files, and the set of directories."""
    files, dirs = {}, set()
    for cur, ds, fs in os.walk(d):
        ds[:] = [x for x in ds if (hidden or not x.startswith(".")) and not os.path.islink(os.path.join(cur, x))]
        rel = os.path.relpath(cur, d)
        dirs.add(rel)
        for f in fs:
            p = os.path.join(cur, f)
            if (not hidden and f.startswith(".")) or os.path.islink(p) or not os.path.isfile(p):
                continue
            files[os.path.normpath(os.path.join(rel, f))] = open(p, "rb").read()
    return files, dirs


def read_chunked(c, deadline_s=30):
    """Reads one chunked body off HttpConn c (its framing kept); returns it."""
    deadline = time.monotonic() + deadline_s
    for _ in range(1 << 20):
        try:
            dechunk(bytes(c.buf))
            break
        except (ValueError, AssertionError):
            pass
        if not c._fill(deadline):
            raise ConnectionError("closed inside a chunked body")
    else:
        raise AssertionError("chunked body never ended")
    body = bytes(c.buf)
    c.buf.clear()
    return body


def get_tar(srv, target, version="HTTP/1.1", conn=None):
    """The response to a GET of target; a chunked body comes with its framing."""
    c = conn or HttpConn(srv.port, srv.host, 30)
    try:
        c.send(build_request("GET", target, version=version))
        if version == "HTTP/1.0":
            r = c.read_response()
            r.body += c.rest_until_close(30)
            return r
        r = c.read_response("HEAD")  # the head only; the body is ours to read
        r.body = read_chunked(c)
        return r
    finally:
        if conn is None:
            c.close()


def dechunk(body):
    """The payload of a whole chunked body; ValueError when it is not whole."""
    out, pos = bytearray(), 0
    while True:
        eol = body.index(b"\r\n", pos)
        n = int(body[pos:eol], 16)
        pos = eol + 2
        if n == 0:
            if body[pos:] != b"\r\n":
                raise ValueError("incomplete, or bytes after the last chunk")
            return bytes(out)
        if len(body) < pos + n + 2:
            raise ValueError("incomplete")
        out += body[pos:pos + n]
        assert body[pos + n:pos + n + 2] == b"\r\n"
        pos += n + 2


def members(data):
    with tarfile.open(fileobj=io.BytesIO(data)) as t:
        out = {}
        for m in t.getmembers():
            out[m.name] = (m, t.extractfile(m).read() if m.isfile() else None)
        return out


def check_archive(data, root, folder, hidden=False):
    files, dirs = tree_files(root / "tree", hidden)
    got = members(data)
    want_names = {os.path.normpath(f"{folder}/{d}") for d in dirs} | {f"{folder}/{f}" for f in files}
    assert set(got) == want_names
    for f, content in files.items():
        m, body = got[f"{folder}/{f}"]
        assert m.isfile() and body == content, f
    for d in dirs:
        assert got[os.path.normpath(f"{folder}/{d}")][0].isdir()
    for name, (m, _) in got.items():
        assert not m.issym() and not m.islnk(), name
        assert not name.startswith("/") and ".." not in name.split("/"), name
        assert m.uid == 0 and m.gid == 0 and m.uname == "" and m.gname == ""


def test_tar_headers(start_server, root):
    srv = start_server(root, "-q")
    r = get_tar(srv, "/tree/?tar")
    assert r.status == 200
    assert r.header("content-type") == "application/x-tar"
    assert r.header("content-disposition") == "attachment; filename=\"tree.tar\"; filename*=UTF-8''tree.tar"
    assert r.header("transfer-encoding") == "chunked"
    assert r.header("content-length") is None


def test_tar_content_with_tarfile(start_server, root):
    srv = start_server(root, "-q")
    r = get_tar(srv, "/tree/?tar")
    check_archive(dechunk(r.body), root, "tree")


def test_tar_long_name_in_pax(start_server, root):
    srv = start_server(root, "-q")
    data = dechunk(get_tar(srv, "/tree/?tar").body)
    with tarfile.open(fileobj=io.BytesIO(data)) as t:
        m = t.getmember("tree/" + LONG)
        assert t.extractfile(m).read() == b"long name"
    assert b"path=tree/" + LONG.encode() + b"\n" in data


def test_tar_listed_by_gnu_tar(start_server, root, tmp_path):
    srv = start_server(root, "-q")
    data = dechunk(get_tar(srv, "/tree/?tar").body)
    (tmp_path / "t.tar").write_bytes(data)
    r = subprocess.run(["tar", "-tf", str(tmp_path / "t.tar")], capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    listed = {n.rstrip("/") for n in r.stdout.decode().splitlines()}
    files, dirs = tree_files(root / "tree")
    assert listed == {os.path.normpath(f"tree/{d}") for d in dirs} | {f"tree/{f}" for f in files}
    out = tmp_path / "x"
    out.mkdir()
    r = subprocess.run(["tar", "-xf", str(tmp_path / "t.tar"), "-C", str(out)], capture_output=True,
                       timeout=30)
    assert r.returncode == 0, r.stderr
    assert tree_files(out / "tree") == (files, dirs)


def test_tar_does_not_leak_symlinks_out_of_the_root(start_server, root):
    srv = start_server(root, "-q")
    data = dechunk(get_tar(srv, "/tree/?tar").body)
    assert b"SECRET-OUTSIDE" not in data
    assert b"secret" not in data
    names = set(members(data))
    for n in ("dirlink_out", "link_out", "rel_link_out", "link_in", "fifo"):
        assert f"tree/{n}" not in names


def test_tar_of_the_root(start_server, root):
    srv = start_server(root, "-q")
    r = get_tar(srv, "/?tar")
    assert 'filename="root.tar"' in r.header("content-disposition")  # the served folder is "root"
    names = set(members(dechunk(r.body)))
    assert "root/tree/a.txt" in names and "root" in names


def test_tar_of_the_root_is_named_after_the_served_folder(start_server, root, tmp_path):
    """Not "root": the whole share's archive takes the served folder's name."""
    share = tmp_path / "holiday photos"
    os.rename(root, share)
    srv = start_server(share, "-q")
    r = get_tar(srv, "/?tar")
    assert r.header("content-disposition") == (
        "attachment; filename=\"holiday photos.tar\"; filename*=UTF-8''holiday%20photos.tar")
    names = set(members(dechunk(r.body)))
    assert "holiday photos/tree/a.txt" in names and "holiday photos" in names
    assert not any(n == "root" or n.startswith("root/") for n in names)


def test_tar_of_the_root_served_as_dot(start_server, root):
    """"ferry serve ." names the archive after the real folder, not "."."""
    sub = root / "tree" / "sub"
    srv = start_server(".", "-q", preexec_fn=lambda: os.chdir(sub))
    r = get_tar(srv, "/?tar")
    assert 'filename="sub.tar"' in r.header("content-disposition")
    assert "sub/deeper/d.txt" in set(members(dechunk(r.body)))


def test_tar_hidden_only_with_option(start_server, root):
    srv = start_server(root, "-q", "--hidden")
    data = dechunk(get_tar(srv, "/tree/?tar").body)
    check_archive(data, root, "tree", hidden=True)
    assert "tree/.hdir/x" in members(data)


def test_tar_of_a_hidden_folder_404(start_server, root):
    srv = start_server(root, "-q")
    assert http_request(srv, "GET", "/tree/.hdir/?tar").status == 404


def test_tar_http10_ends_with_close(start_server, root):
    srv = start_server(root, "-q")
    r = get_tar(srv, "/tree/?tar", version="HTTP/1.0")
    assert r.header("transfer-encoding") is None and r.header("connection") == "close"
    check_archive(r.body, root, "tree")


def test_tar_head_sends_no_body(start_server, root):
    srv = start_server(root, "-q")
    with HttpConn(srv.port) as c:
        c.send(build_request("HEAD", "/tree/?tar"))
        r = c.read_response("HEAD")
        assert r.status == 200 and r.header("content-type") == "application/x-tar"
        c.send(build_request("GET", "/tree/a.txt"))  # the connection is still in step
        assert c.read_response().body == b"alpha\n"


def test_tar_keeps_the_connection(start_server, root):
    srv = start_server(root, "-q")
    with HttpConn(srv.port, timeout=30) as c:
        first = get_tar(srv, "/tree/sub/?tar", conn=c)
        assert set(members(dechunk(first.body))) == {"sub", "sub/deeper", "sub/deeper/d.txt"}
        c.send(build_request("GET", "/tree/a.txt"))
        assert c.read_response().body == b"alpha\n"


def test_tar_without_trailing_slash_redirects(start_server, root):
    srv = start_server(root, "-q")
    r = http_request(srv, "GET", "/tree?tar")
    assert r.status == 301 and r.header("location") == "/tree/"


def test_tar_other_queries_are_the_listing(start_server, root):
    srv = start_server(root, "-q")
    for q in ("?tar=1", "?TAR", "?tarx", "?x&tar"):
        r = http_request(srv, "GET", "/tree/" + q)
        assert r.status == 200 and r.header("content-type").startswith("text/html"), q


@pytest.mark.parametrize("change", ["grow", "shrink"])
def test_tar_file_changing_size_keeps_framing(start_server, root, change):
    # The reader is slow (a small receive buffer), so the file changes while
    # its bytes are being sent: the header's size wins, padded or cut.
    srv = start_server(root, "-q")
    path = root / "tree" / "big.bin"
    orig = path.read_bytes()
    s = connect(srv.port, rcvbuf=4096, timeout=30)
    try:
        s.sendall(build_request("GET", "/tree/?tar", version="HTTP/1.0"))
        s.settimeout(30)
        head = s.recv(2048)
        assert head.startswith(b"HTTP/1.1 200")
        time.sleep(0.5)
        if change == "grow":
            with open(path, "ab") as f:
                f.write(os.urandom(1_000_000))
        else:
            os.truncate(path, 1000)
        rest = recv_until_close(s, 60)
    finally:
        s.close()
    data = (head + rest).split(b"\r\n\r\n", 1)[1]
    got = members(data)  # parses: the framing held
    m, body = got["tree/big.bin"]
    assert m.size == len(orig) and len(body) == len(orig)
    if change == "grow":
        assert body == orig
    else:
        # What was read before the cut, then zero bytes up to the promised size.
        kept = len(body.rstrip(b"\0"))
        assert kept >= 1000 and body[:kept] == orig[:kept]
    assert got["tree/a.txt"][1] == b"alpha\n"  # members after it are intact
