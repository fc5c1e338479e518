"""Fan-out of a sharded index's queries over Ray actors (one per shard).

Each actor opens its shard at the generation the shard set names (from the
shared path: the index must be on storage every Ray node can read) and keeps
its models and matrices loaded between queries; the driver merges the
shards' rankings (:mod:`pipelines.shard_merge`). A new shard set (after
``refresh``) replaces the actors. Ray is imported here only, lazily; an
existing cluster is joined through ``RAY_ADDRESS``, otherwise a local one is
started.

Example:
    >>> from pipelines.facade import HippoRAG
    >>> rag = HippoRAG.open("my-sharded-index", fanout="ray")  # doctest: +SKIP
    >>> rag.retrieve("Who directed Salt Harbour?", k=5)  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any


def _actor_class() -> Any:
    import ray

    @ray.remote(num_cpus=0)
    class ShardActor:
        """One shard, opened pinned, answering facade calls."""

        def __init__(
            self, path: str, config: dict[str, Any], generation: int, single: type
        ) -> None:
            from pathlib import Path

            from hipporag.index import Index
            from pipelines.facade_util import shared_embedder
            from pipelines.shard_parts import MemoEmbedder, pinned
            from retrievers.config import RetrievalConfig

            cfg = RetrievalConfig.from_dict(config)
            index = Index.open(path, generation=generation)
            emb = MemoEmbedder(shared_embedder(index.config.embedding, cfg.query_backend))
            self.rag = pinned(single)(Path(path), cfg, generation, emb)
            self.rag._index = index

        def call(self, method: str, args: tuple, kwargs: dict[str, Any]) -> Any:
            out = getattr(self.rag, method)(*args, **kwargs)
            return None if out is self.rag else out  # warm_up() returns the facade itself

    return ShardActor


class RayFanout:
    """One Ray actor per shard of ``owner`` (a :class:`~pipelines.sharded.ShardedHippoRAG`)."""

    def __init__(self, owner: Any) -> None:
        import ray

        if not ray.is_initialized():
            address = os.environ.get("RAY_ADDRESS")
            if address:
                ray.init(address=address, log_to_driver=False)
            else:
                ray.init(num_cpus=max(2, os.cpu_count() or 1), log_to_driver=False)
        actor = _actor_class()
        config = owner.shard_config.to_dict()
        self.actors = [
            actor.remote(str(s.path), config, int(s.generation), owner.single) for s in owner.shards
        ]

    def map(
        self, method: str, per_shard: Sequence[dict[str, Any]], args: tuple, kw: dict[str, Any]
    ) -> list[Any]:
        import ray

        refs = [
            a.call.remote(method, args, {**kw, **extra})
            for a, extra in zip(self.actors, per_shard, strict=True)
        ]
        return ray.get(refs)

    def close(self) -> None:
        import ray

        for a in self.actors:
            ray.kill(a)
        self.actors = []


__all__ = ["RayFanout"]
