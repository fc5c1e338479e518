"""The graph of a living index: a CSR base plus the edge changes of later generations.

Passage node ids are ``n_entities + passage_idx``, so a change that adds
entities renumbers every passage node; an edge change is therefore stored in
*row coordinates*, which do not move: an entity is its ``entity_idx``, a
passage ``PASSAGE + passage_idx``. An undirected pair ``(lo, hi)`` of such
coordinates is one int64 key ``lo << 32 | hi``. A generation that changes the
graph writes one delta (keys and their new total weights; weight 0 removes the
pair) instead of the whole CSR; a reader builds its CSR from the base and the
deltas, in order. When the deltas add up to more than a quarter of the base's
pairs, the writer writes a fresh CSR instead (amortised ``O(change)`` bytes).

Example:
    >>> import numpy as np
    >>> from hipporag.graph import CSRGraph
    >>> g = CSRGraph.from_edges(3, np.array([0, 0]), np.array([1, 2]), np.array([1.0, 1.0]))
    >>> keys, w = csr_pairs(g, n_entities=2)     # entities 0, 1; passage 0 is node 2
    >>> [unkey(k) for k in keys.tolist()]
    [(0, 1), (0, 'p0')]
    >>> d_keys, d_w = diff(keys, w, keys[:1], np.array([3.0]))
    >>> merged = apply_deltas(keys, w, [(d_keys, d_w)])
    >>> to_csr(*merged, n_entities=2, n_passages=1).neighbor_weights(0).tolist()
    [3.0]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hipporag.graph import CSRGraph

PASSAGE = 1 << 31
DELTA_FRACTION = 0.25
DELTA_DTYPE = np.dtype([("key", np.int64), ("weight", np.float64)])


def coords(nodes: np.ndarray, n_entities: int) -> np.ndarray:
    """Row coordinates of graph node ids."""
    nodes = np.asarray(nodes, dtype=np.int64)
    return np.where(nodes < n_entities, nodes, nodes - n_entities + PASSAGE)


def nodes_of(coord: np.ndarray, n_entities: int) -> np.ndarray:
    """Graph node ids of row coordinates."""
    coord = np.asarray(coord, dtype=np.int64)
    return np.where(coord < PASSAGE, coord, coord - PASSAGE + n_entities)


def pair_keys(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Keys of undirected pairs of row coordinates."""
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    return (lo << 32) | hi


def unkey(key: int) -> tuple[int, int | str]:
    """A key as ``(entity, entity)`` or ``(entity, "pN")`` (for display and tests)."""
    lo, hi = key >> 32, key & 0xFFFFFFFF
    return lo, (f"p{hi - PASSAGE}" if hi >= PASSAGE else hi)


def edge_pairs(
    src: np.ndarray, dst: np.ndarray, weight: np.ndarray, n_entities: int
) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique pair keys and summed weights of node-id edges (self-loops dropped)."""
    src, dst = np.asarray(src, np.int64), np.asarray(dst, np.int64)
    keep = src != dst
    keys = pair_keys(coords(src[keep], n_entities), coords(dst[keep], n_entities))
    uniq, inv = np.unique(keys, return_inverse=True)
    w = np.bincount(inv, weights=np.asarray(weight, np.float64)[keep], minlength=uniq.shape[0])
    return uniq, w


def csr_pairs(graph: CSRGraph, n_entities: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted pair keys and weights of a CSR graph whose passages follow ``n_entities``."""
    rows = np.repeat(np.arange(graph.n_nodes, dtype=np.int64), np.diff(graph.indptr))
    cols = np.asarray(graph.indices, dtype=np.int64)
    upper = rows < cols
    keys = pair_keys(coords(rows[upper], n_entities), coords(cols[upper], n_entities))
    w = np.asarray(graph.weights, dtype=np.float64)[upper]
    order = np.argsort(keys, kind="stable")
    return keys[order], w[order]


def diff(
    old_keys: np.ndarray, old_w: np.ndarray, new_keys: np.ndarray, new_w: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The delta from one sorted pair set to another: changed and new pairs, removed at 0."""
    if old_keys.size:
        pos = np.minimum(np.searchsorted(old_keys, new_keys), old_keys.size - 1)
        found = old_keys[pos] == new_keys
    else:
        pos, found = np.zeros(new_keys.shape[0], np.int64), np.zeros(new_keys.shape[0], bool)
    same = np.zeros(new_keys.shape[0], bool)
    same[found] = old_w[pos[found]].astype(np.float32) == new_w[found].astype(np.float32)
    gone = ~np.isin(old_keys, new_keys, assume_unique=True)
    keys = np.concatenate([new_keys[~same], old_keys[gone]])
    w = np.concatenate([new_w[~same], np.zeros(int(gone.sum()))])
    order = np.argsort(keys, kind="stable")
    return keys[order], w[order]


def apply_deltas(
    keys: np.ndarray, w: np.ndarray, deltas: Sequence[tuple[np.ndarray, np.ndarray]]
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs after applying ``deltas`` in order (the last weight of a key wins; 0 removes it)."""
    if not deltas:
        return keys, w
    all_k = np.concatenate([keys, *[d[0] for d in deltas]])
    all_w = np.concatenate([w, *[d[1] for d in deltas]])
    order = np.argsort(all_k, kind="stable")  # stable: later deltas stay after earlier rows
    all_k, all_w = all_k[order], all_w[order]
    last = np.ones(all_k.shape[0], bool)
    last[:-1] = all_k[1:] != all_k[:-1]
    all_k, all_w = all_k[last], all_w[last]
    alive = all_w != 0
    return all_k[alive], all_w[alive]


def to_csr(keys: np.ndarray, w: np.ndarray, *, n_entities: int, n_passages: int) -> CSRGraph:
    """The CSR graph of pair keys, with passage nodes after ``n_entities``."""
    lo, hi = keys >> 32, keys & 0xFFFFFFFF
    return CSRGraph.from_edges(
        n_entities + n_passages, nodes_of(lo, n_entities), nodes_of(hi, n_entities), w
    )


def with_deltas(
    base: CSRGraph,
    base_entities: int,
    deltas: Sequence[np.ndarray],
    n_entities: int,
    n_passages: int,
) -> CSRGraph:
    """The CSR graph of a base (passages after ``base_entities``) with ``deltas`` applied."""
    keys, w = csr_pairs(base, base_entities)
    keys, w = apply_deltas(
        keys, w, [(np.asarray(d["key"]), np.asarray(d["weight"])) for d in deltas]
    )
    return to_csr(keys, w, n_entities=n_entities, n_passages=n_passages)


def delta_array(keys: np.ndarray, w: np.ndarray) -> np.ndarray:
    """A delta as one structured array (no pickle)."""
    out = np.empty(keys.shape[0], dtype=DELTA_DTYPE)
    out["key"], out["weight"] = keys, w
    return out


__all__ = [
    "DELTA_FRACTION",
    "PASSAGE",
    "apply_deltas",
    "coords",
    "csr_pairs",
    "delta_array",
    "diff",
    "edge_pairs",
    "nodes_of",
    "pair_keys",
    "to_csr",
    "unkey",
    "with_deltas",
]
