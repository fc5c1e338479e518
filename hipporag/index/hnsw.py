"""hnswlib helpers shared by the writer and the reader.

Example:
    >>> import numpy as np
    >>> idx = new_hnsw(4, 2, m=8, ef_construction=20)
    >>> idx.add_items(np.eye(4, dtype=np.float32)[:2], [0, 1])
    >>> LiveHNSW(idx, live_count=2).knn_query(np.eye(4, dtype=np.float32)[:1], k=5)[0].shape
    (1, 2)
"""

from __future__ import annotations

from typing import Any


def new_hnsw(dim: int, capacity: int, m: int, ef_construction: int) -> Any:
    """An empty inner-product index (fixed seed, so builds are reproducible)."""
    import hnswlib

    index = hnswlib.Index(space="ip", dim=dim)
    index.init_index(
        max_elements=max(1, capacity), ef_construction=ef_construction, M=m, random_seed=100
    )
    return index


class LiveHNSW:
    """An hnswlib index with deleted rows: ``k`` is capped at the number of live rows.

    Every other attribute is the wrapped index's.
    """

    def __init__(self, index: Any, live_count: int) -> None:
        self._index = index
        self.live_count = int(live_count)

    def knn_query(self, data: Any, k: int = 1, *args: Any, **kwargs: Any) -> Any:
        return self._index.knn_query(data, min(int(k), self.live_count), *args, **kwargs)

    def get_current_count(self) -> int:
        return self.live_count

    def __getattr__(self, name: str) -> Any:
        return getattr(self._index, name)


__all__ = ["LiveHNSW", "new_hnsw"]
