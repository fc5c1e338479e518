"""Imported OpenIE reaches the chunks of long documents on every path a user takes.

A musique100-style import (records in HippoRAG's OpenIE file, some long enough
to be chunked) through ``hipporag index``, ``hipporag job run`` (local and Ray)
and ``HippoRAG.build``: every chunk is matched to its document's entry, gets
entities and facts, and the indexes of all paths hold the same mentions.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hipporag.index import Index
from tests.longdocs import LONG, SHORT, write_longdocs

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def cli(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: int = 600):
    """Run ``hipporag ARGS`` in a subprocess; return the completed process."""
    base = {**os.environ, "HIPPORAG_PROGRESS": "0", "TOKENIZERS_PARALLELISM": "false"}
    base["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli", *args],
        cwd=cwd or ROOT,
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def longdocs(tmp_path_factory) -> tuple[Path, Path]:
    return write_longdocs(tmp_path_factory.mktemp("longdocs"))


def unmentioned(index_dir: Path) -> tuple[int, int, list[str]]:
    """(passages, chunks of long documents, ids of passages without any mention)."""
    idx = Index.open(index_dir)
    try:
        n = idx.sql("SELECT count(*) AS n FROM passages")["n"][0]
        chunks = idx.sql("SELECT count(*) AS n FROM passages WHERE passage_id LIKE '%#%'")["n"][0]
        lonely = idx.sql(
            "SELECT passage_id FROM passages WHERE passage_idx NOT IN "
            "(SELECT passage_idx FROM mentions) ORDER BY passage_id"
        )["passage_id"].to_list()
    finally:
        idx.close()
    return int(n), int(chunks), lonely


def mention_rows(index_dir: Path) -> list[tuple[str, str]]:
    idx = Index.open(index_dir)
    try:
        df = idx.sql(
            "SELECT p.passage_id, e.name FROM mentions m JOIN passages p USING (passage_idx) "
            "JOIN entities e USING (entity_idx) ORDER BY 1, 2"
        )
    finally:
        idx.close()
    return list(zip(df["passage_id"].to_list(), df["name"].to_list(), strict=True))


def check_report(stdout: str) -> dict:
    rep = json.loads(stdout)
    stats = rep["extractor_stats"]
    assert stats["missing"] == 0, stats
    assert stats["matched_chunks"] > LONG, stats  # every long document is several chunks
    return stats


def test_cli_index_matches_every_chunk(longdocs, tmp_path):
    corpus, openie = longdocs
    out = tmp_path / "idx"
    proc = cli("index", str(corpus), "--out", str(out), "--openie", f"hipporag:{openie}", "--json")
    assert proc.returncode == 0, proc.stderr[-3000:]
    stats = check_report(proc.stdout)
    n, chunks, lonely = unmentioned(out)
    assert chunks == stats["matched_chunks"] and n == chunks + SHORT
    assert lonely == []


def _spec(tmp_path: Path, corpus: Path, openie: Path, name: str, kind: str) -> Path:
    spec = tmp_path / f"{name}.toml"
    spec.write_text(
        f'inputs = ["{corpus}"]\noutput = "{tmp_path / name}"\n'
        f'[openie]\nkind = "hipporag"\npath = "{openie}"\n'
        f'[executor]\nkind = "{kind}"\nworkers = 2\nbatch_size = 2\n'
    )
    return spec


def test_cli_job_run_local_matches_every_chunk_and_equals_the_facade(longdocs, tmp_path):
    from hipporag.config import IndexConfig, OpenIEConfig
    from pipelines.facade import HippoRAG

    corpus, openie = longdocs
    proc = cli("job", "run", str(_spec(tmp_path, corpus, openie, "job", "local")), "--json")
    assert proc.returncode == 0, proc.stderr[-3000:]
    check_report(proc.stdout)
    assert unmentioned(tmp_path / "job")[2] == []
    # Resuming from the checkpoints (every batch reused) keeps the chunks' documents too.
    again = cli("job", "run", str(_spec(tmp_path, corpus, openie, "job", "local")), "--json")
    assert again.returncode == 0, again.stderr[-3000:]
    assert json.loads(again.stdout)["batches"]["openie"]["computed"] == 0
    assert unmentioned(tmp_path / "job")[2] == []

    config = IndexConfig(openie=OpenIEConfig(kind="hipporag", path=str(openie)))
    HippoRAG.build(str(corpus), tmp_path / "facade", config)
    assert mention_rows(tmp_path / "facade") == mention_rows(tmp_path / "job")


@pytest.mark.ray
def test_cli_job_run_ray_matches_every_chunk(longdocs, tmp_path):
    corpus, openie = longdocs
    proc = cli(
        "job",
        "run",
        str(_spec(tmp_path, corpus, openie, "ray", "ray")),
        "--json",
        env={"RAY_ADDRESS": ""},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    check_report(proc.stdout)
    assert unmentioned(tmp_path / "ray")[2] == []
