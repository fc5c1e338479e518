"""Which facts join two entities: the relation a path step on a fact edge names.

:class:`FactPairs` sorts the live facts once by their (unordered) entity pair,
so a lookup is a binary search: no SQL and no scan per query. The relation
texts come from :meth:`~hipporag.index.lookups.IndexLookups.fact_relations`
(loaded once per index, as ``warm_up`` does).

Example:
    >>> from hipporag.index import Index
    >>> idx = Index.open(DEMO_INDEX)
    >>> pairs = FactPairs(idx)
    >>> subj, obj = idx.fact_endpoints()
    >>> relation, reverse, others = pairs.between(int(subj[0]), int(obj[0]))
    >>> isinstance(relation, str) and relation != ""
    True
    >>> pairs.between(int(obj[0]), int(subj[0]))[0] == relation  # walked backwards
    True
"""

from __future__ import annotations

import numpy as np

from hipporag.index.graphdelta import pair_keys
from hipporag.protocols import IndexView


class FactPairs:
    """Live facts by their entity pair, for naming the relation of a graph edge.

    Args:
        index: An open index (``fact_endpoints``, ``fact_relations``, ``live``).
    """

    def __init__(self, index: IndexView) -> None:
        self.index = index
        subj = obj = np.zeros(0, dtype=np.int64)
        if index.n_facts:  # an index without facts may have no fact arrays (kept as stored)
            subj, obj = (np.asarray(a) for a in index.fact_endpoints())
        small = subj.size < 2**31
        facts = np.arange(subj.size, dtype=np.int32 if small else np.int64)
        live = np.asarray(index.live("facts"), dtype=bool)
        if live.size == subj.size:
            facts = facts[live]
        keys = pair_keys(subj[facts].astype(np.int64), obj[facts].astype(np.int64))
        order = np.argsort(keys, kind="stable")  # ties stay in fact order
        self._keys = keys[order]
        self._facts = facts[order]
        self._subj = subj

    def facts(self, a: int, b: int) -> np.ndarray:
        """``fact_idx`` of the live facts between entities ``a`` and ``b`` (either way)."""
        key = int(pair_keys(np.int64(a), np.int64(b)))  # the same key for either order
        lo = int(np.searchsorted(self._keys, key, side="left"))
        hi = int(np.searchsorted(self._keys, key, side="right"))
        return self._facts[lo:hi]

    def between(self, a: int, b: int) -> tuple[str, bool, int] | None:
        """``(relation, reverse, others)`` of a fact joining ``a`` to ``b``; None if none.

        A fact read in the path's direction (``a`` its subject) is preferred;
        ``reverse`` is True when the one named reads ``b -[relation]-> a``;
        ``others`` counts the other facts between the two.
        """
        found = self.facts(a, b)
        if found.size == 0:
            return None
        forward = found[self._subj[found] == a]
        fact = int(forward[0]) if forward.size else int(found[0])
        relations = self.index.fact_relations()
        return relations[fact], not forward.size, int(found.size) - 1


__all__ = ["FactPairs"]
