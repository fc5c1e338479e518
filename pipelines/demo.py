"""``make demo``: index the bundled demo corpus and answer a few multi-hop retrievals.

Run with ``python -m pipelines.demo [--out DIR]``. Everything is offline: the
default models ship as Python packages.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import textwrap
import time
from pathlib import Path

DEMO_DIR = Path(__file__).resolve().parent / "demo_data"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default=".demo-index", help="where to write the demo index")
    parser.add_argument("-k", type=int, default=3, help="hits to show per question")
    args = parser.parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    logging.basicConfig(level=logging.WARNING)

    from pipelines.facade import HippoRAG

    t = time.perf_counter()
    rag = HippoRAG.build(DEMO_DIR / "corpus.json", args.out)
    print(f"built {args.out} in {time.perf_counter() - t:.1f}s: {rag.index!r}\n")
    questions = json.loads((DEMO_DIR / "questions.json").read_text(encoding="utf-8"))
    for q in questions[:4]:
        result = rag.retrieve(q["question"], k=args.k)
        gold = {p["title"] for p in q["paragraphs"] if p["is_supporting"]}
        print(f"Q: {q['question']}   (answer: {q['answer']})")
        for hit in result.hits:
            mark = "*" if hit.title in gold else " "
            why = ""
            if hit.explanation and hit.explanation.path:
                why = "  via " + hit.explanation.path_text
            print(f"  {mark}{hit.rank}. [{hit.score:.3f}] {hit.title}{why}")
            print(textwrap.indent(textwrap.shorten(hit.text, 110), "       "))
        print()
    print("* = gold supporting passage.  Next: hipporag retrieve", args.out, '"your question"')
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
