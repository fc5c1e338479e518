"""One served index: the reader of the current generation, and the one writer.

A :class:`Served` keeps one :class:`~pipelines.facade.HippoRAG` per generation
(``served.rag``). A request takes it once (:meth:`Served.pin`) and uses only it,
so everything in one response comes from one generation, whatever commits
meanwhile. Writes go through one queue per index, applied one at a time by
one worker task, each in a thread and ending in the index's atomic commit;
after each commit a reader of the new generation is opened, warmed up and
swapped in, and later requests read it.

Several processes may serve one index (``hipporag serve --workers N``): a
process notices another's commit within ``follow_s`` seconds (and at once
for a request with ``min_generation``); the index's write lock orders their
writes (a writer finding it taken retries for up to ``lock_wait_s``). A
service write holds a second lock, ``INDEX/writers/write.lock``, from its
checks (who may write what, decided on the newest generation) through its
commit, so two processes cannot both pass a check that only one write can
honour (two tenants creating one new document id, say).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hipporag.log import get_logger

logger = get_logger(__name__)


@dataclass(frozen=True)
class Settings:
    """Limits and knobs of the service (all have safe defaults).

    Attributes:
        max_k: the largest ``k`` a request may ask for.
        max_body_bytes: the largest request body (larger: HTTP 413).
        max_batch: the most queries in one batch request.
        max_documents: the most records in one write request.
        threads: retrievals of one index running at once in worker threads.
        follow_s: how often (at most) a request checks the index for a newer
            generation written by another process.
        min_generation_wait_s: how long a read waits for its ``min_generation``.
        lock_wait_s: how long a write waits for another process's write lock.
        retrieval: retrieval parameter overrides (as for ``HippoRAG.open``).
        load_at_startup: finish loading the indexes before start-up ends (a Ray
            Serve replica: Serve routes requests to it once its start-up is
            done); otherwise they load in the background and requests get 503
            until ``/readyz`` says ready.
        warm_writes: once an index is loaded, load its extractor (spaCy) in
            the background, so the first write does not wait for it (off for
            Ray Serve readers, which forward writes).
    """

    max_k: int = 1000
    max_body_bytes: int = 8 * 1024 * 1024
    max_batch: int = 256
    max_documents: int = 10_000
    threads: int = 4
    follow_s: float = 0.5
    min_generation_wait_s: float = 10.0
    lock_wait_s: float = 60.0
    retrieval: dict[str, Any] | None = None
    load_at_startup: bool = False
    warm_writes: bool = True


class Served:
    """An index served under ``name``: its current reader and its writer queue.

    Args:
        name: the index's name in URLs (``default`` is also served at ``/v1/...``).
        path: the index directory.
        settings: the service's :class:`Settings`.
    """

    def __init__(self, name: str, path: str | Path, settings: Settings) -> None:
        self.name = name
        self.path = Path(path).absolute()
        self.settings = settings
        self.rag: Any = None  # the HippoRAG of the current generation (None while loading)
        self.error: BaseException | None = None
        self._queue: asyncio.Queue[Any] | None = None
        self._worker: asyncio.Task[None] | None = None
        self._checked = 0.0
        self._following: asyncio.Task[None] | None = None
        self.warming: asyncio.Task[bool] | None = None  # see Settings.warm_writes

    # -- readers ---------------------------------------------------------------------
    def _open(self) -> Any:
        """A warmed-up reader of the newest generation (blocking: run it in a thread)."""
        from pipelines.facade import HippoRAG

        rag = HippoRAG.open(self.path, **(self.settings.retrieval or {}))
        rag.async_limit = self.settings.threads
        return rag.warm_up()

    async def load(self) -> None:
        """Open the index (in a thread) and start the writer."""
        try:
            self.rag = await asyncio.to_thread(self._open)
        except BaseException as err:
            self.error = err
            raise
        self._checked = time.monotonic()
        self._queue = asyncio.Queue()
        self._worker = asyncio.create_task(self._work(), name=f"writer:{self.name}")
        if self.settings.warm_writes:
            self.warming = asyncio.create_task(
                asyncio.to_thread(self._warm_writes), name=f"warm:{self.name}"
            )

    def _warm_writes(self) -> bool:
        """Load the extractor a write would load (blocking); False when it cannot be."""
        try:
            from indexers.builder import IndexBuilder

            IndexBuilder(self.rag.index.config).extractor.warm_up()
            return True
        except Exception as err:  # the first write loads it, or reports why not
            logger.info("writes of %s not prepared ahead: %s", self.name, err)
            return False

    @property
    def ready(self) -> bool:
        return self.rag is not None

    @property
    def generation(self) -> int:
        return int(self.rag.index.generation)

    def pin(self) -> Any:
        """The reader a request uses throughout (one generation); follows other writers."""
        rag = self.rag
        now = time.monotonic()
        if now - self._checked >= self.settings.follow_s and self._following is None:
            self._checked = now
            self._following = asyncio.create_task(self._follow())
        return rag

    def _disk_generation(self) -> int | None:
        from hipporag.index.shardset import committed_generation

        return committed_generation(self.path)

    async def _follow(self) -> None:
        try:
            disk = await asyncio.to_thread(self._disk_generation)
            if disk is not None and disk > self.generation:
                new = await asyncio.to_thread(self._open)
                if new.index.generation > self.generation:
                    self.rag = new
        except Exception:  # the next request tries again
            logger.exception("following the index %s failed", self.path)
        finally:
            self._following = None

    async def at_least(self, generation: int | None) -> Any:
        """A pinned reader at ``generation`` or newer (waits up to ``min_generation_wait_s``).

        Raises:
            GenerationNotReached: not reached in time.
        """
        if generation is None or self.generation >= generation:
            return self.pin()
        deadline = time.monotonic() + self.settings.min_generation_wait_s
        while True:
            if self._following is None:
                self._following = asyncio.create_task(self._follow())
            await asyncio.shield(self._following)
            if self.generation >= generation:
                return self.rag
            if time.monotonic() >= deadline:
                raise GenerationNotReached(generation, self.generation)
            await asyncio.sleep(0.05)

    # -- the writer ------------------------------------------------------------------
    async def write(
        self, operation: str, payload: Any, check: Callable[[Any], Any] | None = None
    ) -> Any:
        """Queue a write (``insert``, ``update`` or ``delete``); its ``ChangeReport`` once committed.

        ``check(reader)``, when given, runs in the writer just before the write,
        on the newest generation, and returns the payload to write (or raises:
        nothing is written): who may write what is decided on the state the
        write changes. The write is applied even when the caller stops waiting
        (a client that disconnects): it is already queued.
        """
        if self._queue is None:
            raise RuntimeError("the index is not loaded yet")
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        await self._queue.put((operation, payload, check, fut))
        return await asyncio.shield(fut)

    async def _work(self) -> None:
        assert self._queue is not None
        while True:
            operation, payload, check, fut = await self._queue.get()
            try:
                report = await asyncio.to_thread(self._apply, operation, payload, check)
                if not fut.done():
                    fut.set_result(report)
            except Exception as err:
                if not fut.done():
                    fut.set_exception(err)
            finally:
                self._queue.task_done()

    def _apply(self, operation: str, payload: Any, check: Callable[[Any], Any] | None) -> Any:
        """Run one write (blocking), then open and warm the new generation's reader."""
        from hipporag.index.generations import IndexLockedError

        deadline = time.monotonic() + self.settings.lock_wait_s
        with writers_lock(self.path, self.settings.lock_wait_s):  # checks through commit
            if self._disk_generation() != self.generation:  # another process wrote meanwhile
                self.rag = self._open()
            writer = self.rag
            if check is not None:
                payload = check(writer)
            while True:
                try:
                    report = _call(writer, operation, payload)
                    break
                except IndexLockedError:  # another writer (not a service) holds the index
                    if time.monotonic() >= deadline:
                        raise
                    time.sleep(0.2)
        if report.generation != self.generation:
            new = self._open()
            if new.index.generation >= self.generation:
                self.rag = new  # an attribute swap: requests already running keep theirs
        return report

    async def drain(self) -> None:
        """Finish every queued write, then stop the writer (at shutdown)."""
        if self.warming is not None:  # a thread cannot be cancelled: let it end
            await asyncio.gather(self.warming, return_exceptions=True)
        if self._queue is not None:
            await self._queue.join()
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)


def writers_lock(root: Path, wait_s: float) -> Any:
    """The lock service processes hold from a write's checks to its commit.

    ``ROOT/writers/write.lock``: apart from the index's own write lock, which
    each change takes inside (the checks must see the generation the write
    changes, and the index lock is not re-entrant).
    """
    from hipporag.index.locking import WriteLock

    folder = Path(root) / WRITERS_LOCK
    folder.mkdir(exist_ok=True)
    return WriteLock(folder, wait_s=wait_s)


WRITERS_LOCK = "writers"


def _call(rag: Any, operation: str, payload: Any) -> Any:
    """A write through a fresh facade on ``rag``'s index (the reader is not refreshed).

    ``HippoRAG.open`` gives a sharded index's facade where the index is one (it
    routes the documents and commits the shard set).
    """
    from pipelines.facade import HippoRAG

    writer = HippoRAG.open(rag.path, rag.config)
    method: Callable[..., Any] = getattr(writer, operation)
    return method(payload)


class GenerationNotReached(Exception):
    """A read's ``min_generation`` is newer than the index's (HTTP 409)."""

    def __init__(self, wanted: int, current: int) -> None:
        self.wanted, self.current = wanted, current
        super().__init__(f"generation {wanted} is not committed (the index is at {current})")


__all__ = ["GenerationNotReached", "Served", "Settings"]
