"""``lexical``: BM25 over passage titles and texts (the index's lexical part).

Exact words carry what embeddings blur: names, identifiers, product codes,
rare surnames. The scores come from :class:`~hipporag.index.lexical.LexicalIndex`
(Okapi BM25, Lucene's idf; statistics over the live passages); allow-lists,
exclusions and deleted passages apply as in every mode. The same scores are
the third evidence source of ``hybrid`` (:mod:`retrievers.hybrid`).

Cost per query: the postings of the query's terms (no corpus-wide pass).
When fewer than ``k`` allowed passages share a word with the query, dense
hits fill the rest (score 0, flag ``"dense_backfill"``), as in the graph modes.

Example:
    >>> from hipporag.index import Index
    >>> r = LexicalRetriever(Index.open(DEMO_INDEX))
    >>> r.retrieve("Lynx-7", k=1).hits[0].title
    'Lynx-7'
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hipporag.errors import RetrievalError
from hipporag.index.lexical import LexicalIndex, load_lexical
from hipporag.protocols import IndexView
from hipporag.sections import check
from hipporag.types import Explanation, RetrievalResult
from retrievers.common import (
    PassageFilter,
    PassageStore,
    check_allow,
    check_k,
    check_queries,
    check_query,
    exclusion_set,
    make_hits,
)
from retrievers.order import keys_of, stable_top_k
from retrievers.params import BaseParams
from retrievers.registration import register
from retrievers.timing import Stopwatch


@dataclass(frozen=True)
class LexicalParams(BaseParams):
    """Parameters of ``lexical`` (and of the lexical evidence of ``hybrid``).

    Attributes:
        bm25_k1: BM25's term-frequency saturation.
        bm25_b: BM25's length normalisation.
    """

    bm25_k1: float = 1.2
    bm25_b: float = 0.75

    def validate(self) -> None:
        super().validate()
        check(self.bm25_k1 >= 0, f"retrieval.bm25_k1 must be >= 0, got {self.bm25_k1}")
        check(
            0.0 <= self.bm25_b <= 1.0,
            f"retrieval.bm25_b must be in [0, 1], got {self.bm25_b}",
            "0 turns length normalisation off, 1 normalises fully (0.75 is usual)",
        )


def lexical_of(index: IndexView, k1: float = 1.2, b: float = 0.75) -> LexicalIndex | None:
    """The BM25 scorer of ``index`` (cached on it); None when the index has no lexical part."""
    store = getattr(index, "__dict__", None)
    if store is None:  # an index object without attributes of its own: not cached
        return load_lexical(index, k1=k1, b=b)
    cache = store.setdefault("_lexical_cache", {})
    key = (float(k1), float(b))
    if key not in cache:
        cache[key] = load_lexical(index, k1=k1, b=b)
    return cache[key]


def lexical_candidates(
    lex: LexicalIndex, query: str, n: int, filt: PassageFilter, index: IndexView
) -> tuple[np.ndarray, np.ndarray]:
    """The ``n`` best BM25 passages that ``filt`` allows: (rows int64, scores), best first.

    Ties go to the smaller ``passage_id`` (not the earlier row), so a living index
    ranks like a fresh build of the same corpus.
    """
    rows, scores = lex.score_query(query)
    if rows.size:
        ok = filt.ok(rows)
        rows, scores = rows[ok], scores[ok]
    best = stable_top_k(scores, n, keys_of(index, "passages")[rows])
    return rows[best].astype(np.int64), scores[best]


@register("lexical", params=LexicalParams, summary="BM25 over passage titles and texts")
class LexicalRetriever:
    """Ranks passages by BM25 (see the module docstring)."""

    name = "lexical"
    Params = LexicalParams
    accepts = frozenset({"exclude", "allow"})

    def __init__(
        self, index: IndexView, embedder: Any = None, *, params: LexicalParams | None = None
    ) -> None:
        self.index = index
        self.params = params or LexicalParams()
        self.store = PassageStore(index)
        self._embedder = embedder
        self._dense: Any = None

    @property
    def dense(self) -> Any:
        """The dense retriever that fills a short lexical ranking (built on first use)."""
        if self._dense is None:
            from retrievers.dense import DenseRetriever

            self._dense = DenseRetriever(self.index, self._embedder, explain=False)
        return self._dense

    @classmethod
    def from_parts(cls, parts: Any, params: LexicalParams) -> LexicalRetriever:
        """Build over the shared components of an index (:class:`~retrievers.walk.Parts`)."""
        r = cls(parts.index, params=params)
        r.store = parts.dense.store
        r._dense = parts.dense
        return r

    def to_dict(self) -> dict[str, Any]:
        """``{"type": name, "init_parameters": {...}}``."""
        return {"type": self.name, "init_parameters": self.params.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any], index: IndexView, **parts: Any) -> LexicalRetriever:
        """Rebuild from :meth:`to_dict` output over ``index``."""
        return cls(index, params=cls.Params.from_dict(data.get("init_parameters", {})))

    @property
    def scorer(self) -> LexicalIndex:
        """The index's BM25 scorer; a clear error when the index has none."""
        lex = lexical_of(self.index, self.params.bm25_k1, self.params.bm25_b)
        if lex is None:
            path = getattr(self.index, "path", "INDEX")
            raise RetrievalError(
                "this index has no lexical part (it was built before BM25 was added)",
                hint=f"add it with 'hipporag upgrade {path}' (or use another mode)",
            )
        return lex

    def run(
        self,
        query: str,
        qvec: np.ndarray | None,
        k: int,
        *,
        extra: dict[int, float] | None = None,
        allow: np.ndarray | None = None,
        exclude: np.ndarray | None = None,
        watch: Stopwatch | None = None,
    ) -> RetrievalResult:
        """The registry's ranker entry point (the query vector is not used)."""
        watch = watch or Stopwatch()
        watch.lap("encode")
        filt = PassageFilter(self.index.live("passages"), allow, exclude)
        idxs, scores = lexical_candidates(self.scorer, query, k, filt, self.index)
        flags = [] if idxs.size else ["no_lexical_match"]
        n_lex = idxs.size
        if n_lex < k:
            qvec = self.dense.encode(query) if qvec is None else qvec
            fill, _ = self.dense.candidates(
                qvec, k - n_lex, allow=allow, exclude=filt.without(idxs)
            )
            if fill.size:
                flags.append("dense_backfill")
                idxs = np.concatenate([idxs, fill])
                scores = np.concatenate([scores, np.zeros(fill.size)])
        watch.lap("search")
        expl = None
        if self.params.explain:
            expl = [
                Explanation(flags=["lexical" if i < n_lex else "dense_backfill"])
                for i in range(idxs.size)
            ]
        hits = make_hits(self.store, idxs, scores, expl)
        watch.lap("fetch")
        return RetrievalResult(
            query=query, hits=hits, mode=self.name, flags=flags, timings_ms=watch.timings()
        )

    def retrieve(
        self,
        query: str,
        k: int = 5,
        *,
        exclude: Iterable[str | int] | None = None,
        allow: np.ndarray | Sequence[int] | None = None,
    ) -> RetrievalResult:
        """The ``k`` passages of highest BM25 for ``query`` (fewer when fewer match).

        Raises:
            RetrievalError: Empty query, ``k`` < 1, unknown excluded passage, bad
                allow-list, or an index without a lexical part.
        """
        query, k = check_query(query), check_k(k)
        allowed = check_allow(allow, self.index.n_passages)
        excluded = exclusion_set(self.index, exclude)
        return self.run(query, None, k, allow=allowed, exclude=excluded)

    def retrieve_batch(
        self,
        queries: Sequence[str],
        k: int = 5,
        *,
        allow: np.ndarray | Sequence[int] | None = None,
    ) -> list[RetrievalResult]:
        """:meth:`retrieve` for many queries (nothing to encode)."""
        qs, k = check_queries(queries), check_k(k)
        allowed = check_allow(allow, self.index.n_passages)
        return [self.run(q, None, k, allow=allowed) for q in qs]

    def __getstate__(self) -> dict[str, Any]:
        return {"index": self.index, "params": self.params, "embedder": self._embedder}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["index"], state["embedder"], params=state["params"])  # type: ignore[misc]


__all__ = ["LexicalParams", "LexicalRetriever", "lexical_candidates", "lexical_of"]
