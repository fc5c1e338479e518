"""Retrieval benchmark: recall@k of every mode and fusion variant, and one-core latency.

All variants are measured in the same run, on the same query vectors, so they
compare fairly. Latency variants are interleaved question by question (A, B,
A, B, ...) so machine noise hits them alike; medians are reported.

Usage (the figures in docs/bench_retrieval.md)::

    taskset -c 0 .venv/bin/python bench/bench_retrieval.py \\
        --index gpt35=/tmp/m100 --index spacy=/tmp/m100_spacy \\
        --questions ../shared/data/musique100/questions.json \\
        --json /tmp/bench_retrieval.json

``--skip-latency`` / ``--skip-recall`` run one half; ``--grid`` adds the
fusion-parameter sensitivity grid.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hipporag.config import RetrievalConfig  # noqa: E402
from pipelines.evaluate import KS, Outcome, aggregate, load_questions  # noqa: E402
from pipelines.facade import HippoRAG  # noqa: E402

# name -> RetrievalConfig overrides. The first four are the published styles + our default.
MODES: dict[str, dict[str, Any]] = {
    "dense": {"mode": "dense"},
    "hipporag1": {"mode": "hipporag1"},
    "hipporag2": {"mode": "hipporag2"},
    "hybrid (default)": {"mode": "hybrid"},
    "hybrid rrf": {"mode": "hybrid", "fusion": "rrf"},
}
GRID: dict[str, dict[str, Any]] = {
    **{f"dense_prior T={t}": {"mode": "hybrid", "temperature": t} for t in (0.01, 0.03, 0.05)},
    **{f"dense_prior mass={m}": {"mode": "hybrid", "entity_mass": m} for m in (0.0, 0.5)},
    **{f"dense_prior damping={d}": {"mode": "hybrid", "damping": d} for d in (0.3, 0.7)},
    **{f"dense_prior top_facts={f}": {"mode": "hybrid", "top_facts": f} for f in (3, 10)},
    "hipporag2 passage_weight=0.2": {"mode": "hipporag2", "passage_weight": 0.2},
    "hybrid rrf k=10": {"mode": "hybrid", "fusion": "rrf", "rrf_k": 10},
}


def recall_table(
    rag: HippoRAG, questions: list, variants: dict[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Recall of each variant (query vectors encoded once and shared)."""
    from retrievers.graph import GraphRetriever

    base = rag.retriever
    known = set(rag.index.passage_ids)
    usable = [q for q in questions if all(g in known for g in q.gold)]
    vecs = base.embedder.encode([q.question for q in usable], is_query=True)
    out = {}
    for name, over in variants.items():
        cfg = RetrievalConfig.from_dict({**RetrievalConfig().to_dict(), **over, "explain": False})
        g = GraphRetriever(rag.index, cfg, embedder=base.embedder)
        g._ppr = base.ppr  # share the PPR matrices
        outcomes = []
        for q, v in zip(usable, vecs, strict=True):
            if cfg.mode == "dense":
                res = g.dense._result(q.question, v, max(KS), None, time.perf_counter())
            else:
                res = g._graph(q.question, v, max(KS), cfg.mode, {}, None, time.perf_counter())
            outcomes.append(Outcome([h.passage_id for h in res.hits]))
        rep = aggregate(name, usable, outcomes, [0.0] * len(outcomes))
        out[name] = {
            "recall": rep.recall,
            "recall_by_hops": rep.recall_by_hops,
            "n": rep.n,
            "missing": len(questions) - len(usable),
        }
        print(f"  {name:32s}" + " ".join(f"{rep.recall[k]:.4f}" for k in KS), flush=True)
    return out


def latency(rag: HippoRAG, questions: list, repeats: int) -> dict[str, Any]:
    """One-core latency of the default retrieval and its parts, variants interleaved."""
    import torch

    torch.set_num_threads(1)
    emb = rag.retriever.embedder
    texts = [q.question for q in questions]
    # correctness of the fast path over every question
    full = emb.encode(texts, is_query=True)
    fast = np.stack([emb.encode_query(t) for t in texts])
    max_diff = float(np.abs(full - fast).max())
    variants = {
        "encode: SentenceTransformer.encode": lambda t: emb.encode([t], is_query=True),
        "encode: encode_query fast path": emb.encode_query,
    }
    rag_noexpl = HippoRAG.open(rag.path, rag.config, explain=False)
    rag_power = HippoRAG.open(rag.path, rag.config, ppr_method="power", explain=False)
    rag_h2 = HippoRAG.open(rag.path, rag.config, mode="hipporag2", explain=False)
    for r in (rag_noexpl, rag_power, rag_h2):
        r.retriever._ppr = rag.retriever.ppr
        r.retriever.embedder = emb
        r.retriever.dense.embedder = emb
    variants.update({
        "retrieve hybrid k=5, explain on": lambda t: rag.retrieve(t, k=5),
        "retrieve hybrid k=5, explain off": lambda t: rag_noexpl.retrieve(t, k=5),
        "retrieve hybrid k=5, PPR power, explain off": lambda t: rag_power.retrieve(t, k=5),
        "retrieve hipporag2 k=5, explain off": lambda t: rag_h2.retrieve(t, k=5),
    })
    for f in variants.values():  # warm up every path
        f(texts[0])
    times: dict[str, list[float]] = {name: [] for name in variants}
    stages: dict[str, list[float]] = {}
    for _ in range(repeats):
        for t in texts:
            for name, f in variants.items():
                t0 = time.perf_counter()
                res = f(t)
                times[name].append((time.perf_counter() - t0) * 1e3)
                if name == "retrieve hybrid k=5, explain on":
                    for stage, ms in res.timings_ms.items():
                        stages.setdefault(stage, []).append(ms)
    summary = {
        name: {"p50": float(np.percentile(v, 50)), "p95": float(np.percentile(v, 95))}
        for name, v in times.items()
    }
    return {
        "encode_query_max_abs_diff": max_diff,
        "variants_ms": summary,
        "stages_p50_ms": {s: statistics.median(v) for s, v in stages.items()},
        "n_calls": len(texts) * repeats,
        "torch_threads": torch.get_num_threads(),
        "cpu_affinity": sorted(os.sched_getaffinity(0)),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--index", action="append", required=True, metavar="NAME=PATH")
    ap.add_argument("--questions", required=True)
    ap.add_argument("--limit", type=int)
    ap.add_argument("--repeats", type=int, default=3, help="latency passes over the questions")
    ap.add_argument("--grid", action="store_true", help="add the fusion sensitivity grid")
    ap.add_argument("--skip-latency", action="store_true")
    ap.add_argument("--skip-recall", action="store_true")
    ap.add_argument("--json", help="write all figures here")
    args = ap.parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    questions = load_questions(args.questions, args.limit)
    report: dict[str, Any] = {"indexes": {}, "ks": list(KS)}
    for item in args.index:
        name, _, path = item.partition("=")
        rag = HippoRAG.open(path).warm_up()
        entry: dict[str, Any] = {"path": path, "counts": rag.index.counts}
        if not args.skip_recall:
            print(f"[{name}] recall@{','.join(map(str, KS))}", flush=True)
            variants = {**MODES, **(GRID if args.grid else {})}
            entry["recall"] = recall_table(rag, questions, variants)
        if not args.skip_latency and name == args.index[0].partition("=")[0]:
            print(f"[{name}] latency (one thread)", flush=True)
            entry["latency"] = latency(rag, questions, args.repeats)
            for v, s in entry["latency"]["variants_ms"].items():
                print(f"  {v:48s} p50 {s['p50']:7.2f}  p95 {s['p95']:7.2f}")
            print("  stages p50:", {k: round(v, 2) for k, v in entry["latency"]["stages_p50_ms"].items()})
            print("  encode_query max |diff| vs encode:", entry["latency"]["encode_query_max_abs_diff"])
        report["indexes"][name] = entry
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
