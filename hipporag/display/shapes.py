"""What the HTML views read from the objects they show, as protocols.

:mod:`hipporag.display` sits below the types it renders: ``Index`` and
``RetrievalResult`` call it from ``_repr_html_``, so it must not import them
back. It types its arguments with these protocols instead; the real classes
match them structurally.

Example:
    >>> from hipporag.types import Hit, RetrievalResult
    >>> r = RetrievalResult("q", [Hit("p1", "T", "text", 0.5, 1)], "dense")
    >>> isinstance(r, ResultLike) and isinstance(r.hits[0], HitLike)
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class IndexLike(Protocol):
    """An index as the summary card reads it: its directory and its manifest."""

    path: Path
    meta: dict[str, Any]


@runtime_checkable
class HitLike(Protocol):
    """One ranked passage (:class:`hipporag.types.Hit`)."""

    passage_id: str
    title: str
    text: str
    score: float
    rank: int
    explanation: Any
    doc_id: str
    metadata: dict[str, Any]
    span: tuple[int, int] | None


@runtime_checkable
class ResultLike(Protocol):
    """Ranked hits for one query (:class:`hipporag.types.RetrievalResult`)."""

    query: str
    mode: str
    flags: list[str]
    timings_ms: dict[str, float]

    @property
    def hits(self) -> Sequence[HitLike]: ...


__all__ = ["HitLike", "IndexLike", "ResultLike"]
