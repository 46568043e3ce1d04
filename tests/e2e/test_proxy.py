"""End-to-end tests of the PROXY protocol (`--proxy-from`) on every TCP
listener: `ferry serve`, `ferry hello` and `ferry chat -l`.

A real HAProxy (Debian's, in the foreground, our child, stopped by PID) sits
in front with `send-proxy` (v1) and `send-proxy-v2`; the client connects to
it from 127.0.0.2 while HAProxy connects to ferry from 127.0.0.1, so the
address ferry logs and shows tells whether the header was believed. Raw
sockets from 127.0.0.1 (trusted) and 127.0.0.2 (not) play a hostile or
broken proxy and a hostile client. Every receive has a deadline."""
import os
import re
import resource
import selectors
import shutil
import socket
import subprocess
import time
from collections import deque

import pytest

from ferrylib import FERRY, build_request, need_tool
from msgtools import Conn, T, tools_fixture
from peers import free_port, wait_for

CLIENT = "127.0.0.2"  # the real client, as HAProxy's header names it
V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"
DEADLINE = 5.0  # net/srv's SRV_PROXY_TIMEOUT_MS
TEXT = b"proxied hello\n"


def v1(src="192.0.2.9", sport=4321, dst="127.0.0.1", dport=80):
    fam = "TCP6" if ":" in src else "TCP4"
    return f"PROXY {fam} {src} {dst} {sport} {dport}\r\n".encode()


def v2_tcp4(src=bytes([192, 0, 2, 10]), sport=4321, tlvs=b""):
    body = src + bytes([127, 0, 0, 1]) + sport.to_bytes(2, "big") + (80).to_bytes(2, "big") + tlvs
    return V2_SIG + b"\x21\x11" + len(body).to_bytes(2, "big") + body


V2_LOCAL = V2_SIG + b"\x20\x00\x00\x00"


def haproxy_bin():
    return need_tool("haproxy")


class HAProxy:
    """HAProxy in TCP mode on free loopback ports: a frontend per
    (name, bind address, send-proxy keyword), each to one backend server."""

    def __init__(self, workdir, backend, fronts):
        host, port = backend
        target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        self.ports = {}
        for _ in range(3):
            conf = ["global", "    maxconn 256", "defaults", "    mode tcp",
                    "    timeout connect 5s", "    timeout client 30s", "    timeout server 30s"]
            ports = {}
            for name, bind, keyword in fronts:
                ports[name] = (bind, free_port())
                b = f"[{bind}]" if ":" in bind else bind
                conf += [f"frontend f_{name}", f"    bind {b}:{ports[name][1]}",
                         f"    default_backend b_{name}",
                         f"backend b_{name}", f"    server s {target} {keyword}"]
            path = os.path.join(os.fspath(workdir), "haproxy.cfg")
            with open(path, "w") as f:
                f.write("\n".join(conf) + "\n")
            self.log = open(os.path.join(os.fspath(workdir), "haproxy.log"), "wb")
            self.proc = subprocess.Popen([haproxy_bin(), "-f", path, "-db"], stdin=subprocess.DEVNULL,
                                         stdout=self.log, stderr=subprocess.STDOUT)
            if wait_for(lambda: all(self._listening(*a) for a in ports.values())
                        or self.proc.poll() is not None, timeout=10) and self.proc.poll() is None:
                self.ports = ports
                return
            self.stop()
        raise AssertionError("haproxy did not start: " + open(self.log.name, "rb").read()[-800:].decode())

    @staticmethod
    def _listening(host, port):
        """Whether something listens on port, from /proc/net: connecting
        to find out would be a connection HAProxy forwards to ferry."""
        for table in ("/proc/net/tcp6", "/proc/net/tcp") if ":" in host else ("/proc/net/tcp",):
            with open(table) as f:
                for row in f.read().splitlines()[1:]:
                    local, state = row.split()[1], row.split()[3]
                    if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                        return True
        return False

    def addr(self, name):
        return self.ports[name]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()


@pytest.fixture
def haproxy(tmp_path):
    started = []

    def start(backend, fronts):
        h = HAProxy(tmp_path, backend, fronts)
        started.append(h)
        return h

    yield start
    for h in started:
        h.stop()


@pytest.fixture
def tools():
    yield from tools_fixture()


FRONTS = [("v1", "127.0.0.1", "send-proxy"), ("v2", "127.0.0.1", "send-proxy-v2"),
          ("v1_6", "::1", "send-proxy"), ("v2_6", "::1", "send-proxy-v2")]


class SrcConn(Conn):
    """A Conn whose socket is bound to a source address first."""

    def __init__(self, addr, src=CLIENT, timeout=T):
        family = socket.AF_INET6 if ":" in addr[0] else socket.AF_INET
        self.sock = socket.socket(family)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.settimeout(timeout)
        if src is not None:
            self.sock.bind((src, 0))
        self.sock.connect(addr)
        self.buf = bytearray()
        self.closed = False


def http_get(addr, path="/a.txt", src=CLIENT, prefix=b""):
    """GET path over a new connection (HTTP/1.0: the server closes)."""
    c = SrcConn(addr, src)
    c.send(prefix + build_request("GET", path, version="HTTP/1.0"))
    out = c.wait_closed(timeout=10)
    c.close()
    return out


@pytest.fixture
def served(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (root / "a.txt").write_bytes(TEXT)
    (root / "b.txt").write_bytes(b"second file\n")
    return root


def serve(start_server, served, *args, bind="127.0.0.1", proxy_from="127.0.0.1"):
    return start_server(served, "--proxy-from", proxy_from, *args, bind=bind)


def log_has(srv, pattern, timeout=5):
    rx = re.compile(pattern)
    return wait_for(lambda: any(rx.search(ln) for ln in srv.stdout_lines), timeout=timeout)


def access_lines(srv):
    return [ln for ln in srv.stdout_lines[1:] if '"' in ln]


def assert_nothing_else_logged(srv):
    """The log is written once per loop iteration: one more request, from
    an untrusted address and so served as it is, and its line, show that
    the connections before it left no line of their own."""
    assert http_get(("127.0.0.1", srv.port), "/b.txt", src="127.0.0.3").endswith(b"second file\n")
    assert log_has(srv, r'^127\.0\.0\.3 .*"GET /b\.txt'), srv.stdout_text()
    lines = access_lines(srv)
    assert len(lines) == 1, lines


# ---- ferry serve behind HAProxy --------------------------------------------------------


@pytest.mark.parametrize("front", ["v1", "v2"])
def test_serve_behind_haproxy_logs_the_client(start_server, served, haproxy, front):
    srv = serve(start_server, served)
    h = haproxy(("127.0.0.1", srv.port), FRONTS)
    out = http_get(h.addr(front))
    assert out.startswith(b"HTTP/1.1 200 OK\r\n"), out[:200]
    assert out.endswith(TEXT)
    assert log_has(srv, r'^127\.0\.0\.2 - - \[.*\] "GET /a\.txt HTTP/1\.0" 200 '), srv.stdout_text()
    assert not any(ln.startswith("127.0.0.1 ") for ln in access_lines(srv)), srv.stdout_text()


@pytest.mark.parametrize("front", ["v1_6", "v2_6"])
def test_serve_behind_haproxy_ipv6_client(start_server, served, haproxy, front):
    """The client reaches HAProxy over IPv6 (::1); HAProxy reaches ferry
    over IPv4 with a TCP6 header (v1) or an INET6 block (v2)."""
    srv = serve(start_server, served)
    h = haproxy(("127.0.0.1", srv.port), FRONTS)
    out = http_get(h.addr(front), src="::1")
    assert out.endswith(TEXT), out[:200]
    assert log_has(srv, r'^::1 - - \[.*\] "GET /a\.txt'), srv.stdout_text()


@pytest.mark.parametrize("front", ["v1", "v2"])
def test_serve_behind_haproxy_over_ipv6(start_server, served, haproxy, front):
    """HAProxy reaches ferry on [::1], trusted as ::1; the IPv4 client
    still shows."""
    srv = serve(start_server, served, bind="::1", proxy_from="::1")
    h = haproxy(("::1", srv.port), FRONTS)
    out = http_get(h.addr(front))
    assert out.endswith(TEXT), out[:200]
    assert log_has(srv, r'^127\.0\.0\.2 - - \[.*\] "GET /a\.txt'), srv.stdout_text()


@pytest.mark.parametrize("front", ["v1", "v2"])
def test_serve_behind_haproxy_pipelined_requests(start_server, served, haproxy, front):
    """Two requests in one segment after the header: both answered, both
    logged with the client's address."""
    srv = serve(start_server, served)
    h = haproxy(("127.0.0.1", srv.port), FRONTS)
    c = SrcConn(h.addr(front))
    c.send(build_request("GET", "/a.txt") + build_request("GET", "/b.txt", headers=[("Connection", "close")]))
    out = c.wait_closed(timeout=10)
    assert out.count(b" 200 OK\r\n") == 2 and TEXT in out and b"second file\n" in out, out
    assert log_has(srv, r'^127\.0\.0\.2 .*"GET /b\.txt'), srv.stdout_text()
    assert len([ln for ln in access_lines(srv) if ln.startswith("127.0.0.2 ")]) == 2


@pytest.mark.parametrize("front", ["v1", "v2"])
def test_serve_behind_haproxy_raw_name(start_server, served, haproxy, front):
    """A raw-protocol name after the header: the file, and a close."""
    srv = serve(start_server, served)
    h = haproxy(("127.0.0.1", srv.port), FRONTS)
    c = SrcConn(h.addr(front))
    c.send(b"a.txt\r\n")
    assert c.wait_closed(timeout=10) == TEXT
    assert log_has(srv, r'^127\.0\.0\.2 .*"RAW a\.txt"'), srv.stdout_text()


def test_serve_behind_haproxy_with_curl(start_server, served, haproxy):
    srv = serve(start_server, served)
    h = haproxy(("127.0.0.1", srv.port), FRONTS)
    host, port = h.addr("v2")
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    r = subprocess.run(["curl", "-sS", "--max-time", "10", "--interface", CLIENT,
                        f"http://{host}:{port}/a.txt"], capture_output=True, timeout=20, env=env)
    assert r.returncode == 0 and r.stdout == TEXT, r
    assert log_has(srv, r'^127\.0\.0\.2 .*"GET /a\.txt HTTP/1\.1" 200'), srv.stdout_text()


# ---- ferry hello and ferry chat behind HAProxy ---------------------------------------


@pytest.mark.parametrize("front", ["v1", "v2"])
def test_hello_behind_haproxy(tools, haproxy, front):
    srv = tools.server("hello", "--proxy-from", "127.0.0.1")
    h = haproxy(("127.0.0.1", srv.port), FRONTS)
    c = SrcConn(h.addr(front))
    c.expect(b"Welcome!")
    c.send(b"alice\n")
    c.expect(b"Hello, alice!\n")
    srv.stdout.expect(re.compile(rb"\n127\.0\.0\.2:\d+ joined"), what="hello's log")
    assert b"127.0.0.1:" not in srv.out_after_listen()
    c.send(b"exit\n")
    c.wait_closed()


@pytest.mark.parametrize("front", ["v1_6", "v2_6"])
def test_hello_behind_haproxy_ipv6_client(tools, haproxy, front):
    srv = tools.server("hello", "--proxy-from", "127.0.0.1")
    h = haproxy(("127.0.0.1", srv.port), FRONTS)
    c = SrcConn(h.addr(front), src="::1")
    c.expect(b"Welcome!")
    srv.stdout.expect(re.compile(rb"\n\[::1\]:\d+ joined"), what="hello's log")


@pytest.mark.parametrize("front", ["v1", "v2"])
def test_chat_behind_haproxy(tools, haproxy, front):
    srv = tools.server("chat", "--proxy-from", "127.0.0.1")
    h = haproxy(("127.0.0.1", srv.port), FRONTS)
    a = SrcConn(h.addr(front))
    welcome = a.line()
    assert re.match(rb"\* welcome to ferry chat, 127\.0\.0\.2:\d+:", welcome), welcome
    b = SrcConn(h.addr(front))
    b.line()
    joined = a.line()
    assert re.match(rb"\* 127\.0\.0\.2:\d+ joined\n", joined), joined
    srv.stdout.expect(re.compile(rb"\* 127\.0\.0\.2:\d+ joined"), what="the broker's log")
    b.send(b"hi all\n")
    assert re.match(rb"127\.0\.0\.2:\d+: hi all\n", a.line())


# ---- who may send a header -------------------------------------------------------------


HEADERS = {"v1": v1(), "v2": v2_tcp4(), "v1 malformed": b"PROXY TCP4 banana\r\n",
           "v2 local": V2_LOCAL}


@pytest.mark.parametrize("raw", [True, False], ids=["raw", "no-raw"])
@pytest.mark.parametrize("kind", list(HEADERS))
def test_serve_header_from_untrusted_address_closes(start_server, served, kind, raw):
    """--proxy-from names 127.0.0.1; a header from 127.0.0.2 ends the
    connection unanswered (not as a raw name, not as a bad request), and
    nothing is logged for it."""
    srv = serve(start_server, served, *([] if raw else ["--no-raw"]))
    out = http_get(("127.0.0.1", srv.port), prefix=HEADERS[kind])
    assert out == b"", out[:200]
    assert_nothing_else_logged(srv)


def test_serve_untrusted_address_without_header_is_served(start_server, served):
    srv = serve(start_server, served)
    out = http_get(("127.0.0.1", srv.port))
    assert out.endswith(TEXT)
    assert log_has(srv, r'^127\.0\.0\.2 .*"GET /a\.txt'), srv.stdout_text()


def test_serve_untrusted_raw_name_that_starts_like_a_header_waits(start_server, served):
    """From an untrusted peer, bytes that could still begin a header are
    held until they tell: "PR" then "\\r\\n" is no header, served as raw."""
    (served / "PR").write_bytes(b"pr file\n")
    srv = serve(start_server, served)
    c = SrcConn(("127.0.0.1", srv.port))
    c.send(b"PR")
    assert c.quiet_for(0.3) == b""  # held: neither served by the quiet gap nor closed
    c.send(b"\r\n")
    assert c.wait_closed(timeout=10) == b"pr file\n"


@pytest.mark.parametrize("kind", ["v1", "v2"])
def test_hello_header_from_untrusted_address_closes(tools, kind):
    """hello greets first (it cannot wait for a header from a peer that
    has none); the header that then comes closes the connection."""
    srv = tools.server("hello", "--proxy-from", "127.0.0.1")
    c = SrcConn(srv.addr)
    c.expect(b"Welcome!")
    c.send(HEADERS[kind] + b"alice\n")
    assert c.wait_closed() == b""


@pytest.mark.parametrize("kind", ["v1", "v2"])
def test_chat_header_from_untrusted_address_closes(tools, kind):
    srv = tools.server("chat", "--proxy-from", "127.0.0.1")
    c = SrcConn(srv.addr)
    assert c.line().startswith(b"* welcome to ferry chat, 127.0.0.2:")
    c.send(HEADERS[kind] + b"hi\n")
    rest = c.wait_closed()
    assert b"hi" not in rest, rest


def test_header_after_a_header_closes(start_server, served, haproxy):
    """The client behind HAProxy is not trusted: a header of its own, after
    HAProxy's, closes the connection."""
    srv = serve(start_server, served)
    h = haproxy(("127.0.0.1", srv.port), FRONTS)
    out = http_get(h.addr("v2"), prefix=v1(src="203.0.113.1"))
    assert out == b"", out[:200]
    assert_nothing_else_logged(srv)


def test_without_proxy_from_a_header_is_just_bytes(tools):
    """No --proxy-from: PROXY headers mean nothing, so hello answers one."""
    srv = tools.server("hello")
    c = Conn(srv.addr)
    c.expect(b"Welcome!")
    c.send(b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n")
    c.expect(b"Hello, PROXY TCP4 1.2.3.4 5.6.7.8 1 2!\n")


# ---- a trusted peer that is not a good proxy ---------------------------------------------


MALFORMED_V1 = [b"PROXY TCP4 10.0.0.1 10.0.0.2 080 80\r\n", b"PROXY TCP4 10.0.0.1 10.0.0.2 1 65536\r\n",
                b"PROXY TCP6 10.0.0.1 10.0.0.2 1 2\r\n", b"PROXY TCP4 10.0.0.1 10.0.0.2 1 2\n",
                b"PROXY UDP4 10.0.0.1 10.0.0.2 1 2\r\n", b"PROXY UNKNOWN " + b"x" * 100 + b"\r\n"]
MALFORMED_V2 = [V2_SIG + b"\x11\x11\x00\x0c" + bytes(12),      # version 1
                V2_SIG + b"\x22\x11\x00\x0c" + bytes(12),      # command 2
                V2_SIG + b"\x21\x41\x00\x0c" + bytes(12),      # family 4
                V2_SIG + b"\x21\x11\x00\x0b" + bytes(11),      # short IPv4 block
                V2_SIG + b"\x21\x11\x00\x0e" + bytes(14)]      # two stray bytes, not a TLV


@pytest.mark.parametrize("hdr", MALFORMED_V1, ids=[f"v1-{i}" for i in range(len(MALFORMED_V1))])
def test_serve_malformed_v1_closes(start_server, served, hdr):
    srv = serve(start_server, served)
    out = http_get(("127.0.0.1", srv.port), src="127.0.0.1", prefix=hdr)
    assert out == b"", out[:200]
    assert_nothing_else_logged(srv)


@pytest.mark.parametrize("hdr", MALFORMED_V2, ids=[f"v2-{i}" for i in range(len(MALFORMED_V2))])
def test_serve_malformed_v2_closes(start_server, served, hdr):
    srv = serve(start_server, served)
    out = http_get(("127.0.0.1", srv.port), src="127.0.0.1", prefix=hdr)
    assert out == b"", out[:200]
    assert_nothing_else_logged(srv)


@pytest.mark.parametrize("tool", ["hello", "chat"])
@pytest.mark.parametrize("hdr", [MALFORMED_V1[0], MALFORMED_V2[0]], ids=["v1", "v2"])
def test_msg_malformed_header_closes_without_greeting(tools, tool, hdr):
    srv = tools.server(tool, "--proxy-from", "127.0.0.1")
    c = SrcConn(srv.addr, src="127.0.0.1")
    c.send(hdr)
    assert c.wait_closed() == b""  # not even the greeting: the header came first


def test_serve_trusted_peer_without_header_closed_after_deadline(start_server, served):
    srv = serve(start_server, served)
    c = SrcConn(("127.0.0.1", srv.port), src="127.0.0.1")
    t0 = time.monotonic()
    assert c.quiet_for(1.0) == b"" and not c.closed  # waiting, not closed at once
    c.wait_closed(timeout=DEADLINE + 10)
    assert time.monotonic() - t0 >= 1.0


@pytest.mark.parametrize("tool", ["hello", "chat"])
def test_msg_trusted_peer_without_header_gets_no_greeting(tools, tool):
    """A server that speaks first waits for the header: the trusted peer
    that sends none hears nothing and is closed at the deadline."""
    srv = tools.server(tool, "--proxy-from", "127.0.0.1")
    c = SrcConn(srv.addr, src="127.0.0.1")
    assert c.wait_closed(timeout=DEADLINE + 10) == b""


@pytest.mark.parametrize("data", [b"GET /a.txt HTTP/1.0\r\n\r\n", b"a.txt\r\n", b"\x16\x03\x01\x00\x05hello"],
                         ids=["http", "raw", "tls"])
def test_serve_trusted_peer_bad_bytes_closed_at_once(start_server, served, data):
    """Bytes that cannot begin a header close the connection on arrival,
    well before the header deadline."""
    srv = serve(start_server, served)
    c = SrcConn(("127.0.0.1", srv.port), src="127.0.0.1")
    c.send(data)
    t0 = time.monotonic()
    assert c.wait_closed(timeout=DEADLINE + 10) == b""
    assert time.monotonic() - t0 < DEADLINE - 1, "closed by the deadline, not by the bad bytes"
    assert_nothing_else_logged(srv)


def test_serve_trusted_peer_fin_inside_header_closes(start_server, served):
    srv = serve(start_server, served)
    c = SrcConn(("127.0.0.1", srv.port), src="127.0.0.1")
    c.send(b"PROXY TCP4 10.0")
    c.sock.shutdown(socket.SHUT_WR)
    t0 = time.monotonic()
    assert c.wait_closed(timeout=DEADLINE + 10) == b""
    assert time.monotonic() - t0 < DEADLINE - 1


def test_serve_v2_local_keeps_the_real_peer(start_server, served):
    """LOCAL (a proxy's own health check): the connection's address stands."""
    srv = serve(start_server, served)
    out = http_get(("127.0.0.1", srv.port), src="127.0.0.1", prefix=V2_LOCAL)
    assert out.endswith(TEXT)
    assert log_has(srv, r'^127\.0\.0\.1 .*"GET /a\.txt'), srv.stdout_text()


# ---- headers in pieces and the bytes after them -----------------------------------------


@pytest.mark.parametrize("kind", ["v1", "v2"])
def test_serve_header_split_across_segments(start_server, served, kind):
    hdr = v1(src="198.51.100.7") if kind == "v1" else v2_tcp4(src=bytes([198, 51, 100, 7]),
                                                             tlvs=b"\x04\x00\x02zz")
    srv = serve(start_server, served)
    c = SrcConn(("127.0.0.1", srv.port), src="127.0.0.1")
    cuts = [1, 5, 13, 15, len(hdr) - 1]
    off = 0
    for cut in cuts:
        c.send(hdr[off:cut])
        off = cut
        assert c.quiet_for(0.2) == b"" and not c.closed
    c.send(hdr[off:] + build_request("GET", "/a.txt", version="HTTP/1.0"))
    assert c.wait_closed(timeout=10).endswith(TEXT)
    assert log_has(srv, r'^198\.51\.100\.7 .*"GET /a\.txt'), srv.stdout_text()


def test_serve_bytes_after_header_pipelined_http(start_server, served):
    """Header and two requests in one segment: srv takes only the header."""
    srv = serve(start_server, served)
    c = SrcConn(("127.0.0.1", srv.port), src="127.0.0.1")
    c.send(v1(src="198.51.100.8") + build_request("GET", "/a.txt")
           + build_request("GET", "/b.txt", headers=[("Connection", "close")]))
    out = c.wait_closed(timeout=10)
    assert out.count(b" 200 OK\r\n") == 2 and out.endswith(b"second file\n"), out
    assert log_has(srv, r'^198\.51\.100\.8 .*"GET /b\.txt'), srv.stdout_text()


@pytest.mark.parametrize("kind", ["v1", "v2"])
def test_serve_bytes_after_header_raw_name(start_server, served, kind):
    """Header and a raw name with no terminator, then FIN: the file."""
    srv = serve(start_server, served)
    c = SrcConn(("127.0.0.1", srv.port), src="127.0.0.1")
    c.send((v1() if kind == "v1" else v2_tcp4()) + b"a.txt")
    c.sock.shutdown(socket.SHUT_WR)
    assert c.wait_closed(timeout=10) == TEXT


def test_hello_bytes_after_header(tools):
    srv = tools.server("hello", "--proxy-from", "127.0.0.1")
    c = SrcConn(srv.addr, src="127.0.0.1")
    c.send(v2_tcp4(src=bytes([203, 0, 113, 5]), sport=999) + b"bob\n")
    c.expect(b"Welcome!Hello, bob!\n")
    srv.stdout.expect(b"203.0.113.5:999 joined", what="hello's log")


def test_chat_bytes_after_header(tools):
    srv = tools.server("chat", "--proxy-from", "127.0.0.1")
    watcher = SrcConn(srv.addr, src="127.0.0.3")
    watcher.line()
    c = SrcConn(srv.addr, src="127.0.0.1")
    c.send(v1(src="2001:db8::5", sport=777, dst="::1") + b"/nick bob\n")
    assert c.line() == b"* welcome to ferry chat, [2001:db8::5]:777: /nick NAME, /who, /quit\n"
    assert watcher.line() == b"* [2001:db8::5]:777 joined\n"
    assert watcher.line() == b"* [2001:db8::5]:777 is now bob\n"


# ---- a full waiting list --------------------------------------------------------------------


PENDING_MAX = 1024  # net/srv's SRV_PROXY_PENDING_MAX: per worker, the default of --proxy-wait
BURST = 3000
BURST_DELAY = 0.3  # seconds from a connection's connect to its header, as a slow proxy might


@pytest.fixture
def fd_limit():
    """The soft descriptor limit raised to the hard one for the test (the
    servers it starts inherit it); yields the hard limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    top = hard if hard != resource.RLIM_INFINITY else 1 << 20
    resource.setrlimit(resource.RLIMIT_NOFILE, (top, hard))
    yield top
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def burst(addr, n, delay, timeout):
    """Opens n connections from 127.0.0.1 at once; each sends a v1 header
    naming 192.0.2.1:(10000 + its index) delay seconds after its connect
    completes. Returns, per connection, what it received until "Welcome!",
    its close, or the end of timeout."""
    sel = selectors.DefaultSelector()
    socks, got = [], [bytearray() for _ in range(n)]
    connected, done = [False] * n, [False] * n
    due = deque()  # (when, index) in connect order, so in time order
    left = n

    def finish(i):
        nonlocal left
        done[i] = True
        left -= 1
        sel.unregister(socks[i])

    try:
        for i in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            socks.append(s)
            s.setblocking(False)
            s.bind(("127.0.0.1", 0))
            s.connect_ex(addr)
            sel.register(s, selectors.EVENT_WRITE, i)
        end = time.monotonic() + timeout
        while left > 0 and time.monotonic() < end:
            while due and due[0][0] <= time.monotonic():
                i = due.popleft()[1]
                if done[i]:
                    continue
                try:
                    socks[i].send(v1(src="192.0.2.1", sport=10000 + i))
                except OSError:
                    finish(i)
            for key, _ in sel.select(timeout=0.02):
                i = key.data
                if not connected[i]:
                    if socks[i].getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) != 0:
                        finish(i)
                        continue
                    connected[i] = True
                    due.append((time.monotonic() + delay, i))
                    sel.modify(socks[i], selectors.EVENT_READ, i)
                    continue
                try:
                    data = socks[i].recv(4096)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                got[i] += data
                if not data or b"Welcome!" in got[i]:
                    finish(i)
    finally:
        sel.close()
        for s in socks:
            s.close()
    return [bytes(g) for g in got]


def test_hello_proxy_burst_with_late_headers_all_greeted(tools, fd_limit):
    """A burst of trusted connections whose headers come 0.3 s after their
    connect, more than one worker's waiting list holds: past the cap they
    wait in the backlog, and every one is greeted and known by the client
    its header names. With a low descriptor limit the burst is smaller and
    the list is made smaller to match (--proxy-wait)."""
    n = min(BURST, fd_limit - 200)
    assert n >= 64, f"a descriptor limit of {fd_limit} leaves no room for a burst"
    args = ["--threads", "1", "--proxy-from", "127.0.0.1"]
    if n < 2 * PENDING_MAX:
        args += ["--proxy-wait", str(n // 4)]
    srv = tools.server("hello", *args)
    got = burst(srv.addr, n, BURST_DELAY, timeout=60)
    refused = [i for i, g in enumerate(got) if b"Welcome!" not in g]
    assert not refused, f"{len(refused)} of {n} not greeted (e.g. {refused[:5]}: {got[refused[0]]!r})"
    want = set(range(10000, 10000 + n))
    joined = lambda out: {int(p) for p in re.findall(rb"\n192\.0\.2\.1:(\d+) joined", out)}
    srv.stdout.wait_for(lambda out: joined(out) >= want, timeout=30)
    missing = want - joined(srv.stdout.data)
    assert not missing, f"{len(missing)} clients not logged by the header's address"


def test_hello_proxy_list_full_of_silent_peers_delays_not_refuses(tools):
    """Four trusted peers that never send a header fill a waiting list of
    four: a later connection whose header comes after its connect is not
    closed but waits, and is served once the deadline closes the silent
    ones."""
    srv = tools.server("hello", "--threads", "1", "--proxy-from", "127.0.0.1",
                       "--proxy-wait", "4")
    silent = [SrcConn(srv.addr, src="127.0.0.1") for _ in range(4)]
    assert silent[0].quiet_for(0.5) == b""  # time for all four to be taken
    late = SrcConn(srv.addr, src="127.0.0.1")
    assert late.quiet_for(BURST_DELAY) == b"" and not late.closed, "closed while the list was full"
    late.send(v1(src="203.0.113.9", sport=4444))
    late.expect(b"Welcome!", timeout=DEADLINE + 10)
    for c in silent:
        assert c.wait_closed(timeout=DEADLINE + 10) == b""
    srv.stdout.expect(b"203.0.113.9:4444 joined", what="hello's log")


# ---- the option ----------------------------------------------------------------------------


BAD_OPTS = [("", "an empty entry"), ("10.0.0.0/33", "prefix length"), ("::/129", "prefix length"),
            ("10.0.0.1/8", "bits set past its prefix"), ("localhost", "not an IPv4 or IPv6 address"),
            ("127.0.0.1,", "an empty entry"), ("127.0.0.1, ::1", "not an IPv4 or IPv6 address"),
            ("10.0.0.0/08", "prefix length"), ("[::1]", "not an IPv4 or IPv6 address"),
            (",".join(f"10.0.0.{i}" for i in range(33)), "at most 32 entries")]


@pytest.mark.parametrize("cmd", [["serve"], ["hello"], ["chat", "-l"]], ids=["serve", "hello", "chat"])
@pytest.mark.parametrize("value,why", BAD_OPTS, ids=[b[0][:20] or "empty" for b in BAD_OPTS])
def test_proxy_from_parse_errors_exit_2(tmp_path, cmd, value, why):
    r = subprocess.run([FERRY, *cmd, "-p", "0", "-b", "127.0.0.1", "--proxy-from", value],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=10, cwd=tmp_path)
    err = r.stderr.decode()
    assert r.returncode == 2, (r.returncode, err)
    assert f"ferry {cmd[0]}: --proxy-from" in err and why in err, err
    assert r.stdout == b""


def test_proxy_from_blames_the_bad_entry(tmp_path):
    r = subprocess.run([FERRY, "serve", "--proxy-from", "127.0.0.1,10.0.0.0/99,::1"],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=10, cwd=tmp_path)
    assert r.returncode == 2
    assert "'10.0.0.0/99'" in r.stderr.decode(), r.stderr


@pytest.mark.parametrize("cmd", [["udp", "-l"], ["chat", "127.0.0.1:9"]], ids=["udp", "chat-client"])
def test_proxy_from_refused_where_it_has_no_meaning(tmp_path, cmd):
    r = subprocess.run([FERRY, *cmd, "--proxy-from", "127.0.0.1"], stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=10, cwd=tmp_path)
    assert r.returncode == 2, r


@pytest.mark.parametrize("cmd", [["serve"], ["hello"], ["chat"]], ids=["serve", "hello", "chat"])
def test_proxy_from_in_help(cmd):
    r = subprocess.run([FERRY, *cmd, "--help"], capture_output=True, timeout=10)
    assert r.returncode == 0 and b"--proxy-from CIDR" in r.stdout


@pytest.mark.parametrize("cmd", [["serve"], ["hello"], ["chat", "-l"]], ids=["serve", "hello", "chat"])
@pytest.mark.parametrize("value", ["0", "-1", "x", "1000001"])
def test_proxy_wait_parse_errors_exit_2(tmp_path, cmd, value):
    r = subprocess.run([FERRY, *cmd, "-p", "0", "-b", "127.0.0.1", "--proxy-from", "127.0.0.1",
                        "--proxy-wait", value], stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=10, cwd=tmp_path)
    assert r.returncode == 2, r
    assert f"ferry {cmd[0]}: --proxy-wait takes 1 to 1000000" in r.stderr.decode(), r.stderr
    assert r.stdout == b""


@pytest.mark.parametrize("cmd", [["serve"], ["hello"], ["chat"]], ids=["serve", "hello", "chat"])
def test_proxy_wait_in_help(cmd):
    r = subprocess.run([FERRY, *cmd, "--help"], capture_output=True, timeout=10)
    assert r.returncode == 0 and b"--proxy-wait N" in r.stdout
