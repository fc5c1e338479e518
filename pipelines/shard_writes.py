"""Writes to a sharded index: route documents, commit the shards, then the shard set.

A change takes the set's lock, undoes what a killed writer left in any shard
(a shard generation newer than the set names), applies the change to each
shard it touches (an empty shard is built by the first document routed to
it), and commits the new shard set, so readers move from one consistent set
of shard generations to the next (:mod:`hipporag.index.shardset`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hipporag.index.shardset import (
    ShardSpec,
    commit_shardset,
    read_shardset,
    rollback_shard,
    set_lock,
    shard_name,
)
from pipelines.facade_util import _passages, shared_embedder
from pipelines.shard_parts import ShardedReport, route, unknown_ids

OPERATIONS = ("insert", "update", "delete", "compact")


def change_shards(
    owner: Any, operation: str, corpus: Any = (), ids: Sequence[str] = ()
) -> ShardedReport:
    """Apply ``operation`` to the shard set of ``owner`` (a ``ShardedHippoRAG``).

    ``corpus`` is routed by document for ``insert``/``update``; ``ids`` are
    sent to every shard for ``delete`` (an id's shard is not known from the
    id alone when the set routes by a metadata key).
    """
    from indexers.builder import IndexBuilder

    if operation not in OPERATIONS:
        raise ValueError(f"unknown operation {operation!r}")
    with set_lock(owner.path):
        state = read_shardset(owner.path)
        for name, gen in zip(state["shards"], state["shard_generations"], strict=True):
            if gen > 0:
                rollback_shard(owner.path / name, gen)  # undo what a killed writer left
        spec = ShardSpec.from_dict(state["spec"])
        config = owner.shards[0].index.config
        builder = IndexBuilder(config, embedder=shared_embedder(config.embedding))
        gens = list(state["shard_generations"])
        reports: dict[str, Any] = {}
        if operation == "delete":
            targets: dict[int, list[Any]] = {i: list(ids) for i in range(spec.n)}
        elif operation == "compact":
            targets = {i: [] for i in range(spec.n)}
        else:
            passages, _ = _passages(corpus)
            targets = {i: g for i, g in route(spec, passages).items() if g}
        for i, work in sorted(targets.items()):
            shard = owner.path / shard_name(i)
            if gens[i] == 0:  # an empty shard: only new documents can change it
                if operation not in ("insert", "update"):
                    continue
                report = builder.build(work, shard)
            elif operation == "delete":
                report = builder.delete(work, shard)
            elif operation == "compact":
                report = builder.compact(shard)
            else:
                report = getattr(builder, operation)(work, shard)
            gens[i] = int(report.generation)
            reports[shard_name(i)] = report
        unknown = unknown_ids(reports, ids) if operation == "delete" else []
        change = {"shards": sorted(reports), "unknown_ids": unknown}
        if gens != state["shard_generations"]:
            commit_shardset(
                owner.path,
                spec,
                gens,
                operation=operation,
                parent=state["generation"],
                change=change,
            )
    owner.refresh()
    return ShardedReport(operation, owner.generation, reports, unknown)


__all__ = ["OPERATIONS", "change_shards"]
