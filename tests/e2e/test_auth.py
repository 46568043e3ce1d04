"""ferry serve --auth: accounts, rights per path prefix, HTTP Basic, the raw
protocol under "*", the plain-HTTP refusal for other hosts, the failure
limit, checks off the event loop, ferry passwd and bad auth files.

The test for "from another host" puts the client in a network namespace
joined to this one by a veth pair, so the server sees a non-loopback peer
while no packet leaves the machine; it needs root and ip(8) (iproute2, which
make test installs)."""
import base64
import os
import socket
import subprocess
import threading
import time
import warnings

import pytest

from ferrylib import (FERRY, HttpConn, build_preload, build_request, cpu_seconds, http_request, need_tool, preload_list,
                      raw_fetch)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt  # libxcrypt, the same crypt(3) the server uses

CHALLENGE = 'Basic realm="ferry", charset="UTF-8"'


def basic(user, password):
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return ("Authorization", f"Basic {token}")


def passwd(user, password, rights=None):
    """A line from `ferry passwd`, the password given on stdin."""
    args = [FERRY, "passwd", user] + ([rights] if rights else [])
    r = subprocess.run(args, input=password + "\n", capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def bcrypt_line(user, password, rights, cost):
    h = crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1 << cost))
    assert h.startswith("$2b$")
    return f"{user}:{h}:{rights}"


@pytest.fixture(scope="module")
def lines():
    """Lines made once: yescrypt costs tens of ms per hash."""
    return {
        "alice": passwd("alice", "alice-pw", "rw:/incoming,ro:/"),
        "reader": passwd("reader", "reader-pw", "ro:/"),
    }


@pytest.fixture
def root(tmp_path):
    r = tmp_path / "root"
    (r / "pub").mkdir(parents=True)
    (r / "incoming").mkdir()
    (r / "incomingX").mkdir()
    (r / "pub" / "open.txt").write_bytes(b"open to all\n")
    (r / "secret.txt").write_bytes(b"members only\n")
    (r / "incoming" / "old.txt").write_bytes(b"old\n")
    return r


def write_auth(tmp_path, *lines):
    p = tmp_path / "auth"
    p.write_text("# accounts\n\n" + "\n".join(lines) + "\n")
    return p


@pytest.fixture
def srv(start_server, root, tmp_path, lines):
    auth = write_auth(tmp_path, lines["alice"], lines["reader"], "*::ro:/pub")
    return start_server(root, "--upload", "--auth", str(auth))


def get(srv, target, *headers, method="GET"):
    return http_request(srv, method, target, list(headers))


# ---- anonymous -----------------------------------------------------------------

def test_anonymous_read_allowed_by_star(srv):
    r = get(srv, "/pub/open.txt")
    assert r.status == 200 and r.body == b"open to all\n"


def test_anonymous_read_refused_outside_star(srv):
    r = get(srv, "/secret.txt")
    assert r.status == 401
    assert r.header("www-authenticate") == CHALLENGE
    assert b"members only" not in r.body


def test_no_star_line_anonymous_gets_nothing(start_server, root, tmp_path, lines):
    s = start_server(root, "--auth", str(write_auth(tmp_path, lines["reader"])))
    assert get(s, "/pub/open.txt").status == 401
    assert get(s, "/").status == 401
    assert raw_fetch(s, b"pub/open.txt\n") == b""


def test_head_401_has_no_body(srv):
    with srv.http() as c:
        c.request("HEAD", "/secret.txt")
        r = c.read_response("HEAD")
        assert r.status == 401 and r.header("www-authenticate") == CHALLENGE
        c.request("GET", "/pub/open.txt")  # nothing of a body came between
        assert c.read_response().body == b"open to all\n"


# ---- passwords -----------------------------------------------------------------

def test_401_then_200_with_right_password(srv):
    with srv.http() as c:
        c.request("GET", "/secret.txt")
        first = c.read_response()
        assert first.status == 401 and first.header("www-authenticate") == CHALLENGE
        for _ in range(3):  # keep-alive: the cache answers the later ones
            c.request("GET", "/secret.txt", [basic("reader", "reader-pw")])
            r = c.read_response()
            assert r.status == 200 and r.body == b"members only\n"


def test_wrong_password_is_401(srv):
    r = get(srv, "/secret.txt", basic("reader", "not-it"))
    assert r.status == 401 and r.header("www-authenticate") == CHALLENGE
    assert b"members only" not in r.body


def test_unknown_user_is_401(srv):
    assert get(srv, "/secret.txt", basic("mallory", "reader-pw")).status == 401


def test_password_of_another_user_is_401(srv):
    assert get(srv, "/secret.txt", basic("reader", "alice-pw")).status == 401


def test_bad_base64_is_400(srv):
    r = get(srv, "/secret.txt", ("Authorization", "Basic cmVhZGVyOnJlYWRlci1wdw"))  # no padding
    assert r.status == 400


def test_two_authorization_fields_are_400(srv):
    r = get(srv, "/secret.txt", basic("reader", "reader-pw"), basic("alice", "alice-pw"))
    assert r.status == 400 and b"members only" not in r.body


def test_other_scheme_is_401(srv):
    r = get(srv, "/secret.txt", ("Authorization", "Bearer abc"))
    assert r.status == 401 and r.header("www-authenticate") == CHALLENGE


# ---- unknown users cost what accounts cost --------------------------------------
# Which crypt setting the server runs is read through tests/e2e/crypt_spy.c,
# an LD_PRELOAD wrapper of crypt_rn that logs each setting: no timing.


def sha512_line(user, password, rights, rounds):
    h = crypt.crypt(password, crypt.mksalt(crypt.METHOD_SHA512, rounds=rounds))
    assert h.startswith(f"$6$rounds={rounds}$")
    return f"{user}:{h}:{rights}"


@pytest.fixture(scope="module")
def crypt_spy(tmp_path_factory):
    return build_preload(tmp_path_factory.mktemp("spy"), "crypt_spy")


@pytest.fixture
def spied(start_server, root, tmp_path, crypt_spy, monkeypatch):
    """start(*auth_lines): a server whose crypt_rn settings are logged; the
    log's lines come from spied.settings()."""
    log = tmp_path / "crypt.log"

    class Spied:
        def start(self, *lines):
            monkeypatch.setenv("LD_PRELOAD", preload_list(crypt_spy))
            monkeypatch.setenv("FERRY_CRYPT_SPY", str(log))
            try:
                return start_server(root, "--auth", str(write_auth(tmp_path, *lines)))
            finally:
                monkeypatch.delenv("LD_PRELOAD")

        def settings(self):
            return log.read_text().splitlines() if log.exists() else []

    return Spied()


def from_address(s, i, user, password):
    """One GET of /secret.txt from 127.0.0.(10 + i // 4): each address
    stays under the failure limit. The status."""
    c = socket.socket()
    c.settimeout(30)
    c.bind((f"127.0.0.{10 + i // 4}", 0))
    c.connect((s.host, s.port))
    with HttpConn(s.port, sock=c, timeout=30) as h:
        h.send(build_request("GET", "/secret.txt", [basic(user, password)]))
        return h.read_response().status


@pytest.mark.parametrize("make,params", [
    (lambda: sha512_line("sam", "sam-pw", "ro:/", 20000), "$6$rounds=20000$"),
    (lambda: bcrypt_line("bea", "bea-pw", "ro:/", 6), "$2b$06$"),
])
def test_unknown_user_is_checked_with_the_files_scheme_and_cost(spied, make, params):
    """In a file of sha512crypt or bcrypt accounts, an unknown user is 401
    after a check of the same scheme and cost (with its own salt), not a
    yescrypt one whose cost differs by an order of magnitude."""
    line = make()
    user, account_hash = line.split(":")[:2]
    s = spied.start(line)
    assert get(s, "/secret.txt", basic("mallory", "sam-pw")).status == 401
    assert get(s, "/secret.txt", basic(user, "wrong")).status == 401
    assert get(s, "/secret.txt", basic(user, f"{user}-pw")).status == 200
    unknown, wrong, right = spied.settings()
    assert unknown.startswith(params), unknown
    assert unknown != account_hash and not unknown.startswith(account_hash[:len(params) + 22])
    assert wrong == right == account_hash


def test_unknown_users_are_spread_over_the_accounts_schemes(spied):
    """A file of a sha512crypt and a bcrypt account: each unknown name is
    checked against one of the two, always the same one for the same name,
    and across 24 names both occur (a miss has odds 2**-23)."""
    s = spied.start(sha512_line("sam", "sam-pw", "ro:/", 5000), bcrypt_line("bea", "bea-pw", "ro:/", 4))
    names = [f"nobody{i}" for i in range(24)]
    for i, name in enumerate(names):
        assert from_address(s, i, name, "pw") == 401
    first = spied.settings()
    for i, name in enumerate(names[:4]):  # again, from fresh addresses
        assert from_address(s, 24 + i, name, "other-pw") == 401
    again = spied.settings()[len(first):]
    assert len(first) == 24 and len(again) == 4, (first, again)
    kinds = [x[:len("$6$rounds=5000$")] if x.startswith("$6$") else x[:len("$2b$04$")] for x in first]
    assert set(kinds) == {"$6$rounds=5000$", "$2b$04$"}, first
    assert again == first[:4]


# ---- rights ----------------------------------------------------------------------

def test_user_without_write_gets_403_on_put_and_file_unchanged(srv, root):
    target = root / "incoming" / "old.txt"
    r = get(srv, "/incoming/old.txt", basic("reader", "reader-pw"), method="GET")
    assert r.status == 200
    r = http_request(srv, "PUT", "/incoming/old.txt",
                     [basic("reader", "reader-pw"), ("Content-Length", "3")], body=b"new")
    assert r.status == 403
    assert target.read_bytes() == b"old\n"


def test_anonymous_put_is_401_and_file_unchanged(srv, root):
    r = http_request(srv, "PUT", "/incoming/old.txt", [("Content-Length", "3")], body=b"new")
    assert r.status == 401
    assert (root / "incoming" / "old.txt").read_bytes() == b"old\n"


def test_rw_prefix_put_allowed_only_under_it(srv, root):
    cred = basic("alice", "alice-pw")
    r = http_request(srv, "PUT", "/incoming/new.txt", [cred, ("Content-Length", "2")], body=b"ok")
    assert r.status == 201 and (root / "incoming" / "new.txt").read_bytes() == b"ok"
    r = http_request(srv, "PUT", "/incomingX/new.txt", [cred, ("Content-Length", "2")], body=b"no")
    assert r.status == 403 and not (root / "incomingX" / "new.txt").exists()
    r = http_request(srv, "PUT", "/secret.txt", [cred, ("Content-Length", "2")], body=b"no")
    assert r.status == 403 and (root / "secret.txt").read_bytes() == b"members only\n"
    r = http_request(srv, "PUT", "/incoming/../secret.txt", [cred, ("Content-Length", "2")], body=b"no")
    assert r.status == 403 and (root / "secret.txt").read_bytes() == b"members only\n"


def test_write_needs_upload_too(start_server, root, tmp_path, lines):
    s = start_server(root, "--auth", str(write_auth(tmp_path, lines["alice"])))
    r = http_request(s, "PUT", "/incoming/x", [basic("alice", "alice-pw"), ("Content-Length", "1")],
                     body=b"x")
    assert r.status == 405 and not (root / "incoming" / "x").exists()


def test_no_prefix_refuses_beneath(start_server, root, tmp_path):
    line = bcrypt_line("bob", "bob-pw", "ro:/,no:/incoming", 4)
    s = start_server(root, "--auth", str(write_auth(tmp_path, line)))
    assert get(s, "/secret.txt", basic("bob", "bob-pw")).status == 200
    assert get(s, "/incoming/old.txt", basic("bob", "bob-pw")).status == 403
    assert get(s, "/incomingX/", basic("bob", "bob-pw")).status == 200


def test_raw_protocol_sees_only_star_files(srv):
    assert raw_fetch(srv, b"pub/open.txt\n") == b"open to all\n"
    assert raw_fetch(srv, b"secret.txt\n") == b""
    assert raw_fetch(srv, b"incoming/old.txt\n") == b""


def test_next_request_after_error_reply_is_answered(srv, root):
    with srv.http() as c:
        c.request("PUT", "/incoming/x.txt", [("Content-Length", "5")], body=b"hello")
        assert c.read_response().status == 401
        c.request("PUT", "/secret.txt", [basic("alice", "alice-pw"), ("Content-Length", "5")],
                  body=b"hello")
        assert c.read_response().status == 403
        c.request("GET", "/secret.txt", [basic("reader", "wrong")])
        assert c.read_response().status == 401
        c.request("GET", "/secret.txt", [basic("reader", "reader-pw")])
        r = c.read_response()
        assert r.status == 200 and r.body == b"members only\n"
    assert not (root / "incoming" / "x.txt").exists()
    assert (root / "secret.txt").read_bytes() == b"members only\n"


def test_pipelined_requests_around_a_check(srv):
    """A check holds the head; the request after it waits its turn."""
    with srv.http() as c:
        c.send(build_request("GET", "/secret.txt", [basic("reader", "reader-pw")]) +
               build_request("GET", "/pub/open.txt"))
        assert c.read_response().body == b"members only\n"
        assert c.read_response().body == b"open to all\n"


def test_client_gone_during_check_leaves_server_serving(start_server, root, tmp_path):
    line = bcrypt_line("slow", "slow-pw", "ro:/", 13)
    s = start_server(root, "--auth", str(write_auth(tmp_path, line, "*::ro:/pub")), threads=1)
    for i in range(3):
        c = s.connect()
        c.sendall(build_request("GET", "/secret.txt", [basic("slow", f"guess{i}")]))
        c.close()
    assert get(s, "/pub/open.txt").status == 200
    assert get(s, "/secret.txt", basic("slow", "slow-pw")).status == 200


def test_check_past_the_head_deadline_is_503_and_close(start_server, root, tmp_path):
    """A check that outlasts the head deadline (1 s; bcrypt cost 16 takes
    several seconds) is answered 503 and the connection closes; the
    server then stops cleanly once the crypt thread is done."""
    line = bcrypt_line("hal", "hal-pw", "ro:/", 16)
    s = start_server(root, "--head-timeout", "1", "--auth", str(write_auth(tmp_path, line)))
    with s.http(timeout=30) as c:
        c.request("GET", "/secret.txt", [basic("hal", "hal-pw")])
        r = c.read_response()
        assert r.status == 503 and r.header("connection") == "close"
        assert c.closed_by_peer(timeout=10)
    assert s.stop(timeout=60) == 0


# ---- not over plain HTTP from other hosts ------------------------------------------

NETNS_PREFIX = "ferryauth"  # + the pid of the pytest that made it


def remove_stale_netns(ip):
    """Removes the namespaces (and their veth) of runs no longer alive: a
    killed run leaves its own behind."""
    r = subprocess.run([ip, "netns", "list"], capture_output=True, text=True, timeout=10)
    for line in r.stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        pid = name[len(NETNS_PREFIX):]
        if name.startswith(NETNS_PREFIX) and pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
            subprocess.run([ip, "link", "del", f"fah{pid}"], capture_output=True, timeout=10)
            subprocess.run([ip, "netns", "del", name], capture_output=True, timeout=10)


class Netns:
    """A network namespace joined to ours by a veth pair: the client inside it
    is another host to the server, and no packet leaves this machine. Names
    carry this run's pid, so that runs side by side do not meet; the /30
    is one no interface here has yet."""

    def __init__(self):
        pid = os.getpid()
        self.name = f"{NETNS_PREFIX}{pid}"
        self.host_if, self.ns_if = f"fah{pid}", f"fan{pid}"

    def free_subnet(self, ip):
        used = subprocess.run([ip, "-o", "-4", "addr", "show"], capture_output=True, text=True,
                              timeout=10).stdout
        for i in range(16384):
            n = (os.getpid() + i) % 16384  # the n-th /30 of 10.231.0.0/16
            host, peer = (f"10.231.{n // 64}.{n % 64 * 4 + k}" for k in (1, 2))
            if f" {host}/" not in used and f" {peer}/" not in used:
                return host, peer
        raise AssertionError("no free /30 in 10.231.0.0/16")

    def up(self):
        ip = need_tool("ip")
        if os.geteuid() != 0:
            pytest.skip("needs root for a network namespace")
        remove_stale_netns(ip)
        self.host_ip, self.ns_ip = self.free_subnet(ip)
        cmds = [["netns", "add", self.name],
                ["link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if],
                ["link", "set", self.ns_if, "netns", self.name],
                ["addr", "add", f"{self.host_ip}/30", "dev", self.host_if],
                ["link", "set", self.host_if, "up"],
                ["netns", "exec", self.name, "ip", "addr", "add", f"{self.ns_ip}/30", "dev", self.ns_if],
                ["netns", "exec", self.name, "ip", "link", "set", self.ns_if, "up"],
                ["netns", "exec", self.name, "ip", "link", "set", "lo", "up"]]
        for c in cmds:
            r = subprocess.run([ip] + c, capture_output=True, text=True, timeout=10)
            if r.returncode != 0:
                self.down()
                raise AssertionError(f"cannot make a network namespace: ip {' '.join(c)}: {r.stderr.strip()}")

    def down(self):
        subprocess.run(["ip", "link", "del", self.host_if], capture_output=True, timeout=10)
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True, timeout=10)

    def curl(self, url, *args):
        """Status code and the body of curl run inside the namespace."""
        r = subprocess.run(["ip", "netns", "exec", self.name, "curl", "-s", "-m", "10",
                            "-w", "\n%{http_code}", *args, url],
                           capture_output=True, text=True, timeout=20)
        body, _, code = r.stdout.rpartition("\n")
        return int(code or 0), body


@pytest.fixture
def netns():
    ns = Netns()
    ns.up()
    yield ns
    ns.down()


def test_plain_http_from_other_host_refuses_passwords(start_server, root, tmp_path, lines, netns):
    auth = write_auth(tmp_path, lines["reader"], "*::ro:/pub")
    s = start_server(root, "--auth", str(auth), bind=netns.host_ip)
    url = f"http://{netns.host_ip}:{s.port}"
    assert netns.curl(url + "/pub/open.txt") == (200, "open to all\n")
    # Not asked for (no 401 challenge) and not accepted, right or wrong.
    code, body = netns.curl(url + "/secret.txt")
    assert code == 403 and "https" in body
    code, body = netns.curl(url + "/secret.txt", "-u", "reader:reader-pw")
    assert code == 403 and "https" in body and "members only" not in body


def test_allow_plain_auth_accepts_from_other_host(start_server, root, tmp_path, lines, netns):
    auth = write_auth(tmp_path, lines["reader"])
    s = start_server(root, "--auth", str(auth), "--allow-plain-auth", bind=netns.host_ip)
    url = f"http://{netns.host_ip}:{s.port}"
    assert netns.curl(url + "/secret.txt")[0] == 401
    assert netns.curl(url + "/secret.txt", "-u", "reader:reader-pw") == (200, "members only\n")


# ---- failure limit, queue and the loop ------------------------------------------------

def test_429_after_repeated_failures_costs_no_crypt(start_server, root, tmp_path):
    """Five failures, then 429 with Retry-After, even for the right
    password. bcrypt cost 12 makes a check cost CPU one can see: ten 429s
    must cost far less than the five checks did."""
    line = bcrypt_line("carol", "carol-pw", "ro:/", 12)
    s = start_server(root, "--auth", str(write_auth(tmp_path, line)))
    before = cpu_seconds(s.pid)
    with s.http() as c:
        for i in range(5):
            c.request("GET", "/secret.txt", [basic("carol", f"wrong{i}")])
            assert c.read_response().status == 401
    five_checks = cpu_seconds(s.pid) - before
    assert five_checks > 0.2  # the checks did run crypt
    before = cpu_seconds(s.pid)
    with s.http() as c:
        for i in range(10):
            c.request("GET", "/secret.txt", [basic("carol", f"more{i}")])
            r = c.read_response()
            assert r.status == 429 and int(r.header("retry-after")) > 0
    blocked = cpu_seconds(s.pid) - before
    assert blocked < five_checks / 2, (blocked, five_checks)
    r = get(s, "/secret.txt", basic("carol", "carol-pw"))
    assert r.status == 429


def test_full_check_queue_is_503(start_server, root, tmp_path):
    """More checks at once than the queue holds (32), each from its own
    loopback address so the failure limit does not answer first."""
    line = bcrypt_line("dave", "dave-pw", "ro:/", 10)
    s = start_server(root, "--auth", str(write_auth(tmp_path, line)))
    socks = []
    try:
        for i in range(40):
            c = socket.socket()
            c.settimeout(30)
            c.bind((f"127.0.{1 + i // 200}.{2 + i % 200}", 0))
            c.connect((s.host, s.port))
            c.sendall(build_request("GET", "/secret.txt", [basic("dave", f"g{i}")]))
            socks.append(HttpConn(s.port, sock=c, timeout=30))
        statuses = [h.read_response().status for h in socks]
    finally:
        for h in socks:
            h.close()
    assert statuses.count(503) >= 1, statuses
    assert set(statuses) <= {401, 503}, statuses
    assert statuses.count(401) >= 32 - 2, statuses  # the queue's worth were checked


def test_parallel_logins_with_one_password_share_a_check(start_server, root, tmp_path):
    """A browser opens several connections with the same new credentials:
    they wait for one check, and the failure limit (5 checks in flight
    count as 5 failures) does not answer 429."""
    line = bcrypt_line("gil", "gil-pw", "ro:/", 11)
    s = start_server(root, "--auth", str(write_auth(tmp_path, line)), threads=1)
    conns = [s.http(timeout=30) for _ in range(12)]
    try:
        for c in conns:
            c.request("GET", "/secret.txt", [basic("gil", "gil-pw")])
        statuses = [c.read_response().status for c in conns]
    finally:
        for c in conns:
            c.close()
    assert statuses == [200] * 12, statuses


def test_slow_hash_does_not_stall_another_get(start_server, root, tmp_path):
    """One event loop; a check that takes about a second runs while another
    client's GET is answered (ordering, not timing)."""
    line = bcrypt_line("erin", "erin-pw", "ro:/", 14)
    s = start_server(root, "--auth", str(write_auth(tmp_path, line, "*::ro:/pub")), threads=1)
    order = []
    slow = s.http(timeout=30)
    slow.request("GET", "/secret.txt", [basic("erin", "erin-pw")])

    def wait_slow():
        order.append(("slow", slow.read_response().status))

    t = threading.Thread(target=wait_slow)
    t.start()
    time.sleep(0.05)
    r = get(s, "/pub/open.txt")
    order.append(("get", r.status))
    t.join(30)
    slow.close()
    assert order == [("get", 200), ("slow", 200)], order


# ---- ferry passwd and the auth file ----------------------------------------------------

def test_passwd_output_verifies_with_crypt(start_server, root, tmp_path):
    line = passwd("frank", "frank pw with spaces", "rw:/incoming")
    user, h, rights = line.split(":", 2)
    assert (user, rights) == ("frank", "rw:/incoming")
    assert h.startswith("$y$")
    assert crypt.crypt("frank pw with spaces", h) == h
    assert crypt.crypt("frank pw with spaces!", h) != h
    assert passwd("frank", "frank pw with spaces").split(":")[1] != h  # a fresh salt
    s = start_server(root, "--auth", str(write_auth(tmp_path, line)))
    assert get(s, "/incoming/old.txt", basic("frank", "frank pw with spaces")).status == 200


def test_passwd_defaults_and_refusals():
    assert passwd("gina", "pw").endswith(":ro:/")
    assert passwd("*", "", "ro:/pub") == "*::ro:/pub"
    for args, stdin in ((["bad:name"], "pw\n"), (["gina", "rx:/"], "pw\n"), (["gina", "ro:/a/"], "pw\n")):
        r = subprocess.run([FERRY, "passwd", *args], input=stdin, capture_output=True, text=True,
                           timeout=30)
        assert r.returncode == 2 and r.stdout == "", (args, r)
    r = subprocess.run([FERRY, "passwd", "gina"], input="", capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and r.stdout == ""


def refused_start(root, auth):
    r = subprocess.run([FERRY, "serve", "-p", "0", "-b", "127.0.0.1", "--auth", str(auth), str(root)],
                       capture_output=True, text=True, timeout=30)
    return r


def test_auth_file_with_plain_password_refuses_to_start(root, tmp_path, lines):
    auth = write_auth(tmp_path, lines["reader"], "bob:hunter2:ro:/")
    r = refused_start(root, auth)
    assert r.returncode == 2 and "serving" not in r.stdout
    assert f"{auth}:4:" in r.stderr and "plain passwords are refused" in r.stderr


def test_auth_file_with_bad_line_refuses_to_start(root, tmp_path, lines):
    for bad in ("reader:" + lines["reader"].split(":")[1] + ":ro:/pub/",
                "just-a-name", lines["reader"]):  # the last: a user twice
        auth = write_auth(tmp_path, lines["reader"], bad)
        r = refused_start(root, auth)
        assert r.returncode == 2 and "serving" not in r.stdout, (bad, r)
        assert f"{auth}:4:" in r.stderr, (bad, r.stderr)


def test_missing_auth_file_refuses_to_start(root, tmp_path):
    r = refused_start(root, tmp_path / "nope")
    assert r.returncode == 1 and "cannot read the auth file" in r.stderr


# ---- what a listing and a folder's tar show ------------------------------------

@pytest.fixture
def split_srv(start_server, root, tmp_path, lines):
    """Anyone reads the whole tree but /incoming; reader reads all of it."""
    auth = write_auth(tmp_path, lines["reader"], "*::ro:/,no:/incoming")
    return start_server(root, "--auth", str(auth))


def tar_names(body):
    import io
    import tarfile
    with tarfile.open(fileobj=io.BytesIO(body)) as t:
        return sorted(m.name for m in t.getmembers())


def test_listing_hides_names_the_user_may_not_read(split_srv):
    anon = get(split_srv, "/")
    assert anon.status == 200
    assert b"incomingX" in anon.body and b"pub/" in anon.body
    assert b'href="./incoming/"' not in anon.body and b'href="./incomingX/"' in anon.body
    member = get(split_srv, "/", basic("reader", "reader-pw"))
    assert member.status == 200 and b'href="./incoming/"' in member.body


def test_tar_leaves_out_what_the_user_may_not_read(split_srv):
    # HTTP/1.0: the archive ends with the connection (no chunks to decode)
    anon = http_request(split_srv, "GET", "/?tar", version="HTTP/1.0")
    assert anon.status == 200
    names = tar_names(anon.body)
    assert "root/pub/open.txt" in names and "root/secret.txt" in names
    assert not any(n.startswith("root/incoming/") or n == "root/incoming" for n in names), names
    assert b"old\n" not in anon.body
    member = tar_names(http_request(split_srv, "GET", "/?tar", [basic("reader", "reader-pw")],
                                    version="HTTP/1.0").body)
    assert "root/incoming/old.txt" in member


def test_log_names_the_authenticated_user(start_server, root, tmp_path, lines):
    """The access log's user field: "-" for anyone, the account once its
    password was checked (combined by default, and json)."""
    auth = write_auth(tmp_path, lines["reader"], "*::ro:/pub")
    for fmt in ("combined", "json"):
        s = start_server(root, "--auth", str(auth), "--log-format", fmt)
        assert get(s, "/pub/open.txt").status == 200
        assert get(s, "/secret.txt", basic("reader", "reader-pw")).status == 200
        deadline = time.monotonic() + 5
        while len(s.stdout_lines) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        anon, member = s.stdout_lines[1:3]
        if fmt == "json":
            import json
            assert json.loads(anon)["user"] is None and json.loads(member)["user"] == "reader"
        else:
            assert anon.split(" ")[2] == "-" and member.split(" ")[2] == "reader", (anon, member)


def test_https_from_other_host_accepts_passwords(start_server, root, tmp_path, lines, netns):
    """Over TLS a password is asked for and accepted from another host
    (plain HTTP there is refused: the test above)."""
    auth = write_auth(tmp_path, lines["reader"], "*::ro:/pub")
    s = start_server(root, "--auth", str(auth), "--tls-self-signed", bind=netns.host_ip)
    url = f"https://{netns.host_ip}:{s.port}"
    assert netns.curl(url + "/secret.txt", "-k")[0] == 401
    assert netns.curl(url + "/secret.txt", "-k", "-u", "reader:wrong")[0] == 401
    assert netns.curl(url + "/secret.txt", "-k", "-u", "reader:reader-pw") == (200, "members only\n")


# ---- links beneath the root do not widen anyone's rights ------------------------

def test_link_into_unreadable_path_is_refused(start_server, root, tmp_path, lines):
    """pub/link -> ../secret.txt and pub/dir -> ../incoming stay beneath the
    root, but "*" may read only /pub: the rights are checked where the file
    really is, over HTTP and the raw protocol; a link within /pub works, and
    a user who may read the target gets it."""
    os.symlink("../secret.txt", root / "pub" / "link")
    os.symlink("../incoming", root / "pub" / "dir")
    os.symlink("open.txt", root / "pub" / "alias")
    s = start_server(root, "--auth", str(write_auth(tmp_path, lines["reader"], "*::ro:/pub")))
    for target in ("/pub/link", "/pub/dir/old.txt", "/pub/dir/"):
        r = get(s, target)
        assert r.status == 403 and b"members only" not in r.body and b"old" not in r.body, target
    assert raw_fetch(s, b"pub/link\n") == b""
    assert raw_fetch(s, b"pub/dir/old.txt\n") == b""
    assert get(s, "/pub/alias").body == b"open to all\n"
    assert raw_fetch(s, b"pub/alias\n") == b"open to all\n"
    r = get(s, "/pub/link", basic("reader", "reader-pw"))
    assert r.status == 200 and r.body == b"members only\n"
