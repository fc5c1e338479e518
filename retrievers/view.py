"""A filter is a view of the index: the index as if built from the allowed passages only.

:class:`FilteredIndex` wraps an open index and an allow-list of passages. It
answers every lookup the retrievers use the way an index built from only
those passages would, in the same row numbering (so passage, entity and fact
ids stay those of the index):

* **passages**: the allowed live ones; every other passage node is isolated;
* **entities**: those mentioned by an allowed passage (subjects and objects of
  its facts included); ``entity_passage_counts`` (node specificity, the seed
  weight ``1 / n_passages`` of both linkers) counts allowed passages only;
* **facts**: those extracted from an allowed passage; a fact edge weighs the
  number of its (fact, allowed passage) records, as a build counts them;
* **synonymy**: each visible entity's ``synonymy_k`` nearest visible entities
  at cosine >= threshold (the stored neighbour lists restricted to the view,
  searched again among the visible entities where a stored list was full);
* **the graph**: these edges only, so Personalized PageRank walks the
  subgraph of the view, and seeds, linking candidates (entity and fact kNN),
  fusion, explanations and paths see only what the allowed passages support.

Global statistics that stay global: none of the ranking's. The embedding
model and every vector are the index's (a build of the subset would compute
the same ones), and the row numbering is the index's (ties are broken by
stable keys, :mod:`retrievers.order`, so numbering plays no part). The ANN
(HNSW) approximation is the index's own: a view searches the index's HNSW with
a filter, or exactly for small views, where a separate build would search its
own HNSW.

Cost: one view costs two SQL lookups and a CSR of the view's edges (its
arrays span the index's node ids); :class:`retrievers.walk.Parts` keeps the
last few views, so repeated queries with one filter pay it once.

Example:
    >>> import numpy as np
    >>> from hipporag.index import Index
    >>> idx = Index.open(DEMO_INDEX)
    >>> view = FilteredIndex(idx, np.array([0, 1]))
    >>> view.live("passages").sum(), bool(view.live("entities").sum() < idx.n_entities)
    (np.int64(2), True)
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from hipporag.graph import CSRGraph
from hipporag.index import graphdelta as gd

_DIGITS_RE = re.compile(r"\d+")


def _eligible(name: str) -> bool:
    """A name with at least 3 letters or digits may have synonymy edges (as a build)."""
    return sum(ch.isalnum() for ch in name) >= 3


def _rows(con: Any, sql: str, idxs: np.ndarray) -> np.ndarray:
    if idxs.size == 0:
        return np.zeros((0, 2), dtype=np.int64)
    rows = con.execute(sql, [idxs.tolist()]).fetchall()
    return np.asarray(rows, dtype=np.int64).reshape(-1, 2)


class FilteredIndex:
    """The index seen through an allow-list of passages (see the module docstring).

    Args:
        index: An open index.
        allow: Sorted int64 ``passage_idx`` that are visible.
    """

    def __init__(self, index: Any, allow: np.ndarray) -> None:
        self.unfiltered = index
        live = index.live("passages")
        allow = np.asarray(allow, dtype=np.int64)
        self.allow = allow[live[allow]] if allow.size else allow
        n_e, n_f, n_p = index.n_entities, index.n_facts, index.n_passages
        tables = hasattr(index, "connection")
        if tables:
            con = index.connection()
            mentions = _rows(
                con,
                "SELECT entity_idx, passage_idx FROM mentions "
                "WHERE passage_idx IN (SELECT unnest($1::BIGINT[]))",
                self.allow,
            )
            prov = _rows(
                con,
                "SELECT fact_idx, passage_idx FROM fact_provenance "
                "WHERE passage_idx IN (SELECT unnest($1::BIGINT[]))",
                self.allow,
            )
        else:  # a graph without tables (tests, synthetic graphs): mentions are its edges
            mentions = self._graph_mentions(index)
            prov = np.zeros((0, 2), dtype=np.int64)
        self._counts = np.bincount(mentions[:, 0], minlength=n_e).astype(np.int64)
        self._live = {
            "passages": np.zeros(n_p, dtype=bool),
            "entities": self._counts > 0,
            "facts": np.zeros(n_f, dtype=bool),
        }
        self._live["passages"][self.allow] = True
        self._live["facts"][prov[:, 0]] = True
        self._rows = {t: np.flatnonzero(m).astype(np.int64) for t, m in self._live.items()}
        self._graph = self._build_graph(mentions, prov) if tables else self._restricted_graph()

    def _graph_mentions(self, index: Any) -> np.ndarray:
        g, n_e = index.graph, index.n_entities
        rows = []
        for p in self.allow.tolist():
            nbrs = np.asarray(g.indices[g.indptr[n_e + p] : g.indptr[n_e + p + 1]], np.int64)
            ents = nbrs[nbrs < n_e]
            rows.append(np.stack([ents, np.full(ents.shape[0], p, np.int64)], 1))
        return np.concatenate(rows) if rows else np.zeros((0, 2), dtype=np.int64)

    def _restricted_graph(self) -> CSRGraph:
        """The stored graph among the visible nodes (an index without tables)."""
        g, n_e = self.unfiltered.graph, self.unfiltered.n_entities
        ok = np.concatenate([self._live["entities"], self._live["passages"]])
        rows = np.repeat(np.arange(g.n_nodes, dtype=np.int64), np.diff(g.indptr))
        cols = np.asarray(g.indices, dtype=np.int64)
        keep = ok[rows] & ok[cols] & (rows < cols)
        keys, w = gd.edge_pairs(rows[keep], cols[keep], np.asarray(g.weights)[keep], n_e)
        return gd.to_csr(keys, w, n_entities=n_e, n_passages=self.unfiltered.n_passages)

    # -- the graph of the view -------------------------------------------------------
    def _build_graph(self, mentions: np.ndarray, prov: np.ndarray) -> CSRGraph:
        base = self.unfiltered
        n_e = base.n_entities
        src, dst, wt = [], [], []
        if prov.shape[0]:  # fact edges: (fact, allowed passage) records per entity pair
            subj, obj = base.fact_endpoints()
            f = prov[:, 0]
            src.append(np.asarray(subj, np.int64)[f])
            dst.append(np.asarray(obj, np.int64)[f])
            wt.append(np.ones(f.shape[0]))
        if mentions.shape[0]:
            src.append(mentions[:, 0])
            dst.append(mentions[:, 1] + n_e)
            wt.append(np.full(mentions.shape[0], float(base.config.graph.passage_entity_weight)))
        s_src, s_dst, s_w = self._synonymy()
        src.append(s_src)
        dst.append(s_dst)
        wt.append(s_w)
        keys, w = gd.edge_pairs(np.concatenate(src), np.concatenate(dst), np.concatenate(wt), n_e)
        return gd.to_csr(keys, w, n_entities=n_e, n_passages=base.n_passages)

    def _stored_lists(self) -> tuple[np.ndarray, np.ndarray] | None:
        try:
            return (
                np.asarray(self.unfiltered.array("synonymy_knn")),
                np.asarray(self.unfiltered.array("synonymy_sim")),
            )
        except (KeyError, FileNotFoundError, OSError, AttributeError):
            return None

    def _synonymy(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Synonymy edges among the visible entities, as a build of the view makes them."""
        base = self.unfiltered
        cfg = base.config.graph
        names = base.entity_names
        visible = self._rows["entities"]
        ok = np.zeros(base.n_entities, dtype=bool)
        ok[visible] = [_eligible(names[e]) for e in visible.tolist()]
        targets = np.flatnonzero(ok).astype(np.int64)
        stored = self._stored_lists()
        k = int(cfg.synonymy_k)
        vecs = base.embeddings("entities")
        pairs: set[tuple[int, int]] = set()
        for e in targets.tolist():
            if stored is not None and e < stored[0].shape[0]:
                row = stored[0][e]
                held = row[row >= 0].astype(np.int64)
                if held.size < k or bool(ok[held].all()):
                    kept = held[ok[held]]
                    pairs.update((min(e, j), max(e, j)) for j in kept.tolist())
                    continue
            idxs, sims = base.knn("entities", np.asarray(vecs[e]), k + 1, allow=targets)
            got = [(int(j), float(s)) for j, s in zip(idxs.tolist(), sims.tolist(), strict=True)]
            got = [(j, s) for j, s in got if j != e and s >= cfg.synonymy_threshold][:k]
            pairs.update((min(e, j), max(e, j)) for j, _ in got)
        same = [
            (a, b)
            for a, b in sorted(pairs)
            if _DIGITS_RE.findall(names[a]) == _DIGITS_RE.findall(names[b])
        ]
        if not same:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float64)
        arr = np.asarray(same, dtype=np.int64)
        a_vec = np.asarray(vecs[arr[:, 0]], dtype=np.float64)
        b_vec = np.asarray(vecs[arr[:, 1]], dtype=np.float64)
        return arr[:, 0], arr[:, 1], np.round(np.einsum("ij,ij->i", a_vec, b_vec), 6)

    # -- the lookups the retrievers use, restricted to the view -------------------------
    @property
    def graph(self) -> CSRGraph:
        return self._graph

    def live(self, table: str) -> np.ndarray:
        """Visible rows of ``table`` (allowed live passages, their entities and facts)."""
        return self._live[table]

    def n_live(self, table: str) -> int:
        return int(self._rows[table].shape[0])

    def visible(self, table: str) -> np.ndarray:
        """Sorted ``idx`` of the visible rows of ``table``."""
        return self._rows[table]

    def entity_passage_counts(self) -> np.ndarray:
        """Allowed passages mentioning each entity (node specificity within the view)."""
        return self._counts

    def knn(
        self,
        table: str,
        vector: np.ndarray,
        k: int,
        *,
        allow: np.ndarray | None = None,
        exclude: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The index's kNN over the visible rows only (``allow`` narrows them further)."""
        rows = self._rows[table]
        if allow is not None:
            rows = np.intersect1d(rows, np.asarray(allow, dtype=np.int64), assume_unique=True)
        return self.unfiltered.knn(table, vector, k, allow=rows, exclude=exclude)

    def knn_batch(self, table: str, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`knn` for several vectors: arrays ``[n, k']`` (rows padded with -1 / -inf)."""
        vecs = np.asarray(vectors, dtype=np.float32)
        k = min(int(k), self.n_live(table))
        labels = np.full((vecs.shape[0], k), -1, dtype=np.int64)
        sims = np.full((vecs.shape[0], k), -np.inf, dtype=np.float32)
        for i, v in enumerate(vecs):
            idx, sim = self.knn(table, v, k)
            labels[i, : idx.size], sims[i, : idx.size] = idx, sim
        return labels, sims

    def facts_of_entity(self, entity: int) -> np.ndarray:
        found = self.unfiltered.facts_of_entity(entity)
        return found[self._live["facts"][found]]

    def neighbours(self, node: int) -> tuple[np.ndarray, np.ndarray]:
        g = self._graph
        lo, hi = int(g.indptr[node]), int(g.indptr[node + 1])
        return np.asarray(g.indices[lo:hi], dtype=np.int64), np.asarray(g.weights[lo:hi])

    def __getattr__(self, name: str) -> Any:
        # Everything else (names, texts, vectors, row counts, SQL) is the index's own.
        return getattr(self.__dict__["unfiltered"], name)


__all__ = ["FilteredIndex"]
