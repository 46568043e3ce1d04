"""The conventions of the real WebDAV clients nobody here can run: macOS's
Finder (webdavfs) and Windows' mini-redirector, replayed as recorded
sequences on one kept-alive connection against `ferry serve --upload`.

The Finder writes "._NAME" (AppleDouble) and ".DS_Store" beside what it
copies and gives the copy up (error -36) when it may not: proto/path lets
those two kinds of names through by name (path_mac_meta), never listed,
while every other dot-name stays hidden; `--no-mac-files` hides them too.
Windows asks OPTIONS / first without credentials, creates a file by a
zero-byte PUT, locks it, PUTs the body with the token in If and stores its
Win32* times and attributes as dead properties."""
import json
import os
import tarfile
import io

import pytest

from ferrylib import HttpConn, http_request
from test_auth import basic, passwd, write_auth
from test_dav_lock import LOCKINFO, token_of

MS_NS = "urn:schemas-microsoft-com:"


@pytest.fixture
def root(tmp_path):
    r = tmp_path / "root"
    (r / "dir").mkdir(parents=True)
    (r / "dir" / "old.txt").write_bytes(b"old\n")
    (r / ".git").mkdir()
    (r / ".git" / "config").write_bytes(b"secret config\n")
    (r / "private").mkdir()
    (r / "private" / "s.txt").write_bytes(b"private\n")
    return r


def ask(conn, method, target, headers=(), body=b""):
    """One request on conn, with the Host a client sends (with the port)."""
    hs = [("Host", f"127.0.0.1:{conn.sock.getpeername()[1]}"), *headers]
    if body or method in ("PUT", "LOCK", "PROPPATCH", "PROPFIND"):
        hs.append(("Content-Length", str(len(body))))
    conn.request(method, target, hs, body=body)
    return conn.read_response(method)


def propfind_names(r):
    assert r.status == 207, r
    return r.body.decode()


# ---- macOS Finder --------------------------------------------------------------


def test_finder_sequence_writes_locks_and_removes_appledouble_files(start_server, root):
    srv = start_server(root, "-q", "--upload")
    with HttpConn(srv.port) as c:
        r = ask(c, "OPTIONS", "/")
        assert r.status in (200, 204) and r.header("dav") == "1, 2", r
        assert ask(c, "PROPFIND", "/", [("Depth", "0")]).status == 207
        assert ask(c, "PROPFIND", "/dir/", [("Depth", "1")]).status == 207
        # The Finder looks its AppleDouble file up by name before it writes.
        assert ask(c, "PROPFIND", "/dir/._x.txt", [("Depth", "0")]).status == 404
        assert ask(c, "PUT", "/dir/x.txt").status == 201  # created empty first
        tok = token_of(ask(c, "LOCK", "/dir/x.txt", [("Content-Type", "application/xml")],
                           LOCKINFO))
        tok2 = token_of(ask(c, "LOCK", "/dir/._x.txt", [("Content-Type", "application/xml")],
                            LOCKINFO))
        r = ask(c, "PUT", "/dir/._x.txt", [("If", f"(<{tok2}>)")], b"\x00\x05\x16\x07apple")
        assert r.status in (201, 204), r
        r = ask(c, "PUT", "/dir/x.txt", [("If", f"(<{tok}>)")], b"the data\n")
        assert r.status == 204, r
        # Without the token the locked AppleDouble file is not changed.
        assert ask(c, "PUT", "/dir/._x.txt", body=b"other").status == 423
        patch = (b'<?xml version="1.0" encoding="utf-8"?>'
                 b'<D:propertyupdate xmlns:D="DAV:" xmlns:A="http://www.apple.com/webdav_fs/props/">'
                 b'<D:set><D:prop><A:appledoubleheader>AAUWBwACAAA=</A:appledoubleheader>'
                 b'</D:prop></D:set></D:propertyupdate>')
        r = ask(c, "PROPPATCH", "/dir/._x.txt",
                [("If", f"(<{tok2}>)"), ("Content-Type", "application/xml")], patch)
        assert r.status == 207 and "200 OK" in r.body.decode(), r
        r = ask(c, "PROPFIND", "/dir/._x.txt", [("Depth", "0")])
        assert r.status == 207 and "AAUWBwACAAA=" in r.body.decode(), r
        r = ask(c, "PUT", "/dir/.DS_Store", body=b"Bud1 view")
        assert r.status == 201, r
        assert ask(c, "UNLOCK", "/dir/x.txt", [("Lock-Token", f"<{tok}>")]).status == 204
        assert ask(c, "UNLOCK", "/dir/._x.txt", [("Lock-Token", f"<{tok2}>")]).status == 204
        # Read back by name; never listed, neither in Depth 1 nor in a listing.
        assert ask(c, "GET", "/dir/._x.txt").body == b"\x00\x05\x16\x07apple"
        assert ask(c, "GET", "/dir/.DS_Store").body == b"Bud1 view"
        listed = propfind_names(ask(c, "PROPFIND", "/dir/", [("Depth", "1")]))
        assert "x.txt" in listed and "._x.txt" not in listed and "DS_Store" not in listed
        page = ask(c, "GET", "/dir/").body.decode()
        assert "x.txt" in page and "._x" not in page and "DS_Store" not in page
        entries = json.loads(ask(c, "GET", "/dir/", [("Accept", "application/json")]).body)
        assert "._x.txt" not in json.dumps(entries) and "x.txt" in json.dumps(entries)
        tar = ask(c, "GET", "/dir/?tar").body
        names = tarfile.open(fileobj=io.BytesIO(tar)).getnames()
        assert any(n.endswith("x.txt") for n in names)
        assert not any("._" in n or "DS_Store" in n for n in names), names
        assert ask(c, "DELETE", "/dir/._x.txt").status == 204
        assert ask(c, "DELETE", "/dir/.DS_Store").status == 204
        assert ask(c, "GET", "/dir/._x.txt").status == 404
        assert ask(c, "GET", "/dir/x.txt").body == b"the data\n"  # the connection goes on
    assert sorted(os.listdir(root / "dir")) == ["old.txt", "x.txt"]


def test_finder_files_moved_and_copied_with_their_folder(start_server, root):
    srv = start_server(root, "-q", "--upload")
    (root / "dir" / "._old.txt").write_bytes(b"fork")
    dest = f"http://127.0.0.1:{srv.port}"
    with HttpConn(srv.port) as c:
        r = ask(c, "COPY", "/dir/", [("Destination", dest + "/copy/")])
        assert r.status == 201, r
        r = ask(c, "MOVE", "/dir/._old.txt", [("Destination", dest + "/dir/._new.txt")])
        assert r.status == 201, r
    assert (root / "copy" / "._old.txt").read_bytes() == b"fork"
    assert (root / "dir" / "._new.txt").read_bytes() == b"fork"


def test_other_dot_names_stay_hidden_beside_finder_files(start_server, root):
    srv = start_server(root, "-q", "--upload")
    with HttpConn(srv.port) as c:
        assert ask(c, "GET", "/.git/config").status == 404
        assert ask(c, "PUT", "/.env", body=b"x").status == 403
        assert ask(c, "PUT", "/.git/._config", body=b"x").status == 403  # inside a hidden folder
        assert ask(c, "PUT", "/._a/b", body=b"x").status == 403  # a folder on the way
        assert ask(c, "MKCOL", "/._d").status == 403  # a folder of that name: nobody reaches in
        assert ask(c, "PUT", "/.DS_Store/", body=b"x").status == 403
        assert ask(c, "PUT", "/.ferry-up-x/._a", body=b"x").status == 403
        r = ask(c, "COPY", "/dir/old.txt", [("Destination", f"http://127.0.0.1:{srv.port}/.env")])
        assert r.status == 403, r
        assert ask(c, "GET", "/dir/old.txt").status == 200
    assert not (root / ".env").exists() and not (root / "._d").exists()


def test_no_mac_files_hides_them_again(start_server, root):
    (root / "dir" / "._old.txt").write_bytes(b"fork")
    srv = start_server(root, "-q", "--upload", "--no-mac-files")
    with HttpConn(srv.port) as c:
        assert ask(c, "GET", "/dir/._old.txt").status == 404
        assert ask(c, "PUT", "/dir/.DS_Store", body=b"x").status == 403
        assert ask(c, "LOCK", "/dir/._old.txt", [("Content-Type", "application/xml")],
                   LOCKINFO).status == 403
        assert ask(c, "DELETE", "/dir/._old.txt").status == 403
        assert ask(c, "GET", "/dir/old.txt").status == 200
    assert not (root / "dir" / ".DS_Store").exists()


def test_auth_finder_file_rights_are_decided_on_the_real_object(start_server, root, tmp_path):
    """bob may write /dir only; a "._" name is no key to anything else:
    links planted under such names lead to a folder he may not read, to a
    hidden folder and out of the root."""
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"outside\n")
    os.symlink("../private/s.txt", root / "dir" / "._priv")
    os.symlink("../.git/config", root / "dir" / "._git")
    os.symlink(str(outside), root / "dir" / "._out")
    os.symlink("../private", root / "dir" / "._pdir")
    auth = write_auth(tmp_path, passwd("bob", "bob-pw", "rw:/dir"))
    srv = start_server(root, "-q", "--upload", "--auth", str(auth))
    bob = basic("bob", "bob-pw")
    with HttpConn(srv.port) as c:
        assert ask(c, "GET", "/dir/._priv", [bob]).status == 403
        assert ask(c, "GET", "/dir/._git", [bob]).status in (403, 404)
        assert ask(c, "GET", "/dir/._out", [bob]).status == 404
        assert ask(c, "PROPFIND", "/dir/._priv", [bob, ("Depth", "0")]).status == 403
        assert ask(c, "PUT", "/dir/._pdir/s.txt", [bob], b"over").status == 403
        assert ask(c, "PUT", "/private/._s.txt", [bob], b"x").status == 403  # no right there
        assert ask(c, "PUT", "/._s.txt", [bob], b"x").status == 403
        assert ask(c, "PUT", "/dir/._x", [], b"x").status == 401  # anonymous: asked to log in
        r = ask(c, "PUT", "/dir/._x", [bob], b"fork")
        assert r.status == 201, r
        r = ask(c, "COPY", "/dir/._x",
                [bob, ("Destination", f"http://127.0.0.1:{srv.port}/private/._x")])
        assert r.status == 403, r
        # A PUT onto a planted link replaces the link: it never writes through it.
        r = ask(c, "PUT", "/dir/._priv", [bob], b"replaced")
        assert r.status in (201, 204, 403), r
        assert ask(c, "GET", "/dir/._x", [bob]).body == b"fork"
    assert (root / "private" / "s.txt").read_bytes() == b"private\n"
    assert (root / ".git" / "config").read_bytes() == b"secret config\n"
    assert outside.read_bytes() == b"outside\n"
    assert not (root / "private" / "._s.txt").exists() and not (root / "._s.txt").exists()


# ---- Windows' mini-redirector ----------------------------------------------------

WIN_PROPS = {
    "Win32CreationTime": "Sun, 06 Dec 2026 20:00:00 GMT",
    "Win32LastAccessTime": "Sun, 06 Dec 2026 20:00:01 GMT",
    "Win32LastModifiedTime": "Sun, 06 Dec 2026 20:00:02 GMT",
    "Win32FileAttributes": "00000020",
}


def win32_proppatch():
    props = "".join(f"<Z:{k}>{v}</Z:{k}>" for k, v in WIN_PROPS.items())
    return (f'<?xml version="1.0" encoding="utf-8" ?><D:propertyupdate xmlns:D="DAV:" '
            f'xmlns:Z="{MS_NS}"><D:set><D:prop>{props}</D:prop></D:set></D:propertyupdate>'
            ).encode()


def test_windows_sequence_zero_byte_put_lock_put_and_win32_properties(start_server, root):
    srv = start_server(root, "-q", "--upload")
    with HttpConn(srv.port) as c:
        r = ask(c, "OPTIONS", "/")
        assert r.header("dav") == "1, 2" and r.header("ms-author-via") == "DAV", r
        assert "PROPFIND" in r.header("allow") and "LOCK" in r.header("allow"), r
        assert ask(c, "PROPFIND", "/", [("Depth", "0")]).status == 207
        assert ask(c, "PROPFIND", "/dir/new.txt", [("Depth", "0")]).status == 404
        assert ask(c, "PUT", "/dir/new.txt").status == 201  # zero bytes first
        tok = token_of(ask(c, "LOCK", "/dir/new.txt",
                           [("Content-Type", "text/xml"), ("Timeout", "Second-3600")], LOCKINFO))
        assert ask(c, "PUT", "/dir/new.txt", body=b"no token").status == 423
        r = ask(c, "PUT", "/dir/new.txt", [("If", f"(<{tok}>)")], b"the body\r\n")
        assert r.status == 204, r
        r = ask(c, "PROPPATCH", "/dir/new.txt",
                [("If", f"(<{tok}>)"), ("Content-Type", "text/xml")], win32_proppatch())
        assert r.status == 207, r
        body = r.body.decode()
        assert body.count("HTTP/1.1 200 OK") >= 1 and "403" not in body and "409" not in body
        assert ask(c, "UNLOCK", "/dir/new.txt", [("Lock-Token", f"<{tok}>")]).status == 204
        names = "".join(f"<Z:{k}/>" for k in WIN_PROPS)
        pf = (f'<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:" '
              f'xmlns:Z="{MS_NS}"><D:prop>{names}</D:prop></D:propfind>').encode()
        r = ask(c, "PROPFIND", "/dir/new.txt", [("Depth", "0"), ("Content-Type", "text/xml")], pf)
        assert r.status == 207, r
        got = r.body.decode()
        for k, v in WIN_PROPS.items():  # exactly as given, in their own namespace
            assert f">{v}</" in got and k in got, (k, got)
        assert MS_NS in got and "404" not in got, got
        assert ask(c, "GET", "/dir/new.txt").body == b"the body\r\n"


def test_windows_anonymous_options_is_challenged_then_answered(start_server, root, tmp_path):
    """No right for anonymous at all: the first OPTIONS / (sent without
    credentials) gets a 401 with a challenge it can answer (RFC 9110
    §11.6.1; the mini-redirector retries with credentials), and the same
    connection then gets the DAV headers."""
    auth = write_auth(tmp_path, passwd("win", "win-pw", "rw:/"), passwd("ro", "ro-pw", "ro:/"))
    srv = start_server(root, "-q", "--upload", "--auth", str(auth), "--allow-plain-auth")
    with HttpConn(srv.port) as c:
        r = ask(c, "OPTIONS", "/")
        assert r.status == 401 and r.header("www-authenticate").startswith("Basic"), r
        r = ask(c, "OPTIONS", "/", [basic("win", "win-pw")])
        assert r.status in (200, 204), r
        assert r.header("dav") == "1, 2" and r.header("ms-author-via") == "DAV", r
        r = ask(c, "OPTIONS", "/", [basic("ro", "ro-pw")])
        assert r.status in (200, 204), r
        assert r.header("dav") == "1, 2" and r.header("ms-author-via") == "DAV", r
        assert "PUT" not in r.header("allow"), r


def test_windows_options_for_anonymous_reader(start_server, root, tmp_path):
    auth = write_auth(tmp_path, passwd("win", "win-pw", "rw:/"), "*::ro:/")
    srv = start_server(root, "-q", "--upload", "--auth", str(auth), "--allow-plain-auth")
    r = http_request(srv, "OPTIONS", "/")
    assert r.status in (200, 204), r
    assert r.header("dav") == "1, 2" and r.header("ms-author-via") == "DAV", r
