"""Folders (issue 17, point 5): `ferry get -r URL/` fetches a folder tree
from ferry serve (its JSON listing: Accept: application/json) and from any
server with HTML listings, and `ferry get URL/?tar` saves the server's
Content-Disposition name.

Every file of a tree goes through NAME.part and its digest check like a
single download; only links beneath the start folder are entries (no
parent, no other host, no ?sort or ?tar variant); local names are made
safe, and neither a listing nor a planted link can make it write outside
the target folder."""
import base64
import hashlib
import json
import os
import subprocess
import urllib.parse

import pytest

from ferrylib import FERRY, http_request
from peers import PythonHttpServer, ScriptedServer, keep_alive, run_ferry

HOSTILE = b"a\x01\"q\xff.txt"  # a control byte, a quote, a byte that is not UTF-8


@pytest.fixture
def tree(tmp_path):
    """root/d: two files, a folder with a file, an empty folder, a hostile name."""
    root = tmp_path / "root"
    d = root / "d"
    (d / "sub" / "deep").mkdir(parents=True)
    (d / "empty").mkdir()
    (d / "a.txt").write_bytes(b"alpha\n")
    (d / "sp ace \u00e9").write_bytes(b"space\n")
    (d / "sub" / "b.bin").write_bytes(os.urandom(70_000))
    (d / "sub" / "deep" / "c").write_bytes(b"c\n")
    (root / "outside.txt").write_bytes(b"not part of d\n")
    return root


def files_under(top):
    """{relative path: bytes} of every file beneath top."""
    out = {}
    for dirpath, _, names in os.walk(top):
        for n in names:
            p = os.path.join(dirpath, n)
            with open(p, "rb") as f:
                out[os.path.relpath(p, top)] = f.read()
    return out


def json_get(srv, target, *headers):
    return http_request(srv, "GET", target, [("Accept", "application/json"), *headers])


# ---- the JSON listing ------------------------------------------------------------

def test_json_listing_entries(start_server, tree):
    srv = start_server(tree)
    r = json_get(srv, "/d/")
    assert r.status == 200
    assert r.header("content-type") == "application/json"
    assert r.header("vary") == "Accept"
    doc = json.loads(r.body.decode("utf-8"))  # strict: the body is UTF-8 JSON
    assert doc["path"] == "/d/"
    got = {e["name"]: e for e in doc["entries"]}
    assert set(got) == {"sub", "empty", "a.txt", "sp ace \u00e9"}
    assert got["a.txt"] == {"name": "a.txt", "href": "a.txt", "type": "file", "size": 6,
                            "mtime": int(os.stat(tree / "d" / "a.txt").st_mtime)}
    assert got["sub"]["type"] == "dir" and got["sub"]["href"] == "sub/"
    assert got["sp ace \u00e9"]["href"] == "sp%20ace%20%C3%A9"
    # folders first, then by name, as the page
    assert [e["type"] for e in doc["entries"]] == ["dir", "dir", "file", "file"]


def test_json_listing_hostile_name_is_strict_json(start_server, tree):
    (tree / "d" / os.fsdecode(HOSTILE)).write_bytes(b"h\n")
    srv = start_server(tree)
    r = json_get(srv, "/d/")
    assert r.status == 200
    body = r.body.decode("utf-8")  # raises on a byte that is not UTF-8
    assert "\x01" not in body and "\\u0001" in body
    doc = json.loads(body)
    e = [e for e in doc["entries"] if e["name"].startswith("a\x01")]
    assert len(e) == 1
    assert e[0]["name"] == "a\x01\"q\ufffd.txt"
    assert urllib.parse.unquote_to_bytes(e[0]["href"]) == HOSTILE  # the exact bytes


def test_html_listing_unless_json_is_preferred(start_server, tree):
    srv = start_server(tree)
    for accept in ("text/html,application/xhtml+xml,*/*;q=0.8", "*/*",
                   "text/html, application/json;q=0.5", "application/json;q=0"):
        r = http_request(srv, "GET", "/d/", [("Accept", accept)])
        assert r.status == 200 and r.header("content-type").startswith("text/html"), accept
        assert r.header("vary") == "Accept"
    r = http_request(srv, "GET", "/d/", [("Accept", "text/html;q=0.5, application/json")])
    assert r.header("content-type") == "application/json"


def test_json_listing_of_a_folder_with_index_html(start_server, tree):
    (tree / "d" / "index.html").write_bytes(b"<p>home</p>")
    srv = start_server(tree)
    assert http_request(srv, "GET", "/d/").body == b"<p>home</p>"
    doc = json.loads(json_get(srv, "/d/").body)
    assert "index.html" in {e["name"] for e in doc["entries"]}


def passwd_line(user, password, rights):
    r = subprocess.run([FERRY, "passwd", user, rights], input=password + "\n",
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


@pytest.fixture
def auth_srv(start_server, tree, tmp_path):
    """Anyone reads d but d/sub; reader reads all of it."""
    auth = tmp_path / "auth"
    auth.write_text(passwd_line("reader", "reader-pw", "ro:/") + "\n*::ro:/,no:/d/sub\n")
    return start_server(tree, "--auth", str(auth))


@pytest.fixture
def login_srv(start_server, tree, tmp_path):
    """No anonymous access; partial reads d but d/sub, reader reads all."""
    auth = tmp_path / "auth"
    auth.write_text(passwd_line("reader", "reader-pw", "ro:/") + "\n" +
                    passwd_line("partial", "partial-pw", "ro:/,no:/d/sub") + "\n")
    return start_server(tree, "--auth", str(auth))


def test_json_listing_under_auth_leaves_out_what_the_user_may_not_read(auth_srv):
    anon = json.loads(json_get(auth_srv, "/d/").body)
    assert {e["name"] for e in anon["entries"]} == {"empty", "a.txt", "sp ace \u00e9"}
    token = base64.b64encode(b"reader:reader-pw").decode()
    member = json.loads(json_get(auth_srv, "/d/", ("Authorization", "Basic " + token)).body)
    assert "sub" in {e["name"] for e in member["entries"]}


# ---- ferry get -r from ferry serve -------------------------------------------------

def test_get_r_from_ferry(start_server, tree, tmp_path):
    srv = start_server(tree)
    out = tmp_path / "out"
    out.mkdir()
    r = run_ferry("get", "-r", srv.url + "d/", cwd=out)
    assert r.rc == 0, r.err
    assert files_under(out / "d") == files_under(tree / "d")
    assert (out / "d" / "empty").is_dir()
    assert not (out / "outside.txt").exists()
    assert not [p for p in out.rglob("*") if p.name.endswith((".part", ".validator"))]
    assert "d: 4 files in 4 folders" in r.err


def test_get_r_requests_only_the_tree(start_server, tree, tmp_path):
    """One listing per folder and one GET per file: no ?sort, no ?tar, no parent."""
    srv = start_server(tree)
    r = run_ferry("get", "-r", "-O", tmp_path / "o", srv.url + "d")  # no slash: the folder all the same
    assert r.rc == 0, r.err
    assert files_under(tmp_path / "o" / "d") == files_under(tree / "d")
    srv.stop()
    gets = [line for line in srv.stdout_lines if '"GET ' in line]
    assert len(gets) == 4 + 4, gets  # d, sub, deep, empty; four files
    assert not [g for g in gets if "?" in g or "outside" in g], gets


def test_get_r_under_auth_anonymous_sees_the_filtered_tree(auth_srv, tree, tmp_path):
    anon = tmp_path / "anon"
    r = run_ferry("get", "-r", "-O", anon, auth_srv.url + "d/")
    assert r.rc == 0, r.err
    assert not (anon / "d" / "sub").exists() and (anon / "d" / "a.txt").exists()


def test_get_r_under_auth_with_login(login_srv, tree, tmp_path):
    r = run_ferry("get", "-r", "-O", tmp_path / "anon", login_srv.url + "d/")
    assert r.rc == 5, r.err  # 401 for the listing
    part = tmp_path / "partial"
    r = run_ferry("get", "-r", "-u", "partial:partial-pw", "-O", part, login_srv.url + "d/")
    assert r.rc == 0, r.err
    assert not (part / "d" / "sub").exists() and (part / "d" / "a.txt").exists()
    member = tmp_path / "member"
    r = run_ferry("get", "-r", "-u", "reader:reader-pw", "-O", member, login_srv.url + "d/")
    assert r.rc == 0, r.err
    assert files_under(member / "d") == files_under(tree / "d")


def test_get_r_existing_file_is_not_overwritten(start_server, tree, tmp_path):
    srv = start_server(tree)
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.txt").write_bytes(b"mine\n")
    r = run_ferry("get", "-r", srv.url + "d/", cwd=tmp_path)
    assert r.rc == 6, r.err
    assert "exists" in r.err
    assert (tmp_path / "d" / "a.txt").read_bytes() == b"mine\n"
    assert (tmp_path / "d" / "sub" / "b.bin").read_bytes() == (tree / "d" / "sub" / "b.bin").read_bytes()


def test_get_r_never_enters_a_planted_folder_link(start_server, tree, tmp_path):
    srv = start_server(tree)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "d").mkdir()
    os.symlink(elsewhere, tmp_path / "d" / "sub")
    r = run_ferry("get", "-r", srv.url + "d/", cwd=tmp_path)
    assert r.rc == 6, r.err
    assert "symbolic link" in r.err
    assert list(elsewhere.iterdir()) == []
    assert (tmp_path / "d" / "a.txt").read_bytes() == b"alpha\n"  # the rest of the tree still comes


def test_get_r_usage(tmp_path):
    r = run_ferry("get", "-r", "-o", "x", "http://127.0.0.1:9/d/", cwd=tmp_path)
    assert r.rc == 2 and "-r" in r.err
    r = run_ferry("put", "-r", "x", "http://127.0.0.1:9/d/", cwd=tmp_path)
    assert r.rc == 2


# ---- from an HTML listing: python's http.server ------------------------------------

def test_get_r_from_python_http_server(tree, tmp_path):
    py = PythonHttpServer(tree)
    try:
        r = run_ferry("get", "-r", "-O", tmp_path / "o", py.url("/d/"))
    finally:
        py.stop()
    assert r.rc == 0, r.err
    assert files_under(tmp_path / "o" / "d") == files_under(tree / "d")


# ---- hostile listings ----------------------------------------------------------------

HOSTILE_PAGE = b"""<html><body>
<a href="../outside.txt">up</a> <a href="/etc/passwd">abs</a>
<a href="%2e%2e/x">enc</a> <a href="..%2fy">slash</a> <a href="a%2fb">slash2</a>
<a href="http://evil.example/d/e">other host</a> <a href="//evil.example/d/e">scheme-rel</a>
<a href="?sort=size&amp;order=desc">sort</a> <a href="?tar">tar</a> <a href="?C=N;O=D">apache</a>
<a href="sub/?sort=date">sub sorted</a> <a href="./">self</a> <a href="../">parent</a>
<a href="good.txt#frag">good</a> <a href="good.txt">good again</a>
<a href="ctl%01%1b%0aname">ctl</a> <a href="sub/">sub</a> <a href="%2e%2e">dots</a>
<a href="/d/abs.txt">abs inside</a>
</body></html>"""


def hostile_server(extra_routes=None):
    served = {
        "/d/": (b"text/html", HOSTILE_PAGE),
        "/d/good.txt": (b"text/plain", b"good\n"),
        "/d/abs.txt": (b"text/plain", b"abs\n"),
        "/d/ctl%01%1B%0Aname": (b"text/plain", b"ctl\n"),
        "/d/sub/": (b"application/json",
                    json.dumps({"path": "/d/sub/", "entries": [
                        {"name": "x", "href": "../../escape", "type": "file"},
                        {"name": "y", "href": "/etc/", "type": "dir"},
                        {"name": "z", "href": "z.txt", "type": "file", "size": 2, "mtime": 0},
                    ]}).encode()),
        "/d/sub/z.txt": (b"text/plain", b"z\n"),
    }
    served.update(extra_routes or {})

    def respond(peer, req):
        if req.target not in served:
            peer.respond(404, [("Content-Type", "text/plain")], b"no\n")
            return True
        ctype, body = served[req.target]
        peer.respond(200, [("Content-Type", ctype.decode())], body)
        return True

    return ScriptedServer(keep_alive(respond))


def test_get_r_hostile_listing_stays_beneath(tmp_path):
    target = tmp_path / "t"
    target.mkdir()
    with hostile_server() as srv:
        r = run_ferry("get", "-r", srv.url("/d/"), cwd=target)
        asked = sorted({q.target for q in srv.requests})
    assert r.rc == 0, r.err
    assert asked == ["/d/", "/d/abs.txt", "/d/ctl%01%1B%0Aname", "/d/good.txt", "/d/sub/",
                     "/d/sub/z.txt"], asked
    assert files_under(target) == {"d/good.txt": b"good\n", "d/abs.txt": b"abs\n",
                                   "d/ctl___name": b"ctl\n", "d/sub/z.txt": b"z\n"}
    assert sorted(os.listdir(tmp_path)) == ["t"]


def test_get_r_checks_each_file_digest(tmp_path):
    """A file whose Repr-Digest does not match stays NAME.part (exit 9)."""
    wrong = base64.b64encode(hashlib.sha256(b"something else").digest()).decode()
    page = b'<a href="ok.txt">ok</a> <a href="bad.txt">bad</a>'
    with ScriptedServer(keep_alive(lambda peer, req: peer.respond(
            200, [("Repr-Digest", f"sha-256=:{wrong}:")] if req.target == "/d/bad.txt" else [],
            {"/d/": page, "/d/ok.txt": b"ok\n", "/d/bad.txt": b"bad\n"}[req.target]))) as srv:
        r = run_ferry("get", "-r", srv.url("/d/"), cwd=tmp_path)
    assert r.rc == 9, r.err
    assert (tmp_path / "d" / "ok.txt").read_bytes() == b"ok\n"
    assert not (tmp_path / "d" / "bad.txt").exists()
    assert (tmp_path / "d" / "bad.txt.part").exists()


def test_get_r_a_failing_folder_does_not_stop_the_tree(tmp_path):
    """A subfolder whose listing is refused (403): reported, exit 5, the rest fetched."""
    pages = {"/d/": b'<a href="no/">no</a> <a href="ok.txt">ok</a> <a href="yes/">yes</a>',
             "/d/ok.txt": b"ok\n", "/d/yes/": b'<a href="y">y</a>', "/d/yes/y": b"y\n"}
    with ScriptedServer(keep_alive(lambda peer, req: peer.respond(
            200, [], pages[req.target]) if req.target in pages else peer.respond(403, [], b"no"))) as srv:
        r = run_ferry("get", "-r", srv.url("/d/"), cwd=tmp_path)
    assert r.rc == 5, r.err
    assert files_under(tmp_path / "d") == {"ok.txt": b"ok\n", "yes/y": b"y\n"}


def test_get_r_depth_is_bounded(tmp_path):
    """A listing that nests without end: 32 levels, then a message and exit 8."""
    with ScriptedServer(keep_alive(lambda peer, req: peer.respond(
            200, [("Content-Type", "text/html")], b'<a href="a/">a</a>'))) as srv:
        r = run_ferry("get", "-r", "-O", tmp_path, srv.url("/d/"))
        n = len(srv.requests)
    assert r.rc == 8, r.err
    assert "deeper than 32" in r.err
    assert n == 33
    assert (tmp_path / "d" / ("a/" * 32)).is_dir()


def test_get_r_json_listing_not_strict_is_refused(tmp_path):
    with ScriptedServer(keep_alive(lambda peer, req: peer.respond(
            200, [("Content-Type", "application/json")], b'{"entries":[{"href":"a","type":"file"},]}'))) as srv:
        r = run_ferry("get", "-r", srv.url("/d/"), cwd=tmp_path)
    assert r.rc == 8 and "not valid JSON" in r.err, r.err


# ---- ?tar ------------------------------------------------------------------------------

def test_get_tar_takes_the_disposition_name(start_server, tree, tmp_path):
    srv = start_server(tree)
    here = tmp_path / "here"
    here.mkdir()
    r = run_ferry("get", srv.url + "d/?tar", cwd=here)
    assert r.rc == 0, r.err
    assert os.listdir(here) == ["d.tar"]
    names = subprocess.run(["tar", "tf", here / "d.tar"], capture_output=True, text=True,
                           timeout=30).stdout.split()
    assert "d/sub/deep/c" in names and "d/a.txt" in names


def test_get_tar_without_disposition_is_named_for_the_folder(tmp_path):
    with ScriptedServer(keep_alive(lambda peer, req: peer.respond(200, [], b"tar bytes"))) as srv:
        r = run_ferry("get", srv.url("/photos/?tar"), cwd=tmp_path)
    assert r.rc == 0, r.err
    assert os.listdir(tmp_path) == ["photos.tar"]
    assert (tmp_path / "photos.tar").read_bytes() == b"tar bytes"


def test_get_zip_takes_the_disposition_name(start_server, tree, tmp_path):
    import zipfile
    srv = start_server(tree)
    here = tmp_path / "here"
    here.mkdir()
    r = run_ferry("get", srv.url + "d/?zip", cwd=here)
    assert r.rc == 0, r.err
    assert os.listdir(here) == ["d.zip"]
    with zipfile.ZipFile(here / "d.zip") as z:
        assert z.testzip() is None
        assert z.read("d/a.txt") == (tree / "d" / "a.txt").read_bytes()
        assert "d/sub/deep/c" in z.namelist()


def test_get_zip_without_disposition_is_named_for_the_folder(tmp_path):
    with ScriptedServer(keep_alive(lambda peer, req: peer.respond(200, [], b"zip bytes"))) as srv:
        r = run_ferry("get", srv.url("/photos/?zip"), cwd=tmp_path)
    assert r.rc == 0, r.err
    assert os.listdir(tmp_path) == ["photos.zip"]
    assert (tmp_path / "photos.zip").read_bytes() == b"zip bytes"


def test_get_tar_hostile_disposition_stays_here(tmp_path):
    here = tmp_path / "here"
    here.mkdir()
    with ScriptedServer(keep_alive(lambda peer, req: peer.respond(
            200, [("Content-Disposition", 'attachment; filename="../../evil.tar"')], b"x"))) as srv:
        r = run_ferry("get", srv.url("/d/?tar"), cwd=here)
    assert r.rc == 0, r.err
    assert sorted(os.listdir(tmp_path)) == ["here"]
    assert len(os.listdir(here)) == 1 and "/" not in os.listdir(here)[0]


def test_get_r_of_the_root_without_a_scheme(start_server, tree, tmp_path):
    """"host:port/" (http:// implied) saves the root's tree into a folder named for the host."""
    srv = start_server(tree)
    r = run_ferry("get", "-r", f"127.0.0.1:{srv.port}/", cwd=tmp_path)
    assert r.rc == 0, r.err
    assert files_under(tmp_path / "127.0.0.1") == files_under(tree)
