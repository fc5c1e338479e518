"""Recognition memory: an LLM picks which candidate facts are relevant to the query.

HippoRAG 2 filters the facts retrieved for a query with an LLM before they
become PPR seeds. Here the model sees the question and a numbered list of at
most ``max_candidates`` facts and must answer with strict JSON
``{"relevant": [numbers]}``; at most ``max_facts`` are kept. Anything else
(transport error, prose, a wrong shape, a number out of range) is a failure,
reported in :class:`FilterOutcome` -- the caller flags the result
(``"llm_filter_failed"``); nothing falls back silently.

Example:
    >>> class Stub:
    ...     def chat(self, messages, *, json_schema=None, **params):
    ...         return '{"relevant": [2]}'
    >>> f = RecognitionFilter(Stub(), max_facts=2)
    >>> f.filter("Where was Tom born?", [("tom", "likes", "tea"), ("tom", "born in", "oslo")])
    FilterOutcome(kept=[1], failed=False, error=None)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hipporag.protocols import LLM

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"relevant": {"type": "array", "items": {"type": "integer"}}},
    "required": ["relevant"],
}

SYSTEM_PROMPT = (
    "You are the recognition memory of a retrieval system. You get a question and a "
    "numbered list of candidate facts (subject, relation, object). Select the facts that "
    "are useful to answer the question, most useful first. Reply with a JSON object only: "
    '{"relevant": [fact numbers]}, with at most MAX numbers; reply {"relevant": []} '
    "when no fact is useful."
)


@dataclass(frozen=True, slots=True)
class FilterOutcome:
    """What the filter decided.

    Attributes:
        kept: Positions (0-based) of the kept candidates, most useful first.
        failed: True when the LLM could not be used; ``kept`` is then empty.
        error: Why it failed (None on success).
    """

    kept: list[int]
    failed: bool
    error: str | None = None


def _parse(text: str, n_candidates: int) -> list[int]:
    """Strictly parse ``{"relevant": [1-based ints]}``; raise ValueError on anything else."""
    try:
        from hipporag.llm.jsonparse import parse_json_object
    except ImportError:  # pragma: no cover - the LLM package is part of the core
        parse_json_object = None
    if parse_json_object is not None:
        value = parse_json_object(text, SCHEMA, repair=False)
    else:  # pragma: no cover
        value = json.loads(text)
        if not isinstance(value, dict) or not isinstance(value.get("relevant"), list):
            raise ValueError('expected {"relevant": [numbers]}')
    numbers = value["relevant"]
    out: list[int] = []
    for n in numbers:
        if isinstance(n, bool) or not isinstance(n, int | float) or int(n) != n:
            raise ValueError(f"fact number {n!r} is not an integer")
        if not 1 <= int(n) <= n_candidates:
            raise ValueError(f"fact number {n} is outside 1..{n_candidates}")
        if int(n) - 1 not in out:
            out.append(int(n) - 1)
    return out


class RecognitionFilter:
    """Asks an :class:`~hipporag.protocols.LLM` which candidate facts matter for a query.

    Args:
        llm: Any object with the ``LLM`` protocol's ``chat`` method.
        max_facts: At most this many facts are kept (the model is told so, and
            longer answers are cut).
        max_candidates: At most this many candidates are shown to the model.

    Example:
        >>> from hipporag.config import LLMConfig                         # doctest: +SKIP
        >>> from hipporag.llm import OpenAIChatLLM                         # doctest: +SKIP
        >>> f = RecognitionFilter(OpenAIChatLLM(LLMConfig()), max_facts=4)  # doctest: +SKIP
        >>> f.filter("Who directed Big Eyes?", [("big eyes", "directed by", "tim burton")])
        ...                                                                # doctest: +SKIP
        FilterOutcome(kept=[0], failed=False, error=None)
    """

    def __init__(self, llm: LLM, max_facts: int = 4, max_candidates: int = 20) -> None:
        if max_facts < 1 or max_candidates < 1:
            raise ValueError("max_facts and max_candidates must be >= 1")
        self.llm = llm
        self.max_facts = max_facts
        self.max_candidates = max_candidates

    def messages(self, query: str, facts: Sequence[tuple[str, str, str]]) -> list[dict[str, str]]:
        """The chat messages sent for ``query`` and its candidate ``facts``."""
        lines = "\n".join(
            f"{i}. {json.dumps(list(f), ensure_ascii=False)}" for i, f in enumerate(facts, 1)
        )
        return [
            {"role": "system", "content": SYSTEM_PROMPT.replace("MAX", str(self.max_facts))},
            {"role": "user", "content": f"Question: {query}\n\nCandidate facts:\n{lines}"},
        ]

    def filter(self, query: str, facts: Sequence[tuple[str, str, str]]) -> FilterOutcome:
        """Positions of the relevant facts; never raises for LLM trouble (see ``failed``)."""
        facts = list(facts)[: self.max_candidates]
        if not facts:
            return FilterOutcome([], failed=False)
        cut_before = _truncated(self.llm)
        try:
            text = self.llm.chat(self.messages(query, facts), json_schema=SCHEMA)
            kept = _parse(text, len(facts))
        except Exception as err:  # any LLM trouble is reported, never swallowed silently
            cut = _truncated(self.llm) > cut_before
            return FilterOutcome([], failed=True, error=_describe(err, self.llm, cut))
        return FilterOutcome(kept[: self.max_facts], failed=False)


def _truncated(llm: Any) -> int:
    """How many replies of ``llm`` stopped at ``max_tokens`` so far (0 if it does not say)."""
    usage = getattr(llm, "usage", None)
    try:
        u = usage() if callable(usage) else None
        return int(u.get("truncated", 0) if isinstance(u, dict) else getattr(u, "truncated", 0))
    except Exception:  # a client's counters must never break the filter
        return 0


def _describe(err: Exception, llm: Any, cut: bool) -> str:
    """``Type: message`` of a failure, with the hint that fits the client's settings.

    A reply cut at ``max_tokens`` is not fixed by a JSON schema; a schema that
    is on already is not the fix either.
    """
    message = getattr(err, "message", None) or str(err)
    hint = getattr(err, "hint", None)
    config = getattr(llm, "config", None)
    if cut:
        limit = getattr(config, "max_tokens", None)
        hint = (
            f"the reply stopped at llm.max_tokens ({limit}) before the JSON was complete; "
            "raise llm.max_tokens"
        )
    elif hint and "json_schema" in hint and getattr(config, "json_schema", False):
        hint = (
            "llm.json_schema is on, but the server did not follow the schema; use a server "
            "that supports response_format (llama.cpp, vLLM, OpenAI) or a stronger model"
        )
    text = f"{type(err).__name__}: {message}"
    return f"{text}\n  how to fix: {hint}" if hint else text


__all__ = ["SCHEMA", "FilterOutcome", "RecognitionFilter"]
