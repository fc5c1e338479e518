"""The reference Personalized PageRank: python-igraph's prpack, for tests and benchmarks.

Kept next to the tests (not shipped in ``retrievers/``): it checks that
:class:`retrievers.ppr.PPR` has igraph's semantics.

Example:
    >>> import numpy as np
    >>> from hipporag.graph import CSRGraph
    >>> g = CSRGraph.from_edges(2, np.array([0]), np.array([1]), np.ones(1))
    >>> IgraphPPR(g).run(np.array([1.0, 0.0])).round(4).tolist()
    [0.6667, 0.3333]
"""

from __future__ import annotations

import numpy as np

from hipporag.graph import CSRGraph
from retrievers.ppr_input import Reset, check_damping, parse_reset


class IgraphPPR:
    """The reference: python-igraph ``personalized_pagerank`` with ``implementation="prpack"``.

    Builds the igraph graph once (undirected, each edge once, self-loops kept)
    and reuses it. Slow to build on big graphs; meant for tests and benchmarks.

    Args:
        graph: The knowledge graph.

    Example:
        >>> import numpy as np
        >>> from hipporag.graph import CSRGraph
        >>> g = CSRGraph.from_edges(2, np.array([0]), np.array([1]), np.ones(1))
        >>> IgraphPPR(g).run(np.array([1.0, 0.0])).round(4).tolist()
        [0.6667, 0.3333]
    """

    def __init__(self, graph: CSRGraph) -> None:
        import igraph

        n = graph.n_nodes
        rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(graph.indptr))
        cols = graph.indices.astype(np.int64)
        once = rows <= cols  # each edge once: (u, v) with u <= v
        self.n_nodes = n
        self.graph = igraph.Graph(n=n, directed=False)
        self.graph.add_edges(np.column_stack([rows[once], cols[once]]))
        self.graph.es["weight"] = graph.weights[once].astype(np.float64)

    def run(self, reset: Reset, damping: float = 0.5) -> np.ndarray:
        """Dense float64 PPR scores summing to 1 (arguments as in :meth:`PPR.power`)."""
        damping = check_damping(damping)
        nodes, mass = parse_reset(reset, self.n_nodes)
        dense = np.zeros(self.n_nodes)
        dense[nodes] = mass
        scores = self.graph.personalized_pagerank(
            weights="weight", reset=dense, damping=damping, implementation="prpack", directed=False
        )
        out = np.asarray(scores, dtype=np.float64)
        return out / out.sum()


def ppr_reference_igraph(graph: CSRGraph, reset: Reset, damping: float = 0.5) -> np.ndarray:
    """One-shot igraph/prpack PPR, building the igraph graph on every call.

    Args:
        graph: The knowledge graph.
        reset: Seed weights, as in :meth:`PPR.power`.
        damping: Probability to follow an edge.

    Returns:
        Dense float64 scores of every node, summing to 1.

    Example:
        >>> import numpy as np
        >>> from hipporag.graph import CSRGraph
        >>> g = CSRGraph.from_edges(3, np.array([0]), np.array([1]), np.ones(1))
        >>> ppr_reference_igraph(g, np.array([0.0, 0.0, 1.0])).tolist()  # node 2 is isolated
        [0.0, 0.0, 1.0]
    """
    return IgraphPPR(graph).run(reset, damping)


__all__ = ["IgraphPPR", "ppr_reference_igraph"]
