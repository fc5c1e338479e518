"""Checkpoint folders: nothing the toolkit did not create is ever deleted or overwritten.

Reproduces the data-loss report: ``--fresh`` deleted every sub-folder of an
existing ``--checkpoint-dir`` and ``--no-keep-checkpoints`` deleted the folder
whatever it held. Each case plants user files and checks they survive.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from hipporag.errors import JobError
from pipelines.jobs import CheckpointStore, JobSpec
from pipelines.jobs.checkpoint import MARKER_FILE
from tests.test_jobs import DEMO, run_stub, stub_spec

ROOT = Path(__file__).resolve().parents[2]


def plant(folder: Path) -> dict[Path, bytes]:
    """User files, including a sub-folder, a file named like ours and a symlink target."""
    files = {
        folder / "thesis.tex": b"\\documentclass{article} years of work",
        folder / "data" / "results.csv": b"a,b\n1,2\n",
        folder / "job.json.bak": b"{}",
        folder / "openie-notes" / "keep.txt": b"not a namespace",
    }
    for p, data in files.items():
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    return files


def survived(files: dict[Path, bytes]) -> bool:
    return all(p.is_file() and p.read_bytes() == data for p, data in files.items())


def with_ckpt(spec: JobSpec, folder: Path, **executor) -> JobSpec:
    ex = dataclasses.replace(spec.executor, **executor) if executor else spec.executor
    return dataclasses.replace(spec, checkpoint_dir=str(folder), executor=ex)


@pytest.mark.parametrize("fresh", [False, True])
def test_unmarked_user_folder_is_refused_untouched(tmp_path, fresh):
    user = tmp_path / "mine"
    files = plant(user)
    before = sorted(p.relative_to(user) for p in user.rglob("*"))
    spec = with_ckpt(stub_spec(tmp_path), user)
    with pytest.raises(JobError, match="not created by hipporag") as info:
        run_stub(spec, fresh=fresh)
    assert info.value.hint and "checkpoint-dir" in info.value.hint
    assert survived(files)
    assert sorted(p.relative_to(user) for p in user.rglob("*")) == before  # nothing added
    assert not (tmp_path / "idx").exists()


def test_no_keep_checkpoints_in_a_user_folder_is_refused(tmp_path):
    user = tmp_path / "mine"
    files = plant(user)
    spec = with_ckpt(stub_spec(tmp_path), user, keep_checkpoints=False)
    with pytest.raises(JobError):
        run_stub(spec)
    assert survived(files)


def test_fresh_keeps_user_files_inside_our_folder(tmp_path):
    spec = stub_spec(tmp_path)
    run_stub(spec)
    ck = spec.checkpoint_path
    assert (ck / MARKER_FILE).is_file()
    ns = next(ck.glob("openie-*"))
    files = plant(ck)
    files[ns / "my-notes.txt"] = b"notes beside the batches"
    (ns / "my-notes.txt").write_bytes(files[ns / "my-notes.txt"])
    r = run_stub(spec, fresh=True)
    assert r.batches["openie"].computed == r.batches["openie"].planned
    assert survived(files)


def test_cleanup_removes_only_our_files_and_keeps_the_folder_if_needed(tmp_path):
    spec = stub_spec(tmp_path, keep_checkpoints=False)
    ck = spec.checkpoint_path
    ck.mkdir()
    run_stub(
        dataclasses.replace(
            spec, executor=dataclasses.replace(spec.executor, keep_checkpoints=True)
        )
    )
    files = plant(ck)
    r = run_stub(spec)
    assert survived(files)
    assert r.checkpoint_dir is not None  # it stays, because of the user's files
    left = {p.name for p in ck.iterdir()}
    assert not any(n.startswith(("openie-", "embedding-")) and len(n) > 14 for n in left)
    assert "job.json" not in left and (r.path / "meta.json").is_file()


def test_cleanup_of_a_folder_of_ours_removes_it(tmp_path):
    spec = stub_spec(tmp_path, keep_checkpoints=False)
    r = run_stub(spec)
    assert r.checkpoint_dir is None and not spec.checkpoint_path.exists()


def test_empty_existing_folder_is_used(tmp_path):
    ck = tmp_path / "empty"
    ck.mkdir()
    spec = with_ckpt(stub_spec(tmp_path), ck)
    run_stub(spec)
    assert (ck / MARKER_FILE).is_file() and (ck / "job.json").is_file()


def test_checkpoints_written_before_the_marker_existed_are_adopted(tmp_path):
    spec = stub_spec(tmp_path)
    run_stub(spec)
    ck = spec.checkpoint_path
    (ck / MARKER_FILE).unlink()  # as an older version left it
    r = run_stub(spec)
    assert r.batches["openie"].reused == r.batches["openie"].planned
    assert (ck / MARKER_FILE).is_file()


@pytest.mark.parametrize("where", ["same", "inside_output", "parent_of_output"])
def test_checkpoints_overlapping_the_output_are_refused(tmp_path, where):
    spec = stub_spec(tmp_path)
    out = spec.output_path
    ck = {"same": out, "inside_output": out / "ck", "parent_of_output": tmp_path}[where]
    with pytest.raises(JobError, match="overlap"):
        run_stub(with_ckpt(spec, ck))


def test_checkpoint_path_that_is_a_symlink_or_file_is_refused(tmp_path):
    target = tmp_path / "elsewhere"
    plant(target)
    link = tmp_path / "link"
    link.symlink_to(target, target_is_directory=True)
    with pytest.raises(JobError, match="not a folder"):
        CheckpointStore(link).open("fp", {})
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(JobError):
        run_stub(with_ckpt(stub_spec(tmp_path), f))


def test_remove_refuses_an_unmarked_folder(tmp_path):
    store = CheckpointStore(tmp_path / "ck")
    store.open("fp", {})
    (tmp_path / "ck" / MARKER_FILE).unlink()
    files = plant(tmp_path / "ck")
    with pytest.raises(JobError, match="did not create it"):
        store.remove()
    assert survived(files)


def test_dead_writers_temporaries_are_swept_live_and_user_ones_kept(tmp_path):
    spec = stub_spec(tmp_path)
    run_stub(spec)
    ck = spec.checkpoint_path
    ns = next(ck.glob("openie-*"))
    dead = ns / ".abc.jsonl.tmp-999999999-deadbeef"
    dead.write_text("half")
    mine = ns / ".my.tmp-file"  # looks a bit like ours but has no writer pid
    mine.write_text("user")
    run_stub(spec)
    assert not dead.exists() and mine.read_text() == "user"


def test_cli_fresh_with_a_user_folder_is_one_line_and_exit_2(tmp_path):
    user = tmp_path / "D"
    files = plant(user)
    out = tmp_path / "o"
    for extra in (["--fresh"], ["--no-keep-checkpoints"]):
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "pipelines.cli",
                "index",
                str(DEMO),
                "--out",
                str(out),
                "--checkpoint-dir",
                str(user),
                *extra,
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 2, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and "how to fix" in lines[0] and "Traceback" not in proc.stderr
        assert survived(files) and not out.exists()
