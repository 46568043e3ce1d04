"""WebDAV after the merge of COPY/MOVE, locks and properties: what goes
with an object that a tree DELETE, a COPY or a MOVE job handles (dead
properties kept in the sidecar store where user attributes are refused,
locks even when nobody waits for the job's answer), and hostile cases of
issue 18 the other files leave out: a lock held by another user on COPY's
destination, If headers with bad syntax on COPY, MOVE and PROPPATCH, and a
MOVE of a folder into itself through a link."""
import os
import signal
import time

import pytest

from ferrylib import HttpConn
from test_auth import basic, passwd, write_auth
from test_dav_lock import LOCKINFO, token_of
from test_dav_props import propfind, props_of, ramfs_at, send

PATCH = (b'<propertyupdate xmlns="DAV:"><set><prop><x xmlns="urn:x">%s</x>'
         b"</prop></set></propertyupdate>")


def ask(conn, method, target, headers=(), body=b""):
    """One request on conn, with the Host a client sends (with the port)."""
    hs = [("Host", f"127.0.0.1:{conn.sock.getpeername()[1]}"), *headers]
    if body or method in ("PUT", "LOCK", "PROPPATCH"):
        hs.append(("Content-Length", str(len(body))))
    conn.request(method, target, hs, body=body)
    return conn.read_response(method)


def dest(conn, path):
    return ("Destination", f"http://127.0.0.1:{conn.sock.getpeername()[1]}{path}")


def prop_x(conn, target):
    r = send(conn, propfind(target, depth="0"))
    assert r.status == 207, r
    p = props_of(r.body, target).get("{urn:x}x")
    return p[1].text if p and p[0] == 200 else None


# ---- the sidecar store ------------------------------------------------------------------


@pytest.fixture
def ramsrv(start_server, tmp_path):
    """A server whose root is a ramfs (no user attributes: the sidecar
    store), and the tree as the server sees it."""
    root = tmp_path / "ram"
    root.mkdir()
    srv = start_server(root, "-q", "--upload", preexec_fn=ramfs_at(root))
    return srv, f"/proc/{srv.pid}/root{root}"


def test_folder_delete_forgets_sidecar_properties_of_its_members(ramsrv):
    srv, seen = ramsrv
    with HttpConn(srv.port) as c:
        assert ask(c, "MKCOL", "/d").status == 201
        assert ask(c, "MKCOL", "/d/e").status == 201
        assert ask(c, "PUT", "/d/e/f.txt", body=b"abc").status == 201
        for t in ("/d/", "/d/e/", "/d/e/f.txt"):
            assert ask(c, "PROPPATCH", t, body=PATCH % t.encode()).status == 207
        side = os.path.join(seen, ".ferry-up-davprops")
        assert len(os.listdir(side)) == 3
        assert ask(c, "DELETE", "/d/").status == 204
        assert os.listdir(side) == []
        # A new object that gets one of the old inode numbers starts bare.
        assert ask(c, "PUT", "/g.txt", body=b"new").status == 201
        assert prop_x(c, "/g.txt") is None


def test_copy_carries_sidecar_properties(ramsrv):
    srv, seen = ramsrv
    with HttpConn(srv.port) as c:
        assert ask(c, "MKCOL", "/d").status == 201
        assert ask(c, "PUT", "/d/f.txt", body=b"abc").status == 201
        assert ask(c, "PROPPATCH", "/d/", body=PATCH % b"folder").status == 207
        assert ask(c, "PROPPATCH", "/d/f.txt", body=PATCH % b"file").status == 207
        assert ask(c, "COPY", "/d/f.txt", [dest(c, "/g.txt")]).status == 201
        assert prop_x(c, "/g.txt") == "file"
        assert ask(c, "COPY", "/d/", [dest(c, "/d2/")]).status == 201
        assert prop_x(c, "/d2/") == "folder" and prop_x(c, "/d2/f.txt") == "file"
        # The copy's are its own: changing them leaves the source's alone.
        assert ask(c, "PROPPATCH", "/g.txt", body=PATCH % b"changed").status == 207
        assert prop_x(c, "/d/f.txt") == "file" and prop_x(c, "/g.txt") == "changed"
        assert ask(c, "MOVE", "/d2/", [dest(c, "/d3/")]).status == 201
        assert prop_x(c, "/d3/f.txt") == "file"


# ---- locks of a job nobody waits for --------------------------------------------------


class Held:
    """Holds one thread of another process still (ptrace: PTRACE_SEIZE,
    then PTRACE_INTERRUPT), while its other threads run on."""

    SEIZE, INTERRUPT, CONT, DETACH, WALL = 0x4206, 0x4207, 7, 17, 0x40000000

    def __init__(self, tid):
        import ctypes
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p,
                                     ctypes.c_void_p]
        self.tid = tid
        self._call(self.SEIZE)
        self.stop()

    def _call(self, req):
        import ctypes
        if self.libc.ptrace(req, self.tid, None, None) != 0:
            raise OSError(ctypes.get_errno(), f"ptrace {req:#x}")

    def stop(self):
        self._call(self.INTERRUPT)
        os.waitpid(self.tid, self.WALL)

    def step(self, seconds):
        self._call(self.CONT)
        time.sleep(seconds)
        self.stop()

    def release(self):
        self._call(self.DETACH)


def test_detached_folder_delete_forgets_the_locks_it_removed(start_server, tmp_path):
    """The DELETE's thread is held still (ptrace) after it removed some
    locked members; the server is told to stop, its grace ends and the
    connection closes, so the job detaches: nobody answers it. Then the
    thread goes on (and stops at its next member). What it removed has lost
    its locks all the same: after a restart (locks are kept on disk) a PUT
    without a token makes it again."""
    root = tmp_path / "root"
    for d in range(10):
        (root / "big" / f"d{d}").mkdir(parents=True)
        for i in range(900):
            (root / "big" / f"d{d}" / f"f{i}.txt").write_bytes(b"x")
    srv = start_server(root, "-q", "--upload", threads=1)
    # At most DAVIF_MAX_LISTS (16) lists in one If header.
    locked = [f"/big/d{d}/f{i}.txt" for d in range(7) for i in (0, 450)]
    with HttpConn(srv.port) as c:
        toks = [token_of(ask(c, "LOCK", t, [("Content-Type", "application/xml")], LOCKINFO))
                for t in locked]
    base = f"http://127.0.0.1:{srv.port}"
    if_all = " ".join(f"<{base}{p}> (<{t}>)" for p, t in zip(locked, toks))
    tasks = f"/proc/{srv.pid}/task"
    before = set(os.listdir(tasks))
    held = None
    with HttpConn(srv.port) as c:
        c.request("DELETE", "/big/", [("Host", f"127.0.0.1:{srv.port}"), ("If", if_all)])
        deadline = time.monotonic() + 30
        while held is None and time.monotonic() < deadline:
            new = set(os.listdir(tasks)) - before
            if new:
                held = Held(int(new.pop()))
        assert held is not None, "no thread for the DELETE"
        try:
            while all((root / t[1:]).exists() for t in locked) and time.monotonic() < deadline:
                held.step(0.002)
            srv.send_signal(signal.SIGTERM)
            time.sleep(4)  # past the grace (3 s): the connection is closed, the job detached
        finally:
            held.release()
        assert srv.wait(30) == 0
    gone = [t for t in locked if not (root / t[1:]).exists()]
    assert gone and len(gone) < len(locked), gone
    srv = start_server(root, "-q", "--upload", threads=1)
    with HttpConn(srv.port) as c:
        for t in gone:
            os.makedirs(root / os.path.dirname(t[1:]), exist_ok=True)
            r = ask(c, "PUT", t, body=b"again")
            assert r.status == 201, (t, r)


# ---- hostile cases ----------------------------------------------------------------------


@pytest.fixture
def twosrv(start_server, tmp_path):
    root = tmp_path / "root"
    (root / "d").mkdir(parents=True)
    (root / "src.txt").write_bytes(b"source\n")
    (root / "dst.txt").write_bytes(b"anna's\n")
    auth = write_auth(tmp_path, passwd("anna", "anna-pw", "rw:/"), passwd("bert", "bert-pw", "rw:/"))
    srv = start_server(root, "-q", "--upload", "--auth", str(auth))
    return srv, root


ANNA = basic("anna", "anna-pw")
BERT = basic("bert", "bert-pw")


def test_copy_onto_a_destination_locked_by_another_user_423(twosrv):
    srv, root = twosrv
    with HttpConn(srv.port) as c:
        tok = token_of(ask(c, "LOCK", "/dst.txt", [ANNA, ("Content-Type", "application/xml")],
                           LOCKINFO))
        r = ask(c, "COPY", "/src.txt", [BERT, dest(c, "/dst.txt")])
        assert r.status == 423, r
        tagged = ("If", f"<http://127.0.0.1:{srv.port}/dst.txt> (<{tok}>)")
        r = ask(c, "COPY", "/src.txt", [BERT, dest(c, "/dst.txt"), tagged])
        assert r.status == 423, r  # anna's token is no key for bert
        r = ask(c, "MOVE", "/src.txt", [BERT, dest(c, "/dst.txt"), tagged])
        assert r.status == 423, r
        # Untagged, the list speaks of the source, which no token of bert's locks.
        r = ask(c, "COPY", "/src.txt", [BERT, dest(c, "/dst.txt"), ("If", f"(<{tok}>)")])
        assert r.status in (412, 423), r
        assert (root / "dst.txt").read_bytes() == b"anna's\n"
        assert (root / "src.txt").exists()
        r = ask(c, "COPY", "/src.txt", [ANNA, dest(c, "/dst.txt"), tagged])
        assert r.status == 204, r  # the owner with her token
    assert (root / "dst.txt").read_bytes() == b"source\n"


BAD_IFS = [
    "(<urn:uuid:1>",          # unclosed list
    "<urn:uuid:1>)",          # a list that never opened
    "()",                     # an empty list
    "(Not)",                  # Not with nothing after it
    "(<urn:uuid:1> [\"x\")",  # an unclosed entity tag
    "<http://other/x>",       # a tag with no list
    "garbage",
]


@pytest.mark.parametrize("bad", BAD_IFS)
def test_bad_if_syntax_on_copy_move_proppatch_400_and_nothing_changes(twosrv, bad):
    srv, root = twosrv
    with HttpConn(srv.port) as c:
        for method, headers, body in (
                ("COPY", [dest(c, "/copy.txt")], b""),
                ("MOVE", [dest(c, "/moved.txt")], b""),
                ("PROPPATCH", [("Content-Type", "application/xml")], PATCH % b"v")):
            r = ask(c, method, "/src.txt", [ANNA, ("If", bad), *headers], body)
            assert r.status == 400, (method, bad, r)
        r = ask(c, "GET", "/src.txt", [ANNA])  # the connection goes on
        assert r.status == 200 and r.body == b"source\n"
        assert prop_x_auth(c, "/src.txt") is None
    assert sorted(os.listdir(root)) == ["d", "dst.txt", "src.txt"]


def prop_x_auth(conn, target):
    r = send(conn, propfind(target, depth="0", headers=[ANNA]))
    assert r.status == 207, r
    p = props_of(r.body, target).get("{urn:x}x")
    return p[1].text if p and p[0] == 200 else None


def test_move_folder_into_itself_through_a_link_403(twosrv):
    srv, root = twosrv
    (root / "d" / "sub").mkdir()
    (root / "d" / "f.txt").write_bytes(b"f")
    os.symlink("d/sub", root / "into")  # /into/x is really /d/sub/x
    before = sorted(os.listdir(root / "d"))
    with HttpConn(srv.port) as c:
        r = ask(c, "MOVE", "/d/", [ANNA, dest(c, "/into/d/")])
        assert r.status in (403, 409), r
        r = ask(c, "MOVE", "/d", [ANNA, dest(c, "/into/d"), ("Overwrite", "T")])
        assert r.status in (403, 409), r
        r = ask(c, "COPY", "/d/", [ANNA, dest(c, "/into/d/")])
        assert r.status in (403, 409), r
        assert ask(c, "GET", "/d/f.txt", [ANNA]).status == 200
    assert sorted(os.listdir(root / "d")) == before
    assert os.listdir(root / "d" / "sub") == []
