"""Per-query cost of the retrievers as the corpus grows (query encoding excluded).

Builds synthetic indexes (``tests/synthetic_index.py``: random passage-entity
and fact edges, random unit vectors, real hnswlib indexes) of growing size,
runs the real registered retrievers over pre-computed query vectors, and
prints one JSON line per size with the median and p95 milliseconds per query
and the median of every stage. ``hybrid`` (dense_prior) and ``dense`` should
stay flat; ``hipporag2`` is O(passages) per query by definition.

Example:
    nice python bench/bench_query_cost.py --passages 10000 100000 --queries 200
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from retrievers import registry
from retrievers.config import RetrievalConfig
from retrievers.walk import Parts
from tests.synthetic_index import SyntheticIndex, VectorEmbedder

MODES = ("dense", "hybrid", "hipporag2")


def measure(n: int, n_queries: int, seed: int = 0) -> dict[str, object]:
    t = time.perf_counter()
    index = SyntheticIndex(n, n, dim=32, hnsw=True, seed=seed)
    build_s = time.perf_counter() - t
    rng = np.random.default_rng(seed + 1)
    vecs = {}
    for i in range(n_queries):
        p, f = int(rng.integers(n)), int(rng.integers(n))
        v = index.embeddings("passages")[p] + 0.5 * index.embeddings("facts")[f]
        vecs[f"q{i}"] = (v / np.linalg.norm(v)).astype(np.float32)
    parts = Parts(index, VectorEmbedder(vecs))
    config = RetrievalConfig(explain=True)
    out: dict[str, object] = {"passages": n, "nodes": index.graph.n_nodes, "build_s": build_s}
    for mode in MODES:
        spec = registry.spec(mode)
        r = spec.cls.from_parts(parts, spec.params.from_config(config))
        r.run("q0", vecs["q0"], 10)  # warm: PPR matrices, name tables
        total, stages = [], {}
        for q, v in vecs.items():
            res = r.run(q, v, 10)
            tm = dict(res.timings_ms)
            total.append(tm.pop("total") - tm.pop("encode", 0.0))
            for name, ms in tm.items():
                stages.setdefault(name, []).append(ms)
        out[mode] = {
            "p50_ms": round(float(np.median(total)), 3),
            "p95_ms": round(float(np.percentile(total, 95)), 3),
            "stages_p50_ms": {k: round(float(np.median(v)), 3) for k, v in stages.items()},
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--passages", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--queries", type=int, default=200)
    args = ap.parse_args()
    for n in args.passages:
        print(json.dumps(measure(n, args.queries)), flush=True)


if __name__ == "__main__":
    main()
