"""GET /dir/?zip: one streaming, stored zip of a folder (the walker ?tar
uses, the zip format), read back with Python's zipfile, `unzip` and
`bsdtar` and compared byte for byte with the tree. Names are UTF-8 (flag
bit 11), every entry has a DOS time and the extended timestamp, files have
data descriptors, and a file of more than 4 GiB (sparse) or more than
65534 entries make a zip64 archive. Links, hidden names and what an
account may not read are left out, as with ?tar."""
import base64
import io
import os
import socket
import struct
import subprocess
import time
import zipfile

import pytest

from ferrylib import FERRY, HttpConn, build_request, connect, http_request, need_tool, recv_until_close
from test_tar import tree_files  # the tree as the server archives it: links, hidden names left out

GIB = 1 << 30


@pytest.fixture
def root(tmp_path):
    r = tmp_path / "root"
    r.mkdir()
    t = r / "tree"
    t.mkdir()
    (t / "a.txt").write_bytes(b"alpha\n")
    (t / "empty.bin").write_bytes(b"")
    (t / "big.bin").write_bytes(os.urandom(3_000_001))
    (t / "sp ace & <odd>.txt").write_bytes(b"odd name")
    (t / "caf\u00e9 \u65e5\u672c.txt").write_bytes(b"utf-8 name")
    (t / "sub dir" / "deeper").mkdir(parents=True)
    (t / "sub dir" / "deeper" / "d.txt").write_bytes(b"deep")
    (t / "emptydir").mkdir()
    (t / ".hidden").write_bytes(b"hidden")
    (tmp_path / "secret").mkdir()
    (tmp_path / "secret" / "passwords").write_bytes(b"SECRET-OUTSIDE")
    os.symlink(tmp_path / "secret", t / "dirlink_out")
    os.symlink(tmp_path / "secret" / "passwords", t / "link_out")
    os.symlink("a.txt", t / "link_in")
    os.mkfifo(t / "fifo")
    old = 1_000_000_000  # 2001-09-09 01:46:40 UTC
    os.utime(t / "a.txt", (old, old))
    return r


def want_names(d, folder):
    files, dirs = tree_files(d)
    return ({os.path.normpath(f"{folder}/{x}") + "/" for x in dirs}
            | {f"{folder}/{f}" for f in files})


def get_zip(srv, target, headers=None):
    """The body of a GET of target over HTTP/1.0 (it ends with the close)."""
    r = http_request(srv, "GET", target, headers, version="HTTP/1.0")
    assert r.status == 200, r
    return r


def check_zip(data, d, folder):
    """data read by zipfile: the names, bytes, flags and times of tree d."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert z.testzip() is None  # every CRC checked
        infos = {i.filename: i for i in z.infolist()}
        assert set(infos) == want_names(d, folder)
        files, _ = tree_files(d)
        for f, content in files.items():
            i = infos[f"{folder}/{f}"]
            assert z.read(i) == content, f
            assert i.compress_type == zipfile.ZIP_STORED and i.compress_size == len(content)
            assert i.flag_bits & 0x0808 == 0x0808, f  # a data descriptor, a UTF-8 name
            st = os.stat(d / f)
            assert i.date_time == time.localtime(st.st_mtime)[:5] + (time.localtime(st.st_mtime)[5] // 2 * 2,)
            ut = extra_field(i.extra, 0x5455)
            assert ut[0] == 1 and struct.unpack("<i", ut[1:5])[0] == int(st.st_mtime)
            assert (i.external_attr >> 16) & 0o170777 == st.st_mode & 0o170777
        for name, i in infos.items():
            assert not name.startswith("/") and ".." not in name.split("/"), name
            if name.endswith("/"):
                assert i.is_dir() and i.flag_bits & 0x0800 and i.file_size == 0
                assert (i.external_attr >> 16) & 0o170000 == 0o040000
    return infos


def extra_field(extra, tag):
    pos = 0
    while pos + 4 <= len(extra):
        t, n = struct.unpack_from("<HH", extra, pos)
        if t == tag:
            return extra[pos + 4:pos + 4 + n]
        pos += 4 + n
    raise AssertionError(f"no extra field {tag:#x} in {extra!r}")


def test_zip_headers(start_server, root):
    srv = start_server(root, "-q")
    with HttpConn(srv.port, timeout=30) as c:
        c.send(build_request("GET", "/tree/?zip"))
        r = c.read_response()
    assert r.status == 200
    assert r.header("content-type") == "application/zip"
    assert r.header("content-disposition") == "attachment; filename=\"tree.zip\"; filename*=UTF-8''tree.zip"
    assert r.header("transfer-encoding") == "chunked" and r.header("content-length") is None
    check_zip(r.body, root / "tree", "tree")


def test_zip_http10_ends_with_close(start_server, root):
    srv = start_server(root, "-q")
    r = get_zip(srv, "/tree/?zip")
    assert r.header("transfer-encoding") is None and r.header("connection") == "close"
    check_zip(r.body, root / "tree", "tree")


def test_zip_utf8_and_space_names(start_server, root):
    srv = start_server(root, "-q")
    data = get_zip(srv, "/tree/?zip").body
    infos = check_zip(data, root / "tree", "tree")
    for name in ("tree/caf\u00e9 \u65e5\u672c.txt", "tree/sp ace & <odd>.txt", "tree/sub dir/deeper/d.txt"):
        assert name in infos and infos[name].flag_bits & 0x0800
        assert name.encode() in data  # stored as UTF-8, not cp437


def test_zip_dos_time_and_extended_timestamp(start_server, root):
    srv = start_server(root, "-q")
    infos = check_zip(get_zip(srv, "/tree/?zip").body, root / "tree", "tree")
    lt = time.localtime(1_000_000_000)
    assert infos["tree/a.txt"].date_time == lt[:5] + (lt[5] // 2 * 2,)
    assert struct.unpack("<i", extra_field(infos["tree/a.txt"].extra, 0x5455)[1:5])[0] == 1_000_000_000


def test_zip_tested_by_unzip(start_server, root, tmp_path):
    unzip = need_tool("unzip")
    srv = start_server(root, "-q")
    (tmp_path / "t.zip").write_bytes(get_zip(srv, "/tree/?zip").body)
    r = subprocess.run([unzip, "-t", str(tmp_path / "t.zip")], capture_output=True, timeout=60)
    assert r.returncode == 0 and b"No errors detected" in r.stdout, r.stdout + r.stderr
    out = tmp_path / "x"
    r = subprocess.run([unzip, "-q", str(tmp_path / "t.zip"), "-d", str(out)], capture_output=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    assert tree_files(out / "tree") == tree_files(root / "tree")
    assert os.stat(out / "tree" / "a.txt").st_mtime == 1_000_000_000  # from the extended timestamp


@pytest.mark.parametrize("how", ["file", "stream"])
def test_zip_read_by_bsdtar(start_server, root, tmp_path, how):
    # "stream": libarchive's streaming reader, which finds each file's end
    # by its data descriptor rather than the central directory.
    bsdtar = need_tool("bsdtar")
    srv = start_server(root, "-q")
    data = get_zip(srv, "/tree/?zip").body
    out = tmp_path / "x"
    out.mkdir()
    if how == "file":
        (tmp_path / "t.zip").write_bytes(data)
        r = subprocess.run([bsdtar, "-xf", str(tmp_path / "t.zip"), "-C", str(out)],
                           capture_output=True, timeout=60)
    else:
        r = subprocess.run([bsdtar, "-xf", "-", "-C", str(out)], input=data, capture_output=True,
                           timeout=60)
    assert r.returncode == 0, r.stderr
    assert tree_files(out / "tree") == tree_files(root / "tree")


def test_zip_does_not_leak_symlinks_or_hidden(start_server, root):
    srv = start_server(root, "-q")
    data = get_zip(srv, "/tree/?zip").body
    assert b"SECRET-OUTSIDE" not in data and b"secret" not in data and b".hidden" not in data
    names = set(zipfile.ZipFile(io.BytesIO(data)).namelist())
    for n in ("dirlink_out", "link_out", "link_in", "fifo"):
        assert f"tree/{n}" not in names and f"tree/{n}/" not in names


def test_zip_of_the_root_is_named_after_the_served_folder(start_server, tmp_path):
    share = tmp_path / "My Share \u00e9"
    (share / "d").mkdir(parents=True)
    (share / "d" / "f.txt").write_bytes(b"f")
    srv = start_server(share, "-q")
    r = get_zip(srv, "/?zip")
    assert r.header("content-disposition") == (
        "attachment; filename=\"My Share __.zip\"; filename*=UTF-8''My%20Share%20%C3%A9.zip")  # each non-ASCII byte a _
    assert "My Share \u00e9/d/f.txt" in zipfile.ZipFile(io.BytesIO(r.body)).namelist()


def test_zip_keeps_the_connection(start_server, root):
    srv = start_server(root, "-q")
    with HttpConn(srv.port, timeout=30) as c:
        c.send(build_request("GET", "/tree/sub%20dir/?zip"))
        first = c.read_response()
        assert first.status == 200
        assert zipfile.ZipFile(io.BytesIO(first.body)).namelist() == [
            "sub dir/", "sub dir/deeper/", "sub dir/deeper/d.txt"]
        c.send(build_request("GET", "/tree/a.txt"))
        assert c.read_response().body == b"alpha\n"
        c.send(build_request("HEAD", "/tree/?zip"))
        r = c.read_response("HEAD")
        assert r.status == 200 and r.header("content-type") == "application/zip" and r.body == b""
        c.send(build_request("GET", "/tree/a.txt"))
        assert c.read_response().body == b"alpha\n"


def test_zip_other_queries_are_the_listing(start_server, root):
    srv = start_server(root, "-q")
    for q in ("?zip=1", "?ZIP", "?zipx", "?x&zip"):
        r = http_request(srv, "GET", "/tree/" + q)
        assert r.status == 200 and r.header("content-type").startswith("text/html"), q
    assert http_request(srv, "GET", "/tree?zip").status == 301


def test_zip_client_cut_mid_archive_leaves_server_serving(start_server, root):
    srv = start_server(root, "-q")
    for _ in range(3):
        s = connect(srv.port, rcvbuf=4096, timeout=30)
        s.sendall(build_request("GET", "/tree/?zip"))
        assert s.recv(4096).startswith(b"HTTP/1.1 200")
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()  # a reset, in the middle of big.bin
    check_zip(get_zip(srv, "/tree/?zip").body, root / "tree", "tree")
    assert srv.returncode is None


# ---- rights ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def bob_line():
    """Made once: yescrypt costs tens of ms per hash."""
    r = subprocess.run([FERRY, "passwd", "bob", "ro:/pub,no:/pub/private"], input="bob-pw\n",
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_zip_leaves_out_what_the_user_may_not_read(start_server, tmp_path, bob_line):
    r = tmp_path / "shared"
    for d in ("pub/private", "pub/open", "secret"):
        (r / d).mkdir(parents=True)
    (r / "pub" / "open" / "o.txt").write_bytes(b"open\n")
    (r / "pub" / "private" / "p.txt").write_bytes(b"PRIVATE-P\n")
    (r / "secret" / "s.txt").write_bytes(b"SECRET-S\n")
    os.symlink("../secret", r / "pub" / "open" / "tosecret")  # planted: a folder bob may not read
    os.symlink("..", r / "pub" / "up")                       # and the root itself
    auth = tmp_path / "auth"
    auth.write_text(bob_line + "\n")
    srv = start_server(r, "-q", "--auth", str(auth))
    bob = ("Authorization", "Basic " + base64.b64encode(b"bob:bob-pw").decode())
    data = get_zip(srv, "/pub/?zip", [bob]).body
    names = set(zipfile.ZipFile(io.BytesIO(data)).namelist())
    assert names == {"pub/", "pub/open/", "pub/open/o.txt"}, names
    assert b"PRIVATE-P" not in data and b"SECRET-S" not in data
    # Through the link to the root, which bob may not read: refused, as
    # the forbidden folder is by its own name.
    assert http_request(srv, "GET", "/pub/up/?zip", [bob]).status == 403
    for q in ("?zip", "?tar"):  # refused alike (the gate's answer for a link out of its rights)
        r = http_request(srv, "GET", "/pub/open/tosecret/" + q, [bob])
        assert r.status == 404 and b"SECRET-S" not in r.body, q
    assert http_request(srv, "GET", "/secret/?zip", [bob]).status == 403


# ---- zip64 -----------------------------------------------------------------------------

def fetch_sparse(srv, target, path, timeout=300):
    """GETs target with curl into the file path through dd, which leaves
    runs of zero bytes as holes: a 4 GiB zip of a sparse file costs no
    disk, and no Python loop over its bytes."""
    curl, dd = need_tool("curl"), need_tool("dd")
    r = subprocess.run(f"set -o pipefail; '{curl}' -sSf '{srv.url}{target.lstrip('/')}' | "
                       f"'{dd}' of='{path}' bs=1M iflag=fullblock conv=sparse status=none",
                       shell=True, executable="/bin/bash", capture_output=True, timeout=timeout)
    assert r.returncode == 0, r.stderr


def test_zip64_file_over_4gib(start_server, tmp_path):
    r = tmp_path / "r"
    (r / "big").mkdir(parents=True)
    huge = r / "big" / "huge.bin"
    with open(huge, "wb") as f:
        f.write(b"head")
        f.truncate(4 * GIB + 4096)  # a hole: past 0xFFFFFFFF bytes
        f.seek(0, os.SEEK_END)
        f.write(b"tail")
    (r / "big" / "after.txt").write_bytes(b"after the big one")
    size = huge.stat().st_size
    srv = start_server(r, "-q")
    out = tmp_path / "big.zip"
    fetch_sparse(srv, "/big/?zip", out)
    with zipfile.ZipFile(out) as z:
        i = z.getinfo("big/huge.bin")
        assert i.file_size == size and i.compress_size == size and i.extract_version == 45
        assert len(extra_field(i.extra, 0x0001)) >= 16  # zip64 sizes in the central record
        after = z.getinfo("big/after.txt")
        assert z.read(after) == b"after the big one"
        with z.open(i) as f:  # reads to the end: the CRC is checked there
            assert f.read(4) == b"head"
            n = 4
            while True:
                b = f.read(16 << 20)
                if not b:
                    break
                n += len(b)
                last = b
        assert n == size and last.endswith(b"tail")
    # The local header says zip64 too, and the data descriptor's sizes are 8 bytes.
    with open(out, "rb") as f:
        f.seek(i.header_offset)
        local = f.read(30 + len("big/huge.bin") + 29)
        assert local[:4] == b"PK\x03\x04" and struct.unpack_from("<II", local, 18) == (0xFFFFFFFF,) * 2
        f.seek(i.header_offset + len(local) + size)
        desc = f.read(24)
        assert struct.unpack("<IIQQ", desc) == (0x08074B50, i.CRC, size, size)


def test_zip64_more_than_65534_entries(start_server, tmp_path):
    r = tmp_path / "r"
    many = r / "many"
    for d in range(14):
        (many / f"d{d}").mkdir(parents=True)
        for k in range(5000):
            (many / f"d{d}" / f"{k}").touch()
    srv = start_server(r, "-q")
    with HttpConn(srv.port, timeout=120) as c:
        c.send(build_request("GET", "/many/?zip"))
        body = c.read_response(timeout=120).body
    assert body[-22:-18] == b"PK\x05\x06" and struct.unpack_from("<H", body, len(body) - 12)[0] == 0xFFFF
    assert body[-42:-38] == b"PK\x06\x07"  # the zip64 locator
    with zipfile.ZipFile(io.BytesIO(body)) as z:
        names = z.namelist()
        assert len(names) == 1 + 14 + 14 * 5000
        assert "many/d13/4999" in names and z.read("many/d0/0") == b""


@pytest.mark.parametrize("change", ["grow", "shrink"])
def test_zip_file_changing_size_keeps_framing_and_crc(start_server, root, change):
    # The reader is slow (a small receive buffer), so the file changes while
    # its bytes are sent: the size at open wins, cut or padded with zero
    # bytes, and the CRC is that of the bytes sent, so the zip still tests.
    srv = start_server(root, "-q")
    path = root / "tree" / "big.bin"
    orig = path.read_bytes()
    s = connect(srv.port, rcvbuf=4096, timeout=30)
    try:
        s.sendall(build_request("GET", "/tree/?zip", version="HTTP/1.0"))
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
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert z.testzip() is None
        body = z.read("tree/big.bin")
        assert z.read("tree/a.txt") == b"alpha\n"  # entries after it are intact
    assert len(body) == len(orig)
    if change == "grow":
        assert body == orig
    else:
        kept = len(body.rstrip(b"\0"))
        assert kept >= 1000 and body[:kept] == orig[:kept]
