"""``hipporag2``: HippoRAG 2 retrieval (fact seeds + passage reset weighting).

The ``top_facts`` facts nearest to the query (optionally filtered by an LLM,
``recognition``) give their subject and object as seeds, weight
``fact score / n_passages``; every passage gets reset weight
``passage_weight * min-max(dense score)``; PPR ranks the passages.

Cost: by its definition this mode needs the dense score of **every** passage
(the min-max normalisation runs over all of them, and every passage carries
reset mass), so each query is O(passages): one matrix-vector product over the
memory-mapped embeddings plus a PPR whose support is the whole graph. With an
allow-list only the allowed (live) passages carry reset mass and are ranked.
Use ``hybrid`` (``dense_prior``) for a per-query cost independent of the corpus.

Example:
    >>> from hipporag.index import Index
    >>> r = HippoRAG2Retriever(Index.open(DEMO_INDEX))
    >>> r.retrieve("Who directed Big Eyes?", k=3).mode
    'hipporag2'
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from retrievers.common import PassageFilter
from retrievers.fusion import DenseEvidence, Fusion
from retrievers.linking import Linking
from retrievers.params import FactParams
from retrievers.registration import register
from retrievers.walk import WalkRetriever


@dataclass(frozen=True)
class HippoRAG2Params(FactParams):
    """Parameters of ``hipporag2`` (those of :class:`~retrievers.params.FactParams`)."""


def usable_mask(filt: PassageFilter, n_passages: int) -> np.ndarray:
    """Full boolean mask of the passages allowed by ``filt`` (O(passages), global modes only)."""
    mask = (
        filt.live_mask.copy()
        if filt.live_mask.shape[0] == n_passages
        else np.ones(n_passages, bool)
    )
    if filt.allow is not None:
        allowed = np.zeros(n_passages, dtype=bool)
        allowed[filt.allow] = True
        mask &= allowed
    return mask


class FactSeeded(WalkRetriever):
    """Fact linking (HippoRAG 2) for the fact-seeded retrievers."""

    Params = FactParams

    def link(self, query: str, qvec: np.ndarray) -> Linking:
        p = self.params
        assert isinstance(p, FactParams)
        return self.parts.fact_linker(p).link(query, qvec)

    def global_reset(
        self, fusion: Fusion, weights: dict[int, float], qvec: np.ndarray, filt: PassageFilter
    ) -> tuple[np.ndarray, DenseEvidence, dict[int, float], float]:
        """HippoRAG 2's passage reset weighting over every usable passage."""
        n = self.index.n_passages
        evidence = DenseEvidence(
            np.zeros(0, np.int64),
            np.zeros(0, np.float32),
            self.parts.dense.scores(qvec),
            usable_mask(filt, n),
        )
        reset = fusion.reset(weights, evidence, self.index.n_entities)
        assert isinstance(reset, np.ndarray)
        return reset, evidence, weights, float(reset.sum())


@register("hipporag2", params=HippoRAG2Params, summary="HippoRAG 2: fact seeds + passage reset")
class HippoRAG2Retriever(FactSeeded):
    """HippoRAG 2 (see the module docstring; O(passages) per query by definition)."""

    Params = HippoRAG2Params

    def reset(self, weights, qvec, filt):  # type: ignore[no-untyped-def]
        p = self.params
        assert isinstance(p, FactParams)
        return self.global_reset(
            Fusion("hipporag2", passage_weight=p.passage_weight), weights, qvec, filt
        )


__all__ = ["FactSeeded", "HippoRAG2Params", "HippoRAG2Retriever", "usable_mask"]
