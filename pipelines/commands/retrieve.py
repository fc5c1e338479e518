"""``hipporag retrieve``: ranked passages for one question, with why each was retrieved.

Example:
    $ hipporag retrieve my-index "Who directed the film that won the award in 1987?" -k 5
    $ hipporag retrieve my-index "..." --mode hipporag2 --json
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import textwrap
from typing import Any

from hipporag.types import Hit, RetrievalResult
from pipelines.commands._retrieval_args import add_retrieval_options, mode_help, retrieval_config
from pipelines.termsafe import json_safe, printable


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("retrieve", help="retrieve passages for a question, explained")
    p.add_argument("index", metavar="INDEX_DIR")
    p.add_argument("query", metavar="QUESTION")
    p.add_argument("-k", type=int, default=5, help="number of passages (default 5)")
    p.add_argument("--mode", metavar="MODE", help=mode_help())
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    add_retrieval_options(p)
    p.set_defaults(func=run)


def _wrap(text: str, indent: str, width: int) -> str:
    return textwrap.fill(
        text,
        width=width,
        initial_indent=indent,
        subsequent_indent=indent,
        max_lines=3,
        placeholder=" ...",
    )


def format_hit(hit: Hit, width: int = 100) -> str:
    """A few readable lines for one hit."""
    lines = [f"{hit.rank:>2}. {hit.title}   score {hit.score:.4g}"]
    lines.append(_wrap(hit.text, "      ", width))
    e = hit.explanation
    if e is not None:
        parts = []
        if e.dense_score is not None:
            parts.append(f"dense {e.dense_score:.3f}")
        if e.ppr_score is not None:
            parts.append(f"ppr {e.ppr_score:.2e}")
        if parts:
            lines.append("      why: " + ", ".join(parts))
        if e.path:
            lines.append("      path: " + " -> ".join(e.path))
        if e.connecting_entities:
            lines.append("      via entities: " + ", ".join(e.connecting_entities))
    return "\n".join(lines)


def format_result(result: RetrievalResult, width: int = 100) -> str:
    head = f"query: {result.query}\nmode: {result.mode}"
    if result.flags:
        head += f"   flags: {', '.join(result.flags)}"
    seeds = result.hits[0].explanation.seeds if result.hits and result.hits[0].explanation else []
    if seeds:
        head += "\nseeds: " + ", ".join(f"{s.node} ({s.weight:.3f})" for s in seeds[:6])
    body = "\n".join(format_hit(h, width) for h in result.hits)
    total = result.timings_ms.get("total")
    tail = f"\n({total:.1f} ms)" if total is not None else ""
    return f"{head}\n\n{body}{tail}"


def run(args: argparse.Namespace) -> int:
    from pipelines.facade import HippoRAG

    config = retrieval_config(args)
    rag = HippoRAG.open(args.index, config)
    result = rag.retrieve(args.query, k=args.k, mode=args.mode)
    if args.json:
        print(json_safe(json.dumps(result.to_dict(), ensure_ascii=False)))
    else:
        width = min(shutil.get_terminal_size((100, 20)).columns, 120)
        print(printable(format_result(result, width)))
    sys.stdout.flush()
    return 0
