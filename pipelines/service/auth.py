"""Who is asking: the bearer key's principal, its scope and its rate (FastAPI dependencies)."""

from __future__ import annotations

import threading
import time

from fastapi import Request

from hipporag.errors import HippoRAGError
from pipelines.service.keys import Principal, authorize


class RateLimited(HippoRAGError):
    """A key went over its rate (HTTP 429).

    Attributes:
        retry_after: seconds until the next request would pass.
    """

    def __init__(self, name: str, retry_after: float) -> None:
        super().__init__(
            f"key {name!r} is over its rate limit",
            hint=f"retry in {retry_after:.1f} s, or ask for a key with a higher rate",
        )
        self.retry_after = retry_after


class RateLimiter:
    """Token buckets per key name: ``rate`` per second, bursts of two seconds' worth.

    With ``--workers N`` each worker process counts for itself.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, principal: Principal) -> None:
        """Spend one token of ``principal``'s bucket.

        Raises:
            RateLimited: the bucket is empty.
        """
        if principal.rate is None:
            return
        rate = float(principal.rate)
        cap = max(1.0, 2.0 * rate)
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(principal.name, (cap, now))
            tokens = min(cap, tokens + (now - last) * rate)
            if tokens < 1.0:
                self._buckets[principal.name] = (tokens, now)
                raise RateLimited(principal.name, (1.0 - tokens) / rate)
            self._buckets[principal.name] = (tokens - 1.0, now)


def bearer(request: Request) -> str | None:
    """The key of an ``Authorization: Bearer KEY`` header (None without one)."""
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return key.strip() or None


def principal(request: Request) -> Principal:
    """The request's principal (any scope); counts against its rate."""
    state = request.app.state
    p = authorize(state.keys, bearer(request))
    state.limiter.take(p)
    request.state.principal = p
    return p


def reader(request: Request) -> Principal:
    """A principal with the ``read`` scope (401 without a valid key, 403 without the scope)."""
    p = principal(request)
    p.require("read")
    return p


def writer(request: Request) -> Principal:
    """A principal with the ``write`` scope."""
    p = principal(request)
    p.require("write")
    return p


__all__ = ["RateLimited", "RateLimiter", "bearer", "principal", "reader", "writer"]
