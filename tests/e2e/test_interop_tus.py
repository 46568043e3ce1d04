"""Resumable uploads with a client nobody here wrote: tus-js-client 4.3.1
(npm, pinned in tests/interop/package-lock.json; `make deps-test` installs
it), whose protocol "ietf-draft-05" speaks the IETF draft with
Upload-Draft-Interop-Version 6, against `ferry serve --upload`. Uploads in
parts, in the creation request, aborted and resumed by tus itself, and
handed over between tus and `ferry put -c` both ways."""
import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from ferrylib import need_tool
from peers import listing, run_ferry
from test_resumable import CutProxy, RESUME_RE

HERE = Path(__file__).resolve().parent.parent / "interop"
SCRIPT = HERE / "tus_upload.js"
DATA = os.urandom(2_500_000)
CHUNK = 1_000_000


def tus(*args, timeout=90):
    node = need_tool("node")
    assert (HERE / "node_modules" / "tus-js-client").is_dir(), \
        "tus-js-client is missing: run `make deps-test` (npm ci in tests/interop)"
    p = subprocess.run([node, str(SCRIPT), *map(str, args)], capture_output=True, timeout=timeout,
                       cwd=HERE)
    events = [json.loads(line) for line in p.stdout.decode().splitlines() if line.strip()]
    return p.returncode, events, p.stderr.decode()


@pytest.fixture
def root(tmp_path):
    r = tmp_path / "root"
    r.mkdir()
    return r


@pytest.fixture
def srv(start_server, root):
    return start_server(root, "-q", "--upload")


@pytest.fixture
def src(tmp_path):
    p = tmp_path / "src.bin"
    p.write_bytes(DATA)
    return p


def leftovers(root):
    return [n for n in os.listdir(root) if n.startswith(".ferry-up-")]


def test_tus_uploads_in_parts(srv, root, src):
    rc, ev, err = tus(src, srv.url + "parts.bin", "--chunk", CHUNK)
    assert rc == 0, err
    assert [e["chunk"] for e in ev if "chunk" in e] == [1_000_000, 2_000_000, 2_500_000]
    assert ev[-1] == {"done": True}
    assert re.search(r"/parts\.bin\?upload=[0-9a-f]{32}$", ev[0]["url"])
    assert (root / "parts.bin").read_bytes() == DATA
    assert leftovers(root) == []


def test_tus_uploads_during_creation(srv, root, src):
    rc, ev, err = tus(src, srv.url + "one.bin", "--during-creation")
    assert rc == 0, err
    assert ev[-1] == {"done": True}
    assert (root / "one.bin").read_bytes() == DATA


def test_tus_aborts_then_resumes(srv, root, src):
    rc, ev, err = tus(src, srv.url + "ab.bin", "--chunk", CHUNK, "--abort-after", 1)
    assert rc == 0, err
    assert {"aborted": CHUNK} in ev
    url = ev[0]["url"]
    assert not (root / "ab.bin").exists()
    rc, ev, err = tus(src, srv.url + "ab.bin", "--chunk", CHUNK, "--upload-url", url)
    assert rc == 0, err
    # It asked for the offset (HEAD) and sent only what was missing.
    assert [e["chunk"] for e in ev if "chunk" in e] == [2_000_000, 2_500_000]
    assert (root / "ab.bin").read_bytes() == DATA
    assert leftovers(root) == []


def test_tus_started_ferry_put_finishes(srv, root, src):
    rc, ev, err = tus(src, srv.url + "tf.bin", "--chunk", CHUNK, "--abort-after", 2)
    assert rc == 0, err
    r = run_ferry("put", "-v", "-c", src, ev[0]["url"])
    assert r.rc == 0, r
    assert "resuming at byte 2000000" in r.err
    assert (root / "tf.bin").read_bytes() == DATA


def test_ferry_put_started_tus_finishes(srv, root, src):
    proxy = CutProxy(srv.port, [1_200_000])
    try:
        r = run_ferry("put", "--timeout", "5", src, proxy.url("/ft.bin"))
    finally:
        proxy.close()
    assert r.rc == 3, r
    url = RESUME_RE.search(r.err).group("url").replace(f":{proxy.lport}/", f":{srv.port}/")
    rc, ev, err = tus(src, srv.url + "ft.bin", "--upload-url", url)
    assert rc == 0, err
    assert ev[-1] == {"done": True}
    assert (root / "ft.bin").read_bytes() == DATA
    assert listing(root) == ["ft.bin"]
