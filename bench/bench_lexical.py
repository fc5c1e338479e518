"""Recall of retrieval settings side by side on one index (queries encoded once).

Each ``--try NAME:KEY=VALUE,KEY=VALUE`` runs every question through the
retriever of those settings (``mode=...`` picks the mode) and prints one line
(R@2, R@5, mean ms of the ranking after encoding). The questions are
encoded once for all settings, so the comparison is of the ranking alone.

With several indexes (``--index NAME=PATH``, repeatable) ``--markdown``
prints one table, a row per setting and R@2 / R@5 per index, plus the cited
peer rows (LinearRAG and the official HippoRAG 2, from ``../shared/peer`` and
the issue; they are not rerun here).

Usage:
    python bench/bench_lexical.py --index spacy=/tmp/lex-m100-spacy \\
        --index gpt35=/tmp/lex-m100-gpt35 --questions Q.json \\
        --try dense:mode=dense --try "hybrid, lexical off:lexical_mass=0" \\
        --try "hybrid default:" --try lexical:mode=lexical --markdown
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
    ap.add_argument("index", nargs="?")
    ap.add_argument("--index", dest="indexes", action="append", default=[])
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--questions", required=True)
    ap.add_argument("--try", dest="tries", action="append", default=[])
    ap.add_argument("--limit", type=int)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if args.indexes:
        runs = {}
        for item in args.indexes:
            name, _, path = item.partition("=")
            sub = [path, "--questions", args.questions, "--json"]
            sub += [f"--try={t}" for t in args.tries] + (
                ["--limit", str(args.limit)] if args.limit else []
            )
            runs[name] = main_quiet(sub)
        if args.markdown:
            print(markdown(runs))
        return runs
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


# Cited, not rerun: LinearRAG with this project's models (../shared/peer/README.md) and
# the official HippoRAG 2.0.0a4 with GPT-3.5 triples (issue 20's table).
CITED = {
    "LinearRAG, MiniLM + en_core_web_sm (cited)": (0.4942, 0.6700),
    "official HippoRAG 2.0.0a4, GPT-3.5 triples (cited)": (0.4375, 0.6725),
}


def main_quiet(argv: list[str]) -> dict[str, Any]:
    """:func:`main` with its JSON line swallowed (the caller prints the table)."""
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        return main(argv)


def markdown(runs: dict[str, dict[str, Any]]) -> str:
    """One table: a row per setting, R@2 / R@5 per index, then the cited rows."""
    names = list(runs)
    head = "| setting | " + " | ".join(f"{n} R@2 / R@5" for n in names) + " |"
    lines = [head, "|" + " --- |" * (len(names) + 1)]
    settings = list(next(iter(runs.values()))["runs"]) if runs else []
    for s in settings:
        cells = [
            f"{runs[n]['runs'][s]['R@2']:.4f} / {runs[n]['runs'][s]['R@5']:.4f}" for n in names
        ]
        lines.append(f"| {s} | " + " | ".join(cells) + " |")
    for s, (r2, r5) in CITED.items():
        lines.append(f"| {s} | " + " | ".join(f"{r2:.4f} / {r5:.4f}" for _ in names) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
