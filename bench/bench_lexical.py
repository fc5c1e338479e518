"""Recall of retrieval settings side by side on one index (queries encoded once).

Each ``--try NAME:KEY=VALUE,KEY=VALUE`` runs every question through the
retriever of those settings (``mode=...`` picks the mode) and prints one line
(R@2, R@5, mean ms of the ranking after encoding). The questions are
encoded once for all settings, so the comparison is of the ranking alone.

Usage:
    python bench/bench_lexical.py INDEX --questions Q.json \\
        --try dense:mode=dense --try hybrid: --try lex:mode=lexical \\
        --try mix:lexical_mass=0.3 [--json]
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import numpy as np


def parse_try(spec: str) -> tuple[str, dict[str, Any]]:
    """``NAME:KEY=VALUE,...`` -> (name, settings) with values parsed as JSON where they can be."""
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
    from hipporag.index import Index
    from pipelines.evaluate import load_questions, recall_at
    from retrievers.config import RetrievalConfig
    from retrievers.graph import GraphRetriever

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("index")
    ap.add_argument("--questions", required=True)
    ap.add_argument("--try", dest="tries", action="append", default=[])
    ap.add_argument("--limit", type=int)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    index = Index.open(args.index)
    questions = load_questions(args.questions, args.limit)
    base = GraphRetriever(index, RetrievalConfig(explain=False))
    qvecs = base.parts.embedder.encode([q.question for q in questions], is_query=True)
    out: dict[str, Any] = {"index": args.index, "n": len(questions), "runs": {}}
    for spec in args.tries or ["hybrid:"]:
        name, settings = parse_try(spec)
        cfg = RetrievalConfig.from_dict({"explain": False, **settings})
        g = GraphRetriever(index, cfg)
        g.parts = base.parts  # shared models, PPR matrices and caches
        g._modes = {}
        r = g.retriever()
        r.run(questions[0].question, np.asarray(qvecs[0], np.float32), 5)  # warm-up
        r2, r5, ms = [], [], []
        for q, v in zip(questions, qvecs, strict=True):
            t = time.perf_counter()
            res = r.run(q.question, np.asarray(v, np.float32), 5)
            ms.append((time.perf_counter() - t) * 1e3)
            ranked = list(dict.fromkeys(h.document for h in res.hits))
            r2.append(recall_at(ranked, q.gold, 2))
            r5.append(recall_at(ranked, q.gold, 5))
        row = {"R@2": float(np.mean(r2)), "R@5": float(np.mean(r5)), "ms": float(np.median(ms))}
        out["runs"][name] = {"settings": settings, **row}
        if not args.json:
            print(f"{name:28s} R@2 {row['R@2']:.4f}  R@5 {row['R@5']:.4f}  {row['ms']:.1f} ms")
    if args.json:
        print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
