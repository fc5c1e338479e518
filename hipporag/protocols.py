"""Protocols for the pluggable parts. Implement these to bring your own component.

They are structural (``typing.Protocol``): any object with the right methods
fits, no inheritance needed. Components that load heavy resources expose
``warm_up()`` (load once, idempotent) and describe themselves with
``to_dict()`` so an index can record what built it.

Example:
    >>> import numpy as np
    >>> class ConstantEmbedder:
    ...     name = "constant"
    ...     dim = 2
    ...     def warm_up(self) -> None: ...
    ...     def encode(self, texts, *, is_query=False):
    ...         return np.ones((len(texts), 2), dtype=np.float32) / np.sqrt(2)
    ...     def to_dict(self): return {"name": self.name}
    >>> isinstance(ConstantEmbedder(), Embedder)
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from hipporag.types import Extraction, Passage, RetrievalResult


@runtime_checkable
class Extractor(Protocol):
    """Open information extraction: entities and triples for each passage."""

    def warm_up(self) -> None:
        """Load models or open connections. Idempotent."""

    def extract(self, passages: Sequence[Passage]) -> list[Extraction]:
        """One :class:`Extraction` per passage, in order. Bad passages give empty ones."""
        ...

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able description (kind, model, version) for the index meta."""
        ...


@runtime_checkable
class Embedder(Protocol):
    """Text to unit-norm float32 vectors."""

    name: str
    dim: int

    def warm_up(self) -> None: ...

    def encode(self, texts: Sequence[str], *, is_query: bool = False) -> np.ndarray:
        """Return an array of shape ``(len(texts), dim)``, rows L2-normalised."""
        ...

    def to_dict(self) -> dict[str, Any]: ...


@runtime_checkable
class LLM(Protocol):
    """A chat model behind an OpenAI-compatible API."""

    def chat(
        self,
        messages: Sequence[dict[str, str]],
        *,
        json_schema: dict[str, Any] | None = None,
        **params: Any,
    ) -> str:
        """Return the assistant message text. Raise :class:`~hipporag.errors.LLMError`."""
        ...


@runtime_checkable
class Indexer(Protocol):
    """Builds an index directory from passages."""

    def build(self, passages: Sequence[Passage], out_dir: str | Path) -> Path:
        """Write the index atomically to ``out_dir`` and return its path."""
        ...


@runtime_checkable
class Retriever(Protocol):
    """Ranks passages for a query."""

    def retrieve(self, query: str, k: int = 5) -> RetrievalResult: ...

    def retrieve_batch(self, queries: Sequence[str], k: int = 5) -> list[RetrievalResult]: ...


__all__ = ["LLM", "Embedder", "Extractor", "Indexer", "Retriever"]
