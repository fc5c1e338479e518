"""The in-process executor: every batch in this process, one after the other.

For small inputs, notebooks and tests. Components load once (on the first
batch of their stage) and are reused for every batch.

Example:
    >>> ex = LocalExecutor(IndexConfig())
    >>> ex.name, ex.workers
    ('local', 1)
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from hipporag.config import IndexConfig
from hipporag.protocols import Embedder, Extractor
from pipelines.jobs.workers import Batch, EmbedWorker, OpenIEWorker

STAGES = ("openie", "embedding")


class Executor(Protocol):
    """Runs the batches of a parallel stage and yields results as they finish.

    Example:
        >>> ex: Executor = LocalExecutor(IndexConfig())
        >>> list(ex.map("openie", []))
        []
    """

    name: str
    workers: int
    startup_s: float

    def map(self, stage: str, batches: Sequence[Batch]) -> Iterator[tuple[str, bytes, dict]]:
        """Yield ``(key, checkpoint bytes, info)`` per batch, in completion order."""
        ...

    def close(self) -> None: ...


class LocalExecutor:
    """Runs stages in-process with one worker per stage.

    Args:
        config: The index configuration.
        extractor: Extractor to use (default: from ``config.openie``).
        embedder: Embedder to use (default: from ``config.embedding``).

    Example:
        >>> ex = LocalExecutor(IndexConfig())                        # doctest: +SKIP
        >>> for key, data, info in ex.map("openie", batches): ...    # doctest: +SKIP
    """

    name = "local"
    workers = 1

    def __init__(
        self,
        config: IndexConfig,
        extractor: Extractor | None = None,
        embedder: Embedder | None = None,
    ) -> None:
        self.config = config
        self._extractor = extractor
        self._embedder = embedder
        self._workers: dict[str, Any] = {}
        self.startup_s = 0.0

    def _worker(self, stage: str) -> Any:
        if stage not in self._workers:
            if stage == "openie":
                self._workers[stage] = OpenIEWorker(self.config, self._extractor)
            else:
                self._workers[stage] = EmbedWorker(self.config.embedding, self._embedder)
        return self._workers[stage]

    def map(self, stage: str, batches: Sequence[Batch]) -> Iterator[tuple[str, bytes, dict]]:
        if not batches:
            return
        worker = self._worker(stage)
        for b in batches:
            data, info = worker.process(b.payload)
            yield b.key, data, json.loads(info)

    def close(self) -> None:
        self._workers.clear()

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["STAGES", "Executor", "LocalExecutor"]
