"""The listing page in a real browser: Debian's chromium, headless, driven
through the DevTools protocol by tests/e2e/cdp.py (no browser download, no
npm). Each test starts its own ferry and its own chromium on loopback and
stops both by PID."""
import base64
import hashlib
import io
import os
import struct
import tarfile
import time
import zlib

import pytest

import cdp
from ferrylib import need_tool

need_tool(cdp.CHROMIUM)

SIZES = {"small.txt": 10, "medium.bin": 20_000, "large.bin": 3_000_000}


@pytest.fixture
def root(tmp_path):
    r = tmp_path / "root"
    r.mkdir()
    for i, (name, size) in enumerate(SIZES.items()):
        (r / name).write_bytes(os.urandom(size))
        t = time.time() - 1000 * (i + 1)
        os.utime(r / name, (t, t))
    (r / "folder").mkdir()
    (r / "folder" / "inner.txt").write_bytes(b"inside the folder\n")
    (r / "folder" / "deeper").mkdir()
    (r / "folder" / "deeper" / "deep.bin").write_bytes(os.urandom(70_000))
    return r


@pytest.fixture
def browser():
    with cdp.Browser() as b:
        yield b


def png_info(data):
    """(width, height, distinct byte values in the decompressed pixels)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, w, h = 8, b"", 0, 0
    while pos < len(data):
        n, kind = struct.unpack("!I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h = struct.unpack("!II", chunk[:8])
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + n
    return w, h, len(set(zlib.decompress(idat)))


def entry_names(b):
    return b.eval("Array.from(document.querySelectorAll('tbody tr td:first-child a'))"
                  ".map(a => a.textContent).filter(t => t !== '../')")


def test_listing_renders(start_server, root, browser):
    srv = start_server(root, "-q")
    browser.navigate(srv.url)
    text = browser.eval("document.body.innerText")
    for name in [*SIZES, "folder/"]:
        assert name in text, text
    shot = browser.screenshot()
    w, h, distinct = png_info(shot)
    assert 300 <= w <= 4000 and 300 <= h <= 4000, (w, h)
    assert len(shot) > 2000
    assert distinct > 8, "the screenshot is blank"
    # The page's script ran under its Content-Security-Policy.
    assert browser.eval("typeof window.ferry") == "object"
    assert browser.eval("document.querySelector('input[type=file]')") is None


def test_sorting_by_size_through_the_links(start_server, root, browser):
    srv = start_server(root, "-q")
    browser.navigate(srv.url)
    assert entry_names(browser) == ["folder/", "large.bin", "medium.bin", "small.txt"]
    browser.click("a.sort[href*='sort=size']")
    browser.wait_event("Page.loadEventFired")
    assert "sort=size&order=asc" in browser.eval("location.search")
    assert entry_names(browser) == ["folder/", "small.txt", "medium.bin", "large.bin"]
    browser.click("a.sort[href*='sort=size']")  # the same head again: the other way
    browser.wait_event("Page.loadEventFired")
    assert "order=desc" in browser.eval("location.search")
    assert entry_names(browser) == ["folder/", "large.bin", "medium.bin", "small.txt"]
    browser.click("a.sort[href*='sort=date']")
    browser.wait_event("Page.loadEventFired")
    # Oldest first: the files were dated one after the other into the past.
    assert entry_names(browser)[1:] == ["large.bin", "medium.bin", "small.txt"]


def test_upload_two_files_with_progress(start_server, root, tmp_path, browser):
    srv = start_server(root, "-q", "--upload")
    src = tmp_path / "src"
    src.mkdir()
    files = {"first upload.bin": os.urandom(4_000_000), "zweite-ü.txt": os.urandom(300_000)}
    for name, data in files.items():
        (src / name).write_bytes(data)
    browser.navigate(srv.url)
    browser.set_files("#files", [src / n for n in files])
    browser.wait_for("document.querySelectorAll('#queue li').length === 2 && "
                     "Array.from(document.querySelectorAll('#queue li'))"
                     ".every(li => li.className === 'done' || li.className === 'failed')",
                     timeout=60)
    rows = browser.eval("Array.from(document.querySelectorAll('#queue li')).map(li => "
                        "[li.querySelector('.qn').textContent, li.className, "
                        "li.querySelector('progress').value, +li.dataset.events])")
    assert sorted(r[0] for r in rows) == sorted(files)
    for name, state, value, events in rows:
        assert state == "done", rows
        assert value == 100, rows
        assert events >= 1, "no upload progress event was seen"
    for name, data in files.items():
        assert hashlib.sha256((root / name).read_bytes()).digest() == hashlib.sha256(data).digest()
    # The table is refreshed with the new files.
    browser.wait_for("document.querySelector('tbody').textContent.indexOf('first upload.bin') >= 0")


def test_upload_refused_without_rights(start_server, root, browser):
    srv = start_server(root, "-q")
    browser.navigate(srv.url)
    assert browser.eval("document.querySelector('#files, #folder, #drop, #mkdir, button.del')") is None
    browser.eval("window.ferry.upload([new File(['forced'], 'forced.txt')])")
    state = browser.wait_for("(function(){var li=document.querySelector('#queue li');"
                             "return li && li.className === 'failed' && "
                             "li.querySelector('.qs').textContent;})()")
    assert "405" in state, state
    assert not (root / "forced.txt").exists()


def test_new_folder_and_delete_from_the_page(start_server, root, browser):
    srv = start_server(root, "-q", "--upload")
    browser.navigate(srv.url)
    browser.eval("document.getElementById('dirname').value = 'made here'")
    browser.click("#mkdir")
    browser.wait_for("document.getElementById('msg').textContent === 'created made here'")
    assert (root / "made here").is_dir()
    browser.wait_for("document.querySelector('tbody').textContent.indexOf('made here/') >= 0")
    sel = "tbody tr:nth-child(3) button.del"  # folder/, made here/, large.bin
    assert browser.eval(f"document.querySelector('{sel}').closest('tr').querySelector('a')"
                        ".textContent") == "large.bin"
    browser.click(sel)
    assert (root / "large.bin").exists(), "one click only arms the button"
    browser.click(sel)
    browser.wait_for("document.getElementById('msg').textContent.indexOf('deleted') === 0")
    assert not (root / "large.bin").exists()


def test_folder_download_as_tar(start_server, root, tmp_path, browser):
    srv = start_server(root, "-q")
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    browser.call("Browser.setDownloadBehavior", behavior="allow", downloadPath=str(downloads),
                 eventsEnabled=True)
    browser.navigate(srv.url + "folder/")
    browser.click("a.tar")
    browser.wait_event("Browser.downloadProgress", timeout=30,
                       pred=lambda p: p.get("state") == "completed")
    got = os.listdir(downloads)
    assert got == ["folder.tar"], got
    with tarfile.open(downloads / "folder.tar") as t:
        names = sorted(t.getnames())
        assert names == ["folder", "folder/deeper", "folder/deeper/deep.bin", "folder/inner.txt"]
        assert t.extractfile("folder/deeper/deep.bin").read() == \
            (root / "folder" / "deeper" / "deep.bin").read_bytes()
    # And through the page's own fetch, with the response's headers.
    r = browser.eval("fetch('?tar').then(r => r.arrayBuffer().then(b => [r.status, "
                     "r.headers.get('content-type'), r.headers.get('content-disposition'), "
                     "btoa(String.fromCharCode.apply(null, new Uint8Array(b)))]))",
                     await_promise=True)
    assert r[0] == 200 and r[1] == "application/x-tar", r[:3]
    assert 'filename="folder.tar"' in r[2]

    with tarfile.open(fileobj=io.BytesIO(base64.b64decode(r[3]))) as t:
        assert t.extractfile("folder/inner.txt").read() == b"inside the folder\n"


def test_upload_a_folder_through_the_folder_picker(start_server, root, tmp_path, browser):
    srv = start_server(root, "-q", "--upload")
    pick = tmp_path / "pick" / "album"
    (pick / "2024" / "june").mkdir(parents=True)
    want = {"album/cover.txt": b"cover\n", "album/2024/a.bin": os.urandom(50_000),
            "album/2024/june/b.bin": os.urandom(70_000)}
    for rel, data in want.items():
        (tmp_path / "pick" / rel).write_bytes(data)
    browser.navigate(srv.url + "folder/")
    browser.set_files("#folder", [pick])
    browser.wait_for("document.querySelectorAll('#queue li').length === 3 && "
                     "Array.from(document.querySelectorAll('#queue li'))"
                     ".every(li => li.className === 'done' || li.className === 'failed')",
                     timeout=60)
    states = browser.eval("Array.from(document.querySelectorAll('#queue li')).map(li => "
                          "li.className + ' ' + li.querySelector('.qs').textContent)")
    assert states == ["done done"] * 3, states
    for rel, data in want.items():
        assert (root / "folder" / rel).read_bytes() == data, rel


def test_drop_a_file_and_a_folder(start_server, root, tmp_path, browser):
    # A real drag of paths onto the drop zone (Input.dispatchDragEvent): the
    # page walks the folder with webkitGetAsEntry and uploads all of it.
    srv = start_server(root, "-q", "--upload")
    src = tmp_path / "src"
    (src / "dropped" / "inner").mkdir(parents=True)
    want = {"solo.txt": b"solo\n", "dropped/one.txt": os.urandom(10_000),
            "dropped/inner/two.bin": os.urandom(40_000)}
    for rel, data in want.items():
        (src / rel).write_bytes(data)
    browser.navigate(srv.url)
    x, y = browser.eval("(function(){var r=document.getElementById('drop').getBoundingClientRect();"
                        "return [r.left + r.width / 2, r.top + r.height / 2];})()")
    data = {"items": [], "files": [str(src / "dropped"), str(src / "solo.txt")],
            "dragOperationsMask": 1}
    for kind in ("dragEnter", "dragOver", "drop"):
        browser.page("Input.dispatchDragEvent", type=kind, x=x, y=y, data=data)
    browser.wait_for("document.querySelectorAll('#queue li.done').length === 3", timeout=60)
    for rel, data in want.items():
        assert (root / rel).read_bytes() == data, rel


def test_cancel_an_upload_leaves_nothing(start_server, root, tmp_path, browser):
    # The browser's network is throttled so the upload is still going when
    # its cancel is clicked; the server then sees a cut body and keeps nothing.
    srv = start_server(root, "-q", "--upload")
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(4_000_000))
    browser.navigate(srv.url)
    browser.page("Network.emulateNetworkConditions", offline=False, latency=0,
                 downloadThroughput=-1, uploadThroughput=200_000)
    browser.set_files("#files", [big])
    browser.wait_for("(function(){var li=document.querySelector('#queue li');"
                     "return li && li.className === 'sending';})()")
    browser.click("#queue li button.cancel")
    state = browser.wait_for("(function(){var li=document.querySelector('#queue li');"
                             "return li.className === 'failed' && li.querySelector('.qs').textContent;})()")
    assert state == "cancelled"
    browser.page("Network.emulateNetworkConditions", offline=False, latency=0,
                 downloadThroughput=-1, uploadThroughput=-1)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(n.startswith(".ferry-up") for n in os.listdir(root)):
        time.sleep(0.1)
    # The page's uploads are resumable: the server's store of them stays,
    # empty.
    assert os.listdir(root / ".ferry-uploads") == []
    assert sorted(os.listdir(root)) == [".ferry-uploads", "folder", "large.bin", "medium.bin",
                                        "small.txt"]


def test_delete_a_file_whose_name_is_not_utf8(start_server, tmp_path, browser):
    root = tmp_path / "r8"
    root.mkdir()
    (root / os.fsdecode(b"\xff\xfe.bin")).write_bytes(b"x")
    srv = start_server(root, "-q", "--upload")
    browser.navigate(srv.url)
    assert browser.eval("document.querySelector('tbody a').getAttribute('href')") == "./%FF%FE.bin"
    browser.click("tbody button.del")
    browser.click("tbody button.del")
    browser.wait_for("document.getElementById('msg').textContent === 'deleted /%FF%FE.bin'")
    assert os.listdir(root) == []


def test_upload_refused_by_the_rights(start_server, root, tmp_path, browser):
    """With --upload and --auth, where anyone may only read: the page shows
    no upload controls, and a PUT from the page without credentials (a
    browser would otherwise ask for a password) is refused with 401 and
    writes nothing."""
    auth = tmp_path / "auth"
    auth.write_text("*::ro:/\n")
    srv = start_server(root, "-q", "--upload", "--auth", str(auth))
    browser.navigate(srv.url)
    assert browser.eval("document.querySelector('tbody').textContent.indexOf('large.bin') >= 0")
    assert browser.eval("document.querySelector('#files, #folder, #drop, #mkdir, button.del')") is None
    status = browser.eval("fetch('forced.txt', {method: 'PUT', body: 'forced', credentials: 'omit'})"
                          ".then(function (r) { return r.status; })", await_promise=True)
    assert status == 401
    assert not (root / "forced.txt").exists()


UPLOADED = b"""<!DOCTYPE html><title>as uploaded</title><p id=text>a page from a writer</p>
<script>
document.title = 'script ran';
try { document.title += ' read:' + localStorage.getItem('victim'); } catch (e) {}
fetch('/secret.txt', {credentials: 'include'}).then(function (r) { return r.text(); })
  .then(function (t) { document.title += ' fetched:' + t; });
</script>
"""


def test_uploaded_html_runs_sandboxed(start_server, root, browser):
    """An HTML file from the tree (one a writer of /incoming could have put
    there) still renders, but its script does not run and the page has no
    origin: the site's storage and a same-origin fetch with the viewer's
    credentials are out of its reach."""
    (root / "secret.txt").write_bytes(b"the viewer's secret")
    (root / "evil.html").write_bytes(UPLOADED)
    srv = start_server(root, "-q")
    browser.navigate(srv.url)
    browser.eval("localStorage.setItem('victim', 'stored by the site'), 1")
    browser.navigate(srv.url + "evil.html")
    assert browser.eval("document.getElementById('text').textContent") == "a page from a writer"
    assert browser.eval("document.title") == "as uploaded"
    assert browser.eval("self.origin") == "null"
    assert browser.eval("(function () { try { return localStorage.getItem('victim'); }"
                        " catch (e) { return e.name; } })()") == "SecurityError"
    got = browser.eval("fetch('/secret.txt', {credentials: 'include'}).then(function (r) {"
                       " return r.text(); }, function (e) { return 'refused: ' + e.name; })",
                       await_promise=True)
    assert got == "refused: TypeError", got


def test_uploaded_svg_shows_but_runs_no_script(start_server, root, browser):
    """An SVG opened on its own is drawn, but its script does not run."""
    (root / "pic.svg").write_bytes(
        b'<svg xmlns="http://www.w3.org/2000/svg" width="120" height="80" id="pic">'
        b'<rect width="120" height="80" fill="teal"/>'
        b"<script>document.documentElement.setAttribute('data-ran', 'yes')</script></svg>")
    srv = start_server(root, "-q")
    browser.navigate(srv.url + "pic.svg")
    assert browser.eval("document.documentElement.id") == "pic"
    assert browser.eval("document.documentElement.getBBox().width") == 120
    assert browser.eval("document.documentElement.getAttribute('data-ran')") is None
