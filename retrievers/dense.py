"""Dense passage retrieval: cosine similarity of query and passage embeddings.

Candidates come from the index's passage HNSW (inner product on unit vectors,
so ``similarity = 1 - distance``). :meth:`DenseRetriever.scores` gives the
exact similarity of *every* passage (one matrix-vector product over the
memory-mapped embeddings), which HippoRAG 2's passage reset weighting needs.

Example:
    >>> from hipporag.index import Index
    >>> dense = DenseRetriever(Index.open("my-index"))              # doctest: +SKIP
    >>> dense.retrieve("Who founded Rome?", k=3).passage_ids         # doctest: +SKIP
    ['p_…', 'p_…', 'p_…']
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from hipporag.index import Index
from hipporag.protocols import Embedder
from hipporag.types import Explanation, RetrievalResult
from retrievers.common import (
    PassageStore,
    check_k,
    check_queries,
    check_query,
    exclusion_mask,
    make_hits,
    top_k,
)


def embedder_for(index: Index) -> Embedder:
    """The embedder an index was built with (from its stored config; shared per process)."""
    from hipporag.embedders import cached_embedder

    return cached_embedder(index.config.embedding)


def encode_one(embedder: Embedder, query: str) -> np.ndarray:
    """One query vector, through the embedder's fast path when it has one."""
    fast = getattr(embedder, "encode_query", None)
    if fast is not None:
        return np.asarray(fast(query), dtype=np.float32)
    return np.asarray(embedder.encode([query], is_query=True)[0], dtype=np.float32)


class DenseRetriever:
    """Ranks passages by cosine similarity to the query.

    Implements the :class:`~hipporag.protocols.Retriever` protocol.

    Args:
        index: An open index.
        embedder: Query encoder; defaults to the model the index was built with.
        explain: Attach an :class:`~hipporag.types.Explanation` (dense score) to hits.

    Example:
        >>> dense = DenseRetriever(Index.open("my-index"))              # doctest: +SKIP
        >>> hit = dense.retrieve("Who founded Rome?", k=1)[0]           # doctest: +SKIP
        >>> hit.explanation.dense_score == hit.score                    # doctest: +SKIP
        True
    """

    mode = "dense"

    def __init__(
        self, index: Index, embedder: Embedder | None = None, *, explain: bool = True
    ) -> None:
        self.index = index
        self.embedder: Embedder = embedder or embedder_for(index)
        self.explain = explain
        self._embeddings: np.ndarray | None = None
        self.store = PassageStore(index)

    @property
    def embeddings(self) -> np.ndarray:
        """Passage embeddings ``[P, d]`` (memory-mapped)."""
        if self._embeddings is None:
            self._embeddings = self.index.passage_embeddings
        return self._embeddings

    def encode(self, query: str) -> np.ndarray:
        """The query vector (unit norm)."""
        return encode_one(self.embedder, query)

    def scores(self, qvec: np.ndarray) -> np.ndarray:
        """Exact cosine similarity of every passage, float32 ``[P]``."""
        return np.asarray(self.embeddings @ qvec, dtype=np.float32)

    def search(
        self, qvec: np.ndarray, n: int, excluded: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``n`` most similar passages: (``passage_idx`` int64, cosine float32), best first.

        Uses the HNSW index; small corpora, large ``n`` and exclusions that
        leave too few candidates are answered exactly instead.
        """
        n_passages = self.index.n_passages
        n_excluded = int(excluded.sum()) if excluded is not None else 0
        want = min(n, n_passages - n_excluded)
        if want <= 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        hnsw = self.index.hnsw("passages")
        fetch = want + n_excluded
        if hnsw is not None and fetch * 4 < n_passages:
            if getattr(hnsw, "ef", fetch * 2) < fetch * 2:
                hnsw.set_ef(fetch * 2)  # HNSW recall drops when ef is close to k
            try:
                labels, dist = hnsw.knn_query(qvec[None, :], k=fetch, num_threads=1)
            except RuntimeError:  # ef too small for k: answer exactly
                labels = None
            if labels is not None:
                idxs = labels[0].astype(np.int64)
                sims = (1.0 - dist[0]).astype(np.float32)
                if excluded is not None:
                    keep = ~excluded[idxs]
                    idxs, sims = idxs[keep], sims[keep]
                order = np.lexsort((idxs, -sims))[:want]
                return idxs[order], sims[order]
        scores = self.scores(qvec)
        best = top_k(scores, want, None if excluded is None else ~excluded)
        return best, scores[best]

    def retrieve(
        self, query: str, k: int = 5, *, exclude: Iterable[str | int] | None = None
    ) -> RetrievalResult:
        """The ``k`` passages most similar to ``query`` (all of them if ``k`` >= corpus size).

        Args:
            query: The question.
            k: Number of hits, >= 1.
            exclude: Passages to leave out (``passage_id`` strings or ``passage_idx`` ints).

        Raises:
            RetrievalError: Empty query, ``k`` < 1, unknown excluded passage.
        """
        query, k = check_query(query), check_k(k)
        t0 = time.perf_counter()
        qvec = self.encode(query)
        return self._result(query, qvec, k, exclusion_mask(self.index, exclude), t0)

    def retrieve_batch(self, queries: Sequence[str], k: int = 5) -> list[RetrievalResult]:
        """:meth:`retrieve` for many queries, encoding them in one batch."""
        queries, k = check_queries(queries), check_k(k)
        if not queries:
            return []
        t0 = time.perf_counter()
        qvecs = np.asarray(self.embedder.encode(queries, is_query=True), dtype=np.float32)
        share = (time.perf_counter() - t0) / len(queries)
        return [
            self._result(q, v, k, None, time.perf_counter() - share)
            for q, v in zip(queries, qvecs, strict=True)
        ]

    def _result(
        self, query: str, qvec: np.ndarray, k: int, excluded: np.ndarray | None, t0: float
    ) -> RetrievalResult:
        t1 = time.perf_counter()
        idxs, sims = self.search(qvec, k, excluded)
        t2 = time.perf_counter()
        expl: list[Explanation | None] | None = None
        if self.explain:
            expl = [Explanation(dense_score=float(s)) for s in sims]
        hits = make_hits(self.store, idxs, sims, expl)
        t3 = time.perf_counter()
        timings = {
            "encode": (t1 - t0) * 1e3,
            "search": (t2 - t1) * 1e3,
            "fetch": (t3 - t2) * 1e3,
            "total": (t3 - t0) * 1e3,
        }
        return RetrievalResult(query=query, hits=hits, mode=self.mode, timings_ms=timings)

    def __getstate__(self) -> dict[str, Any]:
        return {"index": self.index, "embedder": self.embedder, "explain": self.explain}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["index"], state["embedder"], explain=state["explain"])  # type: ignore[misc]


__all__ = ["DenseRetriever", "embedder_for", "encode_one"]
