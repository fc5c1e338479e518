"""Benchmark: reading a query's hits from the passage store against the ``passages`` table.

Side by side on one index, the same random draws of ``--k`` live passages:
``table`` is the SQL lookup (a scan of the table per call, what every index
used before the store), ``store`` the memory-mapped passage store; both
return equal passages (checked). Without ``--index`` a synthetic index of
``--passages`` passages is built first (the scale benchmark's fakes, 32-d)::

    python bench/bench_fetch.py --passages 300000 --json
    python bench/bench_fetch.py --index path/to/index
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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Passage store against table lookups.")
    parser.add_argument("--index", default=None, help="an existing index (default: build one)")
    parser.add_argument("--passages", type=int, default=100_000)
    parser.add_argument("--k", type=int, default=10, help="passages per lookup (a query's hits)")
    parser.add_argument("--draws", type=int, default=300)
    parser.add_argument("--json", action="store_true", help="print only the JSON line")
    args = parser.parse_args(argv)
    if args.index:
        res = measure(Path(args.index), args.k, args.draws)
    else:
        sys.path.insert(0, str(ROOT / "bench"))
        from bench_scale import build

        with tempfile.TemporaryDirectory() as tmp:
            built = build(args.passages, 10, 10, 32, Path(tmp) / "index", threads=0)
            res = {"build_s": built["build_s"], **measure(Path(built["path"]), args.k, args.draws)}
    if not args.json:
        print(f"# {res['passages']} passages, {args.k} per lookup", file=sys.stderr)
    print(json.dumps(res))


if __name__ == "__main__":
    main()
