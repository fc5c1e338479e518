"""Dense passage retrieval: cosine similarity of query and passage embeddings.

Candidates come from the index's passage HNSW through
:meth:`~hipporag.index.lookups.IndexLookups.knn` (inner product on unit
vectors), with allow-lists applied inside the search. :meth:`DenseRetriever.candidates`
is the public candidate API the graph retrievers build on;
:meth:`DenseRetriever.scores` gives the exact similarity of *every* passage,
which HippoRAG 2's passage reset weighting needs by definition.

Example:
    >>> from hipporag.index import Index
    >>> dense = DenseRetriever(Index.open(DEMO_INDEX))
    >>> len(dense.retrieve("Who founded Rome?", k=3).passage_ids)
    3
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from hipporag.protocols import Embedder, IndexView
from hipporag.types import Explanation, RetrievalResult
from retrievers.common import (
    PassageStore,
    check_allow,
    check_k,
    check_query,
    encode_batch,  # re-exported: its old home
    exclusion_set,
    make_hits,
    run_batch,
)
from retrievers.order import stable_knn
from retrievers.params import BaseParams
from retrievers.registration import register
from retrievers.timing import Stopwatch


def embedder_for(index: Any) -> Embedder:
    """The embedder an index was built with (from its stored config; shared per process)."""
    from hipporag.embedders import cached_embedder

    return cached_embedder(index.config.embedding)


def encode_one(embedder: Embedder, query: str) -> np.ndarray:
    """One query vector, through the embedder's fast path when it has one."""
    fast = getattr(embedder, "encode_query", None)
    if fast is not None:
        return np.asarray(fast(query), dtype=np.float32)
    return np.asarray(embedder.encode([query], is_query=True)[0], dtype=np.float32)


@register("dense", params=BaseParams, summary="cosine similarity of query and passage vectors")
class DenseRetriever:
    """Ranks passages by cosine similarity to the query.

    Implements the :class:`~hipporag.protocols.Retriever` protocol.

    Args:
        index: An open index (any :class:`~hipporag.protocols.IndexView`).
        embedder: Query encoder; defaults to the model the index was built with.
        explain: Attach an :class:`~hipporag.types.Explanation` (dense score) to hits.
        params: The parameters as a section (overrides ``explain``).

    Example:
        >>> from hipporag.index import Index
        >>> dense = DenseRetriever(Index.open(DEMO_INDEX))
        >>> hit = dense.retrieve("Who founded Rome?", k=1)[0]
        >>> hit.explanation.dense_score == hit.score
        True
    """

    name = "dense"
    Params = BaseParams
    accepts = frozenset({"exclude", "allow"})

    def __init__(
        self,
        index: IndexView,
        embedder: Embedder | None = None,
        *,
        explain: bool = True,
        params: BaseParams | None = None,
    ) -> None:
        self.index = index
        self.params = params or BaseParams(explain=explain)
        self.embedder: Embedder = embedder or embedder_for(index)
        self.store = PassageStore(index)

    @property
    def explain(self) -> bool:
        return self.params.explain

    @property
    def embeddings(self) -> np.ndarray:
        """Passage embeddings ``[P, d]`` (memory-mapped)."""
        return self.index.embeddings("passages")

    # -- serialisation (Haystack style) ---------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """``{"type": name, "init_parameters": {...}}``."""
        return {"type": self.name, "init_parameters": self.params.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any], index: IndexView, **parts: Any) -> DenseRetriever:
        """Rebuild from :meth:`to_dict` output over ``index``."""
        params = cls.Params.from_dict(data.get("init_parameters", {}))
        return cls(index, parts.get("embedder"), params=params)

    @classmethod
    def from_parts(cls, parts: Any, params: BaseParams) -> DenseRetriever:
        """Build over the shared components of an index (:class:`~retrievers.walk.Parts`)."""
        r = cls(parts.index, parts.embedder, params=params)
        r.store = parts.dense.store  # one passage cache per index
        return r

    # -- candidate API (used by the graph retrievers) ----------------------------------
    def encode(self, query: str) -> np.ndarray:
        """The query vector (unit norm)."""
        return encode_one(self.embedder, query)

    def candidates(
        self,
        qvec: np.ndarray,
        n: int,
        *,
        allow: np.ndarray | None = None,
        exclude: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``n`` most similar live passages: (``passage_idx`` int64, cosine float32).

        ``allow`` (sorted int64) restricts the search inside HNSW; ``exclude``
        (sorted int64) leaves passages out. Best first, ties by passage id
        (:func:`retrievers.order.stable_knn`: never by row order).
        """
        return stable_knn(self.index, "passages", qvec, n, allow=allow, exclude=exclude)

    def similarity(self, qvec: np.ndarray, idxs: np.ndarray | Sequence[int]) -> np.ndarray:
        """Cosine similarity of the given passages only, float32."""
        idxs = np.asarray(idxs, dtype=np.int64)
        if idxs.size == 0:
            return np.zeros(0, np.float32)
        return np.asarray(self.embeddings[idxs] @ qvec, dtype=np.float32)

    def scores(self, qvec: np.ndarray) -> np.ndarray:
        """Exact cosine similarity of every passage, float32 ``[P]`` (O(passages))."""
        return np.asarray(self.embeddings @ qvec, dtype=np.float32)

    def rank(
        self,
        query: str,
        qvec: np.ndarray,
        k: int,
        *,
        allow: np.ndarray | None = None,
        exclude: np.ndarray | None = None,
        watch: Stopwatch | None = None,
        explain: bool | None = None,
    ) -> RetrievalResult:
        """The dense :class:`RetrievalResult` of an encoded query (inputs already checked).

        ``explain`` overrides the retriever's own setting (the graph retrievers
        fall back to this ranking when a query links to no entity).
        """
        watch = watch or Stopwatch()
        watch.lap("encode")
        idxs, sims = self.candidates(qvec, k, allow=allow, exclude=exclude)
        watch.lap("search")
        expl: list[Explanation | None] | None = None
        if self.explain if explain is None else explain:
            expl = [Explanation(dense_score=float(s)) for s in sims]
        hits = make_hits(self.store, idxs, sims, expl)
        watch.lap("fetch")
        return RetrievalResult(query=query, hits=hits, mode=self.name, timings_ms=watch.timings())

    def run(
        self,
        query: str,
        qvec: np.ndarray,
        k: int,
        *,
        extra: dict[int, float] | None = None,
        allow: np.ndarray | None = None,
        exclude: np.ndarray | None = None,
        watch: Stopwatch | None = None,
    ) -> RetrievalResult:
        """The registry's ranker entry point (``extra`` seeds are not accepted: see ``accepts``)."""
        return self.rank(query, qvec, k, allow=allow, exclude=exclude, watch=watch)

    # -- Retriever protocol ---------------------------------------------------------
    def retrieve(
        self,
        query: str,
        k: int = 5,
        *,
        exclude: Iterable[str | int] | None = None,
        allow: np.ndarray | Sequence[int] | None = None,
    ) -> RetrievalResult:
        """The ``k`` passages most similar to ``query`` (all of them if ``k`` >= corpus size).

        Args:
            query: The question.
            k: Number of hits, >= 1.
            exclude: Passages to leave out (``passage_id`` strings or ``passage_idx`` ints).
            allow: Sorted int64 ``passage_idx`` that may be returned (None: all).

        Raises:
            RetrievalError: Empty query, ``k`` < 1, unknown excluded passage, bad allow-list.
        """
        query, k = check_query(query), check_k(k)
        allowed = check_allow(allow, self.index.n_passages)
        excluded = exclusion_set(self.index, exclude)
        watch = Stopwatch()
        qvec = self.encode(query)
        return self.rank(query, qvec, k, allow=allowed, exclude=excluded, watch=watch)

    def retrieve_batch(
        self,
        queries: Sequence[str],
        k: int = 5,
        *,
        allow: np.ndarray | Sequence[int] | None = None,
    ) -> list[RetrievalResult]:
        """:meth:`retrieve` for many queries, encoding them in one batch."""
        return run_batch(self.run, self.index, self.embedder, queries, k, allow)

    def __getstate__(self) -> dict[str, Any]:
        return {"index": self.index, "embedder": self.embedder, "params": self.params}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["index"], state["embedder"], params=state["params"])  # type: ignore[misc]


__all__ = ["DenseRetriever", "embedder_for", "encode_batch", "encode_one"]
