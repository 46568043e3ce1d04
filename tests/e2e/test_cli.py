"""The `ferry serve` command line: help, version, usage errors, exit codes,
the port line, signals and stopping with a response in flight."""
import os
import signal
import socket
import subprocess
import time

import pytest

from ferrylib import FERRY, HttpConn, connect, http_request, sha256

BIG30 = 30 << 20


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli") / "root"
    root.mkdir()
    (root / "small.txt").write_bytes(b"small\n")
    data = os.urandom(1 << 20) * (BIG30 >> 20)
    (root / "big30.bin").write_bytes(data)
    return root, sha256(data)


@pytest.fixture(scope="module")
def served_dir(tree):
    return tree[0]


def run_ferry(*args, timeout=10):
    return subprocess.run([FERRY, *args], capture_output=True, stdin=subprocess.DEVNULL,
                          timeout=timeout)


@pytest.mark.parametrize("args", [["serve", "--help"], ["serve", "-h"], ["--help"]],
                         ids=["serve_help", "serve_h", "help"])
def test_help_exits_0(args):
    p = run_ferry(*args)
    assert p.returncode == 0, p.stderr
    assert b"usage: ferry" in p.stdout


@pytest.mark.parametrize("args", [["serve", "--version"], ["serve", "-V"], ["--version"]],
                         ids=["serve_version", "serve_V", "version"])
def test_version_exits_0(args):
    p = run_ferry(*args)
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith(b"ferry ")


BAD_USAGE = {
    "unknown_option": ["serve", "--bogus"],
    "port_too_big": ["serve", "-p", "70000"],
    "port_not_a_number": ["serve", "-p", "http"],
    # strtol took these as port 0; lex_port takes digits only.
    "port_with_a_plus_sign": ["serve", "-p", "+0", "-b", "127.0.0.1"],
    "port_with_a_leading_space": ["serve", "-p", " 0", "-b", "127.0.0.1"],
    "port_minus_zero": ["serve", "-p", "-0", "-b", "127.0.0.1"],
    "hello_port_with_a_plus_sign": ["hello", "-p", "+0", "-b", "127.0.0.1"],
    "zero_threads": ["serve", "--threads", "0"],
    "zero_idle": ["serve", "--idle", "0"],
    # strtol took these as 5 (cmd_parse_long now takes digits only).
    "idle_with_a_plus_sign": ["serve", "--idle", "+5", "-p", "0", "-b", "127.0.0.1"],
    "idle_with_a_leading_space": ["serve", "--idle", " 5", "-p", "0", "-b", "127.0.0.1"],
    "hello_idle_with_a_plus_sign": ["hello", "--idle", "+5", "-p", "0", "-b", "127.0.0.1"],
    "hello_idle_too_big": ["hello", "--idle", "99999999999999999999", "-p", "0", "-b", "127.0.0.1"],
    "bad_send_mode": ["serve", "--send-mode", "carrier-pigeon"],
    "two_directories": ["serve", ".", "."],
    "missing_argument": ["serve", "-p"],
}


@pytest.mark.parametrize("args", BAD_USAGE.values(), ids=BAD_USAGE.keys())
def test_bad_usage_exits_2(args):
    p = run_ferry(*args)
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert p.stderr.strip(), "a usage error needs a message"


def test_nonexistent_directory_exits_1(tmp_path):
    missing = tmp_path / "no-such-dir"
    p = run_ferry("serve", "-p", "0", "-b", "127.0.0.1", str(missing))
    assert p.returncode == 1
    assert str(missing).encode() in p.stderr
    assert p.stdout == b""


def test_file_as_directory_exits_1(tmp_path):
    f = tmp_path / "plain.txt"
    f.write_bytes(b"x")
    p = run_ferry("serve", "-p", "0", "-b", "127.0.0.1", str(f))
    assert p.returncode == 1
    assert str(f).encode() in p.stderr


def test_port_in_use_exits_1(served_dir):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        p = run_ferry("serve", "-p", str(port), "-b", "127.0.0.1", str(served_dir))
    assert p.returncode == 1
    assert p.stderr.strip()


def test_port_zero_prints_the_real_port(start_server, served_dir):
    srv = start_server(served_dir)
    assert 0 < srv.port < 65536
    assert srv.first_line == f"ferry: serving {os.path.realpath(served_dir)} on http://127.0.0.1:{srv.port}/"
    r = http_request(srv, "GET", "/small.txt")
    assert r.status == 200 and r.body == b"small\n"


def test_sigint_exits_0(start_server, served_dir):
    srv = start_server(served_dir)
    assert http_request(srv, "GET", "/small.txt").status == 200
    assert srv.stop(signal.SIGINT) == 0
    assert "interrupted" in srv.stderr_text()


def test_sigterm_exits_0(start_server, served_dir):
    srv = start_server(served_dir)
    assert srv.stop(signal.SIGTERM) == 0
    assert "terminated" in srv.stderr_text()


def test_sigterm_closes_idle_keepalive_connections(start_server, served_dir):
    srv = start_server(served_dir)
    with srv.http() as c:
        c.request("GET", "/small.txt")
        assert c.read_response().status == 200
        srv.send_signal(signal.SIGTERM)
        assert c.closed_by_peer(5.0)
    assert srv.wait(5) == 0


def test_sigterm_lets_download_in_flight_finish(start_server, served_dir, tree):
    srv = start_server(served_dir)
    with connect(srv.port, rcvbuf=65536) as s:
        s.sendall(b"GET /big30.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        c = HttpConn(srv.port, sock=s)
        # Read the head and a little of the body, then ask the server to stop.
        c.buffer_at_least(256 << 10)
        srv.send_signal(signal.SIGTERM)
        r = c.read_response(timeout=15)
        assert r.status == 200
        assert len(r.body) == BIG30
        assert sha256(r.body) == tree[1]
    assert srv.wait(5) == 0


def test_sigterm_with_stalled_download_exits_within_grace(start_server, served_dir):
    srv = start_server(served_dir)
    with connect(srv.port, rcvbuf=4096) as s:
        s.sendall(b"GET /big30.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.2)
        srv.send_signal(signal.SIGTERM)
        assert srv.wait(6) == 0, "the server must not wait forever for a reader that stalls"


def test_quiet_option_writes_no_access_log(start_server, served_dir):
    srv = start_server(served_dir, "-q")
    assert http_request(srv, "GET", "/small.txt").status == 200
    assert srv.stop() == 0
    assert srv.stdout_lines == [srv.first_line]


def test_access_log_line(start_server, served_dir):
    srv = start_server(served_dir)
    assert http_request(srv, "GET", "/small.txt").status == 200
    assert srv.stop() == 0
    assert any('"GET /small.txt HTTP/1.1" 200 6' in line for line in srv.stdout_lines), srv.stdout_lines


def have_ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not have_ipv6_loopback(), reason="no IPv6 loopback")
def test_bind_ipv6_loopback(start_server, served_dir):
    srv = start_server(served_dir, bind="::1")
    assert srv.first_line.endswith(f"on http://[::1]:{srv.port}/")
    assert srv.host == "::1"
    r = http_request(srv, "GET", "/small.txt")
    assert r.status == 200 and r.body == b"small\n"
