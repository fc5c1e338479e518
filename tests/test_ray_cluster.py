"""``--executor ray`` joins a real ``ray start --head`` cluster (default settings, own
port and temp dir): no resource arguments when joining, token auth passed through,
no core_worker noise; a refused token is one line that says what to set.

The head is stopped by the ids of its own processes (``ray stop`` would stop every
Ray cluster on the machine).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.longdocs import write_longdocs
from tests.test_import_chunks import cli, unmentioned

pytestmark = [pytest.mark.ray, pytest.mark.slow]
RAY = Path(sys.executable).with_name("ray")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def own_processes(marker: str) -> list[int]:
    """Ids of the processes whose command line names ``marker`` (our head's temp dir)."""
    out = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if marker in cmd:
            out.append(int(proc.name))
    return out


def stop_head(marker: str) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        pids = own_processes(marker)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + 15
        while own_processes(marker) and time.monotonic() < deadline:
            time.sleep(0.5)
        if not own_processes(marker):
            return


def start_head() -> tuple[str, int]:
    """``ray start --head`` (default settings, a free port, its own temp dir); (dir, port).

    Ray waits 30 s for its raylet, which a loaded machine can miss: a failed
    start is cleaned up and tried again, twice at most.
    """
    last = ""
    for _ in range(3):
        tmp = tempfile.mkdtemp(prefix="hrh", dir="/tmp")  # short: Ray's socket paths
        port = free_port()
        env = {**os.environ, "RAY_TMPDIR": tmp}
        env.pop("RAY_ADDRESS", None)
        r = subprocess.run(
            [str(RAY), "start", "--head", f"--port={port}", f"--temp-dir={tmp}/ray"],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if r.returncode == 0:
            return tmp, port
        stop_head(tmp)
        last = r.stdout[-1500:] + r.stderr[-1500:]
    pytest.fail(f"ray start --head failed three times: {last}")


@pytest.fixture(scope="module")
def ray_head() -> Iterator[dict[str, str]]:
    """A running ``ray start --head`` head, stopped after the module's tests."""
    if not RAY.is_file():
        pytest.skip("the ray command is not installed")
    tmp, port = start_head()
    try:
        yield {"RAY_TMPDIR": tmp, "address": f"127.0.0.1:{port}"}
    finally:
        stop_head(tmp)


def _spec(tmp_path: Path, corpus: Path, openie: Path, name: str) -> Path:
    spec = tmp_path / f"{name}.toml"
    spec.write_text(
        f'inputs = ["{corpus}"]\noutput = "{tmp_path / name}"\n'
        f'[openie]\nkind = "hipporag"\npath = "{openie}"\n'
        '[executor]\nkind = "ray"\nbatch_size = 4\n'
    )
    return spec


def test_job_joins_a_ray_start_head(ray_head, tmp_path):
    corpus, openie = write_longdocs(tmp_path / "data")
    # Found through Ray's address file of the last `ray start` (RAY_TMPDIR points at it),
    # as a user on the head node would: no address given anywhere.
    env = {"RAY_TMPDIR": ray_head["RAY_TMPDIR"], "RAY_ADDRESS": ""}
    r = cli("job", "run", str(_spec(tmp_path, corpus, openie, "found")), "--json", env=env)
    assert r.returncode == 0, r.stderr[-4000:]
    assert "must not be provided" not in r.stderr
    assert "core_worker" not in r.stderr and "constructor arguments" not in r.stderr
    assert "InvalidAuthToken" not in r.stderr
    rep = json.loads(r.stdout)
    assert rep["executor"] == "ray" and rep["extractor_stats"]["missing"] == 0
    assert unmentioned(tmp_path / "found")[2] == []


def test_a_refused_token_is_one_line_that_says_what_to_set(ray_head, tmp_path):
    corpus, openie = write_longdocs(tmp_path / "data")
    env = {
        "RAY_TMPDIR": ray_head["RAY_TMPDIR"],
        "RAY_ADDRESS": ray_head["address"],
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN": "0" * 32,  # not the cluster's
    }
    r = cli("job", "run", str(_spec(tmp_path, corpus, openie, "bad")), env=env)
    assert r.returncode != 0
    err = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(err) == 1, r.stderr[-3000:]
    assert "RAY_AUTH_TOKEN" in err[0] and "ray get-auth-token" in err[0]
