"""A large synthetic index in memory, read through the real lookups, for tests and benchmarks.

Entities and passages with random passage-entity and fact edges (a realistic
heavy-tailed degree distribution is not needed for the cost checks), random
unit embeddings, optional real hnswlib indexes. Everything the retrievers read
goes through :class:`~hipporag.index.lookups.IndexLookups`.

Example:
    >>> idx = SyntheticIndex(100, 200)
    >>> idx.graph.n_nodes, idx.knn("passages", idx.embeddings("passages")[7], 1)[0].tolist()
    (300, [7])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from hipporag.graph import CSRGraph
from hipporag.index.lookups import IndexLookups
from hipporag.types import Passage


class VectorEmbedder:
    """Maps given query strings to given vectors (queries are pre-encoded)."""

    name, dim = "vectors", 0

    def __init__(self, vectors: dict[str, np.ndarray]) -> None:
        self.vectors = vectors
        self.dim = len(next(iter(vectors.values()))) if vectors else 0

    def warm_up(self) -> None:
        pass

    def encode(self, texts: Sequence[str], *, is_query: bool = False) -> np.ndarray:
        return np.stack([self.vectors[t] for t in texts])

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name}


class SyntheticIndex(IndexLookups):
    """Random entities, passages (3 mentions each), facts (one per passage) and vectors.

    Args:
        n_entities: Entity nodes.
        n_passages: Passage nodes (and facts).
        dim: Embedding size.
        hnsw: Build real hnswlib indexes (else searches are exact).
        seed: Random seed.
    """

    def __init__(
        self, n_entities: int, n_passages: int, *, dim: int = 8, hnsw: bool = False, seed: int = 0
    ) -> None:
        rng = np.random.default_rng(seed)
        self.n_entities, self.n_passages = n_entities, n_passages
        self.n_facts = n_passages
        pe_src = np.repeat(np.arange(n_passages), 3) + n_entities
        pe_dst = rng.integers(0, n_entities, 3 * n_passages)
        f_subj = rng.integers(0, n_entities, self.n_facts)
        f_obj = rng.integers(0, n_entities, self.n_facts)
        self.graph = CSRGraph.from_edges(
            n_entities + n_passages,
            np.concatenate([pe_src, f_subj]),
            np.concatenate([pe_dst, f_obj]),
            np.ones(pe_src.size + f_subj.size),
        )

        def unit(rows: int) -> np.ndarray:
            v = rng.normal(size=(rows, dim)).astype(np.float32)
            return v / np.linalg.norm(v, axis=1, keepdims=True)

        counts = np.bincount(pe_dst, minlength=n_entities).astype(np.int32)
        self._arrays = {
            "passage_embeddings": unit(n_passages),
            "entity_embeddings": unit(n_entities),
            "fact_embeddings": unit(self.n_facts),
            "entity_n_passages": np.maximum(counts, 1),
            "fact_subject": f_subj.astype(np.int32),
            "fact_object": f_obj.astype(np.int32),
        }
        self._hnsw: dict[str, Any] = {}
        if hnsw:
            import hnswlib

            for table in ("passages", "entities", "facts"):
                data = self.embeddings(table)
                h = hnswlib.Index(space="ip", dim=dim)
                h.init_index(max_elements=data.shape[0], M=12, ef_construction=64)
                h.add_items(data, np.arange(data.shape[0]))
                h.set_ef(64)
                self._hnsw[table] = h
        self.entity_names = [f"entity {i}" for i in range(n_entities)]
        self.passage_ids = [f"p{i}" for i in range(n_passages)]
        self._titles = [f"T{i}" for i in range(n_passages)]
        self._relations = ["rel"] * self.n_facts

    def array(self, name: str) -> np.ndarray:
        return self._arrays[name]

    def hnsw(self, name: str) -> Any:
        return self._hnsw.get(name)

    def passages(self, idxs: Sequence[int] | np.ndarray) -> list[Passage]:
        return [Passage(f"p{int(i)}", f"T{int(i)}", f"text {int(i)}") for i in idxs]

    def passage_titles(self) -> list[str]:
        return self._titles

    def fact_relations(self) -> list[str]:
        return self._relations


__all__ = ["SyntheticIndex", "VectorEmbedder"]
