"""``hipporag1``: HippoRAG 1 retrieval (NER seeds, PPR from entities only).

The query's named entities (spaCy; noun chunks when there are none) are each
linked to their ``link_k`` nearest entity nodes, weighted by node specificity
``1 / n_passages``; PPR runs from these entities and ranks the passages it
reaches. Per-query cost is that of the local push: no step is O(passages).

Example:
    >>> from hipporag.index import Index
    >>> r = HippoRAG1Retriever(Index.open(DEMO_INDEX))
    >>> r.retrieve("Who directed Big Eyes?", k=3).mode
    'hipporag1'
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hipporag.config import DEFAULT_SPACY_MODEL
from hipporag.sections import check
from retrievers.linking import Linking
from retrievers.params import PPRParams
from retrievers.registry import register
from retrievers.walk import WalkRetriever


@dataclass(frozen=True)
class HippoRAG1Params(PPRParams):
    """Parameters of ``hipporag1``.

    Attributes:
        link_k: Entity nodes linked per query mention (HippoRAG 1: 1).
        spacy_model: spaCy pipeline for the query's named entities.
    """

    link_k: int = 1
    spacy_model: str = DEFAULT_SPACY_MODEL

    def validate(self) -> None:
        super().validate()
        check(self.link_k >= 1, f"retrieval.link_k must be >= 1, got {self.link_k}")
        check(bool(self.spacy_model.strip()), "retrieval.spacy_model is empty")


@register("hipporag1", params=HippoRAG1Params, summary="HippoRAG 1: NER seeds, PPR")
class HippoRAG1Retriever(WalkRetriever):
    """HippoRAG 1: query entities linked to entity nodes, PPR from them."""

    Params = HippoRAG1Params

    def link(self, query: str, qvec: np.ndarray | None = None) -> Linking:
        p = self.params
        assert isinstance(p, HippoRAG1Params)
        return self.parts.ner_linker(p.spacy_model, p.link_k).link(query)


__all__ = ["HippoRAG1Params", "HippoRAG1Retriever"]
