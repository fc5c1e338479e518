"""``hipporag retrieve``: ranked passages for one question, with why each was retrieved.

Example:
    $ hipporag retrieve my-index "Who directed the film that won the award in 1987?" -k 5
    $ hipporag retrieve my-index "..." --mode hipporag2 --json
    $ hipporag retrieve my-index "..." --filter lang=en --filter "year>=2020" --group-by document
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import textwrap
from typing import Any

from hipporag.errors import InputError
from hipporag.filters import and_filters, parse_filter_args, validate_filters
from hipporag.grouping import DocumentResult
from hipporag.types import Hit, RetrievalResult
from pipelines.commands._rerank_args import add_rerank_options, apply_rerank
from pipelines.commands._retrieval_args import add_retrieval_options, mode_help, retrieval_config
from pipelines.termsafe import json_safe, printable


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("retrieve", help="retrieve passages for a question, explained")
    p.add_argument("index", metavar="INDEX_DIR")
    p.add_argument("query", metavar="QUESTION")
    p.add_argument("-k", type=int, default=5, help="number of passages (default 5)")
    p.add_argument("--mode", metavar="MODE", help=mode_help())
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    p.add_argument(
        "--filter",
        action="append",
        metavar="KEY=VALUE",
        help="only passages whose metadata match: KEY=V, KEY=A,B (any of), KEY!=V, "
        "KEY>=N (also >, <, <=; numbers or ISO dates) or a JSON filter spec; repeatable (AND)",
    )
    p.add_argument(
        "--group-by",
        choices=("document",),
        help="return documents ranked by their best chunk, each with its matching chunks",
    )
    add_retrieval_options(p)
    add_rerank_options(p)
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
    lines = [f"{hit.rank:>2}. {hit.title}   score {hit.score:.4g}{_where(hit)}"]
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
            lines.append("      path: " + e.path_text)
        if e.connecting_entities:
            lines.append("      via entities: " + ", ".join(e.connecting_entities))
    return "\n".join(lines)


def _where(hit: Hit) -> str:
    out = ""
    if hit.doc_id and hit.doc_id != hit.passage_id:
        out += f"   doc {hit.doc_id}"
    if hit.span:
        out += f" chars {hit.span[0]}-{hit.span[1]}"
    if hit.metadata:
        out += "   " + json.dumps(hit.metadata, ensure_ascii=False, sort_keys=True)[:120]
    return out


def format_documents(result: DocumentResult, width: int = 100) -> str:
    """Readable lines for documents grouped from hits (``--group-by document``)."""
    lines = [f"query: {result.query}\nmode: {result.mode}", ""]
    for d in result.documents:
        meta = (
            json.dumps(d.metadata, ensure_ascii=False, sort_keys=True)[:120] if d.metadata else ""
        )
        lines.append(f"{d.rank:>2}. {d.title}   score {d.score:.4g}   doc {d.doc_id}   {meta}")
        for c in d.chunks:
            span = f"chars {c.span[0]}-{c.span[1]}" if c.span else "whole document"
            lines.append(f"      [{span}, score {c.score:.4g}]")
            lines.append(_wrap(c.text, "        ", width))
    return "\n".join(lines)


def filters_from_args(values: list[str] | None) -> dict[str, Any] | None:
    """``--filter`` words (or JSON specs) as one filter spec (AND of all); None when none."""
    if not values:
        return None
    specs: list[dict[str, Any]] = []
    words = []
    for v in values:
        if v.lstrip().startswith("{"):
            try:
                data = json.loads(v)
            except json.JSONDecodeError as err:
                raise InputError(
                    f"--filter {v[:60]!r} is not valid JSON: {err.msg}",
                    hint='e.g. --filter \'{"year": {"gte": 2020}}\'',
                ) from None
            except RecursionError:
                raise InputError(
                    f"--filter {v[:60]!r}... nests too deeply",
                    hint="write conditions at most 32 levels deep",
                ) from None
            specs.append(validate_filters(data))
        else:
            words.append(v)
    return and_filters(*specs, parse_filter_args(words)) or {}


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
    if tail and "rerank" in result.timings_ms:
        tail = tail[:-1] + f", rerank {result.timings_ms['rerank']:.1f} ms)"
    return f"{head}\n\n{body}{tail}"


def run(args: argparse.Namespace) -> int:
    from pipelines.facade import HippoRAG

    config = apply_rerank(retrieval_config(args), args)
    rag = HippoRAG.open(args.index, config)
    filters = filters_from_args(getattr(args, "filter", None))
    result = rag.retrieve(
        args.query, k=args.k, mode=args.mode, filters=filters, group_by=args.group_by
    )
    if args.json:
        print(json_safe(json.dumps(result.to_dict(), ensure_ascii=False)))
    else:
        width = min(shutil.get_terminal_size((100, 20)).columns, 120)
        if isinstance(result, DocumentResult):
            print(printable(format_documents(result, width)))
        else:
            print(printable(format_result(result, width)))
    sys.stdout.flush()
    return 0
