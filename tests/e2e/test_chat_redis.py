"""End-to-end tests of `ferry chat -l --redis`: brokers federated over a real
redis-server that each test starts on a free loopback port, without
persistence, and stops by its PID. Two or three brokers per test, raw TCP
clients: lines cross brokers in order with their senders' names, a newcomer
gets the history from Redis, /who spans brokers, a /nick is refused across
brokers, a broker killed with SIGKILL drops out of /who, and when Redis dies
local chat goes on, clients are told once, and federation resumes when a
new redis-server starts on the same port. Every wait is bounded."""
import re
import signal
import socket
import subprocess
import threading
import time

import pytest

from ferrylib import need_tool
from msgtools import FERRY, T, Conn, free_port, tools_fixture, wait_listening

REDIS = need_tool("redis-server")

WELCOME_RE = re.compile(rb"^\* welcome to ferry chat, (?P<name>\S+): /nick NAME, /who, /quit\n$")
DOWN = b"* redis is unreachable: your messages reach this broker's clients only, until it is back\n"
BACK = b"* redis is back: the room is shared again\n"
TTL = 10.0  # CHATFED_TTL_MS: presence and claims of a dead broker last this long
GONE_WITHIN = TTL + 15.0  # generous: the machine is loaded


class Redis:
    """A redis-server on 127.0.0.1:port, no persistence, stopped by PID."""

    def __init__(self, port=None):
        self.port = port or free_port()
        self.proc = subprocess.Popen(
            [REDIS, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_listening(self.port)
        self.url = f"redis://127.0.0.1:{self.port}"

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def members(self, key):
        """SMEMBERS key, sorted (redis-cli, raw output: one member a line)."""
        p = subprocess.run(["redis-cli", "-p", str(self.port), "--raw", "SMEMBERS", key],
                           capture_output=True, timeout=T)
        return sorted(x for x in p.stdout.split(b"\n") if x)

    def command(self, *args):
        """One command over RESP; returns the raw reply bytes (first line
        and, for bulk strings, what follows)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=T) as s:
            out = b"*%d\r\n" % len(args)
            for a in args:
                a = a if isinstance(a, bytes) else str(a).encode()
                out += b"$%d\r\n%s\r\n" % (len(a), a)
            s.sendall(out)
            got = b""
            deadline = time.monotonic() + T
            while b"\r\n" not in got and time.monotonic() < deadline:
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += chunk
            return got


@pytest.fixture
def tools():
    yield from tools_fixture()


@pytest.fixture
def redis():
    servers = []

    def start(port=None):
        r = Redis(port)
        servers.append(r)
        return r

    yield start
    for r in servers:
        r.stop()


def broker(tools, url, *args):
    """A federated broker, once it says it is connected to Redis."""
    b = tools.server("chat", "-q", "--redis", url, *args)
    b.stderr.expect(b"connected", timeout=10, what="broker stderr")
    return b


def join(b, others=()):
    """A raw client past its welcome (and any history); others hear of it."""
    c = Conn(b.addr)
    line = c.line()
    m = WELCOME_RE.match(line)
    assert m, f"welcome line {line!r}"
    c.name = m.group("name")
    for o in others:
        o.until(b"* %s joined\n" % c.name)
    return c


def nick(c, name, others=()):
    c.send(b"/nick %s\n" % name)
    want = b"* %s is now %s\n" % (c.name, name)
    c.until(want)
    for o in others:
        o.until(want)
    c.name = name


def who(c):
    """Asks /who; returns the sorted names (without the (you) mark)."""
    c.send(b"/who\n")
    line = c.until(b"* here: ")
    line = c.until(b"\n")
    return sorted(t for t in line[:-1].split(b" ") if t and t != b"(you)")


def wait_until(pred, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.3)
    return pred()


def test_lines_cross_brokers_in_order_with_names(tools, redis):
    r = redis()
    a, b, c = (broker(tools, r.url + "/cross") for _ in range(3))
    ann = join(a)
    bob = join(b, [ann])
    cat = join(c, [ann, bob])
    nick(ann, b"ann", [bob, cat])
    lines = [b"line %03d from ann" % i for i in range(200)]
    ann.send(b"".join(x + b"\n" for x in lines))
    want = b"".join(b"ann: " + x + b"\n" for x in lines)
    bob.expect(want)
    cat.expect(want)
    # Back the other way, and the sender does not hear itself: the next
    # thing ann hears is bob's line, not its own lines echoed by Redis.
    bob.send(b"hi ann\n")
    ann.expect(bob.name + b": hi ann\n")
    cat.expect(bob.name + b": hi ann\n")
    assert bob.quiet_for(0.5) == b""


def test_newcomer_on_another_broker_gets_history_from_redis(tools, redis):
    r = redis()
    a = broker(tools, r.url + "/hist", "--history", "3")
    ann = join(a)
    for i in range(5):
        ann.send(b"old %d\n" % i)
    # The broker the newcomer joins starts after the lines are in Redis, so
    # its own memory is empty: the history can only come from Redis.
    assert wait_until(lambda: b"old 4" in r.command("LINDEX", "ferry:hist:history", "-1"), 5)
    b = broker(tools, r.url + "/hist", "--history", "3")
    new = join(b)
    assert new.take_upto(1000, timeout=2) == b"".join(
        ann.name + b": old %d\n" % i for i in (2, 3, 4))


def test_who_lists_clients_on_every_broker(tools, redis):
    r = redis()
    a, b = broker(tools, r.url + "/who"), broker(tools, r.url + "/who")
    ann = join(a)
    bob = join(b, [ann])
    amy = join(a, [ann, bob])
    nick(ann, b"ann", [bob, amy])
    nick(bob, b"bob", [ann, amy])
    everyone = sorted([b"ann", b"bob", amy.name])
    assert who(ann) == everyone
    assert who(bob) == everyone
    # Someone leaves B: A's /who follows at once.
    bob.send(b"/quit\n")
    ann.until(b"* bob left\n")
    assert wait_until(lambda: who(ann) == sorted([b"ann", amy.name]), 5)


def test_nick_taken_on_another_broker_is_refused(tools, redis):
    r = redis()
    a, b = broker(tools, r.url + "/nick"), broker(tools, r.url + "/nick")
    ann = join(a)
    other = join(b, [ann])
    nick(ann, b"ann", [other])
    other.send(b"/nick ann\n")
    assert other.line() == b"* cannot take that name: in use on another broker\n"
    # Lines sent after the refused /nick still go out, under its old name.
    other.send(b"still me\n")
    ann.expect(other.name + b": still me\n")
    # ann leaves: the name is released and can be taken over there.
    ann.send(b"/quit\n")
    other.until(b"* ann left\n")
    nick(other, b"ann")


def test_lines_right_after_nick_go_out_under_the_new_name(tools, redis):
    r = redis()
    a, b = broker(tools, r.url + "/held"), broker(tools, r.url + "/held")
    x = join(a)
    y = join(b, [x])
    # In one write: the line waits for Redis to grant the name.
    x.send(b"/nick bob\nfirst words\n")
    y.until(b"* %s is now bob\n" % x.name)
    y.expect(b"bob: first words\n")


def test_lines_after_nick_then_hang_up_are_not_lost(tools, redis):
    """A client that sends /nick, a line and its FIN at once (a script, or
    `echo hi | ferry chat --name`) must not lose the line while the name
    waits for Redis."""
    r = redis()
    a, b = broker(tools, r.url + "/eof"), broker(tools, r.url + "/eof")
    local = join(a)
    far = join(b, [local])
    x = Conn(a.addr)
    x.line()
    x.send(b"/nick eve\nlast words\n")
    x.sock.shutdown(socket.SHUT_WR)
    got = far.until(b"last words\n")
    assert got.endswith(b": last words\n")
    assert local.until(b"last words\n").endswith(b": last words\n")
    # The real client, reading its lines from a pipe.
    p = subprocess.run([FERRY, "chat", f"{a.host}:{a.port}", "--name", "pipe"],
                       input=b"piped line\n", capture_output=True, timeout=20)
    assert p.returncode == 0, p
    assert far.until(b"piped line\n").endswith(b": piped line\n")


def test_two_clients_racing_for_one_name_on_two_brokers(tools, redis):
    r = redis()
    a, b = broker(tools, r.url + "/race"), broker(tools, r.url + "/race")
    x = join(a)
    y = join(b, [x])
    x.send(b"/nick zed\n")
    y.send(b"/nick zed\n")
    refused = b"* cannot take that name: in use on another broker\n"

    def outcome(c):
        # Its own answer; the other's rename notice may come first.
        for _ in range(5):
            line = c.line()
            if line == refused or line == b"* %s is now zed\n" % c.name:
                return line
        raise AssertionError("no answer to /nick")

    got = [outcome(c) for c in (x, y)]
    assert sorted(g == refused for g in got) == [False, True], got


def test_killed_broker_drops_out_of_who_and_frees_names(tools, redis):
    r = redis()
    a, b = broker(tools, r.url + "/kill"), broker(tools, r.url + "/kill")
    ann = join(a)
    bob = join(b, [ann])
    nick(bob, b"bob", [ann])
    assert who(ann) == sorted([ann.name, b"bob"])
    b.kill()  # SIGKILL: no goodbye to Redis
    assert b.proc.returncode == -signal.SIGKILL
    bob.close()
    assert wait_until(lambda: who(ann) == [ann.name], GONE_WITHIN), who(ann)
    # Its claim on "bob" has expired too.
    assert wait_until(lambda: try_nick(ann, b"bob"), GONE_WITHIN)


def try_nick(c, name):
    c.send(b"/nick %s\n" % name)
    line = c.line()
    if line.endswith(b" is now %s\n" % name):
        c.name = name
        return True
    assert line.startswith(b"* cannot take that name"), line
    return False


def test_stopped_broker_leaves_who_at_once(tools, redis):
    r = redis()
    a, b = broker(tools, r.url + "/stop"), broker(tools, r.url + "/stop")
    ann = join(a)
    bob = join(b, [ann])
    nick(bob, b"bob", [ann])
    assert b.stop() == 0
    # Well before the expiry: a broker that stops says goodbye.
    assert wait_until(lambda: who(ann) == [ann.name], 3)
    assert try_nick(ann, b"bob")


def test_redis_killed_local_chat_goes_on_then_federation_resumes(tools, redis):
    r = redis()
    port = r.port
    a, b = broker(tools, r.url + "/down"), broker(tools, r.url + "/down")
    a1 = join(a)
    a2 = join(a, [a1])
    b1 = join(b, [a1, a2])
    nick(a1, b"ann", [a2, b1])
    a1.send(b"before\n")
    b1.expect(b"ann: before\n")
    a2.expect(b"ann: before\n")

    r.stop(signal.SIGKILL)
    for c in (a1, a2, b1):
        c.expect(DOWN, timeout=10)
    # Local chat goes on, and nothing a client sends is lost locally.
    during = [b"during %d" % i for i in range(50)]
    a1.send(b"".join(x + b"\n" for x in during))
    a2.expect(b"".join(b"ann: " + x + b"\n" for x in during))
    # Told once: reconnect attempts (with back-off) go on quietly.
    time.sleep(3)
    for c in (a1, a2, b1):
        assert DOWN not in c.quiet_for(0.5)
    # /who while Redis is away: this broker's own clients.
    assert who(a2) == sorted([b"ann", a2.name])

    r2 = redis(port)
    for c in (a1, a2, b1):
        c.until(BACK, timeout=20)
    # Lines sent while Redis was away stayed on their broker.
    a1.send(b"after\n")
    got = b1.until(b"ann: after\n")
    assert b"during" not in got
    a2.expect(b"ann: after\n")
    # The new Redis knows everybody again, and ann's claim.
    assert wait_until(lambda: who(b1) == sorted([b"ann", a2.name, b1.name]), 5)
    b1.send(b"/nick ann\n")
    assert b1.line() == b"* cannot take that name: in use on another broker\n"
    # And the history there starts again after the restart.
    assert r2.command("LLEN", "ferry:down:history").startswith(b":1\r\n")


def test_redis_unreachable_at_start_then_joins(tools, redis):
    port = free_port()
    url = f"redis://127.0.0.1:{port}/late"
    a = tools.server("chat", "-q", "--redis", url)
    a.stderr.expect(b"cannot connect", timeout=10, what="broker stderr")
    # Local chat works without Redis.
    x = join(a)
    y = join(a, [x])
    x.send(b"alone\n")
    y.expect(x.name + b": alone\n")
    redis(port)
    a.stderr.expect(b"connected", timeout=20, what="broker stderr")
    b = broker(tools, url)
    z = join(b, [x, y])
    x.send(b"together\n")
    z.expect(x.name + b": together\n")


def test_forged_channel_messages_are_not_delivered(tools, redis):
    """Only well-formed messages of the federation format, one line each,
    are delivered; anything else on the channel is ignored."""
    r = redis()
    a = broker(tools, r.url + "/forge")
    c = join(a)
    chan = "ferry:forge:chan"
    forged = [
        b"mallory: plain text\n",
        b"F1 0123456789abcdef l mallory: one\nmallory: two\n",  # a second line inside
        b"F1 0123456789abcdef l mallory: no newline",
        b"F1 0123456789ABCDEF l mallory: bad id\n",
        b"F1 0123456789abcdef x mallory: bad kind\n",
        b"F1 0123456789abcdef l " + b"x" * 10000 + b"\n",  # longer than any line
    ]
    for m in forged:
        assert r.command("PUBLISH", chan, m).startswith(b":1\r\n")
    # A well-formed one from another broker id gets through, after them.
    r.command("PUBLISH", chan, b"F1 0123456789abcdef l other: fine\n")
    assert c.line() == b"other: fine\n"
    assert c.quiet_for(0.3) == b""


@pytest.mark.parametrize("url", [
    "localhost:6379", "redis://", "redis://h:0", "redis://h/a/b", "rediss://h",
    "redis://user:pw@h", "redis://h/room?x=1",
])
def test_bad_redis_url_is_a_usage_error(url):
    p = subprocess.run([FERRY, "chat", "-l", "-p", "0", "--redis", url], stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=10)
    assert p.returncode == 2, p
    assert b"--redis takes redis://HOST[:PORT][/ROOM]" in p.stderr


def test_redis_option_needs_the_broker():
    p = subprocess.run([FERRY, "chat", "--redis", "redis://127.0.0.1", "127.0.0.1:9"],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=10)
    assert p.returncode == 2 and b"--redis is for the broker" in p.stderr


def test_brokers_behind_haproxy_share_one_room(tools, redis, tmp_path):
    """README's setup without the PROXY protocol: HAProxy spreads clients
    over two brokers on one Redis, and they are in one room."""
    haproxy = need_tool("haproxy")  # Debian's is in /usr/sbin, not on every PATH
    r = redis()
    a, b = broker(tools, r.url + "/hap"), broker(tools, r.url + "/hap")
    port = free_port()
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(f"""
defaults
    mode tcp
    retries 3
    option redispatch
    timeout connect 5s
    timeout client 1h
    timeout server 1h
frontend chat
    bind 127.0.0.1:{port}
    default_backend brokers
backend brokers
    balance roundrobin
    server b1 127.0.0.1:{a.port}
    server b2 127.0.0.1:{b.port}
""")
    hap = subprocess.Popen([haproxy, "-db", "-f", str(cfg)], stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_listening(port)
        x = join(tools_addr(port))
        y = join(tools_addr(port), [x])
        # One client on each broker (roundrobin), as the brokers' /who parts show.
        nick(x, b"xena", [y])
        nick(y, b"yuri", [x])
        assert who(x) == [b"xena", b"yuri"]
        x.send(b"through haproxy\n")
        y.expect(b"xena: through haproxy\n")
        y.send(b"and back\n")
        x.expect(b"yuri: and back\n")
        # Each broker has exactly one of them: its own set in Redis.
        sets = sorted(r.members(f"ferry:hap:b:{broker_id(t)}") for t in (a, b))
        assert sets == [[b"xena"], [b"yuri"]], sets
    finally:
        hap.terminate()
        try:
            hap.wait(10)
        except subprocess.TimeoutExpired:
            hap.kill()
            hap.wait(5)


class tools_addr:
    """What join() needs of a broker: its address."""

    def __init__(self, port):
        self.addr = ("127.0.0.1", port)


def broker_id(b):
    m = re.search(rb"connected, broker ([0-9a-f]{16})", b.stderr.data)
    assert m, b.stderr.data
    return m.group(1).decode()


def test_silent_redis_is_given_up_and_retried(tools):
    """Something accepts on the Redis port and never answers: the broker
    gives up on it after its deadline, serves its clients meanwhile, and
    keeps retrying."""
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(16)
    held = []
    try:
        a = tools.server("chat", "-q", "--redis", f"redis://127.0.0.1:{lsock.getsockname()[1]}/s")
        x = join(a)
        y = join(a, [x])
        x.send(b"local still works\n")
        y.expect(x.name + b": local still works\n")
        a.stderr.expect(b"cannot connect (no subscription", timeout=20, what="broker stderr")
        # It tries again: new connections arrive after the first two.
        lsock.settimeout(0.2)
        deadline = time.monotonic() + 20
        while len(held) < 4 and time.monotonic() < deadline:
            try:
                held.append(lsock.accept()[0])
            except (socket.timeout, TimeoutError):
                pass
        assert len(held) >= 4, f"{len(held)} connections"
    finally:
        for c in held:
            c.close()
        lsock.close()


class FakeRedis:
    """A scripted Redis on 127.0.0.1 for what the broker asks of it: it
    confirms SUBSCRIBE, forwards every PUBLISH to the subscribers (so the
    broker's own pings come back), answers other commands with :1 (LRANGE
    with an empty list) until a command names `silence`; from then on it
    still reads and forwards but answers nothing on that connection."""

    def __init__(self, silence):
        self.silence = silence
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(16)
        self.port = self.lsock.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}"
        self.subs, self.conns = [], []
        self.silenced = threading.Event()
        self.lock = threading.Lock()
        self.done = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.done:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            self.conns.append(c)
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    @staticmethod
    def _commands(buf):
        """Complete RESP arrays of bulk strings at the front of buf:
        ([argv, ...], bytes used)."""
        out, pos = [], 0
        while True:
            try:
                if buf[pos:pos + 1] != b"*":
                    return out, pos
                eol = buf.index(b"\r\n", pos)
                argv, p = [], eol + 2
                for _ in range(int(buf[pos + 1:eol])):
                    e = buf.index(b"\r\n", p)
                    n = int(buf[p + 1:e])
                    if len(buf) < e + 2 + n + 2:
                        return out, pos
                    argv.append(bytes(buf[e + 2:e + 2 + n]))
                    p = e + 2 + n + 2
            except ValueError:
                return out, pos
            out.append(argv)
            pos = p

    def _serve(self, c):
        buf, silent = bytearray(), False
        while True:
            try:
                chunk = c.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            buf += chunk
            cmds, used = self._commands(buf)
            del buf[:used]
            for argv in cmds:
                name = argv[0].upper()
                if name == b"SUBSCRIBE":
                    with self.lock:
                        self.subs.append(c)
                    c.sendall(b"*3\r\n$9\r\nsubscribe\r\n$%d\r\n%s\r\n:1\r\n" % (len(argv[1]),
                                                                             argv[1]))
                    continue
                if name == b"PUBLISH":
                    msg = b"*3\r\n$7\r\nmessage\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (
                        len(argv[1]), argv[1], len(argv[2]), argv[2])
                    with self.lock:
                        for s in self.subs:
                            try:
                                s.sendall(msg)
                            except OSError:
                                pass
                if any(self.silence in a for a in argv[1:]):
                    silent = True
                    self.silenced.set()
                if not silent:
                    c.sendall(b"*0\r\n" if name == b"LRANGE" else b":1\r\n")

    def close(self):
        self.done = True
        self.lsock.close()
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass


def test_nick_released_when_redis_stops_answering_while_lines_flow(tools):
    """Redis reads the /nick's claim and never answers it, while another
    client's lines keep going out to Redis (the socket takes them: write
    readiness, no answer). The claimer's input is held only until the
    answer deadline (5 s): then the link is given up, the name is decided
    locally and its held line goes out. Before the fix every write
    postponed the deadline, so the claimer waited as long as lines flowed;
    here they flow for up to 25 s, five times the deadline."""
    fake = FakeRedis(b"nick:zed")
    try:
        a = broker(tools, fake.url + "/quiet")
        x = join(a)
        y = join(a, [x])
        x.send(b"/nick zed\nheld line\n")
        assert fake.silenced.wait(T), "the claim did not reach Redis"
        seen = bytearray()
        deadline = time.monotonic() + 25
        i = 0
        while b"zed: held line\n" not in seen and time.monotonic() < deadline:
            y.send(b"flowing %d\n" % i)
            i += 1
            x.quiet_for(0.2)  # x reads (and drops) the flow meanwhile
            seen += y.quiet_for(0.05)
        assert b"zed: held line\n" in seen, "the /nick's input was still held after 25 s of lines"
        a.stderr.expect(b"no answer for 5000 ms", what="broker stderr")
    finally:
        fake.close()
