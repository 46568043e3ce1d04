"""ferry serve --upload --auth: the rights gate decides on the object the
kernel acts on, not on the request's spelling of its path. Symbolic links
planted beneath the root at every place a right is decided: as a parent of
a write (PUT new and overwriting, DELETE, MKCOL, a resumable upload's
creation and append), as a folder that is listed or tar'd, as a folder's
index page, as a listing's entry, as the final name of a write, as the raw
protocol's name. Every refusal is a 403 that changes nothing on disk and
leaves the keep-alive connection good for the next request."""
import base64
import io
import os
import re
import subprocess
import tarfile

import pytest

from ferrylib import FERRY, HttpConn, build_request, http_request, raw_fetch

ALICE_RIGHTS = "ro:/,rw:/incoming,no:/secret,no:/pub/private,no:/pub/sub/index.html"
ANON_RIGHTS = "ro:/pub,no:/pub/private"
V8 = [("Upload-Draft-Interop-Version", "8")]
SECRET = b"the secret\n"
INDEX = b"<!DOCTYPE html><title>forbidden page</title>\n"
OLD = b"old\n"


def auth_header(user, password):
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return ("Authorization", f"Basic {token}")


ALICE = auth_header("alice", "alice-pw")


@pytest.fixture(scope="module")
def alice_line():
    """Made once: yescrypt costs tens of ms per hash."""
    r = subprocess.run([FERRY, "passwd", "alice", ALICE_RIGHTS], input="alice-pw\n",
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


@pytest.fixture
def root(tmp_path):
    r = tmp_path / "root"
    for d in ("pub/private", "pub/sub", "secret", "incoming"):
        (r / d).mkdir(parents=True)
    (r / "pub" / "a.txt").write_bytes(b"public a\n")
    (r / "pub" / "private" / "p.txt").write_bytes(b"private p\n")
    (r / "pub" / "sub" / "index.html").write_bytes(INDEX)
    (r / "pub" / "sub" / "f.txt").write_bytes(b"sub f\n")
    (r / "secret" / "s.txt").write_bytes(SECRET)
    (r / "incoming" / "old.txt").write_bytes(OLD)
    os.symlink("..", r / "pub" / "up")                    # a folder link to the root
    os.symlink("../secret/s.txt", r / "pub" / "tosecret")  # a link to a forbidden file
    os.symlink("private/p.txt", r / "pub" / "toprivate")   # and another one
    os.symlink("a.txt", r / "pub" / "alias")              # a link to what alice may read
    os.symlink("../secret", r / "incoming" / "link")       # a writable folder's link out
    os.symlink("../secret/s.txt", r / "incoming" / "flink")
    return r


def serve(start_server, root, tmp_path, *lines):
    auth = tmp_path / "auth"
    auth.write_text("".join(line + "\n" for line in lines))
    return start_server(root, "-q", "--upload", "--auth", str(auth))


@pytest.fixture
def srv(start_server, root, tmp_path, alice_line):
    """alice alone: a user gets the better of its rights and those of "*",
    so "*" would open what alice's no: rules close."""
    return serve(start_server, root, tmp_path, alice_line)


@pytest.fixture
def anon_srv(start_server, root, tmp_path):
    return serve(start_server, root, tmp_path, f"*::{ANON_RIGHTS}")


def tree(root):
    """Everything beneath root, links not followed: path -> content, link
    target or "dir"."""
    out = {}
    for d, dirs, files in os.walk(root):
        for n in dirs + files:
            p = os.path.join(d, n)
            rel = os.path.relpath(p, root)
            if os.path.islink(p):
                out[rel] = "-> " + os.readlink(p)
            elif os.path.isdir(p):
                out[rel] = "dir"
            else:
                with open(p, "rb") as f:
                    out[rel] = f.read()
    return out


def final_response(c, method):
    for _ in range(8):
        r = c.read_response(method)
        if r.status >= 200:
            return r
    raise AssertionError("no final response")


def refused(srv, root, method, target, headers=(), body=b""):
    """Sends one request as alice that must be refused with 403 and change
    nothing on disk; then, on the same connection, a GET that must work."""
    before = tree(root)
    with HttpConn(srv.port) as c:
        hs = [ALICE, *headers]
        if body or method in ("PUT", "POST"):
            hs.append(("Content-Length", str(len(body))))
        c.send(build_request(method, target, hs, body=body))
        r = final_response(c, method)
        assert r.status == 403, r
        assert tree(root) == before
        c.request("GET", "/incoming/old.txt", [ALICE])
        nxt = c.read_response()
        assert (nxt.status, nxt.body) == (200, OLD)
    assert tree(root) == before


def get(srv, target, *headers, method="GET", version="HTTP/1.1"):
    return http_request(srv, method, target, [ALICE, *headers], version=version)


def listed(body):
    """The names of a listing page's rows."""
    return set(re.findall(r'<tr><td><a href="\./([^"/?]+)', body.decode()))


def tar_names(srv, target):
    r = get(srv, target, version="HTTP/1.0")  # the body ends at the close
    assert r.status == 200, r
    with tarfile.open(fileobj=io.BytesIO(r.body)) as t:
        return set(t.getnames())


# ---- defect 1: writes through incoming/link -> ../secret ---------------------------

def test_put_new_through_link_refused(srv, root):
    refused(srv, root, "PUT", "/incoming/link/x", body=b"planted\n")
    assert not (root / "secret" / "x").exists()


def test_put_overwrite_through_link_refused(srv, root):
    refused(srv, root, "PUT", "/incoming/link/s.txt", body=b"overwritten\n")
    assert (root / "secret" / "s.txt").read_bytes() == SECRET


def test_delete_through_link_refused(srv, root):
    refused(srv, root, "DELETE", "/incoming/link/s.txt")
    assert (root / "secret" / "s.txt").read_bytes() == SECRET


def test_mkcol_with_link_as_parent_refused(srv, root):
    refused(srv, root, "MKCOL", "/incoming/link/newdir")
    assert not (root / "secret" / "newdir").exists()


def test_resumable_creation_post_through_link_refused(srv, root):
    refused(srv, root, "POST", "/incoming/link/r.bin", [("Upload-Complete", "?1"), *V8],
            body=b"resumable\n")
    assert not (root / ".ferry-uploads").exists()


def test_resumable_creation_put_incomplete_through_link_refused(srv, root):
    refused(srv, root, "PUT", "/incoming/link/r.bin", [("Upload-Complete", "?0"), *V8],
            body=b"first part\n")
    assert not (root / ".ferry-uploads").exists()


def test_upload_append_with_link_as_parent_refused(srv, root):
    """An upload made in a real folder that is then moved to secret/ and
    replaced by a link to it: its appends and its HEAD are refused."""
    (root / "incoming" / "d").mkdir()
    hs = [ALICE, ("Content-Length", "5"), ("Upload-Complete", "?0"), *V8]
    with HttpConn(srv.port) as c:
        c.send(build_request("POST", "/incoming/d/r.bin", hs, body=b"part1"))
        r = final_response(c, "POST")
    assert r.status == 201, r
    location = r.header("location")
    assert location.startswith("/incoming/d/r.bin?upload=")
    os.rename(root / "incoming" / "d", root / "secret" / "d")
    os.symlink("../secret/d", root / "incoming" / "d")
    body = b"part2"
    refused(srv, root, "PATCH", location,
            [("Upload-Offset", "5"), ("Upload-Complete", "?1"),
             ("Content-Type", "application/partial-upload"), *V8], body=body)
    refused(srv, root, "HEAD", location, V8)
    assert not (root / "secret" / "d" / "r.bin").exists()


def test_put_onto_final_link_replaces_the_link(srv, root):
    """A link as the final name of a PUT is replaced, never written through."""
    r = http_request(srv, "PUT", "/incoming/flink", [ALICE, ("Content-Length", "4")], body=b"new\n")
    assert r.status in (201, 204), r
    assert not os.path.islink(root / "incoming" / "flink")
    assert (root / "incoming" / "flink").read_bytes() == b"new\n"
    assert (root / "secret" / "s.txt").read_bytes() == SECRET


def test_delete_final_link_removes_only_the_link(srv, root):
    r = http_request(srv, "DELETE", "/incoming/flink", [ALICE])
    assert r.status == 204, r
    assert not os.path.lexists(root / "incoming" / "flink")
    assert (root / "secret" / "s.txt").read_bytes() == SECRET


# ---- defect 2: a folder reached through pub/up -> .. --------------------------------

def test_listing_through_folder_link(srv, root):
    r = get(srv, "/pub/up/")
    assert r.status == 200, r
    # The root's entries that the real paths allow: not secret.
    assert listed(r.body) == {"pub", "incoming"}


def test_tar_through_folder_link(srv, root):
    names = tar_names(srv, "/pub/up/?tar")
    assert names == {"up", "up/pub", "up/pub/a.txt", "up/pub/sub", "up/pub/sub/f.txt",
                     "up/incoming", "up/incoming/old.txt"}


def test_tar_leaves_out_links_inside_the_folder(srv, root):
    """Links inside a tar'd folder (to the root, to secret) are never followed."""
    names = tar_names(srv, "/pub/?tar")
    assert names == {"pub", "pub/a.txt", "pub/sub", "pub/sub/f.txt"}


def test_read_through_folder_link_refused(srv, root):
    refused(srv, root, "GET", "/pub/up/secret/s.txt")
    refused(srv, root, "GET", "/pub/up/secret/")


# ---- defect 3: a forbidden index.html ------------------------------------------------

def test_forbidden_index_get_gives_listing(srv, root):
    r = get(srv, "/pub/sub/")
    assert r.status == 200, r
    assert b"forbidden page" not in r.body
    assert listed(r.body) == {"f.txt"}


def test_forbidden_index_head_gives_listing(srv, root):
    with HttpConn(srv.port) as c:
        c.request("HEAD", "/pub/sub/", [ALICE])
        r = c.read_response("HEAD")
        assert r.status == 200, r
        assert r.header("etag") is None  # the index file's would be there
        # the listing's framing (a streamed page), not the index file's length
        assert r.header("content-length") is None
        assert r.header("transfer-encoding") == "chunked"
        c.request("GET", "/pub/sub/", [ALICE])
        page = c.read_response()
    assert listed(page.body) == {"f.txt"}


def test_forbidden_index_range_gives_listing(srv, root):
    r = get(srv, "/pub/sub/", ("Range", "bytes=0-3"))
    assert r.status == 200, r
    assert b"forbidden page" not in r.body and r.header("content-range") is None
    assert listed(r.body) == {"f.txt"}


def test_forbidden_index_by_name_refused(srv, root):
    refused(srv, root, "GET", "/pub/sub/index.html")


# ---- defect 4: a link to a forbidden file in a listing --------------------------------

def test_link_to_forbidden_file_not_listed(srv, root):
    r = get(srv, "/pub/")
    assert r.status == 200, r
    assert listed(r.body) == {"a.txt", "alias", "sub", "up"}
    # Nor the sizes of what they point at (secret/s.txt, pub/private/p.txt).
    assert b'data-bytes="11"' not in r.body and b'data-bytes="10"' not in r.body


def test_link_to_forbidden_file_refused(srv, root):
    refused(srv, root, "GET", "/pub/tosecret")


# ---- the raw protocol (no credentials: the rights of "*") ------------------------------

def test_raw_name_through_links_refused(anon_srv):
    assert raw_fetch(anon_srv, b"pub/a.txt\n") == b"public a\n"
    assert raw_fetch(anon_srv, b"pub/toprivate\n") == b""
    assert raw_fetch(anon_srv, b"pub/up/secret/s.txt\n") == b""
    assert raw_fetch(anon_srv, b"pub/up/pub/private/p.txt\n") == b""


def test_anonymous_listing_leaves_out_links_it_may_not_follow(anon_srv):
    """"*" may read /pub only: pub/up -> .. is the root, which it may not
    read, so it is refused and left out of pub's listing, as are the links
    to secret/ and pub/private/."""
    r = http_request(anon_srv, "GET", "/pub/")
    assert r.status == 200, r
    assert listed(r.body) == {"a.txt", "alias", "sub"}
    with HttpConn(anon_srv.port) as c:
        c.request("GET", "/pub/up/")
        assert c.read_response().status == 403
        c.request("GET", "/pub/alias")
        assert c.read_response().body == b"public a\n"


# ---- without --auth nothing changes ------------------------------------------------------

def test_without_auth_links_beneath_root_still_work(start_server, root):
    s = start_server(root, "-q", "--upload")
    r = http_request(s, "GET", "/pub/up/secret/s.txt")
    assert (r.status, r.body) == (200, SECRET)
    r = http_request(s, "PUT", "/incoming/link/x", [("Content-Length", "3")], body=b"ok\n")
    assert r.status == 201, r
    assert (root / "secret" / "x").read_bytes() == b"ok\n"
    r = http_request(s, "GET", "/pub/sub/")
    assert (r.status, r.body) == (200, INDEX)
