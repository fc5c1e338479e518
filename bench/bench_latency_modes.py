"""One-core retrieve latency (query encoding included) of retrieval settings, interleaved.

Each ``--try NAME:KEY=VALUE,...`` opens the index through the facade with
those retrieval settings; every question is run through every setting in
turn (A, B, A, B, ...), so machine noise hits them alike; p50 and p95 of the
whole ``HippoRAG.retrieve(question, k=5)`` call are printed. Torch runs one
thread; run it under ``taskset -c 0`` for one core. Only facade calls are
used, so an older checkout can run it too (``PYTHONPATH=OLD``) for a
before/after pair.

Usage:
    taskset -c 0 python bench/bench_latency_modes.py INDEX --questions Q.json \\
        --try default: --try dense:mode=dense [--repeats 2] [--json]
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import numpy as np


def parse_try(spec: str) -> tuple[str, dict[str, Any]]:
    """``NAME:KEY=VALUE,...`` -> (name, settings), values parsed as JSON where they can be."""
    name, _, rest = spec.partition(":")
    out: dict[str, Any] = {}
    for item in filter(None, rest.split(",")):
        key, _, value = item.partition("=")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return name, out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    import torch

    from pipelines.evaluate import load_questions
    from pipelines.facade import HippoRAG
    from retrievers.config import RetrievalConfig

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("index")
    ap.add_argument("--questions", required=True)
    ap.add_argument("--try", dest="tries", action="append", default=[])
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--limit", type=int)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    texts = [q.question for q in load_questions(args.questions, args.limit)]
    rags = {}
    for spec in args.tries or ["default:"]:
        name, settings = parse_try(spec)
        rags[name] = HippoRAG.open(args.index, RetrievalConfig.from_dict(settings))
        for t in texts[:3]:
            rags[name].retrieve(t, k=5)  # warm-up: models, tables, caches
    times: dict[str, list[float]] = {name: [] for name in rags}
    for _ in range(args.repeats):
        for t in texts:
            for name, rag in rags.items():
                t0 = time.perf_counter()
                rag.retrieve(t, k=5)
                times[name].append((time.perf_counter() - t0) * 1e3)
    out = {
        name: {"p50_ms": float(np.median(v)), "p95_ms": float(np.percentile(v, 95)), "n": len(v)}
        for name, v in times.items()
    }
    if args.json:
        print(json.dumps(out))
    else:
        for name, row in out.items():
            print(f"{name:28s} p50 {row['p50_ms']:.1f} ms  p95 {row['p95_ms']:.1f} ms")
    return out


if __name__ == "__main__":
    main()
