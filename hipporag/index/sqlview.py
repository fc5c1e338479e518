"""The SQL read interface of an index that the table helpers are written against.

:class:`~hipporag.index.reader.Index` offers ``passages()``, ``to_networkx()``
and friends by delegating to :mod:`hipporag.index.rows` and
:mod:`hipporag.index.analysis`; those modules take any object with this
shape, so they depend on this protocol rather than on the reader that calls
them (no import circle). Retrievers use the typed, SQL-free
:class:`hipporag.protocols.IndexView` instead.

Example:
    >>> from hipporag.index.reader import Index
    >>> isinstance(Index.open(DEMO_INDEX), SQLView)
    True
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from hipporag.graph import CSRGraph


@runtime_checkable
class SQLView(Protocol):
    """An open, read-only index generation read through SQL (an :class:`~hipporag.index.reader.Index`)."""

    path: Path
    meta: dict[str, Any]
    format_version: int

    @property
    def n_passages(self) -> int: ...

    @property
    def n_entities(self) -> int: ...

    @property
    def graph(self) -> CSRGraph: ...

    def connection(self) -> Any:
        """A DuckDB cursor of this thread over the index tables."""
        ...

    def sql(self, query: str, params: list[Any] | None = None) -> Any:
        """A SQL query over the tables, as a polars DataFrame."""
        ...

    def table(self, name: str) -> Any:
        """One table as a polars DataFrame."""
        ...

    def tables(self) -> dict[str, Any]:
        """All tables as polars DataFrames, by name."""
        ...


__all__ = ["SQLView"]
