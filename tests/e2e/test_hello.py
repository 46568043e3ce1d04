"""End-to-end tests of `ferry hello`: the greeting exchange byte for byte,
`exit`, the message cap, a thousand concurrent clients, the idle timeout,
the client cap, the join/leave log and GBK bytes."""
import resource
import selectors
import socket
import time

import pytest

from msgtools import Conn, T, tools_fixture

WELCOME = b"Welcome!"


@pytest.fixture
def tools():
    """ferry processes for this test; servers must exit 0 on SIGTERM."""
    yield from tools_fixture()


def greeted(srv):
    c = Conn(srv.addr)
    c.expect(WELCOME)
    return c


def end_with_exit(c):
    """Says exit; the server closes without sending anything more."""
    c.send(b"exit\n")
    rest = c.wait_closed()
    assert rest == b"", f"bytes after the last answer: {rest!r}"


# (name, bytes in one send, the whole answer)
EXCHANGES = [
    ("unterminated word", b"hi", b"Hello, hi!"),
    ("LF line", b"hi\n", b"Hello, hi!\n"),
    ("CRLF line", b"hi\r\n", b"Hello, hi!\r\n"),
    ("several lines in one send", b"a\nb\r\nc\n", b"Hello, a!\nHello, b!\r\nHello, c!\n"),
    ("lines then an unterminated word", b"one\ntwo", b"Hello, one!\nHello, two!"),
    ("empty LF line", b"\n", b"Hello, !\n"),
    ("empty CRLF line", b"\r\n", b"Hello, !\r\n"),
    ("spaces kept", b"  two  words \n", b"Hello,   two  words !\n"),
    ("CR inside the text", b"a\rb\n", b"Hello, a\rb!\n"),
    ("8-bit and NUL bytes", b"\xff\x00\x80z\n", b"Hello, \xff\x00\x80z!\n"),
    ("UTF-8", "héllo wörld\n".encode(), "Hello, héllo wörld!\n".encode()),
    ("exit with a space is a message", b"exit \n", b"Hello, exit !\n"),
    ("EXIT in capitals is a message", b"EXIT\n", b"Hello, EXIT!\n"),
]


@pytest.mark.parametrize("name,sent,answer", EXCHANGES, ids=[e[0] for e in EXCHANGES])
def test_exchange(tools, name, sent, answer):
    srv = tools.server("hello", "-q")
    c = greeted(srv)
    c.send(sent)
    c.expect(answer)
    end_with_exit(c)


def test_welcome_is_exactly_eight_bytes(tools):
    srv = tools.server("hello", "-q")
    c = greeted(srv)
    assert c.quiet_for(0.3) == b"", "bytes after Welcome! before any message"


def test_one_connection_mixed_endings(tools):
    """Each answer ends the way its message did, on one connection."""
    srv = tools.server("hello", "-q")
    c = greeted(srv)
    for sent, answer in [(b"word", b"Hello, word!"), (b"lf\n", b"Hello, lf!\n"),
                         (b"crlf\r\n", b"Hello, crlf!\r\n"), (b"again", b"Hello, again!")]:
        c.send(sent)
        c.expect(answer)
    end_with_exit(c)


@pytest.mark.parametrize("word", [b"exit\n", b"exit\r\n", b"exit"], ids=["LF", "CRLF", "unterminated"])
def test_exit_ends_the_client(tools, word):
    srv = tools.server("hello", "-q")
    c = greeted(srv)
    c.send(b"first\n")
    c.expect(b"Hello, first!\n")
    c.send(word)
    assert c.wait_closed() == b""


def test_exit_in_the_middle_of_a_send(tools):
    """Messages after exit in the same send are not answered."""
    srv = tools.server("hello", "-q")
    c = greeted(srv)
    c.send(b"a\nexit\nb\n")
    assert c.wait_closed() == b"Hello, a!\n"


def test_peer_close_answers_the_last_word(tools):
    """A client that sends a word and closes its side still gets the answer."""
    srv = tools.server("hello", "-q")
    c = greeted(srv)
    c.send(b"last")
    c.sock.shutdown(socket.SHUT_WR)
    assert c.wait_closed() == b"Hello, last!"


def test_long_line_is_cut_at_4096(tools):
    srv = tools.server("hello", "-q")
    c = greeted(srv)
    c.send(b"a" * 10000 + b"\n")
    c.expect(b"Hello, " + b"a" * 4096 + b"!" + b"Hello, " + b"a" * 4096 + b"!" +
             b"Hello, " + b"a" * 1808 + b"!\n")
    end_with_exit(c)


def test_max_msg_option(tools):
    srv = tools.server("hello", "-q", "--max-msg", "5")
    c = greeted(srv)
    c.send(b"abcdefgh\n")
    c.expect(b"Hello, abcde!Hello, fgh!\n")
    end_with_exit(c)


def test_cap_length_line_with_crlf(tools):
    """4096 bytes of text then CRLF is one message ending in CRLF, not a
    cut message and an extra empty one."""
    srv = tools.server("hello", "-q")
    c = greeted(srv)
    c.send(b"a" * 4096 + b"\r\n")
    c.expect(b"Hello, " + b"a" * 4096 + b"!\r\n")
    end_with_exit(c)


def test_cap_length_line_with_lf(tools):
    srv = tools.server("hello", "-q")
    c = greeted(srv)
    c.send(b"a" * 4096 + b"\n")
    c.expect(b"Hello, " + b"a" * 4096 + b"!\n")
    end_with_exit(c)


def test_line_one_under_the_cap_with_crlf(tools):
    """4095 bytes then CRLF: the CR is the line ending, not text."""
    srv = tools.server("hello", "-q")
    c = greeted(srv)
    c.send(b"a" * 4095 + b"\r\n")
    c.expect(b"Hello, " + b"a" * 4095 + b"!\r\n")
    end_with_exit(c)


def test_unterminated_word_after_a_full_read(tools):
    """A send of exactly 4096 bytes, a line then an unterminated word: the
    client then waits, so the word is a message and gets its answer."""
    srv = tools.server("hello", "-q")
    c = greeted(srv)
    c.send(b"hi\n" + b"a" * 4093)
    c.expect(b"Hello, hi!\n")
    c.expect(b"Hello, " + b"a" * 4093 + b"!", timeout=3)
    end_with_exit(c)


def test_gbk_bytes_answered_unchanged(tools):
    srv = tools.server("hello", "-q", "--charset", "gbk")
    c = greeted(srv)
    gbk = "你好".encode("gbk")
    c.send(gbk + b"\n")
    c.expect(b"Hello, " + gbk + b"!\n")
    c.send(gbk)
    c.expect(b"Hello, " + gbk + b"!")
    end_with_exit(c)


def test_thousand_concurrent_clients(tools):
    """1,000 clients connected at once, each doing one exchange."""
    n = 1000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = n + 200
    if soft < want:
        if hard != resource.RLIM_INFINITY and hard < want:
            pytest.skip(f"RLIMIT_NOFILE hard limit {hard} < {want}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    srv = tools.server("hello")
    sel = selectors.DefaultSelector()
    socks = []
    state = {}  # sock -> [index, bytes received, sent]
    try:
        for i in range(n):
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(srv.addr)
            socks.append(s)
            state[s] = [i, bytearray(), False]
            sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
        done = 0
        deadline = time.monotonic() + 30
        for _ in range(200000):
            if done == n or time.monotonic() > deadline:
                break
            for key, ev in sel.select(timeout=0.5):
                s = key.fileobj
                st = state[s]
                i, got, sent = st
                want_all = WELCOME + b"Hello, client %d!\n" % i
                if ev & selectors.EVENT_WRITE:
                    err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    assert err == 0, f"client {i}: connect failed: {err}"
                    sel.modify(s, selectors.EVENT_READ)
                if ev & selectors.EVENT_READ:
                    try:
                        chunk = s.recv(4096)
                    except BlockingIOError:
                        continue
                    assert chunk, f"client {i}: closed after {bytes(got)!r}"
                    got += chunk
                    if not sent and len(got) >= len(WELCOME):
                        assert got.startswith(WELCOME), f"client {i}: {bytes(got)!r}"
                        s.send(b"client %d\n" % i)  # a few bytes: the socket takes them
                        st[2] = True
                    if len(got) >= len(want_all):
                        assert bytes(got) == want_all, f"client {i}: {bytes(got)!r}"
                        sel.unregister(s)
                        done += 1
        assert done == n, f"{done} of {n} clients finished their exchange within 30s"
        # Every one of them was connected at the same time.
        srv.stdout.expect(b"(%d connected)" % n, timeout=T, what="hello log")
    finally:
        sel.close()
        for s in socks:
            s.close()


def test_idle_timeout(tools):
    """--idle 1: a silent client is closed after about a second; one that
    keeps talking meanwhile is not."""
    srv = tools.server("hello", "-q", "--idle", "1")
    silent = greeted(srv)
    t0 = time.monotonic()
    talker = greeted(srv)
    closed_at = None
    for k in range(10):  # a message every 0.3 s, for up to 3 s
        talker.send(b"%d\n" % k)
        talker.expect(b"Hello, %d!\n" % k)
        rest = silent.quiet_for(0.3)  # the pause between messages
        assert rest == b"", f"the silent client got {rest!r}"
        if silent.closed and closed_at is None:
            closed_at = time.monotonic() - t0
        if closed_at is not None and k >= 5:
            break
    assert closed_at is not None, "the silent client was not closed within 3 s"
    assert 0.9 <= closed_at <= 2.5, f"the silent client was closed after {closed_at:.2f}s"
    rest = talker.wait_closed(timeout=3)
    assert rest == b"", "the talker, once silent, is closed too"


def test_max_clients(tools):
    """--max-clients 2: a third client waits until one leaves."""
    srv = tools.server("hello", "-q", "--max-clients", "2")
    a = greeted(srv)
    b = greeted(srv)
    c = Conn(srv.addr)  # the kernel completes the handshake; ferry does not take it yet
    assert c.quiet_for(0.7) == b"", "a third client was served over --max-clients 2"
    end_with_exit(a)
    c.expect(WELCOME, timeout=3)
    c.send(b"third\n")
    c.expect(b"Hello, third!\n")
    b.send(b"second\n")
    b.expect(b"Hello, second!\n")
    end_with_exit(c)
    end_with_exit(b)


def test_log_join_and_leave(tools):
    srv = tools.server("hello")
    c = greeted(srv)
    me = c.local
    srv.stdout.expect(f"{me} joined".encode(), what="hello log")
    end_with_exit(c)
    srv.stdout.expect(f"{me} left".encode(), what="hello log")


def test_quiet_logs_nothing(tools):
    srv = tools.server("hello", "-q")
    c = greeted(srv)
    end_with_exit(c)
    time.sleep(0.4)  # the log is written at the next tick (100 ms)
    assert srv.out_after_listen() == b""


def test_sigterm_with_clients_connected(tools):
    srv = tools.server("hello", "-q")
    c = greeted(srv)
    assert srv.stop() == 0, srv.describe()
    assert c.wait_closed() == b""
