"""Synonymy edges kept exact under inserts and deletes, from per-entity neighbour lists.

Each eligible entity keeps its ``k`` nearest eligible entities whose cosine is
at least the threshold (``synonymy_knn`` / ``synonymy_sim``). The synonymy
edges are the union of these lists over pairs whose names hold the same
numbers. A fresh build fills every list from kNN queries against the entity
HNSW; an insert queries only the new entities and adds each one to the lists
of the old entities it now belongs to (the reverse direction); a delete
recomputes only the lists that held a removed entity and were full. The result
equals a fresh build's up to the ANN's own approximation.

Names with fewer than 3 letters or digits (initials, numbers) get no synonymy
edges: their embeddings are unreliable. Equal cosines are ordered by entity
name, never by row, so a list does not depend on the order entities arrived in.

Example:
    >>> eligible(["ab", "abc", "a.b.c"]).tolist()
    [False, True, True]
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

_DIGITS_RE = re.compile(r"\d+")
_MAX_CANDIDATES = 512


def _has_three_alnum(name: str) -> bool:
    n = 0
    for ch in name:  # stops at the third letter or digit: most names are decided at once
        if ch.isalnum():
            n += 1
            if n == 3:
                return True
    return False


def eligible(names: Sequence[str]) -> np.ndarray:
    """Which names may have synonymy edges."""
    return np.fromiter(map(_has_three_alnum, names), dtype=bool, count=len(names))


def _query(
    hnsw: Any,
    vecs: np.ndarray,
    ids: np.ndarray,
    ok: np.ndarray,
    k: int,
    threshold: float,
    ef: int,
    *,
    total: int,
    all_above: bool,
    threads: int = 1,
) -> list[list[tuple[int, float]]]:
    """For each ``ids[i]``: neighbours j != i with ok[j] and cosine >= threshold, best first.

    ``all_above`` asks for every such neighbour (up to a cap), else at least the
    best ``k`` and every neighbour tied with the ``k``-th (the caller orders ties).
    ``threads`` runs the k-NN queries in parallel (the same answers for any count).
    """
    out: list[list[tuple[int, float]]] = [[] for _ in ids]
    want = np.arange(ids.shape[0])
    k2 = min(k + 9, total)
    while want.shape[0] and k2 > 0:
        hnsw.set_ef(max(ef, 2 * k2))
        labels, dist = hnsw.knn_query(vecs[ids[want]], k=k2, num_threads=threads)
        again = []
        for row, qi in enumerate(want.tolist()):
            me = int(ids[qi])
            got = []
            sims = (1.0 - dist[row]).astype(np.float32).tolist()  # as the lists store them
            for lab, sim in zip(labels[row].tolist(), sims, strict=True):
                if sim < threshold:
                    break
                if lab != me and ok[lab]:
                    got.append((int(lab), float(sim)))
            last = sims[-1]
            complete = last < threshold or k2 >= total
            if not all_above and len(got) >= k and last < got[k - 1][1]:
                complete = True  # nothing beyond the window ties with the k-th
            if complete or k2 >= _MAX_CANDIDATES:
                out[qi] = got
            else:
                again.append(qi)
        want = np.array(again, dtype=np.int64)
        k2 = min(2 * k2, total, _MAX_CANDIDATES)
    return out


class SynonymyLists:
    """Per-entity neighbour lists as two ``[E, k]`` arrays (ids ``-1`` = empty slot)."""

    def __init__(self, knn: np.ndarray, sim: np.ndarray) -> None:
        self.knn = knn
        self.sim = sim

    @classmethod
    def empty(cls, n: int, k: int) -> SynonymyLists:
        return cls(np.full((n, k), -1, np.int32), np.zeros((n, k), np.float32))

    @property
    def k(self) -> int:
        return int(self.knn.shape[1])

    def grow(self, n: int) -> None:
        """Add empty lists for entity rows up to ``n``."""
        extra = n - self.knn.shape[0]
        if extra > 0:
            self.knn = np.vstack([self.knn, np.full((extra, self.k), -1, np.int32)])
            self.sim = np.vstack([self.sim, np.zeros((extra, self.k), np.float32)])

    def _set(self, row: int, items: list[tuple[int, float]], names: Sequence[str]) -> None:
        items = sorted(items, key=lambda t: (-t[1], names[t[0]], t[0]))[: self.k]
        self.knn[row] = -1
        self.sim[row] = 0
        for j, (lab, s) in enumerate(items):
            self.knn[row, j], self.sim[row, j] = lab, s

    def _items(self, row: int) -> list[tuple[int, float]]:
        return [
            (int(a), float(b)) for a, b in zip(self.knn[row], self.sim[row], strict=False) if a >= 0
        ]

    def add(
        self,
        hnsw: Any,
        vectors: np.ndarray,
        names: Sequence[str],
        live: np.ndarray,
        new: np.ndarray,
        *,
        threshold: float,
        ef: int,
        threads: int = 1,
    ) -> None:
        """Fill the lists of the ``new`` rows and add them to the old rows' lists."""
        ok = eligible(names) & live
        ids = new[ok[new]]
        if ids.shape[0] == 0 or hnsw is None:
            return
        is_new = np.zeros(len(names), dtype=bool)
        is_new[new] = True
        found = _query(
            hnsw,
            vectors,
            ids,
            ok,
            self.k,
            threshold,
            ef,
            total=int(live.sum()),
            all_above=True,
            threads=threads,
        )
        for me, cands in zip(ids.tolist(), found, strict=True):
            self._set(me, cands, names)
            for other, s in cands:
                if is_new[other]:
                    continue  # its own query already saw `me`
                items = self._items(other)
                if len(items) < self.k or (-s, names[me]) < (-items[-1][1], names[items[-1][0]]):
                    self._set(other, [*items, (me, s)], names)

    def remove(
        self,
        hnsw: Any,
        vectors: np.ndarray,
        names: Sequence[str],
        live: np.ndarray,
        dead: np.ndarray,
        *,
        threshold: float,
        ef: int,
        threads: int = 1,
    ) -> None:
        """Drop ``dead`` rows; lists that held one and were full are queried again."""
        if dead.shape[0] == 0:
            return
        self.knn[dead] = -1
        self.sim[dead] = 0
        hit = np.isin(self.knn, dead)
        rows = np.flatnonzero(hit.any(axis=1))
        if rows.shape[0] == 0:
            return
        full = (self.knn[rows] >= 0).all(axis=1)
        gone = set(dead.tolist())
        for r in rows[~full].tolist():
            self._set(r, [t for t in self._items(r) if t[0] not in gone], names)
        again = rows[full]
        ok = eligible(names) & live
        if again.shape[0] and hnsw is not None:
            found = _query(
                hnsw,
                vectors,
                again,
                ok,
                self.k,
                threshold,
                ef,
                total=int(live.sum()),
                all_above=False,
                threads=threads,
            )
            for r, cands in zip(again.tolist(), found, strict=True):
                self._set(r, cands, names)

    def edges(
        self, names: Sequence[str], vectors: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(src, dst, cosine) pairs, src < dst, each once; names' numbers must agree."""
        rows, cols = np.nonzero(self.knn >= 0)
        a, b = rows.astype(np.int64), self.knn[rows, cols].astype(np.int64)
        if a.shape[0] == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float64)
        numbers = {
            i: tuple(_DIGITS_RE.findall(names[i])) for i in set(a.tolist()) | set(b.tolist())
        }
        same = np.fromiter(
            (numbers[i] == numbers[j] for i, j in zip(a.tolist(), b.tolist(), strict=True)),
            dtype=bool,
            count=a.shape[0],
        )
        lo, hi = np.minimum(a, b)[same], np.maximum(a, b)[same]
        pairs = np.unique(np.stack([lo, hi], 1), axis=0)
        if pairs.shape[0] == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float64)
        a_vec = np.asarray(vectors[pairs[:, 0]], dtype=np.float64)
        b_vec = np.asarray(vectors[pairs[:, 1]], dtype=np.float64)
        w = np.einsum("ij,ij->i", a_vec, b_vec)
        return pairs[:, 0], pairs[:, 1], np.round(w, 6)


__all__ = ["SynonymyLists", "eligible"]
