"""The page's resumable uploads in a real browser (Debian's chromium,
headless, over the DevTools protocol: tests/e2e/cdp.py): cut by going
offline, by the server being killed, by a reload; behind HAProxy with a
body limit below the file's size; through a proxy that flips a byte.

Sizes: 64 MiB files in parts of 4 MiB (--upload-part 4M), the browser's
upload throttled to 24 MB/s by DevTools so that "at 30 %" is a moment a
poll can catch; the issue's 300 MiB would take minutes on the shared
machine for no more coverage. Every wait is bounded."""
import base64
import hashlib
import json
import os
import signal
import socket
import subprocess
import threading
import time

import pytest

import cdp
from ferrylib import FERRY, FerryServer, HttpConn, need_tool
from peers import free_port, wait_for

need_tool(cdp.CHROMIUM)

MIB = 1 << 20
SIZE = 64 * MIB
PART = 4 * MIB
RATE = 24_000_000  # bytes/s, DevTools' upload throttle
DONE_TIMEOUT = 120
SCREENS = os.path.join(os.path.dirname(__file__), "screens")


@pytest.fixture
def browser():
    with cdp.Browser(timeout=30) as b:
        yield b


@pytest.fixture
def root(tmp_path):
    r = tmp_path / "root"
    r.mkdir()
    (r / "already-here.txt").write_bytes(b"hello\n")
    return r


def make_file(path, size=SIZE, mtime=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, 4 * MIB)
            f.write(os.urandom(n))
            left -= n
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def throttle(b, offline=False, rate=RATE):
    b.page("Network.emulateNetworkConditions", offline=offline, latency=0,
           downloadThroughput=-1, uploadThroughput=rate)


STATE = ("window.ferry.uploads.map(u => ({status: u.status, message: u.message, offset: u.offset,"
         " done: u.done(), sent: u.sent, size: u.size, said: u.said, location: u.location,"
         " target: u.target}))")


def uploads(b):
    return b.eval(STATE)


def wait_progress(b, fraction, timeout=60):
    """Waits until the first upload has fraction of its bytes on the way."""
    return b.wait_for(f"(function(){{var u=window.ferry.uploads[0];"
                      f"return u && u.size > 0 && u.done() >= {fraction} * u.size && u.done();}})()",
                      timeout=timeout)


def wait_finished(b, n=1, timeout=DONE_TIMEOUT):
    b.wait_for(f"window.ferry.uploads.length === {n} && "
               "window.ferry.uploads.every(u => u.finished())", timeout=timeout, step=0.25)
    return uploads(b)


def store(b):
    return json.loads(b.eval("localStorage.getItem('ferry.uploads') || '{}'"))


def head(port, path):
    with HttpConn(port) as c:
        c.request("HEAD", path)
        return c.read_response("HEAD")


def server_offset(port, location, timeout=10):
    """The server's offset for location once it stays the same for half a
    second (a cut request may still be landing)."""
    path = location.split(f":{port}", 1)[1]
    last, since, deadline = None, time.monotonic(), time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = head(port, path)
        assert r.status == 204, r
        off = int(r.header("Upload-Offset"))
        if off != last:
            last, since = off, time.monotonic()
        elif time.monotonic() - since >= 0.5:
            return off
        time.sleep(0.1)
    raise AssertionError(f"the offset of {location} did not settle")


def test_offline_at_30_percent_then_online(start_server, root, tmp_path, browser):
    srv = start_server(root, "-q", "--upload", "--upload-part", "4M")
    src = make_file(tmp_path / "src" / "big.bin")
    browser.navigate(srv.url)
    assert browser.eval("window.isSecureContext") is True
    assert browser.eval("document.body.dataset.uploadPart") == str(PART)
    throttle(browser)
    browser.set_files("#files", [src])
    wait_progress(browser, 0.3)
    throttle(browser, offline=True)
    browser.wait_for("window.ferry.uploads[0].message === 'waiting for the network'", timeout=20)
    time.sleep(1.5)
    throttle(browser)
    [u] = wait_finished(browser)
    assert u["status"] == "done", u
    assert u["sent"] <= SIZE + PART, u
    assert any(m.startswith("resuming at ") for m in u["said"]), u["said"]
    assert digest(root / "big.bin") == digest(src)
    assert store(browser) == {}
    # The finished file is in the listing.
    browser.wait_for("document.querySelector('tbody').textContent.indexOf('big.bin') >= 0")


def test_server_killed_and_restarted_mid_upload(start_server, root, tmp_path, browser):
    first = FerryServer(root, ("-q", "--upload", "--upload-part", "4M"))
    try:
        src = make_file(tmp_path / "src" / "big.bin")
        browser.navigate(first.url)
        throttle(browser)
        browser.set_files("#files", [src])
        wait_progress(browser, 0.3)
        first.proc.send_signal(signal.SIGKILL)
        assert first.wait(10) == -signal.SIGKILL
        browser.wait_for("window.ferry.uploads[0].status === 'retrying'", timeout=20)
        time.sleep(1)
        srv = start_server(root, "-q", "--upload", "--upload-part", "4M", "-p", str(first.port))
        assert srv.port == first.port
        [u] = wait_finished(browser)
    finally:
        first.kill()
    assert u["status"] == "done", u
    assert u["sent"] <= SIZE + PART, u
    assert digest(root / "big.bin") == digest(src)


def test_reload_at_half_then_the_same_file_resumes(start_server, root, tmp_path, browser):
    srv = start_server(root, "-q", "--upload", "--upload-part", "4M")
    src = make_file(tmp_path / "src" / "big.bin", mtime=1_600_000_000)
    browser.navigate(srv.url)
    throttle(browser)
    browser.set_files("#files", [src])
    wait_progress(browser, 0.5)
    browser.navigate(srv.url)  # the reload: the page and its requests go away
    [rec] = store(browser).values()
    assert rec["size"] == SIZE and rec["lastModified"] == 1_600_000_000_000, rec
    assert rec["target"] == "/big.bin"
    listed = browser.eval("Array.from(document.querySelectorAll('#unfinished li'))"
                          ".map(li => li.dataset.target)")
    assert listed == ["/big.bin"]
    offset = server_offset(srv.port, rec["location"])
    assert SIZE * 0.4 <= offset < SIZE, offset
    throttle(browser, rate=-1)
    browser.set_files("#files", [src])
    [u] = wait_finished(browser)
    assert u["status"] == "done", u
    assert u["location"] == rec["location"]
    assert u["sent"] == SIZE - offset, (u, offset)
    assert digest(root / "big.bin") == digest(src)
    assert browser.eval("document.querySelector('#unfinished')") is None


def test_another_file_of_the_same_name_and_size_starts_anew(start_server, root, tmp_path, browser):
    srv = start_server(root, "-q", "--upload", "--upload-part", "4M")
    a = make_file(tmp_path / "a" / "same.bin", mtime=1_600_000_000)
    b = make_file(tmp_path / "b" / "same.bin", mtime=1_700_000_000)
    browser.navigate(srv.url)
    throttle(browser)
    browser.set_files("#files", [a])
    wait_progress(browser, 0.3)
    browser.navigate(srv.url)
    [old] = store(browser).values()
    throttle(browser, rate=-1)
    browser.set_files("#files", [b])
    [u] = wait_finished(browser)
    assert u["status"] == "done", u
    assert u["location"] != old["location"]
    assert u["sent"] == SIZE, u  # all of it: nothing taken from a's upload
    assert digest(root / "same.bin") == digest(b)
    # a's upload was deleted from the server, and forgotten.
    path = old["location"].split(f":{srv.port}", 1)[1]
    assert wait_for(lambda: head(srv.port, path).status == 404, timeout=10)
    assert store(browser) == {}


def test_pause_holds_and_resume_goes_on_from_the_server_offset(start_server, root, tmp_path,
                                                                browser):
    srv = start_server(root, "-q", "--upload", "--upload-part", "4M")
    src = make_file(tmp_path / "src" / "paused.bin", size=32 * MIB)
    browser.navigate(srv.url)
    throttle(browser, rate=8_000_000)
    browser.set_files("#files", [src])
    wait_progress(browser, 0.25)
    browser.click("#queue li button.pause")
    browser.wait_for("window.ferry.uploads[0].status === 'paused'", timeout=10)
    assert browser.eval("document.querySelector('#queue li button.pause').textContent") == "resume"
    location = browser.eval("window.ferry.uploads[0].location")
    held = server_offset(srv.port, location)
    time.sleep(1)
    assert server_offset(srv.port, location) == held, "bytes arrived while paused"
    throttle(browser, rate=-1)
    browser.click("#queue li button.pause")
    [u] = wait_finished(browser)
    assert u["status"] == "done", u
    assert u["sent"] <= 32 * MIB + PART, u
    assert digest(root / "paused.bin") == digest(src)


class HttpHAProxy:
    """HAProxy in HTTP mode on a loopback port in front of ferry, refusing
    (413) any request whose Content-Length is over limit."""

    def __init__(self, workdir, backend_port, limit):
        self.port = free_port()
        conf = ["global", "    maxconn 64", "defaults", "    mode http",
                "    timeout connect 5s", "    timeout client 60s", "    timeout server 60s",
                "frontend f", f"    bind 127.0.0.1:{self.port}",
                f"    http-request deny deny_status 413 if {{ req.hdr_val(content-length) gt {limit} }}",
                "    default_backend b", "backend b", f"    server s 127.0.0.1:{backend_port}"]
        path = os.path.join(os.fspath(workdir), "haproxy.cfg")
        with open(path, "w") as f:
            f.write("\n".join(conf) + "\n")
        self.log = open(os.path.join(os.fspath(workdir), "haproxy.log"), "wb")
        self.proc = subprocess.Popen([need_tool("haproxy"), "-f", path, "-db"],
                                     stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT)

        def up():
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return True
            except OSError:
                return False
        if not wait_for(up, timeout=10):
            self.stop()
            raise AssertionError("haproxy did not start")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()


def test_behind_haproxy_with_a_body_limit_below_the_file(start_server, root, tmp_path, browser):
    srv = start_server(root, "-q", "--upload", "--upload-part", "4M")
    hap = HttpHAProxy(tmp_path, srv.port, 6 * MIB)
    try:
        # One PUT of the whole file is refused by the proxy ...
        with HttpConn(hap.port) as c:
            c.request("PUT", "/whole.bin", [("Content-Length", str(SIZE))])
            r = c.read_response("PUT")
        assert r.status == 413, r
        # ... the page's parts pass.
        src = make_file(tmp_path / "src" / "big.bin")
        browser.navigate(f"http://127.0.0.1:{hap.port}/")
        browser.set_files("#files", [src])
        [u] = wait_finished(browser)
    finally:
        hap.stop()
    assert u["status"] == "done", u
    assert digest(root / "big.bin") == digest(src)


class FlipProxy:
    """A TCP proxy in front of ferry that reads the requests going through
    (heads and Content-Length bodies) and flips one byte in the middle of
    the body of the flip-th PATCH. requests: (method, Upload-Offset,
    Content-Digest) of each."""

    def __init__(self, backend_port, flip=2):
        self.backend = backend_port
        self.flip = flip
        self.patches = 0
        self.flipped = False
        self.requests = []
        self.lock = threading.Lock()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stopping = False
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    def _accept(self):
        while not self.stopping:
            try:
                c, _ = self.sock.accept()
            except OSError:
                continue
            s = socket.create_connection(("127.0.0.1", self.backend), timeout=10)
            for src, dst, up in ((c, s, True), (s, c, False)):
                t = threading.Thread(target=self._pipe, args=(src, dst, up), daemon=True)
                t.start()
                self.threads.append(t)

    def _pipe(self, src, dst, upstream):
        src.settimeout(60)
        head, body_left, flip_at = b"", 0, -1
        try:
            while not self.stopping:
                data = src.recv(65536)
                if not data:
                    break
                if upstream:
                    data = bytearray(data)
                    pos = 0
                    while pos < len(data):
                        if body_left > 0:
                            n = min(body_left, len(data) - pos)
                            if 0 <= flip_at < n:
                                data[pos + flip_at] ^= 0x20
                                flip_at = -1
                            elif flip_at >= 0:
                                flip_at -= n
                            body_left -= n
                            pos += n
                            continue
                        end = (head + bytes(data[pos:])).find(b"\r\n\r\n")
                        if end < 0:
                            head += bytes(data[pos:])
                            break
                        took = end + 4 - len(head)
                        head += bytes(data[pos:pos + took])
                        pos += took
                        body_left, flip_at = self._request(head)
                        head = b""
                    data = bytes(data)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for x in (src, dst):
                try:
                    x.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def _request(self, head):
        lines = head.decode("latin-1").split("\r\n")
        method = lines[0].split(" ", 1)[0]
        fields = {}
        for line in lines[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                fields[k.strip().lower()] = v.strip()
        length = int(fields.get("content-length", "0"))
        flip_at = -1
        with self.lock:
            self.requests.append((method, fields.get("upload-offset"), fields.get("content-digest")))
            if method == "PATCH":
                self.patches += 1
                if self.patches == self.flip and length > 0:
                    flip_at = length // 2
                    self.flipped = True
        return length, flip_at

    def stop(self):
        self.stopping = True
        self.sock.close()


def test_a_part_flipped_on_the_way_is_refused_and_sent_again(start_server, root, tmp_path, browser):
    srv = start_server(root, "-q", "--upload", "--upload-part", "4M", "--digest")
    proxy = FlipProxy(srv.port, flip=2)
    try:
        src = make_file(tmp_path / "src" / "mid.bin", size=16 * MIB)
        browser.navigate(f"http://127.0.0.1:{proxy.port}/")
        browser.set_files("#files", [src])
        [u] = wait_finished(browser)
        # The server's digest of the whole file is shown in the row
        # (--digest: known once the upload completes).
        want = base64.b64encode(hashlib.sha256(src.read_bytes()).digest()).decode()
        shown = browser.wait_for("(function(){var q=document.querySelector('#queue li .qi');"
                                 "return q && q.textContent.indexOf('sha-256') >= 0 && "
                                 "q.textContent;})()")
        assert shown == "sha-256 on the server: " + want
    finally:
        proxy.stop()
    assert proxy.flipped
    assert u["status"] == "done", u
    assert digest(root / "mid.bin") == digest(src)
    patches = [r for r in proxy.requests if r[0] == "PATCH"]
    assert all(r[2] and r[2].startswith("sha-256=:") for r in patches), patches
    offsets = [r[1] for r in patches]
    assert offsets == [str(PART * i) for i in (0, 1, 1, 2, 3)], offsets
    assert u["sent"] == 16 * MIB + PART, u


def test_filter_box_and_screens_mid_upload(start_server, root, tmp_path, browser):
    """Screenshots of the page in the middle of two uploads, desktop and
    phone width, written to tests/e2e/screens/ when FERRY_SCREENS=1 (a
    person looks at them: this test only checks that they are not blank)."""
    for name in ("alpha.txt", "beta.txt", "gamma.bin"):
        (root / name).write_bytes(b"x" * 10)
    srv = start_server(root, "-q", "--upload", "--upload-part", "4M")
    browser.navigate(srv.url)
    browser.eval("(function(){var f=document.getElementById('filter');f.value='ALP';"
                 "f.dispatchEvent(new Event('input'));})()")
    shown = browser.eval("Array.from(document.querySelectorAll('tbody tr')).filter(tr => !tr.hidden)"
                         ".map(tr => tr.querySelector('a').textContent)")
    assert shown == ["alpha.txt"], shown
    browser.eval("(function(){var f=document.getElementById('filter');f.value='';"
                 "f.dispatchEvent(new Event('input'));})()")
    assert browser.eval("document.querySelectorAll('tbody tr:not([hidden])').length") == 4
    one = make_file(tmp_path / "src" / "holiday video.mp4", size=32 * MIB)
    two = make_file(tmp_path / "src" / "report-final.pdf", size=24 * MIB)
    throttle(browser, rate=4_000_000)
    browser.set_files("#files", [one, two])
    browser.wait_for("window.ferry.uploads.length === 2 && window.ferry.uploads.every("
                     "u => u.done() > 0.1 * u.size && u.speed > 0)", timeout=30)
    for name, width, height, mobile in (("desktop", 1280, 800, False), ("phone", 390, 844, True)):
        browser.page("Emulation.setDeviceMetricsOverride", width=width, height=height,
                     deviceScaleFactor=1, mobile=mobile)
        time.sleep(0.3)
        shot = browser.screenshot()
        assert shot[:8] == b"\x89PNG\r\n\x1a\n" and len(shot) > 5000
        if os.environ.get("FERRY_SCREENS") == "1":
            os.makedirs(SCREENS, exist_ok=True)
            with open(os.path.join(SCREENS, f"page-upload-{name}.png"), "wb") as f:
                f.write(shot)
    browser.click("#queue li button.cancel")
    browser.eval("document.querySelectorAll('#queue li button.cancel')[1].click()")
    wait_finished(browser, n=2, timeout=30)


@pytest.mark.parametrize("size", ["1K", "63K", "2G", "0", "lots"])
def test_upload_part_out_of_range_is_a_usage_error(tmp_path, size):
    r = subprocess.run([FERRY, "serve", "-p", "0", "-b", "127.0.0.1", "--upload-part", size,
                        os.fspath(tmp_path)], capture_output=True, timeout=10)
    assert r.returncode == 2, r
    assert b"--upload-part takes a size from 64K to 1G" in r.stderr


def test_upload_part_reaches_only_writable_pages(start_server, root):
    srv = start_server(root, "-q", "--upload", "--upload-part", "64K")
    with HttpConn(srv.port) as c:
        c.request("GET", "/")
        page = c.read_response("GET").body
    assert b' data-upload-part="65536"' in page
    ro = start_server(root, "-q", "--upload-part", "64K")
    with HttpConn(ro.port) as c:
        c.request("GET", "/")
        page = c.read_response("GET").body
    assert b"data-upload-part" not in page
