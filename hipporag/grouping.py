"""Hits grouped by document: cite each document once, with the chunks that matched.

Documents are ranked by their best chunk's score (ties: the better rank); each
:class:`DocumentHit` lists its matching chunks best first with their spans.

Example:
    >>> from hipporag.types import Hit, RetrievalResult
    >>> hits = [Hit("d1#3", "Manual", "c", 0.9, 1, doc_id="d1", span=(900, 1200)),
    ...         Hit("d2", "FAQ", "b", 0.8, 2, doc_id="d2"),
    ...         Hit("d1#0", "Manual", "a", 0.7, 3, doc_id="d1", span=(0, 300))]
    >>> docs = group_by_document(RetrievalResult("q", hits, "dense"))
    >>> [(d.rank, d.doc_id, [c.span for c in d.chunks]) for d in docs]
    [(1, 'd1', [(900, 1200), (0, 300)]), (2, 'd2', [None])]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from hipporag.types import Hit, RankedItems, RetrievalResult

GROUP_BY = (None, "passage", "document")


@dataclass(slots=True)
class DocumentHit:
    """One retrieved document: its best score and its matching chunks (best first)."""

    doc_id: str
    title: str
    score: float
    rank: int
    chunks: list[Hit]
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def spans(self) -> list[tuple[int, int] | None]:
        """Character spans of the matching chunks in the document."""
        return [c.span for c in self.chunks]

    def to_dict(self) -> dict[str, Any]:
        return {
            "doc_id": self.doc_id,
            "title": self.title,
            "score": self.score,
            "rank": self.rank,
            "metadata": dict(self.metadata),
            "chunks": [c.to_dict() for c in self.chunks],
        }


@dataclass(slots=True)
class DocumentResult(RankedItems):
    """Ranked documents for one query (``retrieve(..., group_by="document")``)."""

    query: str
    documents: list[DocumentHit]
    mode: str
    flags: list[str] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)

    _items: ClassVar[str] = "documents"

    @property
    def doc_ids(self) -> list[str]:
        return [d.doc_id for d in self.documents]

    def to_polars(self):
        """One row per document: rank, doc_id, title, score, n_chunks, metadata (JSON), spans."""
        import json

        import polars as pl

        rows = [
            {
                "rank": d.rank,
                "doc_id": d.doc_id,
                "title": d.title,
                "score": d.score,
                "n_chunks": len(d.chunks),
                "metadata": json.dumps(d.metadata, ensure_ascii=False, sort_keys=True),
                "passage_ids": [c.passage_id for c in d.chunks],
            }
            for d in self.documents
        ]
        schema = {
            "rank": pl.Int64,
            "doc_id": pl.Utf8,
            "title": pl.Utf8,
            "score": pl.Float64,
            "n_chunks": pl.Int64,
            "metadata": pl.Utf8,
            "passage_ids": pl.List(pl.Utf8),
        }
        return pl.DataFrame(rows, schema=schema)

    def _repr_html_(self) -> str:
        from hipporag.display import documents_html

        return documents_html(self)


def group_by_document(result: RetrievalResult, k: int | None = None) -> DocumentResult:
    """Group ``result``'s hits by document; keep the ``k`` best documents (all if None)."""
    groups: dict[str, list[Hit]] = {}
    for h in result.hits:
        groups.setdefault(h.document, []).append(h)
    ordered = sorted(
        groups.values(), key=lambda hs: (-max(h.score for h in hs), min(h.rank for h in hs))
    )
    docs = []
    for rank, hs in enumerate(ordered[:k] if k is not None else ordered, start=1):
        hs = sorted(hs, key=lambda h: (-h.score, h.rank))
        best = hs[0]
        docs.append(DocumentHit(best.document, best.title, best.score, rank, hs, best.metadata))
    return DocumentResult(result.query, docs, result.mode, list(result.flags), result.timings_ms)


def top_documents(rank: Callable[[int], RetrievalResult], k: int, total: int) -> DocumentResult:
    """The ``k`` best documents: ``rank(n)`` (the ``n`` best passages) is asked for more
    chunks, doubling from ``4k``, until ``k`` documents are found or none are left
    (``total``: the passages that may be ranked)."""
    total = max(int(total), 1)
    want = min(k * 4, total)
    while True:
        result = rank(want)
        grouped = group_by_document(result, k)
        if len(grouped) >= k or want >= total or len(result) < want:
            return grouped
        want = min(want * 2, total)


__all__ = ["GROUP_BY", "DocumentHit", "DocumentResult", "group_by_document", "top_documents"]
