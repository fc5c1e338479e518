"""Bridge seeds without an LLM: entity -> fact -> entity activation scored against the query.

A multi-hop question names its first entity; the bridge entity that leads to
the answer passage is named only by a passage on the way. LinearRAG finds it
with a relation-free activation: from the query's entities through the
sentences that mention them, scored by the sentence's similarity to the
query, to the other entities of those sentences. The same walk runs here over
the index's facts (each a sentence-level statement with two entities and an
embedding, from spaCy's parse or an LLM): starting at the linked entity seeds
with activation ``a``, every live fact of an active entity whose cosine
similarity to the query is at least ``bridge_threshold`` activates its other
end with ``a * cosine``; ``bridge_hops`` rounds, keeping the ``bridge_width``
strongest new entities per round. The new entities join the walk's entity
seeds with a share ``bridge_mass`` of the seed weight: one graph, one walk, a
second seed source.

Cost per query: the facts incident to the active entities (an entity -> facts
table built once per index) and their vectors.

Example:
    >>> import numpy as np
    >>> b = FactBridges(np.array([0, 1]), np.array([1, 2]), np.eye(2, dtype=np.float32), 3)
    >>> {e: round(w, 2) for e, w in b.activate({0: 1.0}, np.array([0.9, 0.8]), 2, 0.5, 5).items()}
    {1: 0.9, 2: 0.72}
"""

from __future__ import annotations

from typing import Any

import numpy as np


class FactBridges:
    """The entity -> facts table of an index and the activation over it.

    Args:
        subject, object: ``entity_idx`` of each live fact's ends.
        vectors: The facts' unit vectors (row ``i`` for fact ``fact_ids[i]``) or
            the whole fact embedding matrix when ``fact_ids`` is None.
        n_entities: Entity rows.
        fact_ids: ``fact_idx`` of the given facts (None: ``0 .. len - 1``).
    """

    def __init__(
        self,
        subject: np.ndarray,
        object: np.ndarray,
        vectors: Any,
        n_entities: int,
        fact_ids: np.ndarray | None = None,
    ) -> None:
        subject, object = np.asarray(subject, np.int64), np.asarray(object, np.int64)
        ids = np.arange(subject.shape[0]) if fact_ids is None else np.asarray(fact_ids, np.int64)
        ends = np.concatenate([subject, object])
        other = np.concatenate([object, subject])
        facts = np.concatenate([ids, ids])
        keep = ends != other
        ends, other, facts = ends[keep], other[keep], facts[keep]
        order = np.argsort(ends, kind="stable")
        self.other, self.facts = other[order], facts[order]
        self.indptr = np.zeros(n_entities + 1, np.int64)
        np.add.at(self.indptr, ends[order] + 1, 1)
        self.indptr = np.cumsum(self.indptr)
        self.vectors = vectors

    @classmethod
    def of_index(cls, index: Any) -> FactBridges:
        """The table of an open index (live facts only)."""
        subj, obj = index.fact_endpoints()
        live = np.flatnonzero(np.asarray(index.live("facts"), bool))
        return cls(
            subj[live], obj[live], index.embeddings("facts"), int(index.n_entities), fact_ids=live
        )

    def activate(
        self,
        seeds: dict[int, float],
        qvec: np.ndarray,
        hops: int,
        threshold: float,
        width: int,
    ) -> dict[int, float]:
        """New entities reached from ``seeds`` (weights scaled to a maximum of 1) and their activation."""
        if not seeds or hops <= 0:
            return {}
        top = max(seeds.values()) or 1.0
        act = {int(e): w / top for e, w in seeds.items()}
        frontier = dict(act)
        found: dict[int, float] = {}
        for _ in range(hops):
            ents = np.fromiter(frontier.keys(), np.int64, len(frontier))
            wts = np.fromiter(frontier.values(), np.float64, len(frontier))
            lo, hi = self.indptr[ents], self.indptr[ents + 1]
            n = hi - lo
            if not n.sum():
                break
            pos = np.repeat(lo - np.cumsum(n) + n, n) + np.arange(int(n.sum()))
            facts, other, src = self.facts[pos], self.other[pos], np.repeat(wts, n)
            sims = np.asarray(self.vectors[facts] @ qvec, np.float64)
            ok = sims >= threshold
            score = src[ok] * sims[ok]
            nxt: dict[int, float] = {}
            for e, s in zip(other[ok].tolist(), score.tolist(), strict=True):
                if s > act.get(e, 0.0) and s > nxt.get(e, 0.0):
                    nxt[e] = s
            if not nxt:
                break
            best = sorted(nxt.items(), key=lambda x: (-x[1], x[0]))[:width]
            frontier = dict(best)
            act.update(frontier)
            found.update(frontier)
        return {e: s for e, s in found.items() if e not in seeds}


def add_bridges(
    parts: Any, p: Any, weights: dict[int, float], qvec: np.ndarray
) -> dict[int, float]:
    """``weights`` plus the bridge entities of ``p`` (``bridge_*`` parameters; none when off)."""
    if p.bridge_hops <= 0 or not weights or p.bridge_mass <= 0:
        return weights
    table = parts._get(("bridges",), lambda: FactBridges.of_index(parts.index))
    found = table.activate(weights, qvec, p.bridge_hops, p.bridge_threshold, p.bridge_width)
    if not found:
        return weights
    top = max(weights.values())
    out = dict(weights)
    for e, s in found.items():
        out[e] = out.get(e, 0.0) + p.bridge_mass * s * top
    return out


__all__ = ["FactBridges", "add_bridges"]
