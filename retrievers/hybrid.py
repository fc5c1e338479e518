"""``hybrid`` (default): fact seeds combined with dense evidence by a fusion method.

``fusion = "dense_prior"`` (default): the reset distribution is
``(1 - entity_mass) * softmax(cosine / temperature)`` over the
``dense_candidates`` best dense passages plus ``entity_mass`` on the fact
seeds; the walk starts where dense retrieval believes the evidence chain
starts and PPR ranks what is connected to it. A share ``lexical_mass`` of the
passage part moves to the best BM25 hits (:mod:`retrievers.lexical_mix`): the
third evidence source, exact words. The reset is sparse and so is everything
after it: per-query cost does not grow with the corpus.

``fusion = "hipporag2"`` (HippoRAG 2's passage reset weighting) and ``"rrf"``
(reciprocal rank fusion of the dense ranking and that PPR ranking) need, by
definition, the dense score and rank of every passage: O(passages) per query.

Example:
    >>> from hipporag.index import Index
    >>> r = HybridRetriever(Index.open(DEMO_INDEX))
    >>> r.retrieve("Who directed Big Eyes?", k=3).mode
    'hybrid'
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from functools import cached_property, partial
from typing import Any

import numpy as np

from hipporag.sections import check
from retrievers.bridges import add_bridges
from retrievers.fusion import FUSION_METHODS, DenseEvidence, Fusion, rrf
from retrievers.hipporag2 import FactSeeded
from retrievers.lexical_mix import LexicalMix, check_lexical
from retrievers.order import keys_of
from retrievers.params import FactParams
from retrievers.registration import register


@dataclass(frozen=True)
class HybridParams(FactParams):
    """Parameters of ``hybrid``.

    Attributes:
        fusion: ``"dense_prior"`` (default), ``"hipporag2"`` or ``"rrf"``.
        entity_mass: ``dense_prior``: share of the reset mass on the fact seeds.
        temperature: ``dense_prior``: softmax temperature over cosine similarities.
        rrf_k: ``rrf``: the rank offset.
        lexical_mass: ``dense_prior``: share of the passage reset mass given to the
            best BM25 passages (:mod:`retrievers.lexical_mix`; 0: no lexical evidence).
        lexical_weight: ``dense_prior``: the dense candidates (and the BM25 hits) are
            scored ``cosine + lexical_weight * bm25 / best bm25`` before the softmax.
        lexical_candidates: BM25 passages that may carry that mass.
        lexical_temperature: softmax temperature over BM25 scores relative to the best.
        bm25_k1, bm25_b: BM25's parameters (as in ``lexical``).
        bridge_hops: rounds of entity -> fact -> entity activation from the seeds
            (:mod:`retrievers.bridges`; 0: off).
        bridge_mass: weight of a bridge entity relative to the strongest seed, times
            its activation.
        bridge_threshold: least cosine similarity of a fact to the query to pass activation.
        bridge_width: new entities kept per round.
    """

    fusion: str = "dense_prior"
    entity_mass: float = 0.2
    temperature: float = 0.02
    rrf_k: int = 60
    lexical_mass: float = 0.2
    lexical_weight: float = 0.0
    lexical_candidates: int = 5
    lexical_temperature: float = 0.02
    bm25_k1: float = 1.2
    bm25_b: float = 0.75
    bridge_hops: int = 0
    bridge_mass: float = 0.5
    bridge_threshold: float = 0.3
    bridge_width: int = 5

    def validate(self) -> None:
        super().validate()
        check_lexical(self)
        check(
            self.fusion in FUSION_METHODS,
            f"retrieval.fusion must be one of {FUSION_METHODS}, got {self.fusion!r}",
            "use 'dense_prior' (default), 'hipporag2' or 'rrf'",
        )
        check(
            0.0 <= self.entity_mass <= 1.0,
            f"retrieval.entity_mass must be in [0, 1], got {self.entity_mass}",
            "it is the share of the PPR reset mass given to entity seeds",
        )
        check(
            self.temperature > 0,
            f"retrieval.temperature must be > 0, got {self.temperature}",
            "a softmax temperature over cosine similarities, e.g. 0.02",
        )
        check(self.rrf_k >= 1, f"retrieval.rrf_k must be >= 1, got {self.rrf_k}")


@register("hybrid", params=HybridParams, summary="fact seeds fused with dense evidence (default)")
class HybridRetriever(FactSeeded):
    """Fact seeds plus dense evidence (see the module docstring)."""

    Params = HybridParams
    _local = threading.local()

    @cached_property
    def lexical(self) -> LexicalMix:
        p = self.params
        assert isinstance(p, HybridParams)
        return LexicalMix(self.index, p)

    def run(self, query: str, qvec: np.ndarray, k: int, **kw: Any):  # type: ignore[no-untyped-def]
        self._local.query = query  # the lexical evidence of this query is read in reset()
        try:
            return super().run(query, qvec, k, **kw)
        finally:
            self._local.query = None

    @cached_property
    def fusion(self) -> Fusion:
        p = self.params
        assert isinstance(p, HybridParams)
        return Fusion(
            p.fusion,
            entity_mass=p.entity_mass,
            temperature=p.temperature,
            passage_weight=p.passage_weight,
            rrf_k=p.rrf_k,
        )

    def reset(self, weights, qvec, filt):  # type: ignore[no-untyped-def]
        if self.fusion.needs_all_dense:
            return self.global_reset(self.fusion, weights, qvec, filt)
        p = self.params
        assert isinstance(p, HybridParams)
        weights = add_bridges(self.parts, p, weights, qvec)
        idxs, sims = self.parts.dense.candidates(qvec, p.dense_candidates, allow=filt.allow)
        query = getattr(self._local, "query", None)
        similarity = partial(self.parts.dense.similarity, qvec)
        idxs, sims = self.lexical.boost(idxs, sims, query, filt, similarity)
        evidence = DenseEvidence(idxs, sims)
        reset = self.fusion.reset(weights, evidence, self.index.n_entities)
        assert isinstance(reset, dict)
        reset = self.lexical.mix(reset, getattr(self._local, "query", None), filt)
        return reset, evidence, reset, float(sum(reset.values()))

    def _seed_list(self, shown, total, linking, extra, qvec):  # type: ignore[no-untyped-def]
        """The seeds, with the BM25 score on the passages that got the lexical share."""
        seeds, nodes = super()._seed_list(shown, total, linking, extra, qvec)
        lexical = self.lexical.last
        for i, (node, _) in enumerate(nodes):
            if node in lexical:
                why = f"{seeds[i].source}, bm25={lexical[node]:.2f}".lstrip(", ")
                seeds[i] = replace(seeds[i], source=why)
        return seeds, nodes

    def passage_scores(
        self, idxs: np.ndarray, ppr: np.ndarray, dense: DenseEvidence
    ) -> tuple[np.ndarray, np.ndarray]:
        if self.fusion.method != "rrf":
            return idxs, ppr
        assert dense.all_scores is not None  # rrf ranks every passage, by definition
        full = np.zeros(dense.all_scores.shape[0])
        full[idxs] = ppr
        scores = np.asarray(dense.all_scores, dtype=np.float64)
        if dense.usable is not None:  # deleted or filtered-out passages take no rank
            scores = np.where(dense.usable, scores, -np.inf)
            full = np.where(dense.usable, full, -np.inf)
        keys = keys_of(self.index, "passages")
        fused = rrf(scores, full, self.fusion.rrf_k, keys)
        return np.arange(full.size, dtype=np.int64), fused


__all__ = ["HybridParams", "HybridRetriever"]
