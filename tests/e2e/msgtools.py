"""Helpers for the end-to-end tests of the message tools: `ferry hello`,
`ferry chat` and `ferry udp`.

A Tool is one ferry process whose stdout and stderr are drained by threads
into buffers that tests wait on. A listener's first stdout line gives its
address. Conn and Dgram are loopback sockets whose every receive has a
deadline; Lines collects a TCP peer's lines on a thread, for tests where a
client must keep reading while others talk. Every wait is bounded in time.

Each test module's `tools` fixture (tools_fixture) starts tools and, at the
end of the test, stops each server with SIGTERM and asserts that it exits 0;
other processes still running are killed."""
import os
import re
import signal
import socket
import subprocess
import threading
import time

from ferrylib import FERRY  # the one place that says which binary

T = 5.0  # seconds for one expected event
START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0
MAX_READ = 64 << 20  # the most unread bytes a Conn holds before it fails

# "ferry: hello listening on 127.0.0.1:PORT" (or [::1]:PORT)
LISTEN_RE = re.compile(
    rb"^ferry: (?P<tool>hello|chat|udp) listening on (?P<host>\[[^\]]+\]|[^:\s]+):(?P<port>\d+)\n")


class Output:
    """The bytes a pipe has produced so far, filled by a thread."""

    def __init__(self, pipe):
        self._buf = bytearray()
        self._cond = threading.Condition()
        self.eof = False
        self._thread = threading.Thread(target=self._drain, args=(pipe,), daemon=True)
        self._thread.start()

    def _drain(self, pipe):
        fd = pipe.fileno()
        while True:
            try:
                chunk = os.read(fd, 1 << 16)
            except OSError:
                chunk = b""
            with self._cond:
                if chunk:
                    self._buf += chunk
                else:
                    self.eof = True
                self._cond.notify_all()
            if not chunk:
                return

    @property
    def data(self):
        with self._cond:
            return bytes(self._buf)

    def wait_for(self, pred, timeout=T):
        """Waits until pred(bytes so far) is true or the pipe ends; returns
        the last value of pred."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                got = pred(bytes(self._buf))
                left = deadline - time.monotonic()
                if got or self.eof or left <= 0:
                    return got
                self._cond.wait(min(left, 0.5))

    def expect(self, needle, timeout=T, what="output"):
        """Waits until needle (bytes or a compiled bytes regex) appears."""
        if isinstance(needle, bytes):
            ok = self.wait_for(lambda b: needle in b, timeout)
        else:
            ok = self.wait_for(lambda b: needle.search(b) is not None, timeout)
        assert ok, f"{what}: {needle!r} not seen within {timeout}s; got {self.data[-2000:]!r}"

    def join(self, timeout):
        self._thread.join(timeout)


class Tool:
    """One ferry process. With listen=True it must print its listening line
    first; host, port and addr come from it."""

    def __init__(self, args, stdin=None, listen=False, server=False):
        self.args = [FERRY, *args]
        self.server = server
        self.proc = subprocess.Popen(
            self.args,
            stdin=subprocess.PIPE if stdin == "pipe" else (subprocess.DEVNULL if stdin is None else stdin),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.stdout = Output(self.proc.stdout)
        self.stderr = Output(self.proc.stderr)
        self.returncode = None
        if listen:
            if not self.stdout.wait_for(lambda b: b"\n" in b, START_TIMEOUT):
                self.kill()
                raise AssertionError(f"no listening line within {START_TIMEOUT}s from {self.args}; "
                                     f"stderr {self.stderr.data!r}")
            first = self.stdout.data.split(b"\n", 1)[0] + b"\n"
            m = LISTEN_RE.match(first)
            if m is None or m.group("tool").decode() != args[0]:
                self.kill()
                raise AssertionError(f"first line {first!r} is not the listening line; "
                                     f"stderr {self.stderr.data!r}")
            self.first_line = first
            self.host = m.group("host").decode().strip("[]")
            self.port = int(m.group("port"))
            self.addr = (self.host, self.port)
            self.listen_len = len(first)

    def out_after_listen(self):
        """What stdout said after the listening line."""
        return self.stdout.data[self.listen_len:]

    def write(self, data):
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def close_stdin(self):
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            try:
                self.proc.stdin.close()
            except BrokenPipeError:
                pass

    def alive(self):
        return self.proc.poll() is None

    def send_signal(self, sig):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)

    def wait(self, timeout=T):
        """Waits for the exit; returns the status, or None on timeout."""
        try:
            self.returncode = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        self.stdout.join(2)
        self.stderr.join(2)
        return self.returncode

    def stop(self, sig=signal.SIGTERM, timeout=STOP_TIMEOUT):
        """Stops it with sig; returns the status, or None when it did not
        exit in time (it is killed then)."""
        self.send_signal(sig)
        rc = self.wait(timeout)
        if rc is None:
            self.kill()
        return rc

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.wait(5)

    def describe(self):
        return (f"{' '.join(self.args)}: status {self.returncode}; stdout {self.stdout.data[-1500:]!r}; "
                f"stderr {self.stderr.data[-1500:]!r}")


class ToolSet:
    def __init__(self):
        self.tools = []

    def server(self, tool, *args, stdin=None):
        """`ferry TOOL [-l] -p 0 -b 127.0.0.1 ARGS`, stopped with SIGTERM at
        the end of the test, which must give status 0."""
        listen = ["-l"] if tool in ("chat", "udp") else []
        t = Tool([tool, *listen, "-p", "0", "-b", "127.0.0.1", *args], stdin=stdin, listen=True,
                 server=True)
        self.tools.append(t)
        return t

    def run(self, *args, stdin="pipe"):
        """A ferry process that is not a server (a client); killed at the end
        if still running."""
        t = Tool(list(args), stdin=stdin)
        self.tools.append(t)
        return t

    def finish(self):
        failures = []
        for t in self.tools:
            t.close_stdin()
            if t.server and t.returncode is None:
                rc = t.stop()
                if rc != 0:
                    failures.append(f"server did not exit 0 on SIGTERM: {t.describe()}")
            elif t.returncode is None:
                t.kill()
        return failures


def tools_fixture():
    """The body of each test module's `tools` fixture: yields a ToolSet,
    then stops what it started and fails when a server did not exit 0."""
    ts = ToolSet()
    yield ts
    failures = ts.finish()
    assert not failures, "\n".join(failures)


class Conn:
    """A TCP client with a receive buffer; every read has a deadline."""

    def __init__(self, addr, timeout=T, rcvbuf=None):
        self.sock = socket.socket(socket.AF_INET6 if ":" in addr[0] else socket.AF_INET)
        if rcvbuf is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect(addr)
        self.buf = bytearray()
        self.closed = False  # the peer closed (EOF or reset)

    @property
    def local(self):
        h, p = self.sock.getsockname()[:2]
        return f"{h}:{p}" if ":" not in h else f"[{h}]:{p}"

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self, deadline):
        """Reads once; False on timeout or when the peer has closed."""
        left = deadline - time.monotonic()
        if left <= 0 or self.closed:
            return False
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(1 << 16)
        except socket.timeout:
            return False
        except (ConnectionResetError, BrokenPipeError):
            chunk = b""
        if not chunk:
            self.closed = True
            return False
        self.buf += chunk
        if len(self.buf) > MAX_READ:
            raise AssertionError(f"more than {MAX_READ} bytes unread")
        return True

    def expect(self, want, timeout=T):
        """The next bytes are exactly want."""
        got = self.take_upto(len(want), timeout)
        assert got == want, f"got {got[:300]!r}{'...' if len(got) > 300 else ''}, want {want[:300]!r}"

    def take_upto(self, n, timeout=T):
        """Up to n bytes: fewer only when the time runs out or the peer closes."""
        deadline = time.monotonic() + timeout
        while len(self.buf) < n and self._fill(deadline):
            pass
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def until(self, needle, timeout=T):
        """The bytes up to and including needle, or fails."""
        deadline = time.monotonic() + timeout
        while needle not in self.buf and self._fill(deadline):
            pass
        i = self.buf.find(needle)
        assert i >= 0, (f"{needle!r} not seen within {timeout}s; got {bytes(self.buf[-300:])!r} "
                        f"(closed: {self.closed})")
        out = bytes(self.buf[:i + len(needle)])
        del self.buf[:i + len(needle)]
        return out

    def line(self, timeout=T):
        return self.until(b"\n", timeout)

    def quiet_for(self, seconds):
        """Whatever arrives within seconds (b"" when nothing does)."""
        deadline = time.monotonic() + seconds
        while self._fill(deadline):
            pass
        out = bytes(self.buf)
        self.buf.clear()
        return out

    def wait_closed(self, timeout=T):
        """Reads until the peer closes; returns what came first, or fails."""
        deadline = time.monotonic() + timeout
        while self._fill(deadline):
            pass
        assert self.closed, f"peer did not close within {timeout}s; got {bytes(self.buf[-300:])!r}"
        out = bytes(self.buf)
        self.buf.clear()
        return out

    def close(self):
        self.sock.close()


class Lines:
    """A TCP client whose lines a thread collects as they come, so that it
    keeps reading while the test does other things."""

    def __init__(self, addr, timeout=T):
        self.conn = Conn(addr, timeout)
        self.local = self.conn.local
        self.lines = []
        self._cond = threading.Condition()
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop:
            got = self.conn._fill(time.monotonic() + 0.2)
            with self._cond:
                while b"\n" in self.conn.buf:
                    i = self.conn.buf.index(b"\n")
                    self.lines.append(bytes(self.conn.buf[:i + 1]))
                    del self.conn.buf[:i + 1]
                self._cond.notify_all()
            if not got and self.conn.closed:
                return

    def send(self, data):
        self.conn.send(data)

    def wait_line(self, pred, timeout=T, start=0):
        """The index of the first line from start on for which pred holds."""
        if isinstance(pred, bytes):
            want = pred
            pred = lambda ln: ln == want  # noqa: E731
        deadline = time.monotonic() + timeout
        with self._cond:
            i = start
            while True:
                while i < len(self.lines):
                    if pred(self.lines[i]):
                        return i
                    i += 1
                left = deadline - time.monotonic()
                if left <= 0 or (self.conn.closed and not self._thread.is_alive()):
                    raise AssertionError(f"line not seen within {timeout}s; last lines "
                                         f"{self.lines[-5:]!r}")
                self._cond.wait(min(left, 0.2))

    def snapshot(self):
        with self._cond:
            return list(self.lines)

    def close(self):
        self._stop = True
        self._thread.join(2)
        self.conn.close()


class Dgram:
    """A UDP socket on loopback; every receive has a deadline."""

    def __init__(self, connect=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        if connect is not None:
            self.sock.connect(connect)

    @property
    def local(self):
        h, p = self.sock.getsockname()
        return f"{h}:{p}"

    @property
    def port(self):
        return self.sock.getsockname()[1]

    def sendto(self, data, addr):
        self.sock.sendto(data, addr)

    def recv(self, timeout=T, size=1 << 17):
        """One datagram and its sender, or fails."""
        self.sock.settimeout(timeout)
        try:
            return self.sock.recvfrom(size)
        except socket.timeout:
            raise AssertionError(f"no datagram within {timeout}s") from None

    def nothing(self, seconds):
        """True when no datagram arrives within seconds."""
        self.sock.settimeout(seconds)
        try:
            self.sock.recvfrom(1 << 17)
        except socket.timeout:
            return True
        return False

    def close(self):
        self.sock.close()


def free_port(kind=socket.SOCK_STREAM):
    """A loopback port nobody was using a moment ago."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port, timeout=START_TIMEOUT):
    """Waits until a TCP socket listens on 127.0.0.1:port. It looks in
    /proc/net/tcp rather than connecting: ncat --chat quits when a client
    closes before it has looked at it."""
    want = f"0100007F:{port:04X}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open("/proc/net/tcp") as f:
            for row in f.read().splitlines()[1:]:
                fields = row.split()
                if fields[1] == want and fields[3] == "0A":  # TCP_LISTEN
                    return
        time.sleep(0.05)
    raise AssertionError(f"nothing listening on port {port} within {timeout}s")


# What a hostile peer sends to a terminal: clear screen, window title, an
# OSC 52 clipboard write, a cursor position request (whose answer the
# terminal would type into the user's input), 8-bit CSI raw and as UTF-8,
# a bare CR that overwrites the line; then text that must pass unchanged.
HOSTILE = (b"\x1b[2J\x1b[H\x1b]0;pwned\x07\x1b]52;c;aGk=\x07\x1b[6n\x9b6n\xc2\x9b1m"
           b" fake\roverwrite caf\xc3\xa9 \xe4\xbd\xa0\ttab")
# What the terminal must get instead (proto/tty.h).
HOSTILE_SHOWN = (b"^[[2J^[[H^[]0;pwned^G^[]52;c;aGk=^G^[[6n\\x9b6n\\x9b1m"
                 b" fake^Moverwrite caf\xc3\xa9 \xe4\xbd\xa0\ttab")


class PtyTool:
    """A ferry process whose stdout (and, with stdin_tty, stdin) is a
    pseudo-terminal in raw mode, so that what is read from the master is
    exactly what the process wrote; stderr is drained like a Tool's."""

    def __init__(self, args, stdin_tty=False):
        import tty
        self.master, slave = os.openpty()
        tty.setraw(slave)
        self.proc = subprocess.Popen([FERRY, *args], stdout=slave, stderr=subprocess.PIPE,
                                     stdin=slave if stdin_tty else subprocess.PIPE)
        os.close(slave)
        self.stderr = Output(self.proc.stderr)
        self.data = bytearray()

    def until(self, needle, timeout=T):
        """Everything the terminal got so far once needle is in it, or fails."""
        import select
        deadline = time.monotonic() + timeout
        while needle not in self.data:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.master], [], [], left)[0]:
                break
            try:
                chunk = os.read(self.master, 65536)
            except OSError:  # EIO: the process is gone
                break
            if not chunk:
                break
            self.data += chunk
        assert needle in self.data, f"{needle!r} not on the terminal; got {bytes(self.data)!r}"
        return bytes(self.data)

    def stop(self):
        """SIGTERM, then the exit status (killed after STOP_TIMEOUT)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait(STOP_TIMEOUT)
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        os.close(self.master)
        return rc
