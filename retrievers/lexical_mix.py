"""Lexical (BM25) evidence in ``hybrid``: part of the walk's passage reset on the best BM25 hits.

``dense_prior`` starts the walk where the dense ranking believes the evidence
chain starts. Names, codes and rare words that the embedding blurs are what
BM25 matches exactly, so a share ``lexical_mass`` of the passage part of the
reset moves to the ``lexical_candidates`` best BM25 passages (allowed, live,
not excluded: the query's :class:`~retrievers.common.PassageFilter`), as
``softmax(score / best / lexical_temperature)``. The entity seeds keep their
share. PPR then ranks what is connected to all three sources, so a passage
that is both lexically matched and reached from the fact seeds rises.

Example:
    >>> import numpy as np
    >>> w = lexical_weights(np.array([4.0, 2.0]), temperature=1.0)
    >>> [round(x, 3) for x in w.tolist()]
    [0.622, 0.378]
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from hipporag.log import get_logger
from hipporag.sections import check
from retrievers.common import PassageFilter
from retrievers.fusion import softmax
from retrievers.lexical import lexical_candidates, lexical_of

log = get_logger(__name__)


def check_lexical(p: Any) -> None:
    """Validate the lexical fields of a parameter section."""
    check(
        0.0 <= p.lexical_mass <= 1.0,
        f"retrieval.lexical_mass must be in [0, 1], got {p.lexical_mass}",
        "it is the share of the passage reset mass given to BM25 hits (0 turns them off)",
    )
    check(
        p.lexical_candidates >= 1,
        f"retrieval.lexical_candidates must be >= 1, got {p.lexical_candidates}",
    )
    check(
        p.lexical_temperature > 0,
        f"retrieval.lexical_temperature must be > 0, got {p.lexical_temperature}",
        "a softmax temperature over BM25 scores divided by the best one, e.g. 0.1",
    )
    check(p.lexical_weight >= 0, f"retrieval.lexical_weight must be >= 0, got {p.lexical_weight}")
    check(p.bm25_k1 >= 0, f"retrieval.bm25_k1 must be >= 0, got {p.bm25_k1}")
    check(0.0 <= p.bm25_b <= 1.0, f"retrieval.bm25_b must be in [0, 1], got {p.bm25_b}")
    check(0 <= p.bridge_hops <= 4, f"retrieval.bridge_hops must be in [0, 4], got {p.bridge_hops}")
    check(p.bridge_mass >= 0, f"retrieval.bridge_mass must be >= 0, got {p.bridge_mass}")
    check(p.bridge_width >= 1, f"retrieval.bridge_width must be >= 1, got {p.bridge_width}")


def lexical_weights(scores: np.ndarray, temperature: float) -> np.ndarray:
    """Reset weights of BM25 hits: a softmax of their scores relative to the best (sum 1)."""
    best = float(np.max(scores)) or 1.0
    return softmax(np.asarray(scores, np.float64) / best, temperature)


class LexicalMix:
    """The lexical share of ``hybrid``'s reset (see the module docstring)."""

    def __init__(self, index: Any, params: Any) -> None:
        self.index = index
        self.p = params
        self._warned = False
        self._local = threading.local()

    @property
    def last(self) -> dict[int, float]:
        """``{passage node: bm25}`` of the hits of this thread's last :meth:`mix`."""
        return getattr(self._local, "last", {})

    @last.setter
    def last(self, value: dict[int, float]) -> None:
        self._local.last = value

    def hits(self, query: str, filt: PassageFilter) -> tuple[np.ndarray, np.ndarray]:
        """The best BM25 passages of ``query`` that ``filt`` allows (none without a lexical part)."""
        lex = lexical_of(self.index, self.p.bm25_k1, self.p.bm25_b)
        if lex is None:
            if not self._warned:
                self._warned = True
                log.warning(
                    "index %s has no lexical part: hybrid runs without BM25 evidence; "
                    "add it with 'hipporag upgrade INDEX'",
                    getattr(self.index, "path", ""),
                )
            return np.zeros(0, np.int64), np.zeros(0)
        return lexical_candidates(lex, query, self.p.lexical_candidates, filt, self.index)

    def boost(
        self,
        idxs: np.ndarray,
        sims: np.ndarray,
        query: str | None,
        filt: PassageFilter,
        similarity: Any,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Dense candidates re-scored ``cosine + lexical_weight * bm25 / best bm25``.

        The BM25 hits join the candidates (their cosine from ``similarity(rows)``),
        so the walk's dense prior starts where meaning and exact words agree.
        """
        w = float(self.p.lexical_weight)
        if w <= 0 or not query:
            return idxs, sims
        rows, scores = self.hits(query, filt)
        if rows.size == 0:
            return idxs, sims
        extra = rows[~np.isin(rows, idxs)]
        all_idx = np.concatenate([idxs, extra]).astype(np.int64)
        all_sim = np.concatenate([sims, similarity(extra)]).astype(np.float64)
        lex = np.zeros(all_idx.shape[0])
        pos = {int(r): i for i, r in enumerate(all_idx.tolist())}
        best = float(scores.max()) or 1.0
        for r, sc in zip(rows.tolist(), scores.tolist(), strict=True):
            lex[pos[r]] = sc / best
        total = all_sim + w * lex
        order = np.lexsort((all_idx, -total))
        return all_idx[order], total[order]

    def mix(
        self, reset: dict[int, float], query: str | None, filt: PassageFilter
    ) -> dict[int, float]:
        """``reset`` with ``lexical_mass`` of its passage mass moved to the BM25 hits."""
        m = float(self.p.lexical_mass)
        self.last = {}
        if m <= 0 or not query:
            return reset
        n_ent = int(self.index.n_entities)
        passage_mass = sum(w for node, w in reset.items() if node >= n_ent)
        if passage_mass <= 0:
            return reset
        rows, scores = self.hits(query, filt)
        self.last = {n_ent + int(r): float(sc) for r, sc in zip(rows, scores, strict=True)}
        if rows.size == 0:
            return reset
        out = {node: (w * (1.0 - m) if node >= n_ent else w) for node, w in reset.items()}
        share = lexical_weights(scores, self.p.lexical_temperature) * (m * passage_mass)
        for r, w in zip(rows.tolist(), share.tolist(), strict=True):
            out[n_ent + r] = out.get(n_ent + r, 0.0) + w
        return out


__all__ = ["LexicalMix", "check_lexical", "lexical_weights"]
