"""The rerank stage: reorder the top hits of any retrieval result.

:func:`rerank_result` takes a :class:`~hipporag.types.RetrievalResult` with
(at least) ``top_n`` hits, lets a reranker order the first ``top_n`` and
returns the best ``k``, ranks renumbered, the time spent in
``timings_ms["rerank"]`` (also added to ``total``) and, per reranked hit, the
flag ``reranked``. A cross-encoder's score replaces the hit's score; an LLM
gives an order only, so scores are kept. When the reranker fails the order is
kept and the result carries the flag ``rerank_failed``.

Example:
    >>> from hipporag.types import Hit, RetrievalResult
    >>> hits = [Hit(f"p{i}", f"T{i}", f"text {i}", 1.0 - i / 10, i + 1) for i in range(3)]
    >>> class Reverse:
    ...     kind = "test"
    ...     def order(self, query, texts):
    ...         return list(range(len(texts)))[::-1], None
    >>> out = rerank_result(RetrievalResult("q", hits, "hybrid"), Reverse(), top_n=3, k=2)
    >>> [h.passage_id for h in out.hits], [h.rank for h in out.hits], "rerank" in out.timings_ms
    (['p2', 'p1'], [1, 2], True)
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from typing import Any

from hipporag.config import LLMConfig
from hipporag.types import Explanation, Hit, RetrievalResult
from retrievers.rerank.config import RerankConfig
from retrievers.rerank.llm import RerankFailed

_RERANKERS: dict[str, Any] = {}
_LOCK = threading.Lock()


def make_reranker(config: RerankConfig, llm: LLMConfig | None = None) -> Any:
    """The reranker of ``config`` (None when ``kind = "none"``), one per process and config.

    ``llm`` is the endpoint of an LLM reranker (``config.model`` replaces its model).
    """
    if not config.enabled:
        return None
    llm = llm or LLMConfig()
    if config.kind == "llm" and config.model:
        llm = LLMConfig.from_dict(
            {**llm.to_dict(), "base_url": llm.base_url, "model": config.model}
        )
    key = repr((config, llm if config.kind == "llm" else None))
    with _LOCK:
        found = _RERANKERS.get(key)
        if found is None:
            found = _RERANKERS[key] = _build(config, llm)
        return found


def _build(config: RerankConfig, llm: LLMConfig) -> Any:
    if config.kind == "cross-encoder":
        from retrievers.rerank.cross import CrossEncoderReranker

        return CrossEncoderReranker(
            config.model, device=config.device, batch_size=config.batch_size
        )
    from hipporag.llm import LLMCache, OpenAIChatLLM
    from retrievers.rerank.llm import LLMReranker

    chat = OpenAIChatLLM(llm, cache=LLMCache.from_config(llm))
    return LLMReranker(chat, passage_chars=config.passage_chars, max_tokens=config.max_tokens)


def _text(hit: Hit) -> str:
    return f"{hit.title}\n{hit.text}" if hit.title else hit.text


def _flag(hit: Hit, score: float | None) -> Hit:
    e = hit.explanation or Explanation()
    flags = [*e.flags, "reranked"] if "reranked" not in e.flags else list(e.flags)
    return replace(
        hit,
        score=hit.score if score is None else score,
        explanation=replace(e, flags=flags),
    )


def rerank_result(result: RetrievalResult, reranker: Any, *, top_n: int, k: int) -> RetrievalResult:
    """The ``k`` best hits after ``reranker`` ordered the first ``top_n`` of ``result``."""
    start = time.perf_counter()
    head, tail = list(result.hits[:top_n]), list(result.hits[top_n:])
    flags = list(result.flags)
    try:
        order, scores = reranker.order(result.query, [_text(h) for h in head])
        head = [_flag(head[i], None if scores is None else scores[j]) for j, i in enumerate(order)]
    except RerankFailed:
        flags.append("rerank_failed")
    hits = [replace(h, rank=r) for r, h in enumerate((head + tail)[:k], 1)]
    ms = (time.perf_counter() - start) * 1e3
    timings = dict(result.timings_ms)
    timings["rerank"] = ms
    if "total" in timings:
        timings["total"] = timings.pop("total") + ms  # stays last
    return RetrievalResult(result.query, hits, result.mode, flags, timings)


__all__ = ["make_reranker", "rerank_result"]
