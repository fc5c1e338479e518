"""A full disk and Ctrl-C at any point end at the old or the new generation, with a true
message and exit status; gc frees space on a full disk.

The disk tests mount a small tmpfs (root only; skipped otherwise).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hipporag.index.generations import current_generation
from tests.faults.test_cli_errors import ROOT, assert_one_line_error, cli
from tests.test_living import builder, corpus


def _can_mount() -> bool:
    if os.geteuid() != 0:
        return False
    d = Path(f"/tmp/hipporag-mount-probe-{os.getpid()}")
    d.mkdir(exist_ok=True)
    try:
        ok = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(d)]).returncode
        if ok == 0:
            subprocess.run(["umount", str(d)])
        return ok == 0
    finally:
        d.rmdir()


CAN_MOUNT = _can_mount()
needs_mount = pytest.mark.skipif(not CAN_MOUNT, reason="needs root to mount a small tmpfs")


@contextlib.contextmanager
def small_disk(tmp_path: Path, size: str) -> Iterator[Path]:
    d = tmp_path / "disk"
    d.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(d)], check=True)
    try:
        yield d
    finally:
        subprocess.run(["umount", "-l", str(d)])


def fill(disk: Path, leave_kb: int) -> Path:
    """Fill the disk up to ``leave_kb`` free KiB; returns the filler file."""
    filler = disk / "filler"
    st = os.statvfs(disk)
    free = st.f_bavail * st.f_frsize - leave_kb * 1024
    with open(filler, "wb") as fh, contextlib.suppress(OSError):
        fh.write(b"\0" * max(0, free))
    return filler


@needs_mount
def test_full_disk_during_add_is_clean_and_keeps_the_old_generation(demo_index_path, tmp_path):
    new = tmp_path / "new.json"
    new.write_text(json.dumps([{"id": "extra", "text": "Mira Oduya founded Kelder Press."}]))
    with small_disk(tmp_path, "3m") as disk:
        idx = disk / "i"
        shutil.copytree(demo_index_path, idx, ignore=shutil.ignore_patterns("leases"))
        before = current_generation(idx)
        filler = fill(disk, leave_kb=40)
        line = assert_one_line_error(cli("add", str(idx), str(new)))
        assert "No space left on device" in line and "free some disk space" in line
        assert current_generation(idx) == before
        assert cli("verify", str(idx)).returncode == 0
        filler.unlink()  # space again: the same change now commits, leftovers swept
        assert cli("add", str(idx), str(new)).returncode == 0
        assert current_generation(idx) == before + 1
        assert cli("verify", str(idx)).returncode == 0


@needs_mount
def test_gc_frees_space_on_a_full_disk(tmp_path):
    ps = corpus(30)
    with small_disk(tmp_path, "4m") as disk:
        idx = disk / "i"
        builder().build(ps[:20], idx)
        builder().update([*ps[:5], *ps[20:]], idx)
        builder().delete(["p3"], idx)
        fill(disk, leave_kb=0)
        out = cli("gc", str(idx), "--grace", "0", "--json")
        assert out.returncode == 0, out.stderr
        rep = json.loads(out.stdout)
        assert rep["dropped"] and rep["bytes_freed"] > 0
        assert not (idx / "write.lock").exists()
        assert cli("verify", str(idx)).returncode == 0


@pytest.fixture
def index_copy(demo_index_path: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "i"
    shutil.copytree(demo_index_path, copy, ignore=shutil.ignore_patterns("leases"))
    return copy


def _first_passage(index: Path) -> str:
    from hipporag.index import Index

    idx = Index.open(index)
    try:
        return str(idx.sql("SELECT passage_id FROM passages LIMIT 1")["passage_id"][0])
    finally:
        idx.close()


def _delete(index: Path, pid: str, **env: str) -> subprocess.Popen[str]:
    full = {**os.environ, "HIPPORAG_PROGRESS": "0", "PYTHONPATH": str(ROOT), **env}
    return subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", "delete", str(index), "--ids", pid],
        cwd=ROOT,
        env=full,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _check_truth(index: Path, before: int, rc: int, err: str) -> int:
    gen = current_generation(index)
    assert gen in (before, before + 1)
    if rc == 130:
        if gen == before + 1:
            assert f"committing generation {gen}" in err, err
        else:
            assert "unchanged" in err, err
    else:
        assert rc == 0 and gen == before + 1, err
    assert cli("verify", str(index)).returncode == 0
    return gen


@pytest.mark.parametrize("point", ["commit:before-pointer", "commit:after-pointer"])
def test_ctrl_c_around_the_commit_point_tells_the_truth(index_copy, point):
    before = current_generation(index_copy)
    proc = _delete(index_copy, _first_passage(index_copy), HIPPORAG_INTERRUPT_AT=point)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err
    gen = _check_truth(index_copy, before, proc.returncode, err)
    assert gen == (before + 1 if point.endswith("after-pointer") else before)


def test_ctrl_c_at_random_moments(index_copy):
    rng = random.Random(18)
    pid = _first_passage(index_copy)
    seen = set()
    for _ in range(4):
        before = current_generation(index_copy)
        proc = _delete(index_copy, pid)
        time.sleep(rng.uniform(0.5, 4.0))
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=300)
        assert "Traceback" not in err, err
        gen = _check_truth(index_copy, before, proc.returncode, err)
        seen.add(proc.returncode)
        if gen != before:  # deleted: put it back for the next round
            pid = _first_passage(index_copy)
    assert seen <= {0, 130}


DUCK = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {root!r})
    import duckdb
    from pipelines import cli
    from pipelines.commands import info

    def slow(args):
        print("querying", flush=True)
        duckdb.connect().execute("SELECT count(*) FROM range(10000000000) t(a)").fetchall()
        return 0

    info.run = slow
    sys.exit(cli.main(["info", "x"]))
    """
)


def test_ctrl_c_during_a_duckdb_query_is_a_clean_interrupt():
    proc = subprocess.Popen(
        [sys.executable, "-c", DUCK.format(root=str(ROOT))],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "querying"
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "internal error" not in err


SWALLOWED = textwrap.dedent(
    """
    import os, signal, sys, time
    sys.path.insert(0, {root!r})
    from pipelines import cli
    from pipelines.commands import info

    def cut_import(args):
        # A library catches the KeyboardInterrupt of a Ctrl-C that cut an import
        # half way, and fails later on the half-initialised module.
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)
        except KeyboardInterrupt:
            pass
        raise AttributeError("partially initialized module 'pandas' has no attribute 'plotting'")

    info.run = cut_import
    sys.exit(cli.main(["info", "x"]))
    """
)


def test_an_error_after_ctrl_c_is_reported_as_the_interrupt():
    proc = subprocess.run(
        [sys.executable, "-c", SWALLOWED.format(root=str(ROOT))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 130, proc.stderr
    assert "interrupted" in proc.stderr and "internal error" not in proc.stderr


HALF_IMPORT = textwrap.dedent(
    """
    import os, sys, time
    sys.path.insert(0, {root!r})
    sys.path.insert(0, {mods!r})
    from pipelines import cli
    from pipelines.commands import info

    def slow_import(args):
        import slowmod  # sends Ctrl-C to this process half way through its import
        print("imported", slowmod.DONE, flush=True)
        time.sleep(30)
        return 0

    info.run = slow_import
    sys.exit(cli.main(["info", "x"]))
    """
)


def test_ctrl_c_inside_an_import_waits_for_the_import(tmp_path):
    """Raised inside an import, KeyboardInterrupt leaves half-initialised modules (and in
    a C++ extension importing Python code, an abort): it is held until the import ends."""
    (tmp_path / "slowmod.py").write_text(
        "import os, signal, time\n"
        "os.kill(os.getpid(), signal.SIGINT)\n"
        "time.sleep(0.5)\n"
        "DONE = True\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", HALF_IMPORT.format(root=str(ROOT), mods=str(tmp_path))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 130, proc.stderr
    assert proc.stdout.strip() == "imported True", proc.stdout
    assert "interrupted" in proc.stderr and "Traceback" not in proc.stderr
