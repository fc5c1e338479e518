"""The parts of a sharded index's facade: pinned shards, routing, reports, a union view.

Example:
    >>> from hipporag.index.shardset import ShardSpec
    >>> from hipporag.types import Passage
    >>> groups = route(ShardSpec(2), [Passage("ada", "", "x"), Passage("babbage", "", "y")])
    >>> {i: [p.id for p in g] for i, g in groups.items()}
    {0: ['babbage'], 1: ['ada']}
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hipporag.index import Index
from hipporag.index.shardset import ShardSpec
from hipporag.types import Passage
from retrievers.config import RetrievalConfig


class MemoEmbedder:
    """An embedder wrapper that encodes a query once for all shards (bounded memo)."""

    def __init__(self, inner: Any, size: int = 256) -> None:
        self.inner, self.size = inner, size
        self._memo: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def encode_query(self, query: str) -> np.ndarray:
        with self._lock:
            found = self._memo.get(query)
        if found is not None:
            return found
        fast = getattr(self.inner, "encode_query", None)
        v = fast(query) if fast else self.inner.encode([query], is_query=True)[0]
        v = np.asarray(v, dtype=np.float32)
        with self._lock:
            if len(self._memo) >= self.size:
                self._memo.pop(next(iter(self._memo)))
            self._memo[query] = v
        return v


class PinnedShard:
    """Mixed into the single-index facade class: one shard, at the generation its set names.

    The class is made with :func:`pinned` from whatever facade class opened the
    sharded index (normally :class:`~pipelines.facade.HippoRAG`), so this
    module needs no import of the facade.
    """

    def __init__(self, path: Path, config: RetrievalConfig, generation: int, embedder: Any):
        super().__init__(path, config)  # type: ignore[call-arg]
        self._generation = int(generation)
        self._memo = embedder

    @property
    def generation(self) -> int:
        """The shard's generation named by the shard set (fixed for this object)."""
        return self._generation

    @property
    def index(self) -> Index:
        if self._index is None:  # type: ignore[has-type]
            with self._lock:  # type: ignore[attr-defined]
                if self._index is None:
                    self._index = Index.open(self.path, generation=self.generation)  # type: ignore[attr-defined]
        return self._index

    @property
    def retriever(self) -> Any:
        if self._retriever is None:  # type: ignore[has-type]
            with self._lock:  # type: ignore[attr-defined]
                if self._retriever is None:
                    from retrievers.graph import GraphRetriever

                    self._retriever = GraphRetriever(self.index, self.config, embedder=self._memo)  # type: ignore[attr-defined]
        return self._retriever

    def refresh(self) -> bool:  # the shard set decides which generation a shard is at
        return False


_PINNED: dict[type, type] = {}


def pinned(single: type) -> type:
    """The pinned-shard class of a facade class (made once per class)."""
    if single not in _PINNED:
        _PINNED[single] = type("Pinned" + single.__name__, (PinnedShard, single), {})
    return _PINNED[single]


def first_shard(owner: Any, index: Index) -> Any:
    """Shard 0, reusing the index opened to read the embedding config."""
    s = pinned(owner.single)(index.path, owner.shard_config, index.generation, owner._embedder)
    s._index = index
    return s


def route(spec: ShardSpec, passages: Sequence[Passage]) -> dict[int, list[Passage]]:
    """Passages grouped by shard (all chunks of a document go to the same shard)."""
    groups: dict[int, list[Passage]] = {i: [] for i in range(spec.n)}
    for p in passages:
        groups[spec.route(p.document, p.metadata)].append(p)
    return groups


def unknown_ids(reports: Mapping[str, Any], ids: Sequence[str]) -> list[str]:
    """Ids that no shard knew (each shard reports the ids it did not hold)."""
    unknown = set(ids)
    for r in reports.values():
        unknown &= set(getattr(r, "unknown_ids", []) or [])
    return sorted(unknown)


class ShardedReport:
    """What a change of a sharded index did: the shard set committed and each shard's report."""

    def __init__(
        self, operation: str, generation: int, shards: dict[str, Any], unknown: list[str]
    ) -> None:
        self.operation, self.generation, self.shards, self.unknown_ids = (
            operation,
            generation,
            shards,
            unknown,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "operation": self.operation,
            "generation": self.generation,
            "unknown_ids": self.unknown_ids,
            "shards": {k: v.to_dict() for k, v in self.shards.items()},
        }

    def summary(self) -> str:
        parts = [f"{k}: {v.summary()}" for k, v in self.shards.items()]
        head = f"{self.operation}: shard set generation {self.generation}"
        return "\n".join(
            [head, *parts] + ([f"unknown ids: {self.unknown_ids}"] if self.unknown_ids else [])
        )


class ShardUnion:
    """What evaluation, ``info`` and the service read of "the index", over all shards.

    ``generation`` is the shard set's (``shard_generations`` its shards');
    ``passage_ids``, ``n_passages`` and ``counts`` cover every shard; :meth:`sql`
    runs a query on each shard and concatenates the rows (row numbers such as
    ``passage_idx`` are each shard's own); ``config`` is shard 0's (all shards
    are built with one config).
    """

    def __init__(self, shards: Sequence[Any], generation: int) -> None:
        self._shards = list(shards)
        self.generation = int(generation)

    @property
    def config(self) -> Any:
        return self._shards[0].index.config

    @property
    def passage_ids(self) -> list[str]:
        return [p for s in self._shards for p in s.index.passage_ids]

    @property
    def n_passages(self) -> int:
        return sum(int(s.index.n_passages) for s in self._shards)

    @property
    def shard_generations(self) -> list[int]:
        return [int(s.index.generation) for s in self._shards]

    @property
    def counts(self) -> dict[str, Any]:
        """The shards' counts, summed key by key (nested dicts too)."""
        return _summed([s.index.counts for s in self._shards])

    def sql(self, query: str, params: list[Any] | None = None) -> Any:
        import polars as pl

        return pl.concat([s.index.sql(query, params) for s in self._shards], how="vertical_relaxed")


def _summed(dicts: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Numbers summed per key; nested dicts summed the same way.

    Example:
        >>> _summed([{"a": 1, "e": {"x": 2}}, {"a": 3, "e": {"x": 1, "y": 1}}])
        {'a': 4, 'e': {'x': 3, 'y': 1}}
    """
    out: dict[str, Any] = {}
    for d in dicts:
        for k, v in d.items():
            if isinstance(v, Mapping):
                out[k] = _summed([out.get(k, {}), v])
            elif isinstance(v, (int, float)) and not isinstance(v, bool):
                out[k] = out.get(k, 0) + v
    return out


class ShardAllow:
    """An allow-list of a sharded index: each shard's own passage rows.

    ``size`` counts the rows of all shards, as for one array.
    """

    def __init__(self, parts: Sequence[np.ndarray]) -> None:
        self.parts = tuple(parts)

    @property
    def size(self) -> int:
        return sum(int(p.size) for p in self.parts)


__all__ = [
    "MemoEmbedder",
    "PinnedShard",
    "ShardAllow",
    "ShardUnion",
    "ShardedReport",
    "first_shard",
    "pinned",
    "route",
    "unknown_ids",
]
