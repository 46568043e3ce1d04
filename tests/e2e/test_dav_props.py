"""WebDAV properties: PROPFIND and PROPPATCH (RFC 4918 §9.1, §9.2).

(litmus's suites run in test_litmus.py.) Named cases here, hostile ones among them: XML bombs, external entities, a DOCTYPE, deep nesting, a huge body,
PROPPATCH of a protected property, a link to what the user may not read,
Depth infinity refused; after each error the next request on the same
connection must be answered right."""
import base64
import hashlib
import os
import time
import xml.etree.ElementTree as ET

import pytest

from ferrylib import HttpConn, http_request

from test_auth import basic, passwd, write_auth

DAV = "{DAV:}"


@pytest.fixture
def root(tmp_path):
    r = tmp_path / "root"
    (r / "sub" / "deep").mkdir(parents=True)
    (r / "a.txt").write_bytes(b"hello\n")
    (r / "sub" / "b.txt").write_bytes(b"bee\n")
    (r / "sub" / "deep" / "c.txt").write_bytes(b"sea\n")
    return r


def propfind(target, body=b"", depth=None, headers=()):
    h = [("Content-Type", "application/xml")] + list(headers)
    if depth is not None:
        h.append(("Depth", depth))
    return "PROPFIND", target, h, body


def send(conn, req):
    method, target, headers, body = req
    headers = headers + [("Content-Length", str(len(body)))] if body else headers
    conn.request(method, target, headers, body=body)
    return conn.read_response(method)


def hrefs(body):
    tree = ET.fromstring(body)
    return [r.find(DAV + "href").text for r in tree.findall(DAV + "response")]


def props_of(body, href):
    """{prop tag: (status, element)} of the response for href."""
    out = {}
    for r in ET.fromstring(body).findall(DAV + "response"):
        if r.find(DAV + "href").text != href:
            continue
        for ps in r.findall(DAV + "propstat"):
            status = int(ps.find(DAV + "status").text.split()[1])
            for p in ps.find(DAV + "prop"):
                out[p.tag] = (status, p)
    return out


def one(srv, req):
    """One request on its own connection."""
    method, target, headers, body = req
    headers = headers + [("Content-Length", str(len(body)))] if body else headers
    return http_request(srv, method, target, headers, body=body)


def next_request_ok(conn):
    """The connection still serves: a GET on it is answered right."""
    conn.request("GET", "/a.txt")
    r = conn.read_response("GET")
    assert r.status == 200 and r.body == b"hello\n", r


# ---- PROPFIND -------------------------------------------------------------------------

def test_propfind_depth_1_lists_live_props_and_etag_equals_get(start_server, root):
    srv = start_server(root)
    r = one(srv, propfind("/", depth="1"))
    assert r.status == 207 and r.header("transfer-encoding") == "chunked", r
    assert sorted(hrefs(r.body)) == ["/", "/a.txt", "/sub/"]
    p = props_of(r.body, "/a.txt")
    get = http_request(srv, "HEAD", "/a.txt")
    assert p[DAV + "getetag"][1].text == get.header("etag")
    assert p[DAV + "getcontentlength"][1].text == "6"
    assert p[DAV + "getlastmodified"][1].text == get.header("last-modified")
    assert p[DAV + "getcontenttype"][1].text == "text/plain"
    assert p[DAV + "resourcetype"][1].find(DAV + "collection") is None
    assert props_of(r.body, "/sub/")[DAV + "resourcetype"][1].find(DAV + "collection") is not None


def test_propfind_many_entries_stream_across_pages(start_server, root):
    """3,000 entries with dead properties make a multistatus many pages
    long: each response split across pages must come out whole."""
    many = root / "many"
    many.mkdir()
    for i in range(3000):
        f = many / f"f{i:04d} &<x>.txt"
        f.write_bytes(b"x" * (i % 7))
        if i % 3 == 0:
            os.setxattr(f, "user.dav:{urn:t}note", b"en\0" + b"n" * 300)
    srv = start_server(root)
    r = one(srv, propfind("/many/", depth="1"))
    assert r.status == 207 and r.header("transfer-encoding") == "chunked"
    got = hrefs(r.body)
    assert len(got) == 3001 and "/many/f0002%20%26%3Cx%3E.txt" in got
    p = props_of(r.body, "/many/f0003%20%26%3Cx%3E.txt")
    assert p["{urn:t}note"][1].text == "n" * 300
    assert p[DAV + "displayname"][1].text == "f0003 &<x>.txt"


def test_propfind_depth_1_dead_props_only_on_the_entries_that_have_them(start_server, root):
    """Depth 1 allprop looks at each entry's attribute names without opening
    it (listxattrat where the kernel has it): an entry with user.dav
    attributes shows exactly them, one with only other user attributes or
    none shows no dead property, across many pages; a FIFO beside them is
    left out as listings leave it (and not waited on); then the connection
    serves on."""
    d = root / "mixed"
    d.mkdir()
    for i in range(300):
        (d / f"f{i:03d}.txt").write_bytes(b"y")
    for i in range(0, 300, 7):
        os.setxattr(d / f"f{i:03d}.txt", "user.dav:{urn:m}n%d" % (i % 2), b"\0v%d" % i)
    for i in range(3, 300, 11):
        os.setxattr(d / f"f{i:03d}.txt", "user.other", b"not a dead property")
    os.mkfifo(d / "pipe")
    srv = start_server(root)
    with HttpConn(srv.port) as c:
        r = send(c, propfind("/mixed/", depth="1"))
        assert r.status == 207, r
        assert len(hrefs(r.body)) == 301 and "/mixed/pipe" not in hrefs(r.body)
        for i in range(300):
            dead = {k: v for k, (st, v) in props_of(r.body, f"/mixed/f{i:03d}.txt").items()
                    if not k.startswith(DAV)}
            if i % 7 == 0:
                assert list(dead) == ["{urn:m}n%d" % (i % 2)], i
                assert dead["{urn:m}n%d" % (i % 2)].text == "v%d" % i
            else:
                assert dead == {}, i
        next_request_ok(c)


def test_propfind_http10_ends_with_close_and_bad_depth_400(start_server, root):
    srv = start_server(root)
    with HttpConn(srv.port) as c:
        r = send(c, propfind("/", depth="2"))
        assert r.status == 400, r
        next_request_ok(c)
    with HttpConn(srv.port) as c:
        c.request("PROPFIND", "/", [("Depth", "1")], version="HTTP/1.0")
        rest = c.rest_until_close()
        head, _, body = bytes(rest).partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 207") and b"chunked" not in head.lower()
        assert sorted(hrefs(body)) == ["/", "/a.txt", "/sub/"]


def test_proppatch_hidden_name_refused(start_server, root):
    (root / ".h").write_bytes(b"x")
    srv = start_server(root, "--upload")
    body = b'<propertyupdate xmlns="DAV:"><set><prop><x xmlns="urn:x">1</x></prop></set></propertyupdate>'
    with HttpConn(srv.port) as c:
        r = send(c, ("PROPPATCH", "/.h", [], body))
        assert r.status == 403, r
        next_request_ok(c)
    assert not any(k.startswith("user.dav") for k in os.listxattr(root / ".h"))


def test_propfind_named_props_unknown_is_404_and_quota_by_name(start_server, root):
    srv = start_server(root)
    body = (b'<?xml version="1.0"?><propfind xmlns="DAV:"><prop><getetag/><quota-used-bytes/>'
            b'<quota-available-bytes/><x:nope xmlns:x="urn:x"/></prop></propfind>')
    r = one(srv, propfind("/a.txt", body, depth="0"))
    assert r.status == 207, r
    p = props_of(r.body, "/a.txt")
    assert p["{urn:x}nope"][0] == 404
    assert p[DAV + "getetag"][0] == 200
    assert int(p[DAV + "quota-used-bytes"][1].text) > 0
    assert int(p[DAV + "quota-available-bytes"][1].text) >= 0


def test_propfind_missing_is_404_and_connection_goes_on(start_server, root):
    srv = start_server(root)
    with HttpConn(srv.port) as c:
        r = send(c, propfind("/nope", depth="0"))
        assert r.status == 404, r
        next_request_ok(c)


def test_propfind_infinity_walks_the_tree_and_not_a_link_loop(start_server, root):
    os.symlink("..", root / "sub" / "loop")
    srv = start_server(root)
    r = one(srv, propfind("/", depth="infinity"))
    assert r.status == 207, r
    got = hrefs(r.body)
    assert "/sub/deep/c.txt" in got and "/sub/loop/" in got
    assert not any(h.startswith("/sub/loop/") and h != "/sub/loop/" for h in got), got
    # no Depth header means infinity
    r2 = one(srv, propfind("/"))
    assert "/sub/deep/c.txt" in hrefs(r2.body)


def test_propfind_depth_infinity_refused_when_off(start_server, root):
    srv = start_server(root, "--dav-depth-infinity", "off")
    with HttpConn(srv.port) as c:
        r = send(c, propfind("/", depth="infinity"))
        assert r.status == 403, r
        assert ET.fromstring(r.body).find(DAV + "propfind-finite-depth") is not None
        next_request_ok(c)
        r = send(c, propfind("/", depth="1"))
        assert r.status == 207


def test_propfind_hides_reserved_and_hidden_names(start_server, root):
    (root / ".secret").write_bytes(b"x")
    (root / ".ferry-up-davprops").mkdir()
    srv = start_server(root)
    r = one(srv, propfind("/", depth="infinity"))
    assert not any(".secret" in h or ".ferry-up" in h for h in hrefs(r.body))


def test_propfind_link_to_unreadable_is_absent(start_server, tmp_path):
    root = tmp_path / "r"
    (root / "pub").mkdir(parents=True)
    (root / "secret").mkdir()
    (root / "secret" / "s.txt").write_bytes(b"members only\n")
    (root / "pub" / "open.txt").write_bytes(b"open\n")
    os.symlink("../secret", root / "pub" / "link")
    os.symlink("../secret/s.txt", root / "pub" / "filelink")
    auth = write_auth(tmp_path, passwd("bob", "bob-pw", "ro:/pub"))
    srv = start_server(root, "--auth", str(auth))
    who = basic("bob", "bob-pw")
    r = one(srv, propfind("/pub/", depth="infinity", headers=[who]))
    assert r.status == 207, r
    got = hrefs(r.body)
    assert "/pub/open.txt" in got
    assert not any("link" in h or "s.txt" in h for h in got), got
    assert b"members only" not in r.body
    with HttpConn(srv.port) as c:
        r = send(c, propfind("/pub/link/", depth="1", headers=[who]))
        assert r.status == 403, r
        r = send(c, propfind("/pub/", depth="1", headers=[who]))
        assert r.status == 207 and "/pub/open.txt" in hrefs(r.body)


# ---- hostile bodies ---------------------------------------------------------------------

LAUGHS = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
          + b"".join(b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
                     for i in range(1, 10))
          + b']><propfind xmlns="DAV:"><prop><x xmlns="u">&lol9;</x></prop></propfind>')


@pytest.mark.parametrize("name,body,status", [
    ("billion_laughs", LAUGHS, 400),
    ("doctype", b'<!DOCTYPE propfind><propfind xmlns="DAV:"><allprop/></propfind>', 400),
    ("nesting_10000", b'<propfind xmlns="DAV:">' + b"<a>" * 10000 + b"</a>" * 10000
     + b"</propfind>", 413),
    ("not_xml", b"this is not xml", 400),
])
def test_hostile_propfind_body(start_server, root, name, body, status):
    srv = start_server(root)
    with HttpConn(srv.port) as c:
        r = send(c, propfind("/", body, depth="0"))
        assert r.status == status, (name, r)
        next_request_ok(c)


def test_hostile_external_entity_never_read(start_server, root):
    srv = start_server(root, "--upload")
    body = (b'<?xml version="1.0"?><!DOCTYPE p [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            b'<propertyupdate xmlns="DAV:"><set><prop><v xmlns="urn:x">&x;</v></prop></set>'
            b'</propertyupdate>')
    with HttpConn(srv.port) as c:
        r = send(c, ("PROPPATCH", "/a.txt", [("Content-Type", "application/xml")], body))
        assert r.status == 400, r
        assert b"root:" not in r.body
        next_request_ok(c)
        r = send(c, propfind("/a.txt", depth="0"))
        assert r.status == 207 and b"root:" not in r.body and b"urn:x" not in r.body


def test_hostile_huge_body_413_then_next_request(start_server, root):
    srv = start_server(root)
    body = b"<" * (200 << 10)
    with HttpConn(srv.port) as c:
        c.request("PROPFIND", "/", [("Depth", "0"), ("Content-Length", str(len(body)))])
        r = c.read_response("PROPFIND")
        assert r.status == 413, r
        c.send(body)  # read and dropped by the server (small enough to drain)
        next_request_ok(c)


def test_hostile_huge_chunked_body_413_and_close(start_server, root):
    srv = start_server(root)
    chunk = b"<" * 65536
    with HttpConn(srv.port) as c:
        c.request("PROPFIND", "/", [("Depth", "0"), ("Transfer-Encoding", "chunked")])
        for _ in range(3):
            c.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        r = c.read_response("PROPFIND")
        assert r.status == 413 and r.header("connection") == "close", r


def test_chunked_body_with_100_continue(start_server, root):
    srv = start_server(root)
    body = b'<propfind xmlns="DAV:"><prop><getcontentlength/></prop></propfind>'
    with HttpConn(srv.port) as c:
        c.request("PROPFIND", "/a.txt", [("Depth", "0"), ("Transfer-Encoding", "chunked"),
                                          ("Expect", "100-continue")])
        r = c.read_response("PROPFIND")
        assert r.status == 100, r
        c.send(b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))
        r = c.read_response("PROPFIND")
        assert r.status == 207
        assert props_of(r.body, "/a.txt")[DAV + "getcontentlength"][1].text == "6"
        next_request_ok(c)


# ---- PROPPATCH -------------------------------------------------------------------------

def test_propfind_remembers_bare_entries_only_until_their_ctime_moves(start_server, root):
    """Each worker remembers the entries it found without dead properties by
    (device, inode, ctime) and asks the kernel again only when that moved
    (core/ctimeset): after warm walks, a dead property set from outside, one
    set by PROPPATCH, one on a new file under an old name (the inode may be
    reused) and one set at once on a file made just before the walk all show
    in the next walk; an attribute removed from outside is gone from it."""
    d = root / "warm"
    d.mkdir()
    for i in range(40):
        (d / f"f{i:02d}.txt").write_bytes(b"w")
    os.setxattr(d / "f05.txt", "user.dav:{urn:w}gone", b"\0soon")
    # no digest pass: its user.ferry.sha256 would move every ctime to now
    srv = start_server(root, "--upload", "--threads", "1", "--no-digest-scan")
    time.sleep(0.3)  # older than the 100 ms a ctime must be to be remembered
    dead = lambda body, name: {k: v.text for k, (st, v) in props_of(body, f"/warm/{name}").items()
                               if not k.startswith(DAV)}
    with HttpConn(srv.port) as c:
        for _ in range(3):
            r = send(c, propfind("/warm/", depth="1"))
            assert r.status == 207 and len(hrefs(r.body)) == 41, r
            assert dead(r.body, "f01.txt") == {} and dead(r.body, "f05.txt") == {"{urn:w}gone": "soon"}
        os.setxattr(d / "f01.txt", "user.dav:{urn:w}outside", b"\0o")
        os.removexattr(d / "f05.txt", "user.dav:{urn:w}gone")
        r = send(c, ("PROPPATCH", "/warm/f02.txt", [("Content-Type", "application/xml")],
                     b'<propertyupdate xmlns="DAV:"><set><prop><p xmlns="urn:w">patched</p>'
                     b'</prop></set></propertyupdate>'))
        assert r.status == 207, r
        os.unlink(d / "f03.txt")
        (d / "f03.txt").write_bytes(b"new")
        os.setxattr(d / "f03.txt", "user.dav:{urn:w}reborn", b"\0r")
        (d / "f40.txt").write_bytes(b"fresh")
        r = send(c, propfind("/warm/", depth="1"))
        os.setxattr(d / "f40.txt", "user.dav:{urn:w}late", b"\0l")
        r2 = send(c, propfind("/warm/", depth="1"))
    assert dead(r.body, "f01.txt") == {"{urn:w}outside": "o"}
    assert dead(r.body, "f02.txt") == {"{urn:w}p": "patched"}
    assert dead(r.body, "f03.txt") == {"{urn:w}reborn": "r"}
    assert dead(r.body, "f05.txt") == {} and dead(r.body, "f04.txt") == {}
    assert dead(r2.body, "f40.txt") == {"{urn:w}late": "l"}


def proppatch(body):
    return ("PROPPATCH", "/a.txt", [("Content-Type", "application/xml")], body)


def test_proppatch_dead_props_round_trip_with_namespaces(start_server, root):
    srv = start_server(root, "--upload")
    body = (b'<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:z">'
            b'<D:set><D:prop><Z:author xml:lang="en">Jim <Z:b>W</Z:b></Z:author>'
            b'<Z:val><foo xmlns="bar"/></Z:val></D:prop></D:set></D:propertyupdate>')
    with HttpConn(srv.port) as c:
        r = send(c, proppatch(body))
        assert r.status == 207, r
        assert all(s == 200 for s, _ in props_of(r.body, "/a.txt").values())
        r = send(c, propfind("/a.txt", depth="0"))  # allprop lists dead props
        p = props_of(r.body, "/a.txt")
        a = p["{urn:z}author"][1]
        assert a.get("{http://www.w3.org/XML/1998/namespace}lang") == "en"
        assert a.text == "Jim " and a.find("{urn:z}b").text == "W"
        assert p["{urn:z}val"][1].find("{bar}foo") is not None
        r = send(c, propfind("/a.txt", b'<propfind xmlns="DAV:"><propname/></propfind>', "0"))
        p = props_of(r.body, "/a.txt")
        assert "{urn:z}author" in p and len(p["{urn:z}author"][1]) == 0
        r = send(c, proppatch(b'<propertyupdate xmlns="DAV:"><remove><prop><a xmlns="urn:z"/>'
                              b'<author xmlns="urn:z"/></prop></remove></propertyupdate>'))
        assert r.status == 207
        r = send(c, propfind("/a.txt", depth="0"))
        assert "{urn:z}author" not in props_of(r.body, "/a.txt")


def test_proppatch_protected_getetag_403_and_nothing_applied(start_server, root):
    srv = start_server(root, "--upload")
    body = (b'<propertyupdate xmlns="DAV:"><set><prop><x xmlns="urn:x">1</x><getetag>"f"</getetag>'
            b"</prop></set></propertyupdate>")
    with HttpConn(srv.port) as c:
        r = send(c, proppatch(body))
        assert r.status == 207, r
        p = props_of(r.body, "/a.txt")
        assert p[DAV + "getetag"][0] == 403 and p["{urn:x}x"][0] == 424
        assert b"cannot-modify-protected-property" in r.body
        next_request_ok(c)
        r = send(c, propfind("/a.txt", depth="0"))
        assert "{urn:x}x" not in props_of(r.body, "/a.txt")


def test_proppatch_atomic_when_one_property_cannot_be_kept(start_server, root):
    srv = start_server(root, "--upload")
    long_ns = "urn:" + "n" * 300  # past the 255-byte attribute name
    body = (b'<propertyupdate xmlns="DAV:"><set><prop><x xmlns="urn:x">1</x>'
            + b'<y xmlns="%s">2</y></prop></set></propertyupdate>' % long_ns.encode())
    r = one(srv, proppatch(body))
    assert r.status == 207, r
    p = props_of(r.body, "/a.txt")
    assert p["{urn:x}x"][0] == 424 and p["{%s}y" % long_ns][0] not in (200, 424)
    r = one(srv, propfind("/a.txt", depth="0"))
    assert "{urn:x}x" not in props_of(r.body, "/a.txt")


def test_proppatch_needs_write_right_on_the_real_file(start_server, tmp_path):
    root = tmp_path / "r"
    (root / "incoming").mkdir(parents=True)
    (root / "ro.txt").write_bytes(b"x")
    os.symlink("../ro.txt", root / "incoming" / "link.txt")
    auth = write_auth(tmp_path, passwd("al", "al-pw", "rw:/incoming,ro:/"))
    srv = start_server(root, "--upload", "--auth", str(auth))
    who = basic("al", "al-pw")
    body = b'<propertyupdate xmlns="DAV:"><set><prop><x xmlns="urn:x">1</x></prop></set></propertyupdate>'
    with HttpConn(srv.port) as c:
        r = send(c, ("PROPPATCH", "/incoming/link.txt", [who], body))
        assert r.status == 403, r
        r = send(c, ("PROPPATCH", "/ro.txt", [who], body))
        assert r.status == 403, r  # the gate on the spelling: no write right here
        c.request("GET", "/ro.txt", [who])
        assert c.read_response("GET").status == 200
    assert not any(k.startswith("user.dav") for k in os.listxattr(root / "ro.txt"))


SET_X = (b'<propertyupdate xmlns="DAV:"><set><prop><x xmlns="urn:x" xml:lang="de">eins</x>'
         b"</prop></set></propertyupdate>")
V8 = [("Upload-Draft-Interop-Version", "8")]


def put_over_keeps_dead_props(c, target, body, resumable):
    """PUTs body over target (in one resumable creation request when
    resumable) on c, then checks the answer, the bytes and that the dead
    property SET_X set before is still there, and Repr-Digest is the new
    content's (the old digest stamp is not carried)."""
    hs = [("Content-Length", str(len(body)))]
    if resumable:
        hs += [("Upload-Complete", "?1"), *V8]
    c.request("PUT", target, hs, body=body)
    r = c.read_response("PUT")
    while r.status == 104:
        r = c.read_response("PUT")
    assert r.status == 204, r
    r = send(c, propfind(target, depth="0"))
    assert props_of(r.body, target)["{urn:x}x"][1].text == "eins", r.body
    c.request("GET", target, [("Want-Repr-Digest", "sha-256=1")])
    g = c.read_response("GET")
    assert g.status == 200 and g.body == body
    want = base64.b64encode(hashlib.sha256(body).digest()).decode()
    assert g.header("repr-digest") == f"sha-256=:{want}:", g.headers


@pytest.mark.parametrize("resumable", [False, True], ids=["put", "resumable"])
def test_put_over_a_file_keeps_its_dead_properties(start_server, root, resumable):
    """RFC 4918 9.7.1: a PUT that replaces a file leaves its properties as
    they were; ferry writes the new content to a new inode and renames it
    over the old one, so the user.dav: attributes go over with it (and
    nothing else: the old content's digest stamp stays behind)."""
    srv = start_server(root, "--upload")
    with HttpConn(srv.port) as c:
        r = send(c, ("PROPPATCH", "/a.txt", [], SET_X))
        assert r.status == 207 and props_of(r.body, "/a.txt")["{urn:x}x"][0] == 200, r
        c.request("GET", "/a.txt", [("Want-Repr-Digest", "sha-256=1")])  # stamps the old digest
        assert c.read_response("GET").status == 200
        put_over_keeps_dead_props(c, "/a.txt", b"new content\n", resumable)
        put_over_keeps_dead_props(c, "/a.txt", b"newer\n" * 1000, resumable)
    assert [k for k in os.listxattr(root / "a.txt") if k.startswith("user.dav:")] == \
        ["user.dav:{urn:x}x"]


def test_options_says_dav(start_server, root):
    srv = start_server(root, "--upload")
    r = http_request(srv, "OPTIONS", "/")
    assert r.header("dav") == "1, 2" and r.header("ms-author-via") == "DAV"
    assert "PROPFIND" in r.header("allow") and "PROPPATCH" in r.header("allow")


# ---- the sidecar store, where user attributes are refused ------------------------------

def ramfs_at(path):
    """A preexec_fn: the server runs in a mount namespace of its own where
    path is a ramfs, which refuses user extended attributes (ENOTSUP)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    target = os.fsencode(path)

    def setup():
        CLONE_NEWNS, MS_REC, MS_PRIVATE = 0x00020000, 0x4000, 1 << 18
        if libc.unshare(CLONE_NEWNS) != 0:
            raise OSError(ctypes.get_errno(), "unshare")
        if libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) != 0:
            raise OSError(ctypes.get_errno(), "mount --make-rprivate /")
        if libc.mount(b"ramfs", target, b"ramfs", 0, None) != 0:
            raise OSError(ctypes.get_errno(), "mount ramfs")

    return setup


def test_proppatch_sidecar_where_xattrs_are_refused_and_delete_forgets(start_server, tmp_path):
    root = tmp_path / "ram"
    root.mkdir()
    srv = start_server(root, "--upload", preexec_fn=ramfs_at(root))
    seen = f"/proc/{srv.pid}/root{root}"  # the tree as the server sees it
    with HttpConn(srv.port) as c:
        c.request("PUT", "/f.txt", [("Content-Length", "3")], body=b"abc")
        assert c.read_response("PUT").status == 201
        body = (b'<propertyupdate xmlns="DAV:"><set><prop><x xmlns="urn:x" xml:lang="de">eins</x>'
                b"</prop></set></propertyupdate>")
        r = send(c, ("PROPPATCH", "/f.txt", [], body))
        assert r.status == 207 and props_of(r.body, "/f.txt")["{urn:x}x"][0] == 200, r
        r = send(c, propfind("/f.txt", depth="0"))
        assert props_of(r.body, "/f.txt")["{urn:x}x"][1].text == "eins"
        side = os.path.join(seen, ".ferry-up-davprops")
        assert len(os.listdir(side)) == 1
        r = send(c, propfind("/", depth="1"))
        assert not any(".ferry-up" in h for h in hrefs(r.body))
        c.request("DELETE", "/f.txt")
        assert c.read_response("DELETE").status == 204
        assert os.listdir(side) == []


@pytest.mark.parametrize("resumable", [False, True], ids=["put", "resumable"])
def test_put_over_a_file_keeps_its_sidecar_properties_and_drops_the_old_record(
        start_server, tmp_path, resumable):
    """Where attributes are refused the sidecar keeps properties by inode:
    a PUT over the file gives the new inode a copy and removes the old
    inode's record (else a later file given that inode number would show
    them); DELETE then removes the new one's."""
    root = tmp_path / "ram"
    root.mkdir()
    srv = start_server(root, "--upload", preexec_fn=ramfs_at(root))
    side = os.path.join(f"/proc/{srv.pid}/root{root}", ".ferry-up-davprops")
    with HttpConn(srv.port) as c:
        c.request("PUT", "/f.txt", [("Content-Length", "3")], body=b"abc")
        assert c.read_response("PUT").status == 201
        r = send(c, ("PROPPATCH", "/f.txt", [], SET_X))
        assert r.status == 207 and props_of(r.body, "/f.txt")["{urn:x}x"][0] == 200, r
        before = os.listdir(side)
        assert len(before) == 1
        put_over_keeps_dead_props(c, "/f.txt", b"replaced\n", resumable)
        after = os.listdir(side)
        assert len(after) == 1 and after != before, (before, after)
        c.request("DELETE", "/f.txt")
        assert c.read_response("DELETE").status == 204
        assert os.listdir(side) == []


def test_propfind_depth_1_sidecar_props_of_entries_where_xattrs_are_refused(start_server,
                                                                              tmp_path):
    """Where user attributes are refused, a Depth 1 listing finds each
    entry's dead properties in the sidecar (looked for once a page, not
    once an entry): the entries given one show it, the others none."""
    root = tmp_path / "ram"
    root.mkdir()
    srv = start_server(root, "--upload", preexec_fn=ramfs_at(root))
    with HttpConn(srv.port) as c:
        c.request("MKCOL", "/d/")
        assert c.read_response("MKCOL").status == 201
        for i in range(120):
            c.request("PUT", f"/d/f{i:03d}.txt", [("Content-Length", "1")], body=b"z")
            assert c.read_response("PUT").status == 201
        for i in range(0, 120, 13):
            body = (b'<propertyupdate xmlns="DAV:"><set><prop><s xmlns="urn:s">%d</s>'
                    b"</prop></set></propertyupdate>" % i)
            r = send(c, ("PROPPATCH", f"/d/f{i:03d}.txt", [], body))
            assert r.status == 207, r
        r = send(c, propfind("/d/", depth="1"))
        assert r.status == 207 and len(hrefs(r.body)) == 121, r
        for i in range(120):
            p = props_of(r.body, f"/d/f{i:03d}.txt")
            if i % 13 == 0:
                assert p["{urn:s}s"][1].text == str(i), i
            else:
                assert "{urn:s}s" not in p, i
        next_request_ok_at(c, "/d/f001.txt", b"z")


def next_request_ok_at(conn, target, want):
    conn.request("GET", target)
    r = conn.read_response("GET")
    assert r.status == 200 and r.body == want, r


def test_xml_body_that_stops_coming_is_cut_at_the_deadline(start_server, root):
    """A body held back past --send-timeout: the connection closes (the
    read deadline), and the server goes on serving others."""
    srv = start_server(root, "--send-timeout", "1")
    with HttpConn(srv.port) as c:
        c.request("PROPFIND", "/", [("Depth", "0"), ("Content-Length", "100")])
        c.send(b"<propfind")
        assert c.closed_by_peer(timeout=5.0)
    with HttpConn(srv.port) as c:
        next_request_ok(c)
