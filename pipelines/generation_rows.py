"""One summary row per stored generation of an index (``hipporag history``, ``GET /v1/history``).

Example:
    >>> [r["operation"] for r in rows(DEMO_INDEX)][:1]
    ['build']
"""

from __future__ import annotations

from typing import Any


def rows(path: str) -> list[dict[str, Any]]:
    """One summary dict per stored generation."""
    from hipporag.index.format import read_meta
    from hipporag.index.generations import history

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


__all__ = ["rows"]
