"""Latency of filtered queries (a view of the index) against unfiltered ones, side by side.

Builds the demo index (real spaCy and MiniLM) when ``--index`` is not given, then
times, per mode, the median query latency without a filter and with a filter
keeping half the passages (its view built once, then reused), the cost of
building one view (``tests/test_filter_semantics.py`` times ``in`` lists)::

    PYTHONPATH=$PWD python bench/bench_filter_view.py [--index DIR] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _demo_index(where: Path) -> Path:
    from hipporag.config import IndexConfig
    from indexers.builder import IndexBuilder
    from indexers.readers import read_corpus

    passages, stats = read_corpus(ROOT / "pipelines" / "demo_data" / "corpus.json")
    out = where / "index"
    IndexBuilder(IndexConfig()).build(passages, out, read_stats=stats.to_dict())
    return out


def run(index: Path, repeat: int) -> dict:
    import numpy as np

    from pipelines.facade import HippoRAG
    from retrievers.view import FilteredIndex

    rag = HippoRAG.open(index).warm_up()
    qs = json.loads((ROOT / "pipelines" / "demo_data" / "questions.json").read_text())
    qs = [q["question"] for q in qs]
    allow = np.arange(0, rag.index.n_passages, 2, dtype=np.int64)
    out: dict = {"passages": rag.index.n_passages, "allowed": int(allow.size), "modes": {}}
    for mode in rag.modes():
        rag.retrieve(qs[0], k=5, mode=mode)
        rag.retrieve(qs[0], k=5, mode=mode, allow=allow)
        row = {}
        for name, kw in (("unfiltered_ms", {}), ("filtered_ms", {"allow": allow})):
            times = []
            for _ in range(repeat):
                for q in qs:
                    t = time.perf_counter()
                    rag.retrieve(q, k=5, mode=mode, **kw)
                    times.append(1000 * (time.perf_counter() - t))
            row[name] = round(statistics.median(times), 2)
        out["modes"][mode] = row
    t = time.perf_counter()
    FilteredIndex(rag.index, allow)
    out["view_build_ms"] = round(1000 * (time.perf_counter() - t), 2)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index", type=Path)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-filter-") as tmp:
        index = args.index or _demo_index(Path(tmp))
        print(json.dumps(run(index, args.repeat), indent=1))


if __name__ == "__main__":
    main()
