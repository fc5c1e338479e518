"""Smoke test of the scale benchmark: a small synthetic index built, opened and queried (not timed)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def run_bench(script: str, *args: str) -> dict:
    """Run ``bench/SCRIPT`` as a user does and return its JSON line."""
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *args],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_zipf_sample_has_hubs() -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    from scale_fakes import zipf_sample

    draws = zipf_sample(np.random.default_rng(0), 10_000, 50_000)
    counts = np.bincount(draws, minlength=10_000)
    assert counts[0] > 20 * np.median(counts[counts > 0])  # a hub, a long tail


def test_bench_scale_runs_end_to_end(tmp_path) -> None:
    work, partial = tmp_path / "work", tmp_path / "partial.json"
    work.mkdir()
    args = ["--passages", "1000", "--queries", "20", "--json", "--workdir", str(work)]
    args += ["--threads", "2", "--partial", str(partial), "--readers"]
    res = run_bench("bench_scale.py", *args)
    for key in ("build_s", "peak_rss_mb", "index_bytes", "query_p50_ms", "query_p95_ms"):
        assert res[key] > 0, key
    for stage in ("graph", "write", "synonymy", "hnsw", "duckdb_insert", "passage_store"):
        assert stage in res["stages"], stage
    assert len(res["readers"]) == 2  # two reader processes, the second beside the first
    for r in res["readers"]:
        assert r["query_p50_ms"] > 0 and 0 < r["private_mb"] < r["rss_mb"], r
    c = res["counts"]
    assert c["passages"] == 1000 and c["entities"] > 100 and c["facts"] > 1000
    assert c["edges_passage_entity"] == c["mentions"]
    assert c["edges_synonymy"] > 0  # near-synonym entity pairs (--synonym-share 0.5)
    assert res["query_p95_ms"] >= res["query_p50_ms"]
    assert res["threads"] == 2
    assert {"link", "ppr", "total"} <= set(res["query_stage_p50_ms"])
    done = json.loads(partial.read_text())  # the figures so far, as of the end of the queries
    assert done["done"] == "query" and done["build_s"] == res["build_s"]
    assert done["query_p95_ms"] == res["query_p95_ms"]
    assert done["stages"]["hnsw"] > 0 and done["peak_rss_mb"] > 0
    assert list(work.iterdir()) == []  # the temporary index is removed


QUICK = ("--queries", "5", "--threads", "2")


def test_bench_fetch_compares_the_store_with_the_table() -> None:
    res = run_bench("bench_fetch.py", "--passages", "800", "--json", *QUICK)
    assert res["equal"] is True and res["passages"] == 800
    for key in ("table_p50_ms", "store_p50_ms", "table_p95_ms", "store_p95_ms"):
        assert res[key] > 0, key
    assert [q["fetch"] for q in res["queries"]] == ["store", "table", "store"]
    assert all(q["query_p50_ms"] > 0 and "fetch" in q["query_stage_p50_ms"] for q in res["queries"])


def test_bench_reader_memory_reports_every_part(tmp_path) -> None:
    make = "import sys; from pathlib import Path; sys.path.insert(0, 'bench'); from bench_scale "
    make += f"import build; build(600, 10, 10, 32, Path({str(tmp_path / 'idx')!r}), 2, 0.5)"
    subprocess.run([sys.executable, "-c", make], check=True, cwd=ROOT)  # its timers stay there
    args = ["--index", str(tmp_path / "idx"), "--dim", "32", "--queries", "5", "--json"]
    res = run_bench("bench_reader_memory.py", *args)
    names = [p["part"] for p in res["parts"]]
    assert names[:3] == ["open", "model", "ppr matrices"] and "fact HNSW" in names
    assert {"stable keys, facts", "explainer", "first query", "5 more queries"} <= set(names)
    assert res["passages"] == 600 and res["private_mb"] > 0 and res["query_p50_ms"] > 0
