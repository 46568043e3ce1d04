"""The first ten minutes (issue 17): what a new user types first, run as
they would type it, checking the output, the exit status and the files left.

Logging in: `ferry get`/`ferry put` with -u USER[:PASS] (the password asked
on the terminal without echo, under a pty), http://USER:PASS@host/ and
--netrc against `ferry serve --auth`; Basic only after a 401 that asks for
it, only to the origin the credentials were given for, and over plain http
only to loopback unless --allow-plain-auth (another host is a network
namespace, as in test_auth)."""
import fcntl
import json
import os
import re
import select
import signal
import socket
import subprocess
import termios
import time

import pytest

from ferrylib import FERRY, clean_env
from peers import ScriptedServer, keep_alive, listing
from test_auth import Netns, passwd

RUN_TIMEOUT = 30


class Run:
    def __init__(self, rc, out, err):
        self.rc, self.out, self.err = rc, out, err

    def __repr__(self):
        return f"<Run rc={self.rc} stderr={self.err!r}>"


def run(*args, cwd=None, home=None, stdin_data=None, prefix=()):
    """Runs `ferry ARGS` as a user would from a shell (HOME set to home when
    given, stdin from stdin_data or closed). Returns a Run."""
    env = clean_env()
    if home is not None:
        env["HOME"] = os.fspath(home)
    cmd = [*prefix, FERRY, *(os.fspath(a) for a in args)]
    p = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, timeout=RUN_TIMEOUT,
                       input=stdin_data, stdin=None if stdin_data is not None else subprocess.DEVNULL)
    return Run(p.returncode, p.stdout, p.stderr.decode("utf-8", "replace"))


# ---- 1. logging in --------------------------------------------------------------


@pytest.fixture(scope="module")
def accounts():
    return [passwd("alice", "alice-pw", "rw:/"), "*::ro:/pub"]


@pytest.fixture
def root(tmp_path):
    r = tmp_path / "root"
    (r / "pub").mkdir(parents=True)
    (r / "secret.txt").write_bytes(b"members only\n")
    (r / "pub" / "open.txt").write_bytes(b"open to all\n")
    return r


@pytest.fixture
def work(tmp_path):
    w = tmp_path / "work"
    w.mkdir()
    return w


@pytest.fixture
def srv(start_server, root, tmp_path, accounts):
    auth = tmp_path / "auth"
    auth.write_text("\n".join(accounts) + "\n")
    return start_server(root, "--upload", "--auth", str(auth))


def secret_url(srv, userinfo=""):
    return f"http://{userinfo}127.0.0.1:{srv.port}/secret.txt"


def test_get_user_option_logs_in(srv, work):
    r = run("get", "-u", "alice:alice-pw", secret_url(srv), cwd=work)
    assert r.rc == 0, r
    assert (work / "secret.txt").read_bytes() == b"members only\n"
    assert listing(work) == ["secret.txt"]


def test_get_password_in_url_logs_in(srv, work):
    r = run("get", secret_url(srv, "alice:alice-pw@"), cwd=work)
    assert r.rc == 0, r
    assert (work / "secret.txt").read_bytes() == b"members only\n"
    assert "alice-pw" not in r.err


def test_get_percent_encoded_password_in_url(start_server, root, tmp_path, work):
    auth = tmp_path / "auth"
    auth.write_text(passwd("bob", "p@ss:w rd", "ro:/") + "\n")
    s = start_server(root, "--auth", str(auth))
    r = run("get", secret_url(s, "bob:p%40ss%3Aw%20rd@"), cwd=work)
    assert r.rc == 0, r
    assert (work / "secret.txt").read_bytes() == b"members only\n"


def test_put_user_option_logs_in(srv, root, work):
    (work / "up.txt").write_bytes(b"uploaded\n")
    r = run("put", "-u", "alice:alice-pw", work / "up.txt", f"http://127.0.0.1:{srv.port}/up.txt")
    assert r.rc == 0, r
    assert (root / "up.txt").read_bytes() == b"uploaded\n"
    assert "201" in r.err


def test_put_without_login_is_401_with_a_hint(srv, root, work):
    (work / "up.txt").write_bytes(b"uploaded\n")
    r = run("put", work / "up.txt", f"http://127.0.0.1:{srv.port}/up.txt")
    assert r.rc == 5, r
    assert "401" in r.err and "-u USER" in r.err
    assert not (root / "up.txt").exists()


def test_get_wrong_password_says_refused_and_leaves_nothing(srv, work):
    r = run("get", "-u", "alice:wrong", secret_url(srv), cwd=work)
    assert r.rc == 5, r
    assert "401" in r.err and "refused the user name and password" in r.err
    assert listing(work) == []


def test_get_without_login_is_401_with_a_hint(srv, work):
    r = run("get", secret_url(srv), cwd=work)
    assert r.rc == 5, r
    assert "-u USER" in r.err and "--netrc" in r.err
    assert listing(work) == []


def test_password_hidden_in_messages(srv, work):
    r = run("get", secret_url(srv, "alice:hunter2@"), cwd=work)
    assert r.rc == 5, r
    assert "hunter2" not in r.err and "alice:***@" in r.err
    assert listing(work) == []


def test_netrc_logs_in(srv, work, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / ".netrc").write_text("machine elsewhere login x password y\n"
                                 "machine 127.0.0.1\n  login alice\n  password \"alice-pw\"\n")
    os.chmod(home / ".netrc", 0o600)
    r = run("get", "--netrc", secret_url(srv), cwd=work, home=home)
    assert r.rc == 0, r
    assert (work / "secret.txt").read_bytes() == b"members only\n"


def test_netrc_password_for_the_user_in_the_url(srv, work, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / ".netrc").write_text("machine 127.0.0.1 login mallory password nope\n"
                                 "machine 127.0.0.1 login alice password alice-pw\n")
    os.chmod(home / ".netrc", 0o600)
    r = run("get", "--netrc", secret_url(srv, "alice@"), cwd=work, home=home)
    assert r.rc == 0, r
    assert (work / "secret.txt").read_bytes() == b"members only\n"


def test_netrc_not_read_without_the_option(srv, work, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / ".netrc").write_text("default login alice password alice-pw\n")
    os.chmod(home / ".netrc", 0o600)
    r = run("get", secret_url(srv), cwd=work, home=home)
    assert r.rc == 5, r
    assert listing(work) == []


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o602], ids=["world_readable", "group_readable",
                                                             "world_writable"])
def test_netrc_readable_by_others_is_refused(work, tmp_path, mode):
    home = tmp_path / "home"
    home.mkdir()
    (home / ".netrc").write_text("default login alice password alice-pw\n")
    os.chmod(home / ".netrc", mode)

    def respond(peer, req):
        peer.respond(200, body=b"x")

    with ScriptedServer(keep_alive(respond)) as s:
        r = run("get", "--netrc", s.url("/secret.txt"), cwd=work, home=home)
        assert r.rc == 2, r
        assert ".netrc" in r.err and "chmod 600" in r.err
        assert s.requests == []  # refused before anything went out
    assert listing(work) == []


def challenge_then(body_for_auth, scheme="Basic realm=\"t\""):
    """A scripted origin: 401 with the challenge scheme to requests without
    Authorization, body_for_auth(peer, req) to those with it."""

    def respond(peer, req):
        if req.header("authorization") is None:
            peer.respond(401, [("WWW-Authenticate", scheme)], b"log in\n")
        else:
            body_for_auth(peer, req)

    return keep_alive(respond)


def test_basic_sent_only_after_a_challenge(work):
    with ScriptedServer(challenge_then(lambda p, q: p.respond(200, body=b"in\n"))) as s:
        r = run("get", "-u", "alice:pw", s.url("/f"), cwd=work)
        reqs = list(s.requests)
    assert r.rc == 0, r
    assert (work / "f").read_bytes() == b"in\n"
    assert [q.header("authorization") for q in reqs] == [None, "Basic YWxpY2U6cHc="]


def test_one_401_for_several_urls_of_one_origin(work):
    with ScriptedServer(challenge_then(lambda p, q: p.respond(200, body=q.target.encode()))) as s:
        r = run("get", "-u", "alice:pw", *[s.url(f"/f{i}") for i in range(5)], cwd=work)
        reqs = list(s.requests)
    assert r.rc == 0, r
    assert listing(work) == [f"f{i}" for i in range(5)]
    assert all((work / f"f{i}").read_bytes() == f"/f{i}".encode() for i in range(5))
    assert [q.target for q in reqs if q.header("authorization") is None] == ["/f0"]
    assert sorted(q.target for q in reqs if q.header("authorization")) == [f"/f{i}" for i in range(5)]


def test_no_basic_for_another_scheme(work):
    with ScriptedServer(challenge_then(lambda p, q: p.respond(200, body=b"in\n"),
                                       scheme='Bearer realm="t"')) as s:
        r = run("get", "-u", "alice:pw", s.url("/f"), cwd=work)
        reqs = list(s.requests)
    assert r.rc == 5, r
    assert [q.header("authorization") for q in reqs] == [None]
    assert listing(work) == []


def test_no_basic_without_a_401(work):
    with ScriptedServer(keep_alive(lambda p, q: p.respond(200, body=b"open\n"))) as s:
        r = run("get", "-u", "alice:pw", s.url("/f"), cwd=work)
        reqs = list(s.requests)
    assert r.rc == 0, r
    assert [q.header("authorization") for q in reqs] == [None]


def test_redirect_to_another_origin_drops_credentials(work):
    with ScriptedServer(keep_alive(lambda p, q: p.respond(200, body=b"from b\n"))) as b:
        def redirect(peer, req):
            peer.respond(302, [("Location", b.url("/f"))])

        with ScriptedServer(challenge_then(redirect)) as a:
            r = run("get", "-u", "alice:pw", a.url("/f"), cwd=work)
            a_reqs = list(a.requests)
        b_reqs = list(b.requests)
    assert r.rc == 0, r
    assert (work / "f").read_bytes() == b"from b\n"
    assert [q.header("authorization") for q in a_reqs] == [None, "Basic YWxpY2U6cHc="]
    assert len(b_reqs) == 1 and b_reqs[0].header("authorization") is None


def test_redirect_to_another_origin_that_asks_gets_nothing(work):
    with ScriptedServer(challenge_then(lambda p, q: p.respond(200, body=b"b\n"))) as b:
        def redirect(peer, req):
            peer.respond(302, [("Location", b.url("/f"))])

        with ScriptedServer(challenge_then(redirect)) as a:
            r = run("get", a.url("/f").replace("http://", "http://alice:pw@"), cwd=work)
        b_reqs = list(b.requests)
    assert r.rc == 5, r
    assert [q.header("authorization") for q in b_reqs] == [None]
    assert listing(work) == []


def test_redirect_within_the_origin_keeps_credentials(work):
    def respond(peer, req):
        if req.target == "/old":
            peer.respond(301, [("Location", "/new")])
        else:
            peer.respond(200, body=b"new\n")

    with ScriptedServer(challenge_then(respond)) as s:
        r = run("get", "-u", "alice:pw", "-o", "out", s.url("/old"), cwd=work)
        reqs = list(s.requests)
    assert r.rc == 0, r
    assert (work / "out").read_bytes() == b"new\n"
    assert [(q.target, q.header("authorization")) for q in reqs] == [
        ("/old", None), ("/old", "Basic YWxpY2U6cHc="), ("/new", "Basic YWxpY2U6cHc=")]


@pytest.fixture
def netns():
    ns = Netns()
    ns.up()
    yield ns
    ns.down()


def test_plain_http_to_another_host_refuses_to_send_the_password(start_server, root, tmp_path,
                                                                 accounts, netns, work):
    auth = tmp_path / "auth"
    auth.write_text("\n".join(accounts) + "\n")
    s = start_server(root, "--auth", str(auth), "--allow-plain-auth", bind=netns.host_ip)
    url = f"http://{netns.host_ip}:{s.port}/secret.txt"
    r = run("get", "-u", "alice:alice-pw", url, cwd=work, prefix=("ip", "netns", "exec", netns.name))
    assert r.rc == 2, r
    assert "unencrypted" in r.err and "--allow-plain-auth" in r.err
    assert listing(work) == []
    r = run("get", "--allow-plain-auth", "-u", "alice:alice-pw", url, cwd=work,
            prefix=("ip", "netns", "exec", netns.name))
    assert r.rc == 0, r
    assert (work / "secret.txt").read_bytes() == b"members only\n"


# ---- the password prompt, under a pty ------------------------------------------


class Tty:
    """ferry run on a new pseudo-terminal that is its controlling terminal."""

    def __init__(self, args, cwd):
        self.master, self.slave = os.openpty()
        env = clean_env()

        def take_tty():
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.proc = subprocess.Popen([FERRY, *args], cwd=cwd, env=env, stdin=self.slave,
                                     stdout=self.slave, stderr=self.slave, start_new_session=True,
                                     preexec_fn=take_tty)
        self.seen = b""

    def read_until(self, what, timeout=10):
        deadline = time.monotonic() + timeout
        while what not in self.seen:
            left = deadline - time.monotonic()
            assert left > 0, f"no {what!r} on the terminal; saw {self.seen!r}"
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:
                    chunk = b""
                if not chunk:
                    break
                self.seen += chunk
        return what in self.seen

    def echo_on(self):
        return bool(termios.tcgetattr(self.slave)[3] & termios.ECHO)

    def finish(self, timeout=15):
        rc = self.proc.wait(timeout)
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:  # what is left on the terminal
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if not ready:
                break
            try:
                chunk = os.read(self.master, 4096)
            except OSError:
                break
            if not chunk:
                break
            self.seen += chunk
        return rc

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        os.close(self.master)
        os.close(self.slave)


@pytest.fixture
def tty_run(work):
    ttys = []

    def start(*args):
        t = Tty(args, work)
        ttys.append(t)
        return t

    yield start
    for t in ttys:
        t.close()


def test_password_prompt_without_echo(srv, work, tty_run):
    t = tty_run("get", "-q", "-u", "alice", secret_url(srv))
    assert t.read_until(b"Password for alice: ")
    assert not t.echo_on()
    os.write(t.master, b"alice-pw\n")
    assert t.finish() == 0, t.seen
    assert b"alice-pw" not in t.seen
    assert t.echo_on()
    assert (work / "secret.txt").read_bytes() == b"members only\n"


def test_password_prompt_wrong_password(srv, work, tty_run):
    t = tty_run("get", "-u", "alice", secret_url(srv))
    assert t.read_until(b"Password for alice: ")
    os.write(t.master, b"nope\n")
    assert t.finish() == 5, t.seen
    assert b"refused" in t.seen and b"nope" not in t.seen
    assert t.echo_on()
    assert listing(work) == []


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_password_prompt_restores_echo_on_signal(srv, work, tty_run, sig):
    t = tty_run("get", "-u", "alice", secret_url(srv))
    assert t.read_until(b"Password for alice: ")
    assert not t.echo_on()
    t.proc.send_signal(sig)
    assert t.finish() == -sig
    assert t.echo_on()
    assert listing(work) == []


def test_password_prompt_needs_a_terminal(srv, work):
    r = run("get", "-u", "alice", secret_url(srv), cwd=work, prefix=("setsid", "-w"))
    assert r.rc == 2, r
    assert "no terminal" in r.err and "-u USER:PASS" in r.err
    assert listing(work) == []


# ---- 2. say where it listens ----------------------------------------------------

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Serve:
    """A server started as a user starts it (its own session, so that it and
    what it starts are stopped together); stdout read line by line."""

    def __init__(self, cmd, cwd):
        self.proc = subprocess.Popen(cmd, cwd=cwd, env=clean_env(), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     start_new_session=True)
        self.buf = b""

    def lines(self, pred, timeout=60):
        """Stdout lines read until pred(lines) is true."""
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while True:
            lines = self.buf.decode("utf-8", "replace").splitlines()
            if pred(lines):
                return lines
            left = deadline - time.monotonic()
            assert left > 0, f"stdout so far: {self.buf!r}"
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 65536)
                assert chunk, f"stdout closed: {self.buf!r}; stderr: {self.proc.stderr.read()!r}"
                self.buf += chunk

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
        rc = self.proc.wait(15)
        self.proc.stdout.close()
        self.proc.stderr.close()
        return rc


@pytest.fixture
def serve(root):
    started = []

    def start(*args, cmd=None, cwd=None):
        s = Serve(cmd or [FERRY, "serve", *args], cwd or root)
        started.append(s)
        return s

    yield start
    for s in started:
        if s.proc.poll() is None:
            os.killpg(s.proc.pid, signal.SIGKILL)
            s.proc.wait(5)


def listening_addresses(port):
    """The local addresses of the TCP sockets listening on port (from
    /proc/net/tcp and tcp6), as the kernel has them."""
    found = []
    for name, family in (("/proc/net/tcp", 4), ("/proc/net/tcp6", 6)):
        with open(name) as f:
            next(f)
            for line in f:
                local, state = line.split()[1], line.split()[3]
                addr, p = local.split(":")
                if int(p, 16) == port and state == "0A":
                    found.append((family, addr))
    return found


def test_make_run_listens_on_loopback_only(serve, root):
    s = serve(cmd=["make", "-s", "-C", REPO, "run", "RUN_PORT=0"], cwd=root)
    lines = s.lines(lambda ls: any(line.startswith("ferry: serving") for line in ls))
    line = next(line for line in lines if line.startswith("ferry: serving"))
    m = re.fullmatch(r"ferry: serving (.*) on http://127\.0\.0\.1:(\d+)/", line)
    assert m, lines
    assert m.group(1) == REPO
    assert listening_addresses(int(m.group(2))) == [(4, "0100007F")]
    assert s.stop() in (0, 2, -signal.SIGTERM)  # make reports its child's signal


def local_address(host):
    """True when host is an address of this machine (it can be bound)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as t:
        try:
            t.bind((host, 0))
        except OSError:
            return False
    return True


def test_serve_without_bind_says_every_interface_and_lists_urls(serve, root):
    s = serve("-p", "0", "--threads", "1")
    # The banner is one write: all of it comes once its loopback URL does.
    lines = s.lines(lambda ls: any("127.0.0.1" in line for line in ls))
    assert lines[0] == f"ferry: serving {root} on every interface (-b ADDRESS for one), reachable at:"
    urls = [line.strip() for line in lines[1:] if line.startswith("  ")]
    assert urls and all(line.startswith("  http://") for line in lines[1:len(urls) + 1])
    hosts, ports = set(), set()
    for u in urls:
        m = re.fullmatch(r"http://(\[[0-9a-f:.]+\]|[0-9.]+):(\d+)/", u)
        assert m, u
        hosts.add(m.group(1).strip("[]"))
        ports.add(int(m.group(2)))
    assert len(ports) == 1 and "127.0.0.1" in hosts
    assert all(local_address(h) for h in hosts), hosts
    port = ports.pop()
    assert [a for _, a in listening_addresses(port)] == ["00000000000000000000000000000000"]
    assert s.stop() == 0


def test_serve_with_bind_names_that_address_only(serve, root):
    s = serve("-p", "0", "-b", "127.0.0.1", "--threads", "1")
    lines = s.lines(lambda ls: len(ls) >= 1)
    m = re.fullmatch(rf"ferry: serving {re.escape(str(root))} on http://127\.0\.0\.1:(\d+)/", lines[0])
    assert m, lines
    assert listening_addresses(int(m.group(1))) == [(4, "0100007F")]
    assert s.stop() == 0


@pytest.mark.parametrize("bind", [None, "127.0.0.1"], ids=["every_interface", "bound"])
def test_json_log_keeps_stdout_json_only(serve, root, bind):
    args = ["-p", "0", "--threads", "1", "--log-format", "json"] + (["-b", bind] if bind else [])
    s = serve(*args)
    first = json.loads(s.lines(lambda ls: len(ls) >= 1)[0])
    assert first["event"] == "serving" and first["dir"] == str(root)
    assert first["every_interface"] is (bind is None)
    url = next(u for u in first["urls"] if "127.0.0.1" in u)
    port = int(url.rsplit(":", 1)[1].strip("/"))
    with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
        c.sendall(b"GET /pub/open.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        c.settimeout(10)
        while c.recv(65536):
            pass
    lines = s.lines(lambda ls: len(ls) >= 2)
    for line in lines:
        json.loads(line)  # every stdout line is JSON
    assert json.loads(lines[1])["target"] == "/pub/open.txt"
    assert s.stop() == 0


# ---- 3. curl and wget habits -----------------------------------------------------


@pytest.fixture
def files(start_server, root):
    """ferry serve on root, with a few names people type."""
    (root / "a b.txt").write_bytes(b"with a space\n")
    (root / "\u4e2d\u6587.txt").write_bytes(b"chinese\n")
    (root / "notes.txt").write_bytes(b"notes\n")
    return start_server(root, "--upload")


def test_url_without_scheme_means_http(files, work):
    r = run("get", f"127.0.0.1:{files.port}/notes.txt", cwd=work)
    assert r.rc == 0, r
    assert listing(work) == ["notes.txt"]
    assert (work / "notes.txt").read_bytes() == b"notes\n"


def test_space_in_url_is_percent_encoded(files, work):
    r = run("get", f"http://127.0.0.1:{files.port}/a b.txt", cwd=work)
    assert r.rc == 0, r
    assert listing(work) == ["a b.txt"]
    assert (work / "a b.txt").read_bytes() == b"with a space\n"


def test_utf8_in_url_is_percent_encoded(files, work):
    r = run("get", f"http://127.0.0.1:{files.port}/\u4e2d\u6587.txt", cwd=work)
    assert r.rc == 0, r
    assert listing(work) == ["\u4e2d\u6587.txt"]
    assert (work / "\u4e2d\u6587.txt").read_bytes() == b"chinese\n"


def test_space_and_utf8_are_sent_encoded(work):
    with ScriptedServer(keep_alive(lambda p, q: p.respond(200, body=b"x"))) as s:
        r = run("get", "-o", "out", s.url("/d\u00e9j\u00e0 vu.txt?q=a b"), cwd=work)
        targets = [q.target for q in s.requests]
    assert r.rc == 0, r
    assert targets == ["/d%C3%A9j%C3%A0%20vu.txt?q=a%20b"]
    assert listing(work) == ["out"]


def test_dir_option_creates_the_folder(files, work):
    r = run("get", "-O", "new/deeper", f"http://127.0.0.1:{files.port}/notes.txt", cwd=work)
    assert r.rc == 0, r
    assert (work / "new" / "deeper" / "notes.txt").read_bytes() == b"notes\n"
    assert listing(work / "new" / "deeper") == ["notes.txt"]


def test_dir_option_on_a_file_is_a_local_error(files, work):
    (work / "plain").write_bytes(b"a file\n")
    r = run("get", "-O", "plain", f"http://127.0.0.1:{files.port}/notes.txt", cwd=work)
    assert r.rc == 6, r
    assert "plain" in r.err and "Not a directory" in r.err
    assert (work / "plain").read_bytes() == b"a file\n"


def test_dir_option_given_a_url_says_what_it_means(files, work):
    url = f"http://127.0.0.1:{files.port}/notes.txt"
    r = run("get", "-O", url, cwd=work)
    assert r.rc == 2, r
    assert r.err.count("\n") == 1 and "-O takes a folder" in r.err and f"ferry get {url}" in r.err
    assert listing(work) == []


@pytest.mark.parametrize("cmd,args,what", [
    ("get", ["-x", "http://h/"], "unknown option '-x'"),
    ("get", ["--bogus", "http://h/"], "unknown option '--bogus'"),
    ("get", ["-o"], "-o needs a value"),
    ("get", ["--output"], "--output needs a value"),
    ("get", ["-Z"], "unknown option '-Z'"),
    ("put", ["--nope", "f", "http://h/"], "unknown option '--nope'"),
    ("get", [], "no URL given"),
    ("put", ["f"], "usage: ferry put"),
], ids=["short", "long", "short_no_value", "long_no_value", "curl_style", "put_long", "no_url",
        "put_one_arg"])
def test_usage_error_is_one_line_and_a_pointer_to_help(work, cmd, args, what):
    r = run(cmd, *args, cwd=work)
    assert r.rc == 2, r
    assert r.out == b""
    assert r.err.count("\n") == 1, r.err
    assert what in r.err and f"try `ferry {cmd} --help`" in r.err
    assert listing(work) == []


@pytest.mark.parametrize("cmd", ["serve", "hello", "get", "put", "chat", "udp", "passwd"])
def test_version_on_every_subcommand(work, cmd):
    r = run(cmd, "--version", cwd=work)
    assert r.rc == 0, r
    assert re.fullmatch(rb"ferry \d+\.\d+\.\d+\n", r.out), r.out
    assert r.err == "" and listing(work) == []


@pytest.mark.parametrize("cmd", ["serve", "hello", "get", "put", "chat", "udp", "passwd"])
def test_help_command_shows_the_commands_help(work, cmd):
    r = run("help", cmd, cwd=work)
    assert r.rc == 0, r
    assert r.out.startswith(b"usage: ferry " + cmd.encode())
    assert r.out == subprocess.run([FERRY, cmd, "--help"], capture_output=True, timeout=10).stdout
    assert listing(work) == []


def test_help_command_alone_and_unknown(work):
    r = run("help", cwd=work)
    assert r.rc == 0 and r.out.startswith(b"usage: ferry COMMAND"), r
    r = run("help", "nope", cwd=work)
    assert r.rc == 2 and r.out == b"" and r.err.count("\n") == 1, r
    r = run("nope", cwd=work)
    assert r.rc == 2 and r.err.count("\n") == 1 and "ferry --help" in r.err, r


def test_put_into_a_folder_url_names_the_file(files, root, work):
    (work / "my report.txt").write_bytes(b"report\n")
    (root / "inbox").mkdir()
    r = run("put", work / "my report.txt", f"http://127.0.0.1:{files.port}/inbox/")
    assert r.rc == 0, r
    assert "/inbox/my%20report.txt: 201" in r.err
    assert listing(root / "inbox") == ["my report.txt"]
    assert (root / "inbox" / "my report.txt").read_bytes() == b"report\n"


def test_put_stdin_is_sent_chunked(work):
    got = []

    def respond(peer, req):
        body = b""
        if req.header("expect") == "100-continue":
            peer.send(b"HTTP/1.1 100 Continue\r\n\r\n")
        for _ in range(10000):  # chunks, bounded
            size_line = b""
            while not size_line.endswith(b"\r\n"):
                size_line += peer.read_exact(1)
            size = int(size_line.strip(), 16)
            data = peer.read_exact(size + 2)
            if size == 0:
                break
            body += data[:-2]
        got.append((req.method, req.target, req.header("transfer-encoding"),
                    req.header("content-length"), body))
        peer.respond(201, body=b"")

    data = b"".join(b"line %d\n" % i for i in range(50000))
    with ScriptedServer(keep_alive(respond)) as s:
        r = run("put", "-", s.url("/up/from-pipe.txt"), cwd=work, stdin_data=data)
    assert r.rc == 0, r
    assert got == [("PUT", "/up/from-pipe.txt", "chunked", None, data)]
    assert listing(work) == []


def test_put_stdin_to_ferry_serve(files, root, work):
    r = run("put", "-", f"http://127.0.0.1:{files.port}/piped.txt", cwd=work,
            stdin_data=b"from a pipe\n")
    assert r.rc == 0, r
    assert (root / "piped.txt").read_bytes() == b"from a pipe\n"


def test_put_stdin_to_a_folder_url_is_refused(files, root, work):
    before = listing(root)
    r = run("put", "-", f"http://127.0.0.1:{files.port}/", cwd=work, stdin_data=b"x")
    assert r.rc == 2, r
    assert "standard input has no name" in r.err
    assert listing(root) == before


def test_put_stdin_with_login(srv, root, work):
    r = run("put", "-u", "alice:alice-pw", "-", f"http://127.0.0.1:{srv.port}/piped.txt", cwd=work,
            stdin_data=b"members' pipe\n")
    assert r.rc == 0, r
    assert (root / "piped.txt").read_bytes() == b"members' pipe\n"


BLOB = b"\x00\x01\x02BINARY-MARK\x00\xff" * 10


@pytest.fixture
def blobs(start_server, root):
    (root / "blob.bin").write_bytes(BLOB)
    (root / "text.txt").write_bytes(b"TEXT-MARK\n")
    return start_server(root)


def test_binary_to_a_terminal_is_refused(blobs, work, tty_run):
    t = tty_run("get", "-o", "-", f"http://127.0.0.1:{blobs.port}/blob.bin")
    assert t.finish() == 6, t.seen
    assert b"binary data would go to the terminal" in t.seen and b"-f" in t.seen
    assert b"BINARY-MARK" not in t.seen
    assert listing(work) == []


def test_binary_to_a_terminal_when_forced(blobs, work, tty_run):
    t = tty_run("get", "-f", "-o", "-", f"http://127.0.0.1:{blobs.port}/blob.bin")
    assert t.finish() == 0, t.seen
    assert b"BINARY-MARK" in t.seen
    assert listing(work) == []


def test_text_to_a_terminal_is_shown(blobs, work, tty_run):
    t = tty_run("get", "-o", "-", f"http://127.0.0.1:{blobs.port}/text.txt")
    assert t.finish() == 0, t.seen
    assert b"TEXT-MARK" in t.seen
    assert listing(work) == []


def test_binary_to_a_pipe_is_written(blobs, work):
    r = run("get", "-o", "-", f"http://127.0.0.1:{blobs.port}/blob.bin", cwd=work)
    assert r.rc == 0, r
    assert r.out == BLOB


def test_put_resume_asks_the_offset_with_the_login(srv, work):
    (work / "f.txt").write_bytes(b"data\n")
    url = f"http://127.0.0.1:{srv.port}/f.txt?upload=0123456789abcdef0123456789abcdef"
    r = run("put", "-c", work / "f.txt", url, cwd=work)
    assert r.rc == 5 and "401" in r.err, r  # without the login: refused
    r = run("put", "-u", "alice:alice-pw", "-c", work / "f.txt", url, cwd=work)
    assert r.rc == 5, r
    assert "no longer has this upload" in r.err and "401" not in r.err
    assert listing(work) == ["f.txt"]
