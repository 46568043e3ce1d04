"""The access log: --log-format combined (the default), common and json.
Each line has the user ("-" or null while nobody is authenticated), the
body bytes that really left, and, in combined and json, the request time
in milliseconds. JSON lines are valid JSON in valid UTF-8 whatever bytes a
peer sent."""
import json
import re
import time

import pytest

import socket

from ferrylib import HttpConn, build_request, connect, http_request
from peers import run_ferry

SMALL = b"hello!"

CLF = (r'^(?P<addr>\S+) - (?P<user>\S+) \[(?P<date>\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d \+0000)\] '
       r'"(?P<req>[^"]*)" (?P<status>\d{3}) (?P<bytes>\d+)')
COMBINED = re.compile(CLF + r' "(?P<ref>[^"]*)" "(?P<ua>[^"]*)" (?P<ms>\d+\.\d{3})$')
COMMON = re.compile(CLF + r'$')


@pytest.fixture
def root(tmp_path):
    r = tmp_path / "root"
    r.mkdir()
    (r / "small.txt").write_bytes(SMALL)
    (r / "big.bin").write_bytes(b"x" * 32_000_000)
    return r


def log_lines(srv, n, timeout=5.0):
    """The first n access log lines (the serving line left out)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = srv.stdout_lines[1:]
        if len(lines) >= n:
            return lines[:n]
        time.sleep(0.05)
    raise AssertionError(f"fewer than {n} log lines: {srv.stdout_lines!r}")


def test_combined_is_the_default(start_server, root):
    srv = start_server(root)
    http_request(srv, "GET", "/small.txt", [("Referer", "http://x.test/page"),
                                            ("User-Agent", "tester/1.0")])
    line = log_lines(srv, 1)[0]
    m = COMBINED.match(line)
    assert m, line
    assert m["addr"] == "127.0.0.1" and m["user"] == "-"
    assert m["req"] == "GET /small.txt HTTP/1.1" and m["status"] == "200" and m["bytes"] == "6"
    assert m["ref"] == "http://x.test/page" and m["ua"] == "tester/1.0"
    assert float(m["ms"]) >= 0


def test_combined_without_referer_and_agent(start_server, root):
    srv = start_server(root, "--log-format", "combined")
    http_request(srv, "GET", "/small.txt")
    m = COMBINED.match(log_lines(srv, 1)[0])
    assert m and m["ref"] == "-" and m["ua"] == "-"


def test_common_format(start_server, root):
    srv = start_server(root, "--log-format", "common")
    http_request(srv, "GET", "/nope", [("User-Agent", "tester/1.0")])
    line = log_lines(srv, 1)[0]
    m = COMMON.match(line)
    assert m, line
    assert m["status"] == "404" and "tester" not in line


def test_json_format(start_server, root):
    srv = start_server(root, "--log-format", "json")
    http_request(srv, "GET", "/small.txt", [("User-Agent", "tester/1.0")])
    rec = json.loads(log_lines(srv, 1)[0])
    assert rec["remote"] == "127.0.0.1" and rec["user"] is None
    assert rec["method"] == "GET" and rec["target"] == "/small.txt"
    assert rec["protocol"] == "HTTP/1.1" and rec["status"] == 200 and rec["bytes"] == 6
    assert rec["referer"] is None and rec["user_agent"] == "tester/1.0"
    assert isinstance(rec["ms"], float) and rec["ms"] >= 0
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", rec["time"])


def test_json_escapes_quotes_and_bad_utf8(start_server, root):
    srv = start_server(root, "--log-format", "json")
    ua = b'a"b\\c \xc3\xa9 \xff\xfe \xed\xa0\x80 \xc0\xaf \xf4\x90\x80\x80 \xe2\x82 end'
    with HttpConn(srv.port) as c:
        c.send(b"GET /small.txt?q=\xff\"x HTTP/1.1\r\nHost: a\r\nUser-Agent: " + ua + b"\r\n\r\n")
        assert c.read_response().status == 200
    raw = log_lines(srv, 1)[0]
    rec = json.loads(raw)
    # Overlong, surrogate, past U+10FFFF and cut sequences: U+FFFD per byte.
    assert rec["user_agent"] == ('a"b\\c \u00e9 \ufffd\ufffd \ufffd\ufffd\ufffd \ufffd\ufffd '
                                 '\ufffd\ufffd\ufffd\ufffd \ufffd\ufffd end')
    assert rec["target"] == '/small.txt?q=\ufffd"x'


def test_json_escapes_control_bytes(start_server, root):
    # Header values cannot hold control bytes; a raw name can.
    srv = start_server(root, "--log-format", "json")
    with srv.connect() as s:
        s.sendall(b"nope\x1b[2J\x01\x7f\t\"q\n")
        s.settimeout(5)
        while s.recv(65536):
            pass
    raw = log_lines(srv, 1)[0]
    assert not any(ord(ch) < 0x20 or ord(ch) == 0x7f for ch in raw)
    assert "\\u001b[2J\\u0001\\u007f\\u0009\\\"q" in raw
    assert json.loads(raw)["target"] == 'nope\x1b[2J\x01\x7f\t"q'


def test_json_raw_protocol(start_server, root):
    srv = start_server(root, "--log-format", "json")
    with srv.connect() as s:
        s.sendall(b"small.txt\n")
        s.settimeout(5)
        while s.recv(65536):
            pass
    rec = json.loads(log_lines(srv, 1)[0])
    assert rec["protocol"] == "raw" and rec["method"] == "RAW" and rec["bytes"] == 6


def test_bytes_really_sent_on_a_cut(start_server, root):
    # The client goes away early: the log says what left, not what was promised.
    srv = start_server(root, "--log-format", "json")
    s = connect(srv.port, rcvbuf=4096, timeout=5)  # the small window is set before connecting
    s.sendall(build_request("GET", "/big.bin"))
    s.recv(100)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
    s.close()
    rec = json.loads(log_lines(srv, 1, timeout=40)[0])
    assert rec["status"] == 200 and 0 < rec["bytes"] < 32_000_000, rec


def test_bad_log_format_is_usage(root):
    r = run_ferry("serve", "-p", "0", "--log-format", "xml", root)
    assert r.rc == 2 and "--log-format" in r.err


# ---- exchanges cut short (issue 17, point 7) --------------------------------------------------
# An upload cut mid-body is never answered; its line says 499 (the client left, as nginx logs
# it) or 408 (its body stopped coming until the deadline), with the body bytes that came:
# "received" in JSON, and received=N at the end of a common or combined line.

CUT = re.compile(r'(?P<line>.*) received=(?P<received>\d+)$')


def cut_put(srv, target, sent, total=100_000, headers=None):
    """Sends a PUT that announces total bytes, sends sent of them and goes away."""
    s = connect(srv.port, timeout=5)
    h = [("Content-Length", str(total))] + list(headers or [])
    s.sendall(build_request("PUT", target, h) + b"x" * sent)
    time.sleep(0.2)  # the server reads what came before it sees the end
    s.close()


def test_cut_upload_is_logged_combined(start_server, root):
    srv = start_server(root, "--upload")
    cut_put(srv, "/up.bin", 5000)
    m = CUT.match(log_lines(srv, 1)[0])
    assert m and m["received"] == "5000", srv.stdout_lines
    c = COMBINED.match(m["line"])
    assert c and c["req"] == "PUT /up.bin HTTP/1.1" and c["status"] == "499" and c["bytes"] == "0"
    assert not (root / "up.bin").exists()


def test_cut_upload_is_logged_common(start_server, root):
    srv = start_server(root, "--upload", "--log-format", "common")
    cut_put(srv, "/up.bin", 3000)
    m = CUT.match(log_lines(srv, 1)[0])
    assert m and m["received"] == "3000", srv.stdout_lines
    c = COMMON.match(m["line"])
    assert c and c["req"] == "PUT /up.bin HTTP/1.1" and c["status"] == "499"


def test_stalled_upload_is_logged_408(start_server, root):
    srv = start_server(root, "--upload", "--log-format", "json", "--send-timeout", "1")
    s = connect(srv.port, timeout=5)
    s.sendall(build_request("PUT", "/slow.bin", [("Content-Length", "1000")]) + b"y" * 10)
    rec = json.loads(log_lines(srv, 1, timeout=10)[0])
    s.close()
    assert rec["status"] == 408 and rec["received"] == 10 and rec["cut"] is True, rec
    assert rec["method"] == "PUT" and rec["bytes"] == 0


def test_cut_resumable_patch_is_logged_json(start_server, root):
    srv = start_server(root, "--upload", "--log-format", "json")
    s = connect(srv.port, timeout=5)
    s.sendall(build_request("PUT", "/r.bin", [("Content-Length", "100000"), ("Upload-Complete", "?1"),
                                              ("Upload-Draft-Interop-Version", "8")]) + b"a" * 4000)
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        assert chunk, head
        head += chunk
    loc = re.search(rb"(?i)\r\nlocation: *(\S+)", head).group(1).decode()
    time.sleep(0.2)
    s.close()
    first = json.loads(log_lines(srv, 1)[0])
    assert first["status"] == 499 and first["received"] == 4000 and first["cut"], first
    with HttpConn(srv.port) as c:
        c.request("HEAD", loc, [("Upload-Draft-Interop-Version", "8")])
        r = c.read_response("HEAD")
        offset = int(r.header("Upload-Offset"))
    assert offset == 4000
    cut_put_target = loc
    s = connect(srv.port, timeout=5)
    s.sendall(build_request("PATCH", cut_put_target, [
        ("Content-Length", str(100000 - offset)), ("Upload-Offset", str(offset)),
        ("Upload-Complete", "?1"), ("Upload-Draft-Interop-Version", "8"),
        ("Content-Type", "application/partial-upload")]) + b"b" * 7000)
    time.sleep(0.2)
    s.close()
    recs = [json.loads(x) for x in log_lines(srv, 3)]
    assert recs[1]["method"] == "HEAD" and recs[1]["received"] == 0 and "cut" not in recs[1]
    last = recs[2]
    assert last["method"] == "PATCH" and last["status"] == 499 and last["received"] == 7000, last


def test_upload_cut_by_the_server_stopping_is_logged_503(start_server, root):
    srv = start_server(root, "--upload", "--log-format", "json")
    s = connect(srv.port, timeout=5)
    s.sendall(build_request("PUT", "/late.bin", [("Content-Length", "100000")]) + b"z" * 2000)
    time.sleep(0.2)
    assert srv.stop(timeout=15) == 0  # SIGTERM: 3 s of grace, then the upload is cut
    s.close()
    rec = json.loads(log_lines(srv, 1)[0])
    assert rec["status"] == 503 and rec["received"] == 2000 and rec["cut"] is True, rec
