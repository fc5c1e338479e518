"""Personalized PageRank (PPR) over the knowledge graph, the core of online retrieval.

Semantics (those of python-igraph/prpack, which HippoRAG uses; checked against it):

* ``damping`` is the probability to follow an edge; ``1 - damping`` is the
  probability to jump back to the reset (seed) distribution.
* The walk leaves ``u`` along an edge with probability proportional to its
  weight. An undirected self-loop of weight ``w`` counts **twice** (``2 w``), as
  in igraph; :meth:`hipporag.graph.CSRGraph.degree` counts it once.
* A dangling node (isolated, or with only zero-weight edges) jumps to the reset
  distribution with probability 1 -- not to a uniform node. This equals solving
  the "leaky" system ``x = (1 - d) r + d W x`` (a walk that reaches a dangling
  node just stops) and normalising ``x`` to sum 1, which is what we compute.

:class:`PPR` precomputes float64 weights and inverse degrees once and offers exact
power iteration (:meth:`PPR.power`) and a local forward push (:meth:`PPR.push`)
whose cost depends on the seeds' neighbourhood, not on the graph size.
:meth:`PPR.sparse` returns only the nodes with a positive score, so the code
around a local push stays local too. The igraph reference used by the tests
and benchmarks lives in ``tests/comparison/igraph_ppr.py``.

Example:
    >>> import numpy as np
    >>> from hipporag.graph import CSRGraph
    >>> g = CSRGraph.from_edges(3, np.array([0, 1]), np.array([1, 2]), np.ones(2))
    >>> PPR(g).power(np.array([1.0, 0.0, 0.0])).round(4).tolist()
    [0.5833, 0.3333, 0.0833]
"""

from __future__ import annotations

import math
import threading
import warnings
from typing import Any, Literal, NamedTuple

import numpy as np

from hipporag.errors import RetrievalError
from hipporag.graph import CSRGraph
from retrievers.ppr_input import Reset, check_damping, check_positive, parse_reset

Method = Literal["auto", "power", "push"]

# Cost of one push edge operation in units of one nonzero of a scipy matvec
# (measured with bench/bench_ppr_scaling.py); sets the budget of method="auto".
_PUSH_COST_RATIO = 8.0
# A push round touching more than this fraction of n edges finds the next frontier
# with one O(n) scan instead of per-edge checks (cheaper there; total stays O(work)).
_DENSE_SCAN_FRACTION = 0.125


def _sorted_unique(values: np.ndarray) -> np.ndarray:
    """``np.unique`` of a 1-D int array via sort (numpy's hash-based unique is slower here)."""
    if values.size < 2:
        return values
    values = np.sort(values)
    keep = np.empty(values.size, dtype=bool)
    keep[0] = True
    np.not_equal(values[1:], values[:-1], out=keep[1:])
    return values[keep]


class PushResult(NamedTuple):
    """Sparse output of :meth:`PPR.push`.

    Attributes:
        nodes: Sorted int64 ids of the nodes with a positive score (all others are 0).
        scores: Their float64 scores, summing to 1.
        l1_bound: Guaranteed bound on the L1 distance to the exact (normalised) PPR.
        work: Edge operations performed.
    """

    nodes: np.ndarray
    scores: np.ndarray
    l1_bound: float
    work: int

    def to_dense(self, n_nodes: int) -> np.ndarray:
        """The scores as a dense float64 array of length ``n_nodes``."""
        out = np.zeros(n_nodes)
        out[self.nodes] = self.scores
        return out


class PPR:
    """Fast Personalized PageRank on a fixed graph; safe to call from many threads at once.

    Precomputes once: float64 edge weights (self-loops doubled), inverse weighted
    degrees (0 for dangling nodes), push thresholds, and a scipy CSR matrix. The
    only mutable state is per-thread scratch for :meth:`push` (two float64 arrays
    of length ``n_nodes`` per calling thread, kept all-zero between calls).

    Args:
        graph: The knowledge graph. Edge weights must be finite and non-negative.

    Raises:
        RetrievalError: If an edge weight is negative or not finite.

    Example:
        >>> import numpy as np
        >>> from hipporag.graph import CSRGraph
        >>> g = CSRGraph.from_edges(4, np.array([0, 1]), np.array([1, 2]), np.ones(2))
        >>> scores = PPR(g).run({0: 1.0}, damping=0.5)  # node 3 is isolated: score 0
        >>> int(scores.argmax()), float(scores[3])
        (0, 0.0)
    """

    def __init__(self, graph: CSRGraph) -> None:
        n = self.n_nodes = graph.n_nodes
        self._indptr = np.asarray(graph.indptr, dtype=np.int64)
        self._indices = np.asarray(graph.indices)
        data = np.array(graph.weights, dtype=np.float64)
        if data.size and not (np.isfinite(data).all() and data.min() >= 0):
            raise RetrievalError(
                "graph edge weights must be finite and non-negative",
                hint="rebuild the graph with weights >= 0 (PageRank needs probabilities)",
            )
        rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(self._indptr))
        data[rows == self._indices] *= 2.0  # an undirected loop has two ends at its node
        degree = np.bincount(rows, weights=data, minlength=n)
        self._data = data
        self._dangling = degree <= 0
        self._inv_degree = np.divide(1.0, degree, out=np.zeros(n), where=~self._dangling)
        # Push threshold per unit of eps: the degree in units of the mean edge weight, so
        # eps does not depend on how weights are scaled. Dangling nodes are never pushed.
        unit = float(data[data > 0].mean()) if (data > 0).any() else 1.0
        self._push_scale = np.where(self._dangling, np.inf, degree / unit)
        from scipy.sparse import csr_matrix  # imported here: the CLI starts faster

        # A (symmetric): one leaky step is x -> (1 - d) r + d A (x / deg).
        self._matrix = csr_matrix((data, self._indices, self._indptr), shape=(n, n))
        self._local = threading.local()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        del state["_local"]  # thread-local scratch is neither picklable nor worth shipping
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._local = threading.local()

    def power(
        self, reset: Reset, damping: float = 0.5, tol: float = 1e-10, max_iter: int = 200
    ) -> np.ndarray:
        """Exact PPR by sparse power iteration on the leaky system, then normalised.

        Stops when an iteration changes the vector by less than ``tol`` (L1,
        relative to its mass); the error shrinks by ``damping`` per iteration (34
        iterations for the defaults). Cost: O(iterations * edges).

        Args:
            reset: Seed weights (dense array of length ``n_nodes`` or ``{node: weight}``),
                non-negative with a positive sum; normalised here.
            damping: Probability to follow an edge, in [0, 1).
            tol: Relative L1 convergence tolerance.
            max_iter: Iteration cap; a ``RuntimeWarning`` is issued when it is hit.

        Returns:
            Dense float64 scores of every node, summing to 1.

        Raises:
            RetrievalError: On an invalid reset vector, damping or tol.

        Example:
            >>> import numpy as np
            >>> from hipporag.graph import CSRGraph
            >>> g = CSRGraph.from_edges(2, np.array([0]), np.array([1]), np.ones(1))
            >>> PPR(g).power(np.array([1.0, 0.0])).round(4).tolist()
            [0.6667, 0.3333]
        """
        damping = check_damping(damping)
        tol = check_positive("tol", tol, hint="use e.g. 1e-10")
        nodes, mass = parse_reset(reset, self.n_nodes)
        return self._power(nodes, mass, damping, tol, max_iter)

    def _power(
        self, nodes: np.ndarray, mass: np.ndarray, damping: float, tol: float, max_iter: int
    ) -> np.ndarray:
        base = np.zeros(self.n_nodes)
        base[nodes] = (1.0 - damping) * mass
        x, change = base, math.inf
        for _ in range(max(int(max_iter), 1)):
            y = self._matrix @ (x * self._inv_degree)
            y *= damping
            y += base
            change = float(np.abs(y - x).sum()) / float(y.sum())
            x = y
            if change <= tol:
                break
        else:
            warnings.warn(
                f"PPR power iteration hit max_iter={max_iter} at relative change "
                f"{change:.1e} > tol={tol:g}; raise max_iter or tol",
                RuntimeWarning,
                stacklevel=3,
            )
        return x / x.sum()

    def push(self, reset: Reset, damping: float = 0.5, eps: float = 1e-6) -> PushResult:
        """Approximate PPR by local forward push (Andersen-Chung-Lang), vectorised per round.

        Each round pushes *all* nodes whose residual is at least ``eps * deg(u)`` at
        once, touching only their CSR rows (``deg`` is the weighted degree in units
        of the mean edge weight: the neighbour count for unit weights). Before the
        final normalisation ``0 <= exact[v] - p[v] <= eps * deg(v)`` holds for every
        node. Seeds too (a hub seed with little mass stays a residual), so with unit
        weights at most ``1 / ((1 - damping) * eps)`` edge operations are done.

        Args:
            reset: Seed weights (dense array of length ``n_nodes`` or ``{node: weight}``).
                A dict keeps the whole call local; a dense array costs one O(n) scan.
            damping: Probability to follow an edge, in [0, 1).
            eps: Residual threshold per unit of degree; smaller is more exact.

        Returns:
            A :class:`PushResult`: sparse scores (summing to 1) of the explored nodes.

        Raises:
            RetrievalError: On an invalid reset vector, damping or eps.

        Example:
            >>> import numpy as np
            >>> from hipporag.graph import CSRGraph
            >>> g = CSRGraph.from_edges(3, np.array([0]), np.array([1]), np.ones(1))
            >>> res = PPR(g).push({0: 1.0}, eps=1e-9)
            >>> res.nodes.tolist(), res.scores.round(4).tolist(), res.l1_bound < 1e-6
            ([0, 1], [0.6667, 0.3333], True)
        """
        damping = check_damping(damping)
        eps = check_positive("eps", eps, hint="typical values are 1e-4 .. 1e-7")
        nodes, mass = parse_reset(reset, self.n_nodes)
        result = self._push(nodes, mass, damping, eps, budget=math.inf)
        assert result is not None  # an infinite budget never runs out
        return result

    def _push(
        self, nodes: np.ndarray, mass: np.ndarray, damping: float, eps: float, budget: float
    ) -> PushResult | None:
        """Forward push; ``None`` (and no result) once ``budget`` edge operations are spent."""
        n, alpha = self.n_nodes, 1.0 - damping
        indptr, indices, data, scale = self._indptr, self._indices, self._data, self._push_scale
        # Take this thread's all-zero scratch (or fresh arrays if it is in use / lost).
        r, p = getattr(self._local, "scratch", None) or (np.zeros(n), np.zeros(n))
        self._local.scratch = None
        # A dangling seed keeps 1 - d of its mass and the walk stops there: settle it now.
        dangling = self._dangling[nodes]
        p[nodes] = np.where(dangling, alpha * mass, 0.0)
        r[nodes] = np.where(dangling, 0.0, mass)
        settled = float(mass[dangling].sum())
        p_mass, residual = alpha * settled, 1.0 - settled
        pushed, received = [nodes], [nodes]
        # Seeds obey the push rule too: a light hub seed would spread its mass for nothing.
        frontier, work, threshold = nodes[~dangling & (mass >= eps * scale[nodes])], 0, None
        while frontier.size:
            ru = r[frontier]
            r[frontier] = 0.0
            p[frontier] += alpha * ru
            moved = alpha * float(ru.sum())
            p_mass, residual = p_mass + moved, residual - moved
            pushed.append(frontier)
            starts = indptr[frontier]
            counts = indptr[frontier + 1] - starts
            total = int(counts.sum())
            work += total
            if work > budget:
                r.fill(0.0)
                p.fill(0.0)
                self._local.scratch = (r, p)
                return None
            # Positions of all edges of the frontier rows, concatenated row by row.
            edges = np.repeat(starts - (np.cumsum(counts) - counts), counts)
            edges += np.arange(total)
            targets = indices.take(edges)
            flow = data.take(edges)
            flow *= np.repeat(damping * ru * self._inv_degree[frontier], counts)
            np.add.at(r, targets, flow)
            received.append(targets)
            if total < _DENSE_SCAN_FRACTION * n:
                frontier = _sorted_unique(targets[r[targets] >= eps * scale[targets]])
            else:
                threshold = eps * scale if threshold is None else threshold
                frontier = np.flatnonzero(r >= threshold)
        touched = _sorted_unique(np.concatenate(pushed))
        scores = p[touched] / p_mass
        p[touched] = 0.0
        r[np.concatenate(received)] = 0.0
        self._local.scratch = (r, p)
        # |exact - p|_1 <= residual before normalising, hence this bound after it.
        residual = max(residual, 0.0)
        return PushResult(touched, scores, 2.0 * residual / (p_mass + residual), work)

    def sparse(
        self,
        reset: Reset,
        damping: float = 0.5,
        method: Method = "auto",
        *,
        tol: float = 1e-10,
        max_iter: int = 200,
        eps: float = 1e-6,
    ) -> PushResult:
        """:meth:`run` without the expansion to a full-size array.

        ``"push"`` and ``"auto"`` (when the push finishes within its budget) cost
        what the push touches; ``"power"`` (and ``"auto"`` falling back to it) is
        O(edges) by nature and returns its nonzero entries.

        Example:
            >>> import numpy as np
            >>> from hipporag.graph import CSRGraph
            >>> g = CSRGraph.from_edges(4, np.array([0]), np.array([1]), np.ones(1))
            >>> res = PPR(g).sparse({0: 1.0}, eps=1e-9)
            >>> res.nodes.tolist(), res.scores.round(4).tolist()
            ([0, 1], [0.6667, 0.3333])
        """
        if method == "push":
            return self.push(reset, damping, eps=eps)
        result = self._auto_or_power(reset, damping, method, tol, max_iter, eps)
        if isinstance(result, PushResult):
            return result
        support = np.flatnonzero(result)
        return PushResult(support, result[support], 0.0, int(self._data.size))

    def _auto_or_power(
        self, reset: Reset, damping: float, method: str, tol: float, max_iter: int, eps: float
    ) -> PushResult | np.ndarray:
        """Methods ``"auto"`` and ``"power"`` after checking the arguments.

        ``"auto"`` returns the push when it finishes within the estimated cost of
        power iteration; otherwise (and for ``"power"``) the dense power scores.
        """
        if method not in ("auto", "power"):
            raise RetrievalError(
                f"unknown PPR method {method!r}", hint="use 'auto', 'power' or 'push'"
            )
        damping = check_damping(damping)
        eps = check_positive("eps", eps, hint="typical values are 1e-4 .. 1e-7")
        tol = check_positive("tol", tol, hint="use e.g. 1e-10")
        nodes, mass = parse_reset(reset, self.n_nodes)
        if method == "auto":
            iters = (
                1.0 if damping == 0 else min(max_iter, max(1.0, math.log(tol) / math.log(damping)))
            )
            budget = iters * self._data.size / _PUSH_COST_RATIO
            result = self._push(nodes, mass, damping, eps, budget)
            if result is not None:
                return result
        return self._power(nodes, mass, damping, tol, max_iter)

    def run(
        self,
        reset: Reset,
        damping: float = 0.5,
        method: Method = "auto",
        *,
        tol: float = 1e-10,
        max_iter: int = 200,
        eps: float = 1e-6,
    ) -> np.ndarray:
        """Dense PPR scores with the chosen method.

        ``"auto"`` runs :meth:`push` with a work budget equal to the estimated cost
        of :meth:`power` and falls back to power iteration when it runs out, so it
        costs at most about twice the cheaper method. When push finishes, its
        approximation (accuracy set by ``eps``) is returned.

        Args:
            reset: Seed weights, as in :meth:`power`.
            damping: Probability to follow an edge, in [0, 1).
            method: ``"auto"``, ``"power"`` (exact) or ``"push"`` (local, approximate).
            tol: Tolerance of :meth:`power`.
            max_iter: Iteration cap of :meth:`power`.
            eps: Residual threshold of :meth:`push`.

        Returns:
            Dense float64 scores of every node, summing to 1.

        Raises:
            RetrievalError: On invalid arguments.

        Example:
            >>> import numpy as np
            >>> from hipporag.graph import CSRGraph
            >>> g = CSRGraph.from_edges(3, np.array([0, 1]), np.array([1, 2]), np.ones(2))
            >>> PPR(g).run(np.array([0.0, 1.0, 0.0]), method="power").round(3).tolist()
            [0.167, 0.667, 0.167]
        """
        if method == "power":
            return self.power(reset, damping, tol=tol, max_iter=max_iter)
        if method == "push":
            return self.push(reset, damping, eps=eps).to_dense(self.n_nodes)
        result = self._auto_or_power(reset, damping, method, tol, max_iter, eps)
        return result.to_dense(self.n_nodes) if isinstance(result, PushResult) else result


__all__ = ["PPR", "Method", "PushResult", "Reset", "check_damping", "parse_reset"]
