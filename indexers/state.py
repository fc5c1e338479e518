"""The knowledge graph of one index generation, loaded for a change.

:class:`GraphState` holds what a change needs to keep the index exact: entity
and fact rows (tombstones included), their vectors and live masks, the
provenance and mention rows of live passages, the synonymy lists and the
three HNSW indexes. It is loaded from an :class:`~hipporag.index.Index`, or
empty for a build, changed by :mod:`indexers.changes` and written back by
:mod:`indexers.commit`.

Example:
    >>> s = GraphState.empty(dim=4, synonymy_k=2)
    >>> s.n_passages, s.n_entities, s.n_facts
    (0, 0, 0)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hipporag.index import Index


class RowStore:
    """The vectors of a table during a change: the parent's rows (read-only, not copied)
    followed by the rows the change adds (in RAM).

    Example:
        >>> v = RowStore(np.eye(2, dtype=np.float32))
        >>> v.grow(3); v[np.array([2])] = np.ones((1, 2), np.float32)
        >>> v.shape, v[np.array([0, 2])].tolist(), v.added().shape
        ((3, 2), [[1.0, 0.0], [1.0, 1.0]], (1, 2))
    """

    def __init__(self, base: Any, added: np.ndarray | None = None) -> None:
        self.base = base
        self.n_base = int(base.shape[0])
        dim = int(base.shape[1]) if len(base.shape) > 1 else 0
        self._added = added if added is not None else np.zeros((0, dim), np.float32)

    @classmethod
    def zeros(cls, n: int, dim: int) -> RowStore:
        return cls(np.zeros((0, dim), np.float32), np.zeros((n, dim), np.float32))

    @property
    def shape(self) -> tuple[int, int]:
        return (self.n_base + self._added.shape[0], int(self._added.shape[1]))

    def grow(self, n: int) -> None:
        """Zero rows up to ``n`` rows in all."""
        extra = n - self.shape[0]
        if extra > 0:
            pad = np.zeros((extra, self._added.shape[1]), np.float32)
            self._added = np.concatenate([self._added, pad])

    def added(self) -> np.ndarray:
        """The rows the change added."""
        return self._added

    def __getitem__(self, rows: Any) -> np.ndarray:
        if isinstance(rows, slice):
            rows = np.arange(self.shape[0])[rows]
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        out = np.empty((rows.shape[0], self.shape[1]), np.float32)
        old = rows < self.n_base
        if old.any():
            out[old] = np.asarray(self.base[rows[old]], dtype=np.float32)
        out[~old] = self._added[rows[~old] - self.n_base]
        return out

    def __setitem__(self, rows: Any, values: np.ndarray) -> None:
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        if rows.size and rows.min() < self.n_base:
            raise ValueError("the parent generation's vectors are immutable")
        self._added[rows - self.n_base] = values


def _grow(arr: np.ndarray, n: int, fill: Any = 0) -> np.ndarray:
    extra = n - arr.shape[0]
    if extra <= 0:
        return arr
    pad = np.full((extra, *arr.shape[1:]), fill, dtype=arr.dtype)
    return np.concatenate([arr, pad])


@dataclass
class GraphState:
    """Column arrays of an index generation (rows = idx, deleted rows kept)."""

    dim: int
    passage_ids: list[str]
    passage_docs: list[str]
    live_p: np.ndarray
    p_vec: RowStore
    entity_names: list[str]
    live_e: np.ndarray
    e_vec: RowStore
    e_npass: np.ndarray
    fact_subject: np.ndarray
    fact_object: np.ndarray
    fact_relation: list[str]
    fact_text: list[str]
    live_f: np.ndarray
    f_vec: RowStore
    provenance: np.ndarray  # [N, 2] (fact_idx, passage_idx), live passages only
    mentions: np.ndarray  # [M, 3] (entity_idx, passage_idx, n)
    syn_knn: np.ndarray
    syn_sim: np.ndarray
    hnsw: dict[str, Any] = field(default_factory=dict)
    base: Index | None = None
    # per table: (kept parent segments, first row of the new segment, new hnswlib index, vectors)
    search_plan: dict[str, tuple[int, int, Any, int]] = field(default_factory=dict)

    @classmethod
    def empty(cls, dim: int, synonymy_k: int) -> GraphState:
        return cls(
            dim=dim,
            passage_ids=[],
            passage_docs=[],
            live_p=np.zeros(0, bool),
            p_vec=RowStore.zeros(0, dim),
            entity_names=[],
            live_e=np.zeros(0, bool),
            e_vec=RowStore.zeros(0, dim),
            e_npass=np.zeros(0, np.int32),
            fact_subject=np.zeros(0, np.int32),
            fact_object=np.zeros(0, np.int32),
            fact_relation=[],
            fact_text=[],
            live_f=np.zeros(0, bool),
            f_vec=RowStore.zeros(0, dim),
            provenance=np.zeros((0, 2), np.int64),
            mentions=np.zeros((0, 3), np.int64),
            syn_knn=np.full((0, synonymy_k), -1, np.int32),
            syn_sim=np.zeros((0, synonymy_k), np.float32),
        )

    @classmethod
    def load(cls, index: Index) -> GraphState:
        """Everything a change needs from ``index``.

        The small per-row arrays are copied into RAM; the vectors are not (a
        change adds rows, it never rewrites the parent's).
        """
        con = index.connection()
        P, E, F = index.n_passages, index.n_entities, index.n_facts
        pid, pdoc = [""] * P, [""] * P
        doc = "doc_id" if index.format_version > 1 else "''"
        for i, a, b in con.execute(
            f"SELECT passage_idx, passage_id, {doc} FROM passages"
        ).fetchall():
            pid[i], pdoc[i] = a, b
        k = index.config.graph.synonymy_k
        if index.format_version > 1:
            knn = np.array(index.array("synonymy_knn"))
            sim = np.array(index.array("synonymy_sim"))
        else:  # version 1 kept no lists: an upgrade computes them
            knn, sim = np.full((E, k), -1, np.int32), np.zeros((E, k), np.float32)
        rel, ftext = [""] * F, [""] * F
        for i, r, t in con.execute("SELECT fact_idx, relation, text FROM facts").fetchall():
            rel[i], ftext[i] = r, t
        prov = con.execute("SELECT fact_idx, passage_idx FROM fact_provenance").fetchnumpy()
        men = con.execute("SELECT entity_idx, passage_idx, n FROM mentions").fetchnumpy()
        state = cls(
            dim=int(index.meta["embedding"]["dim"]),
            passage_ids=pid,
            passage_docs=pdoc,
            live_p=np.array(index.live("passages")),
            p_vec=RowStore(index.array("passage_embeddings")),
            entity_names=list(index.entity_names),
            live_e=np.array(index.live("entities")),
            e_vec=RowStore(index.array("entity_embeddings")),
            e_npass=np.array(index.array("entity_n_passages")),
            fact_subject=np.array(index.array("fact_subject")),
            fact_object=np.array(index.array("fact_object")),
            fact_relation=rel,
            fact_text=ftext,
            live_f=np.array(index.live("facts")),
            f_vec=RowStore(index.array("fact_embeddings")),
            provenance=np.stack([prov["fact_idx"], prov["passage_idx"]], 1).astype(np.int64),
            mentions=np.stack([men["entity_idx"], men["passage_idx"], men["n"]], 1).astype(
                np.int64
            ),
            syn_knn=knn,
            syn_sim=sim,
            base=index,
        )
        return state

    # -- sizes -------------------------------------------------------------------
    @property
    def n_passages(self) -> int:
        return len(self.passage_ids)

    @property
    def n_entities(self) -> int:
        return len(self.entity_names)

    @property
    def n_facts(self) -> int:
        return len(self.fact_text)

    def grow(self) -> None:
        """Pad the per-row arrays to the current row counts."""
        P, E, F = self.n_passages, self.n_entities, self.n_facts
        self.live_p = _grow(self.live_p, P, True)
        self.p_vec.grow(P)
        self.live_e = _grow(self.live_e, E, True)
        self.e_vec.grow(E)
        self.e_npass = _grow(self.e_npass, E)
        self.live_f = _grow(self.live_f, F, True)
        self.f_vec.grow(F)
        self.syn_knn = _grow(self.syn_knn, E, -1)
        self.syn_sim = _grow(self.syn_sim, E)

    # -- edges -------------------------------------------------------------------
    def fact_edges(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(src, dst, weight): weight = number of (fact, passage) records of the pair."""
        if self.provenance.shape[0] == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float64)
        f = self.provenance[:, 0]
        a, b = self.fact_subject[f].astype(np.int64), self.fact_object[f].astype(np.int64)
        keep = a != b
        lo, hi = np.minimum(a, b)[keep], np.maximum(a, b)[keep]
        if lo.shape[0] == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float64)
        pairs, counts = np.unique(np.stack([lo, hi], 1), axis=0, return_counts=True)
        return pairs[:, 0], pairs[:, 1], counts.astype(np.float64)

    def passage_entity_edges(self, weight: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(entity node, passage node, weight); passage nodes are E + passage_idx."""
        ent = self.mentions[:, 0].astype(np.int64)
        node = self.mentions[:, 1].astype(np.int64) + self.n_entities
        return ent, node, np.full(ent.shape[0], weight, dtype=np.float64)


__all__ = ["GraphState", "RowStore"]
