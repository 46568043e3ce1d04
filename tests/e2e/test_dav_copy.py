"""COPY and MOVE (RFC 4918 §9.8, §9.9) against `ferry serve --upload`, and
DELETE of a whole folder (§9.6.1) (litmus's own `copymove` suite runs in
test_litmus.py): the hostile cases one by one, each checked on disk
(nothing changed where it must not be) and each followed by another
request on the same connection.

A link inside a copied tree is copied as a link (the same target text) and
never followed, so a loop of links cannot make the copy recurse, and what
the copied link leads to is decided again on its real path when it is
used."""
import os
import select
import subprocess
import time

import pytest

from ferrylib import FERRY
from test_rights import auth_header

SRC = b"the source\n"
OLD = b"the old content\n"
ALICE_RIGHTS = "ro:/,rw:/incoming,no:/secret,no:/pub/private,ro:/incoming/keep,ro:/incoming/t/locked"
ALICE = auth_header("alice", "alice-pw")


@pytest.fixture(scope="module")
def alice_line():
    r = subprocess.run([FERRY, "passwd", "alice", ALICE_RIGHTS], input="alice-pw\n",
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


@pytest.fixture
def root(tmp_path):
    r = tmp_path / "root"
    for d in ("tree/sub/deep", "loop", "pub/private", "secret", "incoming/keep",
              "incoming/t/inner", "incoming/t/locked"):
        (r / d).mkdir(parents=True)
    (r / "src.txt").write_bytes(SRC)
    (r / "old.txt").write_bytes(OLD)
    (r / "tree" / "a.txt").write_bytes(b"a\n")
    (r / "tree" / "sub" / "b.txt").write_bytes(b"b\n")
    (r / "tree" / "sub" / "deep" / "c.txt").write_bytes(b"c\n")
    os.setxattr(r / "tree" / "a.txt", "user.prop", b"dead property")
    (r / "loop" / "f.txt").write_bytes(b"f\n")
    os.symlink(".", r / "loop" / "self")
    os.symlink("..", r / "loop" / "up")
    os.symlink("../loop", r / "loop" / "again")
    os.symlink("tree", r / "treelink")               # a link beneath the root to a folder
    os.symlink("../outside", r / "escape")           # a link out of the root
    (r / "pub" / "a.txt").write_bytes(b"public a\n")
    (r / "pub" / "private" / "p.txt").write_bytes(b"private p\n")
    (r / "secret" / "s.txt").write_bytes(b"secret\n")
    (r / "incoming" / "old.txt").write_bytes(OLD)
    (r / "incoming" / "keep" / "k.txt").write_bytes(b"keep\n")
    (r / "incoming" / "t" / "inner" / "i.txt").write_bytes(b"i\n")
    (r / "incoming" / "t" / "locked" / "l.txt").write_bytes(b"l\n")
    os.symlink("../secret", r / "incoming" / "link")  # a writable folder's link to a forbidden one
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "victim.txt").write_bytes(b"victim\n")
    return r


@pytest.fixture
def srv(start_server, root):
    return start_server(root, "-q", "--upload")


@pytest.fixture
def asrv(start_server, root, tmp_path, alice_line):
    auth = tmp_path / "auth"
    auth.write_text(alice_line + "\n")
    return start_server(root, "-q", "--upload", "--auth", str(auth))


def snapshot(top):
    """Every path under top with its content, link text or "dir"."""
    out = {}
    for d, dirs, files in os.walk(top):
        for n in dirs + files:
            p = os.path.join(d, n)
            out[os.path.relpath(p, top)] = (
                "->" + os.readlink(p) if os.path.islink(p) else
                open(p, "rb").read() if os.path.isfile(p) else "dir")
    return out


def dest(srv, path):
    return ("Destination", f"http://127.0.0.1:{srv.port}{path}")


def ask(conn, method, target, *headers):
    """One request on conn, with the Host a browser sends (with the port)."""
    host = ("Host", f"127.0.0.1:{conn.sock.getpeername()[1]}")
    conn.request(method, target, [host, *headers])
    return conn.read_response(method)


def still_serves(conn):
    """The connection answers the next request right."""
    r = ask(conn, "GET", "/src.txt")
    assert r.status == 200 and r.body == SRC, r


# ---- what works -------------------------------------------------------------------


def test_copy_file_201_then_overwrite_204(srv, root):
    with srv.http() as c:
        r = ask(c, "COPY", "/src.txt", dest(srv, "/new.txt"))
        assert r.status == 201, r
        assert (root / "new.txt").read_bytes() == SRC
        r = ask(c, "COPY", "/src.txt", dest(srv, "/old.txt"), ("Overwrite", "T"))
        assert r.status == 204, r
        assert (root / "old.txt").read_bytes() == SRC
        assert (root / "src.txt").read_bytes() == SRC
        still_serves(c)
    assert not [n for n in os.listdir(root) if n.startswith(".ferry")]


def test_copy_destination_as_absolute_path(srv, root):
    with srv.http() as c:
        assert ask(c, "COPY", "/src.txt", ("Destination", "/pathonly.txt")).status == 201
    assert (root / "pathonly.txt").read_bytes() == SRC


def test_copy_tree_with_xattrs(srv, root):
    with srv.http() as c:
        r = ask(c, "COPY", "/tree/", dest(srv, "/copy/"))
        assert r.status == 201, r
        still_serves(c)
    assert snapshot(root / "copy") == snapshot(root / "tree")
    assert os.getxattr(root / "copy" / "a.txt", "user.prop") == b"dead property"


def test_copy_tree_depth_0_makes_an_empty_folder(srv, root):
    with srv.http() as c:
        r = ask(c, "COPY", "/tree", dest(srv, "/shallow"), ("Depth", "0"))
        assert r.status == 201, r
    assert os.listdir(root / "shallow") == []


def test_copy_folder_over_file_and_file_over_folder(srv, root):
    with srv.http() as c:
        assert ask(c, "COPY", "/tree", dest(srv, "/old.txt")).status == 204
        assert (root / "old.txt" / "sub" / "b.txt").read_bytes() == b"b\n"
        assert ask(c, "COPY", "/src.txt", dest(srv, "/old.txt")).status == 204
        assert (root / "old.txt").read_bytes() == SRC
    assert (root / "tree" / "sub" / "b.txt").read_bytes() == b"b\n"


def test_move_file_and_tree(srv, root):
    before = snapshot(root / "tree")
    with srv.http() as c:
        assert ask(c, "MOVE", "/src.txt", dest(srv, "/moved.txt")).status == 201
        assert ask(c, "MOVE", "/tree", dest(srv, "/old.txt")).status == 204
        r = ask(c, "GET", "/moved.txt")
        assert r.status == 200 and r.body == SRC
    assert not (root / "src.txt").exists() and not (root / "tree").exists()
    assert snapshot(root / "old.txt") == before


def test_delete_folder_removes_its_tree_not_what_links_lead_to(srv, root, tmp_path):
    outside = snapshot(tmp_path / "outside")
    os.symlink("../../outside", root / "tree" / "sub" / "out")
    with srv.http() as c:
        r = ask(c, "DELETE", "/tree/")
        assert r.status == 204, r
        still_serves(c)
    assert not (root / "tree").exists()
    assert snapshot(tmp_path / "outside") == outside


# ---- hostile cases --------------------------------------------------------------


def test_copy_destination_on_another_host_502(srv, root, tmp_path):
    before = snapshot(tmp_path)
    with srv.http() as c:
        for d in (f"http://example.org:{srv.port}/x", f"http://127.0.0.1:{srv.port + 1}/x",
                  f"https://127.0.0.1:{srv.port}/x", "ftp://127.0.0.1/x"):
            r = ask(c, "COPY", "/src.txt", ("Destination", d))
            assert r.status == 502, (d, r)
            r = ask(c, "MOVE", "/src.txt", ("Destination", d))
            assert r.status == 502, (d, r)
            still_serves(c)
    assert snapshot(tmp_path) == before


def test_copy_destination_above_root_403(srv, root, tmp_path):
    before = snapshot(tmp_path)
    with srv.http() as c:
        for d in (f"http://127.0.0.1:{srv.port}/../outside/x", "/%2e%2e/outside/x",
                  "/tree/../../outside/victim.txt"):
            for m in ("COPY", "MOVE"):
                r = ask(c, m, "/src.txt", ("Destination", d))
                assert r.status == 403, (m, d, r)
                still_serves(c)
    assert snapshot(tmp_path) == before


def test_copy_destination_through_link_out_of_root_403(srv, root, tmp_path):
    before = snapshot(tmp_path)
    with srv.http() as c:
        for m in ("COPY", "MOVE"):
            r = ask(c, m, "/src.txt", dest(srv, "/escape/victim.txt"))
            assert r.status == 403, (m, r)
            r = ask(c, m, "/tree", dest(srv, "/escape/t"))
            assert r.status == 403, (m, r)
            still_serves(c)
    assert snapshot(tmp_path) == before


def test_move_folder_into_itself_403(srv, root):
    before = snapshot(root)
    with srv.http() as c:
        for m, target, d in (("MOVE", "/tree", "/tree/sub/x"), ("MOVE", "/tree/", "/tree/x"),
                             ("COPY", "/tree", "/tree/sub/x"), ("COPY", "/", "/x"),
                             ("MOVE", "/tree/sub", "/tree"), ("COPY", "/tree", "/tree"),
                             ("MOVE", "/src.txt", "/src.txt")):
            r = ask(c, m, target, dest(srv, d))
            assert r.status == 403, (m, target, d, r)
            still_serves(c)
    assert snapshot(root) == before


def test_copy_folder_into_itself_through_a_link_403(srv, root):
    """treelink -> tree: the spelling says apart, the real paths say inside."""
    before = snapshot(root)
    with srv.http() as c:
        for m in ("COPY", "MOVE"):
            r = ask(c, m, "/tree", dest(srv, "/treelink/sub/x"))
            assert r.status == 403, (m, r)
            still_serves(c)
    assert snapshot(root) == before


def test_copy_tree_with_link_loop_copies_links_as_links(srv, root, tmp_path):
    outside = snapshot(tmp_path / "outside")
    with srv.http() as c:
        r = ask(c, "COPY", "/loop", dest(srv, "/loopcopy"))
        assert r.status == 201, r
        still_serves(c)
    assert snapshot(root / "loopcopy") == snapshot(root / "loop")
    assert os.readlink(root / "loopcopy" / "self") == "."
    assert os.readlink(root / "loopcopy" / "again") == "../loop"
    assert snapshot(tmp_path / "outside") == outside


def test_copy_of_link_out_of_root_stays_a_dead_link(srv, root, tmp_path):
    os.symlink("../../outside/victim.txt", root / "tree" / "sub" / "out")
    with srv.http() as c:
        assert ask(c, "COPY", "/tree", dest(srv, "/tcopy")).status == 201
        assert os.readlink(root / "tcopy" / "sub" / "out") == "../../outside/victim.txt"
        r = ask(c, "GET", "/tcopy/sub/out")
        assert r.status in (403, 404) and b"victim" not in r.body, r
        still_serves(c)
    assert (tmp_path / "outside" / "victim.txt").read_bytes() == b"victim\n"


def test_copy_overwrite_f_onto_existing_412(srv, root):
    before = snapshot(root)
    with srv.http() as c:
        for m, target, d in (("COPY", "/src.txt", "/old.txt"), ("MOVE", "/src.txt", "/old.txt"),
                             ("COPY", "/tree", "/loop"), ("MOVE", "/tree", "/loop")):
            r = ask(c, m, target, dest(srv, d), ("Overwrite", "F"))
            assert r.status == 412, (m, d, r)
            still_serves(c)
    assert snapshot(root) == before


def test_copy_bad_overwrite_and_depth_400(srv, root):
    before = snapshot(root)
    cases = ((("Overwrite", "yes"),), (("Overwrite", "t"),), (("Depth", "1"),),
             (("Depth", "2"),))
    with srv.http() as c:
        for hs in cases:
            for m in ("COPY", "MOVE"):
                r = ask(c, m, "/tree", dest(srv, "/new"), *hs)
                assert r.status == 400, (m, hs, r)
                still_serves(c)
        r = ask(c, "MOVE", "/tree", dest(srv, "/new"), ("Depth", "0"))
        assert r.status == 400, r
        r = ask(c, "COPY", "/tree", ("Destination", "not a uri"))
        assert r.status == 400, r
        r = ask(c, "COPY", "/tree")
        assert r.status == 400, r
        still_serves(c)
    assert snapshot(root) == before


def test_copy_destination_parent_missing_409(srv, root):
    before = snapshot(root)
    with srv.http() as c:
        for m in ("COPY", "MOVE"):
            r = ask(c, m, "/src.txt", dest(srv, "/nope/x.txt"))
            assert r.status == 409, (m, r)
            still_serves(c)
    assert snapshot(root) == before


def test_copy_missing_source_404(srv, root):
    with srv.http() as c:
        for m in ("COPY", "MOVE"):
            assert ask(c, m, "/nope.txt", dest(srv, "/x.txt")).status == 404
            assert ask(c, m, "/src.txt/", dest(srv, "/x.txt")).status == 404
            still_serves(c)
    assert not (root / "x.txt").exists()


def test_copy_to_reserved_or_hidden_name_403(srv, root):
    before = snapshot(root)
    with srv.http() as c:
        for d in ("/.ferry-up-x", "/tree/.hidden"):
            assert ask(c, "COPY", "/src.txt", dest(srv, d)).status == 403
            still_serves(c)
    assert snapshot(root) == before


def test_copy_without_upload_405(start_server, root):
    srv = start_server(root, "-q")
    before = snapshot(root)
    with srv.http() as c:
        assert ask(c, "COPY", "/src.txt", dest(srv, "/x.txt")).status == 405
        still_serves(c)
    assert snapshot(root) == before


# ---- with accounts -----------------------------------------------------------------


def test_auth_copy_of_partly_unreadable_tree_207(asrv, root):
    """alice may not read pub/private: it is left out and named in the 207."""
    with asrv.http() as c:
        r = ask(c, "COPY", "/pub", dest(asrv, "/incoming/pubcopy"), ALICE)
        assert r.status == 207, r
        assert b"<D:href>/pub/private</D:href>" in r.body, r.body
        assert b"403 Forbidden" in r.body
        r = ask(c, "GET", "/pub/a.txt", ALICE)
        assert r.status == 200
    assert (root / "incoming" / "pubcopy" / "a.txt").read_bytes() == b"public a\n"
    assert not (root / "incoming" / "pubcopy" / "private").exists()


def test_auth_copy_from_read_only_folder_201(asrv, root):
    """COPY reads its source: alice copies out of pub, which she may only read."""
    with asrv.http() as c:
        r = ask(c, "COPY", "/pub/a.txt", dest(asrv, "/incoming/a.txt"), ALICE)
        assert r.status == 201, r
        assert ask(c, "GET", "/pub/a.txt", ALICE).status == 200
    assert (root / "incoming" / "a.txt").read_bytes() == b"public a\n"
    assert (root / "pub" / "a.txt").read_bytes() == b"public a\n"


def test_auth_anonymous_copy_is_asked_to_log_in_401(start_server, root, tmp_path, alice_line):
    """Anonymous may read pub: the COPY passes the gate on its source, and
    is asked to log in (not refused) for its destination."""
    auth = tmp_path / "auth"
    auth.write_text(alice_line + "\n*::ro:/pub\n")
    asrv = start_server(root, "-q", "--upload", "--auth", str(auth))
    before = snapshot(root)
    with asrv.http() as c:
        assert ask(c, "GET", "/pub/a.txt").status == 200
        r = ask(c, "COPY", "/pub/a.txt", dest(asrv, "/incoming/a.txt"))
        assert r.status == 401 and r.header("www-authenticate"), r
        assert ask(c, "GET", "/pub/a.txt", ALICE).status == 200
    assert snapshot(root) == before


def test_auth_copy_of_unreadable_source_403(asrv, root):
    before = snapshot(root)
    with asrv.http() as c:
        r = ask(c, "COPY", "/secret/s.txt", dest(asrv, "/incoming/s.txt"), ALICE)
        assert r.status == 403, r
        r = ask(c, "COPY", "/treelink/../secret/s.txt", dest(asrv, "/incoming/s.txt"), ALICE)
        assert r.status == 403, r
        assert ask(c, "GET", "/pub/a.txt", ALICE).status == 200
    assert snapshot(root) == before


def test_auth_destination_through_link_to_unwritable_folder_403(asrv, root):
    """incoming/link -> ../secret: the spelling is writable, the real parent is not."""
    before = snapshot(root)
    with asrv.http() as c:
        for m, src in (("COPY", "/pub/a.txt"), ("MOVE", "/incoming/old.txt")):
            r = ask(c, m, src, dest(asrv, "/incoming/link/x.txt"), ALICE)
            assert r.status == 403, (m, r)
            assert ask(c, "GET", "/pub/a.txt", ALICE).status == 200
    assert snapshot(root) == before


def test_auth_destination_not_writable_403(asrv, root):
    before = snapshot(root)
    with asrv.http() as c:
        r = ask(c, "COPY", "/incoming/old.txt", dest(asrv, "/pub/x.txt"), ALICE)
        assert r.status == 403, r
        r = ask(c, "MOVE", "/incoming/old.txt", dest(asrv, "/pub/x.txt"), ALICE)
        assert r.status == 403, r
        r = ask(c, "MOVE", "/pub/a.txt", dest(asrv, "/incoming/a.txt"), ALICE)
        assert r.status == 403, r  # the source may not be removed from pub
        assert ask(c, "GET", "/pub/a.txt", ALICE).status == 200
    assert snapshot(root) == before


def test_auth_move_of_folder_holding_a_read_only_member_207(asrv, root):
    """incoming/t/locked is read-only for alice: a rename of incoming/t would
    carry it where other rules hold, so nothing moves and the 207 names it."""
    before = snapshot(root)
    with asrv.http() as c:
        r = ask(c, "MOVE", "/incoming/t", dest(asrv, "/incoming/t2"), ALICE)
        assert r.status == 207, r
        assert b"<D:href>/incoming/t/locked</D:href>" in r.body, r.body
        assert ask(c, "GET", "/pub/a.txt", ALICE).status == 200
    assert snapshot(root) == before


def test_auth_delete_tree_keeps_read_only_member_207(asrv, root):
    with asrv.http() as c:
        r = ask(c, "DELETE", "/incoming/t/", ALICE)
        assert r.status == 207, r
        assert b"<D:href>/incoming/t/locked</D:href>" in r.body, r.body
        assert ask(c, "GET", "/pub/a.txt", ALICE).status == 200
        r = ask(c, "DELETE", "/incoming/keep/", ALICE)
        assert r.status == 403, r  # the folder itself is read-only
        assert ask(c, "GET", "/pub/a.txt", ALICE).status == 200
    assert (root / "incoming" / "t" / "locked" / "l.txt").read_bytes() == b"l\n"
    assert not (root / "incoming" / "t" / "inner").exists()
    assert (root / "incoming" / "keep" / "k.txt").read_bytes() == b"keep\n"


# ---- bounds ------------------------------------------------------------------------


def test_copy_tree_deeper_than_the_bound_207(srv, root):
    """64 levels beneath the source are copied; what lies deeper is named
    with 507, and DELETE reports the same bound rather than recursing on."""
    p = root / "deep"
    for i in range(70):
        p = p / f"d{i}"
    p.mkdir(parents=True)
    (p / "bottom.txt").write_bytes(b"bottom\n")
    with srv.http() as c:
        r = ask(c, "COPY", "/deep", dest(srv, "/deepcopy"))
        assert r.status == 207, r
        assert b"507 Insufficient Storage" in r.body, r.body
        still_serves(c)
        r = ask(c, "DELETE", "/deep/")
        assert r.status == 207 and b"507" in r.body, r
        still_serves(c)
    depth = sum(1 for _ in os.walk(root / "deepcopy"))
    assert 60 <= depth <= 66, depth
    assert (p / "bottom.txt").read_bytes() == b"bottom\n"


# ---- the loop stays free -------------------------------------------------------------


@pytest.fixture
def big_tree(root):
    top = root / "big"
    for d in range(10):
        (top / f"d{d}").mkdir(parents=True)
        for i in range(400):
            (top / f"d{d}" / f"f{i}.txt").write_bytes(b"x" * 100)
    return top


def test_copy_of_a_big_tree_does_not_hold_up_other_clients(start_server, root, big_tree):
    """One worker: while its thread copies 4,000 files, the same worker
    answers another client; the COPY's answer comes after."""
    srv = start_server(root, "-q", "--upload", threads=1)
    with srv.http() as a, srv.http() as b:
        a.request("COPY", "/big", [("Host", f"127.0.0.1:{srv.port}"), dest(srv, "/big2")])
        r = ask(b, "GET", "/src.txt")
        assert r.status == 200 and r.body == SRC
        assert not a.buf and select.select([a.sock], [], [], 0)[0] == [], \
            "the COPY was answered before the other client"
        r = a.read_response("COPY", timeout=120)
        assert r.status == 201, r
        still_serves(a)
    assert snapshot(root / "big2") == snapshot(big_tree)


def test_copy_client_leaves_mid_copy(start_server, root, big_tree):
    """The connection closes while the thread copies: the copy finishes on
    its own, and the server goes on serving."""
    srv = start_server(root, "-q", "--upload", threads=1)
    with srv.http() as a:
        a.request("COPY", "/big", [("Host", f"127.0.0.1:{srv.port}"), dest(srv, "/big2")])
    with srv.http() as b:
        still_serves(b)
        for _ in range(600):  # at most a minute for the thread to finish
            if sum(1 for _, _, fs in os.walk(root / "big2") for f in fs
                   if not f.startswith(".ferry")) == 4000:
                break
            time.sleep(0.1)
        still_serves(b)
    assert srv.alive()
    assert snapshot(root / "big2") == snapshot(big_tree)


def test_delete_of_a_big_tree_does_not_hold_up_other_clients(start_server, root, big_tree):
    srv = start_server(root, "-q", "--upload", threads=1)
    with srv.http() as a, srv.http() as b:
        a.request("DELETE", "/big/", [("Host", f"127.0.0.1:{srv.port}")])
        r = ask(b, "GET", "/src.txt")
        assert r.status == 200 and r.body == SRC
        assert not a.buf and select.select([a.sock], [], [], 0)[0] == [], \
            "the DELETE was answered before the other client"
        r = a.read_response("DELETE", timeout=120)
        assert r.status == 204, r
        still_serves(a)
    assert not big_tree.exists()
