"""The async API of :class:`~pipelines.facade.HippoRAG`: the sync methods, off the event loop.

``aretrieve``, ``aretrieve_batch``, ``ainsert``, ``adelete``, ``aupdate`` and
``arefresh`` take the parameters of their sync twins and return the same
results: each runs the sync method in a worker thread (one implementation),
so the event loop keeps serving other tasks while the CPU work runs (numpy,
torch and DuckDB release the GIL for their heavy parts).

* **Bounded.** At most :attr:`AsyncMixin.async_limit` calls of one object run
  at once per event loop (a semaphore); the others wait without blocking the
  loop.
* **Writes one at a time.** Writes of one object run one after another (a
  lock), each ending in the index's own atomic commit.
* **Cancellation.** A call cancelled while it waits for its turn never starts.
  A call cancelled while its thread runs stops being awaited; a read's result
  is dropped, a write runs on to its atomic commit in its thread (all of it or,
  when it fails, none of it: never half-applied), then the object moves to the
  new generation as after any write.

Example:
    >>> import asyncio
    >>> from pipelines.facade import HippoRAG
    >>> rag = HippoRAG.open(DEMO_INDEX)
    >>> async def two():
    ...     return await asyncio.gather(rag.aretrieve("Who directed Salt Harbour?", k=3),
    ...                                 rag.aretrieve("Where is Kelderhaven?", k=2))
    >>> [len(r) for r in asyncio.run(two())]
    [3, 2]
"""

from __future__ import annotations

import asyncio
import functools
import threading
import weakref
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")

_SEMAPHORES: weakref.WeakKeyDictionary[Any, dict[int, asyncio.Semaphore]] = (
    weakref.WeakKeyDictionary()
)
_GUARD = threading.Lock()


def _semaphore(owner: Any, limit: int) -> asyncio.Semaphore:
    """The semaphore of ``owner`` on the running loop (one per loop: semaphores bind to one)."""
    loop = asyncio.get_running_loop()
    with _GUARD:
        per_owner = _SEMAPHORES.setdefault(loop, {})
        sem = per_owner.get(id(owner))
        if sem is None:
            sem = per_owner[id(owner)] = asyncio.Semaphore(limit)
        return sem


async def run_sync(owner: Any, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)`` in a worker thread, at most ``owner.async_limit`` at once.

    Cancelling the await does not stop a thread that has started (Python cannot
    interrupt it); the call's result is then dropped.
    """
    limit = int(getattr(owner, "async_limit", 4))
    async with _semaphore(owner, limit):
        return await asyncio.to_thread(functools.partial(fn, *args, **kwargs))


class AsyncMixin:
    """``a``-prefixed twins of the facade's methods (see the module docstring)."""

    async_limit: int = 4
    """Most calls of one object that run at once in worker threads (per event loop)."""

    def _write_lock(self) -> threading.Lock:
        # dict.setdefault is atomic: two first writers get the same lock.
        return self.__dict__.setdefault("_async_write_lock", threading.Lock())

    def _locked(self, gate: _Gate, name: str, *args: Any, **kwargs: Any) -> Any:
        with self._write_lock():
            if not gate.start():
                return None  # cancelled before it began: nothing is done
            return getattr(self, name)(*args, **kwargs)

    async def _write(self, name: str, *args: Any, **kwargs: Any) -> Any:
        # Shielded: once its thread has begun, a cancelled write runs on to its commit.
        gate = _Gate()
        task = asyncio.ensure_future(run_sync(self, self._locked, gate, name, *args, **kwargs))
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            if gate.cancel():
                task.cancel()  # not begun: it never will
            else:
                task.add_done_callback(_consume)
            raise

    async def aretrieve(self, query: str, k: int = 5, mode: str | None = None, **kw: Any) -> Any:
        """:meth:`~pipelines.facade.HippoRAG.retrieve`, awaited (same arguments and result)."""
        return await run_sync(self, self.retrieve, query, k, mode, **kw)  # type: ignore[attr-defined]

    async def aretrieve_batch(
        self, queries: Sequence[str], k: int = 5, mode: str | None = None, **kw: Any
    ) -> Any:
        """:meth:`~pipelines.facade.HippoRAG.retrieve_batch`, awaited."""
        return await run_sync(self, self.retrieve_batch, list(queries), k, mode, **kw)  # type: ignore[attr-defined]

    async def ainsert(self, corpus: Any, **components: Any) -> Any:
        """:meth:`~pipelines.facade.HippoRAG.insert`, awaited; returns its ``ChangeReport``."""
        return await self._write("insert", corpus, **components)

    async def adelete(self, ids: str | Sequence[str], **components: Any) -> Any:
        """:meth:`~pipelines.facade.HippoRAG.delete`, awaited."""
        return await self._write("delete", ids, **components)

    async def aupdate(self, corpus: Any, **components: Any) -> Any:
        """:meth:`~pipelines.facade.HippoRAG.update`, awaited."""
        return await self._write("update", corpus, **components)

    async def arefresh(self) -> bool:
        """:meth:`~pipelines.facade.HippoRAG.refresh`, awaited."""
        return await run_sync(self, self.refresh)  # type: ignore[attr-defined]


class _Gate:
    """Decides, once, whether a write begins or is cancelled (whichever comes first)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state = "waiting"

    def start(self) -> bool:
        with self._lock:
            if self._state == "waiting":
                self._state = "started"
            return self._state == "started"

    def cancel(self) -> bool:
        """True when the write had not begun (and now never will)."""
        with self._lock:
            if self._state == "waiting":
                self._state = "cancelled"
            return self._state == "cancelled"


def _consume(task: asyncio.Future[Any]) -> None:
    """Retrieve a detached write's outcome (no 'exception never retrieved' warning)."""
    if not task.cancelled():
        task.exception()


__all__ = ["AsyncMixin", "run_sync"]
