"""Do two versions of the code rank alike? Dump top-k per mode, then compare two dumps.

Run ``dump`` with each version of the code (e.g. before and after a change to
the PPR push), then ``diff`` the two files: it prints, per mode, how many
questions' top-k lists differ (and top-5)::

    python bench/bench_rank_diff.py dump IDX questions.json before.json
    python bench/bench_rank_diff.py dump IDX questions.json after.json
    python bench/bench_rank_diff.py diff before.json after.json

Example:
    >>> diff_counts({"hybrid": [["a", "b"]]}, {"hybrid": [["a", "c"]]}, top=1)
    {'hybrid': {'lists': 1, 'differ': 1, 'differ_top': 0}}
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MODES = ("hipporag1", "hipporag2", "hybrid")


def dump(index: str, questions: str, k: int = 10) -> dict[str, list[list[str]]]:
    """Top-``k`` passage ids of every question in every graph mode."""
    from hipporag import HippoRAG

    qs = [q["question"] for q in json.loads(Path(questions).read_text())]
    rag = HippoRAG.open(index)
    return {m: [rag.retrieve(q, k=k, mode=m).passage_ids for q in qs] for m in MODES}


def diff_counts(a: dict[str, Any], b: dict[str, Any], top: int = 5) -> dict[str, dict[str, int]]:
    """Per mode: lists compared, lists that differ, and lists whose first ``top`` differ."""
    out = {}
    for mode in a:
        pairs = list(zip(a[mode], b[mode], strict=True))
        out[mode] = {
            "lists": len(pairs),
            "differ": sum(x != y for x, y in pairs),
            "differ_top": sum(x[:top] != y[:top] for x, y in pairs),
        }
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("dump")
    d.add_argument("index")
    d.add_argument("questions")
    d.add_argument("out")
    d.add_argument("-k", type=int, default=10)
    c = sub.add_parser("diff")
    c.add_argument("a")
    c.add_argument("b")
    args = ap.parse_args(argv)
    if args.cmd == "dump":
        Path(args.out).write_text(json.dumps(dump(args.index, args.questions, args.k)))
    else:
        a, b = (json.loads(Path(p).read_text()) for p in (args.a, args.b))
        print(json.dumps(diff_counts(a, b)))


if __name__ == "__main__":
    main()
