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

from pipelines.evaluate import KS, Outcome, aggregate, load_questions
from pipelines.facade import HippoRAG
from retrievers.config import RetrievalConfig

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
        g.ppr = base.ppr  # share the PPR matrices
        ranker = g.retriever(cfg.mode)  # the registered retriever of this mode
        outcomes = []
        for q, v in zip(usable, vecs, strict=True):
            res = ranker.run(q.question, v, max(KS))
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

    from pipelines.facade import shared_embedder

    torch.set_num_threads(1)
    emb = rag.retriever.embedder
    texts = [q.question for q in questions]
    # correctness of the fast paths over every question
    full = emb.encode(texts, is_query=True)
    fast = np.stack([emb.encode_query(t) for t in texts])
    diffs = {"torch encode_query": float(np.abs(full - fast).max())}
    onnx = None
    try:
        onnx = shared_embedder(rag.index.config.embedding, "onnx")
        diffs["onnx encode"] = float(np.abs(full - onnx.encode(texts, is_query=True)).max())
    except Exception as err:  # onnxruntime missing: report, measure the rest
        print(f"  (onnx backend unavailable: {err})")

    def variant(**over: Any) -> HippoRAG:
        r = HippoRAG.open(rag.path, rag.config, **over)
        r.retriever.ppr = rag.retriever.ppr  # share the PPR matrices
        return r.warm_up()

    variants: dict[str, Any] = {
        "encode: SentenceTransformer.encode": lambda t: emb.encode([t], is_query=True),
        "encode: torch encode_query fast path": emb.encode_query,
    }
    if onnx is not None:
        variants["encode: onnx encode([q])"] = lambda t: onnx.encode([t], is_query=True)
    runs = {
        "hybrid (default config), explain on": rag,
        "hybrid, explain off": variant(explain=False),
        "hybrid, PPR power, explain off": variant(ppr_method="power", explain=False),
        "hipporag2, explain off": variant(mode="hipporag2", explain=False),
    }
    if onnx is not None:
        runs["hybrid, query_backend=onnx, explain on"] = variant(query_backend="onnx")
        runs["hybrid, query_backend=onnx, explain off"] = variant(
            query_backend="onnx", explain=False
        )
    for name, r in runs.items():
        variants["retrieve k=5: " + name] = lambda t, r=r: r.retrieve(t, k=5)
    for f in variants.values():  # warm up every path
        f(texts[0])
    times: dict[str, list[float]] = {name: [] for name in variants}
    stages: dict[str, dict[str, list[float]]] = {}
    for _ in range(repeats):
        for t in texts:
            for name, f in variants.items():
                t0 = time.perf_counter()
                res = f(t)
                times[name].append((time.perf_counter() - t0) * 1e3)
                if name.startswith("retrieve") and "explain on" in name:
                    per = stages.setdefault(name, {})
                    for stage, ms in res.timings_ms.items():
                        per.setdefault(stage, []).append(ms)
    summary = {
        name: {"p50": float(np.percentile(v, 50)), "p95": float(np.percentile(v, 95))}
        for name, v in times.items()
    }
    return {
        "max_abs_diff_vs_encode": diffs,
        "variants_ms": summary,
        "stages_p50_ms": {
            n: {s: statistics.median(v) for s, v in per.items()} for n, per in stages.items()
        },
        "n_calls": len(texts) * repeats,
        "torch_threads": torch.get_num_threads(),
        "cpu_affinity": sorted(os.sched_getaffinity(0)),
        "load_average": os.getloadavg(),
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
            entry["latency"] = lat = latency(rag, questions, args.repeats)
            for v, st in lat["variants_ms"].items():
                print(f"  {v:58s} p50 {st['p50']:7.2f}  p95 {st['p95']:7.2f}")
            for v, st in lat["stages_p50_ms"].items():
                print(f"  stages p50 [{v}]:", {k: round(x, 2) for k, x in st.items()})
            print("  max |diff| vs SentenceTransformer.encode:", lat["max_abs_diff_vs_encode"])
            print("  load average:", lat["load_average"], flush=True)
        report["indexes"][name] = entry
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
