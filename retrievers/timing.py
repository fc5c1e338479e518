"""Per-stage timings of one query: one stopwatch instead of hand-numbered timestamps.

Example:
    >>> watch = Stopwatch()
    >>> watch.lap("encode"); watch.lap("search")
    >>> sorted(watch.timings())
    ['encode', 'search', 'total']
"""

from __future__ import annotations

import time


class Stopwatch:
    """Records the milliseconds of consecutive named stages.

    Args:
        start: ``time.perf_counter()`` value the first stage started at (default: now).
            A batch passes an earlier start so a query's share of batch encoding counts.
    """

    __slots__ = ("_last", "_stages", "start")

    def __init__(self, start: float | None = None) -> None:
        self.start = time.perf_counter() if start is None else start
        self._last = self.start
        self._stages: dict[str, float] = {}

    def lap(self, stage: str) -> None:
        """Close ``stage`` now (its time adds up if the stage is closed again)."""
        now = time.perf_counter()
        self._stages[stage] = self._stages.get(stage, 0.0) + (now - self._last) * 1e3
        self._last = now

    def timings(self) -> dict[str, float]:
        """Milliseconds per stage, in order, plus ``total`` since ``start``."""
        return {**self._stages, "total": (self._last - self.start) * 1e3}


__all__ = ["Stopwatch"]
