"""Embedding stage: every distinct text once, in length-sorted batches.

Example:
    >>> table = TextTable(["a", "b", "a"])
    >>> len(table.unique), table.rows.tolist()
    (2, [0, 1, 0])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from hipporag.progress import progress
from hipporag.protocols import Embedder


class TextTable:
    """Deduplicates texts: ``unique`` holds each distinct text once, ``rows`` maps back."""

    def __init__(self, texts: Sequence[str]) -> None:
        pos: dict[str, int] = {}
        self.rows = np.fromiter(
            (pos.setdefault(t, len(pos)) for t in texts), dtype=np.int64, count=len(texts)
        )
        self.unique: list[str] = list(pos)


def embed_unique(
    embedder: Embedder,
    texts: Sequence[str],
    *,
    chunk: int = 4096,
    encode: Callable[[list[str]], np.ndarray] | None = None,
) -> np.ndarray:
    """Embed distinct ``texts`` (already unique) sorted by length; returns rows in input order.

    Sorting by length keeps padding low within batches. ``encode`` overrides
    ``embedder.encode`` (used by parallel executors).
    """
    n = len(texts)
    if n == 0:
        return np.zeros((0, embedder.dim), dtype=np.float32)
    order = np.argsort(np.fromiter((len(t) for t in texts), dtype=np.int64, count=n), kind="stable")
    fn = encode or (lambda batch: embedder.encode(batch))
    out: np.ndarray | None = None
    starts = range(0, n, chunk)
    for s in progress(starts, total=len(starts), desc="embedding", unit="chunk"):
        idx = order[s : s + chunk]
        vecs = fn([texts[i] for i in idx])
        if out is None:
            out = np.empty((n, vecs.shape[1]), dtype=np.float32)
        out[idx] = vecs
    assert out is not None
    return out


__all__ = ["TextTable", "embed_unique"]
