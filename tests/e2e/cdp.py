"""A small Chrome DevTools Protocol client over the Python standard library.

Chromium starts headless with a fresh profile and --remote-debugging-port=0;
it prints "DevTools listening on ws://127.0.0.1:PORT/devtools/browser/ID" on
stderr, and we speak to that WebSocket (RFC 6455, our own minimal client:
text frames, masked as a client must, fragmentation, ping/pong, close).
One browser connection carries everything: Target.createTarget makes a
page, Target.attachToTarget(flatten) gives a session whose commands carry
its sessionId. Every wait has a deadline."""
import base64
import hashlib
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time
import urllib.parse

CHROMIUM = "/usr/bin/chromium"
WS_RE = re.compile(r"DevTools listening on (ws://[^\s]+)")
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 §1.3


class CdpError(Exception):
    pass


class WebSocket:
    """A client WebSocket on a blocking socket with a timeout per receive."""

    def __init__(self, url, timeout=10.0):
        u = urllib.parse.urlsplit(url)
        assert u.scheme == "ws", url
        self.sock = socket.create_connection((u.hostname, u.port), timeout=timeout)
        self.buf = bytearray()
        key = base64.b64encode(os.urandom(16)).decode()
        path = u.path + (("?" + u.query) if u.query else "")
        self.sock.sendall((f"GET {path} HTTP/1.1\r\nHost: {u.hostname}:{u.port}\r\n"
                           "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        while b"\r\n\r\n" not in self.buf:
            self._fill()
            if len(self.buf) > 65536:
                raise CdpError("handshake response too large")
        end = self.buf.index(b"\r\n\r\n") + 4
        head = bytes(self.buf[:end]).decode("latin-1")
        del self.buf[:end]
        if not head.startswith("HTTP/1.1 101"):
            raise CdpError(f"no upgrade: {head!r}")
        want = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
        accept = re.search(r"(?im)^sec-websocket-accept:\s*(\S+)", head)
        if accept is None or accept.group(1) != want:
            raise CdpError(f"bad Sec-WebSocket-Accept in {head!r}")

    def _fill(self):
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise CdpError("WebSocket closed by the browser")
        self.buf += chunk

    def _take(self, n):
        while len(self.buf) < n:
            self._fill()
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def _send_frame(self, opcode, payload):
        head = bytearray([0x80 | opcode])
        n = len(payload)
        if n < 126:
            head.append(0x80 | n)
        elif n < 65536:
            head.append(0x80 | 126)
            head += struct.pack("!H", n)
        else:
            head.append(0x80 | 127)
            head += struct.pack("!Q", n)
        mask = os.urandom(4)
        head += mask
        body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(bytes(head) + body)

    def send_text(self, text):
        self._send_frame(0x1, text.encode("utf-8"))

    def recv_text(self, timeout):
        """The next whole text message, or None on timeout."""
        self.sock.settimeout(timeout)
        message = bytearray()
        try:
            while True:
                b0, b1 = self._take(2)
                fin, opcode, n = b0 & 0x80, b0 & 0x0F, b1 & 0x7F
                if b1 & 0x80:
                    raise CdpError("a server frame must not be masked")
                if n == 126:
                    n = struct.unpack("!H", self._take(2))[0]
                elif n == 127:
                    n = struct.unpack("!Q", self._take(8))[0]
                if n > 256 << 20:
                    raise CdpError("frame too large")
                payload = self._take(n)
                if opcode == 0x9:  # ping
                    self._send_frame(0xA, payload)
                    continue
                if opcode == 0xA:
                    continue
                if opcode == 0x8:
                    raise CdpError("WebSocket closed by the browser")
                message += payload
                if fin:
                    return message.decode("utf-8")
        except (socket.timeout, TimeoutError):
            if message:
                raise CdpError("timed out inside a message")
            return None

    def close(self):
        try:
            self._send_frame(0x8, struct.pack("!H", 1000))
        except OSError:
            pass
        self.sock.close()


class Browser:
    """Headless chromium with one page. Use as a context manager."""

    def __init__(self, timeout=20.0):
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="ferry-chromium-")
        self.stderr_lines = []
        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--disable-extensions", "--disable-dev-shm-usage",
             "--no-proxy-server", "--remote-debugging-port=0", "--remote-debugging-address=127.0.0.1",
             "--window-size=1000,800", f"--user-data-dir={self.profile}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.pid = self.proc.pid
        found = threading.Event()
        self.ws_url = None

        def drain():
            for raw in iter(self.proc.stderr.readline, b""):
                line = raw.decode("utf-8", "replace").rstrip("\n")
                self.stderr_lines.append(line)
                m = WS_RE.search(line)
                if m and self.ws_url is None:
                    self.ws_url = m.group(1)
                    found.set()
            found.set()

        self._drain = threading.Thread(target=drain, daemon=True)
        self._drain.start()
        if not found.wait(timeout) or self.ws_url is None:
            self.stop()
            raise CdpError("chromium printed no DevTools URL: " + "\n".join(self.stderr_lines[-20:]))
        self.ws = WebSocket(self.ws_url, timeout)
        self.next_id = 0
        self.events = []
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "DOM", "Network"):
            self.page(f"{domain}.enable")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        ws = getattr(self, "ws", None)
        if ws is not None:
            ws.close()
            self.ws = None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        shutil.rmtree(self.profile, ignore_errors=True)

    # ---- protocol ----------------------------------------------------------

    def _send(self, method, params, session):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params}
        if session:
            msg["sessionId"] = session
        self.ws.send_text(json.dumps(msg))
        return self.next_id

    def _call(self, method, params, session, timeout=None):
        mid = self._send(method, params, session)
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise CdpError(f"no answer to {method} within the deadline")
            text = self.ws.recv_text(left)
            if text is None:
                continue
            msg = json.loads(text)
            if msg.get("id") == mid:
                if "error" in msg:
                    raise CdpError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)

    def call(self, method, **params):
        """A browser-level command."""
        return self._call(method, params, None)

    def page(self, method, **params):
        """A command for the page's session."""
        return self._call(method, params, self.session)

    def wait_event(self, method, timeout=None, pred=lambda p: True):
        """Waits for an event (also one already received); returns its params."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            for i, ev in enumerate(self.events):
                if ev["method"] == method and pred(ev.get("params", {})):
                    del self.events[: i + 1]
                    return ev.get("params", {})
            left = deadline - time.monotonic()
            if left <= 0:
                raise CdpError(f"no {method} event within the deadline")
            text = self.ws.recv_text(left)
            if text is not None:
                msg = json.loads(text)
                if "method" in msg:
                    self.events.append(msg)

    # ---- conveniences --------------------------------------------------------

    def navigate(self, url):
        self.events.clear()
        r = self.page("Page.navigate", url=url)
        if r.get("errorText"):
            raise CdpError(f"navigate {url}: {r['errorText']}")
        self.wait_event("Page.loadEventFired")

    def eval(self, expr, await_promise=False, timeout=None):
        """Evaluates a JavaScript expression in the page; its value (JSON)."""
        r = self._call("Runtime.evaluate", {"expression": expr, "returnByValue": True,
                                            "awaitPromise": await_promise}, self.session, timeout)
        if "exceptionDetails" in r:
            raise CdpError(f"JavaScript exception: {r['exceptionDetails']}")
        return r["result"].get("value")

    def wait_for(self, expr, timeout=None, step=0.1):
        """Polls a JavaScript expression until it is truthy; returns its value."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            v = self.eval(expr)
            if v:
                return v
            if time.monotonic() > deadline:
                raise CdpError(f"still false after the deadline: {expr}")
            time.sleep(step)

    def click(self, selector):
        """A real mouse click (pressed and released) in the middle of the element."""
        box = self.eval(f"(function(){{var e=document.querySelector({json.dumps(selector)});"
                        "if(!e)return null;e.scrollIntoView();var r=e.getBoundingClientRect();"
                        "return [r.left+r.width/2, r.top+r.height/2];})()")
        if box is None:
            raise CdpError(f"nothing matches {selector}")
        for kind in ("mousePressed", "mouseReleased"):
            self.page("Input.dispatchMouseEvent", type=kind, x=box[0], y=box[1], button="left",
                      clickCount=1)

    def screenshot(self):
        return base64.b64decode(self.page("Page.captureScreenshot", format="png")["data"])

    def set_files(self, selector, paths):
        root = self.page("DOM.getDocument")["root"]["nodeId"]
        node = self.page("DOM.querySelector", nodeId=root, selector=selector)["nodeId"]
        if not node:
            raise CdpError(f"nothing matches {selector}")
        self.page("DOM.setFileInputFiles", nodeId=node, files=[os.fspath(p) for p in paths])
