"""Typed read lookups on an index: the interface the retrievers depend on.

:class:`IndexLookups` is a mixin of :class:`~hipporag.index.Index`. Its methods
are built only on the reader's primitives (``connection()``, ``array()``,
``hnsw()``, ``graph``, ``n_passages``/``n_entities``/``n_facts``,
``entity_names``, ``passage_ids``, ``passages()``), so the storage under them
can change without touching a retriever. It satisfies
:class:`hipporag.protocols.IndexView`.

Rows are addressed by their table index (``passage_idx``, ``entity_idx``,
``fact_idx``). Deleted (tombstoned) rows of a living index are never returned
by :meth:`IndexLookups.knn`: :meth:`IndexLookups.live` says which rows are live.

Example:
    >>> import numpy as np
    >>> from hipporag.index import Index
    >>> idx = Index.open(DEMO_INDEX)
    >>> qvec = np.asarray(idx.embeddings("passages")[4])
    >>> idxs, sims = idx.knn("passages", qvec, 3, allow=np.array([0, 4, 9]))
    >>> sorted(idxs.tolist()), int(idxs[0]), round(float(sims[0]), 3)
    ([0, 4, 9], 4, 1.0)
    >>> fact = idx.facts_of_passages([0])[0][0]
    >>> fact.text.startswith("(") and fact.relation in fact.text
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hipporag.index.coded import coded_column
from hipporag.index.format import LIVE_ARRAYS

TABLE_ROWS = {"passages": "n_passages", "entities": "n_entities", "facts": "n_facts"}
_EMBEDDINGS = {
    "passages": "passage_embeddings",
    "entities": "entity_embeddings",
    "facts": "fact_embeddings",
}
# Allow-lists up to this size (or 4x k) are answered exactly over the allowed vectors.
BRUTE_FORCE_ROWS = 4096


@dataclass(frozen=True, slots=True)
class FactRow:
    """A fact of the index: ``(subject, relation, object)`` with entity ids and its text."""

    idx: int
    subject: int
    relation: str
    object: int
    text: str


def _empty() -> tuple[np.ndarray, np.ndarray]:
    return np.zeros(0, np.int64), np.zeros(0, np.float32)


def _best(idxs: np.ndarray, sims: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best (highest similarity, ties by index), best first."""
    if idxs.size > k:
        part = np.argpartition(-sims, k - 1)[:k]
        idxs, sims = idxs[part], sims[part]
    order = np.lexsort((idxs, -sims))
    return idxs[order].astype(np.int64), sims[order].astype(np.float32)


class IndexLookups:
    """Read lookups over an index's primitives (mixed into ``Index``)."""

    # -- small caches (an opened index never changes) --------------------------------
    def _cache(self) -> dict[str, Any]:
        cache = self.__dict__.get("_lookups_cache")
        if cache is None:
            cache = self.__dict__["_lookups_cache"] = {}
        return cache

    def n_rows(self, table: str) -> int:
        """Rows (live or not) of ``"passages"``, ``"entities"`` or ``"facts"``."""
        if table not in TABLE_ROWS:
            raise KeyError(f"unknown table {table!r}; use one of {sorted(TABLE_ROWS)}")
        return int(getattr(self, TABLE_ROWS[table]))

    def live(self, table: str) -> np.ndarray:
        """Boolean mask over the rows of ``table``: False for deleted rows.

        Asked of the storage (``_live_rows``, the index's tombstones) when it has
        them, else read from the arrays named in ``format.LIVE_ARRAYS``; all True
        for an index without deletions.
        """
        cache = self._cache()
        key = f"live:{table}"
        if key not in cache:
            n = self.n_rows(table)
            try:
                storage = getattr(self, "_live_rows", None)
                if storage is not None:
                    mask = np.asarray(storage(table), dtype=bool)
                else:
                    mask = np.asarray(self.array(LIVE_ARRAYS[table]), dtype=bool)  # type: ignore[attr-defined]
            except (KeyError, FileNotFoundError, OSError):
                mask = np.ones(n, dtype=bool)
            cache[key] = mask
            cache[f"n_live:{table}"] = int(mask.sum())
        return cache[key]

    def n_live(self, table: str) -> int:
        """Live rows of ``table``."""
        self.live(table)
        return int(self._cache()[f"n_live:{table}"])

    def embeddings(self, table: str) -> np.ndarray:
        """Unit-norm float32 embeddings ``[rows, dim]`` of ``table`` (memory-mapped)."""
        return self.array(_EMBEDDINGS[table])  # type: ignore[attr-defined]

    # -- nearest neighbours ----------------------------------------------------------
    def knn(
        self,
        table: str,
        vector: np.ndarray,
        k: int,
        *,
        allow: np.ndarray | None = None,
        exclude: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` rows of ``table`` most similar to ``vector``: (idx int64, cosine float32).

        Args:
            table: ``"passages"``, ``"entities"`` or ``"facts"``.
            vector: A unit-norm query vector ``[dim]``.
            k: How many (fewer when fewer rows qualify).
            allow: Sorted int64 row indexes that may be returned (None: all).
            exclude: Sorted int64 row indexes that may not.

        Only live rows come back. Small allow-lists are answered exactly over
        the allowed vectors; large ones inside the HNSW search (a filter);
        small tables, and searches that cannot fill ``k`` from HNSW, exactly.
        """
        q = np.asarray(vector, dtype=np.float32).reshape(-1)
        live = self.live(table)
        n = live.shape[0]
        if allow is not None:
            cand = np.asarray(allow, dtype=np.int64)
            cand = cand[(cand >= 0) & (cand < n)]
            cand = cand[live[cand]]
            if exclude is not None and len(exclude):
                cand = cand[~_member(cand, exclude)]
            want = min(int(k), cand.size)
            if want <= 0:
                return _empty()
            if cand.size <= max(BRUTE_FORCE_ROWS, 4 * want):
                sims = np.asarray(self.embeddings(table)[cand] @ q, dtype=np.float32)
                return _best(cand, sims, want)
            allowed = set(cand.tolist())
            found = self._hnsw_knn(table, q, want, lambda i: i in allowed)
            if found is not None and found[0].size >= want:
                return found
            sims = np.asarray(self.embeddings(table)[cand] @ q, dtype=np.float32)
            return _best(cand, sims, want)
        n_ex = 0 if exclude is None else len(exclude)
        want = min(int(k), self.n_live(table) - n_ex)
        if want <= 0:
            return _empty()
        fetch = want + n_ex
        if fetch * 4 < n:
            found = self._hnsw_knn(table, q, fetch, None)
            if found is not None:
                idxs, sims = found
                keep = live[idxs]  # HNSW drops deleted rows itself; checked all the same
                if n_ex:
                    keep &= ~_member(idxs, exclude)  # type: ignore[arg-type]
                idxs, sims = idxs[keep], sims[keep]
                if idxs.size >= want:
                    return idxs[:want], sims[:want]
        sims = np.asarray(self.embeddings(table) @ q, dtype=np.float32)
        ok = live.copy()
        if n_ex:
            ok[np.asarray(exclude, dtype=np.int64)] = False
        cand = np.flatnonzero(ok)
        return _best(cand, sims[cand], want)

    def knn_batch(self, table: str, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`knn` for many vectors at once, no filters: arrays ``[n, k']``."""
        vecs = np.asarray(vectors, dtype=np.float32)
        k = min(int(k), self.n_live(table))
        hnsw = self.hnsw(table)  # type: ignore[attr-defined]
        if hnsw is not None and k > 0:
            try:
                labels, dist = hnsw.knn_query(vecs, k=k, num_threads=1)
                return labels.astype(np.int64), (1.0 - dist).astype(np.float32)
            except RuntimeError:  # ef too small: answer exactly
                pass
        sims = vecs @ np.asarray(self.embeddings(table)).T
        sims[:, ~self.live(table)] = -np.inf
        labels = np.argsort(-sims, axis=1, kind="stable")[:, :k]
        return labels.astype(np.int64), np.take_along_axis(sims, labels, axis=1).astype(np.float32)

    def _hnsw_knn(
        self, table: str, q: np.ndarray, k: int, keep: Any
    ) -> tuple[np.ndarray, np.ndarray] | None:
        hnsw = self.hnsw(table)  # type: ignore[attr-defined]
        if hnsw is None:
            return None
        if getattr(hnsw, "ef", k * 2) < k * 2:
            hnsw.set_ef(k * 2)  # HNSW recall drops when ef is close to k
        try:
            labels, dist = hnsw.knn_query(q[None, :], k=k, num_threads=1, filter=keep)
        except RuntimeError:  # ef too small for k, or fewer rows pass the filter
            return None
        idxs = labels[0].astype(np.int64)
        sims = (1.0 - dist[0]).astype(np.float32)
        order = np.lexsort((idxs, -sims))
        return idxs[order], sims[order]

    # -- passages ------------------------------------------------------------------------
    def passage_titles(self) -> list[str]:
        """Titles of all passages by ``passage_idx`` (loaded once)."""
        cache = self._cache()
        if "titles" not in cache:
            rows = self.connection().execute(  # type: ignore[attr-defined]
                "SELECT passage_idx, title FROM passages ORDER BY passage_idx"
            )
            titles = [""] * self.n_passages  # type: ignore[attr-defined]
            for i, title in rows.fetchall():
                titles[int(i)] = title
            cache["titles"] = titles
        return cache["titles"]

    def passage_index(self) -> dict[str, int]:
        """``passage_id -> passage_idx`` of the live passages (built once)."""
        cache = self._cache()
        if "pidx" not in cache:
            live = self.live("passages")
            cache["pidx"] = {
                pid: i
                for i, pid in enumerate(self.passage_ids)  # type: ignore[attr-defined]
                if pid is not None and live[i]
            }
        return cache["pidx"]

    def entities_of_passages(self, idxs: Sequence[int]) -> dict[int, list[int]]:
        """Entities mentioned in each passage, most mentioned first (unknown: absent)."""
        rows = self._rows(
            "SELECT passage_idx, entity_idx FROM mentions WHERE passage_idx IN "
            "(SELECT unnest($1::INTEGER[])) ORDER BY passage_idx, n DESC, entity_idx",
            [int(i) for i in idxs],
        )
        out: dict[int, list[int]] = {}
        for p, e in rows:
            out.setdefault(int(p), []).append(int(e))
        return out

    def facts_of_passages(self, idxs: Sequence[int]) -> dict[int, list[FactRow]]:
        """Facts extracted from each passage, by ``fact_idx``."""
        rows = self._rows(
            "SELECT fp.passage_idx, f.fact_idx, f.subject_idx, f.relation, f.object_idx, f.text "
            "FROM fact_provenance fp JOIN facts f ON f.fact_idx = fp.fact_idx "
            "WHERE fp.passage_idx IN (SELECT unnest($1::INTEGER[])) "
            "ORDER BY fp.passage_idx, f.fact_idx",
            [int(i) for i in idxs],
        )
        out: dict[int, list[FactRow]] = {}
        for p, f, s, r, o, t in rows:
            out.setdefault(int(p), []).append(FactRow(int(f), int(s), str(r), int(o), str(t)))
        return out

    # -- entities and facts -------------------------------------------------------------
    def entity_index(self) -> dict[str, int]:
        """``entity_id -> entity_idx`` (built once)."""
        cache = self._cache()
        if "eidx" not in cache:
            rows = self._rows("SELECT entity_id, entity_idx FROM entities", None)
            cache["eidx"] = {str(eid): int(i) for eid, i in rows}
        return cache["eidx"]

    def entity_passage_counts(self) -> np.ndarray:
        """Passages mentioning each entity, int ``[E]``."""
        return np.asarray(self.array("entity_n_passages"))  # type: ignore[attr-defined]

    def fact_endpoints(self) -> tuple[np.ndarray, np.ndarray]:
        """(subject ``entity_idx``, object ``entity_idx``) of every fact."""
        return (
            np.asarray(self.array("fact_subject")),  # type: ignore[attr-defined]
            np.asarray(self.array("fact_object")),  # type: ignore[attr-defined]
        )

    def fact_relations(self) -> Sequence[str]:
        """The relation of every fact by ``fact_idx`` (loaded once, as codes into the distinct ones)."""
        cache = self._cache()
        if "relations" not in cache:
            con = self.connection()  # type: ignore[attr-defined]
            n = self.n_facts  # type: ignore[attr-defined]
            cache["relations"] = coded_column(con, "facts", "fact_idx", "relation", n)
        return cache["relations"]

    def facts(self, idxs: Sequence[int]) -> list[FactRow]:
        """Facts by ``fact_idx``, in the order given."""
        rows = self._rows(
            "SELECT fact_idx, subject_idx, relation, object_idx, text FROM facts "
            "WHERE fact_idx IN (SELECT unnest($1::INTEGER[]))",
            [int(i) for i in idxs],
        )
        by = {int(f): FactRow(int(f), int(s), str(r), int(o), str(t)) for f, s, r, o, t in rows}
        return [by[int(i)] for i in idxs if int(i) in by]

    def facts_of_entity(self, entity: int) -> np.ndarray:
        """``fact_idx`` of the facts with ``entity`` as subject or object, sorted."""
        subj, obj = self.fact_endpoints()
        return np.flatnonzero((subj == entity) | (obj == entity)).astype(np.int64)

    # -- graph ----------------------------------------------------------------------------
    def neighbours(self, node: int) -> tuple[np.ndarray, np.ndarray]:
        """Neighbour node ids and edge weights of a graph node."""
        g = self.graph  # type: ignore[attr-defined]
        lo, hi = int(g.indptr[node]), int(g.indptr[node + 1])
        return np.asarray(g.indices[lo:hi], dtype=np.int64), np.asarray(g.weights[lo:hi])

    def _rows(self, query: str, param: list[int] | None) -> list[tuple[Any, ...]]:
        con = self.connection()  # type: ignore[attr-defined]
        if param is None:
            return con.execute(query).fetchall()
        if not param:
            return []
        return con.execute(query, [param]).fetchall()


def _member(values: np.ndarray, sorted_set: np.ndarray) -> np.ndarray:
    """Boolean mask: which ``values`` are in the sorted int array ``sorted_set``."""
    s = np.asarray(sorted_set, dtype=np.int64)
    if s.size == 0:
        return np.zeros(len(values), dtype=bool)
    pos = np.minimum(np.searchsorted(s, values), s.size - 1)
    return s[pos] == values


__all__ = ["BRUTE_FORCE_ROWS", "TABLE_ROWS", "FactRow", "IndexLookups"]
