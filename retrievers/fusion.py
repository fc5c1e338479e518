"""Fusion of graph evidence (entity seeds) and dense evidence (passage similarity).

A fusion method decides the PPR reset distribution and how the final passage
score is formed from PPR and dense scores.

* ``"hipporag2"`` -- HippoRAG 2's passage reset weighting: every passage node
  gets reset weight ``passage_weight * min-max(dense score)`` (0.05 in the
  paper), entity nodes get their (unnormalised) fact weights; passages are
  ranked by PPR. Needs the dense score of every passage.
* ``"dense_prior"`` (default) -- the reset distribution is a mixture:
  ``(1 - entity_mass)`` over the ``dense_candidates`` best passages, as
  ``softmax(cosine / temperature)`` (the dense retriever's belief about where
  the evidence chain starts), plus ``entity_mass`` over the entity seeds
  (normalised). Passages are ranked by PPR. The reset is sparse, so local push
  PPR stays cheap on large graphs; the temperature makes the start adaptive: a
  clear dense winner takes most of the mass and the walk fills the next ranks
  with what is connected to it, while near-ties share it.
* ``"rrf"`` -- reciprocal rank fusion ``1/(rrf_k + rank)`` of the dense ranking
  and the PPR ranking under HippoRAG 2's reset weighting.

Cost per query: ``dense_prior`` touches only its candidates (the reset is
sparse). ``hipporag2`` and ``rrf`` need, by their definition, the dense score
of every passage (a min-max over all of them, a rank among all of them), so
they are O(passages) per query.

Example:
    >>> import numpy as np
    >>> f = Fusion("dense_prior", entity_mass=0.5, temperature=1.0)
    >>> reset = f.reset({0: 2.0}, DenseEvidence(np.array([0]), np.array([0.9])), n_entities=3)
    >>> sorted(reset.items())
    [(0, 0.5), (3, 0.5)]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hipporag.errors import RetrievalError
from retrievers.params import FUSION_METHODS


@dataclass(slots=True)
class DenseEvidence:
    """Dense scores of one query.

    Attributes:
        idxs: ``passage_idx`` of the best candidates, best first.
        sims: Their cosine similarities.
        all_scores: Cosine similarity of every passage (when the method needs it).
        usable: Boolean mask of the passages that may carry reset mass (live and
            allowed); None: all of them.
    """

    idxs: np.ndarray
    sims: np.ndarray
    all_scores: np.ndarray | None = None
    usable: np.ndarray | None = None


def min_max(x: np.ndarray) -> np.ndarray:
    """Scale to [0, 1]; a constant vector becomes all ones (as HippoRAG 2 does)."""
    lo, hi = float(x.min()), float(x.max())
    if hi > lo:
        return (x - lo) / (hi - lo)
    return np.ones_like(x, dtype=np.float64)


def softmax(x: np.ndarray, temperature: float) -> np.ndarray:
    z = (np.asarray(x, dtype=np.float64) - float(np.max(x))) / temperature
    e = np.exp(z)
    return e / e.sum()


class Fusion:
    """One fusion method with its parameters (see the module docstring).

    Args:
        method: ``"dense_prior"``, ``"hipporag2"`` or ``"rrf"``.
        entity_mass: ``dense_prior``: share of reset mass on entity seeds.
        temperature: ``dense_prior``: softmax temperature over cosine similarities.
        passage_weight: ``hipporag2``/``rrf``: passage reset factor (HippoRAG 2: 0.05).
        rrf_k: ``rrf``: the rank offset.

    Example:
        >>> Fusion("hipporag2").needs_all_dense
        True
    """

    def __init__(
        self,
        method: str = "dense_prior",
        *,
        entity_mass: float = 0.2,
        temperature: float = 0.02,
        passage_weight: float = 0.05,
        rrf_k: int = 60,
    ) -> None:
        if method not in FUSION_METHODS:
            raise RetrievalError(
                f"unknown fusion method {method!r}", hint=f"use one of {FUSION_METHODS}"
            )
        self.method = method
        self.entity_mass = entity_mass
        self.temperature = temperature
        self.passage_weight = passage_weight
        self.rrf_k = rrf_k

    @property
    def needs_all_dense(self) -> bool:
        """Whether :meth:`reset` needs the dense score of every passage."""
        return self.method in ("hipporag2", "rrf")

    def reset(
        self, entity_weights: dict[int, float], dense: DenseEvidence, n_entities: int
    ) -> dict[int, float] | np.ndarray:
        """The PPR reset: ``{node: weight}`` (sparse) or a dense array over all nodes."""
        if self.method == "dense_prior":
            return self._dense_prior(entity_weights, dense, n_entities)
        if dense.all_scores is None:
            raise RetrievalError(f"fusion {self.method!r} needs the dense score of every passage")
        n_passages = dense.all_scores.shape[0]
        reset = np.zeros(n_entities + n_passages)
        for e, w in entity_weights.items():
            reset[e] += w
        if dense.usable is None:
            reset[n_entities:] += self.passage_weight * min_max(dense.all_scores)
        elif dense.usable.any():
            ok = np.flatnonzero(dense.usable)
            reset[n_entities + ok] += self.passage_weight * min_max(dense.all_scores[ok])
        return reset

    def _dense_prior(
        self, entity_weights: dict[int, float], dense: DenseEvidence, n_entities: int
    ) -> dict[int, float]:
        reset: dict[int, float] = {}
        total = float(sum(entity_weights.values()))
        e_mass = self.entity_mass if total > 0 else 0.0
        if dense.idxs.size == 0:
            e_mass = 1.0 if total > 0 else 0.0
        if e_mass > 0:
            for e, w in entity_weights.items():
                reset[int(e)] = e_mass * w / total
        if dense.idxs.size and e_mass < 1.0:
            probs = softmax(dense.sims, self.temperature) * (1.0 - e_mass)
            for p, w in zip(dense.idxs.tolist(), probs.tolist(), strict=True):
                if w > 0:
                    reset[n_entities + int(p)] = reset.get(n_entities + int(p), 0.0) + w
        return reset

    def passage_scores(self, ppr_passages: np.ndarray, dense: DenseEvidence) -> np.ndarray:
        """Final passage scores from PPR passage scores (and dense scores for ``rrf``)."""
        if self.method != "rrf":
            return ppr_passages
        assert dense.all_scores is not None
        scores = dense.all_scores
        if dense.usable is not None:  # deleted or filtered-out passages take no rank
            scores = np.where(dense.usable, scores, -np.inf)
        return rrf(scores, ppr_passages, self.rrf_k)


def ranks(scores: np.ndarray, keys: np.ndarray | None = None) -> np.ndarray:
    """0-based rank of every entry (0 = best), ties broken by ``keys`` (default: index)."""
    keys = np.arange(scores.size) if keys is None else keys
    order = np.lexsort((keys, -np.round(scores, 12)))
    out = np.empty(scores.size, dtype=np.int64)
    out[order] = np.arange(scores.size)
    return out


def rrf(a: np.ndarray, b: np.ndarray, k: int = 60, keys: np.ndarray | None = None) -> np.ndarray:
    """Reciprocal rank fusion of two score vectors over the same items (ties by ``keys``)."""
    return 1.0 / (k + 1 + ranks(a, keys)) + 1.0 / (k + 1 + ranks(b, keys))


__all__ = ["DenseEvidence", "Fusion", "min_max", "ranks", "rrf", "softmax"]
