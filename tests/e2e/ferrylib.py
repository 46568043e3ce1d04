"""Helpers for the end-to-end tests: starting `ferry serve`, talking HTTP and
the raw protocol over loopback sockets. Every receive has a deadline and
every loop is bounded, so a misbehaving server fails a test instead of
hanging the suite."""
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time

import pytest

# The binary under test: $FERRY, else this checkout's build/ferry (never one
# outside the checkout, which could be another version).
FERRY = os.environ.get("FERRY") or os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "build", "ferry")

# "ferry: serving DIR on http://127.0.0.1:PORT/" (or http://[::1]:PORT/, or https://)
SERVING_RE = re.compile(r"^ferry: serving (?P<dir>.*) on (?P<scheme>https?)://(?P<host>\[[^\]]+\]|[^:/]+):(?P<port>\d+)/$")

TIMEOUT = 10.0  # seconds for any one exchange with the server
START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0
MAX_HEAD = 64 * 1024  # the most response head bytes we accept
MAX_BODY = 256 << 20  # the most bytes we read until close


TOOL_DIRS = ("/usr/sbin", "/sbin")  # Debian's haproxy, nginx, ip: not on every user's PATH


def find_tool(name):
    """The path of program name, on PATH or in TOOL_DIRS; None where it is missing."""
    return shutil.which(name) or shutil.which(name, path=os.pathsep.join(TOOL_DIRS))


def need_tool(name):
    """The path of program name, for a module or a test that cannot run
    without it (call it at module level or in the test). Where it is
    missing: under `make test` (which installs every tool in PKG_TEST and
    sets FERRY_NEED_TOOLS=1) it raises, so the module or the test fails;
    run by hand, the module or the test is skipped saying what is missing."""
    path = find_tool(name)
    if path is not None:
        return path
    msg = f"{name} is missing (make test installs it: PKG_TEST in the Makefile)"
    if os.environ.get("FERRY_NEED_TOOLS") == "1":
        raise RuntimeError(msg)
    pytest.skip(msg, allow_module_level=True)


def serving_match(line):
    """SERVING_RE's match for ferry serve's first stdout line: the text line,
    or with --log-format json the JSON object whose "urls" name the same
    (its first URL); None for anything else."""
    if line.startswith("{"):
        try:
            rec = json.loads(line)
            line = f"ferry: serving {rec['dir']} on {rec['urls'][0]}"
        except (ValueError, KeyError, IndexError, TypeError):
            return None
    return SERVING_RE.match(line)


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def file_sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for _ in range(1 << 20):
            block = f.read(1 << 20)
            if not block:
                break
            h.update(block)
    return h.hexdigest()


def clean_env():
    """The environment for curl and wget: no proxies, so loopback stays loopback."""
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env["NO_PROXY"] = env["no_proxy"] = "*"
    return env


def cpu_seconds(pid):
    """User plus system CPU time of a process, from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        stat = f.read().decode("ascii", "replace")
    fields = stat.rsplit(")", 1)[1].split()
    # fields[0] is the state (field 3); utime and stime are fields 14 and 15.
    ticks = int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


class FerryServer:
    """One `ferry serve` process on an ephemeral loopback port.

    stdout and stderr are drained by threads (the access log must never
    fill a pipe and block the server); the first stdout line gives the port."""

    def __init__(self, root, args=(), bind="127.0.0.1", threads=2, preexec_fn=None):
        self.root = root
        self.cmd = [FERRY, "serve", "-p", "0", "-b", bind, "--threads", str(threads), *args, os.fspath(root)]
        self.stdout_lines = []
        self.stderr_lines = []
        self._first = threading.Event()
        self._lock = threading.Lock()
        self.proc = subprocess.Popen(
            self.cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            preexec_fn=preexec_fn,
        )
        self.pid = self.proc.pid
        self._threads = [
            threading.Thread(target=self._drain, args=(self.proc.stdout, self.stdout_lines, True), daemon=True),
            threading.Thread(target=self._drain, args=(self.proc.stderr, self.stderr_lines, False), daemon=True),
        ]
        for t in self._threads:
            t.start()
        if not self._first.wait(START_TIMEOUT):
            self.kill()
            raise AssertionError(f"no 'serving' line within {START_TIMEOUT}s from {self.cmd}: "
                                 f"stderr={self.stderr_text()!r}")
        with self._lock:
            first = self.stdout_lines[0] if self.stdout_lines else ""
        m = serving_match(first)
        if m is None:
            self.kill()
            raise AssertionError(f"unexpected first line {first!r}; stderr={self.stderr_text()!r}")
        self.first_line = first
        self.host = m.group("host").strip("[]")
        self.port = int(m.group("port"))
        self.url = f"{m.group('scheme')}://{m.group('host')}:{self.port}/"
        self.returncode = None

    def _drain(self, pipe, lines, signal_first):
        for raw in iter(pipe.readline, b""):
            with self._lock:
                lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
            if signal_first:
                self._first.set()
        if signal_first:
            self._first.set()  # EOF: let the starter see that no line came

    def stdout_text(self):
        with self._lock:
            return "\n".join(self.stdout_lines)

    def stderr_text(self):
        with self._lock:
            return "\n".join(self.stderr_lines)

    def alive(self):
        return self.proc.poll() is None

    def send_signal(self, sig):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)

    def wait(self, timeout):
        """Waits for the process to exit; returns its status or None."""
        try:
            self.returncode = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        for t in self._threads:
            t.join(timeout=2)
        return self.returncode

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.wait(5)

    def stop(self, sig=signal.SIGTERM, timeout=STOP_TIMEOUT):
        """Stops the server with sig; returns its exit status, or None when
        it did not exit within timeout (it is then killed)."""
        self.send_signal(sig)
        rc = self.wait(timeout)
        if rc is None:
            self.kill()
        return rc

    def connect(self, timeout=TIMEOUT):
        return connect(self.port, self.host, timeout)

    def http(self, timeout=TIMEOUT):
        return HttpConn(self.port, self.host, timeout)


def build_preload(directory, name):
    """Compiles tests/e2e/NAME.c, a test's wrapper library, into
    directory/NAME.so for LD_PRELOAD (see preload_list); its path."""
    out = os.path.join(str(directory), name + ".so")
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), name + ".c")
    subprocess.run(["cc", "-shared", "-fPIC", "-o", out, src, "-ldl"], check=True, timeout=60)
    return out


def preload_list(lib):
    """LD_PRELOAD for a test's wrapper library lib: a sanitizer build's
    runtime must come first in the list, so it is named before lib when the
    binary links it."""
    out = subprocess.run(["ldd", FERRY], capture_output=True, text=True, timeout=30).stdout
    first = [ln.split("=>")[1].split()[0] for ln in out.splitlines()
             if "=>" in ln and ("libasan" in ln or "libubsan" in ln)]
    return ":".join(first + [str(lib)])


def connect(port, host="127.0.0.1", timeout=TIMEOUT, rcvbuf=None):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    try:
        if rcvbuf is not None:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.settimeout(timeout)
        s.connect((host, port))
    except BaseException:
        s.close()
        raise
    return s


def recv_until_close(sock, timeout=TIMEOUT, limit=MAX_BODY):
    """Reads until the peer closes. Returns the bytes; raises on timeout or
    when more than limit bytes arrive. A reset counts as a close."""
    out = bytearray()
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"peer did not close within {timeout}s ({len(out)} bytes read)")
        sock.settimeout(left)
        try:
            chunk = sock.recv(1 << 20)
        except (ConnectionResetError, BrokenPipeError):
            return bytes(out)
        if not chunk:
            return bytes(out)
        out += chunk
        if len(out) > limit:
            raise AssertionError(f"more than {limit} bytes before close")


def wait_closed(sock, timeout=TIMEOUT):
    """True when the peer closes (EOF or reset) within timeout with no more
    data; the data instead when some arrives; False on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            return True
        except (socket.timeout, TimeoutError):
            return False
        if not chunk:
            return True
        return chunk


class Response:
    def __init__(self, status, reason, version, headers, body, head):
        self.status = status
        self.reason = reason
        self.version = version
        self.headers = headers  # [(lowercased name, value)], in order
        self.body = body
        self.head = head  # the raw head bytes
        self.trailers = []  # [(lowercased name, value)] after a chunked body

    def header(self, name):
        name = name.lower()
        for k, v in self.headers:
            if k == name:
                return v
        return None

    def all(self, name):
        name = name.lower()
        return [v for k, v in self.headers if k == name]

    def __repr__(self):
        return f"<Response {self.status} {self.headers!r} body={len(self.body)}B>"


def build_request(method, target, headers=None, version="HTTP/1.1", body=b"", host="127.0.0.1"):
    """Request bytes; Host is added for HTTP/1.1 unless host is None or
    headers already name it. target may be str or bytes."""
    if isinstance(target, str):
        target = target.encode("latin-1")
    lines = [method.encode() + b" " + target + b" " + version.encode()]
    headers = list(headers or [])
    if host is not None and version == "HTTP/1.1" and not any(k.lower() == "host" for k, _ in headers):
        headers.insert(0, ("Host", host))
    for k, v in headers:
        lines.append(f"{k}: {v}".encode("latin-1"))
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


class HttpConn:
    """An HTTP/1.x client connection that keeps unread bytes, so pipelined
    responses can be read one after another."""

    def __init__(self, port, host="127.0.0.1", timeout=TIMEOUT, sock=None):
        self.sock = sock if sock is not None else connect(port, host, timeout)
        self.buf = bytearray()
        self.timeout = timeout
        self.eof = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self.sock.close()

    def send(self, data):
        self.sock.settimeout(self.timeout)
        self.sock.sendall(data)

    def request(self, method, target, headers=None, version="HTTP/1.1", body=b""):
        self.send(build_request(method, target, headers, version, body))

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no complete response before the deadline")
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(1 << 20)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def buffer_at_least(self, n, timeout=None):
        """Reads until n bytes are buffered (or the peer closes first)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while len(self.buf) < n:
            if not self._fill(deadline):
                raise ConnectionError(f"closed after {len(self.buf)} bytes")

    def read_response(self, method="GET", timeout=None):
        """Reads one response. The body is chunked (and given decoded), framed
        by Content-Length, or runs to the close when there is neither; HEAD,
        1xx, 204 and 304 have none."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while b"\r\n\r\n" not in self.buf:
            if len(self.buf) > MAX_HEAD:
                raise AssertionError("response head too large")
            if not self._fill(deadline):
                raise ConnectionError(f"closed before a response head; got {bytes(self.buf)!r}")
        end = self.buf.index(b"\r\n\r\n") + 4
        head = bytes(self.buf[:end])
        del self.buf[:end]
        lines = head[:-4].split(b"\r\n")
        status_line = lines[0].decode("latin-1")
        m = re.match(r"^(HTTP/\d\.\d) (\d{3})(?: (.*))?$", status_line)
        assert m, f"bad status line {status_line!r}"
        version, status, reason = m.group(1), int(m.group(2)), m.group(3) or ""
        headers = []
        for line in lines[1:]:
            name, sep, value = line.decode("latin-1").partition(":")
            assert sep, f"bad header line {line!r}"
            headers.append((name.strip().lower(), value.strip()))
        resp = Response(status, reason, version, headers, b"", head)
        if method == "HEAD" or status < 200 or status in (204, 304):
            return resp
        length = resp.header("content-length")
        if (resp.header("transfer-encoding") or "").lower() == "chunked":
            resp.body, resp.trailers = self._read_chunked(deadline)
        elif length is not None:
            n = int(length)
            while len(self.buf) < n:
                if not self._fill(deadline):
                    raise ConnectionError(f"closed after {len(self.buf)} of {n} body bytes")
            resp.body = bytes(self.buf[:n])
            del self.buf[:n]
        else:
            for _ in range(1 << 16):
                if not self._fill(deadline):
                    break
                if len(self.buf) > MAX_BODY:
                    raise AssertionError("body too large")
            resp.body = bytes(self.buf)
            self.buf.clear()
        return resp

    def _read_line(self, deadline):
        while b"\r\n" not in self.buf:
            if len(self.buf) > MAX_HEAD:
                raise AssertionError("chunk line too long")
            if not self._fill(deadline):
                raise ConnectionError("closed inside a chunked body")
        end = self.buf.index(b"\r\n")
        line = bytes(self.buf[:end])
        del self.buf[:end + 2]
        return line

    def _read_chunked(self, deadline):
        """The payload of a chunked body (no extensions) and its trailer fields."""
        body = bytearray()
        while True:
            line = self._read_line(deadline)
            assert re.fullmatch(rb"[0-9a-fA-F]+", line), f"bad chunk size line {line!r}"
            n = int(line, 16)
            if n == 0:
                trailers = []
                while (line := self._read_line(deadline)) != b"":
                    name, sep, value = line.decode("latin-1").partition(":")
                    assert sep, f"bad trailer line {line!r}"
                    trailers.append((name.strip().lower(), value.strip()))
                return bytes(body), trailers
            while len(self.buf) < n + 2:
                if not self._fill(deadline):
                    raise ConnectionError("closed inside a chunk")
            assert self.buf[n:n + 2] == b"\r\n", "chunk not followed by CR LF"
            body += self.buf[:n]
            del self.buf[:n + 2]
            if len(body) > MAX_BODY:
                raise AssertionError("body too large")

    def closed_by_peer(self, timeout=5.0):
        """True when the server closes the connection with nothing more to say."""
        if self.buf:
            return False
        r = wait_closed(self.sock, timeout)
        return r is True

    def rest_until_close(self, timeout=TIMEOUT):
        data = bytes(self.buf) + recv_until_close(self.sock, timeout)
        self.buf.clear()
        return data


def http_request(server_or_port, method, target, headers=None, version="HTTP/1.1", body=b"",
                 timeout=TIMEOUT, host="127.0.0.1"):
    """One request on a fresh connection; returns the Response."""
    if isinstance(server_or_port, FerryServer):
        port, host = server_or_port.port, server_or_port.host
    else:
        port = server_or_port
    with HttpConn(port, host, timeout) as c:
        c.send(build_request(method, target, headers, version, body))
        return c.read_response(method)


def raw_fetch(server, name, half_close=False, timeout=TIMEOUT):
    """The raw protocol: send a name, read everything until the server closes."""
    with server.connect(timeout) as s:
        s.sendall(name)
        if half_close:
            s.shutdown(socket.SHUT_WR)
        return recv_until_close(s, timeout)
