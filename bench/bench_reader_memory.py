"""Benchmark: what a reader process holds, part by part, after opening an index.

Loads what :meth:`GraphRetriever.warm_up` loads, one part at a time, and
reports each part's private memory (``/proc/self/smaps_rollup``: pages no
other process maps) and load time, then the first query and ``--queries``
more. Memory-mapped arrays that were only read stay shared with the page
cache and other readers, so ``private_mb`` is what each further reader
process adds. Works on an index built by the scale benchmark's fakes
(``--dim``: their query vectors) or on a real one (its embedding model)::

    python bench/bench_reader_memory.py --index /tmp/idx1m --dim 32 --json
    python bench/bench_reader_memory.py --index path/to/index
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def _private_mb() -> float:
    """This process's private resident memory (MB)."""
    from bench_scale import memory_mb

    return memory_mb()["private_mb"]


def measure(path: Path, dim: int | None, n_queries: int) -> dict[str, Any]:
    """Load the reader's parts one by one; figures per part, then per query."""
    from hipporag.index import Index
    from retrievers.config import RetrievalConfig
    from retrievers.graph import GraphRetriever
    from retrievers.order import keys_of

    parts: list[dict[str, Any]] = []
    last = [_private_mb(), time.perf_counter()]

    def step(name: str, fn: Callable[[], Any]) -> None:
        fn()
        mb, now = _private_mb(), time.perf_counter()
        parts.append(
            {"part": name, "private_mb": round(mb - last[0], 1), "s": round(now - last[1], 3)}
        )
        last[:] = [mb, now]

    start = last[0]
    holder: dict[str, Any] = {}
    if dim:
        from scale_fakes import HashVectors

        embedder: Any = HashVectors(dim)
    else:
        embedder = None
    step("open", lambda: holder.setdefault("index", Index(path)))
    index = holder["index"]
    r = GraphRetriever(index, RetrievalConfig(), embedder=embedder)
    step("model", lambda: holder.setdefault("qvec", r.parts.dense.encode("warm up")))
    qvec = holder["qvec"]
    step("ppr matrices", lambda: r.parts.ppr)
    step("entity names", lambda: index.entity_names)
    step("passage titles", index.passage_titles)
    step("fact relations", index.fact_relations)
    step("passage HNSW", lambda: index.knn("passages", qvec, 1))
    step("fact HNSW", lambda: index.knn("facts", qvec, 1))
    for table in ("passages", "entities", "facts"):
        step(f"stable keys, {table}", lambda t=table: keys_of(index, t))
    explainer = r.parts.explainer(r.config.path_hops)
    if hasattr(explainer, "warm_up"):
        step("explainer", explainer.warm_up)
    step("first query", lambda: r.retrieve("first query", k=5))
    times: list[float] = []

    def queries() -> None:
        for i in range(n_queries):
            t = time.perf_counter()
            r.retrieve(f"query {i}", k=5)
            times.append(time.perf_counter() - t)

    step(f"{n_queries} more queries", queries)
    times.sort()
    return {
        "index": str(path),
        "passages": index.n_passages,
        "facts": index.n_facts,
        "private_mb": round(last[0], 1),  # as read after the last part
        "from_parts_mb": round(last[0] - start, 1),
        "open_to_first_query_s": round(sum(p["s"] for p in parts[:-1]), 3),
        "query_p50_ms": round(times[len(times) // 2] * 1e3, 3) if times else None,
        "parts": parts,
        "loadavg_1m": os.getloadavg()[0],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A reader's memory, part by part.")
    parser.add_argument("--index", required=True, help="an index directory")
    parser.add_argument("--dim", type=int, default=0, help="built by the scale fakes at this dim")
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--json", action="store_true", help="print only the JSON line")
    args = parser.parse_args(argv)
    os.environ.setdefault("HIPPORAG_PROGRESS", "0")
    res = measure(Path(args.index), args.dim or None, args.queries)
    if not args.json:
        for p in res["parts"]:
            print(f"{p['part']:24s} {p['private_mb']:9.1f} MB {p['s']:8.2f} s")
        print(f"{'private in all':24s} {res['private_mb']:9.1f} MB")
    print(json.dumps(res))


if __name__ == "__main__":
    main()
