"""One summary row per stored generation of an index (``hipporag history``, ``GET /v1/history``).

A sharded index has one row per shard set: its shards' generations and the
shards its change touched.

Example:
    >>> [r["operation"] for r in rows(DEMO_INDEX)][:1]
    ['build']
"""

from __future__ import annotations

from typing import Any


def rows(path: str) -> list[dict[str, Any]]:
    """One summary dict per stored generation (per shard set of a sharded index)."""
    from hipporag.index.format import read_meta
    from hipporag.index.generations import history
    from hipporag.index.shardset import is_sharded

    if is_sharded(path):
        return shard_set_rows(path)
    current = read_meta(path).get("generation")
    out = []
    for m in history(path):
        ch = m.get("change", {})
        out.append(
            {
                "generation": m["generation"],
                "parent": m.get("parent"),
                "time": m.get("time"),
                "operation": m.get("operation"),
                "current": m["generation"] == current,
                "passages": m["counts"].get("live", {}).get("passages", m["counts"]["passages"]),
                "added": ch.get("added", {}).get("passages", 0),
                "removed": ch.get("removed", {}).get("passages", 0),
            }
        )
    return out


def shard_set_rows(path: str) -> list[dict[str, Any]]:
    """One summary dict per stored shard set of a sharded index."""
    from hipporag.index.shardset import read_shardset, shardset_history

    current = read_shardset(path)["generation"]
    return [
        {
            "generation": s["generation"],
            "parent": s.get("parent"),
            "time": s.get("time"),
            "operation": s.get("operation"),
            "current": s["generation"] == current,
            "shard_generations": s["shard_generations"],
            "changed_shards": s.get("change", {}).get("shards", []),
        }
        for s in shardset_history(path)
    ]


__all__ = ["rows", "shard_set_rows"]
