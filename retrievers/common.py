"""Input checks and small helpers shared by the retrievers.

Every public ``retrieve`` validates its arguments here, so bad input fails
the same way everywhere: a :class:`~hipporag.errors.RetrievalError` saying
what is wrong and how to fix it.

``k`` larger than the corpus is not an error: all passages are returned,
ranked (documented policy: a caller asking for "the best 20" of a 10-passage
corpus gets all 10).

Example:
    >>> check_query("  Who founded Rome? ")
    'Who founded Rome?'
    >>> check_k(5)
    5
"""

from __future__ import annotations

import math
import operator
import threading
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from hipporag.errors import RetrievalError
from hipporag.index import Index
from hipporag.types import Explanation, Hit, Passage


def check_query(query: object) -> str:
    """Return the stripped query; raise if it is not a non-empty string."""
    if not isinstance(query, str):
        raise RetrievalError(
            f"query must be a string, got {type(query).__name__}",
            hint="pass the question as text, e.g. retrieve('Who founded Rome?')",
        )
    text = query.strip()
    if not text:
        raise RetrievalError("query is empty", hint="pass a non-empty question")
    return text


def check_queries(queries: object) -> list[str]:
    """Validate a batch of queries (a list or tuple of non-empty strings)."""
    if isinstance(queries, str) or not isinstance(queries, Sequence):
        raise RetrievalError(
            f"queries must be a list of strings, got {type(queries).__name__}",
            hint="for a single query use retrieve(query, k)",
        )
    out = []
    for i, q in enumerate(queries):
        try:
            out.append(check_query(q))
        except RetrievalError as err:
            raise RetrievalError(f"queries[{i}]: {err.message}", hint=err.hint) from None
    return out


def check_k(k: object) -> int:
    """Return ``k`` as an int >= 1; raise otherwise (k > corpus size is allowed)."""
    if isinstance(k, bool):
        raise RetrievalError(f"k must be an integer, got {k!r}", hint="pass e.g. k=5")
    try:
        value = operator.index(k)  # type: ignore[arg-type]
    except TypeError:
        raise RetrievalError(f"k must be an integer, got {k!r}", hint="pass e.g. k=5") from None
    if value < 1:
        raise RetrievalError(
            f"k must be >= 1, got {value}", hint="k is the number of passages to return"
        )
    return value


def check_extra_seeds(extra: Mapping[int, float] | None, n_entities: int) -> dict[int, float]:
    """Validate ``{entity_idx: weight}`` extra seeds; zero weights are dropped."""
    if not extra:
        return {}
    if not isinstance(extra, Mapping):
        raise RetrievalError(
            f"extra_seeds must be a mapping entity_idx -> weight, got {type(extra).__name__}",
            hint="e.g. {hipporag.entity_index('paris'): 1.0}",
        )
    out: dict[int, float] = {}
    for key, weight in extra.items():
        try:
            node = operator.index(key)
            w = float(weight)
        except (TypeError, ValueError):
            raise RetrievalError(
                f"extra_seeds entry {key!r}: {weight!r} is not entity_idx -> weight",
                hint="use integer entity indexes (HippoRAG.entity_index(name)) and float weights",
            ) from None
        if not 0 <= node < n_entities:
            raise RetrievalError(
                f"extra_seeds names entity {node}, the index has entities 0..{n_entities - 1}",
                hint="look entity indexes up with HippoRAG.entity_index(name)",
            )
        if not (math.isfinite(w) and w >= 0):
            raise RetrievalError(
                f"extra_seeds weight of entity {node} must be finite and >= 0, got {weight!r}",
            )
        if w > 0:
            out[node] = out.get(node, 0.0) + w
    return out


def exclusion_mask(index: Index, exclude: Iterable[str | int] | None) -> np.ndarray | None:
    """Boolean mask over passages to leave out: ``passage_id`` strings or ``passage_idx`` ints."""
    if exclude is None:
        return None
    items = list(exclude)
    if not items:
        return None
    mask = np.zeros(index.n_passages, dtype=bool)
    ids: dict[str, int] | None = None
    for item in items:
        if isinstance(item, str):
            if ids is None:
                ids = {pid: i for i, pid in enumerate(index.passage_ids)}
            idx = ids.get(item)
            if idx is None:
                raise RetrievalError(
                    f"exclude names passage {item!r}, which is not in the index",
                    hint="pass passage ids from earlier hits (hit.passage_id)",
                )
            mask[idx] = True
        else:
            try:
                idx = operator.index(item)
            except TypeError:
                raise RetrievalError(
                    f"exclude entries must be passage ids (str) or indexes (int), got {item!r}"
                ) from None
            if not 0 <= idx < index.n_passages:
                raise RetrievalError(
                    f"exclude names passage index {idx}, the index has 0..{index.n_passages - 1}"
                )
            mask[idx] = True
    return mask


def top_k(scores: np.ndarray, k: int, valid: np.ndarray | None = None) -> np.ndarray:
    """Indexes of the ``k`` best scores, best first (ties broken by index)."""
    if valid is not None:
        candidates = np.flatnonzero(valid)
        sub = scores[candidates]
    else:
        candidates = None
        sub = scores
    k = min(k, sub.shape[0])
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    part = np.argpartition(-sub, k - 1)[:k] if k < sub.shape[0] else np.arange(sub.shape[0])
    order = part[np.lexsort((part, -sub[part]))]
    return order if candidates is None else candidates[order]


class PassageStore:
    """Passages by ``passage_idx``: held in memory for corpora up to ``max_cached``
    passages (one SQL query, on first use), else read from DuckDB per call.

    Example:
        >>> store = PassageStore(Index.open("my-index"))               # doctest: +SKIP
        >>> store.get([3, 0])[0].title                                  # doctest: +SKIP
        'Salt Harbour'
    """

    def __init__(self, index: Index, max_cached: int = 200_000) -> None:
        self.index = index
        self.max_cached = max_cached
        self._all: list[Passage] | None = None
        self._lock = threading.Lock()

    def get(self, idxs: Sequence[int] | np.ndarray) -> list[Passage]:
        if self.index.n_passages > self.max_cached:
            return self.index.passages(idxs)
        if self._all is None:
            with self._lock:
                if self._all is None:
                    self._all = self.index.passages(range(self.index.n_passages))
        return [self._all[int(i)] for i in idxs]


def make_hits(
    store: PassageStore,
    idxs: np.ndarray,
    scores: np.ndarray,
    explanations: Sequence[Explanation | None] | None = None,
) -> list[Hit]:
    """Hits for ``passage_idx`` values ``idxs`` (best first), with their scores."""
    passages = store.get(idxs)
    return [
        Hit(
            passage_id=p.id,
            title=p.title,
            text=p.text,
            score=float(s),
            rank=r + 1,
            explanation=explanations[r] if explanations else None,
            doc_id=p.document,
            metadata=dict(p.metadata),
            span=p.span,
        )
        for r, (p, s) in enumerate(zip(passages, scores, strict=True))
    ]


__all__ = [
    "PassageStore",
    "check_extra_seeds",
    "check_k",
    "check_queries",
    "check_query",
    "exclusion_mask",
    "make_hits",
    "top_k",
]
