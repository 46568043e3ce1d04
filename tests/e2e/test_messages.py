"""Messages that say what to do (issue 17, point 6): each runs the command
as a user would and checks the exact line it prints, its exit status and
what it leaves.

A bind error names the address, the port and the cause; an unresolvable -b
says so; `cannot connect` writes an IPv6 address in brackets; a refused
certificate names --pin with the fingerprint seen, and -k; the 403, 405 and
409 pages say why in one sentence; a name taken in chat is refused before
a line goes out under it."""
import base64
import os
import pathlib
import pty
import re
import select
import signal
import socket
import subprocess
import termios
import time

import pytest

from ferrylib import FERRY, clean_env, http_request, need_tool
from msgtools import Conn, tools_fixture
from test_auth import passwd

RUN_TIMEOUT = 30


def run(*args, stdin=subprocess.DEVNULL):
    """`ferry ARGS` with its exit status and stderr (text)."""
    p = subprocess.run([FERRY, *map(os.fspath, args)], env=clean_env(), capture_output=True,
                       timeout=RUN_TIMEOUT, stdin=stdin)
    return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")


@pytest.fixture
def busy_port():
    """A port on 127.0.0.1 that another program listens on."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    yield s.getsockname()[1]
    s.close()


def closed_port(family=socket.AF_INET, host="127.0.0.1"):
    """A port nothing listens on (bound and closed at once)."""
    s = socket.socket(family)
    s.bind((host, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def have_ipv6_loopback():
    try:
        s = socket.socket(socket.AF_INET6)
        s.bind(("::1", 0))
        s.close()
        return True
    except OSError:
        return False


# ---- bind errors -----------------------------------------------------------------


@pytest.mark.parametrize("cmd", [["serve"], ["hello"], ["chat", "-l"], ["udp", "-l"]])
def test_bind_in_use_names_address_and_port(cmd, busy_port, tmp_path):
    if cmd == ["udp", "-l"]:
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind(("127.0.0.1", busy_port))
    args = [*cmd, "-b", "127.0.0.1", "-p", str(busy_port)] + ([tmp_path] if cmd == ["serve"] else [])
    rc, out, err = run(*args)
    if cmd == ["udp", "-l"]:
        u.close()
    assert err == (f"ferry {cmd[0]}: 127.0.0.1:{busy_port} is in use: another program listens "
                   f"there; stop it or choose another port with -p\n")
    assert rc == (3 if cmd[0] == "udp" else 1) and out == b""


def test_bind_unresolvable_name_says_so(tmp_path):
    rc, out, err = run("serve", "-b", "no-such-host.invalid", "-p", "0", tmp_path)
    assert err == ("ferry serve: -b no-such-host.invalid: no such host name; give an address of "
                   "this machine (127.0.0.1, ::1) or leave -b out for every interface\n")
    assert rc == 1 and out == b""


def test_bind_address_not_this_machines(tmp_path):
    # 192.0.2.1 (TEST-NET-1) is no interface's address here.
    rc, out, err = run("serve", "-b", "192.0.2.1", "-p", "8080", tmp_path)
    assert err == ("ferry serve: cannot listen on 192.0.2.1:8080: 192.0.2.1 is not an address of "
                   "this machine (-b)\n")
    assert rc == 1


# ---- cannot connect ----------------------------------------------------------------


def test_cannot_connect_brackets_ipv6(tmp_path):
    if not have_ipv6_loopback():
        pytest.skip("no IPv6 loopback")
    port = closed_port(socket.AF_INET6, "::1")
    rc, out, err = run("get", "-O", tmp_path, f"http://[::1]:{port}/f")
    assert err == f"ferry: cannot connect to [::1]:{port}: Connection refused\n"
    assert rc == 3 and os.listdir(tmp_path) == []
    rc, out, err = run("chat", f"[::1]:{port}")
    assert err == f"ferry chat: cannot connect to [::1]:{port}: Connection refused\n"
    assert rc == 1


def test_cannot_connect_ipv4_names_address(tmp_path):
    port = closed_port()
    rc, out, err = run("get", "-O", tmp_path, f"http://127.0.0.1:{port}/f")
    assert err == f"ferry: cannot connect to 127.0.0.1:{port}: Connection refused\n"
    assert rc == 3


# ---- certificates ------------------------------------------------------------------


def fp_of(srv):
    """The server's certificate SHA-256 as "AB:CD:..." (from its banner)."""
    deadline = time.monotonic() + 10
    while len(srv.stdout_lines) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    line = srv.stdout_lines[1]
    assert line.startswith("ferry: certificate SHA-256 "), srv.stdout_lines
    return line.split("SHA-256 ")[1].split()[0]


def test_self_signed_certificate_names_pin_and_k(start_server, tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (root / "f.txt").write_bytes(b"over tls\n")
    srv = start_server(root, "--tls-self-signed")
    fp = fp_of(srv)
    out = tmp_path / "out"
    out.mkdir()
    rc, _, err = run("get", "-O", out, srv.url + "f.txt")
    assert err == ("ferry: 127.0.0.1: TLS handshake: certificate: self-signed certificate\n"
                   f"ferry: the server's certificate has SHA-256 {fp}; if it is the one you "
                   f"expect, add --pin {fp} (or -k to skip the check: unsafe)\n")
    assert rc == 4 and os.listdir(out) == []
    # What the message says to do works: --pin with the fingerprint as shown.
    rc, _, err = run("get", "-q", "--pin", fp, "-O", out, srv.url + "f.txt")
    assert rc == 0 and err == "" and (out / "f.txt").read_bytes() == b"over tls\n"
    # and so does -k, with a warning line.
    rc, _, err = run("get", "-q", "-k", "-o", out / "k.txt", srv.url + "f.txt")
    assert err == "ferry: warning: -k: the server's certificate is not verified\n"
    assert rc == 0 and (out / "k.txt").read_bytes() == b"over tls\n"


def test_wrong_pin_shows_the_fingerprint_seen(start_server, tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    srv = start_server(root, "--tls-self-signed")
    fp = fp_of(srv)
    (tmp_path / "up.txt").write_bytes(b"up\n")
    rc, _, err = run("put", "--pin", "00" * 32, tmp_path / "up.txt", srv.url + "up.txt")
    assert err == ("ferry: 127.0.0.1: TLS handshake: the certificate does not match --pin\n"
                   f"ferry: the server's certificate has SHA-256 {fp}; if it is the one you "
                   f"expect, add --pin {fp} (or -k to skip the check: unsafe)\n")
    assert rc == 4 and os.listdir(root) == []


def test_certificate_for_another_name_names_pin(start_server, tmp_path):
    """A CA-trusted certificate that names another host: the same advice."""
    openssl = need_tool("openssl")
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=other",
                    "-addext", "subjectAltName=DNS:other.example"], check=True, capture_output=True,
                   timeout=30)
    root = tmp_path / "root"
    root.mkdir()
    srv = start_server(root, "--tls-cert", cert, "--tls-key", key)
    fp = fp_of(srv)
    rc, _, err = run("get", "--cacert", cert, "-o", tmp_path / "x", srv.url + "x")
    assert err == ("ferry: 127.0.0.1: TLS handshake: certificate: IP address mismatch\n"
                   f"ferry: the server's certificate has SHA-256 {fp}; if it is the one you "
                   f"expect, add --pin {fp} (or -k to skip the check: unsafe)\n")
    assert rc == 4 and not (tmp_path / "x").exists()


# ---- 403, 405 and 409 pages ----------------------------------------------------------


def page(status, reason, why):
    """The page ferry serve answers status with, saying why."""
    return (f"<!DOCTYPE html>\n<title>{status} {reason}</title>\n<h1>{status} {reason}</h1>\n"
            f"<p>{why}</p>\n").encode()


def put(srv, target, body=b"data", headers=()):
    return http_request(srv, "PUT", target, body=body,
                        headers=[*headers, ("Content-Length", str(len(body)))])


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "root"
    (root / "dir").mkdir(parents=True)
    (root / "dir" / "a.txt").write_bytes(b"a\n")
    return root


def test_405_says_uploads_are_off(start_server, tree):
    srv = start_server(tree)
    r = put(srv, "/new.txt")
    assert r.status == 405 and r.header("allow") == "GET, HEAD, OPTIONS, PROPFIND"
    assert r.body == page(405, "Method Not Allowed", "This server takes no uploads or changes: it "
                                                      "was started without --upload.")
    assert not (tree / "new.txt").exists()
    r = http_request(srv, "DELETE", "/dir/a.txt")
    assert r.status == 405 and b"started without --upload" in r.body
    assert (tree / "dir" / "a.txt").exists()


def test_409_says_a_folder_url_takes_no_file(start_server, tree):
    srv = start_server(tree, "--upload")
    r = put(srv, "/dir/")
    assert r.status == 409
    assert r.body == page(409, "Conflict", "This URL names a folder (it ends in /): add the "
                                           "file's name to it.")
    assert sorted(os.listdir(tree / "dir")) == ["a.txt"]


def test_409_says_the_parent_is_missing(start_server, tree):
    srv = start_server(tree, "--upload")
    r = put(srv, "/missing/f.txt")
    assert r.status == 409
    assert r.body == page(409, "Conflict", "The folder this would go in does not exist: create it "
                                           "first.")
    r = http_request(srv, "MKCOL", "/missing/sub")
    assert r.status == 409 and b"does not exist: create it first" in r.body
    assert sorted(os.listdir(tree)) == ["dir"]


def test_403_says_no_right(start_server, tree, tmp_path):
    auth = tmp_path / "auth"
    auth.write_text(passwd("rita", "rita-pw", "ro:/") + "\n")
    srv = start_server(tree, "--upload", "--auth", auth)
    cred = base64.b64encode(b"rita:rita-pw").decode()
    r = put(srv, "/dir/new.txt", headers=[("Authorization", f"Basic {cred}")])
    assert r.status == 403
    assert r.body == page(403, "Forbidden", "This account may not write here.")
    assert sorted(os.listdir(tree / "dir")) == ["a.txt"]


def test_403_says_the_root_stays(start_server, tree):
    srv = start_server(tree, "--upload")
    r = http_request(srv, "DELETE", "/")
    assert r.status == 403
    assert r.body == page(403, "Forbidden", "The served folder itself cannot be deleted.")


def test_403_says_hidden_names_are_not_changed(start_server, tree):
    srv = start_server(tree, "--upload")
    r = put(srv, "/.secret")
    assert r.status == 403
    assert r.body == page(403, "Forbidden", "Hidden and reserved names cannot be changed.")
    assert not (tree / ".secret").exists()



def test_put_shows_why_the_server_refused(start_server, tree, tmp_path):
    (tmp_path / "up.txt").write_bytes(b"up\n")
    srv = start_server(tree)
    rc, _, err = run("put", tmp_path / "up.txt", srv.url + "up.txt")
    assert err == (f"ferry: {srv.url}up.txt: HTTP/1.1 405 Method Not Allowed\n"
                   "ferry: the server says: This server takes no uploads or changes: it was "
                   "started without --upload.\n")
    assert rc == 5 and not (tree / "up.txt").exists()
    srv2 = start_server(tree, "--upload")
    rc, _, err = run("put", tmp_path / "up.txt", srv2.url + "missing/up.txt")
    assert err.endswith("ferry: the server says: The folder this would go in does not exist: "
                        "create it first.\n"), err
    assert rc == 5 and sorted(os.listdir(tree)) == ["dir"]


# ---- a name taken in chat ---------------------------------------------------------

WELCOME = re.compile(rb"^\* welcome to ferry chat, (?P<name>\S+): /nick NAME, /who, /quit\n$")


@pytest.fixture
def tools():
    yield from tools_fixture()


def chat_member(srv, nick=None):
    """A raw client of the broker, past its welcome (and its /nick)."""
    c = Conn(srv.addr)
    c.name = WELCOME.match(c.line()).group("name")
    if nick is not None:
        c.send(b"/nick %s\n" % nick)
        c.expect(b"* %s is now %s\n" % (c.name, nick))
        c.name = nick
    return c


def test_chat_name_taken_sends_nothing_under_another(tools):
    srv = tools.server("chat")
    ann = chat_member(srv, b"ann")
    cl = tools.run("chat", "--name", "ann", "127.0.0.1:%d" % srv.addr[1])
    cl.write(b"hello from the second ann\n")
    assert cl.wait() == 1
    assert cl.stderr.data == (b"ferry chat: the broker refused the name (its line above says "
                              b"why); nothing more was sent: choose another with --name\n")
    assert cl.stdout.data.endswith(b"* cannot take that name: 1 to 32 visible characters, no ':', "
                                   b"not in use\n")
    seen = ann.until(b" left\n")
    assert b"hello" not in seen, seen


def test_chat_typed_nick_taken_on_a_pipe_sends_nothing_after(tools):
    srv = tools.server("chat")
    ann = chat_member(srv, b"ann")
    cl = tools.run("chat", "127.0.0.1:%d" % srv.addr[1])
    cl.write(b"/nick ann\nhello as ann\n")
    assert cl.wait() == 1
    assert cl.stderr.data == (b"ferry chat: the broker refused the name (its line above says "
                              b"why); nothing more was sent\n")
    seen = ann.until(b" left\n")
    assert b"hello" not in seen, seen


def test_chat_name_taken_lines_wait_for_the_answer(tools):
    srv = tools.server("chat")
    ann = chat_member(srv)
    cl = tools.run("chat", "--name", "bob", "127.0.0.1:%d" % srv.addr[1])
    cl.write(b"first\n/nick carl\nsecond\n")
    got = ann.until(b"carl: second\n")
    # Each line under the name the user meant, in order.
    assert re.search(rb"\* \S+ is now bob\nbob: first\n\* bob is now carl\ncarl: second\n$", got), got
    cl.close_stdin()
    assert cl.wait() == 0


# ---- the chat client on a terminal keeps the line being typed ------------------------


class ChatTerminal:
    """`ferry chat ADDR` with its stdin and stdout on a pseudo-terminal in
    the settings a shell leaves (canonical, echo), as a user runs it."""

    def __init__(self, addr, *args, own_session=True):
        self.master, self.slave = pty.openpty()
        self.cooked = termios.tcgetattr(self.slave)
        # own_session=False: a process group of its own in this session, as a
        # shell's job is, so a stop signal stops it (in a new session its
        # group would be orphaned, and the kernel drops SIGTSTP there).
        self.proc = subprocess.Popen([FERRY, "chat", *args, "%s:%d" % addr], stdin=self.slave,
                                     stdout=self.slave, stderr=subprocess.PIPE, env=clean_env(),
                                     start_new_session=own_session,
                                     process_group=None if own_session else 0)
        self.data = bytearray()

    def until(self, needle, timeout=5.0):
        deadline = time.monotonic() + timeout
        while needle not in self.data:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.master], [], [], left)[0]:
                break
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                break
            if not chunk:
                break
            self.data += chunk
        assert needle in self.data, f"{needle!r} not on the terminal; got {bytes(self.data)!r}"
        return bytes(self.data)

    def type(self, keys):
        os.write(self.master, keys)

    def lflag(self):
        return termios.tcgetattr(self.slave)[3]

    def wait(self, timeout=5.0):
        try:
            return self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(5)

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        self.proc.stderr.close()
        os.close(self.master)
        os.close(self.slave)


def test_chat_terminal_redraws_the_line_being_typed(tools):
    srv = tools.server("chat")
    ann = chat_member(srv, b"ann")
    t = ChatTerminal(srv.addr, "--name", "bob")
    try:
        ann.until(b"is now bob\n")
        t.until(b"is now bob\r\n")
        assert t.lflag() & (termios.ICANON | termios.ECHO) == 0, "the client edits the line itself"
        t.type(b"half a lin")
        t.until(b"\r\x1b[K> half a lin")
        ann.send(b"news arrives\n")
        # The partial line is taken away, the line shown, the partial line drawn again.
        t.until(b"\r\x1b[Kann: news arrives\r\n\r\x1b[K> half a lin")
        t.type(b"x\x7fe, edited\x17done\r")
        ann.expect(b"bob: half a line, done\n")
        t.until(b"> half a line, done\r\n")
        t.type(b"\x04")  # ^D on an empty line: done
        assert t.wait() == 0
        assert t.lflag() == t.cooked[3], "the terminal is given back as it was"
    finally:
        t.close()


def proc_state(pid):
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def test_chat_terminal_given_back_while_stopped_by_ctrl_z(tools):
    """^Z (SIGTSTP) stops the client with the terminal as the shell left it
    (canonical, echo); after fg (SIGCONT) the line editor takes it again and
    goes on."""
    srv = tools.server("chat")
    ann = chat_member(srv, b"ann")
    t = ChatTerminal(srv.addr, "--name", "bob", own_session=False)
    try:
        ann.until(b"is now bob\n")
        t.until(b"is now bob\r\n")
        assert t.lflag() & termios.ECHO == 0
        t.proc.send_signal(signal.SIGTSTP)
        deadline = time.monotonic() + 5
        while proc_state(t.proc.pid) != "T" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc_state(t.proc.pid) == "T", "stopped"
        assert t.lflag() == t.cooked[3], "the terminal is the shell's while stopped"
        t.proc.send_signal(signal.SIGCONT)
        deadline = time.monotonic() + 5
        while t.lflag() & termios.ECHO and time.monotonic() < deadline:
            time.sleep(0.05)
        assert t.lflag() & (termios.ICANON | termios.ECHO) == 0, "the editor has it again"
        t.type(b"after fg\r")
        ann.expect(b"bob: after fg\n")
        t.type(b"\x04")
        assert t.wait() == 0
        assert t.lflag() == t.cooked[3]
    finally:
        t.close()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_chat_terminal_given_back_on_signals(tools, sig):
    srv = tools.server("chat")
    ann = chat_member(srv)
    t = ChatTerminal(srv.addr)
    try:
        t.until(b"> ")
        ann.until(b" joined\n")
        assert t.lflag() & termios.ECHO == 0
        t.proc.send_signal(sig)
        rc = t.wait()
        assert rc == (-signal.SIGHUP if sig == signal.SIGHUP else 0)
        assert t.lflag() == t.cooked[3]
    finally:
        t.close()


def test_chat_pipe_is_not_edited(tools):
    srv = tools.server("chat")
    ann = chat_member(srv)
    cl = tools.run("chat", "127.0.0.1:%d" % srv.addr[1])
    ann.until(b" joined\n")
    ann.send(b"hi\n")
    cl.stdout.expect(b": hi\n", what="client stdout")
    assert b"\x1b[K" not in cl.stdout.data and b"> " not in cl.stdout.data


# ---- documentation a user finds ---------------------------------------------------

GET_LONG_OPTIONS = ["--output", "--dir", "--remote-name", "--force", "--continue", "--include",
                    "--quiet", "--verbose", "--insecure", "--cacert", "--pin", "--max-redirs",
                    "--timeout", "--retry", "--charset", "--sync", "--no-pipeline", "--sha256",
                    "--digest", "--user", "--netrc", "--allow-plain-auth"]


def test_get_help_fits_a_terminal_and_leads_with_five_options():
    rc, out, err = run("get", "--help")
    assert rc == 0 and err == ""
    lines = out.decode().splitlines()
    assert len(lines) <= 24 and max(map(len, lines)) <= 80, out.decode()
    opts = [ln.split()[1].rstrip(",") for ln in lines if ln.startswith("  -")]
    assert opts == ["--output", "--dir", "--continue", "--user", "--insecure"], opts
    # Every other option is named, and `--help all` explains each.
    text = out.decode()
    for short in ["-J", "-f", "-i", "-q", "-v"]:
        assert f" {short} " in text or f" {short}\n" in text, short
    for opt in GET_LONG_OPTIONS[5:]:
        if opt in ("--remote-name", "--force", "--include", "--quiet", "--verbose", "--user"):
            continue
        assert opt in text, opt
    rc, full, _ = run("get", "--help", "all")
    assert rc == 0
    for opt in GET_LONG_OPTIONS:
        assert opt.encode() in full, opt


def test_put_help_lists_only_puts_exit_codes():
    rc, out, _ = run("put", "--help")
    assert rc == 0
    codes = out.decode().split("Exit status:")[1]
    assert "7 raw" not in codes and "9 the saved file" not in codes and "digest" not in codes
    for code in ["0 done", "2 bad usage", "3 network", "4 TLS", "5 HTTP status", "6 local file",
                 "8 malformed"]:
        assert code in codes, code


REPO = pathlib.Path(__file__).resolve().parents[2]
COMMANDS = ["serve", "get", "put", "hello", "chat", "udp", "passwd"]


def help_options(cmd):
    """The options a command's --help lists (get: --help all), in order."""
    args = ["--help", "all"] if cmd == "get" else ["--help"]
    _, out, _ = run(cmd, *args)
    found = []
    for ln in out.decode().splitlines():
        m = re.match(r"^ {2,6}(-\S.*?)(?: {2,}|$)", ln)
        if m and not ln.startswith(" " * 25):
            for t in re.findall(r"(?:^|[ ,])(--?[A-Za-z][A-Za-z0-9-]*)", m.group(1)):
                if t not in found:
                    found.append(t)
    return found


def man_sections():
    """{command: the man page's OPTIONS text for it}."""
    text = (REPO / "docs" / "ferry.1").read_text()
    opts = text.split(".SH OPTIONS\n", 1)[1].split("\n.SH ", 1)[0]
    parts = re.split(r"^\.SS ferry (\S+)\n", opts, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2]))


def test_man_page_has_options_for_every_command_and_renders_cleanly():
    groff = need_tool("groff")
    p = subprocess.run([groff, "-man", "-Tutf8", "-ww", "-z", REPO / "docs" / "ferry.1"],
                       capture_output=True, timeout=30, env={**clean_env(), "LC_ALL": "C.UTF-8"})
    assert p.returncode == 0 and p.stderr == b"", p.stderr
    sections = man_sections()
    assert sorted(sections) == sorted(COMMANDS)
    for cmd in COMMANDS:
        for opt in help_options(cmd):
            assert "\\fB" + opt.replace("-", "\\-") + "\\fR" in sections[cmd], (cmd, opt)


def test_man_page_exit_status_is_each_commands_own():
    text = (REPO / "docs" / "ferry.1").read_text()
    status = text.split(".SH EXIT STATUS\n", 1)[1].split("\n.SH ", 1)[0]
    paras = {p.split("\n", 1)[0]: p for p in status.split("\n.PP\n")}
    passwd = paras[".B passwd:"]
    assert "SIGINT" not in passwd and "certificate" not in passwd, passwd
    assert "0 printed; 1 no password read or hashed; 2 bad usage" in passwd
    assert "7 raw" not in paras[".B put:"] and "9 " not in paras[".B put:"]
    assert "the broker refused the name" in paras[".B chat"]


def test_make_install_puts_the_completions(tmp_path):
    dest = tmp_path / "dest"
    p = subprocess.run(["make", "-s", "-C", REPO, "install", f"DESTDIR={dest}", "PREFIX=/usr"],
                       capture_output=True, timeout=300)
    assert p.returncode == 0, p.stderr
    share = dest / "usr" / "share"
    assert (share / "bash-completion" / "completions" / "ferry").read_bytes() == \
        (REPO / "completions" / "ferry.bash").read_bytes()
    assert (share / "zsh" / "site-functions" / "_ferry").read_bytes() == \
        (REPO / "completions" / "_ferry").read_bytes()
    assert (share / "fish" / "vendor_completions.d" / "ferry.fish").read_bytes() == \
        (REPO / "completions" / "ferry.fish").read_bytes()
    assert (share / "man" / "man1" / "ferry.1").exists() and (dest / "usr" / "bin" / "ferry").exists()


def bash_complete(*words):
    """What the bash completion offers for the last of words."""
    script = REPO / "completions" / "ferry.bash"
    quoted = " ".join("'%s'" % w for w in words)
    p = subprocess.run(["bash", "-c", f"source '{script}'; COMP_WORDS=({quoted}); "
                                      f"COMP_CWORD={len(words) - 1}; _ferry; echo \"${{COMPREPLY[@]}}\""],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0 and p.stderr == "", p.stderr
    return p.stdout.split()


def test_bash_completion_completes_commands_and_options(tmp_path):
    assert bash_complete("ferry", "s") == ["serve"]
    assert bash_complete("ferry", "") == ["serve", "get", "put", "hello", "chat", "udp", "passwd",
                                          "help", "--help", "--version"]
    assert bash_complete("ferry", "get", "--ins") == ["--insecure"]
    assert bash_complete("ferry", "serve", "--log-format", "j") == ["json"]
    assert bash_complete("ferry", "help", "pa") == ["passwd"]
    for cmd in COMMANDS:
        assert sorted(bash_complete("ferry", cmd, "-")) == sorted(help_options(cmd)), cmd


def test_zsh_and_fish_completions_name_every_option():
    zsh = (REPO / "completions" / "_ferry").read_text()
    fish = (REPO / "completions" / "ferry.fish").read_text()
    assert zsh.startswith("#compdef ferry\n")
    for cmd in COMMANDS:
        zline = re.search(rf"^    {cmd}\) opts=\((.*)\) ;;$", zsh, re.M).group(1).split()
        assert zline == help_options(cmd), cmd
        flines = [ln for ln in fish.splitlines() if f"__fish_seen_subcommand_from {cmd}'" in ln]
        for opt in help_options(cmd):
            flag = f"-l {opt[2:]}" if opt.startswith("--") else f"-s {opt[1:]}"
            assert any(re.search(rf"{flag}( |$)", ln) for ln in flines), (cmd, opt)
