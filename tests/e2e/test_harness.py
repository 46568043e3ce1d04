"""The test harness itself: a scripted server's handler error fails the
test that owns the server; under CI=true a skip fails unless it is one of
conftest.MACHINE_SKIPS; a missing tool fails its module under make test
(FERRY_NEED_TOOLS=1). Each case runs a tiny pytest in a subprocess with
this directory's conftest loaded as a plugin."""
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

PRELUDE = '''
import socket
import pytest
from peers import ScriptedServer

def poke(srv):
    """One connection that sends a request and waits for the server to close."""
    with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
        s.sendall(b"GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
        while s.recv(4096):
            pass

def failing(peer):
    peer.read_request()
    assert False, "the handler's own assert"

def good(peer):
    assert peer.read_request().target == "/"
    peer.respond(200, body=b"ok")
'''


def run_pytest(tmp_path, body, ci=False, need_tools=False):
    """Runs the test file PRELUDE + body; returns (exit status, outcome counts, output)."""
    f = tmp_path / "test_case.py"
    f.write_text(PRELUDE + body)
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "FERRY_NEED_TOOLS", "PYTEST_ADDOPTS")}
    env["PYTHONPATH"] = HERE
    if ci:
        env["CI"] = "true"
    if need_tools:
        env["FERRY_NEED_TOOLS"] = "1"
    p = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "conftest", "-p", "no:cacheprovider",
                        str(f)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    out = p.stdout + p.stderr
    counts = {word: int(n) for n, word in re.findall(r"(\d+) (passed|failed|skipped|error)", out)}
    return p.returncode, counts, out


def test_handler_assert_fails_its_test(tmp_path):
    rc, counts, out = run_pytest(tmp_path, '''
def test_owner():
    with ScriptedServer(failing) as srv:
        poke(srv)
''')
    assert (rc, counts) == (1, {"failed": 1}), out
    assert "the handler's own assert" in out and "scripted server's handler failed" in out


def test_handler_error_of_a_server_left_open_fails_at_the_end_of_its_test(tmp_path):
    rc, counts, out = run_pytest(tmp_path, '''
def test_owner():
    srv = ScriptedServer(failing)
    poke(srv)
    srv.close()

def test_next():
    pass
''')
    assert (rc, counts) == (1, {"passed": 2, "error": 1}), out
    assert "ERROR at teardown of test_owner" in out and "the handler's own assert" in out


def test_good_handler_passes(tmp_path):
    rc, counts, out = run_pytest(tmp_path, '''
def test_owner():
    with ScriptedServer(good) as srv:
        poke(srv)
    assert len(srv.requests) == 1
''')
    assert (rc, counts) == (0, {"passed": 1}), out


SKIPS = '''
def test_machine():
    pytest.skip("no IPv6 loopback")

def test_other():
    pytest.skip("some tool is missing")

@pytest.mark.skipif(True, reason="a marker's reason")
def test_marked():
    pass
'''


def test_skips_pass_outside_ci(tmp_path):
    rc, counts, out = run_pytest(tmp_path, SKIPS)
    assert (rc, counts) == (0, {"skipped": 3}), out


def test_under_ci_only_machine_skips_pass(tmp_path):
    rc, counts, out = run_pytest(tmp_path, SKIPS, ci=True)
    # a skip in setup (a marker) becomes an error there, one in the call a failure
    assert (rc, counts) == (1, {"failed": 1, "error": 1, "skipped": 1}), out
    assert "skipped under CI=true: 'some tool is missing'" in out
    assert "skipped under CI=true: \"a marker's reason\"" in out


MISSING_TOOL = '''
from ferrylib import need_tool

TOOL = need_tool("ferry-no-such-tool")

def test_uses_it():
    pass
'''


def test_missing_tool_skips_its_module_when_run_by_hand(tmp_path):
    rc, counts, out = run_pytest(tmp_path, MISSING_TOOL)
    assert (rc, counts) == (5, {"skipped": 1}), out  # 5: the one module skipped, no test left
    assert "ferry-no-such-tool is missing" in out


def test_missing_tool_fails_its_module_under_make_test(tmp_path):
    rc, counts, out = run_pytest(tmp_path, MISSING_TOOL, need_tools=True)
    assert (rc, counts) == (2, {"error": 1}), out
    assert "RuntimeError: ferry-no-such-tool is missing" in out
