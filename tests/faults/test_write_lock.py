"""The write lock never has two holders; a dead or paused holder is handled truthfully.

The stress test runs several processes acquiring the lock in a loop; inside
the critical section each creates a marker file with ``O_EXCL`` (which fails
if another holder is inside) and removes it before releasing.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from hipporag.errors import IndexFormatError
from hipporag.index.locking import IndexLockedError, WriteLock
from hipporag.index.writer import IndexWriter

ROOT = Path(__file__).resolve().parents[2]

STRESS = textwrap.dedent(
    """
    import json, os, sys, time
    sys.path.insert(0, {root!r})
    from hipporag.index.locking import IndexLockedError, WriteLock
    d, seconds = {d!r}, {seconds!r}
    marker = os.path.join(d, "inside")
    got = clash = busy = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        lock = WriteLock(d)
        try:
            lock.acquire()
        except IndexLockedError:
            busy += 1
            continue
        try:
            try:
                fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                clash += 1
                continue
            os.close(fd)
            got += 1
            os.unlink(marker)
        finally:
            lock.release()
    print(json.dumps({{"got": got, "clash": clash, "busy": busy}}))
    """
)


def test_many_processes_never_hold_the_lock_together(tmp_path):
    n, seconds = 6, 8.0
    script = STRESS.format(root=str(ROOT), d=str(tmp_path), seconds=seconds)
    procs = [
        subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
        for _ in range(n)
    ]
    results = [json.loads(p.communicate(timeout=120)[0]) for p in procs]
    got = sum(r["got"] for r in results)
    assert sum(r["clash"] for r in results) == 0, results
    assert got >= 1000, results  # thousands of acquisitions on an idle machine
    assert sum(r["busy"] for r in results) > 0  # they did contend
    assert not (tmp_path / "write.lock").exists()


HOLD = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, {root!r})
    from hipporag.index.locking import WriteLock
    lock = WriteLock({d!r}).acquire()
    print("held", flush=True)
    time.sleep(60)
    """
)


def _holder(d: Path) -> subprocess.Popen[str]:
    p = subprocess.Popen(
        [sys.executable, "-c", HOLD.format(root=str(ROOT), d=str(d))],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert p.stdout is not None and p.stdout.readline().strip() == "held"
    return p


def test_a_paused_holder_keeps_the_lock_and_a_killed_one_frees_it(tmp_path):
    holder = _holder(tmp_path)
    try:
        os.kill(holder.pid, signal.SIGSTOP)  # paused: the lock is still its own
        with pytest.raises(IndexLockedError, match=f"process {holder.pid}"):
            WriteLock(tmp_path).acquire()
        (tmp_path / "write.lock").write_text("")  # an empty record is no invitation either
        with pytest.raises(IndexLockedError):
            WriteLock(tmp_path).acquire()
        t0 = time.monotonic()
        with pytest.raises(IndexLockedError):
            WriteLock(tmp_path, wait_s=0.3).acquire()
        assert time.monotonic() - t0 >= 0.3
    finally:
        holder.kill()
        holder.wait()
    with WriteLock(tmp_path) as lock:  # SIGKILL released it
        assert lock.owner()["pid"] == os.getpid()
    assert not (tmp_path / "write.lock").exists()


def test_lock_never_creates_folders(tmp_path):
    with pytest.raises(IndexFormatError, match="no index at"):
        WriteLock(tmp_path / "typo" / "idx").acquire()
    assert not (tmp_path / "typo").exists()


def test_abort_never_deletes_a_generation_it_did_not_create(tmp_path, monkeypatch):
    import numpy as np

    with IndexWriter(tmp_path / "i") as w:
        w.write_array("entity_n_passages", np.array([1], dtype=np.int32))
        w.commit({"counts": {"passages": 0, "entities": 1, "facts": 0}})
    other = tmp_path / "i" / "data" / "g000002"
    other.mkdir(parents=True)
    (other / "theirs.npy").write_bytes(b"x")
    # as if another writer were inside: the leftover sweep must not run
    monkeypatch.setattr("hipporag.index.writer.sweep_orphans", lambda *a: [])
    with pytest.raises(IndexFormatError, match="already exists"):
        IndexWriter(tmp_path / "i", operation="insert")
    assert (other / "theirs.npy").read_bytes() == b"x"
    assert not (tmp_path / "i" / "write.lock").exists()


def test_a_writer_can_queue_for_the_lock(tmp_path, monkeypatch):
    holder = _holder(tmp_path)
    try:
        with pytest.raises(IndexLockedError):
            WriteLock(tmp_path).acquire()  # the default: fail at once
        monkeypatch.setenv("HIPPORAG_LOCK_WAIT", "30")
        t0 = time.monotonic()
        threading.Timer(1.0, holder.kill).start()
        with WriteLock(tmp_path) as lock:  # waits until the holder is gone
            assert lock.owner()["pid"] == os.getpid()
        assert time.monotonic() - t0 >= 0.9
    finally:
        holder.kill()
        holder.wait()
