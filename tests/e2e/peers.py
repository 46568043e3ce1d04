"""Peers for the client tests (`ferry get`, `ferry put`): running the
client, small purpose-made HTTP servers on raw sockets (one thread per
connection, a script per test), python's http.server in a subprocess, an
https server with a CA and certificates made by the openssl command.

Every receive has a deadline, every loop is bounded, everything listens on
127.0.0.1 only."""
import http.server
import os
import re
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time
import traceback

from ferrylib import FERRY, TIMEOUT, clean_env, need_tool

RUN_TIMEOUT = 30.0  # seconds for one client run
MAX_CONNS = 500  # connections one scripted server accepts at most
MAX_REQUESTS = 1000  # requests one keep-alive loop answers at most
MAX_HEAD = 64 * 1024


class Run:
    """The outcome of one client run."""

    def __init__(self, cmd, rc, out, err):
        self.cmd = cmd
        self.rc = rc
        self.out = out  # bytes
        self.err = err  # str

    def __repr__(self):
        return f"<Run {self.cmd!r} rc={self.rc} stderr={self.err!r}>"


def run_ferry(*args, cwd=None, timeout=RUN_TIMEOUT):
    """Runs `ferry ARGS` in cwd (stdin closed, no proxies) and returns a Run."""
    cmd = [FERRY, *(os.fspath(a) for a in args)]
    p = subprocess.run(cmd, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, env=clean_env(),
                       timeout=timeout)
    return Run(cmd, p.returncode, p.stdout, p.stderr.decode("utf-8", "replace"))


def start_ferry(*args, cwd=None):
    """Starts `ferry ARGS` without waiting; the caller waits with a timeout."""
    cmd = [FERRY, *(os.fspath(a) for a in args)]
    return subprocess.Popen(cmd, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=clean_env())


STATE_DIR = ".ferry-uploads"  # where `ferry serve --upload` keeps resumable uploads


def listing(d):
    """Every name in directory d, dot files included, sorted; but not the
    server's upload state directory (the resumable-upload tests look in it)."""
    return sorted(n for n in os.listdir(d) if n != STATE_DIR)


def wait_for(pred, timeout=5.0, step=0.02):
    """Polls pred until it is true or timeout passes; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(step)


def free_port():
    """A loopback port nothing listens on (bound, then closed)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ---- a scripted HTTP peer ------------------------------------------------


class Request:
    def __init__(self, method, target, version, headers, head):
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers  # [(lowercased name, value)]
        self.head = head

    def header(self, name):
        name = name.lower()
        for k, v in self.headers:
            if k == name:
                return v
        return None

    def __repr__(self):
        return f"<Request {self.method} {self.target} {self.headers!r}>"


class Peer:
    """One accepted connection of a ScriptedServer."""

    def __init__(self, sock, server, index):
        self.sock = sock
        self.server = server
        self.index = index  # 0 for the first connection the server accepted
        self.buf = bytearray()
        sock.settimeout(TIMEOUT)

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the client sent nothing more before the deadline")
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            chunk = b""
        if not chunk:
            return False
        self.buf += chunk
        return True

    def read_request(self, timeout=TIMEOUT):
        """The next request head (the body is not read), or None when the
        client closed first."""
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.buf:
            if len(self.buf) > MAX_HEAD:
                raise AssertionError("request head too large")
            if not self._fill(deadline):
                if self.buf:
                    raise AssertionError(f"the client closed mid-head: {bytes(self.buf)!r}")
                return None
        end = self.buf.index(b"\r\n\r\n") + 4
        head = bytes(self.buf[:end])
        del self.buf[:end]
        lines = head[:-4].decode("latin-1").split("\r\n")
        method, target, version = lines[0].split(" ")
        headers = []
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers.append((k.strip().lower(), v.strip()))
        req = Request(method, target, version, headers, head)
        self.server.record(req)
        return req

    def read_exact(self, n, timeout=TIMEOUT):
        deadline = time.monotonic() + timeout
        while len(self.buf) < n:
            if not self._fill(deadline):
                raise ConnectionError(f"closed after {len(self.buf)} of {n} bytes")
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data

    def send(self, data):
        self.sock.settimeout(TIMEOUT)
        self.sock.sendall(data)

    def respond(self, status, headers=(), body=b"", reason=None, send_body=True):
        """Sends a response with Content-Length (unless headers name a framing)."""
        reason = reason if reason is not None else http.server.BaseHTTPRequestHandler.responses.get(
            status, ("Whatever",))[0]
        hs = list(headers)
        names = {k.lower() for k, _ in hs}
        if "content-length" not in names and "transfer-encoding" not in names:
            hs.append(("Content-Length", str(len(body))))
        head = f"HTTP/1.1 {status} {reason}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hs) + "\r\n"
        self.send(head.encode("latin-1") + (body if send_body else b""))

    def reset(self):
        """Closes with a RST instead of a FIN."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()

    def close(self):
        self.sock.close()


_servers = []  # every ScriptedServer made, until check_servers has looked at it
_servers_lock = threading.Lock()


def check_servers():
    """Fails (AssertionError) when a handler of any ScriptedServer raised
    since the last look: the conftest calls this at the end of every test,
    so an assert in a handler fails the test that owns the server. Servers
    already closed are forgotten; open ones (a module's) stay watched."""
    with _servers_lock:
        servers = list(_servers)
    found = []
    for srv in servers:
        found += srv.take_errors()
        if srv.closed:
            with _servers_lock:
                _servers.remove(srv)
    if found:
        raise AssertionError("a scripted server's handler failed:\n" + "\n".join(found))


class ScriptedServer:
    """A loopback server that runs handler(peer) in a thread per connection.

    Requests read through Peer.read_request are kept in .requests. An
    exception a handler raises fails the test: leaving the `with` block
    raises it (unless the test is already failing), and so does the check
    at the end of every test (check_servers). A handler that expects the
    client to go away catches that itself."""

    def __init__(self, handler):
        self.handler = handler
        self.requests = []
        self.errors = []  # tracebacks (text) of handler exceptions not yet reported
        self.closed = False
        self.connections = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = []
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(64)
        self.lsock.settimeout(0.1)
        self.port = self.lsock.getsockname()[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self._acceptor = threading.Thread(target=self._accept_loop, daemon=True)
        self._acceptor.start()
        with _servers_lock:
            _servers.append(self)

    def url(self, path):
        return self.base + path

    def record(self, req):
        with self._lock:
            self.requests.append(req)

    def _accept_loop(self):
        while not self._stop.is_set() and self.connections < MAX_CONNS:
            try:
                sock, _ = self.lsock.accept()
            except (socket.timeout, TimeoutError):
                continue
            except OSError:
                return
            with self._lock:
                index = self.connections
                self.connections += 1
            t = threading.Thread(target=self._run, args=(sock, index), daemon=True)
            self._threads.append(t)
            t.start()

    def _run(self, sock, index):
        peer = Peer(sock, self, index)
        try:
            self.handler(peer)
        except Exception:  # reported by __exit__ or check_servers
            text = f"connection {index} to {self.base}: " + traceback.format_exc()
            with self._lock:
                self.errors.append(text)
        finally:
            try:
                sock.close()
            except OSError:
                pass

    def take_errors(self):
        """The handler errors not yet reported (tracebacks), now reported."""
        with self._lock:
            errors, self.errors = self.errors, []
        return errors

    def close(self):
        """Stops accepting and waits (bounded) for the handlers to end."""
        self._stop.set()
        self._acceptor.join(5)
        self.lsock.close()
        for t in self._threads:
            t.join(5)
        self.closed = True

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close()
        if exc_type is None:
            errors = self.take_errors()
            if errors:
                raise AssertionError("a scripted server's handler failed:\n" + "\n".join(errors))


def keep_alive(respond):
    """A handler that reads requests on one connection and answers each with
    respond(peer, req), until the client closes or respond returns False."""

    def handler(peer):
        for _ in range(MAX_REQUESTS):
            req = peer.read_request()
            if req is None or respond(peer, req) is False:
                return

    return handler


def parse_range(value):
    """The first byte of "bytes=N-", or None for anything else."""
    m = re.fullmatch(r"bytes=(\d+)-", value or "")
    return int(m.group(1)) if m else None


def send_file(peer, req, body, etag=None, ranges=True, drop_after=None, extra=()):
    """Answers req with body the way a good server would: 200, or with
    ranges 206 for "Range: bytes=N-" when If-Range is absent or equals etag,
    416 when N is past the end. drop_after: send the head and that many body
    bytes, then close (returns False: the connection is gone)."""
    headers = list(extra)
    if etag is not None:
        headers.append(("ETag", etag))
    start = parse_range(req.header("range")) if ranges else None
    if start is not None and req.header("if-range") not in (None, etag):
        start = None  # the file changed: the whole of it
    if start is not None and start >= len(body):
        peer.respond(416, headers + [("Content-Range", f"bytes */{len(body)}")], b"")
        return True
    status = 200
    if start is not None:
        status = 206
        headers.append(("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}"))
        body = body[start:]
    if drop_after is None:
        peer.respond(status, headers, body)
        return True
    headers.append(("Content-Length", str(len(body))))
    peer.respond(status, headers, body[:drop_after])
    time.sleep(0.05)  # let the client read the bytes before the FIN
    peer.close()
    return False


def chunked(pieces, trailer=b""):
    """A chunked body of the given pieces (none may be empty)."""
    out = bytearray()
    for p in pieces:
        out += b"%x\r\n" % len(p) + p + b"\r\n"
    return bytes(out) + b"0\r\n" + trailer + b"\r\n"


# ---- python's http.server ------------------------------------------------


def stop_process(proc):
    """SIGTERM, then SIGKILL after 5 s; waits for the process either way."""
    if proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


class PythonHttpServer:
    """`python3 -m http.server --bind 127.0.0.1 0` serving root."""

    LINE_RE = re.compile(r"Serving HTTP on \S+ port (\d+)")

    def __init__(self, root):
        self.proc = subprocess.Popen(
            [sys.executable, "-u", "-m", "http.server", "--bind", "127.0.0.1", "--directory",
             os.fspath(root), "0"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self._first = threading.Event()
        self.lines = []
        threading.Thread(target=self._drain, args=(self.proc.stdout, True), daemon=True).start()
        threading.Thread(target=self._drain, args=(self.proc.stderr, False), daemon=True).start()
        if not self._first.wait(10):
            self.stop()
            raise AssertionError("python -m http.server did not say its port")
        m = self.LINE_RE.search(self.lines[0]) if self.lines else None
        if m is None:
            self.stop()
            raise AssertionError(f"python -m http.server said {self.lines!r}")
        self.port = int(m.group(1))
        self.base = f"http://127.0.0.1:{self.port}"

    def _drain(self, pipe, first):
        for raw in iter(pipe.readline, b""):
            if first:
                self.lines.append(raw.decode("utf-8", "replace"))
                self._first.set()
        if first:
            self._first.set()

    def url(self, path):
        return self.base + path

    def stop(self):
        stop_process(self.proc)


class NginxServer:
    """Debian's nginx serving root on a free loopback port, in the
    foreground (our child), with its config, logs and temp files in workdir.
    keepalive_requests: how many requests one connection may carry; tls: a
    (cert, key) pair to serve https instead of http."""

    def __init__(self, root, workdir, keepalive_requests=1000, tls=None):
        self.port = None
        self.scheme = "https" if tls else "http"
        ssl_conf = f"ssl_certificate {tls[0]}; ssl_certificate_key {tls[1]};" if tls else ""
        d = os.fspath(workdir)
        os.makedirs(os.path.join(d, "tmp"), exist_ok=True)
        for _ in range(3):
            port = free_port()
            conf = os.path.join(d, "nginx.conf")
            with open(conf, "w") as f:
                f.write(f"""daemon off;
master_process off;
{"user root;" if os.geteuid() == 0 else ""}
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log {d}/access.log;
    keepalive_requests {keepalive_requests};
    default_type application/octet-stream;
    client_body_temp_path {d}/tmp/body;
    proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;
    server {{
        listen 127.0.0.1:{port}{" ssl" if tls else ""};
        {ssl_conf}
        root {os.fspath(root)};
    }}
}}
""")
            nginx = need_tool("nginx")
            self.proc = subprocess.Popen([nginx, "-p", d, "-e", f"{d}/error.log", "-c", conf],
                                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL)
            if wait_for(lambda: self._listening(port) or self.proc.poll() is not None, timeout=10) \
                    and self.proc.poll() is None:
                self.port = port
                break
            self.stop()
        if self.port is None:
            raise AssertionError("nginx did not start: " + open(f"{d}/error.log").read()[-500:])
        self.access_log = os.path.join(d, "access.log")

    @staticmethod
    def _listening(port):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            return False

    def url(self, path):
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"

    def stop(self):
        stop_process(self.proc)


# ---- https ---------------------------------------------------------------


def openssl(*args, cwd):
    p = subprocess.run(["openssl", *args], cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=30)
    assert p.returncode == 0, f"openssl {args}: {p.stderr.decode(errors='replace')}"


EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


def make_ca(d, name="ca"):
    """A self-signed CA in d: returns (cert path, key path)."""
    openssl("req", "-x509", *EC_KEY, "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "2",
            "-subj", f"/CN=ferry test {name}", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    return d / f"{name}.pem", d / f"{name}.key"


def make_cert(d, name, ca, sans):
    """A server certificate in d signed by ca (from make_ca) for sans such as
    ["IP:127.0.0.1", "DNS:localhost"]: returns (cert path, key path)."""
    (d / f"{name}.ext").write_text(
        f"subjectAltName={','.join(sans)}\nbasicConstraints=CA:FALSE\n"
        "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n")
    openssl("req", "-new", *EC_KEY, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj",
            f"/CN={name}", cwd=d)
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", os.fspath(ca[0]), "-CAkey", os.fspath(ca[1]),
            "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext", cwd=d)
    return d / f"{name}.pem", d / f"{name}.key"


def make_pki(d):
    """In d: a CA ("ca") and another one ("other"); certificates "good" (by
    ca, for 127.0.0.1 and localhost), "wrong" (by ca, for other names) and
    "untrusted" (by other, for 127.0.0.1 and localhost) as (cert, key)."""
    ca = make_ca(d, "ca")
    other = make_ca(d, "other")
    return {
        "ca": ca[0],
        "other": other[0],
        "good": make_cert(d, "good", ca, ["IP:127.0.0.1", "DNS:localhost"]),
        "wrong": make_cert(d, "wrong", ca, ["DNS:wrong.example", "IP:10.9.9.9"]),
        "untrusted": make_cert(d, "untrusted", other, ["IP:127.0.0.1", "DNS:localhost"]),
    }


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, with Content-Length

    def log_message(self, *args):
        pass


class _TlsHTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def finish_request(self, request, client_address):
        # The handshake happens here, in the connection's thread, so a
        # client that gives up on the certificate stalls nobody.
        request.settimeout(TIMEOUT)
        try:
            tls = self.ctx.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as e:
            self.handshake_errors.append(e)
            return
        try:
            super().finish_request(tls, client_address)
        finally:
            tls.close()

    def handle_error(self, request, client_address):
        pass


class TlsServer:
    """An https file server for root with the given certificate and key;
    handler_class: a QuietHandler subclass for other behaviour."""

    def __init__(self, root, cert, key, handler_class=None):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(os.fspath(cert), os.fspath(key))
        cls = handler_class or QuietHandler
        handler = lambda *a, **kw: cls(*a, directory=os.fspath(root), **kw)  # noqa: E731
        self.httpd = _TlsHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.ctx = ctx
        self.httpd.handshake_errors = []
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()

    @property
    def handshake_errors(self):
        return self.httpd.handshake_errors

    def url(self, path, host="127.0.0.1"):
        return f"https://{host}:{self.port}{path}"

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(5)
