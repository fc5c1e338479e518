"""Validation of Personalized PageRank inputs: damping, tolerances and reset vectors.

Example:
    >>> nodes, mass = parse_reset({3: 2.0, 1: 2.0}, n_nodes=5)
    >>> nodes.tolist(), mass.tolist()
    ([1, 3], [0.5, 0.5])
"""

from __future__ import annotations

import math
import operator
from collections.abc import Mapping

import numpy as np

from hipporag.errors import RetrievalError

Reset = np.ndarray | Mapping[int, float]
"""Seed weights: a dense array of length ``n_nodes`` or a ``{node: weight}`` mapping."""


def check_damping(damping: float) -> float:
    if not 0.0 <= float(damping) < 1.0:
        raise RetrievalError(
            f"PPR damping must be in [0, 1), got {damping}",
            hint="damping is the probability to follow an edge; HippoRAG uses 0.5",
        )
    return float(damping)


def check_positive(name: str, value: float, hint: str) -> float:
    if not 0.0 < float(value) < math.inf:
        raise RetrievalError(f"PPR {name} must be positive and finite, got {value}", hint=hint)
    return float(value)


def parse_reset(reset: Reset, n_nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Validate a reset vector; return its support (sorted int64) and weights summing to 1."""
    if isinstance(reset, Mapping):
        try:
            nodes = np.array([operator.index(k) for k in reset], dtype=np.int64)
            vals = np.array([float(v) for v in reset.values()], dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise RetrievalError(
                f"PPR reset mapping must be {{node id: weight}}: {err}",
                hint="use integer node ids as keys and float weights as values",
            ) from err
        if nodes.size and (nodes.min() < 0 or nodes.max() >= n_nodes):
            raise RetrievalError(
                f"PPR reset names node ids outside [0, {n_nodes})",
                hint="seed ids must be graph node ids (entities first, then passages)",
            )
        order = np.argsort(nodes)
        nodes, vals = nodes[order], vals[order]
    else:
        try:
            dense = np.asarray(reset, dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise RetrievalError(
                f"PPR reset must be numeric: {err}", hint="pass a float array of length n_nodes"
            ) from err
        if dense.shape != (n_nodes,):
            raise RetrievalError(
                f"PPR reset has shape {dense.shape}, the graph has {n_nodes} nodes",
                hint="pass one weight per node (0 for non-seeds) or a {node: weight} dict",
            )
        nodes = np.flatnonzero(dense)  # NaN and negative entries are nonzero: checked below
        vals = dense[nodes]
    bad = ~np.isfinite(vals)
    if bad.any():
        raise RetrievalError(
            f"PPR reset has {int(bad.sum())} non-finite weight(s), e.g. at node {nodes[bad][0]}",
            hint="clean the seed scores first, e.g. np.nan_to_num(reset, nan=0.0, posinf=0.0)",
        )
    if (vals < 0).any():
        neg = nodes[vals < 0]
        raise RetrievalError(
            f"PPR reset has {neg.size} negative weight(s), e.g. at node {neg[0]}",
            hint="reset weights are seed probabilities; clip them with np.maximum(reset, 0)",
        )
    total = float(vals.sum())
    if not 0.0 < total < math.inf:
        raise RetrievalError(
            f"PPR reset must have a positive finite sum, got {total}",
            hint="give at least one seed node a positive weight "
            "(or fall back to dense retrieval when the query links to no node)",
        )
    keep = vals > 0
    return nodes[keep], vals[keep] / total


__all__ = ["Reset", "check_damping", "check_positive", "parse_reset"]
