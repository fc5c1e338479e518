"""Smoke test of ``bench/bench_serve.py``: a few requests, a write and a short soak on the demo index."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_percentile_interpolates() -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    from bench_serve import percentile

    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([1.0, 2.0], 99) == pytest.approx(1.99)


@pytest.mark.slow
def test_bench_serve_smoke(demo_index_path, demo_questions_path, tmp_path) -> None:
    index = tmp_path / "idx"
    shutil.copytree(demo_index_path, index, ignore=shutil.ignore_patterns("leases"))
    out = tmp_path / "report.json"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    args = ["--index", str(index), "--questions", str(demo_questions_path), "--smoke"]
    args += ["--soak", "6", "--write-every", "0.5", "--json", str(out)]
    subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_serve.py"), *args],
        check=True,
        cwd=ROOT,
        env=env,
        timeout=900,
    )
    report = json.loads(out.read_text())
    assert report["inprocess"]["qps"] > 0
    (part,) = report["server"]
    assert [lv["clients"] for lv in part["levels"]] == [1, 4]
    for lv in part["levels"]:
        assert lv["requests"] > 0 and lv["errors"] == {}, lv
        assert lv["p99_ms"] >= lv["p50_ms"] > 0
    assert part["memory"] and all(m["rss_mb"] >= m["uss_mb"] > 0 for m in part["memory"])
    (write,) = part["writes"]
    assert write["documents"] == 1 and write["wall_s"] > 0 and write["generation"] > 0
    soak = report["soak"]["summary"]
    assert soak["queries"] > 0 and soak["writes_committed"] >= 1, report["soak"]
    assert soak["query_errors"] == soak["write_errors"] == 0, report["soak"]
    assert soak["responses_mixing_generations"] == 0, report["soak"]
    assert soak["writes_not_visible_after_commit"] == 0, report["soak"]
