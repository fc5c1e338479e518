"""The knowledge graph in compressed sparse row (CSR) form.

Node numbering is fixed by the index format: entity nodes come first
(``0 .. n_entities-1``, in the order of the ``entities`` table), passage nodes
after them (``n_entities + passage_idx``). The graph is undirected and stored
symmetrically: an edge ``u-v`` appears in the rows of both ``u`` and ``v``.
Parallel edges are merged when the graph is built (weights added), so each
row holds each neighbour at most once.

Example:
    >>> import numpy as np
    >>> g = CSRGraph.from_edges(3, np.array([0, 1]), np.array([1, 2]), np.array([1.0, 2.0]))
    >>> g.neighbors(1).tolist()
    [0, 2]
    >>> g.degree().tolist()
    [1.0, 3.0, 2.0]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CSRGraph:
    """An undirected weighted graph as CSR arrays (possibly memory-mapped).

    Attributes:
        indptr: int64 array of length ``n_nodes + 1``.
        indices: int32 neighbour ids, row by row.
        weights: float32 edge weights aligned with ``indices``.
    """

    indptr: np.ndarray
    indices: np.ndarray
    weights: np.ndarray

    @property
    def n_nodes(self) -> int:
        return int(self.indptr.shape[0] - 1)

    @property
    def n_stored_edges(self) -> int:
        """Number of stored (directed) entries: twice the undirected edges, minus self-loops."""
        return int(self.indices.shape[0])

    def neighbors(self, node: int) -> np.ndarray:
        return self.indices[self.indptr[node] : self.indptr[node + 1]]

    def neighbor_weights(self, node: int) -> np.ndarray:
        return self.weights[self.indptr[node] : self.indptr[node + 1]]

    def degree(self) -> np.ndarray:
        """Weighted degree (strength) of every node, float64."""
        out = np.zeros(self.n_nodes, dtype=np.float64)
        rows = np.repeat(np.arange(self.n_nodes), np.diff(self.indptr))
        np.add.at(out, rows, self.weights.astype(np.float64))
        return out

    def to_scipy(self):
        """The adjacency matrix as ``scipy.sparse.csr_matrix`` (shares memory where possible)."""
        from scipy.sparse import csr_matrix

        return csr_matrix(
            (self.weights, self.indices, self.indptr), shape=(self.n_nodes, self.n_nodes)
        )

    @classmethod
    def from_edges(
        cls, n_nodes: int, src: np.ndarray, dst: np.ndarray, weight: np.ndarray
    ) -> CSRGraph:
        """Build a symmetric CSR graph from undirected edges; duplicates are summed."""
        from scipy.sparse import coo_matrix

        src = np.asarray(src, dtype=np.int64)
        dst = np.asarray(dst, dtype=np.int64)
        weight = np.asarray(weight, dtype=np.float64)
        loops = src == dst
        rows = np.concatenate([src, dst[~loops]])
        cols = np.concatenate([dst, src[~loops]])
        vals = np.concatenate([weight, weight[~loops]])
        m = coo_matrix((vals, (rows, cols)), shape=(n_nodes, n_nodes)).tocsr()
        m.sum_duplicates()
        m.sort_indices()
        return cls(
            indptr=m.indptr.astype(np.int64),
            indices=m.indices.astype(np.int32),
            weights=m.data.astype(np.float32),
        )


__all__ = ["CSRGraph"]
