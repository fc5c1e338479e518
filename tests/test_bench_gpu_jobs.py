"""The multi-GPU job benchmark's parts: corpus expansion, index identity check, a tiny run."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hipporag.index.columns import column_layout
from hipporag.index.reader import Index

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from bench_gpu_jobs import expand_corpus  # noqa: E402
from index_identity import compare_indexes  # noqa: E402
from samplers import summarize_gpu_log  # noqa: E402

BASE = [
    {"title": "Teutberga", "text": "Teutberga died in 875. She was a queen of Lotharingia."},
    {"title": "Boso", "text": "Boso the Elder was a count. He lived in Arles. He had a son."},
    {"title": "Boso", "text": "Boso the Elder was a count. He lived in Arles. He had a son."},
    {"title": "Hucbert", "text": "Hucbert was a lay abbot. He was the brother of Teutberga."},
]


def test_expand_corpus_distinct_deterministic_and_keeps_the_base() -> None:
    out = expand_corpus(BASE, 40, seed=3)
    assert len(out) == 40
    assert len({(r["title"], r["text"]) for r in out}) == 40  # all distinct
    assert out[:3] == [BASE[0], BASE[1], BASE[3]]  # the base first, the duplicate once
    assert expand_corpus(BASE, 40, seed=3) == out  # same seed, same corpus
    assert expand_corpus(BASE, 40, seed=4) != out
    titles = {r["title"] for r in BASE}
    sentences = {s.strip().rstrip(".") for r in BASE for s in r["text"].split(". ")}
    for r in out[3:]:  # synthetic: real sentences under a real title
        assert r["title"] in titles
        assert all(s.rstrip(".") in sentences for s in r["text"].split(". "))


def test_expand_corpus_refuses_what_it_cannot_make() -> None:
    with pytest.raises(ValueError, match="distinct"):
        expand_corpus([{"title": "A", "text": "One sentence."}], 5)


def test_gpu_log_summary_skips_unreadable_lines() -> None:
    got = summarize_gpu_log("0, 10, 100\n0, [N/A], 5\n1, 30, 7\nnoise\n")
    assert got["0"]["samples"] == 1 and got["1"]["util_mean"] == 30.0


def test_identity_check_finds_a_turned_vector(
    demo_index_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    same = compare_indexes(demo_index_path, demo_index_path)
    assert same["identical"] and same["tables"] == 6
    assert same["min_cosine"]["passage_embeddings"] > 0.9999

    copy = tmp_path / "copy"
    shutil.copytree(demo_index_path, copy, ignore=shutil.ignore_patterns("leases", "*.lock"))
    idx = Index.open(copy)
    pieces, _ = column_layout(idx.meta, "passage_embeddings")
    emb = idx.file(pieces[0].file)
    idx.close()
    arr = np.load(emb, mmap_mode="r+")
    arr[0] = -arr[0]  # one vector turned around: cosine -1
    arr.flush()
    del arr
    # The reader would refuse the changed file (its checksum no longer matches): the
    # identity check is about content, so the file is read without that check.
    monkeypatch.setenv("HIPPORAG_CHECKSUM_LIMIT", "0")
    got = compare_indexes(demo_index_path, copy)
    assert not got["identical"]
    assert got["problems"] == [
        "array passage_embeddings: 1 of "
        f"{np.load(emb, mmap_mode='r').shape[0]} rows below cosine 0.999 (min -1.0000)"
    ]


@pytest.mark.ray
@pytest.mark.slow
def test_bench_runs_end_to_end_on_cpu(tmp_path: Path, shared_data: Path) -> None:
    results = tmp_path / "runs.jsonl"
    args = ["--passages", "30", "--gpus", "0", "--workers", "1", "2", "--batch-size", "8"]
    args += ["--embed-batch-size", "64", "--results", str(results)]
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_gpu_jobs.py"), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=900,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    runs = [json.loads(line) for line in results.read_text().splitlines()]
    assert [r["run"] for r in runs] == ["g0-w1", "g0-w2"]
    for r in runs:
        assert r["passages"] >= 30 and r["counts"]["texts_embedded"] > 0
        assert r["embed_texts_per_s"] > 0 and r["peak_rss_mb"] > 0
        assert r["actors"]["embedding"] >= 1
        assert {"openie", "embedding", "graph", "write"} <= set(r["timings_s"])
    assert runs[1]["identity"]["identical"], runs[1]["identity"]["problems"]
    assert "| embedding speed-up vs first |" in out.stdout
