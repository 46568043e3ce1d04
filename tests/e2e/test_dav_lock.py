"""WebDAV LOCK and UNLOCK (RFC 4918 §9.10, §9.11) and the If header
(§10.4) on the methods that change things, against `ferry serve --upload`
(litmus's `locks` suite runs in test_litmus.py), one named test per rule: locks survive a restart, a token is
no capability for another account, an expired lock stops blocking, a bad
If header is 400 and the connection goes on, a locked file is unchanged by
a PUT without its token, a depth-infinity lock on a folder keeps new
members out, and an If ETag that does not match is 412."""
import os
import time

import pytest

from ferrylib import build_request, http_request
from test_auth import basic, passwd, write_auth
from test_resumable import create, patch

LOCKINFO = (b'<?xml version="1.0" encoding="utf-8"?>\n'
            b'<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope>'
            b'<D:locktype><D:write/></D:locktype><D:owner>lock tester</D:owner></D:lockinfo>')
SHARED = LOCKINFO.replace(b"<D:exclusive/>", b"<D:shared/>")
OLD = b"the old content\n"
NEW = b"new content\n"


@pytest.fixture
def root(tmp_path):
    r = tmp_path / "root"
    r.mkdir()
    (r / "f.txt").write_bytes(OLD)
    (r / "dir").mkdir()
    return r


@pytest.fixture
def upsrv(start_server, root):
    return start_server(root, "-q", "--upload")


def req(srv, method, target, headers=(), body=b""):
    hs = list(headers)
    if body or method in ("PUT", "LOCK"):
        hs.append(("Content-Length", str(len(body))))
    return http_request(srv, method, target, hs, body=body)


def lock(srv, target, *headers, body=LOCKINFO):
    return req(srv, "LOCK", target, [("Content-Type", "application/xml"), *headers], body)


def token_of(r):
    assert r.status in (200, 201), r
    t = r.header("lock-token")
    assert t and t.startswith("<urn:uuid:") and t.endswith(">"), r
    return t[1:-1]


def etag_of(srv, target):
    r = req(srv, "HEAD", target)
    assert r.status == 200, r
    return r.header("etag")


# ---- LOCK and UNLOCK -------------------------------------------------------------


def test_lock_answers_lockdiscovery_and_token(upsrv):
    r = lock(upsrv, "/f.txt", ("Timeout", "Second-100"))
    t = token_of(r)
    assert r.status == 200
    assert r.header("content-type").startswith("application/xml")
    assert t.encode() in r.body and b"<D:exclusive/>" in r.body
    assert b"lock tester" in r.body and b"Second-100" in r.body
    assert b"<D:lockroot><D:href>/f.txt</D:href></D:lockroot>" in r.body


def test_propfind_lockdiscovery_names_the_lock(upsrv):
    t = token_of(lock(upsrv, "/f.txt"))
    body = (b'<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:lockdiscovery/>'
            b'</D:prop></D:propfind>')
    r = req(upsrv, "PROPFIND", "/f.txt", [("Depth", "0"), ("Content-Type", "application/xml")], body)
    assert r.status == 207, r
    assert t.encode() in r.body and b"<D:activelock>" in r.body and b"lock tester" in r.body
    r = req(upsrv, "PROPFIND", "/dir/", [("Depth", "0"), ("Content-Type", "application/xml")], body)
    assert r.status == 207 and b"<D:activelock>" not in r.body, r


def test_proppatch_of_locked_file_423(upsrv):
    t = token_of(lock(upsrv, "/f.txt"))
    body = (b'<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:z"><D:set><D:prop>'
            b'<Z:p>v</Z:p></D:prop></D:set></D:propertyupdate>')
    r = req(upsrv, "PROPPATCH", "/f.txt", [("Content-Type", "application/xml")], body)
    assert r.status == 423 and b"lock-token-submitted" in r.body, r
    r = req(upsrv, "PROPPATCH", "/f.txt", [("Content-Type", "application/xml"), ("If", f"(<{t}>)")], body)
    assert r.status == 207, r


def test_lock_unmapped_url_makes_empty_file_201(upsrv, root):
    r = lock(upsrv, "/fresh.txt")
    token_of(r)
    assert r.status == 201, r
    assert (root / "fresh.txt").read_bytes() == b""


def test_lock_conflict_423_and_shared_beside_shared(upsrv):
    token_of(lock(upsrv, "/f.txt"))
    r = lock(upsrv, "/f.txt")
    assert r.status == 423 and b"no-conflicting-lock" in r.body, r
    token_of(lock(upsrv, "/dir", body=SHARED))
    token_of(lock(upsrv, "/dir", body=SHARED))
    assert lock(upsrv, "/dir").status == 423


def test_refresh_extends_and_needs_the_token(upsrv):
    t = token_of(lock(upsrv, "/f.txt", ("Timeout", "Second-100")))
    r = req(upsrv, "LOCK", "/f.txt", [("If", f"(<{t}>)"), ("Timeout", "Second-500")])
    assert r.status == 200 and b"Second-500" in r.body, r
    assert r.header("lock-token") is None
    r = req(upsrv, "LOCK", "/f.txt", [("If", "(<urn:uuid:00000000-0000-4000-8000-000000000000>)")])
    assert r.status == 412, r


def test_unlock(upsrv, root):
    t = token_of(lock(upsrv, "/f.txt"))
    r = req(upsrv, "UNLOCK", "/f.txt", [("Lock-Token", "<urn:uuid:00000000-0000-4000-8000-000000000000>")])
    assert r.status == 409 and b"lock-token-matches-request-uri" in r.body, r
    r = req(upsrv, "UNLOCK", "/dir", [("Lock-Token", f"<{t}>")])
    assert r.status == 409, r  # the lock is not on that resource
    assert req(upsrv, "UNLOCK", "/f.txt").status == 400
    assert req(upsrv, "UNLOCK", "/f.txt", [("Lock-Token", f"<{t}>")]).status == 204
    assert req(upsrv, "PUT", "/f.txt", body=NEW).status in (200, 204)
    assert (root / "f.txt").read_bytes() == NEW


def test_put_to_locked_file_without_token_423_file_unchanged(upsrv, root):
    t = token_of(lock(upsrv, "/f.txt"))
    r = req(upsrv, "PUT", "/f.txt", body=NEW)
    assert r.status == 423, r
    assert b"<D:lock-token-submitted><D:href>/f.txt</D:href>" in r.body
    assert (root / "f.txt").read_bytes() == OLD
    r = req(upsrv, "PUT", "/f.txt", [("If", "(<urn:uuid:00000000-0000-4000-8000-000000000000>) "
                                            "(Not <DAV:no-lock>)")], body=NEW)
    assert r.status == 423, r  # the header holds, but submits no token of this lock
    assert (root / "f.txt").read_bytes() == OLD
    r = req(upsrv, "PUT", "/f.txt", [("If", f"(<{t}>)")], body=NEW)
    assert r.status in (200, 204), r
    assert (root / "f.txt").read_bytes() == NEW


def test_delete_and_mkcol_blocked_by_lock(upsrv, root):
    t = token_of(lock(upsrv, "/f.txt"))
    assert req(upsrv, "DELETE", "/f.txt").status == 423
    assert (root / "f.txt").exists()
    assert req(upsrv, "DELETE", "/f.txt", [("If", f"(<{t}>)")]).status == 204
    # Its lock went with it: a new file of that name is not locked.
    assert req(upsrv, "PUT", "/f.txt", body=NEW).status == 201
    t = token_of(lock(upsrv, "/dir"))
    assert req(upsrv, "MKCOL", "/dir/sub").status == 423
    assert not (root / "dir" / "sub").exists()
    assert req(upsrv, "MKCOL", "/dir/sub", [("If", f"(<{t}>)")]).status == 201


def test_resumable_upload_blocked_by_lock(upsrv, root):
    # An upload begun before the lock: its next PATCH needs the token.
    _, r = create(upsrv, "/f.txt", b"abc", complete=False)
    assert r.status == 201, r
    loc = r.header("location")
    t = token_of(lock(upsrv, "/f.txt"))
    r = patch(upsrv, loc, b"def", 3, complete=True)
    assert r.status == 423, r
    assert (root / "f.txt").read_bytes() == OLD
    # A new upload to the locked file is refused before anything is made.
    _, r = create(upsrv, "/f.txt", b"xyz", complete=True)
    assert r.status == 423, r
    r = patch(upsrv, loc, b"def", 3, complete=True, headers=[("If", f"(<{t}>)")])
    assert r.status in (200, 201, 204), r
    assert (root / "f.txt").read_bytes() == b"abcdef"


def test_depth_infinity_lock_on_folder_blocks_put_of_new_member(upsrv, root):
    t = token_of(lock(upsrv, "/dir/", ("Depth", "infinity")))
    r = req(upsrv, "PUT", "/dir/new.txt", body=NEW)
    assert r.status == 423 and b"<D:href>/dir</D:href>" in r.body, r
    assert not (root / "dir" / "new.txt").exists()
    # Tagged with the folder the lock is on, as clients send it.
    r = req(upsrv, "PUT", "/dir/new.txt", [("If", f"<http://127.0.0.1:{upsrv.port}/dir/> (<{t}>)")],
            body=NEW)
    assert r.status == 201, r
    assert (root / "dir" / "new.txt").read_bytes() == NEW


def test_depth_zero_lock_on_folder_guards_its_members_list(upsrv, root):
    (root / "dir" / "old.txt").write_bytes(OLD)
    t = token_of(lock(upsrv, "/dir/", ("Depth", "0")))
    # A member's content is not the folder's (RFC 4918 §7.5) ...
    assert req(upsrv, "PUT", "/dir/old.txt", body=NEW).status == 204
    # ... but adding or removing one changes the folder, the locked resource
    # the 423 names.
    r = req(upsrv, "PUT", "/dir/new.txt", body=NEW)
    assert r.status == 423 and b"<D:lock-token-submitted><D:href>/dir</D:href>" in r.body, r
    assert req(upsrv, "MKCOL", "/dir/sub").status == 423
    assert req(upsrv, "DELETE", "/dir/old.txt").status == 423
    assert lock(upsrv, "/dir/made.txt").status == 423
    assert sorted(os.listdir(root / "dir")) == ["old.txt"]
    # The token is the folder's: an untagged list is about the member (412).
    assert req(upsrv, "PUT", "/dir/new.txt", [("If", f"(<{t}>)")], body=NEW).status == 412
    tagged = [("If", f"<{upsrv.url}dir/> (<{t}>)")]
    assert req(upsrv, "PUT", "/dir/new.txt", tagged, body=NEW).status == 201
    assert req(upsrv, "DELETE", "/dir/old.txt", tagged).status == 204


def test_lock_depth_1_is_400(upsrv):
    assert lock(upsrv, "/dir/", ("Depth", "1")).status == 400


def test_if_etag_condition_412(upsrv, root):
    etag = etag_of(upsrv, "/f.txt")
    bad = etag[:-2] + ("0" if etag[-2] != "0" else "1") + '"'
    r = req(upsrv, "PUT", "/f.txt", [("If", f"([{bad}])")], body=NEW)
    assert r.status == 412, r
    assert (root / "f.txt").read_bytes() == OLD
    r = req(upsrv, "PUT", "/f.txt", [("If", f"(Not [{etag}])")], body=NEW)
    assert r.status == 412, r
    r = req(upsrv, "PUT", "/f.txt", [("If", f"([{etag}])")], body=NEW)
    assert r.status in (200, 204), r
    assert (root / "f.txt").read_bytes() == NEW


def test_if_no_lock_on_unlocked_file_412(upsrv, root):
    r = req(upsrv, "PUT", "/f.txt", [("If", "(<DAV:no-lock>)")], body=NEW)
    assert r.status == 412, r
    assert (root / "f.txt").read_bytes() == OLD


def test_if_bad_syntax_400_and_the_connection_goes_on(upsrv, root):
    with upsrv.http() as c:
        c.send(build_request("PUT", "/f.txt", [("If", "(<urn:uuid:x>"), ("Content-Length", str(len(NEW)))],
                             body=NEW))
        r = c.read_response("PUT")
        assert r.status == 400, r
        c.send(build_request("GET", "/f.txt"))
        r = c.read_response("GET")
        assert r.status == 200 and r.body == OLD, r
    for bad in ("", "<http://h/>", "(<a:b>) <http://h/> (<c:d>)", "(Not)", "(" + "<a:b>" * 65 + ")"):
        assert req(upsrv, "PUT", "/f.txt", [("If", bad)], body=NEW).status == 400, bad
    assert (root / "f.txt").read_bytes() == OLD


def test_expired_lock_no_longer_blocks(upsrv, root):
    token_of(lock(upsrv, "/f.txt", ("Timeout", "Second-1")))
    assert req(upsrv, "PUT", "/f.txt", body=NEW).status == 423
    time.sleep(2.2)
    assert req(upsrv, "PUT", "/f.txt", body=NEW).status in (200, 204)
    assert (root / "f.txt").read_bytes() == NEW


def test_lock_survives_restart(start_server, root):
    s = start_server(root, "-q", "--upload")
    t = token_of(lock(s, "/f.txt"))
    assert s.stop() == 0
    s = start_server(root, "-q", "--upload")
    assert req(s, "PUT", "/f.txt", body=NEW).status == 423
    assert (root / "f.txt").read_bytes() == OLD
    assert req(s, "PUT", "/f.txt", [("If", f"(<{t}>)")], body=NEW).status in (200, 204)
    assert req(s, "UNLOCK", "/f.txt", [("Lock-Token", f"<{t}>")]).status == 204
    assert s.stop() == 0
    s = start_server(root, "-q", "--upload")  # the unlock was saved too
    assert req(s, "PUT", "/f.txt", body=OLD).status in (200, 204)


def test_lock_state_file_is_not_served(upsrv, root):
    token_of(lock(upsrv, "/f.txt"))
    assert (root / ".ferry-uploads" / ".dav-locks").is_file()
    assert req(upsrv, "GET", "/.ferry-uploads/.dav-locks").status == 404
    assert req(upsrv, "PUT", "/.ferry-uploads/.dav-locks", body=b"x").status == 403
    assert lock(upsrv, "/.ferry-uploads/.dav-locks").status == 403


def test_lock_unmapped_through_link_out_of_root_makes_nothing(upsrv, root, tmp_path):
    (tmp_path / "outside").mkdir()
    os.symlink("../outside", root / "out")
    r = lock(upsrv, "/out/planted.txt")
    assert r.status in (403, 404, 409), r
    assert os.listdir(tmp_path / "outside") == []


def test_state_dir_planted_as_link_is_not_written_through(start_server, root, tmp_path):
    (tmp_path / "outside").mkdir()
    os.symlink("../outside", root / ".ferry-uploads")
    s = start_server(root, "-q", "--upload")
    lock(s, "/f.txt")
    assert os.listdir(tmp_path / "outside") == []


def test_lock_needs_upload(start_server, root):
    s = start_server(root, "-q")
    assert lock(s, "/f.txt").status == 405
    assert not (root / ".ferry-uploads").exists()


# ---- accounts ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def two():
    return [passwd("anna", "anna-pw", "rw:/"), passwd("bert", "bert-pw", "rw:/")]


@pytest.fixture
def authsrv(start_server, root, tmp_path, two):
    return start_server(root, "-q", "--upload", "--auth", str(write_auth(tmp_path, *two)))


ANNA = basic("anna", "anna-pw")
BERT = basic("bert", "bert-pw")


def test_token_of_another_user_gives_423(authsrv, root):
    t = token_of(lock(authsrv, "/f.txt", ANNA))
    r = req(authsrv, "PUT", "/f.txt", [BERT, ("If", f"(<{t}>)")], body=NEW)
    assert r.status == 423, r
    assert (root / "f.txt").read_bytes() == OLD
    r = req(authsrv, "UNLOCK", "/f.txt", [BERT, ("Lock-Token", f"<{t}>")])
    assert r.status == 403, r
    r = req(authsrv, "LOCK", "/f.txt", [BERT, ("If", f"(<{t}>)")])
    assert r.status == 412, r  # no refresh of another's lock
    r = req(authsrv, "PUT", "/f.txt", [ANNA, ("If", f"(<{t}>)")], body=NEW)
    assert r.status in (200, 204), r
    assert (root / "f.txt").read_bytes() == NEW


def test_lock_bound_per_user_503_and_others_go_on(authsrv, root):
    hs = [ANNA, ("Content-Type", "application/xml"), ("Content-Length", str(len(LOCKINFO)))]
    with authsrv.http() as c:
        for i in range(256):
            c.send(build_request("LOCK", f"/n{i}.txt", hs, body=LOCKINFO))
            assert c.read_response("LOCK").status == 201, i
        c.send(build_request("LOCK", "/one-more.txt", hs, body=LOCKINFO))
        r = c.read_response("LOCK")
        assert r.status == 503, r
    assert not (root / "one-more.txt").exists()
    token_of(lock(authsrv, "/f.txt", BERT))


def test_owner_longer_than_kept_413(upsrv, root):
    body = LOCKINFO.replace(b"lock tester", b"o" * 2000)
    r = lock(upsrv, "/fresh.txt", body=body)
    assert r.status == 413, r
    assert not (root / "fresh.txt").exists()
    token_of(lock(upsrv, "/fresh.txt"))


def test_lock_without_right_to_write(start_server, root, tmp_path):
    auth = write_auth(tmp_path, passwd("ro", "ro-pw", "ro:/"))
    s = start_server(root, "-q", "--upload", "--auth", str(auth))
    r = lock(s, "/f.txt", basic("ro", "ro-pw"))
    assert r.status in (403, 405), r
    assert not (root / ".ferry-uploads").exists()


# ---- locks and the methods of dav-copy -------------------------------------------


def test_copy_onto_a_locked_file_is_423_naming_it(upsrv, root):
    token_of(lock(upsrv, "/f.txt"))
    (root / "src.txt").write_bytes(NEW)
    r = req(upsrv, "COPY", "/src.txt", [("Destination", "/f.txt")])
    assert r.status == 423, r
    assert b"lock-token-submitted" in r.body and b"/f.txt" in r.body, r.body
    assert (root / "f.txt").read_bytes() == OLD


def test_a_moved_file_leaves_its_lock_behind_and_the_lock_is_gone(upsrv, root):
    """RFC 4918 §7.5: a lock never moves with its resource; the name it
    was on is free once the file went away."""
    t = token_of(lock(upsrv, "/f.txt"))
    r = req(upsrv, "MOVE", "/f.txt", [("Destination", "/g.txt"), ("If", f"(<{t}>)")])
    assert r.status == 201, r
    assert req(upsrv, "PUT", "/f.txt", body=NEW).status == 201
    assert req(upsrv, "PUT", "/g.txt", body=NEW).status == 204
    assert (root / "f.txt").read_bytes() == NEW


def test_a_deleted_folder_takes_its_lock_with_it(upsrv, root):
    (root / "dir" / "a.txt").write_bytes(OLD)
    t = token_of(lock(upsrv, "/dir/", ("Depth", "infinity")))
    assert req(upsrv, "DELETE", "/dir/", [("If", f"(<{t}>)")]).status == 204
    assert not (root / "dir").exists()
    assert req(upsrv, "MKCOL", "/dir/").status == 201
    assert req(upsrv, "PUT", "/dir/b.txt", body=NEW).status == 201
