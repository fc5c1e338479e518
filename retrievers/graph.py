"""One object for every retrieval mode of an index: the registry's retrievers behind one API.

:class:`GraphRetriever` builds, on first use, the registered retriever of each
mode (:mod:`retrievers.registry`) with its parameters taken from one
:class:`~retrievers.config.RetrievalConfig`, all sharing the heavy parts
(:class:`~retrievers.walk.Parts`): the query is encoded once and handed to
the mode's pipeline. The facade's ``retrieve(mode=...)`` goes through it.

Example:
    >>> from hipporag.index import Index
    >>> g = GraphRetriever(Index.open(DEMO_INDEX))
    >>> res = g.retrieve("Who directed Big Eyes?", k=3, mode="hipporag2")
    >>> len(res.hits), res.mode
    (3, 'hipporag2')
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from hipporag.errors import RetrievalError
from hipporag.log import get_logger
from hipporag.protocols import LLM, Embedder, IndexView
from hipporag.types import RetrievalResult
from retrievers import registry
from retrievers.common import (
    check_allow,
    check_extra_seeds,
    check_k,
    check_query,
    exclusion_set,
    run_batch,
)
from retrievers.config import RetrievalConfig
from retrievers.dense import DenseRetriever
from retrievers.linking import Linking
from retrievers.order import keys_of
from retrievers.ppr import PPR
from retrievers.timing import Stopwatch
from retrievers.walk import Parts

log = get_logger(__name__)


def check_mode(mode: str | None, default: str) -> str:
    """The mode to use; raise a clear error for an unknown one (modes from the registry)."""
    return registry.check_mode(mode, default)


class GraphRetriever:
    """HippoRAG retrieval over one index, in any registered mode; a ``Retriever``.

    Heavy parts (models, PPR matrices, name tables) load on first use.
    Thread-safe for concurrent ``retrieve`` calls once warm.

    Args:
        index: An open index.
        config: Retrieval parameters (default :class:`RetrievalConfig`).
        embedder: Query encoder; defaults to the model the index was built with.
        llm: LLM for the recognition filter (only used when ``config.recognition``).
    """

    accepts = frozenset({"extra_seeds", "exclude", "allow"})

    def __init__(
        self,
        index: IndexView,
        config: RetrievalConfig | None = None,
        *,
        embedder: Embedder | None = None,
        llm: LLM | None = None,
    ) -> None:
        self.index = index
        self.config = config or RetrievalConfig()
        self.parts = Parts(index, embedder, llm)
        self.embedder = self.parts.embedder
        self._modes: dict[str, Any] = {}
        self._lock = threading.Lock()

    @property
    def llm(self) -> LLM | None:
        return self.parts.llm

    @property
    def dense(self) -> DenseRetriever:
        return self.parts.dense

    @property
    def ppr(self) -> PPR:
        return self.parts.ppr

    @ppr.setter
    def ppr(self, value: PPR) -> None:
        self.parts.ppr = value

    def retriever(self, mode: str | None = None) -> Any:
        """The registered retriever of ``mode`` (built once, parameters from the config)."""
        mode = check_mode(mode, self.config.mode)
        found = self._modes.get(mode)
        if found is None:
            with self._lock:
                found = self._modes.get(mode)
                if found is None:
                    spec = registry.spec(mode)
                    params = spec.params.from_config(self.config)  # type: ignore[attr-defined]
                    found = spec.cls.from_parts(self.parts, params)  # type: ignore[attr-defined]
                    log.debug("built retriever %s with %s", mode, params)
                    self._modes[mode] = found
        return found

    def warm_up(self) -> None:
        """Load the models, the PPR matrices and the name tables now."""
        qvec = self.parts.dense.encode("warm up")
        _ = self.parts.ppr, self.index.entity_names, self.index.passage_titles()
        if self.index.n_facts:
            self.index.fact_relations()
        for table in ("passages", "facts"):
            self.index.knn(table, qvec, 1)  # loads the table's HNSW
        for table in ("passages", "entities", "facts"):
            keys_of(self.index, table)  # the stable tie-breaking keys
        self.parts.explainer(self.config.path_hops).warm_up()  # fact pairs, graph arrays

    # -- public API --------------------------------------------------------------------
    def link(self, query: str, mode: str | None = None, qvec: np.ndarray | None = None) -> Linking:
        """The entity seeds of ``query`` under ``mode`` (facts, or NER for ``hipporag1``)."""
        query = check_query(query)
        mode = check_mode(mode, self.config.mode)
        r = self.retriever("hybrid" if mode == "dense" else mode)
        if qvec is None:
            qvec = self.parts.dense.encode(query)
        return r.link(query, qvec)

    def retrieve(
        self,
        query: str,
        k: int = 5,
        *,
        mode: str | None = None,
        extra_seeds: Mapping[int, float] | None = None,
        exclude: Iterable[str | int] | None = None,
        allow: np.ndarray | Sequence[int] | None = None,
    ) -> RetrievalResult:
        """Rank passages for ``query``.

        Args:
            query: The question (non-empty).
            k: Number of hits, >= 1; larger than the corpus returns every passage.
            mode: Overrides ``config.mode`` for this call (a registered mode name).
            extra_seeds: ``{entity_idx: weight}`` added to the linked seeds. Weights
                are relative to the linked seeds' total: an extra seed of weight 1.0
                carries as much reset mass as all linked entity seeds together.
            exclude: Passages to leave out (``passage_id`` strings or ``passage_idx`` ints).
            allow: Sorted int64 ``passage_idx`` that may be ranked and returned (None: all).

        Raises:
            RetrievalError: Empty query, ``k`` < 1, unknown mode, bad seeds, exclusions
                or allow-list.
        """
        query, k = check_query(query), check_k(k)
        mode = check_mode(mode, self.config.mode)
        extra = check_extra_seeds(extra_seeds, self.index.n_entities)
        r = self.retriever(mode)
        if extra and "extra_seeds" not in r.accepts:
            raise RetrievalError(
                f"extra_seeds need a graph mode, got mode={mode!r}",
                hint="use mode 'hybrid', 'hipporag2' or 'hipporag1'",
            )
        allowed = check_allow(allow, self.index.n_passages)
        excluded = exclusion_set(self.index, exclude)
        watch = Stopwatch()
        qvec = self.parts.dense.encode(query)
        return self._run(r, query, qvec, k, extra, allowed, excluded, watch)

    def retrieve_batch(
        self,
        queries: Sequence[str],
        k: int = 5,
        *,
        mode: str | None = None,
        allow: np.ndarray | Sequence[int] | None = None,
    ) -> list[RetrievalResult]:
        """:meth:`retrieve` for many queries; query vectors are encoded in one batch."""
        r = self.retriever(mode)
        return run_batch(r.run, self.index, self.parts.embedder, queries, k, allow)

    @staticmethod
    def _run(
        r: Any,
        query: str,
        qvec: np.ndarray,
        k: int,
        extra: dict[int, float],
        allow: np.ndarray | None,
        exclude: np.ndarray | None,
        watch: Stopwatch,
    ) -> RetrievalResult:
        return r.run(query, qvec, k, extra=extra, allow=allow, exclude=exclude, watch=watch)

    def __getstate__(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "config": self.config,
            "embedder": self.parts.embedder,
            "llm": self.parts.llm,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(
            state["index"],
            state["config"],
            embedder=state["embedder"],  # type: ignore[misc]
            llm=state["llm"],
        )


__all__ = ["GraphRetriever", "check_mode"]
