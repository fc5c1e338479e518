"""hipporag-toolkit: graph-based RAG with hippocampal indexing.

The core package holds the shared types, protocols, configuration, errors and
the index format. ``from hipporag import HippoRAG`` gives the main API
(:class:`pipelines.facade.HippoRAG`); it is imported lazily, so ``import
hipporag`` stays light (no torch, no pipelines) until ``HippoRAG`` is used.

Example:
    >>> import hipporag
    >>> hipporag.HippoRAG.__name__
    'HippoRAG'
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from pipelines.facade import HippoRAG

__all__ = ["HippoRAG"]


def __getattr__(name: str) -> Any:
    if name == "HippoRAG":
        from pipelines.facade import HippoRAG

        globals()["HippoRAG"] = HippoRAG
        return HippoRAG
    raise AttributeError(f"module 'hipporag' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), "HippoRAG"])
