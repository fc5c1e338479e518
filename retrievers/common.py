"""Input checks and small helpers shared by the retrievers.

Every public ``retrieve`` validates its arguments here, so bad input fails
the same way everywhere: a :class:`~hipporag.errors.RetrievalError` saying
what is wrong and how to fix it.

``k`` larger than the corpus is not an error: all passages are returned,
ranked (documented policy: a caller asking for "the best 20" of a 10-passage
corpus gets all 10).

The rankers' ``retrieve_batch`` all go through :func:`run_batch`: the same
checks, one batch encoding, then the ranker's ``run`` for each query.

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
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

import numpy as np

from hipporag.errors import RetrievalError
from hipporag.protocols import Embedder
from hipporag.types import Explanation, Hit, Passage, RetrievalResult
from retrievers.limits import MAX_QUERY_ENV, max_query_chars
from retrievers.timing import Stopwatch


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
    limit = max_query_chars()
    if len(text) > limit:
        raise RetrievalError(
            f"query has {len(text)} characters, more than the limit of {limit}",
            hint=f"shorten the query, or raise the limit with {MAX_QUERY_ENV}=N",
        )
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


def exclusion_set(index: Any, exclude: Iterable[str | int] | None) -> np.ndarray | None:
    """Sorted unique ``passage_idx`` to leave out: ``passage_id`` strings or ``passage_idx`` ints.

    Its size is that of ``exclude``, never that of the corpus.
    """
    if exclude is None:
        return None
    items = list(exclude)
    if not items:
        return None
    out: list[int] = []
    ids: dict[str, int] | None = None
    for item in items:
        if isinstance(item, str):
            if ids is None:
                ids = index.passage_index()
            idx = ids.get(item)
            if idx is None:
                raise RetrievalError(
                    f"exclude names passage {item!r}, which is not in the index",
                    hint="pass passage ids from earlier hits (hit.passage_id)",
                )
            out.append(idx)
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
            out.append(idx)
    return np.unique(np.asarray(out, dtype=np.int64))


def check_allow(allow: object, n_passages: int) -> np.ndarray | None:
    """Validate an allow-list: None (all passages) or sorted unique int64 ``passage_idx``.

    Example:
        >>> check_allow([4, 1, 4], 10).tolist()
        [1, 4]
        >>> check_allow(None, 10) is None
        True
    """
    if allow is None:
        return None
    try:
        arr = np.asarray(allow)
    except (TypeError, ValueError):
        arr = np.zeros(0, dtype=object)
    if arr.ndim != 1 or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
        raise RetrievalError(
            "allow must be a 1-D array of passage_idx integers",
            hint="build it with hipporag.filters.allowed_passages(index, filters)",
        )
    arr = arr.astype(np.int64, copy=False)
    if arr.size and (int(arr.min()) < 0 or int(arr.max()) >= n_passages):
        raise RetrievalError(
            f"allow names passage indexes outside 0..{n_passages - 1}",
            hint="pass passage_idx values of this index",
        )
    if arr.size > 1 and not bool(np.all(arr[1:] > arr[:-1])):
        arr = np.unique(arr)
    return arr


def member(values: np.ndarray, sorted_set: np.ndarray | None) -> np.ndarray:
    """Which ``values`` are in the sorted int64 array ``sorted_set`` (None: none are).

    Example:
        >>> member(np.array([3, 5, 7]), np.array([1, 5, 7])).tolist()
        [False, True, True]
    """
    values = np.asarray(values, dtype=np.int64)
    if sorted_set is None or len(sorted_set) == 0:
        return np.zeros(values.shape, dtype=bool)
    pos = np.minimum(np.searchsorted(sorted_set, values), len(sorted_set) - 1)
    return np.asarray(sorted_set)[pos] == values


class PassageFilter:
    """Which passages may be ranked and returned for one query.

    Args:
        live: The index's live mask over passages.
        allow: Sorted allowed ``passage_idx`` (None: all).
        exclude: Sorted excluded ``passage_idx`` (None: none).

    Example:
        >>> f = PassageFilter(np.array([True, True, False, True]), np.array([0, 2, 3]), None)
        >>> f.ok(np.array([0, 1, 2, 3])).tolist()
        [True, False, False, True]
    """

    __slots__ = ("allow", "exclude", "live_mask")

    def __init__(
        self, live: np.ndarray, allow: np.ndarray | None, exclude: np.ndarray | None
    ) -> None:
        self.live_mask = live
        self.allow = allow
        self.exclude = exclude

    def ok(self, idxs: np.ndarray) -> np.ndarray:
        """Boolean mask over ``idxs``: allowed, live and not excluded."""
        idxs = np.asarray(idxs, dtype=np.int64)
        mask = self.live_mask[idxs].copy()
        if self.allow is not None:
            mask &= member(idxs, self.allow)
        if self.exclude is not None:
            mask &= ~member(idxs, self.exclude)
        return mask

    def without(self, more: np.ndarray) -> np.ndarray | None:
        """The exclusions plus ``more`` (sorted unique)."""
        if self.exclude is None:
            return np.unique(np.asarray(more, dtype=np.int64))
        return np.union1d(self.exclude, np.asarray(more, dtype=np.int64))


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
    """Passages by ``passage_idx`` for hits.

    An index with a passage store (every index written since it exists) reads
    a hit in a few slices of memory-mapped arrays, so it is asked each time.
    An older index reads from DuckDB with a scan per call: for corpora up to
    ``max_cached`` passages they are then held in memory (one SQL query, on
    first use); ``hipporag upgrade`` adds the store.

    Example:
        >>> from hipporag.index import Index
        >>> store = PassageStore(Index.open(DEMO_INDEX))
        >>> [type(p).__name__ for p in store.get([3, 0])]
        ['Passage', 'Passage']
    """

    def __init__(self, index: Any, max_cached: int = 200_000) -> None:
        self.index = index
        self.max_cached = max_cached
        self._all: dict[int, Passage] | None = None
        self._lock = threading.Lock()
        meta = getattr(index, "meta", None)
        self._direct = isinstance(meta, dict) and meta.get("passage_store") is not None

    def get(self, idxs: Sequence[int] | np.ndarray) -> list[Passage]:
        if self._direct or self.index.n_passages > self.max_cached:
            return self.index.passages(idxs)
        if self._all is None:
            with self._lock:
                if self._all is None:
                    live = np.flatnonzero(self.index.live("passages")).tolist()
                    self._all = dict(zip(live, self.index.passages(live), strict=True))
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


def encode_batch(embedder: Embedder, queries: Sequence[str]) -> tuple[np.ndarray, float]:
    """Query vectors of a batch and each query's share of the encoding time (seconds)."""
    t0 = time.perf_counter()
    qvecs = np.asarray(embedder.encode(list(queries), is_query=True), dtype=np.float32)
    return qvecs, (time.perf_counter() - t0) / max(len(queries), 1)


class Ranker(Protocol):
    """A retriever's ``run``: the ranking of one encoded, checked query."""

    def __call__(
        self, query: str, qvec: np.ndarray, k: int, *, allow: np.ndarray | None, watch: Stopwatch
    ) -> RetrievalResult: ...


def run_batch(
    run: Ranker,
    index: Any,
    embedder: Embedder,
    queries: object,
    k: object,
    allow: object = None,
) -> list[RetrievalResult]:
    """``retrieve_batch`` of the rankers: check, encode all queries in one batch, rank each.

    Each query's :class:`~retrievers.timing.Stopwatch` starts its share of the
    batch encoding earlier, so its ``encode`` stage counts that share.

    Args:
        run: Ranks one encoded query (a ranker's ``run``).
        index: The index (for the allow-list's bounds).
        embedder: The query encoder.
        queries: The questions (a list of non-empty strings).
        k: Number of hits per query, >= 1.
        allow: Sorted int64 ``passage_idx`` that may be returned (None: all).

    Raises:
        RetrievalError: An empty query, ``k`` < 1 or a bad allow-list.

    Example:
        >>> from hipporag.index import Index
        >>> from retrievers.dense import DenseRetriever
        >>> dense = DenseRetriever(Index.open(DEMO_INDEX))
        >>> results = run_batch(dense.run, dense.index, dense.embedder, ["Rome?", "Big Eyes?"], 2)
        >>> [r.query for r in results], [len(r.hits) for r in results]
        (['Rome?', 'Big Eyes?'], [2, 2])
        >>> all("encode" in r.timings_ms for r in results)
        True
    """
    queries, k = check_queries(queries), check_k(k)
    allowed = check_allow(allow, index.n_passages)
    if not queries:
        return []
    qvecs, share = encode_batch(embedder, queries)
    return [
        run(q, v, k, allow=allowed, watch=Stopwatch(time.perf_counter() - share))
        for q, v in zip(queries, qvecs, strict=True)
    ]


__all__ = [
    "PassageFilter",
    "PassageStore",
    "Ranker",
    "check_allow",
    "check_extra_seeds",
    "check_k",
    "check_queries",
    "check_query",
    "encode_batch",
    "exclusion_set",
    "make_hits",
    "member",
    "run_batch",
    "top_k",
]
