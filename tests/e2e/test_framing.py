"""Issue 8: request framing a hostile peer uses against `ferry serve --upload`.

Each case sends raw bytes: a PUT whose framing is ambiguous, with a chunked
body that would store a file if it were read as chunked, then a second
request (`GET /old.txt`) on the same connection, as a request smuggled in the
body would be. The server must answer the first request with exactly the
expected status, close the connection without answering the second, and
store nothing."""
import pytest

from ferrylib import HttpConn
from peers import listing, wait_for

OLD = b"the old content\n"

# A complete chunked body, and the request smuggled after it.
CHUNKED_BODY = b"5\r\nhello\r\n0\r\n\r\n"
SMUGGLED = b"GET /old.txt HTTP/1.1\r\nHost: x\r\n\r\n"


@pytest.fixture
def root(tmp_path):
    r = tmp_path / "root"
    r.mkdir()
    (r / "old.txt").write_bytes(OLD)
    return r


@pytest.fixture
def upsrv(start_server, root):
    return start_server(root, "-q", "--upload", "--max-upload", "64K")


def head(lines, version=b"HTTP/1.1", target=b"/new.bin", eol=b"\r\n"):
    """A PUT head from raw header lines (bytes), each ended by eol."""
    return b"PUT " + target + b" " + version + eol + b"".join(l + eol for l in lines) + eol


def refused(upsrv, root, raw, status):
    """Sends raw then SMUGGLED on one connection; asserts exactly one response
    with status, that the server then closes, and that nothing was stored."""
    with HttpConn(upsrv.port) as c:
        c.send(raw + SMUGGLED)
        resp = c.read_response()
        assert resp.status == status, resp
        assert c.closed_by_peer(), f"a second response or no close: {bytes(c.buf)!r}"
    assert wait_for(lambda: listing(root) == ["old.txt"]), listing(root)
    assert (root / "old.txt").read_bytes() == OLD


H = b"Host: x"
TE = b"Transfer-Encoding: chunked"

# ---- defect 2: Transfer-Encoding that is not exactly one final chunked -------

TE_CASES = {
    "te_twice": ([H, TE, TE], 400),
    "te_chunked_chunked": ([H, b"Transfer-Encoding: chunked, chunked"], 400),
    "te_gzip_line_then_chunked_line": ([H, b"Transfer-Encoding: gzip", TE], 400),
    "te_chunked_then_gzip": ([H, b"Transfer-Encoding: chunked, gzip"], 400),
    "te_with_content_length": ([H, TE, b"Content-Length: %d" % len(CHUNKED_BODY)], 400),
    "content_length_with_te": ([H, b"Content-Length: %d" % len(CHUNKED_BODY), TE], 400),
    "te_chunked_with_parameter": ([H, b"Transfer-Encoding: chunked;q=1"], 400),
    "te_empty_element": ([H, b"Transfer-Encoding: , chunked"], 400),
    "te_gzip_chunked_501": ([H, b"Transfer-Encoding: gzip, chunked"], 501),
    "te_identity_chunked_501": ([H, b"Transfer-Encoding: identity, chunked"], 501),
    "te_x_foo_chunked_501": ([H, b"Transfer-Encoding: x-foo, chunked"], 501),
}


@pytest.mark.parametrize("lines,status", TE_CASES.values(), ids=TE_CASES.keys())
def test_transfer_encoding_refused(upsrv, root, lines, status):
    refused(upsrv, root, head(lines) + CHUNKED_BODY, status)


def test_te_in_http10_request_is_400(upsrv, root):
    refused(upsrv, root, head([TE], version=b"HTTP/1.0") + CHUNKED_BODY, 400)


def test_te_in_http10_request_with_content_length_is_400(upsrv, root):
    raw = head([TE, b"Content-Length: %d" % len(CHUNKED_BODY)], version=b"HTTP/1.0")
    refused(upsrv, root, raw + CHUNKED_BODY, 400)


# ---- defect 2: obfuscated header lines ----------------------------------------

OBFUSCATED = {
    "bare_cr_after_chunked": [H, b"Transfer-Encoding: chunked\r"],
    "bare_cr_between_fields": [H, b"Transfer-Encoding: chunked\rX: y"],
    "bare_cr_in_name": [H, b"Transfer\r-Encoding: chunked"],
    "leading_space_first_header": [b" " + TE, H],
    "leading_tab_first_header": [b"\t" + TE, H],
    "space_before_colon": [H, b"Transfer-Encoding : chunked"],
    "tab_before_colon": [H, b"Transfer-Encoding\t: chunked"],
    "obs_fold_continues_te": [H, b"Transfer-Encoding: gzip,", b" chunked"],
    "obs_fold_hides_te": [H, b"X: y", b"\t" + TE],
    "nul_in_value": [H, b"Transfer-Encoding: chunked\0"],
    "nul_in_name": [H, b"Transfer-Encoding\0: chunked"],
    "ctl_in_value": [H, b"Transfer-Encoding:\x0bchunked"],
    "del_in_name": [H, b"Transfer-Encoding\x7f: chunked"],
    "empty_name": [H, b": chunked", TE],
}


@pytest.mark.parametrize("lines", OBFUSCATED.values(), ids=OBFUSCATED.keys())
def test_obfuscated_header_line_is_400(upsrv, root, lines):
    refused(upsrv, root, head(lines) + CHUNKED_BODY, 400)


def test_bare_lf_line_ends_are_400(upsrv, root):
    refused(upsrv, root, head([H, TE], eol=b"\n") + CHUNKED_BODY, 400)


def test_one_bare_lf_among_crlf_is_400(upsrv, root):
    raw = b"PUT /new.bin HTTP/1.1\r\nHost: x\n" + TE + b"\r\n\r\n" + CHUNKED_BODY
    refused(upsrv, root, raw, 400)


def test_plain_chunked_put_still_stores(upsrv, root):
    """The control: the same body with clean framing is stored, and the
    connection answers the next request (sent after the answer: the server
    does not take pipelined requests after a chunked PUT)."""
    with HttpConn(upsrv.port) as c:
        c.send(head([H, TE]) + CHUNKED_BODY)
        assert c.read_response().status == 201
        c.send(SMUGGLED)
        second = c.read_response()
        assert second.status == 200 and second.body == OLD
    assert (root / "new.bin").read_bytes() == b"hello"


# ---- defect 3: chunk sizes and chunk lines ---------------------------------------

LINE_MAX = 4096  # HTTP_CHUNK_LINE_MAX: a size line, CR LF included

BAD_BODIES = {
    "chunk_size_2_63": b"8000000000000000\r\nhello\r\n0\r\n\r\n",
    "chunk_size_2_64_minus_1": b"ffffffffffffffff\r\nhello\r\n0\r\n\r\n",
    "chunk_size_2_64": b"10000000000000000\r\nhello\r\n0\r\n\r\n",
    "chunk_size_2_63_after_leading_zeros": b"0000008000000000000000\r\nhello\r\n0\r\n\r\n",
    "chunk_size_2_63_second_chunk": b"5\r\nhello\r\n8000000000000000\r\nhello\r\n0\r\n\r\n",
    "chunk_size_leading_zeros_past_line_cap":
        b"0" * (LINE_MAX - 2) + b"5\r\nhello\r\n0\r\n\r\n",
    "chunk_size_bare_lf": b"5\nhello\r\n0\r\n\r\n",
    "chunk_size_bare_cr": b"5\rhello\r\n0\r\n\r\n",
    "chunk_ext_bare_cr": b"5;a\rb\r\nhello\r\n0\r\n\r\n",
    "chunk_ext_bare_lf": b"5;a\nb\r\nhello\r\n0\r\n\r\n",
    "chunk_ext_nul": b"5;a\0b\r\nhello\r\n0\r\n\r\n",
    "chunk_ext_past_line_cap": b"5;" + b"e" * LINE_MAX + b"\r\nhello\r\n0\r\n\r\n",
    "chunk_data_bare_lf": b"5\r\nhello\n0\r\n\r\n",
    "last_chunk_bare_lf": b"5\r\nhello\r\n0\r\n\n",
    "trailer_obs_fold": b"5\r\nhello\r\n0\r\nX: y\r\n z\r\n\r\n",
    "trailer_bare_cr": b"5\r\nhello\r\n0\r\nX: y\rz\r\n\r\n",
}


@pytest.mark.parametrize("body", BAD_BODIES.values(), ids=BAD_BODIES.keys())
def test_bad_chunked_body_is_400(upsrv, root, body):
    refused(upsrv, root, head([H, TE]) + body, 400)


def test_chunk_size_2_63_minus_1_is_bounded_by_max_upload(upsrv, root):
    """The largest size there is, taken as a size: --max-upload still ends it."""
    with HttpConn(upsrv.port) as c:
        c.send(head([H, TE]) + b"7fffffffffffffff\r\n")
        try:
            for _ in range(10):
                c.send(b"x" * 10_000)
        except (BrokenPipeError, ConnectionResetError):
            pass
        resp = c.read_response()
        assert resp.status == 413, resp
        assert c.closed_by_peer()
    assert wait_for(lambda: listing(root) == ["old.txt"]), listing(root)


def test_leading_zeros_up_to_the_line_cap_are_taken(upsrv, root):
    body = b"0" * (LINE_MAX - 3) + b"5\r\nhello\r\n0\r\n\r\n"
    with HttpConn(upsrv.port) as c:
        c.send(head([H, TE]) + body)
        assert c.read_response().status == 201
    assert (root / "new.bin").read_bytes() == b"hello"
