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
from typing import Any

import numpy as np

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


def _rank_of(values: list[str]) -> np.ndarray:
    """Rank of each string among ``values`` (a missing one, None, sorts first)."""
    if not values:
        return np.zeros(0, dtype=np.int64)
    arr = np.asarray([v or "" for v in values], dtype=str)
    order = np.argsort(arr, kind="stable")
    out = np.empty(len(values), dtype=np.int64)
    out[order] = np.arange(len(values), dtype=np.int64)
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
                names = index.entity_names
                subj, obj = index.fact_endpoints()
                rels = index.fact_relations()
                found = _rank_of(
                    [
                        f"{names[s]}\x1f{r}\x1f{names[o]}"
                        for s, r, o in zip(subj.tolist(), rels, obj.tolist(), strict=True)
                    ]
                )
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
