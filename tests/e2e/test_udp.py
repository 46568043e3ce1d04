"""End-to-end tests of `ferry udp`: the echo listener, replies to the most
recent sender, the sending side with --wait, truncated datagrams, oversized
lines, ICMP errors and GBK on the wire."""
import re
import socket
import struct
import time

import pytest

from msgtools import HOSTILE, HOSTILE_SHOWN, T, Dgram, PtyTool, Tool, free_port, tools_fixture

MAX = 65507


@pytest.fixture
def tools():
    """ferry processes for this test; servers must exit 0 on SIGTERM."""
    yield from tools_fixture()


def test_echo(tools):
    srv = tools.server("udp", "--echo")
    d = Dgram()
    for data in [b"ping", b"line\n", b"\x00\xff binary \r\n", b"x" * 9000]:
        d.sendto(data, srv.addr)
        got, frm = d.recv()
        assert got == data and frm == srv.addr
    srv.stdout.expect(f"{d.local}: ping\n{d.local}: line\n".encode(), what="listener stdout")


def test_echo_empty_datagram(tools):
    srv = tools.server("udp", "--echo")
    d = Dgram()
    d.sendto(b"", srv.addr)
    assert d.recv()[0] == b""
    srv.stdout.expect(f"{d.local}: \n".encode(), what="listener stdout")


def test_client_sends_each_line_as_a_datagram(tools):
    d = Dgram()
    cl = tools.run("udp", f"127.0.0.1:{d.port}", "--wait", "0.2")
    cl.write(b"one\ntwo\r\n\nthree")
    cl.close_stdin()
    got = [d.recv()[0] for _ in range(4)]
    assert got == [b"one", b"two", b"", b"three"]
    assert cl.wait(T) == 0, cl.describe()


def test_client_prints_replies_and_lingers(tools):
    d = Dgram()
    cl = tools.run("udp", f"127.0.0.1:{d.port}", "--wait", "1")
    t0 = time.monotonic()
    cl.write(b"question\n")
    got, addr = d.recv()
    assert got == b"question"
    d.sendto(b"answer", addr)
    cl.stdout.expect(b"answer\n", what="client stdout")
    cl.close_stdin()
    time.sleep(0.4)
    d.sendto(b"late answer\n", addr)  # within --wait
    assert cl.wait(T) == 0, cl.describe()
    assert time.monotonic() - t0 >= 1.0, "exited before --wait passed"
    assert cl.stdout.data == b"answer\nlate answer\n"


def test_client_with_echo_listener(tools):
    srv = tools.server("udp", "--echo")
    cl = tools.run("udp", f"127.0.0.1:{srv.port}", "--wait", "0.5")
    cl.write(b"a\nb\n")
    cl.close_stdin()
    assert cl.wait(T) == 0, cl.describe()
    assert cl.stdout.data == b"a\nb\n"


def test_reply_goes_to_the_most_recent_sender(tools):
    srv = tools.server("udp", stdin="pipe")
    a, b = Dgram(), Dgram()
    a.sendto(b"from a", srv.addr)
    srv.stdout.expect(f"{a.local}: from a\n".encode(), what="listener stdout")
    srv.write(b"to a\n")
    assert a.recv() == (b"to a", srv.addr)
    b.sendto(b"from b", srv.addr)
    srv.stdout.expect(f"{b.local}: from b\n".encode(), what="listener stdout")
    srv.write(b"to b\r\n")
    assert b.recv() == (b"to b", srv.addr)
    assert a.nothing(0.3), "a got a reply meant for b"


def test_listener_outlives_its_stdin(tools):
    srv = tools.server("udp", stdin="pipe")
    srv.close_stdin()
    d = Dgram()
    d.sendto(b"still listening", srv.addr)
    srv.stdout.expect(f"{d.local}: still listening\n".encode(), what="listener stdout")
    assert srv.alive()


def test_line_before_anyone_sent(tools):
    srv = tools.server("udp", stdin="pipe")
    srv.write(b"early\n")
    srv.stderr.expect(b"ferry udp: line not sent: nobody has sent a datagram yet", what="listener stderr")
    d = Dgram()
    d.sendto(b"hi", srv.addr)
    srv.stdout.expect(f"{d.local}: hi\n".encode(), what="listener stdout")
    srv.write(b"now\n")
    assert d.recv()[0] == b"now"


def test_truncated_datagram_reported(tools):
    srv = tools.server("udp", "--recv-max", "10")
    d = Dgram()
    d.sendto(b"0123456789" * 10, srv.addr)
    srv.stderr.expect(f"ferry udp: datagram from {d.local} truncated: kept 10 of 100 bytes".encode(),
                      what="listener stderr")
    srv.stdout.expect(f"{d.local}: 0123456789\n".encode(), what="listener stdout")
    d.sendto(b"short", srv.addr)  # fits: not reported
    srv.stdout.expect(f"{d.local}: short\n".encode(), what="listener stdout")
    assert srv.stderr.data.count(b"truncated") == 1


def test_largest_line_is_sent(tools):
    d = Dgram()
    cl = tools.run("udp", f"127.0.0.1:{d.port}", "--wait", "0")
    cl.write(b"b" * MAX + b"\n")
    got, _ = d.recv()
    assert got == b"b" * MAX
    cl.close_stdin()
    assert cl.wait(T) == 0, cl.describe()
    assert b"not sent" not in cl.stderr.data


def test_largest_line_with_a_late_newline(tools):
    """65,507 bytes, then the newline in a later write: still one datagram."""
    d = Dgram()
    cl = tools.run("udp", f"127.0.0.1:{d.port}", "--wait", "0")
    cl.write(b"c" * MAX)
    time.sleep(0.3)
    cl.write(b"\nafter\n")
    got = d.recv()[0]
    assert got == b"c" * MAX, f"got {len(got)} bytes {got[:20]!r}; stderr {cl.stderr.data!r}"
    assert d.recv()[0] == b"after"
    cl.close_stdin()
    assert cl.wait(T) == 0, cl.describe()


def test_oversized_line_refused(tools):
    d = Dgram()
    cl = tools.run("udp", f"127.0.0.1:{d.port}", "--wait", "0")
    cl.write(b"a" * (MAX + 1) + b"\nok\n")
    assert d.recv()[0] == b"ok", "the oversized line was sent"
    cl.stderr.expect(b"ferry udp: line not sent: longer than 65507 bytes", what="client stderr")
    cl.close_stdin()
    assert cl.wait(T) == 0, cl.describe()


def test_very_long_line_refused_once(tools):
    """A line of 200,000 bytes arrives in several reads: refused whole, with
    one message, and the line after it is sent."""
    d = Dgram()
    cl = tools.run("udp", f"127.0.0.1:{d.port}", "--wait", "0")
    cl.write(b"z" * 200000 + b"\nnext\n")
    assert d.recv()[0] == b"next", "a piece of the long line was sent"
    cl.close_stdin()
    assert cl.wait(T) == 0, cl.describe()
    assert cl.stderr.data.count(b"line not sent") == 1, cl.stderr.data


def test_oversized_last_line_without_newline(tools):
    d = Dgram()
    cl = tools.run("udp", f"127.0.0.1:{d.port}", "--wait", "0")
    cl.write(b"ok\n" + b"a" * (MAX + 1))
    cl.close_stdin()
    assert d.recv()[0] == b"ok"
    assert cl.wait(T) == 0, cl.describe()
    assert d.nothing(0.2), "the oversized last line was sent"
    assert b"line not sent" in cl.stderr.data


def test_icmp_error_gives_status_1(tools):
    port = free_port(socket.SOCK_DGRAM)  # nobody listens there
    cl = tools.run("udp", f"127.0.0.1:{port}", "--wait", "0.5")
    cl.write(b"anyone?\n")
    cl.close_stdin()
    assert cl.wait(T) == 1, cl.describe()
    err = cl.stderr.data
    assert err == f"ferry udp: 127.0.0.1:{port}: Connection refused\n".encode(), err  # from the ICMP error


def test_listener_reports_icmp_for_a_gone_sender(tools):
    srv = tools.server("udp", stdin="pipe")
    d = Dgram()
    d.sendto(b"hello", srv.addr)
    srv.stdout.expect(f"{d.local}: hello\n".encode(), what="listener stdout")
    gone = d.local
    d.close()
    srv.write(b"are you there?\n")
    srv.stderr.expect(f"ferry udp: {gone}: Connection refused".encode(), what="listener stderr")
    assert srv.stop() == 1, "a datagram found nobody: status 1"


def test_gbk_listener(tools):
    srv = tools.server("udp", "--charset", "gbk", stdin="pipe")
    d = Dgram()
    d.sendto("你好".encode("gbk"), srv.addr)
    srv.stdout.expect(f"{d.local}: 你好\n".encode("utf-8"), what="listener stdout")
    srv.write("世界\n".encode("utf-8"))
    assert d.recv()[0] == "世界".encode("gbk")


def test_gbk_client(tools):
    d = Dgram()
    cl = tools.run("udp", f"127.0.0.1:{d.port}", "--charset", "gbk", "--wait", "1")
    cl.write("你好\n".encode("utf-8"))
    got, addr = d.recv()
    assert got == "你好".encode("gbk")
    d.sendto("世界".encode("gbk"), addr)
    cl.stdout.expect("世界\n".encode("utf-8"), what="client stdout")
    cl.close_stdin()
    assert cl.wait(T) == 0, cl.describe()


def test_gbk_echo_returns_the_wire_bytes(tools):
    srv = tools.server("udp", "--charset", "gbk", "--echo")
    d = Dgram()
    d.sendto("你好".encode("gbk"), srv.addr)
    assert d.recv()[0] == "你好".encode("gbk")
    srv.stdout.expect(f"{d.local}: 你好\n".encode("utf-8"), what="listener stdout")


def test_bytes_unchanged_without_charset(tools):
    srv = tools.server("udp", stdin="pipe")
    d = Dgram()
    d.sendto("你好".encode("gbk"), srv.addr)
    srv.stdout.expect(f"{d.local}: ".encode() + "你好".encode("gbk") + b"\n", what="listener stdout")
    srv.write("世界\n".encode("utf-8"))
    assert d.recv()[0] == "世界".encode("utf-8")


def spoof(src, dst, payload):
    """Sends one UDP datagram from src to dst (IPv4 loopback addresses)
    whatever socket holds src: a raw socket writes the IP header itself."""
    udp = struct.pack("!HHHH", src[1], dst[1], 8 + len(payload), 0) + payload  # no checksum
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, socket.IPPROTO_UDP, 0,
                     socket.inet_aton(src[0]), socket.inet_aton(dst[0]))
    with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW) as s:
        s.sendto(ip + udp, (dst[0], 0))


def echo_listener(tools, bind):
    t = Tool(["udp", "-l", "-p", "0", "-b", bind, "--echo"], listen=True, server=True)
    tools.tools.append(t)
    return t


def settled(outputs, needle, within=15.0):
    """Counts of needle in each output once they stop growing (the same
    over one second), or None when they still grow after `within` s."""
    deadline = time.monotonic() + within
    last = None
    while time.monotonic() < deadline:
        now = [o.data.count(needle) for o in outputs]
        if now == last:
            return now
        last = now
        time.sleep(1.0)
    return None


@pytest.mark.parametrize("bind", ["127.0.0.1", "0.0.0.0"])
def test_echo_never_answers_its_own_address(tools, bind):
    """A datagram forged to come from the listener's own address and port:
    answering it would send it to itself, again and again (130,000 times
    a second before the fix). It is shown once and not answered."""
    srv = echo_listener(tools, bind)
    me = ("127.0.0.1", srv.port)
    spoof(me, me, b"from myself")
    line = f"127.0.0.1:{srv.port}: from myself\n".encode()
    srv.stdout.expect(line, what="listener stdout")
    assert settled([srv.stdout], line) == [1]
    srv.stderr.expect(b"this socket's own address: not answered", what="listener stderr")
    # Still an echo for everyone else.
    d = Dgram()
    d.sendto(b"ping", srv.addr)
    assert d.recv()[0] == b"ping"


def test_two_echo_listeners_stop_answering_each_other(tools):
    """One datagram to an echo listener, forged to come from another echo
    listener: they answer each other, each within its budget for one
    sender, and then the datagram is dropped and the loop ends (before the
    fix it went on forever)."""
    a, b = echo_listener(tools, "127.0.0.1"), echo_listener(tools, "127.0.0.1")
    spoof(b.addr, a.addr, b"ball")
    counts = settled([a.stdout, b.stdout], b": ball\n")
    assert counts is not None, "the two listeners still answer each other after 15 s"
    # Each answers at most its burst (1000) plus what refills meanwhile.
    assert 1 <= counts[0] <= 5000 and 1 <= counts[1] <= 5000, counts
    # The one whose budget ran out first dropped it, and said so.
    over = b"answers a second; the rest are not answered"
    assert over in a.stderr.data + b.stderr.data, (a.stderr.data, b.stderr.data)
    # Both still answer others.
    d = Dgram()
    for t in (a, b):
        d.sendto(b"ping", t.addr)
        assert d.recv()[0] == b"ping"


def test_listener_on_a_terminal_shows_controls_visibly():
    """On a terminal, a datagram's controls are shown as ^[ and \\xHH, its
    text as sent; a UTF-8 character cut at the end of one datagram is shown
    as bytes, not joined to the next."""
    srv = PtyTool(["udp", "-l", "-p", "0", "-b", "127.0.0.1"])
    try:
        first = srv.until(b"\n", timeout=10)
        m = re.search(rb"listening on 127\.0\.0\.1:(\d+)\n", first)
        assert m, first
        d = Dgram()
        d.sendto(HOSTILE, ("127.0.0.1", int(m.group(1))))
        d.sendto(b"cut \xe4\xbd", ("127.0.0.1", int(m.group(1))))
        d.sendto(b"\xa0 next", ("127.0.0.1", int(m.group(1))))
        got = srv.until(b"next\n")
        me = d.local.encode()
        assert got[len(first):] == (me + b": " + HOSTILE_SHOWN + b"\n" + me + b": cut \\xe4\\xbd\n" +
                                    me + b": \\xa0 next\n")
    finally:
        assert srv.stop() == 0


def test_listener_on_a_pipe_passes_bytes_raw(tools):
    srv = tools.server("udp")
    d = Dgram()
    d.sendto(HOSTILE, srv.addr)
    srv.stdout.expect(d.local.encode() + b": " + HOSTILE + b"\n", what="listener stdout")
