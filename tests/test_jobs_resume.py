"""Kill -9 and resume, in-process and on Ray, with the real spaCy extractor and MiniLM.

The reference is one uninterrupted in-process job over the demo corpus; every
other run must produce the same index (tables exactly, arrays to 1e-6). Kills
are real SIGKILLs of a job running in a subprocess, sent by the job's
``on_batch`` hook after N batches were checkpointed. The Ray tests share one
local Ray session (num_cpus=2) for the whole module.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from hipporag.errors import InputError
from hipporag.types import Extraction
from pipelines.jobs import JobSpec, job_status, run_job
from tests.test_jobs import DEMO, ROOT, StubEmbedder, assert_same_index

pytestmark = pytest.mark.slow

KILLER = textwrap.dedent(
    """
    import os, signal, sys
    from pipelines.jobs import JobSpec, run_job

    spec, n = JobSpec.load(sys.argv[1]), int(sys.argv[2])

    def hook(event):
        if event.computed >= n:
            os.kill(os.getpid(), signal.SIGKILL)

    run_job(spec, on_batch=hook)
    """
)


def write_spec(tmp: Path, name: str, kind: str = "local") -> Path:
    path = tmp / f"{name}.toml"
    path.write_text(
        f'inputs = ["{DEMO}"]\noutput = "{name}"\n'
        f'[executor]\nkind = "{kind}"\nworkers = 2\nbatch_size = 8\nembed_batch_size = 64\n'
    )
    return path


def run_and_kill(spec_path: Path, after: int) -> None:
    """Run the job in a subprocess that SIGKILLs itself after ``after`` computed batches."""
    env = {**os.environ, "HIPPORAG_PROGRESS": "0", "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.run(
        [sys.executable, "-c", KILLER, str(spec_path), str(after)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == -9, proc.stderr[-3000:]


def total(report, key: str) -> int:
    return sum(getattr(c, key) for c in report.batches.values())


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """One uninterrupted in-process run: the index every other run must reproduce."""
    tmp = tmp_path_factory.mktemp("ref")
    report = run_job(JobSpec.load(write_spec(tmp, "ref")))
    assert report.batches["openie"].planned == 4 and report.batches["embedding"].planned >= 4
    return report


@pytest.mark.parametrize("after", [2, 6], ids=["during-openie", "during-embedding"])
def test_killed_job_resumes_without_redoing_batches(after, reference, tmp_path):
    spec_path = write_spec(tmp_path, "job")
    run_and_kill(spec_path, after)
    spec = JobSpec.load(spec_path)
    assert not spec.output_path.exists()  # nothing half-written
    st = job_status(spec)
    assert sum(s["done"] for s in st["stages"].values()) == after
    report = run_job(spec)
    assert total(report, "reused") == after
    assert total(report, "computed") == total(reference, "planned") - after
    assert_same_index(reference.path, report.path)


# -- Ray -------------------------------------------------------------------------------
class FailingExtractor:
    """Rejects one passage with a toolkit error (as a broken input would)."""

    def warm_up(self) -> None:
        pass

    def extract(self, passages):
        for p in passages:
            if "Kelderhaven" in p.title:
                raise InputError(f"cannot extract {p.title!r}", hint="fix that passage")
        return [Extraction(p.id) for p in passages]

    def to_dict(self):
        return {"kind": "failing"}


@pytest.fixture(scope="module")
def ray_session():
    ray = pytest.importorskip("ray")
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        ignore_reinit_error=True,
        runtime_env={"env_vars": {"PYTHONPATH": str(ROOT), "TOKENIZERS_PARALLELISM": "false"}},
    )
    yield ray
    ray.shutdown()


@pytest.mark.ray
def test_ray_job_matches_in_process_job(ray_session, reference, tmp_path):
    spec = JobSpec.load(write_spec(tmp_path, "ray", kind="ray"))
    report = run_job(spec)
    assert report.executor == "ray" and report.workers == 2
    assert total(report, "computed") == total(reference, "planned")
    headers = [p.read_text().splitlines()[0] for p in spec.checkpoint_path.glob("openie-*/*.jsonl")]
    assert headers and all(f'"pid": {os.getpid()},' not in h for h in headers)
    assert_same_index(reference.path, report.path)
    meta = json.loads((report.path / "meta.json").read_text())
    ran = meta["job"]["embedders_ran"]  # what the Ray workers ran, batch by batch
    assert sum(r["batches"] for r in ran) == report.batches["embedding"].computed
    assert len(ran) == 1 and meta["components"]["embedder"]["device"] == ran[0]["device"]
    assert ray_session.is_initialized()  # a session it did not start is left running


@pytest.mark.ray
def test_ray_resumes_a_killed_in_process_job(ray_session, reference, tmp_path):
    spec_path = write_spec(tmp_path, "job")
    run_and_kill(spec_path, 3)
    spec = JobSpec.load(write_spec(tmp_path, "job", kind="ray"))
    report = run_job(spec)
    assert total(report, "reused") == 3
    assert total(report, "computed") == total(reference, "planned") - 3
    assert_same_index(reference.path, report.path)


@pytest.mark.ray
def test_ray_worker_errors_surface_as_toolkit_errors(ray_session, tmp_path):
    spec = JobSpec.load(write_spec(tmp_path, "bad", kind="ray"))
    with pytest.raises(InputError, match="cannot extract") as info:
        run_job(spec, extractor=FailingExtractor(), embedder=StubEmbedder())
    assert info.value.hint == "fix that passage"
    assert not spec.output_path.exists()
