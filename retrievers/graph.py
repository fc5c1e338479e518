"""Graph retrieval: seeds -> reset distribution -> Personalized PageRank -> ranked passages.

One class serves the three graph modes of :class:`~hipporag.config.RetrievalConfig`
(and ``"dense"``, delegated to :class:`~retrievers.dense.DenseRetriever`):

* ``"hipporag1"``: :class:`~retrievers.linking.NERLinker` seeds, PPR from entities only;
* ``"hipporag2"``: :class:`~retrievers.linking.FactLinker` seeds + HippoRAG 2 passage
  reset weighting;
* ``"hybrid"``: fact seeds + the configured fusion (default ``"dense_prior"``).

When a query links to no entity (and no ``extra_seeds`` are given) the hits are
the dense ones and both the result and every explanation carry ``"no_seeds"``.
When graph scores reach fewer than ``k`` passages, dense hits fill the rest
(flag ``"dense_backfill"``).

Example:
    >>> from hipporag.index import Index
    >>> g = GraphRetriever(Index.open("my-index"))                       # doctest: +SKIP
    >>> res = g.retrieve("Who directed Big Eyes?", k=3)                  # doctest: +SKIP
    >>> res.hits[0].explanation.path                                     # doctest: +SKIP
    ['big eyes', '[Big Eyes]']
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from hipporag.config import RETRIEVAL_MODES, RetrievalConfig
from hipporag.errors import RetrievalError
from hipporag.index import Index
from hipporag.protocols import LLM, Embedder
from hipporag.types import RetrievalResult, Seed
from retrievers.common import (
    check_extra_seeds,
    check_k,
    check_queries,
    check_query,
    exclusion_mask,
    make_hits,
    top_k,
)
from retrievers.dense import DenseRetriever, embedder_for
from retrievers.explain import Explainer
from retrievers.fusion import DenseEvidence, Fusion
from retrievers.linking import FactLinker, Linking, NERLinker
from retrievers.ppr import PPR
from retrievers.recognition import RecognitionFilter

# Seeds below this share of the strongest seed are not listed nor used as path ends.
_SEED_SHOWN = 0.01


def check_mode(mode: str | None, default: str) -> str:
    """The mode to use; raise a clear error for an unknown one."""
    mode = default if mode is None else mode
    if mode not in RETRIEVAL_MODES:
        raise RetrievalError(
            f"unknown retrieval mode {mode!r}",
            hint=f"use one of {RETRIEVAL_MODES} (default: 'hybrid')",
        )
    return mode


class GraphRetriever:
    """HippoRAG retrieval over one index, in any mode; implements the ``Retriever`` protocol.

    Heavy parts (models, PPR matrices, name tables) load on first use.
    Thread-safe for concurrent ``retrieve`` calls once warm.

    Args:
        index: An open index.
        config: Retrieval parameters (default :class:`RetrievalConfig`).
        embedder: Query encoder; defaults to the model the index was built with.
        llm: LLM for the recognition filter (only used when ``config.recognition``);
            defaults to an ``OpenAIChatLLM`` over ``config.llm``.

    Example:
        >>> g = GraphRetriever(Index.open("my-index"), RetrievalConfig(mode="hipporag2"))
        ...                                                              # doctest: +SKIP
        >>> g.retrieve("Who directed Big Eyes?", k=5, extra_seeds={42: 1.0})  # doctest: +SKIP
    """

    def __init__(
        self,
        index: Index,
        config: RetrievalConfig | None = None,
        *,
        embedder: Embedder | None = None,
        llm: LLM | None = None,
    ) -> None:
        self.index = index
        self.config = config or RetrievalConfig()
        self.embedder: Embedder = embedder or embedder_for(index)
        self.llm = llm
        self.dense = DenseRetriever(index, self.embedder, explain=self.config.explain)
        self._ppr: PPR | None = None
        self._fact_linker: FactLinker | None = None
        self._ner_linker: NERLinker | None = None
        self.explainer = Explainer(index, max_hops=self.config.path_hops)
        c = self.config
        kw = {"passage_weight": c.passage_weight, "rrf_k": c.rrf_k}
        self.fusions = {
            "hipporag2": Fusion("hipporag2", **kw),
            "hybrid": Fusion(c.fusion, entity_mass=c.entity_mass, temperature=c.temperature, **kw),
        }

    # -- lazily built parts ------------------------------------------------------------
    @property
    def ppr(self) -> PPR:
        if self._ppr is None:
            self._ppr = PPR(self.index.graph)
        return self._ppr

    @property
    def fact_linker(self) -> FactLinker:
        if self._fact_linker is None:
            recognition = None
            if self.config.recognition:
                llm = self.llm
                if llm is None:
                    from hipporag.llm import OpenAIChatLLM

                    llm = self.llm = OpenAIChatLLM(self.config.llm)
                recognition = RecognitionFilter(
                    llm,
                    max_facts=self.config.recognition_max_facts,
                    max_candidates=self.config.top_facts,
                )
            self._fact_linker = FactLinker(self.index, self.config.top_facts, recognition)
        return self._fact_linker

    @property
    def ner_linker(self) -> NERLinker:
        if self._ner_linker is None:
            self._ner_linker = NERLinker(
                self.index, self.embedder, self.config.spacy_model, self.config.link_k
            )
        return self._ner_linker

    def warm_up(self) -> None:
        """Load the models, the PPR matrices and the name tables now."""
        self.dense.encode("warm up")
        _ = self.ppr, self.index.entity_names, self.explainer.titles
        if self.index.n_facts:
            self.fact_linker.triple(0)
        for name in ("passages", "facts"):
            self.index.hnsw(name)

    # -- public API --------------------------------------------------------------------
    def link(self, query: str, mode: str | None = None, qvec: np.ndarray | None = None) -> Linking:
        """The entity seeds of ``query`` under ``mode`` (facts, or NER for ``hipporag1``)."""
        query = check_query(query)
        mode = check_mode(mode, self.config.mode)
        if mode == "hipporag1":
            return self.ner_linker.link(query)
        if qvec is None:
            qvec = self.dense.encode(query)
        return self.fact_linker.link(query, qvec)

    def retrieve(
        self,
        query: str,
        k: int = 5,
        *,
        mode: str | None = None,
        extra_seeds: Mapping[int, float] | None = None,
        exclude: Iterable[str | int] | None = None,
    ) -> RetrievalResult:
        """Rank passages for ``query``.

        Args:
            query: The question (non-empty).
            k: Number of hits, >= 1; larger than the corpus returns every passage.
            mode: Overrides ``config.mode`` for this call.
            extra_seeds: ``{entity_idx: weight}`` added to the linked seeds. Weights
                are relative to the linked seeds' total: an extra seed of weight 1.0
                carries as much reset mass as all linked entity seeds together.
            exclude: Passages to leave out (``passage_id`` strings or ``passage_idx`` ints).

        Raises:
            RetrievalError: Empty query, ``k`` < 1, unknown mode, bad seeds or exclusions.
        """
        query, k = check_query(query), check_k(k)
        mode = check_mode(mode, self.config.mode)
        extra = check_extra_seeds(extra_seeds, self.index.n_entities)
        if extra and mode == "dense":
            raise RetrievalError(
                "extra_seeds need a graph mode, got mode='dense'",
                hint="use mode 'hybrid', 'hipporag2' or 'hipporag1'",
            )
        excluded = exclusion_mask(self.index, exclude)
        t0 = time.perf_counter()
        if mode == "dense":
            qvec = self.dense.encode(query)
            return self.dense._result(query, qvec, k, excluded, t0)
        qvec = self.dense.encode(query)
        return self._graph(query, qvec, k, mode, extra, excluded, t0)

    def retrieve_batch(
        self, queries: Sequence[str], k: int = 5, *, mode: str | None = None
    ) -> list[RetrievalResult]:
        """:meth:`retrieve` for many queries; query vectors are encoded in one batch."""
        queries, k = check_queries(queries), check_k(k)
        mode = check_mode(mode, self.config.mode)
        if not queries:
            return []
        t0 = time.perf_counter()
        qvecs = np.asarray(self.embedder.encode(queries, is_query=True), dtype=np.float32)
        share = (time.perf_counter() - t0) / len(queries)
        out = []
        for q, v in zip(queries, qvecs, strict=True):
            start = time.perf_counter() - share
            if mode == "dense":
                out.append(self.dense._result(q, v, k, None, start))
            else:
                out.append(self._graph(q, v, k, mode, {}, None, start))
        return out

    # -- the pipeline --------------------------------------------------------------------
    def _graph(
        self,
        query: str,
        qvec: np.ndarray,
        k: int,
        mode: str,
        extra: dict[int, float],
        excluded: np.ndarray | None,
        t0: float,
    ) -> RetrievalResult:
        c, index = self.config, self.index
        n_ent = index.n_entities
        timings: dict[str, float] = {}
        t1 = time.perf_counter()
        timings["encode"] = (t1 - t0) * 1e3
        linking = self.link(query, mode, qvec)
        flags = list(linking.flags)
        weights = dict(linking.weights)
        if extra:
            scale = float(sum(weights.values())) or 1.0
            for e, w in extra.items():
                weights[e] = weights.get(e, 0.0) + w * scale
        t2 = time.perf_counter()
        timings["link"] = (t2 - t1) * 1e3
        if not weights:
            flags.insert(0, "no_seeds")
            result = self.dense._result(query, qvec, k, excluded, t0)
            result.mode, result.flags = mode, flags
            for hit in result.hits:
                if hit.explanation is not None:
                    hit.explanation.flags = list(flags)
            result.timings_ms = {**timings, **result.timings_ms}
            return result
        fusion = self.fusions.get(mode)
        dense = DenseEvidence(np.zeros(0, np.int64), np.zeros(0, np.float32))
        if mode == "hipporag1":
            reset: dict[int, float] | np.ndarray = weights
        else:
            assert fusion is not None
            if fusion.needs_all_dense:
                dense.all_scores = self.dense.scores(qvec)
            else:
                dense.idxs, dense.sims = self.dense.search(qvec, c.dense_candidates)
            reset = fusion.reset(weights, dense, n_ent)
        t3 = time.perf_counter()
        timings["fuse"] = (t3 - t2) * 1e3
        node_scores = self.ppr.run(reset, c.damping, c.ppr_method, eps=c.ppr_eps)  # type: ignore[arg-type]
        t4 = time.perf_counter()
        timings["ppr"] = (t4 - t3) * 1e3
        scores = node_scores[n_ent:]
        if fusion is not None:
            scores = fusion.passage_scores(scores, dense)
        valid = scores > 0
        if excluded is not None:
            valid &= ~excluded
        idxs = top_k(scores, k, valid)
        ranked_scores = scores[idxs].astype(np.float64)
        if idxs.size < k:  # the walk reached fewer than k passages: fill with dense hits
            blocked = np.zeros(index.n_passages, dtype=bool)
            blocked[idxs] = True
            if excluded is not None:
                blocked |= excluded
            fill, _ = self.dense.search(qvec, k - idxs.size, blocked)
            if fill.size:
                flags.append("dense_backfill")
                idxs = np.concatenate([idxs, fill])
                ranked_scores = np.concatenate([ranked_scores, np.zeros(fill.size)])
        t5 = time.perf_counter()
        timings["rank"] = (t5 - t4) * 1e3
        explanations = None
        if c.explain:
            seeds, seed_nodes = self._seed_list(reset, linking, extra, qvec)
            emb = self.dense.embeddings
            dense_scores = [float(emb[int(i)] @ qvec) for i in idxs]
            explanations = self.explainer.explain(
                idxs.tolist(),
                seeds=seeds,
                seed_nodes=[s for s, _ in seed_nodes],
                seed_weights=[w for _, w in seed_nodes],
                node_scores=node_scores,
                dense_scores=dense_scores,
                flags=flags,
            )
        t6 = time.perf_counter()
        timings["explain"] = (t6 - t5) * 1e3
        hits = make_hits(self.dense.store, idxs, ranked_scores, explanations)
        t7 = time.perf_counter()
        timings["fetch"] = (t7 - t6) * 1e3
        timings["total"] = (t7 - t0) * 1e3
        return RetrievalResult(query=query, hits=hits, mode=mode, flags=flags, timings_ms=timings)

    def _seed_list(
        self,
        reset: Mapping[int, float] | np.ndarray,
        linking: Linking,
        extra: dict[int, float],
        qvec: np.ndarray,
    ) -> tuple[list[Seed], list[tuple[int, float]]]:
        """Seeds to show (strongest first, normalised weights) and (node, weight) path ends."""
        n_ent = self.index.n_entities
        if isinstance(reset, np.ndarray):
            # HippoRAG 2 puts a little mass on every passage: list entity seeds only.
            nodes = np.flatnonzero(reset[:n_ent] > 0)
            mass = reset[nodes]
            total = float(reset.sum())
        else:
            nodes = np.fromiter(reset.keys(), np.int64, len(reset))
            mass = np.fromiter(reset.values(), np.float64, len(reset))
            total = float(mass.sum())
        if nodes.size == 0:
            return [], []
        keep = mass >= _SEED_SHOWN * float(mass.max())
        nodes, mass = nodes[keep], mass[keep]
        order = np.lexsort((nodes, -mass))
        nodes, mass = nodes[order], mass[order] / (total or 1.0)
        why = {s.node: s.source for s in linking.seeds}
        seeds = []
        names = self.index.entity_names
        for node, w in zip(nodes.tolist(), mass.tolist(), strict=True):
            if node < n_ent:
                source = why.get(names[node]) or ("extra seed" if node in extra else "")
                seeds.append(Seed(names[node], "entity", w, source))
            else:
                p = node - n_ent
                cos = float(self.dense.embeddings[p] @ qvec)
                seeds.append(
                    Seed(self.explainer.node_name(node), "passage", w, f"dense cos={cos:.3f}")
                )
        return seeds, list(zip(nodes.tolist(), mass.tolist(), strict=True))

    def __getstate__(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "config": self.config,
            "embedder": self.embedder,
            "llm": self.llm,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(
            state["index"],
            state["config"],
            embedder=state["embedder"],  # type: ignore[misc]
            llm=state["llm"],
        )


__all__ = ["GraphRetriever", "check_mode"]
