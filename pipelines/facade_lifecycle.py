"""Closing a :class:`~pipelines.facade.HippoRAG`: ``close()`` and the context manager.

``close()`` closes the open index (its DuckDB connection and its reader
lease, so ``hipporag gc`` may reclaim the generation) and drops the
retriever; any later use raises :class:`~hipporag.index.integrity.IndexClosedError`
instead of quietly reopening the index.

Example:
    >>> from pipelines.facade import HippoRAG
    >>> with HippoRAG.open(DEMO_INDEX) as rag:
    ...     len(rag.retrieve("Who directed Salt Harbour?", k=2))
    2
    >>> rag.retrieve("Who directed Salt Harbour?")
    Traceback (most recent call last):
    ...
    hipporag.index.integrity.IndexClosedError: this HippoRAG of ... was closed...
"""

from __future__ import annotations

from typing import Any

from hipporag.index.integrity import IndexClosedError


class ClosableMixin:
    """``close()``, ``closed`` and ``with`` support for the facade."""

    _closed: bool = False

    def close(self) -> None:
        """Close the index and release its lease (idempotent); later use raises."""
        lock = getattr(self, "_lock", None)
        if lock is None:
            self._closed = True
            return
        with lock:
            self._closed = True
            index = getattr(self, "_index", None)
            self._index = None  # type: ignore[assignment]
            self._retriever = None
            if index is not None:
                index.close()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    def _check_open(self) -> None:
        if self._closed:
            raise IndexClosedError(
                f"this HippoRAG of {getattr(self, 'path', '?')} was closed",
                hint="open it again with HippoRAG.open(path)",
            )

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["ClosableMixin"]
