"""Reader leases hold across PID namespaces (another container, another machine) by heartbeat.

The reader runs under ``unshare --pid --fork --mount-proc`` with a pid no process
of the host has; ``hipporag gc --grace 0`` must keep the generation it reads
while its heartbeat is fresh, and drop it once the reader is gone.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from hipporag.index import Index
from hipporag.index.leases import Lease, live_generations
from tests.faults.test_cli_errors import cli
from tests.test_living import builder, corpus

ROOT = Path(__file__).resolve().parents[2]

READER = textwrap.dedent(
    """
    import os, sys
    sys.path.insert(0, {root!r})
    from hipporag.index import Index
    idx = Index.open({index!r})
    print(os.getpid(), idx.generation, flush=True)
    sys.stdin.readline()
    print(idx.table("passages").height, flush=True)
    idx.close()
    """
)


def _unshare_ok() -> bool:
    exe = shutil.which("unshare")
    if exe is None or os.geteuid() != 0:
        return False
    return subprocess.run([exe, "--pid", "--fork", "--mount-proc", "true"]).returncode == 0


def _reader(index: Path, ttl: float) -> tuple[subprocess.Popen[str], int, int]:
    script = index.parent / "reader.py"
    script.write_text(READER.format(root=str(ROOT), index=str(index)))
    inner = f"echo 999990 > /proc/sys/kernel/ns_last_pid; {sys.executable} {script}"
    env = {**os.environ, "HIPPORAG_LEASE_TTL": str(ttl), "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        ["unshare", "--pid", "--fork", "--mount-proc", "sh", "-c", inner],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )
    assert proc.stdout is not None
    pid, gen = map(int, proc.stdout.readline().split())
    return proc, pid, gen


@pytest.mark.skipif(not _unshare_ok(), reason="needs root and unshare --pid")
def test_reader_in_another_pid_namespace_keeps_its_generation(tmp_path):
    ps = corpus(8)
    index = tmp_path / "a"
    builder().build(ps[:4], index)
    builder().insert(ps[4:6], index)  # generation 2: the reader's
    reader, pid, gen = _reader(index, ttl=1.5)
    try:
        assert gen == 2 and not Path(f"/proc/{pid}").exists()  # its pid means nothing here
        builder().insert(ps[6:], index)  # generation 3
        time.sleep(3.5)  # longer than the TTL: only the heartbeat keeps it live
        out = cli("gc", str(index), "--grace", "0", "--json")
        assert out.returncode == 0, out.stderr
        assert '"dropped": [\n    1\n  ]' in out.stdout and 2 in live_generations(index)
        reader.stdin.write("go\n")
        reader.stdin.flush()
        assert int(reader.stdout.readline()) == 6  # its files are all still there
        assert reader.wait(timeout=30) == 0
    finally:
        if reader.poll() is None:
            os.killpg(reader.pid, signal.SIGKILL)
            reader.wait()
    out = cli("gc", str(index), "--grace", "0", "--json")
    assert '"kept": [\n    3\n  ]' in out.stdout, out.stdout


@pytest.mark.skipif(not _unshare_ok(), reason="needs root and unshare --pid")
def test_lease_of_a_killed_foreign_reader_expires(tmp_path):
    index = tmp_path / "a"
    builder().build(corpus(4), index)
    reader, _, gen = _reader(index, ttl=3.0)
    os.killpg(reader.pid, signal.SIGKILL)  # no release: the lease file stays
    reader.wait()
    assert gen in live_generations(index)  # fresh heartbeat: still live
    time.sleep(3.5)
    assert gen not in live_generations(index, remove_stale=True)
    assert not list((index / "leases").glob("*.lease"))


def test_lease_api_renews_and_releases(tmp_path):
    keep = Lease(tmp_path / "other", 1, ttl_s=60)  # a long-TTL lease first: slow heartbeat
    (tmp_path / "other").mkdir()
    keep.acquire()
    lease = Lease(tmp_path, 7, ttl_s=1.0).acquire()
    try:
        time.sleep(2.5)  # the heartbeat thread renewed it (woken for the shorter TTL)
        assert live_generations(tmp_path) == {7}
        lease.renew()
    finally:
        lease.release()
        keep.release()
    assert live_generations(tmp_path) == set() and not lease.path.exists()
    lease.release()  # idempotent


def test_index_close_releases_its_lease(tmp_path):
    builder().build(corpus(4), tmp_path / "a")
    idx = Index.open(tmp_path / "a")
    assert live_generations(tmp_path / "a") == {1}
    idx.close()
    assert live_generations(tmp_path / "a") == set()
