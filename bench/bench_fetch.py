"""Benchmark: reading a query's hits from the passage store against the ``passages`` table.

Side by side on one index, the same random draws of ``--k`` live passages:
``table`` is the SQL lookup (a scan of the table per call, what every index
used before the store), ``store`` the memory-mapped passage store; both
return equal passages (checked). Without ``--index`` a synthetic index of
``--passages`` passages is built first (the scale benchmark's fakes, 32-d).

``--queries N`` also times whole hybrid queries on a synthetic index (built
here, or one the scale benchmark's fakes built, named with ``--index`` and
``--synthetic``): with the store, then from the table (a generation without
the store is committed), then with the store again (``hipporag upgrade``
adds it back); the index is changed, so never pass a real one::

    python bench/bench_fetch.py --passages 300000 --json
    python bench/bench_fetch.py --index path/to/index
    python bench/bench_fetch.py --passages 1000000 --threads 2 --ef-construction 32 --queries 300
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def measure(path: Path, k: int, draws: int, seed: int = 0) -> dict[str, Any]:
    from hipporag.index import Index
    from hipporag.index.passagestore import load_store
    from hipporag.index.rows import table_passage_rows

    idx = Index.open(path)
    store = load_store(idx)
    if store is None:
        raise SystemExit(f"{path} has no passage store: run 'hipporag upgrade {path}' first")
    live = np.flatnonzero(idx.live("passages"))
    rng = np.random.default_rng(seed)
    picks = [rng.choice(live, min(k, live.shape[0]), replace=False).tolist() for _ in range(draws)]
    ways = {"table": lambda q: table_passage_rows(idx, q), "store": store.get}
    out: dict[str, Any] = {"passages": int(live.shape[0]), "k": k, "draws": draws}
    for name, fn in ways.items():
        fn(picks[0])  # warm-up
        times = []
        for q in picks:
            t = time.perf_counter()
            fn(q)
            times.append(time.perf_counter() - t)
        out[f"{name}_p50_ms"] = round(float(np.percentile(times, 50)) * 1e3, 4)
        out[f"{name}_p95_ms"] = round(float(np.percentile(times, 95)) * 1e3, 4)
    out["equal"] = all(store.get(q) == table_passage_rows(idx, q) for q in picks[:50])
    out["speedup_p50"] = round(out["table_p50_ms"] / max(out["store_p50_ms"], 1e-9), 1)
    idx.close()
    return out


def queries(path: Path, n: int, dim: int) -> list[dict[str, Any]]:
    """Hybrid query latency with the store, from the table, with the store again."""
    from bench_scale import query
    from scale_fakes import HashVectors

    from indexers.upgrade import add_parts, drop_part

    out = []
    for i, way in enumerate(("store", "table", "store")):
        if way == "table":
            drop_part(path, "passage_store")
        elif i:
            add_parts(path)
        r = query(path, HashVectors(dim), n)
        keep = ("open_warm_s", "query_p50_ms", "query_p95_ms", "query_stage_p50_ms")
        out.append({"fetch": way, **{k: r[k] for k in keep}})
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Passage store against table lookups.")
    parser.add_argument("--index", default=None, help="an existing index (default: build one)")
    parser.add_argument("--passages", type=int, default=100_000)
    parser.add_argument("--k", type=int, default=10, help="passages per lookup (a query's hits)")
    parser.add_argument("--draws", type=int, default=300)
    parser.add_argument("--queries", type=int, default=0, help="also time N hybrid queries")
    parser.add_argument("--synthetic", action="store_true", help="--index was built by the fakes")
    parser.add_argument("--dim", type=int, default=32, help="vector dimension of the fakes")
    parser.add_argument("--threads", type=int, default=0, help="HNSW threads of the build")
    parser.add_argument("--ef-construction", type=int, default=None)
    parser.add_argument("--json", action="store_true", help="print only the JSON line")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT / "bench"))
    if args.queries and args.index and not args.synthetic:
        parser.error("--queries changes the index: use it on a synthetic one (--synthetic)")
    if args.index:
        res = measure(Path(args.index), args.k, args.draws)
        if args.queries:
            res["queries"] = queries(Path(args.index), args.queries, args.dim)
    else:
        from bench_scale import build

        with tempfile.TemporaryDirectory() as tmp:
            built = build(
                args.passages,
                10,
                10,
                args.dim,
                Path(tmp) / "index",
                threads=args.threads,
                synonym_share=0.5,
                ef_construction=args.ef_construction,
            )
            path = Path(built["path"])
            res = {"build_s": built["build_s"], **measure(path, args.k, args.draws)}
            if args.queries:
                res["queries"] = queries(path, args.queries, args.dim)
    if not args.json:
        print(f"# {res['passages']} passages, {args.k} per lookup", file=sys.stderr)
    print(json.dumps(res))


if __name__ == "__main__":
    main()
