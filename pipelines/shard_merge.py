"""Merging the rankings of several shards into one.

Each shard ranks its own passages, and its scores are on its own scale: in
the graph modes a passage's score is its share of PageRank mass, and every
shard hands out a total mass of one whatever its relevance, so a shard with
nothing relevant still gives its best passage a high score. The merges:

* ``"calibrated"`` (default) -- each shard's scores are multiplied by the
  shard's share of the query's dense evidence: ``Z_s / sum(Z)``, where ``Z_s``
  is the sum of ``exp(cosine / temperature)`` over the shard's
  ``dense_candidates`` best passages. That is the share of the reset mass the
  shard's passages would get in one unsharded index under the default
  ``dense_prior`` fusion, so the merged scores approximate the unsharded ones.
* ``"score"`` -- raw scores (fair only when scores are comparable, e.g. dense).
* ``"rrf"`` -- reciprocal rank fusion of the per-shard ranks (scale-free, but it
  interleaves shards whatever their relevance).

Ties are broken by passage id, so a merge does not depend on shard order.

Example:
    >>> from hipporag.types import Hit, RetrievalResult
    >>> def res(*pairs):
    ...     hits = [Hit(p, p, "", s, r + 1) for r, (p, s) in enumerate(pairs)]
    ...     return RetrievalResult("q", hits, "hybrid")
    >>> a, b = res(("a1", 0.6), ("a2", 0.3)), res(("b1", 0.5), ("b2", 0.4))
    >>> [h.passage_id for h in merge_results([a, b], 3, "score")]
    ['a1', 'b1', 'b2']
    >>> [h.passage_id for h in merge_results([a, b], 3, "calibrated", [0.1, 0.9])]
    ['b1', 'b2', 'a1']
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from hipporag.types import Hit, RetrievalResult

MERGES = ("calibrated", "score", "rrf")
RRF_K = 60


def merge_results(
    results: Sequence[RetrievalResult],
    k: int,
    how: str = "calibrated",
    weights: Sequence[float] | None = None,
) -> RetrievalResult:
    """One ranking of the ``k`` best hits of all shards (hits are re-ranked 1..k)."""
    scored: list[tuple[float, str, Hit]] = []
    for s, res in enumerate(results):
        for hit in res.hits:
            if how == "rrf":
                score = 1.0 / (RRF_K + hit.rank)
            elif how == "calibrated" and weights is not None:
                score = hit.score * float(weights[s])
            else:
                score = hit.score
            scored.append((score, hit.passage_id, hit))
    scored.sort(key=lambda t: (-t[0], t[1]))
    hits = [
        dataclasses.replace(h, score=float(score), rank=r + 1)
        for r, (score, _, h) in enumerate(scored[:k])
    ]
    first = results[0]
    timings: dict[str, float] = {}
    for res in results:  # the slowest shard bounds a parallel fan-out
        for name, ms in res.timings_ms.items():
            timings[name] = max(timings.get(name, 0.0), ms)
    return RetrievalResult(first.query, hits, first.mode, list(first.flags), timings)


def shard_weights(
    owner: Any,
    qvec: np.ndarray,
    filters: Mapping[str, Any] | None,
    allows: Sequence[np.ndarray | None] | None = None,
) -> list[float]:
    """Each shard's share of the query's dense evidence (see the module docstring).

    ``allows[i]`` (optional) restricts shard ``i`` further, as the retrieval did.
    """
    cfg = owner.config
    n = int(cfg.dense_candidates)
    t = float(cfg.temperature) or 1.0
    logz: list[float] = []
    for i, shard in enumerate(owner.shards):
        allow = shard.allowed(filters) if filters else None
        extra = allows[i] if allows is not None else None
        if extra is not None:
            allow = extra if allow is None else np.intersect1d(allow, extra)
        if shard.index.n_passages == 0 or (allow is not None and allow.size == 0):
            logz.append(-np.inf)
            continue
        _, sims = shard.index.knn("passages", qvec, n, allow=allow)
        x = np.asarray(sims, dtype=np.float64) / t
        m = float(x.max()) if x.size else -np.inf
        logz.append(m + float(np.log(np.exp(x - m).sum())) if x.size else -np.inf)
    arr = np.asarray(logz)
    if not np.isfinite(arr).any():
        return [1.0] * len(logz)
    w = np.exp(arr - arr[np.isfinite(arr)].max())
    return list(w / w.sum())


def hop_seeds(owner: Any, merged: RetrievalResult, top: int = 3) -> list[dict[int, float]]:
    """Second-hop seeds: the entities of the best passages, as each shard's entity rows.

    The entities mentioned by the ``top`` merged passages (wherever they live)
    become extra seeds in every shard that knows them by name, so a bridge
    entity found in one shard can lead to passages in another. Weights are
    shared equally and sum to one per shard (as much reset mass as the linked
    seeds).
    """
    names: set[str] = set()
    wanted = {h.passage_id for h in merged.hits[:top]}
    for shard in owner.shards:
        index = shard.index
        pidx = index.passage_index()
        found = [pidx[p] for p in wanted if p in pidx]
        if not found:
            continue
        ents = index.entities_of_passages(found)
        all_names = index.entity_names
        for rows in ents.values():
            names.update(all_names[e] for e in rows)
    out: list[dict[int, float]] = []
    for shard in owner.shards:
        rows = sorted({r for r in map(shard.entity_index, names) if r is not None})
        out.append({r: 1.0 / len(rows) for r in rows} if rows else {})
    return out


__all__ = ["MERGES", "hop_seeds", "merge_results", "shard_weights"]
