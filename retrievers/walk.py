"""The graph retrieval pipeline shared by the PPR retrievers: seeds -> reset -> PPR -> rank.

:class:`WalkRetriever` runs the stages (``link``, ``fuse``, ``ppr``, ``rank``,
``explain``, ``fetch``, each timed by a :class:`~retrievers.timing.Stopwatch`);
a retriever (``hipporag1``, ``hipporag2``, ``hybrid``, ...) fills in two
hooks: :meth:`WalkRetriever.link` (the query's entity seeds) and
:meth:`WalkRetriever.reset` (the PPR reset distribution), and optionally
:meth:`WalkRetriever.passage_scores`. :class:`Parts` holds the heavy
components shared by the retrievers of one index (dense retriever, PPR
matrices, linkers, explainer), built on first use.

Per-query cost: PPR results come sparse, ranking is a top-k over the touched
passages, allow-lists are sorted arrays, explanations use the touched
subgraph: nothing is O(passages) unless a retriever's definition needs it.

When a query links to no entity (and no ``extra_seeds`` are given) the hits are
the dense ones and both the result and every explanation carry ``"no_seeds"``.
When graph scores reach fewer than ``k`` passages, dense hits fill the rest
(flag ``"dense_backfill"``), ranked after every walk hit: a fill hit with
dense cosine ``c`` scores ``lowest * (2 + c) / 6`` (``lowest`` = the lowest
walk score, 1 when the walk reached none), so scores stay positive and
decreasing, never a padding of zeros.
"""

from __future__ import annotations

import copy
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from hipporag.log import get_logger
from hipporag.protocols import LLM, Embedder, IndexView
from hipporag.types import RetrievalResult, Seed
from retrievers.common import (
    PassageFilter,
    check_allow,
    check_extra_seeds,
    check_k,
    check_query,
    exclusion_set,
    make_hits,
    run_batch,
)
from retrievers.dense import DenseRetriever, embedder_for
from retrievers.explain import Explainer
from retrievers.fusion import DenseEvidence
from retrievers.linking import FactLinker, Linking, NERLinker
from retrievers.order import keys_of, node_keys, order_by_score, stable_top_k
from retrievers.params import FactParams, PPRParams
from retrievers.ppr import PPR
from retrievers.recognition import RecognitionFilter
from retrievers.timing import Stopwatch
from retrievers.view import FilteredIndex

log = get_logger(__name__)

# Filtered views kept per index (each holds a CSR of its edges).
_VIEWS_KEPT = 8

# Seeds below this share of the strongest seed are not listed nor used as path ends.
_SEED_SHOWN = 0.01


class Parts:
    """Heavy components shared by the retrievers of one index, built on first use.

    Args:
        index: An open index (:class:`~hipporag.protocols.IndexView`).
        embedder: Query encoder; defaults to the model the index was built with.
        llm: LLM of the recognition filter (default: an ``OpenAIChatLLM`` over ``params.llm``).
    """

    def __init__(
        self, index: IndexView, embedder: Embedder | None = None, llm: LLM | None = None
    ) -> None:
        self.index = index
        self.embedder: Embedder = embedder or embedder_for(index)
        self.llm = llm
        self.dense = DenseRetriever(index, self.embedder)
        self._lock = threading.Lock()
        self._ppr: PPR | None = None
        self._cache: dict[Any, Any] = {}
        self._views: OrderedDict[bytes, Parts] = OrderedDict()
        self.is_view = isinstance(index, FilteredIndex)

    def view(self, allow: np.ndarray) -> Parts:
        """The parts of ``allow``'s filtered view (:mod:`retrievers.view`), kept a while:
        they see only the allowed passages and what they support."""
        if self.is_view:
            return self
        key = hashlib.blake2b(np.ascontiguousarray(allow, np.int64).tobytes()).digest()
        with self._lock:
            found = self._views.get(key)
            if found is not None:
                self._views.move_to_end(key)
                return found
        found = Parts(FilteredIndex(self.index, allow), self.embedder, self.llm)
        found.dense.store = self.dense.store
        with self._lock:
            self._views[key] = found
            while len(self._views) > _VIEWS_KEPT:
                self._views.popitem(last=False)
        return found

    @property
    def ppr(self) -> PPR:
        if self._ppr is None:
            with self._lock:
                if self._ppr is None:
                    self._ppr = PPR(self.index.graph)
        return self._ppr

    @ppr.setter
    def ppr(self, value: PPR) -> None:
        self._ppr = value

    def _get(self, key: Any, build: Any) -> Any:
        found = self._cache.get(key)
        if found is None:
            with self._lock:
                found = self._cache.get(key)
                if found is None:
                    found = self._cache[key] = build()
        return found

    def fact_linker(self, p: FactParams) -> FactLinker:
        """The HippoRAG 2 fact linker for these parameters."""

        def build() -> FactLinker:
            recognition = None
            if p.recognition:
                if self.llm is None:
                    from hipporag.llm import OpenAIChatLLM

                    self.llm = OpenAIChatLLM(p.llm)
                recognition = RecognitionFilter(
                    self.llm, max_facts=p.recognition_max_facts, max_candidates=p.top_facts
                )
            return FactLinker(self.index, p.top_facts, recognition)

        key = ("facts", p.top_facts, p.recognition, p.recognition_max_facts, p.llm)
        return self._get(key, build)

    def ner_linker(self, spacy_model: str, link_k: int) -> NERLinker:
        """The HippoRAG 1 NER linker."""
        key = ("ner", spacy_model, link_k)
        return self._get(key, lambda: NERLinker(self.index, self.embedder, spacy_model, link_k))

    def explainer(self, max_hops: int) -> Explainer:
        return self._get(("explain", max_hops), lambda: Explainer(self.index, max_hops=max_hops))


class WalkRetriever:
    """Base of the PPR retrievers; implements the ``Retriever`` protocol.

    Args:
        index: An open index.
        params: The retriever's parameters (default: ``Params()``).
        embedder: Query encoder (default: the index's model).
        llm: LLM for the recognition filter, where used.
        parts: Shared components (overrides ``index``, ``embedder`` and ``llm``).
    """

    name: ClassVar[str] = ""
    Params: ClassVar[type[PPRParams]] = PPRParams
    accepts = frozenset({"extra_seeds", "exclude", "allow"})

    def __init__(
        self,
        index: IndexView | None = None,
        params: PPRParams | None = None,
        *,
        embedder: Embedder | None = None,
        llm: LLM | None = None,
        parts: Parts | None = None,
    ) -> None:
        if parts is None:
            if index is None:
                raise TypeError("a retriever needs an index or parts")
            parts = Parts(index, embedder, llm)
        self.parts = parts
        self.index = parts.index
        self.params = params if params is not None else self.Params()

    @classmethod
    def from_parts(cls, parts: Parts, params: PPRParams) -> WalkRetriever:
        """Build over the shared components of an index."""
        return cls(params=params, parts=parts)

    # -- serialisation (Haystack style) ---------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """``{"type": name, "init_parameters": {...}}``."""
        return {"type": self.name, "init_parameters": self.params.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any], index: IndexView, **parts: Any) -> WalkRetriever:
        """Rebuild from :meth:`to_dict` output over ``index``."""
        params = cls.Params.from_dict(data.get("init_parameters", {}))
        return cls(index, params, embedder=parts.get("embedder"), llm=parts.get("llm"))

    # -- hooks ------------------------------------------------------------------------
    def link(self, query: str, qvec: np.ndarray) -> Linking:
        """The entity seeds of ``query``."""
        raise NotImplementedError

    def reset(
        self, weights: dict[int, float], qvec: np.ndarray, filt: PassageFilter
    ) -> tuple[dict[int, float] | np.ndarray, DenseEvidence, dict[int, float], float]:
        """(PPR reset, dense evidence, seeds to list ``{node: mass}``, total reset mass)."""
        empty = DenseEvidence(np.zeros(0, np.int64), np.zeros(0, np.float32))
        return weights, empty, weights, float(sum(weights.values()))

    def passage_scores(
        self, idxs: np.ndarray, ppr: np.ndarray, dense: DenseEvidence
    ) -> tuple[np.ndarray, np.ndarray]:
        """Final scores of the passages the walk reached (default: their PPR scores)."""
        return idxs, ppr

    # -- public API ------------------------------------------------------------------
    def retrieve(
        self,
        query: str,
        k: int = 5,
        *,
        extra_seeds: Mapping[int, float] | None = None,
        exclude: Iterable[str | int] | None = None,
        allow: np.ndarray | Sequence[int] | None = None,
    ) -> RetrievalResult:
        """Rank passages for ``query``.

        Args:
            query: The question (non-empty).
            k: Number of hits, >= 1; larger than the corpus returns every passage.
            extra_seeds: ``{entity_idx: weight}`` added to the linked seeds, relative to
                their total (1.0 carries as much reset mass as all linked seeds together).
            exclude: Passages to leave out (``passage_id`` strings or ``passage_idx`` ints).
            allow: Sorted int64 ``passage_idx`` that may be ranked and returned (None: all).

        Raises:
            RetrievalError: Empty query, ``k`` < 1, bad seeds, exclusions or allow-list.
        """
        query, k = check_query(query), check_k(k)
        extra = check_extra_seeds(extra_seeds, self.index.n_entities)
        allowed = check_allow(allow, self.index.n_passages)
        excluded = exclusion_set(self.index, exclude)
        watch = Stopwatch()
        qvec = self.parts.dense.encode(query)
        return self.run(query, qvec, k, extra=extra, allow=allowed, exclude=excluded, watch=watch)

    def retrieve_batch(
        self,
        queries: Sequence[str],
        k: int = 5,
        *,
        allow: np.ndarray | Sequence[int] | None = None,
    ) -> list[RetrievalResult]:
        """:meth:`retrieve` for many queries; query vectors are encoded in one batch."""
        return run_batch(self.run, self.index, self.parts.embedder, queries, k, allow)

    # -- the pipeline ------------------------------------------------------------------
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
        """The retrieval of an encoded query (inputs already checked).

        With an allow-list the query runs in the filtered view of the index
        (:mod:`retrievers.view`): what an index of the allowed passages alone returns.
        """
        if allow is not None and not self.parts.is_view:
            viewed = copy.copy(self)
            viewed.parts = self.parts.view(allow)
            viewed.index = viewed.parts.index
            return viewed.run(
                query, qvec, k, extra=extra, allow=allow, exclude=exclude, watch=watch
            )
        p, index, dense = self.params, self.index, self.parts.dense
        watch = watch or Stopwatch()
        watch.lap("encode")
        extra = extra or {}
        if extra and self.parts.is_view:  # seeds outside the view support nothing in it
            visible = index.live("entities")
            extra = {e: w for e, w in extra.items() if visible[e]}
        linking = self.link(query, qvec)
        flags = list(linking.flags)
        weights = dict(linking.weights)
        if extra:
            scale = float(sum(weights.values())) or 1.0
            for e, w in extra.items():
                weights[e] = weights.get(e, 0.0) + w * scale
        watch.lap("link")
        if not weights:
            log.debug("%s: query links to no entity, dense fallback: %r", self.name, query)
            flags.insert(0, "no_seeds")
            result = dense.rank(
                query, qvec, k, allow=allow, exclude=exclude, watch=watch, explain=p.explain
            )
            result.mode, result.flags = self.name, flags
            for hit in result.hits:
                if hit.explanation is not None:
                    hit.explanation.flags = list(flags)
            return result
        filt = PassageFilter(index.live("passages"), allow, exclude)
        reset, evidence, shown, total = self.reset(weights, qvec, filt)
        watch.lap("fuse")
        walk = self.parts.ppr.sparse(reset, p.damping, p.ppr_method, eps=p.ppr_eps)  # type: ignore[arg-type]
        watch.lap("ppr")
        n_ent = index.n_entities
        first = int(np.searchsorted(walk.nodes, n_ent))
        idxs, scores = self.passage_scores(
            walk.nodes[first:] - n_ent, walk.scores[first:], evidence
        )
        keep = (scores > 0) & filt.ok(idxs)
        idxs, scores = idxs[keep], scores[keep]
        best = stable_top_k(scores, k, keys_of(index, "passages")[idxs])
        idxs, ranked = idxs[best].astype(np.int64), scores[best].astype(np.float64)
        if idxs.size < k:  # the walk reached fewer than k passages: fill with dense hits
            fill, cos = dense.candidates(
                qvec, k - idxs.size, allow=allow, exclude=filt.without(idxs)
            )
            if fill.size:
                log.debug("%s: walk reached %d passages, %d dense", self.name, idxs.size, fill.size)
                flags.append("dense_backfill")
                idxs = np.concatenate([idxs, fill])
                lowest = float(ranked[-1]) if ranked.size else 1.0
                below = lowest * (2.0 + np.clip(cos.astype(np.float64), -1.0, 1.0)) / 6.0
                ranked = np.concatenate([ranked, below])
        watch.lap("rank")
        explanations = None
        if p.explain:
            seeds, seed_nodes = self._seed_list(shown, total, linking, extra, qvec)
            explanations = self.parts.explainer(p.path_hops).explain(
                idxs.tolist(),
                seeds=seeds,
                seed_nodes=[s for s, _ in seed_nodes],
                seed_weights=[w for _, w in seed_nodes],
                node_scores=walk,
                dense_scores=dense.similarity(qvec, idxs).tolist(),
                flags=flags,
            )
        watch.lap("explain")
        hits = make_hits(dense.store, idxs, ranked, explanations)
        watch.lap("fetch")
        return RetrievalResult(
            query=query, hits=hits, mode=self.name, flags=flags, timings_ms=watch.timings()
        )

    def _seed_list(
        self,
        shown: Mapping[int, float],
        total: float,
        linking: Linking,
        extra: dict[int, float],
        qvec: np.ndarray,
    ) -> tuple[list[Seed], list[tuple[int, float]]]:
        """Seeds to show (strongest first, normalised weights) and (node, weight) path ends."""
        n_ent = self.index.n_entities
        if not shown:
            return [], []
        nodes = np.fromiter(shown.keys(), np.int64, len(shown))
        mass = np.fromiter(shown.values(), np.float64, len(shown))
        keep = mass >= _SEED_SHOWN * float(mass.max())
        nodes, mass = nodes[keep], mass[keep]
        order = order_by_score(mass, node_keys(self.index, nodes))
        nodes, mass = nodes[order], mass[order] / (total or 1.0)
        why = {s.node: s.source for s in linking.seeds}
        seeds = []
        names = self.index.entity_names
        explainer = self.parts.explainer(self.params.path_hops)
        for node, w in zip(nodes.tolist(), mass.tolist(), strict=True):
            if node < n_ent:
                source = why.get(names[node]) or ("extra seed" if node in extra else "")
                seeds.append(Seed(names[node], "entity", w, source))
            else:
                cos = float(self.parts.dense.similarity(qvec, [node - n_ent])[0])
                seeds.append(Seed(explainer.node_name(node), "passage", w, f"dense cos={cos:.3f}"))
        return seeds, list(zip(nodes.tolist(), mass.tolist(), strict=True))

    def __getstate__(self) -> dict[str, Any]:
        parts = self.parts
        return {"index": self.index, "params": self.params, "embedder": parts.embedder}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["index"], state["params"], embedder=state["embedder"])  # type: ignore[misc]


__all__ = ["Parts", "WalkRetriever"]
