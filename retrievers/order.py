"""History-independent orderings: ties are broken by a stable key, never by row order.

Row numbers (``passage_idx``, ``entity_idx``, ``fact_idx``) depend on the
history of an index (an add after a delete appends), so a ranking that breaks
ties by them could differ between a living index and a fresh build of the same
corpus. Here every tie is broken by a key derived from content: a passage by
its ``passage_id``, an entity by its normalised name, a fact by its text
``(subject, relation, object)``. Scores are compared after rounding to
:data:`SCORE_DIGITS` decimals, so that two values equal up to floating-point
summation order (a graph numbered differently) count as a tie.

Example:
    >>> import numpy as np
    >>> keys = np.array([2, 0, 1])            # row 1 has the smallest stable key
    >>> order_by_score(np.array([0.5, 0.5, 0.5]), keys).tolist()
    [1, 2, 0]
    >>> stable_top_k(np.array([0.1, 0.9, 0.9]), 2, keys).tolist()
    [1, 2]
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from hipporag.index.coded import CodedStrings

SCORE_DIGITS = 12
"""Scores are compared at this many decimals (PPR scores sum to 1, cosines are <= 1)."""

_LOCK = threading.Lock()


def order_by_score(scores: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Positions of ``scores`` best first; ties (at :data:`SCORE_DIGITS`) by ``keys``."""
    scores = np.asarray(scores, dtype=np.float64)
    rounded = np.round(scores, SCORE_DIGITS)
    rounded = np.where(np.isnan(rounded), -np.inf, rounded)
    return np.lexsort((np.asarray(keys), -rounded))


def stable_top_k(scores: np.ndarray, k: int, keys: np.ndarray) -> np.ndarray:
    """Positions of the ``k`` best ``scores``, best first, ties by ``keys``."""
    k = min(int(k), int(scores.shape[0]))
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    return order_by_score(scores, keys)[:k].astype(np.int64)


def _rank_of(values: Sequence[str | None], dense: bool = False) -> np.ndarray:
    """Rank of each string among ``values`` (a missing one, None, sorts first).

    Equal strings get consecutive ranks by position, or one rank with
    ``dense``. Sorted as a NumPy string array while that stays under
    :data:`_NUMPY_SORT_BYTES` (it takes ``len(values)`` times the longest
    string), else as Python strings: one long name does not cost gigabytes.
    """
    n = len(values)
    width = max((len(v) for v in values if v), default=0)
    out = np.empty(n, dtype=np.int64)
    if n * max(width, 1) * 4 <= _NUMPY_SORT_BYTES:
        arr = np.asarray([v or "" for v in values], dtype=f"U{max(width, 1)}")
        if dense:
            return np.unique(arr, return_inverse=True)[1].astype(np.int64).reshape(-1)
        out[np.argsort(arr, kind="stable")] = np.arange(n, dtype=np.int64)
        return out
    order = sorted(range(n), key=lambda i: values[i] or "")
    if not dense:
        out[np.asarray(order, dtype=np.int64)] = np.arange(n, dtype=np.int64)
        return out
    rank, prev = -1, None
    for i in order:
        v = values[i] or ""
        if v != prev:
            rank, prev = rank + 1, v
        out[i] = rank
    return out


_NUMPY_SORT_BYTES = 256 << 20
"""The largest fixed-width string array :func:`_rank_of` sorts with NumPy."""


def _fact_keys(index: Any) -> np.ndarray:
    """Rank of every fact by (subject name, relation, object name), ties by row."""
    names = index.entity_names
    subj, obj = (np.asarray(a, dtype=np.int64) for a in index.fact_endpoints())
    rels = index.fact_relations()
    if isinstance(rels, CodedStrings):  # rank the distinct relations only
        rel = _rank_of(rels.vocab, dense=True)[rels.codes]
    else:
        rel = _rank_of(list(rels), dense=True)
    ent = _rank_of(names, dense=True)
    n_ent, n_rel = int(ent.max(initial=0)) + 1, int(rel.max(initial=0)) + 1
    if n_ent * n_ent * n_rel < 2**62:  # one int64 key: a single (radix) sort
        key = (ent[subj] * n_rel + rel) * n_ent + ent[obj]
        order = np.argsort(key, kind="stable")
    else:
        order = np.lexsort((ent[obj], rel, ent[subj]))  # stable: ties keep row order
    out = np.empty(subj.shape[0], dtype=np.int64)
    out[order] = np.arange(subj.shape[0], dtype=np.int64)
    return out


def keys_of(index: Any, table: str) -> np.ndarray:
    """The stable key (an int rank) of every row of ``table`` (computed once per index).

    ``"passages"``: by ``passage_id``; ``"entities"``: by name; ``"facts"``: by
    (subject name, relation, object name).
    """
    index = getattr(index, "unfiltered", index)  # a filtered view keys rows as its index
    cache = index.__dict__.setdefault("_stable_keys", {}) if hasattr(index, "__dict__") else {}
    found = cache.get(table)
    if found is not None:
        return found
    with _LOCK:
        found = cache.get(table)
        if found is None:
            if table == "passages":
                found = _rank_of(list(index.passage_ids))
            elif table == "entities":
                found = _rank_of(list(index.entity_names))
            elif table == "facts":
                found = _fact_keys(index)
            else:
                raise KeyError(f"unknown table {table!r}")
            cache[table] = found
    return found


def node_keys(index: Any, nodes: np.ndarray) -> np.ndarray:
    """Stable keys of graph nodes: entities by name first, then passages by id."""
    nodes = np.asarray(nodes, dtype=np.int64)
    if not hasattr(index, "entity_names"):  # a bare graph: its node ids are all there is
        return nodes
    n_ent = int(index.n_entities)
    ent, psg = keys_of(index, "entities"), keys_of(index, "passages")
    out = np.empty(nodes.shape, dtype=np.int64)
    is_ent = nodes < n_ent
    out[is_ent] = ent[nodes[is_ent]]
    out[~is_ent] = psg[nodes[~is_ent] - n_ent] + n_ent
    return out


def stable_knn(
    index: Any,
    table: str,
    vector: np.ndarray,
    k: int,
    *,
    allow: np.ndarray | None = None,
    exclude: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """:meth:`knn` whose ties, also at the ``k``-th place, are broken by the stable key.

    Asks for a few more rows than ``k`` and widens the search while the last
    row fetched still ties with the ``k``-th, so which of several equally
    similar rows (``imre valko`` / ``imre valkó``) comes first does not depend
    on row order.
    """
    keys = keys_of(index, table)
    want = int(k)
    fetch = want + 8
    while True:
        idxs, sims = index.knn(table, vector, fetch, allow=allow, exclude=exclude)
        if idxs.size == 0:
            return idxs, sims
        rounded = np.round(sims.astype(np.float64), 6)
        order = np.lexsort((keys[idxs], -rounded))
        idxs, sims, rounded = idxs[order], sims[order], rounded[order]
        if idxs.size < fetch or want >= idxs.size or rounded[-1] < rounded[want - 1]:
            return idxs[:want], sims[:want]
        fetch *= 4


__all__ = ["SCORE_DIGITS", "keys_of", "node_keys", "order_by_score", "stable_knn", "stable_top_k"]
