"""The raw file protocol on the HTTP port: send a name, get the file's
bytes and a close; an empty reply means "no such file"."""
import os
import time

import pytest

from ferrylib import HttpConn, raw_fetch, recv_until_close, sha256

HELLO = os.urandom(300_000)
CHINESE = "中文.txt"
CHINESE_DATA = "你好, ferry\n".encode("utf-8") * 10
SECRET = b"RAW-SECRET-5d1e"
SHORT_NAMES = ["G", "GE", "GET", "HEAD", "P", "OPTIONS"]  # proper prefixes of HTTP methods


@pytest.fixture(scope="module")
def served_dir(tmp_path_factory):
    parent = tmp_path_factory.mktemp("raw")
    (parent / "secret").write_bytes(SECRET)
    root = parent / "root"
    root.mkdir()
    (root / "hello.bin").write_bytes(HELLO)
    (root / "small.txt").write_bytes(b"small\n")
    (root / CHINESE).write_bytes(CHINESE_DATA)
    (root / "sub").mkdir()
    (root / "sub" / "in.txt").write_bytes(b"in sub\n")
    (root / ".hidden").write_bytes(b"hidden")
    for name in SHORT_NAMES:
        (root / name).write_bytes(b"the file named " + name.encode())
    return root


def test_raw_found(server):
    got = raw_fetch(server, b"hello.bin")
    assert sha256(got) == sha256(HELLO)


def test_raw_found_in_subdirectory(server):
    assert raw_fetch(server, b"sub/in.txt") == b"in sub\n"


def test_raw_found_with_half_close(server):
    got = raw_fetch(server, b"hello.bin", half_close=True)
    assert sha256(got) == sha256(HELLO)


@pytest.mark.parametrize("end", [b"\r\n", b"\n", b"\r"], ids=["crlf", "lf", "cr"])
def test_raw_trailing_newline_stripped(server, end):
    assert sha256(raw_fetch(server, b"hello.bin" + end)) == sha256(HELLO)


def test_raw_missing_gets_empty_reply(server):
    assert raw_fetch(server, b"no-such-file") == b""


def test_raw_directory_gets_empty_reply(server):
    assert raw_fetch(server, b"sub") == b""
    assert raw_fetch(server, b"sub/") == b""


@pytest.mark.parametrize("name", [b"../secret", b"sub/../../secret", b"/../secret", b"./../secret"],
                         ids=["dotdot", "deep_dotdot", "rooted_dotdot", "dot_dotdot"])
def test_raw_escape_gets_empty_reply(server, name):
    assert raw_fetch(server, name) == b""


def test_raw_percent_is_not_decoded(server):
    # Raw names are taken literally: "%2e%2e/secret" is no escape, and no file.
    assert raw_fetch(server, b"%2e%2e/secret") == b""
    assert raw_fetch(server, b"small%2etxt") == b""


def test_raw_hidden_gets_empty_reply(server):
    assert raw_fetch(server, b".hidden") == b""


def test_raw_gbk_name(server):
    assert raw_fetch(server, CHINESE.encode("gbk")) == CHINESE_DATA


def test_raw_utf8_name(server):
    assert raw_fetch(server, CHINESE.encode("utf-8")) == CHINESE_DATA


def test_raw_name_over_4k_gets_empty_reply(server):
    assert raw_fetch(server, b"a" * 5000) == b""


def test_raw_name_ends_at_nul(server):
    # A NUL ends the name like CR or LF (docs/PROTOCOLS.md); what follows is
    # not read, and never becomes part of the path.
    assert raw_fetch(server, b"small.txt\x00junk") == b"small\n"
    assert raw_fetch(server, b"\x00small.txt") == b""


def test_raw_newline_ends_name_and_cannot_forge_log_lines(server):
    assert raw_fetch(server, b"nope\n127.0.0.1 - - forged") == b""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and '"RAW nope"' not in server.stdout_text():
        time.sleep(0.05)
    log = server.stdout_text()
    assert '"RAW nope" 404 0' in log, "the request was not logged"
    assert "forged" not in log


def test_raw_control_bytes_in_name_are_escaped_in_log(server):
    assert raw_fetch(server, b'nope\x1b[2J"q\x7f') == b""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and "RAW nope" not in server.stdout_text():
        time.sleep(0.05)
    assert '"RAW nope\\x1b[2J\\x22q\\x7f" 404 0' in server.stdout_text()


@pytest.mark.parametrize("name", SHORT_NAMES)
def test_raw_short_name_prefix_of_method(server, name):
    # No terminator, no half-close: the server serves it after its probe delay.
    assert raw_fetch(server, name.encode()) == b"the file named " + name.encode()


@pytest.mark.parametrize("name", ["GE", "HEAD"])
def test_raw_short_name_with_half_close(server, name):
    # The client says it has nothing more to send: the bytes so far can only
    # be a raw name, so the probe must end there and then.
    assert raw_fetch(server, name.encode(), half_close=True) == b"the file named " + name.encode()


def test_http_still_works_alongside_raw(server):
    with HttpConn(server.port) as c:
        c.send(b"GET /small.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        assert c.read_response().body == b"small\n"


def test_http_sent_byte_by_byte_is_not_raw(server):
    # "G", "E", "T", " " arriving apart must still make an HTTP request.
    with server.connect() as s:
        for b in b"GET ":
            s.sendall(bytes([b]))
            time.sleep(0.01)
        s.sendall(b"/small.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = recv_until_close(s)
    assert data.startswith(b"HTTP/1.1 200 ") and data.endswith(b"small\n")


def test_no_raw_option_answers_http_error(start_server, served_dir):
    srv = start_server(served_dir, "--no-raw")
    with srv.connect() as s:
        s.sendall(b"small.txt\r\n")
        data = recv_until_close(s)
    assert data.startswith(b"HTTP/1.1 400 "), data
    assert b"small\n" not in data


def test_no_raw_option_name_without_newline_not_served(start_server, served_dir):
    srv = start_server(served_dir, "--no-raw", "--head-timeout", "2")
    with srv.connect() as s:
        s.sendall(b"small.txt")
        data = recv_until_close(s, timeout=8)
    assert data == b"", data  # the head deadline closes it without an answer
    assert b"small\n" not in data
