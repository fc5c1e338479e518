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
from typing import Any, Protocol, runtime_checkable

import numpy as np

from hipporag.graph import CSRGraph
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
class Retriever(Protocol):
    """Ranks passages for a query."""

    def retrieve(self, query: str, k: int = 5) -> RetrievalResult: ...

    def retrieve_batch(self, queries: Sequence[str], k: int = 5) -> list[RetrievalResult]: ...


@runtime_checkable
class IndexView(Protocol):
    """The typed read interface of an index that retrievers depend on (no SQL).

    :class:`hipporag.index.Index` implements it (through
    :class:`hipporag.index.lookups.IndexLookups`); any storage that offers these
    methods can stand in. Rows are addressed by table index; ``table`` is
    ``"passages"``, ``"entities"`` or ``"facts"``; allow/exclude lists are sorted
    int64 arrays of row indexes.
    """

    n_passages: int
    n_entities: int
    n_facts: int

    @property
    def graph(self) -> CSRGraph: ...

    @property
    def entity_names(self) -> list[str]: ...

    @property
    def passage_ids(self) -> list[str]: ...

    def passages(self, idxs: Sequence[int] | np.ndarray) -> list[Passage]:
        """Passages by ``passage_idx``, in the order given."""
        ...

    def live(self, table: str) -> np.ndarray:
        """Boolean mask of the live (not deleted) rows of ``table``."""
        ...

    def embeddings(self, table: str) -> np.ndarray:
        """Unit-norm embeddings of ``table``'s rows."""
        ...

    def knn(
        self,
        table: str,
        vector: np.ndarray,
        k: int,
        *,
        allow: np.ndarray | None = None,
        exclude: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` live rows most similar to ``vector`` (within ``allow``, not ``exclude``)."""
        ...

    def knn_batch(self, table: str, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`knn` for several vectors, without filters."""
        ...

    def passage_titles(self) -> list[str]: ...

    def passage_index(self) -> dict[str, int]:
        """``passage_id -> passage_idx`` of the live passages."""
        ...

    def entities_of_passages(self, idxs: Sequence[int]) -> dict[int, list[int]]: ...

    def facts_of_passages(self, idxs: Sequence[int]) -> dict[int, list[Any]]: ...

    def entity_index(self) -> dict[str, int]:
        """``entity_id -> entity_idx``."""
        ...

    def entity_passage_counts(self) -> np.ndarray: ...

    def fact_endpoints(self) -> tuple[np.ndarray, np.ndarray]: ...

    def fact_relations(self) -> Sequence[str]: ...

    def facts_of_entity(self, entity: int) -> np.ndarray: ...

    def neighbours(self, node: int) -> tuple[np.ndarray, np.ndarray]: ...


__all__ = ["LLM", "Embedder", "Extractor", "IndexView", "Retriever"]
