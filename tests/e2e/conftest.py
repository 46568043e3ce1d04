"""Fixtures for the end-to-end tests of `ferry serve`.

start_server(root, *args, threads=2, bind="127.0.0.1", preexec_fn=None)
starts `ferry serve -p 0 -b 127.0.0.1 --threads 2 [args] ROOT`, learns the
port from the first stdout line and, at the end of the test, stops the
server with SIGTERM and asserts that it exits 0 within a few seconds.

Every test ends with a look at the scripted servers (peers.check_servers):
an exception in a handler fails the test that owns the server.

Under CI=true a skipped test fails the run, unless its reason starts with
one of MACHINE_SKIPS: make test installs every tool the suite needs, so
the only skips left are about the machine itself."""
import os
import signal

import pytest

import peers
from ferrylib import FERRY, FerryServer, STOP_TIMEOUT

# The skips CI accepts (reason prefix: why it depends on the machine and
# nothing make test could install). Any other skip under CI=true is a failure.
MACHINE_SKIPS = {
    "no IPv6 loopback": "the kernel or container has no ::1 (IPv6 disabled)",
    "RLIMIT_NOFILE hard limit": "the hard descriptor limit is set outside the process (ulimit -Hn, "
                                "the container); a test needing more cannot raise it",
    "no /dev/fuse": "the kernel or container offers no FUSE device, which davfs2 mounts need",
    "this file system refuses user extended attributes": "tmp_path's file system (tmpfs before "
                                                         "Linux 6.6, some overlays) has no user.* xattrs",
}


def pytest_configure(config):
    if not os.access(FERRY, os.X_OK):
        raise pytest.UsageError(f"ferry binary not found at {FERRY} (run make, or set FERRY)")


def skip_reason(report):
    """The reason a skipped report gives ("Skipped: " taken off)."""
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
    return reason[len("Skipped: "):] if reason.startswith("Skipped: ") else reason


def skip_allowed(reason):
    return any(reason.startswith(prefix) for prefix in MACHINE_SKIPS)


def fail_skip_in_ci(report):
    """Under CI=true, turns a skip whose reason is not in MACHINE_SKIPS into a failure."""
    if os.environ.get("CI") != "true" or not report.skipped or hasattr(report, "wasxfail"):
        return
    reason = skip_reason(report)
    if not skip_allowed(reason):
        report.outcome = "failed"
        report.longrepr = (f"skipped under CI=true: {reason!r}; only the machine skips in "
                           f"tests/e2e/conftest.py MACHINE_SKIPS may skip in CI")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    fail_skip_in_ci(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    fail_skip_in_ci(outcome.get_result())


@pytest.fixture(autouse=True)
def scripted_servers_ok():
    """Fails the test when a ScriptedServer's handler raised during it."""
    yield
    peers.check_servers()


@pytest.fixture
def start_server():
    servers = []

    def start(root, *args, threads=2, bind="127.0.0.1", preexec_fn=None):
        srv = FerryServer(root, args, bind=bind, threads=threads, preexec_fn=preexec_fn)
        servers.append(srv)
        return srv

    yield start
    failures = []
    for srv in servers:
        if srv.returncode is not None:
            rc = srv.returncode  # the test stopped it already
        else:
            rc = srv.stop(signal.SIGTERM, STOP_TIMEOUT)
        if rc != 0:
            failures.append(f"{srv.cmd}: exit status {rc} (None: still running after "
                            f"{STOP_TIMEOUT}s); stderr: {srv.stderr_text()!r}")
    assert not failures, "\n".join(failures)


@pytest.fixture
def served_dir(tmp_path):
    """An empty directory to serve; modules override it with their own tree."""
    root = tmp_path / "root"
    root.mkdir()
    return root


@pytest.fixture
def server(start_server, served_dir):
    """ferry serve on served_dir with the default options."""
    return start_server(served_dir)
