"""MKCOL, DELETE and OPTIONS against `ferry serve --upload`: the statuses
(RFC 4918 §9.3 and RFC 9110), and the same path resolution as PUT, so that
no traversal, encoded slash or symbolic link reaches outside the root, and
deleting a link removes the link, never its target. Each escape is its own
named test; every one checks that nothing beside the root changed."""
import os

import pytest

from ferrylib import http_request
from peers import listing

OLD = b"the old content\n"


@pytest.fixture
def root(tmp_path):
    r = tmp_path / "root"
    r.mkdir()
    (r / "sub").mkdir()
    (r / "sub" / "inner.txt").write_bytes(b"inner")
    (r / "empty").mkdir()
    (r / "old.txt").write_bytes(OLD)
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "victim.txt").write_bytes(b"victim")
    return r


@pytest.fixture
def upsrv(start_server, root):
    return start_server(root, "-q", "--upload")


def snapshot(tmp_path):
    """Every path and file content under tmp_path, the root included."""
    out = {}
    for d, dirs, files in os.walk(tmp_path):
        for n in dirs + files:
            p = os.path.join(d, n)
            out[os.path.relpath(p, tmp_path)] = (
                os.readlink(p) if os.path.islink(p) else
                open(p, "rb").read() if os.path.isfile(p) else "dir")
    return out


def outside_snapshot(tmp_path):
    return {k: v for k, v in snapshot(tmp_path).items() if not k.startswith("root")}


def req(srv, method, target, headers=(), body=b""):
    hs = list(headers)
    if body:
        hs.append(("Content-Length", str(len(body))))
    return http_request(srv, method, target, hs, body=body)


# ---- MKCOL -----------------------------------------------------------------


def test_mkcol_creates_201(upsrv, root):
    r = req(upsrv, "MKCOL", "/newdir")
    assert r.status == 201, r
    assert (root / "newdir").is_dir()


def test_mkcol_with_trailing_slash(upsrv, root):
    assert req(upsrv, "MKCOL", "/sub/made/").status == 201
    assert (root / "sub" / "made").is_dir()


def test_mkcol_existing_directory_405(upsrv, root):
    r = req(upsrv, "MKCOL", "/sub/")
    assert r.status == 405, r
    assert "MKCOL" in r.header("allow")


def test_mkcol_existing_file_405(upsrv, root):
    assert req(upsrv, "MKCOL", "/old.txt").status == 405
    assert (root / "old.txt").read_bytes() == OLD


def test_mkcol_root_405(upsrv):
    assert req(upsrv, "MKCOL", "/").status == 405


def test_mkcol_missing_parent_409(upsrv, root):
    assert req(upsrv, "MKCOL", "/nope/newdir/").status == 409
    assert not (root / "nope").exists()


def test_mkcol_under_a_file_409(upsrv, root):
    assert req(upsrv, "MKCOL", "/old.txt/newdir").status == 409


def test_mkcol_with_a_body_415(upsrv, root):
    assert req(upsrv, "MKCOL", "/withbody", body=b"<x/>").status == 415
    assert not (root / "withbody").exists()


def test_mkcol_hidden_name_403(upsrv, root):
    assert req(upsrv, "MKCOL", "/.hidden").status == 403
    assert not (root / ".hidden").exists()


def test_mkcol_without_upload_405(start_server, root):
    srv = start_server(root, "-q")
    r = req(srv, "MKCOL", "/newdir")
    assert r.status == 405 and r.header("allow") == "GET, HEAD, OPTIONS, PROPFIND", r
    assert not (root / "newdir").exists()


def test_mkcol_through_a_symlink_in_the_middle_inside_the_root(upsrv, root):
    os.symlink("sub", root / "sublink")  # relative: RESOLVE_BENEATH refuses absolute links
    assert req(upsrv, "MKCOL", "/sublink/vialink").status == 201
    assert (root / "sub" / "vialink").is_dir()


def test_mkcol_through_a_symlink_out_of_the_root(upsrv, root, tmp_path):
    os.symlink(tmp_path / "outside", root / "out")
    before = outside_snapshot(tmp_path)
    assert req(upsrv, "MKCOL", "/out/escaped").status == 403
    assert outside_snapshot(tmp_path) == before


def test_mkcol_onto_a_symlink_405(upsrv, root, tmp_path):
    os.symlink(tmp_path / "outside" / "victim.txt", root / "ln")
    assert req(upsrv, "MKCOL", "/ln").status == 405
    assert os.path.islink(root / "ln")


# ---- DELETE ----------------------------------------------------------------


def test_delete_file_204(upsrv, root):
    r = req(upsrv, "DELETE", "/old.txt")
    assert r.status == 204, r
    assert not (root / "old.txt").exists()


def test_delete_missing_404(upsrv):
    assert req(upsrv, "DELETE", "/nope.txt").status == 404
    assert req(upsrv, "DELETE", "/nope/nope.txt").status == 404


def test_delete_non_empty_directory_removes_its_tree(upsrv, root, tmp_path):
    """RFC 4918 §9.6.1: DELETE of a collection takes all it holds; a link in
    it goes itself, never what it points at."""
    outside = outside_snapshot(tmp_path)
    (root / "sub" / "deeper").mkdir()
    (root / "sub" / "deeper" / "x.txt").write_bytes(b"x")
    os.symlink("../../outside", root / "sub" / "deeper" / "out")
    assert req(upsrv, "DELETE", "/sub/").status == 204
    assert not (root / "sub").exists()
    assert outside_snapshot(tmp_path) == outside


def test_delete_empty_directory_204(upsrv, root):
    assert req(upsrv, "DELETE", "/empty/").status == 204
    assert not (root / "empty").exists()


def test_delete_file_with_trailing_slash_404(upsrv, root):
    assert req(upsrv, "DELETE", "/old.txt/").status == 404
    assert (root / "old.txt").exists()


def test_delete_root_403(upsrv, root):
    assert req(upsrv, "DELETE", "/").status == 403
    assert root.is_dir()


def test_delete_hidden_name_403(upsrv, root):
    (root / ".keep").write_bytes(b"k")
    assert req(upsrv, "DELETE", "/.keep").status == 403
    assert (root / ".keep").exists()


def test_delete_without_upload_405(start_server, root):
    srv = start_server(root, "-q")
    assert req(srv, "DELETE", "/old.txt").status == 405
    assert (root / "old.txt").read_bytes() == OLD


def test_delete_symlink_removes_the_link_not_its_target(upsrv, root, tmp_path):
    os.symlink(tmp_path / "outside" / "victim.txt", root / "ln")
    assert req(upsrv, "DELETE", "/ln").status == 204
    assert not os.path.lexists(root / "ln")
    assert (tmp_path / "outside" / "victim.txt").read_bytes() == b"victim"


def test_delete_symlink_to_a_directory_removes_the_link(upsrv, root, tmp_path):
    os.symlink(tmp_path / "outside", root / "dirln")
    assert req(upsrv, "DELETE", "/dirln").status == 204
    assert not os.path.lexists(root / "dirln")
    assert (tmp_path / "outside" / "victim.txt").read_bytes() == b"victim"


def test_delete_through_a_symlink_out_of_the_root(upsrv, root, tmp_path):
    os.symlink(tmp_path / "outside", root / "out")
    before = outside_snapshot(tmp_path)
    assert req(upsrv, "DELETE", "/out/victim.txt").status == 403
    assert outside_snapshot(tmp_path) == before


def test_delete_through_a_symlink_in_the_middle_inside_the_root(upsrv, root):
    os.symlink("sub", root / "sublink")  # relative: RESOLVE_BENEATH refuses absolute links
    assert req(upsrv, "DELETE", "/sublink/inner.txt").status == 204
    assert not (root / "sub" / "inner.txt").exists()


def test_delete_through_an_absolute_symlink_chain_out(upsrv, root, tmp_path):
    # A link in the middle that points to a link that leaves: still refused.
    os.symlink(tmp_path / "outside", root / "hop2")
    os.symlink("hop2", root / "hop1")
    before = outside_snapshot(tmp_path)
    assert req(upsrv, "DELETE", "/hop1/victim.txt").status == 403
    assert outside_snapshot(tmp_path) == before


# ---- traversal, for both methods -------------------------------------------

ESCAPES = ["/../outside/victim.txt", "/%2e%2e/outside/victim.txt", "/%2E%2E%2Foutside%2Fvictim.txt",
           "/..%2foutside%2fvictim.txt", "/sub/../../outside/victim.txt",
           "/sub/%2e%2e/%2e%2e/outside/victim.txt", "/./../outside/victim.txt", "/..", "/%2e%2e",
           "/sub%2f..%2f..%2foutside%2fvictim.txt"]


@pytest.mark.parametrize("target", ESCAPES)
def test_delete_escape_refused(upsrv, root, tmp_path, target):
    before = snapshot(tmp_path)
    r = req(upsrv, "DELETE", target)
    assert r.status == 403, r
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("target", [t.replace("victim.txt", "newdir") for t in ESCAPES])
def test_mkcol_escape_refused(upsrv, root, tmp_path, target):
    before = snapshot(tmp_path)
    r = req(upsrv, "MKCOL", target)
    assert r.status == 403, r
    assert snapshot(tmp_path) == before


def test_encoded_slash_stays_inside(upsrv, root):
    # %2F is decoded once into a separator and then normalised: it names
    # sub/newdir, never anything with a literal slash or outside.
    assert req(upsrv, "MKCOL", "/sub%2Fnewdir").status == 201
    assert (root / "sub" / "newdir").is_dir()


# ---- OPTIONS ---------------------------------------------------------------


def test_options_with_upload(upsrv):
    for target in ("/", "/old.txt", "*"):
        r = req(upsrv, "OPTIONS", target)
        assert r.status == 204, (target, r)
        assert r.header("allow") == "GET, HEAD, OPTIONS, PUT, DELETE, MKCOL, PROPFIND, PROPPATCH, COPY, MOVE, LOCK, UNLOCK"


def test_options_read_only(start_server, root):
    srv = start_server(root, "-q")
    r = req(srv, "OPTIONS", "/old.txt")
    assert r.status == 204 and r.header("allow") == "GET, HEAD, OPTIONS, PROPFIND", r


def test_options_escape_refused(upsrv):
    assert req(upsrv, "OPTIONS", "/../x").status == 403


def test_mkcol_is_http_on_a_raw_enabled_port(upsrv, root):
    # "MKCOL " starts an HTTP request, never a raw name.
    with upsrv.http() as c:
        c.request("MKCOL", "/rawcheck")
        assert c.read_response().status == 201
    assert (root / "rawcheck").is_dir()
    assert listing(root) == ["empty", "old.txt", "rawcheck", "sub"]


def test_delete_with_a_fragment_is_refused_and_deletes_nothing(upsrv, root):
    """A '#' is never part of a request target (RFC 9112 §3.2): DELETE
    /empty/#frag is a bad request, not a DELETE of /empty/ (litmus's
    delete_fragment warns of exactly that)."""
    assert req(upsrv, "DELETE", "/empty/#frag").status == 400
    assert (root / "empty").is_dir()
    assert req(upsrv, "GET", "/old.txt?a#b").status == 400
    assert req(upsrv, "DELETE", "/empty/").status == 204
