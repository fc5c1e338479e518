"""Benchmark: does the adaptive note loop save retrieval calls without losing recall?

Runs, in one process and on the same questions, over one index:

* ``single``: one retrieval of ``top_k`` passages (the loop with ``max_step = 0``);
* ``deep``: one retrieval of ``max_top_k`` passages (same passage budget, one call);
* ``fixed``: a fixed 3-step loop: every refined note is accepted and, when the
  LLM-free policy has no bridge left, the question itself is asked again (with
  ``exclude_seen`` this pages to the next unseen passages, so all three steps
  run; without it a repeat stops the loop); no passage budget (``max_top_k`` =
  4 x ``top_k``);
* ``adaptive``: the loop with its defaults and the LLM-free judge.

For each: recall over all distinct passages seen, recall over the first 5/10/15
passages seen, mean retrieval calls and passages seen per question, stop
reasons, wall time. The goal checked at the end: adaptive recall >= fixed
recall with at most 60% of its retrieval calls.

Usage:
    python bench/bench_note.py --index /tmp/m100 \\
        --questions ../shared/data/musique100/questions.json --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from hipporag.types import Hit  # noqa: E402
from retrievers.note import GraphNotePolicy, IndexGraphView, Meter, Note, NoteLoop  # noqa: E402
from retrievers.note.config import NoteConfig  # noqa: E402
from retrievers.note.policy import Verdict  # noqa: E402

PREFIXES = (5, 10, 15)


class FixedStepPolicy:
    """Wraps a policy: the judge always accepts and a query is always proposed."""

    name = "fixed"

    def __init__(self, inner: GraphNotePolicy) -> None:
        self.inner = inner

    def first_note(self, question: str, hits: Sequence[Hit], meter: Meter) -> Note:
        return self.inner.first_note(question, hits, meter)

    def next_query(self, question: str, note: Note, queries: Sequence[str], meter: Meter) -> str:
        return self.inner.next_query(question, note, queries, meter) or question

    def refine(self, question: str, note: Note, hits: Sequence[Hit], meter: Meter) -> Note:
        return self.inner.refine(question, note, hits, meter)

    def judge(self, question: str, best: Note, candidate: Note, meter: Meter) -> Verdict:
        verdict = self.inner.judge(question, best, candidate, meter)
        return Verdict(True, f"fixed loop (judge said: {verdict.reason})", verdict.score)


def systems(base: NoteConfig) -> dict[str, NoteConfig]:
    steps = 3
    return {
        "single": NoteConfig.from_dict({**base.to_dict(), "max_step": 0}),
        "deep": NoteConfig.from_dict({**base.to_dict(), "max_step": 0, "top_k": base.max_top_k}),
        "fixed": NoteConfig.from_dict(
            {
                **base.to_dict(),
                "max_step": steps,
                "max_fail_step": steps + 1,
                "max_top_k": base.top_k * (steps + 1),
            }
        ),
        "adaptive": base,
    }


def run_system(name: str, loop: NoteLoop, questions: Sequence[Any]) -> dict[str, Any]:
    rec, prefix, calls, seen, stops, per_q = [], {p: [] for p in PREFIXES}, [], [], Counter(), []
    t0 = time.perf_counter()
    for q in questions:
        res = loop.run(q.question)
        gold = set(q.gold)
        ids = res.seen_ids
        rec.append(len(gold & set(ids)) / len(gold))
        for p in PREFIXES:
            prefix[p].append(len(gold & set(ids[:p])) / len(gold))
        calls.append(res.trace.retrieval_calls)
        seen.append(len(ids))
        stops[res.trace.stop_reason] += 1
        per_q.append(
            {
                "id": q.id,
                "recall_seen": rec[-1],
                "calls": calls[-1],
                "seen": seen[-1],
                "stop": res.trace.stop_reason,
            }
        )
    n = len(questions) or 1
    return {
        "system": name,
        "recall_seen": round(sum(rec) / n, 4),
        "recall_seen_at": {str(p): round(sum(v) / n, 4) for p, v in prefix.items()},
        "retrieval_calls": round(sum(calls) / n, 3),
        "passages_seen": round(sum(seen) / n, 2),
        "stop_reasons": dict(stops),
        "seconds": round(time.perf_counter() - t0, 1),
        "per_question": per_q,
    }


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--index", default="/tmp/m100")
    ap.add_argument(
        "--questions", default=str(ROOT.parent / "shared/data/musique100/questions.json")
    )
    ap.add_argument("--limit", type=int, help="first N questions only")
    ap.add_argument("--mode", help="retrieval mode of the facade (default: its default)")
    ap.add_argument("--systems", default="single,deep,fixed,adaptive")
    ap.add_argument("--note", default="{}", help="NoteConfig overrides as JSON")
    ap.add_argument("--json", help="write the full results here")
    args = ap.parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HIPPORAG_PROGRESS", "0")

    from pipelines.evaluate import load_questions
    from pipelines.facade import HippoRAG

    rag = HippoRAG.open(args.index, **({"mode": args.mode} if args.mode else {})).warm_up()
    questions = load_questions(args.questions, limit=args.limit)
    known = set(rag.index.passage_ids)
    questions = [q for q in questions if all(g in known for g in q.gold)]
    base = NoteConfig.from_dict({"policy": "graph", **json.loads(args.note)})
    view = IndexGraphView(rag.index)
    rag.retrieve(questions[0].question)  # untimed warm-up
    results = {}
    for name, cfg in systems(base).items():
        if name not in args.systems.split(","):
            continue
        policy: Any = GraphNotePolicy(view, cfg)
        if name == "fixed":
            policy = FixedStepPolicy(policy)
        loop = NoteLoop(rag, policy, cfg, entity_names=view.names)
        results[name] = r = run_system(name, loop, questions)
        print(
            f"{name:9s} recall_seen {r['recall_seen']:.4f}  at5/10/15 "
            f"{'/'.join(str(v) for v in r['recall_seen_at'].values())}  calls "
            f"{r['retrieval_calls']:.2f}  seen {r['passages_seen']:.1f}  {r['seconds']:.0f}s  "
            f"stops {r['stop_reasons']}",
            flush=True,
        )
    summary: dict[str, Any] = {
        "n": len(questions),
        "index": args.index,
        "mode": rag.config.mode,
        "note_config": base.to_dict(),
    }
    if "fixed" in results and "adaptive" in results:
        fx, ad = results["fixed"], results["adaptive"]
        ratio = ad["retrieval_calls"] / fx["retrieval_calls"]
        summary["goal"] = {
            "recall_gap": round(ad["recall_seen"] - fx["recall_seen"], 4),
            "calls_ratio": round(ratio, 3),
            "met": ad["recall_seen"] >= fx["recall_seen"] and ratio <= 0.6,
        }
        print(
            f"goal: adaptive/fixed calls {ratio:.2f} (<= 0.60), recall gap "
            f"{summary['goal']['recall_gap']:+.4f} (>= 0): "
            f"{'met' if summary['goal']['met'] else 'NOT met'}"
        )
    if args.json:
        Path(args.json).write_text(json.dumps({"summary": summary, "systems": results}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
