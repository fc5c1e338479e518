"""The plain path of ``hipporag answer`` (``--mode`` a retrieval mode): retrieve, then read.

Example:
    >>> from pipelines.answers import Answer
    >>> print(render_cited(Answer("Who?", None, refusal="not supported by the retrieved "
    ...     "passages: the model said so")))
    answer: not supported by the retrieved passages: the model said so
"""

from __future__ import annotations

import argparse
import json
import textwrap
from typing import Any

from hipporag.errors import ConfigError
from pipelines.termsafe import json_safe, printable


def render_cited(answer: Any) -> str:
    """The answer with its numbered sources, or the refusal, as text lines."""
    if not answer.supported:
        lines = [f"answer: {answer.refusal}"]
        if answer.raw.strip():
            lines.append(f"  (the model replied: {textwrap.shorten(answer.raw, 120)})")
    else:
        lines = [f"answer: {answer.text}"]
        for c in answer.citations:
            where = f", chars {c.span[0]}-{c.span[1]}" if c.span else ""
            doc = f"doc {c.doc_id}, " if c.doc_id != c.passage_id else ""
            lines.append(f"  [{c.n}] {c.title}  ({doc}passage {c.passage_id}{where})")
    if answer.invalid_citations:
        shown = len(answer.passages)
        lines.append(
            f"  dropped citations {answer.invalid_citations}: only [1]..[{shown}] were shown"
        )
    return "\n".join(lines)


def render_plain(answer: Any) -> str:
    """The report of the plain path: answer, citations, the numbered passages, timings."""
    lines = [render_cited(answer), f"\npassages shown ({answer.mode}):"]
    for i, hit in enumerate(answer.passages, 1):
        lines.append(f"  [{i}] {hit.title}  score {hit.score:.4g}  ({hit.passage_id})")
        e = hit.explanation
        if e is not None and e.path:
            lines.append(f"       path: {e.path_text}")
        lines.append(textwrap.indent(textwrap.shorten(hit.text, 160), "       "))
    t = answer.timings_ms
    extra = f", rerank {t['rerank']:.0f} ms" if "rerank" in t else ""
    lines.append(
        f"\n({t.get('total', 0.0):.0f} ms: retrieve {t.get('retrieve', 0.0):.0f}{extra}, "
        f"read {t.get('read', 0.0):.0f}; {answer.llm_calls} LLM call)"
    )
    return "\n".join(lines)


def run_plain(args: argparse.Namespace, llm: Any) -> int:
    """``hipporag answer --mode MODE``: one retrieval, one cited answer."""
    from pipelines.commands._rerank_args import apply_rerank
    from pipelines.commands.retrieve import filters_from_args
    from pipelines.facade import HippoRAG
    from retrievers.config import RetrievalConfig

    if llm is None:
        raise ConfigError(
            f"answer --mode {args.mode} reads the passages with an LLM, and none is configured",
            hint="pass --llm-base-url URL --llm-model M, or use --mode note (works without one)",
        )
    config = apply_rerank(RetrievalConfig.from_dict({"mode": args.mode}), args)
    rag = HippoRAG.open(args.index, config)
    filters = filters_from_args(getattr(args, "filter", None))
    out = rag.answer(args.question, k=args.k, mode=args.mode, filters=filters, llm=llm)
    if args.json:
        print(json_safe(json.dumps(out.to_dict(), indent=2, ensure_ascii=False)))
    else:
        print(printable(render_plain(out)))
    return 0


__all__ = ["render_cited", "render_plain", "run_plain"]
