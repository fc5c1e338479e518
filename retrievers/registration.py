"""Registering a retriever class under a mode name (the lowest layer of the registry).

Each retrieval mode module decorates its class with :func:`register`; the
lookups (:func:`retrievers.registry.names`, :func:`~retrievers.registry.spec`,
...) live in :mod:`retrievers.registry`, which imports the built-in modes
through :mod:`retrievers.modes`. Mode modules import this module, never the
registry, so the registry can depend on them without an import circle.

Example:
    >>> from retrievers.params import BaseParams
    >>> @register("doc_example_mode", params=BaseParams, summary="an example")
    ... class Example:
    ...     pass
    >>> REGISTRY["doc_example_mode"].cls is Example, Example.name
    (True, 'doc_example_mode')
    >>> del REGISTRY["doc_example_mode"]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from hipporag.errors import RetrievalError
from hipporag.sections import Section

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RetrieverSpec:
    """One registered retriever.

    Attributes:
        name: The mode name (``--mode``, ``retrieve(mode=...)``).
        cls: The retriever class.
        params: Its parameter section.
        summary: One line for ``--help``.
        ranker: True when it ranks passages for one query in one call (usable as
            ``retrieve(mode=...)``); False for loops such as ``note`` that wrap a ranker.
    """

    name: str
    cls: type
    params: type[Section]
    summary: str
    ranker: bool = True

    def parameters(self) -> dict[str, Any]:
        """The default parameters, as plain data."""
        return self.params().to_dict()


REGISTRY: dict[str, RetrieverSpec] = {}


def register(
    name: str, *, params: type[Section], summary: str, ranker: bool = True
) -> Callable[[type[T]], type[T]]:
    """Class decorator: make a retriever available under ``name``.

    Raises:
        RetrievalError: ``name`` is taken by another class.
    """

    def add(cls: type[T]) -> type[T]:
        old = REGISTRY.get(name)
        if old is not None and old.cls.__qualname__ != cls.__qualname__:
            raise RetrievalError(
                f"retrieval mode {name!r} is already registered by {old.cls.__qualname__}",
                hint="choose another name",
            )
        cls.name = name  # type: ignore[attr-defined]
        cls.Params = params  # type: ignore[attr-defined]
        REGISTRY[name] = RetrieverSpec(name, cls, params, summary, ranker)
        return cls

    return add


__all__ = ["REGISTRY", "RetrieverSpec", "register"]
