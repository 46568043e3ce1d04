"""Fixtures for the end-to-end tests of `ferry serve`.

start_server(root, *args, threads=2, bind="127.0.0.1", preexec_fn=None)
starts `ferry serve -p 0 -b 127.0.0.1 --threads 2 [args] ROOT`, learns the
port from the first stdout line and, at the end of the test, stops the
server with SIGTERM and asserts that it exits 0 within a few seconds."""
import os
import signal

import pytest

from ferrylib import FERRY, FerryServer, STOP_TIMEOUT


def pytest_configure(config):
    if not os.access(FERRY, os.X_OK):
        raise pytest.UsageError(f"ferry binary not found at {FERRY} (run make, or set FERRY)")


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
