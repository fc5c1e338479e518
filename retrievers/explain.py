"""Explanations: why a passage was retrieved.

For each hit: its dense score, its PPR score, the query's seeds with their
reset weights, the entities adjacent to the passage that carry PPR mass
(strongest first), and one shortest seed-to-passage path found by a
breadth-first search on the CSR graph, limited to ``max_hops`` hops and
``max_visits`` visited nodes (hub entities can have thousands of neighbours).

Node names: entities by their normalised name, passages as ``"[Title]"``.

Everything is done on the touched subgraph: PPR scores come sparse (sorted
node ids and their scores, as :meth:`retrievers.ppr.PPR.sparse` returns them)
and seeds as a short sorted list, so no array of the graph's size is
allocated per query.

Example:
    >>> import numpy as np
    >>> from hipporag.index import Index
    >>> idx = Index.open(DEMO_INDEX)
    >>> ex = Explainer(idx, max_hops=4)
    >>> passage_node = idx.n_entities + 0  # the node of passage 0
    >>> entity = min(int(n) for n in idx.graph.neighbors(passage_node) if n < idx.n_entities)
    >>> seed_weight = np.zeros(idx.graph.n_nodes)
    >>> seed_weight[entity] = 1.0  # a query that links to one entity of passage 0
    >>> path = ex.path(passage_node, seed_weight)
    >>> path == [entity, passage_node]
    True
    >>> names = [ex.node_name(n) for n in path]
    >>> names[0] == idx.entity_names[entity], names[1] == f"[{idx.passages([0])[0].title}]"
    (True, True)
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import Any

import numpy as np

from hipporag.paths import PathStep
from hipporag.protocols import IndexView
from hipporag.types import Explanation, Seed
from retrievers.order import node_keys, order_by_score
from retrievers.relations import FactPairs


class SparseScores:
    """Scores of a few nodes (sorted ids), 0 for every other node.

    Example:
        >>> s = SparseScores(np.array([2, 7]), np.array([0.5, 0.25]))
        >>> s[np.array([7, 3, 2])].tolist()
        [0.25, 0.0, 0.5]
    """

    __slots__ = ("nodes", "scores")

    def __init__(self, nodes: np.ndarray, scores: np.ndarray) -> None:
        order = np.argsort(nodes, kind="stable")
        self.nodes = np.asarray(nodes, dtype=np.int64)[order]
        self.scores = np.asarray(scores, dtype=np.float64)[order]

    @classmethod
    def of(cls, scores: Any) -> SparseScores:
        """From a dense array, a ``PushResult`` or a SparseScores."""
        if isinstance(scores, SparseScores):
            return scores
        if hasattr(scores, "nodes") and hasattr(scores, "scores"):
            return cls(scores.nodes, scores.scores)
        dense = np.asarray(scores, dtype=np.float64)
        nz = np.flatnonzero(dense)
        return cls(nz, dense[nz])

    def sum(self) -> float:
        """Total score."""
        return float(self.scores.sum())

    def max(self) -> float:
        """Largest score (0 when empty)."""
        return float(self.scores.max()) if self.scores.size else 0.0

    def __getitem__(self, idx: np.ndarray | int) -> Any:
        q = np.asarray(idx, dtype=np.int64)
        if self.nodes.size == 0:
            return np.zeros(q.shape) if q.ndim else 0.0
        pos = np.minimum(np.searchsorted(self.nodes, q), self.nodes.size - 1)
        out = np.where(self.nodes[pos] == q, self.scores[pos], 0.0)
        return out if q.ndim else float(out)


class Explainer:
    """Builds :class:`~hipporag.types.Explanation` objects for ranked passages.

    Args:
        index: An open index.
        max_hops: Longest path searched (edges); no path beyond it is reported.
        max_seeds: Seeds listed per explanation (strongest first).
        max_connecting: Connecting entities listed per explanation.
        max_visits: Edges a path search may read in all; rows that would pass it are
            not expanded (a hub row is skipped, so the cost does not grow with the corpus).

    Example:
        >>> from hipporag.index import Index
        >>> ex = Explainer(Index.open(DEMO_INDEX))
        >>> isinstance(ex.node_name(0), str)
        True
    """

    def __init__(
        self,
        index: IndexView,
        max_hops: int = 4,
        max_seeds: int = 10,
        max_connecting: int = 5,
        max_visits: int = 20_000,
    ) -> None:
        self.index = index
        self.max_hops = max_hops
        self.max_seeds = max_seeds
        self.max_connecting = max_connecting
        self.max_visits = max_visits
        self._csr: tuple[np.ndarray, np.ndarray] | None = None
        self._pairs: FactPairs | None = None

    @property
    def titles(self) -> list[str]:
        """Passage titles by ``passage_idx``."""
        return self.index.passage_titles()

    def warm_up(self) -> None:
        """Build the fact pairs and the graph arrays now, not on the first explanation."""
        self._graph()
        self._fact_pairs()

    def _fact_pairs(self) -> FactPairs:
        if self._pairs is None:
            self._pairs = FactPairs(self.index)
        return self._pairs

    def _graph(self) -> tuple[np.ndarray, np.ndarray]:
        if self._csr is None:
            g = self.index.graph
            self._csr = (np.asarray(g.indptr, dtype=np.int64), np.asarray(g.indices))
        return self._csr

    def node_name(self, node: int) -> str:
        """Entity name, or ``[Title]`` for a passage node."""
        n_entities = self.index.n_entities
        if node < n_entities:
            return self.index.entity_names[node]
        return f"[{self.titles[node - n_entities]}]"

    def steps(self, path: Sequence[int]) -> list[PathStep]:
        """One :class:`~hipporag.paths.PathStep` per edge of a node path, facts named."""
        if len(path) < 2:
            return []
        pairs = self._fact_pairs()
        n_entities = self.index.n_entities
        out = []
        for a, b in pairwise(path):
            src, dst = self.node_name(int(a)), self.node_name(int(b))
            if a >= n_entities or b >= n_entities:
                out.append(PathStep(src, dst, "mention"))
                continue
            found = pairs.between(int(a), int(b))
            if found is None:
                out.append(PathStep(src, dst, "synonymy"))
            else:
                relation, reverse, others = found
                out.append(PathStep(src, dst, "fact", relation, reverse, others))
        return out

    def path(self, target: int, seed_weight: SparseScores | np.ndarray) -> list[int]:
        """Node ids of one shortest seed-to-``target`` path (seed first); [] if none in reach.

        ``seed_weight`` gives the seeds' reset weights (0 for non-seeds); among
        seeds at the same distance the strongest is chosen.
        """
        seed_weight = SparseScores.of(seed_weight)
        if seed_weight[target] > 0:
            return [target]
        indptr, indices = self._graph()
        parent: dict[int, int] = {target: -1}
        frontier = np.array([target], dtype=np.int64)
        for _ in range(self.max_hops):
            starts, ends = indptr[frontier], indptr[frontier + 1]
            counts = ends - starts
            room = self.max_visits - len(parent)
            if int(counts.sum()) > room:  # expand the smallest rows that fit: no hub row
                fits = np.argsort(counts, kind="stable")
                fits = fits[np.cumsum(counts[fits]) <= room]
                frontier, starts, counts = frontier[fits], starts[fits], counts[fits]
            total = int(counts.sum())
            if total == 0:
                return []
            pos = np.repeat(starts - (np.cumsum(counts) - counts), counts) + np.arange(total)
            nbrs = indices[pos].astype(np.int64)
            origin = np.repeat(frontier, counts)
            nbrs, first = np.unique(nbrs, return_index=True)
            origin = origin[first]
            new = np.fromiter((n not in parent for n in nbrs.tolist()), bool, nbrs.size)
            nbrs, origin = nbrs[new], origin[new]
            if nbrs.size == 0:
                return []
            # Stable order (names, passage ids), not row order: the frontier's first
            # node adjacent to a neighbour becomes its parent, the first seed wins.
            by_key = np.argsort(node_keys(self.index, nbrs), kind="stable")
            nbrs, origin = nbrs[by_key], origin[by_key]
            parent.update(zip(nbrs.tolist(), origin.tolist(), strict=True))
            w = seed_weight[nbrs]
            if w.max() > 0:
                node = int(nbrs[int(order_by_score(w, np.arange(w.size))[0])])
                out = [node]
                while parent[node] != -1:
                    node = parent[node]
                    out.append(node)
                return out
            frontier = nbrs
        return []

    def connecting(
        self, passage: int, node_scores: Any, seed_weight: SparseScores | np.ndarray
    ) -> list[str]:
        """Entities adjacent to a passage that hold PPR mass or are seeds, strongest first."""
        seed_weight = SparseScores.of(seed_weight)
        if node_scores is not None:
            node_scores = SparseScores.of(node_scores)
        indptr, indices = self._graph()
        node = self.index.n_entities + passage
        nbrs = indices[indptr[node] : indptr[node + 1]].astype(np.int64)
        nbrs = nbrs[nbrs < self.index.n_entities]
        if nbrs.size == 0:
            return []
        if node_scores is not None:
            score = node_scores[nbrs] + (seed_weight[nbrs] > 0) * 1e-12
        else:
            score = seed_weight[nbrs]
        keep = score > 0
        nbrs, score = nbrs[keep], score[keep]
        order = order_by_score(score, node_keys(self.index, nbrs))[: self.max_connecting]
        return [self.index.entity_names[int(e)] for e in nbrs[order]]

    def explain(
        self,
        passages: Sequence[int],
        *,
        seeds: Sequence[Seed],
        seed_nodes: Sequence[int],
        seed_weights: Sequence[float] | None = None,
        node_scores: Any,
        dense_scores: Sequence[float | None],
        flags: Sequence[str] = (),
    ) -> list[Explanation]:
        """One explanation per passage (``passage_idx``), in order.

        Args:
            passages: The ranked ``passage_idx`` values.
            seeds: The query's seeds (shown as is, at most ``max_seeds``).
            seed_nodes: Graph node ids of the seeds that may start a path.
            seed_weights: Their weights (the strongest seed wins ties); default all 1.
            node_scores: PPR scores (sparse :class:`SparseScores` / ``PushResult``, or a
                dense array); None for dense-only hits.
            dense_scores: Cosine similarity of each passage (None when unknown).
            flags: Flags copied into every explanation.
        """
        n_entities = self.index.n_entities
        nodes = np.asarray(seed_nodes, dtype=np.int64)
        weights = (
            np.ones(nodes.size)
            if seed_weights is None
            else np.asarray(seed_weights, dtype=np.float64)
        )
        seed_weight = SparseScores(nodes, weights)
        if node_scores is not None:
            node_scores = SparseScores.of(node_scores)
        shown = list(seeds[: self.max_seeds])
        out = []
        for p, dense in zip(passages, dense_scores, strict=True):
            node = n_entities + int(p)
            path = self.path(node, seed_weight) if len(seed_nodes) else []
            out.append(
                Explanation(
                    dense_score=None if dense is None else float(dense),
                    ppr_score=None if node_scores is None else float(node_scores[node]),
                    seeds=shown,
                    connecting_entities=self.connecting(int(p), node_scores, seed_weight),
                    path=[self.node_name(n) for n in path],
                    flags=list(flags),
                    steps=self.steps(path),
                )
            )
        return out


__all__ = ["Explainer", "SparseScores"]
